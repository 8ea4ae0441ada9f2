/*
 * track.c - the out-of-line half of track.h: what AddressSanitizer and
 * valgrind's memcheck are told about the range. Compiles to nothing unless the
 * library is built for one of them (track.h says which and what is caught).
 *
 * Floor: beside front.h (reads the live bitmap, the pagemap and slab
 * descriptors; changes nothing of rmem's own state).
 */
#include "front.h"
#include "track.h"

#if RMEM_TRACK_ENABLED

#if RMEM_TRACK_ASAN
#include <sanitizer/asan_interface.h>
#endif
#if RMEM_TRACK_VALGRIND
#include <valgrind/memcheck.h>
#endif

/* ------------------------------------------------------------------------
 * The tool's three states of a byte
 * ------------------------------------------------------------------------ */

static void noaccess(const void *p, size_t n) {
  if (!n) return;
#if RMEM_TRACK_ASAN
  ASAN_POISON_MEMORY_REGION(p, n);
#else
  (void)VALGRIND_MAKE_MEM_NOACCESS(p, n);
#endif
}

/* Accessible, contents as they are (ASan) / undefined (memcheck). */
static void accessible(const void *p, size_t n) {
  if (!n) return;
#if RMEM_TRACK_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
  (void)VALGRIND_MAKE_MEM_UNDEFINED(p, n);
#endif
}

#if RMEM_TRACK_VALGRIND
/* The bytes of the block at p (usable bytes) the user may touch now: its accessible prefix. memcheck keeps
   the requested size of a MALLOCLIKE block, and a query of one byte's V bits reports no error. */
static size_t vg_requested(const void *p, size_t usable) {
  size_t lo = 0, hi = usable;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    unsigned char v;
    if (VALGRIND_GET_VBITS((const char *)p + mid, &v, 1) == 3) hi = mid; /* not addressable */
    else lo = mid + 1;
  }
  return lo;
}
#endif

void rmem_track_noaccess_(const void *p, size_t n) { noaccess(p, n); }
void rmem_track_accessible_(const void *p, size_t n) {
  if (!n) return;
#if RMEM_TRACK_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
  (void)VALGRIND_MAKE_MEM_DEFINED(p, n);
#endif
}

/* ------------------------------------------------------------------------
 * Blocks (heap, slab caches, intermediate arenas, MeMS segments)
 * ------------------------------------------------------------------------ */

void *rmem_track_alloc_(const rmem_t *r, void *p, size_t size, size_t usable) {
  if (!p || !rmem_tracking(r)) return p;
#if RMEM_TRACK_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, size);
#else
  VALGRIND_MALLOCLIKE_BLOCK(p, size, 0, 0);
#endif
  if (usable > size) noaccess((char *)p + size, usable - size);
  return p;
}

void rmem_track_free_(const rmem_t *r, void *p, size_t usable) {
  if (!p || !rmem_tracking(r)) return;
#if RMEM_TRACK_VALGRIND
  VALGRIND_FREELIKE_BLOCK(p, 0);
#endif
  noaccess(p, usable);
}

/* Usable bytes of what starts at p: a slot of a live slab, or a run head (large block, arena run); 0 if none. */
static size_t usable_of(const rmem_t *r, const void *p, bool *run) {
  uintptr_t u = (uintptr_t)p;
  *run = false;
  if (!rmem_in_range(r, u)) return 0;
  const rmem_pme_t *pme = rmem_pme_of(r, u);
  if (pme->kind == RMEM_PK_SLAB) {
    rmem_slab_t *s = rmem_slab_at(r, u);
    return s && rmem_slab_slot_at(s, u) != UINT32_MAX ? s->bsize : 0;
  }
  if ((pme->kind == RMEM_PK_LARGE || pme->kind == RMEM_PK_ARENA) && (pme->flags & RMEM_PF_HEAD) &&
      (u & (RMEM_PAGE_SIZE - 1)) == 0) {
    *run = pme->kind == RMEM_PK_ARENA;
    return (size_t)pme->len << RMEM_PAGE_SHIFT;
  }
  return 0;
}

