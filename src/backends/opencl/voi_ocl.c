/* Value-of-information partials on OpenCL: cl/voi.cl, one work-item per
 * block (or per block and willingness-to-pay value). */
#include "backends/opencl/opencl.h"

#include "device/opencl/ocl.h"
#include "kernels/voi.h"

static fitcl_status nb_blocks(fitcl_context *ctx, const double *nb, size_t n, int k,
                              double *partial, size_t nblocks) {
  cl_mem dx = NULL, dp = NULL;
  cl_kernel kr = NULL;
  fitcl_status st;
  const cl_long ln = (cl_long)n;
  const cl_int lk = k;
  const size_t pbytes = nblocks * FITCL_VOI_NB_BLOCK_VALUES((size_t)k) * sizeof *partial;
  if ((st = fitcl__ocl_kernel(ctx, "voi.cl", "fitcl_voi_nb_blocks", &kr))) goto fail;
  if ((st = fitcl__ocl_alloc(ctx, CL_MEM_READ_ONLY, n * (size_t)k * sizeof *nb, nb, &dx))) goto fail;
  if ((st = fitcl__ocl_alloc(ctx, CL_MEM_WRITE_ONLY, pbytes, NULL, &dp))) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kr, 0, sizeof dx, &dx))) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kr, 1, sizeof ln, &ln))) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kr, 2, sizeof lk, &lk))) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kr, 3, sizeof dp, &dp))) goto fail;
  if ((st = fitcl__ocl_launch(ctx, kr, nblocks, 0))) goto fail;
  st = fitcl__ocl_read(ctx, dp, 0, pbytes, partial);
fail:
  FITCL__CL_RELEASE_MEM(dx);
  FITCL__CL_RELEASE_MEM(dp);
  FITCL__CL_RELEASE_KERNEL(kr);
  return st;
}

static fitcl_status wtp_blocks(fitcl_context *ctx, const double *c, const double *e, size_t n,
                               int k, const double *wtp, int nwtp, double *partial,
                               size_t nblocks) {
  cl_mem dc = NULL, de = NULL, dw = NULL, dp = NULL;
  cl_kernel kh = NULL, kw = NULL;
  fitcl_status st;
  const cl_long ln = (cl_long)n;
  const cl_int lk = k, lw = nwtp;
  const size_t xbytes = n * (size_t)k * sizeof *c;
  const size_t pbytes = nblocks * FITCL_VOI_WTP_BLOCK_VALUES((size_t)k, (size_t)nwtp) * sizeof *partial;
  if ((st = fitcl__ocl_kernel(ctx, "voi.cl", "fitcl_voi_wtp_heads", &kh))) goto fail;
  if ((st = fitcl__ocl_kernel(ctx, "voi.cl", "fitcl_voi_wtp_blocks", &kw))) goto fail;
  if ((st = fitcl__ocl_alloc(ctx, CL_MEM_READ_ONLY, xbytes, c, &dc))) goto fail;
  if ((st = fitcl__ocl_alloc(ctx, CL_MEM_READ_ONLY, xbytes, e, &de))) goto fail;
  if ((st = fitcl__ocl_alloc(ctx, CL_MEM_READ_ONLY, (size_t)nwtp * sizeof *wtp, wtp, &dw))) goto fail;
  if ((st = fitcl__ocl_alloc(ctx, CL_MEM_WRITE_ONLY, pbytes, NULL, &dp))) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kh, 0, sizeof dc, &dc))) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kh, 1, sizeof de, &de))) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kh, 2, sizeof ln, &ln))) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kh, 3, sizeof lk, &lk))) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kh, 4, sizeof lw, &lw))) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kh, 5, sizeof dp, &dp))) goto fail;
  if ((st = fitcl__ocl_launch(ctx, kh, nblocks * 2 * (size_t)k, 0))) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kw, 0, sizeof dc, &dc))) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kw, 1, sizeof de, &de))) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kw, 2, sizeof ln, &ln))) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kw, 3, sizeof lk, &lk))) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kw, 4, sizeof dw, &dw))) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kw, 5, sizeof lw, &lw))) goto fail;
  if ((st = fitcl__ocl_setarg(ctx, kw, 6, sizeof dp, &dp))) goto fail;
  if ((st = fitcl__ocl_launch(ctx, kw, nblocks * (size_t)nwtp, 0))) goto fail;
  st = fitcl__ocl_read(ctx, dp, 0, pbytes, partial);
fail:
  FITCL__CL_RELEASE_MEM(dc);
  FITCL__CL_RELEASE_MEM(de);
  FITCL__CL_RELEASE_MEM(dw);
  FITCL__CL_RELEASE_MEM(dp);
  FITCL__CL_RELEASE_KERNEL(kh);
  FITCL__CL_RELEASE_KERNEL(kw);
  return st;
}

const fitcl__voi_ops fitcl__voi_ocl_ops = {nb_blocks, wtp_blocks};
