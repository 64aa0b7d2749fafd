/* Batched small fits on the pthreads path.
 *
 * The fits of a slice are cut into groups of consecutive fits (the group
 * size depends on n only, never on the thread count); workers take groups
 * from a shared counter, and each runs its group to the end: every
 * iteration evaluates all of the group's running fits, then steps each one
 * (cl/common/batch_lm.h) and drops those that ended.  A group's data stay
 * in the worker's caches for all its iterations.
 *
 * Evaluation vectorises across fits: the points of several fits are packed
 * into one block of FITCL__VM_BLOCK points, each fit's parameters
 * broadcast over its own points, and the model runs once over the block
 * (the register evaluator on the program with per-point parameters,
 * expr.h's params_vary).  A fit longer than a block takes several.  A
 * model whose program was compiled into the library (a built-in, or an
 * expression equal to one: kernels/aot.h) runs that code instead, fit by
 * fit over its own points (vectorised along the points, its x read in
 * place), which measured faster than the evaluator; a block whose
 * arguments leave the compiled code's fast range goes to the evaluator.  Each
 * fit's sums are reduced over its own points in eight lanes (point index
 * mod 8) combined pairwise, the same order wherever the fit sits in a
 * block, so a fit's results do not depend on which fits share its blocks
 * beyond the rounding of the evaluator's vector and scalar loops. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/cpu.h"
#include "common/batch_lm.h"
#include "core/context.h"
#include "core/pool.h"
#include "core/util.h"
#include "expr/expr_vmath.h"
#include "kernels/aot.h"
#include "kernels/batch.h"

#define BLK FITCL__VM_BLOCK
#define NSMAX FITCL_BATCH_NSUMS(FITCL_BATCH_MAX_PARAMS)

typedef struct cpu_batch {
  fitcl__batch *b;
  fitcl__expr_prog prog;   /* expression models: f and J with per-point parameters */
  const fitcl__aot_kernel *aot; /* the model compiled into the library, or NULL */
  int callback;
  int ns;                  /* sums per fit */
  size_t group;            /* fits per group */
  unsigned nworkers;
  size_t per_worker;       /* doubles of scratch per worker */
  double *scratch;
  double **R;              /* per worker: the evaluator's register pointers */
  size_t first, ngroups, count;
  atomic_size_t next;
  atomic_ullong passes;
} cpu_batch;

/* One run of consecutive points of one fit inside a block. */
typedef struct seg {
  uint32_t fit;            /* index in the group */
  uint32_t s0, len, off;   /* first point in the fit, length, offset in the block */
} seg;

typedef struct wscratch {
  double *regs;            /* evaluator registers */
  double *cols;            /* np parameter columns, then nv variable columns, BLK each */
  double *cbf, *cbj;       /* callback models: f and the row-major Jacobian */
  double *jcols;           /* callback models: Jacobian columns */
  double *aot;             /* compiled model: np + 1 output blocks, then its scratch */
  double *yv, *wv, *sv, *rv, *cv, *lf; /* one segment: y, w, row scale, residual, cost, ln(y/f) */
  double *lanes;           /* NSMAX x 8 lane sums of the fit in progress */
  double *recs;            /* group x rec */
  double *sums;            /* group x ns */
  uint32_t *active;
  int *stat;
  seg *segs;
} wscratch;

