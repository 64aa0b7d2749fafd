/* The accumulation pass over several devices (accum_multi.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/accum_point.h"
#include "core/context.h"
#include "device/backend.h"
#include "kernels/accum_multi.h"
#include "kernels/hand_out.h"

unsigned fitcl__accum_multi_slow_us[16];
_Static_assert(FITCL__MAX_DEVICES == 16, "one test delay per device");

#define GROUP_POINTS ((size_t)FITCL_ACCUM_GROUP * FITCL_REDUCE_BLOCK)

int fitcl__accum_multi_exact(void) {
#ifdef FITCL_EXACT_ACCUM
  return 1;
#else
  return 0;
#endif
}

/* Whether a device can take part: groups in double precision (the float
 * kernels give other bits). */
static int can_split(const fitcl_context *c) {
  return c->backend->caps.precision == FITCL_PRECISION_DOUBLE && c->backend->caps.fp64;
}

static void split_close(fitcl_accum *a) {
  if (a->peers)
    for (int k = 0; k < a->ctx->nsub; ++k) fitcl_accum_destroy(a->peers[k]);
  free(a->peers);
  a->peers = NULL;
  free(a->collect_buf);
  a->collect_buf = NULL;
  a->collect = NULL;
}

static fitcl_status split_open(fitcl_accum *a) {
  fitcl_context *ctx = a->ctx;
  if (ctx->nsub == 0) return FITCL_OK;
#ifndef FITCL_EXACT_ACCUM
  /* Built with contraction into FMAs (-DFITCL_EXACT_ACCUM=OFF): the
   * pthreads path's sums are not the kernels'. */
  fitcl__log(ctx, FITCL_LOG_INFO, "accumulation: built with FMA contraction; it runs on %s alone",
             ctx->selector);
  return FITCL_OK;
#endif
  /* Only expression models (built-in ones included) on the fused path:
   * their code is generated from one graph for every backend.  A C
   * callback runs on the host anyway, OpenCL C source on no pthreads
   * device, and CLBlast sums in its own order. */
  if (a->m->kind != FITCL__MODEL_EXPR || a->path != FITCL_ACCUM_PATH_FUSED) {
    fitcl__log(ctx, FITCL_LOG_INFO, "accumulation: this model or path runs on %s alone",
               ctx->selector);
    return FITCL_OK;
  }
  for (int k = -1; k < ctx->nsub; ++k) {
    const fitcl_context *c = k < 0 ? ctx : ctx->sub[k];
    if (can_split(c)) continue;
    fitcl__log(ctx, FITCL_LOG_WARN,
               "accumulation: device %s computes in %s precision; the accumulation runs on %s "
               "alone",
               c->selector, fitcl__precision_name(c->backend->caps.precision), ctx->selector);
    return FITCL_OK;
  }
  a->peers = calloc(FITCL__MAX_DEVICES, sizeof *a->peers);
  /* A QR pass's group vectors of one piece (nsums + 1 values each). */
  const size_t groups = (a->max_chunk + GROUP_POINTS - 1) / GROUP_POINTS;
  a->collect_buf = malloc(groups * (size_t)(a->nsums + 1) * sizeof *a->collect_buf);
  if (!a->peers || !a->collect_buf) {
    split_close(a);
    return fitcl__fail(ctx, FITCL_ERR_NOMEM, "accumulation: out of host memory");
  }
  fitcl_accum_options o = {0};
  o.loss = a->loss;
  o.f_scale = a->f_scale;
  o.path = FITCL_ACCUM_PATH_FUSED;
  o.max_chunk = a->max_chunk;
  for (int k = 0; k < ctx->nsub; ++k) {
    fitcl_context *sub = ctx->sub[k];
    fitcl_status st = fitcl_accum_create(sub, a->m, &o, &a->peers[k]);
    if (st != FITCL_OK) {
      fitcl__fail(ctx, st, "accumulation on device %s: %s", sub->selector, sub->errmsg);
      split_close(a);
      return st;
    }
  }
  return FITCL_OK;
}

