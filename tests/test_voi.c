/* Value of information on every backend: EVPI and the willingness-to-pay
 * sweep against direct long-double computations, the same bits across
 * backends and thread counts, EVPPI against the closed form of a
 * linear-Gaussian model and against nested Monte Carlo, population
 * scaling, bad input, and the fitcl evpi / evppi commands. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "npy_write.h"
#include "test_util.h"

/* ---- deterministic draws --------------------------------------------- */
typedef struct rng { unsigned long long s; } rng;
static double unif(rng *r) {
  r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
  return ((double)(r->s >> 11) + 0.5) / 9007199254740992.0;
}
static double gauss(rng *r) { return sqrt(-2 * log(unif(r))) * cos(6.283185307179586 * unif(r)); }

static fitcl_context *cpu_threads(int threads) {
  fitcl_context_options o = {0};
  o.device = "cpu";
  o.threads = threads;
  o.cache = FITCL_CACHE_OFF;
  fitcl_context *ctx = NULL;
  cr_assert_eq(fitcl_context_create(&o, &ctx), FITCL_OK);
  return ctx;
}

/* Net benefits around `level` with a small spread, so EVPI is a difference
 * of two large nearly equal means (the case compensation is for). */
static double *make_nb(size_t n, size_t k, double level, unsigned long long seed) {
  double *nb = malloc(n * k * sizeof *nb);
  rng r = {seed};
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < k; ++j) nb[i * k + j] = level + 50.0 * gauss(&r) + 3.0 * (double)j;
  return nb;
}

/* NumPy's np.mean(np.max(nb, 1)) - np.max(np.mean(nb, 0)), in long double. */
static long double direct_evpi(const double *nb, size_t n, size_t k, long double *mean,
                               long double *pbest) {
  long double mx = 0;
  for (size_t j = 0; j < k; ++j) mean[j] = pbest[j] = 0;
  for (size_t i = 0; i < n; ++i) {
    size_t a = 0;
    for (size_t j = 0; j < k; ++j) {
      mean[j] += nb[i * k + j];
      if (nb[i * k + j] > nb[i * k + a]) a = j;
    }
    mx += nb[i * k + a];
    pbest[a] += 1;
  }
  long double best = -INFINITY;
  for (size_t j = 0; j < k; ++j) {
    mean[j] /= n;
    pbest[j] /= n;
    if (mean[j] > best) best = mean[j];
  }
  return mx / n - best;
}

Test(voi, evpi_matches_direct_computation) {
  fitcl_test_backend be[2];
  const size_t nbe = fitcl_test_backends(be, 2);
  const size_t sizes[][2] = {{1, 3}, {4095, 2}, {4096, 4}, {4097, 5}, {100003, 4}, {30000, 20}};
  for (size_t b = 0; b < nbe; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; ++s) {
      const size_t n = sizes[s][0], k = sizes[s][1];
      double *nb = make_nb(n, k, 2.5e4, 7 + s);
      long double mean[64], pb[64];
      const long double want = direct_evpi(nb, n, k, mean, pb);
      double evpi, enb[64], pbest[64];
      cr_assert_eq(fitcl_evpi(ctx, nb, n, k, &evpi, enb, pbest), FITCL_OK, "%s", fitcl_errmsg(ctx));
      /* 1e-12 of the net-benefit scale: EVPI is a difference of means. */
      cr_expect(fabsl(evpi - want) <= 1e-12L * 2.5e4L, "%s n=%zu k=%zu: %.17g vs %.17Lg",
                be[b].name, n, k, evpi, want);
      for (size_t j = 0; j < k; ++j) {
        cr_expect(fabsl(enb[j] - mean[j]) <= 1e-15L * 2.5e4L, "enb[%zu]", j);
        cr_expect(pbest[j] == (double)pb[j], "p_best[%zu] %.17g vs %.17Lg", j, pbest[j], pb[j]);
      }
      free(nb);
    }
    fitcl_context_destroy(ctx);
  }
}

