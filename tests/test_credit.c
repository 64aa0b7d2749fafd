/* Cosine-similarity credit assignment on every backend: against a direct
 * long-double computation, against finite differences, the same bits on
 * every backend and thread count (float and double), zero-norm signals and
 * targets, weights, and bad input. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "test_util.h"

typedef struct problem {
  size_t n, d, ncos, nmag, nclass;
  int32_t *phase, *mag, *labels;
  double *cos_table, *mag_table, *targets, *weights;
  float *cos32, *mag32, *targets32, *weights32;
} problem;

static unsigned long long lcg(unsigned long long *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 33;
}

static problem make_problem(size_t n, size_t d, size_t ncos, size_t nmag, size_t nclass,
                            unsigned long long seed) {
  problem p = {.n = n, .d = d, .ncos = ncos, .nmag = nmag, .nclass = nclass};
  p.phase = malloc(n * d * sizeof *p.phase);
  p.mag = malloc(n * d * sizeof *p.mag);
  p.labels = malloc(n * sizeof *p.labels);
  p.cos_table = malloc(ncos * sizeof(double));
  p.mag_table = malloc(nmag * sizeof(double));
  p.targets = malloc(nclass * d * sizeof(double));
  p.weights = malloc(n * sizeof(double));
  p.cos32 = malloc(ncos * sizeof(float));
  p.mag32 = malloc(nmag * sizeof(float));
  p.targets32 = malloc(nclass * d * sizeof(float));
  p.weights32 = malloc(n * sizeof(float));
  unsigned long long s = seed;
  for (size_t i = 0; i < n * d; ++i) {
    p.phase[i] = (int32_t)(lcg(&s) % ncos);
    p.mag[i] = (int32_t)(lcg(&s) % nmag);
  }
  for (size_t i = 0; i < n; ++i) {
    p.labels[i] = (int32_t)(lcg(&s) % nclass);
    p.weights[i] = 0.25 + (double)(lcg(&s) % 1000) / 500.0;
  }
  for (size_t i = 0; i < ncos; ++i) p.cos_table[i] = cos(6.283185307179586 * (double)i / (double)ncos);
  for (size_t i = 0; i < nmag; ++i) p.mag_table[i] = 0.1 + (double)i / (double)nmag;
  for (size_t i = 0; i < nclass * d; ++i) p.targets[i] = (double)(lcg(&s) % 2001) / 1000.0 - 1.0;
  /* float copies hold exactly the values the double problem uses */
  for (size_t i = 0; i < ncos; ++i) p.cos_table[i] = p.cos32[i] = (float)p.cos_table[i];
  for (size_t i = 0; i < nmag; ++i) p.mag_table[i] = p.mag32[i] = (float)p.mag_table[i];
  for (size_t i = 0; i < nclass * d; ++i) p.targets[i] = p.targets32[i] = (float)p.targets[i];
  for (size_t i = 0; i < n; ++i) p.weights[i] = p.weights32[i] = (float)p.weights[i];
  return p;
}

static void free_problem(problem *p) {
  free(p->phase); free(p->mag); free(p->labels); free(p->cos_table); free(p->mag_table);
  free(p->targets); free(p->weights); free(p->cos32); free(p->mag32); free(p->targets32);
  free(p->weights32);
}

static fitcl_credit_inputs inputs(const problem *p, int f32, int weighted) {
  fitcl_credit_inputs in = {.dtype = f32 ? FITCL_FLOAT32 : FITCL_FLOAT64, .n = p->n, .d = p->d,
                            .phase = p->phase, .mag = p->mag, .ncos = p->ncos, .nmag = p->nmag,
                            .nclass = p->nclass, .labels = p->labels};
  in.cos_table = f32 ? (const void *)p->cos32 : p->cos_table;
  in.mag_table = f32 ? (const void *)p->mag32 : p->mag_table;
  in.targets = f32 ? (const void *)p->targets32 : p->targets;
  in.weights = !weighted ? NULL : f32 ? (const void *)p->weights32 : p->weights;
  return in;
}

