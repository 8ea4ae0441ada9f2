/*
 * test_layout.c - the layout walk (rmem_layout_walk) and the reports
 * (rmem_print_stats and friends).
 *
 * After every step of a random sequence of operations on every allocator of
 * one instance (heap blocks of all sizes, bump and intermediate arenas with
 * resets and frees, slab caches, MeMS), the walk must cover [0, capacity)
 * exactly, run after run in address order, and agree with the validators
 * (rmem_validate == 0) and with every stats function: pages in use and free,
 * the largest free run, the heap's live blocks, slabs and cached blocks, each
 * arena's reserved and used bytes, each cache's objects and slabs, MeMS's
 * pages, segments, holes and bytes.
 */
#include "check.h"
#include "platform.h"

#define MAXA 6
#define MAXC 4
#define MAXIDX 1536 /* handle indices grow past the quarantine of destroyed ones (1024) */

typedef struct totals {
  size_t runs, next_offset, bad_order;
  size_t kinds[RMEM_RUN_MEMS_SEGMENT + 1];
  size_t used_pages, free_pages, dirty, untouched, largest, prev_free;
  size_t heap_live, heap_cached, heap_slabs, heap_large;
  size_t arena_pages[MAXIDX], arena_used[MAXIDX], arena_live_bytes[MAXIDX], arena_large_bytes[MAXIDX];
  size_t arena_runs[MAXIDX];
  size_t cache_live[MAXIDX], cache_slabs[MAXIDX], cache_slots[MAXIDX];
  size_t mems_pages, mems_segments, mems_holes, mems_used, mems_mains;
  size_t seg_expect_offset, seg_end, seg_seen, seg_count_expect, seg_bad;
  size_t bad_slab;
} totals_t;

static int tally(const rmem_run_t *run, void *arg) {
  totals_t *t = arg;
  if (run->kind == RMEM_RUN_MEMS_SEGMENT) {
    /* segments follow their main node and cover it exactly, in order */
    if (run->offset != t->seg_expect_offset || run->bytes == 0 || run->offset + run->bytes > t->seg_end) t->seg_bad++;
    t->seg_expect_offset = run->offset + run->bytes;
    t->seg_seen++;
    t->kinds[run->kind]++;
    return 0;
  }
  if (t->seg_end && t->seg_expect_offset != t->seg_end) t->seg_bad++;
  t->seg_end = 0;
  if (run->offset != t->next_offset || run->pages == 0 || run->bytes != run->pages * RMEM_PAGE_SIZE) t->bad_order++;
  t->next_offset = run->offset + run->bytes;
  t->runs++;
  t->kinds[run->kind]++;
  switch (run->kind) {
    case RMEM_RUN_FREE:
      t->free_pages += run->pages;
      t->dirty += run->dirty_pages;
      if (run->dirty_pages > run->pages) t->bad_order++;
      t->prev_free = run->pages;
      if (run->pages > t->largest) t->largest = run->pages;
      return 0;
    case RMEM_RUN_UNTOUCHED:
      t->untouched += run->pages;
      if (run->pages + t->prev_free > t->largest) t->largest = run->pages + t->prev_free;
      t->prev_free = 0;
      return 0;
    case RMEM_RUN_RESERVED:
      t->prev_free = 0;
      return 0;
    default:
      break;
  }
  t->prev_free = 0;
  t->used_pages += run->pages;
  if (run->slots && (run->live + run->cached > run->slots || (size_t)run->slots * run->slot_size > run->bytes))
    t->bad_slab++;
  switch (run->kind) {
    case RMEM_RUN_HEAP_SLAB:
      t->heap_live += run->live;
      t->heap_cached += run->cached;
      t->heap_slabs++;
      break;
    case RMEM_RUN_HEAP_LARGE:
      t->heap_large++;
      break;
    case RMEM_RUN_ARENA_CHUNK:
    case RMEM_RUN_ARENA_SLAB:
    case RMEM_RUN_ARENA_LARGE:
      if (run->owner_index < MAXIDX) {
        t->arena_pages[run->owner_index] += run->pages;
        t->arena_used[run->owner_index] += run->used;
        t->arena_live_bytes[run->owner_index] += (size_t)run->live * run->slot_size;
        if (run->kind == RMEM_RUN_ARENA_LARGE) t->arena_large_bytes[run->owner_index] += run->bytes;
        t->arena_runs[run->owner_index]++;
      }
      break;
    case RMEM_RUN_CACHE_SLAB:
      if (run->owner_index < MAXIDX) {
        t->cache_live[run->owner_index] += run->live;
        t->cache_slabs[run->owner_index]++;
        t->cache_slots[run->owner_index] += run->slots;
      }
      break;
    case RMEM_RUN_MEMS:
      t->mems_pages += run->pages;
      t->mems_segments += run->segments;
      t->mems_holes += run->holes;
      t->mems_used += run->used;
      t->mems_mains++;
      if (run->eva - run->sva + 1 != run->bytes) t->seg_bad++;
      t->seg_expect_offset = run->offset;
      t->seg_end = run->offset + run->bytes;
      break;
    default:
      break;
  }
  return 0;
}

