/* The solver's features against independent references, on every backend:
 * held parameters against the reduced model, the QR path against the
 * normal equations, finite-difference Jacobians against exact ones, a
 * 40-parameter model, the goodness-of-fit numbers and intervals against
 * their definitions, and the Student t quantile against tabulated values. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats.h"
#include "test_util.h"

static uint64_t rng_state = 1234567;
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
  static char buf[1024];
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

enum { N = 400 };
static double X[N], Y[N];

static void make_data(void) {
  rng_state = 99;
  for (int i = 0; i < N; ++i) {
    X[i] = 0.02 * i;
    Y[i] = 3 * exp(-1.2 * X[i]) + 0.8 * exp(-0.2 * X[i]) + 0.01 * nrand();
  }
}

/* Holding b at 1.2 must give the fit of the model with 1.2 written in. */
Test(lm_features, held_parameter_equals_reduced_model) {
  make_data();
  const double *cols[] = {X};
  FOR_BACKENDS {
    fitcl_context *ctx = fitcl_test_context(be_[bi_].selector);
    fitcl_model *full = compile(ctx, "a*exp(-b*x)+c*exp(-d*x)", "a b c d");
    fitcl_model *red = compile(ctx, "a*exp(-1.2*x)+c*exp(-d*x)", "a c d");
    const double p0[4] = {2, 1.2, 1, 0.3}, q0[3] = {2, 1, 0.3};
    const int fixed[4] = {0, 1, 0, 0};
    fitcl_curvefit_options fo = {0};
    fo.fixed = fixed;
    fitcl_curvefit_result rf, rr;
    cr_assert_eq(fitcl_curve_fit_arrays(ctx, full, cols, Y, NULL, N, p0, &fo, &rf), FITCL_OK, "%s",
                 fitcl_errmsg(ctx));
    cr_assert_eq(fitcl_curve_fit_arrays(ctx, red, cols, Y, NULL, N, q0, NULL, &rr), FITCL_OK, "%s",
                 fitcl_errmsg(ctx));
    cr_expect(rf.converged && rr.converged);
    cr_expect_eq(rf.params[1], 1.2, "held parameter moved: %.17g", rf.params[1]);
    cr_expect_eq(rf.stderr_[1], 0.0);
    cr_expect_eq(rf.nfree, 3);
    cr_expect(isnan(rf.ci_lower[1]));
    const int map[3] = {0, 2, 3};
    for (int k = 0; k < 3; ++k) {
      int j = map[k];
      cr_expect(fitcl_test_close(rf.params[j], rr.params[k], 1e-9), "[%s] p%d %.15g vs %.15g",
                be_[bi_].name, j, rf.params[j], rr.params[k]);
      cr_expect(fitcl_test_close(rf.stderr_[j], rr.stderr_[k], 1e-7), "[%s] se%d %.15g vs %.15g",
                be_[bi_].name, j, rf.stderr_[j], rr.stderr_[k]);
    }
    cr_expect(fitcl_test_close(rf.rss, rr.rss, 1e-12));
    cr_expect(fitcl_test_close(rf.reduced_chi2, rr.reduced_chi2, 1e-12));
    fitcl_model_destroy(full);
    fitcl_model_destroy(red);
    fitcl_context_destroy(ctx);
  }
}

/* QR forced and the normal equations reach the same fit on a
 * well-conditioned problem, and the QR passes agree across backends. */
