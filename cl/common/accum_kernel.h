/* Kernels of the Jacobian accumulation, instantiated once per model.  The
 * source generated for a model defines FITCL_NP (parameters), FITCL_NV
 * (variables) and the functions
 * fitcl_model_fj / fitcl_model_f, then includes this file; the whole text
 * goes through the program cache (it is the key), so a model is compiled
 * once per device, ever, whatever the chunk lengths.
 *
 * A block of FITCL_REDUCE_BLOCK consecutive points (counted from the chunk
 * start) is reduced in eight lanes (fitcl_lanes8), so the partial sums do
 * not depend on the work-group size the driver picks and are the pthreads
 * path's; fitcl_accum_combine adds FITCL_ACCUM_COMBINE (= FITCL_ACCUM_GROUP)
 * block partials in order with compensation, and the host adds those
 * exactly.  Compiled without contraction (accum_ocl.c's source starts with
 * the pragma).  Only used inside OpenCL C. */
#ifndef FITCL_CL_COMMON_ACCUM_KERNEL_H
#define FITCL_CL_COMMON_ACCUM_KERNEL_H
#include "common/accum_point.h"
#include "common/accum_qr.h"
#include "common/ksum.h"

#ifdef __OPENCL_VERSION__

#define FITCL_NSUMS FITCL_ACCUM_NSUMS(FITCL_NP)
#define FITCL_NVX (FITCL_NV > 0 ? FITCL_NV : 1)
#define FITCL_ACCUM_COMBINE FITCL_ACCUM_GROUP

/* Residual and loss weights of one point: *sc scales the Jacobian row,
 * *rt is the residual that multiplies it in Jᵀr. */
inline void fitcl_accum_point(int loss, double f, double yv, double is, double c2,
                              double inv_c2, double *sc, double *rt, double *rho, double *z) {
  double r = (yv - f) * is;
  *z = r * r;
  if (loss == FITCL_LOSS_ID_LINEAR) {
    *sc = is;
    *rt = r;
    *rho = r * r;
  } else {
    double rh, r1, w;
    fitcl_loss_eval(loss, r * r, c2, inv_c2, &rh, &r1, &w);
    double sw = sqrt(w);
    *sc = is * sw;
    *rt = r1 * r / sw;
    *rho = rh;
  }
}

/* Column j of the data: x for j = 0, else x1 + off1 + (j - 1) * ld.  The
 * host passes x1 = x and off1 = ld for its own column-major buffer (column
 * j at x + j * ld), or, reading two caller columns in place, a buffer
 * wrapping each (off1 = 0). */
#define FITCL_XTAIL , __global const double *x1, const long off1
#define FITCL_XTAIL_ARGS , x1, off1
#define FITCL_XCOL(j) ((j) == 0 ? x : x1 + off1 + ((j) - 1) * ld)

inline void fitcl_accum_load(__global const double *x, __global const double *x1, long off1,
                             long ld, long i, double *xv) {
  for (int j = 0; j < FITCL_NV; ++j) xv[j] = FITCL_XCOL(j)[i];
}

/* The model and loss terms of point i: rt, rho and z (fitcl_accum_point)
 * and, when `jac` (a constant at every call site), the Jacobian row scaled
 * by the loss's IRLS weight; otherwise J is scratch.  Every scalar kernel
 * evaluates its points through this one function. */
inline void fitcl_accum_eval(const double *p, __global const double *x, __global const double *x1,
                             long off1, long ld, long i, __global const double *y,
                             __global const double *sigma, int has_sigma, int loss, double c2,
                             double inv_c2, const int jac, double *J, double *rt, double *rho,
                             double *z) {
  double xv[FITCL_NVX];
  fitcl_accum_load(x, x1, off1, ld, i, xv);
  double f, sc;
  if (jac) fitcl_model_fj(p, xv, &f, J);
  else fitcl_model_f(p, xv, &f, J);
  fitcl_accum_point(loss, f, y[i], has_sigma ? 1.0 / sigma[i] : 1.0, c2, inv_c2, &sc, rt, rho, z);
  if (jac)
    for (int k = 0; k < FITCL_NP; ++k) J[k] *= sc;
}

