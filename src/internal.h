/*
 * internal.h - private declarations shared by rmem's sources. Never installed.
 *
 * The architecture, floor by floor from the bottom; a file calls only into
 * the floors below it (what an owner wants from a lower floor is a hook the
 * owner sets, never a call up):
 *
 *   os.c        the operating system behind one contract (include/rmem_os.h).
 *   error.c     the per-thread last error and the one place failures are reported.
 *   meta.c      out-of-band memory: indexed pools and the metadata allocator.
 *   pages.c     the page source of an instance: runs of 4 KiB pages, TLSF-style
 *               bins, immediate coalescing through the pagemap's boundary entries.
 *   slab.c      the slab engine: runs of pages carved into equal slots, an
 *               out-of-band two-level bitmap per slab (O(1) alloc/free, exact
 *               double-free and interior-pointer detection).
 *   handle.c    checked handles for arenas and slab caches (handle.h).
 *   heap.c      the general heap: size classes on the slab engine + large page runs.
 *   cache.c     slab caches on the slab engine.
 *   arena.c     arenas: bump chunks from the page source; intermediate arenas use
 *               the slab engine for their size classes.
 *   mems.c      MeMS on the page source.
 *   instance.c  rmem_create / rmem_destroy, the default instance, rmem_stats,
 *               rmem_validate (every subsystem through one table).
 *   seed.c      the seed's names (init_heap, r_alloc, ...) on the default instance.
 *
 * Invariants of the range (checked by rmem_validate):
 *   P1  page 0 and page npages-1 are RMEM_PK_RESERVED and never handed out.
 *   P2  pages [1, top) are covered exactly by runs; pages [top, npages-1) are RMEM_PK_NEVER.
 *   P3  a run's head and tail entries carry its length (len) and the HEAD/TAIL flags;
 *       every page of a run has the run's kind; an allocated run's pages all carry its
 *       owner index.
 *   P4  no two free runs are adjacent (coalescing is immediate).
 *   P5  every free run is in exactly the bin of its length; the bin bitmap has bit b
 *       set iff bin b is non-empty; free_pages is the sum of free run lengths.
 *   P6  pclass[page] != 0 only on pages of a heap size class's slab (S4).
 */
#ifndef RMEM_INTERNAL_H
#define RMEM_INTERNAL_H

#include "rmem.h"
#include "rmem_os.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define RMEM_HIDDEN __attribute__((visibility("hidden")))
#define RMEM_INLINE static inline __attribute__((always_inline))
#define RMEM_NOINLINE __attribute__((noinline))
#define RMEM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define RMEM_HIDDEN
#define RMEM_INLINE static inline
#define RMEM_NOINLINE
#define RMEM_PRINTF(f, a)
#endif

/* Internal invariants only; caller input is checked at run time in every build. */
#ifdef RMEM_DEBUG
#include <assert.h>
#define rmem_assert(x) assert(x)
#else
#define rmem_assert(x) ((void)0)
#endif

#define RMEM_PAGE_SHIFT 12
#define RMEM_CAPACITY_GRAIN ((size_t)64 << 10)

/* ------------------------------------------------------------------------
 * error.c
 * ------------------------------------------------------------------------ */

/* Records code + message as this thread's last error, calls the hook, returns code. */
RMEM_HIDDEN rmem_status_t rmem_fail(rmem_status_t code, const char *fmt, ...) RMEM_PRINTF(2, 3);
/* Same, for functions that return a pointer: returns NULL. */
RMEM_HIDDEN void *rmem_fail_null(rmem_status_t code, const char *fmt, ...) RMEM_PRINTF(2, 3);
/* Validators: report one problem (as RMEM_ECORRUPT, only the first of a walk sets the message). */
RMEM_HIDDEN void rmem_problem(size_t *count, const char *fmt, ...) RMEM_PRINTF(2, 3);

/* ------------------------------------------------------------------------
 * The pagemap: one entry per 4 KiB page of the range, out of band.
 * ------------------------------------------------------------------------ */

