/*
 * fuzz_heap.c - libFuzzer harness for the general heap.
 *
 * The input is a program: a configuration byte, then steps, each an opcode
 * byte and its operands: alloc, calloc, realloc, aligned alloc, free, a bad
 * free (interior, forged, double), a user write anywhere in the range, defrag
 * or trim, usable size of any address. Every live block carries a pattern that is
 * checked before it is freed; the full validator runs every
 * FUZZ_VALIDATE_EVERY steps and at the end of the input, after everything is
 * freed, when the heap must also hold no page at all. A crash, a sanitizer
 * report, a pattern mismatch, an accepted bad free, a validator problem or a
 * page kept is a finding.
 *
 * The configuration byte's low bit picks the instance: marked for the
 * sanitizer (src/track.h: a freed block, a block's bytes past its size, free
 * pages are poisoned, so rmem touching any of them is a finding too) or
 * created with RMEM_OPT_NO_TRACK, where the program also scribbles over the
 * whole range (which must not corrupt the heap). Each instance is created
 * once and reused: every input starts on an empty heap that holds no page
 * (checked), so its blocks land where they would in a fresh instance.
 *
 * Build: cmake -DRMEM_BUILD_FUZZ=ON -DCMAKE_C_COMPILER=clang; run: npm run fuzz.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "internal.h"

enum { SLOTS = 64 };

static rmem_t *instances[2];

static rmem_t *instance(unsigned no_track) {
  if (!instances[no_track]) {
    rmem_options_t o = {.capacity = RMEM_MIN_CAPACITY * 2, .flags = no_track ? RMEM_OPT_NO_TRACK : 0};
    instances[no_track] = rmem_create(&o);
    if (!instances[no_track]) abort();
  }
  return instances[no_track];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  input_t in = {data, size};
  unsigned no_track = take(&in, 1) & 1;
  rmem_t *r = instance(no_track);
  size_t cap = rmem_capacity(r);
  unsigned char *ptr[SLOTS] = {0};
  size_t len[SLOTS] = {0};
  unsigned char tag[SLOTS] = {0};
  for (unsigned step = 1; in.n; step++) {
    uint32_t op = take(&in, 1);
    uint32_t slot = take(&in, 1) % SLOTS;
    switch (op % 9) {
      case 0: /* alloc */
      case 1: { /* calloc */
        if (ptr[slot]) break;
        size_t n = take_size(&in, 300000);
        unsigned char *p = op % 9 == 0 ? rmem_alloc(r, n) : rmem_calloc(r, 1, n);
        if (n == 0 && p) abort();
        if (p) {
          if (op % 9 == 1) check_zero(p, n);
          if (rmem_usable_size(r, p) < n) abort();
          tag[slot] = (unsigned char)(op | 1);
          fill_pattern(p, n, tag[slot]);
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
          fill_pattern(p, n, tag[slot]);
          ptr[slot] = p;
          len[slot] = n;
        }
        break;
      }
      case 3: { /* realloc */
        if (!ptr[slot]) break;
        size_t n = 1 + take_size(&in, 300000);
        unsigned char *q = rmem_realloc(r, ptr[slot], n);
        size_t keep = n < len[slot] ? n : len[slot];
        if (q) {
          check_pattern(q, keep, tag[slot]);
          fill_pattern(q, n, tag[slot]);
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
        uintptr_t off = take(&in, 4) % cap;
        void *bad = kind == 0 && ptr[slot] ? (void *)(ptr[slot] + 1 + off % 64) : (void *)((char *)rmem_base(r) + off);
        bool live = false;
        for (int i = 0; i < SLOTS; i++) live |= ptr[i] == bad;
        if (!live && rmem_free(r, bad) == RMEM_OK) abort();
        break;
      }
      case 6: { /* the user writes anywhere in the range: must not corrupt the heap (the unmarked instance only) */
        uintptr_t off = take(&in, 4) % cap;
        unsigned char v = (unsigned char)take(&in, 1);
        size_t n = take(&in, 1);
        if (!no_track) break;
        if (off + n > cap) n = cap - off;
        memset((char *)rmem_base(r) + off, v, n);
        /* the program's own blocks may have been hit: re-tag them */
        for (int i = 0; i < SLOTS; i++)
          if (ptr[i]) fill_pattern(ptr[i], len[i], tag[i]);
        break;
      }
      case 7: /* defrag, one in four times; else a trim that keeps the free pages (no page faults to follow) */
        if (take(&in, 1) % 4 == 0) rmem_defrag(r, NULL);
        else rmem_heap_trim(r, 0);
        break;
      case 8: { /* usable size of anything must not crash */
        uintptr_t off = take(&in, 4) % cap;
        (void)rmem_usable_size(r, (char *)rmem_base(r) + off);
        break;
      }
    }
    if (step % FUZZ_VALIDATE_EVERY == 0 && rmem_validate(r) != 0) abort();
  }
  for (int i = 0; i < SLOTS; i++)
    if (ptr[i]) {
      check_pattern(ptr[i], len[i], tag[i]);
      if (rmem_free(r, ptr[i]) != RMEM_OK) abort();
    }
  if (rmem_validate(r) != 0) abort();
  /* the next input starts on an empty heap: everything freed and trimmed, no page kept (the free pages stay
     resident: giving them to the OS and faulting them in again would cost more than the run) */
  if (rmem_heap_trim(r, 0) != RMEM_OK || rmem_pages_in_use(r) != 0) abort();
  return 0;
}
