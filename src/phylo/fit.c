/* Maximum-likelihood fits of the gain/loss model on log-parameters. */
#include "phylo/fit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/util.h"
#include "phylo/data.h"
#include "phylo/optim.h"

#define RATE_LO 1e-8
#define RATE_HI 1e4
#define ALPHA_LO 0.02
#define ALPHA_HI 1000.0
#define EFFECT_LO 1e-6
#define EFFECT_HI 1e6

typedef struct fit_obj {
  fitcl_lik *lik;
  fitcl__fit_model model;
  int ngroups;
  double *theta;     /* [ngroups] */
  double *grad;      /* [grad size] */
  double alpha_fixed;
  int evaluations;
} fit_obj;

/* f = -LL and its gradient with respect to the free log-parameters. */
static fitcl_status objective(void *user, const double *x, double *f, double *g) {
  fit_obj *o = user;
  int i = 0;
  fitcl_gl_params p = {0};
  p.gain = exp(x[i++]);
  p.loss = exp(x[i++]);
  p.alpha = o->model.has_alpha ? exp(x[i++]) : o->alpha_fixed;
  for (int k = 0; k < o->ngroups; ++k) o->theta[k] = 1.0;
  if (o->model.has_effect) o->theta[1] = exp(x[i++]);
  else if (o->model.fixed_effect > 0 && o->ngroups > 1) o->theta[1] = o->model.fixed_effect;
  p.loss_mult = o->theta;
  double ll;
  o->evaluations++;
  fitcl_status st = fitcl_lik_eval(o->lik, &p, &ll, o->grad);
  if (st == FITCL_ERR_RANGE) {
    /* Parameters the model cannot evaluate count as outside the domain; the
     * line search then shortens its step. */
    *f = INFINITY;
    return FITCL_OK;
  }
  if (st != FITCL_OK) return st;
  *f = -ll;
  i = 0;
  g[i++] = -o->grad[0];
  g[i++] = -o->grad[1];
  if (o->model.has_alpha) g[i++] = -o->grad[2];
  /* theta[1] multiplies l only for group 1: its derivative is separate
   * from d/d log l, which covers every group. */
  if (o->model.has_effect) g[i++] = -o->grad[3 + 1];
  return FITCL_OK;
}

