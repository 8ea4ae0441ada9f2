/*
 * trace.c - the allocation trace (RMEM_MALLOC_TRACE=file): every malloc,
 * free, calloc, realloc and memalign-family call of the program, with its
 * size, address, thread and time, for `npm run viz -- trace file`.
 *
 * Cost when off: the hooks (override.c) test one global word, rm_trace_state,
 * which is 0 once the first call found the variable unset -- one predictable
 * branch per call, and none on malloc's and free's fast paths, which serve
 * only a thread whose rm_tl.fast was set after the trace was found off. When on: a read of the time-stamp counter and 16 bytes
 * appended to a buffer of the calling thread; a full buffer goes to the file
 * in one write(2) of 64 KiB.
 *
 * The file (little-endian, as the machine writes it):
 *   header  32 bytes, once: "RMTRACE2", u32 version (2), u32 event size (16),
 *           u32 block header size (48), u32 page size, u64 wall-clock ns at creation
 *   blocks  u32 magic "RMTB", u32 events, u32 pid, u32 tid,
 *           u64 ticks, u64 ns  (the process's start: its clock's ticks and CLOCK_MONOTONIC ns)
 *           u64 ticks, u64 ns  (the same, when the block was written)
 *           then the events
 *   event   u64 ticks | kind << 56 | aux << 59  (ticks: 56 bits of the time-stamp counter,
 *                                               or CLOCK_MONOTONIC ns where there is none;
 *                                               kind: RM_EV_*, 3 bits; aux: 5 bits, log2 of
 *                                               the alignment for MEMALIGN, 1 for a REALLOC
 *                                               that failed)
 *           u64 address | min(size, 0xffff) << 48
 *   A size of 0xffff or more is 0xffff there, and the next event is an
 *   extension (kind 0) with the same ticks whose second word is the size.
 * The two (ticks, ns) pairs of a block turn its process's ticks into ns. A
 * fork child's first event is FORK (address: the parent's pid). A realloc is
 * two events with one time: REALLOC_FREE of the old block, then REALLOC of
 * the new one (address 0 when it failed and the old block stays, aux 1; or
 * when realloc(p, 0) freed it, aux 0).
 *
 * Not through malloc: buffers come from rmem_os_map, messages are written
 * with write(2), the thread id with a system call, and nothing here calls a
 * libc function that may allocate (no stdio, no strerror).
 *
 * Threads: each thread appends to its own buffer without a lock. A buffer is
 * written out when full, when its thread exits (a pthread key) and at exit
 * (a destructor flushes every buffer: what a thread appends after that is
 * lost, and so is what a process that ends with _exit(2) still buffers). write(2) with O_APPEND puts each block in one piece; a block's
 * lock only orders its owner's flush against the exit flush.
 *
 * Processes: every process of the program (fork children, and programs it
 * execs with the same environment) appends to the same file, its blocks
 * tagged with its pid. The process that opens the file first truncates it:
 * each process holds a shared flock on the file while it runs, so a process
 * that can take the lock exclusively is the first of its run.
 *
 * Fork: the prepare handler writes the forking thread's buffer out and holds
 * the list lock; in the child every buffer is emptied (their events are the
 * parent's) and the other threads' buffers are free for reuse.
 */
#include "dropin.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define RM_TRACE_BYTES ((size_t)64 << 10)
#define RM_TRACE_MAGIC 0x42544D52u /* "RMTB" */

typedef struct rm_tev {
  uint64_t t_kind; /* ticks | kind << 56 | aux << 59 */
  uint64_t addr;   /* address | min(size, 0xffff) << 48 */
} rm_tev_t;

typedef struct rm_thdr {
  uint32_t magic, count, pid, tid;
  uint64_t ticks0, ns0; /* the process's start */
  uint64_t ticks, ns;   /* when the block was written */
} rm_thdr_t;

#define RM_TRACE_EVENTS ((RM_TRACE_BYTES - 128) / sizeof(rm_tev_t))
#define RM_TICKS_MASK (((uint64_t)1 << 56) - 1)

typedef struct rm_tbuf {
  struct rm_tbuf *next;   /* every buffer ever made */
  _Atomic int lock;       /* orders a flush by its owner against the exit flush */
  _Atomic uint32_t n;     /* events appended */
  uint32_t done;          /* events already written out (the exit flush) */
  int owned;              /* a live thread appends to it */
  uint32_t tid;
  uint32_t pad_[7];
  rm_thdr_t hdr;          /* written just before ev[], so a block is one write */
  rm_tev_t ev[RM_TRACE_EVENTS];
} rm_tbuf_t;

