/*
 * mems.c - MeMS, the page-based allocator of the second seed, on the page source.
 *
 * The model (the seed's): a *main chain* of main nodes, each a run of 4 KiB
 * pages with a virtual range [SVA, EVA]; under each main node a *sub-chain* of
 * PROCESS and HOLE segments that covers that range byte for byte. Virtual
 * addresses start at MEMS_VIRTUAL_BASE (1000) and run on contiguously from one
 * main node to the next. A request is served first-fit, in chain order, from a
 * hole (split byte-exactly); if no hole is large enough a new main node of
 * ceil(size / 4096) pages is appended after the last. Freeing turns a segment
 * into a hole and merges it with a hole on either side (never across main
 * nodes: each main node keeps its own sub-chain, as in the seed).
 *
 * What is different from the seed: nothing lives in the user's bytes (segment
 * nodes come from the metadata allocator, the pages from the instance's page
 * source), nothing prints except the print function, bad input is reported
 * through rmem_fail, and nothing walks the chains on the hot paths:
 *
 *   - Every segment is also a node of one AVL tree keyed by its virtual offset
 *     (voff = SVA - MEMS_VIRTUAL_BASE). Because main nodes are numbered in
 *     chain order and their virtual ranges are contiguous, in-order in the
 *     tree IS chain order (main node by main node, then sub-chain order).
 *   - Each tree node carries maxhole, the size of the largest HOLE in its
 *     subtree, so "the first hole in chain order with size >= n" is one
 *     descent: go left whenever the left subtree can serve, else take this
 *     node if it can, else go right. O(log n).
 *   - free and get find their segment by a search on voff: O(log n). The
 *     neighbours to merge with are the sub-chain links: O(1).
 *
 * Invariants (rmem_mems_validate checks every one):
 *   M1  mains[i].voff == sum of mains[j].npages * 4096 for j < i; vtop is the sum
 *       over all main nodes. Every page of main node i is RMEM_PK_MEMS with owner
 *       i + 1, and its head page carries len == npages.
 *   M2  the sub-chain of main node i (head .. tail through next, back through
 *       prev) covers [mains[i].voff, mains[i].voff + npages * 4096) exactly, in
 *       order, every segment with size >= 1, main == i, and a kind of HOLE or
 *       PROCESS; nsegs counts it.
 *   M3  no two holes are neighbours in a sub-chain (free merges at once).
 *   M4  the tree holds exactly the segments of all sub-chains, in-order in chain
 *       order; parent links agree with child links; height is 1 + the larger
 *       child height and the two differ by at most 1; maxhole is the largest
 *       hole size in the subtree (0 if none).
 *   M5  the counters (pages, segments, holes, processes, bytes in holes and in
 *       processes) equal what the chains add up to.
 *
 * Virtual offsets and sizes are stored as uint32_t: a MeMS lives inside one
 * instance, whose range is at most RMEM_MAX_CAPACITY (4 GiB) minus the two
 * reserved pages, so every offset and size is below 2^32. Arithmetic on them
 * is done in uint64_t.
 */
#include "internal.h"

#include <stdio.h>

#define MEMS_MAGIC 0x4D654D53u /* "MeMS" */

/* A segment: a node of its main node's sub-chain and of the index tree. */
typedef struct mems_seg {
  struct mems_seg *left, *right, *parent; /* the index tree */
  struct mems_seg *prev, *next;           /* the sub-chain; NULL at the ends of a main node */
  uint32_t voff;                          /* SVA - MEMS_VIRTUAL_BASE */
  uint32_t size;                          /* bytes, >= 1 */
  uint32_t maxhole;                       /* largest hole size in this subtree, 0 if none */
  uint32_t main;                          /* index of its main node */
  int32_t height;                         /* AVL height, 1 for a leaf */
  uint32_t kind;                          /* MEMS_HOLE or MEMS_PROCESS */
} mems_seg_t;

/* A main node: one run of pages from the page source. */
typedef struct mems_main {
  uint64_t voff;            /* SVA - MEMS_VIRTUAL_BASE */
  uint32_t first_page;      /* page index of the run in the instance */
  uint32_t npages;
  mems_seg_t *head, *tail;  /* its sub-chain */
  size_t nsegs;
} mems_main_t;