/* One point's contribution to the fused sums, added into acc[FITCL_NSUMS]:
 * the upper triangle of JᵀJ, then Jᵀr, Σrho and Σr², with J and r scaled
 * by the loss's IRLS weights. */
inline void fitcl_accum_add_point(const double *p, __global const double *x,
                                  __global const double *x1, long off1, long ld, long i,
                                  __global const double *y, __global const double *sigma,
                                  int has_sigma, int loss, double c2, double inv_c2,
                                  double *acc) {
  double J[FITCL_NP], rt, rho, z;
  fitcl_accum_eval(p, x, x1, off1, ld, i, y, sigma, has_sigma, loss, c2, inv_c2, 1, J, &rt, &rho, &z);
  int t = 0;
  for (int k = 0; k < FITCL_NP; ++k)
    for (int l = k; l < FITCL_NP; ++l) acc[t++] += J[k] * J[l];
  for (int k = 0; k < FITCL_NP; ++k) acc[t++] += J[k] * rt;
  acc[t++] += rho;
  acc[t++] += z;
}

/* A block's sums are kept in eight lanes (point i of the block in lane
 * i % 8) and the lanes added pairwise at the end: the order of the pthreads
 * path (accum_cpu.c), so a block's sums have the same bits on every
 * backend computing in double.  Entry s of the lanes acc[8][...]. */
#define fitcl_lanes8(acc, s)                                                   \
  ((((acc)[0][s] + (acc)[1][s]) + ((acc)[2][s] + (acc)[3][s])) +               \
   (((acc)[4][s] + (acc)[5][s]) + ((acc)[6][s] + (acc)[7][s])))

/* Work-item-per-block variants (suffix _loop), used where a work-group of
 * FITCL_REDUCE_BLOCK items is not available.
 * The fused pass: residuals, Jacobian rows in registers, upper triangle of
 * JᵀJ, Jᵀr, Σrho and Σr² per block. */
__kernel void fitcl_accum_fused_loop(__global const double *params, __global const double *x,
                                const long ld, __global const double *y,
                                __global const double *sigma, const int flags,
                                const long n, const double c2, const double inv_c2,
                                __global double *partial FITCL_XTAIL) {
  /* flags: bit 0 = sigma given, bits 1.. = the loss (a run-time
   * argument, so one program serves every loss). */
  const int has_sigma = flags & 1, loss = flags >> 1;
  const long b = get_global_id(0);
  const long begin = b * FITCL_REDUCE_BLOCK;
  if (begin >= n) return;
  const long end = min(begin + (long)FITCL_REDUCE_BLOCK, n);
  double p[FITCL_NP];
  for (int k = 0; k < FITCL_NP; ++k) p[k] = params[k];
  double acc[8][FITCL_NSUMS];
  for (int l = 0; l < 8; ++l)
    for (int s = 0; s < FITCL_NSUMS; ++s) acc[l][s] = 0.0;
  for (long i = begin; i < end; ++i) {
    fitcl_accum_add_point(p, x, x1, off1, ld, i, y, sigma, has_sigma, loss, c2, inv_c2,
                          acc[(i - begin) & 7]);
  }
  __global double *out = partial + b * FITCL_NSUMS;
  for (int s = 0; s < FITCL_NSUMS; ++s) out[s] = fitcl_lanes8(acc, s);
}

/* The cost-only pass: Σrho and Σr² per block (only f is evaluated). */
__kernel void fitcl_accum_cost_loop(__global const double *params, __global const double *x,
                               const long ld, __global const double *y,
                               __global const double *sigma, const int flags,
                               const long n, const double c2, const double inv_c2,
                               __global double *partial FITCL_XTAIL) {
  /* flags: bit 0 = sigma given, bits 1.. = the loss (a run-time
   * argument, so one program serves every loss). */
  const int has_sigma = flags & 1, loss = flags >> 1;
  const long b = get_global_id(0);
  const long begin = b * FITCL_REDUCE_BLOCK;
  if (begin >= n) return;
  const long end = min(begin + (long)FITCL_REDUCE_BLOCK, n);
  double p[FITCL_NP];
  for (int k = 0; k < FITCL_NP; ++k) p[k] = params[k];
  double acc[8][2];
  for (int l = 0; l < 8; ++l) acc[l][0] = acc[l][1] = 0.0;
  for (long i = begin; i < end; ++i) {
    double J[FITCL_NP], rt, rho, z;
    fitcl_accum_eval(p, x, x1, off1, ld, i, y, sigma, has_sigma, loss, c2, inv_c2, 0, J, &rt, &rho, &z);
    acc[(i - begin) & 7][0] += rho;
    acc[(i - begin) & 7][1] += z;
  }
  partial[2 * b] = fitcl_lanes8(acc, 0);
  partial[2 * b + 1] = fitcl_lanes8(acc, 1);
}

