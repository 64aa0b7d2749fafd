/* Persistent worker pool.  Workers sleep on a condition variable between
 * jobs; a job is (ntasks, fn, arg) with a static contiguous split, so which
 * worker runs which task depends only on ntasks and the pool size. */
#include "core/pool.h"

#include <pthread.h>
#include <stdlib.h>

struct fitcl__pool {
  unsigned n;                 /* workers including the caller */
  pthread_t *threads;         /* n-1 background threads */
  pthread_mutex_t mu;
  pthread_cond_t start, done;
  unsigned long generation;   /* bumped per job */
  unsigned pending;           /* background workers still running the job */
  int shutdown;
  size_t ntasks;
  fitcl__task_fn fn;
  void *arg;
};

typedef struct worker_arg {
  fitcl__pool *pool;
  unsigned id;
} worker_arg;

static void run_share(fitcl__pool *p, unsigned w) {
  size_t begin = p->ntasks * w / p->n, end = p->ntasks * (w + 1) / p->n;
  for (size_t t = begin; t < end; ++t) p->fn(p->arg, t, w);
}

static void *worker_main(void *v) {
  worker_arg *wa = v;
  fitcl__pool *p = wa->pool;
  unsigned id = wa->id;
  free(wa);
  unsigned long seen = 0;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->shutdown && p->generation == seen) pthread_cond_wait(&p->start, &p->mu);
    if (p->shutdown) break;
    seen = p->generation;
    pthread_mutex_unlock(&p->mu);
    run_share(p, id);
    pthread_mutex_lock(&p->mu);
    if (--p->pending == 0) pthread_cond_signal(&p->done);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

fitcl_status fitcl__pool_create(unsigned nthreads, fitcl__pool **out) {
  *out = NULL;
  if (nthreads == 0) nthreads = 1;
  if (nthreads > 1024) return FITCL_ERR_RANGE;
  fitcl__pool *p = calloc(1, sizeof *p);
  if (!p) return FITCL_ERR_NOMEM;
  p->n = nthreads;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->start, NULL);
  pthread_cond_init(&p->done, NULL);
  if (nthreads > 1) {
    p->threads = calloc(nthreads - 1, sizeof *p->threads);
    if (!p->threads) goto fail;
    for (unsigned i = 1; i < nthreads; ++i) {
      worker_arg *wa = malloc(sizeof *wa);
      if (!wa) goto fail_threads;
      wa->pool = p;
      wa->id = i;
      if (pthread_create(&p->threads[i - 1], NULL, worker_main, wa) != 0) {
        free(wa);
        goto fail_threads;
      }
      continue;
    fail_threads:
      /* Shrink to the threads that did start: still correct, just fewer. */
      p->n = i;
      break;
    }
  }
  *out = p;
  return FITCL_OK;
fail:
  free(p->threads);
  free(p);
  return FITCL_ERR_NOMEM;
}

void fitcl__pool_destroy(fitcl__pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->shutdown = 1;
  pthread_cond_broadcast(&p->start);
  pthread_mutex_unlock(&p->mu);
  for (unsigned i = 1; i < p->n; ++i) pthread_join(p->threads[i - 1], NULL);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->start);
  pthread_cond_destroy(&p->done);
  free(p->threads);
  free(p);
}

unsigned fitcl__pool_size(const fitcl__pool *p) { return p ? p->n : 1; }

void fitcl__pool_run(fitcl__pool *p, size_t ntasks, fitcl__task_fn fn, void *arg) {
  if (ntasks == 0) return;
  if (p->n == 1 || ntasks == 1) {
    for (size_t t = 0; t < ntasks; ++t) fn(arg, t, 0);
    return;
  }
  pthread_mutex_lock(&p->mu);
  p->ntasks = ntasks;
  p->fn = fn;
  p->arg = arg;
  p->pending = p->n - 1;
  p->generation++;
  pthread_cond_broadcast(&p->start);
  pthread_mutex_unlock(&p->mu);
  run_share(p, 0);
  pthread_mutex_lock(&p->mu);
  while (p->pending) pthread_cond_wait(&p->done, &p->mu);
  pthread_mutex_unlock(&p->mu);
}
