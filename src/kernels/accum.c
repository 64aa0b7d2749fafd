/* The accumulation driver: pass state, chunk splitting, ordered
 * compensated folding of backend partials, and the public API. */
#include "kernels/accum.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/accum_point.h"
#include "common/accum_qr.h"
#include "core/context.h"
#include "core/ranks.h"
#include "core/util.h"
#include "device/backend.h"

double *fitcl_alloc_column(size_t n) {
  const size_t huge = (size_t)2 << 20;
  if (n == 0 || n > SIZE_MAX / sizeof(double) - huge) return NULL;
  size_t bytes = n * sizeof(double);
  if (bytes < huge) return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
  bytes = (bytes + huge - 1) & ~(huge - 1);
  double *p = aligned_alloc(huge, bytes);
#ifdef MADV_HUGEPAGE
  /* Advice only: where it is refused the column is on ordinary pages. */
  if (p) (void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
  return p;
}

void fitcl_accum_sums_zero(fitcl_accum_sums *s, int nparams) {
  if (!s) return;
  memset(s, 0, sizeof *s);
  s->nparams = nparams;
}

void fitcl_accum_sums_add(fitcl_accum_sums *dst, const fitcl_accum_sums *src) {
  if (!dst || !src) return;
  int np = dst->nparams;
  for (int i = 0; i < np * np; ++i) dst->jtj[i] += src->jtj[i];
  for (int i = 0; i < np; ++i) dst->jtr[i] += src->jtr[i];
  dst->cost += src->cost;
  dst->rss += src->rss;
  dst->points += src->points;
}

void fitcl__accum_fold(fitcl_accum *a, const double *partials, size_t ngroups) {
  int stride = fitcl__accum_stride(a);
  if (a->collect) {
    memcpy(a->collect, partials, ngroups * (size_t)stride * sizeof *partials);
    a->collect += ngroups * (size_t)stride;
    return;
  }
  if (a->qr) {
    const int m = a->np + 1, tri = FITCL_QR_TRI(m);
    double v[FITCL_NLSQ_MAX_PARAMS + 1];
    for (size_t g = 0; g < ngroups; ++g) {
      const double *P = partials + g * (size_t)stride;
      for (int k = 0; k < m; ++k) {
        for (int l = 0; l < m; ++l) v[l] = l < k ? 0.0 : P[FITCL_QR_AT(m, k, l)];
        fitcl_qr_add_row(a->qrT, m, v, k);
      }
      fitcl__xsum_add(&a->acc[a->nsums - 2], P[tri]);
      fitcl__xsum_add(&a->acc[a->nsums - 1], P[tri + 1]);
    }
    return;
  }
  int off = a->want_jac ? 0 : a->nsums - 2;
  for (size_t g = 0; g < ngroups; ++g)
    for (int s = 0; s < stride; ++s)
      fitcl__xsum_add(&a->acc[off + s], partials[g * (size_t)stride + (size_t)s]);
}

fitcl_status fitcl_accum_create(fitcl_context *ctx, const fitcl_model *m,
                                const fitcl_accum_options *opt, fitcl_accum **out) {
  fitcl_accum_options o = {0};
  fitcl_accum *a = NULL;
  fitcl_status st;
  if (!ctx || !m || !out) return fitcl__fail(ctx, FITCL_ERR_NULL, "NULL argument to fitcl_accum_create");
  fitcl__clear_error(ctx);
  *out = NULL;
  if (opt) o = *opt;
  if ((int)o.loss < FITCL_LOSS_LINEAR || (int)o.loss > FITCL_LOSS_ARCTAN)
    return fitcl__fail(ctx, FITCL_ERR_ARG, "unknown loss %d (0..4: linear, soft_l1, huber, "
                       "cauchy, arctan)", (int)o.loss);
  if (o.f_scale == 0) o.f_scale = 1.0;
  if (!(o.f_scale > 0) || !isfinite(o.f_scale))
    return fitcl__fail(ctx, FITCL_ERR_ARG, "f_scale must be a positive number, got %g", o.f_scale);
  if (o.path < 0 || o.path > 2)
    return fitcl__fail(ctx, FITCL_ERR_ARG, "path must be 0 (auto), 1 (fused) or 2 (CLBlast), got %d",
                       o.path);
  if (o.max_chunk == 0) o.max_chunk = (size_t)1 << 20;
  if (o.max_chunk > ((size_t)1 << 28))
    return fitcl__fail(ctx, FITCL_ERR_SIZE, "max_chunk %zu is above the limit of 2^28 points",
                       o.max_chunk);
  /* The device first; what it cannot run (a C callback model) runs on the
   * host's pool. */
  const fitcl__accum_ops *ops = ctx->backend->accum;
  if (!ops->runs(m, o.path)) ops = ctx->host->accum;
  if (!ops->runs(m, o.path)) {
    if (m->kind == FITCL__MODEL_OPENCL)
      return fitcl__fail(ctx, FITCL_ERR_UNSUPPORTED,
                         "a model given as OpenCL C source needs an OpenCL context (this one is %s)",
                         ctx->backend->name);
    return fitcl__fail(ctx, FITCL_ERR_UNSUPPORTED,
                       "the CLBlast path (path=2) needs an OpenCL context and an expression model");
  }
  a = calloc(1, sizeof *a);
  if (!a) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  a->ctx = ctx;
  a->m = m;
  a->np = m->nparams;
  a->nv = m->nvars;
  a->nsums = FITCL_ACCUM_NSUMS(a->np);
  a->loss = o.loss;
  a->f_scale = o.f_scale;
  a->path = o.path;
  a->max_chunk = o.max_chunk;
  a->ops = ops;
  a->info.backend = ops->name;
  a->info.precision = "double"; /* a driver computing otherwise says so */
  a->acc = calloc((size_t)a->nsums, sizeof *a->acc);
  a->qrT = calloc((size_t)FITCL_QR_TRI(a->np + 1), sizeof *a->qrT);
  if (!a->acc || !a->qrT) {
    st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
    goto fail;
  }
  st = a->ops->create(a);
  if (st != FITCL_OK) goto fail;
  if (a->path == 0) a->path = FITCL_ACCUM_PATH_FUSED;
  a->info.path = a->path;
  /* Several devices: handles of the model on the others (accum_multi.c). */
  if (ctx->accum_split) st = ctx->accum_split->open(a);
  if (st != FITCL_OK) goto fail;
  *out = a;
  return FITCL_OK;
fail:
  fitcl_accum_destroy(a);
  return st;
}

fitcl_status fitcl_accum_begin(fitcl_accum *a, const double *params, int want_jacobian) {
  return fitcl__accum_begin_mode(a, params, want_jacobian ? FITCL__ACCUM_NORMAL : FITCL__ACCUM_COST);
}

fitcl_status fitcl__accum_begin_mode(fitcl_accum *a, const double *params, int mode) {
  if (!a || !params) return FITCL_ERR_NULL;
  fitcl__clear_error(a->ctx);
  if (a->active) {
    /* A pass abandoned half-way: drain it so buffers can be reused. */
    (void)a->ops->finish(a);
    if (a->ctx->accum_split) (void)a->ctx->accum_split->end(a, 1);
    a->active = 0;
  }
  for (int k = 0; k < a->np; ++k) {
    if (!isfinite(params[k]))
      return fitcl__fail(a->ctx, FITCL_ERR_DATA, "parameter %s is not finite (%g)",
                         a->m->pnames[k], params[k]);
    a->params[k] = params[k];
  }
  a->want_jac = mode != FITCL__ACCUM_COST;
  a->qr = mode == FITCL__ACCUM_QR;
  for (int k = 0; k < a->nsums; ++k) fitcl__xsum_init(&a->acc[k]);
  memset(a->qrT, 0, (size_t)FITCL_QR_TRI(a->np + 1) * sizeof *a->qrT);
  a->points = 0;
  a->row = 0;
  a->sticky = FITCL_OK;
  fitcl_status st = a->ops->begin(a);
  if (st == FITCL_OK && a->ctx->accum_split) st = a->ctx->accum_split->begin(a, mode);
  if (st != FITCL_OK) return st;
  a->active = 1;
  return FITCL_OK;
}

fitcl_status fitcl_accum_chunk(fitcl_accum *a, const double *const *x, const double *y,
                               const double *sigma, size_t n) {
  if (!a) return FITCL_ERR_NULL;
  if (!a->active)
    return fitcl__fail(a->ctx, FITCL_ERR_STATE, "fitcl_accum_chunk outside begin..end");
  if (a->sticky != FITCL_OK) return a->sticky;
  if (n == 0) return FITCL_OK;
  if (!y || (a->nv && !x))
    return fitcl__fail(a->ctx, FITCL_ERR_NULL, "fitcl_accum_chunk: NULL data pointer");
  for (int j = 0; j < a->nv; ++j)
    if (!x[j])
      return fitcl__fail(a->ctx, FITCL_ERR_NULL, "fitcl_accum_chunk: column %s is NULL",
                         a->m->vnames[j]);
  /* Longer chunks are split at multiples of max_chunk; the backends start
   * their fixed blocks at each piece's start. */
  for (size_t s = 0; s < n; s += a->max_chunk) {
    size_t len = n - s < a->max_chunk ? n - s : a->max_chunk;
    const double *xs[FITCL_NLSQ_MAX_VARS];
    for (int j = 0; j < a->nv; ++j) xs[j] = x[j] + s;
    fitcl_status st = a->multi ? a->ctx->accum_split->chunk(a, xs, y + s, sigma ? sigma + s : NULL,
                                                            len)
                               : a->ops->chunk(a, xs, y + s, sigma ? sigma + s : NULL, len);
    if (st != FITCL_OK) {
      a->sticky = st;
      return st;
    }
    a->points += len;
    a->row += len;
    a->info.chunks++;
  }
  return FITCL_OK;
}

fitcl_status fitcl__accum_end_qr(fitcl_accum *a, double *T, double *cost, double *rss,
                                 uint64_t *points) {
  if (!a || !T) return FITCL_ERR_NULL;
  if (!a->active || !a->qr)
    return fitcl__fail(a->ctx, FITCL_ERR_STATE, "QR pass ended without a QR begin");
  fitcl_status st = a->ops->finish(a);
  a->active = 0;
  if (a->ctx->accum_split) {
    fitcl_status ms = a->ctx->accum_split->end(a, st != FITCL_OK || a->sticky != FITCL_OK);
    if (st == FITCL_OK) st = ms;
  }
  if (a->sticky != FITCL_OK) return a->sticky;
  if (st != FITCL_OK) return st;
  memcpy(T, a->qrT, (size_t)FITCL_QR_TRI(a->np + 1) * sizeof *T);
  *cost = 0.5 * fitcl__xsum_round(&a->acc[a->nsums - 2]);
  *rss = fitcl__xsum_round(&a->acc[a->nsums - 1]);
  *points = a->points;
  a->info.passes++;
  return FITCL_OK;
}

fitcl_status fitcl__accum_settle(fitcl_accum *a) {
  if (!a->active || a->sticky != FITCL_OK) return a->sticky;
  fitcl_status st = a->ops->finish(a);
  if (st != FITCL_OK) a->sticky = st;
  return st;
}

int fitcl__accum_share(fitcl_accum *a) {
  a->split = a->ctx->ranks && a->ctx->ranks->size > 1;
  return a->split;
}

void fitcl__accum_abandon(fitcl_accum *a) {
  if (!a || !a->active) return;
  (void)a->ops->finish(a);
  if (a->ctx->accum_split) (void)a->ctx->accum_split->end(a, 1);
  a->active = 0;
  if (a->split) (void)a->ctx->ranks->sum(a->ctx->ranks, NULL, 0, NULL, 1);
}

/* A shared pass: every rank's sums and points added, or the first failure
 * anywhere. */
static fitcl_status sum_ranks(fitcl_accum *a, fitcl_status st) {
  if (!a->split) return st;
  int off = a->want_jac ? 0 : a->nsums - 2;
  fitcl_status rs = a->ctx->ranks->sum(a->ctx->ranks, a->acc + off, (size_t)(a->nsums - off),
                                       &a->points, st != FITCL_OK);
  if (st != FITCL_OK || rs == FITCL_OK) return st;
  return fitcl__fail(a->ctx, rs, rs == FITCL_ERR_PEER ? "another rank of the job failed"
                                                      : "the ranks could not exchange their sums");
}

fitcl_status fitcl_accum_end(fitcl_accum *a, fitcl_accum_sums *out) {
  if (!a || !out) return FITCL_ERR_NULL;
  if (!a->active) return fitcl__fail(a->ctx, FITCL_ERR_STATE, "fitcl_accum_end without begin");
  if (a->qr) {
    /* Only the solver starts QR passes, and it ends an abandoned one this
     * way: drain it and keep the error that made it abandon the pass. */
    a->ops->finish(a);
    if (a->ctx->accum_split) (void)a->ctx->accum_split->end(a, 1);
    a->active = 0;
    return FITCL_ERR_STATE;
  }
  fitcl_status st = a->ops->finish(a);
  a->active = 0;
  if (a->sticky != FITCL_OK) st = a->sticky;
  /* Several devices: the others' sums added to this one's. */
  if (a->ctx->accum_split) {
    fitcl_status ms = a->ctx->accum_split->end(a, st != FITCL_OK);
    if (st == FITCL_OK) st = ms;
  }
  st = sum_ranks(a, st);
  if (st != FITCL_OK) return st;
  int np = a->np;
  fitcl_accum_sums_zero(out, np);
  if (a->want_jac) {
    int t = 0;
    for (int k = 0; k < np; ++k)
      for (int l = k; l < np; ++l, ++t) {
        double v = fitcl__xsum_round(&a->acc[t]);
        out->jtj[k * np + l] = v;
        out->jtj[l * np + k] = v;
      }
    for (int k = 0; k < np; ++k) out->jtr[k] = fitcl__xsum_round(&a->acc[t + k]);
  }
  out->cost = 0.5 * fitcl__xsum_round(&a->acc[a->nsums - 2]);
  out->rss = fitcl__xsum_round(&a->acc[a->nsums - 1]);
  out->points = a->points;
  a->info.passes++;
  return FITCL_OK;
}

fitcl_status fitcl_accum_get_info(const fitcl_accum *a, fitcl_accum_info *info) {
  if (!a || !info) return FITCL_ERR_NULL;
  *info = a->info;
  return FITCL_OK;
}

void fitcl_accum_destroy(fitcl_accum *a) {
  if (!a) return;
  if (a->ctx && a->ctx->accum_split) a->ctx->accum_split->close(a);
  if (a->impl && a->ops) a->ops->destroy(a);
  free(a->acc);
  free(a->qrT);
  free(a);
}