enum rmem_page_kind {
  RMEM_PK_NEVER = 0,    /* above the high-water mark: never handed out */
  RMEM_PK_RESERVED = 1, /* page 0 and the last page */
  RMEM_PK_FREE = 2,     /* in a free run of the page source */
  RMEM_PK_SLAB = 3,     /* owned by a slab (owner = slab index) */
  RMEM_PK_LARGE = 4,    /* a large heap block (owner = 0; head has len) */
  RMEM_PK_ARENA = 5,    /* an arena chunk (owner = arena index) */
  RMEM_PK_MEMS = 6,     /* a MeMS main node (owner = mems-defined) */
  RMEM_PK_USER = 7      /* pages taken by rmem_pages_alloc for other internal users */
};

#define RMEM_PF_HEAD 0x1u
#define RMEM_PF_TAIL 0x2u
#define RMEM_PF_DIRTY 0x4u /* free run: may hold resident pages */

typedef struct rmem_pme {
  uint8_t kind;   /* enum rmem_page_kind */
  uint8_t flags;  /* RMEM_PF_* */
  uint16_t aux;   /* kind-specific (unused today) */
  uint32_t owner; /* allocated run: owner index; free run head: next free run in its bin (0 = none) */
  uint32_t len;   /* head and tail of a run: its length in pages */
  uint32_t prev;  /* free run head: previous free run in its bin (0 = none) */
} rmem_pme_t;

/* ------------------------------------------------------------------------
 * Indexed pools: fixed-size objects in one reserved out-of-band mapping, never
 * unmapped before the instance dies, so a stale index or pointer is always
 * safe to look at. Index 0 is never used (it means "none").
 * ------------------------------------------------------------------------ */

typedef struct rmem_pool {
  char *base;        /* object i at base + i * size */
  size_t size;       /* object size (multiple of 8) */
  uint32_t max;      /* capacity in objects */
  uint32_t bump;     /* next never-used index */
  uint32_t free;     /* head of the free list of indices (0 = none) */
  uint32_t live;     /* objects in use */
  size_t mapped;     /* bytes reserved */
} rmem_pool_t;

RMEM_HIDDEN int rmem_pool_init(rmem_pool_t *pool, size_t obj_size, uint32_t max);
RMEM_HIDDEN void rmem_pool_fini(rmem_pool_t *pool);
/* Returns a zeroed object, or NULL (no error is recorded: the caller reports). */
RMEM_HIDDEN void *rmem_pool_get(rmem_pool_t *pool);
RMEM_HIDDEN void rmem_pool_put(rmem_pool_t *pool, void *obj);
/* First word of a pooled object that is free; users keep their own "alive" field elsewhere. */
RMEM_INLINE uint32_t rmem_pool_index(const rmem_pool_t *pool, const void *obj) {
  return (uint32_t)(((const char *)obj - pool->base) / pool->size);
}
RMEM_INLINE void *rmem_pool_at(const rmem_pool_t *pool, uint32_t index) {
  return pool->base + (size_t)index * pool->size;
}
/* True if p points at the start of an object slot of the pool (live or not). */
RMEM_INLINE bool rmem_pool_contains(const rmem_pool_t *pool, const void *p) {
  uintptr_t off = (uintptr_t)p - (uintptr_t)pool->base;
  return (uintptr_t)p >= (uintptr_t)pool->base && off < (uintptr_t)pool->bump * pool->size && off % pool->size == 0 &&
         off != 0;
}

/* ------------------------------------------------------------------------
 * The metadata allocator: variable-size out-of-band memory for structures
 * that need no index (MeMS nodes, names). Size classes of 16 bytes up to 4 KiB
 * with free lists; larger requests get their own mapping.
 * ------------------------------------------------------------------------ */

RMEM_HIDDEN void *rmem_meta_alloc(rmem_t *r, size_t size);  /* zeroed; NULL on failure (no error recorded) */
RMEM_HIDDEN void rmem_meta_free(rmem_t *r, void *p, size_t size);
/* Releases every metadata mapping of r (rmem_destroy). */
RMEM_HIDDEN void rmem_meta_fini(rmem_t *r);
/* Bytes of metadata mappings held (rmem_stats). */
RMEM_HIDDEN size_t rmem_meta_bytes(const rmem_t *r);

