/* Likelihood handle of the 2-state gain/loss model: internal layout shared
 * by the driver (kernels/lik.c) and the backends (backends/cpu/lik_cpu.c,
 * backends/opencl/lik_ocl.c).
 *
 * Internal pattern order.  The handle's patterns are regrouped by rate group;
 * each group's segment starts with that group's all-absent pattern (when the
 * likelihood is conditioned on observation) and is padded with all-missing
 * patterns of weight zero up to a multiple of FITCL_REDUCE_BLOCK.  Every
 * reduction block therefore belongs to one group, so per-group gradient
 * components are plain block sums, and every block has the same fixed size
 * on every backend. */
#ifndef FITCL_KERNELS_LIK_H
#define FITCL_KERNELS_LIK_H

#include <stddef.h>
#include <stdint.h>
#include "common/pruning.h"
#include "fitcl.h"

/* Pattern kinds (FITCL__PAT_*), block row components (FITCL__LC_*) and the
 * traversal step (fitcl_prune_step) are defined with the pruning math in
 * cl/common/pruning.h, which the kernels share. */

/* What the pruning reads of a tree.  Nodes are numbered tips first
 * (0..ntips-1), every internal node after its children, the root last. */
typedef struct fitcl__lik_tree {
  int ntips, nnodes;
  const int *child_start;  /* [nnodes+1]: children of v are child[child_start[v]..child_start[v+1]) */
  const int *child;        /* [nnodes-1] */
  const double *brlen;     /* [nnodes] length of the branch above each node, or NULL (all 0) */
  const int *level;        /* [nnodes] height above the tips (tips 0), or NULL */
} fitcl__lik_tree;

/* What it reads of the data: site patterns of tip states (FITCL__ABSENT,
 * PRESENT, MISSING), pattern-major, with their weights and rate groups.
 * The states are one byte a cell (`state`) or, where `packed` is set
 * instead, two bits a cell in rows of `stride` bytes (phylo/patterns.h). */
typedef struct fitcl__lik_patterns {
  int ntaxa;                   /* == ntips; column i is tip i */
  size_t npatterns;
  const uint8_t *state;        /* [npatterns * ntaxa] */
  const double *weight;        /* [npatterns] or NULL (all 1) */
  const int *group;            /* [npatterns] or NULL (all 0) */
  int ngroups;
  size_t nfamilies;            /* families, each mapped to a pattern (may be 0) */
  const size_t *family_pattern;
  const uint8_t *packed;       /* [npatterns * stride], or NULL: `state` holds the states */
  size_t stride;
} fitcl__lik_patterns;

/* Where a caller hands the packed rows over (fitcl_lik_create_take): says
 * the handle no longer needs rows keep.. and returns where rows 0..keep-1
 * now are (they may move). */
typedef const uint8_t *(*fitcl__lik_release_fn)(void *user, size_t keep);

static inline int fitcl__lik_pat_get(const fitcl__lik_patterns *p, size_t q, size_t t) {
  if (p->packed) return (p->packed[q * p->stride + (t >> 2)] >> ((t & 3) * 2)) & 3;
  return p->state[q * (size_t)p->ntaxa + t];
}

struct fitcl_lik {
  fitcl_context *ctx;
  fitcl_lik_options opt;
  /* tree */
  int ntips, nnodes, nint, maxdeg;
  double *brlen0;                /* [nnodes] the tree's lengths */
  /* the traversal schedule, the same for every backend: one step per
   * internal node, by level then index (children before parents, the root
   * last); the outside pass reads it backwards.  Binary nodes list an
   * internal child, if any, first. */
  fitcl_prune_step *sched;       /* [nint] */
  int *sched_child;              /* [nnodes - 1] children of the steps, in step order */
  int nlevels;
  int *level_start;              /* [nlevels + 1] steps of level k: [level_start[k], level_start[k+1]),
                                  * what a launch per level would run */
  /* model sizes */
  int K;                         /* rate categories (>= 1) */
  int G;                         /* rate groups */
  int branch_grad;
  size_t ncomp;                  /* block row length: 3 + K (+ nnodes-1) */
  /* internal pattern order */
  size_t npx;                    /* internal patterns, multiple of FITCL_REDUCE_BLOCK */
  size_t nblocks;
  int *block_group;              /* [nblocks] */
  uint8_t *tips;                 /* [ntips][npx], tip-major, made only by fitcl__lik_tip_bytes */
  uint8_t *kind;                 /* [npx] */
  double *weight;                /* [npx]; absent patterns: families of the group */
  size_t *src;                   /* [npx] data pattern index (global), or SIZE_MAX */
  size_t *absent_at;             /* [G] internal index of the group's absent pattern */
  double *group_families;        /* [G] families of each group in the range */
  /* range and bookkeeping */
  size_t pbegin, pend;           /* data pattern range */
  double nfam;
  size_t data_nfamilies;
  size_t *family_pattern;        /* [data_nfamilies] copy */
  size_t *pat_internal;          /* [pend - pbegin] internal index of each data pattern */
  /* per-evaluation host arrays (allocated once) */
  double *rates;                 /* [K] */
  double *dlograte;              /* [K] d log r_c / d log alpha */
  double *set_a, *set_b;         /* [G*K] gain and loss rate of each (group, category) */
  double *pi1;                   /* [G] root presence probability */
  int root_grad;                 /* root term depends on g and l (stationary root) */
  double *brlen;                 /* [nnodes] lengths of this evaluation */
  double *pm;                    /* [G*K][nnodes][FITCL_GL_PREC] (cpu backend) */
  double *pat_ll;                /* [npx] unconditioned log-likelihood per pattern */
  double *rows;                  /* [nblocks][ncomp] block partial sums */
  int evaluated;
  /* Over several ranks (core/ranks.h): the handle keeps only this rank's
   * contiguous share of the blocks, and its sums are added over the ranks;
   * per-pattern values are gathered from every rank when asked for. */
  int shared;
  /* Over several devices (kernels/lik_multi.c): a handle of the same
   * data on each other device's context, or NULL. */
  struct fitcl_lik **peers;      /* [ctx->nsub] */
  double multi_rate[2][16];      /* blocks per second of each device in the last evaluation
                                    without and with the gradient (0: not yet measured) */
  /* backend state */
  const struct fitcl__lik_ops *backend; /* the context's ops table for this family */
  void *impl;                    /* the backend's own state for this handle */
  /* the patterns the handle is built from (the driver's copy of the
   * caller's view), readable while the backend's create runs (NULL
   * afterwards); fitcl__lik_release may change its `packed` */
  fitcl__lik_patterns *pat_view;
  fitcl__lik_release_fn release; /* while create runs, or NULL */
  void *release_user;
  /* Shared: the one process's layout, for per-pattern values gathered from
   * every rank (npx_all patterns, block_group_all [npx_all / block]), and
   * the patterns of it this rank evaluates (npx_own: 0 for a rank that
   * holds only a padding block). */
  size_t npx_all, npx_own;
  int *block_group_all;
};

