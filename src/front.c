/*
 * front.c - the out-of-line half of the front (front.h): refills and spills
 * of single-list fronts, the diagnosis of a refused free, and the checks of
 * F1-F4 that every owner's validator runs.
 *
 * Floor: above slab.c; used by heap.c, cache.c and arena.c.
 */
#include "front.h"
#include "track.h"

/* The blocks go back a slab at a time: a run of them in one slab (a stack's older half mostly came from one
   refill, in address order) costs one pagemap look-up and one list transition. */
void rmem_front_release(rmem_t *r, const uint32_t *st, uint32_t n) {
  for (uint32_t k = 0; k < n;) {
    rmem_slab_t *s = rmem_slab_of(r, rmem_pme_of(r, r->base + st[k]));
    uintptr_t lo = s->start - r->base, span = (uintptr_t)s->nslots * s->bsize;
    uint32_t j = k + 1;
    while (j < n && (uintptr_t)st[j] - lo < span) j++;
    rmem_slab_put_batch(s, r->base, st + k, j - k);
    k = j;
  }
}

void *rmem_lfront_refill(rmem_t *r, rmem_lfront_t *f, rmem_slab_list_t *l) {
  uint32_t want = f->cap / 2u ? f->cap / 2u : 1u;
  uint32_t got = rmem_slab_list_alloc_batch(l, f->st, want, true);
  if (got == 0) return NULL; /* ENOMEM recorded */
  /* the batch is in address order: hand out the lowest first */
  for (uint32_t a = 0, b = got - 1; a < b; a++, b--) {
    uint32_t x = f->st[a];
    f->st[a] = f->st[b];
    f->st[b] = x;
  }
  f->n = got;
  return rmem_lfront_pop(r, f);
}

void rmem_lfront_spill(rmem_t *r, rmem_lfront_t *f) {
  uint32_t half = f->n / 2u;
  rmem_front_release(r, f->st, half);
  memmove(f->st, f->st + half, (f->n - half) * sizeof f->st[0]);
  f->n -= half;
}

void rmem_lfront_flush(rmem_t *r, rmem_lfront_t *f) {
  rmem_front_release(r, f->st, f->n);
  f->n = 0;
}

static const char *owner_name(const rmem_slab_t *s) {
  switch (s->owner_kind) {
    case RMEM_SO_HEAP: return "the heap";
    case RMEM_SO_CACHE: return "a slab cache";
    case RMEM_SO_ARENA: return "an arena";
    default: return "no allocator";
  }
}

rmem_status_t rmem_front_refuse(rmem_t *r, uintptr_t off, const char *who) {
  uintptr_t p = r->base + off;
  rmem_slab_t *s = rmem_slab_at(r, p);
  if (!s) return rmem_fail_at(RMEM_EBADPTR, r, (void *)p, "offset %zu is not a block of %s", (size_t)off, who);
  uint32_t idx = rmem_slab_slot_at(s, p);
  if (idx == UINT32_MAX) return rmem_slab_bad_free(s, p, 0);
  if (rmem_is_live(r, off))
    return rmem_fail_at(RMEM_EBADPTR, r, (void *)p, "the block at offset %zu belongs to %s, not to %s", (size_t)off,
                        owner_name(s), who);
  /* a slot start that is not live: free in the engine, or on its owner's front stack */
  return rmem_fail_at(RMEM_EDOUBLEFREE, r, (void *)p, "double free of the block at offset %zu (%u-byte block of %s)",
                      (size_t)off, s->bsize, owner_name(s));
}

void rmem_front_forget(rmem_t *r, const rmem_slab_list_t *l) {
  rmem_track_forget(r, l); /* their blocks die: the tool's record of them too */
  for (const rmem_slab_t *s = l->all; s; s = s->anext) {
    uintptr_t lo = s->start - r->base;
    memset(rmem_live_word(r, lo), 0, ((size_t)s->npages << RMEM_PAGE_SHIFT) >> (RMEM_LIVE_SHIFT + 3));
  }
}

uint32_t rmem_front_live_in(const rmem_t *r, const rmem_slab_t *s) {
  uintptr_t lo = s->start - r->base, hi = lo + (uintptr_t)s->npages * RMEM_PAGE_SIZE;
  uint32_t n = 0;
  for (uintptr_t w = lo >> (RMEM_LIVE_SHIFT + 6); w < hi >> (RMEM_LIVE_SHIFT + 6); w++)
    if (r->live[w]) n += rmem_popcount64(r->live[w]);
  return n;
}

