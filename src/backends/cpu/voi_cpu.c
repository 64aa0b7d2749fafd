/* Value-of-information partials on the pthreads backend: one pool task per
 * block of FITCL_VOI_BLOCK samples.  The math is cl/common/voi.h; the sweep
 * runs the rows of a block once, each row against every willingness-to-pay
 * value, which adds the same terms to each accumulator in the same order
 * as the OpenCL kernel's loop over rows for one value. */
#include "backends/cpu/cpu.h"

#include "common/voi.h"
#include "core/context.h"
#include "core/pool.h"
#include "kernels/voi.h"

typedef struct job {
  const double *x, *c, *e, *wtp;
  size_t n;
  int k, nwtp;
  double *partial;
} job;

static int block_rows(const job *j, size_t b) {
  size_t begin = b * FITCL_VOI_BLOCK;
  return (int)(j->n - begin < FITCL_VOI_BLOCK ? j->n - begin : FITCL_VOI_BLOCK);
}

static void nb_task(void *arg, size_t b, unsigned worker) {
  (void)worker;
  const job *j = arg;
  const size_t k = (size_t)j->k;
  fitcl_voi_nb_block(j->x + b * FITCL_VOI_BLOCK * k, j->k, 1, block_rows(j, b), j->k,
                     j->partial + b * (2 + 3 * k));
}

static fitcl_status nb_blocks(fitcl_context *ctx, const double *nb, size_t n, int k,
                              double *partial, size_t nblocks) {
  job j = {.x = nb, .n = n, .k = k, .partial = partial};
  fitcl__pool_run(fitcl__ctx_pool(ctx), nblocks, nb_task, &j);
  return FITCL_OK;
}

static void wtp_task(void *arg, size_t b, unsigned worker) {
  (void)worker;
  const job *j = arg;
  const int k = j->k, nw = j->nwtp, rows = block_rows(j, b);
  const size_t at = b * FITCL_VOI_BLOCK * (size_t)k;
  const double *c = j->c + at, *e = j->e + at;
  double *out = j->partial + b * FITCL_VOI_WTP_BLOCK_VALUES((size_t)k, (size_t)nw);
  for (int col = 0; col < k; ++col) {
    fitcl_voi_col_sum(c + col, k, rows, out + 2 * col);
    fitcl_voi_col_sum(e + col, k, rows, out + 2 * (k + col));
  }
  double s[64], corr[64];
  int cnt[64 * FITCL_VOI_MAX_STRATEGIES];
  for (int w = 0; w < nw; ++w) {
    s[w] = corr[w] = 0.0;
    for (int q = 0; q < k; ++q) cnt[w * k + q] = 0;
  }
  for (int r = 0; r < rows; ++r) {
    const double *cr = c + (size_t)r * (size_t)k, *er = e + (size_t)r * (size_t)k;
    for (int w = 0; w < nw; ++w)
      fitcl_voi_wtp_row(cr, er, 1, k, j->wtp[w], &s[w], &corr[w], &cnt[w * k]);
  }
  for (int w = 0; w < nw; ++w) {
    double *o = out + FITCL_VOI_WTP_HEAD(k) + w * FITCL_VOI_WTP_STRIDE(k);
    o[0] = s[w];
    o[1] = corr[w];
    for (int q = 0; q < k; ++q) o[2 + q] = (double)cnt[w * k + q];
  }
}

static fitcl_status wtp_blocks(fitcl_context *ctx, const double *c, const double *e, size_t n,
                               int k, const double *wtp, int nwtp, double *partial,
                               size_t nblocks) {
  if (nwtp > 64) return fitcl__fail(ctx, FITCL_ERR_INTERNAL, "sweep call over %d values", nwtp);
  job j = {.c = c, .e = e, .wtp = wtp, .n = n, .k = k, .nwtp = nwtp, .partial = partial};
  fitcl__pool_run(fitcl__ctx_pool(ctx), nblocks, wtp_task, &j);
  return FITCL_OK;
}

const fitcl__voi_ops fitcl__voi_cpu_ops = {nb_blocks, wtp_blocks};
