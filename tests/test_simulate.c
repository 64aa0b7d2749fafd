/* The gain/loss simulator against exact pattern probabilities, enumerated
 * by brute force over the internal states with an independent closed form
 * of P(t). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "phylo/patterns.h"
#include "phylo/simulate.h"
#include "core/stats.h"
#include "phylo/tree.h"
#include "test_util.h"

/* ((A:0.3,B:0.5):0.2,C:0.7): tips 0..2, inner node 3, root 4. */
static int parent3[] = {3, 3, 4, 4, -1};
static double brlen3[] = {0.3, 0.5, 0.7, 0.2, 0};
static int cstart3[] = {0, 0, 0, 0, 2, 4};
static int child3[] = {0, 1, 3, 2};
static char *label3[] = {"A", "B", "C", NULL, NULL};
static int level3[] = {0, 0, 0, 1, 2};

static struct fitcl_tree tree3(void) {
  struct fitcl_tree t;
  t.t = (fitcl__tree){3, 5, parent3, brlen3, cstart3, child3, label3, level3, 3};
  return t;
}

/* P(j | i, t) for gain g and loss l, from the matrix exponential of the
 * 2x2 generator written out directly. */
static double ptrans(int i, int j, double g, double l, double t) {
  double s = g + l, e = exp(-s * t);
  double p01 = g / s * (1 - e), p10 = l / s * (1 - e);
  if (i == 0) return j ? p01 : 1 - p01;
  return j ? 1 - p10 : p10;
}

/* Exact probability of tip pattern (a, b, c) on tree3. */
static double pattern_prob(int a, int b, int c, double g, double l, double rate) {
  double pi1 = g / (g + l), tot = 0;
  g *= rate;
  l *= rate;
  for (int r = 0; r < 2; ++r)
    for (int i = 0; i < 2; ++i)
      tot += (r ? pi1 : 1 - pi1) * ptrans(r, i, g, l, 0.2) * ptrans(i, a, g, l, 0.3) *
             ptrans(i, b, g, l, 0.5) * ptrans(r, c, g, l, 0.7);
  return tot;
}

/* Pearson chi-square of counts against expected probabilities. */
static double gof_pvalue(const double *count, const double *prob, int k, double n) {
  double x2 = 0;
  int df = -1;
  for (int i = 0; i < k; ++i) {
    if (prob[i] <= 0) continue;
    double e = n * prob[i];
    x2 += (count[i] - e) * (count[i] - e) / e;
    ++df;
  }
  return fitcl__chisq_sf(x2, df);
}

static void run_gof(double g, double l, int condition, int K, double alpha, double theta,
                    double frac) {
  struct fitcl_tree t = tree3();
  size_t n = 60000;
  unsigned char *s = malloc(n * 3), *ret = malloc(n);
  fitcl_sim_options o = {.gain = g, .loss = l, .families = n, .condition = condition,
                         .gamma_cats = K, .alpha = alpha, .seed = 12345,
                         .retained_fraction = frac, .effect = theta};
  cr_assert_eq(fitcl_simulate(NULL, &t, &o, s, ret), FITCL_OK);
  double rates[64] = {1};
  if (K > 1) cr_assert_eq(fitcl_gamma_rates(alpha, K, rates), FITCL_OK);
  int Kc = K > 1 ? K : 1;
  for (int grp = 0; grp < (frac > 0 ? 2 : 1); ++grp) {
    double count[8] = {0}, prob[8] = {0}, nfam = 0;
    double lg = grp ? l * theta : l;
    for (size_t f = 0; f < n; ++f) {
      if ((frac > 0) && ret[f] != grp) continue;
      cr_assert(s[3 * f] <= 1 && s[3 * f + 1] <= 1 && s[3 * f + 2] <= 1);
      count[s[3 * f] * 4 + s[3 * f + 1] * 2 + s[3 * f + 2]] += 1;
      nfam += 1;
    }
    for (int c = 0; c < Kc; ++c)
      for (int p = 0; p < 8; ++p)
        prob[p] += pattern_prob(p >> 2, (p >> 1) & 1, p & 1, g, lg, rates[c]) / Kc;
    if (condition) {
      cr_assert_eq(count[0], 0, "an all-absent family was written under conditioning");
      double z = 1 - prob[0];
      prob[0] = 0;
      for (int p = 1; p < 8; ++p) prob[p] /= z;
    }
    double pv = gof_pvalue(count, prob, 8, nfam);
    cr_assert_gt(pv, 1e-4, "group %d: goodness of fit p = %g", grp, pv);
  }
  if (frac > 0) {
    size_t k = 0;
    for (size_t f = 0; f < n; ++f) k += ret[f];
    cr_assert_eq(k, (size_t)llround(frac * (double)n));
  }
  free(s);
  free(ret);
}

