/*
 * platform.h - what the C tests need from the OS, on POSIX and on Windows
 * (mingw-w64; the tests run under wine: scripts/test-windows.sh), so no test
 * calls a POSIX-only function itself:
 *
 *   check_now_s()            a monotonic clock in seconds
 *   check_stream_open()      a temporary FILE to print into, and
 *   check_stream_text(f)     ... its whole text as a malloc'd string (closes f)
 *   check_capture_stdout(fn) what fn printed on stdout, as a malloc'd string
 *   check_thread_run(fn, a)  runs fn(a) on a new thread and waits for it
 *   check_threads_run(n, fn, args, size)  runs fn(args + k * size) for k < n,
 *                            each on its own thread at once, and waits for all
 *   check_yield()            lets another thread run (a spinning waiter's pause)
 *   check_sleep_ms(ms)       sleeps at least ms milliseconds
 *   check_child_faults(...)  runs a function in a child process and tells
 *                            whether it died of a memory fault
 *   check_child_report(...)  runs a function in a child process and returns
 *                            what it wrote on stderr (a tool's report) and how it ended
 *
 * Crash tests: POSIX forks; Windows has no fork, so the test executable runs
 * itself again (CreateProcess) with "--child NAME", and check_child_dispatch,
 * called first in main, runs that child. A test that uses children lists them:
 *
 *   static const check_child_t children[] = {{"guard", touch_guard}};
 *   int main(int argc, char **argv) {
 *     check_child_dispatch(argc, argv, children, 1);
 *     CHECK(check_child_faults(children[0]) == 1);
 */
#ifndef RMEM_TEST_PLATFORM_H
#define RMEM_TEST_PLATFORM_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <io.h>
#define check_dup _dup
#define check_dup2 _dup2
#define check_close _close
#define check_fileno _fileno
#else
#include <pthread.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#define check_dup dup
#define check_dup2 dup2
#define check_close close
#define check_fileno fileno
#endif

static inline double check_now_s(void) {
#if defined(_WIN32)
  LARGE_INTEGER f, c;
  QueryPerformanceFrequency(&f);
  QueryPerformanceCounter(&c);
  return (double)c.QuadPart / (double)f.QuadPart;
#else
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
#endif
}

/* A temporary file opened for update, removed when closed (msvcrt's tmpfile() writes to C:\). */
static inline FILE *check_stream_open(void) {
#if defined(_WIN32)
  char dir[MAX_PATH], name[MAX_PATH];
  if (GetTempPathA(sizeof dir, dir) == 0 || GetTempFileNameA(dir, "rmt", 0, name) == 0) return NULL;
  return fopen(name, "w+bD"); /* D: deleted when the last handle closes */
#else
  return tmpfile();
#endif
}

/* The whole text written to f (from check_stream_open), NUL-terminated; closes f. Aborts on failure. */
static inline char *check_stream_text(FILE *f) {
  if (!f || fflush(f) != 0 || fseek(f, 0, SEEK_END) != 0) abort();
  long n = ftell(f);
  if (n < 0) abort();
  rewind(f);
  char *buf = calloc((size_t)n + 1, 1);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) abort();
  fclose(f);
  return buf;
}

/* What fn printed on stdout (the file descriptor is redirected, so C-level printing is caught). */
static inline char *check_capture_stdout(void (*fn)(void)) {
  fflush(stdout);
  FILE *tmp = check_stream_open();
  if (!tmp) abort();
  int saved = check_dup(check_fileno(stdout));
  check_dup2(check_fileno(tmp), check_fileno(stdout));
  fn();
  fflush(stdout);
  check_dup2(saved, check_fileno(stdout));
  check_close(saved);
  return check_stream_text(tmp);
}

