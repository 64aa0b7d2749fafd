/* Jacobian accumulation on every backend: against a long-double reference
 * with closed-form derivatives and scipy's robust-loss formulas, across
 * chunkings, run to run, pthreads vs OpenCL, fused vs CLBlast, cost-only vs
 * fused, callback and OpenCL-source models, and no recompilation. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "test_util.h"

/* Reference sums in long double for exp_decay a*exp(-b*x)+c, written from
 * the formulas (scipy.optimize.least_squares conventions), not the code. */
typedef struct ref_sums { long double jtj[9], jtr[3], cost, rss; } ref_sums;

static void loss_ref(int loss, long double z, long double C, long double *rho, long double *r1,
                     long double *r2) {
  long double u = z / (C * C);
  long double a, b, c;
  switch (loss) {
  case FITCL_LOSS_SOFT_L1: a = 2 * (sqrtl(1 + u) - 1); b = 1 / sqrtl(1 + u); c = -0.5L * powl(1 + u, -1.5L); break;
  case FITCL_LOSS_HUBER:
    if (u <= 1) { a = u; b = 1; c = 0; }
    else { a = 2 * sqrtl(u) - 1; b = 1 / sqrtl(u); c = -0.5L * powl(u, -1.5L); }
    break;
  case FITCL_LOSS_CAUCHY: a = log1pl(u); b = 1 / (1 + u); c = -1 / ((1 + u) * (1 + u)); break;
  case FITCL_LOSS_ARCTAN: a = atanl(u); b = 1 / (1 + u * u); c = -2 * u / ((1 + u * u) * (1 + u * u)); break;
  default: a = u; b = 1; c = 0;
  }
  *rho = C * C * a;
  *r1 = b;
  *r2 = c / (C * C);
}

static ref_sums reference_exp_decay(const double *p, const double *x, const double *y,
                                    const double *sigma, size_t n, int loss, double C) {
  ref_sums R;
  memset(&R, 0, sizeof R);
  for (size_t i = 0; i < n; ++i) {
    long double e = expl(-(long double)p[1] * x[i]);
    long double f = p[0] * e + p[2];
    long double s = sigma ? sigma[i] : 1.0L;
    long double r = (y[i] - f) / s;
    long double J[3] = {e / s, -p[0] * x[i] * e / s, 1 / s};
    long double z = r * r, rho, r1, r2;
    loss_ref(loss, z, C, &rho, &r1, &r2);
    long double w = r1 + 2 * z * r2;
    if (w < 2.220446049250313e-16L) w = 2.220446049250313e-16L;
    for (int k = 0; k < 3; ++k) {
      for (int l = 0; l < 3; ++l) R.jtj[k * 3 + l] += w * J[k] * J[l];
      R.jtr[k] += r1 * J[k] * r;
    }
    R.cost += 0.5L * rho;
    R.rss += z;
  }
  return R;
}

/* Synthetic exp_decay data with noise and a few outliers. */
typedef struct dataset { size_t n; double *x, *y, *sigma; } dataset;
static dataset make_data(size_t n, int outliers) {
  dataset d = {n, malloc(n * sizeof(double)), malloc(n * sizeof(double)), malloc(n * sizeof(double))};
  unsigned long long s = 12345;
  for (size_t i = 0; i < n; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    double u = (double)(s >> 11) / 9007199254740992.0 - 0.5;
    d.x[i] = 5.0 * (double)i / (double)n;
    d.sigma[i] = 0.05 + 0.02 * (double)(i % 7);
    d.y[i] = 2.0 * exp(-0.8 * d.x[i]) + 0.3 + 0.1 * u;
    if (outliers && i % 97 == 0) d.y[i] += 3.0;
  }
  return d;
}
static void free_data(dataset *d) { free(d->x); free(d->y); free(d->sigma); }

/* One full pass in chunks of `chunk` points. */
static fitcl_status run_pass(fitcl_accum *a, const double *p, int jac, const dataset *d,
                             int use_sigma, size_t chunk, fitcl_accum_sums *out) {
  fitcl_status st = fitcl_accum_begin(a, p, jac);
  if (st != FITCL_OK) return st;
  for (size_t s = 0; s < d->n; s += chunk) {
    size_t len = d->n - s < chunk ? d->n - s : chunk;
    const double *x[] = {d->x + s};
    st = fitcl_accum_chunk(a, x, d->y + s, use_sigma ? d->sigma + s : NULL, len);
    if (st != FITCL_OK) return st;
  }
  return fitcl_accum_end(a, out);
}

static void expect_close_sums(const fitcl_accum_sums *a, const ref_sums *r, double tol,
                              const char *what) {
  int np = a->nparams;
  for (int k = 0; k < np; ++k) {
    for (int l = 0; l < np; ++l)
      cr_expect(fitcl_test_close(a->jtj[k * np + l], (double)r->jtj[k * np + l], tol),
                "%s: jtj[%d][%d] %.17g vs %.17Lg", what, k, l, a->jtj[k * np + l], r->jtj[k * np + l]);
    /* Jᵀr cancels near the optimum; by Cauchy-Schwarz its terms are bounded
     * by sqrt(jtj_kk * Σr²), which is the meaningful scale. */
    double scale = sqrt((double)r->jtj[k * np + k] * (double)r->rss * 4);
    cr_expect(fabs(a->jtr[k] - (double)r->jtr[k]) <= tol * scale, "%s: jtr[%d] %.17g vs %.17Lg",
              what, k, a->jtr[k], r->jtr[k]);
  }
  cr_expect(fitcl_test_close(a->cost, (double)r->cost, tol), "%s: cost %.17g vs %.17Lg", what,
            a->cost, r->cost);
  cr_expect(fitcl_test_close(a->rss, (double)r->rss, tol), "%s: rss %.17g vs %.17Lg", what,
            a->rss, r->rss);
}

static const char *loss_names[] = {"linear", "soft_l1", "huber", "cauchy", "arctan"};