Test(voi, evpi_one_strategy_and_ties) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  double nb1[] = {1, 2, 3}, evpi = -1, p[3];
  cr_assert_eq(fitcl_evpi(ctx, nb1, 3, 1, &evpi, NULL, p), FITCL_OK);
  cr_expect_eq(evpi, 0.0);
  cr_expect_eq(p[0], 1.0);
  /* Equal net benefits everywhere: EVPI 0 and the first strategy "wins". */
  double nb2[] = {5, 5, 5, 7, 7, 7};
  cr_assert_eq(fitcl_evpi(ctx, nb2, 2, 3, &evpi, NULL, p), FITCL_OK);
  cr_expect_eq(evpi, 0.0);
  cr_expect(p[0] == 1.0 && p[1] == 0.0 && p[2] == 0.0);
  fitcl_context_destroy(ctx);
}

/* The same bits on 1 and 3 threads and on every backend. */
Test(voi, evpi_same_bits_everywhere) {
  const size_t n = 54321, k = 6;
  double *nb = make_nb(n, k, -1e6, 99);
  double *c = make_nb(n, k, 3e4, 5), *e = make_nb(n, k, 1.0, 6);
  double wtp[70];
  for (int w = 0; w < 70; ++w) wtp[w] = 1000.0 * w;
  fitcl_context *ctxs[4];
  size_t nctx = 0;
  ctxs[nctx++] = cpu_threads(1);
  ctxs[nctx++] = cpu_threads(3);
  fitcl_test_backend be[2];
  const size_t nbe = fitcl_test_backends(be, 2);
  for (size_t b = 0; b < nbe; ++b)
    if (strcmp(be[b].name, "cpu")) ctxs[nctx++] = fitcl_test_context(be[b].selector);
  /* EVPI, expected NB, P(best); the sweep's EVPI, expected NB, CEAC, CEAF. */
  double ref[1 + 2 * 6], refw[70 * (2 + 2 * 6)];
  for (size_t i = 0; i < nctx; ++i) {
    double got[1 + 2 * 6], gw[70 * (2 + 2 * 6)];
    cr_assert_eq(fitcl_evpi(ctxs[i], nb, n, k, &got[0], got + 1, got + 1 + k), FITCL_OK);
    cr_assert_eq(fitcl_evpi_wtp(ctxs[i], c, e, n, k, wtp, 70, gw, gw + 70, gw + 70 + 70 * k,
                                NULL, gw + 70 + 140 * k),
                 FITCL_OK, "%s", fitcl_errmsg(ctxs[i]));
    if (i == 0) {
      memcpy(ref, got, sizeof ref);
      memcpy(refw, gw, sizeof refw);
      continue;
    }
    cr_expect(memcmp(ref, got, sizeof ref) == 0, "EVPI differs on context %zu", i);
    cr_expect(memcmp(refw, gw, sizeof refw) == 0, "sweep differs on context %zu", i);
  }
  for (size_t i = 0; i < nctx; ++i) fitcl_context_destroy(ctxs[i]);
  free(nb);
  free(c);
  free(e);
}

