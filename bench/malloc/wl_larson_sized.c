/*
 * wl_larson_sized.c - larson-style server churn over a wide spread of size
 * classes, with blocks freed by other threads.
 *
 * The same server model as wl_larson.c (a table of blocks per thread, random
 * replacement, each table handed to a fresh thread every generation so the
 * new thread frees what a dead one allocated), but where wl_larson draws sizes
 * from 16..400 bytes - a handful of neighbouring size classes - this one
 * draws them from 16 bytes .. 32 KiB, log-uniform (every octave equally
 * likely), so a freed block is almost never replaced by one of its own class:
 * every small class, the medium classes and the boundary to the large-block
 * path all stay in use at once, and the classes a thread allocates from keep
 * changing under it. An allocator whose per-class caches, partially used
 * pages or cross-thread free lists only pay off when the sizes stay put
 * shows it here.
 *
 * (mimalloc-bench's "larson-sized" is the C++ larson built with sized delete,
 * a different question; C has no portable sized free that every allocator
 * here exports, so that is not measured.)
 *
 * Usage: wl_larson_sized [scale] [threads]   (default 4 threads)
 */
#include "wl_common.h"

#include <pthread.h>

enum { SLOTS = 1000, GENERATIONS = 20 };

typedef struct table {
  void *blk[SLOTS];
  size_t len[SLOTS];
  uint64_t tag[SLOTS];
  wl_rng_t rng;
  long ops, bad;
  uint64_t sum;
} table_t;

/* log-uniform in [16, 32 KiB] */
static size_t pick_size(wl_rng_t *r) {
  unsigned k = 4 + (unsigned)(wl_next(r) % 11); /* 2^4 .. 2^14 */
  size_t lo = (size_t)1 << k;
  return wl_range(r, lo, 2 * lo);
}

static void put(table_t *t, size_t i, uint64_t tag) {
  t->len[i] = pick_size(&t->rng);
  t->blk[i] = wl_xmalloc(t->len[i]);
  t->tag[i] = tag;
  t->sum += wl_touch(t->blk[i], t->len[i], tag);
}

static void *worker(void *arg) {
  table_t *t = arg;
  for (long k = 0; k < t->ops; k++) {
    size_t i = (size_t)(wl_next(&t->rng) % SLOTS);
    if (!wl_intact(t->blk[i], t->len[i], t->tag[i])) t->bad++;
    free(t->blk[i]);
    put(t, i, (uint64_t)k);
  }
  return NULL;
}

int main(int argc, char **argv) {
  double scale = wl_scale(argc, argv);
  int nthreads = wl_threads(argc, argv, 2, 4);
  long ops = wl_ops(8000000.0 / nthreads / GENERATIONS, scale);
  table_t *tab = calloc((size_t)nthreads, sizeof(table_t));
  if (!tab) return 2;
  for (int t = 0; t < nthreads; t++) {
    tab[t].rng.s = 0x5123ABCDull * (uint64_t)(t + 1) + 41;
    tab[t].ops = ops;
    for (size_t i = 0; i < SLOTS; i++) put(&tab[t], i, i);
  }
  for (int g = 0; g < GENERATIONS; g++) {
    pthread_t th[64];
    for (int t = 0; t < nthreads; t++)
      if (pthread_create(&th[t], NULL, worker, &tab[(t + g) % nthreads]) != 0) return 2;
    for (int t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
  }
  uint64_t sum = 0;
  long bad = 0;
  for (int t = 0; t < nthreads; t++) {
    sum += tab[t].sum;
    bad += tab[t].bad;
    for (size_t i = 0; i < SLOTS; i++) free(tab[t].blk[i]);
  }
  free(tab);
  if (bad) {
    fprintf(stderr, "larson-sized: %ld blocks were overwritten\n", bad);
    return 1;
  }
  printf("larson-sized checksum %llu\n", (unsigned long long)sum);
  return 0;
}
