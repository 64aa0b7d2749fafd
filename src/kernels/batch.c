/* The batched-fit driver: fitcl_fit_batch's argument and data checks, the
 * options, slices with progress and interruption, the per-fit
 * bookkeeping and the summary.  The fits themselves run in the backends
 * (kernels/batch.h). */
#include "kernels/batch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/util.h"
#include "device/backend.h"

void fitcl__batch_limits(const fitcl__batch *b, size_t fit, double *lo, double *hi, int *fixed) {
  for (int k = 0; k < b->np; ++k) {
    lo[k] = b->lower ? b->lower[fit * b->bounds_fs + (size_t)k] : -INFINITY;
    hi[k] = b->upper ? b->upper[fit * b->bounds_fs + (size_t)k] : INFINITY;
    fixed[k] = b->fixed ? b->fixed[fit * b->fixed_fs + (size_t)k] != 0 : 0;
  }
}

void fitcl__batch_init(const fitcl__batch *b, size_t fit, double *rec) {
  const int np = b->np;
  memset(rec, 0, (size_t)b->rec * sizeof *rec);
  for (int k = 0; k < np; ++k) {
    double v = b->d.p0[fit * b->d.p0_fit_stride + (size_t)k];
    rec[FITCL_BST_P(np) + k] = v;
    rec[FITCL_BST_T(np) + k] = v;
  }
  rec[FITCL_BST_LAMBDA(np)] = b->lambda0;
  rec[FITCL_BST_NU(np)] = 2;
}

void fitcl__batch_store_raw(fitcl__batch *b, size_t fit, const double *params, const double *se,
                            const double *cov, double chi2, int status, int iters) {
  const size_t np = (size_t)b->np;
  memcpy(b->out.params + fit * np, params, np * sizeof *params);
  if (b->out.stderr_) memcpy(b->out.stderr_ + fit * np, se, np * sizeof *se);
  if (b->out.covariance && cov) memcpy(b->out.covariance + fit * np * np, cov, np * np * sizeof *cov);
  if (b->out.chi2) b->out.chi2[fit] = chi2;
  b->status[fit] = status;
  b->iters[fit] = iters;
}

size_t fitcl__batch_compact(uint32_t *active, size_t n, const int *status) {
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i)
    if (status[active[i]] == FITCL_BST_RUNNING) active[kept++] = active[i];
  return kept;
}

fitcl_status fitcl__batch_varying_program(fitcl_context *ctx, const fitcl_model *m,
                                          fitcl__expr_prog *out) {
  fitcl__expr_graph g;
  fitcl__expr_error perr;
  int32_t roots[FITCL_BATCH_MAX_PARAMS + 1];
  fitcl__expr_graph_init(&g);
  memset(out, 0, sizeof *out);
  int32_t root = fitcl__expr_parse(&g, m->expr, (const char *const *)m->pnames,
                                   (size_t)m->nparams, (const char *const *)m->vnames,
                                   (size_t)m->nvars, &perr);
  fitcl_status st = FITCL_OK;
  if (root < 0) {
    /* The model compiled once already: only memory can fail here. */
    st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "batched fit: recompiling the model: %s", perr.msg);
    goto done;
  }
  roots[0] = root;
  for (int k = 0; k < m->nparams; ++k)
    if ((roots[k + 1] = fitcl__expr_diff(&g, root, k)) < 0) {
      st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
      goto done;
    }
  if (fitcl__expr_prog_build_varying(&g, roots, m->nparams + 1, m->nparams, m->nvars, out) !=
      FITCL_OK)
    st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
done:
  fitcl__expr_graph_free(&g);
  return st;
}

/* ------------------------------------------------------------------------- */
/* Checks                                                                     */

static int bad_array(const fitcl_batch_array *a) { return a->data == NULL; }

/* Every value the fits will read: finite, σ > 0, weights >= 0, counts >= 0
 * for Poisson.  The message names the array, the fit and the point. */
