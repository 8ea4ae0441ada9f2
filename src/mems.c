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
 * What is different from the seed: nothing lives in the user's bytes (the
 * chains are metadata from rmem_meta_alloc, the pages come from the instance's
 * page source), nothing prints except the print function, bad input is
 * reported through rmem_fail, and nothing walks the chains on the hot paths.
 *
 * The chains are stored as one B+-tree keyed by virtual offset (voff = SVA -
 * MEMS_VIRTUAL_BASE). Main nodes are numbered in chain order and their
 * virtual ranges are contiguous, so the tree's leaf order IS chain order:
 * main node by main node, each main node's sub-chain in order. Reading the
 * leaves left to right and cutting at main-node boundaries gives the seed's
 * sub-chains back (print, walk and the validator do exactly that).
 *
 *   - A leaf holds up to MEMS_LEAF_CAP segments as parallel arrays (voff, size,
 *     info = main index << 1 | PROCESS bit), so a search reads one short array.
 *     Leaves are linked left to right.
 *   - An inner node holds, per child, the child's smallest voff (key) and the
 *     largest hole anywhere below it (max). "The first hole in chain order
 *     with size >= n" is one descent: in each node take the first child whose
 *     max is >= n. free and get descend by key. The inner nodes of a tree of
 *     100,000 segments fit in a few hundred KiB and stay in cache, so an
 *     operation costs about one leaf's cache misses.
 *   - Nodes keep no parent links: every operation descends from the root and
 *     records its path, and changes propagate up that path.
 *   - Deletion does not merge underfull nodes; an empty node is unlinked, and
 *     when the leaves get sparse (average fill below a quarter) or the tree too
 *     tall the whole tree is rebuilt from the leaf list (amortized O(1)).
 *   - Splits need new nodes; the nodes an operation may need are reserved
 *     before anything changes, so running out of metadata memory fails the
 *     call cleanly instead of leaving half a split.
 *   - Why not a balanced binary tree: the first version was an AVL tree with
 *     the same max-hole augmentation; at 100,000 live segments it cost 850 ns
 *     per malloc and 1,470 ns per free (a dependent cache miss for each of
 *     ~18 levels). Here a descent is three levels of cached inner nodes and
 *     one leaf whose 8 lines are fetched together (bench/c/bench_mems.c).
 *
 * Invariants (rmem_mems_validate checks every one):
 *   M1  mains[i].voff == the sum of mains[j].npages * 4096 for j < i; vtop is
 *       the sum over all main nodes. Every page of main node i is RMEM_PK_MEMS
 *       with owner i + 1, and its head page carries len == npages.
 *   M2  read in leaf order, the segments of main node i cover [mains[i].voff,
 *       mains[i].voff + npages * 4096) exactly, in order, each with size >= 1;
 *       main indices never decrease.
 *   M3  no two holes are neighbours within a main node (free merges at once).
 *   M4  every leaf is at depth height; every node holds 1..cap entries; keys
 *       and voffs strictly increase; an inner node's key[i] is the smallest
 *       voff below child i and max[i] the largest hole below it (0 if none);
 *       the leaf list links the leaves in tree order.
 *   M5  the counters (pages, segments, holes, processes, bytes in holes and in
 *       processes, leaves) equal what the leaves add up to.
 *
 * Virtual offsets and sizes are stored as uint32_t: a MeMS lives inside one
 * instance, whose range is at most RMEM_MAX_CAPACITY (4 GiB) minus the two
 * reserved pages, so every offset and size is below 2^32.
 */
#include "internal.h"
#include "track.h"

#include <stdio.h>

#define MEMS_MAGIC 0x4D654D53u /* "MeMS" */
#define MEMS_NODE_BYTES 512u  /* one node: 8 cache lines, 64-byte aligned */
/* test/c/test_mems_tree.c builds this file with tiny nodes so that every split,
   collapse and rebuild happens constantly; hence the #ifndef guards. */
#ifndef MEMS_LEAF_CAP
#define MEMS_LEAF_CAP 40u      /* 24 bytes of header + 40 * 12 bytes */
#endif
#ifndef MEMS_INNER_CAP
#define MEMS_INNER_CAP 31u     /* 8 bytes of header + 31 * 16 bytes */
#endif
#ifndef MEMS_FILL
#define MEMS_FILL 24u          /* entries per node after a rebuild (<= both caps) */
#endif
#define MEMS_CHUNK_NODES 64u   /* nodes are carved from chunks of this many */
#define MEMS_MAX_HEIGHT 24     /* path arrays; a rebuild keeps the height far below */
#ifndef MEMS_REBUILD_HEIGHT
#define MEMS_REBUILD_HEIGHT 12 /* rebuild before an insert once the tree is this tall */
#endif

/* One node: a leaf (segments) or an inner node (children). Which one is known from the depth. */
typedef struct mems_node {
  uint32_t n; /* entries in use */
  uint32_t pad_;
  union {
    struct {
      struct mems_node *prev, *next; /* the leaf list, in chain order */
      uint32_t voff[MEMS_LEAF_CAP];
      uint32_t size[MEMS_LEAF_CAP];
      uint32_t info[MEMS_LEAF_CAP]; /* main index << 1 | 1 for PROCESS, 0 for HOLE */
    } leaf;
    struct {
      uint32_t key[MEMS_INNER_CAP]; /* smallest voff below child i */
      uint32_t max[MEMS_INNER_CAP]; /* largest hole below child i, 0 if none */
      struct mems_node *child[MEMS_INNER_CAP];
    } in;
    char bytes_[MEMS_NODE_BYTES - 8];
  } u;
} mems_node_t;

_Static_assert(sizeof(mems_node_t) == MEMS_NODE_BYTES, "a node is exactly 8 cache lines");

/* The way down to one segment: inner node and child index per level, then the leaf and the slot. */
typedef struct mems_path {
  mems_node_t *node[MEMS_MAX_HEIGHT];
  uint32_t idx[MEMS_MAX_HEIGHT];
  mems_node_t *leaf;
  uint32_t j;
} mems_path_t;

/* A main node: one run of pages from the page source. */
typedef struct mems_main {
  uint64_t voff;       /* SVA - MEMS_VIRTUAL_BASE */
  uint32_t first_page; /* page index of the run in the instance */
  uint32_t npages;
  /* No per-node segment count: the hot paths would touch this array (a cache
     miss per call at 100,000 segments) only to keep it; print counts instead. */
} mems_main_t;

struct rmem_mems {
  uint32_t magic;
  int height;          /* inner levels above the leaves; 0 = the root is a leaf */
  mems_node_t *root;   /* NULL while there are no segments */
  mems_node_t *first;  /* leftmost leaf */
  mems_node_t *spare;  /* free nodes, linked through u.in.child[0] */
  uint32_t nspare;
  void *chunks;        /* the node chunks, linked through their first word */
  size_t nodes;        /* nodes in the tree */
  size_t leaves;
  mems_main_t *mains;  /* metadata array, grown by doubling */
  size_t nmains, cap_mains;
  uint64_t vtop;       /* virtual offset where the next main node starts */
  /* counters (M5) */
  size_t pages;
  size_t segments, holes, processes;
  size_t hole_bytes, process_bytes;
  size_t rebuilds;
};

static inline uint32_t max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }
static inline bool is_process(uint32_t info) { return (info & 1u) != 0; }
static inline uint32_t main_of(uint32_t info) { return info >> 1; }

/* ------------------------------------------------------------------------
 * Nodes: 64-byte aligned chunks from the metadata allocator, and a free list
 * ------------------------------------------------------------------------ */

