/* Jacobian accumulation on OpenCL.
 *
 * The model's kernels (cl/common/accum_kernel.h instantiated with the
 * generated model functions) are built once, at fitcl_accum_create, through
 * the program cache.  Chunks stream through two buffer slots: the copy of
 * chunk k+1 (on the second queue) overlaps the kernels of chunk k (on the
 * main queue); events order them.  Each chunk's block partials are reduced
 * on the device in fixed groups and read back without blocking; the driver
 * folds them in chunk order.
 *
 * When every pass gives the same data (a->repeats: the solver's arrays and
 * files), the first pass uploads each piece into buffers of its own that
 * stay on the device, while a budget of device memory lasts; later passes
 * find the piece by its first row and copy nothing but the parameters, so
 * a fit whose data fit on the device moves only parameters up and partial
 * sums back.  Pieces beyond the budget stream through the slots as before.
 * Devices that read host memory in place (zero_copy) need neither.
 *
 * On a GPU, streamed pieces go through pinned staging memory: each slot
 * has a host buffer allocated by the driver (CL_MEM_ALLOC_HOST_PTR, mapped
 * once for the handle's life), the piece is copied into it, and the device
 * reads it by DMA at the bus's full rate, where a copy from the caller's
 * pageable memory goes through the driver's own staging at about half.
 * The caller's arrays are then free as soon as the copy into the staging
 * buffer is done, while the upload and the kernels of the piece run on. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/opencl/accum_resident.h"
#include "backends/opencl/clblast_api.h"
#include "common/accum_point.h"
#include "common/compat.h"
#include "core/context.h"
#include "core/util.h"
#include "device/opencl/ocl.h"
#include "backends/opencl/opencl.h"
#include "kernels/accum.h"

#define BLK FITCL_REDUCE_BLOCK
#define COMBINE FITCL_ACCUM_GROUP /* FITCL_ACCUM_COMBINE in the kernels */
#define BPG 8 /* FITCL_BPG in cl/common/accum_kernel.h */
/* The materialised path caps its piece length so G (piece x np doubles)
 * stays a modest buffer. */
#define CLBLAST_PIECE ((size_t)1 << 18)

int fitcl__accum_ocl_variant = 0;
int fitcl__accum_ocl_zero_copy = -1;
long long fitcl__accum_ocl_resident_budget = -1;
int fitcl__accum_ocl_pinned = -1;

typedef struct ocl_slot {
  cl_mem x, y, sigma, gsum;
  cl_mem wx, wx1, wy, ws; /* zero-copy: buffers wrapping the caller's arrays */
  cl_mem cx, cx1, cy, cs; /* what the kernels read for the current piece */
  cl_long off1;           /* kernel argument: offset of column 1 in cx1 */
  cl_long ld;             /* kernel argument: distance between x columns in cx */
  cl_mem pin;         /* pinned staging: x columns, y, sigma (NULL: none) */
  double *stage;      /* pin, mapped */
  cl_event up;        /* last upload of this slot */
  int staged;         /* that upload reads `stage`, not the caller's arrays */
  cl_event rd;        /* readback of gsum */
  double *host;       /* gsum on the host */
  size_t ngroups;     /* groups pending in host (0 = nothing pending) */
  uint64_t seq;       /* chunk number, to fold in order */
  double local[FITCL_ACCUM_NSUMS(FITCL_NLSQ_MAX_PARAMS)]; /* CLBlast: folded directly */
} ocl_slot;

typedef struct ocl_impl {
  cl_program prog;
  cl_kernel k_fused, k_cost, k_mat, k_combine, k_qr;
  size_t local;      /* FITCL_REDUCE_BLOCK for the work-group kernels, 0 for _loop ones */
  size_t cpu_local;  /* CPU device: explicit work-group size where we have no other (1) */
  int vec8;          /* the double8 kernels: FITCL_VEC8_BLOCKS blocks per work-item */
  cl_mem params, partial, G, rtv, C, jtr;
  cl_mem qrA;        /* QR passes: each group's block rows (made at the first) */
  ocl_slot slot[2];
  int cur;
  size_t cap;        /* points per piece (device buffers) */
  int zero_copy;     /* kernels read the caller's arrays in place */
  int pinned;        /* streamed pieces go through the slots' pinned staging */
  uint64_t seq;
  fitcl__resident_store resident; /* pieces kept on the device (a->repeats) */
} ocl_impl;

/* The work-group size of the per-block kernels: FITCL_REDUCE_BLOCK for the
 * work-group variants, else one item per group on CPU devices (see
 * cpu_local), else the implementation's choice. */
static const size_t *block_local(const ocl_impl *o) {
  if (o->local) return &o->local;
  return o->cpu_local ? &o->cpu_local : NULL;
}

static fitcl_status clfail(fitcl_accum *a, cl_int err, const char *what) {
  return fitcl__ocl_check(a->ctx, err, what);
}

static char *make_source(const fitcl_accum *a) {
  char *fns = fitcl__model_opencl_functions(a->m);
  if (!fns) return NULL;
  fitcl__buf b = {0};
  fitcl__buf_printf(&b,
                    "/* fitcl Jacobian accumulation, generated */\n"
                    "#pragma OPENCL FP_CONTRACT OFF\n"
                    "#include \"common/compat.h\"\n#include \"common/vmath.h\"\n"
                    "#define FITCL_NP %d\n#define FITCL_NV %d\n", a->np, a->nv);
  fitcl__buf_printf(&b, "%s\n#include \"common/accum_kernel.h\"\n", fns);
  free(fns);
  if (b.oom) {
    fitcl__buf_free(&b);
    return NULL;
  }
  fitcl__buf_append(&b, "", 1);
  return b.data;
}

