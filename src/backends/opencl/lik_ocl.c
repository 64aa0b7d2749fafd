/* Gain/loss likelihood on the OpenCL backend.  The constant data (the
 * traversal schedule, tip states, weights) is uploaded once at creation; each evaluation writes
 * the few model numbers, launches the transition-matrix kernel once, then
 * per chunk of patterns the pruning kernel and the block-sum kernel, and
 * reads back only the block rows and per-pattern log-likelihoods.  Chunks
 * bound device memory on large inputs; they are multiples of the reduction
 * block, so block sums are the same as the pthreads backend's.  In mixed or
 * single precision (or on a device without fp64) a handle runs the float
 * kernels instead (lik_ocl_float.c). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/compat.h"
#include "common/gainloss.h"
#include "common/ksum.h"
#include "common/pruning.h"
#include "core/util.h"
#include "device/opencl/ocl.h"
#include "kernels/lik.h"
#include "backends/opencl/lik_ocl_state.h"
#include "backends/opencl/opencl.h"

/* This backend's state of a handle. */
static inline struct fitcl__lik_ocl *ocl_of(const fitcl_lik *L) { return fitcl__lik_ocl_of(L); }

#define TRY(x) do { st = (x); if (st != FITCL_OK) return st; } while (0)

fitcl_status fitcl__lik_ocl_create(fitcl_lik *L) {
  fitcl_context *ctx = L->ctx;
  fitcl_status st;
  L->impl = calloc(1, sizeof(struct fitcl__lik_ocl));
  if (!ocl_of(L)) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "likelihood: out of host memory");
  struct fitcl__lik_ocl *o = ocl_of(L);
  /* Mixed and single precision run the float kernels; so does a device
   * without fp64 whatever it was asked, as its double program is not
   * built (and is not touched here). */
  const fitcl__caps *caps = &ctx->backend->caps;
  o->prec = caps->precision;
  o->floats = o->prec == FITCL_PRECISION_MIXED || o->prec == FITCL_PRECISION_SINGLE || !caps->fp64;
  if (o->floats) return fitcl__lik_ocl_create_float(L);
  TRY(fitcl__ocl_kernel(ctx, "lik.cl", "fitcl_gl_pmats", &o->k_pm));
  TRY(fitcl__ocl_kernel(ctx, "lik.cl", "fitcl_gl_prune", &o->k_prune));
  TRY(fitcl__ocl_kernel(ctx, "lik.cl", "fitcl_gl_block_rows", &o->k_rows));

  const cl_mem_flags ro = CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR;
  const size_t nn = (size_t)L->nnodes, K = (size_t)L->K, S = (size_t)L->G * K;
  TRY(fitcl__lik_ocl_upload_common(L));
  TRY(fitcl__ocl_alloc(ctx, ro, sizeof(double) * L->npx, L->weight, &o->weight));
  const size_t npar = nn + 2 * S + (size_t)L->G;
  o->hpar = malloc(sizeof(double) * npar);
  if (!o->hpar) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "likelihood: out of host memory");
  TRY(fitcl__ocl_alloc(ctx, CL_MEM_READ_ONLY, sizeof(double) * npar, NULL, &o->par));
  TRY(fitcl__ocl_alloc(ctx, CL_MEM_READ_WRITE, sizeof(double) * S * nn * FITCL_GL_PREC, NULL, &o->pm));

  fitcl__lik_ocl_layout(L, sizeof(double));
  const size_t cn = o->cn;
  const size_t part = (size_t)L->nint * K * 2 * cn;
  TRY(fitcl__ocl_alloc(ctx, CL_MEM_READ_WRITE, sizeof(double) * part, NULL, &o->in));
  TRY(fitcl__ocl_alloc(ctx, CL_MEM_READ_WRITE, sizeof(double) * part, NULL, &o->out));
  TRY(fitcl__ocl_alloc(ctx, CL_MEM_READ_WRITE, sizeof(double) * (size_t)L->maxdeg * K * 2 * cn, NULL,
                       &o->sb));
  TRY(fitcl__ocl_alloc(ctx, CL_MEM_READ_WRITE, sizeof(double) * L->npx, NULL, &o->patll));
  TRY(fitcl__ocl_alloc(ctx, CL_MEM_READ_WRITE, sizeof(double) * L->ncomp * cn, NULL, &o->wv));
  TRY(fitcl__ocl_alloc(ctx, CL_MEM_READ_WRITE, sizeof(double) * L->ncomp * L->nblocks, NULL, &o->rows));
  return FITCL_OK;
}

#define ARG(k, i, v) TRY(fitcl__ocl_setarg(ctx, (k), (i), sizeof(v), &(v)))

/* Uploads this evaluation's numbers, computes the transition matrices and
 * sets every argument of the pruning and block-row kernels except the
 * pattern range, which fitcl__lik_ocl_blocks sets per chunk. */
