/* Jacobian accumulation on the pthreads path.
 *
 * Work is cut into groups of FITCL_ACCUM_GROUP blocks of FITCL__VM_BLOCK
 * (= FITCL_REDUCE_BLOCK) points, counted from the start of each chunk.  A
 * group is one pool task: it evaluates the model block by block (built-in
 * models with their code compiled into the library, kernels/aot.h, which for
 * the linear loss also forms the block's sums; others with the register
 * VM; Jacobian columns stay in the cache, never in memory), forms
 * the weighted rows G_k = sqrt(w) J_k / sigma and residuals
 * rt = rho' r / sqrt(w), and reduces each block with fixed 8-lane dot
 * products; the block sums are added into the group with compensation.  The
 * driver adds the group partials in order, so the result depends only on the
 * chunking, never on the thread count or timing. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/accum_point.h"
#include "common/accum_qr.h"
#include "core/context.h"
#include "core/pool.h"
#include "core/util.h"
#include "backends/cpu/cpu.h"
#include "kernels/accum.h"
#include "kernels/aot.h"
#include "expr/expr_vmath.h"

#define BLK FITCL__VM_BLOCK
#define GROUP_POINTS ((size_t)FITCL_ACCUM_GROUP * BLK)

typedef struct cpu_impl {
  unsigned nworkers;
  size_t per_worker;    /* doubles of scratch per worker */
  double *scratch;
  size_t nregs;         /* registers per worker (the larger program) */
  double **R;           /* per worker: VM register pointers */
  uint64_t *filled;     /* per worker: the pass key its registers hold */
  uint64_t pass_key;    /* changes at every begin */
  double *partials;     /* groups of the current chunk */
  size_t partials_cap;  /* in groups */
  /* the chunk being processed */
  const double *const *x;
  const double *y, *sigma;
  size_t n;
  size_t ngroups;
  atomic_size_t next;   /* next group to take (dynamic scheduling) */
  fitcl_accum *a;
  /* the model's kernels compiled ahead of time (NULL: the evaluator) */
  const fitcl__aot_kernel *aot_fj, *aot_f;
} cpu_impl;

/* Fixed-order dot product of two blocks: eight lanes, combined pairwise.
 * The lanes let the compiler vectorise without reassociating anything. */
FITCL__VM_INLINE double dot_block(const double *u, const double *v) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (size_t i = 0; i < BLK; i += 8)
    for (size_t l = 0; l < 8; ++l) acc[l] += u[i + l] * v[i + l];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}
FITCL__VM_INLINE double sum_block(const double *u) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (size_t i = 0; i < BLK; i += 8)
    for (size_t l = 0; l < 8; ++l) acc[l] += u[i + l];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* Scratch layout per worker. */
typedef struct blk_scratch {
  double *regs;  /* VM registers */
  double *G;     /* np weighted Jacobian columns */
  double *rt;    /* weighted residuals for Jᵀr */
  double *rho;   /* loss values */
  double *z;     /* squared residuals */
  double *cbf;   /* callback: f */
  double *cbj;   /* callback: row-major Jacobian */
  double *fd;    /* callback with finite differences: two blocks of values */
  double *aot;   /* compiled kernels: outputs (np + 1 blocks), then scratch */
} blk_scratch;

static blk_scratch scratch_of(cpu_impl *c, unsigned w) {
  const fitcl_accum *a = c->a;
  const fitcl_model *m = a->m;
  double *p = c->scratch + (size_t)w * c->per_worker;
  blk_scratch s;
  s.regs = p;
  p += c->nregs * BLK;
  s.G = p;
  p += (size_t)a->np * BLK;
  s.rt = p;
  p += BLK;
  s.rho = p;
  p += BLK;
  s.z = p;
  p += BLK;
  s.cbf = p;
  p += BLK;
  s.cbj = p;
  p += m->kind == FITCL__MODEL_CALLBACK ? (size_t)a->np * BLK : 0;
  s.fd = p;
  p += m->kind == FITCL__MODEL_CALLBACK && m->fd ? 2 * (size_t)BLK : 0;
  s.aot = p;
  return s;
}

/* Residual, loss and weights of one block; fills rho, z, and (with the
 * Jacobian) the per-point row scale into G's role via `scale`, and rt. */
