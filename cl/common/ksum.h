/* Compensated (Neumaier) summation step, shared by kernels and the host. */
#ifndef FITCL_CL_COMMON_KSUM_H
#define FITCL_CL_COMMON_KSUM_H
#include "common/compat.h"

FITCL_FN void fitcl_kahan_add(fitcl_real *s, fitcl_real *c, fitcl_real v) {
  fitcl_real t = *s + v;
  if (fabs(*s) >= fabs(v)) *c += (*s - t) + v;
  else *c += (v - t) + *s;
  *s = t;
}

/* s + c += v, the rounding error of the addition kept exactly in c
 * (Knuth's TwoSum): branch-free, so loops of independent accumulators
 * vectorise, and exact for any order of magnitudes. */
FITCL_FN void fitcl_twosum_add(fitcl_real *s, fitcl_real *c, fitcl_real v) {
  fitcl_real t = *s + v;
  fitcl_real bp = t - *s;
  *c += (*s - (t - bp)) + (v - bp);
  *s = t;
}

/* Sum of x[begin..end) in index order, compensated.  The result is
 * returned unrounded as a pair (sum, correction): rounding s + c here would
 * lose up to half an ulp of a large partial, which matters when partials
 * cancel.  The host adds both halves of every block in block order. */
FITCL_FN void fitcl_block_sum2(const FITCL_GLOBAL fitcl_real *x, fitcl_long begin,
                               fitcl_long end, fitcl_real *sum, fitcl_real *corr) {
  fitcl_real s = 0.0, c = 0.0;
  for (fitcl_long i = begin; i < end; ++i) fitcl_kahan_add(&s, &c, x[i]);
  *sum = s;
  *corr = c;
}
#endif