/* ------------------------------------------------------------------------
 * The slab engine (slab.c)
 *
 * A slab is a run of pages carved into nslots slots of bsize bytes. Its
 * descriptor lives in the instance's slab pool and holds a two-level bitmap:
 * bits[w] bit b = 1 iff slot 64w+b is free, and summary bit w = 1 iff bits[w]
 * != 0. Invariants (rmem_slab_check):
 *   S1  nslots <= RMEM_SLAB_MAX_SLOTS; bits beyond nslots are 0.
 *   S2  summary bit w == (bits[w] != 0).
 *   S3  used == nslots - popcount(bits).
 *   S4  the pagemap marks every page of the slab RMEM_PK_SLAB with owner = the slab's index,
 *       and the page-class map (rmem_t.pclass) holds class index + 1 for every page of a heap
 *       size class's slab; every other page has 0 there (P6). One byte per page, so a free can
 *       learn a block's class from a map small enough to stay in the L1 cache (drop-in malloc).
 *   S5  occupancy = used + parked. A slab is on its list's partial list iff its
 *       occupancy < nslots and it is neither cur nor the spare; full slabs are on no
 *       list; a slab of occupancy 0 is cur, the spare, or released.
 *   S6  the park ring holds distinct free slots (bit set) of the list's own slabs;
 *       each slab's parked count equals its entries on the ring; while the ring is
 *       not empty the bitmap path is not used (so no slot is handed out twice).
 * ------------------------------------------------------------------------ */

#define RMEM_SLAB_MAX_SLOTS 4096u
#define RMEM_SLAB_WORDS (RMEM_SLAB_MAX_SLOTS / 64u)

enum rmem_slab_owner {
  RMEM_SO_NONE = 0,
  RMEM_SO_HEAP = 1,  /* a heap size class */
  RMEM_SO_CACHE = 2, /* a slab cache */
  RMEM_SO_ARENA = 3  /* an intermediate arena's size class */
};

typedef struct rmem_slab_list rmem_slab_list_t;

typedef struct rmem_slab {
  /* sizeof is a multiple of 8, so the slab pool's stride is exactly sizeof(rmem_slab_t) (rmem_slab_of).
     The first 48 bytes hold everything the fast paths touch, and the bitmap follows at once: a slab
     of up to 128 slots (every class from 512 bytes up) has its header and bitmap in one cache line. */
  uint64_t summary;
  uintptr_t start;            /* address of slot 0 (== first page) */
  uint64_t div;               /* fast division by bsize: floor((2^64 - 1) / bsize) + 1 */
  rmem_slab_list_t *list;     /* the list that owns it */
  uint32_t bsize;             /* slot size */
  uint32_t nslots;
  uint32_t used;              /* live slots */
  uint8_t owner_kind;         /* copy of list->owner_kind, so free needs no extra load */
  uint8_t pad_;
  uint16_t parked;            /* free slots of this slab parked on its list's park ring */
  uint64_t bits[RMEM_SLAB_WORDS];
  /* cold: slow paths only */
  uint32_t first_page;        /* page index of the run */
  uint32_t npages;
  uint32_t magic;             /* RMEM_SLAB_MAGIC while alive, 0 when released */
  uint32_t pad2_;
  struct rmem_slab *next, *prev;   /* partial list */
  struct rmem_slab *anext, *aprev; /* every slab of the list */
} rmem_slab_t;

#define RMEM_SLAB_MAGIC 0x51AB51ABu

/*
 * A list of slabs of one slot size: a heap size class, a slab cache, or an
 * intermediate arena's size class. cur is never NULL: when there is nothing
 * to allocate from it points at the shared empty sentinel (summary == 0), so
 * the fast path needs no NULL test. Every slab of the list is on the `all`
 * list; at most one empty slab besides cur is kept as `spare` (S5).
 */
/*
 * The park ring: the last RMEM_SLAB_PARK slots freed into a list, handed out
 * first (newest first) by the next allocations; when it is full a free
 * evicts the oldest entry, which becomes a plain free slot. A parked slot is free in its slab's
 * bitmap (a second free of it is still a double free) but its slab keeps it
 * in its occupancy, so no slab is released under the stack. It takes the
 * bitmap search off the pointer's critical path: a free followed by an alloc
 * of the same class hands the same, cache-hot slot back in a few cycles.
 */
#define RMEM_SLAB_PARK 16u /* a power of two */

