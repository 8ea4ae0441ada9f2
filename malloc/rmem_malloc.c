/*
 * rmem_malloc.c - rmem's general heap as a thread-safe, drop-in malloc.
 *
 * An rmem instance (rmem_t) is single-threaded and owns one contiguous range of
 * at most 4 GiB. This file builds the process-wide allocator on top:
 *
 *   thread heaps   Every thread that allocates owns one rm_heap_t: a chain of
 *                  rmem instances of RM_INSTANCE bytes each (1 GiB). Allocation
 *                  goes to the heap's current instance with no lock at all;
 *                  when it is full the other instances of the chain are tried,
 *                  then a new one is created and chained ("growth past the
 *                  first reservation").
 *   registry       A flat table indexed by address bits [30, 47): every 1 GiB
 *                  slot of the address space can overlap at most two instances
 *                  (instances are exactly 1 GiB and never overlap), so finding
 *                  the instance of any address is one or two loads and a
 *                  compare, lock-free. Instances are never destroyed, so a
 *                  reader can never see a dangling entry.
 *   small blocks   Blocks of up to 4 KiB go through per-thread caches: one
 *                  stack of free blocks per size class (rm_tc_t), refilled
 *                  from and spilled back to the slab engine in batches. Every
 *                  small block handed out has its bit set in the instance's
 *                  live bitmap (1 bit per 16 bytes, out of band), so a free is
 *                  checked exactly by one bit found from the address alone,
 *                  and the page-class map (1 byte per page) names the cache
 *                  to push it on. Neither path touches a slab descriptor.
 *   frees          A free from the owning thread goes to its class's cache
 *                  (small) or to rmem_free (page runs).
 *                  A free from another thread is pushed onto the owner heap's
 *                  lock-free remote stack (a Treiber stack, linked through the
 *                  first word of the freed block, which is free memory now) and
 *                  the owner drains the stack at its next allocation that sees
 *                  it non-empty. The freeing thread batches up to 32 blocks per
 *                  owner and pushes them with one CAS (see rm_pending_t).
 *   thread exit    A pthread key destructor drains the heap and marks it
 *                  ORPHAN. A new thread adopts an orphan before creating a new
 *                  heap; a free into an orphan takes its lock and frees in place.
 *   huge blocks    Requests of RM_HUGE bytes and more are mapped directly with
 *                  mmap, recorded in an out-of-band hash table, grown and shrunk
 *                  with mremap. A freed one is kept in a small cache (64 MiB at
 *                  most) for the next huge allocation or growth, else unmapped.
 *   bad frees      Every pointer handed to free/realloc is checked exactly (the
 *                  live bitmap, else the registry, rmem's out-of-band bitmaps
 *                  and pagemap, or the huge table). An invalid or double free is reported on
 *                  stderr with its address and the process aborts, as glibc
 *                  does: the program's own state is already wrong.
 *                  RMEM_MALLOC_CONTINUE=1 reports and carries on. A bad pointer
 *                  freed from a thread that does not own it is reported when
 *                  the owner drains it (later, but with the same address).
 *
 * Locking: h->lock is 1 while someone may change heap h: its owner thread
 * holds it for its whole life; an orphan's lock is 0 and whoever takes it
 * (an adopting thread, a remote free) holds it for the operation. rm_global
 * (a mutex) serialises creating heaps and instances and registering them;
 * huge_lock guards the huge table. No lock is taken on the fast paths.
 *
 * Fork: the prepare handler takes rm_global and huge_lock, so no heap or
 * instance is being created and the huge table is consistent in the child.
 * The heaps of other threads may be mid-operation at the instant of fork, so
 * the child never touches them again: they stay locked (quarantined); frees of
 * their blocks in the child are pushed on their stacks and never drained
 * (leaked, never corrupted). The forking thread's own heap is consistent.
 *
 * Bootstrapping: nothing here calls malloc. Memory for heaps comes from mmap,
 * the registry and instance records are static, TLS is initial-exec (no
 * __tls_get_addr allocation), pthread_once/pthread_key_create/pthread_atfork
 * do not allocate in glibc, messages are formatted on the stack and written
 * with write(2).
 *
 * Why a cache of its own: rmem_free validates through pagemap -> slab
 * descriptor -> bitmap word, three dependent loads, and on the larson
 * workload that chain made rmem 2x slower than mimalloc. The live bitmap and
 * the page-class map are both indexed by the address, so their two loads
 * run in parallel and stay small enough to be cache-resident.
 *
 * Invariants (rmem_malloc_validate checks R1, R2, R4, R5, T1-T3 and every instance):
 *   R1  every instance record i < rm_ninst is registered in every registry
 *       slot its range overlaps, in field a or b, and in no other slot.
 *   R2  every instance record belongs to exactly one heap, which lists it.
 *   R3  a block is in at most one place: live, free in its instance, in the
 *       remote-free batch of the thread that freed it, or on its owner's remote
 *       stack (pushed exactly once by a correct program).
 *   R4  a huge block's address is in the huge table iff it is mapped.
 *   R5  a mapping in the huge cache is no live block; the cache holds at most
 *       RM_HUGE_CACHE_N mappings and huge_cache_limit bytes.
 *   T1  every block on a thread cache is a distinct, engine-used slot of that
 *       cache's class in its heap's current instance, and not live.
 *   T2  a live bit is set only at the start of an engine-used slot of a heap
 *       size class (so a set bit alone proves a free valid).
 *   T3  every engine-used slot of a heap class is live or cached: blocks on
 *       remote stacks and in remote batches keep their live bit until the
 *       owner drains them.
 */
#include "internal.h"
#include "rmem_malloc.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define RM_INSTANCE ((size_t)1 << 30)      /* bytes per rmem instance */
#define RM_SLOT_SHIFT 30                   /* registry slot = 1 GiB = one instance */
#define RM_ADDR_BITS 47                    /* user-space addresses mmap hands out by default */
#define RM_SLOTS ((size_t)1 << (RM_ADDR_BITS - RM_SLOT_SHIFT))
#define RM_MAX_INSTANCES 16384             /* 16 TiB of instances */
#define RM_MAX_HEAPS 8192                  /* thread heaps alive or orphaned at once */
#define RM_HEAP_INSTANCES 64               /* instances per heap (64 GiB per thread) */
#define RM_HUGE ((size_t)1 << 20)          /* blocks of this size and up are mapped directly */

#define RM_TLS __attribute__((tls_model("initial-exec")))

/* RM_QUARANTINED: in a fork child, a heap that another thread held at the fork; never used again */
enum { RM_FREE = 0, RM_ACTIVE = 1, RM_ORPHAN = 2, RM_QUARANTINED = 3 };

typedef struct rm_heap rm_heap_t;

/* One rmem instance and its owner. Immutable once registered. */
typedef struct rm_inst {
  rmem_t *r;
  uintptr_t base;
  uint64_t *live; /* the live bitmap: bit (off / 16) is 1 iff a live small block starts at base + off */
  rm_heap_t *heap;
} rm_inst_t;

/*
 * The thread cache of one size class: a stack of free blocks of the heap's
 * current instance, newest on top. Its blocks are still "used" for the slab
 * engine and have their live bit cleared, so a second free of one is seen at
 * once (T1). When it is full, a free moves its older half back into the
 * engine; when it is empty, an allocation takes up to half of it from the
 * engine in one batch (whole bitmap words).
 */
#define RM_TC_CAP 32 /* sizeof(rm_tc_t) == 256: the fast paths index the caches with a shift */
#define RM_TC_BYTES (8u << 10) /* a class caches at most this many bytes (but at least 4 blocks) */

typedef struct rm_tc {
  void *p[RM_TC_CAP]; /* p[0 .. tc_n[tag]) of rm_heap_t; the counts live together, in two cache lines */
} rm_tc_t;
_Static_assert(sizeof(rm_tc_t) == 256, "rm_tc_t is indexed by a shift");

