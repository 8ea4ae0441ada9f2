/*
 * internal.h - private declarations shared by rmem's sources. Never installed.
 *
 * The architecture, floor by floor from the bottom; a file calls only into
 * the floors below it (what an owner wants from a lower floor is a hook the
 * owner sets, never a call up):
 *
 *   os.c        the operating system behind one contract (include/rmem_os.h).
 *   error.c     the per-thread last error and the one place failures are reported.
 *   thread.c    per thread: which heap of each shared instance is this thread's
 *               (one initial-exec TLS load on the fast paths), the thread key, and
 *               the exit hook that gives the heaps back.
 *   meta.c      out-of-band memory: indexed pools and the metadata allocator.
 *   pages.c     the page source of an instance: runs of 4 KiB pages, TLSF-style
 *               bins, immediate coalescing through the pagemap's boundary entries.
 *   slab.c      the slab engine: runs of pages carved into equal slots, an
 *               out-of-band two-level bitmap per slab (O(1) alloc/free, exact
 *               double-free and interior-pointer detection), batches for fronts.
 *   track.h     what AddressSanitizer / valgrind are told (which bytes the user may
 *               touch), called at every allocator's alloc and free points; compiles to
 *               nothing without a tool (track.c: the out-of-line half).
 *   front.h     the front over the engine: free stacks checked by the live bitmap
 *               (inline; used by the three owners of slabs below).
 *   handle.c    checked handles for arenas and slab caches (handle.h).
 *   heap.c      the general heap: size classes on the front + large page runs; the
 *               thread heaps of shared instances, remote frees, orphans.
 *   cache.c     slab caches on the front.
 *   arena.c     arenas: bump chunks from the page source; intermediate arenas put
 *               their size classes on the front.
 *   mems.c      MeMS on the page source.
 *   instance.c  rmem_create / rmem_create_in / rmem_destroy, fork, the default
 *               instance, rmem_stats, rmem_validate (every subsystem through one
 *               table).
 *   layout.c    the layout walk over every page run and the reports (printStats of
 *               every allocator); reads the structures of types.h and asks the
 *               allocators' files for what they keep private (the accessors below).
 *   seed.c      the seed's names (init_heap, r_alloc, ...) on the default instance.
 *
 * The structures and their invariants are in types.h.
 */
#ifndef RMEM_INTERNAL_H
#define RMEM_INTERNAL_H

#include "types.h"

/* ------------------------------------------------------------------------
 * error.c
 * ------------------------------------------------------------------------ */

/* Records code + message as this thread's last error, calls the hook, returns code. */
RMEM_HIDDEN rmem_status_t rmem_fail(rmem_status_t code, const char *fmt, ...) RMEM_PRINTF(2, 3);
/* Same, for functions that return a pointer: returns NULL. */
RMEM_HIDDEN void *rmem_fail_null(rmem_status_t code, const char *fmt, ...) RMEM_PRINTF(2, 3);
/* Like rmem_fail, and the error names the block at p of instance r (rmem_error_info_t.ptr / .offset). */
RMEM_HIDDEN rmem_status_t rmem_fail_at(rmem_status_t code, const rmem_t *r, const void *p, const char *fmt, ...)
    RMEM_PRINTF(4, 5);
/* A validation walk: begin, then rmem_problem for each problem, then return rmem_validation_end(problems).
   Walks nest; the outermost keeps the caller's record when it finds nothing. */
RMEM_HIDDEN void rmem_validation_begin(void);
RMEM_HIDDEN size_t rmem_validation_end(size_t problems);
/* Validators: report one problem (as RMEM_ECORRUPT, only the first of a walk sets the message). */
RMEM_HIDDEN void rmem_problem(size_t *count, const char *fmt, ...) RMEM_PRINTF(2, 3);
/* Records why r is not a live instance (ENOTINIT) and returns false. */
RMEM_HIDDEN RMEM_NOINLINE bool rmem_instance_refused(const rmem_t *r);
/* With RMEM_OPT_VALIDATE: runs the whole validator (r->validate_all) and keeps the caller's own error. */
RMEM_HIDDEN RMEM_NOINLINE void rmem_validate_after(rmem_t *r);