struct rmem_slab_list {
  uint32_t nparked;           /* entries on the park ring */
  uint32_t park_top;          /* next entry to write; the newest is park_top - 1 (mod RMEM_SLAB_PARK) */
  rmem_slab_t *cur;
  rmem_slab_t *partial;       /* slabs with free slots other than cur and spare, linked through next/prev */
  rmem_slab_t *spare;         /* one empty slab kept in reserve (keep_spare), or NULL */
  rmem_slab_t *all;           /* every slab, linked through anext/aprev */
  rmem_t *r;
  uint32_t bsize;             /* slot size */
  uint32_t slab_pages;        /* pages per slab */
  uint32_t nslots;            /* slots per slab */
  uint8_t owner_kind;         /* enum rmem_slab_owner */
  uint8_t keep_spare;         /* keep one empty slab instead of releasing it at once */
  uint16_t pad_;
  uint32_t owner_id;          /* class index / cache index / arena index */
  size_t slabs;               /* slabs owned (maintained by the engine) */
  /* maintained by the list's user if it wants them; the engine's fast paths do not touch them */
  size_t live;
  size_t allocs, frees;
  uintptr_t park_p[RMEM_SLAB_PARK];      /* parked slot addresses */
  rmem_slab_t *park_s[RMEM_SLAB_PARK];   /* their slabs */
  uint16_t park_i[RMEM_SLAB_PARK];       /* their slot indices */
};

RMEM_HIDDEN extern rmem_slab_t rmem_slab_sentinel;

/*
 * Geometry: slot size bsize (multiple of 8, >= 8) -> pages per slab (at least
 * 2, about 64 KiB or 8 slots) and slots (at most RMEM_SLAB_MAX_SLOTS).
 * keep_spare: keep one empty slab for reuse instead of releasing it at once.
 */
RMEM_HIDDEN void rmem_slab_list_init(rmem_slab_list_t *l, rmem_t *r, uint32_t bsize, uint8_t owner_kind,
                                     uint32_t owner_id, bool keep_spare);
/* Releases every slab of the list to the page source (live objects die). */
RMEM_HIDDEN void rmem_slab_list_fini(rmem_slab_list_t *l);
/* Slow path: find or make a slab with a free slot, then allocate. NULL + ENOMEM on failure. */
RMEM_HIDDEN void *rmem_slab_alloc_slow(rmem_slab_list_t *l);
/* Free-side transitions of a slab other than cur that was full or became empty (occupancy). */
RMEM_HIDDEN void rmem_slab_after_free(rmem_slab_list_t *l, rmem_slab_t *s, bool was_full);
/* The free path when the park ring is full: evict the oldest entry, park the new one. */
RMEM_HIDDEN rmem_status_t rmem_slab_park_evict(rmem_slab_list_t *l, rmem_slab_t *s, uintptr_t p, uint32_t idx);
/*
 * Batch allocation for a cache in front of the engine (the drop-in malloc's
 * thread cache): up to max slots of this list's own size into out, newest
 * parked slots first, then whole bitmap words of cur, then a partial or spare
 * slab or a new one. Never borrows from another class. Returns how many (0 =
 * the instance has no room: ENOMEM recorded).
 */
RMEM_HIDDEN uint32_t rmem_slab_list_alloc_batch(rmem_slab_list_t *l, void **out, uint32_t max);
/*
 * Frees slot idx of slab s without parking it (the caller has validated p:
 * a live slot start of s). Returns RMEM_OK, or RMEM_EDOUBLEFREE if the
 * bitmap already says free (then nothing changes).
 */
RMEM_HIDDEN rmem_status_t rmem_slab_free_plain(rmem_slab_t *s, uintptr_t p);
/* Empties the park ring (its slots become plain free slots). */
RMEM_HIDDEN void rmem_slab_list_unpark(rmem_slab_list_t *l);
/* Gives empty slabs (spare, an empty cur, empty partials) back to the page source, after
   emptying the park ring; returns how many. */
RMEM_HIDDEN size_t rmem_slab_list_shrink(rmem_slab_list_t *l);
/* Checks S1..S5 for every slab of the list; returns problems. */
RMEM_HIDDEN size_t rmem_slab_list_check(rmem_slab_list_t *l);
RMEM_HIDDEN size_t rmem_slab_check(rmem_t *r, const rmem_slab_t *s);
/* Called by the engine when the page source is exhausted: the heap gives back its empty slabs. */
RMEM_HIDDEN size_t rmem_heap_reclaim(rmem_t *r);
/* Called by the engine before a heap class makes a new slab: a free slot of the next class up, or NULL. */
RMEM_HIDDEN void *rmem_heap_borrow(rmem_slab_list_t *l);

