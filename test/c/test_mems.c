/*
 * test_mems.c - MeMS (src/mems.c): the seed's README example line for line,
 * the seed's own example program, edge cases, every bad input (the error code
 * AND an intact structure afterwards), byte-exact address translation, a
 * deterministic randomized stress test checked against a naive reference
 * model and the validator, and the seed's names on the default instance.
 * test_mems_tree.c runs the same stress with tiny index nodes.
 *
 * Not a benchmark: bench/c/bench_mems.c measures speed.
 */
#include "internal.h"
#include "mems_test.h"
#include "platform.h"

/* printStats into a string (caller frees). */
static char *stats_of(rmem_t *r) {
  FILE *f = check_stream_open();
  if (!f) abort();
  rmem_status_t st = rmem_mems_print_stats(r, f);
  char *buf = check_stream_text(f);
  if (st != RMEM_OK) {
    free(buf);
    return strdup("<print_stats failed>");
  }
  return buf;
}

static void check_stats(rmem_t *r, const char *expected, int line) {
  char *s = stats_of(r);
  if (strcmp(s, expected) == 0) {
    check_passed++;
  } else {
    check_failed++;
    fprintf(stderr, "%s:%d: stats differ\n--- got:\n%s--- expected:\n%s---\n", __FILE__, line, s, expected);
  }
  free(s);
}
#define CHECK_STATS(r, expected) check_stats((r), (expected), __LINE__)

static bool in_instance(rmem_t *r, const void *p, size_t n) {
  uintptr_t a = (uintptr_t)p, b = (uintptr_t)rmem_base(r);
  return a >= b + RMEM_PAGE_SIZE && a + n <= b + rmem_capacity(r) - RMEM_PAGE_SIZE;
}

/* ------------------------------------------------------------------------ */

/* The seed README's example: init, malloc(1000), get, printStats, free, printStats, finish. */
static void test_seed_readme(void) {
  rmem_t *r = make(0, 0);
  CHECK(rmem_mems_init(r) == RMEM_OK);
  uintptr_t v = rmem_mems_malloc(r, 1000);
  CHECK(v == 1000);
  void *p = rmem_mems_get(r, v);
  CHECK(p != NULL && in_instance(r, p, 1000));
  CHECK_STATS(r,
              "MeMS Stats:\n"
              "MAIN[1000:5095] -> <P>[SVA:1000:EVA:1999] <-> <H>[SVA:2000:EVA:5095] <-> <NULL>\n"
              "Page used: 1\n"
              "Space unused: 3096\n"
              "Main Chain Length: 1\n"
              "Sub-chain Length array: 2\n");
  CHECK(rmem_mems_free(r, v) == RMEM_OK);
  CHECK_STATS(r,
              "MeMS Stats:\n"
              "MAIN[1000:5095] -> <H>[SVA:1000:EVA:5095] <-> <NULL>\n"
              "Page used: 1\n"
              "Space unused: 4096\n"
              "Main Chain Length: 1\n"
              "Sub-chain Length array: 1\n");
  CHECK(rmem_mems_validate(r) == 0);
  CHECK(rmem_mems_finish(r) == RMEM_OK);
  rmem_stats_t st;
  CHECK(rmem_stats(r, &st) == RMEM_OK && st.pages_in_use == 0);
  CHECK(rmem_validate(r) == 0);
  rmem_destroy(r);
}

