/*
 * test_os.c - the OS contract (include/rmem_os.h) on the platform at hand:
 * src/os.c on POSIX, src/os_win.c on Windows (run under wine by
 * scripts/test-windows.sh). What every implementation must keep, checked the
 * same way everywhere:
 *
 *   reserve   zero-filled, and any byte readable and writable at once (on
 *             Windows that is the whole reservation committed up front)
 *   decommit  rounds inward, the pages read as zero afterwards, stay usable,
 *             and leave the working set
 *   guard     a guarded page faults (in a child process: fork on POSIX, the
 *             test run again by CreateProcess on Windows), its neighbours not
 *   map       aligned when asked, zero-filled
 *   release   0 for a whole mapping
 *   remap     moves the pages (Linux) or returns NULL and leaves them
 *   resident  counts touched pages (0 only where the OS cannot tell)
 *   now_ns    a monotonic clock that moves: 20 ms of sleep read as 20 ms or more
 *
 * and what src/ builds on it: an instance's whole range can be touched, the
 * last error is per thread, and instances can be made on several threads at
 * once (src/lock.h).
 */
#include "check.h"
#include "platform.h"
#include "rmem_os.h"

static size_t ps;

static void test_page_size(void) {
  CHECK(ps >= 4096);
  CHECK((ps & (ps - 1)) == 0);
}

static int all_zero(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return 0;
  return 1;
}

static void test_reserve_touch_anywhere(void) {
  size_t n = (size_t)16 << 20;
  unsigned char *p = rmem_os_reserve(n);
  CHECK(p != NULL);
  if (!p) return;
  CHECK((uintptr_t)p % ps == 0);
  /* zero, and writable, everywhere: first byte, last byte, one byte of every page */
  CHECK(p[0] == 0 && p[n - 1] == 0);
  int bad = 0;
  for (size_t off = 0; off < n; off += ps) {
    bad += p[off] != 0;
    p[off] = 1;
  }
  p[n - 1] = 2;
  CHECK_EQ(bad, 0);
  size_t res = rmem_os_resident(p, n);
  if (res != 0) CHECK(res >= n / 2); /* every page was touched; 0 means the OS cannot tell */
  CHECK_EQ(rmem_os_release(p, n), 0);
}

static void test_decommit(void) {
  size_t pages = 64, n = pages * ps;
  unsigned char *p = rmem_os_reserve(n);
  CHECK(p != NULL);
  if (!p) return;
  memset(p, 0x5A, n);
  size_t before = rmem_os_resident(p, n);
  /* [p + 1, p + 1 + 40 pages) rounds inward to pages 1..39 */
  CHECK_EQ(rmem_os_decommit(p + 1, 40 * ps), 0);
  size_t after = rmem_os_resident(p, n); /* before reading: a read maps (Linux's shared) zero pages */
  CHECK(p[0] == 0x5A && p[ps - 1] == 0x5A);                  /* page 0: kept */
  CHECK(all_zero(p + ps, 39 * ps));                          /* pages 1..39: zero */
  CHECK(p[40 * ps] == 0x5A && p[n - 1] == 0x5A);             /* page 40 and up: kept */
  if (before != 0) {
    CHECK(before >= n);
    CHECK(after + 39 * ps <= before); /* the pages left the working set... */
  }
  memset(p + ps, 0x33, 39 * ps); /* ...and are still there to use */
  CHECK(p[ps] == 0x33 && p[40 * ps - 1] == 0x33);
  CHECK_EQ(rmem_os_decommit(p + 1, ps - 2), 0); /* less than a page: nothing to do */
  CHECK(p[1] == 0x5A);
  CHECK_EQ(rmem_os_release(p, n), 0);
}

/* The child: everything is set up here, in the child itself (on Windows it is a new process). */
static void touch_guard(void) {
  unsigned char *p = rmem_os_reserve(3 * ps);
  if (!p || rmem_os_guard(p + ps, ps) != 0) exit(CHECK_CHILD_SETUP_FAILED);
  p[0] = 1; /* the neighbours stay usable */
  p[3 * ps - 1] = 1;
  volatile unsigned char *g = p + ps;
  g[ps / 2] = 1; /* must fault */
}