__extension__ typedef unsigned __int128 rmem_u128_t;

/* Index of the slot at p: the high 64 bits of div * rel (exact for rel < 2^32, Lemire's fastdiv). */
RMEM_INLINE uint32_t rmem_slab_slot_of(const rmem_slab_t *s, uintptr_t rel) {
  return (uint32_t)(((rmem_u128_t)s->div * (uint64_t)rel) >> 64);
}

/* The slot that starts exactly at p, or UINT32_MAX (an interior pointer or the slab's unused tail). */
RMEM_INLINE uint32_t rmem_slab_slot_at(const rmem_slab_t *s, uintptr_t p) {
  uintptr_t rel = p - s->start;
  uint32_t idx = rmem_slab_slot_of(s, rel);
  return (uintptr_t)idx * s->bsize == rel && idx < s->nslots ? idx : UINT32_MAX;
}
/* True if slot idx is free in the bitmap. */
RMEM_INLINE bool rmem_slab_slot_free(const rmem_slab_t *s, uint32_t idx) {
  return (s->bits[idx >> 6] >> (idx & 63)) & 1;
}

/* The fast allocation path: the last parked slot, else the lowest free slot of cur. */
RMEM_INLINE void *rmem_slab_list_alloc(rmem_slab_list_t *l) {
  uint32_t n = l->nparked;
  if (RMEM_LIKELY(n != 0)) {
    uint32_t t = (l->park_top - 1) & (RMEM_SLAB_PARK - 1);
    l->park_top = t;
    l->nparked = n - 1;
    uintptr_t p = l->park_p[t];
    rmem_slab_t *ps = l->park_s[t];
    unsigned i = l->park_i[t], pw = i >> 6;
    uint64_t pm = ps->bits[pw] & ~((uint64_t)1 << (i & 63));
    ps->bits[pw] = pm;
    if (pm == 0) ps->summary &= ~((uint64_t)1 << pw);
    ps->parked--;
    ps->used++;
    return (void *)p;
  }
  rmem_slab_t *s = l->cur;
  uint64_t sum = s->summary;
  if (RMEM_LIKELY(sum != 0)) {
    unsigned w = (unsigned)__builtin_ctzll(sum);
    uint64_t m = s->bits[w];
    unsigned b = (unsigned)__builtin_ctzll(m);
    m &= m - 1;
    s->bits[w] = m;
    if (m == 0) s->summary = sum & ~((uint64_t)1 << w);
    s->used++;
    return (void *)(s->start + (uintptr_t)(w * 64u + b) * s->bsize);
  }
  return rmem_slab_alloc_slow(l);
}

/*
 * Frees p in slab s (already looked up through the pagemap). Checks that p is
 * a slot start and live. Returns RMEM_OK, RMEM_EBADPTR or RMEM_EDOUBLEFREE
 * (the error is recorded here).
 */
RMEM_HIDDEN rmem_status_t rmem_slab_bad_free(rmem_slab_t *s, uintptr_t p, int why);
RMEM_INLINE rmem_status_t rmem_slab_free_in(rmem_slab_t *s, uintptr_t p) {
  uint32_t idx = rmem_slab_slot_at(s, p);
  if (RMEM_UNLIKELY(idx == UINT32_MAX)) return rmem_slab_bad_free(s, p, 0);
  unsigned w = idx >> 6;
  uint64_t bit = (uint64_t)1 << (idx & 63);
  uint64_t m = s->bits[w];
  if (RMEM_UNLIKELY(m & bit)) return rmem_slab_bad_free(s, p, 1);
  s->bits[w] = m | bit;
  s->summary |= (uint64_t)1 << w;
  s->used--;
  rmem_slab_list_t *l = s->list;
  uint32_t n = l->nparked;
  if (RMEM_LIKELY(n < RMEM_SLAB_PARK)) { /* park it: occupancy unchanged, no transition */
    uint32_t t = l->park_top;
    l->park_p[t] = p;
    l->park_s[t] = s;
    l->park_i[t] = (uint16_t)idx;
    l->park_top = (t + 1) & (RMEM_SLAB_PARK - 1);
    l->nparked = n + 1;
    s->parked++;
    return RMEM_OK;
  }
  return rmem_slab_park_evict(l, s, p, idx);
}

