/* The likelihood family over the analyses' structures: fitcl_lik_create
 * (public, from a matched data set) and fitcl__lik_create (from a tree and
 * patterns).  Before a handle is made from a data set, it is checked for
 * families whose likelihood is 0 whatever the rates, which no fit can use
 * and which would otherwise surface as -inf, NaN or (conditioned) a
 * positive log-likelihood. */
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "kernels/lik.h"
#include "phylo/data.h"

/* A family of pattern p, for messages ("?" when none maps to it). */
static const char *family_of(const fitcl__patterns *pat, size_t p, size_t *count) {
  const char *first = NULL;
  *count = 0;
  for (size_t f = 0; f < pat->nfamilies; ++f)
    if (pat->family_pattern[f] == p) {
      if (!first) first = pat->family_name ? pat->family_name[f] : NULL;
      ++*count;
    }
  return first ? first : "?";
}

/* Conditioned on observation, a family present at no tip has probability
 * 0: the conditioned likelihood divides by P(present somewhere), and the
 * pattern's own probability would make its term positive. */
static fitcl_status check_observed(fitcl_context *ctx, const fitcl__patterns *pat) {
  size_t bad = 0, first = SIZE_MAX;
  for (size_t p = 0; p < pat->npatterns; ++p) {
    if (pat->weight && !(pat->weight[p] > 0)) continue;
    int present = 0;
    for (int t = 0; t < pat->ntaxa && !present; ++t)
      present = fitcl__pat_get(pat, p, (size_t)t) == FITCL__PRESENT;
    if (present) continue;
    if (first == SIZE_MAX) first = p;
    bad += pat->weight ? (size_t)pat->weight[p] : 1;
  }
  if (first == SIZE_MAX) return FITCL_OK;
  size_t n;
  const char *name = family_of(pat, first, &n);
  return fitcl__fail(ctx, FITCL_ERR_DATA,
                     "%zu famil%s present at no tip (absent or missing everywhere; first '%s'): "
                     "conditioned on observation such a family has probability 0; remove %s "
                     "from the matrix, or do not condition (--no-condition)",
                     bad, bad == 1 ? "y is" : "ies are", name, bad == 1 ? "it" : "them");
}

static int find(int *up, int v) {
  while (up[v] != v) v = up[v] = up[up[v]];
  return v;
}

/* Tips joined by branches of length 0 are one genome under the model
 * (P(0) is the identity): a family present at one and absent at the other
 * has probability 0 for any rates. */
static fitcl_status check_zero_lengths(fitcl_context *ctx, const fitcl__tree *tree,
                                       const fitcl__patterns *pat) {
  const int nn = tree->nnodes, nt = tree->ntips;
  int any = 0;
  for (int v = 0; v < nn; ++v) any |= tree->parent[v] >= 0 && tree->brlen[v] == 0.0;
  if (!any) return FITCL_OK;
  int *up = malloc(sizeof(int) * (size_t)nn), *seen = malloc(sizeof(int) * (size_t)nn);
  int *tips = malloc(sizeof(int) * (size_t)nt);
  fitcl_status st = FITCL_OK;
  if (!up || !seen || !tips) {
    st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "likelihood: out of host memory");
    goto done;
  }
  for (int v = 0; v < nn; ++v) up[v] = v;
  for (int v = 0; v < nn; ++v)
    if (tree->parent[v] >= 0 && tree->brlen[v] == 0.0) up[find(up, v)] = find(up, tree->parent[v]);
  /* Only tips sharing their cluster with another tip can disagree. */
  for (int v = 0; v < nn; ++v) seen[v] = 0;
  for (int t = 0; t < nt; ++t) seen[find(up, t)]++;
  int ntips = 0;
  for (int t = 0; t < nt; ++t)
    if (seen[find(up, t)] > 1) tips[ntips++] = t;
  for (int v = 0; v < nn; ++v) seen[v] = -1;
  for (size_t p = 0; p < pat->npatterns && st == FITCL_OK; ++p) {
    if (pat->weight && !(pat->weight[p] > 0)) continue;
    for (int i = 0; i < ntips && st == FITCL_OK; ++i) {
      const int t = tips[i], s = fitcl__pat_get(pat, p, (size_t)t), c = find(up, t);
      if (s == FITCL__MISSING) continue;
      if (seen[c] < 0) {
        seen[c] = t;
        continue;
      }
      const int o = seen[c];
      if (fitcl__pat_get(pat, p, (size_t)o) == s) continue;
      size_t n;
      const char *name = family_of(pat, p, &n);
      const int pres = s == FITCL__PRESENT ? t : o, abs = s == FITCL__PRESENT ? o : t;
      st = fitcl__fail(ctx, FITCL_ERR_DATA,
                       "family '%s' is present at tip '%s' and absent at tip '%s', which the tree "
                       "joins by branches of length 0 (one genome, under the model): its "
                       "likelihood is 0 for any rates; give those branches a length > 0, or "
                       "merge the tips",
                       name, tree->label[pres], tree->label[abs]);
    }
    for (int i = 0; i < ntips; ++i) seen[find(up, tips[i])] = -1;
  }
