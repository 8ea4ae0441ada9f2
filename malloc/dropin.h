/*
 * dropin.h - private declarations of the drop-in malloc (the files of malloc/). Never installed.
 *
 * The drop-in is a thin layer over rmem's public contract (rmem.h, rmem_os.h):
 * rmem's heap front does the allocating, freeing and checking; this layer
 * adds what a process-wide malloc needs and an rmem instance does not have:
 *
 *   heaps.c     thread heaps (one chain of private 1 GiB instances per
 *               thread), the registry from addresses to instances, adoption
 *               of exited threads' heaps, fork, the environment, reporting.
 *   remote.c    frees of blocks another thread owns: batched per owner and
 *               pushed on the owner's lock-free stack, drained by the owner.
 *   huge.c      blocks of RM_HUGE bytes and more, mapped directly, and the
 *               cache of freed mappings.
 *   entry.c     malloc, free, calloc, realloc, memalign and friends,
 *               malloc_usable_size: the entry points.
 *   stats.c     rmem_malloc_stats, the exit summary, rmem_malloc_validate.
 *   override.c  the standard names (librmem-malloc.so only).
 *
 * Invariants (rmem_malloc_validate checks R1, R2, R4, R5 and runs
 * rmem_validate on every instance it can lock):
 *   R1  every instance record i < rm_ninst is registered in every registry
 *       slot its range overlaps, in field a or b, and in no other slot.
 *   R2  every instance record belongs to exactly one heap, which lists it.
 *   R3  a block is in at most one place: live, free in its instance, in the
 *       remote-free batch of the thread that freed it, or on its owner's remote
 *       stack (pushed exactly once by a correct program).
 *   R4  a huge block's address is in the huge table iff it is mapped.
 *   R5  a mapping in the huge cache is no live block; the cache holds at most
 *       RM_HUGE_CACHE_N mappings and huge_cache_limit bytes.
 */
#ifndef RMEM_DROPIN_H
#define RMEM_DROPIN_H

#include "rmem.h"
#include "rmem_malloc.h"
#include "rmem_os.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define RM_HIDDEN __attribute__((visibility("hidden")))
#define RM_NOINLINE __attribute__((noinline))
#define RM_TLS __attribute__((tls_model("initial-exec")))

#define RM_INSTANCE ((size_t)1 << 30)      /* bytes per rmem instance */
#define RM_SLOT_SHIFT 30                   /* registry slot = 1 GiB = one instance */
#define RM_ADDR_BITS 47                    /* user-space addresses mmap hands out by default */
#define RM_SLOTS ((size_t)1 << (RM_ADDR_BITS - RM_SLOT_SHIFT))
#define RM_MAX_INSTANCES 16384             /* 16 TiB of instances */
#define RM_MAX_HEAPS 8192                  /* thread heaps alive or orphaned at once */
#define RM_HEAP_INSTANCES 64               /* instances per heap (64 GiB per thread) */
#define RM_HUGE ((size_t)1 << 20)          /* blocks of this size and up are mapped directly */
#define RM_MIN 16                          /* every block is at least 16 bytes (16-byte aligned, as glibc's) */

/* RM_QUARANTINED: in a fork child, a heap that another thread held at the fork; never used again */
enum { RM_FREE = 0, RM_ACTIVE = 1, RM_ORPHAN = 2, RM_QUARANTINED = 3 };

typedef struct rm_heap rm_heap_t;

/* One rmem instance and its owner. Immutable once registered. */
typedef struct rm_inst {
  rmem_t *r;
  uintptr_t base;
  rm_heap_t *heap;
} rm_inst_t;

/*
 * A thread's heap. Locking: lock is 1 while someone may change the heap: its
 * owner thread holds it for its whole life; an orphan's lock is 0 and whoever
 * takes it (an adopting thread, a remote free) holds it for the operation.
 */
struct rm_heap {
  /* owner-only (whoever holds lock): what the fast paths read first */
  rmem_t *cur_r;                        /* == cur->r */
  uintptr_t cur_base;                   /* == cur->base */
  rm_inst_t *cur;                       /* allocations go here first */
  uint32_t index;                       /* in rm_heaps */
  uint32_t ninst;
  rm_inst_t *inst[RM_HEAP_INSTANCES];
  /* shared */
  _Atomic int state;                    /* RM_ACTIVE, RM_ORPHAN or RM_QUARANTINED */
  _Atomic int lock;                     /* 1 while someone may change the heap */
  _Alignas(64) _Atomic(void *) remote;  /* remote-free stack, linked through the blocks' first word */
  _Alignas(64) char end_[1];
};

/* ------------------------------------------------------------------------
 * heaps.c
 * ------------------------------------------------------------------------ */

