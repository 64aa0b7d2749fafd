/* Precision modes (docs/precision.md): FITCL_PRECISION and the option,
 * FITCL_OPENCL_NO_FP64, and the accumulation in mixed and single precision
 * on an OpenCL device treated as lacking fp64, against the pthreads
 * backend in double and against bounds derived from float's epsilon.
 * Every OpenCL test checks that it really ran in the mode it tests. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "device/backend.h"
#include "kernels/accum.h"
#include "test_util.h"
#if FITCL_WITH_OPENCL
#include "device/opencl/ocl.h"
#endif

/* Whether this host has an OpenCL device (the test fails instead of
 * skipping under FITCL_TEST_REQUIRE_OPENCL=1). */
static int have_opencl(void) {
  fitcl_test_backend be[2];
  return fitcl_test_backends(be, 2) == 2;
}

static fitcl_context *context(const char *device, fitcl_precision prec, fitcl_status *st) {
  fitcl_context_options o = {0};
  o.device = device;
  o.precision = prec;
  o.cache_dir = getenv("FITCL_CACHE_DIR");
  fitcl_context *ctx = NULL;
  *st = fitcl_context_create(&o, &ctx);
  return ctx;
}

/* An OpenCL context without fp64 in `prec`, checked to be one. */
static fitcl_context *no_fp64_context(fitcl_precision prec, const char *want) {
  setenv("FITCL_OPENCL_NO_FP64", "1", 1);
  fitcl_status st;
  fitcl_context *ctx = context("opencl", prec, &st);
  cr_assert_eq(st, FITCL_OK, "%s", fitcl_errmsg(ctx));
  fitcl_context_info info;
  cr_assert_eq(fitcl_context_get_info(ctx, &info), FITCL_OK);
  cr_assert_str_eq(info.backend, "opencl");
  cr_assert_str_eq(info.precision, want);
  return ctx;
}

Test(precision, env_words_and_errors) {
  setenv("FITCL_PRECISION", "quad", 1);
  fitcl_status st;
  fitcl_context *ctx = context("cpu", FITCL_PRECISION_DEFAULT, &st);
  cr_expect_eq(st, FITCL_ERR_ENV, "%s", fitcl_status_name(st));
  cr_expect_lt((int)st, 200, "an argument-class error");
  const char *msg = fitcl_errmsg(ctx);
  cr_expect_not_null(strstr(msg, "FITCL_PRECISION='quad'"), "message: %s", msg);
  cr_expect_not_null(strstr(msg, "double, mixed, single"), "message: %s", msg);
  fitcl_context_destroy(ctx);
  /* The option wins over the variable; a bad option value is refused. */
  ctx = context("cpu", FITCL_PRECISION_MIXED, &st);
  cr_expect_eq(st, FITCL_OK, "%s", fitcl_errmsg(ctx));
  fitcl_context_destroy(ctx);
  ctx = context("cpu", (fitcl_precision)9, &st);
  cr_expect_eq(st, FITCL_ERR_ARG);
  cr_expect_not_null(strstr(fitcl_errmsg(ctx), "precision"), "message: %s", fitcl_errmsg(ctx));
  fitcl_context_destroy(ctx);
  /* Any case; the pthreads backend computes in double whatever is asked. */
  setenv("FITCL_PRECISION", "Single", 1);
  ctx = context("cpu", FITCL_PRECISION_DEFAULT, &st);
  cr_assert_eq(st, FITCL_OK, "%s", fitcl_errmsg(ctx));
  fitcl_context_info info;
  fitcl_context_get_info(ctx, &info);
  cr_expect_str_eq(info.precision, "double");
  fitcl_context_destroy(ctx);
}

