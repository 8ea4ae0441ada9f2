/*
 * test_pages.c - the page source of an instance (instance.c): runs of pages,
 * alignment, immediate coalescing, shrink and grow in place, freed pages kept
 * resident within the budget and the decay and given back to the OS,
 * exhaustion, and a deterministic randomized stress against a shadow model of
 * every page, with the validator (P1..P9) after every step.
 */
#include "check.h"
#include "internal.h"
#include "platform.h"

/* Whether the free run holding page p has dirty pages. */
static int run_is_dirty(const rmem_t *r, uint32_t p) {
  while (!(r->pm[p].flags & RMEM_PF_HEAD)) p--;
  return rmem_pages_run_dirty(r, p) != 0;
}

/* The dirty count of the free run holding page p. */
static uint32_t run_dirty_count(const rmem_t *r, uint32_t p) {
  while (!(r->pm[p].flags & RMEM_PF_HEAD)) p--;
  return rmem_pages_run_dirty(r, p);
}

static void test_runs_and_coalescing(void) {
  rmem_t *r = check_instance(RMEM_MIN_CAPACITY); /* 256 pages: 0 and 255 reserved */
  CHECK_EQ(r->npages, 256);
  uint32_t a = rmem_pages_alloc(r, 10, 1, RMEM_PK_USER, 7);
  uint32_t b = rmem_pages_alloc(r, 20, 1, RMEM_PK_USER, 8);
  uint32_t c = rmem_pages_alloc(r, 30, 1, RMEM_PK_USER, 9);
  CHECK_EQ(a, 1); /* page 0 is never handed out */
  CHECK_EQ(b, 11);
  CHECK_EQ(c, 31);
  CHECK_EQ(r->pm[b + 5].owner, 8);
  CHECK_EQ(r->pm[b].len, 20);
  CHECK_EQ(r->pm[b + 19].len, 20);
  CHECK_EQ(rmem_validate(r), 0);

  rmem_pages_free(r, a);
  rmem_pages_free(r, c); /* c touched top: stays a free run below top */
  CHECK_EQ(r->free_pages, 40);
  size_t merges = r->merges;
  rmem_pages_free(r, b); /* merges with both neighbours at once */
  CHECK_EQ(r->merges - merges, 2);
  CHECK_EQ(r->pm[1].kind, RMEM_PK_FREE);
  CHECK_EQ(r->pm[1].len, 60);
  CHECK_EQ(r->free_pages, 60);
  CHECK_EQ(rmem_validate(r), 0);

  /* the merged run is reused from its bin, best fit first */
  uint32_t d = rmem_pages_alloc(r, 60, 1, RMEM_PK_USER, 1);
  CHECK_EQ(d, 1);
  CHECK_EQ(r->free_pages, 0);
  rmem_pages_free(r, d);

  /* alignment: the first page's ADDRESS is a multiple of align_pages pages (the base is only page-aligned) */
  for (uint32_t al = 1; al <= 64; al *= 2) {
    uint32_t p = rmem_pages_alloc(r, 3, al, RMEM_PK_USER, al);
    CHECK(p != 0 && rmem_page_addr(r, p) % ((uintptr_t)al << RMEM_PAGE_SHIFT) == 0);
    CHECK_EQ(rmem_validate(r), 0);
    rmem_pages_free(r, p);
  }
  CHECK_EQ(rmem_validate(r), 0);

  /* exhaustion: 254 usable pages */
  rmem_clear_error();
  CHECK_EQ(rmem_pages_alloc(r, 255, 1, RMEM_PK_USER, 1), 0);
  CHECK_EQ(rmem_last_error(), RMEM_ENOMEM);
  uint32_t all = rmem_pages_alloc(r, 254, 1, RMEM_PK_USER, 1);
  CHECK_EQ(all, 1);
  CHECK_EQ(rmem_pages_alloc(r, 1, 1, RMEM_PK_USER, 1), 0);
  CHECK_EQ(rmem_validate(r), 0);
  rmem_pages_free(r, all);
  CHECK_EQ(rmem_pages_largest_free(r), 254);
  CHECK_EQ(rmem_validate(r), 0);
  rmem_destroy(r);
}