/* Direct computation in long double, straight from the definitions. */
typedef struct ref { long double loss, *c, *gs, *gcos, *gmag; } ref;
static ref reference(const problem *p, int weighted) {
  ref r = {0, calloc(p->n, sizeof(long double)), calloc(p->n * p->d, sizeof(long double)),
           calloc(p->ncos, sizeof(long double)), calloc(p->nmag, sizeof(long double))};
  for (size_t n = 0; n < p->n; ++n) {
    const double *t = p->targets + (size_t)p->labels[n] * p->d;
    long double dot = 0, ss = 0, tt = 0;
    for (size_t d = 0; d < p->d; ++d) {
      const long double s = (long double)p->cos_table[p->phase[n * p->d + d]] * p->mag_table[p->mag[n * p->d + d]];
      dot += s * t[d];
      ss += s * s;
      tt += (long double)t[d] * t[d];
    }
    const long double w = weighted ? p->weights[n] : 1;
    if (ss == 0 || tt == 0) {
      r.loss += w;
      continue;
    }
    const long double c = dot / sqrtl(ss * tt);
    r.c[n] = c;
    r.loss += w * (1 - c);
    for (size_t d = 0; d < p->d; ++d) {
      const int ph = p->phase[n * p->d + d], mg = p->mag[n * p->d + d];
      const long double s = (long double)p->cos_table[ph] * p->mag_table[mg];
      const long double g = -w * (t[d] / sqrtl(ss * tt) - c * s / ss);
      r.gs[n * p->d + d] = g;
      r.gcos[ph] += g * p->mag_table[mg];
      r.gmag[mg] += g * p->cos_table[ph];
    }
  }
  return r;
}
static void free_ref(ref *r) { free(r->c); free(r->gs); free(r->gcos); free(r->gmag); }

typedef struct outs { void *c, *gs, *gcos, *gmag; } outs;
static outs alloc_outs(const problem *p, int f32) {
  const size_t es = f32 ? sizeof(float) : sizeof(double);
  outs o = {malloc(p->n * es), malloc(p->n * p->d * es), malloc(p->ncos * es), malloc(p->nmag * es)};
  return o;
}
static void free_outs(outs *o) { free(o->c); free(o->gs); free(o->gcos); free(o->gmag); }
static double at(const void *x, int f32, size_t i) {
  return f32 ? ((const float *)x)[i] : ((const double *)x)[i];
}

static fitcl_status run(fitcl_context *ctx, const problem *p, int f32, int weighted, outs *o,
                        double *loss) {
  fitcl_credit_inputs in = inputs(p, f32, weighted);
  fitcl_credit_outputs out = {.cosine = o->c, .grad_signal = o->gs, .grad_cos_table = o->gcos,
                              .grad_mag_table = o->gmag};
  fitcl_status st = fitcl_credit_cosine(ctx, &in, &out);
  *loss = out.loss;
  return st;
}

/* The largest |got - want| over an array, relative to the largest |want|. */
static double rel_err(const void *got, int f32, const long double *want, size_t n) {
  long double scale = 0, worst = 0;
  for (size_t i = 0; i < n; ++i) scale = fmaxl(scale, fabsl(want[i]));
  for (size_t i = 0; i < n; ++i) worst = fmaxl(worst, fabsl(at(got, f32, i) - want[i]));
  return (double)(worst / (scale > 0 ? scale : 1));
}

