/*
 * rmem.h - the one public header of rmem.
 *
 * rmem is a memory manager in C. An rmem *instance* (rmem_t) owns one
 * contiguous reserved address range and a page source that hands out 4 KiB
 * pages from it. Every allocator of the instance draws its pages from that one
 * range:
 *
 *   - the general heap        rmem_alloc / rmem_free ...   (seed: r_alloc, r_free, r_defrag)
 *   - arenas                  rmem_arena_*                 (seed: create_arena, r_arena, r_reset, r_destroy)
 *   - slab caches             rmem_slab_*                  (seed: slab_cache, slab_slot)
 *   - MeMS                    rmem_mems_*                  (seed: mems_init, mems_malloc, mems_get ...)
 *
 * Because all memory of an instance lies in [rmem_base(r), rmem_base(r) +
 * rmem_capacity(r)), the Node addon shows it to JavaScript as one ArrayBuffer
 * and pointers as byte offsets into it. The first and the last page of the
 * range are never handed out, so offset 0 means NULL and every end offset
 * fits in 32 bits.
 *
 * All allocator metadata lives outside that range (out of band), so no write
 * into user memory, however wrong, can corrupt a free list or a header.
 *
 * Conventions
 *   - Allocation functions return NULL on failure; everything else returns an
 *     rmem_status_t (RMEM_OK == 0). Every failure records a per-thread last
 *     error (rmem_last_error / rmem_last_error_message) and calls the error
 *     handler if one is set (rmem_set_error_handler). The library never prints
 *     (except the functions whose job is to print) and never ends the process.
 *   - An instance is not thread-safe: use it from one thread at a time (one
 *     instance per thread, or your own lock). The last error is per thread.
 *   - The seed's global names (init_heap, r_alloc, create_arena, mems_malloc,
 *     ...) act on one process-wide default instance, created by the first
 *     init_* call.
 */
#ifndef RMEM_H
#define RMEM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Define RMEM_API yourself (e.g. empty) to embed rmem in another shared library without exporting it. */
#ifndef RMEM_API
#if defined(_WIN32)
#define RMEM_API
#else
#define RMEM_API __attribute__((visibility("default")))
#endif
#endif

#if defined(__GNUC__)
#define RMEM_LIKELY(x) __builtin_expect(!!(x), 1)
#define RMEM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define RMEM_MALLOC_ATTR __attribute__((malloc, warn_unused_result))
#else
#define RMEM_LIKELY(x) (x)
#define RMEM_UNLIKELY(x) (x)
#define RMEM_MALLOC_ATTR
#endif

#define RMEM_VERSION_MAJOR 0
#define RMEM_VERSION_MINOR 1
#define RMEM_VERSION_PATCH 0

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

/** Status codes. Every non-allocating function returns one; 0 is success. */
typedef enum rmem_status {
  RMEM_OK = 0,
  RMEM_EINVAL = 1,      /**< bad argument: size 0 where not allowed, bad alignment or lifetime, NULL handle */
  RMEM_ENOMEM = 2,      /**< out of memory: this instance cannot hold the request (its range is exhausted,
                             or the size is more than it could ever hold), or the OS refused */
  RMEM_ERANGE = 3,      /**< a size no instance could hold (above RMEM_MAX_CAPACITY), or whose padding or
                             count * size multiplication overflows */
  RMEM_EBADPTR = 4,     /**< pointer not from this allocator, an interior pointer, or the wrong owner */
  RMEM_EDOUBLEFREE = 5, /**< the block is already free */
  RMEM_ENOTINIT = 6,    /**< called before init (or after finish/destroy) */
  RMEM_ECORRUPT = 7,    /**< allocator metadata is inconsistent; the operation was refused */
  RMEM_ESTALE = 8,      /**< the handle was destroyed */
  RMEM_EBUSY = 9,       /**< the object is still in use (e.g. destroying a slab cache with live objects
                             when RMEM_SLAB_STRICT was asked for) */
  RMEM_EPERM = 10       /**< the object belongs to another thread (an arena of a shared instance), or the
                             call needs a shared instance and this one is private (or the reverse) */
} rmem_status_t;

/** The code of the last failure on this thread (RMEM_OK if none since the last clear). */
RMEM_API rmem_status_t rmem_last_error(void);
/** A human-readable message for the last failure on this thread; never NULL ("" if none). */
RMEM_API const char *rmem_last_error_message(void);
/** Clears this thread's last error. */
RMEM_API void rmem_clear_error(void);
/** The symbolic name of a status ("RMEM_EBADPTR"); "RMEM_UNKNOWN" for other values. */
RMEM_API const char *rmem_status_name(rmem_status_t code);

/** What the last failure on this thread was about. */
typedef struct rmem_error_info {
  rmem_status_t code;   /**< as rmem_last_error() */
  const char *message;  /**< as rmem_last_error_message(); valid until this thread's next rmem call */
  const void *ptr;      /**< the address the failure was about (the pointer passed in, or the block it
                             names), or NULL when the failure is about no address */
  size_t offset;        /**< ptr's byte offset in its instance's range, or SIZE_MAX when ptr is NULL or
                             outside every range the failing call knew */
} rmem_error_info_t;

/** Fills *out with this thread's last error. Messages name blocks by their offset, never by address. */
RMEM_API void rmem_last_error_info(rmem_error_info_t *out);

/** Called on every failure, on the failing thread, after the last error is set. */
typedef void rmem_error_fn(rmem_status_t code, const char *message, void *arg);
/** Installs a process-wide error hook (NULL removes it). Silent by default. */
RMEM_API void rmem_set_error_handler(rmem_error_fn *fn, void *arg);

/* ------------------------------------------------------------------------
 * Instances: one reserved address range and its page source
 * ------------------------------------------------------------------------ */

typedef struct rmem_s rmem_t;

#define RMEM_PAGE_SIZE 4096u                       /**< the page source's unit */
#define RMEM_DEFAULT_CAPACITY ((size_t)64 << 20)   /**< 64 MiB, as in the seed */
#define RMEM_MIN_CAPACITY ((size_t)1 << 20)        /**< 1 MiB */
#define RMEM_MAX_CAPACITY ((size_t)4 << 30)        /**< 4 GiB */

typedef struct rmem_options {
  size_t capacity; /**< bytes of address space to reserve; 0 = RMEM_DEFAULT_CAPACITY. Rounded up
                        to 64 KiB; must lie in [RMEM_MIN_CAPACITY, RMEM_MAX_CAPACITY]. */
  unsigned flags;  /**< RMEM_OPT_* */
} rmem_options_t;

/** Fill freed blocks with 0xDF and new blocks with 0xAB (debugging aid; costs time). */
#define RMEM_OPT_JUNK 0x1u
/** Run the full validator after every operation (tests; very slow). */
#define RMEM_OPT_VALIDATE 0x2u
/**
 * A thread-safe instance: rmem_alloc, rmem_free, rmem_calloc, rmem_realloc,
 * rmem_usable_size, rmem_aligned_alloc, the batches, rmem_stats,
 * rmem_heap_stats, rmem_validate, slab caches and MeMS may be called from any
 * thread at once. Every thread that allocates gets a heap of its own in the
 * instance (up to RMEM_SHARED_MAX_THREADS at once; a heap whose thread ended
 * is taken over by the next thread), so allocation and the free of one's own
 * blocks take no lock. A block may be freed by any thread: the free of
 * another thread's block is decided at that call by one atomic operation --
 * a double free is reported at the second free, whichever threads make the
 * two (when the first free happened before the second, as in any program
 * that does not race; two frees of one block at the same moment may both
 * succeed, and leave the instance's structures whole) -- and the owner takes
 * the block back at one of its refills (every 64th that finds such blocks
 * waiting), or when it is trimmed, validated or its thread ends. Arenas belong to the thread that created them
 * (another thread's call gets RMEM_EPERM). rmem_local gives a thread its
 * heap for the fastest calls. See "Shared instances" below.
 */
#define RMEM_OPT_SHARED 0x4u
/**
 * Never tell AddressSanitizer or valgrind which bytes are free. A library
 * built with -fsanitize=address (or -DRMEM_VALGRIND=1, for memcheck) marks
 * every byte the user may not touch -- freed blocks, the bytes past the size
 * asked for, arena memory after a reset, rewind or destroy, freed slab-cache
 * objects, MeMS holes -- so the tool reports a use after free or an overrun
 * inside rmem's range as it does for malloc. Code that writes over memory it
 * does not own on purpose (a test scribbling over the whole range to show
 * that no metadata lives there) creates its instance with this flag. In a
 * build without a tool it changes nothing, and in no build does it slow the
 * fast paths.
 */
