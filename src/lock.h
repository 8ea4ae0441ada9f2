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
 * Only this header and os_win.c include <windows.h>; the rest of src/ sees
 * rmem_lock_t only.
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

#else

#include <pthread.h>

typedef pthread_mutex_t rmem_lock_t;
#define RMEM_LOCK_INIT PTHREAD_MUTEX_INITIALIZER
static inline void rmem_lock(rmem_lock_t *l) { pthread_mutex_lock(l); }
static inline void rmem_unlock(rmem_lock_t *l) { pthread_mutex_unlock(l); }

#endif

#endif /* RMEM_LOCK_H */
