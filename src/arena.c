/*
 * arena.c - arenas for three lifetimes (the seed's create_arena, r_arena,
 * r_reset, r_destroy, init_arenas).
 *
 * Transient and persistent arenas are bump allocators. Their memory is a
 * chain of chunks, each a run of pages from the instance's page source marked
 * RMEM_PK_ARENA with owner = the arena's index. The current chunk's bump
 * pointer sits in the public head of the record (struct rmem_arena_head), so
 * r_arena_fast in rmem.h allocates with a bump and two compares and no call.
 * When the current chunk is full the arena chains a new one (at least the
 * chunk size, larger for a large request) up to the optional max_size; reset
 * keeps the first chunk and gives the others back; destroy gives back all.
 * Chunk records live out of band (rmem_meta_alloc), never in the chunk.
 *
 * Intermediate arenas are the seed's "slab within an arena": one slab list
 * per size class (RMEM_ARENA_CLASSES classes, 8 .. RMEM_ARENA_SLAB_MAX bytes,
 * two per power of two) on the shared slab engine (slab.c). The seed carves
 * the slabs out of the arena's own block; here the slabs come from the page
 * source under the arena's ownership (owner_kind RMEM_SO_ARENA, owner_id =
 * the arena's index), which gives the same grouping by lifetime plus exact
 * double-free and interior-pointer detection from the engine's out-of-band
 * bitmaps. rmem_arena_free(a, p, size) returns one slot. Requests larger than
 * RMEM_ARENA_SLAB_MAX get a page run of their own (a "large" chunk) that
 * rmem_arena_free gives back. Intermediate arenas keep head.ptr == head.end
 * == 0 so the inline fast path always takes the checked slow path.
 *
 * Invariants (rmem_arenas_validate checks them after every test step):
 *   A1  a live bump arena has at least one chunk; first .. cur is a doubly
 *       linked list in allocation order with strictly increasing serials, and
 *       cur is the last chunk.
 *   A2  every chunk (and large run) is a page run of kind RMEM_PK_ARENA whose
 *       head carries its length and whose owner is the arena's index; every
 *       RMEM_PK_ARENA run of the range belongs to exactly one live arena.
 *   A3  head.ptr is 8-byte aligned and start(cur) <= head.ptr <= head.end ==
 *       end(cur); for every chunk c before cur, start(c) <= c->stop <= end(c)
 *       and used_prev == sum over those chunks of (c->stop - start(c)).
 *   A4  nchunks and reserved count the chunks (and large runs) held; reserved
 *       plus the bytes of an intermediate arena's slabs <= max_size when a
 *       limit is set.
 *   A5  intermediate: head.ptr == head.end == 0, every class list passes
 *       rmem_slab_list_check, and every slab with owner_kind RMEM_SO_ARENA
 *       belongs to a class list of a live intermediate arena.
 *   A6  a dead arena has head.ptr == head.end == 0 and holds nothing.
 *
 * Handles: see handle.h for how a destroyed arena is told from a live one
 * and for the guarantee on slot reuse.
 */
#include "front.h"
#include "handle.h"
#include "track.h"

#include <stddef.h>

/* ------------------------------------------------------------------------
 * Arena records
 * ------------------------------------------------------------------------ */

#define ARENA_MAX ((uint32_t)1 << 16)
#define DEFAULT_CHUNK ((size_t)64 << 10)
#define RMEM_ARENA_CLASSES 18
#define MAX_ALIGN ((size_t)1 << 30)

/* A chunk or a large run. Out of band. */
typedef struct chunk {
  struct chunk *next, *prev;
  uint64_t serial;     /* per arena, strictly increasing, never reused: marks name chunks by it */
  uint32_t first_page;
  uint32_t npages;
  uintptr_t stop;      /* bump chunk: position when the arena moved on to the next chunk;
                          large run: the size it was allocated with */
} chunk_t;

/* One size class of an intermediate arena: its slabs and the front over them (front.h). */
typedef struct inter_class {
  rmem_slab_list_t list;
  rmem_lfront_t front;
} inter_class_t;

#define INTER_BYTES (sizeof(inter_class_t) * RMEM_ARENA_CLASSES)

struct arena {
  struct rmem_arena_head head; /* must be first: r_arena_fast reads it */
  rmem_hslot_t slot;           /* at offset sizeof(head) (handle.h) */
  uint8_t lifetime;
  uint8_t debug;               /* the instance's RMEM_OPT_* flags (fixed at creation): one load less */
  uint32_t chunk_pages;
  uint32_t resets;             /* the mark generation */
  uint32_t vcount;             /* validator scratch: runs seen in the pagemap */
  chunk_t *first, *cur;        /* bump chunks, oldest first */
  chunk_t *large;              /* intermediate: runs of large objects */
  struct inter_class *cls;     /* intermediate: one slab list and front per class, out of band */
  uint64_t next_serial;
  size_t max_size;             /* 0 = no limit */
  size_t reserved;             /* bytes of chunks and large runs held */
  size_t nchunks;              /* chunks and large runs held */
  size_t used_prev;            /* bytes bumped in chunks before cur */
  size_t large_bytes;          /* intermediate: bytes in large runs */
  size_t allocs;               /* allocations through library calls since the last reset */
  size_t vslabs;               /* validator scratch: slabs seen in the pagemap */
  uint64_t owner_thread;       /* a shared instance's arena: the thread that made it (rmem_thread_id), else 0 */
};

_Static_assert(sizeof(struct arena) <= RMEM_HSLOT_RECORD, "arena record fits its slot");
_Static_assert(offsetof(struct arena, slot) == sizeof(struct rmem_arena_head), "slot header offset (handle.h)");

static const uint32_t class_size[RMEM_ARENA_CLASSES] = {8,   16,  24,  32,   48,   64,   96,   128,  192,
                                                        256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096};
