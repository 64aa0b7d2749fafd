/* Gain/loss likelihood kernels: transition matrices for every branch x
 * category x group in one launch, pruning with patterns as the parallel
 * dimension (one work-item per pattern runs the whole schedule, level after
 * level, in a single launch), the preorder gradient pass, and fixed block
 * sums.  The math is the pthreads backend's: every formula is a function of
 * common/gainloss.h or common/pruning.h, which both compile.  Contraction
 * into fused multiply-adds is off, as in the pthreads backend's C (built in
 * ISO C mode, where GCC does not contract), so a block's partials have the
 * same bits on both and a context over several devices may hand any block
 * to any of them. */
#pragma OPENCL FP_CONTRACT OFF
#include "common/gainloss.h"
#include "common/ksum.h"
#include "common/pruning.h"

/* par holds this evaluation's numbers in one buffer (one upload):
 * brlen[nn], set_a[nset], set_b[nset], pi1[ngroups]. */
__kernel void fitcl_gl_pmats(__global const double *par, const int nn, const int nset,
                             const int deriv, __global double *pm) {
  const int r = get_global_id(0);
  if (r >= nn * nset) return;
  __global const double *brlen = par, *set_a = par + nn, *set_b = par + nn + nset;
  const int s = r / nn, v = r % nn;
  double rec[FITCL_GL_PREC];
  if (deriv) fitcl_gl_pmat_deriv(set_a[s], set_b[s], brlen[v], rec);
  else fitcl_gl_pmat(set_a[s], set_b[s], brlen[v], rec);
  const int n = deriv ? FITCL_GL_PREC : 4;
  for (int k = 0; k < n; ++k) pm[(long)r * FITCL_GL_PREC + k] = rec[k];
}

#include "common/prune_kernel.h"

/* rows[(blk0 + b) * ncomp + q] = compensated sum, in pattern order, of
 * wv[q * cn + b * BLOCK ...]: the same order as the pthreads backend.  The
 * terms are double (fitcl_gl_block_rows), or the float kernels' gradient
 * terms (cl/lik_float.cl) summed in double: the mixed precision mode on a
 * device with fp64 (fitcl_gl_block_rows_f). */
#define GL_BLOCK_ROWS(name, term)                                                                 \
  __kernel void name(__global const term *wv, const long cn, const int ncomp, const long blk0,   \
                     const int nrows_comp, __global double *rows) {                              \
    const long id = get_global_id(0);                                                            \
    const long nblk = cn / FITCL_REDUCE_BLOCK;                                                   \
    if (id >= nblk * nrows_comp) return;                                                         \
    const long b = id / nrows_comp;                                                              \
    const int q = (int)(id % nrows_comp);                                                        \
    double s = 0.0, c = 0.0;                                                                     \
    __global const term *x = wv + (long)q * cn + b * FITCL_REDUCE_BLOCK;                         \
    for (int k = 0; k < FITCL_REDUCE_BLOCK; ++k) fitcl_kahan_add(&s, &c, x[k]);                  \
    rows[(blk0 + b) * ncomp + q] = s + c;                                                        \
  }
GL_BLOCK_ROWS(fitcl_gl_block_rows, double)
GL_BLOCK_ROWS(fitcl_gl_block_rows_f, float)

/* Batched P(t) for fitcl_gl_pmatrices: one matrix per work-item. */
__kernel void fitcl_gl_pmat_batch(__global const double *a, __global const double *b,
                                  __global const double *t, const long n, const int deriv,
                                  __global double *p, __global double *d) {
  const long i = get_global_id(0);
  if (i >= n) return;
  double r[FITCL_GL_PREC];
  if (deriv) {
    fitcl_gl_pmat_deriv(a[i], b[i], t[i], r);
    for (int k = 0; k < 6; ++k) d[6 * i + k] = r[4 + k];
  } else {
    fitcl_gl_pmat(a[i], b[i], t[i], r);
  }
  for (int k = 0; k < 4; ++k) p[4 * i + k] = r[k];
}
