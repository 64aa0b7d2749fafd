/* What the OpenCL likelihood's two drivers share (lik_ocl_state.h): the double
 * kernels' (lik_ocl.c) and the float kernels' (lik_ocl_float.c) handles
 * upload the same constant data, lay their partials out by the same rule
 * and release the same state. */
#include <stdlib.h>

#include "backends/opencl/lik_ocl_state.h"
#include "backends/opencl/opencl.h"
#include "core/util.h"
#include "device/opencl/ocl.h"
#include "kernels/lik.h"

int fitcl__lik_ocl_tile_override = 0;

/* The schedule goes up as it is: three ints per step on both sides. */
_Static_assert(sizeof(fitcl_prune_step) == 3 * sizeof(cl_int), "fitcl_prune_step layout");

static inline struct fitcl__lik_ocl *ocl_of(const fitcl_lik *L) { return fitcl__lik_ocl_of(L); }

void fitcl__lik_ocl_destroy(fitcl_lik *L) {
  if (!L || !ocl_of(L)) return;
  struct fitcl__lik_ocl *o = ocl_of(L);
  FITCL__CL_RELEASE_KERNEL(o->k_pm);
  FITCL__CL_RELEASE_KERNEL(o->k_prune);
  FITCL__CL_RELEASE_KERNEL(o->k_rows);
  cl_mem *m[] = {&o->sched, &o->sched_child, &o->tips, &o->bgroup, &o->kind, &o->weight, &o->par,
                 &o->pm,    &o->in,          &o->out,  &o->sb,     &o->patll, &o->wv,     &o->rows,
                 &o->pmf,   &o->pif,         &o->llf,  &o->nsc,    &o->rows2};
  for (size_t i = 0; i < FITCL_ARRAY_LEN(m); ++i) FITCL__CL_RELEASE_MEM(*m[i]);
  FITCL_FREE(o->hpar);
  FITCL_FREE(o->hpm);
  FITCL_FREE(o->hpi);
  FITCL_FREE(o->hllf);
  FITCL_FREE(o->hnsc);
  FITCL_FREE(o->hrows2);
  FITCL_FREE(L->impl);
}

#define TRY(x) do { st = (x); if (st != FITCL_OK) return st; } while (0)

fitcl_status fitcl__lik_ocl_upload_common(fitcl_lik *L) {
  fitcl_context *ctx = L->ctx;
  struct fitcl__lik_ocl *o = ocl_of(L);
  fitcl_status st;
  const cl_mem_flags ro = CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR;
  TRY(fitcl__ocl_alloc(ctx, ro, sizeof(fitcl_prune_step) * (size_t)L->nint, L->sched, &o->sched));
  TRY(fitcl__ocl_alloc(ctx, ro, sizeof(int) * (size_t)(L->nnodes - 1), L->sched_child,
                       &o->sched_child));
  TRY(fitcl__lik_tip_bytes(L));
  st = fitcl__ocl_alloc(ctx, ro, (size_t)L->ntips * L->npx, L->tips, &o->tips);
  FITCL_FREE(L->tips); /* copied to the device */
  if (st != FITCL_OK) return st;
  TRY(fitcl__ocl_alloc(ctx, ro, sizeof(int) * L->nblocks, L->block_group, &o->bgroup));
  TRY(fitcl__ocl_alloc(ctx, ro, L->npx, L->kind, &o->kind));
  return FITCL_OK;
}

