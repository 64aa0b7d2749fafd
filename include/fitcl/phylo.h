/* fitcl public API: phylo.  Included by fitcl.h; do not include directly.
 *
 * The 2-state gain/loss model of gene content and its likelihood.
 *
 * Model.  Each gene family evolves along the branches of a rooted tree as a
 * continuous-time Markov chain on {0 = absent, 1 = present} with gain rate g
 * (0 -> 1) and loss rate l * theta[k] (1 -> 0), where k is the family's rate
 * group (group 0 is the background; the retention test frees theta[1]).
 * Rate variation across families follows a discrete gamma distribution with
 * K categories of equal probability, shape alpha and mean one; the rate of
 * category c is the mean of the gamma distribution inside its quantile
 * interval (Yang 1994, the "mean" method), so the K rates average exactly
 * one.  The root state follows the stationary distribution of the family's
 * group, pi1 = g / (g + l*theta[k]), unless a fixed root distribution is
 * given.  By default the likelihood is conditioned on the family being
 * observed (present in at least one taxon): every family contributes
 * log L - log(1 - P(all absent)), since pangenome tools never write
 * all-absent rows.
 *
 * Gradient.  fitcl_lik_eval() returns the analytic gradient of the total
 * log-likelihood (computed by a postorder and a preorder pass; no finite
 * differences) with respect to the log-parameters, in this fixed layout:
 *
 *   grad[0]              d LL / d log g
 *   grad[1]              d LL / d log l
 *   grad[2]              d LL / d log alpha      (0 when K <= 1)
 *   grad[3 + k]          d LL / d log theta[k],  k = 0 .. ngroups-1
 *   grad[3 + ngroups + v] d LL / d t_v (not log), v = 0 .. nnodes-2, the
 *                        length of the branch above node v in the tree's
 *                        node numbering (present only with
 *                        fitcl_lik_options.branch_gradient)
 *
 * fitcl_lik_grad_size() gives the length.  Note d/d log l equals the sum of
 * d/d log theta[k] over k, since l and theta[k] enter only as a product.
 *
 * Scaling out.  Every result is a sum over site patterns.  A handle may be
 * restricted to a pattern range [pattern_begin, pattern_end) at creation:
 * its log-likelihood and gradient are then the exact partial sums over that
 * range (conditioning included, per pattern), and the partial sums of
 * handles covering disjoint ranges add up to the full result.
 */
