/*
 * remote.c - frees of blocks that another thread's heap owns.
 *
 * An rmem instance is single-threaded, so a thread never touches another
 * thread's instance. A free of such a block is pushed onto the owner heap's
 * lock-free remote stack (a Treiber stack, linked through the first word of
 * the freed block, which is free memory now), and the owner frees it into
 * its instance -- with rmem_free's exact check -- at its next allocation that
 * sees the stack non-empty. A free into an orphan (a heap whose thread
 * exited) takes the orphan's lock and frees in place.
 *
 * The freeing thread batches up to RM_PENDING_MAX blocks per owner and pushes
 * them with one CAS: a thread keeps batches for RM_PENDING_SLOTS owners at
 * once (slot = owner index mod slots) and flushes them when a batch is full,
 * when a slot changes owner, at its allocation slow path and at exit, so a
 * freed block waits for at most one of those events.
 */
#include "dropin.h"

#define RM_PENDING_SLOTS 4
#define RM_PENDING_MAX 32

typedef struct rm_pending {
  rm_heap_t *to;
  void *head, *tail;
  uint32_t n;
} rm_pending_t;

static _Thread_local rm_pending_t rm_pend[RM_PENDING_SLOTS] RM_TLS;
_Thread_local bool rm_exit_hook_set RM_TLS;

rmem_status_t rm_free_local(rm_inst_t *i, void *p, const char *fn) {
  rmem_status_t st = rmem_free(i->r, p); /* exact: a live block of this instance, or refused with the reason */
  if (RMEM_UNLIKELY(st != RMEM_OK)) rm_bad(fn, p, st, NULL);
  return st;
}

void rm_drain(rm_heap_t *h) {
  void *list = atomic_exchange_explicit(&h->remote, NULL, memory_order_acquire);
  while (list) {
    void *next = *(void **)list;
    rm_inst_t *i = rm_lookup((uintptr_t)list);
    if (!i || i->heap != h) {
      rm_bad("free", list, RMEM_EBADPTR, "not in the heap it was sent to");
    } else if (rm_free_local(i, list, "free") == RMEM_EDOUBLEFREE) {
      /* the link of a block freed twice may point back into the stack: drop the rest (leak) */
      return;
    }
    list = next;
  }
}

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

void rm_flush_all(void) {
  for (int k = 0; k < RM_PENDING_SLOTS; k++) rm_flush(&rm_pend[k]);
}

void rm_free_remote(rm_inst_t *i, void *p, const char *fn) {
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
