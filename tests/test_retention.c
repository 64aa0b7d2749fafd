/* The retention likelihood-ratio test: calibration under the null, power
 * against a real effect, the bootstrap's determinism, and clear errors for
 * bad family selections. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "phylo/retention.h"
#include "core/stats.h"
#include "sim_fixture.h"
#include "test_util.h"

/* Under the null the LRT p-values of 200 independent data sets are
 * uniform (Kolmogorov-Smirnov p > 0.01). */
Test(retention, null_calibration_200) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  double p[200];
  size_t n = 300;
  unsigned char sel[300];
  for (size_t i = 0; i < n; ++i) sel[i] = i % 10 == 3;   /* 30 families */
  fitcl_retention_options ro = {0};
  ro.fit.no_stderr = 1;
  for (int rep = 0; rep < 200; ++rep) {
    fitcl_sim_options so = {.gain = 0.5, .loss = 1.0, .families = n, .condition = 1,
                            .seed = 500000 + (uint64_t)rep};
    fitcl_data *d = fitcl_test_sim_data(FITCL_TEST_TREE12, &so, NULL);
    fitcl_retention_result r;
    cr_assert_eq(fitcl_retention_test(ctx, d, sel, &ro, &r), FITCL_OK, "%s", fitcl_errmsg(ctx));
    cr_assert(r.null_fit.converged && r.alt_fit.converged, "rep %d: %s %s", rep,
              r.null_fit.status, r.alt_fit.status);
    /* Warm-started from the null, the alternative can only go up. */
    cr_assert_geq(r.alt_fit.loglik, r.null_fit.loglik - 1e-9);
    cr_assert_eq(r.df, 1);
    /* The reported p-value is the chi-square(1) tail of the statistic. */
    cr_assert_float_eq(r.p_value, erfc(sqrt(r.lrt / 2)), 1e-12);
    p[rep] = r.p_value;
    fitcl_data_destroy(d);
  }
  double D, ks = fitcl__ks_uniform(p, 200, &D);
  cr_assert_gt(ks, 0.01, "KS p = %g (D = %g)", ks, D);
  fitcl_context_destroy(ctx);
}

/* theta = 0.3 on 10% of the families is detected, and its estimate is
 * consistent with the truth. */
Test(retention, detects_theta_0_3_on_10_percent) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  size_t n = 600;
  unsigned char *ret = malloc(n);
  fitcl_sim_options so = {.gain = 0.5, .loss = 1.0, .families = n, .condition = 1, .seed = 99,
                          .retained_fraction = 0.1, .effect = 0.3};
  fitcl_data *d = fitcl_test_sim_data(FITCL_TEST_TREE12, &so, ret);
  fitcl_retention_result r;
  cr_assert_eq(fitcl_retention_test(ctx, d, ret, NULL, &r), FITCL_OK, "%s", fitcl_errmsg(ctx));
  cr_assert_eq(r.selected, 60);
  cr_assert_lt(r.p_value, 1e-3, "p = %g, theta %g", r.p_value, r.effect);
  cr_assert_leq(fabs(r.effect - 0.3), 3 * r.se_effect, "theta %g +- %g", r.effect, r.se_effect);
  cr_assert(r.ci_low < r.effect && r.effect < r.ci_high);
  /* The Wald interval is symmetric on log theta. */
  cr_assert_float_eq(log(r.ci_high) - log(r.effect), log(r.effect) - log(r.ci_low), 1e-9);
  cr_assert(isnan(r.bootstrap_p_value));
  fitcl_data_destroy(d);
  free(ret);
  fitcl_context_destroy(ctx);
}

Test(retention, library_rejects_empty_and_full_sets) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  fitcl_sim_options so = {.gain = 0.5, .loss = 1.0, .families = 50, .condition = 1, .seed = 1};
  fitcl_data *d = fitcl_test_sim_data(FITCL_TEST_TREE12, &so, NULL);
  unsigned char sel[50];
  fitcl_retention_result r;
  memset(sel, 0, sizeof sel);
  cr_assert_eq(fitcl_retention_test(ctx, d, sel, NULL, &r), FITCL_ERR_ARG);
  cr_assert_not_null(strstr(fitcl_errmsg(ctx), "empty"));
  memset(sel, 1, sizeof sel);
  cr_assert_eq(fitcl_retention_test(ctx, d, sel, NULL, &r), FITCL_ERR_ARG);
  cr_assert_not_null(strstr(fitcl_errmsg(ctx), "every family"));
  cr_assert_eq(fitcl_select_families_regex(ctx, d, "([", sel), FITCL_ERR_ARG);
  cr_assert_eq(fitcl_select_families_regex(ctx, d, "^F1[0-9]$", sel), FITCL_OK);
  int k = 0;
  for (int i = 0; i < 50; ++i) k += sel[i];
  cr_assert_eq(k, 10);
  fitcl_data_destroy(d);
  fitcl_context_destroy(ctx);
}

