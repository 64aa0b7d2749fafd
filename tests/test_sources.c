/* Data sources: every format returns exactly the values written, across
 * chunk boundaries and repeated passes; bad files give one clear error that
 * names the file and the row (or line:column). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl_config.h"
#include "test_util.h"
#include "npy_write.h"
#if FITCL_HAVE_HDF5
#include <hdf5.h>
#endif

/* Writes a .npy file (independent of the reader under test). */
static char *write_npy(const char *dir, const char *name, const char *descr, int fortran,
                       size_t rows, size_t cols, const void *data, size_t elem) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  fitcl_npy_write_header(f, descr, fortran, rows, cols);
  fwrite(data, elem, rows * (cols ? cols : 1), f);
  fclose(f);
  return strdup(path);
}

/* Reads every point of a source into x/y/s arrays, checking the count. */
static void read_all(fitcl_source *src, size_t n, double *x, double *y, double *s) {
  fitcl_chunk c;
  size_t got = 0;
  for (;;) {
    fitcl_status st = fitcl_source_next(src, &c);
    cr_assert_eq(st, FITCL_OK, "next failed");
    if (!c.n) break;
    cr_assert_leq(got + c.n, n, "more points than written");
    memcpy(x + got, c.x[0], c.n * sizeof *x);
    memcpy(y + got, c.y, c.n * sizeof *y);
    if (s) {
      cr_assert_not_null(c.sigma);
      memcpy(s + got, c.sigma, c.n * sizeof *s);
    }
    got += c.n;
  }
  cr_assert_eq(got, n, "read %zu points, wrote %zu", got, n);
}

static fitcl_source *open_src(fitcl_context *ctx, fitcl_source_options *o) {
  fitcl_source *src = NULL;
  fitcl_status st = fitcl_source_open(ctx, o, &src);
  cr_assert_eq(st, FITCL_OK, "open %s: %s", o->path, fitcl_errmsg(ctx));
  return src;
}

static void expect_same(const double *a, const double *b, size_t n, const char *what) {
  for (size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) {
      cr_expect_fail("%s: value %zu is %.17g, wrote %.17g", what, i, a[i], b[i]);
      return;
    }
}

enum { N = 2503 };
static double X[N], Y[N], S[N], rx[N], ry[N], rs[N];

static void fill(void) {
  for (int i = 0; i < N; ++i) {
    X[i] = 0.001 * i - 1;
    Y[i] = sin(X[i]) * 3 + 0.125;
    S[i] = 0.5 + 0.25 * (i % 3);
  }
}