/* The seed's own example program (example.c / main in mems.c): 10 x malloc(sizeof(int) * 250) ... */
static void test_seed_example_program(void) {
  rmem_t *r = make(0, 0);
  CHECK(rmem_mems_init(r) == RMEM_OK);
  uintptr_t ptr[10];
  static const uintptr_t want[10] = {1000, 2000, 3000, 4000, 5096, 6096, 7096, 8096, 9192, 10192};
  for (int i = 0; i < 10; i++) {
    ptr[i] = rmem_mems_malloc(r, sizeof(int) * 250);
    CHECK(ptr[i] == want[i]);
  }
  const char *ten =
      "MeMS Stats:\n"
      "MAIN[1000:5095] -> <P>[SVA:1000:EVA:1999] <-> <P>[SVA:2000:EVA:2999] <-> <P>[SVA:3000:EVA:3999] <-> "
      "<P>[SVA:4000:EVA:4999] <-> <H>[SVA:5000:EVA:5095] <-> <NULL>\n"
      "MAIN[5096:9191] -> <P>[SVA:5096:EVA:6095] <-> <P>[SVA:6096:EVA:7095] <-> <P>[SVA:7096:EVA:8095] <-> "
      "<P>[SVA:8096:EVA:9095] <-> <H>[SVA:9096:EVA:9191] <-> <NULL>\n"
      "MAIN[9192:13287] -> <P>[SVA:9192:EVA:10191] <-> <P>[SVA:10192:EVA:11191] <-> <H>[SVA:11192:EVA:13287] <-> "
      "<NULL>\n"
      "Page used: 3\n"
      "Space unused: 2288\n"
      "Main Chain Length: 3\n"
      "Sub-chain Length array: 5 5 3\n";
  CHECK_STATS(r, ten);

  /* mems_get(&ptr[0][1]) is the physical address of byte 4 of the first segment */
  int *phy = rmem_mems_get(r, ptr[0] + sizeof(int));
  int *phy0 = rmem_mems_get(r, ptr[0]);
  CHECK(phy != NULL && phy0 != NULL && phy == phy0 + 1);
  phy[0] = 200;
  CHECK(phy0[1] == 200);

  CHECK(rmem_mems_free(r, ptr[3]) == RMEM_OK); /* merges with the 96-byte hole after it */
  CHECK_STATS(r,
              "MeMS Stats:\n"
              "MAIN[1000:5095] -> <P>[SVA:1000:EVA:1999] <-> <P>[SVA:2000:EVA:2999] <-> <P>[SVA:3000:EVA:3999] <-> "
              "<H>[SVA:4000:EVA:5095] <-> <NULL>\n"
              "MAIN[5096:9191] -> <P>[SVA:5096:EVA:6095] <-> <P>[SVA:6096:EVA:7095] <-> <P>[SVA:7096:EVA:8095] <-> "
              "<P>[SVA:8096:EVA:9095] <-> <H>[SVA:9096:EVA:9191] <-> <NULL>\n"
              "MAIN[9192:13287] -> <P>[SVA:9192:EVA:10191] <-> <P>[SVA:10192:EVA:11191] <-> "
              "<H>[SVA:11192:EVA:13287] <-> <NULL>\n"
              "Page used: 3\n"
              "Space unused: 3288\n"
              "Main Chain Length: 3\n"
              "Sub-chain Length array: 4 5 3\n");
  ptr[3] = rmem_mems_malloc(r, sizeof(int) * 250);
  CHECK(ptr[3] == 4000); /* first fit, in chain order */
  CHECK_STATS(r, ten);
  CHECK(phy0[1] == 200); /* nothing moved */

  rmem_mems_stats_t ms;
  CHECK(rmem_mems_stats(r, &ms) == RMEM_OK);
  CHECK(ms.pages_used == 3 && ms.space_unused == 2288 && ms.main_chain_length == 3 && ms.segments == 13 &&
        ms.process_segments == 10 && ms.hole_segments == 3 && ms.bytes_in_use == 10000);
  CHECK(rmem_mems_finish(r) == RMEM_OK);
  rmem_destroy(r);
}