static fitcl_status alloc(fitcl_accum *a, size_t bytes, cl_mem_flags flags, cl_mem *out) {
  return fitcl__ocl_alloc(a->ctx, flags, bytes ? bytes : 8, NULL, out);
}

static fitcl_status wait_fold(fitcl_accum *a, ocl_slot *s) {
  if (!s->ngroups) return FITCL_OK;
  cl_int err = clWaitForEvents(1, &s->rd);
  clReleaseEvent(s->rd);
  s->rd = NULL;
  size_t ng = s->ngroups;
  s->ngroups = 0;
  if (err != CL_SUCCESS) return clfail(a, err, "accumulation readback");
  fitcl__accum_fold(a, s->host, ng);
  return FITCL_OK;
}

/* Folds pending slots oldest first. */
static fitcl_status drain(fitcl_accum *a) {
  ocl_impl *o = a->impl;
  ocl_slot *s0 = &o->slot[0], *s1 = &o->slot[1];
  ocl_slot *first = s0->seq <= s1->seq ? s0 : s1, *second = first == s0 ? s1 : s0;
  fitcl_status st = wait_fold(a, first);
  fitcl_status st2 = wait_fold(a, second);
  return st != FITCL_OK ? st : st2;
}

/* xarg: index of the kernel's x1 argument (followed by off1). */
static fitcl_status set_common_args(fitcl_accum *a, cl_kernel k, ocl_slot *s, size_t n,
                                    cl_uint xarg) {
  ocl_impl *o = a->impl;
  cl_long nn = (cl_long)n;
  double c2 = a->f_scale * a->f_scale, inv_c2 = 1.0 / c2;
  cl_int err = 0;
  err |= clSetKernelArg(k, 0, sizeof(cl_mem), &o->params);
  err |= clSetKernelArg(k, 1, sizeof(cl_mem), &s->cx);
  err |= clSetKernelArg(k, 2, sizeof s->ld, &s->ld);
  err |= clSetKernelArg(k, 3, sizeof(cl_mem), &s->cy);
  err |= clSetKernelArg(k, 4, sizeof(cl_mem), &s->cs);
  err |= clSetKernelArg(k, 6, sizeof nn, &nn);
  err |= clSetKernelArg(k, 7, sizeof c2, &c2);
  err |= clSetKernelArg(k, 8, sizeof inv_c2, &inv_c2);
  err |= clSetKernelArg(k, xarg, sizeof(cl_mem), &s->cx1);
  err |= clSetKernelArg(k, xarg + 1, sizeof s->off1, &s->off1);
  return err ? clfail(a, CL_INVALID_ARG_VALUE, "clSetKernelArg (accumulation)") : FITCL_OK;
}

static void release_wraps(ocl_slot *s) {
  FITCL__CL_RELEASE_MEM(s->wx);
  FITCL__CL_RELEASE_MEM(s->wx1);
  FITCL__CL_RELEASE_MEM(s->wy);
  FITCL__CL_RELEASE_MEM(s->ws);
}

/* Wraps the caller's arrays (devices sharing host memory, two variables at
 * most): the kernels read them in place, no copy at all. */
static fitcl_status wrap(fitcl_accum *a, ocl_slot *s, const double *const *x, const double *y,
                         const double *sigma, size_t n) {
  cl_context cc = fitcl__ocl_of(a->ctx)->context;
  cl_mem_flags fl = CL_MEM_READ_ONLY | CL_MEM_USE_HOST_PTR;
  cl_int err = CL_SUCCESS;
  size_t bytes = n * sizeof(double);
  release_wraps(s);
  /* The kernels only read: dropping const for the OpenCL API is safe. */
  if (a->nv >= 1) s->wx = clCreateBuffer(cc, fl, bytes, (void *)(uintptr_t)x[0], &err);
  if (err == CL_SUCCESS && a->nv >= 2)
    s->wx1 = clCreateBuffer(cc, fl, bytes, (void *)(uintptr_t)x[1], &err);
  if (err == CL_SUCCESS) s->wy = clCreateBuffer(cc, fl, bytes, (void *)(uintptr_t)y, &err);
  if (err == CL_SUCCESS && sigma)
    s->ws = clCreateBuffer(cc, fl, bytes, (void *)(uintptr_t)sigma, &err);
  if (err != CL_SUCCESS) return clfail(a, err, "clCreateBuffer (CL_MEM_USE_HOST_PTR chunk)");
  s->cx = s->wx ? s->wx : s->x;
  s->cx1 = s->wx1 ? s->wx1 : s->cx;
  s->off1 = 0;
  s->ld = (cl_long)((ocl_impl *)a->impl)->cap;
  s->cy = s->wy;
  s->cs = s->ws ? s->ws : s->sigma;
  return FITCL_OK;
}

/* Enqueues the copy of one piece's columns into x (column j at x + j*ld),
 * y and sigma on the copy queue; *done marks its completion.  With a
 * staging buffer (pinned, of the slot's layout, its last upload complete)
 * the piece is first copied there, and the caller's arrays are free on
 * return. */