/* ------------------------------------------------------------------------
 * The general heap (heap.c)
 * ------------------------------------------------------------------------ */

#define RMEM_HEAP_CLASSES 96
#define RMEM_HEAP_TABLE_MAX 4096 /* sizes up to this find their class by one table load */

typedef struct rmem_heap {
  uint8_t class_of[RMEM_HEAP_TABLE_MAX / 8 + 1]; /* (size + 7) / 8 -> class, for size <= RMEM_HEAP_TABLE_MAX */
  uint32_t nclasses;
  uint32_t no_borrow;         /* set while an aligned allocation needs exactly its class */
  size_t borrowed;            /* allocations served by the next class up (rmem_heap_borrow) */
  size_t large_blocks;        /* live page-run blocks */
  size_t large_pages;
  size_t allocs, frees;
  rmem_slab_list_t cls[RMEM_HEAP_CLASSES];
} rmem_heap_t;

RMEM_HIDDEN void rmem_heap_init(rmem_t *r);

/*
 * The heap's fast paths, shared by rmem_alloc / rmem_free (heap.c) and the
 * drop-in malloc (malloc/rmem_malloc.c); declared after struct rmem_s below.
 *   rmem_heap_alloc_table: 1 <= size <= RMEM_HEAP_TABLE_MAX, r valid, no debug flags.
 *   rmem_heap_free_slab:   p inside r's range; frees it if it is a heap slab slot
 *     and returns the status, or returns -1 when p needs the slow path.
 */
RMEM_HIDDEN void rmem_heap_fini(rmem_t *r);

/* ------------------------------------------------------------------------
 * The instance
 * ------------------------------------------------------------------------ */

#define RMEM_BINS 128

struct rmem_arena_table;   /* arena.c */
struct rmem_mems;          /* mems.c */
struct rmem_meta_state;    /* instance.c */

struct rmem_s {
  uint64_t magic;              /* RMEM_MAGIC while alive */
  uintptr_t base;              /* the range */
  size_t capacity;
  uint32_t npages;             /* capacity / 4096 */
  unsigned flags;              /* RMEM_OPT_* */

  /* metadata */
  char *meta_base;             /* one mapping: this struct, then the pagemap (guarded) */
  size_t meta_size;
  rmem_pme_t *pm;              /* npages entries */
  uint8_t *pclass;             /* npages bytes: heap class + 1 of each slab page, else 0 (S4, P6) */
  struct rmem_meta_state *meta;

  /* page source */
  uint32_t top;                /* pages [1, top) have been handed out at least once */
  uint32_t limit;              /* npages - 1: the last page is reserved */
  uint32_t free_pages;         /* pages in free runs below top */
  uint32_t dirty_pages;        /* free pages that may be resident */
  uint32_t used_pages;         /* pages in allocated runs */
  uint64_t bin_map[RMEM_BINS / 64];
  uint32_t bins[RMEM_BINS];    /* head page of each bin's list */
  size_t merges;               /* coalescings done by the page source since creation */

  /* pools */
  rmem_pool_t slabs;           /* rmem_slab_t */
  rmem_pool_t arenas;          /* arena.c's records */
  rmem_pool_t caches;          /* slab.c's slab_cache records */

  /* allocators */
  rmem_heap_t heap;
  struct rmem_arena_table *arena_state; /* arena.c, NULL until first use */
  struct rmem_mems *mems;               /* mems.c, NULL until mems_init */
};

#define RMEM_MAGIC 0x726D656D696E7374ull /* "rmeminst" */

RMEM_INLINE void *rmem_heap_alloc_table(rmem_t *r, size_t size) {
  r->heap.allocs++;
  return rmem_slab_list_alloc(&r->heap.cls[r->heap.class_of[(size + 7) >> 3]]);
}

/* Records why r is not a live instance (ENOTINIT) and returns false (error.c). */
RMEM_HIDDEN RMEM_NOINLINE bool rmem_instance_refused(const rmem_t *r);
/* Validates an instance handle coming from a caller; records ENOTINIT on failure. */
RMEM_INLINE bool rmem_check_instance(const rmem_t *r) {
  if (RMEM_LIKELY(r != NULL && r->magic == RMEM_MAGIC)) return true;
  return rmem_instance_refused(r);
}

