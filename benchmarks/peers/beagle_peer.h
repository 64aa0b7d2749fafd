/* BEAGLE (libhmsbeagle) as a peer for the gain/loss likelihood: the same
 * binary tree, patterns and model, with two states, double precision,
 * manual rescaling at every internal node, on BEAGLE's CPU implementation.
 * Header-only; used by benchmarks/bench_lik.c and tests/test_beagle.c.
 *
 * Transition matrices come either from fitcl's closed form through
 * beagleSetTransitionMatrices (identical input, for the agreement test) or
 * from BEAGLE's own eigen-decomposition path (for the benchmark, so BEAGLE
 * does all of its own work).  BEAGLE has no conditioning on observation: the
 * all-absent pattern is appended with weight 0 and the correction is applied
 * from its site log-likelihood, as fitcl does. */
#ifndef FITCL_BEAGLE_PEER_H
#define FITCL_BEAGLE_PEER_H

#include <libhmsbeagle/beagle.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gainloss.h"
#include "phylo/patterns.h"
#include "phylo/tree.h"

typedef struct beagle_peer {
  int inst;
  int ntips, nnodes, K, npat; /* npat includes the appended all-absent pattern */
  double nfam;
  BeagleOperation *ops;
  int *mat_idx;
  double *mats, *site;
  char impl[128];
} beagle_peer;

/* Returns 0 on success; -1 when BEAGLE refuses (e.g. a multifurcation). */
static inline int beagle_peer_create(beagle_peer *bp, const fitcl__tree *t,
                                     const fitcl__patterns *pat, int K, int threads) {
  memset(bp, 0, sizeof *bp);
  bp->inst = -1;
  for (int v = t->ntips; v < t->nnodes; ++v)
    if (t->child_start[v + 1] - t->child_start[v] != 2) return -1;
  bp->ntips = t->ntips;
  bp->nnodes = t->nnodes;
  bp->K = K;
  bp->npat = (int)pat->npatterns + 1;
  const int nint = t->nnodes - t->ntips;
  long pref = BEAGLE_FLAG_PROCESSOR_CPU | BEAGLE_FLAG_VECTOR_SSE | BEAGLE_FLAG_SCALING_MANUAL |
              BEAGLE_FLAG_SCALERS_RAW;
  if (threads > 1) pref |= BEAGLE_FLAG_THREADING_CPP;
  long req = BEAGLE_FLAG_PRECISION_DOUBLE | BEAGLE_FLAG_PROCESSOR_CPU | BEAGLE_FLAG_SCALING_MANUAL;
  BeagleInstanceDetails info;
  bp->inst = beagleCreateInstance(t->ntips, t->nnodes, t->ntips, 2, bp->npat, 1, t->nnodes, K,
                                  nint + 1, NULL, 0, pref, req, &info);
  if (bp->inst < 0) return -1;
  snprintf(bp->impl, sizeof bp->impl, "%s", info.implName ? info.implName : "?");
  if (threads > 1) beagleSetCPUThreadCount(bp->inst, threads);
  int *states = malloc(sizeof(int) * bp->npat);
  for (int tip = 0; tip < t->ntips; ++tip) {
    for (size_t p = 0; p < pat->npatterns; ++p) {
      int s = fitcl__pat_get(pat, p, (size_t)tip);
      states[p] = s == FITCL__MISSING ? 2 : s;
    }
    states[bp->npat - 1] = 0;
    beagleSetTipStates(bp->inst, tip, states);
  }
  free(states);
  double *w = malloc(sizeof(double) * bp->npat);
  bp->nfam = 0;
  for (size_t p = 0; p < pat->npatterns; ++p) {
    w[p] = pat->weight[p];
    bp->nfam += w[p];
  }
  w[bp->npat - 1] = 0.0;
  beagleSetPatternWeights(bp->inst, w);
  free(w);
  double *cw = malloc(sizeof(double) * K);
  for (int c = 0; c < K; ++c) cw[c] = 1.0 / K;
  beagleSetCategoryWeights(bp->inst, 0, cw);
  free(cw);
  bp->ops = malloc(sizeof(BeagleOperation) * nint);
  for (int i = 0; i < nint; ++i) {
    const int v = t->ntips + i;
    const int c1 = t->child[t->child_start[v]], c2 = t->child[t->child_start[v] + 1];
    bp->ops[i] = (BeagleOperation){v, i, BEAGLE_OP_NONE, c1, c1, c2, c2};
  }
  bp->mat_idx = malloc(sizeof(int) * t->nnodes);
  for (int v = 0; v < t->nnodes; ++v) bp->mat_idx[v] = v;
  bp->mats = malloc(sizeof(double) * 4 * K * t->nnodes);
  bp->site = malloc(sizeof(double) * bp->npat);
  return 0;
}

