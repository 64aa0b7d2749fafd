/* Gain/loss likelihood on the pthreads backend.
 *
 * One pool task per reduction block of FITCL_REDUCE_BLOCK patterns; inside a
 * task, sub-blocks of FITCL__LANE patterns go through the whole tree with
 * their partials laid out [node][category][state][lane], so every inner loop
 * runs over the lanes with unit stride and the compiler vectorises it.  A
 * worker's partials for a sub-block (all internal nodes) stay in its own
 * scratch, allocated once per handle: nothing is allocated per evaluation.
 * Each task writes its own row of block partial sums, formed in pattern
 * order with compensation, so results do not depend on the thread count. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/compat.h"
#include "common/gainloss.h"
#include "common/reduce.h"
#include "core/context.h"
#include "core/pool.h"
#include "core/util.h"
#include "phylo/lik.h"

/* 16 lanes: the tip states of a sub-block are then one 16-byte vector,
 * which GCC widens to doubles inside the vectorised loop (with 8 lanes the
 * byte loads stayed scalar). */
#define FITCL__LANE 16

/* A loop over the lanes of a sub-block.  The lanes never depend on each
 * other (ivdep), and the loop must stay a loop (unroll 1): fully unrolled
 * into 8 scalar statements, GCC no longer vectorises it. */
#if defined(__GNUC__) && !defined(__clang__)
#define FITCL__LANES(l) _Pragma("GCC ivdep") _Pragma("GCC unroll 1") for (int l = 0; l < FITCL__LANE; ++l)
#else
#define FITCL__LANES(l) for (int l = 0; l < FITCL__LANE; ++l)
#endif

/* Compile the hot loops for several x86 vector widths and pick one at load
 * time, so the portable binary still uses AVX2/AVX-512 where present. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define FITCL__CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FITCL__CLONES
#endif

struct fitcl__lik_cpu {
  unsigned nworkers;
  double **scratch;
  int want_grad;
  int *tiprank; /* [ntips] position of each tip in traversal order */
};

void fitcl__lik_cpu_destroy(fitcl_lik *L) {
  if (!L || !L->cpu) return;
  for (unsigned w = 0; w < L->cpu->nworkers; ++w) free(L->cpu->scratch[w]);
  free(L->cpu->scratch);
  free(L->cpu->tiprank);
  FITCL_FREE(L->cpu);
}

static size_t scratch_doubles(const fitcl_lik *L) {
  const size_t part = (size_t)L->nint * (size_t)L->K * 2 * FITCL__LANE;
  return 2 * part                                               /* In, Out */
         + (size_t)L->maxdeg * (size_t)L->K * 2 * FITCL__LANE   /* child contributions */
         + (size_t)L->K * 2 * FITCL__LANE                       /* G of one child */
         + (L->ncomp + 4) * FITCL__LANE                         /* per-lane derivatives */
         + 2 * L->ncomp;                                        /* compensated sums */
}

