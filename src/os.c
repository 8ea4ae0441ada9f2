/*
 * os.c - the operating system behind one small contract (include/rmem_os.h),
 * for POSIX systems: Linux, and macOS where a call has a portable form.
 * Windows is src/os_win.c; both are in src/sources.txt and each compiles to
 * nothing on the other's platform.
 *
 * Everything rmem asks of the OS goes through these functions. Reserved
 * memory is mapped readable and writable with MAP_NORESERVE: the kernel
 * commits a page on first touch, so "committing" is free and any byte of a
 * reserved range can be read or written without a fault (the Node addon
 * relies on that: JS may touch any byte of the range).
 *
 * Decommit must leave the pages mapped and reading as zero at once. What
 * each call guarantees:
 *   madvise(MADV_DONTNEED)  Linux: private anonymous pages are dropped and
 *                           read as zero on the next touch. Elsewhere (macOS,
 *                           the BSDs) it is only a hint and the old bytes may
 *                           stay, so it is used on Linux only.
 *   madvise(MADV_FREE)      lazy everywhere: the old bytes stay until the
 *                           kernel needs the page. Never used here.
 *   mmap(MAP_FIXED)         POSIX: a fresh anonymous mapping replaces the
 *                           pages in one call (no moment where they are
 *                           unmapped), zero-filled. The portable decommit, used
 *                           wherever MADV_DONTNEED does not zero.
 * Linux-only calls (mremap, MADV_HUGEPAGE, MADV_DONTNEED's zeroing) sit behind
 * feature tests; where they are missing, remap returns NULL (the caller
 * copies), the huge page hint does nothing and decommit remaps.
 *
 * Functions return 0 / a pointer on success and -1 / NULL on failure; they
 * never print and never record an error (callers decide what to report).
 */
#if !defined(_WIN32)

#include "internal.h"

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif
#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS MAP_ANON
#endif

size_t rmem_os_page_size(void) {
  static size_t cached;
  if (cached == 0) {
    long v = sysconf(_SC_PAGESIZE);
    cached = v > 0 ? (size_t)v : 4096;
  }
  return cached;
}

void *rmem_os_reserve(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void *rmem_os_map(size_t size, size_t align) {
  size_t ps = rmem_os_page_size();
  size_t extra = align > ps ? align : 0;
  if (size == 0 || size > SIZE_MAX - extra) return NULL;
  char *m = mmap(NULL, size + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return NULL;
  if (!extra) return m;
  /* over-map by align, then trim both ends to an aligned run of size bytes */
  char *p = (char *)(((uintptr_t)m + align - 1) & ~(uintptr_t)(align - 1));
  if (p > m) munmap(m, (size_t)(p - m));
  size_t tail = (size_t)(m + size + extra - (p + size));
  if (tail) munmap(p + size, tail);
  return p;
}

int rmem_os_release(void *p, size_t size) {
  if (p == NULL || size == 0) return 0;
  return munmap(p, size);
}

/* Rounds [p, p+size) inward to whole OS pages (the OS page may exceed 4 KiB). */
static int os_inner(void *p, size_t size, uintptr_t *lo, uintptr_t *hi) {
  uintptr_t ps = rmem_os_page_size();
  *lo = ((uintptr_t)p + ps - 1) & ~(ps - 1);
  *hi = ((uintptr_t)p + size) & ~(ps - 1);
  return *hi > *lo;
}

int rmem_os_decommit(void *p, size_t size) {
  uintptr_t lo, hi;
  if (!os_inner(p, size, &lo, &hi)) return 0;
#if defined(__linux__)
  return madvise((void *)lo, hi - lo, MADV_DONTNEED);
#else
  void *q = mmap((void *)lo, hi - lo, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
                 -1, 0);
  return q == MAP_FAILED ? -1 : 0;
#endif
}

int rmem_os_guard(void *p, size_t size) {
  uintptr_t lo, hi;
  if (!os_inner(p, size, &lo, &hi)) return 0;
  return mprotect((void *)lo, hi - lo, PROT_NONE);
}

size_t rmem_os_resident(void *p, size_t size) {
  uintptr_t ps = rmem_os_page_size();
  uintptr_t lo = (uintptr_t)p & ~(ps - 1);
  uintptr_t hi = ((uintptr_t)p + size + ps - 1) & ~(ps - 1);
  size_t total = 0;
#if defined(__APPLE__)
  char vec[4096];
#else
  unsigned char vec[4096];
#endif
  for (uintptr_t at = lo; at < hi;) {
    size_t n = (hi - at) / ps;
    if (n > sizeof vec) n = sizeof vec;
    if (mincore((void *)at, n * ps, vec) != 0) return 0;
    for (size_t i = 0; i < n; i++) total += (vec[i] & 1) ? ps : 0;
    at += n * ps;
  }
  return total;
}

void *rmem_os_remap(void *p, size_t old_size, size_t new_size) {
#if defined(__linux__) && defined(MREMAP_MAYMOVE)
  void *q = mremap(p, old_size, new_size, MREMAP_MAYMOVE);
  return q == MAP_FAILED ? NULL : q;
#else
  (void)p, (void)old_size, (void)new_size;
  return NULL;
#endif
}

void rmem_os_advise_huge(void *p, size_t size) {
#if defined(MADV_HUGEPAGE)
  madvise(p, size, MADV_HUGEPAGE);
#else
  (void)p, (void)size;
#endif
}

uint64_t rmem_os_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#else
typedef int rmem_os_posix_unused; /* Windows: src/os_win.c; ISO C wants a non-empty file */
#endif /* !_WIN32 */
