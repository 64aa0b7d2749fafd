/* Fixed-order sum of a host array on the context's backend: per-block
 * compensated partials (cl/common/ksum.h) combined in block order.  Used
 * by the self-test and as the reference pattern for kernel reductions. */
#ifndef FITCL_KERNELS_REDUCE_H
#define FITCL_KERNELS_REDUCE_H
#include <stddef.h>
#include "fitcl.h"

typedef struct fitcl__reduce_ops {
  /* Writes the compensated (sum, correction) pair of block b of x[0..n),
   * blocks of FITCL_REDUCE_BLOCK values, to partial[2b] and partial[2b+1]
   * for every b < nblocks. */
  fitcl_status (*block_sums)(fitcl_context *ctx, const double *x, size_t n, double *partial,
                             size_t nblocks);
} fitcl__reduce_ops;

fitcl_status fitcl__backend_sum(fitcl_context *ctx, const double *x, size_t n, double *total);

#endif