static void test_edges(void) {
  rmem_t *r = make(0, 0);
  CHECK(rmem_mems_init(r) == RMEM_OK);
  CHECK(rmem_mems_init(r) == RMEM_OK); /* a second init keeps everything (documented) */

  /* an exact page fit leaves no hole */
  CHECK(rmem_mems_malloc(r, 4096) == 1000);
  CHECK_STATS(r,
              "MeMS Stats:\n"
              "MAIN[1000:5095] -> <P>[SVA:1000:EVA:5095] <-> <NULL>\n"
              "Page used: 1\n"
              "Space unused: 0\n"
              "Main Chain Length: 1\n"
              "Sub-chain Length array: 1\n");
  /* 4097 bytes take two pages */
  CHECK(rmem_mems_malloc(r, 4097) == 5096);
  CHECK(rmem_mems_malloc(r, 1) == 9193); /* the 4095-byte hole serves it */
  CHECK(rmem_mems_init(r) == RMEM_OK);   /* still a no-op with live segments */
  CHECK_STATS(r,
              "MeMS Stats:\n"
              "MAIN[1000:5095] -> <P>[SVA:1000:EVA:5095] <-> <NULL>\n"
              "MAIN[5096:13287] -> <P>[SVA:5096:EVA:9192] <-> <P>[SVA:9193:EVA:9193] <-> <H>[SVA:9194:EVA:13287] <-> "
              "<NULL>\n"
              "Page used: 3\n"
              "Space unused: 4094\n"
              "Main Chain Length: 2\n"
              "Sub-chain Length array: 1 3\n");
  /* every byte of the two-page segment translates, across the page boundary */
  char *p = rmem_mems_get(r, 5096);
  bool ok = p != NULL;
  for (size_t k = 0; ok && k < 4097; k++) ok = rmem_mems_get(r, 5096 + k) == p + k;
  CHECK(ok);
  memset(p, 0x5A, 4097);
  CHECK(rmem_mems_finish(r) == RMEM_OK);

  /* finish, then init starts at 1000 again; nothing of the old state remains */
  CHECK(rmem_mems_init(r) == RMEM_OK);
  CHECK(rmem_mems_malloc(r, 10) == 1000);
  CHECK_STATS(r,
              "MeMS Stats:\n"
              "MAIN[1000:5095] -> <P>[SVA:1000:EVA:1009] <-> <H>[SVA:1010:EVA:5095] <-> <NULL>\n"
              "Page used: 1\n"
              "Space unused: 4086\n"
              "Main Chain Length: 1\n"
              "Sub-chain Length array: 2\n");
  CHECK(rmem_mems_finish(r) == RMEM_OK);

  /* an empty MeMS prints no MAIN line and an empty array */
  CHECK(rmem_mems_init(r) == RMEM_OK);
  CHECK_STATS(r,
              "MeMS Stats:\n"
              "Page used: 0\n"
              "Space unused: 0\n"
              "Main Chain Length: 0\n"
              "Sub-chain Length array:\n");

  /* many main nodes (the seed overflowed a fixed array past 100) */
  for (int i = 0; i < 150; i++) CHECK(rmem_mems_malloc(r, 4096) == 1000 + (uintptr_t)i * 4096);
  char *s = stats_of(r);
  size_t mains = 0;
  for (char *q = s; (q = strstr(q, "MAIN[")) != NULL; q++) mains++;
  CHECK(mains == 150);
  CHECK(strstr(s, "MAIN[611304:615399] -> <P>[SVA:611304:EVA:615399] <-> <NULL>\n") != NULL);
  CHECK(strstr(s, "Page used: 150\nSpace unused: 0\nMain Chain Length: 150\n") != NULL);
  char expect[1024] = "Sub-chain Length array:";
  for (int i = 0; i < 150; i++) strcat(expect, " 1");
  strcat(expect, "\n");
  size_t el = strlen(expect), sl = strlen(s);
  CHECK(sl >= el && strcmp(s + sl - el, expect) == 0);
  free(s);

  /* holes never merge across main nodes; first fit takes the earliest hole in chain order */
  CHECK(rmem_mems_free(r, 1000 + 148 * 4096) == RMEM_OK);
  CHECK(rmem_mems_free(r, 1000 + 149 * 4096) == RMEM_OK);
  CHECK(rmem_mems_free(r, 1000 + 3 * 4096) == RMEM_OK);
  rmem_mems_stats_t ms;
  CHECK(rmem_mems_stats(r, &ms) == RMEM_OK && ms.hole_segments == 3 && ms.segments == 150);
  CHECK(rmem_mems_malloc(r, 100) == 1000 + 3 * 4096);
  CHECK(rmem_mems_malloc(r, 4000) == 1000 + 148 * 4096); /* main 3's hole is only 3996 now */
  CHECK(rmem_mems_malloc(r, 4096) == 1000 + 149 * 4096);
  CHECK(rmem_mems_malloc(r, 3996) == 1000 + 3 * 4096 + 100);
  CHECK(rmem_mems_validate(r) == 0);

  /* merging on both sides: A B C -> free A, free C, free B -> one hole */
  CHECK(rmem_mems_finish(r) == RMEM_OK);
  CHECK(rmem_mems_init(r) == RMEM_OK);
  uintptr_t a = rmem_mems_malloc(r, 100), b = rmem_mems_malloc(r, 200), c = rmem_mems_malloc(r, 300);
  uintptr_t d = rmem_mems_malloc(r, 3496); /* fills the page exactly */
  CHECK(a == 1000 && b == 1100 && c == 1300 && d == 1600);
  CHECK(rmem_mems_free(r, a) == RMEM_OK);
  CHECK(rmem_mems_free(r, c) == RMEM_OK);
  CHECK_STATS(r,
              "MeMS Stats:\n"
              "MAIN[1000:5095] -> <H>[SVA:1000:EVA:1099] <-> <P>[SVA:1100:EVA:1299] <-> <H>[SVA:1300:EVA:1599] <-> "
              "<P>[SVA:1600:EVA:5095] <-> <NULL>\n"
              "Page used: 1\n"
              "Space unused: 400\n"
              "Main Chain Length: 1\n"
              "Sub-chain Length array: 4\n");
  CHECK(rmem_mems_free(r, b) == RMEM_OK);
  CHECK_STATS(r,
              "MeMS Stats:\n"
              "MAIN[1000:5095] -> <H>[SVA:1000:EVA:1599] <-> <P>[SVA:1600:EVA:5095] <-> <NULL>\n"
              "Page used: 1\n"
              "Space unused: 600\n"
              "Main Chain Length: 1\n"
              "Sub-chain Length array: 2\n");
  CHECK(rmem_mems_free(r, d) == RMEM_OK);
  CHECK_STATS(r,
              "MeMS Stats:\n"
              "MAIN[1000:5095] -> <H>[SVA:1000:EVA:5095] <-> <NULL>\n"
              "Page used: 1\n"
              "Space unused: 4096\n"
              "Main Chain Length: 1\n"
              "Sub-chain Length array: 1\n");
  /* a freed main node is reused whole */
  CHECK(rmem_mems_malloc(r, 4096) == 1000);
  CHECK(rmem_mems_validate(r) == 0);
  rmem_destroy(r); /* with live segments: rmem_destroy frees MeMS too (no leak under ASan) */
}

