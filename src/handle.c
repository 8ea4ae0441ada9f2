/*
 * handle.c - checked handles for arenas and slab caches (handle.h): the
 * process-wide registry of handle pools, and per instance the tables of
 * slots with generations and a delayed-reuse FIFO.
 *
 * Floor: above meta.c (the pools); arena.c and cache.c build on it.
 */
#include "handle.h"

#include "lock.h"

/* ------------------------------------------------------------------------
 * The registry of handle pools (handle.h)
 * ------------------------------------------------------------------------ */

rmem_hreg_entry_t rmem_hreg[2][RMEM_HREG_MAX];
_Atomic uint32_t rmem_hreg_hwm[2];
static rmem_lock_t hreg_lock = RMEM_LOCK_INIT;

/* The registry's lock is taken last before a fork (no other lock is taken under it). */
void rmem_handles_fork(int phase) {
  if (phase == RMEM_FORK_PREPARE) rmem_lock(&hreg_lock);
  else rmem_unlock(&hreg_lock);
}

static int hreg_add(unsigned kind, rmem_pool_t *pool, rmem_t *r) {
  int slot = -1;
  rmem_lock(&hreg_lock);
  uint32_t hwm = atomic_load_explicit(&rmem_hreg_hwm[kind], memory_order_relaxed);
  for (uint32_t i = 0; i < hwm; i++)
    if (atomic_load_explicit(&rmem_hreg[kind][i].base, memory_order_relaxed) == 0) {
      slot = (int)i;
      break;
    }
  if (slot < 0 && hwm < RMEM_HREG_MAX) slot = (int)hwm;
  if (slot >= 0) {
    rmem_hreg_entry_t *e = &rmem_hreg[kind][slot];
    atomic_store_explicit(&e->span, (uintptr_t)pool->max * pool->size, memory_order_relaxed);
    __atomic_store_n(&e->recs, ((uintptr_t)pool->max * pool->size - RMEM_HSLOT_RECORD) >> RMEM_HSLOT_SHIFT,
                     __ATOMIC_RELAXED);
    atomic_store_explicit(&e->r, r, memory_order_relaxed);
    __atomic_store_n(&e->first, (uintptr_t)pool->base + RMEM_HSLOT_RECORD, __ATOMIC_RELEASE); /* the fast test's */
    atomic_store_explicit(&e->base, (uintptr_t)pool->base, memory_order_release);
    if ((uint32_t)slot == hwm) atomic_store_explicit(&rmem_hreg_hwm[kind], hwm + 1, memory_order_release);
  }
  rmem_unlock(&hreg_lock);
  return slot;
}

static void hreg_remove(unsigned kind, uint32_t slot) {
  rmem_lock(&hreg_lock);
  rmem_hreg_entry_t *e = &rmem_hreg[kind][slot];
  __atomic_store_n(&e->recs, 0, __ATOMIC_RELEASE);
  __atomic_store_n(&e->first, 0, __ATOMIC_RELEASE);
  atomic_store_explicit(&e->base, 0, memory_order_release);
  atomic_store_explicit(&e->r, NULL, memory_order_relaxed);
  rmem_unlock(&hreg_lock);
}

static const char *kind_name(unsigned kind) { return kind == RMEM_HK_ARENA ? "arena" : "slab cache"; }

void *rmem_handle_resolve_slow(unsigned kind, const void *h, size_t off) {
  uint32_t n = atomic_load_explicit(&rmem_hreg_hwm[kind], memory_order_acquire);
  for (uint32_t i = 1; i < n; i++)
    if (rmem_hreg_accepts(&rmem_hreg[kind][i], (uintptr_t)h, off)) return (void *)h;
  return rmem_handle_refused(kind, h, off);
}