void *rmem_track_block_(const rmem_t *r, void *p, size_t size) {
  if (!p || !rmem_tracking(r)) return p;
  bool run;
  size_t usable = usable_of(r, p, &run);
  if (run) return rmem_track_run_alloc_(r, (uintptr_t)p, p, size); /* an intermediate arena's large object */
  return rmem_track_alloc_(r, p, size, usable ? usable : size);
}

void *rmem_track_resize_(const rmem_t *r, void *p, size_t size, size_t old_usable, size_t usable) {
  if (!p || !rmem_tracking(r)) return p;
#if RMEM_TRACK_ASAN
  (void)old_usable;
  ASAN_UNPOISON_MEMORY_REGION(p, size);
#else
  size_t old = vg_requested(p, old_usable); /* memcheck's record of it: what is accessible of its old slot */
  if (old != size) VALGRIND_RESIZEINPLACE_BLOCK(p, old, size, 0);
#endif
  if (usable > size) noaccess((char *)p + size, usable - size);
  return p;
}

void rmem_track_claim_(const rmem_t *r, const void *p) {
  if (!p || !r || r->magic != RMEM_MAGIC || !rmem_tracking(r) || !rmem_in_range(r, (uintptr_t)p)) return;
  uintptr_t off = (uintptr_t)p - r->base;
  const rmem_pme_t *pme = rmem_pme_of(r, (uintptr_t)p);
  size_t usable;
  rmem_slab_t *s = pme->kind == RMEM_PK_SLAB ? rmem_slab_at(r, (uintptr_t)p) : NULL;
  if (s && s->owner_kind == RMEM_SO_HEAP && rmem_slab_slot_at(s, (uintptr_t)p) != UINT32_MAX && rmem_is_live(r, off) &&
      !(r->remote && (r->remote[off >> (RMEM_LIVE_SHIFT + 6)] & rmem_live_bit(off))))
    usable = s->bsize;
  else if (pme->kind == RMEM_PK_LARGE && (pme->flags & RMEM_PF_HEAD) && (off & (RMEM_PAGE_SIZE - 1)) == 0)
    usable = (size_t)pme->len << RMEM_PAGE_SHIFT;
  else return; /* not a live heap block: rmem_usable_size refuses it */
#if RMEM_TRACK_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, usable);
#else
  size_t old = vg_requested(p, usable);
  if (old != usable) VALGRIND_RESIZEINPLACE_BLOCK(p, old, usable, 0);
#endif
}

void *rmem_track_memset_(const rmem_t *r, void *p, int c, size_t n) {
  if (rmem_tracking(r)) accessible(p, n);
  return memset(p, c, n);
}

void *rmem_track_memcpy_(const rmem_t *r, void *dst, const void *src, size_t n) {
  if (!rmem_tracking(r)) return memcpy(dst, src, n);
#if RMEM_TRACK_ASAN
  ASAN_UNPOISON_MEMORY_REGION(src, n); /* the old block: poisoned as a whole when it is freed next */
  return memcpy(dst, src, n);
#else
  VALGRIND_DISABLE_ADDR_ERROR_REPORTING_IN_RANGE(src, n);
  memcpy(dst, src, n);
  VALGRIND_ENABLE_ADDR_ERROR_REPORTING_IN_RANGE(src, n);
  return dst;
#endif
}

/* ------------------------------------------------------------------------
 * Arena runs: one memcheck mempool each, keyed by the run's first address
 * ------------------------------------------------------------------------ */

void rmem_track_run_new_(const rmem_t *r, uintptr_t start, size_t bytes) {
  if (!rmem_tracking(r)) return;
#if RMEM_TRACK_VALGRIND
  VALGRIND_CREATE_MEMPOOL(start, 0, 0);
#endif
  noaccess((const void *)start, bytes);
}

