/* Levenberg-Marquardt solver: large synthetic fits, weights and the
 * covariance against closed-form weighted linear regression, bounds, robust
 * losses, status codes, the three data entry points, on every backend. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* Deterministic normal deviates (xorshift64* + Box-Muller). */
static uint64_t rng_state = 88172645463325252ULL;
static double urand(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return ((rng_state * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}
static double nrand(void) {
  double u = urand(), v = urand();
  return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

static fitcl_model *compile(fitcl_context *ctx, const char *expr, const char *params) {
  static char buf[256];
  const char *names[FITCL_NLSQ_MAX_PARAMS];
  size_t n = 0;
  snprintf(buf, sizeof buf, "%s", params);
  for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) names[n++] = t;
  const char *vars[] = {"x"};
  fitcl_model *m = NULL;
  fitcl_status st = fitcl_model_compile(ctx, expr, names, n, vars, 1, &m);
  cr_assert_eq(st, FITCL_OK, "compile '%s': %s", expr, fitcl_errmsg(ctx));
  return m;
}

#define FOR_BACKENDS                                     \
  fitcl_test_backend be_[2];                             \
  size_t nbe_ = fitcl_test_backends(be_, 2);             \
  for (size_t bi_ = 0; bi_ < nbe_; ++bi_)

Test(lm, large_double_exponential_recovers_truth, .timeout = 600) {
  /* 10M points on the pthreads path, 2M on OpenCL (PoCL on 2 cores is the
   * slow part of the suite, and the code path is the same). */
  const double truth[4] = {2.0, 1.3, 0.7, 0.15};
  size_t nmax = 10000000;
  double *x = malloc(nmax * sizeof *x), *y = malloc(nmax * sizeof *y);
  cr_assert(x && y);
  rng_state = 12345;
  const double noise = 0.01;
  for (size_t i = 0; i < nmax; ++i) {
    x[i] = 20.0 * (double)i / (double)nmax;
    y[i] = truth[0] * exp(-truth[1] * x[i]) + truth[2] * exp(-truth[3] * x[i]) + noise * nrand();
  }
  FOR_BACKENDS {
    size_t n = strcmp(be_[bi_].name, "cpu") ? 2000000 : nmax;
    /* Thin the same curve for the smaller run. */
    size_t step = nmax / n;
    double *xs = x, *ys = y;
    if (step > 1) {
      xs = malloc(n * sizeof *xs);
      ys = malloc(n * sizeof *ys);
      for (size_t i = 0; i < n; ++i) {
        xs[i] = x[i * step];
        ys[i] = y[i * step];
      }
    }
    fitcl_context *ctx = fitcl_test_context(be_[bi_].selector);
    fitcl_model *m = compile(ctx, "a*exp(-b*x)+c*exp(-d*x)", "a b c d");
    const double p0[4] = {1.0, 2.0, 1.0, 0.1};
    const double *cols[] = {xs};
    fitcl_curvefit_result r;
    fitcl_status st = fitcl_curve_fit_arrays(ctx, m, cols, ys, NULL, n, p0, NULL, &r);
    cr_assert_eq(st, FITCL_OK, "[%s] %s", be_[bi_].name, fitcl_errmsg(ctx));
    cr_expect(r.converged, "[%s] status %s", be_[bi_].name, fitcl_curvefit_status_name(r.status));
    cr_expect_eq(r.points, n);
    for (int j = 0; j < 4; ++j) {
      /* Within 5 standard errors of the truth, and the error is tiny. */
      cr_expect_leq(fabs(r.params[j] - truth[j]), 5 * r.stderr_[j] + 1e-12,
                    "[%s] p%d = %.9g, truth %.9g, SE %.3g", be_[bi_].name, j, r.params[j],
                    truth[j], r.stderr_[j]);
      cr_expect_lt(r.stderr_[j], 1e-2 * fabs(truth[j]));
    }
    /* The reduced chi^2 of unit-weight data estimates the noise variance. */
    cr_expect(fitcl_test_close(r.reduced_chi2, noise * noise, 0.01), "[%s] reduced chi2 %g",
              be_[bi_].name, r.reduced_chi2);
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
    if (step > 1) {
      free(xs);
      free(ys);
    }
  }
  free(x);
  free(y);
}

/* Weighted straight line: the fit must reproduce the closed-form weighted
 * least-squares estimate and covariance, with and without absolute_sigma. */
Test(lm, weighted_line_matches_closed_form) {
  enum { N = 2000 };
  static double x[N], y[N], s[N];
  rng_state = 777;
  for (int i = 0; i < N; ++i) {
    x[i] = -3 + 6.0 * i / N;
    s[i] = 0.05 + 0.3 * urand();
    y[i] = 1.5 - 0.8 * x[i] + s[i] * nrand();
  }
  /* Closed form: minimise sum w (y - a - b x)^2 with w = 1/s^2. */
  double Sw = 0, Sx = 0, Sxx = 0, Sy = 0, Sxy = 0;
  for (int i = 0; i < N; ++i) {
    double w = 1 / (s[i] * s[i]);
    Sw += w; Sx += w * x[i]; Sxx += w * x[i] * x[i]; Sy += w * y[i]; Sxy += w * x[i] * y[i];
  }
  double det = Sw * Sxx - Sx * Sx;
  double a = (Sxx * Sy - Sx * Sxy) / det, b = (Sw * Sxy - Sx * Sy) / det;
  double cov_abs[4] = {Sxx / det, -Sx / det, -Sx / det, Sw / det};
  double chi2 = 0;
  for (int i = 0; i < N; ++i) {
    double r = (y[i] - a - b * x[i]) / s[i];
    chi2 += r * r;
  }
  double s2 = chi2 / (N - 2);
  FOR_BACKENDS {
    fitcl_context *ctx = fitcl_test_context(be_[bi_].selector);
    fitcl_model *m = compile(ctx, "a+b*x", "a b");
    const double p0[2] = {0, 0};
    const double *cols[] = {x};
    for (int absolute = 0; absolute < 2; ++absolute) {
      fitcl_curvefit_options fo = {0};
      fo.absolute_sigma = absolute;
      fitcl_curvefit_result r;
      cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, y, s, N, p0, &fo, &r), FITCL_OK, "%s",
                   fitcl_errmsg(ctx));
      cr_expect(fitcl_test_close(r.params[0], a, 1e-9), "a %.15g vs %.15g", r.params[0], a);
      cr_expect(fitcl_test_close(r.params[1], b, 1e-9), "b %.15g vs %.15g", r.params[1], b);
      cr_expect(fitcl_test_close(r.rss, chi2, 1e-9));
      for (int k = 0; k < 4; ++k) {
        double want = cov_abs[k] * (absolute ? 1 : s2);
        cr_expect(fitcl_test_close(r.covariance[k], want, 1e-8), "[%s] abs=%d cov[%d] %.12g vs %.12g",
                  be_[bi_].name, absolute, k, r.covariance[k], want);
      }
      double corr = cov_abs[1] / sqrt(cov_abs[0] * cov_abs[3]);
      cr_expect(fitcl_test_close(r.correlation[1], corr, 1e-8));
      cr_expect(fitcl_test_close(r.correlation[0], 1.0, 1e-12));
    }
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
}

/* With b held at its upper bound, a and c enter linearly: the constrained
 * optimum is b = hi and (a, c) from the 2x2 normal equations. */
Test(lm, bounds_are_honoured) {
  enum { N = 500 };
  static double x[N], y[N];
  rng_state = 99;
  for (int i = 0; i < N; ++i) {
    x[i] = 5.0 * i / N;
    y[i] = 3.0 * exp(-2.0 * x[i]) + 0.5 + 0.01 * nrand();
  }
  const double hi_b = 1.5;
  double S11 = 0, S12 = 0, S22 = 0, T1 = 0, T2 = 0;
  for (int i = 0; i < N; ++i) {
    double g = exp(-hi_b * x[i]);
    S11 += g * g; S12 += g; S22 += 1; T1 += g * y[i]; T2 += y[i];
  }
  double det = S11 * S22 - S12 * S12;
  double a_ref = (S22 * T1 - S12 * T2) / det, c_ref = (S11 * T2 - S12 * T1) / det;
  FOR_BACKENDS {
    fitcl_context *ctx = fitcl_test_context(be_[bi_].selector);
    fitcl_model *m = compile(ctx, "a*exp(-b*x)+c", "a b c");
    const double *cols[] = {x};
    for (int mode = 0; mode < 2; ++mode) {
      double lo[3] = {-INFINITY, 0.1, -INFINITY}, hi[3] = {INFINITY, hi_b, INFINITY};
      const double p0[3] = {1, 1, 0};
      fitcl_curvefit_options fo = {0};
      fo.lower = lo;
      fo.upper = hi;
      fo.bounds_mode = mode ? FITCL_BOUNDS_PROJECT : FITCL_BOUNDS_REFLECT;
      fo.ftol = fo.xtol = fo.gtol = 1e-14;
      fitcl_curvefit_result r;
      cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, N, p0, &fo, &r), FITCL_OK, "%s",
                   fitcl_errmsg(ctx));
      cr_expect(r.params[1] <= hi_b && r.params[1] >= 0.1, "b = %.17g outside the box", r.params[1]);
      cr_expect(fitcl_test_close(r.params[1], hi_b, 1e-9), "[%s] mode %d: b = %.15g, want %.15g",
                be_[bi_].name, mode, r.params[1], hi_b);
      cr_expect(fitcl_test_close(r.params[0], a_ref, 1e-7), "[%s] a = %.15g, want %.15g",
                be_[bi_].name, r.params[0], a_ref);
      cr_expect(fitcl_test_close(r.params[2], c_ref, 1e-7), "[%s] c = %.15g, want %.15g",
                be_[bi_].name, r.params[2], c_ref);
    }
    /* A start outside the box is refused, naming the parameter. */
    double lo[3] = {-INFINITY, 0.1, -INFINITY}, hi[3] = {INFINITY, hi_b, INFINITY};
    const double bad[3] = {1, 2, 0};
    fitcl_curvefit_options fo = {0};
    fo.lower = lo;
    fo.upper = hi;
    fitcl_curvefit_result r;
    cr_expect_eq(fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, N, bad, &fo, &r), FITCL_ERR_RANGE);
    cr_expect_not_null(strstr(fitcl_errmsg(ctx), "b=2"), "message: %s", fitcl_errmsg(ctx));
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
}

