/* General k-state transition matrices on both backends: against the 2-state
 * closed form, a long-double Taylor reference (scaling and squaring), and
 * the Markov properties; eigen and Pade paths against each other. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "test_util.h"

/* exp(Q t) in long double: Taylor series of exp(Q t / 2^s), squared s times. */
static void taylor(int k, const double *q, double t, double *out) {
  long double *E = calloc(k * k, sizeof(long double)), *T = calloc(k * k, sizeof(long double));
  long double *N = calloc(k * k, sizeof(long double));
  long double nrm = 0;
  for (int i = 0; i < k; ++i) nrm = fmaxl(nrm, fabsl((long double)q[i * k + i] * t) * 2);
  int s = 0;
  while (nrm > 0.05L) { nrm /= 2; s++; }
  long double h = (long double)t / ldexpl(1.0L, s);
  for (int i = 0; i < k; ++i) E[i * k + i] = T[i * k + i] = 1;
  for (int m = 1; m < 30; ++m) {
    for (int i = 0; i < k; ++i)
      for (int j = 0; j < k; ++j) {
        long double a = 0;
        for (int l = 0; l < k; ++l) a += T[i * k + l] * q[l * k + j];
        N[i * k + j] = a * h / m;
      }
    for (int i = 0; i < k * k; ++i) { T[i] = N[i]; E[i] += N[i]; }
  }
  for (int r = 0; r < s; ++r) {
    for (int i = 0; i < k; ++i)
      for (int j = 0; j < k; ++j) {
        long double a = 0;
        for (int l = 0; l < k; ++l) a += E[i * k + l] * E[l * k + j];
        N[i * k + j] = a;
      }
    memcpy(E, N, sizeof(long double) * k * k);
  }
  for (int i = 0; i < k * k; ++i) out[i] = (double)E[i];
  free(E); free(T); free(N);
}

static double urand(uint64_t *s) {
  *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
  return (double)(*s >> 11) / 9007199254740992.0;
}

/* Random reversible (GTR-like) Q: q_ij = s_ij pi_j, s symmetric. */
static void random_reversible(int k, uint64_t *seed, double *q) {
  double pi[64], sum = 0;
  for (int i = 0; i < k; ++i) { pi[i] = 0.2 + urand(seed); sum += pi[i]; }
  for (int i = 0; i < k; ++i) pi[i] /= sum;
  for (int i = 0; i < k; ++i)
    for (int j = i + 1; j < k; ++j) {
      double s = 0.1 + 2 * urand(seed);
      q[i * k + j] = s * pi[j];
      q[j * k + i] = s * pi[i];
    }
  for (int i = 0; i < k; ++i) {
    double r = 0;
    for (int j = 0; j < k; ++j) if (j != i) r += q[i * k + j];
    q[i * k + i] = -r;
  }
}

static void random_general(int k, uint64_t *seed, double *q) {
  for (int i = 0; i < k; ++i) {
    double r = 0;
    for (int j = 0; j < k; ++j) if (j != i) { q[i * k + j] = 0.05 + urand(seed); r += q[i * k + j]; }
    q[i * k + i] = -r;
  }
}

/* Entries agree to tol relative, or 1e-2 * tol absolute for small entries:
 * the eigen path forms small entries as differences of O(1) terms, so its
 * error is absolute (about 1e-14 at k = 20), not relative. */
static void check_against(const char *what, int k, const double *q, size_t n, const double *t,
                          const double *P, double tol) {
  double *R = malloc(sizeof(double) * k * k);
  for (size_t i = 0; i < n; ++i) {
    taylor(k, q, t[i], R);
    for (int r = 0; r < k; ++r) {
      double row = 0;
      for (int c = 0; c < k; ++c) {
        double got = P[i * k * k + r * k + c], ref = R[r * k + c];
        row += got;
        cr_expect(fabs(got - ref) <= tol * fmax(fabs(ref), 1e-2), "%s k %d t %g P[%d][%d]: %.17g vs %.17g",
                  what, k, t[i], r, c, got, ref);
      }
      cr_expect(fabs(row - 1) < 1e-12, "%s row %d sums to %.17g", what, r, row);
    }
  }
  free(R);
}

static const double ts[] = {0.0, 1e-6, 0.01, 0.3, 1.0, 4.0};
#define NT (sizeof ts / sizeof ts[0])

