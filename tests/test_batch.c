/* Batched small fits (fitcl_fit_batch) on every backend: each fit equals
 * the single curve fit of the same data, the NIST StRD lower problems as
 * batches with noisy copies, Poisson maximum likelihood against a direct
 * Newton maximisation, fixed parameters and bounds, mixed statuses, N = 1
 * and N = 10^6, and the argument checks. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/aot.h"
#include "test_util.h"

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
/* Poisson deviate (Knuth for small means, normal approximation above). */
__attribute__((unused)) static double prand(double mu) {
  if (mu > 60) {
    double v = floor(mu + sqrt(mu) * nrand() + 0.5);
    return v < 0 ? 0 : v;
  }
  double l = exp(-mu), p = 1.0;
  int k = 0;
  do {
    ++k;
    p *= urand();
  } while (p > l);
  return k - 1;
}

#define FOR_BACKENDS                                     \
  fitcl_test_backend be_[2];                             \
  size_t nbe_ = fitcl_test_backends(be_, 2);             \
  for (size_t bi_ = 0; bi_ < nbe_; ++bi_)

/* The OpenCL layouts to run: automatic and both forced; one on cpu. */
static int nlayouts(const char *backend) { return strcmp(backend, "cpu") ? 3 : 1; }

__attribute__((unused)) static fitcl_model *compile(fitcl_context *ctx, const char *expr, const char *params,
                            const char *vars) {
  static char pb[256], vb[256];
  const char *pn[FITCL_NLSQ_MAX_PARAMS], *vn[FITCL_NLSQ_MAX_VARS];
  size_t np = 0, nv = 0;
  snprintf(pb, sizeof pb, "%s", params);
  snprintf(vb, sizeof vb, "%s", vars);
  for (char *t = strtok(pb, " "); t; t = strtok(NULL, " ")) pn[np++] = t;
  for (char *t = strtok(vb, " "); t; t = strtok(NULL, " ")) vn[nv++] = t;
  fitcl_model *m = NULL;
  fitcl_status st = fitcl_model_compile(ctx, expr, pn, np, vn, nv, &m);
  cr_assert_eq(st, FITCL_OK, "compile '%s': %s", expr, fitcl_errmsg(ctx));
  return m;
}

typedef struct batch_out {
  double *p, *se, *cov, *chi2;
  int *iter, *status;
  fitcl_batch_outputs o;
} batch_out;

static void out_alloc(batch_out *b, size_t N, size_t np) {
  b->p = calloc(N * np, sizeof *b->p);
  b->se = calloc(N * np, sizeof *b->se);
  b->cov = calloc(N * np * np, sizeof *b->cov);
  b->chi2 = calloc(N, sizeof *b->chi2);
  b->iter = calloc(N, sizeof *b->iter);
  b->status = calloc(N, sizeof *b->status);
  cr_assert(b->p && b->se && b->cov && b->chi2 && b->iter && b->status);
  b->o = (fitcl_batch_outputs){b->p, b->se, b->cov, b->chi2, b->iter, b->status};
}
static void out_free(batch_out *b) {
  free(b->p);
  free(b->se);
  free(b->cov);
  free(b->chi2);
  free(b->iter);
  free(b->status);
}

__attribute__((unused)) static int converged(int s) {
  return s == FITCL_CURVEFIT_CONVERGED_FTOL || s == FITCL_CURVEFIT_CONVERGED_XTOL ||
         s == FITCL_CURVEFIT_CONVERGED_GTOL;
}

/* |a - b| <= tol * scale, scale = max(|a|, |b|, floor). */
static int near(double a, double b, double tol, double floor_) {
  double s = fmax(fmax(fabs(a), fabs(b)), floor_);
  return fabs(a - b) <= tol * s;
}

/* Gaussian peaks on 64 points, with and without sigma, x shared or per
 * fit: every fit of the batch equals fitcl_curve_fit_arrays on its data.
 * Both run to xtol 1e-12 (the Gauss-Newton step below 1e-12 of |p| +
 * stderr).  The single fit's trial steps are judged on the cost alone,
 * which is flat to rounding within about 1e-7 standard errors of the
 * optimum, and it ends there (its last steps rejected) where the batch
 * takes the model's word for steps below the cost's rounding and goes on
 * to the optimum.  So with noise of 1e-5 of the peak (small standard
 * errors) both agree to 1e-10 of |p| + stderr; with noise of 1%, to 1e-6
 * standard errors (measured: about 3e-8). */
