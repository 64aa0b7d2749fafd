/* The pruning kernel, written once for the double program (cl/lik.cl) and
 * the float one (cl/lik_float.cl, the mixed and single precision modes):
 * each includes its compat header (fitcl_real is double or float) and
 * common/pruning.h, then this.  The two forms differ only where marked
 * FITCL_PRUNE_FLOAT: the per-pattern result and the derivative sums.
 * OpenCL C only. */
#ifndef FITCL_CL_COMMON_PRUNE_KERNEL_H
#define FITCL_CL_COMMON_PRUNE_KERNEL_H

#ifdef FITCL_PRUNE_FLOAT
#define PRUNE_KERNEL fitcl_glf_prune
/* s + e += v with the addition's rounding error kept in e (TwoSum), when
 * comp; else a plain s += v (single precision: speed first). */
inline void prune_dsum(float *s, float *e, float v, int comp) {
  const float t = *s + v, bp = t - *s;
  if (comp) *e += (*s - (t - bp)) + (v - bp);
  *s = t;
}
#define PRUNE_TOTAL(s, e) ((s) + (e))
#else
#define PRUNE_KERNEL fitcl_gl_prune
inline void prune_dsum(double *s, double *e, double v, int comp) {
  (void)e;
  (void)comp;
  *s += v;
}
#define PRUNE_TOTAL(s, e) (s)
#endif

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

inline void load_p(__global const fitcl_real *pm, long at, int n, fitcl_real *P) {
  for (int k = 0; k < n; ++k) P[k] = pm[at + k];
}

/* One work-item per pattern runs the whole schedule (sched, sched_child:
 * see common/pruning.h), every formula from common/pruning.h.  par[pi_off +
 * g] is group g's root presence probability.  Per pattern it leaves, in
 * double, its log-likelihood in root and its weighted term in wv[i]; in
 * float, its root sum lsum = K L 2^(40 s) in root and its scale count s in
 * nsc, and the host takes the log, divides by K and subtracts s 40 log 2 in
 * double, so neither the log nor a rescaling step costs precision (a float
 * log would add |log lsum| float epsilons, up to 3e-6, to each pattern).
 * comp: compensated float derivative sums (mixed precision; ignored in
 * double, whose sums are plain, as on the pthreads backend). */
