/*
 * layout.c - the layout of an instance: every page run with its owner, and the
 * reports (printStats) of every allocator.
 *
 * rmem_layout_walk reads the pagemap from page 0 to the last page, one run at
 * a time (a run's head entry carries its length, P3), so every page is seen
 * exactly once and in address order:
 *
 *   page 0, the last page        RESERVED (P1)
 *   RMEM_PK_FREE                 FREE, with the run's dirty count (pages.c)
 *   [top, limit)                 UNTOUCHED: never handed out (P2)
 *   RMEM_PK_SLAB                 the slab's list says whose: a heap class (of
 *                                the heap its page tag names: 0 for a private
 *                                instance's, a thread heap's id on a shared
 *                                one), a slab cache, an intermediate arena's
 *                                class (owner_kind, owner_id); live = its live
 *                                bits (F2) less those a remote free marked
 *                                (R1), cached = used - live (F3: the rest of
 *                                the engine's used slots are on a front stack,
 *                                or freed by another thread and not yet taken
 *                                back)
 *   RMEM_PK_LARGE                HEAP_LARGE
 *   RMEM_PK_ARENA                the arena (owner = its index) says whether it
 *                                is a bump chunk or a large object (arena.c)
 *   RMEM_PK_MEMS                 main node owner - 1 (M1), its sub-chain from
 *                                mems.c
 *
 * On a shared instance (RMEM_OPT_SHARED) the walk holds the instance's MeMS
 * lock and then its lock (the order of instance.c's fork handler) while it
 * reads, so the pagemap and MeMS are seen whole; the heaps' fronts belong to
 * their threads and are read as they are (a snapshot while threads run).
 *
 * The reports are built on the walk: the heap's lists each class's slabs in
 * address order, an arena's its chunks, a cache's its slabs, MeMS's is the
 * seed's own text (mems.c). Nothing here changes the instance.
 *
 * Floor: the top of the library (with instance.c and seed.c). It reads the
 * structures of types.h and asks arena.c, cache.c and mems.c for what they
 * keep private (internal.h's accessors).
 */
#include "front.h"

#include <stdio.h>

/* ------------------------------------------------------------------------
 * The walk
 * ------------------------------------------------------------------------ */

/* Live blocks of slab s: its live bits, less the blocks another thread has freed (shared instances, R1). */
static uint32_t live_in(const rmem_t *r, const rmem_slab_t *s) {
  uint32_t n = rmem_front_live_in(r, s);
  if (!r->remote) return n;
  uintptr_t lo = s->start - r->base, hi = lo + (uintptr_t)s->npages * RMEM_PAGE_SIZE;
  uint32_t pending = 0;
  for (uintptr_t w = lo >> (RMEM_LIVE_SHIFT + 6); w < hi >> (RMEM_LIVE_SHIFT + 6); w++) {
    uint64_t m = __atomic_load_n(&r->remote[w], __ATOMIC_RELAXED) & r->live[w];
    if (m) pending += rmem_popcount64(m);
  }
  return pending < n ? n - pending : 0;
}

/* Fills run with what the pagemap and the owners say about the run at page p (a head, p < top). */
static void describe(rmem_t *r, uint32_t p, uint32_t len, rmem_run_t *run) {
  const rmem_pme_t *h = &r->pm[p];
  memset(run, 0, sizeof *run);
  run->offset = (size_t)p << RMEM_PAGE_SHIFT;
  run->pages = len;
  run->bytes = (size_t)len << RMEM_PAGE_SHIFT;
  switch (h->kind) {
    case RMEM_PK_FREE:
      run->kind = RMEM_RUN_FREE;
      run->dirty_pages = rmem_pages_run_dirty(r, p);
      break;
    case RMEM_PK_SLAB: {
      const rmem_slab_t *s = rmem_slab_of(r, h);
      const rmem_slab_list_t *l = s->list;
      run->slot_size = s->bsize;
      run->slots = s->nslots;
      run->live = live_in(r, s);
      run->cached = s->used > run->live ? s->used - run->live : 0;
      run->class_index = l ? l->owner_id : 0;
      if (s->owner_kind == RMEM_SO_CACHE) {
        run->kind = RMEM_RUN_CACHE_SLAB;
        if (l) rmem_cache_describe(r, l->owner_id, run);
      } else if (s->owner_kind == RMEM_SO_ARENA) {
        run->kind = RMEM_RUN_ARENA_SLAB;
        arena_t *a = l ? rmem_arena_describe(r, l->owner_id, run) : NULL;
        run->class_index = a ? rmem_arena_class_of(a, l) : 0;
      } else {
        run->kind = RMEM_RUN_HEAP_SLAB;
        run->owner_index = l ? (uint32_t)l->page_tag >> RMEM_TAG_CLASS_BITS : 0; /* the heap: tag = base + class + 1 */
      }
      break;
    }
    case RMEM_PK_LARGE:
      run->kind = RMEM_RUN_HEAP_LARGE;
      run->size = run->bytes;
      break;
    case RMEM_PK_ARENA: {
      arena_t *a = rmem_arena_describe(r, h->owner, run);
      if (a) rmem_arena_describe_run(r, a, p, run);
      else run->kind = RMEM_RUN_ARENA_CHUNK;
      break;
    }
    case RMEM_PK_MEMS: {
      run->kind = RMEM_RUN_MEMS;
      int stopped;
      if (h->owner) rmem_mems_describe(r, h->owner - 1, run, NULL, NULL, &stopped);
      break;
    }
    default: /* RMEM_PK_USER (no user today) and anything unknown: not handed to any allocator */
      run->kind = RMEM_RUN_RESERVED;
      break;
  }
}

