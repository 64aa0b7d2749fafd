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
#include "fitcl.h"
#include "phylo/tree.h"
#include "phylo/patterns.h"

/* Pattern kinds. */
#define FITCL__PAT_DATA 0   /* a data pattern, or padding (weight 0) */
#define FITCL__PAT_ABSENT 1 /* the all-absent pattern of its group (conditioning) */

/* Components of one block's partial sums (the "row" of a block). */
#define FITCL__LC_LL 0  /* sum of weighted (conditioned) log-likelihood terms */
#define FITCL__LC_G 1   /* d/dlog g */
#define FITCL__LC_L 2   /* d/dlog (l * theta[group of block]) */
#define FITCL__LC_R 3   /* d/dlog r_c, c = 0..K-1, then d/dt_v for branches */

struct fitcl__lik_cpu;
struct fitcl__lik_ocl;

struct fitcl_lik {
  fitcl_context *ctx;
  fitcl_lik_options opt;
  /* tree */
  int ntips, nnodes, nint, maxdeg;
  int *child_start, *child;      /* copies of the tree's arrays */
  double *brlen0;                /* [nnodes] the tree's lengths */
  int *ops;                      /* [nint] internal nodes in level order (postorder) */
  /* model sizes */
  int K;                         /* rate categories (>= 1) */
  int G;                         /* rate groups */
  int branch_grad;
  size_t ncomp;                  /* block row length: 3 + K (+ nnodes-1) */
  /* internal pattern order */
  size_t npx;                    /* internal patterns, multiple of FITCL_REDUCE_BLOCK */
  size_t nblocks;
  int *block_group;              /* [nblocks] */
  uint8_t *tips;                 /* [ntips][npx], tip-major */
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
  /* backend state */
  const struct fitcl__lik_ops *backend; /* the context's ops table for this family */
  struct fitcl__lik_cpu *cpu;
  struct fitcl__lik_ocl *ocl;
};

/* Builds a handle from internal tree + patterns (used by fitcl_lik_create
 * and by tests that build small inputs directly). */
fitcl_status fitcl__lik_create(fitcl_context *ctx, const fitcl__tree *tree,
                               const fitcl__patterns *pat, const fitcl_lik_options *opt,
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
} fitcl__lik_ops;

/* Discrete-gamma rates (mean method) and d log r_c / d log alpha. */
fitcl_status fitcl__gamma_rates_deriv(double alpha, int k, double *rates, double *dlog);

#endif
