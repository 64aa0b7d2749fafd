/* Chi-square and Kolmogorov-Smirnov tails.  See stats.h. */
#include "core/stats.h"

#include <math.h>
#include <stdlib.h>

/* Series for P(a, x), valid for x < a + 1 (Numerical Recipes 6.2).  The
 * loops run until the terms stop changing the sum, so the discrete-gamma
 * quantiles (kernels/gamma_rates.c) get full double precision. */
static double gamma_p_series(double a, double x) {
  double ap = a, sum = 1.0 / a, del = sum;
  for (int n = 0; n < 100000; ++n) {
    ap += 1;
    del *= x / ap;
    sum += del;
    if (fabs(del) < fabs(sum) * 1e-17) break;
  }
  return sum * exp(-x + a * log(x) - lgamma(a));
}

/* Continued fraction for Q(a, x), valid for x >= a + 1 (modified Lentz). */
static double gamma_q_cf(double a, double x) {
  const double tiny = 1e-300;
  double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (int i = 1; i < 100000; ++i) {
    double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (fabs(c) < tiny) c = tiny;
    d = 1 / d;
    double del = d * c;
    h *= del;
    if (fabs(del - 1) < 1e-17) break;
  }
  return exp(-x + a * log(x) - lgamma(a)) * h;
}

double fitcl__gamma_p(double a, double x) {
  if (x <= 0) return 0;
  return x < a + 1 ? gamma_p_series(a, x) : 1 - gamma_q_cf(a, x);
}

double fitcl__gamma_q(double a, double x) {
  if (x <= 0) return 1;
  return x < a + 1 ? 1 - gamma_p_series(a, x) : gamma_q_cf(a, x);
}

double fitcl__chisq_sf(double x, double df) {
  if (!(x > 0)) return 1.0;
  /* df = 1 has a closed form that keeps full relative precision far in the
   * tail, where 1 - P would cancel. */
  if (df == 1) return erfc(sqrt(0.5 * x));
  return fitcl__gamma_q(0.5 * df, 0.5 * x);
}

double fitcl__kolmogorov_q(double lambda) {
  if (lambda < 0.2) return 1.0;
  if (lambda < 1.18) {
    /* Small-lambda form (Jacobi theta transform) converges fast here. */
    double y = exp(-M_PI * M_PI / (8 * lambda * lambda)), s = 0;
    for (int k = 1; k < 50; k += 2) s += pow(y, (double)(k * k));
    return 1 - sqrt(2 * M_PI) / lambda * s;
  }
  double s = 0;
  for (int k = 1; k < 100; ++k) {
    double t = 2 * exp(-2 * k * k * lambda * lambda);
    s += (k % 2 ? t : -t);
    if (t < 1e-17) break;
  }
  return s < 0 ? 0 : (s > 1 ? 1 : s);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double fitcl__ks_uniform(double *x, size_t n, double *dout) {
  if (n == 0) {
    if (dout) *dout = 0;
    return 1;
  }
  qsort(x, n, sizeof *x, cmp_double);
  double d = 0;
  for (size_t i = 0; i < n; ++i) {
    double u = x[i] < 0 ? 0 : (x[i] > 1 ? 1 : x[i]);
    d = fmax(d, fmax((double)(i + 1) / (double)n - u, u - (double)i / (double)n));
  }
  if (dout) *dout = d;
  double sn = sqrt((double)n);
  return fitcl__kolmogorov_q((sn + 0.12 + 0.11 / sn) * d);
}

double fitcl__normal_quantile(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                             -2.759285104469687e+02, 1.383577518672690e+02,
                             -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                             -1.556989798598866e+02, 6.680131188771972e+01,
                             -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                             -2.400758277161838e+00, -2.549732539343734e+00,
                             4.374664141464968e+00, 2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                             2.445134137142996e+00, 3.754408661907416e+00};
  if (p <= 0) return -INFINITY;
  if (p >= 1) return INFINITY;
  double q, r, x;
  if (p < 0.02425) {
    q = sqrt(-2 * log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - 0.02425) {
    q = p - 0.5;
    r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    q = sqrt(-2 * log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  /* One Halley step against the exact CDF. */
  double e = 0.5 * erfc(-x / sqrt(2)) - p;
  double u = e * sqrt(2 * M_PI) * exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

/* Continued fraction of the incomplete beta function (modified Lentz),
 * valid for x < (a + 1) / (a + b + 2). */
static double beta_cf(double a, double b, double x) {
  const double tiny = 1e-300;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (fabs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 500; ++m) {
    double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (fabs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (fabs(c) < tiny) c = tiny;
    d = 1 / d;
    double del = d * c;
    h *= del;
    if (fabs(del - 1) < 1e-16) break;
  }
  return h;
}

double fitcl__beta_inc(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  double lf = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return exp(lf) * beta_cf(a, b, x) / a;
  return 1 - exp(lf) * beta_cf(b, a, 1 - x) / b;
}

double fitcl__t_cdf(double t, double df) {
  double tail = 0.5 * fitcl__beta_inc(df / 2, 0.5, df / (df + t * t));
  return t >= 0 ? 1 - tail : tail;
}

double fitcl__t_quantile(double p, double df) {
  if (!(p > 0 && p < 1) || !(df > 0)) return NAN;
  if (p == 0.5) return 0;
  if (p < 0.5) return -fitcl__t_quantile(1 - p, df);
  /* Bisection on the CDF, bracket from the normal quantile outward. */
  double lo = 0, hi = fmax(1, 2 * fitcl__normal_quantile(p));
  while (fitcl__t_cdf(hi, df) < p && hi < 1e300) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-15 * hi; ++i) {
    double mid = 0.5 * (lo + hi);
    if (fitcl__t_cdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}
