/*
 * bench_util.h - what every C benchmark of rmem shares: clocks, the median,
 * and the raw pointer bump that arena and slab figures are measured against.
 */
#ifndef RMEM_BENCH_UTIL_H
#define RMEM_BENCH_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* Wall clock, ns. */
static inline double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* This thread's CPU time, ns: less sensitive to a busy neighbour than the wall clock. */
static inline double cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v). */
static inline double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The raw baseline: the same shape as struct rmem_arena_head, reached through a pointer. */
typedef struct raw {
  uintptr_t ptr, end, base;
} raw_t;

static inline void *raw_bump(raw_t *b, size_t size) {
  size_t n = (size + 7) & ~(size_t)7;
  uintptr_t p = b->ptr;
  if (__builtin_expect(n - 1 < b->end - p, 1)) {
    b->ptr = p + n;
    return (void *)p;
  }
  return NULL;
}

__attribute__((noinline, unused)) static void *raw_bump_call(raw_t *b, size_t size) { return raw_bump(b, size); }

#endif
