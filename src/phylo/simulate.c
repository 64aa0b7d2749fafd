/* Gain/loss simulation: top-down draws with the closed-form 2-state P(t). */
#include "phylo/simulate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/gainloss.h"
#include "core/context.h"
#include "core/util.h"
#include "phylo/patterns.h"

/* P(present at the end of a branch of length t | state s at its start),
 * from the shared closed-form transition matrix. */
static void branch_p1(double g, double l, double t, double *p_from0, double *p_from1) {
  fitcl_real P[4];
  fitcl_gl_pmat(g, l, t, P);
  *p_from0 = P[FITCL_GL_P01];
  *p_from1 = P[FITCL_GL_P11];
}

fitcl_status fitcl__sim_table_build(fitcl__sim_table *tab, const fitcl__tree *t, double g,
                                    double l, int ngroups, const double *loss_mult,
                                    int ncats, const double *cat_rates) {
  memset(tab, 0, sizeof *tab);
  if (ngroups < 1) ngroups = 1;
  if (ncats < 1) ncats = 1;
  tab->ngroups = ngroups;
  tab->ncats = ncats;
  tab->nnodes = t->nnodes;
  tab->p1 = malloc(sizeof(double) * (size_t)ngroups * (size_t)ncats * (size_t)t->nnodes * 2);
  tab->root = malloc(sizeof(double) * (size_t)ngroups);
  if (!tab->p1 || !tab->root) {
    fitcl__sim_table_free(tab);
    return FITCL_ERR_NOMEM;
  }
  for (int k = 0; k < ngroups; ++k) {
    double lk = l * (loss_mult ? loss_mult[k] : 1.0);
    /* The category rate scales both rates, so it leaves the stationary
     * distribution unchanged. */
    tab->root[k] = g / (g + lk);
    for (int c = 0; c < ncats; ++c) {
      double r = cat_rates ? cat_rates[c] : 1.0;
      double *p = tab->p1 + ((size_t)k * (size_t)ncats + (size_t)c) * (size_t)t->nnodes * 2;
      for (int v = 0; v < t->nnodes; ++v) branch_p1(g, lk, r * t->brlen[v], &p[2 * v], &p[2 * v + 1]);
    }
  }
  return FITCL_OK;
}

void fitcl__sim_table_free(fitcl__sim_table *tab) {
  FITCL_FREE(tab->p1);
  FITCL_FREE(tab->root);
}

int fitcl__simulate_family(const fitcl__tree *t, const fitcl__sim_table *tab, int group,
                           int condition, fitcl__rng *r, const uint8_t *missing,
                           uint8_t *node_state, uint8_t *tips) {
  int root = t->nnodes - 1;
  for (long attempt = 0; attempt < 1000000; ++attempt) {
    int c = tab->ncats > 1 ? (int)(fitcl__rng_uniform(r) * tab->ncats) : 0;
    if (c >= tab->ncats) c = tab->ncats - 1;
    const double *p = tab->p1 + ((size_t)group * (size_t)tab->ncats + (size_t)c) *
                                    (size_t)tab->nnodes * 2;
    node_state[root] = fitcl__rng_uniform(r) < tab->root[group];
    /* Parents have larger indices than their children (tree.h), so a
     * descending sweep sees every parent before its children. */
    for (int v = root - 1; v >= 0; --v)
      node_state[v] = fitcl__rng_uniform(r) < p[2 * v + node_state[t->parent[v]]];
    int seen = 0;
    for (int i = 0; i < t->ntips; ++i) {
      if (missing && missing[i]) {
        tips[i] = FITCL__MISSING;
      } else {
        tips[i] = node_state[i];
        seen |= node_state[i];
      }
    }
    if (seen || !condition) return 0;
  }
  return -1;
}

