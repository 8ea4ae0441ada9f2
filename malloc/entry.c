/*
 * entry.c - the entry points: malloc, free, calloc, realloc, the memalign
 * family and malloc_usable_size, under their rmem_malloc_* names.
 *
 * The fast paths are rmem's own: malloc is rmem_local_try_alloc on the
 * thread's heap (its front pops a block of the class and sets its live bit),
 * free is rmem_local_try_free (the live bit, the remote bit and the page tag,
 * read side by side, decide that it is a live block of the thread's own heap,
 * which goes on its stack). Whatever those do not serve takes a slow path out
 * of line, so the fast ones keep no register and make no call: an empty or
 * full stack, a bigger request (rmem_local_alloc), another thread's block
 * (rmem_local_free marks it for its owner with one atomic OR), a thread
 * without a heap, a full instance, blocks of another instance, huge blocks,
 * and every bad pointer (rmem_local_free decides and reports it).
 *
 * Every block is at least RM_MIN (16) bytes, so every block is 16-byte
 * aligned as glibc's are: the instances are made with RMEM_OPT_ALIGN16, whose
 * size table sends sizes 1..8 to the 16-byte class (the 8-byte class is never
 * used here), and the slow paths round up to RM_MIN themselves.
 *
 * Bad frees: every pointer handed to free/realloc is checked exactly, at that
 * call, from any thread (rmem's live and remote bitmaps and pagemap, or the
 * huge table). An invalid or double free is reported on stderr with its
 * address and the process aborts, as glibc does: the program's own state is
 * already wrong. RMEM_MALLOC_CONTINUE=1 reports and carries on.
 */
#include "dropin.h"

#include <stddef.h>

/*
 * Every allocation that is not a plain small request from the thread's heap.
 * size >= 1; align is 0 or a power of two >= 16.
 */
static RM_NOINLINE void *rm_alloc_slow(size_t size, size_t align) {
  if (RMEM_UNLIKELY(size > PTRDIFF_MAX)) {
    errno = ENOMEM;
    return NULL;
  }
  void *p = size >= RM_HUGE || align > (RM_INSTANCE >> 2) ? huge_alloc(size, align, false) : rm_heap_alloc(size, align);
  if (!p) errno = ENOMEM;
  return p;
}

/* malloc past its fast path: the thread's heap once more (its refills, its bigger sizes), else the rest. */
RM_NOINLINE void *rm_malloc_miss(size_t size) {
  rmem_local_t *l = rm_tl.l;
  if (l != NULL && size < RM_HUGE) {
    void *p = rmem_local_alloc(l, size < RM_MIN ? RM_MIN : size);
    if (RMEM_LIKELY(p != NULL)) return p;
    rmem_clear_error();
  }
  return rm_alloc_slow(size ? size : 1, 0);
}

/* The fast path: a small request from the front of the thread's heap. */
void *rmem_malloc(size_t size) {
  void *p = rmem_local_try_alloc(rm_tl.l, size); /* RMEM_OPT_ALIGN16: sizes below RM_MIN get RM_MIN */
  if (RMEM_LIKELY(p != NULL)) return p;
  return rm_malloc_miss(size);
}

static RM_NOINLINE void rm_free_slow(void *p, const char *fn) {
  rm_inst_t *i = rm_lookup((uintptr_t)p);
  if (i) {
    rmem_status_t st = rmem_free(i->r, p); /* any thread's block, exactly as the fast path */
    if (RMEM_UNLIKELY(st != RMEM_OK)) rm_bad(fn, p, st, NULL);
    return;
  }
  if (huge_free(p)) return;
  const char *detail;
  rmem_status_t st = huge_why(p, &detail);
  rm_bad(fn, p, st, detail);
}

/* free past its fast path: a block of the current instance goes to rmem_local_free, which checks it exactly. */
RM_NOINLINE void rm_free_miss(void *p) {
  if ((uintptr_t)p - rm_tl.base < RM_INSTANCE) {
    rmem_status_t st = rmem_local_free(rm_tl.l, p);
    if (RMEM_UNLIKELY(st != RMEM_OK)) rm_bad("free", p, st, NULL);
    return;
  }
  if (p) rm_free_slow(p, "free");
}

/* The fast path: a live block of the thread's own heap, with room on its stack. */
void rmem_malloc_free(void *p) {
  if (RMEM_LIKELY(rmem_local_try_free(rm_tl.l, p))) return;
  rm_free_miss(p);
}

void *rmem_malloc_calloc(size_t n, size_t size) {
  size_t total;
  if (RMEM_UNLIKELY(__builtin_mul_overflow(n, size, &total))) {
    errno = ENOMEM;
    return NULL;
  }
  if (total == 0) total = 1;
  if (total >= RM_BIG) {
    void *p = huge_alloc(total, 0, true); /* fresh pages are zero: memset only if it comes from the huge cache */
    if (!p) errno = ENOMEM;
    return p;
  }
  void *p = rmem_malloc(total);
  if (p) memset(p, 0, total);
  return p;
}