typedef struct find_state {
  rmem_t *r;
  size_t n, bad;
} find_state_t;

static int find_visit(const rmem_mems_segment_t *s, void *arg) {
  find_state_t *fs = arg;
  size_t probes[3] = {s->sva, s->sva + (s->eva - s->sva) / 2, s->eva};
  for (int k = 0; k < 3; k++) {
    rmem_mems_segment_t f;
    if (rmem_mems_find(fs->r, probes[k], &f) != RMEM_OK || f.sva != s->sva || f.eva != s->eva || f.kind != s->kind ||
        f.main_index != s->main_index || f.physical != s->physical)
      fs->bad++;
  }
  fs->n++;
  return 0;
}

/* get(v + k) == get(v) + k for every byte of random segments, and the bytes are really usable. */
static void test_translation(void) {
  rmem_t *r = make(0, 0);
  CHECK(rmem_mems_init(r) == RMEM_OK);
  rng_state = 12345;
  enum { N = 60 };
  uintptr_t v[N];
  size_t sz[N];
  for (int i = 0; i < N; i++) {
    sz[i] = 1 + rnd() % 10000;
    v[i] = rmem_mems_malloc(r, sz[i]);
    CHECK(v[i] != 0);
    if (i % 3 == 0 && i > 0) { /* punch holes so later segments land in several main nodes and holes */
      CHECK(rmem_mems_free(r, v[i - 1]) == RMEM_OK);
      v[i - 1] = 0;
    }
  }
  size_t bad = 0;
  for (int i = 0; i < N; i++) {
    if (!v[i]) continue;
    unsigned char *base = rmem_mems_get(r, v[i]);
    if (!base || !in_instance(r, base, sz[i])) {
      bad++;
      continue;
    }
    for (size_t k = 0; k < sz[i]; k++) {
      if (rmem_mems_get(r, v[i] + k) != base + k) bad++;
      base[k] = (unsigned char)(i + k);
    }
  }
  CHECK(bad == 0);
  for (int i = 0; i < N; i++) { /* no segment's bytes overlap another's */
    if (!v[i]) continue;
    unsigned char *base = rmem_mems_get(r, v[i]);
    for (size_t k = 0; k < sz[i]; k++)
      if (base[k] != (unsigned char)(i + k)) bad++;
  }
  CHECK(bad == 0);
  /* find agrees with walk for every segment, at its first, a middle and its last byte */
  find_state_t fs = {.r = r};
  CHECK(rmem_mems_walk(r, find_visit, &fs) == RMEM_OK);
  CHECK(fs.n > N / 2 && fs.bad == 0);
  rmem_mems_segment_t seg;
  CHECK(rmem_mems_find(r, 999, &seg) == RMEM_EBADPTR);
  CHECK_FAILED(r, RMEM_EBADPTR);
  CHECK(rmem_mems_find(r, 1000, NULL) == RMEM_EINVAL);
  CHECK_FAILED(r, RMEM_EINVAL);
  CHECK(rmem_mems_validate(r) == 0);
  rmem_destroy(r);
}