typedef struct world {
  rmem_t *r;
  void *blocks[512];
  size_t nblocks;
  arena_t *arenas[MAXA];
  void *iobj[MAXA][64];
  size_t isize[MAXA][64];
  size_t niobj[MAXA];
  slab_cache_t *caches[MAXC];
  void *cobj[MAXC][256];
  size_t ncobj[MAXC];
  uintptr_t segs[256];
  size_t nsegs;
  int mems_on;
} world_t;

/* The walk against everything else that describes the instance. rmem_stats asks the OS for the
   resident pages (slow under wine), so every step checks the rest and every 8th step that too. */
static void check_world(world_t *w, int full) {
  rmem_t *r = w->r;
  CHECK_EQ(rmem_validate(r), 0);
  static totals_t t;
  memset(&t, 0, sizeof t);
  CHECK_EQ(rmem_layout_walk(r, RMEM_LAYOUT_SEGMENTS, tally, &t), RMEM_OK);
  if (t.seg_end && t.seg_expect_offset != t.seg_end) t.seg_bad++;
  CHECK_EQ(t.bad_order, 0);
  CHECK_EQ(t.next_offset, rmem_capacity(r));
  CHECK_EQ(t.bad_slab, 0);
  CHECK_EQ(t.seg_bad, 0);
  CHECK_EQ(t.used_pages * RMEM_PAGE_SIZE, rmem_pages_in_use(r));
  if (full) {
    rmem_stats_t s;
    CHECK_EQ(rmem_stats(r, &s), RMEM_OK);
    CHECK_EQ(t.used_pages * RMEM_PAGE_SIZE, s.pages_in_use);
    CHECK_EQ(t.free_pages * RMEM_PAGE_SIZE, s.pages_free);
    CHECK_EQ(t.largest * RMEM_PAGE_SIZE, s.largest_free);
  }
  CHECK_EQ(t.used_pages + t.free_pages + t.untouched + 2, rmem_capacity(r) / RMEM_PAGE_SIZE);
  CHECK_EQ(t.kinds[RMEM_RUN_RESERVED], 2);
  rmem_heap_stats_t hs;
  CHECK_EQ(rmem_heap_stats(r, &hs), RMEM_OK);
  CHECK_EQ(t.heap_live + t.heap_large, hs.live_blocks);
  CHECK_EQ(t.heap_large, hs.large_blocks);
  CHECK_EQ(t.heap_slabs, hs.slabs);
  CHECK_EQ(t.heap_cached, hs.cached);
  for (int i = 0; i < MAXA; i++) {
    if (!w->arenas[i]) continue;
    uint32_t idx, gen;
    CHECK_EQ(rmem_arena_index(w->arenas[i], &idx, &gen), RMEM_OK);
    CHECK(idx < MAXIDX);
    rmem_arena_stats_t as;
    CHECK_EQ(rmem_arena_stats(w->arenas[i], &as), RMEM_OK);
    CHECK_EQ(t.arena_pages[idx] * RMEM_PAGE_SIZE, as.reserved);
    CHECK_EQ(t.arena_runs[idx], as.chunks);
    if (as.lifetime == LIFETIME_INTERMEDIATE) CHECK_EQ(t.arena_live_bytes[idx] + t.arena_large_bytes[idx], as.used);
    else CHECK_EQ(t.arena_used[idx], as.used);
  }
  for (int i = 0; i < MAXC; i++) {
    if (!w->caches[i]) continue;
    uint32_t idx, gen;
    CHECK_EQ(rmem_slab_cache_index(w->caches[i], &idx, &gen), RMEM_OK);
    CHECK(idx < MAXIDX);
    rmem_slab_stats_t cs;
    CHECK_EQ(rmem_slab_cache_stats(w->caches[i], &cs), RMEM_OK);
    CHECK_EQ(t.cache_live[idx], cs.objects_in_use);
    CHECK_EQ(t.cache_slabs[idx], cs.slabs);
    CHECK_EQ(t.cache_slots[idx], cs.slots);
  }
  if (w->mems_on) {
    rmem_mems_stats_t ms;
    CHECK_EQ(rmem_mems_stats(r, &ms), RMEM_OK);
    CHECK_EQ(t.mems_pages, ms.pages_used);
    CHECK_EQ(t.mems_mains, ms.main_chain_length);
    CHECK_EQ(t.mems_segments, ms.segments);
    CHECK_EQ(t.seg_seen, ms.segments);
    CHECK_EQ(t.mems_holes, ms.hole_segments);
    CHECK_EQ(t.mems_used, ms.bytes_in_use);
  } else {
    CHECK_EQ(t.mems_mains, 0);
  }
}