#define RMEM_OPT_NO_TRACK 0x8u
/**
 * Every block of the general heap is at least 16 bytes long and 16-byte
 * aligned, as malloc's are on 64-bit systems: sizes 1..8 get a 16-byte block
 * instead of the 8-byte class's (the drop-in malloc creates its instances
 * with it). Without it, blocks of 8 bytes or less are 8-byte aligned and
 * every other block 16-byte aligned. It costs the fast paths nothing.
 */
#define RMEM_OPT_ALIGN16 0x10u
/** Threads that may use one shared instance at once. */
#define RMEM_SHARED_MAX_THREADS 255u

/**
 * Reserves the address range and sets up the page source. Pages are committed
 * on first touch and the whole range is readable and writable (untouched
 * pages read as zero), so any byte of it may be accessed without a fault.
 * (On Windows that means the whole range is committed at once: it takes no
 * physical memory until touched, but counts against the commit limit; see
 * rmem_os.h.)
 * Returns NULL (EINVAL for a bad capacity or flags, ENOMEM if the OS refuses).
 */
RMEM_API rmem_t *rmem_create(const rmem_options_t *options);
/**
 * rmem_create over a range the caller provides instead of one rmem reserves:
 * [range, range + size) must be aligned to 64 KiB (the capacity grain), size
 * a multiple of 64 KiB in [RMEM_MIN_CAPACITY, RMEM_MAX_CAPACITY]
 * (options->capacity is ignored), every byte readable, writable and zero, and
 * the range must stay mapped until rmem_destroy returns. rmem gives its free
 * pages back to the OS as it does its own (they read as zero again) and never
 * unmaps the range: that is the caller's, after rmem_destroy. The Node addon
 * puts shared instances in a WebAssembly.Memory this way, so that JavaScript
 * sees the range as a SharedArrayBuffer. NULL with RMEM_EINVAL for a range or
 * size that breaks these rules.
 */
RMEM_API rmem_t *rmem_create_in(void *range, size_t size, const rmem_options_t *options);
/** Unmaps the range and all metadata. Every pointer and handle of the instance dies. */
RMEM_API rmem_status_t rmem_destroy(rmem_t *r);
/** Base address of the range (offset 0, never handed out). */
RMEM_API void *rmem_base(const rmem_t *r);
/** Size of the range in bytes. */
RMEM_API size_t rmem_capacity(const rmem_t *r);
/** Byte offset of p in the instance's range, or 0 if p is NULL or outside it. */
RMEM_API size_t rmem_offset(const rmem_t *r, const void *p);
/** The default instance used by the seed's names, or NULL before any init_* call. */
RMEM_API rmem_t *rmem_default(void);
/**
 * Creates the default instance with these options if it does not exist yet
 * (RMEM_OK if it already exists; options are then ignored).
 */
RMEM_API rmem_status_t rmem_init_default(const rmem_options_t *options);
/** Destroys the default instance (everything of it dies); a later init_* starts afresh. */
RMEM_API rmem_status_t rmem_shutdown_default(void);

/** Page-source figures of an instance. All sizes in bytes. */
typedef struct rmem_stats {
  size_t capacity;        /**< reserved address range */
  size_t committed;       /**< pages handed out at least once and not released to the OS since */
  size_t resident;        /**< pages actually resident (mincore); 0 if unknown */
  size_t pages_in_use;    /**< pages currently owned by some allocator, in bytes */
  size_t pages_free;      /**< free pages below the high-water mark, in bytes */
  size_t largest_free;    /**< largest run of free pages (including never-used pages), in bytes */
  size_t metadata;        /**< out-of-band metadata committed, in bytes */
} rmem_stats_t;

/** Every figure of rmem_stats_t (resident asks the OS: it costs a system call per 16 MiB of range used). */
RMEM_API rmem_status_t rmem_stats(rmem_t *r, rmem_stats_t *out);
/** rmem_stats_t.pages_in_use alone, in O(1): bytes of pages owned by some allocator (0 for a bad instance). */
RMEM_API size_t rmem_pages_in_use(const rmem_t *r);

/** Which allocator of an instance owns a block (rmem_block_extent). */
typedef enum rmem_owner {
  RMEM_OWNER_NONE = 0,  /**< not a live block: free or reserved pages */
  RMEM_OWNER_HEAP = 1,  /**< the general heap (a slab block or a page-run block) */
  RMEM_OWNER_CACHE = 2, /**< a slab cache's object */
  RMEM_OWNER_ARENA = 3, /**< an arena: a bump chunk, or an intermediate arena's object */
  RMEM_OWNER_MEMS = 4   /**< a MeMS main node (named by virtual address: rmem_mems_find) */
} rmem_owner_t;

/** The extent of the block a pointer names. */
typedef struct rmem_extent {
  size_t offset;        /**< byte offset of the pointer in the range */
  size_t size;          /**< bytes from the pointer to the block's end */
  rmem_owner_t owner;
} rmem_extent_t;

/**
 * What p names, in O(1) (a bump chunk: O(pages before p in its chunk)),
 * from out-of-band metadata only:
 *   - the start of a live heap block, slab-cache object or intermediate-arena
 *     object: size is its usable size;
 *   - any byte of a bump arena's chunk: size runs to the chunk's end (which
 *     bytes of a chunk were handed out only the arena knows).
 * Anything else -- a freed block, an interior pointer of an object, free
 * pages, MeMS pages (named by virtual address) -- is refused with
 * RMEM_EBADPTR and *out says RMEM_OWNER_NONE (or RMEM_OWNER_MEMS) with size 0.
 * Language bindings use it to bound a view of a block.
 */
RMEM_API rmem_status_t rmem_block_extent(rmem_t *r, const void *p, rmem_extent_t *out);

/**
 * Checks every invariant of every allocator of the instance (page source,
 * heap, arenas, slab caches, MeMS). Returns the number of problems found (0 =
 * healthy); the first problem is described by the last error (RMEM_ECORRUPT).
 */
RMEM_API size_t rmem_validate(rmem_t *r);

/* ------------------------------------------------------------------------
 * The general heap
 *
 * Small sizes (<= RMEM_SMALL_MAX) are served from size-class slabs with an
 * out-of-band bitmap per slab: O(1) alloc and free, exact double-free and
 * interior-pointer detection. Larger sizes are page runs from the page source.
 *
 * Alignment: every block is 16-byte aligned, except blocks of the 8-byte
 * class (requests of 1..8 bytes), which are 8-byte aligned. Requests are
 * padded to a multiple of 8 (the seed's rule), then rounded to their size
 * class; rmem_usable_size tells the size actually available.
 *
 * Size 0: rmem_alloc(r, 0) returns NULL with RMEM_EINVAL (the seed's JS API
 * requires a size >= 1). rmem_free(r, NULL) is a no-op returning RMEM_OK.
 * ------------------------------------------------------------------------ */

#define RMEM_SMALL_MAX ((size_t)32 << 10) /**< largest size served from slabs */

RMEM_API void *rmem_alloc(rmem_t *r, size_t size) RMEM_MALLOC_ATTR;
/** n * size bytes, zeroed; NULL with RMEM_ERANGE if n * size overflows. */
RMEM_API void *rmem_calloc(rmem_t *r, size_t n, size_t size) RMEM_MALLOC_ATTR;
/**
 * Resizes p (NULL p acts as rmem_alloc). On failure returns NULL and p stays
 * valid and unchanged. size 0 returns NULL with RMEM_EINVAL and leaves p alone
 * (it does not free p, unlike some realloc implementations).
 */
RMEM_API void *rmem_realloc(rmem_t *r, void *p, size_t size);
/** alignment: a power of two (any, up to 1 GiB); size >= 1. */
RMEM_API void *rmem_aligned_alloc(rmem_t *r, size_t alignment, size_t size) RMEM_MALLOC_ATTR;
/**
 * Frees a block of the heap. Errors: RMEM_EBADPTR (outside the heap, interior,
 * or memory owned by an arena/slab cache/MeMS), RMEM_EDOUBLEFREE. The heap is
 * unchanged on error.
 */
