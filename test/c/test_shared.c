/*
 * test_shared.c - shared instances (RMEM_OPT_SHARED): every call from any
 * thread, blocks freed by threads that do not own them, double frees
 * between threads caught at the second call, heaps of ended threads taken
 * over, arenas owned by their thread, slab caches and MeMS from many
 * threads at once, and a deterministic stress with pattern checks and the
 * validator after every round.
 */
#include <stdatomic.h>

#include "check.h"
#include "internal.h"
#include "platform.h"

static rmem_t *shared_instance(size_t cap) {
  rmem_options_t o = {.capacity = cap, .flags = RMEM_OPT_SHARED};
  rmem_t *r = rmem_create(&o);
  CHECK(r != NULL);
  return r;
}

static void fill(unsigned char *p, size_t n, unsigned seed) {
  for (size_t k = 0; k < n; k++) p[k] = (unsigned char)(seed * 31 + k);
}

static int intact(const unsigned char *p, size_t n, unsigned seed) {
  for (size_t k = 0; k < n; k++)
    if (p[k] != (unsigned char)(seed * 31 + k)) return 0;
  return 1;
}

static size_t live_blocks(rmem_t *r) {
  rmem_heap_stats_t hs;
  CHECK_EQ(rmem_heap_stats(r, &hs), RMEM_OK);
  return hs.live_blocks;
}

/* ---- the API on one thread, and the private/shared refusals ---- */

static void test_basics(void) {
  rmem_t *r = shared_instance(8 << 20);
  void *p = rmem_alloc(r, 100);
  CHECK(p != NULL);
  CHECK(rmem_usable_size(r, p) >= 100);
  fill(p, 100, 1);
  void *q = rmem_realloc(r, p, 5000);
  CHECK(q != NULL && intact(q, 100, 1));
  CHECK_EQ(rmem_free(r, q), RMEM_OK);
  CHECK_ERR(rmem_free(r, q), RMEM_EDOUBLEFREE);
  void *big = rmem_alloc(r, 200000);
  CHECK(big != NULL);
  CHECK_EQ(rmem_free(r, big), RMEM_OK);
  CHECK_ERR(rmem_free(r, big), RMEM_EDOUBLEFREE);
  void *z = rmem_calloc(r, 10, 10);
  CHECK(z != NULL && ((unsigned char *)z)[99] == 0);
  CHECK_EQ(rmem_free(r, z), RMEM_OK);

  rmem_local_t *l = rmem_local(r);
  CHECK(l != NULL);
  CHECK(rmem_local(r) == l); /* the same heap for the same thread */
  void *a = rmem_local_alloc(l, 48);
  CHECK(a != NULL);
  CHECK_EQ(rmem_local_usable_size(l, a), 48);
  CHECK_EQ(rmem_local_free(l, a), RMEM_OK);
  CHECK_ERR(rmem_local_free(l, a), RMEM_EDOUBLEFREE);
  void *b = rmem_alloc(r, 48); /* the two APIs share the heap */
  CHECK_EQ(rmem_local_free(l, b), RMEM_OK);
  CHECK_NULL_ERR(rmem_local_alloc(NULL, 8), RMEM_EINVAL);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(live_blocks(r), 0);
  CHECK_EQ(rmem_local_release(r), RMEM_OK);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK(rmem_local(r) != NULL); /* a heap again (the released one, taken over) */

  /* a stale rmem_local_t (released, or its thread gone) is never used as the caller's heap: its calls
     take the slow paths and act as rmem_alloc / rmem_free would */
  rmem_local_t *l1 = rmem_local(r);
  void *kept = rmem_local_alloc(l1, 64);
  CHECK(kept != NULL);
  CHECK_EQ(rmem_local_release(r), RMEM_OK);
  void *c = rmem_local_alloc(l1, 64); /* the caller's new heap (which took over l1: the same one) */
  CHECK(c != NULL);
  CHECK_EQ(rmem_local_usable_size(l1, c), 64);
  CHECK_EQ(rmem_local_free(l1, c), RMEM_OK);
  CHECK_ERR(rmem_local_free(l1, c), RMEM_EDOUBLEFREE);
  CHECK_EQ(rmem_local_free(l1, kept), RMEM_OK);
  CHECK_EQ(rmem_validate(r), 0);
  rmem_heap_stats_t hs;
  CHECK_EQ(rmem_heap_stats(r, &hs), RMEM_OK);
  CHECK_EQ(hs.threads, 1);
  CHECK_EQ(hs.threads_active, 1);
  CHECK_EQ(hs.adoptions, 2); /* two releases, two take-overs */
  CHECK_EQ(hs.live_blocks, 0);

  rmem_t *priv = check_instance(2 << 20);
  CHECK_NULL_ERR(rmem_local(priv), RMEM_EPERM);
  CHECK_ERR(rmem_local_release(priv), RMEM_EPERM);
  rmem_destroy(priv);
  CHECK_EQ(rmem_destroy(r), RMEM_OK);
}

/* ---- an instance over the caller's range; caches found by name from another thread ---- */

static slab_cache_t *found_cache;
static void *found_obj;

static void find_cache(void *arg) {
  rmem_t *r = arg;
  found_cache = rmem_slab_cache_find(r, "records");
  found_obj = found_cache ? rmem_slab_alloc(found_cache) : NULL;
}

static void test_create_in(void) {
  size_t size = 4 << 20;
  unsigned char *range = rmem_os_map(size, 64 << 10);
  CHECK(range != NULL);
  rmem_options_t o = {.capacity = 0, .flags = RMEM_OPT_SHARED};
  CHECK_NULL_ERR(rmem_create_in(range + 4096, size - (64 << 10), &o), RMEM_EINVAL); /* not 64 KiB aligned */
  CHECK_NULL_ERR(rmem_create_in(range, size - 4096, &o), RMEM_EINVAL);              /* not a multiple */
  CHECK_NULL_ERR(rmem_create_in(range, 64 << 10, &o), RMEM_EINVAL);                 /* below the minimum */
  CHECK_NULL_ERR(rmem_create_in(NULL, size, &o), RMEM_EINVAL);
  rmem_t *r = rmem_create_in(range, size, &o);
  CHECK(r != NULL);
  CHECK(rmem_base(r) == range && rmem_capacity(r) == size);
  void *p = rmem_alloc(r, 300), *big = rmem_alloc(r, 600000);
  CHECK(p != NULL && big != NULL && (unsigned char *)p > range && (unsigned char *)big < range + size);
  fill(p, 300, 9);
  CHECK_EQ(rmem_free(r, big), RMEM_OK);
  CHECK_EQ(rmem_defrag(r, NULL), RMEM_OK); /* free pages go back to the OS: they read as zero again */
  CHECK(intact(p, 300, 9));

  slab_cache_t *c = rmem_slab_cache_create(r, "records", 72, 0, 0);
  CHECK(c != NULL);
  CHECK(rmem_slab_cache_find(r, "records") == c);
  CHECK_NULL_ERR(rmem_slab_cache_find(r, "record"), RMEM_EINVAL);
  CHECK_NULL_ERR(rmem_slab_cache_find(r, NULL), RMEM_EINVAL);
  CHECK(check_thread_run(find_cache, r) == 0);
  CHECK(found_cache == c && found_obj != NULL);
  CHECK_EQ(rmem_slab_free(c, found_obj), RMEM_OK); /* allocated by the other thread, freed here */
  CHECK_EQ(rmem_slab_cache_destroy(c), RMEM_OK);
  CHECK_NULL_ERR(rmem_slab_cache_find(r, "records"), RMEM_EINVAL);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_destroy(r), RMEM_OK);
  range[0] = 1; /* still the caller's, still mapped */
  range[size - 1] = 2;
  CHECK_EQ(rmem_os_release(range, size), 0);
}

