/*
 * wl_rbstress.c - red-black tree stress: insert/delete churn on a balanced
 * tree of malloc'd nodes, each owning a malloc'd value.
 *
 * Keys are drawn at random from a fixed key space of 2^18; an absent key is
 * inserted (a node of 48 bytes plus a value string of 8..200 bytes), a present
 * one has its value replaced (free + malloc of a new size) one time in four
 * and is deleted (node and value freed) otherwise; a lookup of another key
 * follows. The tree settles at 4/7 of the key space (about 150 000 nodes), so
 * the program's live set is large and long-lived while a steady stream of
 * nodes and values of mixed sizes dies and is replaced at random places in
 * it: the pattern of a map- or dictionary-heavy program (an interpreter's
 * objects, a database index). Pointer chasing through the tree also rewards
 * an allocator that keeps nodes compact.
 *
 * At the end the red-black invariants are checked and the checksum is a hash
 * of the keys in order and of the values' contents.
 *
 * Usage: wl_rbstress [scale] [threads]   (default 1 thread; each thread has
 * its own tree)
 */
#include "wl_common.h"

#include <pthread.h>

enum { KEYBITS = 18 };

typedef struct rb {
  struct rb *l, *r, *p;
  uint64_t key;
  unsigned char *val;
  uint32_t vlen;
  int red;
} rb_t;

typedef struct tree {
  rb_t *root;
  rb_t nil; /* the sentinel: black, every leaf points at it */
  long size;
} tree_t;

typedef struct job {
  wl_rng_t rng;
  long ops;
  uint64_t sum;
  long nodes;
  int bad;
} job_t;

static void rotate_left(tree_t *t, rb_t *x) {
  rb_t *y = x->r, *nil = &t->nil;
  x->r = y->l;
  if (y->l != nil) y->l->p = x;
  y->p = x->p;
  if (x->p == nil) t->root = y;
  else if (x == x->p->l) x->p->l = y;
  else x->p->r = y;
  y->l = x;
  x->p = y;
}

static void rotate_right(tree_t *t, rb_t *x) {
  rb_t *y = x->l, *nil = &t->nil;
  x->l = y->r;
  if (y->r != nil) y->r->p = x;
  y->p = x->p;
  if (x->p == nil) t->root = y;
  else if (x == x->p->r) x->p->r = y;
  else x->p->l = y;
  y->r = x;
  x->p = y;
}

static rb_t *find(tree_t *t, uint64_t key) {
  rb_t *x = t->root;
  while (x != &t->nil && x->key != key) x = key < x->key ? x->l : x->r;
  return x == &t->nil ? NULL : x;
}

static void set_value(rb_t *z, wl_rng_t *rng) {
  z->vlen = (uint32_t)wl_range(rng, 8, 200);
  z->val = wl_xmalloc(z->vlen);
  memset(z->val, (int)(z->key & 0xff), z->vlen);
  z->val[0] = (unsigned char)z->vlen;
}

static void insert(tree_t *t, uint64_t key, wl_rng_t *rng) {
  rb_t *nil = &t->nil, *y = nil, *x = t->root;
  while (x != nil) {
    y = x;
    x = key < x->key ? x->l : x->r;
  }
  rb_t *z = wl_xmalloc(sizeof *z);
  z->key = key;
  z->l = z->r = nil;
  z->p = y;
  z->red = 1;
  set_value(z, rng);
  if (y == nil) t->root = z;
  else if (key < y->key) y->l = z;
  else y->r = z;
  t->size++;
  while (z->p->red) {
    rb_t *g = z->p->p;
    if (z->p == g->l) {
      rb_t *u = g->r;
      if (u->red) {
        z->p->red = u->red = 0;
        g->red = 1;
        z = g;
      } else {
        if (z == z->p->r) {
          z = z->p;
          rotate_left(t, z);
        }
        z->p->red = 0;
        z->p->p->red = 1;
        rotate_right(t, z->p->p);
      }
    } else {
      rb_t *u = g->l;
      if (u->red) {
        z->p->red = u->red = 0;
        g->red = 1;
        z = g;
      } else {
        if (z == z->p->l) {
          z = z->p;
          rotate_right(t, z);
        }
        z->p->red = 0;
        z->p->p->red = 1;
        rotate_left(t, z->p->p);
      }
    }
  }
  t->root->red = 0;
}

static void transplant(tree_t *t, rb_t *u, rb_t *v) {
  if (u->p == &t->nil) t->root = v;
  else if (u == u->p->l) u->p->l = v;
  else u->p->r = v;
  v->p = u->p; /* may write the sentinel's parent: the delete fix-up relies on it */
}