RMEM_API rmem_status_t rmem_free(rmem_t *r, void *p);
/** Usable bytes of the live block p, or 0 (with the last error) if p is not a live heap block. */
RMEM_API size_t rmem_usable_size(rmem_t *r, const void *p);

/**
 * Allocates n blocks of size bytes into out[0..k) and returns k. k < n only
 * when the instance ran out of memory (or size is refused); the last error
 * then says why. The blocks are ordinary heap blocks.
 */
RMEM_API size_t rmem_alloc_batch(rmem_t *r, size_t size, void **out, size_t n);
/**
 * Frees ptrs[0..n) as n calls of rmem_free would: every valid pointer is
 * freed, every other one is refused and changes nothing. Returns how many
 * were refused; the last error describes the first refusal.
 */
RMEM_API size_t rmem_free_batch(rmem_t *r, void *const *ptrs, size_t n);

/** rmem_heap_trim: also return the free pages to the OS (as rmem_defrag does). */
#define RMEM_TRIM_RELEASE 0x1u
/**
 * Gives back what the heap keeps in reserve: freed blocks waiting on its
 * front go back to their slabs, and empty slabs to the page source (where
 * they stay resident until the page source's budget, its decay -- a free run
 * no free touched for a second goes back at the next free -- or
 * RMEM_TRIM_RELEASE returns them to the OS). Live blocks are untouched.
 * flags: 0 or RMEM_TRIM_RELEASE.
 */
RMEM_API rmem_status_t rmem_heap_trim(rmem_t *r, unsigned flags);

/** What rmem_defrag did. */
typedef struct rmem_defrag_report {
  size_t merged;          /**< pairs of neighbouring free runs merged */
  size_t slabs_released;  /**< empty slabs given back to the page source */
  size_t pages_released;  /**< free pages returned to the OS (madvise) */
  size_t bytes_released;  /**< pages_released * RMEM_PAGE_SIZE */
} rmem_defrag_report_t;

/**
 * Merges every pair of neighbouring free page runs, gives empty slabs back to
 * the page source, and returns whole free pages to the OS (they stay mapped
 * and read as zero). report may be NULL.
 */
RMEM_API rmem_status_t rmem_defrag(rmem_t *r, rmem_defrag_report_t *report);

typedef struct rmem_heap_stats {
  size_t used;           /**< usable bytes of live blocks */
  size_t free;           /**< free bytes: free slots in slabs + free pages of the page source */
  size_t live_blocks;    /**< live blocks */
  size_t free_slots;     /**< free slots in the heap's slabs */
  size_t slabs;          /**< slabs owned by the heap */
  size_t large_blocks;   /**< live page-run blocks */
  size_t largest_free;   /**< the largest block that can be allocated without merging, in bytes */
  size_t cached;         /**< freed blocks waiting on the front's stacks and depots (counted in free_slots) */
  double fragmentation;  /**< 1 - largest_free / free, in [0, 1]; 0 when nothing is free */
  size_t allocs, frees;  /**< operation counters since creation: allocs == frees + live_blocks once every
                              thread's heap has drained (a block another thread frees counts when taken back;
                              a binding's own fast paths count theirs apart, as the Node stats do) */
  /* shared instances (RMEM_OPT_SHARED); 0 for a private one */
  size_t threads;        /**< thread heaps made: the most threads that used the instance at once */
  size_t threads_active; /**< thread heaps owned by a running thread */
  size_t adoptions;      /**< heaps of ended threads taken over by new ones */
  size_t remote_frees;   /**< blocks freed by a thread that did not own them, taken back by their owner */
} rmem_heap_stats_t;

RMEM_API rmem_status_t rmem_heap_stats(rmem_t *r, rmem_heap_stats_t *out);

typedef enum rmem_block_state {
  RMEM_BLOCK_FREE = 0,   /**< a free slot or free page run */
  RMEM_BLOCK_USED = 1,   /**< a live heap block */
  RMEM_BLOCK_OTHER = 2,  /**< pages owned by another allocator (arena, slab cache, MeMS) */
  RMEM_BLOCK_PADDING = 3 /**< the tail of a slab too small for one more slot */
} rmem_block_state_t;

typedef struct rmem_block_info {
  size_t offset;            /**< byte offset in the range */
  size_t size;              /**< bytes */
  rmem_block_state_t state;
} rmem_block_info_t;

/** Visitor: return nonzero to stop the walk. */
typedef int rmem_walk_fn(const rmem_block_info_t *block, void *arg);
/** Visits every block of the heap and every page run of the range, in address order. */
RMEM_API rmem_status_t rmem_heap_walk(rmem_t *r, rmem_walk_fn *visit, void *arg);
/** Heap-only validator; returns the number of problems. rmem_validate runs it too. */
RMEM_API size_t rmem_heap_validate(rmem_t *r);

/* The seed's names, on the default instance. */

/** Creates the default instance (64 MiB) if needed. RMEM_OK if it already exists. */
RMEM_API rmem_status_t init_heap(void);
RMEM_API void *r_alloc(size_t size) RMEM_MALLOC_ATTR;
RMEM_API rmem_status_t r_free(void *ptr);
RMEM_API rmem_status_t r_defrag(void);
RMEM_API void *r_calloc(size_t n, size_t size) RMEM_MALLOC_ATTR;
RMEM_API void *r_realloc(void *ptr, size_t size);
RMEM_API void *r_aligned_alloc(size_t alignment, size_t size) RMEM_MALLOC_ATTR;
RMEM_API size_t r_usable_size(const void *ptr);

/* ------------------------------------------------------------------------
 * Arenas
 *
 * Three lifetimes. Transient and persistent arenas are bump allocators over
 * chained chunks of pages (8-byte aligned by default, any power of two on
 * request); reset keeps the first chunk, marks rewind to a savepoint.
 * Intermediate arenas are "slabs within an arena": sizes up to
 * RMEM_ARENA_SLAB_MAX come from size-class slabs owned by the arena, larger
 * ones from page runs of their own, and single objects go back with
 * rmem_arena_free; they have no savepoints and no lease.
 *
 * Handles point into an out-of-band table that is never unmapped while the
 * instance lives, and every rmem_arena_* call checks the handle before use
 * (is it an arena of a live instance, is it alive), so a destroyed arena is
 * reported (RMEM_ESTALE) instead of followed. Guarantee: a destroyed arena's
 * slot is reused only once at least 1024 other arenas of the instance were
 * destroyed after it (FIFO), or when the table (65535 arenas) is full; until
 * then its arena_t* reads RMEM_ESTALE. After reuse a stale pointer names the
 * new arena -- code that must be exact (the Node bridge) keeps
 * (index, generation) pairs: rmem_arena_index / rmem_arena_from_index.
 * An arena_t* of a destroyed instance is refused (RMEM_EBADPTR) by every
 * rmem_arena_* call (unless a later instance's table was mapped at the same
 * address); only the inline r_arena_fast reads it unchecked.
 * ------------------------------------------------------------------------ */

typedef enum lifetime {
  LIFETIME_TRANSIENT = 0,
  LIFETIME_INTERMEDIATE = 1,
  LIFETIME_PERSISTENT = 2
} lifetime_t;

/*
 * The head of every arena: the bump pointer the inline fast path uses. Only
 * these two fields are public; the rest of arena_t is private.
 * Invariant: ptr <= end, both inside the current chunk; ptr == end == 0 for a
 * destroyed arena and for an intermediate arena (which always takes the slow
 * path through its slabs).
 */
struct rmem_arena_head {
  uintptr_t ptr;
  uintptr_t end;
};
typedef struct arena arena_t;

typedef struct rmem_arena_options {
  size_t chunk_size;     /**< bytes per chunk (rounded up to pages); 0 = 64 KiB */
  size_t max_size;       /**< total bytes the arena may hold; 0 = no limit but the instance */
} rmem_arena_options_t;

/** Sizes an intermediate arena serves from its size-class slabs (8, 16, 24, 32, 48 ... 3072, 4096). */
#define RMEM_ARENA_SLAB_MAX ((size_t)4096)

/**
 * Creates an arena on instance r. chunk_size: bytes per chunk, rounded up to
 * pages (0 = 64 KiB); bump arenas map their first chunk at once. Errors:
 * RMEM_ENOTINIT (bad instance), RMEM_EINVAL (unknown lifetime, chunk larger
 * than the instance or than max_size), RMEM_ENOMEM.
 */
