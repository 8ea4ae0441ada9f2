/*
 * test_heap.c - the general heap: the seed's names, API edge cases, every
 * bad input (each followed by a validator run and a working heap), stats,
 * walk, defrag, out of memory, metadata immune to user writes, and a
 * deterministic randomized stress of 10^6 operations with pattern checks and
 * the validator after every step.
 */
#include "check.h"
#include "internal.h"
#include "platform.h"
#include "track.h"

#include <stdbool.h>

/* The heap is consistent and still works. */
static void check_intact(rmem_t *r) {
  CHECK_EQ(rmem_validate(r), 0);
  void *p = rmem_alloc(r, 40);
  CHECK(p != NULL);
  if (p) memset(p, 1, 40);
  CHECK_EQ(rmem_free(r, p), RMEM_OK);
  CHECK_EQ(rmem_validate(r), 0);
}

static void test_seed_names(void) {
  rmem_shutdown_default(); /* nothing to shut down: ENOTINIT, harmless */
  CHECK_NULL_ERR(r_alloc(16), RMEM_ENOTINIT);
  int x;
  CHECK_ERR(r_free(&x), RMEM_ENOTINIT);
  CHECK_ERR(r_defrag(), RMEM_ENOTINIT);
  CHECK_EQ(r_free(NULL), RMEM_OK);

  CHECK_EQ(init_heap(), RMEM_OK);
  rmem_t *r = rmem_default();
  CHECK(r != NULL);
  CHECK_EQ(init_heap(), RMEM_OK); /* idempotent */
  CHECK(rmem_default() == r);
  CHECK_EQ(rmem_capacity(r), RMEM_DEFAULT_CAPACITY);

  char *a = r_alloc(100), *b = r_alloc(13);
  CHECK(a && b && a != b);
  CHECK(((uintptr_t)a & 15) == 0);
  CHECK(r_usable_size(b) >= 16); /* 13 pads to 16 */
  memset(a, 0xAA, 100);
  memset(b, 0xBB, 13);
  CHECK_EQ(r_free(a), RMEM_OK);
  CHECK_EQ(r_free(b), RMEM_OK);
  CHECK_ERR(r_free(b), RMEM_EDOUBLEFREE);
  CHECK_EQ(r_defrag(), RMEM_OK);
  char *c = r_calloc(10, 10);
  CHECK(c != NULL);
  bool zero = true;
  for (int i = 0; i < 100; i++) zero &= c[i] == 0;
  CHECK(zero);
  c = r_realloc(c, 5000);
  CHECK(c != NULL);
  CHECK_EQ(c[99], 0);
  void *al = r_aligned_alloc(256, 10);
  CHECK(al && ((uintptr_t)al & 255) == 0);
  CHECK_EQ(r_free(al), RMEM_OK);
  CHECK_EQ(r_free(c), RMEM_OK);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_shutdown_default(), RMEM_OK);
  CHECK(rmem_default() == NULL);
  CHECK_NULL_ERR(r_alloc(16), RMEM_ENOTINIT);
  CHECK_EQ(init_heap(), RMEM_OK); /* starts afresh */
  CHECK(r_alloc(16) != NULL);
  CHECK_EQ(rmem_shutdown_default(), RMEM_OK);
}

static void test_create_options(void) {
  rmem_options_t o = {.capacity = RMEM_MIN_CAPACITY - 1};
  CHECK_NULL_ERR(rmem_create(&o), RMEM_EINVAL);
  o.capacity = RMEM_MAX_CAPACITY + 1;
  CHECK_NULL_ERR(rmem_create(&o), RMEM_EINVAL);
  o.capacity = RMEM_MIN_CAPACITY;
  o.flags = 0x80;
  CHECK_NULL_ERR(rmem_create(&o), RMEM_EINVAL);
  o.flags = 0;
  o.capacity = RMEM_MAX_CAPACITY; /* 4 GiB of address space, committed lazily */
  rmem_t *r = rmem_create(&o);
  CHECK(r != NULL);
  if (r) {
    CHECK_EQ(rmem_capacity(r), RMEM_MAX_CAPACITY);
    void *p = rmem_alloc(r, (size_t)3 << 30); /* 3 GiB, untouched */
    CHECK(p != NULL);
    CHECK(rmem_offset(r, p) + ((size_t)3 << 30) < RMEM_MAX_CAPACITY); /* end offsets fit in 32 bits */
    CHECK_EQ(rmem_free(r, p), RMEM_OK);
    check_intact(r);
    rmem_destroy(r);
  }
  /* offset 0 and the last page are never handed out */
  o.capacity = RMEM_MIN_CAPACITY;
  r = rmem_create(&o);
  CHECK(r != NULL);
  size_t n = 0;
  void *p;
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  void *keep[1024];
  while ((p = rmem_alloc(r, 4096)) != NULL && n < 1024) {
    keep[n++] = p;
    if ((uintptr_t)p < lo) lo = (uintptr_t)p;
    if ((uintptr_t)p > hi) hi = (uintptr_t)p;
  }
  CHECK(lo >= (uintptr_t)rmem_base(r) + RMEM_PAGE_SIZE);
  CHECK(hi + 4096 <= (uintptr_t)rmem_base(r) + rmem_capacity(r) - RMEM_PAGE_SIZE);
  CHECK_EQ(rmem_offset(r, NULL), 0);
  for (size_t i = 0; i < n; i++) rmem_free(r, keep[i]);
  check_intact(r);
  rmem_destroy(r);
}

