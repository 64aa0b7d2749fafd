/* fitcl public API: curvefit.  Included by fitcl.h; do not include directly.
 *
 * Streaming Levenberg-Marquardt curve fitting on top of the Jacobian
 * accumulation of fitcl/nlsq.h.  The data are never held whole by the
 * solver: every pass over them (one per trial point, J and the cost
 * together, as J^T J / J^T r or as the QR factor of J; an accepted step's
 * pass serves the next step) pulls them again, chunk by chunk, from arrays,
 * a file (fitcl_source) or a caller's chunk callback.
 *
 * Thread-safety: as for every fitcl object, one context and the objects made
 * from it are used by one thread at a time.  The only thing another thread
 * (or a signal handler) may touch during a fit is the interrupt flag given in
 * fitcl_curvefit_options.
 */
#ifndef FITCL_CURVEFIT_H
#define FITCL_CURVEFIT_H
#include "../fitcl.h"
#include "nlsq.h"
#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------- */
/* Data sources                                                              */

/** One chunk of points.  x[j] is the column of the model's j-th variable;
 *  sigma is NULL when the points are unweighted.  The pointers stay valid
 *  until the next call on whatever produced the chunk. */
typedef struct fitcl_chunk {
  const double *const *x;
  const double *y;
  const double *sigma;
  size_t n;            /* points in this chunk; 0 marks the end of the data */
} fitcl_chunk;

/** A file streamed in chunks (.npy, CSV/TSV, raw binary, HDF5). */
typedef struct fitcl_source fitcl_source;

typedef struct fitcl_source_options {
  /** The data file (required). */
  const char *path;
  /** "npy", "csv", "tsv", "raw" or "hdf5".  NULL or "auto": chosen by the
   *  extension (.npy, .csv, .tsv/.tab, .h5/.hdf5/.hdf/.nxs, .bin/.raw/.dat). */
  const char *format;
  /** Column specifications of the model's variables, in the model's variable
   *  order (nx of them).  NULL: nx = 1 and the default below.
   *  - CSV/TSV: a header name.  Default "x".
   *  - npy and raw: a column index of a 2-D array ("0"); for a 1-D array
   *    only "0".  A spec ending in ".npy" names another .npy file instead
   *    (1-D, or "file.npy:COL" for a column of a 2-D one).  Default "0".
   *  - HDF5: a dataset path ("/entry/tau"), 1-D, or "PATH:COL" for a column
   *    of a 2-D dataset.  Default "x". */
  const char *const *x;
  size_t nx;
  /** Column of y.  NULL: "y" (CSV, HDF5) or the column after the last x
   *  column (npy, raw). */
  const char *y;
  /** Column of sigma (standard deviation of each y).  NULL: unweighted. */
  const char *sigma;
  /** Raw binary: values per row (interleaved, row-major).  0: nx + 1 +
   *  (sigma ? 1 : 0). */
  int raw_columns;
  /** Raw binary: 0 float64, 1 float32 (little-endian, no header). */
  int raw_float32;
  /** Points per chunk.  0: 1048576 (65536 for CSV). */
  size_t chunk_points;
  /** CSV/TSV: parsed values are kept in memory after the first pass when
   *  they take at most this many MiB, so later passes do not parse the
   *  text again.  0: 256.  Negative: never kept. */
  long csv_cache_mb;
  /** Binary data (.npy, raw, HDF5) are read on the first pass into one
   *  float64 array per column when they take at most this many MiB, and
   *  every later pass reads those arrays: no file reads, no conversion,
   *  and a file changed after the first pass does not change the fit.
   *  Larger data are read and converted chunk by chunk on every pass, and
   *  each pass checks that the files are the ones the first pass read.
   *  CSV has csv_cache_mb.  0: a quarter of physical memory, at most 4096.
   *  Negative: never. */
  long cache_mb;
} fitcl_source_options;

/**
 * Opens a data file for streaming.  Nothing is read beyond headers and the
 * file size here; bad values (NaN, Inf, non-numbers, ragged rows) are
 * reported by the first pass that meets them, naming the file and row.
 * Binary formats are read with pread into chunk buffers, so files larger
 * than memory stream in constant memory.
 *
 * @param ctx  context for error messages (fitcl_errmsg); required.
 * @param opt  options; opt->path is required.
 * @param out  receives the source; release it with fitcl_source_destroy().
 * @return FITCL_OK, FITCL_ERR_IO (cannot open), FITCL_ERR_PARSE (bad header),
 *         FITCL_ERR_NAME (missing column or dataset), FITCL_ERR_DATA (wrong
 *         dtype), FITCL_ERR_MISMATCH (columns of different lengths),
 *         FITCL_ERR_UNSUPPORTED (HDF5 when built without it, or when libhdf5
 *         cannot be loaded at run time).
 */
