/*
 * test_track.c - the bugs a C program commits in rmem memory are reported by
 * the tools C programmers run (src/track.h; after mimalloc's test-wrong.c).
 *
 * Each bug is committed once, in a child process (platform.h's
 * check_child_report), and the test reads the child's stderr for the tool's
 * report:
 *   AddressSanitizer  (the ASan+UBSan build: scripts/test-c.sh asan)
 *                     "use-after-poison" and "READ of size" / "WRITE of size";
 *                     a leak is not reported (LeakSanitizer does not know rmem's blocks)
 *   valgrind memcheck (the RMEM_VALGRIND build, run under valgrind: scripts/test-c.sh valgrind)
 *                     "Invalid read of size" / "Invalid write of size", and
 *                     "definitely lost" for the leaked block; valgrind writes
 *                     its report to the file of each process that
 *                     RMEM_TEST_VALGRIND_LOG names (valgrind's --log-file, with %p:
 *                     CMakeLists.txt sets both), which the test reads
 *   no tool           (the plain build, Windows) every child runs to its end and
 *                     nothing is reported -- what rmem's users had before.
 * The bugs: a read after free of a small and of a large heap block, a write
 * past the requested size (rmem_alloc(r, 13), byte 13 of its 16-byte block),
 * arena memory used after reset, rewind and destroy (also of r_arena_fast's
 * and of an intermediate arena's objects), a freed slab-cache object, a write
 * into a MeMS hole, and a leaked block. The same bugs in an instance created
 * with RMEM_OPT_NO_TRACK are reported by no tool.
 *
 * And rmem never trips over its own marks: every allocator runs with the
 * marks on -- junk fills, validation, realloc in place and moving, calloc,
 * usable size, leases, marks, destroys -- touching only what it was given,
 * and the tool reports nothing (any report fails this test's own process).
 */
#include "check.h"
#include "platform.h"

#include <stdbool.h>

#if defined(__SANITIZE_ADDRESS__)
#define TOOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TOOL_ASAN 1
#endif
#endif
#if defined(RMEM_VALGRIND) && RMEM_VALGRIND
#include <valgrind/memcheck.h>
#define TOOL_VALGRIND_BUILD 1
#endif

enum { TOOL_NONE, TOOL_ASAN_ON, TOOL_VALGRIND_ON };

static int tool(void) {
#if defined(TOOL_ASAN)
  return TOOL_ASAN_ON;
#elif defined(TOOL_VALGRIND_BUILD)
  return RUNNING_ON_VALGRIND ? TOOL_VALGRIND_ON : TOOL_NONE;
#else
  return TOOL_NONE;
#endif
}

/* The flags of the children's instances: 0, or RMEM_OPT_NO_TRACK for the runs that must stay silent. */
static unsigned child_flags;

static rmem_t *child_instance(void) {
  rmem_t *r = rmem_create(&(rmem_options_t){.capacity = 16u << 20, .flags = child_flags});
  if (!r) _exit(CHECK_CHILD_SETUP_FAILED);
  return r;
}

static void setup_check(const void *p) {
  if (!p) _exit(CHECK_CHILD_SETUP_FAILED);
}

/* A volatile access: the compiler keeps it. */
static unsigned char sink;
static void read_byte(const void *p) { sink = *(const volatile unsigned char *)p; }
static void write_byte(void *p) { *(volatile unsigned char *)p = 0x5A; }

/* ------------------------------------------------------------------------
 * The bugs, one per child
 * ------------------------------------------------------------------------ */

static void bug_read_freed_small(void) {
  rmem_t *r = child_instance();
  unsigned char *p = rmem_alloc(r, 64);
  setup_check(p);
  memset(p, 1, 64);
  rmem_free(r, p);
  read_byte(p + 8);
}

static void bug_read_freed_large(void) {
  rmem_t *r = child_instance();
  unsigned char *p = rmem_alloc(r, 100000);
  setup_check(p);
  memset(p, 1, 100000);
  rmem_free(r, p);
  read_byte(p + 50000);
}

static void bug_write_past_size(void) {
  rmem_t *r = child_instance();
  unsigned char *p = rmem_alloc(r, 13); /* a 16-byte block: bytes 13..15 are not the program's */
  setup_check(p);
  memset(p, 1, 13);
  write_byte(p + 13);
}

