/* Value of information: the per-block math of EVPI and of the
 * willingness-to-pay sweep, shared by cl/voi.cl and the pthreads backend
 * (src/backends/cpu/voi_cpu.c), so both give the same bits.
 *
 * A block is FITCL_VOI_BLOCK consecutive samples (rows).  Within a block
 * every accumulator adds its terms in row order with TwoSum compensation
 * and is kept as an unrounded (sum, correction) pair; the host adds the
 * blocks' pairs in block order (src/kernels/voi.c).  Counts are exact.
 * Nothing here may be contracted into fused multiply-adds: cl/voi.cl turns
 * contraction off and the C file is compiled with -ffp-contract=off. */
#ifndef FITCL_CL_COMMON_VOI_H
#define FITCL_CL_COMMON_VOI_H
#include "common/compat.h"
#include "common/ksum.h"

/* Rows per block: part of the numerical contract, like FITCL_REDUCE_BLOCK.
 * Larger than that block because a sweep keeps (2 + k) values per block
 * per willingness-to-pay value. */
#define FITCL_VOI_BLOCK 4096
/* Most strategies a decision may have (private count arrays are sized by it). */
#define FITCL_VOI_MAX_STRATEGIES 64

/* Net benefit of strategy j at willingness to pay `wtp`: wtp * e - c.  The
 * product is rounded before the subtraction on every backend. */
FITCL_FN double fitcl_voi_nb(double wtp, double e, double c) {
  double we = wtp * e;
  return we - c;
}

/* The largest of x[0], x[cs], ..., x[(k-1)cs] and the first index holding
 * it.  A NaN never wins a comparison; callers reject NaN input beforehand
 * through the column sums, which it turns into NaN. */
FITCL_FN double fitcl_voi_row_max(const FITCL_GLOBAL double *x, fitcl_long cs, int k, int *arg) {
  double m = x[0];
  int a = 0;
  for (int j = 1; j < k; ++j) {
    double v = x[j * cs];
    int gt = v > m;
    m = gt ? v : m;
    a = gt ? j : a;
  }
  *arg = a;
  return m;
}

/* The same maximum over strategies of the net benefit wtp*e - c. */
FITCL_FN double fitcl_voi_row_max_nb(const FITCL_GLOBAL double *c, const FITCL_GLOBAL double *e,
                                     fitcl_long cs, int k, double wtp, int *arg) {
  double m = fitcl_voi_nb(wtp, e[0], c[0]);
  int a = 0;
  for (int j = 1; j < k; ++j) {
    double v = fitcl_voi_nb(wtp, e[j * cs], c[j * cs]);
    int gt = v > m;
    m = gt ? v : m;
    a = gt ? j : a;
  }
  *arg = a;
  return m;
}

/* Values per block of EVPI: (sum, correction) of the row maxima, then of
 * the regret of each strategy, then the counts. */
#define FITCL_VOI_NB_BLOCK_VALUES(k) (2 + 3 * (k))

/* Partials of one block of net benefits: rows [0, rows), element (r, j) at
 * x[r*rs + j*cs].  Writes out[0..1] = (sum, correction) of the row maxima
 * m_r = max_l x[r,l], out[2+2j..3+2j] = (sum, correction) of the regret
 * m_r − x[r,j] of strategy j, and out[2+2k+j] = the number of rows whose
 * first maximum is column j.  Column sums follow as Σm − regret_j, and EVPI
 * is the mean regret of the strategy with the smallest total regret (the
 * largest mean): a sum of terms >= 0, which keeps its accuracy however
 * large the net benefits are next to it (a difference of two means would
 * not).  A NaN or infinity anywhere makes some regret NaN or infinite. */
FITCL_FN void fitcl_voi_nb_block(const FITCL_GLOBAL double *x, fitcl_long rs, fitcl_long cs,
                                 int rows, int k, FITCL_GLOBAL double *out) {
  int cnt[FITCL_VOI_MAX_STRATEGIES];
  double rg[FITCL_VOI_MAX_STRATEGIES], rc[FITCL_VOI_MAX_STRATEGIES];
  double ms = 0.0, mc = 0.0;
  for (int j = 0; j < k; ++j) {
    cnt[j] = 0;
    rg[j] = rc[j] = 0.0;
  }
  for (int r = 0; r < rows; ++r) {
    int a;
    const FITCL_GLOBAL double *row = x + r * rs;
    const double m = fitcl_voi_row_max(row, cs, k, &a);
    cnt[a] += 1;
    fitcl_twosum_add(&ms, &mc, m);
    for (int j = 0; j < k; ++j) fitcl_twosum_add(&rg[j], &rc[j], m - row[j * cs]);
  }
  out[0] = ms;
  out[1] = mc;
  for (int j = 0; j < k; ++j) {
    out[2 + 2 * j] = rg[j];
    out[3 + 2 * j] = rc[j];
    out[2 + 2 * k + j] = (double)cnt[j];
  }
}

/* (sum, correction) of column j of a block: rows [0, rows) of x[r*rs]. */
FITCL_FN void fitcl_voi_col_sum(const FITCL_GLOBAL double *x, fitcl_long rs, int rows,
                                FITCL_GLOBAL double *out) {
  double s = 0.0, c = 0.0;
  for (int r = 0; r < rows; ++r) fitcl_twosum_add(&s, &c, x[r * rs]);
  out[0] = s;
  out[1] = c;
}

/* Values per block of the sweep: the column sums of costs and effects, then
 * for each willingness-to-pay value (sum, correction) of the row maxima of
 * the net benefit and the k counts. */
#define FITCL_VOI_WTP_HEAD(k) (4 * (k))
#define FITCL_VOI_WTP_STRIDE(k) (2 + (k))
#define FITCL_VOI_WTP_BLOCK_VALUES(k, nwtp) \
  (FITCL_VOI_WTP_HEAD(k) + (nwtp) * FITCL_VOI_WTP_STRIDE(k))

/* One row of the sweep at one willingness to pay: adds the row's maximum
 * to (s, c) and counts its strategy. */
FITCL_FN void fitcl_voi_wtp_row(const FITCL_GLOBAL double *c, const FITCL_GLOBAL double *e,
                                fitcl_long cs, int k, double wtp, double *s, double *corr,
                                int *cnt) {
  int a;
  fitcl_twosum_add(s, corr, fitcl_voi_row_max_nb(c, e, cs, k, wtp, &a));
  cnt[a] += 1;
}

#endif
