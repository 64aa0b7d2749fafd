/* Per-device tuning (kernels/tune.c): a tuning run picks among the
 * candidates it timed, stores the choice for the device, and later
 * contexts on that device load it; a record that does not parse is
 * ignored; the likelihood gives the same bits for every tile, and the
 * accumulation variants, which sum a block's points in different orders,
 * agree to rounding; both against the pthreads backend as well. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "core/context.h"
#include "device/backend.h"
#include "fitcl.h"
#include "kernels/lik.h"
#include "kernels/selftest.h"
#include "kernels/tune.h"
#include "test_util.h"

static const char *opencl_selector(void) {
  static fitcl_test_backend be[2];
  if (fitcl_test_backends(be, 2) < 2) return NULL;
  return be[1].selector;
}

static fitcl_context *context_in(const char *selector, const char *cache_dir, int readonly) {
  fitcl_context_options o = {0};
  o.device = selector;
  o.cache_dir = cache_dir;
  o.cache = readonly ? FITCL_CACHE_READONLY : FITCL_CACHE_ON;
  fitcl_context *ctx = NULL;
  cr_assert_eq(fitcl_context_create(&o, &ctx), FITCL_OK, "%s", fitcl_errmsg(ctx));
  return ctx;
}

Test(tune, nothing_to_tune_on_pthreads) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  fitcl_tuning_report r;
  cr_expect_eq(fitcl_context_tune(ctx, &r), FITCL_ERR_UNSUPPORTED);
  cr_expect(strstr(fitcl_errmsg(ctx), "nothing") || strstr(fitcl_errmsg(ctx), "no kernel layouts"),
            "%s", fitcl_errmsg(ctx));
  fitcl_context_destroy(ctx);
}

Test(tune, choice_is_stored_and_loaded) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device with fp64");
  char *dir = fitcl_test_tmpdir();
  fitcl_context *ctx = context_in(ocl, dir, 0);
  cr_expect_eq(ctx->backend->tuning.accum_variant, 0, "nothing stored yet");
  fitcl_tuning_report r;
  cr_assert_eq(fitcl_context_tune(ctx, &r), FITCL_OK, "%s", fitcl_errmsg(ctx));
  cr_expect_geq(r.accum_candidates, 2);
  cr_expect_eq(r.lik_candidates, 6);
  int found = 0;
  for (int i = 0; i < r.accum_candidates; ++i) {
    cr_expect(isfinite(r.accum_ms[i]) && r.accum_ms[i] > 0, "accum ms %g", r.accum_ms[i]);
    found |= r.accum_variants[i] == r.accum_variant;
  }
  cr_expect(found, "chosen variant %d among the candidates", r.accum_variant);
  found = 0;
  for (int i = 0; i < r.lik_candidates; ++i) {
    cr_expect(isfinite(r.lik_ms[i]) && r.lik_ms[i] > 0, "lik ms %g", r.lik_ms[i]);
    found |= r.lik_tiles[i] == r.lik_tile;
  }
  cr_expect(found, "chosen tile %d among the candidates", r.lik_tile);
  cr_expect_eq(r.stored, 1);
  cr_expect_eq(ctx->backend->tuning.accum_variant, r.accum_variant);
  /* The fp64 ratio: both passes timed, where the device has fp64. */
  if (ctx->backend->caps.fp64) {
    cr_expect(r.accum_double_ms > 0 && r.accum_mixed_ms > 0, "double %g ms, mixed %g ms",
              r.accum_double_ms, r.accum_mixed_ms);
    cr_expect_float_eq(r.fp64_ratio, r.accum_mixed_ms / r.accum_double_ms, 1e-12);
  } else {
    cr_expect_eq(r.fp64_ratio, 0);
  }
  fitcl_context_destroy(ctx);

  fitcl_context *again = context_in(ocl, dir, 0);
  cr_expect_eq(again->backend->tuning.accum_variant, r.accum_variant, "loaded by a new context");
  cr_expect_eq(again->backend->tuning.lik_tile, r.lik_tile);
  fitcl_context_destroy(again);

  /* Read-only: tuned for the context, not stored. */
  fitcl_context *ro = context_in(ocl, dir, 1);
  cr_assert_eq(fitcl_context_tune(ro, &r), FITCL_OK, "%s", fitcl_errmsg(ro));
  cr_expect_eq(r.stored, 0);
  fitcl_context_destroy(ro);
  fitcl_test_rmtree(dir);
  free(dir);
}