static void bug_arena_after_reset(void) {
  rmem_t *r = child_instance();
  arena_t *a = rmem_arena_create(r, 0, LIFETIME_TRANSIENT);
  setup_check(a);
  unsigned char *p = rmem_arena_alloc(a, 64);
  setup_check(p);
  memset(p, 1, 64);
  rmem_arena_reset(a);
  read_byte(p + 8);
}

static void bug_arena_fast_after_reset(void) {
  rmem_t *r = child_instance();
  arena_t *a = rmem_arena_create(r, 0, LIFETIME_PERSISTENT);
  setup_check(a);
  unsigned char *p = r_arena_fast(a, 48);
  setup_check(p);
  memset(p, 1, 48);
  rmem_arena_reset(a);
  write_byte(p);
}

static void bug_arena_after_rewind(void) {
  rmem_t *r = child_instance();
  arena_t *a = rmem_arena_create(r, 0, LIFETIME_TRANSIENT);
  setup_check(a);
  setup_check(rmem_arena_alloc(a, 32));
  rmem_arena_mark_t m = rmem_arena_mark(a);
  unsigned char *p = rmem_arena_alloc(a, 64);
  setup_check(p);
  rmem_arena_rewind(a, m);
  read_byte(p + 16);
}

static void bug_arena_after_destroy(void) {
  rmem_t *r = child_instance();
  arena_t *a = rmem_arena_create(r, 0, LIFETIME_TRANSIENT);
  setup_check(a);
  unsigned char *p = rmem_arena_alloc(a, 64);
  setup_check(p);
  memset(p, 1, 64);
  rmem_arena_destroy(a);
  read_byte(p);
}

static void bug_arena_object_after_free(void) {
  rmem_t *r = child_instance();
  arena_t *a = rmem_arena_create(r, 0, LIFETIME_INTERMEDIATE);
  setup_check(a);
  unsigned char *p = rmem_arena_alloc(a, 40);
  setup_check(p);
  memset(p, 1, 40);
  rmem_arena_free(a, p, 40);
  read_byte(p);
}

static void bug_read_freed_cache_object(void) {
  rmem_t *r = child_instance();
  slab_cache_t *c = rmem_slab_cache_create(r, "track", 48, 0, 0);
  setup_check(c);
  unsigned char *p = rmem_slab_alloc(c);
  setup_check(p);
  memset(p, 1, 48);
  rmem_slab_free(c, p);
  read_byte(p + 40);
}

static void bug_write_mems_hole(void) {
  rmem_t *r = child_instance();
  if (rmem_mems_init(r) != RMEM_OK) _exit(CHECK_CHILD_SETUP_FAILED);
  uintptr_t v = rmem_mems_malloc(r, 100); /* a main node of one page: the segment, then a hole */
  unsigned char *p = rmem_mems_get(r, v);
  setup_check(p);
  memset(p, 1, 100);
  write_byte(p + 200);
}

/* Allocates a block after a first one (so the leaked block is no slab's first slot, which the slab's
   descriptor points at) and forgets it, the instance staying alive: a program that leaks. */
static void *leak_keep;
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int leak_one(rmem_t *r) {
  unsigned char *p = rmem_alloc(r, 64);
  if (p) memset(p, 1, 64);
  return p != NULL;
}
static void bug_leak(void) {
  rmem_t *r = child_instance();
  leak_keep = rmem_alloc(r, 64);
  setup_check(leak_keep);
  if (!leak_one(r)) _exit(CHECK_CHILD_SETUP_FAILED);
  unsigned char scrub[256]; /* no register or live stack word keeps the lost address */
  memset(scrub, 0, sizeof scrub);
  read_byte(scrub);
#if defined(TOOL_VALGRIND_BUILD)
  VALGRIND_DO_LEAK_CHECK;
#endif
}

typedef struct bug {
  check_child_t child;
  const char *asan, *valgrind; /* what each tool's report says (NULL: that tool does not see it) */
} bug_t;

