/* Levenberg-Marquardt on the normal equations: internal interface.
 *
 * The solver never touches data.  It asks a pass function for the sums of
 * one pass over the data at given parameters (fused: J^T J, J^T r and cost;
 * or cost only), so the same loop serves arrays, files and callbacks, and
 * the sums can come from any number of devices or processes. */
#ifndef FITCL_NLSQ_LM_H
#define FITCL_NLSQ_LM_H

#include "fitcl.h"

/* One pass over the data at `params`; want_jacobian = 0 asks for the cost
 * only.  Returns FITCL_OK, FITCL_ERR_INTERRUPTED or an error (detail set on
 * the context). */
typedef fitcl_status (*fitcl__lm_pass_fn)(void *user, const double *params, int want_jacobian,
                                          fitcl_accum_sums *out);

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
  int njev;                          /* fused passes done before the one at p */
  int status;                        /* fitcl_curvefit_status; RUNNING while going on */
  double cost;                       /* cost at p (informative) */
  uint64_t points;                   /* points per pass (informative) */
} fitcl__lm_state;

typedef struct fitcl__lm_problem {
  fitcl_context *ctx;
  int nparams;
  const char *const *names;          /* parameter names, for messages */
  fitcl__lm_pass_fn pass;
  void *pass_user;
} fitcl__lm_problem;

/* Checkpoint writer (checkpoint.c). */
typedef struct fitcl__ckpt_writer fitcl__ckpt_writer;

/* Runs the solver.  `start` holds either a fresh state (p = p0, d2 = 0,
 * lambda = lambda0, nu = 2, counters 0) or one loaded from a checkpoint.
 * `ckpt` may be NULL. */
fitcl_status fitcl__lm_solve(const fitcl__lm_problem *pb, const fitcl_curvefit_options *opt,
                             const fitcl__lm_state *start, fitcl__ckpt_writer *ckpt,
                             fitcl_curvefit_result *res);

/* Dense linear algebra on n x n row-major symmetric matrices (lm_linalg.c). */

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

#endif
