/*
 * lock.h - the one portable mutex of rmem's sources (private).
 *
 * rmem needs only a few process-wide locks (the default instance, the spare
 * instance headers, the handle registry), each a static object that must be
 * usable before any code runs, so the lock has a static initialiser and no
 * init or destroy call:
 *
 *   static rmem_lock_t l = RMEM_LOCK_INIT;
 *   rmem_lock(&l); ... rmem_unlock(&l);
 *
 * POSIX: pthread_mutex_t with PTHREAD_MUTEX_INITIALIZER.
 * Windows: SRWLOCK with SRWLOCK_INIT, taken exclusively (never recursively:
 * an SRW lock must not be taken twice by one thread, nor may rmem's locks).
 *
 * Also here: the one thread-exit hook (rmem_key_t) that shared instances
 * need to give a thread's heaps back when the thread ends, the fork hook
 * (rmem_atfork), and the TLS model for the few per-thread words the fast
 * paths read.
 *
 * Only this header and os_win.c include <windows.h>; the rest of src/ sees
 * rmem_lock_t and rmem_key_t only.
 */
#ifndef RMEM_LOCK_H
#define RMEM_LOCK_H

#if defined(_WIN32)

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

typedef SRWLOCK rmem_lock_t;
#define RMEM_LOCK_INIT SRWLOCK_INIT
static inline void rmem_lock(rmem_lock_t *l) { AcquireSRWLockExclusive(l); }
static inline void rmem_unlock(rmem_lock_t *l) { ReleaseSRWLockExclusive(l); }
static inline void rmem_lock_init(rmem_lock_t *l) { InitializeSRWLock(l); }
static inline int rmem_trylock(rmem_lock_t *l) { return TryAcquireSRWLockExclusive(l) ? 0 : -1; }
/* Lets another thread run (a wait of a few microseconds, on a rare path). */
static inline void rmem_yield(void) { SwitchToThread(); }

/* A thread-exit hook: fn(value) runs when a thread that set a value ends (fiber-local storage). */
typedef DWORD rmem_key_t;
static inline int rmem_key_create(rmem_key_t *k, void (*fn)(void *)) {
  *k = FlsAlloc((PFLS_CALLBACK_FUNCTION)(void *)fn);
  return *k == FLS_OUT_OF_INDEXES ? -1 : 0;
}
static inline void rmem_key_set(rmem_key_t k, void *value) { FlsSetValue(k, value); }
/* No fork on Windows: nothing to hook. */
static inline int rmem_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void)) {
  (void)prepare, (void)parent, (void)child;
  return 0;
}
#define RMEM_TLS_IE

#else

#include <pthread.h>
#include <sched.h>

typedef pthread_mutex_t rmem_lock_t;
#define RMEM_LOCK_INIT PTHREAD_MUTEX_INITIALIZER
static inline void rmem_lock(rmem_lock_t *l) { pthread_mutex_lock(l); }
static inline void rmem_unlock(rmem_lock_t *l) { pthread_mutex_unlock(l); }
static inline void rmem_lock_init(rmem_lock_t *l) { pthread_mutex_init(l, NULL); }
static inline int rmem_trylock(rmem_lock_t *l) { return pthread_mutex_trylock(l); }
static inline void rmem_yield(void) { sched_yield(); }

/* A thread-exit hook: fn(value) runs when a thread that set a value ends. */
typedef pthread_key_t rmem_key_t;
static inline int rmem_key_create(rmem_key_t *k, void (*fn)(void *)) { return pthread_key_create(k, fn); }
static inline void rmem_key_set(rmem_key_t k, void *value) { pthread_setspecific(k, value); }
/* Handlers around fork: prepare takes the locks, parent and child let them go. */
static inline int rmem_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void)) {
  return pthread_atfork(prepare, parent, child);
}

/* The per-thread words on rmem's fast paths are initial-exec: one load, no call (the few bytes they
   take fit the static TLS that the C library keeps for modules loaded later, such as the Node addon). */
#if defined(__GNUC__)
#define RMEM_TLS_IE __attribute__((tls_model("initial-exec")))
#else
#define RMEM_TLS_IE
#endif

#endif

#endif /* RMEM_LOCK_H */
