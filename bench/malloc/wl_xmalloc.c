/*
 * wl_xmalloc.c - xmalloc-test style producer/consumer.
 *
 * One thread only allocates, the other only frees what the first allocated:
 * every free is a cross-thread free, the pattern that breaks allocators with
 * per-thread caches that cannot return memory to its owner cheaply. Blocks
 * travel in batches of 256 through a small bounded queue.
 *
 * Usage: wl_xmalloc [scale]
 */
#include "wl_common.h"

#include <pthread.h>

enum { BATCH = 256, QCAP = 64 };

typedef struct batch {
  void *p[BATCH];
} batch_t;

static batch_t *queue[QCAP];
static int qhead, qtail, qcount, done;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;
static long nbatches;
static uint64_t produced_sum, consumed_sum;

static void *producer(void *arg) {
  (void)arg;
  wl_rng_t rng = {0xDEADBEEFCAFEull};
  for (long b = 0; b < nbatches; b++) {
    batch_t *bt = wl_xmalloc(sizeof *bt);
    for (int i = 0; i < BATCH; i++) {
      size_t n = wl_range(&rng, 16, 256);
      unsigned char *p = wl_xmalloc(n);
      p[0] = (unsigned char)i;
      p[n - 1] = (unsigned char)b;
      produced_sum += p[0];
      bt->p[i] = p;
    }
    pthread_mutex_lock(&lock);
    while (qcount == QCAP) pthread_cond_wait(&not_full, &lock);
    queue[qtail] = bt;
    qtail = (qtail + 1) % QCAP;
    qcount++;
    pthread_cond_signal(&not_empty);
    pthread_mutex_unlock(&lock);
  }
  pthread_mutex_lock(&lock);
  done = 1;
  pthread_cond_signal(&not_empty);
  pthread_mutex_unlock(&lock);
  return NULL;
}

static void *consumer(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&lock);
    while (qcount == 0 && !done) pthread_cond_wait(&not_empty, &lock);
    if (qcount == 0 && done) {
      pthread_mutex_unlock(&lock);
      return NULL;
    }
    batch_t *bt = queue[qhead];
    qhead = (qhead + 1) % QCAP;
    qcount--;
    pthread_cond_signal(&not_full);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < BATCH; i++) {
      consumed_sum += ((unsigned char *)bt->p[i])[0];
      free(bt->p[i]);
    }
    free(bt);
  }
}

int main(int argc, char **argv) {
  double scale = wl_scale(argc, argv);
  nbatches = (long)(16000 * scale);
  pthread_t a, b;
  if (pthread_create(&a, NULL, producer, NULL) || pthread_create(&b, NULL, consumer, NULL)) return 2;
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  if (produced_sum != consumed_sum) {
    fprintf(stderr, "xmalloc: sums differ\n");
    return 1;
  }
  printf("xmalloc checksum %llu\n", (unsigned long long)consumed_sum);
  return 0;
}
