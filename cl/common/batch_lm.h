/* One Levenberg-Marquardt iteration of one small fit, and its final
 * uncertainties: the math of the batched fits (fitcl_fit_batch), compiled
 * as OpenCL C inside the batch kernels (common/batch_kernel.h) and as C on
 * the pthreads path (backends/cpu/batch_cpu.c), so both run the very same
 * steps.
 *
 * Each fit owns a record of FITCL_BST_SIZE(np) doubles (the layout below).
 * An iteration is: the model's sums at the trial point T (JᵀJ, Jᵀr, cost:
 * one pass over the fit's points, done by the caller), then
 * fitcl_batch_step, which accepts or rejects T against the current point
 * P, updates the damping, tests convergence and, while the fit goes on,
 * solves the damped p x p system for the next trial point.  So every
 * evaluation computes the Jacobian (a rejected trial wastes it, but there
 * is one kind of pass and one launch per iteration), and the fit's first
 * evaluation is at p0.
 *
 * The rules are those of the single fit (src/nlsq/lm.c): MINPACK's 'jac'
 * damping diagonal (the largest diag(JᵀJ) seen), Nielsen's update of
 * lambda with the decrease allowed to 1/10 per step, box bounds by
 * reflection or projection with the bound-active parameters held for the
 * step.  Convergence is judged by the Gauss-Newton step from the current
 * point (xtol): when every free parameter's undamped step is at most xtol
 * times its magnitude plus its standard error, the point is the optimum to
 * that accuracy.  A test on the cost alone cannot say as much: the cost is
 * flat to rounding within about sqrt(eps) standard errors of the optimum.
 * ftol (relative cost reduction, actual and predicted, at most ftol) and
 * gtol (MINPACK's cosine test) are kept as further exits.  The p x p solve is a
 * Cholesky factorisation of the free block; where it fails (a damped matrix
 * that is not positive definite in floating point), lambda grows tenfold
 * and the solve is retried, and after FITCL_BATCH_SOLVE_TRIES failures the
 * fit ends as singular.
 *
 * Estimators.  Least squares minimises cost = ½ Σ w (y - f)², with w = 1/σ²
 * or given weights.  Poisson maximum likelihood (counts y >= 0, model
 * f > 0) minimises cost = ½ D = Σ (f - y + y ln(y/f)), half the deviance;
 * its Jᵀr is the score Σ J (y - f)/f and its JᵀJ the Fisher information
 * Σ J Jᵀ/f (Fisher scoring), so the same damped step applies, and the
 * covariance is the inverse Fisher information (the Cramér-Rao bound). */
#ifndef FITCL_CL_COMMON_BATCH_LM_H
#define FITCL_CL_COMMON_BATCH_LM_H
#include "common/bounds.h"
#include "common/compat.h"

/* Private arrays are sized by FITCL_BATCH_NPMAX: the model's own parameter
 * count in a generated OpenCL program, the library's limit in C. */
#ifndef FITCL_BATCH_NPMAX
#define FITCL_BATCH_NPMAX 32
#endif

#define FITCL_BATCH_NTRI(np) ((np) * ((np) + 1) / 2)
/* Sums of one evaluation: the upper triangle of JᵀJ row-major, Jᵀr, the
 * estimator's cost terms (Poisson: Σ f - y + y ln(y/f), half the deviance,
 * a sum of terms >= 0 that rounds relative to itself; least squares: 0,
 * the cost is ½ rss) and rss = Σ w r² (Poisson: Pearson's Σ (y-f)²/f). */
#define FITCL_BATCH_NSUMS(np) (FITCL_BATCH_NTRI(np) + (np) + 2)

