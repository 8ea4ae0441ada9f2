/*
 * instance.c - the life of an instance: create, destroy, the default
 * instance, stats and the validator that runs every subsystem's.
 *
 * rmem_create reserves the range (os.c), the pagemap and the page-class map
 * between guard pages, and the slab pool (meta.c), then sets up the page
 * source (pages.c) and the heap (heap.c). The other allocators of an instance
 * (arenas, slab caches, MeMS) set themselves up on first use. rmem_destroy
 * and rmem_validate visit every subsystem through one table, top floor down.
 *
 * The instance header itself lives in a small mapping that is recycled, never
 * unmapped, so a stale rmem_t* is recognised (magic cleared) rather than
 * followed into unmapped memory.
 *
 * Floor: the top of the library, with seed.c above it. Nothing below calls
 * into this file.
 */
#include "front.h"

#include "lock.h"
#include "track.h"

rmem_t *rmem_default_instance; /* seed.c reads it on every seed call */
uint64_t rmem_default_gen = 1;  /* ... and this: +1 at every change of rmem_default_instance (from 1: seed.c's
                                   thread-local generation starts at 0, "no heap taken") */

static void default_set(rmem_t *r) {
  rmem_default_instance = r;
  __atomic_add_fetch(&rmem_default_gen, 1, __ATOMIC_RELEASE);
}
static _Atomic uint64_t epochs; /* instances ever created: each gets the next as its epoch */
static rmem_lock_t default_lock = RMEM_LOCK_INIT;
static rmem_lock_t header_lock = RMEM_LOCK_INIT; /* the spare instance headers */

/* ------------------------------------------------------------------------
 * Fork
 *
 * A shared instance is used by many threads; fork copies only the one that
 * calls it. So that the child finds every lock free and every structure
 * whole, the prepare handler takes, in the order the library nests them, the
 * default instance's lock, the list of shared instances, then per instance
 * its slab caches' locks, its MeMS lock and its own lock, and last the
 * handle registry's and the thread-key lock; parent and child let them go.
 * A heap another thread owned at the fork may have been mid-operation (its
 * fast paths take no lock): the child quarantines it (heap.c).
 * ------------------------------------------------------------------------ */

static rmem_t *shared_list;
static rmem_lock_t shared_lock = RMEM_LOCK_INIT;
static bool fork_hooked;

static void fork_prepare(void) {
  rmem_lock(&default_lock);
  rmem_lock(&shared_lock);
  for (rmem_t *r = shared_list; r; r = r->shared_next) {
    r->fork_caches = rmem_caches_fork_lock(r);
    rmem_lock(&r->mems_lock);
    rmem_lock(&r->lock);
  }
  rmem_lock(&header_lock);
  rmem_handles_fork(RMEM_FORK_PREPARE);
  rmem_thread_fork(RMEM_FORK_PREPARE);
}

static void fork_release(int phase) {
  rmem_thread_fork(phase);
  rmem_handles_fork(phase);
  rmem_unlock(&header_lock);
  for (rmem_t *r = shared_list; r; r = r->shared_next) {
    if (phase == RMEM_FORK_CHILD) rmem_heap_fork_child(r);
    rmem_unlock(&r->lock);
    rmem_unlock(&r->mems_lock);
    rmem_caches_fork_unlock(r, r->fork_caches, phase == RMEM_FORK_CHILD);
  }
  rmem_unlock(&shared_lock);
  rmem_unlock(&default_lock);
}

static void fork_parent(void) { fork_release(RMEM_FORK_PARENT); }
static void fork_child(void) { fork_release(RMEM_FORK_CHILD); }

static void shared_add(rmem_t *r) {
  rmem_lock(&shared_lock);
  if (!fork_hooked) fork_hooked = rmem_atfork(fork_prepare, fork_parent, fork_child) == 0;
  r->shared_next = shared_list;
  shared_list = r;
  rmem_unlock(&shared_lock);
}

static void shared_remove(rmem_t *r) {
  rmem_lock(&shared_lock);
  for (rmem_t **p = &shared_list; *p; p = &(*p)->shared_next)
    if (*p == r) {
      *p = r->shared_next;
      break;
    }
  rmem_unlock(&shared_lock);
}

/* ------------------------------------------------------------------------
 * Instances
 * ------------------------------------------------------------------------ */

/*
 * The subsystems of an instance, top floor first: rmem_destroy finishes them
 * in this order (MeMS and arenas give pages back before the heap and the page
 * source go), and rmem_validate runs every validator, the page source's last
 * (it checks what the others left in the pagemap).
 */
