/*
 * pages.c - the page source: runs of 4 KiB pages of one instance's range.
 *
 * An instance reserves [base, base + capacity) once (os.c: readable and
 * writable, committed on first touch) and hands it out in runs of 4 KiB pages.
 * Everything it knows about those pages lives out of band, in the pagemap: one
 * 16-byte entry per page in a separate mapping fenced by guard pages, so no
 * write into user memory can reach it (invariants P1-P9 in types.h).
 *
 * The page source keeps free runs in 128 segregated bins (exact for 1..32
 * pages, then four bins per power of two, as in TLSF), with a bitmap of the
 * non-empty bins, so finding a run is a couple of bit scans. Freed runs are
 * coalesced at once with free neighbours through the boundary entries (the
 * head and tail entries of every run carry its length), so free runs are
 * never adjacent (P4). Pages above the high-water mark `top` were never
 * handed out; runs are carved from bins first, then from `top`. Every free
 * run counts its pages that may be resident ("dirty": freed since they were
 * last decommitted, one bit a page in the dirty map, the count kept in the
 * run's tail entry): freed pages stay resident for the next run until the
 * dirty count passes a budget (for large blocks' pages relative to the recent
 * peak of pages in use, for slabs' and the rest a quarter of the pages in
 * use; past it the longest runs go first), or a decay period (1 s) passes
 * without a free touching them (free_pages_policy), so a churn of runs costs
 * no system call and no fault.
 *
 * Floor: above os.c, error.c and meta.c. When no run is large enough it asks
 * the instance's reclaim hook (set by the owner of the instance's empty
 * slabs: the heap) to give pages back, and tries once more.
 */
#include "internal.h"
#include "track.h"

/* ------------------------------------------------------------------------
 * Page-source bins
 * ------------------------------------------------------------------------ */

static unsigned log2_floor(uint32_t n) { return 31u - (unsigned)__builtin_clz(n); }

/* Bin of a free run of n pages: exact below 33, then 4 per power of two. */
static unsigned bin_of(uint32_t n) {
  if (n <= 32) return n - 1;
  unsigned fl = log2_floor(n);
  unsigned sl = (n >> (fl - 2)) & 3;
  return 32 + (fl - 5) * 4 + sl;
}

static void bin_insert(rmem_t *r, uint32_t first) {
  rmem_pme_t *h = &r->pm[first];
  unsigned b = bin_of(h->len);
  h->prev = 0;
  h->owner = r->bins[b];
  if (r->bins[b]) r->pm[r->bins[b]].prev = first;
  r->bins[b] = first;
  r->bin_map[b / 64] |= (uint64_t)1 << (b % 64);
}

static void bin_remove(rmem_t *r, uint32_t first) {
  rmem_pme_t *h = &r->pm[first];
  unsigned b = bin_of(h->len);
  if (h->prev) r->pm[h->prev].owner = h->owner;
  else r->bins[b] = h->owner;
  if (h->owner) r->pm[h->owner].prev = h->prev;
  if (!r->bins[b]) r->bin_map[b / 64] &= ~((uint64_t)1 << (b % 64));
  h->owner = h->prev = 0;
}

/* First non-empty bin >= b, or RMEM_BINS. */
static unsigned bin_search(const rmem_t *r, unsigned b) {
  for (unsigned w = b / 64; w < RMEM_BINS / 64; w++) {
    uint64_t m = r->bin_map[w];
    if (w == b / 64) m &= ~(uint64_t)0 << (b % 64);
    if (m) return w * 64 + (unsigned)__builtin_ctzll(m);
  }
  return RMEM_BINS;
}

/* ------------------------------------------------------------------------
 * One-bit-a-page maps: freed (P8) and dirty_map (P9)
 * ------------------------------------------------------------------------ */

/* The bits of word i>>6 that [i, end) covers, and how many. */
static uint64_t span_mask(uint32_t i, uint32_t end, uint32_t *k) {
  uint32_t lo = i & 63;
  *k = 64 - lo < end - i ? 64 - lo : end - i;
  return (*k == 64 ? ~(uint64_t)0 : (((uint64_t)1 << *k) - 1)) << lo;
}

/* Sets (on) or clears bits [first, first+n) of map; stores are atomic (lookup reads freed without the lock). */
static void bits_put(uint64_t *map, uint32_t first, uint32_t n, bool on) {
  for (uint32_t i = first, k; i < first + n; i += k) {
    uint64_t *w = &map[i >> 6], m = span_mask(i, first + n, &k), v = on ? *w | m : *w & ~m;
    if (v != *w) __atomic_store_n(w, v, __ATOMIC_RELAXED);
  }
}

