/*
 * wl_barnes.c - a Barnes-Hut-like n-body step: an octree of many small nodes
 * built, walked and freed every time step.
 *
 * Bodies (a clustered, Plummer-like cloud, fixed seed) live in one array. Each
 * time step builds an octree over them: every body gets a small leaf node, and
 * cells (eight child pointers, a centre of mass) are allocated as the tree
 * subdivides; then the cells' masses are summed bottom-up, each body's
 * acceleration is computed by walking the tree (a cell far enough away, by the
 * opening criterion size / distance < 0.6, counts as one point mass), the
 * bodies move (leapfrog), and the whole tree is freed. So the allocation
 * profile is bursts of tens of thousands of small nodes (48-byte leaves,
 * 136-byte cells) that all die together, between stretches of pure computation on them, as in the
 * hierarchical n-body codes of the allocator literature.
 *
 * Nothing in the arithmetic depends on addresses (insertion order and child
 * order are fixed), so the printed state is the same under every allocator.
 *
 * Usage: wl_barnes [scale]
 */
#include "wl_common.h"

#include <math.h>

typedef struct body {
  double pos[3], vel[3], acc[3], mass;
} body_t;

typedef struct node {
  int is_cell;
  double mass, com[3]; /* total mass and centre of mass */
} node_t;

typedef struct leaf {
  node_t h;
  const body_t *b;
} leaf_t;

typedef struct cell {
  node_t h;
  double mid[3], half; /* the cube this cell covers */
  node_t *child[8];
} cell_t;

static long cells_made, leaves_made;

static cell_t *cell_new(const double mid[3], double half) {
  cell_t *c = wl_xmalloc(sizeof *c);
  memset(c, 0, sizeof *c);
  c->h.is_cell = 1;
  memcpy(c->mid, mid, sizeof c->mid);
  c->half = half;
  cells_made++;
  return c;
}

static leaf_t *leaf_new(const body_t *b) {
  leaf_t *l = wl_xmalloc(sizeof *l);
  l->h.is_cell = 0;
  l->h.mass = b->mass;
  memcpy(l->h.com, b->pos, sizeof l->h.com);
  l->b = b;
  leaves_made++;
  return l;
}

static int octant(const cell_t *c, const double p[3]) {
  return (p[0] >= c->mid[0]) | (p[1] >= c->mid[1]) << 1 | (p[2] >= c->mid[2]) << 2;
}

static void child_box(const cell_t *c, int o, double mid[3]) {
  double q = c->half / 2;
  for (int d = 0; d < 3; d++) mid[d] = c->mid[d] + ((o >> d) & 1 ? q : -q);
}

static void insert(cell_t *c, leaf_t *l, int depth) {
  for (;;) {
    int o = octant(c, l->h.com);
    node_t *n = c->child[o];
    if (!n) {
      c->child[o] = &l->h;
      return;
    }
    if (n->is_cell) {
      c = (cell_t *)n;
      depth++;
      continue;
    }
    if (depth > 60) { /* coincident bodies: keep the first, drop the mass of the other into it */
      n->mass += l->h.mass;
      free(l);
      return;
    }
    /* a leaf is there: split the octant and push that leaf down */
    double mid[3];
    child_box(c, o, mid);
    cell_t *s = cell_new(mid, c->half / 2);
    s->child[octant(s, n->com)] = n;
    c->child[o] = &s->h;
    c = s;
    depth++;
  }
}

static void summarise(cell_t *c) {
  double m = 0, com[3] = {0, 0, 0};
  for (int o = 0; o < 8; o++) {
    node_t *n = c->child[o];
    if (!n) continue;
    if (n->is_cell) summarise((cell_t *)n);
    m += n->mass;
    for (int d = 0; d < 3; d++) com[d] += n->mass * n->com[d];
  }
  c->h.mass = m;
  for (int d = 0; d < 3; d++) c->h.com[d] = m > 0 ? com[d] / m : c->mid[d];
}

static const double theta = 0.6, eps2 = 1e-4;

