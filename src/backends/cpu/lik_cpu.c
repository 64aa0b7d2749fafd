/* Gain/loss likelihood on the pthreads backend.
 *
 * One pool task per reduction block of FITCL_REDUCE_BLOCK patterns; inside a
 * task, sub-blocks of FITCL__LANE patterns go through the whole tree with
 * their partials laid out [node][category][state][lane], so every inner loop
 * runs over the lanes with unit stride and the compiler vectorises it.  A
 * worker's partials for a sub-block (all internal nodes) stay in its own
 * scratch, allocated once per handle: nothing is allocated per evaluation.
 * Each task writes its own row of block partial sums, formed in pattern
 * order with compensation, so results do not depend on the thread count.
 * The gradient runs, per sub-block and while its partials are still in
 * cache, an outside pass with normalised outside vectors (see grad_pass)
 * that accumulates every derivative on the way down.  Both passes are loops
 * over the handle's schedule; every formula is a per-lane function of
 * common/pruning.h, shared with the OpenCL kernel. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/compat.h"
#include "common/gainloss.h"
#include "common/ksum.h"
#include "common/pruning.h"
#include "core/context.h"
#include "core/pool.h"
#include "core/util.h"
#include "kernels/lik.h"
#include "backends/cpu/cpu.h"

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define LIK_SSE2 1
#else
#define LIK_SSE2 0
#endif

/* 16 lanes: two AVX-512 vectors per partial, and a sub-block's tip states
 * fit in two 16-bit masks per tip (see the tip layout in create). */
#define FITCL__LANE 16
_Static_assert(FITCL__LANE <= 16, "tip lane masks are 16 bits");

/* A loop over the lanes of a sub-block.  The lanes never depend on each
 * other (ivdep), and the loop must stay a loop (unroll 1): fully unrolled
 * into 8 scalar statements, GCC no longer vectorises it. */
#if defined(__GNUC__) && !defined(__clang__)
#define FITCL__LANES(l) _Pragma("GCC ivdep") _Pragma("GCC unroll 1") for (int l = 0; l < FITCL__LANE; ++l)
#else
#define FITCL__LANES(l) for (int l = 0; l < FITCL__LANE; ++l)
#endif

struct fitcl__lik_cpu {
  unsigned nworkers;
  double **scratch;
  int want_grad;
  int *tiprank; /* [ntips] position of each tip in traversal order */
  uint16_t *tipbits; /* [sub-block][tip rank][2] lane masks (see create) */
  int *post;    /* [nint] the schedule's steps by node index (see block_run) */
  int *slot;    /* [nnodes] each branch's place in the postorder's walk (-1: the root) */
  double *pms;  /* [G * K][nnodes - 1][4] the transition probabilities in that order */
};

/* This backend's state of a handle. */
static inline struct fitcl__lik_cpu *cpu_of(const fitcl_lik *L) { return L->impl; }

void fitcl__lik_cpu_destroy(fitcl_lik *L) {
  if (!L || !cpu_of(L)) return;
  for (unsigned w = 0; w < cpu_of(L)->nworkers; ++w) free(cpu_of(L)->scratch[w]);
  free(cpu_of(L)->scratch);
  free(cpu_of(L)->tiprank);
  free(cpu_of(L)->tipbits);
  free(cpu_of(L)->post);
  free(cpu_of(L)->slot);
  free(cpu_of(L)->pms);
  FITCL_FREE(L->impl);
}

/* Per-worker scratch, in doubles:
 *   In, Out   [nint][K][2][LANE]  partials and normalised outside vectors
 *   Sb        [maxdeg][K][2][LANE] child contributions (multifurcations)
 *   Fs        [nint][LANE]        rescaling factors of the postorder
 *   D         [ncomp + 4][LANE]   per-lane derivatives
 *   T         [LANE][ncomp]       the same, weighted and transposed
 *   NU, NW    [K][LANE]           per-category sums over branches
 *   ks        [2 ncomp]           compensated sums
 *   rescaled  [nint] ints         internal nodes that rescaled, this sub-block
 *   flags     nint bytes          whether a node rescaled any lane (kept
 *                                 all zero between sub-blocks) */
static size_t scratch_doubles(const fitcl_lik *L) {
  const size_t part = (size_t)L->nint * (size_t)L->K * 2 * FITCL__LANE;
  return 2 * part + (size_t)L->maxdeg * (size_t)L->K * 2 * FITCL__LANE +
         (size_t)L->nint * FITCL__LANE +
         (2 * L->ncomp + 4) * FITCL__LANE + 2 * (size_t)L->K * FITCL__LANE +
         2 * L->ncomp + ((size_t)L->nint * (sizeof(int) + 1) + sizeof(double) - 1) / sizeof(double);
}

/* The parts of a worker's scratch (see scratch_doubles). */
typedef struct scratch_view {
  double *In, *Out, *Sb, *Fs, *D, *T, *NU, *NW, *ks;
  int *rescaled;
  unsigned char *flags;
} scratch_view;

static inline __attribute__((always_inline)) scratch_view scratch_parts(const fitcl_lik *L,
                                                                        double *base) {
  const size_t nstride = (size_t)L->K * 2 * FITCL__LANE;
  scratch_view v;
  v.In = base;
  v.Out = v.In + (size_t)L->nint * nstride;
  v.Sb = v.Out + (size_t)L->nint * nstride;
  v.Fs = v.Sb + (size_t)L->maxdeg * nstride;
  v.D = v.Fs + (size_t)L->nint * FITCL__LANE;
  v.T = v.D + (L->ncomp + 4) * FITCL__LANE;
  v.NU = v.T + L->ncomp * FITCL__LANE;
  v.NW = v.NU + (size_t)L->K * FITCL__LANE;
  v.ks = v.NW + (size_t)L->K * FITCL__LANE;
  v.rescaled = (int *)(v.ks + 2 * L->ncomp);
  v.flags = (unsigned char *)(v.rescaled + L->nint);
  return v;
}

