/*
 * wl_espresso.c - espresso-like: single-threaded churn of mixed sizes.
 *
 * espresso (logic minimisation) allocates sets and covers of very different
 * sizes with lifetimes from instant to whole-run, and reallocs covers as they
 * grow. Here: a working set of 20000 slots; each step replaces a random slot
 * with a block from a skewed size distribution (most small, a tail up to
 * 64 KiB), grows some blocks with realloc, and copies between blocks.
 */
#include "wl_common.h"

static size_t pick_size(wl_rng_t *r) {
  unsigned d = (unsigned)(wl_next(r) % 100);
  if (d < 60) return wl_range(r, 8, 64);
  if (d < 85) return wl_range(r, 65, 512);
  if (d < 97) return wl_range(r, 513, 4096);
  return wl_range(r, 4097, 65536);
}

int main(int argc, char **argv) {
  double scale = wl_scale(argc, argv);
  long steps = (long)(4000000 * scale);
  enum { SLOTS = 20000 };
  wl_rng_t rng = {0x2545F4914F6CDD1Dull};
  static void *slot[SLOTS];
  static size_t len[SLOTS];
  uint64_t sum = 0;
  for (long s = 0; s < steps; s++) {
    size_t i = (size_t)(wl_next(&rng) % SLOTS);
    unsigned op = (unsigned)(wl_next(&rng) % 16);
    if (op < 11 || !slot[i]) {
      free(slot[i]);
      len[i] = pick_size(&rng);
      slot[i] = wl_xmalloc(len[i]);
      sum += wl_touch(slot[i], len[i], (uint64_t)s);
    } else if (op < 14) {
      size_t n = len[i] + len[i] / 2 + 8;
      if (n > 262144) n = wl_range(&rng, 8, 256);
      void *p = realloc(slot[i], n);
      if (!p) return 2;
      slot[i] = p;
      len[i] = n;
      sum += wl_touch(p, n, (uint64_t)s);
    } else {
      size_t j = (size_t)(wl_next(&rng) % SLOTS);
      if (slot[j] && j != i) {
        size_t n = len[i] < len[j] ? len[i] : len[j];
        memcpy(slot[i], slot[j], n);
        sum += ((unsigned char *)slot[i])[0];
      }
    }
  }
  for (size_t i = 0; i < SLOTS; i++) {
    if (slot[i]) sum += ((unsigned char *)slot[i])[0];
    free(slot[i]);
  }
  printf("espresso checksum %llu\n", (unsigned long long)sum);
  return 0;
}