/* How many of bits [first, first+n) of map are set. */
static uint32_t bits_count(const uint64_t *map, uint32_t first, uint32_t n) {
  uint32_t c = 0;
  for (uint32_t i = first, k; i < first + n; i += k) c += rmem_popcount64(map[i >> 6] & span_mask(i, first + n, &k));
  return c;
}

/* Pages [first, first+n) are handed out again: none of them is inside a freed block any more (P8). */
static void freed_clear(rmem_t *r, uint32_t first, uint32_t n) { bits_put(r->freed, first, n, false); }

/* Pages [first, first+n) were inside a block just freed (P8). */
static void freed_mark(rmem_t *r, uint32_t first, uint32_t n) { bits_put(r->freed, first, n, true); }

/* Marks pages [first, first+n) as one run of kind/owner (head and tail carry n). */
static void mark_run(rmem_t *r, uint32_t first, uint32_t n, uint8_t kind, uint32_t owner, uint8_t extra_flags) {
  rmem_pme_t *pm = r->pm;
  for (uint32_t i = first; i < first + n; i++) {
    pm[i].kind = kind;
    pm[i].flags = 0;
    pm[i].aux = 0;
    pm[i].owner = owner;
    pm[i].len = 0;
    pm[i].prev = 0;
  }
  pm[first].flags |= RMEM_PF_HEAD | extra_flags;
  pm[first].len = n;
  pm[first + n - 1].flags |= RMEM_PF_TAIL;
  pm[first + n - 1].len = n;
  if (kind != RMEM_PK_FREE) {
    freed_clear(r, first, n);
    bits_put(r->dirty_map, first, n, false); /* in use: no longer counted dirty (P9) */
  }
}

/*
 * Makes [first, first+n) a free run and bins it. Only the boundary entries are
 * written, plus the pages in [mfrom, mto), which the caller says are not
 * marked free yet: freeing stays O(pages freed), never O(size of the merged
 * neighbours). No coalescing here: callers know the neighbours.
 */
/*
 * The dirty count of a free run: its pages set in dirty_map, the ones freed
 * since they were last decommitted, which may be resident (P9). Kept in the
 * tail entry's owner field (unused in a free run's tail), so merging and
 * policy need no count of bits; a one-page run, whose head is its tail, has
 * only the DIRTY flag. The flag is set iff the count > 0.
 */
static uint32_t run_dirty(const rmem_t *r, uint32_t first) {
  const rmem_pme_t *h = &r->pm[first];
  if (h->len == 1) return (h->flags & RMEM_PF_DIRTY) ? 1 : 0;
  return r->pm[first + h->len - 1].owner;
}

uint32_t rmem_pages_run_dirty(const rmem_t *r, uint32_t first) { return run_dirty(r, first); }

/* when: the decay period in which the run's dirty pages were freed (P9; ignored for a clean run). */
static void make_free(rmem_t *r, uint32_t first, uint32_t n, uint32_t dirty, uint16_t when, uint32_t mfrom,
                      uint32_t mto) {
  rmem_pme_t *pm = r->pm;
  if (dirty > n) dirty = n;
  for (uint32_t i = mfrom; i < mto; i++) pm[i] = (rmem_pme_t){.kind = RMEM_PK_FREE};
  rmem_pme_t *h = &pm[first];
  *h = (rmem_pme_t){.kind = RMEM_PK_FREE,
                    .flags = (uint8_t)(RMEM_PF_HEAD | (dirty ? RMEM_PF_DIRTY : 0)),
                    .aux = dirty ? when : 0,
                    .len = n};
  if (n == 1) {
    h->flags |= RMEM_PF_TAIL;
  } else {
    pm[first + n - 1] = (rmem_pme_t){.kind = RMEM_PK_FREE, .flags = RMEM_PF_TAIL, .len = n, .owner = dirty};
  }
  r->free_pages += n;
  r->dirty_pages += dirty;
  bin_insert(r, first);
}

/* Takes a whole free run out of the bins. */
static void take_free(rmem_t *r, uint32_t first) {
  rmem_pme_t *h = &r->pm[first];
  bin_remove(r, first);
  r->free_pages -= h->len;
  r->dirty_pages -= run_dirty(r, first);
}

/*
 * The first page index >= v whose ADDRESS is aligned to a pages (a power of
 * two): the range's base is only page-aligned, so page index and address
 * alignment differ by the base's phase. UINT32_MAX if there is none below 2^32.
 */
static uint32_t align_page(const rmem_t *r, uint32_t v, uint32_t a) {
  uint64_t phase = (uint64_t)(r->base >> RMEM_PAGE_SHIFT) & (a - 1);
  uint64_t x = (((uint64_t)v + phase + a - 1) & ~(uint64_t)(a - 1)) - phase;
  return x > UINT32_MAX ? UINT32_MAX : (uint32_t)x;
}

