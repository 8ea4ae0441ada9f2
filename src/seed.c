/*
 * seed.c - the seed's names, on the process-wide default instance.
 *
 * The two seed projects name their functions without an instance:
 *   general heap   init_heap, r_alloc (8-byte padding), r_free, r_defrag
 *   arenas         init_arenas, create_arena, r_arena, r_reset, r_destroy
 *   slab caches    slab_cache_create, slab_alloc, slab_free, slab_cache_destroy
 *   MeMS           mems_init, mems_malloc, mems_get, mems_free,
 *                  mems_print_stats, mems_finish
 * Each is a thin call of the rmem_* function on rmem_default(), the instance
 * the first init_* call creates (64 MiB). Before that, calls record
 * RMEM_ENOTINIT (the rmem_* functions refuse a NULL instance).
 *
 * The default instance is shared (RMEM_OPT_SHARED): C programs call r_alloc
 * and r_free from any thread, as they call malloc. r_alloc and r_free keep
 * the calling thread's heap of it in one thread-local word, so a
 * single-threaded program pays one load and a compare over a private
 * instance's fast path.
 *
 * Floor: the top. Only this file knows the default instance exists.
 */
#include "front.h"

#include <stdio.h>

static rmem_t *default_or_fail(const char *what) {
  rmem_t *r = rmem_default();
  if (!r) rmem_fail(RMEM_ENOTINIT, "%s", what);
  return r;
}

/* ------------------------------------------------------------------------
 * The general heap
 * ------------------------------------------------------------------------ */

/*
 * This thread's heap of the default instance, the thread's key (rmem_tkey, which never changes in a thread's
 * life: a copy here saves the fast paths a second thread-local access) and the default's generation when
 * the heap was taken: while gen is rmem_default_gen the default is the same instance and l its heap for this
 * thread. Generations start at 1 and gen at 0, and gen is written only with a heap, so gen matching means
 * l is not NULL: the fast paths need no NULL test.
 */
static _Thread_local struct {
  rmem_local_t *l;
  uint64_t gen;
  uint32_t key;
} tl_default RMEM_TLS_IE;

static rmem_local_t *default_local(void) {
  uint64_t gen = __atomic_load_n(&rmem_default_gen, __ATOMIC_ACQUIRE); /* before the instance: a change after
                                                                            it leaves gen stale, not l */
  rmem_t *r = rmem_default_instance;
  rmem_local_t *l = r && rmem_is_shared(r) ? rmem_local(r) : NULL;
  if (l) {
    tl_default.l = l;
    tl_default.key = rmem_thread_key();
    tl_default.gen = gen;
  }
  return l;
}

rmem_status_t init_heap(void) { return rmem_init_default(NULL); }

static RMEM_NOINLINE void *r_alloc_slow(size_t size) {
  rmem_local_t *l = default_local();
  return l ? rmem_local_alloc(l, size) : rmem_alloc(rmem_default_instance, size);
}

/* The fast paths are the heap front's own, inline: one compare of the generation, then the front (front.h). */
void *r_alloc(size_t size) {
  void *p;
  if (RMEM_LIKELY(tl_default.gen == __atomic_load_n(&rmem_default_gen, __ATOMIC_RELAXED) &&
                  rmem_heap_alloc_as(tl_default.l, tl_default.key, size, &p)))
    return p;
  return r_alloc_slow(size);
}

static RMEM_NOINLINE rmem_status_t r_free_slow(void *ptr) {
  rmem_local_t *l = default_local();
  return l ? rmem_local_free(l, ptr) : rmem_free(rmem_default_instance, ptr);
}

rmem_status_t r_free(void *ptr) {
  if (RMEM_LIKELY(tl_default.gen == __atomic_load_n(&rmem_default_gen, __ATOMIC_RELAXED) &&
                  rmem_heap_free_as(tl_default.l, tl_default.key, ptr)))
    return RMEM_OK;
  return r_free_slow(ptr);
}

