/*
 * override.c - the standard names (librmem-malloc.so only): malloc, free, ...
 * and glibc's __libc_* names, over the rmem_malloc_* functions, each with the
 * allocation trace's hook (trace.c): malloc and free test the trace only past
 * their fast paths (rm_tl.fast, below), the others with one predictable
 * branch when RMEM_MALLOC_TRACE is not set. The hooks sit here, at the
 * program's own calls, so a calloc or realloc is one event however entry.c
 * serves it.
 *
 * The shared library is built with link-time optimisation, which turns each
 * of these into the function it wraps.
 */
#include "dropin.h"

#define RM_EXPORT __attribute__((visibility("default")))

static inline unsigned log2_of(size_t a) { return a ? 63u - (unsigned)__builtin_clzll((unsigned long long)a) : 0; }

/*
 * malloc and free: the fast paths of rmem_malloc / rmem_malloc_free on rm_tl.fast, a slot bound to the
 * thread's heap (rmem_local_bind) only once the trace is known to be off (heaps.c rm_use), so they need no
 * test of the trace, and rmem stores NULL there before the heap stops being the thread's, so they need no
 * test of the thread either (rmem_local_owned_try_*). A process that traces, or has not decided yet (its
 * first call), finds it NULL and takes the miss, which tests it. Off, the miss is rmem_malloc's own slow
 * path, and it binds rm_tl.fast again for the calls after (a stale heap, after the thread's end, binds
 * nothing: those calls keep taking the miss).
 */
static RM_NOINLINE void *traced_malloc_on(size_t n) {
  void *p = rmem_malloc(n);
  RM_TRACE(RM_EV_MALLOC, p, n, 0);
  return p;
}

static RM_NOINLINE void *malloc_miss(size_t n) {
  if (RMEM_UNLIKELY(rm_trace_state != 0)) return traced_malloc_on(n);
  /* rm_tl.fast set (rm_tl.l): rmem_malloc's fast path failed already */
  void *p = rm_tl.fast != NULL ? rm_malloc_miss(n) : rmem_malloc(n);
  if (!rm_tl.fast) rmem_local_bind(rm_tl.l, &rm_tl.fast);
  return p;
}

static inline void *entry_malloc(size_t n) {
  void *p = rmem_local_owned_try_alloc(rm_tl.fast, n); /* sizes below RM_MIN get RM_MIN (RMEM_OPT_ALIGN16) */
  return RMEM_LIKELY(p != NULL) ? p : malloc_miss(n);
}

static RM_NOINLINE void free_miss(void *p) {
  if (RMEM_UNLIKELY(rm_trace_state != 0)) {
    if (p) RM_TRACE(RM_EV_FREE, p, 0, 0); /* before: the block may be handed out again at once */
    rmem_malloc_free(p);
    return;
  }
  /* as in malloc_miss: with rm_tl.fast set, rmem_malloc_free's fast path failed already */
  if (rm_tl.fast) rm_free_miss(p);
  else rmem_malloc_free(p);
  if (!rm_tl.fast) rmem_local_bind(rm_tl.l, &rm_tl.fast);
}

static inline void entry_free(void *p) {
  if (RMEM_LIKELY(rmem_local_owned_try_free(rm_tl.fast, p))) return;
  free_miss(p);
}

static inline void *traced_calloc(size_t n, size_t s) {
  void *p = rmem_malloc_calloc(n, s);
  RM_TRACE(RM_EV_CALLOC, p, n * s, 0);
  return p;
}

static inline void *traced_realloc(void *p, size_t n) {
  if (p) RM_TRACE(RM_EV_REALLOC_FREE, p, 0, 0);
  void *q = rmem_malloc_realloc(p, n);
  RM_TRACE(p ? RM_EV_REALLOC : RM_EV_MALLOC, q, n, p && !q && n ? 1 : 0); /* aux 1: failed, p stays */
  return q;
}

static inline void *traced_reallocarray(void *p, size_t n, size_t s) {
  if (p) RM_TRACE(RM_EV_REALLOC_FREE, p, 0, 0);
  void *q = rmem_malloc_reallocarray(p, n, s);
  RM_TRACE(p ? RM_EV_REALLOC : RM_EV_MALLOC, q, n * s, p && !q && n && s ? 1 : 0);
  return q;
}

static inline void *traced_memalign(void *p, size_t a, size_t n) {
  RM_TRACE(RM_EV_MEMALIGN, p, n, log2_of(a));
  return p;
}

RM_EXPORT void *malloc(size_t n) { return entry_malloc(n); }
RM_EXPORT void free(void *p) { entry_free(p); }
RM_EXPORT void cfree(void *p) { entry_free(p); }
RM_EXPORT void *calloc(size_t n, size_t s) { return traced_calloc(n, s); }
RM_EXPORT void *realloc(void *p, size_t n) { return traced_realloc(p, n); }
RM_EXPORT void *reallocarray(void *p, size_t n, size_t s) { return traced_reallocarray(p, n, s); }
RM_EXPORT int posix_memalign(void **out, size_t a, size_t n) {
  int rc = rmem_malloc_posix_memalign(out, a, n);
  if (rc == 0) traced_memalign(*out, a, n);
  return rc;
}
RM_EXPORT void *aligned_alloc(size_t a, size_t n) { return traced_memalign(rmem_malloc_aligned_alloc(a, n), a, n); }
RM_EXPORT void *memalign(size_t a, size_t n) { return traced_memalign(rmem_malloc_memalign(a, n), a, n); }
RM_EXPORT void *valloc(size_t n) { return traced_memalign(rmem_malloc_valloc(n), 4096, n); }
RM_EXPORT void *pvalloc(size_t n) { return traced_memalign(rmem_malloc_pvalloc(n), 4096, n); }
RM_EXPORT size_t malloc_usable_size(void *p) { return rmem_malloc_usable_size(p); }
RM_EXPORT void *__libc_malloc(size_t n) { return entry_malloc(n); }
RM_EXPORT void __libc_free(void *p) { entry_free(p); }
RM_EXPORT void *__libc_calloc(size_t n, size_t s) { return traced_calloc(n, s); }
RM_EXPORT void *__libc_realloc(void *p, size_t n) { return traced_realloc(p, n); }
RM_EXPORT void *__libc_memalign(size_t a, size_t n) { return traced_memalign(rmem_malloc_memalign(a, n), a, n); }
RM_EXPORT void *__libc_valloc(size_t n) { return traced_memalign(rmem_malloc_valloc(n), 4096, n); }
RM_EXPORT void *__libc_pvalloc(size_t n) { return traced_memalign(rmem_malloc_pvalloc(n), 4096, n); }