/* The largest instance: offsets and sizes reach just below 2^32 and still add up. */
static void test_largest_instance(void) {
  rmem_t *r = make(RMEM_MAX_CAPACITY, 0);
  CHECK(rmem_mems_init(r) == RMEM_OK);
  size_t most = rmem_capacity(r) - 2 * RMEM_PAGE_SIZE; /* every page but the two reserved ones */
  CHECK(rmem_mems_malloc(r, most + 1) == 0); /* one byte more than the instance can ever hold */
  CHECK_FAILED(r, RMEM_ENOMEM);
  uintptr_t a = rmem_mems_malloc(r, most - 10);
  CHECK(a == 1000);
  uintptr_t b = rmem_mems_malloc(r, 10); /* the last 10 bytes of the range */
  CHECK(b == 1000 + most - 10);
  char *pa = rmem_mems_get(r, a), *pb = rmem_mems_get(r, b + 9);
  CHECK(pa && pb && pb == pa + most - 1);
  CHECK(in_instance(r, pb, 1));
  if (pb) *pb = 1; /* touches one page only */
  CHECK(rmem_mems_malloc(r, 1) == 0);
  CHECK_FAILED(r, RMEM_ENOMEM);
  CHECK(rmem_mems_free(r, a) == RMEM_OK);
  CHECK(rmem_mems_free(r, b) == RMEM_OK);
  rmem_mems_stats_t ms;
  CHECK(rmem_mems_stats(r, &ms) == RMEM_OK && ms.space_unused == most && ms.segments == 1);
  CHECK(rmem_mems_validate(r) == 0);
  CHECK(rmem_mems_finish(r) == RMEM_OK);
  rmem_destroy(r);
}