static void test_sizes_and_alignment(rmem_t *r) {
  /* every size up to 40000: usable >= padded size, alignment, fully writable, disjoint */
  enum { N = 40000 };
  static unsigned char *blocks[N + 1];
  for (size_t s = 1; s <= N; s += (s < 4200 ? 1 : 97)) {
    unsigned char *p = rmem_alloc(r, s);
    blocks[s] = p;
    if (!p) {
      CHECK(p != NULL);
      continue;
    }
    size_t u = rmem_usable_size(r, p);
    size_t padded = (s + 7) & ~(size_t)7;
    if (u < padded) CHECK(u >= padded);
    if (s > 8 && ((uintptr_t)p & 15) != 0) CHECK(((uintptr_t)p & 15) == 0);
    if (((uintptr_t)p & 7) != 0) CHECK(((uintptr_t)p & 7) == 0);
    memset(p, (int)(s & 0xFF), u);
  }
  size_t bad = 0;
  for (size_t s = 1; s <= N; s++) {
    if (!blocks[s]) continue;
    for (size_t i = 0; i < s; i++)
      if (blocks[s][i] != (unsigned char)(s & 0xFF)) {
        bad++;
        break;
      }
  }
  CHECK_EQ(bad, 0);
  CHECK_EQ(rmem_validate(r), 0);
  for (size_t s = 1; s <= N; s++)
    if (blocks[s]) CHECK_EQ(rmem_free(r, blocks[s]), RMEM_OK);
  check_intact(r);
}

static void test_bad_input(rmem_t *r) {
  rmem_t *other = rmem_create(NULL);
  CHECK(other != NULL);
  char *p = rmem_alloc(r, 100);
  char *big = rmem_alloc(r, 100000);
  CHECK(p && big);
  int stack_var;

  /* pointers that are not heap blocks */
  CHECK_ERR(rmem_free(r, &stack_var), RMEM_EBADPTR);
  CHECK_ERR(rmem_free(r, (void *)0x1234), RMEM_EBADPTR);
  CHECK_ERR(rmem_free(r, (void *)UINTPTR_MAX), RMEM_EBADPTR);
  CHECK_ERR(rmem_free(r, rmem_base(r)), RMEM_EBADPTR);                 /* page 0 */
  CHECK_ERR(rmem_free(r, (char *)rmem_base(r) + rmem_capacity(r) - 8), RMEM_EBADPTR); /* last page */
  CHECK_ERR(rmem_free(other, (char *)rmem_base(other) + rmem_capacity(other) - 4096 * 100), RMEM_EBADPTR); /* never used */
  CHECK_ERR(rmem_free(r, p + 1), RMEM_EBADPTR);                       /* interior */
  CHECK_ERR(rmem_free(r, p + 16), RMEM_EBADPTR);
  CHECK_ERR(rmem_free(r, big + 4096), RMEM_EBADPTR);                  /* interior of a large block */
  CHECK_ERR(rmem_free(r, big + 8), RMEM_EBADPTR);
  void *theirs = rmem_alloc(other, 100);
  CHECK_ERR(rmem_free(r, theirs), RMEM_EBADPTR);                      /* another instance's block */
  CHECK_ERR(rmem_free(other, p), RMEM_EBADPTR);
  check_intact(r);

  /* double frees */
  CHECK_EQ(rmem_free(r, p), RMEM_OK);
  CHECK_ERR(rmem_free(r, p), RMEM_EDOUBLEFREE);
  CHECK_EQ(rmem_free(r, big), RMEM_OK);
  CHECK_ERR(rmem_free(r, big), RMEM_EDOUBLEFREE);
  /* a pointer into a freed large block is no double free (issue 13): not at its start, before and after the
     pages merge with a freed neighbour; when they are handed out again, it is whatever lives there */
  CHECK_ERR(rmem_free(r, big + 4096), RMEM_EBADPTR);
  CHECK_ERR(rmem_free(r, big + 8 * 4096), RMEM_EBADPTR);
  CHECK_ERR(rmem_free(r, big + 100), RMEM_EBADPTR);
  CHECK(strstr(rmem_last_error_message(), "free pages") != NULL);
  char *big2 = rmem_alloc(r, 200000), *big3 = rmem_alloc(r, 200000);
  CHECK(big2 && big3);
  CHECK_EQ(rmem_free(r, big2), RMEM_OK);
  CHECK_EQ(rmem_free(r, big3), RMEM_OK); /* merges with big2's pages */
  CHECK_ERR(rmem_free(r, big3 + 4096), RMEM_EBADPTR);
  CHECK_ERR(rmem_free(r, big2 + 4096 * 3), RMEM_EBADPTR);
  CHECK_ERR(rmem_free(r, big3), RMEM_EDOUBLEFREE);
  CHECK_ERR(rmem_free(r, big2), RMEM_EDOUBLEFREE);
  CHECK_EQ(rmem_validate(r), 0);
  check_intact(r);

  /* sizes */
  CHECK_NULL_ERR(rmem_alloc(r, 0), RMEM_EINVAL);
  CHECK_NULL_ERR(rmem_alloc(r, SIZE_MAX), RMEM_ERANGE);
  CHECK_NULL_ERR(rmem_alloc(r, SIZE_MAX - 4), RMEM_ERANGE);
  CHECK_NULL_ERR(rmem_alloc(r, SIZE_MAX - 7), RMEM_ERANGE);
  CHECK_NULL_ERR(rmem_alloc(r, rmem_capacity(r)), RMEM_ENOMEM);
  CHECK_NULL_ERR(rmem_calloc(r, SIZE_MAX / 2, 3), RMEM_ERANGE);
  CHECK_NULL_ERR(rmem_calloc(r, 0, 0), RMEM_EINVAL);
  CHECK_NULL_ERR(rmem_aligned_alloc(r, 3, 16), RMEM_EINVAL);
  CHECK_NULL_ERR(rmem_aligned_alloc(r, 0, 16), RMEM_EINVAL);
  CHECK_NULL_ERR(rmem_aligned_alloc(r, 64, 0), RMEM_EINVAL);
  CHECK_NULL_ERR(rmem_aligned_alloc(r, (size_t)1 << 31, 16), RMEM_EINVAL);
  CHECK_NULL_ERR(rmem_aligned_alloc(r, 16, SIZE_MAX), RMEM_ERANGE);
  check_intact(r);

  /* realloc: failures leave the block alone */
  char *q = rmem_alloc(r, 64);
  memset(q, 7, 64);
  CHECK_NULL_ERR(rmem_realloc(r, q, 0), RMEM_EINVAL);
  CHECK_NULL_ERR(rmem_realloc(r, q, SIZE_MAX), RMEM_ERANGE);
  CHECK_NULL_ERR(rmem_realloc(r, q + 8, 128), RMEM_EBADPTR);
  CHECK_NULL_ERR(rmem_realloc(r, q, rmem_capacity(r)), RMEM_ENOMEM);
  CHECK_EQ(q[63], 7);
  CHECK_EQ(rmem_usable_size(r, q), 64);
  CHECK_EQ(rmem_free(r, q), RMEM_OK);
  /* a freed block is "not a live block" to every call but free: only a free can be a double free */
  CHECK_NULL_ERR(rmem_realloc(r, q, 128), RMEM_EBADPTR);
  rmem_clear_error();
  CHECK_EQ(rmem_usable_size(r, q), 0);
  CHECK_EQ(rmem_last_error(), RMEM_EBADPTR);
  CHECK_ERR(rmem_free(r, q), RMEM_EDOUBLEFREE);
  CHECK_EQ(rmem_usable_size(r, NULL), 0);
  check_intact(r);

  /* handles */
  CHECK_NULL_ERR(rmem_alloc(NULL, 8), RMEM_ENOTINIT);
  CHECK_ERR(rmem_free(NULL, p), RMEM_ENOTINIT);
  CHECK_ERR(rmem_defrag(NULL, NULL), RMEM_ENOTINIT);
  CHECK_ERR(rmem_heap_stats(r, NULL), RMEM_EINVAL);
  CHECK_ERR(rmem_heap_walk(r, NULL, NULL), RMEM_EINVAL);
  CHECK_ERR(rmem_destroy(NULL), RMEM_ENOTINIT);
  CHECK_EQ(rmem_destroy(other), RMEM_OK);
  CHECK_NULL_ERR(rmem_alloc(other, 8), RMEM_ENOTINIT); /* destroyed instance: recognised, not followed */
  CHECK_ERR(rmem_free(other, theirs), RMEM_ENOTINIT);
  CHECK_ERR(rmem_destroy(other), RMEM_ENOTINIT);
  check_intact(r);
}