/* Alignments far above the OS's own alignment of the base (64 KiB on Windows, often 2 MiB on
   Linux) are alignments of the address, for the heap and for arenas alike. */
static void test_big_alignment(void) {
  rmem_t *r = check_instance((size_t)256 << 20);
  arena_t *a = rmem_arena_create(r, 0, LIFETIME_TRANSIENT);
  CHECK(a != NULL);
  for (size_t al = (size_t)64 << 10; al <= ((size_t)64 << 20); al *= 2) {
    void *p = rmem_aligned_alloc(r, al, 100);
    CHECK(p != NULL && (uintptr_t)p % al == 0);
    CHECK_EQ(rmem_free(r, p), RMEM_OK);
    void *q = rmem_arena_alloc_aligned(a, 100, al);
    CHECK(q != NULL && (uintptr_t)q % al == 0);
    CHECK_EQ(rmem_arena_reset(a), RMEM_OK);
  }
  CHECK_EQ(rmem_validate(r), 0);
  rmem_destroy(r);
}

static void test_shrink_grow(void) {
  rmem_t *r = check_instance(RMEM_MIN_CAPACITY);
  uint32_t a = rmem_pages_alloc(r, 10, 1, RMEM_PK_USER, 2);
  uint32_t b = rmem_pages_alloc(r, 10, 1, RMEM_PK_USER, 3);
  rmem_pages_shrink(r, a, 4);
  CHECK_EQ(r->pm[a].len, 4);
  CHECK_EQ(r->pm[a + 3].len, 4);
  CHECK_EQ(r->pm[a + 4].kind, RMEM_PK_FREE);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK(rmem_pages_grow(r, a, 10));   /* back into its own freed tail */
  CHECK(!rmem_pages_grow(r, a, 11));  /* b is in the way */
  CHECK_EQ(rmem_validate(r), 0);
  CHECK(rmem_pages_grow(r, b, 200)); /* into the never-used pages above top */
  CHECK_EQ(r->top, b + 200);
  CHECK(!rmem_pages_grow(r, b, 250)); /* past the last page */
  CHECK_EQ(rmem_validate(r), 0);
  rmem_pages_free(r, a);
  rmem_pages_free(r, b);
  CHECK_EQ(rmem_validate(r), 0);
  rmem_destroy(r);
}

/*
 * The dirty counts are exact (P9): carving takes the carved pages' dirty bits
 * out of the count, so the same 16 pages freed and carved again 200 times
 * next to a big clean run stay 16 dirty pages, never 16 x 200 (the count was
 * an upper bound once, and on mstress it ran 4 x past the resident pages and
 * gave back pages that were about to be used). Leftovers of a carve split the
 * region's count by where its dirty pages are.
 */