void *rmem_handle_refused(unsigned kind, const void *h, size_t off) {
  const char *what = kind_name(kind);
  if (h == NULL) return rmem_fail_null(RMEM_EINVAL, "NULL %s handle", what);
  uintptr_t p = (uintptr_t)h;
  uint32_t n = atomic_load_explicit(&rmem_hreg_hwm[kind], memory_order_acquire);
  for (uint32_t i = 0; i < n; i++) {
    rmem_hreg_entry_t *e = &rmem_hreg[kind][i];
    uintptr_t base = atomic_load_explicit(&e->base, memory_order_acquire);
    uintptr_t rel = p - base;
    if (base == 0 || rel >= atomic_load_explicit(&e->span, memory_order_relaxed)) continue;
    if ((rel & (RMEM_HSLOT_RECORD - 1)) != 0 || rel == 0)
      return rmem_fail_null(RMEM_EBADPTR, "%p points into the %s table but not at a %s", h, what, what);
    const rmem_hslot_t *s = (const rmem_hslot_t *)(p + off);
    if (s->generation == 0) return rmem_fail_null(RMEM_EBADPTR, "%p is not a %s that was ever created", h, what);
    if (s->alive != RMEM_HSLOT_ALIVE) return rmem_fail_null(RMEM_ESTALE, "the %s %p was destroyed", what, h);
    return rmem_fail_null(RMEM_EBADPTR, "%p: %s refused", h, what); /* unreachable: resolve accepts these */
  }
  return rmem_fail_null(RMEM_EBADPTR, "%p is not a %s of any live rmem instance", h, what);
}

/* ------------------------------------------------------------------------
 * Handle tables: slots with generations and a delayed-reuse FIFO (handle.h)
 * ------------------------------------------------------------------------ */

struct rmem_arena_table *rmem_arena_table(rmem_t *r) {
  if (RMEM_LIKELY(r->arena_state != NULL)) return r->arena_state;
  struct rmem_arena_table *t = rmem_meta_alloc(r, sizeof *t);
  if (!t) return rmem_fail_null(RMEM_ENOMEM, "cannot allocate the arena table");
  t->arenas.pool = &r->arenas;
  t->arenas.kind = RMEM_HK_ARENA;
  t->arenas.off = sizeof(struct rmem_arena_head);
  t->caches.pool = &r->caches;
  t->caches.kind = RMEM_HK_CACHE;
  t->caches.off = sizeof(struct rmem_arena_head);
  rmem_shared_lock(r); /* two threads of a shared instance may both have made one: the first wins */
  struct rmem_arena_table *won = r->arena_state ? r->arena_state : t;
  r->arena_state = won;
  rmem_shared_unlock(r);
  if (won != t) rmem_meta_free(r, t, sizeof *t);
  return won;
}

static void *fifo_pop(rmem_htable_t *t) {
  uint32_t idx = t->dead_head;
  void *rec = rmem_pool_at(t->pool, idx);
  rmem_hslot_t *s = rmem_hslot_of(rec, t->off);
  t->dead_head = s->next_dead;
  if (t->dead_head == 0) t->dead_tail = 0;
  s->next_dead = 0;
  t->ndead--;
  return rec;
}

static void *hslot_new(rmem_t *r, rmem_htable_t *t, uint32_t max);

void *rmem_hslot_new(rmem_t *r, rmem_htable_t *t, uint32_t max) {
  rmem_shared_lock(r);
  void *rec = hslot_new(r, t, max);
  rmem_shared_unlock(r);
  return rec;
}

static void *hslot_new(rmem_t *r, rmem_htable_t *t, uint32_t max) {
  const char *what = kind_name(t->kind);
  const size_t record_size = RMEM_HSLOT_RECORD;
  if (t->pool->base == NULL) {
    if (rmem_pool_init(t->pool, record_size, max) != 0)
      return rmem_fail_null(RMEM_ENOMEM, "cannot reserve the %s table", what);
    int slot = hreg_add(t->kind, t->pool, r);
    if (slot < 0) {
      rmem_pool_fini(t->pool);
      return rmem_fail_null(RMEM_ENOMEM, "too many rmem instances with %ss (at most %u)", what, RMEM_HREG_MAX);
    }
    t->reg = (uint32_t)slot + 1;
  }
  void *rec;
  if (t->ndead > RMEM_HSLOT_QUARANTINE) {
    rec = fifo_pop(t);
  } else {
    rec = rmem_pool_get(t->pool); /* slots are never put back, so a fresh one reads generation 0 */
    if (!rec && t->ndead) rec = fifo_pop(t);
  }
  if (!rec) return rmem_fail_null(RMEM_ENOMEM, "too many live %ss (at most %u)", what, t->pool->max - 1);
  rmem_hslot_t *s = rmem_hslot_of(rec, t->off);
  uint32_t gen = s->generation + 1;
  if (gen == 0) gen = 1;
  memset(rec, 0, record_size);
  s->r = r;
  s->generation = gen;
  s->alive = RMEM_HSLOT_ALIVE;
  s->fast = RMEM_FLAGS_SLOW(r->flags) ? 0 : RMEM_HSLOT_FAST;
  s->index = rmem_pool_index(t->pool, rec);
  t->live++;
  return rec;
}