Test(lm_features, qr_matches_normal_equations) {
  make_data();
  const double *cols[] = {X};
  double qr_params[2][4];
  FOR_BACKENDS {
    fitcl_context *ctx = fitcl_test_context(be_[bi_].selector);
    fitcl_model *m = compile(ctx, "a*exp(-b*x)+c*exp(-d*x)", "a b c d");
    const double p0[4] = {2, 2, 1, 0.1};
    fitcl_curvefit_result rn, rq;
    fitcl_curvefit_options fn = {0}, fq = {0};
    fn.solver = FITCL_SOLVER_NORMAL;
    fq.solver = FITCL_SOLVER_QR;
    cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, Y, NULL, N, p0, &fn, &rn), FITCL_OK);
    cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, Y, NULL, N, p0, &fq, &rq), FITCL_OK, "%s",
                 fitcl_errmsg(ctx));
    cr_expect_eq(rn.solver, FITCL_SOLVER_NORMAL);
    cr_expect_eq(rq.solver, FITCL_SOLVER_QR);
    cr_expect(rn.converged && rq.converged);
    for (int j = 0; j < 4; ++j) {
      cr_expect(fitcl_test_close(rn.params[j], rq.params[j], 1e-8), "[%s] p%d %.15g vs %.15g",
                be_[bi_].name, j, rn.params[j], rq.params[j]);
      cr_expect(fitcl_test_close(rn.stderr_[j], rq.stderr_[j], 1e-7), "[%s] se%d", be_[bi_].name, j);
      qr_params[bi_][j] = rq.params[j];
    }
    cr_expect(fitcl_test_close(rn.rss, rq.rss, 1e-12));
    /* Every pass is a full one: one at the start and one per trial. */
    cr_expect_eq(rq.jacobian_passes, rq.iterations + 1);
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
  if (nbe_ == 2)
    for (int j = 0; j < 4; ++j)
      cr_expect(fitcl_test_close(qr_params[0][j], qr_params[1][j], 1e-9));
}

/* The automatic solver moves to QR on an ill-conditioned problem (three
 * exponentials with close rates over a short range, Lanczos's example:
 * cond(J^T J) is about 1e12) and reports it. */
Test(lm_features, auto_solver_switches_to_qr) {
  enum { M = 24 };
  static double x[M], y[M];
  for (int i = 0; i < M; ++i) {
    x[i] = 0.05 * i;
    y[i] = 0.0951 * exp(-x[i]) + 0.8607 * exp(-3 * x[i]) + 1.5576 * exp(-5 * x[i]);
    y[i] = round(y[i] * 1e5) / 1e5; /* five decimals: a residual that is not 0 */
  }
  const double *cols[] = {x};
  fitcl_context *ctx = fitcl_test_context("cpu");
  fitcl_model *m = compile(ctx, "b1*exp(-b2*x)+b3*exp(-b4*x)+b5*exp(-b6*x)", "b1 b2 b3 b4 b5 b6");
  const double p0[6] = {0.5, 0.7, 3.6, 4.2, 4, 6.3};
  fitcl_curvefit_result r;
  cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, M, p0, NULL, &r), FITCL_OK);
  cr_expect_eq(r.solver, FITCL_SOLVER_QR);
  cr_expect(r.converged, "status %s", fitcl_curvefit_status_name(r.status));
  cr_expect(fitcl_test_close(r.params[1], 1.0, 0.2), "b2 = %.15g", r.params[1]);
  fitcl_model_destroy(m);
  fitcl_context_destroy(ctx);
}

/* The model as a value-only callback, differentiated by finite
 * differences, against the expression with exact derivatives. */
static void dexp_values(void *user, const double *p, const double *const *x, size_t n, double *f,
                        double *jac) {
  (void)user;
  cr_assert_null(jac, "a finite-difference model is never asked for J");
  for (size_t i = 0; i < n; ++i)
    f[i] = p[0] * exp(-p[1] * x[0][i]) + p[2] * exp(-p[3] * x[0][i]);
}

