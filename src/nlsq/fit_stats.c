/* What a finished fit reports beyond its parameters: goodness of fit (R²,
 * AIC, BIC), Wald intervals, and on request profile-likelihood intervals,
 * each profile point a refit with the parameter held. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/stats.h"
#include "nlsq/lm.h"

#define NMAX FITCL_NLSQ_MAX_PARAMS

static double level_of(const fitcl_curvefit_options *opt) {
  return opt->confidence > 0 ? opt->confidence : 0.95;
}

/* The two-sided critical value of the intervals: Student's t with the
 * residual degrees of freedom, or the normal one for absolute sigma. */
static double critical_value(const fitcl_curvefit_options *opt, double dof) {
  double q = 1 - (1 - level_of(opt)) / 2;
  if (opt->absolute_sigma) return fitcl__normal_quantile(q);
  return dof > 0 ? fitcl__t_quantile(q, dof) : NAN;
}

void fitcl__fit_statistics(double sw, double swy, double swy2,
                           const fitcl_curvefit_options *opt, fitcl_curvefit_result *res) {
  const int n = (int)res->nparams;
  const double pts = (double)res->points, k = res->nfree, dof = pts - k;
  res->confidence = level_of(opt);
  /* Σw(y - ȳ)² from the moments about the first y (which keeps the
   * difference from cancelling when the mean is far from 0). */
  res->tss = sw > 0 ? fmax(swy2 - swy * swy / sw, 0.0) : NAN;
  res->r_squared = res->tss > 0 ? 1 - res->rss / res->tss : NAN;
  double ll = pts * log(res->rss / pts);
  res->aic = ll + 2 * k;
  res->bic = ll + k * log(pts);
  double t = critical_value(opt, dof);
  for (int j = 0; j < n; ++j) {
    double se = res->stderr_[j];
    int held = opt->fixed && opt->fixed[j];
    res->ci_lower[j] = res->ci_upper[j] = NAN;
    res->profile_lower[j] = res->profile_upper[j] = NAN;
    if (held || !isfinite(se) || !isfinite(t)) continue;
    res->ci_lower[j] = res->params[j] - t * se;
    res->ci_upper[j] = res->params[j] + t * se;
  }
}

/* The rss of the refit with parameter j held at v, starting from start
 * (updated to the refit's solution); NAN when the refit fails to converge. */
static fitcl_status refit(const fitcl__lm_problem *pb, const fitcl_curvefit_options *opt, int j,
                          double v, double *start, double *rss) {
  int fixed[NMAX];
  const int n = pb->nparams;
  for (int i = 0; i < n; ++i) fixed[i] = (pb->fixed && pb->fixed[i]) || i == j;
  fitcl__lm_problem sub = *pb;
  sub.fixed = fixed;
  fitcl_curvefit_options o = *opt;
  o.progress = NULL;
  o.checkpoint_path = NULL;
  o.resume_path = NULL;
  o.profile = 0;
  fitcl__lm_state s;
  memset(&s, 0, sizeof s);
  s.nparams = n;
  memcpy(s.p, start, sizeof(double) * (size_t)n);
  s.p[j] = v;
  s.lambda = opt->lambda0 > 0 ? opt->lambda0 : 1e-2;
  s.nu = 2;
  fitcl_curvefit_result *r = malloc(sizeof *r);
  if (!r) return fitcl__fail(pb->ctx, FITCL_ERR_NOMEM, "curve fit: out of memory");
  fitcl_status st = fitcl__lm_solve(&sub, &o, &s, NULL, r);
  *rss = NAN;
  if (st == FITCL_OK && r->converged) {
    *rss = r->rss;
    memcpy(start, r->params, sizeof(double) * (size_t)n);
  }
  free(r);
  return st;
}

/* One side of parameter j's interval: the value where the signed root
 * deviance sqrt(rss(v) - rss) reaches `target`, by secant steps on it
 * (nearly linear in v) from the estimate and the Wald bound. */