/*
 * Nodes come from chunks of MEMS_CHUNK_NODES, 64-byte aligned so that a node
 * covers exactly 8 cache lines, and go back to the spare list when freed (the
 * chunks are returned at finish). Makes sure `need` nodes can be taken
 * without failing.
 */
#define MEMS_CHUNK_BYTES ((size_t)MEMS_CHUNK_NODES * MEMS_NODE_BYTES + 64 + sizeof(void *))

static bool reserve(rmem_t *r, struct rmem_mems *m, uint32_t need) {
  while (m->nspare < need) {
    char *raw = rmem_meta_alloc(r, MEMS_CHUNK_BYTES);
    if (!raw) return false;
    *(void **)raw = m->chunks;
    m->chunks = raw;
    uintptr_t at = ((uintptr_t)raw + sizeof(void *) + 63) & ~(uintptr_t)63;
    for (uint32_t k = 0; k < MEMS_CHUNK_NODES; k++) {
      mems_node_t *x = (mems_node_t *)(at + (uintptr_t)k * MEMS_NODE_BYTES);
      x->u.in.child[0] = m->spare;
      m->spare = x;
      m->nspare++;
    }
  }
  return true;
}

static mems_node_t *take(struct rmem_mems *m) {
  mems_node_t *x = m->spare;
  rmem_assert(x && "nodes are reserved before an operation starts");
  m->spare = x->u.in.child[0];
  m->nspare--;
  memset(x, 0, sizeof *x);
  m->nodes++;
  return x;
}

static void give(rmem_t *r, struct rmem_mems *m, mems_node_t *x) {
  (void)r;
  m->nodes--;
  x->u.in.child[0] = m->spare;
  m->spare = x;
  m->nspare++;
}

/* Loads a node's 8 cache lines in parallel: a descent then waits for one miss per level, not one per line. */
static inline void prefetch_node(const mems_node_t *x) {
  const char *b = (const char *)x;
  for (unsigned k = 0; k < MEMS_NODE_BYTES; k += 64) __builtin_prefetch(b + k);
}

/* Nodes one insert may need: a new node per level plus a new root. */
static uint32_t insert_need(const struct rmem_mems *m) { return (uint32_t)m->height + 2; }

/* ------------------------------------------------------------------------
 * Aggregates and descents
 * ------------------------------------------------------------------------ */

/* A hole's size, 0 for a PROCESS segment, without a branch. */
static inline uint32_t hole_size(const mems_node_t *l, uint32_t k) {
  return l->u.leaf.size[k] & ((l->u.leaf.info[k] & 1u) - 1u);
}

/* The maxima run four independent chains so the compares overlap instead of queueing. */
static uint32_t leaf_max(const mems_node_t *l) {
  uint32_t a = 0, b = 0, c = 0, d = 0, k = 0, n = l->n;
  for (; k + 4 <= n; k += 4) {
    a = max_u32(a, hole_size(l, k));
    b = max_u32(b, hole_size(l, k + 1));
    c = max_u32(c, hole_size(l, k + 2));
    d = max_u32(d, hole_size(l, k + 3));
  }
  for (; k < n; k++) a = max_u32(a, hole_size(l, k));
  return max_u32(max_u32(a, b), max_u32(c, d));
}

static uint32_t inner_max(const mems_node_t *x) {
  const uint32_t *v = x->u.in.max;
  uint32_t a = 0, b = 0, c = 0, d = 0, k = 0, n = x->n;
  for (; k + 4 <= n; k += 4) {
    a = max_u32(a, v[k]);
    b = max_u32(b, v[k + 1]);
    c = max_u32(c, v[k + 2]);
    d = max_u32(d, v[k + 3]);
  }
  for (; k < n; k++) a = max_u32(a, v[k]);
  return max_u32(max_u32(a, b), max_u32(c, d));
}

static inline uint32_t agg_key(const mems_node_t *x, bool leaf) { return leaf ? x->u.leaf.voff[0] : x->u.in.key[0]; }
static inline uint32_t agg_max(const mems_node_t *x, bool leaf) { return leaf ? leaf_max(x) : inner_max(x); }

/*
 * The node at level lv of the path (lv == height: the leaf) changed; carries
 * its key and max up. Stops where a parent already holds the right values:
 * everything above still holds what it held before the change.
 */
static void update_up(struct rmem_mems *m, mems_path_t *p, int lv) {
  for (int l = lv - 1; l >= 0; l--) {
    bool leaf = l + 1 == m->height;
    const mems_node_t *c = leaf ? p->leaf : p->node[l + 1];
    uint32_t ck = agg_key(c, leaf), cm = agg_max(c, leaf);
    mems_node_t *x = p->node[l];
    uint32_t i = p->idx[l];
    if (x->u.in.key[i] == ck && x->u.in.max[i] == cm) return;
    x->u.in.key[i] = ck;
    x->u.in.max[i] = cm;
  }
}

/*
 * Cheaper forms of update_up for the hot paths, where the leaf's key (its
 * first voff) cannot have changed:
 *   grow:   a hole of the leaf grew to (or appeared with) size `hole`; every
 *           ancestor's max rises to at least `hole`, nothing else moves.
 *   shrink: a hole of size `old` shrank or became a segment; if the parent's
 *           max for this leaf is above `old`, a larger hole is still there and
 *           nothing changes; otherwise recompute.
 */
static void update_grow(struct rmem_mems *m, mems_path_t *p, uint32_t hole) {
  for (int l = m->height - 1; l >= 0; l--) {
    mems_node_t *x = p->node[l];
    uint32_t i = p->idx[l];
    if (x->u.in.max[i] >= hole) return;
    x->u.in.max[i] = hole;
  }
}

static void update_shrink(struct rmem_mems *m, mems_path_t *p, uint32_t old) {
  if (m->height == 0) return;
  if (p->node[m->height - 1]->u.in.max[p->idx[m->height - 1]] > old) return; /* a larger hole is still there */
  /* Walk up while the value that shrank was the one its parent's aggregate came from: only
     then does the parent need a scan of its children. */
  uint32_t v = leaf_max(p->leaf);
  for (int l = m->height - 1; l >= 0; l--) {
    mems_node_t *x = p->node[l];
    uint32_t i = p->idx[l], was = x->u.in.max[i];
    if (was == v) return;
    x->u.in.max[i] = v;
    if (l == 0 || was < p->node[l - 1]->u.in.max[p->idx[l - 1]]) return; /* x's aggregate came from elsewhere */
    v = inner_max(x);
  }
}

/*
 * Largest k < n with a[k] <= v, or 0 if none (then v is below everything
 * here). Branch-free halving: the compiler turns the select into a cmov, so a
 * search costs no mispredicted branches (a plain binary search over 32 keys
 * mispredicts about half its steps, which dominated free and get).
 */
static inline uint32_t floor_index(const uint32_t *a, uint32_t n, uint32_t v) {
  const uint32_t *base = a;
  while (n > 1) {
    uint32_t half = n / 2;
    base = base[half] <= v ? base + half : base;
    n -= half;
  }
  return (uint32_t)(base - a);
}

/* Descends to the segment with the largest voff <= v (the tree must not be empty). */
static void descend_key(const struct rmem_mems *m, uint32_t v, mems_path_t *p) {
  mems_node_t *x = m->root;
  for (int l = 0; l < m->height; l++) {
    uint32_t i = floor_index(x->u.in.key, x->n, v);
    p->node[l] = x;
    p->idx[l] = i;
    x = x->u.in.child[i];
    prefetch_node(x);
  }
  p->leaf = x;
  p->j = floor_index(x->u.leaf.voff, x->n, v);
}

