/* Likelihood driver of the 2-state gain/loss model: builds the traversal and
 * the internal pattern layout once, then for each evaluation computes the
 * category rates and root frequencies on the host, lets the backend run the
 * transition matrices, pruning and block reductions, and combines the block
 * partial sums in block order. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/compat.h"
#include "common/gainloss.h"
#include "common/pruning.h"
#include "core/context.h"
#include "core/pool.h"
#include "core/ranks.h"
#include "core/sums.h"
#include "core/xsum.h"
#include "core/util.h"
#include "device/backend.h"
#include "kernels/lik.h"

/* Orders (level, node) pairs. */
static int cmp_pair(const void *a, const void *b) {
  const int *x = a, *y = b;
  return (x[0] != y[0]) ? (x[0] < y[0] ? -1 : 1) : (x[1] < y[1] ? -1 : x[1] > y[1]);
}

/* The traversal schedule (see lik.h): internal nodes by level, then by
 * index, so that a node comes after all its children and each level is
 * contiguous (the order in which a level-by-level device schedule would run
 * them).  A binary node with one internal child lists it first, so the
 * pthreads outside pass has only three fused binary variants (no internal
 * child, a, or both); for two children the order changes no bits (the
 * product and the sums over them commute exactly). */
static fitcl_status build_schedule(fitcl_lik *L, const fitcl__lik_tree *tree) {
  fitcl_context *ctx = L->ctx;
  const int nint = L->nint, ntips = L->ntips, nn = L->nnodes;
  int *pairs = malloc(sizeof(int) * 2 * (size_t)nint);
  L->sched = malloc(sizeof(fitcl_prune_step) * (size_t)nint);
  L->sched_child = malloc(sizeof(int) * (size_t)(nn - 1));
  if (!pairs || !L->sched || !L->sched_child) {
    free(pairs);
    return fitcl__fail(ctx, FITCL_ERR_NOMEM, "likelihood: out of host memory");
  }
  L->maxdeg = 0;
  for (int i = 0; i < nint; ++i) {
    const int v = ntips + i;
    const int deg = tree->child_start[v + 1] - tree->child_start[v];
    if (deg < 1) {
      free(pairs);
      return fitcl__fail(ctx, FITCL_ERR_DATA, "likelihood: internal node %d has no children", v);
    }
    if (deg > L->maxdeg) L->maxdeg = deg;
    for (int j = tree->child_start[v]; j < tree->child_start[v + 1]; ++j) {
      const int c = tree->child[j];
      if (c >= v || c < 0) {
        free(pairs);
        return fitcl__fail(ctx, FITCL_ERR_DATA, "likelihood: node %d has child %d out of order", v, c);
      }
    }
    pairs[2 * i] = tree->level ? tree->level[v] : i;
    pairs[2 * i + 1] = v;
  }
  qsort(pairs, (size_t)nint, 2 * sizeof(int), cmp_pair);
  if (pairs[2 * (nint - 1) + 1] != nn - 1) {
    free(pairs);
    return fitcl__fail(ctx, FITCL_ERR_DATA, "likelihood: the root is not the last node");
  }
  L->nlevels = 0;
  for (int i = 0; i < nint; ++i) L->nlevels += (i == 0 || pairs[2 * i] != pairs[2 * i - 2]);
  L->level_start = malloc(sizeof(int) * (size_t)(L->nlevels + 1));
  if (!L->level_start) {
    free(pairs);
    return fitcl__fail(ctx, FITCL_ERR_NOMEM, "likelihood: out of host memory");
  }
  int at = 0, lev = 0;
  for (int i = 0; i < nint; ++i) {
    const int v = pairs[2 * i + 1];
    if (i == 0 || pairs[2 * i] != pairs[2 * i - 2]) L->level_start[lev++] = i;
    const int j0 = tree->child_start[v], deg = tree->child_start[v + 1] - j0;
    L->sched[i].node = v;
    L->sched[i].first = at;
    L->sched[i].nchild = deg;
    for (int k = 0; k < deg; ++k) L->sched_child[at + k] = tree->child[j0 + k];
    if (deg == 2 && L->sched_child[at] < ntips && L->sched_child[at + 1] >= ntips) {
      L->sched_child[at] = tree->child[j0 + 1];
      L->sched_child[at + 1] = tree->child[j0];
    }
    at += deg;
  }
  L->level_start[L->nlevels] = nint;
  free(pairs);
  return FITCL_OK;
}

