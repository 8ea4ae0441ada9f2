/*
 * wl_rptest.c - rptest-style (after rpmalloc's benchmark): random sizes
 * 16..8000 bytes, with a steady share of cross-thread frees.
 *
 * 4 threads each own a table of live blocks. A thread works in rounds: it
 * replaces random blocks of its table (free + malloc of a random size in
 * 16..8000, skewed towards the small end: the size is uniform in 16..m with m
 * itself uniform in 16..8000), then takes 64 random blocks out of its table
 * (allocating replacements) and posts them, as one batch, into a random slot
 * of a small shared exchange (16 slots); whatever batch it finds in that slot
 * - posted earlier, as a rule by another thread - it frees. So about one
 * block in eight is freed by a thread other than the one that allocated it,
 * in bulk, as a producer/consumer pipeline or a message-passing server does.
 * Posting never waits, and the memory in flight is bounded by the exchange,
 * whatever the scheduler does with more threads than cores.
 *
 * Which thread frees a posted batch depends on scheduling; the output does
 * not: the checksum covers what each thread allocated (fixed by its seed),
 * and every block is checked intact before it is freed, whoever frees it.
 *
 * Usage: wl_rptest [scale] [threads]   (default 4 threads)
 */
#include "wl_common.h"

#include <pthread.h>
#include <stdatomic.h>

enum { SLOTS = 2048, REPLACE = 448, POST = 64, EXCHANGE = 16 };

/* Every block starts with its size and tag (8 bytes, so even a 16-byte
   block keeps 8 bytes of payload), so whoever frees it can check it. */
typedef struct blk {
  uint32_t n, tag;
} blk_t;

typedef struct batch {
  blk_t *b[POST];
} batch_t;

typedef struct worker {
  long rounds;
  wl_rng_t rng;
  blk_t *b[SLOTS];
  uint64_t sum;
  long bad;
} worker_t;

static _Atomic(batch_t *) exchange[EXCHANGE];

static blk_t *blk_new(worker_t *w) {
  size_t m = wl_range(&w->rng, 16, 8000);
  size_t n = wl_range(&w->rng, 16, m);
  blk_t *b = wl_xmalloc(n);
  b->n = (uint32_t)n;
  b->tag = (uint32_t)wl_next(&w->rng);
  w->sum += wl_touch((unsigned char *)b + sizeof *b, n - sizeof *b, b->tag);
  return b;
}

static void blk_free(worker_t *w, blk_t *b) {
  if (!wl_intact((unsigned char *)b + sizeof *b, b->n - sizeof *b, b->tag)) w->bad++;
  free(b);
}

static void batch_free(worker_t *w, batch_t *bt) {
  if (!bt) return;
  for (int i = 0; i < POST; i++) blk_free(w, bt->b[i]);
  free(bt);
}

static void *run(void *arg) {
  worker_t *w = arg;
  for (size_t i = 0; i < SLOTS; i++) w->b[i] = blk_new(w);
  for (long r = 0; r < w->rounds; r++) {
    for (int k = 0; k < REPLACE; k++) {
      size_t i = (size_t)(wl_next(&w->rng) % SLOTS);
      blk_free(w, w->b[i]);
      w->b[i] = blk_new(w);
    }
    batch_t *bt = wl_xmalloc(sizeof *bt);
    for (int k = 0; k < POST; k++) {
      size_t i = (size_t)(wl_next(&w->rng) % SLOTS);
      bt->b[k] = w->b[i];
      w->b[i] = blk_new(w);
    }
    batch_free(w, atomic_exchange(&exchange[wl_next(&w->rng) % EXCHANGE], bt));
  }
  for (size_t i = 0; i < SLOTS; i++) blk_free(w, w->b[i]);
  return NULL;
}

int main(int argc, char **argv) {
  double scale = wl_scale(argc, argv);
  int nthreads = wl_threads(argc, argv, 2, 4);
  /* rounds per thread, so the total work does not depend on the thread count */
  long rounds = wl_ops(4000.0 * 4 / nthreads, scale);
  worker_t *workers = calloc((size_t)nthreads, sizeof(worker_t));
  if (!workers) return 2;
  pthread_t th[64];
  for (int t = 0; t < nthreads; t++) {
    workers[t].rounds = rounds;
    workers[t].rng.s = 0xC0FFEE123ull * (uint64_t)(t + 1) + 17;
    if (pthread_create(&th[t], NULL, run, &workers[t]) != 0) return 2;
  }
  uint64_t sum = 0;
  long bad = 0;
  for (int t = 0; t < nthreads; t++) {
    pthread_join(th[t], NULL);
    sum += workers[t].sum;
    bad += workers[t].bad;
  }
  worker_t rest = {0};
  for (int i = 0; i < EXCHANGE; i++) batch_free(&rest, atomic_exchange(&exchange[i], NULL));
  bad += rest.bad;
  free(workers);
  if (bad) {
    fprintf(stderr, "rptest: %ld blocks were overwritten\n", bad);
    return 1;
  }
  printf("rptest checksum %llu, %ld blocks posted\n", (unsigned long long)sum, rounds * nthreads * POST);
  return 0;
}