fitcl_status fitcl__fit_run(fitcl_context *ctx, fitcl_lik *lik, fitcl__fit_model model,
                            const fitcl__fit_start *start, const fitcl_fit_options *opt,
                            fitcl_fit_result *out) {
  static const fitcl_fit_options defaults;
  if (!opt) opt = &defaults;
  fitcl_status st = FITCL_OK;
  fit_obj o = {0};
  o.lik = lik;
  o.model = model;
  o.ngroups = fitcl_lik_ngroups(lik);
  o.alpha_fixed = 1.0;
  if (model.has_effect && o.ngroups < 2)
    return fitcl__fail(ctx, FITCL_ERR_STATE, "the effect parameter needs a second rate group");
  o.theta = malloc(sizeof(double) * (size_t)o.ngroups);
  o.grad = malloc(sizeof(double) * fitcl_lik_grad_size(lik));
  if (!o.theta || !o.grad) { st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory"); goto fail; }

  double x[4], lo[4], hi[4];
  int n = 0;
  x[n] = log(start->gain); lo[n] = log(RATE_LO); hi[n] = log(RATE_HI); ++n;
  x[n] = log(start->loss); lo[n] = log(RATE_LO); hi[n] = log(RATE_HI); ++n;
  if (model.has_alpha) { x[n] = log(start->alpha); lo[n] = log(ALPHA_LO); hi[n] = log(ALPHA_HI); ++n; }
  if (model.has_effect) { x[n] = log(start->effect); lo[n] = log(EFFECT_LO); hi[n] = log(EFFECT_HI); ++n; }
  for (int i = 0; i < n; ++i)
    if (!isfinite(x[i])) x[i] = 0.5 * (lo[i] + hi[i]);

  fitcl__optim_options oo = {0};
  oo.max_iter = opt->max_iter;
  oo.pgtol = opt->pgtol;
  oo.ftol = opt->ftol;
  fitcl__optim_result res;
  st = fitcl__optim_minimize(n, x, lo, hi, objective, &o, &oo, &res);
  if (st == FITCL_ERR_DATA) {
    st = fitcl__fail(ctx, FITCL_ERR_DATA,
                     "the log-likelihood is not finite at the starting point (gain %g, loss %g)",
                     start->gain, start->loss);
    goto fail;
  }
  if (st != FITCL_OK) goto fail;   /* the likelihood already explained itself */

  memset(out, 0, sizeof *out);
  int i = 0;
  out->gain = exp(x[i++]);
  out->loss = exp(x[i++]);
  out->alpha = model.has_alpha ? exp(x[i++]) : NAN;
  out->effect = model.has_effect ? exp(x[i++]) : (model.fixed_effect > 0 ? model.fixed_effect : NAN);
  out->loglik = -res.f;
  out->nparams = n;
  out->aic = 2.0 * n - 2.0 * out->loglik;
  out->iterations = res.iterations;
  out->converged = fitcl__optim_converged(res.status);
  out->status = fitcl__optim_status_name(res.status);
  out->se_gain = out->se_loss = out->se_alpha = out->se_effect = NAN;

  if (!opt->no_stderr) {
    /* Observed information: the Hessian of -LL in log-parameters, by
     * forward differences of the analytic gradient from the gradient the
     * optimizer ended with (relative error ~1e-4, ample for standard
     * errors, at n evaluations instead of 2n).  The delta method turns
     * SE(log p) into SE(p) = p SE(log p). */
    double H[16];
    st = fitcl__optim_hessian(n, x, NULL, NULL, NULL, res.grad, objective, &o, H);
    if (st != FITCL_OK) goto fail;
    /* A parameter on a bound is treated as fixed: its row and column are
     * dropped before inverting (alpha at its upper bound, i.e. no rate
     * variation, would otherwise make the matrix singular and take every
     * standard error with it). */
    double se[4] = {NAN, NAN, NAN, NAN}, R[16];
    int idx[4], m = 0;
    for (int j = 0; j < n; ++j)
      if (!(x[j] <= lo[j] + 1e-9 || x[j] >= hi[j] - 1e-9)) idx[m++] = j;
    for (int a = 0; a < m; ++a)
      for (int b = 0; b < m; ++b) R[a * m + b] = H[idx[a] * n + idx[b]];
    if (m > 0 && fitcl__spd_inverse(m, R) == 0)
      for (int a = 0; a < m; ++a)
        if (R[a * m + a] > 0) se[idx[a]] = exp(x[idx[a]]) * sqrt(R[a * m + a]);
    i = 0;
    out->se_gain = se[i++];
    out->se_loss = se[i++];
    if (model.has_alpha) out->se_alpha = se[i++];
    if (model.has_effect) out->se_effect = se[i++];
  }
  out->evaluations = o.evaluations;
fail:
  FITCL_FREE(o.theta);
  FITCL_FREE(o.grad);
  return st;
}

void fitcl__fit_default_start(const fitcl_data *data, fitcl__fit_start *start) {
  const fitcl__patterns *p = &data->pat;
  const fitcl__tree *t = &data->tree;
  /* Counted a packed byte (four cells) at a time: [byte] = observed cells
   * in the low nibble, present ones in the high.  Weights are family
   * counts, so the sums are whole numbers, exact in any order. */
  unsigned char count[256];
  for (int b = 0; b < 256; ++b) {
    int obs = 0, pres = 0;
    for (int q = 0; q < 4; ++q) {
      const int st = (b >> (2 * q)) & 3;
      obs += st != FITCL__MISSING;
      pres += st == FITCL__PRESENT;
    }
    count[b] = (unsigned char)(obs | pres << 4);
  }
  double present = 0, observed = 0;
  const size_t full = (size_t)p->ntaxa / 4;
  for (size_t k = 0; k < p->npatterns; ++k) {
    const uint8_t *row = p->packed + k * p->stride;
    uint64_t obs = 0, pres = 0;
    for (size_t i = 0; i < full; ++i) {
      obs += count[row[i]] & 15u;
      pres += count[row[i]] >> 4;
    }
    for (size_t j = 4 * full; j < (size_t)p->ntaxa; ++j) {
      const int st = fitcl__pat_get(p, k, j);
      obs += st != FITCL__MISSING;
      pres += st == FITCL__PRESENT;
    }
    observed += p->weight[k] * (double)obs;
    present += p->weight[k] * (double)pres;
  }
  double pi1 = observed > 0 ? present / observed : 0.5;
  if (pi1 < 0.01) pi1 = 0.01;
  if (pi1 > 0.99) pi1 = 0.99;
  double depth = 0;
  for (int i = 0; i < t->ntips; ++i)
    for (int v = i; t->parent[v] >= 0; v = t->parent[v]) depth += t->brlen[v];
  depth /= t->ntips;
  double rate = depth > 0 ? 1.0 / depth : 1.0;
  start->gain = pi1 * rate;
  start->loss = (1 - pi1) * rate;
  start->alpha = 1.0;
  start->effect = 1.0;
}

/* fitcl_fit_rates, and with `take` fitcl_fit_rates_take (*taken, which
 * then holds the data, is destroyed and set to NULL). */
static fitcl_status fit_rates(fitcl_context *ctx, const fitcl_data *data, fitcl_data **taken,
                              const fitcl_fit_options *opt, fitcl_fit_result *out) {
  static const fitcl_fit_options defaults;
  if (!ctx || !data || !out) return fitcl__fail(ctx, FITCL_ERR_NULL, "fitcl_fit_rates: NULL argument");
  fitcl__clear_error(ctx);
  if (!opt) opt = &defaults;
  if (opt->gamma_cats < 0 || opt->gamma_cats > 64)
    return fitcl__fail(ctx, FITCL_ERR_RANGE, "gamma categories must lie in 0..64, got %d",
                       opt->gamma_cats);
  fitcl_lik_options lo = {0};
  lo.gamma_cats = opt->gamma_cats;
  lo.no_condition = opt->no_condition;
  fitcl_lik *lik = NULL;
  fitcl__fit_start s;
  fitcl__fit_default_start(data, &s);
  fitcl_status st = taken ? fitcl_lik_create_take(ctx, taken, &lo, &lik)
                          : fitcl_lik_create(ctx, data, &lo, &lik);
  if (st != FITCL_OK) return st;
  fitcl__fit_model m = {opt->gamma_cats > 1, 0, 0};
  st = fitcl__fit_run(ctx, lik, m, &s, opt, out);
  fitcl_lik_destroy(lik);
  return st;
}

fitcl_status fitcl_fit_rates(fitcl_context *ctx, const fitcl_data *data,
                             const fitcl_fit_options *opt, fitcl_fit_result *out) {
  return fit_rates(ctx, data, NULL, opt, out);
}

fitcl_status fitcl_fit_rates_take(fitcl_context *ctx, fitcl_data **data,
                                  const fitcl_fit_options *opt, fitcl_fit_result *out) {
  fitcl_data *d = data ? *data : NULL;
  fitcl_status st = fit_rates(ctx, d, data, opt, out);
  /* Destroyed, also where the checks stopped before the handle took it. */
  if (data && *data) {
    fitcl_data_destroy(*data);
    *data = NULL;
  }
  return st;
}