/* The data's states (pattern-major) into L->tips (tip-major, internal
 * pattern order), in tiles: storing a pattern's states one tip after
 * another writes a byte to each of ntips rows npx bytes apart, a cache
 * line and often a page per byte; a tile of patterns x tips reads and
 * writes whole lines.  Each task fills its own tips' rows. */
enum { PATTERN_TILE = 256, TIP_TILE = 64 };

typedef struct transpose_job {
  fitcl_lik *L;
  const fitcl__lik_patterns *pat;
  size_t pb, pe;
} transpose_job;

/* Transposes an 8 x 8 block of bytes held as eight little-endian words
 * (byte k of x[i] is element (i, k); afterwards it is element (k, i)):
 * swaps of single bytes, then pairs, then quads between rows. */
static void transpose8(uint64_t x[8]) {
  for (int i = 0; i < 8; i += 2) {
    uint64_t t = ((x[i] >> 8) ^ x[i + 1]) & 0x00FF00FF00FF00FFull;
    x[i + 1] ^= t;
    x[i] ^= t << 8;
  }
  static const int pair_rows[4] = {0, 1, 4, 5};
  for (int k = 0; k < 4; ++k) {
    int i = pair_rows[k];
    uint64_t t = ((x[i] >> 16) ^ x[i + 2]) & 0x0000FFFF0000FFFFull;
    x[i + 2] ^= t;
    x[i] ^= t << 16;
  }
  for (int i = 0; i < 4; ++i) {
    uint64_t t = ((x[i] >> 32) ^ x[i + 4]) & 0x00000000FFFFFFFFull;
    x[i + 4] ^= t;
    x[i] ^= t << 32;
  }
}

static void transpose_tip_tile(void *arg, size_t task, unsigned worker) {
  (void)worker;
  const transpose_job *j = arg;
  fitcl_lik *L = j->L;
  const size_t npx = L->npx, ntaxa = (size_t)j->pat->ntaxa, pb = j->pb;
  const int t0 = (int)task * TIP_TILE, t1 = L->ntips - t0 < TIP_TILE ? L->ntips : t0 + TIP_TILE;
  /* The tile's rows: the byte states in place, or packed ones unpacked
   * into `local` (row stride rs, first column the tile's first tip). */
  uint8_t local[PATTERN_TILE * TIP_TILE];
  const size_t rs = j->pat->packed ? TIP_TILE : ntaxa, tb = j->pat->packed ? (size_t)t0 : 0;
  for (size_t p0 = pb; p0 < j->pe; p0 += PATTERN_TILE) {
    size_t p1 = j->pe - p0 < PATTERN_TILE ? j->pe : p0 + PATTERN_TILE;
    const uint8_t *state = j->pat->state ? j->pat->state + p0 * ntaxa : local;
    if (j->pat->packed)
      for (size_t p = p0; p < p1; ++p)
        for (int t = t0; t < t1; ++t)
          local[(p - p0) * TIP_TILE + (size_t)(t - t0)] =
              (uint8_t)fitcl__lik_pat_get(j->pat, p, (size_t)t);
    int t = t0;
    /* Patterns that keep their order in one group (the usual case) are
     * moved 8 x 8 bytes at a time. */
    const size_t base = L->pat_internal[p0 - pb];
    if (L->pat_internal[p1 - 1 - pb] - base == p1 - 1 - p0 && p1 - p0 >= 8) {
      const size_t p8 = p0 + (p1 - p0) / 8 * 8;
      for (; t + 8 <= t1; t += 8) {
        for (size_t p = p0; p < p8; p += 8) {
          uint64_t x[8];
          for (int i = 0; i < 8; ++i) memcpy(&x[i], state + (p - p0 + (size_t)i) * rs + (size_t)t - tb, 8);
          transpose8(x);
          for (int i = 0; i < 8; ++i) memcpy(L->tips + (size_t)(t + i) * npx + base + (p - p0), &x[i], 8);
        }
        for (int i = 0; i < 8; ++i)
          for (size_t p = p8; p < p1; ++p)
            L->tips[(size_t)(t + i) * npx + base + (p - p0)] = state[(p - p0) * rs + (size_t)(t + i) - tb];
      }
    }
    /* Down each remaining tip's row: the stores are consecutive bytes, the
     * loads come from the tile's rows, in cache after the first tip. */
    for (; t < t1; ++t) {
      uint8_t *dst = L->tips + (size_t)t * npx;
      const uint8_t *src = state + (size_t)t - tb;
      for (size_t p = p0; p < p1; ++p) dst[L->pat_internal[p - pb]] = src[(p - p0) * rs];
    }
  }
}

