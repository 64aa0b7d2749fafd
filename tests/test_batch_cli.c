/* fitcl curve-fit --batch: .npy inputs and outputs equal the library's
 * results, CSV and JSON, an HDF5 g2 array (q rings x delays), usage and
 * input errors (exit 2, one line), on both backends. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl_config.h"
#include "npy_write.h"
#include "test_util.h"
#if FITCL_HAVE_HDF5
#include <hdf5.h>
#endif

static const char *envs[2][2] = {{"FITCL_DEVICE=cpu", NULL}, {"FITCL_DEVICE=opencl", NULL}};

static void write_npy(const char *path, const double *a, size_t rows, size_t cols) {
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  fitcl_npy_write_header(f, "<f8", 0, rows, cols);
  fwrite(a, sizeof *a, rows * (cols ? cols : 1), f);
  fclose(f);
}

/* Reads a .npy written by fitcl (header padded to 64 bytes). */
static void *read_npy(const char *path, size_t bytes) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "missing %s", path);
  unsigned char pre[10];
  cr_assert_eq(fread(pre, 1, 10, f), 10);
  size_t hl = (size_t)pre[8] | ((size_t)pre[9] << 8);
  cr_assert_eq((10 + hl) % 64, 0, "header of %s not aligned", path);
  fseek(f, (long)(10 + hl), SEEK_SET);
  void *buf = malloc(bytes);
  cr_assert_eq(fread(buf, 1, bytes, f), bytes, "%s is short", path);
  fclose(f);
  return buf;
}

#define N 40
#define n 32

static double X[n], Y[N * n];

static void gaussian_data(void) {
  uint64_t s = 12345;
  for (size_t j = 0; j < n; ++j) X[j] = (double)j;
  for (size_t i = 0; i < N; ++i)
    for (size_t j = 0; j < n; ++j) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      double u = (double)(s >> 11) / 9007199254740992.0 - 0.5;
      double mu = 12 + 0.05 * (double)i, d = X[j] - mu;
      Y[i * n + j] = 5 * exp(-d * d / (2 * 9.0)) + 0.5 + 0.02 * u;
    }
}

Test(batch_cli, npy_outputs_equal_the_library) {
  gaussian_data();
  char *dir = fitcl_test_tmpdir(), yp[1024], xp[1024], prefix[1024], path[1100];
  snprintf(yp, sizeof yp, "%s/y.npy", dir);
  snprintf(xp, sizeof xp, "%s/x.npy", dir);
  snprintf(prefix, sizeof prefix, "%s/fit", dir);
  write_npy(yp, Y, N, n);
  write_npy(xp, X, n, 0);
  fitcl_test_backend be[2];
  size_t nbe = fitcl_test_backends(be, 2);
  for (size_t b = 0; b < nbe; ++b) {
    const char *argv[] = {"fitcl", "curve-fit", "--batch", "--y", yp, "--x", xp, "--model",
                          "gaussian", "--p0", "a=4,mu=13,sigma=2.5,c=0.4", "--out", prefix,
                          "--covariance", NULL};
    char *out = NULL, *err = NULL;
    int rc = fitcl_test_run_cli(argv, envs[strcmp(be[b].name, "cpu") != 0], &out, &err);
    cr_assert_eq(rc, 0, "[%s] exit %d: %s", be[b].name, rc, err);
    cr_expect_not_null(strstr(out, "converged    40"), "%s", out);
    free(out);
    free(err);
    snprintf(path, sizeof path, "%s_params.npy", prefix);
    double *p = read_npy(path, N * 4 * sizeof(double));
    snprintf(path, sizeof path, "%s_status.npy", prefix);
    int32_t *stat = read_npy(path, N * sizeof(int32_t));
    snprintf(path, sizeof path, "%s_covariance.npy", prefix);
    double *cov = read_npy(path, N * 16 * sizeof(double));
    /* The same fits through the library. */
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    fitcl_model *m = NULL;
    cr_assert_eq(fitcl_model_builtin(ctx, "gaussian", &m), FITCL_OK);
    const double p0[4] = {4, 13, 2.5, 0.4};
    fitcl_batch_data d = {0};
    d.nfits = N;
    d.npoints = n;
    d.y = (fitcl_batch_array){Y, n, 1};
    d.x[0] = (fitcl_batch_array){X, 0, 1};
    d.p0 = p0;
    double lp[N * 4], lcov[N * 16];
    fitcl_batch_outputs o = {lp, NULL, lcov, NULL, NULL, NULL};
    cr_assert_eq(fitcl_fit_batch(ctx, m, &d, NULL, &o, NULL), FITCL_OK);
    cr_expect_eq(memcmp(p, lp, sizeof lp), 0, "[%s] --out params differ from the library's",
                 be[b].name);
    cr_expect_eq(memcmp(cov, lcov, sizeof lcov), 0, "[%s] covariance differs", be[b].name);
    for (size_t i = 0; i < N; ++i) cr_expect_eq(stat[i], FITCL_CURVEFIT_CONVERGED_XTOL);
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
    free(p);
    free(stat);
    free(cov);
  }
  fitcl_test_rmtree(dir);
  free(dir);
}

