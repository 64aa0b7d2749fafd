/* Fixed-block partial sums: block b sums x[b*FITCL_REDUCE_BLOCK ...) in
 * index order with compensation and writes (sum, correction) to
 * partial[2b], partial[2b+1].  One work-item per block, so the result
 * does not depend on the work-group size the driver picks.  The host adds
 * the partials in block order (core/sums.c). */
#include "common/ksum.h"

__kernel void fitcl_block_sums(__global const double *x, const long n,
                               __global double *partial) {
  const long b = get_global_id(0);
  const long begin = b * FITCL_REDUCE_BLOCK;
  if (begin >= n) return;
  const long end = min(begin + (long)FITCL_REDUCE_BLOCK, n);
  double s, c;
  fitcl_block_sum2(x, begin, end, &s, &c);
  partial[2 * b] = s;
  partial[2 * b + 1] = c;
}