/* The record of one fit. */
#define FITCL_BST_P(np) 0                        /* current (accepted) point */
#define FITCL_BST_T(np) (np)                     /* trial point: where the next pass evaluates */
#define FITCL_BST_D2(np) (2 * (np))              /* damping diagonal */
#define FITCL_BST_JTR(np) (3 * (np))             /* Jᵀr at P */
#define FITCL_BST_SE(np) (4 * (np))              /* standard errors at P (free parameters) */
#define FITCL_BST_JTJ(np) (5 * (np))             /* JᵀJ at P, upper triangle */
#define FITCL_BST_S(np) (5 * (np) + FITCL_BATCH_NTRI(np))
#define FITCL_BST_COST(np) (FITCL_BST_S(np) + 0)   /* cost at P */
#define FITCL_BST_RSS(np) (FITCL_BST_S(np) + 1)    /* rss at P */
#define FITCL_BST_LAMBDA(np) (FITCL_BST_S(np) + 2)
#define FITCL_BST_NU(np) (FITCL_BST_S(np) + 3)     /* Nielsen's growth factor */
#define FITCL_BST_PRED(np) (FITCL_BST_S(np) + 4)   /* predicted cost decrease of T - P */
#define FITCL_BST_ITER(np) (FITCL_BST_S(np) + 5)   /* evaluations so far (the first is at p0) */
#define FITCL_BST_SIZE(np) (FITCL_BST_S(np) + 6)

/* fitcl_curvefit_status values (fitcl/curvefit.h). */
#define FITCL_BST_RUNNING 0
#define FITCL_BST_FTOL 1
#define FITCL_BST_XTOL 2
#define FITCL_BST_GTOL 3
#define FITCL_BST_MAXITER 4
#define FITCL_BST_SINGULAR 5
#define FITCL_BST_NONFINITE 6

#define FITCL_BATCH_EST_LSE 0
#define FITCL_BATCH_EST_POISSON 1
#define FITCL_BATCH_W_NONE 0
#define FITCL_BATCH_W_SIGMA 1
#define FITCL_BATCH_W_WEIGHTS 2

#define FITCL_BATCH_SOLVE_TRIES 8
#define FITCL_BATCH_EPS 2.220446049250313e-16

/* The configuration every fit of a batch shares, as the kernels receive it
 * (an array of doubles, FITCL_BCFG_* indices). */
#define FITCL_BCFG_FTOL 0
#define FITCL_BCFG_XTOL 1
#define FITCL_BCFG_GTOL 2
#define FITCL_BCFG_MAXITER 3
#define FITCL_BCFG_EST 4
#define FITCL_BCFG_BOUNDS_MODE 5   /* 0 reflect, 1 project */
#define FITCL_BCFG_ABS_SIGMA 6
#define FITCL_BCFG_NPOINTS 7
#define FITCL_BCFG_SIZE 8

/* Index of (k, l), k <= l, in the packed upper triangle. */
FITCL_FN int fitcl_btri(int np, int k, int l) { return k * np - k * (k - 1) / 2 + (l - k); }

/* The weighted residual r and row scale s of one point (the Jacobian row
 * enters the sums as s·J), and its term of the estimator's cost sum.
 * wkind/w: no weights, w = σ, or w = a weight 1/σ².  Poisson: logr is
 * ln(y/f) (any value where y = 0), and f must be > 0: elsewhere the term
 * is +∞ and the trial is rejected. */
FITCL_FN void fitcl_batch_point(int est, int wkind, fitcl_real y, fitcl_real f, fitcl_real w,
                                fitcl_real logr, fitcl_real *r, fitcl_real *s, fitcl_real *c) {
  if (est == FITCL_BATCH_EST_POISSON) {
    fitcl_real is = f > 0 ? 1.0 / sqrt(f) : 0.0;
    *s = is;
    *r = (y - f) * is;
    *c = f > 0 ? (f - y) + (y > 0 ? y * logr : 0.0) : INFINITY;
  } else {
    fitcl_real sc = wkind == FITCL_BATCH_W_SIGMA ? 1.0 / w
                                                 : (wkind == FITCL_BATCH_W_WEIGHTS ? sqrt(w) : 1.0);
    *s = sc;
    *r = (y - f) * sc;
    *c = 0.0;
  }
}

/* Predicted cost decrease of a step: step·Jᵀr - ½ stepᵀ JᵀJ step. */
FITCL_FN fitcl_real fitcl_batch_gain(int np, const fitcl_real *st, const fitcl_real *step) {
  fitcl_real pred = 0;
  for (int i = 0; i < np; ++i) {
    fitcl_real q = 0;
    for (int j = 0; j < np; ++j) {
      int t = i <= j ? fitcl_btri(np, i, j) : fitcl_btri(np, j, i);
      q += st[FITCL_BST_JTJ(np) + t] * step[j];
    }
    pred += step[i] * (st[FITCL_BST_JTR(np) + i] - 0.5 * q);
  }
  return pred;
}