static void equals_single(double noise, double tol_p) {
  const size_t N = 60, n = 64, np = 4;
  double *x = malloc(N * n * sizeof *x), *y = malloc(N * n * sizeof *y),
         *sg = malloc(N * n * sizeof *sg), *p0 = malloc(N * np * sizeof *p0);
  cr_assert(x && y && sg && p0);
  rng_state = 7;
  for (size_t i = 0; i < N; ++i) {
    double a = 5 + 10 * urand(), mu = 20 + 24 * urand(), s = 3 + 4 * urand(), c = 1 + urand();
    for (size_t j = 0; j < n; ++j) {
      double xv = (double)j + 0.3 * (double)(i % 3);
      x[i * n + j] = xv;
      sg[i * n + j] = noise * (0.05 + 0.1 * urand());
      y[i * n + j] = a * exp(-(xv - mu) * (xv - mu) / (2 * s * s)) + c + sg[i * n + j] * nrand();
    }
    p0[i * np + 0] = a * (1 + 0.2 * (urand() - 0.5));
    p0[i * np + 1] = mu + 2 * (urand() - 0.5);
    p0[i * np + 2] = s * (1 + 0.2 * (urand() - 0.5));
    p0[i * np + 3] = c + 0.2;
  }
  FOR_BACKENDS {
    fitcl_context *ctx = fitcl_test_context(be_[bi_].selector);
    fitcl_model *m = NULL;
    cr_assert_eq(fitcl_model_builtin(ctx, "gaussian", &m), FITCL_OK);
    /* On cpu, layout 1 runs the evaluator instead of the compiled built-in. */
    const int nlay = strcmp(be_[bi_].name, "cpu") ? 3 : 2;
    for (int variant = 0; variant < 3; ++variant)
      for (int layout = 0; layout < nlay; ++layout) {
        fitcl__aot_disable = !strcmp(be_[bi_].name, "cpu") && layout == 1;
        /* 0: shared x, unweighted; 1: x per fit, sigma; 2: weights = 1/sigma². */
        double *w = NULL;
        fitcl_batch_data d = {0};
        d.nfits = N;
        d.npoints = n;
        d.y = (fitcl_batch_array){y, n, 1};
        d.x[0] = variant == 0 ? (fitcl_batch_array){x, 0, 1} : (fitcl_batch_array){x, n, 1};
        if (variant == 1) d.sigma = (fitcl_batch_array){sg, n, 1};
        if (variant == 2) {
          w = malloc(N * n * sizeof *w);
          for (size_t k = 0; k < N * n; ++k) w[k] = 1.0 / (sg[k] * sg[k]);
          d.weights = (fitcl_batch_array){w, n, 1};
        }
        d.p0 = p0;
        d.p0_fit_stride = np;
        fitcl_batch_options o = {0};
        o.ftol = -1;
        o.xtol = 1e-12;
        o.layout = layout;
        batch_out b;
        out_alloc(&b, N, np);
        fitcl_batch_summary sum;
        fitcl_status st = fitcl_fit_batch(ctx, m, &d, &o, &b.o, &sum);
        fitcl__aot_disable = 0;
        cr_assert_eq(st, FITCL_OK, "[%s] batch: %s", be_[bi_].name, fitcl_errmsg(ctx));
        cr_expect_eq(sum.converged, N, "[%s] %zu of %zu converged", be_[bi_].name, sum.converged, N);
        for (size_t i = 0; i < N; ++i) {
          fitcl_curvefit_options fo = {0};
          fo.ftol = -1;
          fo.xtol = 1e-12;
          fo.gtol = -1;
          fitcl_curvefit_result r;
          const double *xs[1] = {variant == 0 ? x : x + i * n};
          double *sig = NULL;
          if (variant) sig = sg + i * n;
          st = fitcl_curve_fit_arrays(ctx, m, xs, y + i * n, sig, n, p0 + i * np, &fo, &r);
          cr_assert_eq(st, FITCL_OK, "%s", fitcl_errmsg(ctx));
          for (size_t k = 0; k < np; ++k) {
            double scale = tol_p > 0 ? fabs(r.params[k]) + r.stderr_[k] : r.stderr_[k];
            cr_expect(fabs(b.p[i * np + k] - r.params[k]) <= fabs(tol_p) * scale,
                      "[%s v%d l%d] fit %zu p%zu: batch %.17g single %.17g (se %.3g)",
                      be_[bi_].name, variant, layout, i, k, b.p[i * np + k], r.params[k],
                      r.stderr_[k]);
            cr_expect(near(b.se[i * np + k], r.stderr_[k], 1e-6, 0),
                      "[%s v%d] fit %zu se%zu: batch %.17g single %.17g", be_[bi_].name, variant,
                      i, k, b.se[i * np + k], r.stderr_[k]);
            for (size_t l = 0; l < np; ++l)
              cr_expect(near(b.cov[(i * np + k) * np + l], r.covariance[k * np + l], 1e-6,
                             r.stderr_[k] * r.stderr_[l]),
                        "[%s] fit %zu cov %zu,%zu", be_[bi_].name, i, k, l);
          }
          cr_expect(near(b.chi2[i], r.rss, 1e-9, 0), "[%s v%d] fit %zu chi2 %.17g vs rss %.17g",
                    be_[bi_].name, variant, i, b.chi2[i], r.rss);
        }
        out_free(&b);
        free(w);
      }
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
  free(x);
  free(y);
  free(sg);
  free(p0);
}

/* tol_p > 0: relative to |p| + stderr; < 0: in standard errors. */
Test(batch, equals_single_fits_low_noise, .timeout = 600) { equals_single(1e-5, 1e-10); }
Test(batch, equals_single_fits_noisy, .timeout = 600) { equals_single(1.0, -1e-6); }

/* ------------------------------------------------------------------------- */
/* NIST StRD lower-difficulty problems as batches                            */

#define NIST_DIR FITCL_TEST_SOURCE_DIR "/../shared/data/nist"

typedef struct kv {
  int n;
  char name[FITCL_NLSQ_MAX_PARAMS][16];
  double v[FITCL_NLSQ_MAX_PARAMS];
} kv;

static void parse_kv(const char *s, kv *out) {
  out->n = 0;
  while (*s) {
    const char *eq = strchr(s, '=');
    cr_assert_not_null(eq, "manifest: malformed list '%s'", s);
    size_t len = (size_t)(eq - s);
    cr_assert_lt(len, sizeof out->name[0]);
    memcpy(out->name[out->n], s, len);
    out->name[out->n][len] = 0;
    char *end;
    out->v[out->n] = strtod(eq + 1, &end);
    out->n++;
    s = *end == ',' ? end + 1 : end;
  }
}

/* The problem's CSV: predictor columns then y; returns the point count. */
static size_t read_nist(const char *problem, char vars[4][8], size_t *nv, double **cols) {
  char path[1024], line[1024];
  snprintf(path, sizeof path, "%s/%s.csv", NIST_DIR, problem);
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "cannot open %s", path);
  cr_assert_not_null(fgets(line, sizeof line, f));
  *nv = 0;
  for (char *tok = strtok(line, ",\r\n"); tok; tok = strtok(NULL, ",\r\n"))
    if (strcmp(tok, "y") != 0) snprintf(vars[(*nv)++], 8, "%s", tok);
  size_t n = 0, cap = 1024;
  for (size_t c = 0; c <= *nv; ++c) cols[c] = malloc(cap * sizeof(double));
  while (fgets(line, sizeof line, f)) {
    char *p = line;
    for (size_t c = 0; c <= *nv; ++c) {
      cols[c][n] = strtod(p, &p);
      if (*p == ',') ++p;
    }
    ++n;
    cr_assert_lt(n, cap);
  }
  fclose(f);
  return n;
}