/* Every bad input: the right code, and the structure unchanged. */
static void test_bad_input(void) {
  rmem_t *r = make(RMEM_MIN_CAPACITY, 0); /* 1 MiB: 254 usable pages */
  rmem_clear_error();

  /* not initialised */
  CHECK(rmem_mems_malloc(r, 10) == 0);
  CHECK(rmem_last_error() == RMEM_ENOTINIT);
  CHECK(rmem_mems_free(r, 1000) == RMEM_ENOTINIT);
  CHECK(rmem_mems_get(r, 1000) == NULL && rmem_last_error() == RMEM_ENOTINIT);
  CHECK(rmem_mems_print_stats(r, NULL) == RMEM_ENOTINIT);
  rmem_mems_stats_t ms;
  CHECK(rmem_mems_stats(r, &ms) == RMEM_ENOTINIT);
  CHECK(rmem_mems_finish(r) == RMEM_ENOTINIT);
  CHECK(rmem_mems_validate(r) == 0);
  /* no instance at all */
  CHECK(rmem_mems_init(NULL) == RMEM_ENOTINIT);
  CHECK(rmem_mems_malloc(NULL, 10) == 0 && rmem_last_error() == RMEM_ENOTINIT);
  CHECK(rmem_mems_free(NULL, 1000) == RMEM_ENOTINIT);
  CHECK(rmem_mems_get(NULL, 1000) == NULL && rmem_last_error() == RMEM_ENOTINIT);
  CHECK(rmem_mems_validate(NULL) == 1 && rmem_last_error() == RMEM_ENOTINIT);
  rmem_clear_error();

  CHECK(rmem_mems_init(r) == RMEM_OK);
  uintptr_t a = rmem_mems_malloc(r, 1000), b = rmem_mems_malloc(r, 1000);
  CHECK(a == 1000 && b == 2000);
  CHECK(rmem_mems_free(r, a) == RMEM_OK);
  char *before = stats_of(r);

  rmem_clear_error();
  CHECK(rmem_mems_malloc(r, 0) == 0);
  CHECK_FAILED(r, RMEM_EINVAL);
  CHECK(rmem_mems_malloc(r, SIZE_MAX) == 0); /* a size of -1 from JS: refused, nothing mapped */
  CHECK_FAILED(r, RMEM_ERANGE);
  CHECK(rmem_mems_malloc(r, (size_t)1 << 40) == 0);
  CHECK_FAILED(r, RMEM_ERANGE);
  CHECK(rmem_mems_malloc(r, RMEM_MAX_CAPACITY + 1) == 0); /* no instance could hold it */
  CHECK_FAILED(r, RMEM_ERANGE);
  CHECK(rmem_mems_malloc(r, RMEM_MIN_CAPACITY) == 0); /* more than this instance's usable pages: never fits */
  CHECK_FAILED(r, RMEM_ENOMEM);
  CHECK(rmem_mems_malloc(r, 254 * 4096) == 0); /* would fit an empty instance, not this one */
  CHECK_FAILED(r, RMEM_ENOMEM);

  CHECK(rmem_mems_free(r, 0) == RMEM_EBADPTR);
  CHECK_FAILED(r, RMEM_EBADPTR);
  CHECK(rmem_mems_free(r, 999) == RMEM_EBADPTR);
  CHECK_FAILED(r, RMEM_EBADPTR);
  CHECK(rmem_mems_free(r, 5096) == RMEM_EBADPTR); /* just past the last main node */
  CHECK_FAILED(r, RMEM_EBADPTR);
  CHECK(rmem_mems_free(r, UINTPTR_MAX) == RMEM_EBADPTR);
  CHECK_FAILED(r, RMEM_EBADPTR);
  CHECK(rmem_mems_free(r, b + 1) == RMEM_EBADPTR); /* interior */
  CHECK_FAILED(r, RMEM_EBADPTR);
  CHECK(rmem_mems_free(r, b + 999) == RMEM_EBADPTR);
  CHECK_FAILED(r, RMEM_EBADPTR);
  CHECK(rmem_mems_free(r, a) == RMEM_EDOUBLEFREE); /* double free */
  CHECK_FAILED(r, RMEM_EDOUBLEFREE);
  CHECK(rmem_mems_free(r, a + 10) == RMEM_EDOUBLEFREE); /* inside a hole */
  CHECK_FAILED(r, RMEM_EDOUBLEFREE);
  CHECK(rmem_mems_free(r, 3000) == RMEM_EDOUBLEFREE); /* the hole after b */
  CHECK_FAILED(r, RMEM_EDOUBLEFREE);

  CHECK(rmem_mems_get(r, a) == NULL); /* freed: in a hole */
  CHECK_FAILED(r, RMEM_EBADPTR);
  CHECK(rmem_mems_get(r, 4000) == NULL);
  CHECK_FAILED(r, RMEM_EBADPTR);
  CHECK(rmem_mems_get(r, 5096) == NULL);
  CHECK_FAILED(r, RMEM_EBADPTR);
  CHECK(rmem_mems_get(r, 0) == NULL);
  CHECK_FAILED(r, RMEM_EBADPTR);
  CHECK(rmem_mems_get(r, b + 999) != NULL); /* the last byte is fine */

  CHECK(rmem_mems_stats(r, NULL) == RMEM_EINVAL);
  CHECK_FAILED(r, RMEM_EINVAL);
  CHECK(rmem_mems_walk(r, NULL, NULL) == RMEM_EINVAL);
  CHECK_FAILED(r, RMEM_EINVAL);

  /* MeMS pages are not the heap's: rmem_free refuses them */
  void *phys = rmem_mems_get(r, b);
  CHECK(rmem_free(r, phys) == RMEM_EBADPTR);
  CHECK_FAILED(r, RMEM_EBADPTR);

  char *after = stats_of(r);
  CHECK_EQ_STR(after, before);
  free(before);
  free(after);

  /* after finish, everything is ENOTINIT again */
  CHECK(rmem_mems_finish(r) == RMEM_OK);
  CHECK(rmem_mems_malloc(r, 1) == 0 && rmem_last_error() == RMEM_ENOTINIT);
  CHECK(rmem_mems_free(r, 1000) == RMEM_ENOTINIT);
  CHECK(rmem_mems_get(r, 1000) == NULL && rmem_last_error() == RMEM_ENOTINIT);
  CHECK(rmem_mems_finish(r) == RMEM_ENOTINIT);
  CHECK(rmem_validate(r) == 0);
  rmem_destroy(r);
}