/* The materialised path: writes the weighted Jacobian G (n x FITCL_NP,
 * row-major) and the weighted residuals for CLBlast Dsyrk/Dgemv, and the
 * per-block Σrho, Σr². */
__kernel void fitcl_accum_materialise_loop(__global const double *params, __global const double *x,
                                      const long ld, __global const double *y,
                                      __global const double *sigma, const int flags,
                                      const long n, const double c2, const double inv_c2,
                                      __global double *G, __global double *rtv,
                                      __global double *partial FITCL_XTAIL) {
  /* flags: bit 0 = sigma given, bits 1.. = the loss (a run-time
   * argument, so one program serves every loss). */
  const int has_sigma = flags & 1, loss = flags >> 1;
  const long b = get_global_id(0);
  const long begin = b * FITCL_REDUCE_BLOCK;
  if (begin >= n) return;
  const long end = min(begin + (long)FITCL_REDUCE_BLOCK, n);
  double p[FITCL_NP];
  for (int k = 0; k < FITCL_NP; ++k) p[k] = params[k];
  double srho = 0.0, sz = 0.0;
  for (long i = begin; i < end; ++i) {
    double J[FITCL_NP], rt, rho, z;
    fitcl_accum_eval(p, x, x1, off1, ld, i, y, sigma, has_sigma, loss, c2, inv_c2, 1, J, &rt, &rho, &z);
    for (int k = 0; k < FITCL_NP; ++k) G[i * FITCL_NP + k] = J[k];
    rtv[i] = rt;
    srho += rho;
    sz += z;
  }
  partial[2 * b] = srho;
  partial[2 * b + 1] = sz;
}


/* Work-group-per-block variants: one work-item per point (contiguous,
 * coalesced loads; PoCL vectorises across work-items).  The block's sums
 * are formed in local memory, up to FITCL_RB sums at a time: every item
 * stores its terms, then item q adds term q of the FITCL_REDUCE_BLOCK items
 * in eight lanes.  The order depends only on the block size, so results are
 * the same run to run (and the same order as the per-block loop). */
#define FITCL_RB 8 /* 16 KiB of local memory per group: fits every device */
/* Blocks per work-group: amortises the per-group cost (large on CPU
 * devices) without changing which points form a block. */
#define FITCL_BPG 8

