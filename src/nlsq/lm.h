/* Levenberg-Marquardt on the normal equations: internal interface.
 *
 * The solver never touches data.  It asks a pass function for the sums of
 * one pass over the data at given parameters (fused: J^T J, J^T r and cost;
 * or cost only), so the same loop serves arrays, files and callbacks, and
 * the sums can come from any number of devices or processes. */
#ifndef FITCL_NLSQ_LM_H
#define FITCL_NLSQ_LM_H

#include "fitcl.h"

/* What one pass over the data gives the solver.  A normal-equation pass
 * fills jtj and jtr; a QR pass fills T, the packed triangle of np + 1
 * columns of [J | r] (cl/common/accum_qr.h), and also jtj = RᵀR and
 * jtr = Rᵀz from it, which the scaling and the bound tests read. */
typedef struct fitcl__lm_eval {
  int np;
  int qr;
  double jtj[FITCL_NLSQ_MAX_PARAMS * FITCL_NLSQ_MAX_PARAMS];
  double jtr[FITCL_NLSQ_MAX_PARAMS];
  double T[(FITCL_NLSQ_MAX_PARAMS + 1) * (FITCL_NLSQ_MAX_PARAMS + 2) / 2];
  double cost, rss;
  uint64_t points;
} fitcl__lm_eval;

/* One pass over the data at `params`: J and the cost together, as normal
 * equations (qr = 0) or as the QR triangle (qr = 1).  Returns FITCL_OK,
 * FITCL_ERR_INTERRUPTED or an error (detail set on the context). */
typedef fitcl_status (*fitcl__lm_pass_fn)(void *user, const double *params, int qr,
                                          fitcl__lm_eval *out);

/* The complete solver state between two trial steps.  Saving it and
 * restarting from it reproduces the uninterrupted run exactly, because every
 * later quantity is a deterministic function of it and of the data. */
typedef struct fitcl__lm_state {
  int nparams;
  double p[FITCL_NLSQ_MAX_PARAMS];   /* current accepted point */
  double d2[FITCL_NLSQ_MAX_PARAMS];  /* damping diagonal (0 before the first pass) */
  double lambda;                     /* damping factor */
  double nu;                         /* Nielsen's growth factor for rejections */
  int iter;                          /* trial steps taken */
  int njev;                          /* passes done before the one at p */
  int status;                        /* fitcl_curvefit_status; RUNNING while going on */
  int qr;                            /* the passes form the QR factor (sticky) */
  double cost;                       /* cost at p (informative) */
  uint64_t points;                   /* points per pass (informative) */
} fitcl__lm_state;

typedef struct fitcl__lm_problem {
  fitcl_context *ctx;
  int nparams;
  const char *const *names;          /* parameter names, for messages */
  const int *fixed;                  /* nparams flags (held at their value), or NULL */
  fitcl__lm_pass_fn pass;
  void *pass_user;
  /* Relative rounding of one model evaluation: DBL_EPSILON, or FLT_EPSILON
   * where the accumulation evaluates in float (mixed and single precision,
   * docs/precision.md); 0 counts as DBL_EPSILON. */
  double eval_eps;
} fitcl__lm_problem;

/* Checkpoint writer (checkpoint.c). */
typedef struct fitcl__ckpt_writer fitcl__ckpt_writer;

/* Runs the solver.  `start` holds either a fresh state (p = p0, d2 = 0,
 * lambda = lambda0, nu = 2, counters 0) or one loaded from a checkpoint.
 * `ckpt` may be NULL. */
fitcl_status fitcl__lm_solve(const fitcl__lm_problem *pb, const fitcl_curvefit_options *opt,
                             const fitcl__lm_state *start, fitcl__ckpt_writer *ckpt,
                             fitcl_curvefit_result *res);

/* Goodness of fit and Wald intervals of a finished fit (fit_stats.c), from
 * the weighted moments of y about its first value: Σw, Σw(y-y0), Σw(y-y0)². */
void fitcl__fit_statistics(double sw, double swy, double swy2,
                           const fitcl_curvefit_options *opt, fitcl_curvefit_result *res);
/* Profile-likelihood intervals of every free parameter: refits through
 * pb (fit_stats.c). */
fitcl_status fitcl__profile_intervals(fitcl_context *ctx, const fitcl__lm_problem *pb,
                                      const fitcl_curvefit_options *opt,
                                      fitcl_curvefit_result *res);

/* Dense linear algebra (lm_linalg.c).  Matrices are row-major; "packed"
 * triangles are as in cl/common/accum_qr.h. */

/* Solves (A + lambda*diag(d2)) x = b.  Cholesky first; when the damped
 * matrix is not positive definite, a pseudo-inverse from its symmetric
 * eigendecomposition, dropping eigenvalues below n*eps*max.  Returns 0 on
 * success, -1 when no direction exists (all eigenvalues dropped), -2 when
 * LAPACK failed or memory ran out. */
int fitcl__lm_solve_damped(int n, const double *A, const double *d2, double lambda,
                           const double *b, double *x, int *used_pinv);

/* Inverse of the symmetric positive semi-definite A, computed on the
 * column-scaled matrix (unit diagonal) for accuracy.  *cond receives the
 * 2-norm condition number of the scaled matrix (INFINITY when singular).
 * Returns 0, or 1 when A is singular, including a condition number above
 * 1/(n*eps) (inv is then filled with INFINITY). */
int fitcl__lm_inverse(int n, const double *A, double *inv, double *cond);

/* The triangle of the columns cols[0..nc) and then the last column (the
 * residual) of the packed triangle T of m columns: a QR of T's column
 * subset, by Givens rotations.  Out: packed triangle of nc + 1 columns. */
void fitcl__lm_qr_subset(const double *T, int m, const int *cols, int nc, double *out);

/* Solves min |R x - z|² + lambda |diag(d) x|² for the packed triangle Tz of
 * n + 1 columns ([R | z]); d holds d_j² (d2).  Returns 0, or -1 when the
 * damped triangle is singular (lambda = 0 with a rank-deficient R). */
int fitcl__lm_qr_solve(int n, const double *Tz, const double *d2, double lambda, double *x);

/* Covariance of the parameters (before the s² factor) from the triangle
 * of R (packed, n + 1 columns; the last is ignored): inv = (RᵀR)⁻¹ computed
 * as R⁻¹R⁻ᵀ on the column-scaled R.  *cond receives the condition number of
 * the column-scaled RᵀR.  Returns 0, or 1 when R is singular to working
 * precision (cond(R) above 1/(n*eps)); inv is then INFINITY. */
int fitcl__lm_qr_inverse(int n, const double *Tz, double *inv, double *cond);

/* 2-norm condition number of the column-scaled symmetric positive
 * semi-definite A (INFINITY when singular). */
double fitcl__lm_scaled_cond(int n, const double *A);

#endif
