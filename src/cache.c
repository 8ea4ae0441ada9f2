/*
 * cache.c - slab caches (the seed's slab_cache / slab_slot), Bonwick / SLUB style.
 *
 * A cache hands out objects of one size. It is one list of the shared slab
 * engine (slab.c) with owner_kind RMEM_SO_CACHE and owner_id = the cache's
 * index: slabs are runs of at least two pages from the instance's page
 * source, carved into slots of obj_size rounded up to the alignment, with an
 * out-of-band bitmap per slab. Allocation pops the lowest free slot of the
 * current slab; free finds the slab through the pagemap, checks that it is a
 * slab of THIS cache, and sets the bit back -- both O(1). The bitmap is the
 * truth about every slot, so double frees and interior pointers are detected
 * exactly and nothing is written into user memory. Empty slabs go back to the
 * page source (one spare is kept so an alloc/free see-saw at a slab boundary
 * does not map and unmap pages each time); rmem_slab_cache_shrink returns the
 * spare too.
 *
 * Cache records live in the instance's pool r->caches and are checked
 * handles (handle.h): a destroyed cache reads RMEM_ESTALE.
 *
 * Invariants (rmem_caches_validate):
 *   C1  a live cache's list passes rmem_slab_list_check, has owner_kind
 *       RMEM_SO_CACHE, owner_id == the cache's index, bsize == obj_size.
 *   C2  list.allocs - list.frees == the sum of used slots over its slabs (the
 *       fast paths keep one counter each, not a shared live count: two
 *       read-modify-writes of one word per alloc/free pair would chain them).
 *   C3  every slab with owner_kind RMEM_SO_CACHE belongs to the list of a
 *       live cache, and each cache's list counts exactly the slabs that point
 *       at it.
 *   C4  a dead cache holds no slab.
 */
#include "handle.h"

#include <stddef.h>

#define CACHE_MAX ((uint32_t)1 << 14)
#define CACHE_MAX_OBJ RMEM_SLAB_MAX_OBJ

struct slab_cache {
  uint32_t obj_size;         /* the caller's size (the slot size is list.bsize) */
  uint32_t align;
  uint16_t flags;            /* RMEM_SLAB_* */
  uint16_t debug;            /* the instance's RMEM_OPT_* flags (fixed at creation): one load less on the fast paths */
  uint32_t unused_;
  rmem_hslot_t slot;         /* at offset 16 (handle.h) */
  rmem_slab_list_t list;
  size_t vslabs;             /* validator scratch */
  char name[32];
};

_Static_assert(sizeof(struct slab_cache) <= RMEM_HSLOT_RECORD, "cache record fits its slot");
_Static_assert(offsetof(struct slab_cache, slot) == sizeof(struct rmem_arena_head), "slot header offset (handle.h)");

static inline size_t live_of(const slab_cache_t *c) { return c->list.allocs - c->list.frees; }

#define CACHE_SLOT_OFF offsetof(struct slab_cache, slot)

static inline slab_cache_t *cache_check(slab_cache_t *c) { return rmem_handle_resolve(RMEM_HK_CACHE, c, CACHE_SLOT_OFF); }

static RMEM_NOINLINE void validate_after(rmem_t *r) {
  rmem_status_t saved = rmem_last_error();
  char msg[256];
  snprintf(msg, sizeof msg, "%s", rmem_last_error_message());
  if (rmem_validate(r) == 0) {
    if (saved) rmem_fail(saved, "%s", msg);
    else rmem_clear_error();
  }
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
  if (name) {
    size_t n = strnlen(name, sizeof c->name - 1);
    memcpy(c->name, name, n);
    c->name[n] = '\0';
  }
  /* slabs start on page boundaries and bsize is a multiple of align, so every slot is aligned */
  rmem_slab_list_init(&c->list, r, (uint32_t)bsize, RMEM_SO_CACHE, c->slot.index, true);
  if (r->flags & RMEM_OPT_VALIDATE) validate_after(r);
  return c;
}

static RMEM_NOINLINE void *alloc_checked(slab_cache_t *c) {
  c = cache_check(c);
  if (!c) return NULL;
  void *p = rmem_slab_list_alloc(&c->list);
  if (!p) return NULL; /* ENOMEM recorded by the engine */
  c->list.allocs++;
  if (RMEM_UNLIKELY(c->debug)) {
    rmem_t *r = c->slot.r;
    if (r->flags & RMEM_OPT_JUNK) memset(p, 0xAB, c->list.bsize);
    if (r->flags & RMEM_OPT_VALIDATE) validate_after(r);
  }
  return p;
}

