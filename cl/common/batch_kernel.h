/* The batched-fit kernels: one launch advances every running fit by one
 * Levenberg-Marquardt iteration (common/batch_lm.h).  Included by the
 * program generated for a model (backends/opencl/batch_ocl.c), after
 *   FITCL_NP, FITCL_NV       the model's parameter and variable counts
 *   FITCL_BATCH_WG           work-group size of the work-group layout
 *   fitcl_model_fj(p, x, f, J)  the model's value and Jacobian at one point
 *
 * Two layouts, the same arithmetic per fit:
 *   fitcl_batch_item   one work-item per fit loops over its points (CPU
 *                      devices, where work-items of a group run as vector
 *                      lanes across fits; short fits on GPUs);
 *   fitcl_batch_group  one work-group per fit: its work-items share the
 *                      points, their sums meet in a fixed tree in local
 *                      memory, and work-item 0 takes the step (GPUs, where
 *                      the points of a fit are read coalesced).
 * A fit whose step ends it writes its results (fitcl_batch_finish); one
 * that goes on appends its index to the next launch's active list (an
 * atomic counter: the order of that list changes nothing in any fit).
 *
 * Arrays: y[f*y_fs + i*y_ps], and the same for the weights and for each
 * variable v with (offset, fit stride, point stride) = xdesc[3v..3v+2]
 * into xs; lim holds rows of lower then upper bounds (2 NP values, row
 * stride lim_fs: 0 when all fits share one row), fix rows of NP flags. */
#ifndef FITCL_CL_COMMON_BATCH_KERNEL_H
#define FITCL_CL_COMMON_BATCH_KERNEL_H
#include "common/batch_lm.h"
#include "common/vmath.h"

#define FITCL_BNS FITCL_BATCH_NSUMS(FITCL_NP)
#define FITCL_BREC FITCL_BST_SIZE(FITCL_NP)
#define FITCL_BNV (FITCL_NV > 0 ? FITCL_NV : 1)

/* The sums of fit f at the trial point T over points i0, i0+di, ... < n
 * into E[0..NS). */
inline void fitcl_batch_sums(uint f, const double *T, long i0, long di, long n,
                             __global const double *y, long y_fs, long y_ps,
                             __global const double *xs, __global const long *xdesc,
                             __global const double *w, long w_fs, long w_ps, int wkind, int est,
                             double *E) {
  for (int t = 0; t < FITCL_BNS; ++t) E[t] = 0.0;
  for (long i = i0; i < n; i += di) {
    double xv[FITCL_BNV], fv, J[FITCL_NP];
    for (int v = 0; v < FITCL_NV; ++v)
      xv[v] = xs[xdesc[3 * v] + (long)f * xdesc[3 * v + 1] + i * xdesc[3 * v + 2]];
    fitcl_model_fj(T, xv, &fv, J);
    double yv = y[(long)f * y_fs + i * y_ps];
    double wv = wkind ? w[(long)f * w_fs + i * w_ps] : 0.0;
    double logr = est == FITCL_BATCH_EST_POISSON && fv > 0 && yv > 0 ? fitcl_log(yv / fv) : 0.0;
    double r, s, c;
    fitcl_batch_point(est, wkind, yv, fv, wv, logr, &r, &s, &c);
    double g[FITCL_NP];
    for (int k = 0; k < FITCL_NP; ++k) g[k] = J[k] * s;
    int t = 0;
    for (int k = 0; k < FITCL_NP; ++k)
      for (int m = k; m < FITCL_NP; ++m, ++t) E[t] += g[k] * g[m];
    for (int k = 0; k < FITCL_NP; ++k, ++t) E[t] += g[k] * r;
    E[t] += c;
    E[t + 1] += r * r;
  }
}

/* The step of fit f after its sums E; writes its results when it ends,
 * else appends it to next. */
inline void fitcl_batch_advance(uint f, double *st, const double *E, __global const double *cfgv,
                                __global const double *lim, long lim_fs, __global const int *fix,
                                long fix_fs, __global uint *next, __global uint *count,
                                __global double *o_p, __global double *o_se, __global double *o_cov,
                                int want_cov, __global double *o_chi2, __global int *o_it,
                                __global int *o_st) {
  double cfg[FITCL_BCFG_SIZE], lo[FITCL_NP], hi[FITCL_NP];
  int fx[FITCL_NP];
  for (int q = 0; q < FITCL_BCFG_SIZE; ++q) cfg[q] = cfgv[q];
  for (int k = 0; k < FITCL_NP; ++k) {
    lo[k] = lim[(long)f * lim_fs + k];
    hi[k] = lim[(long)f * lim_fs + FITCL_NP + k];
    fx[k] = fix[(long)f * fix_fs + k];
  }
  int status = fitcl_batch_step(FITCL_NP, st, E, cfg, lo, hi, fx);
  if (status == FITCL_BST_RUNNING) {
    next[atomic_inc(count)] = f;
    return;
  }
  double P[FITCL_NP], se[FITCL_NP], cov[FITCL_NP * FITCL_NP], chi2;
  status = fitcl_batch_finish(FITCL_NP, st, status, cfg, fx, P, se, cov, want_cov, &chi2);
  for (int k = 0; k < FITCL_NP; ++k) {
    o_p[(long)f * FITCL_NP + k] = P[k];
    o_se[(long)f * FITCL_NP + k] = se[k];
  }
  if (want_cov)
    for (int k = 0; k < FITCL_NP * FITCL_NP; ++k) o_cov[(long)f * FITCL_NP * FITCL_NP + k] = cov[k];
  o_chi2[f] = chi2;
  o_it[f] = (int)st[FITCL_BST_ITER(FITCL_NP)] - 1;
  o_st[f] = status;
}