Test(sources, npy_layouts_and_dtypes) {
  fill();
  fitcl_context *ctx = fitcl_test_context("cpu");
  char *dir = fitcl_test_tmpdir();
  /* 2-D C order float64 (N,3): x, y, sigma interleaved. */
  double *m = malloc(sizeof(double) * N * 3);
  for (int i = 0; i < N; ++i) {
    m[3 * i] = X[i];
    m[3 * i + 1] = Y[i];
    m[3 * i + 2] = S[i];
  }
  char *p = write_npy(dir, "c.npy", "<f8", 0, N, 3, m, 8);
  const char *xs[] = {"0"};
  fitcl_source_options o = {0};
  o.path = p;
  o.x = xs;
  o.nx = 1;
  o.y = "1";
  o.sigma = "2";
  o.chunk_points = 1000;
  fitcl_source *src = open_src(ctx, &o);
  cr_expect_eq(fitcl_source_points(src), N);
  for (int pass = 0; pass < 2; ++pass) {
    if (pass) cr_assert_eq(fitcl_source_rewind(src), FITCL_OK);
    read_all(src, N, rx, ry, rs);
    expect_same(rx, X, N, "C-order x");
    expect_same(ry, Y, N, "C-order y");
    expect_same(rs, S, N, "C-order sigma");
  }
  fitcl_source_destroy(src);
  free(p);
  /* 2-D Fortran order float64: columns contiguous (zero-copy path). */
  for (int i = 0; i < N; ++i) {
    m[i] = X[i];
    m[N + i] = Y[i];
    m[2 * N + i] = S[i];
  }
  p = write_npy(dir, "f.npy", "<f8", 1, N, 3, m, 8);
  o.path = p;
  src = open_src(ctx, &o);
  read_all(src, N, rx, ry, rs);
  expect_same(rx, X, N, "F-order x");
  expect_same(ry, Y, N, "F-order y");
  expect_same(rs, S, N, "F-order sigma");
  fitcl_source_destroy(src);
  free(p);
  /* float32, Fortran order: values converted exactly from float. */
  float *mf = malloc(sizeof(float) * N * 3);
  for (int i = 0; i < 3 * N; ++i) mf[i] = (float)m[i];
  p = write_npy(dir, "f32.npy", "<f4", 1, N, 3, mf, 4);
  o.path = p;
  src = open_src(ctx, &o);
  read_all(src, N, rx, ry, rs);
  for (int i = 0; i < N; ++i) {
    cr_expect_eq(rx[i], (double)(float)X[i]);
    cr_expect_eq(ry[i], (double)(float)Y[i]);
  }
  fitcl_source_destroy(src);
  free(p);
  /* Separate 1-D files, named as columns. */
  char *px = write_npy(dir, "x.npy", "<f8", 0, N, 0, X, 8);
  char *py = write_npy(dir, "y.npy", "<f8", 0, N, 0, Y, 8);
  memset(&o, 0, sizeof o);
  o.path = px;
  o.y = py;
  src = open_src(ctx, &o);
  read_all(src, N, rx, ry, NULL);
  expect_same(rx, X, N, "1-D x");
  expect_same(ry, Y, N, "1-D y");
  fitcl_source_destroy(src);
  /* Raw float64, 3 interleaved columns. */
  char rawp[1024];
  snprintf(rawp, sizeof rawp, "%s/d.bin", dir);
  for (int i = 0; i < N; ++i) {
    m[3 * i] = X[i];
    m[3 * i + 1] = Y[i];
    m[3 * i + 2] = S[i];
  }
  FILE *f = fopen(rawp, "wb");
  fwrite(m, 8, 3 * N, f);
  fclose(f);
  memset(&o, 0, sizeof o);
  o.path = rawp;
  o.sigma = "2";
  o.chunk_points = 100;
  src = open_src(ctx, &o);
  read_all(src, N, rx, ry, rs);
  expect_same(rx, X, N, "raw x");
  expect_same(ry, Y, N, "raw y");
  expect_same(rs, S, N, "raw sigma");
  fitcl_source_destroy(src);
  free(px);
  free(py);
  free(m);
  free(mf);
  fitcl_test_rmtree(dir);
  free(dir);
  fitcl_context_destroy(ctx);
}

static char *write_csv(const char *dir, const char *name, char delim, int crlf) {
  size_t cap = 64 * N + 256, len = 0;
  char *t = malloc(cap);
  len += (size_t)snprintf(t + len, cap - len, "# generated%s", crlf ? "\r\n" : "\n");
  len += (size_t)snprintf(t + len, cap - len, "\"y\"%cx%cerr%c note%s", delim, delim, delim,
                          crlf ? "\r\n" : "\n");
  for (int i = 0; i < N; ++i) {
    len += (size_t)snprintf(t + len, cap - len, "%.17g%c %.17g%c%.17g%cabc%s", Y[i], delim, X[i],
                            delim, S[i], delim, crlf ? "\r\n" : "\n");
    if (i == 10) len += (size_t)snprintf(t + len, cap - len, "\n# comment\n");
  }
  char *p = fitcl_test_write_file(dir, name, t);
  free(t);
  return p;
}

