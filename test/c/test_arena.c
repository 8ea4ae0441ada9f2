/*
 * test_arena.c - arenas: the seed's names (both forms), bump arenas (alignment,
 * chaining, limits, reset, leases, the inline fast path), savepoints,
 * intermediate arenas (size classes, large objects, free), checked handles
 * (destroyed arenas, forged pointers, index/generation, delayed slot reuse),
 * every bad input followed by the validator and a working arena, and a
 * deterministic randomized stress with pattern checks and the validator after
 * every step.
 */
#include "check.h"
#include "internal.h"
#include "handle.h"

#include <stdbool.h>

/* The instance is consistent and the arena still works. */
static void check_intact(rmem_t *r, arena_t *a) {
  CHECK_EQ(rmem_validate(r), 0);
  if (!a) return;
  void *p = rmem_arena_alloc(a, 24);
  CHECK(p != NULL);
  if (p) memset(p, 0x5A, 24);
  rmem_arena_stats_t st;
  CHECK_EQ(rmem_arena_stats(a, &st), RMEM_OK);
  if (st.lifetime == LIFETIME_INTERMEDIATE) CHECK_EQ(rmem_arena_free(a, p, 24), RMEM_OK);
  CHECK_EQ(rmem_validate(r), 0);
}

static void test_seed_names(void) {
  rmem_shutdown_default();
  CHECK_NULL_ERR(create_arena(4096, LIFETIME_TRANSIENT), RMEM_ENOTINIT);
  CHECK_NULL_ERR(r_arena(16, LIFETIME_TRANSIENT), RMEM_ENOTINIT);
  CHECK_ERR(r_reset(LIFETIME_PERSISTENT), RMEM_ENOTINIT);
  CHECK_NULL_ERR(rmem_default_arena(LIFETIME_TRANSIENT), RMEM_ENOTINIT);

  CHECK_EQ(init_arenas(), RMEM_OK);
  CHECK_EQ(init_arenas(), RMEM_OK); /* idempotent */
  rmem_t *r = rmem_default();
  CHECK(r != NULL);
  arena_t *t = rmem_default_arena(LIFETIME_TRANSIENT);
  CHECK(t != NULL && rmem_arena_instance(t) == r);
  CHECK_NULL_ERR(rmem_default_arena((lifetime_t)7), RMEM_EINVAL);

  /* the static form: three default arenas by lifetime */
  char *x = r_arena(100, LIFETIME_TRANSIENT);
  char *y = r_arena(13, LIFETIME_PERSISTENT);
  char *z = r_arena(40, LIFETIME_INTERMEDIATE);
  CHECK(x && y && z);
  CHECK(((uintptr_t)x & 7) == 0 && ((uintptr_t)y & 7) == 0 && ((uintptr_t)z & 7) == 0);
  memset(x, 1, 100);
  memset(y, 2, 13);
  memset(z, 3, 40);
  char *x2 = r_arena(8, LIFETIME_TRANSIENT);
  CHECK(x2 == x + 104); /* padded to 8 */
  CHECK_EQ(r_arena_free(rmem_default_arena(LIFETIME_INTERMEDIATE), z, 40), RMEM_OK);
  CHECK_NULL_ERR(r_arena(16, (lifetime_t)3), RMEM_EINVAL);
  CHECK_EQ(r_reset(LIFETIME_TRANSIENT), RMEM_OK);
  CHECK(r_arena(100, LIFETIME_TRANSIENT) == x); /* reset rewinds the bump pointer */
  CHECK_ERR(r_reset((lifetime_t)-1), RMEM_EINVAL);

  /* the dynamic form */
  arena_t *a = create_arena(8192, LIFETIME_PERSISTENT);
  CHECK(a != NULL);
  char *p = r_arena(a, 10);
  CHECK(p != NULL);
  rmem_arena_stats_t st;
  CHECK_EQ(rmem_arena_stats(a, &st), RMEM_OK);
  CHECK_EQ(st.used, 16);
  CHECK_EQ(st.reserved, 8192);
  CHECK_EQ(st.allocs, 1);
  CHECK_EQ(r_reset(a), RMEM_OK); /* rewinds and clears the size */
  CHECK_EQ(rmem_arena_stats(a, &st), RMEM_OK);
  CHECK_EQ(st.used, 0);
  CHECK_EQ(st.resets, 1);
  CHECK(r_arena(a, 10) == p);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(r_destroy(a), RMEM_OK);
  CHECK_NULL_ERR(r_arena(a, 10), RMEM_ESTALE);
  CHECK_ERR(r_reset(a), RMEM_ESTALE);
  CHECK_ERR(r_destroy(a), RMEM_ESTALE);
  CHECK_EQ(rmem_validate(r), 0);

  /* a destroyed default arena is refused, and init_arenas brings it back */
  CHECK_EQ(r_destroy(rmem_default_arena(LIFETIME_PERSISTENT)), RMEM_OK);
  CHECK_NULL_ERR(r_arena(8, LIFETIME_PERSISTENT), RMEM_ESTALE);
  CHECK_EQ(init_arenas(), RMEM_OK);
  CHECK(r_arena(8, LIFETIME_PERSISTENT) != NULL);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_shutdown_default(), RMEM_OK);
  CHECK_NULL_ERR(r_arena(8, LIFETIME_PERSISTENT), RMEM_ENOTINIT);
}