/* ---- blocks handed between threads ---- */

enum { NT = 4, PER = 4000 };
static rmem_t *R;

/* ---- the try calls: the fast paths alone, which change nothing and record nothing when they decline ---- */

static rmem_local_t *try_l;
static void *try_block;
static int try_other_result = -1;

static void try_free_from_other_thread(void *arg) {
  (void)arg;
  rmem_local_t *mine = rmem_local(R);
  try_other_result = rmem_local_try_free(mine, try_block); /* another heap's block: not the fast path's */
  CHECK(try_l != mine);
}

static void test_try_calls(void) {
  R = shared_instance(8 << 20);
  rmem_local_t *l = try_l = rmem_local(R);
  rmem_clear_error();
  CHECK(rmem_local_try_alloc(l, 64) == NULL); /* a new heap's front is empty */
  CHECK(rmem_local_try_alloc(NULL, 64) == NULL);
  CHECK(rmem_local_try_alloc(l, 0) == NULL);
  CHECK(rmem_local_try_alloc(l, RMEM_LOCAL_TRY_MAX + 1) == NULL);
  CHECK_EQ(rmem_last_error(), RMEM_OK); /* declining is no error */
  void *a = rmem_local_alloc(l, 64); /* the slow path refills the front */
  CHECK(a != NULL);
  void *b = rmem_local_try_alloc(l, 64);
  CHECK(b != NULL && b != a);
  CHECK_EQ(rmem_local_usable_size(l, b), 64);
  CHECK_EQ(rmem_local_try_free(l, b), 1);
  CHECK_EQ(rmem_local_try_free(l, b), 0); /* a double free: declined, and nothing changed ... */
  CHECK_EQ(rmem_last_error(), RMEM_OK);
  CHECK_EQ(rmem_validate(R), 0);
  CHECK_ERR(rmem_local_free(l, b), RMEM_EDOUBLEFREE); /* ... which rmem_local_free then reports */
  rmem_clear_error();
  CHECK_EQ(rmem_local_try_free(l, NULL), 0);
  CHECK_EQ(rmem_local_try_free(NULL, a), 0);
  CHECK_EQ(rmem_local_try_free(l, (char *)a + 8), 0); /* interior */
  CHECK_EQ(rmem_local_try_free(l, (char *)a + 1), 0); /* misaligned */
  int on_stack;
  CHECK_EQ(rmem_local_try_free(l, &on_stack), 0);
  CHECK_EQ(rmem_last_error(), RMEM_OK);
  try_block = a;
  CHECK(check_thread_run(try_free_from_other_thread, NULL) == 0);
  CHECK_EQ(try_other_result, 0);
  CHECK_EQ(rmem_usable_size(R, a), 64); /* still live: the declined call changed nothing */
  CHECK_EQ(rmem_local_try_free(l, a), 1);
  /* every class up to the limit, through the front and back */
  for (size_t n = 1; n <= RMEM_LOCAL_TRY_MAX; n = n * 2 + 1) {
    void *p = rmem_local_alloc(l, n);
    CHECK(p != NULL);
    CHECK_EQ(rmem_local_try_free(l, p), 1);
    void *q = rmem_local_try_alloc(l, n);
    CHECK(q == p); /* the newest block of its class */
    CHECK_EQ(rmem_local_free(l, q), RMEM_OK);
  }
  CHECK_EQ(rmem_validate(R), 0);
  CHECK_EQ(live_blocks(R), 0);
  CHECK_EQ(rmem_destroy(R), RMEM_OK);
  R = NULL;
}

/* ---- bound slots: the owned try calls, and rmem clearing the slot before the heap stops being the thread's ---- */

static _Thread_local rmem_local_t *bound_slot;
static rmem_local_t *bind_main_heap;
static int bind_foreign_result = -1;
static rmem_local_t *bind_after_release = (rmem_local_t *)1;

static void bind_in_thread(void *arg) {
  (void)arg;
  /* another thread's heap binds nothing: the slot gets NULL */
  rmem_local_t *slot = (rmem_local_t *)1;
  bind_foreign_result = rmem_local_bind(bind_main_heap, &slot);
  CHECK(slot == NULL);
  /* its own heap binds; when the thread ends, rmem clears the slot from the thread itself (R4) */
  rmem_local_t *l = rmem_local(R);
  CHECK_EQ(rmem_local_bind(l, &bound_slot), 1);
  CHECK(bound_slot == l);
  void *p = rmem_local_alloc(l, 48);
  CHECK_EQ(rmem_local_owned_try_free(bound_slot, p), 1);
  CHECK(rmem_local_owned_try_alloc(bound_slot, 48) == p);
  CHECK_EQ(rmem_local_free(l, p), RMEM_OK);
  /* rmem_local_release clears it too */
  CHECK_EQ(rmem_local_release(R), RMEM_OK);
  bind_after_release = bound_slot;
  l = rmem_local(R);
  CHECK_EQ(rmem_local_bind(l, &bound_slot), 1); /* bound again, left bound for the thread's end */
}

static void test_bound_slots(void) {
  R = shared_instance(8 << 20);
  rmem_local_t *l = bind_main_heap = rmem_local(R), *slot = (rmem_local_t *)1, *second = NULL;
  rmem_clear_error();
  CHECK_EQ(rmem_local_bind(NULL, &slot), 0);
  CHECK(slot == NULL);
  CHECK_EQ(rmem_local_bind(l, NULL), 1); /* only asks */
  CHECK(rmem_local_owned_try_alloc(NULL, 64) == NULL);
  CHECK_EQ(rmem_local_owned_try_free(NULL, l), 0);
  CHECK_EQ(rmem_local_bind(l, &slot), 1);
  CHECK(slot == l);
  CHECK_EQ(rmem_validate(R), 0);
  /* the owned calls: the try calls' answers, with every refusal declined and nothing recorded */
  CHECK(rmem_local_owned_try_alloc(slot, 64) == NULL); /* empty front */
  void *a = rmem_local_alloc(l, 64);
  CHECK(a != NULL);
  void *b = rmem_local_owned_try_alloc(slot, 64);
  CHECK(b != NULL && b != a);
  CHECK(rmem_local_owned_try_alloc(slot, 0) == NULL);
  CHECK(rmem_local_owned_try_alloc(slot, RMEM_LOCAL_TRY_MAX + 1) == NULL);
  CHECK_EQ(rmem_local_owned_try_free(slot, b), 1);
  CHECK_EQ(rmem_local_owned_try_free(slot, b), 0); /* double free: declined */
  CHECK_EQ(rmem_local_owned_try_free(slot, (char *)a + 8), 0);
  CHECK_EQ(rmem_local_owned_try_free(slot, (char *)a + 1), 0);
  int on_stack;
  CHECK_EQ(rmem_local_owned_try_free(slot, &on_stack), 0);
  CHECK_EQ(rmem_last_error(), RMEM_OK);
  CHECK_ERR(rmem_local_free(l, b), RMEM_EDOUBLEFREE); /* the slow path still reports it */
  rmem_clear_error();
  CHECK_EQ(rmem_validate(R), 0);
  /* a second slot bound to the heap clears the first */
  CHECK_EQ(rmem_local_bind(l, &second), 1);
  CHECK(slot == NULL && second == l);
  CHECK(check_thread_run(bind_in_thread, NULL) == 0);
  CHECK_EQ(bind_foreign_result, 0);
  CHECK(bind_after_release == NULL);
  CHECK_EQ(rmem_validate(R), 0);
  /* releasing our heap clears our slot; a stale heap then binds nothing */
  CHECK_EQ(rmem_local_free(l, a), RMEM_OK);
  CHECK_EQ(rmem_local_release(R), RMEM_OK);
  CHECK(second == NULL);
  CHECK_EQ(rmem_local_bind(l, &second), 0);
  CHECK(second == NULL);
  /* a debugging option: the fast paths are off, so nothing binds */
  rmem_options_t o = {.capacity = 8 << 20, .flags = RMEM_OPT_SHARED | RMEM_OPT_JUNK};
  rmem_t *dbg = rmem_create(&o);
  CHECK(dbg != NULL);
  rmem_local_t *dl = rmem_local(dbg), *dslot = (rmem_local_t *)1;
  CHECK(dl != NULL);
  CHECK_EQ(rmem_local_bind(dl, &dslot), 0);
  CHECK(dslot == NULL);
  CHECK_EQ(rmem_destroy(dbg), RMEM_OK);
  /* rmem_destroy from the owner clears its bound slot */
  l = rmem_local(R);
  CHECK_EQ(rmem_local_bind(l, &second), 1);
  CHECK_EQ(live_blocks(R), 0);
  CHECK_EQ(rmem_destroy(R), RMEM_OK);
  CHECK(second == NULL);
  R = NULL;
}