Test(precision, no_fp64_device_is_listed_used_and_refuses_double) {
  if (!have_opencl()) cr_skip_test("no OpenCL device");
  setenv("FITCL_OPENCL_NO_FP64", "1", 1);
  fitcl_device_desc *list = NULL;
  size_t n = 0;
  cr_assert_eq(fitcl_devices_list(&list, &n), FITCL_OK);
  int seen = 0;
  for (size_t i = 0; i < n; ++i)
    if (!strcmp(list[i].backend, "opencl")) {
      seen = 1;
      cr_expect_eq(list[i].fp64, 0, "%s", list[i].name);
      cr_expect_str_eq(list[i].precision, "mixed");
    }
  fitcl_devices_free(list);
  cr_assert(seen);
  fitcl_context *ctx = no_fp64_context(FITCL_PRECISION_DEFAULT, "mixed");
  fitcl_context_destroy(ctx);
  fitcl_status st;
  ctx = context("opencl", FITCL_PRECISION_DOUBLE, &st);
  cr_expect_eq(st, FITCL_ERR_NO_FP64, "%s", fitcl_status_name(st));
  cr_expect_not_null(strstr(fitcl_errmsg(ctx), "FITCL_OPENCL_NO_FP64"), "message: %s",
                     fitcl_errmsg(ctx));
  fitcl_context_destroy(ctx);
  /* auto never takes the OpenCL CPU device; a list falls back past it. */
  ctx = context("opencl;cpu", FITCL_PRECISION_DOUBLE, &st);
  cr_expect_eq(st, FITCL_OK, "%s", fitcl_errmsg(ctx));
  fitcl_context_info info;
  fitcl_context_get_info(ctx, &info);
  cr_expect_str_eq(info.backend, "cpu");
  cr_expect_not_null(info.fallback_reason);
  fitcl_context_destroy(ctx);
}

#if FITCL_WITH_OPENCL
/* The build guard: on a device without fp64 a program that names double
 * does not build, even on PoCL, which has fp64; the same in float does. */
Test(precision, stray_double_does_not_build) {
  if (!have_opencl()) cr_skip_test("no OpenCL device");
  fitcl_context *ctx = no_fp64_context(FITCL_PRECISION_MIXED, "mixed");
  const char *bad = "#include \"common/compat.h\"\n"
                    "__kernel void k(__global float *o) { double d = o[0]; o[0] = d * 2; }\n";
  const char *good = "#include \"common/compat.h\"\n"
                     "__kernel void k(__global float *o) { fitcl_real d = o[0]; o[0] = d * 2; }\n";
  cl_program p = NULL;
  cr_expect_eq(fitcl__ocl_build_source(ctx, "stray double", bad, NULL, &p), FITCL_ERR_BUILD);
  cr_expect_not_null(strstr(fitcl_errmsg(ctx), "fitcl_double_is_unavailable_here"), "log: %s",
                     fitcl_errmsg(ctx));
  if (p) fitcl__ocl_release_program(ctx, p);
  p = NULL;
  cr_expect_eq(fitcl__ocl_build_source(ctx, "float", good, NULL, &p), FITCL_OK, "%s",
               fitcl_errmsg(ctx));
  if (p) fitcl__ocl_release_program(ctx, p);
  fitcl_context_destroy(ctx);
}
#endif

/* Data for the accumulation: y = 2 exp(-0.7 x) + 0.5 + noise on
 * x in [0, 8), weights 0.5 .. 1.5. */
typedef struct data {
  size_t n;
  double *x, *y, *s;
} data;

static data make_data(size_t n) {
  data d = {n, malloc(n * sizeof(double)), malloc(n * sizeof(double)), malloc(n * sizeof(double))};
  cr_assert(d.x && d.y && d.s);
  uint64_t r = 12345;
  for (size_t i = 0; i < n; ++i) {
    r = r * 6364136223846793005ULL + 1442695040888963407ULL;
    double u = (double)(r >> 11) / 9007199254740992.0 - 0.5;
    d.x[i] = 8.0 * (double)i / (double)n;
    d.y[i] = 2.0 * exp(-0.7 * d.x[i]) + 0.5 + 0.01 * u;
    d.s[i] = 0.5 + (double)(i % 7) / 6.0;
  }
  return d;
}

