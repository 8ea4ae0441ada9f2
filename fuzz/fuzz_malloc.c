/*
 * fuzz_malloc.c - libFuzzer harness for the drop-in malloc layer
 * (the layer of malloc/, without its standard names) through its rmem_malloc_* names, so libFuzzer itself
 * keeps glibc's malloc.
 *
 * The input is a program: each step reads an opcode byte and its operands and
 * runs malloc, calloc, realloc, memalign, free, a bad free (a double free, an
 * interior or misaligned pointer, an address near a live block), usable size
 * of any address, or a burst of frees that overflows a thread cache. Bad frees
 * run in report-and-continue mode (RMEM_MALLOC_CONTINUE=1) and must be
 * counted as bad frees; every live block carries a pattern that is checked
 * before it is freed, and rmem_malloc_validate (R1-R5, T1-T3 and every
 * instance) runs every VALIDATE_EVERY steps, counted across inputs (the
 * layer's heap is the process's and lives on from input to input; each of its
 * instances is 1 GiB, whose pagemap the validator reads whole, so it runs
 * less often than in the other harnesses): a crash, a sanitizer report, a
 * missed bad free, a pattern mismatch or a validator problem is a finding.
 *
 * Run: npm run fuzz (stderr is closed: each reported bad free writes a line).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "rmem_malloc.h"

enum { SLOTS = 64, VALIDATE_EVERY = 8192, AUDIT_EVERY = 512 };
static unsigned long steps; /* across inputs */

static size_t bad_count(void) {
  rmem_malloc_stats_t s;
  rmem_malloc_stats(&s);
  return s.bad_frees;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  setenv("RMEM_MALLOC_CONTINUE", "1", 1);
  return 0;
}

/* Sizes weighted towards the thread caches, with page runs and huge blocks now and then. */
static size_t pick_size(input_t *in) {
  uint32_t k = take(in, 1) % 32;
  if (k < 22) return take(in, 2) % 4097;
  if (k < 31) return take(in, 3) % 300000;
  return (1u << 20) + take(in, 3) % (1u << 20); /* one in 32: each costs a mapping and faults its pages in */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unsigned char *ptr[SLOTS] = {0};
  size_t len[SLOTS] = {0};
  unsigned char tag[SLOTS] = {0};
  input_t in = {data, size};
  static size_t bad_made, bad_base = SIZE_MAX; /* across inputs: the count reads every heap, so it is compared
                                                   every 64th input (exactly: every bad free must be counted) */
  if (bad_base == SIZE_MAX) bad_base = bad_count();
  while (in.n) {
    uint32_t op = take(&in, 1);
    uint32_t slot = take(&in, 1) % SLOTS;
    switch (op % 8) {
      case 0: /* malloc */
      case 1: { /* calloc */
        if (ptr[slot]) break;
        size_t n = pick_size(&in);
        unsigned char *p = op % 8 == 0 ? rmem_malloc(n) : rmem_malloc_calloc(1, n);
        if (!p) abort(); /* nothing here is too big for the machine */
        if (op % 8 == 1) check_zero(p, n);
        if (rmem_malloc_usable_size(p) < n) abort();
        tag[slot] = (unsigned char)(op | 1);
        fill_pattern(p, n, tag[slot]);
        ptr[slot] = p;
        len[slot] = n;
        break;
      }
      case 2: { /* memalign */
        if (ptr[slot]) break;
        size_t a = (size_t)1 << (take(&in, 1) % 16);
        size_t n = take(&in, 2);
        unsigned char *p = rmem_malloc_memalign(a, n);
        if (!p || ((uintptr_t)p & (a - 1))) abort();
        tag[slot] = (unsigned char)(op | 1);
        fill_pattern(p, n, tag[slot]);
        ptr[slot] = p;
        len[slot] = n;
        break;
      }
      case 3: { /* realloc */
        if (!ptr[slot]) break;
        size_t n = 1 + pick_size(&in);
        unsigned char *q = rmem_malloc_realloc(ptr[slot], n);
        if (!q) abort();
        check_pattern(q, n < len[slot] ? n : len[slot], tag[slot]);
        fill_pattern(q, n, tag[slot]);
        ptr[slot] = q;
        len[slot] = n;
        break;
      }
      case 4: /* free */
        if (!ptr[slot]) break;
        check_pattern(ptr[slot], len[slot], tag[slot]);
        rmem_malloc_free(ptr[slot]);
        ptr[slot] = NULL;
        break;
      case 5: { /* bad free: a double free, or an address near a live block that is no live block */
        uint32_t kind = take(&in, 1) % 2;
        unsigned char *bad;
        if (kind == 0) {
          size_t n = take(&in, 2) % 4097;
          bad = rmem_malloc(n ? n : 1);
          if (!bad) abort();
          rmem_malloc_free(bad);
        } else {
          if (!ptr[slot]) break;
          bad = ptr[slot] + (int32_t)(take(&in, 3) % 200000) - 100000;
        }
        bool live = false;
        for (int i = 0; i < SLOTS; i++) live |= ptr[i] == bad;
        if (live || bad == NULL) break;
        bad_made++;
        rmem_malloc_free(bad);
        break;
      }
      case 6: { /* usable size of any address near a block must not crash */
        if (!ptr[slot]) break;
        (void)rmem_malloc_usable_size(ptr[slot] + (int32_t)(take(&in, 3) % 200000) - 100000);
        break;
      }
      case 7: { /* a burst of one size: fills a thread cache past its capacity, then frees it all (one time in
                   four; else a short one, which stays on the cache) */
        size_t n = 1 + take(&in, 2) % 4096;
        int count = take(&in, 1) % 4 == 0 ? 80 : 8;
        void *burst[80];
        for (int i = 0; i < count; i++)
          if (!(burst[i] = rmem_malloc(n))) abort();
        for (int i = 0; i < count; i++) rmem_malloc_free(burst[i]);
        break;
      }
    }
    if (++steps % VALIDATE_EVERY == 0 && rmem_malloc_validate() != 0) abort();
  }
  for (int i = 0; i < SLOTS; i++)
    if (ptr[i]) {
      check_pattern(ptr[i], len[i], tag[i]);
      rmem_malloc_free(ptr[i]);
    }
  static unsigned long inputs;
  if (++inputs % 64 == 0 && bad_count() != bad_base + bad_made) abort(); /* a bad free that went unnoticed */
  if (inputs % AUDIT_EVERY == 0 && rmem_malloc_validate() != 0) abort(); /* and every 512th input ends with one */
  return 0;
}