/* Each problem as a batch of 16 fits: its data from both official starts
 * (which must give the certified values: parameters and standard errors
 * to 1e-6, RSS to 1e-8), and 14 copies with noise of a tenth of the
 * residual standard deviation, from alternating starts (each must
 * converge and equal the single curve fit of its data to 1e-5 standard
 * errors: the batch runs with xtol 1e-12 for that, the single fit with
 * test_nist's tolerances, which on ill-conditioned Lanczos3 stop on a cost
 * that is flat to rounding over about 1e-6 standard errors). */
Test(batch, nist_lower_problems_as_batches, .timeout = 900) {
  char mpath[1024];
  snprintf(mpath, sizeof mpath, "%s/manifest.tsv", NIST_DIR);
  if (access(mpath, R_OK) != 0)
    cr_skip_test("NIST StRD data not found at %s (the shared/ data directory must sit beside "
                 "the source tree)", mpath);
  FOR_BACKENDS {
    fitcl_context *ctx = fitcl_test_context(be_[bi_].selector);
    FILE *mf = fopen(mpath, "r");
    cr_assert_not_null(mf);
    char line[4096];
    int problems = 0;
    cr_assert_not_null(fgets(line, sizeof line, mf));
    while (fgets(line, sizeof line, mf)) {
      char *field[8];
      int nf = 0;
      for (char *p = line; nf < 8;) {
        field[nf++] = p;
        char *t = strchr(p, '\t');
        if (!t) break;
        *t = 0;
        p = t + 1;
      }
      if (nf < 8 || strcmp(field[1], "lower") != 0) continue;
      field[7][strcspn(field[7], "\r\n")] = 0;
      kv s1, s2, cert, cse;
      parse_kv(field[3], &s1);
      parse_kv(field[4], &s2);
      parse_kv(field[5], &cert);
      parse_kv(field[6], &cse);
      const double crss = strtod(field[7], NULL);
      char vars[4][8];
      size_t nv;
      double *cols[5];
      const size_t n = read_nist(field[0], vars, &nv, cols);
      const size_t np = (size_t)s1.n, N = 16;
      const char *pn[FITCL_NLSQ_MAX_PARAMS], *vn[4];
      for (size_t k = 0; k < np; ++k) pn[k] = s1.name[k];
      for (size_t v = 0; v < nv; ++v) vn[v] = vars[v];
      fitcl_model *m = NULL;
      cr_assert_eq(fitcl_model_compile(ctx, field[2], pn, np, vn, nv, &m), FITCL_OK, "%s",
                   fitcl_errmsg(ctx));
      double *y = malloc(N * n * sizeof *y), *p0 = malloc(N * np * sizeof *p0);
      const double rsd = sqrt(crss / (double)(n - np));
      rng_state = 99 + (uint64_t)problems;
      for (size_t i = 0; i < N; ++i) {
        for (size_t j = 0; j < n; ++j)
          y[i * n + j] = cols[nv][j] + (i < 2 ? 0.0 : 0.1 * rsd * nrand());
        for (size_t k = 0; k < np; ++k) p0[i * np + k] = (i % 2 ? s2 : s1).v[k];
      }
      fitcl_batch_data d = {0};
      d.nfits = N;
      d.npoints = n;
      d.y = (fitcl_batch_array){y, n, 1};
      for (size_t v = 0; v < nv; ++v) d.x[v] = (fitcl_batch_array){cols[v], 0, 1};
      d.p0 = p0;
      d.p0_fit_stride = np;
      batch_out b;
      out_alloc(&b, N, np);
      fitcl_batch_options o = {0};
      o.xtol = 1e-12;
      fitcl_status st = fitcl_fit_batch(ctx, m, &d, &o, &b.o, NULL);
      cr_assert_eq(st, FITCL_OK, "[%s] %s: %s", be_[bi_].name, field[0], fitcl_errmsg(ctx));
      for (size_t i = 0; i < N; ++i) {
        cr_expect(converged(b.status[i]), "[%s] %s fit %zu: status %s", be_[bi_].name, field[0],
                  i, fitcl_curvefit_status_name((fitcl_curvefit_status)b.status[i]));
        if (i < 2) {
          for (size_t k = 0; k < np; ++k) {
            double c = cert.v[k], s = cse.v[k];
            cr_expect_leq(fabs(b.p[i * np + k] - c) / fabs(c), 1e-6,
                          "[%s] %s start %zu: %s = %.12g, certified %.12g", be_[bi_].name,
                          field[0], i + 1, pn[k], b.p[i * np + k], c);
            cr_expect_leq(fabs(b.se[i * np + k] - s) / fabs(s), 1e-6,
                          "[%s] %s start %zu: SE(%s) = %.12g, certified %.12g", be_[bi_].name,
                          field[0], i + 1, pn[k], b.se[i * np + k], s);
          }
          cr_expect_leq(fabs(b.chi2[i] - crss) / crss, 1e-8, "[%s] %s start %zu: RSS %.12g, "
                        "certified %.12g", be_[bi_].name, field[0], i + 1, b.chi2[i], crss);
          continue;
        }
        fitcl_curvefit_result r;
        const double *xs[4];
        for (size_t v = 0; v < nv; ++v) xs[v] = cols[v];
        fitcl_curvefit_options fo = {0};
        fo.ftol = fo.xtol = fo.gtol = 1e-15;
        fo.max_iter = 2000;
        st = fitcl_curve_fit_arrays(ctx, m, xs, y + i * n, NULL, n, p0 + i * np, &fo, &r);
        cr_assert_eq(st, FITCL_OK, "%s", fitcl_errmsg(ctx));
        if (!r.converged) continue;
        for (size_t k = 0; k < np; ++k)
          cr_expect_leq(fabs(b.p[i * np + k] - r.params[k]), 1e-5 * r.stderr_[k],
                        "[%s] %s noisy fit %zu: %s batch %.12g single %.12g (se %.3g)",
                        be_[bi_].name, field[0], i, pn[k], b.p[i * np + k], r.params[k],
                        r.stderr_[k]);
      }
      out_free(&b);
      free(y);
      free(p0);
      for (size_t c = 0; c <= nv; ++c) free(cols[c]);
      fitcl_model_destroy(m);
      problems++;
    }
    fclose(mf);
    cr_expect_gt(problems, 0);
    fitcl_context_destroy(ctx);
  }
}

