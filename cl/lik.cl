/* Gain/loss likelihood kernels: transition matrices for every branch x
 * category x group in one launch, pruning with patterns as the parallel
 * dimension (one work-item per pattern runs the whole operation list, level
 * after level, in a single launch), the preorder gradient pass, and fixed
 * block sums.  The math is the same as the pthreads backend's: both include
 * common/gainloss.h. */
#include "common/gainloss.h"
#include "common/ksum.h"

/* Values shared with the host's phylo/patterns.h and kernels/lik.h (checked
 * there with static assertions). */
#define FITCL__ABSENT_CL 0
#define FITCL__PRESENT_CL 1
#define FITCL__PAT_ABSENT_CL 1
#define FITCL__LC_R_CL 3

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

/* The partials of child v in category c: a tip's state as indicators (a
 * missing tip is 1, 1), or the stored values of an internal node. */
#define CHILD_IN(v, c, x0, x1)                      \
  do {                                              \
    if ((v) < ntips) {                              \
      const uchar s_ = tips[(long)(v) * npx + p];   \
      x0 = s_ != FITCL__PRESENT_CL;                 \
      x1 = s_ != FITCL__ABSENT_CL;                  \
    } else {                                        \
      x0 = In[PIDX((v) - ntips, c, 0)];             \
      x1 = In[PIDX((v) - ntips, c, 1)];             \
    }                                               \
  } while (0)
#define SIDX(kc, c, x) ((((tb * maxdeg + (kc)) * K + (c)) * 2 + (x)) * tile + tl)

/* Caps an outside vector entry (see the outside pass); a comparison, not
 * fmin, which PoCL leaves as a call. */
inline double fitcl_gl_cap(double x) { return x < 0x1p768 ? x : 0x1p768; }

inline void load_p(__global const double *pm, long at, int n, double *P) {
  for (int k = 0; k < n; ++k) P[k] = pm[at + k];
}

