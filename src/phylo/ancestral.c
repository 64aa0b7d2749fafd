/* Ancestral presence and expected gains/losses per branch.
 *
 * For each pattern and rate category: an upward pass gives the partial
 * likelihoods L_v(s) of the subtree below v, a downward pass the outside
 * probabilities U_v(s) of everything else with v in state s.  Then
 *   P(v = s | data, c)              ~ U_v(s) L_v(s),
 *   P(parent = a, v = b | data, c)  ~ S_u(a) P_v(a, b) L_v(b),
 * where S_u(a) is U_u(a) times the messages from v's siblings.  Categories
 * are mixed with their posterior weights.  Every vector is rescaled to a
 * maximum of one as it is formed: the node-wise normalisations cancel the
 * scales, and the category weights carry the logs of the scales.
 *
 * This runs on the host in double precision.  It is a post-processing step
 * done once per analysis, so it does not use the device kernels.
 *
 * The expected gains and losses are sums over patterns: each block of
 * ANC_BLOCK patterns adds its own in pattern order, and the block partials
 * are added exactly (core/xsum.h).  Over several ranks (core/ranks.h) each
 * rank takes its contiguous share of the blocks; the ranks' accumulators
 * are summed and their posteriors gathered in pattern order, so every rank
 * ends with the one process's bits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/gainloss.h"
#include "core/context.h"
#include "core/ranks.h"
#include "core/util.h"
#include "core/xsum.h"
#include "phylo/data.h"
#include "phylo/patterns.h"

/* Patterns per block of the gain and loss sums (and per unit of a rank's
 * share). */
enum { ANC_BLOCK = 256 };

typedef struct anc_work {
  double (*P)[2][2];   /* [nnodes] transition matrix of the branch above v */
  double (*L)[2];      /* [nnodes] scaled inside partials */
  double (*M)[2];      /* [nnodes] message of v to its parent: sum_b P_v(a,b) L_v(b) */
  double (*U)[2];      /* [nnodes] scaled outside probabilities */
  double (*post)[2];   /* [nnodes] node posterior for the current category */
  double (*gl)[2];     /* [nnodes] P(0->1), P(1->0) on the branch above v */
} anc_work;

static void transition(double g, double l, double t, double P[2][2]) {
  fitcl_real m[4];
  fitcl_gl_pmat(g, l, t, m);
  P[0][0] = m[FITCL_GL_P00];
  P[0][1] = m[FITCL_GL_P01];
  P[1][0] = m[FITCL_GL_P10];
  P[1][1] = m[FITCL_GL_P11];
}

/* One pattern, one category: fills w->post and w->gl; returns log L. */
static double one_category(const fitcl__tree *t, const uint8_t *tips, double g, double l,
                           double rate, anc_work *w) {
  int nn = t->nnodes, root = nn - 1;
  double logscale = 0;
  for (int v = 0; v < nn - 1; ++v) transition(g * rate, l * rate, t->brlen[v], w->P[v]);
  for (int v = 0; v < nn; ++v) {
    if (v < t->ntips) {
      uint8_t s = tips[v];
      w->L[v][0] = s == FITCL__PRESENT ? 0.0 : 1.0;
      w->L[v][1] = s == FITCL__ABSENT ? 0.0 : 1.0;
    } else {
      double a = 1, b = 1;
      for (int k = t->child_start[v]; k < t->child_start[v + 1]; ++k) {
        int c = t->child[k];
        a *= w->M[c][0];
        b *= w->M[c][1];
      }
      double m = fmax(a, b);
      if (m > 0) { a /= m; b /= m; logscale += log(m); }
      w->L[v][0] = a;
      w->L[v][1] = b;
    }
    if (v != root) {
      w->M[v][0] = w->P[v][0][0] * w->L[v][0] + w->P[v][0][1] * w->L[v][1];
      w->M[v][1] = w->P[v][1][0] * w->L[v][0] + w->P[v][1][1] * w->L[v][1];
    }
  }
  double pi1 = fitcl_gl_pi1(g, l);
  double Lroot = (1 - pi1) * w->L[root][0] + pi1 * w->L[root][1];
  w->U[root][0] = 1 - pi1;
  w->U[root][1] = pi1;
  for (int v = root; v >= 0; --v) {
    double z = w->U[v][0] * w->L[v][0] + w->U[v][1] * w->L[v][1];
    w->post[v][0] = z > 0 ? w->U[v][0] * w->L[v][0] / z : 0;
    w->post[v][1] = z > 0 ? w->U[v][1] * w->L[v][1] / z : 0;
    if (v < t->ntips) continue;
    for (int k = t->child_start[v]; k < t->child_start[v + 1]; ++k) {
      int c = t->child[k];
      double S0 = w->U[v][0], S1 = w->U[v][1];
      for (int k2 = t->child_start[v]; k2 < t->child_start[v + 1]; ++k2) {
        if (k2 == k) continue;
        S0 *= w->M[t->child[k2]][0];
        S1 *= w->M[t->child[k2]][1];
      }
      double u0 = S0 * w->P[c][0][0] + S1 * w->P[c][1][0];
      double u1 = S0 * w->P[c][0][1] + S1 * w->P[c][1][1];
      double m = fmax(u0, u1);
      w->U[c][0] = m > 0 ? u0 / m : 0;
      w->U[c][1] = m > 0 ? u1 / m : 0;
      double j01 = S0 * w->P[c][0][1] * w->L[c][1], j10 = S1 * w->P[c][1][0] * w->L[c][0];
      double zz = S0 * (w->P[c][0][0] * w->L[c][0] + w->P[c][0][1] * w->L[c][1]) +
                  S1 * (w->P[c][1][0] * w->L[c][0] + w->P[c][1][1] * w->L[c][1]);
      w->gl[c][0] = zz > 0 ? j01 / zz : 0;
      w->gl[c][1] = zz > 0 ? j10 / zz : 0;
    }
  }
  return log(Lroot) + logscale;
}