Test(lm_features, finite_differences_agree_with_exact_jacobian) {
  make_data();
  const double *cols[] = {X};
  fitcl_context *ctx = fitcl_test_context(NULL);
  fitcl_model *exact = compile(ctx, "a*exp(-b*x)+c*exp(-d*x)", "a b c d");
  const char *names[] = {"a", "b", "c", "d"}, *vars[] = {"x"};
  const double p0[4] = {2, 2, 1, 0.1}, at[4] = {3, 1.2, 0.8, 0.2};
  fitcl_curvefit_result re;
  cr_assert_eq(fitcl_curve_fit_arrays(ctx, exact, cols, Y, NULL, N, p0, NULL, &re), FITCL_OK);
  double Je[N * 4], Jf[N * 4], f[N];
  cr_assert_eq(fitcl_model_eval(exact, at, cols, N, f, Je), FITCL_OK);
  for (int mode = 0; mode < 2; ++mode) {
    fitcl_model *fd = NULL;
    cr_assert_eq(fitcl_model_from_callback_fd(ctx, dexp_values, NULL, (fitcl_fd_mode)mode, names,
                                              4, vars, 1, &fd),
                 FITCL_OK, "%s", fitcl_errmsg(ctx));
    cr_assert_eq(fitcl_model_eval(fd, at, cols, N, f, Jf), FITCL_OK);
    double worst = 0;
    for (int i = 0; i < N * 4; ++i) worst = fmax(worst, fabs(Jf[i] - Je[i]) / (fabs(Je[i]) + 1e-3));
    /* Truncation and rounding errors of the rules: O(sqrt(eps)) forward,
     * O(eps^(2/3)) central, times the curvature. */
    cr_expect_lt(worst, mode ? 1e-8 : 2e-5, "mode %d: Jacobian differs by %.3g", mode, worst);
    fitcl_curvefit_result r;
    cr_assert_eq(fitcl_curve_fit_arrays(ctx, fd, cols, Y, NULL, N, p0, NULL, &r), FITCL_OK, "%s",
                 fitcl_errmsg(ctx));
    cr_expect(r.converged);
    for (int j = 0; j < 4; ++j) {
      /* The solution is where J'r = 0: an error of J moves it by far less
       * than the error itself; the standard errors move with J. */
      cr_expect(fitcl_test_close(r.params[j], re.params[j], mode ? 1e-9 : 1e-7), "mode %d p%d",
                mode, j);
      cr_expect(fitcl_test_close(r.stderr_[j], re.stderr_[j], mode ? 1e-8 : 1e-5), "mode %d se%d",
                mode, j);
    }
    fitcl_model_destroy(fd);
  }
  fitcl_model_destroy(exact);
  fitcl_context_destroy(ctx);
}

/* 40 parameters: twenty Gaussian peaks of known width, each with a height
 * and a centre. */
Test(lm_features, forty_parameter_model, .timeout = 600) {
  enum { M = 4000, K = 20 };
  static double x[M], y[M];
  char expr[4096] = "", names[1024] = "";
  double truth[2 * K], p0[2 * K];
  size_t off = 0, no = 0;
  for (int k = 0; k < K; ++k) {
    off += (size_t)snprintf(expr + off, sizeof expr - off, "%sh%d*exp(-(x-c%d)^2/0.02)",
                            k ? "+" : "", k, k);
    no += (size_t)snprintf(names + no, sizeof names - no, "h%d c%d ", k, k);
    truth[2 * k] = 1 + 0.1 * k;
    truth[2 * k + 1] = 0.5 + k;
    p0[2 * k] = truth[2 * k] * 0.9;
    p0[2 * k + 1] = truth[2 * k + 1] + 0.05;
  }
  rng_state = 7;
  for (int i = 0; i < M; ++i) {
    x[i] = 20.0 * i / M;
    double f = 0;
    for (int k = 0; k < K; ++k)
      f += truth[2 * k] * exp(-(x[i] - truth[2 * k + 1]) * (x[i] - truth[2 * k + 1]) / 0.02);
    y[i] = f + 0.01 * nrand();
  }
  const double *cols[] = {x};
  FOR_BACKENDS {
    fitcl_context *ctx = fitcl_test_context(be_[bi_].selector);
    fitcl_model *m = compile(ctx, expr, names);
    cr_assert_eq(fitcl_model_nparams(m), 2 * K);
    fitcl_curvefit_result r;
    cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, M, p0, NULL, &r), FITCL_OK, "[%s] %s",
                 be_[bi_].name, fitcl_errmsg(ctx));
    cr_expect(r.converged, "[%s] status %s", be_[bi_].name, fitcl_curvefit_status_name(r.status));
    for (int j = 0; j < 2 * K; ++j)
      cr_expect_leq(fabs(r.params[j] - truth[j]), 5 * r.stderr_[j], "[%s] p%d = %.10g, truth %g "
                    "(se %.3g)", be_[bi_].name, j, r.params[j], truth[j], r.stderr_[j]);
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
}

