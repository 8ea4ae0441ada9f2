/*
 * test_rmem_malloc.c - the malloc layer's own tests, through the rmem_malloc_*
 * names (so they also run in the ASan+UBSan build, where the standard names
 * belong to the sanitizer).
 *
 *   edge cases      sizes 0 and huge, overflow, alignment rules of each entry
 *                   point, realloc across small / page-run / huge blocks.
 *   stress          deterministic random alloc/realloc/free with content checks,
 *                   the validator every few hundred operations.
 *   threads         cross-thread frees, thread exit and adoption, in rounds.
 *   growth          more than one instance (1 GiB) in one thread.
 *   fork            the child allocates and frees on a consistent heap.
 *   bad frees       one child process per bad input: the report names the
 *                   address and the process aborts; with RMEM_MALLOC_CONTINUE=1
 *                   the same input is reported and the structure stays intact
 *                   (validator 0, allocation still works).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "platform.h"
#include "rmem_malloc.h"

/* Pattern over the first and last 4 KiB of a block (all of a small one): enough to
   see a block overlap another or lose its contents in a move, and cheap for megabytes. */
static size_t next_i(size_t i, size_t n) { return (i == 4095 && n > 8192) ? n - 4096 : i + 1; }

static void fill(void *p, size_t n, unsigned seed) {
  unsigned char *c = p;
  for (size_t i = 0; i < n; i = next_i(i, n)) c[i] = (unsigned char)(seed + i * 7);
}

static int intact(const void *p, size_t n, unsigned seed) {
  const unsigned char *c = p;
  for (size_t i = 0; i < n; i = next_i(i, n))
    if (c[i] != (unsigned char)(seed + i * 7)) return 0;
  return 1;
}

/* After a resize from old to now bytes: what fill() wrote into the kept part is still there. */
static int kept(const void *p, size_t old, size_t now, unsigned seed) {
  if (now >= old) return intact(p, old, seed);
  return intact(p, now < 4096 ? now : 4096, seed);
}