FITCL__VMATH_CLONES
static void block_residuals(const fitcl_accum *a, const double *f, const double *y,
                            const double *sigma, size_t nb, double *scale, double *rt,
                            double *rho, double *z) {
  const double c2 = a->f_scale * a->f_scale, inv_c2 = 1.0 / c2;
  const int loss = (int)a->loss;
  if (loss == FITCL_LOSS_ID_LINEAR) {
    if (sigma)
      for (size_t i = 0; i < nb; ++i) {
        double is = 1.0 / sigma[i], r = (y[i] - f[i]) * is;
        scale[i] = is;
        rt[i] = r;
        z[i] = r * r;
        rho[i] = r * r;
      }
    else
      for (size_t i = 0; i < nb; ++i) {
        double r = y[i] - f[i];
        scale[i] = 1.0;
        rt[i] = r;
        z[i] = r * r;
        rho[i] = r * r;
      }
  } else {
    for (size_t i = 0; i < nb; ++i) {
      double is = sigma ? 1.0 / sigma[i] : 1.0, r = (y[i] - f[i]) * is;
      double rh, r1, w;
      fitcl_loss_eval(loss, r * r, c2, inv_c2, &rh, &r1, &w);
      double sw = sqrt(w);
      scale[i] = is * sw;
      rt[i] = r1 * r / sw;
      z[i] = r * r;
      rho[i] = rh;
    }
  }
  for (size_t i = nb; i < BLK; ++i) scale[i] = rt[i] = z[i] = rho[i] = 0.0;
}

/* Full blocks of narrow models: the weighted rows are formed and multiplied
 * in one sweep with every accumulator in a vector register (NP is a
 * compile-time constant here, so the loops unroll), instead of storing G
 * and streaming it once per product.  The lanes and their final pairing are
 * those of dot_block (the same summation order as the general path). */
#define FITCL__DEFINE_FAST_SUMS(NP)                                                   \
  FITCL__VMATH_CLONES                                                                 \
  static void fast_sums_##NP(const double *const *J, const double *scale,            \
                             const double *rt, const double *rho, const double *z,   \
                             double *v) {                                            \
    enum { NT = FITCL_ACCUM_NSUMS(NP) };                                              \
    double acc[NT][8];                                                                \
    for (int t = 0; t < NT; ++t)                                                      \
      for (int l = 0; l < 8; ++l) acc[t][l] = 0.0;                                    \
    for (size_t i = 0; i < BLK; i += 8) {                                             \
      double g[NP][8];                                                                \
      for (int k = 0; k < NP; ++k)                                                    \
        for (size_t l = 0; l < 8; ++l) g[k][l] = J[k][i + l] * scale[i + l];          \
      int t = 0;                                                                      \
      for (int k = 0; k < NP; ++k)                                                    \
        for (int m = k; m < NP; ++m, ++t)                                             \
          for (size_t l = 0; l < 8; ++l) acc[t][l] += g[k][l] * g[m][l];             \
      for (int k = 0; k < NP; ++k, ++t)                                               \
        for (size_t l = 0; l < 8; ++l) acc[t][l] += g[k][l] * rt[i + l];              \
      for (size_t l = 0; l < 8; ++l) acc[t][l] += rho[i + l];                         \
      for (size_t l = 0; l < 8; ++l) acc[t + 1][l] += z[i + l];                       \
    }                                                                                 \
    for (int t = 0; t < NT; ++t)                                                      \
      v[t] = ((acc[t][0] + acc[t][1]) + (acc[t][2] + acc[t][3])) +                    \
             ((acc[t][4] + acc[t][5]) + (acc[t][6] + acc[t][7]));                     \
  }
/* The same for the linear loss, with the residuals formed in the sweep
 * (no intermediate arrays at all): the common case of a fit.  The body is
 * instantiated with and without weights (has_sigma a constant), so the
 * unweighted sweep multiplies by nothing (x * 1.0 is exact: the same
 * bits). */
