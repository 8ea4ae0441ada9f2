/*
 * fuzz_arena.c - libFuzzer harness for arenas (three lifetimes, marks, leases)
 * and slab caches.
 *
 * The input is a program: a configuration byte, then steps, each an opcode
 * byte and operands that creates, uses, resets, rewinds or destroys arenas
 * and caches, allocates and frees objects, and throws bad input at them:
 * destroyed and forged handles, pointers that are not from this arena or
 * cache, double frees, wrong sizes, stray user writes anywhere in the range.
 * Every live object carries a pattern that is checked before it dies, bad
 * input must be refused, and the full validator runs every
 * FUZZ_VALIDATE_EVERY steps and at the end, when every arena and cache is
 * destroyed and the instance must hold no page: a crash, a sanitizer report,
 * a pattern mismatch, an accepted bad input, a validator problem or a page
 * kept is a finding.
 *
 * The configuration byte picks one of four instances, each reused for 64
 * inputs (every input starts with no arena, no cache and no page in use):
 * with or without junk fills on free and rewind, and marked for the sanitizer
 * (src/track.h: memory given back by a free, reset, rewind or destroy is
 * poisoned, so rmem touching it is a finding) or created with
 * RMEM_OPT_NO_TRACK, where the program also scribbles over the whole range.
 *
 * Build: cmake -DRMEM_BUILD_FUZZ=ON -DCMAKE_C_COMPILER=clang; run: npm run fuzz.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "internal.h"

enum { ARENAS = 4, CACHES = 3, OBJS = 96, DEPTH = 4, DEAD = 8 };


typedef struct {
  unsigned char *p;
  size_t len;      /* bytes the pattern covers */
  size_t size;     /* the size asked for (arena free needs it) */
  int owner;       /* arena slot, or ARENAS + cache slot; -1 = unused */
  uint32_t scope;  /* bump arenas: mark depth at allocation */
  unsigned char tag;
} obj_t;

static obj_t objs[OBJS];
static arena_t *arenas[ARENAS];
static lifetime_t lifetimes[ARENAS];
static rmem_arena_mark_t marks[ARENAS][DEPTH];
static uint32_t depth[ARENAS];
static slab_cache_t *caches[CACHES];
static size_t cache_size[CACHES];
static void *dead[DEAD]; /* destroyed arena and cache handles */
static unsigned ndead;

static void check(const obj_t *o) { check_pattern(o->p, o->len, o->tag); }

static int free_obj(void) {
  for (int i = 0; i < OBJS; i++)
    if (objs[i].owner < 0) return i;
  return -1;
}

/* Forgets the objects of an owner (checking their patterns first) whose scope is >= min_scope. */
static void drop(int owner, uint32_t min_scope) {
  for (int i = 0; i < OBJS; i++)
    if (objs[i].owner == owner && objs[i].scope >= min_scope) {
      check(&objs[i]);
      objs[i].owner = -1;
    }
}

static bool is_live_start(const void *p) {
  for (int i = 0; i < OBJS; i++)
    if (objs[i].owner >= 0 && objs[i].p == p) return true;
  return false;
}

static void remember_dead(void *h) { dead[ndead++ % DEAD] = h; }