void rmem_hslot_kill(rmem_htable_t *t, void *rec) {
  rmem_hslot_t *s = rmem_hslot_of(rec, t->off);
  rmem_t *r = s->r;
  rmem_shared_lock(r);
  s->alive = 0;
  s->fast = 0;
  s->next_dead = 0;
  if (t->dead_tail) rmem_hslot_of(rmem_pool_at(t->pool, t->dead_tail), t->off)->next_dead = s->index;
  else t->dead_head = s->index;
  t->dead_tail = s->index;
  t->ndead++;
  t->live--;
  rmem_shared_unlock(r);
}

void rmem_htable_fini(rmem_htable_t *t) {
  if (t->reg) hreg_remove(t->kind, t->reg - 1);
  t->reg = 0;
}

void *rmem_hslot_from_index(rmem_t *r, rmem_htable_t *t, uint32_t index, uint32_t generation, const char *what) {
  if (t->pool->base == NULL || index == 0 || index >= t->pool->bump)
    return rmem_fail_null(RMEM_EBADPTR, "no %s with index %u", what, index);
  void *rec = rmem_pool_at(t->pool, index);
  rmem_hslot_t *s = rmem_hslot_of(rec, t->off);
  if (s->generation != generation || s->alive != RMEM_HSLOT_ALIVE)
    return rmem_fail_null(RMEM_ESTALE, "the %s %u (generation %u) was destroyed", what, index, generation);
  rmem_assert(s->r == r && "slot belongs to its instance");
  return rec;
}

size_t rmem_htable_check(rmem_t *r, rmem_htable_t *t) {
  size_t problems = 0;
  if (t->pool->base == NULL) return 0;
  const char *what = kind_name(t->kind);
  uint32_t alive = 0, dead = 0;
  for (uint32_t i = 1; i < t->pool->bump; i++) {
    rmem_hslot_t *s = rmem_hslot_of(rmem_pool_at(t->pool, i), t->off);
    if (s->generation == 0 || s->index != i || s->r != r)
      rmem_problem(&problems, "%s slot %u: header damaged (H2)", what, i);
    if (s->fast != (s->alive == RMEM_HSLOT_ALIVE && !RMEM_FLAGS_SLOW(r->flags) ? RMEM_HSLOT_FAST : 0))
      rmem_problem(&problems, "%s slot %u: fast word %#x disagrees with alive %#x (H2)", what, i, s->fast, s->alive);
    if (s->alive == RMEM_HSLOT_ALIVE) alive++;
    else if (s->alive == 0) dead++;
    else rmem_problem(&problems, "%s slot %u: alive word %#x (H2)", what, i, s->alive);
  }
  if (alive != t->live) rmem_problem(&problems, "%s table: %u alive, counted %u (H3)", what, alive, t->live);
  uint32_t n = 0;
  for (uint32_t i = t->dead_head; i; i = rmem_hslot_of(rmem_pool_at(t->pool, i), t->off)->next_dead) {
    if (i >= t->pool->bump || ++n > dead) {
      rmem_problem(&problems, "%s table: dead FIFO broken or cyclic (H3)", what);
      return problems;
    }
    if (rmem_hslot_of(rmem_pool_at(t->pool, i), t->off)->alive != 0)
      rmem_problem(&problems, "%s table: live slot %u on the dead FIFO (H3)", what, i);
    if (rmem_hslot_of(rmem_pool_at(t->pool, i), t->off)->next_dead == 0 && i != t->dead_tail)
      rmem_problem(&problems, "%s table: dead FIFO tail is not %u (H3)", what, i);
  }
  if (n != dead || n != t->ndead)
    rmem_problem(&problems, "%s table: %u dead slots, %u on the FIFO, ndead %u (H3)", what, dead, n, t->ndead);
  return problems;
}