static void free_data(data *d) {
  free(d->x);
  free(d->y);
  free(d->s);
}

/* One pass (want_jac) of `m` over d in chunks of 2^16. */
static fitcl_accum_sums pass(fitcl_context *ctx, const fitcl_model *m, const data *d,
                             const double *p, int want_jac, const char *want_precision) {
  fitcl_accum *a = NULL;
  fitcl_accum_options o = {0};
  o.max_chunk = (size_t)1 << 16;
  cr_assert_eq(fitcl_accum_create(ctx, m, &o, &a), FITCL_OK, "%s", fitcl_errmsg(ctx));
  fitcl_accum_info info;
  fitcl_accum_get_info(a, &info);
  cr_assert_str_eq(info.precision, want_precision);
  fitcl_accum_sums s;
  cr_assert_eq(fitcl_accum_begin(a, p, want_jac), FITCL_OK);
  for (size_t off = 0; off < d->n; off += o.max_chunk) {
    size_t len = d->n - off < o.max_chunk ? d->n - off : o.max_chunk;
    const double *x[1] = {d->x + off};
    cr_assert_eq(fitcl_accum_chunk(a, x, d->y + off, d->s + off, len), FITCL_OK, "%s",
                 fitcl_errmsg(ctx));
  }
  cr_assert_eq(fitcl_accum_end(a, &s), FITCL_OK, "%s", fitcl_errmsg(ctx));
  fitcl_accum_destroy(a);
  return s;
}

/* Σ|term| of each sum, in double on the host: the scale the float
 * evaluation's relative errors apply to. */
static void magnitudes(const fitcl_model *m, const data *d, const double *p, double *jtj,
                       double *jtr, double *rss) {
  int np = (int)fitcl_model_nparams(m);
  double *f = malloc(d->n * sizeof *f), *J = malloc(d->n * (size_t)np * sizeof *J);
  const double *x[1] = {d->x};
  cr_assert_eq(fitcl_model_eval(m, p, x, d->n, f, J), FITCL_OK);
  memset(jtj, 0, (size_t)(np * np) * sizeof *jtj);
  memset(jtr, 0, (size_t)np * sizeof *jtr);
  *rss = 0;
  for (size_t i = 0; i < d->n; ++i) {
    double is = 1.0 / d->s[i], r = (d->y[i] - f[i]) * is;
    for (int k = 0; k < np; ++k) {
      for (int l = 0; l < np; ++l)
        jtj[k * np + l] += fabs(J[i * (size_t)np + (size_t)k] * J[i * (size_t)np + (size_t)l]) *
                           is * is;
      jtr[k] += fabs(J[i * (size_t)np + (size_t)k] * is * r);
    }
    *rss += r * r;
  }
  free(f);
  free(J);
}

/* JᵀJ, Jᵀr and the cost of a mode against double on the pthreads backend:
 * |got - want| <= tol * Σ|term|, with tol a few float epsilons (mixed: the
 * per-point float evaluation is the only error) or, in single, the float
 * sums' n-term bound on top. */