static void test_bump(void) {
  rmem_t *r = check_instance(8 << 20);
  arena_t *a = rmem_arena_create(r, 0, LIFETIME_TRANSIENT);
  CHECK(a != NULL);
  rmem_arena_stats_t st;
  CHECK_EQ(rmem_arena_stats(a, &st), RMEM_OK);
  CHECK_EQ(st.chunks, 1);
  CHECK_EQ(st.reserved, 64 << 10);
  CHECK_EQ(st.lifetime, LIFETIME_TRANSIENT);

  /* sizes: 1 pads to 8, consecutive, 8-aligned */
  char *p1 = rmem_arena_alloc(a, 1), *p2 = rmem_arena_alloc(a, 9), *p3 = rmem_arena_alloc(a, 16);
  CHECK(p2 == p1 + 8 && p3 == p2 + 16);
  CHECK(((uintptr_t)p1 & 7) == 0);
  /* the inline fast path and the call path share the bump pointer */
  char *f = r_arena_fast(a, 24);
  CHECK(f == p3 + 16);
  CHECK(rmem_arena_alloc(a, 8) == f + 24);
  /* aligned allocation */
  size_t aligns[] = {1, 2, 4, 8, 16, 64, 256, 4096, 8192, (size_t)1 << 20};
  for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
    char *q = rmem_arena_alloc_aligned(a, 3, aligns[i]);
    CHECK(q != NULL && ((uintptr_t)q % (aligns[i] < 8 ? 8 : aligns[i])) == 0);
    if (q) memset(q, 0x11, 3);
  }
  CHECK_EQ(rmem_validate(r), 0);

  /* chaining: fill well past one chunk */
  CHECK_EQ(rmem_arena_reset(a), RMEM_OK);
  CHECK_EQ(rmem_arena_stats(a, &st), RMEM_OK);
  CHECK_EQ(st.chunks, 1);
  CHECK_EQ(st.used, 0);
  for (int i = 0; i < 1000; i++) {
    char *q = rmem_arena_alloc(a, 1000);
    CHECK(q != NULL);
    if (q) memset(q, i & 0xFF, 1000);
  }
  CHECK_EQ(rmem_arena_stats(a, &st), RMEM_OK);
  CHECK(st.chunks >= 16);
  CHECK(st.used >= 1000 * 1000);
  CHECK_EQ(st.allocs, 1000);
  /* a request larger than the chunk size gets a chunk of its own size */
  char *big = rmem_arena_alloc(a, 300 << 10);
  CHECK(big != NULL);
  if (big) memset(big, 0x22, 300 << 10);
  CHECK_EQ(rmem_validate(r), 0);
  rmem_stats_t is;
  CHECK_EQ(rmem_stats(r, &is), RMEM_OK);
  size_t in_use = is.pages_in_use;
  /* reset keeps the first chunk and gives the rest back */
  CHECK_EQ(rmem_arena_reset(a), RMEM_OK);
  CHECK_EQ(rmem_arena_stats(a, &st), RMEM_OK);
  CHECK_EQ(st.chunks, 1);
  CHECK_EQ(st.reserved, 64 << 10);
  CHECK_EQ(st.allocs, 0);
  CHECK_EQ(rmem_stats(r, &is), RMEM_OK);
  CHECK(is.pages_in_use < in_use);
  CHECK_EQ(rmem_validate(r), 0);

  /* lease: the rest of the chunk, at least min_size */
  size_t len = 0;
  char *l = rmem_arena_lease(a, 100, &len);
  CHECK(l != NULL && len == (64 << 10) && ((uintptr_t)l & 7) == 0);
  if (l) memset(l, 0x33, len);
  char *l2 = rmem_arena_lease(a, 0, &len); /* chunk exhausted: a new one */
  CHECK(l2 != NULL && len == (64 << 10));
  char *l3 = rmem_arena_lease(a, 200 << 10, &len);
  CHECK(l3 != NULL && len >= (200 << 10) && len % 8 == 0);
  CHECK_NULL_ERR(rmem_arena_lease(a, 8, NULL), RMEM_EINVAL);
  CHECK_NULL_ERR(rmem_arena_lease(a, SIZE_MAX, &len), RMEM_ERANGE);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_arena_destroy(a), RMEM_OK);
  CHECK_EQ(rmem_stats(r, &is), RMEM_OK);
  CHECK_EQ(is.pages_in_use, 0); /* everything went back to the page source */
  CHECK_EQ(rmem_validate(r), 0);

  /* limits */
  rmem_arena_options_t o = {.chunk_size = 16 << 10, .max_size = 48 << 10};
  arena_t *b = rmem_arena_create_ex(r, LIFETIME_PERSISTENT, &o);
  CHECK(b != NULL);
  int n = 0;
  while (rmem_arena_alloc(b, 4096) != NULL) n++;
  CHECK_EQ(n, 12);
  CHECK_EQ(rmem_last_error(), RMEM_ENOMEM);
  CHECK_EQ(rmem_arena_stats(b, &st), RMEM_OK);
  CHECK_EQ(st.reserved, 48 << 10);
  CHECK_NULL_ERR(rmem_arena_alloc(b, 64 << 10), RMEM_ENOMEM);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_arena_reset(b), RMEM_OK);
  check_intact(r, b);
  CHECK_EQ(rmem_arena_destroy(b), RMEM_OK);
  rmem_arena_options_t bad = {.chunk_size = 64 << 10, .max_size = 16 << 10};
  CHECK_NULL_ERR(rmem_arena_create_ex(r, LIFETIME_PERSISTENT, &bad), RMEM_EINVAL);
  CHECK_NULL_ERR(rmem_arena_create(r, (size_t)1 << 40, LIFETIME_PERSISTENT), RMEM_EINVAL);
  CHECK_NULL_ERR(rmem_arena_create(r, 0, (lifetime_t)9), RMEM_EINVAL);
  CHECK_NULL_ERR(rmem_arena_create(NULL, 0, LIFETIME_TRANSIENT), RMEM_ENOTINIT);
  /* the instance runs out: ENOMEM, and the arena stays intact */
  arena_t *c = rmem_arena_create(r, 1 << 20, LIFETIME_TRANSIENT);
  CHECK(c != NULL);
  int got = 0;
  while (rmem_arena_alloc(c, 512 << 10) != NULL) got++;
  CHECK(got >= 10 && got < 20);
  CHECK_EQ(rmem_last_error(), RMEM_ENOMEM);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_arena_reset(c), RMEM_OK);
  check_intact(r, c);
  CHECK_EQ(rmem_arena_destroy(c), RMEM_OK);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_destroy(r), RMEM_OK);
}

