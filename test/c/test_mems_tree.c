/*
 * test_mems_tree.c - MeMS's index under pressure: src/mems.c compiled into
 * this test with tiny nodes (8 segments per leaf, 4 children per inner node,
 * rebuilds at height 8), so that leaf and inner splits, new roots, empty
 * leaves and inner nodes, root collapses and whole-tree rebuilds happen all
 * the time. The same stress as test_mems.c, with the validator after every
 * operation and the naive model alongside, over several seeds.
 *
 * This file defines every symbol of mems.c itself, so the linker never pulls
 * mems.o out of librmem.a for this test.
 */
#define MEMS_LEAF_CAP 8u
#define MEMS_INNER_CAP 4u
#define MEMS_FILL 3u
#define MEMS_REBUILD_HEIGHT 8
#include "mems.c"

#include "mems_test.h"

/* Grows a long chain of one-segment main nodes, then frees every other one and the rest: the
   index grows tall, empties leaf by leaf, and shrinks back to one leaf. */
static void test_grow_and_shrink(void) {
  rmem_t *r = make((size_t)64 << 20, 0);
  CHECK(rmem_mems_init(r) == RMEM_OK);
  enum { N = 3000 };
  static uintptr_t v[N];
  for (int i = 0; i < N; i++) {
    v[i] = rmem_mems_malloc(r, 2100 + (size_t)(i % 7) * 200); /* no hole fits another: 1 page each, P + H */
    CHECK(v[i] != 0);
  }
  CHECK(rmem_mems_validate(r) == 0);
  CHECK(r->mems->height >= 4); /* tiny nodes: the index really is tall */
  for (int i = 0; i < N; i += 2) CHECK(rmem_mems_free(r, v[i]) == RMEM_OK);
  CHECK(rmem_mems_validate(r) == 0);
  for (int i = N - 1; i >= 1; i -= 2) {
    CHECK(rmem_mems_free(r, v[i]) == RMEM_OK);
    if (i % 64 == 1) CHECK(rmem_mems_validate(r) == 0);
  }
  CHECK(rmem_mems_validate(r) == 0);
  CHECK(r->mems->segments == N && r->mems->holes == N);
  CHECK(r->mems->rebuilds > 0 || r->mems->leaves * MEMS_LEAF_CAP / 4 <= N);
  /* every main node is one whole hole: first fit walks them in order */
  for (int i = 0; i < N; i++) CHECK(rmem_mems_malloc(r, 4096) == 1000 + (uintptr_t)i * 4096);
  CHECK(rmem_mems_validate(r) == 0);
  CHECK(rmem_mems_finish(r) == RMEM_OK);
  rmem_destroy(r);
}

/* One main node carved into thousands of segments, then merged back from both ends. */
static void test_one_big_node(void) {
  rmem_t *r = make((size_t)64 << 20, 0);
  CHECK(rmem_mems_init(r) == RMEM_OK);
  enum { N = 2000 };
  static uintptr_t v[N];
  uintptr_t big = rmem_mems_malloc(r, (size_t)N * 64);
  CHECK(big == 1000);
  CHECK(rmem_mems_free(r, big) == RMEM_OK);
  for (int i = 0; i < N; i++) CHECK((v[i] = rmem_mems_malloc(r, 64)) == 1000 + (uintptr_t)i * 64);
  CHECK(rmem_mems_validate(r) == 0);
  for (int i = 0, j = N - 1; i < j; i++, j--) { /* from both ends towards the middle */
    CHECK(rmem_mems_free(r, v[i]) == RMEM_OK);
    CHECK(rmem_mems_free(r, v[j]) == RMEM_OK);
    if (i % 50 == 0) CHECK(rmem_mems_validate(r) == 0);
  }
  CHECK(rmem_mems_validate(r) == 0);
  CHECK(r->mems->segments <= 3);
  rmem_destroy(r);
}

int main(void) {
  test_grow_and_shrink();
  test_one_big_node();
  for (uint64_t s = 1; s <= 4; s++) {
    stress_opts_t o = {.seed = 0xD1B54A32D192ED03ull * s,
                       .ops = 30000,
                       .model_ops = 30000,
                       .validate_all_ops = 30000,
                       .validate_every = 1,
                       .max_live = 400,
                       .vary_every = 3000,
                       .capacity = (size_t)64 << 20};
    mems_stress(&o);
  }
  return check_report("test_mems_tree");
}
