/* The QR pass's steps on a block, written once for the double kernels
 * (accum_kernel.h) and the mixed/single ones (accum_kernel_mp.h), in their
 * fitcl_real: a point's row into the block's triangle, the block's vector,
 * and the combine step.  Included by each after it defines FITCL_NP,
 * FITCL_QR_M (columns of a block's triangle: FITCL_NP + 1), FITCL_NQR
 * (values per block: the packed triangle, then Σrho and Σr²) and
 * FITCL_ACCUM_COMBINE.  OpenCL C only. */
#ifndef FITCL_CL_COMMON_ACCUM_QR_BLOCK_H
#define FITCL_CL_COMMON_ACCUM_QR_BLOCK_H
#include "common/accum_qr.h"
#include "common/ksum.h"

/* Rotates a point's weighted row [J | rt] into the block's triangle T. */
inline void fitcl_accum_qr_point(fitcl_real *T, const fitcl_real *J, fitcl_real rt) {
  fitcl_real v[FITCL_QR_M];
  for (int k = 0; k < FITCL_NP; ++k) v[k] = J[k];
  v[FITCL_NP] = rt;
  fitcl_qr_add_row(T, FITCL_QR_M, v, 0);
}

/* Block b's vector: its packed triangle, then Σrho and Σr². */
inline void fitcl_accum_qr_store(__global fitcl_real *partial, const long b, const fitcl_real *T,
                                 fitcl_real srho, fitcl_real sz) {
  __global fitcl_real *out = partial + b * FITCL_NQR;
  for (int q = 0; q < FITCL_QR_TRI(FITCL_QR_M); ++q) out[q] = T[q];
  out[FITCL_QR_TRI(FITCL_QR_M)] = srho;
  out[FITCL_QR_TRI(FITCL_QR_M) + 1] = sz;
}

/* Merges group g's FITCL_ACCUM_COMBINE consecutive block triangles in block
 * order: each later block's rows are rotated into the group's first
 * triangle, in place, and the Σrho and Σr² are added with compensation;
 * the group's vector goes to out[g * FITCL_NQR ...]. */
inline void fitcl_accum_qr_merge_group(__global fitcl_real *partial, const long nblocks,
                                       const long g, __global fitcl_real *out) {
  const long b0 = g * FITCL_ACCUM_COMBINE;
  if (b0 >= nblocks) return;
  const long b1 = min(b0 + (long)FITCL_ACCUM_COMBINE, nblocks);
  const int tri = FITCL_QR_TRI(FITCL_QR_M);
  __global fitcl_real *T = partial + b0 * FITCL_NQR;
  fitcl_real s0 = 0, c0 = 0, s1 = 0, c1 = 0;
  fitcl_kahan_add(&s0, &c0, T[tri]);
  fitcl_kahan_add(&s1, &c1, T[tri + 1]);
  for (long b = b0 + 1; b < b1; ++b) {
    __global const fitcl_real *U = partial + b * FITCL_NQR;
    for (int k = 0; k < FITCL_QR_M; ++k) {
      fitcl_real v[FITCL_QR_M];
      for (int l = 0; l < FITCL_QR_M; ++l) v[l] = l < k ? 0 : U[FITCL_QR_AT(FITCL_QR_M, k, l)];
      fitcl_qr_add_row_g(T, FITCL_QR_M, v, k);
    }
    fitcl_kahan_add(&s0, &c0, U[tri]);
    fitcl_kahan_add(&s1, &c1, U[tri + 1]);
  }
  __global fitcl_real *o = out + g * FITCL_NQR;
  for (int q = 0; q < tri; ++q) o[q] = T[q];
  o[tri] = s0 + c0;
  o[tri + 1] = s1 + c1;
}

#endif