static int visit_plain(rmem_run_fn *visit, void *arg, rmem_run_kind_t kind, size_t page, size_t len) {
  rmem_run_t run;
  memset(&run, 0, sizeof run);
  run.kind = kind;
  run.offset = page << RMEM_PAGE_SHIFT;
  run.pages = len;
  run.bytes = len << RMEM_PAGE_SHIFT;
  return visit(&run, arg);
}

static void walk(rmem_t *r, unsigned flags, rmem_run_fn *visit, void *arg);

rmem_status_t rmem_layout_walk(rmem_t *r, unsigned flags, rmem_run_fn *visit, void *arg) {
  if (!rmem_check_instance(r)) return rmem_last_error();
  if (!visit) return rmem_fail(RMEM_EINVAL, "layout_walk: NULL visitor");
  if (flags & ~RMEM_LAYOUT_SEGMENTS) return rmem_fail(RMEM_EINVAL, "layout_walk: unknown flags %#x", flags);
  bool shared = rmem_is_shared(r);
  if (shared) {
    rmem_lock(&r->mems_lock);
    rmem_lock(&r->lock);
  }
  walk(r, flags, visit, arg);
  if (shared) {
    rmem_unlock(&r->lock);
    rmem_unlock(&r->mems_lock);
  }
  return RMEM_OK;
}

static void walk(rmem_t *r, unsigned flags, rmem_run_fn *visit, void *arg) {
  if (visit_plain(visit, arg, RMEM_RUN_RESERVED, 0, 1)) return;
  for (uint32_t p = 1; p < r->top;) {
    uint32_t len = r->pm[p].len ? r->pm[p].len : 1;
    if (len > r->top - p) len = r->top - p; /* a damaged head cannot make the walk leave the range */
    rmem_run_t run;
    describe(r, p, len, &run);
    if (visit(&run, arg)) return;
    if (run.kind == RMEM_RUN_MEMS && (flags & RMEM_LAYOUT_SEGMENTS) && r->pm[p].owner) {
      rmem_run_t tmp;
      memset(&tmp, 0, sizeof tmp);
      int stopped = 0;
      rmem_mems_describe(r, r->pm[p].owner - 1, &tmp, visit, arg, &stopped);
      if (stopped) return;
    }
    p += len;
  }
  if (r->limit > r->top && visit_plain(visit, arg, RMEM_RUN_UNTOUCHED, r->top, r->limit - r->top)) return;
  visit_plain(visit, arg, RMEM_RUN_RESERVED, r->npages - 1, 1);
}

/* ------------------------------------------------------------------------
 * Reports
 * ------------------------------------------------------------------------ */

typedef struct printer {
  rmem_print_fn *out;
  void *arg;
} printer_t;

static void say(const printer_t *pr, const char *fmt, ...) RMEM_PRINTF(2, 3);
static void say(const printer_t *pr, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) pr->out(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1, pr->arg);
}

static char letter(rmem_run_kind_t k) {
  static const char letters[] = "RFUHLAIJSMP";
  return (unsigned)k < sizeof letters - 1 ? letters[k] : '?';
}

static const char *lifetime_name(lifetime_t lt) {
  return lt == LIFETIME_TRANSIENT ? "transient" : lt == LIFETIME_INTERMEDIATE ? "intermediate" : "persistent";
}