struct rmem_mems {
  uint32_t magic;
  mems_seg_t *root;
  mems_main_t *mains;       /* metadata array, grown by doubling */
  size_t nmains, cap_mains;
  uint64_t vtop;            /* virtual offset where the next main node starts */
  /* counters (M5) */
  size_t pages;
  size_t segments, holes, processes;
  size_t hole_bytes, process_bytes;
};

/* ------------------------------------------------------------------------
 * The index: an AVL tree with parent links, augmented with maxhole.
 * ------------------------------------------------------------------------ */

static inline int32_t height_of(const mems_seg_t *n) { return n ? n->height : 0; }
static inline uint32_t maxhole_of(const mems_seg_t *n) { return n ? n->maxhole : 0; }
static inline uint32_t max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }

/* Recomputes height and maxhole of n from its children. */
static inline void pull(mems_seg_t *n) {
  int32_t hl = height_of(n->left), hr = height_of(n->right);
  n->height = 1 + (hl > hr ? hl : hr);
  uint32_t m = n->kind == MEMS_HOLE ? n->size : 0;
  n->maxhole = max_u32(m, max_u32(maxhole_of(n->left), maxhole_of(n->right)));
}

static inline void replace_child(struct rmem_mems *m, mems_seg_t *parent, mems_seg_t *old, mems_seg_t *repl) {
  if (!parent)
    m->root = repl;
  else if (parent->left == old)
    parent->left = repl;
  else
    parent->right = repl;
  if (repl) repl->parent = parent;
}

static mems_seg_t *rotate_left(struct rmem_mems *m, mems_seg_t *x) {
  mems_seg_t *y = x->right;
  x->right = y->left;
  if (y->left) y->left->parent = x;
  replace_child(m, x->parent, x, y);
  y->left = x;
  x->parent = y;
  pull(x);
  pull(y);
  return y;
}

static mems_seg_t *rotate_right(struct rmem_mems *m, mems_seg_t *x) {
  mems_seg_t *y = x->left;
  x->left = y->right;
  if (y->right) y->right->parent = x;
  replace_child(m, x->parent, x, y);
  y->right = x;
  x->parent = y;
  pull(x);
  pull(y);
  return y;
}

/* Restores the AVL balance at x (whose children are balanced); returns the subtree's new root. */
static mems_seg_t *rebalance(struct rmem_mems *m, mems_seg_t *x) {
  int32_t bf = height_of(x->left) - height_of(x->right);
  if (bf > 1) {
    if (height_of(x->left->left) < height_of(x->left->right)) rotate_left(m, x->left);
    return rotate_right(m, x);
  }
  if (bf < -1) {
    if (height_of(x->right->right) < height_of(x->right->left)) rotate_right(m, x->right);
    return rotate_left(m, x);
  }
  return x;
}

/*
 * Walks up from x after a change below or at x, recomputing height and
 * maxhole and rebalancing. Ancestors depend only on their children's
 * (height, maxhole), and every node above the walk still holds the values it
 * had before the change, so the walk stops as soon as a subtree root ends up
 * with the values its parent last saw.
 */
static void retrace(struct rmem_mems *m, mems_seg_t *x) {
  while (x) {
    int32_t oh = x->height;
    uint32_t om = x->maxhole;
    pull(x);
    x = rebalance(m, x);
    if (x->height == oh && x->maxhole == om) return;
    x = x->parent;
  }
}

/* Inserts p (a detached node) as the in-order predecessor of n. */
static void tree_insert_before(struct rmem_mems *m, mems_seg_t *n, mems_seg_t *p) {
  p->left = p->right = NULL;
  p->height = 1;
  p->maxhole = p->kind == MEMS_HOLE ? p->size : 0;
  mems_seg_t *at = n->left;
  if (!at) {
    n->left = p;
    p->parent = n;
  } else {
    while (at->right) at = at->right;
    at->right = p;
    p->parent = at;
  }
  retrace(m, p->parent);
}

/* Inserts p as the last node in order (a new main node's segments). */
static void tree_insert_last(struct rmem_mems *m, mems_seg_t *p) {
  p->left = p->right = NULL;
  p->height = 1;
  p->maxhole = p->kind == MEMS_HOLE ? p->size : 0;
  mems_seg_t *at = m->root;
  if (!at) {
    p->parent = NULL;
    m->root = p;
    return;
  }
  while (at->right) at = at->right;
  at->right = p;
  p->parent = at;
  retrace(m, at);
}

