/* Ancestral presence and expected gains/losses against brute-force
 * enumeration of every internal (and missing) state assignment. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "test_util.h"

static const char *TREE5 = "((A:0.2,B:0.4):0.3,(C:0.1,(D:0.25,E:0.5):0.15):0.2);";

static double ptrans(int i, int j, double g, double l, double t) {
  double s = g + l, e = exp(-s * t);
  double p01 = g / s * (1 - e), p10 = l / s * (1 - e);
  if (i == 0) return j ? p01 : 1 - p01;
  return j ? 1 - p10 : p10;
}

/* Brute force for one family: tips[] in tree tip order (0/1/2). */
static void brute(const fitcl_tree *t, const uint8_t *tips, double g, double l, int K,
                  const double *rates, double *post, double *gains, double *losses) {
  int nn = fitcl_tree_nnodes(t), nt = fitcl_tree_ntips(t), root = -1;
  for (int v = 0; v < nn; ++v)
    if (fitcl_tree_parent(t, v) < 0) root = v;
  double tot = 0;
  double *pv = calloc((size_t)nn, sizeof(double)), *gv = calloc((size_t)nn, sizeof(double)),
         *lv = calloc((size_t)nn, sizeof(double));
  for (unsigned a = 0; a < (1u << nn); ++a) {
    int ok = 1;
    for (int i = 0; i < nt && ok; ++i)
      if (tips[i] != 2 && (int)((a >> i) & 1) != tips[i]) ok = 0;
    if (!ok) continue;
    double j = 0;
    for (int c = 0; c < K; ++c) {
      double gc = g * rates[c], lc = l * rates[c], pi1 = g / (g + l);
      double p = ((a >> root) & 1) ? pi1 : 1 - pi1;
      for (int v = 0; v < nn; ++v) {
        int u = fitcl_tree_parent(t, v);
        if (u < 0) continue;
        p *= ptrans((a >> u) & 1, (a >> v) & 1, gc, lc, fitcl_tree_branch_length(t, v));
      }
      j += p / K;
    }
    tot += j;
    for (int v = 0; v < nn; ++v) {
      if ((a >> v) & 1) pv[v] += j;
      int u = fitcl_tree_parent(t, v);
      if (u < 0) continue;
      if (!((a >> u) & 1) && ((a >> v) & 1)) gv[v] += j;
      if (((a >> u) & 1) && !((a >> v) & 1)) lv[v] += j;
    }
  }
  for (int v = 0; v < nn; ++v) {
    post[v] = pv[v] / tot;
    gains[v] += gv[v] / tot;
    losses[v] += lv[v] / tot;
  }
  free(pv); free(gv); free(lv);
}

static void check(int K, double alpha) {
  char err[256];
  fitcl_tree *t = NULL;
  cr_assert_eq(fitcl_tree_parse(TREE5, &t, err, sizeof err), FITCL_OK, "%s", err);
  int nt = fitcl_tree_ntips(t), nn = fitcl_tree_nnodes(t);
  enum { NF = 7 };
  /* Columns in tree tip order; 2 = missing; two identical families share a
   * pattern and must get identical rows. */
  uint8_t v[NF * 5] = {1, 1, 0, 0, 0,  0, 0, 0, 0, 1,  1, 2, 1, 0, 1,  1, 1, 1, 1, 1,
                       0, 1, 2, 2, 0,  1, 1, 0, 0, 0,  0, 0, 0, 1, 0};
  int groups[NF] = {0, 1, 0, 1, 0, 0, 1};
  const char *taxa[5];
  for (int i = 0; i < nt; ++i) taxa[i] = fitcl_tree_tip_name(t, i);
  fitcl_pamatrix *m = NULL;
  cr_assert_eq(fitcl_pamatrix_create(NF, 5, v, NULL, taxa, &m, err, sizeof err), FITCL_OK, "%s", err);
  fitcl_data_options dopt = {.groups = groups};
  fitcl_data *d = NULL;
  cr_assert_eq(fitcl_data_build(t, m, &dopt, &d, err, sizeof err), FITCL_OK, "%s", err);
  const fitcl_tree *dt = fitcl_data_tree(d);
  double theta[2] = {1.0, 0.4};
  fitcl_gl_params p = {.gain = 0.7, .loss = 1.3, .alpha = alpha, .loss_mult = theta};
  fitcl_ancestral_result r;
  cr_assert_eq(fitcl_ancestral(NULL, d, &p, K, &r), FITCL_OK);
  cr_assert_eq(r.families, NF);
  cr_assert_eq(r.nodes, nn);
  double rates[64] = {1};
  if (K > 1) cr_assert_eq(fitcl_gamma_rates(alpha, K, rates), FITCL_OK);
  double post[16], gains[16] = {0}, losses[16] = {0};
  for (int f = 0; f < NF; ++f) {
    brute(dt, v + 5 * f, p.gain, p.loss * theta[groups[f]], K > 1 ? K : 1, rates, post, gains, losses);
    for (int u = 0; u < nn; ++u)
      cr_assert(fabs(r.p_present[f * nn + u] - post[u]) < 1e-12, "K %d family %d node %d: %.15g vs %.15g",
                K, f, u, r.p_present[f * nn + u], post[u]);
  }
  for (int u = 0; u < nn; ++u) {
    cr_assert(fabs(r.gains[u] - gains[u]) < 1e-11, "gains node %d: %g vs %g", u, r.gains[u], gains[u]);
    cr_assert(fabs(r.losses[u] - losses[u]) < 1e-11, "losses node %d: %g vs %g", u, r.losses[u], losses[u]);
  }
  fitcl_ancestral_free(&r);
  fitcl_ancestral_free(&r);   /* safe twice */
  fitcl_data_destroy(d);
  fitcl_pamatrix_destroy(m);
  fitcl_tree_destroy(t);
}