fitcl_status fitcl__lik_tip_bytes(fitcl_lik *L) {
  const size_t npx = L->npx;
  L->tips = malloc((size_t)L->ntips * npx);
  if (!L->tips) return fitcl__fail(L->ctx, FITCL_ERR_NOMEM, "likelihood: out of host memory");
  memset(L->tips, FITCL__MISSING, (size_t)L->ntips * npx);
  for (size_t i = 0; i < npx; ++i)
    if (L->kind[i] == FITCL__PAT_ABSENT)
      for (int t = 0; t < L->ntips; ++t) L->tips[(size_t)t * npx + i] = FITCL__ABSENT;
  if (L->shared) {
    /* This rank's share of the blocks: each pattern of it, by its data
     * index (the tiled transpose below walks the data patterns). */
    for (size_t i = 0; i < npx; ++i)
      if (L->src[i] != SIZE_MAX)
        for (int t = 0; t < L->ntips; ++t)
          L->tips[(size_t)t * npx + i] =
              (uint8_t)fitcl__lik_pat_get(L->pat_view, L->src[i], (size_t)t);
    return FITCL_OK;
  }
  transpose_job j = {L, L->pat_view, L->pbegin, L->pend};
  size_t tiles = ((size_t)L->ntips + TIP_TILE - 1) / TIP_TILE;
  fitcl__pool_run(fitcl__ctx_pool(L->ctx), tiles, transpose_tip_tile, &j);
  return FITCL_OK;
}

/* Over several ranks each keeps the contiguous share of the blocks it
 * evaluates.  The layout above is the one process's, so each block holds
 * the same patterns and gives the same partials on any rank count.  A rank
 * left without blocks keeps one block of padding (weight 0). */
static fitcl_status share_blocks(fitcl_lik *L) {
  fitcl__ranks *R = L->ctx->ranks;
  if (!R || R->size < 2) return FITCL_OK;
  size_t b0, b1;
  fitcl__ranks_share(R, L->nblocks, &b0, &b1);
  const size_t B = FITCL_REDUCE_BLOCK, p0 = b0 * B, n = (b1 - b0) * B;
  L->block_group_all = malloc(L->nblocks * sizeof *L->block_group_all);
  if (!L->block_group_all)
    return fitcl__fail(L->ctx, FITCL_ERR_NOMEM, "likelihood: out of host memory");
  memcpy(L->block_group_all, L->block_group, L->nblocks * sizeof *L->block_group_all);
  L->npx_all = L->npx;
  L->npx_own = n;
  /* The tip states are not made yet: the backends make them from the
   * patterns through `src` (fitcl__lik_tip_bytes, lik_cpu.c). */
  if (n == 0) {
    memset(L->kind, 0, B);
    memset(L->weight, 0, B * sizeof *L->weight);
    for (size_t i = 0; i < B; ++i) L->src[i] = SIZE_MAX;
    L->block_group[0] = 0;
    L->npx = B;
    L->nblocks = 1;
  } else {
    memmove(L->kind, L->kind + p0, n);
    memmove(L->weight, L->weight + p0, n * sizeof *L->weight);
    memmove(L->src, L->src + p0, n * sizeof *L->src);
    memmove(L->block_group, L->block_group + b0, (b1 - b0) * sizeof *L->block_group);
    L->npx = n;
    L->nblocks = b1 - b0;
  }
  L->shared = 1;
  return FITCL_OK;
}

int fitcl__lik_release(fitcl_lik *L, size_t done) {
  fitcl__lik_patterns *v = L->pat_view;
  if (!v || !v->packed || !L->release) return 0;
  /* The rows still to read: up to the largest data index before `done`
   * (all of them past the first group when groups interleave). */
  size_t keep = 0;
  for (size_t i = 0; i < done && i < L->npx; ++i)
    if (L->src[i] != SIZE_MAX && L->src[i] + 1 > keep) keep = L->src[i] + 1;
  v->packed = L->release(L->release_user, keep);
  return 1;
}

fitcl_status fitcl__lik_open(fitcl_context *ctx, const fitcl__lik_tree *tree,
                             const fitcl__lik_patterns *pat, const fitcl_lik_options *opt,
                             fitcl_lik **out) {
  return fitcl__lik_open_take(ctx, tree, pat, NULL, NULL, opt, out);
}

static fitcl_status open_handle(fitcl_context *ctx, const fitcl__lik_tree *tree,
                                const fitcl__lik_patterns *pat, fitcl__lik_release_fn release,
                                void *release_user, const fitcl_lik_options *opt, int alone,
                                fitcl_lik **out);