#ifndef FITCL_PHYLO_H
#define FITCL_PHYLO_H
#include "../fitcl.h"
#ifdef __cplusplus
extern "C" {
#endif

/** Tree + presence/absence matrix matched by taxon name and compressed into
 *  weighted patterns (created by the readers in fitcl/tree.h). */
typedef struct fitcl_data fitcl_data;

/** Likelihood handle: the data uploaded once, device buffers and the
 *  traversal kept between evaluations. */
typedef struct fitcl_lik fitcl_lik;

typedef enum fitcl_root_mode {
  FITCL_ROOT_STATIONARY = 0, /* default: pi1 = g / (g + l*theta[group]) */
  FITCL_ROOT_FIXED = 1       /* pi1 = fitcl_lik_options.root_p1 for every group */
} fitcl_root_mode;

typedef struct fitcl_lik_options {
  /** Number of discrete-gamma rate categories.  0 or 1: no rate variation
   *  (alpha is ignored and grad[2] is 0).  At most 64. */
  int gamma_cats;
  /** Nonzero: do NOT condition on observation (plain log L).  0 (default):
   *  every family contributes log L - log(1 - P(all absent)). */
  int no_condition;
  /** Root distribution.  0 (default): stationary. */
  fitcl_root_mode root;
  /** With FITCL_ROOT_FIXED: probability that the family is present at the
   *  root, in [0, 1].  Ignored otherwise. */
  double root_p1;
  /** Nonzero: fitcl_lik_eval() also returns d LL / d t for every branch.
   *  0 (default): model parameters only. */
  int branch_gradient;
  /** Pattern range [pattern_begin, pattern_end) this handle evaluates.
   *  Both 0 (default): all patterns. */
  size_t pattern_begin, pattern_end;
  /** Patterns per OpenCL launch chunk, bounding device memory.  0 (default):
   *  chosen from the device's memory.  Ignored on the cpu backend. */
  size_t chunk_patterns;
} fitcl_lik_options;

/** Parameters of one evaluation.  All rates are per unit branch length. */
typedef struct fitcl_gl_params {
  double gain;   /** g > 0 */
  double loss;   /** l > 0 */
  double alpha;  /** gamma shape > 0; ignored when gamma_cats <= 1 */
  /** Loss multipliers theta[k] > 0 for each rate group k (ngroups entries;
   *  see fitcl_lik_ngroups).  NULL: all 1. */
  const double *loss_mult;
  /** Branch lengths >= 0 indexed by node (nnodes entries, the root's
   *  ignored).  NULL: the tree's own lengths. */
  const double *brlen;
} fitcl_gl_params;

/**
 * Creates a likelihood handle on ctx for data.
 * @param ctx   context (its backend runs every evaluation).
 * @param data  tree + patterns; only read during this call (the handle keeps
 *              its own copy), so the caller may destroy it afterwards.
 * @param opt   options, or NULL for all defaults.
 * @param out   receives the handle (NULL on failure; detail in
 *              fitcl_errmsg(ctx)).
 * Thread-safety: like every object, use from one thread at a time together
 * with its context.
 */
FITCL_API fitcl_status fitcl_lik_create(fitcl_context *ctx, const fitcl_data *data,
                                        const fitcl_lik_options *opt, fitcl_lik **out);

/**
 * fitcl_lik_create that takes the data: *data is destroyed and set to NULL,
 * whatever the outcome.  The handle is the same as fitcl_lik_create's; the
 * pthreads backend makes its tip storage from the last patterns to the
 * first and gives the data's pattern rows back as it goes, so the cells are
 * held about once rather than twice while the handle is made.
 */
FITCL_API fitcl_status fitcl_lik_create_take(fitcl_context *ctx, fitcl_data **data,
                                             const fitcl_lik_options *opt, fitcl_lik **out);

/** Releases the handle and its device buffers.  Accepts NULL. */
FITCL_API void fitcl_lik_destroy(fitcl_lik *lik);

/**
 * Evaluates the log-likelihood (summed over the handle's pattern range,
 * each pattern weighted by its number of families) and, when grad is not
 * NULL, its gradient in the layout described at the top of this header.
 * Results are bitwise reproducible on one device whatever the thread count;
 * the cpu and OpenCL backends agree to about 1e-12 relative.
 * @param p       parameters (loss_mult/brlen arrays are read during the call).
 * @param loglik  receives the total (required).
 * @param grad    NULL, or fitcl_lik_grad_size(lik) doubles.
 * @return FITCL_ERR_RANGE for a non-finite or non-positive rate, alpha or
 *         multiplier, or a negative branch length; device statuses otherwise.
 */
FITCL_API fitcl_status fitcl_lik_eval(fitcl_lik *lik, const fitcl_gl_params *p, double *loglik,
                                      double *grad);

/** Length of the gradient vector: 3 + ngroups (+ nnodes - 1 with branch
 *  gradients). */
FITCL_API size_t fitcl_lik_grad_size(const fitcl_lik *lik);
/** Number of rate groups of the data (1 + highest group index). */
FITCL_API int fitcl_lik_ngroups(const fitcl_lik *lik);
/** Patterns in the handle's range. */
FITCL_API size_t fitcl_lik_npatterns(const fitcl_lik *lik);
/** Families in the handle's range (the sum of the pattern weights). */
FITCL_API double fitcl_lik_nfamilies(const fitcl_lik *lik);

/**
 * Per-pattern log-likelihoods of the last evaluation (conditioned when the
 * handle conditions), for the handle's range: out[i] is pattern
 * pattern_begin + i, unweighted.  n must be fitcl_lik_npatterns(lik).
 * A handle shared over MPI ranks (fitcl/mpi.h) gathers the values from
 * every rank: a collective call then, made by every rank.
 */
FITCL_API fitcl_status fitcl_lik_pattern_logliks(fitcl_lik *lik, double *out, size_t n);

/**
 * Per-family log-likelihoods of the last evaluation: out[f] for every family
 * f of the data whose pattern lies in the handle's range, NaN for the
 * others.  n must be the data's number of families.  Collective over MPI
 * ranks, as fitcl_lik_pattern_logliks.
 */
FITCL_API fitcl_status fitcl_lik_family_logliks(fitcl_lik *lik, double *out, size_t n);

/**
 * Batched closed-form transition matrices of the 2-state gain/loss chain on
 * the context's backend: for i < n, with gain rate gain[i], loss rate
 * loss[i] and branch length t[i] (all >= 0, gain + loss > 0),
 *   p[4i..4i+3]  = P00, P01, P10, P11 of exp(Q t),
 * and when deriv is not NULL
 *   deriv[6i..6i+5] = dP01/dlog(gain), dP10/dlog(gain), dP01/dlog(loss),
 *                     dP10/dlog(loss), dP01/dt, dP10/dt
 * (dP00 = -dP01 and dP11 = -dP10).  Diagonals keep full relative precision.
 * All arrays are host memory; on OpenCL they are copied to and from the
 * device during the call.
 */
FITCL_API fitcl_status fitcl_gl_pmatrices(fitcl_context *ctx, size_t n, const double *gain,
                                          const double *loss, const double *t, double *p,
                                          double *deriv);

/* ------------------------------------------------------------------------- */
/* General k-state models                                                    */

typedef enum fitcl_kstate_method {
  FITCL_KSTATE_AUTO = 0,  /* eigen when Q is reversible, else Pade */
  FITCL_KSTATE_EIGEN = 1, /* requires a reversible Q (FITCL_ERR_ARG otherwise) */
  FITCL_KSTATE_PADE = 2   /* scaling and squaring with the [13/13] Pade approximant */
} fitcl_kstate_method;

/**
 * Batched transition matrices P(t_i) = exp(Q t_i) of one k-state rate
 * matrix for n branch lengths, on the context's backend.
 *
 * Reversible Q (detailed balance pi_i q_ij = pi_j q_ji with its stationary
 * distribution pi > 0, checked to 1e-12 relative): Q is symmetrised as
 * S = D^1/2 Q D^-1/2 with D = diag(pi), S = U diag(lambda) U^T is computed
 * once by LAPACK's dsyevr, and every P(t) = D^-1/2 U diag(exp(lambda t))
 * U^T D^1/2 is applied in one batched pass (a kernel on OpenCL).  Other Q:
 * scaling and squaring with the degree-13 Pade approximant (Higham 2005),
 * one matrix per branch on the host worker pool.
 *
 * @param k       number of states, 2..64.
 * @param q       k*k rate matrix, row-major: q[i*k+j] >= 0 for i != j is the
 *                rate i -> j; rows must sum to zero (to 1e-10 relative).
 * @param n, t    n branch lengths t[i] >= 0, finite.
 * @param method  FITCL_KSTATE_AUTO (0) unless a specific method is wanted.
 * @param out     n*k*k doubles: out[i*k*k + r*k + c] = P(t_i)[r][c].
 */
FITCL_API fitcl_status fitcl_kstate_pmatrices(fitcl_context *ctx, int k, const double *q, size_t n,
                                              const double *t, fitcl_kstate_method method,
                                              double *out);

/**
 * Rates of the K discrete-gamma categories (mean method, mean exactly one)
 * for shape alpha, computed with accurate gamma quantiles.  Exposed for
 * tests and reports.  K in 1..64; K == 1 gives {1}.
 */
FITCL_API fitcl_status fitcl_gamma_rates(double alpha, int k, double *rates);

#ifdef __cplusplus
}
#endif
#endif