/* Fixture for the command-line tests: a tree, a simulated matrix and a
 * family list in a scratch directory. */
typedef struct clifix {
  char *dir, *tree, *mat, *fam;
} clifix;

static char *path_in(const char *dir, const char *name) {
  size_t len = strlen(dir) + strlen(name) + 2;
  char *p = malloc(len);
  snprintf(p, len, "%s/%s", dir, name);
  return p;
}

static clifix make_fixture(void) {
  clifix f;
  f.dir = fitcl_test_tmpdir();
  f.tree = fitcl_test_write_file(f.dir, "t.nwk", FITCL_TEST_TREE12);
  f.mat = path_in(f.dir, "m.Rtab");
  f.fam = path_in(f.dir, "fam.txt");
  const char *sim[] = {"fitcl", "simulate", "--tree", f.tree, "--gain", "0.5", "--loss", "1",
                       "--families", "200", "--retained-fraction", "0.1", "--effect", "0.3",
                       "--condition", "--seed", "8", "-o", f.mat, "--truth", f.fam, NULL};
  const char *env[] = {"FITCL_DEVICE=cpu", NULL};
  char *out = NULL, *err = NULL;
  cr_assert_eq(fitcl_test_run_cli(sim, env, &out, &err), 0, "%s", err);
  free(out);
  free(err);
  return f;
}

static void free_fixture(clifix *f) {
  fitcl_test_rmtree(f->dir);
  free(f->dir); free(f->tree); free(f->mat); free(f->fam);
}

/* Runs retention-test with extra arguments; expects exit 2 and one line on
 * stderr containing `want`. */
static void expect_bad(clifix *f, const char *a1, const char *a2, const char *want) {
  const char *argv[] = {"fitcl", "retention-test", "--tree", f->tree, "--matrix", f->mat, a1, a2, NULL};
  const char *env[] = {"FITCL_DEVICE=cpu", NULL};
  char *out = NULL, *err = NULL;
  int rc = fitcl_test_run_cli(argv, env, &out, &err);
  cr_assert_eq(rc, 2, "%s %s: exit %d, stderr: %s", a1, a2, rc, err);
  cr_assert_not_null(strstr(err, want), "%s %s: stderr '%s' lacks '%s'", a1, a2, err, want);
  size_t lines = 0;
  for (const char *c = err; *c; ++c) lines += *c == '\n';
  cr_assert_eq(lines, 1, "more than one line: %s", err);
  cr_assert_str_empty(out);
  free(out);
  free(err);
}

Test(retention, cli_bad_selections) {
  clifix f = make_fixture();
  char *unknown = fitcl_test_write_file(f.dir, "unknown.txt", "fam0001\n# comment\nfam9999\n");
  char *empty = fitcl_test_write_file(f.dir, "empty.txt", "# nothing here\n\n");
  expect_bad(&f, "--families", unknown, "unknown.txt:3:1: unknown family 'fam9999'");
  expect_bad(&f, "--families", empty, "names no family");
  expect_bad(&f, "--families-regex", "^nomatch$", "matches no family");
  expect_bad(&f, "--families-regex", "^fam", "selects every family");
  expect_bad(&f, "--families-regex", "([", "malformed regular expression");
  char *missing = path_in(f.dir, "does-not-exist.txt");
  expect_bad(&f, "--families", missing, "cannot open");
  free(unknown); free(empty); free(missing);
  free_fixture(&f);
}