#define SLAB_MAX RMEM_ARENA_SLAB_MAX

/* The smallest class holding size bytes (1 <= size <= SLAB_MAX), in O(1): 8, 16, 24, 32, then
   2^k < size <= 2^(k+1) falls in 1.5 * 2^k (index 2k - 6) or 2^(k+1) (index 2k - 5). */
static int class_of(size_t size) {
  if (size <= 32) return (int)((size + 7) / 8) - 1;
  int k = 63 - __builtin_clzll((unsigned long long)(size - 1));
  return size <= ((size_t)3 << (k - 1)) ? 2 * k - 6 : 2 * k - 5;
}

/* The smallest class holding size bytes whose slots are align-aligned (slabs start on pages), or -1. */
static int class_for(size_t size, size_t align) {
  if (size == 0 || size > SLAB_MAX) return -1;
  for (int c = class_of(size); c < RMEM_ARENA_CLASSES; c++)
    if ((class_size[c] & (align - 1)) == 0) return c; /* align: a power of two */
  return -1;
}

/* Live slots of a class list: one counter per fast path (a shared live count would chain an
   alloc/free pair through two read-modify-writes of one word). */
static inline size_t class_live(const struct inter_class *k) { return k->list.used - k->front.n; }

/* True if an allocation of size bytes (with some alignment) can have landed in the class of bsize. */
static bool size_fits_class(size_t size, uint32_t bsize) {
  int c0 = class_for(size, 8);
  if (c0 >= 0 && class_size[c0] == bsize) return true; /* the common case: no alignment asked */
  for (size_t align = 16; align <= RMEM_PAGE_SIZE; align *= 2) {
    int c = class_for(size, align);
    if (c >= 0 && class_size[c] == bsize) return true;
  }
  return false;
}

/* The checked arena, or NULL with the error: not an arena, destroyed, or (shared instance) another thread's. */
static inline arena_t *arena_check(arena_t *a) {
  a = rmem_handle_resolve(RMEM_HK_ARENA, a, sizeof(struct rmem_arena_head));
  if (RMEM_UNLIKELY(a && a->owner_thread && a->owner_thread != rmem_thread_id()))
    return rmem_fail_null(RMEM_EPERM, "the arena belongs to another thread (arenas of a shared instance do)");
  return a;
}

static inline uintptr_t chunk_start(const rmem_t *r, const chunk_t *c) { return rmem_page_addr(r, c->first_page); }
static inline uintptr_t chunk_end(const rmem_t *r, const chunk_t *c) {
  return rmem_page_addr(r, c->first_page + c->npages);
}

static bool is_valid_lifetime(int lt) { return lt >= LIFETIME_TRANSIENT && lt <= LIFETIME_PERSISTENT; }

/* Bytes of an intermediate arena's slabs (0 for bump arenas, which have no class lists). */
static size_t inter_slab_bytes(const arena_t *a) {
  size_t b = 0;
  if (a->cls)
    for (int c = 0; c < RMEM_ARENA_CLASSES; c++)
      b += a->cls[c].list.slabs * ((size_t)a->cls[c].list.slab_pages << RMEM_PAGE_SHIFT);
  return b;
}

/* Everything the arena holds, as max_size counts it. */
static size_t held_bytes(const arena_t *a) { return a->reserved + inter_slab_bytes(a); }

/* A new run of at least bytes (align-aligned) for the arena, within its limit. NULL + error on failure. */
static chunk_t *chunk_new(arena_t *a, size_t bytes, size_t align) {
  rmem_t *r = a->slot.r;
  if (bytes > r->capacity) return rmem_fail_null(RMEM_ENOMEM, "%zu bytes exceed the instance's capacity", bytes);
  size_t pages = (bytes + RMEM_PAGE_SIZE - 1) >> RMEM_PAGE_SHIFT;
  size_t size = pages << RMEM_PAGE_SHIFT;
  size_t held = a->max_size ? held_bytes(a) : 0;
  if (a->max_size && (held > a->max_size || size > a->max_size - held))
    return rmem_fail_null(RMEM_ENOMEM, "arena limit: %zu more bytes would exceed max_size %zu (%zu held)", size,
                          a->max_size, held);
  chunk_t *c = rmem_meta_alloc(r, sizeof *c);
  if (!c) return rmem_fail_null(RMEM_ENOMEM, "cannot allocate a chunk record");
  uint32_t align_pages = align > RMEM_PAGE_SIZE ? (uint32_t)(align >> RMEM_PAGE_SHIFT) : 1;
  uint32_t first = rmem_pages_alloc(r, (uint32_t)pages, align_pages, RMEM_PK_ARENA, a->slot.index);
  if (!first) {
    rmem_meta_free(r, c, sizeof *c);
    return NULL; /* ENOMEM recorded by the page source */
  }
  c->first_page = first;
  c->npages = (uint32_t)pages;
  rmem_track_run_new(r, chunk_start(r, c), size);
  c->serial = ++a->next_serial;
  a->reserved += size;
  a->nchunks++;
  return c;
}

static void chunk_release(arena_t *a, chunk_t *c) {
  rmem_t *r = a->slot.r;
  if (r->flags & RMEM_OPT_JUNK) rmem_track_memset(r, (void *)chunk_start(r, c), 0xDF, (size_t)c->npages << RMEM_PAGE_SHIFT);
  rmem_track_run_gone(r, chunk_start(r, c));
  rmem_pages_free(r, c->first_page);
  a->reserved -= (size_t)c->npages << RMEM_PAGE_SHIFT;
  a->nchunks--;
  rmem_meta_free(r, c, sizeof *c);
}