static unsigned char *_Atomic box[NT][PER];
static _Atomic size_t thread_errors;

typedef struct targ {
  int id;
  uint64_t seed;
  int use_local;
} targ_t;

static void hand_off(void *arg) {
  targ_t *t = arg;
  rmem_local_t *l = t->use_local ? rmem_local(R) : NULL;
  int next = (t->id + 1) % NT;
  for (int k = 0; k < PER; k++) {
    /* a block of the neighbour (another thread's heap): check it and free it */
    unsigned char *old = atomic_exchange(&box[next][k], NULL);
    if (old) {
      if (!intact(old, 16, (unsigned)(next * 7919 + k))) atomic_fetch_add(&thread_errors, 1);
      if ((l ? rmem_local_free(l, old) : rmem_free(R, old)) != RMEM_OK) atomic_fetch_add(&thread_errors, 1);
    }
    size_t n = 16 + check_rand(&t->seed) % 3000;
    if (check_rand(&t->seed) % 50 == 0) n = 40000 + check_rand(&t->seed) % 100000; /* a page run now and then */
    unsigned char *p = l ? rmem_local_alloc(l, n) : rmem_alloc(R, n);
    if (!p) {
      atomic_fetch_add(&thread_errors, 1);
      continue;
    }
    fill(p, 16, (unsigned)(t->id * 7919 + k));
    unsigned char *prev = atomic_exchange(&box[t->id][k], p);
    if (prev) { /* its own block from the last round (or taken over from an ended thread's heap) */
      if (!intact(prev, 16, (unsigned)(t->id * 7919 + k))) atomic_fetch_add(&thread_errors, 1);
      if (rmem_free(R, prev) != RMEM_OK) atomic_fetch_add(&thread_errors, 1);
    }
  }
}

static void test_hand_off(void) {
  R = shared_instance(256 << 20);
  size_t base = live_blocks(R);
  for (int round = 0; round < 6; round++) {
    targ_t args[NT];
    for (int t = 0; t < NT; t++) args[t] = (targ_t){t, (uint64_t)(round * 101 + t + 1), round & 1};
    CHECK_EQ(check_threads_run(NT, hand_off, args, sizeof args[0]), 0);
    CHECK_EQ(atomic_load(&thread_errors), 0);
    CHECK_EQ(rmem_validate(R), 0); /* the threads are gone: their heaps are orphans, every one checked */
  }
  for (int t = 0; t < NT; t++)
    for (int k = 0; k < PER; k++) {
      unsigned char *p = atomic_exchange(&box[t][k], NULL);
      if (p) CHECK_EQ(rmem_free(R, p), RMEM_OK);
    }
  CHECK_EQ(rmem_validate(R), 0);
  CHECK_EQ(live_blocks(R), base);
  /* ended threads' heaps were taken over, not remade (6 rounds of NT threads); an orphan that a remote
     free holds for a moment (to drain it) is passed over, so a round may make a few */
  CHECK(atomic_load(&R->nheaps) <= 2 * NT + 1);
  rmem_destroy(R);
}

/* ---- realloc moves a block through the calling thread's heap; another thread's block moves too ---- */

enum { MOVES = 4000 };
static unsigned char *move_blk[MOVES];

static void realloc_mover(void *arg) {
  (void)arg;
  /* every block is the main thread's: each move takes a block of this heap and frees the old one remotely */
  for (int k = 0; k < MOVES; k++) {
    size_t len = 16 + (size_t)(k % 200);
    unsigned char *q = rmem_realloc(R, move_blk[k], len * 3);
    if (!q || !intact(q, len, (unsigned)k)) {
      atomic_fetch_add(&thread_errors, 1);
      continue;
    }
    /* the old block was freed by the move: a second free of it is a double free, at this call */
    if (q != move_blk[k] && rmem_free(R, move_blk[k]) != RMEM_EDOUBLEFREE) atomic_fetch_add(&thread_errors, 1);
    fill(q, len * 3, (unsigned)k + 7);
    move_blk[k] = q;
  }
}

static void test_realloc_moves(void) {
  R = shared_instance(64 << 20);
  size_t base = live_blocks(R);
  /* moves within this thread's heap: grow, shrink below half, grow again */
  for (int k = 0; k < MOVES; k++) {
    size_t len = 16 + (size_t)(k % 200);
    unsigned char *p = rmem_alloc(R, len);
    CHECK(p != NULL);
    fill(p, len, (unsigned)k);
    unsigned char *q = rmem_realloc(R, p, len * 4);
    CHECK(q != NULL && intact(q, len, (unsigned)k));
    if (q != p) CHECK_ERR(rmem_free(R, p), RMEM_EDOUBLEFREE);
    unsigned char *s = rmem_realloc(R, q, 8);
    CHECK(s != NULL && intact(s, 8, (unsigned)k));
    CHECK_EQ(rmem_free(R, s), RMEM_OK);
    if (k % 512 == 0) CHECK_EQ(rmem_validate(R), 0);
  }
  CHECK_EQ(rmem_validate(R), 0);
  CHECK_EQ(live_blocks(R), base);
  /* moves of this thread's blocks by another thread */
  for (int k = 0; k < MOVES; k++) {
    size_t len = 16 + (size_t)(k % 200);
    move_blk[k] = rmem_alloc(R, len);
    CHECK(move_blk[k] != NULL);
    fill(move_blk[k], len, (unsigned)k);
  }
  atomic_store(&thread_errors, 0);
  int one = 0;
  CHECK_EQ(check_threads_run(1, realloc_mover, &one, sizeof one), 0);
  CHECK_EQ(atomic_load(&thread_errors), 0);
  CHECK_EQ(rmem_validate(R), 0);
  for (int k = 0; k < MOVES; k++) {
    size_t len = 16 + (size_t)(k % 200);
    CHECK(intact(move_blk[k], len * 3, (unsigned)k + 7));
    CHECK_EQ(rmem_free(R, move_blk[k]), RMEM_OK); /* now the ended thread's blocks: remote frees again */
  }
  CHECK_EQ(rmem_validate(R), 0);
  CHECK_EQ(live_blocks(R), base);
  rmem_destroy(R);
}

/* ---- one owner allocates, three threads free: a pipeline of remote frees, validated as it runs ---- */

enum { PIPE_CONSUMERS = 3, PIPE_ITEMS = 60000 };
static _Atomic(unsigned char *) pipe_slot[PIPE_CONSUMERS];
static _Atomic int pipe_done, pipe_bad;

