/*
 * front.h - the front over the slab engine: free stacks checked by the live
 * bitmap (the design and invariants F1-F6 are in types.h).
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
#include "track.h"

/* ------------------------------------------------------------------------
 * The live bitmap and the page tags
 * ------------------------------------------------------------------------ */

#define RMEM_LIVE_GRAIN ((uintptr_t)1 << RMEM_LIVE_SHIFT)

RMEM_INLINE uint64_t *rmem_live_word(const rmem_t *r, uintptr_t off) {
  return &r->live[off >> (RMEM_LIVE_SHIFT + 6)];
}
RMEM_INLINE uint64_t rmem_live_bit(uintptr_t off) { return (uint64_t)1 << ((off >> RMEM_LIVE_SHIFT) & 63); }
/* Bit g % 64 of a live word m, tested and cleared by the bit's number: one bt, one btr on x86-64 (asm: the
   compiler masks the number first, or builds the mask with a load of 1 and a shift). */
RMEM_INLINE bool rmem_bit_test(uint64_t m, uintptr_t g) {
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
  bool set;
  __asm__("btq %2, %1" : "=@ccc"(set) : "r"(m), "r"(g)); /* the carry flag is the bit: the branch reads it */
  return set;
#else
  return ((m >> (g & 63)) & 1) != 0;
#endif
}
RMEM_INLINE uint64_t rmem_bit_clear(uint64_t m, uintptr_t g) {
#if defined(__x86_64__) && defined(__GNUC__)
  __asm__("btrq %1, %0" : "+r"(m) : "r"(g) : "cc"); /* the register form takes the number mod 64 */
  return m;
#else
  return m & ~((uint64_t)1 << (g & 63));
#endif
}
/*
 * off rotated right by 3: off / 8 (its bit's index in the live bitmap) when off is 8-aligned, and a number
 * above any range's grain count when it is not, so one compare with the grain count (capacity / 8) tells
 * "in range and aligned", and the result indexes the bitmap.
 */
RMEM_INLINE uintptr_t rmem_grain_of(uintptr_t off) {
  return (off >> RMEM_LIVE_SHIFT) | (off << (8 * sizeof off - RMEM_LIVE_SHIFT));
}
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
/*
 * The owner's `*w |= bit` on a live word: a relaxed store of the read-modified word. On x86-64 one OR into
 * memory is exactly that (its load and its store are each single-copy atomic; without a lock prefix it is no
 * atomic read-modify-write, and needs none with one writer), where the compiler keeps an atomic load and
 * store apart as three instructions. ThreadSanitizer builds take the C atomics, which it can see.
 */
RMEM_INLINE void rmem_live_or(uint64_t *w, uint64_t bit) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(RMEM_TSAN)
  __asm__("orq %1, %0" : "+m"(*w) : "r"(bit) : "cc");
#else
  __atomic_store_n(w, __atomic_load_n(w, __ATOMIC_RELAXED) | bit, __ATOMIC_RELAXED);
