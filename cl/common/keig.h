/* One entry of a k-state transition matrix from its eigensystem,
 * P[r][c] = sum_m A[r][m] exp(lambda_m t) B[m][c], shared by the OpenCL
 * kernel and the pthreads backend.  Round-off below zero is clamped to 0,
 * since the entry is a probability. */
#ifndef FITCL_CL_COMMON_KEIG_H
#define FITCL_CL_COMMON_KEIG_H
#include "common/compat.h"

FITCL_FN fitcl_real fitcl_keig_entry(int k, const FITCL_GLOBAL fitcl_real *A,
                                     const FITCL_GLOBAL fitcl_real *B, const fitcl_real *ex, int r,
                                     int c) {
  fitcl_real s = 0.0;
  for (int m = 0; m < k; ++m) s += A[r * k + m] * ex[m] * B[m * k + c];
  return s > 0.0 ? s : 0.0;
}
#endif
