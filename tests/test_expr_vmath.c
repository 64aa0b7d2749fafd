/* The pthreads evaluator's exp and log: arguments in the common range take
 * faster forms, the others (subnormal results or arguments, overflow, zero,
 * negative, infinite, NaN) the general ones.  Checked against libm (about
 * one ulp), for the special values, and for independence from the rest of
 * the block (a value depends on its argument only). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "test_util.h"

#define NPTS 256 /* one evaluator block */

/* f = expr(x) (a = 1) for every x, through the expression compiler. */
static void eval_exp(fitcl_context *ctx, const char *expr, const double *x, size_t n, double *f) {
  const char *pn[] = {"a"};
  const char *vars[] = {"x"};
  fitcl_model *m = NULL;
  cr_assert_eq(fitcl_model_compile(ctx, expr, pn, 1, vars, 1, &m), FITCL_OK, "%s",
               fitcl_errmsg(ctx));
  const double a = 1.0;
  const double *xc[] = {x};
  cr_assert_eq(fitcl_model_eval(m, &a, xc, n, f, NULL), FITCL_OK);
  fitcl_model_destroy(m);
}

static double ulps(double got, double want) {
  if (got == want) return 0.0;
  double u = nextafter(fabs(want), INFINITY) - fabs(want);
  return fabs(got - want) / u;
}

static uint64_t bits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

Test(expr_vmath, exp_in_range_and_general_forms_agree_bitwise) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  /* exp(x), exp(a*x) and exp(-(a*x)) are separate evaluator instructions. */
  const char *exprs[] = {"exp(x)", "exp(a*x)", "exp(-(a*x))"};
  srand(12345);
  for (size_t e = 0; e < sizeof exprs / sizeof exprs[0]; ++e) {
    double x[NPTS], fin[NPTS], fgen[NPTS];
    for (int rep = 0; rep < 40; ++rep) {
      for (int i = 0; i < NPTS; ++i) x[i] = -707.9 + 1416.8 * ((double)rand() / RAND_MAX);
      x[0] = 0.0;
      x[1] = -707.99;
      x[2] = 708.99;
      x[3] = 1e-300;
      eval_exp(ctx, exprs[e], x, NPTS, fin); /* every argument in range */
      x[NPTS - 1] = -745.0; /* one argument out of range: the general form */
      eval_exp(ctx, exprs[e], x, NPTS, fgen);
      for (int i = 0; i < NPTS - 1; ++i) {
        cr_assert_eq(bits(fin[i]), bits(fgen[i]), "%s at %.17g: %a vs %a", exprs[e], x[i], fin[i],
                     fgen[i]);
        double arg = e == 2 ? -x[i] : x[i];
        cr_assert(ulps(fin[i], exp(arg)) <= 1.0, "%s at %.17g: %.17g vs libm %.17g", exprs[e],
                  x[i], fin[i], exp(arg));
      }
    }
  }
  fitcl_context_destroy(ctx);
}

Test(expr_vmath, exp_extremes_in_a_block) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  double x[NPTS], f[NPTS];
  for (int i = 0; i < NPTS; ++i) x[i] = -760.0 + 1480.0 * i / (NPTS - 1);
  x[10] = NAN;
  x[11] = INFINITY;
  x[12] = -INFINITY;
  eval_exp(ctx, "exp(x)", x, NPTS, f);
  for (int i = 0; i < NPTS; ++i) {
    double want = exp(x[i]);
    if (isnan(want)) {
      cr_assert(isnan(f[i]), "exp(%g) = %g, want NaN", x[i], f[i]);
    } else if (want == 0.0 || isinf(want)) {
      cr_assert_eq(f[i], want, "exp(%.17g) = %.17g, want %.17g", x[i], f[i], want);
    } else if (want < 2.2250738585072014e-308) {
      /* Subnormal results: absolute error within one unit of the last
       * place of the smallest subnormal. */
      cr_assert(fabs(f[i] - want) <= 4.9406564584124654e-324, "exp(%.17g) = %a, want %a", x[i],
                f[i], want);
    } else {
      cr_assert(ulps(f[i], want) <= 1.0, "exp(%.17g) = %.17g, want %.17g", x[i], f[i], want);
    }
  }
  fitcl_context_destroy(ctx);
}

Test(expr_vmath, log_against_libm_and_independent_of_the_block) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  double x[NPTS], fa[NPTS], fb[NPTS];
  srand(777);
  for (int rep = 0; rep < 200; ++rep) {
    for (int i = 0; i < NPTS; ++i) {
      double u = (double)rand() / RAND_MAX;
      /* Mostly near 1 (where the reduction switches at sqrt(2)), some over
       * the whole normal range. */
      x[i] = i % 4 ? 0.5 + 1.5 * u : exp(-700.0 + 1400.0 * u);
    }
    x[0] = 1.0;
    x[1] = 2.2250738585072014e-308;
    x[2] = 1.7976931348623157e308;
    eval_exp(ctx, "log(x)", x, NPTS, fa);
    x[NPTS - 1] = -1.0; /* a special value elsewhere in the block */
    eval_exp(ctx, "log(x)", x, NPTS, fb);
    for (int i = 0; i < NPTS - 1; ++i) {
      cr_assert_eq(bits(fa[i]), bits(fb[i]), "log(%.17g): %a vs %a", x[i], fa[i], fb[i]);
      cr_assert(ulps(fa[i], log(x[i])) <= 1.0, "log(%.17g) = %.17g vs libm %.17g", x[i], fa[i],
                log(x[i]));
    }
    cr_assert(isnan(fb[NPTS - 1]));
  }
  fitcl_context_destroy(ctx);
}

Test(expr_vmath, log_special_values) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  double x[NPTS], f[NPTS];
  for (int i = 0; i < NPTS; ++i) x[i] = 0.25 + i;
  x[5] = 0.0;
  x[6] = -0.0;
  x[7] = -2.0;
  x[8] = INFINITY;
  x[9] = -INFINITY;
  x[10] = NAN;
  x[11] = 4.9406564584124654e-324;
  x[12] = 1e-310;
  eval_exp(ctx, "log(x)", x, NPTS, f);
  cr_assert(isinf(f[5]) && f[5] < 0);
  cr_assert(isinf(f[6]) && f[6] < 0);
  cr_assert(isnan(f[7]));
  cr_assert(isinf(f[8]) && f[8] > 0);
  cr_assert(isnan(f[9]));
  cr_assert(isnan(f[10]));
  for (int i = 11; i <= 12; ++i)
    cr_assert(ulps(f[i], log(x[i])) <= 1.0, "log(%g) = %.17g vs %.17g", x[i], f[i], log(x[i]));
  for (int i = 13; i < NPTS; ++i) cr_assert(ulps(f[i], log(x[i])) <= 1.0);
  fitcl_context_destroy(ctx);
}