fitcl_status fitcl__lik_cpu_create(fitcl_lik *L) {
  L->cpu = calloc(1, sizeof *L->cpu);
  if (!L->cpu) return fitcl__fail(L->ctx, FITCL_ERR_NOMEM, "likelihood: out of host memory");
  L->cpu->nworkers = fitcl__pool_size(fitcl__ctx_pool(L->ctx));
  if (L->cpu->nworkers < 1) L->cpu->nworkers = 1;
  L->cpu->scratch = calloc(L->cpu->nworkers, sizeof(double *));
  if (!L->cpu->scratch) return fitcl__fail(L->ctx, FITCL_ERR_NOMEM, "likelihood: out of host memory");
  /* Tip states rearranged for the traversal: [sub-block][tip in the order
   * the operation list reads them][FITCL__LANE], so each sub-block streams
   * its tips from one contiguous range, in order (the [tip][pattern] layout
   * suits OpenCL's coalescing instead). */
  {
    const size_t nt = (size_t)L->ntips, nsub = L->npx / FITCL__LANE;
    L->cpu->tiprank = malloc(sizeof(int) * nt);
    uint8_t *blk = malloc(nt * L->npx);
    if (!blk || !L->cpu->tiprank) {
      free(blk);
      return fitcl__fail(L->ctx, FITCL_ERR_NOMEM, "likelihood: out of host memory");
    }
    int r = 0;
    for (int oi = 0; oi < L->nint; ++oi) {
      const int u = L->ops[oi];
      for (int j = L->child_start[u]; j < L->child_start[u + 1]; ++j)
        if (L->child[j] < L->ntips) L->cpu->tiprank[L->child[j]] = r++;
    }
    for (size_t sb = 0; sb < nsub; ++sb)
      for (size_t v = 0; v < nt; ++v)
        memcpy(blk + (sb * nt + (size_t)L->cpu->tiprank[v]) * FITCL__LANE,
               L->tips + v * L->npx + sb * FITCL__LANE, FITCL__LANE);
    free(L->tips);
    L->tips = blk;
  }
  const size_t n = scratch_doubles(L);
  for (unsigned w = 0; w < L->cpu->nworkers; ++w) {
    /* 64-byte alignment keeps each lane vector in one cache line. */
    if (posix_memalign((void **)&L->cpu->scratch[w], 64, n * sizeof(double)) != 0) {
      L->cpu->scratch[w] = NULL;
      return fitcl__fail(L->ctx, FITCL_ERR_NOMEM, "likelihood: out of host memory (%zu MB scratch)",
                         n * sizeof(double) >> 20);
    }
  }
  return FITCL_OK;
}

/* ---- transition matrices ------------------------------------------------ */

typedef struct pm_job {
  fitcl_lik *L;
  int deriv;
  size_t nrec;
} pm_job;

#define PM_CHUNK 2048

static void pm_task(void *arg, size_t task, unsigned worker) {
  (void)worker;
  pm_job *j = arg;
  fitcl_lik *L = j->L;
  const size_t nn = (size_t)L->nnodes;
  size_t end = (task + 1) * PM_CHUNK;
  if (end > j->nrec) end = j->nrec;
  for (size_t r = task * PM_CHUNK; r < end; ++r) {
    const size_t s = r / nn, v = r % nn;
    double *out = L->pm + r * FITCL_GL_PREC;
    if (j->deriv) fitcl_gl_pmat_deriv(L->set_a[s], L->set_b[s], L->brlen[v], out);
    else fitcl_gl_pmat(L->set_a[s], L->set_b[s], L->brlen[v], out);
  }
}

/* ---- pruning ------------------------------------------------------------ */

/* Tip partial of state d (0 absent, 1 present, 2 missing) by polynomials
 * exact on {0, 1, 2}, with no comparison, so the lane loops vectorise:
 * in1 = d (3 - d) / 2 gives 0, 1, 1 and in0 = (d - 1)^2 gives 1, 0, 1. */
static inline __attribute__((always_inline)) void tip_ind(double d, double *in0, double *in1) {
  *in1 = 0.5 * d * (3.0 - d);
  *in0 = (d - 1.0) * (d - 1.0);
}