/* The tip bit masks of SUB_TILE sub-blocks (one task), all tips, read
 * straight from the data's patterns (pattern-major): a sub-block's
 * FITCL__LANE pattern rows stay in cache while its tips are walked, so no
 * tip-major copy of the states is ever made.  Each task writes its own
 * sub-blocks' rows. */
enum { SUB_TILE = 64 };
/* Tiles per run when the patterns are handed over: 16,384 patterns, 40 MB
 * of rows at 10^4 tips. */
enum { RELEASE_TILES = 16 };

#if LIK_SSE2
/* 16 x 16 bytes transposed in registers: in, r[l] holds 16 bytes of lane
 * l's row; out, r[b] holds byte b of every lane (lane l in byte l). */
static inline void transpose16(__m128i r[16]) {
  __m128i t[16];
  for (int i = 0; i < 8; ++i) {
    t[i] = _mm_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
    t[i + 8] = _mm_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
  }
  for (int h = 0; h < 2; ++h)
    for (int i = 0; i < 4; ++i) {
      r[8 * h + i] = _mm_unpacklo_epi16(t[8 * h + 2 * i], t[8 * h + 2 * i + 1]);
      r[8 * h + i + 4] = _mm_unpackhi_epi16(t[8 * h + 2 * i], t[8 * h + 2 * i + 1]);
    }
  for (int h = 0; h < 4; ++h)
    for (int i = 0; i < 2; ++i) {
      t[4 * h + i] = _mm_unpacklo_epi32(r[4 * h + 2 * i], r[4 * h + 2 * i + 1]);
      t[4 * h + i + 2] = _mm_unpackhi_epi32(r[4 * h + 2 * i], r[4 * h + 2 * i + 1]);
    }
  for (int h = 0; h < 8; ++h) {
    r[2 * h] = _mm_unpacklo_epi64(t[2 * h], t[2 * h + 1]);
    r[2 * h + 1] = _mm_unpackhi_epi64(t[2 * h], t[2 * h + 1]);
  }
}

/* The masks of the tips in the rows' whole 16-byte pieces (64 tips each):
 * a piece of every live row is transposed so that one byte of the 16 lanes
 * sits in one register, and each of its four cells' low bit (present) and
 * high bit (missing) become a 16-lane mask by one movemask.  tip0 = not
 * present or missing, tip1 = present or missing (fitcl_prune_tip0/1 for
 * every 2-bit value).  Returns the first tip left to the scalar loop. */
static size_t tipbits_sse2(const uint8_t *const *row, const int *lane, int nlive, size_t stride,
                           size_t nt, unsigned f0, unsigned f1, const int *rank, uint16_t *e) {
  unsigned live = 0;
  for (int k = 0; k < nlive; ++k) live |= 1u << lane[k];
  size_t o = 0;
  for (; o + 16 <= stride && 4 * (o + 16) <= nt; o += 16) {
    __m128i r[16];
    for (int l = 0; l < 16; ++l) r[l] = _mm_setzero_si128();
    for (int k = 0; k < nlive; ++k) r[lane[k]] = _mm_loadu_si128((const __m128i *)(row[k] + o));
    transpose16(r);
    for (int b = 0; b < 16; ++b) {
      const int *rk = rank + 4 * (o + (size_t)b);
      /* Cell q's low bit shifted to the top of its byte, then its high bit. */
#define TIP_MASKS(q)                                                                          \
  do {                                                                                        \
    const unsigned lo = (unsigned)_mm_movemask_epi8(_mm_slli_epi64(r[b], 7 - 2 * (q)));       \
    const unsigned hi = (unsigned)_mm_movemask_epi8(_mm_slli_epi64(r[b], 6 - 2 * (q)));       \
    uint16_t *d = e + 2 * (size_t)rk[q];                                                      \
    d[0] = (uint16_t)(((~lo | hi) & live) | f0);                                              \
    d[1] = (uint16_t)(lo | hi | f1);                                                          \
  } while (0)
      TIP_MASKS(0);
      TIP_MASKS(1);
      TIP_MASKS(2);
      TIP_MASKS(3);
#undef TIP_MASKS
    }
  }
  return 4 * o;
}
#endif

typedef struct tipbits_job {
  fitcl_lik *L;
  uint16_t *blk;
  size_t first; /* task 0's tile */
} tipbits_job;