/* The instance's lock, when it is shared (RMEM_OPT_SHARED); nothing for a private instance. */
RMEM_INLINE bool rmem_is_shared(const rmem_t *r) { return (r->flags & RMEM_OPT_SHARED) != 0; }
RMEM_INLINE void rmem_shared_lock(rmem_t *r) {
  if (rmem_is_shared(r)) rmem_lock(&r->lock);
}
RMEM_INLINE void rmem_shared_unlock(rmem_t *r) {
  if (rmem_is_shared(r)) rmem_unlock(&r->lock);
}

/* Validates an instance handle coming from a caller; records ENOTINIT on failure. */
RMEM_INLINE bool rmem_check_instance(const rmem_t *r) {
  if (RMEM_LIKELY(r != NULL && r->magic == RMEM_MAGIC)) return true;
  return rmem_instance_refused(r);
}

/* ------------------------------------------------------------------------
 * thread.c: what a thread keeps per shared instance (its heap there)
 * ------------------------------------------------------------------------ */

typedef struct rmem_tlast {
  rmem_t *r;
  uint64_t epoch;
  void *value;
} rmem_tlast_t;

/* The last (instance, value) this thread looked up: the fast paths' one TLS load. */
RMEM_HIDDEN extern _Thread_local rmem_tlast_t rmem_tlast RMEM_TLS_IE;
/* The value this thread bound to r, or NULL (looks through the thread's table). */
RMEM_HIDDEN void *rmem_thread_find(rmem_t *r);
RMEM_INLINE void *rmem_thread_get(rmem_t *r) {
  if (RMEM_LIKELY(rmem_tlast.r == r && rmem_tlast.epoch == r->epoch)) return rmem_tlast.value;
  return rmem_thread_find(r);
}
/* Binds value to r for this thread; on_exit(r, value) runs when the thread ends (if r is still alive). */
RMEM_HIDDEN rmem_status_t rmem_thread_bind(rmem_t *r, void *value, void (*on_exit)(rmem_t *r, void *value));
/* Forgets this thread's value of r (no on_exit). */
RMEM_HIDDEN void rmem_thread_unbind(rmem_t *r);
/* A number no other thread of the process has (nonzero). */
RMEM_HIDDEN uint64_t rmem_thread_id(void);
/* The calling thread's 32-bit key (UINT32_MAX until rmem_thread_key or rmem_thread_id runs on it, then
   neither 0 nor UINT32_MAX): a thread heap's fast word is its owner's key, or 0 while no thread may take
   its fast paths, so the fast paths' one compare also asks "is it the caller's?". */
RMEM_HIDDEN extern _Thread_local uint32_t rmem_tkey RMEM_TLS_IE;
RMEM_HIDDEN uint32_t rmem_thread_key(void);
/* fn(r, value, arg) for every live instance this thread has a value for. */
RMEM_HIDDEN void rmem_thread_each(void (*fn)(rmem_t *r, void *value, void *arg), void *arg);

/* ------------------------------------------------------------------------
 * meta.c: indexed pools and the metadata allocator
 * ------------------------------------------------------------------------ */

RMEM_HIDDEN int rmem_pool_init(rmem_pool_t *pool, size_t obj_size, uint32_t max);
RMEM_HIDDEN void rmem_pool_fini(rmem_pool_t *pool);
/* Returns a zeroed object, or NULL (no error is recorded: the caller reports). */
RMEM_HIDDEN void *rmem_pool_get(rmem_pool_t *pool);
RMEM_HIDDEN void rmem_pool_put(rmem_pool_t *pool, void *obj);
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