/* scipy's loss functions, written independently of the library. */
static double rho(int loss, double z) {
  switch (loss) {
    case FITCL_LOSS_SOFT_L1: return 2 * (sqrt(1 + z) - 1);
    case FITCL_LOSS_HUBER: return z <= 1 ? z : 2 * sqrt(z) - 1;
    case FITCL_LOSS_CAUCHY: return log1p(z);
    case FITCL_LOSS_ARCTAN: return atan(z);
    default: return z;
  }
}

static double robust_cost(int loss, double fs, const double *x, const double *y, int n,
                          const double *p) {
  double c = 0;
  for (int i = 0; i < n; ++i) {
    double r = y[i] - (p[0] * exp(-p[1] * x[i]) + p[2]);
    c += fs * fs * rho(loss, r * r / (fs * fs));
  }
  return 0.5 * c;
}

Test(lm, robust_losses_downweight_outliers) {
  enum { N = 400 };
  static double x[N], y[N];
  const double truth[3] = {2.0, 0.7, 0.3};
  rng_state = 4242;
  for (int i = 0; i < N; ++i) {
    x[i] = 8.0 * i / N;
    y[i] = truth[0] * exp(-truth[1] * x[i]) + truth[2] + 0.01 * nrand();
    if (i % 10 == 3) y[i] += 1.5 + urand();  /* 10% gross outliers, all upward */
  }
  FOR_BACKENDS {
    fitcl_context *ctx = fitcl_test_context(be_[bi_].selector);
    fitcl_model *m = compile(ctx, "a*exp(-b*x)+c", "a b c");
    const double *cols[] = {x};
    const double p0[3] = {1, 1, 0};
    fitcl_curvefit_result lin;
    cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, N, p0, NULL, &lin), FITCL_OK);
    /* Least squares is dragged up by the outliers. */
    cr_expect_gt(fabs(lin.params[2] - truth[2]), 0.1, "linear c = %g", lin.params[2]);
    for (int loss = FITCL_LOSS_SOFT_L1; loss <= FITCL_LOSS_ARCTAN; ++loss) {
      fitcl_curvefit_options fo = {0};
      fo.loss = (fitcl_loss)loss;
      fo.f_scale = 0.05;
      fo.ftol = fo.xtol = fo.gtol = 1e-12;
      fitcl_curvefit_result r;
      cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, N, p0, &fo, &r), FITCL_OK, "%s",
                   fitcl_errmsg(ctx));
      for (int j = 0; j < 3; ++j)
        cr_expect_lt(fabs(r.params[j] - truth[j]), 0.03, "[%s] loss %d: p%d = %g, truth %g",
                     be_[bi_].name, loss, j, r.params[j], truth[j]);
      /* The reported cost is the robust cost, and the point is a local
       * minimum of it (checked by brute force around it). */
      double c0 = robust_cost(loss, fo.f_scale, x, y, N, r.params);
      cr_expect(fitcl_test_close(r.cost, c0, 1e-9), "[%s] loss %d: cost %.12g vs %.12g",
                be_[bi_].name, loss, r.cost, c0);
      for (int j = 0; j < 3; ++j)
        for (int sgn = -1; sgn <= 1; sgn += 2) {
          double q[3] = {r.params[0], r.params[1], r.params[2]};
          q[j] += sgn * 1e-4 * fmax(fabs(q[j]), 1e-3);
          cr_expect_geq(robust_cost(loss, fo.f_scale, x, y, N, q), c0 * (1 - 1e-12),
                        "[%s] loss %d: not a minimum along p%d", be_[bi_].name, loss, j);
        }
    }
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
}

