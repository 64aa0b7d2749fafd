/* Small dense linear algebra for the Levenberg-Marquardt solver: the damped
 * normal-equation solve and the covariance inverse.  The matrices are at most
 * FITCL_NLSQ_MAX_PARAMS wide, so LAPACKE on the host is the right tool: the
 * expensive part of a fit is the pass over the data, never this. */
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "common/accum_qr.h"
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

/* ---- the QR form ------------------------------------------------------- */

void fitcl__lm_qr_subset(const double *T, int m, const int *cols, int nc, double *out) {
  const int mo = nc + 1;
  double v[NMAX + 1];
  memset(out, 0, sizeof(double) * (size_t)FITCL_QR_TRI(mo));
  for (int k = 0; k < m; ++k) {
    /* Row k of T restricted to the columns, then the residual column. */
    int any = 0;
    for (int a = 0; a < nc; ++a) {
      v[a] = cols[a] >= k ? T[FITCL_QR_AT(m, k, cols[a])] : 0.0;
      any |= v[a] != 0.0;
    }
    v[nc] = T[FITCL_QR_AT(m, k, m - 1)];
    if (any || v[nc] != 0.0) fitcl_qr_add_row(out, mo, v, 0);
  }
}

/* Back substitution R x = z on the leading n columns of a packed triangle
 * of n + 1 columns; -1 when a diagonal entry is negligible. */
static int back_substitute(int n, const double *U, double *x) {
  const int m = n + 1;
  double dmax = 0;
  for (int k = 0; k < n; ++k) dmax = fmax(dmax, fabs(U[FITCL_QR_AT(m, k, k)]));
  if (!(dmax > 0)) return -1;
  for (int k = n - 1; k >= 0; --k) {
    double d = U[FITCL_QR_AT(m, k, k)];
    if (!(fabs(d) > (double)n * DBL_EPSILON * dmax)) return -1;
    double s = U[FITCL_QR_AT(m, k, n)];
    for (int l = k + 1; l < n; ++l) s -= U[FITCL_QR_AT(m, k, l)] * x[l];
    x[k] = s / d;
  }
  for (int k = 0; k < n; ++k)
    if (!isfinite(x[k])) return -1;
  return 0;
}

int fitcl__lm_qr_solve(int n, const double *Tz, const double *d2, double lambda, double *x) {
  /* MINPACK's qrsolv idea: the damping rows sqrt(lambda) d_j e_j (with a
   * zero right-hand side) are rotated into a copy of [R | z]. */
  const int m = n + 1;
  double U[FITCL_QR_TRI(NMAX + 1)], v[NMAX + 1];
  memcpy(U, Tz, sizeof(double) * (size_t)FITCL_QR_TRI(m));
  if (lambda > 0)
    for (int j = 0; j < n; ++j) {
      memset(v, 0, sizeof(double) * (size_t)m);
      v[j] = sqrt(lambda * d2[j]);
      fitcl_qr_add_row(U, m, v, j);
    }
  return back_substitute(n, U, x);
}

int fitcl__lm_qr_inverse(int n, const double *Tz, double *inv, double *cond) {
  const int m = n + 1;
  double R[NMAX * NMAX], s[NMAX], sv[NMAX], superb[NMAX];
  double work[NMAX * NMAX];
  int singular = 0;
  *cond = INFINITY;
  /* Column scaling to unit norm: the condition number and the accuracy of
   * the inverse do not depend on the parameters' units. */
  for (int j = 0; j < n; ++j) {
    double c = 0;
    for (int k = 0; k <= j; ++k) c += Tz[FITCL_QR_AT(m, k, j)] * Tz[FITCL_QR_AT(m, k, j)];
    c = sqrt(c);
    if (!(c > 0) || !isfinite(c)) singular = 1;
    s[j] = c > 0 ? 1.0 / c : 0.0;
  }
  for (int k = 0; k < n; ++k)
    for (int j = 0; j < n; ++j) R[k * n + j] = j >= k ? Tz[FITCL_QR_AT(m, k, j)] * s[j] : 0.0;
  if (!singular) {
    memcpy(work, R, sizeof(double) * (size_t)n * (size_t)n);
    if (LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'N', n, n, work, n, sv, NULL, 1, NULL, 1, superb) ==
            0 &&
        sv[n - 1] > 0) {
      double c = sv[0] / sv[n - 1];
      *cond = c * c;
      if (c * (double)n * DBL_EPSILON > 1.0) singular = 1;
    } else {
      singular = 1;
    }
  }
  if (!singular && LAPACKE_dtrtri(LAPACK_ROW_MAJOR, 'U', 'N', n, R, n) != 0) singular = 1;
  if (singular) {
    for (int i = 0; i < n * n; ++i) inv[i] = INFINITY;
    *cond = INFINITY;
    return 1;
  }
  /* (RᵀR)⁻¹ = R⁻¹R⁻ᵀ, then the scaling undone. */
  for (int i = 0; i < n; ++i)
    for (int j = i; j < n; ++j) {
      double a = 0;
      for (int k = j; k < n; ++k) a += R[i * n + k] * R[j * n + k];
      a *= s[i] * s[j];
      inv[i * n + j] = a;
      inv[j * n + i] = a;
    }
  return 0;
}

double fitcl__lm_scaled_cond(int n, const double *A) {
  double a[NMAX * NMAX], w[NMAX], z[1], sc[NMAX];
  lapack_int isuppz[2 * NMAX], m = 0;
  for (int i = 0; i < n; ++i) {
    double d = A[i * n + i];
    if (!(d > 0) || !isfinite(d)) return INFINITY;
    sc[i] = 1.0 / sqrt(d);
  }
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) a[i * n + j] = A[i * n + j] * sc[i] * sc[j];
  if (LAPACKE_dsyevr(LAPACK_ROW_MAJOR, 'N', 'A', 'U', n, a, n, 0, 0, 0, 0, 0.0, &m, w, z, 1,
                     isuppz) != 0 || m != n || !(w[0] > 0))
    return INFINITY;
  return w[n - 1] / w[0];
}
