/*
 * test_cache.c - slab caches: the seed-style names, creation edge cases
 * (sizes, alignment, names), alloc/free/reuse, stats and utilisation, walk,
 * shrink, destroy (plain and RMEM_SLAB_STRICT), checked handles (destroyed
 * caches, forged pointers, index/generation), every bad free followed by the
 * validator and a working cache, and a deterministic randomized stress with
 * pattern checks and the validator after every step.
 */
#include "check.h"
#include "internal.h"

#include <stdbool.h>

/* The instance is consistent and the cache still works. */
static void check_intact(rmem_t *r, slab_cache_t *c) {
  CHECK_EQ(rmem_validate(r), 0);
  if (!c) return;
  void *p = rmem_slab_alloc(c);
  CHECK(p != NULL);
  rmem_slab_stats_t st;
  CHECK_EQ(rmem_slab_cache_stats(c, &st), RMEM_OK);
  if (p) memset(p, 0x5A, st.obj_size);
  CHECK_EQ(rmem_slab_free(c, p), RMEM_OK);
  CHECK_EQ(rmem_validate(r), 0);
}

static void test_seed_names(void) {
  rmem_shutdown_default();
  CHECK_NULL_ERR(slab_cache_create("users", 48), RMEM_ENOTINIT);
  CHECK_EQ(init_heap(), RMEM_OK);
  slab_cache_t *c = slab_cache_create("users", 48);
  CHECK(c != NULL);
  CHECK(rmem_slab_cache_instance(c) == rmem_default());
  void *ps[100];
  for (int i = 0; i < 100; i++) {
    ps[i] = slab_alloc(c);
    CHECK(ps[i] != NULL && ((uintptr_t)ps[i] & 7) == 0);
    if (ps[i]) memset(ps[i], i, 48);
  }
  for (int i = 1; i < 100; i++) CHECK((char *)ps[i] - (char *)ps[i - 1] == 48); /* dense slots */
  for (int i = 0; i < 100; i++) CHECK_EQ(slab_free(c, ps[i]), RMEM_OK);
  CHECK_ERR(slab_free(c, ps[0]), RMEM_EDOUBLEFREE);
  CHECK_EQ(rmem_validate(rmem_default()), 0);
  CHECK_EQ(slab_cache_destroy(c), RMEM_OK);
  CHECK_NULL_ERR(slab_alloc(c), RMEM_ESTALE);
  CHECK_EQ(rmem_shutdown_default(), RMEM_OK);
}