fitcl_status fitcl__lik_open_take(fitcl_context *ctx, const fitcl__lik_tree *tree,
                                  const fitcl__lik_patterns *pat, fitcl__lik_release_fn release,
                                  void *release_user, const fitcl_lik_options *opt,
                                  fitcl_lik **out) {
  return open_handle(ctx, tree, pat, release, release_user, opt, 0, out);
}

fitcl_status fitcl__lik_open_alone(fitcl_context *ctx, const fitcl__lik_tree *tree,
                                   const fitcl__lik_patterns *pat, const fitcl_lik_options *opt,
                                   fitcl_lik **out) {
  return open_handle(ctx, tree, pat, NULL, NULL, opt, 1, out);
}

static fitcl_status open_handle(fitcl_context *ctx, const fitcl__lik_tree *tree,
                                const fitcl__lik_patterns *pat, fitcl__lik_release_fn release,
                                void *release_user, const fitcl_lik_options *opt, int alone,
                                fitcl_lik **out) {
  fitcl_status st = FITCL_OK;
  fitcl_lik *L = NULL;
  size_t *cursor = NULL;
  if (!ctx || !tree || !pat || !out) return FITCL_ERR_NULL;
  *out = NULL;
  fitcl__clear_error(ctx);
  fitcl_lik_options o;
  memset(&o, 0, sizeof o);
  if (opt) o = *opt;
  if (tree->ntips < 2 || tree->nnodes <= tree->ntips)
    return fitcl__fail(ctx, FITCL_ERR_SIZE, "likelihood: the tree needs at least 2 tips, got %d",
                       tree->ntips);
  if (pat->ntaxa != tree->ntips)
    return fitcl__fail(ctx, FITCL_ERR_MISMATCH,
                       "likelihood: the patterns have %d taxa but the tree has %d tips",
                       pat->ntaxa, tree->ntips);
  if (o.gamma_cats < 0 || o.gamma_cats > 64)
    return fitcl__fail(ctx, FITCL_ERR_RANGE, "gamma categories must be in 1..64, got %d",
                       o.gamma_cats);
  if (o.root == FITCL_ROOT_FIXED && !(o.root_p1 >= 0.0 && o.root_p1 <= 1.0))
    return fitcl__fail(ctx, FITCL_ERR_RANGE, "root presence probability must be in [0, 1], got %g",
                       o.root_p1);
  size_t pb = o.pattern_begin, pe = o.pattern_end;
  if (pb == 0 && pe == 0) pe = pat->npatterns;
  if (pb > pe || pe > pat->npatterns)
    return fitcl__fail(ctx, FITCL_ERR_RANGE, "pattern range [%zu, %zu) is outside [0, %zu)", pb,
                       pe, pat->npatterns);

  L = calloc(1, sizeof *L);
  if (!L) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "likelihood: out of memory");
  L->ctx = ctx;
  L->opt = o;
  L->ntips = tree->ntips;
  L->nnodes = tree->nnodes;
  L->nint = tree->nnodes - tree->ntips;
  L->K = o.gamma_cats > 1 ? o.gamma_cats : 1;
  L->G = pat->ngroups > 0 ? pat->ngroups : 1;
  L->branch_grad = o.branch_gradient != 0;
  L->ncomp = 3 + (size_t)L->K + (L->branch_grad ? (size_t)(L->nnodes - 1) : 0);
  L->pbegin = pb;
  L->pend = pe;

  const int nn = L->nnodes, K = L->K, G = L->G;
  L->brlen0 = malloc(sizeof(double) * (size_t)nn);
  L->brlen = malloc(sizeof(double) * (size_t)nn);
  if (!L->brlen0 || !L->brlen) goto oom;
  for (int v = 0; v < nn; ++v) {
    double t = tree->brlen ? tree->brlen[v] : 0.0;
    if (v == nn - 1) t = 0.0;
    if (!(t >= 0.0) || !isfinite(t)) {
      st = fitcl__fail(ctx, FITCL_ERR_DATA, "likelihood: branch length of node %d is %g", v, t);
      goto fail;
    }
    L->brlen0[v] = t;
  }
  st = build_schedule(L, tree);
  if (st != FITCL_OK) goto fail;

  /* Internal pattern layout (see lik.h). */
  const int cond = !o.no_condition;
  L->group_families = calloc((size_t)G, sizeof(double));
  size_t *gcount = calloc((size_t)G, sizeof(size_t));
  cursor = gcount;
  if (!L->group_families || !gcount) goto oom;
  for (size_t p = pb; p < pe; ++p) {
    int g = pat->group ? pat->group[p] : 0;
    if (g < 0 || g >= G) {
      st = fitcl__fail(ctx, FITCL_ERR_DATA, "likelihood: pattern %zu has group %d outside 0..%d", p,
                       g, G - 1);
      goto fail;
    }
    double w = pat->weight ? pat->weight[p] : 1.0;
    if (!(w >= 0.0) || !isfinite(w)) {
      st = fitcl__fail(ctx, FITCL_ERR_DATA, "likelihood: pattern %zu has weight %g", p, w);
      goto fail;
    }
    gcount[g]++;
    L->group_families[g] += w;
    L->nfam += w;
  }
  size_t npx = 0;
  size_t *gstart = malloc(sizeof(size_t) * (size_t)G);
  if (!gstart) goto oom;
  for (int g = 0; g < G; ++g) {
    gstart[g] = npx;
    size_t n = gcount[g] ? gcount[g] + (size_t)cond : 0;
    if (n == 0) continue;
    npx += (n + FITCL_REDUCE_BLOCK - 1) / FITCL_REDUCE_BLOCK * FITCL_REDUCE_BLOCK;
  }
  if (npx == 0) npx = FITCL_REDUCE_BLOCK; /* an empty range still evaluates (to 0) */
  L->npx = npx;
  L->nblocks = npx / FITCL_REDUCE_BLOCK;
  L->block_group = calloc(L->nblocks, sizeof(int));
  L->kind = calloc(npx, 1);
  L->weight = calloc(npx, sizeof(double));
  L->src = malloc(sizeof(size_t) * npx);
  L->absent_at = malloc(sizeof(size_t) * (size_t)G);
  L->pat_internal = malloc(sizeof(size_t) * (pe - pb + 1));
  L->pat_ll = calloc(npx, sizeof(double));
  L->rows = calloc(L->nblocks * L->ncomp, sizeof(double));
  L->rates = malloc(sizeof(double) * (size_t)K);
  L->dlograte = malloc(sizeof(double) * (size_t)K);
  L->set_a = malloc(sizeof(double) * (size_t)(G * K));
  L->set_b = malloc(sizeof(double) * (size_t)(G * K));
  L->pi1 = malloc(sizeof(double) * (size_t)G);
  if (!L->block_group || !L->kind || !L->weight || !L->src || !L->absent_at ||
      !L->pat_internal || !L->pat_ll || !L->rows || !L->rates || !L->dlograte || !L->set_a ||
      !L->set_b || !L->pi1) {
    free(gstart);
    goto oom;
  }
  for (size_t i = 0; i < npx; ++i) L->src[i] = SIZE_MAX;
  for (int g = 0; g < G; ++g) {
    size_t n = gcount[g] ? gcount[g] + (size_t)cond : 0;
    size_t nb = (n + FITCL_REDUCE_BLOCK - 1) / FITCL_REDUCE_BLOCK;
    for (size_t b = 0; b < nb; ++b) L->block_group[gstart[g] / FITCL_REDUCE_BLOCK + b] = g;
    L->absent_at[g] = SIZE_MAX;
    size_t at = gstart[g];
    if (cond && n > 0) {
      L->absent_at[g] = at;
      L->kind[at] = FITCL__PAT_ABSENT;
      L->weight[at] = L->group_families[g];
      at++;
    }
    gcount[g] = at; /* reuse as the fill cursor */
  }
  free(gstart);
  for (size_t p = pb; p < pe; ++p) {
    int g = pat->group ? pat->group[p] : 0;
    size_t at = gcount[g]++;
    L->src[at] = p;
    L->pat_internal[p - pb] = at;
    L->weight[at] = pat->weight ? pat->weight[p] : 1.0;
    int bad = 0; /* no early exit: the check vectorises */
    if (pat->state) {
      const uint8_t *row = pat->state + p * (size_t)pat->ntaxa;
      for (int t = 0; t < L->ntips; ++t) bad |= row[t] > FITCL__MISSING;
    } else {
      /* A packed cell is at most 3: a bad one has both bits set. */
      const uint8_t *row = pat->packed + p * pat->stride;
      for (size_t i = 0; i < pat->stride; ++i) bad |= row[i] & (row[i] >> 1) & 0x55;
    }
    for (int t = 0; bad && t < L->ntips; ++t)
      if (fitcl__lik_pat_get(pat, p, (size_t)t) > FITCL__MISSING) {
        st = fitcl__fail(ctx, FITCL_ERR_DATA, "likelihood: pattern %zu taxon %d has state %u", p, t,
                         (unsigned)fitcl__lik_pat_get(pat, p, (size_t)t));
        goto fail;
      }
  }
  FITCL_FREE(cursor);
  gcount = NULL;
  L->data_nfamilies = pat->nfamilies;
  if (pat->nfamilies && pat->family_pattern) {
    L->family_pattern = malloc(sizeof(size_t) * pat->nfamilies);
    if (!L->family_pattern) goto oom;
    memcpy(L->family_pattern, pat->family_pattern, sizeof(size_t) * pat->nfamilies);
  }
  /* One transition-matrix record per (group, category, node): refuse
   * absurd group counts rather than allocate gigabytes. */
  if ((double)G * K * nn * FITCL_GL_PREC * sizeof(double) > 2e9) {
    st = fitcl__fail(ctx, FITCL_ERR_SIZE,
                     "likelihood: %d rate groups x %d categories x %d nodes need more than 2 GB of "
                     "transition matrices; use fewer groups", G, K, nn);
    goto fail;
  }
  L->pm = malloc(sizeof(double) * (size_t)(G * K) * (size_t)nn * FITCL_GL_PREC);
  if (!L->pm) goto oom;

  st = alone ? FITCL_OK : share_blocks(L);
  if (st != FITCL_OK) goto fail;
  L->backend = ctx->backend->lik;
  fitcl__lik_patterns view = *pat;
  L->pat_view = &view;
  /* Over several devices each one's handle is built from the same
   * patterns after this one: none is given back before the last. */
  L->release = ctx->nsub && !alone ? NULL : release;
  L->release_user = release_user;
  st = L->backend->create(L);
  L->pat_view = NULL;
  L->release = NULL;
  if (st == FITCL_OK && ctx->lik_split && !alone) st = ctx->lik_split->open(L, tree, pat);
  if (st != FITCL_OK) goto fail;
  *out = L;
  return FITCL_OK;