static void tipbits_tile(void *arg, size_t task, unsigned worker) {
  (void)worker;
  const tipbits_job *j = arg;
  const fitcl_lik *L = j->L;
  const fitcl__lik_patterns *pat = L->pat_view;
  const size_t nt = (size_t)L->ntips, nsub = L->npx / FITCL__LANE;
  const size_t s0 = (j->first + task) * SUB_TILE, s1 = nsub - s0 < SUB_TILE ? nsub : s0 + SUB_TILE;
  const int *rank = cpu_of(L)->tiprank;
  for (size_t sb = s0; sb < s1; ++sb) {
    /* Lanes without a data pattern hold the same state at every tip:
     * the group's all-absent pattern, or padding (all missing). */
    size_t src[FITCL__LANE];
    int nlive = 0, lane[FITCL__LANE];
    unsigned f0 = 0, f1 = 0;
    for (int l = 0; l < FITCL__LANE; ++l) {
      const size_t i = sb * FITCL__LANE + (size_t)l;
      if (L->src[i] != SIZE_MAX) {
        src[nlive] = L->src[i];
        lane[nlive++] = l;
        continue;
      }
      const int s = L->kind[i] == FITCL__PAT_ABSENT ? FITCL__ABSENT : FITCL__MISSING;
      f0 |= (unsigned)fitcl_prune_tip0(s) << l;
      f1 |= (unsigned)fitcl_prune_tip1(s) << l;
    }
    uint16_t *e = j->blk + 2 * sb * nt;
    if (pat->packed) {
      /* Four tips a byte of each row. */
      const uint8_t *row[FITCL__LANE];
      for (int k = 0; k < nlive; ++k) row[k] = pat->packed + src[k] * pat->stride;
      size_t v4 = 0;
#if LIK_SSE2
      v4 = tipbits_sse2(row, lane, nlive, pat->stride, nt, f0, f1, rank, e);
#endif
      for (; v4 < nt; v4 += 4) {
        unsigned b0[4] = {f0, f0, f0, f0}, b1[4] = {f1, f1, f1, f1};
        for (int k = 0; k < nlive; ++k) {
          const unsigned byte = row[k][v4 >> 2];
          for (int q = 0; q < 4; ++q) {
            const int s = (int)(byte >> (2 * q)) & 3;
            b0[q] |= (unsigned)fitcl_prune_tip0(s) << lane[k];
            b1[q] |= (unsigned)fitcl_prune_tip1(s) << lane[k];
          }
        }
        for (size_t q = 0; q < 4 && v4 + q < nt; ++q) {
          e[2 * (size_t)rank[v4 + q]] = (uint16_t)b0[q];
          e[2 * (size_t)rank[v4 + q] + 1] = (uint16_t)b1[q];
        }
      }
    } else {
      const uint8_t *row[FITCL__LANE];
      for (int k = 0; k < nlive; ++k) row[k] = pat->state + src[k] * (size_t)pat->ntaxa;
      for (size_t v = 0; v < nt; ++v) {
        unsigned b0 = f0, b1 = f1;
        for (int k = 0; k < nlive; ++k) {
          b0 |= (unsigned)fitcl_prune_tip0(row[k][v]) << lane[k];
          b1 |= (unsigned)fitcl_prune_tip1(row[k][v]) << lane[k];
        }
        e[2 * (size_t)rank[v]] = (uint16_t)b0;
        e[2 * (size_t)rank[v] + 1] = (uint16_t)b1;
      }
    }
  }
}

fitcl_status fitcl__lik_cpu_create(fitcl_lik *L) {
  L->impl = calloc(1, sizeof(struct fitcl__lik_cpu));
  if (!cpu_of(L)) return fitcl__fail(L->ctx, FITCL_ERR_NOMEM, "likelihood: out of host memory");
  cpu_of(L)->nworkers = fitcl__pool_size(fitcl__ctx_pool(L->ctx));
  if (cpu_of(L)->nworkers < 1) cpu_of(L)->nworkers = 1;
  cpu_of(L)->scratch = calloc(cpu_of(L)->nworkers, sizeof(double *));
  if (!cpu_of(L)->scratch) return fitcl__fail(L->ctx, FITCL_ERR_NOMEM, "likelihood: out of host memory");
  /* Tip states rearranged for the traversal: [sub-block][tip in the order
   * the schedule reads them], so each sub-block streams its tips from
   * one contiguous range, in order (the [tip][pattern] layout suits
   * OpenCL's coalescing instead).  Each entry is two FITCL__LANE-bit masks
   * of the lanes whose tip partial is 1 in state 0 (absent or missing) and
   * in state 1 (present or missing): a quarter of the bytes, and the lanes
   * are expanded in vector registers (widened from bytes, GCC goes through
   * the stack in pieces that a full-width load then waits for). */
  {
    const size_t nt = (size_t)L->ntips, nsub = L->npx / FITCL__LANE;
    cpu_of(L)->tiprank = malloc(sizeof(int) * nt);
    uint16_t *blk = malloc(sizeof(uint16_t) * 2 * nt * nsub);
    if (!blk || !cpu_of(L)->tiprank) {
      free(blk);
      return fitcl__fail(L->ctx, FITCL_ERR_NOMEM, "likelihood: out of host memory");
    }
    int r = 0;
    for (int j = 0; j < L->nnodes - 1; ++j) /* the children of all steps, in step order */
      if (L->sched_child[j] < L->ntips) cpu_of(L)->tiprank[L->sched_child[j]] = r++;
    tipbits_job j = {L, blk, 0};
    const size_t ntiles = (nsub + SUB_TILE - 1) / SUB_TILE;
    if (!fitcl__lik_release(L, L->npx)) {
      fitcl__pool_run(fitcl__ctx_pool(L->ctx), ntiles, tipbits_tile, &j);
    } else {
      /* Patterns handed over: last tiles first, giving back the rows read
       * after each run, so the masks replace the rows as they are made. */
      for (size_t t1 = ntiles; t1 > 0; t1 = j.first) {
        j.first = t1 > RELEASE_TILES ? t1 - RELEASE_TILES : 0;
        fitcl__pool_run(fitcl__ctx_pool(L->ctx), t1 - j.first, tipbits_tile, &j);
        (void)fitcl__lik_release(L, j.first * SUB_TILE * FITCL__LANE);
      }
    }
    cpu_of(L)->tipbits = blk;
  }
  /* The postorder (block_run) walks the steps by node index, and reads
   * each branch's four probabilities in the order it meets them, from a
   * copy laid out that way (pm_task): a quarter of the full records'
   * bytes, streamed, instead of a record per branch scattered by node
   * number (with the partials, the records no longer fit in a core's cache
   * on a large tree). */
  {
    const size_t nn = (size_t)L->nnodes;
    int *post = cpu_of(L)->post = malloc(sizeof(int) * (size_t)(L->nint > 0 ? L->nint : 1));
    int *slot = cpu_of(L)->slot = malloc(sizeof(int) * nn);
    cpu_of(L)->pms = malloc(sizeof(double) * 4 * (size_t)L->G * (size_t)L->K * (nn - 1));
    if (!post || !slot || !cpu_of(L)->pms)
      return fitcl__fail(L->ctx, FITCL_ERR_NOMEM, "likelihood: out of host memory");
    for (int si = 0; si < L->nint; ++si) post[L->sched[si].node - L->ntips] = si;
    for (size_t v = 0; v < nn; ++v) slot[v] = -1;
    int at = 0;
    for (int k = 0; k < L->nint; ++k) {
      const fitcl_prune_step st = L->sched[post[k]];
      for (int j = 0; j < st.nchild; ++j) slot[L->sched_child[st.first + j]] = at++;
    }
  }
  const size_t n = scratch_doubles(L);
  for (unsigned w = 0; w < cpu_of(L)->nworkers; ++w) {
    /* 64-byte alignment keeps each lane vector in one cache line. */
    if (posix_memalign((void **)&cpu_of(L)->scratch[w], 64, n * sizeof(double)) != 0) {
      cpu_of(L)->scratch[w] = NULL;
      return fitcl__fail(L->ctx, FITCL_ERR_NOMEM, "likelihood: out of host memory (%zu MB scratch)",
                         n * sizeof(double) >> 20);
    }
    memset(cpu_of(L)->scratch[w], 0, n * sizeof(double)); /* the rescaling flags start clear */
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
    const int k = cpu_of(L)->slot[v];
    if (k >= 0) memcpy(cpu_of(L)->pms + (s * (nn - 1) + (size_t)k) * 4, out, 4 * sizeof(double));
  }
}

