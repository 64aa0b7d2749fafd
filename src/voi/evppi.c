/* EVPPI by penalised regression splines (Strong, Oakley & Brennan 2014).
 *
 * 1. The increments y_j = nb[:, j] − nb[:, 0] (j = 1..k−1) are centred.
 * 2. One pass over the samples accumulates the normal equations of all of
 *    them at once: BᵀB, Bᵀy_j and y_jᵀy_j, with B the tensor B-spline rows
 *    (voi/spline.h).  Each block of samples forms its own partial (4^d
 *    non-zeros a row, so 16^d products, not p²) and the blocks are added in
 *    block order: the same bits for any thread count.
 * 3. With BᵀB + δI = RᵀR and R⁻ᵀ S R⁻¹ = U diag(e) Uᵀ (Demmler–Reinsch),
 *    every smoothing parameter λ costs O(p): with z = (R⁻¹U)ᵀ Bᵀy,
 *      RSS(λ) = yᵀy − Σ z² + Σ z² (λe/(1+λe))²,  edf(λ) = Σ 1/(1+λe),
 *      GCV(λ) = n RSS / (n − edf)²,
 *    minimised over a grid of log λ and refined by golden section.
 * 4. The fitted values g_ij = B_i β_j + mean(y_j) give
 *      EVPPI = (1/n) Σ_i max(0, g_i1, …) − max(0, mean(y_1), …).
 * 5. The standard error: the spread of that estimate over draws of the
 *    coefficients from their posterior N(β̂, σ²(BᵀB + λS)⁻¹). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/ksum.h"
#include "core/context.h"
#include "core/pool.h"
#include "core/sums.h"
#include "voi/spline.h"
#include "voi/voi_common.h"
#include "voi/voi_linalg.h"

#define GRAM_BLOCK 2048 /* samples per partial of the normal equations */
#define FIT_BLOCK 4096  /* samples per partial of the fitted-value sums */
#define MAX_COEF 1024
#define DRAW_LANES 8   /* coefficient draws evaluated side by side */
#define CACHE_ENTRIES ((size_t)1 << 23)

typedef struct fit {
  int n, k, r;            /* samples, strategies, responses (k − 1) */
  const double *nb, *theta;
  size_t p;               /* columns of theta */
  const size_t *of;
  fitcl__spline sp;
  double mean[FITCL_VOI_MAX_STRATEGIES];  /* mean increment of each response */
  /* Pass 2 */
  double *partial;        /* nblocks x (p*p + r*(p+1)) */
  size_t pstride;
  /* Pass 4 and 5 */
  const double *beta;     /* r x p */
  double *fit_partial;    /* per block: (sum, corr) of max(0, g_i1, ...) */
  const double *draw_beta;/* draws/8 x r x p x 8: lane l of group g is draw 8g + l */
  /* The basis rows of every sample (n x nz), kept from the first pass when
   * they fit in CACHE_ENTRIES, so later passes skip the spline arithmetic. */
  int32_t *row_idx;
  double *row_val;
  double *draw_out;       /* draws: the estimate of each draw */
} fit;

static void theta_row(const fit *f, size_t i, double *x) {
  for (int m = 0; m < f->sp.dims; ++m) x[m] = f->theta[i * f->p + f->of[m]];
}

/* Values per block of the first scan: (sum, corr) of each response, then
 * (min, max) of each parameter of interest, then a non-finite flag. */
static size_t scan_stride(const fit *f) { return 2 * (size_t)f->r + 2 * (size_t)f->sp.dims + 1; }

/* First pass, block b: the increments' sums, the parameters' ranges, and
 * whether any value read is NaN or infinite. */
