/* Kernels of the Jacobian accumulation in mixed and single precision
 * (docs/precision.md), instantiated once per model like accum_kernel.h.
 * The generated source defines FITCL_NP, FITCL_NV, the model functions
 * fitcl_model_fj / fitcl_model_f on float, and FITCL_SUM_KIND:
 *
 *   0  mixed, device with fp64: per point in float (data, parameters, the
 *      model and its Jacobian), then everything after it in double
 *      (fitcl_real): residual, loss, the products (a float x float product
 *      is exact in double) and the block sums;
 *   1  mixed, device without fp64: per point in float, each product split
 *      exactly into two floats (fma) and summed as a compensated float pair
 *      (hi, lo), which the host reads as the double hi + lo;
 *   2  single: float throughout, plain float sums.
 *
 * Kinds 1 and 2 are built with FITCL_REAL_FLOAT (fitcl_real is float, so a
 * QR pass rotates its rows in float there); every kind with
 * -cl-single-precision-constant, and kind 1 on a device without fp64.  As
 * in accum_kernel.h one work-item reduces one block of FITCL_REDUCE_BLOCK
 * points in index order, and the combine kernels add FITCL_ACCUM_COMBINE
 * block partials in block order: the same bits for any work-group size.
 * Only used inside OpenCL C. */
#ifndef FITCL_CL_COMMON_ACCUM_KERNEL_MP_H
#define FITCL_CL_COMMON_ACCUM_KERNEL_MP_H
#include "common/accum_point.h"
#include "common/accum_qr.h"
#include "common/ksum.h"

#ifdef __OPENCL_VERSION__

#define FITCL_NSUMS FITCL_ACCUM_NSUMS(FITCL_NP)
#define FITCL_NVX (FITCL_NV > 0 ? FITCL_NV : 1)
#define FITCL_ACCUM_COMBINE 64
#define FITCL_QR_M (FITCL_NP + 1)
#define FITCL_NQR FITCL_ACCUM_NQR(FITCL_NP)
#include "common/accum_qr_block.h"

#if FITCL_SUM_KIND == 1
/* A compensated float pair: s.x the running sum, s.y the rounding errors. */
typedef float2 fitcl_acc;
#define FITCL_ACC_ZERO ((float2)(0.0f, 0.0f))
inline void fitcl_acc_add(fitcl_acc *s, float v) {
  float t = s->x + v, bp = t - s->x;
  s->y += (s->x - (t - bp)) + (v - bp);
  s->x = t;
}
/* a * b = p + e exactly (fma), both halves summed. */
inline void fitcl_acc_addprod(fitcl_acc *s, float a, float b) {
  float p = a * b, e = fma(a, b, -p);
  fitcl_acc_add(s, p);
  s->y += e;
}
/* Adds pair v: its sum with compensation, its errors to ours. */
inline void fitcl_acc_merge(fitcl_acc *s, fitcl_acc v) {
  fitcl_acc_add(s, v.x);
  s->y += v.y;
}
#else
typedef fitcl_real fitcl_acc;
#define FITCL_ACC_ZERO ((fitcl_real)0)
inline void fitcl_acc_add(fitcl_acc *s, fitcl_real v) { *s += v; }
inline void fitcl_acc_addprod(fitcl_acc *s, fitcl_real a, fitcl_real b) { *s += a * b; }
#endif

/* Column j of the data (as in accum_kernel.h). */
#define FITCL_XCOL(j) ((j) == 0 ? x : x1 + off1 + ((j) - 1) * ld)

/* The model and loss terms of point i: f and J in float, then the residual
 * rt, rho, z and (when `jac`) the Jacobian row scaled by the loss's IRLS
 * weight in fitcl_real. */
inline void fitcl_accum_eval_mp(const float *p, __global const float *x,
                                __global const float *x1, long off1, long ld, long i,
                                __global const float *y, __global const float *sigma,
                                int has_sigma, int loss, fitcl_real c2, fitcl_real inv_c2,
                                const int jac, fitcl_real *J, fitcl_real *rt, fitcl_real *rho,
                                fitcl_real *z) {
  float xv[FITCL_NVX], f, Jf[FITCL_NP];
  for (int j = 0; j < FITCL_NV; ++j) xv[j] = FITCL_XCOL(j)[i];
  if (jac) fitcl_model_fj(p, xv, &f, Jf);
  else fitcl_model_f(p, xv, &f, Jf);
  fitcl_real is = has_sigma ? (fitcl_real)1 / (fitcl_real)sigma[i] : (fitcl_real)1;
  fitcl_real r = ((fitcl_real)y[i] - (fitcl_real)f) * is, sc;
  *z = r * r;
  if (loss == FITCL_LOSS_ID_LINEAR) {
    sc = is;
    *rt = r;
    *rho = r * r;
  } else {
    fitcl_real rh, r1, w;
    fitcl_loss_eval(loss, r * r, c2, inv_c2, &rh, &r1, &w);
    fitcl_real sw = sqrt(w);
    sc = is * sw;
    *rt = r1 * r / sw;
    *rho = rh;
  }
  if (jac)
    for (int k = 0; k < FITCL_NP; ++k) J[k] = (fitcl_real)Jf[k] * sc;
}