static uint32_t max32(uint32_t a, uint32_t b) { return a > b ? a : b; }

/* n more pages are in use: the peaks follow (P9). */
static void used_add(rmem_t *r, uint32_t n) {
  r->used_pages += n;
  if (r->used_pages > r->period_peak) r->period_peak = r->used_pages;
  if (r->used_pages > r->peak_pages) r->peak_pages = r->used_pages;
}

/*
 * Carves [a, a+n) out of the free region [first, first+len) (already out of
 * the bins) that holds `dirty` dirty pages: the head and tail leftovers go back
 * as free runs with their exact dirty counts, from the dirty map (the bits of
 * the carved part and of the shorter leftover are counted: a carve stays
 * O(pages carved + alignment), however big the region). Pages at or above
 * fresh were never handed out and get marked in full. Then marks the carved
 * run.
 */
static void carve(rmem_t *r, uint32_t first, uint32_t len, uint32_t dirty, uint16_t when, uint32_t a, uint32_t n,
                  uint8_t kind, uint32_t owner, uint32_t fresh) {
  uint32_t end = first + len, hl = a - first, tl = end - (a + n);
  uint32_t left = dirty ? dirty - bits_count(r->dirty_map, a, n) : 0, hd, td;
  if (hl <= tl) {
    hd = left && hl ? bits_count(r->dirty_map, first, hl) : 0;
    td = left - hd;
  } else {
    td = left && tl ? bits_count(r->dirty_map, a + n, tl) : 0;
    hd = left - td;
  }
  if (hl) make_free(r, first, hl, hd, when, max32(first, fresh), max32(a, fresh));
  if (tl) make_free(r, a + n, tl, td, when, max32(a + n, fresh), max32(end, fresh));
  mark_run(r, a, n, kind, owner, 0);
  used_add(r, n);
}

/* Takes free run f out of the bins and carves n pages at align from it. */
static uint32_t take_carve(rmem_t *r, uint32_t f, uint32_t align, uint32_t n, uint8_t kind, uint32_t owner) {
  uint32_t len = r->pm[f].len, dirty = run_dirty(r, f), a = align_page(r, f, align);
  uint16_t when = r->pm[f].aux;
  take_free(r, f);
  carve(r, f, len, dirty, when, a, n, kind, owner, UINT32_MAX);
  return a;
}

/* Whether free run f holds n pages at align. */
static bool run_fits(const rmem_t *r, uint32_t f, uint32_t n, uint32_t align) {
  return (uint64_t)align_page(r, f, align) + n <= (uint64_t)f + r->pm[f].len;
}

/*
 * A free run for n pages at align, carved; 0 if no bin holds one. The bin of
 * the request's own length comes first (above 32 pages a bin spans a quarter
 * of an octave, so its head may fit, and more tightly than any run of the
 * bins above), then the first run of the first non-empty bin above, which
 * always fits. On malloc-large (20 live blocks of 64 KiB..8 MiB) the
 * tighter first look took the high-water mark from 1.33 to 1.25 x the peak
 * of pages in use; scanning whole bins for the best fit did no better.
 */
static uint32_t try_bins(rmem_t *r, uint32_t n, uint32_t align, uint8_t kind, uint32_t owner) {
  uint32_t need = n + align - 1; /* enough for any alignment offset */
  if (need < n) return 0;
  unsigned lb = bin_of(need);
  uint32_t f = r->bins[lb];
  if (f && run_fits(r, f, n, align)) return take_carve(r, f, align, n, kind, owner);
  unsigned b = bin_search(r, lb + 1);
  if (b < RMEM_BINS) return take_carve(r, r->bins[b], align, n, kind, owner);
  /* the rest of the request's own bin */
  for (f = f ? r->pm[f].owner : 0; f; f = r->pm[f].owner)
    if (run_fits(r, f, n, align)) return take_carve(r, f, align, n, kind, owner);
  return 0;
}

static uint32_t try_top(rmem_t *r, uint32_t n, uint32_t align, uint8_t kind, uint32_t owner) {
  /* A free run ending at top can be extended into the never-used pages. */
  uint32_t start = r->top, len = 0;
  uint32_t dirty = 0;
  uint16_t when = 0;
  if (r->top > 1 && r->pm[r->top - 1].kind == RMEM_PK_FREE) {
    len = r->pm[r->top - 1].len;
    start = r->top - len;
    dirty = run_dirty(r, start);
    when = r->pm[start].aux;
  }
  uint32_t a = align_page(r, start, align);
  if (a < start || (uint64_t)a + n > r->limit) return 0;
  if (len) take_free(r, start);
  uint32_t end = a + n > r->top ? a + n : r->top;
  uint32_t fresh = r->top;
  r->top = end;
  carve(r, start, end - start, dirty, when, a, n, kind, owner, fresh);
  return a;
}