Test(batch_cli, csv_json_per_fit_starts_and_expressions) {
  gaussian_data();
  char *dir = fitcl_test_tmpdir(), yp[1024], p0p[1024];
  snprintf(yp, sizeof yp, "%s/y.npy", dir);
  snprintf(p0p, sizeof p0p, "%s/p0.npy", dir);
  write_npy(yp, Y, 3, n); /* the first three curves */
  double p0[3 * 4];
  for (int i = 0; i < 3; ++i) {
    p0[4 * i] = 4;
    p0[4 * i + 1] = 12 + 0.2 * i;
    p0[4 * i + 2] = 3;
    p0[4 * i + 3] = 0.5;
  }
  write_npy(p0p, p0, 3, 4);
  char *out = NULL, *err = NULL;
  /* x is a range written into the expression's variable t: no --x needs
   * an expression without variables, so the curve's x comes from a file. */
  char xp[1024];
  snprintf(xp, sizeof xp, "%s/t.npy", dir);
  write_npy(xp, X, n, 0);
  const char *csv[] = {"fitcl", "curve-fit", "--batch", "--y", yp, "--x", NULL, "--model",
                       "A*exp(-(t-M)^2/(2*S^2))+C", "--params", "A,M,S,C", "--p0-file", p0p,
                       "--csv", NULL};
  char tx[1100];
  snprintf(tx, sizeof tx, "t=%s", xp);
  csv[6] = tx;
  int rc = fitcl_test_run_cli(csv, envs[0], &out, &err);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
  cr_expect(!strncmp(out, "fit,status,iterations,chi2,A,M,S,C,A_stderr", 43), "%s", out);
  int lines = 0;
  for (const char *c = out; *c; ++c) lines += *c == '\n';
  cr_expect_eq(lines, 4, "%s", out);
  cr_expect_not_null(strstr(out, "\n2,converged_xtol,"), "%s", out);
  free(out);
  free(err);
  const char *json[] = {"fitcl", "curve-fit", "--batch", "--y", yp, "--x", tx, "--model",
                        "A*exp(-(t-M)^2/(2*S^2))+C", "--p0", "A=4,M=12,S=3,C=0.5", "--fix", "C",
                        "--json", NULL};
  rc = fitcl_test_run_cli(json, envs[0], &out, &err);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
  cr_expect_not_null(strstr(out, "\"converged\":3"), "%s", out);
  cr_expect_not_null(strstr(out, "\"C\":0.5"), "held C stays 0.5: %s", out);
  cr_expect_not_null(strstr(out, "\"backend\":\"cpu\""), "%s", out);
  free(out);
  free(err);
  fitcl_test_rmtree(dir);
  free(dir);
}