/* Gives back every bump chunk after c; c becomes cur with its bump pointer at ptr. */
static void bump_cut(arena_t *a, chunk_t *c, uintptr_t ptr) {
  rmem_t *r = a->slot.r;
  uintptr_t top = a->cur == c ? a->head.ptr : c->stop; /* how far c was used */
  while (a->cur != c) {
    chunk_t *last = a->cur;
    a->cur = last->prev;
    a->cur->next = NULL;
    a->used_prev -= a->cur->stop - chunk_start(r, a->cur);
    chunk_release(a, last);
  }
  if ((r->flags & RMEM_OPT_JUNK) && top > ptr) rmem_track_memset(r, (void *)ptr, 0xDF, top - ptr);
  rmem_track_run_cut(r, chunk_start(r, c), ptr, top);
  a->cur->stop = 0;
  a->head.ptr = ptr;
  a->head.end = chunk_end(r, c);
}

/* Makes the current chunk hold n bytes at an align-aligned address (chains a chunk if needed). */
static bool bump_room(arena_t *a, size_t n, size_t align, uintptr_t *at) {
  uintptr_t ptr = a->head.ptr, p = (ptr + align - 1) & ~(uintptr_t)(align - 1);
  if (p <= a->head.end && n <= a->head.end - p) {
    *at = p;
    return true;
  }
  rmem_t *r = a->slot.r;
  size_t want = (size_t)a->chunk_pages << RMEM_PAGE_SHIFT;
  if (n > want) want = n;
  chunk_t *c = chunk_new(a, want, align);
  if (!c) return false;
  chunk_t *old = a->cur;
  old->stop = a->head.ptr;
  a->used_prev += old->stop - chunk_start(r, old);
  old->next = c;
  c->prev = old;
  a->cur = c;
  a->head.ptr = chunk_start(r, c);
  a->head.end = chunk_end(r, c);
  *at = a->head.ptr; /* page aligned, and align <= a page or the run is align-aligned */
  return true;
}

/* size >= 1 checked and padded: n, a multiple of 8 */
static bool pad_size(size_t size, size_t *n) {
  if (RMEM_UNLIKELY(size == 0)) {
    rmem_fail(RMEM_EINVAL, "arena allocation of 0 bytes");
    return false;
  }
  if (RMEM_UNLIKELY(size > SIZE_MAX - 7)) {
    rmem_fail(RMEM_ERANGE, "arena allocation of %zu bytes overflows when padded to 8", size);
    return false;
  }
  *n = (size + 7) & ~(size_t)7;
  return true;
}

static void *inter_alloc(arena_t *a, size_t size, size_t align);

/* The allocation path of a checked live arena. align: a power of two >= 8. */
static void *arena_alloc(arena_t *a, size_t size, size_t align) {
  size_t n;
  if (!pad_size(size, &n)) return NULL;
  if (a->lifetime == LIFETIME_INTERMEDIATE) return inter_alloc(a, size, align);
  uintptr_t p;
  if (!bump_room(a, n, align, &p)) return NULL;
  a->head.ptr = p + n;
  a->allocs++;
  rmem_t *r = a->slot.r;
  if (RMEM_UNLIKELY(r->flags)) {
    if (r->flags & RMEM_OPT_JUNK) rmem_track_memset(r, (void *)p, 0xAB, n);
    if (r->flags & RMEM_OPT_VALIDATE) rmem_validate_after(r);
  }
  return rmem_track_run_alloc(r, chunk_start(r, a->cur), (void *)p, size);
}

/* ------------------------------------------------------------------------
 * Intermediate arenas: size classes on the slab engine + large runs
 * ------------------------------------------------------------------------ */

static void *inter_alloc(arena_t *a, size_t size, size_t align) {
  rmem_t *r = a->slot.r;
  int c = size <= SLAB_MAX && align <= RMEM_PAGE_SIZE ? class_for(size, align) : -1;
  void *p;
  if (c >= 0) {
    inter_class_t *k = &a->cls[c];
    rmem_slab_list_t *l = &k->list;
    if (k->front.n) {
      p = rmem_lfront_pop(r, &k->front);
    } else {
      /* a new slab would be made: respect the limit first */
      if (a->max_size && !rmem_slab_list_has_free(l)) {
        size_t need = (size_t)l->slab_pages << RMEM_PAGE_SHIFT;
        size_t held = held_bytes(a);
        if (held > a->max_size || need > a->max_size - held)
          return rmem_fail_null(RMEM_ENOMEM, "arena limit: a new %zu-byte slab would exceed max_size %zu", need,
                                a->max_size);
      }
      p = rmem_lfront_refill(r, &k->front, l);
      if (!p) return NULL; /* ENOMEM recorded by the engine */
    }
  } else {
    chunk_t *ch = chunk_new(a, size, align);
    if (!ch) return NULL;
    ch->next = a->large;
    if (a->large) a->large->prev = ch;
    a->large = ch;
    a->large_bytes += (size_t)ch->npages << RMEM_PAGE_SHIFT;
    ch->stop = size; /* a large run remembers its size, so free checks it exactly */
    p = (void *)chunk_start(r, ch);
  }
  a->allocs++;
  if (RMEM_UNLIKELY(r->flags)) {
    if (r->flags & RMEM_OPT_JUNK) rmem_track_memset(r, p, 0xAB, size);
    if (r->flags & RMEM_OPT_VALIDATE) rmem_validate_after(r);
  }
  return rmem_track_block(r, p, size);
}

static void large_unlink(arena_t *a, chunk_t *c) {
  if (c->prev) c->prev->next = c->next;
  else a->large = c->next;
  if (c->next) c->next->prev = c->prev;
  a->large_bytes -= (size_t)c->npages << RMEM_PAGE_SHIFT;
}

