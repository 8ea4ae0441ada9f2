/*
 * os.c - the operating system behind one small contract.
 *
 * Everything rmem asks of the OS goes through these functions: reserve a
 * range, release it, give pages back (decommit), guard pages, and ask what is
 * resident. Reserved memory is mapped readable and writable with
 * MAP_NORESERVE: the kernel commits a page on first touch, so "committing" is
 * free and any byte of a reserved range can be read or written without a
 * fault (the Node addon relies on that: JS may touch any byte of the range).
 * Decommit is madvise(MADV_DONTNEED): the pages stay mapped and read as zero.
 *
 * Functions return 0 / a pointer on success and -1 / NULL on failure; they
 * never print and never record an error (callers decide what to report).
 */
#include "internal.h"

#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
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
  return madvise((void *)lo, hi - lo, MADV_DONTNEED);
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
  unsigned char vec[4096];
  for (uintptr_t at = lo; at < hi;) {
    size_t n = (hi - at) / ps;
    if (n > sizeof vec) n = sizeof vec;
    if (mincore((void *)at, n * ps, vec) != 0) return 0;
    for (size_t i = 0; i < n; i++) total += (vec[i] & 1) ? ps : 0;
    at += n * ps;
  }
  return total;
}