static void test_edges(void) {
  void *a = rmem_malloc(0), *b = rmem_malloc(0);
  CHECK(a != NULL && b != NULL && a != b);
  rmem_malloc_free(a);
  rmem_malloc_free(b);
  rmem_malloc_free(NULL);

  errno = 0;
  CHECK(rmem_malloc((size_t)PTRDIFF_MAX + 1) == NULL);
  CHECK_EQ(errno, ENOMEM);
  errno = 0;
  CHECK(rmem_malloc_calloc(SIZE_MAX / 2, 3) == NULL);
  CHECK_EQ(errno, ENOMEM);
  errno = 0;
  CHECK(rmem_malloc_reallocarray(NULL, SIZE_MAX / 2, 3) == NULL);
  CHECK_EQ(errno, ENOMEM);

  /* calloc zeroes, also memory that was used before */
  for (int round = 0; round < 2; round++) {
    size_t sizes[] = {1, 24, 1000, 40000, 3u << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
      unsigned char *p = rmem_malloc_calloc(1, sizes[k]);
      CHECK(p != NULL);
      size_t nz = 0;
      for (size_t i = 0; i < sizes[k]; i++) nz += p[i] != 0;
      CHECK_EQ(nz, 0);
      memset(p, 0xEE, sizes[k]);
      rmem_malloc_free(p);
    }
  }

  /* usable size covers the request; alignment of plain blocks */
  for (size_t n = 1; n < 70000; n = n * 3 + 1) {
    void *p = rmem_malloc(n);
    CHECK(p != NULL);
    CHECK(rmem_malloc_usable_size(p) >= n);
    CHECK(((uintptr_t)p % (n > 8 ? 16 : 8)) == 0);
    rmem_malloc_free(p);
  }
  void *h = rmem_malloc(5u << 20);
  CHECK(h != NULL && rmem_malloc_usable_size(h) >= (5u << 20));
  CHECK(((uintptr_t)h & 4095) == 0);
  rmem_malloc_free(h);
  CHECK_EQ(rmem_malloc_usable_size(NULL), 0);

  /* realloc */
  CHECK(rmem_malloc_realloc(NULL, 0) != NULL || 1); /* realloc(NULL, 0) == malloc(0): any result */
  void *q = rmem_malloc_realloc(NULL, 10);
  CHECK(q != NULL);
  CHECK(rmem_malloc_realloc(q, 0) == NULL); /* frees q (glibc's rule) */
  size_t steps[] = {5, 17, 300, 5000, 40000, 900000, 3u << 20, 9u << 20, 2u << 20, 100000, 70, 3};
  unsigned char *r = rmem_malloc(1);
  size_t have = 1;
  fill(r, 1, 9);
  for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
    r = rmem_malloc_realloc(r, steps[k]);
    CHECK(r != NULL);
    CHECK(kept(r, have, steps[k], 9));
    fill(r, steps[k], 9);
    have = steps[k];
  }
  rmem_malloc_free(r);

  /* aligned entry points */
  void *pa = NULL;
  CHECK_EQ(rmem_malloc_posix_memalign(&pa, 3, 10), EINVAL);
  CHECK_EQ(rmem_malloc_posix_memalign(&pa, 4, 10), EINVAL); /* below sizeof(void *) */
  CHECK(pa == NULL);
  for (size_t al = 8; al <= ((size_t)256 << 20); al *= 2) { /* every power of two (issue 13 #4) */
    for (size_t n = 1; n < (3u << 20); n = n * 9 + 5) {
      CHECK_EQ(rmem_malloc_posix_memalign(&pa, al, n), 0);
      CHECK(pa != NULL && (uintptr_t)pa % al == 0);
      CHECK(rmem_malloc_usable_size(pa) >= n);
      memset(pa, 1, n);
      rmem_malloc_free(pa);
    }
  }
  errno = 0;
  CHECK(rmem_malloc_aligned_alloc(24, 48) == NULL);
  CHECK_EQ(errno, EINVAL);
  void *m = rmem_malloc_memalign(24, 100); /* rounded up to 32, as glibc does */
  CHECK(m != NULL && (uintptr_t)m % 32 == 0);
  rmem_malloc_free(m);
  void *v = rmem_malloc_valloc(100);
  CHECK(v != NULL && (uintptr_t)v % 4096 == 0);
  rmem_malloc_free(v);
  void *pv = rmem_malloc_pvalloc(0);
  CHECK(pv != NULL && (uintptr_t)pv % 4096 == 0 && rmem_malloc_usable_size(pv) >= 4096);
  rmem_malloc_free(pv);
  void *a16 = rmem_malloc_aligned_alloc(16, 1);
  CHECK(a16 != NULL && (uintptr_t)a16 % 16 == 0);
  rmem_malloc_free(a16);
  CHECK_EQ(rmem_malloc_validate(), 0);
}

static void test_stress(void) {
  enum { SLOTS = 512, OPS = 60000 };
  static unsigned char *slot[SLOTS];
  static size_t len[SLOTS];
  uint64_t seed = 42;
  size_t failures = 0, problems = 0;
  for (int op = 0; op < OPS; op++) {
    size_t i = check_rand(&seed) % SLOTS;
    unsigned kind = (unsigned)(check_rand(&seed) % 100);
    if (slot[i] && !intact(slot[i], len[i], (unsigned)i)) failures++;
    if (kind < 45 || !slot[i]) {
      rmem_malloc_free(slot[i]);
      unsigned c = (unsigned)(check_rand(&seed) % 100);
      len[i] = c < 80 ? check_rand(&seed) % 512 + 1 : c < 97 ? check_rand(&seed) % 60000 + 1 : check_rand(&seed) % (3u << 20) + 1;
      slot[i] = kind % 7 == 0 ? rmem_malloc_calloc(1, len[i]) : rmem_malloc(len[i]);
      if (!slot[i]) failures++;
      else fill(slot[i], len[i], (unsigned)i);
    } else if (kind < 75) {
      size_t n = check_rand(&seed) % 2 ? len[i] * 2 + 1 : len[i] / 2 + 1;
      unsigned char *p = rmem_malloc_realloc(slot[i], n);
      if (!p) failures++;
      else {
        if (!kept(p, len[i], n, (unsigned)i)) failures++;
        slot[i] = p;
        len[i] = n;
        fill(p, n, (unsigned)i);
      }
    } else {
      rmem_malloc_free(slot[i]);
      slot[i] = NULL;
    }
    if (op % 500 == 0) problems += rmem_malloc_validate();
  }
  for (size_t i = 0; i < SLOTS; i++) rmem_malloc_free(slot[i]);
  CHECK_EQ(failures, 0);
  CHECK_EQ(problems, 0);
  CHECK_EQ(rmem_malloc_validate(), 0);
}

