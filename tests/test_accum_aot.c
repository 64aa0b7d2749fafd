/* The built-in models compiled ahead of time (src/kernels/aot.h) on the
 * pthreads path: every built-in has its code, it is found by program (not
 * by name), it gives the block evaluator's sums on every path of the
 * driver (linear loss summed in the compiled loop, robust losses, weights,
 * partial blocks, cost-only passes), and blocks whose arguments leave the
 * fast range go to the evaluator unchanged. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "kernels/aot.h"
#include "kernels/model.h"
#include "test_util.h"

static fitcl_context *cpu_context(void) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  cr_assert(ctx);
  return ctx;
}

static void pass(fitcl_context *ctx, const fitcl_model *m, int aot, const fitcl_accum_options *o,
                 const double *p, int jac, const double *const *x, const double *y,
                 const double *sg, size_t n, fitcl_accum_sums *out, int *precompiled) {
  fitcl__aot_disable = !aot;
  fitcl_accum *a = NULL;
  cr_assert_eq(fitcl_accum_create(ctx, m, o, &a), FITCL_OK, "%s", fitcl_errmsg(ctx));
  fitcl__aot_disable = 0;
  fitcl_accum_info info;
  cr_assert_eq(fitcl_accum_get_info(a, &info), FITCL_OK);
  *precompiled = info.precompiled;
  cr_assert_eq(fitcl_accum_begin(a, p, jac), FITCL_OK);
  cr_assert_eq(fitcl_accum_chunk(a, x, y, sg, n), FITCL_OK, "%s", fitcl_errmsg(ctx));
  cr_assert_eq(fitcl_accum_end(a, out), FITCL_OK);
  fitcl_accum_destroy(a);
}

Test(aot, every_builtin_is_compiled_and_found_by_program) {
  fitcl_context *ctx = cpu_context();
  for (size_t i = 0; fitcl_model_builtin_name(i); ++i) {
    const char *name = fitcl_model_builtin_name(i);
    fitcl_model *m = NULL;
    cr_assert_eq(fitcl_model_builtin(ctx, name, &m), FITCL_OK);
    const fitcl__aot_kernel *kfj = fitcl__aot_find(&m->prog_fj), *kf = fitcl__aot_find(&m->prog_f);
    cr_assert(kfj && kf, "%s has no compiled kernel", name);
    char want[96];
    snprintf(want, sizeof want, "%s/fj", name);
    cr_expect_str_eq(kfj->name, want);
    snprintf(want, sizeof want, "%s/f", name);
    cr_expect_str_eq(kf->name, want);
    fitcl_model_destroy(m);
  }
  /* The same expression under other names is the same program. */
  const char *P[] = {"A", "k", "base"}, *V[] = {"time"};
  fitcl_model *m = NULL;
  cr_assert_eq(fitcl_model_compile(ctx, "A*exp(-k*time)+base", P, 3, V, 1, &m), FITCL_OK);
  const fitcl__aot_kernel *k = fitcl__aot_find(&m->prog_fj);
  cr_assert(k);
  cr_expect_str_eq(k->name, "exp_decay/fj");
  fitcl_model_destroy(m);
  /* Another expression is not. */
  cr_assert_eq(fitcl_model_compile(ctx, "A*exp(-k*time)+base*time", P, 3, V, 1, &m), FITCL_OK);
  cr_expect_null(fitcl__aot_find(&m->prog_fj));
  cr_expect_null(fitcl__aot_find(&m->prog_f));
  fitcl_model_destroy(m);
  fitcl_context_destroy(ctx);
}

static void expect_sums_close(const fitcl_accum_sums *a, const fitcl_accum_sums *b, double tol,
                              const char *what) {
  int np = a->nparams;
  cr_assert_eq(np, b->nparams);
  for (int i = 0; i < np * np; ++i)
    cr_expect(fitcl_test_close(a->jtj[i], b->jtj[i], tol), "%s jtj[%d]: %.17g vs %.17g", what, i,
              a->jtj[i], b->jtj[i]);
  for (int i = 0; i < np; ++i)
    cr_expect(fitcl_test_close(a->jtr[i], b->jtr[i], tol), "%s jtr[%d]: %.17g vs %.17g", what, i,
              a->jtr[i], b->jtr[i]);
  cr_expect(fitcl_test_close(a->cost, b->cost, tol), "%s cost: %.17g vs %.17g", what, a->cost, b->cost);
  cr_expect(fitcl_test_close(a->rss, b->rss, tol), "%s rss", what);
  cr_expect_eq(a->points, b->points, "%s points", what);
}

