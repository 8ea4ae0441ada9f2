/*
 * stats.c - the figures of the whole layer, the exit summary
 * (RMEM_MALLOC_STATS=1) and rmem_malloc_validate.
 */
#include "dropin.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

void rmem_malloc_stats(rmem_malloc_stats_t *out) {
  memset(out, 0, sizeof *out);
  uint32_t ni = atomic_load(&rm_ninst);
  out->instances = ni;
  for (uint32_t k = 0; k < ni; k++) {
    /* other threads' heaps are read as they are: a summary, not an audit */
    rmem_t *r = rm_insts[k].r;
    rmem_heap_stats_t hs;
    rmem_stats_t s;
    if (rmem_heap_stats(r, &hs) == RMEM_OK) {
      out->allocs += hs.allocs;
      out->frees += hs.frees;
      out->cached += hs.cached;
      out->heaps += hs.threads;
      out->heaps_active += hs.threads_active;
      out->adoptions += hs.adoptions;
      out->remote_frees += hs.remote_frees;
    }
    if (rmem_stats(r, &s) == RMEM_OK) {
      out->pages_used += s.pages_in_use;
      out->pages_dirty += s.committed - s.pages_in_use;
    }
  }
  huge_stats(out);
  out->bad_frees = atomic_load(&st_bad);
}

void rmem_malloc_print_stats(int fd) {
  rmem_malloc_stats_t s;
  rmem_malloc_stats(&s);
  char buf[1024];
  int n = snprintf(buf, sizeof buf,
                   "rmem-malloc stats (pid %ld)\n"
                   "  thread heaps      %zu (%zu active, %zu adoptions)\n"
                   "  rmem instances    %zu x %zu MiB reserved\n"
                   "  heap operations   %zu allocs, %zu frees, %zu remote frees, %zu blocks cached\n"
                   "  heap pages        %.1f MiB in use, %.1f MiB free but resident\n"
                   "  huge blocks       %zu since start (%zu from the huge cache), %zu alive (%.1f MiB), %.1f MiB cached\n"
                   "  bad frees         %zu\n",
                   (long)getpid(), s.heaps, s.heaps_active, s.adoptions, s.instances, RM_INSTANCE >> 20, s.allocs,
                   s.frees, s.remote_frees, s.cached, (double)s.pages_used / 1048576.0, (double)s.pages_dirty / 1048576.0,
                   s.huge_allocs, s.huge_reused, s.huge_live, (double)s.huge_bytes / 1048576.0,
                   (double)s.huge_cached / 1048576.0, s.bad_frees);
  if (n > 0) rm_write(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

__attribute__((destructor)) static void rm_at_exit(void) {
  if (rm_print_at_exit) rmem_malloc_print_stats(2);
}

static _Thread_local char rm_problem_msg[256];

void rm_problem(size_t *count, const char *fmt, ...) {
  if (*count == 0 && rm_problem_msg[0] == '\0') {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rm_problem_msg, sizeof rm_problem_msg, fmt, ap);
    va_end(ap);
  }
  (*count)++;
}

const char *rmem_malloc_problem(void) { return rm_problem_msg; }

size_t rmem_malloc_validate(void) {
  size_t problems = 0;
  rm_problem_msg[0] = '\0';
  uint32_t ni = atomic_load(&rm_ninst);
  /* R1: registry */
  for (uint32_t k = 0; k < ni; k++) {
    rm_inst_t *i = &rm_insts[k];
    for (uintptr_t a = i->base; a < i->base + RM_INSTANCE; a += (uintptr_t)1 << RM_SLOT_SHIFT)
      if (rm_lookup(a) != i) rm_problem(&problems, "rmem-malloc: instance %u is not found at %#lx (R1)", k, (unsigned long)a);
    if (rm_lookup(i->base + RM_INSTANCE - 1) != i)
      rm_problem(&problems, "rmem-malloc: instance %u is not found at its last byte (R1)", k);
  }
  /* R2: the thread's current instance */
  if (rm_tl.cur && (rm_lookup(rm_tl.base) != rm_tl.cur || rm_tl.cur->base != rm_tl.base))
    rm_problem(&problems, "rmem-malloc: this thread's current instance is not registered at its base (R2)");
  /* every instance: rmem's own validator (pages, slabs, fronts, live and remote bitmaps) on the heaps
     it may look at (this thread's and ended threads'; others' owners may be changing them) */
  for (uint32_t k = 0; k < ni; k++) {
    size_t n = rmem_validate(rm_insts[k].r);
    if (n) rm_problem(&problems, "rmem-malloc: instance %u: %s", k, rmem_last_error_message());
    problems += n ? n - 1 : 0;
    rmem_clear_error();
  }
  problems += huge_validate();
  return problems;
}
