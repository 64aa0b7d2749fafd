/* Gain/loss likelihood on the OpenCL backend in mixed or single precision
 * (docs/likelihood.md, "Precision"): the float kernels of cl/lik_float.cl.
 * The transition matrices are computed on the host in double (one record
 * per branch, category and group: a few thousand numbers) and uploaded as
 * floats; the pruning runs per pattern in float, with half the memory and
 * bandwidth of the double kernels' partials; each pattern's likelihood
 * comes back as its float root sum and an integer scale count, whose log
 * the host takes in double, and the log-likelihood's block
 * sums are the host's, in double (single: in float).  The gradient's block
 * sums run on the device: in double where the device has fp64 (mixed), as
 * compensated float pairs where it has none, in plain float (single). */
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
#include "device/opencl/ocl.h"
#include "kernels/lik.h"
#include "backends/opencl/lik_ocl_state.h"

#define TRY(x) do { st = (x); if (st != FITCL_OK) return st; } while (0)
#define ARG(k, i, v) TRY(fitcl__ocl_setarg(ctx, (k), (i), sizeof(v), &(v)))

static fitcl_status oom(fitcl_context *ctx) {
  return fitcl__fail(ctx, FITCL_ERR_NOMEM, "likelihood: out of host memory");
}

fitcl_status fitcl__lik_ocl_create_float(fitcl_lik *L) {
  fitcl_context *ctx = L->ctx;
  struct fitcl__lik_ocl *o = fitcl__lik_ocl_of(L);
  fitcl_status st;
  const int mixed64 = o->prec != FITCL_PRECISION_SINGLE && ctx->backend->caps.fp64;
  o->pairs = !mixed64;
  TRY(fitcl__ocl_kernel(ctx, "lik_float.cl", "fitcl_glf_prune", &o->k_prune));
  if (mixed64) TRY(fitcl__ocl_kernel(ctx, "lik.cl", "fitcl_gl_block_rows_f", &o->k_rows));
  else TRY(fitcl__ocl_kernel(ctx, "lik_float.cl", "fitcl_glf_block_rows", &o->k_rows));

  const size_t nn = (size_t)L->nnodes, K = (size_t)L->K, S = (size_t)L->G * K, npx = L->npx;
  TRY(fitcl__lik_ocl_upload_common(L));
  /* Float weights: only the gradient reads them on the device (the host
   * sums the log-likelihood with the double ones). */
  float *w = malloc(sizeof(float) * npx);
  if (!w) return oom(ctx);
  for (size_t i = 0; i < npx; ++i) w[i] = (float)L->weight[i];
  st = fitcl__ocl_alloc(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, sizeof(float) * npx, w,
                        &o->weight);
  free(w);
  if (st != FITCL_OK) return st;
  o->hpm = malloc(sizeof(float) * S * nn * FITCL_GL_PREC);
  o->hpi = malloc(sizeof(float) * (size_t)L->G);
  o->hllf = malloc(sizeof(float) * npx);
  o->hnsc = malloc(sizeof(int) * npx);
  o->hrows2 = o->pairs ? malloc(sizeof(float) * 2 * L->ncomp * L->nblocks) : NULL;
  if (!o->hpm || !o->hpi || !o->hllf || !o->hnsc || (o->pairs && !o->hrows2)) return oom(ctx);
  TRY(fitcl__ocl_alloc(ctx, CL_MEM_READ_ONLY, sizeof(float) * S * nn * FITCL_GL_PREC, NULL,
                       &o->pmf));
  TRY(fitcl__ocl_alloc(ctx, CL_MEM_READ_ONLY, sizeof(float) * (size_t)L->G, NULL, &o->pif));

  fitcl__lik_ocl_layout(L, sizeof(float));
  const size_t cn = o->cn, part = (size_t)L->nint * K * 2 * cn;
  TRY(fitcl__ocl_alloc(ctx, CL_MEM_READ_WRITE, sizeof(float) * part, NULL, &o->in));
  TRY(fitcl__ocl_alloc(ctx, CL_MEM_READ_WRITE, sizeof(float) * part, NULL, &o->out));
  TRY(fitcl__ocl_alloc(ctx, CL_MEM_READ_WRITE, sizeof(float) * (size_t)L->maxdeg * K * 2 * cn, NULL,
                       &o->sb));
  TRY(fitcl__ocl_alloc(ctx, CL_MEM_READ_WRITE, sizeof(float) * npx, NULL, &o->llf));
  TRY(fitcl__ocl_alloc(ctx, CL_MEM_READ_WRITE, sizeof(int) * npx, NULL, &o->nsc));
  TRY(fitcl__ocl_alloc(ctx, CL_MEM_READ_WRITE, sizeof(float) * L->ncomp * cn, NULL, &o->wv));
  if (o->pairs)
    TRY(fitcl__ocl_alloc(ctx, CL_MEM_READ_WRITE, sizeof(float) * 2 * L->ncomp * L->nblocks, NULL,
                         &o->rows2));
  else
    TRY(fitcl__ocl_alloc(ctx, CL_MEM_READ_WRITE, sizeof(double) * L->ncomp * L->nblocks, NULL,
                         &o->rows));
  return FITCL_OK;
}

