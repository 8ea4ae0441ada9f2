/*
 * heap.c - the general heap: init_heap, r_alloc, r_free, r_defrag and friends.
 *
 * Design (why not a first-fit free list, as the seed had): a free-list walk
 * costs O(free blocks) per allocation, and headers inside user memory are
 * corrupted by the first buffer overrun. Instead:
 *
 *   - Sizes up to RMEM_SMALL_MAX (32 KiB) are rounded to one of 89 size
 *     classes: 8, then steps of 16 up to 128, then 8 classes per power of two
 *     up to 1 KiB, 16 per power of two up to 8 KiB (where most bytes of a
 *     typical mix are, and a page plus a small header: sqlite asks for 4104
 *     and 4368 bytes, which a 5120-byte class would waste 20% of), 4 per
 *     power of two up to 32 KiB. For sizes spread over 8..4096 that wastes
 *     2.5% of the live bytes inside blocks. Each class is a list of slabs on
 *     the slab engine (slab.c).
 *   - In front of the engine, the heap keeps one stack of freed blocks per
 *     class (the front, front.h and types.h). rmem_alloc pops the newest
 *     block of its class's stack and sets its live bit (the newest entry has
 *     a copy apart, top, so the block comes from one load rather than the
 *     count and then the entry: 9.7 -> 7.5 ns a LIFO pair); rmem_free reads the
 *     block's live bit and its page's tag (the class) side by side -- two
 *     loads found from the address alone, neither waiting on the other --
 *     clears the bit and pushes the block. Stacks are refilled from the
 *     engine in batches of whole bitmap words and spilled back half at a
 *     time; a small class's spilled halves wait in its depot (F6), up to
 *     64 KiB of blocks with the stack, before they go back to their slabs,
 *     and come back first. A class that goes unused while others refill
 *     and spill gives back its stack, its depot and its emptied slabs
 *     (IDLE_EVERY). A pointer whose live bit is clear is refused at
 *     once, with the reason found by the slow path (double free, interior
 *     pointer, another allocator's memory), and the heap is unchanged.
 *   - When a class's stack is empty and its slabs (it has some) have no free
 *     slot, it borrows one block of the next class or two up (<= 25% bigger)
 *     before it makes a new slab. Each class's live count wanders up and
 *     down under a random mix of sizes; without borrowing every class grows
 *     slabs to its own peak, with it the peaks of one class are served from
 *     the dips of its neighbour. The block belongs to its own class (its
 *     page's tag says which), so free needs nothing special.
 *   - Larger sizes are whole runs of pages from the page source (pages.c),
 *     which coalesces free runs at once and finds a run with two bit scans.
 *
 * Shared instances (RMEM_OPT_SHARED). Every thread that uses one gets a heap
 * of its own (rmem_heap_t, ids 1 .. RMEM_MAX_HEAPS, remembered per thread by
 * thread.c), with its own classes, slabs and front: allocation and the free
 * of one's own blocks are the same few instructions and take no lock (the
 * page source, which all heaps share, takes the instance's lock when a heap
 * makes or gives back a slab). The page tag of a slab names its heap as well
 * as its class (tag = heap id << 7 + class + 1). A free of another heap's
 * block sets the block's bit in the instance's remote bitmap with one atomic
 * OR -- which decides the free: an OR that finds the bit set already is a
 * double free, reported at that call -- and marks the owner's three-level
 * summary (sum1 / sum2 / sum3, pending) so the owner finds it without a
 * scan. The owner drains its summary at every 64th refill of a stack that
 * finds it marked (DRAIN_EVERY; and when it is trimmed, validated, or its
 * thread ends), and in part -- until the stack has a refill's worth --
 * before it makes a new slab: each marked block leaves the
 * live bitmap and goes onto the owner's front. Until then the block stays
 * live to its owner and its remote bit refuses a second free from anyone.
 * When a thread ends, its heap is drained, trimmed and left ORPHAN; the next
 * thread that needs a heap takes it over (its slabs and live blocks with it).
 *
 * So alloc and free are O(1), no metadata lives in user memory, and every
 * pointer handed to rmem_free is checked exactly, at that call. r_defrag
 * gives the stacks' blocks back to their slabs, empty slabs back to the page
 * source, where they merge with their free neighbours, and whole free pages
 * to the OS.
 *
 * Alignment: slots start at page-aligned slab starts at multiples of the
 * class size; every class but 8 is a multiple of 16, so every block is
 * 16-byte aligned except the 8-byte class's (8-byte aligned). Page runs are
 * 4096-byte aligned.
 *
 * Floor: above front.h, slab.c, pages.c and thread.c. It sets the instance's
 * reclaim hook, so the page source can ask for its empty slabs back.
 */
#include "front.h"
#include "track.h"

#include <stdio.h>

/* ------------------------------------------------------------------------
 * Size classes
 * ------------------------------------------------------------------------ */

static uint32_t class_sizes[RMEM_HEAP_CLASSES];
static uint32_t nclasses;

/* A class's stack holds about this many bytes (2 .. 255 blocks). 16 KiB (64 blocks at most) sent every
   block of a batch of a few hundred through the slab engine and back: 64 KiB made malloc-simple 17%
   faster, rptest 10% and the replace workload 20%, for the same peak RSS within 4% (mstress) */
#define FRONT_BYTES ((uint32_t)64 << 10)
/* So do the classes above 4 KiB (2 blocks each before, and no table: on larson-sized, whose sizes run
   log-uniform to 32 KiB, a quarter of its mallocs took the slow path at about 280 instructions each and
   its frees 470; 767M instructions in all, 583M so (tcmalloc 540M), for the same peak RSS) */
_Static_assert(RMEM_HEAP_TABLE_MAX == RMEM_SMALL_MAX, "every class has a table entry and a stack");
/* A class's depot (F6) holds what its stack cannot of the FRONT_BYTES a class may keep: a count is a
   byte (F4), so a stack of 8-byte blocks held 2 KiB, of 64-byte ones 16 KiB, and a burst of a few
   thousand small frees (malloc-simple's 1,600) sent every block back to its slab's bitmap and out
   again. With the depot, classes up to 240 bytes keep up to FRONT_BYTES too (more memory held by the
   front, at most 64 KiB a class, 1 MiB for all 16); larger classes fill FRONT_BYTES with the stack
   alone and have none (128 KiB depots for every class made malloc-simple's peak 12% higher and
   xmalloc's 8%) */
/* where each tag's depot row starts in a heap's depot map, and the map's size: rows as long as their
   class's depot, about 40 KiB: only the classes up to 240 bytes have one (computed with the class table) */
static uint32_t depot_at[RMEM_HEAP_TAGS + 1];
#define DEPOT_MAP_BYTES ((size_t)depot_at[nclasses + 1] * sizeof(uint32_t))
#define HEAP_MAGIC 0x68656170u           /* "heap": a thread heap of a live shared instance */
/*
 * A thread heap takes back the blocks other threads freed into it at every DRAIN_EVERY-th refill that
 * finds some waiting (and whenever it is trimmed, validated or asked for stats, the page source runs
 * dry, or its thread ends). Draining at every such refill took back about one block each time in a
 * pipeline of mixed sizes (its blocks spread over every class) and moved the same summary and bitmap
 * lines between the cores at every record: 64 refills between drains made records between two
 * workers 25-35% faster (bench/js/shared-heap.js) and the drop-in's xmalloc 44% faster. Meanwhile the
 * refills carve at most 64 half-stacks (about 512 KiB) of new blocks -- unless a slab would be made
 * for them: that refill drains first, as far as its stack needs (drain_some).
 */
#define DRAIN_EVERY 64u
/*
 * A class that is not used keeps what its front holds (up to FRONT_BYTES of blocks, and the slabs they lie
 * in) for as long as the heap lives: malloc-simple's classes of 8..512 bytes, each used in turn, held
 * 1 MiB of slabs with no live block in them while the 1 KiB class grew to its peak. So every IDLE_EVERY-th
 * refill or spill of any class looks at the next class in turn; if its stack, depot and slab count are as
 * they were at its last look, nothing took a block from it or gave one back through its slabs since, and
 * its front and empty slabs go back (a class in a steady alloc/free loop looks the same: it loses its
 * blocks once a round, and its next refill takes a batch back). A heap that never refills or spills
 * (a steady loop) never looks: there is nothing new to give back.
 */
#define IDLE_EVERY 16u

/* The stack capacity (F4) and the depot capacity (F6) of a class of bsize-byte blocks. */
static uint32_t stack_cap(uint32_t bsize) {
  uint32_t cap = FRONT_BYTES / bsize;
  return cap < 2 ? 2 : cap > RMEM_FRONT_CAP - 1 ? RMEM_FRONT_CAP - 1 : cap;
}
static uint32_t depot_cap(uint32_t bsize) {
  uint32_t want = FRONT_BYTES / bsize, cap = stack_cap(bsize);
  uint32_t d = want > cap + 16 ? want - cap : 0; /* a few blocks more: not worth a row */
  return d > RMEM_DEPOT_CAP ? RMEM_DEPOT_CAP : d;
}

static void build_classes(void) {
  if (nclasses) return;
  uint32_t n = 0;
  class_sizes[n++] = 8;
  for (uint32_t s = 16; s <= 128; s += 16) class_sizes[n++] = s;
  for (uint32_t base = 128; base < 1024; base *= 2)
    for (uint32_t i = 1; i <= 8; i++) class_sizes[n++] = base + i * (base / 8);
  for (uint32_t base = 1024; base < 8192; base *= 2)
    for (uint32_t i = 1; i <= 16; i++) class_sizes[n++] = base + i * (base / 16);
  for (uint32_t base = 8192; base < RMEM_SMALL_MAX; base *= 2)
    for (uint32_t i = 1; i <= 4; i++) class_sizes[n++] = base + i * (base / 4);
  rmem_assert(n <= RMEM_HEAP_CLASSES && class_sizes[n - 1] == RMEM_SMALL_MAX && "class table");
  depot_at[0] = depot_at[1] = 0;
  for (uint32_t c = 0; c < n; c++) depot_at[c + 2] = depot_at[c + 1] + depot_cap(class_sizes[c]);
  nclasses = n;
}