static fitcl_status lik_ocl_prepare(fitcl_lik *L, int want_grad) {
  fitcl_context *ctx = L->ctx;
  struct fitcl__lik_ocl *o = ocl_of(L);
  if (o->floats)
    return fitcl__fail(ctx, FITCL_ERR_UNSUPPORTED,
                       "likelihood: block ranges need the double kernels");
  fitcl_status st;
  const int nn = L->nnodes, S = L->G * L->K;
  /* One blocking upload of everything that changes per evaluation: over
   * several devices this one may take no block, so no read would wait for
   * the upload before the next evaluation rewrites hpar. */
  const size_t npar = (size_t)nn + 2 * (size_t)S + (size_t)L->G;
  memcpy(o->hpar, L->brlen, sizeof(double) * (size_t)nn);
  memcpy(o->hpar + nn, L->set_a, sizeof(double) * (size_t)S);
  memcpy(o->hpar + nn + S, L->set_b, sizeof(double) * (size_t)S);
  memcpy(o->hpar + nn + 2 * S, L->pi1, sizeof(double) * (size_t)L->G);
  TRY(fitcl__ocl_check(ctx, clEnqueueWriteBuffer(fitcl__ocl_of(ctx)->queue, o->par, CL_TRUE, 0,
                                                 sizeof(double) * npar, o->hpar, 0, NULL, NULL),
                       "clEnqueueWriteBuffer"));

  cl_int deriv = want_grad;
  ARG(o->k_pm, 0, o->par);
  ARG(o->k_pm, 1, nn);
  ARG(o->k_pm, 2, S);
  ARG(o->k_pm, 3, deriv);
  ARG(o->k_pm, 4, o->pm);
  TRY(fitcl__ocl_launch(ctx, o->k_pm, (size_t)nn * (size_t)S, 0));

  const cl_int ncomp = (cl_int)L->ncomp;
  const fitcl__lik_ocl_prune_bufs pb = {.pm = o->pm, .par = o->par, .root = o->patll,
                                        .pi_off = nn + 2 * S};
  TRY(fitcl__lik_ocl_prune_args(L, want_grad, &pb));
  o->nrc = want_grad ? ncomp : 1;
  ARG(o->k_rows, 0, o->wv);
  ARG(o->k_rows, 2, ncomp);
  ARG(o->k_rows, 4, o->nrc);
  ARG(o->k_rows, 5, o->rows);
  return FITCL_OK;
}

/* Blocks [b0, b1) after lik_ocl_prepare: their patterns' values and rows. */
static fitcl_status lik_ocl_blocks(fitcl_lik *L, int want_grad, size_t b0, size_t b1) {
  fitcl_context *ctx = L->ctx;
  struct fitcl__lik_ocl *o = ocl_of(L);
  fitcl_status st;
  const size_t p0 = b0 * FITCL_REDUCE_BLOCK, p1 = b1 * FITCL_REDUCE_BLOCK, nc = L->ncomp;
  /* Without the gradient the host forms the log-likelihood rows below. */
  TRY(fitcl__lik_ocl_run_chunks(L, p0, p1, want_grad, o->nrc));
  if (want_grad)
    TRY(fitcl__ocl_check(ctx, clEnqueueReadBuffer(fitcl__ocl_of(ctx)->queue, o->rows, CL_FALSE,
                                                  sizeof(double) * nc * b0,
                                                  sizeof(double) * nc * (b1 - b0),
                                                  L->rows + nc * b0, 0, NULL, NULL),
                         "clEnqueueReadBuffer"));
  TRY(fitcl__ocl_read(ctx, o->patll, sizeof(double) * p0, sizeof(double) * (p1 - p0),
                      L->pat_ll + p0));
  if (!want_grad) {
    /* Log-likelihood only: the per-pattern values are read back anyway, so
     * the block sums are formed here, with the kernels' formula and the
     * pthreads backend's order, saving a launch and a read. */
    memset(L->rows + nc * b0, 0, sizeof(double) * nc * (b1 - b0));
    for (size_t b = b0; b < b1; ++b) {
      double sum = 0.0, comp = 0.0;
      for (size_t i = b * FITCL_REDUCE_BLOCK; i < (b + 1) * FITCL_REDUCE_BLOCK; ++i)
        fitcl_kahan_add(&sum, &comp, fitcl_prune_wll(L->kind[i], L->weight[i], L->pat_ll[i]));
      L->rows[b * nc + FITCL__LC_LL] = sum + comp;
    }
  }
  return FITCL_OK;
}

fitcl_status fitcl__lik_ocl_eval(fitcl_lik *L, int want_grad) {
  struct fitcl__lik_ocl *o = ocl_of(L);
  if (o->floats) return fitcl__lik_ocl_eval_float(L, want_grad);
  fitcl_status st;
  TRY(lik_ocl_prepare(L, want_grad));
  return lik_ocl_blocks(L, want_grad, 0, L->nblocks);
}

const fitcl__lik_ops fitcl__lik_ocl_ops = {fitcl__lik_ocl_create, fitcl__lik_ocl_eval,
                                          fitcl__lik_ocl_destroy, lik_ocl_prepare,
                                          lik_ocl_blocks};