FITCL_API fitcl_status fitcl_source_open(fitcl_context *ctx, const fitcl_source_options *opt,
                                         fitcl_source **out);
/** Starts a new pass over the data (the first pass needs no rewind). */
FITCL_API fitcl_status fitcl_source_rewind(fitcl_source *src);
/** Reads the next chunk of the current pass; chunk->n == 0 at the end.
 *  The first complete pass validates every value (finite, numeric, row
 *  length); later passes skip that work. */
FITCL_API fitcl_status fitcl_source_next(fitcl_source *src, fitcl_chunk *chunk);
/** Number of points, or 0 when not yet known (CSV before its first pass). */
FITCL_API uint64_t fitcl_source_points(const fitcl_source *src);
/** Number of x columns. */
FITCL_API size_t fitcl_source_nx(const fitcl_source *src);
/** Closes the file and releases buffers.  Accepts NULL. */
FITCL_API void fitcl_source_destroy(fitcl_source *src);

/* ------------------------------------------------------------------------- */
/* Solver                                                                    */

/** How a fit ended.  The CONVERGED_* codes are successes. */
typedef enum fitcl_curvefit_status {
  FITCL_CURVEFIT_RUNNING = 0,        /* not finished (only in checkpoints/progress) */
  FITCL_CURVEFIT_CONVERGED_FTOL = 1, /* relative cost reduction (actual and predicted) <= ftol */
  FITCL_CURVEFIT_CONVERGED_XTOL = 2, /* Gauss-Newton step of every free parameter j <= xtol *
                                        (|p_j| + stderr_j), or no step changes p any more */
  FITCL_CURVEFIT_CONVERGED_GTOL = 3, /* max |cosine| between the residual and a column of J <= gtol,
                                        or the cost is 0 */
  FITCL_CURVEFIT_MAX_ITER = 4,       /* max_iter trial steps were taken */
  FITCL_CURVEFIT_SINGULAR = 5,       /* no step can be computed: J^T J has no usable direction */
  FITCL_CURVEFIT_NONFINITE = 6,      /* the model gave NaN/Inf at the starting point */
  FITCL_CURVEFIT_INTERRUPTED = 7     /* the interrupt flag was raised */
} fitcl_curvefit_status;

/** "converged_ftol", "converged_xtol", "converged_gtol", "max_iter",
 *  "singular", "nonfinite", "interrupted", "running" (static storage). */
FITCL_API const char *fitcl_curvefit_status_name(fitcl_curvefit_status status);

/** How the step is solved: on the normal equations JᵀJ δ = Jᵀr (Cholesky;
 *  cond(JᵀJ) = cond(J)², so they lose digits on ill-conditioned problems)
 *  or on the QR factor of J (streaming tall-skinny QR: the same one pass,
 *  with O(p²) work per point; loses digits as cond(J)).  AUTO starts on
 *  the normal equations and switches to QR for the rest of the fit when
 *  the column-scaled JᵀJ has a condition number above 1e8. */
typedef enum fitcl_curvefit_solver {
  FITCL_SOLVER_AUTO = 0,
  FITCL_SOLVER_NORMAL = 1,
  FITCL_SOLVER_QR = 2
} fitcl_curvefit_solver;

/** Box-bound handling of a trial point that leaves the box. */
typedef enum fitcl_bounds_mode {
  FITCL_BOUNDS_REFLECT = 0,  /* mirror the excess back into the box (default) */
  FITCL_BOUNDS_PROJECT = 1   /* clip to the nearest face */
} fitcl_bounds_mode;

/** Reported once per iteration (one trial step) to the progress callback. */
typedef struct fitcl_curvefit_progress {
  int iteration;        /* trial steps so far, this one included */
  double cost;          /* cost at the current (accepted) point */
  double lambda;        /* damping used for this step */
  double step_norm;     /* Euclidean norm of the step tried */
  int accepted;         /* the step lowered the cost and was taken */
  double elapsed;       /* seconds since the fit started */
} fitcl_curvefit_progress;

typedef void (*fitcl_curvefit_progress_fn)(void *user, const fitcl_curvefit_progress *p);

