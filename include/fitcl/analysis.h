/* fitcl public API: analysis.  Included by fitcl.h; do not include directly.
 *
 * The analyses built on the gain/loss likelihood (fitcl/phylo.h):
 *   - fitcl_fit_rates: maximum-likelihood gain and loss rates (and the gamma
 *     shape), with standard errors from the observed information;
 *   - fitcl_retention_test: likelihood-ratio test that a chosen set of
 *     families is lost at a different rate (loss x theta), with a chi-square
 *     and optionally a parametric-bootstrap p-value;
 *   - fitcl_simulate: presence/absence data simulated on a tree;
 *   - fitcl_ancestral: posterior presence at internal nodes and expected
 *     gains and losses per branch.
 *
 * Every fit maximises the log-likelihood over log-parameters with a
 * bound-constrained quasi-Newton method (projected L-BFGS) driven by the
 * analytic gradient.  Rates are bounded to [1e-8, 1e4] per unit branch
 * length, alpha to [0.02, 1000] and theta to [1e-6, 1e6]; an estimate on a
 * bound is reported with a NaN standard error.
 *
 * Thread-safety: every call uses its context from the calling thread only
 * (see fitcl.h); the bootstrap runs its replicates on the context's worker
 * pool internally.
 */
#ifndef FITCL_ANALYSIS_H
#define FITCL_ANALYSIS_H
#include "../fitcl.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef struct fitcl_tree fitcl_tree;
typedef struct fitcl_data fitcl_data;

/* ------------------------------------------------------------------------- */
/* Rate fits                                                                 */

typedef struct fitcl_fit_options {
  /** Discrete-gamma rate categories.  0 or 1 (default): no rate variation
   *  and no alpha parameter.  2..64: alpha is estimated too. */
  int gamma_cats;
  /** Nonzero: plain likelihood.  0 (default): conditioned on every family
   *  being present in at least one taxon (see fitcl/phylo.h). */
  int no_condition;
  /** Optimizer iteration cap.  0: 200. */
  int max_iter;
  /** Stop when the infinity norm of the projected gradient of the
   *  log-likelihood with respect to the log-parameters is below this.
   *  0: 1e-6. */
  double pgtol;
  /** Stop when the relative change of the log-likelihood in one iteration is
   *  below this.  0: 1e-12. */
  double ftol;
  /** Nonzero: skip the standard errors (no Hessian; the bootstrap uses
   *  this).  0 (default): compute them. */
  int no_stderr;
} fitcl_fit_options;

typedef struct fitcl_fit_result {
  double loglik;        /* maximised log-likelihood */
  double aic;           /* 2k - 2 loglik */
  int nparams;          /* k: 2, 3 with alpha, +1 with theta */
  double gain, loss;    /* MLEs */
  double alpha;         /* gamma shape; NaN without gamma categories */
  double effect;        /* theta (retention alternative only); NaN otherwise */
  double se_gain, se_loss, se_alpha, se_effect; /* NaN where unavailable */
  int iterations;       /* optimizer iterations */
  int evaluations;      /* likelihood + gradient evaluations, Hessian included */
  int converged;        /* 1 when a convergence test fired */
  const char *status;   /* "pgtol", "ftol", "max_iter" or "line_search" (static) */
} fitcl_fit_result;

/**
 * Fits the global gain and loss rates (and alpha with gamma categories) to
 * data, with group multipliers fixed at 1.
 * @param ctx   context whose backend evaluates the likelihood.
 * @param data  tree + patterns (fitcl/tree.h); only read.
 * @param opt   options, or NULL for the defaults.
 * @param out   receives the estimates.
 * @return FITCL_OK when the fit ran (check out->converged), or a status
 *         with the detail in fitcl_errmsg(ctx).
 */
FITCL_API fitcl_status fitcl_fit_rates(fitcl_context *ctx, const fitcl_data *data,
                                       const fitcl_fit_options *opt, fitcl_fit_result *out);