static inline void beagle_peer_destroy(beagle_peer *bp) {
  if (bp->inst >= 0) beagleFinalizeInstance(bp->inst);
  free(bp->ops);
  free(bp->mat_idx);
  free(bp->mats);
  free(bp->site);
  memset(bp, 0, sizeof *bp);
  bp->inst = -1;
}

/* Prunes, integrates the root with stationary frequencies and applies the
 * conditioning correction when cond.  Returns the total log-likelihood. */
static inline double beagle_peer_finish(beagle_peer *bp, double g, double l, int cond) {
  const int nint = bp->nnodes - bp->ntips;
  const double pi1 = g / (g + l);
  const double freqs[2] = {1 - pi1, pi1};
  beagleSetStateFrequencies(bp->inst, 0, freqs);
  beagleUpdatePartials(bp->inst, bp->ops, nint, BEAGLE_OP_NONE);
  const int cum = nint;
  beagleResetScaleFactors(bp->inst, cum);
  int *sc = malloc(sizeof(int) * nint);
  for (int i = 0; i < nint; ++i) sc[i] = i;
  beagleAccumulateScaleFactors(bp->inst, sc, nint, cum);
  free(sc);
  int root = bp->nnodes - 1, zero = 0;
  double ll = 0;
  beagleCalculateRootLogLikelihoods(bp->inst, &root, &zero, &zero, &cum, 1, &ll);
  if (cond) {
    beagleGetSiteLogLikelihoods(bp->inst, bp->site);
    ll -= bp->nfam * log(-expm1(bp->site[bp->npat - 1]));
  }
  return ll;
}

/* Log-likelihood with fitcl's closed-form matrices set directly. */
static inline double beagle_peer_loglik_setmat(beagle_peer *bp, double g, double l,
                                               const double *rates, const double *brlen, int cond) {
  for (int v = 0; v < bp->nnodes; ++v)
    for (int c = 0; c < bp->K; ++c)
      fitcl_gl_pmat(g * rates[c], l * rates[c], brlen[v], bp->mats + (size_t)(v * bp->K + c) * 4);
  double *pad = malloc(sizeof(double) * bp->nnodes);
  for (int v = 0; v < bp->nnodes; ++v) pad[v] = 1.0;
  beagleSetTransitionMatrices(bp->inst, bp->mat_idx, bp->mats, pad, bp->nnodes - 1);
  free(pad);
  return beagle_peer_finish(bp, g, l, cond);
}

/* Log-likelihood with BEAGLE computing the matrices from the eigensystem of
 * Q = [[-g, g], [l, -l]]: eigenvalues 0 and -(g+l). */
static inline double beagle_peer_loglik_eigen(beagle_peer *bp, double g, double l,
                                              const double *rates, const double *brlen, int cond) {
  const double s = g + l;
  const double evec[4] = {1, g, 1, -l};
  const double ivec[4] = {l / s, g / s, 1 / s, -1 / s};
  const double eval[2] = {0, -s};
  beagleSetEigenDecomposition(bp->inst, 0, evec, ivec, eval);
  beagleSetCategoryRates(bp->inst, rates);
  beagleUpdateTransitionMatrices(bp->inst, 0, bp->mat_idx, NULL, NULL, brlen, bp->nnodes - 1);
  return beagle_peer_finish(bp, g, l, cond);
}

#endif