static void scan_task(void *arg, size_t b, unsigned worker) {
  (void)worker;
  fit *f = arg;
  const int r = f->r, dims = f->sp.dims, k = f->k;
  double *out = f->partial + b * scan_stride(f);
  double *mm = out + 2 * r;
  for (int j = 0; j < 2 * r; ++j) out[j] = 0.0;
  for (int m = 0; m < dims; ++m) {
    mm[2 * m] = INFINITY;
    mm[2 * m + 1] = -INFINITY;
  }
  int bad = 0;
  const size_t lo = b * GRAM_BLOCK, hi = lo + GRAM_BLOCK < (size_t)f->n ? lo + GRAM_BLOCK : (size_t)f->n;
  for (size_t i = lo; i < hi; ++i) {
    const double *nbi = f->nb + i * (size_t)k;
    double chk = nbi[0] - nbi[0];
    for (int j = 0; j < r; ++j) {
      chk += nbi[j + 1] - nbi[j + 1];
      fitcl_twosum_add(&out[2 * j], &out[2 * j + 1], nbi[j + 1] - nbi[0]);
    }
    for (int m = 0; m < dims; ++m) {
      const double v = f->theta[i * f->p + f->of[m]];
      chk += v - v;
      mm[2 * m] = v < mm[2 * m] ? v : mm[2 * m];
      mm[2 * m + 1] = v > mm[2 * m + 1] ? v : mm[2 * m + 1];
    }
    bad |= chk != 0.0; /* x - x is 0 for finite x, NaN otherwise */
  }
  out[2 * r + 2 * dims] = bad;
}

static void gram_task(void *arg, size_t b, unsigned worker) {
  (void)worker;
  fit *f = arg;
  const int p = f->sp.p, r = f->r, nz = f->sp.nz;
  double *G = f->partial + b * f->pstride, *by = G + (size_t)p * (size_t)p;
  double *yy = by + (size_t)r * (size_t)p;
  memset(G, 0, f->pstride * sizeof *G);
  const size_t lo = b * GRAM_BLOCK, hi = lo + GRAM_BLOCK < (size_t)f->n ? lo + GRAM_BLOCK : (size_t)f->n;
  int idx[FITCL__SPLINE_MAXNZ];
  double val[FITCL__SPLINE_MAXNZ], x[FITCL_EVPPI_MAX_PARAMS];
  for (size_t i = lo; i < hi; ++i) {
    theta_row(f, i, x);
    fitcl__spline_row(&f->sp, x, idx, val);
    if (f->row_idx)
      for (int a = 0; a < nz; ++a) {
        f->row_idx[i * (size_t)nz + (size_t)a] = idx[a];
        f->row_val[i * (size_t)nz + (size_t)a] = val[a];
      }
    for (int a = 0; a < nz; ++a) {
      double *row = G + (size_t)idx[a] * (size_t)p;
      const double va = val[a];
      for (int c = a; c < nz; ++c) row[idx[c]] += va * val[c];
    }
    const double *nbi = f->nb + i * (size_t)f->k;
    for (int j = 0; j < r; ++j) {
      const double y = (nbi[j + 1] - nbi[0]) - f->mean[j];
      double *bj = by + (size_t)j * (size_t)p;
      for (int a = 0; a < nz; ++a) bj[idx[a]] += val[a] * y;
      yy[j] += y * y;
    }
  }
}

typedef struct fold_job {
  const double *partial;
  size_t nblocks, stride;
  double *out;
} fold_job;

static void fold_task(void *arg, size_t t, unsigned worker) {
  (void)worker;
  const fold_job *fj = arg;
  const size_t lo = t * 4096, hi = lo + 4096 < fj->stride ? lo + 4096 : fj->stride;
  for (size_t e = lo; e < hi; ++e) {
    fitcl__ksum k = {0, 0};
    for (size_t b = 0; b < fj->nblocks; ++b) fitcl__ksum_add(&k, fj->partial[b * fj->stride + e]);
    fj->out[e] = fitcl__ksum_value(&k);
  }
}

/* Fitted increments of sample i for coefficients beta (r x p), plus the
 * response means: g[0..r). */
static void fitted(const fit *f, const double *beta, size_t i, double *g) {
  int idxbuf[FITCL__SPLINE_MAXNZ];
  double valbuf[FITCL__SPLINE_MAXNZ], x[FITCL_EVPPI_MAX_PARAMS];
  const int *idx = idxbuf;
  const double *val = valbuf;
  if (f->row_idx) {
    idx = f->row_idx + i * (size_t)f->sp.nz;
    val = f->row_val + i * (size_t)f->sp.nz;
  } else {
    theta_row(f, i, x);
    fitcl__spline_row(&f->sp, x, idxbuf, valbuf);
  }
  for (int j = 0; j < f->r; ++j) {
    const double *bj = beta + (size_t)j * (size_t)f->sp.p;
    double s = 0.0;
    for (int a = 0; a < f->sp.nz; ++a) s += val[a] * bj[idx[a]];
    g[j] = s + f->mean[j];
  }
}