static void test_create(void) {
  rmem_t *r = check_instance(8 << 20);
  CHECK_NULL_ERR(rmem_slab_cache_create(r, "x", 0, 0, 0), RMEM_EINVAL);
  CHECK_NULL_ERR(rmem_slab_cache_create(r, "x", SIZE_MAX, 0, 0), RMEM_ERANGE);
  CHECK_NULL_ERR(rmem_slab_cache_create(r, "x", RMEM_SLAB_MAX_OBJ + 1, 0, 0), RMEM_ERANGE);
  CHECK_NULL_ERR(rmem_slab_cache_create(r, "x", 16, 24, 0), RMEM_EINVAL);
  CHECK_NULL_ERR(rmem_slab_cache_create(r, "x", 16, 8192, 0), RMEM_EINVAL);
  CHECK_NULL_ERR(rmem_slab_cache_create(r, "x", 16, 0, 0x80), RMEM_EINVAL);
  CHECK_NULL_ERR(rmem_slab_cache_create(NULL, "x", 16, 0, 0), RMEM_ENOTINIT);
  CHECK_EQ(rmem_validate(r), 0);

  /* sizes and alignments: slot size = size rounded to the alignment (at least 8) */
  struct { size_t size, align, slot; } cases[] = {
      {1, 0, 8}, {1, 1, 8}, {9, 0, 16}, {24, 8, 24}, {24, 16, 32}, {100, 64, 128},
      {4096, 4096, 4096}, {5000, 0, 5000}, {1 << 20, 0, 1 << 20}, {3, 4096, 4096}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    slab_cache_t *c = rmem_slab_cache_create(r, NULL, cases[i].size, cases[i].align, 0);
    CHECK(c != NULL);
    if (!c) continue;
    rmem_slab_stats_t st;
    CHECK_EQ(rmem_slab_cache_stats(c, &st), RMEM_OK);
    CHECK_EQ(st.obj_size, cases[i].slot);
    CHECK(st.name != NULL && st.name[0] == 0);
    size_t al = cases[i].align < 8 ? 8 : cases[i].align;
    int count = cases[i].size >= ((size_t)1 << 20) ? 3 : 20; /* 1 MiB slots: 2 per 2 MiB slab */
    for (int k = 0; k < count; k++) {
      char *p = rmem_slab_alloc(c);
      CHECK(p != NULL && (uintptr_t)p % al == 0);
      if (p) memset(p, 0x77, cases[i].size);
    }
    CHECK_EQ(rmem_validate(r), 0);
    CHECK_EQ(rmem_slab_cache_destroy(c), RMEM_OK); /* not strict: live objects die with it */
  }
  /* the name is copied and truncated to 31 bytes */
  char name[64];
  memset(name, 'n', sizeof name - 1);
  name[63] = 0;
  slab_cache_t *c = rmem_slab_cache_create(r, name, 16, 0, 0);
  name[0] = 'X';
  rmem_slab_stats_t st;
  CHECK_EQ(rmem_slab_cache_stats(c, &st), RMEM_OK);
  CHECK_EQ(strlen(st.name), 31);
  CHECK(st.name[0] == 'n');
  CHECK_ERR(rmem_slab_cache_stats(c, NULL), RMEM_EINVAL);
  CHECK_EQ(rmem_slab_cache_destroy(c), RMEM_OK);
  rmem_stats_t is;
  CHECK_EQ(rmem_stats(r, &is), RMEM_OK);
  CHECK_EQ(is.pages_in_use, 0);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_destroy(r), RMEM_OK);
}

static int count_slots(const slab_slot_t *slot, void *arg) {
  size_t *n = arg;
  n[0]++;
  if (slot->in_use) n[1]++;
  return 0;
}

static int stop_at_three(const slab_slot_t *slot, void *arg) {
  (void)slot;
  return ++*(int *)arg == 3;
}