RMEM_API arena_t *rmem_arena_create(rmem_t *r, size_t chunk_size, lifetime_t lifetime);
RMEM_API arena_t *rmem_arena_create_ex(rmem_t *r, lifetime_t lifetime, const rmem_arena_options_t *options);
/**
 * size >= 1, padded to a multiple of 8; 8-byte aligned. Chains a new chunk
 * when the current one is full. NULL with RMEM_EINVAL (size 0), RMEM_ERANGE
 * (padding overflows), RMEM_ENOMEM (instance or max_size exhausted),
 * RMEM_ESTALE / RMEM_EBADPTR (bad handle).
 */
RMEM_API void *rmem_arena_alloc(arena_t *a, size_t size) RMEM_MALLOC_ATTR;
/** alignment: a power of two up to 1 GiB (RMEM_EINVAL otherwise); values below 8 mean 8. */
RMEM_API void *rmem_arena_alloc_aligned(arena_t *a, size_t size, size_t alignment) RMEM_MALLOC_ATTR;
/**
 * Returns one object of an intermediate arena to its size-class slab (or its
 * page run); size must be the size it was allocated with. p NULL is a no-op.
 * Errors: RMEM_EINVAL (not an intermediate arena, size 0 or not p's size),
 * RMEM_EBADPTR (p not from this arena, or not at an object's start),
 * RMEM_EDOUBLEFREE (the slot is already free; once the empty slab itself has
 * gone back to the page source, a second free reads RMEM_EBADPTR). The arena
 * is unchanged on error.
 */
RMEM_API rmem_status_t rmem_arena_free(arena_t *a, void *p, size_t size);
/**
 * Rewinds to empty and clears the size: a bump arena keeps its first chunk and
 * returns the others to the page source; an intermediate arena returns all its
 * slabs and runs. Marks taken before are refused afterwards.
 */
RMEM_API rmem_status_t rmem_arena_reset(arena_t *a);
/** Returns every chunk to the page source and kills the handle (later calls: RMEM_ESTALE). */
RMEM_API rmem_status_t rmem_arena_destroy(arena_t *a);

/** A savepoint: rmem_arena_rewind(a, m) frees everything allocated after rmem_arena_mark(a). */
typedef struct rmem_arena_mark {
  uint64_t chunk_serial;  /**< which chunk was current */
  uintptr_t ptr;          /**< its bump pointer */
  uint32_t generation;    /**< the arena's reset generation, so a mark from before a reset is refused */
} rmem_arena_mark_t;

/** A savepoint of a bump arena (on error: a zero mark, which every rewind refuses, and the last error). */
RMEM_API rmem_arena_mark_t rmem_arena_mark(arena_t *a);
/**
 * Frees everything allocated after the mark and gives back the chunks chained
 * since. Marks nest like a stack: a mark from before a reset, of a chunk the
 * arena no longer holds, or ahead of the current position is refused with
 * RMEM_EINVAL and the arena is unchanged. Intermediate arenas: RMEM_EINVAL.
 */
RMEM_API rmem_status_t rmem_arena_rewind(arena_t *a, rmem_arena_mark_t mark);

/**
 * Hands the caller the rest of the current chunk (at least min_size bytes,
 * chaining a new chunk if needed) to bump-allocate from itself; the arena's
 * own bump pointer moves past it. Used by the Node addon's JS fast path.
 * Returns the start (8-byte aligned) and stores the length in *len (a
 * multiple of 8, >= min_size; min_size 0 means 8). Bump arenas only.
 */
RMEM_API void *rmem_arena_lease(arena_t *a, size_t min_size, size_t *len);

typedef struct rmem_arena_stats {
  lifetime_t lifetime;
  size_t chunks;         /**< chunks held (intermediate: slabs and large runs) */
  size_t reserved;       /**< bytes of chunks held (intermediate: of slabs and large runs) */
  size_t used;           /**< bump: bytes handed out since the last reset (alignment padding and leases
                              included); intermediate: bytes of live slots (slot sizes) and large runs (pages) */
  size_t allocs;         /**< allocations since the last reset made through library calls (rmem_arena_alloc*,
                              r_arena, leases, r_arena_fast's slow path); r_arena_fast's inline bumps are
                              not counted, so that path stays a bump and two compares */
  size_t resets;         /**< resets since creation */
} rmem_arena_stats_t;

RMEM_API rmem_status_t rmem_arena_stats(arena_t *a, rmem_arena_stats_t *out);
/** The instance an arena belongs to (NULL with RMEM_ESTALE for a destroyed handle). */
RMEM_API rmem_t *rmem_arena_instance(arena_t *a);

/**
 * A checkable handle for bridges that must not trust pointers: the arena's
 * slot index and its generation (bumped on every create in that slot).
 */
RMEM_API rmem_status_t rmem_arena_index(arena_t *a, uint32_t *index, uint32_t *generation);
/** The live arena of r at (index, generation), or NULL with RMEM_ESTALE (destroyed) / RMEM_EBADPTR. */
RMEM_API arena_t *rmem_arena_from_index(rmem_t *r, uint32_t index, uint32_t generation);

/** Out-of-line slow path of r_arena_fast (public only for the inline function). */
RMEM_API void *rmem_arena_alloc_slow(arena_t *a, size_t size);

/*
 * Under AddressSanitizer (this file compiled with -fsanitize=address) or with
 * RMEM_VALGRIND defined to 1 (as for a library built for valgrind's memcheck;
 * CMake's -DRMEM_VALGRIND=ON passes it to every target that links rmem),
 * r_arena_fast calls rmem_arena_alloc: the library marks each object for the
 * tool (see RMEM_OPT_NO_TRACK), which an inline bump could not.
 */
#if defined(RMEM_VALGRIND) && RMEM_VALGRIND
#define RMEM_ARENA_FAST_CALLS 1
#elif defined(__SANITIZE_ADDRESS__)
#define RMEM_ARENA_FAST_CALLS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RMEM_ARENA_FAST_CALLS 1
#endif
#endif

/**
 * The inline fast path: a bump and two compares, no call. Falls back to the
 * checked slow path for a full chunk, a bad size, an intermediate or a
 * destroyed arena. It reads a without checking it (that is what makes it
 * fast): pass it arenas of live instances only. The debugging options
 * (RMEM_OPT_JUNK / RMEM_OPT_VALIDATE) act on the slow path only.
 */
static inline void *r_arena_fast(arena_t *a, size_t size) {
#ifdef RMEM_ARENA_FAST_CALLS
  return rmem_arena_alloc(a, size);
#else
  struct rmem_arena_head *h = (struct rmem_arena_head *)a;
  uintptr_t p = h->ptr;
  size_t n = (size + 7) & ~(size_t)7;
  if (RMEM_LIKELY(n - 1 < h->end - p)) { /* size >= 1, no overflow, fits */
    h->ptr = p + n;
    return (void *)p;
  }
  return rmem_arena_alloc_slow(a, size);
#endif
}

/* The seed's names. Both forms the seed describes exist:
 *   init_arenas();  r_arena(size, lifetime);  r_reset(lifetime);      the three default arenas
 *   a = create_arena(size, lifetime);  r_arena(a, size);  r_reset(a);  r_destroy(a);
 * In C11 r_arena and r_reset dispatch on the type of the first argument with
 * _Generic; the explicit forms are r_arena_in / r_arena_lt and r_reset_arena /
 * r_reset_lifetime. */

/**
 * Creates the default instance if needed and the three default arenas (64 KiB
 * chunks); recreates any of them that was destroyed. RMEM_OK if they exist.
 */
RMEM_API rmem_status_t init_arenas(void);
/** Dynamic arena on the default instance (RMEM_ENOTINIT before init_heap / init_arenas): size is the chunk size. */
RMEM_API arena_t *create_arena(size_t size, lifetime_t lifetime);
RMEM_API void *r_arena_in(arena_t *a, size_t size);
RMEM_API void *r_arena_lt(size_t size, lifetime_t lifetime);
RMEM_API rmem_status_t r_arena_free(arena_t *a, void *ptr, size_t size);
RMEM_API rmem_status_t r_reset_arena(arena_t *a);
RMEM_API rmem_status_t r_reset_lifetime(lifetime_t lifetime);
RMEM_API rmem_status_t r_destroy(arena_t *a);
/** The default arena of a lifetime (NULL before init_arenas). */
RMEM_API arena_t *rmem_default_arena(lifetime_t lifetime);

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && !defined(__cplusplus)
#define r_arena(first, second) \
  _Generic((first), arena_t *: r_arena_in, default: r_arena_lt)((first), (second))