/* ------------------------------------------------------------------------- */
/* Poisson maximum likelihood                                                */

/* The Poisson fit of f = a exp(-b x) against Newton's method on the exact
 * log-likelihood (second derivatives of the model included), started at
 * the truth: the same maximum to 1e-9, the deviance, and standard errors
 * from the inverse Fisher information at the maximum. */
Test(batch, poisson_mle_matches_direct_maximisation, .timeout = 300) {
  const size_t N = 40, n = 30, np = 2;
  double *x = malloc(n * sizeof *x), *y = malloc(N * n * sizeof *y), *truth = malloc(N * 2 * sizeof *truth);
  rng_state = 2024;
  for (size_t j = 0; j < n; ++j) x[j] = 0.15 * (double)j;
  for (size_t i = 0; i < N; ++i) {
    truth[2 * i] = 20 + 80 * urand();
    truth[2 * i + 1] = 0.3 + 0.5 * urand();
    for (size_t j = 0; j < n; ++j) y[i * n + j] = prand(truth[2 * i] * exp(-truth[2 * i + 1] * x[j]));
  }
  const double p0[2] = {50, 0.5};
  FOR_BACKENDS {
    fitcl_context *ctx = fitcl_test_context(be_[bi_].selector);
    fitcl_model *m = compile(ctx, "a*exp(-b*x)", "a b", "x");
    for (int layout = 0; layout < nlayouts(be_[bi_].name); ++layout) {
      fitcl_batch_data d = {0};
      d.nfits = N;
      d.npoints = n;
      d.y = (fitcl_batch_array){y, n, 1};
      d.x[0] = (fitcl_batch_array){x, 0, 1};
      d.p0 = p0;
      fitcl_batch_options o = {0};
      o.estimator = FITCL_ESTIMATOR_POISSON;
      o.ftol = -1; /* the cost is flat to rounding within ~1e-7 standard errors */
      o.xtol = 1e-12;
      o.layout = layout;
      batch_out b;
      out_alloc(&b, N, np);
      cr_assert_eq(fitcl_fit_batch(ctx, m, &d, &o, &b.o, NULL), FITCL_OK, "%s", fitcl_errmsg(ctx));
      for (size_t i = 0; i < N; ++i) {
        const double *yi = y + i * n;
        double a = truth[2 * i], bb = truth[2 * i + 1];
        double F[3] = {0, 0, 0};
        for (int it = 0; it < 100; ++it) {
          /* L = Σ f - y ln f; gradient and Hessian. */
          double g[2] = {0, 0}, H[3] = {0, 0, 0};
          F[0] = F[1] = F[2] = 0;
          for (size_t j = 0; j < n; ++j) {
            double e = exp(-bb * x[j]), f = a * e, fa = e, fb = -a * x[j] * e;
            double fab = -x[j] * e, fbb = a * x[j] * x[j] * e, u = 1 - yi[j] / f, v = yi[j] / (f * f);
            g[0] += u * fa;
            g[1] += u * fb;
            H[0] += v * fa * fa;
            H[1] += v * fa * fb + u * fab;
            H[2] += v * fb * fb + u * fbb;
            F[0] += fa * fa / f;
            F[1] += fa * fb / f;
            F[2] += fb * fb / f;
          }
          double det = H[0] * H[2] - H[1] * H[1];
          double da = -(H[2] * g[0] - H[1] * g[1]) / det, db = -(-H[1] * g[0] + H[0] * g[1]) / det;
          a += da;
          bb += db;
          if (fabs(da) < 1e-15 * fabs(a) && fabs(db) < 1e-15 * fabs(bb)) break;
        }
        cr_expect(converged(b.status[i]), "[%s] fit %zu status %d", be_[bi_].name, i, b.status[i]);
        cr_expect(near(b.p[i * 2], a, 1e-9, 0), "[%s l%d] fit %zu (status %d, %d steps) a: batch %.15g newton %.15g",
                  be_[bi_].name, layout, i, b.status[i], b.iter[i], b.p[i * 2], a);
        cr_expect(near(b.p[i * 2 + 1], bb, 1e-9, 0), "[%s l%d] fit %zu b: batch %.15g newton %.15g",
                  be_[bi_].name, layout, i, b.p[i * 2 + 1], bb);
        double dev = 0;
        for (size_t j = 0; j < n; ++j) {
          double f = a * exp(-bb * x[j]);
          dev += 2 * (f - yi[j] + (yi[j] > 0 ? yi[j] * log(yi[j] / f) : 0));
        }
        cr_expect(near(b.chi2[i], dev, 1e-9, 1e-12), "[%s] fit %zu deviance %.15g vs %.15g",
                  be_[bi_].name, i, b.chi2[i], dev);
        double det = F[0] * F[2] - F[1] * F[1];
        cr_expect(near(b.se[i * 2], sqrt(F[2] / det), 1e-6, 0), "[%s] fit %zu se(a) %.10g vs %.10g",
                  be_[bi_].name, i, b.se[i * 2], sqrt(F[2] / det));
        cr_expect(near(b.se[i * 2 + 1], sqrt(F[0] / det), 1e-6, 0), "[%s] fit %zu se(b)",
                  be_[bi_].name, i);
      }
      out_free(&b);
    }
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
  free(x);
  free(y);
  free(truth);
}

/* ------------------------------------------------------------------------- */
/* Fixed parameters, bounds, variables per fit                               */

/* Gaussian data; fit i holds parameter i % 4 at its start (per-fit rows of
 * flags), and must equal the single fit of the model with that parameter
 * written in as a number.  A shared row holds C for every fit. */
Test(batch, fixed_parameters_equal_the_reduced_model, .timeout = 300) {
  const size_t N = 12, n = 50, np = 4;
  const char *names = "A M S C", *expr = "A*exp(-(x-M)^2/(2*S^2))+C";
  double *x = malloc(n * sizeof *x), *y = malloc(N * n * sizeof *y), *p0 = malloc(N * np * sizeof *p0);
  int *fix = calloc(N * np, sizeof *fix);
  rng_state = 5;
  for (size_t j = 0; j < n; ++j) x[j] = (double)j;
  for (size_t i = 0; i < N; ++i) {
    double t[4] = {8 + 4 * urand(), 20 + 10 * urand(), 4 + 2 * urand(), 1 + urand()};
    for (size_t j = 0; j < n; ++j)
      y[i * n + j] = t[0] * exp(-(x[j] - t[1]) * (x[j] - t[1]) / (2 * t[2] * t[2])) + t[3] + 0.05 * nrand();
    for (size_t k = 0; k < np; ++k) p0[i * np + k] = t[k] * (1 + 0.05 * (urand() - 0.5));
    fix[i * np + i % np] = 1;
  }
  FOR_BACKENDS {
    fitcl_context *ctx = fitcl_test_context(be_[bi_].selector);
    fitcl_model *m = compile(ctx, expr, names, "x");
    for (int shared = 0; shared < 2; ++shared) {
      const int shared_row[4] = {0, 0, 0, 1};
      fitcl_batch_data d = {0};
      d.nfits = N;
      d.npoints = n;
      d.y = (fitcl_batch_array){y, n, 1};
      d.x[0] = (fitcl_batch_array){x, 0, 1};
      d.p0 = p0;
      d.p0_fit_stride = np;
      fitcl_batch_options o = {0};
      o.xtol = 1e-12;
      o.fixed = shared ? shared_row : fix;
      o.fixed_fit_stride = shared ? 0 : np;
      batch_out b;
      out_alloc(&b, N, np);
      cr_assert_eq(fitcl_fit_batch(ctx, m, &d, &o, &b.o, NULL), FITCL_OK, "%s", fitcl_errmsg(ctx));
      for (size_t i = 0; i < N; ++i) {
        size_t held = shared ? 3 : i % np;
        static const char *pn[4] = {"A", "M", "S", "C"};
        char red[256], rnames[64] = "";
        /* The expression with the held parameter replaced by its value. */
        size_t w = 0;
        for (const char *c = expr; *c; ++c) {
          if (*c == pn[held][0]) w += (size_t)snprintf(red + w, sizeof red - w, "(%.17g)", p0[i * np + held]);
          else red[w++] = *c;
          red[w] = 0;
        }
        double q0[3];
        size_t nq = 0;
        for (size_t k = 0; k < np; ++k)
          if (k != held) {
            strcat(rnames, pn[k]);
            strcat(rnames, " ");
            q0[nq++] = p0[i * np + k];
          }
        fitcl_model *mr = compile(ctx, red, rnames, "x");
        fitcl_curvefit_options fo = {0};
        fo.ftol = -1;
        fo.xtol = 1e-13;
        fo.gtol = -1;
        fitcl_curvefit_result r;
        const double *xs[1] = {x};
        cr_assert_eq(fitcl_curve_fit_arrays(ctx, mr, xs, y + i * n, NULL, n, q0, &fo, &r), FITCL_OK);
        cr_expect_eq(b.p[i * np + held], p0[i * np + held], "held parameter moved");
        cr_expect_eq(b.se[i * np + held], 0.0);
        for (size_t k = 0, q = 0; k < np; ++k) {
          if (k == held) continue;
          cr_expect(fabs(b.p[i * np + k] - r.params[q]) <= 1e-6 * r.stderr_[q],
                    "[%s s%d] fit %zu %s: batch %.15g reduced %.15g", be_[bi_].name, shared, i,
                    pn[k], b.p[i * np + k], r.params[q]);
          cr_expect(near(b.se[i * np + k], r.stderr_[q], 1e-6, 0), "[%s] fit %zu se %s",
                    be_[bi_].name, i, pn[k]);
          ++q;
        }
        fitcl_model_destroy(mr);
      }
      out_free(&b);
    }
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
  free(x);
  free(y);
  free(p0);
  free(fix);
}

/* Bounds that hold the width below its best value, in both modes: the same
 * point on the face as the single fit. */
Test(batch, bounds_match_single_fits) {
  const size_t N = 8, n = 40, np = 4;
  double *x = malloc(n * sizeof *x), *y = malloc(N * n * sizeof *y);
  rng_state = 11;
  for (size_t j = 0; j < n; ++j) x[j] = (double)j;
  for (size_t i = 0; i < N; ++i)
    for (size_t j = 0; j < n; ++j)
      y[i * n + j] = 10 * exp(-(x[j] - 20) * (x[j] - 20) / (2 * 25.0)) + 1 + 0.05 * nrand();
  const double p0[4] = {9, 19, 3, 1.2}, lo[4] = {0, 0, 1, -INFINITY}, hi[4] = {100, 40, 4, INFINITY};
  FOR_BACKENDS {
    fitcl_context *ctx = fitcl_test_context(be_[bi_].selector);
    fitcl_model *m = NULL;
    cr_assert_eq(fitcl_model_builtin(ctx, "gaussian", &m), FITCL_OK);
    for (int mode = 0; mode < 2; ++mode) {
      fitcl_batch_data d = {0};
      d.nfits = N;
      d.npoints = n;
      d.y = (fitcl_batch_array){y, n, 1};
      d.x[0] = (fitcl_batch_array){x, 0, 1};
      d.p0 = p0;
      fitcl_batch_options o = {0};
      o.lower = lo;
      o.upper = hi;
      o.bounds_mode = (fitcl_bounds_mode)mode;
      batch_out b;
      out_alloc(&b, N, np);
      cr_assert_eq(fitcl_fit_batch(ctx, m, &d, &o, &b.o, NULL), FITCL_OK, "%s", fitcl_errmsg(ctx));
      for (size_t i = 0; i < N; ++i) {
        fitcl_curvefit_options fo = {0};
        fo.lower = lo;
        fo.upper = hi;
        fo.bounds_mode = (fitcl_bounds_mode)mode;
        fo.ftol = fo.xtol = fo.gtol = 1e-15;
        fitcl_curvefit_result r;
        const double *xs[1] = {x};
        cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, xs, y + i * n, NULL, n, p0, &fo, &r), FITCL_OK);
        cr_expect(converged(b.status[i]), "[%s] fit %zu status %d", be_[bi_].name, i, b.status[i]);
        cr_expect_eq(b.p[i * np + 2], 4.0, "[%s m%d] fit %zu: sigma %.17g should sit on its bound",
                     be_[bi_].name, mode, i, b.p[i * np + 2]);
        for (size_t k = 0; k < np; ++k)
          cr_expect(near(b.p[i * np + k], r.params[k], 1e-7, 0),
                    "[%s m%d] fit %zu p%zu: batch %.15g single %.15g", be_[bi_].name, mode, i, k,
                    b.p[i * np + k], r.params[k]);
      }
      out_free(&b);
    }
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
  free(x);
  free(y);
}

/* xpcs_g2 reads tau (shared by every fit, Fortran-order y) and q (one value
 * per fit: point stride 0): each fit equals the single fit of its curve. */
Test(batch, variables_shared_per_fit_and_fortran_order, .timeout = 300) {
  const size_t N = 10, n = 80, np = 5;
  double *tau = malloc(n * sizeof *tau), *q = malloc(N * sizeof *q), *yf = malloc(N * n * sizeof *yf);
  double *yrow = malloc(n * sizeof *yrow), *qcol = malloc(n * sizeof *qcol);
  rng_state = 17;
  for (size_t j = 0; j < n; ++j) tau[j] = 1e-3 * pow(10.0, 4.0 * (double)j / (double)(n - 1));
  for (size_t i = 0; i < N; ++i) {
    q[i] = 0.002 + 0.001 * (double)i;
    for (size_t j = 0; j < n; ++j) {
      double g = 1 + 0.3 * exp(-2 * q[i] * q[i] * (1e4 * pow(tau[j], 1.1) / 1.1 + 100 * tau[j]));
      yf[j * N + i] = g + 0.002 * nrand(); /* Fortran order: fit fastest */
    }
  }
  const double p0[5] = {1.0, 0.25, 8e3, 0.05, 80};
  FOR_BACKENDS {
    fitcl_context *ctx = fitcl_test_context(be_[bi_].selector);
    fitcl_model *m = NULL;
    cr_assert_eq(fitcl_model_builtin(ctx, "xpcs_g2", &m), FITCL_OK);
    fitcl_batch_data d = {0};
    d.nfits = N;
    d.npoints = n;
    d.y = (fitcl_batch_array){yf, 1, N};
    d.x[0] = (fitcl_batch_array){tau, 0, 1};
    d.x[1] = (fitcl_batch_array){q, 1, 0};
    d.p0 = p0;
    fitcl_batch_options o = {0};
    o.xtol = 1e-12;
    batch_out b;
    out_alloc(&b, N, np);
    cr_assert_eq(fitcl_fit_batch(ctx, m, &d, &o, &b.o, NULL), FITCL_OK, "%s", fitcl_errmsg(ctx));
    for (size_t i = 0; i < N; ++i) {
      for (size_t j = 0; j < n; ++j) {
        yrow[j] = yf[j * N + i];
        qcol[j] = q[i];
      }
      fitcl_curvefit_options fo = {0};
      fo.ftol = fo.xtol = fo.gtol = 1e-15;
      fo.max_iter = 5000;
      fitcl_curvefit_result r;
      const double *xs[2] = {tau, qcol};
      cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, xs, yrow, NULL, n, p0, &fo, &r), FITCL_OK);
      if (!r.converged || !converged(b.status[i])) continue;
      for (size_t k = 0; k < np; ++k)
        cr_expect(fabs(b.p[i * np + k] - r.params[k]) <= 1e-5 * r.stderr_[k],
                  "[%s] fit %zu p%zu: batch %.15g single %.15g (se %.3g)", be_[bi_].name, i, k,
                  b.p[i * np + k], r.params[k], r.stderr_[k]);
    }
    out_free(&b);
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
  free(tau);
  free(q);
  free(yf);
  free(yrow);
  free(qcol);
}