static fitcl_status profile_side(const fitcl__lm_problem *pb, const fitcl_curvefit_options *opt,
                                 const fitcl_curvefit_result *res, int j, double dir,
                                 double target, double *out) {
  const int n = pb->nparams;
  const double lo = opt->lower ? opt->lower[j] : -INFINITY;
  const double hi = opt->upper ? opt->upper[j] : INFINITY;
  double start[NMAX];
  memcpy(start, res->params, sizeof(double) * (size_t)n);
  double v0 = res->params[j], d0 = 0;
  double v1 = res->params[j] + dir * fabs(res->ci_upper[j] - res->params[j]), d1;
  *out = NAN;
  for (int it = 0; it < 30; ++it) {
    if (v1 < lo) v1 = lo;
    if (v1 > hi) v1 = hi;
    double rss = NAN;
    fitcl_status st = refit(pb, opt, j, v1, start, &rss);
    if (st != FITCL_OK) return st;
    if (!isfinite(rss)) return FITCL_OK;
    d1 = sqrt(fmax(rss - res->rss, 0.0));
    if (fabs(d1 - target) <= 1e-6 * target) {
      *out = v1;
      return FITCL_OK;
    }
    if (d1 < target && (v1 == lo || v1 == hi)) return FITCL_OK; /* not reached in the box */
    /* The secant through the last two points while the root deviance
     * grows outward between them; else a step outward. */
    double vn;
    if (isfinite(d1) && (d1 - d0) * (v1 - v0) * dir > 0)
      vn = v1 + (target - d1) * (v1 - v0) / (d1 - d0);
    else
      vn = v1 + dir * fabs(v1 - v0);
    /* Never more than doubling the distance per step. */
    double lim = v1 + 2 * (v1 - res->params[j]);
    if (dir > 0 ? vn > lim : vn < lim) vn = lim;
    v0 = v1;
    d0 = d1;
    v1 = vn;
  }
  return FITCL_OK;
}

fitcl_status fitcl__profile_intervals(fitcl_context *ctx, const fitcl__lm_problem *pb,
                                      const fitcl_curvefit_options *opt,
                                      fitcl_curvefit_result *res) {
  (void)ctx;
  const double dof = (double)res->points - res->nfree;
  double t = critical_value(opt, dof);
  /* The F-test threshold for one parameter: rss rises by rss t²/dof (by t²
   * in chi-square units with absolute sigma). */
  double target = sqrt(opt->absolute_sigma ? t * t : res->rss * t * t / dof);
  if (!(target > 0) || !isfinite(target)) return FITCL_OK;
  for (int j = 0; j < pb->nparams; ++j) {
    if (!isfinite(res->ci_upper[j])) continue;
    fitcl_status st = profile_side(pb, opt, res, j, -1, target, &res->profile_lower[j]);
    if (st == FITCL_OK) st = profile_side(pb, opt, res, j, +1, target, &res->profile_upper[j]);
    if (st != FITCL_OK) return st;
  }
  return FITCL_OK;
}

fitcl_status fitcl_curvefit_band(fitcl_context *ctx, const fitcl_model *m,
                                 const fitcl_curvefit_result *res, int absolute_sigma,
                                 const double *const *x, size_t n, double *fit, double *conf,
                                 double *pred) {
  if (!ctx || !m || !res || !fit || (!x && fitcl_model_nvars(m) > 0))
    return fitcl__fail(ctx, FITCL_ERR_NULL, "fitcl_curvefit_band: NULL argument");
  const size_t np = fitcl_model_nparams(m);
  if (np != res->nparams)
    return fitcl__fail(ctx, FITCL_ERR_MISMATCH, "fitcl_curvefit_band: the result has %zu "
                       "parameters, the model %zu", res->nparams, np);
  fitcl_curvefit_options o;
  memset(&o, 0, sizeof o);
  o.absolute_sigma = absolute_sigma;
  o.confidence = res->confidence > 0 ? res->confidence : 0.95;
  double t = critical_value(&o, (double)res->points - res->nfree);
  double s2 = absolute_sigma ? 1.0 : res->reduced_chi2;
  enum { B = 4096 };
  double *jac = malloc(sizeof(double) * B * np);
  if (!jac) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  const size_t nv = fitcl_model_nvars(m);
  for (size_t i0 = 0; i0 < n; i0 += B) {
    size_t k = n - i0 < B ? n - i0 : B;
    const double *xs[FITCL_NLSQ_MAX_VARS];
    for (size_t v = 0; v < nv; ++v) xs[v] = x[v] + i0;
    fitcl_status st = fitcl_model_eval(m, res->params, xs, k, fit + i0, jac);
    if (st != FITCL_OK) {
      free(jac);
      return fitcl__fail(ctx, st, "fitcl_curvefit_band: the model cannot be evaluated on the "
                         "host");
    }
    for (size_t i = 0; i < k; ++i) {
      const double *g = jac + i * np;
      double q = 0;
      for (size_t a = 0; a < np; ++a) {
        if (g[a] == 0) continue;
        double r = 0;
        for (size_t b = 0; b < np; ++b)
          if (g[b] != 0) r += res->covariance[a * np + b] * g[b];
        q += g[a] * r;
      }
      if (conf) conf[i0 + i] = t * sqrt(q);
      if (pred) pred[i0 + i] = t * sqrt(q + s2);
    }
  }
  free(jac);
  return FITCL_OK;
}