oom:
  st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "likelihood: out of host memory");
fail:
  free(cursor);
  fitcl_lik_destroy(L);
  return st;
}

void fitcl_lik_destroy(fitcl_lik *L) {
  if (!L) return;
  if (L->ctx->lik_split) L->ctx->lik_split->close(L);
  if (L->backend) L->backend->destroy(L);
  free(L->sched);
  free(L->sched_child);
  free(L->level_start);
  free(L->brlen0);
  free(L->brlen);
  free(L->block_group);
  free(L->tips);
  free(L->kind);
  free(L->weight);
  free(L->src);
  free(L->absent_at);
  free(L->group_families);
  free(L->family_pattern);
  free(L->pat_internal);
  free(L->rates);
  free(L->dlograte);
  free(L->set_a);
  free(L->set_b);
  free(L->pi1);
  free(L->pm);
  free(L->pat_ll);
  free(L->rows);
  free(L->block_group_all);
  free(L);
}

static int bad_pos(double x) { return !(x > 0.0) || !isfinite(x); }

/* The block partial sums added exactly (core/xsum.h), so the order of the
 * blocks and their split over ranks leave no trace in the bits.  Sums:
 * log L, d/dlog gain, the loss component per group, the rate component per
 * category, then per branch. */
static fitcl_status combine_blocks(fitcl_lik *L, double *loglik, double *grad) {
  fitcl_context *ctx = L->ctx;
  const int K = L->K, G = L->G, nn = L->nnodes;
  const size_t nc = L->ncomp, nb = L->nblocks;
  const size_t nbr = L->branch_grad ? (size_t)(nn - 1) : 0;
  const size_t nacc = grad ? 2 + (size_t)G + (size_t)K + nbr : 1;
  fitcl__xsum *acc = malloc(nacc * sizeof *acc);
  if (!acc) {
    if (L->shared) (void)ctx->ranks->sum(ctx->ranks, NULL, 0, NULL, 1);
    return fitcl__fail(ctx, FITCL_ERR_NOMEM, "likelihood: out of host memory");
  }
  for (size_t k = 0; k < nacc; ++k) fitcl__xsum_init(&acc[k]);
  for (size_t b = 0; b < nb; ++b) {
    const double *row = L->rows + b * nc;
    fitcl__xsum_add(&acc[0], row[FITCL__LC_LL]);
    if (!grad) continue;
    fitcl__xsum_add(&acc[1], row[FITCL__LC_G]);
    fitcl__xsum_add(&acc[2 + L->block_group[b]], row[FITCL__LC_L]);
    if (K > 1)
      for (int c = 0; c < K; ++c) fitcl__xsum_add(&acc[2 + G + c], row[FITCL__LC_R + c]);
    for (size_t v = 0; v < nbr; ++v) fitcl__xsum_add(&acc[2 + G + K + v], row[FITCL__LC_R + K + v]);
  }
  if (L->shared) {
    fitcl_status st = ctx->ranks->sum(ctx->ranks, acc, nacc, NULL, 0);
    if (st != FITCL_OK) {
      free(acc);
      return fitcl__fail(ctx, st, "likelihood: %s",
                         st == FITCL_ERR_PEER ? "another rank of the job failed"
                                              : "the ranks could not exchange their sums");
    }
  }
  *loglik = fitcl__xsum_round(&acc[0]);
  if (grad) {
    memset(grad, 0, sizeof(double) * fitcl_lik_grad_size(L));
    grad[0] = fitcl__xsum_round(&acc[1]);
    fitcl__ksum kl = {0, 0};
    for (int g = 0; g < G; ++g) {
      grad[3 + g] = fitcl__xsum_round(&acc[2 + g]);
      fitcl__ksum_add(&kl, grad[3 + g]);
    }
    grad[1] = fitcl__ksum_value(&kl);
    if (K > 1) {
      fitcl__ksum ka = {0, 0};
      for (int c = 0; c < K; ++c)
        fitcl__ksum_add(&ka, fitcl__xsum_round(&acc[2 + G + c]) * L->dlograte[c]);
      grad[2] = fitcl__ksum_value(&ka);
    }
    for (size_t v = 0; v < nbr; ++v) grad[3 + G + v] = fitcl__xsum_round(&acc[2 + G + K + v]);
  }
  free(acc);
  return FITCL_OK;
}

