/* The likelihood kernels of cl/lik.cl in float, for the mixed and single
 * precision modes (docs/likelihood.md, "Precision"): the pruning and its
 * gradient per pattern, and the gradient's block sums as compensated float
 * pairs.  Its own program, with no `double` in it or in what it includes
 * (common/compat_float.h, not compat.h), so that it builds on a device
 * without cl_khr_fp64.  Every formula is common/pruning.h's. */
#include "common/compat_float.h"
#include "common/pruning.h"

/* Partials in tiles of `tile` patterns, [i / tile][node][category][state]
 * [i % tile], as in cl/lik.cl (which says why). */
#define PIDX(ni, c, x) ((((tb * nint + (ni)) * K + (c)) * 2 + (x)) * tile + tl)

/* The partials of child v in category c: a tip's state as its partial, or
 * the stored values of an internal node. */
#define CHILD_IN(v, c, x0, x1)                      \
  do {                                              \
    if ((v) < ntips) {                              \
      const int s_ = tips[(long)(v) * npx + p];     \
      x0 = fitcl_prune_tip0(s_);                    \
      x1 = fitcl_prune_tip1(s_);                    \
    } else {                                        \
      x0 = In[PIDX((v) - ntips, c, 0)];             \
      x1 = In[PIDX((v) - ntips, c, 1)];             \
    }                                               \
  } while (0)
#define SIDX(kc, c, x) ((((tb * maxdeg + (kc)) * K + (c)) * 2 + (x)) * tile + tl)

/* s + c += v with the addition's rounding error kept in c (TwoSum), when
 * comp; else a plain s += v (single precision: speed first). */
inline void tsum(float *s, float *c, float v, int comp) {
  const float t = *s + v, bp = t - *s;
  if (comp) *c += (*s - (t - bp)) + (v - bp);
  *s = t;
}

inline void load_p(__global const float *pm, long at, int n, float *P) {
  for (int k = 0; k < n; ++k) P[k] = pm[at + k];
}

/* One work-item per pattern runs the whole schedule, as fitcl_gl_prune in
 * cl/lik.cl does, in float: the transition matrices (pm), root
 * probabilities (pi1s) and weights come from the host as floats.  Each
 * pattern's result is its root sum lsum = K L 2^(40 s) in llf and its scale
 * count s in nsc: the host takes the log, divides by K and subtracts
 * s 40 log 2 in double, so neither the log nor a rescaling step costs
 * precision (a float log would add |log lsum| float epsilons, up to 3e-6,
 * to each pattern).  The log-likelihood's block sums are the host's; wv
 * holds the gradient terms (rows 1 ..), summed by fitcl_glf_block_rows or,
 * on a device with fp64, by fitcl_gl_block_rows_f. */
