/*
 * dropin.h - private declarations of the drop-in malloc (the files of malloc/). Never installed.
 *
 * The drop-in is a thin layer over rmem's public contract (rmem.h, rmem_os.h):
 * rmem's shared instances (RMEM_OPT_SHARED) do the allocating, freeing and
 * checking -- a heap per thread with no lock on its fast paths, frees of
 * other threads' blocks decided by one atomic OR of the remote bitmap, every
 * double free caught at its call, from any thread. This layer adds what a
 * process-wide malloc needs and an instance does not have:
 *
 *   heaps.c     the instances (shared, RM_INSTANCE bytes each, made as
 *               needed), the registry from addresses to instances, each
 *               thread's current instance and heap, fork, the environment,
 *               reporting.
 *   huge.c      blocks mapped directly -- malloc of RM_HUGE bytes and more,
 *               calloc and realloc growth of RM_BIG and more -- and the cache
 *               of freed mappings. Below RM_HUGE, big blocks are page runs of
 *               the thread's instance, whose page source coalesces freed runs
 *               and keeps them resident for reuse (within a budget, with decay).
 *   entry.c     malloc, free, calloc, realloc, memalign and friends,
 *               malloc_usable_size: the entry points.
 *   stats.c     rmem_malloc_stats, the exit summary, rmem_malloc_validate.
 *   trace.c     the allocation trace (RMEM_MALLOC_TRACE=file).
 *   override.c  the standard names (librmem-malloc.so only), with the trace's hooks.
 *
 * Invariants (rmem_malloc_validate checks R1, R4, R5 and runs rmem_validate
 * on every instance, which checks the rest, R3 included):
 *   R1  every instance record i < rm_ninst is registered in every registry
 *       slot its range overlaps, in field a or b, and in no other slot.
 *   R2  a thread's current instance (rm_tl) is registered, and rm_tl.l is
 *       that thread's heap in it (or is stale: its thread gave it back, and
 *       rmem then treats it as no heap); rm_tl.fast is rm_tl.l or NULL (rmem
 *       clears it, R4 of src/types.h: never a heap that is not the thread's).
 *   R3  a block is live, free in its instance, or freed by a thread that
 *       does not own it and waiting for its owner (its remote bit is set).
 *   R4  a huge block's address is in the huge table iff it is mapped.
 *   R5  a mapping in the huge cache is no live block; the cache holds at most
 *       RM_HUGE_CACHE_N mappings, huge_cache_limit bytes and its room (huge.c:
 *       above a 16 MiB peak, what the live huge blocks leave of the peak),
 *       oldest first (the decay takes them from the front).
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
#define RM_HUGE ((size_t)32 << 20)         /* malloc of this size and up: mapped directly (huge.c) */
#define RM_BIG ((size_t)1 << 20)           /* calloc and realloc growth to this size and up: mapped too
                                              (fresh pages read as zero; mremap grows without a copy) */
#define RM_MIN 16                          /* every block is at least 16 bytes (16-byte aligned, as glibc's) */

/* One rmem instance. Immutable once registered; never destroyed. */
typedef struct rm_inst {
  rmem_t *r;
  uintptr_t base;
} rm_inst_t;

/* rm_tl.base while a thread has no instance: p - RM_NO_BASE < RM_INSTANCE holds only for the top
   RM_INSTANCE bytes of the address space, which are never a user pointer (with UINTPTR_MAX it held for
   every address below 1 GiB, where valgrind puts mappings). */
#define RM_NO_BASE ((uintptr_t)0 - RM_INSTANCE)

/* What a thread allocates from: its heap in its current instance. */
typedef struct rm_tl {
  rmem_local_t *l;   /* NULL until the thread's first allocation */
  rmem_local_t *fast; /* the heap the standard names' fast paths use (override.c): a slot bound to l
                         (rmem_local_bind) once the trace is known to be off, else NULL, so a traced process
                         takes the traced paths for every call; rmem stores NULL in it when l stops being
                         this thread's */
  uintptr_t base;    /* the current instance's base; RM_NO_BASE while there is none */
  rm_inst_t *cur;
} rm_tl_t;