static void force(const node_t *n, const body_t *b, double acc[3]) {
  double dx[3], r2 = eps2;
  for (int d = 0; d < 3; d++) {
    dx[d] = n->com[d] - b->pos[d];
    r2 += dx[d] * dx[d];
  }
  if (n->is_cell) {
    const cell_t *c = (const cell_t *)n;
    double size = 2 * c->half;
    if (size * size >= theta * theta * r2) {
      for (int o = 0; o < 8; o++)
        if (c->child[o]) force(c->child[o], b, acc);
      return;
    }
  } else if (((const leaf_t *)n)->b == b) {
    return;
  }
  double inv = n->mass / (r2 * sqrt(r2));
  for (int d = 0; d < 3; d++) acc[d] += dx[d] * inv;
}

static void tree_free(node_t *n) {
  if (n->is_cell) {
    cell_t *c = (cell_t *)n;
    for (int o = 0; o < 8; o++)
      if (c->child[o]) tree_free(c->child[o]);
  }
  free(n);
}

/* uniform in [0, 1) */
static double unit(wl_rng_t *r) { return (double)(wl_next(r) >> 11) * (1.0 / 9007199254740992.0); }

int main(int argc, char **argv) {
  double scale = wl_scale(argc, argv);
  int nbodies = 12000;
  long steps = wl_ops(10, scale);
  wl_rng_t rng = {0xB0D1E5ull};
  body_t *bodies = wl_xmalloc(sizeof(body_t) * (size_t)nbodies);
  for (int i = 0; i < nbodies; i++) {
    body_t *b = &bodies[i];
    /* Plummer-like radius: dense core, thin halo (capped) */
    double u = unit(&rng) * 0.99 + 0.005;
    double r = 1.0 / sqrt(pow(u, -2.0 / 3.0) - 1.0);
    if (r > 8) r = 8;
    double z = 2 * unit(&rng) - 1, phi = 6.283185307179586 * unit(&rng);
    double s = sqrt(1 - z * z);
    b->pos[0] = r * s * cos(phi);
    b->pos[1] = r * s * sin(phi);
    b->pos[2] = r * z;
    for (int d = 0; d < 3; d++) b->vel[d] = 0.1 * (unit(&rng) - 0.5);
    b->mass = 1.0 / nbodies;
  }
  const double dt = 0.01;
  for (long s = 0; s < steps; s++) {
    double lo[3], hi[3];
    for (int d = 0; d < 3; d++) lo[d] = hi[d] = bodies[0].pos[d];
    for (int i = 1; i < nbodies; i++)
      for (int d = 0; d < 3; d++) {
        if (bodies[i].pos[d] < lo[d]) lo[d] = bodies[i].pos[d];
        if (bodies[i].pos[d] > hi[d]) hi[d] = bodies[i].pos[d];
      }
    double mid[3], half = 0;
    for (int d = 0; d < 3; d++) {
      mid[d] = (lo[d] + hi[d]) / 2;
      if ((hi[d] - lo[d]) / 2 > half) half = (hi[d] - lo[d]) / 2;
    }
    cell_t *root = cell_new(mid, half * 1.0001 + 1e-9);
    for (int i = 0; i < nbodies; i++) insert(root, leaf_new(&bodies[i]), 0);
    summarise(root);
    for (int i = 0; i < nbodies; i++) {
      double acc[3] = {0, 0, 0};
      force(&root->h, &bodies[i], acc);
      memcpy(bodies[i].acc, acc, sizeof acc);
    }
    for (int i = 0; i < nbodies; i++)
      for (int d = 0; d < 3; d++) {
        bodies[i].vel[d] += bodies[i].acc[d] * dt;
        bodies[i].pos[d] += bodies[i].vel[d] * dt;
      }
    tree_free(&root->h);
  }
  double e = 0, c[3] = {0, 0, 0};
  for (int i = 0; i < nbodies; i++)
    for (int d = 0; d < 3; d++) {
      e += bodies[i].vel[d] * bodies[i].vel[d] * bodies[i].mass / 2;
      c[d] += bodies[i].pos[d] / nbodies;
    }
  free(bodies);
  printf("barnes: %ld cells, %ld leaves; kinetic %.9e, centre %.6e %.6e %.6e\n", cells_made, leaves_made, e, c[0], c[1], c[2]);
  return 0;
}