static wscratch scratch_of(cpu_batch *c, unsigned w) {
  const fitcl__batch *b = c->b;
  double *p = c->scratch + (size_t)w * c->per_worker;
  wscratch s;
  size_t nregs = c->callback ? 2 : (size_t)c->prog.nregs;
  s.regs = p, p += nregs * BLK;
  s.cols = p, p += (size_t)(b->np + b->nv) * BLK;
  s.cbf = p, p += c->callback ? BLK : 0;
  s.cbj = p, p += c->callback ? (size_t)b->np * BLK : 0;
  s.jcols = p, p += c->callback ? (size_t)b->np * BLK : 0;
  s.aot = p, p += c->aot ? ((size_t)b->np + 1 + (size_t)c->aot->nheavy) * BLK : 0;
  s.yv = p, p += BLK;
  s.wv = p, p += BLK;
  s.sv = p, p += BLK;
  s.rv = p, p += BLK;
  s.cv = p, p += BLK;
  s.lf = p, p += BLK;
  s.lanes = p, p += (size_t)NSMAX * 8;
  s.recs = p, p += c->group * (size_t)b->rec;
  s.sums = p, p += c->group * (size_t)c->ns;
  s.active = (uint32_t *)(void *)p, p += (c->group * sizeof(uint32_t) + 7) / 8;
  s.stat = (int *)(void *)p, p += (c->group * sizeof(int) + 7) / 8;
  s.segs = (seg *)(void *)p;
  return s;
}

/* Lane sums of one segment: for each point the row g = s·J and the
 * residual r, added to acc[t][point mod 8].  NP a constant: the loops
 * unroll and the lanes stay in vector registers. */
#define FITCL__DEFINE_SEG_SUMS(NP)                                                       \
  FITCL__VMATH_CLONES                                                                    \
  static void seg_sums_##NP(const double *const *J, const double *s, const double *r,   \
                            const double *c, size_t len, double *lanes) {               \
    enum { NT = FITCL_BATCH_NSUMS(NP) };                                                 \
    double acc[NT][8];                                                                   \
    memcpy(acc, lanes, sizeof acc);                                                      \
    size_t i = 0;                                                                        \
    for (; i + 8 <= len; i += 8) {                                                       \
      double g[NP][8];                                                                   \
      for (int k = 0; k < NP; ++k)                                                       \
        for (int l = 0; l < 8; ++l) g[k][l] = J[k][i + l] * s[i + l];                    \
      int t = 0;                                                                         \
      for (int k = 0; k < NP; ++k)                                                       \
        for (int m = k; m < NP; ++m, ++t)                                                \
          for (int l = 0; l < 8; ++l) acc[t][l] += g[k][l] * g[m][l];                    \
      for (int k = 0; k < NP; ++k, ++t)                                                  \
        for (int l = 0; l < 8; ++l) acc[t][l] += g[k][l] * r[i + l];                     \
      for (int l = 0; l < 8; ++l) acc[t][l] += c[i + l];                                 \
      for (int l = 0; l < 8; ++l) acc[t + 1][l] += r[i + l] * r[i + l];                  \
    }                                                                                    \
    for (; i < len; ++i) {                                                               \
      const int l = (int)(i & 7);                                                        \
      double g[NP];                                                                      \
      for (int k = 0; k < NP; ++k) g[k] = J[k][i] * s[i];                                \
      int t = 0;                                                                         \
      for (int k = 0; k < NP; ++k)                                                       \
        for (int m = k; m < NP; ++m, ++t) acc[t][l] += g[k] * g[m];                      \
      for (int k = 0; k < NP; ++k, ++t) acc[t][l] += g[k] * r[i];                        \
      acc[t][l] += c[i];                                                                 \
      acc[t + 1][l] += r[i] * r[i];                                                      \
    }                                                                                    \
    memcpy(lanes, acc, sizeof acc);                                                      \
  }
FITCL__DEFINE_SEG_SUMS(1)
FITCL__DEFINE_SEG_SUMS(2)
FITCL__DEFINE_SEG_SUMS(3)
FITCL__DEFINE_SEG_SUMS(4)
FITCL__DEFINE_SEG_SUMS(5)
FITCL__DEFINE_SEG_SUMS(6)
FITCL__DEFINE_SEG_SUMS(7)
FITCL__DEFINE_SEG_SUMS(8)

typedef void (*seg_sums_fn)(const double *const *, const double *, const double *,
                            const double *, size_t, double *);
static const seg_sums_fn seg_sums_np[] = {NULL,         seg_sums_1, seg_sums_2, seg_sums_3,
                                          seg_sums_4,   seg_sums_5, seg_sums_6, seg_sums_7,
                                          seg_sums_8};