/* Threads: each round starts fresh threads that free what the previous round
   allocated (cross-thread frees into exited, orphaned heaps) and what their
   neighbour allocates right now (frees into live heaps, drained later). */
enum { NT = 4, PER = 3000 };
static void *_Atomic box[NT][PER];
static _Atomic size_t thread_failures;

typedef struct targ {
  int id;
  uint64_t seed;
} targ_t;

static void *thread_main(void *arg) {
  targ_t *t = arg;
  int next = (t->id + 1) % NT;
  for (int k = 0; k < PER; k++) {
    /* take and free a block of the neighbour's slot (allocated by another thread) */
    void *old = atomic_exchange(&box[next][k], NULL);
    if (old) {
      if (!intact(old, 16, (unsigned)(next * 131 + k))) atomic_fetch_add(&thread_failures, 1);
      rmem_malloc_free(old);
    }
    size_t n = 16 + check_rand(&t->seed) % 2000;
    void *p = rmem_malloc(n);
    if (!p) {
      atomic_fetch_add(&thread_failures, 1);
      continue;
    }
    fill(p, 16, (unsigned)(t->id * 131 + k));
    void *prev = atomic_exchange(&box[t->id][k], p);
    if (prev) {
      if (!intact(prev, 16, (unsigned)(t->id * 131 + k))) atomic_fetch_add(&thread_failures, 1);
      rmem_malloc_free(prev);
    }
  }
  return NULL;
}

static void *free_all_thread(void *arg) {
  void **blocks = arg;
  for (int k = 0; k < 100; k++) rmem_malloc_free(blocks[k]);
  return NULL;
}

static void test_threads(void) {
  rmem_malloc_stats_t before, after;
  rmem_malloc_stats(&before);
  for (int round = 0; round < 6; round++) {
    pthread_t th[NT];
    targ_t args[NT];
    for (int t = 0; t < NT; t++) {
      args[t].id = t;
      args[t].seed = (uint64_t)(round * 17 + t + 1);
      CHECK_EQ(pthread_create(&th[t], NULL, thread_main, &args[t]), 0);
    }
    for (int t = 0; t < NT; t++) pthread_join(th[t], NULL);
    CHECK_EQ(rmem_malloc_validate(), 0); /* the threads are gone: every heap can be checked */
  }
  for (int t = 0; t < NT; t++)
    for (int k = 0; k < PER; k++) rmem_malloc_free(atomic_exchange(&box[t][k], NULL));
  CHECK_EQ(atomic_load(&thread_failures), 0);
  /* remote frees for certain, whatever the scheduling above did: this thread's heap is alive while
     another thread frees its blocks (frees into an orphaned heap go in place and are not remote) */
  enum { NR = 100 };
  void *mine[NR];
  for (int k = 0; k < NR; k++) mine[k] = rmem_malloc(32);
  pthread_t fr;
  CHECK_EQ(pthread_create(&fr, NULL, free_all_thread, mine), 0);
  pthread_join(fr, NULL);
  rmem_malloc_stats(&after);
  CHECK(after.remote_frees >= before.remote_frees + NR);
  CHECK(after.adoptions > before.adoptions);   /* later rounds reuse the heaps of exited threads */
  /* ... instead of making new ones. An orphan that another thread holds for a moment (draining it) is passed
     over by a thread looking for a heap, so the count depends on timing: a round may make a few (seen past
     NT + 1 about once in 12 plain runs on 2 cores, more often under ThreadSanitizer's slower threads). Six
     rounds of NT threads that made heaps afresh would reach 6 * NT. */
  CHECK(after.heaps <= before.heaps + 2 * NT + 1);
  CHECK_EQ(rmem_malloc_validate(), 0);
}