static void test_realloc_and_aligned(rmem_t *r) {
  unsigned char *p = rmem_alloc(r, 10);
  for (int i = 0; i < 10; i++) p[i] = (unsigned char)i;
  size_t sizes[] = {20, 100, 1000, 40000, 200000, 100000, 300000, 50, 5};
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
    p = rmem_realloc(r, p, sizes[k]);
    CHECK(p != NULL);
    bool ok = true;
    for (int i = 0; i < 5; i++) ok &= p[i] == i;
    CHECK(ok);
    CHECK(rmem_usable_size(r, p) >= sizes[k]);
    CHECK_EQ(rmem_validate(r), 0);
  }
  rmem_free(r, p);
  /* a large block grows in place when the pages after it are free, and shrinks in place */
  rmem_t *fresh = rmem_create(NULL);
  unsigned char *big = rmem_alloc(fresh, 100000);
  unsigned char *grown = rmem_realloc(fresh, big, 200000);
  CHECK(grown == big);
  CHECK(rmem_realloc(fresh, grown, 50000) == big);
  CHECK_EQ(rmem_usable_size(fresh, big), 53248);
  CHECK_EQ(rmem_validate(fresh), 0);
  rmem_destroy(fresh);

  /* every alignment rmem.h promises that fits this 1 GiB instance (up to 256 MiB), at every size class
     (each class's first and last size) and at page-run sizes (issue 13 #4: above 2 MiB it was ignored) */
  size_t csizes[128], ns = 0;
  for (size_t s = 1; s <= RMEM_SMALL_MAX && ns < 110;) {
    void *c = rmem_alloc(r, s);
    size_t u = rmem_usable_size(r, c);
    rmem_free(r, c);
    csizes[ns++] = s;
    csizes[ns++] = u;
    s = u + 1;
  }
  size_t large[] = {RMEM_SMALL_MAX + 1, 65536, 100000, (size_t)3 << 20};
  for (size_t k = 0; k < sizeof large / sizeof large[0]; k++) csizes[ns++] = large[k];
  for (size_t a = 1; a <= ((size_t)256 << 20); a <<= 1) {
    for (size_t k = 0; k < ns; k++) {
      size_t s = csizes[k];
      if (a >= ((size_t)4 << 20) && k % 7 != 0 && k < ns - 4) continue; /* the widest alignments: every 7th class */
      void *q = rmem_aligned_alloc(r, a, s);
      CHECK(q != NULL);
      if (((uintptr_t)q & (a - 1)) != 0) CHECK(((uintptr_t)q & (a - 1)) == 0);
      if (q) memset(q, 1, s);
      CHECK(rmem_usable_size(r, q) >= s);
      CHECK_EQ(rmem_free(r, q), RMEM_OK);
    }
  }
  CHECK_NULL_ERR(rmem_aligned_alloc(r, (size_t)1 << 30, 64), RMEM_ENOMEM); /* promised, but not in 1 GiB */
  for (size_t a = 1; a <= ((size_t)1 << 20); a <<= 1) {
    for (size_t s = 1; s <= 70000; s = s * 3 + 1) {
      void *q = rmem_aligned_alloc(r, a, s);
      CHECK(q != NULL);
      if (((uintptr_t)q & (a - 1)) != 0) CHECK(((uintptr_t)q & (a - 1)) == 0);
      if (q) memset(q, 1, s);
      CHECK(rmem_usable_size(r, q) >= s);
      CHECK_EQ(rmem_free(r, q), RMEM_OK);
    }
  }
  check_intact(r);
}