/* ---- the instance: its runs and the page source's figures ---- */

typedef struct range_state {
  const printer_t *pr;
  size_t runs[RMEM_RUN_MEMS_SEGMENT + 1];
  size_t free_pages, dirty, untouched, largest, prev_free;
} range_state_t;

static int range_visit(const rmem_run_t *run, void *arg) {
  range_state_t *st = arg;
  say(st->pr, "<%c>[%zu:%zu] <-> ", letter(run->kind), run->offset, run->offset + run->bytes - 1);
  st->runs[run->kind]++;
  if (run->kind == RMEM_RUN_FREE) {
    st->free_pages += run->pages;
    st->dirty += run->dirty_pages;
    st->prev_free = run->pages;
    if (run->pages > st->largest) st->largest = run->pages;
  } else if (run->kind == RMEM_RUN_UNTOUCHED) {
    st->untouched = run->pages;
    size_t joined = run->pages + st->prev_free; /* a free run just below top extends into them */
    if (joined > st->largest) st->largest = joined;
  } else {
    st->prev_free = 0;
  }
  return 0;
}

static void report_range(rmem_t *r, const printer_t *pr) {
  range_state_t st;
  memset(&st, 0, sizeof st);
  st.pr = pr;
  say(pr, "rmem Stats:\n");
  say(pr, "RANGE[0:%zu] -> ", r->capacity - 1);
  rmem_layout_walk(r, 0, range_visit, &st);
  say(pr, "<NULL>\n");
  say(pr, "Capacity: %zu\n", r->capacity);
  say(pr, "Pages in use: %u\n", r->used_pages);
  say(pr, "Pages free: %zu (dirty %zu)\n", st.free_pages, st.dirty);
  say(pr, "Pages untouched: %zu\n", st.untouched);
  say(pr, "Largest free run: %zu\n", st.largest);
  say(pr, "Runs: %zu heap slabs, %zu large blocks, %zu arena chunks, %zu arena slabs, %zu arena large, "
          "%zu cache slabs, %zu MeMS main nodes, %zu free\n",
      st.runs[RMEM_RUN_HEAP_SLAB], st.runs[RMEM_RUN_HEAP_LARGE], st.runs[RMEM_RUN_ARENA_CHUNK],
      st.runs[RMEM_RUN_ARENA_SLAB], st.runs[RMEM_RUN_ARENA_LARGE], st.runs[RMEM_RUN_CACHE_SLAB], st.runs[RMEM_RUN_MEMS],
      st.runs[RMEM_RUN_FREE]);
}

/* ---- the heap: one line per class that has slabs, one for the large blocks ---- */

typedef struct chain_state {
  const printer_t *pr;
  rmem_run_kind_t kind, kind2; /* the runs this chain lists */
  uint32_t owner;              /* owner_index to match (the arena, the cache, the heap), or UINT32_MAX: any */
  uint32_t cls;                /* class_index to match (heap classes), or UINT32_MAX: any */
  size_t count, live, slots, cached, used, pages;
} chain_state_t;

static int chain_visit(const rmem_run_t *run, void *arg) {
  chain_state_t *st = arg;
  if (run->kind != st->kind && run->kind != st->kind2) return 0;
  if (st->owner != UINT32_MAX && run->owner_index != st->owner) return 0;
  if (st->cls != UINT32_MAX && run->class_index != st->cls) return 0;
  size_t end = run->offset + run->bytes - 1;
  switch (run->kind) {
    case RMEM_RUN_HEAP_SLAB:
    case RMEM_RUN_ARENA_SLAB:
    case RMEM_RUN_CACHE_SLAB:
      say(st->pr, "<%c>[OFF:%zu:END:%zu live:%u/%u] <-> ", letter(run->kind), run->offset, end, run->live, run->slots);
      break;
    case RMEM_RUN_ARENA_CHUNK:
      say(st->pr, "<%c>[OFF:%zu:END:%zu used:%zu%s] <-> ", letter(run->kind), run->offset, end, run->used,
          run->current ? " cur" : "");
      break;
    default:
      say(st->pr, "<%c>[OFF:%zu:END:%zu size:%zu] <-> ", letter(run->kind), run->offset, end, run->size);
  }
  st->count++;
  st->live += run->live;
  st->slots += run->slots;
  st->cached += run->cached;
  st->used += run->kind == RMEM_RUN_ARENA_CHUNK ? run->used : run->size;
  st->pages += run->pages;
  return 0;
}