static size_t pick_size(uint64_t *seed) {
  uint64_t x = check_rand(seed) % 100;
  if (x < 60) return 1 + check_rand(seed) % 256;
  if (x < 90) return 1 + check_rand(seed) % 8192;
  if (x < 97) return 8192 + check_rand(seed) % (64 << 10);
  return (64 << 10) + check_rand(seed) % (512 << 10);
}

static void step(world_t *w, uint64_t *seed) {
  rmem_t *r = w->r;
  uint64_t op = check_rand(seed) % 100;
  if (op < 35) { /* heap: alloc or free */
    if (w->nblocks < 512 && (w->nblocks == 0 || check_rand(seed) % 3)) {
      void *p = rmem_alloc(r, pick_size(seed));
      if (p) w->blocks[w->nblocks++] = p;
    } else if (w->nblocks) {
      size_t k = check_rand(seed) % w->nblocks;
      CHECK_EQ(rmem_free(r, w->blocks[k]), RMEM_OK);
      w->blocks[k] = w->blocks[--w->nblocks];
    }
  } else if (op < 55) { /* arenas */
    int i = (int)(check_rand(seed) % MAXA);
    arena_t *a = w->arenas[i];
    uint64_t what = check_rand(seed) % 20;
    if (!a) {
      w->arenas[i] = rmem_arena_create(r, (size_t)(4 + check_rand(seed) % 16) << 10, (lifetime_t)(i % 3));
      w->niobj[i] = 0;
    } else if (what == 0) {
      CHECK_EQ(rmem_arena_destroy(a), RMEM_OK);
      w->arenas[i] = NULL;
    } else if (what == 1) {
      CHECK_EQ(rmem_arena_reset(a), RMEM_OK);
      w->niobj[i] = 0;
    } else if (i % 3 == 1) { /* intermediate: alloc or free one object */
      if (w->niobj[i] < 64 && check_rand(seed) % 3) {
        size_t n = check_rand(seed) % 8 ? 1 + check_rand(seed) % 4096 : 5000 + check_rand(seed) % 20000;
        void *p = rmem_arena_alloc(a, n);
        if (p) {
          w->iobj[i][w->niobj[i]] = p;
          w->isize[i][w->niobj[i]++] = n;
        }
      } else if (w->niobj[i]) {
        size_t k = check_rand(seed) % w->niobj[i];
        CHECK_EQ(rmem_arena_free(a, w->iobj[i][k], w->isize[i][k]), RMEM_OK);
        w->niobj[i]--;
        w->iobj[i][k] = w->iobj[i][w->niobj[i]];
        w->isize[i][k] = w->isize[i][w->niobj[i]];
      }
    } else {
      for (int k = 0; k < 8; k++) CHECK(rmem_arena_alloc(a, 1 + check_rand(seed) % 3000) != NULL);
    }
  } else if (op < 80) { /* slab caches */
    int i = (int)(check_rand(seed) % MAXC);
    slab_cache_t *c = w->caches[i];
    uint64_t what = check_rand(seed) % 30;
    if (!c) {
      char name[16];
      snprintf(name, sizeof name, "cache%d", i);
      w->caches[i] = rmem_slab_cache_create(r, name, 24 + (size_t)i * 200, 0, 0);
      w->ncobj[i] = 0;
    } else if (what == 0) {
      CHECK_EQ(rmem_slab_cache_destroy(c), RMEM_OK);
      w->caches[i] = NULL;
    } else if (what == 1) {
      CHECK_EQ(rmem_slab_cache_shrink(c), RMEM_OK);
    } else if (w->ncobj[i] < 256 && (w->ncobj[i] == 0 || check_rand(seed) % 2)) {
      for (int k = 0; k < 6 && w->ncobj[i] < 256; k++) {
        void *p = rmem_slab_alloc(c);
        if (p) w->cobj[i][w->ncobj[i]++] = p;
      }
    } else if (w->ncobj[i]) {
      size_t k = check_rand(seed) % w->ncobj[i];
      CHECK_EQ(rmem_slab_free(c, w->cobj[i][k]), RMEM_OK);
      w->cobj[i][k] = w->cobj[i][--w->ncobj[i]];
    }
  } else if (op < 97) { /* MeMS */
    if (!w->mems_on) {
      CHECK_EQ(rmem_mems_init(r), RMEM_OK);
      w->mems_on = 1;
      w->nsegs = 0;
    } else if (w->nsegs < 256 && (w->nsegs == 0 || check_rand(seed) % 2)) {
      uintptr_t v = rmem_mems_malloc(r, 1 + check_rand(seed) % 9000);
      if (v) w->segs[w->nsegs++] = v;
    } else if (w->nsegs) {
      size_t k = check_rand(seed) % w->nsegs;
      CHECK_EQ(rmem_mems_free(r, w->segs[k]), RMEM_OK);
      w->segs[k] = w->segs[--w->nsegs];
    }
  } else if (op < 98) {
    CHECK_EQ(rmem_defrag(r, NULL), RMEM_OK);
  } else if (op < 99 && w->mems_on && check_rand(seed) % 4 == 0) {
    CHECK_EQ(rmem_mems_finish(r), RMEM_OK);
    w->mems_on = 0;
  } else {
    CHECK_EQ(rmem_heap_trim(r, check_rand(seed) % 2 ? RMEM_TRIM_RELEASE : 0), RMEM_OK);
  }
}

