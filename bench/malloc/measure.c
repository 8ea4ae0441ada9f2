/*
 * measure.c - runs one command and reports its wall time and peak RSS.
 *
 *   measure [--preload LIB] [--stdin FILE] [--stdout FILE] -- program args...
 *
 * LD_PRELOAD is set in the child only (after fork), so the measuring process
 * itself always runs on the system allocator. Prints one JSON line on stdout:
 *   {"wall": seconds, "user": s, "sys": s, "maxrss_kb": peak, "status": exit code or 128+signal}
 * Peak RSS comes from wait4's rusage, which covers the child and every
 * descendant it waited for (gcc's cc1 and as count), as /usr/bin/time does.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void redirect(const char *path, int fd, int flags) {
  int f = open(path, flags, 0644);
  if (f < 0) {
    perror(path);
    _exit(127);
  }
  dup2(f, fd);
  close(f);
}

int main(int argc, char **argv) {
  const char *preload = NULL, *in = NULL, *out = NULL;
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      i++;
      break;
    }
    if (i + 1 >= argc) break;
    if (strcmp(argv[i], "--preload") == 0) preload = argv[++i];
    else if (strcmp(argv[i], "--stdin") == 0) in = argv[++i];
    else if (strcmp(argv[i], "--stdout") == 0) out = argv[++i];
    else break;
  }
  if (i >= argc) {
    fprintf(stderr, "usage: measure [--preload LIB] [--stdin FILE] [--stdout FILE] -- program args...\n");
    return 2;
  }
  double t0 = now();
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 2;
  }
  if (pid == 0) {
    if (preload && *preload) setenv("LD_PRELOAD", preload, 1);
    else unsetenv("LD_PRELOAD");
    if (in) redirect(in, 0, O_RDONLY);
    if (out) redirect(out, 1, O_WRONLY | O_CREAT | O_TRUNC);
    execvp(argv[i], argv + i);
    perror(argv[i]);
    _exit(127);
  }
  int st = 0;
  struct rusage ru;
  if (wait4(pid, &st, 0, &ru) < 0) {
    perror("wait4");
    return 2;
  }
  double wall = now() - t0;
  int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  printf("{\"wall\": %.6f, \"user\": %.6f, \"sys\": %.6f, \"maxrss_kb\": %ld, \"status\": %d}\n", wall,
         (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6, (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6,
         ru.ru_maxrss, code);
  return 0;
}