static fitcl_status write_piece(fitcl_accum *a, cl_mem xb, size_t ld, cl_mem yb, cl_mem sb,
                                const double *const *x, const double *y, const double *sigma,
                                size_t n, double *stage, cl_event *done) {
  fitcl__ocl *ocl = fitcl__ocl_of(a->ctx);
  cl_command_queue q = ocl->queue2 ? ocl->queue2 : ocl->queue;
  size_t bytes = n * sizeof(double);
  cl_int err = CL_SUCCESS;
  if (stage) {
    /* The staging buffer holds the columns at the device buffer's layout:
     * x column j at j*ld, then y, then sigma. */
    for (int j = 0; j < a->nv; ++j) memcpy(stage + (size_t)j * ld, x[j], bytes);
    double *ys = stage + (size_t)a->nv * ld, *ss = ys + ld;
    memcpy(ys, y, bytes);
    if (sigma) memcpy(ss, sigma, bytes);
    const double *cols[FITCL_NLSQ_MAX_VARS];
    for (int j = 0; j < a->nv; ++j) cols[j] = stage + (size_t)j * ld;
    a->bytes_staged += (uint64_t)(a->nv + 1 + (sigma != NULL)) * bytes;
    return write_piece(a, xb, ld, yb, sb, cols, ys, sigma ? ss : NULL, n, NULL, done);
  }
  for (int j = 0; j < a->nv && err == CL_SUCCESS; ++j)
    err = clEnqueueWriteBuffer(q, xb, CL_FALSE, (size_t)j * ld * sizeof(double), bytes, x[j], 0,
                               NULL, NULL);
  if (err == CL_SUCCESS && sigma)
    err = clEnqueueWriteBuffer(q, sb, CL_FALSE, 0, bytes, sigma, 0, NULL, NULL);
  if (err == CL_SUCCESS) err = clEnqueueWriteBuffer(q, yb, CL_FALSE, 0, bytes, y, 0, NULL, done);
  if (err == CL_SUCCESS) err = clFlush(q);
  if (err != CL_SUCCESS) return clfail(a, err, "clEnqueueWriteBuffer (accumulation chunk)");
  a->bytes_uploaded += (uint64_t)(a->nv + 1 + (sigma != NULL)) * bytes;
  return FITCL_OK;
}

/* Points slot s at the resident copy of the piece at `row`, making it
 * (and enqueueing its upload) if the budget allows; *used says whether it
 * did, else the piece streams. */
static fitcl_status use_resident(fitcl_accum *a, ocl_slot *s, uint64_t row,
                                 const double *const *x, const double *y, const double *sigma,
                                 size_t n, int *used) {
  ocl_impl *o = a->impl;
  *used = 0;
  fitcl__resident_piece *r = fitcl__resident_find(&o->resident, row);
  if (r && (r->n != n || r->has_sigma != (sigma != NULL))) return FITCL_OK; /* chunked otherwise */
  if (!r) {
    r = fitcl__resident_make(a->ctx, &o->resident, row, n, a->nv, sigma != NULL);
    if (!r) return FITCL_OK;
    fitcl_status st = write_piece(a, r->x, n, r->y, r->sigma, x, y, sigma, n, NULL, &s->up);
    if (st != FITCL_OK) {
      fitcl__resident_unmake(&o->resident, r);
      return st;
    }
  }
  s->cx = r->x;
  s->cx1 = r->x;
  s->ld = (cl_long)n;
  s->off1 = (cl_long)n;
  s->cy = r->y;
  s->cs = r->sigma ? r->sigma : s->sigma;
  *used = 1;
  return FITCL_OK;
}

/* Makes one piece (first row `row`) readable by the kernels through slot
 * s: in place, resident, or uploaded into the slot on the copy queue;
 * s->up marks the completion of any copy. */
static fitcl_status upload(fitcl_accum *a, ocl_slot *s, uint64_t row, const double *const *x,
                           const double *y, const double *sigma, size_t n) {
  ocl_impl *o = a->impl;
  if (s->up) {
    clReleaseEvent(s->up);
    s->up = NULL;
  }
  s->staged = 0;
  if (o->zero_copy) return wrap(a, s, x, y, sigma, n);
  if (a->repeats) {
    int used = 0;
    fitcl_status st = use_resident(a, s, row, x, y, sigma, n, &used);
    if (st != FITCL_OK || used) return st;
  }
  s->cx = s->x;
  s->cx1 = s->x;
  s->ld = (cl_long)o->cap;
  s->off1 = (cl_long)o->cap; /* column j at x + j * cap */
  s->cy = s->y;
  s->cs = s->sigma;
  s->staged = s->stage != NULL;
  return write_piece(a, s->x, o->cap, s->y, s->sigma, x, y, sigma, n, s->stage, &s->up);
}

/* After a pass wrote one partial per block: the combine kernel adds
 * COMBINE blocks' partials in block order per group, and the groups' sums
 * are read back without waiting; the driver adds the groups in order. */
static fitcl_status combine_blocks(fitcl_accum *a, ocl_slot *s, size_t nblocks) {
  fitcl__ocl *ocl = fitcl__ocl_of(a->ctx);
  ocl_impl *o = a->impl;
  cl_kernel k = o->k_combine;
  cl_int stride = fitcl__accum_stride(a);
  cl_long nb = (cl_long)nblocks;
  size_t ngroups = (nblocks + COMBINE - 1) / COMBINE;
  cl_int err = clSetKernelArg(k, 0, sizeof(cl_mem), &o->partial);
  err |= clSetKernelArg(k, 1, sizeof nb, &nb);
  err |= clSetKernelArg(k, 2, sizeof stride, &stride);
  err |= clSetKernelArg(k, 3, sizeof(cl_mem), &s->gsum);
  if (err) return clfail(a, CL_INVALID_ARG_VALUE, "clSetKernelArg (accumulation combine)");
  /* One work-item per group and entry. */
  size_t global = ngroups * (size_t)stride;
  err = clEnqueueNDRangeKernel(ocl->queue, k, 1, NULL, &global,
                               o->cpu_local ? &o->cpu_local : NULL, 0, NULL, NULL);
  if (err != CL_SUCCESS) return clfail(a, err, "clEnqueueNDRangeKernel (accumulation combine)");
  err = clEnqueueReadBuffer(ocl->queue, s->gsum, CL_FALSE, 0,
                            ngroups * (size_t)stride * sizeof(double), s->host, 0, NULL, &s->rd);
  if (err != CL_SUCCESS) return clfail(a, err, "clEnqueueReadBuffer (accumulation)");
  clFlush(ocl->queue);
  s->ngroups = ngroups;
  return FITCL_OK;
}

