/*
 * huge.c - blocks mapped directly through the OS layer (rmem_os_map): malloc
 * of RM_HUGE (32 MiB) bytes and more, calloc and realloc growth of RM_BIG
 * (1 MiB) and more. Recorded in an out-of-band hash table, grown and shrunk
 * with rmem_os_remap where the OS has it (mremap), else by a copy.
 *
 * A freed one is kept in a small cache for the next huge allocation or
 * growth, else unmapped (see huge_cache_put_locked). Under huge_lock.
 */
#include "dropin.h"

#include <stddef.h>
#include <time.h>

typedef struct rm_huge {
  uintptr_t addr;     /* 0 = empty, 1 = deleted */
  size_t size;        /* bytes mapped from addr (page multiple) */
  size_t req;         /* bytes the program asked for, rounded up to pages (<= size): what a move copies */
  uint64_t cached_at; /* in the huge cache: when it went in (CLOCK_MONOTONIC ns) */
} rm_huge_t;

static pthread_mutex_t huge_lock = PTHREAD_MUTEX_INITIALIZER;
static rm_huge_t *huge_tab;
static size_t huge_cap, huge_used, huge_live, huge_bytes; /* used counts live + deleted */

/*
 * The huge cache: mappings of freed huge blocks kept, still resident, for the
 * next huge allocation or growth, so a program that frees and regrows big
 * buffers (the realloc workload) does not fault every page in again. It holds
 * at most RM_HUGE_CACHE_N mappings and min(huge_cache_limit, huge_cache_room())
 * bytes (the limit is 64 MiB, set by RMEM_MALLOC_HUGE_CACHE in MiB, 0 = off);
 * the oldest mapping is unmapped when a free would exceed either. A mapping
 * left unused for huge_decay_ns (1 s; RMEM_MALLOC_HUGE_DECAY_MS) goes back to
 * the OS at the next huge allocation or free, so memory a burst left cached
 * returns once the program has moved on. Under huge_lock.
 */
#define RM_HUGE_CACHE_N 16
static rm_huge_t huge_cache[RM_HUGE_CACHE_N]; /* oldest first */
static size_t huge_cache_n, huge_cache_bytes;
static size_t huge_peak; /* the most bytes of huge blocks ever live at once */
size_t huge_cache_limit = (size_t)64 << 20;
uint64_t huge_decay_ns = 1000000000ull;
static _Atomic size_t st_huge_reused;

/*
 * The cache's share of the most huge memory ever live at once (huge_peak): half while that peak is
 * under 16 MiB, so a program with one big mapped buffer does not keep a second one resident; above,
 * what the live huge blocks leave of the peak, so one that cycles many big mappings (calloc'ed or
 * realloc-grown buffers, malloc of 32 MiB and more) reuses their pages instead of faulting fresh
 * ones in, and its live and cached huge memory together never pass its peak. (Below 32 MiB, malloc's
 * big blocks are page runs of the instance, whose page source keeps freed pages itself: pages.c.)
 */
static uint64_t huge_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static size_t huge_cache_room(void) { return huge_peak >= ((size_t)16 << 20) ? huge_peak - huge_bytes : huge_peak / 2; }


