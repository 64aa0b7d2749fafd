/* Value-of-information kernels: the sums behind EVPI and the
 * willingness-to-pay sweep, on the context's backend.  Internal.
 *
 * A backend forms per-block partials (cl/common/voi.h: blocks of
 * FITCL_VOI_BLOCK samples, compensated pairs and exact counts); the
 * functions below add them in block order, so results are the same bits on
 * every backend and thread count.  The analyses (src/voi/) turn the sums
 * into EVPI, acceptability curves and the frontier. */
#ifndef FITCL_KERNELS_VOI_H
#define FITCL_KERNELS_VOI_H
#include <stddef.h>
#include <stdint.h>

#include "common/voi.h"
#include "fitcl.h"

typedef struct fitcl__voi_ops {
  /* Writes the partials of every block b < nblocks of nb (n x k,
   * row-major) to partial[b*FITCL_VOI_NB_BLOCK_VALUES(k) ...] (layout:
   * fitcl_voi_nb_block). */
  fitcl_status (*nb_blocks)(fitcl_context *ctx, const double *nb, size_t n, int k,
                            double *partial, size_t nblocks);
  /* Writes the sweep partials of every block of costs c and effects e
   * (n x k each) at the nwtp values wtp[] to
   * partial[b*FITCL_VOI_WTP_BLOCK_VALUES(k, nwtp) ...]. */
  fitcl_status (*wtp_blocks)(fitcl_context *ctx, const double *c, const double *e, size_t n,
                             int k, const double *wtp, int nwtp, double *partial,
                             size_t nblocks);
} fitcl__voi_ops;

/* Sums over all n samples of an n x k net-benefit matrix: of the row
 * maxima (*max_sum), and, k values each, of each strategy's regret (row
 * maximum minus its value), and how many rows have their first maximum in
 * each column.  Non-finite input makes some regret non-finite (the caller
 * checks). */
fitcl_status fitcl__voi_nb_sums(fitcl_context *ctx, const double *nb, size_t n, int k,
                                double *max_sum, double *regret, uint64_t *count);

/* The same for net benefit wtp*e - c at each of nwtp values: max_sum[w],
 * count[w*k + j]; and the column sums of c and e (k values each). */
fitcl_status fitcl__voi_wtp_sums(fitcl_context *ctx, const double *c, const double *e, size_t n,
                                 int k, const double *wtp, size_t nwtp, double *max_sum,
                                 uint64_t *count, double *c_sum, double *e_sum);

#endif