/* Smallest class >= size (size <= RMEM_SMALL_MAX). */
static uint32_t class_search(size_t size) {
  uint32_t lo = 0, hi = nclasses - 1;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (class_sizes[mid] >= size) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

static size_t heap_reclaim(rmem_t *r);

/* The smallest block r's heap hands out: 8 bytes, or 16 with RMEM_OPT_ALIGN16. */
static size_t min_size(const rmem_t *r) { return r->flags & RMEM_OPT_ALIGN16 ? 16 : 8; }

/* Sets up heap h of instance r with id (0: a private instance's heap; 1..: a shared instance's). */
static void heap_init(rmem_heap_t *h, rmem_t *r, uint32_t id) {
  build_classes();
  rmem_front_t *f = &h->front;
  h->r = r;
  h->base = r->base;
  h->capacity = r->capacity;
  h->grains = r->grains;
  h->live = r->live;
  h->remote = r->remote;
  h->ptag = r->ptag;
  h->id = id;
  h->tag_base = id << RMEM_TAG_CLASS_BITS;
  h->nclasses = nclasses;
  h->fast = id == 0 && RMEM_FLAGS_SLOW(r->flags) == 0 ? RMEM_FAST : 0; /* a thread heap's: its owner's key (heap_acquire) */
  h->depot = rmem_os_reserve(DEPOT_MAP_BYTES); /* resident only where a depot row is used; none: no depots */
  for (uint32_t c = 0; c < nclasses; c++) {
    uint32_t bsize = class_sizes[c];
    rmem_slab_list_init(&h->cls[c], r, bsize, RMEM_SO_HEAP, c, (uint16_t)(h->tag_base + c + 1), true);
    f->cap[c + 1] = (uint8_t)stack_cap(bsize);
    h->dcap[c + 1] = (uint16_t)(h->depot == NULL ? 0 : depot_cap(bsize));
  }
  for (uint32_t g = 0; g <= RMEM_HEAP_TABLE_MAX / 8; g++)
    f->tag_of[g] = (uint8_t)(class_search(g * 8 > min_size(r) ? g * 8 : min_size(r)) + 1);
}

void rmem_heap_init(rmem_t *r) {
  if (!rmem_is_shared(r)) heap_init(&r->heap, r, 0);
  r->reclaim = heap_reclaim;
}

/* Stores NULL in the slot bound to h, if any (by h's owner: the slot is its variable). */
static void heap_unbind(rmem_heap_t *h) {
  if (h->slot) {
    *h->slot = NULL;
    h->slot = NULL;
  }
}

void rmem_heap_fini(rmem_t *r) {
  /* Slab descriptors and pages die with the instance's pool and range; thread heaps are mapped apart. */
  uint32_t n = atomic_load(&r->nheaps);
  for (uint32_t id = 1; id <= n; id++) {
    rmem_heap_t *h = r->heaps[id];
    if (!h) continue;
    r->heaps[id] = NULL;
    if (h->fast == rmem_tkey) heap_unbind(h); /* the destroying thread's own slot (others': a use after destroy) */
    h->fast = 0;
    if (h->depot) rmem_os_release(h->depot, DEPOT_MAP_BYTES);
    rmem_os_release(h->map, h->map_bytes);
  }
  if (!rmem_is_shared(r) && r->heap.depot) rmem_os_release(r->heap.depot, DEPOT_MAP_BYTES);
}

/* True if h is a heap of a shared instance (its live words are read by other threads). */
RMEM_INLINE bool heap_shared(const rmem_heap_t *h) { return h->id != 0; }

/* The live bit of the block at off, set or cleared by its heap's owner: the only writer of its word (a
   word covers 512 bytes of one slab), so a plain read and an atomic store suffice; other threads read it. */
RMEM_INLINE void live_put(rmem_t *r, uintptr_t off, bool on) {
  uint64_t *w = rmem_live_word(r, off), bit = rmem_live_bit(off);
  uint64_t m = on ? *w | bit : *w & ~bit;
  __atomic_store_n(w, m, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------------
 * The front of a heap: stacks per class tag (class + 1)
 * ------------------------------------------------------------------------ */

/* Pops the newest block of tag t's stack (n > 0) and marks it live. */
RMEM_INLINE void *front_pop(rmem_heap_t *h, uint32_t t, uint32_t n) {
  rmem_front_t *f = &h->front;
  uint32_t off = f->st[t][n - 1];
  f->n[t] = (uint8_t)(n - 1);
  f->top[t] = f->st_flat[t * RMEM_FRONT_CAP + n - 2]; /* (t >= 1: in the rows even for n == 1) */
  f->allocs++;
  live_put(h->r, off, true);
  return (void *)(h->r->base + off);
}

/* Tag t's depot row (F6). */
RMEM_INLINE uint32_t *depot_row(rmem_heap_t *h, uint32_t t) { return h->depot + depot_at[t]; }

/* Empties tag t's stack and depot into their slabs. */
static void front_flush(rmem_heap_t *h, uint32_t t) {
  rmem_front_t *f = &h->front;
  rmem_front_release(h->r, f->st[t], f->n[t]);
  f->n[t] = 0;
  if (h->dn[t]) rmem_front_release(h->r, depot_row(h, t), h->dn[t]);
  h->dn[t] = 0;
}

static void front_flush_all(rmem_heap_t *h) {
  for (uint32_t t = 1; t <= h->nclasses; t++) front_flush(h, t);
}

/* Tag t's front and slabs as seen by idle_step: a change of any means the class was used. */
static uint64_t idle_sig(const rmem_heap_t *h, uint32_t t) {
  const rmem_front_t *f = &h->front;
  uint32_t n = f->n[t];
  return (uint64_t)(n ? f->st[t][n - 1] : 0) ^ ((uint64_t)n << 32) ^ ((uint64_t)h->dn[t] << 40) ^ ((uint64_t)h->cls[t - 1].used << 52) ^
         ((uint64_t)h->cls[t - 1].slabs << 20);
}

/* At every IDLE_EVERY-th call (a refill or spill of tag t): one more class looked at, given back if idle. */
static void idle_step(rmem_heap_t *h, uint32_t t) {
  if (++h->idle_clock < IDLE_EVERY) return;
  h->idle_clock = 0;
  uint32_t u = h->idle_next + 1 > h->nclasses ? 1 : h->idle_next + 1;
  h->idle_next = u;
  if (u == t) return;
  uint64_t sig = idle_sig(h, u);
  if (sig == h->idle_sig[u] && (h->front.n[u] || h->dn[u] || h->cls[u - 1].spare)) {
    front_flush(h, u);
    rmem_slab_list_drop_empty(&h->cls[u - 1]); /* slabs the flush emptied went back, or are the spare */
    sig = idle_sig(h, u);
  }
  h->idle_sig[u] = sig;
}

/* The block at off (live bit just cleared, tag t) goes on its stack; a full stack spills its older half first. */
static void front_push_slow(rmem_heap_t *h, uint32_t t, uint32_t off) {
  rmem_front_t *f = &h->front;
  uint32_t n = f->n[t];
  if (n >= f->cap[t]) {
    idle_step(h, t);
    uint32_t half = n / 2u, dn = h->dn[t];
    if (dn + half <= h->dcap[t]) { /* the older half waits in the depot (F6), else goes back to its slabs */
      memcpy(depot_row(h, t) + dn, f->st[t], half * sizeof f->st[t][0]);
      h->dn[t] = (uint16_t)(dn + half);
    } else {
      rmem_front_release(h->r, f->st[t], half);
    }
    memmove(f->st[t], f->st[t] + half, (n - half) * sizeof f->st[t][0]);
    n -= half;
  }
  f->st[t][n] = off;
  f->top[t] = off;
  f->n[t] = (uint8_t)(n + 1);
  f->frees++;
}

/*
 * Before class c makes a new slab: one free block of class c+1 or c+2 if
 * that class is at most 25% bigger and has one at hand (on its stack or free
 * in its slabs), marked live. NULL if none.
 */
static void *borrow(rmem_heap_t *h, uint32_t c) {
  for (uint32_t k = c + 1; k < h->nclasses && k <= c + 2; k++) {
    rmem_slab_list_t *n = &h->cls[k];
    if ((uint64_t)n->bsize * 4 > (uint64_t)h->cls[c].bsize * 5) break;
    uint32_t t = k + 1, cnt = h->front.n[t];
    if (cnt) {
      h->borrowed++;
      return front_pop(h, t, cnt);
    }
    if (rmem_slab_list_has_free(n)) {
      void *p = rmem_slab_list_alloc(n);
      if (!p) return NULL;
      h->borrowed++;
      h->front.allocs++;
      live_put(h->r, (uintptr_t)p - h->r->base, true);
      return p;
    }
  }
  return NULL;
}

static void drain(rmem_heap_t *h);
static void drain_some(rmem_heap_t *h, uint32_t want_t);

/* Tag t's stack is empty: refill half of it from the engine (borrowing before a new slab) and pop one. */
static RMEM_NOINLINE void *front_refill(rmem_heap_t *h, uint32_t t) {
  idle_step(h, t);
  /* blocks other threads freed may fill this stack without the engine: taken back at every
     DRAIN_EVERY-th refill that finds them waiting (see DRAIN_EVERY) */
  if (heap_shared(h) && atomic_load_explicit(&h->pending, memory_order_relaxed) && ++h->refills_waiting >= DRAIN_EVERY) {
    h->refills_waiting = 0;
    drain(h);
    uint32_t n = h->front.n[t];
    if (n) return front_pop(h, t, n);
  }
  rmem_front_t *f = &h->front;
  rmem_slab_list_t *l = &h->cls[t - 1];
  uint32_t want = f->cap[t] / 2u ? f->cap[t] / 2u : 1u, dn = h->dn[t];
  if (dn) { /* the depot's newest blocks first (F6): newest on top */
    uint32_t k = dn < want ? dn : want;
    memcpy(f->st[t], depot_row(h, t) + dn - k, k * sizeof f->st[t][0]);
    h->dn[t] = (uint16_t)(dn - k);
    return front_pop(h, t, k);
  }
  uint32_t got = rmem_slab_list_alloc_batch(l, f->st[t], want, false);
  if (got == 0 && heap_shared(h) && atomic_load_explicit(&h->pending, memory_order_relaxed)) {
    /* before a new slab, the blocks other threads freed into this heap: a producer whose consumers
       free all it makes otherwise grew a slab every few refills and, at the next drain, gave as many
       back to the page source (two lock rounds each, shared by every heap) */
    h->refills_waiting = 0;
    drain_some(h, t);
    if (h->front.n[t]) return front_pop(h, t, h->front.n[t]);
    got = rmem_slab_list_alloc_batch(l, f->st[t], want, false);
  }
  if (got == 0) {
    /* every slab of the class is full: a neighbour's dip serves this peak (a class with no slab
       yet makes its first one: borrowing then would make every allocation of it a borrow) */
    void *p = l->slabs ? borrow(h, t - 1) : NULL;
    if (p) return p;
    got = rmem_slab_list_alloc_batch(l, f->st[t], want, true);
    if (got == 0) return NULL; /* ENOMEM recorded */
  }
  /* the batch is in address order: hand out the lowest first */
  for (uint32_t a = 0, b = got - 1; a < b; a++, b--) {
    uint32_t x = f->st[t][a];
    f->st[t][a] = f->st[t][b];
    f->st[t][b] = x;
  }
  return front_pop(h, t, got);
}

/* One block of class tag t: the front, else a refill. NULL + ENOMEM. */
static void *class_alloc(rmem_heap_t *h, uint32_t t) {
  uint32_t n = h->front.n[t];
  return n ? front_pop(h, t, n) : front_refill(h, t);
}

/* Gives back the blocks h's stacks hold and every empty slab of h; returns slabs released. */
static size_t heap_trim(rmem_heap_t *h) {
  front_flush_all(h);
  size_t n = 0;
  for (uint32_t c = 0; c < h->nclasses; c++) n += rmem_slab_list_shrink(&h->cls[c]);
  return n;
}

/*
 * heap_trim for an orphan that was trimmed when its thread ended and has just
 * drained: only the classes the drain put blocks on hold anything, so only
 * those are flushed and lose the slabs that emptied. A remote free into an
 * orphan does this at every free (larson-sized: the successors of an ended
 * thread free its blocks one by one), where a whole heap_trim looked at every
 * class's front and slab list each time.
 */
static void orphan_tidy(rmem_heap_t *h) {
  for (uint32_t t = 1; t <= h->nclasses; t++)
    if (h->front.n[t] || h->dn[t]) {
      front_flush(h, t);
      rmem_slab_list_drop_empty(&h->cls[t - 1]);
    }
}

/* ------------------------------------------------------------------------
 * Thread heaps of a shared instance
 * ------------------------------------------------------------------------ */

/* Takes heap h for this thread or for a moment (0 -> 1); false if someone holds it. */
static bool heap_trylock(rmem_heap_t *h) {
  uint32_t s = atomic_load_explicit(&h->state, memory_order_acquire);
  if (s != RMEM_HS_ORPHAN) return false;
  return atomic_compare_exchange_strong_explicit(&h->state, &s, RMEM_HS_ACTIVE, memory_order_acquire,
                                                 memory_order_relaxed);
}

/* h (not the caller's) is another thread's or quarantined: not ours to change, even for a moment. */
static bool held_elsewhere(rmem_heap_t *h) {
  uint32_t s = atomic_load_explicit(&h->state, memory_order_acquire);
  return s == RMEM_HS_ACTIVE || s == RMEM_HS_QUARANTINED;
}

static void heap_orphan(rmem_heap_t *h) { atomic_store_explicit(&h->state, RMEM_HS_ORPHAN, memory_order_seq_cst); }
static void orphan_settle(rmem_heap_t *h);

/* In a fork child: every heap another thread owned (or held for a moment) at the fork is quarantined. */
void rmem_heap_fork_child(rmem_t *r) {
  rmem_heap_t *mine = rmem_thread_get(r);
  uint32_t n = atomic_load_explicit(&r->nheaps, memory_order_relaxed);
  for (uint32_t id = 1; id <= n; id++) {
    rmem_heap_t *h = r->heaps[id];
    if (h && h != mine && atomic_load_explicit(&h->state, memory_order_relaxed) == RMEM_HS_ACTIVE) {
      atomic_store_explicit(&h->state, RMEM_HS_QUARANTINED, memory_order_relaxed);
      __atomic_store_n(&h->fast, 0, __ATOMIC_RELAXED);
    }
  }
}

/*
 * h was just orphaned. A remote free that came while h was held (its trylock failed) may have left
 * blocks pending: it raised pending before it looked at the state, so whoever lets go of h last sees
 * them -- it, or this loop.
 */
static void orphan_settle(rmem_heap_t *h) {
  while (atomic_load_explicit(&h->pending, memory_order_seq_cst) && heap_trylock(h)) {
    drain(h);
    orphan_tidy(h);
    heap_orphan(h);
  }
}

/* The calling thread's heap ends: drained, trimmed (so an orphan holds no stacked block), orphaned. */
static void heap_thread_exit(rmem_t *r, void *value) {
  rmem_heap_t *h = value;
  (void)r;
  /* a stale rmem_local_t of the thread takes the slow paths now, which see it is not its heap; a bound slot
     holds NULL (R4) */
  heap_unbind(h);
  __atomic_store_n(&h->fast, 0, __ATOMIC_RELAXED);
  drain(h);
  heap_trim(h);
  heap_orphan(h);
  orphan_settle(h);
}

/* Maps and sets up thread heap id of r (under r's lock). NULL + ENOMEM. */
static rmem_heap_t *heap_map(rmem_t *r, uint32_t id) {
  size_t ps = rmem_os_page_size();
  size_t leaf_words = r->capacity >> (RMEM_LIVE_SHIFT + 6);
  size_t w1 = (leaf_words + 63) / 64, w2 = (w1 + 63) / 64, w3 = (w2 + 63) / 64;
  size_t head = (sizeof(rmem_heap_t) + 63) & ~(size_t)63;
  size_t bytes = (head + (w1 + w2 + w3) * sizeof(uint64_t) + ps - 1) & ~(ps - 1);
  char *m = rmem_os_reserve(bytes);
  if (!m) return rmem_fail_null(RMEM_ENOMEM, "cannot map a thread heap");
  rmem_heap_t *h = (rmem_heap_t *)(void *)m;
  heap_init(h, r, id);
  h->map = m;
  h->map_bytes = bytes;
  h->sum1 = (_Atomic uint64_t *)(void *)(m + head);
  h->sum2 = h->sum1 + w1;
  h->sum3 = h->sum2 + w2;
  h->sum_words[0] = w1;
  h->sum_words[1] = w2;
  h->sum_words[2] = w3;
  return h;
}

/* The calling thread's heap of shared instance r: its own, an orphan taken over, or a new one. NULL + error. */
static RMEM_NOINLINE rmem_heap_t *heap_acquire(rmem_t *r) {
  rmem_heap_t *h = rmem_thread_get(r);
  if (h) return h;
  rmem_lock(&r->lock);
  uint32_t n = atomic_load_explicit(&r->nheaps, memory_order_relaxed);
  for (uint32_t id = 1; id <= n && !h; id++)
    if (r->heaps[id] && heap_trylock(r->heaps[id])) {
      h = r->heaps[id];
      r->adoptions++;
    }
  if (!h && n < RMEM_MAX_HEAPS) {
    h = heap_map(r, n + 1);
    if (h) {
      atomic_store_explicit(&h->state, RMEM_HS_ACTIVE, memory_order_relaxed);
      r->heaps[n + 1] = h;
      atomic_store_explicit(&r->nheaps, n + 1, memory_order_release);
    }
  } else if (!h) {
    rmem_fail(RMEM_ENOMEM, "%u threads use this shared instance already (RMEM_SHARED_MAX_THREADS)", RMEM_MAX_HEAPS);
  }
  rmem_unlock(&r->lock);
  if (!h) return NULL;
  if (rmem_thread_bind(r, h, heap_thread_exit) != RMEM_OK) {
    heap_orphan(h);
    return NULL;
  }
  /* the fast paths' one compare: the owner's key (no debug option) */
  __atomic_store_n(&h->fast, RMEM_FLAGS_SLOW(r->flags & ~RMEM_OPT_SHARED) == 0 ? rmem_thread_key() : 0, __ATOMIC_SEQ_CST);
  drain(h); /* an orphan taken over: what others freed meanwhile */
  return h;
}

/* The heap this call of the calling thread works on (NULL + error: a shared instance with no heap to give). */
RMEM_INLINE rmem_heap_t *heap_for(rmem_t *r) {
  if (!rmem_is_shared(r)) return &r->heap;
  rmem_heap_t *h = rmem_thread_get(r);
  return h ? h : heap_acquire(r);
}

/* Marks remote word wi (it went from empty to not) in the summaries of its owner o, bottom up. */
static void summary_mark(rmem_heap_t *o, size_t wi) {
  size_t k1 = wi >> 6, k2 = k1 >> 6, k3 = k2 >> 6;
  if (atomic_fetch_or_explicit(&o->sum1[k1], (uint64_t)1 << (wi & 63), memory_order_acq_rel)) return;
  if (atomic_fetch_or_explicit(&o->sum2[k2], (uint64_t)1 << (k1 & 63), memory_order_acq_rel)) return;
  if (atomic_fetch_or_explicit(&o->sum3[k3], (uint64_t)1 << (k2 & 63), memory_order_acq_rel)) return;
  atomic_store_explicit(&o->pending, 1, memory_order_seq_cst); /* the owner drains at a refill (DRAIN_EVERY) */
}

/*
 * R3: an owner that does not allocate (a thread that filled a table and waits for others to consume it)
 * never drains, and every block other threads free into it stays its memory until it does. Past
 * STRANDED_MAX of such blocks of two pages or more (the bytes that count), each further one has its whole
 * pages given back to the OS by the thread that frees it, at once: larson-sized's main thread, which fills
 * the first tables and only joins, held 14 MiB of freed blocks to the end.
 */
#define STRANDED_MAX ((size_t)2 << 20)

/* True if the caller, about to free a size-byte block of o, is to give its pages back (R3): it is then
   counted in o's purgers, and leaves with an atomic decrement once done. */
static bool purge_enter(rmem_heap_t *o, size_t size) {
  if (atomic_fetch_add_explicit(&o->stranded, size, memory_order_relaxed) + size <= STRANDED_MAX) return false;
  atomic_fetch_add_explicit(&o->purgers, 1, memory_order_seq_cst);
  if (atomic_load_explicit(&o->draining, memory_order_seq_cst) == 0) return true; /* the drain will wait for us */
  atomic_fetch_sub_explicit(&o->purgers, 1, memory_order_release);                /* it is draining: not now */
  return false;
}

/* After a remote free into o: an orphan has no thread to drain it, so whoever gets its lock for a moment does. */
static void orphan_take_back(rmem_heap_t *o) {
  if (atomic_load_explicit(&o->state, memory_order_seq_cst) == RMEM_HS_ORPHAN && heap_trylock(o)) {
    drain(o);
    orphan_tidy(o);
    heap_orphan(o);
    orphan_settle(o);
  }
}

/*
 * The free of a live block at off of heap id (not the caller's): decided by
 * one atomic OR of its remote bit. RMEM_EDOUBLEFREE if another free of it
 * came first (it waits for its owner still). A free that came first and was
 * taken back already is caught before, by lookup (remote bit, then live bit).
 */
static rmem_status_t remote_free(rmem_t *r, uintptr_t off, size_t size, uint32_t id) {
  rmem_heap_t *o = id <= RMEM_MAX_HEAPS ? r->heaps[id] : NULL;
  if (!o) return rmem_fail_at(RMEM_ECORRUPT, r, (void *)(r->base + off), "offset %zu: its page names no heap", (size_t)off);
  bool purge = size >= 2 * RMEM_PAGE_SIZE && purge_enter(o, size);
  _Atomic uint64_t *rw = (_Atomic uint64_t *)(void *)&r->remote[off >> (RMEM_LIVE_SHIFT + 6)];
  uint64_t bit = rmem_live_bit(off), old = atomic_fetch_or_explicit(rw, bit, memory_order_acq_rel);
  if (old & bit) {
    if (purge) atomic_fetch_sub_explicit(&o->purgers, 1, memory_order_release);
    return rmem_fail_at(RMEM_EDOUBLEFREE, r, (void *)(r->base + off),
                        "double free of the block at offset %zu (another free of it came first; its owner has not "
                        "taken it back yet)",
                        (size_t)off);
  }
  if (old == 0) summary_mark(o, off >> (RMEM_LIVE_SHIFT + 6));
  if (purge) { /* R3: no drain can take the block back before this is done */
    rmem_os_decommit((void *)(r->base + off), size);
    atomic_fetch_sub_explicit(&o->purgers, 1, memory_order_release);
  }
  orphan_take_back(o);
  return RMEM_OK;
}

/* The block at off of h (tag t), freed by another thread: it leaves the live bitmap and goes onto h's front. */
static void take_back(rmem_heap_t *h, uint32_t t, uintptr_t off) {
  rmem_assert(rmem_is_live(h->r, off) && "a remote free names a live block of its owner (R1)");
  live_put(h->r, off, false);
  front_push_slow(h, t, (uint32_t)off);
  h->remote_frees++;
}

/*
 * Takes back what other threads freed into h (h is the caller's, or an orphan it holds): everything if
 * want_t is 0; else, in address order, until tag want_t's stack holds what a refill from the slabs would
 * give, leaving the rest marked (R1) for a later drain. The refill before a new slab drains the second
 * way, every DRAIN_EVERY-th the first: a producer whose consumers free all it makes, woken once they had
 * freed a ring of records, got them all back at once, far more than its stacks hold; they went back to
 * their slabs, which emptied and went back to the page source, and the next refills made them again
 * (146k slabs for 3.2M records of 1 KiB in the JS shared-heap benchmark, two rounds of the instance lock
 * each way; 1k so). What a partial drain looks at it takes back, so it costs no more than a whole one.
 */
static RMEM_NOINLINE void drain_some(rmem_heap_t *h, uint32_t want_t) {
  bool all = want_t == 0;
  if (!heap_shared(h) || !atomic_load_explicit(&h->pending, memory_order_acquire)) return;
  rmem_t *r = h->r;
  /* R3: no thread gives pages of a block back while the drain may take the block back */
  atomic_store_explicit(&h->draining, 1, memory_order_seq_cst);
  while (atomic_load_explicit(&h->purgers, memory_order_seq_cst)) rmem_yield();
  /* R3 counts what an owner that does not allocate strands: one that drains allocates */
  atomic_store_explicit(&h->stranded, 0, memory_order_relaxed);
  atomic_store_explicit(&h->pending, 0, memory_order_relaxed);
  bool left = false; /* words stay marked: pending again at the end */
  /* a partial drain is done once the refill's stack holds what a refill from the slabs would give */
  uint32_t want = all ? 0 : (h->front.cap[want_t] + 1u) / 2u;
  bool done = false;
  for (size_t j = 0; j < h->sum_words[2]; j++) {
    /* most sum3 words of a large range are 0: read before the exchange (a locked instruction) */
    uint64_t s3 = atomic_load_explicit(&h->sum3[j], memory_order_relaxed)
                      ? atomic_exchange_explicit(&h->sum3[j], 0, memory_order_acq_rel)
                      : 0;
    uint64_t back3 = 0; /* what is left is marked again, bottom up */
    for (; s3; s3 &= s3 - 1) {
      size_t k2 = j * 64 + (size_t)__builtin_ctzll(s3);
      if (done) { /* the refill is served: the sum2 words below stay as they are */
        back3 |= s3;
        break;
      }
      uint64_t back2 = 0;
      for (uint64_t s2 = atomic_exchange_explicit(&h->sum2[k2], 0, memory_order_acq_rel); s2; s2 &= s2 - 1) {
        size_t k1 = k2 * 64 + (size_t)__builtin_ctzll(s2);
        if (done) { /* the sum1 words below stay as they are */
          back2 |= s2;
          break;
        }
        uint64_t s1 = atomic_exchange_explicit(&h->sum1[k1], 0, memory_order_acq_rel), back1 = 0;
        for (; s1; s1 &= s1 - 1) {
          size_t wi = k1 * 64 + (size_t)__builtin_ctzll(s1);
          uintptr_t at = (uintptr_t)wi << (RMEM_LIVE_SHIFT + 6);
          /* a word lies in one page; a page that is no longer this heap's slab (a stale free raced with
             its release) is not this heap's to drain */
          uint32_t t = rmem_tag_at(r, at) - h->tag_base;
          if (t - 1u >= h->nclasses) continue;
          _Atomic uint64_t *rw = (_Atomic uint64_t *)(void *)&r->remote[wi];
          uint64_t m = atomic_load_explicit(rw, memory_order_acquire);
          if (done && m) {
            back1 = s1; /* this word and the rest of the sum1 word stay */
            break;
          }
          while (m) {
            /* a bit on a block that is not live came from two frees of it at once (a race in the program,
               R1): it is cleared, never taken back twice */
            for (uint64_t b = m & h->live[wi]; b; b &= b - 1)
              take_back(h, t, at + ((uintptr_t)__builtin_ctzll(b) << RMEM_LIVE_SHIFT));
            /* the blocks are off the live bitmap before their remote bits clear: a free that reads the
               remote bit and then the live bit (lookup) sees the one set or the other clear */
            m = atomic_fetch_and_explicit(rw, ~m, memory_order_acq_rel) & ~m;
          }
          done = !all && h->front.n[want_t] >= want;
        }
        if (back1) {
          atomic_fetch_or_explicit(&h->sum1[k1], back1, memory_order_acq_rel);
          back2 |= (uint64_t)1 << (k1 & 63);
        }
      }
      if (back2) {
        atomic_fetch_or_explicit(&h->sum2[k2], back2, memory_order_acq_rel);
        back3 |= (uint64_t)1 << (k2 & 63);
      }
    }
    if (back3) {
      atomic_fetch_or_explicit(&h->sum3[j], back3, memory_order_acq_rel);
      left = true;
    }
    if (done) { /* the sum3 words past j stay as they are */
      left = true;
      break;
    }
  }
  if (left) atomic_store_explicit(&h->pending, 1, memory_order_seq_cst);
  atomic_store_explicit(&h->draining, 0, memory_order_release);
}

static void drain(rmem_heap_t *h) { drain_some(h, 0); }

/* fn for every heap of r this thread may touch now: its own, and orphans it can hold for the moment. */
static void each_reachable_heap(rmem_t *r, void (*fn)(rmem_heap_t *h, void *arg), void *arg) {
  if (!rmem_is_shared(r)) {
    fn(&r->heap, arg);
    return;
  }
  rmem_heap_t *mine = rmem_thread_get(r);
  uint32_t n = atomic_load_explicit(&r->nheaps, memory_order_acquire);
  for (uint32_t id = 1; id <= n; id++) {
    rmem_heap_t *h = r->heaps[id];
    if (!h) continue;
    if (h == mine) {
      fn(h, arg);
    } else if (heap_trylock(h)) {
      fn(h, arg);
      heap_orphan(h);
      orphan_settle(h);
    }
  }
}

static void trim_one(rmem_heap_t *h, void *arg) {
  drain(h);
  *(size_t *)arg += heap_trim(h);
}

/* The page source is exhausted: give back the blocks the stacks hold and every empty slab. */
static size_t heap_reclaim(rmem_t *r) {
  size_t n = 0;
  each_reachable_heap(r, trim_one, &n);
  return n;
}

/* ------------------------------------------------------------------------
 * Lookup: what a pointer is to the heap
 * ------------------------------------------------------------------------ */

typedef struct block {
  uint32_t tag;   /* page tag of a live slab block, 0 for a page run */
  uint32_t page;  /* first page of a page-run block */
  size_t size;    /* usable bytes */
} block_t;

/* A heap block's class tag (1..) from its page tag, or 0 if the page is no heap slab's. */
RMEM_INLINE uint32_t class_tag(uint32_t tag) {
  uint32_t t = tag & ((1u << RMEM_TAG_CLASS_BITS) - 1);
  return tag < RMEM_TAG_CACHE && t - 1u < nclasses ? t : 0;
}

/*
 * The live heap block at p, or the reason it is none (recorded). For free, a
 * slot start that is not live is a double free; for every other call it is
 * "not a live block" (RMEM_EBADPTR): only a free can be a double free. A
 * block another thread freed already and its owner has not taken back is
 * not live either.
 */
static rmem_status_t lookup(rmem_t *r, uintptr_t p, block_t *b, bool is_free) {
  if (!rmem_in_range(r, p))
    return rmem_fail_at(RMEM_EBADPTR, r, (void *)p, "%p is not in this rmem instance's range", (void *)p);
  uintptr_t off = p - r->base;
  uint32_t tag = rmem_tag_at(r, off), t = class_tag(tag);
  /* the remote bit first, then the live bit: the owner takes a block back by clearing its live bit and
     then its remote bit (drain), so a free that came before this call is seen in one or the other */
  bool remote = r->remote && t &&
                (__atomic_load_n(&r->remote[off >> (RMEM_LIVE_SHIFT + 6)], __ATOMIC_ACQUIRE) & rmem_live_bit(off));
  if (t && rmem_is_live(r, off)) {
    if (remote) {
      if (is_free)
        return rmem_fail_at(RMEM_EDOUBLEFREE, r, (void *)p,
                            "double free of the block at offset %zu (another thread freed it already)", (size_t)off);
      return rmem_fail_at(RMEM_EBADPTR, r, (void *)p, "offset %zu is not a live block (it was freed)", (size_t)off);
    }
    b->tag = tag;
    b->page = 0;
    b->size = class_sizes[t - 1];
    return RMEM_OK;
  }
  const rmem_pme_t *pme = rmem_pme_of(r, p);
  switch (pme->kind) {
    case RMEM_PK_SLAB: {
      rmem_status_t st = rmem_front_refuse(r, off, "the heap");
      if (st == RMEM_EDOUBLEFREE && !is_free)
        return rmem_fail_at(RMEM_EBADPTR, r, (void *)p, "offset %zu is not a live block (it was freed)", (size_t)off);
      return st;
    }
    case RMEM_PK_LARGE:
      if ((p & (RMEM_PAGE_SIZE - 1)) != 0 || !(pme->flags & RMEM_PF_HEAD))
        return rmem_fail_at(RMEM_EBADPTR, r, (void *)p, "offset %zu points into a large block, not at its start",
                            (size_t)off);
      b->tag = 0;
      b->page = rmem_page_index(r, p);
      b->size = (size_t)pme->len << RMEM_PAGE_SHIFT;
      return RMEM_OK;
    case RMEM_PK_FREE:
      if ((p & (RMEM_PAGE_SIZE - 1)) == 0 && rmem_pages_freed_inside(r, rmem_page_index(r, p)))
        return rmem_fail_at(RMEM_EBADPTR, r, (void *)p, "offset %zu points into a freed large block, not at its start",
                            (size_t)off);
      if (is_free && (p & (RMEM_PAGE_SIZE - 1)) == 0)
        return rmem_fail_at(RMEM_EDOUBLEFREE, r, (void *)p,
                            "double free: offset %zu is in free pages (already freed)", (size_t)off);
      return rmem_fail_at(RMEM_EBADPTR, r, (void *)p, "offset %zu is in free pages, not a live block", (size_t)off);
    case RMEM_PK_ARENA:
      return rmem_fail_at(RMEM_EBADPTR, r, (void *)p, "offset %zu belongs to an arena, not to the heap", (size_t)off);
    case RMEM_PK_MEMS:
      return rmem_fail_at(RMEM_EBADPTR, r, (void *)p, "offset %zu belongs to MeMS, not to the heap", (size_t)off);
    default:
      return rmem_fail_at(RMEM_EBADPTR, r, (void *)p, "offset %zu was never allocated", (size_t)off);
  }
}

/* ------------------------------------------------------------------------
 * Debug options (RMEM_OPT_JUNK / RMEM_OPT_VALIDATE), off the fast path
 * ------------------------------------------------------------------------ */

static RMEM_NOINLINE void *debug_alloc(rmem_t *r, void *p, size_t n) {
  if (p && (r->flags & RMEM_OPT_JUNK)) rmem_track_memset(r, p, 0xAB, n);
  if (r->flags & RMEM_OPT_VALIDATE) rmem_validate_after(r);
  return p;
}

/* ------------------------------------------------------------------------
 * Allocation
 * ------------------------------------------------------------------------ */

static void *alloc_large(rmem_t *r, size_t size, uint32_t align_pages) {
  size_t pages = (size + RMEM_PAGE_SIZE - 1) >> RMEM_PAGE_SHIFT;
  if (pages >= r->npages)
    return rmem_fail_null(RMEM_ENOMEM, "%zu bytes exceed the instance's capacity of %zu", size, r->capacity);
  uint32_t first = rmem_pages_alloc(r, (uint32_t)pages, align_pages, RMEM_PK_LARGE, 0);
  if (!first) return NULL; /* ENOMEM recorded */
  rmem_shared_lock(r);
  r->large_blocks++;
  r->large_pages += pages;
  rmem_shared_unlock(r);
  return (void *)rmem_page_addr(r, first);
}

/* An allocation of size bytes (1 <= size, checked) from heap h. */
static void *heap_alloc(rmem_heap_t *h, size_t size) {
  rmem_t *r = h->r;
  size = (size + 7) & ~(size_t)7; /* the seed's 8-byte padding */
  if (size < min_size(r)) size = min_size(r);
  void *p;
  if (size <= RMEM_HEAP_TABLE_MAX) {
    p = class_alloc(h, h->front.tag_of[size >> 3]);
  } else {
    p = alloc_large(r, size, 1);
    if (p) h->allocs++;
  }
  if (RMEM_UNLIKELY(r->flags & (RMEM_OPT_JUNK | RMEM_OPT_VALIDATE))) return debug_alloc(r, p, size);
  return p;
}

static bool size_ok(size_t size) {
  if (size == 0) {
    rmem_fail(RMEM_EINVAL, "r_alloc: size 0 (sizes start at 1)");
    return false;
  }
  if (size > SIZE_MAX - 7 || size > RMEM_MAX_CAPACITY) {
    rmem_fail(RMEM_ERANGE, "r_alloc: size %zu is too large", size);
    return false;
  }
  return true;
}

/* Everything rmem_alloc's fast path does not serve, the block marked for the tools (track.h). A shared
   instance has no fast path there: the calling thread's heap's own comes first (rmem_realloc's moves of
   espresso paid about 310 instructions each besides the copy without it). */
static RMEM_NOINLINE void *alloc_slow(rmem_t *r, size_t size) {
  if (!rmem_check_instance(r) || !size_ok(size)) return NULL;
  rmem_heap_t *h = heap_for(r);
  if (!h) return NULL;
  void *p;
  if (rmem_is_shared(r) && rmem_heap_alloc_as(h, rmem_tkey, size, &p)) return p; /* marked by it */
  return rmem_track_block(r, heap_alloc(h, size), size);
}

/* The fast path: a live instance without debug options, a size with a table entry, a block on its stack. */
void *rmem_alloc(rmem_t *r, size_t size) {
  if (RMEM_LIKELY(r != NULL && size - 1 < RMEM_HEAP_TABLE_MAX && r->fast == RMEM_FAST)) {
    rmem_front_t *f = &r->heap.front;
    uintptr_t t = f->tag_of[((size - 1) >> 3) + 1] /* (size + 7) >> 3, from the size - 1 just compared */, n;
    if (RMEM_LIKELY(!__builtin_sub_overflow((uintptr_t)f->n[t], (uintptr_t)1, &n))) { /* a borrow: empty */
      uint32_t off = f->top[t]; /* the newest block, checked against the stack (the branch is predicted) */
      if (RMEM_UNLIKELY(off != f->st_flat[t * RMEM_FRONT_CAP + n])) return alloc_slow(r, size);
      f->n[t] = (uint8_t)n;
      f->top[t] = f->st_flat[t * RMEM_FRONT_CAP + n - 1]; /* tag t >= 1: in the rows even for n == 0 */
      f->allocs++;
      r->live[off >> (RMEM_LIVE_SHIFT + 6)] |= rmem_live_bit(off); /* private: no other thread reads it */
      return rmem_track_alloc(r, (void *)(r->base + off), size, r->heap.cls[t - 1].bsize);
    }
  }
  return alloc_slow(r, size);
}

/* Is l a thread heap of a live shared instance? Records the error if not. */
static bool local_ok(const rmem_local_t *l) {
  if (l && l->id && l->r && l->r->magic == RMEM_MAGIC && l->id <= RMEM_MAX_HEAPS && l->r->heaps[l->id] == l) return true;
  rmem_fail(RMEM_EINVAL, "not the heap of a live shared instance (rmem_local)");
  return false;
}

/* l is the calling thread's heap now (not released, not ended, not another thread's)? */
RMEM_INLINE bool local_mine(rmem_local_t *l) { return rmem_thread_get(l->r) == l; }


static RMEM_NOINLINE void *local_alloc_slow(rmem_local_t *h, size_t size) {
  if (!local_ok(h)) return NULL;
  if (!local_mine(h)) return rmem_alloc(h->r, size); /* a stale heap: the caller's own, as rmem_alloc would */
  if (!size_ok(size)) return NULL;
  return rmem_track_block(h->r, heap_alloc(h, size), size); /* its refill drains when it is due (front_refill) */
}

void *rmem_local_alloc(rmem_local_t *h, size_t size) {
  void *p = rmem_heap_alloc_fast(h, size);
  return RMEM_LIKELY(p != NULL) ? p : local_alloc_slow(h, size);
}

_Static_assert(RMEM_LOCAL_TRY_MAX == RMEM_HEAP_TABLE_MAX, "rmem.h names the fast path's limit");
void *rmem_local_try_alloc(rmem_local_t *h, size_t size) { return rmem_heap_alloc_fast(h, size); }

void *rmem_local_owned_try_alloc(rmem_local_t *h, size_t size) {
  void *p;
  return h != NULL && rmem_heap_alloc_owned(h, size, &p) ? p : NULL; /* h came from a bound slot (R4) */
}

int rmem_local_bind(rmem_local_t *h, rmem_local_t **slot) {
  /* h is any pointer the caller has: it is bound only if it is a heap whose fast word holds this thread's key
     (the thread's heap, fast paths on), which no stale or foreign pointer of a live instance's heap does */
  bool mine = h != NULL && __atomic_load_n(&h->fast, __ATOMIC_RELAXED) == rmem_thread_key();
  if (mine && h->slot != slot) heap_unbind(h);
  if (slot) *slot = mine ? h : NULL;
  if (mine) h->slot = slot;
  return mine;
}

rmem_local_t *rmem_local(rmem_t *r) {
  if (!rmem_check_instance(r)) return NULL;
  if (!rmem_is_shared(r)) return rmem_fail_null(RMEM_EPERM, "rmem_local: the instance is not shared (RMEM_OPT_SHARED)");
  return heap_for(r);
}

rmem_status_t rmem_local_release(rmem_t *r) {
  if (!rmem_check_instance(r)) return rmem_last_error();
  if (!rmem_is_shared(r)) return rmem_fail(RMEM_EPERM, "rmem_local_release: the instance is not shared");
  rmem_heap_t *h = rmem_thread_get(r);
  if (!h) return RMEM_OK;
  rmem_thread_unbind(r);
  heap_thread_exit(r, h);
  return RMEM_OK;
}

void *rmem_calloc(rmem_t *r, size_t n, size_t size) {
  if (!rmem_check_instance(r)) return NULL;
  if (size != 0 && n > SIZE_MAX / size) return rmem_fail_null(RMEM_ERANGE, "calloc: %zu * %zu overflows", n, size);
  void *p = rmem_alloc(r, n * size);
  if (p) memset(p, 0, n * size);
  return p;
}

void *rmem_aligned_alloc(rmem_t *r, size_t alignment, size_t size) {
  if (!rmem_check_instance(r)) return NULL;
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    return rmem_fail_null(RMEM_EINVAL, "aligned_alloc: alignment %zu is not a power of two", alignment);
  if (alignment > ((size_t)1 << 30)) return rmem_fail_null(RMEM_EINVAL, "aligned_alloc: alignment %zu above 1 GiB", alignment);
  if (size == 0) return rmem_fail_null(RMEM_EINVAL, "aligned_alloc: size 0");
  if (size > RMEM_MAX_CAPACITY) return rmem_fail_null(RMEM_ERANGE, "aligned_alloc: size %zu is too large", size);
  size = (size + 7) & ~(size_t)7;
  if (alignment <= 8) return rmem_alloc(r, size);
  rmem_heap_t *h = heap_for(r);
  if (!h) return NULL;
  if (alignment <= RMEM_PAGE_SIZE && size <= RMEM_SMALL_MAX) {
    /* slots sit at multiples of the class size from a page boundary: a class that is a
       multiple of the alignment gives aligned blocks (and its stack holds only its own) */
    for (uint32_t c = class_search(size); c < h->nclasses; c++) {
      if (class_sizes[c] % alignment == 0) {
        void *p = class_alloc(h, c + 1);
        if (p && ((uintptr_t)p & (alignment - 1)) != 0) {
          /* a block the class borrowed from the next one up: not aligned; give it back, take its own */
          uintptr_t off = (uintptr_t)p - r->base;
          live_put(r, off, false);
          front_push_slow(h, rmem_tag_at(r, off) - h->tag_base, (uint32_t)off);
          p = rmem_slab_list_alloc(&h->cls[c]);
          if (p) {
            h->front.allocs++;
            live_put(r, (uintptr_t)p - r->base, true);
          }
        }
        (void)rmem_track_block(r, p, size);
        if (RMEM_UNLIKELY(r->flags & (RMEM_OPT_JUNK | RMEM_OPT_VALIDATE))) return debug_alloc(r, p, size);
        return p;
      }
    }
  }
  size_t align_pages = alignment <= RMEM_PAGE_SIZE ? 1 : alignment >> RMEM_PAGE_SHIFT;
  if (align_pages >= r->npages)
    return rmem_fail_null(RMEM_ENOMEM, "aligned_alloc: alignment %zu exceeds the instance", alignment);
  void *p = alloc_large(r, size, (uint32_t)align_pages);
  if (p) h->allocs++;
  (void)rmem_track_block(r, p, size);
  if (RMEM_UNLIKELY(r->flags & (RMEM_OPT_JUNK | RMEM_OPT_VALIDATE))) return debug_alloc(r, p, size);
  return p;
}

/* ------------------------------------------------------------------------
 * Free
 * ------------------------------------------------------------------------ */

/* A free from heap h (the caller's; NULL: a thread of a shared instance that has no heap). */
static rmem_status_t heap_free(rmem_t *r, rmem_heap_t *h, void *ptr) {
  if (ptr == NULL) return RMEM_OK;
  block_t b = {0, 0, 0};
  rmem_status_t st = lookup(r, (uintptr_t)ptr, &b, true);
  if (st != RMEM_OK) return st;
  uintptr_t off = (uintptr_t)ptr - r->base;
  if (b.tag && (!h || b.tag - h->tag_base - 1u >= h->nclasses)) {
    /* another thread's block (its page's tag names another heap) */
    rmem_track_free(r, ptr, b.size); /* before the owner can see it free, take it back and hand it out again */
    st = remote_free(r, off, b.size, b.tag >> RMEM_TAG_CLASS_BITS);
  } else if (b.tag) {
    if (r->flags & RMEM_OPT_JUNK) rmem_track_memset(r, ptr, 0xDF, b.size); /* checked first: a bad free never scribbles */
    rmem_track_free(r, ptr, b.size);
    live_put(r, off, false);
    front_push_slow(h, b.tag - h->tag_base, (uint32_t)off);
  } else {
    if (r->flags & RMEM_OPT_JUNK) rmem_track_memset(r, ptr, 0xDF, b.size);
    rmem_track_free(r, ptr, b.size); /* before its pages can be anyone else's */
    uint32_t len = r->pm[b.page].len;
    if (!rmem_pages_free_run(r, b.page, RMEM_PK_LARGE))
      return rmem_fail_at(RMEM_EDOUBLEFREE, r, ptr, "double free of the large block at offset %zu", (size_t)off);
    rmem_shared_lock(r);
    r->large_blocks--;
    r->large_pages -= len;
    rmem_shared_unlock(r);
    if (h) h->frees++;
  }
  if (st == RMEM_OK && (r->flags & RMEM_OPT_VALIDATE)) rmem_validate_after(r);
  return st;
}

static RMEM_NOINLINE rmem_status_t free_slow(rmem_t *r, void *ptr) {
  if (ptr == NULL) return RMEM_OK;
  if (!rmem_check_instance(r)) return rmem_last_error();
  /* a thread of a shared instance that only frees needs no heap: every block is another's to it */
  rmem_heap_t *h = rmem_is_shared(r) ? rmem_thread_get(r) : &r->heap;
  if (rmem_is_shared(r) && rmem_heap_free_fast(h, ptr)) return RMEM_OK; /* its heap's fast path (alloc_slow) */
  return heap_free(r, h, ptr);
}

/* The fast path: a live block of a heap class (its live bit and its page's tag, read side by side), room on its stack. */
rmem_status_t rmem_free(rmem_t *r, void *ptr) {
  if (RMEM_LIKELY(r != NULL && r->fast == RMEM_FAST)) {
    uintptr_t off = (uintptr_t)ptr - r->base, g = rmem_grain_of(off);
    if (RMEM_LIKELY(g < r->grains)) { /* in range and 8-aligned (g is off / 8 then) */
      uint64_t *w = &r->live[g >> 6], m = *w;
      uintptr_t t = rmem_tag_at(r, off);
      rmem_front_t *f = &r->heap.front;
      if (RMEM_LIKELY(rmem_bit_test(m, g) && t - 1u < RMEM_HEAP_CLASSES)) {
        uintptr_t n = f->n[t];
        if (RMEM_LIKELY(n < f->cap[t])) {
          *w = rmem_bit_clear(m, g); /* a private instance: no other thread reads its live words */
          f->st[t][n] = (uint32_t)off;
          f->top[t] = (uint32_t)off;
          f->n[t]++;
          f->frees++;
          rmem_track_free(r, ptr, r->heap.cls[t - 1].bsize);
          return RMEM_OK;
        }
      }
    }
  }
  return free_slow(r, ptr);
}

static RMEM_NOINLINE rmem_status_t local_free_slow(rmem_local_t *h, void *ptr) {
  if (ptr == NULL) return RMEM_OK;
  if (!local_ok(h)) return rmem_last_error();
  if (!local_mine(h)) return heap_free(h->r, rmem_thread_get(h->r), ptr); /* a stale heap: as rmem_free */
  return heap_free(h->r, h, ptr);
}

rmem_status_t rmem_local_free(rmem_local_t *h, void *ptr) {
  return RMEM_LIKELY(rmem_heap_free_fast(h, ptr)) ? RMEM_OK : local_free_slow(h, ptr);
}

int rmem_local_try_free(rmem_local_t *h, void *ptr) { return rmem_heap_free_fast(h, ptr); }

int rmem_local_owned_try_free(rmem_local_t *h, void *ptr) { return h != NULL && rmem_heap_free_owned(h, ptr); }

/* ------------------------------------------------------------------------
 * Batches, usable size, realloc
 * ------------------------------------------------------------------------ */

size_t rmem_alloc_batch(rmem_t *r, size_t size, void **out, size_t n) {
  if (!rmem_check_instance(r)) return 0;
  if (!out && n) {
    rmem_fail(RMEM_EINVAL, "alloc_batch: NULL output");
    return 0;
  }
  size_t k = 0;
  for (; k < n; k++) {
    void *p = rmem_alloc(r, size);
    if (!p) break;
    out[k] = p;
  }
  return k;
}

size_t rmem_free_batch(rmem_t *r, void *const *ptrs, size_t n) {
  if (!rmem_check_instance(r)) return n;
  if (!ptrs && n) {
    rmem_fail(RMEM_EINVAL, "free_batch: NULL array");
    return n;
  }
  size_t refused = 0;
  rmem_error_info_t first;
  char msg[256];
  for (size_t k = 0; k < n; k++) {
    if (rmem_free(r, ptrs[k]) == RMEM_OK) continue;
    if (refused++ == 0) {
      rmem_last_error_info(&first);
      snprintf(msg, sizeof msg, "%s", first.message);
    }
  }
  if (refused) rmem_fail_at(first.code, r, first.ptr, "%s", msg); /* the first refusal is the one to report */
  return refused;
}

static size_t usable_slow(rmem_t *r, const void *ptr) {
  if (!rmem_check_instance(r)) return 0;
  if (!ptr) {
    rmem_fail(RMEM_EBADPTR, "usable_size: NULL");
    return 0;
  }
  block_t b = {0, 0, 0};
  return lookup(r, (uintptr_t)ptr, &b, false) == RMEM_OK ? b.size : 0;
}

size_t rmem_usable_size(rmem_t *r, const void *ptr) {
  rmem_track_claim(r, ptr); /* asking for it claims it (track.h) */
  if (RMEM_LIKELY(r != NULL && r->fast == RMEM_FAST)) {
    uintptr_t off = (uintptr_t)ptr - r->base;
    if (RMEM_LIKELY(off < r->capacity && rmem_is_live(r, off))) {
      uint32_t t = rmem_tag_at(r, off);
      if (RMEM_LIKELY(t - 1u < r->heap.nclasses)) return r->heap.cls[t - 1].bsize;
    }
  }
  return usable_slow(r, ptr);
}

/* The fast path: a live block of any heap's class (not freed by another thread yet); every heap has the same classes. */
size_t rmem_local_usable_size(rmem_local_t *l, const void *ptr) {
  rmem_track_claim(l ? l->r : NULL, ptr); /* asking for it claims it (track.h) */
  if (RMEM_LIKELY(l != NULL && __atomic_load_n(&l->fast, __ATOMIC_RELAXED) == rmem_tkey)) {
    uintptr_t off = (uintptr_t)ptr - l->base;
    if (RMEM_LIKELY(off < l->capacity && (off & (RMEM_LIVE_GRAIN - 1)) == 0)) {
      uint64_t m = __atomic_load_n(&l->live[off >> (RMEM_LIVE_SHIFT + 6)], __ATOMIC_RELAXED);
      uint64_t rm = __atomic_load_n(&l->remote[off >> (RMEM_LIVE_SHIFT + 6)], __ATOMIC_RELAXED);
      uint32_t tag = __atomic_load_n(&l->ptag[off >> RMEM_PAGE_SHIFT], __ATOMIC_RELAXED), t = tag & ((1u << RMEM_TAG_CLASS_BITS) - 1);
      if (RMEM_LIKELY(((m & ~rm) & rmem_live_bit(off)) != 0 && tag < RMEM_TAG_CACHE && t - 1u < l->nclasses))
        return l->cls[t - 1].bsize;
    }
  }
  if (!local_ok(l)) return 0;
  return usable_slow(l->r, ptr);
}

void *rmem_realloc(rmem_t *r, void *ptr, size_t size) {
  if (!rmem_check_instance(r)) return NULL;
  if (ptr == NULL) return rmem_alloc(r, size);
  if (size == 0) return rmem_fail_null(RMEM_EINVAL, "realloc: size 0 (use free)");
  if (size > RMEM_MAX_CAPACITY) return rmem_fail_null(RMEM_ERANGE, "realloc: size %zu is too large", size);
  block_t b = {0, 0, 0};
  if (lookup(r, (uintptr_t)ptr, &b, false) != RMEM_OK) return NULL;
  size_t padded = (size + 7) & ~(size_t)7;
  if (b.tag) {
    /* stay in place if the new size still fits and uses at least half of the block */
    if (padded <= b.size && (padded * 2 >= b.size || b.size <= 16)) return rmem_track_resize(r, ptr, size, b.size, b.size);
  } else {
    uint32_t len = r->pm[b.page].len;
    size_t want_pages = (padded + RMEM_PAGE_SIZE - 1) >> RMEM_PAGE_SHIFT;
    if (padded > RMEM_SMALL_MAX) {
      if (want_pages <= len) {
        (void)rmem_track_resize(r, ptr, size, b.size, b.size); /* before the freed pages go */
        if (want_pages < len) {
          rmem_pages_shrink(r, b.page, (uint32_t)want_pages);
          rmem_shared_lock(r);
          r->large_pages -= len - want_pages;
          rmem_shared_unlock(r);
        }
        return ptr;
      }
      if (want_pages < r->npages && rmem_pages_grow(r, b.page, (uint32_t)want_pages)) {
        rmem_shared_lock(r);
        r->large_pages += want_pages - len;
        rmem_shared_unlock(r);
        return rmem_track_resize(r, ptr, size, b.size, want_pages << RMEM_PAGE_SHIFT);
      }
    }
  }
  void *q = rmem_alloc(r, size);
  if (!q) return NULL; /* ptr stays valid */
  rmem_track_memcpy(r, q, ptr, b.size < size ? b.size : size);
  rmem_free(r, ptr);
  return q;
}

rmem_status_t rmem_front_layout(rmem_t *r, rmem_front_layout_t *out) {
  if (!rmem_check_instance(r)) return rmem_last_error();
  if (!out) return rmem_fail(RMEM_EINVAL, "front_layout: NULL output");
  rmem_heap_t *h = heap_for(r);
  if (!h) return rmem_last_error();
  rmem_front_t *f = &h->front;
  memset(out, 0, sizeof *out);
  out->version = RMEM_FRONT_LAYOUT_VERSION;
  /* (not where the tool's marks are on: a binding's pops would skip them) */
  out->fast = (rmem_is_shared(r) ? RMEM_FLAGS_SLOW(r->flags & ~RMEM_OPT_SHARED) == 0 : r->fast == RMEM_FAST) && !rmem_tracking(r);
  out->live = r->live;
  out->live_bytes = r->capacity >> (RMEM_LIVE_SHIFT + 3);
  out->remote = r->remote;
  out->tags = r->ptag;
  out->ntags = r->npages;
  out->tag_base = h->tag_base;
  out->n = f->n;
  out->cap = f->cap;
  out->tag_of = f->tag_of;
  out->stacks = &f->st[0][0];
  out->stride = RMEM_FRONT_CAP;
  out->nclasses = h->nclasses;
  out->table_max = RMEM_HEAP_TABLE_MAX;
  out->tag_class_bits = RMEM_TAG_CLASS_BITS;
  out->tag_cache = RMEM_TAG_CACHE;
  if (rmem_is_shared(r)) {
    out->fast_word = &h->fast;
    out->fast_key = rmem_thread_key();
    /* the classes under two pages: a remote free of a larger block may give its pages back (R3) */
    while (out->remote_classes < h->nclasses && class_sizes[out->remote_classes] < 2 * RMEM_PAGE_SIZE)
      out->remote_classes++;
  }
  return RMEM_OK;
}

/* Thread heap id of shared instance r, or NULL + EINVAL. */
static rmem_heap_t *heap_by_id(rmem_t *r, uint32_t id, const char *what) {
  if (!rmem_is_shared(r)) return rmem_fail_null(RMEM_EINVAL, "%s: not a shared instance", what);
  uint32_t n = atomic_load_explicit(&r->nheaps, memory_order_acquire);
  if (id == 0 || id > n || !r->heaps[id]) return rmem_fail_null(RMEM_EINVAL, "%s: heap %u does not exist", what, id);
  return r->heaps[id];
}

rmem_status_t rmem_remote_layout(rmem_t *r, uint32_t heap, rmem_remote_layout_t *out) {
  if (!rmem_check_instance(r)) return rmem_last_error();
  if (!out) return rmem_fail(RMEM_EINVAL, "remote_layout: NULL output");
  rmem_heap_t *o = heap_by_id(r, heap, "remote_layout");
  if (!o) return rmem_last_error();
  memset(out, 0, sizeof *out);
  out->version = RMEM_FRONT_LAYOUT_VERSION;
  out->orphan = RMEM_HS_ORPHAN;
  /* heap_map lays the three levels out one after the other */
  rmem_assert(o->sum2 == o->sum1 + o->sum_words[0] && o->sum3 == o->sum2 + o->sum_words[1]);
  out->sum = (uint64_t *)(void *)o->sum1;
  out->sum_at[1] = o->sum_words[0];
  out->sum_at[2] = o->sum_words[0] + o->sum_words[1];
  out->sum_words = out->sum_at[2] + o->sum_words[2];
  out->pending = (uint32_t *)(void *)&o->pending;
  out->state = (uint32_t *)(void *)&o->state;
  return RMEM_OK;
}

rmem_status_t rmem_remote_settle(rmem_t *r, uint32_t heap) {
  if (!rmem_check_instance(r)) return rmem_last_error();
  rmem_heap_t *o = heap_by_id(r, heap, "remote_settle");
  if (!o) return rmem_last_error();
  orphan_take_back(o);
  return RMEM_OK;
}

/* ------------------------------------------------------------------------
 * Trim, defrag, stats, walk, validate
 * ------------------------------------------------------------------------ */

rmem_status_t rmem_heap_trim(rmem_t *r, unsigned flags) {
  if (!rmem_check_instance(r)) return rmem_last_error();
  if (flags & ~RMEM_TRIM_RELEASE) return rmem_fail(RMEM_EINVAL, "heap_trim: unknown flags %#x", flags);
  heap_reclaim(r);
  if (flags & RMEM_TRIM_RELEASE) rmem_pages_release(r);
  return RMEM_OK;
}

rmem_status_t rmem_defrag(rmem_t *r, rmem_defrag_report_t *report) {
  if (!rmem_check_instance(r)) return rmem_last_error();
  size_t merges_before = r->merges;
  size_t slabs = heap_reclaim(r);
  size_t pages = rmem_pages_release(r);
  if (report) {
    report->merged = r->merges - merges_before;
    report->slabs_released = slabs;
    report->pages_released = pages;
    report->bytes_released = pages << RMEM_PAGE_SHIFT;
  }
  return RMEM_OK;
}

typedef struct stats_acc {
  rmem_heap_stats_t *out;
  size_t free_slot_bytes, largest_slot;
} stats_acc_t;

static void stats_one(rmem_heap_t *h, stats_acc_t *a) {
  rmem_heap_stats_t *out = a->out;
  const rmem_front_t *f = &h->front;
  for (uint32_t c = 0; c < h->nclasses; c++) {
    rmem_slab_list_t *l = &h->cls[c];
    size_t used = 0, fs = 0;
    out->slabs += l->slabs;
    for (rmem_slab_t *s = l->all; s; s = s->anext) {
      used += s->used;
      fs += s->nslots - s->used;
    }
    size_t cached = (size_t)f->n[c + 1] + h->dn[c + 1]; /* used in the engine, free for the user */
    /* another thread's heap read while it runs (it may be giving its stack back: slots already free in
       the engine, its count not yet 0) is a summary: never more cached than used */
    if (cached > used) cached = used;
    out->cached += cached;
    used -= cached;
    fs += cached;
    out->live_blocks += used;
    out->used += used * l->bsize;
    out->free_slots += fs;
    a->free_slot_bytes += fs * l->bsize;
    if (fs && l->bsize > a->largest_slot) a->largest_slot = l->bsize;
  }
  out->allocs += h->allocs + f->allocs;
  out->frees += h->frees + f->frees; /* a block another thread freed is counted once, when taken back (f) */
  out->remote_frees += h->remote_frees;
}

static void stats_each(rmem_heap_t *h, void *arg) {
  drain(h);
  stats_one(h, arg);
}

rmem_status_t rmem_heap_stats(rmem_t *r, rmem_heap_stats_t *out) {
  if (!rmem_check_instance(r)) return rmem_last_error();
  if (!out) return rmem_fail(RMEM_EINVAL, "heap_stats: NULL output");
  memset(out, 0, sizeof *out);
  stats_acc_t a = {out, 0, 0};
  if (rmem_is_shared(r)) {
    /* the caller's heap and orphans are drained first; other threads' heaps are read as they are (a
       summary while they run, exact once they are quiet); blocks others freed into a heap and its
       owner has not taken back are not live */
    each_reachable_heap(r, stats_each, &a);
    uint32_t n = atomic_load_explicit(&r->nheaps, memory_order_acquire);
    rmem_heap_t *mine = rmem_thread_get(r);
    for (uint32_t id = 1; id <= n; id++) {
      rmem_heap_t *h = r->heaps[id];
      if (h && h != mine && held_elsewhere(h)) stats_one(h, &a);
      if (h && (h == mine || atomic_load_explicit(&h->state, memory_order_relaxed) == RMEM_HS_ACTIVE)) out->threads_active++;
    }
    out->threads = n;
    rmem_shared_lock(r);
    out->adoptions = r->adoptions;
    size_t words = (size_t)r->top << (RMEM_PAGE_SHIFT - RMEM_LIVE_SHIFT - 6); /* the range handed out so far */
    rmem_shared_unlock(r);
    /* blocks freed by other threads, not yet taken back by their (running) owners: free to the user */
    size_t pending = 0, pending_bytes = 0;
    for (size_t w = 0; w < words; w += 1) {
      for (uint64_t m = __atomic_load_n(&r->remote[w], __ATOMIC_RELAXED) & __atomic_load_n(&r->live[w], __ATOMIC_RELAXED); m;
           m &= m - 1) {
        uintptr_t off = (w << (RMEM_LIVE_SHIFT + 6)) + ((uintptr_t)__builtin_ctzll(m) << RMEM_LIVE_SHIFT);
        uint32_t t = class_tag(rmem_tag_at(r, off));
        pending++;
        if (t) pending_bytes += class_sizes[t - 1];
      }
    }
    out->live_blocks -= pending < out->live_blocks ? pending : out->live_blocks;
    out->used -= pending_bytes < out->used ? pending_bytes : out->used;
  } else {
    stats_one(&r->heap, &a);
  }
  rmem_shared_lock(r);
  out->large_blocks = r->large_blocks;
  out->live_blocks += r->large_blocks;
  out->used += r->large_pages << RMEM_PAGE_SHIFT;
  size_t free_pages = (size_t)r->free_pages + (r->limit - r->top);
  rmem_shared_unlock(r);
  out->free = a.free_slot_bytes + (free_pages << RMEM_PAGE_SHIFT);
  size_t largest_run = (size_t)rmem_pages_largest_free(r) << RMEM_PAGE_SHIFT;
  out->largest_free = largest_run > a.largest_slot ? largest_run : a.largest_slot;
  out->fragmentation = out->free ? 1.0 - (double)out->largest_free / (double)out->free : 0.0;
  return RMEM_OK;
}

static int visit(rmem_walk_fn *fn, void *arg, size_t off, size_t size, rmem_block_state_t st) {
  rmem_block_info_t b = {.offset = off, .size = size, .state = st};
  return fn(&b, arg);
}

rmem_status_t rmem_heap_walk(rmem_t *r, rmem_walk_fn *fn, void *arg) {
  if (!rmem_check_instance(r)) return rmem_last_error();
  if (!fn) return rmem_fail(RMEM_EINVAL, "heap_walk: NULL visitor");
  for (uint32_t p = 1; p < r->top;) {
    rmem_pme_t *h = &r->pm[p];
    uint32_t len = h->len ? h->len : 1;
    size_t off = (size_t)p << RMEM_PAGE_SHIFT, bytes = (size_t)len << RMEM_PAGE_SHIFT;
    int stop = 0;
    if (h->kind == RMEM_PK_FREE) {
      stop = visit(fn, arg, off, bytes, RMEM_BLOCK_FREE);
    } else if (h->kind == RMEM_PK_LARGE) {
      stop = visit(fn, arg, off, bytes, RMEM_BLOCK_USED);
    } else if (h->kind == RMEM_PK_SLAB && rmem_slab_of(r, h)->owner_kind == RMEM_SO_HEAP) {
      rmem_slab_t *s = rmem_slab_of(r, h);
      for (uint32_t i = 0; i < s->nslots && !stop; i++) {
        size_t at = off + (size_t)i * s->bsize;
        bool live = rmem_is_live(r, at) &&
                    !(r->remote && (r->remote[at >> (RMEM_LIVE_SHIFT + 6)] & rmem_live_bit(at)));
        stop = visit(fn, arg, at, s->bsize, live ? RMEM_BLOCK_USED : RMEM_BLOCK_FREE);
      }
      size_t carved = (size_t)s->nslots * s->bsize;
      if (!stop && carved < bytes) stop = visit(fn, arg, off + carved, bytes - carved, RMEM_BLOCK_PADDING);
    } else {
      stop = visit(fn, arg, off, bytes, RMEM_BLOCK_OTHER);
    }
    if (stop) return RMEM_OK;
    p += len;
  }
  if (r->limit > r->top)
    visit(fn, arg, (size_t)r->top << RMEM_PAGE_SHIFT, (size_t)(r->limit - r->top) << RMEM_PAGE_SHIFT, RMEM_BLOCK_FREE);
  return RMEM_OK;
}

/* Checks one heap: its header, its classes' lists, stacks, depots and slabs (F1-F6), its tag base (R2). */
static size_t check_heap(rmem_t *r, rmem_heap_t *h) {
  size_t problems = 0;
  const rmem_front_t *f = &h->front;
  if (h->r != r || h->tag_base != h->id << RMEM_TAG_CLASS_BITS || (h->id && r->heaps[h->id] != h))
    rmem_problem(&problems, "heap %u: header damaged (R2)", h->id);
  if (f->cap[0] != 0 || f->n[0] != 0) rmem_problem(&problems, "heap front: tag 0 has a stack (F4)");
  for (uint32_t g = 1; g <= RMEM_HEAP_TABLE_MAX / 8; g++) {
    uint32_t t = f->tag_of[g], want = g * 8 > min_size(r) ? g * 8 : (uint32_t)min_size(r);
    if (t == 0 || t > h->nclasses || class_sizes[t - 1] < want || (t > 1 && class_sizes[t - 2] >= want)) {
      rmem_problem(&problems, "heap front: size %u maps to tag %u, not its class", g * 8, t);
      break;
    }
  }
  for (uint32_t c = 0; c < h->nclasses; c++) {
    rmem_slab_list_t *l = &h->cls[c];
    if (l->bsize != class_sizes[c] || l->owner_kind != RMEM_SO_HEAP || l->page_tag != h->tag_base + c + 1)
      rmem_problem(&problems, "heap %u class %u: list header damaged", h->id, c);
    problems += rmem_slab_list_check(l);
    problems += rmem_front_check_stack(r, l, f->st[c + 1], f->n[c + 1], f->cap[c + 1], RMEM_FRONT_CAP - 1);
    uint32_t dn = h->dn[c + 1];
    if (h->dcap[c + 1] != (h->depot ? depot_cap(class_sizes[c]) : 0) || dn > h->dcap[c + 1])
      rmem_problem(&problems, "heap %u class %u: depot holds %u of %u blocks (F6)", h->id, c, dn, h->dcap[c + 1]);
    else if (dn)
      problems += rmem_front_check_stack(r, l, depot_row(h, c + 1), dn, dn, RMEM_DEPOT_CAP);
    problems += rmem_front_check_slabs(r, l);
  }
  if (h->slot && (h->id == 0 || __atomic_load_n(&h->fast, __ATOMIC_RELAXED) == 0))
    rmem_problem(&problems, "heap %u: a slot is bound to it while its fast paths are off (R4)", h->id);
  if (h->id && atomic_load(&h->state) == RMEM_HS_ORPHAN)
    for (uint32_t t = 1; t <= h->nclasses; t++)
      if (f->n[t] || h->dn[t]) {
        rmem_problem(&problems, "heap %u: orphaned with blocks on its stacks (R2, F6)", h->id);
        break;
      }
  if (atomic_load(&h->draining)) /* the checker holds the heap: no drain of it is running */
    rmem_problem(&problems, "heap %u: marked draining outside a drain (R3)", h->id);
  return problems;
}

typedef struct vacc {
  rmem_t *r;
  size_t problems;
  size_t slabs;
} vacc_t;

static void validate_each(rmem_heap_t *h, void *arg) {
  vacc_t *v = arg;
  drain(h);
  v->problems += check_heap(v->r, h);
  for (uint32_t c = 0; c < h->nclasses; c++) v->slabs += h->cls[c].slabs;
}

size_t rmem_heap_validate(rmem_t *r) {
  if (!rmem_check_instance(r)) return 1;
  rmem_validation_begin();
  size_t problems = 0;
  if (r->fast != ((RMEM_FLAGS_SLOW(r->flags) == 0) ? RMEM_FAST : 0)) rmem_problem(&problems, "instance: fast word disagrees with its flags (P7)");
  vacc_t v = {r, 0, 0};
  each_reachable_heap(r, validate_each, &v);
  problems += v.problems;
  bool all = true; /* every heap was checked (no other thread holds one): the pagemap must agree with them */
  if (rmem_is_shared(r)) {
    rmem_heap_t *mine = rmem_thread_get(r);
    uint32_t n = atomic_load(&r->nheaps);
    for (uint32_t id = 1; id <= n; id++)
      if (r->heaps[id] && r->heaps[id] != mine && held_elsewhere(r->heaps[id])) all = false;
  }
  /* every slab page of the heap belongs to one of its lists; large blocks add up; remote bits only on
     live blocks of heap slabs (R1) */
  rmem_shared_lock(r);
  size_t slabs_seen = 0, large = 0, large_pages = 0;
  for (uint32_t p = 1; p < r->top;) {
    rmem_pme_t *e = &r->pm[p];
    uint32_t len = e->len ? e->len : 1;
    if (e->kind == RMEM_PK_SLAB) {
      if (e->owner == 0 || e->owner >= r->slabs.bump) {
        rmem_problem(&problems, "page %u: slab index %u out of range", p, e->owner);
      } else {
        rmem_slab_t *s = rmem_slab_of(r, e);
        uint32_t magic = __atomic_load_n(&s->magic, __ATOMIC_ACQUIRE);
        /* another thread of a shared instance may be making or releasing it this moment */
        bool moving = magic == RMEM_SLAB_SETUP && rmem_is_shared(r);
        if (magic != RMEM_SLAB_MAGIC && !moving) rmem_problem(&problems, "page %u: slab %u is not alive", p, e->owner);
        else if (!moving && s->owner_kind == RMEM_SO_HEAP) slabs_seen++;
      }
    } else if (e->kind == RMEM_PK_LARGE) {
      large++;
      large_pages += len;
    }
    if (r->remote && e->kind != RMEM_PK_SLAB) {
      uintptr_t lo = (uintptr_t)p << RMEM_PAGE_SHIFT, hi = (uintptr_t)(p + len) << RMEM_PAGE_SHIFT;
      for (uintptr_t w = lo >> (RMEM_LIVE_SHIFT + 6); w < hi >> (RMEM_LIVE_SHIFT + 6); w++)
        if (__atomic_load_n(&r->remote[w], __ATOMIC_RELAXED)) {
          rmem_problem(&problems, "page %u: a remote free pending on a page that holds no slab (R1)", p);
          break;
        }
    }
    p += len;
  }
  if (all && slabs_seen != v.slabs)
    rmem_problem(&problems, "heap: %zu slabs in the pagemap, %zu on the lists", slabs_seen, v.slabs);
  if (large != r->large_blocks || large_pages != r->large_pages)
    rmem_problem(&problems, "heap: %zu large blocks (%zu pages) in the pagemap, counters say %zu (%zu)", large, large_pages,
                 r->large_blocks, r->large_pages);
  rmem_shared_unlock(r);
  return rmem_validation_end(problems);
}
