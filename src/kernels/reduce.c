/* fitcl__backend_sum: the backend forms the block partials, the host adds
 * them exactly (core/xsum.h): the correctly rounded sum of the partials. */
#include "kernels/reduce.h"

#include <stdlib.h>

#include "common/ksum.h"
#include "core/context.h"
#include "core/sums.h"
#include "core/xsum.h"
#include "device/backend.h"

fitcl_status fitcl__backend_sum(fitcl_context *ctx, const double *x, size_t n, double *total) {
  if (!ctx || (!x && n) || !total) return FITCL_ERR_NULL;
  *total = 0.0;
  if (n == 0) return FITCL_OK;
  size_t nblocks = (n + FITCL_REDUCE_BLOCK - 1) / FITCL_REDUCE_BLOCK;
  double *partial = malloc(2 * nblocks * sizeof *partial);
  if (!partial) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  fitcl_status st = ctx->backend->reduce->block_sums(ctx, x, n, partial, nblocks);
  if (st == FITCL_OK) {
    fitcl__xsum acc;
    fitcl__xsum_init(&acc);
    for (size_t b = 0; b < 2 * nblocks; ++b) fitcl__xsum_add(&acc, partial[b]);
    *total = fitcl__xsum_round(&acc);
  }
  free(partial);
  return st;
}