inline void fitcl_wg_reduce(__local double *red, const double *v, const int nsums,
                            __global double *out) {
  const int lid = (int)get_local_id(0);
  const int rb = nsums < FITCL_RB ? nsums : FITCL_RB;
  for (int s0 = 0; s0 < nsums; s0 += rb) {
    for (int q = 0; q < rb; ++q) red[lid * rb + q] = s0 + q < nsums ? v[s0 + q] : 0.0;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid < rb && s0 + lid < nsums) {
      double acc[8][1] = {{0.0}, {0.0}, {0.0}, {0.0}, {0.0}, {0.0}, {0.0}, {0.0}};
      for (int j = 0; j < FITCL_REDUCE_BLOCK; ++j) acc[j & 7][0] += red[j * rb + lid];
      out[s0 + lid] = fitcl_lanes8(acc, 0);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
}

__kernel __attribute__((reqd_work_group_size(FITCL_REDUCE_BLOCK, 1, 1)))
void fitcl_accum_fused(__global const double *params, __global const double *x, const long ld,
                       __global const double *y, __global const double *sigma,
                       const int flags, const long n, const double c2, const double inv_c2,
                       __global double *partial FITCL_XTAIL) {
  /* flags: bit 0 = sigma given, bits 1.. = the loss (a run-time
   * argument, so one program serves every loss). */
  const int has_sigma = flags & 1, loss = flags >> 1;
  __local double red[FITCL_RB * FITCL_REDUCE_BLOCK];
  for (int jb = 0; jb < FITCL_BPG; ++jb) {
    const long b = get_group_id(0) * FITCL_BPG + jb;
    if (b * FITCL_REDUCE_BLOCK >= n) break; /* uniform across the group */
    const long i = b * FITCL_REDUCE_BLOCK + get_local_id(0);
    double v[FITCL_NSUMS];
    for (int s = 0; s < FITCL_NSUMS; ++s) v[s] = 0.0;
    /* Out-of-range items compute on the last point and contribute zero:
     * no divergent branch around the model, so PoCL can vectorise it. */
    const long ic = i < n ? i : n - 1;
    {
      double p[FITCL_NP];
      for (int k = 0; k < FITCL_NP; ++k) p[k] = params[k];
      double J[FITCL_NP], rt, rho, z;
      fitcl_accum_eval(p, x, x1, off1, ld, ic, y, sigma, has_sigma, loss, c2, inv_c2, 1, J, &rt, &rho, &z);
      int t = 0;
      for (int k = 0; k < FITCL_NP; ++k)
        for (int l = k; l < FITCL_NP; ++l) v[t++] = J[k] * J[l];
      for (int k = 0; k < FITCL_NP; ++k) v[t++] = J[k] * rt;
      v[t++] = rho;
      v[t++] = z;
    }
    for (int s = 0; s < FITCL_NSUMS; ++s) v[s] = i < n ? v[s] : 0.0;
    fitcl_wg_reduce(red, v, FITCL_NSUMS, partial + b * FITCL_NSUMS);
  }
}

__kernel __attribute__((reqd_work_group_size(FITCL_REDUCE_BLOCK, 1, 1)))
void fitcl_accum_cost(__global const double *params, __global const double *x, const long ld,
                      __global const double *y, __global const double *sigma,
                      const int flags, const long n, const double c2, const double inv_c2,
                      __global double *partial FITCL_XTAIL) {
  /* flags: bit 0 = sigma given, bits 1.. = the loss (a run-time
   * argument, so one program serves every loss). */
  const int has_sigma = flags & 1, loss = flags >> 1;
  __local double red[FITCL_RB * FITCL_REDUCE_BLOCK];
  for (int jb = 0; jb < FITCL_BPG; ++jb) {
    const long b = get_group_id(0) * FITCL_BPG + jb;
    if (b * FITCL_REDUCE_BLOCK >= n) break; /* uniform across the group */
    const long i = b * FITCL_REDUCE_BLOCK + get_local_id(0);
    double v[2] = {0.0, 0.0};
    /* Out-of-range items compute on the last point and contribute zero:
     * no divergent branch around the model, so PoCL can vectorise it. */
    const long ic = i < n ? i : n - 1;
    {
      double p[FITCL_NP];
      for (int k = 0; k < FITCL_NP; ++k) p[k] = params[k];
      double J[FITCL_NP], rt;
      fitcl_accum_eval(p, x, x1, off1, ld, ic, y, sigma, has_sigma, loss, c2, inv_c2, 0, J, &rt, &v[0], &v[1]);
    }
    v[0] = i < n ? v[0] : 0.0;
    v[1] = i < n ? v[1] : 0.0;
    fitcl_wg_reduce(red, v, 2, partial + 2 * b);
  }
}

__kernel __attribute__((reqd_work_group_size(FITCL_REDUCE_BLOCK, 1, 1)))
void fitcl_accum_materialise(__global const double *params, __global const double *x,
                             const long ld, __global const double *y,
                             __global const double *sigma, const int flags, const long n,
                             const double c2, const double inv_c2, __global double *G,
                             __global double *rtv, __global double *partial FITCL_XTAIL) {
  /* flags: bit 0 = sigma given, bits 1.. = the loss (a run-time
   * argument, so one program serves every loss). */
  const int has_sigma = flags & 1, loss = flags >> 1;
  __local double red[FITCL_RB * FITCL_REDUCE_BLOCK];
  for (int jb = 0; jb < FITCL_BPG; ++jb) {
    const long b = get_group_id(0) * FITCL_BPG + jb;
    if (b * FITCL_REDUCE_BLOCK >= n) break; /* uniform across the group */
    const long i = b * FITCL_REDUCE_BLOCK + get_local_id(0);
    double v[2] = {0.0, 0.0};
    /* Out-of-range items compute on the last point and contribute zero:
     * no divergent branch around the model, so PoCL can vectorise it. */
    const long ic = i < n ? i : n - 1;
    {
      double p[FITCL_NP];
      for (int k = 0; k < FITCL_NP; ++k) p[k] = params[k];
      double J[FITCL_NP], rt;
      fitcl_accum_eval(p, x, x1, off1, ld, ic, y, sigma, has_sigma, loss, c2, inv_c2, 1, J, &rt, &v[0], &v[1]);
      if (i < n) {
        for (int k = 0; k < FITCL_NP; ++k) G[i * FITCL_NP + k] = J[k];
        rtv[i] = rt;
      }
    }
    v[0] = i < n ? v[0] : 0.0;
    v[1] = i < n ? v[1] : 0.0;
    fitcl_wg_reduce(red, v, 2, partial + 2 * b);
  }
}

#if defined(FITCL_HAVE_VEC8)
/* CPU-device variants (suffix _vec8), linear loss only (the host selects
 * them only then): each work-item sums FITCL_VEC8_BLOCKS blocks one after
 * another, each into its own partial, eight points per step in double8
 * (explicit vectors), lanes combined in a fixed order at the end of the
 * block, the remainder (< 8 points) scalar. */
/* Fully unrolled JᵀJ updates give every accumulator a constant index, so
 * it can stay in a register. */
#if defined(__clang__)
#define FITCL_UNROLL _Pragma("unroll")
#else
#define FITCL_UNROLL
#endif
/* Adds eight points' weighted rows (f, J at point i0) to the accumulators. */
#define FITCL_VEC8_SUMS(i0)                                                     \
  do {                                                                          \
    double8 is = has_sigma ? 1.0 / vload8(0, sigma + (i0)) : (double8)(1.0);   \
    double8 r = (vload8(0, y + (i0)) - f) * is;                                 \
    FITCL_UNROLL                                                                \
    for (int k = 0; k < FITCL_NP; ++k) J[k] *= is;                              \
    int t = 0;                                                                  \
    FITCL_UNROLL                                                                \
    for (int k = 0; k < FITCL_NP; ++k) {                                        \
      FITCL_UNROLL                                                              \
      for (int l = k; l < FITCL_NP; ++l) acc[t++] += J[k] * J[l];               \
    }                                                                           \
    FITCL_UNROLL                                                                \
    for (int k = 0; k < FITCL_NP; ++k) acc[t++] += J[k] * r;                    \
    acc[t++] += r * r;                                                          \
    acc[t++] += r * r;                                                          \
  } while (0)
inline double fitcl_hsum8(double8 a) {
  return ((a.s0 + a.s1) + (a.s2 + a.s3)) + ((a.s4 + a.s5) + (a.s6 + a.s7));
}

/* Adds eight points' squared residuals to the cost accumulator. */
#define FITCL_VEC8_COST(i0)                                                     \
  do {                                                                          \
    double8 is = has_sigma ? 1.0 / vload8(0, sigma + (i0)) : (double8)(1.0);   \
    double8 r = (vload8(0, y + (i0)) - f) * is;                                 \
    acc += r * r;                                                               \
  } while (0)

/* Runs STEP(i0) with f (and J) of points i0 .. i0+7 for every complete
 * eight-point step of [begin, end) of program NAME (fj or f), leaving i at
 * the first point not done: a full block in stages when the program has
 * them (each exp/log/... over the whole block, then the outputs step by
 * step; see src/expr/expr_stages.h), otherwise straight-line per step. */
#define FITCL_VEC8_STEPS(NAME, STEP)                                            \
  do {                                                                          \
    if (FITCL_STAGED_##NAME && end - begin == FITCL_REDUCE_BLOCK) {             \
      __global const double *xc[FITCL_NVX];                                     \
      for (int j = 0; j < FITCL_NV; ++j) xc[j] = FITCL_XCOL(j) + begin;         \
      double8 h[FITCL_NHEAVY_##NAME > 0 ? FITCL_NHEAVY_##NAME : 1][32];         \
      fitcl_model_##NAME##_heavy8(p, xc, h);                                    \
      for (int q = 0; q < 32; ++q) {                                            \
        double8 f, J[FITCL_NP];                                                 \
        fitcl_model_##NAME##_final8(p, xc, h, q, &f, J);                        \
        STEP(begin + 8 * q);                                                    \
      }                                                                         \
      i = end;                                                                  \
    }                                                                           \
    for (; i + 8 <= end; i += 8) {                                              \
      double8 xv[FITCL_NVX];                                                    \
      for (int j = 0; j < FITCL_NV; ++j) xv[j] = vload8(0, FITCL_XCOL(j) + i);  \
      double8 f, J[FITCL_NP];                                                   \
      fitcl_model_##NAME##8(p, xv, &f, J);                                      \
      STEP(i);                                                                  \
    }                                                                           \
  } while (0)

/* One block (b) of the fused or the cost-only kernel.  flags bits 1.. = the
 * loss (a run-time argument, so one program serves every loss); has_sigma
 * (flags bit 0) is a constant at each call, so the unweighted
 * instantiation multiplies by nothing. */
#define FITCL_VEC8_BLOCK_HEAD                                                   \
  const int loss = flags >> 1;                                                  \
  const long begin = b * FITCL_REDUCE_BLOCK;                                    \
  if (begin >= n) return;                                                       \
  const long end = min(begin + (long)FITCL_REDUCE_BLOCK, n);                    \
  double p[FITCL_NP];                                                           \
  for (int k = 0; k < FITCL_NP; ++k) p[k] = params[k];                          \
  long i = begin
#define FITCL_VEC8_BLOCK_ARGS                                                   \
  __global const double *params, __global const double *x, const long ld,       \
      __global const double *y, __global const double *sigma, const int flags,  \
      const long n, const double c2, const double inv_c2,                       \
      __global double *partial FITCL_XTAIL

FITCL_VEC8_INLINE void fitcl_accum_fused_vec8_block(FITCL_VEC8_BLOCK_ARGS, const long b,
                                                    const int has_sigma) {
  FITCL_VEC8_BLOCK_HEAD;
  double8 acc[FITCL_NSUMS];
  for (int s = 0; s < FITCL_NSUMS; ++s) acc[s] = (double8)(0.0);
  FITCL_VEC8_STEPS(fj, FITCL_VEC8_SUMS);
  if (i < end) {
    /* The last (< 8) points in their lanes, zeros in the others, as the
     * pthreads path pads a short block. */
    double tJ[FITCL_NP][8], tr[8];
    for (int l = 0; l < 8; ++l) {
      double Jl[FITCL_NP], rt = 0.0, rho, z;
      for (int k = 0; k < FITCL_NP; ++k) Jl[k] = 0.0;
      if (i + l < end)
        fitcl_accum_eval(p, x, x1, off1, ld, i + l, y, sigma, has_sigma, loss, c2, inv_c2, 1, Jl,
                         &rt, &rho, &z);
      for (int k = 0; k < FITCL_NP; ++k) tJ[k][l] = Jl[k];
      tr[l] = rt;
    }
    double8 J[FITCL_NP], r = vload8(0, tr);
    for (int k = 0; k < FITCL_NP; ++k) J[k] = vload8(0, tJ[k]);
    int t = 0;
    for (int k = 0; k < FITCL_NP; ++k)
      for (int l = k; l < FITCL_NP; ++l) acc[t++] += J[k] * J[l];
    for (int k = 0; k < FITCL_NP; ++k) acc[t++] += J[k] * r;
    acc[t++] += r * r;
    acc[t++] += r * r;
  }
  __global double *dst = partial + b * FITCL_NSUMS;
  for (int s = 0; s < FITCL_NSUMS; ++s) dst[s] = fitcl_hsum8(acc[s]);
}

FITCL_VEC8_INLINE void fitcl_accum_cost_vec8_block(FITCL_VEC8_BLOCK_ARGS, const long b,
                                                   const int has_sigma) {
  FITCL_VEC8_BLOCK_HEAD;
  (void)loss;
  double8 acc = (double8)(0.0);
  FITCL_VEC8_STEPS(f, FITCL_VEC8_COST);
  if (i < end) {
    /* The last (< 8) points in their lanes, as in the fused kernel. */
    double tr[8];
    for (int l = 0; l < 8; ++l) {
      double r = 0.0;
      if (i + l < end) {
        double xv[FITCL_NVX];
        fitcl_accum_load(x, x1, off1, ld, i + l, xv);
        double f, J[FITCL_NP];
        fitcl_model_f(p, xv, &f, J);
        r = (y[i + l] - f) * (has_sigma ? 1.0 / sigma[i + l] : 1.0);
      }
      tr[l] = r;
    }
    double8 r = vload8(0, tr);
    acc += r * r;
  }
  double sz = fitcl_hsum8(acc);
  /* Linear loss: rho = z. */
  partial[2 * b] = sz;
  partial[2 * b + 1] = sz;
}

/* Each work-item sums FITCL_VEC8_BLOCKS blocks, with or without weights. */
#define FITCL_VEC8_KERNEL(KIND)                                                 \
  __kernel void fitcl_accum_##KIND##_vec8(FITCL_VEC8_BLOCK_ARGS) {              \
    const long b0 = get_global_id(0) * FITCL_VEC8_BLOCKS;                       \
    for (long b = b0; b < b0 + FITCL_VEC8_BLOCKS; ++b)                          \
      if (flags & 1)                                                            \
        fitcl_accum_##KIND##_vec8_block(params, x, ld, y, sigma, flags, n, c2,  \
                                        inv_c2, partial FITCL_XTAIL_ARGS, b, 1); \
      else                                                                      \
        fitcl_accum_##KIND##_vec8_block(params, x, ld, y, sigma, flags, n, c2,  \
                                        inv_c2, partial FITCL_XTAIL_ARGS, b, 0); \
  }
