/* fitcl_lik_create: the public entry point, from a matched data set. */
#include "phylo/data.h"
#include "kernels/lik.h"

fitcl_status fitcl_lik_create(fitcl_context *ctx, const fitcl_data *data,
                              const fitcl_lik_options *opt, fitcl_lik **out) {
  if (out) *out = NULL;
  if (!ctx || !data || !out) return FITCL_ERR_NULL;
  return fitcl__lik_create(ctx, &data->tree, &data->pat, opt, out);
}
