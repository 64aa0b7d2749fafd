/* Batched 2-state transition matrices (fitcl_gl_pmatrices) on both
 * backends: Markov properties, a long-double Taylor reference, and the
 * derivatives against finite differences. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "fitcl.h"
#include "test_util.h"

/* exp(Q t) in long double: Taylor series of exp(Q t / 2^s) squared s times. */
static void taylor(double a, double b, double t, long double P[2][2]) {
  long double Q[2][2] = {{-a, a}, {b, -b}};
  int s = 0;
  long double nrm = (a + b) * (long double)t;
  while (nrm > 0.125L) { nrm /= 2; s++; }
  long double h = (long double)t / ldexpl(1.0L, s);
  long double E[2][2] = {{1, 0}, {0, 1}}, T[2][2] = {{1, 0}, {0, 1}};
  for (int k = 1; k < 40; ++k) {
    long double N[2][2];
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) N[i][j] = (T[i][0] * Q[0][j] + T[i][1] * Q[1][j]) * h / k;
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) { T[i][j] = N[i][j]; E[i][j] += N[i][j]; }
  }
  for (int r = 0; r < s; ++r) {
    long double N[2][2];
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) N[i][j] = E[i][0] * E[0][j] + E[i][1] * E[1][j];
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) E[i][j] = N[i][j];
  }
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) P[i][j] = E[i][j];
}

#define N 2000

static void inputs(double *a, double *b, double *t) {
  uint64_t s = 88172645463325252ULL;
  for (int i = 0; i < N; ++i) {
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    double u1 = (double)(s >> 11) / 9007199254740992.0;
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    double u2 = (double)(s >> 11) / 9007199254740992.0;
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    double u3 = (double)(s >> 11) / 9007199254740992.0;
    a[i] = exp(-6 + 8 * u1);       /* 2.5e-3 .. 20 */
    b[i] = exp(-6 + 8 * u2);
    t[i] = exp(-14 + 16 * u3);     /* 8e-7 .. 7: covers both series branches */
  }
  t[0] = 0.0;
}

Test(pmatrix, properties_and_taylor) {
  fitcl_test_backend be[2];
  size_t nb = fitcl_test_backends(be, 2);
  double *a = malloc(sizeof(double) * N), *b = malloc(sizeof(double) * N), *t = malloc(sizeof(double) * N);
  double *p = malloc(sizeof(double) * 4 * N), *d = malloc(sizeof(double) * 6 * N);
  inputs(a, b, t);
  for (size_t k = 0; k < nb; ++k) {
    fitcl_context *ctx = fitcl_test_context(be[k].selector);
    cr_assert_eq(fitcl_gl_pmatrices(ctx, N, a, b, t, p, d), FITCL_OK, "%s", fitcl_errmsg(ctx));
    double worst = 0;
    for (int i = 0; i < N; ++i) {
      const double *P = p + 4 * i;
      cr_expect(fabs(P[0] + P[1] - 1) < 1e-15 && fabs(P[2] + P[3] - 1) < 1e-15, "%s rows %d", be[k].name, i);
      long double R[2][2];
      taylor(a[i], b[i], t[i], R);
      for (int q = 0; q < 4; ++q) {
        double ref = (double)R[q / 2][q % 2];
        double rel = fabs(P[q] - ref) / fabs(ref);
        if (ref != 0 && rel > worst) worst = rel;
        cr_expect(ref == 0 ? P[q] == 0 : rel < 1e-13, "%s i %d entry %d: %.17g vs taylor %.17g (a %g b %g t %g)",
                  be[k].name, i, q, P[q], ref, a[i], b[i], t[i]);
      }
    }
    /* P(0) = I exactly. */
    cr_expect(p[0] == 1 && p[1] == 0 && p[2] == 0 && p[3] == 1);
    fitcl_context_destroy(ctx);
  }
  free(a); free(b); free(t); free(p); free(d);
}