static void pipeline(void *arg) {
  int k = *(int *)arg;
  if (k == 0) { /* the owner: every block comes from its heap's front (rmem_local_alloc) */
    rmem_local_t *l = rmem_local(R);
    CHECK(l != NULL);
    for (unsigned n = 0; n < PIPE_ITEMS && !atomic_load(&pipe_bad); n++) {
      int c = (int)(n % PIPE_CONSUMERS);
      while (atomic_load(&pipe_slot[c]) && !atomic_load(&pipe_bad)) check_yield();
      size_t len = 2 + n % 250;
      unsigned char *p = rmem_local_alloc(l, len);
      if (!p) {
        atomic_store(&pipe_bad, 1);
        break;
      }
      p[0] = (unsigned char)len;
      fill(p + 1, len - 1, (unsigned)len);
      atomic_store(&pipe_slot[c], p);
      if (n % 8192 == 0 && rmem_validate(R) != 0) atomic_store(&pipe_bad, 2); /* while the consumers free */
    }
    for (int c = 0; c < PIPE_CONSUMERS; c++)
      while (atomic_load(&pipe_slot[c]) && !atomic_load(&pipe_bad)) check_yield();
    atomic_store(&pipe_done, 1);
    return;
  }
  for (;;) {
    unsigned char *p = atomic_exchange(&pipe_slot[k - 1], NULL);
    if (!p) {
      if (atomic_load(&pipe_done) || atomic_load(&pipe_bad)) return;
      check_yield();
      continue;
    }
    size_t len = p[0];
    if (!intact(p + 1, len - 1, (unsigned)len)) atomic_store(&pipe_bad, 3);
    if (rmem_free(R, p) != RMEM_OK) atomic_store(&pipe_bad, 4); /* another thread's block: a remote free */
  }
}

static void test_pipeline(void) {
#if defined(RMEM_VALGRIND) && RMEM_VALGRIND
  return; /* memcheck runs one thread at a time: spinning hand-offs take it minutes (plain, ASan and TSan run it) */
#endif
  R = shared_instance(64 << 20);
  size_t base = live_blocks(R);
  int args[1 + PIPE_CONSUMERS] = {0, 1, 2, 3};
  CHECK_EQ(check_threads_run(1 + PIPE_CONSUMERS, pipeline, args, sizeof args[0]), 0);
  CHECK_EQ(atomic_load(&pipe_bad), 0);
  CHECK_EQ(rmem_validate(R), 0);
  CHECK_EQ(live_blocks(R), base);
  rmem_destroy(R);
}

/* ---- two threads free every block, the second as the first returns, while the owner takes the block back
   (drains) again and again: one free wins, the other is a double free (a free reads the remote bit before
   the live bit, and the owner clears them in the other order, R1). ---- */

enum { RACE_ITEMS = 40000 };
static _Atomic(unsigned char *) race_slot;
static _Atomic unsigned race_taken; /* freers that have taken the current block: 0, 1, 2 */
static _Atomic int race_done, race_ok, race_double, race_other;

static void race(void *arg) {
  int k = *(int *)arg;
  if (k == 0) { /* the owner: hands each block to both freers, drains as it allocates the next */
    rmem_local_t *l = rmem_local(R);
    CHECK(l != NULL);
    for (unsigned n = 0; n < RACE_ITEMS; n++) {
      unsigned char *p = rmem_local_alloc(l, 16 + (n % 8) * 16);
      if (!p) break;
      atomic_store(&race_taken, 0);
      atomic_store(&race_slot, p);
      while (atomic_load(&race_taken) < 1) check_yield();
      /* the first free is in: take the block back (stats drains this thread's heap) while the second runs */
      rmem_heap_stats_t hs;
      while (atomic_load(&race_taken) < 2) CHECK_EQ(rmem_heap_stats(R, &hs), RMEM_OK);
      atomic_store(&race_slot, NULL);
    }
    atomic_store(&race_done, 1);
    return;
  }
  unsigned char *last = NULL;
  while (!atomic_load(&race_done)) {
    unsigned char *p = atomic_load(&race_slot);
    if (!p || p == last) {
      check_yield();
      continue;
    }
    last = p;
    if (k == 2) /* the second free starts as the owner starts taking the block back from the first */
      while (atomic_load(&race_taken) < 1 && !atomic_load(&race_done)) continue;
    rmem_status_t st = rmem_free(R, p);
    if (st == RMEM_OK) atomic_fetch_add(&race_ok, 1);
    else if (st == RMEM_EDOUBLEFREE) atomic_fetch_add(&race_double, 1);
    else atomic_fetch_add(&race_other, 1);
    atomic_fetch_add(&race_taken, 1);
  }
}

static void test_racing_double_frees(void) {
#if defined(RMEM_VALGRIND) && RMEM_VALGRIND
  return; /* spinning hand-offs under memcheck's one-thread-at-a-time: minutes (plain, ASan, TSan run it) */
#endif
  R = shared_instance(64 << 20);
  size_t base = live_blocks(R);
  int args[3] = {0, 1, 2};
  CHECK_EQ(check_threads_run(3, race, args, sizeof args[0]), 0);
  CHECK_EQ(atomic_load(&race_ok), RACE_ITEMS);     /* every block freed exactly once ... */
  CHECK_EQ(atomic_load(&race_double), RACE_ITEMS); /* ... and every second free refused */
  CHECK_EQ(atomic_load(&race_other), 0);
  CHECK_EQ(rmem_validate(R), 0);
  CHECK_EQ(live_blocks(R), base);
  rmem_destroy(R);
}

/* ---- double frees between threads, caught at the second call ---- */

static void *shared_p, *shared_x;
static rmem_status_t st1, st2, st3;

static void free_p_twice(void *arg) {
  (void)arg;
  st1 = rmem_free(R, shared_p);
  st2 = rmem_free(R, shared_p);
}

static void free_p_x_p(void *arg) {
  (void)arg;
  st1 = rmem_free(R, shared_p);
  st2 = rmem_free(R, shared_x);
  st3 = rmem_free(R, shared_p);
}

static void free_p_once(void *arg) {
  (void)arg;
  st1 = rmem_free(R, shared_p);
}

static void test_double_frees(void) {
  R = shared_instance(16 << 20);
  size_t sizes[] = {16, 48, 1000, 4096, 20000, 100000};
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
    /* B frees A's block twice: the second free is refused at that call */
    shared_p = rmem_alloc(R, sizes[k]);
    CHECK(check_thread_run(free_p_twice, NULL) == 0);
    CHECK_EQ(st1, RMEM_OK);
    CHECK_EQ(st2, RMEM_EDOUBLEFREE);
    /* and the owner's own free of it now is a double free too, before and after it takes it back */
    CHECK_ERR(rmem_free(R, shared_p), RMEM_EDOUBLEFREE);
    CHECK_EQ(rmem_heap_trim(R, 0), RMEM_OK); /* drains what others freed into this thread's heap */
    CHECK_ERR(rmem_free(R, shared_p), RMEM_EDOUBLEFREE);
    CHECK_EQ(rmem_validate(R), 0);

    /* free(p); free(x); free(p) from B: x is freed, the second free of p refused */
    shared_p = rmem_alloc(R, sizes[k]);
    shared_x = rmem_alloc(R, sizes[k]);
    CHECK(check_thread_run(free_p_x_p, NULL) == 0);
    CHECK_EQ(st1, RMEM_OK);
    CHECK_EQ(st2, RMEM_OK);
    CHECK_EQ(st3, RMEM_EDOUBLEFREE);
    CHECK_EQ(rmem_validate(R), 0);

    /* A frees, then B frees: B's free is the double free */
    shared_p = rmem_alloc(R, sizes[k]);
    CHECK_EQ(rmem_free(R, shared_p), RMEM_OK);
    CHECK(check_thread_run(free_p_once, NULL) == 0);
    CHECK_EQ(st1, RMEM_EDOUBLEFREE);
  }
  CHECK_EQ(rmem_validate(R), 0);
  CHECK_EQ(live_blocks(R), 0);
  rmem_destroy(R);
}

