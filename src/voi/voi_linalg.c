/* Cholesky, triangular solves and Jacobi eigenvalues for the EVPPI
 * regressions: small dense problems (p <= 256), solved once per analysis. */
#include "voi/voi_linalg.h"

#include <math.h>
#include <string.h>

int fitcl__voi_cholesky(double *a, int p) {
  for (int j = 0; j < p; ++j) {
    double d = a[j * p + j];
    for (int k = 0; k < j; ++k) d -= a[k * p + j] * a[k * p + j];
    if (!(d > 0)) return -1;
    const double r = sqrt(d);
    a[j * p + j] = r;
    for (int i = j + 1; i < p; ++i) {
      double s = a[j * p + i];
      for (int k = 0; k < j; ++k) s -= a[k * p + j] * a[k * p + i];
      a[j * p + i] = s / r;
    }
    for (int i = 0; i < j; ++i) a[j * p + i] = 0.0;
  }
  return 0;
}

void fitcl__voi_solve_upper(const double *r, int p, double *x, int cols) {
  for (int i = p - 1; i >= 0; --i)
    for (int c = 0; c < cols; ++c) {
      double s = x[i * cols + c];
      for (int k = i + 1; k < p; ++k) s -= r[i * p + k] * x[k * cols + c];
      x[i * cols + c] = s / r[i * p + i];
    }
}

void fitcl__voi_solve_upper_t(const double *r, int p, double *x, int cols) {
  for (int i = 0; i < p; ++i)
    for (int c = 0; c < cols; ++c) {
      double s = x[i * cols + c];
      for (int k = 0; k < i; ++k) s -= r[k * p + i] * x[k * cols + c];
      x[i * cols + c] = s / r[i * p + i];
    }
}

void fitcl__voi_jacobi(double *a, int p, double *w, double *v) {
  memset(v, 0, (size_t)p * (size_t)p * sizeof *v);
  for (int i = 0; i < p; ++i) v[i * p + i] = 1.0;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0.0, diag = 0.0;
    for (int i = 0; i < p; ++i) {
      diag += a[i * p + i] * a[i * p + i];
      for (int j = i + 1; j < p; ++j) off += a[i * p + j] * a[i * p + j];
    }
    if (off <= 1e-30 * diag || off == 0.0) break;
    for (int i = 0; i < p; ++i)
      for (int j = i + 1; j < p; ++j) {
        const double aij = a[i * p + j];
        if (fabs(aij) <= 1e-300) continue;
        const double theta = (a[j * p + j] - a[i * p + i]) / (2 * aij);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
        const double c = 1 / sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < p; ++k) { /* columns i, j */
          const double aki = a[k * p + i], akj = a[k * p + j];
          a[k * p + i] = c * aki - s * akj;
          a[k * p + j] = s * aki + c * akj;
        }
        for (int k = 0; k < p; ++k) { /* rows i, j */
          const double aik = a[i * p + k], ajk = a[j * p + k];
          a[i * p + k] = c * aik - s * ajk;
          a[j * p + k] = s * aik + c * ajk;
        }
        for (int k = 0; k < p; ++k) {
          const double vki = v[k * p + i], vkj = v[k * p + j];
          v[k * p + i] = c * vki - s * vkj;
          v[k * p + j] = s * vki + c * vkj;
        }
      }
  }
  for (int i = 0; i < p; ++i) w[i] = a[i * p + i];
}
