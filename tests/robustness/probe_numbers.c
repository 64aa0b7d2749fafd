/* Robustness: extreme trees and values.  Star trees past the point where a
 * product of contributions underflows, zero branch lengths, families
 * absent everywhere under conditioning, huge gamma shapes, and the deep
 * caterpillars that already worked: each gives the right value (checked
 * against an independent computation) or one clear error, on every
 * backend (issue 18, causes 4-5). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "box.h"
#include "core/util.h"

static double json_number(const char *json, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(json, pat);
  cr_assert_not_null(p, "no %s in %s", key, json);
  p += strlen(pat);
  cr_assert(strncmp(p, "null", 4) != 0, "%s is null (not finite): %s", key, json);
  return strtod(p, NULL);
}

static int backends(const char **names) {
  names[0] = "cpu";
  if (!box_have_opencl()) return 1;
  names[1] = "opencl";
  return 2;
}

static double loglik_on(box *b, const char *device, const char *const *extra, int nextra) {
  snprintf(b->device, sizeof b->device, "%s", device);
  const char *argv[32] = {"loglik", "--tree", "../in/x.nwk", "--matrix", "../in/x.Rtab", "--json",
                          "--grad"};
  int n = 7;
  for (int i = 0; i < nextra; ++i) argv[n++] = extra[i];
  argv[n] = NULL;
  box_result r;
  box_opts o = {0};
  o.timeout = 600;
  box_run(b, &r, &o, argv);
  box_expect(&r, 0, "", device);
  double ll = json_number(r.out, "loglik");
  json_number(r.out, "log_gain");
  json_number(r.out, "log_loss");
  box_result_free(&r);
  return ll;
}

/* The conditioned log-likelihood of a star tree by hand: given the root,
 * the tips are independent, so each family needs two sums over tips. */
static double star_reference(int n, double t, double g, double l, const char *matrix) {
  const double pi1 = g / (g + l), pi0 = 1 - pi1, e = exp(-(g + l) * t);
  const double P00 = pi0 + pi1 * e, P01 = 1 - P00, P11 = pi1 + pi0 * e, P10 = 1 - P11;
  const double a0 = n * log(P00), a1 = n * log(P10);
  const double ma = fmax(a0, a1);
  const double absent = ma + log(pi0 * exp(a0 - ma) + pi1 * exp(a1 - ma));
  double total = 0;
  const char *line = strchr(matrix, '\n') + 1;
  while (*line) {
    int k = 0;
    const char *p = strchr(line, '\t');
    for (; *p && *p != '\n'; ++p) k += *p == '1';
    const double l0 = k * log(P01) + (n - k) * log(P00), l1 = k * log(P11) + (n - k) * log(P10);
    const double m = fmax(l0, l1);
    total += m + log(pi0 * exp(l0 - m) + pi1 * exp(l1 - m)) - log(-expm1(absent));
    line = *p ? p + 1 : p;
  }
  return total;
}

/* A node of more than 1075 children underflowed: loglik printed null with
 * exit 0 and fit refused.  1200 tips. */
Test(numbers, star_trees_of_any_arity) {
  box b;
  box_open(&b);
  const int n = 1200;
  char *tree = box_star(n, 0.1), *matrix = box_matrix(n, 6, 17);
  box_printf(&b, "in/x.nwk", "%s", tree);
  box_printf(&b, "in/x.Rtab", "%s", matrix);
  const double ref = star_reference(n, 0.1, 1.0, 1.0, matrix);
  const char *names[2];
  int nb = backends(names);
  const char *rates[] = {"--gain", "1", "--loss", "1"};
  for (int i = 0; i < nb; ++i) {
    double ll = loglik_on(&b, names[i], rates, 4);
    cr_expect(fabs(ll - ref) <= 1e-10 * fabs(ref), "%s: star loglik %.17g, by hand %.17g", names[i],
              ll, ref);
  }
  snprintf(b.device, sizeof b.device, "cpu");
  BOX_EXPECT(&b, 0, "", "fit", "--tree", "../in/x.nwk", "--matrix", "../in/x.Rtab");
  free(tree);
  free(matrix);
  box_close(&b);
}

Test(numbers, zero_branch_lengths) {
  box b;
  box_open(&b);
  box_printf(&b, "in/x.nwk", "((A:0,B:0):0,(C:0.2,D:0):0.1);\n");
  /* Consistent data on zero lengths: a finite value on every backend. */
  box_printf(&b, "in/x.Rtab", "Gene\tA\tB\tC\tD\nf1\t1\t1\t0\t1\nf2\t0\t0\t1\t1\nf3\t1\t1\t1\t0\n");
  const char *names[2];
  int nb = backends(names);
  const char *rates[] = {"--gain", "0.5", "--loss", "1"};
  double ll[2];
  for (int i = 0; i < nb; ++i) ll[i] = loglik_on(&b, names[i], rates, 4);
  if (nb == 2) cr_expect(fabs(ll[0] - ll[1]) <= 1e-12 * fabs(ll[0]), "%.17g vs %.17g", ll[0], ll[1]);
  /* A family that differs across a zero-length path: likelihood 0 for any
   * rates (it gave -nan): one clear error. */
  box_printf(&b, "in/x.Rtab", "Gene\tA\tB\tC\tD\nf1\t1\t0\t0\t1\n");
  snprintf(b.device, sizeof b.device, "cpu");
  BOX_EXPECT(&b, 2, "joins by branches of length 0", "loglik", "--tree", "../in/x.nwk", "--matrix",
             "../in/x.Rtab", "--gain", "0.5", "--loss", "1");
  BOX_EXPECT(&b, 2, "joins by branches of length 0", "fit", "--tree", "../in/x.nwk", "--matrix",
             "../in/x.Rtab");
  box_close(&b);
}

