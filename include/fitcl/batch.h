/* fitcl public API: batch.  Included by fitcl.h; do not include directly.
 *
 * Batched small fits: N independent fits of one model, n points each, in
 * one call (the job of Gpufit; an XPCS g2(τ) curve per q ring or pixel, a
 * Gaussian per localisation peak, a decay per lifetime-imaging pixel).
 * Every fit runs its own Levenberg-Marquardt iteration (docs/batch.md); on
 * an OpenCL device one kernel launch advances every fit still running by
 * one iteration, with the p x p solve on the device, and fits that have
 * finished drop out of later launches.  On the pthreads backend the fits
 * are evaluated several at a time in vectorised blocks.  Models are any
 * model expression or built-in (fitcl_model_compile, fitcl_model_builtin),
 * OpenCL C models on OpenCL contexts, and C callbacks on the pthreads
 * path; the arithmetic is double precision throughout.
 *
 * Arrays are described NumPy-style: a pointer and two strides in elements,
 * so (N, n) arrays in C or Fortran order, one row shared by all fits
 * (fit stride 0) and one value per fit (point stride 0) all pass without a
 * copy.  Every array stays owned by the caller; the library reads the
 * inputs and writes the outputs only during the call.
 *
 * Thread-safety: as for every fitcl call, one context is used by one
 * thread at a time.  The progress callback runs on the calling thread; the
 * interrupt flag may be raised from any thread or a signal handler. */