/* Unlinks n from the tree. Nodes are relinked, never copied, so chain links stay valid. */
static void tree_remove(struct rmem_mems *m, mems_seg_t *n) {
  mems_seg_t *start;
  if (n->left && n->right) {
    mems_seg_t *s = n->right; /* the successor takes n's place */
    while (s->left) s = s->left;
    if (s != n->right) {
      start = s->parent;
      start->left = s->right;
      if (s->right) s->right->parent = start;
      s->right = n->right;
      n->right->parent = s;
    } else {
      start = s;
    }
    s->left = n->left;
    n->left->parent = s;
    replace_child(m, n->parent, n, s);
    /* s now stands where n stood: give it the values n's parent last saw (see retrace). */
    s->height = n->height;
    s->maxhole = n->maxhole;
    n->left = n->right = n->parent = NULL;
    retrace(m, start);
    /* If that walk stopped below s, s still holds n's values, not its own. */
    if (start != s) retrace(m, s);
    return;
  }
  mems_seg_t *child = n->left ? n->left : n->right;
  start = n->parent;
  replace_child(m, start, n, child);
  n->left = n->right = n->parent = NULL;
  retrace(m, start);
}

/* The segment whose voff is exactly v, or NULL. */
static mems_seg_t *tree_find(const struct rmem_mems *m, uint64_t v) {
  mems_seg_t *n = m->root;
  while (n) {
    if (v < n->voff)
      n = n->left;
    else if (v > n->voff)
      n = n->right;
    else
      return n;
  }
  return NULL;
}

/* The segment with the largest voff <= v (the one containing v if v < vtop), or NULL. */
static mems_seg_t *tree_floor(const struct rmem_mems *m, uint64_t v) {
  mems_seg_t *n = m->root, *best = NULL;
  while (n) {
    if (v < n->voff) {
      n = n->left;
    } else {
      best = n;
      if (v == n->voff) break;
      n = n->right;
    }
  }
  return best;
}

/* The first hole in chain order with size >= size, or NULL. */
static mems_seg_t *tree_first_fit(const struct rmem_mems *m, uint64_t size) {
  mems_seg_t *n = m->root;
  if (!n || n->maxhole < size) return NULL;
  for (;;) {
    if (n->left && n->left->maxhole >= size)
      n = n->left;
    else if (n->kind == MEMS_HOLE && n->size >= size)
      return n;
    else
      n = n->right; /* maxhole says the right subtree has one */
  }
}

static mems_seg_t *tree_first(mems_seg_t *n) {
  if (n)
    while (n->left) n = n->left;
  return n;
}

static mems_seg_t *tree_next(mems_seg_t *n) {
  if (n->right) return tree_first(n->right);
  while (n->parent && n->parent->right == n) n = n->parent;
  return n->parent;
}

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

static inline uint64_t main_bytes(const mems_main_t *mn) { return (uint64_t)mn->npages * MEMS_PAGE_SIZE; }

static inline uintptr_t seg_phys(const rmem_t *r, const struct rmem_mems *m, const mems_seg_t *s) {
  const mems_main_t *mn = &m->mains[s->main];
  return rmem_page_addr(r, mn->first_page) + (uintptr_t)(s->voff - mn->voff);
}

static mems_seg_t *seg_new(rmem_t *r, uint32_t main, uint64_t voff, uint64_t size, uint32_t kind) {
  mems_seg_t *s = rmem_meta_alloc(r, sizeof *s);
  if (!s) return NULL;
  s->voff = (uint32_t)voff;
  s->size = (uint32_t)size;
  s->main = main;
  s->kind = kind;
  return s;
}

static void junk(const rmem_t *r, const struct rmem_mems *m, const mems_seg_t *s, int byte) {
  if (r->flags & RMEM_OPT_JUNK) memset((void *)seg_phys(r, m, s), byte, s->size);
}

static void after_op(rmem_t *r) {
  if (r->flags & RMEM_OPT_VALIDATE) (void)rmem_mems_validate(r);
}

/* Checks the instance and that MeMS is initialised on it; records the error. */
static struct rmem_mems *mems_of(rmem_t *r, const char *fn) {
  if (!rmem_check_instance(r)) return NULL;
  if (!r->mems) {
    rmem_fail(RMEM_ENOTINIT, "%s: MeMS is not initialised on this instance (call mems_init first)", fn);
    return NULL;
  }
  return r->mems;
}

