/* k-state transition matrices from an eigensystem, batched over branch
 * lengths: one work-item per matrix entry (branch, row, column). */
#include "common/keig.h"

__kernel void fitcl_kstate_apply(const int k, __global const double *A, __global const double *B,
                                 __global const double *lambda, __global const double *t,
                                 const long n, __global double *out) {
  const long id = get_global_id(0);
  const long kk = (long)k * k;
  if (id >= n * kk) return;
  const long i = id / kk;
  const int r = (int)((id % kk) / k), c = (int)(id % k);
  double ex[64];
  for (int m = 0; m < k; ++m) ex[m] = exp(lambda[m] * t[i]);
  out[id] = fitcl_keig_entry(k, A, B, ex, r, c);
}