Test(voi, wtp_sweep_matches_direct_computation) {
  fitcl_test_backend be[2];
  const size_t nbe = fitcl_test_backends(be, 2);
  const size_t n = 20011, k = 4;
  double *c = make_nb(n, k, 2e4, 11), *e = make_nb(n, k, 0, 12);
  for (size_t i = 0; i < n * k; ++i) e[i] = 1 + e[i] / 500; /* effects near 1 */
  double wtp[130];
  for (int w = 0; w < 130; ++w) wtp[w] = -5000 + 400.0 * w; /* more than one call's worth */
  for (size_t b = 0; b < nbe; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    double ev[130], enb[130 * 4], ceac[130 * 4], ceaf[130];
    int32_t best[130];
    cr_assert_eq(fitcl_evpi_wtp(ctx, c, e, n, k, wtp, 130, ev, enb, ceac, best, ceaf), FITCL_OK);
    double *nb = malloc(n * k * sizeof *nb);
    for (int w = 0; w < 130; ++w) {
      for (size_t i = 0; i < n * k; ++i) nb[i] = wtp[w] * e[i] - c[i];
      long double mean[4], pb[4];
      const long double want = direct_evpi(nb, n, k, mean, pb);
      const long double scale = fabs(wtp[w]) * 1.5 + 2e4;
      cr_expect(fabsl(ev[w] - want) <= 1e-12L * scale, "%s wtp %g: %.17g vs %.17Lg", be[b].name,
                wtp[w], ev[w], want);
      size_t a = 0;
      for (size_t j = 0; j < k; ++j) {
        cr_expect(fabsl(enb[w * k + j] - mean[j]) <= 1e-12L * scale);
        cr_expect(ceac[w * k + j] == (double)pb[j], "ceac wtp %g strategy %zu", wtp[w], j);
        if (mean[j] > mean[a]) a = j;
      }
      cr_expect_eq((size_t)best[w], a);
      cr_expect_eq(ceaf[w], ceac[w * k + a]);
    }
    free(nb);
    fitcl_context_destroy(ctx);
  }
  free(c);
  free(e);
}

Test(voi, bad_input_is_named) {
  fitcl_test_backend be[2];
  const size_t nbe = fitcl_test_backends(be, 2);
  for (size_t b = 0; b < nbe; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    double *nb = make_nb(5000, 3, 0, 1), evpi;
    cr_expect_eq(fitcl_evpi(ctx, nb, 0, 3, &evpi, NULL, NULL), FITCL_ERR_SIZE);
    cr_expect_eq(fitcl_evpi(ctx, nb, 10, 0, &evpi, NULL, NULL), FITCL_ERR_SIZE);
    cr_expect_eq(fitcl_evpi(ctx, nb, 10, 65, &evpi, NULL, NULL), FITCL_ERR_SIZE);
    cr_expect_eq(fitcl_evpi(ctx, NULL, 10, 3, &evpi, NULL, NULL), FITCL_ERR_NULL);
    nb[4321 * 3 + 2] = NAN;
    cr_expect_eq(fitcl_evpi(ctx, nb, 5000, 3, &evpi, NULL, NULL), FITCL_ERR_DATA);
    cr_expect_not_null(strstr(fitcl_errmsg(ctx), "nb[4321][2] is NaN"), "%s", fitcl_errmsg(ctx));
    nb[4321 * 3 + 2] = 0;
    nb[17] = -INFINITY;
    cr_expect_eq(fitcl_evpi(ctx, nb, 5000, 3, &evpi, NULL, NULL), FITCL_ERR_DATA);
    cr_expect_not_null(strstr(fitcl_errmsg(ctx), "nb[5][2] is infinite"), "%s", fitcl_errmsg(ctx));
    nb[17] = 0;
    double w[2] = {0, NAN}, ev[2];
    cr_expect_eq(fitcl_evpi_wtp(ctx, nb, nb, 5000, 3, w, 2, ev, NULL, NULL, NULL, NULL), FITCL_ERR_DATA);
    w[1] = 1;
    nb[300] = NAN;
    cr_expect_eq(fitcl_evpi_wtp(ctx, nb, nb, 5000, 3, w, 2, ev, NULL, NULL, NULL, NULL), FITCL_ERR_DATA);
    cr_expect_not_null(strstr(fitcl_errmsg(ctx), "costs[100][0] is NaN"), "%s", fitcl_errmsg(ctx));
    cr_expect_eq(fitcl_evpi_wtp(ctx, nb, nb, 5000, 3, w, 0, ev, NULL, NULL, NULL, NULL), FITCL_ERR_SIZE);
    free(nb);
    fitcl_context_destroy(ctx);
  }
}