Test(batch_cli, usage_and_input_errors) {
  char *dir = fitcl_test_tmpdir(), yp[1024], xp[1024];
  snprintf(yp, sizeof yp, "%s/y.npy", dir);
  snprintf(xp, sizeof xp, "%s/x.npy", dir);
  double y[6] = {1, 2, 3, 4, NAN, 6}, x[5] = {0, 1, 2, 3, 4};
  write_npy(yp, y, 2, 3);
  write_npy(xp, x, 5, 0);
  struct {
    const char *argv[16];
    const char *says;
  } cases[] = {
    {{"fitcl", "curve-fit", "--batch", "--y", yp, "--model", "exp_decay", NULL}, "--p0"},
    {{"fitcl", "curve-fit", "--batch", "--y", yp, "--x", xp, "--model", "exp_decay", "--p0",
      "a=1,b=1,c=0", NULL}, "shape (5,) does not fit 2 fits of 3 points"},
    {{"fitcl", "curve-fit", "--batch", "--y", "missing.npy", "--x", xp, "--model", "exp_decay",
      "--p0", "a=1,b=1,c=0", NULL}, "missing.npy"},
    {{"fitcl", "curve-fit", "--batch", "--y", yp, "--model", "a*x", "--p0", "a=1", "--bounds",
      "z=0:1", NULL}, "the model reads 1 variable"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
    char *out = NULL, *err = NULL;
    int rc = fitcl_test_run_cli(cases[k].argv, envs[0], &out, &err);
    cr_expect_eq(rc, 2, "case %zu: exit %d: %s", k, rc, err);
    cr_expect_not_null(strstr(err, cases[k].says), "case %zu: %s", k, err);
    int lines = 0;
    for (const char *c = err; *c; ++c) lines += *c == '\n';
    cr_expect_eq(lines, 1, "case %zu: one line: %s", k, err);
    free(out);
    free(err);
  }
  /* A NaN in y names its fit and point. */
  double xs[3] = {0, 1, 2};
  write_npy(xp, xs, 3, 0);
  const char *nan_case[] = {"fitcl", "curve-fit", "--batch", "--y", yp, "--x", xp, "--model",
                            "a*x+b", "--p0", "a=1,b=0", NULL};
  char *out = NULL, *err = NULL;
  cr_expect_eq(fitcl_test_run_cli(nan_case, envs[0], &out, &err), 2);
  cr_expect_not_null(strstr(err, "fit 1, point 1"), "%s", err);
  free(out);
  free(err);
  fitcl_test_rmtree(dir);
  free(dir);
}

#if FITCL_HAVE_HDF5
/* An XPCS-like file: /xpcs/tau (n delays) and /xpcs/g2 (q rings x delays),
 * and /xpcs/q (one value per ring, (N, 1)). */
Test(batch_cli, hdf5_g2_array) {
  char *dir = fitcl_test_tmpdir(), path[1024], spec_y[1100], spec_x[1200];
  snprintf(path, sizeof path, "%s/g2.h5", dir);
  enum { Q = 6, T = 60 };
  double tau[T], q[Q], g2[Q * T];
  for (int j = 0; j < T; ++j) tau[j] = 1e-3 * pow(10.0, 4.0 * j / (T - 1));
  for (int i = 0; i < Q; ++i) {
    q[i] = 0.003 + 0.001 * i;
    for (int j = 0; j < T; ++j)
      g2[i * T + j] = 1 + 0.3 * exp(-2 * q[i] * q[i] * (1e4 * pow(tau[j], 1.1) / 1.1 + 100 * tau[j]));
  }
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t g = H5Gcreate2(f, "/xpcs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t dt = T, dg[2] = {Q, T}, dq[2] = {Q, 1};
  hid_t st = H5Screate_simple(1, &dt, NULL), sg = H5Screate_simple(2, dg, NULL),
        sq = H5Screate_simple(2, dq, NULL);
  hid_t ds = H5Dcreate2(f, "/xpcs/tau", H5T_IEEE_F64LE, st, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, tau);
  H5Dclose(ds);
  ds = H5Dcreate2(f, "/xpcs/g2", H5T_IEEE_F32LE, sg, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, g2);
  H5Dclose(ds);
  ds = H5Dcreate2(f, "/xpcs/q", H5T_IEEE_F64LE, sq, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, q);
  H5Dclose(ds);
  H5Sclose(st);
  H5Sclose(sg);
  H5Sclose(sq);
  H5Gclose(g);
  H5Fclose(f);
  snprintf(spec_y, sizeof spec_y, "%s:/xpcs/g2", path);
  snprintf(spec_x, sizeof spec_x, "%s:/xpcs/tau,%s:/xpcs/q", path, path);
  fitcl_test_backend be[2];
  size_t nbe = fitcl_test_backends(be, 2);
  for (size_t b = 0; b < nbe; ++b) {
    const char *argv[] = {"fitcl", "curve-fit", "--batch", "--y", spec_y, "--x", spec_x,
                          "--model", "xpcs_g2", "--p0",
                          "offset=1,contrast=0.25,D0=8000,alpha=0.05,D_offset=80", "--json", NULL};
    char *out = NULL, *err = NULL;
    int rc = fitcl_test_run_cli(argv, envs[strcmp(be[b].name, "cpu") != 0], &out, &err);
    cr_assert_eq(rc, 0, "[%s] exit %d: %s", be[b].name, rc, err);
    cr_expect_not_null(strstr(out, "\"converged\":6"), "[%s] %s", be[b].name, out);
    const char *c = strstr(out, "\"contrast\":");
    cr_assert_not_null(c);
    /* g2 was stored as float32: the contrast to its precision. */
    cr_expect(fabs(strtod(c + 11, NULL) - 0.3) < 1e-5, "%s", out);
    free(out);
    free(err);
  }
  fitcl_test_rmtree(dir);
  free(dir);
}
#endif

/* The batch reader once found 'descr', 'fortran_order' and 'shape' with
 * strstr and took whatever surrounded them, and rounded int64 values past
 * 2^53; it now shares the strict .npy header parser of the curve-fit
 * sources and the evpi reader, and both of these are errors (exit 2). */
Test(batch_cli, stricter_npy_rules) {
  char *dir = fitcl_test_tmpdir(), yp[1024], xp[1024];
  snprintf(yp, sizeof yp, "%s/y.npy", dir);
  snprintf(xp, sizeof xp, "%s/x.npy", dir);
  double x[3] = {0, 1, 2};
  write_npy(xp, x, 3, 0);
  static const char *const headers[] = {
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'extra': 1, }",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }trailing",
    "{'descr': '<f8', 'fortran_order': Maybe, 'shape': (2, 3), }",
  };
  for (size_t k = 0; k < sizeof headers / sizeof headers[0] + 1; ++k) {
    FILE *f = fopen(yp, "wb");
    cr_assert_not_null(f);
    if (k < sizeof headers / sizeof headers[0]) {
      char dict[200];
      int hl = snprintf(dict, sizeof dict, "%s", headers[k]);
      size_t pad = (64 - (10 + (size_t)hl + 1) % 64) % 64;
      unsigned short len = (unsigned short)((size_t)hl + pad + 1);
      fwrite("\x93NUMPY\x01\x00", 1, 8, f);
      fputc(len & 0xff, f);
      fputc(len >> 8, f);
      fwrite(dict, 1, (size_t)hl, f);
      for (size_t i = 0; i < pad; ++i) fputc(' ', f);
      fputc('\n', f);
      double y[6] = {1, 2, 3, 4, 5, 6};
      fwrite(y, sizeof y[0], 6, f);
    } else {
      fitcl_npy_write_header(f, "<i8", 0, 2, 3);
      int64_t y[6] = {1, 2, 3, 4, 5, ((int64_t)1 << 53) + 1};
      fwrite(y, sizeof y[0], 6, f);
    }
    fclose(f);
    const char *argv[] = {"fitcl", "curve-fit", "--batch", "--y", yp, "--x", xp, "--model",
                          "a*x+b", "--p0", "a=1,b=0", NULL};
    char *out = NULL, *err = NULL;
    int rc = fitcl_test_run_cli(argv, envs[0], &out, &err);
    cr_expect_eq(rc, 2, "case %zu: exit %d: %s", k, rc, err);
    const char *says = k < sizeof headers / sizeof headers[0] ? "malformed .npy header"
                                                               : "is not exact as a double";
    cr_expect_not_null(strstr(err, says), "case %zu: %s", k, err);
    cr_expect_not_null(strstr(err, yp), "case %zu names the file: %s", k, err);
    free(out);
    free(err);
  }
  fitcl_test_rmtree(dir);
  free(dir);
}