Test(retention, cli_json_and_table) {
  clifix f = make_fixture();
  const char *env[] = {"FITCL_DEVICE=cpu", NULL};
  char *out = NULL, *err = NULL;
  const char *argv[] = {"fitcl", "retention-test", "--tree", f.tree, "--matrix", f.mat,
                        "--families", f.fam, "--json", NULL};
  cr_assert_eq(fitcl_test_run_cli(argv, env, &out, &err), 0, "%s", err);
  const char *keys[] = {"{\"null\":{\"loglik\":", "\"params\":{\"gain\":", "\"alt\":{\"loglik\":",
                        "\"effect\":", "\"stderr\":{", "\"lrt\":", "\"df\":1", "\"p_value\":",
                        "\"backend\":\"cpu\"", "\"seconds\":"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; ++i)
    cr_assert_not_null(strstr(out, keys[i]), "missing %s in %s", keys[i], out);
  cr_assert_null(strstr(out, "\"bootstrap\""));
  free(out); free(err);
  const char *tab[] = {"fitcl", "retention-test", "--tree", f.tree, "--matrix", f.mat,
                       "--families", f.fam, NULL};
  cr_assert_eq(fitcl_test_run_cli(tab, env, &out, &err), 0, "%s", err);
  cr_assert_not_null(strstr(out, "LRT ="));
  cr_assert_not_null(strstr(out, "Wald"));
  free(out); free(err);
  free_fixture(&f);
}

static double json_number(const char *json, const char *key) {
  const char *p = strstr(json, key);
  cr_assert_not_null(p, "no %s in %s", key, json);
  return strtod(p + strlen(key), NULL);
}

/* The bootstrap p-value depends on the seed only, not on the thread count
 * or the backend. */
Test(retention, bootstrap_deterministic) {
  clifix f = make_fixture();
  const char *argv[] = {"fitcl", "retention-test", "--tree", f.tree, "--matrix", f.mat,
                        "--families", f.fam, "--bootstrap", "12", "--seed", "31", "--json", NULL};
  fitcl_test_backend be[4];
  size_t nb = fitcl_test_backends(be, 4);
  double first = NAN;
  for (size_t b = 0; b < nb; ++b)
    for (int threads = 1; threads <= 2; ++threads) {
      char dev[128], th[64];
      snprintf(dev, sizeof dev, "FITCL_DEVICE=%s", be[b].selector);
      snprintf(th, sizeof th, "FITCL_THREADS=%d", threads);
      const char *env[] = {dev, th, NULL};
      char *out = NULL, *err = NULL;
      cr_assert_eq(fitcl_test_run_cli(argv, env, &out, &err), 0, "%s", err);
      double p = json_number(out, "\"bootstrap\":{\"replicates\":12,\"p_value\":");
      cr_assert(p > 0 && p <= 1);
      if (isnan(first)) first = p;
      cr_assert_eq(p, first, "%s, %d threads: %g vs %g", be[b].name, threads, p, first);
      free(out);
      free(err);
    }
  free_fixture(&f);
}

/* max over (log g, log l) of the log-likelihood at fixed multipliers, by
 * alternating golden-section searches on the likelihood alone (no
 * gradient, no shared optimizer code). */
static double golden_profile(fitcl_lik *lik, double theta, double g0, double l0) {
  double x[2] = {log(g0), log(l0)}, mult[2] = {1.0, theta};
  const double phi = 0.6180339887498949;
  double best = -INFINITY;
  for (int sweep = 0; sweep < 30; ++sweep) {
    for (int k = 0; k < 2; ++k) {
      double a = x[k] - 0.5, b = x[k] + 0.5;
      for (int it = 0; it < 60; ++it) {
        double c = b - phi * (b - a), d = a + phi * (b - a), fc, fd;
        double xc[2] = {x[0], x[1]}, xd[2] = {x[0], x[1]};
        xc[k] = c;
        xd[k] = d;
        fitcl_gl_params pc = {.gain = exp(xc[0]), .loss = exp(xc[1]), .loss_mult = mult};
        fitcl_gl_params pd = {.gain = exp(xd[0]), .loss = exp(xd[1]), .loss_mult = mult};
        cr_assert_eq(fitcl_lik_eval(lik, &pc, &fc, NULL), FITCL_OK);
        cr_assert_eq(fitcl_lik_eval(lik, &pd, &fd, NULL), FITCL_OK);
        if (fc > fd) b = d; else a = c;
      }
      x[k] = 0.5 * (a + b);
    }
    fitcl_gl_params p = {.gain = exp(x[0]), .loss = exp(x[1]), .loss_mult = mult};
    double ll;
    cr_assert_eq(fitcl_lik_eval(lik, &p, &ll, NULL), FITCL_OK);
    if (ll - best < 1e-10) { best = fmax(best, ll); break; }
    best = ll;
  }
  return best;
}

