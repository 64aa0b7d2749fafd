/* fitcl public API: value of information.  Included by fitcl.h; do not
 * include directly.
 *
 * From a probabilistic sensitivity analysis (PSA): n samples of the net
 * benefit of k strategies, or of their costs and effects, and the parameter
 * draws behind them.  docs/value-of-information.md gives the formulas.
 *
 * Arrays are plain C arrays, row-major (sample i, strategy j at
 * x[i*k + j]: NumPy's C order for an n x k array); outputs are written to
 * arrays the caller allocates.  Every sum is formed in fixed blocks of
 * samples and added in block order: the results are the same bits on every
 * backend and thread count.
 *
 * Ties: a sample whose largest net benefit is shared by several strategies
 * counts for the first of them (NumPy's argmax), both in the probability
 * that a strategy is optimal and in the frontier.
 */
#ifndef FITCL_VOI_H
#define FITCL_VOI_H
#include "../fitcl.h"
#ifdef __cplusplus
extern "C" {
#endif

/** Largest number of strategies a decision may have. */
#define FITCL_VOI_MAX_STRATEGIES 64
/** Largest number of parameters of interest of one EVPPI. */
#define FITCL_EVPPI_MAX_PARAMS 4

/**
 * Expected value of perfect information of an n x k net-benefit matrix:
 *   EVPI = (1/n) Σ_i max_j nb[i][j]  -  max_j (1/n) Σ_i nb[i][j].
 * @param ctx     context (backend, errors).
 * @param nb      n*k net benefits, row-major; every value finite.
 * @param n       samples (>= 1).
 * @param k       strategies (1..FITCL_VOI_MAX_STRATEGIES).
 * @param evpi    receives the EVPI (>= 0 up to rounding; exactly 0 for k = 1).
 * @param enb     k values: the expected net benefit of each strategy
 *                (column means); may be NULL.
 * @param p_best  k values: the fraction of samples in which each strategy
 *                has the largest net benefit (ties: the first); may be NULL.
 * @return FITCL_OK; FITCL_ERR_NULL, FITCL_ERR_SIZE (n = 0, k out of range),
 *         FITCL_ERR_DATA for a NaN or infinite value (the message names the
 *         first one: sample and strategy).
 */
FITCL_API fitcl_status fitcl_evpi(fitcl_context *ctx, const double *nb, size_t n, size_t k,
                                  double *evpi, double *enb, double *p_best);

/**
 * EVPI and acceptability over a grid of willingness-to-pay values λ, from
 * costs and effects: the net benefit λ·e − c of every sample, strategy and
 * λ is formed on the fly (never stored), in one pass over the data.
 * Outputs, for each λ index w (arrays the caller allocates; any may be
 * NULL):
 * @param costs    n*k costs, row-major; finite.
 * @param effects  n*k effects, row-major; finite.
 * @param n        samples (>= 1).
 * @param k        strategies (1..FITCL_VOI_MAX_STRATEGIES).
 * @param wtp      nwtp finite willingness-to-pay values (any order).
 * @param nwtp     how many (>= 1).
 * @param evpi     nwtp values: EVPI at each λ.
 * @param enb      nwtp*k: expected net benefit λ·mean(e_j) − mean(c_j),
 *                 row-major (λ index, strategy).
 * @param ceac     nwtp*k: the cost-effectiveness acceptability curves, the
 *                 fraction of samples in which strategy j has the largest
 *                 net benefit at λ.
 * @param best     nwtp: the strategy with the largest expected net benefit
 *                 at λ (ties: the first), the one the frontier follows.
 * @param ceaf     nwtp: the cost-effectiveness acceptability frontier,
 *                 ceac[w][best[w]].
 * @return as fitcl_evpi; FITCL_ERR_DATA names a non-finite cost, effect or
 *         λ.
 */
FITCL_API fitcl_status fitcl_evpi_wtp(fitcl_context *ctx, const double *costs,
                                      const double *effects, size_t n, size_t k,
                                      const double *wtp, size_t nwtp, double *evpi, double *enb,
                                      double *ceac, int32_t *best, double *ceaf);

/**
 * The factor that turns a per-decision value (EVPI, EVPPI) into a
 * population value, as voiage does: population × annuity, where the
 * annuity over `horizon` years at discount rate r is horizon when r = 0,
 * else (1 − (1 + r)^−horizon) / r.
 * @param population  people affected per year (> 0, finite).
 * @param horizon     years (> 0, finite).
 * @param discount    annual discount rate, 0 <= r <= 1.
 * @param factor      receives the factor.
 * @return FITCL_OK; FITCL_ERR_NULL; FITCL_ERR_RANGE naming the bad value.
 */
FITCL_API fitcl_status fitcl_voi_population_factor(double population, double horizon,
                                                   double discount, double *factor);

/** Options of fitcl_evppi; zero-initialise for the defaults. */
typedef struct fitcl_evppi_options {
  /** B-spline basis functions per parameter (cubic: at least 4).  0: 16 for
   *  one parameter, 7 for two, 5 for three, 4 for four (16, 49, 125 and 256
   *  coefficients). */
  int basis;
  /** Draws of the regression coefficients for the standard error, rounded
   *  up to a multiple of 8 (they are evaluated 8 side by side).  0: 96;
   *  negative: no standard error (se is then 0). */
  int se_draws;
  /** Seed of those draws (the same seed gives the same bits). */
  uint64_t seed;
} fitcl_evppi_options;

/** What fitcl_evppi returns. */
typedef struct fitcl_evppi_result {
  double evppi;    /* mean over samples of the largest fitted expected net
                      benefit, minus the largest mean net benefit */
  double se;       /* standard error from the coefficient draws (0 when off) */
  int basis;       /* coefficients of each regression */
  int draws;       /* draws behind se */
  /* Per strategy j (index 0 is the reference, whose increment is 0): the
   * smoothing parameter GCV chose for the regression of nb[:, j] − nb[:, 0]
   * and its effective degrees of freedom. */
  double lambda[FITCL_VOI_MAX_STRATEGIES];
  double edf[FITCL_VOI_MAX_STRATEGIES];
} fitcl_evppi_result;

/**
 * Expected value of partial perfect information for 1 to 4 parameters, by
 * regression (Strong, Oakley & Brennan 2014).  The increment of each
 * strategy's net benefit over strategy 0 is regressed on the parameters of
 * interest with a penalised cubic B-spline (a tensor product for 2–4
 * parameters, second-difference penalty, one smoothing parameter chosen by
 * generalised cross-validation).  With g_ij the fitted increment at sample
 * i (g_i0 = 0) and ĝ_ij = mean(nb[:,0]) + g_ij the fitted expected net
 * benefit of strategy j given the parameters of interest,
 *   EVPPI = (1/n) Σ_i max_j ĝ_ij − max_j (1/n) Σ_i nb[i][j].
 * The standard error is the spread of that estimate over draws of the
 * coefficients from their posterior (as SAVI does).
 * @param nb       n*k net benefits, row-major; finite.
 * @param n        samples; more than the basis size.
 * @param k        strategies (2..FITCL_VOI_MAX_STRATEGIES).
 * @param theta    n*p parameter draws, row-major (sample i, parameter q at
 *                 theta[i*p + q]); the columns of interest finite.
 * @param p        parameters in theta (>= 1).
 * @param of       nof column indices (< p, distinct) of the parameters of
 *                 interest.
 * @param nof      1..FITCL_EVPPI_MAX_PARAMS.
 * @param opt      NULL for the defaults.
 * @param out      receives the result.
 * @return FITCL_OK; FITCL_ERR_NULL; FITCL_ERR_SIZE (too few samples for
 *         the basis, k or nof out of range); FITCL_ERR_ARG (a bad or repeated
 *         index, a bad option); FITCL_ERR_DATA (a non-finite value, a
 *         parameter of interest that does not vary).
 */
FITCL_API fitcl_status fitcl_evppi(fitcl_context *ctx, const double *nb, size_t n, size_t k,
                                   const double *theta, size_t p, const size_t *of, size_t nof,
                                   const fitcl_evppi_options *opt, fitcl_evppi_result *out);

#ifdef __cplusplus
}
#endif
#endif