Test(accum, exp_decay_matches_reference_all_losses) {
  fitcl_test_backend be[2];
  size_t nbe = fitcl_test_backends(be, 2);
  dataset d = make_data(10007, 1);
  const double p[] = {1.9, 0.75, 0.28};
  for (size_t b = 0; b < nbe; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    fitcl_model *m = NULL;
    cr_assert_eq(fitcl_model_builtin(ctx, "exp_decay", &m), FITCL_OK);
    for (int loss = 0; loss <= 4; ++loss)
      for (int sig = 0; sig < 2; ++sig) {
        fitcl_accum_options o = {0};
        o.loss = (fitcl_loss)loss;
        o.f_scale = loss ? 0.7 : 0.0;
        fitcl_accum *a = NULL;
        cr_assert_eq(fitcl_accum_create(ctx, m, &o, &a), FITCL_OK, "%s", fitcl_errmsg(ctx));
        fitcl_accum_sums s;
        cr_assert_eq(run_pass(a, p, 1, &d, sig, 3000, &s), FITCL_OK, "%s", fitcl_errmsg(ctx));
        ref_sums r = reference_exp_decay(p, d.x, d.y, sig ? d.sigma : NULL, d.n, loss, loss ? 0.7 : 1.0);
        char what[96];
        snprintf(what, sizeof what, "%s %s sigma=%d", be[b].name, loss_names[loss], sig);
        expect_close_sums(&s, &r, 1e-12, what);
        cr_expect_eq(s.points, d.n);
        fitcl_accum_destroy(a);
      }
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
  free_data(&d);
}

Test(accum, chunkings_agree_and_runs_are_bitwise_identical) {
  fitcl_test_backend be[2];
  size_t nbe = fitcl_test_backends(be, 2);
  dataset d = make_data(50000, 0);
  const double p[] = {2.1, 0.7, 0.31};
  size_t chunks[] = {50000, 1, 255, 256, 257, 4096, 12345, 49999};
  for (size_t b = 0; b < nbe; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    fitcl_model *m = NULL;
    cr_assert_eq(fitcl_model_builtin(ctx, "exp_decay", &m), FITCL_OK);
    fitcl_accum_options o = {0};
    o.max_chunk = 20000; /* also exercises internal splitting */
    fitcl_accum *a = NULL;
    cr_assert_eq(fitcl_accum_create(ctx, m, &o, &a), FITCL_OK, "%s", fitcl_errmsg(ctx));
    fitcl_accum_sums base, again, s;
    cr_assert_eq(run_pass(a, p, 1, &d, 1, 50000, &base), FITCL_OK);
    cr_assert_eq(run_pass(a, p, 1, &d, 1, 50000, &again), FITCL_OK);
    cr_expect(memcmp(&base, &again, sizeof base) == 0, "%s: two runs differ", be[b].name);
    ref_sums r = reference_exp_decay(p, d.x, d.y, d.sigma, d.n, 0, 1.0);
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; ++c) {
      if (chunks[c] == 1 && d.n > 5000) {
        /* One point per call: a shorter dataset keeps it quick. */
        dataset small = d;
        small.n = 3000;
        fitcl_accum_sums s1, s2;
        cr_assert_eq(run_pass(a, p, 1, &small, 1, 1, &s1), FITCL_OK);
        cr_assert_eq(run_pass(a, p, 1, &small, 1, 3000, &s2), FITCL_OK);
        ref_sums rs = reference_exp_decay(p, d.x, d.y, d.sigma, 3000, 0, 1.0);
        expect_close_sums(&s1, &rs, 1e-13, "chunk 1");
        expect_close_sums(&s2, &rs, 1e-13, "chunk 3000");
        continue;
      }
      cr_assert_eq(run_pass(a, p, 1, &d, 1, chunks[c], &s), FITCL_OK);
      char what[64];
      snprintf(what, sizeof what, "%s chunk %zu", be[b].name, chunks[c]);
      expect_close_sums(&s, &r, 1e-13, what);
      for (int i = 0; i < 9; ++i)
        cr_expect(fitcl_test_close(s.jtj[i], base.jtj[i], 1e-13), "%s jtj[%d] vs one chunk", what, i);
      cr_expect(fitcl_test_close(s.cost, base.cost, 1e-13), "%s cost vs one chunk", what);
    }
    fitcl_accum_info info;
    cr_assert_eq(fitcl_accum_get_info(a, &info), FITCL_OK);
    cr_expect(info.program_builds <= 1, "%s: %llu builds", be[b].name,
              (unsigned long long)info.program_builds);
    fitcl_accum_destroy(a);
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
  free_data(&d);
}

Test(accum, cost_only_pass_matches_fused) {
  fitcl_test_backend be[2];
  size_t nbe = fitcl_test_backends(be, 2);
  dataset d = make_data(7777, 1);
  const double p[] = {2.0, 0.8, 0.3};
  for (size_t b = 0; b < nbe; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    fitcl_model *m = NULL;
    cr_assert_eq(fitcl_model_builtin(ctx, "exp_decay", &m), FITCL_OK);
    fitcl_accum_options o = {0};
    o.loss = FITCL_LOSS_CAUCHY;
    fitcl_accum *a = NULL;
    cr_assert_eq(fitcl_accum_create(ctx, m, &o, &a), FITCL_OK);
    fitcl_accum_sums full, cost;
    cr_assert_eq(run_pass(a, p, 1, &d, 1, 1000, &full), FITCL_OK);
    cr_assert_eq(run_pass(a, p, 0, &d, 1, 1000, &cost), FITCL_OK);
    cr_expect(fitcl_test_close(full.cost, cost.cost, 1e-14));
    cr_expect(fitcl_test_close(full.rss, cost.rss, 1e-14));
    cr_expect_eq(cost.points, d.n);
    cr_expect_eq(cost.jtj[0], 0.0);
    fitcl_accum_destroy(a);
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
  free_data(&d);
}

/* XPCS g2 with tau and q columns: reference from the model's own host
 * Jacobian (checked against finite differences in test_expr) summed in long
 * double; and pthreads vs OpenCL to 1e-12. */
Test(accum, xpcs_backends_agree) {
  fitcl_test_backend be[2];
  size_t nbe = fitcl_test_backends(be, 2);
  size_t n = 30001;
  double *tau = malloc(n * sizeof *tau), *q = malloc(n * sizeof *q), *y = malloc(n * sizeof *y),
         *sg = malloc(n * sizeof *sg);
  for (size_t i = 0; i < n; ++i) {
    sg[i] = 0.5 + 0.25 * (double)(i % 5);
    tau[i] = 1e-3 * pow(1e4, (double)(i % 1000) / 1000.0);
    q[i] = 0.01 + 0.002 * (double)(i / 1000);
    y[i] = 1.0 + 0.25 * exp(-2 * q[i] * q[i] * (1500.0 * tau[i])) + 1e-3 * sin((double)i);
  }
  const double p[] = {1.0, 0.24, 1400.0, 0.05, 10.0};
  /* Unweighted, then weighted (the compiled and staged code have a form
   * for each). */
  for (int w = 0; w < 2; ++w) {
    const double *s = w ? sg : NULL;
    fitcl_accum_sums res[2];
    for (size_t b = 0; b < nbe; ++b) {
      fitcl_context *ctx = fitcl_test_context(be[b].selector);
      fitcl_model *m = NULL;
      cr_assert_eq(fitcl_model_builtin(ctx, "xpcs_g2", &m), FITCL_OK);
      fitcl_accum *a = NULL;
      cr_assert_eq(fitcl_accum_create(ctx, m, NULL, &a), FITCL_OK, "%s", fitcl_errmsg(ctx));
      cr_assert_eq(fitcl_accum_begin(a, p, 1), FITCL_OK);
      const double *x[] = {tau, q};
      cr_assert_eq(fitcl_accum_chunk(a, x, y, s, n), FITCL_OK, "%s", fitcl_errmsg(ctx));
      cr_assert_eq(fitcl_accum_end(a, &res[b]), FITCL_OK);
      /* Reference. */
      double *f = malloc(n * sizeof *f), *J = malloc(n * 5 * sizeof *J);
      cr_assert_eq(fitcl_model_eval(m, p, x, n, f, J), FITCL_OK);
      long double jtj[25] = {0}, jtr[5] = {0}, rss = 0;
      for (size_t i = 0; i < n; ++i) {
        long double is = s ? 1.0L / s[i] : 1.0L, r = ((long double)y[i] - f[i]) * is;
        for (int k = 0; k < 5; ++k) {
          for (int l = 0; l < 5; ++l)
            jtj[k * 5 + l] += (long double)J[i * 5 + k] * J[i * 5 + l] * is * is;
          jtr[k] += J[i * 5 + k] * is * r;
        }
        rss += r * r;
      }
      for (int k = 0; k < 5; ++k) {
        for (int l = 0; l < 5; ++l)
          cr_expect(fitcl_test_close(res[b].jtj[k * 5 + l], (double)jtj[k * 5 + l], 1e-12),
                    "%s w %d jtj[%d][%d] %.17g vs %.17Lg", be[b].name, w, k, l, res[b].jtj[k * 5 + l], jtj[k * 5 + l]);
        double scale = sqrt((double)jtj[k * 5 + k] * (double)rss * 4);
        cr_expect(fabs(res[b].jtr[k] - (double)jtr[k]) <= 1e-12 * scale, "%s jtr[%d]", be[b].name, k);
      }
      cr_expect(fitcl_test_close(res[b].rss, (double)rss, 1e-12), "%s rss", be[b].name);
      free(f);
      free(J);
      fitcl_accum_destroy(a);
      fitcl_model_destroy(m);
      fitcl_context_destroy(ctx);
    }
    if (nbe == 2) {
      for (int i = 0; i < 25; ++i)
        cr_expect(fitcl_test_close(res[0].jtj[i], res[1].jtj[i], 1e-12), "cpu vs opencl jtj[%d]: %.17g vs %.17g",
                  i, res[0].jtj[i], res[1].jtj[i]);
      for (int k = 0; k < 5; ++k) {
        double scale = sqrt(res[0].jtj[k * 5 + k] * res[0].rss * 4);
        cr_expect(fabs(res[0].jtr[k] - res[1].jtr[k]) <= 1e-12 * scale, "cpu vs opencl jtr[%d]", k);
      }
      cr_expect(fitcl_test_close(res[0].cost, res[1].cost, 1e-12));
    }
  }
  free(sg);
  free(tau);
  free(q);
  free(y);
}

/* A wide model (12 parameters) through the fused and the CLBlast path. */
Test(accum, fused_and_clblast_agree) {
  fitcl_test_backend be[2];
  size_t nbe = fitcl_test_backends(be, 2);
  if (nbe < 2) cr_skip_test("no OpenCL device with fp64");
  fitcl_context *ctx = fitcl_test_context(be[1].selector);
  const char *pn[] = {"a1", "b1", "a2", "b2", "a3", "b3", "a4", "b4", "c0", "c1", "c2", "c3"};
  const char *vars[] = {"x"};
  fitcl_model *m = NULL;
  cr_assert_eq(fitcl_model_compile(ctx,
               "a1*exp(-b1*x)+a2*exp(-b2*x)+a3*exp(-b3*x)+a4*exp(-b4*x)+c0+c1*x+c2*x^2+c3*x^3",
               pn, 12, vars, 1, &m), FITCL_OK, "%s", fitcl_errmsg(ctx));
  dataset d = make_data(20000, 0);
  double p[12];
  for (int k = 0; k < 12; ++k) p[k] = 0.1 + 0.05 * k;
  fitcl_accum_sums s[2];
  for (int path = 1; path <= 2; ++path) {
    fitcl_accum_options o = {0};
    o.path = path;
    o.loss = FITCL_LOSS_HUBER;
    o.max_chunk = 8192;
    fitcl_accum *a = NULL;
    cr_assert_eq(fitcl_accum_create(ctx, m, &o, &a), FITCL_OK, "%s", fitcl_errmsg(ctx));
    cr_assert_eq(run_pass(a, p, 1, &d, 1, 7000, &s[path - 1]), FITCL_OK, "%s", fitcl_errmsg(ctx));
    fitcl_accum_info info;
    fitcl_accum_get_info(a, &info);
    cr_expect_eq(info.path, path);
    fitcl_accum_destroy(a);
  }
  for (int i = 0; i < 144; ++i)
    cr_expect(fitcl_test_close(s[0].jtj[i], s[1].jtj[i], 1e-12), "jtj[%d] fused %.17g clblast %.17g",
              i, s[0].jtj[i], s[1].jtj[i]);
  for (int k = 0; k < 12; ++k) {
    double scale = sqrt(s[0].jtj[k * 12 + k] * s[0].rss * 4);
    cr_expect(fabs(s[0].jtr[k] - s[1].jtr[k]) <= 1e-12 * scale, "jtr[%d] %.17g vs %.17g scale %g", k, s[0].jtr[k], s[1].jtr[k], scale);
  }
  cr_expect(fitcl_test_close(s[0].cost, s[1].cost, 1e-13));
  /* Automatic choice: measured, recorded, one of the two (CPU devices skip
   * the measurement unless a kernel variant is forced, as here). */
  fitcl__accum_ocl_variant = 2;
  fitcl_accum *a = NULL;
  cr_assert_eq(fitcl_accum_create(ctx, m, NULL, &a), FITCL_OK, "%s", fitcl_errmsg(ctx));
  fitcl_accum_info info;
  fitcl_accum_get_info(a, &info);
  cr_expect(info.path == 1 || info.path == 2);
  cr_expect(info.fused_cost_ns > 0);
  fitcl_accum_destroy(a);
  fitcl_model_destroy(m);
  free_data(&d);
  fitcl_context_destroy(ctx);
}

/* CLBlast is loaded when its path is first wanted (FITCL_CLBLAST_LIBRARY
 * is read then, once per process; Criterion runs each test in its own).
 * Without it, path 2 is refused with the reason and auto keeps fused. */
Test(accum, clblast_absent_only_refuses_its_path) {
  setenv("FITCL_CLBLAST_LIBRARY", "/nonexistent/libclblast.so.1", 1);
  fitcl_test_backend be[2];
  size_t nbe = fitcl_test_backends(be, 2);
  if (nbe < 2) cr_skip_test("no OpenCL device with fp64");
  fitcl_context *ctx = fitcl_test_context(be[1].selector);
  const char *pn[] = {"a1", "b1", "a2", "b2", "a3", "b3", "a4", "b4", "c0", "c1", "c2", "c3"};
  const char *vars[] = {"x"};
  fitcl_model *m = NULL;
  cr_assert_eq(fitcl_model_compile(ctx,
               "a1*exp(-b1*x)+a2*exp(-b2*x)+a3*exp(-b3*x)+a4*exp(-b4*x)+c0+c1*x+c2*x^2+c3*x^3",
               pn, 12, vars, 1, &m), FITCL_OK, "%s", fitcl_errmsg(ctx));
  fitcl_accum_options o = {0};
  o.path = FITCL_ACCUM_PATH_CLBLAST;
  fitcl_accum *a = NULL;
  cr_assert_eq(fitcl_accum_create(ctx, m, &o, &a), FITCL_ERR_UNSUPPORTED);
  cr_assert_null(a);
  cr_assert(strstr(fitcl_errmsg(ctx), "/nonexistent/libclblast.so.1 cannot be loaded"), "%s",
            fitcl_errmsg(ctx));
  /* Auto with the measurement forced (as on a GPU): fused, CLBlast unmeasured. */
  fitcl__accum_ocl_variant = 2;
  cr_assert_eq(fitcl_accum_create(ctx, m, NULL, &a), FITCL_OK, "%s", fitcl_errmsg(ctx));
  fitcl_accum_info info;
  fitcl_accum_get_info(a, &info);
  cr_expect_eq(info.path, FITCL_ACCUM_PATH_FUSED);
  cr_expect_eq(info.clblast_cost_ns, 0);
  dataset d = make_data(5000, 0);
  double p[12];
  for (int k = 0; k < 12; ++k) p[k] = 0.1 + 0.05 * k;
  fitcl_accum_sums s;
  cr_expect_eq(run_pass(a, p, 1, &d, 1, 2000, &s), FITCL_OK, "%s", fitcl_errmsg(ctx));
  fitcl_accum_destroy(a);
  free_data(&d);
  fitcl_model_destroy(m);
  fitcl_context_destroy(ctx);
}

/* exp_decay as a C callback: same sums as the expression on every context. */
static void cb_exp_decay(void *user, const double *p, const double *const *x, size_t n, double *f,
                         double *jac) {
  (void)user;
  for (size_t i = 0; i < n; ++i) {
    double e = exp(-p[1] * x[0][i]);
    f[i] = p[0] * e + p[2];
    if (jac) {
      jac[i * 3] = e;
      jac[i * 3 + 1] = -p[0] * x[0][i] * e;
      jac[i * 3 + 2] = 1.0;
    }
  }
}

Test(accum, callback_and_opencl_source_models) {
  fitcl_test_backend be[2];
  size_t nbe = fitcl_test_backends(be, 2);
  dataset d = make_data(9000, 0);
  const double p[] = {2.0, 0.8, 0.3};
  const char *pn[] = {"a", "b", "c"};
  const char *vars[] = {"x"};
  ref_sums r = reference_exp_decay(p, d.x, d.y, d.sigma, d.n, 0, 1.0);
  for (size_t b = 0; b < nbe; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    fitcl_model *cb = NULL, *expr = NULL, *src = NULL;
    cr_assert_eq(fitcl_model_from_callback(ctx, cb_exp_decay, NULL, pn, 3, vars, 1, &cb), FITCL_OK);
    fitcl_accum *a = NULL;
    cr_assert_eq(fitcl_accum_create(ctx, cb, NULL, &a), FITCL_OK, "%s", fitcl_errmsg(ctx));
    fitcl_accum_sums s;
    cr_assert_eq(run_pass(a, p, 1, &d, 1, 2500, &s), FITCL_OK);
    expect_close_sums(&s, &r, 1e-12, "callback");
    fitcl_accum_destroy(a);
    /* OpenCL source, generated from the expression model. */
    cr_assert_eq(fitcl_model_builtin(ctx, "exp_decay", &expr), FITCL_OK);
    char *cl = fitcl_model_opencl_source(expr);
    cr_assert_not_null(cl);
    cr_assert_eq(fitcl_model_from_opencl(ctx, cl, pn, 3, vars, 1, &src), FITCL_OK);
    free(cl);
    fitcl_status st = fitcl_accum_create(ctx, src, NULL, &a);
    if (strcmp(be[b].name, "cpu") == 0) {
      cr_expect_eq(st, FITCL_ERR_UNSUPPORTED);
      cr_expect_null(a);
    } else {
      cr_assert_eq(st, FITCL_OK, "%s", fitcl_errmsg(ctx));
      cr_assert_eq(run_pass(a, p, 1, &d, 1, 2500, &s), FITCL_OK);
      expect_close_sums(&s, &r, 1e-12, "opencl source");
      fitcl_accum_destroy(a);
    }
    double f0;
    const double *x0[] = {d.x};
    cr_expect_eq(fitcl_model_eval(src, p, x0, 1, &f0, NULL), FITCL_ERR_UNSUPPORTED);
    fitcl_model_destroy(src);
    fitcl_model_destroy(expr);
    fitcl_model_destroy(cb);
    fitcl_context_destroy(ctx);
  }
  free_data(&d);
}

Test(accum, no_recompilation_for_new_chunk_lengths) {
  fitcl_test_backend be[2];
  size_t nbe = fitcl_test_backends(be, 2);
  dataset d = make_data(20000, 0);
  const double p[] = {2.0, 0.8, 0.3};
  for (size_t b = 0; b < nbe; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    fitcl_model *m = NULL;
    cr_assert_eq(fitcl_model_builtin(ctx, "exp_decay", &m), FITCL_OK);
    fitcl_accum *a = NULL;
    cr_assert_eq(fitcl_accum_create(ctx, m, NULL, &a), FITCL_OK);
    fitcl_context_info ci0, ci1;
    fitcl_context_get_info(ctx, &ci0);
    size_t lens[] = {1, 17, 1000, 4097, 20000, 333};
    for (size_t c = 0; c < sizeof lens / sizeof lens[0]; ++c) {
      fitcl_accum_sums s;
      dataset part = d;
      if (lens[c] < 100) part.n = 50 * lens[c]; /* one call per point is slow on OpenCL */
      cr_assert_eq(run_pass(a, p, c % 2, &part, 1, lens[c], &s), FITCL_OK);
    }
    fitcl_context_get_info(ctx, &ci1);
    cr_expect_eq(ci1.cache.misses, ci0.cache.misses, "%s: programs built during passes", be[b].name);
    cr_expect_eq(ci1.cache.hits, ci0.cache.hits, "%s: programs loaded during passes", be[b].name);
    fitcl_accum_info info;
    fitcl_accum_get_info(a, &info);
    cr_expect(info.program_builds == (strcmp(be[b].name, "cpu") ? 1u : 0u));
    fitcl_accum_destroy(a);
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
  free_data(&d);
}

Test(accum, misuse_is_reported) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  fitcl_model *m = NULL;
  cr_assert_eq(fitcl_model_builtin(ctx, "exp_decay", &m), FITCL_OK);
  fitcl_accum *a = NULL;
  fitcl_accum_options o = {0};
  o.path = 2;
  cr_expect_eq(fitcl_accum_create(ctx, m, &o, &a), FITCL_ERR_UNSUPPORTED);
  o.path = 0;
  o.f_scale = -1;
  cr_expect_eq(fitcl_accum_create(ctx, m, &o, &a), FITCL_ERR_ARG);
  cr_assert_eq(fitcl_accum_create(ctx, m, NULL, &a), FITCL_OK);
  double y = 1, xv = 1;
  const double *x[] = {&xv};
  cr_expect_eq(fitcl_accum_chunk(a, x, &y, NULL, 1), FITCL_ERR_STATE);
  fitcl_accum_sums s;
  cr_expect_eq(fitcl_accum_end(a, &s), FITCL_ERR_STATE);
  double bad[] = {1, NAN, 0};
  cr_expect_eq(fitcl_accum_begin(a, bad, 1), FITCL_ERR_DATA);
  cr_expect(strstr(fitcl_errmsg(ctx), "b") != NULL);
  /* Partial sums add across pieces. */
  double p[] = {1, 1, 0};
  fitcl_accum_sums s1, s2, tot;
  cr_assert_eq(fitcl_accum_begin(a, p, 1), FITCL_OK);
  cr_assert_eq(fitcl_accum_chunk(a, x, &y, NULL, 1), FITCL_OK);
  cr_assert_eq(fitcl_accum_end(a, &s1), FITCL_OK);
  s2 = s1;
  fitcl_accum_sums_zero(&tot, 3);
  fitcl_accum_sums_add(&tot, &s1);
  fitcl_accum_sums_add(&tot, &s2);
  cr_expect_eq(tot.points, 2u);
  cr_expect(fitcl_test_close(tot.rss, 2 * s1.rss, 1e-15));
  fitcl_accum_destroy(a);
  fitcl_accum_destroy(NULL);
  fitcl_model_destroy(m);
  fitcl_context_destroy(ctx);
}

/* The documented contract: a chunk's arrays may be reused as soon as the
 * *next* chunk call has returned.  Two host buffers alternate and each is
 * overwritten with garbage right after that point; the sums must still be
 * those of the real data (on OpenCL the copy runs while the previous chunk
 * computes). */
Test(accum, chunk_buffers_reusable_after_next_call) {
  fitcl_test_backend be[2];
  size_t nbe = fitcl_test_backends(be, 2);
  dataset d = make_data(40000, 0);
  const double p[] = {2.0, 0.8, 0.3};
  const size_t chunk = 5000;
  ref_sums r = reference_exp_decay(p, d.x, d.y, d.sigma, d.n, 0, 1.0);
  for (size_t b = 0; b < nbe; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    fitcl_model *m = NULL;
    cr_assert_eq(fitcl_model_builtin(ctx, "exp_decay", &m), FITCL_OK);
    fitcl_accum_options o = {0};
    o.max_chunk = chunk;
    fitcl_accum *a = NULL;
    cr_assert_eq(fitcl_accum_create(ctx, m, &o, &a), FITCL_OK);
    double *bx[2], *by[2], *bs[2];
    for (int i = 0; i < 2; ++i) {
      bx[i] = malloc(chunk * sizeof(double));
      by[i] = malloc(chunk * sizeof(double));
      bs[i] = malloc(chunk * sizeof(double));
    }
    cr_assert_eq(fitcl_accum_begin(a, p, 1), FITCL_OK);
    size_t k = 0;
    for (size_t s = 0; s < d.n; s += chunk, ++k) {
      int cur = (int)(k % 2);
      memcpy(bx[cur], d.x + s, chunk * sizeof(double));
      memcpy(by[cur], d.y + s, chunk * sizeof(double));
      memcpy(bs[cur], d.sigma + s, chunk * sizeof(double));
      const double *x[] = {bx[cur]};
      cr_assert_eq(fitcl_accum_chunk(a, x, by[cur], bs[cur], chunk), FITCL_OK);
      /* The previous chunk's buffers are free now: poison them. */
      int prev = 1 - cur;
      for (size_t i = 0; i < chunk; ++i) bx[prev][i] = by[prev][i] = bs[prev][i] = NAN;
    }
    fitcl_accum_sums s;
    cr_assert_eq(fitcl_accum_end(a, &s), FITCL_OK);
    expect_close_sums(&s, &r, 1e-12, be[b].name);
    for (int i = 0; i < 2; ++i) {
      free(bx[i]);
      free(by[i]);
      free(bs[i]);
    }
    fitcl_accum_destroy(a);
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
  free_data(&d);
}

/* Every built-in model: both backends agree with the host evaluation summed
 * in long double, with a robust loss and weights. */
Test(accum, every_builtin_on_every_backend) {
  fitcl_test_backend be[2];
  size_t nbe = fitcl_test_backends(be, 2);
  size_t n = 5000;
  double *x0 = malloc(n * sizeof *x0), *x1 = malloc(n * sizeof *x1), *y = malloc(n * sizeof *y),
         *sg = malloc(n * sizeof *sg);
  for (size_t i = 0; i < n; ++i) {
    x0[i] = 0.05 + 4.0 * (double)i / (double)n;
    x1[i] = 0.1 + 0.01 * (double)(i % 5);
    y[i] = 1.0 + 0.5 * sin(3.0 * x0[i]);
    sg[i] = 0.5 + 0.1 * (double)(i % 3);
  }
  const double *x[] = {x0, x1};
  double p[5] = {1.1, 0.9, 0.7, 0.3, 0.2};
  for (size_t mi = 0; fitcl_model_builtin_name(mi); ++mi) {
    const char *name = fitcl_model_builtin_name(mi);
    fitcl_accum_sums res[2];
    for (size_t b = 0; b < nbe; ++b) {
      fitcl_context *ctx = fitcl_test_context(be[b].selector);
      fitcl_model *m = NULL;
      cr_assert_eq(fitcl_model_builtin(ctx, name, &m), FITCL_OK);
      int np = (int)fitcl_model_nparams(m);
      fitcl_accum_options o = {0};
      o.loss = FITCL_LOSS_SOFT_L1;
      o.f_scale = 0.3;
      fitcl_accum *a = NULL;
      cr_assert_eq(fitcl_accum_create(ctx, m, &o, &a), FITCL_OK, "%s: %s", name, fitcl_errmsg(ctx));
      cr_assert_eq(fitcl_accum_begin(a, p, 1), FITCL_OK);
      cr_assert_eq(fitcl_accum_chunk(a, x, y, sg, n), FITCL_OK, "%s", fitcl_errmsg(ctx));
      cr_assert_eq(fitcl_accum_end(a, &res[b]), FITCL_OK);
      double *f = malloc(n * sizeof *f), *J = malloc(n * (size_t)np * sizeof *J);
      cr_assert_eq(fitcl_model_eval(m, p, x, n, f, J), FITCL_OK);
      long double jtj[25] = {0}, cost = 0;
      for (size_t i = 0; i < n; ++i) {
        long double r = ((long double)y[i] - f[i]) / sg[i], rho, r1, r2;
        loss_ref(FITCL_LOSS_SOFT_L1, r * r, 0.3L, &rho, &r1, &r2);
        long double w = r1 + 2 * r * r * r2;
        for (int k = 0; k < np; ++k)
          for (int l = 0; l < np; ++l) jtj[k * np + l] += w * J[i * np + k] * J[i * np + l] / ((long double)sg[i] * sg[i]);
        cost += 0.5L * rho;
      }
      for (int i = 0; i < np * np; ++i)
        cr_expect(fitcl_test_close(res[b].jtj[i], (double)jtj[i], 1e-11), "%s %s jtj[%d]: %.17g vs %.17Lg",
                  be[b].name, name, i, res[b].jtj[i], jtj[i]);
      cr_expect(fitcl_test_close(res[b].cost, (double)cost, 1e-12), "%s %s cost", be[b].name, name);
      free(f);
      free(J);
      fitcl_accum_destroy(a);
      fitcl_model_destroy(m);
      fitcl_context_destroy(ctx);
    }
    if (nbe == 2)
      for (int i = 0; i < res[0].nparams * res[0].nparams; ++i)
        cr_expect(fitcl_test_close(res[0].jtj[i], res[1].jtj[i], 1e-12), "%s cpu vs opencl jtj[%d]", name, i);
  }
  free(x0);
  free(x1);
  free(y);
  free(sg);
}

/* Each OpenCL kernel variant (work-group per block, work-item loop, double8)
 * gives the reference sums, whichever the device would pick by itself. */
Test(accum, opencl_kernel_variants_agree) {
  fitcl_test_backend be[2];
  if (fitcl_test_backends(be, 2) < 2) cr_skip_test("no OpenCL device with fp64");
  dataset d = make_data(30001, 1);
  const double p[] = {2.0, 0.8, 0.3};
  for (int variant = 1; variant <= 3; ++variant)
    for (int loss = 0; loss <= 1; ++loss) {
      fitcl__accum_ocl_variant = variant;
      fitcl__accum_ocl_zero_copy = variant == 2 ? -1 : 0; /* also the copying path */
      fitcl_context *ctx = fitcl_test_context(be[1].selector);
      fitcl_model *m = NULL;
      cr_assert_eq(fitcl_model_builtin(ctx, "exp_decay", &m), FITCL_OK);
      fitcl_accum_options o = {0};
      o.loss = loss ? FITCL_LOSS_HUBER : FITCL_LOSS_LINEAR;
      o.max_chunk = 10000;
      fitcl_accum *a = NULL;
      cr_assert_eq(fitcl_accum_create(ctx, m, &o, &a), FITCL_OK, "%s", fitcl_errmsg(ctx));
      fitcl_accum_sums s, c;
      cr_assert_eq(run_pass(a, p, 1, &d, 1, 7001, &s), FITCL_OK, "%s", fitcl_errmsg(ctx));
      cr_assert_eq(run_pass(a, p, 0, &d, 1, 7001, &c), FITCL_OK, "%s", fitcl_errmsg(ctx));
      ref_sums r = reference_exp_decay(p, d.x, d.y, d.sigma, d.n, o.loss, 1.0);
      char what[64];
      snprintf(what, sizeof what, "variant %d loss %d", variant, loss);
      expect_close_sums(&s, &r, 1e-12, what);
      cr_expect(fitcl_test_close(c.cost, (double)r.cost, 1e-12), "%s cost-only", what);
      cr_expect(fitcl_test_close(c.rss, (double)r.rss, 1e-12), "%s cost-only rss", what);
      fitcl_accum_destroy(a);
      fitcl_model_destroy(m);
      fitcl_context_destroy(ctx);
    }
  fitcl__accum_ocl_variant = 0;
  free_data(&d);
}

/* Bitwise the same for 1, 2 and 3 worker threads on the pthreads path. */
Test(accum, thread_count_does_not_change_bits) {
  dataset d = make_data(100003, 1);
  const double p[] = {2.0, 0.8, 0.3};
  fitcl_accum_sums res[3];
  char *dir = fitcl_test_tmpdir();
  for (int t = 1; t <= 3; ++t) {
    fitcl_context_options o = {0};
    o.device = "cpu";
    o.threads = t;
    o.cache_dir = dir;
    fitcl_context *ctx = NULL;
    cr_assert_eq(fitcl_context_create(&o, &ctx), FITCL_OK, "%s", fitcl_errmsg(ctx));
    fitcl_model *m = NULL;
    cr_assert_eq(fitcl_model_builtin(ctx, "exp_decay", &m), FITCL_OK);
    fitcl_accum_options ao = {0};
    ao.loss = FITCL_LOSS_CAUCHY;
    fitcl_accum *a = NULL;
    cr_assert_eq(fitcl_accum_create(ctx, m, &ao, &a), FITCL_OK);
    cr_assert_eq(run_pass(a, p, 1, &d, 1, 30000, &res[t - 1]), FITCL_OK);
    fitcl_accum_destroy(a);
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
  cr_expect(memcmp(&res[0], &res[1], sizeof res[0]) == 0, "1 vs 2 threads differ");
  cr_expect(memcmp(&res[0], &res[2], sizeof res[0]) == 0, "1 vs 3 threads differ");
  fitcl_test_rmtree(dir);
  free(dir);
  free_data(&d);
}

/* One model using every function and operator: the generated OpenCL (scalar
 * and double8 forms) against the pthreads evaluator, value and Jacobian,
 * with the linear loss (double8 kernels on CPU devices) and a robust loss. */
Test(accum, every_function_on_every_backend) {
  fitcl_test_backend be[2];
  size_t nbe = fitcl_test_backends(be, 2);
  const char *expr =
      "a*sin(b*x) + cos(a*x)/(2+tan(0.3*b)) + asin(0.5*tanh(x)) + acos(0.3*tanh(b*x))"
      " + atan(a*x) + atan2(a, 1+x^2) + sinh(0.1*x)*cosh(b) + tanh(x*b) + erf(a*x) + erfc(b*x)"
      " + abs(x-a) + min(a*x, b) + max(x, b*a) + log10(2+x^2) + sqrt(1+a^2*x^2)"
      " + pow(1+x^2, b) + log(1+exp(-a*x)) + e^(-x^2)*pi - -x/(1+t^2) + t^a";
  const char *pn[] = {"a", "b"};
  const char *vn[] = {"x", "t"};
  size_t n = 4099;
  double *x = malloc(n * sizeof *x), *t = malloc(n * sizeof *t), *y = malloc(n * sizeof *y);
  for (size_t i = 0; i < n; ++i) {
    x[i] = -3.0 + 6.0 * (double)i / (double)n;
    t[i] = 0.5 + (double)(i % 13) / 7.0;
    y[i] = 2.0 + 0.1 * cos((double)i);
  }
  const double *cols[] = {x, t};
  const double p[] = {0.7, 0.4};
  for (int loss = 0; loss <= 1; ++loss) {
    fitcl_accum_sums res[2];
    for (size_t b = 0; b < nbe; ++b) {
      fitcl_context *ctx = fitcl_test_context(be[b].selector);
      fitcl_model *m = NULL;
      cr_assert_eq(fitcl_model_compile(ctx, expr, pn, 2, vn, 2, &m), FITCL_OK, "%s",
                   fitcl_errmsg(ctx));
      fitcl_accum_options o = {0};
      o.loss = loss ? FITCL_LOSS_ARCTAN : FITCL_LOSS_LINEAR;
      fitcl_accum *a = NULL;
      cr_assert_eq(fitcl_accum_create(ctx, m, &o, &a), FITCL_OK, "%s", fitcl_errmsg(ctx));
      cr_assert_eq(fitcl_accum_begin(a, p, 1), FITCL_OK);
      cr_assert_eq(fitcl_accum_chunk(a, cols, y, NULL, n), FITCL_OK, "%s", fitcl_errmsg(ctx));
      cr_assert_eq(fitcl_accum_end(a, &res[b]), FITCL_OK);
      cr_expect(isfinite(res[b].cost) && isfinite(res[b].jtj[0]) && isfinite(res[b].jtj[3]));
      fitcl_accum_destroy(a);
      fitcl_model_destroy(m);
      fitcl_context_destroy(ctx);
    }
    if (nbe == 2) {
      for (int i = 0; i < 4; ++i)
        cr_expect(fitcl_test_close(res[0].jtj[i], res[1].jtj[i], 1e-12),
                  "loss %d jtj[%d]: cpu %.17g opencl %.17g", loss, i, res[0].jtj[i], res[1].jtj[i]);
      for (int k = 0; k < 2; ++k) {
        double scale = sqrt(res[0].jtj[k * 3] * res[0].rss * 4);
        cr_expect(fabs(res[0].jtr[k] - res[1].jtr[k]) <= 1e-12 * scale, "loss %d jtr[%d]", loss, k);
      }
      cr_expect(fitcl_test_close(res[0].cost, res[1].cost, 1e-12), "loss %d cost %.17g vs %.17g",
                loss, res[0].cost, res[1].cost);
    }
  }
  free(x);
  free(t);
  free(y);
}

/* Subexpressions of parameters only are evaluated once per pass on the
 * pthreads path (and division by them becomes a multiplication): check a
 * model full of them against closed-form derivatives, with a first chunk
 * shorter than a block. */
Test(accum, parameter_only_subexpressions) {
  fitcl_test_backend be[2];
  size_t nbe = fitcl_test_backends(be, 2);
  const char *pn[] = {"a", "b", "c"};
  const char *vn[] = {"x"};
  size_t n = 5000;
  double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
  for (size_t i = 0; i < n; ++i) {
    x[i] = 4.0 * (double)i / (double)n;
    y[i] = 1.5 * exp(-x[i] / 1.3) + 1.6 + 0.01 * sin((double)i);
  }
  const double p[] = {1.4, 0.6, 0.8};
  long double jtj[9] = {0}, jtr[3] = {0}, rss = 0;
  long double b2 = 1.0L + (long double)p[1] * p[1], sq = sqrtl((long double)p[2] * p[2] + 2);
  for (size_t i = 0; i < n; ++i) {
    long double e = expl(-x[i] / b2), f = p[0] * e + sq, r = y[i] - f;
    long double J[3] = {e, p[0] * e * x[i] * 2 * p[1] / (b2 * b2), p[2] / sq};
    for (int k = 0; k < 3; ++k) {
      for (int l = 0; l < 3; ++l) jtj[k * 3 + l] += J[k] * J[l];
      jtr[k] += J[k] * r;
    }
    rss += r * r;
  }
  size_t cuts[] = {0, 3, 1003, 1258, n};
  for (size_t b = 0; b < nbe; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    fitcl_model *m = NULL;
    cr_assert_eq(fitcl_model_compile(ctx, "a*exp(-x/(b^2+1)) + sqrt(c*c+2)", pn, 3, vn, 1, &m),
                 FITCL_OK, "%s", fitcl_errmsg(ctx));
    fitcl_accum *a = NULL;
    cr_assert_eq(fitcl_accum_create(ctx, m, NULL, &a), FITCL_OK);
    const double other[] = {0.3, 2.0, -1.0};
    for (int rep = 0; rep < 3; ++rep) {
      /* Pass 1 uses other parameters: the per-pass values must be redone. */
      fitcl_accum_sums s;
      cr_assert_eq(fitcl_accum_begin(a, rep == 1 ? other : p, 1), FITCL_OK);
      for (size_t c = 0; c + 1 < sizeof cuts / sizeof cuts[0]; ++c) {
        const double *xc[] = {x + cuts[c]};
        cr_assert_eq(fitcl_accum_chunk(a, xc, y + cuts[c], NULL, cuts[c + 1] - cuts[c]), FITCL_OK);
      }
      cr_assert_eq(fitcl_accum_end(a, &s), FITCL_OK);
      if (rep == 1) continue;
      for (int i = 0; i < 9; ++i)
        cr_expect(fitcl_test_close(s.jtj[i], (double)jtj[i], 1e-12), "%s jtj[%d] %.17g vs %.17Lg",
                  be[b].name, i, s.jtj[i], jtj[i]);
      for (int k = 0; k < 3; ++k)
        cr_expect(fabs(s.jtr[k] - (double)jtr[k]) <= 1e-12 * sqrt((double)jtj[k * 4] * (double)rss * 4),
                  "%s jtr[%d]", be[b].name, k);
      cr_expect(fitcl_test_close(s.rss, (double)rss, 1e-12), "%s rss", be[b].name);
    }
    fitcl_accum_destroy(a);
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
  free(x);
  free(y);
}

/* exp and log arguments outside the common range (subnormal results and
 * inputs) mixed among ordinary ones: every backend and OpenCL kernel
 * variant (scalar, work-group, double8, and the staged double8 form of a
 * model that chains log into exp) matches a long double reference. */
Test(accum, exp_log_outside_the_fast_range) {
  fitcl_test_backend be[2];
  size_t nbe = fitcl_test_backends(be, 2);
  const char *pn[] = {"a", "b", "c"}, *vn[] = {"x", "t"};
  size_t n = 3001;
  double *x = malloc(n * sizeof *x), *t = malloc(n * sizeof *t), *y = malloc(n * sizeof *y);
  for (size_t i = 0; i < n; ++i) {
    /* b*x reaches -745 (exp subnormal) every 7th point; t is subnormal
     * every 11th. */
    x[i] = i % 7 == 3 ? 370.0 + 2.5 * (double)(i % 3) : 2.0 * (double)(i % 50) / 50.0;
    t[i] = i % 11 == 5 ? 1e-310 * (double)(1 + i % 4) : 0.5 + (double)(i % 9);
    y[i] = 1.0 + 0.01 * (double)(i % 17);
  }
  const double *cols[] = {x, t};
  /* Model 0: exp of a product and log side by side.  Model 1: t^b as
   * exp(b log t), so log feeds exp (staged on CPU devices); at a
   * subnormal t, log t is outside the short form's range and b log t
   * (about -1070) outside exp's. */
  const char *exprs[2] = {"a*exp(b*x) + c*log(t)", "a*exp(b*log(t)) + c*x"};
  const double ps[2][3] = {{1.5, -2.0, 0.01}, {0.7, 1.5, 0.02}};
  for (int mi = 0; mi < 2; ++mi) {
    const double *p = ps[mi];
    long double ref_jtj[9] = {0}, ref_cost = 0;
    for (size_t i = 0; i < n; ++i) {
      long double f, J[3];
      if (mi == 0) {
        long double e = expl((long double)p[1] * x[i]), l = logl((long double)t[i]);
        f = p[0] * e + p[2] * l;
        J[0] = e, J[1] = p[0] * x[i] * e, J[2] = l;
      } else {
        long double l = logl((long double)t[i]), e = expl((long double)p[1] * l);
        f = p[0] * e + p[2] * x[i];
        J[0] = e, J[1] = p[0] * l * e, J[2] = x[i];
      }
      long double r = y[i] - f;
      for (int k = 0; k < 3; ++k)
        for (int m = 0; m < 3; ++m) ref_jtj[k * 3 + m] += J[k] * J[m];
      ref_cost += 0.5L * r * r;
    }
    for (size_t b = 0; b < nbe; ++b)
      for (int variant = 0; variant <= (b ? 3 : 0); ++variant) {
        fitcl__accum_ocl_variant = variant;
        fitcl_context *ctx = fitcl_test_context(be[b].selector);
        fitcl_model *m = NULL;
        cr_assert_eq(fitcl_model_compile(ctx, exprs[mi], pn, 3, vn, 2, &m), FITCL_OK);
        fitcl_accum *a = NULL;
        cr_assert_eq(fitcl_accum_create(ctx, m, NULL, &a), FITCL_OK, "%s", fitcl_errmsg(ctx));
        fitcl_accum_sums s;
        cr_assert_eq(fitcl_accum_begin(a, p, 1), FITCL_OK);
        cr_assert_eq(fitcl_accum_chunk(a, cols, y, NULL, n), FITCL_OK, "%s", fitcl_errmsg(ctx));
        cr_assert_eq(fitcl_accum_end(a, &s), FITCL_OK);
        for (int i = 0; i < 9; ++i)
          cr_expect(fitcl_test_close(s.jtj[i], (double)ref_jtj[i], 1e-12),
                    "model %d %s variant %d jtj[%d]: %.17g vs %.17Lg", mi, be[b].name, variant, i,
                    s.jtj[i], ref_jtj[i]);
        cr_expect(fitcl_test_close(s.cost, (double)ref_cost, 1e-12),
                  "model %d %s variant %d cost %.17g vs %.17Lg", mi, be[b].name, variant, s.cost,
                  ref_cost);
        fitcl_accum_destroy(a);
        fitcl_model_destroy(m);
        fitcl_context_destroy(ctx);
      }
  }
  fitcl__accum_ocl_variant = 0;
  free(x);
  free(t);
  free(y);
}