FITCL_VEC8_KERNEL(fused)
FITCL_VEC8_KERNEL(cost)
#endif

/* The QR pass (cl/common/accum_qr.h), one work-item per group of
 * FITCL_ACCUM_GROUP blocks, in the pthreads path's steps and order
 * (accum_cpu.c: group_run_qr), so a group's vector has the same bits on
 * every backend: each block's weighted rows [G | rt] (in `scratch`, one
 * column of FITCL_REDUCE_BLOCK values after another) are reduced to a
 * triangle by Householder reflections, whose rows are rotated into the
 * group's triangle in block order; Σrho and Σr² per block in eight lanes,
 * the blocks' added with compensation.  The vector is the packed triangle
 * then those two. */
#define FITCL_QR_M (FITCL_NP + 1)
#define FITCL_NQR FITCL_ACCUM_NQR(FITCL_NP)

/* Fixed-order dot product of u[from..to) and v[from..to) in eight lanes
 * (accum_cpu.c: dot_range). */
inline double fitcl_qr_dot_range(__global const double *u, __global const double *v, long from,
                                 long to) {
  double acc[8][1] = {{0.0}, {0.0}, {0.0}, {0.0}, {0.0}, {0.0}, {0.0}, {0.0}};
  long i = from;
  for (; i + 8 <= to; i += 8)
    for (int l = 0; l < 8; ++l) acc[l][0] += u[i + l] * v[i + l];
  for (int l = 0; i < to; ++i, ++l) acc[l][0] += u[i] * v[i];
  return fitcl_lanes8(acc, 0);
}