typedef struct walk_acc {
  size_t expect_next;
  size_t used, free, other, blocks;
  bool ordered;
} walk_acc_t;

static int walk_fn(const rmem_block_info_t *b, void *arg) {
  walk_acc_t *w = arg;
  if (b->offset != w->expect_next) w->ordered = false;
  w->expect_next = b->offset + b->size;
  w->blocks++;
  if (b->state == RMEM_BLOCK_USED) w->used += b->size;
  else if (b->state == RMEM_BLOCK_FREE) w->free += b->size;
  else if (b->state == RMEM_BLOCK_OTHER) w->other += b->size;
  return 0;
}

static void test_stats_walk_defrag(void) {
  rmem_t *r = rmem_create(NULL);
  void *ps[3000];
  for (int i = 0; i < 3000; i++) ps[i] = rmem_alloc(r, (size_t)(i % 7 == 0 ? 50000 : 24 + (i % 50) * 24));
  for (int i = 0; i < 3000; i++) memset(ps[i], 1, rmem_usable_size(r, ps[i]));
  rmem_heap_stats_t hs;
  CHECK_EQ(rmem_heap_stats(r, &hs), RMEM_OK);
  CHECK_EQ(hs.live_blocks, 3000);
  CHECK_EQ(hs.allocs, 3000);
  size_t used = 0;
  for (int i = 0; i < 3000; i++) used += rmem_usable_size(r, ps[i]);
  CHECK_EQ(hs.used, used);
  CHECK(hs.fragmentation >= 0.0 && hs.fragmentation <= 1.0);

  walk_acc_t w = {.expect_next = RMEM_PAGE_SIZE, .ordered = true};
  CHECK_EQ(rmem_heap_walk(r, walk_fn, &w), RMEM_OK);
  CHECK(w.ordered);
  CHECK_EQ(w.expect_next, rmem_capacity(r) - RMEM_PAGE_SIZE); /* every byte of the usable range, once */
  CHECK_EQ(w.used, used);
  CHECK_EQ(w.other, 0);

  /* free every other block, then everything: defrag merges and returns pages */
  for (int i = 0; i < 3000; i += 2) rmem_free(r, ps[i]);
  CHECK_EQ(rmem_validate(r), 0);
  for (int i = 1; i < 3000; i += 2) rmem_free(r, ps[i]);
  rmem_stats_t before, after;
  rmem_stats(r, &before);
  rmem_defrag_report_t rep;
  CHECK_EQ(rmem_defrag(r, &rep), RMEM_OK);
  CHECK(rep.slabs_released > 0);
  CHECK(rep.merged > 0);
  CHECK_EQ(rep.bytes_released, rep.pages_released * RMEM_PAGE_SIZE);
  rmem_stats(r, &after);
  CHECK(after.resident < before.resident);
  CHECK(after.resident <= 64 * 1024); /* everything went back to the OS */
  CHECK_EQ(after.pages_in_use, 0);
  CHECK_EQ(rmem_heap_stats(r, &hs), RMEM_OK);
  CHECK_EQ(hs.live_blocks, 0);
  CHECK_EQ(hs.slabs, 0);
  CHECK_EQ(hs.fragmentation, 0.0); /* one free run: nothing is fragmented */
  CHECK_EQ(hs.frees, 3000);
  /* refused frees are not counted */
  void *once = rmem_alloc(r, 32);
  rmem_free(r, once);
  rmem_free(r, once);
  rmem_free(r, (char *)once + 8);
  CHECK_EQ(rmem_heap_stats(r, &hs), RMEM_OK);
  CHECK_EQ(hs.frees, 3001);
  CHECK_EQ(hs.allocs, 3001);
  check_intact(r);
  rmem_destroy(r);
}

static void test_out_of_memory(void) {
  rmem_options_t o = {.capacity = RMEM_MIN_CAPACITY};
  rmem_t *r = rmem_create(&o);
  void *ps[100000];
  size_t n = 0;
  for (;;) {
    void *p = rmem_alloc(r, 200);
    if (!p) break;
    ps[n++] = p;
  }
  CHECK_EQ(rmem_last_error(), RMEM_ENOMEM);
  CHECK(n > 4000); /* ~1 MiB of 208-byte slots */
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_NULL_ERR(rmem_alloc(r, 100000), RMEM_ENOMEM);
  for (size_t i = 0; i < n; i++) CHECK_EQ(rmem_free(r, ps[i]), RMEM_OK);
  /* the empty slabs go back so a large block fits again */
  void *big = rmem_alloc(r, 900000);
  CHECK(big != NULL);
  rmem_free(r, big);
  check_intact(r);
  rmem_destroy(r);
}