static void test_random(uint64_t seed, int steps) {
  world_t *w = calloc(1, sizeof *w);
  w->r = check_instance(32u << 20);
  check_world(w, 1);
  for (int i = 0; i < steps; i++) {
    step(w, &seed);
    check_world(w, i % 8 == 0 || i == steps - 1);
  }
  rmem_destroy(w->r);
  free(w);
}

/* ---- the empty instance, errors, stopping ---- */

static int count_runs(const rmem_run_t *run, void *arg) {
  (void)run;
  return ++*(size_t *)arg >= 2; /* stop after two */
}

static int collect(const rmem_run_t *run, void *arg) {
  rmem_run_t *out = arg;
  for (int i = 0; i < 8; i++)
    if (out[i].pages == 0) {
      out[i] = *run;
      return 0;
    }
  return 1;
}

static void test_basics(void) {
  rmem_t *r = check_instance(1u << 20);
  rmem_run_t runs[8];
  memset(runs, 0, sizeof runs);
  CHECK_EQ(rmem_layout_walk(r, 0, collect, runs), RMEM_OK);
  /* a new instance: the heap has no slab yet, so reserved, untouched, reserved */
  CHECK_EQ(runs[0].kind, RMEM_RUN_RESERVED);
  CHECK_EQ(runs[0].offset, 0);
  CHECK_EQ(runs[1].kind, RMEM_RUN_UNTOUCHED);
  CHECK_EQ(runs[1].offset, RMEM_PAGE_SIZE);
  CHECK_EQ(runs[1].pages, 256 - 2);
  CHECK_EQ(runs[2].kind, RMEM_RUN_RESERVED);
  CHECK_EQ(runs[2].offset, (1u << 20) - RMEM_PAGE_SIZE);
  CHECK_EQ(runs[3].pages, 0);

  void *p = rmem_alloc(r, 100);
  memset(runs, 0, sizeof runs);
  CHECK_EQ(rmem_layout_walk(r, 0, collect, runs), RMEM_OK);
  CHECK_EQ(runs[1].kind, RMEM_RUN_HEAP_SLAB);
  CHECK_EQ(runs[1].slot_size, 112);
  CHECK_EQ(runs[1].live, 1);
  CHECK(runs[1].cached > 0); /* the refill put the rest of a batch on the class's stack */
  rmem_free(r, p);
  memset(runs, 0, sizeof runs);
  CHECK_EQ(rmem_layout_walk(r, 0, collect, runs), RMEM_OK);
  CHECK_EQ(runs[1].live, 0);

  size_t n = 0;
  CHECK_EQ(rmem_layout_walk(r, 0, count_runs, &n), RMEM_OK);
  CHECK_EQ(n, 2);
  CHECK_ERR(rmem_layout_walk(r, 0, NULL, NULL), RMEM_EINVAL);
  CHECK_ERR(rmem_layout_walk(r, 0x80, count_runs, &n), RMEM_EINVAL);
  CHECK_ERR(rmem_layout_walk(NULL, 0, count_runs, &n), RMEM_ENOTINIT);
  rmem_destroy(r);
  CHECK_ERR(rmem_layout_walk(r, 0, count_runs, &n), RMEM_ENOTINIT);
}

