/*
 * slab.c - the slab engine: runs of pages carved into equal slots.
 *
 * One mechanism serves three owners: the heap's size classes (heap.c), slab
 * caches (cache.c) and the size classes of intermediate arenas (arena.c). A
 * slab is a run of pages from the page source, carved into nslots slots of
 * bsize bytes. Its descriptor lives out of band in the instance's slab pool
 * (144 bytes) and holds a two-level bitmap of free slots -- in the descriptor
 * for up to 256 slots, in a 512-byte record of the bitmap pool for more (the
 * slabs of blocks below 256 bytes): a fixed 4,096-slot bitmap in every
 * descriptor made them 608 bytes, 3 MB of the 25 MB overhead of 100,000 live
 * blocks of 8..4096 bytes:
 *
 *     bits[w] bit b == 1   iff slot 64w + b is free
 *     summary bit w == 1   iff bits[w] != 0
 *
 * Allocation pops the lowest free slot with two count-trailing-zeros; free
 * sets its bit back. Both are O(1) and touch one descriptor cache line and
 * one bitmap word. Because the bitmap is the truth about every slot, a free
 * of a slot that is already free, of an address that is not a slot start or
 * of the slab's tail waste is detected exactly, and nothing is ever stored
 * in the user's bytes.
 *
 * The engine is not on the owners' fast paths: each owner keeps a front
 * (front.h) of freed blocks and trades with the engine in batches --
 * rmem_slab_list_alloc_batch hands out whole bitmap words at a time, and the
 * front gives blocks back one by one with rmem_slab_put when it spills.
 *
 * Slot index from address: idx = rel / bsize by Lemire's fastdiv (one
 * 64x64->128 multiply, exact for every 32-bit rel), then idx * bsize == rel
 * tells a slot start from an interior pointer.
 *
 * Lists (struct rmem_slab_list, types.h) keep cur, the slab allocation
 * draws from; partial slabs; one optional spare empty slab; and the list of
 * all slabs for walks and teardown. Full slabs sit on no list (they come back
 * when a slot is freed); empty slabs beyond the spare go back to the page
 * source at once. Invariants S1..S5 are written in types.h and checked by
 * rmem_slab_list_check.
 *
 * Floor: above pages.c and meta.c. The engine calls no owner: what an owner
 * wants (its pages tagged, pages reclaimed when the page source runs dry) it
 * gets through the list's page_tag and the instance's reclaim hook.
 */
#include "internal.h"
#include "track.h"

/* cur points here when a list has nothing to allocate from: summary 0 sends the fast path to the slow one. */
rmem_slab_t rmem_slab_sentinel = {.bits = rmem_slab_sentinel.inline_bits};

#define SLAB_TARGET_BYTES ((size_t)64 << 10)