RMEM_INLINE rmem_pme_t *rmem_pme_of(const rmem_t *r, uintptr_t p) {
  return &r->pm[(p - r->base) >> RMEM_PAGE_SHIFT];
}
RMEM_INLINE bool rmem_in_range(const rmem_t *r, uintptr_t p) {
  return p - r->base < r->capacity;
}
RMEM_INLINE uintptr_t rmem_page_addr(const rmem_t *r, uint32_t page) {
  return r->base + ((uintptr_t)page << RMEM_PAGE_SHIFT);
}
RMEM_INLINE uint32_t rmem_page_index(const rmem_t *r, uintptr_t p) {
  return (uint32_t)((p - r->base) >> RMEM_PAGE_SHIFT);
}
/* The slab descriptor of a page whose pagemap entry has kind RMEM_PK_SLAB. */
RMEM_INLINE rmem_slab_t *rmem_slab_of(const rmem_t *r, const rmem_pme_t *pme) {
  /* constant stride (the pool's object size is sizeof(rmem_slab_t)): one lea, no load of the size */
  return (rmem_slab_t *)(void *)r->slabs.base + pme->owner;
}

/*
 * The page source. rmem_pages_alloc returns the first page index of a run of
 * npages pages whose first page is aligned to align_pages pages (a power of
 * two, 1 for none), marked kind/owner in the pagemap, or 0 with ENOMEM
 * recorded. rmem_pages_free gives a whole run back (first must be a run head;
 * the caller has validated that), coalescing with free neighbours at once.
 * rmem_pages_set_owner rewrites the owner of every page of a run.
 */
RMEM_HIDDEN uint32_t rmem_pages_alloc(rmem_t *r, uint32_t npages, uint32_t align_pages, uint8_t kind, uint32_t owner);
RMEM_HIDDEN void rmem_pages_free(rmem_t *r, uint32_t first);
RMEM_HIDDEN void rmem_pages_set_owner(rmem_t *r, uint32_t first, uint32_t owner);
/* Shrinks an allocated run in place to new_len pages (the tail becomes free). */
RMEM_HIDDEN void rmem_pages_shrink(rmem_t *r, uint32_t first, uint32_t new_len);
/* Grows an allocated run in place if the following run is free and large enough; true on success. */
RMEM_HIDDEN bool rmem_pages_grow(rmem_t *r, uint32_t first, uint32_t new_len);
/* Returns every dirty free page to the OS; returns pages released. */
RMEM_HIDDEN size_t rmem_pages_release(rmem_t *r);
/* Largest free run (including the never-used pages above top), in pages. */
RMEM_HIDDEN uint32_t rmem_pages_largest_free(const rmem_t *r);
/* Checks P1..P5; returns problems. */
RMEM_HIDDEN size_t rmem_pages_check(rmem_t *r);

RMEM_INLINE int rmem_heap_free_slab(rmem_t *r, uintptr_t p) {
  rmem_pme_t *pme = rmem_pme_of(r, p);
  if (RMEM_LIKELY(pme->kind == RMEM_PK_SLAB)) {
    rmem_slab_t *s = rmem_slab_of(r, pme);
    if (RMEM_LIKELY(s->owner_kind == RMEM_SO_HEAP)) {
      rmem_status_t st = rmem_slab_free_in(s, p);
      r->heap.frees += st == RMEM_OK; /* a refused free is not a free */
      return (int)st;
    }
  }
  return -1;
}

/* Hooks for the subsystems rmem_destroy and rmem_validate call. */
RMEM_HIDDEN void rmem_arenas_fini(rmem_t *r);
RMEM_HIDDEN size_t rmem_arenas_validate(rmem_t *r);
RMEM_HIDDEN void rmem_caches_fini(rmem_t *r);
RMEM_HIDDEN size_t rmem_caches_validate(rmem_t *r);
RMEM_HIDDEN void rmem_mems_fini(rmem_t *r);

/* The default arenas of init_arenas (arena.c): created or recreated; the one of a lifetime. */
RMEM_HIDDEN rmem_status_t rmem_arenas_defaults(rmem_t *r);
RMEM_HIDDEN arena_t *rmem_arena_default_of(rmem_t *r, lifetime_t lifetime);

#endif /* RMEM_INTERNAL_H */