#define r_reset(x) _Generic((x), arena_t *: r_reset_arena, default: r_reset_lifetime)(x)
#endif

/* ------------------------------------------------------------------------
 * Slab caches (Bonwick / SLUB style)
 *
 * A cache hands out objects of one size from slabs: runs of pages carved into
 * equal slots (slab_slot), with an out-of-band bitmap per slab. O(1) alloc and
 * free; empty slabs go back to the page source.
 * ------------------------------------------------------------------------ */

typedef struct slab_cache slab_cache_t;

/** One slot, as the walk shows it. */
typedef struct slab_slot {
  void *ptr;        /**< the slot's address */
  size_t index;     /**< index in its slab */
  int in_use;       /**< 1 if allocated */
} slab_slot_t;

/** Refuse rmem_slab_cache_destroy while objects are live (RMEM_EBUSY) instead of freeing them. */
#define RMEM_SLAB_STRICT 0x1u

/** Largest object size of a slab cache. */
#define RMEM_SLAB_MAX_OBJ ((size_t)1 << 20)

/**
 * name: copied (up to 31 bytes), may be NULL. obj_size in [1,
 * RMEM_SLAB_MAX_OBJ] (RMEM_EINVAL / RMEM_ERANGE), rounded up to a multiple of
 * align. align: 0 (= 8) or a power of two up to 4096; values below 8 mean 8.
 * flags: 0 or RMEM_SLAB_STRICT.
 *
 * Handles are checked like arena handles (see Arenas): a destroyed cache
 * reads RMEM_ESTALE until at least 1024 other caches were destroyed after it
 * (or the table of 16383 caches is full).
 */
RMEM_API slab_cache_t *rmem_slab_cache_create(rmem_t *r, const char *name, size_t obj_size, size_t align,
                                              unsigned flags);
RMEM_API void *rmem_slab_alloc(slab_cache_t *c) RMEM_MALLOC_ATTR;
/**
 * p NULL is a no-op. Errors: RMEM_EBADPTR (p not an object start of THIS
 * cache), RMEM_EDOUBLEFREE, RMEM_ESTALE (destroyed cache). The cache is
 * unchanged on error.
 */
RMEM_API rmem_status_t rmem_slab_free(slab_cache_t *c, void *p);
/** Frees every slab (live objects die) and kills the handle; with RMEM_SLAB_STRICT, RMEM_EBUSY while objects live. */
RMEM_API rmem_status_t rmem_slab_cache_destroy(slab_cache_t *c);
/**
 * The live cache of r named name (the first made, if several share it), or
 * NULL with RMEM_EINVAL (none of that name). On a shared instance, how another thread finds a
 * cache by the name it was created with.
 */
RMEM_API slab_cache_t *rmem_slab_cache_find(rmem_t *r, const char *name);
/** Gives empty slabs back to the page source. */
RMEM_API rmem_status_t rmem_slab_cache_shrink(slab_cache_t *c);

typedef struct rmem_slab_stats {
  const char *name;       /**< the cache's copy of its name ("" if none); valid while the cache lives */
  size_t obj_size;        /**< slot size */
  size_t objects_in_use;
  size_t slots;           /**< slots in all slabs */
  size_t slabs;
  size_t slab_bytes;      /**< bytes of pages held */
  double utilisation;     /**< objects_in_use * obj_size / slab_bytes */
  size_t allocs, frees;   /**< successful frees since creation, and allocs = frees + objects_in_use (exact: every
                               live object came from an alloc; a refused free counts in neither) */
} rmem_slab_stats_t;

RMEM_API rmem_status_t rmem_slab_cache_stats(slab_cache_t *c, rmem_slab_stats_t *out);
/** Visitor: return nonzero to stop the walk. It must not allocate from or free into the cache. */
typedef int rmem_slot_fn(const slab_slot_t *slot, void *arg);
/** Visits every slot of every slab of the cache (free and in use). */
RMEM_API rmem_status_t rmem_slab_cache_walk(slab_cache_t *c, rmem_slot_fn *visit, void *arg);
/** The cache's slot index and generation (see rmem_arena_index). */
RMEM_API rmem_status_t rmem_slab_cache_index(slab_cache_t *c, uint32_t *index, uint32_t *generation);
/** The live cache of r at (index, generation), or NULL with RMEM_ESTALE / RMEM_EBADPTR. */
RMEM_API slab_cache_t *rmem_slab_cache_from_index(rmem_t *r, uint32_t index, uint32_t generation);
/** The instance a cache belongs to (NULL with the last error for a bad handle). */
RMEM_API rmem_t *rmem_slab_cache_instance(slab_cache_t *c);

/* Seed-style names on the default instance (slab_cache_create: RMEM_ENOTINIT before init_heap). */
RMEM_API slab_cache_t *slab_cache_create(const char *name, size_t obj_size);
RMEM_API void *slab_alloc(slab_cache_t *c) RMEM_MALLOC_ATTR;
RMEM_API rmem_status_t slab_free(slab_cache_t *c, void *p);
RMEM_API rmem_status_t slab_cache_destroy(slab_cache_t *c);

/* ------------------------------------------------------------------------
 * Shared instances (RMEM_OPT_SHARED): the calling thread's heap
 *
 * Every rmem_* call on a shared instance finds the calling thread's heap
 * itself (one thread-local load when the thread used this instance last).
 * rmem_local hands that heap to the caller, whose rmem_local_alloc /
 * rmem_local_free then skip even that: the drop-in malloc and language
 * bindings keep it per thread. A local heap may be used only by the thread
 * that got it, and only while the instance lives; when the thread ends, its
 * heap's freed blocks go back and the heap waits for the next thread.
 *
 *   rmem_local_t *l = rmem_local(r);             once per thread
 *   void *p = rmem_local_alloc(l, 64);           any size; as rmem_alloc
 *   rmem_local_free(l, p);                       any block of r, any thread's
 * ------------------------------------------------------------------------ */

typedef struct rmem_heap rmem_local_t;

/**
 * The calling thread's heap in the shared instance r (made, or taken over
 * from an ended thread, on first use). NULL with RMEM_EPERM for a private
 * instance, RMEM_ENOMEM when RMEM_SHARED_MAX_THREADS threads use r already.
 */
RMEM_API rmem_local_t *rmem_local(rmem_t *r);
/** rmem_alloc on the instance of l, from l (the calling thread's heap). */
RMEM_API void *rmem_local_alloc(rmem_local_t *l, size_t size) RMEM_MALLOC_ATTR;
/** rmem_free of any block of l's instance (another thread's blocks too), from the calling thread. */
RMEM_API rmem_status_t rmem_local_free(rmem_local_t *l, void *p);
/**
 * The fast path of rmem_local_alloc alone, for callers that keep their own
 * slow path out of line (the drop-in malloc): a block of at most
 * RMEM_LOCAL_TRY_MAX bytes from the front of l, or NULL -- nothing changed, no
 * error recorded -- when the front has no block of the class at hand, size is
 * 0 or above RMEM_LOCAL_TRY_MAX, or l is NULL or not the calling thread's.
 * Takes no lock. On NULL, rmem_local_alloc decides (and reports).
 */
RMEM_API void *rmem_local_try_alloc(rmem_local_t *l, size_t size) RMEM_MALLOC_ATTR;
#define RMEM_LOCAL_TRY_MAX 32768u
/**
 * The fast path of rmem_local_free alone: 1 if p was a live block of the
 * calling thread's heap l and is now free. 0 -- nothing changed, no error
 * recorded -- for anything the fast path does not decide: another thread's
 * block, a full stack, NULL, an invalid pointer or a double free. On 0,
 * rmem_local_free decides (and reports), exactly as ever.
 */
