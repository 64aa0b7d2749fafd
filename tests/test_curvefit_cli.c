/* fitcl curve-fit: JSON contract, built-in models, usage and input errors
 * (exit 2, one line naming what and where), and SIGINT -> checkpoint ->
 * exit 130 -> --resume giving the uninterrupted answer. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"
#include "npy_write.h"

#define NIST_DIR FITCL_TEST_SOURCE_DIR "/../shared/data/nist"

static const char *cpu_env[] = {"FITCL_DEVICE=cpu", NULL};

/* The number after "key": in a JSON text (first occurrence). */
static double json_num(const char *json, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(json, pat);
  cr_assert_not_null(p, "no %s in %s", pat, json);
  return strtod(p + strlen(pat), NULL);
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; ++s) n += *s == '\n';
  return n;
}

Test(curvefit_cli, help_and_json_contract) {
  char *out = NULL, *err = NULL;
  const char *help[] = {"fitcl", "curve-fit", "--help", NULL};
  cr_assert_eq(fitcl_test_run_cli(help, cpu_env, &out, &err), 0);
  cr_expect_not_null(strstr(out, "usage: fitcl curve-fit"));
  free(out);
  free(err);
  if (access(NIST_DIR "/Misra1a.csv", R_OK) != 0)
    cr_skip_test("NIST data not found at %s", NIST_DIR);
  const char *argv[] = {"fitcl", "curve-fit", "--data", NIST_DIR "/Misra1a.csv", "--model",
                        "b1*(1-exp(-b2*x))", "--p0", "b1=500,b2=0.0001", "--ftol", "1e-15",
                        "--xtol", "1e-15", "--json", NULL};
  int rc = fitcl_test_run_cli(argv, cpu_env, &out, &err);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
  static const char *keys[] = {"params", "stderr", "covariance", "cost", "rss", "reduced_chi2",
                               "iterations", "status", "converged", "points", "backend",
                               "seconds"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; ++i) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", keys[i]);
    cr_expect_not_null(strstr(out, pat), "JSON lacks %s: %s", keys[i], out);
  }
  cr_expect_eq(count_lines(out), 1, "one JSON object on one line: %s", out);
  cr_expect(fitcl_test_close(json_num(out, "b1"), 2.3894212918E+02, 1e-6), "%s", out);
  cr_expect(fitcl_test_close(json_num(out, "rss"), 0.12455138894, 1e-8), "%s", out);
  cr_expect_eq(json_num(out, "points"), 14);
  cr_expect_not_null(strstr(out, "\"converged\":true"));
  cr_expect_not_null(strstr(out, "\"backend\":\"cpu\""));
  free(out);
  free(err);
}

Test(curvefit_cli, builtin_model_on_tsv_with_bounds_and_loss) {
  char *dir = fitcl_test_tmpdir();
  size_t cap = 1 << 20, len = 0;
  char *t = malloc(cap);
  len += (size_t)snprintf(t, cap, "tau\tg\terr\n");
  for (int i = 0; i < 3000; ++i) {
    double x = 0.01 * i;
    double y = 1.7 * exp(-0.9 * x) + 0.25 + 0.001 * sin(13.0 * i);
    len += (size_t)snprintf(t + len, cap - len, "%.17g\t%.17g\t%g\n", x, y, 0.001);
  }
  char *p = fitcl_test_write_file(dir, "d.tsv", t);
  free(t);
  const char *argv[] = {"fitcl", "curve-fit", "--data", p, "--x", "tau", "--y", "g", "--sigma",
                        "err", "--model", "exp_decay", "--p0", "c=0,b=2,a=1", "--bounds",
                        "b=0:5,c=:1", "--loss", "soft_l1", "--f-scale", "3", "--absolute-sigma",
                        "--json", NULL};
  char *out = NULL, *err = NULL;
  int rc = fitcl_test_run_cli(argv, cpu_env, &out, &err);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
  cr_expect(fabs(json_num(out, "a") - 1.7) < 1e-3, "%s", out);
  cr_expect(fabs(json_num(out, "b") - 0.9) < 1e-3, "%s", out);
  cr_expect(fabs(json_num(out, "c") - 0.25) < 1e-3, "%s", out);
  free(out);
  free(err);
  free(p);
  fitcl_test_rmtree(dir);
  free(dir);
}