Test(pmatrix, chapman_kolmogorov_and_stationary_limit) {
  fitcl_test_backend be[2];
  size_t nb = fitcl_test_backends(be, 2);
  for (size_t k = 0; k < nb; ++k) {
    fitcl_context *ctx = fitcl_test_context(be[k].selector);
    const double g = 0.37, l = 1.9;
    double a[4] = {g, g, g, g}, b[4] = {l, l, l, l}, t[4] = {0.3, 1.1, 1.4, 1e4}, p[16];
    cr_assert_eq(fitcl_gl_pmatrices(ctx, 4, a, b, t, p, NULL), FITCL_OK);
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) {
        double prod = p[i * 2 + 0] * p[4 + 0 * 2 + j] + p[i * 2 + 1] * p[4 + 1 * 2 + j];
        cr_expect(fabs(prod - p[8 + i * 2 + j]) < 1e-15, "%s CK %d%d", be[k].name, i, j);
      }
    const double pi1 = g / (g + l);
    for (int i = 0; i < 2; ++i) {
      cr_expect(fitcl_test_close(p[12 + i * 2 + 1], pi1, 1e-15), "%s stationary row %d", be[k].name, i);
      cr_expect(fitcl_test_close(p[12 + i * 2 + 0], 1 - pi1, 1e-15));
    }
    fitcl_context_destroy(ctx);
  }
}

Test(pmatrix, derivatives_vs_finite_differences) {
  fitcl_test_backend be[2];
  size_t nb = fitcl_test_backends(be, 2);
  double a[N], b[N], t[N];
  inputs(a, b, t);
  double *p = malloc(sizeof(double) * 4 * N), *d = malloc(sizeof(double) * 6 * N);
  for (size_t k = 0; k < nb; ++k) {
    fitcl_context *ctx = fitcl_test_context(be[k].selector);
    cr_assert_eq(fitcl_gl_pmatrices(ctx, N, a, b, t, p, d), FITCL_OK);
    for (int i = 1; i < N; i += 7) {
      /* Central differences of the long-double reference in log a, log b, t. */
      const double h = 1e-5;
      long double Rp[2][2], Rm[2][2];
      /* d/dt from Kolmogorov's forward equation dP/dt = P Q, in long double. */
      long double R[2][2];
      taylor(a[i], b[i], t[i], R);
      long double q01 = R[0][0] * a[i] - R[0][1] * b[i], q10 = R[1][1] * b[i] - R[1][0] * a[i];
      double e01 = d[6 * i + 4], e10 = d[6 * i + 5];
      double tol = 1e-17 * (a[i] + b[i]);
      cr_expect(fabs(e01 - (double)q01) <= 1e-12 * fabs((double)q01) + tol &&
                fabs(e10 - (double)q10) <= 1e-12 * fabs((double)q10) + tol,
                "%s i %d d/dt: %.17g %.17g vs PQ %.17g %.17g", be[k].name, i, e01, e10, (double)q01, (double)q10);
      for (int which = 0; which < 2; ++which) {
        double ap = a[i], bp = b[i], tp = t[i], am = a[i], bm = b[i], tm = t[i];
        if (which == 0) { ap = a[i] * exp(h); am = a[i] * exp(-h); }
        if (which == 1) { bp = b[i] * exp(h); bm = b[i] * exp(-h); }
        taylor(ap, bp, tp, Rp);
        taylor(am, bm, tm, Rm);
        (void)tp; (void)tm;
        double den = 2 * h;
        double f01 = (double)((Rp[0][1] - Rm[0][1]) / den), f10 = (double)((Rp[1][0] - Rm[1][0]) / den);
        double g01 = d[6 * i + 2 * which], g10 = d[6 * i + 2 * which + 1];
        double sc = fabs(f01) + fabs(f10) + 1e-300;
        cr_expect(fabs(g01 - f01) <= 1e-7 * sc + 1e-14 && fabs(g10 - f10) <= 1e-7 * sc + 1e-14,
                  "%s i %d d%d: %.12g %.12g vs fd %.12g %.12g", be[k].name, i, which, g01, g10, f01, f10);
      }
    }
    fitcl_context_destroy(ctx);
  }
  free(p); free(d);
}

Test(pmatrix, rejects_bad_input) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  double a = 1, b = 1, t = -1, p[4];
  cr_expect_eq(fitcl_gl_pmatrices(ctx, 1, &a, &b, &t, p, NULL), FITCL_ERR_RANGE);
  t = NAN;
  cr_expect_eq(fitcl_gl_pmatrices(ctx, 1, &a, &b, &t, p, NULL), FITCL_ERR_RANGE);
  a = 0; b = 0; t = 1;
  cr_expect_eq(fitcl_gl_pmatrices(ctx, 1, &a, &b, &t, p, NULL), FITCL_ERR_RANGE);
  fitcl_context_destroy(ctx);
}
