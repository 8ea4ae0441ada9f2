/*
 * front.h - the front over the slab engine: free stacks checked by the live
 * bitmap (the design and invariants F1-F4 are in types.h).
 *
 * The three owners of slabs use it: the heap (one stack per size class,
 * indexed by the page tag), slab caches and the classes of intermediate
 * arenas (one single-list front, rmem_lfront_t, each). The fast paths here
 * are inline and touch nothing but the instance's first cache line, the live
 * bitmap word of the block, its page tag, and the stack; everything else --
 * refills, spills, every refused pointer -- is out of line in front.c or in
 * the owner.
 *
 * Floor: above slab.c.
 */
#ifndef RMEM_FRONT_H
#define RMEM_FRONT_H

#include "internal.h"

/* ------------------------------------------------------------------------
 * The live bitmap and the page tags
 * ------------------------------------------------------------------------ */

#define RMEM_LIVE_GRAIN ((uintptr_t)1 << RMEM_LIVE_SHIFT)

RMEM_INLINE uint64_t *rmem_live_word(const rmem_t *r, uintptr_t off) {
  return &r->live[off >> (RMEM_LIVE_SHIFT + 6)];
}
RMEM_INLINE uint64_t rmem_live_bit(uintptr_t off) { return (uint64_t)1 << ((off >> RMEM_LIVE_SHIFT) & 63); }
/*
 * A live word has one writer, the owner of the slab its 512 bytes lie in (a
 * heap's thread, or whoever holds a shared cache's lock), and may be read by
 * any thread of a shared instance: writes are relaxed atomic stores of the
 * read-modified word, reads relaxed atomic loads (the same plain moves on
 * every machine rmem runs on).
 */
/* True if a live block starts at offset off (off < capacity). */
RMEM_INLINE bool rmem_is_live(const rmem_t *r, uintptr_t off) {
  return (off & (RMEM_LIVE_GRAIN - 1)) == 0 &&
         (__atomic_load_n(rmem_live_word(r, off), __ATOMIC_RELAXED) & rmem_live_bit(off)) != 0;
}
RMEM_INLINE void rmem_set_live(rmem_t *r, uintptr_t off) {
  uint64_t *w = rmem_live_word(r, off);
  __atomic_store_n(w, *w | rmem_live_bit(off), __ATOMIC_RELAXED);
}
RMEM_INLINE void rmem_clear_live(rmem_t *r, uintptr_t off) {
  uint64_t *w = rmem_live_word(r, off);
  __atomic_store_n(w, *w & ~rmem_live_bit(off), __ATOMIC_RELAXED);
}
/* A page's tag: written by the slab's owner when the slab is made or released, read by any thread. */
RMEM_INLINE uint32_t rmem_tag_at(const rmem_t *r, uintptr_t off) {
  return __atomic_load_n(&r->ptag[off >> RMEM_PAGE_SHIFT], __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------------
 * Single-list fronts (slab caches, classes of intermediate arenas)
 * ------------------------------------------------------------------------ */

/* Pops the newest block (f->n > 0), marks it live, returns its address. */
RMEM_INLINE void *rmem_lfront_pop(rmem_t *r, rmem_lfront_t *f) {
  uint32_t n = f->n - 1, off = f->top;
  f->n = n;
  f->top = f->st[(n - 1) & (RMEM_LFRONT_CAP - 1)]; /* the new top (F5); a stale word when n is 0 */
  rmem_set_live(r, off);
  return (void *)(r->base + off);
}

/* Pushes the block at off whose live bit the caller has just cleared (f->n < f->cap). */
RMEM_INLINE void rmem_lfront_push(rmem_lfront_t *f, uint32_t off) {
  f->st[f->n++] = off;
  f->top = off;
}

/* The stack is empty: takes up to half its capacity from the engine (a new slab if must) and pops one; NULL + ENOMEM. */
RMEM_HIDDEN void *rmem_lfront_refill(rmem_t *r, rmem_lfront_t *f, rmem_slab_list_t *l);
/* The stack is full: its older half goes back to the engine. */
RMEM_HIDDEN void rmem_lfront_spill(rmem_t *r, rmem_lfront_t *f);
/* Every block of the stack goes back to the engine. */
RMEM_HIDDEN void rmem_lfront_flush(rmem_t *r, rmem_lfront_t *f);

/* ------------------------------------------------------------------------
 * Shared by every front (front.c)
 * ------------------------------------------------------------------------ */

/* Gives the n blocks at offsets st[0..n) back to their slabs' engine. */
RMEM_HIDDEN void rmem_front_release(rmem_t *r, const uint32_t *st, uint32_t n);
/*
 * Why the block at off (an address in r's range, not a live block of the
 * caller's front) cannot be freed: RMEM_EDOUBLEFREE for a slot start that is
 * not live (freed already: on a stack or free in the engine), else
 * RMEM_EBADPTR with the reason; `mine` says whether the slab belongs to the
 * caller (else the message names its owner). Records the error.
 */
RMEM_HIDDEN rmem_status_t rmem_front_refuse(rmem_t *r, uintptr_t off, const char *who);
/* Checks F1, F4 and F5 for the stack st[0..n) with top (capacity cap, at most capmax) of list l; counts each
   block on its slab. */
RMEM_HIDDEN size_t rmem_front_check_stack(rmem_t *r, const rmem_slab_list_t *l, const uint32_t *st, uint32_t n,
                                          uint32_t top, uint32_t cap, uint32_t capmax);
/* Checks F3 for every slab of l (after rmem_front_check_stack of every stack that holds l's blocks). */
RMEM_HIDDEN size_t rmem_front_check_slabs(rmem_t *r, const rmem_slab_list_t *l);
/* Checks F2 over the whole range: live bits only at engine-used slot starts. */
RMEM_HIDDEN size_t rmem_front_check(rmem_t *r);
/* Clears the live bits of every slab of l (the owner is about to release them with their live blocks). */
RMEM_HIDDEN void rmem_front_forget(rmem_t *r, const rmem_slab_list_t *l);
/* Live blocks of slab s (its live bits). */
RMEM_HIDDEN uint32_t rmem_front_live_in(const rmem_t *r, const rmem_slab_t *s);

#endif /* RMEM_FRONT_H */
