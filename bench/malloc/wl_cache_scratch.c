/*
 * wl_cache_scratch.c - passive false sharing (after Hoard's cache-scratch).
 *
 * The main thread allocates one small object (8 bytes) per worker, back to
 * back, so they are likely to share a cache line, and hands one to each
 * worker. Each worker frees the object it was given, then over and over
 * allocates a small object, writes each of its bytes many times and frees it.
 * An allocator that gives a thread back the block it just freed - here a
 * block in the line the main thread's other objects occupy - makes the
 * workers write into one cache line from several cores: false sharing that
 * the program never asked for. An allocator that returns a freed foreign
 * block to its owner, and serves each thread from its own memory, avoids it.
 * With one worker there is nothing to share: the baseline.
 *
 * The total work is fixed; the workers share it.
 *
 * Usage: wl_cache_scratch [scale] [threads]   (default 1 thread)
 */
#include "wl_common.h"

#include <pthread.h>

enum { OBJSIZE = 8, WRITES = 200 };

typedef struct job {
  unsigned char *given;
  long iters;
  uint64_t sum;
  char pad[64];
} job_t;

static void *worker(void *arg) {
  job_t *j = arg;
  uint64_t sum = j->given[0];
  free(j->given);
  for (long i = 0; i < j->iters; i++) {
    volatile unsigned char *p = wl_xmalloc(OBJSIZE);
    for (int k = 0; k < OBJSIZE; k++) p[k] = (unsigned char)k;
    for (int w = 0; w < WRITES; w++)
      for (int k = 0; k < OBJSIZE; k++) p[k] = (unsigned char)(p[k] + 1);
    for (int k = 0; k < OBJSIZE; k++) sum += p[k];
    free((void *)p);
  }
  j->sum = sum;
  return NULL;
}

int main(int argc, char **argv) {
  double scale = wl_scale(argc, argv);
  int nthreads = wl_threads(argc, argv, 2, 1);
  long total = wl_ops(1000000, scale);
  job_t *jobs = calloc((size_t)nthreads, sizeof(job_t));
  if (!jobs) return 2;
  for (int t = 0; t < nthreads; t++) {
    jobs[t].given = wl_xmalloc(OBJSIZE);
    memset(jobs[t].given, t + 1, OBJSIZE);
    jobs[t].iters = total / nthreads + (t < total % nthreads);
  }
  pthread_t th[64];
  for (int t = 0; t < nthreads; t++)
    if (pthread_create(&th[t], NULL, worker, &jobs[t]) != 0) return 2;
  uint64_t sum = 0;
  for (int t = 0; t < nthreads; t++) {
    pthread_join(th[t], NULL);
    sum += jobs[t].sum;
  }
  free(jobs);
  printf("cache-scratch checksum %llu (%ld objects)\n", (unsigned long long)sum, total);
  return 0;
}
