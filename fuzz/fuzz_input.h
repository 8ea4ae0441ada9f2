/*
 * fuzz_input.h - what the libFuzzer harnesses share: the byte-stream reader
 * (the input is a program, read one operand at a time; past its end every
 * read is 0), block sizes, the fill and check of a live block's pattern, and
 * how often the validators run.
 *
 * Speed (npm run fuzz reports exec/s): the validators walk every structure,
 * which costs more than hundreds of steps, so a harness runs them every
 * FUZZ_VALIDATE_EVERY steps and at the end of every input, not after each
 * step; and a pattern is written over a block's first 16 KiB and the start of
 * each later page (so those bytes are shown to be the program's, to ASan too)
 * and checked on a sample -- enough to see two blocks overlap or a block lose
 * its contents in a move.
 */
#ifndef RMEM_FUZZ_INPUT_H
#define RMEM_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_VALIDATE_EVERY 64

typedef struct {
  const uint8_t *p;
  size_t n;
} input_t;

/* The next `bytes` bytes (at most 4) as a big-endian number. */
static inline uint32_t take(input_t *in, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; i++) {
    v <<= 8;
    if (in->n) {
      v |= *in->p++;
      in->n--;
    }
  }
  return v;
}

/* A block size: mostly small (the fronts), often up to 33000 (every class), now and then up to limit. */
static inline size_t take_size(input_t *in, size_t limit) {
  uint32_t k = take(in, 1) % 16;
  if (k < 11) return take(in, 2) % 1025;
  if (k < 15) return take(in, 2) % 33001;
  return take(in, 3) % limit;
}

/* The bytes of a block that carry its pattern: all of its first 16 KiB, and the first 64 of every 64 KiB after
   that (megabytes written and faulted in per step would cost more than everything else). The rule does not
   depend on the block's size, so a prefix of a block (what realloc keeps) is checked by the same rule. */
#define FUZZ_DENSE 16384u
#define FUZZ_SPARSE 65536u
static inline void fill_pattern(unsigned char *p, size_t n, unsigned char tag) {
  if (n <= FUZZ_DENSE) {
    memset(p, tag, n);
    return;
  }
  memset(p, tag, FUZZ_DENSE);
  for (size_t i = FUZZ_DENSE; i < n; i += FUZZ_SPARSE) memset(p + i, tag, n - i < 64 ? n - i : 64);
}

/* The pattern is still there (on a sample of those bytes: every byte of the first and last 64 of the dense part,
   one in 61 between, and the 64 of each 64 KiB after), or the run is a finding. Out of line:
   fuzz/ignorelist.txt keeps libFuzzer's comparison tracing out of it. */
#if defined(__GNUC__)
__attribute__((noinline, unused))
#endif
static void check_pattern(const unsigned char *p, size_t n, unsigned char tag) {
  size_t dense = n < FUZZ_DENSE ? n : FUZZ_DENSE;
  for (size_t i = 0; i < dense; i += (i < 64 || i + 64 >= dense) ? 1 : 61)
    if (p[i] != tag) abort();
  for (size_t i = FUZZ_DENSE; i < n; i += FUZZ_SPARSE)
    for (size_t j = i; j < n && j < i + 64; j++)
      if (p[j] != tag) abort();
}

/* calloc's promise: every byte is 0 -- all of the first 16 KiB (a word at a time: blocks are 8-aligned), then
   one word in 64 (a block's zeroing is one memset or fresh pages: a gap would be a run of bytes). */
#if defined(__GNUC__)
__attribute__((noinline, unused))
#endif
static void check_zero(const unsigned char *p, size_t n) {
  uint64_t any = 0, w;
  size_t i = 0;
  for (; i + 8 <= n; i += i < FUZZ_DENSE ? 8 : 512) {
    memcpy(&w, p + i, 8);
    any |= w;
  }
  for (i = n & ~(size_t)7; i < n; i++) any |= p[i];
  if (any) abort();
}
#endif
