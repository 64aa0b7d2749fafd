/* Value of information (cl/common/voi.h): one work-item per block of
 * FITCL_VOI_BLOCK samples, so the partials do not depend on the work-group
 * size the driver picks; the host adds them in block order
 * (src/kernels/voi.c).  Contraction into fused multiply-adds is off: the
 * pthreads backend computes the very same operations, and the two give the
 * same bits. */
#pragma OPENCL FP_CONTRACT OFF
#include "common/voi.h"

/* EVPI partials of an n x k net-benefit matrix (row-major). */
__kernel void fitcl_voi_nb_blocks(__global const double *nb, const long n, const int k,
                                  __global double *partial) {
  const long b = get_global_id(0);
  const long begin = b * FITCL_VOI_BLOCK;
  if (begin >= n) return;
  const int rows = (int)min((long)FITCL_VOI_BLOCK, n - begin);
  fitcl_voi_nb_block(nb + begin * k, k, 1, rows, k, partial + b * FITCL_VOI_NB_BLOCK_VALUES(k));
}

/* Column sums of costs and effects (n x k each) of every block: work-item
 * b*2k + j for column j < 2k (costs first). */
__kernel void fitcl_voi_wtp_heads(__global const double *c, __global const double *e,
                                  const long n, const int k, const int nwtp,
                                  __global double *partial) {
  const long b = get_global_id(0) / (2 * k);
  const int j = (int)(get_global_id(0) % (2 * k));
  const long begin = b * FITCL_VOI_BLOCK;
  if (begin >= n || j >= 2 * k) return;
  const int rows = (int)min((long)FITCL_VOI_BLOCK, n - begin);
  __global const double *x = (j < k ? c : e) + begin * k + (j % k);
  fitcl_voi_col_sum(x, k, rows, partial + b * FITCL_VOI_WTP_BLOCK_VALUES(k, nwtp) + 2 * j);
}

/* The sweep: work-item b*nwtp + w for block b at willingness to pay wtp[w]. */
__kernel void fitcl_voi_wtp_blocks(__global const double *c, __global const double *e,
                                   const long n, const int k, __global const double *wtp,
                                   const int nwtp, __global double *partial) {
  const long b = get_global_id(0) / nwtp;
  const int w = (int)(get_global_id(0) % nwtp);
  const long begin = b * FITCL_VOI_BLOCK;
  if (begin >= n || w >= nwtp) return;
  const int rows = (int)min((long)FITCL_VOI_BLOCK, n - begin);
  const double lambda = wtp[w];
  int cnt[FITCL_VOI_MAX_STRATEGIES];
  for (int j = 0; j < k; ++j) cnt[j] = 0;
  double s = 0.0, corr = 0.0;
  for (int r = 0; r < rows; ++r) {
    const long at = (begin + r) * k;
    fitcl_voi_wtp_row(c + at, e + at, 1, k, lambda, &s, &corr, cnt);
  }
  __global double *out = partial + b * FITCL_VOI_WTP_BLOCK_VALUES(k, nwtp) +
                         FITCL_VOI_WTP_HEAD(k) + w * FITCL_VOI_WTP_STRIDE(k);
  out[0] = s;
  out[1] = corr;
  for (int j = 0; j < k; ++j) out[2 + j] = (double)cnt[j];
}