RMEM_API int rmem_local_try_free(rmem_local_t *l, void *p);
/**
 * For a caller that keeps the calling thread's heap in a variable of its own
 * (a thread-local one: the drop-in malloc's) and wants the try calls without
 * their test of the thread: binds *slot to l. If l is the calling thread's
 * heap with its fast paths on (no debugging option), stores l in *slot and
 * returns 1; rmem then stores NULL in *slot, from this thread, before l stops
 * being the thread's (the thread ends, rmem_local_release, rmem_destroy from
 * this thread) and when another slot is bound to l. Else (NULL, a stale or
 * another thread's heap) stores NULL in *slot and returns 0. So *slot, while
 * not NULL, is the thread's own heap, for rmem_local_owned_try_alloc / _free.
 * slot must stay valid while bound and be this thread's alone; a NULL slot
 * just tells whether l is the thread's to use fast.
 */
RMEM_API int rmem_local_bind(rmem_local_t *l, rmem_local_t **slot);
/** rmem_local_try_alloc on *slot of rmem_local_bind (NULL declines), without the test of the thread. */
RMEM_API void *rmem_local_owned_try_alloc(rmem_local_t *l, size_t size) RMEM_MALLOC_ATTR;
/** rmem_local_try_free on *slot of rmem_local_bind (NULL declines), without the test of the thread. */
RMEM_API int rmem_local_owned_try_free(rmem_local_t *l, void *p);
/** rmem_usable_size, from the calling thread's heap. */
RMEM_API size_t rmem_local_usable_size(rmem_local_t *l, const void *p);
/**
 * Gives the calling thread's heap of r back as if the thread had ended: its
 * freed blocks return to their slabs, and the next thread that uses r takes
 * it over. Later calls of this thread on r get a heap again.
 */
RMEM_API rmem_status_t rmem_local_release(rmem_t *r);

/* ------------------------------------------------------------------------
 * For language bindings: the front's layout
 *
 * The heap and every slab cache keep freed blocks on stacks out of band and
 * check every free with the instance's live bitmap (one bit per 8 bytes of
 * the range) and its page-tag map (one 16-bit tag per page). A binding whose
 * calls into C are costly (the Node addon: a Node-API call costs more than
 * the allocation) can run the same fast paths on the same memory, exactly as
 * rmem_alloc / rmem_free / rmem_slab_alloc / rmem_slab_free do, and call C for
 * everything else. The rules, for a block at byte offset off:
 *
 *   live word  live[off >> 9] (64-bit words), bit (off >> 3) & 63; or 32-bit words: [off >> 8], bit (off >> 3) & 31
 *   page tag   tags[off >> 12]; the heap's tags are 1 .. nclasses, a cache's is its own
 *   heap alloc of size (1 .. table_max): t = tag_of[(size + 7) >> 3]; if n[t] > 0:
 *              n[t]--, off = stacks[t * stride + n[t]], set off's live bit
 *   heap free  off's live bit set, 1 <= tags[off >> 12] = t <= nclasses, n[t] < cap[t]:
 *              clear the bit, stacks[t * stride + n[t]] = off, n[t]++
 *   cache      the same with the cache's single stack (n, cap, entries), and
 *              tags[off >> 12] == tag
 *
 * Anything else goes to C, which refills, spills and refuses exactly. Only
 * for a private instance whose fast word is on (no debugging options), and
 * only from the one thread that uses the instance. The layout is versioned:
 * a binding checks version == RMEM_FRONT_LAYOUT_VERSION.
 *
 * A shared instance gives each thread its own layout (its heap: tag_base,
 * fast_word, fast_key) and adds the remote bitmap: a free of this heap's
 * block also needs its remote bit clear. A free of another thread's block
 * (heap id = tag >> tag_class_bits != this heap's, tag < tag_cache, class
 * t = tag & ((1 << tag_class_bits) - 1) with 1 <= t <= remote_classes) may
 * run in the binding too, as rmem_free runs it, with atomic operations
 * (32-bit ones on halves of the 64-bit words are enough), on the owner's
 * rmem_remote_layout:
 *
 *   1. read off's remote word, then its live word, in that order (the
 *      owner takes a block back by clearing the live bit, then the remote
 *      bit): remote bit set or live bit clear, go to C (it refuses).
 *   2. atomic OR of off's remote bit; if the bit was set already, that is a
 *      double free: report it, nothing changed.
 *   3. if the (32-bit) remote word was 0, mark the summaries bottom up:
 *      sum1 bit w = off >> 9, then sum2 bit w >> 6, then sum3 bit w >> 12,
 *      stopping at the first OR that finds its 32-bit word non-zero; past
 *      sum3, store 1 in *pending.
 *   4. then read *state: if it is orphan, call rmem_remote_settle(r, heap).
 * ------------------------------------------------------------------------ */

#define RMEM_FRONT_LAYOUT_VERSION 4u /* 4: the tag rules and remote classes of shared instances */

typedef struct rmem_front_layout {
  uint32_t version;      /**< RMEM_FRONT_LAYOUT_VERSION */
  uint32_t fast;         /**< 1 if the fast paths may run (no debugging option), else 0 */
  uint64_t *live;        /**< the live bitmap */
  size_t live_bytes;     /**< its size: capacity / 64 */
  uint16_t *tags;        /**< the page-tag map, one per page */
  size_t ntags;          /**< capacity / 4096 */
  /* the heap */
  uint8_t *n;            /**< blocks on each tag's stack */
  uint8_t *cap;          /**< each tag's capacity */
  uint8_t *tag_of;       /**< (size + 7) >> 3 -> tag, for 1 <= size <= table_max */
  uint32_t *stacks;      /**< stacks[t * stride + i]: block offsets, the newest at i = n[t] - 1 */
  uint32_t stride;       /**< entries per tag */
  uint32_t nclasses;     /**< tags 1 .. nclasses */
  uint32_t table_max;    /**< largest size tag_of maps */
  uint32_t tag_base;     /**< the heap's page tags are tag_base + t (0 for a private instance) */
  uint64_t *remote;      /**< shared instances: the remote bitmap (a free must find the block's bit clear
                              there too), else NULL */
  uint32_t *fast_word;   /**< shared instances: the fast paths may run only while *fast_word == fast_key
                              (the heap is this thread's: not released, not taken over), else NULL. Blocks
                              other threads freed into the heap wait for a refill in C that drains. */
  uint32_t fast_key;     /**< shared instances: the calling thread's key */
  uint32_t tag_class_bits; /**< a heap slab's tag: heap id << tag_class_bits | class tag */
  uint32_t tag_cache;    /**< tags from this one up are slab caches', never a heap's */
  uint32_t remote_classes; /**< shared instances: class tags 1 .. remote_classes a binding may free into
                              another thread's heap itself (the larger ones go to C, R3); else 0 */
} rmem_front_layout_t;

/**
 * Where r's heap front and maps live (valid until rmem_destroy); for a
 * shared instance, the calling thread's heap (valid for that thread only).
 * RMEM_EINVAL for a NULL out.
 */
RMEM_API rmem_status_t rmem_front_layout(rmem_t *r, rmem_front_layout_t *out);

/** Where another thread's heap of a shared instance keeps what its remote frees mark. */
typedef struct rmem_remote_layout {
  uint32_t version;      /**< RMEM_FRONT_LAYOUT_VERSION */
  uint32_t orphan;       /**< *state of a heap whose thread has ended */
  uint64_t *sum;         /**< its summaries, one array: sum1 from word 0, sum2 from sum_at[1], sum3 from sum_at[2] */
  size_t sum_at[3];      /**< where each level starts (64-bit words; sum_at[0] = 0) */
  size_t sum_words;      /**< the words of all three */
  uint32_t *pending;     /**< set to 1 past sum3 */
  uint32_t *state;       /**< the heap's state (orphan: the freer takes the block back, step 4) */
} rmem_remote_layout_t;

/**
 * The remote layout of heap id `heap` (1 .. RMEM_SHARED_MAX_THREADS, the id in
 * a slab's page tag) of shared instance r, valid until rmem_destroy.
 * RMEM_EINVAL for a private instance, a heap that does not exist or a NULL out.
 */
RMEM_API rmem_status_t rmem_remote_layout(rmem_t *r, uint32_t heap, rmem_remote_layout_t *out);

/**
 * Step 4 above: a binding freed a block of heap `heap` of r and then found
 * the heap orphaned; the blocks other threads freed into it are taken back
 * now if no other thread holds it for the moment (whoever lets go of it
 * last takes them). RMEM_EINVAL as rmem_remote_layout.
 */
RMEM_API rmem_status_t rmem_remote_settle(rmem_t *r, uint32_t heap);