static void erase(tree_t *t, rb_t *z) {
  rb_t *nil = &t->nil, *x, *y = z;
  int y_red = y->red;
  if (z->l == nil) {
    x = z->r;
    transplant(t, z, z->r);
  } else if (z->r == nil) {
    x = z->l;
    transplant(t, z, z->l);
  } else {
    y = z->r;
    while (y->l != nil) y = y->l;
    y_red = y->red;
    x = y->r;
    if (y->p == z) {
      x->p = y;
    } else {
      transplant(t, y, y->r);
      y->r = z->r;
      y->r->p = y;
    }
    transplant(t, z, y);
    y->l = z->l;
    y->l->p = y;
    y->red = z->red;
  }
  free(z->val);
  free(z);
  t->size--;
  if (y_red) return;
  while (x != t->root && !x->red) {
    if (x == x->p->l) {
      rb_t *w = x->p->r;
      if (w->red) {
        w->red = 0;
        x->p->red = 1;
        rotate_left(t, x->p);
        w = x->p->r;
      }
      if (!w->l->red && !w->r->red) {
        w->red = 1;
        x = x->p;
      } else {
        if (!w->r->red) {
          w->l->red = 0;
          w->red = 1;
          rotate_right(t, w);
          w = x->p->r;
        }
        w->red = x->p->red;
        x->p->red = 0;
        w->r->red = 0;
        rotate_left(t, x->p);
        x = t->root;
      }
    } else {
      rb_t *w = x->p->l;
      if (w->red) {
        w->red = 0;
        x->p->red = 1;
        rotate_right(t, x->p);
        w = x->p->l;
      }
      if (!w->r->red && !w->l->red) {
        w->red = 1;
        x = x->p;
      } else {
        if (!w->l->red) {
          w->r->red = 0;
          w->red = 1;
          rotate_left(t, w);
          w = x->p->l;
        }
        w->red = x->p->red;
        x->p->red = 0;
        w->l->red = 0;
        rotate_right(t, x->p);
        x = t->root;
      }
    }
  }
  x->red = 0;
}

/* Black height of the subtree, or -1 if an invariant is broken. Hashes the keys in order. */
static int check(const tree_t *t, const rb_t *x, uint64_t lo, uint64_t hi, uint64_t *h, long *count) {
  if (x == &t->nil) return 1;
  if (x->key < lo || x->key > hi) return -1;
  if (x->red && (x->l->red || x->r->red)) return -1;
  int a = check(t, x->l, lo, x->key ? x->key - 1 : 0, h, count);
  *h = *h * 1000003 + x->key;
  for (uint32_t i = 1; i < x->vlen; i++) *h += x->val[i];
  if (x->val[0] != (unsigned char)x->vlen) return -1;
  ++*count;
  int b = check(t, x->r, x->key + 1, hi, h, count);
  if (a < 0 || b < 0 || a != b) return -1;
  return a + !x->red;
}

static void destroy(tree_t *t, rb_t *x) {
  while (x != &t->nil) {
    destroy(t, x->l);
    rb_t *r = x->r;
    free(x->val);
    free(x);
    x = r;
  }
}

static void *worker(void *arg) {
  job_t *j = arg;
  tree_t *t = calloc(1, sizeof *t);
  if (!t) exit(2);
  t->root = &t->nil;
  t->nil.l = t->nil.r = t->nil.p = &t->nil;
  uint64_t mask = ((uint64_t)1 << KEYBITS) - 1;
  for (long k = 0; k < j->ops; k++) {
    uint64_t x = wl_next(&j->rng);
    uint64_t key = x & mask;
    rb_t *n = find(t, key);
    if (!n) {
      insert(t, key, &j->rng);
    } else if ((x >> 40) % 4 == 0) {
      free(n->val);
      set_value(n, &j->rng);
    } else {
      erase(t, n);
    }
    rb_t *q = find(t, wl_next(&j->rng) & mask);
    if (q) j->sum += q->vlen;
  }
  uint64_t h = 0;
  long count = 0;
  if (check(t, t->root, 0, UINT64_MAX, &h, &count) < 0 || t->root->red || count != t->size) j->bad = 1;
  j->sum = j->sum * 31 + h + (uint64_t)count;
  j->nodes = count;
  destroy(t, t->root);
  free(t);
  return NULL;
}

int main(int argc, char **argv) {
  double scale = wl_scale(argc, argv);
  int nthreads = wl_threads(argc, argv, 2, 1);
  long ops = wl_ops(1500000.0 / nthreads, scale);
  job_t jobs[64];
  pthread_t th[64];
  for (int t = 0; t < nthreads; t++) {
    jobs[t] = (job_t){.rng = {0x7B7B7B7Bull * (uint64_t)(t + 1) + 11}, .ops = ops};
    if (pthread_create(&th[t], NULL, worker, &jobs[t]) != 0) return 2;
  }
  uint64_t sum = 0;
  long nodes = 0;
  int bad = 0;
  for (int t = 0; t < nthreads; t++) {
    pthread_join(th[t], NULL);
    sum += jobs[t].sum;
    bad |= jobs[t].bad;
    nodes += jobs[t].nodes;
  }
  if (bad) {
    fprintf(stderr, "rbstress: the tree is broken\n");
    return 1;
  }
  printf("rbstress checksum %llu, %ld nodes at the end\n", (unsigned long long)sum, nodes);
  return 0;
}