/* Variable-size out-of-band memory for structures that need no index. Zeroed; NULL on failure (no error recorded). */
RMEM_HIDDEN void *rmem_meta_alloc(rmem_t *r, size_t size);
RMEM_HIDDEN void rmem_meta_free(rmem_t *r, void *p, size_t size);
/* Releases every metadata mapping of r (rmem_destroy). */
RMEM_HIDDEN void rmem_meta_fini(rmem_t *r);
/* Bytes of metadata mappings held (rmem_stats). */
RMEM_HIDDEN size_t rmem_meta_bytes(const rmem_t *r);

/* ------------------------------------------------------------------------
 * pages.c: the page source
 * ------------------------------------------------------------------------ */

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

/* Sets up an empty page source over r's pagemap (rmem_create). */
RMEM_HIDDEN void rmem_pages_init(rmem_t *r);
/*
 * Returns the first page index of a run of npages pages whose first page is
 * aligned to align_pages pages (a power of two, 1 for none), marked
 * kind/owner in the pagemap, or 0 with ENOMEM recorded. When no run fits it
 * calls r->reclaim (if set) and tries once more.
 */
RMEM_HIDDEN uint32_t rmem_pages_alloc(rmem_t *r, uint32_t npages, uint32_t align_pages, uint8_t kind, uint32_t owner);
/* Gives a whole run back (first must be a run head; the caller has validated that), coalescing at once. */
RMEM_HIDDEN void rmem_pages_free(rmem_t *r, uint32_t first);
/* Frees the run at first if it still is a run head of this kind (checked and freed under the lock of a
   shared instance, so two threads cannot both free it); false (nothing changed) if it is not. */
RMEM_HIDDEN bool rmem_pages_free_run(rmem_t *r, uint32_t first, uint8_t kind);
/* Was page inside a page-run block (not its first page) when that block was freed, and free since (P8)? */
RMEM_INLINE bool rmem_pages_freed_inside(const rmem_t *r, uint32_t page) {
  return page < r->npages && (__atomic_load_n(&r->freed[page >> 6], __ATOMIC_RELAXED) >> (page & 63)) & 1;
}
/* Rewrites the owner of every page of a run. */
RMEM_HIDDEN void rmem_pages_set_owner(rmem_t *r, uint32_t first, uint32_t owner);
/* Shrinks an allocated run in place to new_len pages (the tail becomes free). */
RMEM_HIDDEN void rmem_pages_shrink(rmem_t *r, uint32_t first, uint32_t new_len);
/* Grows an allocated run in place if the following run is free and large enough; true on success. */
RMEM_HIDDEN bool rmem_pages_grow(rmem_t *r, uint32_t first, uint32_t new_len);
/* Returns every dirty free page to the OS; returns pages released. */
RMEM_HIDDEN size_t rmem_pages_release(rmem_t *r);
/* Largest free run (including the never-used pages above top), in pages. */
RMEM_HIDDEN uint32_t rmem_pages_largest_free(const rmem_t *r);
/* Checks P1..P6; returns problems. */
RMEM_HIDDEN size_t rmem_pages_check(rmem_t *r);
/* Pages of the free run at first (a run head) that may still be resident (layout.c). */
RMEM_HIDDEN uint32_t rmem_pages_run_dirty(const rmem_t *r, uint32_t first);

/* ------------------------------------------------------------------------
 * slab.c: the slab engine
 * ------------------------------------------------------------------------ */

RMEM_HIDDEN extern rmem_slab_t rmem_slab_sentinel;

/*
 * Geometry: slot size bsize (multiple of 8, >= 8) -> pages per slab (at least
 * 2, about 64 KiB or 8 slots, within 4 pages of that the count that leaves
 * the smallest tail past the last slot) and slots (at most RMEM_SLAB_MAX_SLOTS).
 * page_tag: written into the page-tag map for every page of the list's slabs.
 * keep_spare: keep one empty slab for reuse instead of releasing it at once.
 */
RMEM_HIDDEN void rmem_slab_list_init(rmem_slab_list_t *l, rmem_t *r, uint32_t bsize, uint8_t owner_kind,
                                     uint32_t owner_id, uint16_t page_tag, bool keep_spare);