FITCL__CLONES
static void block_task(void *arg, size_t b, unsigned worker) {
  fitcl_lik *L = arg;
  const int K = L->K, nn = L->nnodes, ntips = L->ntips, nint = L->nint;
  const int g = L->block_group[b];
  const int want_grad = L->cpu->want_grad;
  const size_t nc = L->ncomp;
  const int *cs = L->child_start, *ch = L->child;
  const double *pmg = L->pm + (size_t)g * K * nn * FITCL_GL_PREC;
  const size_t kstride = 2 * FITCL__LANE;        /* one category of one node */
  const size_t nstride = (size_t)K * kstride;    /* one node */
  double *In = L->cpu->scratch[worker];
  double *Out = In + (size_t)nint * nstride;
  double *Sb = Out + (size_t)nint * nstride;
  double *Gb = Sb + (size_t)L->maxdeg * nstride;
  double *D = Gb + nstride;                       /* [ncomp][LANE] */
  double *ks = D + (nc + 4) * FITCL__LANE;        /* [ncomp] sum, [ncomp] compensation */
  const double pi1 = L->pi1[g], pi0 = 1.0 - pi1;
  const double dpi = L->root_grad ? pi0 * pi1 : 0.0;
  const double invK = 1.0 / K;
  const int *tiprank = L->cpu->tiprank;

  memset(ks, 0, 2 * nc * sizeof(double));
  for (size_t sub = 0; sub < FITCL_REDUCE_BLOCK / FITCL__LANE; ++sub) {
    const size_t p0 = b * FITCL_REDUCE_BLOCK + sub * FITCL__LANE;
    const uint8_t *tipsub = L->tips + (p0 / FITCL__LANE) * (size_t)ntips * FITCL__LANE;
    int scale[FITCL__LANE];
    FITCL__LANES(l) scale[l] = 0;

    /* Postorder: In_u(x) = prod over children of sum_y P(x,y) In_child(y). */
    for (int oi = 0; oi < nint; ++oi) {
      const int u = L->ops[oi];
      double *Iu = In + (size_t)(u - ntips) * nstride;
      for (int j = cs[u]; j < cs[u + 1]; ++j) {
        const int v = ch[j];
        const int first = (j == cs[u]);
        for (int c = 0; c < K; ++c) {
          /* A local copy: the compiler then knows the stores below cannot
           * change it, keeps it in registers and vectorises the lane loops. */
          double P[FITCL_GL_PREC];
          memcpy(P, pmg + ((size_t)c * nn + v) * FITCL_GL_PREC, 4 * sizeof(double)); /* probabilities only */
          double *o0 = Iu + c * kstride, *o1 = o0 + FITCL__LANE;
          double s0[FITCL__LANE], s1[FITCL__LANE];
          if (v < ntips) {
            const uint8_t *ts = tipsub + (size_t)tiprank[v] * FITCL__LANE;
            FITCL__LANES(l) {
              double i0, i1;
              tip_ind((double)ts[l], &i0, &i1);
              s0[l] = fitcl_gl_s0(P, i0, i1);
              s1[l] = fitcl_gl_s1(P, i0, i1);
            }
          } else {
            const double *i0 = In + (size_t)(v - ntips) * nstride + c * kstride, *i1 = i0 + FITCL__LANE;
            FITCL__LANES(l) {
              s0[l] = fitcl_gl_s0(P, i0[l], i1[l]);
              s1[l] = fitcl_gl_s1(P, i0[l], i1[l]);
            }
          }
          if (first) {
            FITCL__LANES(l) { o0[l] = s0[l]; o1[l] = s1[l]; }
          } else {
            FITCL__LANES(l) { o0[l] *= s0[l]; o1[l] *= s1[l]; }
          }
        }
      }
      /* Rescale only lanes whose largest entry fell below 2^-256. */
      double m[FITCL__LANE];
      FITCL__LANES(l) m[l] = 0.0;
      for (int c = 0; c < K; ++c) {
        const double *o0 = Iu + c * kstride, *o1 = o0 + FITCL__LANE;
        FITCL__LANES(l) {
          const double a = o0[l] > o1[l] ? o0[l] : o1[l];
          m[l] = m[l] > a ? m[l] : a;
        }
      }
      int any = 0;
      FITCL__LANES(l) any |= m[l] < FITCL_GL_SCALE_LOW;
      if (any) {
        double f[FITCL__LANE];
        FITCL__LANES(l) {
          const int low = m[l] < FITCL_GL_SCALE_LOW;
          f[l] = low ? FITCL_GL_SCALE_UP : 1.0;
          scale[l] += low;
        }
        for (int c = 0; c < K; ++c)
          FITCL__LANES(l) {
            Iu[c * kstride + l] *= f[l];
            Iu[c * kstride + FITCL__LANE + l] *= f[l];
          }
      }
    }

    /* Root. */
    const double *Ir = In + (size_t)(nn - 1 - ntips) * nstride;
    double lsum[FITCL__LANE], rnum[FITCL__LANE], ll[FITCL__LANE], gw[FITCL__LANE];
    FITCL__LANES(l) lsum[l] = rnum[l] = 0.0;
    for (int c = 0; c < K; ++c)
      FITCL__LANES(l) {
        const double i0 = Ir[c * kstride + l], i1 = Ir[c * kstride + FITCL__LANE + l];
        lsum[l] += pi0 * i0 + pi1 * i1;
        rnum[l] += i1 - i0;
      }
    FITCL__LANES(l) {
      const size_t p = p0 + l;
      ll[l] = log(lsum[l] * invK) - scale[l] * FITCL_GL_LN2_SCALE;
      L->pat_ll[p] = ll[l];
      const double w = L->weight[p];
      double wll;
      if (L->kind[p] == FITCL__PAT_ABSENT) {
        const double q = -expm1(ll[l]); /* 1 - P(all absent) */
        wll = -w * log(q);
        gw[l] = w * exp(ll[l]) / q;
      } else {
        wll = (w != 0.0) ? w * ll[l] : 0.0;
        gw[l] = w;
      }
      fitcl_kahan_add(&ks[FITCL__LC_LL], &ks[nc + FITCL__LC_LL], wll);
    }
    if (!want_grad) continue;

    /* Preorder (outside) pass.  For the branch above v, with G_v the
     * outside vector at its top and In_v the partial at its bottom,
     * d log L / d param = sum G dP In / sum G P In; both sums share the
     * pattern's scale factors, so only the ratio matters and the outside
     * vectors may be rescaled freely. */
    memset(D, 0, nc * FITCL__LANE * sizeof(double));
    double *Dg = D + FITCL__LC_G * FITCL__LANE, *Dl = D + FITCL__LC_L * FITCL__LANE;
    double *Dr = D + FITCL__LC_R * FITCL__LANE;
    double *Dt = Dr + (size_t)K * FITCL__LANE;
    FITCL__LANES(l) {
      const double r = dpi * rnum[l] / lsum[l];
      Dg[l] += r;
      Dl[l] -= r;
    }
    double *Or = Out + (size_t)(nn - 1 - ntips) * nstride;
    for (int c = 0; c < K; ++c)
      FITCL__LANES(l) {
        Or[c * kstride + l] = pi0;
        Or[c * kstride + FITCL__LANE + l] = pi1;
      }
    for (int oi = nint - 1; oi >= 0; --oi) {
      const int u = L->ops[oi];
      const double *Ou = Out + (size_t)(u - ntips) * nstride;
      const int deg = cs[u + 1] - cs[u];
      /* Children's contributions S_v(x), recomputed from their partials. */
      for (int k = 0; k < deg; ++k) {
        const int v = ch[cs[u] + k];
        for (int c = 0; c < K; ++c) {
          /* A local copy: the compiler then knows the stores below cannot
           * change it, keeps it in registers and vectorises the lane loops. */
          double P[FITCL_GL_PREC];
          memcpy(P, pmg + ((size_t)c * nn + v) * FITCL_GL_PREC, 4 * sizeof(double)); /* probabilities only */
          double *s0 = Sb + (size_t)k * nstride + c * kstride, *s1 = s0 + FITCL__LANE;
          if (v < ntips) {
            const uint8_t *ts = tipsub + (size_t)tiprank[v] * FITCL__LANE;
            FITCL__LANES(l) {
              double i0, i1;
              tip_ind((double)ts[l], &i0, &i1);
              s0[l] = fitcl_gl_s0(P, i0, i1);
              s1[l] = fitcl_gl_s1(P, i0, i1);
            }
          } else {
            const double *i0 = In + (size_t)(v - ntips) * nstride + c * kstride, *i1 = i0 + FITCL__LANE;
            FITCL__LANES(l) {
              s0[l] = fitcl_gl_s0(P, i0[l], i1[l]);
              s1[l] = fitcl_gl_s1(P, i0[l], i1[l]);
            }
          }
        }
      }
      for (int k = 0; k < deg; ++k) {
        const int v = ch[cs[u] + k];
        /* G_v = Out_u times the other children's contributions, and the
         * denominator sum G_v(x) S_v(x) in the same pass. */
        double den[FITCL__LANE], nu[FITCL__LANE], nw[FITCL__LANE], nt[FITCL__LANE], mm[FITCL__LANE];
        FITCL__LANES(l) den[l] = nu[l] = nw[l] = nt[l] = mm[l] = 0.0;
        for (int c = 0; c < K; ++c) {
          double *g0 = Gb + c * kstride, *g1 = g0 + FITCL__LANE;
          const double *ou0 = Ou + c * kstride, *ou1 = ou0 + FITCL__LANE;
          FITCL__LANES(l) { g0[l] = ou0[l]; g1[l] = ou1[l]; }
          for (int k2 = 0; k2 < deg; ++k2) {
            if (k2 == k) continue;
            const double *s0 = Sb + (size_t)k2 * nstride + c * kstride, *s1 = s0 + FITCL__LANE;
            FITCL__LANES(l) { g0[l] *= s0[l]; g1[l] *= s1[l]; }
          }
          const double *s0 = Sb + (size_t)k * nstride + c * kstride, *s1 = s0 + FITCL__LANE;
          FITCL__LANES(l) den[l] += g0[l] * s0[l] + g1[l] * s1[l];
        }
        double inv[FITCL__LANE];
        FITCL__LANES(l) inv[l] = 1.0 / den[l];
        for (int c = 0; c < K; ++c) {
          /* A local copy: the compiler then knows the stores below cannot
           * change it, keeps it in registers and vectorises the lane loops. */
          double P[FITCL_GL_PREC];
          memcpy(P, pmg + ((size_t)c * nn + v) * FITCL_GL_PREC, sizeof P);
          const double *g0 = Gb + c * kstride, *g1 = g0 + FITCL__LANE;
          double in0[FITCL__LANE], in1[FITCL__LANE];
          if (v < ntips) {
            const uint8_t *ts = tipsub + (size_t)tiprank[v] * FITCL__LANE;
            FITCL__LANES(l) tip_ind((double)ts[l], &in0[l], &in1[l]);
          } else {
            const double *i0 = In + (size_t)(v - ntips) * nstride + c * kstride;
            FITCL__LANES(l) {
              in0[l] = i0[l];
              in1[l] = i0[FITCL__LANE + l];
            }
          }
          double *dr = Dr + (size_t)c * FITCL__LANE;
          FITCL__LANES(l) {
            const double cu = fitcl_gl_dcontract(P[FITCL_GL_U01], P[FITCL_GL_U10], g0[l], g1[l], in0[l], in1[l]);
            const double cw = fitcl_gl_dcontract(P[FITCL_GL_W01], P[FITCL_GL_W10], g0[l], g1[l], in0[l], in1[l]);
            nu[l] += cu;
            nw[l] += cw;
            dr[l] += (cu + cw) * inv[l];
          }
          if (L->branch_grad)
            FITCL__LANES(l)
              nt[l] += fitcl_gl_dcontract(P[FITCL_GL_T01], P[FITCL_GL_T10], g0[l], g1[l], in0[l], in1[l]);
          if (v >= ntips) {
            /* Out_v(y) = sum_x G(x) P(x,y). */
            double *ov0 = Out + (size_t)(v - ntips) * nstride + c * kstride, *ov1 = ov0 + FITCL__LANE;
            FITCL__LANES(l) {
              const double o0 = g0[l] * P[FITCL_GL_P00] + g1[l] * P[FITCL_GL_P10];
              const double o1 = g0[l] * P[FITCL_GL_P01] + g1[l] * P[FITCL_GL_P11];
              ov0[l] = o0;
              ov1[l] = o1;
              const double mx = o0 > o1 ? o0 : o1;
              mm[l] = mm[l] > mx ? mm[l] : mx;
            }
          }
        }
        FITCL__LANES(l) {
          Dg[l] += nu[l] * inv[l];
          Dl[l] += nw[l] * inv[l];
        }
        if (L->branch_grad)
          FITCL__LANES(l) Dt[(size_t)v * FITCL__LANE + l] = nt[l] * inv[l];
        if (v >= ntips) {
          double *Ov = Out + (size_t)(v - ntips) * nstride;
          int any = 0;
          FITCL__LANES(l) any |= mm[l] < FITCL_GL_SCALE_LOW;
          if (any)
            for (int c = 0; c < K; ++c)
              FITCL__LANES(l) {
                const double f = mm[l] < FITCL_GL_SCALE_LOW ? FITCL_GL_SCALE_UP : 1.0;
                Ov[c * kstride + l] *= f;
                Ov[c * kstride + FITCL__LANE + l] *= f;
              }
        }
      }
    }
    /* Weighted, in pattern order, per component. */
    FITCL__LANES(l) {
      if (gw[l] == 0.0) continue; /* adds exact zeros: the sums are unchanged */
      for (size_t q = 1; q < nc; ++q) fitcl_kahan_add(&ks[q], &ks[nc + q], gw[l] * D[q * FITCL__LANE + l]);
    }
  }
  double *row = L->rows + b * nc;
  for (size_t q = 0; q < nc; ++q) row[q] = ks[q] + ks[nc + q];
  if (!want_grad)
    for (size_t q = 1; q < nc; ++q) row[q] = 0.0;
}

