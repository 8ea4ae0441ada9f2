/*
 * handle.h - checked handles for arenas and slab caches (private; arena.c and cache.c).
 *
 * arena_t* and slab_cache_t* are pointers into per-instance indexed pools
 * (r->arenas, r->caches: internal.h). A pool's mapping is reserved for its
 * full capacity at once and never unmapped while the instance lives, so any
 * slot of it can be read safely, live, dead or never used. That makes a
 * handle checkable without trusting it:
 *
 *   1. a process-wide registry of pool mappings says whether the pointer lies
 *      inside some live instance's pool of the right kind, on a slot boundary
 *      (records are RMEM_HSLOT_RECORD bytes, so that is a mask), and which
 *      instance that is -- all without dereferencing the pointer;
 *   2. the slot's header (rmem_hslot_t) then says whether the object is alive
 *      (alive == RMEM_HSLOT_ALIVE), dead (generation != 0: RMEM_ESTALE) or was
 *      never created (generation == 0: RMEM_EBADPTR).
 *
 * Dead slots are reused in FIFO order and only once more than
 * RMEM_HSLOT_QUARANTINE dead slots are waiting (or when the pool is full), so
 * a destroyed handle keeps reading "dead" until at least that many other
 * objects of its kind have been destroyed after it. A pointer cannot carry a
 * generation, so after reuse a stale pointer names the new object; the
 * (index, generation) pairs given to the Node bridge are exact (a generation
 * is bumped on every create in a slot).
 *
 * The registry is read without a lock (atomic loads) on every checked call;
 * it is written under a mutex when an instance creates its first arena or
 * cache and when the instance is destroyed.
 *
 * Invariants:
 *   H1  a registry entry with base != 0 describes exactly one pool of a live
 *       instance: [base, base + span), records of RMEM_HSLOT_RECORD bytes.
 *   H2  slot i (1 <= i < pool bump) has index == i and r == its instance once
 *       it has been created at least once (generation >= 1).
 *   H3  alive slots are not on the dead FIFO; dead slots are on it exactly
 *       once; ndead is its length.
 */
#ifndef RMEM_HANDLE_H
#define RMEM_HANDLE_H

#include "internal.h"

#include <stdatomic.h>

enum rmem_handle_kind { RMEM_HK_ARENA = 0, RMEM_HK_CACHE = 1 };

#define RMEM_HSLOT_ALIVE 0xA11CEu
#define RMEM_HSLOT_FAST 0xFA57A11Cu /* alive and no debugging option: the owner's fast paths may run */
#define RMEM_HSLOT_QUARANTINE 1024u
#define RMEM_HREG_MAX 256u
/* Every arena and cache record is this big: a constant, so a boundary check is one mask. */
#define RMEM_HSLOT_RECORD 512u
#define RMEM_HSLOT_SHIFT 9
_Static_assert(RMEM_HSLOT_RECORD == 1u << RMEM_HSLOT_SHIFT, "record size and its shift");

/* The common header of every arena and cache record, at a fixed offset in the record. */
typedef struct rmem_hslot {
  rmem_t *r;           /* the instance */
  uint32_t generation; /* creates in this slot so far (0 = never used) */
  uint32_t alive;      /* RMEM_HSLOT_ALIVE while alive, 0 once destroyed */
  uint32_t index;      /* the slot's pool index */
  uint32_t next_dead;  /* dead FIFO link (0 = none) */
  uint32_t fast;       /* RMEM_HSLOT_FAST while alive and its instance has no debugging option, else 0 */
  uint32_t pad_;
} rmem_hslot_t;

/* Per instance and kind: the pool plus the FIFO of dead slots. */
typedef struct rmem_htable {
  rmem_pool_t *pool;
  size_t off;          /* offset of rmem_hslot_t in a record */
  uint32_t kind;       /* enum rmem_handle_kind */
  uint32_t reg;        /* registry entry + 1, 0 = not registered */
  uint32_t dead_head, dead_tail, ndead;
  uint32_t live;
} rmem_htable_t;

/* The per-instance state of arenas and caches, hung off r->arena_state (allocated in metadata). */
struct rmem_arena_table {
  rmem_htable_t arenas;
  rmem_htable_t caches;
  arena_t *defaults[3]; /* init_arenas's arenas, by lifetime */
};

/* The table of r, created on first use (NULL + ENOMEM on failure). */
RMEM_HIDDEN struct rmem_arena_table *rmem_arena_table(rmem_t *r);
/* A fresh record (zeroed but for its header) of the table's kind; NULL + ENOMEM when full. */
RMEM_HIDDEN void *rmem_hslot_new(rmem_t *r, rmem_htable_t *t, uint32_t max);
/* Marks a record dead and queues its slot for (delayed) reuse. */
RMEM_HIDDEN void rmem_hslot_kill(rmem_htable_t *t, void *rec);
/* Unregisters the table's pool (the instance is going away). */
RMEM_HIDDEN void rmem_htable_fini(rmem_htable_t *t);
/* Checks H2/H3 for a table; returns problems. */
RMEM_HIDDEN size_t rmem_htable_check(rmem_t *r, rmem_htable_t *t);
/* The record for (index, generation) if alive, else NULL with RMEM_ESTALE / RMEM_EBADPTR. */
RMEM_HIDDEN void *rmem_hslot_from_index(rmem_t *r, rmem_htable_t *t, uint32_t index, uint32_t generation,
                                        const char *what);