static void test_bad_sizes(void) {
  rmem_t *r = check_instance(4 << 20);
  lifetime_t lts[] = {LIFETIME_TRANSIENT, LIFETIME_INTERMEDIATE, LIFETIME_PERSISTENT};
  for (int i = 0; i < 3; i++) {
    arena_t *a = rmem_arena_create(r, 0, lts[i]);
    CHECK(a != NULL);
    CHECK_NULL_ERR(rmem_arena_alloc(a, 0), RMEM_EINVAL);
    check_intact(r, a);
    CHECK_NULL_ERR(r_arena_fast(a, 0), RMEM_EINVAL);
    check_intact(r, a);
    CHECK_NULL_ERR(rmem_arena_alloc(a, SIZE_MAX), RMEM_ERANGE);
    check_intact(r, a);
    CHECK_NULL_ERR(r_arena_fast(a, SIZE_MAX - 3), RMEM_ERANGE);
    check_intact(r, a);
    CHECK_NULL_ERR(rmem_arena_alloc(a, SIZE_MAX / 2), RMEM_ENOMEM);
    check_intact(r, a);
    CHECK_NULL_ERR(rmem_arena_alloc(a, 8 << 20), RMEM_ENOMEM);
    check_intact(r, a);
    CHECK_NULL_ERR(rmem_arena_alloc_aligned(a, 8, 0), RMEM_EINVAL);
    CHECK_NULL_ERR(rmem_arena_alloc_aligned(a, 8, 24), RMEM_EINVAL);
    CHECK_NULL_ERR(rmem_arena_alloc_aligned(a, 8, (size_t)1 << 31), RMEM_EINVAL);
    CHECK_NULL_ERR(rmem_arena_alloc_aligned(a, 0, 16), RMEM_EINVAL);
    check_intact(r, a);
    CHECK_ERR(rmem_arena_stats(a, NULL), RMEM_EINVAL);
    uint32_t idx;
    CHECK_ERR(rmem_arena_index(a, &idx, NULL), RMEM_EINVAL);
    CHECK_EQ(rmem_arena_destroy(a), RMEM_OK);
  }
  CHECK_EQ(rmem_destroy(r), RMEM_OK);
}

