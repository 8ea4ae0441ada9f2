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
 *   frees          A free from the owning thread goes straight to rmem_free.
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
 *                  with mremap and unmapped on free, so their memory goes back
 *                  to the OS at once.
 *   bad frees      Every pointer handed to free/realloc is checked exactly (the
 *                  registry, then rmem's out-of-band bitmaps and pagemap, or
 *                  the huge table). An invalid or double free is reported on
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
 * Small blocks come from rmem's own fast paths (the inline pieces of
 * internal.h); the slab engine's park ring already reuses freed slots LIFO, so
 * this layer keeps no cache of its own (one was tried and only added work).
 *
 * Invariants (rmem_malloc_validate checks R1, R2, R4 and every instance):
 *   R1  every instance record i < rm_ninst is registered in every registry
 *       slot its range overlaps, in field a or b, and in no other slot.
 *   R2  every instance record belongs to exactly one heap, which lists it.
 *   R3  a block is in at most one place: live, free in its instance, in the
 *       remote-free batch of the thread that freed it, or on its owner's remote
 *       stack (pushed exactly once by a correct program).
 *   R4  a huge block's address is in the huge table iff it is mapped.
 */
#include "internal.h"
#include "rmem_malloc.h"

#include <errno.h>
#include <pthread.h>
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

enum { RM_FREE = 0, RM_ACTIVE = 1, RM_ORPHAN = 2 };

typedef struct rm_heap rm_heap_t;

/* One rmem instance and its owner. Immutable once registered. */
typedef struct rm_inst {
  rmem_t *r;
  uintptr_t base;
  rm_heap_t *heap;
} rm_inst_t;

struct rm_heap {
  /* owner-only (whoever holds lock) */
  rmem_t *cur_r;                        /* == cur->r, cur->base: what the fast paths read */
  uintptr_t cur_base;
  rm_inst_t *cur;                       /* allocations go here first */
  rm_inst_t *inst[RM_HEAP_INSTANCES];
  uint32_t ninst;
  uint32_t index;                       /* in rm_heaps */
  /* shared */
  _Atomic int state;                    /* RM_ACTIVE or RM_ORPHAN */
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
} rm_huge_t;

static pthread_mutex_t huge_lock = PTHREAD_MUTEX_INITIALIZER;
static rm_huge_t *huge_tab;
static size_t huge_cap, huge_used, huge_live, huge_bytes; /* used counts live + deleted */

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

static void huge_insert_locked(uintptr_t addr, size_t size) {
  size_t k = huge_hash(addr, huge_cap);
  while (huge_tab[k].addr > 1) k = (k + 1) & (huge_cap - 1);
  if (huge_tab[k].addr == 0) huge_used++;
  huge_tab[k].addr = addr;
  huge_tab[k].size = size;
  huge_live++;
  huge_bytes += size;
}

static void huge_erase_locked(rm_huge_t *e) {
  huge_live--;
  huge_bytes -= e->size;
  e->addr = 1;
  e->size = 0;
}