void rmem_slab_list_init(rmem_slab_list_t *l, rmem_t *r, uint32_t bsize, uint8_t owner_kind, uint32_t owner_id,
                         uint16_t page_tag, bool keep_spare) {
  rmem_assert(bsize >= 8 && bsize % 8 == 0 && "slot sizes are multiples of 8");
  memset(l, 0, sizeof *l);
  l->cur = &rmem_slab_sentinel;
  l->r = r;
  l->bsize = bsize;
  l->owner_kind = owner_kind;
  l->owner_id = owner_id;
  l->page_tag = page_tag;
  l->keep_spare = keep_spare;
  /* about 64 KiB, at least 8 slots (4 from 8 KiB up; 1 MiB / 2 slots for huge slots), at most 4096 slots, at
     least 2 pages; 16 slots for blocks of 1 to 4 KiB (16 to 64 KiB): a thread heap's partly used slab of
     each class it touches is memory no other heap can use, and where the classes of a program are many
     and each holds few blocks, 64 slots of 1 KiB were mostly empty (16 slots: mstress's peak 11% lower,
     larson-sized's 6%, for the same instructions in rptest within 1%) */
  size_t want = bsize >= 1024 && bsize < 4096 ? (size_t)bsize * 16 : SLAB_TARGET_BYTES;
  size_t min_bytes = (size_t)bsize * (bsize >= 8192 ? 4 : 8);
  if (min_bytes > want) want = min_bytes;
  if (want > ((size_t)1 << 20)) want = (size_t)bsize * 2 > ((size_t)1 << 20) ? (size_t)bsize * 2 : ((size_t)1 << 20);
  size_t max_bytes = (size_t)bsize * RMEM_SLAB_MAX_SLOTS;
  if (want > max_bytes) want = max_bytes;
  size_t p0 = (want + RMEM_PAGE_SIZE - 1) >> RMEM_PAGE_SHIFT;
  if (p0 < 2) p0 = 2;
  /* within 4 pages of that, the size whose tail past the last slot is the smallest share of the slab
     (resident bytes no block can use: 1.9% of the heap's slab bytes for sizes spread over 8..4096 at
     exactly 64 KiB, 0.4% so); on a tie the nearer one */
  size_t pages = p0, slots = 0, waste_num = 1, waste_den = 0;
  for (size_t k = 0; k <= 8; k++) {
    if (!(k & 1) && p0 < k / 2 + 2) continue; /* at least 2 pages */
    size_t p = k & 1 ? p0 + (k + 1) / 2 : p0 - k / 2; /* p0, p0 + 1, p0 - 1, p0 + 2, ... */
    size_t n = (p << RMEM_PAGE_SHIFT) / bsize;
    if (n > RMEM_SLAB_MAX_SLOTS) n = RMEM_SLAB_MAX_SLOTS;
    if (p < p0 && n < 8) continue;
    size_t w = (p << RMEM_PAGE_SHIFT) - n * bsize;
    if (waste_den == 0 || w * waste_den < waste_num * p) { /* w / p < waste_num / waste_den */
      pages = p;
      slots = n;
      waste_num = w;
      waste_den = p;
    }
  }
  l->slab_pages = (uint32_t)pages;
  l->nslots = (uint32_t)slots;
}

static void partial_push(rmem_slab_list_t *l, rmem_slab_t *s) {
  s->prev = NULL;
  s->next = l->partial;
  if (l->partial) l->partial->prev = s;
  l->partial = s;
}

static void partial_remove(rmem_slab_list_t *l, rmem_slab_t *s) {
  if (s->prev) s->prev->next = s->next;
  else l->partial = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
}

static bool on_partial(const rmem_slab_list_t *l, const rmem_slab_t *s) {
  return s->prev != NULL || l->partial == s;
}

/* S4 / P6: the page tag of every page of s. */
static void tag_pages(rmem_t *r, const rmem_slab_t *s, uint16_t tag) {
  uint16_t *t = r->ptag + s->first_page;
  for (uint32_t k = 0; k < s->npages; k++) __atomic_store_n(&t[k], tag, __ATOMIC_RELAXED); /* read by any thread */
}

static void release(rmem_slab_list_t *l, rmem_slab_t *s) {
  rmem_t *r = l->r;
  if (s->aprev) s->aprev->anext = s->anext;
  else l->all = s->anext;
  if (s->anext) s->anext->aprev = s->aprev;
  l->slabs--;
  __atomic_store_n(&s->magic, RMEM_SLAB_SETUP, __ATOMIC_RELEASE); /* a validator may see its pages a moment more */
  s->list = NULL;
  s->summary = 0;
  if (l->page_tag) tag_pages(r, s, 0);
  if (r->remote) {
    /* R1: the pages leave the heap with no remote bit (one left by two racing frees of a block included) */
    uintptr_t lo = s->start - r->base, hi = lo + ((uintptr_t)s->npages << RMEM_PAGE_SHIFT);
    for (uintptr_t w = lo >> (RMEM_LIVE_SHIFT + 6); w < hi >> (RMEM_LIVE_SHIFT + 6); w++) __atomic_store_n(&r->remote[w], 0, __ATOMIC_RELAXED);
  }
  rmem_pages_free(r, s->first_page);
  rmem_shared_lock(r);
  s->magic = 0;
  if (s->bits_index) rmem_pool_put(&r->slab_bits, s->bits);
  s->bits_index = 0;
  s->bits = s->inline_bits;
  rmem_pool_put(&r->slabs, s);
  rmem_shared_unlock(r);
}