/* ---- the reports ---- */

static void to_file(const char *text, size_t len, void *arg) { fwrite(text, 1, len, (FILE *)arg); }

static char *report_text(rmem_t *r, rmem_report_kind_t kind, void *obj) {
  FILE *f = check_stream_open();
  CHECK_EQ(rmem_report(r, kind, obj, to_file, f), RMEM_OK);
  return check_stream_text(f);
}

static void test_reports(void) {
  rmem_t *r = check_instance(8u << 20);
  void *b[40];
  for (int i = 0; i < 40; i++) b[i] = rmem_alloc(r, i < 38 ? 64 : 100000);
  for (int i = 0; i < 40; i += 3) rmem_free(r, b[i]);
  arena_t *a = rmem_arena_create(r, 8192, LIFETIME_TRANSIENT);
  for (int i = 0; i < 100; i++) CHECK(rmem_arena_alloc(a, 100) != NULL);
  arena_t *ia = rmem_arena_create(r, 8192, LIFETIME_INTERMEDIATE);
  CHECK(rmem_arena_alloc(ia, 48) != NULL);
  slab_cache_t *c = rmem_slab_cache_create(r, "session", 512, 0, 0);
  for (int i = 0; i < 10; i++) CHECK(rmem_slab_alloc(c) != NULL);
  CHECK_EQ(rmem_mems_init(r), RMEM_OK);
  rmem_mems_malloc(r, 1000);
  rmem_mems_malloc(r, 5000);

  char *all = report_text(r, RMEM_REPORT_ALL, NULL);
  char *heap = report_text(r, RMEM_REPORT_HEAP, NULL);
  char *arena = report_text(r, RMEM_REPORT_ARENA, a);
  char *inter = report_text(NULL, RMEM_REPORT_ARENA, ia);
  char *cache = report_text(NULL, RMEM_REPORT_CACHE, c);
  char *mems = report_text(r, RMEM_REPORT_MEMS, NULL);
  FILE *f = check_stream_open();
  CHECK_EQ(rmem_mems_print_stats(r, f), RMEM_OK);
  char *seed = check_stream_text(f);
  f = check_stream_open();
  CHECK_EQ(rmem_print_stats(r, f), RMEM_OK);
  char *printed = check_stream_text(f);
  f = check_stream_open();
  CHECK_EQ(rmem_heap_print_stats(r, f), RMEM_OK);
  CHECK_EQ(rmem_arena_print_stats(a, f), RMEM_OK);
  CHECK_EQ(rmem_slab_cache_print_stats(c, f), RMEM_OK);
  char *three = check_stream_text(f);

  CHECK(strcmp(all, printed) == 0);                 /* the callback and the FILE give the same text */
  CHECK(strcmp(mems, seed) == 0);                   /* MeMS's report is the seed's format, unchanged */
  CHECK(strstr(all, seed) != NULL);                 /* ... and part of the whole report */
  CHECK(strstr(all, heap) != NULL);
  CHECK(strstr(all, arena) != NULL);
  CHECK(strstr(all, cache) != NULL);
  CHECK(strncmp(all, "rmem Stats:\nRANGE[0:8388607] -> <R>[0:4095] <-> ", 44) == 0);
  CHECK(strstr(all, "Capacity: 8388608\n") != NULL);
  CHECK(strstr(heap, "Heap Stats:\nCLASS[64] -> <H>[OFF:") == heap);
  CHECK(strstr(heap, "LARGE -> <L>[OFF:") != NULL);
  CHECK(strstr(heap, "Live blocks: 26\n") != NULL); /* 40 - 14 freed */
  CHECK(strstr(arena, "ARENA[1 transient] -> <A>[OFF:") == strstr(arena, "ARENA"));
  CHECK(strstr(arena, " cur] <-> <NULL>\n") != NULL);
  CHECK(strstr(inter, "ARENA[2 intermediate] -> <I>[OFF:") != NULL);
  CHECK(strstr(inter, "Live objects: 1\n") != NULL);
  CHECK(strstr(cache, "CACHE[1 session:512] -> <S>[OFF:") != NULL);
  CHECK(strstr(cache, "Objects in use: 10\n") != NULL);
  CHECK(strstr(seed, "MeMS Stats:\nMAIN[1000:5095] -> <P>[SVA:1000:EVA:1999] <-> <H>[SVA:2000:EVA:5095] <-> <NULL>\n") ==
        seed);
  size_t ls = strlen(heap) + strlen(arena) + strlen(cache);
  CHECK_EQ(strlen(three), ls);

  /* errors: nothing is printed */
  CHECK_ERR(rmem_report(r, RMEM_REPORT_ALL, NULL, NULL, NULL), RMEM_EINVAL);
  CHECK_ERR(rmem_report(r, RMEM_REPORT_ARENA, NULL, to_file, stdout), RMEM_EINVAL);
  CHECK_ERR(rmem_report(r, (rmem_report_kind_t)42, NULL, to_file, stdout), RMEM_EINVAL);
  rmem_t *other = check_instance(1u << 20);
  CHECK_ERR(rmem_report(other, RMEM_REPORT_CACHE, c, to_file, stdout), RMEM_EINVAL);
  CHECK_ERR(rmem_report(other, RMEM_REPORT_MEMS, NULL, to_file, stdout), RMEM_ENOTINIT);
  char *noms = report_text(other, RMEM_REPORT_ALL, NULL); /* no MeMS: its report is left out */
  CHECK(strstr(noms, "MeMS Stats") == NULL);
  CHECK(strstr(noms, "Heap Stats:") != NULL);
  rmem_destroy(other);
  CHECK_EQ(rmem_arena_destroy(a), RMEM_OK);
  CHECK_ERR(rmem_arena_print_stats(a, stdout), RMEM_ESTALE);
  CHECK_ERR(rmem_print_stats(NULL, stdout), RMEM_ENOTINIT);
  free(all), free(heap), free(arena), free(inter), free(cache), free(mems), free(seed), free(printed), free(three);
  free(noms);
  rmem_destroy(r);
}

