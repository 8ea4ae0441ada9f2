/*
 * wl_realloc.c - large reallocs.
 *
 * Growing buffers (string builders, vectors, read-whole-file loops) realloc
 * from a few bytes to many megabytes. Eight buffers grow in turn by 1.25x to
 * 1..24 MiB, the new tail is written, some are shrunk back, then all are freed
 * and the cycle repeats. An allocator that copies on every grow, or keeps the
 * old pages resident, shows it here in time and in peak RSS.
 */
#include "wl_common.h"

enum { NBUF = 8 };

int main(int argc, char **argv) {
  double scale = wl_scale(argc, argv);
  int cycles = (int)(3 * scale);
  if (cycles < 1) cycles = 1;
  wl_rng_t rng = {0xA5A5A5A55A5A5A5Aull};
  uint64_t sum = 0;
  for (int c = 0; c < cycles; c++) {
    char *buf[NBUF] = {0};
    size_t len[NBUF] = {0}, target[NBUF];
    for (int i = 0; i < NBUF; i++) target[i] = wl_range(&rng, 1u << 20, 24u << 20);
    for (int live = NBUF; live > 0;) {
      live = 0;
      for (int i = 0; i < NBUF; i++) {
        if (len[i] >= target[i]) continue;
        live++;
        size_t n = len[i] ? len[i] + len[i] / 4 + 64 : 64;
        char *p = realloc(buf[i], n);
        if (!p) return 2;
        memset(p + len[i], (char)(i + c), n - len[i]);
        buf[i] = p;
        len[i] = n;
        sum += (unsigned char)p[n - 1] + (unsigned char)p[0];
      }
    }
    for (int i = 0; i < NBUF; i++) {
      if (wl_next(&rng) & 1) {
        size_t n = len[i] / 3 + 1;
        char *p = realloc(buf[i], n);
        if (!p) return 2;
        buf[i] = p;
        len[i] = n;
      }
      sum += (unsigned char)buf[i][len[i] - 1];
      free(buf[i]);
    }
  }
  printf("realloc checksum %llu\n", (unsigned long long)sum);
  return 0;
}
