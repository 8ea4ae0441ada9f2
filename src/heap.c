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
 *     power of two up to 32 KiB. For sizes spread over 8..4096 that wastes
 *     2.5% of the live bytes inside blocks. Each class is a list of slabs on
 *     the slab engine (slab.c).
 *   - In front of the engine, the heap keeps one stack of freed blocks per
 *     class (the front, front.h and types.h). rmem_alloc pops the newest
 *     block of its class's stack and sets its live bit; rmem_free reads the
 *     block's live bit and its page's tag (the class) side by side -- two
 *     loads found from the address alone, neither waiting on the other --
 *     clears the bit and pushes the block. Stacks are refilled from the
 *     engine in batches of whole bitmap words and spilled back half at a
 *     time. A pointer whose live bit is clear is refused at once, with the
 *     reason found by the slow path (double free, interior pointer, another
 *     allocator's memory), and the heap is unchanged.
 *   - When a class's stack is empty and its slabs (it has some) have no free
 *     slot, it borrows one block of the next class or two up (<= 25% bigger)
 *     before it makes a new slab. Each class's live count wanders up and down under a
 *     random mix of sizes; without borrowing every class grows slabs to its
 *     own peak, with it the peaks of one class are served from the dips of
 *     its neighbour. The block belongs to its own class (its page's tag says
 *     which), so free needs nothing special.
 *   - Larger sizes are whole runs of pages from the page source (pages.c),
 *     which coalesces free runs at once and finds a run with two bit scans.
 *
 * So alloc and free are O(1), no metadata lives in user memory, and every
 * pointer handed to rmem_free is checked exactly, at that call. r_defrag
 * gives the stacks' blocks back to their slabs, empty slabs back to the page
 * source, where they merge with their free neighbours, and whole free pages
 * to the OS.
 *
 * Alignment: slots start at page-aligned slab starts at multiples of the
 * class size; every class but 8 is a multiple of 16, so every block is
 * 16-byte aligned except the 8-byte class's (8-byte aligned). Page runs are
 * 4096-byte aligned.
 *
 * Floor: above front.h, slab.c and pages.c. It sets the instance's reclaim
 * hook, so the page source can ask for its empty slabs back.
 */
#include "front.h"

/* ------------------------------------------------------------------------
 * Size classes
 * ------------------------------------------------------------------------ */

static uint32_t class_sizes[RMEM_HEAP_CLASSES];
static uint32_t nclasses;

#define FRONT_BYTES ((uint32_t)16 << 10) /* a class's stack holds about this many bytes (4 .. RMEM_FRONT_CAP blocks) */

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

static size_t heap_reclaim(rmem_t *r);

void rmem_heap_init(rmem_t *r) {
  build_classes();
  rmem_heap_t *h = &r->heap;
  rmem_front_t *f = &h->front;
  h->nclasses = nclasses;
  for (uint32_t c = 0; c < nclasses; c++) {
    uint32_t bsize = class_sizes[c];
    rmem_slab_list_init(&h->cls[c], r, bsize, RMEM_SO_HEAP, c, (uint16_t)(c + 1), true);
    uint32_t cap = bsize > RMEM_HEAP_TABLE_MAX ? 2 : FRONT_BYTES / bsize;
    f->cap[c + 1] = (uint8_t)(cap < 2 ? 2 : cap > RMEM_FRONT_CAP ? RMEM_FRONT_CAP : cap);
  }
  for (uint32_t g = 0; g <= RMEM_HEAP_TABLE_MAX / 8; g++) f->tag_of[g] = (uint8_t)(class_search(g ? g * 8 : 8) + 1);
  r->reclaim = heap_reclaim;
}

void rmem_heap_fini(rmem_t *r) {
  /* Slab descriptors and pages die with the instance's pool and range. */
  (void)r;
}

/* ------------------------------------------------------------------------
 * The front of the heap: stacks per tag (class + 1)
 * ------------------------------------------------------------------------ */

/* Pops the newest block of tag t's stack (n > 0) and marks it live. */
RMEM_INLINE void *front_pop(rmem_t *r, uint32_t t, uint32_t n) {
  rmem_front_t *f = &r->heap.front;
  uint32_t off = f->top[t];
  f->n[t] = (uint8_t)(n - 1);
  f->top[t] = f->st[t][(n - 2) & (RMEM_FRONT_CAP - 1)]; /* the new top (F5); a stale word when n is 0 */
  f->allocs++;
  rmem_set_live(r, off);
  return (void *)(r->base + off);
}

/* Empties tag t's stack into its slabs. */
static void front_flush(rmem_t *r, uint32_t t) {
  rmem_front_t *f = &r->heap.front;
  rmem_front_release(r, f->st[t], f->n[t]);
  f->n[t] = 0;
}

static void front_flush_all(rmem_t *r) {
  for (uint32_t t = 1; t <= r->heap.nclasses; t++) front_flush(r, t);
}

/* The block at off (live bit just cleared, tag t) goes on its stack; a full stack spills its older half first. */
static void front_push_slow(rmem_t *r, uint32_t t, uint32_t off) {
  rmem_front_t *f = &r->heap.front;
  uint32_t n = f->n[t];
  if (n >= f->cap[t]) {
    uint32_t half = n / 2u;
    rmem_front_release(r, f->st[t], half);
    memmove(f->st[t], f->st[t] + half, (n - half) * sizeof f->st[t][0]);
    n -= half;
  }
  f->st[t][n] = off;
  f->top[t] = off;
  f->n[t] = (uint8_t)(n + 1);
  f->frees++;
}

/*
 * Before class c makes a new slab: one free block of class c+1 or c+2 if
 * that class is at most 25% bigger and has one at hand (on its stack or free
 * in its slabs), marked live. NULL if none.
 */
static void *borrow(rmem_t *r, uint32_t c) {
  rmem_heap_t *h = &r->heap;
  for (uint32_t k = c + 1; k < h->nclasses && k <= c + 2; k++) {
    rmem_slab_list_t *n = &h->cls[k];
    if ((uint64_t)n->bsize * 4 > (uint64_t)h->cls[c].bsize * 5) break;
    uint32_t t = k + 1, cnt = h->front.n[t];
    if (cnt) {
      h->borrowed++;
      return front_pop(r, t, cnt);
    }
    if (rmem_slab_list_has_free(n)) {
      void *p = rmem_slab_list_alloc(n);
      if (!p) return NULL;
      h->borrowed++;
      h->front.allocs++;
      rmem_set_live(r, (uintptr_t)p - r->base);
      return p;
    }
  }
  return NULL;
}

/* Tag t's stack is empty: refill half of it from the engine (borrowing before a new slab) and pop one. */
static RMEM_NOINLINE void *front_refill(rmem_t *r, uint32_t t) {
  rmem_front_t *f = &r->heap.front;
  rmem_slab_list_t *l = &r->heap.cls[t - 1];
  uint32_t want = f->cap[t] / 2u ? f->cap[t] / 2u : 1u;
  uint32_t got = rmem_slab_list_alloc_batch(l, f->st[t], want, false);
  if (got == 0) {
    /* every slab of the class is full: a neighbour's dip serves this peak (a class with no slab
       yet makes its first one: borrowing then would make every allocation of it a borrow) */
    void *p = l->slabs ? borrow(r, t - 1) : NULL;
    if (p) return p;
    got = rmem_slab_list_alloc_batch(l, f->st[t], want, true);
    if (got == 0) return NULL; /* ENOMEM recorded */
  }
  /* the batch is in address order: hand out the lowest first */
  for (uint32_t a = 0, b = got - 1; a < b; a++, b--) {
    uint32_t x = f->st[t][a];
    f->st[t][a] = f->st[t][b];
    f->st[t][b] = x;
  }
  f->top[t] = f->st[t][got - 1];
  return front_pop(r, t, got);
}

/* One block of class tag t: the front, else a refill. NULL + ENOMEM. */
static void *class_alloc(rmem_t *r, uint32_t t) {
  uint32_t n = r->heap.front.n[t];
  return n ? front_pop(r, t, n) : front_refill(r, t);
}

/* The page source is exhausted: give back the blocks the stacks hold and every empty slab. */
static size_t heap_reclaim(rmem_t *r) {
  front_flush_all(r);
  size_t n = 0;
  for (uint32_t c = 0; c < r->heap.nclasses; c++) n += rmem_slab_list_shrink(&r->heap.cls[c]);
  return n;
}

/* ------------------------------------------------------------------------
 * Lookup: what a pointer is to the heap
 * ------------------------------------------------------------------------ */

typedef struct block {
  uint32_t tag;   /* class tag of a live slab block, 0 for a page run */
  uint32_t page;  /* first page of a page-run block */
  size_t size;    /* usable bytes */
} block_t;

/*
 * The live heap block at p, or the reason it is none (recorded; `op` names the
 * call). For free, a slot start that is not live is a double free; for every
 * other call it is "not a live block" (RMEM_EBADPTR): only a free can be a
 * double free.
 */
static rmem_status_t lookup(rmem_t *r, uintptr_t p, block_t *b, bool is_free) {
  if (!rmem_in_range(r, p))
    return rmem_fail_at(RMEM_EBADPTR, r, (void *)p, "%p is not in this rmem instance's range", (void *)p);
  uintptr_t off = p - r->base;
  uint32_t t = rmem_tag_at(r, off);
  if (t - 1u < r->heap.nclasses && rmem_is_live(r, off)) {
    b->tag = t;
    b->page = 0;
    b->size = r->heap.cls[t - 1].bsize;
    return RMEM_OK;
  }
  const rmem_pme_t *pme = rmem_pme_of(r, p);
  switch (pme->kind) {
    case RMEM_PK_SLAB: {
      rmem_status_t st = rmem_front_refuse(r, off, "the heap");
      if (st == RMEM_EDOUBLEFREE && !is_free)
        return rmem_fail_at(RMEM_EBADPTR, r, (void *)p, "offset %zu is not a live block (it was freed)", (size_t)off);
      return st;
    }
    case RMEM_PK_LARGE:
      if ((p & (RMEM_PAGE_SIZE - 1)) != 0 || !(pme->flags & RMEM_PF_HEAD))
        return rmem_fail_at(RMEM_EBADPTR, r, (void *)p, "offset %zu points into a large block, not at its start",
                            (size_t)off);
      b->tag = 0;
      b->page = rmem_page_index(r, p);
      b->size = (size_t)pme->len << RMEM_PAGE_SHIFT;
      return RMEM_OK;
    case RMEM_PK_FREE:
      if (is_free && (p & (RMEM_PAGE_SIZE - 1)) == 0)
        return rmem_fail_at(RMEM_EDOUBLEFREE, r, (void *)p,
                            "double free: offset %zu is in free pages (already freed, or never allocated)", (size_t)off);
      return rmem_fail_at(RMEM_EBADPTR, r, (void *)p, "offset %zu is in free pages, not a live block", (size_t)off);
    case RMEM_PK_ARENA:
      return rmem_fail_at(RMEM_EBADPTR, r, (void *)p, "offset %zu belongs to an arena, not to the heap", (size_t)off);
    case RMEM_PK_MEMS:
      return rmem_fail_at(RMEM_EBADPTR, r, (void *)p, "offset %zu belongs to MeMS, not to the heap", (size_t)off);
    default:
      return rmem_fail_at(RMEM_EBADPTR, r, (void *)p, "offset %zu was never allocated", (size_t)off);
  }
}

/* ------------------------------------------------------------------------
 * Debug options (RMEM_OPT_JUNK / RMEM_OPT_VALIDATE), off the fast path
 * ------------------------------------------------------------------------ */

static RMEM_NOINLINE void *debug_alloc(rmem_t *r, void *p, size_t n) {
  if (p && (r->flags & RMEM_OPT_JUNK)) memset(p, 0xAB, n);
  if (r->flags & RMEM_OPT_VALIDATE) rmem_validate_after(r);
  return p;
}

/* ------------------------------------------------------------------------
 * Allocation
 * ------------------------------------------------------------------------ */

static void *alloc_large(rmem_t *r, size_t size, uint32_t align_pages) {
  size_t pages = (size + RMEM_PAGE_SIZE - 1) >> RMEM_PAGE_SHIFT;
  if (pages >= r->npages)
    return rmem_fail_null(RMEM_ENOMEM, "%zu bytes exceed the instance's capacity of %zu", size, r->capacity);
  uint32_t first = rmem_pages_alloc(r, (uint32_t)pages, align_pages, RMEM_PK_LARGE, 0);
  if (!first) return NULL; /* ENOMEM recorded */
  r->heap.large_blocks++;
  r->heap.large_pages += pages;
  r->heap.allocs++;
  return (void *)rmem_page_addr(r, first);
}

static RMEM_NOINLINE void *alloc_slow(rmem_t *r, size_t size) {
  if (!rmem_check_instance(r)) return NULL;
  if (size == 0) return rmem_fail_null(RMEM_EINVAL, "r_alloc: size 0 (sizes start at 1)");
  if (size > SIZE_MAX - 7 || size > RMEM_MAX_CAPACITY)
    return rmem_fail_null(RMEM_ERANGE, "r_alloc: size %zu is too large", size);
  size = (size + 7) & ~(size_t)7; /* the seed's 8-byte padding */
  void *p;
  if (size <= RMEM_HEAP_TABLE_MAX) p = class_alloc(r, r->heap.front.tag_of[size >> 3]);
  else if (size <= RMEM_SMALL_MAX) p = class_alloc(r, class_search(size) + 1);
  else p = alloc_large(r, size, 1);
  if (RMEM_UNLIKELY(r->flags)) return debug_alloc(r, p, size);
  return p;
}

/* The fast path: a live instance without debug options, a size with a table entry, a block on its stack. */
void *rmem_alloc(rmem_t *r, size_t size) {
  if (RMEM_LIKELY(r != NULL && size - 1 < RMEM_HEAP_TABLE_MAX && r->fast == RMEM_FAST)) {
    rmem_front_t *f = &r->heap.front;
    uint32_t t = f->tag_of[(size + 7) >> 3], n = f->n[t];
    if (RMEM_LIKELY(n != 0)) {
      uint32_t off = f->top[t];
      f->n[t] = (uint8_t)(n - 1);
      f->top[t] = f->st[t][(n - 2) & (RMEM_FRONT_CAP - 1)]; /* F5; a stale word when n is 0 */
      f->allocs++;
      rmem_set_live(r, off);
      return (void *)(r->base + off);
    }
  }
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
       multiple of the alignment gives aligned blocks (and its stack holds only its own) */
    for (uint32_t c = class_search(size); c < r->heap.nclasses; c++) {
      if (class_sizes[c] % alignment == 0) {
        void *p = class_alloc(r, c + 1);
        if (p && ((uintptr_t)p & (alignment - 1)) != 0) {
          /* a block the class borrowed from the next one up: not aligned; give it back, take its own */
          rmem_free(r, p);
          p = rmem_slab_list_alloc(&r->heap.cls[c]);
          if (p) {
            r->heap.front.allocs++;
            rmem_set_live(r, (uintptr_t)p - r->base);
          }
        }
        if (RMEM_UNLIKELY(r->flags)) return debug_alloc(r, p, size);
        return p;
      }
    }
  }
  size_t align_pages = alignment <= RMEM_PAGE_SIZE ? 1 : alignment >> RMEM_PAGE_SHIFT;
  if (align_pages >= r->npages)
    return rmem_fail_null(RMEM_ENOMEM, "aligned_alloc: alignment %zu exceeds the instance", alignment);
  void *p = alloc_large(r, size, (uint32_t)align_pages);
  if (RMEM_UNLIKELY(r->flags)) return debug_alloc(r, p, size);
  return p;
}