/* A QR pass: one work-item per group of FITCL_ACCUM_GROUP blocks forms the
 * group's triangle as the pthreads path does (cl/common/accum_kernel.h),
 * each with a block's rows in its part of qrA; the groups' vectors are
 * read back without waiting, and the driver merges them in order. */
static fitcl_status run_qr(fitcl_accum *a, ocl_slot *s, size_t n, int has_sigma) {
  fitcl__ocl *ocl = fitcl__ocl_of(a->ctx);
  ocl_impl *o = a->impl;
  const size_t gp = (size_t)FITCL_ACCUM_GROUP * BLK;
  if (!o->qrA) {
    /* Made at the first QR pass: most fits never run one. */
    size_t groups = (o->cap + gp - 1) / gp;
    fitcl_status st = alloc(a, groups * (size_t)(a->np + 1) * BLK * sizeof(double),
                            CL_MEM_READ_WRITE, &o->qrA);
    if (st != FITCL_OK) return st;
  }
  cl_kernel k = o->k_qr;
  fitcl_status st = set_common_args(a, k, s, n, 11);
  if (st != FITCL_OK) return st;
  cl_int hs = (has_sigma ? 1 : 0) | ((cl_int)a->loss << 1);
  cl_int err = clSetKernelArg(k, 5, sizeof hs, &hs);
  err |= clSetKernelArg(k, 9, sizeof(cl_mem), &s->gsum);
  err |= clSetKernelArg(k, 10, sizeof(cl_mem), &o->qrA);
  if (err) return clfail(a, CL_INVALID_ARG_VALUE, "clSetKernelArg (QR pass)");
  size_t ngroups = (n + gp - 1) / gp, global = ngroups;
  err = clEnqueueNDRangeKernel(ocl->queue, k, 1, NULL, &global,
                               o->cpu_local ? &o->cpu_local : NULL, s->up ? 1 : 0,
                               s->up ? &s->up : NULL, NULL);
  if (err != CL_SUCCESS) return clfail(a, err, "clEnqueueNDRangeKernel (QR pass)");
  err = clEnqueueReadBuffer(ocl->queue, s->gsum, CL_FALSE, 0,
                            ngroups * (size_t)fitcl__accum_stride(a) * sizeof(double), s->host, 0,
                            NULL, &s->rd);
  if (err != CL_SUCCESS) return clfail(a, err, "clEnqueueReadBuffer (QR pass)");
  clFlush(ocl->queue);
  s->ngroups = ngroups;
  return FITCL_OK;
}

static fitcl_status run_fused(fitcl_accum *a, ocl_slot *s, size_t n, int has_sigma) {
  fitcl__ocl *ocl = fitcl__ocl_of(a->ctx);
  ocl_impl *o = a->impl;
  if (a->qr) return run_qr(a, s, n, has_sigma);
  cl_kernel k = a->want_jac ? o->k_fused : o->k_cost;
  fitcl_status st = set_common_args(a, k, s, n, 10);
  if (st != FITCL_OK) return st;
  cl_int hs = (has_sigma ? 1 : 0) | ((cl_int)a->loss << 1);
  cl_int err = clSetKernelArg(k, 5, sizeof hs, &hs);
  err |= clSetKernelArg(k, 9, sizeof(cl_mem), &o->partial);
  if (err) return clfail(a, CL_INVALID_ARG_VALUE, "clSetKernelArg (accumulation)");
  size_t nblocks = (n + BLK - 1) / BLK;
  size_t global = o->local ? (nblocks + BPG - 1) / BPG * o->local : nblocks;
  if (o->vec8) global = (nblocks + FITCL_VEC8_BLOCKS - 1) / FITCL_VEC8_BLOCKS;
  err = clEnqueueNDRangeKernel(ocl->queue, k, 1, NULL, &global, block_local(o), s->up ? 1 : 0,
                               s->up ? &s->up : NULL, NULL);
  if (err != CL_SUCCESS) return clfail(a, err, "clEnqueueNDRangeKernel (accumulation)");
  return combine_blocks(a, s, nblocks);
}

