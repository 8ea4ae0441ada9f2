/*
 * check.h - the tiny test helper of rmem's C tests (after mimalloc's
 * test/testhelper.h). CHECK(cond) records a failure with its line and goes
 * on; CHECK_EQ shows both values; each test file ends with
 * `return check_report("name");`, which prints "N passed, N failed" and exits
 * non-zero on any failure.
 */
#ifndef RMEM_TEST_CHECK_H
#define RMEM_TEST_CHECK_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmem.h"

static int check_passed, check_failed;

#define CHECK(cond)                                                                            \
  do {                                                                                         \
    if (cond) check_passed++;                                                                  \
    else {                                                                                     \
      check_failed++;                                                                          \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s: %s)\n", __FILE__, __LINE__, #cond, \
              rmem_status_name(rmem_last_error()), rmem_last_error_message());                \
    }                                                                                          \
  } while (0)

#define CHECK_EQ(a, b)                                                                           \
  do {                                                                                           \
    long long check_a_ = (long long)(a), check_b_ = (long long)(b);                              \
    if (check_a_ == check_b_) check_passed++;                                                    \
    else {                                                                                       \
      check_failed++;                                                                            \
      fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld (last error: %s)\n", __FILE__, \
              __LINE__, #a, check_a_, #b, check_b_, rmem_last_error_message());                  \
    }                                                                                            \
  } while (0)

/* A failing call must return `status` and leave that status as the last error. */
#define CHECK_ERR(expr, status)                 \
  do {                                          \
    rmem_clear_error();                         \
    CHECK_EQ((expr), (status));                 \
    CHECK_EQ(rmem_last_error(), (status));      \
    CHECK(rmem_last_error_message()[0] != 0);   \
  } while (0)

/* A failing allocation must return NULL and set `status`. */
#define CHECK_NULL_ERR(expr, status)            \
  do {                                          \
    rmem_clear_error();                         \
    CHECK((expr) == NULL);                      \
    CHECK_EQ(rmem_last_error(), (status));      \
  } while (0)

/* Deterministic PRNG (splitmix64) so every run of a stress test is the same. */
static inline uint64_t check_rand(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* A fresh instance of cap bytes (0: the default); a failure is recorded as a CHECK. */
static inline rmem_t *check_instance(size_t cap) {
  rmem_options_t o = {.capacity = cap, .flags = 0};
  rmem_t *r = rmem_create(&o);
  if (r) check_passed++;
  else {
    check_failed++;
    fprintf(stderr, "check_instance(%zu) failed: %s\n", cap, rmem_last_error_message());
  }
  return r;
}

static inline int check_report(const char *name) {
  printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
  return check_failed ? 1 : 0;
}

#endif