/* The same for unweighted least squares, fused with the residuals: the
 * row scale is 1 and the cost terms 0, so g = J, r = y - f (the very
 * values seg_reduce would store: multiplying by 1 and adding 0 change no
 * bits), and neither the scales nor the cost terms are written and read
 * back.  The cost lane is left as it is (zero). */
#define FITCL__DEFINE_SEG_SUMS_LSE(NP)                                                   \
  FITCL__VMATH_CLONES                                                                    \
  static void seg_sums_lse_##NP(const double *const *J, const double *y, const double *f, \
                                size_t len, double *lanes) {                            \
    enum { NT = FITCL_BATCH_NSUMS(NP) };                                                 \
    double acc[NT][8];                                                                   \
    memcpy(acc, lanes, sizeof acc);                                                      \
    size_t i = 0;                                                                        \
    for (; i + 8 <= len; i += 8) {                                                       \
      double g[NP][8], r[8];                                                             \
      for (int l = 0; l < 8; ++l) r[l] = y[i + l] - f[i + l];                            \
      for (int k = 0; k < NP; ++k)                                                       \
        for (int l = 0; l < 8; ++l) g[k][l] = J[k][i + l];                               \
      int t = 0;                                                                         \
      for (int k = 0; k < NP; ++k)                                                       \
        for (int m = k; m < NP; ++m, ++t)                                                \
          for (int l = 0; l < 8; ++l) acc[t][l] += g[k][l] * g[m][l];                    \
      for (int k = 0; k < NP; ++k, ++t)                                                  \
        for (int l = 0; l < 8; ++l) acc[t][l] += g[k][l] * r[l];                         \
      for (int l = 0; l < 8; ++l) acc[t + 1][l] += r[l] * r[l];                          \
    }                                                                                    \
    for (; i < len; ++i) {                                                               \
      const int l = (int)(i & 7);                                                        \
      const double r = y[i] - f[i];                                                      \
      int t = 0;                                                                         \
      for (int k = 0; k < NP; ++k)                                                       \
        for (int m = k; m < NP; ++m, ++t) acc[t][l] += J[k][i] * J[m][i];                \
      for (int k = 0; k < NP; ++k, ++t) acc[t][l] += J[k][i] * r;                        \
      acc[t + 1][l] += r * r;                                                            \
    }                                                                                    \
    memcpy(lanes, acc, sizeof acc);                                                      \
  }
FITCL__DEFINE_SEG_SUMS_LSE(1)
FITCL__DEFINE_SEG_SUMS_LSE(2)
FITCL__DEFINE_SEG_SUMS_LSE(3)
FITCL__DEFINE_SEG_SUMS_LSE(4)
FITCL__DEFINE_SEG_SUMS_LSE(5)
FITCL__DEFINE_SEG_SUMS_LSE(6)
FITCL__DEFINE_SEG_SUMS_LSE(7)
FITCL__DEFINE_SEG_SUMS_LSE(8)

typedef void (*seg_sums_lse_fn)(const double *const *, const double *, const double *, size_t,
                                double *);
static const seg_sums_lse_fn seg_sums_lse_np[] = {
    NULL,           seg_sums_lse_1, seg_sums_lse_2, seg_sums_lse_3, seg_sums_lse_4,
    seg_sums_lse_5, seg_sums_lse_6, seg_sums_lse_7, seg_sums_lse_8};

/* The same for any np, in the same order. */
static void seg_sums_any(int np, const double *const *J, const double *s, const double *r,
                         const double *c, size_t len, double *lanes) {
  for (size_t i = 0; i < len; ++i) {
    const size_t l = i & 7;
    double g[FITCL_BATCH_MAX_PARAMS];
    for (int k = 0; k < np; ++k) g[k] = J[k][i] * s[i];
    int t = 0;
    for (int k = 0; k < np; ++k)
      for (int m = k; m < np; ++m, ++t) lanes[(size_t)t * 8 + l] += g[k] * g[m];
    for (int k = 0; k < np; ++k, ++t) lanes[(size_t)t * 8 + l] += g[k] * r[i];
    lanes[(size_t)t * 8 + l] += c[i];
    lanes[(size_t)(t + 1) * 8 + l] += r[i] * r[i];
  }
}