/* Metadata is out of band: scribbling over all user memory changes nothing the heap relies on. */
static void test_user_writes_cannot_corrupt(void) {
  rmem_t *r = rmem_create(&(rmem_options_t){.flags = RMEM_OPT_NO_TRACK}); /* the writes hit free memory on purpose */
  void *ps[2000];
  for (int i = 0; i < 2000; i++) ps[i] = rmem_alloc(r, (size_t)(16 + (i % 100) * 40));
  for (int i = 0; i < 2000; i += 3) rmem_free(r, ps[i]);
  rmem_stats_t st;
  rmem_stats(r, &st);
  /* overwrite every byte handed out so far, free slots included */
  memset((char *)rmem_base(r) + RMEM_PAGE_SIZE, 0xFF, st.pages_in_use + st.pages_free);
  CHECK_EQ(rmem_validate(r), 0);
  /* allocations still come out distinct and the frees still check */
  void *again[700];
  int n = 0;
  for (int i = 0; i < 2000; i += 3) again[n++] = rmem_alloc(r, (size_t)(16 + (i % 100) * 40));
  for (int i = 0; i < n; i++)
    for (int j = 1; j < 2000; j++)
      if (j % 3 != 0 && again[i] == ps[j]) CHECK(again[i] != ps[j]);
  for (int i = 0; i < n; i++) CHECK_EQ(rmem_free(r, again[i]), RMEM_OK);
  for (int i = 0; i < 2000; i++)
    if (i % 3 != 0) CHECK_EQ(rmem_free(r, ps[i]), RMEM_OK);
  check_intact(r);
  rmem_destroy(r);
}

/* Damage to the metadata itself (a C bug writing out of bounds) is found by the validator. */
static void test_validator_finds_damage(void) {
  rmem_t *r = rmem_create(NULL);
  void *p = rmem_alloc(r, 64);
  void *big = rmem_alloc(r, 100000);
  rmem_pme_t *pme = rmem_pme_of(r, (uintptr_t)p);
  rmem_slab_t *s = rmem_slab_of(r, pme);

  uint64_t saved = s->bits[0];
  s->bits[0] ^= 2; /* a slot's state flips */
  CHECK(rmem_validate(r) > 0);
  CHECK_EQ(rmem_last_error(), RMEM_ECORRUPT);
  s->bits[0] = saved;
  CHECK_EQ(rmem_validate(r), 0);

  /* S1: the bitmap of a slab of 1 KiB blocks (16 slots) is its descriptor's own; of the 64-byte class's
     (1,024 slots), a record of the bitmap pool; a bitmap address that is neither is found */
  CHECK(s->nslots > 256 && s->bits_index != 0 && s->bits == rmem_pool_at(&r->slab_bits, s->bits_index));
  void *kb = rmem_alloc(r, 1024);
  rmem_slab_t *ks = rmem_slab_of(r, rmem_pme_of(r, (uintptr_t)kb));
  CHECK(ks->nslots <= 256 && ks->bits == ks->inline_bits && ks->bits_index == 0);
  uint64_t *bits = ks->bits;
  ks->bits = s->bits;
  CHECK(rmem_validate(r) > 0);
  ks->bits = bits;
  s->bits_index++;
  CHECK(rmem_validate(r) > 0);
  s->bits_index--;
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_free(r, kb), RMEM_OK);

  uint32_t used = s->used;
  s->used = 999;
  CHECK(rmem_validate(r) > 0);
  s->used = used;

  rmem_pme_t *bp = rmem_pme_of(r, (uintptr_t)big);
  uint32_t len = bp->len;
  bp->len = len + 5; /* a run header lies */
  CHECK(rmem_validate(r) > 0);
  bp->len = len;

  uint8_t kind = pme->kind;
  pme->kind = RMEM_PK_FREE;
  CHECK(rmem_validate(r) > 0);
  pme->kind = kind;

  uint32_t fp = r->free_pages;
  r->free_pages += 3;
  CHECK(rmem_validate(r) > 0);
  r->free_pages = fp;
  CHECK_EQ(rmem_validate(r), 0);
  rmem_free(r, p);
  rmem_free(r, big);
  check_intact(r);
  rmem_destroy(r);
}

/*
 * Deterministic randomized stress: 10^6 operations, a pattern in every block
 * checked before it is freed or resized, the full validator after every step
 * (every 16th step under the sanitizers and valgrind, which make each walk
 * ~5x and ~15x slower).
 */
#if defined(__SANITIZE_ADDRESS__) || (defined(RMEM_VALGRIND) && RMEM_VALGRIND)
/* under valgrind too: the walks took 225 of the 247 s of its run (22 s now); the plain run validates every step */
#define STRESS_VALIDATE_EVERY 16
#else
#define STRESS_VALIDATE_EVERY 1
#endif
/* Under valgrind (about 15x slower) a tenth of the steps, so the valgrind run of every test stays minutes. */
#if defined(RMEM_VALGRIND) && RMEM_VALGRIND
#define STRESS_OPS 100000
#else
#define STRESS_OPS 1000000
#endif
/*
 * A burst of frees longer than a class's stack (F4: at most 255) waits in its depot (F6) and comes
 * back, newest first, to the allocations that follow: the same blocks, none through the slab engine,
 * the validator clean after every step; a trim or a defrag empties the depot into the slabs; damage
 * to a depot's count or to an offset in it is found.
 */