Test(tune, a_record_that_does_not_parse_is_ignored) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device with fp64");
  char *dir = fitcl_test_tmpdir();
  const char *bad[] = {"accum_variant 9\nlik_tile 1\n", "accum_variant 1\nlik_tile 3\n",
                       "lik_tile 1\n", "accum_variant 1\nlik_tile 1\nextra\n", "",
                       "accum_variant 1\nlik_tile 1\nfp64_ratio -1\n",
                       "accum_variant 1\nlik_tile 1\nfp64_ratio 0.5\nextra\n"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i) {
    fitcl_context *ctx = context_in(ocl, dir, 0);
    char key[1200], why[256];
    fitcl__tuning_key(ctx, key, sizeof key);
    cr_assert_eq(fitcl__cache_put_meta(ctx->cache, key, bad[i], strlen(bad[i]), why, sizeof why),
                 FITCL_OK, "%s", why);
    fitcl_context_destroy(ctx);
    fitcl_context *again = context_in(ocl, dir, 0);
    cr_expect_eq(again->backend->tuning.accum_variant, 0, "record %zu ignored", i);
    cr_expect_eq(again->backend->tuning.lik_tile, 0, "record %zu ignored", i);
    fitcl_context_destroy(again);
  }
  fitcl_test_rmtree(dir);
  free(dir);
}

/* A stored fp64 ratio decides the default precision of a device with fp64
 * (double from 1/4 up, else mixed), and only where nobody asked for one. */
Test(tune, stored_fp64_ratio_sets_the_default_precision) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device");
  char *dir = fitcl_test_tmpdir();
  const char *records[] = {"accum_variant 2\nlik_tile 1\nfp64_ratio 0.0312\n",
                           "accum_variant 2\nlik_tile 1\nfp64_ratio 0.25\n"};
  const char *want[] = {"mixed", "double"};
  for (int i = 0; i < 2; ++i) {
    fitcl_context *ctx = context_in(ocl, dir, 0);
    if (!ctx->backend->caps.fp64) {
      fitcl_context_destroy(ctx);
      fitcl_test_rmtree(dir);
      free(dir);
      cr_skip_test("the OpenCL device has no fp64: no ratio applies");
    }
    char key[1200], why[256];
    fitcl__tuning_key(ctx, key, sizeof key);
    cr_assert_eq(fitcl__cache_put_meta(ctx->cache, key, records[i], strlen(records[i]), why,
                                       sizeof why), FITCL_OK, "%s", why);
    fitcl_context_destroy(ctx);
    fitcl_context *again = context_in(ocl, dir, 0);
    fitcl_context_info info;
    fitcl_context_get_info(again, &info);
    cr_expect_str_eq(info.precision, want[i], "record %d", i);
    cr_expect_eq(again->backend->tuning.accum_variant, 2, "record %d parsed", i);
    /* The likelihood runs in the precision the record chose: turned to
     * mixed after the context opened in double, it builds the float
     * program at first use. */
    fitcl_selftest_result r;
    memset(&r, 0, sizeof r);
    cr_expect_eq(fitcl__selftest_gainloss(again, &r), FITCL_OK, "record %d: %s", i,
                 fitcl_errmsg(again));
    cr_expect(r.passed, "record %d: %s", i, r.detail);
    cr_expect(i == 0 ? r.max_rel_error > 1e-13 : r.max_rel_error < 1e-13,
              "record %d: error %.3g: not in the record's precision", i, r.max_rel_error);
    fitcl_context_destroy(again);
    /* A precision asked for wins over the record. */
    setenv("FITCL_PRECISION", i ? "single" : "double", 1);
    again = context_in(ocl, dir, 0);
    fitcl_context_get_info(again, &info);
    cr_expect_str_eq(info.precision, i ? "single" : "double", "record %d", i);
    fitcl_context_destroy(again);
    unsetenv("FITCL_PRECISION");
  }
  fitcl_test_rmtree(dir);
  free(dir);
}

/* A random 12-tip caterpillar tree and 3000 patterns with missing cells. */
typedef struct small_lik {
  int child_start[24], child[22];
  double brlen[23];
  uint8_t state[3000 * 12];
} small_lik;

static void make_small(small_lik *q) {
  int node = 12, prev = 0, nc = 0;
  for (int v = 0; v < 12; ++v) q->child_start[v] = 0;
  for (int t = 1; t < 12; ++t) {
    q->child_start[node] = nc;
    q->child[nc++] = prev;
    q->child[nc++] = t;
    prev = node++;
  }
  q->child_start[node] = nc;
  for (int v = 0; v < 23; ++v) q->brlen[v] = 0.02 + 0.03 * (v % 5);
  unsigned long long z = 77;
  for (size_t i = 0; i < sizeof q->state; ++i) {
    z = z * 6364136223846793005ull + 1442695040888963407ull;
    unsigned u = (unsigned)(z >> 60);
    q->state[i] = u < 7 ? 0 : u < 15 ? 1 : 2; /* absent, present, missing */
  }
}

static void eval_small(fitcl_context *ctx, const small_lik *q, double *ll, double *grad) {
  const fitcl__lik_tree t = {12, 23, q->child_start, q->child, q->brlen, NULL};
  const fitcl__lik_patterns pat = {12, 3000, q->state, NULL, NULL, 1, 0, NULL, NULL, 0};
  fitcl_lik_options o = {0};
  o.gamma_cats = 4;
  fitcl_lik *lik = NULL;
  cr_assert_eq(fitcl__lik_open(ctx, &t, &pat, &o, &lik), FITCL_OK, "%s", fitcl_errmsg(ctx));
  const fitcl_gl_params p = {0.3, 0.8, 0.7, NULL, NULL};
  cr_assert_eq(fitcl_lik_eval(lik, &p, ll, grad), FITCL_OK, "%s", fitcl_errmsg(ctx));
  fitcl_lik_destroy(lik);
}