Test(sources, csv_and_tsv_stream_in_chunks) {
  fill();
  fitcl_context *ctx = fitcl_test_context("cpu");
  char *dir = fitcl_test_tmpdir();
  for (int variant = 0; variant < 3; ++variant) {
    char *p = write_csv(dir, variant == 1 ? "d.tsv" : "d.csv", variant == 1 ? '\t' : ',', variant == 2);
    const char *xs[] = {"x"};
    fitcl_source_options o = {0};
    o.path = p;
    o.x = xs;
    o.nx = 1;
    o.sigma = "err";
    o.chunk_points = 97;
    o.csv_cache_mb = variant == 2 ? -1 : 0;  /* parse every pass, or keep parsed values */
    fitcl_source *src = open_src(ctx, &o);
    for (int pass = 0; pass < 3; ++pass) {
      if (pass) cr_assert_eq(fitcl_source_rewind(src), FITCL_OK);
      read_all(src, N, rx, ry, rs);
      expect_same(rx, X, N, "csv x");
      expect_same(ry, Y, N, "csv y");
      expect_same(rs, S, N, "csv sigma");
    }
    cr_expect_eq(fitcl_source_points(src), N);
    fitcl_source_destroy(src);
    free(p);
  }
  fitcl_test_rmtree(dir);
  free(dir);
  fitcl_context_destroy(ctx);
}