/* ---- pruning ------------------------------------------------------------ */

/* Lane l of a tip mask as 0.0 or 1.0 (see the tip layout in create). */
static inline __attribute__((always_inline)) double tip_bit(unsigned mask, int l) {
  return (double)(int)((mask >> l) & 1u);
}

/* Partial of child v in category c for the lanes of a sub-block ([2][LANE]):
 * the stored partial of an internal node in place, or a tip's lanes
 * expanded into buf. */
static inline __attribute__((always_inline)) const double *child_ptr(const double *In, size_t nstride,
                                                           size_t kstride, int ntips,
                                                           const uint16_t *tipsub,
                                                           const int *tiprank, int v, int c,
                                                           double *buf) {
  if (v >= ntips) return In + (size_t)(v - ntips) * nstride + c * kstride;
  const unsigned b0 = tipsub[2 * tiprank[v]], b1 = tipsub[2 * tiprank[v] + 1];
  FITCL__LANES(l) {
    buf[l] = tip_bit(b0, l);
    buf[FITCL__LANE + l] = tip_bit(b1, l);
  }
  return buf;
}

/* The same partial copied into i0 and i1 (used at multifurcations). */
static inline __attribute__((always_inline)) void child_in(const double *In, size_t nstride,
                                                           size_t kstride, int ntips,
                                                           const uint16_t *tipsub,
                                                           const int *tiprank, int v, int c,
                                                           double *i0, double *i1) {
  if (v < ntips) {
    const unsigned b0 = tipsub[2 * tiprank[v]], b1 = tipsub[2 * tiprank[v] + 1];
    FITCL__LANES(l) {
      i0[l] = tip_bit(b0, l);
      i1[l] = tip_bit(b1, l);
    }
  } else {
    const double *p = In + (size_t)(v - ntips) * nstride + c * kstride;
    FITCL__LANES(l) {
      i0[l] = p[l];
      i1[l] = p[FITCL__LANE + l];
    }
  }
}

/* The outside step at a binary node u in category c for the lanes of a
 * sub-block (fitcl_prune_binary per lane): both children's G, the
 * log u / log w terms into nu and nw, the t terms into ta and tb (set at
 * the first category, added after), and the outside vectors of internal
 * children.  bg, wa and wb are constants at each call: bg adds the
 * branch-length terms, wa and wb say whether a and b are internal nodes,
 * whose outside vectors are written; what a variant does not store, the
 * compiler does not compute. */
static inline __attribute__((always_inline)) void binary_node(
    const double *restrict Pa, const double *restrict Pb, const double *restrict a0,
    const double *restrict a1, const double *restrict b0, const double *restrict b1,
    const double *restrict o0, const double *restrict o1, double *restrict nu,
    double *restrict nw, double *restrict oa0, double *restrict oa1, double *restrict ob0,
    double *restrict ob1, const int bg, const int wa, const int wb, int first, double *restrict ta,
    double *restrict tb) {
  FITCL__LANES(l) {
    double du, dw, xa, xb, pa0, pa1, pb0, pb1;
    fitcl_prune_binary(Pa, Pb, a0[l], a1[l], b0[l], b1[l], o0[l], o1[l], &du, &dw, &xa, &xb, &pa0,
                       &pa1, &pb0, &pb1);
    nu[l] += du;
    nw[l] += dw;
    if (bg) {
      ta[l] = first ? xa : ta[l] + xa;
      tb[l] = first ? xb : tb[l] + xb;
    }
    if (wa) {
      oa0[l] = pa0;
      oa1[l] = pa1;
    }
    if (wb) {
      ob0[l] = pb0;
      ob1[l] = pb1;
    }
  }
}

