/* Block sums on OpenCL: cl/reduce.cl, one work-item per block. */
#include "backends/opencl/opencl.h"

#include "device/opencl/ocl.h"
#include "kernels/reduce.h"

static fitcl_status block_sums(fitcl_context *ctx, const double *x, size_t n, double *partial,
                               size_t nblocks) {
  cl_mem dx = NULL, dp = NULL;
  cl_kernel k = NULL;
  fitcl_status st;
  cl_long ln = (cl_long)n;
  if ((st = fitcl__ocl_kernel(ctx, "reduce.cl", "fitcl_block_sums", &k))) goto fail;
  if ((st = fitcl__ocl_alloc(ctx, CL_MEM_READ_ONLY, n * sizeof *x, x, &dx))) goto fail;
  if ((st = fitcl__ocl_alloc(ctx, CL_MEM_WRITE_ONLY, 2 * nblocks * sizeof *partial, NULL, &dp))) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, k, 0, sizeof dx, &dx))) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, k, 1, sizeof ln, &ln))) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, k, 2, sizeof dp, &dp))) goto fail;
  if ((st = fitcl__ocl_launch(ctx, k, nblocks, 0))) goto fail;
  st = fitcl__ocl_read(ctx, dp, 0, 2 * nblocks * sizeof *partial, partial);
fail:
  FITCL__CL_RELEASE_MEM(dx);
  FITCL__CL_RELEASE_MEM(dp);
  FITCL__CL_RELEASE_KERNEL(k);
  return st;
}

const fitcl__reduce_ops fitcl__reduce_ocl_ops = {block_sums};