#define FITCL__DEFINE_FAST_LINEAR(NP)                                                 \
  FITCL__VM_INLINE void fast_linear_body_##NP(const double *const *J, const double *f, \
                                              const double *y, const double *sigma,   \
                                              double *v, const int has_sigma) {       \
    enum { NT = FITCL_ACCUM_NSUMS(NP) };                                              \
    double acc[NT - 1][8];                                                            \
    for (int t = 0; t < NT - 1; ++t)                                                  \
      for (int l = 0; l < 8; ++l) acc[t][l] = 0.0;                                    \
    for (size_t i = 0; i < BLK; i += 8) {                                             \
      double g[NP][8], r[8], is[8];                                                   \
      for (size_t l = 0; l < 8; ++l) is[l] = has_sigma ? 1.0 / sigma[i + l] : 1.0;    \
      for (size_t l = 0; l < 8; ++l)                                                  \
        r[l] = has_sigma ? (y[i + l] - f[i + l]) * is[l] : y[i + l] - f[i + l];       \
      for (int k = 0; k < NP; ++k)                                                    \
        for (size_t l = 0; l < 8; ++l) g[k][l] = has_sigma ? J[k][i + l] * is[l] : J[k][i + l]; \
      int t = 0;                                                                      \
      for (int k = 0; k < NP; ++k)                                                    \
        for (int m = k; m < NP; ++m, ++t)                                             \
          for (size_t l = 0; l < 8; ++l) acc[t][l] += g[k][l] * g[m][l];             \
      for (int k = 0; k < NP; ++k, ++t)                                               \
        for (size_t l = 0; l < 8; ++l) acc[t][l] += g[k][l] * r[l];                   \
      for (size_t l = 0; l < 8; ++l) acc[t][l] += r[l] * r[l];                        \
    }                                                                                 \
    for (int t = 0; t < NT - 1; ++t)                                                  \
      v[t] = ((acc[t][0] + acc[t][1]) + (acc[t][2] + acc[t][3])) +                    \
             ((acc[t][4] + acc[t][5]) + (acc[t][6] + acc[t][7]));                     \
    v[NT - 1] = v[NT - 2]; /* linear loss: rho = z */                                 \
  }                                                                                   \
  FITCL__VMATH_CLONES                                                                 \
  static void fast_linear_##NP(const double *const *J, const double *f,              \
                               const double *y, const double *sigma, double *v) {    \
    if (sigma) fast_linear_body_##NP(J, f, y, sigma, v, 1);                           \
    else fast_linear_body_##NP(J, f, y, sigma, v, 0);                                 \
  }
FITCL__DEFINE_FAST_LINEAR(1)
FITCL__DEFINE_FAST_LINEAR(2)
FITCL__DEFINE_FAST_LINEAR(3)
FITCL__DEFINE_FAST_LINEAR(4)
FITCL__DEFINE_FAST_LINEAR(5)

/* Cost-only pass, linear loss, full block: Σr² in one sweep (weighted and
 * unweighted instantiations, as above; the residuals go through a small
 * array, the form GCC vectorises). */
FITCL__VM_INLINE void fast_linear_cost_body(const double *f, const double *y,
                                            const double *sigma, double *v, const int has_sigma) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (size_t i = 0; i < BLK; i += 8) {
    double r[8];
    for (size_t l = 0; l < 8; ++l)
      r[l] = has_sigma ? (y[i + l] - f[i + l]) * (1.0 / sigma[i + l]) : y[i + l] - f[i + l];
    for (size_t l = 0; l < 8; ++l) acc[l] += r[l] * r[l];
  }
  v[0] = v[1] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}
FITCL__VMATH_CLONES
static void fast_linear_cost(const double *f, const double *y, const double *sigma, double *v) {
  if (sigma) fast_linear_cost_body(f, y, sigma, v, 1);
  else fast_linear_cost_body(f, y, sigma, v, 0);
}

typedef void (*fast_linear_fn)(const double *const *, const double *, const double *,
                               const double *, double *);
static const fast_linear_fn fast_linear[] = {NULL, fast_linear_1, fast_linear_2, fast_linear_3,
                                             fast_linear_4, fast_linear_5};

FITCL__DEFINE_FAST_SUMS(1)
FITCL__DEFINE_FAST_SUMS(2)
FITCL__DEFINE_FAST_SUMS(3)
FITCL__DEFINE_FAST_SUMS(4)

typedef void (*fast_sums_fn)(const double *const *, const double *, const double *,
                             const double *, const double *, double *);
