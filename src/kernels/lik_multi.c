/* The likelihood over several devices (lik_multi.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/context.h"
#include "device/backend.h"
#include "kernels/hand_out.h"
#include "kernels/lik_multi.h"

unsigned fitcl__lik_multi_slow_us[16];
_Static_assert(FITCL__MAX_DEVICES == 16, "one test delay per device");

int fitcl__lik_multi_can_split(const fitcl_context *c) {
  return c->backend->lik && c->backend->lik->prepare && c->backend->lik->blocks &&
         c->backend->caps.precision == FITCL_PRECISION_DOUBLE && c->backend->caps.fp64;
}

static fitcl_status split_open(fitcl_lik *L, const fitcl__lik_tree *tree,
                              const fitcl__lik_patterns *pat) {
  fitcl_context *ctx = L->ctx;
  if (ctx->nsub == 0) return FITCL_OK;
  for (int k = -1; k < ctx->nsub; ++k) {
    const fitcl_context *c = k < 0 ? ctx : ctx->sub[k];
    if (fitcl__lik_multi_can_split(c)) continue;
    fitcl__log(ctx, FITCL_LOG_WARN,
               "likelihood: device %s computes in %s precision; the likelihood runs on %s alone",
               c->selector, fitcl__precision_name(c->backend->caps.precision), ctx->selector);
    return FITCL_OK;
  }
  L->peers = calloc(FITCL__MAX_DEVICES, sizeof *L->peers);
  if (!L->peers) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "likelihood: out of host memory");
  for (int k = 0; k < ctx->nsub; ++k) {
    fitcl_context *sub = ctx->sub[k];
    /* Over MPI ranks, each device's handle keeps this rank's share of the
     * blocks, as L does: the sub-context sees the ranks while it opens. */
    sub->ranks = ctx->ranks;
    fitcl_status st = fitcl__lik_open(sub, tree, pat, &L->opt, &L->peers[k]);
    sub->ranks = NULL;
    if (st != FITCL_OK)
      return fitcl__fail(ctx, st, "likelihood on device %s: %s", sub->selector, sub->errmsg);
    if (L->peers[k]->nblocks != L->nblocks || L->peers[k]->ncomp != L->ncomp)
      return fitcl__fail(ctx, FITCL_ERR_INTERNAL,
                         "likelihood on device %s: %zu blocks, expected %zu", sub->selector,
                         L->peers[k]->nblocks, L->nblocks);
  }
  return FITCL_OK;
}

static void split_close(fitcl_lik *L) {
  if (!L->peers) return;
  for (int k = 0; k < L->ctx->nsub; ++k) fitcl_lik_destroy(L->peers[k]);
  free(L->peers);
  L->peers = NULL;
}

/* One device's part of an evaluation. */
typedef struct dev_run {
  fitcl_lik *H;          /* this device's handle (L itself for the first) */
  fitcl_lik *L;          /* where the rows and pattern values go */
  int want_grad;
  unsigned slow_us;      /* the test hook's delay for this device */
  size_t unit;
  atomic_size_t *next;   /* the first block not yet handed out */
  atomic_int *failed;    /* set by a device that failed: the others stop */
  atomic_size_t *fast_units; /* units taken by devices the test hook does not slow */
  /* Each device's speed in the last evaluation of this kind (blocks per
   * second; NULL until every device taking part has one), their sum, and
   * whether this device is the fastest (it never stops early). */
  const double *rate;
  double rate_sum;
  int idx, fastest;
  fitcl_status st;
  uint64_t blocks;
  double busy;           /* seconds inside the backend's block calls */
} dev_run;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *dev_main(void *arg) {
  dev_run *r = arg;
  fitcl_lik *H = r->H, *L = r->L;
  const size_t nb = L->nblocks, nc = L->ncomp;
  r->st = H->backend->prepare(H, r->want_grad);
  while (r->st == FITCL_OK && !atomic_load(r->failed)) {
    if (r->slow_us)
      fitcl__hand_out_test_wait(r->slow_us, r->fast_units, r->failed, r->next, nb, NULL);
    const size_t u = fitcl__hand_out_size(r->unit, atomic_load(r->next), nb, r->rate, r->rate_sum,
                                          r->idx, r->fastest);
    if (!u) break;
    const size_t b0 = atomic_fetch_add(r->next, u);
    if (b0 >= nb) break;
    if (!r->slow_us) atomic_fetch_add(r->fast_units, 1);
    const size_t b1 = nb - b0 < u ? nb : b0 + u;
    const double t0 = now_s();
    r->st = H->backend->blocks(H, r->want_grad, b0, b1);
    r->busy += now_s() - t0;
    if (r->st != FITCL_OK) break;
    if (H != L) {
      /* Each block is handed out once: no other thread writes these. */
      memcpy(L->rows + b0 * nc, H->rows + b0 * nc, (b1 - b0) * nc * sizeof(double));
      memcpy(L->pat_ll + b0 * FITCL_REDUCE_BLOCK, H->pat_ll + b0 * FITCL_REDUCE_BLOCK,
             (b1 - b0) * FITCL_REDUCE_BLOCK * sizeof(double));
    }
    r->blocks += b1 - b0;
  }
  if (r->st != FITCL_OK) atomic_store(r->failed, 1);
  return NULL;
}