static uint32_t pages_alloc(rmem_t *r, uint32_t npages, uint32_t align_pages, uint8_t kind, uint32_t owner) {
  if (align_pages == 0) align_pages = 1;
  rmem_assert((align_pages & (align_pages - 1)) == 0 && "alignment must be a power of two");
  if (npages == 0 || npages >= r->npages) {
    rmem_fail(RMEM_ENOMEM, "request of %u pages exceeds the instance's %u pages", npages, r->npages);
    return 0;
  }
  uint32_t a = try_bins(r, npages, align_pages, kind, owner);
  if (!a) a = try_top(r, npages, align_pages, kind, owner);
  if (!a && r->reclaim) {
    /* the owner of empty slabs gives them back (the hook frees pages: it runs without the lock) */
    rmem_shared_unlock(r);
    size_t got = r->reclaim(r);
    rmem_shared_lock(r);
    if (got > 0) a = try_bins(r, npages, align_pages, kind, owner);
    if (got > 0 && !a) a = try_top(r, npages, align_pages, kind, owner);
  }
  if (!a) {
    rmem_fail(RMEM_ENOMEM, "out of memory: no run of %u pages (%u free pages below the high-water mark, %u above)",
              npages, r->free_pages, r->limit - r->top);
    return 0;
  }
  rmem_track_accessible(r, rmem_page_addr(r, a), (size_t)npages << RMEM_PAGE_SHIFT); /* its owner's now */
  return a;
}

void rmem_pages_init(rmem_t *r) {
  r->pm[0].kind = RMEM_PK_RESERVED;
  r->pm[0].flags = RMEM_PF_HEAD | RMEM_PF_TAIL;
  r->pm[0].len = 1;
  r->pm[r->npages - 1] = r->pm[0];
  r->top = 1;
  r->limit = r->npages - 1;
  r->decay_ns = RMEM_DECAY_NS;
  r->period_ns = 0; /* the first period begins at the first free that finds RMEM_DECAY_MIN dirty pages */
}

static void pages_set_owner(rmem_t *r, uint32_t first, uint32_t owner) {
  uint32_t n = r->pm[first].len;
  for (uint32_t i = first; i < first + n; i++) r->pm[i].owner = owner;
}

/* Decommits a binned free run and zeroes its dirty count. */
static void decommit_run(rmem_t *r, uint32_t first) {
  rmem_pme_t *h = &r->pm[first];
  uint32_t d = run_dirty(r, first);
  if (!d) return;
  rmem_os_decommit((void *)rmem_page_addr(r, first), (size_t)h->len << RMEM_PAGE_SHIFT);
  bits_put(r->dirty_map, first, h->len, false);
  h->flags &= (uint8_t)~RMEM_PF_DIRTY;
  h->aux = 0;
  if (h->len > 1) r->pm[first + h->len - 1].owner = 0;
  r->dirty_pages -= d;
}

/* Frees [first, first+n) (its pages are not free; dirty is n or 0: whether they may be resident) and
   coalesces with free neighbours. */
static uint32_t free_and_merge(rmem_t *r, uint32_t first, uint32_t n, uint32_t dirty) {
  rmem_pme_t *pm = r->pm;
  if (dirty) bits_put(r->dirty_map, first, n, true);
  uint32_t start = first, end = first + n;
  if (start > 1 && pm[start - 1].kind == RMEM_PK_FREE) {
    uint32_t left = start - pm[start - 1].len;
    dirty += run_dirty(r, left);
    take_free(r, left);
    pm[start - 1] = (rmem_pme_t){.kind = RMEM_PK_FREE}; /* its old tail becomes interior */
    start = left;
    r->merges++;
  }
  if (end < r->top && pm[end].kind == RMEM_PK_FREE) {
    uint32_t rlen = pm[end].len;
    dirty += run_dirty(r, end);
    take_free(r, end);
    pm[end] = (rmem_pme_t){.kind = RMEM_PK_FREE}; /* its old head becomes interior */
    end += rlen;
    r->merges++;
  }
  make_free(r, start, end - start, dirty, r->period, first, first + n); /* its dirty pages are this period's now */
  return start;
}