__kernel void fitcl_glf_prune(const int ntips, const int nn, const int nint, const int K,
                              const int maxdeg,
                              __global const fitcl_prune_step *sched,
                              __global const int *sched_child,
                              __global const uchar *tips, const long npx,
                              const long pofs, const long cn, __global const int *block_group,
                              __global const uchar *kind, __global const float *weight,
                              __global const float *pm, __global const float *pi1s,
                              const int root_grad, const int want_grad, const int branch_grad,
                              const int ncomp, const int tile, __global float *In,
                              __global float *Out,
                              __global float *Sb, __global float *llf, __global int *nsc,
                              __global float *wv, const int comp) {
  const long i = get_global_id(0);
  if (i >= cn) return;
  const long tb = i / tile, tl = i % tile;
  const long p = pofs + i;
  const int g = block_group[p / FITCL_REDUCE_BLOCK];
  __global const float *pmg = pm + (long)g * K * nn * FITCL_GL_PREC;
  const float pi1 = pi1s[g], pi0 = 1.0f - pi1;
  float P[FITCL_GL_PREC];
  int scale = 0;

  /* Postorder, child after child, each product step in place (the loop
   * order of cl/lik.cl, which says why). */
  for (int si = 0; si < nint; ++si) {
    const fitcl_prune_step st = sched[si];
    const int ui = st.node - ntips;
    float f = 1.0f;
    for (int j = 0; j < st.nchild; ++j) {
      const int v = sched_child[st.first + j];
      for (int c = 0; c < K; ++c) {
        load_p(pmg, ((long)c * nn + v) * FITCL_GL_PREC, 4, P);
        float i0, i1;
        CHILD_IN(v, c, i0, i1);
        fitcl_prune_child(P, i0, i1, j == 0, &In[PIDX(ui, c, 0)], &In[PIDX(ui, c, 1)]);
      }
      if (!fitcl_prune_check(j, st.nchild)) continue;
      float m = 0.0f;
      for (int c = 0; c < K; ++c) m = fitcl_prune_max(m, In[PIDX(ui, c, 0)], In[PIDX(ui, c, 1)]);
      const int low = fitcl_prune_low(m);
      f = fitcl_prune_factor(low);
      if (low) {
        scale += 1;
        for (int c = 0; c < K; ++c) {
          In[PIDX(ui, c, 0)] *= f;
          In[PIDX(ui, c, 1)] *= f;
        }
      }
    }
    /* The outside pass needs each node's rescaling factor.  The node's
     * outside vector is not used yet, so its first entry keeps the factor
     * until the parent overwrites it.  A node of degree >= 3 keeps 1: its
     * factors are counted again there (fitcl_prune_multi_gr). */
    if (want_grad) Out[PIDX(ui, 0, 0)] = st.nchild <= 2 ? f : 1.0f;
  }

  const int ri = nn - 1 - ntips;
  float lsum = 0.0f, rnum = 0.0f;
  for (int c = 0; c < K; ++c) {
    const float i0 = In[PIDX(ri, c, 0)], i1 = In[PIDX(ri, c, 1)];
    lsum += fitcl_prune_root_lsum(pi0, pi1, i0, i1);
    rnum += fitcl_prune_root_rnum(i0, i1);
  }
  llf[p] = lsum;
  nsc[p] = scale;
  if (!want_grad) return;
  const float ll = fitcl_prune_loglik(lsum, 1.0f / K, scale);
  const int kd = kind[p];
  const float w = weight[p];
  const float gw = fitcl_prune_gw(kd, w, ll);
  wv[i] = 0.0f; /* the log-likelihood row is the host's (llf, nsc) */

  /* Outside pass with normalised outside vectors, as in cl/lik.cl and on
   * the pthreads backend (src/backends/cpu/lik_cpu.c explains it): O_u is
   * scaled so that sum_x O_u(x) In_u(x) = 1, each node's rescaling factor
   * f_u is folded into O_u (capped at 2^120) as the parent writes it, and
   * the derivative along the branch above v is sum G dP In_v with G = O_u
   * times the siblings' contributions: no division and no rescaling check
   * per branch. */
  const int z = gw == 0.0f; /* padding: its terms are exact zeros */
  /* The pattern's derivative sums over thousands of branches, compensated
   * in mixed precision (Eg, El, Er: each addition's rounding error): at
   * parameters near the optimum the gradient is a small total of large
   * terms, and plain float sums left ten times the error there
   * (docs/likelihood.md). */
  float Dg, Dl, Dr[64], Eg = 0.0f, El = 0.0f, Er[64];
  for (int c = 0; c < K; ++c) Dr[c] = Er[c] = 0.0f;
  {
    const float invl = 1.0f / lsum;
    const float r = fitcl_prune_root_dgain(fitcl_prune_root_dpi(root_grad, pi0, pi1), rnum, invl);
    Dg = r;
    Dl = -r;
    const float f = Out[PIDX(ri, 0, 0)];
    const float o0 = fitcl_prune_fold(fitcl_prune_root_out(pi0, invl), f);
    const float o1 = fitcl_prune_fold(fitcl_prune_root_out(pi1, invl), f);
    for (int c = 0; c < K; ++c) {
      Out[PIDX(ri, c, 0)] = o0;
      Out[PIDX(ri, c, 1)] = o1;
    }
  }
  for (int si = nint - 1; si >= 0; --si) {
    const fitcl_prune_step st = sched[si];
    const int ui = st.node - ntips, deg = st.nchild;
    __global const int *kids = sched_child + st.first;
    if (deg == 2) {
      const int va = kids[0], vb = kids[1];
      const float fa = va >= ntips ? Out[PIDX(va - ntips, 0, 0)] : 1.0f;
      const float fb = vb >= ntips ? Out[PIDX(vb - ntips, 0, 0)] : 1.0f;
      float Pb[FITCL_GL_PREC];
      for (int c = 0; c < K; ++c) {
        load_p(pmg, ((long)c * nn + va) * FITCL_GL_PREC, FITCL_GL_PREC, P);
        load_p(pmg, ((long)c * nn + vb) * FITCL_GL_PREC, FITCL_GL_PREC, Pb);
        float a0, a1, b0, b1;
        CHILD_IN(va, c, a0, a1);
        CHILD_IN(vb, c, b0, b1);
        float du, dw, ta, tb_, oa0, oa1, ob0, ob1;
        fitcl_prune_binary(P, Pb, a0, a1, b0, b1, Out[PIDX(ui, c, 0)], Out[PIDX(ui, c, 1)], &du,
                           &dw, &ta, &tb_, &oa0, &oa1, &ob0, &ob1);
        tsum(&Dg, &Eg, du, comp);
        tsum(&Dl, &El, dw, comp);
        tsum(&Dr[c], &Er[c], fitcl_prune_drate(du, dw), comp);
        if (branch_grad) {
          const long wa = (long)(FITCL__LC_R + K + va) * cn + i;
          const long wb = (long)(FITCL__LC_R + K + vb) * cn + i;
          wv[wa] = z ? 0.0f : (c == 0 ? gw * ta : wv[wa] + gw * ta);
          wv[wb] = z ? 0.0f : (c == 0 ? gw * tb_ : wv[wb] + gw * tb_);
        }
        if (va >= ntips) {
          Out[PIDX(va - ntips, c, 0)] = fitcl_prune_fold(oa0, fa);
          Out[PIDX(va - ntips, c, 1)] = fitcl_prune_fold(oa1, fa);
        }
        if (vb >= ntips) {
          Out[PIDX(vb - ntips, c, 0)] = fitcl_prune_fold(ob0, fb);
          Out[PIDX(vb - ntips, c, 1)] = fitcl_prune_fold(ob1, fb);
        }
      }
      continue;
    }
    /* Any other degree: the children's contributions first, then each
     * child's G as the product of the others'. */
    for (int k = 0; k < deg; ++k) {
      const int v = kids[k];
      for (int c = 0; c < K; ++c) {
        load_p(pmg, ((long)c * nn + v) * FITCL_GL_PREC, 4, P);
        float i0, i1;
        CHILD_IN(v, c, i0, i1);
        Sb[SIDX(k, c, 0)] = fitcl_prune_s0(P, i0, i1);
        Sb[SIDX(k, c, 1)] = fitcl_prune_s1(P, i0, i1);
      }
    }
    /* The node's rescalings, counted again: its product redone from the
     * contributions just computed, in the same order with the same checks
     * (the same bits), into its partial, which nothing reads any more. */
    int nres = 0;
    for (int j = 0; j < deg; ++j) {
      for (int c = 0; c < K; ++c) {
        In[PIDX(ui, c, 0)] = fitcl_prune_times(In[PIDX(ui, c, 0)], Sb[SIDX(j, c, 0)], j == 0);
        In[PIDX(ui, c, 1)] = fitcl_prune_times(In[PIDX(ui, c, 1)], Sb[SIDX(j, c, 1)], j == 0);
      }
      if (!fitcl_prune_check(j, deg)) continue;
      float m = 0.0f;
      for (int c = 0; c < K; ++c) m = fitcl_prune_max(m, In[PIDX(ui, c, 0)], In[PIDX(ui, c, 1)]);
      const int low = fitcl_prune_low(m);
      nres += low;
      if (low)
        for (int c = 0; c < K; ++c) {
          In[PIDX(ui, c, 0)] *= FITCL_GL_SCALE_UP;
          In[PIDX(ui, c, 1)] *= FITCL_GL_SCALE_UP;
        }
    }
    for (int k = 0; k < deg; ++k) {
      const int v = kids[k];
      const float f = v >= ntips ? Out[PIDX(v - ntips, 0, 0)] : 1.0f;
      float nt = 0.0f;
      for (int c = 0; c < K; ++c) {
        float g0 = Out[PIDX(ui, c, 0)], g1 = Out[PIDX(ui, c, 1)];
        int r0 = nres, r1 = nres;
        for (int j = 0; j < deg; ++j) {
          if (j == k) continue; /* its factor is 1: the load is saved (about 5% of the pass here) */
          g0 = fitcl_prune_multi_gr(g0, Sb[SIDX(j, c, 0)], j, k, &r0);
          g1 = fitcl_prune_multi_gr(g1, Sb[SIDX(j, c, 1)], j, k, &r1);
        }
        g0 = fitcl_prune_multi_rest(g0, r0);
        g1 = fitcl_prune_multi_rest(g1, r1);
        load_p(pmg, ((long)c * nn + v) * FITCL_GL_PREC, FITCL_GL_PREC, P);
        float i0, i1;
        CHILD_IN(v, c, i0, i1);
        float du, dw, dt, o0, o1;
        fitcl_prune_branch(P, g0, g1, i0, i1, &du, &dw, &dt, &o0, &o1);
        tsum(&Dg, &Eg, du, comp);
        tsum(&Dl, &El, dw, comp);
        tsum(&Dr[c], &Er[c], fitcl_prune_drate(du, dw), comp);
        if (branch_grad) nt += dt;
        if (v >= ntips) {
          Out[PIDX(v - ntips, c, 0)] = fitcl_prune_fold(o0, f);
          Out[PIDX(v - ntips, c, 1)] = fitcl_prune_fold(o1, f);
        }
      }
      if (branch_grad) wv[(long)(FITCL__LC_R + K + v) * cn + i] = z ? 0.0f : gw * nt;
    }
  }
  wv[1 * cn + i] = z ? 0.0f : gw * (Dg + Eg);
  wv[2 * cn + i] = z ? 0.0f : gw * (Dl + El);
  for (int c = 0; c < K; ++c)
    wv[(long)(FITCL__LC_R + c) * cn + i] = z ? 0.0f : gw * (Dr[c] + Er[c]);
}