/* Usable size of the live block p, 0 if it is none. */
static size_t rm_usable(const void *p) {
  rm_inst_t *i = rm_lookup((uintptr_t)p);
  if (!i) return huge_size(p);
  size_t n = rmem_usable_size(i->r, p); /* any thread's block: its live bit, tag and class are stable while it lives */
  if (!n) rmem_clear_error();
  return n;
}

void *rmem_malloc_realloc(void *p, size_t size) {
  if (p == NULL) return rmem_malloc(size);
  if (size == 0) { /* glibc: realloc(p, 0) frees p and returns NULL */
    rmem_malloc_free(p);
    return NULL;
  }
  if (RMEM_UNLIKELY(size > PTRDIFF_MAX)) {
    errno = ENOMEM;
    return NULL;
  }
  rm_inst_t *i = rm_lookup((uintptr_t)p);
  size_t old;
  if (i) {
    if (i == rm_tl.cur && size < RM_BIG) {
      /* in place when it fits; page runs grow and shrink (another thread's block too: rmem moves it if it must) */
      void *q = rmem_realloc(i->r, p, size < RM_MIN ? RM_MIN : size);
      if (q) return q;
      rmem_status_t st = rmem_last_error();
      if (st != RMEM_ENOMEM) {
        rm_bad("realloc", p, st, NULL);
        return NULL;
      }
      rmem_clear_error(); /* the instance is full: move below */
    }
    old = rmem_usable_size(i->r, p);
    if (old == 0) {
      rm_bad("realloc", p, rmem_last_error(), NULL);
      return NULL;
    }
    /* another instance's block, or a big one: stay if it fits and uses half of it, else move to the
       thread's own instance, or to a mapping when it is big (which later growth remaps, no copy) */
    if (size <= old && (size * 2 >= old || old <= RM_MIN)) return p;
  } else {
    old = huge_size(p);
    if (old == 0) {
      const char *detail;
      rmem_status_t st = huge_why(p, &detail);
      rm_bad("realloc", p, st == RMEM_EDOUBLEFREE ? RMEM_EBADPTR : st, detail); /* only a free is a double free */
      return NULL;
    }
    if (size >= RM_BIG / 2) { /* stay a mapping: a remap moves pages, not bytes */
      void *q = huge_realloc(p, old, size);
      if (!q) errno = ENOMEM;
      return q;
    }
  }
  void *q = size >= RM_BIG ? huge_alloc(size, 0, false) : rmem_malloc(size);
  if (!q) {
    errno = ENOMEM;
    return NULL;
  }
  memcpy(q, p, old < size ? old : size);
  rmem_malloc_free(p);
  return q;
}

void *rmem_malloc_reallocarray(void *p, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return rmem_malloc_realloc(p, total);
}

/* align: a power of two. */
static void *rm_memalign(size_t align, size_t size) {
  if (size == 0) size = 1;
  if (align <= RM_MIN) return rmem_malloc(size); /* every block is 16-aligned */
  return rm_alloc_slow(size, align);
}

int rmem_malloc_posix_memalign(void **out, size_t alignment, size_t size) {
  if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
  int saved = errno;
  void *p = rm_memalign(alignment, size);
  errno = saved;
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

void *rmem_malloc_aligned_alloc(size_t alignment, size_t size) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) { /* glibc: any power of two */
    errno = EINVAL;
    return NULL;
  }
  return rm_memalign(alignment, size);
}

void *rmem_malloc_memalign(size_t alignment, size_t size) {
  if (alignment > ((size_t)1 << 62)) {
    errno = EINVAL;
    return NULL;
  }
  size_t a = 1;
  while (a < alignment) a <<= 1; /* glibc rounds a non-power of two up */
  return rm_memalign(a, size);
}

void *rmem_malloc_valloc(size_t size) { return rm_memalign(rmem_os_page_size(), size); }

void *rmem_malloc_pvalloc(size_t size) {
  size_t ps = rmem_os_page_size();
  if (size > PTRDIFF_MAX - ps) {
    errno = ENOMEM;
    return NULL;
  }
  size = size ? (size + ps - 1) & ~(ps - 1) : ps;
  return rm_memalign(ps, size);
}

size_t rmem_malloc_usable_size(const void *p) {
  /* Programs like redis call this on every allocation and free: a block of the current instance
     is answered by rmem_local_usable_size's own fast path (its live bit, its remote bit, its class). */
  if (RMEM_LIKELY((uintptr_t)p - rm_tl.base < RM_INSTANCE)) {
    size_t n = rmem_local_usable_size(rm_tl.l, p);
    if (RMEM_LIKELY(n != 0)) return n;
    rmem_clear_error();
    return 0;
  }
  return p ? rm_usable(p) : 0;
}