struct rm_heap {
  /* owner-only (whoever holds lock) */
  rmem_t *cur_r;                        /* == cur->r, cur->base, cur->live, cur->r->pclass: what the fast paths read */
  uintptr_t cur_base;
  uint64_t *cur_live;
  const uint8_t *cur_pclass;
  uint32_t ntc;                         /* classes 0 .. ntc-1 have a thread cache (sizes <= RMEM_HEAP_TABLE_MAX) */
  /* The caches are indexed by tag = class + 1, the value of the page-class map (S4), so the free
     path indexes them with the byte it reads; tag 0 and the tags of uncached classes have cap 0. */
  uint32_t index;                       /* in rm_heaps */
  size_t allocs, frees;                 /* served by the thread caches */
  uint8_t tc_n[RMEM_HEAP_CLASSES + 1];   /* blocks on each tag's cache */
  uint8_t tc_cap[RMEM_HEAP_CLASSES + 1]; /* its capacity (<= RM_TC_CAP; 0 = not cached) */
  uint8_t tc_class[RMEM_HEAP_TABLE_MAX / 16 + 1]; /* (size + 15) / 16 -> tag (never the 8-byte class's) */
  _Alignas(64) rm_tc_t tc[RMEM_HEAP_CLASSES + 1];
  rm_inst_t *cur;                       /* allocations go here first */
  rm_inst_t *inst[RM_HEAP_INSTANCES];
  uint32_t ninst;
  /* shared */
  _Atomic int state;                    /* RM_ACTIVE, RM_ORPHAN or RM_QUARANTINED */
  _Atomic int lock;                     /* 1 while someone may change the heap */
  _Alignas(64) _Atomic(void *) remote;  /* remote-free stack, linked through the blocks' first word */
  _Alignas(64) char end_[1];
};

typedef struct rm_slot {
  _Atomic(rm_inst_t *) a, b;
} rm_slot_t;

static rm_slot_t rm_table[RM_SLOTS];
static rm_inst_t rm_insts[RM_MAX_INSTANCES];
static _Atomic uint32_t rm_ninst;
static rm_heap_t *_Atomic rm_heaps[RM_MAX_HEAPS];
static _Atomic uint32_t rm_nheaps;
static pthread_mutex_t rm_global = PTHREAD_MUTEX_INITIALIZER;

static _Thread_local rm_heap_t *rm_tls_heap RM_TLS;

static pthread_once_t rm_once = PTHREAD_ONCE_INIT;
static pthread_key_t rm_key;
static bool rm_key_ok;
static bool rm_continue_on_error;
static bool rm_print_at_exit;

static _Atomic size_t st_remote, st_adopt, st_huge_allocs, st_bad;

/* ------------------------------------------------------------------------
 * Reporting (the one place this layer writes to stderr)
 * ------------------------------------------------------------------------ */

static void rm_write(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      return;
    }
    s += w;
    n -= (size_t)w;
  }
}

/*
 * An invalid or double free (or realloc / usable-size of a bad pointer). The
 * program's own state is wrong, so, as glibc does, report and abort unless
 * RMEM_MALLOC_CONTINUE=1 asked to carry on.
 */