/*
 * The fast path: a live cache of the first registered instance, no debugging option, and a
 * slot at hand (parked or in cur). Everything else -- and every error -- goes through
 * alloc_checked, so this stays a leaf with no frame.
 */
void *rmem_slab_alloc(slab_cache_t *c) {
  if (RMEM_LIKELY(rmem_handle_ok(RMEM_HK_CACHE, c, CACHE_SLOT_OFF) && !c->debug)) {
    rmem_slab_list_t *l = &c->list;
    if (RMEM_LIKELY(l->nparked != 0 || l->cur->summary != 0)) {
      void *p = rmem_slab_list_alloc(l);
      l->allocs++;
      return p;
    }
  }
  return alloc_checked(c);
}

static RMEM_NOINLINE rmem_status_t foreign(const rmem_t *r, uintptr_t p) {
  if (!rmem_in_range(r, p)) return rmem_fail(RMEM_EBADPTR, "%p is not in the cache's instance", (void *)p);
  const rmem_pme_t *pme = rmem_pme_of(r, p);
  switch (pme->kind) {
    case RMEM_PK_SLAB: {
      const rmem_slab_t *s = rmem_slab_of(r, pme);
      const char *who = s->owner_kind == RMEM_SO_HEAP    ? "the heap"
                        : s->owner_kind == RMEM_SO_ARENA ? "an arena"
                                                         : "another slab cache";
      return rmem_fail(RMEM_EBADPTR, "%p belongs to %s, not to this slab cache", (void *)p, who);
    }
    case RMEM_PK_FREE:
      return rmem_fail(RMEM_EBADPTR, "%p is in free pages (its slab was released: already freed, or never allocated)",
                       (void *)p);
    default:
      return rmem_fail(RMEM_EBADPTR, "%p is not from this slab cache", (void *)p);
  }
}

static RMEM_NOINLINE rmem_status_t free_slow(slab_cache_t *c, void *ptr) {
  if (ptr == NULL) return RMEM_OK;
  rmem_t *r = c->slot.r;
  uintptr_t p = (uintptr_t)ptr;
  if (RMEM_UNLIKELY(!rmem_in_range(r, p))) return foreign(r, p);
  const rmem_pme_t *pme = rmem_pme_of(r, p);
  if (RMEM_UNLIKELY(pme->kind != RMEM_PK_SLAB)) return foreign(r, p);
  rmem_slab_t *s = rmem_slab_of(r, pme);
  if (RMEM_UNLIKELY(s->list != &c->list)) return foreign(r, p);
  if (RMEM_UNLIKELY(r->flags & RMEM_OPT_JUNK)) {
    /* check before junking: a double free must not scribble over a live neighbour */
    uint32_t idx = rmem_slab_slot_at(s, p);
    if (idx != UINT32_MAX && !rmem_slab_slot_free(s, idx)) memset(ptr, 0xDF, s->bsize);
  }
  rmem_status_t st = rmem_slab_free_in(s, p);
  if (RMEM_LIKELY(st == RMEM_OK)) {
    c->list.frees++;
  }
  if (RMEM_UNLIKELY(r->flags & RMEM_OPT_VALIDATE)) validate_after(r);
  return st;
}

static RMEM_NOINLINE rmem_status_t free_checked(slab_cache_t *c, void *ptr) {
  c = cache_check(c);
  if (!c) return rmem_last_error();
  return free_slow(c, ptr);
}

rmem_status_t rmem_slab_free(slab_cache_t *c, void *ptr) {
  /* Fast path: p lies in the current slab, which is this cache's by construction, so the
     pagemap lookup can be skipped (NULL and the sentinel's empty range fail the test). */
  if (RMEM_LIKELY(rmem_handle_ok(RMEM_HK_CACHE, c, CACHE_SLOT_OFF) && !c->debug)) {
    uintptr_t p = (uintptr_t)ptr;
    rmem_slab_t *s = c->list.cur;
    if (RMEM_LIKELY(p - s->start < ((uintptr_t)s->npages << RMEM_PAGE_SHIFT))) {
      c->list.frees++;
      rmem_status_t st = rmem_slab_free_in(s, p);
      if (RMEM_UNLIKELY(st != RMEM_OK)) c->list.frees--;
      return st;
    }
  }
  return free_checked(c, ptr);
}