static void test_stats_walk_shrink(void) {
  rmem_t *r = check_instance(16 << 20);
  slab_cache_t *c = rmem_slab_cache_create(r, "obj64", 64, 0, 0);
  rmem_slab_stats_t st;
  CHECK_EQ(rmem_slab_cache_stats(c, &st), RMEM_OK);
  CHECK_EQ(st.slabs, 0);
  CHECK(st.utilisation == 0.0);
  enum { N = 5000 };
  static void *ps[N];
  for (int i = 0; i < N; i++) ps[i] = rmem_slab_alloc(c);
  CHECK_EQ(rmem_slab_cache_stats(c, &st), RMEM_OK);
  CHECK_EQ(st.objects_in_use, N);
  CHECK_EQ(st.allocs, N);
  CHECK_EQ(st.frees, 0);
  CHECK(st.slabs >= 2);
  size_t full_slabs = st.slabs;
  CHECK_EQ(st.slots, st.slabs * (st.slab_bytes / st.slabs / 64));
  CHECK(st.utilisation > 0.5 && st.utilisation <= 1.0);
  CHECK(strcmp(st.name, "obj64") == 0);
  size_t n[2] = {0, 0};
  CHECK_EQ(rmem_slab_cache_walk(c, count_slots, n), RMEM_OK);
  CHECK_EQ(n[0], st.slots);
  CHECK_EQ(n[1], N);
  int seen = 0;
  CHECK_EQ(rmem_slab_cache_walk(c, stop_at_three, &seen), RMEM_OK);
  CHECK_EQ(seen, 3);
  CHECK_ERR(rmem_slab_cache_walk(c, NULL, NULL), RMEM_EINVAL);
  /* free all: empty slabs go back, one spare at most stays until shrink */
  for (int i = 0; i < N; i++) CHECK_EQ(rmem_slab_free(c, ps[i]), RMEM_OK);
  CHECK_EQ(rmem_slab_cache_stats(c, &st), RMEM_OK);
  CHECK_EQ(st.objects_in_use, 0);
  CHECK_EQ(st.frees, N);
  CHECK_EQ(st.allocs, N); /* frees + live objects (C2): a refused free counts in neither */
  CHECK_ERR(rmem_slab_free(c, ps[0]), RMEM_EDOUBLEFREE);
  CHECK_EQ(rmem_slab_cache_stats(c, &st), RMEM_OK);
  CHECK_EQ(st.allocs, N);
  CHECK_EQ(st.frees, N);
  CHECK(st.slabs < full_slabs); /* empty slabs went back (a few stay: the spare, slots parked by the engine) */
  CHECK_EQ(rmem_slab_cache_shrink(c), RMEM_OK);
  CHECK_EQ(rmem_slab_cache_stats(c, &st), RMEM_OK);
  CHECK_EQ(st.slabs, 0);
  rmem_stats_t is;
  CHECK_EQ(rmem_stats(r, &is), RMEM_OK);
  CHECK_EQ(is.pages_in_use, 0);
  CHECK_EQ(rmem_validate(r), 0);
  check_intact(r, c);
  /* strict destroy refuses while objects live, and the cache stays usable */
  slab_cache_t *s = rmem_slab_cache_create(r, "strict", 32, 0, RMEM_SLAB_STRICT);
  void *p = rmem_slab_alloc(s);
  CHECK_ERR(rmem_slab_cache_destroy(s), RMEM_EBUSY);
  check_intact(r, s);
  CHECK_EQ(rmem_slab_free(s, p), RMEM_OK);
  CHECK_EQ(rmem_slab_cache_destroy(s), RMEM_OK);
  CHECK_EQ(rmem_slab_cache_destroy(c), RMEM_OK);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_destroy(r), RMEM_OK);
}

static void test_bad_frees(void) {
  rmem_t *r = check_instance(8 << 20);
  rmem_t *r2 = check_instance(4 << 20);
  slab_cache_t *c = rmem_slab_cache_create(r, "a", 40, 0, 0);
  slab_cache_t *d = rmem_slab_cache_create(r, "b", 40, 0, 0);
  slab_cache_t *o = rmem_slab_cache_create(r2, "other", 40, 0, 0);
  char *p = rmem_slab_alloc(c), *q = rmem_slab_alloc(c);
  char *pd = rmem_slab_alloc(d), *po = rmem_slab_alloc(o);
  CHECK(p && q && pd && po);
  CHECK_ERR(rmem_slab_free(c, p + 8), RMEM_EBADPTR); /* interior */
  check_intact(r, c);
  CHECK_ERR(rmem_slab_free(c, pd), RMEM_EBADPTR); /* another cache of the same size */
  check_intact(r, c);
  CHECK_ERR(rmem_slab_free(c, po), RMEM_EBADPTR); /* another instance */
  check_intact(r, c);
  void *h = rmem_alloc(r, 40);
  CHECK_ERR(rmem_slab_free(c, h), RMEM_EBADPTR); /* a heap block */
  CHECK_ERR(rmem_free(r, p), RMEM_EBADPTR);      /* and the heap refuses cache objects */
  CHECK_EQ(rmem_free(r, h), RMEM_OK);
  arena_t *a = rmem_arena_create(r, 0, LIFETIME_TRANSIENT);
  void *pa = rmem_arena_alloc(a, 40);
  CHECK_ERR(rmem_slab_free(c, pa), RMEM_EBADPTR); /* arena memory */
  int local;
  CHECK_ERR(rmem_slab_free(c, &local), RMEM_EBADPTR);
  CHECK_ERR(rmem_slab_free(c, (char *)rmem_base(r) + (6 << 20)), RMEM_EBADPTR); /* never allocated */
  CHECK_ERR(rmem_slab_free(c, rmem_base(r)), RMEM_EBADPTR);                     /* the reserved page */
  /* the unused tail of a slab is not a slot */
  rmem_slab_stats_t st;
  CHECK_EQ(rmem_slab_cache_stats(c, &st), RMEM_OK);
  uintptr_t slab0 = (uintptr_t)p & ~(uintptr_t)(RMEM_PAGE_SIZE - 1);
  char *tail = (char *)slab0 + (st.slots / st.slabs) * 40;
  CHECK_ERR(rmem_slab_free(c, tail), RMEM_EBADPTR);
  CHECK_EQ(rmem_slab_free(c, NULL), RMEM_OK);
  check_intact(r, c);
  CHECK_EQ(rmem_slab_free(c, p), RMEM_OK);
  CHECK_ERR(rmem_slab_free(c, p), RMEM_EDOUBLEFREE);
  check_intact(r, c);
  CHECK_EQ(rmem_slab_cache_stats(c, &st), RMEM_OK);
  CHECK_EQ(st.objects_in_use, 1);
  CHECK_EQ(rmem_slab_free(c, q), RMEM_OK);
  CHECK_EQ(rmem_arena_destroy(a), RMEM_OK);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_validate(r2), 0);
  CHECK_EQ(rmem_destroy(r2), RMEM_OK);
  CHECK_EQ(rmem_destroy(r), RMEM_OK);
}