static RMEM_NOINLINE void rm_bad(const char *fn, const void *p, rmem_status_t st, const char *detail) {
  char buf[512];
  int errno_saved = errno;
  int n = snprintf(buf, sizeof buf, "rmem-malloc: %s(): %s %p%s%s%s\n", fn,
                   st == RMEM_EDOUBLEFREE ? "double free of" : "invalid pointer", p, detail && *detail ? " (" : "",
                   detail ? detail : "", detail && *detail ? ")" : "");
  if (n > 0) rm_write(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
  atomic_fetch_add_explicit(&st_bad, 1, memory_order_relaxed);
  errno = errno_saved;
  if (!rm_continue_on_error) abort();
}

/* ------------------------------------------------------------------------
 * Registry
 * ------------------------------------------------------------------------ */

static inline rm_inst_t *rm_lookup(uintptr_t p) {
  if (RMEM_UNLIKELY(p >> RM_ADDR_BITS)) return NULL;
  rm_slot_t *s = &rm_table[p >> RM_SLOT_SHIFT];
  rm_inst_t *i = atomic_load_explicit(&s->a, memory_order_acquire);
  if (i && p - i->base < RM_INSTANCE) return i;
  i = atomic_load_explicit(&s->b, memory_order_acquire);
  if (i && p - i->base < RM_INSTANCE) return i;
  return NULL;
}

/* Under rm_global. Registers [base, base + RM_INSTANCE) in every slot it overlaps. */
static bool rm_register(rm_inst_t *i) {
  uintptr_t first = i->base >> RM_SLOT_SHIFT, last = (i->base + RM_INSTANCE - 1) >> RM_SLOT_SHIFT;
  if (last >= RM_SLOTS) return false;
  for (uintptr_t s = first; s <= last; s++) {
    /* two instances at most can share a slot: both are RM_INSTANCE long */
    if (atomic_load_explicit(&rm_table[s].a, memory_order_relaxed) == NULL) continue;
    if (atomic_load_explicit(&rm_table[s].b, memory_order_relaxed) != NULL) return false;
  }
  for (uintptr_t s = first; s <= last; s++) {
    if (atomic_load_explicit(&rm_table[s].a, memory_order_relaxed) == NULL)
      atomic_store_explicit(&rm_table[s].a, i, memory_order_release);
    else
      atomic_store_explicit(&rm_table[s].b, i, memory_order_release);
  }
  return true;
}

/* ------------------------------------------------------------------------
 * Huge blocks: mapped directly, found through an open-addressing table.
 * ------------------------------------------------------------------------ */

typedef struct rm_huge {
  uintptr_t addr; /* 0 = empty, 1 = deleted */
  size_t size;    /* bytes mapped from addr (page multiple) */
  size_t req;     /* bytes the program asked for, rounded up to pages (<= size): what a move copies */
} rm_huge_t;

static pthread_mutex_t huge_lock = PTHREAD_MUTEX_INITIALIZER;
static rm_huge_t *huge_tab;
static size_t huge_cap, huge_used, huge_live, huge_bytes; /* used counts live + deleted */

/*
 * The huge cache: mappings of freed huge blocks kept, still resident, for the
 * next huge allocation or growth, so a program that frees and regrows big
 * buffers (the realloc workload) does not fault every page in again. It holds
 * at most RM_HUGE_CACHE_N mappings and min(huge_cache_limit, huge_peak / 2)
 * bytes (the limit is 64 MiB, set by RMEM_MALLOC_HUGE_CACHE in MiB, 0 = off);
 * the oldest mapping is unmapped when a free would exceed either. Under
 * huge_lock.
 */
#define RM_HUGE_CACHE_N 16
static rm_huge_t huge_cache[RM_HUGE_CACHE_N]; /* oldest first */
static size_t huge_cache_n, huge_cache_bytes;
static size_t huge_peak; /* the most bytes of huge blocks ever live at once */
static size_t huge_cache_limit = (size_t)64 << 20;
static _Atomic size_t st_huge_reused;

static size_t rm_page(void) { return rmem_os_page_size(); }

static size_t huge_hash(uintptr_t a, size_t cap) { return (size_t)(((a >> 12) * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1); }

/* Under huge_lock. Finds the entry of addr, or NULL. */
static rm_huge_t *huge_find(uintptr_t addr) {
  if (!huge_tab) return NULL;
  for (size_t k = huge_hash(addr, huge_cap), n = 0; n < huge_cap; k = (k + 1) & (huge_cap - 1), n++) {
    if (huge_tab[k].addr == addr) return &huge_tab[k];
    if (huge_tab[k].addr == 0) return NULL;
  }
  return NULL;
}

/* Under huge_lock. Makes room for one more entry (load <= 1/2); false if the OS refuses. */
static bool huge_reserve(void) {
  if (huge_tab && (huge_used + 1) * 2 <= huge_cap) return true;
  size_t ncap = huge_cap ? huge_cap : 1024;
  while ((huge_live + 1) * 2 > ncap / 2) ncap *= 2; /* after rehash: load <= 1/4 */
  rm_huge_t *t = rmem_os_reserve(ncap * sizeof *t);
  if (!t) return false;
  for (size_t k = 0; huge_tab && k < huge_cap; k++) {
    uintptr_t a = huge_tab[k].addr;
    if (a <= 1) continue;
    size_t j = huge_hash(a, ncap);
    while (t[j].addr) j = (j + 1) & (ncap - 1);
    t[j] = huge_tab[k];
  }
  if (huge_tab) rmem_os_release(huge_tab, huge_cap * sizeof *huge_tab);
  huge_tab = t;
  huge_cap = ncap;
  huge_used = huge_live;
  return true;
}

static void huge_insert_locked(uintptr_t addr, size_t size, size_t req) {
  size_t k = huge_hash(addr, huge_cap);
  while (huge_tab[k].addr > 1) k = (k + 1) & (huge_cap - 1);
  if (huge_tab[k].addr == 0) huge_used++;
  huge_tab[k].addr = addr;
  huge_tab[k].size = size;
  huge_tab[k].req = req;
  huge_live++;
  huge_bytes += size;
  if (huge_bytes > huge_peak) huge_peak = huge_bytes;
}

static void huge_erase_locked(rm_huge_t *e) {
  huge_live--;
  huge_bytes -= e->size;
  e->addr = 1;
  e->size = 0;
}

/* Under huge_lock: the smallest cached mapping of at least len bytes and at most 2 * len (index), or -1. */
static long huge_cache_find(size_t len) {
  long best = -1;
  for (size_t k = 0; k < huge_cache_n; k++) {
    size_t n = huge_cache[k].size;
    if (n >= len && n / 2 <= len && (best < 0 || n < huge_cache[best].size)) best = (long)k;
  }
  return best;
}

/* Under huge_lock: takes cached mapping k off the cache. */
static rm_huge_t huge_cache_take(long k) {
  rm_huge_t e = huge_cache[k];
  memmove(&huge_cache[k], &huge_cache[k + 1], (huge_cache_n - (size_t)k - 1) * sizeof e);
  huge_cache_n--;
  huge_cache_bytes -= e.size;
  atomic_fetch_add_explicit(&st_huge_reused, 1, memory_order_relaxed);
  return e;
}

static void rm_init(void);

/* Maps a huge block of at least size bytes aligned to align (0 = page); zeroed if zero. */
static void *huge_alloc(size_t size, size_t align, bool zero) {
  rm_init(); /* RMEM_MALLOC_HUGE_CACHE */
  size_t ps = rm_page();
  if (size > PTRDIFF_MAX - ps) return NULL;
  size_t len = (size + ps - 1) & ~(ps - 1);
  if (align <= ps) {
    pthread_mutex_lock(&huge_lock);
    long k = huge_cache_find(len);
    if (k >= 0 && huge_reserve()) {
      rm_huge_t e = huge_cache_take(k);
      huge_insert_locked(e.addr, e.size, len);
      pthread_mutex_unlock(&huge_lock);
      atomic_fetch_add_explicit(&st_huge_allocs, 1, memory_order_relaxed);
      if (zero) memset((void *)e.addr, 0, len); /* the rest of the mapping is never read as zero */
      return (void *)e.addr;
    }
    pthread_mutex_unlock(&huge_lock);
  }
  size_t extra = align > ps ? align : 0;
  if (len > PTRDIFF_MAX - extra) return NULL;
  char *m = mmap(NULL, len + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return NULL;
  char *p = m;
  if (extra) {
    p = (char *)(((uintptr_t)m + align - 1) & ~(uintptr_t)(align - 1));
    if (p > m) munmap(m, (size_t)(p - m));
    size_t tail = (size_t)(m + len + extra - (p + len));
    if (tail) munmap(p + len, tail);
  }
  pthread_mutex_lock(&huge_lock);
  bool ok = huge_reserve();
  if (ok) huge_insert_locked((uintptr_t)p, len, len);
  pthread_mutex_unlock(&huge_lock);
  if (!ok) {
    munmap(p, len);
    return NULL;
  }
  atomic_fetch_add_explicit(&st_huge_allocs, 1, memory_order_relaxed);
  return p;
}

/* Size of the huge block at p, or 0 if p is not one. */
static size_t huge_size(const void *p) {
  if (((uintptr_t)p & (rm_page() - 1)) != 0) return 0;
  pthread_mutex_lock(&huge_lock);
  rm_huge_t *e = huge_find((uintptr_t)p);
  size_t n = e ? e->size : 0;
  pthread_mutex_unlock(&huge_lock);
  return n;
}

/* Under huge_lock: keeps mapping blk in the huge cache; mappings to unmap go to out (returns how many). */
static size_t huge_cache_put_locked(rm_huge_t blk, rm_huge_t *out) {
  size_t nout = 0;
  /* at most half of the most huge memory ever live at once: a program with one big buffer (sqlite's
     2 MiB) does not keep a second one resident; one that cycles many (the realloc workload) does */
  size_t limit = huge_peak / 2 < huge_cache_limit ? huge_peak / 2 : huge_cache_limit;
  if (blk.size <= limit) {
    while (huge_cache_n == RM_HUGE_CACHE_N || huge_cache_bytes + blk.size > limit) {
      out[nout++] = huge_cache[0]; /* evict the oldest */
      huge_cache_n--;
      huge_cache_bytes -= huge_cache[0].size;
      memmove(&huge_cache[0], &huge_cache[1], huge_cache_n * sizeof huge_cache[0]);
    }
    huge_cache[huge_cache_n++] = blk;
    huge_cache_bytes += blk.size;
  } else {
    out[nout++] = blk;
  }
  return nout;
}

/* Frees the huge block at p into the huge cache, or unmaps it; false if p is not one. */
static bool huge_free(void *p) {
  if (((uintptr_t)p & (rm_page() - 1)) != 0) return false;
  rm_huge_t out[RM_HUGE_CACHE_N + 1];
  size_t nout = 0;
  pthread_mutex_lock(&huge_lock);
  rm_huge_t *e = huge_find((uintptr_t)p);
  if (e) {
    rm_huge_t blk = *e;
    huge_erase_locked(e);
    nout = huge_cache_put_locked(blk, out);
  }
  pthread_mutex_unlock(&huge_lock);
  for (size_t k = 0; k < nout; k++) munmap((void *)out[k].addr, out[k].size);
  return e != NULL;
}

/*
 * A huge block that realloc grows is being filled in order (a buffer, a
 * vector): transparent huge pages let one page fault map 2 MiB instead of
 * 4 KiB. Only such blocks are advised (where the system leaves THP to
 * madvise), so a big block that is touched sparsely never pays 2 MiB per touch.
 * On the realloc workload this took page faults from 87,700 to 71,400.
 */
static void huge_grown(void *p, size_t len) {
#ifdef MADV_HUGEPAGE
  if (len >= ((size_t)2 << 20)) madvise(p, len, MADV_HUGEPAGE);
#else
  (void)p, (void)len;
#endif
}

/*
 * Resizes a huge block of old mapped bytes. It stays where it is if the new
 * size fits its mapping and uses at least half of it. Growth takes a cached
 * mapping that is big enough if there is one: the bytes asked for so far are
 * copied (resident memory, cheaper than faulting the new tail in) and the old
 * mapping goes to the cache in turn. Otherwise mremap grows or shrinks the
 * mapping (pages move, no copy). NULL if the OS refuses (p stays valid).
 *
 * (mremap of p's pages onto the front of the cached mapping would save the
 * copy, but leaves a block made of two VMAs, which a later mremap refuses.)
 */
static void *huge_realloc(void *p, size_t old, size_t size) {
  size_t ps = rm_page();
  if (size > PTRDIFF_MAX - ps) return NULL;
  size_t len = (size + ps - 1) & ~(ps - 1);
  pthread_mutex_lock(&huge_lock);
  rm_huge_t *e = huge_find((uintptr_t)p);
  if (len <= old && len >= old / 2) {
    e->req = len;
    pthread_mutex_unlock(&huge_lock);
    return p;
  }
  if (len > old) {
    long k = huge_cache_find(len);
    if (k >= 0 && huge_reserve()) {
      rm_huge_t c = huge_cache_take(k);
      e = huge_find((uintptr_t)p); /* huge_reserve may have rehashed */
      rm_huge_t blk = *e;
      huge_erase_locked(e);
      huge_insert_locked(c.addr, c.size, len);
      pthread_mutex_unlock(&huge_lock);
      huge_grown((void *)c.addr, c.size);
      memcpy((void *)c.addr, p, blk.req);
      rm_huge_t out[RM_HUGE_CACHE_N + 1];
      pthread_mutex_lock(&huge_lock);
      size_t nout = huge_cache_put_locked(blk, out);
      pthread_mutex_unlock(&huge_lock);
      for (size_t j = 0; j < nout; j++) munmap((void *)out[j].addr, out[j].size);
      return (void *)c.addr;
    }
  }
  void *q = mremap(p, old, len, MREMAP_MAYMOVE);
  if (q == MAP_FAILED) {
    pthread_mutex_unlock(&huge_lock);
    return NULL;
  }
  if (len > old) huge_grown(q, len);
  e = huge_find((uintptr_t)p);
  huge_erase_locked(e);
  huge_insert_locked((uintptr_t)q, len, len); /* the slot just freed keeps the load unchanged */
  pthread_mutex_unlock(&huge_lock);
  return q;
}

/* ------------------------------------------------------------------------
 * Initialisation, thread exit, fork
 * ------------------------------------------------------------------------ */

static void rm_thread_exit(void *arg);
static void rm_atfork_prepare(void);
static void rm_atfork_parent(void);
static void rm_atfork_child(void);

static bool env_on(const char *name) {
  const char *v = getenv(name);
  return v && *v && *v != '0';
}

static void rm_init_once(void) {
  rm_continue_on_error = env_on("RMEM_MALLOC_CONTINUE");
  rm_print_at_exit = env_on("RMEM_MALLOC_STATS");
  const char *hc = getenv("RMEM_MALLOC_HUGE_CACHE"); /* MiB */
  if (hc && *hc >= '0' && *hc <= '9') huge_cache_limit = (size_t)strtoul(hc, NULL, 10) << 20;
  rm_key_ok = pthread_key_create(&rm_key, rm_thread_exit) == 0;
  pthread_atfork(rm_atfork_prepare, rm_atfork_parent, rm_atfork_child);
}

static void rm_init(void) { pthread_once(&rm_once, rm_init_once); }

static void rm_atfork_prepare(void) {
  pthread_mutex_lock(&rm_global);
  pthread_mutex_lock(&huge_lock);
}

static void rm_atfork_parent(void) {
  pthread_mutex_unlock(&huge_lock);
  pthread_mutex_unlock(&rm_global);
}

static void rm_atfork_child(void) {
  /* Only this thread survives. Every other heap that was held at the fork (an active thread's, or
     an orphan a remote free had locked) keeps lock == 1 forever: it may have been mid-operation.
     It is quarantined, so no one waits for it or adopts it; frees of its blocks are pushed on its
     stack and never drained (leaked, never corrupted). */
  uint32_t n = atomic_load(&rm_nheaps);
  for (uint32_t k = 0; k < n; k++) {
    rm_heap_t *h = rm_heaps[k];
    if (h && h != rm_tls_heap && atomic_load(&h->lock) != 0) atomic_store(&h->state, RM_QUARANTINED);
  }
  pthread_mutex_init(&huge_lock, NULL);
  pthread_mutex_init(&rm_global, NULL);
}

/* ------------------------------------------------------------------------
 * Heaps
 * ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------
 * Small blocks: the live bitmap and the thread caches
 *
 * Every small block (a slot of a heap size class) handed to the program has
 * its bit set in its instance's live bitmap, one bit per 16 bytes of the
 * instance (every slot is 16-byte aligned and at least 16 bytes long, so no
 * two slots share a bit). free(p) is then checked exactly by one bit that is
 * found from p's address alone: set -> p is the start of a live block; clear
 * -> p is freed already or was never a block (rm_diagnose tells which). The
 * pagemap entry of p's page, read beside it, names the class (S4), so the
 * free pushes p onto that class's thread cache without touching the slab
 * descriptor. Nothing is stored in the user's bytes.
 * ------------------------------------------------------------------------ */

#define RM_LIVE_BYTES (RM_INSTANCE / 16 / 8) /* live bitmap of one instance (8 MiB, committed on touch) */

RMEM_INLINE uint64_t *rm_live_word(uint64_t *live, uintptr_t off) { return &live[off >> 10]; }
RMEM_INLINE uint64_t rm_live_bit(uintptr_t off) { return (uint64_t)1 << ((off >> 4) & 63); }

static inline bool rm_is_live(const rm_inst_t *i, uintptr_t p) {
  uintptr_t off = p - i->base;
  return (off & 15) == 0 && (*rm_live_word(i->live, off) & rm_live_bit(off)) != 0;
}

RMEM_INLINE void rm_set_live(uint64_t *live, uintptr_t off) { *rm_live_word(live, off) |= rm_live_bit(off); }

/* A block just allocated in instance i by rmem's own functions: if it is a slab slot, it is live now. */
static inline void rm_mark_new(rm_inst_t *i, void *p) {
  if (rmem_pme_of(i->r, (uintptr_t)p)->kind == RMEM_PK_SLAB) rm_set_live(i->live, (uintptr_t)p - i->base);
}

/* Why a pointer on a slab page of r is not a live block: RMEM_EDOUBLEFREE or RMEM_EBADPTR (recorded). */
static RMEM_NOINLINE rmem_status_t rm_diagnose(rmem_t *r, uintptr_t p) {
  const rmem_pme_t *pme = rmem_pme_of(r, p);
  rmem_slab_t *s = rmem_slab_of(r, pme);
  if (pme->kind != RMEM_PK_SLAB || s->owner_kind != RMEM_SO_HEAP) return rmem_free(r, (void *)p); /* rmem says why */
  /* a slot start that is not live is free in the engine or on a thread cache */
  return rmem_slab_bad_free(s, p, rmem_slab_slot_at(s, p) == UINT32_MAX ? 0 : 1);
}

/* Gives a cached block back to the slab engine of r (it was validated when it was freed). */
static void rm_engine_free(rmem_t *r, void *p) {
  rmem_status_t st = rmem_slab_free_plain(rmem_slab_of(r, rmem_pme_of(r, (uintptr_t)p)), (uintptr_t)p);
  if (RMEM_UNLIKELY(st != RMEM_OK)) rm_bad("free", p, st, "thread cache and slab disagree: heap metadata is corrupt");
}

/* The cache t is full: its older half goes back to the engine, then p is pushed. */
static RMEM_NOINLINE void rm_tc_overflow(rm_heap_t *h, uint32_t c, void *p) {
  if (h->tc_cap[c] == 0) { /* a class above RMEM_HEAP_TABLE_MAX: p (live a moment ago) goes to the engine */
    int st = rmem_heap_free_slab(h->cur_r, (uintptr_t)p);
    if (RMEM_UNLIKELY(st != RMEM_OK)) rm_bad("free", p, st < 0 ? RMEM_EBADPTR : (rmem_status_t)st, rmem_last_error_message());
    return;
  }
  rm_tc_t *t = &h->tc[c];
  uint32_t half = h->tc_cap[c] / 2u, n = h->tc_n[c];
  for (uint32_t k = 0; k < half; k++) rm_engine_free(h->cur_r, t->p[k]);
  memmove(t->p, t->p + half, (n - half) * sizeof t->p[0]);
  n -= half;
  t->p[n++] = p;
  h->tc_n[c] = (uint8_t)n;
}

/*
 * Pushes p (a block of h's current instance whose live bit was just cleared)
 * onto the cache of its tag: the one push of the free fast path and of
 * rm_free_local.
 */
RMEM_INLINE void rm_tc_push(rm_heap_t *h, uint32_t tag, void *p) {
  uint32_t n = h->tc_n[tag];
  h->frees++;
  if (RMEM_LIKELY(n < h->tc_cap[tag])) {
    __builtin_prefetch(p, 1); /* the next allocation of this class hands p out: warm its line now */
    h->tc[tag].p[n] = p;
    h->tc_n[tag] = (uint8_t)(n + 1);
  } else {
    rm_tc_overflow(h, tag, p); /* full, or a class with no cache */
  }
}

/* Empties every thread cache of h into its current instance. */
static void rm_tc_flush_all(rm_heap_t *h) {
  for (uint32_t c = 1; c <= h->ntc; c++) {
    rm_tc_t *t = &h->tc[c];
    for (uint32_t k = 0; k < h->tc_n[c]; k++) rm_engine_free(h->cur_r, t->p[k]);
    h->tc_n[c] = 0;
  }
}

/*
 * Frees p, which lies in instance i of heap h; the caller holds h's lock.
 * Reports a bad pointer and returns its status.
 */
static rmem_status_t rm_free_local(rm_heap_t *h, rm_inst_t *i, void *p, const char *fn) {
  rmem_t *r = i->r;
  uintptr_t off = (uintptr_t)p - i->base;
  const rmem_pme_t *pme = rmem_pme_of(r, (uintptr_t)p);
  rmem_status_t st;
  if (pme->kind == RMEM_PK_SLAB) {
    uint64_t *w = rm_live_word(i->live, off), bit = rm_live_bit(off);
    if ((off & 15) == 0 && (*w & bit)) {
      *w &= ~bit;
      if (i == h->cur) {
        rm_tc_push(h, r->pclass[off >> RMEM_PAGE_SHIFT], p);
        return RMEM_OK;
      }
      int fs = rmem_heap_free_slab(r, (uintptr_t)p); /* another instance of h: straight to its engine */
      st = fs >= 0 ? (rmem_status_t)fs : rmem_free(r, p);
    } else {
      st = rm_diagnose(r, (uintptr_t)p);
    }
  } else {
    st = rmem_free(r, p); /* a page run, or not a block: rmem checks it exactly */
  }
  if (RMEM_UNLIKELY(st != RMEM_OK)) rm_bad(fn, p, st, rmem_last_error_message());
  return st;
}

/* Frees everything on h's remote stack; the caller holds h's lock. */
static RMEM_NOINLINE void rm_drain(rm_heap_t *h) {
  void *list = atomic_exchange_explicit(&h->remote, NULL, memory_order_acquire);
  while (list) {
    void *next = *(void **)list;
    rm_inst_t *i = rm_lookup((uintptr_t)list);
    if (!i || i->heap != h) {
      rm_bad("free", list, RMEM_EBADPTR, "not in the heap it was sent to");
    } else if (rm_free_local(h, i, list, "free") == RMEM_EDOUBLEFREE) {
      /* the link of a block freed twice may point back into the stack: drop the rest (leak) */
      return;
    }
    list = next;
  }
}

static inline bool rm_trylock(rm_heap_t *h) {
  int z = 0;
  return atomic_load_explicit(&h->lock, memory_order_relaxed) == 0 &&
         atomic_compare_exchange_strong_explicit(&h->lock, &z, 1, memory_order_acquire, memory_order_relaxed);
}

static inline void rm_unlock(rm_heap_t *h) { atomic_store_explicit(&h->lock, 0, memory_order_release); }

/*
 * Remote frees are batched per thread: up to RM_PENDING_MAX blocks for one
 * owner heap are linked locally (through their first word, as on the stack)
 * and pushed with a single CAS. A thread keeps batches for RM_PENDING_SLOTS
 * owners at once (slot = owner index mod slots) and flushes them when a batch
 * is full, when a slot changes owner, at its allocation slow path and at exit,
 * so a freed block waits for at most one of those events.
 */
#define RM_PENDING_SLOTS 4
#define RM_PENDING_MAX 32

typedef struct rm_pending {
  rm_heap_t *to;
  void *head, *tail;
  uint32_t n;
} rm_pending_t;

static _Thread_local rm_pending_t rm_pend[RM_PENDING_SLOTS] RM_TLS;
static _Thread_local bool rm_exit_hook_set RM_TLS;

static void rm_flush(rm_pending_t *q) {
  if (q->n == 0) return;
  rm_heap_t *owner = q->to;
  void *head = atomic_load_explicit(&owner->remote, memory_order_relaxed);
  do {
    *(void **)q->tail = head;
  } while (!atomic_compare_exchange_weak_explicit(&owner->remote, &head, q->head, memory_order_release,
                                                  memory_order_relaxed));
  atomic_fetch_add_explicit(&st_remote, q->n, memory_order_relaxed);
  q->head = q->tail = NULL;
  q->n = 0;
}

static void rm_flush_all(void) {
  for (int k = 0; k < RM_PENDING_SLOTS; k++) rm_flush(&rm_pend[k]);
}

/* Makes i the instance h allocates from; the thread caches hold only its blocks. */
static void rm_set_cur(rm_heap_t *h, rm_inst_t *i) {
  if (h->cur && h->cur != i) rm_tc_flush_all(h);
  h->cur = i;
  h->cur_r = i->r;
  h->cur_base = i->base;
  h->cur_live = i->live;
  h->cur_pclass = i->r->pclass;
}

/* Sets up the class table and the caches of a new heap from the classes of its first instance. */
static void rm_tc_init(rm_heap_t *h, const rmem_t *r) {
  uint32_t n = 0;
  while (n < r->heap.nclasses && r->heap.cls[n].bsize <= RMEM_HEAP_TABLE_MAX) n++;
  h->ntc = n;
  for (uint32_t c = 0; c < n; c++) {
    uint32_t cap = RM_TC_BYTES / r->heap.cls[c].bsize;
    h->tc_cap[c + 1] = (uint8_t)(cap < 4 ? 4 : cap > RM_TC_CAP ? RM_TC_CAP : cap);
  }
  for (size_t k = 0; k <= RMEM_HEAP_TABLE_MAX / 16; k++) {
    size_t size = k < 1 ? 16 : k * 16;
    h->tc_class[k] = (uint8_t)(r->heap.class_of[(size + 7) >> 3] + 1);
  }
}

/* Under rm_global: a new rmem instance for h, registered and chained. */
static rm_inst_t *rm_instance_new(rm_heap_t *h) {
  if (h->ninst >= RM_HEAP_INSTANCES) return NULL;
  uint32_t k = atomic_load_explicit(&rm_ninst, memory_order_relaxed);
  if (k >= RM_MAX_INSTANCES) return NULL;
  rmem_options_t o = {RM_INSTANCE, 0};
  rmem_t *r = rmem_create(&o);
  if (!r) return NULL;
  rm_inst_t *i = &rm_insts[k];
  i->r = r;
  i->base = r->base;
  i->heap = h;
  i->live = rmem_os_reserve(RM_LIVE_BYTES);
  if (r->capacity != RM_INSTANCE || !i->live || !rm_register(i)) {
    if (i->live) rmem_os_release(i->live, RM_LIVE_BYTES);
    rmem_destroy(r);
    memset(i, 0, sizeof *i);
    return NULL;
  }
  if (h->ntc == 0) rm_tc_init(h, r);
  atomic_store_explicit(&rm_ninst, k + 1, memory_order_release);
  h->inst[h->ninst++] = i;
  return i;
}

/* The calling thread's heap: adopts an orphan or creates a heap. NULL if the OS refuses. */
static RMEM_NOINLINE rm_heap_t *rm_heap_acquire(void) {
  rm_init();
  rm_heap_t *h = NULL;
  pthread_mutex_lock(&rm_global);
  uint32_t n = atomic_load_explicit(&rm_nheaps, memory_order_relaxed);
  /* An orphan whose lock is held is only busy for a moment (a remote free in place): wait for it
     rather than create a heap that would then outlive the moment (larson made a sixth heap, 1 MB,
     in one run of six this way). */
  for (int attempt = 0; attempt < 100 && !h; attempt++) {
    bool busy = false;
    for (uint32_t k = 0; k < n && !h; k++) {
      rm_heap_t *c = rm_heaps[k];
      if (atomic_load(&c->state) != RM_ORPHAN) continue;
      if (rm_trylock(c)) {
        h = c;
        atomic_fetch_add_explicit(&st_adopt, 1, memory_order_relaxed);
      } else {
        busy = true;
      }
    }
    if (!busy) break;
    if (!h) sched_yield();
  }
  if (!h && n < RM_MAX_HEAPS) {
    size_t bytes = (sizeof(rm_heap_t) + rm_page() - 1) & ~(rm_page() - 1);
    h = rmem_os_reserve(bytes);
    if (h) {
      h->index = n;
      atomic_store(&h->lock, 1);
      atomic_store_explicit(&rm_heaps[n], h, memory_order_release);
      atomic_store_explicit(&rm_nheaps, n + 1, memory_order_release);
    }
  }
  if (h) {
    atomic_store(&h->state, RM_ACTIVE);
    if (!h->cur) {
      rm_inst_t *i = rm_instance_new(h);
      if (i) rm_set_cur(h, i);
    }
    if (!h->cur) { /* no instance: give the heap back */
      atomic_store(&h->state, RM_ORPHAN);
      rm_unlock(h);
      h = NULL;
    }
  }
  pthread_mutex_unlock(&rm_global);
  if (!h) return NULL;
  rm_tls_heap = h;
  if (rm_key_ok) pthread_setspecific(rm_key, h);
  rm_exit_hook_set = true;
  rm_drain(h);
  return h;
}

/* Thread exit: drain, give empty slabs back, and leave the heap for adoption. */
static void rm_heap_release(rm_heap_t *h) {
  rm_flush_all();
  rm_drain(h);
  rm_tc_flush_all(h); /* so that defrag can give back the slabs they kept */
  /* Empty slabs go back to the page source, whose dirty-page budget decides what returns to
     the OS; forcing every free page out here (rmem_defrag) made the next thread to adopt the
     heap fault them in again: a third of larson's page faults. */
  for (uint32_t k = 0; k < h->ninst; k++) rmem_heap_reclaim(h->inst[k]->r);
  rm_tls_heap = NULL;
  atomic_store(&h->state, RM_ORPHAN);
  rm_unlock(h);
}

static void rm_thread_exit(void *arg) {
  rm_flush_all();
  rm_exit_hook_set = false;
  rm_heap_t *h = arg;
  if (h && h == rm_tls_heap) rm_heap_release(h);
}

void rmem_malloc_thread_done(void) {
  rm_heap_t *h = rm_tls_heap;
  if (!h) return;
  if (rm_key_ok) pthread_setspecific(rm_key, NULL);
  rm_heap_release(h);
}

/* ------------------------------------------------------------------------
 * Allocation
 * ------------------------------------------------------------------------ */

/* One allocation in instance i: plain, or aligned when align > 16; never from the 8-byte class (S4). */
static inline void *rm_inst_alloc(rm_inst_t *i, size_t size, size_t align) {
  if (size < 16) size = 16;
  void *p = align > 16 ? rmem_aligned_alloc(i->r, align, size) : rmem_alloc(i->r, size);
  if (p) rm_mark_new(i, p);
  return p;
}

/*
 * Every allocation that is not a plain small request from an existing heap's
 * current instance. size >= 1; align is 0 or a power of two >= 16.
 */
static RMEM_NOINLINE void *rm_alloc_slow(size_t size, size_t align) {
  if (RMEM_UNLIKELY(size > PTRDIFF_MAX)) {
    errno = ENOMEM;
    return NULL;
  }
  if (size >= RM_HUGE || align > (RM_INSTANCE >> 2)) {
    void *p = huge_alloc(size, align, false);
    if (!p) errno = ENOMEM;
    return p;
  }
  rm_heap_t *h = rm_tls_heap;
  if (!h && !(h = rm_heap_acquire())) {
    errno = ENOMEM;
    return NULL;
  }
  rm_flush_all();
  if (atomic_load_explicit(&h->remote, memory_order_relaxed)) rm_drain(h);
  void *p = rm_inst_alloc(h->cur, size, align);
  if (RMEM_LIKELY(p != NULL)) return p;
  /* the current instance is full: the rest of the chain, then a new instance */
  for (uint32_t k = 0; k < h->ninst; k++) {
    rm_inst_t *i = h->inst[k];
    if (i == h->cur) continue;
    if ((p = rm_inst_alloc(i, size, align)) != NULL) {
      rm_set_cur(h, i);
      return p;
    }
  }
  pthread_mutex_lock(&rm_global);
  rm_inst_t *i = rm_instance_new(h);
  pthread_mutex_unlock(&rm_global);
  if (i && (p = rm_inst_alloc(i, size, align)) != NULL) {
    rm_set_cur(h, i);
    return p;
  }
  errno = ENOMEM;
  return NULL;
}

/* Pops the newest block of cache t and marks it live (t is not empty). */
RMEM_INLINE void *rm_tc_pop(rm_heap_t *h, uint32_t c, uint32_t n) {
  void *p = h->tc[c].p[n - 1];
  h->tc_n[c] = (uint8_t)(n - 1);
  h->allocs++;
  rm_set_live(h->cur_live, (uintptr_t)p - h->cur_base);
  return p;
}

/*
 * The thread cache of class c is empty: refill half of it from the current
 * instance's slab engine in one batch and return one block (marked live), or
 * NULL when the instance is full (the caller goes to rm_alloc_slow).
 *
 * No borrowing from the next class up here (rmem_alloc does it). Borrowing
 * one block at a time left class c's cache empty, so every allocation of it
 * took this slow path again (larson: 18% of the run). Borrowing a batch into
 * c's cache cut slab pages in use from 8.4 to 7.3 MiB but not the peak RSS,
 * and cost 10% of larson's time. Both were measured and taken out.
 */
static RMEM_NOINLINE void *rm_refill(rm_heap_t *h, uint32_t c) {
  rm_tc_t *t = &h->tc[c];
  uint32_t got = rmem_slab_list_alloc_batch(&h->cur_r->heap.cls[c - 1], t->p, h->tc_cap[c] / 2u);
  if (got == 0) return NULL;
  /* the batch is in address order: hand out the lowest first */
  for (uint32_t a = 0, b = got - 1; a < b; a++, b--) {
    void *x = t->p[a];
    t->p[a] = t->p[b];
    t->p[b] = x;
  }
  return rm_tc_pop(h, c, got);
}

/* rmem_malloc when the fast path cannot serve: remote frees to drain, an empty cache, or not small. */
static RMEM_NOINLINE void *rm_malloc_slow(size_t size) {
  rm_heap_t *h = rm_tls_heap;
  if (h != NULL && size - 1 < RMEM_HEAP_TABLE_MAX) {
    if (atomic_load_explicit(&h->remote, memory_order_relaxed) != NULL) rm_drain(h);
    uint32_t c = h->tc_class[(size + 15) >> 4];
    if (h->tc_n[c] != 0) return rm_tc_pop(h, c, h->tc_n[c]);
    void *p = rm_refill(h, c);
    if (p != NULL) return p;
  }
  return rm_alloc_slow(size ? size : 1, 0);
}

/* The fast path: a small request with no remote frees waiting pops its class's thread cache. */
void *rmem_malloc(size_t size) {
  rm_heap_t *h = rm_tls_heap;
  if (RMEM_LIKELY(h != NULL && size - 1 < RMEM_HEAP_TABLE_MAX &&
                  atomic_load_explicit(&h->remote, memory_order_relaxed) == NULL)) {
    uint32_t c = h->tc_class[(size + 15) >> 4], n = h->tc_n[c];
    if (RMEM_LIKELY(n != 0)) return rm_tc_pop(h, c, n);
  }
  return rm_malloc_slow(size);
}

/* ------------------------------------------------------------------------
 * Free
 * ------------------------------------------------------------------------ */

/* Frees p, which lies in instance i of another heap (or of no live thread). */
static void rm_free_remote(rm_inst_t *i, void *p, const char *fn) {
  rm_heap_t *owner = i->heap;
  if (atomic_load_explicit(&owner->state, memory_order_acquire) == RM_ORPHAN && rm_trylock(owner)) {
    rm_drain(owner);
    rm_free_local(owner, i, p, fn);
    rm_unlock(owner);
    return;
  }
  /* Batch: one CAS on the owner's stack per RM_PENDING_MAX frees instead of one each. */
  rm_pending_t *q = &rm_pend[owner->index & (RM_PENDING_SLOTS - 1)];
  if (q->to != owner) {
    rm_flush(q);
    q->to = owner;
    if (RMEM_UNLIKELY(!rm_exit_hook_set) && rm_tls_heap == NULL && rm_key_ok) {
      /* a thread that frees but never allocates: its exit must still flush */
      pthread_setspecific(rm_key, &rm_pend);
      rm_exit_hook_set = true;
    }
  }
  *(void **)p = q->head;
  if (!q->head) q->tail = p;
  q->head = p;
  if (++q->n >= RM_PENDING_MAX) rm_flush(q);
}

static RMEM_NOINLINE void rm_free_slow(void *p, const char *fn) {
  rm_inst_t *i = rm_lookup((uintptr_t)p);
  if (i) {
    if (i->heap == rm_tls_heap) rm_free_local(i->heap, i, p, fn);
    else rm_free_remote(i, p, fn);
    return;
  }
  if (huge_free(p)) return;
  rm_bad(fn, p, RMEM_EBADPTR, "not allocated by rmem-malloc");
}

/*
 * The fast path: a live small block of the current instance (its live bit is
 * set, found from its address) goes onto its class's thread cache (the class
 * comes from the pagemap entry of its page). Everything else, including every
 * bad pointer, takes rm_free_slow.
 */
void rmem_malloc_free(void *p) {
  rm_heap_t *h = rm_tls_heap;
  if (RMEM_LIKELY(h != NULL)) {
    uintptr_t off = (uintptr_t)p - h->cur_base;
    /* in the current instance and 16-byte aligned, in one test */
    if (RMEM_LIKELY((off & (~(uintptr_t)(RM_INSTANCE - 1) | 15)) == 0)) {
      uint64_t *w = rm_live_word(h->cur_live, off), bit = rm_live_bit(off), m = *w;
      uint32_t tag = h->cur_pclass[off >> RMEM_PAGE_SHIFT]; /* nonzero if the bit is set (T2, S4) */
      if (RMEM_LIKELY((m & bit) != 0)) {
        *w = m & ~bit;
        rm_tc_push(h, tag, p);
        return;
      }
    }
  }
  if (p) rm_free_slow(p, "free");
}

/* ------------------------------------------------------------------------
 * The rest of the interface
 * ------------------------------------------------------------------------ */

void *rmem_malloc_calloc(size_t n, size_t size) {
  size_t total;
  if (RMEM_UNLIKELY(__builtin_mul_overflow(n, size, &total))) {
    errno = ENOMEM;
    return NULL;
  }
  if (total == 0) total = 1;
  if (total >= RM_HUGE) {
    void *p = huge_alloc(total, 0, true); /* zeroed only if it comes from the huge cache */
    if (!p) errno = ENOMEM;
    return p;
  }
  void *p = rmem_malloc(total);
  if (p) memset(p, 0, total);
  return p;
}

/* Usable size of p, 0 if it is not a live block. */
static size_t rm_usable(const void *p) {
  rm_inst_t *i = rm_lookup((uintptr_t)p);
  if (!i) return huge_size(p);
  /* Another thread's instance: reading its pagemap entry and slab geometry is safe
     because p is live (they cannot change under a live block). */
  const rmem_pme_t *pme = rmem_pme_of(i->r, (uintptr_t)p);
  if (pme->kind == RMEM_PK_SLAB) return rm_is_live(i, (uintptr_t)p) ? rmem_slab_of(i->r, pme)->bsize : 0;
  return rmem_usable_size(i->r, p);
}

void *rmem_malloc_realloc(void *p, size_t size) {
  if (p == NULL) return rmem_malloc(size);
  if (size == 0) { /* glibc: realloc(p, 0) frees p and returns NULL */
    rmem_malloc_free(p);
    return NULL;
  }
  if (RMEM_UNLIKELY(size > PTRDIFF_MAX)) {
    errno = ENOMEM;
    return NULL;
  }
  rm_heap_t *h = rm_tls_heap;
  rm_inst_t *i = rm_lookup((uintptr_t)p);
  size_t old;
  if (i) {
    const rmem_pme_t *pme = rmem_pme_of(i->r, (uintptr_t)p);
    if (pme->kind == RMEM_PK_SLAB) {
      if (!rm_is_live(i, (uintptr_t)p)) {
        rmem_status_t st = rm_diagnose(i->r, (uintptr_t)p);
        rm_bad("realloc", p, st, rmem_last_error_message());
        return NULL;
      }
      old = rmem_slab_of(i->r, pme)->bsize;
      /* stay in place if the new size still fits and uses at least half of the block, as rmem_realloc does */
      if (size <= old && (size * 2 >= old || old <= 16)) return p;
    } else if (i->heap == h && size < RM_HUGE) {
      void *q = rmem_realloc(i->r, p, size < 16 ? 16 : size); /* page runs grow and shrink in place */
      if (q) {
        rm_mark_new(i, q);
        return q;
      }
      rmem_status_t st = rmem_last_error();
      if (st != RMEM_ENOMEM) {
        rm_bad("realloc", p, st, rmem_last_error_message());
        return NULL;
      }
      old = rmem_usable_size(i->r, p); /* the instance is full: move below */
    } else {
      old = rmem_usable_size(i->r, p);
      if (old == 0) {
        rm_bad("realloc", p, rmem_last_error(), rmem_last_error_message());
        return NULL;
      }
    }
  } else {
    old = huge_size(p);
    if (old == 0) {
      rm_bad("realloc", p, RMEM_EBADPTR, "not allocated by rmem-malloc");
      return NULL;
    }
    if (size >= RM_HUGE / 2) { /* stay a mapping: mremap moves pages, not bytes */
      void *q = huge_realloc(p, old, size);
      if (!q) errno = ENOMEM;
      return q;
    }
  }
  void *q = rmem_malloc(size);
  if (!q) return NULL;
  memcpy(q, p, old < size ? old : size);
  rmem_malloc_free(p);
  return q;
}

void *rmem_malloc_reallocarray(void *p, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return rmem_malloc_realloc(p, total);
}

/* align: a power of two. */
static void *rm_memalign(size_t align, size_t size) {
  if (size == 0) size = 1;
  if (align <= 8) return rmem_malloc(size);
  if (align <= 16) return rmem_malloc(size < 16 ? 16 : size); /* every class above 8 is 16-aligned */
  return rm_alloc_slow(size, align);
}

int rmem_malloc_posix_memalign(void **out, size_t alignment, size_t size) {
  if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
  int saved = errno;
  void *p = rm_memalign(alignment, size);
  errno = saved;
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

void *rmem_malloc_aligned_alloc(size_t alignment, size_t size) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) { /* glibc: any power of two */
    errno = EINVAL;
    return NULL;
  }
  return rm_memalign(alignment, size);
}

void *rmem_malloc_memalign(size_t alignment, size_t size) {
  if (alignment > ((size_t)1 << 62)) {
    errno = EINVAL;
    return NULL;
  }
  size_t a = 1;
  while (a < alignment) a <<= 1; /* glibc rounds a non-power of two up */
  return rm_memalign(a, size);
}

void *rmem_malloc_valloc(size_t size) { return rm_memalign(rm_page(), size); }

void *rmem_malloc_pvalloc(size_t size) {
  size_t ps = rm_page();
  if (size > PTRDIFF_MAX - ps) {
    errno = ENOMEM;
    return NULL;
  }
  size = size ? (size + ps - 1) & ~(ps - 1) : ps;
  return rm_memalign(ps, size);
}

size_t rmem_malloc_usable_size(const void *p) {
  /* Programs like redis call this on every allocation and free: small blocks of the
     current instance are answered from the pagemap and the slab at once. */
  rm_heap_t *h = rm_tls_heap;
  if (RMEM_LIKELY(h != NULL)) {
    uintptr_t off = (uintptr_t)p - h->cur_base;
    if (RMEM_LIKELY(off < RM_INSTANCE && (off & 15) == 0 && (*rm_live_word(h->cur_live, off) & rm_live_bit(off)))) {
      uint32_t c = (uint32_t)h->cur_pclass[off >> RMEM_PAGE_SHIFT] - 1;
      if (RMEM_LIKELY(c < h->ntc)) return h->cur_r->heap.cls[c].bsize;
    }
  }
  return p ? rm_usable(p) : 0;
}

/* ------------------------------------------------------------------------
 * Stats and validation
 * ------------------------------------------------------------------------ */

void rmem_malloc_stats(rmem_malloc_stats_t *out) {
  memset(out, 0, sizeof *out);
  uint32_t nh = atomic_load(&rm_nheaps), ni = atomic_load(&rm_ninst);
  out->heaps = nh;
  for (uint32_t k = 0; k < nh; k++) {
    const rm_heap_t *h = rm_heaps[k];
    if (atomic_load(&h->state) == RM_ACTIVE) out->heaps_active++;
    out->allocs += h->allocs; /* racy reads of other threads' counters: a summary, not an audit */
    out->frees += h->frees;
    for (uint32_t c = 1; c <= h->ntc; c++) out->cached += h->tc_n[c];
  }
  out->instances = ni;
  for (uint32_t k = 0; k < ni; k++) {
    const rmem_t *r = rm_insts[k].r;
    out->allocs += r->heap.allocs;
    out->frees += r->heap.frees;
    out->pages_used += (size_t)r->used_pages << RMEM_PAGE_SHIFT;
    out->pages_dirty += (size_t)r->dirty_pages << RMEM_PAGE_SHIFT;
  }
  out->remote_frees = atomic_load(&st_remote);
  out->adoptions = atomic_load(&st_adopt);
  out->huge_allocs = atomic_load(&st_huge_allocs);
  pthread_mutex_lock(&huge_lock);
  out->huge_live = huge_live;
  out->huge_bytes = huge_bytes;
  out->huge_cached = huge_cache_bytes;
  out->huge_reused = atomic_load(&st_huge_reused);
  pthread_mutex_unlock(&huge_lock);
  out->bad_frees = atomic_load(&st_bad);
}

void rmem_malloc_print_stats(int fd) {
  rmem_malloc_stats_t s;
  rmem_malloc_stats(&s);
  char buf[1024];
  int n = snprintf(buf, sizeof buf,
                   "rmem-malloc stats (pid %ld)\n"
                   "  thread heaps      %zu (%zu active, %zu adoptions)\n"
                   "  rmem instances    %zu x %zu MiB reserved\n"
                   "  heap operations   %zu allocs, %zu frees, %zu remote frees, %zu blocks cached\n"
                   "  heap pages        %.1f MiB in use, %.1f MiB free but resident\n"
                   "  huge blocks       %zu since start (%zu from the huge cache), %zu alive (%.1f MiB), %.1f MiB cached\n"
                   "  bad frees         %zu\n",
                   (long)getpid(), s.heaps, s.heaps_active, s.adoptions, s.instances, RM_INSTANCE >> 20, s.allocs,
                   s.frees, s.remote_frees, s.cached, (double)s.pages_used / 1048576.0, (double)s.pages_dirty / 1048576.0,
                   s.huge_allocs, s.huge_reused, s.huge_live, (double)s.huge_bytes / 1048576.0,
                   (double)s.huge_cached / 1048576.0, s.bad_frees);
  if (n > 0) rm_write(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

__attribute__((destructor)) static void rm_at_exit(void) {
  if (rm_print_at_exit) rmem_malloc_print_stats(2);
}

/* T1: every cached block is a distinct slot of its own class in h's current instance, used for the
   engine and not live. */
static size_t rm_tc_check(rm_heap_t *h) {
  size_t problems = 0;
  if (h->ntc > RMEM_HEAP_CLASSES) {
    rmem_problem(&problems, "rmem-malloc: heap %u has %u cached classes (T1)", h->index, h->ntc);
    return problems;
  }
  for (uint32_t c = 1; c <= h->ntc; c++) { /* c: tag */
    rm_tc_t *t = &h->tc[c];
    uint32_t n = h->tc_n[c];
    if (n > h->tc_cap[c] || h->tc_cap[c] > RM_TC_CAP) {
      rmem_problem(&problems, "rmem-malloc: heap %u class %u cache holds %u of %u (T1)", h->index, c, n, h->tc_cap[c]);
      continue;
    }
    if (n && !h->cur) {
      rmem_problem(&problems, "rmem-malloc: heap %u caches blocks but has no instance (T1)", h->index);
      continue;
    }
    for (uint32_t k = 0; k < n; k++) {
      uintptr_t p = (uintptr_t)t->p[k], off = p - h->cur_base;
      if (off >= RM_INSTANCE || (off & 15) || h->cur_r->pclass[off >> RMEM_PAGE_SHIFT] != c) {
        rmem_problem(&problems, "rmem-malloc: cached block %#lx is not in a slab of class %u (T1)", (unsigned long)p, c - 1);
        continue;
      }
      const rmem_pme_t *pme = rmem_pme_of(h->cur_r, p);
      const rmem_slab_t *s = rmem_slab_of(h->cur_r, pme);
      uint32_t idx = rmem_slab_slot_at(s, p);
      if (idx == UINT32_MAX || rmem_slab_slot_free(s, idx))
        rmem_problem(&problems, "rmem-malloc: cached block %#lx is not a used slot (T1)", (unsigned long)p);
      if (rm_is_live(h->cur, p)) rmem_problem(&problems, "rmem-malloc: cached block %#lx is live too (T1)", (unsigned long)p);
      for (uint32_t j = 0; j < k; j++)
        if (t->p[j] == t->p[k]) rmem_problem(&problems, "rmem-malloc: block %#lx cached twice (T1)", (unsigned long)p);
    }
  }
  return problems;
}

/*
 * T2: a live bit is set only at the start of a used slot of a heap class's slab.
 * T3: every used slot of a heap class is either live or cached (the engine's used count of
 *     each slab equals its live bits plus its cached blocks).
 */
static size_t rm_live_check(rm_heap_t *h, rm_inst_t *i) {
  size_t problems = 0;
  rmem_t *r = i->r;
  size_t words = ((size_t)r->top << RMEM_PAGE_SHIFT) >> 10;
  for (size_t w = 0; w < words; w++) {
    for (uint64_t m = i->live[w]; m; m &= m - 1) {
      uintptr_t off = ((uintptr_t)w << 10) + ((uintptr_t)__builtin_ctzll(m) << 4), p = i->base + off;
      const rmem_pme_t *pme = rmem_pme_of(r, p);
      const rmem_slab_t *s = rmem_slab_of(r, pme);
      bool ok = pme->kind == RMEM_PK_SLAB && r->pclass[off >> RMEM_PAGE_SHIFT] != 0;
      if (ok) {
        uint32_t idx = rmem_slab_slot_at(s, p);
        ok = idx != UINT32_MAX && !rmem_slab_slot_free(s, idx);
      }
      if (!ok) rmem_problem(&problems, "rmem-malloc: live bit at %#lx names no used slot (T2)", (unsigned long)p);
    }
  }
  for (uint32_t c = 0; c < r->heap.nclasses; c++) {
    for (const rmem_slab_t *s = r->heap.cls[c].all; s; s = s->anext) {
      uint32_t live = 0, cached = 0;
      for (uint32_t idx = 0; idx < s->nslots; idx++) live += rm_is_live(i, s->start + (uintptr_t)idx * s->bsize);
      if (i == h->cur && c < h->ntc)
        for (uint32_t k = 0; k < h->tc_n[c + 1] && k < RM_TC_CAP; k++)
          cached += (uintptr_t)h->tc[c + 1].p[k] - s->start < (uintptr_t)s->nslots * s->bsize;
      if (s->used != live + cached)
        rmem_problem(&problems, "rmem-malloc: slab of class %u has %u used slots, %u live + %u cached (T3)", c, s->used,
                     live, cached);
    }
  }
  return problems;
}

size_t rmem_malloc_validate(void) {
  size_t problems = 0;
  uint32_t ni = atomic_load(&rm_ninst), nh = atomic_load(&rm_nheaps);
  /* R1: registry */
  for (uint32_t k = 0; k < ni; k++) {
    rm_inst_t *i = &rm_insts[k];
    for (uintptr_t a = i->base; a < i->base + RM_INSTANCE; a += (uintptr_t)1 << RM_SLOT_SHIFT)
      if (rm_lookup(a) != i) rmem_problem(&problems, "rmem-malloc: instance %u is not found at %#lx (R1)", k, (unsigned long)a);
    if (rm_lookup(i->base + RM_INSTANCE - 1) != i)
      rmem_problem(&problems, "rmem-malloc: instance %u is not found at its last byte (R1)", k);
  }
  /* R2: ownership */
  size_t listed = 0;
  for (uint32_t k = 0; k < nh; k++) {
    rm_heap_t *h = rm_heaps[k];
    for (uint32_t j = 0; j < h->ninst; j++) {
      listed++;
      if (h->inst[j]->heap != h) rmem_problem(&problems, "rmem-malloc: heap %u lists an instance it does not own (R2)", k);
    }
    if (h->cur && h->cur->heap != h) rmem_problem(&problems, "rmem-malloc: heap %u allocates from a foreign instance (R2)", k);
  }
  if (listed != ni) rmem_problem(&problems, "rmem-malloc: %zu instances listed by heaps, %u created (R2)", listed, ni);
  /* every instance we may look at, with its live bitmap and the heap's thread caches */
  for (uint32_t k = 0; k < nh; k++) {
    rm_heap_t *h = rm_heaps[k];
    bool mine = h == rm_tls_heap;
    if (!mine && !rm_trylock(h)) continue;
    if (!mine) rm_drain(h);
    problems += rm_tc_check(h);
    for (uint32_t j = 0; j < h->ninst; j++) {
      problems += rmem_validate(h->inst[j]->r);
      problems += rm_live_check(h, h->inst[j]);
    }
    if (!mine) rm_unlock(h);
  }
  /* R4: huge table */
  pthread_mutex_lock(&huge_lock);
  size_t live = 0, bytes = 0;
  for (size_t k = 0; huge_tab && k < huge_cap; k++) {
    if (huge_tab[k].addr <= 1) continue;
    live++;
    bytes += huge_tab[k].size;
    if (huge_find(huge_tab[k].addr) != &huge_tab[k]) rmem_problem(&problems, "rmem-malloc: huge entry unreachable (R4)");
  }
  if (live != huge_live || bytes != huge_bytes)
    rmem_problem(&problems, "rmem-malloc: huge table holds %zu blocks / %zu bytes, counters say %zu / %zu (R4)", live,
                 bytes, huge_live, huge_bytes);
  /* R5: the huge cache */
  size_t cached = 0;
  for (size_t k = 0; k < huge_cache_n && k < RM_HUGE_CACHE_N; k++) {
    cached += huge_cache[k].size;
    if (huge_find(huge_cache[k].addr) != NULL)
      rmem_problem(&problems, "rmem-malloc: cached mapping %#lx is also a live block (R5)", (unsigned long)huge_cache[k].addr);
  }
  if (huge_cache_n > RM_HUGE_CACHE_N || cached != huge_cache_bytes || huge_cache_bytes > huge_cache_limit ||
      huge_cache_bytes > huge_peak / 2)
    rmem_problem(&problems, "rmem-malloc: huge cache holds %zu mappings / %zu bytes, counters say %zu bytes, limit %zu (R5)",
                 huge_cache_n, cached, huge_cache_bytes, huge_cache_limit);
  pthread_mutex_unlock(&huge_lock);
  return problems;
}

/* ------------------------------------------------------------------------
 * The standard names (librmem-malloc.so), as aliases of the functions above
 * ------------------------------------------------------------------------ */

#ifdef RMEM_MALLOC_EXPORT_STD
#define RM_ALIAS(name, target) __typeof__(target) name __attribute__((alias(#target), visibility("default")))

RM_ALIAS(malloc, rmem_malloc);
RM_ALIAS(free, rmem_malloc_free);
RM_ALIAS(cfree, rmem_malloc_free);
RM_ALIAS(calloc, rmem_malloc_calloc);
RM_ALIAS(realloc, rmem_malloc_realloc);
RM_ALIAS(reallocarray, rmem_malloc_reallocarray);
RM_ALIAS(posix_memalign, rmem_malloc_posix_memalign);
RM_ALIAS(aligned_alloc, rmem_malloc_aligned_alloc);
RM_ALIAS(memalign, rmem_malloc_memalign);
RM_ALIAS(valloc, rmem_malloc_valloc);
RM_ALIAS(pvalloc, rmem_malloc_pvalloc);
RM_ALIAS(malloc_usable_size, rmem_malloc_usable_size);
RM_ALIAS(__libc_malloc, rmem_malloc);
RM_ALIAS(__libc_free, rmem_malloc_free);
RM_ALIAS(__libc_calloc, rmem_malloc_calloc);
RM_ALIAS(__libc_realloc, rmem_malloc_realloc);
RM_ALIAS(__libc_memalign, rmem_malloc_memalign);
RM_ALIAS(__libc_valloc, rmem_malloc_valloc);
RM_ALIAS(__libc_pvalloc, rmem_malloc_pvalloc);
#endif