/* Runs fn(arg) on a new thread and waits for it; 0, or -1 if no thread could be made. */
#if defined(_WIN32)
typedef struct check_thread_call {
  void (*fn)(void *);
  void *arg;
} check_thread_call_t;
static DWORD WINAPI check_thread_entry(LPVOID p) {
  check_thread_call_t *c = p;
  c->fn(c->arg);
  return 0;
}
static inline int check_thread_run(void (*fn)(void *), void *arg) {
  check_thread_call_t c = {fn, arg};
  HANDLE h = CreateThread(NULL, 0, check_thread_entry, &c, 0, NULL);
  if (!h) return -1;
  WaitForSingleObject(h, INFINITE);
  CloseHandle(h);
  return 0;
}
#else
typedef struct check_thread_call {
  void (*fn)(void *);
  void *arg;
} check_thread_call_t;
static void *check_thread_entry(void *p) {
  check_thread_call_t *c = p;
  c->fn(c->arg);
  return NULL;
}
static inline int check_thread_run(void (*fn)(void *), void *arg) {
  check_thread_call_t c = {fn, arg};
  pthread_t t;
  if (pthread_create(&t, NULL, check_thread_entry, &c) != 0) return -1;
  pthread_join(t, NULL);
  return 0;
}
#endif

static inline void check_yield(void) {
#if defined(_WIN32)
  SwitchToThread();
#else
  sched_yield();
#endif
}

static inline void check_sleep_ms(unsigned ms) {
#if defined(_WIN32)
  Sleep(ms + 1); /* the default timer may wake a tick early */
#else
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
#endif
}

/* Runs fn on n threads at once (thread k gets (char *)args + k * size) and waits for all; 0, or -1. */
static inline int check_threads_run(int n, void (*fn)(void *), void *args, size_t size) {
  enum { MAX = 64 };
  check_thread_call_t c[MAX];
  if (n > MAX) return -1;
  int made = 0;
#if defined(_WIN32)
  HANDLE h[MAX];
  for (; made < n; made++) {
    c[made] = (check_thread_call_t){fn, (char *)args + (size_t)made * size};
    h[made] = CreateThread(NULL, 0, check_thread_entry, &c[made], 0, NULL);
    if (!h[made]) break;
  }
  for (int k = 0; k < made; k++) {
    WaitForSingleObject(h[k], INFINITE);
    CloseHandle(h[k]);
  }
#else
  pthread_t t[MAX];
  for (; made < n; made++) {
    c[made] = (check_thread_call_t){fn, (char *)args + (size_t)made * size};
    if (pthread_create(&t[made], NULL, check_thread_entry, &c[made]) != 0) break;
  }
  for (int k = 0; k < made; k++) pthread_join(t[k], NULL);
#endif
  return made == n ? 0 : -1;
}

/* ------------------------------------------------------------------------
 * Children that must crash
 * ------------------------------------------------------------------------ */

/* A child exits with this when it could not even set up what should fault. */
#define CHECK_CHILD_SETUP_FAILED 77

typedef struct check_child {
  const char *name;
  void (*fn)(void); /* must fault; returning counts as "did not fault" */
} check_child_t;

#if defined(_WIN32)
static char check_self[MAX_PATH];

/* An unhandled fault ends the child with the exception code, without a debugger or a dialog. */
static LONG WINAPI check_child_filter(EXCEPTION_POINTERS *e) {
  (void)e;
  return EXCEPTION_EXECUTE_HANDLER;
}
#endif

/* Call first in main: when this process is one of the children, run it and exit 0. */
static inline void check_child_dispatch(int argc, char **argv, const check_child_t *children, size_t n) {
#if defined(_WIN32)
  GetModuleFileNameA(NULL, check_self, sizeof check_self);
  if (argc == 3 && strcmp(argv[1], "--child") == 0)
    for (size_t i = 0; i < n; i++)
      if (strcmp(argv[2], children[i].name) == 0) {
        SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
        SetUnhandledExceptionFilter(check_child_filter);
        children[i].fn();
        exit(0);
      }
#else
  (void)argc, (void)argv, (void)children, (void)n; /* POSIX forks: nothing to dispatch */
#endif
}