static void test_handles(void) {
  rmem_t *r = check_instance(8 << 20);
  slab_cache_t *c = rmem_slab_cache_create(r, "h", 24, 0, 0);
  uint32_t idx = 0, gen = 0;
  CHECK_EQ(rmem_slab_cache_index(c, &idx, &gen), RMEM_OK);
  CHECK(rmem_slab_cache_from_index(r, idx, gen) == c);
  CHECK_NULL_ERR(rmem_slab_cache_from_index(r, idx, gen + 1), RMEM_ESTALE);
  CHECK_NULL_ERR(rmem_slab_cache_from_index(r, 0, gen), RMEM_EBADPTR);
  CHECK_NULL_ERR(rmem_slab_cache_from_index(r, 9999, gen), RMEM_EBADPTR);
  CHECK_ERR(rmem_slab_cache_index(c, NULL, &gen), RMEM_EINVAL);
  void *p = rmem_slab_alloc(c);

  /* forged handles are refused without being followed */
  int local[128];
  void *hb = rmem_alloc(r, 256);
  arena_t *arena = rmem_arena_create(r, 0, LIFETIME_TRANSIENT);
  slab_cache_t *forged[] = {(slab_cache_t *)local, (slab_cache_t *)hb, (slab_cache_t *)((char *)c + 16),
                            (slab_cache_t *)((char *)c + 3), (slab_cache_t *)(uintptr_t)0x1000,
                            (slab_cache_t *)arena, (slab_cache_t *)((char *)c + 256 * 40)};
  for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
    CHECK_NULL_ERR(rmem_slab_alloc(forged[i]), RMEM_EBADPTR);
    CHECK_ERR(rmem_slab_free(forged[i], p), RMEM_EBADPTR);
    CHECK_ERR(rmem_slab_cache_destroy(forged[i]), RMEM_EBADPTR);
    CHECK_ERR(rmem_slab_cache_shrink(forged[i]), RMEM_EBADPTR);
    rmem_slab_stats_t st;
    CHECK_ERR(rmem_slab_cache_stats(forged[i], &st), RMEM_EBADPTR);
  }
  /* and an arena call does not accept a cache */
  CHECK_NULL_ERR(rmem_arena_alloc((arena_t *)c, 8), RMEM_EBADPTR);
  CHECK_NULL_ERR(rmem_slab_alloc(NULL), RMEM_EINVAL);
  CHECK_ERR(rmem_slab_free(NULL, p), RMEM_EINVAL);
  check_intact(r, c);

  /* destroyed: every call reports RMEM_ESTALE */
  CHECK_EQ(rmem_slab_cache_destroy(c), RMEM_OK);
  CHECK_NULL_ERR(rmem_slab_alloc(c), RMEM_ESTALE);
  CHECK_ERR(rmem_slab_free(c, p), RMEM_ESTALE);
  CHECK_ERR(rmem_slab_cache_destroy(c), RMEM_ESTALE);
  CHECK_ERR(rmem_slab_cache_shrink(c), RMEM_ESTALE);
  rmem_slab_stats_t st;
  CHECK_ERR(rmem_slab_cache_stats(c, &st), RMEM_ESTALE);
  CHECK_ERR(rmem_slab_cache_walk(c, count_slots, NULL), RMEM_ESTALE);
  CHECK_NULL_ERR(rmem_slab_cache_from_index(r, idx, gen), RMEM_ESTALE);
  CHECK_NULL_ERR(rmem_slab_cache_instance(c), RMEM_ESTALE);
  /* the freed object's slab went back with the cache */
  slab_cache_t *c2 = rmem_slab_cache_create(r, "h2", 24, 0, 0);
  CHECK(c2 != c); /* no immediate reuse */
  CHECK_ERR(rmem_slab_free(c2, p), RMEM_EBADPTR);
  CHECK_EQ(rmem_validate(r), 0);
  for (int i = 0; i < 500; i++) {
    slab_cache_t *x = rmem_slab_cache_create(r, NULL, 8, 0, 0);
    CHECK(x != NULL && x != c);
    CHECK_EQ(rmem_slab_cache_destroy(x), RMEM_OK);
  }
  CHECK_NULL_ERR(rmem_slab_alloc(c), RMEM_ESTALE);
  CHECK_EQ(rmem_free(r, hb), RMEM_OK);
  CHECK_EQ(rmem_validate(r), 0);
  /* caches of a destroyed instance */
  CHECK_EQ(rmem_destroy(r), RMEM_OK);
  CHECK_NULL_ERR(rmem_slab_alloc(c2), RMEM_EBADPTR);
  CHECK_ERR(rmem_slab_cache_destroy(c2), RMEM_EBADPTR);
}

