/* Bound-constrained quasi-Newton minimiser (projected L-BFGS), used by every
 * likelihood fit in fitcl.  Internal.
 *
 * The method is the active-set variant of L-BFGS-B for simple bounds: the
 * variables held at a bound by the sign of their gradient are frozen, the
 * two-loop L-BFGS recursion gives a direction in the free variables, and a
 * backtracking line search along the projected path P(x + a d) enforces the
 * Armijo condition.  Fits in fitcl have two to four parameters (log gain,
 * log loss, log alpha, log effect), so the generalised Cauchy point of full
 * L-BFGS-B buys nothing here and is left out.
 *
 * Stopping rules, checked after every accepted step:
 *   - the infinity norm of the projected gradient falls below pgtol;
 *   - the relative decrease of f, |f_old - f_new| / max(|f_old|, |f_new|, 1),
 *     falls below ftol, or the decrease the next quasi-Newton step predicts,
 *     -d.g/2, does (checked before the step, so it saves an evaluation);
 *   - max_iter iterations have been taken.
 * The caller learns which one fired (or why the search stopped early). */
#ifndef FITCL_PHYLO_OPTIM_H
#define FITCL_PHYLO_OPTIM_H

#include "fitcl.h"

#define FITCL__OPTIM_MAXN 16

/* Objective: writes f(x) and its gradient.  Returns FITCL_OK, or a status
 * that aborts the minimisation and is passed back to the caller.  A
 * non-finite f is treated as "outside the domain" and the step is shortened. */
typedef fitcl_status (*fitcl__optim_fn)(void *user, const double *x, double *f, double *grad);

typedef struct fitcl__optim_options {
  int max_iter;   /* 0: 200 */
  int memory;     /* L-BFGS pairs kept; 0: 8 */
  double pgtol;   /* projected-gradient infinity norm; 0: 1e-6 */
  double ftol;    /* relative decrease of f; 0: 1e-12 */
} fitcl__optim_options;

typedef enum fitcl__optim_status {
  FITCL__OPTIM_PGTOL = 0,     /* converged: projected gradient small */
  FITCL__OPTIM_FTOL,          /* converged: f stopped decreasing */
  FITCL__OPTIM_MAXITER,       /* not converged: iteration cap */
  FITCL__OPTIM_LINESEARCH     /* not converged: no decrease along any direction */
} fitcl__optim_status;

typedef struct fitcl__optim_result {
  double f;                   /* objective at the returned x */
  double pgnorm;              /* infinity norm of the projected gradient there */
  double grad[FITCL__OPTIM_MAXN]; /* gradient there */
  int iterations;
  int evaluations;
  fitcl__optim_status status;
} fitcl__optim_result;

/* Text for a status: "pgtol", "ftol", "max_iter", "line_search". */
const char *fitcl__optim_status_name(fitcl__optim_status s);
/* Nonzero for the two converged outcomes. */
static inline int fitcl__optim_converged(fitcl__optim_status s) {
  return s == FITCL__OPTIM_PGTOL || s == FITCL__OPTIM_FTOL;
}

/* Minimises fn over lo <= x <= hi (n <= FITCL__OPTIM_MAXN).  x holds the
 * start on entry (it is clamped into the box) and the minimiser on return.
 * Returns FITCL_OK whatever the convergence outcome (see res->status), or the
 * first failing status of fn, or FITCL_ERR_ARG for a bad n or box. */
fitcl_status fitcl__optim_minimize(int n, double *x, const double *lo, const double *hi,
                                   fitcl__optim_fn fn, void *user,
                                   const fitcl__optim_options *opt, fitcl__optim_result *res);

/* Hessian of fn at x from differences of its analytic gradient, with steps
 * h[i] (h NULL: 1e-4 each), symmetrised.  H is n*n row-major.  With g0 (the
 * gradient at x) NULL: central differences (2n evaluations, error ~ h^2);
 * otherwise forward differences from g0 (n evaluations, error ~ h).  A step
 * that would leave [lo, hi] is replaced by a one-sided one. */
fitcl_status fitcl__optim_hessian(int n, const double *x, const double *lo, const double *hi,
                                  const double *h, const double *g0, fitcl__optim_fn fn,
                                  void *user, double *H);

/* Inverts a symmetric positive-definite n*n matrix in place (Cholesky via
 * LAPACKE).  Returns 0, or nonzero when A is not positive definite (A is
 * then unspecified). */
int fitcl__spd_inverse(int n, double *A);

#endif