static rmem_status_t inter_free(arena_t *a, void *ptr, size_t size) {
  rmem_t *r = a->slot.r;
  uintptr_t p = (uintptr_t)ptr;
  if (!rmem_in_range(r, p)) return rmem_fail(RMEM_EBADPTR, "%p is not in the arena's instance", ptr);
  rmem_pme_t *pme = rmem_pme_of(r, p);
  if (pme->kind == RMEM_PK_SLAB) {
    rmem_slab_t *s = rmem_slab_at(r, p);
    uintptr_t rel = s ? (uintptr_t)s->list - (uintptr_t)a->cls : INTER_BYTES;
    if (!s || s->owner_kind != RMEM_SO_ARENA || rel >= INTER_BYTES || rel % sizeof(inter_class_t) != 0)
      return rmem_front_refuse(r, p - r->base, "this arena");
    if (!rmem_is_live(r, p - r->base)) return rmem_front_refuse(r, p - r->base, "this arena");
    if (!size_fits_class(size, s->bsize))
      return rmem_fail_at(RMEM_EINVAL, r, ptr, "size %zu does not match the %u-byte class of the block at offset %zu",
                          size, s->bsize, (size_t)(p - r->base));
    inter_class_t *k = &a->cls[rel / sizeof(inter_class_t)];
    if (r->flags & RMEM_OPT_JUNK) rmem_track_memset(r, ptr, 0xDF, s->bsize);
    rmem_track_free(r, ptr, s->bsize);
    rmem_clear_live(r, p - r->base);
    if (k->front.n >= k->front.cap) rmem_lfront_spill(r, &k->front);
    rmem_lfront_push(&k->front, (uint32_t)(p - r->base));
    return RMEM_OK;
  }
  if (pme->kind == RMEM_PK_ARENA && pme->owner == a->slot.index) {
    uint32_t page = rmem_page_index(r, p);
    chunk_t *c = a->large;
    while (c && c->first_page != page) c = c->next;
    if (!c || (p & (RMEM_PAGE_SIZE - 1)) != 0)
      return rmem_fail_at(RMEM_EBADPTR, r, ptr, "offset %zu points into a large object of this arena, not at its start",
                          (size_t)(p - r->base));
    if (size != c->stop)
      return rmem_fail_at(RMEM_EINVAL, r, ptr, "size %zu does not match the %zu-byte object at offset %zu", size,
                          (size_t)c->stop, (size_t)(p - r->base));
    large_unlink(a, c);
    chunk_release(a, c);
    return RMEM_OK;
  }
  if (pme->kind == RMEM_PK_FREE)
    return rmem_fail_at(RMEM_EBADPTR, r, ptr, "offset %zu is in free pages (already freed, or never allocated)",
                        (size_t)(p - r->base));
  return rmem_fail_at(RMEM_EBADPTR, r, ptr, "offset %zu is not from this arena", (size_t)(p - r->base));
}

/* Releases everything an intermediate arena holds (its lists stay usable). */
static void inter_clear(arena_t *a) {
  rmem_t *r = a->slot.r;
  for (int c = 0; c < RMEM_ARENA_CLASSES; c++) {
    inter_class_t *k = &a->cls[c];
    rmem_front_forget(r, &k->list); /* every object dies with its slab: its live bit goes too (F2) */
    k->front.n = 0;
    rmem_slab_list_fini(&k->list);
  }
  while (a->large) {
    chunk_t *c = a->large;
    large_unlink(a, c);
    chunk_release(a, c);
  }
}

/* ------------------------------------------------------------------------
 * The public API
 * ------------------------------------------------------------------------ */

arena_t *rmem_arena_create_ex(rmem_t *r, lifetime_t lifetime, const rmem_arena_options_t *options) {
  if (!rmem_check_instance(r)) return NULL;
  if (!is_valid_lifetime((int)lifetime)) return rmem_fail_null(RMEM_EINVAL, "unknown lifetime %d", (int)lifetime);
  size_t chunk = options && options->chunk_size ? options->chunk_size : DEFAULT_CHUNK;
  size_t max_size = options ? options->max_size : 0;
  if (chunk > r->capacity) return rmem_fail_null(RMEM_EINVAL, "chunk size %zu exceeds the instance's capacity", chunk);
  size_t pages = (chunk + RMEM_PAGE_SIZE - 1) >> RMEM_PAGE_SHIFT;
  if (max_size && lifetime != LIFETIME_INTERMEDIATE && (pages << RMEM_PAGE_SHIFT) > max_size)
    return rmem_fail_null(RMEM_EINVAL, "chunk size %zu exceeds max_size %zu", pages << RMEM_PAGE_SHIFT, max_size);
  struct rmem_arena_table *t = rmem_arena_table(r);
  if (!t) return NULL;
  arena_t *a = rmem_hslot_new(r, &t->arenas, ARENA_MAX);
  if (!a) return NULL;
  a->lifetime = (uint8_t)lifetime;
  a->debug = (uint8_t)r->flags;
  a->owner_thread = rmem_is_shared(r) ? rmem_thread_id() : 0;
  a->chunk_pages = (uint32_t)pages;
  a->max_size = max_size;
  if (lifetime == LIFETIME_INTERMEDIATE) {
    a->cls = rmem_meta_alloc(r, INTER_BYTES);
    if (!a->cls) {
      rmem_hslot_kill(&t->arenas, a);
      return rmem_fail_null(RMEM_ENOMEM, "cannot allocate an arena's class lists");
    }
    for (int c = 0; c < RMEM_ARENA_CLASSES; c++)
    {
      rmem_slab_list_init(&a->cls[c].list, r, class_size[c], RMEM_SO_ARENA, a->slot.index, 0, true);
      uint32_t cap = (16u << 10) / class_size[c];
      a->cls[c].front.cap = cap < 4 ? 4 : cap > RMEM_LFRONT_CAP ? RMEM_LFRONT_CAP : cap;
    }
  } else {
    chunk_t *c = chunk_new(a, pages << RMEM_PAGE_SHIFT, 8);
    if (!c) {
      rmem_status_t st = rmem_last_error();
      char msg[256];
      snprintf(msg, sizeof msg, "%s", rmem_last_error_message());
      rmem_hslot_kill(&t->arenas, a);
      return rmem_fail_null(st, "%s", msg);
    }
    a->first = a->cur = c;
    a->head.ptr = chunk_start(r, c);
    a->head.end = chunk_end(r, c);
  }
  if (r->flags & RMEM_OPT_VALIDATE) rmem_validate_after(r);
  return a;
}