#define FITCL_MP_HEAD                                                           \
  const int has_sigma = flags & 1, loss = flags >> 1;                           \
  const long b = get_global_id(0);                                              \
  const long begin = b * FITCL_REDUCE_BLOCK;                                    \
  if (begin >= n) return;                                                       \
  const long end = min(begin + (long)FITCL_REDUCE_BLOCK, n);                    \
  float p[FITCL_NP];                                                            \
  for (int k = 0; k < FITCL_NP; ++k) p[k] = params[k]
#define FITCL_MP_ARGS                                                           \
  __global const float *params, __global const float *x, const long ld,         \
      __global const float *y, __global const float *sigma, const int flags,    \
      const long n, const fitcl_real c2, const fitcl_real inv_c2

/* The fused pass: upper triangle of JᵀJ, Jᵀr, Σrho and Σr² per block. */
__kernel void fitcl_accum_fused_mp(FITCL_MP_ARGS, __global fitcl_acc *partial,
                                   __global const float *x1, const long off1) {
  FITCL_MP_HEAD;
  fitcl_acc acc[FITCL_NSUMS];
  for (int s = 0; s < FITCL_NSUMS; ++s) acc[s] = FITCL_ACC_ZERO;
  for (long i = begin; i < end; ++i) {
    fitcl_real J[FITCL_NP], rt, rho, z;
    fitcl_accum_eval_mp(p, x, x1, off1, ld, i, y, sigma, has_sigma, loss, c2, inv_c2, 1, J, &rt,
                        &rho, &z);
    int t = 0;
    for (int k = 0; k < FITCL_NP; ++k)
      for (int l = k; l < FITCL_NP; ++l) fitcl_acc_addprod(&acc[t++], J[k], J[l]);
    for (int k = 0; k < FITCL_NP; ++k) fitcl_acc_addprod(&acc[t++], J[k], rt);
    fitcl_acc_add(&acc[t++], rho);
    fitcl_acc_add(&acc[t++], z);
  }
  __global fitcl_acc *out = partial + b * FITCL_NSUMS;
  for (int s = 0; s < FITCL_NSUMS; ++s) out[s] = acc[s];
}

/* The cost-only pass: Σrho and Σr² per block (only f is evaluated). */
__kernel void fitcl_accum_cost_mp(FITCL_MP_ARGS, __global fitcl_acc *partial,
                                  __global const float *x1, const long off1) {
  FITCL_MP_HEAD;
  fitcl_acc srho = FITCL_ACC_ZERO, sz = FITCL_ACC_ZERO;
  for (long i = begin; i < end; ++i) {
    fitcl_real J[FITCL_NP], rt, rho, z;
    fitcl_accum_eval_mp(p, x, x1, off1, ld, i, y, sigma, has_sigma, loss, c2, inv_c2, 0, J, &rt,
                        &rho, &z);
    fitcl_acc_add(&srho, rho);
    fitcl_acc_add(&sz, z);
  }
  partial[2 * b] = srho;
  partial[2 * b + 1] = sz;
}

/* The QR pass: each work-item rotates the weighted rows [J | rt] of one
 * block into the block's triangle (in fitcl_real) and sums Σrho, Σr². */
__kernel void fitcl_accum_qr_mp(FITCL_MP_ARGS, __global fitcl_real *partial,
                                __global const float *x1, const long off1) {
  FITCL_MP_HEAD;
  fitcl_real T[FITCL_QR_TRI(FITCL_QR_M)];
  for (int q = 0; q < FITCL_QR_TRI(FITCL_QR_M); ++q) T[q] = 0;
  fitcl_real srho = 0, sz = 0;
  for (long i = begin; i < end; ++i) {
    fitcl_real J[FITCL_NP], rt, rho, z;
    fitcl_accum_eval_mp(p, x, x1, off1, ld, i, y, sigma, has_sigma, loss, c2, inv_c2, 1, J, &rt,
                        &rho, &z);
    fitcl_accum_qr_point(T, J, rt);
    srho += rho;
    sz += z;
  }
  fitcl_accum_qr_store(partial, b, T, srho, sz);
}

/* Merges FITCL_ACCUM_COMBINE consecutive block triangles in block order
 * (common/accum_qr_block.h), in fitcl_real. */
__kernel void fitcl_accum_qr_combine_mp(__global fitcl_real *partial, const long nblocks,
                                        __global fitcl_real *out) {
  fitcl_accum_qr_merge_group(partial, nblocks, get_global_id(0), out);
}

/* Adds FITCL_ACCUM_COMBINE consecutive block partials in order: work-item
 * (g, s) writes out[g * stride + s]; pairs stay pairs (the host adds their
 * halves in double), the other kinds are summed with compensation. */
__kernel void fitcl_accum_combine_mp(__global const fitcl_acc *partial, const long nblocks,
                                     const int stride, __global fitcl_acc *out) {
  const long gid = get_global_id(0);
  const long g = gid / stride;
  const int s = (int)(gid % stride);
  const long b0 = g * FITCL_ACCUM_COMBINE;
  if (b0 >= nblocks) return;
  const long b1 = min(b0 + (long)FITCL_ACCUM_COMBINE, nblocks);
#if FITCL_SUM_KIND == 1
  fitcl_acc sum = FITCL_ACC_ZERO;
  for (long b = b0; b < b1; ++b) fitcl_acc_merge(&sum, partial[b * stride + s]);
  out[g * stride + s] = sum;
#else
  fitcl_real sum = 0, c = 0;
  for (long b = b0; b < b1; ++b) fitcl_kahan_add(&sum, &c, partial[b * stride + s]);
  out[g * stride + s] = sum + c;
#endif
}

#endif
#endif
