/* Models with two data columns on OpenCL: every kernel variant (work-group
 * per block, work-item loop, double8), reading the caller's columns in
 * place and copying them into the device buffer, with weights, over
 * several chunks and buffer pieces, against a long-double reference built
 * from the model's own values and derivatives (the evaluator, not the
 * accumulation). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "fitcl.h"
#include "test_util.h"

#define N 30001
#define NP 5

typedef struct ref {
  long double jtj[NP * NP], jtr[NP], rss;
} ref;

static ref reference(fitcl_model *m, const double *p, const double *const *x, const double *y,
                     const double *sg) {
  ref r = {{0}, {0}, 0};
  double *f = malloc(N * sizeof *f), *J = malloc(N * NP * sizeof *J);
  cr_assert(f && J);
  cr_assert_eq(fitcl_model_eval(m, p, x, N, f, J), FITCL_OK);
  for (size_t i = 0; i < N; ++i) {
    long double w = 1.0L / sg[i], res = ((long double)y[i] - f[i]) * w;
    for (int k = 0; k < NP; ++k) {
      for (int l = 0; l < NP; ++l)
        r.jtj[k * NP + l] += (long double)J[i * NP + k] * w * J[i * NP + l] * w;
      r.jtr[k] += J[i * NP + k] * w * res;
    }
    r.rss += res * res;
  }
  free(f);
  free(J);
  return r;
}

Test(accum_columns, two_columns_every_opencl_variant_in_place_and_copied) {
  fitcl_test_backend be[2];
  if (fitcl_test_backends(be, 2) < 2) cr_skip_test("no OpenCL device with fp64");
  double *tau = malloc(N * sizeof *tau), *q = malloc(N * sizeof *q), *y = malloc(N * sizeof *y);
  double *sg = malloc(N * sizeof *sg);
  cr_assert(tau && q && y && sg);
  for (size_t i = 0; i < N; ++i) {
    tau[i] = 1e-3 * pow(1e4, (double)(i % 1000) / 1000.0);
    q[i] = 0.01 + 0.002 * (double)(i / 1000);
    y[i] = 1.0 + 0.25 * exp(-2 * q[i] * q[i] * (1500.0 * tau[i])) + 1e-3 * sin((double)i);
    sg[i] = 0.01 * (1.0 + 0.5 * cos((double)i));
  }
  const double p[NP] = {1.0, 0.24, 1400.0, 0.05, 10.0};
  const double *x[] = {tau, q};
  fitcl_context *cctx = fitcl_test_context("cpu");
  fitcl_model *cm = NULL;
  cr_assert_eq(fitcl_model_builtin(cctx, "xpcs_g2", &cm), FITCL_OK);
  ref r = reference(cm, p, x, y, sg);
  for (int variant = 1; variant <= 3; ++variant)
    for (int copy = 0; copy <= 1; ++copy) {
      fitcl__accum_ocl_variant = variant;
      fitcl__accum_ocl_zero_copy = copy ? 0 : -1;
      fitcl_context *ctx = fitcl_test_context(be[1].selector);
      fitcl_model *m = NULL;
      cr_assert_eq(fitcl_model_builtin(ctx, "xpcs_g2", &m), FITCL_OK);
      fitcl_accum_options o = {0};
      o.max_chunk = 10000; /* chunks of 7001 below are also cut into pieces */
      fitcl_accum *a = NULL;
      cr_assert_eq(fitcl_accum_create(ctx, m, &o, &a), FITCL_OK, "%s", fitcl_errmsg(ctx));
      fitcl_accum_sums s;
      cr_assert_eq(fitcl_accum_begin(a, p, 1), FITCL_OK);
      for (size_t off = 0; off < N; off += 7001) {
        size_t len = N - off < 7001 ? N - off : 7001;
        const double *xs[] = {tau + off, q + off};
        cr_assert_eq(fitcl_accum_chunk(a, xs, y + off, sg + off, len), FITCL_OK, "%s",
                     fitcl_errmsg(ctx));
      }
      cr_assert_eq(fitcl_accum_end(a, &s), FITCL_OK, "%s", fitcl_errmsg(ctx));
      char what[64];
      snprintf(what, sizeof what, "variant %d %s", variant, copy ? "copied" : "in place");
      for (int k = 0; k < NP; ++k) {
        for (int l = 0; l < NP; ++l)
          cr_expect(fitcl_test_close(s.jtj[k * NP + l], (double)r.jtj[k * NP + l], 1e-12),
                    "%s jtj[%d][%d] %.17g vs %.17Lg", what, k, l, s.jtj[k * NP + l],
                    r.jtj[k * NP + l]);
        /* Jᵀr cancels near the optimum: relative to sqrt(JᵀJ_kk * Σr²). */
        double scale = sqrt((double)r.jtj[k * NP + k] * (double)r.rss);
        cr_expect(fabs(s.jtr[k] - (double)r.jtr[k]) <= 1e-12 * scale, "%s jtr[%d]", what, k);
      }
      cr_expect(fitcl_test_close(s.rss, (double)r.rss, 1e-12), "%s rss", what);
      fitcl_accum_destroy(a);
      fitcl_model_destroy(m);
      fitcl_context_destroy(ctx);
    }
  fitcl__accum_ocl_variant = 0;
  fitcl__accum_ocl_zero_copy = -1;
  fitcl_model_destroy(cm);
  fitcl_context_destroy(cctx);
  free(tau);
  free(q);
  free(y);
  free(sg);
}