static fitcl_status check_values(fitcl__batch *b) {
  const size_t N = b->nfits, n = b->npoints;
  const int poisson = b->cfg[FITCL_BCFG_EST] == FITCL_BATCH_EST_POISSON;
  for (size_t i = 0; i < N; ++i)
    for (size_t j = 0; j < n; ++j) {
      double y = fitcl__batch_at(&b->d.y, i, j);
      if (!isfinite(y) || (poisson && y < 0))
        return fitcl__fail(b->ctx, FITCL_ERR_DATA,
                           "batched fit: y of fit %zu, point %zu is %g; %s", i, j, y,
                           poisson ? "Poisson counts must be finite and >= 0"
                                   : "every y must be finite");
      if (b->wkind != FITCL_BATCH_W_NONE) {
        double w = fitcl__batch_at(&b->w, i, j);
        int ok = b->wkind == FITCL_BATCH_W_SIGMA ? (w > 0 && isfinite(w)) : (w >= 0 && isfinite(w));
        if (!ok)
          return fitcl__fail(b->ctx, FITCL_ERR_DATA, "batched fit: %s of fit %zu, point %zu is %g; "
                             "%s", b->wkind == FITCL_BATCH_W_SIGMA ? "sigma" : "weight", i, j, w,
                             b->wkind == FITCL_BATCH_W_SIGMA ? "sigma must be finite and > 0"
                                                             : "weights must be finite and >= 0");
      }
    }
  for (int v = 0; v < b->nv; ++v) {
    const fitcl_batch_array *x = &b->d.x[v];
    size_t nf = x->fit_stride ? N : 1, npt = x->point_stride ? n : 1;
    for (size_t i = 0; i < nf; ++i)
      for (size_t j = 0; j < npt; ++j) {
        double xv = fitcl__batch_at(x, i, j);
        if (!isfinite(xv))
          return fitcl__fail(b->ctx, FITCL_ERR_DATA,
                             "batched fit: variable %s of fit %zu, point %zu is %g; every x "
                             "must be finite", b->m->vnames[v], i, j, xv);
      }
  }
  return FITCL_OK;
}

/* Starts inside their bounds, bounds ordered, enough points for the free
 * parameters. */
static fitcl_status check_starts(fitcl__batch *b) {
  const int np = b->np;
  size_t rows = b->d.p0_fit_stride || b->bounds_fs || b->fixed_fs ? b->nfits : 1;
  for (size_t i = 0; i < rows; ++i) {
    double lo[FITCL_BATCH_MAX_PARAMS], hi[FITCL_BATCH_MAX_PARAMS];
    int fixed[FITCL_BATCH_MAX_PARAMS], nfree = 0;
    fitcl__batch_limits(b, i, lo, hi, fixed);
    for (int k = 0; k < np; ++k) {
      const char *name = b->m->pnames[k];
      double p = b->d.p0[i * b->d.p0_fit_stride + (size_t)k];
      nfree += !fixed[k];
      if (isnan(lo[k]) || isnan(hi[k]) || !(lo[k] < hi[k]))
        return fitcl__fail(b->ctx, FITCL_ERR_RANGE, "batched fit: bounds of %s (fit %zu) are "
                           "[%g, %g]; the lower must be below the upper", name, i, lo[k], hi[k]);
      if (!isfinite(p) || p < lo[k] || p > hi[k])
        return fitcl__fail(b->ctx, FITCL_ERR_RANGE, "batched fit: starting value %s=%g of fit "
                           "%zu is %s; give a finite start inside [%g, %g]", name, p, i,
                           isfinite(p) ? "outside its bounds" : "not finite", lo[k], hi[k]);
    }
    if (b->npoints <= (size_t)nfree)
      return fitcl__fail(b->ctx, FITCL_ERR_SIZE, "batched fit: %zu points per fit for %d free "
                         "parameters; more points than parameters are needed", b->npoints, nfree);
  }
  return FITCL_OK;
}