_Static_assert(sizeof(rm_tbuf_t) <= RM_TRACE_BYTES, "a trace buffer is 64 KiB");
_Static_assert(offsetof(rm_tbuf_t, ev) == offsetof(rm_tbuf_t, hdr) + sizeof(rm_thdr_t), "header before events");

int rm_trace_state = 1; /* 1: not decided yet (the first call reads the environment), 2: on, 0: off */
static int rm_trace_fd = -1;
static uint32_t rm_trace_pid;
static pthread_once_t rm_trace_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t rm_trace_list_lock = PTHREAD_MUTEX_INITIALIZER;
static rm_tbuf_t *rm_trace_list;
static pthread_key_t rm_trace_key;
static uint64_t rm_ticks0, rm_ns0;
static bool rm_trace_key_ok;
static _Thread_local rm_tbuf_t *rm_tls_tbuf RM_TLS;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The event clock: the time-stamp counter (invariant and synchronised across cores on x86-64 since
   Nehalem; half the cost of clock_gettime), else CLOCK_MONOTONIC ns. */
static inline uint64_t ticks(void) {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_ia32_rdtsc();
#else
  return now_ns();
#endif
}

static void say(const char *a, const char *b) {
  rm_write(2, "rmem-malloc: ", 13);
  rm_write(2, a, strlen(a));
  if (b) rm_write(2, b, strlen(b));
  rm_write(2, "\n", 1);
}

static void lock_buf(rm_tbuf_t *b) {
  int z = 0;
  while (!atomic_compare_exchange_weak_explicit(&b->lock, &z, 1, memory_order_acquire, memory_order_relaxed)) z = 0;
}

static void unlock_buf(rm_tbuf_t *b) { atomic_store_explicit(&b->lock, 0, memory_order_release); }

/* Writes events [done, n) of b as one block. The caller holds b's lock. */
static void write_block(rm_tbuf_t *b, uint32_t n) {
  if (n <= b->done || rm_trace_fd < 0) return;
  rm_thdr_t *h = (rm_thdr_t *)((char *)&b->ev[b->done] - sizeof(rm_thdr_t));
  rm_thdr_t saved = *h; /* the header goes over the events written before: put them back after */
  *h = (rm_thdr_t){RM_TRACE_MAGIC, n - b->done, rm_trace_pid, b->tid, rm_ticks0, rm_ns0, ticks(), now_ns()};
  rm_write(rm_trace_fd, (const char *)h, sizeof *h + (size_t)(n - b->done) * sizeof(rm_tev_t));
  if (b->done) *h = saved;
  b->done = n;
}

/* The owner's flush: everything appended, then the buffer starts again. */
static void flush_own(rm_tbuf_t *b) {
  lock_buf(b);
  write_block(b, atomic_load_explicit(&b->n, memory_order_acquire));
  b->done = 0;
  atomic_store_explicit(&b->n, 0, memory_order_relaxed);
  unlock_buf(b);
}

static void thread_exit(void *arg) {
  rm_tbuf_t *b = arg;
  if (!b || b != rm_tls_tbuf) return;
  flush_own(b);
  rm_tls_tbuf = NULL;
  pthread_mutex_lock(&rm_trace_list_lock);
  b->owned = 0; /* the next new thread takes it */
  pthread_mutex_unlock(&rm_trace_list_lock);
}

static void at_exit_flush(void) {
  if (rm_trace_state != 2) return;
  pthread_mutex_lock(&rm_trace_list_lock);
  for (rm_tbuf_t *b = rm_trace_list; b; b = b->next) {
    lock_buf(b);
    write_block(b, atomic_load_explicit(&b->n, memory_order_acquire));
    unlock_buf(b);
  }
  pthread_mutex_unlock(&rm_trace_list_lock);
}

__attribute__((destructor)) static void rm_trace_fini(void) { at_exit_flush(); }

static void fork_prepare(void) {
  if (rm_trace_state != 2) return;
  if (rm_tls_tbuf) flush_own(rm_tls_tbuf);
  pthread_mutex_lock(&rm_trace_list_lock);
}

static void fork_parent(void) {
  if (rm_trace_state == 2) pthread_mutex_unlock(&rm_trace_list_lock);
}

