/* The consuming paths (fitcl_data_build_take, fitcl_lik_create_take,
 * fitcl_fit_rates_take) against the copying ones they stand for: the same
 * data set, the same log-likelihood and gradient bits on every backend,
 * the same fit. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "test_util.h"

static double rnd(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(*s >> 11) * (1.0 / 9007199254740992.0);
}

/* A random rooted binary tree over tips t1..tN, as Newick. */
static char *random_newick(int ntips, uint64_t *seed) {
  char **node = malloc(sizeof(char *) * (size_t)ntips);
  for (int i = 0; i < ntips; ++i) {
    node[i] = malloc(32);
    snprintf(node[i], 32, "t%d:%.4f", i + 1, 0.02 + 0.3 * rnd(seed));
  }
  int n = ntips;
  while (n > 1) {
    int i = (int)(rnd(seed) * n);
    char *a = node[i];
    node[i] = node[--n];
    int j = (int)(rnd(seed) * n);
    char *b = node[j];
    node[j] = node[--n];
    size_t len = strlen(a) + strlen(b) + 32;
    char *c = malloc(len);
    if (n > 0) snprintf(c, len, "(%s,%s):%.4f", a, b, 0.02 + 0.3 * rnd(seed));
    else snprintf(c, len, "(%s,%s);", a, b);
    free(a);
    free(b);
    node[n++] = c;
  }
  char *out = node[0];
  free(node);
  return out;
}

/* nf families over the tree's tips and `extra` taxa the tree lacks, the
 * taxa in a shuffled order; some families repeat earlier ones, so patterns
 * carry weights. */
static fitcl_pamatrix *random_matrix(size_t nf, int ntips, int extra, uint64_t *seed) {
  const size_t nt = (size_t)(ntips + extra);
  char **names = malloc(sizeof(char *) * nt);
  for (size_t t = 0; t < nt; ++t) {
    names[t] = malloc(16);
    snprintf(names[t], 16, "t%zu", t + 1);
  }
  for (size_t t = nt - 1; t > 0; --t) {
    size_t k = (size_t)(rnd(seed) * (double)(t + 1));
    char *x = names[t];
    names[t] = names[k];
    names[k] = x;
  }
  uint8_t *v = malloc(nf * nt);
  for (size_t f = 0; f < nf; ++f) {
    if (f > 0 && rnd(seed) < 0.2) {
      memcpy(v + f * nt, v + (size_t)(rnd(seed) * (double)f) * nt, nt);
      continue;
    }
    const double pr = 0.1 + 0.8 * rnd(seed);
    for (size_t t = 0; t < nt; ++t) {
      const double r = rnd(seed);
      v[f * nt + t] = r < 0.03 ? FITCL_PA_MISSING : r < 0.03 + 0.97 * pr ? FITCL_PA_PRESENT
                                                                         : FITCL_PA_ABSENT;
    }
    /* Observed somewhere on the tree: at a taxon t1..tN. */
    for (;;) {
      const size_t t = (size_t)(rnd(seed) * (double)nt);
      if (atoi(names[t] + 1) > ntips) continue;
      v[f * nt + t] = FITCL_PA_PRESENT;
      break;
    }
  }
  fitcl_pamatrix *m = NULL;
  char err[256];
  cr_assert_eq(fitcl_pamatrix_create(nf, nt, v, NULL, (const char *const *)names, &m, err,
                                     sizeof err),
               FITCL_OK, "%s", err);
  for (size_t t = 0; t < nt; ++t) free(names[t]);
  free(names);
  free(v);
  return m;
}

static void expect_same_data(const fitcl_data *a, const fitcl_data *b) {
  cr_assert_eq(fitcl_data_nfamilies(a), fitcl_data_nfamilies(b));
  cr_assert_eq(fitcl_data_npatterns(a), fitcl_data_npatterns(b));
  cr_assert_eq(fitcl_data_ntaxa(a), fitcl_data_ntaxa(b));
  cr_assert_eq(fitcl_data_ngroups(a), fitcl_data_ngroups(b));
  for (size_t f = 0; f < fitcl_data_nfamilies(a); ++f) {
    cr_assert_str_eq(fitcl_data_family_name(a, f), fitcl_data_family_name(b, f));
    cr_assert_eq(fitcl_data_family_group(a, f), fitcl_data_family_group(b, f));
    cr_assert_eq(fitcl_data_family_pattern(a, f), fitcl_data_family_pattern(b, f));
  }
  for (size_t p = 0; p < fitcl_data_npatterns(a); ++p) {
    cr_assert_eq(fitcl_data_pattern_weight(a, p), fitcl_data_pattern_weight(b, p));
    for (int t = 0; t < fitcl_data_ntaxa(a); ++t)
      cr_assert_eq(fitcl_data_pattern_state(a, p, t), fitcl_data_pattern_state(b, p, t),
                   "pattern %zu taxon %d", p, t);
  }
}