static const check_child_t children[] = {{"guard", touch_guard}};

static void test_guard(void) {
  unsigned char *p = rmem_os_reserve(3 * ps);
  CHECK(p != NULL);
  if (!p) return;
  CHECK_EQ(rmem_os_guard(p + ps, ps), 0);
  CHECK_EQ(rmem_os_guard(p + 1, ps), 0); /* rounds inward: less than a page, nothing to do */
  p[0] = 1;
  p[3 * ps - 1] = 1;
  CHECK_EQ(rmem_os_release(p, 3 * ps), 0);
  CHECK_EQ(check_child_faults(children[0]), 1);
}

static void test_map(void) {
  size_t n = (size_t)1 << 20;
  unsigned char *p = rmem_os_map(n, 0);
  CHECK(p != NULL && (uintptr_t)p % ps == 0);
  if (p) {
    CHECK(all_zero(p, n));
    memset(p, 1, n);
    CHECK_EQ(rmem_os_release(p, n), 0);
  }
  for (size_t align = (size_t)64 << 10; align <= ((size_t)8 << 20); align *= 4) {
    unsigned char *q = rmem_os_map(n, align);
    CHECK(q != NULL && (uintptr_t)q % align == 0);
    if (!q) continue;
    CHECK(q[0] == 0 && q[n - 1] == 0);
    q[0] = q[n - 1] = 1;
    CHECK_EQ(rmem_os_release(q, n), 0);
  }
  CHECK(rmem_os_map(0, 0) == NULL);
  CHECK_EQ(rmem_os_release(NULL, 0), 0);
}

static void test_remap_and_hint(void) {
  size_t n = 4 * ps;
  unsigned char *p = rmem_os_reserve(n);
  CHECK(p != NULL);
  if (!p) return;
  p[0] = 7;
  p[n - 1] = 9;
  rmem_os_advise_huge(p, n); /* a hint: nothing to see, nothing may break */
  unsigned char *q = rmem_os_remap(p, n, 4 * n);
#if defined(__linux__)
  CHECK(q != NULL);
#endif
  if (q) {
    CHECK(q[0] == 7 && q[n - 1] == 9);
    CHECK(all_zero(q + n, 3 * n));
    q[4 * n - 1] = 1;
    CHECK_EQ(rmem_os_release(q, 4 * n), 0);
  } else {
    CHECK(p[0] == 7 && p[n - 1] == 9); /* refused: the old mapping is intact */
    CHECK_EQ(rmem_os_release(p, n), 0);
  }
}

static void test_clock(void) {
  uint64_t a = rmem_os_now_ns(), b = rmem_os_now_ns();
  CHECK(b >= a);
  check_sleep_ms(20);
  uint64_t c = rmem_os_now_ns();
  CHECK(c - b >= 19000000u); /* a timer may round a little; never backwards */
  CHECK(c - b < 60000000000ull); /* and in nanoseconds, not some other unit */
}

/* rmem.h: any byte of an instance's range may be read or written without a fault. */
static void test_instance_range(void) {
  rmem_options_t o = {.capacity = (size_t)256 << 20, .flags = 0};
  rmem_t *r = rmem_create(&o);
  CHECK(r != NULL);
  if (!r) return;
  volatile unsigned char *b = rmem_base(r);
  size_t cap = rmem_capacity(r);
  int bad = 0;
  for (size_t off = 0; off < cap; off += (size_t)1 << 20) bad += b[off] != 0;
  bad += b[cap - 1] != 0;
  b[0] = 1;
  b[cap - 1] = 1;
  b[cap / 2] = 1;
  CHECK_EQ(bad, 0);
  void *p = rmem_alloc(r, 100);
  CHECK(p != NULL);
  CHECK_EQ(rmem_free(r, p), RMEM_OK);
  CHECK_EQ(rmem_validate(r), 0);
  CHECK_EQ(rmem_destroy(r), RMEM_OK);
}