static const bug_t bugs[] = {
    {{"read-freed-small", bug_read_freed_small}, "READ of size", "Invalid read of size"},
    {{"read-freed-large", bug_read_freed_large}, "READ of size", "Invalid read of size"},
    {{"write-past-size", bug_write_past_size}, "WRITE of size", "Invalid write of size"},
    {{"arena-after-reset", bug_arena_after_reset}, "READ of size", "Invalid read of size"},
    {{"arena-fast-after-reset", bug_arena_fast_after_reset}, "WRITE of size", "Invalid write of size"},
    {{"arena-after-rewind", bug_arena_after_rewind}, "READ of size", "Invalid read of size"},
    {{"arena-after-destroy", bug_arena_after_destroy}, "READ of size", "Invalid read of size"},
    {{"arena-object-after-free", bug_arena_object_after_free}, "READ of size", "Invalid read of size"},
    {{"cache-object-after-free", bug_read_freed_cache_object}, "READ of size", "Invalid read of size"},
    {{"mems-hole-write", bug_write_mems_hole}, "WRITE of size", "Invalid write of size"},
    {{"leak", bug_leak}, NULL, "definitely lost"},
};
#define NBUGS (sizeof bugs / sizeof bugs[0])

/* Where valgrind writes each process's report (--log-file=...%p), or NULL: its stderr. */
static const char *valgrind_log_pattern(void) {
  const char *p = getenv("RMEM_TEST_VALGRIND_LOG");
  return p && strstr(p, "%p") ? p : NULL;
}

/* The log file of process pid (removed once read), appended to text. */
static char *with_valgrind_log(char *text, long pid) {
  const char *pat = valgrind_log_pattern();
  if (!pat || tool() != TOOL_VALGRIND_ON) return text;
  char path[1024];
  const char *at = strstr(pat, "%p");
  snprintf(path, sizeof path, "%.*s%ld%s", (int)(at - pat), pat, pid, at + 2);
  FILE *f = fopen(path, "rb");
  if (!f) return text;
  char *log = check_stream_text(f);
  remove(path);
  size_t a = strlen(text), b = strlen(log);
  char *both = malloc(a + b + 1);
  if (!both) abort();
  memcpy(both, text, a);
  memcpy(both + a, log, b + 1);
  free(text);
  free(log);
  return both;
}

/* Commits each bug in a child; with no_track the instances carry RMEM_OPT_NO_TRACK and no tool may see it. */
static void commit_bugs(bool no_track) {
  child_flags = no_track ? RMEM_OPT_NO_TRACK : 0;
  int t = tool();
  for (size_t i = 0; i < NBUGS; i++) {
    const bug_t *b = &bugs[i];
    const char *want = t == TOOL_ASAN_ON ? b->asan : t == TOOL_VALGRIND_ON ? b->valgrind : NULL;
    if (no_track) want = NULL;
    int status = -1;
    long pid = -1;
    char *text = check_child_report(b->child, &status, &pid);
    CHECK(text != NULL);
    if (!text) continue;
    text = with_valgrind_log(text, pid);
    bool reported = strstr(text, t == TOOL_ASAN_ON ? "AddressSanitizer" : "==") != NULL && t != TOOL_NONE;
    if (want) {
      bool seen = strstr(text, want) != NULL;
      bool kind = t != TOOL_ASAN_ON || strstr(text, "use-after-poison") != NULL;
      if (!seen || !kind || status == 0)
        fprintf(stderr, "test_track: %s: expected \"%s\" in the tool's report (exit %d), got:\n%s\n", b->child.name,
                want, status, text);
      CHECK(seen && kind);
      CHECK(status != 0); /* ASan ends the child; memcheck's --error-exitcode marks it */
    } else {
      bool silent = !reported && (t == TOOL_NONE || strstr(text, "Invalid") == NULL);
      if (!silent || status != 0)
        fprintf(stderr, "test_track: %s%s: expected no report and exit 0 (exit %d), got:\n%s\n", b->child.name,
                no_track ? " (RMEM_OPT_NO_TRACK)" : "", status, text);
      CHECK(silent);
      CHECK_EQ(status, 0);
    }
    free(text);
  }
}

/* ------------------------------------------------------------------------
 * rmem itself never trips over the marks
 * ------------------------------------------------------------------------ */

