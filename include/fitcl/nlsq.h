/* fitcl public API: nlsq.  Included by fitcl.h; do not include directly.
 *
 * Model expressions compiled at run time with exact symbolic derivatives, and
 * the streaming accumulation of JᵀJ, Jᵀr and the cost over data chunks that
 * a Gauss-Newton or Levenberg-Marquardt solver needs (docs/expressions.md,
 * docs/accumulation.md).
 *
 * Thread-safety: a model is immutable after creation and may be shared by
 * any number of accumulators and threads (fitcl_model_eval is reentrant for
 * expression and callback models when the callback is).  An accumulator
 * belongs to its context: one thread at a time.
 */
#ifndef FITCL_NLSQ_H
#define FITCL_NLSQ_H
#include "../fitcl.h"
#ifdef __cplusplus
extern "C" {
#endif

/** Largest number of parameters a model may have.  The fixed-size sums and
 *  result structs hold p² doubles (32 KiB at 64), and the accumulation
 *  keeps p²/2 doubles per work-item; larger models need a rebuild with a
 *  larger value. */
#define FITCL_NLSQ_MAX_PARAMS 64
/** Largest number of variables (data columns) a model may read. */
#define FITCL_NLSQ_MAX_VARS 16

/* ------------------------------------------------------------------------- */
/* Models                                                                    */

/** A compiled model: parameter and variable names, the value f and its exact
 *  Jacobian ∂f/∂p. */
typedef struct fitcl_model fitcl_model;

/**
 * Compiles a model expression.
 *
 * Syntax (docs/expressions.md): numbers (`1`, `2.5`, `1e-3`), the constants
 * `pi` and `e`, the operators `+ - * / ^` (`^` is right-associative and binds
 * tighter than unary minus: `-x^2` is `-(x^2)`), parentheses, and the
 * functions exp log log10 sqrt pow sin cos tan asin acos atan atan2 sinh cosh
 * tanh erf erfc abs min max.  Every other name must be a parameter or a
 * variable.  The expression is differentiated symbolically with respect to
 * every parameter, simplified, and common subexpressions are shared.
 *
 * @param ctx      context; receives the error detail (with the 1-based
 *                 column) on failure.  On an OpenCL context the model's
 *                 accumulation program is built later, by fitcl_accum_create.
 * @param expr     the expression text (copied).
 * @param params   nparams parameter names, in the order of the parameter
 *                 vector (copied).  1 <= nparams <= FITCL_NLSQ_MAX_PARAMS.
 * @param vars     nvars variable (data column) names, in the order of the
 *                 column pointers passed later (copied).  nvars <=
 *                 FITCL_NLSQ_MAX_VARS; 0 is allowed.
 * @param out      receives the model; release with fitcl_model_destroy().
 * @return FITCL_OK; FITCL_ERR_PARSE for a syntax error, FITCL_ERR_NAME for an
 *         unknown name, FITCL_ERR_ARG for a wrong number of function
 *         arguments or a duplicate/invalid name, FITCL_ERR_SIZE for too many
 *         parameters or variables.
 */
FITCL_API fitcl_status fitcl_model_compile(fitcl_context *ctx, const char *expr,
                                           const char *const *params, size_t nparams,
                                           const char *const *vars, size_t nvars,
                                           fitcl_model **out);

/**
 * Built-in models, each written as an expression (fitcl_model_builtin_expr
 * returns it).  Parameter order is the order listed; the variable is `x`
 * unless stated:
 *   exp_decay      a*exp(-b*x)+c                          params a b c
 *   double_exp     a1*exp(-b1*x)+a2*exp(-b2*x)            params a1 b1 a2 b2
 *   gaussian       a*exp(-(x-mu)^2/(2*sigma^2))+c         params a mu sigma c
 *   lorentzian     a*gamma^2/((x-x0)^2+gamma^2)+c         params a x0 gamma c
 *   power_law      a*x^b+c                                params a b c
 *   stretched_exp  a*exp(-(x/tau)^beta)+c                 params a tau beta c
 *   xpcs_g2        offset+contrast*exp(-2*q^2*(D0*tau^(alpha+1)/(alpha+1)+D_offset*tau))
 *                  params offset contrast D0 alpha D_offset; variables tau q
 *                  (q is a data column, so one fit can span several q values;
 *                  for a single q pass a column filled with that value).
 */
FITCL_API fitcl_status fitcl_model_builtin(fitcl_context *ctx, const char *name, fitcl_model **out);
/** The expression text of a built-in model (static storage), or NULL. */
FITCL_API const char *fitcl_model_builtin_expr(const char *name);
/** The parameter names of a built-in model as one space-separated string
 *  (static storage), or NULL. */
FITCL_API const char *fitcl_model_builtin_params(const char *name);
/** The variable names of a built-in model, space separated, or NULL. */
FITCL_API const char *fitcl_model_builtin_vars(const char *name);
/** The name of built-in model i (0-based, static storage), NULL past the end. */
FITCL_API const char *fitcl_model_builtin_name(size_t i);

FITCL_API size_t fitcl_model_nparams(const fitcl_model *m);
/** Name of parameter i (owned by the model), NULL when out of range. */
FITCL_API const char *fitcl_model_param_name(const fitcl_model *m, size_t i);
FITCL_API size_t fitcl_model_nvars(const fitcl_model *m);
/** Name of variable i (owned by the model), NULL when out of range. */
FITCL_API const char *fitcl_model_var_name(const fitcl_model *m, size_t i);
/** The expression text (NULL for callback and OpenCL-source models). */
FITCL_API const char *fitcl_model_expr(const fitcl_model *m);

/**
 * Evaluates f and the Jacobian on the host, on any backend (reference and
 * diagnostics; the accumulation pass never calls it).
 * @param params  nparams values.
 * @param x       nvars column pointers, each of n values (NULL when nvars=0).
 * @param f       n outputs (may be NULL).
 * @param jac     n*nparams outputs, row-major (point i, parameter k at
 *                jac[i*nparams+k]); may be NULL.
 * @return FITCL_OK; FITCL_ERR_UNSUPPORTED for an OpenCL-source model.
 */
FITCL_API fitcl_status fitcl_model_eval(const fitcl_model *m, const double *params,
                                        const double *const *x, size_t n, double *f, double *jac);

/**
 * A model given as C callback for embedding applications.  fn is called
 * with blocks of points: x holds nvars column pointers of n values each; it
 * writes f[0..n) and, when jac is not NULL, jac[i*nparams+k] = ∂f_i/∂p_k.
 * It may be called from the worker threads concurrently (distinct blocks),
 * so it must be reentrant.  Accumulation with a callback model always runs
 * on the pthreads path, also on an OpenCL context.
 */
typedef void (*fitcl_model_fn)(void *user, const double *params, const double *const *x,
                               size_t n, double *f, double *jac);
FITCL_API fitcl_status fitcl_model_from_callback(fitcl_context *ctx, fitcl_model_fn fn, void *user,
                                                 const char *const *params, size_t nparams,
                                                 const char *const *vars, size_t nvars,
                                                 fitcl_model **out);

/** Finite-difference rule of fitcl_model_from_callback_fd. */
typedef enum fitcl_fd_mode {
  FITCL_FD_FORWARD = 0, /* (f(p + h e_j) - f(p)) / h: 1 + np calls per block */
  FITCL_FD_CENTRAL = 1  /* (f(p + h e_j) - f(p - h e_j)) / 2h: 1 + 2 np calls per block */
} fitcl_fd_mode;

/**
 * A model given as a C callback that computes only the values f (it is
 * always called with jac = NULL): the Jacobian is formed by finite
 * differences inside the streaming pass, block by block, with MINPACK's
 * step rule (fdjac2): h_j = sqrt(eps) |p_j| for forward differences,
 * eps^(1/3) |p_j| for central ones, and the same with |p_j| replaced by 1
 * where p_j = 0.  Costs 1 + np (forward) or 1 + 2 np (central) callback
 * calls per block of points.  Runs on the pthreads path, like other
 * callback models.
 */
FITCL_API fitcl_status fitcl_model_from_callback_fd(fitcl_context *ctx, fitcl_model_fn fn,
                                                    void *user, fitcl_fd_mode mode,
                                                    const char *const *params, size_t nparams,
                                                    const char *const *vars, size_t nvars,
                                                    fitcl_model **out);

/**
 * A model given as OpenCL C source (OpenCL contexts only).  The source must
 * define
 *   void fitcl_user_model(const double *p, const double *x, double *f, double *J)
 * where p holds the nparams parameters, x the nvars variables of one point,
 * and the function writes f[0] and J[0..nparams) (∂f/∂p).  All pointers are
 * to private memory.  The source is compiled into the accumulation kernel by
 * fitcl_accum_create (through the program cache).  fitcl_model_eval and
 * the pthreads path cannot run it (FITCL_ERR_UNSUPPORTED).
 */
FITCL_API fitcl_status fitcl_model_from_opencl(fitcl_context *ctx, const char *source,
                                               const char *const *params, size_t nparams,
                                               const char *const *vars, size_t nvars,
                                               fitcl_model **out);

/** Writes the OpenCL C function generated for an expression model (model
 *  value + Jacobian, the form fitcl_model_from_opencl accepts) into a
 *  malloc'ed string the caller frees; NULL for other models or no memory. */
FITCL_API char *fitcl_model_opencl_source(const fitcl_model *m);

/** Releases the model.  Accepts NULL.  Accumulators made from it must be
 *  destroyed first. */
FITCL_API void fitcl_model_destroy(fitcl_model *m);

/* ------------------------------------------------------------------------- */
/* Accumulation                                                              */

/** Robust losses, as in scipy.optimize.least_squares. */
typedef enum fitcl_loss {
  FITCL_LOSS_LINEAR = 0, /* rho(z) = z */
  FITCL_LOSS_SOFT_L1,    /* rho(z) = 2*(sqrt(1+z)-1) */
  FITCL_LOSS_HUBER,      /* rho(z) = z if z <= 1 else 2*sqrt(z)-1 */
  FITCL_LOSS_CAUCHY,     /* rho(z) = log(1+z) */
  FITCL_LOSS_ARCTAN      /* rho(z) = arctan(z) */
} fitcl_loss;

/**
 * Partial sums of one pass.  Add them across chunks, devices or processes
 * with fitcl_accum_sums_add.  With r_i = (y_i - f_i)/sigma_i the weighted
 * residual, z_i = r_i^2, J_i = (∂f/∂p)(x_i)/sigma_i the weighted model
 * Jacobian row, and rho', rho'' the loss derivatives at z_i (scipy's
 * f_scale convention):
 *   jtj  = Σ w_i J_iᵀJ_i  with the IRLS weight w_i = max(rho' + 2 z_i rho'', eps)
 *   jtr  = Σ rho'_i J_i r_i
 *   cost = 0.5 Σ rho(z_i),   rss = Σ z_i
 * so the Gauss-Newton step δ solves jtj δ = jtr and the new parameters are
 * p + δ; the gradient of cost with respect to p is -jtr.  For the linear loss
 * w = rho' = 1.
 */
typedef struct fitcl_accum_sums {
  int nparams;
  double jtj[FITCL_NLSQ_MAX_PARAMS * FITCL_NLSQ_MAX_PARAMS]; /* row-major nparams x nparams
                                                    (stride nparams), full symmetric */
  double jtr[FITCL_NLSQ_MAX_PARAMS];
  double cost;
  double rss;
  uint64_t points;
} fitcl_accum_sums;

/** Zeroes a sums struct for nparams parameters. */
FITCL_API void fitcl_accum_sums_zero(fitcl_accum_sums *s, int nparams);
/** dst += src (same nparams). */
FITCL_API void fitcl_accum_sums_add(fitcl_accum_sums *dst, const fitcl_accum_sums *src);

typedef enum fitcl_accum_path {
  FITCL_ACCUM_PATH_AUTO = 0,     /* options only: choose by the measured cost model */
  FITCL_ACCUM_PATH_FUSED = 1,    /* one kernel: J rows in registers, sums in one pass */
  FITCL_ACCUM_PATH_CLBLAST = 2   /* materialise weighted J, CLBlast Dsyrk + Dgemv */
} fitcl_accum_path;

typedef struct fitcl_accum_options {
  fitcl_loss loss;   /* default (0): linear */
  double f_scale;    /* soft margin between inlier and outlier residuals; 0: 1.0 */
  int path;          /* fitcl_accum_path; 0: auto: models with fewer than 8
                        parameters use the fused path; wider ones time both
                        paths at creation on GPUs/accelerators and keep the
                        faster (fitcl_accum_info reports both).  Always
                        fused on the pthreads path and CPU OpenCL devices,
                        and where CLBlast cannot be loaded. */
  size_t max_chunk;  /* largest chunk the caller will pass; 0: 1<<20 points;
                        at most 1<<28.  Device buffers are sized by it
                        (two slots of nvars+2 columns); longer chunks are
                        split internally (results do not change beyond
                        rounding). */
} fitcl_accum_options;

typedef struct fitcl_accum fitcl_accum;

/**
 * Creates an accumulator for `m` on the context's backend.  On OpenCL this
 * generates the model's kernel source and builds it through the persistent
 * program cache (once; never again for new chunk lengths).
 * @param opt  NULL for defaults.
 * @return FITCL_OK; FITCL_ERR_UNSUPPORTED for an OpenCL-source model on the
 *         pthreads backend, or path=2 without OpenCL or without CLBlast
 *         (libclblast.so.1, loaded when first wanted); FITCL_ERR_BUILD when
 *         the generated program does not compile.
 */
FITCL_API fitcl_status fitcl_accum_create(fitcl_context *ctx, const fitcl_model *m,
                                          const fitcl_accum_options *opt, fitcl_accum **out);
/** Starts a pass at `params` (nparams values, copied).  want_jacobian = 0
 *  gives a cost-only pass (cost, rss and points; jtj and jtr stay zero). */
FITCL_API fitcl_status fitcl_accum_begin(fitcl_accum *a, const double *params, int want_jacobian);
/**
 * Adds a chunk of n points (any n >= 0).
 * @param x      nvars column pointers of n values each (NULL when nvars = 0).
 * @param y      n observations.
 * @param sigma  n standard deviations (> 0), or NULL for unit weights.
 * The arrays must stay valid and unchanged until the next fitcl_accum_chunk
 * or fitcl_accum_end on `a` returns (the OpenCL path copies them, or on
 * devices sharing host memory reads them in place, while the caller
 * prepares the next chunk).  Results are reproducible bit for bit for the
 * same chunking, and agree across chunkings to rounding (~1e-15 relative to
 * the sum of absolute terms).
 */
FITCL_API fitcl_status fitcl_accum_chunk(fitcl_accum *a, const double *const *x, const double *y,
                                         const double *sigma, size_t n);
/**
 * Allocates a data column of n doubles for fitcl_accum_chunk: 64-byte
 * aligned and, from 2 MiB up, on 2 MiB pages where the kernel allows it
 * (madvise MADV_HUGEPAGE).  A pass streams its columns once, so with 4 KiB
 * pages it takes a TLB miss every 512 points per column, which costs
 * 10-15% of a pass over 10M points on virtual machines.  The library's own
 * chunk buffers (fitcl_source) are allocated this way.  Free with free().
 * @return NULL when n is 0 or the memory is not there.
 */
FITCL_API double *fitcl_alloc_column(size_t n);
/** Finishes the pass and writes the sums (out->nparams = the model's). */
FITCL_API fitcl_status fitcl_accum_end(fitcl_accum *a, fitcl_accum_sums *out);

typedef struct fitcl_accum_info {
  int path;                 /* fitcl_accum_path actually used (1 or 2) */
  const char *backend;      /* "cpu" or "opencl" (callback models: "cpu") */
  uint64_t program_builds;  /* programs compiled or loaded for this accumulator;
                               constant after creation (no rebuild per chunk) */
  uint64_t chunks;          /* chunks processed since creation, after splitting */
  uint64_t passes;          /* passes ended since creation */
  double fused_cost_ns;     /* cost model: measured ns/point of each path at */
  double clblast_cost_ns;   /* creation (0 when not measured) */
  int precompiled;          /* pthreads path: 1 when the model runs as code compiled
                               into the library (its program is a built-in model's,
                               whatever the names), 0 on the expression evaluator;
                               0 on OpenCL, which compiles every model at run time */
  const char *precision;    /* what the sums were computed in: "double", "mixed" or
                               "single" (docs/precision.md) */
} fitcl_accum_info;
FITCL_API fitcl_status fitcl_accum_get_info(const fitcl_accum *a, fitcl_accum_info *info);

/** Releases the accumulator (and its device buffers).  Accepts NULL. */
FITCL_API void fitcl_accum_destroy(fitcl_accum *a);

#ifdef __cplusplus
}
#endif
#endif