/**
 * fitcl_fit_rates that takes the data: *data is destroyed and set to NULL,
 * whatever the outcome, its patterns handed to the likelihood handle
 * (fitcl_lik_create_take) once the starting point is read from them, so
 * the fit holds the cells once (the handle's) rather than twice.  The
 * result is the same as fitcl_fit_rates'.
 */
FITCL_API fitcl_status fitcl_fit_rates_take(fitcl_context *ctx, fitcl_data **data,
                                            const fitcl_fit_options *opt, fitcl_fit_result *out);

/* ------------------------------------------------------------------------- */
/* Retention test                                                            */

/** Selects families by name: `selected[f]` (one byte per family of data, in
 *  matrix row order) is set to 1 for every family named in the file at
 *  `path` (one name per line; blank lines and lines starting with '#' are
 *  skipped; surrounding white space is ignored), 0 otherwise.
 *  @return FITCL_ERR_NAME naming the first unknown family with file:line,
 *          FITCL_ERR_IO when the file cannot be read. */
FITCL_API fitcl_status fitcl_select_families_file(fitcl_context *ctx, const fitcl_data *data,
                                                  const char *path, unsigned char *selected);

/** Selects the families whose name matches the POSIX extended regular
 *  expression `regex` (unanchored; use ^...$ for whole names).
 *  @return FITCL_ERR_ARG for a malformed expression. */
FITCL_API fitcl_status fitcl_select_families_regex(fitcl_context *ctx, const fitcl_data *data,
                                                   const char *regex, unsigned char *selected);

/** Progress callback of the bootstrap: called from the calling thread after
 *  every finished batch of replicates. */
typedef void (*fitcl_progress_fn)(void *user, int done, int total);

typedef struct fitcl_retention_options {
  /** Options of both fits (gamma categories, conditioning, tolerances). */
  fitcl_fit_options fit;
  /** Parametric-bootstrap replicates.  0 (default): none. */
  int bootstrap;
  /** Seed of the bootstrap simulations.  The bootstrap p-value depends only
   *  on the data, the options and this seed, not on the thread count. */
  uint64_t seed;
  /** Nonzero: the 95% interval of theta from the profile likelihood
   *  (theta values where the log-likelihood maximised over the other
   *  parameters drops by chi2_1(0.95)/2 = 1.92; a few dozen extra
   *  evaluations).  0 (default): the Wald interval on log theta. */
  int profile_ci;
  /** Optional progress callback and its argument. */
  fitcl_progress_fn progress;
  void *progress_user;
} fitcl_retention_options;

typedef struct fitcl_retention_result {
  fitcl_fit_result null_fit;  /* global gain and loss (+ alpha); its SEs are NaN
                                 (fitcl_fit_rates gives them) */
  fitcl_fit_result alt_fit;   /* the same + theta for the selected families */
  size_t families;            /* families in the data */
  size_t selected;            /* families with loss x theta */
  double effect;              /* theta-hat */
  double se_effect;           /* its standard error (delta method from log theta) */
  /** 95% interval of theta.  Default: the Wald interval on log theta,
   *  exp(log theta-hat -/+ 1.96 SE(log theta-hat)).  With profile_ci: the
   *  profile-likelihood interval; an end where the profile never drops
   *  far enough within theta's bounds is 0 or +infinity. */
  double ci_low, ci_high;
  const char *ci_method;      /* "wald-log" or "profile" (static) */
  double lrt;                 /* 2 (LL_alt - LL_null), clipped at 0 */
  int df;                     /* 1 */
  double p_value;             /* chi-square(df) upper tail of lrt */
  int bootstrap_replicates;   /* replicates run (0 without bootstrap) */
  /** (1 + #{replicates with LRT >= observed}) / (1 + replicates); NaN
   *  without bootstrap. */
  double bootstrap_p_value;
} fitcl_retention_result;

/**
 * Runs the retention likelihood-ratio test.  Null: global gain and loss.
 * Alternative: the selected families have loss x theta, theta > 0 free; the
 * alternative is warm-started from the null estimates.
 * @param data      the data set; its rate groups are reassigned
 *                  (fitcl_data_set_groups): selected families go to group 1,
 *                  the others to group 0, and stay so after the call.
 * @param selected  one byte per family of data (nonzero: in the set).  The
 *                  set must be neither empty nor every family
 *                  (FITCL_ERR_ARG otherwise, with a message saying which).
 * With opt->bootstrap = N, N data sets with the original families' missing
 * entries are simulated under the fitted null with the same observation
 * conditioning (families absent everywhere are redrawn), both models are
 * refitted to each, and the bootstrap p-value is reported.
 */
