/* A program linked with librmem-malloc.so through the installed CMake
 * package (rmem::malloc) or pkg-config (rmem-malloc): the standard names and
 * the rmem_malloc_* names from the installed rmem_malloc.h. */
#include <rmem_malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  char *s = malloc(100);
  if (s == NULL) return 1;
  strcpy(s, "hello");
  void *p = rmem_malloc(64);
  memset(p, 1, 64);
  rmem_malloc_stats_t st;
  rmem_malloc_stats(&st);
  rmem_malloc_free(p);
  free(s);
  size_t problems = rmem_malloc_validate();
  printf("rmem-malloc: %zu heap(s), %zu problems\n", st.heaps, problems);
  return problems == 0 && st.heaps >= 1 ? 0 : 1;
}
