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

/* The block function with k known at compile time, so the loops over the
 * strategies unroll and vectorise (the same operations in the same order
 * as the generic call); flatten inlines the shared math into each clone,
 * which GCC otherwise keeps out of line in its baseline form. */
#if defined(__GNUC__)
#define FLATTEN __attribute__((flatten))
#else
#define FLATTEN
#endif
#define NB_BLOCK_K(K)                                                                  \
  FITCL__CLONES FLATTEN static void nb_block_##K(const double *x, int rows, double *out) {      \
    fitcl_voi_nb_block(x, K, 1, rows, K, out);                                          \
  }
NB_BLOCK_K(2)
NB_BLOCK_K(3)
NB_BLOCK_K(4)
NB_BLOCK_K(5)
NB_BLOCK_K(6)
NB_BLOCK_K(8)

static void nb_task(void *arg, size_t b, unsigned worker) {
  (void)worker;
  const job *j = arg;
  const size_t k = (size_t)j->k;
  const double *x = j->x + b * FITCL_VOI_BLOCK * k;
  double *out = j->partial + b * FITCL_VOI_NB_BLOCK_VALUES(k);
  const int rows = block_rows(j, b);
  switch (j->k) {
  case 2: nb_block_2(x, rows, out); break;
  case 3: nb_block_3(x, rows, out); break;
  case 4: nb_block_4(x, rows, out); break;
  case 5: nb_block_5(x, rows, out); break;
  case 6: nb_block_6(x, rows, out); break;
  case 8: nb_block_8(x, rows, out); break;
  default: fitcl_voi_nb_block(x, j->k, 1, rows, j->k, out);
  }
}

static fitcl_status nb_blocks(fitcl_context *ctx, const double *nb, size_t n, int k,
                              double *partial, size_t nblocks) {
  job j = {.x = nb, .n = n, .k = k, .partial = partial};
  fitcl__pool_run(fitcl__ctx_pool(ctx), nblocks, nb_task, &j);
  return FITCL_OK;
}

/* Rows of one block against every willingness to pay, the values side by
 * side: for each row, each value's accumulators take the step
 * fitcl_voi_wtp_row takes in the OpenCL kernel (the same operations in the
 * same row order), with the count kept per strategy so the loop over the
 * values has no scatter and vectorises.  K is the number of strategies
 * (0: any, read from k). */
#define WTP_ROWS_K(K)                                                                    \
  FITCL__CLONES FLATTEN static void wtp_rows_##K(                                                \
      const double *restrict c, const double *restrict e, int rows, int k,               \
      const double *restrict wtp, int nw, double *restrict s, double *restrict corr,     \
      int *restrict cnt) {                                                                \
    const int kk = K ? K : k;                                                             \
    for (int r = 0; r < rows; ++r) {                                                      \
      const double *cr = c + (size_t)r * (size_t)kk, *er = e + (size_t)r * (size_t)kk;    \
      for (int w = 0; w < nw; ++w) {                                                      \
        int a;                                                                            \
        const double m = fitcl_voi_row_max_nb(cr, er, 1, kk, wtp[w], &a);                 \
        fitcl_twosum_add(&s[w], &corr[w], m);                                             \
        for (int q = 0; q < kk; ++q) cnt[q * WTP_MAX + w] += a == q;                      \
      }                                                                                   \
    }                                                                                     \
  }
#define WTP_MAX 128 /* values per call (kernels/voi.c) */
WTP_ROWS_K(0)
WTP_ROWS_K(2)
WTP_ROWS_K(3)
WTP_ROWS_K(4)
WTP_ROWS_K(5)
WTP_ROWS_K(6)
WTP_ROWS_K(8)

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
  double s[WTP_MAX], corr[WTP_MAX];
  int cnt[FITCL_VOI_MAX_STRATEGIES * WTP_MAX];
  for (int w = 0; w < nw; ++w) s[w] = corr[w] = 0.0;
  for (int q = 0; q < k; ++q)
    for (int w = 0; w < nw; ++w) cnt[q * WTP_MAX + w] = 0;
  switch (k) {
  case 2: wtp_rows_2(c, e, rows, k, j->wtp, nw, s, corr, cnt); break;
  case 3: wtp_rows_3(c, e, rows, k, j->wtp, nw, s, corr, cnt); break;
  case 4: wtp_rows_4(c, e, rows, k, j->wtp, nw, s, corr, cnt); break;
  case 5: wtp_rows_5(c, e, rows, k, j->wtp, nw, s, corr, cnt); break;
  case 6: wtp_rows_6(c, e, rows, k, j->wtp, nw, s, corr, cnt); break;
  case 8: wtp_rows_8(c, e, rows, k, j->wtp, nw, s, corr, cnt); break;
  default: wtp_rows_0(c, e, rows, k, j->wtp, nw, s, corr, cnt);
  }
  for (int w = 0; w < nw; ++w) {
    double *o = out + FITCL_VOI_WTP_HEAD(k) + w * FITCL_VOI_WTP_STRIDE(k);
    o[0] = s[w];
    o[1] = corr[w];
    for (int q = 0; q < k; ++q) o[2 + q] = (double)cnt[q * WTP_MAX + w];
  }
}

static fitcl_status wtp_blocks(fitcl_context *ctx, const double *c, const double *e, size_t n,
                               int k, const double *wtp, int nwtp, double *partial,
                               size_t nblocks) {
  if (nwtp > WTP_MAX) return fitcl__fail(ctx, FITCL_ERR_INTERNAL, "sweep call over %d values", nwtp);
  job j = {.c = c, .e = e, .wtp = wtp, .n = n, .k = k, .nwtp = nwtp, .partial = partial};
  fitcl__pool_run(fitcl__ctx_pool(ctx), nblocks, wtp_task, &j);
  return FITCL_OK;
}

const fitcl__voi_ops fitcl__voi_cpu_ops = {nb_blocks, wtp_blocks};
