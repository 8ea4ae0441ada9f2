/*
 * rmem_os.h - the operating system, as rmem uses it: one small contract.
 *
 * Every call rmem makes of the OS's memory interface (mmap, munmap, mremap,
 * madvise, mprotect, mincore; VirtualAlloc and friends on Windows) goes
 * through these functions, and nothing else in rmem knows the platform. They
 * are public so that layers built on rmem -- the drop-in malloc in malloc/ --
 * make their OS calls through the same contract instead of their own.
 *
 * The contract (every implementation keeps it):
 *   - Addresses and sizes are multiples of rmem_os_page_size() unless a
 *     function says it rounds.
 *   - Functions return a pointer or 0 on success and NULL or -1 on failure.
 *     They never print, never record an rmem error and never end the process:
 *     the caller decides what a failure means.
 *   - Memory from rmem_os_reserve and rmem_os_map reads as zero until written.
 *
 * Platform notes
 *   POSIX (Linux, macOS; src/os.c): reserve is mmap(PROT_READ | PROT_WRITE,
 *   MAP_NORESERVE): the kernel commits a page when it is first touched, so any
 *   byte of a reserved range can be read or written without a fault, and only
 *   touched pages cost memory. Decommit is madvise(MADV_DONTNEED) on Linux,
 *   where it makes private pages read as zero at once; elsewhere MADV_DONTNEED
 *   is only a hint that may keep the bytes (and MADV_FREE keeps them until the
 *   kernel needs the page), so decommit maps fresh zero pages over the range
 *   (mmap MAP_FIXED, one call, no moment unmapped). Remap is mremap (Linux
 *   only; elsewhere it returns NULL and the caller copies); the huge-page hint
 *   is MADV_HUGEPAGE where it exists. Resident is mincore.
 *
 *   Windows (src/os_win.c): memory that is only reserved faults when touched,
 *   so reserve COMMITS the whole range at once (VirtualAlloc MEM_RESERVE |
 *   MEM_COMMIT). That keeps "any byte can be touched" (the Node addon shows
 *   the whole range to JS as one ArrayBuffer), and physical pages still come
 *   only on first touch, but the whole reservation counts against the
 *   system's commit limit (RAM + page file) from the start: an instance
 *   charges its capacity plus its metadata, and rmem_create fails with
 *   RMEM_ENOMEM where the limit cannot cover that, where Linux would
 *   overcommit. Decommit is VirtualFree(MEM_DECOMMIT) then VirtualAlloc
 *   (MEM_COMMIT) of the same pages: zero pages, out of the working set
 *   (MEM_RESET and DiscardVirtualMemory leave contents undefined); between
 *   the two calls the pages are briefly inaccessible, and if the recommit
 *   fails (another process took the commit charge) it returns -1 and the
 *   pages stay inaccessible. Release frees whole mappings only (-1 for part
 *   of one). Guard is VirtualProtect(PAGE_NOACCESS); resident is
 *   QueryWorkingSetEx; remap returns NULL; the huge-page hint does nothing.
 */
#ifndef RMEM_OS_H
#define RMEM_OS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef RMEM_API
#if defined(_WIN32)
#define RMEM_API
#else
#define RMEM_API __attribute__((visibility("default")))
#endif
#endif

/** The OS page size (4096 on x86-64 Linux; may be larger elsewhere). */
RMEM_API size_t rmem_os_page_size(void);

/**
 * Reserves size bytes of address space that can be read and written at once:
 * pages get memory from the OS when first touched and read as zero (on
 * Windows the range is committed at once: see the platform notes). This is
 * what an instance's range and its metadata live in. NULL on failure.
 */
RMEM_API void *rmem_os_reserve(size_t size);

/**
 * Maps size bytes of memory for immediate use (counted against the system's
 * commit limit as ordinary anonymous memory, zeroed). With align > page size
 * (a power of two) the start is align-aligned. NULL on failure.
 */
RMEM_API void *rmem_os_map(size_t size, size_t align);

/** Unmaps [p, p + size) (from rmem_os_reserve or rmem_os_map; on Windows a whole mapping only). 0, or -1. */
RMEM_API int rmem_os_release(void *p, size_t size);

/**
 * Gives the pages of [p, p + size) back to the OS; they stay mapped and read
 * as zero. Rounds inward to whole OS pages. 0, or -1.
 */
RMEM_API int rmem_os_decommit(void *p, size_t size);

/** Makes [p, p + size) inaccessible (guard pages). Rounds inward. 0, or -1. */
RMEM_API int rmem_os_guard(void *p, size_t size);

/** Resident bytes of [p, p + size) as the OS reports them; 0 if unknown. */
RMEM_API size_t rmem_os_resident(void *p, size_t size);

/**
 * Resizes the mapping [p, p + old_size) to new_size bytes, moving it if it
 * must (the pages move, nothing is copied). Returns the new start, or NULL if
 * the OS refuses or cannot remap (then [p, p + old_size) is unchanged).
 */
RMEM_API void *rmem_os_remap(void *p, size_t old_size, size_t new_size);

/** A hint that [p, p + size) will be filled densely: back it with huge pages where the OS can. */
RMEM_API void rmem_os_advise_huge(void *p, size_t size);

/** A monotonic clock in nanoseconds (never goes back; its zero is arbitrary): what decay is timed by. */
RMEM_API uint64_t rmem_os_now_ns(void);

#ifdef __cplusplus
}
#endif

#endif /* RMEM_OS_H */
