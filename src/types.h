/*
 * types.h - the private structures of rmem, with their invariants. Never installed.
 *
 * Every structure that more than one source file reads is defined here, with
 * its invariants numbered above it; the validators (rmem_validate and the
 * per-allocator ones) check them, and the tests run the validators after
 * every step. Function declarations live in internal.h, the fast paths of the
 * heap front in front.h.
 *
 * Families of invariants:
 *   P   the range and its page source (pages.c)
 *   S   slabs and slab lists (slab.c)
 *   F   the front: free stacks and the live bitmap (front.h; heap.c, cache.c, arena.c)
 *   H   checked handles (handle.h)
 *   A   arenas (arena.c)      C   slab caches (cache.c)      M   MeMS (mems.c)
 */
#ifndef RMEM_TYPES_H
#define RMEM_TYPES_H

#include "lock.h"
#include "rmem.h"
#include "rmem_os.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define RMEM_HIDDEN __attribute__((visibility("hidden")))
#define RMEM_INLINE static inline __attribute__((always_inline))
#define RMEM_NOINLINE __attribute__((noinline))
#define RMEM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define RMEM_HIDDEN
#define RMEM_INLINE static inline
#define RMEM_NOINLINE
#define RMEM_PRINTF(f, a)
#endif

/* ThreadSanitizer builds: the fast paths that read or write shared words as plain x86-64 moves take the C
   atomics instead, which it can see (front.h's rmem_live_or, handle.h's registry reads). */
#if defined(__SANITIZE_THREAD__)
#define RMEM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RMEM_TSAN 1
#endif
#endif

/* Internal invariants only; caller input is checked at run time in every build. */
#ifdef RMEM_DEBUG
#include <assert.h>
#define rmem_assert(x) assert(x)
#else
#define rmem_assert(x) ((void)0)
#endif

/* Set bits of x, portable: no -mpopcnt needed and no libgcc call (__builtin_popcountll is one on a
   baseline x86-64 build: a drain that counted with it spent 4% of xmalloc in __popcountdi2). */
RMEM_INLINE uint32_t rmem_popcount64(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
  return (uint32_t)((x * 0x0101010101010101ull) >> 56);
}

#define RMEM_PAGE_SHIFT 12
#define RMEM_CAPACITY_GRAIN ((size_t)64 << 10)

/* ------------------------------------------------------------------------
 * The pagemap: one entry per 4 KiB page of the range, out of band.
 * ------------------------------------------------------------------------ */

enum rmem_page_kind {
  RMEM_PK_NEVER = 0,    /* above the high-water mark: never handed out */
  RMEM_PK_RESERVED = 1, /* page 0 and the last page */
  RMEM_PK_FREE = 2,     /* in a free run of the page source */
  RMEM_PK_SLAB = 3,     /* owned by a slab (owner = slab index) */
  RMEM_PK_LARGE = 4,    /* a large heap block (owner = 0; head has len) */
  RMEM_PK_ARENA = 5,    /* an arena chunk (owner = arena index) */
  RMEM_PK_MEMS = 6,     /* a MeMS main node (owner = mems-defined) */
  RMEM_PK_USER = 7      /* pages taken by rmem_pages_alloc for other internal users */
};

#define RMEM_PF_HEAD 0x1u
#define RMEM_PF_TAIL 0x2u
#define RMEM_PF_DIRTY 0x4u /* free run: may hold resident pages */

typedef struct rmem_pme {
  uint8_t kind;   /* enum rmem_page_kind */
  uint8_t flags;  /* RMEM_PF_* */
  uint16_t aux;   /* kind-specific (unused today) */
  uint32_t owner; /* allocated run: owner index; free run head: next free run in its bin (0 = none) */
  uint32_t len;   /* head and tail of a run: its length in pages */
  uint32_t prev;  /* free run head: previous free run in its bin (0 = none) */
} rmem_pme_t;

/* ------------------------------------------------------------------------
 * Indexed pools (meta.c): fixed-size objects in one reserved out-of-band
 * mapping, never unmapped before the instance dies, so a stale index or
 * pointer is always safe to look at. Index 0 is never used (it means "none").
 * ------------------------------------------------------------------------ */

