/*
 * wl_larson.c - larson-style server churn with cross-thread frees.
 *
 * Larson & Krishnan's benchmark models a server: each thread owns a table of
 * blocks and keeps replacing random ones (free + malloc of a random size);
 * when a thread finishes its round it hands its table to a fresh thread, so
 * the new thread frees blocks that another (now dead) thread allocated. That
 * exercises cross-thread frees and the fate of an exited thread's memory.
 *
 * Usage: wl_larson [scale] [threads]   (default 4 threads)
 */
#include "wl_common.h"

#include <pthread.h>

enum { SLOTS = 2000, GENERATIONS = 20 };

typedef struct table {
  void *blk[SLOTS];
  size_t len[SLOTS];
  wl_rng_t rng;
  long ops;
  uint64_t sum;
} table_t;

static void *worker(void *arg) {
  table_t *t = arg;
  for (long k = 0; k < t->ops; k++) {
    size_t i = (size_t)(wl_next(&t->rng) % SLOTS);
    free(t->blk[i]);
    size_t n = wl_range(&t->rng, 16, 400);
    t->blk[i] = wl_xmalloc(n);
    t->len[i] = n;
    t->sum += wl_touch(t->blk[i], n, (uint64_t)k);
  }
  return NULL;
}

int main(int argc, char **argv) {
  double scale = wl_scale(argc, argv);
  int nthreads = argc > 2 ? atoi(argv[2]) : 4;
  if (nthreads < 1 || nthreads > 64) nthreads = 4;
  long ops = (long)(12000000 * scale / nthreads * 4 / GENERATIONS);
  table_t *tab = calloc((size_t)nthreads, sizeof(table_t));
  if (!tab) return 2;
  for (int t = 0; t < nthreads; t++) {
    tab[t].rng.s = 0x1234567ull * (uint64_t)(t + 1) + 99;
    tab[t].ops = ops;
    for (size_t i = 0; i < SLOTS; i++) {
      tab[t].len[i] = wl_range(&tab[t].rng, 16, 400);
      tab[t].blk[i] = wl_xmalloc(tab[t].len[i]);
    }
  }
  for (int g = 0; g < GENERATIONS; g++) {
    pthread_t th[64];
    for (int t = 0; t < nthreads; t++)
      if (pthread_create(&th[t], NULL, worker, &tab[(t + g) % nthreads]) != 0) return 2;
    for (int t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
  }
  uint64_t sum = 0;
  for (int t = 0; t < nthreads; t++) {
    sum += tab[t].sum;
    for (size_t i = 0; i < SLOTS; i++) free(tab[t].blk[i]);
  }
  free(tab);
  printf("larson checksum %llu\n", (unsigned long long)sum);
  return 0;
}