/* ------------------------------------------------------------------------
 * Free
 * ------------------------------------------------------------------------ */

static RMEM_NOINLINE rmem_status_t free_slow(rmem_t *r, void *ptr) {
  if (ptr == NULL) return RMEM_OK;
  if (!rmem_check_instance(r)) return rmem_last_error();
  block_t b = {0, 0, 0};
  rmem_status_t st = lookup(r, (uintptr_t)ptr, &b, true);
  if (st != RMEM_OK) return st;
  if (r->flags & RMEM_OPT_JUNK) memset(ptr, 0xDF, b.size); /* checked first: a bad free never scribbles */
  uintptr_t off = (uintptr_t)ptr - r->base;
  if (b.tag) {
    rmem_clear_live(r, off);
    front_push_slow(r, b.tag, (uint32_t)off);
  } else {
    uint32_t len = r->pm[b.page].len;
    r->heap.large_blocks--;
    r->heap.large_pages -= len;
    r->heap.frees++;
    rmem_pages_free(r, b.page);
  }
  if (r->flags & RMEM_OPT_VALIDATE) rmem_validate_after(r);
  return RMEM_OK;
}

/* The fast path: a live block of a heap class (its live bit and its page's tag, read side by side), room on its stack. */
rmem_status_t rmem_free(rmem_t *r, void *ptr) {
  if (RMEM_LIKELY(r != NULL && r->fast == RMEM_FAST)) {
    uintptr_t off = (uintptr_t)ptr - r->base;
    if (RMEM_LIKELY(off < r->capacity && (off & (RMEM_LIVE_GRAIN - 1)) == 0)) {
      uint64_t *w = rmem_live_word(r, off), bit = rmem_live_bit(off), m = *w;
      uint32_t t = rmem_tag_at(r, off);
      rmem_front_t *f = &r->heap.front;
      if (RMEM_LIKELY((m & bit) != 0 && t - 1u < RMEM_HEAP_CLASSES)) {
        uint32_t n = f->n[t];
        if (RMEM_LIKELY(n < f->cap[t])) {
          *w = m & ~bit;
          f->st[t][n] = (uint32_t)off;
          f->top[t] = (uint32_t)off;
          f->n[t] = (uint8_t)(n + 1);
          f->frees++;
          return RMEM_OK;
        }
      }
    }
  }
  return free_slow(r, ptr);
}