/* A context over several devices: the handle's blocks shared over them
 * (kernels/lik_multi.c, reached through ctx->lik_split).  open: after the
 * backend's create, a handle of the same tree and patterns on each other
 * device; eval: the backend's eval over the devices (fills pat_ll and
 * rows); close: before the backend's destroy. */
typedef struct fitcl__lik_split {
  fitcl_status (*open)(fitcl_lik *L, const fitcl__lik_tree *tree, const fitcl__lik_patterns *pat);
  fitcl_status (*eval)(fitcl_lik *L, int want_grad);
  void (*close)(fitcl_lik *L);
} fitcl__lik_split;

/* Fills tips (one byte a cell, tip-major) from pat_view, during the
 * backend's create: for a backend that wants the states that way.  The
 * backend frees tips when it no longer needs them. */
fitcl_status fitcl__lik_tip_bytes(fitcl_lik *L);

/* During the backend's create, once every internal pattern from `done` on
 * has been read: gives the caller back the data rows that only those used,
 * when the patterns allow it (pat_view->release).  Tip storage made from
 * the last internal patterns to the first then holds the cells about once,
 * not twice.  Returns whether rows can be released at all (the handle is
 * made by fitcl__lik_open_take from packed rows). */
int fitcl__lik_release(fitcl_lik *L, size_t done);

/* Builds a handle from a tree and its patterns (phylo/data.h's
 * fitcl__lik_create passes the analyses' structures; the self-test passes
 * its own arrays). */
fitcl_status fitcl__lik_open(fitcl_context *ctx, const fitcl__lik_tree *tree,
                             const fitcl__lik_patterns *pat, const fitcl_lik_options *opt,
                             fitcl_lik **out);

/* fitcl__lik_open where the caller hands the packed rows over: the backend
 * may give them back through release (fitcl__lik_release) as it reads
 * them; the caller must not read them afterwards. */
fitcl_status fitcl__lik_open_take(fitcl_context *ctx, const fitcl__lik_tree *tree,
                                  const fitcl__lik_patterns *pat, fitcl__lik_release_fn release,
                                  void *release_user, const fitcl_lik_options *opt,
                                  fitcl_lik **out);

/* fitcl__lik_open on ctx's own device and this process alone: the handle
 * is not split over the context's other devices nor shared with other
 * ranks (the bootstrap hands whole replicates to the devices instead). */
fitcl_status fitcl__lik_open_alone(fitcl_context *ctx, const fitcl__lik_tree *tree,
                                   const fitcl__lik_patterns *pat, const fitcl_lik_options *opt,
                                   fitcl_lik **out);

/* The family's ops table (device/backend.h).  create: set up the
 * backend's state for the handle (upload the constant data); eval: given
 * the host arrays set_a/set_b/pi1/brlen, fill pat_ll and rows for all
 * blocks (with gradient components when want_grad); destroy: release the
 * state (also after a failed create). */
typedef struct fitcl__lik_ops {
  fitcl_status (*create)(fitcl_lik *L);
  fitcl_status (*eval)(fitcl_lik *L, int want_grad);
  void (*destroy)(fitcl_lik *L);
  /* eval in two steps, for a context over several devices
   * (kernels/lik_multi.c): prepare what every block reads (the transition
   * matrices), then fill pat_ll and rows of blocks [b0, b1) only; any
   * number of block calls after one prepare.  A handle that cannot (the
   * OpenCL float kernels) returns FITCL_ERR_UNSUPPORTED from prepare. */
  fitcl_status (*prepare)(fitcl_lik *L, int want_grad);
  fitcl_status (*blocks)(fitcl_lik *L, int want_grad, size_t b0, size_t b1);
} fitcl__lik_ops;

/* Discrete-gamma rates (mean method) and d log r_c / d log alpha. */
fitcl_status fitcl__gamma_rates_deriv(double alpha, int k, double *rates, double *dlog);

#endif
