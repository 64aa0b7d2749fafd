/* The retention likelihood-ratio test: does a chosen set of families lose
 * genes at a different rate (loss x theta) from the rest? */
#include "phylo/retention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/util.h"
#include "kernels/lik_multi.h"
#include "phylo/data.h"
#include "phylo/fit.h"
#include "core/stats.h"

fitcl_status fitcl_retention_test(fitcl_context *ctx, fitcl_data *data,
                                  const unsigned char *selected,
                                  const fitcl_retention_options *opt,
                                  fitcl_retention_result *out) {
  static const fitcl_retention_options defaults;
  fitcl_status st = FITCL_OK;
  int *groups = NULL;
  fitcl_lik *lik = NULL;
  if (!ctx || !data || !selected || !out)
    return fitcl__fail(ctx, FITCL_ERR_NULL, "fitcl_retention_test: NULL argument");
  fitcl__clear_error(ctx);
  if (!opt) opt = &defaults;
  if (opt->fit.gamma_cats < 0 || opt->fit.gamma_cats > 64)
    return fitcl__fail(ctx, FITCL_ERR_RANGE, "gamma categories must lie in 0..64, got %d",
                       opt->fit.gamma_cats);
  if (opt->bootstrap < 0)
    return fitcl__fail(ctx, FITCL_ERR_RANGE, "bootstrap replicates must be >= 0, got %d",
                       opt->bootstrap);
  size_t n = data->pat.nfamilies, k = 0;
  for (size_t i = 0; i < n; ++i) k += selected[i] != 0;
  if (k == 0)
    return fitcl__fail(ctx, FITCL_ERR_ARG,
                       "the family set is empty: select at least one family of the matrix");
  if (k == n)
    return fitcl__fail(ctx, FITCL_ERR_ARG,
                       "every family (%zu) is selected: the test compares the set with the "
                       "other families, so leave some out", n);
  memset(out, 0, sizeof *out);
  out->families = n;
  out->selected = k;

  groups = malloc(sizeof(int) * n);
  if (!groups) { st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory"); goto fail; }
  for (size_t i = 0; i < n; ++i) groups[i] = selected[i] != 0;
  char err[512] = "";
  st = fitcl_data_set_groups(data, groups, n, err, sizeof err);
  if (st != FITCL_OK) { st = fitcl__fail(ctx, st, "%s", err); goto fail; }

  fitcl_lik_options lo = {0};
  lo.gamma_cats = opt->fit.gamma_cats;
  lo.no_condition = opt->fit.no_condition;
  st = fitcl_lik_create(ctx, data, &lo, &lik);
  if (st != FITCL_OK) goto fail;
  fitcl__fit_start s;
  fitcl__fit_default_start(data, &s);
  double start[3] = {s.gain, s.loss, s.alpha};
  st = fitcl__retention_fit_pair(ctx, lik, &opt->fit, start, &out->null_fit, &out->alt_fit,
                                 &out->lrt);
  if (st != FITCL_OK) goto fail;
  out->df = 1;
  out->p_value = fitcl__chisq_sf(out->lrt, 1.0);
  out->effect = out->alt_fit.effect;
  out->se_effect = out->alt_fit.se_effect;
  double se_log = out->se_effect / out->effect;
  double z = fitcl__normal_quantile(0.975);
  out->ci_low = isfinite(se_log) ? out->effect * exp(-z * se_log) : NAN;
  out->ci_high = isfinite(se_log) ? out->effect * exp(z * se_log) : NAN;
  out->ci_method = "wald-log";
  if (opt->profile_ci) {
    st = fitcl__retention_profile_ci(ctx, lik, &opt->fit, &out->alt_fit, &out->ci_low,
                                     &out->ci_high);
    if (st != FITCL_OK) goto fail;
    out->ci_method = "profile";
  }
  out->bootstrap_p_value = NAN;
  double speed[FITCL__MAX_DEVICES];
  fitcl__lik_multi_rates(lik, speed);
  fitcl_lik_destroy(lik);
  lik = NULL;
  if (opt->bootstrap > 0) {
    st = fitcl__retention_bootstrap(ctx, data, opt, &out->null_fit, speed, out);
    if (st != FITCL_OK) goto fail;
  }
fail:
  fitcl_lik_destroy(lik);
  FITCL_FREE(groups);
  return st;
}