/* ------------------------------------------------------------------------
 * Batches, usable size, realloc
 * ------------------------------------------------------------------------ */

size_t rmem_alloc_batch(rmem_t *r, size_t size, void **out, size_t n) {
  if (!rmem_check_instance(r)) return 0;
  if (!out && n) {
    rmem_fail(RMEM_EINVAL, "alloc_batch: NULL output");
    return 0;
  }
  size_t k = 0;
  for (; k < n; k++) {
    void *p = rmem_alloc(r, size);
    if (!p) break;
    out[k] = p;
  }
  return k;
}

size_t rmem_free_batch(rmem_t *r, void *const *ptrs, size_t n) {
  if (!rmem_check_instance(r)) return n;
  if (!ptrs && n) {
    rmem_fail(RMEM_EINVAL, "free_batch: NULL array");
    return n;
  }
  size_t refused = 0;
  rmem_error_info_t first;
  char msg[256];
  for (size_t k = 0; k < n; k++) {
    if (rmem_free(r, ptrs[k]) == RMEM_OK) continue;
    if (refused++ == 0) {
      rmem_last_error_info(&first);
      snprintf(msg, sizeof msg, "%s", first.message);
    }
  }
  if (refused) rmem_fail_at(first.code, r, first.ptr, "%s", msg); /* the first refusal is the one to report */
  return refused;
}