/* Materialised Jacobian + CLBlast Dsyrk (JᵀJ) + Dgemv (Jᵀr); synchronous. */
static fitcl_status run_clblast(fitcl_accum *a, ocl_slot *s, size_t n, int has_sigma) {
  fitcl__ocl *ocl = fitcl__ocl_of(a->ctx);
  ocl_impl *o = a->impl;
  if (!a->want_jac || a->qr) return run_fused(a, s, n, has_sigma);
  cl_kernel k = o->k_mat;
  fitcl_status st = set_common_args(a, k, s, n, 12);
  if (st != FITCL_OK) return st;
  cl_int hs = (has_sigma ? 1 : 0) | ((cl_int)a->loss << 1);
  cl_int err = clSetKernelArg(k, 5, sizeof hs, &hs);
  err |= clSetKernelArg(k, 9, sizeof(cl_mem), &o->G);
  err |= clSetKernelArg(k, 10, sizeof(cl_mem), &o->rtv);
  err |= clSetKernelArg(k, 11, sizeof(cl_mem), &o->partial);
  if (err) return clfail(a, CL_INVALID_ARG_VALUE, "clSetKernelArg (materialise)");
  size_t nblocks = (n + BLK - 1) / BLK;
  size_t global = o->local ? (nblocks + BPG - 1) / BPG * o->local : nblocks;
  err = clEnqueueNDRangeKernel(ocl->queue, k, 1, NULL, &global, block_local(o), s->up ? 1 : 0,
                               s->up ? &s->up : NULL, NULL);
  if (err != CL_SUCCESS) return clfail(a, err, "clEnqueueNDRangeKernel (materialise)");
  cl_command_queue q = ocl->queue;
  /* CLBlast computes beta*C even for beta = 0, so stale NaN or garbage in
   * the outputs would leak through 0*NaN: clear them first. */
  const double zero = 0.0;
  err = clEnqueueFillBuffer(q, o->C, &zero, sizeof zero, 0,
                            (size_t)(a->np * a->np) * sizeof(double), 0, NULL, NULL);
  if (err == CL_SUCCESS)
    err = clEnqueueFillBuffer(q, o->jtr, &zero, sizeof zero, 0, (size_t)a->np * sizeof(double), 0,
                              NULL, NULL);
  if (err != CL_SUCCESS) return clfail(a, err, "clEnqueueFillBuffer (CLBlast outputs)");
  CLBlastStatusCode cs = CLBlastDsyrk(CLBlastLayoutRowMajor, CLBlastTriangleUpper,
                                      CLBlastTransposeYes, (size_t)a->np, n, 1.0, o->G, 0,
                                      (size_t)a->np, 0.0, o->C, 0, (size_t)a->np, &q, NULL);
  if (cs != CLBlastSuccess)
    return fitcl__fail(a->ctx, FITCL_ERR_OPENCL, "CLBlastDsyrk failed with status %d", (int)cs);
  cs = CLBlastDgemv(CLBlastLayoutRowMajor, CLBlastTransposeYes, n, (size_t)a->np, 1.0, o->G, 0,
                    (size_t)a->np, o->rtv, 0, 1, 0.0, o->jtr, 0, 1, &q, NULL);
  if (cs != CLBlastSuccess)
    return fitcl__fail(a->ctx, FITCL_ERR_OPENCL, "CLBlastDgemv failed with status %d", (int)cs);
  /* Cost and rss: the same grouped combine as the fused path. */
  cl_int stride = 2;
  cl_long nb = (cl_long)nblocks;
  size_t ngroups = (nblocks + COMBINE - 1) / COMBINE;
  err = clSetKernelArg(o->k_combine, 0, sizeof(cl_mem), &o->partial);
  err |= clSetKernelArg(o->k_combine, 1, sizeof nb, &nb);
  err |= clSetKernelArg(o->k_combine, 2, sizeof stride, &stride);
  err |= clSetKernelArg(o->k_combine, 3, sizeof(cl_mem), &s->gsum);
  if (err) return clfail(a, CL_INVALID_ARG_VALUE, "clSetKernelArg (accumulation combine)");
  global = ngroups * 2;
  err = clEnqueueNDRangeKernel(q, o->k_combine, 1, NULL, &global,
                               o->cpu_local ? &o->cpu_local : NULL, 0, NULL, NULL);
  if (err != CL_SUCCESS) return clfail(a, err, "clEnqueueNDRangeKernel (accumulation combine)");
  int np = a->np;
  double C[FITCL_NLSQ_MAX_PARAMS * FITCL_NLSQ_MAX_PARAMS], jtr[FITCL_NLSQ_MAX_PARAMS];
  err = clEnqueueReadBuffer(q, s->gsum, CL_FALSE, 0, ngroups * 2 * sizeof(double), s->host, 0,
                            NULL, NULL);
  if (err == CL_SUCCESS)
    err = clEnqueueReadBuffer(q, o->C, CL_FALSE, 0, (size_t)(np * np) * sizeof(double), C, 0,
                              NULL, NULL);
  if (err == CL_SUCCESS)
    err = clEnqueueReadBuffer(q, o->jtr, CL_TRUE, 0, (size_t)np * sizeof(double), jtr, 0, NULL,
                              NULL);
  if (err != CL_SUCCESS) return clfail(a, err, "clEnqueueReadBuffer (CLBlast path)");
  double *v = s->local;
  int t = 0;
  for (int i = 0; i < np; ++i)
    for (int j = i; j < np; ++j) v[t++] = C[i * np + j];
  for (int i = 0; i < np; ++i) v[t++] = jtr[i];
  fitcl__ksum cost = {0, 0}, rss = {0, 0};
  for (size_t g = 0; g < ngroups; ++g) {
    fitcl__ksum_add(&cost, s->host[2 * g]);
    fitcl__ksum_add(&rss, s->host[2 * g + 1]);
  }
  v[t++] = fitcl__ksum_value(&cost);
  v[t++] = fitcl__ksum_value(&rss);
  fitcl__accum_fold(a, v, 1);
  return FITCL_OK;
}

static fitcl_status ocl_chunk(fitcl_accum *a, const double *const *x, const double *y,
                              const double *sigma, size_t n) {
  ocl_impl *o = a->impl;
  fitcl_status st = FITCL_OK;
  for (size_t off = 0; off < n && st == FITCL_OK; off += o->cap) {
    size_t len = n - off < o->cap ? n - off : o->cap;
    const double *xs[FITCL_NLSQ_MAX_VARS];
    for (int j = 0; j < a->nv; ++j) xs[j] = x[j] + off;
    ocl_slot *s = &o->slot[o->cur];
    ocl_slot *prev = &o->slot[o->cur ^ 1];
    o->cur ^= 1;
    /* The slot's previous chunk (two back) must be done before its buffers
     * are overwritten; folding it here keeps chunk order. */
    st = wait_fold(a, s);
    if (st != FITCL_OK) break;
    st = upload(a, s, a->row + off, xs, y + off, sigma ? sigma + off : NULL, len);
    if (st != FITCL_OK) break;
    s->seq = ++o->seq;
    if (a->path == FITCL_ACCUM_PATH_CLBLAST) st = run_clblast(a, s, len, sigma != NULL);
    else st = run_fused(a, s, len, sigma != NULL);
    if (st != FITCL_OK) break;
    /* The previous chunk's host arrays may be reused by the caller once
     * this call returns: its upload (or, read in place, its kernels) must
     * be complete, unless it was copied into pinned staging. */
    if (prev->up && !prev->staged) {
      cl_int err = clWaitForEvents(1, &prev->up);
      if (err != CL_SUCCESS) st = clfail(a, err, "upload wait");
    }
    if (o->zero_copy && prev->rd && prev->ngroups) {
      cl_int err = clWaitForEvents(1, &prev->rd);
      if (err != CL_SUCCESS) st = clfail(a, err, "kernel wait");
    }
  }
  return st;
}