Test(credit, matches_direct_computation) {
  fitcl_test_backend be[2];
  const size_t nbe = fitcl_test_backends(be, 2);
  problem p = make_problem(1237, 67, 64, 16, 5, 1);
  for (int weighted = 0; weighted < 2; ++weighted) {
    ref r = reference(&p, weighted);
    for (size_t b = 0; b < nbe; ++b) {
      fitcl_context *ctx = fitcl_test_context(be[b].selector);
      for (int f32 = 0; f32 < 2; ++f32) {
        outs o = alloc_outs(&p, f32);
        double loss;
        cr_assert_eq(run(ctx, &p, f32, weighted, &o, &loss), FITCL_OK, "%s", fitcl_errmsg(ctx));
        const double tol = f32 ? 2e-5 : 1e-12;
        cr_expect(fabsl(loss - r.loss) <= tol * fabsl(r.loss), "%s f32=%d loss %.17g vs %.17Lg",
                  be[b].name, f32, loss, r.loss);
        cr_expect(rel_err(o.c, f32, r.c, p.n) <= tol, "%s f32=%d cosine", be[b].name, f32);
        cr_expect(rel_err(o.gs, f32, r.gs, p.n * p.d) <= tol, "%s f32=%d grad_signal", be[b].name, f32);
        cr_expect(rel_err(o.gcos, f32, r.gcos, p.ncos) <= tol, "%s f32=%d grad_cos: %g", be[b].name,
                  f32, rel_err(o.gcos, f32, r.gcos, p.ncos));
        cr_expect(rel_err(o.gmag, f32, r.gmag, p.nmag) <= tol, "%s f32=%d grad_mag", be[b].name, f32);
        free_outs(&o);
      }
      fitcl_context_destroy(ctx);
    }
    free_ref(&r);
  }
  free_problem(&p);
}

/* Central differences of the loss with respect to table entries. */
Test(credit, gradients_match_finite_differences) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  problem p = make_problem(300, 24, 12, 6, 3, 2);
  outs o = alloc_outs(&p, 0);
  double loss;
  cr_assert_eq(run(ctx, &p, 0, 1, &o, &loss), FITCL_OK);
  const double h = 1e-6;
  for (size_t e = 0; e < p.ncos + p.nmag; ++e) {
    double *x = e < p.ncos ? &p.cos_table[e] : &p.mag_table[e - p.ncos];
    const double keep = *x;
    double lp, lm;
    outs t = alloc_outs(&p, 0);
    *x = keep + h;
    cr_assert_eq(run(ctx, &p, 0, 1, &t, &lp), FITCL_OK);
    *x = keep - h;
    cr_assert_eq(run(ctx, &p, 0, 1, &t, &lm), FITCL_OK);
    *x = keep;
    free_outs(&t);
    const double fd = (lp - lm) / (2 * h);
    const double an = e < p.ncos ? ((double *)o.gcos)[e] : ((double *)o.gmag)[e - p.ncos];
    cr_expect(fabs(fd - an) <= 1e-6 * (1 + fabs(an)), "entry %zu: analytic %.10g, differences %.10g",
              e, an, fd);
  }
  free_outs(&o);
  free_problem(&p);
  fitcl_context_destroy(ctx);
}

static fitcl_context *cpu_threads(int threads) {
  fitcl_context_options o = {0};
  o.device = "cpu";
  o.threads = threads;
  o.cache = FITCL_CACHE_OFF;
  fitcl_context *ctx = NULL;
  cr_assert_eq(fitcl_context_create(&o, &ctx), FITCL_OK);
  return ctx;
}

/* Many nodes onto few table entries: the scatter where atomic additions
 * would make the bits depend on timing.  Compared byte for byte. */