Test(aot, every_builtin_matches_the_evaluator) {
  fitcl_context *ctx = cpu_context();
  /* Not a multiple of the block, so the last block is partial. */
  size_t n = 5 * 256 + 77;
  double *x0 = malloc(n * sizeof *x0), *x1 = malloc(n * sizeof *x1), *y = malloc(n * sizeof *y),
         *sg = malloc(n * sizeof *sg);
  for (size_t i = 0; i < n; ++i) {
    x0[i] = 0.05 + 4.0 * (double)i / (double)n;
    x1[i] = 0.1 + 0.01 * (double)(i % 5);
    y[i] = 1.0 + 0.5 * sin(3.0 * x0[i]) + (i % 97 == 0 ? 3.0 : 0.0);
    sg[i] = 0.5 + 0.1 * (double)(i % 3);
  }
  const double *x[] = {x0, x1};
  const double p[5] = {1.1, 0.9, 0.7, 0.3, 0.2};
  const fitcl_loss losses[] = {FITCL_LOSS_LINEAR, FITCL_LOSS_HUBER};
  for (size_t mi = 0; fitcl_model_builtin_name(mi); ++mi) {
    const char *name = fitcl_model_builtin_name(mi);
    fitcl_model *m = NULL;
    cr_assert_eq(fitcl_model_builtin(ctx, name, &m), FITCL_OK);
    for (int li = 0; li < 2; ++li)
      for (int w = 0; w < 2; ++w)
        for (int jac = 0; jac < 2; ++jac) {
          fitcl_accum_options o = {0};
          o.loss = losses[li];
          o.f_scale = 0.4;
          fitcl_accum_sums got, ref;
          int pre_on, pre_off;
          pass(ctx, m, 1, &o, p, jac, x, y, w ? sg : NULL, n, &got, &pre_on);
          pass(ctx, m, 0, &o, p, jac, x, y, w ? sg : NULL, n, &ref, &pre_off);
          cr_expect_eq(pre_on, 1, "%s: not precompiled", name);
          cr_expect_eq(pre_off, 0);
          char what[128];
          snprintf(what, sizeof what, "%s loss %d weights %d jac %d", name, li, w, jac);
          /* Only the contraction of multiply-adds may differ. */
          expect_sums_close(&got, &ref, 1e-13, what);
        }
    fitcl_model_destroy(m);
  }
  free(x0);
  free(x1);
  free(y);
  free(sg);
  fitcl_context_destroy(ctx);
}

/* One full block with one argument outside the fast range: the compiled
 * code gives the block up and the evaluator's result comes out, bit for
 * bit. */
static void expect_fallback_identical(const char *model, const double *p, double x_special) {
  fitcl_context *ctx = cpu_context();
  fitcl_model *m = NULL;
  cr_assert_eq(fitcl_model_builtin(ctx, model, &m), FITCL_OK);
  size_t n = 256;
  double x0[256], y[256];
  for (size_t i = 0; i < n; ++i) {
    x0[i] = 0.1 + 0.01 * (double)i;
    y[i] = 1.0 + 0.1 * (double)(i % 7);
  }
  x0[100] = x_special;
  const double *x[] = {x0};
  for (int jac = 0; jac < 2; ++jac) {
    fitcl_accum_sums got, ref;
    int pre;
    pass(ctx, m, 1, NULL, p, jac, x, y, NULL, n, &got, &pre);
    cr_expect_eq(pre, 1);
    pass(ctx, m, 0, NULL, p, jac, x, y, NULL, n, &ref, &pre);
    cr_expect(isfinite(got.cost), "%s: cost %g", model, got.cost);
    /* The same bits (NaN included: x^b log x at x = 0 is NaN either way). */
    size_t nj = (size_t)got.nparams * (size_t)got.nparams * sizeof(double);
    cr_expect_eq(got.points, ref.points);
    cr_expect_eq(memcmp(got.jtj, ref.jtj, nj), 0, "%s jac %d: jtj differs", model, jac);
    cr_expect_eq(memcmp(got.jtr, ref.jtr, (size_t)got.nparams * sizeof(double)), 0, "%s jtr", model);
    cr_expect_eq(memcmp(&got.cost, &ref.cost, sizeof got.cost), 0, "%s jac %d: cost differs", model, jac);
    cr_expect_eq(memcmp(&got.rss, &ref.rss, sizeof got.rss), 0, "%s rss", model);
  }
  fitcl_model_destroy(m);
  fitcl_context_destroy(ctx);
}

Test(aot, out_of_range_blocks_use_the_evaluator) {
  /* exp(-b*x) with b*x = 740: a subnormal the fast exp does not form. */
  const double pe[3] = {1.5, 2.0, 0.5};
  expect_fallback_identical("exp_decay", pe, 370.0);
  /* x^b at x = 0: pow's own rule, not exp(b log x). */
  const double pp[3] = {1.0, 1.5, 0.2};
  expect_fallback_identical("power_law", pp, 0.0);
}
