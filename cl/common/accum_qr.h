/* The streaming QR factor of the weighted Jacobian, shared by the OpenCL
 * kernels and the pthreads path.
 *
 * A QR pass keeps, instead of JᵀJ and Jᵀr, the upper-triangular factor
 * T (m = np + 1 columns) of the augmented matrix [G | rt] (the rows the
 * normal-equation pass would multiply: G = sqrt(w) J / sigma, rt the
 * residual that multiplies it), so that TᵀT = [GᵀG, Gᵀrt; ., rtᵀrt].  Its
 * leading np x np block is R of J = QR, its last column above the diagonal
 * is z = Qᵀr and its last diagonal entry the norm of the residual left
 * outside the range of J.  The Gauss-Newton step and the covariance come
 * from R by triangular solves, which lose digits as cond(J), not as
 * cond(JᵀJ) = cond(J)² like the normal equations.
 *
 * Rows enter by Givens rotations, one row at a time, in a fixed order, so
 * the result is a deterministic function of the order of the rows; two
 * factors merge by feeding the rows of one into the other (a merge costs
 * m rows).  The work per point is O(m²), as for the normal-equation sums.
 *
 * T is stored packed, row-major upper: entry (k, l), l >= k, at
 * FITCL_QR_AT(m, k, l).  A partial vector of a QR pass is T followed by
 * Σrho and Σr²: FITCL_ACCUM_NQR(np) values. */
#ifndef FITCL_CL_COMMON_ACCUM_QR_H
#define FITCL_CL_COMMON_ACCUM_QR_H
#include "common/compat.h"

#define FITCL_QR_TRI(m) ((m) * ((m) + 1) / 2)
#define FITCL_QR_AT(m, k, l) ((k) * (2 * (m) - (k) + 1) / 2 + ((l) - (k)))
#define FITCL_ACCUM_NQR(np) (FITCL_QR_TRI((np) + 1) + 2)

/* Where a² + b² may underflow or overflow: the square root of the
 * smallest and largest normal numbers, for double or float. */
#ifdef FITCL_REAL_IS_FLOAT
#define FITCL_QR_TINY 1e-18f
#define FITCL_QR_HUGE 1e18f
#else
#define FITCL_QR_TINY 1e-150
#define FITCL_QR_HUGE 1e150
#endif

/* sqrt(a² + b²) without overflow for any finite a, b. */
FITCL_FN fitcl_real fitcl_qr_hypot(fitcl_real a, fitcl_real b) {
  fitcl_real h = sqrt(a * a + b * b);
  if (h < FITCL_QR_TINY || h > FITCL_QR_HUGE) {
    fitcl_real s = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    if (s == 0.0) return 0.0;
    fitcl_real u = a / s, v = b / s;
    h = s * sqrt(u * u + v * v);
  }
  return h;
}

/* Rotates row v (m values, entries before k0 zero; v is destroyed) into
 * the packed triangle T: fitcl_qr_add_row for a triangle in private
 * memory, fitcl_qr_add_row_g for one in global memory (the combine
 * kernel).  OpenCL 1.2 has no generic address space, so the one body is
 * stamped out for each (in C the two are the same function). */
#define FITCL_QR_DEFINE_ADD_ROW(NAME, SPACE)                                   \
  FITCL_FN void NAME(SPACE fitcl_real *T, int m, fitcl_real *v, int k0) {      \
    for (int k = k0; k < m; ++k) {                                             \
      fitcl_real b = v[k];                                                     \
      if (b == 0.0) continue;                                                  \
      int d = FITCL_QR_AT(m, k, k);                                            \
      fitcl_real a = T[d];                                                     \
      fitcl_real h = fitcl_qr_hypot(a, b);                                     \
      fitcl_real c = a / h, s = b / h;                                         \
      T[d] = h;                                                                \
      for (int l = k + 1; l < m; ++l) {                                        \
        fitcl_real t = T[d + (l - k)], u = v[l];                               \
        T[d + (l - k)] = c * t + s * u;                                        \
        v[l] = c * u - s * t;                                                  \
      }                                                                        \
    }                                                                          \
  }
FITCL_QR_DEFINE_ADD_ROW(fitcl_qr_add_row, )
FITCL_QR_DEFINE_ADD_ROW(fitcl_qr_add_row_g, FITCL_GLOBAL)

#endif