/* Points s0 .. s0+len of fit `fit` of a batch array into dst. */
static inline void gather(const fitcl_batch_array *a, size_t fit, size_t s0, size_t len,
                          double *dst) {
  const double *src = a->data + fit * a->fit_stride + s0 * a->point_stride;
  if (a->point_stride == 1) {
    memcpy(dst, src, len * sizeof *dst);
  } else {
    for (size_t i = 0; i < len; ++i) dst[i] = src[i * a->point_stride];
  }
}

/* After a fit's last segment: its sums, the lanes combined pairwise. */
static inline void seg_lanes_done(const cpu_batch *c, wscratch *w, const seg *sg) {
  if (sg->s0 + sg->len != c->b->npoints) return;
  double *out = w->sums + (size_t)sg->fit * (size_t)c->ns;
  for (int t = 0; t < c->ns; ++t) {
    const double *a = w->lanes + (size_t)t * 8;
    out[t] = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
  }
}

/* Residuals, row scales and cost terms of one segment (f its model
 * values), then its lane sums. */
FITCL__VMATH_CLONES
static void seg_reduce(cpu_batch *c, wscratch *w, const seg *sg, const double *f,
                       const double *const *J, size_t fit) {
  const fitcl__batch *b = c->b;
  const int np = b->np, est = (int)b->cfg[FITCL_BCFG_EST], wkind = b->wkind;
  const size_t len = sg->len;
  const int nfn = (int)(sizeof seg_sums_lse_np / sizeof seg_sums_lse_np[0]);
  if (est == FITCL_BATCH_EST_LSE && wkind == FITCL_BATCH_W_NONE && np < nfn) {
    /* Unweighted least squares: residuals and sums in one pass, y read in
     * place where its points are contiguous. */
    const double *y = b->d.y.data + fit * b->d.y.fit_stride + sg->s0 * b->d.y.point_stride;
    if (b->d.y.point_stride != 1) {
      gather(&b->d.y, fit, sg->s0, len, w->yv);
      y = w->yv;
    }
    if (sg->s0 == 0) memset(w->lanes, 0, (size_t)c->ns * 8 * sizeof *w->lanes);
    seg_sums_lse_np[np](J, y, f, len, w->lanes);
    seg_lanes_done(c, w, sg);
    return;
  }
  gather(&b->d.y, fit, sg->s0, len, w->yv);
  if (wkind != FITCL_BATCH_W_NONE) gather(&b->w, fit, sg->s0, len, w->wv);
  if (est == FITCL_BATCH_EST_POISSON) {
    /* ln(y/f), vectorised; points with y = 0 or f <= 0 do not use it. */
    for (size_t i = 0; i < len; ++i)
      w->cv[i] = w->yv[i] > 0 && f[i] > 0 ? w->yv[i] / f[i] : 1.0;
    fitcl__vlog(w->cv, w->lf, len);
    for (size_t i = 0; i < len; ++i)
      fitcl_batch_point(FITCL_BATCH_EST_POISSON, 0, w->yv[i], f[i], 0.0, w->lf[i], &w->rv[i],
                        &w->sv[i], &w->cv[i]);
  } else if (wkind == FITCL_BATCH_W_SIGMA) {
    for (size_t i = 0; i < len; ++i)
      fitcl_batch_point(FITCL_BATCH_EST_LSE, FITCL_BATCH_W_SIGMA, w->yv[i], f[i], w->wv[i], 0.0,
                        &w->rv[i], &w->sv[i], &w->cv[i]);
  } else if (wkind == FITCL_BATCH_W_WEIGHTS) {
    for (size_t i = 0; i < len; ++i)
      fitcl_batch_point(FITCL_BATCH_EST_LSE, FITCL_BATCH_W_WEIGHTS, w->yv[i], f[i], w->wv[i], 0.0,
                        &w->rv[i], &w->sv[i], &w->cv[i]);
  } else {
    for (size_t i = 0; i < len; ++i)
      fitcl_batch_point(FITCL_BATCH_EST_LSE, FITCL_BATCH_W_NONE, w->yv[i], f[i], 0.0, 0.0,
                        &w->rv[i], &w->sv[i], &w->cv[i]);
  }
  if (sg->s0 == 0) memset(w->lanes, 0, (size_t)c->ns * 8 * sizeof *w->lanes);
  if (np < (int)(sizeof seg_sums_np / sizeof seg_sums_np[0]))
    seg_sums_np[np](J, w->sv, w->rv, w->cv, len, w->lanes);
  else
    seg_sums_any(np, J, w->sv, w->rv, w->cv, len, w->lanes);
  seg_lanes_done(c, w, sg);
}