static fitcl_status ocl_finish(fitcl_accum *a) {
  ocl_impl *o = a->impl;
  fitcl_status st = drain(a);
  /* Nothing may refer to the caller's arrays after the pass. */
  for (int i = 0; i < 2; ++i) release_wraps(&o->slot[i]);
  for (int i = 0; i < 2; ++i)
    if (o->slot[i].up) {
      clWaitForEvents(1, &o->slot[i].up);
      clReleaseEvent(o->slot[i].up);
      o->slot[i].up = NULL;
    }
  return st;
}

static fitcl_status ocl_begin(fitcl_accum *a) {
  ocl_impl *o = a->impl;
  return fitcl__ocl_write(a->ctx, o->params, 0, (size_t)a->np * sizeof(double), a->params);
}

/* Times one pass over a synthetic piece on the current path (ns/point). */
static double time_path(fitcl_accum *a, int path, size_t n, const double *const *x,
                        const double *y) {
  int saved = a->path;
  a->path = path;
  double best = INFINITY;
  for (int rep = 0; rep < 3; ++rep) {
    double t0 = fitcl__now();
    a->want_jac = 1;
    if (ocl_begin(a) != FITCL_OK || ocl_chunk(a, x, y, NULL, n) != FITCL_OK ||
        ocl_finish(a) != FITCL_OK) {
      best = INFINITY;
      break;
    }
    double dt = fitcl__now() - t0;
    if (rep > 0 && dt < best) best = dt; /* rep 0 warms up (CLBlast builds its kernels) */
  }
  a->path = saved;
  for (int k = 0; k < a->nsums; ++k) fitcl__xsum_init(&a->acc[k]);
  return best * 1e9 / (double)n;
}

static fitcl_status choose_path(fitcl_accum *a) {
  /* Narrow models are always fused: the materialised path writes and reads
   * n*np doubles that the fused pass never touches. */
  if (a->np < 8) {
    a->path = FITCL_ACCUM_PATH_FUSED;
    return FITCL_OK;
  }
  /* On CPU devices the fused kernel keeps J in registers and caches; the
   * materialised path only adds memory traffic, and measuring it would make
   * every process compile CLBlast's kernels (CLBlast keeps no binary cache). */
  cl_device_type dtype = 0;
  clGetDeviceInfo(fitcl__ocl_of(a->ctx)->device, CL_DEVICE_TYPE, sizeof dtype, &dtype, NULL);
  if ((dtype & CL_DEVICE_TYPE_CPU) && !fitcl__accum_ocl_variant) {
    a->path = FITCL_ACCUM_PATH_FUSED;
    return FITCL_OK;
  }
  char why[512];
  if (!fitcl__clblast_load(why, sizeof why)) {
    fitcl__log(a->ctx, FITCL_LOG_INFO, "accumulation: fused path; CLBlast is unavailable: %s", why);
    a->path = FITCL_ACCUM_PATH_FUSED;
    return FITCL_OK;
  }
  size_t n = a->max_chunk < ((size_t)1 << 16) ? a->max_chunk : ((size_t)1 << 16);
  double *buf = malloc((size_t)(a->nv + 1) * n * sizeof *buf);
  if (!buf) return fitcl__fail(a->ctx, FITCL_ERR_NOMEM, "out of memory");
  const double *x[FITCL_NLSQ_MAX_VARS];
  for (int j = 0; j <= a->nv; ++j)
    for (size_t i = 0; i < n; ++i) buf[(size_t)j * n + i] = 0.5 + (double)i / (double)n;
  for (int j = 0; j < a->nv; ++j) x[j] = buf + (size_t)j * n;
  for (int k = 0; k < a->np; ++k) a->params[k] = 0.5;
  double tf = time_path(a, FITCL_ACCUM_PATH_FUSED, n, x, buf + (size_t)a->nv * n);
  double tc = time_path(a, FITCL_ACCUM_PATH_CLBLAST, n, x, buf + (size_t)a->nv * n);
  free(buf);
  fitcl__clear_error(a->ctx);
  a->info.fused_cost_ns = tf;
  a->info.clblast_cost_ns = isfinite(tc) ? tc : 0;
  a->path = tc < tf ? FITCL_ACCUM_PATH_CLBLAST : FITCL_ACCUM_PATH_FUSED;
  return FITCL_OK;
}

/* Allocates and maps slot s's pinned staging buffer.  Staging only
 * speeds the copies up: where the driver cannot give it, the slot streams
 * from the caller's arrays as before. */
