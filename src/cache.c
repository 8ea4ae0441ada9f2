/*
 * cache.c - slab caches (the seed's slab_cache / slab_slot), Bonwick / SLUB style.
 *
 * A cache hands out objects of one size. It is one list of the shared slab
 * engine (slab.c) with owner_kind RMEM_SO_CACHE, owner_id = the cache's
 * index and its own page tag (RMEM_TAG_CACHE + index), with a single-list
 * front (front.h) in front of it: freed objects wait on a stack out of band
 * and are handed out again newest first, the engine refills and takes back
 * half a stack at a time. Every object in the user's hands has its live bit
 * set, so a free is checked exactly by that bit and the page's tag -- this
 * cache's, not another's -- both found from the address alone: a double free,
 * an interior pointer, another cache's or allocator's memory are refused at
 * once and change nothing. Nothing is written into user memory. Empty slabs
 * go back to the page source (one spare is kept so an alloc/free see-saw at a
 * slab boundary does not map and unmap pages each time);
 * rmem_slab_cache_shrink returns the stack's objects and the spare too.
 *
 * Cache records live in the instance's pool r->caches and are checked
 * handles (handle.h): a destroyed cache reads RMEM_ESTALE.
 *
 * Invariants (rmem_caches_validate):
 *   C1  a live cache's list passes rmem_slab_list_check, has owner_kind
 *       RMEM_SO_CACHE, owner_id == the cache's index, page_tag == its tag,
 *       bsize == obj_size rounded up to its alignment; its front keeps F1, F3, F4.
 *   C2  its live objects are list.used minus the objects on its stack (S6,
 *       F3); frees counts the frees C served (the Node addon's JS front
 *       serves others and counts them itself), and every live object came
 *       from an alloc, so the allocs reported are frees + live objects.
 *   C3  every slab with owner_kind RMEM_SO_CACHE belongs to the list of a
 *       live cache, and each cache's list counts exactly the slabs that point
 *       at it.
 *   C4  a dead cache holds no slab and no stacked object.
 *   C5  a cache whose fast paths are off (dead, or of an instance that is
 *       shared or has a debugging option: its slot's fast word is not
 *       RMEM_HSLOT_FAST) has a stack of capacity 0, so it holds none: the
 *       fast paths test the handle's registry alone, and an empty stack of
 *       no room sends every call of such a cache to the checked paths,
 *       which take from and give back to the engine directly.
 *
 * Floor: above front.h and handle.c.
 */
#include "front.h"
#include "handle.h"
#include "track.h"

#include <stddef.h>

#define CACHE_MAX ((uint32_t)1 << 14)
#define CACHE_MAX_OBJ RMEM_SLAB_MAX_OBJ

struct slab_cache {
  uint32_t obj_size;         /* the caller's size (the slot size is list.bsize) */
  uint32_t align;
  uint16_t flags;            /* RMEM_SLAB_* */
  uint16_t debug;            /* the instance's RMEM_OPT_* flags (fixed at creation): one load less on the fast paths */
  uint32_t tag;              /* the page tag of its slabs: RMEM_TAG_CACHE + index */
  rmem_hslot_t slot;         /* at offset 16 (handle.h) */
  /* the instance's constants, copied: the fast paths read them beside the handle's words, not through r */
  uintptr_t base;
  size_t grains;             /* capacity / 8: an offset rotated right by 3 is below it iff in range and aligned */
  uint64_t *live;
  uint16_t *ptag;
  size_t frees;              /* frees C served; its allocs are frees + live objects (C2): no count on the alloc path */
  rmem_lfront_t front;
  rmem_slab_list_t list;
  size_t vslabs;             /* validator scratch */
  rmem_lock_t lock;          /* a shared instance's cache: every call holds it (the fast paths are off) */
  char name[32];
};

_Static_assert(sizeof(struct slab_cache) <= RMEM_HSLOT_RECORD, "cache record fits its slot");
_Static_assert(offsetof(struct slab_cache, slot) == sizeof(struct rmem_arena_head), "slot header offset (handle.h)");
_Static_assert(RMEM_TAG_CACHE + CACHE_MAX <= 0x10000u, "cache tags fit the page-tag map");

