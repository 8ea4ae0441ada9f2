/*
 * heaps.c - the instances, the registry, each thread's heap, fork, reporting.
 *
 * The drop-in builds a process-wide allocator from rmem's shared instances
 * (RMEM_OPT_SHARED), each a range of RM_INSTANCE bytes (1 GiB):
 *
 *   thread heaps   A thread that allocates gets a heap of its own in an
 *                  instance (rmem_local: made, or taken over from a thread
 *                  that ended) and keeps it in rm_tl; malloc and free are
 *                  rmem_local_alloc / rmem_local_free on it, which take no
 *                  lock. A free of another thread's block is decided by one
 *                  atomic OR of the instance's remote bitmap (a second free
 *                  finds the bit set: a double free, reported at that call)
 *                  and its owner takes it back when it next refills. An
 *                  instance gives heaps to RMEM_SHARED_MAX_THREADS threads at
 *                  once; a thread whose instance is full, or that finds no
 *                  heap to have, goes to the next instance, and a new one is
 *                  made when every instance refuses.
 *   registry       A flat table indexed by address bits [30, 47): every 1 GiB
 *                  slot of the address space can overlap at most two instances
 *                  (instances are exactly 1 GiB and never overlap), so finding
 *                  the instance of any address is one or two loads and a
 *                  compare, lock-free. Instances are never destroyed, so a
 *                  reader can never see a dangling entry.
 *   thread exit    rmem gives a thread's heaps back when it ends (drained,
 *                  trimmed, left for the next thread). A free or malloc after
 *                  that, from a later thread-exit destructor, sees the heap in
 *                  rm_tl is no longer the thread's (rmem checks it) and is
 *                  served as from a thread without one.
 *
 * rm_global (a mutex) serialises registering instances; rmem is never called
 * while it is held, so the two sets of fork handlers cannot deadlock (rmem's
 * prepare handler runs first: it was registered later).
 *
 * Fork: rmem's own handlers take its locks and quarantine, in the child,
 * every heap another thread owned at the fork. This file's take rm_global
 * and the huge lock.
 *
 * Bootstrapping: nothing here calls malloc. Memory comes from the OS layer,
 * the registry and instance records are static, TLS is initial-exec (no
 * __tls_get_addr allocation), pthread_once/pthread_atfork do not allocate in
 * glibc, messages are formatted on the stack and written with write(2).
 */
#include "dropin.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct rm_slot {
  _Atomic(rm_inst_t *) a, b;
} rm_slot_t;

static rm_slot_t rm_table[RM_SLOTS];
rm_inst_t rm_insts[RM_MAX_INSTANCES];
_Atomic uint32_t rm_ninst;
static pthread_mutex_t rm_global = PTHREAD_MUTEX_INITIALIZER;

_Thread_local rm_tl_t rm_tl RM_TLS = {NULL, NULL, RM_NO_BASE, NULL};

static pthread_once_t rm_once = PTHREAD_ONCE_INIT;
static bool rm_continue_on_error;
bool rm_print_at_exit;

_Atomic size_t st_huge_allocs, st_bad;

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
 * Initialisation, fork
 * ------------------------------------------------------------------------ */

static void rm_atfork_prepare(void) {
  pthread_mutex_lock(&rm_global);
  huge_lock_all();
}

static void rm_atfork_parent(void) {
  huge_unlock_all();
  pthread_mutex_unlock(&rm_global);
}

static void rm_atfork_child(void) {
  huge_reinit_child();
  pthread_mutex_init(&rm_global, NULL);
}

static bool env_on(const char *name) {
  const char *v = getenv(name);
  return v && *v && *v != '0';
}

static void rm_init_once(void) {
  rm_continue_on_error = env_on("RMEM_MALLOC_CONTINUE");
  rm_print_at_exit = env_on("RMEM_MALLOC_STATS");
  const char *hc = getenv("RMEM_MALLOC_HUGE_CACHE"); /* MiB */
  if (hc && *hc >= '0' && *hc <= '9') huge_cache_limit = (size_t)strtoul(hc, NULL, 10) << 20;
  const char *hd = getenv("RMEM_MALLOC_HUGE_DECAY_MS");
  if (hd && *hd >= '0' && *hd <= '9') huge_decay_ns = (uint64_t)strtoull(hd, NULL, 10) * 1000000ull;
  pthread_atfork(rm_atfork_prepare, rm_atfork_parent, rm_atfork_child);
}