/* Releases every slab of the list to the page source (live objects die). */
RMEM_HIDDEN void rmem_slab_list_fini(rmem_slab_list_t *l);
/* One slot (the lowest free slot of cur, else of a partial, spare or new slab), or NULL with ENOMEM. */
RMEM_HIDDEN void *rmem_slab_list_alloc(rmem_slab_list_t *l);
/*
 * Batch allocation for a front: up to max slots of this list into out, as
 * offsets from the instance's base, whole bitmap words at a time, from cur,
 * then partial slabs, the spare, and (if may_new) new slabs. Returns how
 * many; 0 with ENOMEM recorded when may_new and the instance has no room.
 */
RMEM_HIDDEN uint32_t rmem_slab_list_alloc_batch(rmem_slab_list_t *l, uint32_t *out, uint32_t max, bool may_new);
/* True if the list has a free slot without making a slab. */
RMEM_INLINE bool rmem_slab_list_has_free(const rmem_slab_list_t *l) {
  return l->cur->summary != 0 || l->partial != NULL || l->spare != NULL;
}
/*
 * Frees slot p of slab s (p is a slot start of s, validated by the caller:
 * a front's live bit or rmem_slab_slot_at). Returns RMEM_OK, or
 * RMEM_EDOUBLEFREE (recorded) if the engine already has it free.
 */
RMEM_HIDDEN rmem_status_t rmem_slab_put(rmem_slab_t *s, uintptr_t p);
/* Gives back the k slots of s at base + offs[0..k), all in use in the engine (a front's blocks: F1), with one
   list transition. */
RMEM_HIDDEN void rmem_slab_put_batch(rmem_slab_t *s, uintptr_t base, const uint32_t *offs, uint32_t k);
/* Gives empty slabs (spare, an empty cur, empty partials) back to the page source; returns how many. */
RMEM_HIDDEN size_t rmem_slab_list_shrink(rmem_slab_list_t *l);
/* The same for the spare and an empty cur alone (the only empty slabs a list keeps, S-invariants): no walk. */
RMEM_HIDDEN size_t rmem_slab_list_drop_empty(rmem_slab_list_t *l);
/* Checks S1..S5 for every slab of the list; returns problems. */
RMEM_HIDDEN size_t rmem_slab_list_check(rmem_slab_list_t *l);
RMEM_HIDDEN size_t rmem_slab_check(rmem_t *r, const rmem_slab_t *s);
/* Why p (in slab s) cannot be freed: why = 0 not a slot start, 1 already free. Records and returns the status. */
RMEM_HIDDEN rmem_status_t rmem_slab_bad_free(rmem_slab_t *s, uintptr_t p, int why);

__extension__ typedef unsigned __int128 rmem_u128_t;

/* The slab descriptor of a page whose pagemap entry has kind RMEM_PK_SLAB. */
RMEM_INLINE rmem_slab_t *rmem_slab_of(const rmem_t *r, const rmem_pme_t *pme) {
  /* constant stride (the pool's object size is sizeof(rmem_slab_t)): one lea, no load of the size */
  return (rmem_slab_t *)(void *)r->slabs.base + pme->owner;
}
/* The slab holding p, or NULL if p's page is not a live slab's (p in range). */
RMEM_INLINE rmem_slab_t *rmem_slab_at(const rmem_t *r, uintptr_t p) {
  const rmem_pme_t *pme = rmem_pme_of(r, p);
  if (pme->kind != RMEM_PK_SLAB || pme->owner == 0 || pme->owner >= r->slabs.bump) return NULL;
  rmem_slab_t *s = rmem_slab_of(r, pme);
  return s->magic == RMEM_SLAB_MAGIC ? s : NULL;
}
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

/* ------------------------------------------------------------------------
 * heap.c, cache.c, arena.c, mems.c: the hooks rmem_create, rmem_destroy
 * and rmem_validate call
 * ------------------------------------------------------------------------ */