Test(kstate, two_states_match_closed_form) {
  fitcl_test_backend be[2];
  size_t nb = fitcl_test_backends(be, 2);
  const double g = 0.4, l = 1.3;
  double q[4] = {-g, g, l, -l};
  double t[NT], closed[4 * NT], P[4 * NT];
  double a[NT], b[NT];
  for (size_t i = 0; i < NT; ++i) { t[i] = ts[i]; a[i] = g; b[i] = l; }
  for (size_t k = 0; k < nb; ++k) {
    fitcl_context *ctx = fitcl_test_context(be[k].selector);
    cr_assert_eq(fitcl_gl_pmatrices(ctx, NT, a, b, t, closed, NULL), FITCL_OK);
    for (int m = FITCL_KSTATE_EIGEN; m <= FITCL_KSTATE_PADE; ++m) {
      cr_assert_eq(fitcl_kstate_pmatrices(ctx, 2, q, NT, t, (fitcl_kstate_method)m, P), FITCL_OK, "%s",
                   fitcl_errmsg(ctx));
      for (size_t i = 0; i < 4 * NT; ++i)
        cr_expect(fabs(P[i] - closed[i]) <= 1e-13 * fmax(closed[i], 1e-3), "%s method %d entry %zu: %.17g vs %.17g",
                  be[k].name, m, i, P[i], closed[i]);
    }
    fitcl_context_destroy(ctx);
  }
}

Test(kstate, reversible_and_general_match_taylor) {
  fitcl_test_backend be[2];
  size_t nb = fitcl_test_backends(be, 2);
  uint64_t seed = 2024;
  int ks[] = {3, 4, 7, 20};
  for (size_t kb = 0; kb < nb; ++kb) {
    fitcl_context *ctx = fitcl_test_context(be[kb].selector);
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ++ki) {
      int k = ks[ki];
      double *q = calloc(k * k, sizeof(double)), *P = malloc(sizeof(double) * k * k * NT);
      random_reversible(k, &seed, q);
      cr_assert_eq(fitcl_kstate_pmatrices(ctx, k, q, NT, ts, FITCL_KSTATE_EIGEN, P), FITCL_OK, "%s",
                   fitcl_errmsg(ctx));
      check_against("eigen", k, q, NT, ts, P, 1e-11);
      cr_assert_eq(fitcl_kstate_pmatrices(ctx, k, q, NT, ts, FITCL_KSTATE_PADE, P), FITCL_OK);
      check_against("pade", k, q, NT, ts, P, 1e-11);
      random_general(k, &seed, q);
      cr_expect_eq(fitcl_kstate_pmatrices(ctx, k, q, NT, ts, FITCL_KSTATE_EIGEN, P), FITCL_ERR_ARG);
      cr_assert_eq(fitcl_kstate_pmatrices(ctx, k, q, NT, ts, FITCL_KSTATE_AUTO, P), FITCL_OK);
      check_against("auto/general", k, q, NT, ts, P, 1e-11);
      free(q);
      free(P);
    }
    fitcl_context_destroy(ctx);
  }
}

Test(kstate, sixty_four_states_chapman_kolmogorov) {
  fitcl_test_backend be[2];
  size_t nb = fitcl_test_backends(be, 2);
  uint64_t seed = 7;
  const int k = 64;
  double *q = calloc(k * k, sizeof(double)), *P = malloc(sizeof(double) * k * k * 3);
  random_reversible(k, &seed, q);
  const double t[3] = {0.2, 0.5, 0.7};
  for (size_t kb = 0; kb < nb; ++kb) {
    fitcl_context *ctx = fitcl_test_context(be[kb].selector);
    cr_assert_eq(fitcl_kstate_pmatrices(ctx, k, q, 3, t, FITCL_KSTATE_AUTO, P), FITCL_OK);
    double worst = 0;
    for (int i = 0; i < k; ++i)
      for (int j = 0; j < k; ++j) {
        double s = 0;
        for (int m = 0; m < k; ++m) s += P[i * k + m] * P[k * k + m * k + j];
        worst = fmax(worst, fabs(s - P[2 * k * k + i * k + j]));
      }
    cr_expect(worst < 1e-13, "%s: P(0.2) P(0.5) vs P(0.7): %g", be[kb].name, worst);
    fitcl_context_destroy(ctx);
  }
  free(q);
  free(P);
}

Test(kstate, rejects_bad_input) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  double q[4] = {-1, 1, 1, -0.5}, t = 1, P[4];
  cr_expect_eq(fitcl_kstate_pmatrices(ctx, 2, q, 1, &t, FITCL_KSTATE_AUTO, P), FITCL_ERR_RANGE);
  double q2[4] = {-1, 1, 1, -1};
  t = -1;
  cr_expect_eq(fitcl_kstate_pmatrices(ctx, 2, q2, 1, &t, FITCL_KSTATE_AUTO, P), FITCL_ERR_RANGE);
  cr_expect_eq(fitcl_kstate_pmatrices(ctx, 65, q2, 1, &t, FITCL_KSTATE_AUTO, P), FITCL_ERR_RANGE);
  fitcl_context_destroy(ctx);
}