static void map_stage(fitcl_accum *a, ocl_slot *s, size_t bytes) {
  fitcl__ocl *ocl = fitcl__ocl_of(a->ctx);
  cl_int err;
  const cl_mem_flags fl = CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR;
  s->pin = clCreateBuffer(ocl->context, fl, bytes, NULL, &err);
  if (err != CL_SUCCESS) {
    s->pin = NULL;
    fitcl__log(a->ctx, FITCL_LOG_INFO, "accumulation: no pinned staging (%d): streaming from "
               "the caller's arrays", (int)err);
    return;
  }
  s->stage = clEnqueueMapBuffer(ocl->queue, s->pin, CL_TRUE, CL_MAP_WRITE, 0, bytes, 0, NULL,
                                NULL, &err);
  if (err != CL_SUCCESS || !s->stage) {
    s->stage = NULL;
    FITCL__CL_RELEASE_MEM(s->pin);
    fitcl__log(a->ctx, FITCL_LOG_INFO, "accumulation: pinned staging not mapped (%d)", (int)err);
  }
}

static void unmap_stage(fitcl_accum *a, ocl_slot *s) {
  if (s->stage && a->ctx && fitcl__ocl_of(a->ctx)) {
    cl_command_queue q = fitcl__ocl_of(a->ctx)->queue;
    clEnqueueUnmapMemObject(q, s->pin, s->stage, 0, NULL, NULL);
    clFinish(q);
  }
  s->stage = NULL;
  FITCL__CL_RELEASE_MEM(s->pin);
}

static fitcl_status ocl_create(fitcl_accum *a) {
  fitcl_context *ctx = a->ctx;
  /* A device computing in mixed or single precision has its own kernels
   * and driver (accum_ocl_mp.c); the handle is its from here on. */
  if (ctx->backend->caps.precision != FITCL_PRECISION_DOUBLE) {
    a->ops = &fitcl__accum_ocl_mp_ops;
    return a->ops->create(a);
  }
  /* CLBlast is loaded the first time its path is wanted; asked for by name
   * and absent, say why before building anything. */
  char why[512];
  if (a->path == FITCL_ACCUM_PATH_CLBLAST && !fitcl__clblast_load(why, sizeof why))
    return fitcl__fail(ctx, FITCL_ERR_UNSUPPORTED, "the CLBlast path (path=2) is unavailable: %s",
                       why);
  ocl_impl *o = calloc(1, sizeof *o);
  if (!o) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  a->impl = o;
  o->cur = 0;
  char *src = make_source(a);
  if (!src) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory generating kernel source");
  fitcl_status st = fitcl__ocl_build_source(ctx, "accumulation model", src, NULL, &o->prog);
  free(src);
  if (st != FITCL_OK) return st;
  a->info.program_builds = 1;
  cl_int err;
  /* Kernel variants: on CPU devices with an expression model and the
   * linear loss, explicit double8 kernels (one work-item per block); on
   * other devices one work-group per block where FITCL_REDUCE_BLOCK items
   * per group are allowed; otherwise one work-item looping over a block. */
  cl_device_type dtype = 0;
  clGetDeviceInfo(fitcl__ocl_of(a->ctx)->device, CL_DEVICE_TYPE, sizeof dtype, &dtype, NULL);
  int vec8 = (dtype & CL_DEVICE_TYPE_CPU) && a->m->kind == FITCL__MODEL_EXPR &&
             a->loss == FITCL_LOSS_LINEAR && a->np <= 8;
  size_t wg = 0;
  o->k_fused = clCreateKernel(o->prog, "fitcl_accum_fused", &err);
  if (err == CL_SUCCESS)
    err = clGetKernelWorkGroupInfo(o->k_fused, fitcl__ocl_of(a->ctx)->device, CL_KERNEL_WORK_GROUP_SIZE,
                                   sizeof wg, &wg, NULL);
  const char *suffix = err == CL_SUCCESS && wg >= BLK && !(dtype & CL_DEVICE_TYPE_CPU) ? "" : "_loop";
  /* A variant forced by a test, else one a tuning run chose for the device. */
  int variant = fitcl__accum_ocl_variant ? fitcl__accum_ocl_variant
                                         : ctx->backend->tuning.accum_variant;
  if (variant) {
    vec8 = vec8 && variant == 3;
    suffix = variant == 1 && err == CL_SUCCESS && wg >= BLK ? "" : "_loop";
  }
  o->local = suffix[0] ? 0 : BLK;
  /* Left to choose, PoCL picks a work-group size from the global size and
   * compiles a work-group function for each size it picks: chunks of new
   * lengths then trigger hidden kernel compilations (5 for the 7 lengths of
   * the benchmark, each taking a good fraction of a second).  One item per
   * group is always a divisor, so a single compiled variant serves every
   * length; it measured as fast as PoCL's choices. */
  o->cpu_local = (dtype & CL_DEVICE_TYPE_CPU) ? 1 : 0;
  o->vec8 = vec8;
  FITCL__CL_RELEASE_KERNEL(o->k_fused);
  err = CL_SUCCESS;
  char kn[64];
  snprintf(kn, sizeof kn, "fitcl_accum_fused%s", vec8 ? "_vec8" : suffix);
  o->k_fused = clCreateKernel(o->prog, kn, &err);
  snprintf(kn, sizeof kn, "fitcl_accum_cost%s", vec8 ? "_vec8" : suffix);
  if (err == CL_SUCCESS) o->k_cost = clCreateKernel(o->prog, kn, &err);
  snprintf(kn, sizeof kn, "fitcl_accum_materialise%s", suffix);
  if (err == CL_SUCCESS) o->k_mat = clCreateKernel(o->prog, kn, &err);
  if (err == CL_SUCCESS) o->k_combine = clCreateKernel(o->prog, "fitcl_accum_combine", &err);
  if (err == CL_SUCCESS) o->k_qr = clCreateKernel(o->prog, "fitcl_accum_qr_group", &err);
  if (err != CL_SUCCESS) return clfail(a, err, "clCreateKernel (accumulation)");
  int want_clblast = a->path != FITCL_ACCUM_PATH_FUSED;
  o->cap = a->max_chunk;
  if (want_clblast && o->cap > CLBLAST_PIECE) o->cap = CLBLAST_PIECE;
  cl_bool unified = CL_FALSE;
  clGetDeviceInfo(fitcl__ocl_of(a->ctx)->device, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified,
                  NULL);
  o->zero_copy = unified && a->nv <= 2;
  if (fitcl__accum_ocl_zero_copy >= 0) o->zero_copy = o->zero_copy && fitcl__accum_ocl_zero_copy;
  o->pinned = !o->zero_copy && (fitcl__accum_ocl_pinned < 0 ? !ctx->backend->caps.cpu_device
                                                             : fitcl__accum_ocl_pinned);
  size_t cap = o->cap, nblocks = (cap + BLK - 1) / BLK;
  size_t ngroups = (nblocks + COMBINE - 1) / COMBINE;
  size_t ns = (size_t)a->nsums + 1; /* a QR pass's vectors are one longer */
  st = alloc(a, (size_t)a->np * sizeof(double), CL_MEM_READ_ONLY, &o->params);
  if (st == FITCL_OK) st = alloc(a, nblocks * ns * sizeof(double), CL_MEM_READ_WRITE, &o->partial);
  for (int i = 0; i < 2 && st == FITCL_OK; ++i) {
    ocl_slot *s = &o->slot[i];
    st = alloc(a, (size_t)a->nv * cap * sizeof(double), CL_MEM_READ_ONLY, &s->x);
    if (st == FITCL_OK) st = alloc(a, cap * sizeof(double), CL_MEM_READ_ONLY, &s->y);
    if (st == FITCL_OK) st = alloc(a, cap * sizeof(double), CL_MEM_READ_ONLY, &s->sigma);
    if (st == FITCL_OK) st = alloc(a, ngroups * ns * sizeof(double), CL_MEM_READ_WRITE, &s->gsum);
    if (st == FITCL_OK && !(s->host = malloc(ngroups * ns * sizeof(double))))
      st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
    if (st == FITCL_OK && o->pinned) map_stage(a, s, ((size_t)a->nv + 2) * cap * sizeof(double));
  }
  if (st == FITCL_OK && want_clblast) {
    st = alloc(a, cap * (size_t)a->np * sizeof(double), CL_MEM_READ_WRITE, &o->G);
    if (st == FITCL_OK) st = alloc(a, cap * sizeof(double), CL_MEM_READ_WRITE, &o->rtv);
    if (st == FITCL_OK)
      st = alloc(a, (size_t)(a->np * a->np) * sizeof(double), CL_MEM_READ_WRITE, &o->C);
    if (st == FITCL_OK) st = alloc(a, (size_t)a->np * sizeof(double), CL_MEM_READ_WRITE, &o->jtr);
  }
  if (st != FITCL_OK) return st;
  /* Resident data may take half the device's memory, what the working
   * buffers above take already counted as the other half's start. */
  o->resident.budget = ctx->backend->caps.global_mem / 2;
  if (fitcl__accum_ocl_resident_budget >= 0)
    o->resident.budget = (uint64_t)fitcl__accum_ocl_resident_budget;
  if (a->path == FITCL_ACCUM_PATH_AUTO) st = choose_path(a);
  return st;
}