/* R², AIC, BIC and the Wald intervals against their definitions; profile
 * intervals of a straight line (an exactly quadratic rss) equal the Wald
 * ones. */
Test(lm_features, statistics_and_intervals) {
  enum { M = 50 };
  static double x[M], y[M], s[M];
  rng_state = 3;
  for (int i = 0; i < M; ++i) {
    x[i] = i;
    s[i] = 0.5 + 0.01 * i;
    y[i] = 1.5 + 0.3 * x[i] + s[i] * nrand();
  }
  const double *cols[] = {x};
  fitcl_context *ctx = fitcl_test_context("cpu");
  fitcl_model *m = compile(ctx, "a+b*x", "a b");
  const double p0[2] = {0, 0};
  fitcl_curvefit_options fo = {0};
  fo.profile = 1;
  fo.confidence = 0.9;
  fitcl_curvefit_result r;
  cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, y, s, M, p0, &fo, &r), FITCL_OK);
  double sw = 0, swy = 0, tss = 0, rss = 0;
  for (int i = 0; i < M; ++i) {
    sw += 1 / (s[i] * s[i]);
    swy += y[i] / (s[i] * s[i]);
  }
  for (int i = 0; i < M; ++i) {
    double d = y[i] - swy / sw, e = (y[i] - r.params[0] - r.params[1] * x[i]) / s[i];
    tss += d * d / (s[i] * s[i]);
    rss += e * e;
  }
  cr_expect(fitcl_test_close(r.rss, rss, 1e-10));
  cr_expect(fitcl_test_close(r.tss, tss, 1e-10), "tss %.15g vs %.15g", r.tss, tss);
  cr_expect(fitcl_test_close(r.r_squared, 1 - rss / tss, 1e-10));
  cr_expect(fitcl_test_close(r.aic, M * log(rss / M) + 4, 1e-10));
  cr_expect(fitcl_test_close(r.bic, M * log(rss / M) + 2 * log(M), 1e-10));
  /* t(0.95, 48) = 1.6772241953 (tabulated). */
  double t = 1.6772241953;
  for (int j = 0; j < 2; ++j) {
    cr_expect(fitcl_test_close(r.ci_upper[j], r.params[j] + t * r.stderr_[j], 1e-9));
    cr_expect(fitcl_test_close(r.ci_lower[j], r.params[j] - t * r.stderr_[j], 1e-9));
    cr_expect(fitcl_test_close(r.profile_lower[j], r.ci_lower[j], 1e-5), "profile %.10g wald %.10g",
              r.profile_lower[j], r.ci_lower[j]);
    cr_expect(fitcl_test_close(r.profile_upper[j], r.ci_upper[j], 1e-5), "profile %.10g wald %.10g",
              r.profile_upper[j], r.ci_upper[j]);
  }
  /* The band at the data's x: its confidence half-width is t sqrt(g'Cg). */
  double fit[M], conf[M], pred[M];
  cr_assert_eq(fitcl_curvefit_band(ctx, m, &r, 0, cols, M, fit, conf, pred), FITCL_OK);
  for (int i = 0; i < M; i += 7) {
    double v = r.covariance[0] + 2 * x[i] * r.covariance[1] + x[i] * x[i] * r.covariance[3];
    cr_expect(fitcl_test_close(conf[i], t * sqrt(v), 1e-9));
    cr_expect(fitcl_test_close(pred[i], t * sqrt(v + r.reduced_chi2), 1e-9));
    cr_expect(fitcl_test_close(fit[i], r.params[0] + r.params[1] * x[i], 1e-12));
  }
  fitcl_model_destroy(m);
  fitcl_context_destroy(ctx);
}