static void test_depot(void) {
  rmem_t *r = rmem_create(NULL);
  enum { N = 2000 };
  static void *ps[N];
  for (int i = 0; i < N; i++) {
    ps[i] = rmem_alloc(r, 32);
    CHECK(ps[i] != NULL);
  }
  rmem_heap_t *h = &r->heap;
  uint32_t t = r->heap.front.tag_of[32 / 8];
  rmem_heap_stats_t hs;
  CHECK_EQ(rmem_heap_stats(r, &hs), RMEM_OK);
  size_t spare = hs.cached; /* the last refill's blocks not handed out */
  CHECK_EQ(spare, h->front.n[t]);
  CHECK(h->dcap[t] >= 1024);
  size_t problems = 0;
  for (int i = 0; i < N; i++) {
    CHECK_EQ(rmem_free(r, ps[i]), RMEM_OK);
    problems += rmem_validate(r);
  }
  CHECK_EQ(problems, 0);
  CHECK(h->dn[t] > 0);
  CHECK_EQ(rmem_heap_stats(r, &hs), RMEM_OK);
  CHECK_EQ(hs.live_blocks, 0);
  CHECK_EQ((size_t)h->front.n[t] + h->dn[t], spare + N); /* every block freed waits on the stack or in the depot */
  CHECK_EQ(hs.cached, spare + N);
  /* the same blocks come back: a double free of any is still refused (its live bit is clear) */
  CHECK_EQ(rmem_free(r, ps[7]), RMEM_EDOUBLEFREE);
  static void *qs[N];
  size_t same = 0;
  for (int i = 0; i < N; i++) {
    qs[i] = rmem_alloc(r, 32);
    CHECK(qs[i] != NULL);
    problems += rmem_validate(r);
  }
  CHECK_EQ(problems, 0);
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++)
      if (qs[i] == ps[j]) {
        same++;
        break;
      }
  CHECK_EQ(same, N);
  CHECK_EQ(h->dn[t], 0);
  /* free them again, damage the depot, and the validator says so */
  for (int i = 0; i < N; i++) rmem_free(r, qs[i]);
  CHECK(h->dn[t] > 2);
  uint16_t dn = h->dn[t];
  h->dn[t] = (uint16_t)(h->dcap[t] + 1);
  CHECK(rmem_validate(r) > 0);
  h->dn[t] = dn;
  CHECK_EQ(rmem_validate(r), 0);
  /* the oldest block freed went to the depot first: find its offset there (the rows of the three
     smallest classes are 2,048 long), then make it name a live block */
  uint32_t old = (uint32_t)((uintptr_t)qs[0] - r->base), *slot = NULL;
  for (uint32_t k = 0; k < 3 * RMEM_DEPOT_CAP && !slot; k++)
    if (h->depot[k] == old) slot = &h->depot[k];
  CHECK(slot != NULL);
  if (slot) {
    void *x = rmem_alloc(r, 32);
    *slot = (uint32_t)((uintptr_t)x - r->base);
    CHECK(rmem_validate(r) > 0);
    *slot = old;
    CHECK_EQ(rmem_validate(r), 0);
    rmem_free(r, x);
  }
  CHECK_EQ(rmem_heap_trim(r, 0), RMEM_OK);
  CHECK_EQ(h->dn[t], 0);
  CHECK_EQ(h->front.n[t], 0);
  CHECK_EQ(rmem_heap_stats(r, &hs), RMEM_OK);
  CHECK_EQ(hs.cached, 0);
  check_intact(r);
  rmem_destroy(r);
}

/* RMEM_OPT_ALIGN16: sizes 1..8 get 16-byte blocks, fast path and slow path alike; every block is 16-aligned. */
static void test_align16(void) {
  rmem_options_t o = {0, RMEM_OPT_ALIGN16};
  rmem_t *r = rmem_create(&o), *plain = rmem_create(NULL);
  CHECK(r != NULL && plain != NULL);
  void *q = rmem_alloc(plain, 8);
  CHECK_EQ(rmem_usable_size(plain, q), 8); /* without the option the 8-byte class serves */
  CHECK_EQ(rmem_free(plain, q), RMEM_OK);
  enum { N = 3000 };
  static void *ps[N];
  size_t problems = 0;
  for (int i = 0; i < N; i++) {
    size_t n = 1 + (size_t)(i % 300);
    ps[i] = rmem_alloc(r, n); /* the first of each size takes the slow path (a refill), the rest the fast one */
    CHECK(ps[i] != NULL);
    CHECK_EQ((uintptr_t)ps[i] & 15, 0);
    CHECK(rmem_usable_size(r, ps[i]) >= (n < 16 ? 16 : n));
    if (i % 97 == 0) problems += rmem_validate(r);
  }
  for (int i = 0; i < N; i += 2) CHECK_EQ(rmem_free(r, ps[i]), RMEM_OK);
  void *p = rmem_realloc(r, ps[1], 3); /* a shrink stays 16 long */
  CHECK(p != NULL && rmem_usable_size(r, p) >= 16 && ((uintptr_t)p & 15) == 0);
  ps[1] = p;
  p = rmem_calloc(r, 1, 1);
  CHECK(p != NULL && ((uintptr_t)p & 15) == 0 && rmem_usable_size(r, p) == 16);
  CHECK_EQ(rmem_free(r, p), RMEM_OK);
  for (int i = 1; i < N; i += 2) CHECK_EQ(rmem_free(r, ps[i]), RMEM_OK);
  CHECK_EQ(problems + rmem_validate(r), 0);
  CHECK_EQ(rmem_free(r, ps[4]), RMEM_EDOUBLEFREE);
  rmem_heap_stats_t hs;
  CHECK_EQ(rmem_heap_stats(r, &hs), RMEM_OK);
  CHECK_EQ(hs.live_blocks, 0);
  rmem_destroy(r);
  rmem_destroy(plain);
  /* an unknown flag is still refused */
  rmem_options_t bad = {0, 0x100u};
  CHECK(rmem_create(&bad) == NULL && rmem_last_error() == RMEM_EINVAL);
}