size_t rmem_usable_size(rmem_t *r, const void *ptr) {
  if (RMEM_LIKELY(r != NULL && r->fast == RMEM_FAST)) {
    uintptr_t off = (uintptr_t)ptr - r->base;
    if (RMEM_LIKELY(off < r->capacity && rmem_is_live(r, off))) {
      uint32_t t = rmem_tag_at(r, off);
      if (RMEM_LIKELY(t - 1u < r->heap.nclasses)) return r->heap.cls[t - 1].bsize;
    }
  }
  if (!rmem_check_instance(r)) return 0;
  if (!ptr) {
    rmem_fail(RMEM_EBADPTR, "usable_size: NULL");
    return 0;
  }
  block_t b = {0, 0, 0};
  return lookup(r, (uintptr_t)ptr, &b, false) == RMEM_OK ? b.size : 0;
}

void *rmem_realloc(rmem_t *r, void *ptr, size_t size) {
  if (!rmem_check_instance(r)) return NULL;
  if (ptr == NULL) return rmem_alloc(r, size);
  if (size == 0) return rmem_fail_null(RMEM_EINVAL, "realloc: size 0 (use free)");
  if (size > RMEM_MAX_CAPACITY) return rmem_fail_null(RMEM_ERANGE, "realloc: size %zu is too large", size);
  block_t b = {0, 0, 0};
  if (lookup(r, (uintptr_t)ptr, &b, false) != RMEM_OK) return NULL;
  size_t padded = (size + 7) & ~(size_t)7;
  if (b.tag) {
    /* stay in place if the new size still fits and uses at least half of the block */
    if (padded <= b.size && (padded * 2 >= b.size || b.size <= 16)) return ptr;
  } else {
    uint32_t len = r->pm[b.page].len;
    size_t want_pages = (padded + RMEM_PAGE_SIZE - 1) >> RMEM_PAGE_SHIFT;
    if (padded > RMEM_SMALL_MAX) {
      if (want_pages <= len) {
        if (want_pages < len) {
          rmem_pages_shrink(r, b.page, (uint32_t)want_pages);
          r->heap.large_pages -= len - want_pages;
        }
        return ptr;
      }
      if (want_pages < r->npages && rmem_pages_grow(r, b.page, (uint32_t)want_pages)) {
        r->heap.large_pages += want_pages - len;
        return ptr;
      }
    }
  }
  void *q = rmem_alloc(r, size);
  if (!q) return NULL; /* ptr stays valid */
  memcpy(q, ptr, b.size < padded ? b.size : padded);
  rmem_free(r, ptr);
  return q;
}