static void exercise(unsigned flags) {
  rmem_t *r = rmem_create(&(rmem_options_t){.capacity = 32u << 20, .flags = flags});
  CHECK(r != NULL);
  if (!r) return;
  /* the heap: every path that hands out, resizes or takes back a block */
  enum { N = 200 };
  unsigned char *ps[N];
  size_t sz[N];
  uint64_t rng = 11;
  for (int i = 0; i < N; i++) {
    sz[i] = 1 + (size_t)(check_rand(&rng) % (i % 10 == 0 ? 70000 : 600));
    ps[i] = i % 3 == 0 ? rmem_calloc(r, 1, sz[i]) : rmem_alloc(r, sz[i]);
    CHECK(ps[i] != NULL);
    if (i % 3 == 0)
      for (size_t k = 0; k < sz[i]; k++)
        if (ps[i][k]) CHECK(ps[i][k] == 0);
    memset(ps[i], (int)i, sz[i]);
  }
  for (int i = 0; i < N; i += 2) {
    size_t n = 1 + (size_t)(check_rand(&rng) % (i % 8 == 0 ? 90000 : 900));
    unsigned char *q = rmem_realloc(r, ps[i], n);
    CHECK(q != NULL);
    size_t keep = n < sz[i] ? n : sz[i];
    for (size_t k = 0; k < keep; k++)
      if (q[k] != (unsigned char)i) {
        CHECK(q[k] == (unsigned char)i);
        break;
      }
    memset(q, (int)i, n);
    ps[i] = q;
    sz[i] = n;
  }
  for (int i = 1; i < N; i += 4) {
    size_t u = rmem_usable_size(r, ps[i]); /* claims the whole usable size */
    CHECK(u >= sz[i]);
    memset(ps[i], 7, u);
  }
  unsigned char *al = rmem_aligned_alloc(r, 256, 1000);
  CHECK(al != NULL && ((uintptr_t)al & 255) == 0);
  if (al) memset(al, 3, 1000);
  unsigned char *big = rmem_aligned_alloc(r, 1 << 16, 5000);
  CHECK(big != NULL);
  if (big) memset(big, 3, 5000);
  rmem_free(r, al);
  rmem_free(r, big);
  for (int i = 0; i < N; i++) CHECK_EQ(rmem_free(r, ps[i]), RMEM_OK);
  CHECK_ERR(rmem_free(r, ps[0]), RMEM_EDOUBLEFREE); /* refused without touching the block */
  rmem_defrag(r, NULL);

  /* arenas of each lifetime: bumps (inline and checked), aligned, marks, leases, resets, destroys */
  for (int lt = LIFETIME_TRANSIENT; lt <= LIFETIME_PERSISTENT; lt++) {
    arena_t *a = rmem_arena_create(r, 8192, (lifetime_t)lt);
    CHECK(a != NULL);
    if (!a) continue;
    rmem_arena_mark_t m = {0, 0, 0};
    for (int i = 0; i < 300; i++) {
      size_t n = 1 + (size_t)(check_rand(&rng) % (i % 50 == 0 ? 9000 : 200));
      unsigned char *p = i % 3 == 0 ? r_arena_fast(a, n) : i % 3 == 1 ? rmem_arena_alloc(a, n)
                                                                       : rmem_arena_alloc_aligned(a, n, 64);
      CHECK(p != NULL);
      if (!p) continue;
      memset(p, 9, n);
      if (lt == LIFETIME_INTERMEDIATE && i % 2) CHECK_EQ(rmem_arena_free(a, p, n), RMEM_OK);
      if (lt != LIFETIME_INTERMEDIATE && i == 100) m = rmem_arena_mark(a);
    }
    if (lt != LIFETIME_INTERMEDIATE) {
      CHECK_EQ(rmem_arena_rewind(a, m), RMEM_OK);
      size_t len = 0;
      unsigned char *l = rmem_arena_lease(a, 100, &len);
      CHECK(l != NULL && len >= 100);
      if (l) memset(l, 1, len);
    }
    CHECK_EQ(rmem_arena_reset(a), RMEM_OK);
    unsigned char *p = rmem_arena_alloc(a, 77);
    CHECK(p != NULL);
    if (p) memset(p, 2, 77);
    CHECK_EQ(rmem_arena_destroy(a), RMEM_OK);
  }

  /* slab caches, destroyed with live objects */
  slab_cache_t *c = rmem_slab_cache_create(r, "exercise", 44, 0, 0);
  CHECK(c != NULL);
  unsigned char *objs[100];
  for (int i = 0; i < 100; i++) {
    objs[i] = rmem_slab_alloc(c);
    CHECK(objs[i] != NULL);
    if (objs[i]) memset(objs[i], 4, 44);
  }
  for (int i = 0; i < 100; i += 2) CHECK_EQ(rmem_slab_free(c, objs[i]), RMEM_OK);
  CHECK_EQ(rmem_slab_cache_shrink(c), RMEM_OK);
  CHECK_EQ(rmem_slab_cache_destroy(c), RMEM_OK);

  /* MeMS: splits, merges, finish with live segments */
  CHECK_EQ(rmem_mems_init(r), RMEM_OK);
  uintptr_t v[40];
  for (int i = 0; i < 40; i++) {
    size_t n = 1 + (size_t)(check_rand(&rng) % 6000);
    v[i] = rmem_mems_malloc(r, n);
    CHECK(v[i] != 0);
    unsigned char *p = rmem_mems_get(r, v[i]);
    if (p) memset(p, 5, n);
  }
  for (int i = 0; i < 40; i += 3) CHECK_EQ(rmem_mems_free(r, v[i]), RMEM_OK);
  for (int i = 0; i < 10; i++) {
    uintptr_t w = rmem_mems_malloc(r, 50);
    unsigned char *p = rmem_mems_get(r, w);
    CHECK(p != NULL);
    if (p) memset(p, 6, 50);
  }
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_mems_finish(r), RMEM_OK);

  /* blocks still live when the instance goes: they die with it (no leak) */
  for (int i = 0; i < 20; i++) CHECK(rmem_alloc(r, 100 + (size_t)i * 1000) != NULL);
  slab_cache_t *c2 = rmem_slab_cache_create(r, "live", 24, 0, 0);
  CHECK(c2 && rmem_slab_alloc(c2) != NULL);
  arena_t *im = rmem_arena_create(r, 0, LIFETIME_INTERMEDIATE);
  CHECK(im && rmem_arena_alloc(im, 64) != NULL && rmem_arena_alloc(im, 10000) != NULL);
  CHECK(rmem_arena_alloc(rmem_arena_create(r, 0, LIFETIME_TRANSIENT), 64) != NULL);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_destroy(r), RMEM_OK);
}