static void test_marks(void) {
  rmem_t *r = check_instance(8 << 20);
  arena_t *a = rmem_arena_create(r, 16 << 10, LIFETIME_TRANSIENT);
  char *base = rmem_arena_alloc(a, 64);
  rmem_arena_mark_t m0 = rmem_arena_mark(a);
  char *p = rmem_arena_alloc(a, 100);
  rmem_arena_mark_t m1 = rmem_arena_mark(a);
  for (int i = 0; i < 100; i++) CHECK(rmem_arena_alloc(a, 1000) != NULL); /* chains chunks */
  rmem_arena_stats_t st;
  CHECK_EQ(rmem_arena_stats(a, &st), RMEM_OK);
  CHECK(st.chunks > 5);
  rmem_arena_mark_t m2 = rmem_arena_mark(a);
  CHECK(rmem_arena_alloc(a, 8) != NULL);
  /* nested scopes: innermost first */
  CHECK_EQ(rmem_arena_rewind(a, m2), RMEM_OK);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_arena_rewind(a, m1), RMEM_OK);
  CHECK_EQ(rmem_arena_stats(a, &st), RMEM_OK);
  CHECK_EQ(st.chunks, 1); /* the chained chunks went back */
  CHECK_EQ(st.used, 64 + 104);
  CHECK_EQ(rmem_validate(r), 0);
  /* m2's chunk is gone: refused, arena unchanged */
  CHECK_ERR(rmem_arena_rewind(a, m2), RMEM_EINVAL);
  check_intact(r, a);
  CHECK_EQ(rmem_arena_rewind(a, m0), RMEM_OK);
  CHECK(rmem_arena_alloc(a, 100) == p);
  /* a mark ahead of the position is refused */
  rmem_arena_mark_t ahead = rmem_arena_mark(a);
  ahead.ptr += 4096;
  CHECK_ERR(rmem_arena_rewind(a, ahead), RMEM_EINVAL);
  rmem_arena_mark_t mis = rmem_arena_mark(a);
  mis.ptr -= 3;
  CHECK_ERR(rmem_arena_rewind(a, mis), RMEM_EINVAL);
  rmem_arena_mark_t before = rmem_arena_mark(a);
  before.ptr = (uintptr_t)base - 8; /* before the chunk */
  CHECK_ERR(rmem_arena_rewind(a, before), RMEM_EINVAL);
  rmem_arena_mark_t wrong = rmem_arena_mark(a);
  wrong.chunk_serial = 999;
  CHECK_ERR(rmem_arena_rewind(a, wrong), RMEM_EINVAL);
  rmem_arena_mark_t zero = {0, 0, 0};
  CHECK_ERR(rmem_arena_rewind(a, zero), RMEM_EINVAL);
  check_intact(r, a);
  /* a mark from before a reset is refused */
  rmem_arena_mark_t old = rmem_arena_mark(a);
  CHECK_EQ(rmem_arena_reset(a), RMEM_OK);
  CHECK_ERR(rmem_arena_rewind(a, old), RMEM_EINVAL);
  check_intact(r, a);
  /* marks of a destroyed arena */
  CHECK_EQ(rmem_arena_destroy(a), RMEM_OK);
  rmem_clear_error();
  rmem_arena_mark_t dm = rmem_arena_mark(a);
  CHECK_EQ(rmem_last_error(), RMEM_ESTALE);
  CHECK_EQ(dm.chunk_serial, 0);
  CHECK_ERR(rmem_arena_rewind(a, old), RMEM_ESTALE);
  /* intermediate arenas have none */
  arena_t *im = rmem_arena_create(r, 0, LIFETIME_INTERMEDIATE);
  rmem_clear_error();
  rmem_arena_mark_t im_m = rmem_arena_mark(im);
  CHECK_EQ(rmem_last_error(), RMEM_EINVAL);
  CHECK_ERR(rmem_arena_rewind(im, im_m), RMEM_EINVAL);
  size_t len;
  CHECK_NULL_ERR(rmem_arena_lease(im, 8, &len), RMEM_EINVAL);
  check_intact(r, im);
  CHECK_EQ(rmem_destroy(r), RMEM_OK);
}