Test(simulate, pattern_frequencies_plain) { run_gof(0.8, 1.5, 0, 1, 0, 1, 0); }
Test(simulate, pattern_frequencies_conditioned) { run_gof(0.2, 2.0, 1, 1, 0, 1, 0); }
Test(simulate, pattern_frequencies_retained_groups) { run_gof(0.8, 1.5, 0, 1, 0, 0.3, 0.25); }
Test(simulate, pattern_frequencies_gamma) { run_gof(0.8, 1.5, 0, 4, 0.5, 1, 0); }

Test(simulate, deterministic_for_a_seed) {
  struct fitcl_tree t = tree3();
  size_t n = 500;
  unsigned char *a = malloc(n * 3), *b = malloc(n * 3), *c = malloc(n * 3);
  fitcl_sim_options o = {.gain = 1, .loss = 1, .families = n, .seed = 7, .retained_fraction = 0.1,
                         .effect = 0.5};
  cr_assert_eq(fitcl_simulate(NULL, &t, &o, a, NULL), FITCL_OK);
  cr_assert_eq(fitcl_simulate(NULL, &t, &o, b, NULL), FITCL_OK);
  o.seed = 8;
  cr_assert_eq(fitcl_simulate(NULL, &t, &o, c, NULL), FITCL_OK);
  cr_assert_eq(memcmp(a, b, n * 3), 0);
  cr_assert_neq(memcmp(a, c, n * 3), 0);
  free(a);
  free(b);
  free(c);
}

Test(simulate, bad_options) {
  struct fitcl_tree t = tree3();
  unsigned char s[30];
  fitcl_sim_options o = {.gain = -1, .loss = 1, .families = 10, .seed = 1};
  cr_assert_eq(fitcl_simulate(NULL, &t, &o, s, NULL), FITCL_ERR_RANGE);
  o.gain = 1;
  o.retained_fraction = 1.5;
  cr_assert_eq(fitcl_simulate(NULL, &t, &o, s, NULL), FITCL_ERR_RANGE);
  o.retained_fraction = 0;
  o.gamma_cats = 4;
  cr_assert_eq(fitcl_simulate(NULL, &t, &o, s, NULL), FITCL_ERR_RANGE);   /* no alpha */
  /* Conditioning that can never be met is reported, not looped on. */
  fitcl_sim_options z = {.gain = 1e-300, .loss = 1, .families = 1, .seed = 1, .condition = 1};
  cr_assert_eq(fitcl_simulate(NULL, &t, &z, s, NULL), FITCL_ERR_DATA);
}

Test(simulate, missing_tips_kept) {
  struct fitcl_tree t = tree3();
  fitcl__sim_table tab;
  cr_assert_eq(fitcl__sim_table_build(&tab, &t.t, 1, 1, 1, NULL, 1, NULL), FITCL_OK);
  uint8_t miss[3] = {0, 1, 0}, scratch[5], tips[3];
  fitcl__rng r;
  fitcl__rng_init(&r, 1, 2);
  for (int i = 0; i < 1000; ++i) {
    cr_assert_eq(fitcl__simulate_family(&t.t, &tab, 0, 1, &r, miss, scratch, tips), 0);
    cr_assert_eq(tips[1], FITCL__MISSING);
    /* Conditioning counts only observed tips. */
    cr_assert(tips[0] == FITCL__PRESENT || tips[2] == FITCL__PRESENT);
  }
  fitcl__sim_table_free(&tab);
}