rmem_status_t rmem_slab_cache_destroy(slab_cache_t *c) {
  c = cache_check(c);
  if (!c) return rmem_last_error();
  if ((c->flags & RMEM_SLAB_STRICT) && live_of(c) > 0)
    return rmem_fail(RMEM_EBUSY, "slab cache '%s' still has %zu live objects", c->name, live_of(c));
  rmem_t *r = c->slot.r;
  rmem_slab_list_fini(&c->list);
  rmem_hslot_kill(&r->arena_state->caches, c);
  if (r->flags & RMEM_OPT_VALIDATE) validate_after(r);
  return RMEM_OK;
}

rmem_status_t rmem_slab_cache_shrink(slab_cache_t *c) {
  c = cache_check(c);
  if (!c) return rmem_last_error();
  rmem_slab_list_shrink(&c->list);
  if (c->slot.r->flags & RMEM_OPT_VALIDATE) validate_after(c->slot.r);
  return RMEM_OK;
}

rmem_status_t rmem_slab_cache_stats(slab_cache_t *c, rmem_slab_stats_t *out) {
  c = cache_check(c);
  if (!c) return rmem_last_error();
  if (!out) return rmem_fail(RMEM_EINVAL, "rmem_slab_cache_stats: NULL output");
  const rmem_slab_list_t *l = &c->list;
  memset(out, 0, sizeof *out);
  out->name = c->name;
  out->obj_size = l->bsize;
  out->objects_in_use = live_of(c);
  out->slots = l->slabs * l->nslots;
  out->slabs = l->slabs;
  out->slab_bytes = l->slabs * ((size_t)l->slab_pages << RMEM_PAGE_SHIFT);
  out->utilisation = out->slab_bytes ? (double)(live_of(c) * l->bsize) / (double)out->slab_bytes : 0.0;
  out->allocs = l->allocs;
  out->frees = l->frees;
  return RMEM_OK;
}

rmem_status_t rmem_slab_cache_walk(slab_cache_t *c, rmem_slot_fn *visit, void *arg) {
  c = cache_check(c);
  if (!c) return rmem_last_error();
  if (!visit) return rmem_fail(RMEM_EINVAL, "rmem_slab_cache_walk: NULL visitor");
  for (const rmem_slab_t *s = c->list.all; s; s = s->anext) {
    for (uint32_t i = 0; i < s->nslots; i++) {
      slab_slot_t slot = {(void *)(s->start + (uintptr_t)i * s->bsize), i, !((s->bits[i >> 6] >> (i & 63)) & 1)};
      if (visit(&slot, arg)) return RMEM_OK;
    }
  }
  return RMEM_OK;
}

slab_cache_t *rmem_slab_cache_from_index(rmem_t *r, uint32_t index, uint32_t generation) {
  if (!rmem_check_instance(r)) return NULL;
  if (!r->arena_state) return rmem_fail_null(RMEM_EBADPTR, "no slab cache with index %u", index);
  return rmem_hslot_from_index(r, &r->arena_state->caches, index, generation, "slab cache");
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

void rmem_caches_fini(rmem_t *r) {
  /* Slabs and records die with the range and the pools; only the registry must forget the pool. */
  if (r->arena_state) rmem_htable_fini(&r->arena_state->caches);
}

size_t rmem_caches_validate(rmem_t *r) {
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
      if (l->all || l->slabs) rmem_problem(&problems, "slab cache %u: destroyed but holds slabs (C4)", i);
      continue;
    }
    if (l->owner_kind != RMEM_SO_CACHE || l->owner_id != i || l->r != r || l->bsize < c->obj_size ||
        l->bsize % c->align != 0)
      rmem_problem(&problems, "slab cache %u: list header damaged (C1)", i);
    problems += rmem_slab_list_check(l);
    size_t used = 0;
    for (const rmem_slab_t *s = l->all; s; s = s->anext) used += s->used;
    if (used != live_of(c))
      rmem_problem(&problems, "slab cache %u: %zu slots used, counters say %zu (C2)", i, used, live_of(c));
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