/* Descends to the last segment in chain order. */
static void descend_last(const struct rmem_mems *m, mems_path_t *p) {
  mems_node_t *x = m->root;
  for (int l = 0; l < m->height; l++) {
    p->node[l] = x;
    p->idx[l] = x->n - 1;
    x = x->u.in.child[x->n - 1];
  }
  p->leaf = x;
  p->j = x->n - 1;
}

/* Descends to the first hole in chain order with size >= size; false if there is none. */
static bool descend_fit(const struct rmem_mems *m, uint32_t size, mems_path_t *p) {
  mems_node_t *x = m->root;
  if (!x) return false;
  for (int l = 0; l < m->height; l++) {
    uint32_t i = 0;
    while (i < x->n && x->u.in.max[i] < size) i++;
    if (i == x->n) {
      rmem_assert(l == 0 && "below the root, max[] promised a hole");
      return false;
    }
    p->node[l] = x;
    p->idx[l] = i;
    x = x->u.in.child[i];
    prefetch_node(x);
  }
  /* one predictable branch per slot: a PROCESS segment counts as a hole of size 0 */
  uint32_t j = 0;
  while (j < x->n && hole_size(x, j) < size) j++;
  if (j < x->n) {
    p->leaf = x;
    p->j = j;
    return true;
  }
  rmem_assert(m->height == 0 && "below the root, max[] promised a hole");
  return false;
}

/* ------------------------------------------------------------------------
 * Insert and erase
 * ------------------------------------------------------------------------ */

static void leaf_put(mems_node_t *l, uint32_t j, uint32_t voff, uint32_t size, uint32_t info) {
  uint32_t tail = l->n - j;
  memmove(&l->u.leaf.voff[j + 1], &l->u.leaf.voff[j], tail * sizeof(uint32_t));
  memmove(&l->u.leaf.size[j + 1], &l->u.leaf.size[j], tail * sizeof(uint32_t));
  memmove(&l->u.leaf.info[j + 1], &l->u.leaf.info[j], tail * sizeof(uint32_t));
  l->u.leaf.voff[j] = voff;
  l->u.leaf.size[j] = size;
  l->u.leaf.info[j] = info;
  l->n++;
}

static void inner_put(mems_node_t *x, uint32_t i, mems_node_t *child, uint32_t key, uint32_t max) {
  uint32_t tail = x->n - i;
  memmove(&x->u.in.key[i + 1], &x->u.in.key[i], tail * sizeof(uint32_t));
  memmove(&x->u.in.max[i + 1], &x->u.in.max[i], tail * sizeof(uint32_t));
  memmove(&x->u.in.child[i + 1], &x->u.in.child[i], tail * sizeof(mems_node_t *));
  x->u.in.key[i] = key;
  x->u.in.max[i] = max;
  x->u.in.child[i] = child;
  x->n++;
}

/*
 * The node at level lv + 1 of the path was split into left (still at the
 * path's position) and right (new, to go just after it). Hangs right into the
 * parent, splitting upwards as needed, and brings every aggregate up to date.
 */
static void split_up(struct rmem_mems *m, mems_path_t *p, int lv, mems_node_t *left, mems_node_t *right) {
  for (;;) {
    bool leaf = lv + 1 == m->height;
    if (lv < 0) { /* left was the root: grow a level */
      mems_node_t *root = take(m);
      root->n = 2;
      root->u.in.key[0] = agg_key(left, leaf);
      root->u.in.max[0] = agg_max(left, leaf);
      root->u.in.child[0] = left;
      root->u.in.key[1] = agg_key(right, leaf);
      root->u.in.max[1] = agg_max(right, leaf);
      root->u.in.child[1] = right;
      m->root = root;
      m->height++;
      return;
    }
    mems_node_t *x = p->node[lv];
    uint32_t i = p->idx[lv];
    x->u.in.key[i] = agg_key(left, leaf);
    x->u.in.max[i] = agg_max(left, leaf);
    uint32_t rk = agg_key(right, leaf), rm = agg_max(right, leaf);
    if (x->n < MEMS_INNER_CAP) {
      inner_put(x, i + 1, right, rk, rm);
      update_up(m, p, lv);
      return;
    }
    mems_node_t *y = take(m);
    uint32_t half = MEMS_INNER_CAP / 2;
    y->n = MEMS_INNER_CAP - half;
    memcpy(y->u.in.key, &x->u.in.key[half], y->n * sizeof(uint32_t));
    memcpy(y->u.in.max, &x->u.in.max[half], y->n * sizeof(uint32_t));
    memcpy(y->u.in.child, &x->u.in.child[half], y->n * sizeof(mems_node_t *));
    x->n = half;
    if (i + 1 <= half)
      inner_put(x, i + 1, right, rk, rm);
    else
      inner_put(y, i + 1 - half, right, rk, rm);
    left = x;
    right = y;
    lv--;
  }
}

/* Inserts a segment at slot j of the path's leaf. insert_need(m) nodes must be reserved. */
static void leaf_insert(struct rmem_mems *m, mems_path_t *p, uint32_t j, uint32_t voff, uint32_t size,
                        uint32_t info) {
  mems_node_t *l = p->leaf;
  if (l->n < MEMS_LEAF_CAP) {
    leaf_put(l, j, voff, size, info);
    update_up(m, p, m->height);
    return;
  }
  mems_node_t *rt = take(m);
  uint32_t half = MEMS_LEAF_CAP / 2;
  rt->n = MEMS_LEAF_CAP - half;
  memcpy(rt->u.leaf.voff, &l->u.leaf.voff[half], rt->n * sizeof(uint32_t));
  memcpy(rt->u.leaf.size, &l->u.leaf.size[half], rt->n * sizeof(uint32_t));
  memcpy(rt->u.leaf.info, &l->u.leaf.info[half], rt->n * sizeof(uint32_t));
  l->n = half;
  rt->u.leaf.prev = l;
  rt->u.leaf.next = l->u.leaf.next;
  if (l->u.leaf.next) l->u.leaf.next->u.leaf.prev = rt;
  l->u.leaf.next = rt;
  m->leaves++;
  if (j <= half)
    leaf_put(l, j, voff, size, info);
  else
    leaf_put(rt, j - half, voff, size, info);
  split_up(m, p, m->height - 1, l, rt);
}

/* Removes slot j of a leaf (no aggregate is updated). */
static void leaf_cut(mems_node_t *l, uint32_t j) {
  uint32_t tail = l->n - j - 1;
  memmove(&l->u.leaf.voff[j], &l->u.leaf.voff[j + 1], tail * sizeof(uint32_t));
  memmove(&l->u.leaf.size[j], &l->u.leaf.size[j + 1], tail * sizeof(uint32_t));
  memmove(&l->u.leaf.info[j], &l->u.leaf.info[j + 1], tail * sizeof(uint32_t));
  l->n--;
}