Test(voi, population_factor_as_voiage) {
  double f;
  cr_assert_eq(fitcl_voi_population_factor(1000, 10, 0, &f), FITCL_OK);
  cr_expect_eq(f, 10000.0);
  cr_assert_eq(fitcl_voi_population_factor(1000, 10, 0.035, &f), FITCL_OK);
  cr_expect(fabs(f - 1000 * (1 - pow(1.035, -10)) / 0.035) < 1e-9, "%.17g", f);
  cr_expect_eq(fitcl_voi_population_factor(0, 10, 0, &f), FITCL_ERR_RANGE);
  cr_expect_eq(fitcl_voi_population_factor(10, -1, 0, &f), FITCL_ERR_RANGE);
  cr_expect_eq(fitcl_voi_population_factor(10, 1, 1.5, &f), FITCL_ERR_RANGE);
  cr_expect_eq(fitcl_voi_population_factor(10, 1, NAN, &f), FITCL_ERR_RANGE);
}

/* ---- EVPPI ------------------------------------------------------------- */

/* NB_0 = 0, NB_1 = a + bθ + φ with θ ~ N(0, 1), φ ~ N(0, τ²) independent:
 * E[NB_1 | θ] = a + bθ, so EVPPI(θ) = E[max(0, X)] − max(0, a) with
 * X ~ N(a, b²) = a Φ(a/|b|) + |b| φ(a/|b|) − max(0, a). */
static double linear_gaussian_evppi(double a, double b) {
  const double s = fabs(b), z = a / s;
  return a * 0.5 * erfc(-z / sqrt(2)) + s * exp(-0.5 * z * z) / sqrt(2 * M_PI) - (a > 0 ? a : 0);
}

Test(voi, evppi_linear_gaussian_closed_form) {
  fitcl_test_backend be[2];
  const size_t nbe = fitcl_test_backends(be, 2);
  const size_t n = 100000;
  const double a = 0.3, bb = 2.0, tau = 3.0;
  double *nb = malloc(n * 2 * sizeof *nb), *th = malloc(n * 3 * sizeof *th);
  rng r = {2024};
  for (size_t i = 0; i < n; ++i) {
    const double t = gauss(&r), ph = tau * gauss(&r);
    th[i * 3] = ph;
    th[i * 3 + 1] = t;
    th[i * 3 + 2] = unif(&r); /* unrelated */
    nb[i * 2] = 0;
    nb[i * 2 + 1] = a + bb * t + ph;
  }
  const double want = linear_gaussian_evppi(a, bb);
  fitcl_evppi_result ref;
  for (size_t b = 0; b < nbe; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    const size_t of[] = {1};
    fitcl_evppi_result res;
    cr_assert_eq(fitcl_evppi(ctx, nb, n, 2, th, 3, of, 1, NULL, &res), FITCL_OK, "%s",
                 fitcl_errmsg(ctx));
    cr_expect(fabs(res.evppi / want - 1) < 0.02, "%s: EVPPI %.6g, closed form %.6g", be[b].name,
              res.evppi, want);
    cr_expect(res.se > 0 && res.se < 0.05 * want, "se %g", res.se);
    cr_expect_eq(res.draws, 96);
    cr_expect_eq(res.basis, 16);
    /* A linear truth is in the penalty's null space: GCV smooths to ~2 edf. */
    cr_expect(res.edf[1] < 4, "edf %g", res.edf[1]);
    if (b == 0) ref = res;
    else cr_expect(memcmp(&ref, &res, sizeof ref) == 0, "EVPPI differs between backends");
    /* The unrelated parameter carries no information. */
    const size_t of2[] = {2};
    cr_assert_eq(fitcl_evppi(ctx, nb, n, 2, th, 3, of2, 1, NULL, &res), FITCL_OK);
    cr_expect(fabs(res.evppi) < 0.05 * want, "unrelated parameter: %g", res.evppi);
    fitcl_context_destroy(ctx);
  }
  /* Thread counts: the same bits. */
  fitcl_context *c1 = cpu_threads(1), *c3 = cpu_threads(3);
  const size_t of[] = {1, 0};
  fitcl_evppi_result r1, r3;
  cr_assert_eq(fitcl_evppi(c1, nb, n, 2, th, 3, of, 2, NULL, &r1), FITCL_OK);
  cr_assert_eq(fitcl_evppi(c3, nb, n, 2, th, 3, of, 2, NULL, &r3), FITCL_OK);
  cr_expect(memcmp(&r1, &r3, sizeof r1) == 0, "EVPPI differs between 1 and 3 threads");
  /* Both parameters determine NB: EVPPI is EVPI. */
  double evpi;
  cr_assert_eq(fitcl_evpi(c1, nb, n, 2, &evpi, NULL, NULL), FITCL_OK);
  cr_expect(fabs(r1.evppi / evpi - 1) < 0.01, "EVPPI(all) %g vs EVPI %g", r1.evppi, evpi);
  fitcl_context_destroy(c1);
  fitcl_context_destroy(c3);
  free(nb);
  free(th);
}