#ifndef FITCL_BATCH_H
#define FITCL_BATCH_H
#include <stddef.h>
#include "../fitcl.h"
#include "nlsq.h"
#include "curvefit.h"
#ifdef __cplusplus
extern "C" {
#endif

/** Largest number of parameters of a batched model. */
#define FITCL_BATCH_MAX_PARAMS 32

/** What each fit minimises. */
typedef enum fitcl_batch_estimator {
  /** Least squares: ½ Σ w (y - f)², w = 1/σ² or the given weights (1 when
   *  neither).  chi2 reports Σ w (y - f)². */
  FITCL_ESTIMATOR_LSE = 0,
  /** Poisson maximum likelihood for counts y >= 0 (the model must stay
   *  > 0): minimises the deviance D = 2 Σ (f - y + y ln(y/f)), which chi2
   *  reports.  Weights are not allowed; the covariance is the inverse
   *  Fisher information Σ J Jᵀ/f. */
  FITCL_ESTIMATOR_POISSON = 1
} fitcl_batch_estimator;

/** A fits x points array of doubles: element (i, j) — fit i, point j — is
 *  data[i * fit_stride + j * point_stride].  fit_stride 0: one row shared
 *  by every fit (shape (n,)); point_stride 0: one value per fit (shape
 *  (N,)).  For a C-order (N, n) array: fit_stride n, point_stride 1; for
 *  Fortran order: 1 and N.  data NULL: the array is absent.  Strides are
 *  in elements and may not be negative. */
typedef struct fitcl_batch_array {
  const double *data;
  size_t fit_stride;
  size_t point_stride;
} fitcl_batch_array;

/** The data of N fits of n points each. */
typedef struct fitcl_batch_data {
  size_t nfits;    /**< N >= 1 */
  size_t npoints;  /**< n per fit; must exceed the number of parameters fitted */
  /** Observations, N x n (required). */
  fitcl_batch_array y;
  /** One array per model variable, in the model's variable order
   *  (fitcl_model_var_name): shared (fit_stride 0) or per fit.  A 2-D
   *  Gaussian spot reads two, x and y pixel coordinates. */
  fitcl_batch_array x[FITCL_NLSQ_MAX_VARS];
  /** Standard deviations σ > 0 (least squares), or data NULL.  At most one
   *  of sigma and weights. */
  fitcl_batch_array sigma;
  /** Weights w = 1/σ² >= 0 (Gpufit's convention; a weight of 0 drops the
   *  point), or data NULL. */
  fitcl_batch_array weights;
  /** Starting values: p0[i * p0_fit_stride + k] for fit i, parameter k.
   *  p0_fit_stride 0: the same start for every fit (shape (p,)); the
   *  number of parameters p: shape (N, p). */
  const double *p0;
  size_t p0_fit_stride;
} fitcl_batch_data;

/** Called between slices of fits with the number finished so far. */
typedef void (*fitcl_batch_progress_fn)(void *user, size_t done, size_t total, double elapsed);

/** Zero-initialise for the defaults. */
typedef struct fitcl_batch_options {
  /** 0: least squares. */
  fitcl_batch_estimator estimator;
  /** Box bounds, p values per row (rows as for p0: bounds_fit_stride 0
   *  shared, p per fit); -INFINITY / INFINITY for an open side.  Either may
   *  be NULL.  Every start must lie inside its box. */
  const double *lower;
  const double *upper;
  size_t bounds_fit_stride;
  /** Trial points outside the box: 0 reflect, 1 project (fitcl_bounds_mode). */
  fitcl_bounds_mode bounds_mode;
  /** Nonzero flags hold a parameter at its start (Gpufit's
   *  parameters_to_fit = 0): it takes no step, and gets a standard error
   *  and covariance of 0.  Rows of p flags; fixed_fit_stride 0 (one row
   *  for all fits) or p (one row per fit).  NULL: every parameter varies. */
  const int *fixed;
  size_t fixed_fit_stride;
  /** Least squares: nonzero takes σ (or the weights) as absolute, the
   *  covariance is (JᵀJ)⁻¹; 0 scales it by the reduced chi², as scipy's
   *  curve_fit does.  Poisson: ignored (always absolute). */
  int absolute_sigma;
  /** Tolerances.  xtol: a fit has converged when the Gauss-Newton step of
   *  every free parameter is at most xtol times its magnitude plus its
   *  standard error.  ftol: when the relative cost reduction, actual and
   *  predicted, is at most ftol.  gtol: MINPACK's cosine test.  0: xtol
   *  1e-8, ftol 1e-15 (rounding level), gtol off; a negative value turns a
   *  test off. */
  double ftol, xtol, gtol;
  /** Largest number of trial steps per fit.  0: 100 * (p + 1). */
  int max_iter;
  /** Initial damping, relative to diag(JᵀJ).  0: 1e-2. */
  double lambda0;
  /** Called on the calling thread between slices of fits; NULL: none. */
  fitcl_batch_progress_fn progress;
  void *progress_user;
  /** Fits per slice (the unit of progress and interruption, and of device
   *  memory).  0: chosen from the problem size and the device memory. */
  size_t slice;
  /** When non-NULL, polled between slices (and iterations on a device): a
   *  nonzero value stops the call with FITCL_ERR_INTERRUPTED; the fits of
   *  finished slices keep their results, the others are marked
   *  FITCL_CURVEFIT_INTERRUPTED. */
  const volatile int *interrupt;
  /** OpenCL kernel layout: 0 chosen by n, p and the device (CPU devices and
   *  short fits: one work-item per fit; GPUs with longer fits: one
   *  work-group per fit), 1 one work-item per fit, 2 one work-group per
   *  fit.  The pthreads backend ignores it. */
  int layout;
} fitcl_batch_options;

/** Where the per-fit results go (caller-owned; any pointer but params may
 *  be NULL). */
typedef struct fitcl_batch_outputs {
  double *params;      /**< N x p: the fitted parameters (required) */
  double *stderr_;     /**< N x p standard errors (0 for fixed parameters; INFINITY when
                            singular; NAN for a non-finite start) */
  double *covariance;  /**< N x p x p covariance matrices, row-major */
  double *chi2;        /**< N: Σ w (y - f)² (least squares) or the deviance (Poisson) */
  int *iterations;     /**< N: trial steps taken */
  int *status;         /**< N: fitcl_curvefit_status: CONVERGED_FTOL/XTOL/GTOL,
                            MAX_ITER, SINGULAR (JᵀJ singular at the end: no step could be
                            solved, or the covariance cannot be formed), NONFINITE
                            (the model or cost is not finite at p0), INTERRUPTED */
} fitcl_batch_outputs;

/** What a call did, over all fits. */
typedef struct fitcl_batch_summary {
  size_t converged;     /**< fits with a CONVERGED_* status */
  size_t max_iter;      /**< fits stopped by max_iter */
  size_t singular;
  size_t nonfinite;
  size_t interrupted;
  uint64_t iterations;  /**< trial steps of all fits together */
  uint64_t launches;    /**< kernel launches (OpenCL) or block passes (pthreads) */
  const char *backend;  /**< "cpu" or "opencl" (static storage) */
  int layout;           /**< 1 work-item or 2 work-group per fit (OpenCL); 0 pthreads */
  double seconds;       /**< wall time of the call */
} fitcl_batch_summary;

/**
 * Fits N independent data sets with one model.
 *
 * @param ctx      the context (its backend runs the fits; C callback
 *                 models run on its pthreads pool).
 * @param m        the model (not consumed; may be shared).
 * @param data     the arrays; see fitcl_batch_data.
 * @param opt      options, or NULL for the defaults.
 * @param out      where the results go; out->params is required.
 * @param summary  receives the counts, or NULL.
 * @return FITCL_OK when every fit ran to an end (each fit's own outcome is
 *         in out->status); FITCL_ERR_NULL / FITCL_ERR_ARG / FITCL_ERR_RANGE
 *         / FITCL_ERR_SIZE / FITCL_ERR_DATA for bad arguments or data (the
 *         message names the fit and point: a non-finite y, σ <= 0, a
 *         negative count for Poisson, a start outside its bounds);
 *         FITCL_ERR_UNSUPPORTED for an OpenCL C model on the pthreads
 *         backend; FITCL_ERR_INTERRUPTED; device errors.
 */
FITCL_API fitcl_status fitcl_fit_batch(fitcl_context *ctx, const fitcl_model *m,
                                       const fitcl_batch_data *data,
                                       const fitcl_batch_options *opt,
                                       const fitcl_batch_outputs *out,
                                       fitcl_batch_summary *summary);

#ifdef __cplusplus
}
#endif
#endif