/* ------------------------------------------------------------------------- */
/* Statuses, sizes, checks                                                   */

/* One batch of a*exp(-b*x)+c fits that end differently: exact data from
 * the truth (converged), a constant curve from a = 0 (the derivatives of
 * b vanish: singular), a start far away with max_iter 3 (max_iter), a
 * start where the model overflows (nonfinite), and a noisy curve started
 * at its truth (converged). */
Test(batch, mixed_statuses_in_one_batch) {
  const size_t N = 5, n = 30, np = 3;
  double x[30], y[5 * 30];
  rng_state = 3;
  for (size_t j = 0; j < n; ++j) x[j] = 0.3 * (double)j;
  for (size_t j = 0; j < n; ++j) {
    y[0 * n + j] = 3 * exp(-0.7 * x[j]) + 0.5;
    y[1 * n + j] = 2.0;
    y[2 * n + j] = 3 * exp(-0.7 * x[j]) + 0.5 + 0.01 * nrand();
    y[3 * n + j] = 1.0;
    y[4 * n + j] = 3 * exp(-0.7 * x[j]) + 0.5 + 0.01 * nrand();
  }
  const double p0[5 * 3] = {3, 0.7, 0.5, 0, 1, 2, 300, 40, -50, 1, -100, 0, 3, 0.7, 0.5};
  const int expect[5] = {-1, FITCL_CURVEFIT_SINGULAR,
                         FITCL_CURVEFIT_MAX_ITER, FITCL_CURVEFIT_NONFINITE, -1};
  FOR_BACKENDS {
    fitcl_context *ctx = fitcl_test_context(be_[bi_].selector);
    fitcl_model *m = compile(ctx, "a*exp(-b*x)+c", "a b c", "x");
    for (int layout = 0; layout < nlayouts(be_[bi_].name); ++layout) {
      fitcl_batch_data d = {0};
      d.nfits = N;
      d.npoints = n;
      d.y = (fitcl_batch_array){y, n, 1};
      d.x[0] = (fitcl_batch_array){x, 0, 1};
      d.p0 = p0;
      d.p0_fit_stride = np;
      fitcl_batch_options o = {0};
      o.max_iter = 3;
      o.layout = layout;
      batch_out b;
      out_alloc(&b, N, np);
      fitcl_batch_summary sum;
      cr_assert_eq(fitcl_fit_batch(ctx, m, &d, &o, &b.o, &sum), FITCL_OK, "%s", fitcl_errmsg(ctx));
      for (size_t i = 0; i < N; ++i) {
        if (expect[i] < 0)
          cr_expect(converged(b.status[i]), "[%s l%d] fit %zu: %s", be_[bi_].name, layout, i,
                    fitcl_curvefit_status_name((fitcl_curvefit_status)b.status[i]));
        else
          cr_expect_eq(b.status[i], expect[i], "[%s l%d] fit %zu: %s, expected %s", be_[bi_].name,
                       layout, i, fitcl_curvefit_status_name((fitcl_curvefit_status)b.status[i]),
                       fitcl_curvefit_status_name((fitcl_curvefit_status)expect[i]));
      }
      cr_expect_eq(b.iter[2], 3);
      cr_expect(isinf(b.se[1 * np + 1]), "singular: stderr %g", b.se[1 * np + 1]);
      cr_expect(isnan(b.se[3 * np]), "nonfinite: stderr %g", b.se[3 * np]);
      cr_expect_eq(b.p[3 * np + 1], -100.0, "nonfinite: parameters stay at the start");
      cr_expect_eq(sum.converged, 2);
      cr_expect_eq(sum.singular, 1);
      cr_expect_eq(sum.max_iter, 1);
      cr_expect_eq(sum.nonfinite, 1);
      cr_expect_str_eq(sum.backend, strcmp(be_[bi_].name, "cpu") ? "opencl" : "cpu");
      out_free(&b);
    }
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
}

/* N = 1 equals the same fit inside a batch of 300 different fits, and a
 * batch gives the same bits run after run and for any thread count. */
Test(batch, one_fit_and_determinism) {
  const size_t N = 300, n = 20, np = 3;
  double x[20], *y = malloc(N * n * sizeof *y);
  rng_state = 8;
  for (size_t j = 0; j < n; ++j) x[j] = 0.5 * (double)j;
  for (size_t i = 0; i < N; ++i)
    for (size_t j = 0; j < n; ++j)
      y[i * n + j] = (1 + urand()) * exp(-(0.2 + 0.3 * urand()) * x[j]) + 0.1 + 0.01 * nrand();
  const double p0[3] = {1.5, 0.3, 0.1};
  FOR_BACKENDS {
    double *ref = NULL;
    for (int threads = 1; threads <= 2; ++threads) {
      fitcl_context_options co = {0};
      co.device = be_[bi_].selector;
      co.threads = threads;
      fitcl_context *ctx = NULL;
      cr_assert_eq(fitcl_context_create(&co, &ctx), FITCL_OK);
      fitcl_model *m = compile(ctx, "a*exp(-b*x)+c", "a b c", "x");
      fitcl_batch_data d = {0};
      d.nfits = N;
      d.npoints = n;
      d.y = (fitcl_batch_array){y, n, 1};
      d.x[0] = (fitcl_batch_array){x, 0, 1};
      d.p0 = p0;
      batch_out b;
      out_alloc(&b, N, np);
      cr_assert_eq(fitcl_fit_batch(ctx, m, &d, NULL, &b.o, NULL), FITCL_OK);
      if (!ref) {
        ref = malloc(N * np * sizeof *ref);
        memcpy(ref, b.p, N * np * sizeof *ref);
      } else {
        cr_expect_eq(memcmp(ref, b.p, N * np * sizeof *ref), 0,
                     "[%s] results differ between 1 and 2 threads", be_[bi_].name);
      }
      for (size_t i = 0; i < N; i += 37) {
        batch_out one;
        out_alloc(&one, 1, np);
        fitcl_batch_data d1 = d;
        d1.nfits = 1;
        d1.y.data = y + i * n;
        cr_assert_eq(fitcl_fit_batch(ctx, m, &d1, NULL, &one.o, NULL), FITCL_OK);
        for (size_t k = 0; k < np; ++k)
          cr_expect(near(one.p[k], b.p[i * np + k], 1e-12, 0),
                    "[%s] fit %zu alone %.17g, in the batch %.17g", be_[bi_].name, i, one.p[k],
                    b.p[i * np + k]);
        cr_expect_eq(one.status[0], b.status[i]);
        out_free(&one);
      }
      out_free(&b);
      fitcl_model_destroy(m);
      fitcl_context_destroy(ctx);
    }
    free(ref);
  }
  free(y);
}

/* A million fits of a two-parameter decay on 8 points, in slices with
 * progress reports: every fit converges near its truth. */
static void count_progress(void *user, size_t done, size_t total, double elapsed) {
  (void)elapsed;
  size_t *calls = user;
  cr_expect_leq(done, total);
  ++*calls;
}
Test(batch, a_million_fits, .timeout = 600) {
  const size_t N = 1000000, n = 8, np = 2;
  double x[8], *y = malloc(N * n * sizeof *y), *truth = malloc(N * sizeof *truth);
  cr_assert(y && truth);
  rng_state = 1;
  for (size_t j = 0; j < n; ++j) x[j] = 0.25 * (double)j;
  for (size_t i = 0; i < N; ++i) {
    truth[i] = 0.5 + urand();
    for (size_t j = 0; j < n; ++j) y[i * n + j] = 2 * exp(-truth[i] * x[j]) * (1 + 1e-3 * nrand());
  }
  const double p0[2] = {1.5, 1.0};
  FOR_BACKENDS {
    fitcl_context *ctx = fitcl_test_context(be_[bi_].selector);
    fitcl_model *m = compile(ctx, "a*exp(-b*x)", "a b", "x");
    fitcl_batch_data d = {0};
    d.nfits = N;
    d.npoints = n;
    d.y = (fitcl_batch_array){y, n, 1};
    d.x[0] = (fitcl_batch_array){x, 0, 1};
    d.p0 = p0;
    size_t calls = 0;
    fitcl_batch_options o = {0};
    o.progress = count_progress;
    o.progress_user = &calls;
    double *p = malloc(N * np * sizeof *p);
    int *status = malloc(N * sizeof *status);
    fitcl_batch_outputs out = {p, NULL, NULL, NULL, NULL, status};
    fitcl_batch_summary sum;
    cr_assert_eq(fitcl_fit_batch(ctx, m, &d, &o, &out, &sum), FITCL_OK, "%s", fitcl_errmsg(ctx));
    cr_expect_eq(sum.converged, N, "[%s] %zu of %zu converged", be_[bi_].name, sum.converged, N);
    cr_expect_geq(calls, 2, "progress reported %zu times", calls);
    size_t far = 0;
    for (size_t i = 0; i < N; ++i) far += fabs(p[i * np + 1] - truth[i]) > 0.01;
    cr_expect_eq(far, 0, "[%s] %zu fits far from their truth", be_[bi_].name, far);
    cr_log_info("[%s] 1e6 fits: %.2f s, %.1f steps per fit, %llu launches", be_[bi_].name,
                sum.seconds, (double)sum.iterations / (double)N, (unsigned long long)sum.launches);
    free(p);
    free(status);
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
  free(y);
  free(truth);
}

/* Bad arguments and data: one clear error naming what and where. */
Test(batch, bad_input_is_named) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  fitcl_model *m = compile(ctx, "a*exp(-b*x)", "a b", "x");
  double x[4] = {0, 1, 2, 3}, y[8] = {1, 0.5, 0.25, 0.125, 1, 0.5, NAN, 0.1}, p[4];
  double sg[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  const double p0[2] = {1, 1};
  fitcl_batch_data d = {0};
  d.nfits = 2;
  d.npoints = 4;
  d.y = (fitcl_batch_array){y, 4, 1};
  d.x[0] = (fitcl_batch_array){x, 0, 1};
  d.p0 = p0;
  fitcl_batch_outputs out = {p, NULL, NULL, NULL, NULL, NULL};
  cr_expect_eq(fitcl_fit_batch(ctx, m, &d, NULL, &out, NULL), FITCL_ERR_DATA);
  cr_expect(strstr(fitcl_errmsg(ctx), "fit 1, point 2"), "%s", fitcl_errmsg(ctx));
  y[6] = 0.2;
  sg[5] = -1;
  d.sigma = (fitcl_batch_array){sg, 4, 1};
  cr_expect_eq(fitcl_fit_batch(ctx, m, &d, NULL, &out, NULL), FITCL_ERR_DATA);
  cr_expect(strstr(fitcl_errmsg(ctx), "sigma of fit 1, point 1"), "%s", fitcl_errmsg(ctx));
  sg[5] = 1;
  fitcl_batch_options o = {0};
  o.estimator = FITCL_ESTIMATOR_POISSON;
  cr_expect_eq(fitcl_fit_batch(ctx, m, &d, &o, &out, NULL), FITCL_ERR_ARG);
  d.sigma.data = NULL;
  const double lo[2] = {2, 0};
  o.estimator = FITCL_ESTIMATOR_LSE;
  o.lower = lo;
  cr_expect_eq(fitcl_fit_batch(ctx, m, &d, &o, &out, NULL), FITCL_ERR_RANGE);
  cr_expect(strstr(fitcl_errmsg(ctx), "starting value a=1"), "%s", fitcl_errmsg(ctx));
  d.npoints = 2;
  d.y.fit_stride = 2;
  cr_expect_eq(fitcl_fit_batch(ctx, m, &d, NULL, &out, NULL), FITCL_ERR_SIZE);
  d.npoints = 4;
  d.x[0].data = NULL;
  cr_expect_eq(fitcl_fit_batch(ctx, m, &d, NULL, &out, NULL), FITCL_ERR_NULL);
  cr_expect(strstr(fitcl_errmsg(ctx), "variable x"), "%s", fitcl_errmsg(ctx));
  fitcl_model_destroy(m);
  fitcl_context_destroy(ctx);
}