/*
 * The decommit policy, run at every free of pages. What it keeps depends on
 * whose pages they were:
 *   - a large block's (RMEM_PK_LARGE): the page source is the only cache of
 *     big blocks, so their pages stay resident (dirty) for the next block --
 *     a madvise and a fresh fault for every page of every big block that is
 *     freed and allocated again cost malloc-large 4 x the time of an
 *     allocator that keeps them -- while pages in use and dirty pages
 *     together stay within 1.5 x the peak of pages in use over this decay
 *     period and the last. What that allows above the peak is the room that
 *     fragmentation needs: on malloc-large the high-water mark reaches 1.25 x
 *     the peak.
 *   - anyone else's (slabs, arena chunks, MeMS): the heap keeps its own empty
 *     slabs and the arenas their chunks, so what reaches the page source is
 *     surplus: a part of 1 MiB or more goes back to the OS at once, smaller
 *     ones count as dirty while the dirty pages stay within a quarter of the
 *     pages in use. (Within the peak of pages in use instead, mstress took
 *     47 MB where jemalloc takes 36: pages in use count the pages a program
 *     never touched, so the peak overstates what was resident at the peak.)
 * Either way 4 MiB of dirty pages are always allowed. Past the budget the
 * longest dirty runs go back first, until the dirty pages are within a
 * quarter of the budget: a long run is likelier to hold a big block's pages
 * that its program never touched, the short ones are slabs' pages, wanted
 * again soon. On mstress (wl_mstress 1 8), whose threads exit and leave
 * their slabs to the next phase's threads: giving back every dirty run took
 * 46k page faults and 35 MB, down to a quarter 36k and 36.5 MB, down to
 * three quarters 29k and 40.5 MB (glibc's peak is 30 MB). And the decay: a
 * dirty run that no free has touched for a whole period (decay_ns, 1 s) goes
 * back at the first free after that period, and the peak forgets the period
 * before. Periods are counted only while RMEM_DECAY_MIN pages (256 KiB) or
 * more are dirty: below that a free reads no clock. A program that is done with a burst returns its memory within one
 * to two periods of its next free; one that stops freeing keeps it until
 * rmem_trim or its next free.
 * rmem_pages_release gives every dirty run back at once.
 */
static size_t pages_release(rmem_t *r);
static void pages_trim_dirty(rmem_t *r, uint32_t target);
static void pages_decay(rmem_t *r, uint64_t now);

static void free_pages_policy(rmem_t *r, uint32_t first, uint32_t n, uint8_t kind) {
  rmem_track_noaccess(r, rmem_page_addr(r, first), (size_t)n << RMEM_PAGE_SHIFT); /* free pages: nobody's */
  uint32_t dirty = n;
  if (kind != RMEM_PK_LARGE && n >= 256) {
    rmem_os_decommit((void *)rmem_page_addr(r, first), (size_t)n << RMEM_PAGE_SHIFT);
    dirty = 0;
  }
  free_and_merge(r, first, n, dirty);
  uint64_t budget = r->used_pages / 4;
  if (kind == RMEM_PK_LARGE) {
    uint64_t allowed = (uint64_t)r->peak_pages * 3 / 2;
    if (allowed > (uint64_t)r->used_pages + budget) budget = allowed - r->used_pages;
  }
  if (budget < RMEM_DIRTY_MIN) budget = RMEM_DIRTY_MIN;
  if (r->dirty_pages > budget) {
    pages_trim_dirty(r, (uint32_t)(budget / 4));
    return;
  }
  /* the clock is read only once the dirty pages are worth a decay: a small program never reads it (its
     first call faults in a 64 KiB window of the C library's code, a tenth of cfrac's peak over glibc's) */
  if (r->decay_ns && r->dirty_pages >= RMEM_DECAY_MIN) {
    uint64_t now = rmem_os_now_ns();
    if (r->period_ns == 0) r->period_ns = now; /* the first period begins here */
    else if (now - r->period_ns >= r->decay_ns) pages_decay(r, now);
  }
}

static void pages_free(rmem_t *r, uint32_t first) {
  uint32_t n = r->pm[first].len;
  rmem_assert((r->pm[first].flags & RMEM_PF_HEAD) && r->pm[first].kind != RMEM_PK_FREE && "a run head");
  r->used_pages -= n;
  free_pages_policy(r, first, n, r->pm[first].kind);
}

/* Rewrites the head/tail entries of allocated run [first, first+n) after a resize. */
static void set_run_len(rmem_t *r, uint32_t first, uint32_t n) {
  rmem_pme_t *pm = r->pm;
  pm[first].len = n;
  pm[first].flags |= RMEM_PF_HEAD;
  if (n == 1) {
    pm[first].flags |= RMEM_PF_TAIL;
  } else {
    pm[first].flags &= (uint8_t)~RMEM_PF_TAIL;
    pm[first + n - 1].flags = RMEM_PF_TAIL;
    pm[first + n - 1].len = n;
  }
}

