/* EVPI, acceptability curves and the frontier (include/fitcl/voi.h) from
 * the block sums of kernels/voi.h, and population scaling. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "kernels/voi.h"
#include "voi/voi_common.h"

_Static_assert(FITCL_VOI_MAX_STRATEGIES <= 64, "count arrays of the kernels");

fitcl_status fitcl__voi_check_shape(fitcl_context *ctx, const char *what, size_t n, size_t k,
                                    size_t kmin) {
  if (n == 0) return fitcl__fail(ctx, FITCL_ERR_SIZE, "%s: no samples (n = 0)", what);
  if (k < kmin || k > FITCL_VOI_MAX_STRATEGIES)
    return fitcl__fail(ctx, FITCL_ERR_SIZE, "%s: %zu strategies; %zu to %d are supported", what,
                       k, kmin, FITCL_VOI_MAX_STRATEGIES);
  if (n > (size_t)INT64_MAX / 8 / k)
    return fitcl__fail(ctx, FITCL_ERR_SIZE, "%s: %zu x %zu values is too many", what, n, k);
  return FITCL_OK;
}

fitcl_status fitcl__voi_first_nonfinite(fitcl_context *ctx, const char *what, const double *x,
                                        size_t n, size_t k) {
  for (size_t i = 0; i < n * k; ++i)
    if (!isfinite(x[i]))
      return fitcl__fail(ctx, FITCL_ERR_DATA, "%s[%zu][%zu] is %s: every value must be finite",
                         what, i / k, i % k, isnan(x[i]) ? "NaN" : "infinite");
  return FITCL_OK;
}

/* The first strategy with the largest value (NumPy's argmax). */
static size_t argmax(const double *v, size_t k) {
  size_t a = 0;
  for (size_t j = 1; j < k; ++j)
    if (v[j] > v[a]) a = j;
  return a;
}

fitcl_status fitcl_evpi(fitcl_context *ctx, const double *nb, size_t n, size_t k, double *evpi,
                        double *enb, double *p_best) {
  if (!ctx) return FITCL_ERR_NULL;
  fitcl__clear_error(ctx);
  if (!nb || !evpi) return fitcl__fail(ctx, FITCL_ERR_NULL, "fitcl_evpi: nb and evpi are required");
  fitcl_status st = fitcl__voi_check_shape(ctx, "fitcl_evpi", n, k, 1);
  if (st != FITCL_OK) return st;
  double max_sum, regret[FITCL_VOI_MAX_STRATEGIES], mean[FITCL_VOI_MAX_STRATEGIES];
  uint64_t count[FITCL_VOI_MAX_STRATEGIES];
  st = fitcl__voi_nb_sums(ctx, nb, n, (int)k, &max_sum, regret, count);
  if (st != FITCL_OK) return st;
  size_t a = 0;
  for (size_t j = 0; j < k; ++j) {
    /* A NaN or infinity anywhere reaches a regret. */
    if (!isfinite(regret[j]) || !isfinite(max_sum)) {
      st = fitcl__voi_first_nonfinite(ctx, "nb", nb, n, k);
      return st != FITCL_OK ? st : fitcl__fail(ctx, FITCL_ERR_DATA,
                                              "the net benefits of strategy %zu overflow their sum", j);
    }
    /* Column sum = Σ max − regret; the largest mean has the smallest regret
     * (the first of equal ones, as NumPy's argmax). */
    mean[j] = (max_sum - regret[j]) / (double)n;
    if (regret[j] < regret[a]) a = j;
  }
  /* E[max_j NB_j] − E[NB_a] = E[max_j NB_j − NB_a]: the mean regret. */
  *evpi = regret[a] / (double)n;
  if (enb) memcpy(enb, mean, k * sizeof *enb);
  if (p_best)
    for (size_t j = 0; j < k; ++j) p_best[j] = (double)count[j] / (double)n;
  return FITCL_OK;
}

fitcl_status fitcl_evpi_wtp(fitcl_context *ctx, const double *costs, const double *effects,
                            size_t n, size_t k, const double *wtp, size_t nwtp, double *evpi,
                            double *enb, double *ceac, int32_t *best, double *ceaf) {
  if (!ctx) return FITCL_ERR_NULL;
  fitcl__clear_error(ctx);
  if (!costs || !effects || !wtp)
    return fitcl__fail(ctx, FITCL_ERR_NULL, "fitcl_evpi_wtp: costs, effects and wtp are required");
  fitcl_status st = fitcl__voi_check_shape(ctx, "fitcl_evpi_wtp", n, k, 1);
  if (st != FITCL_OK) return st;
  if (nwtp == 0) return fitcl__fail(ctx, FITCL_ERR_SIZE, "fitcl_evpi_wtp: no willingness-to-pay values");
  for (size_t w = 0; w < nwtp; ++w)
    if (!isfinite(wtp[w]))
      return fitcl__fail(ctx, FITCL_ERR_DATA, "willingness to pay %zu is not finite", w);
  double *max_sum = malloc(nwtp * sizeof *max_sum);
  uint64_t *count = malloc(nwtp * k * sizeof *count);
  double c_sum[FITCL_VOI_MAX_STRATEGIES], e_sum[FITCL_VOI_MAX_STRATEGIES];
  if (!max_sum || !count) {
    st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory for a sweep over %zu values", nwtp);
    goto done;
  }
  st = fitcl__voi_wtp_sums(ctx, costs, effects, n, (int)k, wtp, nwtp, max_sum, count, c_sum, e_sum);
  if (st != FITCL_OK) goto done;
  for (size_t j = 0; j < k; ++j)
    if (!isfinite(c_sum[j]) || !isfinite(e_sum[j])) {
      st = fitcl__voi_first_nonfinite(ctx, "costs", costs, n, k);
      if (st == FITCL_OK) st = fitcl__voi_first_nonfinite(ctx, "effects", effects, n, k);
      if (st == FITCL_OK)
        st = fitcl__fail(ctx, FITCL_ERR_DATA, "the costs or effects of strategy %zu overflow their sum", j);
      goto done;
    }
  for (size_t w = 0; w < nwtp; ++w) {
    double m[FITCL_VOI_MAX_STRATEGIES];
    for (size_t j = 0; j < k; ++j) {
      const double me = e_sum[j] / (double)n, mc = c_sum[j] / (double)n;
      m[j] = wtp[w] * me - mc;
    }
    const size_t a = argmax(m, k);
    if (evpi) evpi[w] = k == 1 ? 0.0 : max_sum[w] / (double)n - m[a];
    if (enb) memcpy(enb + w * k, m, k * sizeof *enb);
    if (ceac)
      for (size_t j = 0; j < k; ++j) ceac[w * k + j] = (double)count[w * k + j] / (double)n;
    if (best) best[w] = (int32_t)a;
    if (ceaf) ceaf[w] = (double)count[w * k + a] / (double)n;
  }
done:
  free(max_sum);
  free(count);
  return st;
}

fitcl_status fitcl_voi_population_factor(double population, double horizon, double discount,
                                         double *factor) {
  if (!factor) return FITCL_ERR_NULL;
  if (!(population > 0) || !isfinite(population)) return FITCL_ERR_RANGE;
  if (!(horizon > 0) || !isfinite(horizon)) return FITCL_ERR_RANGE;
  if (!(discount >= 0 && discount <= 1)) return FITCL_ERR_RANGE;
  const double annuity = discount == 0 ? horizon : (1 - pow(1 + discount, -horizon)) / discount;
  *factor = population * annuity;
  return FITCL_OK;
}