static const struct subsystem {
  void (*fini)(rmem_t *r);
  size_t (*validate)(rmem_t *r);
} subsystems[] = {
  {NULL, rmem_front_check},
  {rmem_mems_fini, rmem_mems_validate},
  {rmem_arenas_fini, rmem_arenas_validate},
  {rmem_caches_fini, rmem_caches_validate},
  {rmem_heap_fini, rmem_heap_validate},
  {NULL, rmem_pages_check},
};

#define NSUBSYSTEMS (sizeof subsystems / sizeof subsystems[0])

/* Instance headers are recycled, never unmapped: a stale rmem_t* reads magic 0. */
static rmem_t *spare_headers;

static rmem_t *header_get(void) {
  rmem_lock(&header_lock);
  rmem_t *r = spare_headers;
  if (r) spare_headers = (rmem_t *)r->base; /* the spare list is threaded through base */
  rmem_unlock(&header_lock);
  if (!r) {
    size_t ps = rmem_os_page_size();
    size_t bytes = (sizeof(rmem_t) + ps - 1) & ~(ps - 1);
    r = rmem_os_reserve(bytes); /* zero, and resident only where written (the heap's stacks are most of it) */
    return r;
  }
  memset(r, 0, sizeof *r);
  return r;
}

static void header_put(rmem_t *r) {
  memset(r, 0, sizeof *r);
  rmem_lock(&header_lock);
  r->base = (uintptr_t)spare_headers;
  spare_headers = r;
  rmem_unlock(&header_lock);
}

/* An instance over range (NULL: one rmem reserves) of cap bytes, cap already checked and rounded. */
static rmem_t *create(void *range, size_t cap, unsigned flags) {
  if (flags & ~(RMEM_OPT_JUNK | RMEM_OPT_VALIDATE | RMEM_OPT_SHARED | RMEM_OPT_NO_TRACK | RMEM_OPT_ALIGN16))
    return rmem_fail_null(RMEM_EINVAL, "unknown option flags %#x", flags);
  rmem_t *r = header_get();
  if (!r) return rmem_fail_null(RMEM_ENOMEM, "cannot map the instance header");
  r->capacity = cap;
  r->grains = cap >> RMEM_LIVE_SHIFT;
  r->npages = (uint32_t)(cap >> RMEM_PAGE_SHIFT);
  r->flags = flags;

  /* out-of-band metadata in one mapping between two guard pages: the pagemap (16 bytes a page),
     the page-tag map (2 bytes a page), the live bitmap (one bit per 8 bytes of the range), the remote
     bitmap of a shared instance (the same) and the freed-heads and dirty bitmaps (one bit a page each) */
  size_t ps = rmem_os_page_size();
  size_t pm_bytes = ((size_t)r->npages * sizeof(rmem_pme_t) + ps - 1) & ~(ps - 1);
  size_t tag_bytes = ((size_t)r->npages * sizeof(uint16_t) + ps - 1) & ~(ps - 1);
  size_t live_bytes = ((cap >> (RMEM_LIVE_SHIFT + 3)) + ps - 1) & ~(ps - 1);
  size_t remote_bytes = (flags & RMEM_OPT_SHARED) ? live_bytes : 0; /* the remote bitmap, the live one's twin */
  size_t freed_bytes = (((size_t)r->npages + 63) / 64 * 8 + ps - 1) & ~(ps - 1);   /* one bit a page (P8) */
  size_t dirty_bytes = freed_bytes;                                               /* one bit a page (P9) */
  r->meta_size = pm_bytes + tag_bytes + live_bytes + remote_bytes + freed_bytes + dirty_bytes + 2 * ps;
  r->meta_base = rmem_os_reserve(r->meta_size);
  r->foreign = range != NULL;
  if (r->meta_base && !range) range = rmem_os_reserve(cap);
  if (!r->meta_base || !range || rmem_pool_init(&r->slabs, sizeof(rmem_slab_t), r->npages / 2 + 16) != 0 ||
      rmem_pool_init(&r->slab_bits, RMEM_SLAB_WORDS * sizeof(uint64_t), r->npages / 2 + 16) != 0) {
    if (r->slabs.base) rmem_pool_fini(&r->slabs);
    if (range && !r->foreign) rmem_os_release(range, cap);
    if (r->meta_base) rmem_os_release(r->meta_base, r->meta_size);
    header_put(r);
    return rmem_fail_null(RMEM_ENOMEM, "cannot reserve %zu bytes of address space", cap);
  }
  rmem_os_guard(r->meta_base, ps);
  rmem_os_guard(r->meta_base + r->meta_size - ps, ps);
  r->pm = (rmem_pme_t *)(r->meta_base + ps);
  r->ptag = (uint16_t *)(r->meta_base + ps + pm_bytes);
  r->live = (uint64_t *)(void *)(r->meta_base + ps + pm_bytes + tag_bytes);
  r->remote = remote_bytes ? (uint64_t *)(void *)(r->meta_base + ps + pm_bytes + tag_bytes + live_bytes) : NULL;
  r->freed = (uint64_t *)(void *)(r->meta_base + ps + pm_bytes + tag_bytes + live_bytes + remote_bytes);
  r->dirty_map = (uint64_t *)(void *)((char *)r->freed + freed_bytes);
  r->epoch = atomic_fetch_add(&epochs, 1) + 1;
  rmem_lock_init(&r->lock);
  rmem_lock_init(&r->mems_lock);
  r->base = (uintptr_t)range;
  r->validate_all = rmem_validate;
  rmem_pages_init(r);
  r->magic = RMEM_MAGIC;
  r->fast = RMEM_FLAGS_SLOW(flags) == 0 ? RMEM_FAST : 0; /* P7: the fast paths' one test */
  rmem_heap_init(r);
  if (flags & RMEM_OPT_SHARED) shared_add(r);
  return r;
}