#endif
}
RMEM_INLINE void rmem_set_live(rmem_t *r, uintptr_t off) { rmem_live_or(rmem_live_word(r, off), rmem_live_bit(off)); }
RMEM_INLINE void rmem_clear_live(rmem_t *r, uintptr_t off) {
  uint64_t *w = rmem_live_word(r, off);
  __atomic_store_n(w, *w & ~rmem_live_bit(off), __ATOMIC_RELAXED);
}
/* A page's tag: written by the slab's owner when the slab is made or released, read by any thread. */
RMEM_INLINE uint32_t rmem_tag_at(const rmem_t *r, uintptr_t off) {
  return __atomic_load_n(&r->ptag[off >> RMEM_PAGE_SHIFT], __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------------
 * A thread heap's fast paths (rmem_local_alloc / rmem_local_free, the
 * drop-in's try calls and the seed's r_alloc / r_free inline them; their
 * slow paths are heap.c's)
 * ------------------------------------------------------------------------ */

/*
 * The fast path of a thread heap h (not NULL) that is the calling thread's with its fast paths on -- the
 * caller knows it: a bound slot (R4), or the test of rmem_heap_alloc_as: as rmem_alloc's. Blocks other
 * threads freed into it wait for a refill that drains (front_refill, DRAIN_EVERY). The heap's live words are
 * written by it alone: a plain read, an atomic store. False, with nothing changed, when its front has no
 * block at hand (or its copy of the newest, top, is stale: the slow path pops); else the block is in *out.
 */
RMEM_INLINE bool rmem_heap_alloc_owned(rmem_local_t *h, size_t size, void **out) {
  if (RMEM_LIKELY(size - 1 < RMEM_HEAP_TABLE_MAX)) {
    rmem_front_t *f = &h->front;
    uintptr_t t = f->tag_of[((size - 1) >> 3) + 1] /* (size + 7) >> 3, from the size - 1 just compared */, n;
    if (RMEM_LIKELY(!__builtin_sub_overflow((uintptr_t)f->n[t], (uintptr_t)1, &n))) { /* a borrow: empty */
      uint32_t off = f->top[t]; /* the newest block, checked against the stack (the branch is predicted) */
      if (RMEM_UNLIKELY(off != f->st_flat[t * RMEM_FRONT_CAP + n])) return false; /* a stale copy */
      f->n[t] = (uint8_t)n;
      f->top[t] = f->st_flat[t * RMEM_FRONT_CAP + n - 1]; /* tag t >= 1: in the rows even for n == 0 */
      f->allocs++;
      rmem_live_or(&h->live[off >> (RMEM_LIVE_SHIFT + 6)], rmem_live_bit(off));
      *out = rmem_track_alloc(h->r, (void *)(h->base + off), size, h->cls[t - 1].bsize);
      return true;
    }
  }
  return false;
}

/*
 * The same for the thread whose key is `key` (rmem_tkey, or a copy of it the caller keeps beside its heap
 * pointer): false, with nothing changed, also when the heap is not that thread's to use fast.
 */
RMEM_INLINE bool rmem_heap_alloc_as(rmem_local_t *h, uint32_t key, size_t size, void **out) {
  return __atomic_load_n(&h->fast, __ATOMIC_RELAXED) == key && rmem_heap_alloc_owned(h, size, out);
}

/* The same for the calling thread and any h (NULL declines): the block, or NULL with nothing changed. */
RMEM_INLINE void *rmem_heap_alloc_fast(rmem_local_t *h, size_t size) {
  void *p;
  return h != NULL && rmem_heap_alloc_as(h, rmem_tkey, size, &p) ? p : NULL;
}

/*
 * The free fast path of a thread heap h (not NULL) that is the calling thread's with its fast paths on (as
 * rmem_heap_alloc_owned): a live block of this heap (its live bit, its page's tag names this heap), no other
 * thread freed it first (its remote bit), room on its stack. False, with nothing changed, otherwise.
 */
RMEM_INLINE bool rmem_heap_free_owned(rmem_local_t *h, void *ptr) {
  uintptr_t off = (uintptr_t)ptr - h->base, g = rmem_grain_of(off);
  if (RMEM_LIKELY(g < h->grains)) { /* in range and 8-aligned */
    /* the block may be another thread's: its live word and page tag are read as atomics (plain moves) */
    uint64_t *w = &h->live[g >> 6], m = __atomic_load_n(w, __ATOMIC_RELAXED);
    uint64_t rm = __atomic_load_n(&h->remote[g >> 6], __ATOMIC_RELAXED);
    uint32_t t = (uint32_t)__atomic_load_n(&h->ptag[off >> RMEM_PAGE_SHIFT], __ATOMIC_RELAXED) - h->tag_base;
    rmem_front_t *f = &h->front;
    /* live and not freed by another thread: the bit tested in each word */
    if (RMEM_LIKELY(rmem_bit_test(m, g) && !rmem_bit_test(rm, g) && t - 1u < RMEM_HEAP_CLASSES)) {
      uintptr_t n = f->n[t];
      if (RMEM_LIKELY(n < f->cap[t])) {
        __atomic_store_n(w, rmem_bit_clear(m, g), __ATOMIC_RELAXED);
        f->st[t][n] = (uint32_t)off;
        f->top[t] = (uint32_t)off;
        f->n[t]++;
        f->frees++;
        rmem_track_free(h->r, ptr, h->cls[t - 1].bsize);
        return true;
      }
    }
  }
  return false;
}

/* The same for the thread whose key is `key`: false also when the heap is not that thread's to use fast. */
RMEM_INLINE bool rmem_heap_free_as(rmem_local_t *h, uint32_t key, void *ptr) {
  return __atomic_load_n(&h->fast, __ATOMIC_RELAXED) == key && rmem_heap_free_owned(h, ptr);
}

/* The same for the calling thread and any h (NULL declines). */
RMEM_INLINE bool rmem_heap_free_fast(rmem_local_t *h, void *ptr) {
  return h != NULL && rmem_heap_free_as(h, rmem_tkey, ptr);
}

/* ------------------------------------------------------------------------
 * Single-list fronts (slab caches, classes of intermediate arenas)
 * ------------------------------------------------------------------------ */

/* Pops the newest block (f->n > 0), marks it live, returns its address. */
RMEM_INLINE void *rmem_lfront_pop(rmem_t *r, rmem_lfront_t *f) {
  uint32_t n = f->n - 1, off = f->st[n];
  f->n = n;
  rmem_set_live(r, off);
  return (void *)(r->base + off);
}

/* Pushes the block at off whose live bit the caller has just cleared (f->n < f->cap). */
RMEM_INLINE void rmem_lfront_push(rmem_lfront_t *f, uint32_t off) {
  f->st[f->n++] = off;
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
/* Checks F1 and F4 for the stack st[0..n) of list l, capacity cap, at most capmax; counts each block on its
   slab. */
RMEM_HIDDEN size_t rmem_front_check_stack(rmem_t *r, const rmem_slab_list_t *l, const uint32_t *st, uint32_t n,
                                          uint32_t cap, uint32_t capmax);
/* Checks F3 for every slab of l (after rmem_front_check_stack of every stack that holds l's blocks). */
RMEM_HIDDEN size_t rmem_front_check_slabs(rmem_t *r, const rmem_slab_list_t *l);
/* Checks F2 over the whole range: live bits only at engine-used slot starts. */
RMEM_HIDDEN size_t rmem_front_check(rmem_t *r);
/* Clears the live bits of every slab of l (the owner is about to release them with their live blocks). */
RMEM_HIDDEN void rmem_front_forget(rmem_t *r, const rmem_slab_list_t *l);
/* Live blocks of slab s (its live bits). */
RMEM_HIDDEN uint32_t rmem_front_live_in(const rmem_t *r, const rmem_slab_t *s);

#endif /* RMEM_FRONT_H */
