/*
 * wl_malloc_simple.c - a plain single-threaded malloc/free loop of fixed small
 * sizes, in the style of glibc's benchtests (bench-malloc-simple).
 *
 * For every size in a set of small fixed sizes and every batch length in
 * {25, 100, 400, 1600}, the loop allocates a batch of blocks of that size,
 * writes a byte into each, then frees the whole batch in allocation order, and
 * repeats. Nothing else happens: this is the cost of the allocator's fast
 * paths (and, for the longer batches, of what lies behind its per-thread
 * caches), with no threads, no size mix and no locality effects to hide it.
 * Every size and batch length gets the same number of malloc/free pairs.
 *
 * Usage: wl_malloc_simple [scale]
 */
#include "wl_common.h"

static const size_t sizes[] = {8, 16, 32, 64, 128, 256, 512, 1024};
static const int batches[] = {25, 100, 400, 1600};
enum { NSIZES = sizeof sizes / sizeof sizes[0], NBATCHES = sizeof batches / sizeof batches[0], MAXBATCH = 1600 };

int main(int argc, char **argv) {
  double scale = wl_scale(argc, argv);
  /* malloc/free pairs per (size, batch length) */
  long pairs = wl_ops(1200000, scale);
  static unsigned char *blk[MAXBATCH];
  uint64_t sum = 0;
  for (int s = 0; s < NSIZES; s++) {
    size_t n = sizes[s];
    for (int b = 0; b < NBATCHES; b++) {
      int len = batches[b];
      long rounds = pairs / len;
      if (rounds < 1) rounds = 1;
      for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < len; i++) {
          blk[i] = wl_xmalloc(n);
          blk[i][n - 1] = (unsigned char)(i + r);
        }
        for (int i = 0; i < len; i++) {
          sum += blk[i][n - 1];
          free(blk[i]);
        }
      }
    }
  }
  printf("malloc-simple checksum %llu\n", (unsigned long long)sum);
  return 0;
}