/* Multiplies the lanes of node partials whose largest entry m fell below
 * 2^-256 by 2^256, counts that in `scale`, and leaves the factors in f. */
static inline __attribute__((always_inline)) void rescale_lanes(double *Iu, int K, size_t kstride,
                                                                const double *m, int *scale,
                                                                double *f) {
  FITCL__LANES(l) {
    const int low = fitcl_prune_low(m[l]);
    f[l] = fitcl_prune_factor(low);
    scale[l] += low;
  }
  for (int c = 0; c < K; ++c)
    FITCL__LANES(l) {
      Iu[c * kstride + l] *= f[l];
      Iu[c * kstride + FITCL__LANE + l] *= f[l];
    }
}

/* The gradient of one sub-block: preorder pass and per-lane derivatives
 * into sv->D.  Its own function, so the postorder that the log-likelihood
 * alone runs is compiled as if it were not there. */
FITCL__CLONES __attribute__((noinline))
static void grad_pass(const fitcl_lik *L, int g, const scratch_view *sv, const uint16_t *tipsub,
                      const double *lsum, const double *rnum) {
  const int K = L->K, nn = L->nnodes, ntips = L->ntips, nint = L->nint, bg = L->branch_grad;
  const fitcl_prune_step *sched = L->sched;
  const int *sch = L->sched_child;
  const double *pmg = L->pm + (size_t)g * K * nn * FITCL_GL_PREC;
  const size_t kstride = 2 * FITCL__LANE, nstride = (size_t)K * kstride;
  const double *Fs = sv->Fs;
  double *In = sv->In, *Out = sv->Out, *Sb = sv->Sb, *D = sv->D, *NU = sv->NU, *NW = sv->NW;
  const unsigned char *flags = sv->flags;
  const double pi1 = L->pi1[g], pi0 = 1.0 - pi1;
  const double dpi = fitcl_prune_root_dpi(L->root_grad, pi0, pi1);
  const int *tiprank = cpu_of(L)->tiprank;

  /* Preorder (outside) pass with normalised outside vectors O_u, scaled
   * so that sum_x O_u(x) In_u(x) = 1 with In_u as stored (rescaled).
   * At the root O = pi / lsum.  Going down, G_v = O_u f_u prod over the
   * siblings of their contributions (f_u: u's rescaling factor) keeps
   * sum_x G_v(x) S_v(x) = 1, so d log L / d param along the branch above
   * v is sum G dP In_v with no division, and O_v = G_v P keeps the
   * normalisation at v.  Without rescaling the largest entry of O never
   * grows going down, so O needs no rescaling of its own: f_u is folded
   * into O_u (capped, fitcl_prune_fold) only at the few nodes that
   * rescaled. */
  double *Dg = D + FITCL__LC_G * FITCL__LANE, *Dl = D + FITCL__LC_L * FITCL__LANE;
  double *Dr = D + FITCL__LC_R * FITCL__LANE;
  double *Dt = Dr + (size_t)K * FITCL__LANE;
  memset(NU, 0, 2 * (size_t)K * FITCL__LANE * sizeof(double)); /* NU and NW, adjacent */
  double *Or = Out + (size_t)(nn - 1 - ntips) * nstride;
  {
    double invl[FITCL__LANE];
    FITCL__LANES(l) invl[l] = 1.0 / lsum[l];
    FITCL__LANES(l) {
      const double r = fitcl_prune_root_dgain(dpi, rnum[l], invl[l]);
      Dg[l] = r;
      Dl[l] = -r;
    }
    for (int c = 0; c < K; ++c)
      FITCL__LANES(l) {
        Or[c * kstride + l] = fitcl_prune_root_out(pi0, invl[l]);
        Or[c * kstride + FITCL__LANE + l] = fitcl_prune_root_out(pi1, invl[l]);
      }
  }
  for (int si = nint - 1; si >= 0; --si) {
    const fitcl_prune_step st = sched[si];
    const int u = st.node, deg = st.nchild;
    const int *kids = sch + st.first;
    double *Ou = Out + (size_t)(u - ntips) * nstride;
    if (flags[u - ntips]) {
      const double *f = Fs + (size_t)(u - ntips) * FITCL__LANE;
      for (int c = 0; c < K; ++c)
        FITCL__LANES(l) {
          Ou[c * kstride + l] = fitcl_prune_fold(Ou[c * kstride + l], f[l]);
          Ou[c * kstride + FITCL__LANE + l] = fitcl_prune_fold(Ou[c * kstride + FITCL__LANE + l], f[l]);
        }
    }
    if (deg == 2) {
      const int va = kids[0], vb = kids[1]; /* an internal child, if any, first (the schedule) */
      const int ia = va >= ntips, ib = vb >= ntips;
      for (int c = 0; c < K; ++c) {
        /* Local copies: the compiler then knows the stores below cannot
         * change them, keeps them in registers and vectorises. */
        double Pa[FITCL_GL_PREC], Pb[FITCL_GL_PREC];
        memcpy(Pa, pmg + ((size_t)c * nn + va) * FITCL_GL_PREC, sizeof Pa);
        memcpy(Pb, pmg + ((size_t)c * nn + vb) * FITCL_GL_PREC, sizeof Pb);
        double abuf[2 * FITCL__LANE], bbuf[2 * FITCL__LANE];
        const double *pa = child_ptr(In, nstride, kstride, ntips, tipsub, tiprank, va, c, abuf);
        const double *pb = child_ptr(In, nstride, kstride, ntips, tipsub, tiprank, vb, c, bbuf);
        double *oa = ia ? Out + (size_t)(va - ntips) * nstride + c * kstride : NULL;
        double *ob = ib ? Out + (size_t)(vb - ntips) * nstride + c * kstride : NULL;
        const double *o0 = Ou + c * kstride;
        double *nu = NU + (size_t)c * FITCL__LANE, *nw = NW + (size_t)c * FITCL__LANE;
        double *ta = bg ? Dt + (size_t)va * FITCL__LANE : NULL;
        double *tb = bg ? Dt + (size_t)vb * FITCL__LANE : NULL;
#define FITCL__BIN(BG, WA, WB)                                                                   \
  binary_node(Pa, Pb, pa, pa + FITCL__LANE, pb, pb + FITCL__LANE, o0, o0 + FITCL__LANE, nu, nw, oa, \
              WA ? oa + FITCL__LANE : NULL, ob, WB ? ob + FITCL__LANE : NULL, BG, WA, WB, c == 0, ta, tb)
        if (bg) {
          if (ib) FITCL__BIN(1, 1, 1);
          else if (ia) FITCL__BIN(1, 1, 0);
          else FITCL__BIN(1, 0, 0);
        } else {
          if (ib) FITCL__BIN(0, 1, 1);
          else if (ia) FITCL__BIN(0, 1, 0);
          else FITCL__BIN(0, 0, 0);
        }
#undef FITCL__BIN
      }
      continue;
    }
    /* Any other degree: the children's contributions first, then each
     * child's G as the product of the others'. */
    for (int k = 0; k < deg; ++k) {
      const int v = kids[k];
      for (int c = 0; c < K; ++c) {
        double P[FITCL_GL_PREC];
        memcpy(P, pmg + ((size_t)c * nn + v) * FITCL_GL_PREC, 4 * sizeof(double)); /* probabilities only */
        double i0[FITCL__LANE], i1[FITCL__LANE];
        child_in(In, nstride, kstride, ntips, tipsub, tiprank, v, c, i0, i1);
        double *s0 = Sb + (size_t)k * nstride + c * kstride, *s1 = s0 + FITCL__LANE;
        FITCL__LANES(l) {
          s0[l] = fitcl_prune_s0(P, i0[l], i1[l]);
          s1[l] = fitcl_prune_s1(P, i0[l], i1[l]);
        }
      }
    }
    /* The node's rescalings (fitcl_prune_check), counted again: its
     * product redone from the contributions just computed, in the same
     * order with the same checks (the same bits), into its partial, which
     * nothing reads any more. */
    int nres[FITCL__LANE];
    FITCL__LANES(l) nres[l] = 0;
    {
      double *Iu = In + (size_t)(u - ntips) * nstride;
      for (int j = 0; j < deg; ++j) {
        for (int c = 0; c < K; ++c) {
          double *o0 = Iu + c * kstride, *o1 = o0 + FITCL__LANE;
          const double *s0 = Sb + (size_t)j * nstride + c * kstride, *s1 = s0 + FITCL__LANE;
          FITCL__LANES(l) {
            o0[l] = fitcl_prune_times(o0[l], s0[l], j == 0);
            o1[l] = fitcl_prune_times(o1[l], s1[l], j == 0);
          }
        }
        if (!fitcl_prune_check(j, deg)) continue;
        double m[FITCL__LANE], f[FITCL__LANE];
        FITCL__LANES(l) m[l] = 0.0;
        for (int c = 0; c < K; ++c) {
          const double *o0 = Iu + c * kstride, *o1 = o0 + FITCL__LANE;
          FITCL__LANES(l) m[l] = fitcl_prune_max(m[l], o0[l], o1[l]);
        }
        rescale_lanes(Iu, K, kstride, m, nres, f);
      }
    }
    for (int k = 0; k < deg; ++k) {
      const int v = kids[k];
      for (int c = 0; c < K; ++c) {
        double P[FITCL_GL_PREC];
        memcpy(P, pmg + ((size_t)c * nn + v) * FITCL_GL_PREC, sizeof P);
        const double *ou0 = Ou + c * kstride, *ou1 = ou0 + FITCL__LANE;
        const double *s0 = Sb + c * kstride, *s1 = s0 + FITCL__LANE;
        double in0[FITCL__LANE], in1[FITCL__LANE];
        child_in(In, nstride, kstride, ntips, tipsub, tiprank, v, c, in0, in1);
        double g0[FITCL__LANE], g1[FITCL__LANE];
        int r0[FITCL__LANE], r1[FITCL__LANE];
        FITCL__LANES(l) {
          g0[l] = ou0[l];
          g1[l] = ou1[l];
          r0[l] = r1[l] = nres[l];
        }
        for (int j = 0; j < deg; ++j)
          FITCL__LANES(l) {
            g0[l] = fitcl_prune_multi_gr(g0[l], s0[j * nstride + l], j, k, &r0[l]);
            g1[l] = fitcl_prune_multi_gr(g1[l], s1[j * nstride + l], j, k, &r1[l]);
          }
        FITCL__LANES(l) {
          g0[l] = fitcl_prune_multi_rest(g0[l], r0[l]);
          g1[l] = fitcl_prune_multi_rest(g1[l], r1[l]);
        }
        /* Separate loops for the parts each node needs: a branch inside
         * the loop would stop it vectorising; the terms a loop does not
         * store are not computed. */
        double *nu = NU + (size_t)c * FITCL__LANE, *nw = NW + (size_t)c * FITCL__LANE;
        FITCL__LANES(l) {
          double du, dw, x, o0, o1;
          fitcl_prune_branch(P, g0[l], g1[l], in0[l], in1[l], &du, &dw, &x, &o0, &o1);
          nu[l] += du;
          nw[l] += dw;
        }
        if (bg) {
          double *dt = Dt + (size_t)v * FITCL__LANE;
          FITCL__LANES(l) {
            double du, dw, x, o0, o1;
            fitcl_prune_branch(P, g0[l], g1[l], in0[l], in1[l], &du, &dw, &x, &o0, &o1);
            dt[l] = c == 0 ? x : dt[l] + x;
          }
        }
        if (v >= ntips) {
          double *ov0 = Out + (size_t)(v - ntips) * nstride + c * kstride, *ov1 = ov0 + FITCL__LANE;
          FITCL__LANES(l) {
            double du, dw, x;
            fitcl_prune_branch(P, g0[l], g1[l], in0[l], in1[l], &du, &dw, &x, &ov0[l], &ov1[l]);
          }
        }
      }
    }
  }
  /* Per-category sums give the rate and per-parameter components. */
  for (int c = 0; c < K; ++c) {
    const double *nu = NU + (size_t)c * FITCL__LANE, *nw = NW + (size_t)c * FITCL__LANE;
    double *dr = Dr + (size_t)c * FITCL__LANE;
    FITCL__LANES(l) {
      Dg[l] += nu[l];
      Dl[l] += nw[l];
      dr[l] = fitcl_prune_drate(nu[l], nw[l]);
    }
  }
}

