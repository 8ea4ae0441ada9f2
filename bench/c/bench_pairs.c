/*
 * bench_pairs.c - instructions per LIFO alloc+free pair, counted with
 * valgrind --tool=callgrind (a count repeats when wall time does not).
 *
 *   bench_pairs heap N      N pairs of rmem_alloc / rmem_free, sizes 16..256
 *   bench_pairs r N         the same through the seed's r_alloc / r_free (the default instance is shared)
 *   bench_pairs local N     the same through rmem_local_alloc / rmem_local_free on a shared instance
 *   bench_pairs slab N      N pairs of rmem_slab_alloc / rmem_slab_free (64 bytes)
 *   bench_pairs system N    N pairs of malloc / free (glibc, or a preloaded allocator)
 *
 * Each pair writes one byte of its block, and the block's address goes into
 * a printed sum, so nothing is optimised away. scripts/count-pairs.sh runs
 * every mode twice under callgrind (N and 2N pairs) and divides the
 * difference of the totals by N: instructions per pair, loop included, set-up
 * and teardown excluded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmem.h"

static uint64_t rng = 0x1234567;
static inline uint64_t rnd(void) {
  uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "heap";
  long n = argc > 2 ? atol(argv[2]) : 1000000;
  enum { NS = 4096 };
  static uint16_t sizes[NS];
  for (int i = 0; i < NS; i++) sizes[i] = (uint16_t)(16 + rnd() % 241);
  uintptr_t acc = 0;
  if (strcmp(mode, "heap") == 0) {
    rmem_t *r = rmem_create(NULL);
    for (int i = 0; i < NS; i++) rmem_free(r, rmem_alloc(r, sizes[i])); /* warm every class */
    for (long i = 0; i < n; i++) {
      char *p = rmem_alloc(r, sizes[i & (NS - 1)]);
      p[0] = (char)i;
      acc += (uintptr_t)p;
      rmem_free(r, p);
    }
    rmem_destroy(r);
  } else if (strcmp(mode, "r") == 0) {
    init_heap();
    for (int i = 0; i < NS; i++) r_free(r_alloc(sizes[i]));
    for (long i = 0; i < n; i++) {
      char *p = r_alloc(sizes[i & (NS - 1)]);
      p[0] = (char)i;
      acc += (uintptr_t)p;
      r_free(p);
    }
  } else if (strcmp(mode, "local") == 0) {
    rmem_options_t o = {0, RMEM_OPT_SHARED};
    rmem_t *r = rmem_create(&o);
    rmem_local_t *l = rmem_local(r);
    for (int i = 0; i < NS; i++) rmem_local_free(l, rmem_local_alloc(l, sizes[i]));
    for (long i = 0; i < n; i++) {
      char *p = rmem_local_alloc(l, sizes[i & (NS - 1)]);
      p[0] = (char)i;
      acc += (uintptr_t)p;
      rmem_local_free(l, p);
    }
    rmem_destroy(r);
  } else if (strcmp(mode, "slab") == 0) {
    rmem_t *r = rmem_create(NULL);
    slab_cache_t *c = rmem_slab_cache_create(r, "pairs", 64, 0, 0);
    rmem_slab_free(c, rmem_slab_alloc(c));
    for (long i = 0; i < n; i++) {
      char *p = rmem_slab_alloc(c);
      p[0] = (char)i;
      acc += (uintptr_t)p;
      rmem_slab_free(c, p);
    }
    rmem_destroy(r);
  } else {
    for (int i = 0; i < NS; i++) free(malloc(sizes[i]));
    for (long i = 0; i < n; i++) {
      char *p = malloc(sizes[i & (NS - 1)]);
      p[0] = (char)i;
      acc += (uintptr_t)p;
      free(p);
    }
  }
  printf("%s %ld pairs, sum %lu\n", mode, n, (unsigned long)(acc & 0xffff));
  return 0;
}