/* One pattern: its posterior presence at every node into pp[0..nn), its
 * weighted expected gains and losses added to bg and bl. */
static void one_pattern(const fitcl__tree *t, const fitcl__patterns *pt, size_t q,
                        const fitcl_gl_params *p, const double *rates, int K, uint8_t *tips,
                        anc_work *w, double *loglc, double (*acc)[2], double (*accgl)[2],
                        double *pp, double *bg, double *bl) {
  const int nn = t->nnodes;
  fitcl__pat_row(pt, q, tips);
  int grp = pt->group[q];
  double l = p->loss * (p->loss_mult ? p->loss_mult[grp] : 1.0);
  /* First pass: the log-likelihood of each category, for its weight. */
  double mx = -INFINITY;
  for (int c = 0; c < K; ++c) {
    loglc[c] = one_category(t, tips, p->gain, l, rates[c], w);
    mx = fmax(mx, loglc[c]);
  }
  double zsum = 0;
  for (int c = 0; c < K; ++c) zsum += exp(loglc[c] - mx);
  memset(acc, 0, sizeof *acc * (size_t)nn);
  memset(accgl, 0, sizeof *accgl * (size_t)nn);
  for (int c = 0; c < K; ++c) {
    double wc = exp(loglc[c] - mx) / zsum;
    /* With one category the first pass already holds the answer. */
    if (K > 1) one_category(t, tips, p->gain, l, rates[c], w);
    for (int v = 0; v < nn; ++v) {
      acc[v][1] += wc * w->post[v][1];
      accgl[v][0] += wc * w->gl[v][0];
      accgl[v][1] += wc * w->gl[v][1];
    }
  }
  for (int v = 0; v < nn; ++v) {
    pp[v] = acc[v][1];
    if (v < nn - 1) {
      bg[v] += pt->weight[q] * accgl[v][0];
      bl[v] += pt->weight[q] * accgl[v][1];
    }
  }
}

