/* Felsenstein pruning of the 2-state gain/loss model and its gradient, one
 * pattern at a time: every formula of the likelihood apart from P(t) itself
 * (common/gainloss.h), written once and compiled both as OpenCL C
 * (cl/lik.cl) and as C (backends/cpu/lik_cpu.c, kernels/lik.c,
 * backends/opencl/lik_ocl.c).
 *
 * Each backend keeps its own data layout and loops (the pthreads backend
 * runs 16 patterns per lane loop, the OpenCL kernel one pattern per
 * work-item) and calls these functions for every formula.  They take the
 * scalars of one pattern and return scalars, or write them through pointers
 * to the caller's private variables (fitcl_prune_child: to the stored
 * partial), so that inlined into the pthreads lane loops those loops still
 * vectorise.
 *
 * Notation (docs/likelihood.md): In_v(x) the partial of node v as stored
 * (rescaled), S_v(x) = sum_y P_v(x,y) In_v(y) the contribution of child v
 * along its branch, O_u the normalised outside vector of internal node u
 * (sum_x O_u(x) In_u(x) = 1), G_v the outside vector at the top of v's
 * branch.
 *
 * Floating-point contraction: OpenCL compilers may fuse a multiply and an
 * add of one expression into an fma, never across a call.  The backends'
 * bits depend on where expressions end, so changing the shape of an
 * expression here can change OpenCL's last bits (GCC does not contract in
 * ISO C mode, which the pthreads backend is built in). */
#ifndef FITCL_CL_COMMON_PRUNING_H
#define FITCL_CL_COMMON_PRUNING_H
/* The float programs (cl/lik_float.cl) include common/compat_float.h
 * first: fitcl_real is then float, and nothing of gainloss.h (double
 * throughout) is read, only its record layout. */
#ifdef FITCL_PRUNE_FLOAT
#include "common/gl_record.h"
#else
#include "common/compat.h"
#include "common/gainloss.h"
#endif

/* ---- codes shared by the host and the kernels ------------------------- */

/* Tip states of the pattern matrices (phylo/patterns.h) and the kernels. */
#define FITCL__ABSENT 0
#define FITCL__PRESENT 1
#define FITCL__MISSING 2

/* Pattern kinds of a likelihood handle's internal layout (kernels/lik.h). */
#define FITCL__PAT_DATA 0   /* a data pattern, or padding (weight 0) */
#define FITCL__PAT_ABSENT 1 /* the all-absent pattern of its group (conditioning) */

/* Components of one block's partial sums (the "row" of a block). */
#define FITCL__LC_LL 0 /* sum of weighted (conditioned) log-likelihood terms */
#define FITCL__LC_G 1  /* d/dlog g */
#define FITCL__LC_L 2  /* d/dlog (l * theta[group of block]) */
#define FITCL__LC_R 3  /* d/dlog r_c, c = 0..K-1, then d/dt_v for branches */

/* One step of the traversal schedule (built once per handle by
 * kernels/lik.c): internal node `node`, whose children are
 * sched_child[first .. first + nchild).  Steps run children before parents
 * (the postorder); the outside pass reads the same steps backwards.  Ints
 * only, so the host and OpenCL C lay the struct out alike. */
typedef struct fitcl_prune_step {
  int node;
  int first;
  int nchild;
} fitcl_prune_step;

/* ---- postorder ---------------------------------------------------------- */

/* A tip's partial: 1 in each state its observation allows (a missing tip
 * allows both), else 0. */
FITCL_GL_FN int fitcl_prune_tip0(int state) { return state != FITCL__PRESENT; }
FITCL_GL_FN int fitcl_prune_tip1(int state) { return state != FITCL__ABSENT; }

/* Contribution of a child along its branch: S(x) = sum_y P(x,y) In(y). */
FITCL_GL_FN fitcl_real fitcl_prune_s0(const fitcl_real *P, fitcl_real in0, fitcl_real in1) {
  return P[FITCL_GL_P00] * in0 + P[FITCL_GL_P01] * in1;
}
FITCL_GL_FN fitcl_real fitcl_prune_s1(const fitcl_real *P, fitcl_real in0, fitcl_real in1) {
  return P[FITCL_GL_P10] * in0 + P[FITCL_GL_P11] * in1;
}

/* One factor of a node's product: the first child starts it. */
FITCL_GL_FN fitcl_real fitcl_prune_times(fitcl_real u, fitcl_real s, int first) {
  return first ? s : u * s;
}

/* One child's step into its parent's stored partial (u0, u1): In_u is the
 * product of the children's contributions in schedule order, which the
 * first child starts (whatever u0, u1 held before, unread).  In place, so a
 * kernel's loop over categories inside the loop over children reads and
 * writes the partial where it is stored. */