/* The transition matrices of this evaluation, in double, rounded once to
 * float: record (g K + c) nn + v, as fitcl_gl_pmats lays them out.  One
 * pool task per (group, category): many groups make many records. */
typedef struct pmat_job {
  fitcl_lik *L;
  int deriv;
} pmat_job;

static void pmat_task(void *arg, size_t s, unsigned worker) {
  (void)worker;
  const pmat_job *j = arg;
  fitcl_lik *L = j->L;
  const int nn = L->nnodes, n = j->deriv ? FITCL_GL_PREC : 4;
  float *out = fitcl__lik_ocl_of(L)->hpm + s * (size_t)nn * FITCL_GL_PREC;
  for (int v = 0; v < nn; ++v, out += FITCL_GL_PREC) {
    double rec[FITCL_GL_PREC];
    if (j->deriv) fitcl_gl_pmat_deriv(L->set_a[s], L->set_b[s], L->brlen[v], rec);
    else fitcl_gl_pmat(L->set_a[s], L->set_b[s], L->brlen[v], rec);
    for (int k = 0; k < n; ++k) out[k] = (float)rec[k];
  }
}

static void host_pmats(fitcl_lik *L, int deriv) {
  pmat_job j = {L, deriv};
  fitcl__pool_run(fitcl__ctx_pool(L->ctx), (size_t)L->G * (size_t)L->K, pmat_task, &j);
  for (int g = 0; g < L->G; ++g) fitcl__lik_ocl_of(L)->hpi[g] = (float)L->pi1[g];
}

/* Block b's patterns: each one's log-likelihood from its float root sum
 * (K times the rescaled likelihood) and scale count, in double, so that
 * the log, the 1 / K and the scale steps add no error; then the block's
 * log-likelihood sum in the double path's order, compensated in double, or
 * a plain float sum in single precision.  One pool task per block. */
static void block_ll_task(void *arg, size_t b, unsigned worker) {
  (void)worker;
  fitcl_lik *L = arg;
  const struct fitcl__lik_ocl *o = fitcl__lik_ocl_of(L);
  const double logK = log((double)L->K);
  const int comp = o->prec != FITCL_PRECISION_SINGLE;
  double sum = 0.0, c = 0.0;
  float fs = 0.0f;
  for (size_t i = b * FITCL_REDUCE_BLOCK; i < (b + 1) * FITCL_REDUCE_BLOCK; ++i) {
    L->pat_ll[i] = log((double)o->hllf[i]) - logK - o->hnsc[i] * FITCL_GLF_LN2_SCALE;
    const double t = fitcl_prune_wll(L->kind[i], L->weight[i], L->pat_ll[i]);
    if (comp) fitcl_kahan_add(&sum, &c, t);
    else fs += (float)t;
  }
  L->rows[b * L->ncomp + FITCL__LC_LL] = comp ? sum + c : (double)fs;
}

