/* exp(A) for A = Q t by scaling and squaring with the [13/13] Pade
 * approximant (Higham, SIAM J. Matrix Anal. Appl. 26(4), 2005): with
 * s = max(0, ceil(log2(||A||_1 / theta13))), exp(A) = r13(A / 2^s)^(2^s),
 * r13 = (V - U)^-1 (V + U). */
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "kernels/kstate.h"

static void matmul(int k, const double *X, const double *Y, double *Z) {
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < k; ++j) {
      double s = 0;
      for (int m = 0; m < k; ++m) s += X[i * k + m] * Y[m * k + j];
      Z[i * k + j] = s;
    }
}

fitcl_status fitcl__kstate_pade(int k, const double *q, double t, double *out, double *work,
                                int *ipiv) {
  static const double b[14] = {64764752532480000.0, 32382376266240000.0, 7771770303897600.0,
                               1187353796428800.0,  129060195264000.0,   10559470521600.0,
                               670442572800.0,      33522128640.0,       1323241920.0,
                               40840800.0,          960960.0,            16380.0,
                               182.0,               1.0};
  const double theta13 = 5.371920351148152;
  const size_t kk = (size_t)k * k;
  double *A = work, *A2 = work + kk, *A4 = work + 2 * kk, *A6 = work + 3 * kk;
  double *U = work + 4 * kk, *V = work + 5 * kk, *T = work + 6 * kk, *W = work + 7 * kk;
  double norm = 0;
  for (int j = 0; j < k; ++j) {
    double c = 0;
    for (int i = 0; i < k; ++i) c += fabs(q[i * k + j] * t);
    norm = fmax(norm, c);
  }
  int s = 0;
  if (norm > theta13) s = (int)ceil(log2(norm / theta13));
  const double scale = ldexp(t, -s);
  for (size_t i = 0; i < kk; ++i) A[i] = q[i] * scale;
  matmul(k, A, A, A2);
  matmul(k, A2, A2, A4);
  matmul(k, A4, A2, A6);
  /* U = A [A6 (b13 A6 + b11 A4 + b9 A2) + b7 A6 + b5 A4 + b3 A2 + b1 I] */
  for (size_t i = 0; i < kk; ++i) T[i] = b[13] * A6[i] + b[11] * A4[i] + b[9] * A2[i];
  matmul(k, A6, T, W);
  for (size_t i = 0; i < kk; ++i) W[i] += b[7] * A6[i] + b[5] * A4[i] + b[3] * A2[i];
  for (int i = 0; i < k; ++i) W[i * k + i] += b[1];
  matmul(k, A, W, U);
  /* V = A6 (b12 A6 + b10 A4 + b8 A2) + b6 A6 + b4 A4 + b2 A2 + b0 I */
  for (size_t i = 0; i < kk; ++i) T[i] = b[12] * A6[i] + b[10] * A4[i] + b[8] * A2[i];
  matmul(k, A6, T, V);
  for (size_t i = 0; i < kk; ++i) V[i] += b[6] * A6[i] + b[4] * A4[i] + b[2] * A2[i];
  for (int i = 0; i < k; ++i) V[i * k + i] += b[0];
  /* (V - U) X = (V + U) */
  for (size_t i = 0; i < kk; ++i) {
    T[i] = V[i] - U[i];
    out[i] = V[i] + U[i];
  }
  lapack_int piv[FITCL__KSTATE_MAX];
  (void)ipiv;
  if (LAPACKE_dgesv(LAPACK_ROW_MAJOR, k, k, T, k, piv, out, k) != 0) return FITCL_ERR_INTERNAL;
  for (int r = 0; r < s; ++r) {
    matmul(k, out, out, W);
    memcpy(out, W, sizeof(double) * kk);
  }
  return FITCL_OK;
}