__kernel void PRUNE_KERNEL(const int ntips, const int nn, const int nint, const int K,
                           const int maxdeg, __global const fitcl_prune_step *sched,
                           __global const int *sched_child, __global const uchar *tips,
                           const long npx, const long pofs, const long cn,
                           __global const int *block_group, __global const uchar *kind,
                           __global const fitcl_real *weight, __global const fitcl_real *pm,
                           __global const fitcl_real *par, const int pi_off, const int root_grad,
                           const int want_grad, const int branch_grad, const int ncomp,
                           const int tile, __global fitcl_real *In, __global fitcl_real *Out,
                           __global fitcl_real *Sb, __global fitcl_real *root, __global int *nsc,
                           __global fitcl_real *wv, const int comp) {
  const long i = get_global_id(0);
  if (i >= cn) return;
  const long tb = i / tile, tl = i % tile;
  const long p = pofs + i;
  const int g = block_group[p / FITCL_REDUCE_BLOCK];
  __global const fitcl_real *pmg = pm + (long)g * K * nn * FITCL_GL_PREC;
  const fitcl_real pi1 = par[pi_off + g], pi0 = (fitcl_real)1 - pi1;
  fitcl_real P[FITCL_GL_PREC];
  int scale = 0;

  /* Postorder, child after child, each product step in place.  A loop over
   * categories outside the loop over children would keep the product in
   * private variables and store it once, but reads each child's index and
   * tip state once per category: on PoCL that ran about 50% more
   * instructions than this at K = 4, and about as many at K = 1. */
  for (int si = 0; si < nint; ++si) {
    const fitcl_prune_step st = sched[si];
    const int ui = st.node - ntips;
    fitcl_real f = (fitcl_real)1;
    for (int j = 0; j < st.nchild; ++j) {
      const int v = sched_child[st.first + j];
      for (int c = 0; c < K; ++c) {
        load_p(pmg, ((long)c * nn + v) * FITCL_GL_PREC, 4, P);
        fitcl_real i0, i1;
        CHILD_IN(v, c, i0, i1);
        fitcl_prune_child(P, i0, i1, j == 0, &In[PIDX(ui, c, 0)], &In[PIDX(ui, c, 1)]);
      }
      if (!fitcl_prune_check(j, st.nchild)) continue;
      fitcl_real m = (fitcl_real)0;
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
    if (want_grad) Out[PIDX(ui, 0, 0)] = st.nchild <= 2 ? f : (fitcl_real)1;
  }

  const int ri = nn - 1 - ntips;
  fitcl_real lsum = (fitcl_real)0, rnum = (fitcl_real)0;
  for (int c = 0; c < K; ++c) {
    const fitcl_real i0 = In[PIDX(ri, c, 0)], i1 = In[PIDX(ri, c, 1)];
    lsum += fitcl_prune_root_lsum(pi0, pi1, i0, i1);
    rnum += fitcl_prune_root_rnum(i0, i1);
  }
  const fitcl_real ll = fitcl_prune_loglik(lsum, (fitcl_real)1 / K, scale);
  const int kd = kind[p];
  const fitcl_real w = weight[p];
#ifdef FITCL_PRUNE_FLOAT
  root[p] = lsum;
  nsc[p] = scale;
  wv[i] = (fitcl_real)0; /* the log-likelihood row is the host's */
#else
  root[p] = ll;
  wv[i] = fitcl_prune_wll(kd, w, ll);
#endif
  if (!want_grad) return;
  const fitcl_real gw = fitcl_prune_gw(kd, w, ll);

  /* Outside pass with normalised outside vectors, as on the pthreads
   * backend (src/backends/cpu/lik_cpu.c explains it): O_u is scaled so that
   * sum_x O_u(x) In_u(x) = 1, each node's rescaling factor f_u is folded
   * into O_u (capped at FITCL_GL_FOLD_CAP) as the parent writes it, and the derivative
   * along the branch above v is sum G dP In_v with G = O_u times the
   * siblings' contributions: no division and no rescaling check per
   * branch. */
  /* Per category, summed over the branches, then added to the root's
   * terms category by category: the pthreads backend's order, so a
   * pattern's gradient terms have its bits.  In float these sums over
   * thousands of branches are compensated (EU, EW, Eg, El: each addition's
   * rounding error; mixed precision): near the optimum the gradient is a
   * small total of large terms, and plain float sums left ten times the
   * error there (docs/likelihood.md). */
  const int z = gw == (fitcl_real)0; /* padding: its terms are exact zeros */
  fitcl_real Dg, Dl, Eg = (fitcl_real)0, El = (fitcl_real)0, NU[64], NW[64], EU[64], EW[64];
  for (int c = 0; c < K; ++c) NU[c] = NW[c] = EU[c] = EW[c] = (fitcl_real)0;
  {
    const fitcl_real invl = (fitcl_real)1 / lsum;
    const fitcl_real r =
        fitcl_prune_root_dgain(fitcl_prune_root_dpi(root_grad, pi0, pi1), rnum, invl);
    Dg = r;
    Dl = -r;
    const fitcl_real f = Out[PIDX(ri, 0, 0)];
    const fitcl_real o0 = fitcl_prune_fold(fitcl_prune_root_out(pi0, invl), f);
    const fitcl_real o1 = fitcl_prune_fold(fitcl_prune_root_out(pi1, invl), f);
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
      const fitcl_real fa = va >= ntips ? Out[PIDX(va - ntips, 0, 0)] : (fitcl_real)1;
      const fitcl_real fb = vb >= ntips ? Out[PIDX(vb - ntips, 0, 0)] : (fitcl_real)1;
      fitcl_real Pb[FITCL_GL_PREC];
      for (int c = 0; c < K; ++c) {
        load_p(pmg, ((long)c * nn + va) * FITCL_GL_PREC, FITCL_GL_PREC, P);
        load_p(pmg, ((long)c * nn + vb) * FITCL_GL_PREC, FITCL_GL_PREC, Pb);
        fitcl_real a0, a1, b0, b1;
        CHILD_IN(va, c, a0, a1);
        CHILD_IN(vb, c, b0, b1);
        fitcl_real du, dw, ta, tb_, oa0, oa1, ob0, ob1;
        fitcl_prune_binary(P, Pb, a0, a1, b0, b1, Out[PIDX(ui, c, 0)], Out[PIDX(ui, c, 1)], &du,
                           &dw, &ta, &tb_, &oa0, &oa1, &ob0, &ob1);
        prune_dsum(&NU[c], &EU[c], du, comp);
        prune_dsum(&NW[c], &EW[c], dw, comp);
        if (branch_grad) { /* summed over the categories, weighted below */
          const long wa = (long)(FITCL__LC_R + K + va) * cn + i;
          const long wb = (long)(FITCL__LC_R + K + vb) * cn + i;
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
        fitcl_real i0, i1;
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
      fitcl_real m = (fitcl_real)0;
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
      const fitcl_real f = v >= ntips ? Out[PIDX(v - ntips, 0, 0)] : (fitcl_real)1;
      fitcl_real nt = (fitcl_real)0;
      for (int c = 0; c < K; ++c) {
        fitcl_real g0 = Out[PIDX(ui, c, 0)], g1 = Out[PIDX(ui, c, 1)];
        int r0 = nres, r1 = nres;
        for (int j = 0; j < deg; ++j) {
          if (j == k) continue; /* its factor is 1: the load is saved (about 5% of the pass here) */
          g0 = fitcl_prune_multi_gr(g0, Sb[SIDX(j, c, 0)], j, k, &r0);
          g1 = fitcl_prune_multi_gr(g1, Sb[SIDX(j, c, 1)], j, k, &r1);
        }
        g0 = fitcl_prune_multi_rest(g0, r0);
        g1 = fitcl_prune_multi_rest(g1, r1);
        load_p(pmg, ((long)c * nn + v) * FITCL_GL_PREC, FITCL_GL_PREC, P);
        fitcl_real i0, i1;
        CHILD_IN(v, c, i0, i1);
        fitcl_real du, dw, dt, o0, o1;
        fitcl_prune_branch(P, g0, g1, i0, i1, &du, &dw, &dt, &o0, &o1);
        prune_dsum(&NU[c], &EU[c], du, comp);
        prune_dsum(&NW[c], &EW[c], dw, comp);
        if (branch_grad) nt += dt;
        if (v >= ntips) {
          Out[PIDX(v - ntips, c, 0)] = fitcl_prune_fold(o0, f);
          Out[PIDX(v - ntips, c, 1)] = fitcl_prune_fold(o1, f);
        }
      }
      if (branch_grad) wv[(long)(FITCL__LC_R + K + v) * cn + i] = z ? (fitcl_real)0 : gw * nt;
    }
  }
  if (branch_grad)
    for (int si = 0; si < nint; ++si) {
      if (sched[si].nchild != 2) continue;
      for (int k = 0; k < 2; ++k) {
        const long w = (long)(FITCL__LC_R + K + sched_child[sched[si].first + k]) * cn + i;
        wv[w] = z ? (fitcl_real)0 : gw * wv[w];
      }
    }
  for (int c = 0; c < K; ++c) {
    NU[c] = PRUNE_TOTAL(NU[c], EU[c]);
    NW[c] = PRUNE_TOTAL(NW[c], EW[c]);
    prune_dsum(&Dg, &Eg, NU[c], comp);
    prune_dsum(&Dl, &El, NW[c], comp);
  }
  wv[1 * cn + i] = z ? (fitcl_real)0 : gw * PRUNE_TOTAL(Dg, Eg);
  wv[2 * cn + i] = z ? (fitcl_real)0 : gw * PRUNE_TOTAL(Dl, El);
  for (int c = 0; c < K; ++c)
    wv[(long)(FITCL__LC_R + c) * cn + i] = z ? (fitcl_real)0 : gw * fitcl_prune_drate(NU[c], NW[c]);
}

#endif