static void check_sums(fitcl_precision prec, const char *name, double tol) {
  if (!have_opencl()) cr_skip_test("no OpenCL device");
  fitcl_context *ocl = no_fp64_context(prec, name);
  fitcl_status st;
  fitcl_context *cpu = context("cpu", FITCL_PRECISION_DEFAULT, &st);
  cr_assert_eq(st, FITCL_OK);
  data d = make_data(300000);
  const char *pn[] = {"a", "b", "c"}, *vn[] = {"x"};
  fitcl_model *mo = NULL, *mc = NULL;
  cr_assert_eq(fitcl_model_compile(ocl, "a*exp(-b*x)+c", pn, 3, vn, 1, &mo), FITCL_OK);
  cr_assert_eq(fitcl_model_compile(cpu, "a*exp(-b*x)+c", pn, 3, vn, 1, &mc), FITCL_OK);
  const double p[3] = {1.7, 0.6, 0.4}; /* away from the optimum: residuals O(1) */
  fitcl_accum_sums got = pass(ocl, mo, &d, p, 1, name), want = pass(cpu, mc, &d, p, 1, "double");
  double mj[9], mr[3], mrss;
  magnitudes(mc, &d, p, mj, mr, &mrss);
  int differs = 0;
  for (int k = 0; k < 9; ++k) {
    cr_expect_leq(fabs(got.jtj[k] - want.jtj[k]), tol * mj[k], "%s jtj[%d] %.17g vs %.17g", name,
                  k, got.jtj[k], want.jtj[k]);
    differs |= got.jtj[k] != want.jtj[k];
  }
  for (int k = 0; k < 3; ++k)
    cr_expect_leq(fabs(got.jtr[k] - want.jtr[k]), tol * mr[k], "%s jtr[%d] %.17g vs %.17g", name,
                  k, got.jtr[k], want.jtr[k]);
  cr_expect_leq(fabs(got.rss - want.rss), tol * mrss, "%s rss %.17g vs %.17g", name, got.rss,
                want.rss);
  cr_expect_leq(fabs(got.cost - want.cost), tol * mrss, "%s cost", name);
  cr_expect_eq(got.points, d.n);
  /* It computed in float: the bits are not double's. */
  cr_expect(differs, "%s gave double's bits exactly", name);
  /* The cost-only pass agrees with the fused one. */
  fitcl_accum_sums c = pass(ocl, mo, &d, p, 0, name);
  cr_expect_leq(fabs(c.rss - got.rss), tol * mrss, "%s cost-only rss", name);
  fitcl_model_destroy(mo);
  fitcl_model_destroy(mc);
  free_data(&d);
  fitcl_context_destroy(ocl);
  fitcl_context_destroy(cpu);
}

/* Mixed: each term carries a few float roundings (data, parameters, exp,
 * the Jacobian's products), the sums none to speak of. */
Test(precision, mixed_sums_without_fp64) {
  check_sums(FITCL_PRECISION_MIXED, "mixed", 16 * FLT_EPSILON);
}

/* Single: float sums of 256-point blocks and of 64 blocks add roughly
 * (256 + 64) half-ulps of float, relative to Σ|term|. */
Test(precision, single_sums) {
  check_sums(FITCL_PRECISION_SINGLE, "single", (16 + 256 + 64) * FLT_EPSILON);
}

/* Mixed on a device that has fp64 (PoCL as it is): the sums in double. */
Test(precision, mixed_sums_with_fp64) {
  if (!have_opencl()) cr_skip_test("no OpenCL device");
  fitcl_status st;
  fitcl_context *ctx = context("opencl", FITCL_PRECISION_MIXED, &st);
  cr_assert_eq(st, FITCL_OK, "%s", fitcl_errmsg(ctx));
  fitcl_context_info info;
  fitcl_context_get_info(ctx, &info);
  cr_assert_str_eq(info.precision, "mixed");
  fitcl_context *cpu = context("cpu", FITCL_PRECISION_DEFAULT, &st);
  data d = make_data(100000);
  const char *pn[] = {"a", "b", "c"}, *vn[] = {"x"};
  fitcl_model *mo = NULL, *mc = NULL;
  cr_assert_eq(fitcl_model_compile(ctx, "a*exp(-b*x)+c", pn, 3, vn, 1, &mo), FITCL_OK);
  cr_assert_eq(fitcl_model_compile(cpu, "a*exp(-b*x)+c", pn, 3, vn, 1, &mc), FITCL_OK);
  const double p[3] = {1.7, 0.6, 0.4};
  fitcl_accum_sums got = pass(ctx, mo, &d, p, 1, "mixed"), want = pass(cpu, mc, &d, p, 1, "double");
  double mj[9], mr[3], mrss;
  magnitudes(mc, &d, p, mj, mr, &mrss);
  for (int k = 0; k < 9; ++k)
    cr_expect_leq(fabs(got.jtj[k] - want.jtj[k]), 16 * FLT_EPSILON * mj[k], "jtj[%d]", k);
  for (int k = 0; k < 3; ++k)
    cr_expect_leq(fabs(got.jtr[k] - want.jtr[k]), 16 * FLT_EPSILON * mr[k], "jtr[%d]", k);
  fitcl_model_destroy(mo);
  fitcl_model_destroy(mc);
  free_data(&d);
  fitcl_context_destroy(ctx);
  fitcl_context_destroy(cpu);
}

