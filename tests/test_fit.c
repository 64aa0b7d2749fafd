/* Rate fits: simulate then fit recovers the truth; observed-information
 * standard errors agree with the spread of parametric-bootstrap MLEs; the
 * backends agree. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "sim_fixture.h"
#include "test_util.h"

Test(fit, recovers_truth_within_3se_20_replicates) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  const double g = 0.6, l = 1.2;
  for (int rep = 0; rep < 20; ++rep) {
    fitcl_sim_options so = {.gain = g, .loss = l, .families = 400, .condition = 1,
                            .seed = 1000 + (uint64_t)rep};
    fitcl_data *d = fitcl_test_sim_data(FITCL_TEST_TREE12, &so, NULL);
    fitcl_fit_result r;
    cr_assert_eq(fitcl_fit_rates(ctx, d, NULL, &r), FITCL_OK, "%s", fitcl_errmsg(ctx));
    cr_assert(r.converged, "replicate %d: %s", rep, r.status);
    cr_assert(isfinite(r.se_gain) && isfinite(r.se_loss));
    cr_assert_leq(fabs(r.gain - g), 3 * r.se_gain, "rep %d: gain %g +- %g", rep, r.gain, r.se_gain);
    cr_assert_leq(fabs(r.loss - l), 3 * r.se_loss, "rep %d: loss %g +- %g", rep, r.loss, r.se_loss);
    cr_assert_float_eq(r.aic, 4 - 2 * r.loglik, 1e-9);
    fitcl_data_destroy(d);
  }
  fitcl_context_destroy(ctx);
}

/* The MLE is a stationary point: the log-likelihood falls in every
 * direction around it (checked with the likelihood itself, not the
 * optimizer's gradient). */
Test(fit, mle_is_a_maximum) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  fitcl_sim_options so = {.gain = 0.4, .loss = 0.9, .families = 300, .condition = 1, .seed = 77};
  fitcl_data *d = fitcl_test_sim_data(FITCL_TEST_TREE12, &so, NULL);
  fitcl_fit_result r;
  cr_assert_eq(fitcl_fit_rates(ctx, d, NULL, &r), FITCL_OK);
  fitcl_lik *lik = NULL;
  cr_assert_eq(fitcl_lik_create(ctx, d, NULL, &lik), FITCL_OK);
  double ll0;
  fitcl_gl_params p = {.gain = r.gain, .loss = r.loss};
  cr_assert_eq(fitcl_lik_eval(lik, &p, &ll0, NULL), FITCL_OK);
  cr_assert_float_eq(ll0, r.loglik, 1e-9 * fabs(ll0));
  for (int k = 0; k < 4; ++k) {
    double ll;
    fitcl_gl_params q = p;
    q.gain *= k == 0 ? 1.001 : (k == 1 ? 0.999 : 1);
    q.loss *= k == 2 ? 1.001 : (k == 3 ? 0.999 : 1);
    cr_assert_eq(fitcl_lik_eval(lik, &q, &ll, NULL), FITCL_OK);
    cr_assert_leq(ll, ll0 + 1e-9, "direction %d", k);
  }
  fitcl_lik_destroy(lik);
  fitcl_data_destroy(d);
  fitcl_context_destroy(ctx);
}

/* Parametric bootstrap around the truth: the standard deviation of 150
 * refitted MLEs against the observed-information SE of the original fit. */
Test(fit, stderr_matches_bootstrap_spread) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  fitcl_sim_options so = {.gain = 0.5, .loss = 1.0, .families = 600, .condition = 1, .seed = 4242};
  fitcl_data *d = fitcl_test_sim_data(FITCL_TEST_TREE12, &so, NULL);
  fitcl_fit_result r0;
  cr_assert_eq(fitcl_fit_rates(ctx, d, NULL, &r0), FITCL_OK);
  fitcl_data_destroy(d);
  int B = 150;
  double sg = 0, sg2 = 0, sl = 0, sl2 = 0;
  fitcl_fit_options fo = {.no_stderr = 1};
  for (int b = 0; b < B; ++b) {
    fitcl_sim_options sb = {.gain = r0.gain, .loss = r0.loss, .families = 600, .condition = 1,
                            .seed = 90000 + (uint64_t)b};
    fitcl_data *db = fitcl_test_sim_data(FITCL_TEST_TREE12, &sb, NULL);
    fitcl_fit_result r;
    cr_assert_eq(fitcl_fit_rates(ctx, db, &fo, &r), FITCL_OK);
    cr_assert(isnan(r.se_gain));
    sg += r.gain; sg2 += r.gain * r.gain;
    sl += r.loss; sl2 += r.loss * r.loss;
    fitcl_data_destroy(db);
  }
  double sdg = sqrt((sg2 - sg * sg / B) / (B - 1)), sdl = sqrt((sl2 - sl * sl / B) / (B - 1));
  cr_assert_lt(fabs(r0.se_gain / sdg - 1), 0.2, "gain: SE %g vs bootstrap SD %g", r0.se_gain, sdg);
  cr_assert_lt(fabs(r0.se_loss / sdl - 1), 0.2, "loss: SE %g vs bootstrap SD %g", r0.se_loss, sdl);
  fitcl_context_destroy(ctx);
}

