/* k-state P(t) from the eigensystem on the OpenCL backend. */
#include "backends/opencl/opencl.h"
#include "core/util.h"
#include "device/opencl/ocl.h"
#include "kernels/kstate.h"

static fitcl_status apply(fitcl_context *ctx, const fitcl__keig *e, size_t n, const double *t,
                          double *out) {
  fitcl_status st;
  cl_kernel kern = NULL;
  cl_mem bA = NULL, bB = NULL, bl = NULL, bt = NULL, bo = NULL;
  const size_t kk = (size_t)e->k * e->k;
  const cl_mem_flags ro = CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR;
  const cl_int k = e->k;
  const cl_long nl = (cl_long)n;
  if ((st = fitcl__ocl_kernel(ctx, "kstate.cl", "fitcl_kstate_apply", &kern)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_alloc(ctx, ro, sizeof(double) * kk, e->A, &bA)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_alloc(ctx, ro, sizeof(double) * kk, e->B, &bB)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_alloc(ctx, ro, sizeof(double) * e->k, (void *)e->lambda, &bl)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_alloc(ctx, ro, sizeof(double) * n, t, &bt)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_alloc(ctx, CL_MEM_WRITE_ONLY, sizeof(double) * n * kk, NULL, &bo)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kern, 0, sizeof k, &k)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kern, 1, sizeof bA, &bA)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kern, 2, sizeof bB, &bB)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kern, 3, sizeof bl, &bl)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kern, 4, sizeof bt, &bt)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kern, 5, sizeof nl, &nl)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kern, 6, sizeof bo, &bo)) != FITCL_OK) goto fail;
  if ((st = fitcl__ocl_launch(ctx, kern, n * kk, 0)) != FITCL_OK) goto fail;
  st = fitcl__ocl_read(ctx, bo, 0, sizeof(double) * n * kk, out);
fail:
  FITCL__CL_RELEASE_MEM(bA);
  FITCL__CL_RELEASE_MEM(bB);
  FITCL__CL_RELEASE_MEM(bl);
  FITCL__CL_RELEASE_MEM(bt);
  FITCL__CL_RELEASE_MEM(bo);
  FITCL__CL_RELEASE_KERNEL(kern);
  return st;
}

const fitcl__kstate_ops fitcl__kstate_ocl_ops = {apply};