/** A slab cache's front for a binding: its one stack as 32-bit words, and its pages' tag. */
typedef struct rmem_cache_layout {
  uint32_t version;      /**< RMEM_FRONT_LAYOUT_VERSION */
  uint32_t tag;          /**< its pages' tag */
  uint32_t *stack;       /**< stack[0] = n, stack[1] = cap, stack[2 .. 2 + cap) = block offsets, the newest
                              at stack[1 + n] */
  uint32_t max;          /**< most entries cap can be */
  uint32_t fast;         /**< 1 if a binding may run the fast paths on it (a private instance with no
                              debugging option); else every call must go to C (its cap is then 0: such a
                              cache keeps nothing on a stack) */
} rmem_cache_layout_t;

/** Where a slab cache's front lives (valid until the cache or its instance is destroyed). */
RMEM_API rmem_status_t rmem_slab_cache_layout(slab_cache_t *c, rmem_cache_layout_t *out);

/* ------------------------------------------------------------------------
 * MeMS: the page-based allocator of the second seed
 *
 * Memory is handed out from main nodes (runs of 4 KiB pages, each with a
 * virtual range SVA..EVA) split into a sub-chain of PROCESS and HOLE
 * segments. Virtual addresses start at 1000 and run on across main nodes.
 * Segments are byte-exact; main nodes are page multiples. Metadata is out of
 * band. One MeMS per instance.
 *
 * Semantics (the seed's, with its bugs fixed):
 *   - malloc(size) takes the first hole in chain order (main node by main
 *     node, then sub-chain order) with at least size bytes and splits it: the
 *     front becomes the PROCESS segment, the rest stays a hole. If no hole is
 *     large enough, a new main node of ceil(size / 4096) pages is appended
 *     after the last one (a PROCESS segment, then a hole if bytes are left).
 *   - free(v) turns the segment that starts at v into a hole and merges it
 *     with a hole right before and right after it in the same main node.
 *     Holes never merge across main nodes, and main nodes are never given
 *     back before finish (as in the seed).
 *   - get(v) translates any byte of a PROCESS segment: get(v + k) == get(v) + k.
 *   - init on an instance whose MeMS is already initialised is a no-op that
 *     returns RMEM_OK and keeps every live segment (nothing leaks, nothing is
 *     invalidated). finish gives every page back to the page source and the
 *     OS and forgets everything; the next init starts again at 1000.
 *   - Costs: malloc, free and get are O(log n) in the number of segments
 *     (a B+-tree keyed by virtual address, with the largest hole of each
 *     subtree); stats is O(1); print, walk and validate are O(n).
 *
 * Errors (recorded as the last error; nothing prints, nothing exits):
 *   RMEM_ENOTINIT    any call but init before init or after finish (NULL or
 *                    destroyed instance too)
 *   RMEM_EINVAL      malloc(0); NULL out/visit
 *   RMEM_ERANGE      malloc of more bytes than any instance can hold
 *                    (RMEM_MAX_CAPACITY; SIZE_MAX, i.e. -1 from JavaScript, included)
 *   RMEM_ENOMEM      malloc this instance cannot hold: no free run of pages is
 *                    large enough now, the size is more than all its usable
 *                    pages, or no metadata
 *   RMEM_EBADPTR     free/get of an address outside every main node; free of
 *                    an address inside a segment but not its start; get of an
 *                    address in a hole
 *   RMEM_EDOUBLEFREE free of an address that lies in a hole (already freed)
 * On every error the structure is unchanged.
 * ------------------------------------------------------------------------ */

#define MEMS_PAGE_SIZE 4096u
#define MEMS_VIRTUAL_BASE 1000u

/** The figures printStats prints, and a few more. */
typedef struct rmem_mems_stats {
  size_t pages_used;      /**< pages of all main nodes ("Page used") */
  size_t space_unused;    /**< bytes in holes ("Space unused") */
  size_t main_chain_length; /**< main nodes ("Main Chain Length") */
  size_t segments;        /**< all sub-chain nodes (the sum of "Sub-chain Length array") */
  size_t process_segments;
  size_t hole_segments;
  size_t bytes_in_use;    /**< bytes in PROCESS segments */
} rmem_mems_stats_t;

typedef enum rmem_mems_kind { MEMS_HOLE = 0, MEMS_PROCESS = 1 } rmem_mems_kind_t;

typedef struct rmem_mems_segment {
  size_t main_index;      /**< which main node (0-based) */
  size_t sva, eva;        /**< virtual range, inclusive */
  rmem_mems_kind_t kind;
  void *physical;         /**< address of byte sva */
} rmem_mems_segment_t;

/** Visitor: return nonzero to stop the walk. */
typedef int rmem_mems_fn(const rmem_mems_segment_t *segment, void *arg);

/** Starts MeMS on r (no-op returning RMEM_OK if it is already running). ENOTINIT, ENOMEM. */
RMEM_API rmem_status_t rmem_mems_init(rmem_t *r);
/** Virtual address of a new PROCESS segment of exactly size bytes; 0 on failure. */
RMEM_API uintptr_t rmem_mems_malloc(rmem_t *r, size_t size);
/** Frees the segment that starts at vaddr. EBADPTR, EDOUBLEFREE, ENOTINIT. */
RMEM_API rmem_status_t rmem_mems_free(rmem_t *r, uintptr_t vaddr);
/** Physical address of the byte at vaddr (any byte of a PROCESS segment); NULL on failure. */
RMEM_API void *rmem_mems_get(rmem_t *r, uintptr_t vaddr);
/**
 * Prints the seed's stats format to f (stdout if NULL), line for line:
 *   MeMS Stats:
 *   MAIN[1000:5095] -> <P>[SVA:1000:EVA:1999] <-> <H>[SVA:2000:EVA:5095] <-> <NULL>
 *   Page used: 1
 *   Space unused: 3096
 *   Main Chain Length: 1
 *   Sub-chain Length array: 2
 * One MAIN line per main node, any number of them. The sub-chain lengths are
 * separated by single spaces ("Sub-chain Length array: 5 5 3"), the seed's
 * separator without the trailing space its loop left, so one node prints
 * exactly the README's line. With no main node the array is empty
 * ("Sub-chain Length array:"). The only MeMS function that prints.
 */
RMEM_API rmem_status_t rmem_mems_print_stats(rmem_t *r, FILE *f);
RMEM_API rmem_status_t rmem_mems_stats(rmem_t *r, rmem_mems_stats_t *out);
/** Visits every segment of every main node in order (main_index then sva). */
RMEM_API rmem_status_t rmem_mems_walk(rmem_t *r, rmem_mems_fn *visit, void *arg);
/**
 * The segment (PROCESS or HOLE) that contains the byte at vaddr, in O(log n):
 * its range, kind, main node and physical start. EBADPTR if vaddr lies
 * outside every main node, EINVAL for a NULL out, ENOTINIT.
 */
RMEM_API rmem_status_t rmem_mems_find(rmem_t *r, uintptr_t vaddr, rmem_mems_segment_t *out);
/** Returns all MeMS pages to the page source and the OS; a later init starts again from 1000. */
RMEM_API rmem_status_t rmem_mems_finish(rmem_t *r);
/** MeMS-only validator; returns the number of problems. rmem_validate runs it too. */
RMEM_API size_t rmem_mems_validate(rmem_t *r);

/* The seed's names, on the default instance (mems_init creates it if needed: 64 MiB).
   Virtual addresses travel as void*. mems_finish ends MeMS, not the default instance. */
RMEM_API rmem_status_t mems_init(void);
RMEM_API void *mems_malloc(size_t size);
RMEM_API rmem_status_t mems_free(void *v_ptr);
RMEM_API void *mems_get(void *v_ptr);
/** Prints to stdout; before mems_init it prints nothing and records RMEM_ENOTINIT. */
RMEM_API void mems_print_stats(void);
RMEM_API rmem_status_t mems_finish(void);