FITCL_GL_FN void fitcl_prune_child(const fitcl_real *P, fitcl_real in0, fitcl_real in1, int first,
                                   FITCL_GLOBAL fitcl_real *u0, FITCL_GLOBAL fitcl_real *u1) {
  const fitcl_real s0 = fitcl_prune_s0(P, in0, in1), s1 = fitcl_prune_s1(P, in0, in1);
  *u0 = fitcl_prune_times(*u0, s0, first);
  *u1 = fitcl_prune_times(*u1, s1, first);
}

/* Power-of-two rescaling: a node's partial whose largest entry (over
 * categories and states) drops below 2^-FITCL_GL_SCALE_BITS is multiplied
 * by 2^FITCL_GL_SCALE_BITS, exactly, and the pattern's scale counter is
 * incremented.  Exact scaling keeps the backends in agreement and the
 * log-scaler an integer multiple of FITCL_GL_SCALE_BITS * log(2). */
#ifndef FITCL_PRUNE_FLOAT
#define FITCL_GL_SCALE_BITS 256
#define FITCL_GL_SCALE_LOW 0x1p-256
#define FITCL_GL_SCALE_UP 0x1p256
#define FITCL_GL_FOLD_CAP 0x1p768
#define FITCL_GL_LN2_SCALE (256.0 * 0.69314718055994530942) /* 256 log 2 */
#else
/* Float forms: float's normal range ends at 2^-126, so a partial rescales
 * below 2^-40, and the product of two children (each at least 2^-40 before
 * the branch factors) stays normal.  The fold cap of the outside pass is
 * 2^120, as double's 2^768, three factors under the largest power. */
#define FITCL_GL_SCALE_BITS FITCL_GLF_SCALE_BITS
#define FITCL_GL_SCALE_LOW 0x1p-40f
#define FITCL_GL_SCALE_UP 0x1p40f
#define FITCL_GL_FOLD_CAP 0x1p120f
#define FITCL_GL_LN2_SCALE (40.0f * 0.69314718055994530942f)
#endif
/* The float forms' step, in bits and (for the host, in double) as a log:
 * the host takes a float program's integer scale counts back exactly. */
#define FITCL_GLF_SCALE_BITS 40
#define FITCL_GLF_LN2_SCALE (40.0 * 0.69314718055994530942)

/* The running largest entry m of a node's partial, one category at a time. */
FITCL_GL_FN fitcl_real fitcl_prune_max(fitcl_real m, fitcl_real u0, fitcl_real u1) {
  const fitcl_real a = u0 > u1 ? u0 : u1;
  return m > a ? m : a;
}
/* Whether a partial with largest entry m rescales, and its factor. */
FITCL_GL_FN int fitcl_prune_low(fitcl_real m) { return m < FITCL_GL_SCALE_LOW; }
FITCL_GL_FN fitcl_real fitcl_prune_factor(int low) {
  return low ? FITCL_GL_SCALE_UP : (fitcl_real)1;
}

/* When a node's product is checked for rescaling: after each of its
 * children but the first, and after an only child.  The check sits inside
 * the product because a node of many children underflows before its end
 * (a star tree's root multiplies thousands of contributions below 1, and
 * 0.5^1075 is below the smallest double).  For a binary node this is the
 * one check after both children, as it always was; a node of higher degree
 * may rescale several times, and its factor 2^(256 n) is then no double:
 * the outside pass does not fold it into O_u but applies it piece by piece
 * (fitcl_prune_multi_gr). */
FITCL_GL_FN int fitcl_prune_check(int j, int nchild) { return j > 0 || nchild == 1; }

/* ---- root and conditioning -------------------------------------------- */

/* The root's sums over categories: lsum += pi0 In(0) + pi1 In(1) (K times
 * the likelihood, rescaled), rnum += In(1) - In(0) (lsum's derivative in
 * pi1). */
FITCL_GL_FN fitcl_real fitcl_prune_root_lsum(fitcl_real pi0, fitcl_real pi1, fitcl_real r0,
                                             fitcl_real r1) {
  return pi0 * r0 + pi1 * r1;
}
FITCL_GL_FN fitcl_real fitcl_prune_root_rnum(fitcl_real r0, fitcl_real r1) { return r1 - r0; }

/* The pattern's log-likelihood: categories equally likely (invK = 1 / K),
 * each of the `scale` rescaling steps taken back.  In double, the log is
 * the project's own (common/vmath.h), not the platform's: each libm and
 * OpenCL compiler rounds its log differently in the last bit, and a
 * pattern's value must have the same bits on every device a context
 * hands its block to. */