/* ---- a block another thread freed, taken back by its owner: any later free of it is a double free; handed
   out again, it is freed on the fast path and by another thread as any block; the slabs go back clean ---- */

static void test_remote_bit_lifecycle(void) {
  R = shared_instance(16 << 20);
  rmem_local_t *l = rmem_local(R);
  CHECK(l != NULL);
  rmem_heap_stats_t hs;
  for (size_t size = 16; size <= 2048; size *= 2) {
    shared_p = rmem_local_alloc(l, size);
    CHECK(check_thread_run(free_p_once, NULL) == 0);
    CHECK_EQ(st1, RMEM_OK);
    CHECK_EQ(rmem_heap_stats(R, &hs), RMEM_OK); /* takes it back onto this thread's stack */
    CHECK(check_thread_run(free_p_once, NULL) == 0);
    CHECK_EQ(st1, RMEM_EDOUBLEFREE); /* another thread's free after the owner took it back */
    CHECK_ERR(rmem_local_free(l, shared_p), RMEM_EDOUBLEFREE);
    CHECK_ERR(rmem_free(R, shared_p), RMEM_EDOUBLEFREE);
    void *q = rmem_local_alloc(l, size);
    CHECK(q == shared_p); /* the newest block on its stack, handed out again */
    CHECK_EQ(rmem_validate(R), 0);
    CHECK_EQ(rmem_local_free(l, q), RMEM_OK); /* its own thread frees it on the fast path */
    q = rmem_local_alloc(l, size);
    CHECK(q == shared_p);
    CHECK(check_thread_run(free_p_once, NULL) == 0);
    CHECK_EQ(st1, RMEM_OK); /* and another thread frees it once more */
    CHECK_EQ(rmem_heap_stats(R, &hs), RMEM_OK);
    CHECK_EQ(rmem_validate(R), 0);
  }
  CHECK_EQ(rmem_heap_trim(R, 0), RMEM_OK); /* the slabs go back with blocks whose bits stayed */
  CHECK_EQ(rmem_validate(R), 0);           /* no remote bit on a page that holds no slab */
  CHECK_EQ(live_blocks(R), 0);
  rmem_destroy(R);
}

/* ---- a thread that ends with live blocks; others free them; its heap is taken over ---- */

static void *left[200];

static void alloc_and_end(void *arg) {
  (void)arg;
  for (int k = 0; k < 200; k++) left[k] = rmem_alloc(R, 24 + (size_t)k * 8);
}

static void free_left(void *arg) {
  (void)arg;
  for (int k = 0; k < 200; k++)
    if (rmem_free(R, left[k]) != RMEM_OK) atomic_fetch_add(&thread_errors, 1);
}

/* Slabs held by orphan heaps, and blocks on their fronts and depots. */
static size_t orphan_slabs(rmem_t *r, size_t *stacked) {
  size_t slabs = 0;
  *stacked = 0;
  for (uint32_t id = 1; id <= atomic_load(&r->nheaps); id++) {
    rmem_heap_t *h = r->heaps[id];
    if (!h || atomic_load(&h->state) != RMEM_HS_ORPHAN) continue;
    for (uint32_t c = 0; c < h->nclasses; c++) slabs += h->cls[c].slabs;
    for (uint32_t t = 1; t <= h->nclasses; t++) *stacked += h->front.n[t] + h->dn[t];
  }
  return slabs;
}

static void test_orphans(void) {
  R = shared_instance(16 << 20);
  CHECK(check_thread_run(alloc_and_end, NULL) == 0); /* its heap is an orphan now, holding 200 blocks */
  CHECK_EQ(live_blocks(R), 200);
  size_t stacked, slabs = orphan_slabs(R, &stacked);
  CHECK(slabs > 0); /* the slabs of its live blocks */
  CHECK_EQ(stacked, 0); /* trimmed when its thread ended (R2) */
  CHECK(check_thread_run(free_left, NULL) == 0); /* frees into an orphan */
  CHECK_EQ(atomic_load(&thread_errors), 0);
  CHECK_EQ(live_blocks(R), 0);
  /* each free drained the orphan and flushed the classes it touched: every slab emptied went back */
  CHECK_EQ(orphan_slabs(R, &stacked), 0);
  CHECK_EQ(stacked, 0);
  CHECK_EQ(rmem_validate(R), 0);
  uint32_t heaps = atomic_load(&R->nheaps);
  for (int k = 0; k < 20; k++) CHECK(check_thread_run(alloc_and_end, NULL) == 0 && check_thread_run(free_left, NULL) == 0);
  CHECK(atomic_load(&R->nheaps) <= heaps + 1); /* forty more threads, no more heaps */
  CHECK_EQ(rmem_validate(R), 0);
  CHECK_EQ(live_blocks(R), 0);
  rmem_destroy(R);
}

/* ---- a producer whose consumer frees all it makes reuses those blocks: no slab churn ---- */

static void *ring[1024];

static void free_ring(void *arg) {
  (void)arg;
  for (int k = 0; k < 1024; k++) {
    if (!intact(ring[k], 1000, (unsigned)k)) atomic_fetch_add(&thread_errors, 1);
    if (rmem_free(R, ring[k]) != RMEM_OK) atomic_fetch_add(&thread_errors, 1);
  }
}

static void test_partial_drain(void) {
  R = shared_instance(64 << 20);
  rmem_heap_t *h = rmem_local(R);
  CHECK(h != NULL);
  void *p = rmem_alloc(R, 1000);
  rmem_slab_list_t *cls = NULL;
  for (uint32_t c = 0; c < h->nclasses; c++)
    if (h->cls[c].bsize == rmem_usable_size(R, p)) cls = &h->cls[c];
  CHECK(cls != NULL);
  CHECK_EQ(rmem_free(R, p), RMEM_OK);
  size_t most = 0;
  for (int round = 0; round < 12; round++) {
    for (int k = 0; k < 1024; k++) {
      ring[k] = rmem_alloc(R, 1000);
      CHECK(ring[k] != NULL);
      fill(ring[k], 1000, (unsigned)k);
    }
    if (cls->slabs > most) most = cls->slabs;
    CHECK(check_thread_run(free_ring, NULL) == 0); /* every block freed by another thread */
    CHECK(atomic_load(&h->pending) != 0);
  }
  CHECK_EQ(atomic_load(&thread_errors), 0);
  /* the refill before a new slab took back what the other thread had freed, a refill's worth at a time,
     so the ring's slabs served every round: 1024 blocks in slabs of nslots, and a few more */
  CHECK(most <= 1024 / cls->nslots + 4);
  CHECK_EQ(live_blocks(R), 0); /* stats drain whole: nothing left behind in the summaries (R1) */
  CHECK_EQ(rmem_validate(R), 0);
  rmem_destroy(R);
}

/* ---- a binding's free of another thread's block (rmem.h "For language bindings", steps 1-4) ---- */

/* The protocol run as the Node front runs it, with 32-bit atomics on halves of the 64-bit words:
   RMEM_OK, RMEM_EDOUBLEFREE (step 2 found the bit set), or RMEM_EINVAL for "go to C". */
