/* Block sums on the pthreads backend: one pool task per block. */
#include "backends/cpu/cpu.h"

#include "common/ksum.h"
#include "core/context.h"
#include "core/pool.h"
#include "kernels/reduce.h"

typedef struct job {
  const double *x;
  size_t n;
  double *partial;
} job;

static void block_task(void *arg, size_t b, unsigned worker) {
  (void)worker;
  job *j = arg;
  size_t begin = b * FITCL_REDUCE_BLOCK;
  size_t end = begin + FITCL_REDUCE_BLOCK < j->n ? begin + FITCL_REDUCE_BLOCK : j->n;
  fitcl_block_sum2(j->x, (fitcl_long)begin, (fitcl_long)end, &j->partial[2 * b],
                   &j->partial[2 * b + 1]);
}

static fitcl_status block_sums(fitcl_context *ctx, const double *x, size_t n, double *partial,
                               size_t nblocks) {
  job j = {x, n, partial};
  fitcl__pool_run(fitcl__ctx_pool(ctx), nblocks, block_task, &j);
  return FITCL_OK;
}

const fitcl__reduce_ops fitcl__reduce_cpu_ops = {block_sums};