/* A nonlinear model, three strategies, two parameters of interest:
 * NB_1 = 1 + θ1² − 2 + ψ, NB_2 = exp(0.5 θ2) − 1.1 + θ1 ψ / 2, with
 * θ1, θ2 ~ N(0, 1) and ψ ~ N(0, 1) the rest.  The reference is nested
 * Monte Carlo: an outer sample of (θ1, θ2), inner samples of ψ. */
Test(voi, evppi_matches_nested_monte_carlo) {
  const size_t n = 60000;
  double *nb = malloc(n * 3 * sizeof *nb), *th = malloc(n * 2 * sizeof *th);
  rng r = {77};
  for (size_t i = 0; i < n; ++i) {
    const double t1 = gauss(&r), t2 = gauss(&r), psi = gauss(&r);
    th[i * 2] = t1;
    th[i * 2 + 1] = t2;
    nb[i * 3] = 0;
    nb[i * 3 + 1] = 1 + t1 * t1 - 2 + psi;
    nb[i * 3 + 2] = exp(0.5 * t2) - 1.1 + t1 * psi / 2;
  }
  /* Nested MC: E_θ[max_j E[NB_j | θ]] − max_j E[NB_j]; the inner means are
   * estimated from 400 draws of ψ each (their noise biases EVPPI up by a
   * little, well inside the tolerance). */
  rng q = {5};
  const int outer = 20000, inner = 400;
  double sum = 0;
  for (int o = 0; o < outer; ++o) {
    const double t1 = gauss(&q), t2 = gauss(&q);
    double m1 = 0, m2 = 0;
    for (int in = 0; in < inner; ++in) {
      const double psi = gauss(&q);
      m1 += 1 + t1 * t1 - 2 + psi;
      m2 += exp(0.5 * t2) - 1.1 + t1 * psi / 2;
    }
    m1 /= inner;
    m2 /= inner;
    double m = 0;
    m = m1 > m ? m1 : m;
    m = m2 > m ? m2 : m;
    sum += m;
  }
  /* E[NB_1] = 0, E[NB_2] = e^{1/8} − 1.1. */
  const double exact_max_mean = fmax(0.0, fmax(0.0, exp(0.125) - 1.1));
  const double want = sum / outer - exact_max_mean;
  fitcl_test_backend be[2];
  const size_t nbe = fitcl_test_backends(be, 2);
  for (size_t b = 0; b < nbe; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    const size_t of[] = {0, 1};
    fitcl_evppi_result res;
    fitcl_evppi_options opt = {.se_draws = 16, .seed = 3};
    cr_assert_eq(fitcl_evppi(ctx, nb, n, 3, th, 2, of, 2, &opt, &res), FITCL_OK, "%s",
                 fitcl_errmsg(ctx));
    cr_expect(fabs(res.evppi / want - 1) < 0.05, "%s: EVPPI %.5g, nested Monte Carlo %.5g",
              be[b].name, res.evppi, want);
    cr_expect_eq(res.draws, 16);
    fitcl_context_destroy(ctx);
  }
  free(nb);
  free(th);
}