void fitcl__sample_subset(uint64_t seed, size_t n, size_t k, uint8_t *mark) {
  memset(mark, 0, n);
  if (k == 0) return;
  size_t *idx = malloc(sizeof(size_t) * n);
  fitcl__rng r;
  fitcl__rng_init(&r, seed, FITCL__STREAM_SUBSET);
  if (!idx) {
    /* Without scratch memory fall back to selection sampling (Knuth's
     * algorithm S), which also picks exactly k uniformly. */
    size_t need = k;
    for (size_t i = 0; i < n && need; ++i)
      if (fitcl__rng_uniform(&r) * (double)(n - i) < (double)need) { mark[i] = 1; --need; }
    return;
  }
  for (size_t i = 0; i < n; ++i) idx[i] = i;
  for (size_t i = 0; i < k && i < n; ++i) {
    size_t j = i + (size_t)(fitcl__rng_uniform(&r) * (double)(n - i));
    if (j >= n) j = n - 1;
    size_t tmp = idx[i];
    idx[i] = idx[j];
    idx[j] = tmp;
    mark[idx[i]] = 1;
  }
  free(idx);
}

fitcl_status fitcl_simulate(fitcl_context *ctx, const fitcl_tree *tree,
                            const fitcl_sim_options *opt, unsigned char *states,
                            unsigned char *retained) {
  fitcl_status st = FITCL_OK;
  fitcl__sim_table tab = {0};
  uint8_t *mark = NULL, *scratch = NULL;
  double rates[64];
  if (ctx) fitcl__clear_error(ctx);
  if (!tree || !opt || !states) return fitcl__fail(ctx, FITCL_ERR_NULL, "fitcl_simulate: NULL argument");
  const fitcl__tree *t = &tree->t;
  if (!(opt->gain > 0) || !isfinite(opt->gain) || !(opt->loss > 0) || !isfinite(opt->loss))
    return fitcl__fail(ctx, FITCL_ERR_RANGE, "gain and loss must be finite and > 0 (got %g, %g)",
                       opt->gain, opt->loss);
  if (opt->families < 1)
    return fitcl__fail(ctx, FITCL_ERR_RANGE, "number of families must be >= 1");
  double theta = opt->effect == 0 ? 1.0 : opt->effect;
  if (!(theta > 0) || !isfinite(theta))
    return fitcl__fail(ctx, FITCL_ERR_RANGE, "effect must be finite and > 0, got %g", theta);
  if (!(opt->retained_fraction >= 0 && opt->retained_fraction <= 1))
    return fitcl__fail(ctx, FITCL_ERR_RANGE, "retained fraction must lie in [0, 1], got %g",
                       opt->retained_fraction);
  int K = opt->gamma_cats > 1 ? opt->gamma_cats : 1;
  if (K > 64) return fitcl__fail(ctx, FITCL_ERR_RANGE, "gamma categories must be <= 64, got %d", K);
  rates[0] = 1.0;
  if (K > 1) {
    if (!(opt->alpha > 0) || !isfinite(opt->alpha))
      return fitcl__fail(ctx, FITCL_ERR_RANGE, "alpha must be finite and > 0 with gamma categories, got %g",
                         opt->alpha);
    st = fitcl_gamma_rates(opt->alpha, K, rates);
    if (st != FITCL_OK) return fitcl__fail(ctx, st, "gamma category rates failed for alpha %g", opt->alpha);
  }
  size_t n = opt->families;
  size_t k = (size_t)llround(opt->retained_fraction * (double)n);
  double mult[2] = {1.0, theta};
  st = fitcl__sim_table_build(&tab, t, opt->gain, opt->loss, 2, mult, K, rates);
  if (st != FITCL_OK) { st = fitcl__fail(ctx, st, "out of memory"); goto fail; }
  mark = malloc(n);
  scratch = malloc((size_t)t->nnodes);
  if (!mark || !scratch) { st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory"); goto fail; }
  fitcl__sample_subset(opt->seed, n, k, mark);
  for (size_t f = 0; f < n; ++f) {
    fitcl__rng r;
    fitcl__rng_init2(&r, opt->seed, FITCL__STREAM_SIMULATE, f);
    if (fitcl__simulate_family(t, &tab, mark[f], opt->condition, &r, NULL, scratch,
                               states + f * (size_t)t->ntips) != 0) {
      st = fitcl__fail(ctx, FITCL_ERR_DATA,
                       "conditioning on observation: a million draws of family %zu were all "
                       "absent; the gain rate %g is too small for this tree", f + 1, opt->gain);
      goto fail;
    }
  }
  if (retained) memcpy(retained, mark, n);
fail:
  fitcl__sim_table_free(&tab);
  FITCL_FREE(mark);
  FITCL_FREE(scratch);
  return st;
}