static rmem_status_t binding_free(rmem_t *r, const rmem_front_layout_t *fl, void *p) {
  uintptr_t off = (uintptr_t)p - (uintptr_t)rmem_base(r);
  uint32_t w = (uint32_t)(off >> 8), bit = 1u << ((off >> 3) & 31);
  uint32_t tag = fl->tags[off >> 12], id = tag >> fl->tag_class_bits, t = tag & ((1u << fl->tag_class_bits) - 1);
  if (tag >= fl->tag_cache || id == 0 || id == fl->tag_base >> fl->tag_class_bits || t - 1 >= fl->remote_classes)
    return RMEM_EINVAL;
  uint32_t *remote = (uint32_t *)(void *)fl->remote, *live = (uint32_t *)(void *)fl->live;
  if (__atomic_load_n(&remote[w], __ATOMIC_SEQ_CST) & bit) return RMEM_EINVAL; /* step 1: remote, then live */
  if (!(__atomic_load_n(&live[w], __ATOMIC_RELAXED) & bit)) return RMEM_EINVAL;
  rmem_remote_layout_t rl;
  CHECK_EQ(rmem_remote_layout(r, id, &rl), RMEM_OK);
  CHECK_EQ(rl.version, RMEM_FRONT_LAYOUT_VERSION);
  uint32_t old = __atomic_fetch_or(&remote[w], bit, __ATOMIC_SEQ_CST); /* step 2 */
  if (old & bit) return RMEM_EDOUBLEFREE;
  if (old == 0) { /* step 3 */
    uint32_t *sum = (uint32_t *)(void *)rl.sum;
    size_t wi = off >> 9, k1 = wi >> 6, k2 = k1 >> 6;
    if (__atomic_fetch_or(&sum[wi >> 5], 1u << (wi & 31), __ATOMIC_SEQ_CST) == 0 &&
        __atomic_fetch_or(&sum[rl.sum_at[1] * 2 + (k1 >> 5)], 1u << (k1 & 31), __ATOMIC_SEQ_CST) == 0 &&
        __atomic_fetch_or(&sum[rl.sum_at[2] * 2 + (k2 >> 5)], 1u << (k2 & 31), __ATOMIC_SEQ_CST) == 0)
      __atomic_store_n(rl.pending, 1, __ATOMIC_SEQ_CST);
  }
  if (__atomic_load_n(rl.state, __ATOMIC_SEQ_CST) == rl.orphan) CHECK_EQ(rmem_remote_settle(r, id), RMEM_OK); /* 4 */
  return RMEM_OK;
}

static void *bound[600];

static void binding_frees(void *arg) {
  rmem_front_layout_t fl;
  CHECK_EQ(rmem_front_layout(R, &fl), RMEM_OK);
  CHECK(fl.remote != NULL && fl.remote_classes > 0 && fl.tag_class_bits == 7);
  for (int k = 0; k < 600; k++) {
    if (!bound[k]) continue;
    rmem_status_t st = binding_free(R, &fl, bound[k]);
    /* blocks of two pages and more go to C (R3): so does every refusal */
    if (st == RMEM_EINVAL) st = rmem_free(R, bound[k]);
    if (st != RMEM_OK) atomic_fetch_add(&thread_errors, 1);
  }
  /* every second free of them is refused, by the protocol or by C */
  for (int k = 0; k < 600; k += 7) {
    if (!bound[k]) continue;
    rmem_status_t st = binding_free(R, &fl, bound[k]);
    if (st == RMEM_EINVAL) st = rmem_free(R, bound[k]);
    if (st != RMEM_EDOUBLEFREE && st != RMEM_EBADPTR) atomic_fetch_add(&thread_errors, 1);
  }
  (void)arg;
}

static void alloc_bound_and_end(void *arg) {
  (void)arg;
  for (int k = 0; k < 600; k++) bound[k] = rmem_alloc(R, 8 + (size_t)(k * 37) % 3000);
}

static void test_binding_remote_free(void) {
  rmem_remote_layout_t rl;
  rmem_t *priv = rmem_create(&(rmem_options_t){.capacity = 1 << 20});
  CHECK(priv != NULL);
  CHECK_ERR(rmem_remote_layout(priv, 1, &rl), RMEM_EINVAL); /* a private instance has no thread heaps */
  CHECK_ERR(rmem_remote_settle(priv, 1), RMEM_EINVAL);
  rmem_front_layout_t fl;
  CHECK_EQ(rmem_front_layout(priv, &fl), RMEM_OK);
  CHECK(fl.remote == NULL && fl.remote_classes == 0 && fl.tag_cache == 0x8000u);
  rmem_destroy(priv);

  R = shared_instance(16 << 20);
  CHECK_ERR(rmem_remote_layout(R, 0, &rl), RMEM_EINVAL);
  CHECK_ERR(rmem_remote_layout(R, 1, &rl), RMEM_EINVAL); /* no thread has a heap yet */
  CHECK(rmem_alloc(R, 8) != NULL);                       /* now this one has: heap 1 */
  CHECK_EQ(rmem_remote_layout(R, 1, &rl), RMEM_OK);
  CHECK_ERR(rmem_remote_layout(R, 1, NULL), RMEM_EINVAL);
  CHECK_ERR(rmem_remote_layout(R, 2, &rl), RMEM_EINVAL);
  CHECK_ERR(rmem_remote_settle(R, 300), RMEM_EINVAL);
  CHECK(rl.sum_words == rl.sum_at[2] + (rl.sum_at[2] - rl.sum_at[1] + 63) / 64);
  CHECK_EQ(*rl.state, 1u); /* active */
  size_t base = live_blocks(R);

  /* this thread's blocks, freed by another thread through the protocol: taken back at this thread's next
     drain (heap stats drain the caller's heap) */
  for (int k = 0; k < 600; k++) bound[k] = rmem_alloc(R, 8 + (size_t)(k * 37) % 3000);
  CHECK(check_thread_run(binding_frees, NULL) == 0);
  CHECK_EQ(atomic_load(&thread_errors), 0);
  CHECK_EQ(rmem_validate(R), 0); /* R1: every remote bit's word is marked in this heap's summaries */
  CHECK_EQ(live_blocks(R), base);
  CHECK_EQ(rmem_validate(R), 0);

  /* an ended thread's blocks: the freer finds the heap orphaned and takes them back (step 4) */
  CHECK(check_thread_run(alloc_bound_and_end, NULL) == 0);
  CHECK_EQ(live_blocks(R), base + 600);
  binding_frees(NULL);
  CHECK_EQ(atomic_load(&thread_errors), 0);
  size_t stacked;
  CHECK_EQ(orphan_slabs(R, &stacked), 0);
  CHECK_EQ(stacked, 0);
  CHECK_EQ(live_blocks(R), base);
  CHECK_EQ(rmem_validate(R), 0);
  rmem_destroy(R);
}

/* ---- arenas belong to their thread; caches and MeMS from many threads at once ---- */

static arena_t *A;
static rmem_status_t arena_st;
static void *arena_p;

static void use_foreign_arena(void *arg) {
  (void)arg;
  rmem_clear_error();
  arena_p = rmem_arena_alloc(A, 16);
  arena_st = rmem_last_error();
}

static slab_cache_t *SC;

static void cache_churn(void *arg) {
  uint64_t seed = (uint64_t)(uintptr_t)arg + 1;
  void *keep[64] = {0};
  for (int k = 0; k < 20000; k++) {
    size_t i = check_rand(&seed) % 64;
    if (keep[i]) {
      if (!intact(keep[i], 40, (unsigned)i)) atomic_fetch_add(&thread_errors, 1);
      if (rmem_slab_free(SC, keep[i]) != RMEM_OK) atomic_fetch_add(&thread_errors, 1);
    }
    keep[i] = rmem_slab_alloc(SC);
    if (!keep[i]) atomic_fetch_add(&thread_errors, 1);
    else fill(keep[i], 40, (unsigned)i);
  }
  for (int i = 0; i < 64; i++)
    if (keep[i] && rmem_slab_free(SC, keep[i]) != RMEM_OK) atomic_fetch_add(&thread_errors, 1);
}