Test(lm, status_codes) {
  enum { N = 200 };
  static double x[N], y[N];
  rng_state = 5;
  for (int i = 0; i < N; ++i) {
    x[i] = 0.05 * i + 0.1;
    y[i] = 2 * exp(-0.5 * x[i]) + 0.01 * nrand();
  }
  const double *cols[] = {x};
  FOR_BACKENDS {
    fitcl_context *ctx = fitcl_test_context(be_[bi_].selector);
    fitcl_model *m = compile(ctx, "a*exp(-b*x)", "a b");
    const double p0[2] = {1, 1};
    fitcl_curvefit_result r;
    fitcl_curvefit_options fo = {0};
    fo.max_iter = 2;
    cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, N, p0, &fo, &r), FITCL_OK);
    cr_expect_eq(r.status, FITCL_CURVEFIT_MAX_ITER);
    cr_expect_eq(r.iterations, 2);
    cr_expect(!r.converged);
    /* Only the gradient test enabled: it is what ends the fit. */
    fitcl_curvefit_options fg = {0};
    fg.ftol = fg.xtol = -1;
    fg.gtol = 1e-3;
    cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, N, p0, &fg, &r), FITCL_OK);
    cr_expect_eq(r.status, FITCL_CURVEFIT_CONVERGED_GTOL, "status %s", fitcl_curvefit_status_name(r.status));
    cr_expect(r.converged);
    /* Default tolerances: converges by ftol or xtol on noisy data. */
    cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, N, p0, NULL, &r), FITCL_OK);
    cr_expect(r.status == FITCL_CURVEFIT_CONVERGED_FTOL || r.status == FITCL_CURVEFIT_CONVERGED_XTOL,
              "status %s", fitcl_curvefit_status_name(r.status));
    cr_expect(r.converged);
    cr_expect_leq(r.jacobian_passes, r.iterations + 1);
    fitcl_model_destroy(m);

    /* a and b enter only as a*b: J^T J is singular; the solver still
     * fits (the pseudo-inverse step) and reports the covariance as
     * unavailable. */
    m = compile(ctx, "a*b*x", "a b");
    const double p1[2] = {1, 1};
    cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, N, p1, NULL, &r), FITCL_OK, "%s",
                 fitcl_errmsg(ctx));
    cr_expect(r.singular);
    cr_expect(isinf(r.stderr_[0]));
    fitcl_model_destroy(m);

    /* NaN at the start. */
    m = compile(ctx, "log(a*x)+b", "a b");
    const double p2[2] = {-1, 0};
    cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, N, p2, NULL, &r), FITCL_OK);
    cr_expect_eq(r.status, FITCL_CURVEFIT_NONFINITE, "status %s", fitcl_curvefit_status_name(r.status));
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
}