static void test_dirty_is_exact(void) {
  rmem_t *r = check_instance((size_t)64 << 20);
  r->decay_ns = 0; /* the budget alone */
  uint32_t big = rmem_pages_alloc(r, 4096, 1, RMEM_PK_USER, 1);
  rmem_pages_free(r, big); /* 16 MiB, decommitted at once: a clean run */
  CHECK_EQ(r->dirty_pages, 0);
  for (int i = 0; i < 200; i++) {
    uint32_t c = rmem_pages_alloc(r, 16, 1, RMEM_PK_USER, 2); /* carved from the big run's head */
    CHECK_EQ(c, big);
    CHECK_EQ(r->dirty_pages, 0); /* its dirty pages left the count with it */
    memset((void *)rmem_page_addr(r, c), 1, (size_t)16 << RMEM_PAGE_SHIFT);
    rmem_pages_free(r, c); /* merges back: 16 dirty pages */
    CHECK_EQ(r->dirty_pages, 16);
  }
  CHECK_EQ(rmem_validate(r), 0);
  /* a carve at an alignment (wherever the range's base puts it) splits the 16 by where they are */
  uint32_t aligned = rmem_pages_alloc(r, 8, 1024, RMEM_PK_USER, 2);
  CHECK(aligned >= big && aligned + 8 <= big + 4096);
  uint32_t head = aligned - big < 16 ? aligned - big : 16, in = aligned + 8 - big < 16 ? aligned + 8 - big - head : 16 - head;
  CHECK_EQ(r->dirty_pages, 16 - in);
  if (head) CHECK_EQ(run_dirty_count(r, big), head);
  CHECK_EQ(run_dirty_count(r, aligned + 8), 16 - head - in);
  CHECK_EQ(rmem_validate(r), 0); /* every run's count is its pages in the dirty map */
  rmem_pages_free(r, aligned);
  CHECK_EQ(r->dirty_pages, 24);
  uint32_t d = rmem_pages_alloc(r, 8, 1, RMEM_PK_USER, 2); /* the head again: 8 of the dirty ones */
  CHECK_EQ(d, big);
  CHECK_EQ(r->dirty_pages, 16);
  CHECK_EQ(rmem_validate(r), 0);
  rmem_pages_free(r, d);
  CHECK_EQ(rmem_validate(r), 0);
  rmem_destroy(r);
}

/*
 * Past the budget the longest dirty runs go back first, until the dirty pages
 * are within a quarter of it: the runs of 200 dirty pages go, the eight small
 * ones (slabs' pages, soon wanted again) stay.
 */
static void test_release_longest_first(void) {
  rmem_t *r = check_instance((size_t)64 << 20);
  r->decay_ns = 0;
  uint32_t small[8], mid[6], sep[14];
  for (int i = 0; i < 8; i++) {
    small[i] = rmem_pages_alloc(r, 8, 1, RMEM_PK_USER, 1);
    sep[i] = rmem_pages_alloc(r, 1, 1, RMEM_PK_USER, 1); /* keeps the runs apart */
  }
  for (int i = 0; i < 6; i++) {
    mid[i] = rmem_pages_alloc(r, 200, 1, RMEM_PK_USER, 1); /* below the 256 pages that go back at once */
    sep[8 + i] = rmem_pages_alloc(r, 1, 1, RMEM_PK_USER, 1);
  }
  for (int i = 0; i < 8; i++) rmem_pages_free(r, small[i]);
  CHECK_EQ(r->dirty_pages, 64);
  for (int i = 0; i < 4; i++) rmem_pages_free(r, mid[i]);
  CHECK_EQ(r->dirty_pages, 864);
  rmem_pages_free(r, mid[4]); /* 1064 dirty pass the 1024 always allowed: down to 256, the five runs of 200 */
  CHECK_EQ(r->dirty_pages, 64);
  for (int i = 0; i < 5; i++) CHECK_EQ(run_dirty_count(r, mid[i]), 0);
  rmem_pages_free(r, mid[5]); /* within the budget again */
  CHECK_EQ(r->dirty_pages, 264);
  CHECK_EQ(run_dirty_count(r, mid[5]), 200);
  for (int i = 0; i < 8; i++) CHECK_EQ(run_dirty_count(r, small[i]), 8);
  CHECK_EQ(rmem_validate(r), 0);
  for (int i = 0; i < 14; i++) rmem_pages_free(r, sep[i]);
  CHECK_EQ(rmem_validate(r), 0);
  rmem_destroy(r);
}