/* At both ends of the profile interval the profile log-likelihood lies
 * chi2_1(0.95)/2 below the maximum. */
Test(retention, profile_interval_ends) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  size_t n = 300;
  unsigned char *ret = malloc(n);
  fitcl_sim_options so = {.gain = 0.5, .loss = 1.0, .families = n, .condition = 1, .seed = 21,
                          .retained_fraction = 0.2, .effect = 0.5};
  fitcl_data *d = fitcl_test_sim_data(FITCL_TEST_TREE12, &so, ret);
  fitcl_retention_options ro = {.profile_ci = 1};
  fitcl_retention_result r;
  cr_assert_eq(fitcl_retention_test(ctx, d, ret, &ro, &r), FITCL_OK, "%s", fitcl_errmsg(ctx));
  cr_assert_str_eq(r.ci_method, "profile");
  cr_assert(r.ci_low < r.effect && r.effect < r.ci_high, "[%g, %g] around %g", r.ci_low, r.ci_high, r.effect);
  fitcl_lik *lik = NULL;
  cr_assert_eq(fitcl_lik_create(ctx, d, NULL, &lik), FITCL_OK);   /* groups as the test left them */
  double target = r.alt_fit.loglik - 0.5 * 3.841458820694124;
  double plo = golden_profile(lik, r.ci_low, r.alt_fit.gain, r.alt_fit.loss);
  double phi = golden_profile(lik, r.ci_high, r.alt_fit.gain, r.alt_fit.loss);
  cr_assert(fabs(plo - target) < 1e-4, "low end: profile %.8f, target %.8f", plo, target);
  cr_assert(fabs(phi - target) < 1e-4, "high end: profile %.8f, target %.8f", phi, target);
  fitcl_lik_destroy(lik);
  fitcl_data_destroy(d);
  free(ret);
  fitcl_context_destroy(ctx);
}

/* On OpenCL a small data set bootstraps on the host's pool, a large one on
 * the device; both give the cpu backend's p-value. */
static double boot_p(const char *selector, const clifix *f) {
  fitcl_context *ctx = fitcl_test_context(selector);
  char err[512];
  fitcl_tree *tr = NULL;
  fitcl_pamatrix *m = NULL;
  fitcl_data *d = NULL;
  cr_assert_eq(fitcl_tree_read(f->tree, &tr, err, sizeof err), FITCL_OK, "%s", err);
  cr_assert_eq(fitcl_pamatrix_read(f->mat, NULL, &m, err, sizeof err), FITCL_OK, "%s", err);
  cr_assert_eq(fitcl_data_build(tr, m, NULL, &d, err, sizeof err), FITCL_OK, "%s", err);
  unsigned char *sel = calloc(fitcl_data_nfamilies(d), 1);
  cr_assert_eq(fitcl_select_families_file(ctx, d, f->fam, sel), FITCL_OK, "%s", fitcl_errmsg(ctx));
  fitcl_retention_options o = {0};
  o.bootstrap = 8;
  o.seed = 5;
  fitcl_retention_result r;
  cr_assert_eq(fitcl_retention_test(ctx, d, sel, &o, &r), FITCL_OK, "%s", fitcl_errmsg(ctx));
  free(sel);
  fitcl_data_destroy(d);
  fitcl_pamatrix_destroy(m);
  fitcl_tree_destroy(tr);
  fitcl_context_destroy(ctx);
  return r.bootstrap_p_value;
}

Test(retention, bootstrap_on_host_or_device_same_p) {
  fitcl_test_backend be[2];
  if (fitcl_test_backends(be, 2) < 2) cr_skip_test("no OpenCL fp64 device");
  clifix f = make_fixture();
  const double p_cpu = boot_p("cpu", &f);
  const double p_host = boot_p(be[1].selector, &f); /* small: the host's pool */
  fitcl__boot_host_max_work = 0;
  const double p_device = boot_p(be[1].selector, &f);
  cr_assert(p_cpu > 0 && p_cpu <= 1);
  cr_assert_eq(p_host, p_cpu);
  cr_assert_eq(p_device, p_cpu);
  free_fixture(&f);
}