fitcl_status fitcl_lik_eval(fitcl_lik *L, const fitcl_gl_params *p, double *loglik,
                            double *grad) {
  if (!L || !p || !loglik) return FITCL_ERR_NULL;
  fitcl_context *ctx = L->ctx;
  fitcl__clear_error(ctx);
  const int K = L->K, G = L->G, nn = L->nnodes;
  if (bad_pos(p->gain)) return fitcl__fail(ctx, FITCL_ERR_RANGE, "gain must be > 0, got %g", p->gain);
  if (bad_pos(p->loss)) return fitcl__fail(ctx, FITCL_ERR_RANGE, "loss must be > 0, got %g", p->loss);
  if (K > 1 && bad_pos(p->alpha))
    return fitcl__fail(ctx, FITCL_ERR_RANGE, "gamma shape alpha must be > 0, got %g", p->alpha);
  for (int g = 0; g < G; ++g) {
    double th = p->loss_mult ? p->loss_mult[g] : 1.0;
    if (bad_pos(th))
      return fitcl__fail(ctx, FITCL_ERR_RANGE, "loss multiplier of group %d must be > 0, got %g", g,
                         th);
  }
  for (int v = 0; v < nn; ++v) {
    double t = p->brlen ? p->brlen[v] : L->brlen0[v];
    if (v == nn - 1) t = 0.0;
    if (!(t >= 0.0) || !isfinite(t))
      return fitcl__fail(ctx, FITCL_ERR_RANGE, "branch length of node %d must be >= 0, got %g", v,
                         t);
    L->brlen[v] = t;
  }
  fitcl_status st = fitcl__gamma_rates_deriv(K > 1 ? p->alpha : 1.0, K, L->rates, L->dlograte);
  if (st != FITCL_OK) return fitcl__fail(ctx, st, "gamma rates for alpha = %g failed", p->alpha);
  for (int g = 0; g < G; ++g) {
    const double th = p->loss_mult ? p->loss_mult[g] : 1.0;
    const double lg = p->loss * th;
    for (int c = 0; c < K; ++c) {
      L->set_a[g * K + c] = p->gain * L->rates[c];
      L->set_b[g * K + c] = lg * L->rates[c];
    }
    L->pi1[g] = (L->opt.root == FITCL_ROOT_FIXED) ? L->opt.root_p1 : fitcl_gl_pi1(p->gain, lg);
  }
  L->root_grad = (L->opt.root != FITCL_ROOT_FIXED);
  const int want_grad = grad != NULL;
  if (L->peers) {
    st = ctx->lik_split->eval(L, want_grad);
  } else {
    st = L->backend->eval(L, want_grad);
    if (st == FITCL_OK) ctx->blocks[0] += L->nblocks;
  }
  if (st != FITCL_OK) {
    if (L->shared) (void)ctx->ranks->sum(ctx->ranks, NULL, 0, NULL, 1);
    return st;
  }
  L->evaluated = 1;
  return combine_blocks(L, loglik, grad);
}