static void test_intermediate(void) {
  rmem_t *r = check_instance(16 << 20);
  arena_t *a = rmem_arena_create(r, 0, LIFETIME_INTERMEDIATE);
  arena_t *b = rmem_arena_create(r, 0, LIFETIME_INTERMEDIATE);
  arena_t *t = rmem_arena_create(r, 0, LIFETIME_TRANSIENT);
  CHECK(a && b && t);
  /* sizes across the classes and beyond */
  size_t sizes[] = {1, 8, 9, 24, 33, 100, 500, 1000, 2047, 4096, 4097, 10000, 100000};
  void *ps[13];
  for (int i = 0; i < 13; i++) {
    ps[i] = rmem_arena_alloc(a, sizes[i]);
    CHECK(ps[i] != NULL && ((uintptr_t)ps[i] & 7) == 0);
    if (ps[i]) memset(ps[i], i, sizes[i]);
  }
  CHECK_EQ(rmem_validate(r), 0);
  rmem_arena_stats_t st;
  CHECK_EQ(rmem_arena_stats(a, &st), RMEM_OK);
  CHECK_EQ(st.allocs, 13);
  CHECK(st.used >= 4097 + 10000 + 100000);
  /* every size up to RMEM_ARENA_SLAB_MAX gets a slot at least that big, and frees with its size */
  bool classes_ok = true;
  for (size_t sz = 1; sz <= RMEM_ARENA_SLAB_MAX; sz++) {
    char *u = rmem_arena_alloc(b, sz), *v = rmem_arena_alloc(b, sz);
    if (!u || !v || (size_t)(u > v ? u - v : v - u) < sz) classes_ok = false;
    if (u) memset(u, 0x44, sz);
    if (v) memset(v, 0x55, sz);
    if (u && v && (u[sz - 1] != 0x44 || v[sz - 1] != 0x55)) classes_ok = false;
    if (rmem_arena_free(b, u, sz) != RMEM_OK || rmem_arena_free(b, v, sz) != RMEM_OK) classes_ok = false;
  }
  CHECK(classes_ok);
  CHECK_EQ(rmem_validate(r), 0);
  /* a freed slot is reused */
  CHECK_EQ(rmem_arena_free(a, ps[5], 100), RMEM_OK);
  void *again = rmem_arena_alloc(a, 100);
  CHECK(again == ps[5]);
  /* bad frees: each refused, the arena intact */
  CHECK_ERR(rmem_arena_free(a, ps[5], 0), RMEM_EINVAL);
  CHECK_ERR(rmem_arena_free(a, ps[5], 5000), RMEM_EINVAL); /* size does not match its class */
  CHECK_ERR(rmem_arena_free(a, ps[4], 8), RMEM_EINVAL); /* 33 bytes live in the 48-byte class */
  CHECK_ERR(rmem_arena_free(a, ps[4], 64), RMEM_EINVAL);
  CHECK_ERR(rmem_arena_free(a, (char *)ps[5] + 8, 100), RMEM_EBADPTR); /* interior */
  check_intact(r, a);
  CHECK_EQ(rmem_arena_free(a, ps[5], 100), RMEM_OK);
  CHECK_ERR(rmem_arena_free(a, ps[5], 100), RMEM_EDOUBLEFREE);
  check_intact(r, a);
  void *pb = rmem_arena_alloc(b, 100);
  CHECK_ERR(rmem_arena_free(a, pb, 100), RMEM_EBADPTR); /* another arena's object */
  CHECK_EQ(rmem_arena_free(b, pb, 100), RMEM_OK);
  void *pt = rmem_arena_alloc(t, 100);
  CHECK_ERR(rmem_arena_free(a, pt, 100), RMEM_EBADPTR);  /* a bump arena's memory */
  CHECK_ERR(rmem_arena_free(t, pt, 100), RMEM_EINVAL);   /* bump arenas free nothing */
  void *ph = rmem_alloc(r, 100);
  CHECK_ERR(rmem_arena_free(a, ph, 100), RMEM_EBADPTR);  /* a heap block */
  CHECK_ERR(rmem_free(r, ps[4]), RMEM_EBADPTR);          /* and the heap refuses arena memory */
  CHECK_EQ(rmem_free(r, ph), RMEM_OK);
  int local;
  CHECK_ERR(rmem_arena_free(a, &local, sizeof local), RMEM_EBADPTR);
  CHECK_ERR(rmem_arena_free(a, (char *)rmem_base(r) + (8 << 20), 8), RMEM_EBADPTR); /* never allocated */
  CHECK_EQ(rmem_arena_free(a, NULL, 8), RMEM_OK);
  check_intact(r, a);
  /* large objects */
  CHECK_ERR(rmem_arena_free(a, (char *)ps[12] + 4096, 100000), RMEM_EBADPTR);
  CHECK_ERR(rmem_arena_free(a, ps[12], 100), RMEM_EINVAL);
  CHECK_ERR(rmem_arena_free(a, ps[12], 200000), RMEM_EINVAL);
  CHECK_EQ(rmem_arena_free(a, ps[12], 100000), RMEM_OK);
  CHECK_ERR(rmem_arena_free(a, ps[12], 100000), RMEM_EBADPTR); /* gone */
  check_intact(r, a);
  /* aligned allocations in an intermediate arena, freed with their size */
  size_t al[] = {16, 64, 512, 4096, 8192};
  for (int i = 0; i < 5; i++) {
    void *q = rmem_arena_alloc_aligned(a, 40, al[i]);
    CHECK(q != NULL && (uintptr_t)q % al[i] == 0);
    CHECK_EQ(rmem_arena_free(a, q, 40), RMEM_OK);
  }
  check_intact(r, a);
  /* a limit applies to slabs too */
  rmem_arena_options_t o = {.chunk_size = 0, .max_size = 128 << 10};
  arena_t *lim = rmem_arena_create_ex(r, LIFETIME_INTERMEDIATE, &o);
  int n = 0;
  while (rmem_arena_alloc(lim, 1024) != NULL && n < 100000) n++;
  CHECK_EQ(rmem_last_error(), RMEM_ENOMEM);
  CHECK(n >= 64 && n <= 128);
  CHECK_EQ(rmem_validate(r), 0);
  /* large objects count against the same limit as the slabs */
  CHECK_NULL_ERR(rmem_arena_alloc(lim, 100000), RMEM_ENOMEM);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_arena_reset(lim), RMEM_OK);
  check_intact(r, lim);
  /* reset releases everything */
  rmem_stats_t is;
  CHECK_EQ(rmem_arena_reset(a), RMEM_OK);
  CHECK_EQ(rmem_arena_stats(a, &st), RMEM_OK);
  CHECK_EQ(st.used, 0);
  CHECK_EQ(st.chunks, 0);
  CHECK_EQ(st.allocs, 0);
  CHECK_ERR(rmem_arena_free(a, ps[0], 1), RMEM_EBADPTR); /* its slab went back */
  check_intact(r, a);
  CHECK_EQ(rmem_arena_destroy(a), RMEM_OK);
  CHECK_EQ(rmem_arena_destroy(b), RMEM_OK);
  CHECK_EQ(rmem_arena_destroy(t), RMEM_OK);
  CHECK_EQ(rmem_arena_destroy(lim), RMEM_OK);
  CHECK_EQ(rmem_stats(r, &is), RMEM_OK);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_destroy(r), RMEM_OK);
}

