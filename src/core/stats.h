/* Distribution functions for test statistics.  Internal. */
#ifndef FITCL_CORE_STATS_H
#define FITCL_CORE_STATS_H

#include <stddef.h>

/* Upper tail P(X >= x) of the chi-square distribution with df degrees of
 * freedom (df >= 1): the regularised upper incomplete gamma Q(df/2, x/2).
 * x <= 0 gives 1. */
double fitcl__chisq_sf(double x, double df);

/* Regularised incomplete gamma functions P(a, x) and Q(a, x) = 1 - P. */
double fitcl__gamma_p(double a, double x);
double fitcl__gamma_q(double a, double x);

/* One-sample Kolmogorov-Smirnov test of x[0..n) against Uniform(0, 1).
 * Sorts x in place.  Writes the statistic D to *d (may be NULL) and returns
 * the asymptotic p-value with Stephens' small-sample correction,
 * Q_KS((sqrt(n) + 0.12 + 0.11/sqrt(n)) D). */
double fitcl__ks_uniform(double *x, size_t n, double *d);

/* Kolmogorov distribution upper tail Q_KS(lambda). */
double fitcl__kolmogorov_q(double lambda);

/* Quantile of the standard normal distribution (Acklam's rational
 * approximation refined by one Halley step; |error| < 1e-12). */
double fitcl__normal_quantile(double p);

/* Regularised incomplete beta function I_x(a, b). */
double fitcl__beta_inc(double a, double b, double x);

/* Student's t distribution with df degrees of freedom: the CDF and the
 * quantile (bisection on the CDF to full precision). */
double fitcl__t_cdf(double t, double df);
double fitcl__t_quantile(double p, double df);

#endif