/* Householder QR of the nb x FITCL_QR_M block A (column k at A + k *
 * FITCL_REDUCE_BLOCK), in place; the triangle goes to R (packed)
 * (accum_cpu.c: block_householder). */
inline void fitcl_qr_block_householder(__global double *A, long nb, double *R) {
  const int m = FITCL_QR_M;
  for (int k = 0; k < m; ++k) {
    __global double *ak = A + (long)k * FITCL_REDUCE_BLOCK;
    double s = k < nb ? fitcl_qr_dot_range(ak, ak, k, nb) : 0.0;
    double x0 = k < nb ? ak[k] : 0.0;
    double tail = s - x0 * x0;
    if (!(tail > 0)) {
      for (int j = k; j < m; ++j)
        R[FITCL_QR_AT(m, k, j)] = k < nb ? A[(long)j * FITCL_REDUCE_BLOCK + k] : 0.0;
      continue;
    }
    double alpha = x0 >= 0 ? -sqrt(s) : sqrt(s);
    double v0 = x0 - alpha, vtv = tail + v0 * v0;
    R[FITCL_QR_AT(m, k, k)] = alpha;
    for (int j = k + 1; j < m; ++j) {
      __global double *aj = A + (long)j * FITCL_REDUCE_BLOCK;
      double w = v0 * aj[k] + fitcl_qr_dot_range(ak, aj, k + 1, nb);
      double f = 2 * w / vtv;
      aj[k] -= f * v0;
      for (long i = k + 1; i < nb; ++i) aj[i] -= f * ak[i];
      R[FITCL_QR_AT(m, k, j)] = aj[k];
    }
  }
}

