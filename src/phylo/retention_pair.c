/* The pair of fits behind the retention statistic, shared by the test and
 * its parametric bootstrap. */
#include "phylo/retention.h"

#include "phylo/fit.h"

fitcl_status fitcl__retention_fit_pair(fitcl_context *ctx, fitcl_lik *lik,
                                       const fitcl_fit_options *fopt,
                                       const double start[3], fitcl_fit_result *null_fit,
                                       fitcl_fit_result *alt_fit, double *lrt) {
  int has_alpha = fopt->gamma_cats > 1;
  fitcl__fit_start s = {start[0], start[1], start[2], 1.0};
  /* The report needs the null's estimates, not their standard errors
   * (`fitcl fit` gives those): skip its Hessian. */
  fitcl_fit_options nopt = *fopt;
  nopt.no_stderr = 1;
  fitcl_status st = fitcl__fit_run(ctx, lik, (fitcl__fit_model){has_alpha, 0, 0}, &s, &nopt, null_fit);
  if (st != FITCL_OK) return st;
  /* The alternative starts at the null optimum with theta = 1, where its
   * likelihood equals the null's: the optimizer only goes up from there, so
   * the statistic can never be negative through a poor start. */
  fitcl__fit_start a = {null_fit->gain, null_fit->loss, has_alpha ? null_fit->alpha : 1.0, 1.0};
  st = fitcl__fit_run(ctx, lik, (fitcl__fit_model){has_alpha, 1, 0}, &a, fopt, alt_fit);
  if (st != FITCL_OK) return st;
  double d = 2.0 * (alt_fit->loglik - null_fit->loglik);
  *lrt = d > 0 ? d : 0.0;
  return FITCL_OK;
}