typedef struct cb_data {
  const double *x, *y;
  size_t n, chunk;
  const double *xs[1];
} cb_data;

static fitcl_status chunk_cb(void *user, uint64_t index, fitcl_chunk *c) {
  cb_data *d = user;
  size_t r0 = (size_t)index * d->chunk;
  c->n = r0 >= d->n ? 0 : (d->n - r0 < d->chunk ? d->n - r0 : d->chunk);
  d->xs[0] = d->x + r0;
  c->x = d->xs;
  c->y = d->y + r0;
  c->sigma = NULL;
  return FITCL_OK;
}

Test(lm, callback_and_arrays_agree_and_bad_values_name_the_row) {
  enum { N = 10000 };
  static double x[N], y[N];
  rng_state = 31;
  for (int i = 0; i < N; ++i) {
    x[i] = 0.001 * i;
    y[i] = 1.0 / (1 + 2 * x[i]) + 0.001 * nrand();
  }
  const double *cols[] = {x};
  FOR_BACKENDS {
    fitcl_context *ctx = fitcl_test_context(be_[bi_].selector);
    fitcl_model *m = compile(ctx, "a/(1+b*x)", "a b");
    const double p0[2] = {0.5, 1};
    fitcl_curvefit_result ra, rc;
    cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, N, p0, NULL, &ra), FITCL_OK);
    cb_data d = {x, y, N, 777, {0}};
    cr_assert_eq(fitcl_curve_fit_chunks(ctx, m, chunk_cb, &d, p0, NULL, &rc), FITCL_OK, "%s",
                 fitcl_errmsg(ctx));
    for (int j = 0; j < 2; ++j) cr_expect(fitcl_test_close(ra.params[j], rc.params[j], 1e-9));
    cr_expect_eq(rc.points, N);
    double keep = y[1234];
    y[1234] = NAN;
    cr_expect_eq(fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, N, p0, NULL, &ra), FITCL_ERR_DATA);
    cr_expect_not_null(strstr(fitcl_errmsg(ctx), "row 1234"), "message: %s", fitcl_errmsg(ctx));
    y[1234] = keep;
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
}