static fitcl_status split_begin(fitcl_accum *a, int mode) {
  a->multi = 0;
  if (!a->peers) return FITCL_OK;
  for (int k = 0; k < a->ctx->nsub; ++k) {
    fitcl_status st = fitcl__accum_begin_mode(a->peers[k], a->params, mode);
    if (st != FITCL_OK)
      return fitcl__fail(a->ctx, st, "accumulation on device %s: %s", a->ctx->sub[k]->selector,
                         a->ctx->sub[k]->errmsg);
  }
  a->multi = 1;
  return FITCL_OK;
}

/* One device's part of a piece. */
typedef struct dev_run {
  fitcl_accum *H;        /* this device's handle (the caller's for the first) */
  double *collect;       /* a QR pass: the piece's group vectors, in group order */
  const double *const *x;
  const double *y, *sigma;
  size_t n, ngroups;
  unsigned slow_us;      /* the test hook's delay for this device */
  size_t unit;
  atomic_size_t *next;   /* the first group not yet handed out */
  atomic_int *failed;    /* set by a device that failed: the others stop */
  atomic_size_t *fast_units; /* units taken by devices the test hook does not slow */
  atomic_int *running;   /* devices still taking units */
  /* Each device's speed in the last pass of this kind (NULL until every
   * device has one), their sum, and whether this device is the fastest
   * (it never stops early). */
  const double *rate;
  double rate_sum;
  int idx, fastest;
  fitcl_status st;
  uint64_t groups, blocks;
  double busy;           /* seconds inside the backend's calls */
} dev_run;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *dev_main(void *arg) {
  dev_run *r = arg;
  fitcl_accum *H = r->H;
  const size_t ng = r->ngroups;
  const double t0 = now_s();
  while (r->st == FITCL_OK && !atomic_load(r->failed)) {
    if (r->slow_us)
      fitcl__hand_out_test_wait(r->slow_us, r->fast_units, r->failed, r->next, ng, r->running);
    const size_t u = fitcl__hand_out_size(r->unit, atomic_load(r->next), ng, r->rate, r->rate_sum,
                                          r->idx, r->fastest);
    if (!u) break;
    const size_t g0 = atomic_fetch_add(r->next, u);
    if (g0 >= ng) break;
    if (!r->slow_us) atomic_fetch_add(r->fast_units, 1);
    const size_t g1 = ng - g0 < u ? ng : g0 + u;
    /* Groups are counted from the piece's start, and so from the start of
     * any range beginning at a group's first point: the same groups. */
    const size_t p0 = g0 * GROUP_POINTS, p1 = g1 * GROUP_POINTS < r->n ? g1 * GROUP_POINTS : r->n;
    const double *xs[FITCL_NLSQ_MAX_VARS];
    for (int j = 0; j < H->nv; ++j) xs[j] = r->x[j] + p0;
    if (r->collect) {
      /* A QR pass: the unit's group vectors into their places, for the
       * first handle to merge every device's in group order (rotations are
       * not exact: their order matters). */
      H->collect = r->collect + g0 * (size_t)fitcl__accum_stride(H);
      r->st = H->ops->chunk(H, xs, r->y + p0, r->sigma ? r->sigma + p0 : NULL, p1 - p0);
      if (r->st == FITCL_OK) r->st = H->ops->finish(H);
      H->collect = NULL;
    } else {
      r->st = H->ops->chunk(H, xs, r->y + p0, r->sigma ? r->sigma + p0 : NULL, p1 - p0);
    }
    r->groups += g1 - g0;
    r->blocks += (p1 - p0 + FITCL_REDUCE_BLOCK - 1) / FITCL_REDUCE_BLOCK;
  }
  atomic_fetch_sub(r->running, 1);
  /* The piece's arrays are the caller's until this call returns: every
   * device completes its part (and folds it) before then. */
  if (r->groups) {
    fitcl_status st = H->ops->finish(H);
    if (r->st == FITCL_OK) r->st = st;
  }
  r->busy = now_s() - t0;
  if (r->st != FITCL_OK) atomic_store(r->failed, 1);
  return NULL;
}