static inline size_t live_of(const slab_cache_t *c) { return c->list.used - c->front.n; }

#define CACHE_SLOT_OFF offsetof(struct slab_cache, slot)

static inline slab_cache_t *cache_check(slab_cache_t *c) { return rmem_handle_resolve(RMEM_HK_CACHE, c, CACHE_SLOT_OFF); }

/*
 * Checks the handle and, for a cache of a shared instance, takes its lock
 * (and sees it still alive under the lock: a destroy may have come first).
 * NULL with the error recorded. Pair with cache_leave.
 */
static slab_cache_t *cache_enter(slab_cache_t *c) {
  c = cache_check(c);
  if (!c || !rmem_is_shared(c->slot.r)) return c;
  rmem_lock(&c->lock);
  if (c->slot.alive != RMEM_HSLOT_ALIVE) {
    rmem_unlock(&c->lock);
    return rmem_fail_null(RMEM_ESTALE, "the slab cache was destroyed");
  }
  return c;
}

static void cache_leave(slab_cache_t *c) {
  if (rmem_is_shared(c->slot.r)) rmem_unlock(&c->lock);
}

slab_cache_t *rmem_slab_cache_create(rmem_t *r, const char *name, size_t obj_size, size_t align, unsigned flags) {
  if (!rmem_check_instance(r)) return NULL;
  if (obj_size == 0) return rmem_fail_null(RMEM_EINVAL, "slab cache object size 0");
  if (obj_size > CACHE_MAX_OBJ)
    return rmem_fail_null(RMEM_ERANGE, "slab cache object size %zu exceeds %zu", obj_size, CACHE_MAX_OBJ);
  if (align == 0) align = 8;
  if ((align & (align - 1)) != 0 || align > RMEM_PAGE_SIZE)
    return rmem_fail_null(RMEM_EINVAL, "slab cache alignment %zu is not a power of two up to 4096", align);
  if (flags & ~RMEM_SLAB_STRICT) return rmem_fail_null(RMEM_EINVAL, "unknown slab cache flags %#x", flags);
  if (align < 8) align = 8; /* the engine's slots are multiples of 8 */
  size_t bsize = (obj_size + align - 1) & ~(align - 1);
  struct rmem_arena_table *t = rmem_arena_table(r);
  if (!t) return NULL;
  slab_cache_t *c = rmem_hslot_new(r, &t->caches, CACHE_MAX);
  if (!c) return NULL;
  c->obj_size = (uint32_t)obj_size;
  c->flags = (uint16_t)flags;
  c->debug = (uint16_t)r->flags;
  c->align = (uint32_t)align;
  c->tag = RMEM_TAG_CACHE + c->slot.index;
  c->base = r->base;
  c->grains = r->grains;
  c->live = r->live;
  c->ptag = r->ptag;
  rmem_lock_init(&c->lock);
  /* slabs start on page boundaries and bsize is a multiple of align, so every slot is aligned */
  rmem_slab_list_init(&c->list, r, (uint32_t)bsize, RMEM_SO_CACHE, c->slot.index, (uint16_t)c->tag, true);
  uint32_t cap = (uint32_t)((16u << 10) / bsize);
  c->front.cap = c->slot.fast != RMEM_HSLOT_FAST ? 0 : cap < 4 ? 4 : cap > RMEM_LFRONT_CAP ? RMEM_LFRONT_CAP : cap; /* C5 */
  if (name) {
    /* last, under the instance's lock: rmem_slab_cache_find matches names under it, so a cache it
       finds is whole */
    size_t n = strnlen(name, sizeof c->name - 1);
    rmem_shared_lock(r);
    memcpy(c->name, name, n);
    c->name[n] = '\0';
    rmem_shared_unlock(r);
  }
  if (r->flags & RMEM_OPT_VALIDATE) rmem_validate_after(r);
  return c;
}