typedef struct rmem_pool {
  char *base;        /* object i at base + i * size */
  size_t size;       /* object size (multiple of 8) */
  uint32_t max;      /* capacity in objects */
  uint32_t bump;     /* next never-used index */
  uint32_t free;     /* head of the free list of indices (0 = none) */
  uint32_t live;     /* objects in use */
  size_t mapped;     /* bytes reserved */
} rmem_pool_t;

/* ------------------------------------------------------------------------
 * Slabs (slab.c)
 *
 * A slab is a run of pages carved into nslots slots of bsize bytes. Its
 * descriptor lives in the instance's slab pool and holds a two-level bitmap
 * (in the descriptor for up to 256 slots -- every slab of blocks of 256 bytes
 * and more -- else in a record of the instance's bitmap pool, so a descriptor
 * is 144 bytes, not 608):
 * bits[w] bit b = 1 iff slot 64w+b is free in the engine, and summary bit w =
 * 1 iff bits[w] != 0. "Used" in the engine means handed to the slab's owner:
 * live in the user's hands, or waiting on the owner's front stack (F1).
 * Invariants (rmem_slab_check, rmem_slab_list_check):
 *   S1  nslots <= RMEM_SLAB_MAX_SLOTS; bits beyond nslots are 0; bits is the
 *       descriptor's own inline_bits (bits_index 0) iff nslots <= 256, else
 *       record bits_index of the bitmap pool.
 *   S2  summary bit w == (bits[w] != 0).
 *   S3  used == nslots - popcount(bits).
 *   S4  the pagemap marks every page of the slab RMEM_PK_SLAB with owner = the
 *       slab's index, and the page-tag map holds its list's page_tag on every
 *       page of the slab (P6).
 *   S5  a slab is on its list's partial list iff 0 < used < nslots and it is
 *       neither cur nor the spare; full slabs are on no list; a slab with
 *       used == 0 is cur, the spare, or released.
 *   S6  a list's used is the sum of its slabs' used (so an owner knows its
 *       live blocks in O(1): used minus the blocks on its front stack).
 * ------------------------------------------------------------------------ */

#define RMEM_SLAB_MAX_SLOTS 4096u
#define RMEM_SLAB_WORDS (RMEM_SLAB_MAX_SLOTS / 64u)
#define RMEM_SLAB_INLINE_WORDS 4u /* slabs of up to 256 slots keep their bitmap in the descriptor */
#define RMEM_SLAB_MAGIC 0x51AB51ABu
#define RMEM_SLAB_SETUP 0x5E7051ABu /* being made or released: its pages may be in the pagemap (shared instances) */

enum rmem_slab_owner {
  RMEM_SO_NONE = 0,
  RMEM_SO_HEAP = 1,  /* a heap size class */
  RMEM_SO_CACHE = 2, /* a slab cache */
  RMEM_SO_ARENA = 3  /* an intermediate arena's size class */
};

typedef struct rmem_slab_list rmem_slab_list_t;

typedef struct rmem_slab {
  /* sizeof is a multiple of 8, so the slab pool's stride is exactly sizeof(rmem_slab_t) (rmem_slab_of).
     The first 56 bytes hold everything the engine's fast paths touch, the bitmap's address last. */
  uint64_t summary;
  uintptr_t start;            /* address of slot 0 (== first page) */
  uint64_t div;               /* fast division by bsize: floor((2^64 - 1) / bsize) + 1 */
  rmem_slab_list_t *list;     /* the list that owns it */
  uint32_t bsize;             /* slot size */
  uint32_t nslots;
  uint32_t used;              /* slots handed to the owner (S3) */
  uint8_t owner_kind;         /* copy of list->owner_kind */
  uint8_t pad_[3];
  uint64_t *bits;             /* the bitmap, (nslots + 63) / 64 words: inline_bits or a bitmap pool record (S1) */
  /* cold: slow paths only */
  uint32_t first_page;        /* page index of the run */
  uint32_t npages;
  uint32_t magic;             /* RMEM_SLAB_MAGIC while alive, RMEM_SLAB_SETUP from before its pages are taken
                                 until it is whole (and from before they go back until released), else 0 */
  uint32_t vstack;            /* validator scratch: its slots seen on a front stack */
  uint32_t bits_index;        /* its record in the bitmap pool (r->slab_bits), 0: inline_bits */
  uint32_t pad2_;
  struct rmem_slab *next, *prev;   /* partial list */
  struct rmem_slab *anext, *aprev; /* every slab of the list */
  uint64_t inline_bits[RMEM_SLAB_INLINE_WORDS];
} rmem_slab_t;
_Static_assert(sizeof(rmem_slab_t) == 144, "a slab descriptor is 144 bytes (types.h, slab pool)");