static volatile int stop_flag;
static void stop_at_3(void *user, const fitcl_curvefit_progress *p) {
  (void)user;
  if (p->iteration == 3) stop_flag = 1;
}

Test(lm, interrupt_flag_stops_the_fit) {
  enum { N = 1000 };
  static double x[N], y[N];
  for (int i = 0; i < N; ++i) {
    x[i] = 0.01 * i;
    y[i] = 3 * exp(-1.1 * x[i]) + 0.2 * exp(-0.1 * x[i]);
  }
  const double *cols[] = {x};
  fitcl_context *ctx = fitcl_test_context("cpu");
  fitcl_model *m = compile(ctx, "a*exp(-b*x)+c*exp(-d*x)", "a b c d");
  const double p0[4] = {1, 3, 1, 0.01};
  fitcl_curvefit_options fo = {0};
  stop_flag = 0;
  fo.interrupt = &stop_flag;
  fo.progress = stop_at_3;
  fitcl_curvefit_result r;
  cr_expect_eq(fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, N, p0, &fo, &r), FITCL_ERR_INTERRUPTED);
  cr_expect_eq(r.status, FITCL_CURVEFIT_INTERRUPTED);
  cr_expect_eq(r.iterations, 3);
  fitcl_model_destroy(m);
  fitcl_context_destroy(ctx);
}

/* The same fit on the pthreads and OpenCL backends: same path through the
 * solver, parameters and covariance equal to rounding. */
Test(lm, backends_agree) {
  fitcl_test_backend be[2];
  if (fitcl_test_backends(be, 2) < 2) cr_skip_test("no OpenCL fp64 device");
  enum { N = 100000 };
  static double x[N], q[N], y[N];
  rng_state = 2024;
  for (int i = 0; i < N; ++i) {
    x[i] = pow(10.0, -4 + 5.0 * i / N);
    q[i] = 0.5 + 0.25 * (i % 4);
    y[i] = 1 + 0.3 * exp(-2 * q[i] * q[i] * (x[i] * sqrt(x[i]) / 1.5 + 0.1 * x[i])) + 0.002 * nrand();
  }
  const double *cols[] = {x, q};
  const double p0[5] = {1.1, 0.2, 0.5, 0.3, 0.05};
  fitcl_curvefit_result r[2];
  for (int b = 0; b < 2; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    fitcl_model *m = NULL;
    cr_assert_eq(fitcl_model_builtin(ctx, "xpcs_g2", &m), FITCL_OK, "%s", fitcl_errmsg(ctx));
    cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, N, p0, NULL, &r[b]), FITCL_OK, "%s",
                 fitcl_errmsg(ctx));
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
  cr_expect_eq(r[0].iterations, r[1].iterations);
  cr_expect_eq(r[0].status, r[1].status);
  for (int j = 0; j < 5; ++j) {
    cr_expect(fitcl_test_close(r[0].params[j], r[1].params[j], 1e-10), "p%d %.17g vs %.17g", j,
              r[0].params[j], r[1].params[j]);
    cr_expect(fitcl_test_close(r[0].stderr_[j], r[1].stderr_[j], 1e-8), "se%d %.17g vs %.17g", j,
              r[0].stderr_[j], r[1].stderr_[j]);
  }
  cr_expect(fitcl_test_close(r[0].cost, r[1].cost, 1e-12));
}
