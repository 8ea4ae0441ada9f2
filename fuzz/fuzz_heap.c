/*
 * fuzz_heap.c - libFuzzer harness for the general heap.
 *
 * The input is a program: each step reads an opcode byte and its operands and
 * runs alloc, calloc, realloc, aligned alloc, free, a bad free (interior,
 * forged, double), a user write anywhere in the range, or defrag. Every live
 * block carries a pattern that is checked before it is freed, and the full
 * validator runs after every step: a crash, a sanitizer report, a pattern
 * mismatch or a validator problem is a finding.
 *
 * Build: cmake -DRMEM_BUILD_FUZZ=ON -DCMAKE_C_COMPILER=clang; run: npm run fuzz.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "internal.h"

enum { SLOTS = 64 };



int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rmem_options_t o = {.capacity = RMEM_MIN_CAPACITY * 4};
  rmem_t *r = rmem_create(&o);
  if (!r) return 0;
  unsigned char *ptr[SLOTS] = {0};
  size_t len[SLOTS] = {0};
  unsigned char tag[SLOTS] = {0};
  input_t in = {data, size};
  while (in.n) {
    uint32_t op = take(&in, 1);
    uint32_t slot = take(&in, 1) % SLOTS;
    switch (op % 9) {
      case 0: /* alloc */
      case 1: { /* calloc */
        if (ptr[slot]) break;
        size_t n = take(&in, 3) % 300000;
        unsigned char *p = op % 9 == 0 ? rmem_alloc(r, n) : rmem_calloc(r, 1, n);
        if (n == 0 && p) abort();
        if (p) {
          if (op % 9 == 1)
            for (size_t i = 0; i < n; i++)
              if (p[i]) abort();
          if (rmem_usable_size(r, p) < n) abort();
          tag[slot] = (unsigned char)(op | 1);
          memset(p, tag[slot], n);
          ptr[slot] = p;
          len[slot] = n;
        }
        break;
      }
      case 2: { /* aligned */
        if (ptr[slot]) break;
        size_t a = (size_t)1 << (take(&in, 1) % 22);
        size_t n = 1 + take(&in, 2);
        unsigned char *p = rmem_aligned_alloc(r, a, n);
        if (p) {
          if ((uintptr_t)p & (a - 1)) abort();
          tag[slot] = (unsigned char)(op | 1);
          memset(p, tag[slot], n);
          ptr[slot] = p;
          len[slot] = n;
        }
        break;
      }
      case 3: { /* realloc */
        if (!ptr[slot]) break;
        size_t n = 1 + take(&in, 3) % 300000;
        unsigned char *q = rmem_realloc(r, ptr[slot], n);
        size_t keep = n < len[slot] ? n : len[slot];
        if (q) {
          check_pattern(q, keep, tag[slot]);
          memset(q, tag[slot], n);
          ptr[slot] = q;
          len[slot] = n;
        } else {
          check_pattern(ptr[slot], len[slot], tag[slot]);
        }
        break;
      }
      case 4: /* free */
        if (!ptr[slot]) break;
        check_pattern(ptr[slot], len[slot], tag[slot]);
        if (rmem_free(r, ptr[slot]) != RMEM_OK) abort();
        ptr[slot] = NULL;
        break;
      case 5: { /* bad free: interior, double, or forged; must fail and change nothing */
        uint32_t kind = take(&in, 1) % 3;
        uintptr_t off = take(&in, 4) % rmem_capacity(r);
        void *bad = kind == 0 && ptr[slot] ? (void *)(ptr[slot] + 1 + off % 64) : (void *)((char *)rmem_base(r) + off);
        bool live = false;
        for (int i = 0; i < SLOTS; i++) live |= ptr[i] == bad;
        if (!live && rmem_free(r, bad) == RMEM_OK) abort();
        break;
      }
      case 6: { /* the user writes anywhere in the range: must not corrupt the heap */
        uintptr_t off = take(&in, 4) % rmem_capacity(r);
        unsigned char v = (unsigned char)take(&in, 1);
        size_t n = take(&in, 1);
        if (off + n > rmem_capacity(r)) n = rmem_capacity(r) - off;
        memset((char *)rmem_base(r) + off, v, n);
        /* the test's own blocks may have been hit: re-tag them */
        for (int i = 0; i < SLOTS; i++)
          if (ptr[i]) memset(ptr[i], tag[i], len[i]);
        break;
      }
      case 7:
        rmem_defrag(r, NULL);
        break;
      case 8: { /* usable size of anything must not crash */
        uintptr_t off = take(&in, 4) % rmem_capacity(r);
        (void)rmem_usable_size(r, (char *)rmem_base(r) + off);
        break;
      }
    }
    if (rmem_validate(r) != 0) abort();
  }
  for (int i = 0; i < SLOTS; i++)
    if (ptr[i]) {
      check_pattern(ptr[i], len[i], tag[i]);
      if (rmem_free(r, ptr[i]) != RMEM_OK) abort();
    }
  if (rmem_validate(r) != 0) abort();
  rmem_destroy(r);
  return 0;
}
