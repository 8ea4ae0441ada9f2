/*
 * bench_slab.c - slab cache speed against baselines measured in the same process.
 *
 *   pair     ns per alloc+free pair of one 64-byte object (alloc, write a byte,
 *            free), the pattern of a request-scoped object. Target: <= 3 ns.
 *   batch    ns per alloc+free pair when 1000 objects are allocated, then all
 *            freed (slabs fill and empty).
 *
 * Baselines, same process, same pattern: malloc/free (the C library's, or a
 * preloaded one), and for scale a raw inlined pointer bump and the same bump
 * through a non-inlined call (ns per allocation; a bump frees nothing).
 * "engine pair" is the slab engine alone (src/slab.c): rmem_slab_list_alloc
 * and rmem_slab_put on a private list, with no handle check, no front and no
 * pagemap lookup -- the bitmap work a cache's front saves on most pairs.
 *
 * Every object is written to and its address accumulated into a printed sink
 * so the work cannot be optimised away. Medians of RUNS runs, candidates
 * interleaved in alternating order. Timing: CLOCK_MONOTONIC.
 *
 * Usage: bench_slab [runs] [pairs]      (RMEM_BENCH_SMOKE=1: tiny)
 */
#include "rmem.h"
#include "../../src/internal.h" /* the engine floor only */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_util.h"

#define OBJ 64
#define BATCH 1000




static void *launder(void *p) {
  __asm__ volatile("" : "+r"(p));
  return p;
}

static volatile uintptr_t sink_v;
static uintptr_t sink;

enum { SLAB_PAIR, ENGINE_PAIR, MALLOC_PAIR, SLAB_BATCH, MALLOC_BATCH, RAW_INLINE, RAW_CALL, N };
static const char *names[N] = {"slab pair",    "engine pair",     "malloc pair",  "slab batch",
                               "malloc batch", "raw-inline bump", "raw-call bump"};

static rmem_slab_list_t *engine;

static double run(int k, size_t n, slab_cache_t *c, raw_t *raw, void **ptrs) {
  uintptr_t acc = 0;
  size_t batches = n / BATCH;
  double t0 = now_ns();
  switch (k) {
    case SLAB_PAIR:
      for (size_t i = 0; i < n; i++) {
        char *p = rmem_slab_alloc(c);
        p[0] = (char)i;
        acc += (uintptr_t)p;
        rmem_slab_free(c, p);
      }
      break;
    case ENGINE_PAIR:
      for (size_t i = 0; i < n; i++) {
        char *p = rmem_slab_list_alloc(engine);
        p[0] = (char)i;
        acc += (uintptr_t)p;
        rmem_slab_put(engine->cur, (uintptr_t)p); /* p is in cur: the pair never leaves it */
      }
      break;
    case MALLOC_PAIR:
      for (size_t i = 0; i < n; i++) {
        char *p = malloc(OBJ);
        p[0] = (char)i;
        acc += (uintptr_t)p;
        free(p);
      }
      break;
    case SLAB_BATCH:
      for (size_t b = 0; b < batches; b++) {
        for (int i = 0; i < BATCH; i++) {
          char *p = rmem_slab_alloc(c);
          p[0] = (char)i;
          acc += (uintptr_t)p;
          ptrs[i] = p;
        }
        for (int i = 0; i < BATCH; i++) rmem_slab_free(c, ptrs[i]);
      }
      break;
    case MALLOC_BATCH:
      for (size_t b = 0; b < batches; b++) {
        for (int i = 0; i < BATCH; i++) {
          char *p = malloc(OBJ);
          p[0] = (char)i;
          acc += (uintptr_t)p;
          ptrs[i] = p;
        }
        for (int i = 0; i < BATCH; i++) free(ptrs[i]);
      }
      break;
    case RAW_INLINE:
      for (size_t b = 0; b < batches; b++) {
        for (int i = 0; i < BATCH; i++) {
          char *p = raw_bump(raw, OBJ);
          p[0] = (char)i;
          acc += (uintptr_t)p;
        }
        raw->ptr = raw->base;
      }
      break;
    case RAW_CALL:
      for (size_t b = 0; b < batches; b++) {
        for (int i = 0; i < BATCH; i++) {
          char *p = raw_bump_call(raw, OBJ);
          p[0] = (char)i;
          acc += (uintptr_t)p;
        }
        raw->ptr = raw->base;
      }
      break;
  }
  double t = now_ns() - t0;
  sink += acc;
  size_t ops = k == SLAB_PAIR || k == MALLOC_PAIR || k == ENGINE_PAIR ? n : batches * BATCH;
  return t / (double)ops;
}