/*
 * Runs child.fn in a child process: 1 if it died of a memory fault (killed by
 * a signal, or -- under a sanitizer, which catches the signal and reports --
 * any other non-zero exit; EXCEPTION_ACCESS_VIOLATION on Windows), 0 if it
 * exited normally, -1 if no child could be started or it exited with
 * CHECK_CHILD_SETUP_FAILED (or, on Windows, with any other code).
 */
static inline int check_child_faults(check_child_t child) {
  fflush(NULL);
#if defined(_WIN32)
  char cmd[MAX_PATH + 64];
  snprintf(cmd, sizeof cmd, "\"%s\" --child %s", check_self, child.name);
  STARTUPINFOA si;
  PROCESS_INFORMATION pi;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  if (!CreateProcessA(check_self, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) return -1;
  WaitForSingleObject(pi.hProcess, INFINITE);
  DWORD code = 0;
  GetExitCodeProcess(pi.hProcess, &code);
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  if (code == 0) return 0;
  return code == (DWORD)EXCEPTION_ACCESS_VIOLATION ? 1 : -1;
#else
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY); /* a sanitizer's report of the expected fault is noise */
    if (null >= 0) dup2(null, 2);
    child.fn();
    _exit(0);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  if (WIFSIGNALED(status)) return 1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) == CHECK_CHILD_SETUP_FAILED) return -1;
  return WEXITSTATUS(status) == 0 ? 0 : 1;
#endif
}

/*
 * Runs child.fn in a child process with its stderr in a temporary file, as a
 * memory tool's report of a bug the child commits is read (test_track.c).
 * Returns that text (malloc'd, "" if none; NULL if no child could be started)
 * and stores in *status 0 if the child ran to its end and exited 0, else
 * non-zero (its exit code, or 128 + the signal that killed it), and in *
 * (child_pid) the child's process id. Under valgrind the child (a fork) runs under it
 * too, and valgrind writes its report where --log-file says (with %p: a file
 * per process id), not on the child's stderr.
 */
static inline char *check_child_report(check_child_t child, int *status, long *child_pid) {
  fflush(NULL);
  *status = -1;
  *child_pid = -1;
#if defined(_WIN32)
  char dir[MAX_PATH], name[MAX_PATH], cmd[MAX_PATH + 64];
  if (GetTempPathA(sizeof dir, dir) == 0 || GetTempFileNameA(dir, "rmc", 0, name) == 0) return NULL;
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
  HANDLE err = CreateFileA(name, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, CREATE_ALWAYS,
                           FILE_ATTRIBUTE_TEMPORARY, NULL);
  if (err == INVALID_HANDLE_VALUE) return NULL;
  snprintf(cmd, sizeof cmd, "\"%s\" --child %s", check_self, child.name);
  STARTUPINFOA si;
  PROCESS_INFORMATION pi;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
  si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
  si.hStdError = err;
  BOOL ok = CreateProcessA(check_self, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi);
  CloseHandle(err);
  if (!ok) {
    DeleteFileA(name);
    return NULL;
  }
  WaitForSingleObject(pi.hProcess, INFINITE);
  DWORD code = 0;
  GetExitCodeProcess(pi.hProcess, &code);
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  *status = (int)code;
  *child_pid = (long)pi.dwProcessId;
  FILE *f = fopen(name, "rb");
  char *text = f ? check_stream_text(f) : NULL;
  DeleteFileA(name);
  return text;
#else
  FILE *tmp = check_stream_open();
  if (!tmp) return NULL;
  pid_t pid = fork();
  if (pid < 0) {
    fclose(tmp);
    return NULL;
  }
  if (pid == 0) {
    dup2(fileno(tmp), 2);
    child.fn();
    fflush(NULL);
    _exit(0);
  }
  int st = 0;
  if (waitpid(pid, &st, 0) != pid) {
    fclose(tmp);
    return NULL;
  }
  *status = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  *child_pid = (long)pid;
  return check_stream_text(tmp);
#endif
}

#endif /* RMEM_TEST_PLATFORM_H */