/* Remote frees into a live, busy owner (the path ThreadSanitizer watches, scripts/test-c.sh tsan): each
   thread allocates blocks and hands them to the other through a ring; the other checks and frees them, so
   every block goes back through the owner's remote stack while the owner keeps allocating and draining. */
enum { RING = 256, PINGPONG = 20000 };
typedef struct ring {
  void *_Atomic slot[RING];
} ring_t;
static ring_t rings[2];
static _Atomic size_t pingpong_failures;

static void *pingpong_main(void *arg) {
  int me = (int)(intptr_t)arg;
  ring_t *out = &rings[me], *in = &rings[1 - me];
  unsigned sent = 0, got = 0;
  while (sent < PINGPONG || got < PINGPONG) {
    unsigned moved = sent + got;
    if (sent < PINGPONG && atomic_load_explicit(&out->slot[sent % RING], memory_order_relaxed) == NULL) {
      size_t n = 16 + (sent * 37u) % 1500;
      unsigned char *p = rmem_malloc(n);
      if (!p) {
        atomic_fetch_add(&pingpong_failures, 1);
        return NULL;
      }
      fill(p, 16, (unsigned)(me * 7919 + sent));
      atomic_store_explicit(&out->slot[sent % RING], p, memory_order_release);
      sent++;
    }
    void *q = got < PINGPONG ? atomic_load_explicit(&in->slot[got % RING], memory_order_acquire) : NULL;
    if (q) {
      atomic_store_explicit(&in->slot[got % RING], NULL, memory_order_relaxed);
      if (!intact(q, 16, (unsigned)((1 - me) * 7919 + got))) atomic_fetch_add(&pingpong_failures, 1);
      rmem_malloc_free(q); /* a remote free: the block is the other thread's */
      got++;
    }
    /* a round that moved nothing waits on the other thread: let it run (under valgrind, which runs one thread
       at a time, a spin would use up whole time slices) */
    if (sent + got == moved) check_yield();
  }
  return NULL;
}

static void test_remote_pingpong(void) {
  rmem_malloc_stats_t before, after;
  rmem_malloc_stats(&before);
  pthread_t t[2];
  for (int i = 0; i < 2; i++) CHECK_EQ(pthread_create(&t[i], NULL, pingpong_main, (void *)(intptr_t)i), 0);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  CHECK_EQ(atomic_load(&pingpong_failures), 0);
  rmem_malloc_stats(&after);
  CHECK(after.remote_frees >= before.remote_frees + 2 * PINGPONG);
  CHECK_EQ(rmem_malloc_validate(), 0);
}

/* More than one instance (1 GiB) in one thread: page-run blocks below the
   direct-mapping threshold, never touched, so they cost address space only. */
static void *growth_thread(void *arg) {
  size_t *ok = arg;
  enum { N = 2200 };
  static void *blk[N];
  size_t got = 0;
  for (int i = 0; i < N; i++) {
    blk[i] = rmem_malloc(512u << 10);
    if (blk[i]) got++;
  }
  rmem_malloc_stats_t s;
  rmem_malloc_stats(&s);
  *ok = got == N && rmem_malloc_validate() == 0;
  for (int i = 0; i < N; i++) rmem_malloc_free(blk[i]);
  *ok = *ok && rmem_malloc_validate() == 0;
  return NULL;
}