/* ------------------------------------------------------------------------
 * heaps.c
 * ------------------------------------------------------------------------ */

RM_HIDDEN extern _Thread_local rm_tl_t rm_tl RM_TLS;
RM_HIDDEN extern rm_inst_t rm_insts[RM_MAX_INSTANCES];
RM_HIDDEN extern _Atomic uint32_t rm_ninst;
RM_HIDDEN extern _Atomic size_t st_huge_allocs, st_bad;

/* Reads the environment and sets up fork handling, once. */
RM_HIDDEN void rm_init(void);
/* The instance holding address p, or NULL (lock-free: one or two loads). */
RM_HIDDEN rm_inst_t *rm_lookup(uintptr_t p);
/*
 * An allocation of size bytes (align: 0 or a power of two > RM_MIN) from the
 * calling thread's heap: its current instance, else another where it has room
 * and a heap can be had, else a new instance. NULL if the OS refuses.
 */
RM_HIDDEN RM_NOINLINE void *rm_heap_alloc(size_t size, size_t align);
/* malloc and free past their fast paths (entry.c): what rmem_malloc / rmem_malloc_free call when the
   thread's heap did not serve them; override.c's misses call them directly, not the fast path again */
RM_HIDDEN RM_NOINLINE void *rm_malloc_miss(size_t size);
RM_HIDDEN RM_NOINLINE void rm_free_miss(void *p);
RM_HIDDEN extern bool rm_print_at_exit;
/*
 * An invalid or double free (or realloc of a bad pointer): the program's own
 * state is wrong, so, as glibc does, report on stderr and abort unless
 * RMEM_MALLOC_CONTINUE=1 asked to carry on. The reason is rmem's last error.
 */
RM_HIDDEN RM_NOINLINE void rm_bad(const char *fn, const void *p, rmem_status_t st, const char *detail);
/* Writes all of s to fd (no allocation). */
RM_HIDDEN void rm_write(int fd, const char *s, size_t n);

/* ------------------------------------------------------------------------
 * huge.c
 * ------------------------------------------------------------------------ */

RM_HIDDEN extern size_t huge_cache_limit;
RM_HIDDEN extern uint64_t huge_decay_ns; /* a cached huge mapping unused this long goes back to the OS (0: never) */
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
 * trace.c: the allocation trace. The standard names (override.c) call
 * RM_TRACE once per call, so a calloc or realloc is one event however it is
 * served inside; off, it costs one load and one predictable branch (none on
 * malloc's and free's fast paths: override.c).
 * ------------------------------------------------------------------------ */

enum { RM_EV_MALLOC = 1, RM_EV_FREE = 2, RM_EV_CALLOC = 3, RM_EV_REALLOC = 4, RM_EV_REALLOC_FREE = 5, RM_EV_MEMALIGN = 6,
       RM_EV_FORK = 7 /* a fork child's first event: address = the parent's pid */ };

/* 0: off; 1: not decided yet (the first call reads RMEM_MALLOC_TRACE); 2: on. */
RM_HIDDEN extern int rm_trace_state;
/* Appends one event to the calling thread's buffer (aux: see trace.c). */
RM_HIDDEN RM_NOINLINE void rm_trace(unsigned kind, const void *p, size_t size, unsigned aux);
#define RM_TRACE(kind, p, size, aux)                                             \
  do {                                                                           \
    if (RMEM_UNLIKELY(rm_trace_state != 0)) rm_trace((kind), (p), (size), (aux)); \
  } while (0)

/* ------------------------------------------------------------------------
 * stats.c
 * ------------------------------------------------------------------------ */

/* Records one problem of rmem_malloc_validate (the first one keeps its message). */
RM_HIDDEN void rm_problem(size_t *count, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* RMEM_DROPIN_H */
