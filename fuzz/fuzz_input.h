/*
 * fuzz_input.h - what the libFuzzer harnesses share: the byte-stream reader
 * (the input is a program, read one operand at a time; past its end every
 * read is 0) and the check of a live block's fill pattern.
 */
#ifndef RMEM_FUZZ_INPUT_H
#define RMEM_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

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

/* Every byte of a live block still holds its tag, or the run is a finding. */
static inline void check_pattern(const unsigned char *p, size_t n, unsigned char tag) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != tag) abort();
}

#endif
