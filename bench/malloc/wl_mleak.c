/*
 * wl_mleak.c - a program that leaks: allocations deliberately never freed,
 * amid churn, in threads that come and go.
 *
 * Rounds of short-lived threads (2 at a time). Each thread keeps a window of
 * live blocks (16..1024 bytes, each octave equally likely) and replaces random
 * ones; one allocation in 100 is leaked: written, its address dropped, never
 * freed. When the thread ends it frees its window - but not what it leaked -
 * and a fresh thread takes its place. So the leaked blocks end up scattered
 * over memory that is otherwise free, and over the heaps of threads that no
 * longer exist. Peak RSS shows whether the allocator can still reuse the free
 * space around the leaks and the memory dead threads left behind, or keeps
 * growing; the leaked bytes themselves (about 30 MB at scale 1) are a floor
 * every allocator pays.
 *
 * Usage: wl_mleak [scale] [threads]   (default 2 threads at a time)
 */
#include "wl_common.h"

#include <pthread.h>

enum { WINDOW = 3000, ROUNDS = 40, LEAK_EVERY = 100 };

typedef struct job {
  wl_rng_t rng;
  long ops;
  uint64_t sum;
  long leaked;
} job_t;

/* where a leaked pointer goes: a volatile store, so the compiler cannot drop
   the allocation, and the next leak overwrites it, so nothing keeps it */
static void *volatile sink;

static size_t pick_size(wl_rng_t *r) {
  unsigned k = 4 + (unsigned)(wl_next(r) % 6); /* 2^4 .. 2^9 */
  size_t lo = (size_t)1 << k;
  return wl_range(r, lo, 2 * lo);
}

static void *worker(void *arg) {
  job_t *j = arg;
  unsigned char **win = calloc(WINDOW, sizeof *win);
  size_t *len = calloc(WINDOW, sizeof *len);
  if (!win || !len) exit(2);
  for (long k = 0; k < j->ops; k++) {
    size_t i = (size_t)(wl_next(&j->rng) % WINDOW);
    if (win[i]) {
      j->sum += win[i][len[i] - 1];
      free(win[i]);
    }
    len[i] = pick_size(&j->rng);
    win[i] = wl_xmalloc(len[i]);
    j->sum += wl_touch(win[i], len[i], (uint64_t)k);
    if (k % LEAK_EVERY == LEAK_EVERY - 1) {
      size_t n = pick_size(&j->rng);
      unsigned char *p = wl_xmalloc(n);
      j->sum += wl_touch(p, n, (uint64_t)k * 7);
      sink = p;
      j->leaked += (long)n;
    }
  }
  for (size_t i = 0; i < WINDOW; i++) free(win[i]);
  free(win);
  free(len);
  return NULL;
}

int main(int argc, char **argv) {
  double scale = wl_scale(argc, argv);
  int nthreads = wl_threads(argc, argv, 2, 2);
  long ops = wl_ops(12000000.0 / ROUNDS / nthreads, scale);
  job_t jobs[64];
  uint64_t sum = 0;
  long leaked = 0;
  for (int r = 0; r < ROUNDS; r++) {
    pthread_t th[64];
    for (int t = 0; t < nthreads; t++) {
      jobs[t] = (job_t){.rng = {0xFEEDFACEull * (uint64_t)(r * 64 + t + 1) + 3}, .ops = ops};
      if (pthread_create(&th[t], NULL, worker, &jobs[t]) != 0) return 2;
    }
    for (int t = 0; t < nthreads; t++) {
      pthread_join(th[t], NULL);
      sum += jobs[t].sum;
      leaked += jobs[t].leaked;
    }
  }
  printf("mleak checksum %llu, %ld bytes leaked\n", (unsigned long long)sum, leaked);
  return 0;
}