/* Frees every segment node, returns every main node's pages, frees the state. */
static void teardown(rmem_t *r) {
  struct rmem_mems *m = r->mems;
  if (!m) return;
  for (size_t i = 0; i < m->nmains; i++) {
    mems_seg_t *s = m->mains[i].head;
    while (s) {
      mems_seg_t *next = s->next;
      rmem_meta_free(r, s, sizeof *s);
      s = next;
    }
    rmem_pages_free(r, m->mains[i].first_page);
  }
  if (m->mains) rmem_meta_free(r, m->mains, m->cap_mains * sizeof *m->mains);
  m->magic = 0;
  rmem_meta_free(r, m, sizeof *m);
  r->mems = NULL;
}

/* ------------------------------------------------------------------------
 * The API on an explicit instance
 * ------------------------------------------------------------------------ */

rmem_status_t rmem_mems_init(rmem_t *r) {
  if (!rmem_check_instance(r)) return rmem_last_error();
  if (r->mems) return RMEM_OK; /* a second init keeps the live state: nothing is lost or leaked */
  struct rmem_mems *m = rmem_meta_alloc(r, sizeof *m);
  if (!m) return rmem_fail(RMEM_ENOMEM, "mems_init: out of metadata memory");
  m->magic = MEMS_MAGIC;
  r->mems = m;
  return RMEM_OK;
}

/* Appends a main node of npages pages holding one PROCESS segment of size bytes (and a hole after it). */
static mems_seg_t *grow(rmem_t *r, struct rmem_mems *m, uint64_t size) {
  uint64_t npages = (size + MEMS_PAGE_SIZE - 1) / MEMS_PAGE_SIZE;
  uint64_t bytes = npages * MEMS_PAGE_SIZE;
  if (m->nmains == m->cap_mains) {
    size_t cap = m->cap_mains ? m->cap_mains * 2 : 16;
    mems_main_t *a = rmem_meta_alloc(r, cap * sizeof *a);
    if (!a) return rmem_fail_null(RMEM_ENOMEM, "mems_malloc: out of metadata memory");
    if (m->mains) {
      memcpy(a, m->mains, m->nmains * sizeof *a);
      rmem_meta_free(r, m->mains, m->cap_mains * sizeof *m->mains);
    }
    m->mains = a;
    m->cap_mains = cap;
  }
  uint32_t idx = (uint32_t)m->nmains;
  mems_seg_t *p = seg_new(r, idx, m->vtop, size, MEMS_PROCESS);
  mems_seg_t *h = bytes > size ? seg_new(r, idx, m->vtop + size, bytes - size, MEMS_HOLE) : NULL;
  if (!p || (bytes > size && !h)) {
    if (p) rmem_meta_free(r, p, sizeof *p);
    if (h) rmem_meta_free(r, h, sizeof *h);
    return rmem_fail_null(RMEM_ENOMEM, "mems_malloc: out of metadata memory");
  }
  uint32_t first = rmem_pages_alloc(r, (uint32_t)npages, 1, RMEM_PK_MEMS, idx + 1);
  if (first == 0) { /* the page source recorded ENOMEM */
    rmem_meta_free(r, p, sizeof *p);
    if (h) rmem_meta_free(r, h, sizeof *h);
    return NULL;
  }
  mems_main_t *mn = &m->mains[idx];
  mn->voff = m->vtop;
  mn->first_page = first;
  mn->npages = (uint32_t)npages;
  mn->head = p;
  mn->tail = h ? h : p;
  mn->nsegs = h ? 2 : 1;
  p->prev = NULL;
  p->next = h;
  if (h) {
    h->prev = p;
    h->next = NULL;
  }
  m->nmains++;
  m->vtop += bytes;
  m->pages += npages;
  tree_insert_last(m, p);
  m->segments++;
  m->processes++;
  m->process_bytes += size;
  if (h) {
    tree_insert_last(m, h);
    m->segments++;
    m->holes++;
    m->hole_bytes += h->size;
  }
  return p;
}