/* A fit in a mode against the same fit in double on the pthreads backend:
 * a built-in model and an expression model, 10^6 points. */
static void check_fit(fitcl_precision prec, const char *name, double tol) {
  if (!have_opencl()) cr_skip_test("no OpenCL device");
  fitcl_context *ocl = no_fp64_context(prec, name);
  fitcl_status st;
  fitcl_context *cpu = context("cpu", FITCL_PRECISION_DEFAULT, &st);
  data d = make_data(1000000);
  const double *x[1] = {d.x};
  for (int builtin = 0; builtin < 2; ++builtin) {
    fitcl_model *mo = NULL, *mc = NULL;
    const char *pn[] = {"A", "k", "base"}, *vn[] = {"t"};
    if (builtin) {
      cr_assert_eq(fitcl_model_builtin(ocl, "exp_decay", &mo), FITCL_OK);
      cr_assert_eq(fitcl_model_builtin(cpu, "exp_decay", &mc), FITCL_OK);
    } else {
      cr_assert_eq(fitcl_model_compile(ocl, "base+A*exp(-k*t)", pn, 3, vn, 1, &mo), FITCL_OK);
      cr_assert_eq(fitcl_model_compile(cpu, "base+A*exp(-k*t)", pn, 3, vn, 1, &mc), FITCL_OK);
    }
    /* exp_decay is a*exp(-b*x)+c; the expression names them A, k, base
     * and puts the constant first. */
    const double p0b[3] = {1.0, 1.0, 0.0}, p0e[3] = {1.0, 1.0, 0.0};
    const double *p0 = builtin ? p0b : p0e;
    fitcl_curvefit_result ro, rc;
    cr_assert_eq(fitcl_curve_fit_arrays(ocl, mo, x, d.y, d.s, d.n, p0, NULL, &ro), FITCL_OK, "%s",
                 fitcl_errmsg(ocl));
    cr_assert_eq(fitcl_curve_fit_arrays(cpu, mc, x, d.y, d.s, d.n, p0, NULL, &rc), FITCL_OK, "%s",
                 fitcl_errmsg(cpu));
    cr_expect(ro.converged, "%s: %s", name, fitcl_curvefit_status_name(ro.status));
    for (int k = 0; k < 3; ++k)
      cr_expect(fitcl_test_close(ro.params[k], rc.params[k], tol),
                "%s %s p%d %.12g vs double %.12g", name, builtin ? "built-in" : "expression", k,
                ro.params[k], rc.params[k]);
    cr_expect(fitcl_test_close(ro.rss, rc.rss, tol), "%s rss %.12g vs %.12g", name, ro.rss, rc.rss);
    fitcl_model_destroy(mo);
    fitcl_model_destroy(mc);
  }
  free_data(&d);
  fitcl_context_destroy(ocl);
  fitcl_context_destroy(cpu);
}

Test(precision, mixed_fit_within_1e6_of_double, .timeout = 600) {
  check_fit(FITCL_PRECISION_MIXED, "mixed", 1e-6);
}

/* Single: float sums over 10^6 points (in 256-point blocks, then groups
 * of 64 blocks, then in double on the host): parameters to float level. */
