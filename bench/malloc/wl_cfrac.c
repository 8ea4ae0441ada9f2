/*
 * wl_cfrac.c - cfrac-like: single-threaded bignum arithmetic.
 *
 * cfrac factors numbers with continued fractions; its allocation profile is a
 * storm of small, short-lived, mostly LIFO allocations (limb arrays of 1..32
 * words) with a working set of a few hundred live numbers. We reproduce that:
 * a table of live numbers, each step allocates a result from two operands
 * (add or schoolbook multiply, truncated), some temporaries that die at once,
 * and frees the number it replaces.
 */
#include "wl_common.h"

typedef struct num {
  uint32_t n;
  uint32_t limb[];
} num_t;

static num_t *num_new(uint32_t n) {
  num_t *x = wl_xmalloc(sizeof(num_t) + n * sizeof(uint32_t));
  x->n = n;
  return x;
}

static num_t *num_op(const num_t *a, const num_t *b, int mul) {
  uint32_t n = (a->n > b->n ? a->n : b->n) + 1;
  if (n > 32) n = 32;
  num_t *r = num_new(n);
  memset(r->limb, 0, n * sizeof(uint32_t));
  if (!mul) {
    uint64_t carry = 0;
    for (uint32_t i = 0; i < n; i++) {
      uint64_t s = carry + (i < a->n ? a->limb[i] : 0) + (i < b->n ? b->limb[i] : 0);
      r->limb[i] = (uint32_t)s;
      carry = s >> 32;
    }
  } else {
    for (uint32_t i = 0; i < a->n; i++) {
      uint64_t carry = 0;
      for (uint32_t j = 0; j < b->n && i + j < n; j++) {
        uint64_t t = (uint64_t)a->limb[i] * b->limb[j] + r->limb[i + j] + carry;
        r->limb[i + j] = (uint32_t)t;
        carry = t >> 32;
      }
    }
  }
  return r;
}

int main(int argc, char **argv) {
  double scale = wl_scale(argc, argv);
  long steps = (long)(6000000 * scale);
  enum { LIVE = 512 };
  wl_rng_t rng = {0x9E3779B97F4A7C15ull};
  num_t *live[LIVE];
  for (int i = 0; i < LIVE; i++) {
    uint32_t n = (uint32_t)wl_range(&rng, 1, 8);
    live[i] = num_new(n);
    for (uint32_t k = 0; k < n; k++) live[i]->limb[k] = (uint32_t)wl_next(&rng) | 1;
  }
  uint64_t sum = 0;
  for (long s = 0; s < steps; s++) {
    int a = (int)(wl_next(&rng) % LIVE), b = (int)(wl_next(&rng) % LIVE), dst = (int)(wl_next(&rng) % LIVE);
    num_t *r = num_op(live[a], live[b], (s & 7) == 0);
    /* temporaries: a couple of short-lived scratch numbers, freed LIFO */
    num_t *t1 = num_new((uint32_t)wl_range(&rng, 1, 16));
    num_t *t2 = num_new((uint32_t)wl_range(&rng, 1, 4));
    t1->limb[0] = r->limb[0];
    t2->limb[0] = t1->limb[0] ^ 0x5a5a;
    sum += t2->limb[0];
    free(t2);
    free(t1);
    /* normalise: numbers shrink back now and then so sizes stay mixed */
    if ((wl_next(&rng) & 3) == 0) r->n = (uint32_t)wl_range(&rng, 1, r->n);
    free(live[dst]);
    live[dst] = r;
  }
  for (int i = 0; i < LIVE; i++) {
    sum += live[i]->limb[0] + live[i]->n;
    free(live[i]);
  }
  printf("cfrac checksum %llu\n", (unsigned long long)sum);
  return 0;
}