static size_t huge_hash(uintptr_t a, size_t cap) { return (size_t)(((a >> 12) * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1); }

/* Under huge_lock. Finds the entry of addr, or NULL. */
static rm_huge_t *huge_find(uintptr_t addr) {
  if (!huge_tab) return NULL;
  for (size_t k = huge_hash(addr, huge_cap), n = 0; n < huge_cap; k = (k + 1) & (huge_cap - 1), n++) {
    if (huge_tab[k].addr == addr) return &huge_tab[k];
    if (huge_tab[k].addr == 0) return NULL;
  }
  return NULL;
}

/* Under huge_lock. Makes room for one more entry (load <= 1/2); false if the OS refuses. */
static bool huge_reserve(void) {
  if (huge_tab && (huge_used + 1) * 2 <= huge_cap) return true;
  size_t ncap = huge_cap ? huge_cap : 1024;
  while ((huge_live + 1) * 2 > ncap / 2) ncap *= 2; /* after rehash: load <= 1/4 */
  rm_huge_t *t = rmem_os_reserve(ncap * sizeof *t);
  if (!t) return false;
  for (size_t k = 0; huge_tab && k < huge_cap; k++) {
    uintptr_t a = huge_tab[k].addr;
    if (a <= 1) continue;
    size_t j = huge_hash(a, ncap);
    while (t[j].addr) j = (j + 1) & (ncap - 1);
    t[j] = huge_tab[k];
  }
  if (huge_tab) rmem_os_release(huge_tab, huge_cap * sizeof *huge_tab);
  huge_tab = t;
  huge_cap = ncap;
  huge_used = huge_live;
  return true;
}

static void huge_gone_forget(uintptr_t a);
static void huge_gone_add(uintptr_t a);

/* Under huge_lock: takes the oldest cached mapping off the cache (huge_cache_n > 0). */
static rm_huge_t huge_cache_pop_oldest(void) {
  rm_huge_t old = huge_cache[0];
  huge_cache_n--;
  huge_cache_bytes -= old.size;
  memmove(&huge_cache[0], &huge_cache[1], huge_cache_n * sizeof huge_cache[0]);
  return old;
}

/* Mappings taken off the cache, under huge_lock: named gone (a later free of one is a double free),
   then unmapped once the lock is let go. */
static void huge_unlock_release(const rm_huge_t *out, size_t n) {
  for (size_t j = 0; j < n; j++) huge_gone_add(out[j].addr);
  pthread_mutex_unlock(&huge_lock);
  for (size_t j = 0; j < n; j++) rmem_os_release((void *)out[j].addr, out[j].size);
}

static void huge_insert_locked(uintptr_t addr, size_t size, size_t req) {
  huge_gone_forget(addr);
  size_t k = huge_hash(addr, huge_cap);
  while (huge_tab[k].addr > 1) k = (k + 1) & (huge_cap - 1);
  if (huge_tab[k].addr == 0) huge_used++;
  huge_tab[k].addr = addr;
  huge_tab[k].size = size;
  huge_tab[k].req = req;
  huge_live++;
  huge_bytes += size;
  if (huge_bytes > huge_peak) huge_peak = huge_bytes;
  /* more live huge memory leaves the cache less of the peak: the oldest mappings go (rare: a block
     that no cached mapping could serve), under the lock */
  while (huge_cache_n && huge_cache_bytes > huge_cache_room()) {
    rm_huge_t old = huge_cache_pop_oldest();
    huge_gone_add(old.addr);
    rmem_os_release((void *)old.addr, old.size);
  }
}

static void huge_erase_locked(rm_huge_t *e) {
  huge_live--;
  huge_bytes -= e->size;
  e->addr = 1;
  e->size = 0;
}

/* Under huge_lock: the smallest cached mapping of at least len bytes and less than 2 * len (index), or -1. */
static long huge_cache_find(size_t len) {
  long best = -1;
  for (size_t k = 0; k < huge_cache_n; k++) {
    size_t n = huge_cache[k].size;
    if (n >= len && n / 2 < len && (best < 0 || n < huge_cache[best].size)) best = (long)k;
  }
  return best;
}

/*
 * Under huge_lock: when no cached mapping fits len within 2 x, the one that costs the fewest fresh
 * pages: the smallest bigger one (huge_alloc splits it: its tail stays cached), else the biggest
 * smaller one of at least len / 4 (remapped: only its new tail faults in). -1: none.
 */
static long huge_cache_find_resize(size_t len) {
  long bigger = -1, smaller = -1;
  for (size_t k = 0; k < huge_cache_n; k++) {
    size_t n = huge_cache[k].size;
    if (n >= len && (bigger < 0 || n < huge_cache[bigger].size)) bigger = (long)k;
    if (n < len && n >= len / 4 && (smaller < 0 || n > huge_cache[smaller].size)) smaller = (long)k;
  }
  return bigger >= 0 ? bigger : smaller;
}

/* Under huge_lock: takes cached mapping k off the cache. */
static rm_huge_t huge_cache_take(long k) {
  rm_huge_t e = huge_cache[k];
  memmove(&huge_cache[k], &huge_cache[k + 1], (huge_cache_n - (size_t)k - 1) * sizeof e);
  huge_cache_n--;
  huge_cache_bytes -= e.size;
  atomic_fetch_add_explicit(&st_huge_reused, 1, memory_order_relaxed);
  return e;
}


/* Records mapping [p, p + len) as a live huge block: p, or NULL (the mapping released) if the table cannot grow. */
static void *huge_register(void *p, size_t len) {
  pthread_mutex_lock(&huge_lock);
  bool ok = huge_reserve();
  if (ok) huge_insert_locked((uintptr_t)p, len, len);
  pthread_mutex_unlock(&huge_lock);
  if (!ok) {
    rmem_os_release(p, len);
    return NULL;
  }
  atomic_fetch_add_explicit(&st_huge_allocs, 1, memory_order_relaxed);
  return p;
}

static size_t huge_cache_put_locked(rm_huge_t blk, rm_huge_t *out);
static size_t huge_cache_decay_locked(rm_huge_t *out);

/* Maps a huge block of at least size bytes aligned to align (0 = page); zeroed if zero. */
void *huge_alloc(size_t size, size_t align, bool zero) {
  rm_init(); /* RMEM_MALLOC_HUGE_CACHE */
  size_t ps = rmem_os_page_size();
  if (size > PTRDIFF_MAX - ps) return NULL;
  size_t len = (size + ps - 1) & ~(ps - 1);
  { /* what the cache has kept unused for too long goes first */
    rm_huge_t old[RM_HUGE_CACHE_N];
    pthread_mutex_lock(&huge_lock);
    huge_unlock_release(old, huge_cache_decay_locked(old));
  }
  if (align <= ps) {
    pthread_mutex_lock(&huge_lock);
    long k = huge_cache_find(len);
    if (k >= 0 && huge_reserve()) {
      rm_huge_t e = huge_cache_take(k);
      huge_insert_locked(e.addr, e.size, len);
      pthread_mutex_unlock(&huge_lock);
      atomic_fetch_add_explicit(&st_huge_allocs, 1, memory_order_relaxed);
      if (zero) memset((void *)e.addr, 0, len); /* the rest of the mapping is never read as zero */
      return (void *)e.addr;
    }
    /* no fit: a cached mapping remapped to len (mremap keeps its resident pages) beats a fresh one,
       whose every page faults in */
    k = huge_cache_find_resize(len);
    if (k >= 0 && huge_cache[k].size > len && huge_reserve()) {
      /* a bigger one: its front is the block and its tail stays cached, resident (a mapping's pages
         can be unmapped or remapped in parts) -- remapping it down would give the tail's pages back */
      rm_huge_t e = huge_cache_take(k), tail = {e.addr + len, e.size - len, 0, 0};
      rm_huge_t out[RM_HUGE_CACHE_N + 1];
      huge_insert_locked(e.addr, len, len);
      size_t nout = 0;
      if (tail.size >= RM_BIG / 4) nout = huge_cache_put_locked(tail, out);
      else out[nout++] = tail; /* too small to serve a huge block: back to the OS */
      huge_unlock_release(out, nout);
      atomic_fetch_add_explicit(&st_huge_allocs, 1, memory_order_relaxed);
      if (zero) memset((void *)e.addr, 0, len);
      return (void *)e.addr;
    }
    if (k >= 0) {
      rm_huge_t e = huge_cache_take(k);
      pthread_mutex_unlock(&huge_lock);
      void *q = rmem_os_remap((void *)e.addr, e.size, len);
      if (!q) {
        rmem_os_release((void *)e.addr, e.size); /* a freed block's mapping: nobody's */
      } else {
        if ((uintptr_t)q != e.addr) { /* moved: a free of the old address is a double free */
          pthread_mutex_lock(&huge_lock);
          huge_gone_add(e.addr);
          pthread_mutex_unlock(&huge_lock);
        }
        q = huge_register(q, len);
        if (q && zero) memset(q, 0, len);
        return q;
      }
    } else {
      pthread_mutex_unlock(&huge_lock);
    }
  }
  if (align > ps && len > PTRDIFF_MAX - align) return NULL;
  char *p = rmem_os_map(len, align);
  return p ? huge_register(p, len) : NULL;
}

/* Size of the huge block at p, or 0 if p is not one. */
size_t huge_size(const void *p) {
  if (((uintptr_t)p & (rmem_os_page_size() - 1)) != 0) return 0;
  pthread_mutex_lock(&huge_lock);
  rm_huge_t *e = huge_find((uintptr_t)p);
  size_t n = e ? e->size : 0;
  pthread_mutex_unlock(&huge_lock);
  return n;
}

/* Under huge_lock: keeps mapping blk in the huge cache; mappings to unmap go to out (returns how many). */
static size_t huge_cache_put_locked(rm_huge_t blk, rm_huge_t *out) {
  size_t nout = 0;
  size_t room = huge_cache_room(), limit = room < huge_cache_limit ? room : huge_cache_limit;
  if (blk.size <= limit) {
    while (huge_cache_n == RM_HUGE_CACHE_N || huge_cache_bytes + blk.size > limit)
      out[nout++] = huge_cache_pop_oldest();
    blk.cached_at = huge_now();
    huge_cache[huge_cache_n++] = blk;
    huge_cache_bytes += blk.size;
  } else {
    out[nout++] = blk;
  }
  return nout;
}

/* Under huge_lock: the cached mappings left unused for huge_decay_ns (the oldest are first) go to out;
   returns how many. */
static size_t huge_cache_decay_locked(rm_huge_t *out) {
  if (!huge_decay_ns || !huge_cache_n) return 0;
  uint64_t now = huge_now();
  size_t n = 0;
  while (huge_cache_n && now - huge_cache[0].cached_at >= huge_decay_ns) out[n++] = huge_cache_pop_oldest();
  return n;
}

/* Frees the huge block at p into the huge cache, or unmaps it; false if p is not one. */
/*
 * Addresses of huge blocks freed and unmapped lately (a ring), so a second
 * free of one is named a double free rather than "not allocated". A mapping
 * made again at such an address takes it off the ring. Under huge_lock.
 */
#define RM_HUGE_GONE_N 64
static uintptr_t huge_gone[RM_HUGE_GONE_N];
static size_t huge_gone_next;

static void huge_gone_add(uintptr_t a) {
  huge_gone[huge_gone_next] = a;
  huge_gone_next = (huge_gone_next + 1) % RM_HUGE_GONE_N;
}

static void huge_gone_forget(uintptr_t a) {
  for (size_t k = 0; k < RM_HUGE_GONE_N; k++)
    if (huge_gone[k] == a) huge_gone[k] = 0;
}

rmem_status_t huge_why(const void *ptr, const char **detail) {
  uintptr_t p = (uintptr_t)ptr;
  rmem_status_t st = RMEM_EBADPTR;
  *detail = "not allocated by rmem-malloc";
  pthread_mutex_lock(&huge_lock);
  for (size_t k = 0; k < huge_cache_n; k++)
    if (huge_cache[k].addr == p) {
      st = RMEM_EDOUBLEFREE;
      *detail = "a huge block freed already (its mapping waits in the huge cache)";
    }
  for (size_t k = 0; st == RMEM_EBADPTR && p && k < RM_HUGE_GONE_N; k++)
    if (huge_gone[k] == p) {
      st = RMEM_EDOUBLEFREE;
      *detail = "a huge block freed already (unmapped)";
    }
  for (size_t k = 0; st == RMEM_EBADPTR && huge_tab && k < huge_cap; k++) {
    uintptr_t a = huge_tab[k].addr;
    if (a > 1 && p > a && p - a < huge_tab[k].size) *detail = "points into a huge block, not at its start";
  }
  for (size_t k = 0; st == RMEM_EBADPTR && k < huge_cache_n; k++) {
    uintptr_t a = huge_cache[k].addr;
    if (p > a && p - a < huge_cache[k].size) *detail = "points into a freed huge block";
  }
  pthread_mutex_unlock(&huge_lock);
  return st;
}

bool huge_free(void *p) {
  if (((uintptr_t)p & (rmem_os_page_size() - 1)) != 0) return false;
  rm_huge_t out[2 * RM_HUGE_CACHE_N + 1];
  size_t nout = 0;
  pthread_mutex_lock(&huge_lock);
  rm_huge_t *e = huge_find((uintptr_t)p);
  if (e) {
    rm_huge_t blk = *e;
    huge_erase_locked(e);
    nout = huge_cache_decay_locked(out);
    nout += huge_cache_put_locked(blk, out + nout);
  }
  huge_unlock_release(out, nout);
  return e != NULL;
}

/*
 * A huge block that realloc grows is being filled in order (a buffer, a
 * vector): transparent huge pages let one page fault map 2 MiB instead of
 * 4 KiB. Only such blocks are advised (where the system leaves THP to
 * madvise), so a big block that is touched sparsely never pays 2 MiB per touch.
 * On the realloc workload this took page faults from 87,700 to 71,400.
 */
static void huge_grown(void *p, size_t len) {
  if (len >= ((size_t)2 << 20)) rmem_os_advise_huge(p, len);
}

/*
 * Resizes a huge block of old mapped bytes. It stays where it is if the new
 * size fits its mapping and uses at least half of it. Growth takes a cached
 * mapping that is big enough if there is one: the bytes asked for so far are
 * copied (resident memory, cheaper than faulting the new tail in) and the old
 * mapping goes to the cache in turn. Otherwise mremap grows or shrinks the
 * mapping (pages move, no copy). NULL if the OS refuses (p stays valid).
 *
 * (mremap of p's pages onto the front of the cached mapping would save the
 * copy, but leaves a block made of two VMAs, which a later mremap refuses.)
 */
void *huge_realloc(void *p, size_t old, size_t size) {
  size_t ps = rmem_os_page_size();
  if (size > PTRDIFF_MAX - ps) return NULL;
  size_t len = (size + ps - 1) & ~(ps - 1);
  pthread_mutex_lock(&huge_lock);
  rm_huge_t *e = huge_find((uintptr_t)p);
  if (len <= old && len >= old / 2) {
    e->req = len;
    pthread_mutex_unlock(&huge_lock);
    return p;
  }
  if (len > old) {
    long k = huge_cache_find(len);
    if (k >= 0 && huge_reserve()) {
      rm_huge_t c = huge_cache_take(k);
      e = huge_find((uintptr_t)p); /* huge_reserve may have rehashed */
      rm_huge_t blk = *e;
      huge_erase_locked(e);
      huge_insert_locked(c.addr, c.size, len);
      pthread_mutex_unlock(&huge_lock);
      huge_grown((void *)c.addr, c.size);
      memcpy((void *)c.addr, p, blk.req);
      rm_huge_t out[RM_HUGE_CACHE_N + 1];
      pthread_mutex_lock(&huge_lock);
      huge_unlock_release(out, huge_cache_put_locked(blk, out));
      return (void *)c.addr;
    }
  }
  void *q = rmem_os_remap(p, old, len);
  if (!q) { /* no mremap (or it refused): a new mapping and a copy of the bytes asked for */
    rm_huge_t blk = *e;
    pthread_mutex_unlock(&huge_lock);
    void *n = huge_alloc(size, 0, false);
    if (!n) return NULL;
    memcpy(n, p, blk.req < len ? blk.req : len);
    huge_free(p);
    return n;
  }
  if (len > old) huge_grown(q, len);
  e = huge_find((uintptr_t)p);
  huge_erase_locked(e);
  huge_insert_locked((uintptr_t)q, len, len); /* the slot just freed keeps the load unchanged */
  pthread_mutex_unlock(&huge_lock);
  return q;
}


/* ------------------------------------------------------------------------
 * Fork, stats, validate
 * ------------------------------------------------------------------------ */

void huge_lock_all(void) { pthread_mutex_lock(&huge_lock); }
void huge_unlock_all(void) { pthread_mutex_unlock(&huge_lock); }
void huge_reinit_child(void) { pthread_mutex_init(&huge_lock, NULL); }

void huge_stats(rmem_malloc_stats_t *out) {
  out->huge_allocs = atomic_load(&st_huge_allocs);
  pthread_mutex_lock(&huge_lock);
  out->huge_live = huge_live;
  out->huge_bytes = huge_bytes;
  out->huge_cached = huge_cache_bytes;
  out->huge_reused = atomic_load(&st_huge_reused);
  pthread_mutex_unlock(&huge_lock);
}

size_t huge_validate(void) {
  size_t problems = 0;
  /* R4: huge table */
  pthread_mutex_lock(&huge_lock);
  size_t live = 0, bytes = 0;
  for (size_t k = 0; huge_tab && k < huge_cap; k++) {
    if (huge_tab[k].addr <= 1) continue;
    live++;
    bytes += huge_tab[k].size;
    if (huge_find(huge_tab[k].addr) != &huge_tab[k]) rm_problem(&problems, "rmem-malloc: huge entry unreachable (R4)");
  }
  if (live != huge_live || bytes != huge_bytes)
    rm_problem(&problems, "rmem-malloc: huge table holds %zu blocks / %zu bytes, counters say %zu / %zu (R4)", live,
               bytes, huge_live, huge_bytes);
  /* R5: the huge cache */
  size_t cached = 0;
  for (size_t k = 0; k < huge_cache_n && k < RM_HUGE_CACHE_N; k++) {
    cached += huge_cache[k].size;
    if (huge_find(huge_cache[k].addr) != NULL)
      rm_problem(&problems, "rmem-malloc: cached mapping %#lx is also a live block (R5)", (unsigned long)huge_cache[k].addr);
    if (k && huge_cache[k].cached_at < huge_cache[k - 1].cached_at)
      rm_problem(&problems, "rmem-malloc: cached mapping %zu went in before the one ahead of it (R5)", k);
  }
  if (huge_cache_n > RM_HUGE_CACHE_N || cached != huge_cache_bytes || huge_cache_bytes > huge_cache_limit ||
      huge_cache_bytes > huge_cache_room())
    rm_problem(&problems, "rmem-malloc: huge cache holds %zu mappings / %zu bytes, counters say %zu bytes, limit %zu (R5)",
               huge_cache_n, cached, huge_cache_bytes, huge_cache_limit);
  pthread_mutex_unlock(&huge_lock);
  return problems;
}