arena_t *rmem_arena_create(rmem_t *r, size_t chunk_size, lifetime_t lifetime) {
  rmem_arena_options_t o = {.chunk_size = chunk_size, .max_size = 0};
  return rmem_arena_create_ex(r, lifetime, &o);
}

/*
 * The checked call, as a leaf: the same bump as r_arena_fast plus the handle check and the
 * counter; for an intermediate arena, a slot at hand in the size's class. A full chunk or
 * slab, a debugging option and every error take rmem_arena_alloc_slow.
 */
void *rmem_arena_alloc(arena_t *a, size_t size) {
  if (RMEM_LIKELY(rmem_handle_fast(RMEM_HK_ARENA, a, sizeof(struct rmem_arena_head)))) {
    uintptr_t p = a->head.ptr;
    size_t n = (size + 7) & ~(size_t)7;
    if (RMEM_LIKELY(n - 1 < a->head.end - p)) {
      a->head.ptr = p + n;
      a->allocs++;
      return rmem_track_run_alloc(a->slot.r, chunk_start(a->slot.r, a->cur), (void *)p, size);
    }
    if (a->cls && size - 1 < SLAB_MAX) { /* an object at hand: no new slab, so no limit to check */
      inter_class_t *k = &a->cls[class_of(size)];
      if (RMEM_LIKELY(k->front.n != 0)) {
            a->allocs++;
        return rmem_track_alloc(a->slot.r, rmem_lfront_pop(a->slot.r, &k->front), size, k->list.bsize);
      }
    }
  }
  return rmem_arena_alloc_slow(a, size);
}

void *rmem_arena_alloc_slow(arena_t *a, size_t size) {
  a = arena_check(a);
  if (!a) return NULL;
  return arena_alloc(a, size, 8);
}

void *rmem_arena_alloc_aligned(arena_t *a, size_t size, size_t alignment) {
  a = arena_check(a);
  if (!a) return NULL;
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > MAX_ALIGN)
    return rmem_fail_null(RMEM_EINVAL, "alignment %zu is not a power of two up to 1 GiB", alignment);
  return arena_alloc(a, size, alignment < 8 ? 8 : alignment);
}

static RMEM_NOINLINE rmem_status_t free_checked(arena_t *a, void *p, size_t size) {
  a = arena_check(a);
  if (!a) return rmem_last_error();
  if (a->lifetime != LIFETIME_INTERMEDIATE)
    return rmem_fail(RMEM_EINVAL, "only intermediate arenas free single objects (use reset or a mark)");
  if (p == NULL) return RMEM_OK;
  if (size == 0) return rmem_fail(RMEM_EINVAL, "arena free with size 0");
  rmem_status_t st = inter_free(a, p, size);
  if (a->slot.r->flags & RMEM_OPT_VALIDATE) rmem_validate_after(a->slot.r);
  return st;
}

/*
 * Fast path, as a leaf: p lies in the current slab of size's class, which belongs to this
 * arena by construction and matches size exactly, so the pagemap lookup can be skipped.
 * Everything else -- other slabs, large objects, aligned sizes, bump arenas, errors -- takes
 * free_checked.
 */
rmem_status_t rmem_arena_free(arena_t *a, void *p, size_t size) {
  if (RMEM_LIKELY(rmem_handle_fast(RMEM_HK_ARENA, a, sizeof(struct rmem_arena_head)) && a->cls &&
                  size - 1 < SLAB_MAX)) {
    inter_class_t *k = &a->cls[class_of(size)];
    rmem_slab_t *s = k->list.cur;
    rmem_t *r = a->slot.r;
    uintptr_t u = (uintptr_t)p, off = u - r->base;
    if (RMEM_LIKELY(u - s->start < ((uintptr_t)s->npages << RMEM_PAGE_SHIFT) && rmem_is_live(r, off) &&
                    k->front.n < k->front.cap)) {
      rmem_clear_live(r, off);
      rmem_lfront_push(&k->front, (uint32_t)off);
      rmem_track_free(r, p, k->list.bsize);
        return RMEM_OK;
    }
  }
  return free_checked(a, p, size);
}

rmem_status_t rmem_arena_reset(arena_t *a) {
  a = arena_check(a);
  if (!a) return rmem_last_error();
  rmem_t *r = a->slot.r;
  if (a->lifetime == LIFETIME_INTERMEDIATE) {
    inter_clear(a);
  } else {
    bump_cut(a, a->first, chunk_start(r, a->first));
    a->used_prev = 0;
  }
  a->allocs = 0;
  a->resets++;
  if (r->flags & RMEM_OPT_VALIDATE) rmem_validate_after(r);
  return RMEM_OK;
}

rmem_status_t rmem_arena_destroy(arena_t *a) {
  a = arena_check(a);
  if (!a) return rmem_last_error();
  rmem_t *r = a->slot.r;
  if (a->lifetime == LIFETIME_INTERMEDIATE) {
    inter_clear(a);
    rmem_meta_free(r, a->cls, INTER_BYTES);
    a->cls = NULL;
  } else {
    bump_cut(a, a->first, chunk_start(r, a->first));
    chunk_release(a, a->first);
    a->first = a->cur = NULL;
  }
  a->head.ptr = a->head.end = 0; /* r_arena_fast now always takes the checked path */
  a->used_prev = 0;
  rmem_hslot_kill(&r->arena_state->arenas, a);
  if (r->flags & RMEM_OPT_VALIDATE) rmem_validate_after(r);
  return RMEM_OK;
}