static void mems_churn(void *arg) {
  uint64_t seed = (uint64_t)(uintptr_t)arg + 7;
  uintptr_t keep[32] = {0};
  for (int k = 0; k < 3000; k++) {
    size_t i = check_rand(&seed) % 32;
    if (keep[i] && rmem_mems_free(R, keep[i]) != RMEM_OK) atomic_fetch_add(&thread_errors, 1);
    keep[i] = rmem_mems_malloc(R, 1 + check_rand(&seed) % 6000);
    if (!keep[i]) atomic_fetch_add(&thread_errors, 1);
  }
  for (int i = 0; i < 32; i++)
    if (keep[i] && rmem_mems_free(R, keep[i]) != RMEM_OK) atomic_fetch_add(&thread_errors, 1);
}

static void test_arenas_caches_mems(void) {
  R = shared_instance(64 << 20);
  A = rmem_arena_create(R, 0, LIFETIME_TRANSIENT);
  CHECK(A != NULL && rmem_arena_alloc(A, 16) != NULL);
  CHECK(check_thread_run(use_foreign_arena, NULL) == 0);
  CHECK(arena_p == NULL);
  CHECK_EQ(arena_st, RMEM_EPERM);
  CHECK_EQ(rmem_arena_destroy(A), RMEM_OK);

  SC = rmem_slab_cache_create(R, "shared", 40, 0, 0);
  CHECK(SC != NULL);
  void *args[NT] = {0};
  for (int t = 0; t < NT; t++) args[t] = (void *)(uintptr_t)t;
  CHECK_EQ(check_threads_run(NT, cache_churn, args, 0), 0);
  CHECK_EQ(atomic_load(&thread_errors), 0);
  rmem_slab_stats_t ss;
  CHECK_EQ(rmem_slab_cache_stats(SC, &ss), RMEM_OK);
  CHECK_EQ(ss.objects_in_use, 0);
  CHECK_EQ(rmem_slab_cache_destroy(SC), RMEM_OK);

  CHECK_EQ(rmem_mems_init(R), RMEM_OK);
  CHECK_EQ(check_threads_run(NT, mems_churn, args, 0), 0);
  CHECK_EQ(atomic_load(&thread_errors), 0);
  rmem_mems_stats_t ms;
  CHECK_EQ(rmem_mems_stats(R, &ms), RMEM_OK);
  CHECK_EQ(ms.process_segments, 0);
  CHECK_EQ(rmem_validate(R), 0);
  rmem_destroy(R);
}

/* ---- the seed's names on the default instance, from many threads ---- */

static void seed_churn(void *arg) {
  uint64_t seed = (uint64_t)(uintptr_t)arg + 3;
  void *keep[128] = {0};
  for (int k = 0; k < 20000; k++) {
    size_t i = check_rand(&seed) % 128;
    if (keep[i] && r_free(keep[i]) != RMEM_OK) atomic_fetch_add(&thread_errors, 1);
    keep[i] = r_alloc(1 + check_rand(&seed) % 2000);
    if (!keep[i]) atomic_fetch_add(&thread_errors, 1);
  }
  for (int i = 0; i < 128; i++)
    if (keep[i] && r_free(keep[i]) != RMEM_OK) atomic_fetch_add(&thread_errors, 1);
}

static void test_seed_names(void) {
  CHECK_EQ(init_heap(), RMEM_OK);
  void *args[NT] = {0};
  for (int t = 0; t < NT; t++) args[t] = (void *)(uintptr_t)t;
  CHECK_EQ(check_threads_run(NT, seed_churn, args, 0), 0);
  CHECK_EQ(atomic_load(&thread_errors), 0);
  CHECK_EQ(rmem_validate(rmem_default()), 0);
  CHECK_EQ(live_blocks(rmem_default()), 0);
  CHECK_EQ(rmem_shutdown_default(), RMEM_OK);
}

/* ---- fork while other threads work: the child finds every lock free and its heap whole ---- */

#if !defined(_WIN32)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static atomic_int stop_churn;
static void *foreign[NT][16]; /* blocks of the churning threads, live across the forks */

static void fork_churn(void *arg) {
  int t = (int)(uintptr_t)arg;
  uint64_t seed = (uint64_t)t + 11;
  for (int i = 0; i < 16; i++) foreign[t][i] = rmem_alloc(R, 48);
  void *keep[32] = {0};
  while (!atomic_load(&stop_churn)) {
    size_t i = check_rand(&seed) % 32;
    if (keep[i] && rmem_free(R, keep[i]) != RMEM_OK) atomic_fetch_add(&thread_errors, 1);
    keep[i] = (i & 1) ? rmem_alloc(R, 1 + check_rand(&seed) % 3000) : rmem_slab_alloc(SC);
    if (keep[i] && (i & 1) == 0) { /* a cache object: back at once (the cache's lock goes round) */
      if (rmem_slab_free(SC, keep[i]) != RMEM_OK) atomic_fetch_add(&thread_errors, 1);
      keep[i] = NULL;
    }
    if (i == 5) {
      uintptr_t v = rmem_mems_malloc(R, 100);
      if (!v || rmem_mems_free(R, v) != RMEM_OK) atomic_fetch_add(&thread_errors, 1);
    }
  }
  for (int i = 0; i < 32; i++)
    if (keep[i]) rmem_free(R, keep[i]);
}

static void *fork_churn_entry(void *arg) {
  fork_churn(arg);
  return NULL;
}

/* In the child: everything works, and the quarantined heaps' blocks are freed once, refused twice. */
static int child_work(void) {
  alarm(20); /* a lock left taken would hang here: die instead */
  void *p[200];
  for (int k = 0; k < 200; k++)
    if (!(p[k] = rmem_alloc(R, 8 + (size_t)k * 40))) return 10;
  for (int k = 0; k < 200; k++)
    if (rmem_free(R, p[k]) != RMEM_OK) return 11;
  void *o = rmem_slab_alloc(SC);
  if (!o || rmem_slab_free(SC, o) != RMEM_OK) return 12;
  uintptr_t v = rmem_mems_malloc(R, 5000);
  if (!v || rmem_mems_free(R, v) != RMEM_OK) return 13;
  if (rmem_free(R, foreign[0][0]) != RMEM_OK) return 14;
  if (rmem_free(R, foreign[0][0]) != RMEM_EDOUBLEFREE) return 15;
  rmem_options_t o2 = {.capacity = 16 << 20, .flags = RMEM_OPT_SHARED};
  rmem_t *r2 = rmem_create(&o2);
  if (!r2 || rmem_destroy(r2) != RMEM_OK) return 16;
  if (rmem_validate(R) != 0) return 17;
  return 0;
}

static void test_fork(void) {
  R = shared_instance(64 << 20);
  SC = rmem_slab_cache_create(R, "forked", 24, 0, 0);
  CHECK(SC != NULL && rmem_mems_init(R) == RMEM_OK);
  CHECK(rmem_alloc(R, 16) != NULL); /* the forking thread has a heap too */
  atomic_store(&stop_churn, 0);
  pthread_t t[NT];
  for (int k = 0; k < NT; k++) CHECK(pthread_create(&t[k], NULL, fork_churn_entry, (void *)(uintptr_t)k) == 0);
  usleep(20000);
  for (int k = 0; k < 40; k++) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) _exit(child_work());
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    if (WIFEXITED(status)) CHECK_EQ(WEXITSTATUS(status), 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) break;
  }
  atomic_store(&stop_churn, 1);
  for (int k = 0; k < NT; k++) pthread_join(t[k], NULL);
  CHECK_EQ(atomic_load(&thread_errors), 0);
  CHECK_EQ(rmem_validate(R), 0);
  rmem_destroy(R);
}
#else
static void test_fork(void) {}
#endif