rmem_status_t rmem_front_layout(rmem_t *r, rmem_front_layout_t *out) {
  if (!rmem_check_instance(r)) return rmem_last_error();
  if (!out) return rmem_fail(RMEM_EINVAL, "front_layout: NULL output");
  rmem_front_t *f = &r->heap.front;
  memset(out, 0, sizeof *out);
  out->version = RMEM_FRONT_LAYOUT_VERSION;
  out->fast = r->fast == RMEM_FAST;
  out->live = r->live;
  out->live_bytes = r->capacity >> (RMEM_LIVE_SHIFT + 3);
  out->tags = r->ptag;
  out->ntags = r->npages;
  out->n = f->n;
  out->cap = f->cap;
  out->tag_of = f->tag_of;
  out->stacks = &f->st[0][0];
  out->top = f->top;
  out->stride = RMEM_FRONT_CAP;
  out->nclasses = r->heap.nclasses;
  out->table_max = RMEM_HEAP_TABLE_MAX;
  return RMEM_OK;
}

/* ------------------------------------------------------------------------
 * Trim, defrag, stats, walk, validate
 * ------------------------------------------------------------------------ */

rmem_status_t rmem_heap_trim(rmem_t *r, unsigned flags) {
  if (!rmem_check_instance(r)) return rmem_last_error();
  if (flags & ~RMEM_TRIM_RELEASE) return rmem_fail(RMEM_EINVAL, "heap_trim: unknown flags %#x", flags);
  heap_reclaim(r);
  if (flags & RMEM_TRIM_RELEASE) rmem_pages_release(r);
  return RMEM_OK;
}