#define FITCL_BATCH_ARGS                                                                       \
  __global const uint *active, const uint nactive, __global uint *next, __global uint *count,  \
      __global double *recs, __global const double *y, const long y_fs, const long y_ps,       \
      __global const double *xs, __global const long *xdesc, __global const double *w,         \
      const long w_fs, const long w_ps, const int wkind, __global const double *lim,           \
      const long lim_fs, __global const int *fix, const long fix_fs,                           \
      __global const double *cfgv, __global double *o_p, __global double *o_se,                \
      __global double *o_cov, const int want_cov, __global double *o_chi2, __global int *o_it, \
      __global int *o_st

__kernel void fitcl_batch_item(FITCL_BATCH_ARGS) {
  const size_t g = get_global_id(0);
  if (g >= nactive) return;
  const uint f = active[g];
  __global double *rec = recs + (long)f * FITCL_BREC;
  double st[FITCL_BREC], E[FITCL_BNS], T[FITCL_NP];
  for (int q = 0; q < FITCL_BREC; ++q) st[q] = rec[q];
  for (int k = 0; k < FITCL_NP; ++k) T[k] = st[FITCL_BST_T(FITCL_NP) + k];
  const int est = (int)cfgv[FITCL_BCFG_EST];
  fitcl_batch_sums(f, T, 0, 1, (long)cfgv[FITCL_BCFG_NPOINTS], y, y_fs, y_ps, xs, xdesc, w, w_fs,
                   w_ps, wkind, est, E);
  fitcl_batch_advance(f, st, E, cfgv, lim, lim_fs, fix, fix_fs, next, count, o_p, o_se, o_cov,
                      want_cov, o_chi2, o_it, o_st);
  for (int q = 0; q < FITCL_BREC; ++q) rec[q] = st[q];
}

__kernel __attribute__((reqd_work_group_size(FITCL_BATCH_WG, 1, 1)))
void fitcl_batch_group(FITCL_BATCH_ARGS) {
  __local double red[FITCL_BATCH_WG * FITCL_BNS];
  __local double Tl[FITCL_NP];
  const size_t grp = get_group_id(0), lid = get_local_id(0);
  if (grp >= nactive) return; /* the whole group leaves together */
  const uint f = active[grp];
  __global double *rec = recs + (long)f * FITCL_BREC;
  for (size_t k = lid; k < FITCL_NP; k += FITCL_BATCH_WG) Tl[k] = rec[FITCL_BST_T(FITCL_NP) + k];
  barrier(CLK_LOCAL_MEM_FENCE);
  double T[FITCL_NP], E[FITCL_BNS];
  for (int k = 0; k < FITCL_NP; ++k) T[k] = Tl[k];
  const int est = (int)cfgv[FITCL_BCFG_EST];
  fitcl_batch_sums(f, T, (long)lid, FITCL_BATCH_WG, (long)cfgv[FITCL_BCFG_NPOINTS], y, y_fs,
                   y_ps, xs, xdesc, w, w_fs, w_ps, wkind, est, E);
  for (int t = 0; t < FITCL_BNS; ++t) red[lid * FITCL_BNS + t] = E[t];
  barrier(CLK_LOCAL_MEM_FENCE);
  /* A fixed tree: the same additions whatever the timing. */
  for (size_t s = FITCL_BATCH_WG / 2; s > 0; s >>= 1) {
    if (lid < s)
      for (int t = 0; t < FITCL_BNS; ++t) red[lid * FITCL_BNS + t] += red[(lid + s) * FITCL_BNS + t];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid != 0) return;
  double st[FITCL_BREC];
  for (int q = 0; q < FITCL_BREC; ++q) st[q] = rec[q];
  for (int t = 0; t < FITCL_BNS; ++t) E[t] = red[t];
  fitcl_batch_advance(f, st, E, cfgv, lim, lim_fs, fix, fix_fs, next, count, o_p, o_se, o_cov,
                      want_cov, o_chi2, o_it, o_st);
  for (int q = 0; q < FITCL_BREC; ++q) rec[q] = st[q];
}

#endif