/* Two data sets from the same inputs: copied (*copy) and taken (*taken). */
static void build_both(size_t nf, int ntips, int extra, int ngroups, uint64_t *seed,
                       fitcl_tree **tree, fitcl_data **copy, fitcl_data **taken) {
  char *nwk = random_newick(ntips, seed);
  char err[512];
  cr_assert_eq(fitcl_tree_parse(nwk, tree, err, sizeof err), FITCL_OK, "%s", err);
  free(nwk);
  fitcl_pamatrix *m = random_matrix(nf, ntips, extra, seed);
  int *groups = NULL;
  if (ngroups > 1) {
    groups = malloc(sizeof(int) * nf);
    for (size_t f = 0; f < nf; ++f) groups[f] = (int)(rnd(seed) * ngroups);
  }
  fitcl_data_options o = {0};
  o.ignore_extra_taxa = extra > 0;
  o.groups = groups;
  cr_assert_eq(fitcl_data_build(*tree, m, &o, copy, err, sizeof err), FITCL_OK, "%s", err);
  cr_assert_eq(fitcl_data_build_take(*tree, &m, &o, taken, err, sizeof err), FITCL_OK, "%s",
               err);
  cr_assert_null(m);
  free(groups);
}

Test(data_take, same_data_set_as_the_copying_build) {
  uint64_t seed = 11;
  const int tips[] = {2, 5, 37, 130};
  for (size_t k = 0; k < sizeof tips / sizeof *tips; ++k)
    for (int extra = 0; extra <= 3; extra += 3)
      for (int ng = 1; ng <= 3; ng += 2) {
        fitcl_tree *tree = NULL;
        fitcl_data *a = NULL, *b = NULL;
        build_both(3000, tips[k], extra, ng, &seed, &tree, &a, &b);
        expect_same_data(a, b);
        fitcl_data_destroy(a);
        fitcl_data_destroy(b);
        fitcl_tree_destroy(tree);
      }
}

Test(data_take, takes_the_matrix_on_failure_too) {
  uint64_t seed = 3;
  fitcl_tree *tree = NULL;
  char err[512] = "";
  cr_assert_eq(fitcl_tree_parse("((a:1,b:1):1,c:1);", &tree, err, sizeof err), FITCL_OK);
  fitcl_pamatrix *m = random_matrix(10, 4, 0, &seed); /* taxa t1..t4: no name matches */
  fitcl_data *d = NULL;
  cr_assert_eq(fitcl_data_build_take(tree, &m, NULL, &d, err, sizeof err), FITCL_ERR_MISMATCH);
  cr_assert_null(m);
  cr_assert_null(d);
  cr_assert(strstr(err, "tree and matrix taxa differ") != NULL, "%s", err);
  fitcl_pamatrix *none = NULL;
  cr_assert_eq(fitcl_data_build_take(tree, &none, NULL, &d, err, sizeof err), FITCL_ERR_NULL);
  cr_assert_eq(fitcl_data_build_take(tree, NULL, NULL, &d, err, sizeof err), FITCL_ERR_NULL);
  fitcl_tree_destroy(tree);
}

/* More patterns than one run of the pthreads backend's consuming tip
 * masks (16,384), so rows are given back several times, groups
 * interleaved or not, with and without rate categories. */