/* Block b of samples: (sum, corr) of max(0, g_i1, ...). */
static void fit_task(void *arg, size_t b, unsigned worker) {
  (void)worker;
  fit *f = arg;
  double acc = 0.0, corr = 0.0;
  const size_t lo = b * FIT_BLOCK, hi = lo + FIT_BLOCK < (size_t)f->n ? lo + FIT_BLOCK : (size_t)f->n;
  double g[FITCL_VOI_MAX_STRATEGIES];
  for (size_t i = lo; i < hi; ++i) {
    fitted(f, f->beta, i, g);
    double m = 0.0;
    for (int j = 0; j < f->r; ++j) m = g[j] > m ? g[j] : m;
    fitcl_twosum_add(&acc, &corr, m);
  }
  f->fit_partial[2 * b] = acc;
  f->fit_partial[2 * b + 1] = corr;
}

/* Draws d*DRAW_LANES .. d*DRAW_LANES + 7, side by side (the lanes are
 * independent sums, so they vectorise): each draw's EVPPI, the mean of the
 * max minus the max of the means, summed sample by sample in order. */
static void draw_task(void *arg, size_t grp, unsigned worker) {
  (void)worker;
  fit *f = arg;
  const int r = f->r, P = f->sp.p, nz = f->sp.nz;
  const double *beta = f->draw_beta + grp * (size_t)r * (size_t)P * DRAW_LANES;
  double mx[DRAW_LANES] = {0}, mxc[DRAW_LANES] = {0};
  double mj[FITCL_VOI_MAX_STRATEGIES][DRAW_LANES], mjc[FITCL_VOI_MAX_STRATEGIES][DRAW_LANES];
  memset(mj, 0, sizeof mj);
  memset(mjc, 0, sizeof mjc);
  int idxbuf[FITCL__SPLINE_MAXNZ];
  double valbuf[FITCL__SPLINE_MAXNZ], x[FITCL_EVPPI_MAX_PARAMS];
  for (size_t i = 0; i < (size_t)f->n; ++i) {
    const int *idx = idxbuf;
    const double *val = valbuf;
    if (f->row_idx) {
      idx = f->row_idx + i * (size_t)nz;
      val = f->row_val + i * (size_t)nz;
    } else {
      theta_row(f, i, x);
      fitcl__spline_row(&f->sp, x, idxbuf, valbuf);
    }
    double m[DRAW_LANES] = {0};
    for (int j = 0; j < r; ++j) {
      const double *bj = beta + (size_t)j * (size_t)P * DRAW_LANES;
      double g[DRAW_LANES];
      for (int l = 0; l < DRAW_LANES; ++l) g[l] = f->mean[j];
      for (int a = 0; a < nz; ++a) {
        const double *b = bj + (size_t)idx[a] * DRAW_LANES, v = val[a];
        for (int l = 0; l < DRAW_LANES; ++l) g[l] += v * b[l];
      }
      for (int l = 0; l < DRAW_LANES; ++l) {
        m[l] = g[l] > m[l] ? g[l] : m[l];
        fitcl_twosum_add(&mj[j][l], &mjc[j][l], g[l]);
      }
    }
    for (int l = 0; l < DRAW_LANES; ++l) fitcl_twosum_add(&mx[l], &mxc[l], m[l]);
  }
  for (int l = 0; l < DRAW_LANES; ++l) {
    double best = 0.0;
    for (int j = 0; j < r; ++j) {
      const double v = (mj[j][l] + mjc[j][l]) / f->n;
      best = v > best ? v : best;
    }
    f->draw_out[grp * DRAW_LANES + (size_t)l] = (mx[l] + mxc[l]) / f->n - best;
  }
}