#if FITCL_HAVE_HDF5
Test(sources, hdf5_datasets_and_columns) {
  fill();
  fitcl_context *ctx = fitcl_test_context("cpu");
  char *dir = fitcl_test_tmpdir();
  char path[1024];
  snprintf(path, sizeof path, "%s/d.h5", dir);
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t g = H5Gcreate2(f, "/entry", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t d1 = N, d2[2] = {N, 2};
  hid_t s1 = H5Screate_simple(1, &d1, NULL), s2 = H5Screate_simple(2, d2, NULL);
  hid_t ds = H5Dcreate2(f, "/entry/tau", H5T_IEEE_F64LE, s1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, X);
  H5Dclose(ds);
  double *m = malloc(sizeof(double) * 2 * N);
  for (int i = 0; i < N; ++i) {
    m[2 * i] = Y[i];
    m[2 * i + 1] = S[i];
  }
  ds = H5Dcreate2(f, "/entry/g2", H5T_IEEE_F32LE, s2, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, m);
  H5Dclose(ds);
  H5Sclose(s1);
  H5Sclose(s2);
  H5Gclose(g);
  H5Fclose(f);
  const char *xs[] = {"/entry/tau"};
  fitcl_source_options o = {0};
  o.path = path;
  o.x = xs;
  o.nx = 1;
  o.y = "/entry/g2:0";
  o.sigma = "/entry/g2:1";
  o.chunk_points = 600;
  fitcl_source *src = open_src(ctx, &o);
  for (int pass = 0; pass < 2; ++pass) {
    if (pass) cr_assert_eq(fitcl_source_rewind(src), FITCL_OK);
    read_all(src, N, rx, ry, rs);
    expect_same(rx, X, N, "hdf5 x");
    for (int i = 0; i < N; ++i) {
      cr_expect_eq(ry[i], (double)(float)Y[i]);
      cr_expect_eq(rs[i], (double)(float)S[i]);
    }
  }
  fitcl_source_destroy(src);
  o.y = "/entry/missing";
  cr_expect_eq(fitcl_source_open(ctx, &o, &src), FITCL_ERR_NAME);
  cr_expect_not_null(strstr(fitcl_errmsg(ctx), "/entry/missing"), "%s", fitcl_errmsg(ctx));
  free(m);
  fitcl_test_rmtree(dir);
  free(dir);
  fitcl_context_destroy(ctx);
}
#endif

/* Opens (and reads through) a source expected to fail; returns the status
 * and leaves the message on ctx. */
static fitcl_status open_and_read(fitcl_context *ctx, fitcl_source_options *o) {
  fitcl_source *src = NULL;
  fitcl_status st = fitcl_source_open(ctx, o, &src);
  if (st != FITCL_OK) return st;
  fitcl_chunk c;
  do {
    st = fitcl_source_next(src, &c);
  } while (st == FITCL_OK && c.n);
  fitcl_source_destroy(src);
  return st;
}

#define EXPECT_ERR(st_, want, needle)                                                       \
  do {                                                                                      \
    fitcl_status s_ = (st_);                                                                \
    cr_expect_eq(s_, want, "status %s, want %s (%s)", fitcl_status_name(s_),                \
                 fitcl_status_name(want), fitcl_errmsg(ctx));                               \
    cr_expect_not_null(strstr(fitcl_errmsg(ctx), needle), "message '%s' lacks '%s'",        \
                       fitcl_errmsg(ctx), needle);                                          \
  } while (0)

Test(sources, bad_files_name_the_row) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  char *dir = fitcl_test_tmpdir();
  fitcl_source_options o = {0};
  /* Ragged CSV: line 4 has one field too few. */
  char *p = fitcl_test_write_file(dir, "ragged.csv", "x,y\n1,2\n3,4\n5\n7,8\n");
  o.path = p;
  EXPECT_ERR(open_and_read(ctx, &o), FITCL_ERR_PARSE, "ragged.csv:4");
  cr_expect_not_null(strstr(fitcl_errmsg(ctx), "ragged row"));
  free(p);
  /* NaN and non-numbers in CSV: line and column. */
  p = fitcl_test_write_file(dir, "nan.csv", "x,y\n1,2\n3,nan\n");
  o.path = p;
  EXPECT_ERR(open_and_read(ctx, &o), FITCL_ERR_DATA, "nan.csv:3:3");
  free(p);
  p = fitcl_test_write_file(dir, "word.csv", "x,y\n1,2\n3,4\n5,six\n");
  o.path = p;
  EXPECT_ERR(open_and_read(ctx, &o), FITCL_ERR_PARSE, "word.csv:4:3");
  free(p);
  /* Missing column. */
  p = fitcl_test_write_file(dir, "cols.csv", "t,y\n1,2\n");
  o.path = p;
  EXPECT_ERR(open_and_read(ctx, &o), FITCL_ERR_NAME, "no column 'x'");
  free(p);
  /* Non-positive sigma. */
  p = fitcl_test_write_file(dir, "sig.csv", "x,y,s\n1,2,1\n3,4,0\n");
  o.path = p;
  o.sigma = "s";
  EXPECT_ERR(open_and_read(ctx, &o), FITCL_ERR_DATA, "sig.csv:3:5");
  o.sigma = NULL;
  free(p);
  /* .npy of the wrong dtype. */
  long long iv[4] = {1, 2, 3, 4};
  p = write_npy(dir, "int.npy", "<i8", 0, 2, 2, iv, 8);
  o.path = p;
  EXPECT_ERR(open_and_read(ctx, &o), FITCL_ERR_DATA, "dtype '<i8'");
  free(p);
  /* Inf in a .npy: row index. */
  double dv[10] = {0, 1, 1, 2, 2, 3, 3, INFINITY, 4, 5};
  p = write_npy(dir, "inf.npy", "<f8", 0, 5, 2, dv, 8);
  o.path = p;
  EXPECT_ERR(open_and_read(ctx, &o), FITCL_ERR_DATA, "row 3");
  cr_expect_not_null(strstr(fitcl_errmsg(ctx), "infinite"));
  /* Column out of range. */
  o.y = "5";
  EXPECT_ERR(open_and_read(ctx, &o), FITCL_ERR_NAME, "no column 5");
  o.y = NULL;
  free(p);
  /* Columns of different lengths. */
  double a3[3] = {1, 2, 3}, a4[4] = {1, 2, 3, 4};
  char *pa = write_npy(dir, "a.npy", "<f8", 0, 3, 0, a3, 8);
  char *pb = write_npy(dir, "b.npy", "<f8", 0, 4, 0, a4, 8);
  o.path = pa;
  o.y = pb;
  EXPECT_ERR(open_and_read(ctx, &o), FITCL_ERR_MISMATCH, "rows");
  o.y = NULL;
  free(pa);
  free(pb);
  /* Truncated .npy and raw with a partial row. */
  p = fitcl_test_write_file(dir, "trunc.npy", "\x93NUMPY\x01");
  o.path = p;
  EXPECT_ERR(open_and_read(ctx, &o), FITCL_ERR_PARSE, "trunc.npy");
  free(p);
  p = fitcl_test_write_file(dir, "odd.bin", "0123456789");
  o.path = p;
  EXPECT_ERR(open_and_read(ctx, &o), FITCL_ERR_DATA, "whole number of rows");
  free(p);
  /* Missing file. */
  o.path = "/nonexistent/data.csv";
  EXPECT_ERR(open_and_read(ctx, &o), FITCL_ERR_FILE, "/nonexistent/data.csv");
  fitcl_test_rmtree(dir);
  free(dir);
  fitcl_context_destroy(ctx);
}