size_t fitcl_lik_grad_size(const fitcl_lik *L) {
  if (!L) return 0;
  return 3 + (size_t)L->G + (L->branch_grad ? (size_t)(L->nnodes - 1) : 0);
}
int fitcl_lik_ngroups(const fitcl_lik *L) { return L ? L->G : 0; }
size_t fitcl_lik_npatterns(const fitcl_lik *L) { return L ? L->pend - L->pbegin : 0; }
double fitcl_lik_nfamilies(const fitcl_lik *L) { return L ? L->nfam : 0.0; }

/* Conditioned log-likelihood of internal pattern i of group g, from the
 * unconditioned values ll of the one process's layout. */
static double cond_ll(const fitcl_lik *L, const double *ll, size_t i, int g) {
  if (!L->opt.no_condition && L->absent_at[g] != SIZE_MAX)
    return fitcl_prune_conditioned(ll[i], ll[L->absent_at[g]]);
  return ll[i];
}

/* The unconditioned pattern log-likelihoods in the one process's layout,
 * with the block groups of that layout: this handle's own, or, shared,
 * every rank's share gathered in block order (collective; *owned is then
 * the caller's to free). */
static fitcl_status all_pattern_lls(fitcl_lik *L, const char *what, const double **ll,
                                    const int **groups, double **owned) {
  *owned = NULL;
  *ll = L->pat_ll;
  *groups = L->block_group;
  if (!L->shared) return FITCL_OK;
  fitcl__ranks *R = L->ctx->ranks;
  double *all = malloc((L->npx_all ? L->npx_all : 1) * sizeof *all);
  fitcl_status st = R->gather(R, L->pat_ll, L->npx_own * sizeof *all, all,
                              L->npx_all * sizeof *all, all == NULL);
  if (st != FITCL_OK) {
    free(all);
    return fitcl__fail(L->ctx, all ? st : FITCL_ERR_NOMEM, "%s: %s", what,
                       !all                     ? "out of host memory"
                       : st == FITCL_ERR_PEER   ? "another rank of the job failed"
                                                : "the ranks could not exchange their values");
  }
  *owned = all;
  *ll = all;
  *groups = L->block_group_all;
  return FITCL_OK;
}

