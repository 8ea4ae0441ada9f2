/*
 * wl_alloc_test.c - alloc-test-style allocation churn (after ITHare's
 * alloc-test): a window of live blocks of mixed sizes and lifetimes, per
 * thread, with sizes from a Pareto-like distribution up to 1 KiB.
 *
 * Each thread keeps two windows: a small one (64 slots) where blocks die
 * young, and a large one (16 384 slots) where they live long; three
 * operations in four go to the small window. An operation picks a random slot
 * of its window, frees the block there and, seven times in eight, allocates a
 * new one into it (so the windows breathe rather than stay full). A block's
 * size is 8..1023 bytes with the octave [8*2^b, 8*2^(b+1)) drawn with
 * probability ~2^-(b+1): half the blocks are under 16 bytes, few are near
 * 1 KiB - the heavy-tailed mix of real programs. Every block is written when
 * allocated and read when freed. Threads do not share blocks: this is the
 * allocator's own fast paths and their scaling, under realistic sizes.
 *
 * The total work is fixed and the threads share it, so with T threads on
 * C cores the ideal wall time is the one-thread time divided by min(T, C).
 *
 * Usage: wl_alloc_test [scale] [threads]   (default 1 thread)
 */
#include "wl_common.h"

#include <pthread.h>

enum { SMALL = 64, LARGE = 16384 };

typedef struct slot {
  unsigned char *p;
  size_t n;
} slot_t;

typedef struct job {
  wl_rng_t rng;
  long ops;
  uint64_t sum;
  long bad;
} job_t;

static size_t pick_size(wl_rng_t *r) {
  uint64_t x = wl_next(r);
  unsigned b = 0;
  while (b < 6 && (x & 1)) { /* P(b) = 2^-(b+1); the last octave takes the rest */
    b++;
    x >>= 1;
  }
  size_t lo = (size_t)8 << b;
  return wl_range(r, lo, 2 * lo - 1);
}

static void churn(job_t *j, slot_t *s) {
  if (s->p) {
    if (s->p[0] != (unsigned char)s->n || s->p[s->n - 1] != (unsigned char)(s->n >> 3)) j->bad++;
    j->sum += s->p[s->n / 2];
    free(s->p);
    s->p = NULL;
  }
  if (wl_next(&j->rng) % 8 == 0) return;
  s->n = pick_size(&j->rng);
  s->p = wl_xmalloc(s->n);
  s->p[s->n / 2] = (unsigned char)wl_next(&j->rng);
  s->p[0] = (unsigned char)s->n;
  s->p[s->n - 1] = (unsigned char)(s->n >> 3);
}

static void *worker(void *arg) {
  job_t *j = arg;
  slot_t *small = calloc(SMALL, sizeof *small), *large = calloc(LARGE, sizeof *large);
  if (!small || !large) exit(2);
  for (long k = 0; k < j->ops; k++) {
    uint64_t x = wl_next(&j->rng);
    if (x % 4) churn(j, &small[(x >> 8) % SMALL]);
    else churn(j, &large[(x >> 8) % LARGE]);
  }
  for (int i = 0; i < SMALL; i++) free(small[i].p);
  for (int i = 0; i < LARGE; i++) free(large[i].p);
  free(small);
  free(large);
  return NULL;
}

int main(int argc, char **argv) {
  double scale = wl_scale(argc, argv);
  int nthreads = wl_threads(argc, argv, 2, 1);
  long total = wl_ops(16000000, scale);
  job_t jobs[64];
  pthread_t th[64];
  for (int t = 0; t < nthreads; t++) {
    jobs[t] = (job_t){.rng = {0xA11C7E57ull * (uint64_t)(t + 1) + 5}, .ops = total / nthreads};
    if (pthread_create(&th[t], NULL, worker, &jobs[t]) != 0) return 2;
  }
  uint64_t sum = 0;
  long bad = 0;
  for (int t = 0; t < nthreads; t++) {
    pthread_join(th[t], NULL);
    sum += jobs[t].sum;
    bad += jobs[t].bad;
  }
  if (bad) {
    fprintf(stderr, "alloc-test: %ld blocks were overwritten\n", bad);
    return 1;
  }
  printf("alloc-test checksum %llu\n", (unsigned long long)sum);
  return 0;
}