static RMEM_NOINLINE void *alloc_checked(slab_cache_t *c) {
  c = cache_enter(c);
  if (!c) return NULL;
  rmem_t *r = c->slot.r;
  void *p;
  if (c->front.cap == 0) { /* fast paths off: no stack (C5), which other threads' fast paths would see */
    p = rmem_slab_list_alloc(&c->list);
    if (p) rmem_set_live(r, (uintptr_t)p - r->base);
  } else {
    p = c->front.n ? rmem_lfront_pop(r, &c->front) : rmem_lfront_refill(r, &c->front, &c->list);
  }
  if (p) {
    if (RMEM_UNLIKELY(c->debug)) {
      if (r->flags & RMEM_OPT_JUNK) rmem_track_memset(r, p, 0xAB, c->list.bsize);
      if (r->flags & RMEM_OPT_VALIDATE) rmem_validate_after(r);
    }
  }
  cache_leave(c);
  return rmem_track_alloc(r, p, c->obj_size, c->list.bsize); /* NULL: ENOMEM recorded by the engine */
}

/* c is a record of the first registered instance's cache table (live or not: C5 says what its stack holds). */
static inline bool cache_in_registry(const slab_cache_t *c) { return rmem_hreg_in(&rmem_hreg[RMEM_HK_CACHE][0], (uintptr_t)c); }

/*
 * The fast path: a record of the first registered instance's caches, and an object on its stack
 * (so a live cache with its fast paths on: C5). Everything else -- and every error -- goes through
 * alloc_checked.
 */
void *rmem_slab_alloc(slab_cache_t *c) {
  uintptr_t n; /* the stack's count less one, as wide as an address (st[n] is one load): the subtract's borrow
                  says the stack was empty */
  if (RMEM_LIKELY(cache_in_registry(c) &&
                  !__builtin_sub_overflow((uintptr_t)c->front.n, (uintptr_t)1, &n))) {
    rmem_lfront_t *f = &c->front;
    uint32_t off = f->st[n];
    f->n = (uint32_t)n;
    c->live[off >> (RMEM_LIVE_SHIFT + 6)] |= rmem_live_bit(off);
    return rmem_track_alloc(c->slot.r, (void *)(c->base + off), c->obj_size, c->list.bsize);
  }
  return alloc_checked(c);
}

static rmem_status_t free_locked(slab_cache_t *c, void *ptr) {
  if (ptr == NULL) return RMEM_OK;
  rmem_t *r = c->slot.r;
  uintptr_t off = (uintptr_t)ptr - r->base;
  if (off >= r->capacity) return rmem_fail(RMEM_EBADPTR, "%p is not in the cache's instance", ptr);
  if (!rmem_is_live(r, off) || rmem_tag_at(r, off) != c->tag) return rmem_front_refuse(r, off, "this slab cache");
  if (RMEM_UNLIKELY(r->flags & RMEM_OPT_JUNK)) rmem_track_memset(r, ptr, 0xDF, c->list.bsize); /* checked first */
  rmem_track_free(r, ptr, c->list.bsize);
  rmem_clear_live(r, off);
  uint32_t o = (uint32_t)off;
  if (c->front.cap == 0) { /* fast paths off: no stack (C5) */
    rmem_front_release(r, &o, 1);
  } else {
    if (c->front.n >= c->front.cap) rmem_lfront_spill(r, &c->front);
    rmem_lfront_push(&c->front, o);
  }
  c->frees++;
  if (RMEM_UNLIKELY(r->flags & RMEM_OPT_VALIDATE)) rmem_validate_after(r);
  return RMEM_OK;
}

static RMEM_NOINLINE rmem_status_t free_checked(slab_cache_t *c, void *ptr) {
  c = cache_enter(c);
  if (!c) return rmem_last_error();
  rmem_status_t st = free_locked(c, ptr);
  cache_leave(c);
  return st;
}

/* The fast path: a live object of this cache (its live bit, and its page's tag is the cache's), room on the
   stack (so a live cache with its fast paths on: C5). */