/* ------------------------------------------------------------------------
 * Layout and reports: what every page of the range holds, for every allocator
 *
 * rmem_layout_walk visits every page run of the instance exactly once, in
 * address order, with its owner: the reserved first and last pages, free
 * runs (with how many of their pages may still be resident), the untouched
 * pages above the high-water mark, heap slabs (size class, slots, live
 * blocks), large heap blocks, arena chunks (which arena, how far its bump
 * pointer got), the slabs and large objects of intermediate arenas, the
 * slabs of slab caches, and MeMS main nodes (optionally followed by their
 * sub-chains). The runs cover [0, capacity) exactly: their offsets start at
 * 0 and each begins where the one before ended. It reads out-of-band
 * metadata only, never user memory; O(runs + live-bitmap words of slabs).
 *
 * Slot occupancy: a slot is live iff its live bit is set (the block is in the
 * user's hands); a slot the owner keeps on its front (a class's stack, or its
 * depot for small classes) is free for the
 * user and counted in `cached`, not in `live` (as is, on a shared instance, a
 * block another thread freed that its heap has not taken back yet).
 *
 * On a shared instance (RMEM_OPT_SHARED) the walk holds the instance's locks
 * while it reads, so it sees the pagemap and MeMS whole; the thread heaps'
 * fronts are read as they are, so their live and cached counts are a snapshot
 * while other threads run. The visitor must not call into the instance.
 *
 * The report functions print the figures of the whole instance or of one
 * allocator in the spirit of the MeMS seed's printStats (one line per chain,
 * the chain's members in address order, then one figure per line); they are
 * the functions whose job is to print. rmem_report gives the same text
 * through a callback instead of a FILE.
 * ------------------------------------------------------------------------ */

typedef enum rmem_run_kind {
  RMEM_RUN_RESERVED = 0,      /**< page 0 or the last page: never handed out */
  RMEM_RUN_FREE = 1,          /**< a free run of the page source below the high-water mark */
  RMEM_RUN_UNTOUCHED = 2,     /**< free pages above the high-water mark: never handed out yet */
  RMEM_RUN_HEAP_SLAB = 3,     /**< a slab of a heap size class */
  RMEM_RUN_HEAP_LARGE = 4,    /**< a large heap block: a page run of its own */
  RMEM_RUN_ARENA_CHUNK = 5,   /**< a chunk of a bump arena (transient or persistent) */
  RMEM_RUN_ARENA_SLAB = 6,    /**< a slab of a size class of an intermediate arena */
  RMEM_RUN_ARENA_LARGE = 7,   /**< a large object of an intermediate arena: a page run of its own */
  RMEM_RUN_CACHE_SLAB = 8,    /**< a slab of a slab cache */
  RMEM_RUN_MEMS = 9,          /**< a MeMS main node */
  RMEM_RUN_MEMS_SEGMENT = 10  /**< one segment of the main node visited last (RMEM_LAYOUT_SEGMENTS only) */
} rmem_run_kind_t;

/** One page run (or, RMEM_RUN_MEMS_SEGMENT, one segment of a MeMS sub-chain). Fields not of its kind are 0. */
typedef struct rmem_run {
  rmem_run_kind_t kind;
  size_t offset;          /**< byte offset of its first page (a segment: of its first byte) */
  size_t pages;           /**< its length in pages (a segment: 0) */
  size_t bytes;           /**< pages * RMEM_PAGE_SIZE (a segment: its size) */
  size_t dirty_pages;     /**< FREE: pages of it that may still be resident (not yet returned to the OS) */
  /* slabs: HEAP_SLAB, ARENA_SLAB, CACHE_SLAB */
  uint32_t slot_size;     /**< bytes per slot */
  uint32_t slots;         /**< slots carved from the slab */
  uint32_t live;          /**< slots in the user's hands (live bit set) */
  uint32_t cached;        /**< slots freed onto the owner's front (stack or depot): free for the user, not yet back in the slab */
  uint32_t class_index;   /**< HEAP_SLAB: the heap size class; ARENA_SLAB: the arena's size class */
  /* the owning arena (ARENA_*) or slab cache (CACHE_SLAB): the pair of rmem_arena_index / rmem_slab_cache_index;
     HEAP_SLAB: the heap (0 for a private instance's, a thread heap's id, 1 .., on a shared instance) */
  uint32_t owner_index;
  uint32_t owner_generation;
  lifetime_t lifetime;    /**< ARENA_*: the arena's lifetime */
  const char *name;       /**< CACHE_SLAB: the cache's name ("" if none); valid while the cache lives */
  size_t obj_size;        /**< CACHE_SLAB: the cache's object size as asked for */
  size_t used;            /**< ARENA_CHUNK: bytes bumped in this chunk (leases included); MEMS: bytes in PROCESS segments */
  int current;            /**< ARENA_CHUNK: 1 for the chunk the arena bumps in now */
  size_t size;            /**< HEAP_LARGE: the block's usable size; ARENA_LARGE: the size it was allocated with */
  /* MeMS: MEMS and MEMS_SEGMENT */
  size_t main_index;      /**< which main node (0-based) */
  size_t sva, eva;        /**< virtual range, inclusive (the main node's, or the segment's) */
  size_t segments;        /**< MEMS: segments in its sub-chain */
  size_t holes;           /**< MEMS: HOLE segments among them */
  rmem_mems_kind_t segment_kind; /**< MEMS_SEGMENT: MEMS_PROCESS or MEMS_HOLE */
} rmem_run_t;

/** rmem_layout_walk: after each MeMS main node, visit the segments of its sub-chain (RMEM_RUN_MEMS_SEGMENT). */
#define RMEM_LAYOUT_SEGMENTS 0x1u

/** Visitor: return nonzero to stop the walk. It must not allocate from or free into the instance. */
typedef int rmem_run_fn(const rmem_run_t *run, void *arg);

/**
 * Visits every page run of r in address order (see above). flags: 0 or
 * RMEM_LAYOUT_SEGMENTS. RMEM_EINVAL for a NULL visitor or unknown flags,
 * RMEM_ENOTINIT for a bad instance.
 */
RMEM_API rmem_status_t rmem_layout_walk(rmem_t *r, unsigned flags, rmem_run_fn *visit, void *arg);

/** Receives the text of a report, piece by piece (not NUL-terminated). */
typedef void rmem_print_fn(const char *text, size_t len, void *arg);

typedef enum rmem_report_kind {
  RMEM_REPORT_ALL = 0,   /**< the instance: its page source, then every allocator's report */
  RMEM_REPORT_HEAP = 1,  /**< the general heap */
  RMEM_REPORT_ARENA = 2, /**< one arena: object is its arena_t * */
  RMEM_REPORT_CACHE = 3, /**< one slab cache: object is its slab_cache_t * */
  RMEM_REPORT_MEMS = 4   /**< MeMS: exactly rmem_mems_print_stats's text */
} rmem_report_kind_t;

/**
 * Writes a report through out. r: the instance (for ARENA and CACHE it may
 * be NULL: the object's instance is used; otherwise it must be the object's).
 * Errors: RMEM_ENOTINIT, RMEM_EINVAL (NULL out, unknown kind, a missing or
 * foreign object), RMEM_ESTALE / RMEM_EBADPTR for a bad handle, and MeMS's
 * RMEM_ENOTINIT when it is not running (REPORT_MEMS only; REPORT_ALL leaves
 * it out then).
 */
RMEM_API rmem_status_t rmem_report(rmem_t *r, rmem_report_kind_t kind, void *object, rmem_print_fn *out, void *arg);

/*
 * The same reports, printed to f (stdout if NULL). rmem_print_stats prints:
 *   rmem Stats:
 *   RANGE[0:67108863] -> <R>[0:4095] <-> <H>[4096:69631] <-> <F>[69632:73727] <-> <U>[73728:67104767] <-> <R>[...] <-> <NULL>
 *   Capacity: 67108864
 *   Pages in use: 16
 *   Pages free: 1 (dirty 1)
 *   Pages untouched: 16365
 *   Largest free run: 16366
 * then the heap's report, each live arena's and slab cache's, and MeMS's
 * (the seed's format) if it runs. A run's letter: R reserved, F free, U
 * untouched, H heap slab, L large block, A arena chunk, I intermediate
 * arena's slab, J its large object, S slab cache's slab, M MeMS main node.
 * Each allocator's report is one line per chain (a heap class, an arena, a
 * cache) of its runs in address order, then its figures, one per line.
 */
RMEM_API rmem_status_t rmem_print_stats(rmem_t *r, FILE *f);
RMEM_API rmem_status_t rmem_heap_print_stats(rmem_t *r, FILE *f);
RMEM_API rmem_status_t rmem_arena_print_stats(arena_t *a, FILE *f);
RMEM_API rmem_status_t rmem_slab_cache_print_stats(slab_cache_t *c, FILE *f);

#ifdef __cplusplus
}
#endif

#endif /* RMEM_H */
