/* Discrete-gamma rate categories (Yang 1994), "mean" method: the K
 * categories split Gamma(shape alpha, rate alpha) into intervals of equal
 * probability 1/K, and each category's rate is the mean of the distribution
 * inside its interval,
 *
 *   r_c = K [ P(alpha+1, alpha x_c) - P(alpha+1, alpha x_{c-1}) ],
 *
 * where x_c is the c/K quantile and P the regularized lower incomplete gamma
 * function (x f(x) for Gamma(alpha, alpha) is the Gamma(alpha+1, alpha)
 * density).  The rates average exactly one up to rounding.
 *
 * The quantiles are computed to full double precision here (series and
 * continued fraction for P, then Halley steps on the inverse), rather than
 * with the Wilson-Hilferty approximation some packages use.
 *
 * Large alpha.  P(alpha+1, q) = P(alpha, q) - g(q), g(q) = q^alpha e^-q /
 * Gamma(alpha+1), and P(alpha, alpha x_c) = c/K, so
 *
 *   r_c = 1 + K [ g(alpha x_{c-1}) - g(alpha x_c) ]:
 *
 * the rates differ from 1 by terms of order 1/sqrt(alpha), which the
 * difference of two incomplete gamma values loses to cancellation (at
 * alpha = 1e9 the rates were wrong by 3e-3, at 1e11 some were negative).
 * From ASYMPTOTIC_ALPHA on, g at the quantiles comes from the
 * Cornish-Fisher expansion of the gamma quantile, x = 1 + z/sqrt(a) +
 * (z^2 - 1)/(3a) + (z^3 - 7z)/(36 a^1.5), z the normal quantile, put into
 * log g = -log(2 pi a)/2 - S(a) + a (log(1 + d) - d), S the Stirling
 * remainder:
 *
 *   g = phi(z) / sqrt(a) exp(z / (3 sqrt(a)) - (z^2 + 5) / (36 a)),
 *
 * with an error of order K phi(z) a^-2 in each rate: below 1e-9 at the
 * switch for K = 32 (1e-11 for K <= 8), and shrinking as alpha grows, where
 * the incomplete-gamma route only gets worse.  Past about 1e32 the rates
 * are 1 to the last bit. */
#include <float.h>
#include <math.h>
#include "core/util.h"
#include "fitcl.h"
#include "kernels/lik.h"
#include "core/stats.h"

/* Inverse of P(a, .) at probability p in (0, 1): the p-quantile of the
 * standard gamma distribution with shape a. */
static double invgammp(double p, double a) {
  const double a1 = a - 1.0, eps = 1e-15;
  double x, lna1 = 0, afac = 0, gln = lgamma(a);
  if (a > 1.0) {
    lna1 = log(a1);
    afac = exp(a1 * (lna1 - 1.0) - gln);
    const double pp = (p < 0.5) ? p : 1.0 - p;
    const double t = sqrt(-2.0 * log(pp));
    x = (2.30753 + t * 0.27061) / (1.0 + t * (0.99229 + t * 0.04481)) - t;
    if (p < 0.5) x = -x;
    x = fmax(1e-3, a * pow(1.0 - 1.0 / (9.0 * a) - x / (3.0 * sqrt(a)), 3));
  } else {
    const double t = 1.0 - a * (0.253 + a * 0.12);
    if (p < t) x = pow(p / t, 1.0 / a);
    else x = 1.0 - log(1.0 - (p - t) / (1.0 - t));
  }
  /* Halley iterations, kept inside (0, inf). */
  for (int j = 0; j < 100; ++j) {
    if (x <= 0.0) return 0.0;
    const double err = fitcl__gamma_p(a, x) - p;
    double t;
    if (a > 1.0) t = afac * exp(-(x - a1) + a1 * (log(x) - lna1));
    else t = exp(-x + a1 * log(x) - gln);
    if (t == 0.0) break;
    const double u = err / t;
    double dx = u / (1.0 - 0.5 * fmin(1.0, u * ((a - 1.0) / x - 1.0)));
    x -= dx;
    if (x <= 0.0) x = 0.5 * (x + dx);
    if (fabs(dx) < eps * x) break;
  }
  return x;
}

