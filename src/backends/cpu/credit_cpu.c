/* Credit assignment on the pthreads backend: one pool task per block of
 * nodes, each writing its own slots (cl/common/credit.h does the math). */
#include "backends/cpu/cpu.h"

#include "common/credit.h"
#include "core/context.h"
#include "core/pool.h"
#include "kernels/credit.h"

static void block_task(void *arg, size_t b, unsigned worker) {
  (void)worker;
  const fitcl__credit_job *j = arg;
  const size_t row0 = b * j->rows;
  const int rows = (int)(j->n - row0 < j->rows ? j->n - row0 : j->rows);
  const size_t entries = j->ncos + j->nmag;
  double *tab = j->want_tables ? j->table_partial + b * entries : NULL;
  const int want_cos = j->cosine != NULL, want_gs = j->grad_signal != NULL;
  int bad;
  if (j->f32)
    bad = fitcl_credit_block_f32(j->phase, j->mag, j->cos_table, j->mag_table, (int)j->ncos,
                                 (int)j->nmag, j->targets, j->labels, j->weights,
                                 j->weights != NULL, j->tnorm2, (fitcl_long)j->d,
                                 (fitcl_long)row0, rows, want_cos, j->cosine, want_gs,
                                 j->grad_signal, j->want_tables, tab, j->loss_partial + 2 * b);
  else
    bad = fitcl_credit_block_f64(j->phase, j->mag, j->cos_table, j->mag_table, (int)j->ncos,
                                 (int)j->nmag, j->targets, j->labels, j->weights,
                                 j->weights != NULL, j->tnorm2, (fitcl_long)j->d,
                                 (fitcl_long)row0, rows, want_cos, j->cosine, want_gs,
                                 j->grad_signal, j->want_tables, tab, j->loss_partial + 2 * b);
  j->bad[b] = bad;
}

static fitcl_status blocks(fitcl_context *ctx, const fitcl__credit_job *j) {
  fitcl__pool_run(fitcl__ctx_pool(ctx), j->nblocks, block_task, (void *)j);
  return FITCL_OK;
}

const fitcl__credit_ops fitcl__credit_cpu_ops = {blocks};
