/*
 * bench_shared.c - 2, 3 and 4 threads on one RMEM_OPT_SHARED instance, half of
 * the frees made by a thread that did not allocate the block, against the
 * drop-in malloc (rmem_malloc / rmem_malloc_free, its own per-thread heaps) on
 * the very same pattern (issue 14: within 1.2 x the drop-in's time).
 *
 * Each thread allocates OPS blocks of 16..512 bytes (a xorshift sequence of its
 * own) and writes the first and last byte. Every other block goes to the next
 * thread through a single-producer ring (C11 atomics; a full ring means the
 * block is freed at home), the rest replace a slot of a local table of 256
 * (the old block freed); after each allocation the thread frees what its own
 * ring holds. So about half of all frees are cross-thread. Wall time of the
 * whole run, medians of ROUNDS runs with the two sides alternating, and the
 * load average.
 *
 *   build/bench/bench_shared [ops per thread] [rounds]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "rmem.h"
#include "rmem_malloc.h"

#define MAXT 4
#define RING 1024
#define LOCAL 256

typedef struct ring {
  _Alignas(64) _Atomic size_t head;
  _Alignas(64) _Atomic size_t tail;
  void *slot[RING];
} ring_t;

typedef struct targ {
  int id, nthreads, mode; /* mode 0: rmem shared instance, 1: drop-in */
  long ops;
  rmem_t *r;
  ring_t *rings;          /* rings[k]: the inbox of thread k */
  pthread_barrier_t *start;
  long checksum;
} targ_t;

static inline void *side_alloc(targ_t *a, rmem_local_t *l, size_t n) {
  return a->mode == 0 ? rmem_local_alloc(l, n) : rmem_malloc(n);
}

static inline void side_free(targ_t *a, rmem_local_t *l, void *p) {
  if (a->mode == 0) {
    if (rmem_local_free(l, p) != RMEM_OK) abort();
  } else {
    rmem_malloc_free(p);
  }
}

static void drain(targ_t *a, rmem_local_t *l, ring_t *in) {
  size_t t = atomic_load_explicit(&in->tail, memory_order_relaxed);
  size_t h = atomic_load_explicit(&in->head, memory_order_acquire);
  for (; t != h; t++) {
    unsigned char *p = in->slot[t % RING];
    a->checksum += p[0];
    side_free(a, l, p);
  }
  atomic_store_explicit(&in->tail, t, memory_order_release);
}

static void *worker(void *arg) {
  targ_t *a = arg;
  rmem_local_t *l = a->mode == 0 ? rmem_local(a->r) : NULL;
  ring_t *in = &a->rings[a->id], *out = &a->rings[(a->id + 1) % a->nthreads];
  void *local[LOCAL] = {0};
  uint32_t x = 0x9e3779b9u * (uint32_t)(a->id + 1);
  pthread_barrier_wait(a->start);
  for (long i = 0; i < a->ops; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    size_t n = 16 + (x % 497);
    unsigned char *p = side_alloc(a, l, n);
    if (!p) abort();
    p[0] = (unsigned char)i;
    p[n - 1] = (unsigned char)n;
    if (i & 1) {
      size_t h = atomic_load_explicit(&out->head, memory_order_relaxed);
      if (h - atomic_load_explicit(&out->tail, memory_order_acquire) < RING) {
        out->slot[h % RING] = p;
        atomic_store_explicit(&out->head, h + 1, memory_order_release);
      } else {
        side_free(a, l, p); /* the neighbour is behind: keep going */
      }
    } else {
      size_t k = (x >> 9) % LOCAL;
      if (local[k]) side_free(a, l, local[k]);
      local[k] = p;
    }
    drain(a, l, in);
  }
  for (size_t k = 0; k < LOCAL; k++)
    if (local[k]) side_free(a, l, local[k]);
  pthread_barrier_wait(a->start); /* everyone is done sending */
  drain(a, l, in);
  return NULL;
}

/* One run: wall ns of nthreads threads on the mode's side. */
static double run(int mode, int nthreads, long ops, rmem_t *r) {
  ring_t *rings = aligned_alloc(64, sizeof(ring_t) * MAXT);
  memset(rings, 0, sizeof(ring_t) * MAXT);
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1);
  pthread_t t[MAXT];
  targ_t args[MAXT];
  for (int k = 0; k < nthreads; k++) {
    args[k] = (targ_t){k, nthreads, mode, ops, r, rings, &start, 0};
    pthread_create(&t[k], NULL, worker, &args[k]);
  }
  pthread_barrier_wait(&start);
  double t0 = now_ns();
  pthread_barrier_wait(&start);
  for (int k = 0; k < nthreads; k++) pthread_join(t[k], NULL);
  double ns = now_ns() - t0;
  pthread_barrier_destroy(&start);
  free(rings);
  return ns;
}

int main(int argc, char **argv) {
  long ops = argc > 1 ? atol(argv[1]) : (getenv("RMEM_BENCH_SMOKE") ? 20000 : 2000000);
  int rounds = argc > 2 ? atoi(argv[2]) : (getenv("RMEM_BENCH_SMOKE") ? 1 : 5);
  rmem_options_t o = {(size_t)1 << 30, RMEM_OPT_SHARED};
  rmem_t *r = rmem_create(&o);
  if (!r) {
    fprintf(stderr, "bench_shared: %s\n", rmem_last_error_message());
    return 1;
  }
  double load[3] = {0, 0, 0};
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
    fclose(f);
  }
  printf("shared instance vs drop-in: %ld blocks of 16..512 B per thread, half freed by the next thread; "
         "medians of %d rounds, load %.2f %.2f %.2f\n", ops, rounds, load[0], load[1], load[2]);
  printf("  threads   rmem shared ms   drop-in ms   rmem / drop-in   ns per block (rmem)\n");
  for (int nt = 2; nt <= MAXT; nt++) {
    double a[16], b[16];
    if (rounds > 16) rounds = 16;
    run(0, nt, ops / 10, r); /* warm-up of both sides */
    run(1, nt, ops / 10, r);
    for (int k = 0; k < rounds; k++) {
      if (k % 2 == 0) {
        a[k] = run(0, nt, ops, r);
        b[k] = run(1, nt, ops, r);
      } else {
        b[k] = run(1, nt, ops, r);
        a[k] = run(0, nt, ops, r);
      }
    }
    double ma = median(a, rounds), mb = median(b, rounds);
    printf("  %7d   %14.1f   %10.1f   %14.2f   %19.1f\n", nt, ma / 1e6, mb / 1e6, ma / mb, ma / ((double)ops * nt));
  }
  rmem_heap_stats_t hs;
  if (rmem_heap_stats(r, &hs) == RMEM_OK)
    printf("  rmem: %zu live blocks left, %zu remote frees taken back, %zu thread heaps, validate %zu\n", hs.live_blocks,
           hs.remote_frees, hs.threads, rmem_validate(r));
  rmem_destroy(r);
  return 0;
}
