/*
 * rmem_malloc.h - rmem as a thread-safe malloc (issue 7).
 *
 * librmem-malloc.so exports the C allocation interface (malloc, free, calloc,
 * realloc, reallocarray, posix_memalign, aligned_alloc, memalign, valloc,
 * pvalloc, malloc_usable_size, cfree and glibc's __libc_* names) on top of
 * rmem's general heap, so `LD_PRELOAD=librmem-malloc.so program` runs any
 * dynamically linked program on rmem; linking it directly works too.
 *
 * The same functions are available under the rmem_malloc_* names declared
 * here, which is how the tests drive the layer inside an ASan build (where
 * the standard names belong to the sanitizer). See malloc/dropin.h for the
 * design: rmem's shared instances (1 GiB each, made as needed), where every
 * thread has a heap of its own whose front (per-class stacks checked by the
 * live bitmap, rmem_local_alloc / rmem_local_free) is the fast path; frees of
 * other threads' blocks decided at their call by one atomic OR of the remote
 * bitmap (so a double free is caught from any thread); a registry from
 * addresses to instances; directly mapped huge blocks with a small cache of
 * freed mappings.
 *
 * Environment (read once, at the first allocation):
 *   RMEM_MALLOC_CONTINUE=1  on an invalid or double free, report on stderr and
 *                           carry on (leaking the block) instead of aborting.
 *   RMEM_MALLOC_STATS=1     print a summary on stderr when the process exits.
 *   RMEM_MALLOC_HUGE_CACHE=N  keep at most N MiB of freed huge (>= 1 MiB)
 *                           mappings for reuse (default 64; never more than
 *                           half the program's peak of huge blocks while it is
 *                           under 16 MiB, nor above it more than the live ones
 *                           leave of the peak; 0 = off).
 *   RMEM_MALLOC_HUGE_DECAY_MS=N  a cached mapping unused for N ms goes back to
 *                           the OS at the next huge allocation or free
 *                           (default 1000; 0 = never).
 */
#ifndef RMEM_MALLOC_H
#define RMEM_MALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RMEM_MALLOC_API __attribute__((visibility("default")))

RMEM_MALLOC_API void *rmem_malloc(size_t size);
RMEM_MALLOC_API void rmem_malloc_free(void *p);
RMEM_MALLOC_API void *rmem_malloc_calloc(size_t n, size_t size);
RMEM_MALLOC_API void *rmem_malloc_realloc(void *p, size_t size);
RMEM_MALLOC_API void *rmem_malloc_reallocarray(void *p, size_t n, size_t size);
RMEM_MALLOC_API int rmem_malloc_posix_memalign(void **out, size_t alignment, size_t size);
RMEM_MALLOC_API void *rmem_malloc_aligned_alloc(size_t alignment, size_t size);
RMEM_MALLOC_API void *rmem_malloc_memalign(size_t alignment, size_t size);
RMEM_MALLOC_API void *rmem_malloc_valloc(size_t size);
RMEM_MALLOC_API void *rmem_malloc_pvalloc(size_t size);
RMEM_MALLOC_API size_t rmem_malloc_usable_size(const void *p);

/** Figures of the whole layer (all threads). Counters are read without locks: approximate while threads run. */
typedef struct rmem_malloc_stats {
  size_t heaps;          /**< thread heaps ever created (the most threads that allocated at once) */
  size_t heaps_active;   /**< owned by a live thread */
  size_t instances;      /**< rmem instances (1 GiB ranges) created */
  size_t allocs, frees;  /**< heap operations of every instance (rmem_heap_stats) */
  size_t remote_frees;   /**< blocks freed by a thread that did not own them, taken back by their owner */
  size_t adoptions;      /**< heaps of exited threads taken over by new threads */
  size_t huge_allocs;    /**< blocks mapped directly since start */
  size_t huge_live;      /**< directly mapped blocks alive */
  size_t huge_bytes;     /**< bytes of directly mapped blocks alive */
  size_t huge_cached;    /**< bytes of freed huge mappings kept for reuse (RMEM_MALLOC_HUGE_CACHE) */
  size_t huge_reused;    /**< huge allocations and growths served from that cache */
  size_t pages_used;     /**< bytes of pages held by the heaps (slabs and page runs) */
  size_t pages_dirty;    /**< bytes of free pages that may still be resident */
  size_t cached;         /**< freed blocks waiting on the instances' fronts (stacks and depots) */
  size_t bad_frees;      /**< invalid or double frees reported */
} rmem_malloc_stats_t;

RMEM_MALLOC_API void rmem_malloc_stats(rmem_malloc_stats_t *out);
/** Prints the summary that RMEM_MALLOC_STATS=1 prints at exit, to file descriptor fd. */
RMEM_MALLOC_API void rmem_malloc_print_stats(int fd);

/**
 * Validator: checks the registry and runs rmem_validate on every instance
 * (the calling thread's heaps and those of ended threads; heaps of other
 * running threads are skipped: their owner may be changing them). Returns the
 * number of problems (0 = healthy).
 */
RMEM_MALLOC_API size_t rmem_malloc_validate(void);
/** The first problem the last rmem_malloc_validate on this thread found ("" if none). */
RMEM_MALLOC_API const char *rmem_malloc_problem(void);

/** Hands the calling thread's heap back as if the thread had exited (tests of adoption). */
RMEM_MALLOC_API void rmem_malloc_thread_done(void);

#ifdef __cplusplus
}
#endif

#endif /* RMEM_MALLOC_H */