static rmem_slab_t *new_slab(rmem_slab_list_t *l) {
  rmem_t *r = l->r;
  bool big = l->nslots > RMEM_SLAB_INLINE_WORDS * 64;
  rmem_shared_lock(r);
  rmem_slab_t *s = rmem_pool_get(&r->slabs);
  uint64_t *bits = s && big ? rmem_pool_get(&r->slab_bits) : NULL;
  if (s && big && !bits) {
    rmem_pool_put(&r->slabs, s);
    s = NULL;
  }
  if (s) {
    s->magic = RMEM_SLAB_SETUP; /* its pages enter the pagemap before it is whole */
    s->bits_index = bits ? rmem_pool_index(&r->slab_bits, bits) : 0;
    s->bits = bits ? bits : s->inline_bits;
  }
  rmem_shared_unlock(r);
  if (!s) return rmem_fail_null(RMEM_ENOMEM, "out of slab descriptors");
  uint32_t idx = rmem_pool_index(&r->slabs, s);
  uint32_t first = rmem_pages_alloc(r, l->slab_pages, 1, RMEM_PK_SLAB, idx);
  if (!first) {
    rmem_shared_lock(r);
    s->magic = 0;
    if (s->bits_index) rmem_pool_put(&r->slab_bits, s->bits);
    s->bits_index = 0;
    s->bits = s->inline_bits;
    rmem_pool_put(&r->slabs, s);
    rmem_shared_unlock(r);
    return NULL; /* ENOMEM recorded by the page source */
  }
  s->start = rmem_page_addr(r, first);
  rmem_track_noaccess(r, s->start, (size_t)l->slab_pages << RMEM_PAGE_SHIFT); /* every slot starts free */
  s->bsize = l->bsize;
  s->nslots = l->nslots;
  s->div = UINT64_MAX / l->bsize + 1;
  s->list = l;
  s->owner_kind = l->owner_kind;
  s->first_page = first;
  s->npages = l->slab_pages;
  __atomic_store_n(&s->magic, RMEM_SLAB_MAGIC, __ATOMIC_RELEASE);
  if (l->page_tag) tag_pages(r, s, l->page_tag);
  uint32_t full_words = s->nslots / 64, rest = s->nslots % 64;
  uint32_t words = full_words + (rest != 0), cap = s->bits_index ? RMEM_SLAB_WORDS : RMEM_SLAB_INLINE_WORDS;
  for (uint32_t w = 0; w < full_words; w++) s->bits[w] = ~(uint64_t)0;
  if (rest) s->bits[full_words] = ((uint64_t)1 << rest) - 1;
  for (uint32_t w = words; w < cap; w++) s->bits[w] = 0; /* a recycled record's words beyond (S1) */
  s->summary = words == 64 ? ~(uint64_t)0 : (((uint64_t)1 << words) - 1);
  s->anext = l->all;
  s->aprev = NULL;
  if (l->all) l->all->aprev = s;
  l->all = s;
  l->slabs++;
  return s;
}

/* Makes cur a slab with a free slot: a partial one, the spare, or (if may_new) a new one. */
static bool next_cur(rmem_slab_list_t *l, bool may_new) {
  rmem_slab_t *s = l->partial;
  if (s) {
    partial_remove(l, s);
  } else if (l->spare) {
    s = l->spare;
    l->spare = NULL;
  } else {
    if (!may_new) return false;
    s = new_slab(l);
    if (!s) {
      l->cur = &rmem_slab_sentinel;
      return false;
    }
  }
  l->cur = s;
  rmem_assert(s->summary != 0 && "a slab taken for allocation has a free slot");
  return true;
}