/* splitmix64: the draws' normal deviates depend on (seed, draw, index) only. */
static uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static double normal_at(uint64_t seed, uint64_t draw, uint64_t i) {
  const uint64_t a = mix64(seed ^ mix64(draw * 2 + 1) ^ mix64(i * 2 + 0x5bd1e995ull));
  const uint64_t b = mix64(a);
  const double u1 = ((double)(a >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
  const double u2 = (double)(b >> 11) / 9007199254740992.0;
  return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

/* GCV score at log λ for eigenvalues e and coefficients z. */
static double gcv(double loglam, const double *e, const double *z2, int p, double r0, int n,
                  double *edf_out) {
  const double lam = exp(loglam);
  double rss = r0, edf = 0.0;
  for (int i = 0; i < p; ++i) {
    const double le = lam * e[i], shrink = le / (1 + le);
    rss += z2[i] * shrink * shrink;
    edf += 1 / (1 + le);
  }
  if (edf_out) *edf_out = edf;
  const double dof = n - edf;
  return n * rss / (dof * dof);
}

static double choose_lambda(const double *e, const double *z2, int p, double r0, int n) {
  /* The grid is on λ·ē, ē the median positive eigenvalue of the penalty in
   * the data's metric: from almost unpenalised to the penalty's null space. */
  double tmp[MAX_COEF];
  int np = 0;
  for (int i = 0; i < p; ++i)
    if (e[i] > 0) tmp[np++] = e[i];
  double emed = 1.0;
  if (np) {
    for (int i = 1; i < np; ++i) /* insertion sort: p is small */
      for (int j = i; j > 0 && tmp[j] < tmp[j - 1]; --j) {
        double t = tmp[j];
        tmp[j] = tmp[j - 1];
        tmp[j - 1] = t;
      }
    emed = tmp[np / 2];
  }
  const double base = -log(emed), lo = base - 8 * log(10.0), hi = base + 12 * log(10.0);
  const int steps = 81;
  double best = INFINITY, bestx = lo;
  int bi = 0;
  for (int s = 0; s < steps; ++s) {
    const double x = lo + (hi - lo) * s / (steps - 1);
    const double v = gcv(x, e, z2, p, r0, n, NULL);
    if (v < best) {
      best = v;
      bestx = x;
      bi = s;
    }
  }
  double a = lo + (hi - lo) * (bi > 0 ? bi - 1 : 0) / (steps - 1);
  double b = lo + (hi - lo) * (bi < steps - 1 ? bi + 1 : steps - 1) / (steps - 1);
  const double gr = 0.6180339887498949;
  double c = b - gr * (b - a), d = a + gr * (b - a);
  double fc = gcv(c, e, z2, p, r0, n, NULL), fd = gcv(d, e, z2, p, r0, n, NULL);
  for (int it = 0; it < 60 && b - a > 1e-6; ++it) {
    if (fc < fd) {
      b = d; d = c; fd = fc; c = b - gr * (b - a); fc = gcv(c, e, z2, p, r0, n, NULL);
    } else {
      a = c; c = d; fc = fd; d = a + gr * (b - a); fd = gcv(d, e, z2, p, r0, n, NULL);
    }
  }
  const double x = 0.5 * (a + b);
  return gcv(x, e, z2, p, r0, n, NULL) <= best ? x : bestx;
}

static int default_basis(int dims) {
  static const int q[] = {16, 7, 5, 4};
  return q[dims - 1];
}

fitcl_status fitcl_evppi(fitcl_context *ctx, const double *nb, size_t n, size_t k,
                         const double *theta, size_t p, const size_t *of, size_t nof,
                         const fitcl_evppi_options *opt, fitcl_evppi_result *out) {
  if (!ctx) return FITCL_ERR_NULL;
  fitcl__clear_error(ctx);
  if (!nb || !theta || !of || !out)
    return fitcl__fail(ctx, FITCL_ERR_NULL, "fitcl_evppi: nb, theta, of and out are required");
  fitcl_status st = fitcl__voi_check_shape(ctx, "fitcl_evppi", n, k, 2);
  if (st != FITCL_OK) return st;
  fitcl_evppi_options o = {0};
  if (opt) o = *opt;
  if (nof < 1 || nof > FITCL_EVPPI_MAX_PARAMS)
    return fitcl__fail(ctx, FITCL_ERR_SIZE, "fitcl_evppi: %zu parameters of interest; 1 to %d "
                       "are supported", nof, FITCL_EVPPI_MAX_PARAMS);
  for (size_t m = 0; m < nof; ++m) {
    if (of[m] >= p)
      return fitcl__fail(ctx, FITCL_ERR_ARG, "parameter index %zu is out of range (theta has "
                         "%zu columns)", of[m], p);
    for (size_t l = 0; l < m; ++l)
      if (of[l] == of[m])
        return fitcl__fail(ctx, FITCL_ERR_ARG, "parameter %zu is named twice", of[m]);
  }
  const int dims = (int)nof;
  const int q = o.basis ? o.basis : default_basis(dims);
  if (q < 4 || q > 64)
    return fitcl__fail(ctx, FITCL_ERR_ARG, "basis %d: cubic B-splines need 4 to 64 functions "
                       "per parameter", q);
  double coef = 1;
  for (int m = 0; m < dims; ++m) coef *= q;
  if (coef > MAX_COEF)
    return fitcl__fail(ctx, FITCL_ERR_ARG, "basis %d for %d parameters makes %.0f coefficients; "
                       "at most %d are supported", q, dims, coef, MAX_COEF);
  if ((double)n < 2 * coef + 10 || n > (size_t)INT32_MAX)
    return fitcl__fail(ctx, FITCL_ERR_SIZE, "fitcl_evppi: %zu samples for %.0f coefficients; "
                       "at least %.0f (and below 2^31) are needed", n, coef, 2 * coef + 10);
  if (o.se_draws > 100000)
    return fitcl__fail(ctx, FITCL_ERR_ARG, "se_draws %d is above 100000", o.se_draws);
  fit f = {.n = (int)n, .k = (int)k, .r = (int)k - 1, .nb = nb, .theta = theta, .p = p, .of = of};
  f.sp.dims = dims;
  const size_t gblocks = (n + GRAM_BLOCK - 1) / GRAM_BLOCK, fblocks = (n + FIT_BLOCK - 1) / FIT_BLOCK;
  /* 1. The means of the increments, the parameters' ranges, finiteness. */
  {
    const size_t ss = scan_stride(&f);
    f.partial = malloc(gblocks * ss * sizeof *f.partial);
    if (!f.partial) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
    fitcl__pool_run(fitcl__ctx_pool(ctx), gblocks, scan_task, &f);
    int bad = 0;
    for (size_t b = 0; b < gblocks; ++b) bad |= f.partial[b * ss + ss - 1] != 0;
    for (int j = 0; j < f.r; ++j) {
      fitcl__ksum t = {0, 0};
      for (size_t b = 0; b < gblocks; ++b) {
        fitcl__ksum_add(&t, f.partial[b * ss + 2 * (size_t)j]);
        fitcl__ksum_add(&t, f.partial[b * ss + 2 * (size_t)j + 1]);
      }
      f.mean[j] = fitcl__ksum_value(&t) / (double)n;
    }
    double lo[FITCL_EVPPI_MAX_PARAMS], hi[FITCL_EVPPI_MAX_PARAMS];
    for (int m = 0; m < dims; ++m) {
      lo[m] = INFINITY;
      hi[m] = -INFINITY;
      for (size_t b = 0; b < gblocks; ++b) {
        const double *mm = f.partial + b * ss + 2 * (size_t)f.r + 2 * (size_t)m;
        lo[m] = mm[0] < lo[m] ? mm[0] : lo[m];
        hi[m] = mm[1] > hi[m] ? mm[1] : hi[m];
      }
    }
    free(f.partial);
    f.partial = NULL;
    if (bad) {
      st = fitcl__voi_first_nonfinite(ctx, "nb", nb, n, k);
      for (int m = 0; m < dims && st == FITCL_OK; ++m)
        for (size_t i = 0; i < n; ++i)
          if (!isfinite(theta[i * p + of[m]]))
            return fitcl__fail(ctx, FITCL_ERR_DATA, "theta[%zu][%zu] is %s: every value must be "
                               "finite", i, of[m], isnan(theta[i * p + of[m]]) ? "NaN" : "infinite");
      return st != FITCL_OK ? st : fitcl__fail(ctx, FITCL_ERR_DATA, "nb or theta is not finite");
    }
    for (int m = 0; m < dims; ++m)
      if (!(hi[m] > lo[m]))
        return fitcl__fail(ctx, FITCL_ERR_DATA, "parameter %zu takes one value (%g) in every "
                           "sample: it carries no information", of[m], lo[m]);
    int qs[FITCL_EVPPI_MAX_PARAMS] = {q, q, q, q};
    fitcl__spline_init(&f.sp, dims, qs, lo, hi);
  }
  const int P = f.sp.p, r = f.r;
  const size_t PP = (size_t)P * (size_t)P;
  int draws = o.se_draws < 0 ? 0 : o.se_draws ? o.se_draws : 96;
  draws = (draws + DRAW_LANES - 1) / DRAW_LANES * DRAW_LANES;
  f.pstride = PP + (size_t)r * ((size_t)P + 1);
  double *sums = malloc(f.pstride * sizeof *sums);
  double *S = malloc(PP * sizeof *S), *R = malloc(PP * sizeof *R), *M = malloc(PP * sizeof *M);
  double *U = malloc(PP * sizeof *U), *e = malloc((size_t)P * sizeof *e);
  double *beta = malloc((size_t)r * (size_t)P * sizeof *beta);
  double *z = malloc((size_t)r * (size_t)P * sizeof *z), *z2 = malloc((size_t)P * sizeof *z2);
  double *sigma = malloc((size_t)r * sizeof *sigma), *lam = malloc((size_t)r * sizeof *lam);
  f.partial = malloc(gblocks * f.pstride * sizeof *f.partial);
  f.fit_partial = malloc(2 * fblocks * sizeof *f.fit_partial);
  double *dbeta = draws ? malloc((size_t)draws * (size_t)r * (size_t)P * sizeof *dbeta) : NULL;
  double *dout = draws ? malloc((size_t)draws * sizeof *dout) : NULL;
  if (draws && n * (size_t)f.sp.nz <= CACHE_ENTRIES) {
    f.row_idx = malloc(n * (size_t)f.sp.nz * sizeof *f.row_idx);
    f.row_val = malloc(n * (size_t)f.sp.nz * sizeof *f.row_val);
    if (!f.row_idx || !f.row_val) { /* optional: recompute instead */
      free(f.row_idx);
      free(f.row_val);
      f.row_idx = NULL;
      f.row_val = NULL;
    }
  }
  if (!sums || !S || !R || !M || !U || !e || !beta || !z || !z2 || !sigma || !lam || !f.partial ||
      !f.fit_partial || (draws && (!dbeta || !dout))) {
    st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory for the EVPPI regressions");
    goto done;
  }
  /* 2. Normal equations of every response in one pass. */
  fitcl__pool_run(fitcl__ctx_pool(ctx), gblocks, gram_task, &f);
  fold_job fj = {f.partial, gblocks, f.pstride, sums};
  fitcl__pool_run(fitcl__ctx_pool(ctx), (f.pstride + 4095) / 4096, fold_task, &fj);
  /* 3. Demmler–Reinsch: R from BᵀB (upper triangle accumulated) + δI. */
  double dmax = 0;
  for (int i = 0; i < P; ++i) dmax = sums[(size_t)i * P + i] > dmax ? sums[(size_t)i * P + i] : dmax;
  for (double ridge = 1e-10;; ridge *= 100) {
    for (int i = 0; i < P; ++i)
      for (int j = 0; j < P; ++j) {
        const double v = i <= j ? sums[(size_t)i * P + j] : sums[(size_t)j * P + i];
        R[(size_t)i * P + j] = v + (i == j ? ridge * dmax : 0.0);
      }
    if (fitcl__voi_cholesky(R, P) == 0) break;
    if (ridge > 1e-2) {
      st = fitcl__fail(ctx, FITCL_ERR_INTERNAL, "the spline normal equations are singular");
      goto done;
    }
  }
  fitcl__spline_penalty(&f.sp, S);
  /* M = R⁻ᵀ S R⁻¹: S R⁻¹ is (R⁻ᵀ S)ᵀ since S is symmetric. */
  memcpy(M, S, PP * sizeof *M);
  fitcl__voi_solve_upper_t(R, P, M, P); /* M = R⁻ᵀ S */
  for (int i = 0; i < P; ++i)           /* transpose: S R⁻¹ */
    for (int j = i + 1; j < P; ++j) {
      double t = M[(size_t)i * P + j];
      M[(size_t)i * P + j] = M[(size_t)j * P + i];
      M[(size_t)j * P + i] = t;
    }
  fitcl__voi_solve_upper_t(R, P, M, P); /* R⁻ᵀ (S R⁻¹) */
  for (int i = 0; i < P; ++i) /* symmetrise the rounding */
    for (int j = i + 1; j < P; ++j) {
      const double v = 0.5 * (M[(size_t)i * P + j] + M[(size_t)j * P + i]);
      M[(size_t)i * P + j] = M[(size_t)j * P + i] = v;
    }
  fitcl__voi_jacobi(M, P, e, U);
  for (int i = 0; i < P; ++i) e[i] = e[i] > 0 ? e[i] : 0.0;
  fitcl__voi_solve_upper(R, P, U, P); /* U := R⁻¹ U, so β = U diag(·) Uᵀ Bᵀy */
  memset(out, 0, sizeof *out);
  out->basis = P;
  for (int j = 0; j < r; ++j) {
    const double *by = sums + PP + (size_t)j * P, yy = sums[PP + (size_t)r * P + j];
    double *zj = z + (size_t)j * P, zz = 0;
    for (int i = 0; i < P; ++i) {
      double s = 0;
      for (int l = 0; l < P; ++l) s += U[(size_t)l * P + i] * by[l];
      zj[i] = s;
      z2[i] = s * s;
      zz += z2[i];
    }
    const double r0 = yy - zz > 0 ? yy - zz : 0.0;
    const double x = choose_lambda(e, z2, P, r0, (int)n);
    double edf;
    const double score = gcv(x, e, z2, P, r0, (int)n, &edf);
    lam[j] = exp(x);
    out->lambda[j + 1] = lam[j];
    out->edf[j + 1] = edf;
    /* σ² = RSS / (n − edf), RSS = GCV (n − edf)² / n. */
    sigma[j] = sqrt(score * (n - edf) / (double)n);
    for (int i = 0; i < P; ++i) {
      double s = 0;
      for (int l = 0; l < P; ++l) s += U[(size_t)i * P + l] * zj[l] / (1 + lam[j] * e[l]);
      beta[(size_t)j * P + i] = s;
    }
  }
  /* 4. The estimate. */
  f.beta = beta;
  fitcl__pool_run(fitcl__ctx_pool(ctx), fblocks, fit_task, &f);
  double gmean = 0.0;
  for (int j = 0; j < r; ++j) gmean = f.mean[j] > gmean ? f.mean[j] : gmean;
  out->evppi = fitcl__sum(f.fit_partial, 2 * fblocks) / (double)n - gmean;
  /* 5. Coefficient draws: β + σ U diag(1/√(1+λe)) ε for each response. */
  if (draws) {
    for (int s = 0; s < draws; ++s)
      for (int j = 0; j < r; ++j) {
        double eps[MAX_COEF];
        for (int l = 0; l < P; ++l)
          eps[l] = normal_at(o.seed, (uint64_t)s, (uint64_t)j * P + (uint64_t)l) /
                   sqrt(1 + lam[j] * e[l]);
        double *bd = dbeta + ((size_t)(s / DRAW_LANES) * r + (size_t)j) * P * DRAW_LANES +
                     s % DRAW_LANES;
        for (int i = 0; i < P; ++i) {
          double v = 0;
          for (int l = 0; l < P; ++l) v += U[(size_t)i * P + l] * eps[l];
          bd[(size_t)i * DRAW_LANES] = beta[(size_t)j * P + i] + sigma[j] * v;
        }
      }
    f.draw_beta = dbeta;
    f.draw_out = dout;
    fitcl__pool_run(fitcl__ctx_pool(ctx), (size_t)draws / DRAW_LANES, draw_task, &f);
    fitcl__ksum m = {0, 0};
    for (int s = 0; s < draws; ++s) fitcl__ksum_add(&m, dout[s]);
    const double mu = fitcl__ksum_value(&m) / draws;
    fitcl__ksum v = {0, 0};
    for (int s = 0; s < draws; ++s) fitcl__ksum_add(&v, (dout[s] - mu) * (dout[s] - mu));
    out->se = draws > 1 ? sqrt(fitcl__ksum_value(&v) / (draws - 1)) : 0.0;
    out->draws = draws;
  }
done:
  free(sums); free(S); free(R); free(M); free(U); free(e); free(beta); free(z); free(z2);
  free(sigma); free(lam); free(f.partial); free(f.row_idx); free(f.row_val); free(f.fit_partial); free(dbeta); free(dout);
  return st;
}