rmem_arena_mark_t rmem_arena_mark(arena_t *a) {
  rmem_arena_mark_t m = {0, 0, 0};
  a = arena_check(a);
  if (!a) return m;
  if (a->lifetime == LIFETIME_INTERMEDIATE) {
    rmem_fail(RMEM_EINVAL, "intermediate arenas have no savepoints (free objects with rmem_arena_free)");
    return m;
  }
  m.chunk_serial = a->cur->serial;
  m.ptr = a->head.ptr;
  m.generation = a->resets;
  return m;
}

rmem_status_t rmem_arena_rewind(arena_t *a, rmem_arena_mark_t mark) {
  a = arena_check(a);
  if (!a) return rmem_last_error();
  if (a->lifetime == LIFETIME_INTERMEDIATE)
    return rmem_fail(RMEM_EINVAL, "intermediate arenas have no savepoints");
  if (mark.generation != a->resets)
    return rmem_fail(RMEM_EINVAL, "the mark was taken before a reset of the arena (generation %u, now %u)",
                     mark.generation, a->resets);
  rmem_t *r = a->slot.r;
  chunk_t *c = a->cur;
  while (c && c->serial > mark.chunk_serial) c = c->prev;
  if (!c || c->serial != mark.chunk_serial)
    return rmem_fail(RMEM_EINVAL, "the mark names a chunk the arena no longer holds");
  uintptr_t top = c == a->cur ? a->head.ptr : c->stop;
  if (mark.ptr < chunk_start(r, c) || mark.ptr > top || (mark.ptr & 7) != 0)
    return rmem_fail(RMEM_EINVAL, "the mark is not a position the arena has reached");
  bump_cut(a, c, mark.ptr);
  if (r->flags & RMEM_OPT_VALIDATE) rmem_validate_after(r);
  return RMEM_OK;
}

void *rmem_arena_lease(arena_t *a, size_t min_size, size_t *len) {
  a = arena_check(a);
  if (!a) return NULL;
  if (!len) return rmem_fail_null(RMEM_EINVAL, "rmem_arena_lease: NULL len");
  if (a->lifetime == LIFETIME_INTERMEDIATE)
    return rmem_fail_null(RMEM_EINVAL, "intermediate arenas cannot lease (they allocate from slabs)");
  size_t n;
  if (!pad_size(min_size ? min_size : 8, &n)) return NULL;
  uintptr_t p;
  if (!bump_room(a, n, 8, &p)) return NULL;
  *len = a->head.end - p;
  a->head.ptr = a->head.end;
  a->allocs++;
  return rmem_track_run_alloc(a->slot.r, chunk_start(a->slot.r, a->cur), (void *)p, *len);
}

rmem_status_t rmem_arena_stats(arena_t *a, rmem_arena_stats_t *out) {
  a = arena_check(a);
  if (!a) return rmem_last_error();
  if (!out) return rmem_fail(RMEM_EINVAL, "rmem_arena_stats: NULL output");
  memset(out, 0, sizeof *out);
  out->lifetime = (lifetime_t)a->lifetime;
  out->allocs = a->allocs;
  out->resets = a->resets;
  if (a->lifetime == LIFETIME_INTERMEDIATE) {
    size_t slabs = 0, live = 0;
    for (int c = 0; c < RMEM_ARENA_CLASSES; c++) {
      slabs += a->cls[c].list.slabs;
      live += class_live(&a->cls[c]) * a->cls[c].list.bsize;
    }
    out->chunks = a->nchunks + slabs;
    out->reserved = a->reserved + inter_slab_bytes(a);
    out->used = live + a->large_bytes;
  } else {
    out->chunks = a->nchunks;
    out->reserved = a->reserved;
    out->used = a->used_prev + (a->head.ptr - chunk_start(a->slot.r, a->cur));
  }
  return RMEM_OK;
}

rmem_t *rmem_arena_instance(arena_t *a) {
  a = arena_check(a);
  return a ? a->slot.r : NULL;
}

arena_t *rmem_arena_from_index(rmem_t *r, uint32_t index, uint32_t generation) {
  if (!rmem_check_instance(r)) return NULL;
  if (!r->arena_state) return rmem_fail_null(RMEM_EBADPTR, "no arena with index %u", index);
  return rmem_hslot_from_index(r, &r->arena_state->arenas, index, generation, "arena");
}

rmem_status_t rmem_arena_index(arena_t *a, uint32_t *index, uint32_t *generation) {
  a = arena_check(a);
  if (!a) return rmem_last_error();
  if (!index || !generation) return rmem_fail(RMEM_EINVAL, "rmem_arena_index: NULL output");
  *index = a->slot.index;
  *generation = a->slot.generation;
  return RMEM_OK;
}

/* ------------------------------------------------------------------------
 * Hooks of rmem_destroy and rmem_validate
 * ------------------------------------------------------------------------ */

void rmem_arenas_fini(rmem_t *r) {
  /* Pages, records and chunk lists die with the range, the pool and the metadata. */
  if (r->arena_state) rmem_htable_fini(&r->arena_state->arenas);
}

