/*
 * mems_test.h - shared by the MeMS tests (test_mems.c, test_mems_tree.c): on
 * top of check.h, a string check, a naive reference model of the seed's semantics (every
 * segment in chain order in one array, O(n) per operation), and the
 * deterministic randomized stress that runs MeMS against the model and the
 * validator. Test-only; never part of the library.
 */
#ifndef MEMS_TEST_H
#define MEMS_TEST_H

#include "rmem.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CHECK, CHECK_EQ, check_rand, check_report: the shared helper of the C tests. */
#include "check.h"

#define CHECK_EQ_STR(a, b)                                                          \
  do {                                                                              \
    const char *a_ = (a), *b_ = (b);                                                \
    if (strcmp(a_, b_) == 0) check_passed++;                                        \
    else {                                                                          \
      check_failed++;                                                               \
      fprintf(stderr, "%s:%d: strings differ\n--- got:\n%s--- expected:\n%s---\n", \
              __FILE__, __LINE__, a_, b_);                                          \
    }                                                                               \
  } while (0)

/* The call just made failed with exactly this code, and MeMS is still valid. */
#define CHECK_FAILED(r, code)                                                       \
  do {                                                                              \
    CHECK_EQ(rmem_last_error(), (code));                                            \
    CHECK(rmem_mems_validate(r) == 0);                                              \
    rmem_clear_error();                                                             \
  } while (0)

static rmem_t *make(size_t capacity, unsigned flags) {
  rmem_options_t o = {.capacity = capacity, .flags = flags};
  rmem_t *r = rmem_create(&o);
  if (!r) {
    fprintf(stderr, "rmem_create failed: %s\n", rmem_last_error_message());
    exit(2);
  }
  return r;
}

/* ------------------------------------------------------------------------
 * Randomized stress against a naive model of the seed's semantics
 * ------------------------------------------------------------------------ */

static uint64_t rng_state;
static uint64_t rnd(void) { return check_rand(&rng_state); }

/* The model: every segment in chain order in one array (O(n) per operation, fine for a few thousand). */
typedef struct model_seg {
  uint64_t sva, size;
  uint32_t main;
  int hole;
} model_seg_t;

typedef struct model {
  model_seg_t *s;
  size_t n, cap;
  uint64_t vtop;
  uint32_t mains;
} model_t;

static void model_insert(model_t *m, size_t at, model_seg_t seg) {
  if (m->n == m->cap) {
    m->cap = m->cap ? m->cap * 2 : 256;
    m->s = realloc(m->s, m->cap * sizeof *m->s);
    if (!m->s) abort();
  }
  memmove(&m->s[at + 1], &m->s[at], (m->n - at) * sizeof *m->s);
  m->s[at] = seg;
  m->n++;
}

static void model_erase(model_t *m, size_t at) {
  memmove(&m->s[at], &m->s[at + 1], (m->n - at - 1) * sizeof *m->s);
  m->n--;
}

static uint64_t model_malloc(model_t *m, uint64_t size) {
  for (size_t i = 0; i < m->n; i++) {
    model_seg_t *h = &m->s[i];
    if (!h->hole || h->size < size) continue;
    uint64_t sva = h->sva;
    if (h->size == size) {
      h->hole = 0;
    } else {
      model_seg_t p = {sva, size, h->main, 0};
      h->sva += size;
      h->size -= size;
      model_insert(m, i, p);
    }
    return sva;
  }
  uint64_t bytes = (size + 4095) / 4096 * 4096, sva = 1000 + m->vtop;
  model_insert(m, m->n, (model_seg_t){sva, size, m->mains, 0});
  if (bytes > size) model_insert(m, m->n, (model_seg_t){sva + size, bytes - size, m->mains, 1});
  m->mains++;
  m->vtop += bytes;
  return sva;
}

static void model_free(model_t *m, uint64_t sva) {
  size_t i = 0;
  while (i < m->n && m->s[i].sva != sva) i++;
  if (i == m->n || m->s[i].hole) abort(); /* the test only frees live segments */
  m->s[i].hole = 1;
  if (i + 1 < m->n && m->s[i + 1].hole && m->s[i + 1].main == m->s[i].main) {
    m->s[i].size += m->s[i + 1].size;
    model_erase(m, i + 1);
  }
  if (i > 0 && m->s[i - 1].hole && m->s[i - 1].main == m->s[i].main) {
    m->s[i - 1].size += m->s[i].size;
    model_erase(m, i);
  }
}

typedef struct model_walk {
  const model_t *m;
  size_t i, bad;
} model_walk_t;

static int model_cmp(const rmem_mems_segment_t *s, void *arg) {
  model_walk_t *w = arg;
  if (w->i >= w->m->n) {
    w->bad++;
    return 1;
  }
  const model_seg_t *e = &w->m->s[w->i++];
  if (s->sva != e->sva || s->eva != e->sva + e->size - 1 || s->main_index != e->main ||
      (s->kind == MEMS_HOLE) != (e->hole != 0))
    w->bad++;
  return 0;
}

typedef struct live {
  uintptr_t v;
  size_t size;
  uint8_t seed;
} live_t;

static uint8_t pattern(uint8_t seed, size_t k) { return (uint8_t)(seed + k * 31u); }

/* Writes the pattern into the first and last 64 bytes and a few in between (all of a small segment). */
static void fill(rmem_t *r, const live_t *l) {
  uint8_t *p = rmem_mems_get(r, l->v);
  if (l->size <= 256) {
    for (size_t k = 0; k < l->size; k++) p[k] = pattern(l->seed, k);
    return;
  }
  for (size_t k = 0; k < 64; k++) p[k] = pattern(l->seed, k);
  for (size_t k = l->size - 64; k < l->size; k++) p[k] = pattern(l->seed, k);
  for (size_t k = 64; k < l->size - 64; k += 509) p[k] = pattern(l->seed, k);
}