/* ---- R3: big blocks freed into a heap whose owner does not drain give their pages back ---- */

enum { STR_N = 400, STR_SIZE = 16 << 10, STR_ITEMS = 6000 };
static unsigned char *str_blk[STR_N];
static _Atomic(unsigned char *) str_slot[2];
static _Atomic int str_done, str_bad;

static void str_free_all(void *arg) {
  (void)arg;
  for (int i = 0; i < STR_N; i++)
    if (rmem_free(R, str_blk[i]) != RMEM_OK) atomic_store(&str_bad, 1);
}

/* A second free of a block whose pages went back (past 2 MiB): refused, and it leaves no purger counted
   (the owner's next drain, which waits for purgers, would hang). */
static void str_free_again(void *arg) {
  (void)arg;
  if (rmem_free(R, str_blk[STR_N - 1]) != RMEM_EDOUBLEFREE) atomic_store(&str_bad, 6);
  if (rmem_last_error() != RMEM_EDOUBLEFREE) atomic_store(&str_bad, 7);
}

/* The owner hands out blocks of 16 to 32 KiB and takes back (drains) what the two others free, while
   they free them: a block's pages must never be given back after it was taken back and handed out. */
static void str_pipe(void *arg) {
  int k = *(int *)arg;
  if (k == 0) {
    for (unsigned n = 0; n < STR_ITEMS && !atomic_load(&str_bad); n++) {
      int c = (int)(n % 2);
      while (atomic_load(&str_slot[c]) && !atomic_load(&str_bad)) check_yield();
      size_t len = (16u << 10) + (n * 4099u) % (16u << 10);
      unsigned char *p = rmem_alloc(R, len);
      if (!p) {
        atomic_store(&str_bad, 2);
        break;
      }
      fill(p, len, n);
      memcpy(p, &n, sizeof n);
      atomic_store(&str_slot[c], p);
      if (n % 1024 == 0 && rmem_validate(R) != 0) atomic_store(&str_bad, 3);
    }
    for (int c = 0; c < 2; c++)
      while (atomic_load(&str_slot[c]) && !atomic_load(&str_bad)) check_yield();
    atomic_store(&str_done, 1);
    return;
  }
  for (;;) {
    unsigned char *p = atomic_exchange(&str_slot[k - 1], NULL);
    if (!p) {
      if (atomic_load(&str_done) || atomic_load(&str_bad)) return;
      check_yield();
      continue;
    }
    unsigned n;
    memcpy(&n, p, sizeof n);
    size_t len = (16u << 10) + (n * 4099u) % (16u << 10);
    for (size_t i = sizeof n; i < len; i++) /* the pattern past the first bytes, which hold n */
      if (p[i] != (unsigned char)(n * 31 + i)) {
        atomic_store(&str_bad, 4);
        break;
      }
    if (rmem_free(R, p) != RMEM_OK) atomic_store(&str_bad, 5);
  }
}

static void test_stranded(void) {
  R = shared_instance(256 << 20);
  /* an owner that only waits: past 2 MiB, the blocks another thread frees give their pages back */
  for (int i = 0; i < STR_N; i++) {
    str_blk[i] = rmem_alloc(R, STR_SIZE);
    CHECK(str_blk[i] != NULL);
    if (str_blk[i]) memset(str_blk[i], 0x5a, STR_SIZE);
  }
  rmem_stats_t before, after;
  CHECK_EQ(rmem_stats(R, &before), RMEM_OK);
  CHECK_EQ(check_threads_run(1, str_free_all, NULL, 0), 0);
  CHECK_EQ(atomic_load(&str_bad), 0);
  CHECK_EQ(rmem_stats(R, &after), RMEM_OK);
  size_t freed = (size_t)STR_N * STR_SIZE;
  CHECK(before.resident >= after.resident + freed - (3u << 20)); /* all but about STRANDED_MAX went back */
  CHECK_EQ(rmem_validate(R), 0);
  CHECK_EQ(check_threads_run(1, str_free_again, NULL, 0), 0);
  CHECK_EQ(atomic_load(&str_bad), 0);
  CHECK_EQ(atomic_load(&((rmem_heap_t *)rmem_thread_get(R))->purgers), 0);
  CHECK_EQ(rmem_validate(R), 0);
  /* the owner takes them back at its next refills: usable as any block */
  size_t bad = 0;
  for (int i = 0; i < STR_N; i++) {
    str_blk[i] = rmem_alloc(R, STR_SIZE);
    CHECK(str_blk[i] != NULL);
    if (str_blk[i]) fill(str_blk[i], STR_SIZE, (unsigned)i);
  }
  for (int i = 0; i < STR_N; i++)
    if (str_blk[i] && !intact(str_blk[i], STR_SIZE, (unsigned)i)) bad++;
  CHECK_EQ(bad, 0);
  CHECK_EQ(rmem_validate(R), 0);
  for (int i = 0; i < STR_N; i++) CHECK_EQ(rmem_free(R, str_blk[i]), RMEM_OK);
  /* and while the owner drains */
  int args[3] = {0, 1, 2};
  CHECK_EQ(check_threads_run(3, str_pipe, args, sizeof args[0]), 0);
  CHECK_EQ(atomic_load(&str_bad), 0);
  CHECK_EQ(rmem_validate(R), 0);
  rmem_destroy(R);
}

/* The heap's counters count a block another thread freed once: allocs == frees + live blocks, from any start. */
static void *counted[1000];
static void free_counted(void *arg) {
  (void)arg;
  for (int i = 0; i < 1000; i++)
    if (rmem_free(R, counted[i]) != RMEM_OK) atomic_fetch_add(&thread_errors, 1);
}

static void test_counts_remote_once(void) {
  R = shared_instance(16 << 20);
  rmem_heap_stats_t s0, s1;
  CHECK_EQ(rmem_heap_stats(R, &s0), RMEM_OK);
  for (int i = 0; i < 1000; i++) counted[i] = rmem_alloc(R, 16 + (size_t)(i % 40) * 24);
  CHECK(check_thread_run(free_counted, NULL) == 0);
  CHECK_EQ(atomic_load(&thread_errors), 0);
  CHECK_EQ(rmem_heap_stats(R, &s1), RMEM_OK); /* drains this thread's heap: the blocks are taken back */
  CHECK_EQ(s1.remote_frees - s0.remote_frees, 1000);
  CHECK_EQ(s1.allocs - s0.allocs, 1000);
  CHECK_EQ(s1.frees - s0.frees, 1000);
  CHECK_EQ(s1.allocs - s1.frees, s1.live_blocks);
  CHECK_EQ(rmem_validate(R), 0);
  rmem_destroy(R);
}

int main(void) {
  test_basics();
  test_try_calls();
  test_bound_slots();
  test_create_in();
  test_hand_off();
  test_pipeline();
  test_realloc_moves();
  test_stranded();
  test_racing_double_frees();
  test_double_frees();
  test_remote_bit_lifecycle();
  test_orphans();
  test_binding_remote_free();
  test_counts_remote_once();
  test_partial_drain();
  test_arenas_caches_mems();
  test_seed_names();
  test_fork();
  return check_report("shared");
}