void *rmem_slab_list_alloc(rmem_slab_list_t *l) {
  rmem_slab_t *s = l->cur;
  if (RMEM_UNLIKELY(s->summary == 0)) {
    /* cur is full (or the sentinel): it stays off the lists until a slot comes back */
    if (!next_cur(l, false) && !next_cur(l, true)) return NULL;
    s = l->cur;
  }
  uint64_t sum = s->summary;
  unsigned w = (unsigned)__builtin_ctzll(sum);
  uint64_t m = s->bits[w];
  unsigned b = (unsigned)__builtin_ctzll(m);
  m &= m - 1;
  s->bits[w] = m;
  if (m == 0) s->summary = sum & ~((uint64_t)1 << w);
  s->used++;
  l->used++;
  return (void *)(s->start + (uintptr_t)(w * 64u + b) * s->bsize);
}

uint32_t rmem_slab_list_alloc_batch(rmem_slab_list_t *l, uint32_t *out, uint32_t max, bool may_new) {
  uint32_t n = 0;
  uintptr_t base = l->r->base;
  while (n < max) {
    rmem_slab_t *s = l->cur;
    uint64_t sum = s->summary;
    if (sum == 0) {
      if (n || !next_cur(l, may_new)) break;
      continue;
    }
    /* a whole bitmap word at a time, lowest slots first */
    unsigned w = (unsigned)__builtin_ctzll(sum);
    uint64_t m = s->bits[w];
    uintptr_t at = s->start - base + (uintptr_t)w * 64u * s->bsize;
    uint32_t took = 0;
    while (m && n < max) {
      unsigned b = (unsigned)__builtin_ctzll(m);
      m &= m - 1;
      out[n++] = (uint32_t)(at + (uintptr_t)b * s->bsize);
      took++;
    }
    s->bits[w] = m;
    if (m == 0) s->summary = sum & ~((uint64_t)1 << w);
    s->used += took;
  }
  l->used += n;
  return n;
}

/* The free-side transitions of a slab after slots came back: out of full (it was), or empty (S5). */
static void after_free(rmem_slab_list_t *l, rmem_slab_t *s, bool was_full) {
  if (s == l->cur) return; /* cur needs no transition */
  if (was_full) partial_push(l, s);
  if (s->used == 0) {
    partial_remove(l, s);
    if (l->keep_spare && !l->spare) l->spare = s;
    else release(l, s);
  }
}

rmem_status_t rmem_slab_put(rmem_slab_t *s, uintptr_t p) {
  uint32_t idx = rmem_slab_slot_of(s, p - s->start);
  unsigned w = idx >> 6;
  uint64_t bit = (uint64_t)1 << (idx & 63), m = s->bits[w];
  if (RMEM_UNLIKELY(m & bit)) return rmem_slab_bad_free(s, p, 1);
  s->bits[w] = m | bit;
  s->summary |= (uint64_t)1 << w;
  s->used--;
  s->list->used--;
  after_free(s->list, s, s->used + 1 == s->nslots);
  return RMEM_OK;
}

void rmem_slab_put_batch(rmem_slab_t *s, uintptr_t base, const uint32_t *offs, uint32_t k) {
  rmem_slab_list_t *l = s->list;
  bool was_full = s->used == s->nslots;
  uint64_t summary = s->summary;
  for (uint32_t i = 0; i < k; i++) {
    uint32_t idx = rmem_slab_slot_of(s, base + offs[i] - s->start);
    uint64_t bit = (uint64_t)1 << (idx & 63);
    rmem_assert(!(s->bits[idx >> 6] & bit) && "a front block is used in the engine (F1)");
    s->bits[idx >> 6] |= bit;
    summary |= (uint64_t)1 << (idx >> 6);
  }
  s->summary = summary;
  s->used -= k;
  l->used -= k;
  after_free(l, s, was_full);
}

size_t rmem_slab_list_drop_empty(rmem_slab_list_t *l) {
  size_t n = 0;
  if (l->spare) {
    rmem_slab_t *s = l->spare;
    l->spare = NULL;
    release(l, s);
    n++;
  }
  if (l->cur != &rmem_slab_sentinel && l->cur->used == 0) {
    rmem_slab_t *s = l->cur;
    l->cur = &rmem_slab_sentinel;
    release(l, s);
    n++;
  }
  return n;
}

size_t rmem_slab_list_shrink(rmem_slab_list_t *l) {
  size_t n = rmem_slab_list_drop_empty(l);
  for (rmem_slab_t *s = l->partial; s;) {
    rmem_slab_t *next = s->next;
    if (s->used == 0) {
      partial_remove(l, s);
      release(l, s);
      n++;
    }
    s = next;
  }
  return n;
}