Test(fit, gamma_alpha_recovered) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  fitcl_sim_options so = {.gain = 0.5, .loss = 1.0, .families = 1500, .condition = 1, .seed = 3,
                          .gamma_cats = 4, .alpha = 0.7};
  fitcl_data *d = fitcl_test_sim_data(FITCL_TEST_TREE12, &so, NULL);
  fitcl_fit_options fo = {.gamma_cats = 4};
  fitcl_fit_result r;
  cr_assert_eq(fitcl_fit_rates(ctx, d, &fo, &r), FITCL_OK, "%s", fitcl_errmsg(ctx));
  cr_assert(r.converged, "%s", r.status);
  cr_assert_eq(r.nparams, 3);
  cr_assert(isfinite(r.se_alpha));
  cr_assert_leq(fabs(r.alpha - 0.7), 3 * r.se_alpha, "alpha %g +- %g", r.alpha, r.se_alpha);
  cr_assert_leq(fabs(r.gain - 0.5), 3 * r.se_gain);
  cr_assert_leq(fabs(r.loss - 1.0), 3 * r.se_loss);
  fitcl_data_destroy(d);
  fitcl_context_destroy(ctx);
}

/* The same fit on every backend: estimates agree closely (the likelihoods
 * agree to ~1e-12, so the optimizer path is the same up to rounding). */
Test(fit, backends_agree) {
  fitcl_test_backend be[4];
  size_t nb = fitcl_test_backends(be, 4);
  fitcl_sim_options so = {.gain = 0.5, .loss = 1.0, .families = 500, .condition = 1, .seed = 11,
                          .gamma_cats = 3, .alpha = 1.5};
  fitcl_data *d = fitcl_test_sim_data(FITCL_TEST_TREE12, &so, NULL);
  fitcl_fit_result ref = {0};
  for (size_t i = 0; i < nb; ++i) {
    fitcl_context *ctx = fitcl_test_context(be[i].selector);
    for (int K = 1; K <= 3; K += 2) {
      fitcl_fit_options fo = {.gamma_cats = K};
      fitcl_fit_result r;
      cr_assert_eq(fitcl_fit_rates(ctx, d, &fo, &r), FITCL_OK, "%s: %s", be[i].name, fitcl_errmsg(ctx));
      cr_assert(r.converged, "%s K=%d: %s", be[i].name, K, r.status);
      if (K == 3 && i == 0) ref = r;
      if (K == 3 && i > 0) {
        cr_assert(fitcl_test_close(r.loglik, ref.loglik, 1e-10), "%s: %.15g vs %.15g", be[i].name, r.loglik, ref.loglik);
        cr_assert(fitcl_test_close(r.gain, ref.gain, 1e-5), "%s gain %.10g vs %.10g", be[i].name, r.gain, ref.gain);
        cr_assert(fitcl_test_close(r.loss, ref.loss, 1e-5));
        cr_assert(fitcl_test_close(r.alpha, ref.alpha, 1e-4));
        cr_assert(fitcl_test_close(r.se_gain, ref.se_gain, 1e-3));
      }
    }
    fitcl_context_destroy(ctx);
  }
  fitcl_data_destroy(d);
}