/*
 * A list of slabs of one slot size: a heap size class, a slab cache, or an
 * intermediate arena's size class. cur is never NULL: when there is nothing
 * to allocate from it points at the shared empty sentinel (summary == 0), so
 * the fast path needs no NULL test. Every slab of the list is on the `all`
 * list; at most one empty slab besides cur is kept as `spare` (S5).
 */
struct rmem_slab_list {
  rmem_slab_t *cur;
  rmem_slab_t *partial;       /* slabs with free slots other than cur and spare, linked through next/prev */
  rmem_slab_t *spare;         /* one empty slab kept in reserve (keep_spare), or NULL */
  rmem_slab_t *all;           /* every slab, linked through anext/aprev */
  rmem_t *r;
  uint32_t bsize;             /* slot size */
  uint32_t slab_pages;        /* pages per slab */
  uint32_t nslots;            /* slots per slab */
  uint8_t owner_kind;         /* enum rmem_slab_owner */
  uint8_t keep_spare;         /* keep one empty slab instead of releasing it at once */
  uint16_t page_tag;          /* written into the page-tag map for every page of its slabs (S4, P6) */
  uint32_t owner_id;          /* class index / cache index / arena index */
  size_t slabs;               /* slabs owned (maintained by the engine) */
  size_t used;                /* slots handed to the owner, over all its slabs (S6) */
};

/* ------------------------------------------------------------------------
 * The front (front.h): free stacks over the slab engine, checked by the live bitmap
 *
 * Every block a slab list hands out is a slot of one of its slabs. Its owner
 * (the heap, a slab cache, an intermediate arena) keeps freed blocks on a
 * stack of its own -- out of band, as 32-bit offsets from the instance's
 * base -- and hands them out again newest first; the stack is refilled from
 * and spilled back to the slab engine in batches, off the fast path. Every
 * block in the user's hands has its bit set in the instance's live bitmap (one
 * bit per 8 bytes of the range, found from the address alone), so a free is
 * checked exactly by one bit and one page tag read side by side:
 *
 *   live bit set, page tag names the owner  ->  a live block of this owner:
 *                                               clear the bit, push it
 *   anything else                           ->  the slow path tells why
 *                                               (double free, interior
 *                                               pointer, another owner's block)
 *
 * Nothing of this is in user memory.
 * Invariants (checked by the owners' validators):
 *   F1  every offset on a front stack names the start of an engine-used slot of
 *       that stack's list, no offset is on a stack twice, and its live bit is clear.
 *   F2  a live bit is set only at the start of an engine-used slot of some slab.
 *   F3  for every slab, used == (live bits at its slot starts) + (its slots on
 *       its owner's front stack).
 *   F4  n <= cap <= RMEM_FRONT_CAP - 1 for the heap's stacks (a count is a byte),
 *       n <= cap <= RMEM_LFRONT_CAP for single-list fronts.
 *   F5  (retired) fronts kept their newest block apart as well as on the
 *       stack, so a pop read one word the last push wrote; a pop now reads
 *       st[n - 1]. The copy cost a store on every free and a load and a store
 *       on every allocation: without it malloc-simple ran about 3% faster and
 *       a LIFO pair took 3 instructions fewer.
 *   F6  a heap class's depot (rmem_heap_t dn / dcap / depot) holds blocks as its
 *       stack does (F1; F3 counts them with the stack's), dn <= dcap <=
 *       RMEM_DEPOT_CAP. A full stack moves its older half there, an empty one
 *       takes its newest back, both by copying offsets (a burst longer than the
 *       stack does not send every block through the engine and back); only
 *       what the depot cannot hold goes to the engine. An orphan's is empty.
 * ------------------------------------------------------------------------ */

