/*
 * bench_heap.c - the general heap against the system allocator.
 *
 * One process measures one allocator: `bench_heap rmem` uses rmem_alloc /
 * rmem_free on its own instance, `bench_heap system` uses malloc/free, which
 * is glibc, or jemalloc / mimalloc / tcmalloc when scripts/bench-c.sh runs it
 * under LD_PRELOAD. The script runs every allocator several times, in
 * alternating order, in the same run, and prints medians and ratios.
 *
 * Workloads (issue 2):
 *   lifo     malloc(16..256) then free at once, sizes from a fixed random
 *            sequence: ns per malloc+free pair.
 *   replace  100,000 live blocks of 8..4096 bytes, each replaced at random
 *            (free one, allocate a new random size, write its first and last
 *            word): ns per replacement (one free + one malloc). Then every
 *            live block is written in full and resident memory is compared
 *            with the live bytes.
 *
 * Output: one JSON object per line on stdout.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "rmem.h"

static rmem_t *R;
static int use_rmem;

static inline void *xalloc(size_t n) { return use_rmem ? rmem_alloc(R, n) : malloc(n); }
static inline void xfree(void *p) {
  if (use_rmem) rmem_free(R, p);
  else free(p);
}


static uint64_t rng = 0x1234567;
static inline uint64_t rnd(void) {
  uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static size_t rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, res = 0;
  if (f) {
    if (fscanf(f, "%lu %lu", &size, &res) != 2) res = 0;
    fclose(f);
  }
  return res * 4096;
}

static volatile uintptr_t sink;

static double bench_lifo(long n) {
  enum { NS = 4096 };
  static uint16_t sizes[NS];
  for (int i = 0; i < NS; i++) sizes[i] = (uint16_t)(16 + rnd() % 241);
  /* warm-up */
  for (long i = 0; i < n / 10; i++) {
    char *p = xalloc(sizes[i & (NS - 1)]);
    p[0] = 1;
    xfree(p);
  }
  uintptr_t acc = 0;
  double t0 = now_ns();
  for (long i = 0; i < n; i++) {
    char *p = xalloc(sizes[i & (NS - 1)]);
    p[0] = (char)i;
    acc += (uintptr_t)p;
    xfree(p);
  }
  double t = now_ns() - t0;
  sink = acc;
  return t / (double)n;
}

static void bench_replace(long n, double *ns, double *rss_ratio, double *live_mb) {
  enum { LIVE = 100000 };
  static char *blk[LIVE];
  static uint32_t len[LIVE];
  static uint64_t xs[1 << 16];
  /* touch the benchmark's own arrays first: only the allocator's memory may count */
  memset(blk, 0, sizeof blk);
  memset(len, 0, sizeof len);
  memset(xs, 0, sizeof xs);
  size_t rss0 = rss_bytes();
  size_t live = 0;
  for (int i = 0; i < LIVE; i++) {
    len[i] = (uint32_t)(8 + rnd() % 4089);
    blk[i] = xalloc(len[i]);
    blk[i][0] = 1;
    live += len[i];
  }
  /* warm-up replacements, then timed ones */
  for (long k = 0; k < n / 10 + LIVE; k++) {
    uint64_t x = rnd();
    uint32_t i = (uint32_t)(x % LIVE);
    xfree(blk[i]);
    live -= len[i];
    len[i] = (uint32_t)(8 + (x >> 32) % 4089);
    blk[i] = xalloc(len[i]);
    blk[i][0] = 1;
    live += len[i];
  }
  double total = 0;
  for (long done = 0; done < n;) {
    long batch = n - done < (1 << 16) ? n - done : (1 << 16);
    for (long k = 0; k < batch; k++) xs[k] = rnd(); /* random numbers outside the timed loop */
    double t0 = now_ns();
    for (long k = 0; k < batch; k++) {
      uint64_t x = xs[k];
      uint32_t i = (uint32_t)(x % LIVE);
      xfree(blk[i]);
      live -= len[i];
      uint32_t l = (uint32_t)(8 + (x >> 32) % 4089);
      char *p = xalloc(l);
      p[0] = 1;
      p[l - 1] = 1;
      blk[i] = p;
      len[i] = l;
      live += l;
    }
    total += now_ns() - t0;
    done += batch;
  }
  *ns = total / (double)n;
  for (int i = 0; i < LIVE; i++) memset(blk[i], 0x5A, len[i]);
  size_t rss = rss_bytes() - rss0;
  *rss_ratio = (double)rss / (double)live;
  *live_mb = (double)live / 1048576.0;
  for (int i = 0; i < LIVE; i++) xfree(blk[i]);
}

int main(int argc, char **argv) {
  const char *which = argc > 1 ? argv[1] : "rmem";
  const char *label = argc > 2 ? argv[2] : which;
  long scale = getenv("RMEM_BENCH_SMOKE") ? 20 : 1;
  use_rmem = strcmp(which, "rmem") == 0;
  if (use_rmem) {
    rmem_options_t o = {.capacity = (size_t)1 << 30};
    R = rmem_create(&o);
    if (!R) {
      fprintf(stderr, "bench_heap: %s\n", rmem_last_error_message());
      return 1;
    }
  }
  double lifo = bench_lifo(20000000 / scale);
  double rep_ns, rss_ratio, live_mb;
  bench_replace(4000000 / scale, &rep_ns, &rss_ratio, &live_mb);
  printf("{\"bench\":\"heap\",\"allocator\":\"%s\",\"lifo_ns_per_pair\":%.3f,\"replace_ns\":%.3f,"
         "\"replace_rss_over_live\":%.4f,\"live_mb\":%.1f}\n",
         label, lifo, rep_ns, rss_ratio, live_mb);
  if (use_rmem) {
    if (rmem_validate(R) != 0) {
      fprintf(stderr, "bench_heap: heap invalid after the run: %s\n", rmem_last_error_message());
      return 1;
    }
    rmem_destroy(R);
  }
  return 0;
}