static void test_growth(void) {
  rmem_malloc_stats_t before, after;
  rmem_malloc_stats(&before);
  size_t ok = 0;
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, growth_thread, &ok), 0);
  pthread_join(th, NULL);
  rmem_malloc_stats(&after);
  CHECK(ok);
  CHECK(after.instances >= before.instances + 1);
}

/* The huge cache: a freed huge mapping is reused, calloc from it is zero, growth from it keeps the bytes.
   calloc of 1 MiB and more is mapped; so is a page-run block that realloc grows past 1 MiB. */
static void test_huge_cache(void) {
  rmem_malloc_stats_t s0, s1;
  rmem_malloc_stats(&s0);
  unsigned char *a = rmem_malloc_calloc(1, 3u << 20);
  CHECK(a != NULL);
  memset(a, 0xAB, 3u << 20);
  rmem_malloc_free(a);
  unsigned char *z = rmem_malloc_calloc(1, (3u << 20) - 100); /* fits the cached mapping */
  CHECK(z != NULL);
  size_t nonzero = 0;
  for (size_t k = 0; z && k < (3u << 20) - 100; k++) nonzero += z[k] != 0;
  CHECK_EQ(nonzero, 0);
  rmem_malloc_stats(&s1);
  CHECK(s1.huge_reused >= s0.huge_reused + 1);
  /* growth: a 5 MiB mapping in the cache takes a 2.5 MiB block (a page run) growing to 4.5 MiB */
  rmem_malloc_stats(&s0);
  unsigned char *g = rmem_malloc((5u << 20) / 2);
  CHECK(g != NULL);
  rmem_malloc_stats(&s1);
  CHECK_EQ(s1.huge_live, s0.huge_live); /* below RM_HUGE: the instance's page run */
  for (size_t k = 0; g && k < (5u << 20) / 2; k++) g[k] = (unsigned char)(k * 7);
  unsigned char *big = rmem_malloc_calloc(1, 5u << 20);
  CHECK(big != NULL);
  rmem_malloc_free(big);
  rmem_malloc_stats(&s0);
  unsigned char *g2 = rmem_malloc_realloc(g, (9u << 20) / 2);
  CHECK(g2 != NULL);
  size_t wrong = 0;
  for (size_t k = 0; g2 && k < (5u << 20) / 2; k++) wrong += g2[k] != (unsigned char)(k * 7);
  CHECK_EQ(wrong, 0);
  rmem_malloc_stats(&s1);
  CHECK(s1.huge_reused >= s0.huge_reused + 1);
  CHECK(s1.huge_cached <= (64u << 20));
  CHECK_EQ(rmem_malloc_validate(), 0);
  rmem_malloc_free(z);
  rmem_malloc_free(g2);
  CHECK_EQ(rmem_malloc_validate(), 0);
}

static void *busy_thread(void *arg) {
  _Atomic int *stop = arg;
  uint64_t seed = 7;
  void *keep[64] = {0};
  while (!atomic_load(stop)) {
    size_t i = check_rand(&seed) % 64;
    rmem_malloc_free(keep[i]);
    keep[i] = rmem_malloc(check_rand(&seed) % 3000 + 1);
  }
  for (int i = 0; i < 64; i++) rmem_malloc_free(keep[i]);
  return NULL;
}

static void test_fork(void) {
  _Atomic int stop = 0;
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, busy_thread, &stop), 0);
  void *shared = rmem_malloc(100);
  for (int k = 0; k < 20; k++) {
    pid_t pid = fork();
    if (pid == 0) {
      int bad = 0;
      void *p[200];
      for (int i = 0; i < 200; i++) {
        p[i] = rmem_malloc((size_t)i * 37 + 1);
        if (!p[i]) bad++;
        else fill(p[i], (size_t)i * 37 + 1, (unsigned)i);
      }
      for (int i = 0; i < 200; i++) {
        if (p[i] && !intact(p[i], (size_t)i * 37 + 1, (unsigned)i)) bad++;
        rmem_malloc_free(p[i]);
      }
      rmem_malloc_free(shared);
      if (rmem_malloc_validate() != 0) bad++;
      _exit(bad ? 1 : 0);
    }
    int st = 0;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  atomic_store(&stop, 1);
  pthread_join(th, NULL);
  rmem_malloc_free(shared);
  CHECK_EQ(rmem_malloc_validate(), 0);
}