void fitcl__lik_ocl_layout(fitcl_lik *L, size_t real) {
  struct fitcl__lik_ocl *o = ocl_of(L);
  const size_t K = (size_t)L->K;
  /* Chunk size: what fits in a quarter of the device memory (at most 1 GiB
   * of per-pattern buffers), in whole reduction blocks. */
  const size_t per_pat = real * ((2 * (size_t)L->nint + (size_t)L->maxdeg) * K * 2 + L->ncomp);
  size_t budget = (size_t)(fitcl__ocl_of(L->ctx)->global_mem / 4);
  if (budget > ((size_t)1 << 30)) budget = (size_t)1 << 30;
  size_t cn = L->opt.chunk_patterns ? L->opt.chunk_patterns : budget / per_pat;
  cn = cn / FITCL_REDUCE_BLOCK * FITCL_REDUCE_BLOCK;
  if (cn < FITCL_REDUCE_BLOCK) cn = FITCL_REDUCE_BLOCK;
  if (cn > L->npx) cn = L->npx;
  o->cn = cn;
  /* CPU devices run each work-item through the whole tree alone: one
   * pattern per tile keeps its partials contiguous (see cl/lik.cl). */
  cl_device_type type = 0;
  if (clGetDeviceInfo(fitcl__ocl_of(L->ctx)->device, CL_DEVICE_TYPE, sizeof type, &type, NULL) !=
      CL_SUCCESS)
    type = 0;
  const int tuned = L->ctx->backend->tuning.lik_tile;
  o->tile = fitcl__lik_ocl_tile_override ? fitcl__lik_ocl_tile_override
            : tuned                      ? tuned
            : (type & CL_DEVICE_TYPE_CPU) ? 1
                                         : 16;
}


#define ARG(k, i, v) TRY(fitcl__ocl_setarg(ctx, (k), (i), sizeof(v), &(v)))

/* k_prune's pattern-range arguments, set per chunk (common/prune_kernel.h). */
enum { ARG_POFS = 9, ARG_CN = 10 };

fitcl_status fitcl__lik_ocl_prune_args(fitcl_lik *L, int want_grad,
                                       const fitcl__lik_ocl_prune_bufs *pb) {
  fitcl_context *ctx = L->ctx;
  struct fitcl__lik_ocl *o = ocl_of(L);
  fitcl_status st;
  const cl_int ntips = L->ntips, nn = L->nnodes, nint = L->nint, K = L->K, maxdeg = L->maxdeg;
  const cl_int root_grad = L->root_grad, wg = want_grad, bg = L->branch_grad;
  const cl_int ncomp = (cl_int)L->ncomp;
  const cl_long npx = (cl_long)L->npx;
  cl_kernel k = o->k_prune;
  cl_uint a = 0;
  ARG(k, a++, ntips); ARG(k, a++, nn); ARG(k, a++, nint); ARG(k, a++, K); ARG(k, a++, maxdeg);
  ARG(k, a++, o->sched); ARG(k, a++, o->sched_child); ARG(k, a++, o->tips); ARG(k, a++, npx);
  a += 2; /* ARG_POFS, ARG_CN */
  ARG(k, a++, o->bgroup); ARG(k, a++, o->kind); ARG(k, a++, o->weight); ARG(k, a++, pb->pm);
  ARG(k, a++, pb->par); ARG(k, a++, pb->pi_off); ARG(k, a++, root_grad); ARG(k, a++, wg);
  ARG(k, a++, bg); ARG(k, a++, ncomp); ARG(k, a++, o->tile); ARG(k, a++, o->in);
  ARG(k, a++, o->out); ARG(k, a++, o->sb); ARG(k, a++, pb->root); ARG(k, a++, pb->nsc);
  ARG(k, a++, o->wv); ARG(k, a++, pb->comp);
  return FITCL_OK;
}

fitcl_status fitcl__lik_ocl_run_chunks(fitcl_lik *L, size_t p0, size_t p1, int want_grad,
                                       cl_int nrc) {
  fitcl_context *ctx = L->ctx;
  struct fitcl__lik_ocl *o = ocl_of(L);
  fitcl_status st;
  for (size_t p = p0; p < p1; p += o->cn) {
    const cl_long pofs = (cl_long)p;
    const cl_long cn = (cl_long)((p1 - p < o->cn) ? p1 - p : o->cn);
    const cl_long blk0 = pofs / FITCL_REDUCE_BLOCK;
    ARG(o->k_prune, ARG_POFS, pofs);
    ARG(o->k_prune, ARG_CN, cn);
    TRY(fitcl__ocl_launch(ctx, o->k_prune, (size_t)cn, 0));
    if (!want_grad) continue;
    ARG(o->k_rows, 1, cn);
    ARG(o->k_rows, 3, blk0);
    TRY(fitcl__ocl_launch(ctx, o->k_rows, (size_t)(cn / FITCL_REDUCE_BLOCK) * (size_t)nrc, 0));
  }
  return FITCL_OK;
}