rmem_status_t rmem_slab_free(slab_cache_t *c, void *ptr) {
  if (RMEM_LIKELY(cache_in_registry(c))) {
    uintptr_t off = (uintptr_t)ptr - c->base, g = rmem_grain_of(off);
    if (RMEM_LIKELY(g < c->grains)) { /* in range and 8-byte aligned in one compare */
      /* read as atomics (plain moves): a shared instance's cache gets here too, while a thread holding its
         lock writes them; its stack of no room then sends it to the checked path (C5) */
      uint64_t *w = &c->live[g >> 6], m = __atomic_load_n(w, __ATOMIC_RELAXED);
      uint32_t t = __atomic_load_n(&c->ptag[off >> RMEM_PAGE_SHIFT], __ATOMIC_RELAXED);
      if (RMEM_LIKELY(rmem_bit_test(m, g) && t == c->tag && c->front.n < c->front.cap)) {
        *w = rmem_bit_clear(m, g);
        rmem_lfront_push(&c->front, (uint32_t)off);
        c->frees++;
        rmem_track_free(c->slot.r, ptr, c->list.bsize);
        return RMEM_OK;
      }
    }
  }
  return free_checked(c, ptr);
}

rmem_status_t rmem_slab_cache_destroy(slab_cache_t *c) {
  c = cache_enter(c);
  if (!c) return rmem_last_error();
  if ((c->flags & RMEM_SLAB_STRICT) && live_of(c) > 0) {
    rmem_status_t st = rmem_fail(RMEM_EBUSY, "slab cache '%s' still has %zu live objects", c->name, live_of(c));
    cache_leave(c);
    return st;
  }
  rmem_t *r = c->slot.r;
  rmem_front_forget(r, &c->list); /* live objects die with their slabs: their live bits go too (F2) */
  c->front.n = 0;
  c->front.cap = 0; /* C5 */
  rmem_slab_list_fini(&c->list);
  rmem_hslot_kill(&r->arena_state->caches, c);
  cache_leave(c);
  if (r->flags & RMEM_OPT_VALIDATE) rmem_validate_after(r);
  return RMEM_OK;
}

rmem_status_t rmem_slab_cache_shrink(slab_cache_t *c) {
  c = cache_enter(c);
  if (!c) return rmem_last_error();
  rmem_lfront_flush(c->slot.r, &c->front);
  rmem_slab_list_shrink(&c->list);
  cache_leave(c);
  if (c->slot.r->flags & RMEM_OPT_VALIDATE) rmem_validate_after(c->slot.r);
  return RMEM_OK;
}

rmem_status_t rmem_slab_cache_stats(slab_cache_t *c, rmem_slab_stats_t *out) {
  if (!out) return cache_check(c) ? rmem_fail(RMEM_EINVAL, "rmem_slab_cache_stats: NULL output") : rmem_last_error();
  c = cache_enter(c);
  if (!c) return rmem_last_error();
  const rmem_slab_list_t *l = &c->list;
  memset(out, 0, sizeof *out);
  out->name = c->name;
  out->obj_size = l->bsize;
  out->objects_in_use = live_of(c);
  out->slots = l->slabs * l->nslots;
  out->slabs = l->slabs;
  out->slab_bytes = l->slabs * ((size_t)l->slab_pages << RMEM_PAGE_SHIFT);
  out->utilisation = out->slab_bytes ? (double)(live_of(c) * l->bsize) / (double)out->slab_bytes : 0.0;
  out->allocs = c->frees + live_of(c); /* C2 */
  out->frees = c->frees;
  cache_leave(c);
  return RMEM_OK;
}

rmem_status_t rmem_slab_cache_walk(slab_cache_t *c, rmem_slot_fn *visit, void *arg) {
  if (!visit) return cache_check(c) ? rmem_fail(RMEM_EINVAL, "rmem_slab_cache_walk: NULL visitor") : rmem_last_error();
  c = cache_enter(c);
  if (!c) return rmem_last_error();
  int stop = 0;
  for (const rmem_slab_t *s = c->list.all; s && !stop; s = s->anext) {
    for (uint32_t i = 0; i < s->nslots && !stop; i++) {
      uintptr_t p = s->start + (uintptr_t)i * s->bsize;
      slab_slot_t slot = {(void *)p, i, rmem_is_live(c->slot.r, p - c->slot.r->base)};
      stop = visit(&slot, arg);
    }
  }
  cache_leave(c);
  return RMEM_OK;
}