/* The whole instance fills up and empties again: ENOMEM, then everything is usable after frees. */
static void test_exhaustion(void) {
  rmem_t *r = make(RMEM_MIN_CAPACITY, 0);
  CHECK(rmem_mems_init(r) == RMEM_OK);
  size_t n = 0;
  uintptr_t v[300];
  for (;;) {
    uintptr_t x = rmem_mems_malloc(r, 4096);
    if (!x) break;
    CHECK(n < 300);
    if (n < 300) v[n++] = x;
  }
  CHECK(rmem_last_error() == RMEM_ENOMEM);
  CHECK(n == 254);
  CHECK(rmem_mems_validate(r) == 0);
  for (size_t i = 0; i < n; i += 2) CHECK(rmem_mems_free(r, v[i]) == RMEM_OK);
  for (size_t i = 0; i < n; i += 2) CHECK(rmem_mems_malloc(r, 4096) == v[i]);
  CHECK(rmem_mems_malloc(r, 1) == 0 && rmem_last_error() == RMEM_ENOMEM);
  CHECK(rmem_mems_validate(r) == 0);
  CHECK(rmem_mems_finish(r) == RMEM_OK);
  CHECK(rmem_mems_init(r) == RMEM_OK);
  CHECK(rmem_mems_malloc(r, 254 * 4096) == 1000); /* every page came back */
  CHECK(rmem_validate(r) == 0);
  rmem_destroy(r);
}

/* finish really gives the memory back: touched MeMS pages stop being resident. */
static void test_finish_releases(void) {
  rmem_t *r = make(0, 0);
  CHECK(rmem_mems_init(r) == RMEM_OK);
  size_t n = (size_t)4 << 20;
  uintptr_t v = rmem_mems_malloc(r, n);
  char *p = rmem_mems_get(r, v);
  CHECK(p != NULL);
  if (p) memset(p, 0x77, n);
  rmem_stats_t before, after;
  CHECK(rmem_stats(r, &before) == RMEM_OK);
  CHECK(before.pages_in_use >= n);
  CHECK(rmem_mems_finish(r) == RMEM_OK);
  CHECK(rmem_stats(r, &after) == RMEM_OK);
  CHECK(after.pages_in_use == 0);
  if (before.resident != 0) { /* mincore works here: the 4 MiB must have left */
    CHECK(before.resident >= n);
    CHECK(after.resident + n <= before.resident);
  }
  CHECK(rmem_validate(r) == 0);
  rmem_destroy(r);
}

/* The validator can fail: a MeMS page relabelled in the pagemap is reported, and only that. */
static void test_validator_detects(void) {
  rmem_t *r = make(0, 0);
  CHECK(rmem_mems_init(r) == RMEM_OK);
  uintptr_t v = rmem_mems_malloc(r, 5000);
  CHECK(rmem_mems_validate(r) == 0);
  rmem_pme_t *e = rmem_pme_of(r, (uintptr_t)rmem_mems_get(r, v) + 4096);
  uint8_t kind = e->kind;
  e->kind = RMEM_PK_ARENA;
  CHECK(rmem_mems_validate(r) > 0);
  CHECK(rmem_last_error() == RMEM_ECORRUPT);
  CHECK(rmem_validate(r) > 0); /* rmem_validate covers MeMS */
  e->kind = kind;
  rmem_clear_error();
  CHECK(rmem_mems_validate(r) == 0);
  CHECK(rmem_validate(r) == 0);
  rmem_destroy(r);
}

typedef struct walk_state {
  size_t n, stop_after;
  uintptr_t next_sva;
  size_t bad;
} walk_state_t;

static int walk_visit(const rmem_mems_segment_t *s, void *arg) {
  walk_state_t *w = arg;
  if (s->sva != w->next_sva || s->eva < s->sva) w->bad++;
  w->next_sva = s->eva + 1;
  return ++w->n == w->stop_after;
}

