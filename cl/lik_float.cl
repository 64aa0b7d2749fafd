/* The likelihood kernels of cl/lik.cl in float, for the mixed and single
 * precision modes (docs/likelihood.md, "Precision"): the pruning and its
 * gradient per pattern, and the gradient's block sums as compensated float
 * pairs.  Its own program, with no `double` in it or in what it includes
 * (common/compat_float.h, not compat.h), so that it builds on a device
 * without cl_khr_fp64.  The pruning kernel is common/prune_kernel.h's,
 * which cl/lik.cl also builds, in double; every formula is
 * common/pruning.h's. */
#include "common/compat_float.h"
#include "common/pruning.h"

#include "common/prune_kernel.h"

/* rows[((blk0 + b) * ncomp + q) * 2 + {0, 1}] = the sum, in pattern order,
 * of wv[q * cn + b * BLOCK ...] as an unrounded pair (hi, lo): TwoSum keeps
 * each addition's rounding error exactly (compensated, when comp), or a
 * plain float sum (lo = 0).  The host adds hi + lo in double. */
__kernel void fitcl_glf_block_rows(__global const float *wv, const long cn, const int ncomp,
                                   const long blk0, const int nrows_comp, const int comp,
                                   __global float *rows) {
  const long id = get_global_id(0);
  const long nblk = cn / FITCL_REDUCE_BLOCK;
  if (id >= nblk * nrows_comp) return;
  const long b = id / nrows_comp;
  const int q = (int)(id % nrows_comp);
  float s = 0.0f, c = 0.0f;
  __global const float *x = wv + (long)q * cn + b * FITCL_REDUCE_BLOCK;
  for (int k = 0; k < FITCL_REDUCE_BLOCK; ++k) prune_dsum(&s, &c, x[k], comp);
  rows[((blk0 + b) * ncomp + q) * 2] = s;
  rows[((blk0 + b) * ncomp + q) * 2 + 1] = c;
}