RM_HIDDEN extern _Thread_local rm_heap_t *rm_tls_heap RM_TLS;
RM_HIDDEN extern rm_inst_t rm_insts[RM_MAX_INSTANCES];
RM_HIDDEN extern _Atomic uint32_t rm_ninst;
RM_HIDDEN extern rm_heap_t *_Atomic rm_heaps[RM_MAX_HEAPS];
RM_HIDDEN extern _Atomic uint32_t rm_nheaps;
RM_HIDDEN extern pthread_mutex_t rm_global;
RM_HIDDEN extern bool rm_key_ok;
RM_HIDDEN extern pthread_key_t rm_key;
RM_HIDDEN extern _Atomic size_t st_remote, st_adopt, st_huge_allocs, st_bad;

/* Reads the environment and sets up thread-exit and fork handling, once. */
RM_HIDDEN void rm_init(void);
/* The instance holding address p, or NULL (lock-free: one or two loads). */
RM_HIDDEN rm_inst_t *rm_lookup(uintptr_t p);
/* The calling thread's heap: adopts an orphan or creates a heap. NULL if the OS refuses. */
RM_HIDDEN RM_NOINLINE rm_heap_t *rm_heap_acquire(void);
/* Under rm_global: a new rmem instance for h, registered and chained (NULL if none can be made). */
RM_HIDDEN rm_inst_t *rm_instance_new(rm_heap_t *h);
/* Makes i (an instance of h) the one h allocates from first. */
RM_HIDDEN void rm_use_instance(rm_heap_t *h, rm_inst_t *i);
RM_HIDDEN extern bool rm_print_at_exit;
RM_HIDDEN bool rm_trylock(rm_heap_t *h);
RM_HIDDEN void rm_unlock(rm_heap_t *h);
/*
 * An invalid or double free (or realloc of a bad pointer): the program's own
 * state is wrong, so, as glibc does, report on stderr and abort unless
 * RMEM_MALLOC_CONTINUE=1 asked to carry on. The reason is rmem's last error.
 */
RM_HIDDEN RM_NOINLINE void rm_bad(const char *fn, const void *p, rmem_status_t st, const char *detail);
/* Writes all of s to fd (no allocation). */
RM_HIDDEN void rm_write(int fd, const char *s, size_t n);

/* ------------------------------------------------------------------------
 * remote.c
 * ------------------------------------------------------------------------ */

/* Frees p, which lies in instance i of another heap (or of no live thread). */
RM_HIDDEN void rm_free_remote(rm_inst_t *i, void *p, const char *fn);
/* Pushes this thread's pending batches to their owners. */
RM_HIDDEN void rm_flush_all(void);
/* Frees everything on h's remote stack; the caller holds h's lock. */
RM_HIDDEN RM_NOINLINE void rm_drain(rm_heap_t *h);
/* Frees p, which lies in instance i of heap h; the caller holds h's lock. Reports a bad pointer. */
RM_HIDDEN rmem_status_t rm_free_local(rm_inst_t *i, void *p, const char *fn);
/* Marks that this thread must flush its batches at exit though it never allocated. */
RM_HIDDEN extern _Thread_local bool rm_exit_hook_set RM_TLS;

/* ------------------------------------------------------------------------
 * huge.c
 * ------------------------------------------------------------------------ */

RM_HIDDEN extern size_t huge_cache_limit;
/* Maps a huge block of at least size bytes aligned to align (0 = page); zeroed if zero. NULL if the OS refuses. */
RM_HIDDEN void *huge_alloc(size_t size, size_t align, bool zero);
/* Mapped size of the huge block at p, or 0 if p is not one. */
RM_HIDDEN size_t huge_size(const void *p);
/* Frees the huge block at p into the huge cache, or unmaps it; false if p is not one. */
RM_HIDDEN bool huge_free(void *p);
/* Why p, not a live block of any instance nor a live huge block, cannot be freed: a double free of a
   huge block (cached or lately unmapped), a pointer into one, or not rmem-malloc's at all. */
RM_HIDDEN rmem_status_t huge_why(const void *p, const char **detail);
/* Resizes a huge block of old mapped bytes (NULL if the OS refuses: p stays valid). */
RM_HIDDEN void *huge_realloc(void *p, size_t old, size_t size);
/* Takes and releases the huge lock around fork. */
RM_HIDDEN void huge_lock_all(void);
RM_HIDDEN void huge_unlock_all(void);
RM_HIDDEN void huge_reinit_child(void);
/* Fills the huge figures of *out and checks R4, R5 (adds to *problems). */
RM_HIDDEN void huge_stats(rmem_malloc_stats_t *out);
RM_HIDDEN size_t huge_validate(void);

/* ------------------------------------------------------------------------
 * stats.c
 * ------------------------------------------------------------------------ */

/* Records one problem of rmem_malloc_validate (the first one keeps its message). */
RM_HIDDEN void rm_problem(size_t *count, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* RMEM_DROPIN_H */