void *rmem_track_run_alloc_(const rmem_t *r, uintptr_t start, void *p, size_t size) {
  if (!p || !rmem_tracking(r)) return p;
#if RMEM_TRACK_ASAN
  (void)start;
  ASAN_UNPOISON_MEMORY_REGION(p, size);
#else
  VALGRIND_MEMPOOL_ALLOC(start, p, size);
#endif
  size_t padded = (size + 7) & ~(size_t)7;
  if (padded > size) noaccess((char *)p + size, padded - size);
  return p;
}

void rmem_track_run_cut_(const rmem_t *r, uintptr_t start, uintptr_t from, uintptr_t to) {
  if (!rmem_tracking(r) || to <= from) return;
#if RMEM_TRACK_VALGRIND
  VALGRIND_MEMPOOL_TRIM(start, start, from - start); /* the objects before from stay */
#else
  (void)start;
#endif
  noaccess((const void *)from, to - from);
}

void rmem_track_run_gone_(const rmem_t *r, uintptr_t start) {
  if (!rmem_tracking(r)) return;
#if RMEM_TRACK_VALGRIND
  VALGRIND_DESTROY_MEMPOOL(start);
#else
  (void)start; /* the page source poisons the pages */
#endif
}

/* ------------------------------------------------------------------------
 * Mass deaths
 * ------------------------------------------------------------------------ */

#if RMEM_TRACK_VALGRIND
/* Every live block (live bit) in [lo, hi) of the range is freed. */
static void free_live(const rmem_t *r, uintptr_t lo, uintptr_t hi) {
  for (uintptr_t w = lo >> (RMEM_LIVE_SHIFT + 6); w < hi >> (RMEM_LIVE_SHIFT + 6); w++)
    /* a block another thread freed (its remote bit) waits for its owner: memcheck was told at that free */
    for (uint64_t m = r->live[w] & ~(r->remote ? r->remote[w] : 0); m; m &= m - 1) {
      uintptr_t off = (w << (RMEM_LIVE_SHIFT + 6)) + ((uintptr_t)__builtin_ctzll(m) << RMEM_LIVE_SHIFT);
      VALGRIND_FREELIKE_BLOCK((void *)(r->base + off), 0);
    }
}
#endif

void rmem_track_forget_(const rmem_t *r, const rmem_slab_list_t *l) {
  if (!rmem_tracking(r)) return;
#if RMEM_TRACK_VALGRIND
  for (const rmem_slab_t *s = l->all; s; s = s->anext)
    free_live(r, s->start - r->base, s->start - r->base + ((uintptr_t)s->npages << RMEM_PAGE_SHIFT));
#else
  (void)l; /* the slabs' pages are poisoned when they go back to the page source */
#endif
}

void rmem_track_destroy_(rmem_t *r) {
  if (!rmem_tracking(r)) return;
#if RMEM_TRACK_VALGRIND
  for (uint32_t page = 1; page < r->top;) {
    const rmem_pme_t *h = &r->pm[page];
    uint32_t len = h->len ? h->len : 1;
    uintptr_t at = rmem_page_addr(r, page);
    if (h->kind == RMEM_PK_SLAB) free_live(r, at - r->base, at - r->base + ((uintptr_t)len << RMEM_PAGE_SHIFT));
    else if (h->kind == RMEM_PK_LARGE) VALGRIND_FREELIKE_BLOCK((void *)at, 0);
    else if (h->kind == RMEM_PK_ARENA) VALGRIND_DESTROY_MEMPOOL(at);
    page += len;
  }
#endif
  /* whatever maps these addresses next starts accessible */
  if (r->top > 1) {
#if RMEM_TRACK_ASAN
    ASAN_UNPOISON_MEMORY_REGION((void *)r->base, (size_t)r->top << RMEM_PAGE_SHIFT);
#else
    (void)VALGRIND_MAKE_MEM_DEFINED((void *)r->base, (size_t)r->top << RMEM_PAGE_SHIFT);
#endif
  }
}

#else

typedef int rmem_track_unused_t; /* ISO C: a translation unit declares something */

#endif /* RMEM_TRACK_ENABLED */
