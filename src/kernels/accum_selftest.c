/* Known-answer self-test of the Jacobian accumulation on the context's
 * backend: a straight line has closed-form sums. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "kernels/selftest.h"
#include "fitcl.h"

/* f = a*x + b at a = b = 0 with x_i = i, y_i = 1, sigma_i = 2 (i < n):
 * J_i = (x_i, 1)/2, r_i = 1/2, so JᵀJ = [[Σx², Σx], [Σx, n]]/4,
 * Jᵀr = [Σx, n]/4, Σr² = n/4, cost = n/8, all exact in double. */
fitcl_status fitcl__selftest_accum(fitcl_context *ctx, fitcl_selftest_result *r) {
  const size_t n = 1000;
  const double N = (double)n;
  const char *pn[] = {"a", "b"};
  const char *vn[] = {"x"};
  fitcl_model *m = NULL;
  fitcl_accum *a = NULL;
  double *buf = malloc(3 * n * sizeof *buf);
  fitcl_status st = FITCL_ERR_NOMEM;
  if (!buf) goto fail;
  for (size_t i = 0; i < n; ++i) {
    buf[i] = (double)i;
    buf[n + i] = 1.0;
    buf[2 * n + i] = 2.0;
  }
  st = fitcl_model_compile(ctx, "a*x+b", pn, 2, vn, 1, &m);
  if (st == FITCL_OK) st = fitcl_accum_create(ctx, m, NULL, &a);
  const double p[2] = {0.0, 0.0};
  const double *x[1] = {buf};
  fitcl_accum_sums s;
  if (st == FITCL_OK) st = fitcl_accum_begin(a, p, 1);
  if (st == FITCL_OK) st = fitcl_accum_chunk(a, x, buf + n, buf + 2 * n, 400);
  if (st == FITCL_OK) {
    const double *x2[1] = {buf + 400};
    st = fitcl_accum_chunk(a, x2, buf + n + 400, buf + 2 * n + 400, n - 400);
  }
  if (st == FITCL_OK) st = fitcl_accum_end(a, &s);
  if (st != FITCL_OK) goto fail;
  double sx = N * (N - 1) / 2, sxx = (N - 1) * N * (2 * N - 1) / 6;
  double want[7] = {sxx / 4, sx / 4, N / 4, sx / 4, N / 4, N / 4, N / 8};
  double got[7] = {s.jtj[0], s.jtj[1], s.jtj[3], s.jtr[0], s.jtr[1], s.rss, s.cost};
  double worst = 0;
  for (int i = 0; i < 7; ++i) {
    double e = fabs(got[i] - want[i]) / fabs(want[i]);
    if (e > worst || isnan(e)) worst = isnan(e) ? INFINITY : e;
  }
  r->max_rel_error = worst;
  /* Every term is exact in float, and its products in double or in a
   * compensated float pair; single precision sums in float, so n terms
   * may lose n half-ulps of float. */
  fitcl_accum_info info;
  fitcl_accum_get_info(a, &info);
  double tol = info.precision && !strcmp(info.precision, "single") ? N * FLT_EPSILON / 2 : 1e-14;
  r->passed = worst < tol && s.points == n;
  snprintf(r->detail, sizeof r->detail, "line fit over %zu points in 2 chunks: JtJ[0][0] %.17g "
           "(expected %.17g)", n, got[0], want[0]);
fail:
  fitcl_accum_destroy(a);
  fitcl_model_destroy(m);
  free(buf);
  return st;
}