Test(precision, single_fit_within_float_tolerance, .timeout = 600) {
  check_fit(FITCL_PRECISION_SINGLE, "single", 1e-5);
}

/* A QR pass in float (single, or mixed without fp64) on rows whose squares
 * underflow float (J near 1e-19): the rotations rescale instead of dividing
 * by a zero norm.  The triangle against the same pass in double. */
static void check_qr_tiny(fitcl_precision prec, const char *name) {
  if (!have_opencl()) cr_skip_test("no OpenCL device");
  fitcl_context *ocl = no_fp64_context(prec, name);
  fitcl_status st;
  fitcl_context *cpu = context("cpu", FITCL_PRECISION_DEFAULT, &st);
  const size_t n = 100000;
  double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
  for (size_t i = 0; i < n; ++i) {
    x[i] = 40.0 + 6.0 * (double)i / (double)n;
    y[i] = 3.0 * exp(-x[i]) * (1.0 + 0.01 * sin((double)i));
  }
  const char *pn[] = {"a", "b"}, *vn[] = {"x"};
  const double p[2] = {2.5, 1.0};
  double T[2][6];
  fitcl_context *ctxs[2] = {ocl, cpu};
  for (int k = 0; k < 2; ++k) {
    fitcl_model *m = NULL;
    fitcl_accum *a = NULL;
    cr_assert_eq(fitcl_model_compile(ctxs[k], "a*exp(-b*x)", pn, 2, vn, 1, &m), FITCL_OK);
    cr_assert_eq(fitcl_accum_create(ctxs[k], m, NULL, &a), FITCL_OK, "%s", fitcl_errmsg(ctxs[k]));
    cr_assert_eq(fitcl__accum_begin_mode(a, p, FITCL__ACCUM_QR), FITCL_OK);
    const double *xc[1] = {x};
    cr_assert_eq(fitcl_accum_chunk(a, xc, y, NULL, n), FITCL_OK, "%s", fitcl_errmsg(ctxs[k]));
    double cost, rss;
    uint64_t pts;
    cr_assert_eq(fitcl__accum_end_qr(a, T[k], &cost, &rss, &pts), FITCL_OK);
    fitcl_accum_destroy(a);
    fitcl_model_destroy(m);
  }
  /* The Jacobian's triangle (entries 0, 1, 3 of the packed [J | r] one)
   * to float's accuracy; the residual's column (2, 4, 5) is a difference
   * of nearly equal terms here, so only to a few per cent. */
  for (int q = 0; q < 6; ++q) {
    double tol = q == 0 || q == 1 || q == 3 ? 1e-4 : 5e-2;
    cr_expect(isfinite(T[0][q]), "%s T[%d] = %g", name, q, T[0][q]);
    cr_expect_leq(fabs(fabs(T[0][q]) - fabs(T[1][q])), tol * fabs(T[1][q]),
                  "%s T[%d] %.9g vs double %.9g", name, q, T[0][q], T[1][q]);
  }
  free(x);
  free(y);
  fitcl_context_destroy(ocl);
  fitcl_context_destroy(cpu);
}

Test(precision, single_qr_pass_with_underflowing_squares) {
  check_qr_tiny(FITCL_PRECISION_SINGLE, "single");
}

Test(precision, mixed_qr_pass_without_fp64_with_underflowing_squares) {
  check_qr_tiny(FITCL_PRECISION_MIXED, "mixed");
}