static void ocl_destroy(fitcl_accum *a) {
  ocl_impl *o = a->impl;
  if (!o) return;
  if (a->ctx && fitcl__ocl_of(a->ctx)) clFinish(fitcl__ocl_of(a->ctx)->queue);
  if (a->ctx && fitcl__ocl_of(a->ctx) && fitcl__ocl_of(a->ctx)->queue2) clFinish(fitcl__ocl_of(a->ctx)->queue2);
  for (int i = 0; i < 2; ++i) {
    ocl_slot *s = &o->slot[i];
    if (s->up) clReleaseEvent(s->up);
    if (s->rd) clReleaseEvent(s->rd);
    release_wraps(s);
    unmap_stage(a, s);
    FITCL__CL_RELEASE_MEM(s->x);
    FITCL__CL_RELEASE_MEM(s->y);
    FITCL__CL_RELEASE_MEM(s->sigma);
    FITCL__CL_RELEASE_MEM(s->gsum);
    free(s->host);
  }
  fitcl__resident_free(&o->resident);
  FITCL__CL_RELEASE_MEM(o->params);
  FITCL__CL_RELEASE_MEM(o->partial);
  FITCL__CL_RELEASE_MEM(o->G);
  FITCL__CL_RELEASE_MEM(o->rtv);
  FITCL__CL_RELEASE_MEM(o->C);
  FITCL__CL_RELEASE_MEM(o->jtr);
  FITCL__CL_RELEASE_MEM(o->qrA);
  FITCL__CL_RELEASE_KERNEL(o->k_fused);
  FITCL__CL_RELEASE_KERNEL(o->k_cost);
  FITCL__CL_RELEASE_KERNEL(o->k_mat);
  FITCL__CL_RELEASE_KERNEL(o->k_combine);
  FITCL__CL_RELEASE_KERNEL(o->k_qr);
  fitcl__ocl_release_program(a->ctx, o->prog);
  free(o);
  a->impl = NULL;
}

/* Every model kind but C callbacks, which run on the host. */
static int ocl_runs(const fitcl_model *m, int path) {
  (void)path;
  return m->kind != FITCL__MODEL_CALLBACK;
}

const fitcl__accum_ops fitcl__accum_ocl_ops = {"opencl", ocl_runs, ocl_create, ocl_begin,
                                               ocl_chunk, ocl_finish, ocl_destroy};