/* Evaluates the block of segments w->segs[0..nseg) (used points) and
 * reduces each segment into its fit's sums. */
static void flush(cpu_batch *c, wscratch *w, unsigned worker, size_t nseg, size_t used,
                  size_t gfirst, int *filled) {
  const fitcl__batch *b = c->b;
  const int np = b->np, nv = b->nv;
  if (!nseg) return;
  atomic_fetch_add_explicit(&c->passes, 1, memory_order_relaxed);
  if (!c->callback) {
    const double *cols[FITCL_BATCH_MAX_PARAMS + FITCL_NLSQ_MAX_VARS];
    for (int k = 0; k < np + nv; ++k) cols[k] = w->cols + (size_t)k * BLK;
    double **R = c->R + (size_t)worker * (size_t)c->prog.nregs;
    fitcl__expr_vm_run(&c->prog, NULL, cols, used, w->regs, R, !*filled);
    *filled = 1;
    const double *J[FITCL_BATCH_MAX_PARAMS];
    for (size_t q = 0; q < nseg; ++q) {
      const seg *sg = &w->segs[q];
      for (int k = 0; k < np; ++k) J[k] = R[c->prog.outputs[1 + k]] + sg->off;
      seg_reduce(c, w, sg, R[c->prog.outputs[0]] + sg->off, J, gfirst + sg->fit);
    }
    return;
  }
  /* A C callback: one call per segment, at that fit's parameters. */
  const fitcl_model *m = b->m;
  for (size_t q = 0; q < nseg; ++q) {
    const seg *sg = &w->segs[q];
    const double *rec = w->recs + (size_t)sg->fit * (size_t)b->rec;
    const double *xs[FITCL_NLSQ_MAX_VARS];
    for (int v = 0; v < nv; ++v) xs[v] = w->cols + (size_t)(np + v) * BLK + sg->off;
    /* Finite differences for a value-only callback need 2 blocks of
     * scratch: the evaluator's registers, unused here, serve. */
    fitcl__model_callback_eval(m, rec + FITCL_BST_T(np), xs, sg->len, w->cbf, w->cbj, w->regs);
    const double *J[FITCL_BATCH_MAX_PARAMS];
    for (int k = 0; k < np; ++k) {
      double *col = w->jcols + (size_t)k * BLK;
      for (size_t i = 0; i < sg->len; ++i) col[i] = w->cbj[i * (size_t)np + (size_t)k];
      J[k] = col;
    }
    seg_reduce(c, w, sg, w->cbf, J, gfirst + sg->fit);
  }
}

/* The segment of one fit through the compiled model: 0 when its arguments
 * left the compiled code's fast range (the caller then uses the
 * evaluator). */