/* The solver forced to QR form, in mixed without fp64. */
Test(precision, mixed_fit_in_qr_form) {
  if (!have_opencl()) cr_skip_test("no OpenCL device");
  fitcl_context *ocl = no_fp64_context(FITCL_PRECISION_MIXED, "mixed");
  fitcl_status st;
  fitcl_context *cpu = context("cpu", FITCL_PRECISION_DEFAULT, &st);
  data d = make_data(200000);
  const double *x[1] = {d.x};
  const char *pn[] = {"a", "b", "c"}, *vn[] = {"x"};
  fitcl_curvefit_result r[2];
  fitcl_context *ctxs[2] = {ocl, cpu};
  for (int k = 0; k < 2; ++k) {
    fitcl_model *m = NULL;
    cr_assert_eq(fitcl_model_compile(ctxs[k], "a*exp(-b*x)+c", pn, 3, vn, 1, &m), FITCL_OK);
    fitcl_curvefit_options fo = {0};
    fo.solver = FITCL_SOLVER_QR;
    const double p0[3] = {1, 1, 0};
    cr_assert_eq(fitcl_curve_fit_arrays(ctxs[k], m, x, d.y, d.s, d.n, p0, &fo, &r[k]), FITCL_OK,
                 "%s", fitcl_errmsg(ctxs[k]));
    fitcl_model_destroy(m);
  }
  cr_expect_eq(r[0].solver, FITCL_SOLVER_QR);
  for (int j = 0; j < 3; ++j)
    cr_expect(fitcl_test_close(r[0].params[j], r[1].params[j], 1e-6), "p%d %.12g vs %.12g", j,
              r[0].params[j], r[1].params[j]);
  free_data(&d);
  fitcl_context_destroy(ocl);
  fitcl_context_destroy(cpu);
}

/* A model given as OpenCL C source is compiled in float too (its double
 * read as float): the same sums as the expression it came from. */
Test(precision, opencl_source_model_in_mixed) {
  if (!have_opencl()) cr_skip_test("no OpenCL device");
  fitcl_context *ocl = no_fp64_context(FITCL_PRECISION_MIXED, "mixed");
  data d = make_data(50000);
  const char *pn[] = {"a", "b", "c"}, *vn[] = {"x"};
  fitcl_model *me = NULL, *ms = NULL;
  cr_assert_eq(fitcl_model_compile(ocl, "a*exp(-b*x)+c", pn, 3, vn, 1, &me), FITCL_OK);
  char *src = fitcl_model_opencl_source(me);
  cr_assert_not_null(src);
  cr_assert_eq(fitcl_model_from_opencl(ocl, src, pn, 3, vn, 1, &ms), FITCL_OK, "%s",
               fitcl_errmsg(ocl));
  free(src);
  const double p[3] = {1.7, 0.6, 0.4};
  fitcl_accum_sums se = pass(ocl, me, &d, p, 1, "mixed"), ss = pass(ocl, ms, &d, p, 1, "mixed");
  for (int k = 0; k < 9; ++k)
    cr_expect(fitcl_test_close(ss.jtj[k], se.jtj[k], 16 * FLT_EPSILON), "jtj[%d] %.17g vs %.17g",
              k, ss.jtj[k], se.jtj[k]);
  cr_expect(fitcl_test_close(ss.cost, se.cost, 16 * FLT_EPSILON));
  fitcl_model_destroy(me);
  fitcl_model_destroy(ms);
  free_data(&d);
  fitcl_context_destroy(ocl);
}

/* Opened without fp64, a device keeps tuning records apart from its own:
 * its accumulation runs other kernels. */
Test(precision, no_fp64_tuning_identity_is_separate) {
  if (!have_opencl()) cr_skip_test("no OpenCL device");
  fitcl_status st;
  fitcl_context *with = context("opencl", FITCL_PRECISION_DEFAULT, &st);
  cr_assert_eq(st, FITCL_OK, "%s", fitcl_errmsg(with));
  fitcl_context *without = no_fp64_context(FITCL_PRECISION_DEFAULT, "mixed");
  cr_expect(with->backend->identity[0] && without->backend->identity[0]);
  if (with->backend->caps.fp64)
    cr_expect_str_neq(with->backend->identity, without->backend->identity);
  cr_expect_not_null(strstr(without->backend->identity, "no fp64"));
  fitcl_context_destroy(with);
  fitcl_context_destroy(without);
}
