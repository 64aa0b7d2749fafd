/* fitcl_credit_cosine: argument checks, the per-class target norms, the
 * backend's blocks, and the block-order sums of the loss and the tables. */
#include "kernels/credit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/credit.h"
#include "core/context.h"
#include "core/pool.h"
#include "core/sums.h"
#include "device/backend.h"

size_t fitcl__credit_block_rows(size_t d, size_t ncos, size_t nmag) {
  const size_t want = (64 * (ncos + nmag) + d - 1) / d;
  size_t rows = 8;
  while (rows < want && rows < 8192) rows *= 2;
  return rows;
}

static double value_at(const void *x, int f32, size_t i) {
  return f32 ? (double)((const float *)x)[i] : ((const double *)x)[i];
}

static fitcl_status check_finite(fitcl_context *ctx, const char *what, const void *x, int f32,
                                 size_t n, size_t cols) {
  for (size_t i = 0; i < n; ++i) {
    const double v = value_at(x, f32, i);
    if (isfinite(v)) continue;
    if (cols > 1)
      return fitcl__fail(ctx, FITCL_ERR_DATA, "%s[%zu][%zu] is %s: every value must be finite",
                         what, i / cols, i % cols, isnan(v) ? "NaN" : "infinite");
    return fitcl__fail(ctx, FITCL_ERR_DATA, "%s[%zu] is %s: every value must be finite", what, i,
                       isnan(v) ? "NaN" : "infinite");
  }
  return FITCL_OK;
}

static fitcl_status check_args(fitcl_context *ctx, const fitcl_credit_inputs *in) {
  if (in->dtype != FITCL_FLOAT64 && in->dtype != FITCL_FLOAT32)
    return fitcl__fail(ctx, FITCL_ERR_ARG, "dtype %d is neither FITCL_FLOAT64 nor FITCL_FLOAT32",
                       (int)in->dtype);
  if (!in->phase || !in->mag || !in->cos_table || !in->mag_table || !in->targets || !in->labels)
    return fitcl__fail(ctx, FITCL_ERR_NULL, "fitcl_credit_cosine: phase, mag, cos_table, "
                       "mag_table, targets and labels are required");
  const size_t lim = (size_t)INT32_MAX;
  if (!in->n || !in->d || !in->ncos || !in->nmag || !in->nclass)
    return fitcl__fail(ctx, FITCL_ERR_SIZE, "fitcl_credit_cosine: empty input (n %zu, d %zu, "
                       "ncos %zu, nmag %zu, nclass %zu; each must be >= 1)", in->n, in->d,
                       in->ncos, in->nmag, in->nclass);
  if (in->d > lim || in->ncos > lim || in->nmag > lim || in->nclass > lim ||
      in->n > (size_t)INT64_MAX / 8 / in->d)
    return fitcl__fail(ctx, FITCL_ERR_SIZE, "fitcl_credit_cosine: a size is past the supported "
                       "range (d, tables and classes below 2^31, n*d below 2^60)");
  for (size_t i = 0; i < in->n; ++i)
    if (in->labels[i] < 0 || (size_t)in->labels[i] >= in->nclass)
      return fitcl__fail(ctx, FITCL_ERR_RANGE, "labels[%zu] = %d is outside the %zu classes", i,
                         (int)in->labels[i], in->nclass);
  const int f32 = in->dtype == FITCL_FLOAT32;
  fitcl_status st = check_finite(ctx, "cos_table", in->cos_table, f32, in->ncos, 1);
  if (st == FITCL_OK) st = check_finite(ctx, "mag_table", in->mag_table, f32, in->nmag, 1);
  if (st == FITCL_OK) st = check_finite(ctx, "targets", in->targets, f32, in->nclass * in->d, in->d);
  if (st == FITCL_OK && in->weights) st = check_finite(ctx, "weights", in->weights, f32, in->n, 1);
  return st;
}

/* The first index outside its table in the rows of block b. */
static fitcl_status report_bad(fitcl_context *ctx, const fitcl_credit_inputs *in, size_t rows,
                               size_t b) {
  const size_t lo = b * rows * in->d, hi = (b + 1) * rows < in->n ? (b + 1) * rows * in->d
                                                                   : in->n * in->d;
  for (size_t i = lo; i < hi; ++i) {
    if (in->phase[i] < 0 || (size_t)in->phase[i] >= in->ncos)
      return fitcl__fail(ctx, FITCL_ERR_RANGE, "phase[%zu][%zu] = %d is outside cos_table "
                         "(%zu entries)", i / in->d, i % in->d, (int)in->phase[i], in->ncos);
    if (in->mag[i] < 0 || (size_t)in->mag[i] >= in->nmag)
      return fitcl__fail(ctx, FITCL_ERR_RANGE, "mag[%zu][%zu] = %d is outside mag_table "
                         "(%zu entries)", i / in->d, i % in->d, (int)in->mag[i], in->nmag);
  }
  return fitcl__fail(ctx, FITCL_ERR_INTERNAL, "block %zu reported a bad index that is not there", b);
}