Test(lik_take, same_bits_as_the_copying_handle) {
  fitcl_test_backend be[4];
  const size_t nbe = fitcl_test_backends(be, 4);
  for (int ng = 1; ng <= 3; ng += 2)
    for (size_t i = 0; i < nbe; ++i)
      for (int cats = 1; cats <= 4; cats += 3) {
        uint64_t seed = 29 + (uint64_t)ng;
        fitcl_tree *tree = NULL;
        fitcl_data *a = NULL, *b = NULL;
        build_both(50000, 24, 2, ng, &seed, &tree, &a, &b);
        cr_assert_gt(fitcl_data_npatterns(a), 2 * 16384);
        fitcl_context *ctx = fitcl_test_context(be[i].selector);
        fitcl_lik_options o = {0};
        o.gamma_cats = cats;
        fitcl_lik *la = NULL, *lb = NULL;
        cr_assert_eq(fitcl_lik_create(ctx, a, &o, &la), FITCL_OK, "%s", fitcl_errmsg(ctx));
        cr_assert_eq(fitcl_lik_create_take(ctx, &b, &o, &lb), FITCL_OK, "%s", fitcl_errmsg(ctx));
        cr_assert_null(b);
        cr_assert_eq(fitcl_lik_npatterns(la), fitcl_lik_npatterns(lb));
        cr_assert_eq(fitcl_lik_nfamilies(la), fitcl_lik_nfamilies(lb));
        const size_t n = fitcl_lik_grad_size(la);
        cr_assert_eq(n, fitcl_lik_grad_size(lb));
        double *ga = calloc(n, sizeof(double)), *gb = calloc(n, sizeof(double));
        const double theta[3] = {1.0, 0.6, 1.7};
        const fitcl_gl_params ps[2] = {{0.4, 0.9, 0.7, NULL, NULL},
                                       {1.3, 0.5, 2.0, ng > 1 ? theta : NULL, NULL}};
        for (int k = 0; k < 2; ++k) {
          double lla = 0, llb = 1;
          cr_assert_eq(fitcl_lik_eval(la, &ps[k], &lla, ga), FITCL_OK, "%s", fitcl_errmsg(ctx));
          cr_assert_eq(fitcl_lik_eval(lb, &ps[k], &llb, gb), FITCL_OK, "%s", fitcl_errmsg(ctx));
          cr_assert(isfinite(lla) && lla < 0);
          cr_assert_eq(memcmp(&lla, &llb, sizeof lla), 0,
                       "%s, %d groups, %d categories: %.17g against %.17g", be[i].name, ng, cats,
                       lla, llb);
          cr_assert_eq(memcmp(ga, gb, n * sizeof(double)), 0, "%s: gradient", be[i].name);
        }
        free(ga);
        free(gb);
        fitcl_lik_destroy(la);
        fitcl_lik_destroy(lb);
        fitcl_context_destroy(ctx);
        fitcl_data_destroy(a);
        fitcl_tree_destroy(tree);
      }
}

Test(lik_take, takes_the_data_on_failure_too) {
  uint64_t seed = 7;
  fitcl_tree *tree = NULL;
  fitcl_data *a = NULL, *b = NULL;
  build_both(50, 6, 0, 1, &seed, &tree, &a, &b);
  fitcl_lik *L = NULL;
  cr_assert_eq(fitcl_lik_create_take(NULL, &b, NULL, &L), FITCL_ERR_NULL);
  cr_assert_null(b);
  cr_assert_null(L);
  fitcl_context *ctx = fitcl_test_context("cpu");
  fitcl_lik_options o = {0};
  o.gamma_cats = 65;
  cr_assert_eq(fitcl_lik_create_take(ctx, &a, &o, &L), FITCL_ERR_RANGE);
  cr_assert_null(a);
  cr_assert_null(L);
  fitcl_context_destroy(ctx);
  fitcl_tree_destroy(tree);
}

Test(fit_take, same_fit_as_the_copying_one) {
  fitcl_test_backend be[4];
  const size_t nbe = fitcl_test_backends(be, 4);
  for (size_t i = 0; i < nbe; ++i) {
    uint64_t seed = 41;
    fitcl_tree *tree = NULL;
    fitcl_data *a = NULL, *b = NULL;
    build_both(20000, 16, 0, 1, &seed, &tree, &a, &b);
    fitcl_context *ctx = fitcl_test_context(be[i].selector);
    fitcl_fit_options o = {0};
    o.gamma_cats = 2;
    fitcl_fit_result ra, rb;
    cr_assert_eq(fitcl_fit_rates(ctx, a, &o, &ra), FITCL_OK, "%s", fitcl_errmsg(ctx));
    cr_assert_eq(fitcl_fit_rates_take(ctx, &b, &o, &rb), FITCL_OK, "%s", fitcl_errmsg(ctx));
    cr_assert_null(b);
    cr_assert_eq(ra.evaluations, rb.evaluations);
    const double va[] = {ra.loglik, ra.gain, ra.loss, ra.alpha, ra.se_gain, ra.se_loss};
    const double vb[] = {rb.loglik, rb.gain, rb.loss, rb.alpha, rb.se_gain, rb.se_loss};
    cr_assert_eq(memcmp(va, vb, sizeof va), 0, "%s: %.17g %.17g against %.17g %.17g",
                 be[i].name, ra.loglik, ra.gain, rb.loglik, rb.gain);
    fitcl_context_destroy(ctx);
    fitcl_data_destroy(a);
    fitcl_tree_destroy(tree);
  }
}