static fitcl_status split_chunk(fitcl_accum *a, const double *const *x, const double *y,
                                const double *sigma, size_t n) {
  fitcl_context *ctx = a->ctx;
  const int ndev = 1 + ctx->nsub;
  const size_t ng = (n + GROUP_POINTS - 1) / GROUP_POINTS;
  dev_run run[FITCL__MAX_DEVICES];
  pthread_t tid[FITCL__MAX_DEVICES];
  int started[FITCL__MAX_DEVICES] = {0};
  atomic_size_t next = 0;
  atomic_int failed = 0;
  atomic_size_t fast_units = 0;
  atomic_int running = 1 + ctx->nsub;
  size_t unit = (size_t)ctx->env.device_unit;
  if (!unit) unit = ng / (8 * (size_t)ndev);
  if (!unit) unit = 1;
  double *rate = a->multi_rate[a->want_jac != 0], sum = 0.0;
  int known = 1, fastest = 0;
  for (int i = 0; i < ndev; ++i) {
    known &= rate[i] > 0.0;
    sum += rate[i];
    if (rate[i] > rate[fastest]) fastest = i;
  }
  /* Each pass hands the groups out anew: a device's ranges differ from
   * pass to pass, so no device keeps pieces resident. */
  const int repeats = a->repeats;
  a->repeats = 0;
  for (int i = 0; i < ndev; ++i) {
    run[i] = (dev_run){i == 0 ? a : a->peers[i - 1], a->qr ? a->collect_buf : NULL,
                       x, y, sigma, n, ng, fitcl__accum_multi_slow_us[i], unit, &next, &failed,
                       &fast_units, &running, known ? rate : NULL, sum, i, i == fastest,
                       FITCL_OK, 0, 0, 0.0};
  }
  for (int i = 1; i < ndev; ++i) {
    if (pthread_create(&tid[i], NULL, dev_main, &run[i]) == 0) started[i] = 1;
    else atomic_fetch_sub(&running, 1); /* its device stays idle */
  }
  dev_main(&run[0]);
  for (int i = 1; i < ndev; ++i)
    if (started[i]) pthread_join(tid[i], NULL);
  if (atomic_load(&next) < ng && !atomic_load(&failed)) {
    /* Left by devices that stopped early for one that could not start:
     * the first device does the rest. */
    run[0].rate = NULL;
    run[0].groups = 0;
    atomic_store(&running, 1);
    dev_main(&run[0]);
  }
  a->repeats = repeats;
  if (a->qr && !atomic_load(&failed)) fitcl__accum_fold(a, a->collect_buf, ng);
  /* Speeds only from pieces worth timing (a unit each at least). */
  for (int i = 0; i < ndev; ++i)
    if (run[i].groups > 0 && run[i].busy > 0.0 && ng >= (size_t)ndev)
      rate[i] = (double)run[i].groups / run[i].busy;
  for (int i = 0; i < ndev; ++i) {
    ctx->blocks[i] += run[i].blocks;
    if (run[i].st == FITCL_OK) continue;
    if (i == 0) return run[0].st; /* its message is in ctx already */
    fitcl_context *sub = ctx->sub[i - 1];
    return fitcl__fail(ctx, run[i].st, "accumulation on device %s: %s", sub->selector,
                       sub->errmsg);
  }
  return FITCL_OK;
}

static fitcl_status split_end(fitcl_accum *a, int failed) {
  if (!a->multi) return FITCL_OK;
  a->multi = 0;
  fitcl_status st = FITCL_OK;
  for (int k = 0; k < a->ctx->nsub; ++k) {
    fitcl_accum *P = a->peers[k];
    fitcl_status ps = P->ops->finish(P);
    P->active = 0;
    if (ps == FITCL_OK) ps = P->sticky;
    if (ps != FITCL_OK && st == FITCL_OK && !failed)
      st = fitcl__fail(a->ctx, ps, "accumulation on device %s: %s", a->ctx->sub[k]->selector,
                       a->ctx->sub[k]->errmsg);
    /* Exact sums: the devices' sums added in any order give one device's
     * (a QR pass's went to the first handle already). */
    if (!failed && !a->qr)
      for (int s = 0; s < a->nsums; ++s) fitcl__xsum_merge(&a->acc[s], &P->acc[s]);
  }
  return st;
}

const fitcl__accum_split fitcl__accum_multi_split = {split_open, split_begin, split_chunk,
                                                     split_end, split_close};
