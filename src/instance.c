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
#include "internal.h"

#include <pthread.h>

static rmem_t *rmem_default_instance;
static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;

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
  {rmem_mems_fini, rmem_mems_validate},
  {rmem_arenas_fini, rmem_arenas_validate},
  {rmem_caches_fini, rmem_caches_validate},
  {rmem_heap_fini, rmem_heap_validate},
  {NULL, rmem_pages_check},
};

#define NSUBSYSTEMS (sizeof subsystems / sizeof subsystems[0])

/* Instance headers are recycled, never unmapped: a stale rmem_t* reads magic 0. */
static rmem_t *spare_headers;
static pthread_mutex_t header_lock = PTHREAD_MUTEX_INITIALIZER;

static rmem_t *header_get(void) {
  pthread_mutex_lock(&header_lock);
  rmem_t *r = spare_headers;
  if (r) spare_headers = (rmem_t *)r->base; /* the spare list is threaded through base */
  pthread_mutex_unlock(&header_lock);
  if (!r) {
    size_t ps = rmem_os_page_size();
    size_t bytes = (sizeof(rmem_t) + ps - 1) & ~(ps - 1);
    r = rmem_os_reserve(bytes);
    if (!r) return NULL;
  }
  memset(r, 0, sizeof *r);
  return r;
}

static void header_put(rmem_t *r) {
  memset(r, 0, sizeof *r);
  pthread_mutex_lock(&header_lock);
  r->base = (uintptr_t)spare_headers;
  spare_headers = r;
  pthread_mutex_unlock(&header_lock);
}

rmem_t *rmem_create(const rmem_options_t *options) {
  size_t cap = options && options->capacity ? options->capacity : RMEM_DEFAULT_CAPACITY;
  unsigned flags = options ? options->flags : 0;
  if (flags & ~(RMEM_OPT_JUNK | RMEM_OPT_VALIDATE))
    return rmem_fail_null(RMEM_EINVAL, "unknown option flags %#x", flags);
  if (cap < RMEM_MIN_CAPACITY || cap > RMEM_MAX_CAPACITY)
    return rmem_fail_null(RMEM_EINVAL, "capacity %zu outside [%zu, %zu]", cap, RMEM_MIN_CAPACITY,
                          RMEM_MAX_CAPACITY);
  cap = (cap + RMEM_CAPACITY_GRAIN - 1) & ~(RMEM_CAPACITY_GRAIN - 1);

  rmem_t *r = header_get();
  if (!r) return rmem_fail_null(RMEM_ENOMEM, "cannot map the instance header");
  r->capacity = cap;
  r->npages = (uint32_t)(cap >> RMEM_PAGE_SHIFT);
  r->flags = flags;

  /* pagemap, between two guard pages */
  size_t ps = rmem_os_page_size();
  size_t pm_bytes = ((size_t)r->npages * sizeof(rmem_pme_t) + ps - 1) & ~(ps - 1);
  size_t pc_bytes = ((size_t)r->npages + ps - 1) & ~(ps - 1);
  r->meta_size = pm_bytes + pc_bytes + 2 * ps;
  r->meta_base = rmem_os_reserve(r->meta_size);
  void *range = r->meta_base ? rmem_os_reserve(cap) : NULL;
  if (!range || rmem_pool_init(&r->slabs, sizeof(rmem_slab_t), r->npages / 2 + 16) != 0) {
    if (range) rmem_os_release(range, cap);
    if (r->meta_base) rmem_os_release(r->meta_base, r->meta_size);
    header_put(r);
    return rmem_fail_null(RMEM_ENOMEM, "cannot reserve %zu bytes of address space", cap);
  }
  rmem_os_guard(r->meta_base, ps);
  rmem_os_guard(r->meta_base + ps + pm_bytes + pc_bytes, ps);
  r->pm = (rmem_pme_t *)(r->meta_base + ps);
  r->pclass = (uint8_t *)(r->meta_base + ps + pm_bytes);
  r->base = (uintptr_t)range;

  r->pm[0].kind = RMEM_PK_RESERVED;
  r->pm[0].flags = RMEM_PF_HEAD | RMEM_PF_TAIL;
  r->pm[0].len = 1;
  r->pm[r->npages - 1] = r->pm[0];
  r->top = 1;
  r->limit = r->npages - 1;
  r->magic = RMEM_MAGIC;
  rmem_heap_init(r);
  return r;
}

rmem_status_t rmem_destroy(rmem_t *r) {
  if (!rmem_check_instance(r)) return rmem_last_error();
  if (r == rmem_default_instance) rmem_default_instance = NULL;
  for (size_t i = 0; i < NSUBSYSTEMS; i++)
    if (subsystems[i].fini) subsystems[i].fini(r);
  r->magic = 0;
  rmem_pool_fini(&r->slabs);
  rmem_pool_fini(&r->arenas);
  rmem_pool_fini(&r->caches);
  rmem_meta_fini(r);
  rmem_os_release((void *)r->base, r->capacity);
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
  pthread_mutex_lock(&default_lock);
  if (!rmem_default_instance) {
    rmem_t *r = rmem_create(options);
    if (r) rmem_default_instance = r;
    else st = rmem_last_error();
  }
  pthread_mutex_unlock(&default_lock);
  return st;
}

rmem_status_t rmem_shutdown_default(void) {
  pthread_mutex_lock(&default_lock);
  rmem_t *r = rmem_default_instance;
  rmem_default_instance = NULL;
  pthread_mutex_unlock(&default_lock);
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
  size_t meta = ((size_t)r->top * sizeof(rmem_pme_t)) + (size_t)r->slabs.bump * r->slabs.size +
                (size_t)r->arenas.bump * r->arenas.size + (size_t)r->caches.bump * r->caches.size;
  meta += rmem_meta_bytes(r);
  out->metadata = meta;
  return RMEM_OK;
}


size_t rmem_validate(rmem_t *r) {
  if (!rmem_check_instance(r)) return 1;
  size_t problems = 0;
  for (size_t i = NSUBSYSTEMS; i-- > 0;) problems += subsystems[i].validate(r);
  return problems;
}
