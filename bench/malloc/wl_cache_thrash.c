/*
 * wl_cache_thrash.c - active false sharing (after Hoard's cache-thrash).
 *
 * Every thread, over and over: allocate a small object (8 bytes), write each
 * of its bytes many times, free it. No thread ever touches another's object;
 * but an allocator that serves concurrent threads from one cache line (one
 * shared free list, one slab for all threads) puts the objects side by side,
 * and then every write of one thread invalidates the line in the other cores'
 * caches: the program slows down by the cost of that ping-pong. An allocator
 * that keeps each thread's small objects in memory of its own costs nothing
 * here. With one thread it is the baseline: the same loop, no sharing possible.
 *
 * The total work is fixed; the threads share it, so with T threads on C cores
 * the ideal wall time is the one-thread time divided by min(T, C).
 *
 * Usage: wl_cache_thrash [scale] [threads]   (default 1 thread)
 */
#include "wl_common.h"

#include <pthread.h>

enum { OBJSIZE = 8, WRITES = 200 };

typedef struct job {
  long iters;
  uint64_t sum;
  char pad[64];
} job_t;

static void *worker(void *arg) {
  job_t *j = arg;
  uint64_t sum = 0;
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
  pthread_t th[64];
  for (int t = 0; t < nthreads; t++) {
    jobs[t].iters = total / nthreads + (t < total % nthreads);
    if (pthread_create(&th[t], NULL, worker, &jobs[t]) != 0) return 2;
  }
  uint64_t sum = 0;
  for (int t = 0; t < nthreads; t++) {
    pthread_join(th[t], NULL);
    sum += jobs[t].sum;
  }
  free(jobs);
  printf("cache-thrash checksum %llu (%ld objects)\n", (unsigned long long)sum, total);
  return 0;
}