rmem_status_t rmem_slab_cache_layout(slab_cache_t *c, rmem_cache_layout_t *out) {
  c = cache_check(c);
  if (!c) return rmem_last_error();
  if (!out) return rmem_fail(RMEM_EINVAL, "slab_cache_layout: NULL output");
  memset(out, 0, sizeof *out);
  out->version = RMEM_FRONT_LAYOUT_VERSION;
  out->tag = c->tag;
  out->stack = &c->front.n;
  out->max = RMEM_LFRONT_CAP;
  out->fast = c->slot.fast == RMEM_HSLOT_FAST; /* private instance, no debugging option */
  return RMEM_OK;
}

slab_cache_t *rmem_slab_cache_from_index(rmem_t *r, uint32_t index, uint32_t generation) {
  if (!rmem_check_instance(r)) return NULL;
  if (!r->arena_state) return rmem_fail_null(RMEM_EBADPTR, "no slab cache with index %u", index);
  return rmem_hslot_from_index(r, &r->arena_state->caches, index, generation, "slab cache");
}

slab_cache_t *rmem_slab_cache_find(rmem_t *r, const char *name) {
  if (!rmem_check_instance(r)) return NULL;
  if (!name) return rmem_fail_null(RMEM_EINVAL, "slab_cache_find: NULL name");
  slab_cache_t *found = NULL;
  rmem_shared_lock(r);
  uint32_t n = r->arena_state && r->caches.base ? r->caches.bump : 0;
  for (uint32_t i = 1; i < n && !found; i++) {
    slab_cache_t *c = rmem_pool_at(&r->caches, i);
    if (c->slot.alive == RMEM_HSLOT_ALIVE && strncmp(c->name, name, sizeof c->name - 1) == 0 &&
        strlen(name) < sizeof c->name)
      found = c;
  }
  rmem_shared_unlock(r);
  if (!found) return rmem_fail_null(RMEM_EINVAL, "no live slab cache is named \"%.64s\"", name);
  return found;
}

rmem_status_t rmem_slab_cache_index(slab_cache_t *c, uint32_t *index, uint32_t *generation) {
  c = cache_check(c);
  if (!c) return rmem_last_error();
  if (!index || !generation) return rmem_fail(RMEM_EINVAL, "rmem_slab_cache_index: NULL output");
  *index = c->slot.index;
  *generation = c->slot.generation;
  return RMEM_OK;
}

rmem_t *rmem_slab_cache_instance(slab_cache_t *c) {
  c = cache_check(c);
  return c ? c->slot.r : NULL;
}

/* ------------------------------------------------------------------------
 * Hooks of rmem_destroy and rmem_validate
 * ------------------------------------------------------------------------ */

/* Every cache's lock (taken before the instance's lock: before a fork, and by the validator). Returns how
   many records were locked. */
uint32_t rmem_caches_fork_lock(rmem_t *r) {
  uint32_t n = r->arena_state && r->caches.base ? r->caches.bump : 0;
  for (uint32_t i = 1; i < n; i++) rmem_lock(&((slab_cache_t *)rmem_pool_at(&r->caches, i))->lock);
  return n;
}

/* After a fork: the locks taken; in the child, a record made since (before the instance's lock was
   taken) gets a fresh lock, as its holder may be a thread the child does not have. */
void rmem_caches_fork_unlock(rmem_t *r, uint32_t locked, bool child) {
  for (uint32_t i = 1; i < locked; i++) rmem_unlock(&((slab_cache_t *)rmem_pool_at(&r->caches, i))->lock);
  uint32_t n = child && r->arena_state && r->caches.base ? r->caches.bump : 0;
  for (uint32_t i = locked > 1 ? locked : 1; i < n; i++) rmem_lock_init(&((slab_cache_t *)rmem_pool_at(&r->caches, i))->lock);
}

void rmem_caches_fini(rmem_t *r) {
  /* Slabs and records die with the range and the pools; only the registry must forget the pool. */
  if (r->arena_state) rmem_htable_fini(&r->arena_state->caches);
}

static size_t caches_validate(rmem_t *r);

/* A shared instance's caches are checked with every cache's lock and then the instance's held (their order
   everywhere): no thread is half-way through a cache, and no slab comes or goes under the walk. */