static void test_decommit(void) {
  rmem_t *r = check_instance((size_t)64 << 20);
  r->decay_ns = 0;
  uint32_t a = rmem_pages_alloc(r, 1024, 1, RMEM_PK_USER, 1); /* 4 MiB */
  memset((void *)rmem_page_addr(r, a), 1, (size_t)1024 << RMEM_PAGE_SHIFT);
  rmem_stats_t st;
  rmem_stats(r, &st);
  CHECK(st.resident >= ((size_t)1024 << RMEM_PAGE_SHIFT));
  rmem_pages_free(r, a); /* a big run goes back to the OS at once */
  rmem_stats(r, &st);
  CHECK(st.resident < ((size_t)16 << RMEM_PAGE_SHIFT));
  CHECK_EQ(r->dirty_pages, 0);
  /* small dirty runs wait for rmem_pages_release */
  uint32_t s = rmem_pages_alloc(r, 8, 1, RMEM_PK_USER, 1);
  uint32_t t = rmem_pages_alloc(r, 1, 1, RMEM_PK_USER, 1); /* keeps s from merging with the big run */
  memset((void *)rmem_page_addr(r, s), 1, (size_t)8 << RMEM_PAGE_SHIFT);
  rmem_pages_free(r, s);
  CHECK(r->dirty_pages >= 8);
  CHECK(rmem_pages_release(r) >= 8);
  CHECK_EQ(r->dirty_pages, 0);
  /* released pages read as zero and stay usable */
  uint32_t u = rmem_pages_alloc(r, 8, 1, RMEM_PK_USER, 1);
  CHECK_EQ(u, s);
  CHECK_EQ(*(unsigned char *)rmem_page_addr(r, u), 0);
  rmem_pages_free(r, u);
  rmem_pages_free(r, t);
  CHECK_EQ(rmem_validate(r), 0);
  rmem_destroy(r);
}

/*
 * A large block's pages stay resident for the next one, within a budget:
 * pages in use and dirty pages together within 1.5 x the recent peak in use.
 */
static void test_large_blocks_kept(void) {
  rmem_t *r = check_instance((size_t)64 << 20);
  r->decay_ns = 0;
  const size_t page = RMEM_PAGE_SIZE;
  unsigned char *a = rmem_alloc(r, 2000 * page), *sep = rmem_alloc(r, 256 * page);
  CHECK(a && sep);
  if (!a || !sep) return;
  memset(a, 1, 2000 * page);
  uint32_t peak = r->peak_pages;
  CHECK(peak >= 2256);
  CHECK_EQ(rmem_free(r, a), RMEM_OK);
  CHECK(r->dirty_pages >= 2000); /* more than the 1024 always allowed: kept, resident */
  uint32_t dirty = r->dirty_pages;
  unsigned char *a2 = rmem_alloc(r, 2000 * page);
  CHECK(a2 == a);
  CHECK_EQ(r->dirty_pages, dirty - 2000); /* the same resident pages, not fresh ones (their bytes are
                                             undefined to valgrind, so not read here) */
  CHECK_EQ(rmem_free(r, a2), RMEM_OK);
  unsigned char *b = rmem_alloc(r, 3000 * page); /* too big for a's run: from top */
  CHECK(b != NULL && b > sep);
  CHECK(r->peak_pages >= 3256); /* sep and b in use (a was freed) */
  CHECK(r->dirty_pages >= 2000);
  CHECK_EQ(rmem_validate(r), 0);
  /* sep freed: 3000 in use and 2256 dirty pass 1.5 x the peak of 3256: every dirty run goes back */
  CHECK_EQ(rmem_free(r, sep), RMEM_OK);
  CHECK_EQ(r->dirty_pages, 0);
  CHECK_EQ(rmem_free(r, b), RMEM_OK); /* 0 in use: 3000 dirty are within the budget */
  CHECK(r->dirty_pages >= 3000);
  CHECK_EQ(rmem_validate(r), 0);
  rmem_destroy(r);
}