/* Cholesky factor, in place, of the nf x nf matrix a (row-major, lower
 * triangle used); the diagonal receives the reciprocals of the pivots, so
 * the solves multiply instead of divide.  Returns 0, or -1 when a pivot is
 * not positive. */
FITCL_FN int fitcl_batch_chol(int nf, fitcl_real *a) {
  for (int j = 0; j < nf; ++j) {
    fitcl_real s = a[j * nf + j];
    for (int k = 0; k < j; ++k) s -= a[j * nf + k] * a[j * nf + k];
    if (!(s > 0) || !isfinite(s)) return -1;
    fitcl_real di = 1.0 / sqrt(s);
    a[j * nf + j] = di;
    for (int i = j + 1; i < nf; ++i) {
      fitcl_real t = a[i * nf + j];
      for (int k = 0; k < j; ++k) t -= a[i * nf + k] * a[j * nf + k];
      a[i * nf + j] = t * di;
    }
  }
  return 0;
}

/* Solves L Lᵀ x = b in place (x holds b on entry; l from fitcl_batch_chol). */
FITCL_FN void fitcl_batch_cholsolve(int nf, const fitcl_real *l, fitcl_real *x) {
  for (int i = 0; i < nf; ++i) {
    fitcl_real t = x[i];
    for (int k = 0; k < i; ++k) t -= l[i * nf + k] * x[k];
    x[i] = t * l[i * nf + i];
  }
  for (int i = nf - 1; i >= 0; --i) {
    fitcl_real t = x[i];
    for (int k = i + 1; k < nf; ++k) t -= l[k * nf + i] * x[k];
    x[i] = t * l[i * nf + i];
  }
}

/* The free block (n parameters freej[0..n), or all np when freej is
 * NULL: written twice, so that the common case of every parameter free
 * has its size a constant where np is one) of JᵀJ, lower triangle, into
 * a, with lam * D added to its diagonal; b receives Jᵀr of the block. */
FITCL_FN void fitcl_batch_block(int np, int n, const fitcl_real *st, const int *freej,
                                fitcl_real lam, fitcl_real *a, fitcl_real *b) {
  for (int i = 0; i < n; ++i) {
    int fi = freej ? freej[i] : i;
    for (int c = 0; c <= i; ++c) {
      int fc = freej ? freej[c] : c;
      a[i * n + c] = st[FITCL_BST_JTJ(np) + fitcl_btri(np, fc, fi)];
    }
    a[i * n + i] += lam * st[FITCL_BST_D2(np) + fi];
    b[i] = st[FITCL_BST_JTR(np) + fi];
  }
}

/* Standard errors sqrt(s2 (JᵀJ)⁻¹_ii) of the free parameters, into the
 * record (0 for the others), from the Cholesky factor a of their block. */
FITCL_FN void fitcl_batch_se(int np, int n, fitcl_real *st, const int *freej, fitcl_real s2,
                             const fitcl_real *a) {
  for (int j = 0; j < np; ++j) st[FITCL_BST_SE(np) + j] = 0;
  for (int i = 0; i < n; ++i) {
    /* (JᵀJ)⁻¹_ii = |L⁻¹ e_i|². */
    fitcl_real z[FITCL_BATCH_NPMAX], q = 0;
    for (int r = i; r < n; ++r) {
      fitcl_real t = r == i ? 1.0 : 0.0;
      for (int k = i; k < r; ++k) t -= a[r * n + k] * z[k];
      z[r] = t * a[r * n + r];
      q += z[r] * z[r];
    }
    st[FITCL_BST_SE(np) + (freej ? freej[i] : i)] = sqrt(s2 * q);
  }
}