static void pages_shrink(rmem_t *r, uint32_t first, uint32_t new_len) {
  uint32_t n = r->pm[first].len;
  if (new_len >= n || new_len == 0) return;
  r->used_pages -= n - new_len;
  if (new_len > 1) { /* the old tail is inside the freed part: cleared by free_and_merge */
    r->pm[first + new_len - 1].flags = 0;
    r->pm[first + new_len - 1].len = 0;
  }
  set_run_len(r, first, new_len);
  free_pages_policy(r, first + new_len, n - new_len, r->pm[first].kind);
}

static bool pages_grow(rmem_t *r, uint32_t first, uint32_t new_len) {
  rmem_pme_t *h = &r->pm[first];
  uint32_t n = h->len, end = first + n;
  if (new_len <= n) return true;
  uint32_t extra = new_len - n;
  if (end < r->top && r->pm[end].kind == RMEM_PK_FREE) {
    uint32_t flen = r->pm[end].len;
    uint32_t dirty = run_dirty(r, end);
    uint16_t when = r->pm[end].aux;
    if (flen >= extra) {
      take_free(r, end);
      if (flen > extra)
        make_free(r, end + extra, flen - extra, dirty ? dirty - bits_count(r->dirty_map, end, extra) : 0, when,
                  end + extra, end + extra);
    } else if (end + flen == r->top && (uint64_t)first + new_len <= r->limit) {
      take_free(r, end);
      r->top = first + new_len;
    } else {
      return false;
    }
  } else if (end == r->top && (uint64_t)first + new_len <= r->limit) {
    r->top = first + new_len;
  } else {
    return false;
  }
  used_add(r, extra);
  rmem_pme_t model = {.kind = h->kind, .owner = h->owner};
  for (uint32_t i = end; i < first + new_len; i++) r->pm[i] = model;
  freed_clear(r, end, extra);
  bits_put(r->dirty_map, end, extra, false);
  if (n > 1) {
    r->pm[end - 1].flags = 0;
    r->pm[end - 1].len = 0;
  }
  set_run_len(r, first, new_len);
  return true;
}

/* Decommits dirty runs, the longest first, until at most target dirty pages are left. */
static void pages_trim_dirty(rmem_t *r, uint32_t target) {
  for (int b = RMEM_BINS - 1; b >= 0 && r->dirty_pages > target; b--) {
    if (!(r->bin_map[b / 64] & ((uint64_t)1 << (b % 64)))) continue;
    for (uint32_t f = r->bins[b]; f && r->dirty_pages > target; f = r->pm[f].owner) decommit_run(r, f);
  }
}

/* Every dirty run goes back (every free run is binned, P5); returns the pages released. */
static size_t pages_release(rmem_t *r) {
  uint32_t before = r->dirty_pages;
  pages_trim_dirty(r, 0);
  return before - r->dirty_pages;
}

/* A decay period ended: dirty runs freed before it began go back, and a new period begins (P9). */
static void pages_decay(rmem_t *r, uint64_t now) {
  for (uint32_t p = 1; p < r->top;) {
    rmem_pme_t *h = &r->pm[p];
    uint32_t len = h->len ? h->len : 1;
    if (h->kind == RMEM_PK_FREE && (h->flags & RMEM_PF_DIRTY) && h->aux != r->period) decommit_run(r, p);
    p += len;
  }
  r->peak_pages = r->period_peak > r->used_pages ? r->period_peak : r->used_pages; /* the last period's and this one */
  r->period_peak = r->used_pages;
  r->period++;
  r->period_ns = now;
  r->decays++;
}

static uint32_t pages_largest_free(const rmem_t *r) {
  uint32_t best = 0;
  for (int b = RMEM_BINS - 1; b >= 0; b--) {
    if (!(r->bin_map[b / 64] & ((uint64_t)1 << (b % 64)))) continue;
    for (uint32_t f = r->bins[b]; f; f = r->pm[f].owner)
      if (r->pm[f].len > best) best = r->pm[f].len;
    break;
  }
  uint32_t tail = r->limit - r->top;
  if (r->top > 1 && r->pm[r->top - 1].kind == RMEM_PK_FREE) tail += r->pm[r->top - 1].len;
  return tail > best ? tail : best;
}