uintptr_t rmem_mems_malloc(rmem_t *r, size_t size) {
  struct rmem_mems *m = mems_of(r, "mems_malloc");
  if (!m) return 0;
  if (size == 0) return (uintptr_t)rmem_fail_null(RMEM_EINVAL, "mems_malloc: size must be at least 1");
  uint64_t most = (uint64_t)(r->limit - 1) * MEMS_PAGE_SIZE; /* every usable page of the instance */
  if (size > most)
    return (uintptr_t)rmem_fail_null(RMEM_ERANGE, "mems_malloc: %zu bytes is more than this instance can hold (%llu)",
                                     size, (unsigned long long)most);
  mems_seg_t *h = tree_first_fit(m, size), *p;
  if (h) {
    if (h->size == size) { /* exact fit: the hole becomes the segment */
      h->kind = MEMS_PROCESS;
      retrace(m, h);
      m->holes--;
      m->processes++;
      p = h;
    } else { /* split: the front becomes the segment, the hole keeps the rest */
      p = seg_new(r, h->main, h->voff, size, MEMS_PROCESS);
      if (!p) return (uintptr_t)rmem_fail_null(RMEM_ENOMEM, "mems_malloc: out of metadata memory");
      h->voff += (uint32_t)size; /* order is kept: nothing lies between the old and new voff */
      h->size -= (uint32_t)size;
      retrace(m, h);
      tree_insert_before(m, h, p);
      mems_main_t *mn = &m->mains[h->main];
      p->prev = h->prev;
      p->next = h;
      if (h->prev)
        h->prev->next = p;
      else
        mn->head = p;
      h->prev = p;
      mn->nsegs++;
      m->segments++;
      m->processes++;
    }
    m->hole_bytes -= size;
    m->process_bytes += size;
  } else {
    p = grow(r, m, size);
    if (!p) return 0;
  }
  junk(r, m, p, 0xAB);
  after_op(r);
  return (uintptr_t)MEMS_VIRTUAL_BASE + p->voff;
}

/* Finds the segment containing vaddr, or NULL (vaddr outside every main node). */
static mems_seg_t *containing(const struct rmem_mems *m, uintptr_t vaddr) {
  if (vaddr < MEMS_VIRTUAL_BASE || vaddr - MEMS_VIRTUAL_BASE >= m->vtop) return NULL;
  return tree_floor(m, vaddr - MEMS_VIRTUAL_BASE);
}

/* Unlinks s from its sub-chain and the tree and frees it. */
static void seg_drop(rmem_t *r, struct rmem_mems *m, mems_seg_t *s) {
  mems_main_t *mn = &m->mains[s->main];
  if (s->prev)
    s->prev->next = s->next;
  else
    mn->head = s->next;
  if (s->next)
    s->next->prev = s->prev;
  else
    mn->tail = s->prev;
  mn->nsegs--;
  m->segments--;
  tree_remove(m, s);
  rmem_meta_free(r, s, sizeof *s);
}

rmem_status_t rmem_mems_free(rmem_t *r, uintptr_t vaddr) {
  struct rmem_mems *m = mems_of(r, "mems_free");
  if (!m) return rmem_last_error();
  mems_seg_t *s = NULL;
  if (vaddr >= MEMS_VIRTUAL_BASE && vaddr - MEMS_VIRTUAL_BASE < m->vtop) s = tree_find(m, vaddr - MEMS_VIRTUAL_BASE);
  if (!s || s->kind != MEMS_PROCESS) {
    mems_seg_t *c = s ? s : containing(m, vaddr);
    if (c && c->kind == MEMS_HOLE)
      return rmem_fail(RMEM_EDOUBLEFREE, "mems_free: virtual address %zu is not allocated (it lies in a hole)",
                       (size_t)vaddr);
    if (c)
      return rmem_fail(RMEM_EBADPTR, "mems_free: virtual address %zu is inside the segment at %zu, not its start",
                       (size_t)vaddr, (size_t)(MEMS_VIRTUAL_BASE + c->voff));
    return rmem_fail(RMEM_EBADPTR, "mems_free: virtual address %zu is not in any main node", (size_t)vaddr);
  }
  junk(r, m, s, 0xDF);
  m->processes--;
  m->process_bytes -= s->size;
  m->hole_bytes += s->size;
  mems_seg_t *next = s->next, *prev = s->prev;
  if (next && next->kind == MEMS_HOLE) { /* absorb the hole after */
    s->size += next->size;
    m->holes--;
    seg_drop(r, m, next);
  }
  if (prev && prev->kind == MEMS_HOLE) { /* the hole before absorbs s */
    prev->size += s->size;
    seg_drop(r, m, s);
    retrace(m, prev);
  } else {
    s->kind = MEMS_HOLE;
    m->holes++;
    retrace(m, s);
  }
  after_op(r);
  return RMEM_OK;
}