fitcl_status fitcl_lik_pattern_logliks(fitcl_lik *L, double *out, size_t n) {
  if (!L || !out) return FITCL_ERR_NULL;
  if (n != L->pend - L->pbegin)
    return fitcl__fail(L->ctx, FITCL_ERR_ARG, "pattern log-likelihoods: n = %zu, expected %zu", n,
                       L->pend - L->pbegin);
  if (!L->evaluated)
    return fitcl__fail(L->ctx, FITCL_ERR_STATE, "pattern log-likelihoods: no evaluation yet");
  const double *ll;
  const int *groups;
  double *owned;
  fitcl_status st = all_pattern_lls(L, "pattern log-likelihoods", &ll, &groups, &owned);
  if (st != FITCL_OK) return st;
  for (size_t i = 0; i < n; ++i) {
    size_t at = L->pat_internal[i];
    out[i] = cond_ll(L, ll, at, groups[at / FITCL_REDUCE_BLOCK]);
  }
  free(owned);
  return FITCL_OK;
}

fitcl_status fitcl_lik_family_logliks(fitcl_lik *L, double *out, size_t n) {
  if (!L || !out) return FITCL_ERR_NULL;
  if (n != L->data_nfamilies || !L->family_pattern)
    return fitcl__fail(L->ctx, FITCL_ERR_ARG, "family log-likelihoods: n = %zu, expected %zu", n,
                       L->data_nfamilies);
  if (!L->evaluated)
    return fitcl__fail(L->ctx, FITCL_ERR_STATE, "family log-likelihoods: no evaluation yet");
  const double *ll;
  const int *groups;
  double *owned;
  fitcl_status st = all_pattern_lls(L, "family log-likelihoods", &ll, &groups, &owned);
  if (st != FITCL_OK) return st;
  for (size_t f = 0; f < n; ++f) {
    size_t p = L->family_pattern[f];
    if (p < L->pbegin || p >= L->pend) {
      out[f] = NAN;
      continue;
    }
    size_t at = L->pat_internal[p - L->pbegin];
    out[f] = cond_ll(L, ll, at, groups[at / FITCL_REDUCE_BLOCK]);
  }
  free(owned);
  return FITCL_OK;
}