__kernel void fitcl_gl_prune(const int ntips, const int nn, const int nint, const int K,
                             const int maxdeg,
                             __global const int *ops, __global const int *cs,
                             __global const int *ch, __global const uchar *tips, const long npx,
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

  for (int oi = 0; oi < nint; ++oi) {
    const int u = ops[oi], ui = u - ntips;
    for (int j = cs[u]; j < cs[u + 1]; ++j) {
      const int v = ch[j];
      for (int c = 0; c < K; ++c) {
        load_p(pmg, ((long)c * nn + v) * FITCL_GL_PREC, 4, P);
        double i0, i1;
        CHILD_IN(v, c, i0, i1);
        const double s0 = fitcl_gl_s0(P, i0, i1), s1 = fitcl_gl_s1(P, i0, i1);
        if (j == cs[u]) {
          In[PIDX(ui, c, 0)] = s0;
          In[PIDX(ui, c, 1)] = s1;
        } else {
          In[PIDX(ui, c, 0)] *= s0;
          In[PIDX(ui, c, 1)] *= s1;
        }
      }
    }
    double m = 0.0;
    for (int c = 0; c < K; ++c) {
      const double a = In[PIDX(ui, c, 0)], b = In[PIDX(ui, c, 1)];
      const double mx = a > b ? a : b;
      m = m > mx ? m : mx;
    }
    const int low = m < FITCL_GL_SCALE_LOW;
    if (low) {
      scale += 1;
      for (int c = 0; c < K; ++c) {
        In[PIDX(ui, c, 0)] *= FITCL_GL_SCALE_UP;
        In[PIDX(ui, c, 1)] *= FITCL_GL_SCALE_UP;
      }
    }
    /* The outside pass needs each node's rescaling factor.  The node's
     * outside vector is not used yet, so its first entry keeps the factor
     * until the parent overwrites it. */
    if (want_grad) Out[PIDX(ui, 0, 0)] = low ? FITCL_GL_SCALE_UP : 1.0;
  }

  const int ri = nn - 1 - ntips;
  double lsum = 0.0, rnum = 0.0;
  for (int c = 0; c < K; ++c) {
    const double i0 = In[PIDX(ri, c, 0)], i1 = In[PIDX(ri, c, 1)];
    lsum += pi0 * i0 + pi1 * i1;
    rnum += i1 - i0;
  }
  const double ll = log(lsum * (1.0 / K)) - scale * FITCL_GL_LN2_SCALE;
  pat_ll[p] = ll;
  const double w = weight[p];
  double wll, gw;
  if (kind[p] == FITCL__PAT_ABSENT_CL) {
    const double q = -expm1(ll);
    wll = -w * log(q);
    gw = w * exp(ll) / q;
  } else {
    wll = (w != 0.0) ? w * ll : 0.0;
    gw = w;
  }
  wv[i] = wll;
  if (!want_grad) return;

  /* Outside pass with normalised outside vectors, as on the pthreads
   * backend (src/backends/cpu/lik_cpu.c explains it): O_u is scaled so that
   * sum_x O_u(x) In_u(x) = 1, each node's rescaling factor f_u is folded
   * into O_u (capped at 2^768), and the derivative along the branch above v
   * is sum G dP In_v with G = O_u times the siblings' contributions: no
   * division and no rescaling check per branch. */
  const int z = gw == 0.0; /* padding: its terms are exact zeros */
  double Dg, Dl, Dr[64];
  for (int c = 0; c < K; ++c) Dr[c] = 0.0;
  {
    const double invl = 1.0 / lsum;
    const double r = (root_grad ? pi0 * pi1 : 0.0) * rnum * invl;
    Dg = r;
    Dl = -r;
    const double f = Out[PIDX(ri, 0, 0)];
    const double o0 = fitcl_gl_cap(pi0 * invl * f), o1 = fitcl_gl_cap(pi1 * invl * f);
    for (int c = 0; c < K; ++c) {
      Out[PIDX(ri, c, 0)] = o0;
      Out[PIDX(ri, c, 1)] = o1;
    }
  }
  for (int oi = nint - 1; oi >= 0; --oi) {
    const int u = ops[oi], ui = u - ntips;
    const int deg = cs[u + 1] - cs[u];
    if (deg == 2) {
      const int va = ch[cs[u]], vb = ch[cs[u] + 1];
      const double fa = va >= ntips ? Out[PIDX(va - ntips, 0, 0)] : 1.0;
      const double fb = vb >= ntips ? Out[PIDX(vb - ntips, 0, 0)] : 1.0;
      double Pb[FITCL_GL_PREC];
      for (int c = 0; c < K; ++c) {
        load_p(pmg, ((long)c * nn + va) * FITCL_GL_PREC, FITCL_GL_PREC, P);
        load_p(pmg, ((long)c * nn + vb) * FITCL_GL_PREC, FITCL_GL_PREC, Pb);
        double a0, a1, b0, b1;
        CHILD_IN(va, c, a0, a1);
        CHILD_IN(vb, c, b0, b1);
        const double o0 = Out[PIDX(ui, c, 0)], o1 = Out[PIDX(ui, c, 1)];
        const double ga0 = o0 * fitcl_gl_s0(Pb, b0, b1), ga1 = o1 * fitcl_gl_s1(Pb, b0, b1);
        const double gb0 = o0 * fitcl_gl_s0(P, a0, a1), gb1 = o1 * fitcl_gl_s1(P, a0, a1);
        const double cu = fitcl_gl_dcontract(P[FITCL_GL_U01], P[FITCL_GL_U10], ga0, ga1, a0, a1) +
                          fitcl_gl_dcontract(Pb[FITCL_GL_U01], Pb[FITCL_GL_U10], gb0, gb1, b0, b1);
        const double cw = fitcl_gl_dcontract(P[FITCL_GL_W01], P[FITCL_GL_W10], ga0, ga1, a0, a1) +
                          fitcl_gl_dcontract(Pb[FITCL_GL_W01], Pb[FITCL_GL_W10], gb0, gb1, b0, b1);
        Dg += cu;
        Dl += cw;
        Dr[c] += cu + cw;
        if (branch_grad) {
          const double ta = fitcl_gl_dcontract(P[FITCL_GL_T01], P[FITCL_GL_T10], ga0, ga1, a0, a1);
          const double tb = fitcl_gl_dcontract(Pb[FITCL_GL_T01], Pb[FITCL_GL_T10], gb0, gb1, b0, b1);
          const long wa = (long)(FITCL__LC_R_CL + K + va) * cn + i, wb = (long)(FITCL__LC_R_CL + K + vb) * cn + i;
          wv[wa] = z ? 0.0 : (c == 0 ? gw * ta : wv[wa] + gw * ta);
          wv[wb] = z ? 0.0 : (c == 0 ? gw * tb : wv[wb] + gw * tb);
        }
        if (va >= ntips) {
          Out[PIDX(va - ntips, c, 0)] = fitcl_gl_cap(fa * (ga0 * P[FITCL_GL_P00] + ga1 * P[FITCL_GL_P10]));
          Out[PIDX(va - ntips, c, 1)] = fitcl_gl_cap(fa * (ga0 * P[FITCL_GL_P01] + ga1 * P[FITCL_GL_P11]));
        }
        if (vb >= ntips) {
          Out[PIDX(vb - ntips, c, 0)] = fitcl_gl_cap(fb * (gb0 * Pb[FITCL_GL_P00] + gb1 * Pb[FITCL_GL_P10]));
          Out[PIDX(vb - ntips, c, 1)] = fitcl_gl_cap(fb * (gb0 * Pb[FITCL_GL_P01] + gb1 * Pb[FITCL_GL_P11]));
        }
      }
      continue;
    }
    /* Any other degree: the children's contributions first, then each
     * child's G as the product of the others'. */
    for (int k = 0; k < deg; ++k) {
      const int v = ch[cs[u] + k];
      for (int c = 0; c < K; ++c) {
        load_p(pmg, ((long)c * nn + v) * FITCL_GL_PREC, 4, P);
        double i0, i1;
        CHILD_IN(v, c, i0, i1);
        Sb[SIDX(k, c, 0)] = fitcl_gl_s0(P, i0, i1);
        Sb[SIDX(k, c, 1)] = fitcl_gl_s1(P, i0, i1);
      }
    }
    for (int k = 0; k < deg; ++k) {
      const int v = ch[cs[u] + k];
      const double f = v >= ntips ? Out[PIDX(v - ntips, 0, 0)] : 1.0;
      double nt = 0.0;
      for (int c = 0; c < K; ++c) {
        double g0 = Out[PIDX(ui, c, 0)], g1 = Out[PIDX(ui, c, 1)];
        for (int k2 = 0; k2 < deg; ++k2) {
          if (k2 == k) continue;
          g0 *= Sb[SIDX(k2, c, 0)];
          g1 *= Sb[SIDX(k2, c, 1)];
        }
        load_p(pmg, ((long)c * nn + v) * FITCL_GL_PREC, FITCL_GL_PREC, P);
        double i0, i1;
        CHILD_IN(v, c, i0, i1);
        const double cu = fitcl_gl_dcontract(P[FITCL_GL_U01], P[FITCL_GL_U10], g0, g1, i0, i1);
        const double cw = fitcl_gl_dcontract(P[FITCL_GL_W01], P[FITCL_GL_W10], g0, g1, i0, i1);
        Dg += cu;
        Dl += cw;
        Dr[c] += cu + cw;
        if (branch_grad) nt += fitcl_gl_dcontract(P[FITCL_GL_T01], P[FITCL_GL_T10], g0, g1, i0, i1);
        if (v >= ntips) {
          Out[PIDX(v - ntips, c, 0)] = fitcl_gl_cap(f * (g0 * P[FITCL_GL_P00] + g1 * P[FITCL_GL_P10]));
          Out[PIDX(v - ntips, c, 1)] = fitcl_gl_cap(f * (g0 * P[FITCL_GL_P01] + g1 * P[FITCL_GL_P11]));
        }
      }
      if (branch_grad) wv[(long)(FITCL__LC_R_CL + K + v) * cn + i] = z ? 0.0 : gw * nt;
    }
  }
  wv[1 * cn + i] = z ? 0.0 : gw * Dg;
  wv[2 * cn + i] = z ? 0.0 : gw * Dl;
  for (int c = 0; c < K; ++c) wv[(long)(FITCL__LC_R_CL + c) * cn + i] = z ? 0.0 : gw * Dr[c];
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
