/* Batched 2-state P(t) (fitcl_gl_pmatrices) on the pthreads backend: pool
 * tasks of PMB_CHUNK matrices. */
#include "backends/cpu/cpu.h"

#include "common/gainloss.h"
#include "core/context.h"
#include "core/pool.h"
#include "kernels/pmatrix.h"

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

static fitcl_status gainloss(fitcl_context *ctx, size_t n, const double *a, const double *b,
                          const double *t, double *p, double *deriv) {
  pmb_job j = {n, a, b, t, p, deriv};
  fitcl__pool_run(fitcl__ctx_pool(ctx), (n + PMB_CHUNK - 1) / PMB_CHUNK, pmb_task, &j);
  return FITCL_OK;
}

const fitcl__pmatrix_ops fitcl__pmatrix_cpu_ops = {gainloss};