void rmem_slab_list_fini(rmem_slab_list_t *l) {
  while (l->all) {
    rmem_slab_t *s = l->all;
    if (on_partial(l, s)) partial_remove(l, s);
    release(l, s);
  }
  l->cur = &rmem_slab_sentinel;
  l->partial = NULL;
  l->spare = NULL;
  l->used = 0;
}

rmem_status_t rmem_slab_bad_free(rmem_slab_t *s, uintptr_t p, int why) {
  const rmem_t *r = s->list ? s->list->r : NULL;
  uintptr_t rel = p - s->start;
  uint32_t idx = rmem_slab_slot_of(s, rel);
  size_t off = r ? (size_t)(p - r->base) : 0;
  if (why == 1)
    return rmem_fail_at(RMEM_EDOUBLEFREE, r, (void *)p,
                        "double free of the block at offset %zu (slot %u of a slab of %u-byte slots is already free)",
                        off, idx, s->bsize);
  if (idx >= s->nslots)
    return rmem_fail_at(RMEM_EBADPTR, r, (void *)p,
                        "offset %zu is in the unused tail of a slab of %u-byte slots, not a block", off, s->bsize);
  return rmem_fail_at(RMEM_EBADPTR, r, (void *)p,
                      "offset %zu points %zu bytes into a %u-byte block (slot %u), not at its start", off,
                      (size_t)(rel - (uintptr_t)idx * s->bsize), s->bsize, idx);
}

size_t rmem_slab_check(rmem_t *r, const rmem_slab_t *s) {
  size_t problems = 0;
  if (s->magic != RMEM_SLAB_MAGIC) {
    rmem_problem(&problems, "slab %p: bad magic %#x", (const void *)s, s->magic);
    return problems;
  }
  if (s->nslots == 0 || s->nslots > RMEM_SLAB_MAX_SLOTS || (size_t)s->nslots * s->bsize > (size_t)s->npages << RMEM_PAGE_SHIFT)
    rmem_problem(&problems, "slab %p: %u slots of %u bytes do not fit %u pages (S1)", (const void *)s, s->nslots,
                 s->bsize, s->npages);
  if (s->div != UINT64_MAX / s->bsize + 1) rmem_problem(&problems, "slab %p: divisor does not match bsize", (const void *)s);
  uint32_t free_slots = 0;
  uint32_t words = (s->nslots + 63) / 64, cap = RMEM_SLAB_INLINE_WORDS;
  if (s->bits_index == 0 ? s->bits != s->inline_bits || s->nslots > RMEM_SLAB_INLINE_WORDS * 64
                         : s->bits_index >= r->slab_bits.bump || s->bits != rmem_pool_at(&r->slab_bits, s->bits_index) ||
                               s->nslots <= RMEM_SLAB_INLINE_WORDS * 64) {
    rmem_problem(&problems, "slab %p: its bitmap is not where its slot count puts it (S1)", (const void *)s);
    return problems;
  }
  if (s->bits_index) cap = RMEM_SLAB_WORDS;
  if (words > cap) words = cap;
  for (uint32_t w = 0; w < words; w++) {
    uint64_t m = s->bits[w];
    uint64_t valid = (w + 1) * 64 <= s->nslots ? ~(uint64_t)0 : ((uint64_t)1 << (s->nslots - w * 64)) - 1;
    if (m & ~valid) rmem_problem(&problems, "slab %p: free bits beyond slot %u (S1)", (const void *)s, s->nslots);
    if (((s->summary >> w) & 1) != (m != 0)) rmem_problem(&problems, "slab %p: summary bit %u disagrees (S2)", (const void *)s, w);
    free_slots += rmem_popcount64(m & valid);
  }
  uint64_t beyond = 0;
  for (uint32_t w = words; w < cap; w++) beyond |= s->bits[w];
  if (beyond || (words < 64 && (s->summary >> words) != 0))
    rmem_problem(&problems, "slab %p: bitmap words beyond slot %u are not empty (S1)", (const void *)s, s->nslots);
  if (s->used != s->nslots - free_slots)
    rmem_problem(&problems, "slab %p: used %u but bitmap says %u (S3)", (const void *)s, s->used, s->nslots - free_slots);
  if (s->start != rmem_page_addr(r, s->first_page)) rmem_problem(&problems, "slab %p: start does not match its page", (const void *)s);
  uint32_t idx = rmem_pool_index(&r->slabs, s);
  if (s->first_page == 0 || (uint64_t)s->first_page + s->npages > r->top) {
    rmem_problem(&problems, "slab %p: pages %u+%u outside the used range", (const void *)s, s->first_page, s->npages);
    return problems;
  }
  const rmem_pme_t *h = &r->pm[s->first_page];
  /* the head entry names this slab; rmem_pages_check sees that every page of a run agrees with its head */
  if (h->kind != RMEM_PK_SLAB || !(h->flags & RMEM_PF_HEAD) || h->len != s->npages || h->owner != idx)
    rmem_problem(&problems, "slab %p: pagemap head at page %u does not describe it (S4)", (const void *)s, s->first_page);
  uint16_t tag = s->list ? s->list->page_tag : 0;
  for (uint32_t k = 0; k < s->npages; k++)
    if (r->ptag[s->first_page + k] != tag) {
      rmem_problem(&problems, "slab %p: page %u does not carry its list's tag %u (S4)", (const void *)s, k, tag);
      break;
    }
  return problems;
}