fitcl_status fitcl__lik_cpu_eval(fitcl_lik *L, int want_grad) {
  fitcl__pool *pool = fitcl__ctx_pool(L->ctx);
  pm_job j = {L, want_grad, (size_t)L->G * L->K * L->nnodes};
  fitcl__pool_run(pool, (j.nrec + PM_CHUNK - 1) / PM_CHUNK, pm_task, &j);
  L->cpu->want_grad = want_grad;
  fitcl__pool_run(pool, L->nblocks, block_task, L);
  return FITCL_OK;
}

/* ---- batched transition matrices (fitcl_gl_pmatrices) ----------------- */

typedef struct pmb_job {
  size_t n;
  const double *a, *b, *t;
  double *p, *d;
} pmb_job;

#define PMB_CHUNK 4096

FITCL__CLONES
static void pmb_task(void *arg, size_t task, unsigned worker) {
  (void)worker;
  const pmb_job *j = arg;
  size_t end = (task + 1) * PMB_CHUNK;
  if (end > j->n) end = j->n;
  if (!j->d) {
    /* Local restrict pointers: the stores cannot change the inputs, so the
     * loop vectorises. */
    const double *restrict a = j->a, *restrict b = j->b, *restrict t = j->t;
    double *restrict p = j->p;
    for (size_t i = task * PMB_CHUNK; i < end; ++i) fitcl_gl_pmat(a[i], b[i], t[i], p + 4 * i);
    return;
  }
  for (size_t i = task * PMB_CHUNK; i < end; ++i) {
    double r[FITCL_GL_PREC];
    fitcl_gl_pmat_deriv(j->a[i], j->b[i], j->t[i], r);
    for (int k = 0; k < 4; ++k) j->p[4 * i + k] = r[k];
    for (int k = 0; k < 6; ++k) j->d[6 * i + k] = r[4 + k];
  }
}

fitcl_status fitcl__gl_pmatrices_cpu(fitcl_context *ctx, size_t n, const double *a, const double *b,
                                     const double *t, double *p, double *deriv) {
  pmb_job j = {n, a, b, t, p, deriv};
  fitcl__pool_run(fitcl__ctx_pool(ctx), (n + PMB_CHUNK - 1) / PMB_CHUNK, pmb_task, &j);
  return FITCL_OK;
}