/* Both solves of an iteration that moved: the Gauss-Newton step xg
 * (undamped) and the damped step xd of the free block.  The two Cholesky
 * factorisations run in one loop: each is a chain of dependent square roots
 * and divisions, and side by side the chains overlap, where one after the
 * other they cost twice the latency.  The operations on each matrix are
 * those of fitcl_batch_chol and fitcl_batch_cholsolve, so the results are
 * the same bits.  A factorisation that fails runs on to the end (its
 * numbers unused).  Returns okg | okd << 1: which factor (ag, ad) and step
 * are valid; the damped step only when it is finite. */
FITCL_FN int fitcl_batch_solve2(int np, int n, const fitcl_real *st, const int *freej,
                                fitcl_real lam, fitcl_real *ag, fitcl_real *xg, fitcl_real *ad,
                                fitcl_real *xd) {
  fitcl_batch_block(np, n, st, freej, 0.0, ag, xg);
  fitcl_batch_block(np, n, st, freej, lam, ad, xd);
  int okg = 1, okd = 1;
  for (int j = 0; j < n; ++j) {
    fitcl_real sg = ag[j * n + j], sd = ad[j * n + j];
    for (int k = 0; k < j; ++k) {
      sg -= ag[j * n + k] * ag[j * n + k];
      sd -= ad[j * n + k] * ad[j * n + k];
    }
    okg &= (sg > 0 && isfinite(sg)) ? 1 : 0;
    okd &= (sd > 0 && isfinite(sd)) ? 1 : 0;
    fitcl_real dg = 1.0 / sqrt(sg), dd = 1.0 / sqrt(sd);
    ag[j * n + j] = dg;
    ad[j * n + j] = dd;
    for (int i = j + 1; i < n; ++i) {
      fitcl_real tg = ag[i * n + j], td = ad[i * n + j];
      for (int k = 0; k < j; ++k) {
        tg -= ag[i * n + k] * ag[j * n + k];
        td -= ad[i * n + k] * ad[j * n + k];
      }
      ag[i * n + j] = tg * dg;
      ad[i * n + j] = td * dd;
    }
  }
  fitcl_batch_cholsolve(n, ag, xg);
  fitcl_batch_cholsolve(n, ad, xd);
  for (int i = 0; i < n; ++i) okd &= isfinite(xd[i]) ? 1 : 0;
  return okg | okd << 1;
}

/* Whether the Gauss-Newton step x (from the factor a of the free block)
 * ends the fit by xtol; when it might be small enough (or none were
 * computed yet), the standard errors are computed first. */
FITCL_FN int fitcl_batch_gn_small(int np, int n, fitcl_real *st, const int *freej,
                                  fitcl_real s2, fitcl_real xtol, int first,
                                  const fitcl_real *a, const fitcl_real *x) {
  /* The errors change little from step to step: those of the last
   * computation say whether the test can pass; they are recomputed only
   * then, which saves a third of the work of a step. */
  int maybe = 1;
  for (int i = 0; i < n; ++i) {
    int j = freej ? freej[i] : i;
    maybe &= fabs(x[i]) <= 4 * xtol * (fabs(st[FITCL_BST_P(np) + j]) + st[FITCL_BST_SE(np) + j])
                 ? 1 : 0;
  }
  if (!maybe && !first) return 0;
  fitcl_batch_se(np, n, st, freej, s2, a);
  int small = 1;
  for (int i = 0; i < n; ++i) {
    int j = freej ? freej[i] : i;
    small &= fabs(x[i]) <= xtol * (fabs(st[FITCL_BST_P(np) + j]) + st[FITCL_BST_SE(np) + j])
                 ? 1 : 0;
  }
  return xtol > 0 && small;
}

/* The damped step x of the block; returns 0 when it cannot be solved. */
FITCL_FN int fitcl_batch_damped(int np, int n, const fitcl_real *st, const int *freej,
                                fitcl_real lam, fitcl_real *x) {
  fitcl_real a[FITCL_BATCH_NPMAX * FITCL_BATCH_NPMAX];
  fitcl_batch_block(np, n, st, freej, lam, a, x);
  if (fitcl_batch_chol(n, a) != 0) return 0;
  fitcl_batch_cholsolve(n, a, x);
  int ok = 1;
  for (int i = 0; i < n; ++i) ok &= isfinite(x[i]) ? 1 : 0;
  return ok;
}

