/*
 * heap.c - the general heap: init_heap, r_alloc, r_free, r_defrag and friends.
 *
 * Design (why not a first-fit free list, as the seed had): a free-list walk
 * costs O(free blocks) per allocation, and headers inside user memory are
 * corrupted by the first buffer overrun. Instead:
 *
 *   - Sizes up to RMEM_SMALL_MAX (32 KiB) are rounded to one of 89 size
 *     classes: 8, then steps of 16 up to 128, then 8 classes per power of two
 *     up to 1 KiB, 16 per power of two up to 8 KiB (where most bytes of a
 *     typical mix are, and a page plus a small header: sqlite asks for 4104
 *     and 4368 bytes, which a 5120-byte class would waste 20% of), 4 per
 *     power of two up to 32 KiB. For sizes spread
 *     over 8..4096 that wastes 2.5% of the live bytes inside blocks. Before a
 *     class makes a new slab it borrows a free slot of the next class or two
 *     up (<= 25% bigger) if one is at hand (rmem_heap_borrow). Each
 *     class is a list of slabs (slab.c): allocation pops the lowest free slot
 *     of the current slab from an out-of-band bitmap; free finds the slab
 *     through the pagemap in O(1) and sets the bit back. Sizes <= 4 KiB find
 *     their class with one table load.
 *   - Larger sizes are whole runs of pages from the page source (instance.c),
 *     which coalesces free runs at once (boundary entries in the pagemap) and
 *     finds a run with two bit scans (TLSF-style bins).
 *
 * So alloc and free are O(1), no metadata lives in user memory, and every
 * pointer handed to rmem_free is checked exactly: in the range, on a page the
 * heap owns, at a block start, and live. r_defrag gives empty slabs back to
 * the page source, where they merge with their free neighbours, and returns
 * whole free pages to the OS.
 *
 * Alignment: slots start at page-aligned slab starts at multiples of the
 * class size; every class but 8 is a multiple of 16, so every block is
 * 16-byte aligned except the 8-byte class's (8-byte aligned). Page runs are
 * 4096-byte aligned.
 */
#include "internal.h"

/* ------------------------------------------------------------------------
 * Size classes
 * ------------------------------------------------------------------------ */

static uint32_t class_sizes[RMEM_HEAP_CLASSES];
static uint32_t nclasses;

static void build_classes(void) {
  if (nclasses) return;
  uint32_t n = 0;
  class_sizes[n++] = 8;
  for (uint32_t s = 16; s <= 128; s += 16) class_sizes[n++] = s;
  for (uint32_t base = 128; base < 1024; base *= 2)
    for (uint32_t i = 1; i <= 8; i++) class_sizes[n++] = base + i * (base / 8);
  for (uint32_t base = 1024; base < 8192; base *= 2)
    for (uint32_t i = 1; i <= 16; i++) class_sizes[n++] = base + i * (base / 16);
  for (uint32_t base = 8192; base < RMEM_SMALL_MAX; base *= 2)
    for (uint32_t i = 1; i <= 4; i++) class_sizes[n++] = base + i * (base / 4);
  rmem_assert(n <= RMEM_HEAP_CLASSES && class_sizes[n - 1] == RMEM_SMALL_MAX && "class table");
  nclasses = n;
}