/* ---- bad frees: each case runs in a child (this program re-executed) ---- */

static void *remote_free_thread(void *p) {
  rmem_malloc_free(p);
  return NULL;
}

/* pair = {p, x, x or NULL}: free(p), [free(x)], free(p), from a thread that owns neither. */
static void *free_p_twice_thread(void *arg) {
  void **pair = arg;
  rmem_malloc_free(pair[0]);
  if (pair[2]) rmem_malloc_free(pair[2]);
  rmem_malloc_free(pair[0]);
  return NULL;
}

/* A cached mapping more than twice a request is split: the block is its front, its tail stays cached
   for the next one (no page of it faults in again). */
static void test_huge_cache_split(void) {
  rmem_malloc_stats_t s0, s1;
  /* bigger than anything the other tests left cached (and as big as the cache takes), so the
     cache's choice is known; malloc maps blocks of RM_HUGE (32 MiB) and more */
  unsigned char *a = rmem_malloc(64u << 20);
  CHECK(a != NULL);
  for (size_t k = 0; a && k < (64u << 20); k += 4096) a[k] = 0x5A;
  rmem_malloc_free(a);
  rmem_malloc_stats(&s0);
  unsigned char *b = rmem_malloc(32u << 20), *c = rmem_malloc(32u << 20);
  CHECK(b == a);                  /* the front of the cached mapping */
  CHECK(c == a + (32u << 20));    /* its tail, which stayed cached */
  rmem_malloc_stats(&s1);
  CHECK_EQ(s1.huge_reused, s0.huge_reused + 2);
  size_t wrong = 0;
  for (size_t k = 0; c && k < (32u << 20); k += 4096) wrong += c[k] != 0x5A; /* resident, as it was */
  CHECK_EQ(wrong, 0);
  CHECK_EQ(rmem_malloc_usable_size(b), (size_t)32 << 20);
  memset(b, 1, 32u << 20);
  memset(c, 2, 32u << 20);
  CHECK_EQ(rmem_malloc_validate(), 0);
  unsigned char *b2 = rmem_malloc_realloc(b, 33u << 20); /* a split block grows like any other */
  CHECK(b2 != NULL);
  CHECK(b2 && b2[0] == 1 && b2[(32u << 20) - 1] == 1);
  CHECK(c[0] == 2 && c[(32u << 20) - 1] == 2); /* and its neighbour keeps its bytes */
  rmem_malloc_free(c);
  rmem_malloc_free(b2);
  CHECK_EQ(rmem_malloc_validate(), 0);
}

/* Run as "test_rmem_malloc decay" with RMEM_MALLOC_HUGE_DECAY_MS=100 (ctest test_rmem_malloc_decay): a cached
   mapping left unused for longer goes back to the OS at the next huge call. */
static void test_huge_decay(void) {
  rmem_malloc_stats_t s;
  unsigned char *a = rmem_malloc(40u << 20); /* a 40 MiB peak: the cache may keep what is freed of it */
  CHECK(a != NULL);
  for (size_t k = 0; a && k < (40u << 20); k += 4096) a[k] = 1;
  rmem_malloc_free(a);
  rmem_malloc_stats(&s);
  CHECK(s.huge_cached >= (40u << 20));
  usleep(300 * 1000); /* three times the decay */
  unsigned char *b = rmem_malloc_calloc(1, 1u << 20); /* calloc of 1 MiB is mapped */
  CHECK(b != NULL);
  rmem_malloc_stats(&s);
  CHECK_EQ(s.huge_cached, 0); /* the 40 MiB mapping went back before this allocation looked for one */
  rmem_malloc_free(b);
  rmem_malloc_stats(&s);
  CHECK_EQ(s.huge_cached, (size_t)1 << 20); /* the fresh one is cached in turn */
  CHECK_EQ(rmem_malloc_validate(), 0);
}

