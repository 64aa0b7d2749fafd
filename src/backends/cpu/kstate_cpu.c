/* k-state P(t) from the eigensystem on the pthreads backend: one task per
 * branch length (the result of each matrix is independent). */
#include <math.h>

#include "backends/cpu/cpu.h"
#include "common/keig.h"
#include "core/context.h"
#include "core/pool.h"
#include "kernels/kstate.h"

typedef struct job {
  const fitcl__keig *e;
  const double *t;
  double *out;
} job;

static void task(void *arg, size_t i, unsigned worker) {
  (void)worker;
  const job *j = arg;
  const int k = j->e->k;
  double ex[FITCL__KSTATE_MAX];
  for (int m = 0; m < k; ++m) ex[m] = exp(j->e->lambda[m] * j->t[i]);
  double *o = j->out + i * (size_t)k * k;
  for (int r = 0; r < k; ++r)
    for (int c = 0; c < k; ++c) o[r * k + c] = fitcl_keig_entry(k, j->e->A, j->e->B, ex, r, c);
}

static fitcl_status apply(fitcl_context *ctx, const fitcl__keig *e, size_t n, const double *t,
                          double *out) {
  job j = {e, t, out};
  fitcl__pool_run(fitcl__ctx_pool(ctx), n, task, &j);
  return FITCL_OK;
}

const fitcl__kstate_ops fitcl__kstate_cpu_ops = {apply};