static void fork_child(void) {
  if (rm_trace_state != 2) return;
  rm_trace_pid = (uint32_t)getpid();
  rm_ticks0 = ticks();
  rm_ns0 = now_ns();
  for (rm_tbuf_t *b = rm_trace_list; b; b = b->next) {
    atomic_store(&b->lock, 0);
    atomic_store(&b->n, 0);
    b->done = 0;
    if (b != rm_tls_tbuf) b->owned = 0;
  }
  if (rm_tls_tbuf) rm_tls_tbuf->tid = (uint32_t)syscall(SYS_gettid);
  pthread_mutex_init(&rm_trace_list_lock, NULL);
  /* the child's first event names its parent: its heap starts as the parent's was at this moment */
  rm_trace(RM_EV_FORK, (const void *)(uintptr_t)getppid(), 0, 0);
}

static void trace_init(void) {
  const char *path = getenv("RMEM_MALLOC_TRACE");
  if (!path || !*path) {
    rm_trace_state = 0;
    return;
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    say("cannot open the trace file (RMEM_MALLOC_TRACE): ", path);
    rm_trace_state = 0;
    return;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
    /* no other process of this run has it open: a new trace */
    if (ftruncate(fd, 0) == 0) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      struct {
        char magic[8];
        uint32_t version, event_size, block_size, page_size;
        uint64_t created_ns;
      } h = {{'R', 'M', 'T', 'R', 'A', 'C', 'E', '2'}, 2, sizeof(rm_tev_t), sizeof(rm_thdr_t),
             (uint32_t)rmem_os_page_size(), (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec};
      rm_write(fd, (const char *)&h, sizeof h);
    }
  }
  flock(fd, LOCK_SH); /* held while this process runs (a downgrade of the exclusive lock) */
  rm_trace_fd = fd;
  rm_trace_pid = (uint32_t)getpid();
  rm_ticks0 = ticks();
  rm_ns0 = now_ns();
  rm_trace_key_ok = pthread_key_create(&rm_trace_key, thread_exit) == 0;
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  rm_trace_state = 2;
}

static RM_NOINLINE rm_tbuf_t *acquire(void) {
  pthread_mutex_lock(&rm_trace_list_lock);
  rm_tbuf_t *b = rm_trace_list;
  while (b && b->owned) b = b->next;
  if (!b) {
    b = rmem_os_map(sizeof(rm_tbuf_t), 0);
    if (b) {
      b->next = rm_trace_list;
      rm_trace_list = b;
    }
  }
  if (b) {
    b->owned = 1;
    b->done = 0;
    atomic_store_explicit(&b->n, 0, memory_order_relaxed);
    b->tid = (uint32_t)syscall(SYS_gettid);
  }
  pthread_mutex_unlock(&rm_trace_list_lock);
  if (!b) return NULL;
  rm_tls_tbuf = b;
  if (rm_trace_key_ok) pthread_setspecific(rm_trace_key, b);
  return b;
}

/* Appends one event (the buffer has room for it). */
static inline void put(rm_tbuf_t *b, uint64_t w0, uint64_t w1) {
  uint32_t n = atomic_load_explicit(&b->n, memory_order_relaxed);
  rm_tev_t *e = &b->ev[n];
  e->t_kind = w0;
  e->addr = w1;
  atomic_store_explicit(&b->n, n + 1, memory_order_release);
  if (RMEM_UNLIKELY(n + 1 == RM_TRACE_EVENTS)) flush_own(b);
}

void rm_trace(unsigned kind, const void *p, size_t size, unsigned aux) {
  if (RMEM_UNLIKELY(rm_trace_state == 1)) {
    pthread_once(&rm_trace_once, trace_init);
    if (rm_trace_state != 2) return;
  }
  rm_tbuf_t *b = rm_tls_tbuf;
  if (RMEM_UNLIKELY(!b) && !(b = acquire())) return;
  uint64_t t = ticks() & RM_TICKS_MASK;
  uint64_t s16 = size < 0xffff ? size : 0xffff;
  put(b, t | (uint64_t)(kind & 7) << 56 | (uint64_t)(aux & 31) << 59,
      ((uint64_t)(uintptr_t)p & (((uint64_t)1 << 48) - 1)) | s16 << 48);
  if (RMEM_UNLIKELY(s16 == 0xffff)) put(b, t, (uint64_t)size); /* the extension: kind 0, the whole size */
}
