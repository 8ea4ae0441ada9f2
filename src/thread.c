/*
 * thread.c - what each thread keeps for the shared instances it uses.
 *
 * A thread that uses a shared instance (RMEM_OPT_SHARED) has a heap of its
 * own in it (heap.c). This file remembers, per thread, which heap that is:
 * a table of (instance, epoch) -> value, with the last one looked up kept in
 * a one-entry cache that the fast paths read with a single initial-exec TLS
 * load. The epoch tells a live instance from a destroyed one whose recycled
 * header now holds another instance (instance headers are never unmapped,
 * so an entry can always be checked).
 *
 * When the thread ends, the exit hook (lock.h: pthread key destructor,
 * fiber-local storage on Windows) calls every live entry's on_exit, which
 * gives the heap back (drained, trimmed, orphaned for the next thread).
 *
 * Floor: above os.c; knows rmem_t only for its magic and epoch.
 */
#include "internal.h"

typedef struct tentry {
  rmem_t *r;
  uint64_t epoch;
  void *value;
  void (*on_exit)(rmem_t *r, void *value);
} tentry_t;

typedef struct ttable {
  uint32_t n, cap;
  size_t bytes;
  tentry_t e[];
} ttable_t;

_Thread_local rmem_tlast_t rmem_tlast RMEM_TLS_IE;
static _Thread_local ttable_t *table;

static rmem_key_t exit_key;
static int key_state; /* 0 not yet, 1 made, -1 failed (values then live as long as their instance) */
static rmem_lock_t key_lock = RMEM_LOCK_INIT;

static bool live_entry(const tentry_t *e) { return e->r->magic == RMEM_MAGIC && e->r->epoch == e->epoch; }

static void on_thread_exit(void *arg) {
  ttable_t *t = arg;
  if (!t) return;
  /* entries can be added while we run (an on_exit that allocates): walk by index */
  for (uint32_t k = 0; k < t->n; k++) {
    tentry_t e = t->e[k];
    if (e.r && e.on_exit && live_entry(&e)) e.on_exit(e.r, e.value);
  }
  table = NULL;
  rmem_tlast.r = NULL;
  rmem_os_release(t, t->bytes);
}

static bool ensure_key(void) {
  if (key_state == 0) {
    rmem_lock(&key_lock);
    if (key_state == 0) key_state = rmem_key_create(&exit_key, on_thread_exit) == 0 ? 1 : -1;
    rmem_unlock(&key_lock);
  }
  return key_state == 1;
}

void rmem_thread_fork(int phase) {
  if (phase == RMEM_FORK_PREPARE) rmem_lock(&key_lock);
  else rmem_unlock(&key_lock);
}

void *rmem_thread_find(rmem_t *r) {
  ttable_t *t = table;
  for (uint32_t k = 0; t && k < t->n; k++) {
    tentry_t *e = &t->e[k];
    if (e->r == r && e->epoch == r->epoch) {
      rmem_tlast = (rmem_tlast_t){r, r->epoch, e->value};
      return e->value;
    }
  }
  return NULL;
}

rmem_status_t rmem_thread_bind(rmem_t *r, void *value, void (*on_exit)(rmem_t *r, void *value)) {
  ttable_t *t = table;
  /* reuse a dead entry (its instance was destroyed) before growing */
  uint32_t slot = UINT32_MAX;
  for (uint32_t k = 0; t && k < t->n && slot == UINT32_MAX; k++)
    if (!t->e[k].r || !live_entry(&t->e[k])) slot = k;
  if (slot == UINT32_MAX) {
    if (!t || t->n == t->cap) {
      uint32_t cap = t ? t->cap * 2 : 16;
      size_t bytes = sizeof(ttable_t) + (size_t)cap * sizeof(tentry_t);
      ttable_t *g = rmem_os_map(bytes, 0);
      if (!g) return rmem_fail(RMEM_ENOMEM, "cannot map this thread's table of shared instances");
      g->cap = cap;
      g->bytes = bytes;
      if (t) {
        g->n = t->n;
        memcpy(g->e, t->e, (size_t)t->n * sizeof(tentry_t));
        rmem_os_release(t, t->bytes);
      }
      t = table = g;
      if (ensure_key()) rmem_key_set(exit_key, t);
    }
    slot = t->n++;
  }
  t->e[slot] = (tentry_t){r, r->epoch, value, on_exit};
  rmem_tlast = (rmem_tlast_t){r, r->epoch, value};
  return RMEM_OK;
}

void rmem_thread_unbind(rmem_t *r) {
  ttable_t *t = table;
  for (uint32_t k = 0; t && k < t->n; k++)
    if (t->e[k].r == r && t->e[k].epoch == r->epoch) t->e[k] = (tentry_t){NULL, 0, NULL, NULL};
  if (rmem_tlast.r == r) rmem_tlast.r = NULL;
}

static _Atomic uint64_t thread_ids;
static _Thread_local uint64_t thread_id;
_Thread_local uint32_t rmem_tkey RMEM_TLS_IE = UINT32_MAX; /* no key yet: equals no heap's fast word (0 or a key) */

uint64_t rmem_thread_id(void) {
  if (!thread_id) {
    thread_id = atomic_fetch_add(&thread_ids, 1) + 1;
    uint32_t k = (uint32_t)thread_id;
    rmem_tkey = k && k != UINT32_MAX ? k : 1; /* two threads alive at once share a key only 2^32 threads apart */
  }
  return thread_id;
}

uint32_t rmem_thread_key(void) {
  if (RMEM_UNLIKELY(rmem_tkey == UINT32_MAX)) rmem_thread_id();
  return rmem_tkey;
}

void rmem_thread_each(void (*fn)(rmem_t *r, void *value, void *arg), void *arg) {
  ttable_t *t = table;
  for (uint32_t k = 0; t && k < t->n; k++)
    if (t->e[k].r && live_entry(&t->e[k])) fn(t->e[k].r, t->e[k].value, arg);
}