#if defined(FITCL_PRUNE_FLOAT) || defined(FITCL_REAL_IS_FLOAT)
#define FITCL_PRUNE_LOG(x) log(x)
#define FITCL_PRUNE_EXP(x) exp(x)
#define FITCL_PRUNE_EXPM1(x) expm1(x)
#else
#define FITCL_PRUNE_LOG(x) fitcl_log(x)
#define FITCL_PRUNE_EXP(x) fitcl_exp(x)
#define FITCL_PRUNE_EXPM1(x) fitcl_expm1(x)
#endif
FITCL_GL_FN fitcl_real fitcl_prune_loglik(fitcl_real lsum, fitcl_real invK, int scale) {
  return FITCL_PRUNE_LOG(lsum * invK) - scale * FITCL_GL_LN2_SCALE;
}

/* log(1 - P(all absent)) from the all-absent pattern's log-likelihood: what
 * conditioning on observation subtracts from every pattern of the group. */
FITCL_GL_FN fitcl_real fitcl_prune_log_observed(fitcl_real ll_absent) {
  return FITCL_PRUNE_LOG(-FITCL_PRUNE_EXPM1(ll_absent));
}
/* A pattern's conditioned log-likelihood. */
FITCL_GL_FN fitcl_real fitcl_prune_conditioned(fitcl_real ll, fitcl_real ll_absent) {
  return ll - fitcl_prune_log_observed(ll_absent);
}

/* A pattern's weighted term in the log-likelihood of the handle: w ll for a
 * data pattern (an exact 0 for weight 0, whatever ll: padding), and for the
 * all-absent pattern of a group -w log(1 - P(all absent)) with w the
 * group's families, so the sum is conditioned. */
FITCL_GL_FN fitcl_real fitcl_prune_wll(int kind, fitcl_real w, fitcl_real ll) {
  if (kind == FITCL__PAT_ABSENT) return -w * fitcl_prune_log_observed(ll);
  return (w != 0) ? w * ll : (fitcl_real)0;
}
/* The weight of the pattern's d log L in the gradient of that term. */
FITCL_GL_FN fitcl_real fitcl_prune_gw(int kind, fitcl_real w, fitcl_real ll) {
  if (kind == FITCL__PAT_ABSENT) return w * FITCL_PRUNE_EXP(ll) / -FITCL_PRUNE_EXPM1(ll);
  return w;
}

/* ---- gradient: the outside pass ---------------------------------------- */

/* The root's term of d log L / d log g: with a stationary root,
 * pi1 = g / (g + l) moves with g (dpi1 / dlog g = pi0 pi1; the log l term
 * is its negative); a fixed root gives dpi = 0.  invl = 1 / lsum. */
FITCL_GL_FN fitcl_real fitcl_prune_root_dpi(int stationary, fitcl_real pi0, fitcl_real pi1) {
  return stationary ? pi0 * pi1 : (fitcl_real)0;
}
FITCL_GL_FN fitcl_real fitcl_prune_root_dgain(fitcl_real dpi, fitcl_real rnum, fitcl_real invl) {
  return dpi * rnum * invl;
}

/* The root's outside vector O(x) = pi_x / lsum, so that
 * sum_x O(x) In_root(x) = 1 summed over categories. */
FITCL_GL_FN fitcl_real fitcl_prune_root_out(fitcl_real pi, fitcl_real invl) { return pi * invl; }

/* Folds node u's rescaling factor f_u into its outside vector entry o, so
 * that G_v = O_u f_u prod(siblings' S) keeps sum_x G_v(x) S_v(x) = 1.
 * Capped at 2^768 (float forms: 2^120): reached only through exactly
 * zero partials, whose terms vanish, and nothing overflows.  (A
 * comparison, not fmin, which PoCL leaves as a call.) */
FITCL_GL_FN fitcl_real fitcl_prune_fold(fitcl_real o, fitcl_real f) {
  const fitcl_real x = o * f;
  return x < FITCL_GL_FOLD_CAP ? x : FITCL_GL_FOLD_CAP;
}

/* sum_{x,y} G_x dP(x,y) In_y for a derivative record d01 = dP01,
 * d10 = dP10 (dP00 = -dP01, dP11 = -dP10): (In1 - In0) (G0 d01 - G1 d10). */
FITCL_GL_FN fitcl_real fitcl_prune_dcontract(fitcl_real d01, fitcl_real d10, fitcl_real g0,
                                             fitcl_real g1, fitcl_real in0, fitcl_real in1) {
  return (in1 - in0) * (g0 * d01 - g1 * d10);
}

/* The branch above child v, from G_v = (g0, g1) and v's partial: the
 * derivatives of log L along it in log u (du), log w (dw) and t (dt) -- no
 * division, the normalisation of G carries the 1 / L -- and v's outside
 * vector O_v = G_v P_v (o0, o1), before v's own rescaling factor is folded
 * in.  P is a full record (FITCL_GL_PREC values).  Outputs the caller does
 * not use cost nothing once inlined. */