rmem_status_t r_defrag(void) { return rmem_defrag(rmem_default(), NULL); }
void *r_calloc(size_t n, size_t size) { return rmem_calloc(rmem_default(), n, size); }
void *r_realloc(void *ptr, size_t size) { return rmem_realloc(rmem_default(), ptr, size); }
void *r_aligned_alloc(size_t alignment, size_t size) { return rmem_aligned_alloc(rmem_default(), alignment, size); }
size_t r_usable_size(const void *ptr) { return rmem_usable_size(rmem_default(), ptr); }

/* ------------------------------------------------------------------------
 * Arenas
 * ------------------------------------------------------------------------ */

rmem_status_t init_arenas(void) {
  rmem_status_t st = rmem_init_default(NULL);
  if (st != RMEM_OK) return st;
  return rmem_arenas_defaults(rmem_default());
}

arena_t *rmem_default_arena(lifetime_t lifetime) { return rmem_arena_default_of(rmem_default(), lifetime); }

arena_t *create_arena(size_t size, lifetime_t lifetime) {
  rmem_t *r = default_or_fail("no default instance: call init_heap() or init_arenas() first");
  return r ? rmem_arena_create(r, size, lifetime) : NULL;
}

void *r_arena_in(arena_t *a, size_t size) { return rmem_arena_alloc(a, size); }

void *r_arena_lt(size_t size, lifetime_t lifetime) {
  arena_t *a = rmem_default_arena(lifetime);
  return a ? rmem_arena_alloc(a, size) : NULL;
}

rmem_status_t r_arena_free(arena_t *a, void *ptr, size_t size) { return rmem_arena_free(a, ptr, size); }
rmem_status_t r_reset_arena(arena_t *a) { return rmem_arena_reset(a); }

rmem_status_t r_reset_lifetime(lifetime_t lifetime) {
  arena_t *a = rmem_default_arena(lifetime);
  return a ? rmem_arena_reset(a) : rmem_last_error();
}

rmem_status_t r_destroy(arena_t *a) { return rmem_arena_destroy(a); }

/* ------------------------------------------------------------------------
 * Slab caches
 * ------------------------------------------------------------------------ */

slab_cache_t *slab_cache_create(const char *name, size_t obj_size) {
  rmem_t *r = default_or_fail("no default instance: call init_heap() first");
  return r ? rmem_slab_cache_create(r, name, obj_size, 0, 0) : NULL;
}

void *slab_alloc(slab_cache_t *c) { return rmem_slab_alloc(c); }
rmem_status_t slab_free(slab_cache_t *c, void *p) { return rmem_slab_free(c, p); }
rmem_status_t slab_cache_destroy(slab_cache_t *c) { return rmem_slab_cache_destroy(c); }

/* ------------------------------------------------------------------------
 * MeMS
 * ------------------------------------------------------------------------ */

static rmem_t *mems_default(const char *fn) {
  rmem_t *r = rmem_default();
  if (!r) rmem_fail(RMEM_ENOTINIT, "%s: MeMS is not initialised (call mems_init first)", fn);
  return r;
}

rmem_status_t mems_init(void) {
  rmem_status_t st = rmem_init_default(NULL);
  if (st != RMEM_OK) return st;
  return rmem_mems_init(rmem_default());
}

void *mems_malloc(size_t size) {
  rmem_t *r = mems_default("mems_malloc");
  return r ? (void *)rmem_mems_malloc(r, size) : NULL;
}

rmem_status_t mems_free(void *v_ptr) {
  rmem_t *r = mems_default("mems_free");
  return r ? rmem_mems_free(r, (uintptr_t)v_ptr) : RMEM_ENOTINIT;
}

void *mems_get(void *v_ptr) {
  rmem_t *r = mems_default("mems_get");
  return r ? rmem_mems_get(r, (uintptr_t)v_ptr) : NULL;
}

void mems_print_stats(void) {
  rmem_t *r = mems_default("mems_print_stats");
  if (r) (void)rmem_mems_print_stats(r, stdout);
}

rmem_status_t mems_finish(void) {
  rmem_t *r = mems_default("mems_finish");
  return r ? rmem_mems_finish(r) : RMEM_ENOTINIT;
}
