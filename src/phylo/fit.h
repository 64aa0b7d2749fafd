/* The maximum-likelihood driver shared by the rate fit, the retention test
 * and the bootstrap.  Internal. */
#ifndef FITCL_PHYLO_FIT_H
#define FITCL_PHYLO_FIT_H

#include "fitcl.h"

/* Which parameters are free.  The vector the optimizer sees is
 * [log g, log l, (log alpha), (log theta[1])], in that order. */
typedef struct fitcl__fit_model {
  int has_alpha;    /* gamma categories > 1: alpha is free */
  int has_effect;   /* theta of group 1 is free (group 1 must exist) */
  /* With has_effect 0: theta of group 1 held at this value (0 means 1);
   * the profile likelihood of theta fixes it this way. */
  double fixed_effect;
} fitcl__fit_model;

/* Starting values in natural units: gain, loss, alpha, theta. */
typedef struct fitcl__fit_start {
  double gain, loss, alpha, effect;
} fitcl__fit_start;

/* Maximises the likelihood of lik over the free parameters of model from
 * start, and fills out (standard errors unless opt->no_stderr).  Multipliers
 * of groups other than 1, and of group 1 when has_effect is 0, are 1.
 * Returns FITCL_OK when the fit ran; errors carry a message in ctx. */
fitcl_status fitcl__fit_run(fitcl_context *ctx, fitcl_lik *lik, fitcl__fit_model model,
                            const fitcl__fit_start *start, const fitcl_fit_options *opt,
                            fitcl_fit_result *out);

/* A data-driven starting point: the stationary presence probability from the
 * fraction of present entries, and a total rate that puts about one event
 * on the mean root-to-tip path. */
void fitcl__fit_default_start(const fitcl_data *data, fitcl__fit_start *start);

#endif