Test(lm_features, student_t_quantiles) {
  /* Tabulated two-sided 95% values. */
  cr_expect(fitcl_test_close(fitcl__t_quantile(0.975, 1), 12.706204736174698, 1e-10));
  cr_expect(fitcl_test_close(fitcl__t_quantile(0.975, 10), 2.2281388519649385, 1e-10));
  cr_expect(fitcl_test_close(fitcl__t_quantile(0.975, 200), 1.971896224, 1e-8));
  cr_expect(fitcl_test_close(fitcl__t_quantile(0.025, 10), -2.2281388519649385, 1e-10));
  cr_expect(fitcl_test_close(fitcl__t_cdf(2.2281388519649385, 10), 0.975, 1e-12));
}

/* The QR pass merges its triangles in a fixed order: the same bits for
 * one worker thread and for three. */
Test(lm_features, qr_fit_same_bits_for_any_thread_count) {
  enum { M = 20000 };
  static double x[M], y[M];
  rng_state = 11;
  for (int i = 0; i < M; ++i) {
    x[i] = 8.0 * i / M;
    y[i] = 3 * exp(-1.2 * x[i]) + 0.8 * exp(-0.2 * x[i]) + 0.01 * nrand();
  }
  const double *cols[] = {x};
  fitcl_curvefit_result r[2];
  for (int k = 0; k < 2; ++k) {
    fitcl_context_options co;
    memset(&co, 0, sizeof co);
    co.device = "cpu";
    co.threads = k ? 3 : 1;
    fitcl_context *ctx = NULL;
    cr_assert_eq(fitcl_context_create(&co, &ctx), FITCL_OK);
    fitcl_model *m = compile(ctx, "a*exp(-b*x)+c*exp(-d*x)", "a b c d");
    const double p0[4] = {2, 2, 1, 0.1};
    fitcl_curvefit_options fo = {0};
    fo.solver = FITCL_SOLVER_QR;
    fo.chunk_points = 9000; /* several chunks of several 4096-point groups */
    cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, M, p0, &fo, &r[k]), FITCL_OK);
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
  cr_expect_eq(memcmp(r[0].params, r[1].params, sizeof(double) * 4), 0);
  cr_expect_eq(memcmp(r[0].stderr_, r[1].stderr_, sizeof(double) * 4), 0);
  cr_expect_eq(r[0].cost, r[1].cost);
  cr_expect_eq(r[0].iterations, r[1].iterations);
}

/* A profile bound of a nonlinear model (NIST Misra1a's data) is where the
 * refit with the parameter held reaches the F-test threshold. */
Test(lm_features, profile_bound_reaches_the_threshold) {
  static const double x[14] = {77.6, 114.9, 141.1, 190.8, 239.9, 289.0, 332.8,
                               378.4, 434.8, 477.3, 536.8, 593.1, 689.1, 760.0};
  static const double y[14] = {10.07, 14.73, 17.94, 23.93, 29.61, 35.18, 40.02,
                               44.82, 50.76, 55.05, 61.01, 66.40, 75.47, 81.78};
  const double *cols[] = {x};
  fitcl_context *ctx = fitcl_test_context("cpu");
  fitcl_model *m = compile(ctx, "b1*(1-exp(-b2*x))", "b1 b2");
  const double p0[2] = {500, 1e-4};
  fitcl_curvefit_options fo = {0};
  fo.profile = 1;
  fitcl_curvefit_result r, h;
  cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, 14, p0, &fo, &r), FITCL_OK);
  double t = fitcl__t_quantile(0.975, 12), crit = r.rss * (1 + t * t / 12);
  for (int j = 0; j < 2; ++j)
    for (int side = 0; side < 2; ++side) {
      double v = side ? r.profile_upper[j] : r.profile_lower[j];
      cr_assert(isfinite(v), "p%d side %d not found", j, side);
      /* The profile is asymmetric: the bound differs from Wald's. */
      double q[2] = {r.params[0], r.params[1]};
      q[j] = v;
      int fixed[2] = {j == 0, j == 1};
      fitcl_curvefit_options fh = {0};
      fh.fixed = fixed;
      cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, 14, q, &fh, &h), FITCL_OK);
      cr_expect(fitcl_test_close(h.rss, crit, 1e-5), "p%d side %d: rss %.12g, threshold %.12g", j,
                side, h.rss, crit);
    }
  fitcl_model_destroy(m);
  fitcl_context_destroy(ctx);
}
