/*
 * wl_mstress.c - mstress-style: many threads, mixed sizes, blocks handed
 * between threads, threads that die and are replaced.
 *
 * A server-like stress: 8 threads (more than the cores) each keep a table of
 * live blocks and replace random ones. Sizes are spread over powers of two
 * (8 B .. 2 KiB, each octave equally likely), with a small share of larger
 * blocks (8..64 KiB) and a rare big one (256 KiB..1 MiB). One operation in ten
 * swaps a block of the thread's table with a slot of a shared exchange array
 * (which starts full), so a block allocated by one thread is usually freed by
 * another. Threads do
 * unequal amounts of work. The run is cut into phases: at the end of a phase
 * every thread frees three quarters of its table and exits, and the next
 * phase's threads inherit the survivors (rotated, so each table moves to
 * another thread) - memory of dead threads is freed by live ones.
 *
 * Which thread frees which block depends on scheduling, so the output does
 * not: the checksum covers what each thread allocated (fixed by its seed),
 * and every block is checked intact before it is freed.
 *
 * Usage: wl_mstress [scale] [threads]   (default 8 threads)
 */
#include "wl_common.h"

#include <pthread.h>
#include <stdatomic.h>

enum { SLOTS = 1500, XSLOTS = 1024, PHASES = 10 };

/* Every block starts with its size and tag (8 bytes, so even a 16-byte
   block keeps 8 bytes of payload), so whoever frees it can check it. */
typedef struct blk {
  uint32_t n, tag;
} blk_t;

typedef struct table {
  blk_t *b[SLOTS];
} table_t;

typedef struct job {
  table_t *tab;
  wl_rng_t rng;
  long ops;
  int last;
  uint64_t sum;
  long bad;
} job_t;

static _Atomic(blk_t *) xchg[XSLOTS];

static size_t pick_size(wl_rng_t *r) {
  uint64_t x = wl_next(r);
  unsigned u = (unsigned)(x % 1000);
  if (u == 0) return wl_range(r, 256 << 10, 1 << 20);
  if (u < 10) return wl_range(r, 8 << 10, 64 << 10);
  unsigned k = 3 + (unsigned)((x >> 10) % 9); /* 2^3 .. 2^11 */
  size_t lo = (size_t)1 << k;
  return wl_range(r, lo, 2 * lo - 1);
}

static blk_t *blk_new(job_t *j) {
  size_t n = pick_size(&j->rng);
  if (n < sizeof(blk_t) + 1) n = sizeof(blk_t) + 1;
  blk_t *b = wl_xmalloc(n);
  b->n = (uint32_t)n;
  b->tag = (uint32_t)wl_next(&j->rng);
  j->sum += wl_touch((unsigned char *)b + sizeof *b, n - sizeof *b, b->tag);
  return b;
}

static void blk_free(job_t *j, blk_t *b) {
  if (!b) return;
  if (!wl_intact((unsigned char *)b + sizeof *b, b->n - sizeof *b, b->tag)) j->bad++;
  free(b);
}

static void *worker(void *arg) {
  job_t *j = arg;
  table_t *t = j->tab;
  for (size_t i = 0; i < SLOTS; i++)
    if (!t->b[i]) t->b[i] = blk_new(j);
  for (long k = 0; k < j->ops; k++) {
    uint64_t x = wl_next(&j->rng);
    size_t i = (size_t)(x % SLOTS);
    if ((x >> 32) % 10 == 0) {
      /* hand this block over and take whatever another thread left there */
      blk_t *got = atomic_exchange(&xchg[(x >> 40) % XSLOTS], t->b[i]);
      if (!got) {
        fprintf(stderr, "mstress: an exchange slot was empty\n");
        exit(1);
      }
      t->b[i] = got;
    } else {
      blk_free(j, t->b[i]);
      t->b[i] = blk_new(j);
    }
  }
  /* end of phase: a quarter of the table survives into the next one */
  for (size_t i = 0; i < SLOTS; i++) {
    if (j->last || wl_next(&j->rng) % 4 != 0) {
      blk_free(j, t->b[i]);
      t->b[i] = NULL;
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  double scale = wl_scale(argc, argv);
  int nthreads = wl_threads(argc, argv, 2, 8);
  /* operations per phase, shared unequally: thread t gets a (1 + t % 4) share */
  long total = wl_ops(6000000.0 / PHASES, scale);
  long shares = 0;
  for (int t = 0; t < nthreads; t++) shares += 1 + t % 4;
  table_t *tabs = calloc((size_t)nthreads, sizeof(table_t));
  job_t *jobs = calloc((size_t)nthreads, sizeof(job_t));
  if (!tabs || !jobs) return 2;
  /* the exchange array starts full, so every swap gets a block back and each
     thread's sequence of allocations stays what its seed says */
  job_t rest = {.rng = {0x5DEECE66Dull}};
  for (size_t i = 0; i < XSLOTS; i++) atomic_store(&xchg[i], blk_new(&rest));
  uint64_t sum = rest.sum;
  long bad = 0;
  for (int p = 0; p < PHASES; p++) {
    pthread_t th[64];
    for (int t = 0; t < nthreads; t++) {
      job_t *j = &jobs[t];
      j->tab = &tabs[(t + p) % nthreads];
      j->rng.s = 0x9E3779B97F4A7C15ull * (uint64_t)(p * 64 + t + 1) + 7;
      j->ops = total * (1 + t % 4) / shares;
      j->last = p == PHASES - 1;
      j->sum = 0;
      j->bad = 0;
      if (pthread_create(&th[t], NULL, worker, j) != 0) return 2;
    }
    for (int t = 0; t < nthreads; t++) {
      pthread_join(th[t], NULL);
      sum += jobs[t].sum;
      bad += jobs[t].bad;
    }
  }
  /* what is still in the exchange array */
  for (size_t i = 0; i < XSLOTS; i++) blk_free(&rest, atomic_exchange(&xchg[i], NULL));
  bad += rest.bad;
  free(tabs);
  free(jobs);
  if (bad) {
    fprintf(stderr, "mstress: %ld blocks were overwritten\n", bad);
    return 1;
  }
  printf("mstress checksum %llu\n", (unsigned long long)sum);
  return 0;
}