/* ---- a shared instance: a heap per thread, frees across threads ---- */

typedef struct shared_world {
  rmem_t *r;
  void *mine[600];
  void *theirs[400];
} shared_world_t;

static void other_thread(void *arg) {
  shared_world_t *w = arg;
  for (int i = 0; i < 400; i++) w->theirs[i] = rmem_alloc(w->r, 24 + (size_t)(i % 50) * 40);
  for (int i = 0; i < 600; i += 3) CHECK_EQ(rmem_free(w->r, w->mine[i]), RMEM_OK); /* remote frees */
  for (int i = 0; i < 400; i += 2) CHECK_EQ(rmem_free(w->r, w->theirs[i]), RMEM_OK);
}

static int heaps_seen(const rmem_run_t *run, void *arg) {
  if (run->kind == RMEM_RUN_HEAP_SLAB && run->owner_index < 64) ((uint64_t *)arg)[0] |= (uint64_t)1 << run->owner_index;
  return 0;
}

static void test_shared(void) {
  shared_world_t w;
  w.r = rmem_create(&(rmem_options_t){.capacity = 16u << 20, .flags = RMEM_OPT_SHARED});
  CHECK(w.r != NULL);
  for (int i = 0; i < 600; i++) w.mine[i] = rmem_alloc(w.r, 16 + (size_t)(i % 40) * 24);
  CHECK_EQ(check_thread_run(other_thread, &w), 0);
  for (int pass = 0; pass < 2; pass++) { /* before and after heap_stats drains the frees the other thread sent */
    static totals_t t;
    memset(&t, 0, sizeof t);
    CHECK_EQ(rmem_layout_walk(w.r, 0, tally, &t), RMEM_OK);
    CHECK_EQ(t.bad_order, 0);
    CHECK_EQ(t.next_offset, rmem_capacity(w.r));
    rmem_stats_t s;
    CHECK_EQ(rmem_stats(w.r, &s), RMEM_OK);
    CHECK_EQ(t.used_pages * RMEM_PAGE_SIZE, s.pages_in_use);
    CHECK_EQ(t.free_pages * RMEM_PAGE_SIZE, s.pages_free);
    rmem_heap_stats_t hs;
    CHECK_EQ(rmem_heap_stats(w.r, &hs), RMEM_OK);
    CHECK_EQ(t.heap_live + t.heap_large, hs.live_blocks);
    CHECK_EQ(t.heap_live, 600 - 200 + 400 - 200);
  }
  uint64_t heaps = 0;
  CHECK_EQ(rmem_layout_walk(w.r, 0, heaps_seen, &heaps), RMEM_OK);
  CHECK(__builtin_popcountll(heaps) >= 2); /* the slabs of two thread heaps, each named by its id */
  CHECK((heaps & 1) == 0);                 /* no private heap (id 0) on a shared instance */
  FILE *f = check_stream_open();
  CHECK_EQ(rmem_heap_print_stats(w.r, f), RMEM_OK);
  char *text = check_stream_text(f);
  CHECK(strstr(text, "HEAP[1] CLASS[") != NULL);
  CHECK(strstr(text, "HEAP[2] CLASS[") != NULL);
  CHECK(strstr(text, "Live blocks: 600\n") != NULL);
  free(text);
  CHECK_EQ(rmem_validate(w.r), 0);
  rmem_destroy(w.r);
}

int main(void) {
  test_basics();
  test_reports();
  test_shared();
  for (uint64_t seed = 1; seed <= 6; seed++) test_random(seed * 0x9E3779B97F4A7C15ull, 1500);
  return check_report("test_layout");
}