fitcl_status fitcl_ancestral(fitcl_context *ctx, const fitcl_data *data,
                             const fitcl_gl_params *p, int gamma_cats,
                             fitcl_ancestral_result *out) {
  fitcl_status st = FITCL_OK;
  anc_work w = {0};
  double *ppat = NULL, *loglc = NULL, (*acc)[2] = NULL, (*accgl)[2] = NULL, *bg = NULL, *bl = NULL;
  fitcl__xsum *xs = NULL; /* [2 (nn - 1)]: gains, then losses */
  uint8_t *tips = NULL; /* the pattern being read, one byte a tip */
  double rates[64] = {1.0};
  if (!data || !p || !out) return fitcl__fail(ctx, FITCL_ERR_NULL, "fitcl_ancestral: NULL argument");
  if (ctx) fitcl__clear_error(ctx);
  memset(out, 0, sizeof *out);
  const fitcl__tree *t = &data->tree;
  const fitcl__patterns *pt = &data->pat;
  int K = gamma_cats > 1 ? gamma_cats : 1;
  if (K > 64) return fitcl__fail(ctx, FITCL_ERR_RANGE, "gamma categories must be <= 64, got %d", K);
  if (!(p->gain > 0 && isfinite(p->gain) && p->loss > 0 && isfinite(p->loss)))
    return fitcl__fail(ctx, FITCL_ERR_RANGE, "gain and loss must be finite and > 0 (got %g, %g)",
                       p->gain, p->loss);
  if (K > 1) {
    st = fitcl_gamma_rates(p->alpha, K, rates);
    if (st != FITCL_OK) return fitcl__fail(ctx, st, "alpha must be finite and > 0, got %g", p->alpha);
  }
  int nn = t->nnodes;
  size_t np = pt->npatterns, nf = pt->nfamilies, nbr = (size_t)(nn - 1);
  /* This rank's blocks: all of them in one process. */
  fitcl__ranks *R = ctx && ctx->ranks && ctx->ranks->size > 1 ? ctx->ranks : NULL;
  size_t nblocks = (np + ANC_BLOCK - 1) / ANC_BLOCK, b0 = 0, b1 = nblocks;
  if (R) fitcl__ranks_share(R, nblocks, &b0, &b1);
  const size_t q0 = b0 * ANC_BLOCK < np ? b0 * ANC_BLOCK : np;
  const size_t q1 = b1 * ANC_BLOCK < np ? b1 * ANC_BLOCK : np;
  w.P = malloc(sizeof *w.P * (size_t)nn);
  w.L = malloc(sizeof *w.L * (size_t)nn);
  w.M = malloc(sizeof *w.M * (size_t)nn);
  w.U = malloc(sizeof *w.U * (size_t)nn);
  w.post = malloc(sizeof *w.post * (size_t)nn);
  w.gl = calloc((size_t)nn, sizeof *w.gl);
  acc = malloc(sizeof *acc * (size_t)nn);
  accgl = malloc(sizeof *accgl * (size_t)nn);
  bg = malloc(sizeof(double) * (size_t)nn);
  bl = malloc(sizeof(double) * (size_t)nn);
  xs = malloc(sizeof *xs * 2 * (nbr ? nbr : 1));
  loglc = malloc(sizeof(double) * (size_t)K);
  ppat = malloc(sizeof(double) * (np ? np : 1) * (size_t)nn);
  tips = malloc((size_t)pt->ntaxa);
  out->p_present = malloc(sizeof(double) * (nf ? nf : 1) * (size_t)nn);
  out->gains = calloc((size_t)nn, sizeof(double));
  out->losses = calloc((size_t)nn, sizeof(double));
  if (!w.P || !w.L || !w.M || !w.U || !w.post || !w.gl || !acc || !accgl || !bg || !bl || !xs ||
      !loglc || !ppat || !tips || !out->p_present || !out->gains || !out->losses) {
    /* The other ranks learn it from the first exchange. */
    if (R) (void)R->sum(R, NULL, 0, NULL, 1);
    st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
    goto fail;
  }
  for (size_t k = 0; k < 2 * nbr; ++k) fitcl__xsum_init(&xs[k]);
  for (size_t b = b0; b < b1; ++b) {
    memset(bg, 0, sizeof(double) * (size_t)nn);
    memset(bl, 0, sizeof(double) * (size_t)nn);
    const size_t qe = (b + 1) * ANC_BLOCK < np ? (b + 1) * ANC_BLOCK : np;
    for (size_t q = b * ANC_BLOCK; q < qe; ++q)
      one_pattern(t, pt, q, p, rates, K, tips, &w, loglc, acc, accgl, ppat + q * (size_t)nn, bg,
                  bl);
    for (size_t v = 0; v < nbr; ++v) {
      fitcl__xsum_add(&xs[v], bg[v]);
      fitcl__xsum_add(&xs[nbr + v], bl[v]);
    }
  }
  if (R) {
    const size_t row = sizeof(double) * (size_t)nn;
    st = R->sum(R, xs, 2 * nbr, NULL, 0);
    if (st == FITCL_OK)
      st = R->gather(R, ppat + q0 * (size_t)nn, (q1 - q0) * row, ppat, np * row, 0);
    if (st != FITCL_OK) {
      st = fitcl__fail(ctx, st, "ancestral: %s",
                       st == FITCL_ERR_PEER ? "another rank of the job failed"
                                            : "the ranks could not exchange their results");
      goto fail;
    }
  }
  for (size_t v = 0; v < nbr; ++v) {
    out->gains[v] = fitcl__xsum_round(&xs[v]);
    out->losses[v] = fitcl__xsum_round(&xs[nbr + v]);
  }
  for (size_t f = 0; f < nf; ++f)
    memcpy(out->p_present + f * (size_t)nn, ppat + pt->family_pattern[f] * (size_t)nn,
           sizeof(double) * (size_t)nn);
  out->families = nf;
  out->nodes = nn;
fail:
  if (st != FITCL_OK) fitcl_ancestral_free(out);
  FITCL_FREE(w.P);
  FITCL_FREE(w.L);
  FITCL_FREE(w.M);
  FITCL_FREE(w.U);
  FITCL_FREE(w.post);
  FITCL_FREE(w.gl);
  FITCL_FREE(acc);
  FITCL_FREE(accgl);
  FITCL_FREE(bg);
  FITCL_FREE(bl);
  FITCL_FREE(xs);
  FITCL_FREE(loglc);
  FITCL_FREE(ppat);
  FITCL_FREE(tips);
  return st;
}

void fitcl_ancestral_free(fitcl_ancestral_result *r) {
  if (!r) return;
  FITCL_FREE(r->p_present);
  FITCL_FREE(r->gains);
  FITCL_FREE(r->losses);
  r->families = 0;
  r->nodes = 0;
}