/* Up to 4 parameters (14 or fewer accumulators fit the vector registers;
 * wider models measured slower this way). */
static const fast_sums_fn fast_sums[] = {NULL, fast_sums_1, fast_sums_2, fast_sums_3,
                                         fast_sums_4};

/* Sums of one block into v[0..stride). */
FITCL__VMATH_CLONES
static void block_sums(const fitcl_accum *a, const double *const *J, blk_scratch *s,
                       const double *scale, size_t nb, double *v) {
  const int np = a->np;
  if (!a->want_jac) {
    v[0] = sum_block(s->rho);
    v[1] = sum_block(s->z);
    return;
  }
  if (nb == BLK && np < (int)(sizeof fast_sums / sizeof fast_sums[0])) {
    fast_sums[np](J, scale, s->rt, s->rho, s->z, v);
    return;
  }
  for (int k = 0; k < np; ++k) {
    double *G = s->G + (size_t)k * BLK;
    const double *Jk = J[k];
    for (size_t i = 0; i < nb; ++i) G[i] = Jk[i] * scale[i];
    for (size_t i = nb; i < BLK; ++i) G[i] = 0.0;
  }
  int t = 0;
  for (int k = 0; k < np; ++k)
    for (int l = k; l < np; ++l) v[t++] = dot_block(s->G + (size_t)k * BLK, s->G + (size_t)l * BLK);
  for (int k = 0; k < np; ++k) v[t++] = dot_block(s->G + (size_t)k * BLK, s->rt);
  v[t++] = sum_block(s->rho);
  v[t++] = sum_block(s->z);
}

static void group_run(cpu_impl *c, size_t g, unsigned worker);

/* Each worker takes groups from a shared counter until none is left, so a
 * worker that the OS delays does not hold the others up.  Which worker runs
 * a group does not matter: every group writes its own slot, and the slots
 * are added in group order. */
static void worker_task(void *arg, size_t task, unsigned worker) {
  cpu_impl *c = arg;
  (void)task;
  for (;;) {
    size_t g = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed);
    if (g >= c->ngroups) break;
    group_run(c, g, worker);
  }
}

/* The model's values (returned) and Jacobian columns (J) on one block:
 * compiled code k when given and its arguments stay in range, else the
 * block evaluator, or the callback. */
static const double *block_model(cpu_impl *c, unsigned worker, blk_scratch *s,
                                 const fitcl__aot_kernel *k, const double *const *xb, size_t nb,
                                 const double **J) {
  const fitcl_accum *a = c->a;
  const fitcl_model *m = a->m;
  const int np = a->np;
  if (k) {
    double *outs[FITCL_NLSQ_MAX_PARAMS + 1];
    for (int q = 0; q <= np; ++q) outs[q] = s->aot + (size_t)q * BLK;
    if (k->fn(a->params, xb, nb, NULL, NULL, outs, NULL, s->aot + (size_t)(np + 1) * BLK) == 0) {
      if (a->want_jac)
        for (int q = 0; q < np; ++q) J[q] = outs[1 + q];
      return outs[0];
    }
  }
  if (m->kind == FITCL__MODEL_EXPR) {
    const fitcl__expr_prog *p = a->want_jac ? &m->prog_fj : &m->prog_f;
    double **R = c->R + (size_t)worker * c->nregs;
    int fill = c->filled[worker] != c->pass_key;
    c->filled[worker] = c->pass_key;
    fitcl__expr_vm_run(p, a->params, xb, nb, s->regs, R, fill);
    if (a->want_jac)
      for (int q = 0; q < np; ++q) J[q] = R[p->outputs[1 + q]];
    return R[p->outputs[0]];
  }
  fitcl__model_callback_eval(m, a->params, xb, nb, s->cbf, a->want_jac ? s->cbj : NULL, s->fd);
  if (a->want_jac)
    for (int q = 0; q < np; ++q) {
      /* The callback writes rows; the reductions read columns.  A callback
       * model has no evaluator, so its register space holds them. */
      double *col = s->regs + (size_t)q * BLK;
      for (size_t i = 0; i < nb; ++i) col[i] = s->cbj[i * (size_t)np + (size_t)q];
      J[q] = col;
    }
  return s->cbf;
}