static rmem_t *instances[4];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  input_t in = {data, size};
  /* bit 0: junk fills (freed and rewound memory is overwritten, so a fill that strays outside
     what was freed breaks a live object's pattern); bit 1: RMEM_OPT_NO_TRACK */
  unsigned config = take(&in, 1) & 3;
  /* renewed every 64 inputs: a destroyed handle's slot waits for 1024 more destroys before reuse (handle.h),
     so the handle tables, which the validator reads whole, would keep growing */
  static unsigned uses[4];
  if (instances[config] && ++uses[config] % 64 == 0) {
    if (rmem_destroy(instances[config]) != RMEM_OK) abort();
    instances[config] = NULL;
  }
  if (!instances[config]) {
    rmem_options_t o = {.capacity = RMEM_MIN_CAPACITY * 4,
                        .flags = ((config & 1) ? RMEM_OPT_JUNK : 0) | ((config & 2) ? RMEM_OPT_NO_TRACK : 0)};
    if (!(instances[config] = rmem_create(&o))) abort();
  }
  rmem_t *r = instances[config];
  bool no_track = (config & 2) != 0;
  memset(arenas, 0, sizeof arenas);
  memset(caches, 0, sizeof caches);
  memset(depth, 0, sizeof depth);
  ndead = 0;
  for (int i = 0; i < OBJS; i++) objs[i].owner = -1;
  for (unsigned step = 1; in.n; step++) {
    uint32_t op = take(&in, 1) % 15;
    uint32_t k = take(&in, 1);
    int ai = (int)(k % ARENAS), ci = (int)(k % CACHES);
    arena_t *a = arenas[ai];
    slab_cache_t *c = caches[ci];
    switch (op) {
      case 0: { /* create an arena */
        if (a) break;
        rmem_arena_options_t ao = {.chunk_size = (size_t)(take(&in, 1) % 16) << 12,
                                   .max_size = take(&in, 1) % 4 == 0 ? (size_t)(1 + take(&in, 1) % 64) << 14 : 0};
        lifetime_t lt = (lifetime_t)(k / ARENAS % 3);
        arena_t *na = rmem_arena_create_ex(r, lt, &ao);
        if (na) {
          arenas[ai] = na;
          lifetimes[ai] = lt;
          depth[ai] = 0;
        }
        break;
      }
      case 1: /* destroy an arena */
        if (!a) break;
        drop(ai, 0);
        if (rmem_arena_destroy(a) != RMEM_OK) abort();
        remember_dead(a);
        arenas[ai] = NULL;
        break;
      case 2: { /* allocate from an arena */
        int slot = free_obj();
        if (!a || slot < 0) break;
        size_t n = take(&in, 3) % (k & 1 ? 9000 : 300);
        size_t al = k & 2 ? (size_t)1 << (take(&in, 1) % 16) : 0;
        unsigned char *p = al ? rmem_arena_alloc_aligned(a, n, al) : (k & 4) ? r_arena_fast(a, n) : rmem_arena_alloc(a, n);
        if (n == 0 && p) abort();
        if (!p) break;
        if (al && ((uintptr_t)p & (al - 1))) abort();
        if (((uintptr_t)p & 7) != 0) abort();
        objs[slot] = (obj_t){p, n, n, ai, depth[ai], (unsigned char)(take(&in, 1) | 1)};
        fill_pattern(p, n, objs[slot].tag);
        break;
      }
      case 3: { /* free one object into an arena (only intermediate arenas accept) */
        obj_t *ob = &objs[take(&in, 1) % OBJS];
        if (ob->owner < 0 || ob->owner >= ARENAS) break;
        check(ob);
        int owner = ob->owner;
        arena_t *oa = arenas[owner];
        rmem_status_t st = rmem_arena_free(oa, ob->p, ob->size);
        if (lifetimes[owner] == LIFETIME_INTERMEDIATE) {
          if (st != RMEM_OK) abort();
          ob->owner = -1;
          /* a second free is refused (EDOUBLEFREE, or EBADPTR once its slab went back) */
          if (!is_live_start(ob->p) && rmem_arena_free(oa, ob->p, ob->size) == RMEM_OK) abort();
        } else if (st == RMEM_OK) {
          abort();
        }
        break;
      }
      case 4: /* mark */
        if (!a || lifetimes[ai] == LIFETIME_INTERMEDIATE || depth[ai] >= DEPTH) break;
        marks[ai][depth[ai]++] = rmem_arena_mark(a);
        break;
      case 5: /* rewind to the innermost mark */
        if (!a || depth[ai] == 0) break;
        depth[ai]--;
        drop(ai, depth[ai] + 1); /* check the patterns first: the rewind may junk them */
        if (rmem_arena_rewind(a, marks[ai][depth[ai]]) != RMEM_OK) abort();
        break;
      case 6: /* reset; an old mark must then be refused */
        if (!a) break;
        drop(ai, 0);
        if (rmem_arena_reset(a) != RMEM_OK) abort();
        if (depth[ai] && rmem_arena_rewind(a, marks[ai][0]) == RMEM_OK) abort();
        depth[ai] = 0;
        break;
      case 7: { /* bad handles and bad pointers */
        uintptr_t off = take(&in, 4) % rmem_capacity(r);
        void *p = (char *)rmem_base(r) + off;
        if (ndead) {
          void *h = dead[take(&in, 1) % (ndead < DEAD ? ndead : DEAD)];
          bool live = false; /* the slot may have been reused by a live arena or cache */
          for (int i = 0; i < ARENAS; i++) live |= arenas[i] == h;
          for (int i = 0; i < CACHES; i++) live |= caches[i] == (slab_cache_t *)h;
          if (!live) {
            if (rmem_arena_alloc(h, 8) != NULL) abort();
            if (rmem_slab_alloc(h) != NULL) abort();
            if (rmem_arena_reset(h) == RMEM_OK) abort();
          }
        }
        if (rmem_arena_alloc(p, 8) != NULL) abort(); /* a range pointer is never a handle */
        if (rmem_slab_alloc(p) != NULL) abort();
        if (a && !is_live_start(p) && rmem_arena_free(a, p, 1 + take(&in, 2)) == RMEM_OK) abort();
        if (c && !is_live_start(p) && rmem_slab_free(c, p) == RMEM_OK) abort();
        break;
      }
      case 8: { /* create a cache */
        if (c) break;
        size_t n = 1 + take(&in, 2) % 5000;
        size_t al = take(&in, 1) % 3 == 0 ? (size_t)1 << (take(&in, 1) % 13) : 0;
        slab_cache_t *nc = rmem_slab_cache_create(r, "fuzz", n, al, k & 0x80 ? RMEM_SLAB_STRICT : 0);
        if (nc) {
          caches[ci] = nc;
          cache_size[ci] = n;
        }
        break;
      }
      case 9: { /* destroy a cache (strict caches refuse while objects live) */
        if (!c) break;
        bool any = false;
        for (int i = 0; i < OBJS; i++)
          if (objs[i].owner == ARENAS + ci) {
            any = true;
            check(&objs[i]); /* before the destroy gives their memory back (then it is poisoned) */
          }
        rmem_status_t st = rmem_slab_cache_destroy(c);
        if (st == RMEM_EBUSY && any) break;
        if (st != RMEM_OK) abort();
        for (int i = 0; i < OBJS; i++)
          if (objs[i].owner == ARENAS + ci) objs[i].owner = -1;
        remember_dead(c);
        caches[ci] = NULL;
        break;
      }
      case 10: { /* allocate from a cache */
        int slot = free_obj();
        if (!c || slot < 0) break;
        unsigned char *p = rmem_slab_alloc(c);
        if (!p) break;
        objs[slot] = (obj_t){p, cache_size[ci], cache_size[ci], ARENAS + ci, 0, (unsigned char)(take(&in, 1) | 1)};
        fill_pattern(p, cache_size[ci], objs[slot].tag);
        break;
      }
      case 11: { /* free into a cache: the right one, then a double free, or a wrong one */
        int i = (int)(take(&in, 1) % OBJS);
        obj_t *ob = &objs[i];
        if (ob->owner < ARENAS) break;
        check(ob);
        slab_cache_t *own = caches[ob->owner - ARENAS];
        slab_cache_t *other = caches[(ob->owner - ARENAS + 1) % CACHES];
        if (other && other != own && rmem_slab_free(other, ob->p) == RMEM_OK) abort();
        if (rmem_slab_free(own, ob->p) != RMEM_OK) abort();
        ob->owner = -1;
        if (!is_live_start(ob->p) && rmem_slab_free(own, ob->p) == RMEM_OK) abort();
        if (rmem_slab_free(own, ob->p + 1) == RMEM_OK) abort();
        break;
      }
      case 12: /* shrink */
        if (c && rmem_slab_cache_shrink(c) != RMEM_OK) abort();
        break;
      case 13: { /* the user writes anywhere in the range: must not corrupt any metadata */
        uintptr_t off = take(&in, 4) % rmem_capacity(r);
        unsigned char v = (unsigned char)take(&in, 1);
        size_t n = take(&in, 1);
        if (off + n > rmem_capacity(r)) n = rmem_capacity(r) - off;
        if (!no_track) break; /* the marked instances: only the unmarked one may be scribbled over */
        memset((char *)rmem_base(r) + off, v, n);
        for (int i = 0; i < OBJS; i++)
          if (objs[i].owner >= 0) fill_pattern(objs[i].p, objs[i].len, objs[i].tag);
        break;
      }
      case 14: { /* lease the rest of a bump arena's chunk */
        int slot = free_obj();
        if (!a || slot < 0) break;
        size_t len = 0;
        unsigned char *p = rmem_arena_lease(a, take(&in, 2), &len);
        if (lifetimes[ai] == LIFETIME_INTERMEDIATE) {
          if (p) abort();
          break;
        }
        if (!p) break;
        size_t n = len < 512 ? len : 512; /* pattern only the head: leases can be large */
        objs[slot] = (obj_t){p, n, n, ai, depth[ai], 0x5B};
        memset(p, 0x5B, n);
        break;
      }
    }
    if (step % FUZZ_VALIDATE_EVERY == 0 && rmem_validate(r) != 0) abort();
  }
  for (int i = 0; i < OBJS; i++)
    if (objs[i].owner >= 0) {
      check(&objs[i]);
      /* a strict cache refuses to die with live objects: free them first */
      if (objs[i].owner >= ARENAS && rmem_slab_free(caches[objs[i].owner - ARENAS], objs[i].p) != RMEM_OK) abort();
    }
  for (int i = 0; i < ARENAS; i++)
    if (arenas[i] && rmem_arena_destroy(arenas[i]) != RMEM_OK) abort();
  for (int i = 0; i < CACHES; i++)
    if (caches[i] && rmem_slab_cache_destroy(caches[i]) != RMEM_OK) abort();
  /* the next input starts with nothing: no arena, no cache, no page in use */
  if (rmem_validate(r) != 0 || rmem_pages_in_use(r) != 0) abort();
  return 0;
}
