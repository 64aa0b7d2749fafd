/* Cosine-similarity credit assignment: the math of one node (row), shared by
 * cl/credit.cl and the pthreads backend (src/backends/cpu/credit_cpu.c) so
 * both give the same bits.
 *
 * Row n has D components s_d = cos_table[phase[n,d]] * mag_table[mag[n,d]]
 * and a target t = T[label[n]].  With w = weight[n]:
 *   c      = s·t / (|s| |t|)                  (0 when |s| or |t| is 0)
 *   loss_n = w (1 − c)
 *   g_d    = ∂loss/∂s_d = α t_d + β s_d,  α = −w / (|s||t|),  β = w c / |s|²
 *   ∂L/∂cos_table[p] += g_d · mag_table[mag[n,d]]  for every phase[n,d] = p
 *   ∂L/∂mag_table[m] += g_d · cos_table[phase[n,d]] for every mag[n,d] = m
 * The element math runs in the working type T (float or double); the dot
 * products use FITCL_CREDIT_LANES lanes (component d in lane d mod 8,
 * lanes added as a fixed tree); the row scalars c, α, β are formed in
 * double and rounded to T once; table gradients accumulate in double.
 * Nothing may be contracted into fused multiply-adds (cl/credit.cl turns
 * contraction off; the C file is compiled with -ffp-contract=off), and
 * every division and square root is in double, which both OpenCL and C
 * round correctly. */
#ifndef FITCL_CL_COMMON_CREDIT_H
#define FITCL_CL_COMMON_CREDIT_H
#include "common/compat.h"
#include "common/ksum.h"

#define FITCL_CREDIT_LANES 8

/* Row scalars from the dot products (in double): the cosine, the
 * gradient coefficients and the loss term.  A zero-norm signal or target
 * has cosine 0 and zero gradient. */
FITCL_FN void fitcl_credit_row_coef(double dot, double ss, double tt, double w, double *c,
                                    double *alpha, double *beta, double *loss) {
  if (ss > 0 && tt > 0) {
    const double ns = sqrt(ss), nt = sqrt(tt), nn = ns * nt;
    const double cc = dot / nn;
    *c = cc;
    *alpha = -w / nn;
    *beta = w * cc / ss;
  } else {
    *c = 0.0;
    *alpha = 0.0;
    *beta = 0.0;
  }
  *loss = w * (1.0 - *c);
}