/* Removes slot p->j of the path's leaf; unlinks nodes that become empty. The path is dead afterwards. */
static void leaf_erase(rmem_t *r, struct rmem_mems *m, mems_path_t *p) {
  mems_node_t *l = p->leaf;
  leaf_cut(l, p->j);
  if (l->n > 0) {
    update_up(m, p, m->height);
    return;
  }
  /* the leaf is empty: unlink it, then every ancestor that becomes empty */
  if (l->u.leaf.prev)
    l->u.leaf.prev->u.leaf.next = l->u.leaf.next;
  else
    m->first = l->u.leaf.next;
  if (l->u.leaf.next) l->u.leaf.next->u.leaf.prev = l->u.leaf.prev;
  give(r, m, l);
  m->leaves--;
  int lv = m->height - 1;
  for (; lv >= 0; lv--) {
    mems_node_t *x = p->node[lv];
    uint32_t i = p->idx[lv], t = x->n - i - 1;
    memmove(&x->u.in.key[i], &x->u.in.key[i + 1], t * sizeof(uint32_t));
    memmove(&x->u.in.max[i], &x->u.in.max[i + 1], t * sizeof(uint32_t));
    memmove(&x->u.in.child[i], &x->u.in.child[i + 1], t * sizeof(mems_node_t *));
    x->n--;
    if (x->n > 0) {
      update_up(m, p, lv);
      break;
    }
    give(r, m, x);
  }
  if (lv < 0) { /* the tree is empty */
    m->root = NULL;
    m->first = NULL;
    m->height = 0;
    return;
  }
  while (m->height > 0 && m->root->n == 1) { /* a root with one child is a wasted level */
    mems_node_t *old = m->root;
    m->root = old->u.in.child[0];
    m->height--;
    give(r, m, old);
  }
}

/* ------------------------------------------------------------------------
 * Rebuild: pack the leaves to MEMS_FILL and build the inner levels again
 * ------------------------------------------------------------------------ */

static void free_inner(rmem_t *r, struct rmem_mems *m, mems_node_t *x, int levels) {
  if (levels > 0)
    for (uint32_t i = 0; i < x->n; i++) free_inner(r, m, x->u.in.child[i], levels - 1);
  if (levels >= 0) give(r, m, x);
}

/* Returns false (tree unchanged) if the metadata allocator refuses. */
static bool rebuild(rmem_t *r, struct rmem_mems *m) {
  size_t n = m->segments;
  if (n == 0) return true;
  size_t nleaves = (n + MEMS_FILL - 1) / MEMS_FILL, total = nleaves;
  for (size_t c = nleaves; c > 1;) {
    c = (c + MEMS_FILL - 1) / MEMS_FILL;
    total += c;
  }
  mems_node_t **level = rmem_meta_alloc(r, nleaves * sizeof *level);
  if (!level) return false;
  if (total > UINT32_MAX || !reserve(r, m, (uint32_t)total)) {
    rmem_meta_free(r, level, nleaves * sizeof *level);
    return false;
  }
  /* pack the segments into fresh leaves, in order */
  mems_node_t *old = m->first;
  size_t made = 0;
  mems_node_t *cur = NULL;
  for (mems_node_t *l = old; l; l = l->u.leaf.next) {
    for (uint32_t k = 0; k < l->n; k++) {
      if (!cur || cur->n == MEMS_FILL) {
        mems_node_t *nl = take(m);
        nl->u.leaf.prev = cur;
        if (cur) cur->u.leaf.next = nl;
        level[made++] = cur = nl;
      }
      cur->u.leaf.voff[cur->n] = l->u.leaf.voff[k];
      cur->u.leaf.size[cur->n] = l->u.leaf.size[k];
      cur->u.leaf.info[cur->n] = l->u.leaf.info[k];
      cur->n++;
    }
  }
  rmem_assert(made == nleaves);
  /* drop the old tree: its inner nodes, then its leaves */
  if (m->height > 0) free_inner(r, m, m->root, m->height - 1);
  for (mems_node_t *l = old; l;) {
    mems_node_t *next = l->u.leaf.next;
    give(r, m, l);
    l = next;
  }
  /* note: free_inner gave the inner levels; the leaves were given just above */
  m->first = level[0];
  m->leaves = nleaves;
  /* build the inner levels bottom-up, in place in `level` */
  int height = 0;
  bool leaf = true;
  for (size_t c = nleaves; c > 1; height++, leaf = false) {
    size_t out = 0;
    for (size_t k = 0; k < c; k += MEMS_FILL) {
      mems_node_t *x = take(m);
      for (size_t q = k; q < c && q < k + MEMS_FILL; q++) {
        x->u.in.key[x->n] = agg_key(level[q], leaf);
        x->u.in.max[x->n] = agg_max(level[q], leaf);
        x->u.in.child[x->n] = level[q];
        x->n++;
      }
      level[out++] = x;
    }
    c = out;
  }
  m->root = level[0];
  m->height = height;
  m->rebuilds++;
  rmem_meta_free(r, level, nleaves * sizeof *level);
  return true;
}

/* After an erase: rebuild once the leaves are on average less than a quarter full. */
static void maybe_compact(rmem_t *r, struct rmem_mems *m) {
  if (m->leaves > 8 && m->leaves * (MEMS_LEAF_CAP / 4) > m->segments) (void)rebuild(r, m);
}

/* Before an insert: reserve its nodes, rebuilding first if the tree has grown too tall. */
static bool prepare_insert(rmem_t *r, struct rmem_mems *m, uint32_t inserts) {
  if (m->height >= MEMS_REBUILD_HEIGHT) (void)rebuild(r, m);
  if (m->height + (int)inserts + 2 > MEMS_MAX_HEIGHT) return false;
  return reserve(r, m, inserts * (insert_need(m) + 1));
}

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

static inline uint64_t main_bytes(const mems_main_t *mn) { return (uint64_t)mn->npages * MEMS_PAGE_SIZE; }

static inline uintptr_t phys_of(const rmem_t *r, const struct rmem_mems *m, uint32_t main, uint64_t voff) {
  const mems_main_t *mn = &m->mains[main];
  return rmem_page_addr(r, mn->first_page) + (uintptr_t)(voff - mn->voff);
}

static void junk(const rmem_t *r, const struct rmem_mems *m, uint32_t main, uint32_t voff, uint32_t size, int byte) {
  if (r->flags & RMEM_OPT_JUNK) memset((void *)phys_of(r, m, main, voff), byte, size);
}

static size_t mems_validate_(rmem_t *r);