static void test_handles(void) {
  rmem_t *r = check_instance(8 << 20);
  rmem_t *r2 = check_instance(4 << 20);
  arena_t *a = rmem_arena_create(r, 0, LIFETIME_TRANSIENT);
  arena_t *im = rmem_arena_create(r, 0, LIFETIME_INTERMEDIATE);
  arena_t *o = rmem_arena_create(r2, 0, LIFETIME_INTERMEDIATE);
  CHECK(rmem_arena_instance(a) == r && rmem_arena_instance(o) == r2);
  uint32_t idx = 0, gen = 0;
  CHECK_EQ(rmem_arena_index(a, &idx, &gen), RMEM_OK);
  CHECK(idx >= 1 && gen >= 1);
  CHECK(rmem_arena_from_index(r, idx, gen) == a);
  CHECK_NULL_ERR(rmem_arena_from_index(r, idx, gen + 1), RMEM_ESTALE);
  CHECK_NULL_ERR(rmem_arena_from_index(r, 0, 1), RMEM_EBADPTR);
  CHECK_NULL_ERR(rmem_arena_from_index(r, 60000, 1), RMEM_EBADPTR);
  CHECK_NULL_ERR(rmem_arena_from_index(NULL, idx, gen), RMEM_ENOTINIT);
  /* an object of instance r2 is not from an arena of r */
  void *po = rmem_arena_alloc(o, 32);
  CHECK_ERR(rmem_arena_free(im, po, 32), RMEM_EBADPTR);
  CHECK_EQ(rmem_arena_free(o, po, 32), RMEM_OK);

  /* forged handles: never followed */
  int local[64];
  void *heap_block = rmem_alloc(r, 64);
  arena_t *forged[] = {(arena_t *)local, (arena_t *)heap_block, (arena_t *)((char *)a + 8),
                       (arena_t *)((char *)a + 1), (arena_t *)(uintptr_t)0x10, (arena_t *)rmem_base(r)};
  for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
    CHECK_NULL_ERR(rmem_arena_alloc(forged[i], 8), RMEM_EBADPTR);
    CHECK_NULL_ERR(rmem_arena_alloc_aligned(forged[i], 8, 16), RMEM_EBADPTR);
    CHECK_ERR(rmem_arena_reset(forged[i]), RMEM_EBADPTR);
    CHECK_ERR(rmem_arena_destroy(forged[i]), RMEM_EBADPTR);
    CHECK_ERR(rmem_arena_free(forged[i], heap_block, 64), RMEM_EBADPTR);
    CHECK_NULL_ERR(rmem_arena_instance(forged[i]), RMEM_EBADPTR);
    rmem_arena_stats_t st;
    CHECK_ERR(rmem_arena_stats(forged[i], &st), RMEM_EBADPTR);
  }
  CHECK_NULL_ERR(rmem_arena_alloc(NULL, 8), RMEM_EINVAL);
  CHECK_ERR(rmem_arena_destroy(NULL), RMEM_EINVAL);
  /* a slot of the table that was never handed out */
  CHECK_NULL_ERR(rmem_arena_alloc((arena_t *)((char *)a + 256 * 10), 8), RMEM_EBADPTR);
  check_intact(r, a);

  /* destroyed: every call reports RMEM_ESTALE, including the inline path */
  CHECK_EQ(rmem_arena_destroy(a), RMEM_OK);
  CHECK_NULL_ERR(r_arena_fast(a, 8), RMEM_ESTALE);
  CHECK_NULL_ERR(rmem_arena_alloc(a, 8), RMEM_ESTALE);
  CHECK_NULL_ERR(rmem_arena_alloc_aligned(a, 8, 64), RMEM_ESTALE);
  CHECK_ERR(rmem_arena_free(a, heap_block, 8), RMEM_ESTALE);
  CHECK_ERR(rmem_arena_reset(a), RMEM_ESTALE);
  CHECK_ERR(rmem_arena_destroy(a), RMEM_ESTALE);
  size_t len;
  CHECK_NULL_ERR(rmem_arena_lease(a, 8, &len), RMEM_ESTALE);
  CHECK_NULL_ERR(rmem_arena_instance(a), RMEM_ESTALE);
  CHECK_NULL_ERR(rmem_arena_from_index(r, idx, gen), RMEM_ESTALE);
  CHECK_EQ(rmem_validate(r), 0);

  /* delayed reuse: the destroyed slot stays dead while many others come and go */
  for (int i = 0; i < 1000; i++) {
    arena_t *x = rmem_arena_create(r, 4096, LIFETIME_TRANSIENT);
    CHECK(x != NULL && x != a);
    CHECK_EQ(rmem_arena_destroy(x), RMEM_OK);
  }
  CHECK_NULL_ERR(rmem_arena_alloc(a, 8), RMEM_ESTALE);
  /* after the quarantine the slot is reused with a new generation; the old pair stays stale */
  bool reused = false;
  for (int i = 0; i < 3000 && !reused; i++) {
    arena_t *x = rmem_arena_create(r, 4096, LIFETIME_TRANSIENT);
    if (x == a) {
      CHECK_EQ(1000 + i, RMEM_HSLOT_QUARANTINE); /* exactly after 1024 other destroys (rmem.h) */
      uint32_t i2, g2;
      CHECK_EQ(rmem_arena_index(x, &i2, &g2), RMEM_OK);
      CHECK(i2 == idx && g2 == gen + 1);
      CHECK_NULL_ERR(rmem_arena_from_index(r, idx, gen), RMEM_ESTALE);
      reused = true;
    }
    CHECK_EQ(rmem_arena_destroy(x), RMEM_OK);
  }
  CHECK(reused);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_free(r, heap_block), RMEM_OK);

  /* arenas of a destroyed instance are refused without being followed */
  arena_t *b = rmem_arena_create(r, 0, LIFETIME_PERSISTENT);
  CHECK_EQ(rmem_destroy(r), RMEM_OK);
  CHECK_NULL_ERR(rmem_arena_alloc(b, 8), RMEM_EBADPTR);
  CHECK_ERR(rmem_arena_destroy(b), RMEM_EBADPTR);
  CHECK_ERR(rmem_arena_destroy(im), RMEM_EBADPTR);
  CHECK_EQ(rmem_validate(r2), 0);
  CHECK_EQ(rmem_destroy(r2), RMEM_OK);
}