Test(sources, fit_from_npy_equals_fit_from_arrays) {
  enum { M = 50000 };
  static double x[M], y[M];
  for (int i = 0; i < M; ++i) {
    x[i] = 0.0002 * i;
    y[i] = 2.5 * exp(-0.8 * x[i]) + 0.1 + 0.01 * sin(37.0 * i);
  }
  fitcl_test_backend be[2];
  size_t nbe = fitcl_test_backends(be, 2);
  char *dir = fitcl_test_tmpdir();
  double *m = malloc(sizeof(double) * 2 * M);
  for (int i = 0; i < M; ++i) {
    m[2 * i] = x[i];
    m[2 * i + 1] = y[i];
  }
  char *p = write_npy(dir, "d.npy", "<f8", 0, M, 2, m, 8);
  for (size_t b = 0; b < nbe; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    const char *names[] = {"a", "b", "c"}, *vars[] = {"x"};
    fitcl_model *mod = NULL;
    cr_assert_eq(fitcl_model_compile(ctx, "a*exp(-b*x)+c", names, 3, vars, 1, &mod), FITCL_OK);
    const double p0[3] = {1, 1, 0};
    const double *cols[] = {x};
    fitcl_curvefit_result ra, rf;
    cr_assert_eq(fitcl_curve_fit_arrays(ctx, mod, cols, y, NULL, M, p0, NULL, &ra), FITCL_OK);
    fitcl_source_options o = {0};
    o.path = p;
    o.chunk_points = 7001;
    fitcl_source *src = open_src(ctx, &o);
    cr_assert_eq(fitcl_curve_fit_source(ctx, mod, src, p0, NULL, &rf), FITCL_OK, "%s",
                 fitcl_errmsg(ctx));
    for (int j = 0; j < 3; ++j)
      cr_expect(fitcl_test_close(ra.params[j], rf.params[j], 1e-9), "[%s] p%d %.15g vs %.15g",
                be[b].name, j, ra.params[j], rf.params[j]);
    cr_expect_eq(rf.points, M);
    fitcl_source_destroy(src);
    fitcl_model_destroy(mod);
    fitcl_context_destroy(ctx);
  }
  free(p);
  free(m);
  fitcl_test_rmtree(dir);
  free(dir);
}

/* Reads every point of a small CSV/TSV source with up to two x columns,
 * twice (the second pass parses the text again: no value cache), and
 * checks it against want[row][x..., y, sigma]. */
