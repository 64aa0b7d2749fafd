/* Profile-likelihood interval for the retention effect theta: the values of
 * theta at which the log-likelihood, maximised over the other parameters,
 * falls chi2_1(0.95)/2 below its maximum. */
#include <math.h>

#include "core/context.h"
#include "phylo/fit.h"
#include "phylo/retention.h"

#define LOG_EFFECT_LO (-13.815510557964274) /* log 1e-6, the fit's bound */
#define LOG_EFFECT_HI (13.815510557964274)

typedef struct prof {
  fitcl_context *ctx;
  fitcl_lik *lik;
  fitcl_fit_options fo;
  int has_alpha;
  fitcl__fit_start warm;   /* last profile solution: the next fit starts there */
  double target;
  int fits;
} prof;

/* h(u) = max LL at theta = e^u, minus the target. */
static fitcl_status h_at(prof *P, double u, double *h) {
  fitcl_fit_result r;
  fitcl__fit_model m = {P->has_alpha, 0, exp(u)};
  fitcl_status st = fitcl__fit_run(P->ctx, P->lik, m, &P->warm, &P->fo, &r);
  if (st != FITCL_OK) return st;
  P->fits++;
  P->warm.gain = r.gain;
  P->warm.loss = r.loss;
  if (P->has_alpha) P->warm.alpha = r.alpha;
  *h = r.loglik - P->target;
  return FITCL_OK;
}

/* One end of the interval, on the side dir (-1 below theta-hat, +1 above). */
static fitcl_status one_side(prof *P, const fitcl_fit_result *alt, double se_log, int dir,
                             double *end) {
  double u0 = log(alt->effect);
  double bound = dir < 0 ? LOG_EFFECT_LO : LOG_EFFECT_HI;
  P->warm = (fitcl__fit_start){alt->gain, alt->loss, P->has_alpha ? alt->alpha : 1.0, 1.0};
  /* Bracket the crossing, starting from the Wald distance and doubling. */
  double step = isfinite(se_log) && se_log > 0 ? 1.96 * se_log : 0.5;
  double ua = u0, ha = alt->loglik - P->target, ub, hb;
  for (;;) {
    ub = u0 + dir * step;
    if ((dir < 0 && ub <= bound) || (dir > 0 && ub >= bound)) {
      ub = bound;
      fitcl_status st = h_at(P, ub, &hb);
      if (st != FITCL_OK) return st;
      if (hb > 0) {
        /* The likelihood never drops far enough: the interval is open on
         * this side (0 or infinity). */
        *end = dir < 0 ? 0.0 : INFINITY;
        return FITCL_OK;
      }
      break;
    }
    fitcl_status st = h_at(P, ub, &hb);
    if (st != FITCL_OK) return st;
    if (hb <= 0) break;
    ua = ub;
    ha = hb;
    step *= 2;
  }
  /* Illinois false position on [ua, ub] (h(ua) > 0 >= h(ub)): the end
   * kept from the previous step has its value halved, so neither end can
   * stall. */
  int found = 0;
  for (int it = 0; it < 40 && fabs(ub - ua) > 1e-6; ++it) {
    double u = ub - hb * (ub - ua) / (hb - ha), h;
    fitcl_status st = h_at(P, u, &h);
    if (st != FITCL_OK) return st;
    if (fabs(h) < 1e-7) {
      ub = u;
      found = 1;
      break;
    }
    if (h > 0) {
      ha = h;
      ua = u;
      hb *= 0.5;
    } else {
      hb = h;
      ub = u;
      ha *= 0.5;
    }
  }
  /* Either ub is within 1e-7 of the target, or the crossing lies in
   * [ua, ub], now narrower than 1e-6 in log theta. */
  *end = exp(found ? ub : 0.5 * (ua + ub));
  return FITCL_OK;
}

fitcl_status fitcl__retention_profile_ci(fitcl_context *ctx, fitcl_lik *lik,
                                         const fitcl_fit_options *fopt,
                                         const fitcl_fit_result *alt, double *lo, double *hi) {
  prof P = {0};
  P.ctx = ctx;
  P.lik = lik;
  P.fo = *fopt;
  P.fo.no_stderr = 1;
  P.has_alpha = fopt->gamma_cats > 1;
  /* chi-square(1) 95% quantile / 2. */
  P.target = alt->loglik - 0.5 * 3.841458820694124;
  double se_log = alt->se_effect / alt->effect;
  fitcl_status st = one_side(&P, alt, se_log, -1, lo);
  if (st == FITCL_OK) st = one_side(&P, alt, se_log, +1, hi);
  return st;
}
