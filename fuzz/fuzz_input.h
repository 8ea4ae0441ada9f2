/*
 * fuzz_input.h - the byte-stream reader the libFuzzer harnesses share: the
 * input is a program, read one operand at a time; past its end every read is 0.
 */
#ifndef RMEM_FUZZ_INPUT_H
#define RMEM_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

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

#endif