void rm_init(void) { pthread_once(&rm_once, rm_init_once); }

/* ------------------------------------------------------------------------
 * Instances and thread heaps
 * ------------------------------------------------------------------------ */

/* A new shared instance, registered (NULL if the OS refuses or the table is full). */
static rm_inst_t *rm_instance_new(void) {
  rmem_options_t o = {RM_INSTANCE, RMEM_OPT_SHARED | RMEM_OPT_ALIGN16}; /* 16-byte blocks at least (RM_MIN) */
  rmem_t *r = rmem_create(&o); /* outside rm_global: rmem takes its own locks */
  if (!r) {
    rmem_clear_error();
    return NULL;
  }
  rm_inst_t *i = NULL;
  pthread_mutex_lock(&rm_global);
  uint32_t k = atomic_load_explicit(&rm_ninst, memory_order_relaxed);
  if (k < RM_MAX_INSTANCES && rmem_capacity(r) == RM_INSTANCE) {
    i = &rm_insts[k];
    i->r = r;
    i->base = (uintptr_t)rmem_base(r);
    if (rm_register(i)) {
      atomic_store_explicit(&rm_ninst, k + 1, memory_order_release);
    } else {
      memset(i, 0, sizeof *i);
      i = NULL;
    }
  }
  pthread_mutex_unlock(&rm_global);
  if (!i) rmem_destroy(r);
  return i;
}

/* The calling thread's heap in instance i (made or taken over), now its current one; NULL if i has none to give. */
static rmem_local_t *rm_use(rm_inst_t *i) {
  rmem_local_t *l = rmem_local(i->r);
  if (!l) {
    rmem_clear_error(); /* RMEM_SHARED_MAX_THREADS threads use it: try another */
    return NULL;
  }
  rm_tl = (rm_tl_t){l, NULL, i->base, i};
  if (rm_trace_state == 0) rmem_local_bind(l, &rm_tl.fast); /* rmem clears it when the heap stops being ours */
  return l;
}

static void *rm_try(rmem_local_t *l, rm_inst_t *i, size_t size, size_t align) {
  void *p = align > RM_MIN ? rmem_aligned_alloc(i->r, align, size) : rmem_local_alloc(l, size);
  if (!p) rmem_clear_error(); /* full: the caller tries elsewhere */
  return p;
}

void *rm_heap_alloc(size_t size, size_t align) {
  rm_init();
  if (size < RM_MIN) size = RM_MIN;
  rm_inst_t *cur = rm_tl.cur;
  void *p;
  /* the current instance first (rmem_local again: the heap in rm_tl may be stale after thread exit) */
  if (cur) {
    rmem_local_t *l = rm_use(cur);
    if (l && (p = rm_try(l, cur, size, align)) != NULL) return p;
  }
  /* then every other instance, in the order they were made (so new threads fill the first ones) */
  uint32_t n = atomic_load_explicit(&rm_ninst, memory_order_acquire);
  for (uint32_t k = 0; k < n; k++) {
    rm_inst_t *i = &rm_insts[k];
    if (i == cur) continue;
    rmem_local_t *l = rm_use(i);
    if (l && (p = rm_try(l, i, size, align)) != NULL) return p;
  }
  rm_inst_t *i = rm_instance_new();
  rmem_local_t *l = i ? rm_use(i) : NULL;
  return l ? rm_try(l, i, size, align) : NULL;
}

void rmem_malloc_thread_done(void) {
  uint32_t n = atomic_load_explicit(&rm_ninst, memory_order_acquire);
  for (uint32_t k = 0; k < n; k++) rmem_local_release(rm_insts[k].r);
  rm_tl = (rm_tl_t){NULL, NULL, RM_NO_BASE, NULL};
}
