/*
 * wl_malloc_large.c - many large blocks, 64 KiB up to 8 MiB, allocated and
 * freed (after mimalloc-bench's malloc-large, which does the same at 5..25 MiB).
 *
 * A table of 20 live buffers; each step frees a random one and allocates a new
 * buffer in its place, its size log-uniform in 64 KiB .. 8 MiB (so every
 * octave - around the mmap thresholds, the huge-block limits and the caches of
 * freed large blocks - gets the same share), and writes one word in every
 * 4 KiB page of it: the page faults of an allocator that hands back fresh
 * memory each time count, as do the munmap/mmap pairs of one that does not keep
 * any. Before a buffer is freed its pages are read back into the checksum.
 *
 * Usage: wl_malloc_large [scale]
 */
#include "wl_common.h"

enum { SLOTS = 20, PAGE = 4096 };

typedef struct buf {
  unsigned char *p;
  size_t n;
  uint64_t tag;
} buf_t;

/* log-uniform in [2^16, 2^23] */
static size_t pick_size(wl_rng_t *r) {
  unsigned k = 16 + (unsigned)(wl_next(r) % 7);
  size_t lo = (size_t)1 << k;
  return wl_range(r, lo, 2 * lo - 1);
}

static void fill(buf_t *b) {
  for (size_t off = 0; off < b->n; off += PAGE) b->p[off] = (unsigned char)(b->tag + off / PAGE);
  b->p[b->n - 1] = (unsigned char)(b->tag >> 8);
}

static uint64_t drain(const buf_t *b, long *bad) {
  uint64_t s = 0;
  for (size_t off = 0; off < b->n; off += PAGE) {
    unsigned char v = b->p[off];
    if (v != (unsigned char)(b->tag + off / PAGE) && off != b->n - 1) ++*bad;
    s += v;
  }
  return s * 31 + b->n;
}

int main(int argc, char **argv) {
  double scale = wl_scale(argc, argv);
  long steps = wl_ops(6000, scale);
  wl_rng_t rng = {0x1A2B3C4D5E6Full};
  buf_t tab[SLOTS] = {{0}};
  uint64_t sum = 0;
  long bad = 0;
  for (long k = 0; k < steps; k++) {
    buf_t *b = &tab[wl_next(&rng) % SLOTS];
    if (b->p) {
      sum += drain(b, &bad);
      free(b->p);
    }
    b->n = pick_size(&rng);
    b->tag = wl_next(&rng);
    b->p = wl_xmalloc(b->n);
    fill(b);
  }
  for (int i = 0; i < SLOTS; i++) {
    if (!tab[i].p) continue;
    sum += drain(&tab[i], &bad);
    free(tab[i].p);
  }
  if (bad) {
    fprintf(stderr, "malloc-large: %ld pages were overwritten\n", bad);
    return 1;
  }
  printf("malloc-large checksum %llu\n", (unsigned long long)sum);
  return 0;
}
