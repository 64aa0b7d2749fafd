/* fitcl loglik end to end: files in, JSON out, compared with brute-force
 * enumeration on the same small tree; bad input exits 2 with one line. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "lik_fixture.h"
#include "test_util.h"

/* The number after "key": in a one-line JSON object (NaN when absent). */
static double json_number(const char *json, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *at = strstr(json, pat);
  return at ? strtod(at + strlen(pat), NULL) : NAN;
}

/* ((A:0.1,B:0.2):0.05,(C:0.3,D:0.1):0.2); in the fixture's numbering. */
static void small_tree(fitcl__tree *t) {
  static const int parent[] = {4, 4, 5, 5, 6, 6};
  static const double bl[] = {0.1, 0.2, 0.3, 0.1, 0.05, 0.2};
  fx_tree(t, 4, 7, parent, bl);
}

Test(lik_cli, json_matches_brute_force) {
  char *dir = fitcl_test_tmpdir();
  char *tp = fitcl_test_write_file(dir, "t.nwk", "((A:0.1,B:0.2):0.05,(C:0.3,D:0.1):0.2);\n");
  char *mp = fitcl_test_write_file(dir, "m.Rtab",
                                   "Gene\tA\tB\tC\tD\nf1\t1\t1\t0\t1\nf2\t1\t0\t0\t0\n"
                                   "f3\t1\t1\t1\t1\nf4\t1\t1\t0\t1\nf5\t0\t0\t?\t1\n");
  const char *argv[] = {"fitcl", "loglik", "--tree", tp, "--matrix", mp, "--gain", "0.5",
                        "--loss", "1.5", "--grad", "--json", NULL};
  const char *env[] = {"FITCL_DEVICE=cpu", NULL};
  char *out = NULL, *err = NULL;
  int rc = fitcl_test_run_cli(argv, env, &out, &err);
  cr_assert_eq(rc, 0, "rc %d, stderr: %s", rc, err);
  cr_assert(out && out[0] == '{', "not a JSON object: %s", out);
  double ll = json_number(out, "loglik");
  cr_expect_eq(json_number(out, "families"), 5);
  cr_expect_eq(json_number(out, "patterns"), 4);
  cr_expect(strstr(out, "\"backend\":") && strstr(out, "\"device\":"), "%s", out);
  cr_expect(isfinite(json_number(out, "seconds")));
  cr_expect(strstr(out, "\"gradient\":{") && isfinite(json_number(out, "log_gain")), "%s", out);
  fitcl__tree t;
  small_tree(&t);
  static const uint8_t pats[5][4] = {{1, 1, 0, 1}, {1, 0, 0, 0}, {1, 1, 1, 1}, {1, 1, 0, 1}, {0, 0, 2, 1}};
  static const uint8_t absent[4] = {0, 0, 0, 0};
  double pi1 = 0.5 / 2.0, ref = 0;
  double p0 = fx_brute_pattern(&t, absent, 0.5, 1.5, pi1);
  for (int f = 0; f < 5; ++f) ref += log(fx_brute_pattern(&t, pats[f], 0.5, 1.5, pi1)) - log1p(-p0);
  cr_expect(fitcl_test_close(ll, ref, 1e-12), "cli %.17g vs brute %.17g", ll, ref);
  fx_tree_free(&t);
  free(out);
  free(err);
  fitcl_test_rmtree(dir);
  free(tp);
  free(mp);
  free(dir);
}

Test(lik_cli, bad_input_exits_2) {
  char *dir = fitcl_test_tmpdir();
  char *tp = fitcl_test_write_file(dir, "t.nwk", "((A:0.1,B:0.2):0.05,(C:0.3,E:0.1):0.2);\n");
  char *mp = fitcl_test_write_file(dir, "m.Rtab", "Gene\tA\tB\tC\tD\nf1\t1\t1\t0\t1\n");
  const char *env[] = {"FITCL_DEVICE=cpu", NULL};
  const char *a1[] = {"fitcl", "loglik", "--tree", tp, "--matrix", mp, "--gain", "1", "--loss", "1", NULL};
  char *out = NULL, *err = NULL;
  cr_expect_eq(fitcl_test_run_cli(a1, env, &out, &err), 2, "name mismatch: %s", err);
  cr_expect(err && strchr(err, '\n') == strrchr(err, '\n'), "one line: %s", err);
  free(out); free(err);
  const char *a2[] = {"fitcl", "loglik", "--tree", tp, "--matrix", mp, "--gain", "-1", "--loss", "1", NULL};
  cr_expect_eq(fitcl_test_run_cli(a2, env, &out, &err), 2);
  free(out); free(err);
  const char *a3[] = {"fitcl", "loglik", "--tree", tp, "--gain", "1", "--loss", "1", NULL};
  cr_expect_eq(fitcl_test_run_cli(a3, env, &out, &err), 2);
  free(out); free(err);
  const char *a4[] = {"fitcl", "loglik", "--help", NULL};
  cr_expect_eq(fitcl_test_run_cli(a4, env, &out, &err), 0);
  cr_expect(out && strstr(out, "--gamma-cats"));
  free(out); free(err);
  fitcl_test_rmtree(dir);
  free(tp); free(mp); free(dir);
}
