/* The likelihood from a data set built by the readers: per-family values,
 * rate groups (the retention-test setting), and the group multipliers'
 * gradient, on both backends. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "fitcl.h"
#include "lik_fixture.h"
#include "test_util.h"

static const char *tree_txt = "((A:0.1,B:0.2):0.05,(C:0.3,D:0.1):0.2);";
static const char *mat_txt =
  "Gene\tA\tB\tC\tD\n"
  "f1\t1\t1\t0\t1\n"
  "f2\t1\t0\t0\t0\n"
  "f3\t1\t1\t1\t1\n"
  "f4\t1\t1\t0\t1\n"
  "f5\t0\t0\tNA\t1\n"
  "f6\t1\t0\t0\t0\n";

static fitcl_data *load(const int *groups) {
  char err[512];
  fitcl_tree *t = NULL;
  fitcl_pamatrix *m = NULL;
  fitcl_data *d = NULL;
  cr_assert_eq(fitcl_tree_parse(tree_txt, &t, err, sizeof err), FITCL_OK, "%s", err);
  cr_assert_eq(fitcl_pamatrix_parse(mat_txt, strlen(mat_txt), "m.Rtab", NULL, &m, err, sizeof err),
               FITCL_OK, "%s", err);
  fitcl_data_options o = {0};
  o.groups = groups;
  cr_assert_eq(fitcl_data_build(t, m, &o, &d, err, sizeof err), FITCL_OK, "%s", err);
  fitcl_pamatrix_destroy(m);
  fitcl_tree_destroy(t);
  return d;
}

/* ((A,B),(C,D)) in the fixture's numbering, for the brute force. */
static void ref_tree(fitcl__tree *t) {
  static const int parent[] = {4, 4, 5, 5, 6, 6};
  static const double bl[] = {0.1, 0.2, 0.3, 0.1, 0.05, 0.2};
  fx_tree(t, 4, 7, parent, bl);
}

static const uint8_t fam[6][4] = {{1, 1, 0, 1}, {1, 0, 0, 0}, {1, 1, 1, 1},
                                  {1, 1, 0, 1}, {0, 0, 2, 1}, {1, 0, 0, 0}};

Test(lik_data, family_logliks_and_groups) {
  const int groups[6] = {0, 1, 0, 1, 0, 1};
  fitcl_data *d = load(groups);
  fitcl__tree t;
  ref_tree(&t);
  const double g = 0.6, l = 0.9, theta[2] = {1.0, 2.5};
  static const uint8_t absent[4] = {0, 0, 0, 0};
  fitcl_test_backend be[2];
  size_t nb = fitcl_test_backends(be, 2);
  for (size_t b = 0; b < nb; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    fitcl_lik *lik = NULL;
    cr_assert_eq(fitcl_lik_create(ctx, d, NULL, &lik), FITCL_OK, "%s", fitcl_errmsg(ctx));
    cr_assert_eq(fitcl_lik_ngroups(lik), 2);
    cr_expect_eq(fitcl_lik_nfamilies(lik), 6);
    fitcl_gl_params p = {g, l, 1.0, theta, NULL};
    double ll, grad[5];
    cr_assert_eq(fitcl_lik_eval(lik, &p, &ll, grad), FITCL_OK);
    double per[6], total = 0;
    cr_assert_eq(fitcl_lik_family_logliks(lik, per, 6), FITCL_OK);
    for (int f = 0; f < 6; ++f) {
      const double lg = l * theta[groups[f]], pi1 = g / (g + lg);
      const double p0 = fx_brute_pattern(&t, absent, g, lg, pi1);
      const double ref = log(fx_brute_pattern(&t, fam[f], g, lg, pi1)) - log1p(-p0);
      cr_expect(fitcl_test_close(per[f], ref, 1e-12), "%s family %d: %.17g vs %.17g", be[b].name, f,
                per[f], ref);
      total += ref;
    }
    cr_expect(fitcl_test_close(ll, total, 1e-12), "%s total %.17g vs %.17g", be[b].name, ll, total);
    /* d/dlog l is the sum of the group components. */
    cr_expect(fabs(grad[1] - (grad[3] + grad[4])) <= 1e-12 * (1 + fabs(grad[1])));
    fitcl_lik_destroy(lik);
    fitcl_context_destroy(ctx);
  }
  fx_tree_free(&t);
  fitcl_data_destroy(d);
}