/* ------------------------------------------------------------------------
 * Threads: the last error is per thread (error.c's _Thread_local), and the
 * process-wide locks (src/lock.h) hold while instances come and go on
 * several threads at once.
 * ------------------------------------------------------------------------ */

typedef struct {
  rmem_status_t seen_at_start, seen_after;
} error_probe_t;

static void error_thread(void *arg) {
  error_probe_t *e = arg;
  e->seen_at_start = rmem_last_error(); /* a new thread starts clean */
  rmem_shutdown_default();              /* no default instance: RMEM_ENOTINIT here */
  e->seen_after = rmem_last_error();
}

static void test_error_per_thread(void) {
  rmem_t *r = check_instance(0);
  if (!r) return;
  rmem_clear_error();
  CHECK_EQ(rmem_free(r, (char *)rmem_base(r) + 1), RMEM_EBADPTR);
  error_probe_t e = {RMEM_ECORRUPT, RMEM_ECORRUPT};
  if (rmem_default()) rmem_shutdown_default();
  CHECK_EQ(check_thread_run(error_thread, &e), 0);
  CHECK_EQ(e.seen_at_start, RMEM_OK);
  CHECK_EQ(e.seen_after, RMEM_ENOTINIT);
  CHECK_EQ(rmem_last_error(), RMEM_EBADPTR); /* this thread's error is untouched */
  rmem_destroy(r);
}

typedef struct {
  int failures;
} churn_t;

static void churn_thread(void *arg) {
  churn_t *c = arg;
  for (int i = 0; i < 40; i++) {
    rmem_options_t o = {.capacity = RMEM_MIN_CAPACITY, .flags = 0};
    rmem_t *r = rmem_create(&o);
    if (!r) {
      c->failures++;
      continue;
    }
    arena_t *a = rmem_arena_create(r, 0, LIFETIME_TRANSIENT); /* registers the arena pool (handle.c) */
    if (!a || !rmem_arena_alloc(a, 64)) c->failures++;
    if (rmem_validate(r) != 0) c->failures++;
    if (rmem_destroy(r) != RMEM_OK) c->failures++;
  }
}

#if defined(_WIN32)
typedef HANDLE churn_handle_t;
static DWORD WINAPI churn_entry(LPVOID p) {
  churn_thread(p);
  return 0;
}
#else
typedef pthread_t churn_handle_t;
static void *churn_entry(void *p) {
  churn_thread(p);
  return NULL;
}
#endif

static void test_instances_on_threads(void) {
  enum { N = 4 };
  churn_t c[N];
  churn_handle_t t[N];
  int started = 0;
  memset(c, 0, sizeof c);
  for (int i = 0; i < N; i++) {
#if defined(_WIN32)
    t[i] = CreateThread(NULL, 0, churn_entry, &c[i], 0, NULL);
    if (t[i]) started++;
#else
    if (pthread_create(&t[i], NULL, churn_entry, &c[i]) == 0) started++;
#endif
  }
  CHECK_EQ(started, N);
  for (int i = 0; i < started; i++) {
#if defined(_WIN32)
    WaitForSingleObject(t[i], INFINITE);
    CloseHandle(t[i]);
#else
    pthread_join(t[i], NULL);
#endif
    CHECK_EQ(c[i].failures, 0);
  }
}

int main(int argc, char **argv) {
  ps = rmem_os_page_size();
  check_child_dispatch(argc, argv, children, sizeof children / sizeof children[0]);
  test_page_size();
  test_reserve_touch_anywhere();
  test_decommit();
  test_guard();
  test_map();
  test_remap_and_hint();
  test_clock();
  test_instance_range();
  test_error_per_thread();
  test_instances_on_threads();
  return check_report("test_os");
}