/* Lists the runs of one chain; returns its figures. */
static chain_state_t chain(rmem_t *r, const printer_t *pr, rmem_run_kind_t kind, rmem_run_kind_t kind2, uint32_t owner,
                           uint32_t cls) {
  chain_state_t st;
  memset(&st, 0, sizeof st);
  st.pr = pr;
  st.kind = kind;
  st.kind2 = kind2;
  st.owner = owner;
  st.cls = cls;
  rmem_layout_walk(r, 0, chain_visit, &st);
  say(pr, "<NULL>\n");
  return st;
}

static void report_heap(rmem_t *r, const printer_t *pr) {
  say(pr, "Heap Stats:\n");
  size_t slabs = 0, pages = 0, cached = 0;
  /* a private instance has one heap (id 0); a shared one a heap per thread (ids 1 .. nheaps) */
  bool shared = rmem_is_shared(r);
  uint32_t first = shared ? 1 : 0, last = shared ? atomic_load_explicit(&r->nheaps, memory_order_acquire) : 0;
  for (uint32_t id = first; id <= last; id++) {
    const rmem_heap_t *h = shared ? r->heaps[id] : &r->heap;
    if (!h) continue;
    for (uint32_t c = 0; c < h->nclasses; c++) {
      const rmem_slab_list_t *l = &h->cls[c];
      if (!l->slabs) continue;
      if (shared) say(pr, "HEAP[%u] CLASS[%u] -> ", id, l->bsize);
      else say(pr, "CLASS[%u] -> ", l->bsize);
      chain_state_t st = chain(r, pr, RMEM_RUN_HEAP_SLAB, RMEM_RUN_HEAP_SLAB, id, c);
      slabs += st.count;
      pages += st.pages;
      cached += st.cached;
    }
  }
  say(pr, "LARGE -> ");
  chain_state_t large = chain(r, pr, RMEM_RUN_HEAP_LARGE, RMEM_RUN_HEAP_LARGE, UINT32_MAX, UINT32_MAX);
  rmem_heap_stats_t hs;
  rmem_heap_stats(r, &hs);
  say(pr, "Pages used: %zu\n", pages + large.pages);
  say(pr, "Slabs: %zu\n", slabs);
  say(pr, "Live blocks: %zu\n", hs.live_blocks);
  say(pr, "Large blocks: %zu\n", hs.large_blocks);
  say(pr, "Bytes in use: %zu\n", hs.used);
  say(pr, "Free slots: %zu (on the front: %zu)\n", hs.free_slots, cached);
  say(pr, "Largest free: %zu\n", hs.largest_free);
  say(pr, "Fragmentation: %.3f\n", hs.fragmentation);
}

/* ---- one arena, one slab cache ---- */

static rmem_status_t report_arena(rmem_t *r, arena_t *a, const printer_t *pr) {
  uint32_t index, gen;
  rmem_status_t st = rmem_arena_index(a, &index, &gen);
  if (st != RMEM_OK) return st;
  rmem_arena_stats_t as;
  if ((st = rmem_arena_stats(a, &as)) != RMEM_OK) return st;
  say(pr, "Arena Stats:\n");
  say(pr, "ARENA[%u %s] -> ", index, lifetime_name(as.lifetime));
  chain_state_t c = as.lifetime == LIFETIME_INTERMEDIATE
                        ? chain(r, pr, RMEM_RUN_ARENA_SLAB, RMEM_RUN_ARENA_LARGE, index, UINT32_MAX)
                        : chain(r, pr, RMEM_RUN_ARENA_CHUNK, RMEM_RUN_ARENA_CHUNK, index, UINT32_MAX);
  say(pr, "Pages used: %zu\n", c.pages);
  say(pr, "Chunks: %zu\n", as.chunks);
  say(pr, "Reserved: %zu\n", as.reserved);
  say(pr, "Used: %zu\n", as.used);
  if (as.lifetime == LIFETIME_INTERMEDIATE) say(pr, "Live objects: %zu\n", c.live);
  say(pr, "Allocs: %zu\n", as.allocs);
  say(pr, "Resets: %zu\n", as.resets);
  return RMEM_OK;
}