static void after_op(rmem_t *r) {
  if (r->flags & RMEM_OPT_VALIDATE) (void)mems_validate_(r); /* the lock is held: the unlocked walk */
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

/* Frees every node, returns every main node's pages, frees the state. */
static void teardown(rmem_t *r) {
  struct rmem_mems *m = r->mems;
  if (!m) return;
#if RMEM_TRACK_ENABLED
  /* every segment dies with its main node (the tool's blocks too) */
  for (mems_node_t *l = m->first; l; l = l->u.leaf.next)
    for (uint32_t k = 0; k < l->n; k++)
      if (is_process(l->u.leaf.info[k]))
        rmem_track_free(r, (void *)phys_of(r, m, main_of(l->u.leaf.info[k]), l->u.leaf.voff[k]), l->u.leaf.size[k]);
#endif
  if (m->root && m->height > 0) free_inner(r, m, m->root, m->height - 1);
  for (mems_node_t *l = m->first; l;) {
    mems_node_t *next = l->u.leaf.next;
    give(r, m, l);
    l = next;
  }
  while (m->chunks) {
    void *next = *(void **)m->chunks;
    rmem_meta_free(r, m->chunks, MEMS_CHUNK_BYTES);
    m->chunks = next;
  }
  m->spare = NULL;
  m->nspare = 0;
  for (size_t i = 0; i < m->nmains; i++) rmem_pages_free(r, m->mains[i].first_page);
  if (m->mains) rmem_meta_free(r, m->mains, m->cap_mains * sizeof *m->mains);
  m->magic = 0;
  rmem_meta_free(r, m, sizeof *m);
  r->mems = NULL;
}

/* ------------------------------------------------------------------------
 * The API on an explicit instance
 * ------------------------------------------------------------------------ */

static rmem_status_t mems_init_(rmem_t *r) {
  if (!rmem_check_instance(r)) return rmem_last_error();
  if (r->mems) return RMEM_OK; /* a second init keeps the live state: nothing is lost or leaked */
  struct rmem_mems *m = rmem_meta_alloc(r, sizeof *m);
  if (!m) return rmem_fail(RMEM_ENOMEM, "mems_init: out of metadata memory");
  m->magic = MEMS_MAGIC;
  r->mems = m;
  return RMEM_OK;
}

/* Appends a main node of ceil(size / 4096) pages: a PROCESS segment of size bytes, then a hole. */
static uint64_t grow(rmem_t *r, struct rmem_mems *m, uint64_t size) {
  uint64_t npages = (size + MEMS_PAGE_SIZE - 1) / MEMS_PAGE_SIZE;
  uint64_t bytes = npages * MEMS_PAGE_SIZE;
  if (m->nmains == m->cap_mains) {
    size_t cap = m->cap_mains ? m->cap_mains * 2 : 16;
    mems_main_t *a = rmem_meta_alloc(r, cap * sizeof *a);
    if (!a) return rmem_fail(RMEM_ENOMEM, "mems_malloc: out of metadata memory"), UINT64_MAX;
    if (m->mains) {
      memcpy(a, m->mains, m->nmains * sizeof *a);
      rmem_meta_free(r, m->mains, m->cap_mains * sizeof *m->mains);
    }
    m->mains = a;
    m->cap_mains = cap;
  }
  if (!prepare_insert(r, m, 2)) return rmem_fail(RMEM_ENOMEM, "mems_malloc: out of metadata memory"), UINT64_MAX;
  uint32_t idx = (uint32_t)m->nmains;
  uint32_t first = rmem_pages_alloc(r, (uint32_t)npages, 1, RMEM_PK_MEMS, idx + 1);
  if (first == 0) return UINT64_MAX; /* the page source recorded ENOMEM */
  rmem_track_noaccess(r, rmem_page_addr(r, first), (size_t)bytes); /* a hole until the segment is marked */
  mems_main_t *mn = &m->mains[idx];
  uint64_t voff = m->vtop;
  mn->voff = voff;
  mn->first_page = first;
  mn->npages = (uint32_t)npages;
  m->nmains++;
  m->vtop += bytes;
  m->pages += npages;
  mems_path_t p;
  if (!m->root) {
    mems_node_t *l = take(m);
    l->n = 1;
    l->u.leaf.voff[0] = (uint32_t)voff;
    l->u.leaf.size[0] = (uint32_t)size;
    l->u.leaf.info[0] = idx << 1 | 1u;
    m->root = m->first = l;
    m->leaves = 1;
    m->height = 0;
  } else {
    descend_last(m, &p);
    leaf_insert(m, &p, p.leaf->n, (uint32_t)voff, (uint32_t)size, idx << 1 | 1u);
  }
  if (bytes > size) {
    descend_last(m, &p);
    leaf_insert(m, &p, p.leaf->n, (uint32_t)(voff + size), (uint32_t)(bytes - size), idx << 1);
    m->segments++;
    m->holes++;
    m->hole_bytes += bytes - size;
  }
  m->segments++;
  m->processes++;
  m->process_bytes += size;
  return voff;
}

static uintptr_t mems_malloc_(rmem_t *r, size_t size) {
  struct rmem_mems *m = mems_of(r, "mems_malloc");
  if (!m) return 0;
  if (size == 0) return (uintptr_t)rmem_fail_null(RMEM_EINVAL, "mems_malloc: size must be at least 1");
  /* The library's one rule (rmem.h): a size no instance could hold (SIZE_MAX, i.e. -1 from
     JavaScript, included) is a range error; one this instance cannot hold, now or ever, is out
     of memory. Both are refused before any page is touched, and every size that passes fits the
     32-bit fields. */
  uint64_t most = (uint64_t)(r->limit - 1) * MEMS_PAGE_SIZE; /* every usable page of the instance */
  if (size > RMEM_MAX_CAPACITY)
    return (uintptr_t)rmem_fail_null(RMEM_ERANGE, "mems_malloc: %zu bytes is more than any instance can hold", size);
  if (size > most)
    return (uintptr_t)rmem_fail_null(RMEM_ENOMEM, "mems_malloc: %zu bytes is more than this instance can ever hold (%llu)",
                                     size, (unsigned long long)most);
  mems_path_t p;
  uint64_t voff;
  uint32_t main;
  if (descend_fit(m, (uint32_t)size, &p)) {
    mems_node_t *l = p.leaf;
    uint32_t j = p.j;
    voff = l->u.leaf.voff[j];
    main = main_of(l->u.leaf.info[j]);
    if (l->u.leaf.size[j] == size) { /* exact fit: the hole becomes the segment */
      l->u.leaf.info[j] |= 1u;
      update_shrink(m, &p, (uint32_t)size);
      m->holes--;
    } else { /* split: the front becomes the segment, the hole keeps the rest */
      if (m->height >= MEMS_REBUILD_HEIGHT || m->nspare < insert_need(m)) {
        if (!prepare_insert(r, m, 1))
          return (uintptr_t)rmem_fail_null(RMEM_ENOMEM, "mems_malloc: out of metadata memory");
        if (!descend_fit(m, (uint32_t)size, &p)) return 0; /* cannot happen: a rebuild keeps every hole */
      }
      l = p.leaf;
      j = p.j;
      uint32_t old = l->u.leaf.size[j];
      l->u.leaf.voff[j] += (uint32_t)size; /* order is kept: nothing lies between the old and new voff */
      l->u.leaf.size[j] -= (uint32_t)size;
      if (l->n < MEMS_LEAF_CAP) { /* the leaf's first voff stays: slot j keeps the old hole's start */
        leaf_put(l, j, (uint32_t)voff, (uint32_t)size, main << 1 | 1u);
        update_shrink(m, &p, old);
      } else {
        leaf_insert(m, &p, j, (uint32_t)voff, (uint32_t)size, main << 1 | 1u);
      }
      m->segments++;
    }
    m->processes++;
    m->hole_bytes -= size;
    m->process_bytes += size;
  } else {
    voff = grow(r, m, size);
    if (voff == UINT64_MAX) return 0;
    main = (uint32_t)(m->nmains - 1);
  }
  (void)rmem_track_alloc(r, (void *)phys_of(r, m, main, voff), size, size);
  junk(r, m, main, (uint32_t)voff, (uint32_t)size, 0xAB);
  after_op(r);
  return (uintptr_t)MEMS_VIRTUAL_BASE + (uintptr_t)voff;
}

/* Descends to the segment containing vaddr; false if vaddr is outside every main node. */
static bool locate(const struct rmem_mems *m, uintptr_t vaddr, mems_path_t *p) {
  if (vaddr < MEMS_VIRTUAL_BASE || vaddr - MEMS_VIRTUAL_BASE >= m->vtop) return false;
  descend_key(m, (uint32_t)(vaddr - MEMS_VIRTUAL_BASE), p);
  return true;
}

/* Removes the segment starting at voff (it must exist). */
static void erase_at(rmem_t *r, struct rmem_mems *m, uint32_t voff) {
  mems_path_t p;
  descend_key(m, voff, &p);
  rmem_assert(p.leaf->u.leaf.voff[p.j] == voff);
  leaf_erase(r, m, &p);
  m->segments--;
}

static rmem_status_t mems_free_(rmem_t *r, uintptr_t vaddr) {
  struct rmem_mems *m = mems_of(r, "mems_free");
  if (!m) return rmem_last_error();
  mems_path_t p;
  if (!locate(m, vaddr, &p))
    return rmem_fail(RMEM_EBADPTR, "mems_free: virtual address %zu is not in any main node", (size_t)vaddr);
  mems_node_t *l = p.leaf;
  uint32_t j = p.j, v = (uint32_t)(vaddr - MEMS_VIRTUAL_BASE);
  uint32_t info = l->u.leaf.info[j], sva = l->u.leaf.voff[j];
  if (!is_process(info))
    return rmem_fail(RMEM_EDOUBLEFREE, "mems_free: virtual address %zu is not allocated (it lies in a hole)",
                     (size_t)vaddr);
  if (sva != v)
    return rmem_fail(RMEM_EBADPTR, "mems_free: virtual address %zu is inside the segment at %zu, not its start",
                     (size_t)vaddr, (size_t)MEMS_VIRTUAL_BASE + sva);
  uint32_t size = l->u.leaf.size[j], main = main_of(info);
  junk(r, m, main, sva, size, 0xDF);
  rmem_track_free(r, (void *)phys_of(r, m, main, sva), size);
  m->processes--;
  m->process_bytes -= size;
  m->hole_bytes += size;

  /* the neighbours in chain order, possibly in the neighbouring leaves */
  const mems_node_t *nl = j + 1 < l->n ? l : l->u.leaf.next;
  uint32_t nj = j + 1 < l->n ? j + 1 : 0;
  const mems_node_t *pl = j > 0 ? l : l->u.leaf.prev;
  uint32_t pj = j > 0 ? j - 1 : (pl ? pl->n - 1 : 0);
  bool merge_next = nl && nl->u.leaf.info[nj] == main << 1; /* a hole of the same main node */
  bool merge_prev = pl && pl->u.leaf.info[pj] == main << 1;
  uint32_t next_voff = merge_next ? nl->u.leaf.voff[nj] : 0, next_size = merge_next ? nl->u.leaf.size[nj] : 0;
  uint32_t prev_voff = merge_prev ? pl->u.leaf.voff[pj] : 0;

  uint32_t total = size + next_size;
  if ((!merge_next || nl == l) && (!merge_prev || pl == l)) {
    /* everything happens inside this leaf (the common case): one update of the path */
    if (merge_next) { /* the hole after is absorbed */
      leaf_cut(l, j + 1);
      m->segments--;
      m->holes--;
    }
    uint32_t hole = total;
    if (merge_prev) { /* the hole before absorbs this segment */
      hole = l->u.leaf.size[j - 1] += total;
      leaf_cut(l, j);
      m->segments--;
    } else {
      l->u.leaf.size[j] = total;
      l->u.leaf.info[j] = main << 1;
      m->holes++;
    }
    update_grow(m, &p, hole); /* slot 0 is untouched (j - 1 and j + 1 exist here), holes only grew */
  } else {
    /* a neighbour lives in the next or previous leaf: each structural change
       kills the path, so re-descend (the inner nodes are in cache) */
    if (merge_next) {
      erase_at(r, m, next_voff);
      m->holes--;
    }
    if (merge_prev) {
      erase_at(r, m, sva);
      descend_key(m, prev_voff, &p);
      p.leaf->u.leaf.size[p.j] += total;
    } else {
      descend_key(m, sva, &p);
      p.leaf->u.leaf.size[p.j] = total;
      p.leaf->u.leaf.info[p.j] = main << 1;
      m->holes++;
    }
    update_up(m, &p, m->height);
  }
  if (merge_next || merge_prev) maybe_compact(r, m);
  after_op(r);
  return RMEM_OK;
}

static void *mems_get_(rmem_t *r, uintptr_t vaddr) {
  struct rmem_mems *m = mems_of(r, "mems_get");
  if (!m) return NULL;
  mems_path_t p;
  if (!locate(m, vaddr, &p))
    return rmem_fail_null(RMEM_EBADPTR, "mems_get: virtual address %zu is not in any main node", (size_t)vaddr);
  uint32_t info = p.leaf->u.leaf.info[p.j];
  if (!is_process(info))
    return rmem_fail_null(RMEM_EBADPTR, "mems_get: virtual address %zu lies in a hole, not an allocated segment",
                          (size_t)vaddr);
  return (void *)phys_of(r, m, main_of(info), vaddr - MEMS_VIRTUAL_BASE);
}

static rmem_status_t mems_stats_(rmem_t *r, rmem_mems_stats_t *out) {
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
/* printf into the report's callback (a line piece is far below the buffer). */
static void outf(rmem_print_fn *out, void *arg, const char *fmt, ...) RMEM_PRINTF(3, 4);
static void outf(rmem_print_fn *out, void *arg, const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) out(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1, arg);
}

static rmem_status_t mems_report_(rmem_t *r, rmem_print_fn *out, void *arg) {
  struct rmem_mems *m = mems_of(r, "mems_print_stats");
  if (!m) return rmem_last_error();
  outf(out, arg, "MeMS Stats:\n");
  const mems_node_t *l = m->first;
  uint32_t k = 0;
  for (size_t i = 0; i < m->nmains; i++) {
    const mems_main_t *mn = &m->mains[i];
    uint64_t sva = MEMS_VIRTUAL_BASE + mn->voff;
    outf(out, arg, "MAIN[%llu:%llu] -> ", (unsigned long long)sva, (unsigned long long)(sva + main_bytes(mn) - 1));
    while (l && main_of(l->u.leaf.info[k]) == i) {
      uint64_t ssva = (uint64_t)MEMS_VIRTUAL_BASE + l->u.leaf.voff[k];
      outf(out, arg, "<%s>[SVA:%llu:EVA:%llu] <-> ", is_process(l->u.leaf.info[k]) ? "P" : "H",
           (unsigned long long)ssva, (unsigned long long)(ssva + l->u.leaf.size[k] - 1));
      if (++k == l->n) {
        l = l->u.leaf.next;
        k = 0;
      }
    }
    outf(out, arg, "<NULL>\n");
  }
  outf(out, arg, "Page used: %zu\n", m->pages);
  outf(out, arg, "Space unused: %zu\n", m->hole_bytes);
  outf(out, arg, "Main Chain Length: %zu\n", m->nmains);
  outf(out, arg, "Sub-chain Length array:");
  /* a second pass over the leaves: count each main node's run of segments */
  size_t run = 0, cur = 0;
  for (l = m->first; l; l = l->u.leaf.next) {
    for (k = 0; k < l->n; k++) {
      if (main_of(l->u.leaf.info[k]) != cur) {
        outf(out, arg, " %zu", run);
        cur = main_of(l->u.leaf.info[k]);
        run = 0;
      }
      run++;
    }
  }
  if (m->nmains) outf(out, arg, " %zu", run);
  outf(out, arg, "\n");
  return RMEM_OK;
}

static void file_out(const char *text, size_t len, void *arg) { fwrite(text, 1, len, (FILE *)arg); }

static rmem_status_t mems_print_stats_(rmem_t *r, FILE *f) {
  if (!f) f = stdout;
  rmem_status_t st = mems_report_(r, file_out, f);
  if (st != RMEM_OK) return st;
  return ferror(f) ? rmem_fail(RMEM_EINVAL, "mems_print_stats: writing to the stream failed") : RMEM_OK;
}

static rmem_status_t mems_walk_(rmem_t *r, rmem_mems_fn *visit, void *arg) {
  struct rmem_mems *m = mems_of(r, "mems_walk");
  if (!m) return rmem_last_error();
  if (!visit) return rmem_fail(RMEM_EINVAL, "mems_walk: visit is NULL");
  for (const mems_node_t *l = m->first; l; l = l->u.leaf.next) {
    for (uint32_t k = 0; k < l->n; k++) {
      uint32_t info = l->u.leaf.info[k], voff = l->u.leaf.voff[k];
      rmem_mems_segment_t seg = {
          .main_index = main_of(info),
          .sva = (size_t)MEMS_VIRTUAL_BASE + voff,
          .eva = (size_t)MEMS_VIRTUAL_BASE + voff + l->u.leaf.size[k] - 1,
          .kind = is_process(info) ? MEMS_PROCESS : MEMS_HOLE,
          .physical = (void *)phys_of(r, m, main_of(info), voff),
      };
      if (visit(&seg, arg)) return RMEM_OK;
    }
  }
  return RMEM_OK;
}

static rmem_status_t mems_find_(rmem_t *r, uintptr_t vaddr, rmem_mems_segment_t *out) {
  struct rmem_mems *m = mems_of(r, "mems_find");
  if (!m) return rmem_last_error();
  if (!out) return rmem_fail(RMEM_EINVAL, "mems_find: out is NULL");
  mems_path_t p;
  if (!locate(m, vaddr, &p))
    return rmem_fail(RMEM_EBADPTR, "mems_find: virtual address %zu is not in any main node", (size_t)vaddr);
  const mems_node_t *l = p.leaf;
  uint32_t info = l->u.leaf.info[p.j], voff = l->u.leaf.voff[p.j];
  out->main_index = main_of(info);
  out->sva = (size_t)MEMS_VIRTUAL_BASE + voff;
  out->eva = (size_t)MEMS_VIRTUAL_BASE + voff + l->u.leaf.size[p.j] - 1;
  out->kind = is_process(info) ? MEMS_PROCESS : MEMS_HOLE;
  out->physical = (void *)phys_of(r, m, main_of(info), voff);
  return RMEM_OK;
}

static rmem_status_t mems_finish_(rmem_t *r) {
  if (!mems_of(r, "mems_finish")) return rmem_last_error();
  teardown(r);
  rmem_pages_release(r); /* the freed pages really go back to the OS */
  return RMEM_OK;
}

void rmem_mems_fini(rmem_t *r) { teardown(r); }

/* ------------------------------------------------------------------------
 * The validator
 * ------------------------------------------------------------------------ */

typedef struct check_state {
  size_t *problems;
  const mems_node_t *expect_leaf; /* the leaf list, followed alongside the tree */
  size_t nodes, leaves;
  bool stop;
} check_state_t;

/* Checks M4 below x (at depth `depth`); returns false if the structure cannot be trusted. */
static bool check_node(const struct rmem_mems *m, const mems_node_t *x, int depth, uint32_t *key, uint32_t *max,
                       check_state_t *cs) {
  cs->nodes++;
  if (depth == m->height) {
    if (x != cs->expect_leaf) {
      rmem_problem(cs->problems, "mems: the leaf list and the tree disagree at depth %d", depth);
      return false;
    }
    cs->expect_leaf = x->u.leaf.next;
    cs->leaves++;
    if (x->n == 0 || x->n > MEMS_LEAF_CAP) {
      rmem_problem(cs->problems, "mems: a leaf holds %u segments", x->n);
      return false;
    }
    for (uint32_t k = 1; k < x->n; k++)
      if (x->u.leaf.voff[k] <= x->u.leaf.voff[k - 1]) rmem_problem(cs->problems, "mems: leaf out of order");
    *key = x->u.leaf.voff[0];
    *max = leaf_max(x);
    return true;
  }
  if (x->n == 0 || x->n > MEMS_INNER_CAP || depth >= MEMS_MAX_HEIGHT) {
    rmem_problem(cs->problems, "mems: an inner node holds %u children at depth %d", x->n, depth);
    return false;
  }
  uint32_t mx = 0;
  for (uint32_t i = 0; i < x->n; i++) {
    uint32_t ck, cm;
    if (!x->u.in.child[i] || !check_node(m, x->u.in.child[i], depth + 1, &ck, &cm, cs)) return false;
    if (x->u.in.key[i] != ck) rmem_problem(cs->problems, "mems: key %u, child starts at %u", x->u.in.key[i], ck);
    if (x->u.in.max[i] != cm) rmem_problem(cs->problems, "mems: max %u, child's largest hole %u", x->u.in.max[i], cm);
    if (i > 0 && x->u.in.key[i] <= x->u.in.key[i - 1]) rmem_problem(cs->problems, "mems: keys out of order");
    mx = max_u32(mx, cm);
  }
  *key = x->u.in.key[0];
  *max = mx;
  return true;
}

static size_t mems_validate_(rmem_t *r) {
  size_t problems = 0;
  if (!rmem_check_instance(r)) return 1; /* as the heap's validator: no instance is one problem */
  rmem_validation_begin();
  if (!r->mems) return rmem_validation_end(0); /* MeMS not running: nothing to check */
  const struct rmem_mems *m = r->mems;
  if (m->magic != MEMS_MAGIC) {
    rmem_problem(&problems, "mems: bad magic");
    return rmem_validation_end(problems);
  }
  /* M1: the main chain */
  uint64_t voff = 0;
  size_t pages = 0;
  for (size_t i = 0; i < m->nmains; i++) {
    const mems_main_t *mn = &m->mains[i];
    if (mn->voff != voff)
      rmem_problem(&problems, "mems: main node %zu starts at %llu, expected %llu", i, (unsigned long long)mn->voff,
                   (unsigned long long)voff);
    if (mn->npages == 0 || mn->first_page == 0 || (uint64_t)mn->first_page + mn->npages > r->limit) {
      rmem_problem(&problems, "mems: main node %zu has a bad page run (%u, %u)", i, mn->first_page, mn->npages);
      return rmem_validation_end(problems);
    }
    if (r->pm[mn->first_page].len != mn->npages || !(r->pm[mn->first_page].flags & RMEM_PF_HEAD))
      rmem_problem(&problems, "mems: main node %zu: the pagemap head does not carry its run", i);
    for (uint32_t pg = 0; pg < mn->npages; pg++) {
      const rmem_pme_t *e = &r->pm[mn->first_page + pg];
      if (e->kind != RMEM_PK_MEMS || e->owner != i + 1) {
        rmem_problem(&problems, "mems: page %u of main node %zu is kind %u owner %u", mn->first_page + pg, i,
                     e->kind, e->owner);
        break;
      }
    }
    pages += mn->npages;
    voff += main_bytes(mn);
  }
  if (voff != m->vtop)
    rmem_problem(&problems, "mems: vtop %llu, main nodes end at %llu", (unsigned long long)m->vtop,
                 (unsigned long long)voff);

  /* M4: the tree, with the leaf list alongside */
  check_state_t cs = {.problems = &problems, .expect_leaf = m->first};
  if (m->root) {
    uint32_t k, mx;
    if (!check_node(m, m->root, 0, &k, &mx, &cs)) return rmem_validation_end(problems);
    if (cs.expect_leaf) rmem_problem(&problems, "mems: the leaf list is longer than the tree");
  } else if (m->first || m->height != 0) {
    rmem_problem(&problems, "mems: no root, but leaves");
  }
  if (cs.nodes != m->nodes || cs.leaves != m->leaves)
    rmem_problem(&problems, "mems: %zu nodes and %zu leaves counted, %zu and %zu recorded", cs.nodes, cs.leaves,
                 m->nodes, m->leaves);

  /* M2, M3, M5: the sub-chains, read in leaf order */
  size_t segs = 0, holes = 0, procs = 0, hole_bytes = 0, proc_bytes = 0;
  size_t main = 0;
  uint64_t at = 0;
  bool prev_hole = false;
  for (const mems_node_t *l = m->first; l; l = l->u.leaf.next) {
    for (uint32_t k = 0; k < l->n; k++) {
      uint32_t info = l->u.leaf.info[k], sz = l->u.leaf.size[k];
      while (main < m->nmains && at == m->mains[main].voff + main_bytes(&m->mains[main])) {
        main++;
        prev_hole = false;
      }
      if (main >= m->nmains || main_of(info) != main || l->u.leaf.voff[k] != at || sz == 0 ||
          at + sz > m->mains[main].voff + main_bytes(&m->mains[main])) {
        rmem_problem(&problems, "mems: segment at %u (size %u, main %u) breaks the chain at %llu (main %zu)",
                     l->u.leaf.voff[k], sz, main_of(info), (unsigned long long)at, main);
        return rmem_validation_end(problems);
      }
      if (!is_process(info) && prev_hole)
        rmem_problem(&problems, "mems: adjacent holes in main node %zu at %u", main, l->u.leaf.voff[k]);
      if (is_process(info)) {
        procs++;
        proc_bytes += sz;
      } else {
        holes++;
        hole_bytes += sz;
      }
      prev_hole = !is_process(info);
      at += sz;
      segs++;
    }
  }
  if (main < m->nmains && at == m->mains[main].voff + main_bytes(&m->mains[main])) main++;
  if (main != m->nmains || at != m->vtop)
    rmem_problem(&problems, "mems: the segments end at %llu in main node %zu; %zu main nodes end at %llu",
                 (unsigned long long)at, main, m->nmains, (unsigned long long)m->vtop);
  if (m->pages != pages || m->segments != segs || m->holes != holes || m->processes != procs ||
      m->hole_bytes != hole_bytes || m->process_bytes != proc_bytes)
    rmem_problem(&problems, "mems: counters disagree with the chains");
  return rmem_validation_end(problems);
}

/* ------------------------------------------------------------------------
 * For the layout walk (layout.c)
 * ------------------------------------------------------------------------ */

static bool mems_describe_(rmem_t *r, uint32_t main, rmem_run_t *run, rmem_run_fn *seg, void *arg, int *stopped) {
  struct rmem_mems *m = r->mems;
  *stopped = 0;
  if (!m || m->magic != MEMS_MAGIC || main >= m->nmains || !m->root) return false;
  const mems_main_t *mn = &m->mains[main];
  run->main_index = main;
  run->sva = (size_t)MEMS_VIRTUAL_BASE + mn->voff;
  run->eva = run->sva + main_bytes(mn) - 1;
  /* the main node's segments start at its voff (M2): one descent, then along the leaves */
  mems_path_t p;
  descend_key(m, (uint32_t)mn->voff, &p);
  for (int pass = 0; pass < 2; pass++) {
    const mems_node_t *l = p.leaf;
    uint32_t k = p.j;
    while (l && main_of(l->u.leaf.info[k]) == main) {
      uint32_t info = l->u.leaf.info[k], voff = l->u.leaf.voff[k], size = l->u.leaf.size[k];
      if (pass == 0) {
        run->segments++;
        if (!is_process(info)) run->holes++;
        else run->used += size;
      } else if (seg) {
        rmem_run_t s;
        memset(&s, 0, sizeof s);
        s.kind = RMEM_RUN_MEMS_SEGMENT;
        s.offset = (size_t)(phys_of(r, m, main, voff) - r->base);
        s.bytes = size;
        s.main_index = main;
        s.sva = (size_t)MEMS_VIRTUAL_BASE + voff;
        s.eva = s.sva + size - 1;
        s.segment_kind = is_process(info) ? MEMS_PROCESS : MEMS_HOLE;
        if (seg(&s, arg)) {
          *stopped = 1;
          return true;
        }
      }
      if (++k == l->n) {
        l = l->u.leaf.next;
        k = 0;
      }
    }
    if (!seg) break;
  }
  return true;
}

/* ------------------------------------------------------------------------
 * The entry points: under the instance's MeMS lock when it is shared
 * ------------------------------------------------------------------------ */

static bool mems_lock(rmem_t *r) {
  if (!r || r->magic != RMEM_MAGIC || !rmem_is_shared(r)) return false;
  rmem_lock(&r->mems_lock);
  return true;
}


rmem_status_t rmem_mems_init(rmem_t *r) {
  bool locked = mems_lock(r);
  rmem_status_t v = mems_init_(r);
  if (locked) rmem_unlock(&r->mems_lock);
  return v;
}

uintptr_t rmem_mems_malloc(rmem_t *r, size_t size) {
  bool locked = mems_lock(r);
  uintptr_t v = mems_malloc_(r, size);
  if (locked) rmem_unlock(&r->mems_lock);
  return v;
}

rmem_status_t rmem_mems_free(rmem_t *r, uintptr_t vaddr) {
  bool locked = mems_lock(r);
  rmem_status_t v = mems_free_(r, vaddr);
  if (locked) rmem_unlock(&r->mems_lock);
  return v;
}

void *rmem_mems_get(rmem_t *r, uintptr_t vaddr) {
  bool locked = mems_lock(r);
  void *v = mems_get_(r, vaddr);
  if (locked) rmem_unlock(&r->mems_lock);
  return v;
}

rmem_status_t rmem_mems_stats(rmem_t *r, rmem_mems_stats_t *out) {
  bool locked = mems_lock(r);
  rmem_status_t v = mems_stats_(r, out);
  if (locked) rmem_unlock(&r->mems_lock);
  return v;
}

rmem_status_t rmem_mems_print_stats(rmem_t *r, FILE *f) {
  bool locked = mems_lock(r);
  rmem_status_t v = mems_print_stats_(r, f);
  if (locked) rmem_unlock(&r->mems_lock);
  return v;
}

rmem_status_t rmem_mems_walk(rmem_t *r, rmem_mems_fn *visit, void *arg) {
  bool locked = mems_lock(r);
  rmem_status_t v = mems_walk_(r, visit, arg);
  if (locked) rmem_unlock(&r->mems_lock);
  return v;
}

rmem_status_t rmem_mems_find(rmem_t *r, uintptr_t vaddr, rmem_mems_segment_t *out) {
  bool locked = mems_lock(r);
  rmem_status_t v = mems_find_(r, vaddr, out);
  if (locked) rmem_unlock(&r->mems_lock);
  return v;
}

rmem_status_t rmem_mems_finish(rmem_t *r) {
  bool locked = mems_lock(r);
  rmem_status_t v = mems_finish_(r);
  if (locked) rmem_unlock(&r->mems_lock);
  return v;
}

size_t rmem_mems_validate(rmem_t *r) {
  bool locked = mems_lock(r);
  size_t v = mems_validate_(r);
  if (locked) rmem_unlock(&r->mems_lock);
  return v;
}

rmem_status_t rmem_mems_report(rmem_t *r, rmem_print_fn *out, void *arg) {
  bool locked = mems_lock(r);
  rmem_status_t v = mems_report_(r, out, arg);
  if (locked) rmem_unlock(&r->mems_lock);
  return v;
}

bool rmem_mems_describe(rmem_t *r, uint32_t main, rmem_run_t *run, rmem_run_fn *seg, void *arg, int *stopped) {
  return mems_describe_(r, main, run, seg, arg, stopped); /* the caller holds the locks (layout.c) */
}