/* Where the asymptotic category means take over (see the top). */
#define ASYMPTOTIC_ALPHA 1e4

/* r_c = 1 + K (g_{c-1} - g_c) with g at the c/K quantile from the
 * expansion above (g_0 = g_K = 0). */
static void rates_asymptotic(double a, int k, double *r) {
  const double sa = sqrt(a);
  double prev = 0.0;
  for (int c = 0; c < k; ++c) {
    double g = 0.0;
    if (c < k - 1) {
      const double z = fitcl__normal_quantile((double)(c + 1) / k);
      g = exp(-0.5 * z * z + z / (3.0 * sa) - (z * z + 5.0) / (36.0 * a)) /
          (sqrt(2.0 * M_PI) * sa);
    }
    r[c] = 1.0 + k * (prev - g);
    prev = g;
  }
}

static void rates_mean(double alpha, int k, int asymptotic, double *r) {
  double prev = 0.0, sum = 0.0;
  if (asymptotic) {
    rates_asymptotic(alpha, k, r);
    for (int c = 0; c < k; ++c) sum += r[c];
  } else {
    for (int c = 0; c < k; ++c) {
      double cur;
      if (c == k - 1) {
        cur = 1.0;
      } else {
        const double xq = invgammp((double)(c + 1) / k, alpha); /* alpha * x_c */
        cur = fitcl__gamma_p(alpha + 1.0, xq);
      }
      r[c] = k * (cur - prev);
      prev = cur;
      sum += r[c];
    }
  }
  /* Remove the rounding drift so the mean is one to the last bit or so. */
  for (int c = 0; c < k; ++c) r[c] *= k / sum;
}

fitcl_status fitcl_gamma_rates(double alpha, int k, double *rates) {
  if (!rates) return FITCL_ERR_NULL;
  if (k < 1 || k > 64) return FITCL_ERR_RANGE;
  if (k == 1) {
    rates[0] = 1.0;
    return FITCL_OK;
  }
  if (!(alpha > 0.0) || !isfinite(alpha)) return FITCL_ERR_RANGE;
  rates_mean(alpha, k, alpha >= ASYMPTOTIC_ALPHA, rates);
  return FITCL_OK;
}

/* d log r_c / d log alpha by Richardson-extrapolated central differences in
 * log alpha.  Only these K scalar functions of one variable are
 * differentiated numerically (their exact derivative needs the derivative
 * of the incomplete gamma function with respect to its shape, which has no
 * closed form); the likelihood's own gradient stays analytic.  With step
 * 1e-3 the extrapolated error is O(h^4), around 1e-11 relative. */
fitcl_status fitcl__gamma_rates_deriv(double alpha, int k, double *rates, double *dlog) {
  fitcl_status st = fitcl_gamma_rates(alpha, k, rates);
  if (st != FITCL_OK) return st;
  for (int c = 0; c < k; ++c) dlog[c] = 0.0;
  if (k == 1) return FITCL_OK;
  double rp[64], rm[64], rp2[64], rm2[64];
  const double h = 1e-3, la = log(alpha);
  /* One method for all four points, so the difference never straddles
   * the switch between them. */
  const int asym = alpha >= ASYMPTOTIC_ALPHA;
  rates_mean(exp(la + h), k, asym, rp);
  rates_mean(exp(la - h), k, asym, rm);
  rates_mean(exp(la + h / 2), k, asym, rp2);
  rates_mean(exp(la - h / 2), k, asym, rm2);
  for (int c = 0; c < k; ++c) {
    const double d1 = (log(rp[c]) - log(rm[c])) / (2 * h);
    const double d2 = (log(rp2[c]) - log(rm2[c])) / h;
    dlog[c] = (4.0 * d2 - d1) / 3.0;
  }
  return FITCL_OK;
}