static int aot_segment(cpu_batch *c, wscratch *w, uint32_t fi, size_t fit, size_t s0,
                       size_t len) {
  const fitcl__batch *b = c->b;
  const int np = b->np, nv = b->nv;
  const double *T = w->recs + (size_t)fi * (size_t)b->rec + FITCL_BST_T(np);
  const double *xs[FITCL_NLSQ_MAX_VARS];
  for (int v = 0; v < nv; ++v) {
    const fitcl_batch_array *x = &b->d.x[v];
    if (x->point_stride == 1) {
      xs[v] = x->data + fit * x->fit_stride + s0;
    } else {
      double *col = w->cols + (size_t)(np + v) * BLK;
      gather(x, fit, s0, len, col);
      xs[v] = col;
    }
  }
  double *outs[FITCL_BATCH_MAX_PARAMS + 1];
  for (int q = 0; q <= np; ++q) outs[q] = w->aot + (size_t)q * BLK;
  if (c->aot->fn(T, xs, len, NULL, NULL, outs, NULL, w->aot + (size_t)(np + 1) * BLK) != 0)
    return 0;
  seg sg = {fi, (uint32_t)s0, (uint32_t)len, 0};
  seg_reduce(c, w, &sg, outs[0], (const double *const *)(outs + 1), fit);
  return 1;
}

/* One pass over the group's running fits at their trial points. */
static void evaluate(cpu_batch *c, wscratch *w, unsigned worker, size_t nact, size_t gfirst,
                     int *filled) {
  const fitcl__batch *b = c->b;
  const int np = b->np, nv = b->nv;
  const size_t n = b->npoints;
  size_t used = 0, nseg = 0;
  if (c->aot) {
    for (size_t a = 0; a < nact; ++a)
      for (size_t s0 = 0; s0 < n; s0 += BLK) {
        size_t len = n - s0 < BLK ? n - s0 : BLK;
        if (aot_segment(c, w, w->active[a], gfirst + w->active[a], s0, len)) continue;
        /* Out of the compiled code's range: this segment alone through the
         * evaluator. */
        const double *T = w->recs + (size_t)w->active[a] * (size_t)b->rec + FITCL_BST_T(np);
        for (int k = 0; k < np; ++k)
          for (size_t i = 0; i < len; ++i) w->cols[(size_t)k * BLK + i] = T[k];
        for (int v = 0; v < nv; ++v)
          gather(&b->d.x[v], gfirst + w->active[a], s0, len, w->cols + (size_t)(np + v) * BLK);
        w->segs[0] = (seg){w->active[a], (uint32_t)s0, (uint32_t)len, 0};
        flush(c, w, worker, 1, len, gfirst, filled);
      }
    return;
  }
  for (size_t a = 0; a < nact; ++a) {
    const uint32_t fi = w->active[a];
    const double *T = w->recs + (size_t)fi * (size_t)b->rec + FITCL_BST_T(np);
    const size_t fit = gfirst + fi;
    for (size_t s0 = 0; s0 < n; s0 += BLK) {
      size_t len = n - s0 < BLK ? n - s0 : BLK;
      if (used + len > BLK) {
        flush(c, w, worker, nseg, used, gfirst, filled);
        used = nseg = 0;
      }
      for (int k = 0; k < np; ++k) {
        double *col = w->cols + (size_t)k * BLK + used;
        for (size_t i = 0; i < len; ++i) col[i] = T[k];
      }
      for (int v = 0; v < nv; ++v)
        gather(&b->d.x[v], fit, s0, len, w->cols + (size_t)(np + v) * BLK + used);
      w->segs[nseg++] = (seg){fi, (uint32_t)s0, (uint32_t)len, (uint32_t)used};
      used += len;
    }
  }
  flush(c, w, worker, nseg, used, gfirst, filled);
}

/* The step and the final errors with np a constant (flatten inlines the
 * shared code into each): the p x p loops unroll, which made the step
 * several times faster than with np read at run time (it was a third of
 * the time of 4-parameter fits on 64 points). */
typedef int (*step_fn)(double *, const double *, const double *, const double *, const double *,
                       const int *);
#define FITCL__DEFINE_STEP(NP)                                                                  \
  __attribute__((flatten)) static int step_##NP(double *st, const double *E, const double *cfg, \
                                                const double *lo, const double *hi,             \
                                                const int *fixed) {                             \
    return fitcl_batch_step(NP, st, E, cfg, lo, hi, fixed);                                     \
  }