/* Fewer than RMEM_DECAY_MIN dirty pages: no free reads the clock, no period begins; at that many one does. */
static void test_decay_waits_for_dirty(void) {
  rmem_t *r = check_instance((size_t)64 << 20);
  CHECK_EQ(r->period_ns, 0);
  uint32_t small = rmem_pages_alloc(r, RMEM_DECAY_MIN - 1, 1, RMEM_PK_USER, 1);
  uint32_t sep = rmem_pages_alloc(r, 1, 1, RMEM_PK_USER, 1);
  uint32_t more = rmem_pages_alloc(r, 1, 1, RMEM_PK_USER, 1);
  rmem_pages_alloc(r, 1, 1, RMEM_PK_USER, 1); /* keeps more from merging with the never-used pages above */
  rmem_pages_free(r, small);
  CHECK_EQ(r->dirty_pages, RMEM_DECAY_MIN - 1);
  CHECK_EQ(r->period_ns, 0);
  rmem_pages_free(r, more);
  CHECK_EQ(r->dirty_pages, RMEM_DECAY_MIN);
  CHECK(r->period_ns != 0);
  CHECK_EQ(r->decays, 0);
  rmem_pages_free(r, sep);
  CHECK_EQ(rmem_validate(r), 0);
  rmem_destroy(r);
}

/*
 * The decay: a dirty run that no free touched for a whole period goes back at
 * the first free after it, and the peak forgets the periods before the last.
 */
static void test_decay(void) {
  rmem_t *r = check_instance((size_t)64 << 20);
  r->decay_ns = 0; /* until the runs are set up: a slow machine (valgrind) must not end a period early */
  uint32_t big = rmem_pages_alloc(r, 3000, 1, RMEM_PK_USER, 1);
  /* runs of RMEM_DECAY_MIN pages: below that many dirty pages a free reads no clock and no period ends */
  const uint32_t R = RMEM_DECAY_MIN;
  uint32_t a = rmem_pages_alloc(r, R, 1, RMEM_PK_USER, 1), s1 = rmem_pages_alloc(r, 1, 1, RMEM_PK_USER, 1);
  uint32_t c = rmem_pages_alloc(r, R, 1, RMEM_PK_USER, 1), s2 = rmem_pages_alloc(r, 1, 1, RMEM_PK_USER, 1);
  uint32_t d = rmem_pages_alloc(r, R, 1, RMEM_PK_USER, 1), s3 = rmem_pages_alloc(r, 1, 1, RMEM_PK_USER, 1);
  rmem_pages_free(r, big);
  rmem_pages_release(r); /* clean (a big run went back at once anyway): only the small runs below are dirty */
  size_t decays = r->decays;
  r->decay_ns = 40 * 1000000ull; /* 40 ms, from now */
  r->period_ns = rmem_os_now_ns();
  memset((void *)rmem_page_addr(r, a), 1, (size_t)R << RMEM_PAGE_SHIFT);
  rmem_pages_free(r, a);
  CHECK_EQ(r->dirty_pages, R);
  check_sleep_ms(50);
  rmem_pages_free(r, c); /* a period ended: a was freed in it, so it stays one more */
  CHECK_EQ(r->decays, decays + 1);
  CHECK_EQ(r->dirty_pages, 2 * R);
  CHECK_EQ(rmem_validate(r), 0);
  check_sleep_ms(50);
  rmem_pages_free(r, d); /* another: a and c were untouched for a whole period and go back, d stays */
  CHECK_EQ(r->decays, decays + 2);
  CHECK_EQ(r->dirty_pages, R);
  CHECK_EQ(run_is_dirty(r, a), 0);
  CHECK_EQ(run_is_dirty(r, d), 1);
  CHECK(r->peak_pages < 3000); /* the 3000 pages of two periods ago are forgotten */
  CHECK_EQ(rmem_validate(r), 0);
  r->decay_ns = 0; /* never: dirty runs wait for the budget or rmem_pages_release */
  check_sleep_ms(50);
  rmem_pages_free(r, s1);
  CHECK_EQ(r->decays, decays + 2);
  CHECK_EQ(r->dirty_pages, R + 1); /* s1 merges with the clean runs of a and c: one more dirty page */
  rmem_pages_free(r, s2);
  rmem_pages_free(r, s3);
  CHECK_EQ(rmem_validate(r), 0);
  rmem_destroy(r);
}