/* The layout a binding reads says "no fast paths" where the marks are on (a binding's pops would skip them). */
static void test_layout_and_flags(void) {
  rmem_t *on = rmem_create(NULL), *off = rmem_create(&(rmem_options_t){.flags = RMEM_OPT_NO_TRACK});
  CHECK(on && off);
  rmem_front_layout_t lo, lf;
  CHECK_EQ(rmem_front_layout(on, &lo), RMEM_OK);
  CHECK_EQ(rmem_front_layout(off, &lf), RMEM_OK);
  CHECK_EQ(lf.fast, 1); /* RMEM_OPT_NO_TRACK keeps the fast paths */
#if defined(TOOL_ASAN) || defined(TOOL_VALGRIND_BUILD)
  CHECK_EQ(lo.fast, 0);
#else
  CHECK_EQ(lo.fast, 1);
#endif
  CHECK_EQ(rmem_validate(off), 0);
  rmem_destroy(on);
  rmem_destroy(off);
  CHECK_NULL_ERR(rmem_create(&(rmem_options_t){.flags = 0x80000000u}), RMEM_EINVAL);
}

int main(int argc, char **argv) {
  check_child_t children[NBUGS];
  for (size_t i = 0; i < NBUGS; i++) children[i] = bugs[i].child;
  check_child_dispatch(argc, argv, children, NBUGS);
  int t = tool();
  printf("test_track: tool: %s\n", t == TOOL_ASAN_ON ? "AddressSanitizer" : t == TOOL_VALGRIND_ON ? "valgrind memcheck"
#if defined(TOOL_VALGRIND_BUILD)
                                                                                    : "none (a valgrind build not run under valgrind)");
#else
                                                                                    : "none");
#endif
  commit_bugs(false);
  commit_bugs(true);
  exercise(0);
  exercise(RMEM_OPT_JUNK);
  exercise(RMEM_OPT_JUNK | RMEM_OPT_VALIDATE);
  exercise(RMEM_OPT_NO_TRACK);
  test_layout_and_flags();
  if (valgrind_log_pattern() && tool() == TOOL_VALGRIND_ON) /* this process's own report so far, to be seen */
    printf("test_track: this process's valgrind log: %s\n", valgrind_log_pattern());
  return check_report("test_track");
}