static fitcl_status setup(fitcl__batch *b, fitcl_context *ctx, const fitcl_model *m,
                          const fitcl_batch_data *d, const fitcl_batch_options *o,
                          const fitcl_batch_outputs *out) {
  b->ctx = ctx;
  b->m = m;
  b->np = m->nparams;
  b->nv = m->nvars;
  b->rec = FITCL_BST_SIZE(b->np);
  b->d = *d;
  b->nfits = d->nfits;
  b->npoints = d->npoints;
  b->out = *out;
  if (b->np > FITCL_BATCH_MAX_PARAMS)
    return fitcl__fail(ctx, FITCL_ERR_SIZE, "batched fit: the model has %d parameters; batched "
                       "fits take at most %d", b->np, FITCL_BATCH_MAX_PARAMS);
  if (d->nfits == 0 || d->npoints == 0)
    return fitcl__fail(ctx, FITCL_ERR_SIZE, "batched fit: %zu fits of %zu points; both must be "
                       "at least 1", d->nfits, d->npoints);
  if (d->nfits > (size_t)UINT32_MAX)
    return fitcl__fail(ctx, FITCL_ERR_SIZE, "batched fit: %zu fits; at most %u per call",
                       d->nfits, UINT32_MAX);
  if (bad_array(&d->y) || !d->p0 || !out->params)
    return fitcl__fail(ctx, FITCL_ERR_NULL, "batched fit: y, p0 and outputs->params are required");
  for (int v = 0; v < b->nv; ++v)
    if (bad_array(&d->x[v]))
      return fitcl__fail(ctx, FITCL_ERR_NULL, "batched fit: no array for the model's variable %s "
                         "(data->x[%d])", m->vnames[v], v);
  if (d->sigma.data && d->weights.data)
    return fitcl__fail(ctx, FITCL_ERR_ARG, "batched fit: give sigma or weights, not both");
  if (d->p0_fit_stride && d->p0_fit_stride < (size_t)b->np)
    return fitcl__fail(ctx, FITCL_ERR_ARG, "batched fit: p0_fit_stride %zu is below the %d "
                       "parameters (0 for one shared start)", d->p0_fit_stride, b->np);
  b->wkind = d->sigma.data ? FITCL_BATCH_W_SIGMA
                           : (d->weights.data ? FITCL_BATCH_W_WEIGHTS : FITCL_BATCH_W_NONE);
  b->w = d->sigma.data ? d->sigma : d->weights;
  if ((int)o->estimator != FITCL_ESTIMATOR_LSE && (int)o->estimator != FITCL_ESTIMATOR_POISSON)
    return fitcl__fail(ctx, FITCL_ERR_RANGE, "batched fit: unknown estimator %d (0 least "
                       "squares, 1 Poisson)", (int)o->estimator);
  if (o->estimator == FITCL_ESTIMATOR_POISSON && b->wkind != FITCL_BATCH_W_NONE)
    return fitcl__fail(ctx, FITCL_ERR_ARG, "batched fit: the Poisson estimator takes no sigma or "
                       "weights (the variance of a count is its mean)");
  if ((o->bounds_fit_stride && o->bounds_fit_stride < (size_t)b->np) ||
      (o->fixed_fit_stride && o->fixed_fit_stride < (size_t)b->np))
    return fitcl__fail(ctx, FITCL_ERR_ARG, "batched fit: a per-fit row of bounds or fixed flags "
                       "needs a stride of at least the %d parameters", b->np);
  if ((int)o->bounds_mode != FITCL_BOUNDS_REFLECT && (int)o->bounds_mode != FITCL_BOUNDS_PROJECT)
    return fitcl__fail(ctx, FITCL_ERR_RANGE, "batched fit: bounds_mode %d (0 reflect, 1 project)",
                       (int)o->bounds_mode);
  if (o->layout < 0 || o->layout > 2)
    return fitcl__fail(ctx, FITCL_ERR_RANGE, "batched fit: layout %d (0 auto, 1 work-item, "
                       "2 work-group per fit)", o->layout);
  if (o->max_iter < 0 || o->lambda0 < 0 || !isfinite(o->lambda0))
    return fitcl__fail(ctx, FITCL_ERR_RANGE, "batched fit: max_iter and lambda0 must be >= 0");
  b->lower = o->lower;
  b->upper = o->upper;
  b->bounds_fs = o->bounds_fit_stride;
  b->fixed = o->fixed;
  b->fixed_fs = o->fixed_fit_stride;
  b->layout = o->layout;
  b->interrupt = o->interrupt;
  b->cfg[FITCL_BCFG_FTOL] = o->ftol == 0 ? 1e-15 : o->ftol;
  b->cfg[FITCL_BCFG_XTOL] = o->xtol == 0 ? 1e-8 : o->xtol;
  b->cfg[FITCL_BCFG_GTOL] = o->gtol == 0 ? -1 : o->gtol;
  b->cfg[FITCL_BCFG_MAXITER] = o->max_iter > 0 ? o->max_iter : 100 * (b->np + 1);
  b->cfg[FITCL_BCFG_EST] = (double)o->estimator;
  b->cfg[FITCL_BCFG_BOUNDS_MODE] = (double)o->bounds_mode;
  b->cfg[FITCL_BCFG_ABS_SIGMA] = o->absolute_sigma != 0;
  b->cfg[FITCL_BCFG_NPOINTS] = (double)d->npoints;
  b->lambda0 = o->lambda0 > 0 ? o->lambda0 : 1e-2;
  fitcl_status st = check_starts(b);
  if (st == FITCL_OK) st = check_values(b);
  return st;
}