static size_t check_run(rmem_t *r, const arena_t *a, const chunk_t *c, const char *what) {
  size_t problems = 0;
  if (c->first_page == 0 || (uint64_t)c->first_page + c->npages > r->top) {
    rmem_problem(&problems, "arena %u: %s at page %u+%u outside the used range (A2)", a->slot.index, what,
                 c->first_page, c->npages);
    return problems;
  }
  const rmem_pme_t *h = &r->pm[c->first_page];
  if (h->kind != RMEM_PK_ARENA || !(h->flags & RMEM_PF_HEAD) || h->len != c->npages || h->owner != a->slot.index)
    rmem_problem(&problems, "arena %u: %s at page %u is not its run in the pagemap (A2)", a->slot.index, what,
                 c->first_page);
  return problems;
}

static size_t check_arena(rmem_t *r, arena_t *a) {
  size_t problems = 0;
  uint32_t id = a->slot.index;
  if (!is_valid_lifetime(a->lifetime)) rmem_problem(&problems, "arena %u: lifetime %u", id, a->lifetime);
  size_t n = 0, reserved = 0;
  if (a->lifetime == LIFETIME_INTERMEDIATE) {
    if (a->head.ptr || a->head.end) rmem_problem(&problems, "arena %u: intermediate with a bump pointer (A5)", id);
    if (!a->cls) {
      rmem_problem(&problems, "arena %u: intermediate without class lists", id);
      return problems;
    }
    for (int c = 0; c < RMEM_ARENA_CLASSES; c++) {
      inter_class_t *k = &a->cls[c];
      rmem_slab_list_t *l = &k->list;
      if (l->bsize != class_size[c] || l->owner_kind != RMEM_SO_ARENA || l->owner_id != id || l->r != r || l->page_tag)
        rmem_problem(&problems, "arena %u: class %d list header damaged (A5)", id, c);
      problems += rmem_slab_list_check(l);
      problems += rmem_front_check_stack(r, l, k->front.st, k->front.n, k->front.cap, RMEM_LFRONT_CAP);
      problems += rmem_front_check_slabs(r, l);
      if (l->used < k->front.n)
        rmem_problem(&problems, "arena %u: class %d has %u objects stacked but %zu used", id, c, k->front.n, l->used);
    }
    size_t large = 0;
    const chunk_t *prev = NULL;
    for (const chunk_t *c = a->large; c; c = c->next) {
      if (++n > a->nchunks) {
        rmem_problem(&problems, "arena %u: large list longer than counted, or cyclic (A4)", id);
        return problems;
      }
      if (c->prev != prev) rmem_problem(&problems, "arena %u: large list back link broken", id);
      prev = c;
      problems += check_run(r, a, c, "large object");
      large += (size_t)c->npages << RMEM_PAGE_SHIFT;
    }
    reserved = large;
    if (large != a->large_bytes) rmem_problem(&problems, "arena %u: large bytes %zu, counted %zu", id, large, a->large_bytes);
  } else {
    if (!a->first || !a->cur) {
      rmem_problem(&problems, "arena %u: bump arena without a chunk (A1)", id);
      return problems;
    }
    const chunk_t *prev = NULL;
    size_t used_prev = 0;
    for (const chunk_t *c = a->first; c; c = c->next) {
      if (++n > a->nchunks) {
        rmem_problem(&problems, "arena %u: chunk list longer than counted, or cyclic (A1)", id);
        return problems;
      }
      if (c->prev != prev || (prev && prev->serial >= c->serial))
        rmem_problem(&problems, "arena %u: chunk list links or serials broken (A1)", id);
      problems += check_run(r, a, c, "chunk");
      reserved += (size_t)c->npages << RMEM_PAGE_SHIFT;
      uintptr_t s = chunk_start(r, c), e = chunk_end(r, c);
      if (c->next) {
        if (c->stop < s || c->stop > e) rmem_problem(&problems, "arena %u: chunk stop outside it (A3)", id);
        else used_prev += c->stop - s;
      } else {
        if (c != a->cur) rmem_problem(&problems, "arena %u: cur is not the last chunk (A1)", id);
        if (a->head.ptr < s || a->head.ptr > a->head.end || a->head.end != e || (a->head.ptr & 7))
          rmem_problem(&problems, "arena %u: bump pointer outside the current chunk (A3)", id);
      }
      prev = c;
    }
    if (used_prev != a->used_prev)
      rmem_problem(&problems, "arena %u: used_prev %zu, chunks say %zu (A3)", id, a->used_prev, used_prev);
  }
  if (n != a->nchunks) rmem_problem(&problems, "arena %u: %zu chunks held, counted %zu (A4)", id, n, a->nchunks);
  if (reserved != a->reserved) rmem_problem(&problems, "arena %u: reserved %zu, chunks say %zu (A4)", id, a->reserved, reserved);
  if (a->max_size && held_bytes(a) > a->max_size)
    rmem_problem(&problems, "arena %u: holds %zu bytes over its limit %zu (A4)", id, held_bytes(a), a->max_size);
  return problems;
}

static size_t arenas_validate(rmem_t *r);

/* An arena of a shared instance is its owner thread's alone: only the caller's own are checked through; the
   others are only counted in the pagemap walk, which runs under the instance's lock. */
static bool arena_mine(const arena_t *a) { return !a->owner_thread || a->owner_thread == rmem_thread_id(); }

size_t rmem_arenas_validate(rmem_t *r) {
  rmem_shared_lock(r);
  size_t problems = arenas_validate(r);
  rmem_shared_unlock(r);
  return problems;
}