/* Runs the CLI expecting exit 2 and a single stderr line containing needle. */
static void expect_usage_error(const char *const *argv, const char *needle) {
  char *out = NULL, *err = NULL;
  int rc = fitcl_test_run_cli(argv, cpu_env, &out, &err);
  cr_expect_eq(rc, 2, "exit %d (stderr: %s)", rc, err);
  cr_expect_eq(count_lines(err), 1, "one line on stderr, got: %s", err);
  cr_expect_not_null(strstr(err, needle), "stderr '%s' lacks '%s'", err, needle);
  cr_expect_str_eq(out, "");
  free(out);
  free(err);
}

Test(curvefit_cli, bad_usage_and_bad_input_exit_2) {
  char *dir = fitcl_test_tmpdir();
  char *good = fitcl_test_write_file(dir, "good.csv", "x,y\n1,2\n2,3\n3,5\n4,6\n");
  char *ragged = fitcl_test_write_file(dir, "ragged.csv", "x,y\n1,2\n2,3\n3\n4,6\n");
  char *nan = fitcl_test_write_file(dir, "nan.csv", "x,y\n1,2\n2,NaN\n");
  {
    const char *a[] = {"fitcl", "curve-fit", "--model", "a*x", "--p0", "a=1", NULL};
    expect_usage_error(a, "--data");
  }
  {
    const char *a[] = {"fitcl", "curve-fit", "--data", good, "--model", "a*x+b", "--p0", "a=1",
                       "--loss", "l3", NULL};
    expect_usage_error(a, "--loss");
  }
  {
    const char *a[] = {"fitcl", "curve-fit", "--data", ragged, "--model", "a*x+b", "--p0",
                       "a=1,b=0", NULL};
    expect_usage_error(a, "ragged.csv:4");
  }
  {
    const char *a[] = {"fitcl", "curve-fit", "--data", nan, "--model", "a*x+b", "--p0",
                       "a=1,b=0", NULL};
    expect_usage_error(a, "nan.csv:3");
  }
  {
    const char *a[] = {"fitcl", "curve-fit", "--data", good, "--model", "a*x+b", "--p0",
                       "a=1,b=0", "--y", "z", NULL};
    expect_usage_error(a, "no column 'z'");
  }
  {
    const char *a[] = {"fitcl", "curve-fit", "--data", good, "--model", "exp_decay", "--p0",
                       "a=1,b=0", NULL};
    expect_usage_error(a, "'c'");
  }
  {
    const char *a[] = {"fitcl", "curve-fit", "--data", good, "--model", "a*x+b", "--p0",
                       "a=1,b=0", "--bounds", "a=2:3", NULL};
    expect_usage_error(a, "a=1");
  }
  {
    const char *a[] = {"fitcl", "curve-fit", "--data", good, "--model", "a*x+", "--p0",
                       "a=1", NULL};
    char *out = NULL, *err = NULL;
    cr_expect_eq(fitcl_test_run_cli(a, cpu_env, &out, &err), 2, "%s", err);
    free(out);
    free(err);
  }
  free(good);
  free(ragged);
  free(nan);
  fitcl_test_rmtree(dir);
  free(dir);
}

static char *write_npy2(const char *dir, size_t rows, const double *data) {
  char path[1024];
  snprintf(path, sizeof path, "%s/d.npy", dir);
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  fitcl_npy_write_header(f, "<f8", 0, rows, 2);
  fwrite(data, 8, rows * 2, f);
  fclose(f);
  return strdup(path);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return strdup("");
  char *b = calloc(1, 1 << 16);
  size_t n = fread(b, 1, (1 << 16) - 1, f);
  b[n] = 0;
  fclose(f);
  return b;
}