done:
  free(up);
  free(seen);
  free(tips);
  return st;
}

/* The likelihood's views (kernels/lik.h) of a tree and its patterns. */
static fitcl__lik_tree tree_view(const fitcl__tree *tree) {
  return (fitcl__lik_tree){tree->ntips, tree->nnodes, tree->child_start,
                           tree->child, tree->brlen,  tree->level};
}
static fitcl__lik_patterns patterns_view(const fitcl__patterns *pat) {
  return (fitcl__lik_patterns){pat->ntaxa,     pat->npatterns,      NULL,
                               pat->weight,    pat->group,          pat->ngroups,
                               pat->nfamilies, pat->family_pattern, pat->packed,
                               pat->stride};
}

fitcl_status fitcl__lik_create(fitcl_context *ctx, const fitcl__tree *tree,
                               const fitcl__patterns *pat, const fitcl_lik_options *opt,
                               fitcl_lik **out) {
  if (!tree || !pat) return FITCL_ERR_NULL;
  const fitcl__lik_tree t = tree_view(tree);
  const fitcl__lik_patterns p = patterns_view(pat);
  return fitcl__lik_open(ctx, &t, &p, opt, out);
}

/* A data set is what users fit: families that no rates can explain are
 * refused here, by name.  (fitcl__lik_create, for the internal callers and
 * the tests, evaluates any patterns by the formulas.) */
static fitcl_status check_data(fitcl_context *ctx, const fitcl_data *data,
                               const fitcl_lik_options *opt) {
  fitcl__clear_error(ctx);
  fitcl_status st = FITCL_OK;
  if (!opt || !opt->no_condition) st = check_observed(ctx, &data->pat);
  if (st == FITCL_OK) st = check_zero_lengths(ctx, &data->tree, &data->pat);
  return st;
}

fitcl_status fitcl_lik_create(fitcl_context *ctx, const fitcl_data *data,
                              const fitcl_lik_options *opt, fitcl_lik **out) {
  if (out) *out = NULL;
  if (!ctx || !data || !out) return FITCL_ERR_NULL;
  fitcl_status st = check_data(ctx, data, opt);
  if (st != FITCL_OK) return st;
  return fitcl__lik_create(ctx, &data->tree, &data->pat, opt, out);
}

/* The patterns' rows keep.. are no longer needed: shrink them (in place,
 * where the allocator can; a failed shrink keeps them). */
static const uint8_t *release_rows(void *user, size_t keep) {
  fitcl__patterns *p = user;
  if (keep < p->npatterns) {
    uint8_t *n = realloc(p->packed, (keep ? keep : 1) * p->stride);
    if (n) {
      p->packed = n;
      /* The data set is only destroyed from here on (fitcl_lik_create_take). */
      p->npatterns = keep;
    }
  }
  return p->packed;
}

fitcl_status fitcl_lik_create_take(fitcl_context *ctx, fitcl_data **data,
                                   const fitcl_lik_options *opt, fitcl_lik **out) {
  if (out) *out = NULL;
  fitcl_data *d = data ? *data : NULL;
  if (data) *data = NULL;
  fitcl_status st = FITCL_ERR_NULL;
  if (ctx && d && out) st = check_data(ctx, d, opt);
  if (st == FITCL_OK) {
    const fitcl__lik_tree t = tree_view(&d->tree);
    const fitcl__lik_patterns p = patterns_view(&d->pat);
    st = fitcl__lik_open_take(ctx, &t, &p, release_rows, &d->pat, opt, out);
  }
  fitcl_data_destroy(d);
  return st;
}

fitcl_status fitcl__lik_create_alone(fitcl_context *ctx, const fitcl_data *data,
                                     const fitcl_lik_options *opt, fitcl_lik **out) {
  if (out) *out = NULL;
  if (!ctx || !data || !out) return FITCL_ERR_NULL;
  fitcl_status st = check_data(ctx, data, opt);
  if (st != FITCL_OK) return st;
  const fitcl__lik_tree t = tree_view(&data->tree);
  const fitcl__lik_patterns p = patterns_view(&data->pat);
  return fitcl__lik_open_alone(ctx, &t, &p, opt, out);
}