Test(tune, likelihood_tiles_give_the_same_bits) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device with fp64");
  small_lik *q = malloc(sizeof *q);
  make_small(q);
  double ref_ll, ref_grad[8] = {0};
  fitcl_context *cpu = fitcl_test_context("cpu");
  eval_small(cpu, q, &ref_ll, ref_grad);
  fitcl_context_destroy(cpu);
  fitcl_context *ctx = fitcl_test_context(ocl);
  const int tiles[] = {1, 2, 4, 8, 16, 32};
  double ll1 = 0, grad1[8] = {0};
  for (size_t i = 0; i < 6; ++i) {
    ctx->backend->tuning.lik_tile = tiles[i];
    double ll, grad[8] = {0};
    eval_small(ctx, q, &ll, grad);
    if (i == 0) {
      ll1 = ll;
      memcpy(grad1, grad, sizeof grad);
      cr_expect(fitcl_test_close(ll, ref_ll, 1e-13), "tile 1: %.17g vs cpu %.17g", ll, ref_ll);
      for (int k = 0; k < 4; ++k)
        cr_expect(fitcl_test_close(grad[k], ref_grad[k], 1e-11), "tile 1: gradient %d vs cpu", k);
    }
    cr_expect_eq(memcmp(&ll, &ll1, sizeof ll), 0, "tile %d: %.17g vs tile 1 %.17g", tiles[i], ll,
                 ll1);
    cr_expect_eq(memcmp(grad, grad1, sizeof grad), 0, "tile %d: gradient vs tile 1", tiles[i]);
  }
  fitcl_context_destroy(ctx);
  free(q);
}

Test(tune, accumulation_variants_agree) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device with fp64");
  const size_t n = 40001;
  double *x = malloc(2 * n * sizeof *x);
  for (size_t i = 0; i < n; ++i) {
    x[i] = 8.0 * (double)i / (double)n;
    x[n + i] = exp(-0.4 * x[i]) + 0.3 * exp(-1.7 * x[i]) + 1e-3 * (double)(i % 11);
  }
  const char *pn[] = {"a", "b", "c", "d"}, *vn[] = {"x"};
  const double p[4] = {1.1, 0.5, 0.2, 1.5};
  fitcl_accum_sums s[4];
  fitcl_context *ctx = fitcl_test_context(ocl);
  for (int v = 1; v <= 3; ++v) {
    ctx->backend->tuning.accum_variant = v;
    fitcl_model *m = NULL;
    cr_assert_eq(fitcl_model_compile(ctx, "a*exp(-b*x)+c*exp(-d*x)", pn, 4, vn, 1, &m), FITCL_OK);
    fitcl_accum *a = NULL;
    cr_assert_eq(fitcl_accum_create(ctx, m, NULL, &a), FITCL_OK, "%s", fitcl_errmsg(ctx));
    const double *xs[] = {x};
    cr_assert_eq(fitcl_accum_begin(a, p, 1), FITCL_OK);
    cr_assert_eq(fitcl_accum_chunk(a, xs, x + n, NULL, n), FITCL_OK, "%s", fitcl_errmsg(ctx));
    cr_assert_eq(fitcl_accum_end(a, &s[v]), FITCL_OK, "%s", fitcl_errmsg(ctx));
    fitcl_accum_destroy(a);
    fitcl_model_destroy(m);
  }
  fitcl_context_destroy(ctx);
  /* The reference: the pthreads backend on the same points. */
  fitcl_context *cpu = fitcl_test_context("cpu");
  fitcl_model *m = NULL;
  cr_assert_eq(fitcl_model_compile(cpu, "a*exp(-b*x)+c*exp(-d*x)", pn, 4, vn, 1, &m), FITCL_OK);
  fitcl_accum *a = NULL;
  cr_assert_eq(fitcl_accum_create(cpu, m, NULL, &a), FITCL_OK);
  const double *xs[] = {x};
  cr_assert_eq(fitcl_accum_begin(a, p, 1), FITCL_OK);
  cr_assert_eq(fitcl_accum_chunk(a, xs, x + n, NULL, n), FITCL_OK);
  cr_assert_eq(fitcl_accum_end(a, &s[0]), FITCL_OK);
  fitcl_accum_destroy(a);
  fitcl_model_destroy(m);
  fitcl_context_destroy(cpu);
  for (int v = 1; v <= 3; ++v) {
    for (int i = 0; i < 16; ++i)
      cr_expect(fitcl_test_close(s[v].jtj[i], s[0].jtj[i], 1e-13), "variant %d JᵀJ[%d] vs cpu", v,
                i);
    cr_expect(fitcl_test_close(s[v].cost, s[0].cost, 1e-13), "variant %d cost %.17g vs %.17g", v,
              s[v].cost, s[0].cost);
  }
  free(x);
}