Test(simulate, subset_exact_and_uniform) {
  uint8_t mark[50];
  double hits[50] = {0};
  for (uint64_t s = 0; s < 2000; ++s) {
    fitcl__sample_subset(s, 50, 5, mark);
    int k = 0;
    for (int i = 0; i < 50; ++i) { k += mark[i]; hits[i] += mark[i]; }
    cr_assert_eq(k, 5);
  }
  /* Each item is chosen with probability 1/10: 200 of 2000 on average. */
  for (int i = 0; i < 50; ++i) cr_assert(fabs(hits[i] - 200) < 5 * sqrt(2000 * 0.1 * 0.9), "item %d: %g", i, hits[i]);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  b[fread(b, 1, (size_t)n, f)] = 0;
  fclose(f);
  return b;
}

Test(simulate, cli_rtab_truth_and_errors) {
  char *dir = fitcl_test_tmpdir();
  char *tree = fitcl_test_write_file(dir, "t.nwk", "((A:0.3,B:0.5):0.2,C:0.7);");
  char a[600], b[600], tr[600], bad[700];
  snprintf(a, sizeof a, "%s/a.Rtab", dir);
  snprintf(b, sizeof b, "%s/b.Rtab", dir);
  snprintf(tr, sizeof tr, "%s/truth.txt", dir);
  snprintf(bad, sizeof bad, "%s/no/such/dir/x.Rtab", dir);
  const char *env[] = {"FITCL_DEVICE=cpu", NULL};
  char *out = NULL, *err = NULL;
  const char *s1[] = {"fitcl", "simulate", "--tree", tree, "--gain", "0.5", "--loss", "1",
                      "--families", "40", "--retained-fraction", "0.25", "--effect", "0.3",
                      "--seed", "9", "-o", a, "--truth", tr, NULL};
  cr_assert_eq(fitcl_test_run_cli(s1, env, &out, &err), 0, "%s", err);
  free(out); free(err);
  const char *s2[] = {"fitcl", "simulate", "--tree", tree, "--gain", "0.5", "--loss", "1",
                      "--families", "40", "--retained-fraction", "0.25", "--effect", "0.3",
                      "--seed", "9", "-o", b, NULL};
  cr_assert_eq(fitcl_test_run_cli(s2, env, &out, &err), 0, "%s", err);
  free(out); free(err);
  char *ta = slurp(a), *tb = slurp(b), *tt = slurp(tr);
  cr_assert_str_eq(ta, tb, "same seed, different output");
  cr_assert(strncmp(ta, "Gene\tA\tB\tC\nfam0001\t", 19) == 0, "%s", ta);
  size_t lines = 0;
  for (char *c = ta; *c; ++c) lines += *c == '\n';
  cr_assert_eq(lines, 41);
  size_t names = 0;
  for (char *line = strtok(tt, "\n"); line; line = strtok(NULL, "\n"))
    if (line[0] != '#') {
      ++names;
      cr_assert(strncmp(line, "fam", 3) == 0, "%s", line);
    }
  cr_assert_eq(names, 10);
  free(ta); free(tb); free(tt);
  /* Bad values: one line, exit 2, nothing written. */
  const char *e1[] = {"fitcl", "simulate", "--tree", tree, "--gain", "-1", "--loss", "1",
                      "--families", "5", "--seed", "1", "-o", b, NULL};
  cr_assert_eq(fitcl_test_run_cli(e1, env, &out, &err), 2);
  cr_assert_not_null(strstr(err, "--gain"));
  free(out); free(err);
  const char *e2[] = {"fitcl", "simulate", "--tree", tree, "--gain", "1", "--loss", "1",
                      "--families", "5", "--seed", "1", "--gamma-cats", "4", "-o", b, NULL};
  cr_assert_eq(fitcl_test_run_cli(e2, env, &out, &err), 2);
  cr_assert_not_null(strstr(err, "--alpha"));
  free(out); free(err);
  const char *e3[] = {"fitcl", "simulate", "--tree", tree, "--gain", "1", "--loss", "1",
                      "--families", "5", "--seed", "1", "-o", bad, NULL};
  cr_assert_neq(fitcl_test_run_cli(e3, env, &out, &err), 0);
  free(out); free(err);
  fitcl_test_rmtree(dir);
  free(tree); free(dir);
}
