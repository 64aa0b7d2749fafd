/* Small trees and patterns built directly in the likelihood tests, plus an
 * independent brute-force likelihood (enumeration of every internal-state
 * assignment) to compare with. */
#ifndef FITCL_TEST_LIK_FIXTURE_H
#define FITCL_TEST_LIK_FIXTURE_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/lik.h"
#include "phylo/data.h"
#include "phylo/patterns.h"
#include "phylo/tree.h"

/* Deterministic generator for test inputs (xorshift64*). */
static inline double fx_rand(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return (double)((*s * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* Builds a tree from parent[] (tips 0..ntips-1, every child index below its
 * parent, root nnodes-1) and branch lengths. */
static inline void fx_tree(fitcl__tree *t, int ntips, int nnodes, const int *parent,
                           const double *brlen) {
  memset(t, 0, sizeof *t);
  t->ntips = ntips;
  t->nnodes = nnodes;
  t->parent = malloc(sizeof(int) * nnodes);
  t->brlen = malloc(sizeof(double) * nnodes);
  t->child_start = calloc(nnodes + 1, sizeof(int));
  t->child = malloc(sizeof(int) * (nnodes > 1 ? nnodes - 1 : 1));
  t->level = calloc(nnodes, sizeof(int));
  t->label = calloc(nnodes, sizeof(char *));
  for (int v = 0; v < nnodes; ++v) {
    t->parent[v] = (v == nnodes - 1) ? -1 : parent[v];
    t->brlen[v] = (v == nnodes - 1) ? 0.0 : brlen[v];
  }
  for (int v = 0; v < nnodes - 1; ++v) t->child_start[parent[v] + 1]++;
  for (int v = 0; v < nnodes; ++v) t->child_start[v + 1] += t->child_start[v];
  int *fill = calloc(nnodes, sizeof(int));
  for (int v = 0; v < nnodes - 1; ++v) {
    int p = parent[v];
    t->child[t->child_start[p] + fill[p]++] = v;
  }
  free(fill);
  int maxl = 0;
  for (int v = ntips; v < nnodes; ++v) {
    int l = 0;
    for (int j = t->child_start[v]; j < t->child_start[v + 1]; ++j)
      if (t->level[t->child[j]] + 1 > l) l = t->level[t->child[j]] + 1;
    t->level[v] = l;
    if (l > maxl) maxl = l;
  }
  t->nlevels = maxl + 1;
}

static inline void fx_tree_free(fitcl__tree *t) {
  free(t->parent);
  free(t->brlen);
  free(t->child_start);
  free(t->child);
  free(t->level);
  free(t->label);
  memset(t, 0, sizeof *t);
}

/* Random tree on ntips tips: repeatedly joins 2 (or, with probability pm,
 * 3) random subtrees. */
static inline int fx_random_tree(fitcl__tree *t, int ntips, double pm, uint64_t *seed) {
  int nn = ntips, *roots = malloc(sizeof(int) * ntips), nr = ntips;
  int *parent = malloc(sizeof(int) * 2 * ntips);
  double *bl = malloc(sizeof(double) * 2 * ntips);
  for (int i = 0; i < ntips; ++i) roots[i] = i;
  while (nr > 1) {
    int k = (nr >= 3 && fx_rand(seed) < pm) ? 3 : 2;
    int v = nn++;
    for (int j = 0; j < k; ++j) {
      int pick = (int)(fx_rand(seed) * nr);
      if (pick >= nr) pick = nr - 1;
      parent[roots[pick]] = v;
      roots[pick] = roots[--nr];
    }
    roots[nr++] = v;
  }
  for (int v = 0; v < nn; ++v) bl[v] = 0.02 + 0.8 * fx_rand(seed);
  fx_tree(t, ntips, nn, parent, bl);
  free(roots);
  free(parent);
  free(bl);
  return nn;
}

/* Patterns with given states (pattern-major), weights and groups. */
static inline void fx_patterns(fitcl__patterns *p, int ntaxa, size_t np, const uint8_t *state,
                               const double *weight, const int *group) {
  memset(p, 0, sizeof *p);
  p->ntaxa = ntaxa;
  p->npatterns = np;
  p->stride = ((size_t)ntaxa + 3) / 4;
  p->packed = malloc(np * p->stride);
  for (size_t i = 0; i < np; ++i)
    fitcl__pat_pack(state + i * (size_t)ntaxa, (size_t)ntaxa, p->packed + i * p->stride);
  p->weight = malloc(sizeof(double) * np);
  p->group = malloc(sizeof(int) * np);
  p->ngroups = 1;
  double nf = 0;
  for (size_t i = 0; i < np; ++i) {
    p->weight[i] = weight ? weight[i] : 1.0;
    p->group[i] = group ? group[i] : 0;
    if (p->group[i] + 1 > p->ngroups) p->ngroups = p->group[i] + 1;
    nf += p->weight[i];
  }
  p->nfamilies = 0; /* no family list: per-family output not used here */
  (void)nf;
}

/* Pattern q's states one byte a tip, in a buffer that the next call
 * overwrites (at most 16384 tips). */
static inline const uint8_t *fx_row(const fitcl__patterns *p, size_t q) {
  static uint8_t row[16384];
  fitcl__pat_row(p, q, row);
  return row;
}

static inline void fx_patterns_free(fitcl__patterns *p) {
  free(p->packed);
  free(p->weight);
  free(p->group);
  memset(p, 0, sizeof *p);
}

/* Reference P(t) in the "stationary plus decay" form
 * P = Pi + exp(-(a+b)t) (I - Pi), written independently of gainloss.h. */
static inline void fx_pmat(double a, double b, double t, double P[2][2]) {
  double p1 = a / (a + b), p0 = 1 - p1, e = exp(-(a + b) * t);
  P[0][0] = p0 + p1 * e;
  P[0][1] = p1 - p1 * e;
  P[1][0] = p0 - p0 * e;
  P[1][1] = p1 + p0 * e;
}

/* Brute-force likelihood of one pattern for rates a (gain), b (loss),
 * root presence pi1, over every assignment of internal states. */
static inline double fx_brute_pattern(const fitcl__tree *t, const uint8_t *tips, double a, double b,
                                      double pi1) {
  const int nint = t->nnodes - t->ntips;
  double total = 0.0;
  int st[64];
  for (long mask = 0; mask < (1L << nint); ++mask) {
    for (int i = 0; i < nint; ++i) st[t->ntips + i] = (mask >> i) & 1;
    /* Sum over missing tips as well (each missing tip: both states). */
    int miss[64], nm = 0;
    for (int i = 0; i < t->ntips; ++i) {
      if (tips[i] == FITCL__MISSING) miss[nm++] = i;
      else st[i] = tips[i];
    }
    for (long mm = 0; mm < (1L << nm); ++mm) {
      for (int j = 0; j < nm; ++j) st[miss[j]] = (mm >> j) & 1;
      double pr = st[t->nnodes - 1] ? pi1 : 1 - pi1;
      for (int v = 0; v < t->nnodes - 1; ++v) {
        double P[2][2];
        fx_pmat(a, b, t->brlen[v], P);
        pr *= P[st[t->parent[v]]][st[v]];
      }
      total += pr;
    }
  }
  return total;
}

#endif

/* Reference log-likelihood of one pattern by pruning in log space (no
 * rescaling needed at any depth), one rate category. */
static inline double fx_logprune(const fitcl__tree *t, const uint8_t *tips, double a, double b,
                                 double pi1) {
  double (*lv)[2] = malloc(sizeof(double[2]) * t->nnodes);
  for (int v = 0; v < t->nnodes; ++v) {
    if (v < t->ntips) {
      lv[v][0] = tips[v] == FITCL__PRESENT ? -INFINITY : 0.0;
      lv[v][1] = tips[v] == FITCL__ABSENT ? -INFINITY : 0.0;
      continue;
    }
    lv[v][0] = lv[v][1] = 0.0;
    for (int j = t->child_start[v]; j < t->child_start[v + 1]; ++j) {
      int c = t->child[j];
      double P[2][2];
      fx_pmat(a, b, t->brlen[c], P);
      for (int x = 0; x < 2; ++x) {
        double e0 = log(P[x][0]) + lv[c][0], e1 = log(P[x][1]) + lv[c][1];
        double m = e0 > e1 ? e0 : e1;
        lv[v][x] += m + log(exp(e0 - m) + exp(e1 - m));
      }
    }
  }
  int r = t->nnodes - 1;
  double e0 = log1p(-pi1) + lv[r][0], e1 = log(pi1) + lv[r][1];
  double m = e0 > e1 ? e0 : e1;
  double out = m + log(exp(e0 - m) + exp(e1 - m));
  free(lv);
  return out;
}
