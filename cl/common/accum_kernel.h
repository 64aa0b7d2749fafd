/* Kernels of the Jacobian accumulation, instantiated once per model.  The
 * source generated for a model defines FITCL_NP (parameters), FITCL_NV
 * (variables), FITCL_LOSS (a FITCL_LOSS_ID_*) and the functions
 * fitcl_model_fj / fitcl_model_f, then includes this file; the whole text
 * goes through the program cache (it is the key), so a model is compiled
 * once per device, ever, whatever the chunk lengths.
 *
 * One work-item reduces one block of FITCL_REDUCE_BLOCK consecutive points
 * (counted from the chunk start) in index order, so the partial sums do not
 * depend on the work-group size the driver picks; fitcl_accum_combine adds
 * FITCL_ACCUM_COMBINE block partials in order with compensation, and the
 * host adds those in order.  Only used inside OpenCL C. */
#ifndef FITCL_CL_COMMON_ACCUM_KERNEL_H
#define FITCL_CL_COMMON_ACCUM_KERNEL_H
#include "common/accum.h"
#include "common/reduce.h"

#ifdef __OPENCL_VERSION__

#define FITCL_NSUMS FITCL_ACCUM_NSUMS(FITCL_NP)
#define FITCL_NVX (FITCL_NV > 0 ? FITCL_NV : 1)
#define FITCL_ACCUM_COMBINE 64

/* Residual and loss weights of one point: *sc scales the Jacobian row,
 * *rt is the residual that multiplies it in Jᵀr. */
inline void fitcl_accum_point(double f, double yv, double is, double c2, double inv_c2,
                              double *sc, double *rt, double *rho, double *z) {
  double r = (yv - f) * is;
  *z = r * r;
#if FITCL_LOSS == FITCL_LOSS_ID_LINEAR
  (void)c2;
  (void)inv_c2;
  *sc = is;
  *rt = r;
  *rho = r * r;
#else
  double rh, r1, w;
  fitcl_loss_eval(FITCL_LOSS, r * r, c2, inv_c2, &rh, &r1, &w);
  double sw = sqrt(w);
  *sc = is * sw;
  *rt = r1 * r / sw;
  *rho = rh;
#endif
}

inline void fitcl_accum_load(__global const double *x, long ld, long i, double *xv) {
  for (int j = 0; j < FITCL_NV; ++j) xv[j] = x[j * ld + i];
}

/* The fused pass: residuals, Jacobian rows in registers, upper triangle of
 * JᵀJ, Jᵀr, Σrho and Σr² per block. */
__kernel void fitcl_accum_fused(__global const double *params, __global const double *x,
                                const long ld, __global const double *y,
                                __global const double *sigma, const int has_sigma,
                                const long n, const double c2, const double inv_c2,
                                __global double *partial) {
  const long b = get_global_id(0);
  const long begin = b * FITCL_REDUCE_BLOCK;
  if (begin >= n) return;
  const long end = min(begin + (long)FITCL_REDUCE_BLOCK, n);
  double p[FITCL_NP];
  for (int k = 0; k < FITCL_NP; ++k) p[k] = params[k];
  double acc[FITCL_NSUMS];
  for (int s = 0; s < FITCL_NSUMS; ++s) acc[s] = 0.0;
  for (long i = begin; i < end; ++i) {
    double xv[FITCL_NVX];
    fitcl_accum_load(x, ld, i, xv);
    double f, J[FITCL_NP];
    fitcl_model_fj(p, xv, &f, J);
    double sc, rt, rho, z;
    fitcl_accum_point(f, y[i], has_sigma ? 1.0 / sigma[i] : 1.0, c2, inv_c2, &sc, &rt, &rho, &z);
    for (int k = 0; k < FITCL_NP; ++k) J[k] *= sc;
    int t = 0;
    for (int k = 0; k < FITCL_NP; ++k)
      for (int l = k; l < FITCL_NP; ++l) acc[t++] += J[k] * J[l];
    for (int k = 0; k < FITCL_NP; ++k) acc[t++] += J[k] * rt;
    acc[t++] += rho;
    acc[t++] += z;
  }
  __global double *out = partial + b * FITCL_NSUMS;
  for (int s = 0; s < FITCL_NSUMS; ++s) out[s] = acc[s];
}