rmem_t *rmem_create(const rmem_options_t *options) {
  size_t cap = options && options->capacity ? options->capacity : RMEM_DEFAULT_CAPACITY;
  if (cap < RMEM_MIN_CAPACITY || cap > RMEM_MAX_CAPACITY)
    return rmem_fail_null(RMEM_EINVAL, "capacity %zu outside [%zu, %zu]", cap, RMEM_MIN_CAPACITY,
                          RMEM_MAX_CAPACITY);
  cap = (cap + RMEM_CAPACITY_GRAIN - 1) & ~(RMEM_CAPACITY_GRAIN - 1);
  return create(NULL, cap, options ? options->flags : 0);
}

rmem_t *rmem_create_in(void *range, size_t size, const rmem_options_t *options) {
  if (!range || ((uintptr_t)range & (RMEM_CAPACITY_GRAIN - 1)) != 0)
    return rmem_fail_null(RMEM_EINVAL, "create_in: range %p is not aligned to %zu bytes", range,
                          (size_t)RMEM_CAPACITY_GRAIN);
  if (size < RMEM_MIN_CAPACITY || size > RMEM_MAX_CAPACITY || (size & (RMEM_CAPACITY_GRAIN - 1)) != 0)
    return rmem_fail_null(RMEM_EINVAL, "create_in: size %zu is not a multiple of %zu in [%zu, %zu]", size,
                          (size_t)RMEM_CAPACITY_GRAIN, RMEM_MIN_CAPACITY, RMEM_MAX_CAPACITY);
  return create(range, size, options ? options->flags : 0);
}

rmem_status_t rmem_destroy(rmem_t *r) {
  if (!rmem_check_instance(r)) return rmem_last_error();
  if (r == rmem_default_instance) default_set(NULL);
  if (rmem_is_shared(r)) shared_remove(r);
  for (size_t i = 0; i < NSUBSYSTEMS; i++)
    if (subsystems[i].fini) subsystems[i].fini(r);
  rmem_track_destroy(r); /* every block still live dies with the range (track.h) */
  r->magic = 0;
  r->fast = 0;
  rmem_pool_fini(&r->slabs);
  rmem_pool_fini(&r->slab_bits);
  rmem_pool_fini(&r->arenas);
  rmem_pool_fini(&r->caches);
  rmem_meta_fini(r);
  if (!r->foreign) rmem_os_release((void *)r->base, r->capacity); /* a caller's range stays theirs */
  rmem_os_release(r->meta_base, r->meta_size);
  header_put(r);
  return RMEM_OK;
}

void *rmem_base(const rmem_t *r) { return rmem_check_instance(r) ? (void *)r->base : NULL; }

size_t rmem_capacity(const rmem_t *r) { return rmem_check_instance(r) ? r->capacity : 0; }

size_t rmem_offset(const rmem_t *r, const void *p) {
  if (!p || !rmem_check_instance(r) || !rmem_in_range(r, (uintptr_t)p)) return 0;
  return (uintptr_t)p - r->base;
}

rmem_t *rmem_default(void) { return rmem_default_instance; }

rmem_status_t rmem_init_default(const rmem_options_t *options) {
  rmem_status_t st = RMEM_OK;
  rmem_lock(&default_lock);
  if (!rmem_default_instance) {
    /* the seed's names are called from any thread, as malloc is: the default instance is shared */
    rmem_options_t o = options ? *options : (rmem_options_t){0, 0};
    o.flags |= RMEM_OPT_SHARED;
    rmem_t *r = rmem_create(&o);
    if (r) default_set(r);
    else st = rmem_last_error();
  }
  rmem_unlock(&default_lock);
  return st;
}

rmem_status_t rmem_shutdown_default(void) {
  rmem_lock(&default_lock);
  rmem_t *r = rmem_default_instance;
  if (r) default_set(NULL);
  rmem_unlock(&default_lock);
  if (!r) return rmem_fail(RMEM_ENOTINIT, "the default instance does not exist");
  return rmem_destroy(r);
}