fitcl_status fitcl_fit_batch(fitcl_context *ctx, const fitcl_model *m,
                             const fitcl_batch_data *data, const fitcl_batch_options *opt,
                             const fitcl_batch_outputs *out, fitcl_batch_summary *summary) {
  if (!ctx || !m || !data || !out)
    return fitcl__fail(ctx, FITCL_ERR_NULL, "fitcl_fit_batch: NULL argument");
  fitcl__clear_error(ctx);
  const double t0 = fitcl__now();
  fitcl_batch_options o;
  memset(&o, 0, sizeof o);
  if (opt) o = *opt;
  if (summary) memset(summary, 0, sizeof *summary);
  fitcl__batch b;
  memset(&b, 0, sizeof b);
  fitcl_status st = setup(&b, ctx, m, data, &o, out);
  if (st != FITCL_OK) return st;
  /* The device first; what it cannot run (a C callback) runs on the host. */
  const fitcl__batch_ops *ops = ctx->backend->batch;
  if (!ops || !ops->runs(m)) ops = ctx->host->batch;
  if (!ops->runs(m))
    return fitcl__fail(ctx, FITCL_ERR_UNSUPPORTED, "batched fit: a model given as OpenCL C "
                       "source needs an OpenCL context (this one is %s)", ctx->backend->name);
  b.ops = ops;
  b.status = malloc(b.nfits * sizeof *b.status);
  b.iters = malloc(b.nfits * sizeof *b.iters);
  if (!b.status || !b.iters) {
    st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < b.nfits; ++i) {
    b.status[i] = FITCL_CURVEFIT_INTERRUPTED;
    b.iters[i] = 0;
  }
  b.slice = o.slice;
  st = ops->create(&b);
  if (st != FITCL_OK) goto done;
  size_t done_fits = 0;
  while (done_fits < b.nfits) {
    if (b.interrupt && *b.interrupt) {
      st = fitcl__fail(ctx, FITCL_ERR_INTERRUPTED, "batched fit interrupted after %zu of %zu fits",
                       done_fits, b.nfits);
      break;
    }
    size_t count = b.nfits - done_fits < b.slice ? b.nfits - done_fits : b.slice;
    st = ops->run(&b, done_fits, count);
    if (st != FITCL_OK) break;
    done_fits += count;
    if (o.progress) o.progress(o.progress_user, done_fits, b.nfits, fitcl__now() - t0);
  }
  /* Fits never run keep their start, with no errors. */
  for (size_t i = done_fits; i < b.nfits; ++i) {
    for (int k = 0; k < b.np; ++k) {
      out->params[i * (size_t)b.np + (size_t)k] = data->p0[i * data->p0_fit_stride + (size_t)k];
      if (out->stderr_) out->stderr_[i * (size_t)b.np + (size_t)k] = NAN;
    }
    if (out->chi2) out->chi2[i] = NAN;
  }
  if (out->status) memcpy(out->status, b.status, b.nfits * sizeof *b.status);
  if (out->iterations) memcpy(out->iterations, b.iters, b.nfits * sizeof *b.iters);
  if (summary) {
    for (size_t i = 0; i < b.nfits; ++i) {
      int s = b.status[i];
      summary->converged += s >= FITCL_CURVEFIT_CONVERGED_FTOL && s <= FITCL_CURVEFIT_CONVERGED_GTOL;
      summary->max_iter += s == FITCL_CURVEFIT_MAX_ITER;
      summary->singular += s == FITCL_CURVEFIT_SINGULAR;
      summary->nonfinite += s == FITCL_CURVEFIT_NONFINITE;
      summary->interrupted += s == FITCL_CURVEFIT_INTERRUPTED;
      summary->iterations += (uint64_t)b.iters[i];
    }
    summary->launches = b.launches;
    summary->backend = ops->name;
    summary->layout = b.layout_used;
    summary->seconds = fitcl__now() - t0;
  }
done:
  if (b.impl) ops->destroy(&b);
  free(b.status);
  free(b.iters);
  return st;
}