#define RMEM_LIVE_SHIFT 3 /* one live bit per 8 bytes: every slot is 8-aligned and at least 8 long */

/*
 * Page tags (P6): 0 = no front owns the page; a slab of heap class c of the
 * heap with tag base b (0 for a private instance's heap, id << 7 for a
 * thread heap of a shared instance) -> b + c + 1; a slab of slab cache i ->
 * RMEM_TAG_CACHE + i. So a free knows the class AND the owning heap of a
 * block from one 16-bit load: t - b - 1 < 96 means "a block of my heap".
 */
#define RMEM_TAG_CLASS_BITS 7u
#define RMEM_TAG_CACHE 0x8000u

/* A single list's front (a slab cache, a class of an intermediate arena). */
#define RMEM_LFRONT_CAP 32u

typedef struct rmem_lfront {
  uint32_t n, cap;               /* (rmem_cache_layout_t shows these words to bindings in this order) */
  uint32_t st[RMEM_LFRONT_CAP];  /* the newest block is st[n - 1] */
} rmem_lfront_t;

/* ------------------------------------------------------------------------
 * The general heap (heap.c)
 * ------------------------------------------------------------------------ */

#define RMEM_HEAP_CLASSES 96
#define RMEM_HEAP_TAGS (RMEM_HEAP_CLASSES + 1) /* tag = class + 1; tag 0 is no class */
#define RMEM_HEAP_TABLE_MAX 32768              /* sizes up to this (RMEM_SMALL_MAX) find their tag by one table load */
#define RMEM_FRONT_CAP 256u                    /* a heap class's stack row: it holds up to 255 blocks (F4) */
#define RMEM_DEPOT_CAP 2048u                   /* a heap class's depot row (F6) */

/* The heap's front: one stack per class, indexed by the page tag (class + 1). */
typedef struct rmem_front {
  uint8_t n[RMEM_HEAP_TAGS];     /* blocks on each tag's stack */
  uint8_t cap[RMEM_HEAP_TAGS];   /* its capacity (F4); 0 for tag 0 */
  uint8_t pad_[6];
  /* A copy of each stack's newest entry, st[t][n[t] - 1], that C's pushes and pops keep: a pop hands out
     top[t] (one load, where the stack's own entry waits for n[t], two loads in a row) and checks it against
     the stack, which stays the truth -- a binding's front pushes and pops without it, and a pop that finds
     the copy stale takes the slow path. A hint, not an invariant: the validator does not check it. */
  uint32_t top[RMEM_HEAP_TAGS];
  uint8_t tag_of[RMEM_HEAP_TABLE_MAX / 8 + 1]; /* (size + 7) >> 3 -> tag, for 1 <= size <= RMEM_HEAP_TABLE_MAX */
  uint8_t pad2_[3];
  uint64_t allocs, frees;        /* operations served by the front */
  union {
    _Alignas(64) uint32_t st[RMEM_HEAP_TAGS][RMEM_FRONT_CAP]; /* the newest block of tag t is st[t][n[t] - 1] */
    uint32_t st_flat[RMEM_HEAP_TAGS * RMEM_FRONT_CAP];         /* the same rows as one array */
  };
} rmem_front_t;