size_t rmem_front_check_stack(rmem_t *r, const rmem_slab_list_t *l, const uint32_t *st, uint32_t n, uint32_t cap,
                              uint32_t capmax) {
  size_t problems = 0;
  if (n > cap || cap > capmax || n > RMEM_DEPOT_CAP) {
    rmem_problem(&problems, "front of list %u/%u holds %u of %u blocks (at most %u) (F4)", l->owner_kind, l->owner_id,
                 n, cap, capmax);
    return problems;
  }
  uint32_t seen[2 * RMEM_DEPOT_CAP], mask = 15;
  while (mask + 1 < 2 * n) mask = mask * 2 + 1; /* a set of at least twice the entries (n <= RMEM_DEPOT_CAP) */
  if (n) memset(seen, 0, (mask + 1) * sizeof seen[0]);
  for (uint32_t k = 0; k < n; k++) {
    uintptr_t off = st[k], p = r->base + off;
    rmem_slab_t *s = off < r->capacity ? rmem_slab_at(r, p) : NULL;
    uint32_t idx = s ? rmem_slab_slot_at(s, p) : UINT32_MAX;
    if (!s || s->list != l || idx == UINT32_MAX) {
      rmem_problem(&problems, "front of list %u/%u: offset %zu is not a slot of its list (F1)", l->owner_kind,
                   l->owner_id, (size_t)off);
      continue;
    }
    if (rmem_slab_slot_free(s, idx))
      rmem_problem(&problems, "front: block at offset %zu is free in the engine too (F1)", (size_t)off);
    if (rmem_is_live(r, off)) rmem_problem(&problems, "front: block at offset %zu is on a stack and live (F1)", (size_t)off);
    /* distinct: an open-addressed set of what this stack holds */
    uint32_t h = ((uint32_t)(off >> RMEM_LIVE_SHIFT) * 0x9E3779B1u >> 16) & mask;
    while (seen[h] && seen[h] != off + 1) h = (h + 1) & mask;
    if (seen[h]) rmem_problem(&problems, "front: block at offset %zu is on a stack twice (F1)", (size_t)off);
    seen[h] = (uint32_t)off + 1;
    s->vstack++;
  }
  return problems;
}

size_t rmem_front_check_slabs(rmem_t *r, const rmem_slab_list_t *l) {
  size_t problems = 0;
  for (rmem_slab_t *s = l->all; s; s = s->anext) {
    uint32_t live = rmem_front_live_in(r, s);
    if (s->used != live + s->vstack)
      rmem_problem(&problems, "slab of %u-byte slots at offset %zu: %u used, %u live + %u on a front stack (F3)",
                   s->bsize, (size_t)(s->start - r->base), s->used, live, s->vstack);
    s->vstack = 0;
  }
  return problems;
}

static size_t front_check(rmem_t *r);

/* Under a shared instance's lock: no slab comes or goes under the walk (owners change only their own
   slabs' slots meanwhile, and set a live bit only on a slot they took). */
size_t rmem_front_check(rmem_t *r) {
  rmem_shared_lock(r);
  size_t problems = front_check(r);
  rmem_shared_unlock(r);
  return problems;
}

static size_t front_check(rmem_t *r) {
  size_t problems = 0;
  /* the reserved first and last pages never hold a block */
  const uint32_t reserved[2] = {0, r->npages - 1};
  for (int k = 0; k < 2; k++) {
    uintptr_t lo = (uintptr_t)reserved[k] << RMEM_PAGE_SHIFT;
    for (uintptr_t w = lo >> (RMEM_LIVE_SHIFT + 6); w < (lo + RMEM_PAGE_SIZE) >> (RMEM_LIVE_SHIFT + 6); w++)
      if (r->live[w]) {
        rmem_problem(&problems, "live bit at offset %zu, in a reserved page (F2)",
                     (size_t)((w << (RMEM_LIVE_SHIFT + 6)) + ((uintptr_t)__builtin_ctzll(r->live[w]) << RMEM_LIVE_SHIFT)));
        return problems;
      }
  }
  for (uint32_t page = 1; page < r->top;) {
    const rmem_pme_t *h = &r->pm[page];
    uint32_t len = h->len ? h->len : 1;
    uintptr_t lo = (uintptr_t)page << RMEM_PAGE_SHIFT, hi = (uintptr_t)(page + len) << RMEM_PAGE_SHIFT;
    rmem_slab_t *s = h->kind == RMEM_PK_SLAB ? rmem_slab_at(r, r->base + lo) : NULL;
    /* free runs are not scanned: a slab goes back to the page source only with no live block (F3,
       or after rmem_front_forget), and nothing else sets a live bit */
    if (h->kind == RMEM_PK_FREE) {
      page += len;
      continue;
    }
    for (uintptr_t w = lo >> (RMEM_LIVE_SHIFT + 6); w < hi >> (RMEM_LIVE_SHIFT + 6); w++) {
      for (uint64_t m = r->live[w]; m; m &= m - 1) {
        uintptr_t off = (w << (RMEM_LIVE_SHIFT + 6)) + ((uintptr_t)__builtin_ctzll(m) << RMEM_LIVE_SHIFT);
        uint32_t idx = s ? rmem_slab_slot_at(s, r->base + off) : UINT32_MAX;
        if (idx == UINT32_MAX || rmem_slab_slot_free(s, idx)) {
          rmem_problem(&problems, "live bit at offset %zu names no used slot (F2)", (size_t)off);
          return problems;
        }
      }
    }
    page += len;
  }
  return problems;
}