void *rmem_mems_get(rmem_t *r, uintptr_t vaddr) {
  struct rmem_mems *m = mems_of(r, "mems_get");
  if (!m) return NULL;
  mems_seg_t *s = containing(m, vaddr);
  if (!s) return rmem_fail_null(RMEM_EBADPTR, "mems_get: virtual address %zu is not in any main node", (size_t)vaddr);
  if (s->kind != MEMS_PROCESS)
    return rmem_fail_null(RMEM_EBADPTR, "mems_get: virtual address %zu lies in a hole, not an allocated segment",
                          (size_t)vaddr);
  return (void *)(seg_phys(r, m, s) + (vaddr - MEMS_VIRTUAL_BASE - s->voff));
}

rmem_status_t rmem_mems_stats(rmem_t *r, rmem_mems_stats_t *out) {
  struct rmem_mems *m = mems_of(r, "mems_stats");
  if (!m) return rmem_last_error();
  if (!out) return rmem_fail(RMEM_EINVAL, "mems_stats: out is NULL");
  out->pages_used = m->pages;
  out->space_unused = m->hole_bytes;
  out->main_chain_length = m->nmains;
  out->segments = m->segments;
  out->process_segments = m->processes;
  out->hole_segments = m->holes;
  out->bytes_in_use = m->process_bytes;
  return RMEM_OK;
}

/*
 * The seed's format, line for line:
 *   MeMS Stats:
 *   MAIN[1000:5095] -> <P>[SVA:1000:EVA:1999] <-> <H>[SVA:2000:EVA:5095] <-> <NULL>
 *   Page used: 1
 *   Space unused: 3096
 *   Main Chain Length: 1
 *   Sub-chain Length array: 2
 * One MAIN line per main node; the sub-chain lengths are separated by one
 * space (the seed printed "%d " per node, so its line ended in a space; we
 * drop that trailing space so the line reads exactly as the seed's README
 * shows it).
 */
rmem_status_t rmem_mems_print_stats(rmem_t *r, FILE *f) {
  struct rmem_mems *m = mems_of(r, "mems_print_stats");
  if (!m) return rmem_last_error();
  if (!f) f = stdout;
  fputs("MeMS Stats:\n", f);
  for (size_t i = 0; i < m->nmains; i++) {
    const mems_main_t *mn = &m->mains[i];
    uint64_t sva = MEMS_VIRTUAL_BASE + mn->voff;
    fprintf(f, "MAIN[%llu:%llu] -> ", (unsigned long long)sva, (unsigned long long)(sva + main_bytes(mn) - 1));
    for (const mems_seg_t *s = mn->head; s; s = s->next) {
      uint64_t ssva = (uint64_t)MEMS_VIRTUAL_BASE + s->voff;
      fprintf(f, "<%s>[SVA:%llu:EVA:%llu] <-> ", s->kind == MEMS_HOLE ? "H" : "P", (unsigned long long)ssva,
              (unsigned long long)(ssva + s->size - 1));
    }
    fputs("<NULL>\n", f);
  }
  fprintf(f, "Page used: %zu\n", m->pages);
  fprintf(f, "Space unused: %zu\n", m->hole_bytes);
  fprintf(f, "Main Chain Length: %zu\n", m->nmains);
  fputs("Sub-chain Length array:", f);
  for (size_t i = 0; i < m->nmains; i++) fprintf(f, " %zu", m->mains[i].nsegs);
  fputc('\n', f);
  return ferror(f) ? rmem_fail(RMEM_EINVAL, "mems_print_stats: writing to the stream failed") : RMEM_OK;
}

rmem_status_t rmem_mems_walk(rmem_t *r, rmem_mems_fn *visit, void *arg) {
  struct rmem_mems *m = mems_of(r, "mems_walk");
  if (!m) return rmem_last_error();
  if (!visit) return rmem_fail(RMEM_EINVAL, "mems_walk: visit is NULL");
  for (size_t i = 0; i < m->nmains; i++) {
    for (const mems_seg_t *s = m->mains[i].head; s; s = s->next) {
      rmem_mems_segment_t seg = {
          .main_index = i,
          .sva = (size_t)MEMS_VIRTUAL_BASE + s->voff,
          .eva = (size_t)MEMS_VIRTUAL_BASE + s->voff + s->size - 1,
          .kind = (rmem_mems_kind_t)s->kind,
          .physical = (void *)seg_phys(r, m, s),
      };
      if (visit(&seg, arg)) return RMEM_OK;
    }
  }
  return RMEM_OK;
}