/* One reduction block.  want_grad is a constant at each of the two call
 * sites, so the log-likelihood alone compiles without any of the
 * gradient's bookkeeping. */
static inline __attribute__((always_inline)) void block_run(fitcl_lik *L, size_t b, unsigned worker,
                                                            const int want_grad) {
  const int K = L->K, nn = L->nnodes, ntips = L->ntips, nint = L->nint;
  const int g = L->block_group[b];
  const size_t nc = L->ncomp;
  const fitcl_prune_step *sched = L->sched;
  const int *sch = L->sched_child;
  const double *pms = cpu_of(L)->pms + (size_t)g * K * (size_t)(nn - 1) * 4;
  const size_t kstride = 2 * FITCL__LANE;        /* one category of one node */
  const size_t nstride = (size_t)K * kstride;    /* one node */
  const scratch_view sv = scratch_parts(L, cpu_of(L)->scratch[worker]);
  double *In = sv.In, *Fs = sv.Fs, *ks = sv.ks;
  const double *D = sv.D;
  int *rescaled = sv.rescaled;
  unsigned char *flags = sv.flags;
  const double pi1 = L->pi1[g], pi0 = 1.0 - pi1;
  const double invK = 1.0 / K;
  const int *tiprank = cpu_of(L)->tiprank, *post = cpu_of(L)->post;

  memset(ks, 0, 2 * nc * sizeof(double));
  for (size_t sub = 0; sub < FITCL_REDUCE_BLOCK / FITCL__LANE; ++sub) {
    const size_t p0 = b * FITCL_REDUCE_BLOCK + sub * FITCL__LANE;
    const uint16_t *tipsub = cpu_of(L)->tipbits + (p0 / FITCL__LANE) * 2 * (size_t)ntips;
    int scale[FITCL__LANE], nrescaled = 0;
    FITCL__LANES(l) scale[l] = 0;

    /* Postorder: In_u(x) = prod over children of sum_y P(x,y) In_child(y),
     * checked for rescaling where fitcl_prune_check says (for a binary
     * node once, after both children).  By node index, not level: the
     * tree's numbering is a post-order of the Newick string, so a node's
     * children were mostly made just before it and are still in cache (by
     * level, a 10,000-tip tree's partials, 2.5 MB a category, stream
     * through the L2 cache once more).  Each node's values, its children's
     * order and the rescaling do not depend on the order of the nodes, so
     * the bits are the same. */
    size_t at0 = 0; /* the step's first branch in pms (create: slot) */
    for (int k = 0; k < nint; at0 += (size_t)sched[post[k]].nchild, ++k) {
      const fitcl_prune_step st = sched[post[k]];
      const int u = st.node;
      double *Iu = In + (size_t)(u - ntips) * nstride;
      for (int j = 0; j < st.nchild; ++j) {
        const int v = sch[st.first + j];
        const int first = j == 0;
        for (int c = 0; c < K; ++c) {
          /* A local copy: the compiler then knows the stores below cannot
           * change it, keeps it in registers and vectorises the lane loops. */
          double P[FITCL_GL_PREC];
          memcpy(P, pms + ((size_t)c * (size_t)(nn - 1) + at0 + (size_t)j) * 4,
                 4 * sizeof(double)); /* probabilities only */
          double *o0 = Iu + c * kstride, *o1 = o0 + FITCL__LANE;
          if (v < ntips) {
            const unsigned b0 = tipsub[2 * tiprank[v]], b1 = tipsub[2 * tiprank[v] + 1];
            FITCL__LANES(l) fitcl_prune_child(P, tip_bit(b0, l), tip_bit(b1, l), first, &o0[l], &o1[l]);
          } else {
            const double *i0 = In + (size_t)(v - ntips) * nstride + c * kstride, *i1 = i0 + FITCL__LANE;
            FITCL__LANES(l) fitcl_prune_child(P, i0[l], i1[l], first, &o0[l], &o1[l]);
          }
        }
        if (!fitcl_prune_check(j, st.nchild)) continue;
        /* Rescale only lanes whose largest entry fell below 2^-256. */
        double m[FITCL__LANE];
        FITCL__LANES(l) m[l] = 0.0;
        for (int c = 0; c < K; ++c) {
          const double *o0 = Iu + c * kstride, *o1 = o0 + FITCL__LANE;
          FITCL__LANES(l) m[l] = fitcl_prune_max(m[l], o0[l], o1[l]);
        }
        if (!want_grad || st.nchild > 2) {
          /* Every check, without a test: multiplying by 1 is exact, and a
           * vector blend is cheaper than asking whether any lane is low.
           * (A node of degree >= 3 may rescale more than once; the
           * outside pass counts its factors again, grad_pass.) */
          double f[FITCL__LANE];
          rescale_lanes(Iu, K, kstride, m, scale, f);
          continue;
        }
        int any = 0;
        FITCL__LANES(l) any |= fitcl_prune_low(m[l]);
        if (any) {
          /* The preorder pass needs the factors of the few nodes that
           * rescale: flagged and kept here. */
          flags[u - ntips] = 1;
          rescaled[nrescaled++] = u - ntips;
          double f[FITCL__LANE];
          rescale_lanes(Iu, K, kstride, m, scale, f);
          memcpy(Fs + (size_t)(u - ntips) * FITCL__LANE, f, sizeof f);
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
        lsum[l] += fitcl_prune_root_lsum(pi0, pi1, i0, i1);
        rnum[l] += fitcl_prune_root_rnum(i0, i1);
      }
    FITCL__LANES(l) {
      const size_t p = p0 + l;
      ll[l] = fitcl_prune_loglik(lsum[l], invK, scale[l]);
      L->pat_ll[p] = ll[l];
      const double w = L->weight[p];
      const int kind = L->kind[p];
      if (want_grad) gw[l] = fitcl_prune_gw(kind, w, ll[l]);
      fitcl_kahan_add(&ks[FITCL__LC_LL], &ks[nc + FITCL__LC_LL], fitcl_prune_wll(kind, w, ll[l]));
    }
    if (!want_grad) continue;

    grad_pass(L, g, &sv, tipsub, lsum, rnum);
    for (int i = 0; i < nrescaled; ++i) flags[rescaled[i]] = 0;
    /* Weighted, in pattern order, per component: fitcl_kahan_add written
     * without a branch, over the components of one lane at a time (they
     * are independent), so with many components (branch lengths) the
     * loop vectorises; transposed first for unit stride. */
    double *T = sv.T;
    for (size_t q = 1; q < nc; ++q)
      FITCL__LANES(l) T[(size_t)l * nc + q] = gw[l] * D[q * FITCL__LANE + l];
    for (int l = 0; l < FITCL__LANE; ++l) {
      if (gw[l] == 0.0) continue; /* adds exact zeros: the sums are unchanged */
      const double *restrict x = T + (size_t)l * nc;
      double *restrict s = ks, *restrict cmp = ks + nc;
      for (size_t q = 1; q < nc; ++q) {
        const double t = s[q] + x[q];
        cmp[q] += fabs(s[q]) >= fabs(x[q]) ? (s[q] - t) + x[q] : (x[q] - t) + s[q];
        s[q] = t;
      }
    }
  }
  double *row = L->rows + b * nc;
  for (size_t q = 0; q < nc; ++q) row[q] = ks[q] + ks[nc + q];
  if (!want_grad)
    for (size_t q = 1; q < nc; ++q) row[q] = 0.0;
}

FITCL__CLONES
static void block_task_ll(void *arg, size_t b, unsigned worker) { block_run(arg, b, worker, 0); }

FITCL__CLONES
static void block_task_grad(void *arg, size_t b, unsigned worker) { block_run(arg, b, worker, 1); }

fitcl_status fitcl__lik_cpu_eval(fitcl_lik *L, int want_grad) {
  fitcl__pool *pool = fitcl__ctx_pool(L->ctx);
  pm_job j = {L, want_grad, (size_t)L->G * L->K * L->nnodes};
  fitcl__pool_run(pool, (j.nrec + PM_CHUNK - 1) / PM_CHUNK, pm_task, &j);
  cpu_of(L)->want_grad = want_grad;
  fitcl__pool_run(pool, L->nblocks, want_grad ? block_task_grad : block_task_ll, L);
  return FITCL_OK;
}

/* The same in two steps (kernels/lik.h: prepare, blocks). */
static fitcl_status lik_cpu_prepare(fitcl_lik *L, int want_grad) {
  pm_job j = {L, want_grad, (size_t)L->G * L->K * L->nnodes};
  fitcl__pool_run(fitcl__ctx_pool(L->ctx), (j.nrec + PM_CHUNK - 1) / PM_CHUNK, pm_task, &j);
  cpu_of(L)->want_grad = want_grad;
  return FITCL_OK;
}

typedef struct range_job {
  fitcl_lik *L;
  size_t b0;
} range_job;

FITCL__CLONES
static void range_task_ll(void *arg, size_t t, unsigned worker) {
  const range_job *j = arg;
  block_run(j->L, j->b0 + t, worker, 0);
}

FITCL__CLONES
static void range_task_grad(void *arg, size_t t, unsigned worker) {
  const range_job *j = arg;
  block_run(j->L, j->b0 + t, worker, 1);
}

static fitcl_status lik_cpu_blocks(fitcl_lik *L, int want_grad, size_t b0, size_t b1) {
  range_job j = {L, b0};
  fitcl__pool_run(fitcl__ctx_pool(L->ctx), b1 - b0, want_grad ? range_task_grad : range_task_ll,
                  &j);
  return FITCL_OK;
}

const fitcl__lik_ops fitcl__lik_cpu_ops = {fitcl__lik_cpu_create, fitcl__lik_cpu_eval,
                                          fitcl__lik_cpu_destroy, lik_cpu_prepare,
                                          lik_cpu_blocks};