/* The "params":{...} object of a JSON text. */
static char *params_of(const char *json) {
  const char *p = strstr(json, "\"params\":{");
  cr_assert_not_null(p, "%s", json);
  const char *e = strchr(p, '}');
  return strndup(p, (size_t)(e - p + 1));
}

Test(curvefit_cli, sigint_writes_checkpoint_and_resume_matches, .timeout = 300) {
  enum { N = 2000000 };
  char *dir = fitcl_test_tmpdir();
  double *d = malloc(sizeof(double) * 2 * N);
  for (int i = 0; i < N; ++i) {
    double x = 10.0 * i / N;
    d[2 * i] = x;
    d[2 * i + 1] = 2 * exp(-1.3 * x) + 0.7 * exp(-0.15 * x) + 0.01 * sin(1e3 * x);
  }
  char *npy = write_npy2(dir, N, d);
  free(d);
  char ck[1024], errp[1024];
  snprintf(ck, sizeof ck, "%s/fit.ckpt", dir);
  snprintf(errp, sizeof errp, "%s/stderr.txt", dir);
  const char *model = "a*exp(-b*x)+c*exp(-d*x)", *p0 = "a=1,b=3,c=1,d=0.01";
  /* Uninterrupted reference. */
  const char *ref_argv[] = {"fitcl", "curve-fit", "--data", npy, "--model", model, "--p0", p0,
                            "--json", NULL};
  char *ref = NULL, *err = NULL;
  cr_assert_eq(fitcl_test_run_cli(ref_argv, cpu_env, &ref, &err), 0, "%s", err);
  free(err);
  /* Interrupted run: SIGINT once the third iteration is reported. */
  pid_t pid = fork();
  if (pid == 0) {
    FILE *e = freopen(errp, "w", stderr);
    (void)e;
    putenv((char *)"FITCL_DEVICE=cpu");
    execl(FITCL_CLI_PATH, FITCL_CLI_PATH, "curve-fit", "--data", npy, "--model", model, "--p0",
          p0, "--checkpoint", ck, "--checkpoint-every", "1", "--progress", "--json", (char *)NULL);
    _exit(127);
  }
  int signalled = 0;
  for (int waited = 0; waited < 120000 && !signalled; waited += 5) {
    char *s = slurp(errp);
    if (strstr(s, "iter    3")) {
      kill(pid, SIGINT);
      signalled = 1;
    }
    free(s);
    int st;
    if (!signalled && waitpid(pid, &st, WNOHANG) == pid) {
      cr_assert_fail("the fit ended before it could be interrupted (exit %d)", WEXITSTATUS(st));
    }
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  cr_assert(WIFEXITED(status), "the CLI died of a signal");
  char *s = slurp(errp);
  cr_expect_eq(WEXITSTATUS(status), 130, "exit %d, stderr: %s", WEXITSTATUS(status), s);
  cr_expect_not_null(strstr(s, "checkpoint written"), "%s", s);
  free(s);
  cr_assert_eq(access(ck, R_OK), 0, "no checkpoint");
  /* Resume. */
  const char *res_argv[] = {"fitcl", "curve-fit", "--data", npy, "--model", model, "--p0", p0,
                            "--resume", ck, "--json", NULL};
  char *res = NULL;
  cr_assert_eq(fitcl_test_run_cli(res_argv, cpu_env, &res, &err), 0, "%s", err);
  char *a = params_of(ref), *b = params_of(res);
  cr_expect_str_eq(a, b, "resumed %s, uninterrupted %s", b, a);
  cr_expect_eq(json_num(ref, "iterations"), json_num(res, "iterations"));
  free(a);
  free(b);
  free(ref);
  free(res);
  free(err);
  free(npy);
  fitcl_test_rmtree(dir);
  free(dir);
}

/* Quoted CSV: quoted header names, quoted numbers (spaces around one), a
 * note column with commas, a newline and escaped quotes inside quotes. */
Test(curvefit_cli, quoted_csv_fields) {
  char *dir = fitcl_test_tmpdir();
  char *p = fitcl_test_write_file(dir, "q.csv",
                                  "\"t (s)\",\"signal\",note\n"
                                  "\"0\",\"1\",\"start, cold\"\n"
                                  "1,\"3\",\"\"\n"
                                  "\"2\", \"5\" ,\"two\nlines\"\n"
                                  "3,7,\"say \"\"done\"\"\"\n");
  const char *argv[] = {"fitcl", "curve-fit", "--data", p, "--x", "t (s)", "--y", "signal",
                        "--model", "a*x+b", "--p0", "a=0,b=0", "--json", NULL};
  char *out = NULL, *err = NULL;
  int rc = fitcl_test_run_cli(argv, cpu_env, &out, &err);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
  cr_expect(fabs(json_num(out, "a") - 2) < 1e-9, "%s", out);
  cr_expect(fabs(json_num(out, "b") - 1) < 1e-9, "%s", out);
  cr_expect_eq(json_num(out, "points"), 4);
  free(out);
  free(err);
  /* A bad value after the quoted newline: its own line and column. */
  char *bad = fitcl_test_write_file(dir, "bad.csv",
                                    "x,y,note\n1,2,\"a\nb\"\n2,\"x3\",c\n");
  const char *a2[] = {"fitcl", "curve-fit", "--data", bad, "--model", "a*x+b", "--p0",
                      "a=0,b=0", NULL};
  rc = fitcl_test_run_cli(a2, cpu_env, &out, &err);
  cr_expect_eq(rc, 2, "exit %d: %s", rc, err);
  cr_expect_eq(count_lines(err), 1, "%s", err);
  cr_expect_not_null(strstr(err, "bad.csv:4:3: column 'y': not a number: 'x3'"), "%s", err);
  free(out);
  free(err);
  free(p);
  free(bad);
  fitcl_test_rmtree(dir);
  free(dir);
}

/* The analyst's outputs: --fix, --solver qr, --residuals (CSV and .npy),
 * --band, and the statistics and intervals in JSON. */
Test(curvefit_cli, fix_solver_residuals_band_and_statistics) {
  char *dir = fitcl_test_tmpdir();
  size_t cap = 1 << 20, len = 0;
  char *t = malloc(cap);
  enum { M = 500 };
  len += (size_t)snprintf(t, cap, "x,y\n");
  for (int i = 0; i < M; ++i) {
    double x = 0.02 * i;
    double y = 2.0 * exp(-1.1 * x) + 0.3 + 0.01 * sin(7.0 * i);
    len += (size_t)snprintf(t + len, cap - len, "%.17g,%.17g\n", x, y);
  }
  char *p = fitcl_test_write_file(dir, "d.csv", t);
  free(t);
  char res_csv[1024], res_npy[1024], band[1024];
  snprintf(res_csv, sizeof res_csv, "%s/res.csv", dir);
  snprintf(res_npy, sizeof res_npy, "%s/res.npy", dir);
  snprintf(band, sizeof band, "%s/band.csv", dir);
  const char *argv[] = {"fitcl", "curve-fit", "--data", p, "--model", "a*exp(-b*x)+c", "--p0",
                        "a=1,b=2,c=0", "--fix", "c=0.3", "--solver", "qr", "--residuals",
                        res_csv, "--band", band, "--band-points", "11", "--json", NULL};
  char *out = NULL, *err = NULL;
  int rc = fitcl_test_run_cli(argv, cpu_env, &out, &err);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
  static const char *keys[] = {"r_squared", "aic", "bic", "definitions", "confidence_intervals",
                               "confidence", "fixed", "solver", "jacobian_passes"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; ++i) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", keys[i]);
    cr_expect_not_null(strstr(out, pat), "JSON lacks %s: %s", keys[i], out);
  }
  cr_expect_not_null(strstr(out, "\"solver\":\"qr\""), "%s", out);
  cr_expect_not_null(strstr(out, "\"fixed\":[\"c\"]"), "%s", out);
  cr_expect_eq(json_num(out, "c"), 0.3, "%s", out);
  cr_expect(fabs(json_num(out, "b") - 1.1) < 1e-2, "%s", out);
  cr_expect_gt(json_num(out, "r_squared"), 0.999, "%s", out);
  /* --residuals: a header, then one row per point, columns x,y,fit,... */
  FILE *f = fopen(res_csv, "r");
  cr_assert_not_null(f);
  char line[512];
  cr_assert_not_null(fgets(line, sizeof line, f));
  cr_expect_str_eq(line, "x,y,fit,residual,weighted_residual\n");
  int rows = 0;
  double worst = 0;
  while (fgets(line, sizeof line, f)) {
    double v[5];
    cr_assert_eq(sscanf(line, "%lf,%lf,%lf,%lf,%lf", &v[0], &v[1], &v[2], &v[3], &v[4]), 5);
    worst = fmax(worst, fabs(v[1] - v[2] - v[3]));
    ++rows;
  }
  fclose(f);
  cr_expect_eq(rows, M);
  cr_expect_lt(worst, 1e-15);
  /* --band: 11 grid points from the first to the last x, bands nested. */
  f = fopen(band, "r");
  cr_assert_not_null(f);
  cr_assert_not_null(fgets(line, sizeof line, f));
  cr_expect_str_eq(line, "x,fit,conf_lower,conf_upper,pred_lower,pred_upper\n");
  rows = 0;
  while (fgets(line, sizeof line, f)) {
    double v[6];
    cr_assert_eq(sscanf(line, "%lf,%lf,%lf,%lf,%lf,%lf", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]),
                 6);
    cr_expect(v[4] < v[2] && v[2] < v[1] && v[1] < v[3] && v[3] < v[5], "%s", line);
    if (rows == 0) cr_expect_eq(v[0], 0.0);
    if (rows == 10) cr_expect(fitcl_test_close(v[0], 0.02 * (M - 1), 1e-12));
    ++rows;
  }
  fclose(f);
  cr_expect_eq(rows, 11);
  free(out);
  free(err);
  /* .npy residuals: a (M, 5) float64 array. */
  const char *argn[] = {"fitcl", "curve-fit", "--data", p, "--model", "a*exp(-b*x)+c", "--p0",
                        "a=1,b=2,c=0", "--residuals", res_npy, NULL};
  rc = fitcl_test_run_cli(argn, cpu_env, &out, &err);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
  f = fopen(res_npy, "rb");
  cr_assert_not_null(f);
  char hdr[128];
  cr_assert_eq(fread(hdr, 1, sizeof hdr, f), sizeof hdr);
  cr_expect_not_null(strstr(hdr + 10, "'shape': (500, 5)"), "header: %.100s", hdr + 10);
  fseek(f, 0, SEEK_END);
  cr_expect_eq(ftell(f), 128 + 500 * 5 * 8);
  fclose(f);
  free(out);
  free(err);
  /* Usage errors, before any fit. */
  const char *bad_fix[] = {"fitcl", "curve-fit", "--data", p, "--model", "a*exp(-b*x)+c", "--p0",
                           "a=1,b=2,c=0", "--fix", "q=1", NULL};
  expect_usage_error(bad_fix, "--fix: the model has no parameter 'q'");
  const char *all_fix[] = {"fitcl", "curve-fit", "--data", p, "--model", "a*x", "--p0", "a=1",
                           "--fix", "a", NULL};
  expect_usage_error(all_fix, "nothing to fit");
  const char *bad_solver[] = {"fitcl", "curve-fit", "--data", p, "--model", "a*x", "--p0", "a=1",
                              "--solver", "svd", NULL};
  expect_usage_error(bad_solver, "--solver");
  free(p);
  fitcl_test_rmtree(dir);
  free(dir);
}