fitcl_status fitcl__lik_ocl_eval_float(fitcl_lik *L, int want_grad) {
  fitcl_context *ctx = L->ctx;
  struct fitcl__lik_ocl *o = fitcl__lik_ocl_of(L);
  fitcl_status st;
  cl_command_queue q = fitcl__ocl_of(ctx)->queue;
  const int nn = L->nnodes, S = L->G * L->K;
  host_pmats(L, want_grad);
  /* Non-blocking uploads: hpm and hpi are not touched again before the
   * blocking read at the end. */
  const size_t npm = (size_t)S * (size_t)nn * FITCL_GL_PREC;
  TRY(fitcl__ocl_check(ctx, clEnqueueWriteBuffer(q, o->pmf, CL_FALSE, 0, sizeof(float) * npm,
                                                 o->hpm, 0, NULL, NULL),
                       "clEnqueueWriteBuffer"));
  const size_t npi = sizeof(float) * (size_t)L->G;
  TRY(fitcl__ocl_check(ctx, clEnqueueWriteBuffer(q, o->pif, CL_FALSE, 0, npi, o->hpi, 0, NULL,
                                                 NULL),
                       "clEnqueueWriteBuffer"));

  const cl_int ncomp = (cl_int)L->ncomp;
  /* Compensated sums (each pattern's derivatives, the gradient's rows)
   * but in single precision. */
  const cl_int comp = o->prec != FITCL_PRECISION_SINGLE;
  const cl_int nrc = ncomp;
  ARG(o->k_rows, 0, o->wv);
  ARG(o->k_rows, 2, ncomp);
  ARG(o->k_rows, 4, nrc);
  if (o->pairs) {
    ARG(o->k_rows, 5, comp);
    ARG(o->k_rows, 6, o->rows2);
  } else {
    ARG(o->k_rows, 5, o->rows);
  }
  const fitcl__lik_ocl_prune_bufs pb = {.pm = o->pmf, .par = o->pif, .root = o->llf,
                                        .nsc = o->nsc, .comp = comp};
  TRY(fitcl__lik_ocl_prune_args(L, want_grad, &pb));
  TRY(fitcl__lik_ocl_run_chunks(L, 0, L->npx, want_grad, nrc));
  const size_t nrow = L->ncomp * L->nblocks;
  if (want_grad && o->pairs)
    TRY(fitcl__ocl_check(ctx, clEnqueueReadBuffer(q, o->rows2, CL_FALSE, 0,
                                                  sizeof(float) * 2 * nrow, o->hrows2, 0, NULL,
                                                  NULL),
                         "clEnqueueReadBuffer"));
  if (want_grad && !o->pairs)
    TRY(fitcl__ocl_check(ctx, clEnqueueReadBuffer(q, o->rows, CL_FALSE, 0, sizeof(double) * nrow,
                                                  L->rows, 0, NULL, NULL),
                         "clEnqueueReadBuffer"));
  TRY(fitcl__ocl_check(ctx, clEnqueueReadBuffer(q, o->nsc, CL_FALSE, 0, sizeof(int) * L->npx,
                                                o->hnsc, 0, NULL, NULL),
                       "clEnqueueReadBuffer"));
  TRY(fitcl__ocl_read(ctx, o->llf, 0, sizeof(float) * L->npx, o->hllf));

  if (!want_grad) memset(L->rows, 0, sizeof(double) * nrow);
  if (want_grad && o->pairs)
    for (size_t r = 0; r < nrow; ++r)
      L->rows[r] = (double)o->hrows2[2 * r] + (double)o->hrows2[2 * r + 1];
  fitcl__pool_run(fitcl__ctx_pool(ctx), L->nblocks, block_ll_task, L);
  return FITCL_OK;
}