Test(credit, same_bits_on_every_backend_and_thread_count) {
  problem p = make_problem(5003, 96, 32, 8, 4, 3);
  fitcl_context *ctxs[4];
  size_t nctx = 0;
  ctxs[nctx++] = cpu_threads(1);
  ctxs[nctx++] = cpu_threads(3);
  fitcl_test_backend be[2];
  const size_t nbe = fitcl_test_backends(be, 2);
  for (size_t b = 0; b < nbe; ++b)
    if (strcmp(be[b].name, "cpu")) ctxs[nctx++] = fitcl_test_context(be[b].selector);
  for (int f32 = 0; f32 < 2; ++f32) {
    const size_t es = f32 ? 4 : 8;
    outs ref = alloc_outs(&p, f32);
    double rloss;
    cr_assert_eq(run(ctxs[0], &p, f32, 1, &ref, &rloss), FITCL_OK);
    for (size_t i = 1; i < nctx; ++i) {
      outs o = alloc_outs(&p, f32);
      double loss;
      cr_assert_eq(run(ctxs[i], &p, f32, 1, &o, &loss), FITCL_OK, "%s", fitcl_errmsg(ctxs[i]));
      cr_expect(memcmp(&loss, &rloss, sizeof loss) == 0, "loss differs (context %zu, f32=%d)", i, f32);
      cr_expect(memcmp(o.c, ref.c, p.n * es) == 0, "cosine differs (context %zu, f32=%d)", i, f32);
      cr_expect(memcmp(o.gs, ref.gs, p.n * p.d * es) == 0, "grad_signal differs (%zu, f32=%d)", i, f32);
      cr_expect(memcmp(o.gcos, ref.gcos, p.ncos * es) == 0, "grad_cos differs (%zu, f32=%d)", i, f32);
      cr_expect(memcmp(o.gmag, ref.gmag, p.nmag * es) == 0, "grad_mag differs (%zu, f32=%d)", i, f32);
      free_outs(&o);
    }
    free_outs(&ref);
  }
  for (size_t i = 0; i < nctx; ++i) fitcl_context_destroy(ctxs[i]);
  free_problem(&p);
}

/* A signal of zero norm (a zero magnitude everywhere in its row) and a
 * class whose target is zero: cosine 0, loss w, no gradient, never NaN. */
Test(credit, zero_norm_has_cosine_zero_and_no_gradient) {
  fitcl_test_backend be[2];
  const size_t nbe = fitcl_test_backends(be, 2);
  problem p = make_problem(40, 8, 4, 3, 3, 4);
  p.mag_table[0] = 0;
  p.mag32[0] = 0;
  for (size_t d = 0; d < p.d; ++d) p.mag[5 * p.d + d] = 0; /* node 5: s = 0 */
  for (size_t d = 0; d < p.d; ++d) p.targets[2 * p.d + d] = p.targets32[2 * p.d + d] = 0;
  p.labels[9] = 2; /* node 9: zero target */
  for (size_t i = 0; i < p.n; ++i)
    if (i != 9 && p.labels[i] == 2) p.labels[i] = 1;
  ref r = reference(&p, 1);
  for (size_t b = 0; b < nbe; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    for (int f32 = 0; f32 < 2; ++f32) {
      outs o = alloc_outs(&p, f32);
      double loss;
      cr_assert_eq(run(ctx, &p, f32, 1, &o, &loss), FITCL_OK);
      cr_expect(isfinite(loss));
      for (size_t node = 5; node <= 9; node += 4) {
        cr_expect_eq(at(o.c, f32, node), 0.0);
        for (size_t d = 0; d < p.d; ++d) cr_expect_eq(at(o.gs, f32, node * p.d + d), 0.0);
      }
      for (size_t e = 0; e < p.ncos; ++e) cr_expect(isfinite(at(o.gcos, f32, e)));
      for (size_t e = 0; e < p.nmag; ++e) cr_expect(isfinite(at(o.gmag, f32, e)));
      cr_expect(fabsl(loss - r.loss) <= (f32 ? 1e-5 : 1e-12) * r.loss, "%.17g vs %.17Lg", loss, r.loss);
      free_outs(&o);
    }
    fitcl_context_destroy(ctx);
  }
  free_ref(&r);
  free_problem(&p);
}