/* Randomized: the pagemap must agree with a shadow owner per page after every step. */
static void test_stress(void) {
  rmem_t *r = check_instance((size_t)8 << 20); /* 2048 pages */
  enum { LIVE = 64, STEPS = 60000 };
  uint32_t first[LIVE] = {0}, len[LIVE] = {0};
  static uint32_t shadow[2048];
  uint64_t rng = 7;
  size_t mismatches = 0, problems = 0, failures = 0;
  for (int step = 0; step < STEPS; step++) {
    if (step == STEPS / 2) r->decay_ns = 1; /* the second half: a decay period ends at every free (P9) */
    uint64_t x = check_rand(&rng);
    unsigned i = (unsigned)(x % LIVE);
    if (first[i]) {
      if (x & 0x100) {
        rmem_pages_free(r, first[i]);
        for (uint32_t k = 0; k < len[i]; k++) shadow[first[i] + k] = 0;
        first[i] = 0;
      } else if (x & 0x200) {
        uint32_t n = 1 + (uint32_t)((x >> 12) % len[i]);
        rmem_pages_shrink(r, first[i], n);
        for (uint32_t k = n; k < len[i]; k++) shadow[first[i] + k] = 0;
        len[i] = n;
      } else {
        uint32_t n = len[i] + 1 + (uint32_t)((x >> 12) % 16);
        if (rmem_pages_grow(r, first[i], n)) {
          for (uint32_t k = len[i]; k < n; k++) shadow[first[i] + k] = i + 1;
          len[i] = n;
        }
      }
    } else {
      uint32_t n = 1 + (uint32_t)((x >> 12) % ((x >> 40) % 8 == 0 ? 200 : 12));
      uint32_t al = (uint32_t)1 << ((x >> 30) % 4);
      uint32_t p = rmem_pages_alloc(r, n, al, RMEM_PK_USER, i + 1);
      if (!p) {
        if (rmem_last_error() != RMEM_ENOMEM) failures++;
        continue;
      }
      if (((r->base >> RMEM_PAGE_SHIFT) + p) % al) failures++; /* an address alignment: the base need not be aligned */
      for (uint32_t k = 0; k < n; k++) {
        if (shadow[p + k]) mismatches++; /* handed out twice */
        shadow[p + k] = i + 1;
      }
      first[i] = p;
      len[i] = n;
    }
    for (uint32_t pg = 1; pg < r->limit; pg++) {
      uint32_t want = shadow[pg];
      rmem_pme_t *e = &r->pm[pg];
      bool ok = want ? (e->kind == RMEM_PK_USER && e->owner == want)
                     : (e->kind == RMEM_PK_FREE || e->kind == RMEM_PK_NEVER);
      if (!ok) mismatches++;
    }
    problems += rmem_pages_check(r);
  }
  CHECK_EQ(mismatches, 0);
  CHECK_EQ(problems, 0);
  CHECK_EQ(failures, 0);
  for (unsigned i = 0; i < LIVE; i++)
    if (first[i]) rmem_pages_free(r, first[i]);
  CHECK_EQ(r->used_pages, 0);
  CHECK_EQ(rmem_pages_largest_free(r), r->limit - 1); /* all merged into one run */
  CHECK_EQ(rmem_validate(r), 0);
  rmem_destroy(r);
}

int main(void) {
  test_runs_and_coalescing();
  test_big_alignment();
  test_shrink_grow();
  test_decommit();
  test_dirty_is_exact();
  test_release_longest_first();
  test_large_blocks_kept();
  test_decay_waits_for_dirty();
  test_decay();
  test_stress();
  return check_report("test_pages");
}
