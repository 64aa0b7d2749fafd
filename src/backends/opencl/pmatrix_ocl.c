/* Batched 2-state P(t) (fitcl_gl_pmatrices) on OpenCL: one matrix per
 * work-item (fitcl_gl_pmat_batch in cl/lik.cl). */
#include "backends/opencl/opencl.h"

#include "device/opencl/ocl.h"
#include "kernels/pmatrix.h"

static fitcl_status gainloss(fitcl_context *ctx, size_t n, const double *a, const double *b,
                          const double *t, double *p, double *deriv) {
  fitcl_status st;
  cl_kernel k = NULL;
  cl_mem ba = NULL, bb = NULL, bt = NULL, bp = NULL, bd = NULL;
  const cl_mem_flags ro = CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR;
  const cl_long nl = (cl_long)n;
  const cl_int dv = deriv != NULL;
  if ((st = fitcl__ocl_kernel(ctx, "lik.cl", "fitcl_gl_pmat_batch", &k)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_alloc(ctx, ro, sizeof(double) * n, a, &ba)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_alloc(ctx, ro, sizeof(double) * n, b, &bb)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_alloc(ctx, ro, sizeof(double) * n, t, &bt)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_alloc(ctx, CL_MEM_WRITE_ONLY, sizeof(double) * 4 * n, NULL, &bp)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_alloc(ctx, CL_MEM_WRITE_ONLY, sizeof(double) * (deriv ? 6 * n : 1), NULL, &bd)) != FITCL_OK)
    goto fail;
  if ((st = fitcl__ocl_setarg(ctx, k, 0, sizeof ba, &ba)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, k, 1, sizeof bb, &bb)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, k, 2, sizeof bt, &bt)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, k, 3, sizeof nl, &nl)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, k, 4, sizeof dv, &dv)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, k, 5, sizeof bp, &bp)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, k, 6, sizeof bd, &bd)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_launch(ctx, k, n, 0)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_read(ctx, bp, 0, sizeof(double) * 4 * n, p)) != FITCL_OK) goto fail;
  if (deriv && (st = fitcl__ocl_read(ctx, bd, 0, sizeof(double) * 6 * n, deriv)) != FITCL_OK) goto fail;
fail:
  FITCL__CL_RELEASE_MEM(ba);
  FITCL__CL_RELEASE_MEM(bb);
  FITCL__CL_RELEASE_MEM(bt);
  FITCL__CL_RELEASE_MEM(bp);
  FITCL__CL_RELEASE_MEM(bd);
  FITCL__CL_RELEASE_KERNEL(k);
  return st;
}

const fitcl__pmatrix_ops fitcl__pmatrix_ocl_ops = {gainloss};
