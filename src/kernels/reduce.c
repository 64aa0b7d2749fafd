#include "kernels/reduce.h"

#include <stdlib.h>

#include "common/reduce.h"
#include "core/context.h"
#include "core/pool.h"
#include "core/reduce.h"
#include "device/opencl/ocl.h"

typedef struct cpu_job {
  const double *x;
  size_t n;
  double *partial;
} cpu_job;

static void cpu_block(void *arg, size_t b, unsigned worker) {
  (void)worker;
  cpu_job *j = arg;
  size_t begin = b * FITCL_REDUCE_BLOCK;
  size_t end = begin + FITCL_REDUCE_BLOCK < j->n ? begin + FITCL_REDUCE_BLOCK : j->n;
  fitcl_block_sum2(j->x, (fitcl_long)begin, (fitcl_long)end, &j->partial[2 * b],
                   &j->partial[2 * b + 1]);
}

static fitcl_status ocl_partials(fitcl_context *ctx, const double *x, size_t n, double *partial,
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

fitcl_status fitcl__backend_sum(fitcl_context *ctx, const double *x, size_t n, double *total) {
  if (!ctx || (!x && n) || !total) return FITCL_ERR_NULL;
  *total = 0.0;
  if (n == 0) return FITCL_OK;
  size_t nblocks = (n + FITCL_REDUCE_BLOCK - 1) / FITCL_REDUCE_BLOCK;
  double *partial = malloc(2 * nblocks * sizeof *partial);
  if (!partial) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  fitcl_status st = FITCL_OK;
  if (fitcl__ctx_is_opencl(ctx)) {
    st = ocl_partials(ctx, x, n, partial, nblocks);
  } else {
    cpu_job j = {x, n, partial};
    fitcl__pool_run(ctx->pool, nblocks, cpu_block, &j);
  }
  if (st == FITCL_OK) *total = fitcl__sum(partial, 2 * nblocks);
  free(partial);
  return st;
}