typedef struct fold_job {
  const double *partial;
  size_t nblocks, stride, entries;
  double *sum;
} fold_job;

/* Entries [t*1024, ...) of the tables, each a compensated sum over the
 * blocks in block order. */
static void fold_task(void *arg, size_t t, unsigned worker) {
  (void)worker;
  const fold_job *f = arg;
  const size_t lo = t * 1024, hi = lo + 1024 < f->entries ? lo + 1024 : f->entries;
  for (size_t e = lo; e < hi; ++e) {
    fitcl__ksum k = {0, 0};
    for (size_t b = 0; b < f->nblocks; ++b) fitcl__ksum_add(&k, f->partial[b * f->stride + e]);
    f->sum[e] = fitcl__ksum_value(&k);
  }
}

static void store(void *dst, int f32, const double *src, size_t n) {
  if (f32)
    for (size_t i = 0; i < n; ++i) ((float *)dst)[i] = (float)src[i];
  else
    memcpy(dst, src, n * sizeof *src);
}

fitcl_status fitcl_credit_cosine(fitcl_context *ctx, const fitcl_credit_inputs *in,
                                 fitcl_credit_outputs *out) {
  if (!ctx) return FITCL_ERR_NULL;
  fitcl__clear_error(ctx);
  if (!in || !out) return fitcl__fail(ctx, FITCL_ERR_NULL, "fitcl_credit_cosine: NULL inputs or outputs");
  fitcl_status st = check_args(ctx, in);
  if (st != FITCL_OK) return st;
  const int f32 = in->dtype == FITCL_FLOAT32;
  fitcl__credit_job j = {
      .f32 = f32, .n = in->n, .d = in->d, .ncos = in->ncos, .nmag = in->nmag,
      .nclass = in->nclass, .phase = in->phase, .mag = in->mag, .labels = in->labels,
      .cos_table = in->cos_table, .mag_table = in->mag_table, .targets = in->targets,
      .weights = in->weights, .cosine = out->cosine, .grad_signal = out->grad_signal,
      .want_tables = out->grad_cos_table || out->grad_mag_table};
  j.rows = fitcl__credit_block_rows(in->d, in->ncos, in->nmag);
  j.nblocks = (in->n + j.rows - 1) / j.rows;
  const size_t entries = in->ncos + in->nmag;
  double *tnorm2 = malloc(in->nclass * sizeof *tnorm2);
  double *tables = j.want_tables ? malloc(entries * sizeof *tables) : NULL;
  j.loss_partial = malloc(2 * j.nblocks * sizeof *j.loss_partial);
  j.bad = malloc(j.nblocks * sizeof *j.bad);
  j.table_partial = j.want_tables ? malloc(j.nblocks * entries * sizeof *j.table_partial) : NULL;
  if (!tnorm2 || !j.loss_partial || !j.bad || (j.want_tables && (!tables || !j.table_partial))) {
    st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory for %zu blocks of credit partials",
                     j.nblocks);
    goto done;
  }
  for (size_t c = 0; c < in->nclass; ++c)
    tnorm2[c] = f32 ? fitcl_credit_norm2_f32((const float *)in->targets + c * in->d, (fitcl_long)in->d)
                    : fitcl_credit_norm2_f64((const double *)in->targets + c * in->d, (fitcl_long)in->d);
  j.tnorm2 = tnorm2;
  st = ctx->backend->credit->blocks(ctx, &j);
  if (st != FITCL_OK) goto done;
  for (size_t b = 0; b < j.nblocks; ++b)
    if (j.bad[b]) {
      st = report_bad(ctx, in, j.rows, b);
      goto done;
    }
  out->loss = fitcl__sum(j.loss_partial, 2 * j.nblocks);
  if (j.want_tables) {
    fold_job f = {j.table_partial, j.nblocks, entries, entries, tables};
    fitcl__pool_run(fitcl__ctx_pool(ctx), (entries + 1023) / 1024, fold_task, &f);
    if (out->grad_cos_table) store(out->grad_cos_table, f32, tables, in->ncos);
    if (out->grad_mag_table) store(out->grad_mag_table, f32, tables + in->ncos, in->nmag);
  }
done:
  free(tnorm2);
  free(tables);
  free(j.loss_partial);
  free(j.bad);
  free(j.table_partial);
  return st;
}