static size_t pages_check(rmem_t *r) {
  size_t problems = 0;
  rmem_pme_t *pm = r->pm;
  for (uint32_t wi = 0; wi < (r->npages + 63) / 64; wi++)
    for (uint64_t m = r->freed[wi]; m; m &= m - 1) {
      uint32_t page = wi * 64 + (uint32_t)__builtin_ctzll(m);
      if (page >= r->top || pm[page].kind != RMEM_PK_FREE) {
        rmem_problem(&problems, "page %u: marked inside a freed block but not free (P8)", page);
        break;
      }
    }
  if (pm[0].kind != RMEM_PK_RESERVED) rmem_problem(&problems, "pagemap: page 0 is not reserved (P1)");
  if (pm[r->npages - 1].kind != RMEM_PK_RESERVED) rmem_problem(&problems, "pagemap: the last page is not reserved (P1)");
  if (r->top < 1 || r->top > r->limit) {
    rmem_problem(&problems, "page source: top %u outside [1, %u]", r->top, r->limit);
    return problems;
  }
  uint32_t free_pages = 0, dirty = 0, used = 0, free_runs = 0;
  bool prev_free = false;
  for (uint32_t p = 1; p < r->top;) {
    rmem_pme_t *h = &pm[p];
    uint32_t len = h->len;
    if (!(h->flags & RMEM_PF_HEAD) || len == 0 || p + len > r->top) {
      rmem_problem(&problems, "pagemap: page %u should head a run (flags %#x, len %u) (P2/P3)", p, h->flags, len);
      return problems;
    }
    rmem_pme_t *t = &pm[p + len - 1];
    if (!(t->flags & RMEM_PF_TAIL) || t->len != len)
      rmem_problem(&problems, "pagemap: run at page %u: tail entry does not match (P3)", p);
    for (uint32_t i = p; i < p + len; i++) {
      if (pm[i].kind != h->kind) {
        rmem_problem(&problems, "pagemap: page %u of run %u has kind %u, not %u (P3)", i, p, pm[i].kind, h->kind);
        break;
      }
      if (h->kind != RMEM_PK_FREE && pm[i].owner != h->owner) {
        rmem_problem(&problems, "pagemap: page %u of run %u has owner %u, not %u (P3)", i, p, pm[i].owner, h->owner);
        break;
      }
    }
    if (h->kind == RMEM_PK_FREE) {
      if (prev_free) rmem_problem(&problems, "page source: free runs adjacent at page %u (P4)", p);
      free_pages += len;
      free_runs++;
      uint32_t d = run_dirty(r, p);
      if (d > len || ((h->flags & RMEM_PF_DIRTY) != 0) != (d != 0))
        rmem_problem(&problems, "page source: free run %u has dirty count %u of %u pages, flag %u (P9)", p, d, len,
                     (h->flags & RMEM_PF_DIRTY) != 0);
      if (d ? h->aux != r->period && h->aux != (uint16_t)(r->period - 1) : h->aux != 0)
        rmem_problem(&problems, "page source: free run %u (%u dirty pages) was freed in period %u, now %u (P9)", p, d,
                     h->aux, r->period);
      if (bits_count(r->dirty_map, p, len) != d)
        rmem_problem(&problems, "page source: free run %u has dirty count %u but %u pages in the dirty map (P9)", p, d,
                     bits_count(r->dirty_map, p, len));
      dirty += d;
      prev_free = true;
    } else if (h->kind == RMEM_PK_NEVER || h->kind == RMEM_PK_RESERVED) {
      rmem_problem(&problems, "pagemap: run at page %u below top has kind %u (P2)", p, h->kind);
      prev_free = false;
    } else {
      used += len;
      prev_free = false;
    }
    if (h->kind != RMEM_PK_FREE && bits_count(r->dirty_map, p, len))
      rmem_problem(&problems, "page source: run %u (kind %u) is not free but has pages in the dirty map (P9)", p, h->kind);
    p += len;
  }
  if (bits_count(r->dirty_map, r->top, r->npages - r->top))
    rmem_problem(&problems, "page source: a page at or above top (%u) is in the dirty map (P9)", r->top);
  /* never-used entries are all zero: scan them as words */
  const uint64_t *w = (const uint64_t *)&pm[r->top];
  size_t nw = (size_t)(r->limit - r->top) * (sizeof(rmem_pme_t) / sizeof(uint64_t));
  uint64_t any = 0;
  for (size_t i = 0; i < nw; i++) any |= w[i];
  if (any) rmem_problem(&problems, "pagemap: an entry above top (page %u) was written (P2)", r->top);
  if (free_pages != r->free_pages)
    rmem_problem(&problems, "page source: free_pages %u but runs hold %u (P5)", r->free_pages, free_pages);
  if (dirty != r->dirty_pages)
    rmem_problem(&problems, "page source: dirty_pages %u but runs hold %u (P9)", r->dirty_pages, dirty);
  if (r->used_pages > r->period_peak || r->period_peak > r->peak_pages)
    rmem_problem(&problems, "page source: %u pages in use, period peak %u, peak %u (P9)", r->used_pages,
                 r->period_peak, r->peak_pages);
  if (used != r->used_pages)
    rmem_problem(&problems, "page source: used_pages %u but runs hold %u", r->used_pages, used);
  /* bins: every listed run is a free head of the right bin; counts match */
  uint32_t listed = 0;
  for (unsigned b = 0; b < RMEM_BINS; b++) {
    bool bit = (r->bin_map[b / 64] >> (b % 64)) & 1;
    if (bit != (r->bins[b] != 0)) rmem_problem(&problems, "page source: bin %u bitmap bit disagrees (P5)", b);
    uint32_t prev = 0, guard = 0;
    for (uint32_t f = r->bins[b]; f; f = pm[f].owner) {
      if (f >= r->top || pm[f].kind != RMEM_PK_FREE || !(pm[f].flags & RMEM_PF_HEAD)) {
        rmem_problem(&problems, "page source: bin %u lists page %u, not a free run head (P5)", b, f);
        break;
      }
      if (bin_of(pm[f].len) != b) rmem_problem(&problems, "page source: run %u of %u pages in bin %u (P5)", f, pm[f].len, b);
      if (pm[f].prev != prev) rmem_problem(&problems, "page source: bin %u back link broken at %u", b, f);
      prev = f;
      if (++guard > free_runs) {
        rmem_problem(&problems, "page source: bin %u list has a cycle", b);
        break;
      }
      listed++;
    }
  }
  if (listed != free_runs) rmem_problem(&problems, "page source: %u runs binned but %u free runs (P5)", listed, free_runs);
  for (uint32_t p = 0; p < r->top; p++) {
    if (r->ptag[p] != 0 && pm[p].kind != RMEM_PK_SLAB) {
      rmem_problem(&problems, "page-tag map: page %u is tagged %u but holds no slab (P6)", p, r->ptag[p]);
      break;
    }
  }
  /* above top nothing was ever tagged: the untouched map need not be read */
  return problems;
}

