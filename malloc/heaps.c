/*
 * heaps.c - thread heaps, the registry, adoption, fork, reporting.
 *
 * An rmem instance (rmem_t) is single-threaded and owns one contiguous range of
 * at most 4 GiB. The drop-in builds a process-wide allocator from private
 * instances:
 *
 *   thread heaps   Every thread that allocates owns one rm_heap_t: a chain of
 *                  rmem instances of RM_INSTANCE bytes each (1 GiB). Allocation
 *                  goes to the heap's current instance with no lock at all --
 *                  straight into rmem_alloc, whose front (per-class stacks
 *                  checked by the live bitmap) is the whole fast path; when the
 *                  instance is full the others of the chain are tried, then a
 *                  new one is created and chained.
 *   registry       A flat table indexed by address bits [30, 47): every 1 GiB
 *                  slot of the address space can overlap at most two instances
 *                  (instances are exactly 1 GiB and never overlap), so finding
 *                  the instance of any address is one or two loads and a
 *                  compare, lock-free. Instances are never destroyed, so a
 *                  reader can never see a dangling entry.
 *   thread exit    A pthread key destructor drains the heap, gives the blocks
 *                  waiting on its fronts and its empty slabs back
 *                  (rmem_heap_trim), and marks it ORPHAN. A new thread adopts
 *                  an orphan before creating a new heap; a free into an orphan
 *                  takes its lock and frees in place.
 *
 * rm_global (a mutex) serialises creating heaps and instances and registering
 * them. No lock is taken on the fast paths.
 *
 * Fork: the prepare handler takes rm_global and the huge lock, so no heap or
 * instance is being created and the huge table is consistent in the child.
 * The heaps of other threads may be mid-operation at the instant of fork, so
 * the child never touches them again: they stay locked (quarantined); frees of
 * their blocks in the child are pushed on their stacks and never drained
 * (leaked, never corrupted). The forking thread's own heap is consistent.
 *
 * Bootstrapping: nothing here calls malloc. Memory for heaps comes from the
 * OS layer, the registry and instance records are static, TLS is initial-exec
 * (no __tls_get_addr allocation), pthread_once/pthread_key_create/
 * pthread_atfork do not allocate in glibc, messages are formatted on the
 * stack and written with write(2).
 */
#include "dropin.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct rm_slot {
  _Atomic(rm_inst_t *) a, b;
} rm_slot_t;

static rm_slot_t rm_table[RM_SLOTS];
rm_inst_t rm_insts[RM_MAX_INSTANCES];
_Atomic uint32_t rm_ninst;
rm_heap_t *_Atomic rm_heaps[RM_MAX_HEAPS];
_Atomic uint32_t rm_nheaps;
pthread_mutex_t rm_global = PTHREAD_MUTEX_INITIALIZER;

_Thread_local rm_heap_t *rm_tls_heap RM_TLS;

static pthread_once_t rm_once = PTHREAD_ONCE_INIT;
pthread_key_t rm_key;
bool rm_key_ok;
static bool rm_continue_on_error;
bool rm_print_at_exit;

_Atomic size_t st_remote, st_adopt, st_huge_allocs, st_bad;

/* ------------------------------------------------------------------------
 * Reporting (the one place this layer writes to stderr)
 * ------------------------------------------------------------------------ */

void rm_write(int fd, const char *s, size_t n) {
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

void rm_bad(const char *fn, const void *p, rmem_status_t st, const char *detail) {
  char buf[512];
  int errno_saved = errno;
  if (!detail) detail = rmem_last_error() == st ? rmem_last_error_message() : "";
  int n = snprintf(buf, sizeof buf, "rmem-malloc: %s(): %s %p%s%s%s\n", fn,
                   st == RMEM_EDOUBLEFREE ? "double free of" : "invalid pointer", p, *detail ? " (" : "", detail,
                   *detail ? ")" : "");
  if (n > 0) rm_write(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
  atomic_fetch_add_explicit(&st_bad, 1, memory_order_relaxed);
  rmem_clear_error();
  errno = errno_saved;
  if (!rm_continue_on_error) abort();
}

/* ------------------------------------------------------------------------
 * Registry
 * ------------------------------------------------------------------------ */

rm_inst_t *rm_lookup(uintptr_t p) {
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

void rm_init(void) { pthread_once(&rm_once, rm_init_once); }

static void rm_atfork_prepare(void) {
  pthread_mutex_lock(&rm_global);
  huge_lock_all();
}

static void rm_atfork_parent(void) {
  huge_unlock_all();
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
  huge_reinit_child();
  pthread_mutex_init(&rm_global, NULL);
}

/* ------------------------------------------------------------------------
 * Heaps
 * ------------------------------------------------------------------------ */

bool rm_trylock(rm_heap_t *h) {
  int z = 0;
  return atomic_load_explicit(&h->lock, memory_order_relaxed) == 0 &&
         atomic_compare_exchange_strong_explicit(&h->lock, &z, 1, memory_order_acquire, memory_order_relaxed);
}

void rm_unlock(rm_heap_t *h) { atomic_store_explicit(&h->lock, 0, memory_order_release); }

rm_inst_t *rm_instance_new(rm_heap_t *h) {
  if (h->ninst >= RM_HEAP_INSTANCES) return NULL;
  uint32_t k = atomic_load_explicit(&rm_ninst, memory_order_relaxed);
  if (k >= RM_MAX_INSTANCES) return NULL;
  rmem_options_t o = {RM_INSTANCE, 0};
  rmem_t *r = rmem_create(&o);
  if (!r) {
    rmem_clear_error();
    return NULL;
  }
  rm_inst_t *i = &rm_insts[k];
  i->r = r;
  i->base = (uintptr_t)rmem_base(r);
  i->heap = h;
  if (rmem_capacity(r) != RM_INSTANCE || !rm_register(i)) {
    rmem_destroy(r);
    memset(i, 0, sizeof *i);
    return NULL;
  }
  atomic_store_explicit(&rm_ninst, k + 1, memory_order_release);
  h->inst[h->ninst++] = i;
  return i;
}

/* Makes i the instance h allocates from. */
static void rm_set_cur(rm_heap_t *h, rm_inst_t *i) {
  h->cur = i;
  h->cur_r = i->r;
  h->cur_base = i->base;
}

RM_HIDDEN void rm_use_instance(rm_heap_t *h, rm_inst_t *i) { rm_set_cur(h, i); }

rm_heap_t *rm_heap_acquire(void) {
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
    size_t ps = rmem_os_page_size();
    size_t bytes = (sizeof(rm_heap_t) + ps - 1) & ~(ps - 1);
    h = rmem_os_map(bytes, 0);
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

/* Thread exit: drain, give back what the fronts and empty slabs hold, and leave the heap for adoption. */
static void rm_heap_release(rm_heap_t *h) {
  rm_flush_all();
  rm_drain(h);
  /* Empty slabs go back to the page source, whose dirty-page budget decides what returns to
     the OS; forcing every free page out here (rmem_defrag) made the next thread to adopt the
     heap fault them in again: a third of larson's page faults. */
  for (uint32_t k = 0; k < h->ninst; k++) rmem_heap_trim(h->inst[k]->r, 0);
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