/*
 * A heap: the size classes and their front. A private instance has one,
 * inside rmem_t. A shared instance (RMEM_OPT_SHARED) gives every thread
 * that uses it a heap of its own (ids 1 .. RMEM_MAX_HEAPS, mapped apart), so
 * the fast paths take no lock: a block of another thread's heap is freed
 * by marking it in the instance's remote bitmap (one atomic OR, which
 * decides the free: a second OR that finds the bit set is a double free, at
 * that call), and its owner returns it to its own front when it drains.
 * Invariants of shared instances (rmem_heap_validate):
 *   R1  a remote bit is set only where the live bit is set, on a slab page of
 *       a heap; the owner's sum1 bit of that remote word is set, or the owner
 *       is draining it (the owner's sum2 / sum3 / pending likewise above).
 *       The owner takes a block back by clearing its live bit, then its
 *       remote bit, and a free reads them in the other order, so a free made
 *       after another one of the block returned sees it freed. (Two frees of
 *       one block at the same moment, a race in the program, can leave a bit
 *       on a free block: the drain clears it and takes nothing back twice; if
 *       the block was handed out again first, the bit frees the new block.)
 *   R2  a heap's slabs carry its tag base; heaps[id] has id; an ORPHAN heap
 *       (its thread exited) has an empty front.
 *   R3  a thread that frees another heap's block of two pages or more, when
 *       the owner strands more than 2 MiB of them (it has not drained since),
 *       gives the pages wholly inside the block back to the OS (they read as
 *       zero) -- only while counted in the owner's purgers and the owner is
 *       not draining: a drain raises draining, waits for purgers to be 0,
 *       and only then reads remote bits. So no block is taken back (and
 *       handed out) while its pages are being given back; the metadata is out
 *       of band, so the pages carry nothing the heap needs.
 *   R4  a bound slot (rmem_local_bind) holds its heap only while the heap is
 *       its owner's with the fast paths on: slot != NULL => fast is the owner's
 *       key. The owner stores NULL in *slot before the heap stops being its
 *       (thread exit, rmem_local_release) and when it binds another slot, so
 *       the fast paths through a bound slot need no test of the thread.
 */
#define RMEM_MAX_HEAPS 255u

/* RMEM_HS_QUARANTINED: in a fork child, a heap another thread owned at the fork (it may have been
   mid-operation): never taken over, never drained; frees of its blocks are refused no more than before
   (the remote bitmap still decides them) and its memory is left as it was */
enum rmem_heap_state { RMEM_HS_FREE = 0, RMEM_HS_ACTIVE = 1, RMEM_HS_ORPHAN = 2, RMEM_HS_QUARANTINED = 3 };

typedef struct rmem_heap {
  rmem_front_t front;
  uint32_t fast;              /* private heap: RMEM_FAST or 0 (unused: r->fast decides); thread heap: its owner's
                                 key (rmem_tkey) while the owner may take the fast paths, else 0 (released,
                                 orphaned, quarantined, or a debugging option is on) */
  uint32_t tag_base;          /* its slabs' page tags are tag_base + class + 1 */
  rmem_t *r;
  struct rmem_heap **slot;    /* thread heaps: the owner's variable bound to it (rmem_local_bind, R4), or NULL */
  /* the instance's constants, copied: the thread heaps' fast paths read them without going through r */
  uintptr_t base;
  size_t capacity;
  size_t grains;              /* capacity / 8 (as the instance's) */
  uint64_t *live;
  uint64_t *remote;
  uint16_t *ptag;
  uint32_t nclasses;
  uint32_t id;                /* 0 for a private instance's heap, 1 .. RMEM_MAX_HEAPS for thread heaps */
  uint16_t dn[RMEM_HEAP_TAGS];   /* blocks in each tag's depot (F6) */
  uint16_t dcap[RMEM_HEAP_TAGS]; /* its capacity; 0 for tag 0, and for all if the depot could not be mapped */
  uint32_t *depot;            /* a row of offsets per tag, as long as its dcap, mapped apart (out of band), or NULL */
  size_t borrowed;            /* blocks a class took from the next class up instead of making a slab */
  size_t allocs, frees;       /* operations of the slow paths (page runs, aligned, refills) */
  size_t remote_frees;        /* blocks other threads freed into it, drained */
  uint32_t refills_waiting;   /* refills that found remote frees waiting since the last drain (heap.c DRAIN_EVERY) */
  uint32_t idle_clock;        /* refills and spills since the last look at an idle class (heap.c IDLE_EVERY) */
  uint32_t idle_next;         /* the tag looked at next */
  uint64_t idle_sig[RMEM_HEAP_TAGS]; /* each tag's front and slab count when last looked at */
  rmem_slab_list_t cls[RMEM_HEAP_CLASSES];
  /* thread heaps of a shared instance */
  _Atomic uint32_t pending;   /* remote frees wait in its summaries (sum3 has bits) */
  _Atomic size_t stranded;    /* bytes of blocks of 8 KiB and more freed into it since its last drain (R3) */
  _Atomic uint32_t purgers;   /* threads giving a freed block's pages back to the OS now (R3) */
  _Atomic uint32_t draining;  /* its drain is waiting for them or running (R3) */
  _Atomic uint32_t state;     /* enum rmem_heap_state */
  _Atomic uint64_t *sum1;     /* bit w: remote word w holds frees of its blocks */
  _Atomic uint64_t *sum2;     /* bit k: sum1 word k is not zero */
  _Atomic uint64_t *sum3;     /* bit j: sum2 word j is not zero */
  size_t sum_words[3];
  char *map;                  /* the mapping of this heap and its summaries */
  size_t map_bytes;
} rmem_heap_t;