rmem_status_t rmem_mems_finish(rmem_t *r) {
  if (!mems_of(r, "mems_finish")) return rmem_last_error();
  teardown(r);
  rmem_pages_release(r); /* the freed pages really go back to the OS */
  return RMEM_OK;
}

void rmem_mems_fini(rmem_t *r) { teardown(r); }

/* ------------------------------------------------------------------------
 * The validator
 * ------------------------------------------------------------------------ */

/* Checks M4's structure below n; returns the subtree's height (computed), sets *maxhole. */
static int32_t check_subtree(const mems_seg_t *n, const mems_seg_t *parent, int depth, uint32_t *maxhole,
                             size_t *count, size_t *problems) {
  *maxhole = 0;
  if (!n) return 0;
  if (depth > 96) { /* an AVL tree of < 2^32 nodes is at most ~46 deep: this is a cycle */
    rmem_problem(problems, "mems: the tree is too deep (a cycle?) at %u", n->voff);
    return 0;
  }
  if (n->parent != parent) rmem_problem(problems, "mems: segment %u has a wrong parent link", n->voff);
  if (n->left && n->left->voff >= n->voff) rmem_problem(problems, "mems: tree order broken at %u", n->voff);
  if (n->right && n->right->voff <= n->voff) rmem_problem(problems, "mems: tree order broken at %u", n->voff);
  (*count)++;
  uint32_t ml, mr;
  int32_t hl = check_subtree(n->left, n, depth + 1, &ml, count, problems);
  int32_t hr = check_subtree(n->right, n, depth + 1, &mr, count, problems);
  int32_t h = 1 + (hl > hr ? hl : hr);
  if (n->height != h) rmem_problem(problems, "mems: segment %u has height %d, expected %d", n->voff, n->height, h);
  if (hl - hr > 1 || hr - hl > 1) rmem_problem(problems, "mems: tree unbalanced at %u", n->voff);
  uint32_t m = max_u32(n->kind == MEMS_HOLE ? n->size : 0, max_u32(ml, mr));
  if (n->maxhole != m)
    rmem_problem(problems, "mems: segment %u has maxhole %u, expected %u", n->voff, n->maxhole, m);
  *maxhole = m;
  return h;
}