/* A block freed once and then pushed out of the thread cache into the slab engine by 200 more frees. */
static void *freed_and_spilled(size_t n) {
  void *p = rmem_malloc(n), *more[200];
  for (int i = 0; i < 200; i++) more[i] = rmem_malloc(n);
  rmem_malloc_free(p);
  for (int i = 0; i < 200; i++) rmem_malloc_free(more[i]);
  return p;
}

/* Performs bad input `which` and returns (only in continue mode). */
static int bad_case(const char *which) {
  char stack_var[32];
  void *live = rmem_malloc(64);
  fill(live, 64, 3);
  if (strcmp(which, "stack") == 0) {
    rmem_malloc_free(stack_var);
  } else if (strcmp(which, "double") == 0) {
    void *p = rmem_malloc(40);
    rmem_malloc_free(p);
    rmem_malloc_free(p);
  } else if (strcmp(which, "interior") == 0) {
    char *p = rmem_malloc(200);
    rmem_malloc_free(p + 16);
    rmem_malloc_free(p);
  } else if (strcmp(which, "spilled-double") == 0) {
    rmem_malloc_free(freed_and_spilled(40));
  } else if (strcmp(which, "misaligned") == 0) {
    char *p = rmem_malloc(48);
    rmem_malloc_free(p + 8);
    rmem_malloc_free(p);
  } else if (strcmp(which, "realloc-spilled") == 0) {
    if (rmem_malloc_realloc(freed_and_spilled(40), 20) != NULL) return 3;
  } else if (strcmp(which, "huge-double") == 0) {
    void *p = rmem_malloc(40u << 20);
    rmem_malloc_free(p);
    rmem_malloc_free(p);
  } else if (strcmp(which, "big-double") == 0) { /* a page run of the instance */
    void *p = rmem_malloc(4u << 20);
    rmem_malloc_free(p);
    rmem_malloc_free(p);
  } else if (strcmp(which, "huge-interior") == 0) {
    char *p = rmem_malloc(40u << 20);
    rmem_malloc_free(p + 4096);
    rmem_malloc_free(p);
  } else if (strcmp(which, "large-interior") == 0) {
    char *p = rmem_malloc(100000);
    rmem_malloc_free(p + 4096);
    rmem_malloc_free(p);
  } else if (strcmp(which, "realloc") == 0) {
    void *p = rmem_malloc(40);
    rmem_malloc_free(p);
    if (rmem_malloc_realloc(p, 100) != NULL) return 3;
  } else if (strcmp(which, "big-realloc") == 0) { /* a freed 4 MiB page run, grown past RM_BIG */
    void *p = rmem_malloc(4u << 20);
    rmem_malloc_free(p);
    if (rmem_malloc_realloc(p, 8u << 20) != NULL) return 3;
  } else if (strcmp(which, "remote-double") == 0) {
    void *p = rmem_malloc(48);
    pthread_t t1, t2;
    pthread_create(&t1, NULL, remote_free_thread, p);
    pthread_join(t1, NULL);
    pthread_create(&t2, NULL, remote_free_thread, p);
    pthread_join(t2, NULL);
    void *q = rmem_malloc(48); /* the second free was refused at its call (t2's remote bit found set) */
    rmem_malloc_free(q);
  } else if (strcmp(which, "remote-double-batch") == 0 || strcmp(which, "remote-double-between") == 0) {
    /* issue 13 #3: another thread frees p twice in a row, or p, x, p: the second free of p is reported at
       its call, x's free is not lost, and no block is handed out twice afterwards */
    void *pair[3] = {rmem_malloc(48), rmem_malloc(48), NULL};
    pair[2] = strcmp(which, "remote-double-batch") == 0 ? NULL : pair[1];
    pthread_t t;
    pthread_create(&t, NULL, free_p_twice_thread, pair);
    pthread_join(t, NULL);
    void *got[2000];
    for (int i = 0; i < 2000; i++) got[i] = rmem_malloc(48);
    for (int i = 0; i < 2000; i++)
      for (int j = 0; j < i; j++)
        if (got[i] == got[j]) return 9; /* handed out twice */
    for (int i = 0; i < 2000; i++) rmem_malloc_free(got[i]);
    if (pair[2] == NULL) rmem_malloc_free(pair[1]);
  } else {
    return 4;
  }
  /* continue mode: the structure is intact and keeps working */
  if (!intact(live, 64, 3)) return 5;
  if (rmem_malloc_validate() != 0) return 6;
  void *more[100];
  for (int i = 0; i < 100; i++) more[i] = rmem_malloc((size_t)i * 50 + 1);
  for (int i = 0; i < 100; i++) rmem_malloc_free(more[i]);
  if (rmem_malloc_validate() != 0) return 7;
  rmem_malloc_free(live);
  rmem_malloc_stats_t s;
  rmem_malloc_stats(&s);
  return s.bad_frees >= 1 ? 0 : 8;
}