static size_t arenas_validate(rmem_t *r) {
  struct rmem_arena_table *t = r->arena_state;
  size_t problems = 0;
  if (!t || !r->arenas.base) {
    for (uint32_t p = 1; p < r->top; p += r->pm[p].len ? r->pm[p].len : 1)
      if (r->pm[p].kind == RMEM_PK_ARENA) {
        rmem_problem(&problems, "page %u: arena pages but no arena exists (A2)", p);
        break;
      }
    return problems;
  }
  problems += rmem_htable_check(r, &t->arenas);
  for (uint32_t i = 1; i < r->arenas.bump; i++) {
    arena_t *a = rmem_pool_at(&r->arenas, i);
    a->vcount = 0;
    a->vslabs = 0;
    if (a->slot.alive == RMEM_HSLOT_ALIVE) {
      if (arena_mine(a)) problems += check_arena(r, a);
    } else if (a->head.ptr || a->head.end || a->first || a->cls || a->nchunks)
      rmem_problem(&problems, "arena %u: destroyed but still holds memory (A6)", i);
  }
  /* every arena run and arena slab of the range belongs to a live arena (A2, A5) */
  for (uint32_t p = 1; p < r->top;) {
    rmem_pme_t *h = &r->pm[p];
    uint32_t len = h->len ? h->len : 1;
    if (h->kind == RMEM_PK_ARENA) {
      arena_t *a = h->owner && h->owner < r->arenas.bump ? rmem_pool_at(&r->arenas, h->owner) : NULL;
      if (!a || a->slot.alive != RMEM_HSLOT_ALIVE) rmem_problem(&problems, "page %u: arena run of no live arena (A2)", p);
      else a->vcount++;
    } else if (h->kind == RMEM_PK_SLAB && h->owner && h->owner < r->slabs.bump) {
      rmem_slab_t *s = rmem_slab_of(r, h);
      if (s->magic == RMEM_SLAB_MAGIC && s->owner_kind == RMEM_SO_ARENA) {
        uint32_t id = s->list ? s->list->owner_id : 0;
        arena_t *a = id && id < r->arenas.bump ? rmem_pool_at(&r->arenas, id) : NULL;
        if (!a || a->slot.alive != RMEM_HSLOT_ALIVE || !a->cls ||
            (uintptr_t)s->list - (uintptr_t)a->cls >= INTER_BYTES)
          rmem_problem(&problems, "page %u: arena slab of no live intermediate arena (A5)", p);
        else a->vslabs++;
      }
    }
    p += len;
  }
  for (uint32_t i = 1; i < r->arenas.bump; i++) {
    arena_t *a = rmem_pool_at(&r->arenas, i);
    if (a->slot.alive != RMEM_HSLOT_ALIVE || !arena_mine(a)) continue;
    if (a->vcount != a->nchunks)
      rmem_problem(&problems, "arena %u: %u runs in the pagemap, %zu held (A2)", i, a->vcount, a->nchunks);
    if (a->lifetime == LIFETIME_INTERMEDIATE) {
      size_t slabs = 0;
      for (int c = 0; c < RMEM_ARENA_CLASSES; c++) slabs += a->cls[c].list.slabs;
      if (slabs != a->vslabs) rmem_problem(&problems, "arena %u: %zu slabs in the pagemap, %zu held (A5)", i, a->vslabs, slabs);
    }
  }
  return problems;
}

/* ------------------------------------------------------------------------
 * The default arenas of an instance (init_arenas, seed.c)
 * ------------------------------------------------------------------------ */

rmem_status_t rmem_arenas_defaults(rmem_t *r) {
  struct rmem_arena_table *t = rmem_arena_table(r);
  if (!t) return rmem_last_error();
  for (int lt = LIFETIME_TRANSIENT; lt <= LIFETIME_PERSISTENT; lt++) {
    arena_t *a = t->defaults[lt];
    if (a && a->slot.alive == RMEM_HSLOT_ALIVE) continue;
    a = rmem_arena_create(r, DEFAULT_CHUNK, (lifetime_t)lt);
    if (!a) return rmem_last_error();
    t->defaults[lt] = a;
  }
  return RMEM_OK;
}

arena_t *rmem_arena_default_of(rmem_t *r, lifetime_t lifetime) {
  if (!is_valid_lifetime((int)lifetime)) return rmem_fail_null(RMEM_EINVAL, "unknown lifetime %d", (int)lifetime);
  if (!r || !r->arena_state || !r->arena_state->defaults[lifetime])
    return rmem_fail_null(RMEM_ENOTINIT, "no default arenas: call init_arenas() first");
  return r->arena_state->defaults[lifetime];
}

/* ------------------------------------------------------------------------
 * For the layout walk and the reports (layout.c)
 * ------------------------------------------------------------------------ */

arena_t *rmem_arena_describe(rmem_t *r, uint32_t index, rmem_run_t *run) {
  if (!r->arena_state || !r->arenas.base || index == 0 || index >= r->arenas.bump) return NULL;
  arena_t *a = rmem_pool_at(&r->arenas, index);
  if (a->slot.alive != RMEM_HSLOT_ALIVE) return NULL;
  run->owner_index = index;
  run->owner_generation = a->slot.generation;
  run->lifetime = (lifetime_t)a->lifetime;
  return a;
}

void rmem_arena_describe_run(rmem_t *r, arena_t *a, uint32_t first_page, rmem_run_t *run) {
  for (const chunk_t *c = a->large; c; c = c->next)
    if (c->first_page == first_page) {
      run->kind = RMEM_RUN_ARENA_LARGE;
      run->size = (size_t)c->stop;
      return;
    }
  run->kind = RMEM_RUN_ARENA_CHUNK;
  for (const chunk_t *c = a->first; c; c = c->next)
    if (c->first_page == first_page) {
      uintptr_t top = c == a->cur ? a->head.ptr : c->stop;
      run->used = (size_t)(top - chunk_start(r, c));
      run->current = c == a->cur;
      return;
    }
}

uint32_t rmem_arena_class_of(const arena_t *a, const rmem_slab_list_t *l) {
  uintptr_t rel = (uintptr_t)l - (uintptr_t)a->cls;
  return a->cls && rel < INTER_BYTES ? (uint32_t)(rel / sizeof(inter_class_t)) : 0;
}