/* ------------------------------------------------------------------------
 * The instance
 *
 * Invariants of the range (rmem_pages_check):
 *   P1  page 0 and page npages-1 are RMEM_PK_RESERVED and never handed out.
 *   P2  pages [1, top) are covered exactly by runs; pages [top, npages-1) are RMEM_PK_NEVER.
 *   P3  a run's head and tail entries carry its length (len) and the HEAD/TAIL flags;
 *       every page of a run has the run's kind; an allocated run's pages all carry its
 *       owner index.
 *   P4  no two free runs are adjacent (coalescing is immediate).
 *   P5  every free run is in exactly the bin of its length; the bin bitmap has bit b
 *       set iff bin b is non-empty; free_pages is the sum of free run lengths.
 *   P6  ptag[page] != 0 only on pages of a slab whose list has a page tag (S4).
 *   P7  fast == RMEM_FAST iff magic == RMEM_MAGIC and RMEM_FLAGS_SLOW(flags) == 0 (so never for a
 *       shared instance, whose fast paths are its heaps': rmem_local).
 *   P8  a bit of `freed` is set only on a free page: one that was inside a page-run block (not its
 *       first page) when the block was freed, since then not handed out again. A free of a pointer
 *       to such a page is a wild pointer into a freed block; at any other page start in free pages,
 *       a double free (of a large block, or of a slab block whose slab went back).
 *   P9  dirty_pages is the sum of the free runs' dirty counts; a run's count is the number of its
 *       pages set in dirty_map (pages freed since they were last decommitted: they may be
 *       resident), no page outside a free run is set there, and the DIRTY flag is set iff the
 *       count is > 0; a dirty run's head aux is the decay period (period, mod
 *       2^16) of the last free that merged into it: this period or the last, since the end of a
 *       period releases the runs of the one before. A clean run's aux is 0.
 *       used_pages <= period_peak <= peak_pages.
 * ------------------------------------------------------------------------ */

#define RMEM_BINS 128
#define RMEM_DIRTY_MIN 1024u                 /* dirty pages the page source may always keep (4 MiB) */
#define RMEM_DECAY_NS 1000000000ull          /* the decay period (pages.c: free_pages_policy) */
#define RMEM_DECAY_MIN 64u                   /* dirty pages below which a free reads no clock (256 KiB) */
#define RMEM_MAGIC 0x726D656D696E7374ull /* "rmeminst" */
#define RMEM_FAST 0x74736166u            /* "fast": 32 bits, one compare with an immediate */
/* The option flags that keep the fast words off (P7, H2): every one but RMEM_OPT_NO_TRACK (track.h) and
   RMEM_OPT_ALIGN16 (the size table says it: heap.c min_size). */
#define RMEM_FLAGS_SLOW(flags) ((flags) & ~(RMEM_OPT_NO_TRACK | RMEM_OPT_ALIGN16))

struct rmem_arena_table;   /* handle.h */
struct rmem_mems;          /* mems.c */
struct rmem_meta_state;    /* meta.c */