static char self_path[4096];

/* Runs `self bad <which>` with or without RMEM_MALLOC_CONTINUE; returns status, stderr in err. */
static int run_child(const char *which, int cont, char *err, size_t errlen) {
  int fd[2];
  if (pipe(fd) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fd[1], 2);
    close(fd[0]);
    close(fd[1]);
    if (cont) setenv("RMEM_MALLOC_CONTINUE", "1", 1);
    else unsetenv("RMEM_MALLOC_CONTINUE");
    execl(self_path, self_path, "bad", which, (char *)NULL);
    _exit(127);
  }
  close(fd[1]);
  size_t got = 0;
  ssize_t n;
  while ((n = read(fd[0], err + got, errlen - 1 - got)) > 0) got += (size_t)n;
  err[got] = 0;
  close(fd[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  return st;
}

static void test_bad_frees(void) {
  const char *cases[] = {"stack",          "double",         "interior",        "huge-double",
                         "big-double",     "huge-interior",  "large-interior",  "realloc",
                         "big-realloc",
                         "remote-double",  "spilled-double", "misaligned",      "realloc-spilled",
                         "remote-double-batch", "remote-double-between"};
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    char err[4096];
    int st = run_child(cases[k], 0, err, sizeof err);
    int aborted = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
    if (!aborted) fprintf(stderr, "bad free case %s: expected SIGABRT, status %#x, stderr: %s\n", cases[k], st, err);
    CHECK(aborted);
    CHECK(strstr(err, "rmem-malloc: ") != NULL && strstr(err, "0x") != NULL);
    if (strstr(cases[k], "double")) CHECK(strstr(err, "double free") != NULL);
    if (strcmp(cases[k], "huge-interior") == 0) CHECK(strstr(err, "points into a huge block") != NULL);

    st = run_child(cases[k], 1, err, sizeof err);
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok) fprintf(stderr, "bad free case %s in continue mode: status %#x, stderr: %s\n", cases[k], st, err);
    CHECK(ok);
    CHECK(strstr(err, "rmem-malloc: ") != NULL);
  }
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "bad") == 0) return bad_case(argv[2]);
  if (argc == 2 && strcmp(argv[1], "decay") == 0) {
    test_huge_decay();
    return check_report("rmem_malloc decay");
  }
  ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
  if (n <= 0) return 2;
  self_path[n] = 0;
  test_edges();
  test_stress();
  test_threads();
  test_remote_pingpong();
  test_growth();
  test_huge_cache();
  test_huge_cache_split();
  test_fork();
  test_bad_frees();
  return check_report("rmem_malloc");
}