/* Copies the sums E (evaluated at T) into the record as the current point. */
FITCL_FN void fitcl_batch_take(int np, fitcl_real *st, const fitcl_real *E, fitcl_real cost) {
  for (int k = 0; k < np; ++k) st[FITCL_BST_P(np) + k] = st[FITCL_BST_T(np) + k];
  for (int t = 0; t < FITCL_BATCH_NTRI(np); ++t) st[FITCL_BST_JTJ(np) + t] = E[t];
  for (int k = 0; k < np; ++k) st[FITCL_BST_JTR(np) + k] = E[FITCL_BATCH_NTRI(np) + k];
  st[FITCL_BST_COST(np)] = cost;
  st[FITCL_BST_RSS(np)] = E[FITCL_BATCH_NTRI(np) + np + 1];
}

/* The iteration after a pass at T gave the sums E: returns the fit's status
 * (FITCL_BST_RUNNING while it goes on, with a new T and PRED written).
 * lo/hi: the fit's bounds (±INFINITY when none); fixed: nonzero holds a
 * parameter at its start. */
FITCL_FN int fitcl_batch_step(int np, fitcl_real *st, const fitcl_real *E,
                              const fitcl_real *cfg, const fitcl_real *lo, const fitcl_real *hi,
                              const int *fixed) {
  const int est = (int)cfg[FITCL_BCFG_EST];
  const fitcl_real ftol = cfg[FITCL_BCFG_FTOL], xtol = cfg[FITCL_BCFG_XTOL],
                   gtol = cfg[FITCL_BCFG_GTOL];
  const int ns = FITCL_BATCH_NSUMS(np);
  int finite = 1;
  for (int t = 0; t < ns; ++t) finite &= isfinite(E[t]) ? 1 : 0;
  fitcl_real cost = est == FITCL_BATCH_EST_POISSON ? E[ns - 2] : 0.5 * E[ns - 1];
  const int first = st[FITCL_BST_ITER(np)] == 0;
  int status = FITCL_BST_RUNNING;
  int moved = first;  /* P changed: the damping and the gradient test are due */
  if (first) {
    fitcl_batch_take(np, st, E, cost);
    st[FITCL_BST_ITER(np)] = 1;
    if (!finite || !isfinite(cost)) return FITCL_BST_NONFINITE;
  } else {
    const fitcl_real before = st[FITCL_BST_COST(np)], pred = st[FITCL_BST_PRED(np)];
    const fitcl_real act = finite && isfinite(cost) ? before - cost : -INFINITY;
    fitcl_real ratio = pred > 0 ? act / pred : (act > 0 ? 1.0 : -1.0);
    /* Within a few ulps of the cost (a sum of terms >= 0) the comparison
     * is rounding noise: there a step the quadratic model predicts to gain
     * no more than that is taken unless the cost rose beyond it, so the
     * last steps are set by the gradient (which stays accurate) and the fit
     * reaches the optimum instead of stalling sqrt(eps) away from it. */
    const fitcl_real noise = 64 * FITCL_BATCH_EPS * before;
    if (!(ratio > 1e-4) && pred <= noise && act >= -noise) ratio = 1.0;
    const int accepted = ratio > 1e-4;
    st[FITCL_BST_ITER(np)] += 1;
    if (accepted) {
      fitcl_batch_take(np, st, E, cost);
      fitcl_real f = 2 * ratio - 1, g = 1 - f * f * f;
      st[FITCL_BST_LAMBDA(np)] *= g > 0.1 ? g : 0.1;
      st[FITCL_BST_NU(np)] = 2;
      moved = 1;
    } else {
      st[FITCL_BST_LAMBDA(np)] *= st[FITCL_BST_NU(np)];
      st[FITCL_BST_NU(np)] *= 2;
    }
    if (ftol > 0 && fabs(act) <= ftol * before && pred <= ftol * before && ratio <= 2)
      return FITCL_BST_FTOL;
    if (!accepted && !(st[FITCL_BST_LAMBDA(np)] < 1e250)) return FITCL_BST_XTOL;
  }
  /* The free parameters: not fixed, and not held on a bound by a gradient
   * pushing outward (the descent direction is +Jᵀr). */
  int freej[FITCL_BATCH_NPMAX], nf = 0;
  fitcl_real gmax = 0, fnorm = sqrt(2.0 * st[FITCL_BST_COST(np)]);
  for (int j = 0; j < np; ++j) {
    fitcl_real djj = st[FITCL_BST_JTJ(np) + fitcl_btri(np, j, j)];
    if (moved) {
      fitcl_real d = st[FITCL_BST_D2(np) + j];
      d = djj > d ? djj : d;
      st[FITCL_BST_D2(np) + j] = (d > 0 && isfinite(d)) ? d : 1.0;
    }
    if (fixed[j]) continue;
    fitcl_real g = st[FITCL_BST_JTR(np) + j], p = st[FITCL_BST_P(np) + j];
    if ((p <= lo[j] && g < 0) || (p >= hi[j] && g > 0)) continue;
    freej[nf++] = j;
    fitcl_real cn = sqrt(djj);
    if (cn > 0 && fnorm > 0) {
      fitcl_real c = fabs(g) / (cn * fnorm);
      gmax = c > gmax ? c : gmax;
    }
  }
  if (moved && (st[FITCL_BST_COST(np)] == 0 || nf == 0 || (gtol > 0 && gmax <= gtol)))
    return FITCL_BST_GTOL;
  fitcl_real x[FITCL_BATCH_NPMAX];
  int solved = 0, tries = 0;
  if (moved) {
    /* Standard errors of the free parameters and the Gauss-Newton step,
     * both from the Cholesky factor of their block of JᵀJ, and the first
     * try of the damped step beside them. */
    int nvary = 0;
    for (int j = 0; j < np; ++j) nvary += fixed[j] ? 0 : 1;
    const fitcl_real dof = cfg[FITCL_BCFG_NPOINTS] - (fitcl_real)nvary;
    fitcl_real s2 = 1.0;
    if (est != FITCL_BATCH_EST_POISSON && cfg[FITCL_BCFG_ABS_SIGMA] == 0)
      s2 = dof > 0 ? 2.0 * st[FITCL_BST_COST(np)] / dof : 0.0;
    const int first_se = st[FITCL_BST_ITER(np)] == 1;
    const fitcl_real lam = st[FITCL_BST_LAMBDA(np)];
    fitcl_real ag[FITCL_BATCH_NPMAX * FITCL_BATCH_NPMAX], ad[FITCL_BATCH_NPMAX * FITCL_BATCH_NPMAX],
        xg[FITCL_BATCH_NPMAX];
    const int ok = nf == np ? fitcl_batch_solve2(np, np, st, 0, lam, ag, xg, ad, x)
                            : fitcl_batch_solve2(np, nf, st, freej, lam, ag, xg, ad, x);
    if ((ok & 1) && (nf == np ? fitcl_batch_gn_small(np, np, st, 0, s2, xtol, first_se, ag, xg)
                              : fitcl_batch_gn_small(np, nf, st, freej, s2, xtol, first_se, ag,
                                                     xg)))
      return FITCL_BST_XTOL;
    solved = ok >> 1;
    tries = 1;
  }
  /* Trial steps taken: every evaluation after the first is one. */
  if (st[FITCL_BST_ITER(np)] - 1 >= cfg[FITCL_BCFG_MAXITER]) return FITCL_BST_MAXITER;
  if (tries && !solved) {
    const fitcl_real lam = st[FITCL_BST_LAMBDA(np)];
    st[FITCL_BST_LAMBDA(np)] = lam > 0 ? lam * 10 : 1e-2;
  }

  /* The damped step on the free block, by Cholesky (its first try done
   * above when the point moved). */
  for (; tries < FITCL_BATCH_SOLVE_TRIES && !solved; ++tries) {
    const fitcl_real lam = st[FITCL_BST_LAMBDA(np)];
    solved = nf == np ? fitcl_batch_damped(np, np, st, 0, lam, x)
                      : fitcl_batch_damped(np, nf, st, freej, lam, x);
    if (!solved) st[FITCL_BST_LAMBDA(np)] = lam > 0 ? lam * 10 : 1e-2;
  }
  if (!solved) return FITCL_BST_SINGULAR;

  /* The trial point, brought back into the box; the projection instead of
   * the reflection when the quadratic model says it gains more (an optimum
   * on the face). */
  const int project = cfg[FITCL_BCFG_BOUNDS_MODE] != 0;
  fitcl_real trial[FITCL_BATCH_NPMAX], alt[FITCL_BATCH_NPMAX], sr[FITCL_BATCH_NPMAX],
      sp[FITCL_BATCH_NPMAX];
  int clipped = 0, moves = 0;
  for (int k = 0; k < np; ++k) trial[k] = alt[k] = st[FITCL_BST_P(np) + k];
  for (int i = 0; i < nf; ++i) {
    int j = freej[i];
    fitcl_real p = st[FITCL_BST_P(np) + j], t = p + x[i];
    trial[j] = fitcl_bound_coord(t, lo[j], hi[j], project);
    alt[j] = fitcl_bound_coord(t, lo[j], hi[j], 1);
    clipped |= trial[j] != alt[j] ? 1 : 0;
    /* A step below the rounding of the parameter (and of its standard
     * error) changes nothing: the damping has made it negligible. */
    moves |= fabs(x[i]) > 4 * FITCL_BATCH_EPS * (fabs(p) + st[FITCL_BST_SE(np) + j]) ? 1 : 0;
  }
  if (!moves) return FITCL_BST_XTOL;
  for (int k = 0; k < np; ++k) {
    sr[k] = trial[k] - st[FITCL_BST_P(np) + k];
    sp[k] = alt[k] - st[FITCL_BST_P(np) + k];
  }
  fitcl_real pred = fitcl_batch_gain(np, st, sr);
  if (clipped) {
    fitcl_real pa = fitcl_batch_gain(np, st, sp);
    if (pa > pred) {
      pred = pa;
      for (int k = 0; k < np; ++k) trial[k] = alt[k];
    }
  }
  for (int k = 0; k < np; ++k) st[FITCL_BST_T(np) + k] = trial[k];
  st[FITCL_BST_PRED(np)] = pred;
  return status;
}