static void expect_rows(fitcl_context *ctx, const char *path, const char *const *x, size_t nx,
                        const char *y, const char *sigma, const double (*want)[4], size_t rows) {
  fitcl_source_options o = {0};
  o.path = path;
  o.x = x;
  o.nx = nx;
  o.y = y;
  o.sigma = sigma;
  o.chunk_points = 2; /* chunk boundaries between rows */
  o.csv_cache_mb = -1;
  fitcl_source *src = open_src(ctx, &o);
  for (int pass = 0; pass < 2; ++pass) {
    if (pass) cr_assert_eq(fitcl_source_rewind(src), FITCL_OK, "%s", fitcl_errmsg(ctx));
    size_t got = 0;
    fitcl_chunk c;
    for (;;) {
      cr_assert_eq(fitcl_source_next(src, &c), FITCL_OK, "%s: %s", path, fitcl_errmsg(ctx));
      if (!c.n) break;
      for (size_t i = 0; i < c.n; ++i, ++got) {
        cr_assert_lt(got, rows, "%s: more rows than written", path);
        for (size_t j = 0; j < nx; ++j)
          cr_expect_eq(c.x[j][i], want[got][j], "%s row %zu x%zu: %.17g", path, got, j, c.x[j][i]);
        cr_expect_eq(c.y[i], want[got][nx], "%s row %zu y: %.17g", path, got, c.y[i]);
        if (sigma) cr_expect_eq(c.sigma[i], want[got][nx + 1], "%s row %zu sigma", path, got);
      }
    }
    cr_expect_eq(got, rows, "%s: %zu rows read, %zu written", path, got, rows);
  }
  fitcl_source_destroy(src);
}

Test(sources, csv_quoted_fields) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  char *dir = fitcl_test_tmpdir();
  /* Quoted header names (with a delimiter, spaces, an escaped quote),
   * quoted numbers (with spaces inside and around the quotes), a delimiter
   * and a newline inside a quoted note, CRLF, a comment holding a quote. */
  char *p = fitcl_test_write_file(
    dir, "q.csv",
    "# instrument \"A\", run 3\r\n"
    "\"time, s\",\"g2 \"\"raw\"\"\",note,\"err\"\r\n"
    "\"1.5\",2.25,\"first, with a comma\",0.5\r\n"
    " \"2\" ,\" 3.5 \",\"spans\ntwo lines\",\"0.25\"\r\n"
    "\r\n"
    "3,-1e-3,\"\",1\r\n");
  {
    const char *x[] = {"time, s"};
    static const double want[][4] = {{1.5, 2.25, 0.5}, {2, 3.5, 0.25}, {3, -1e-3, 1}};
    expect_rows(ctx, p, x, 1, "g2 \"raw\"", "err", want, 3);
  }
  free(p);
  /* TSV: a tab inside quotes is part of the field; a comma in a name does
   * not make it a CSV. */
  p = fitcl_test_write_file(dir, "q.tsv",
                            "a, b\t\"tab\there\"\ty\n"
                            "1\t\"x\ty\"\t10\n"
                            "2\t\"\"\"\"\t20\n");
  {
    const char *x[] = {"a, b"};
    static const double want[][4] = {{1, 10}, {2, 20}};
    expect_rows(ctx, p, x, 1, "y", NULL, want, 2);
  }
  free(p);
  /* No extension hint (--format csv): a header whose only tab is inside
   * quotes is comma-separated; a UTF-8 byte-order mark is skipped. */
  p = fitcl_test_write_file(dir, "q.dat", "\xEF\xBB\xBFu,\"v\tw\",y\n4,5,6\n");
  {
    const char *x[] = {"u", "v\tw"};
    static const double want[][4] = {{4, 5, 6}};
    fitcl_source_options o = {0};
    o.path = p;
    o.format = "csv";
    o.x = x;
    o.nx = 2;
    fitcl_source *src = open_src(ctx, &o);
    fitcl_chunk c;
    cr_assert_eq(fitcl_source_next(src, &c), FITCL_OK, "%s", fitcl_errmsg(ctx));
    cr_assert_eq(c.n, 1);
    cr_expect(c.x[0][0] == want[0][0] && c.x[1][0] == want[0][1] && c.y[0] == want[0][2]);
    fitcl_source_destroy(src);
  }
  free(p);
  fitcl_test_rmtree(dir);
  free(dir);
  fitcl_context_destroy(ctx);
}

