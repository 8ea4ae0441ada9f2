/*
 * bench_arena.c - arena speed against baselines measured in the same process.
 *
 *   bump      ns per 64-byte allocation, 1000 allocations then a rewind, for
 *               raw-inline   a bump pointer in a struct, inlined (the floor)
 *               raw-call     the same bump through a non-inlined call
 *               r_arena_fast the header's inline fast path (target: <= 1.2 x raw-inline)
 *               arena_alloc  rmem_arena_alloc, a checked call
 *               malloc       malloc(64) x 1000, then free all 1000
 *   cycle     ns per "create an arena, 1000 allocations of 16..256 bytes,
 *             destroy it" against the same 1000 allocations with malloc and
 *             free (target: >= 5 x faster).
 *   inter     ns per alloc+free pair (16..271 bytes) in an intermediate arena
 *             (size-class slabs, rmem_arena_free checks pointer and size)
 *             against malloc/free of the same sizes (no target).
 *
 * Every allocation is written to (one byte) and its address accumulated into
 * a sink that is printed, so the compiler cannot drop the work. Each figure is
 * the median of RUNS runs; runs of the candidates are interleaved so a noisy
 * neighbour hurts all of them alike. Timing: CLOCK_MONOTONIC.
 *
 * Usage: bench_arena [runs] [batches]      (RMEM_BENCH_SMOKE=1: tiny)
 */
#include "rmem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_util.h"

#define BATCH 1000
#define OBJ 64




static volatile uintptr_t sink_v;
static uintptr_t sink;

/* Makes the handle opaque to the optimiser, as a real caller's would be. */
static void *launder(void *p) {
  __asm__ volatile("" : "+r"(p));
  return p;
}

enum { RAW_INLINE, RAW_CALL, FAST, CALL, MALLOC, NBUMP };
static const char *bump_names[NBUMP] = {"raw-inline", "raw-call", "r_arena_fast", "rmem_arena_alloc", "malloc/free"};

/* ns per allocation for candidate k over `batches` batches of BATCH allocations. */
static double run_bump(int k, size_t batches, raw_t *raw, arena_t *a, void **ptrs) {
  uintptr_t acc = 0;
  double t0 = now_ns();
  for (size_t b = 0; b < batches; b++) {
    switch (k) {
      case RAW_INLINE:
        for (int i = 0; i < BATCH; i++) {
          char *p = raw_bump(raw, OBJ);
          p[0] = (char)i;
          acc += (uintptr_t)p;
        }
        raw->ptr = raw->base;
        break;
      case RAW_CALL:
        for (int i = 0; i < BATCH; i++) {
          char *p = raw_bump_call(raw, OBJ);
          p[0] = (char)i;
          acc += (uintptr_t)p;
        }
        raw->ptr = raw->base;
        break;
      case FAST: {
        rmem_arena_mark_t m = rmem_arena_mark(a);
        for (int i = 0; i < BATCH; i++) {
          char *p = r_arena_fast(a, OBJ);
          p[0] = (char)i;
          acc += (uintptr_t)p;
        }
        rmem_arena_rewind(a, m);
        break;
      }
      case CALL: {
        rmem_arena_mark_t m = rmem_arena_mark(a);
        for (int i = 0; i < BATCH; i++) {
          char *p = rmem_arena_alloc(a, OBJ);
          p[0] = (char)i;
          acc += (uintptr_t)p;
        }
        rmem_arena_rewind(a, m);
        break;
      }
      case MALLOC:
        for (int i = 0; i < BATCH; i++) {
          char *p = malloc(OBJ);
          p[0] = (char)i;
          acc += (uintptr_t)p;
          ptrs[i] = p;
        }
        for (int i = 0; i < BATCH; i++) free(ptrs[i]);
        break;
    }
  }
  double t = now_ns() - t0;
  sink += acc;
  return t / ((double)batches * BATCH);
}

/* Sizes of the cycle benchmark: 16..256, fixed sequence. */
static size_t cycle_size[BATCH];

static double run_cycle_arena(rmem_t *r, size_t cycles) {
  uintptr_t acc = 0;
  double t0 = now_ns();
  for (size_t c = 0; c < cycles; c++) {
    arena_t *a = launder(rmem_arena_create(r, 256 << 10, LIFETIME_TRANSIENT));
    for (int i = 0; i < BATCH; i++) {
      char *p = r_arena_fast(a, cycle_size[i]);
      p[0] = (char)i;
      acc += (uintptr_t)p;
    }
    rmem_arena_destroy(a);
  }
  double t = now_ns() - t0;
  sink += acc;
  return t / (double)cycles;
}

static double run_cycle_malloc(size_t cycles, void **ptrs) {
  uintptr_t acc = 0;
  double t0 = now_ns();
  for (size_t c = 0; c < cycles; c++) {
    for (int i = 0; i < BATCH; i++) {
      char *p = malloc(cycle_size[i]);
      p[0] = (char)i;
      acc += (uintptr_t)p;
      ptrs[i] = p;
    }
    for (int i = 0; i < BATCH; i++) free(ptrs[i]);
  }
  double t = now_ns() - t0;
  sink += acc;
  return t / (double)cycles;
}

/* ns per alloc+free pair: an intermediate arena (inter != NULL) or malloc/free. */
static double run_pairs(arena_t *inter, size_t n) {
  uintptr_t acc = 0;
  double t0 = now_ns();
  for (size_t i = 0; i < n; i++) {
    size_t sz = 16 + (i & 255);
    char *p = inter ? rmem_arena_alloc(inter, sz) : malloc(sz);
    p[0] = (char)i;
    acc += (uintptr_t)p;
    if (inter) rmem_arena_free(inter, p, sz);
    else free(p);
  }
  double t = now_ns() - t0;
  sink += acc;
  return t / (double)n;
}