FITCL__DEFINE_STEP(1)
FITCL__DEFINE_STEP(2)
FITCL__DEFINE_STEP(3)
FITCL__DEFINE_STEP(4)
FITCL__DEFINE_STEP(5)
FITCL__DEFINE_STEP(6)
FITCL__DEFINE_STEP(7)
FITCL__DEFINE_STEP(8)
static const step_fn step_np[] = {NULL,   step_1, step_2, step_3, step_4,
                                  step_5, step_6, step_7, step_8};

static int step(int np, double *st, const double *E, const double *cfg, const double *lo,
                const double *hi, const int *fixed) {
  if (np < (int)(sizeof step_np / sizeof step_np[0])) return step_np[np](st, E, cfg, lo, hi, fixed);
  return fitcl_batch_step(np, st, E, cfg, lo, hi, fixed);
}

typedef int (*finish_fn)(const double *, int, const double *, const int *, double *, double *,
                         double *, int, double *);
#define FITCL__DEFINE_FINISH(NP)                                                                \
  __attribute__((flatten)) static int finish_##NP(const double *st, int status,               \
                                                  const double *cfg, const int *fixed,         \
                                                  double *params, double *se, double *cov,     \
                                                  int want_cov, double *chi2) {                \
    return fitcl_batch_finish(NP, st, status, cfg, fixed, params, se, cov, want_cov, chi2);    \
  }
FITCL__DEFINE_FINISH(1)
FITCL__DEFINE_FINISH(2)
FITCL__DEFINE_FINISH(3)
FITCL__DEFINE_FINISH(4)
FITCL__DEFINE_FINISH(5)
FITCL__DEFINE_FINISH(6)
FITCL__DEFINE_FINISH(7)
FITCL__DEFINE_FINISH(8)
static const finish_fn finish_np[] = {NULL,     finish_1, finish_2, finish_3, finish_4,
                                      finish_5, finish_6, finish_7, finish_8};

/* Finishes fit `fit` (errors, covariance) from its record and stores its
 * results; fixed: its fixed flags. */
static void store(fitcl__batch *b, size_t fit, const double *rec, int status, const int *fixed) {
  const int np = b->np;
  double params[FITCL_BATCH_MAX_PARAMS], se[FITCL_BATCH_MAX_PARAMS], chi2, scratch[1];
  double *cov = b->out.covariance ? b->out.covariance + fit * (size_t)np * (size_t)np : NULL;
  double *cv = cov ? cov : scratch;
  if (np < (int)(sizeof finish_np / sizeof finish_np[0]))
    status = finish_np[np](rec, status, b->cfg, fixed, params, se, cv, cov != NULL, &chi2);
  else
    status = fitcl_batch_finish(np, rec, status, b->cfg, fixed, params, se, cv, cov != NULL, &chi2);
  fitcl__batch_store_raw(b, fit, params, se, NULL, chi2, status, (int)rec[FITCL_BST_ITER(np)] - 1);
}

static void group_run(cpu_batch *c, size_t g, unsigned worker) {
  fitcl__batch *b = c->b;
  const int np = b->np;
  wscratch w = scratch_of(c, worker);
  const size_t gfirst = c->first + g * c->group;
  size_t gn = c->count - g * c->group < c->group ? c->count - g * c->group : c->group;
  int filled = 0;
  for (size_t i = 0; i < gn; ++i) {
    fitcl__batch_init(b, gfirst + i, w.recs + i * (size_t)b->rec);
    w.active[i] = (uint32_t)i;
  }
  size_t nact = gn;
  while (nact) {
    evaluate(c, &w, worker, nact, gfirst, &filled);
    for (size_t a = 0; a < nact; ++a) {
      const uint32_t fi = w.active[a];
      double *rec = w.recs + (size_t)fi * (size_t)b->rec;
      double lo[FITCL_BATCH_MAX_PARAMS], hi[FITCL_BATCH_MAX_PARAMS];
      int fixed[FITCL_BATCH_MAX_PARAMS];
      fitcl__batch_limits(b, gfirst + fi, lo, hi, fixed);
      int s = step(np, rec, w.sums + (size_t)fi * (size_t)c->ns, b->cfg, lo, hi, fixed);
      w.stat[fi] = s;
      if (s != FITCL_BST_RUNNING) store(b, gfirst + fi, rec, s, fixed);
    }
    nact = fitcl__batch_compact(w.active, nact, w.stat);
  }
}