/* The inverse inv (n x n) of the free block of JᵀJ (parameters freej[0..n),
 * or all np when freej is NULL: written twice, as fitcl_batch_block, so
 * that with every parameter free its size is a constant where np is one),
 * computed on the unit-diagonal scaled matrix (s: the scales, 1/sqrt of the
 * diagonal).  Returns 1 when the block is singular: a pivot fails, or its
 * 1-norm condition number exceeds 1/eps. */
FITCL_FN int fitcl_batch_inverse(int np, int n, const fitcl_real *st, const int *freej,
                                 fitcl_real *s, fitcl_real *inv) {
  fitcl_real a[FITCL_BATCH_NPMAX * FITCL_BATCH_NPMAX];
  int singular = 0;
  for (int i = 0; i < n; ++i) {
    const int fi = freej ? freej[i] : i;
    fitcl_real d = st[FITCL_BST_JTJ(np) + fitcl_btri(np, fi, fi)];
    if (!(d > 0) || !isfinite(d)) singular = 1;
    s[i] = d > 0 ? 1.0 / sqrt(d) : 0.0;
  }
  fitcl_real norm1 = 0;
  if (!singular) {
    for (int i = 0; i < n; ++i)
      for (int c = 0; c < n; ++c) {
        int fi = freej ? freej[i] : i, fc = freej ? freej[c] : c;
        int t = fi <= fc ? fitcl_btri(np, fi, fc) : fitcl_btri(np, fc, fi);
        a[i * n + c] = st[FITCL_BST_JTJ(np) + t] * s[i] * s[c];
      }
    for (int c = 0; c < n; ++c) {
      fitcl_real col = 0;
      for (int i = 0; i < n; ++i) col += fabs(a[i * n + c]);
      norm1 = col > norm1 ? col : norm1;
    }
    singular = fitcl_batch_chol(n, a) != 0;
  }
  if (!singular) {
    /* Column by column: inv e_c. */
    fitcl_real ninv = 0;
    for (int c = 0; c < n; ++c) {
      fitcl_real e[FITCL_BATCH_NPMAX], col = 0;
      for (int i = 0; i < n; ++i) e[i] = i == c ? 1.0 : 0.0;
      fitcl_batch_cholsolve(n, a, e);
      for (int i = 0; i < n; ++i) {
        inv[i * n + c] = e[i];
        col += fabs(e[i]);
      }
      ninv = col > ninv ? col : ninv;
    }
    singular = !(norm1 * ninv * FITCL_BATCH_EPS < 1.0);
  }
  return singular;
}