Test(fit, cli_table_and_json) {
  char *dir = fitcl_test_tmpdir();
  char *tree = fitcl_test_write_file(dir, "t.nwk", FITCL_TEST_TREE12);
  char *mat = NULL;
  {
    size_t len = strlen(dir) + 16;
    mat = malloc(len);
    snprintf(mat, len, "%s/m.Rtab", dir);
  }
  const char *sim[] = {"fitcl", "simulate", "--tree", tree, "--gain", "0.5", "--loss", "1",
                       "--families", "300", "--condition", "--seed", "5", "-o", mat, NULL};
  const char *env[] = {"FITCL_DEVICE=cpu", NULL};
  char *out = NULL, *err = NULL;
  cr_assert_eq(fitcl_test_run_cli(sim, env, &out, &err), 0, "%s", err);
  free(out); free(err);
  const char *fit[] = {"fitcl", "fit", "--tree", tree, "--matrix", mat, "--json", NULL};
  cr_assert_eq(fitcl_test_run_cli(fit, env, &out, &err), 0, "%s", err);
  const char *keys[] = {"\"loglik\":", "\"params\":{\"gain\":", "\"stderr\":{\"gain\":",
                        "\"iterations\":", "\"converged\":true", "\"backend\":\"cpu\"", "\"seconds\":"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; ++i)
    cr_assert_not_null(strstr(out, keys[i]), "missing %s in %s", keys[i], out);
  free(out); free(err);
  const char *fit2[] = {"fitcl", "fit", "--tree", tree, "--matrix", mat, NULL};
  cr_assert_eq(fitcl_test_run_cli(fit2, env, &out, &err), 0, "%s", err);
  cr_assert_not_null(strstr(out, "log-likelihood"));
  free(out); free(err);
  const char *bad[] = {"fitcl", "fit", "--tree", tree, NULL};
  cr_assert_eq(fitcl_test_run_cli(bad, env, &out, &err), 2);
  cr_assert_not_null(strstr(err, "--matrix"));
  free(out); free(err);
  fitcl_test_rmtree(dir);
  free(tree); free(mat); free(dir);
}

/* --prune-missing and --taxa-in-rows reach the readers: a tree tip absent
 * from the matrix is an error without the flag and pruned with it, and the
 * transposed matrix gives the same fit. */
Test(fit, cli_input_options) {
  char *dir = fitcl_test_tmpdir();
  char *tree = fitcl_test_write_file(dir, "t.nwk", "((A:0.3,B:0.2):0.1,(C:0.4,(D:0.1,X:0.2):0.3):0.2);\n");
  char *rows = fitcl_test_write_file(dir, "m.Rtab",
                                     "Gene\tA\tB\tC\tD\nf1\t1\t1\t0\t1\nf2\t0\t1\t1\t1\nf3\t1\t0\t0\t0\n"
                                     "f4\t1\t1\t1\t1\nf5\t0\t0\t1\t1\n");
  char *cols = fitcl_test_write_file(dir, "mt.tsv",
                                     "Genome\tf1\tf2\tf3\tf4\tf5\nA\t1\t0\t1\t1\t0\nB\t1\t1\t0\t1\t0\n"
                                     "C\t0\t1\t0\t1\t1\nD\t1\t1\t0\t1\t1\n");
  const char *env[] = {"FITCL_DEVICE=cpu", NULL};
  char *out = NULL, *err = NULL;
  const char *a1[] = {"fitcl", "fit", "--tree", tree, "--matrix", rows, NULL};
  cr_assert_eq(fitcl_test_run_cli(a1, env, NULL, &err), 2, "%s", err);
  cr_assert(strstr(err, "X"), "names the unmatched tip: %s", err);
  free(err);
  const char *a2[] = {"fitcl", "fit", "--tree", tree, "--matrix", rows, "--prune-missing", "--json", NULL};
  cr_assert_eq(fitcl_test_run_cli(a2, env, &out, &err), 0, "%s", err);
  const char *a3[] = {"fitcl", "fit", "--tree", tree, "--matrix", cols, "--taxa-in-rows", "--prune-missing", "--json", NULL};
  char *out2 = NULL;
  cr_assert_eq(fitcl_test_run_cli(a3, env, &out2, NULL), 0);
  const char *ll1 = strstr(out, "\"loglik\""), *ll2 = strstr(out2, "\"loglik\"");
  cr_assert(ll1 && ll2);
  cr_assert_eq(strtod(ll1 + 9, NULL), strtod(ll2 + 9, NULL), "%s vs %s", out, out2);
  free(out);
  free(out2);
  free(err);
  fitcl_test_rmtree(dir);
  free(dir);
  free(tree);
  free(rows);
  free(cols);
}
