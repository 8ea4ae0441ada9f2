/*
 * test_malloc_dropin.c - librmem-malloc.so linked directly, through the
 * standard names: malloc and friends of this program and of libc itself
 * (strdup, stdio buffers, qsort, asprintf, thread start-up) are rmem's.
 * Bad frees abort with a report naming the address; RMEM_MALLOC_STATS=1
 * prints the summary at exit. Children for everything that must crash.
 *
 * (-fno-builtin keeps the compiler from folding malloc/free pairs away.)
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rmem_malloc.h"

static int passed, failed;
#define CHECK(c)                                                             \
  do {                                                                       \
    if (c) passed++;                                                         \
    else {                                                                   \
      failed++;                                                              \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
    }                                                                        \
  } while (0)

static int cmp(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}

static void *worker(void *arg) {
  long n = (long)(intptr_t)arg;
  char *s = NULL;
  for (long i = 0; i < 2000; i++) {
    free(s);
    if (asprintf(&s, "thread %ld step %ld", n, i) < 0) return (void *)1;
  }
  void *ret = s; /* freed by the main thread: a cross-thread free */
  return ret;
}

static char self[4096];

static int child(const char *mode, int with_stats, char *err, size_t errlen) {
  int fd[2];
  if (pipe(fd) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fd[1], 2);
    close(fd[0]);
    close(fd[1]);
    if (with_stats) setenv("RMEM_MALLOC_STATS", "1", 1);
    execl(self, self, mode, (char *)NULL);
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

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "badfree") == 0) {
    char *p = malloc(100);
    free(p + 8);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "doublefree") == 0) {
    char *p = malloc(100);
    free(p);
    free(p);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "stats") == 0) {
    free(malloc(10));
    return 0;
  }
  ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
  if (sl <= 0) return 2;
  self[sl] = 0;

  /* the interposition works: rmem's 16-byte smallest block, not glibc's 24-byte chunks */
  void *one = malloc(1);
  CHECK(one != NULL && malloc_usable_size(one) == 16);
  free(one);
  rmem_malloc_stats_t s0;
  rmem_malloc_stats(&s0);
  CHECK(s0.allocs > 0);

  /* libc allocates with our malloc and frees with our free */
  char *d = strdup("rmem drop-in");
  CHECK(d && strcmp(d, "rmem drop-in") == 0 && malloc_usable_size(d) >= 13);
  free(d);
  FILE *f = tmpfile();
  CHECK(f != NULL);
  for (int i = 0; i < 10000; i++) fprintf(f, "%d\n", i);
  rewind(f);
  long sum = 0, v;
  while (fscanf(f, "%ld", &v) == 1) sum += v;
  CHECK(sum == 49995000L);
  fclose(f);
  enum { N = 200000 };
  long *arr = malloc(N * sizeof *arr);
  CHECK(arr != NULL);
  for (long i = 0; i < N; i++) arr[i] = (i * 7919) % N;
  qsort(arr, N, sizeof *arr, cmp); /* glibc's qsort mallocs a buffer this size */
  int sorted = 1;
  for (long i = 1; i < N; i++) sorted &= arr[i - 1] <= arr[i];
  CHECK(sorted);
  free(arr);

  /* the whole interface under its standard names */
  void *p = NULL;
  CHECK(posix_memalign(&p, 64, 1000) == 0 && (uintptr_t)p % 64 == 0);
  free(p);
  p = aligned_alloc(4096, 4096);
  CHECK(p && (uintptr_t)p % 4096 == 0);
  free(p);
  p = memalign(128, 10);
  CHECK(p && (uintptr_t)p % 128 == 0);
  free(p);
  p = valloc(10);
  CHECK(p && (uintptr_t)p % 4096 == 0);
  free(p);
  p = pvalloc(10);
  CHECK(p && malloc_usable_size(p) >= 4096);
  free(p);
  p = calloc(1000, 1000);
  CHECK(p && ((char *)p)[999999] == 0);
  p = realloc(p, 5000000);
  CHECK(p && ((char *)p)[999999] == 0);
  p = reallocarray(p, 10, 10);
  CHECK(p != NULL);
  free(p);
  errno = 0;
  volatile size_t big = SIZE_MAX;
  CHECK(reallocarray(NULL, big, 2) == NULL && errno == ENOMEM);

  /* threads: start-up allocations, cross-thread frees at join */
  pthread_t th[8];
  for (long i = 0; i < 8; i++) CHECK(pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) == 0);
  for (int i = 0; i < 8; i++) {
    void *r = NULL;
    pthread_join(th[i], &r);
    CHECK(r != NULL && strncmp(r, "thread ", 7) == 0);
    free(r);
  }
  CHECK(rmem_malloc_validate() == 0);

  /* bad frees abort with the address; the stats summary appears on request */
  char err[4096];
  int st = child("badfree", 0, err, sizeof err);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
  CHECK(strstr(err, "rmem-malloc: free(): invalid pointer 0x") != NULL);
  st = child("doublefree", 0, err, sizeof err);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
  CHECK(strstr(err, "rmem-malloc: free(): double free of 0x") != NULL);
  st = child("stats", 1, err, sizeof err);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK(strstr(err, "rmem-malloc stats") != NULL);

  printf("malloc_dropin: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