typedef struct obj {
  int cache;
  unsigned char *p;
  unsigned char tag;
} obj_t;

#define NCACHES 5
#define MAXOBJ 6000

static void test_stress(void) {
  rmem_t *r = check_instance(32 << 20);
  size_t sizes[NCACHES] = {8, 24, 100, 700, 5000};
  size_t aligns[NCACHES] = {0, 8, 64, 0, 4096};
  slab_cache_t *cs[NCACHES];
  for (int i = 0; i < NCACHES; i++) cs[i] = rmem_slab_cache_create(r, "stress", sizes[i], aligns[i], 0);
  static obj_t objs[MAXOBJ];
  int n = 0;
  uint64_t seed = 7;
  size_t bad_validations = 0, bad_patterns = 0;
  const int steps = 60000;
  for (int step = 0; step < steps; step++) {
    uint64_t x = check_rand(&seed);
    int k = (int)(x % NCACHES);
    unsigned op = (unsigned)((x >> 8) % 100);
    /* phases: grow, then shrink, so slabs empty out and go back */
    bool grow = (step / 5000) % 2 == 0;
    if ((op < (grow ? 60u : 35u)) && n < MAXOBJ) {
      unsigned char *p = rmem_slab_alloc(cs[k]);
      CHECK(p != NULL);
      if (!p) continue;
      if (aligns[k]) CHECK((uintptr_t)p % aligns[k] == 0);
      objs[n] = (obj_t){k, p, (unsigned char)(x >> 24)};
      memset(p, objs[n].tag, sizes[k]);
      n++;
    } else if (op < 97 && n > 0) {
      int i = (int)((x >> 16) % (uint64_t)n);
      obj_t *o = &objs[i];
      for (size_t b = 0; b < sizes[o->cache]; b++)
        if (o->p[b] != o->tag) {
          bad_patterns++;
          break;
        }
      int wrong = (o->cache + 1) % NCACHES;
      if ((x >> 40) % 10 == 0) CHECK_EQ(rmem_slab_free(cs[wrong], o->p), RMEM_EBADPTR);
      CHECK_EQ(rmem_slab_free(cs[o->cache], o->p), RMEM_OK);
      if ((x >> 44) % 10 == 0) {
        rmem_status_t st = rmem_slab_free(cs[o->cache], o->p);
        CHECK(st == RMEM_EDOUBLEFREE || st == RMEM_EBADPTR); /* EBADPTR once its empty slab went back */
      }
      objs[i] = objs[--n];
    } else if (op < 99) {
      CHECK_EQ(rmem_slab_cache_shrink(cs[k]), RMEM_OK);
    }
    if (rmem_validate(r) != 0) {
      bad_validations++;
      if (bad_validations < 5) fprintf(stderr, "step %d: %s\n", step, rmem_last_error_message());
    }
  }
  CHECK_EQ(bad_validations, 0);
  CHECK_EQ(bad_patterns, 0);
  size_t live = 0;
  for (int i = 0; i < NCACHES; i++) {
    rmem_slab_stats_t st;
    CHECK_EQ(rmem_slab_cache_stats(cs[i], &st), RMEM_OK);
    live += st.objects_in_use;
  }
  CHECK_EQ(live, (size_t)n);
  for (int i = 0; i < NCACHES; i++) CHECK_EQ(rmem_slab_cache_destroy(cs[i]), RMEM_OK);
  rmem_stats_t is;
  CHECK_EQ(rmem_stats(r, &is), RMEM_OK);
  CHECK_EQ(is.pages_in_use, 0);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_destroy(r), RMEM_OK);
}