/* What is not asked for is not computed, and the rest does not change. */
Test(credit, optional_outputs) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  problem p = make_problem(777, 33, 20, 10, 2, 5);
  outs all = alloc_outs(&p, 0);
  double loss_all;
  cr_assert_eq(run(ctx, &p, 0, 0, &all, &loss_all), FITCL_OK);
  fitcl_credit_inputs in = inputs(&p, 0, 0);
  double gmag[10];
  fitcl_credit_outputs out = {.grad_mag_table = gmag};
  cr_assert_eq(fitcl_credit_cosine(ctx, &in, &out), FITCL_OK);
  cr_expect(memcmp(&out.loss, &loss_all, sizeof loss_all) == 0);
  cr_expect(memcmp(gmag, all.gmag, sizeof gmag) == 0);
  fitcl_credit_outputs none = {0};
  cr_assert_eq(fitcl_credit_cosine(ctx, &in, &none), FITCL_OK);
  cr_expect(memcmp(&none.loss, &loss_all, sizeof loss_all) == 0);
  free_outs(&all);
  free_problem(&p);
  fitcl_context_destroy(ctx);
}

Test(credit, bad_input_is_named) {
  fitcl_test_backend be[2];
  const size_t nbe = fitcl_test_backends(be, 2);
  for (size_t b = 0; b < nbe; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    problem p = make_problem(100, 10, 8, 4, 3, 6);
    outs o = alloc_outs(&p, 0);
    double loss;
    p.phase[57 * 10 + 3] = 8;
    cr_expect_eq(run(ctx, &p, 0, 1, &o, &loss), FITCL_ERR_RANGE);
    cr_expect_not_null(strstr(fitcl_errmsg(ctx), "phase[57][3] = 8 is outside cos_table (8 entries)"),
                       "%s: %s", be[b].name, fitcl_errmsg(ctx));
    p.phase[57 * 10 + 3] = 0;
    p.mag[99 * 10 + 9] = -1;
    cr_expect_eq(run(ctx, &p, 0, 1, &o, &loss), FITCL_ERR_RANGE);
    cr_expect_not_null(strstr(fitcl_errmsg(ctx), "mag[99][9] = -1"), "%s", fitcl_errmsg(ctx));
    p.mag[99 * 10 + 9] = 0;
    p.labels[12] = 3;
    cr_expect_eq(run(ctx, &p, 0, 1, &o, &loss), FITCL_ERR_RANGE);
    cr_expect_not_null(strstr(fitcl_errmsg(ctx), "labels[12] = 3"), "%s", fitcl_errmsg(ctx));
    p.labels[12] = 0;
    p.cos_table[2] = NAN;
    cr_expect_eq(run(ctx, &p, 0, 1, &o, &loss), FITCL_ERR_DATA);
    cr_expect_not_null(strstr(fitcl_errmsg(ctx), "cos_table[2] is NaN"), "%s", fitcl_errmsg(ctx));
    p.cos_table[2] = 0;
    p.weights32[4] = INFINITY;
    cr_expect_eq(run(ctx, &p, 1, 1, &o, &loss), FITCL_ERR_DATA);
    cr_expect_not_null(strstr(fitcl_errmsg(ctx), "weights[4] is infinite"), "%s", fitcl_errmsg(ctx));
    p.targets[2 * 10 + 1] = NAN;
    cr_expect_eq(run(ctx, &p, 0, 1, &o, &loss), FITCL_ERR_DATA);
    cr_expect_not_null(strstr(fitcl_errmsg(ctx), "targets[2][1] is NaN"), "%s", fitcl_errmsg(ctx));
    fitcl_credit_inputs in = inputs(&p, 0, 0);
    fitcl_credit_outputs out = {0};
    in.n = 0;
    cr_expect_eq(fitcl_credit_cosine(ctx, &in, &out), FITCL_ERR_SIZE);
    in = inputs(&p, 0, 0);
    in.dtype = (fitcl_dtype)7;
    cr_expect_eq(fitcl_credit_cosine(ctx, &in, &out), FITCL_ERR_ARG);
    in = inputs(&p, 0, 0);
    in.phase = NULL;
    cr_expect_eq(fitcl_credit_cosine(ctx, &in, &out), FITCL_ERR_NULL);
    cr_expect_eq(fitcl_credit_cosine(ctx, NULL, &out), FITCL_ERR_NULL);
    free_outs(&o);
    free_problem(&p);
    fitcl_context_destroy(ctx);
  }
}
