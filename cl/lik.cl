/* Gain/loss likelihood kernels: transition matrices for every branch x
 * category x group in one launch, pruning with patterns as the parallel
 * dimension (one work-item per pattern runs the whole schedule, level after
 * level, in a single launch), the preorder gradient pass, and fixed block
 * sums.  The math is the pthreads backend's: every formula is a function of
 * common/gainloss.h or common/pruning.h, which both compile.  Contraction into fused
 * multiply-adds is off, as in the pthreads backend's C (compiled with
 * -ffp-contract=off), so a block's partials have the same bits on both
 * and a context over several devices may hand any block to any of them. */
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

/* Partials are stored in tiles of `tile` consecutive patterns (a kernel
 * argument that divides FITCL_REDUCE_BLOCK):
 * [i / tile][node][category][state][i % tile].  Everything one tile of
 * patterns needs for the whole tree is contiguous.  On GPUs (tile 16)
 * consecutive work-items still touch consecutive addresses (coalesced); CPU
 * devices run each work-item through the whole tree on its own, so there
 * tile 1 keeps one pattern's partials in a few contiguous kilobytes that
 * stay in the first-level cache, where tile 16 would use 8 bytes of every
 * cache line it touches. */
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

inline void load_p(__global const double *pm, long at, int n, double *P) {
  for (int k = 0; k < n; ++k) P[k] = pm[at + k];
}

/* One work-item per pattern runs the whole schedule (sched, sched_child:
 * see common/pruning.h), every formula from common/pruning.h. */