Test(voi, evppi_bad_input) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  const size_t n = 2000;
  double *nb = make_nb(n, 2, 0, 3), *th = make_nb(n, 2, 0, 4);
  fitcl_evppi_result r;
  size_t of[] = {0, 1, 0, 1, 0};
  cr_expect_eq(fitcl_evppi(ctx, nb, n, 1, th, 2, of, 1, NULL, &r), FITCL_ERR_SIZE);
  cr_expect_eq(fitcl_evppi(ctx, nb, n, 2, th, 2, of, 0, NULL, &r), FITCL_ERR_SIZE);
  cr_expect_eq(fitcl_evppi(ctx, nb, n, 2, th, 2, of, 5, NULL, &r), FITCL_ERR_SIZE);
  size_t bad[] = {2};
  cr_expect_eq(fitcl_evppi(ctx, nb, n, 2, th, 2, bad, 1, NULL, &r), FITCL_ERR_ARG);
  size_t twice[] = {1, 1};
  cr_expect_eq(fitcl_evppi(ctx, nb, n, 2, th, 2, twice, 2, NULL, &r), FITCL_ERR_ARG);
  fitcl_evppi_options o = {.basis = 3};
  cr_expect_eq(fitcl_evppi(ctx, nb, n, 2, th, 2, of, 1, &o, &r), FITCL_ERR_ARG);
  cr_expect_eq(fitcl_evppi(ctx, nb, 20, 2, th, 2, of, 1, NULL, &r), FITCL_ERR_SIZE);
  for (size_t i = 0; i < n; ++i) th[i * 2 + 1] = 4.5;
  cr_expect_eq(fitcl_evppi(ctx, nb, n, 2, th, 2, of + 1, 1, NULL, &r), FITCL_ERR_DATA);
  cr_expect_not_null(strstr(fitcl_errmsg(ctx), "one value"), "%s", fitcl_errmsg(ctx));
  th[7 * 2] = NAN;
  cr_expect_eq(fitcl_evppi(ctx, nb, n, 2, th, 2, of, 1, NULL, &r), FITCL_ERR_DATA);
  cr_expect_not_null(strstr(fitcl_errmsg(ctx), "theta[7][0] is NaN"), "%s", fitcl_errmsg(ctx));
  th[7 * 2] = 0;
  nb[99] = INFINITY;
  cr_expect_eq(fitcl_evppi(ctx, nb, n, 2, th, 2, of, 1, NULL, &r), FITCL_ERR_DATA);
  cr_expect_not_null(strstr(fitcl_errmsg(ctx), "nb[49][1] is infinite"), "%s", fitcl_errmsg(ctx));
  free(nb);
  free(th);
  fitcl_context_destroy(ctx);
}

/* ---- the commands -------------------------------------------------------- */