Test(numbers, families_absent_everywhere_under_conditioning) {
  box b;
  box_open(&b);
  box_printf(&b, "in/x.nwk", "((A:0.1,B:0.2):0.3,(C:0.2,D:0.1):0.1);\n");
  box_printf(&b, "in/x.Rtab", "Gene\tA\tB\tC\tD\nf1\t0\t0\t0\t0\nf2\t0\t?\t0\t0\n");
  /* It gave a positive log-likelihood, and fit drove gain to 0. */
  BOX_EXPECT(&b, 2, "present at no tip", "loglik", "--tree", "../in/x.nwk", "--matrix",
             "../in/x.Rtab", "--gain", "0.5", "--loss", "1");
  BOX_EXPECT(&b, 2, "present at no tip", "fit", "--tree", "../in/x.nwk", "--matrix",
             "../in/x.Rtab");
  const char *argv[] = {"loglik", "--tree", "../in/x.nwk", "--matrix", "../in/x.Rtab", "--gain",
                        "0.5", "--loss", "1", "--no-condition", "--json", NULL};
  box_result r;
  box_run(&b, &r, NULL, argv);
  box_expect(&r, 0, "", "loglik --no-condition");
  cr_expect_lt(json_number(r.out, "loglik"), 0.0, "a log-likelihood is negative: %s", r.out);
  box_result_free(&r);
  box_close(&b);
}

/* Huge gamma shapes: the rates go to 1, so the log-likelihood goes to the
 * one-category value (it was silently wrong from about 1e9 on). */
Test(numbers, huge_gamma_shape) {
  box b;
  box_open(&b);
  FILE *f = fopen(box_path(&b, "in/t.nwk"), "rb");
  char tree[8192];
  size_t n = fread(tree, 1, sizeof tree - 1, f);
  fclose(f);
  tree[n] = '\0';
  box_printf(&b, "in/x.nwk", "%s", tree);
  f = fopen(box_path(&b, "in/m.Rtab"), "rb");
  fitcl__buf m = {0};
  char chunk[65536];
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) fitcl__buf_append(&m, chunk, n);
  fclose(f);
  box_write(&b, "in/x.Rtab", m.data, m.len);
  fitcl__buf_free(&m);
  const char *names[2];
  int nb = backends(names);
  for (int i = 0; i < nb; ++i) {
    const char *one[] = {"--gain", "0.5", "--loss", "1"};
    const double ll1 = loglik_on(&b, names[i], one, 4);
    double prev = INFINITY;
    const char *alphas[] = {"1e4", "1e6", "1e9", "3e9", "1e12", "1e300"};
    for (int a = 0; a < 6; ++a) {
      const char *cats[] = {"--gain", "0.5", "--loss", "1", "--gamma-cats", "4", "--alpha", alphas[a]};
      const double ll = loglik_on(&b, names[i], cats, 8);
      /* The distance to the 1-category value shrinks like 1/alpha (about
       * 860/alpha for these data). */
      const double dist = fabs(ll - ll1), bound = 2e4 / atof(alphas[a]) + 1e-8;
      cr_expect(dist <= prev + 1e-9 && dist <= bound,
                "%s alpha %s: loglik %.17g, 1 category %.17g (previous distance %.3g)", names[i],
                alphas[a], ll, ll1, prev);
      prev = dist;
    }
  }
  box_close(&b);
}

/* Deep trees (these worked before and are kept): caterpillars of 20,000
 * tips on every backend, 200,000 on the pthreads one. */
Test(numbers, deep_caterpillars) {
  box b;
  box_open(&b);
  const char *names[2];
  int nb = backends(names);
  const int sizes[] = {20000, 200000};
  for (int s = 0; s < 2; ++s) {
    char *tree = box_caterpillar(sizes[s]), *matrix = box_matrix(sizes[s], 3, 5);
    box_printf(&b, "in/x.nwk", "%s", tree);
    box_printf(&b, "in/x.Rtab", "%s", matrix);
    free(tree);
    free(matrix);
    const char *rates[] = {"--gain", "0.5", "--loss", "1"};
    for (int i = 0; i < (s == 0 ? nb : 1); ++i) {
      const double ll = loglik_on(&b, names[i], rates, 4);
      cr_expect(isfinite(ll) && ll < 0, "%s, %d tips: loglik %g", names[i], sizes[s], ll);
    }
  }
  box_close(&b);
}