int main(int argc, char **argv) {
  /* many short runs: on a shared machine a median of many beats a median of few long ones */
  int runs = argc > 1 ? atoi(argv[1]) : 21;
  size_t n = argc > 2 ? (size_t)atol(argv[2]) : 4000000;
  if (getenv("RMEM_BENCH_SMOKE")) {
    runs = 1;
    n = 20000;
  }
  if (runs < 1 || runs > 101) runs = 21;
  if (n < BATCH) n = BATCH;
  rmem_t *r = rmem_create(NULL);
  slab_cache_t *c = r ? launder(rmem_slab_cache_create(r, "bench", OBJ, 0, 0)) : NULL;
  raw_t *raw = launder(malloc(sizeof *raw));
  engine = launder(malloc(sizeof *engine));
  if (r && engine) rmem_slab_list_init(engine, r, OBJ, RMEM_SO_NONE, 0, 0, true);
  char *buf = malloc(BATCH * OBJ);
  void **ptrs = malloc(BATCH * sizeof *ptrs);
  if (!c || !raw || !buf || !ptrs) {
    fprintf(stderr, "bench_slab: setup failed: %s\n", rmem_last_error_message());
    return 1;
  }
  memset(buf, 0, BATCH * OBJ);
  raw->base = raw->ptr = (uintptr_t)buf;
  raw->end = raw->base + BATCH * OBJ;

  double *res[N];
  for (int k = 0; k < N; k++) {
    res[k] = calloc((size_t)runs, sizeof(double));
    run(k, n / 10 + BATCH, c, raw, ptrs); /* warm up */
  }
  for (int i = 0; i < runs; i++)
    for (int j = 0; j < N; j++) {
      int k = i % 2 ? N - 1 - j : j;
      res[k][i] = run(k, n, c, raw, ptrs);
    }
  double med[N];
  for (int k = 0; k < N; k++) med[k] = median(res[k], runs);

  printf("bench_slab: medians of %d runs, %zu operations per run, %d-byte objects\n", runs, n, OBJ);
  printf("%-18s %10s %16s %16s\n", "candidate", "ns/op", "x raw-inline", "x raw-call");
  for (int k = 0; k < N; k++)
    printf("%-18s %10.3f %16.2f %16.2f\n", names[k], med[k], med[k] / med[RAW_INLINE], med[k] / med[RAW_CALL]);
  printf("slab pair vs malloc pair: %.2f x faster; slab batch vs malloc batch: %.2f x faster\n",
         med[MALLOC_PAIR] / med[SLAB_PAIR], med[MALLOC_BATCH] / med[SLAB_BATCH]);
  printf("target: slab alloc+free pair <= 3.00 ns: %.3f ns  %s (engine floor %.3f ns)\n", med[SLAB_PAIR],
         med[SLAB_PAIR] <= 3.0 ? "MET" : "MISSED", med[ENGINE_PAIR]);
  printf("{\"bench\":\"slab\",\"pair_ns\":%.4f,\"engine_pair_ns\":%.4f,\"malloc_pair_ns\":%.4f,\"batch_ns\":%.4f,\"malloc_batch_ns\":%.4f,"
         "\"raw_inline_ns\":%.4f,\"raw_call_ns\":%.4f}\n",
         med[SLAB_PAIR], med[ENGINE_PAIR], med[MALLOC_PAIR], med[SLAB_BATCH], med[MALLOC_BATCH], med[RAW_INLINE], med[RAW_CALL]);
  rmem_status_t st = rmem_slab_cache_destroy(c);
  rmem_slab_list_fini(engine);
  sink_v = sink;
  rmem_destroy(r);
  return st == RMEM_OK ? 0 : 1;
}