typedef struct fitcl_curvefit_options {
  /** Loss applied to r_i = (y_i - f_i)/sigma_i.  0: linear (least squares). */
  fitcl_loss loss;
  /** Soft margin between inliers and outliers for robust losses.  0: 1. */
  double f_scale;
  /** Nonzero: sigma are absolute, the covariance is (J^T J)^-1.  0: the
   *  covariance is scaled by s^2 = 2*cost/(points - nparams), as scipy's
   *  curve_fit does. */
  int absolute_sigma;
  /** Lower and upper bounds, nparams each; NULL: unbounded.  Use -INFINITY /
   *  INFINITY for one-sided bounds.  p0 must lie inside the box. */
  const double *lower;
  const double *upper;
  /** Trial points outside the box.  0: FITCL_BOUNDS_REFLECT. */
  fitcl_bounds_mode bounds_mode;
  /** Characteristic scale of each parameter (nparams values > 0); the
   *  damping is lambda * diag(1/x_scale^2) and xtol is measured in x/x_scale.
   *  NULL: 'jac' scaling, the damping is lambda * diag(J^T J) with each
   *  diagonal entry the largest seen so far (as MINPACK does). */
  const double *x_scale;
  /** Tolerances (see fitcl_curvefit_status).  0: the defaults, chosen so
   *  that a fit reaches the NIST StRD certified values: ftol 1e-15 (the
   *  relative cost reduction is at rounding level), xtol 1e-8 (the
   *  Gauss-Newton step of every free parameter is at most 1e-8 of its
   *  magnitude plus its standard error), gtol off.  A negative value
   *  disables that test. */
  double ftol, xtol, gtol;
  /** Maximum number of trial steps.  0: 100 * (nparams + 1). */
  int max_iter;
  /** Initial damping.  0: 1e-2 (relative to the scaling). */
  double lambda0;
  /** Points handed to the accumulator per call.  0: 1048576. */
  size_t chunk_points;
  /** Accumulation path handed to fitcl_accum_options.path.  0: automatic. */
  int accum_path;
  /** Called after every trial step; NULL: none.  Runs on the fitting thread. */
  fitcl_curvefit_progress_fn progress;
  void *progress_user;
  /** When non-NULL, polled between chunks and iterations: a nonzero value
   *  stops the fit with FITCL_ERR_INTERRUPTED after writing a final
   *  checkpoint (when one is configured).  May be set from a signal handler. */
  const volatile int *interrupt;
  /** Checkpoint file, written every checkpoint_every accepted steps by a
   *  background thread (temp file + fsync + rename, so it is never half
   *  written), and once more when the fit stops.  NULL: none. */
  const char *checkpoint_path;
  /** 0: 10. */
  int checkpoint_every;
  /** Checkpoint to resume from.  The fit continues from the saved
   *  parameters, damping, scaling and counters and reaches the same result
   *  as a run never interrupted.  The checkpoint must come from the same
   *  model (expression and parameter names), loss and bounds.  NULL: start
   *  from p0. */
  const char *resume_path;
  /** Model expression stored in checkpoints to refuse resuming a different
   *  model.  NULL: only the parameter names are compared. */
  const char *model_text;
  /** nparams flags; a nonzero flag holds that parameter at its p0 value
   *  (lmfit's vary=False, Gpufit's parameters_to_fit = 0).  It gets no
   *  step, a standard error of 0 and no interval.  NULL: all vary. */
  const int *fixed;
  /** How each step is solved (fitcl_curvefit_solver).  0: automatic. */
  int solver;
  /** Confidence level of the intervals and bands.  0: 0.95. */
  double confidence;
  /** Nonzero: also profile-likelihood intervals for every free parameter
   *  (a refit with the parameter held, for each of about 10-20 values per
   *  side: costs that many fits). */
  int profile;
} fitcl_curvefit_options;