static void worker_task(void *arg, size_t task, unsigned worker) {
  cpu_batch *c = arg;
  (void)task;
  for (;;) {
    size_t g = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed);
    if (g >= c->ngroups) break;
    group_run(c, g, worker);
  }
}

static fitcl_status cpu_batch_create(fitcl__batch *b) {
  cpu_batch *c = calloc(1, sizeof *c);
  if (!c) return fitcl__fail(b->ctx, FITCL_ERR_NOMEM, "out of memory");
  b->impl = c;
  c->b = b;
  c->callback = b->m->kind == FITCL__MODEL_CALLBACK;
  if (!c->callback) {
    fitcl_status st = fitcl__batch_varying_program(b->ctx, b->m, &c->prog);
    if (st != FITCL_OK) return st;
    c->aot = fitcl__aot_find(&b->m->prog_fj);
  }
  c->ns = FITCL_BATCH_NSUMS(b->np);
  /* A group's y, x and records fit in a few tens of KiB (the L1/L2
   * caches); at least one fit, at most 256. */
  size_t g = 4096 / (b->npoints + 8);
  c->group = g < 1 ? 1 : (g > 256 ? 256 : g);
  c->nworkers = fitcl__pool_size(fitcl__ctx_pool(b->ctx));
  if (c->nworkers < 1) c->nworkers = 1;
  size_t nregs = c->callback ? 2 : (size_t)c->prog.nregs;
  size_t per = nregs * BLK + (size_t)(b->np + b->nv) * BLK + 8 * BLK +
               (c->callback ? 2 * (size_t)b->np * BLK : 0) +
               (c->aot ? ((size_t)b->np + 1 + (size_t)c->aot->nheavy) * BLK : 0) +
               (size_t)NSMAX * 8 +
               c->group * ((size_t)b->rec + (size_t)c->ns) + c->group + BLK * 2 + 16;
  c->per_worker = (per + 7) & ~(size_t)7;
  c->scratch = calloc(c->per_worker * c->nworkers, sizeof *c->scratch);
  c->R = calloc((nregs ? nregs : 1) * c->nworkers, sizeof *c->R);
  if (!c->scratch || !c->R) return fitcl__fail(b->ctx, FITCL_ERR_NOMEM, "out of memory");
  if (!b->slice) b->slice = (size_t)1 << 16;
  b->layout_used = 0;
  return FITCL_OK;
}

static fitcl_status cpu_batch_run(fitcl__batch *b, size_t first, size_t count) {
  cpu_batch *c = b->impl;
  c->first = first;
  c->count = count;
  c->ngroups = (count + c->group - 1) / c->group;
  atomic_store(&c->next, 0);
  atomic_store(&c->passes, 0);
  size_t ntasks = c->nworkers < c->ngroups ? c->nworkers : c->ngroups;
  fitcl__pool_run(fitcl__ctx_pool(b->ctx), ntasks, worker_task, c);
  b->launches += atomic_load(&c->passes);
  return FITCL_OK;
}

static void cpu_batch_destroy(fitcl__batch *b) {
  cpu_batch *c = b->impl;
  if (!c) return;
  fitcl__expr_prog_free(&c->prog);
  free(c->scratch);
  free(c->R);
  free(c);
  b->impl = NULL;
}

/* Expression and callback models; OpenCL C models need a device. */
static int cpu_batch_runs(const fitcl_model *m) { return m->kind != FITCL__MODEL_OPENCL; }

const fitcl__batch_ops fitcl__batch_cpu_ops = {"cpu", cpu_batch_runs, cpu_batch_create,
                                               cpu_batch_run, cpu_batch_destroy};