/* The functions of one working type T, named with suffix SFX. */
#define FITCL_CREDIT_DEFINE(T, SFX)                                                          \
  /* s_d: the signal component. */                                                          \
  FITCL_FN T fitcl_credit_signal_##SFX(const FITCL_GLOBAL T *cos_table,                     \
                                       const FITCL_GLOBAL T *mag_table, int p, int m) {     \
    return cos_table[p] * mag_table[m];                                                     \
  }                                                                                         \
  /* Adds 8 lanes as ((0+1)+(2+3))+((4+5)+(6+7)). */                                         \
  FITCL_FN T fitcl_credit_lanes_##SFX(const T *l) {                                         \
    T a = l[0] + l[1], b = l[2] + l[3], c = l[4] + l[5], d = l[6] + l[7];                   \
    T ab = a + b, cd = c + d;                                                               \
    return ab + cd;                                                                         \
  }                                                                                         \
  /* |t|² of a target row, as the kernels form it. */                                        \
  FITCL_FN double fitcl_credit_norm2_##SFX(const FITCL_GLOBAL T *t, fitcl_long D) {         \
    T acc[FITCL_CREDIT_LANES];                                                              \
    for (int l = 0; l < FITCL_CREDIT_LANES; ++l) acc[l] = (T)0;                             \
    for (fitcl_long d = 0; d < D; ++d) {                                                    \
      T sq = t[d] * t[d];                                                                   \
      acc[d % FITCL_CREDIT_LANES] += sq;                                                    \
    }                                                                                       \
    return (double)fitcl_credit_lanes_##SFX(acc);                                           \
  }                                                                                         \
  /* s·t and |s|² of one row (phase and mag point at its D indices).  An      \
   * index outside its table reads entry 0 instead and makes the result 1     \
   * (the caller reports the first such index); else 0. */                    \
  FITCL_FN int fitcl_credit_row_dots_##SFX(                                                  \
      const FITCL_GLOBAL int *phase, const FITCL_GLOBAL int *mag,                           \
      const FITCL_GLOBAL T *cos_table, const FITCL_GLOBAL T *mag_table, int ncos, int nmag, \
      const FITCL_GLOBAL T *t, fitcl_long D, double *dot, double *ss) {                     \
    T ad[FITCL_CREDIT_LANES], as[FITCL_CREDIT_LANES];                                       \
    int bad = 0;                                                                            \
    for (int l = 0; l < FITCL_CREDIT_LANES; ++l) ad[l] = as[l] = (T)0;                      \
    for (fitcl_long d = 0; d < D; ++d) {                                                    \
      int p = phase[d], m = mag[d];                                                         \
      const int out = ((unsigned)p >= (unsigned)ncos) | ((unsigned)m >= (unsigned)nmag);    \
      bad |= out;                                                                           \
      p = out ? 0 : p;                                                                      \
      m = out ? 0 : m;                                                                      \
      const T s = fitcl_credit_signal_##SFX(cos_table, mag_table, p, m);                    \
      const T st = s * t[d], s2 = s * s;                                                    \
      ad[d % FITCL_CREDIT_LANES] += st;                                                     \
      as[d % FITCL_CREDIT_LANES] += s2;                                                     \
    }                                                                                       \
    *dot = (double)fitcl_credit_lanes_##SFX(ad);                                            \
    *ss = (double)fitcl_credit_lanes_##SFX(as);                                             \
    return bad;                                                                             \
  }                                                                                         \
  /* g_d = α t_d + β s_d in T. */                                                           \
  FITCL_FN T fitcl_credit_grad_##SFX(T alpha, T beta, T t, T s) {                           \
    const T a = alpha * t, b = beta * s;                                                    \
    return a + b;                                                                           \
  }                                                                                         \
  /* One block: nodes [row0, row0 + rows).  Writes the cosines (want_cos),  \
   * the signal gradient (want_gs), the block's table gradients into         \
   * tab[0..ncos) and tab[ncos..ncos+nmag) (want_tables; zeroed first, then   \
   * added node by node, component by component) and the (sum, correction)    \
   * of its loss terms into loss2.  Returns 1 when an index is outside its    \
   * table (that node is skipped), else 0. */                                  \
  FITCL_FN int fitcl_credit_block_##SFX(                                                    \
      const FITCL_GLOBAL int *phase, const FITCL_GLOBAL int *mag,                           \
      const FITCL_GLOBAL T *cos_table, const FITCL_GLOBAL T *mag_table, int ncos, int nmag, \
      const FITCL_GLOBAL T *targets, const FITCL_GLOBAL int *labels,                        \
      const FITCL_GLOBAL T *weights, int has_weights, const FITCL_GLOBAL double *tnorm2,    \
      fitcl_long D, fitcl_long row0, int rows, int want_cos, FITCL_GLOBAL T *cosine,        \
      int want_gs, FITCL_GLOBAL T *grad_signal, int want_tables, FITCL_GLOBAL double *tab,  \
      FITCL_GLOBAL double *loss2) {                                                         \
    double ls = 0.0, lc = 0.0;                                                              \
    int bad = 0;                                                                            \
    if (want_tables)                                                                        \
      for (int e = 0; e < ncos + nmag; ++e) tab[e] = 0.0;                                   \
    for (int r = 0; r < rows; ++r) {                                                        \
      const fitcl_long n = row0 + r;                                                        \
      const int lab = labels[n];                                                            \
      const FITCL_GLOBAL T *t = targets + (fitcl_long)lab * D;                              \
      const FITCL_GLOBAL int *ph = phase + n * D, *mg = mag + n * D;                        \
      double dot, ss, c, al, be, lo;                                                        \
      if (fitcl_credit_row_dots_##SFX(ph, mg, cos_table, mag_table, ncos, nmag, t, D, &dot, \
                                      &ss)) {                                               \
        bad = 1;                                                                            \
        continue;                                                                           \
      }                                                                                     \
      const double w = has_weights ? (double)weights[n] : 1.0;                              \
      fitcl_credit_row_coef(dot, ss, tnorm2[lab], w, &c, &al, &be, &lo);                    \
      fitcl_twosum_add(&ls, &lc, lo);                                                       \
      if (want_cos) cosine[n] = (T)c;                                                       \
      if (!want_gs && !want_tables) continue;                                               \
      FITCL_GLOBAL T *gs = want_gs ? grad_signal + n * D : grad_signal;                     \
      if (al == 0.0 && be == 0.0) { /* zero norm or zero weight: no gradient */             \
        if (want_gs)                                                                        \
          for (fitcl_long d = 0; d < D; ++d) gs[d] = (T)0;                                  \
        continue;                                                                           \
      }                                                                                     \
      const T a = (T)al, b = (T)be;                                                         \
      for (fitcl_long d = 0; d < D; ++d) {                                                  \
        const int p = ph[d], m = mg[d];                                                     \
        const T cv = cos_table[p], mv = mag_table[m];                                       \
        const T s = cv * mv; /* fitcl_credit_signal */                                      \
        const T g = fitcl_credit_grad_##SFX(a, b, t[d], s);                                 \
        if (want_gs) gs[d] = g;                                                             \
        if (want_tables) {                                                                  \
          const T gc = g * mv, gm = g * cv;                                                 \
          tab[p] += (double)gc;                                                             \
          tab[ncos + m] += (double)gm;                                                      \
        }                                                                                   \
      }                                                                                     \
    }                                                                                       \
    loss2[0] = ls;                                                                          \
    loss2[1] = lc;                                                                          \
    return bad;                                                                             \
  }

FITCL_CREDIT_DEFINE(double, f64)
FITCL_CREDIT_DEFINE(float, f32)

#endif