/* rows[((blk0 + b) * ncomp + q) * 2 + {0, 1}] = the sum, in pattern order,
 * of wv[q * cn + b * BLOCK ...] as an unrounded pair (hi, lo): TwoSum keeps
 * each addition's rounding error exactly (compensated, when comp), or a
 * plain float sum (lo = 0).  The host adds hi + lo in double. */
__kernel void fitcl_glf_block_rows(__global const float *wv, const long cn, const int ncomp,
                                   const long blk0, const int nrows_comp, const int comp,
                                   __global float *rows) {
  const long id = get_global_id(0);
  const long nblk = cn / FITCL_REDUCE_BLOCK;
  if (id >= nblk * nrows_comp) return;
  const long b = id / nrows_comp;
  const int q = (int)(id % nrows_comp);
  float s = 0.0f, c = 0.0f;
  __global const float *x = wv + (long)q * cn + b * FITCL_REDUCE_BLOCK;
  for (int k = 0; k < FITCL_REDUCE_BLOCK; ++k) {
    const float t = s + x[k];
    if (comp) {
      const float bp = t - s;
      c += (s - (t - bp)) + (x[k] - bp);
    }
    s = t;
  }
  rows[((blk0 + b) * ncomp + q) * 2] = s;
  rows[((blk0 + b) * ncomp + q) * 2 + 1] = c;
}
