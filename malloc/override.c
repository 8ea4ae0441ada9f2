/*
 * override.c - the standard names (librmem-malloc.so only): malloc, free, ...
 * and glibc's __libc_* names, as aliases of the rmem_malloc_* functions.
 *
 * Aliases must sit beside their targets, so each is a one-line forwarder;
 * the shared library is built with link-time optimisation, which turns each
 * into the function it forwards to.
 */
#include "dropin.h"

#define RM_EXPORT __attribute__((visibility("default")))

RM_EXPORT void *malloc(size_t n) { return rmem_malloc(n); }
RM_EXPORT void free(void *p) { rmem_malloc_free(p); }
RM_EXPORT void cfree(void *p) { rmem_malloc_free(p); }
RM_EXPORT void *calloc(size_t n, size_t s) { return rmem_malloc_calloc(n, s); }
RM_EXPORT void *realloc(void *p, size_t n) { return rmem_malloc_realloc(p, n); }
RM_EXPORT void *reallocarray(void *p, size_t n, size_t s) { return rmem_malloc_reallocarray(p, n, s); }
RM_EXPORT int posix_memalign(void **out, size_t a, size_t n) { return rmem_malloc_posix_memalign(out, a, n); }
RM_EXPORT void *aligned_alloc(size_t a, size_t n) { return rmem_malloc_aligned_alloc(a, n); }
RM_EXPORT void *memalign(size_t a, size_t n) { return rmem_malloc_memalign(a, n); }
RM_EXPORT void *valloc(size_t n) { return rmem_malloc_valloc(n); }
RM_EXPORT void *pvalloc(size_t n) { return rmem_malloc_pvalloc(n); }
RM_EXPORT size_t malloc_usable_size(void *p) { return rmem_malloc_usable_size(p); }
RM_EXPORT void *__libc_malloc(size_t n) { return rmem_malloc(n); }
RM_EXPORT void __libc_free(void *p) { rmem_malloc_free(p); }
RM_EXPORT void *__libc_calloc(size_t n, size_t s) { return rmem_malloc_calloc(n, s); }
RM_EXPORT void *__libc_realloc(void *p, size_t n) { return rmem_malloc_realloc(p, n); }
RM_EXPORT void *__libc_memalign(size_t a, size_t n) { return rmem_malloc_memalign(a, n); }
RM_EXPORT void *__libc_valloc(size_t n) { return rmem_malloc_valloc(n); }
RM_EXPORT void *__libc_pvalloc(size_t n) { return rmem_malloc_pvalloc(n); }