static void test_options(void) {
  /* NO_TRACK: the test reads the junk in freed memory on purpose */
  rmem_options_t o = {.capacity = 4 << 20, .flags = RMEM_OPT_JUNK | RMEM_OPT_VALIDATE | RMEM_OPT_NO_TRACK};
  rmem_t *r = rmem_create(&o);
  slab_cache_t *c = rmem_slab_cache_create(r, "junk", 32, 0, 0);
  unsigned char *p = rmem_slab_alloc(c), *q = rmem_slab_alloc(c);
  CHECK(p && p[0] == 0xAB && p[31] == 0xAB);
  memset(q, 0x42, 32);
  CHECK_EQ(rmem_slab_free(c, p), RMEM_OK);
  CHECK(p[0] == 0xDF);
  CHECK_ERR(rmem_slab_free(c, p), RMEM_EDOUBLEFREE);
  CHECK_ERR(rmem_slab_free(c, p + 1), RMEM_EBADPTR);
  CHECK(q[0] == 0x42); /* a bad free junks nothing */
  CHECK_EQ(rmem_slab_free(c, q), RMEM_OK);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_destroy(r), RMEM_OK);
}

/*
 * C5: a cache whose fast paths are off (an instance with a debugging option, a destroyed cache) keeps a
 * stack of capacity 0, since the fast paths test the handle's registry alone: every call goes through the
 * checked paths and the engine, frees and double frees stay exact, and nothing waits on a stack.
 */