static bool intact(rmem_t *r, const live_t *l) {
  uint8_t *p = rmem_mems_get(r, l->v);
  if (!p) return false;
  if (l->size <= 256) {
    for (size_t k = 0; k < l->size; k++)
      if (p[k] != pattern(l->seed, k)) return false;
    return true;
  }
  for (size_t k = 0; k < 64; k++)
    if (p[k] != pattern(l->seed, k)) return false;
  for (size_t k = l->size - 64; k < l->size; k++)
    if (p[k] != pattern(l->seed, k)) return false;
  for (size_t k = 64; k < l->size - 64; k += 509)
    if (p[k] != pattern(l->seed, k)) return false;
  return true;
}

static size_t random_size(void) {
  uint64_t x = rnd() % 100;
  if (x < 60) return 1 + rnd() % 256;
  if (x < 90) return 1 + rnd() % 4096;
  return 1 + rnd() % (3 * 4096);
}

/* What one stress run does. */
typedef struct stress_opts {
  uint64_t seed;
  int ops;               /* operations */
  int model_ops;         /* compare with the naive model for the first model_ops operations */
  int validate_all_ops;  /* validate after every operation for the first validate_all_ops */
  int validate_every;    /* then every validate_every operations */
  size_t max_live;
  int vary_every;        /* change the population target every vary_every operations */
  size_t capacity;
} stress_opts_t;

/*
 * A deterministic randomized stress: mallocs, frees, translations and bad
 * frees in a varying population, pattern bytes written into every segment and
 * checked before it is freed, the validator and the naive model alongside.
 * Ends by freeing everything in random order (validating as it goes), then
 * finish, and checks that every page went back.
 */
static void mems_stress(const stress_opts_t *o) {
  rmem_t *r = make(o->capacity, 0);
  CHECK(rmem_mems_init(r) == RMEM_OK);
  rng_state = o->seed;
  live_t *live = calloc(o->max_live, sizeof *live);
  model_t model = {0};
  size_t nlive = 0;
  int failures_before = check_failed;
  size_t target = o->max_live / 2;
  int op = 0;
  for (; op < o->ops && check_failed == failures_before; op++) {
    if (op % o->vary_every == 0) target = 1 + rnd() % o->max_live; /* vary the population */
    uint64_t dice = rnd() % 100;
    bool do_alloc = nlive == 0 || (nlive < o->max_live && dice < (nlive < target ? 60u : 40u));
    if (do_alloc) {
      live_t l = {.size = random_size(), .seed = (uint8_t)rnd()};
      l.v = rmem_mems_malloc(r, l.size);
      CHECK(l.v != 0);
      if (!l.v) break;
      if (op < o->model_ops) CHECK(l.v == model_malloc(&model, l.size));
      fill(r, &l);
      live[nlive++] = l;
    } else if (dice < 90) {
      size_t i = rnd() % nlive;
      CHECK(intact(r, &live[i]));
      CHECK(rmem_mems_free(r, live[i].v) == RMEM_OK);
      if (op < o->model_ops) model_free(&model, live[i].v);
      live[i] = live[--nlive];
    } else {
      /* translation of a random byte, and a bad free that must change nothing */
      size_t i = rnd() % nlive;
      size_t k = rnd() % live[i].size;
      uint8_t *base = rmem_mems_get(r, live[i].v);
      CHECK(base && rmem_mems_get(r, live[i].v + k) == base + k);
      if (k > 0) {
        CHECK(rmem_mems_free(r, live[i].v + k) == RMEM_EBADPTR);
        rmem_clear_error();
      }
    }
    if (op < o->validate_all_ops || op % o->validate_every == 0) CHECK(rmem_mems_validate(r) == 0);
    if (op < o->model_ops && (op < o->validate_all_ops || op % 500 == 0)) {
      model_walk_t w = {.m = &model};
      CHECK(rmem_mems_walk(r, model_cmp, &w) == RMEM_OK);
      CHECK(w.bad == 0 && w.i == model.n);
    }
  }
  CHECK(op == o->ops);
  /* drain in random order: every merge, empty leaf and shrinking of the index happens here */
  size_t drained = 0;
  while (nlive > 0 && check_failed == failures_before) {
    size_t i = rnd() % nlive;
    CHECK(intact(r, &live[i]));
    CHECK(rmem_mems_free(r, live[i].v) == RMEM_OK);
    live[i] = live[--nlive];
    if (drained++ < (size_t)o->validate_all_ops || drained % (size_t)o->validate_every == 0)
      CHECK(rmem_mems_validate(r) == 0);
  }
  rmem_mems_stats_t ms;
  CHECK(rmem_mems_stats(r, &ms) == RMEM_OK);
  CHECK(ms.process_segments == 0 && ms.bytes_in_use == 0 && ms.hole_segments == ms.main_chain_length &&
        ms.space_unused == ms.pages_used * 4096);
  CHECK(rmem_mems_validate(r) == 0);
  /* everything is free: the first main node serves again from its start */
  uintptr_t again = rmem_mems_malloc(r, 1);
  CHECK(again == 1000);
  CHECK(rmem_mems_validate(r) == 0);
  CHECK(rmem_mems_finish(r) == RMEM_OK);
  rmem_stats_t st;
  CHECK(rmem_stats(r, &st) == RMEM_OK && st.pages_in_use == 0);
  CHECK(rmem_validate(r) == 0);
  free(model.s);
  free(live);
  rmem_destroy(r);
}

#endif /* MEMS_TEST_H */
