/*
 * wl_common.h - shared bits of the malloc workloads under bench/malloc/.
 *
 * Every workload is a plain C program that uses only malloc/free/realloc/
 * calloc, so it can run on any allocator through LD_PRELOAD. It is
 * deterministic (a fixed-seed xorshift generator per thread), touches the
 * memory it gets (so lazy allocators pay for their page faults), and prints a
 * checksum that depends on the contents, so a wrong allocator shows up as a
 * different output rather than as a fast time. The runner (run.js) times the
 * whole process and reads its peak RSS.
 *
 * Arguments: an optional scale factor (default 1) multiplies the work.
 */
#ifndef WL_COMMON_H
#define WL_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct wl_rng {
  uint64_t s;
} wl_rng_t;

static inline uint64_t wl_next(wl_rng_t *r) {
  uint64_t x = r->s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  r->s = x;
  return x;
}

/* Uniform in [lo, hi]. */
static inline size_t wl_range(wl_rng_t *r, size_t lo, size_t hi) { return lo + (size_t)(wl_next(r) % (hi - lo + 1)); }

static inline double wl_scale(int argc, char **argv) {
  double s = argc > 1 ? atof(argv[1]) : 1.0;
  return s > 0 ? s : 1.0;
}

static inline void *wl_xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) {
    fprintf(stderr, "workload: malloc(%zu) failed\n", n);
    exit(2);
  }
  return p;
}

/* Writes a recognisable pattern and returns a value derived from it. */
static inline uint64_t wl_touch(void *p, size_t n, uint64_t tag) {
  unsigned char *c = p;
  c[0] = (unsigned char)tag;
  c[n - 1] = (unsigned char)(tag >> 8);
  if (n >= 16) memcpy(c + n / 2 - 4, &tag, 8);
  return tag * 31 + n;
}

/* 1 if the pattern wl_touch(p, n, tag) wrote is still there. Workloads that
   hand blocks between threads check every block before freeing it, so an
   allocator that gives one block to two owners shows up as a failure. */
static inline int wl_intact(const void *p, size_t n, uint64_t tag) {
  const unsigned char *c = p;
  if (c[n - 1] != (unsigned char)(tag >> 8)) return 0;
  if (n > 1 && c[0] != (unsigned char)tag) return 0;
  if (n >= 16) {
    uint64_t t;
    memcpy(&t, c + n / 2 - 4, 8);
    if (t != tag) return 0;
  }
  return 1;
}

/* The thread count from argv[i] (default def), kept within 1..64. */
static inline int wl_threads(int argc, char **argv, int i, int def) {
  int n = argc > i ? atoi(argv[i]) : def;
  return n >= 1 && n <= 64 ? n : def;
}

/* Operations for a scale: base * scale, at least 1. */
static inline long wl_ops(double base, double scale) {
  long n = (long)(base * scale);
  return n > 0 ? n : 1;
}

#endif