size_t rmem_slab_list_check(rmem_slab_list_t *l) {
  size_t problems = 0;
  rmem_t *r = l->r;
  size_t count = 0, used = 0;
  bool cur_seen = l->cur == &rmem_slab_sentinel, spare_seen = l->spare == NULL;
  if (rmem_slab_sentinel.summary != 0) rmem_problem(&problems, "slab sentinel was written to");
  for (rmem_slab_t *s = l->all; s; s = s->anext) {
    if (++count > l->slabs) {
      rmem_problem(&problems, "slab list %u/%u: more slabs on the list than counted (%zu), or a cycle", l->owner_kind,
                   l->owner_id, l->slabs);
      return problems;
    }
    problems += rmem_slab_check(r, s);
    used += s->used;
    if (s->list != l || s->owner_kind != l->owner_kind || s->bsize != l->bsize)
      rmem_problem(&problems, "slab %p does not point back at its list", (const void *)s);
    bool partial = on_partial(l, s);
    if (s == l->cur) {
      cur_seen = true;
      if (partial) rmem_problem(&problems, "slab %p is cur and on the partial list (S5)", (const void *)s);
    } else if (s == l->spare) {
      spare_seen = true;
      if (s->used != 0 || partial) rmem_problem(&problems, "spare slab %p is not empty and alone (S5)", (const void *)s);
    } else if (s->used >= s->nslots) {
      if (partial) rmem_problem(&problems, "full slab %p is on the partial list (S5)", (const void *)s);
    } else if (!partial) {
      rmem_problem(&problems, "slab %p has %u free slots but is on no list (S5)", (const void *)s, s->nslots - s->used);
    } else if (s->used == 0) {
      rmem_problem(&problems, "empty slab %p kept on the partial list (S5)", (const void *)s);
    }
  }
  if (count != l->slabs) rmem_problem(&problems, "slab list: %zu slabs counted, %zu on the list", l->slabs, count);
  if (used != l->used) rmem_problem(&problems, "slab list: %zu slots used, its slabs say %zu (S6)", l->used, used);
  if (!cur_seen) rmem_problem(&problems, "slab list: cur is not one of its slabs (S5)");
  if (!spare_seen) rmem_problem(&problems, "slab list: spare is not one of its slabs (S5)");
  size_t guard = 0;
  for (rmem_slab_t *s = l->partial; s; s = s->next) {
    if (++guard > count) {
      rmem_problem(&problems, "slab list: partial list has a cycle");
      break;
    }
    if (s->list != l) rmem_problem(&problems, "slab list: partial slab %p belongs to another list", (const void *)s);
  }
  return problems;
}