/* A live object of the stress test. */
typedef struct obj {
  arena_t *a;
  unsigned char *p;
  size_t size;
  unsigned char tag;
  uint32_t scope; /* bump arenas: the mark depth it was allocated at */
} obj_t;

#define NARENAS 4
#define MAXOBJ 4096
#define MAXDEPTH 8

static obj_t objs[MAXOBJ];
static int nobjs;

static bool pattern_ok(const obj_t *o) {
  for (size_t i = 0; i < o->size; i++)
    if (o->p[i] != (unsigned char)(o->tag + i)) return false;
  return true;
}

static void drop_where(arena_t *a, uint32_t min_scope) {
  for (int i = 0; i < nobjs;) {
    if (objs[i].a == a && objs[i].scope >= min_scope) objs[i] = objs[--nobjs];
    else i++;
  }
}

static void test_stress(void) {
  rmem_t *r = check_instance(32 << 20);
  arena_t *as[NARENAS];
  lifetime_t lts[NARENAS] = {LIFETIME_TRANSIENT, LIFETIME_PERSISTENT, LIFETIME_INTERMEDIATE, LIFETIME_INTERMEDIATE};
  rmem_arena_mark_t marks[NARENAS][MAXDEPTH];
  uint32_t depth[NARENAS] = {0};
  for (int i = 0; i < NARENAS; i++) as[i] = rmem_arena_create(r, (size_t)(8 + 8 * i) << 10, lts[i]);
  uint64_t seed = 42;
  size_t bad_validations = 0, bad_patterns = 0;
  const int steps = 60000;
  for (int step = 0; step < steps; step++) {
    uint64_t x = check_rand(&seed);
    int k = (int)(x % NARENAS);
    arena_t *a = as[k];
    unsigned op = (unsigned)((x >> 8) % 100);
    bool inter = lts[k] == LIFETIME_INTERMEDIATE;
    if (op < 55 && nobjs < MAXOBJ) {
      size_t size = 1 + (size_t)((x >> 16) % ((x >> 40) % 16 == 0 ? 20000 : 300));
      size_t align = (x >> 50) % 8 == 0 ? (size_t)1 << ((x >> 54) % 13) : 0;
      unsigned char *p = align ? rmem_arena_alloc_aligned(a, size, align)
                               : ((x >> 60) & 1) ? r_arena_fast(a, size) : rmem_arena_alloc(a, size);
      CHECK(p != NULL);
      if (!p) continue;
      if (align) CHECK((uintptr_t)p % align == 0);
      obj_t *o = &objs[nobjs++];
      *o = (obj_t){a, p, size, (unsigned char)(x >> 24), depth[k]};
      for (size_t i = 0; i < size; i++) p[i] = (unsigned char)(o->tag + i);
    } else if (op < 80 && nobjs > 0) {
      int i = (int)((x >> 16) % (uint64_t)nobjs);
      obj_t *o = &objs[i];
      if (!pattern_ok(o)) bad_patterns++;
      if (o->a != a || !(lts[k] == LIFETIME_INTERMEDIATE)) {
        /* freeing into the wrong arena or a bump arena: refused, nothing changes */
        rmem_status_t st = rmem_arena_free(a, o->p, o->size);
        CHECK(st == RMEM_EBADPTR || st == RMEM_EINVAL);
        continue;
      }
      CHECK_EQ(rmem_arena_free(a, o->p, o->size), RMEM_OK);
      if ((x >> 40) % 8 == 0) {
        /* a double free: EDOUBLEFREE while the slot's slab is held, EBADPTR once the slab went back */
        rmem_status_t st = rmem_arena_free(a, o->p, o->size);
        CHECK(st == RMEM_EDOUBLEFREE || st == RMEM_EBADPTR);
      }
      objs[i] = objs[--nobjs];
    } else if (op < 88 && !inter) {
      if (depth[k] < MAXDEPTH) {
        marks[k][depth[k]++] = rmem_arena_mark(a);
      } else {
        depth[k]--;
        CHECK_EQ(rmem_arena_rewind(a, marks[k][depth[k]]), RMEM_OK);
        drop_where(a, depth[k] + 1);
      }
    } else if (op < 96 && !inter && depth[k] > 0) {
      depth[k]--;
      CHECK_EQ(rmem_arena_rewind(a, marks[k][depth[k]]), RMEM_OK);
      /* objects allocated at depth >= depth[k]+1 (after the mark) die */
      drop_where(a, depth[k] + 1);
    } else if (op >= 99) {
      CHECK_EQ(rmem_arena_reset(a), RMEM_OK);
      depth[k] = 0;
      drop_where(a, 0);
    }
    if (rmem_validate(r) != 0) {
      bad_validations++;
      if (bad_validations < 5) fprintf(stderr, "step %d: %s\n", step, rmem_last_error_message());
    }
  }
  for (int i = 0; i < nobjs; i++)
    if (!pattern_ok(&objs[i])) bad_patterns++;
  CHECK_EQ(bad_validations, 0);
  CHECK_EQ(bad_patterns, 0);
  for (int i = 0; i < NARENAS; i++) CHECK_EQ(rmem_arena_destroy(as[i]), RMEM_OK);
  rmem_stats_t is;
  CHECK_EQ(rmem_stats(r, &is), RMEM_OK);
  CHECK_EQ(is.pages_in_use, 0);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_destroy(r), RMEM_OK);
}