/* ------------------------------------------------------------------------
 * The entry points: each under the instance's lock when it is shared
 * ------------------------------------------------------------------------ */

uint32_t rmem_pages_alloc(rmem_t *r, uint32_t npages, uint32_t align_pages, uint8_t kind, uint32_t owner) {
  rmem_shared_lock(r);
  uint32_t a = pages_alloc(r, npages, align_pages, kind, owner);
  rmem_shared_unlock(r);
  return a;
}

void rmem_pages_free(rmem_t *r, uint32_t first) {
  rmem_shared_lock(r);
  pages_free(r, first);
  rmem_shared_unlock(r);
}

bool rmem_pages_free_run(rmem_t *r, uint32_t first, uint8_t kind) {
  rmem_shared_lock(r);
  const rmem_pme_t *h = first < r->top ? &r->pm[first] : NULL;
  bool ok = h && h->kind == kind && (h->flags & RMEM_PF_HEAD);
  if (ok) {
    uint32_t n = h->len;
    pages_free(r, first);
    freed_mark(r, first + 1, n - 1); /* a pointer to one of these is into a freed block, not a double free (P8) */
  }
  rmem_shared_unlock(r);
  return ok;
}

void rmem_pages_set_owner(rmem_t *r, uint32_t first, uint32_t owner) {
  rmem_shared_lock(r);
  pages_set_owner(r, first, owner);
  rmem_shared_unlock(r);
}

void rmem_pages_shrink(rmem_t *r, uint32_t first, uint32_t new_len) {
  rmem_shared_lock(r);
  pages_shrink(r, first, new_len);
  rmem_shared_unlock(r);
}

bool rmem_pages_grow(rmem_t *r, uint32_t first, uint32_t new_len) {
  rmem_shared_lock(r);
  bool ok = pages_grow(r, first, new_len);
  rmem_shared_unlock(r);
  return ok;
}

size_t rmem_pages_release(rmem_t *r) {
  rmem_shared_lock(r);
  size_t n = pages_release(r);
  rmem_shared_unlock(r);
  return n;
}

uint32_t rmem_pages_largest_free(const rmem_t *r) {
  rmem_shared_lock((rmem_t *)r);
  uint32_t n = pages_largest_free(r);
  rmem_shared_unlock((rmem_t *)r);
  return n;
}

size_t rmem_pages_check(rmem_t *r) {
  rmem_shared_lock(r);
  size_t n = pages_check(r);
  rmem_shared_unlock(r);
  return n;
}