Test(sources, csv_quote_errors_name_line_and_column) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  char *dir = fitcl_test_tmpdir();
  fitcl_source_options o = {0};
  /* An unterminated quote: where it opens. */
  char *p = fitcl_test_write_file(dir, "open.csv", "x,y\n1,2\n3,\"4\n5,6\n");
  o.path = p;
  EXPECT_ERR(open_and_read(ctx, &o), FITCL_ERR_PARSE, "open.csv:3:3: unterminated quoted field");
  free(p);
  /* Text after a closing quote. */
  p = fitcl_test_write_file(dir, "after.csv", "x,y\n1,\"2\"3\n");
  o.path = p;
  EXPECT_ERR(open_and_read(ctx, &o), FITCL_ERR_PARSE, "after.csv:2:6: unexpected text after a closing quote");
  free(p);
  /* A quoted word is not a number; the line counts the quoted newline
   * before it. */
  p = fitcl_test_write_file(dir, "word.csv", "x,y,n\n1,2,\"a\nb\"\n3,\"four\",c\n");
  o.path = p;
  EXPECT_ERR(open_and_read(ctx, &o), FITCL_ERR_PARSE, "word.csv:4:3: column 'y': not a number: 'four'");
  free(p);
  /* A delimiter inside quotes adds no field: the second row has 4 fields,
   * not 5. */
  p = fitcl_test_write_file(dir, "ragged.csv", "x,y,n\n1,2,\"a,b\"\n3,4,\"c,d\",e\n");
  o.path = p;
  EXPECT_ERR(open_and_read(ctx, &o), FITCL_ERR_PARSE, "ragged.csv:3: ragged row: 4 fields");
  free(p);
  /* A quoted header name is matched as written. */
  p = fitcl_test_write_file(dir, "name.csv", "\" x\",y\n1,2\n");
  o.path = p;
  EXPECT_ERR(open_and_read(ctx, &o), FITCL_ERR_NAME, "no column 'x'");
  free(p);
  fitcl_test_rmtree(dir);
  free(dir);
  fitcl_context_destroy(ctx);
}

/* Rows of a C-order file are brought into columns once (the second pass
 * reads the copy), or converted in every pass (cache_mb < 0), or the first
 * pass is abandoned half-way: every pass gives the same values. */
Test(sources, converted_copy_equals_streamed_conversion) {
  fill();
  fitcl_context *ctx = fitcl_test_context("cpu");
  char *dir = fitcl_test_tmpdir();
  double *m = malloc(sizeof(double) * N * 3);
  for (int i = 0; i < N; ++i) {
    m[3 * i] = X[i];
    m[3 * i + 1] = Y[i];
    m[3 * i + 2] = S[i];
  }
  char *p = write_npy(dir, "c.npy", "<f8", 0, N, 3, m, 8);
  const char *xs[] = {"0"};
  for (int variant = 0; variant < 3; ++variant) {
    fitcl_source_options o = {0};
    o.path = p;
    o.x = xs;
    o.nx = 1;
    o.y = "1";
    o.sigma = "2";
    o.chunk_points = 700;
    o.cache_mb = variant == 1 ? -1 : 0;
    fitcl_source *src = open_src(ctx, &o);
    if (variant == 2) {
      fitcl_chunk c;
      cr_assert_eq(fitcl_source_next(src, &c), FITCL_OK);
      cr_assert_eq(c.n, 700);
      cr_assert_eq(fitcl_source_rewind(src), FITCL_OK);
    }
    for (int pass = 0; pass < 3; ++pass) {
      if (pass) cr_assert_eq(fitcl_source_rewind(src), FITCL_OK);
      memset(rx, 0, sizeof rx);
      read_all(src, N, rx, ry, rs);
      expect_same(rx, X, N, "x");
      expect_same(ry, Y, N, "y");
      expect_same(rs, S, N, "sigma");
    }
    fitcl_source_destroy(src);
  }
  free(m);
  free(p);
  fitcl_test_rmtree(dir);
  free(dir);
  fitcl_context_destroy(ctx);
}