static char *write_npy(const char *dir, const char *name, const double *x, size_t rows, size_t cols) {
  char *path = malloc(strlen(dir) + strlen(name) + 2);
  sprintf(path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  fitcl_npy_write_header(f, "<f8", 0, rows, cols);
  fwrite(x, sizeof *x, rows * cols, f);
  fclose(f);
  return path;
}

static double json_num(const char *json, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(json, pat);
  cr_assert_not_null(p, "no %s in %s", key, json);
  return strtod(p + strlen(pat), NULL);
}

Test(voi_cli, evpi_and_evppi_commands) {
  static const char *env[] = {"FITCL_DEVICE=cpu", NULL};
  char *dir = fitcl_test_tmpdir();
  const size_t n = 5000;
  double *nb = make_nb(n, 3, 100, 8), *th = malloc(n * 2 * sizeof *th);
  rng r = {9};
  for (size_t i = 0; i < n; ++i) {
    th[i * 2] = gauss(&r);
    th[i * 2 + 1] = gauss(&r);
    nb[i * 3 + 1] += 40 * th[i * 2];
  }
  char *pnb = write_npy(dir, "nb.npy", nb, n, 3), *pth = write_npy(dir, "th.npy", th, n, 2);
  fitcl_context *ctx = fitcl_test_context("cpu");
  double evpi;
  cr_assert_eq(fitcl_evpi(ctx, nb, n, 3, &evpi, NULL, NULL), FITCL_OK);
  char *out = NULL, *err = NULL;
  const char *a1[] = {"fitcl", "evpi", "--nb", pnb, "--json", "--population", "100", "--horizon",
                      "5", NULL};
  int rc = fitcl_test_run_cli(a1, env, &out, &err);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
  /* cJSON prints 15 digits when they read back within an ulp. */
  cr_expect(fitcl_test_close(json_num(out, "evpi"), evpi, 1e-14), "%s", out);
  cr_expect(fabs(json_num(out, "population_evpi") - 500 * evpi) < 1e-9 * evpi * 500, "%s", out);
  free(out);
  free(err);
  const char *a2[] = {"fitcl", "evpi", "--costs", pnb, "--effects", pnb, "--wtp", "0:2:0.5",
                      "--json", NULL};
  rc = fitcl_test_run_cli(a2, env, &out, &err);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
  cr_expect_not_null(strstr(out, "\"wtp\":[0,0.5,1,1.5,2]"), "%s", out);
  cr_expect_not_null(strstr(out, "\"ceaf\":["), "%s", out);
  free(out);
  free(err);
  const char *a3[] = {"fitcl", "evppi", "--nb", pnb, "--params", pth, "--names", "x,y", "--of",
                      "x", "--json", "--seed", "4", NULL};
  rc = fitcl_test_run_cli(a3, env, &out, &err);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
  const size_t of[] = {0};
  fitcl_evppi_options o = {.seed = 4};
  fitcl_evppi_result res;
  cr_assert_eq(fitcl_evppi(ctx, nb, n, 3, th, 2, of, 1, &o, &res), FITCL_OK);
  cr_expect(fitcl_test_close(json_num(out, "evppi"), res.evppi, 1e-14), "%s", out);
  cr_expect(fitcl_test_close(json_num(out, "se"), res.se, 1e-14), "%s", out);
  cr_expect_not_null(strstr(out, "\"parameters\":[\"x\"]"), "%s", out);
  free(out);
  free(err);
  /* Usage and input errors: exit 2, one line naming the problem. */
  const char *b1[] = {"fitcl", "evpi", "--nb", pnb, "--wtp", "0:1:1", NULL};
  cr_expect_eq(fitcl_test_run_cli(b1, env, &out, &err), 2);
  cr_expect_not_null(strstr(err, "not both"), "%s", err);
  free(out);
  free(err);
  const char *b2[] = {"fitcl", "evppi", "--nb", pnb, "--params", pth, "--of", "z", NULL};
  cr_expect_eq(fitcl_test_run_cli(b2, env, &out, &err), 2);
  cr_expect_not_null(strstr(err, "'z'"), "%s", err);
  free(out);
  free(err);
  char *csv = fitcl_test_write_file(dir, "bad.csv", "a,b\n1,2\n3,x\n");
  const char *b3[] = {"fitcl", "evpi", "--nb", csv, NULL};
  cr_expect_eq(fitcl_test_run_cli(b3, env, &out, &err), 2);
  cr_expect_not_null(strstr(err, "bad.csv:3:3: 'x' is not a number"), "%s", err);
  free(out);
  free(err);
  char *good = fitcl_test_write_file(dir, "nb.csv", "# PSA\nA,B\n1,2\n3,1\n");
  const char *c1[] = {"fitcl", "evpi", "--nb", good, "--json", NULL};
  cr_expect_eq(fitcl_test_run_cli(c1, env, &out, &err), 0, "%s", err);
  cr_expect_not_null(strstr(out, "\"strategies\":[\"A\",\"B\"]"), "%s", out);
  cr_expect_eq(json_num(out, "evpi"), 0.5, "%s", out);
  free(out);
  free(err);
  fitcl_context_destroy(ctx);
  fitcl_test_rmtree(dir);
  free(dir);
  free(pnb);
  free(pth);
  free(csv);
  free(good);
  free(nb);
  free(th);
}