size_t rmem_caches_validate(rmem_t *r) {
  if (!rmem_is_shared(r)) return caches_validate(r);
  uint32_t locked = rmem_caches_fork_lock(r);
  rmem_lock(&r->lock);
  size_t problems = caches_validate(r);
  rmem_unlock(&r->lock);
  rmem_caches_fork_unlock(r, locked, false);
  return problems;
}

static size_t caches_validate(rmem_t *r) {
  size_t problems = 0;
  struct rmem_arena_table *t = r->arena_state;
  bool any = t && r->caches.base;
  if (any) problems += rmem_htable_check(r, &t->caches);
  uint32_t n = any ? r->caches.bump : 0;
  for (uint32_t i = 1; i < n; i++) {
    slab_cache_t *c = rmem_pool_at(&r->caches, i);
    c->vslabs = 0;
    rmem_slab_list_t *l = &c->list;
    if (c->slot.alive != RMEM_HSLOT_ALIVE) {
      if (l->all || l->slabs || c->front.n) rmem_problem(&problems, "slab cache %u: destroyed but holds slabs (C4)", i);
      if (c->front.cap) rmem_problem(&problems, "slab cache %u: destroyed with a stack of capacity %u (C5)", i, c->front.cap);
      continue;
    }
    if (c->slot.fast != RMEM_HSLOT_FAST && c->front.cap)
      rmem_problem(&problems, "slab cache %u: fast paths off, a stack of capacity %u (C5)", i, c->front.cap);
    if (l->owner_kind != RMEM_SO_CACHE || l->owner_id != i || l->r != r || l->bsize < c->obj_size ||
        l->bsize % c->align != 0 || l->page_tag != c->tag || c->tag != RMEM_TAG_CACHE + i)
      rmem_problem(&problems, "slab cache %u: list header damaged (C1)", i);
    problems += rmem_slab_list_check(l);
    problems += rmem_front_check_stack(r, l, c->front.st, c->front.n, c->front.cap, RMEM_LFRONT_CAP);
    problems += rmem_front_check_slabs(r, l);
    if (l->used < c->front.n)
      rmem_problem(&problems, "slab cache %u: %u objects stacked but only %zu used (C2)", i, c->front.n, l->used);
  }
  for (uint32_t p = 1; p < r->top;) {
    const rmem_pme_t *h = &r->pm[p];
    uint32_t len = h->len ? h->len : 1;
    if (h->kind == RMEM_PK_SLAB && h->owner && h->owner < r->slabs.bump) {
      const rmem_slab_t *s = rmem_slab_of(r, h);
      if (s->magic == RMEM_SLAB_MAGIC && s->owner_kind == RMEM_SO_CACHE) {
        uint32_t id = s->list ? s->list->owner_id : 0;
        slab_cache_t *c = id && id < n ? rmem_pool_at(&r->caches, id) : NULL;
        if (!c || c->slot.alive != RMEM_HSLOT_ALIVE || s->list != &c->list)
          rmem_problem(&problems, "page %u: cache slab of no live slab cache (C3)", p);
        else c->vslabs++;
      }
    }
    p += len;
  }
  for (uint32_t i = 1; i < n; i++) {
    slab_cache_t *c = rmem_pool_at(&r->caches, i);
    if (c->slot.alive == RMEM_HSLOT_ALIVE && c->vslabs != c->list.slabs)
      rmem_problem(&problems, "slab cache %u: %zu slabs in the pagemap, list counts %zu (C3)", i, c->vslabs,
                   c->list.slabs);
  }
  return problems;
}

/* ------------------------------------------------------------------------
 * For the layout walk and the reports (layout.c)
 * ------------------------------------------------------------------------ */

slab_cache_t *rmem_cache_describe(rmem_t *r, uint32_t index, rmem_run_t *run) {
  if (!r->arena_state || !r->caches.base || index == 0 || index >= r->caches.bump) return NULL;
  slab_cache_t *c = rmem_pool_at(&r->caches, index);
  if (c->slot.alive != RMEM_HSLOT_ALIVE) return NULL;
  run->owner_index = index;
  run->owner_generation = c->slot.generation;
  run->name = c->name;
  run->obj_size = c->obj_size;
  return c;
}
