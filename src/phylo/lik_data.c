/* The likelihood family over the analyses' structures: fitcl_lik_create
 * (public, from a matched data set) and fitcl__lik_create (from a tree and
 * patterns). */
#include "kernels/lik.h"
#include "phylo/data.h"

fitcl_status fitcl__lik_create(fitcl_context *ctx, const fitcl__tree *tree,
                               const fitcl__patterns *pat, const fitcl_lik_options *opt,
                               fitcl_lik **out) {
  if (!tree || !pat) return FITCL_ERR_NULL;
  const fitcl__lik_tree t = {tree->ntips, tree->nnodes, tree->child_start,
                             tree->child,  tree->brlen,  tree->level};
  const fitcl__lik_patterns p = {pat->ntaxa, pat->npatterns, pat->state,     pat->weight,
                                 pat->group, pat->ngroups,   pat->nfamilies, pat->family_pattern};
  return fitcl__lik_open(ctx, &t, &p, opt, out);
}

fitcl_status fitcl_lik_create(fitcl_context *ctx, const fitcl_data *data,
                              const fitcl_lik_options *opt, fitcl_lik **out) {
  if (out) *out = NULL;
  if (!ctx || !data || !out) return FITCL_ERR_NULL;
  return fitcl__lik_create(ctx, &data->tree, &data->pat, opt, out);
}