/* The debugging options act on the checked paths. */
static void test_options(void) {
  /* NO_TRACK: the test reads the junk in freed memory on purpose */
  rmem_options_t o = {.capacity = 4 << 20, .flags = RMEM_OPT_JUNK | RMEM_OPT_VALIDATE | RMEM_OPT_NO_TRACK};
  rmem_t *r = rmem_create(&o);
  arena_t *a = rmem_arena_create(r, 0, LIFETIME_TRANSIENT);
  arena_t *im = rmem_arena_create(r, 0, LIFETIME_INTERMEDIATE);
  unsigned char *p = rmem_arena_alloc(a, 16);
  CHECK(p && p[0] == 0xAB && p[15] == 0xAB);
  rmem_arena_mark_t m = rmem_arena_mark(a);
  unsigned char *q = rmem_arena_alloc(a, 16);
  CHECK_EQ(rmem_arena_rewind(a, m), RMEM_OK);
  CHECK(q[0] == 0xDF);
  unsigned char *s = rmem_arena_alloc(im, 40);
  CHECK(s && s[0] == 0xAB);
  CHECK_EQ(rmem_arena_free(im, s, 40), RMEM_OK);
  CHECK(s[0] == 0xDF);
  CHECK_ERR(rmem_arena_free(im, s, 40), RMEM_EDOUBLEFREE); /* the validator run keeps the caller's error */
  /* junking a rewind or reset across chunks touches only the arena's own memory */
  arena_t *b = rmem_arena_create(r, 4096, LIFETIME_PERSISTENT);
  unsigned char *keep = rmem_arena_alloc(b, 64);
  memset(keep, 0x3C, 64);
  rmem_arena_mark_t m2 = rmem_arena_mark(a);
  for (int i = 0; i < 50; i++) {
    CHECK(rmem_arena_alloc(a, 3000) != NULL);
    CHECK(rmem_arena_alloc(b, 8) != NULL); /* b's chunks interleave with a's */
  }
  CHECK_EQ(rmem_arena_rewind(a, m2), RMEM_OK);
  for (int i = 0; i < 50; i++) CHECK(rmem_arena_alloc(a, 3000) != NULL);
  CHECK_EQ(rmem_arena_reset(a), RMEM_OK);
  bool intact = true;
  for (int i = 0; i < 64; i++) intact &= keep[i] == 0x3C;
  CHECK(intact);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_destroy(r), RMEM_OK);
}

int main(void) {
  test_seed_names();
  test_bump();
  test_bad_sizes();
  test_marks();
  test_intermediate();
  test_handles();
  test_stress();
  test_options();
  return check_report("test_arena");
}
