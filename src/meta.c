/*
 * meta.c - out-of-band memory for the allocators' own structures.
 *
 * Two services, both in mappings of their own and never inside an instance's
 * range, so no write into user memory can reach them:
 *
 *   indexed pools   fixed-size objects (slab descriptors, arena and cache
 *                   records) in one reservation made for the pool's whole
 *                   capacity and never unmapped before the instance dies, so a
 *                   stale index or pointer is always safe to look at. Index 0
 *                   is never used (it means "none"). A freed object keeps its
 *                   content (the free-list links are kept apart), so a
 *                   destroyed record keeps reading "dead".
 *   the metadata    variable-size objects that need no index (MeMS nodes, chunk
 *   allocator       records, names): 16-byte classes up to 4 KiB carved from
 *                   1 MiB blocks with a free list per class; larger requests get
 *                   a mapping of their own.
 *
 * Floor: above os.c and error.c only.
 */
#include "internal.h"

/* ------------------------------------------------------------------------
 * Indexed pools
 * ------------------------------------------------------------------------ */

int rmem_pool_init(rmem_pool_t *pool, size_t obj_size, uint32_t max) {
  memset(pool, 0, sizeof *pool);
  pool->size = (obj_size + 7) & ~(size_t)7;
  pool->max = max;
  /* objects, then the free-list links: the links are kept apart so a freed
     object keeps its content (a destroyed arena must keep reading "dead"). */
  size_t bytes = pool->size * max + sizeof(uint32_t) * (size_t)max;
  size_t ps = rmem_os_page_size();
  bytes = (bytes + ps - 1) & ~(ps - 1);
  pool->base = rmem_os_reserve(bytes);
  if (!pool->base) return -1;
  pool->mapped = bytes;
  pool->bump = 1; /* index 0 means "none" */
  return 0;
}

void rmem_pool_fini(rmem_pool_t *pool) {
  if (pool->base) rmem_os_release(pool->base, pool->mapped);
  memset(pool, 0, sizeof *pool);
}

static uint32_t *pool_links(rmem_pool_t *pool) { return (uint32_t *)(pool->base + pool->size * pool->max); }

void *rmem_pool_get(rmem_pool_t *pool) {
  uint32_t idx;
  if (pool->free) {
    idx = pool->free;
    pool->free = pool_links(pool)[idx];
  } else {
    if (pool->bump >= pool->max) return NULL;
    idx = pool->bump++;
  }
  pool->live++;
  void *obj = rmem_pool_at(pool, idx);
  memset(obj, 0, pool->size);
  return obj;
}

void rmem_pool_put(rmem_pool_t *pool, void *obj) {
  uint32_t idx = rmem_pool_index(pool, obj);
  rmem_assert(idx > 0 && idx < pool->bump && "object of this pool");
  pool_links(pool)[idx] = pool->free;
  pool->free = idx;
  pool->live--;
}

/* ------------------------------------------------------------------------
 * The metadata allocator: 16-byte classes up to 4 KiB carved from 1 MiB
 * blocks, larger requests in their own mapping with a header.
 * ------------------------------------------------------------------------ */

#define META_BLOCK ((size_t)1 << 20)
#define META_CLASSES 256 /* 16 .. 4096 step 16 */
#define META_SMALL_MAX 4096

typedef struct meta_large {
  struct meta_large *next, *prev;
  size_t mapped;
  size_t pad;
} meta_large_t;

struct rmem_meta_state {
  char *block;            /* current block: [block, block + META_BLOCK) */
  size_t used;            /* bytes used in it */
  char *blocks;           /* list of blocks, linked through their first word */
  size_t nblocks;
  void *free[META_CLASSES];
  meta_large_t *large;
  size_t large_bytes;
};

static struct rmem_meta_state *meta_state(rmem_t *r) {
  if (!r->meta) {
    char *b = rmem_os_reserve(META_BLOCK);
    if (!b) return NULL;
    /* the state lives at the start of the first block */
    struct rmem_meta_state *m = (struct rmem_meta_state *)(b + 16);
    memset(m, 0, sizeof *m);
    *(char **)b = NULL;
    m->block = b;
    m->blocks = b;
    m->nblocks = 1;
    m->used = (16 + sizeof *m + 15) & ~(size_t)15;
    r->meta = m;
  }
  return r->meta;
}

static void *meta_alloc(rmem_t *r, size_t size);

void *rmem_meta_alloc(rmem_t *r, size_t size) {
  rmem_shared_lock(r);
  void *p = meta_alloc(r, size);
  rmem_shared_unlock(r);
  return p;
}

static void meta_free(rmem_t *r, void *p, size_t size);

void rmem_meta_free(rmem_t *r, void *p, size_t size) {
  rmem_shared_lock(r);
  meta_free(r, p, size);
  rmem_shared_unlock(r);
}

static void *meta_alloc(rmem_t *r, size_t size) {
  struct rmem_meta_state *m = meta_state(r);
  if (!m || size == 0) return NULL;
  if (size > META_SMALL_MAX) {
    size_t ps = rmem_os_page_size();
    if (size > SIZE_MAX - sizeof(meta_large_t) - ps) return NULL;
    size_t mapped = (size + sizeof(meta_large_t) + ps - 1) & ~(ps - 1);
    meta_large_t *h = rmem_os_reserve(mapped);
    if (!h) return NULL;
    h->mapped = mapped;
    h->prev = NULL;
    h->next = m->large;
    if (m->large) m->large->prev = h;
    m->large = h;
    m->large_bytes += mapped;
    return h + 1;
  }
  size_t cls = (size + 15) / 16 - 1;
  void *p = m->free[cls];
  if (p) {
    m->free[cls] = *(void **)p;
    memset(p, 0, (cls + 1) * 16);
    return p;
  }
  size_t n = (cls + 1) * 16;
  if (m->used + n > META_BLOCK) {
    char *b = rmem_os_reserve(META_BLOCK);
    if (!b) return NULL;
    *(char **)b = m->blocks;
    m->blocks = b;
    m->block = b;
    m->nblocks++;
    m->used = 16;
  }
  p = m->block + m->used;
  m->used += n;
  return p; /* fresh mapping: already zero */
}

static void meta_free(rmem_t *r, void *p, size_t size) {
  struct rmem_meta_state *m = r->meta;
  if (!p || !m) return;
  if (size > META_SMALL_MAX) {
    meta_large_t *h = (meta_large_t *)p - 1;
    if (h->prev) h->prev->next = h->next;
    else m->large = h->next;
    if (h->next) h->next->prev = h->prev;
    m->large_bytes -= h->mapped;
    rmem_os_release(h, h->mapped);
    return;
  }
  size_t cls = (size + 15) / 16 - 1;
  *(void **)p = m->free[cls];
  m->free[cls] = p;
}

void rmem_meta_fini(rmem_t *r) {
  struct rmem_meta_state *m = r->meta;
  if (!m) return;
  for (meta_large_t *h = m->large; h;) {
    meta_large_t *next = h->next;
    rmem_os_release(h, h->mapped);
    h = next;
  }
  char *b = m->blocks;
  r->meta = NULL;
  while (b) {
    char *next = *(char **)b;
    rmem_os_release(b, META_BLOCK);
    b = next;
  }
}

size_t rmem_meta_bytes(const rmem_t *r) {
  const struct rmem_meta_state *m = r->meta;
  return m ? m->nblocks * META_BLOCK + m->large_bytes : 0;
}