static void test_no_stack_when_slow(void) {
  rmem_options_t o = {.capacity = 4 << 20, .flags = RMEM_OPT_VALIDATE};
  rmem_t *r = rmem_create(&o);
  slab_cache_t *c = rmem_slab_cache_create(r, "slow", 48, 0, 0);
  rmem_cache_layout_t lay;
  CHECK_EQ(rmem_slab_cache_layout(c, &lay), RMEM_OK);
  CHECK(!lay.fast);
  CHECK_EQ(lay.stack[0], 0u);
  CHECK_EQ(lay.stack[1], 0u); /* capacity */
  void *p[40];
  for (int i = 0; i < 40; i++) CHECK((p[i] = rmem_slab_alloc(c)) != NULL);
  for (int i = 0; i < 40; i += 2) CHECK_EQ(rmem_slab_free(c, p[i]), RMEM_OK);
  CHECK_EQ(lay.stack[0], 0u); /* nothing stacked: back in the engine */
  CHECK_ERR(rmem_slab_free(c, p[0]), RMEM_EDOUBLEFREE);
  rmem_slab_stats_t st;
  CHECK_EQ(rmem_slab_cache_stats(c, &st), RMEM_OK);
  CHECK_EQ(st.objects_in_use, 20u);
  CHECK_EQ(st.allocs, 40u);
  CHECK_EQ(st.frees, 20u);
  void *q = rmem_slab_alloc(c); /* the lowest free slot again: the first freed */
  CHECK(q == p[0]);
  CHECK_EQ(rmem_slab_free(c, q), RMEM_OK);
  for (int i = 1; i < 40; i += 2) CHECK_EQ(rmem_slab_free(c, p[i]), RMEM_OK);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_destroy(r), RMEM_OK);

  /* a private, plain instance: the stack is there; destroyed, its calls see the stale handle */
  r = rmem_create(NULL);
  c = rmem_slab_cache_create(r, "fast", 48, 0, 0);
  CHECK_EQ(rmem_slab_cache_layout(c, &lay), RMEM_OK);
  CHECK(lay.fast && lay.stack[1] > 0);
  void *a = rmem_slab_alloc(c), *b = rmem_slab_alloc(c);
  uint32_t n = lay.stack[0]; /* what the first alloc's refill left */
  CHECK_EQ(rmem_slab_free(c, b), RMEM_OK);
  CHECK_EQ(lay.stack[0], n + 1);
  CHECK_EQ(rmem_slab_cache_destroy(c), RMEM_OK);
  CHECK_EQ(rmem_validate(r), 0); /* the dead cache's stack has no room (C5) */
  CHECK_NULL_ERR(rmem_slab_alloc(c), RMEM_ESTALE);
  CHECK_ERR(rmem_slab_free(c, a), RMEM_ESTALE);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_destroy(r), RMEM_OK);
}

/* A full table: ENOMEM, nothing changes; a destroyed slot is then reused at once. */
static void test_table_full(void) {
  rmem_t *r = check_instance(4 << 20);
  static slab_cache_t *cs[1 << 14];
  int n = 0;
  while (n < (1 << 14)) {
    slab_cache_t *c = rmem_slab_cache_create(r, NULL, 8, 0, 0);
    if (!c) break;
    cs[n++] = c;
  }
  CHECK_EQ(n, (1 << 14) - 1); /* index 0 is never used */
  CHECK_EQ(rmem_last_error(), RMEM_ENOMEM);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_slab_cache_destroy(cs[100]), RMEM_OK);
  slab_cache_t *again = rmem_slab_cache_create(r, "again", 8, 0, 0);
  CHECK(again == cs[100]); /* the table is full: the dead slot is reused before the quarantine ends */
  uint32_t idx, gen;
  CHECK_EQ(rmem_slab_cache_index(again, &idx, &gen), RMEM_OK);
  CHECK_EQ(gen, 2);
  CHECK_NULL_ERR(rmem_slab_cache_from_index(r, idx, 1), RMEM_ESTALE);
  check_intact(r, again);
  CHECK_EQ(rmem_destroy(r), RMEM_OK);
}

int main(void) {
  test_seed_names();
  test_create();
  test_stats_walk_shrink();
  test_bad_frees();
  test_handles();
  test_stress();
  test_options();
  test_no_stack_when_slow();
  test_table_full();
  return check_report("test_cache");
}