static fitcl_status split_eval(fitcl_lik *L, int want_grad) {
  fitcl_context *ctx = L->ctx;
  const int ndev = 1 + ctx->nsub;
  dev_run run[FITCL__MAX_DEVICES];
  pthread_t tid[FITCL__MAX_DEVICES];
  int started[FITCL__MAX_DEVICES] = {0};
  atomic_size_t next = 0;
  atomic_int failed = 0;
  atomic_size_t fast_units = 0;
  size_t unit = (size_t)ctx->env.device_unit;
  if (!unit) unit = L->nblocks / (8 * (size_t)ndev);
  if (!unit) unit = 1;
  /* This evaluation's numbers, which fitcl_lik_eval set on L only. */
  const size_t S = (size_t)L->G * (size_t)L->K;
  for (int k = 0; k < ctx->nsub; ++k) {
    fitcl_lik *H = L->peers[k];
    memcpy(H->brlen, L->brlen, sizeof(double) * (size_t)L->nnodes);
    memcpy(H->rates, L->rates, sizeof(double) * (size_t)L->K);
    memcpy(H->dlograte, L->dlograte, sizeof(double) * (size_t)L->K);
    memcpy(H->set_a, L->set_a, sizeof(double) * S);
    memcpy(H->set_b, L->set_b, sizeof(double) * S);
    memcpy(H->pi1, L->pi1, sizeof(double) * (size_t)L->G);
    H->root_grad = L->root_grad;
  }
  double *rate = L->multi_rate[want_grad != 0], sum = 0.0;
  int known = 1, fastest = 0;
  for (int i = 0; i < ndev; ++i) {
    known &= rate[i] > 0.0;
    sum += rate[i];
    if (rate[i] > rate[fastest]) fastest = i;
  }
  for (int i = 0; i < ndev; ++i) {
    run[i] = (dev_run){i == 0 ? L : L->peers[i - 1], L, want_grad, fitcl__lik_multi_slow_us[i],
                       unit, &next, &failed, &fast_units, known ? rate : NULL, sum, i,
                       i == fastest, FITCL_OK, 0, 0.0};
  }
  for (int i = 1; i < ndev; ++i) {
    if (pthread_create(&tid[i], NULL, dev_main, &run[i]) == 0) started[i] = 1;
    /* A thread that cannot start leaves its device idle: the others take
     * every block. */
  }
  dev_main(&run[0]);
  for (int i = 1; i < ndev; ++i)
    if (started[i]) pthread_join(tid[i], NULL);
  if (atomic_load(&next) < L->nblocks && !atomic_load(&failed)) {
    /* Left by devices that stopped early for one that could not start:
     * the first device does the rest. */
    run[0].rate = NULL;
    dev_main(&run[0]);
  }
  for (int i = 0; i < ndev; ++i)
    if (run[i].blocks > 0 && run[i].busy > 0.0)
      rate[i] = (double)run[i].blocks / run[i].busy;
  for (int i = 0; i < ndev; ++i) {
    ctx->blocks[i] += run[i].blocks;
    if (run[i].st == FITCL_OK) continue;
    if (i == 0) return run[0].st; /* its message is in ctx already */
    fitcl_context *sub = ctx->sub[i - 1];
    return fitcl__fail(ctx, run[i].st, "likelihood on device %s: %s", sub->selector, sub->errmsg);
  }
  return FITCL_OK;
}

const fitcl__lik_split fitcl__lik_multi_split = {split_open, split_eval, split_close};

void fitcl__lik_multi_rates(const fitcl_lik *L, double rate[FITCL__MAX_DEVICES]) {
  for (int i = 0; i < FITCL__MAX_DEVICES; ++i) {
    const double g = L && L->peers ? L->multi_rate[1][i] : 0.0;
    rate[i] = g > 0.0 ? g : L && L->peers ? L->multi_rate[0][i] : 0.0;
  }
}
