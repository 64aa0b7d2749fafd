/* Value-of-information sums: the backend forms block partials, the host
 * adds them in block order (compensated) and the counts exactly. */
#include "kernels/voi.h"

#include <stdlib.h>

#include "core/context.h"
#include "core/sums.h"
#include "device/backend.h"

/* Willingness-to-pay values per backend call: bounds the partials to
 * nblocks * 128 * (2 + k) values however long the sweep.  Each value's sums
 * are independent of the others, so the split does not change them. */
#define WTP_PER_CALL 128

static size_t nblocks_of(size_t n) { return (n + FITCL_VOI_BLOCK - 1) / FITCL_VOI_BLOCK; }

/* Adds the pairs partial[b*stride + off], partial[b*stride + off + 1] over
 * the blocks, in block order. */
static double fold_pairs(const double *partial, size_t nblocks, size_t stride, size_t off) {
  fitcl__ksum k = {0, 0};
  for (size_t b = 0; b < nblocks; ++b) {
    fitcl__ksum_add(&k, partial[b * stride + off]);
    fitcl__ksum_add(&k, partial[b * stride + off + 1]);
  }
  return fitcl__ksum_value(&k);
}

static uint64_t fold_counts(const double *partial, size_t nblocks, size_t stride, size_t off) {
  uint64_t c = 0;
  for (size_t b = 0; b < nblocks; ++b) c += (uint64_t)partial[b * stride + off];
  return c;
}

fitcl_status fitcl__voi_nb_sums(fitcl_context *ctx, const double *nb, size_t n, int k,
                                double *max_sum, double *regret, uint64_t *count) {
  const size_t nblocks = nblocks_of(n), stride = FITCL_VOI_NB_BLOCK_VALUES((size_t)k);
  double *partial = malloc(nblocks * stride * sizeof *partial);
  if (!partial) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory for %zu block partials",
                                   nblocks);
  fitcl_status st = ctx->backend->voi->nb_blocks(ctx, nb, n, k, partial, nblocks);
  if (st == FITCL_OK) {
    *max_sum = fold_pairs(partial, nblocks, stride, 0);
    for (int j = 0; j < k; ++j) {
      regret[j] = fold_pairs(partial, nblocks, stride, 2 + 2 * (size_t)j);
      count[j] = fold_counts(partial, nblocks, stride, 2 + 2 * (size_t)k + (size_t)j);
    }
  }
  free(partial);
  return st;
}

fitcl_status fitcl__voi_wtp_sums(fitcl_context *ctx, const double *c, const double *e, size_t n,
                                 int k, const double *wtp, size_t nwtp, double *max_sum,
                                 uint64_t *count, double *c_sum, double *e_sum) {
  const size_t nblocks = nblocks_of(n);
  const size_t per = nwtp < WTP_PER_CALL ? nwtp : WTP_PER_CALL;
  double *partial = malloc(nblocks * FITCL_VOI_WTP_BLOCK_VALUES((size_t)k, per) * sizeof *partial);
  if (!partial) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory for %zu block partials",
                                   nblocks);
  fitcl_status st = FITCL_OK;
  for (size_t w0 = 0; w0 < nwtp && st == FITCL_OK; w0 += per) {
    const int nw = (int)(nwtp - w0 < per ? nwtp - w0 : per);
    const size_t stride = FITCL_VOI_WTP_BLOCK_VALUES((size_t)k, (size_t)nw);
    st = ctx->backend->voi->wtp_blocks(ctx, c, e, n, k, wtp + w0, nw, partial, nblocks);
    if (st != FITCL_OK) break;
    if (w0 == 0)
      for (int j = 0; j < k; ++j) {
        c_sum[j] = fold_pairs(partial, nblocks, stride, 2 * (size_t)j);
        e_sum[j] = fold_pairs(partial, nblocks, stride, 2 * (size_t)(k + j));
      }
    for (int w = 0; w < nw; ++w) {
      const size_t off = FITCL_VOI_WTP_HEAD((size_t)k) + (size_t)w * FITCL_VOI_WTP_STRIDE((size_t)k);
      max_sum[w0 + (size_t)w] = fold_pairs(partial, nblocks, stride, off);
      for (int j = 0; j < k; ++j)
        count[(w0 + (size_t)w) * (size_t)k + (size_t)j] =
            fold_counts(partial, nblocks, stride, off + 2 + (size_t)j);
    }
  }
  free(partial);
  return st;
}