/* Smallest class >= size (size <= RMEM_SMALL_MAX). */
static uint32_t class_search(size_t size) {
  uint32_t lo = 0, hi = nclasses - 1;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (class_sizes[mid] >= size) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

void rmem_heap_init(rmem_t *r) {
  build_classes();
  rmem_heap_t *h = &r->heap;
  h->nclasses = nclasses;
  for (uint32_t c = 0; c < nclasses; c++) rmem_slab_list_init(&h->cls[c], r, class_sizes[c], RMEM_SO_HEAP, c, true);
  for (uint32_t g = 0; g <= RMEM_HEAP_TABLE_MAX / 8; g++) h->class_of[g] = (uint8_t)class_search(g ? g * 8 : 8);
}

void rmem_heap_fini(rmem_t *r) {
  /* Slab descriptors and pages die with the instance's pool and range. */
  (void)r;
}

/*
 * Before class c makes a new slab, take a free slot of class c+1 if that
 * class has one at hand (parked, in cur or in a partial slab) and is at most
 * 25% bigger. Each class's live count wanders up and down under a random mix
 * of sizes; without borrowing every class grows slabs to its own peak, with
 * it the peaks of one class are served from the dips of its neighbour. The
 * block costs at most one class step of extra waste; free and usable_size
 * need nothing special (the slot belongs to c+1's slab).
 */
void *rmem_heap_borrow(rmem_slab_list_t *l) {
  rmem_t *r = l->r;
  uint32_t c = l->owner_id;
  if (r->heap.no_borrow) return NULL;
  for (uint32_t k = c + 1; k < r->heap.nclasses && k <= c + 2; k++) {
    rmem_slab_list_t *n = &r->heap.cls[k];
    if ((uint64_t)n->bsize * 4 > (uint64_t)l->bsize * 5) break;
    if (n->nparked == 0 && n->cur->summary == 0 && n->partial == NULL) continue;
    r->heap.borrowed++;
    return rmem_slab_list_alloc(n);
  }
  return NULL;
}

size_t rmem_heap_reclaim(rmem_t *r) {
  size_t n = 0;
  for (uint32_t c = 0; c < r->heap.nclasses; c++) n += rmem_slab_list_shrink(&r->heap.cls[c]);
  return n;
}

/* ------------------------------------------------------------------------
 * Debug options (RMEM_OPT_JUNK / RMEM_OPT_VALIDATE), off the fast path
 * ------------------------------------------------------------------------ */

static size_t block_size(rmem_t *r, uintptr_t p);

static RMEM_NOINLINE void debug_after(rmem_t *r, void *p, bool alloc) {
  if (p && (r->flags & RMEM_OPT_JUNK)) {
    size_t n = block_size(r, (uintptr_t)p);
    if (n) memset(p, alloc ? 0xAB : 0xDF, n);
  }
  if (r->flags & RMEM_OPT_VALIDATE) {
    rmem_status_t saved = rmem_last_error();
    char msg[256];
    snprintf(msg, sizeof msg, "%s", rmem_last_error_message());
    size_t problems = rmem_validate(r);
    if (problems == 0) {
      /* keep the caller's own error visible */
      if (saved) rmem_fail(saved, "%s", msg);
      else rmem_clear_error();
    }
  }
}

/* ------------------------------------------------------------------------
 * Allocation
 * ------------------------------------------------------------------------ */

static void *alloc_large(rmem_t *r, size_t size, uint32_t align_pages) {
  size_t pages = (size + RMEM_PAGE_SIZE - 1) >> RMEM_PAGE_SHIFT;
  if (pages >= r->npages) return rmem_fail_null(RMEM_ENOMEM, "%zu bytes exceed the instance's capacity of %zu", size, r->capacity);
  uint32_t first = rmem_pages_alloc(r, (uint32_t)pages, align_pages, RMEM_PK_LARGE, 0);
  if (!first && rmem_heap_reclaim(r) > 0) first = rmem_pages_alloc(r, (uint32_t)pages, align_pages, RMEM_PK_LARGE, 0);
  if (!first) return NULL; /* ENOMEM recorded */
  r->heap.large_blocks++;
  r->heap.large_pages += pages;
  return (void *)rmem_page_addr(r, first);
}

static RMEM_NOINLINE void *alloc_slow(rmem_t *r, size_t size) {
  if (!rmem_check_instance(r)) return NULL;
  if (size == 0) return rmem_fail_null(RMEM_EINVAL, "r_alloc: size 0 (sizes start at 1)");
  if (size > SIZE_MAX - 7 || size > RMEM_MAX_CAPACITY)
    return rmem_fail_null(RMEM_ERANGE, "r_alloc: size %zu is too large", size);
  size = (size + 7) & ~(size_t)7; /* the seed's 8-byte padding */
  void *p;
  r->heap.allocs++;
  if (size <= RMEM_SMALL_MAX) p = rmem_slab_list_alloc(&r->heap.cls[class_search(size)]);
  else p = alloc_large(r, size, 1);
  if (RMEM_UNLIKELY(r->flags)) debug_after(r, p, true);
  return p;
}

void *rmem_alloc(rmem_t *r, size_t size) {
  if (RMEM_LIKELY(r != NULL && size - 1 < RMEM_HEAP_TABLE_MAX && r->magic == RMEM_MAGIC && r->flags == 0))
    return rmem_heap_alloc_table(r, size);
  return alloc_slow(r, size);
}

void *rmem_calloc(rmem_t *r, size_t n, size_t size) {
  if (!rmem_check_instance(r)) return NULL;
  if (size != 0 && n > SIZE_MAX / size) return rmem_fail_null(RMEM_ERANGE, "calloc: %zu * %zu overflows", n, size);
  void *p = rmem_alloc(r, n * size);
  if (p) memset(p, 0, n * size);
  return p;
}

void *rmem_aligned_alloc(rmem_t *r, size_t alignment, size_t size) {
  if (!rmem_check_instance(r)) return NULL;
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    return rmem_fail_null(RMEM_EINVAL, "aligned_alloc: alignment %zu is not a power of two", alignment);
  if (alignment > ((size_t)1 << 30)) return rmem_fail_null(RMEM_EINVAL, "aligned_alloc: alignment %zu above 1 GiB", alignment);
  if (size == 0) return rmem_fail_null(RMEM_EINVAL, "aligned_alloc: size 0");
  if (size > RMEM_MAX_CAPACITY) return rmem_fail_null(RMEM_ERANGE, "aligned_alloc: size %zu is too large", size);
  size = (size + 7) & ~(size_t)7;
  if (alignment <= 8) return rmem_alloc(r, size);
  if (alignment <= RMEM_PAGE_SIZE && size <= RMEM_SMALL_MAX) {
    /* slots sit at multiples of the class size from a page boundary: a class that is a
       multiple of the alignment gives aligned blocks */
    for (uint32_t c = class_search(size); c < r->heap.nclasses; c++) {
      if (class_sizes[c] % alignment == 0) {
        r->heap.allocs++;
        r->heap.no_borrow = 1; /* the next class up may not be aligned */
        void *p = rmem_slab_list_alloc(&r->heap.cls[c]);
        r->heap.no_borrow = 0;
        if (RMEM_UNLIKELY(r->flags)) debug_after(r, p, true);
        return p;
      }
    }
  }
  size_t align_pages = alignment <= RMEM_PAGE_SIZE ? 1 : alignment >> RMEM_PAGE_SHIFT;
  if (align_pages >= r->npages) return rmem_fail_null(RMEM_ENOMEM, "aligned_alloc: alignment %zu exceeds the instance", alignment);
  r->heap.allocs++;
  void *p = alloc_large(r, size, (uint32_t)align_pages);
  if (RMEM_UNLIKELY(r->flags)) debug_after(r, p, true);
  return p;
}

/* ------------------------------------------------------------------------
 * Free and lookup
 * ------------------------------------------------------------------------ */

/* Why a pointer is not a live heap block, as an error; RMEM_OK if it is one (sets *slab or *large_page). */
static rmem_status_t lookup(rmem_t *r, uintptr_t p, rmem_slab_t **slab, uint32_t *large_page, bool quiet) {
  if (!rmem_in_range(r, p))
    return quiet ? RMEM_EBADPTR : rmem_fail(RMEM_EBADPTR, "%p is not in this rmem instance's range", (void *)p);
  rmem_pme_t *pme = rmem_pme_of(r, p);
  switch (pme->kind) {
    case RMEM_PK_SLAB: {
      rmem_slab_t *s = rmem_slab_of(r, pme);
      if (s->owner_kind != RMEM_SO_HEAP)
        return quiet ? RMEM_EBADPTR
                     : rmem_fail(RMEM_EBADPTR, "%p belongs to %s, not to the heap", (void *)p,
                                 s->owner_kind == RMEM_SO_CACHE ? "a slab cache" : "an arena");
      uint32_t idx = rmem_slab_slot_at(s, p);
      if (idx == UINT32_MAX) return quiet ? RMEM_EBADPTR : rmem_slab_bad_free(s, p, 0);
      if (rmem_slab_slot_free(s, idx)) return quiet ? RMEM_EDOUBLEFREE : rmem_slab_bad_free(s, p, 1);
      *slab = s;
      return RMEM_OK;
    }
    case RMEM_PK_LARGE: {
      uint32_t page = rmem_page_index(r, p);
      if ((p & (RMEM_PAGE_SIZE - 1)) != 0 || !(pme->flags & RMEM_PF_HEAD))
        return quiet ? RMEM_EBADPTR : rmem_fail(RMEM_EBADPTR, "%p points into a large block, not at its start", (void *)p);
      *large_page = page;
      return RMEM_OK;
    }
    case RMEM_PK_FREE:
      return quiet ? RMEM_EDOUBLEFREE
                   : rmem_fail((p & (RMEM_PAGE_SIZE - 1)) == 0 ? RMEM_EDOUBLEFREE : RMEM_EBADPTR,
                               "%p is in free pages (already freed, or never allocated)", (void *)p);
    case RMEM_PK_ARENA:
      return quiet ? RMEM_EBADPTR : rmem_fail(RMEM_EBADPTR, "%p belongs to an arena, not to the heap", (void *)p);
    case RMEM_PK_MEMS:
      return quiet ? RMEM_EBADPTR : rmem_fail(RMEM_EBADPTR, "%p belongs to MeMS, not to the heap", (void *)p);
    default:
      return quiet ? RMEM_EBADPTR : rmem_fail(RMEM_EBADPTR, "%p was never allocated", (void *)p);
  }
}

static RMEM_NOINLINE rmem_status_t free_slow(rmem_t *r, void *ptr) {
  if (ptr == NULL) return RMEM_OK;
  if (!rmem_check_instance(r)) return rmem_last_error();
  uintptr_t p = (uintptr_t)ptr;
  rmem_slab_t *s = NULL;
  uint32_t page = 0;
  if (r->flags & RMEM_OPT_JUNK) {
    rmem_status_t st = lookup(r, p, &s, &page, false);
    if (st != RMEM_OK) return st;
    memset(ptr, 0xDF, block_size(r, p));
  }
  rmem_status_t st = lookup(r, p, &s, &page, false);
  if (st != RMEM_OK) return st;
  r->heap.frees++; /* lookup has validated the block: the free cannot be refused now */
  if (s) {
    st = rmem_slab_free_in(s, p);
  } else {
    uint32_t len = r->pm[page].len;
    r->heap.large_blocks--;
    r->heap.large_pages -= len;
    rmem_pages_free(r, page);
  }
  if (r->flags & RMEM_OPT_VALIDATE) debug_after(r, NULL, false);
  return st;
}

rmem_status_t rmem_free(rmem_t *r, void *ptr) {
  uintptr_t p = (uintptr_t)ptr;
  if (RMEM_LIKELY(r != NULL && r->magic == RMEM_MAGIC && r->flags == 0 && p - r->base < r->capacity)) {
    int st = rmem_heap_free_slab(r, p);
    if (RMEM_LIKELY(st >= 0)) return (rmem_status_t)st;
  }
  return free_slow(r, ptr);
}

/* Usable size of a live block, 0 if p is not one (no error recorded). */
static size_t block_size(rmem_t *r, uintptr_t p) {
  rmem_slab_t *s = NULL;
  uint32_t page = 0;
  if (lookup(r, p, &s, &page, true) != RMEM_OK) return 0;
  return s ? s->bsize : (size_t)r->pm[page].len << RMEM_PAGE_SHIFT;
}

size_t rmem_usable_size(rmem_t *r, const void *ptr) {
  if (!rmem_check_instance(r)) return 0;
  rmem_slab_t *s = NULL;
  uint32_t page = 0;
  if (!ptr) {
    rmem_fail(RMEM_EBADPTR, "usable_size: NULL");
    return 0;
  }
  if (lookup(r, (uintptr_t)ptr, &s, &page, false) != RMEM_OK) return 0;
  return s ? s->bsize : (size_t)r->pm[page].len << RMEM_PAGE_SHIFT;
}

void *rmem_realloc(rmem_t *r, void *ptr, size_t size) {
  if (!rmem_check_instance(r)) return NULL;
  if (ptr == NULL) return rmem_alloc(r, size);
  if (size == 0) return rmem_fail_null(RMEM_EINVAL, "realloc: size 0 (use free)");
  if (size > RMEM_MAX_CAPACITY) return rmem_fail_null(RMEM_ERANGE, "realloc: size %zu is too large", size);
  rmem_slab_t *s = NULL;
  uint32_t page = 0;
  if (lookup(r, (uintptr_t)ptr, &s, &page, false) != RMEM_OK) return NULL;
  size_t padded = (size + 7) & ~(size_t)7;
  if (s) {
    /* stay in place if the new size still belongs to this class or is at least half of it */
    if (padded <= s->bsize && (padded > RMEM_SMALL_MAX || padded * 2 >= s->bsize || s->bsize <= 16)) return ptr;
  } else {
    uint32_t len = r->pm[page].len;
    size_t want_pages = (padded + RMEM_PAGE_SIZE - 1) >> RMEM_PAGE_SHIFT;
    if (padded > RMEM_SMALL_MAX) {
      if (want_pages <= len) {
        if (want_pages < len) {
          rmem_pages_shrink(r, page, (uint32_t)want_pages);
          r->heap.large_pages -= len - want_pages;
        }
        return ptr;
      }
      if (want_pages < r->npages && rmem_pages_grow(r, page, (uint32_t)want_pages)) {
        r->heap.large_pages += want_pages - len;
        return ptr;
      }
    }
  }
  size_t old = s ? s->bsize : (size_t)r->pm[page].len << RMEM_PAGE_SHIFT;
  void *q = rmem_alloc(r, size);
  if (!q) return NULL; /* ptr stays valid */
  memcpy(q, ptr, old < padded ? old : padded);
  rmem_free(r, ptr);
  return q;
}

/* ------------------------------------------------------------------------
 * Defrag, stats, walk, validate
 * ------------------------------------------------------------------------ */

rmem_status_t rmem_defrag(rmem_t *r, rmem_defrag_report_t *report) {
  if (!rmem_check_instance(r)) return rmem_last_error();
  size_t merges_before = r->merges;
  size_t slabs = rmem_heap_reclaim(r);
  size_t pages = rmem_pages_release(r);
  if (report) {
    report->merged = r->merges - merges_before;
    report->slabs_released = slabs;
    report->pages_released = pages;
    report->bytes_released = pages << RMEM_PAGE_SHIFT;
  }
  return RMEM_OK;
}

rmem_status_t rmem_heap_stats(rmem_t *r, rmem_heap_stats_t *out) {
  if (!rmem_check_instance(r)) return rmem_last_error();
  if (!out) return rmem_fail(RMEM_EINVAL, "heap_stats: NULL output");
  memset(out, 0, sizeof *out);
  size_t free_slot_bytes = 0, largest_slot = 0;
  for (uint32_t c = 0; c < r->heap.nclasses; c++) {
    rmem_slab_list_t *l = &r->heap.cls[c];
    out->slabs += l->slabs;
    for (rmem_slab_t *s = l->all; s; s = s->anext) {
      out->live_blocks += s->used;
      out->used += (size_t)s->used * s->bsize;
      size_t fs = s->nslots - s->used;
      out->free_slots += fs;
      free_slot_bytes += fs * s->bsize;
      if (fs && s->bsize > largest_slot) largest_slot = s->bsize;
    }
  }
  out->large_blocks = r->heap.large_blocks;
  out->live_blocks += r->heap.large_blocks;
  out->used += r->heap.large_pages << RMEM_PAGE_SHIFT;
  size_t free_pages = (size_t)r->free_pages + (r->limit - r->top);
  out->free = free_slot_bytes + (free_pages << RMEM_PAGE_SHIFT);
  size_t largest_run = (size_t)rmem_pages_largest_free(r) << RMEM_PAGE_SHIFT;
  out->largest_free = largest_run > largest_slot ? largest_run : largest_slot;
  out->fragmentation = out->free ? 1.0 - (double)out->largest_free / (double)out->free : 0.0;
  out->allocs = r->heap.allocs;
  out->frees = r->heap.frees;
  return RMEM_OK;
}

static int visit(rmem_walk_fn *fn, void *arg, size_t off, size_t size, rmem_block_state_t st) {
  rmem_block_info_t b = {.offset = off, .size = size, .state = st};
  return fn(&b, arg);
}

rmem_status_t rmem_heap_walk(rmem_t *r, rmem_walk_fn *fn, void *arg) {
  if (!rmem_check_instance(r)) return rmem_last_error();
  if (!fn) return rmem_fail(RMEM_EINVAL, "heap_walk: NULL visitor");
  for (uint32_t p = 1; p < r->top;) {
    rmem_pme_t *h = &r->pm[p];
    uint32_t len = h->len ? h->len : 1;
    size_t off = (size_t)p << RMEM_PAGE_SHIFT, bytes = (size_t)len << RMEM_PAGE_SHIFT;
    int stop = 0;
    if (h->kind == RMEM_PK_FREE) {
      stop = visit(fn, arg, off, bytes, RMEM_BLOCK_FREE);
    } else if (h->kind == RMEM_PK_LARGE) {
      stop = visit(fn, arg, off, bytes, RMEM_BLOCK_USED);
    } else if (h->kind == RMEM_PK_SLAB && rmem_slab_of(r, h)->owner_kind == RMEM_SO_HEAP) {
      rmem_slab_t *s = rmem_slab_of(r, h);
      for (uint32_t i = 0; i < s->nslots && !stop; i++) {
        bool is_free = (s->bits[i >> 6] >> (i & 63)) & 1;
        stop = visit(fn, arg, off + (size_t)i * s->bsize, s->bsize, is_free ? RMEM_BLOCK_FREE : RMEM_BLOCK_USED);
      }
      size_t carved = (size_t)s->nslots * s->bsize;
      if (!stop && carved < bytes) stop = visit(fn, arg, off + carved, bytes - carved, RMEM_BLOCK_PADDING);
    } else {
      stop = visit(fn, arg, off, bytes, RMEM_BLOCK_OTHER);
    }
    if (stop) return RMEM_OK;
    p += len;
  }
  if (r->limit > r->top)
    visit(fn, arg, (size_t)r->top << RMEM_PAGE_SHIFT, (size_t)(r->limit - r->top) << RMEM_PAGE_SHIFT, RMEM_BLOCK_FREE);
  return RMEM_OK;
}

size_t rmem_heap_validate(rmem_t *r) {
  if (!rmem_check_instance(r)) return 1;
  size_t problems = 0;
  size_t heap_slabs = 0;
  for (uint32_t c = 0; c < r->heap.nclasses; c++) {
    rmem_slab_list_t *l = &r->heap.cls[c];
    if (l->bsize != class_sizes[c] || l->owner_kind != RMEM_SO_HEAP)
      rmem_problem(&problems, "heap class %u: list header damaged", c);
    problems += rmem_slab_list_check(l);
    heap_slabs += l->slabs;
  }
  /* every slab page of the heap belongs to one of its lists; large blocks add up */
  size_t slabs_seen = 0, large = 0, large_pages = 0;
  for (uint32_t p = 1; p < r->top;) {
    rmem_pme_t *h = &r->pm[p];
    uint32_t len = h->len ? h->len : 1;
    if (h->kind == RMEM_PK_SLAB) {
      if (h->owner == 0 || h->owner >= r->slabs.bump) {
        rmem_problem(&problems, "page %u: slab index %u out of range", p, h->owner);
      } else {
        rmem_slab_t *s = rmem_slab_of(r, h);
        if (s->magic != RMEM_SLAB_MAGIC) rmem_problem(&problems, "page %u: slab %u is not alive", p, h->owner);
        else if (s->owner_kind == RMEM_SO_HEAP) {
          slabs_seen++;
          if (s->list < &r->heap.cls[0] || s->list >= &r->heap.cls[r->heap.nclasses])
            rmem_problem(&problems, "page %u: heap slab points at a foreign list", p);
        }
      }
    } else if (h->kind == RMEM_PK_LARGE) {
      large++;
      large_pages += len;
    }
    p += len;
  }
  if (slabs_seen != heap_slabs) rmem_problem(&problems, "heap: %zu slabs in the pagemap, %zu on the lists", slabs_seen, heap_slabs);
  if (large != r->heap.large_blocks || large_pages != r->heap.large_pages)
    rmem_problem(&problems, "heap: %zu large blocks (%zu pages) in the pagemap, counters say %zu (%zu)", large, large_pages,
                 r->heap.large_blocks, r->heap.large_pages);
  return problems;
}