struct rmem_s {
  /* what the fast paths read, in one cache line */
  uint32_t fast;               /* RMEM_FAST while alive and no debug option is on, else 0 (P7) */
  uint32_t pad_;
  uintptr_t base;              /* the range */
  size_t capacity;
  size_t grains;               /* capacity / 8: an offset rotated right by 3 is below it iff in range and 8-aligned */
  uint64_t *live;              /* the live bitmap: bit (off >> 3) set iff a live slot starts at base + off (F2) */
  uint16_t *ptag;              /* page tags, one per page (P6) */
  uint64_t magic;              /* RMEM_MAGIC while alive */
  uint32_t npages;             /* capacity / 4096 */
  unsigned flags;              /* RMEM_OPT_* */
  bool foreign;                /* the range is the caller's (rmem_create_in): never released */

  uint64_t *remote;            /* shared: the remote bitmap, bit (off >> 3) set while a live block there is
                                  freed by a thread that does not own it (R1); NULL for a private instance */
  uint64_t epoch;              /* distinct for every instance ever created: a stale rmem_t* to a recycled
                                  header is told from the new instance (thread tables keep it) */
  rmem_lock_t lock;            /* shared: the page source, the pools, the metadata allocator, the heap
                                  table and large blocks; unused for a private instance */
  rmem_lock_t mems_lock;       /* shared: MeMS (which takes lock inside, for pages) */
  size_t large_blocks;         /* live page-run blocks of the heap */
  size_t large_pages;

  /* hooks: what an owner wants from the floors below, set by the owner */
  size_t (*reclaim)(rmem_t *r);      /* the page source is exhausted: give pages back (the heap sets it) */
  size_t (*validate_all)(rmem_t *r); /* RMEM_OPT_VALIDATE: the whole validator (instance.c sets it) */

  /* metadata */
  char *meta_base;             /* one mapping: guard, pagemap, page tags, live bitmap, guard */
  size_t meta_size;
  rmem_pme_t *pm;              /* npages entries */
  uint64_t *freed;             /* one bit per page (P8) */
  uint64_t *dirty_map;         /* one bit per page: a free page that may be resident (P9) */
  struct rmem_meta_state *meta;

  /* page source */
  uint32_t top;                /* pages [1, top) have been handed out at least once */
  uint32_t limit;              /* npages - 1: the last page is reserved */
  uint32_t free_pages;         /* pages in free runs below top */
  uint32_t dirty_pages;        /* free pages that may be resident */
  uint32_t used_pages;         /* pages in allocated runs */
  uint32_t peak_pages;         /* the most used_pages in this decay period and the last (P9) */
  uint32_t period_peak;        /* the most used_pages in this decay period */
  uint16_t period;             /* decay periods since creation, mod 2^16 (P9) */
  uint64_t period_ns;          /* when this period began (rmem_os_now_ns) */
  uint64_t decay_ns;           /* a period's length: RMEM_DECAY_NS; 0 = no decay */
  size_t decays;               /* decay periods ended */
  uint64_t bin_map[RMEM_BINS / 64];
  uint32_t bins[RMEM_BINS];    /* head page of each bin's list */
  size_t merges;               /* coalescings done by the page source since creation */

  /* pools */
  rmem_pool_t slabs;           /* rmem_slab_t */
  rmem_pool_t slab_bits;       /* bitmaps of slabs of more than 256 slots (RMEM_SLAB_WORDS words each) */
  rmem_pool_t arenas;          /* arena.c's records */
  rmem_pool_t caches;          /* cache.c's records */

  /* allocators */
  rmem_heap_t heap;            /* a private instance's heap */
  rmem_heap_t *heaps[RMEM_MAX_HEAPS + 1]; /* shared: thread heaps by id (heaps[0] unused) */
  _Atomic uint32_t nheaps;     /* shared: ids 1 .. nheaps were handed out */
  size_t adoptions;            /* shared: heaps of ended threads taken over (under lock) */
  struct rmem_arena_table *arena_state; /* handle.h, NULL until the first arena or cache */
  struct rmem_mems *mems;               /* mems.c, NULL until mems_init */
  rmem_t *shared_next;                  /* shared: the process's list of shared instances (fork) */
  uint32_t fork_caches;                 /* shared: cache records whose locks a fork's prepare took */
};

#endif /* RMEM_TYPES_H */