/* The cost-only pass: Σrho and Σr² per block (only f is evaluated). */
__kernel void fitcl_accum_cost(__global const double *params, __global const double *x,
                               const long ld, __global const double *y,
                               __global const double *sigma, const int has_sigma,
                               const long n, const double c2, const double inv_c2,
                               __global double *partial) {
  const long b = get_global_id(0);
  const long begin = b * FITCL_REDUCE_BLOCK;
  if (begin >= n) return;
  const long end = min(begin + (long)FITCL_REDUCE_BLOCK, n);
  double p[FITCL_NP];
  for (int k = 0; k < FITCL_NP; ++k) p[k] = params[k];
  double srho = 0.0, sz = 0.0;
  for (long i = begin; i < end; ++i) {
    double xv[FITCL_NVX];
    fitcl_accum_load(x, ld, i, xv);
    double f, J[FITCL_NP];
    fitcl_model_f(p, xv, &f, J);
    double sc, rt, rho, z;
    fitcl_accum_point(f, y[i], has_sigma ? 1.0 / sigma[i] : 1.0, c2, inv_c2, &sc, &rt, &rho, &z);
    srho += rho;
    sz += z;
  }
  partial[2 * b] = srho;
  partial[2 * b + 1] = sz;
}

/* The materialised path: writes the weighted Jacobian G (n x FITCL_NP,
 * row-major) and the weighted residuals for CLBlast Dsyrk/Dgemv, and the
 * per-block Σrho, Σr². */
__kernel void fitcl_accum_materialise(__global const double *params, __global const double *x,
                                      const long ld, __global const double *y,
                                      __global const double *sigma, const int has_sigma,
                                      const long n, const double c2, const double inv_c2,
                                      __global double *G, __global double *rtv,
                                      __global double *partial) {
  const long b = get_global_id(0);
  const long begin = b * FITCL_REDUCE_BLOCK;
  if (begin >= n) return;
  const long end = min(begin + (long)FITCL_REDUCE_BLOCK, n);
  double p[FITCL_NP];
  for (int k = 0; k < FITCL_NP; ++k) p[k] = params[k];
  double srho = 0.0, sz = 0.0;
  for (long i = begin; i < end; ++i) {
    double xv[FITCL_NVX];
    fitcl_accum_load(x, ld, i, xv);
    double f, J[FITCL_NP];
    fitcl_model_fj(p, xv, &f, J);
    double sc, rt, rho, z;
    fitcl_accum_point(f, y[i], has_sigma ? 1.0 / sigma[i] : 1.0, c2, inv_c2, &sc, &rt, &rho, &z);
    for (int k = 0; k < FITCL_NP; ++k) G[i * FITCL_NP + k] = J[k] * sc;
    rtv[i] = rt;
    srho += rho;
    sz += z;
  }
  partial[2 * b] = srho;
  partial[2 * b + 1] = sz;
}

/* Adds FITCL_ACCUM_COMBINE consecutive block partials in order with
 * compensation: work-item (g, s) writes out[g * stride + s]. */
__kernel void fitcl_accum_combine(__global const double *partial, const long nblocks,
                                  const int stride, __global double *out) {
  const long gid = get_global_id(0);
  const long g = gid / stride;
  const int s = (int)(gid % stride);
  const long b0 = g * FITCL_ACCUM_COMBINE;
  if (b0 >= nblocks) return;
  const long b1 = min(b0 + (long)FITCL_ACCUM_COMBINE, nblocks);
  double sum = 0.0, c = 0.0;
  for (long b = b0; b < b1; ++b) fitcl_kahan_add(&sum, &c, partial[b * stride + s]);
  out[g * stride + s] = sum + c;
}

#endif
#endif