rmem_status_t rmem_stats(rmem_t *r, rmem_stats_t *out) {
  if (!rmem_check_instance(r)) return rmem_last_error();
  if (!out) return rmem_fail(RMEM_EINVAL, "rmem_stats: NULL output");
  memset(out, 0, sizeof *out);
  out->capacity = r->capacity;
  out->committed = ((size_t)r->used_pages + r->dirty_pages) << RMEM_PAGE_SHIFT;
  out->resident = rmem_os_resident((void *)r->base, (size_t)r->top << RMEM_PAGE_SHIFT);
  out->pages_in_use = (size_t)r->used_pages << RMEM_PAGE_SHIFT;
  out->pages_free = (size_t)r->free_pages << RMEM_PAGE_SHIFT;
  out->largest_free = (size_t)rmem_pages_largest_free(r) << RMEM_PAGE_SHIFT;
  /* below the high-water mark: pagemap entries, page tags and the live bitmap's share */
  size_t meta = (size_t)r->top * (sizeof(rmem_pme_t) + sizeof(uint16_t) + (RMEM_PAGE_SIZE >> (RMEM_LIVE_SHIFT + 3))) +
                (size_t)r->slabs.bump * r->slabs.size + (size_t)r->slab_bits.bump * r->slab_bits.size +
                (size_t)r->arenas.bump * r->arenas.size + (size_t)r->caches.bump * r->caches.size;
  meta += rmem_meta_bytes(r);
  out->metadata = meta;
  return RMEM_OK;
}

rmem_status_t rmem_block_extent(rmem_t *r, const void *ptr, rmem_extent_t *out) {
  if (!rmem_check_instance(r)) return rmem_last_error();
  if (!out) return rmem_fail(RMEM_EINVAL, "block_extent: NULL output");
  uintptr_t p = (uintptr_t)ptr, off = p - r->base;
  out->offset = off;
  out->size = 0;
  out->owner = RMEM_OWNER_NONE;
  if (!ptr || off >= r->capacity) return rmem_fail(RMEM_EBADPTR, "block_extent: %p is not in the instance's range", ptr);
  uint32_t page = (uint32_t)(off >> RMEM_PAGE_SHIFT);
  const rmem_pme_t *e = page < r->top ? &r->pm[page] : NULL;
  if (e && e->kind == RMEM_PK_SLAB) {
    rmem_slab_t *s = rmem_slab_at(r, p);
    if (s && rmem_is_live(r, off)) {
      out->size = s->bsize;
      out->owner = s->owner_kind == RMEM_SO_HEAP ? RMEM_OWNER_HEAP
                   : s->owner_kind == RMEM_SO_CACHE ? RMEM_OWNER_CACHE
                                                    : RMEM_OWNER_ARENA;
      return RMEM_OK;
    }
  } else if (e && (e->kind == RMEM_PK_LARGE || e->kind == RMEM_PK_ARENA)) {
    if (e->kind == RMEM_PK_LARGE && (!(e->flags & RMEM_PF_HEAD) || (off & (RMEM_PAGE_SIZE - 1)) != 0))
      return rmem_fail_at(RMEM_EBADPTR, r, ptr, "offset %zu points into a large block, not at its start", (size_t)off);
    /* the head of the run: the page itself, or back through the run (every page carries the owner) */
    uint32_t h = page;
    while (h > 1 && !(r->pm[h].flags & RMEM_PF_HEAD)) h--;
    uintptr_t end = (uintptr_t)(h + r->pm[h].len) << RMEM_PAGE_SHIFT;
    out->size = (size_t)(end - off);
    out->owner = e->kind == RMEM_PK_LARGE ? RMEM_OWNER_HEAP : RMEM_OWNER_ARENA;
    return RMEM_OK;
  } else if (e && e->kind == RMEM_PK_MEMS) {
    out->owner = RMEM_OWNER_MEMS;
    return rmem_fail_at(RMEM_EBADPTR, r, ptr, "offset %zu is MeMS memory: name it by its virtual address", (size_t)off);
  }
  return rmem_fail_at(RMEM_EBADPTR, r, ptr, "offset %zu is not a live block", (size_t)off);
}

size_t rmem_pages_in_use(const rmem_t *r) {
  return rmem_check_instance(r) ? (size_t)r->used_pages << RMEM_PAGE_SHIFT : 0;
}

size_t rmem_validate(rmem_t *r) {
  if (!rmem_check_instance(r)) return 1;
  rmem_validation_begin();
  size_t problems = 0;
  for (size_t i = NSUBSYSTEMS; i-- > 0;) problems += subsystems[i].validate(r);
  return rmem_validation_end(problems);
}
