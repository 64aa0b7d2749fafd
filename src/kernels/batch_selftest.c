/* Known answer of the batched fits: three straight lines, fitted in one
 * batch from the origin, with known standard deviations; the parameters
 * are exact and the standard errors those of weighted linear regression. */
#include <math.h>
#include <stdio.h>

#include "kernels/selftest.h"

fitcl_status fitcl__selftest_batch(fitcl_context *ctx, fitcl_selftest_result *r) {
  enum { N = 3, n = 10 };
  const char *pn[] = {"a", "b"}, *vn[] = {"x"};
  double x[n], y[N * n], p[N * 2], se[N * 2];
  int status[N];
  for (int j = 0; j < n; ++j) x[j] = j;
  for (int i = 0; i < N; ++i)
    for (int j = 0; j < n; ++j) y[i * n + j] = (i + 1) * x[j] + (2 - i);
  const double p0[2] = {0, 0}, sigma = 0.5;
  fitcl_model *m = NULL;
  fitcl_status st = fitcl_model_compile(ctx, "a*x+b", pn, 2, vn, 1, &m);
  if (st != FITCL_OK) return st;
  fitcl_batch_data d = {0};
  d.nfits = N;
  d.npoints = n;
  d.y = (fitcl_batch_array){y, n, 1};
  d.x[0] = (fitcl_batch_array){x, 0, 1};
  d.sigma = (fitcl_batch_array){&sigma, 0, 0};
  d.p0 = p0;
  fitcl_batch_options o = {0};
  o.absolute_sigma = 1;
  o.xtol = 1e-14;
  fitcl_batch_outputs out = {p, se, NULL, NULL, NULL, status};
  st = fitcl_fit_batch(ctx, m, &d, &o, &out, NULL);
  fitcl_model_destroy(m);
  if (st != FITCL_OK) return st;
  /* Σ(x - x̄)² = 82.5 for x = 0..9. */
  const double se_a = sigma / sqrt(82.5), se_b = sigma * sqrt(1.0 / n + 4.5 * 4.5 / 82.5);
  double worst = 0;
  int ok = 1;
  for (int i = 0; i < N; ++i) {
    double want[4] = {i + 1, 2 - i, se_a, se_b}, got[4] = {p[2 * i], p[2 * i + 1], se[2 * i],
                                                            se[2 * i + 1]};
    for (int k = 0; k < 4; ++k) {
      double e = fabs(got[k] - want[k]) / fmax(fabs(want[k]), 1.0);
      worst = e > worst || isnan(e) ? (isnan(e) ? INFINITY : e) : worst;
    }
    ok &= status[i] >= FITCL_CURVEFIT_CONVERGED_FTOL && status[i] <= FITCL_CURVEFIT_CONVERGED_GTOL;
  }
  r->max_rel_error = worst;
  r->passed = ok && worst < 1e-12;
  snprintf(r->detail, sizeof r->detail, "3 lines in one batch: slope of the third %.17g "
           "(expected 3), stderr %.17g (expected %.17g)", p[4], se[4], se_a);
  return FITCL_OK;
}