/* Fixed-order dot product of u[from..to) and v[from..to) in eight lanes
 * (the loop vectorises without reassociating). */
FITCL__VM_INLINE double dot_range(const double *u, const double *v, size_t from, size_t to) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = from;
  for (; i + 8 <= to; i += 8)
    for (size_t l = 0; l < 8; ++l) acc[l] += u[i + l] * v[i + l];
  for (size_t l = 0; i < to; ++i, ++l) acc[l] += u[i] * v[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* Householder QR of the nb x m block A (column k at A + k * BLK), in
 * place; the m x m triangle goes to R (packed). */
FITCL__VMATH_CLONES
static void block_householder(double *A, int m, size_t nb, double *R) {
  for (int k = 0; k < m; ++k) {
    double *ak = A + (size_t)k * BLK;
    double s = (size_t)k < nb ? dot_range(ak, ak, (size_t)k, nb) : 0.0;
    double x0 = (size_t)k < nb ? ak[k] : 0.0;
    double tail = s - x0 * x0;
    if (!(tail > 0)) {
      /* Nothing below the diagonal: the row is R's as it stands. */
      for (int j = k; j < m; ++j) R[FITCL_QR_AT(m, k, j)] = (size_t)k < nb ? A[(size_t)j * BLK + k] : 0.0;
      continue;
    }
    double alpha = x0 >= 0 ? -sqrt(s) : sqrt(s);
    double v0 = x0 - alpha, vtv = tail + v0 * v0;
    R[FITCL_QR_AT(m, k, k)] = alpha;
    for (int j = k + 1; j < m; ++j) {
      double *aj = A + (size_t)j * BLK;
      double w = v0 * aj[k] + dot_range(ak, aj, (size_t)k + 1, nb);
      double f = 2 * w / vtv;
      aj[k] -= f * v0;
      for (size_t i = (size_t)k + 1; i < nb; ++i) aj[i] -= f * ak[i];
      R[FITCL_QR_AT(m, k, j)] = aj[k];
    }
  }
}

/* A group of a QR pass: each block's weighted rows [G | rt] are reduced to
 * a triangle by Householder reflections (vectorised over the block's
 * points), and the blocks' triangles are rotated into the group's in block
 * order; Σrho and Σr² per block as in the other passes. */
static void group_run_qr(cpu_impl *c, size_t g, unsigned worker) {
  const fitcl_accum *a = c->a;
  const int np = a->np, nv = a->nv, m = np + 1, tri = FITCL_QR_TRI(np + 1);
  blk_scratch s = scratch_of(c, worker);
  double *T = c->partials + g * (size_t)fitcl__accum_stride(a);
  double scale[BLK], v[FITCL_NLSQ_MAX_PARAMS + 1], Rb[FITCL_QR_TRI(FITCL_NLSQ_MAX_PARAMS + 1)];
  double cs = 0, cc = 0, rs = 0, rc = 0;
  const double *J[FITCL_NLSQ_MAX_PARAMS];
  const double *xb[FITCL_NLSQ_MAX_VARS];
  for (int q = 0; q < tri; ++q) T[q] = 0.0;
  size_t begin = g * GROUP_POINTS;
  size_t end = begin + GROUP_POINTS < c->n ? begin + GROUP_POINTS : c->n;
  for (size_t b0 = begin; b0 < end; b0 += BLK) {
    size_t nb = end - b0 < BLK ? end - b0 : BLK;
    for (int j = 0; j < nv; ++j) xb[j] = c->x[j] + b0;
    const double *f = block_model(c, worker, &s, c->aot_fj, xb, nb, J);
    block_residuals(a, f, c->y + b0, c->sigma ? c->sigma + b0 : NULL, nb, scale, s.rt, s.rho,
                    s.z);
    /* The block matrix: G's columns, then rt right after them (the
     * scratch layout puts rt at G + np * BLK). */
    for (int k = 0; k < np; ++k) {
      double *G = s.G + (size_t)k * BLK;
      for (size_t i = 0; i < nb; ++i) G[i] = J[k][i] * scale[i];
    }
    block_householder(s.G, m, nb, Rb);
    for (int k = 0; k < m && (size_t)k < nb; ++k) {
      for (int l = 0; l < m; ++l) v[l] = l < k ? 0.0 : Rb[FITCL_QR_AT(m, k, l)];
      fitcl_qr_add_row(T, m, v, k);
    }
    double bc = sum_block(s.rho), br = sum_block(s.z), t;
    t = cs + bc;
    cc += fabs(cs) >= fabs(bc) ? (cs - t) + bc : (bc - t) + cs;
    cs = t;
    t = rs + br;
    rc += fabs(rs) >= fabs(br) ? (rs - t) + br : (br - t) + rs;
    rs = t;
  }
  T[tri] = cs + cc;
  T[tri + 1] = rs + rc;
}

static void group_run(cpu_impl *c, size_t g, unsigned worker) {
  const fitcl_accum *a = c->a;
  if (a->qr) {
    group_run_qr(c, g, worker);
    return;
  }
  const int np = a->np, nv = a->nv, stride = fitcl__accum_stride(a);
  blk_scratch s = scratch_of(c, worker);
  double v[FITCL_ACCUM_NSUMS(FITCL_NLSQ_MAX_PARAMS)];
  double gs[FITCL_ACCUM_NSUMS(FITCL_NLSQ_MAX_PARAMS)], gc[FITCL_ACCUM_NSUMS(FITCL_NLSQ_MAX_PARAMS)];
  double scale[BLK];
  const double *J[FITCL_NLSQ_MAX_PARAMS];
  const double *xb[FITCL_NLSQ_MAX_VARS];
  for (int q = 0; q < stride; ++q) gs[q] = gc[q] = 0.0;
  size_t begin = g * GROUP_POINTS;
  size_t end = begin + GROUP_POINTS < c->n ? begin + GROUP_POINTS : c->n;
  for (size_t b0 = begin; b0 < end; b0 += BLK) {
    size_t nb = end - b0 < BLK ? end - b0 : BLK;
    for (int j = 0; j < nv; ++j) xb[j] = c->x[j] + b0;
    const double *yb = c->y + b0, *sb = c->sigma ? c->sigma + b0 : NULL;
    const fitcl__aot_kernel *k = a->want_jac ? c->aot_fj : c->aot_f;
    const int linear_full = nb == BLK && a->loss == FITCL_LOSS_LINEAR;
    /* A compiled model adds a full block's sums itself; on an argument
     * outside its fast range (rare) the block goes to the evaluator. */
    int summed = 0;
    if (k && linear_full && k->accumulates) {
      summed = k->fn(a->params, xb, nb, yb, sb, NULL, v, s.aot + (size_t)(np + 1) * BLK) == 0;
      k = NULL;
    }
    if (!summed) {
      const double *f = block_model(c, worker, &s, k, xb, nb, J);
      if (a->want_jac && linear_full && np < (int)(sizeof fast_linear / sizeof fast_linear[0])) {
        fast_linear[np](J, f, yb, sb, v);
      } else if (!a->want_jac && linear_full) {
        fast_linear_cost(f, yb, sb, v);
      } else {
        block_residuals(a, f, yb, sb, nb, scale, s.rt, s.rho, s.z);
        block_sums(a, J, &s, scale, nb, v);
      }
    }
    for (int q = 0; q < stride; ++q) {
      /* Neumaier step: blocks of a group are added with compensation. */
      double t = gs[q] + v[q];
      if (fabs(gs[q]) >= fabs(v[q])) gc[q] += (gs[q] - t) + v[q];
      else gc[q] += (v[q] - t) + gs[q];
      gs[q] = t;
    }
  }
  double *out = c->partials + g * (size_t)stride;
  for (int q = 0; q < stride; ++q) out[q] = gs[q] + gc[q];
}

static fitcl_status cpu_create(fitcl_accum *a) {
  cpu_impl *c = calloc(1, sizeof *c);
  if (!c) return fitcl__fail(a->ctx, FITCL_ERR_NOMEM, "out of memory");
  a->impl = c;
  c->a = a;
  if (a->path == 0) a->path = FITCL_ACCUM_PATH_FUSED;
  c->nworkers = fitcl__pool_size(fitcl__ctx_pool(a->ctx));
  if (c->nworkers < 1) c->nworkers = 1;
  const fitcl_model *m = a->m;
  size_t nregs = 0;
  if (m->kind == FITCL__MODEL_EXPR)
    nregs = (size_t)(m->prog_fj.nregs > m->prog_f.nregs ? m->prog_fj.nregs : m->prog_f.nregs);
  if (m->kind == FITCL__MODEL_CALLBACK && nregs < (size_t)a->np) nregs = (size_t)a->np;
  c->nregs = nregs;
  size_t cbj = m->kind == FITCL__MODEL_CALLBACK ? (size_t)(a->np + (m->fd ? 2 : 0)) * BLK : 0;
  size_t aot = 0;
  if (m->kind == FITCL__MODEL_EXPR) {
    c->aot_fj = fitcl__aot_find(&m->prog_fj);
    c->aot_f = fitcl__aot_find(&m->prog_f);
    int nh = c->aot_fj ? c->aot_fj->nheavy : 0;
    if (c->aot_f && c->aot_f->nheavy > nh) nh = c->aot_f->nheavy;
    if (c->aot_fj || c->aot_f) aot = ((size_t)a->np + 1 + (size_t)nh) * BLK;
    a->info.precompiled = c->aot_fj != NULL;
  }
  c->per_worker = (nregs + (size_t)a->np + 4) * BLK + cbj + aot;
  c->per_worker = (c->per_worker + 7) & ~(size_t)7;
  c->scratch = calloc(c->per_worker * c->nworkers, sizeof *c->scratch);
  c->R = calloc((nregs ? nregs : 1) * c->nworkers, sizeof *c->R);
  c->filled = calloc(c->nworkers, sizeof *c->filled);
  if (!c->R || !c->filled) return fitcl__fail(a->ctx, FITCL_ERR_NOMEM, "out of memory");
  c->partials_cap = (a->max_chunk + GROUP_POINTS - 1) / GROUP_POINTS;
  /* A QR pass's vectors are one value longer than the sums. */
  c->partials = malloc(c->partials_cap * (size_t)(a->nsums + 1) * sizeof *c->partials);
  if (!c->scratch || !c->partials) return fitcl__fail(a->ctx, FITCL_ERR_NOMEM, "out of memory");
  a->info.program_builds = 0;
  return FITCL_OK;
}

static fitcl_status cpu_begin(fitcl_accum *a) {
  cpu_impl *c = a->impl;
  /* A new key makes every worker reload parameters and constants (the
   * cost-only program has its own register layout, hence the low bit). */
  c->pass_key = ((c->pass_key >> 1) + 1) << 1 | (uint64_t)a->want_jac;
  return FITCL_OK;
}

static fitcl_status cpu_chunk(fitcl_accum *a, const double *const *x, const double *y,
                              const double *sigma, size_t n) {
  cpu_impl *c = a->impl;
  c->x = x;
  c->y = y;
  c->sigma = sigma;
  c->n = n;
  size_t ngroups = (n + GROUP_POINTS - 1) / GROUP_POINTS;
  c->ngroups = ngroups;
  atomic_store(&c->next, 0);
  size_t ntasks = c->nworkers < ngroups ? c->nworkers : ngroups;
  fitcl__pool_run(fitcl__ctx_pool(a->ctx), ntasks, worker_task, c);
  fitcl__accum_fold(a, c->partials, ngroups);
  return FITCL_OK;
}

static fitcl_status cpu_finish(fitcl_accum *a) {
  (void)a;
  return FITCL_OK;
}

static void cpu_destroy(fitcl_accum *a) {
  cpu_impl *c = a->impl;
  if (!c) return;
  free(c->scratch);
  free(c->R);
  free(c->filled);
  free(c->partials);
  free(c);
  a->impl = NULL;
}

/* Expression and callback models on the fused path; OpenCL C models and the
 * CLBlast path need an OpenCL device. */
static int cpu_runs(const fitcl_model *m, int path) {
  return m->kind != FITCL__MODEL_OPENCL && path != FITCL_ACCUM_PATH_CLBLAST;
}

const fitcl__accum_ops fitcl__accum_cpu_ops = {"cpu", cpu_runs, cpu_create, cpu_begin,
                                               cpu_chunk, cpu_finish, cpu_destroy};