typedef struct fitcl_curvefit_result {
  size_t nparams;
  double params[FITCL_NLSQ_MAX_PARAMS];
  /** Standard errors sqrt(diag(covariance)); INFINITY where J^T J is singular. */
  double stderr_[FITCL_NLSQ_MAX_PARAMS];
  /** Covariance, nparams x nparams row-major (stride nparams). */
  double covariance[FITCL_NLSQ_MAX_PARAMS * FITCL_NLSQ_MAX_PARAMS];
  /** Correlation matrix, same layout. */
  double correlation[FITCL_NLSQ_MAX_PARAMS * FITCL_NLSQ_MAX_PARAMS];
  double cost;          /* 0.5 * sum rho(r_i^2) at the solution */
  double rss;           /* sum r_i^2 (weighted residual sum of squares) */
  double reduced_chi2;  /* rss / (points - nparams) */
  double condition;     /* 2-norm condition number of the column-scaled J^T J */
  int ill_conditioned;  /* condition > 1e10: standard errors are unreliable */
  int singular;         /* J^T J is singular at the solution */
  int iterations;       /* trial steps taken (each one pass) */
  int jacobian_passes;  /* passes over the data: one at the start, one per trial
                           step, one more where the solver moved to QR */
  double lambda;        /* final damping */
  fitcl_curvefit_status status;
  int converged;        /* status is one of the CONVERGED_* codes */
  uint64_t points;
  double seconds;       /* wall time of the fit */
  int nfree;            /* parameters fitted (not held by fixed) */
  int solver;           /* FITCL_SOLVER_NORMAL or _QR: how the last steps were solved */
  /** Goodness of fit (weights 1/sigma² when given): R² = 1 - rss/tss with
   *  tss = Σ w (y - ȳ_w)² about the weighted mean; AIC = n ln(rss/n) + 2k
   *  and BIC = n ln(rss/n) + k ln(n), n = points, k = nfree (lmfit's
   *  definitions, the Gaussian log-likelihood up to a constant). */
  double r_squared, tss, aic, bic;
  /** Confidence level of the intervals below. */
  double confidence;
  /** Wald intervals p ± t(1-(1-confidence)/2, points - nfree) * stderr
   *  (NAN for held parameters and when stderr is not finite). */
  double ci_lower[FITCL_NLSQ_MAX_PARAMS], ci_upper[FITCL_NLSQ_MAX_PARAMS];
  /** Profile-likelihood intervals (options.profile): the values where the
   *  refit with the parameter held raises rss by the F-test threshold
   *  rss*t²/(points - nfree); NAN when not computed or not found (the
   *  profile stays below the threshold up to a bound or a large range). */
  double profile_lower[FITCL_NLSQ_MAX_PARAMS], profile_upper[FITCL_NLSQ_MAX_PARAMS];
  /** Range of each x column over the data (the model's variable order). */
  double x_min[FITCL_NLSQ_MAX_VARS], x_max[FITCL_NLSQ_MAX_VARS];
} fitcl_curvefit_result;

/**
 * Chunk callback for fitcl_curve_fit_chunks.  Every pass over the data calls
 * it with chunk_index 0, 1, 2, ... until it returns a chunk with n == 0;
 * every pass must give the same points in the same order.  The pointers in
 * *chunk must stay valid until the next call.  Return FITCL_OK or an error
 * status (which ends the fit with that status).
 */
typedef fitcl_status (*fitcl_chunk_fn)(void *user, uint64_t chunk_index, fitcl_chunk *chunk);

/**
 * Fits a model to points in memory.
 * @param x      m->nvars columns of n values each.
 * @param y      n values.
 * @param sigma  n standard deviations > 0, or NULL.
 * @param p0     nparams starting values (inside the bounds).
 * @param opt    options or NULL for defaults.
 * @param res    receives the result (also on FITCL_ERR_INTERRUPTED: the
 *               last accepted point).
 * @return FITCL_OK when the solver ran to an end (converged or not: see
 *         res->status), FITCL_ERR_INTERRUPTED, or an error status with the
 *         detail in fitcl_errmsg(ctx) (bad data names the row).
 */
FITCL_API fitcl_status fitcl_curve_fit_arrays(fitcl_context *ctx, const fitcl_model *m,
                                              const double *const *x, const double *y,
                                              const double *sigma, size_t n, const double *p0,
                                              const fitcl_curvefit_options *opt,
                                              fitcl_curvefit_result *res);
/** Fits a model to a file opened with fitcl_source_open (its columns in the
 *  model's variable order).  Same return values. */
FITCL_API fitcl_status fitcl_curve_fit_source(fitcl_context *ctx, const fitcl_model *m,
                                              fitcl_source *src, const double *p0,
                                              const fitcl_curvefit_options *opt,
                                              fitcl_curvefit_result *res);
/** Fits a model to points produced by a callback.  Same return values. */
FITCL_API fitcl_status fitcl_curve_fit_chunks(fitcl_context *ctx, const fitcl_model *m,
                                              fitcl_chunk_fn fn, void *user, const double *p0,
                                              const fitcl_curvefit_options *opt,
                                              fitcl_curvefit_result *res);

/**
 * The fitted curve and its bands at n points: fit = f(x; p), and the
 * half-widths t*sqrt(gᵀ C g) of the confidence band (the curve's value)
 * and t*sqrt(gᵀ C g + s²) of the prediction band (a new observation of
 * unit weight), with g = ∂f/∂p at x, C = res->covariance, s² =
 * res->reduced_chi2 (1 with absolute sigma) and t the two-sided critical
 * value at res->confidence (Student's t with points - nfree degrees of
 * freedom; normal with absolute sigma).
 * @param x      m->nvars columns of n values.
 * @param conf, pred  n half-widths each (either may be NULL).
 * @return FITCL_OK; FITCL_ERR_UNSUPPORTED for an OpenCL-source model.
 */
FITCL_API fitcl_status fitcl_curvefit_band(fitcl_context *ctx, const fitcl_model *m,
                                           const fitcl_curvefit_result *res, int absolute_sigma,
                                           const double *const *x, size_t n, double *fit,
                                           double *conf, double *pred);

#ifdef __cplusplus
}
#endif
#endif