__kernel void fitcl_accum_qr_group(__global const double *params, __global const double *x,
                                   const long ld, __global const double *y,
                                   __global const double *sigma, const int flags, const long n,
                                   const double c2, const double inv_c2,
                                   __global double *partial, __global double *scratch
                                   FITCL_XTAIL) {
  const int has_sigma = flags & 1, loss = flags >> 1;
  const int m = FITCL_QR_M, tri = FITCL_QR_TRI(FITCL_QR_M);
  const long g = get_global_id(0);
  const long gp = (long)FITCL_ACCUM_GROUP * FITCL_REDUCE_BLOCK;
  const long begin = g * gp;
  if (begin >= n) return;
  const long end = min(begin + gp, n);
  __global double *A = scratch + g * (long)FITCL_QR_M * FITCL_REDUCE_BLOCK;
  double p[FITCL_NP];
  for (int k = 0; k < FITCL_NP; ++k) p[k] = params[k];
  double T[FITCL_QR_TRI(FITCL_QR_M)], Rb[FITCL_QR_TRI(FITCL_QR_M)], v[FITCL_QR_M];
  for (int q = 0; q < tri; ++q) T[q] = 0.0;
  double cs = 0, cc = 0, rs = 0, rc = 0;
  for (long b0 = begin; b0 < end; b0 += FITCL_REDUCE_BLOCK) {
    const long nb = min((long)FITCL_REDUCE_BLOCK, end - b0);
    double acc[8][2];
    for (int l = 0; l < 8; ++l) acc[l][0] = acc[l][1] = 0.0;
    for (long i = 0; i < nb; ++i) {
      double J[FITCL_NP], rt, rho, z;
      fitcl_accum_eval(p, x, x1, off1, ld, b0 + i, y, sigma, has_sigma, loss, c2, inv_c2, 1, J,
                       &rt, &rho, &z);
      for (int k = 0; k < FITCL_NP; ++k) A[(long)k * FITCL_REDUCE_BLOCK + i] = J[k];
      A[(long)FITCL_NP * FITCL_REDUCE_BLOCK + i] = rt;
      acc[i & 7][0] += rho;
      acc[i & 7][1] += z;
    }
    fitcl_qr_block_householder(A, nb, Rb);
    for (int k = 0; k < m && k < nb; ++k) {
      for (int l = 0; l < m; ++l) v[l] = l < k ? 0.0 : Rb[FITCL_QR_AT(m, k, l)];
      fitcl_qr_add_row(T, m, v, k);
    }
    double bc = fitcl_lanes8(acc, 0), br = fitcl_lanes8(acc, 1);
    fitcl_kahan_add(&cs, &cc, bc);
    fitcl_kahan_add(&rs, &rc, br);
  }
  __global double *out = partial + g * FITCL_NQR;
  for (int q = 0; q < tri; ++q) out[q] = T[q];
  out[tri] = cs + cc;
  out[tri + 1] = rs + rc;
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