RMEM_HIDDEN void rmem_heap_init(rmem_t *r);
RMEM_HIDDEN void rmem_heap_fini(rmem_t *r);
RMEM_HIDDEN void rmem_arenas_fini(rmem_t *r);
RMEM_HIDDEN size_t rmem_arenas_validate(rmem_t *r);
RMEM_HIDDEN void rmem_caches_fini(rmem_t *r);
RMEM_HIDDEN size_t rmem_caches_validate(rmem_t *r);
RMEM_HIDDEN void rmem_mems_fini(rmem_t *r);

/* Around fork (POSIX): a shared instance's caches' locks (lock, or unlock those locked), and the heaps
   of other threads quarantined in the child. */
RMEM_HIDDEN uint32_t rmem_caches_fork_lock(rmem_t *r);
RMEM_HIDDEN void rmem_caches_fork_unlock(rmem_t *r, uint32_t locked, bool child);
RMEM_HIDDEN void rmem_heap_fork_child(rmem_t *r);
enum { RMEM_FORK_PREPARE, RMEM_FORK_PARENT, RMEM_FORK_CHILD };
RMEM_HIDDEN void rmem_handles_fork(int phase);
RMEM_HIDDEN void rmem_thread_fork(int phase);

/* ------------------------------------------------------------------------
 * Accessors for layout.c (the top floor): what arena.c, cache.c and mems.c
 * keep private, filled into the fields of an rmem_run_t
 * ------------------------------------------------------------------------ */

/* Arena `index` if it is alive: owner_index, owner_generation, lifetime; NULL if none. */
RMEM_HIDDEN arena_t *rmem_arena_describe(rmem_t *r, uint32_t index, rmem_run_t *run);
/* The run of arena a that starts at first_page: kind ARENA_CHUNK (used, current) or ARENA_LARGE (size). */
RMEM_HIDDEN void rmem_arena_describe_run(rmem_t *r, arena_t *a, uint32_t first_page, rmem_run_t *run);
/* The size class (0-based) of an intermediate arena whose class list l is. */
RMEM_HIDDEN uint32_t rmem_arena_class_of(const arena_t *a, const rmem_slab_list_t *l);
/* Slab cache `index` if it is alive: owner_index, owner_generation, name, obj_size; NULL if none. */
RMEM_HIDDEN slab_cache_t *rmem_cache_describe(rmem_t *r, uint32_t index, rmem_run_t *run);
/*
 * MeMS main node `main` (0-based): main_index, sva, eva, segments, holes, used.
 * Then, if seg is not NULL, calls it with each segment of its sub-chain in
 * order (kind RMEM_RUN_MEMS_SEGMENT; offset = the segment's byte offset in the
 * range). Returns false if there is no such main node; a nonzero seg stops it
 * (*stopped = 1). On a shared instance the caller holds mems_lock (then lock).
 */
RMEM_HIDDEN bool rmem_mems_describe(rmem_t *r, uint32_t main, rmem_run_t *run, rmem_run_fn *seg, void *arg, int *stopped);
/* The seed's MeMS report (rmem_mems_print_stats's text) through out; takes mems_lock itself. */
RMEM_HIDDEN rmem_status_t rmem_mems_report(rmem_t *r, rmem_print_fn *out, void *arg);

/* The default instance of the seed's names (instance.c owns it; seed.c reads it), and its generation:
   bumped at every change of rmem_default_instance, so one compare tells a thread that the heap it keeps
   for the default is still the default's. */
RMEM_HIDDEN extern rmem_t *rmem_default_instance;
RMEM_HIDDEN extern uint64_t rmem_default_gen;
/* The default arenas of init_arenas (arena.c): created or recreated; the one of a lifetime. */
RMEM_HIDDEN rmem_status_t rmem_arenas_defaults(rmem_t *r);
RMEM_HIDDEN arena_t *rmem_arena_default_of(rmem_t *r, lifetime_t lifetime);

#endif /* RMEM_INTERNAL_H */