FITCL_GL_FN void fitcl_prune_branch(const fitcl_real *P, fitcl_real g0, fitcl_real g1,
                                    fitcl_real in0, fitcl_real in1, fitcl_real *du,
                                    fitcl_real *dw, fitcl_real *dt, fitcl_real *o0,
                                    fitcl_real *o1) {
  *du = fitcl_prune_dcontract(P[FITCL_GL_U01], P[FITCL_GL_U10], g0, g1, in0, in1);
  *dw = fitcl_prune_dcontract(P[FITCL_GL_W01], P[FITCL_GL_W10], g0, g1, in0, in1);
  *dt = fitcl_prune_dcontract(P[FITCL_GL_T01], P[FITCL_GL_T10], g0, g1, in0, in1);
  *o0 = g0 * P[FITCL_GL_P00] + g1 * P[FITCL_GL_P10];
  *o1 = g0 * P[FITCL_GL_P01] + g1 * P[FITCL_GL_P11];
}

/* A binary node u with children a and b, one category: (o0, o1) = O_u with
 * u's factor folded in, so G_a = O_u S_b and G_b = O_u S_a.  du, dw: the
 * log u and log w terms of both branches; dta, dtb: each branch's t term;
 * (oa0, oa1), (ob0, ob1): the children's outside vectors
 * (fitcl_prune_branch). */
FITCL_GL_FN void fitcl_prune_binary(const fitcl_real *Pa, const fitcl_real *Pb, fitcl_real a0,
                                    fitcl_real a1, fitcl_real b0, fitcl_real b1, fitcl_real o0,
                                    fitcl_real o1, fitcl_real *du, fitcl_real *dw,
                                    fitcl_real *dta, fitcl_real *dtb, fitcl_real *oa0,
                                    fitcl_real *oa1, fitcl_real *ob0, fitcl_real *ob1) {
  const fitcl_real ga0 = o0 * fitcl_prune_s0(Pb, b0, b1), ga1 = o1 * fitcl_prune_s1(Pb, b0, b1);
  const fitcl_real gb0 = o0 * fitcl_prune_s0(Pa, a0, a1), gb1 = o1 * fitcl_prune_s1(Pa, a0, a1);
  fitcl_real dua, dwa, dub, dwb;
  fitcl_prune_branch(Pa, ga0, ga1, a0, a1, &dua, &dwa, dta, oa0, oa1);
  fitcl_prune_branch(Pb, gb0, gb1, b0, b1, &dub, &dwb, dtb, ob0, ob1);
  *du = dua + dub;
  *dw = dwa + dwb;
}

/* Any other degree: G of child k is O_u times the other children's
 * contributions S_j, j != k, multiplied in child order: g = O_u, then
 * g = fitcl_prune_multi_g(g, S_j, j, k) for j = 0 .. deg-1.  One factor per
 * call, so that the pthreads lane loops can sit inside the loop over j
 * (GCC vectorises no lane loop around a loop of unknown length). */
FITCL_GL_FN fitcl_real fitcl_prune_multi_g(fitcl_real g, fitcl_real s, int j, int k) {
  return j != k ? g * s : g;
}

/* The same for a node of degree >= 3, whose n rescalings (factor 2^(256 n),
 * fitcl_prune_check) are not folded into O_u: *r counts the factors not
 * yet applied (one counter per state, starting at n), and one is applied
 * whenever the product falls below 2^-256, so that neither O_u f_u
 * overflows nor the product of thousands of siblings underflows (child k's
 * own step, j == k, changes nothing and checks nothing).  What is left at
 * the end goes in by fitcl_prune_multi_rest.  Powers of two only: exact
 * wherever no underflow happened. */
FITCL_GL_FN fitcl_real fitcl_prune_multi_gr(fitcl_real g, fitcl_real s, int j, int k, int *r) {
  const fitcl_real x = g * s;
  const int up = j != k && *r > 0 && x < FITCL_GL_SCALE_LOW;
  *r -= up;
  return j == k ? g : (up ? x * FITCL_GL_SCALE_UP : x);
}
FITCL_GL_FN fitcl_real fitcl_prune_multi_rest(fitcl_real g, int r) {
  for (; r > 0; --r) g = fitcl_prune_fold(g, FITCL_GL_SCALE_UP);
  return g;
}

/* d log L / d log r_c of one category from its log u and log w terms: both
 * u = g r_c t and w = l r_c t scale with the category's rate. */
FITCL_GL_FN fitcl_real fitcl_prune_drate(fitcl_real du, fitcl_real dw) { return du + dw; }

#endif