static void test_walk_and_flags(void) {
  rmem_t *r = make(0, RMEM_OPT_JUNK | RMEM_OPT_VALIDATE | RMEM_OPT_NO_TRACK); /* reads freed junk on purpose */
  CHECK(rmem_mems_init(r) == RMEM_OK);
  uintptr_t a = rmem_mems_malloc(r, 3000), b = rmem_mems_malloc(r, 3000), c = rmem_mems_malloc(r, 500);
  CHECK(a && b && c);
  unsigned char *pa = rmem_mems_get(r, a);
  bool junk = true;
  for (size_t k = 0; k < 3000; k++) junk = junk && pa[k] == 0xAB;
  CHECK(junk);
  CHECK(rmem_mems_free(r, a) == RMEM_OK);
  junk = true;
  for (size_t k = 0; k < 3000; k++) junk = junk && pa[k] == 0xDF;
  CHECK(junk);
  walk_state_t w = {.next_sva = 1000};
  CHECK(rmem_mems_walk(r, walk_visit, &w) == RMEM_OK);
  CHECK(w.n == 5 && w.bad == 0); /* H(3000) P(500) H(596) | P(3000) H(1096) */
  walk_state_t w2 = {.next_sva = 1000, .stop_after = 2};
  CHECK(rmem_mems_walk(r, walk_visit, &w2) == RMEM_OK && w2.n == 2);
  CHECK(rmem_mems_validate(r) == 0);
  rmem_destroy(r);
}


static void test_stress(void) {
  stress_opts_t o = {.seed = 0x9E3779B97F4A7C15ull,
                     .ops = 200000,
                     .model_ops = 20000,
                     .validate_all_ops = 4000,
                     .validate_every = 2000,
                     .max_live = 3000,
                     .vary_every = 20000,
                     .capacity = (size_t)256 << 20};
  mems_stress(&o);
}

/* ------------------------------------------------------------------------
 * The seed's names on the default instance (stdout captured for print_stats)
 * ------------------------------------------------------------------------ */

static void test_seed_names(void) {
  if (rmem_default()) rmem_shutdown_default();
  rmem_clear_error();
  CHECK(mems_malloc(10) == NULL && rmem_last_error() == RMEM_ENOTINIT);
  CHECK(mems_free((void *)1000) == RMEM_ENOTINIT);
  CHECK(mems_get((void *)1000) == NULL && rmem_last_error() == RMEM_ENOTINIT);
  CHECK(mems_finish() == RMEM_ENOTINIT);
  char *none = check_capture_stdout(mems_print_stats);
  CHECK_EQ_STR(none, ""); /* prints nothing, records the error, does not exit */
  free(none);
  CHECK(rmem_last_error() == RMEM_ENOTINIT);

  CHECK(mems_init() == RMEM_OK);
  void *v = mems_malloc(1000);
  CHECK(v == (void *)1000);
  int *phys = mems_get(v);
  CHECK(phys != NULL);
  *phys = 42;
  char *out = check_capture_stdout(mems_print_stats);
  CHECK_EQ_STR(out,
               "MeMS Stats:\n"
               "MAIN[1000:5095] -> <P>[SVA:1000:EVA:1999] <-> <H>[SVA:2000:EVA:5095] <-> <NULL>\n"
               "Page used: 1\n"
               "Space unused: 3096\n"
               "Main Chain Length: 1\n"
               "Sub-chain Length array: 2\n");
  free(out);
  CHECK(mems_free(v) == RMEM_OK);
  CHECK(mems_free(v) == RMEM_EDOUBLEFREE);
  CHECK(mems_malloc(0) == NULL && rmem_last_error() == RMEM_EINVAL);
  CHECK(mems_finish() == RMEM_OK);
  CHECK(mems_malloc(1) == NULL && rmem_last_error() == RMEM_ENOTINIT); /* after finish */
  CHECK(mems_init() == RMEM_OK);
  CHECK(mems_malloc(1) == (void *)1000);
  CHECK(rmem_validate(rmem_default()) == 0);
  CHECK(mems_finish() == RMEM_OK);
  CHECK(rmem_shutdown_default() == RMEM_OK);
}

int main(void) {
  test_seed_readme();
  test_seed_example_program();
  test_edges();
  test_translation();
  test_largest_instance();
  test_bad_input();
  test_exhaustion();
  test_finish_releases();
  test_validator_detects();
  test_walk_and_flags();
  test_stress();
  test_seed_names();
  return check_report("test_mems");
}