/* A class nobody uses gives its front and its emptied slabs back (heap.c IDLE_EVERY) while another class
   churns through refills and spills; the churning class keeps its own. */
static void test_idle_class(void) {
  rmem_t *r = rmem_create(NULL);
  enum { N = 3000, M = 600 };
  static void *ps[N], *qs[M];
  for (int i = 0; i < N; i++) ps[i] = rmem_alloc(r, 64);
  for (int i = 0; i < N; i++) CHECK_EQ(rmem_free(r, ps[i]), RMEM_OK);
  rmem_heap_t *h = &r->heap;
  uint32_t t = h->front.tag_of[64 / 8], u = h->front.tag_of[1024 / 8];
  CHECK(h->front.n[t] + h->dn[t] > 500);
  CHECK(h->cls[t - 1].slabs > 0);
  rmem_heap_stats_t before, hs;
  CHECK_EQ(rmem_heap_stats(r, &before), RMEM_OK);
  size_t problems = 0;
  /* every round of M 1 KiB blocks refills and spills the 1 KiB stack (63 blocks) about 20 times */
  for (int round = 0; round < 200; round++) {
    for (int i = 0; i < M; i++) {
      qs[i] = rmem_alloc(r, 1024);
      CHECK(qs[i] != NULL);
    }
    for (int i = 0; i < M; i++) CHECK_EQ(rmem_free(r, qs[i]), RMEM_OK);
    if ((round & 15) == 0) problems += rmem_validate(r);
  }
  CHECK_EQ(problems, 0);
  CHECK_EQ(rmem_validate(r), 0);
  /* the 64-byte class was idle: its blocks went back to their slabs, and its empty slabs to the page source */
  CHECK_EQ(h->front.n[t], 0);
  CHECK_EQ(h->dn[t], 0);
  CHECK_EQ(h->cls[t - 1].slabs, 0);
  CHECK(h->front.n[u] > 0); /* the churning class still has its stack */
  CHECK_EQ(rmem_heap_stats(r, &hs), RMEM_OK);
  CHECK_EQ(hs.live_blocks, 0);
  CHECK(hs.cached < before.cached);
  /* its blocks lie in free pages now: freeing one of them again is refused, and nothing changes */
  CHECK_EQ(rmem_free(r, ps[5]), RMEM_EBADPTR);
  CHECK_EQ(rmem_validate(r), 0);
  /* and the class works as before */
  void *p = rmem_alloc(r, 64);
  CHECK(p != NULL);
  CHECK_EQ(rmem_free(r, p), RMEM_OK);
  check_intact(r);
  rmem_destroy(r);
}

static void test_stress(void) {
  rmem_options_t o = {.capacity = (size_t)16 << 20};
  rmem_t *r = rmem_create(&o);
  enum { SLOTS = 128, OPS = STRESS_OPS };
  static unsigned char *ptr[SLOTS];
  static size_t len[SLOTS];
  static unsigned char tag[SLOTS];
  uint64_t rng = 42;
  size_t pattern_errors = 0, failures = 0, validate_problems = 0;
  for (long op = 0; op < OPS; op++) {
    uint64_t x = check_rand(&rng);
    unsigned i = (unsigned)(x % SLOTS);
    unsigned kind = (unsigned)((x >> 16) % 100);
    if (ptr[i]) {
      /* check the pattern, then free or realloc */
      for (size_t k = 0; k < len[i]; k += (len[i] > 256 ? 61 : 1))
        if (ptr[i][k] != tag[i]) {
          pattern_errors++;
          break;
        }
      if (ptr[i][len[i] - 1] != tag[i]) pattern_errors++;
      if (kind < 15) {
        size_t n = 1 + (size_t)((x >> 24) % 3000);
        unsigned char *q = rmem_realloc(r, ptr[i], n);
        if (!q) failures++;
        else {
          ptr[i] = q;
          memset(q, tag[i], n);
          len[i] = n;
        }
      } else {
        if (rmem_free(r, ptr[i]) != RMEM_OK) failures++;
        ptr[i] = NULL;
      }
    } else {
      size_t n;
      if (kind < 70) n = 1 + (size_t)((x >> 24) % 256);
      else if (kind < 95) n = 1 + (size_t)((x >> 24) % 8192);
      else if (kind < 99) n = 1 + (size_t)((x >> 24) % 100000);
      else n = 1 + (size_t)((x >> 24) % 300000);
      unsigned char *p = (kind & 1) ? rmem_alloc(r, n) : rmem_aligned_alloc(r, (size_t)16 << ((x >> 40) % 6), n);
      if (!p) {
        failures++;
        continue;
      }
      tag[i] = (unsigned char)(x >> 56) | 1;
      memset(p, tag[i], n);
      ptr[i] = p;
      len[i] = n;
    }
    if (op % STRESS_VALIDATE_EVERY == 0) validate_problems += rmem_validate(r);
    if (op % 100000 == 99999) {
      rmem_defrag_report_t rep;
      rmem_defrag(r, &rep);
    }
  }
  CHECK_EQ(pattern_errors, 0);
  CHECK_EQ(failures, 0);
  CHECK_EQ(validate_problems, 0);
  for (unsigned i = 0; i < SLOTS; i++)
    if (ptr[i]) CHECK_EQ(rmem_free(r, ptr[i]), RMEM_OK);
  rmem_heap_stats_t hs;
  rmem_heap_stats(r, &hs);
  CHECK_EQ(hs.live_blocks, 0);
  check_intact(r);
  rmem_destroy(r);
}

