/* Fixed-order sum of a host array on the context's backend: per-block
 * compensated partials (cl/common/reduce.h) combined in block order.  Used
 * by the self-test and as the reference pattern for kernel reductions. */
#ifndef FITCL_DEVICE_REDUCE_H
#define FITCL_DEVICE_REDUCE_H
#include <stddef.h>
#include "fitcl.h"

fitcl_status fitcl__backend_sum(fitcl_context *ctx, const double *x, size_t n, double *total);

#endif