static rmem_status_t report_cache(rmem_t *r, slab_cache_t *sc, const printer_t *pr) {
  uint32_t index, gen;
  rmem_status_t st = rmem_slab_cache_index(sc, &index, &gen);
  if (st != RMEM_OK) return st;
  rmem_slab_stats_t ss;
  if ((st = rmem_slab_cache_stats(sc, &ss)) != RMEM_OK) return st;
  say(pr, "Slab Cache Stats:\n");
  say(pr, "CACHE[%u %s:%zu] -> ", index, ss.name[0] ? ss.name : "-", ss.obj_size);
  chain_state_t c = chain(r, pr, RMEM_RUN_CACHE_SLAB, RMEM_RUN_CACHE_SLAB, index, UINT32_MAX);
  say(pr, "Pages used: %zu\n", c.pages);
  say(pr, "Slabs: %zu\n", ss.slabs);
  say(pr, "Objects in use: %zu\n", ss.objects_in_use);
  say(pr, "Slots: %zu (free %zu, on the front %zu)\n", ss.slots, ss.slots - ss.objects_in_use, c.cached);
  say(pr, "Utilisation: %.3f\n", ss.utilisation);
  return RMEM_OK;
}

static rmem_status_t report_all(rmem_t *r, const printer_t *pr) {
  report_range(r, pr);
  report_heap(r, pr);
  rmem_run_t tmp;
  for (uint32_t i = 1; i < r->arenas.bump; i++) {
    memset(&tmp, 0, sizeof tmp);
    arena_t *a = rmem_arena_describe(r, i, &tmp);
    if (a) report_arena(r, a, pr);
  }
  for (uint32_t i = 1; i < r->caches.bump; i++) {
    memset(&tmp, 0, sizeof tmp);
    slab_cache_t *c = rmem_cache_describe(r, i, &tmp);
    if (c) report_cache(r, c, pr);
  }
  if (r->mems) return rmem_mems_report(r, pr->out, pr->arg);
  return RMEM_OK;
}

rmem_status_t rmem_report(rmem_t *r, rmem_report_kind_t kind, void *object, rmem_print_fn *out, void *arg) {
  if (kind == RMEM_REPORT_ARENA || kind == RMEM_REPORT_CACHE) {
    if (!object) return rmem_fail(RMEM_EINVAL, "report: no %s given", kind == RMEM_REPORT_ARENA ? "arena" : "slab cache");
    rmem_t *owner = kind == RMEM_REPORT_ARENA ? rmem_arena_instance(object) : rmem_slab_cache_instance(object);
    if (!owner) return rmem_last_error();
    if (r && r != owner) return rmem_fail(RMEM_EINVAL, "report: the object belongs to another instance");
    r = owner;
  }
  if (!rmem_check_instance(r)) return rmem_last_error();
  if (!out) return rmem_fail(RMEM_EINVAL, "report: NULL output");
  printer_t pr = {out, arg};
  switch (kind) {
    case RMEM_REPORT_ALL: return report_all(r, &pr);
    case RMEM_REPORT_HEAP: report_heap(r, &pr); return RMEM_OK;
    case RMEM_REPORT_ARENA: return report_arena(r, object, &pr);
    case RMEM_REPORT_CACHE: return report_cache(r, object, &pr);
    case RMEM_REPORT_MEMS: return rmem_mems_report(r, out, arg);
    default: return rmem_fail(RMEM_EINVAL, "report: unknown kind %d", (int)kind);
  }
}

static void file_out(const char *text, size_t len, void *arg) { fwrite(text, 1, len, (FILE *)arg); }

static rmem_status_t print_to(rmem_t *r, rmem_report_kind_t kind, void *object, FILE *f) {
  if (!f) f = stdout;
  rmem_status_t st = rmem_report(r, kind, object, file_out, f);
  if (st != RMEM_OK) return st;
  return ferror(f) ? rmem_fail(RMEM_EINVAL, "print_stats: writing to the stream failed") : RMEM_OK;
}

rmem_status_t rmem_print_stats(rmem_t *r, FILE *f) { return print_to(r, RMEM_REPORT_ALL, NULL, f); }
rmem_status_t rmem_heap_print_stats(rmem_t *r, FILE *f) { return print_to(r, RMEM_REPORT_HEAP, NULL, f); }
rmem_status_t rmem_arena_print_stats(arena_t *a, FILE *f) { return print_to(NULL, RMEM_REPORT_ARENA, a, f); }
rmem_status_t rmem_slab_cache_print_stats(slab_cache_t *c, FILE *f) { return print_to(NULL, RMEM_REPORT_CACHE, c, f); }