int main(int argc, char **argv) {
  /* many short runs: on a shared machine a median of many beats a median of few long ones */
  int runs = argc > 1 ? atoi(argv[1]) : 21;
  size_t batches = argc > 2 ? (size_t)atol(argv[2]) : 8000;
  if (getenv("RMEM_BENCH_SMOKE")) {
    runs = 1;
    batches = 20;
  }
  if (runs < 1 || runs > 101) runs = 21;
  rmem_t *r = rmem_create(NULL);
  if (!r) {
    fprintf(stderr, "bench_arena: %s\n", rmem_last_error_message());
    return 1;
  }
  arena_t *a = launder(rmem_arena_create(r, 128 << 10, LIFETIME_TRANSIENT));
  raw_t *raw = launder(malloc(sizeof *raw));
  char *buf = malloc(128 << 10);
  void **ptrs = malloc(BATCH * sizeof *ptrs);
  if (!a || !raw || !buf || !ptrs) return 1;
  memset(buf, 0, 128 << 10);
  raw->base = raw->ptr = (uintptr_t)buf;
  raw->end = raw->base + (128 << 10);
  uint64_t x = 1;
  for (int i = 0; i < BATCH; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    cycle_size[i] = 16 + (size_t)(x % 241);
  }

  double *res[NBUMP];
  for (int k = 0; k < NBUMP; k++) res[k] = calloc((size_t)runs, sizeof(double));
  for (int k = 0; k < NBUMP; k++) run_bump(k, batches / 10 + 1, raw, a, ptrs); /* warm up */
  for (int run = 0; run < runs; run++)
    for (int j = 0; j < NBUMP; j++) {
      int k = run % 2 ? NBUMP - 1 - j : j; /* alternate the order */
      res[k][run] = run_bump(k, batches, raw, a, ptrs);
    }
  double med[NBUMP];
  for (int k = 0; k < NBUMP; k++) med[k] = median(res[k], runs);

  size_t cycles = batches / 4 + 1;
  double *ca = calloc((size_t)runs, sizeof(double)), *cm = calloc((size_t)runs, sizeof(double));
  run_cycle_arena(r, cycles / 10 + 1);
  run_cycle_malloc(cycles / 10 + 1, ptrs);
  for (int run = 0; run < runs; run++) {
    if (run % 2) {
      cm[run] = run_cycle_malloc(cycles, ptrs);
      ca[run] = run_cycle_arena(r, cycles);
    } else {
      ca[run] = run_cycle_arena(r, cycles);
      cm[run] = run_cycle_malloc(cycles, ptrs);
    }
  }
  double cyc_a = median(ca, runs), cyc_m = median(cm, runs);

  arena_t *im = launder(rmem_arena_create(r, 0, LIFETIME_INTERMEDIATE));
  size_t pairs = batches * 100 + 1000;
  double *pi = calloc((size_t)runs, sizeof(double)), *pm = calloc((size_t)runs, sizeof(double));
  run_pairs(im, pairs / 10);
  run_pairs(NULL, pairs / 10);
  for (int run = 0; run < runs; run++) {
    pi[run] = run_pairs(im, pairs);
    pm[run] = run_pairs(NULL, pairs);
  }
  double pair_i = median(pi, runs), pair_m = median(pm, runs);

  printf("bench_arena: medians of %d runs, %zu batches of %d x %d-byte allocations per run\n", runs, batches, BATCH,
         OBJ);
  printf("%-18s %10s %14s\n", "allocation", "ns/alloc", "x raw-inline");
  for (int k = 0; k < NBUMP; k++) printf("%-18s %10.3f %14.2f\n", bump_names[k], med[k], med[k] / med[RAW_INLINE]);
  double ratio_fast = med[FAST] / med[RAW_INLINE];
  printf("target: r_arena_fast <= 1.20 x raw-inline bump: %.2f x  %s\n", ratio_fast, ratio_fast <= 1.2 ? "MET" : "MISSED");
  printf("\ncycle: create + %d allocations (16..256 B) + destroy, vs the same with malloc/free\n", BATCH);
  printf("%-18s %10.1f ns/cycle\n", "arena", cyc_a);
  printf("%-18s %10.1f ns/cycle\n", "malloc/free", cyc_m);
  double speedup = cyc_m / cyc_a;
  printf("target: arena cycle >= 5.00 x faster than malloc/free: %.2f x  %s\n", speedup, speedup >= 5 ? "MET" : "MISSED");
  printf("\nintermediate arena: alloc+free pair, 16..271 B\n");
  printf("%-18s %10.2f ns/pair\n", "malloc/free", pair_m);
  printf("%-18s %10.2f ns/pair  (%.2f x malloc/free)\n", "rmem_arena_free", pair_i, pair_i / pair_m);
  printf("{\"bench\":\"arena\",\"raw_inline_ns\":%.4f,\"raw_call_ns\":%.4f,\"fast_ns\":%.4f,\"call_ns\":%.4f,"
         "\"malloc_ns\":%.4f,\"fast_ratio\":%.3f,\"cycle_arena_ns\":%.1f,\"cycle_malloc_ns\":%.1f,\"cycle_speedup\":%.2f,"
         "\"inter_pair_ns\":%.3f,\"inter_malloc_pair_ns\":%.3f}\n",
         med[RAW_INLINE], med[RAW_CALL], med[FAST], med[CALL], med[MALLOC], ratio_fast, cyc_a, cyc_m, speedup, pair_i,
         pair_m);
  sink_v = sink;
  rmem_destroy(r);
  return 0;
}