rmem_status_t rmem_defrag(rmem_t *r, rmem_defrag_report_t *report) {
  if (!rmem_check_instance(r)) return rmem_last_error();
  size_t merges_before = r->merges;
  size_t slabs = heap_reclaim(r);
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
  const rmem_front_t *f = &r->heap.front;
  size_t free_slot_bytes = 0, largest_slot = 0;
  for (uint32_t c = 0; c < r->heap.nclasses; c++) {
    rmem_slab_list_t *l = &r->heap.cls[c];
    size_t used = 0, fs = 0;
    out->slabs += l->slabs;
    for (rmem_slab_t *s = l->all; s; s = s->anext) {
      used += s->used;
      fs += s->nslots - s->used;
    }
    size_t cached = f->n[c + 1]; /* used in the engine, free for the user */
    out->cached += cached;
    used -= cached;
    fs += cached;
    out->live_blocks += used;
    out->used += used * l->bsize;
    out->free_slots += fs;
    free_slot_bytes += fs * l->bsize;
    if (fs && l->bsize > largest_slot) largest_slot = l->bsize;
  }
  out->large_blocks = r->heap.large_blocks;
  out->live_blocks += r->heap.large_blocks;
  out->used += r->heap.large_pages << RMEM_PAGE_SHIFT;
  size_t free_pages = (size_t)r->free_pages + (r->limit - r->top);
  out->free = free_slot_bytes + (free_pages << RMEM_PAGE_SHIFT);
  size_t largest_run = (size_t)rmem_pages_largest_free(r) << RMEM_PAGE_SHIFT;
  out->largest_free = largest_run > largest_slot ? largest_run : largest_slot;
  out->fragmentation = out->free ? 1.0 - (double)out->largest_free / (double)out->free : 0.0;
  out->allocs = r->heap.allocs + f->allocs;
  out->frees = r->heap.frees + f->frees;
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
        size_t at = off + (size_t)i * s->bsize;
        stop = visit(fn, arg, at, s->bsize, rmem_is_live(r, at) ? RMEM_BLOCK_USED : RMEM_BLOCK_FREE);
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
  rmem_validation_begin();
  size_t problems = 0;
  size_t heap_slabs = 0;
  const rmem_front_t *f = &r->heap.front;
  if (r->fast != ((r->flags == 0) ? RMEM_FAST : 0)) rmem_problem(&problems, "instance: fast word disagrees with its flags (P7)");
  if (f->cap[0] != 0 || f->n[0] != 0) rmem_problem(&problems, "heap front: tag 0 has a stack (F4)");
  for (uint32_t g = 1; g <= RMEM_HEAP_TABLE_MAX / 8; g++) {
    uint32_t t = f->tag_of[g];
    if (t == 0 || t > r->heap.nclasses || class_sizes[t - 1] < g * 8 || (t > 1 && class_sizes[t - 2] >= g * 8)) {
      rmem_problem(&problems, "heap front: size %u maps to tag %u, not its class", g * 8, t);
      break;
    }
  }
  for (uint32_t c = 0; c < r->heap.nclasses; c++) {
    rmem_slab_list_t *l = &r->heap.cls[c];
    if (l->bsize != class_sizes[c] || l->owner_kind != RMEM_SO_HEAP || l->page_tag != c + 1)
      rmem_problem(&problems, "heap class %u: list header damaged", c);
    problems += rmem_slab_list_check(l);
    problems += rmem_front_check_stack(r, l, f->st[c + 1], f->n[c + 1], f->top[c + 1], f->cap[c + 1], RMEM_FRONT_CAP);
    problems += rmem_front_check_slabs(r, l);
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
  return rmem_validation_end(problems);
}