Test(ancestral, matches_brute_force) { check(1, 0); }
Test(ancestral, matches_brute_force_gamma) { check(4, 0.6); }

Test(ancestral, cli_writes_both_tables) {
  char *dir = fitcl_test_tmpdir();
  char *tree = fitcl_test_write_file(dir, "t.nwk", TREE5);
  char *mat = fitcl_test_write_file(dir, "m.tsv",
      "Gene\tA\tB\tC\tD\tE\nf1\t1\t1\t0\t0\t0\nf2\t0\t0\t1\t1\t1\nf3\t1\t0\t?\t1\t0\n");
  const char *argv[] = {"fitcl", "ancestral", "--tree", tree, "--matrix", mat, "--gain", "0.5",
                        "--loss", "1", NULL};
  const char *env[] = {"FITCL_DEVICE=cpu", NULL};
  char *out = NULL, *err = NULL;
  cr_assert_eq(fitcl_test_run_cli(argv, env, &out, &err), 0, "%s", err);
  cr_assert_not_null(strstr(out, "family\tnode"));
  cr_assert_not_null(strstr(out, "\nf3\t"));
  cr_assert_not_null(strstr(out, "node\tparent\tlength\texpected_gains\texpected_losses\n"));
  free(out); free(err);
  const char *fitted[] = {"fitcl", "ancestral", "--tree", tree, "--matrix", mat, NULL};
  cr_assert_eq(fitcl_test_run_cli(fitted, env, &out, &err), 0, "%s", err);
  cr_assert_not_null(strstr(err, "fitted gain"));
  free(out); free(err);
  const char *bad[] = {"fitcl", "ancestral", "--tree", tree, "--matrix", mat, "--gain", "0.5", NULL};
  cr_assert_eq(fitcl_test_run_cli(bad, env, &out, &err), 2);
  free(out); free(err);
  fitcl_test_rmtree(dir);
  free(tree); free(mat); free(dir);
}

/* --json carries the same numbers as the tables. */
Test(ancestral, cli_json_matches_tables) {
  const char *ex = FITCL_TEST_SOURCE_DIR "/examples/pangenome50";
  char tree[512], matrix[512];
  snprintf(tree, sizeof tree, "%s.nwk", ex);
  snprintf(matrix, sizeof matrix, "%s.Rtab", ex);
  const char *env[] = {"FITCL_DEVICE=cpu", NULL};
  const char *aj[] = {"fitcl", "ancestral", "--tree", tree, "--matrix", matrix, "--gain", "0.5",
                      "--loss", "0.8", "--json", NULL};
  const char *at[] = {"fitcl", "ancestral", "--tree", tree, "--matrix", matrix, "--gain", "0.5",
                      "--loss", "0.8", NULL};
  char *js = NULL, *tsv = NULL;
  cr_assert_eq(fitcl_test_run_cli(aj, env, &js, NULL), 0);
  cr_assert_eq(fitcl_test_run_cli(at, env, &tsv, NULL), 0);
  /* First family, first internal node: the TSV's second field of line 2. */
  const char *line2 = strchr(tsv, '\n') + 1;
  const char *field = strchr(line2, '\t') + 1;
  double want = strtod(field, NULL);
  const char *pp = strstr(js, "\"p_present\":[");
  cr_assert_not_null(pp, "%.200s", js);
  double got = strtod(pp + 13, NULL);
  cr_assert(fabs(got - want) <= 5e-6 * fmax(1.0, fabs(want)), "json %.9g vs tsv %.9g", got, want);
  cr_assert_not_null(strstr(js, "\"expected_gains\":"));
  free(js);
  free(tsv);
}