/* Maps a huge block of at least size bytes aligned to align (0 = page). */
static void *huge_alloc(size_t size, size_t align) {
  size_t ps = rm_page();
  if (size > PTRDIFF_MAX - ps) return NULL;
  size_t len = (size + ps - 1) & ~(ps - 1);
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
  if (ok) huge_insert_locked((uintptr_t)p, len);
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

/* Unmaps the huge block at p; false if p is not one. */
static bool huge_free(void *p) {
  if (((uintptr_t)p & (rm_page() - 1)) != 0) return false;
  pthread_mutex_lock(&huge_lock);
  rm_huge_t *e = huge_find((uintptr_t)p);
  size_t n = 0;
  if (e) {
    n = e->size;
    huge_erase_locked(e);
  }
  pthread_mutex_unlock(&huge_lock);
  if (!e) return false;
  munmap(p, n);
  return true;
}

/* Resizes a huge block with mremap (may move it). NULL if the OS refuses (p stays valid). */
static void *huge_realloc(void *p, size_t old, size_t size) {
  size_t ps = rm_page();
  if (size > PTRDIFF_MAX - ps) return NULL;
  size_t len = (size + ps - 1) & ~(ps - 1);
  if (len == old) return p;
  pthread_mutex_lock(&huge_lock);
  void *q = mremap(p, old, len, MREMAP_MAYMOVE);
  if (q == MAP_FAILED) {
    pthread_mutex_unlock(&huge_lock);
    return NULL;
  }
  rm_huge_t *e = huge_find((uintptr_t)p);
  huge_erase_locked(e);
  huge_insert_locked((uintptr_t)q, len); /* the slot just freed keeps the load unchanged */
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
  /* Only this thread survives. Other live heaps keep lock == 1 forever
     (quarantined): they may have been mid-operation at the fork. */
  uint32_t n = atomic_load(&rm_nheaps);
  for (uint32_t k = 0; k < n; k++) {
    rm_heap_t *h = rm_heaps[k];
    if (h && h != rm_tls_heap && atomic_load(&h->state) == RM_ACTIVE) atomic_store(&h->state, RM_ORPHAN);
  }
  pthread_mutex_init(&huge_lock, NULL);
  pthread_mutex_init(&rm_global, NULL);
}

/* ------------------------------------------------------------------------
 * Heaps
 * ------------------------------------------------------------------------ */

/* Returns a block to its instance; the caller holds the owner heap's lock. */
RMEM_INLINE rmem_status_t rm_inst_free(rmem_t *r, void *p);
static inline void rm_free_local(rm_inst_t *i, void *p, const char *fn) {
  rmem_status_t st = rm_inst_free(i->r, p);
  if (RMEM_UNLIKELY(st != RMEM_OK)) rm_bad(fn, p, st, rmem_last_error_message());
}

/* Frees everything on h's remote stack; the caller holds h's lock. */
static RMEM_NOINLINE void rm_drain(rm_heap_t *h) {
  void *list = atomic_exchange_explicit(&h->remote, NULL, memory_order_acquire);
  while (list) {
    void *next = *(void **)list;
    rm_inst_t *i = rm_lookup((uintptr_t)list);
    rmem_status_t st = i && i->heap == h ? rmem_free(i->r, list) : RMEM_EBADPTR;
    if (RMEM_UNLIKELY(st != RMEM_OK)) {
      rm_bad("free", list, st, i ? rmem_last_error_message() : "not in the heap it was sent to");
      /* the link of a block freed twice may point back into the stack: drop the rest (leak) */
      if (st == RMEM_EDOUBLEFREE) return;
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

static void rm_set_cur(rm_heap_t *h, rm_inst_t *i) {
  h->cur = i;
  h->cur_r = i->r;
  h->cur_base = i->base;
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
  if (r->capacity != RM_INSTANCE || !rm_register(i)) {
    rmem_destroy(r);
    memset(i, 0, sizeof *i);
    return NULL;
  }
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
  for (uint32_t k = 0; k < n && !h; k++) {
    rm_heap_t *c = rm_heaps[k];
    if (atomic_load(&c->state) == RM_ORPHAN && rm_trylock(c)) {
      h = c;
      atomic_fetch_add_explicit(&st_adopt, 1, memory_order_relaxed);
    }
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

/* Thread exit: drain, give free pages back, and leave the heap for adoption. */
static void rm_heap_release(rm_heap_t *h) {
  rm_flush_all();
  rm_drain(h);
  for (uint32_t k = 0; k < h->ninst; k++) rmem_defrag(h->inst[k]->r, NULL);
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

/* One allocation in instance i: plain, or aligned when align > 16. */
static inline void *rm_inst_alloc(rm_inst_t *i, size_t size, size_t align) {
  return align > 16 ? rmem_aligned_alloc(i->r, align, size) : rmem_alloc(i->r, size);
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
    void *p = huge_alloc(size, align);
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

/*
 * The fast paths below are rmem_alloc's and rmem_free's own (internal.h:
 * rmem_heap_alloc_table, rmem_heap_free_slab) minus the checks of the public
 * entry points (NULL handle, magic, debug flags, range): the instance is ours,
 * was created without flags and the range test was just done. The call they
 * save is a tenth of the cost of a small malloc/free pair. Everything else
 * goes through the public functions.
 */
RMEM_INLINE void *rm_small_alloc(rmem_t *r, size_t size) { return rmem_heap_alloc_table(r, size); }

RMEM_INLINE rmem_status_t rm_inst_free(rmem_t *r, void *p) {
  int st = rmem_heap_free_slab(r, (uintptr_t)p);
  return st >= 0 ? (rmem_status_t)st : rmem_free(r, p);
}

void *rmem_malloc(size_t size) {
  rm_heap_t *h = rm_tls_heap;
  if (RMEM_LIKELY(h != NULL && size - 1 < RMEM_SMALL_MAX)) {
    if (RMEM_UNLIKELY(atomic_load_explicit(&h->remote, memory_order_relaxed) != NULL)) rm_drain(h);
    void *p = size <= RMEM_HEAP_TABLE_MAX ? rm_small_alloc(h->cur_r, size) : rmem_alloc(h->cur_r, size);
    if (RMEM_LIKELY(p != NULL)) return p;
  }
  return rm_alloc_slow(size ? size : 1, 0);
}

/* ------------------------------------------------------------------------
 * Free
 * ------------------------------------------------------------------------ */

/* Frees p, which lies in instance i of another heap (or of no live thread). */
static void rm_free_remote(rm_inst_t *i, void *p, const char *fn) {
  rm_heap_t *owner = i->heap;
  if (atomic_load_explicit(&owner->state, memory_order_acquire) == RM_ORPHAN && rm_trylock(owner)) {
    rm_drain(owner);
    rm_free_local(i, p, fn);
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
    if (i->heap == rm_tls_heap) rm_free_local(i, p, fn);
    else rm_free_remote(i, p, fn);
    return;
  }
  if (huge_free(p)) return;
  rm_bad(fn, p, RMEM_EBADPTR, "not allocated by rmem-malloc");
}

void rmem_malloc_free(void *p) {
  rm_heap_t *h = rm_tls_heap;
  if (RMEM_LIKELY(h != NULL && (uintptr_t)p - h->cur_base < RM_INSTANCE)) {
    rmem_status_t st = rm_inst_free(h->cur_r, p);
    if (RMEM_UNLIKELY(st != RMEM_OK)) rm_bad("free", p, st, rmem_last_error_message());
    return;
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
  if (total >= RM_HUGE) return rm_alloc_slow(total, 0); /* fresh mappings are zero */
  void *p = rmem_malloc(total);
  if (p) memset(p, 0, total);
  return p;
}

/* Usable size of p, 0 if it is not a live block. */
static size_t rm_usable(const void *p) {
  rm_inst_t *i = rm_lookup((uintptr_t)p);
  /* Another thread's instance: reading its pagemap entry and slab geometry is safe
     because p is live (they cannot change under a live block); see the report. */
  if (i) return rmem_usable_size(i->r, p);
  return huge_size(p);
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
  if (i && i->heap == h && size < RM_HUGE) {
    void *q = rmem_realloc(i->r, p, size);
    if (q) return q;
    rmem_status_t st = rmem_last_error();
    if (st != RMEM_ENOMEM) {
      rm_bad("realloc", p, st, rmem_last_error_message());
      return NULL;
    }
    /* the instance is full: move below */
  }
  size_t old;
  if (i) {
    old = rmem_usable_size(i->r, p);
    if (old == 0) {
      rm_bad("realloc", p, rmem_last_error(), rmem_last_error_message());
      return NULL;
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
  if (RMEM_LIKELY(h != NULL && (uintptr_t)p - h->cur_base < RM_INSTANCE)) {
    const rmem_pme_t *pme = rmem_pme_of(h->cur_r, (uintptr_t)p);
    if (RMEM_LIKELY(pme->kind == RMEM_PK_SLAB)) {
      const rmem_slab_t *s = rmem_slab_of(h->cur_r, pme);
      if (RMEM_LIKELY(s->owner_kind == RMEM_SO_HEAP)) return s->bsize;
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
  for (uint32_t k = 0; k < nh; k++)
    if (atomic_load(&rm_heaps[k]->state) == RM_ACTIVE) out->heaps_active++;
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
                   "  heap operations   %zu allocs, %zu frees, %zu remote frees\n"
                   "  heap pages        %.1f MiB in use, %.1f MiB free but resident\n"
                   "  huge blocks       %zu mapped since start, %zu alive (%.1f MiB)\n"
                   "  bad frees         %zu\n",
                   (long)getpid(), s.heaps, s.heaps_active, s.adoptions, s.instances, RM_INSTANCE >> 20, s.allocs,
                   s.frees, s.remote_frees, (double)s.pages_used / 1048576.0, (double)s.pages_dirty / 1048576.0,
                   s.huge_allocs, s.huge_live, (double)s.huge_bytes / 1048576.0, s.bad_frees);
  if (n > 0) rm_write(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

__attribute__((destructor)) static void rm_at_exit(void) {
  if (rm_print_at_exit) rmem_malloc_print_stats(2);
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
  /* every instance we may look at */
  for (uint32_t k = 0; k < nh; k++) {
    rm_heap_t *h = rm_heaps[k];
    bool mine = h == rm_tls_heap;
    if (!mine && !rm_trylock(h)) continue;
    if (!mine) rm_drain(h);
    for (uint32_t j = 0; j < h->ninst; j++) problems += rmem_validate(h->inst[j]->r);
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