/* Records the error for a handle that rmem_handle_resolve refused. */
RMEM_HIDDEN RMEM_NOINLINE void *rmem_handle_refused(unsigned kind, const void *h, size_t off);

typedef struct rmem_hreg_entry {
  _Atomic uintptr_t base; /* 0 = unused entry */
  _Atomic uintptr_t span; /* max * RMEM_HSLOT_RECORD */
  /* the fast test's two words, plain so that it can compare with them in memory (rmem_hreg_word); written
     with __atomic stores, under the registry's lock */
  uintptr_t first;        /* base + RMEM_HSLOT_RECORD: the first usable record (record 0 is never used) */
  uintptr_t recs;         /* (span - RMEM_HSLOT_RECORD) / RMEM_HSLOT_RECORD while registered, 0 when unused: one
                             compare on a record number tells "inside the pool, past record 0", which a
                             rotation also makes fail for an address off a record boundary */
  _Atomic(rmem_t *) r;
} rmem_hreg_entry_t;

RMEM_HIDDEN extern rmem_hreg_entry_t rmem_hreg[2][RMEM_HREG_MAX];
RMEM_HIDDEN extern _Atomic uint32_t rmem_hreg_hwm[2];

static inline rmem_hslot_t *rmem_hslot_of(void *rec, size_t off) { return (rmem_hslot_t *)((char *)rec + off); }

/*
 * A word of the fast test, as read by it. A real handle was made after its pool was registered, and the
 * caller got it from the thread that made it (a forged one can only fail the test): on x86-64 a plain load, which the compiler may fold into the subtract
 * and the compare (an atomic load it keeps apart: two instructions more a call); ThreadSanitizer builds and
 * other machines take the C atomic (acquire for first, which add publishes last: recs is then current).
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(RMEM_TSAN)
#define rmem_hreg_word(w, order) (*(w))
#else
#define rmem_hreg_word(w, order) __atomic_load_n(w, order)
#endif

/* p is a record of e's pool past record 0 (not dereferenced). */
static inline bool rmem_hreg_in(const rmem_hreg_entry_t *e, uintptr_t p) {
  uintptr_t rel = p - rmem_hreg_word(&e->first, __ATOMIC_ACQUIRE);
  /* inside the pool and not the unused record 0 (recs is 0 for an unused entry), on a record boundary
     (the pool's base is page-aligned): rotated right by log2(RMEM_HSLOT_RECORD), an offset off a boundary
     has high bits set, so one compare answers both */
  uintptr_t rec = (rel >> RMEM_HSLOT_SHIFT) | (rel << (8 * sizeof rel - RMEM_HSLOT_SHIFT));
  return rec < rmem_hreg_word(&e->recs, __ATOMIC_RELAXED);
}

static inline bool rmem_hreg_accepts(const rmem_hreg_entry_t *e, uintptr_t p, size_t off) {
  /* the record is read only once the address tests passed; H2 makes its r the entry's instance */
  return rmem_hreg_in(e, p) && ((const rmem_hslot_t *)(p + off))->alive == RMEM_HSLOT_ALIVE;
}

/* The fast test: h is a live record of the first registered pool of its kind (the common
   case: one instance). False means "ask rmem_handle_resolve", not "bad". */
static inline bool rmem_handle_ok(unsigned kind, const void *h, size_t off) {
  return rmem_hreg_accepts(&rmem_hreg[kind][0], (uintptr_t)h, off);
}

/* rmem_handle_ok, and the owner may take its fast paths (alive, no debugging option: fast == RMEM_HSLOT_FAST). */
static inline bool rmem_handle_fast(unsigned kind, const void *h, size_t off) {
  return rmem_hreg_in(&rmem_hreg[kind][0], (uintptr_t)h) &&
         ((const rmem_hslot_t *)((uintptr_t)h + off))->fast == RMEM_HSLOT_FAST;
}

/* Every registry entry, then the error; out of line. */
RMEM_HIDDEN RMEM_NOINLINE void *rmem_handle_resolve_slow(unsigned kind, const void *h, size_t off);

/*
 * The checked path for every handle coming from a caller: returns the record
 * if h is a live object of this kind, else NULL with the error recorded
 * (RMEM_EINVAL for NULL, RMEM_ESTALE for a destroyed object, RMEM_EBADPTR for
 * anything else). Never dereferences h unless it lies inside a registered pool.
 */
static inline void *rmem_handle_resolve(unsigned kind, const void *h, size_t off) {
  if (RMEM_LIKELY(rmem_handle_ok(kind, h, off))) return (void *)h;
  return rmem_handle_resolve_slow(kind, h, off);
}

#endif /* RMEM_HANDLE_H */