/* The results of a fit that ended with `status`: parameters P, standard
 * errors and (cov != 0) the np x np covariance, and chi2 (rss for least
 * squares, the deviance for Poisson).  The covariance is the inverse of
 * JᵀJ over the parameters not fixed (computed on the unit-diagonal scaled
 * matrix), times s² = 2 cost/(points - free) for least squares unless
 * absolute_sigma; fixed parameters get 0.  When that matrix is singular
 * (a pivot fails, or its 1-norm condition number exceeds 1/eps) the errors
 * are +∞ and the status becomes SINGULAR; a non-finite start leaves them
 * NaN.  Returns the final status. */
FITCL_FN int fitcl_batch_finish(int np, const fitcl_real *st, int status, const fitcl_real *cfg,
                                const int *fixed, fitcl_real *params, fitcl_real *se,
                                fitcl_real *cov, int want_cov, fitcl_real *chi2) {
  const int est = (int)cfg[FITCL_BCFG_EST];
  for (int k = 0; k < np; ++k) params[k] = st[FITCL_BST_P(np) + k];
  *chi2 = est == FITCL_BATCH_EST_POISSON ? 2.0 * st[FITCL_BST_COST(np)] : st[FITCL_BST_RSS(np)];
  if (status == FITCL_BST_NONFINITE) {
    for (int k = 0; k < np; ++k) se[k] = NAN;
    if (want_cov)
      for (int k = 0; k < np * np; ++k) cov[k] = NAN;
    return status;
  }
  int freej[FITCL_BATCH_NPMAX], nf = 0;
  fitcl_real inv[FITCL_BATCH_NPMAX * FITCL_BATCH_NPMAX], s[FITCL_BATCH_NPMAX];
  /* (s and inv zeroed: with np a constant, GCC cannot see that what is
   * read of them below was set first.) */
  for (int j = 0; j < np; ++j) {
    s[j] = 0;
    for (int k = 0; k < np; ++k) inv[j * np + k] = 0;
    if (!fixed[j]) freej[nf++] = j;
  }
  const int singular = nf == np ? fitcl_batch_inverse(np, np, st, 0, s, inv)
                                : fitcl_batch_inverse(np, nf, st, freej, s, inv);
  const fitcl_real dof = cfg[FITCL_BCFG_NPOINTS] - (fitcl_real)nf;
  fitcl_real s2 = 1.0;
  if (est != FITCL_BATCH_EST_POISSON && cfg[FITCL_BCFG_ABS_SIGMA] == 0)
    s2 = dof > 0 ? 2.0 * st[FITCL_BST_COST(np)] / dof : INFINITY;
  for (int k = 0; k < np; ++k) se[k] = fixed[k] ? 0.0 : INFINITY;
  if (want_cov)
    for (int k = 0; k < np * np; ++k) cov[k] = 0.0;
  if (singular) {
    if (want_cov)
      for (int i = 0; i < nf; ++i)
        for (int c = 0; c < nf; ++c) cov[freej[i] * np + freej[c]] = INFINITY;
    return FITCL_BST_SINGULAR;
  }
  for (int i = 0; i < nf; ++i) {
    se[freej[i]] = sqrt(inv[i * nf + i] * s[i] * s[i] * s2);
    if (want_cov)
      for (int c = 0; c < nf; ++c) {
        fitcl_real v = inv[i * nf + c] * s[i] * s[c] * s2;
        if (i != c) v = 0.5 * (v + inv[c * nf + i] * s[c] * s[i] * s2);
        cov[freej[i] * np + freej[c]] = v;
      }
  }
  return status;
}

#endif
