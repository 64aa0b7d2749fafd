/* Small dense linear algebra for the Levenberg-Marquardt solver: the damped
 * normal-equation solve and the covariance inverse.  The matrices are at most
 * FITCL_NLSQ_MAX_PARAMS wide, so LAPACKE on the host is the right tool: the
 * expensive part of a fit is the pass over the data, never this. */
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "nlsq/lm.h"

#define NMAX FITCL_NLSQ_MAX_PARAMS

/* Pseudo-inverse solve from the eigendecomposition of the symmetric M.
 * Eigenvalues below n*eps*max|eigenvalue| (and all non-positive ones) carry
 * no usable direction and are dropped; that is the regularisation used when
 * the damped matrix is singular or indefinite by rounding. */
static int pinv_solve(int n, const double *M, const double *b, double *x) {
  double a[NMAX * NMAX], w[NMAX], z[NMAX * NMAX];
  lapack_int isuppz[2 * NMAX], m = 0;
  memcpy(a, M, sizeof(double) * (size_t)n * (size_t)n);
  if (LAPACKE_dsyevr(LAPACK_ROW_MAJOR, 'V', 'A', 'U', n, a, n, 0, 0, 0, 0, 0.0, &m, w, z, n,
                     isuppz) != 0)
    return -2;
  double wmax = 0;
  for (int i = 0; i < m; ++i) wmax = fmax(wmax, fabs(w[i]));
  double cut = (double)n * DBL_EPSILON * wmax;
  int kept = 0;
  memset(x, 0, sizeof(double) * (size_t)n);
  for (int k = 0; k < m; ++k) {
    if (!(w[k] > cut)) continue;
    double c = 0;
    for (int i = 0; i < n; ++i) c += z[i * n + k] * b[i];
    c /= w[k];
    for (int i = 0; i < n; ++i) x[i] += c * z[i * n + k];
    ++kept;
  }
  return kept ? 0 : -1;
}

int fitcl__lm_solve_damped(int n, const double *A, const double *d2, double lambda,
                           const double *b, double *x, int *used_pinv) {
  double a[NMAX * NMAX];
  memcpy(a, A, sizeof(double) * (size_t)n * (size_t)n);
  for (int i = 0; i < n; ++i) a[i * n + i] += lambda * d2[i];
  if (used_pinv) *used_pinv = 0;
  double l[NMAX * NMAX];
  memcpy(l, a, sizeof l);
  if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', n, l, n) == 0) {
    memcpy(x, b, sizeof(double) * (size_t)n);
    if (LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'U', n, 1, l, n, x, 1) == 0) {
      int finite = 1;
      for (int i = 0; i < n; ++i) finite &= isfinite(x[i]) != 0;
      if (finite) return 0;
    }
  }
  if (used_pinv) *used_pinv = 1;
  return pinv_solve(n, a, b, x);
}

int fitcl__lm_inverse(int n, const double *A, double *inv, double *cond) {
  double s[NMAX], a[NMAX * NMAX], w[NMAX], z[NMAX * NMAX];
  lapack_int isuppz[2 * NMAX], m = 0;
  int singular = 0;
  /* Scaling to a unit diagonal makes the condition number (and the
   * accuracy of the inverse) independent of the parameters' units. */
  for (int i = 0; i < n; ++i) {
    double dii = A[i * n + i];
    if (!(dii > 0) || !isfinite(dii)) singular = 1;
    s[i] = dii > 0 ? 1.0 / sqrt(dii) : 0.0;
  }
  *cond = INFINITY;
  if (!singular) {
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) a[i * n + j] = A[i * n + j] * s[i] * s[j];
    double e[NMAX * NMAX];
    memcpy(e, a, sizeof(double) * (size_t)n * (size_t)n);
    if (LAPACKE_dsyevr(LAPACK_ROW_MAJOR, 'N', 'A', 'U', n, e, n, 0, 0, 0, 0, 0.0, &m, w, z, n,
                       isuppz) == 0 && m == n) {
      double wmin = w[0], wmax = w[n - 1];
      *cond = wmin > 0 ? wmax / wmin : INFINITY;
    }
    if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', n, a, n) != 0 ||
        LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'U', n, a, n) != 0)
      singular = 1;
  }
  /* A condition number beyond 1/(n*eps) means the smallest eigenvalue is
   * rounding noise: the inverse would be noise too. */
  if (singular || !isfinite(*cond) || *cond * (double)n * DBL_EPSILON > 1.0) {
    for (int i = 0; i < n * n; ++i) inv[i] = INFINITY;
    *cond = INFINITY;
    return 1;
  }
  /* dpotri fills the upper triangle only; mirror it and undo the scaling. */
  for (int i = 0; i < n; ++i)
    for (int j = i; j < n; ++j) {
      double v = a[i * n + j] * s[i] * s[j];
      inv[i * n + j] = v;
      inv[j * n + i] = v;
    }
  return 0;
}