__kernel void fitcl_gl_prune(const int ntips, const int nn, const int nint, const int K,
                             const int maxdeg,
                             __global const fitcl_prune_step *sched, __global const int *sched_child,
                             __global const uchar *tips, const long npx,
                             const long pofs, const long cn, __global const int *block_group,
                             __global const uchar *kind, __global const double *weight,
                             __global const double *pm, __global const double *par,
                             const int pi_off, const int root_grad, const int want_grad, const int branch_grad,
                             const int ncomp, const int tile, __global double *In, __global double *Out,
                             __global double *Sb, __global double *pat_ll, __global double *wv) {
  const long i = get_global_id(0);
  if (i >= cn) return;
  const long tb = i / tile, tl = i % tile;
  const long p = pofs + i;
  const int g = block_group[p / FITCL_REDUCE_BLOCK];
  __global const double *pmg = pm + (long)g * K * nn * FITCL_GL_PREC;
  const double pi1 = par[pi_off + g], pi0 = 1.0 - pi1;
  double P[FITCL_GL_PREC];
  int scale = 0;

  /* Postorder, child after child, each product step in place.  A loop over
   * categories outside the loop over children would keep the product in
   * private variables and store it once, but reads each child's index and
   * tip state once per category: on PoCL that ran about 50% more
   * instructions than this at K = 4, and about as many at K = 1. */
  for (int si = 0; si < nint; ++si) {
    const fitcl_prune_step st = sched[si];
    const int ui = st.node - ntips;
    double f = 1.0;
    for (int j = 0; j < st.nchild; ++j) {
      const int v = sched_child[st.first + j];
      for (int c = 0; c < K; ++c) {
        load_p(pmg, ((long)c * nn + v) * FITCL_GL_PREC, 4, P);
        double i0, i1;
        CHILD_IN(v, c, i0, i1);
        fitcl_prune_child(P, i0, i1, j == 0, &In[PIDX(ui, c, 0)], &In[PIDX(ui, c, 1)]);
      }
      if (!fitcl_prune_check(j, st.nchild)) continue;
      double m = 0.0;
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
    if (want_grad) Out[PIDX(ui, 0, 0)] = st.nchild <= 2 ? f : 1.0;
  }

  const int ri = nn - 1 - ntips;
  double lsum = 0.0, rnum = 0.0;
  for (int c = 0; c < K; ++c) {
    const double i0 = In[PIDX(ri, c, 0)], i1 = In[PIDX(ri, c, 1)];
    lsum += fitcl_prune_root_lsum(pi0, pi1, i0, i1);
    rnum += fitcl_prune_root_rnum(i0, i1);
  }
  const double ll = fitcl_prune_loglik(lsum, 1.0 / K, scale);
  pat_ll[p] = ll;
  const int kd = kind[p];
  const double w = weight[p];
  wv[i] = fitcl_prune_wll(kd, w, ll);
  if (!want_grad) return;
  const double gw = fitcl_prune_gw(kd, w, ll);

  /* Outside pass with normalised outside vectors, as on the pthreads
   * backend (src/backends/cpu/lik_cpu.c explains it): O_u is scaled so that
   * sum_x O_u(x) In_u(x) = 1, each node's rescaling factor f_u is folded
   * into O_u (capped at 2^768) as the parent writes it, and the derivative
   * along the branch above v is sum G dP In_v with G = O_u times the
   * siblings' contributions: no division and no rescaling check per
   * branch. */
  const int z = gw == 0.0; /* padding: its terms are exact zeros */
  /* Per category, summed over the branches, then added to the root's
   * terms category by category: the pthreads backend's order, so a
   * pattern's gradient terms have its bits. */
  double Dg, Dl, NU[64], NW[64];
  for (int c = 0; c < K; ++c) NU[c] = NW[c] = 0.0;
  {
    const double invl = 1.0 / lsum;
    const double r = fitcl_prune_root_dgain(fitcl_prune_root_dpi(root_grad, pi0, pi1), rnum, invl);
    Dg = r;
    Dl = -r;
    const double f = Out[PIDX(ri, 0, 0)];
    const double o0 = fitcl_prune_fold(fitcl_prune_root_out(pi0, invl), f);
    const double o1 = fitcl_prune_fold(fitcl_prune_root_out(pi1, invl), f);
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
      const double fa = va >= ntips ? Out[PIDX(va - ntips, 0, 0)] : 1.0;
      const double fb = vb >= ntips ? Out[PIDX(vb - ntips, 0, 0)] : 1.0;
      double Pb[FITCL_GL_PREC];
      for (int c = 0; c < K; ++c) {
        load_p(pmg, ((long)c * nn + va) * FITCL_GL_PREC, FITCL_GL_PREC, P);
        load_p(pmg, ((long)c * nn + vb) * FITCL_GL_PREC, FITCL_GL_PREC, Pb);
        double a0, a1, b0, b1;
        CHILD_IN(va, c, a0, a1);
        CHILD_IN(vb, c, b0, b1);
        double du, dw, ta, tb_, oa0, oa1, ob0, ob1;
        fitcl_prune_binary(P, Pb, a0, a1, b0, b1, Out[PIDX(ui, c, 0)], Out[PIDX(ui, c, 1)], &du, &dw,
                           &ta, &tb_, &oa0, &oa1, &ob0, &ob1);
        NU[c] += du;
        NW[c] += dw;
        if (branch_grad) { /* summed over the categories, weighted below */
          const long wa = (long)(FITCL__LC_R + K + va) * cn + i, wb = (long)(FITCL__LC_R + K + vb) * cn + i;
          wv[wa] = c == 0 ? ta : wv[wa] + ta;
          wv[wb] = c == 0 ? tb_ : wv[wb] + tb_;
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
        double i0, i1;
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
      double m = 0.0;
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
      const double f = v >= ntips ? Out[PIDX(v - ntips, 0, 0)] : 1.0;
      double nt = 0.0;
      for (int c = 0; c < K; ++c) {
        double g0 = Out[PIDX(ui, c, 0)], g1 = Out[PIDX(ui, c, 1)];
        int r0 = nres, r1 = nres;
        for (int j = 0; j < deg; ++j) {
          if (j == k) continue; /* its factor is 1: the load is saved (about 5% of the pass here) */
          g0 = fitcl_prune_multi_gr(g0, Sb[SIDX(j, c, 0)], j, k, &r0);
          g1 = fitcl_prune_multi_gr(g1, Sb[SIDX(j, c, 1)], j, k, &r1);
        }
        g0 = fitcl_prune_multi_rest(g0, r0);
        g1 = fitcl_prune_multi_rest(g1, r1);
        load_p(pmg, ((long)c * nn + v) * FITCL_GL_PREC, FITCL_GL_PREC, P);
        double i0, i1;
        CHILD_IN(v, c, i0, i1);
        double du, dw, dt, o0, o1;
        fitcl_prune_branch(P, g0, g1, i0, i1, &du, &dw, &dt, &o0, &o1);
        NU[c] += du;
        NW[c] += dw;
        if (branch_grad) nt += dt;
        if (v >= ntips) {
          Out[PIDX(v - ntips, c, 0)] = fitcl_prune_fold(o0, f);
          Out[PIDX(v - ntips, c, 1)] = fitcl_prune_fold(o1, f);
        }
      }
      if (branch_grad) wv[(long)(FITCL__LC_R + K + v) * cn + i] = z ? 0.0 : gw * nt;
    }
  }
  if (branch_grad)
    for (int si = 0; si < nint; ++si) {
      if (sched[si].nchild != 2) continue;
      for (int k = 0; k < 2; ++k) {
        const long w = (long)(FITCL__LC_R + K + sched_child[sched[si].first + k]) * cn + i;
        wv[w] = z ? 0.0 : gw * wv[w];
      }
    }
  for (int c = 0; c < K; ++c) {
    Dg += NU[c];
    Dl += NW[c];
  }
  wv[1 * cn + i] = z ? 0.0 : gw * Dg;
  wv[2 * cn + i] = z ? 0.0 : gw * Dl;
  for (int c = 0; c < K; ++c)
    wv[(long)(FITCL__LC_R + c) * cn + i] = z ? 0.0 : gw * fitcl_prune_drate(NU[c], NW[c]);
}

/* rows[(blk0 + b) * ncomp + q] = compensated sum, in pattern order, of
 * wv[q * cn + b * BLOCK ...]: the same order as the pthreads backend. */
__kernel void fitcl_gl_block_rows(__global const double *wv, const long cn, const int ncomp,
                                  const long blk0, const int nrows_comp, __global double *rows) {
  const long id = get_global_id(0);
  const long nblk = cn / FITCL_REDUCE_BLOCK;
  if (id >= nblk * nrows_comp) return;
  const long b = id / nrows_comp;
  const int q = (int)(id % nrows_comp);
  double s = 0.0, c = 0.0;
  __global const double *x = wv + (long)q * cn + b * FITCL_REDUCE_BLOCK;
  for (int k = 0; k < FITCL_REDUCE_BLOCK; ++k) fitcl_kahan_add(&s, &c, x[k]);
  rows[(blk0 + b) * ncomp + q] = s + c;
}

/* The same block sums of the float kernels' gradient terms
 * (cl/lik_float.cl), accumulated in double: the mixed precision mode on a
 * device with fp64. */
__kernel void fitcl_gl_block_rows_f(__global const float *wv, const long cn, const int ncomp,
                                    const long blk0, const int nrows_comp, __global double *rows) {
  const long id = get_global_id(0);
  const long nblk = cn / FITCL_REDUCE_BLOCK;
  if (id >= nblk * nrows_comp) return;
  const long b = id / nrows_comp;
  const int q = (int)(id % nrows_comp);
  double s = 0.0, c = 0.0;
  __global const float *x = wv + (long)q * cn + b * FITCL_REDUCE_BLOCK;
  for (int k = 0; k < FITCL_REDUCE_BLOCK; ++k) fitcl_kahan_add(&s, &c, x[k]);
  rows[(blk0 + b) * ncomp + q] = s + c;
}

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