FITCL_API fitcl_status fitcl_retention_test(fitcl_context *ctx, fitcl_data *data,
                                            const unsigned char *selected,
                                            const fitcl_retention_options *opt,
                                            fitcl_retention_result *out);

/* ------------------------------------------------------------------------- */
/* Simulation                                                                */

typedef struct fitcl_sim_options {
  double gain;              /** gain rate g > 0 (required) */
  double loss;              /** loss rate l > 0 (required) */
  size_t families;          /** number of families >= 1 (required) */
  /** Fraction of families, chosen at random, whose loss is multiplied by
   *  `effect`.  0 (default): none.  round(fraction x families) are chosen. */
  double retained_fraction;
  /** Loss multiplier theta of the retained families.  0: 1. */
  double effect;
  /** Discrete-gamma rate categories (0 or 1: none) and shape alpha (> 0
   *  when gamma_cats > 1).  Each family draws a category uniformly; the
   *  category rate multiplies both gain and loss. */
  int gamma_cats;
  double alpha;
  /** Nonzero: condition on observation: a family absent from every tip is
   *  redrawn (rejection sampling), as in the conditioned likelihood. */
  int condition;
  /** Seed.  The output depends only on the tree, the options and the seed. */
  uint64_t seed;
} fitcl_sim_options;

/**
 * Simulates presence/absence of families along tree.  The root state is
 * drawn from the stationary distribution of each family's rates,
 * pi1 = g / (g + l theta); each branch applies the closed-form 2-state
 * transition probabilities.
 * @param states    caller-allocated, families x ntips bytes, family-major
 *                  (states[f * ntips + tip], tip in the tree's tip order),
 *                  receives 0 (absent) or 1 (present).
 * @param retained  NULL, or families bytes: 1 for the families with loss x
 *                  theta.
 * @return FITCL_ERR_DATA when conditioning needs over a million draws for
 *         one family (gain far too small for the tree).
 */
FITCL_API fitcl_status fitcl_simulate(fitcl_context *ctx, const fitcl_tree *tree,
                                      const fitcl_sim_options *opt, unsigned char *states,
                                      unsigned char *retained);

/* ------------------------------------------------------------------------- */
/* Ancestral reconstruction                                                  */

typedef struct fitcl_ancestral_result {
  size_t families;      /* rows of p_present (matrix row order) */
  int nodes;            /* nodes of the tree (tips first, root last) */
  /** Posterior probability that family f is present at node v:
   *  p_present[f * nodes + v].  Tips with data hold 0 or 1. */
  double *p_present;
  /** Expected number of families gained and lost on the branch above node
   *  v (v < nodes - 1; the root entry is 0): the sums over families of
   *  P(absent at the parent, present at v | data) and
   *  P(present at the parent, absent at v | data). */
  double *gains, *losses;
} fitcl_ancestral_result;

/**
 * Posterior presence at every node and expected gains and losses per branch,
 * for the rates in p (p->loss_mult per group as in fitcl/phylo.h; NULL: all
 * 1) and gamma_cats categories.  Computed on the host by an upward and a
 * downward pass per pattern, in double precision.  The expected gains and
 * losses add blocks of patterns exactly; a context attached to MPI ranks
 * (fitcl/mpi.h) shares the blocks over them, and every rank gets the whole
 * result with one process's bits.
 * Free the result with fitcl_ancestral_free().
 */
FITCL_API fitcl_status fitcl_ancestral(fitcl_context *ctx, const fitcl_data *data,
                                       const fitcl_gl_params *p, int gamma_cats,
                                       fitcl_ancestral_result *out);
FITCL_API void fitcl_ancestral_free(fitcl_ancestral_result *r);

#ifdef __cplusplus
}
#endif
#endif