size_t rmem_mems_validate(rmem_t *r) {
  size_t problems = 0;
  if (!r || !r->mems) return 0;
  const struct rmem_mems *m = r->mems;
  if (m->magic != MEMS_MAGIC) {
    rmem_problem(&problems, "mems: bad magic");
    return problems;
  }
  size_t segs = 0, holes = 0, procs = 0, hole_bytes = 0, proc_bytes = 0, pages = 0;
  uint64_t voff = 0;
  const mems_seg_t *in = tree_first(m->root); /* in-order walk of the tree, alongside the chains */
  for (size_t i = 0; i < m->nmains; i++) {
    const mems_main_t *mn = &m->mains[i];
    if (mn->voff != voff) rmem_problem(&problems, "mems: main node %zu starts at %llu, expected %llu", i,
                                       (unsigned long long)mn->voff, (unsigned long long)voff);
    if (mn->npages == 0 || mn->first_page == 0 || (uint64_t)mn->first_page + mn->npages > r->limit) {
      rmem_problem(&problems, "mems: main node %zu has a bad page run (%u, %u)", i, mn->first_page, mn->npages);
      return problems;
    }
    if (r->pm[mn->first_page].len != mn->npages || !(r->pm[mn->first_page].flags & RMEM_PF_HEAD))
      rmem_problem(&problems, "mems: main node %zu: the pagemap head does not carry its run", i);
    for (uint32_t p = 0; p < mn->npages; p++) {
      const rmem_pme_t *e = &r->pm[mn->first_page + p];
      if (e->kind != RMEM_PK_MEMS || e->owner != i + 1) {
        rmem_problem(&problems, "mems: page %u of main node %zu is kind %u owner %u", mn->first_page + p, i, e->kind,
                     e->owner);
        break;
      }
    }
    pages += mn->npages;
    uint64_t end = voff + main_bytes(mn), at = voff;
    size_t n = 0;
    const mems_seg_t *prev = NULL;
    for (const mems_seg_t *s = mn->head; s; prev = s, s = s->next) {
      if (s->prev != prev) rmem_problem(&problems, "mems: main node %zu: broken prev link at %u", i, s->voff);
      if (s->main != i) rmem_problem(&problems, "mems: segment %u says main %u, is in %zu", s->voff, s->main, i);
      if (s->voff != at || s->size == 0 || at + s->size > end) {
        rmem_problem(&problems, "mems: main node %zu: segment at %u (size %u) breaks contiguity at %llu", i, s->voff,
                     s->size, (unsigned long long)at);
        return problems; /* the rest of the chain cannot be trusted */
      }
      if (s->kind != MEMS_HOLE && s->kind != MEMS_PROCESS) rmem_problem(&problems, "mems: segment %u bad kind", s->voff);
      if (s->kind == MEMS_HOLE && prev && prev->kind == MEMS_HOLE)
        rmem_problem(&problems, "mems: adjacent holes at %u and %u", prev->voff, s->voff);
      if (in != s) {
        rmem_problem(&problems, "mems: the tree and the chain disagree at %u", s->voff);
        return problems;
      }
      in = tree_next((mems_seg_t *)in);
      if (s->kind == MEMS_HOLE) {
        holes++;
        hole_bytes += s->size;
      } else {
        procs++;
        proc_bytes += s->size;
      }
      at += s->size;
      n++;
      if (n > (size_t)main_bytes(mn)) {
        rmem_problem(&problems, "mems: main node %zu: sub-chain loops", i);
        return problems;
      }
    }
    if (at != end) rmem_problem(&problems, "mems: main node %zu: sub-chain ends at %llu, node at %llu", i,
                                (unsigned long long)at, (unsigned long long)end);
    if (mn->tail != prev) rmem_problem(&problems, "mems: main node %zu: wrong tail", i);
    if (mn->nsegs != n) rmem_problem(&problems, "mems: main node %zu: nsegs %zu, chain has %zu", i, mn->nsegs, n);
    segs += n;
    voff = end;
  }
  if (in) rmem_problem(&problems, "mems: the tree holds segments that are in no chain");
  if (voff != m->vtop) rmem_problem(&problems, "mems: vtop %llu, main nodes end at %llu", (unsigned long long)m->vtop,
                                    (unsigned long long)voff);
  uint32_t mh;
  size_t count = 0;
  if (m->root && m->root->parent) rmem_problem(&problems, "mems: the root has a parent");
  check_subtree(m->root, NULL, 0, &mh, &count, &problems);
  if (count != segs) rmem_problem(&problems, "mems: the tree has %zu segments, the chains %zu", count, segs);
  if (m->pages != pages || m->segments != segs || m->holes != holes || m->processes != procs ||
      m->hole_bytes != hole_bytes || m->process_bytes != proc_bytes)
    rmem_problem(&problems, "mems: counters disagree with the chains");
  return problems;
}

/* ------------------------------------------------------------------------
 * The seed's names, on the default instance
 * ------------------------------------------------------------------------ */

static rmem_t *default_or_fail(const char *fn) {
  rmem_t *r = rmem_default();
  if (!r) rmem_fail(RMEM_ENOTINIT, "%s: MeMS is not initialised (call mems_init first)", fn);
  return r;
}

rmem_status_t mems_init(void) {
  rmem_status_t st = rmem_init_default(NULL);
  if (st != RMEM_OK) return st;
  return rmem_mems_init(rmem_default());
}

void *mems_malloc(size_t size) {
  rmem_t *r = default_or_fail("mems_malloc");
  return r ? (void *)rmem_mems_malloc(r, size) : NULL;
}

rmem_status_t mems_free(void *v_ptr) {
  rmem_t *r = default_or_fail("mems_free");
  return r ? rmem_mems_free(r, (uintptr_t)v_ptr) : RMEM_ENOTINIT;
}

void *mems_get(void *v_ptr) {
  rmem_t *r = default_or_fail("mems_get");
  return r ? rmem_mems_get(r, (uintptr_t)v_ptr) : NULL;
}

void mems_print_stats(void) {
  rmem_t *r = default_or_fail("mems_print_stats");
  if (r) (void)rmem_mems_print_stats(r, stdout);
}

rmem_status_t mems_finish(void) {
  rmem_t *r = default_or_fail("mems_finish");
  return r ? rmem_mems_finish(r) : RMEM_ENOTINIT;
}