#define TIMED(call)                                                   \
  do {                                                                \
    double t0_ = check_now_s();                                       \
    call;                                                             \
    if (getenv("RMEM_TEST_TIMES")) fprintf(stderr, "%-40s %.2f s\n", #call, check_now_s() - t0_); \
  } while (0)

/*
 * A binding's front (rmem_front_layout's rules: it pops and pushes without the copy of the newest entry
 * that C keeps, top) mixed with rmem_alloc / rmem_free on the same classes: C's pops find the copy stale
 * and take the stack's truth, no block goes out twice, the patterns hold, the validator finds nothing.
 */
static void test_binding_front_mix(void) {
  rmem_t *r = rmem_create(&(rmem_options_t){.capacity = 64 << 20});
  CHECK(r != NULL);
  rmem_front_layout_t fl;
  CHECK_EQ(rmem_front_layout(r, &fl), RMEM_OK);
  /* a build with the tools' marks (ASan) has no binding fast paths: C alone then */
  CHECK_EQ(fl.fast, RMEM_TRACK_ENABLED ? 0 : 1);
  enum { LIVE = 512 };
  static uint32_t off[LIVE], len[LIVE];
  uint64_t seed = 99;
  char *base = rmem_base(r);
  for (int i = 0; i < LIVE; i++) len[i] = 0;
  for (int step = 0; step < 60000; step++) {
    int i = (int)(check_rand(&seed) % LIVE);
    bool binding = (check_rand(&seed) & 1) && fl.fast;
    if (len[i]) { /* free it */
      bool done = false;
      CHECK((unsigned char)base[off[i]] == (unsigned char)(i + len[i]) && (unsigned char)base[off[i] + len[i] - 1] == (unsigned char)i);
      if (binding) {
        uint32_t o = off[i], t = fl.tags[o >> 12];
        uint64_t *w = &fl.live[o >> 9], bit = (uint64_t)1 << ((o >> 3) & 63);
        if ((*w & bit) && t >= 1 && t <= fl.nclasses && fl.n[t] < fl.cap[t]) {
          *w &= ~bit;
          fl.stacks[t * fl.stride + fl.n[t]] = o;
          fl.n[t]++;
          done = true;
        }
      }
      if (!done) CHECK_EQ(rmem_free(r, base + off[i]), RMEM_OK);
      len[i] = 0;
    } else { /* allocate it: 8..512 bytes, a few classes, so C and the binding share stacks */
      uint32_t size = 8 + (uint32_t)(check_rand(&seed) % 8) * 64;
      char *p = NULL;
      if (binding) {
        uint32_t t = fl.tag_of[(size + 7) >> 3];
        if (fl.n[t] > 0) {
          fl.n[t]--;
          uint32_t o = fl.stacks[t * fl.stride + fl.n[t]];
          fl.live[o >> 9] |= (uint64_t)1 << ((o >> 3) & 63);
          p = base + o;
        }
      }
      if (!p) p = rmem_alloc(r, size);
      CHECK(p != NULL);
      if (!p) break;
      off[i] = (uint32_t)(p - base);
      len[i] = size;
      for (int k = 0; k < LIVE; k++) CHECK(k == i || len[k] == 0 || off[k] != off[i]); /* not out twice */
      p[0] = (char)(i + size);
      p[size - 1] = (char)i;
    }
    if (step % 4096 == 0) CHECK_EQ(rmem_validate(r), 0);
  }
  CHECK_EQ(rmem_validate(r), 0);
  for (int i = 0; i < LIVE; i++)
    if (len[i]) CHECK_EQ(rmem_free(r, base + off[i]), RMEM_OK);
  CHECK_EQ(rmem_validate(r), 0);
  rmem_destroy(r);
}

int main(void) {
  test_seed_names();
  TIMED(test_create_options());
  rmem_options_t big = {.capacity = (size_t)1 << 30};
  rmem_t *r = rmem_create(&big);
  TIMED(test_sizes_and_alignment(r));
  TIMED(test_bad_input(r));
  TIMED(test_depot());
  TIMED(test_idle_class());
  TIMED(test_align16());
  TIMED(test_realloc_and_aligned(r));
  rmem_destroy(r);
  TIMED(test_stats_walk_defrag());
  TIMED(test_out_of_memory());
  TIMED(test_user_writes_cannot_corrupt());
  TIMED(test_validator_finds_damage());
  TIMED(test_binding_front_mix());
  TIMED(test_stress());
  return check_report("test_heap");
}
