/* Jacobian accumulation on OpenCL in mixed or single precision
 * (docs/precision.md; the kernels are cl/common/accum_kernel_mp.h).
 *
 * accum_ocl.c hands a handle here when the context's device computes in
 * mixed or single precision.  The data go up in float (half the bytes of
 * double): each chunk is converted on the host into the slot's staging
 * array, whose copy (on the second queue) overlaps the kernels of the
 * previous chunk, as in the double path.  One work-item reduces each block
 * in index order; the combine kernel adds 64 blocks' partials in block
 * order on the device, and the host reads the groups back, turns them into
 * double (a compensated float pair as hi + lo, exact in double) and folds
 * them in chunk order.  Neither the double path's resident data nor its
 * zero-copy reads nor CLBlast apply: the caller's arrays are double. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/opencl/opencl.h"
#include "common/accum_point.h"
#include "common/accum_qr.h"
#include "common/compat.h"
#include "core/context.h"
#include "core/util.h"
#include "device/opencl/ocl.h"
#include "kernels/accum.h"

#define BLK FITCL_REDUCE_BLOCK
#define COMBINE 64 /* FITCL_ACCUM_COMBINE in the kernels */

/* FITCL_SUM_KIND of the kernels (accum_kernel_mp.h). */
enum { KIND_DOUBLE = 0, KIND_PAIR = 1, KIND_FLOAT = 2 };

typedef struct mp_slot {
  cl_mem x, y, sigma, gsum;
  float *stage;       /* the piece in float: columns at j * cap, y, sigma */
  cl_event up, rd;
  unsigned char *raw; /* the groups as read back */
  double *host;       /* the same in double, for fitcl__accum_fold */
  size_t ngroups;     /* groups pending (0 = nothing pending) */
  uint64_t seq;
} mp_slot;

typedef struct mp_impl {
  cl_program prog;
  cl_kernel k_fused, k_cost, k_combine, k_qr, k_qrcombine;
  size_t cpu_local;   /* CPU devices: one item per group (see accum_ocl.c) */
  int kind;
  size_t real_size;   /* bytes of fitcl_real: c2 arguments and QR vectors */
  size_t acc_size;    /* bytes of one sum of the fused and cost passes */
  cl_mem params, partial;
  mp_slot slot[2];
  int cur;
  size_t cap;
  uint64_t seq;
} mp_impl;

static fitcl_status clfail(fitcl_accum *a, cl_int err, const char *what) {
  return fitcl__ocl_check(a->ctx, err, what);
}

static char *make_source(const fitcl_accum *a, int kind) {
  char *fns = fitcl__model_opencl_functions_float(a->m);
  if (!fns) return NULL;
  fitcl__buf b = {0};
  fitcl__buf_printf(&b,
                    "/* fitcl Jacobian accumulation, mixed/single precision, generated */\n"
                    "#define FITCL_SUM_KIND %d\n%s#include \"common/compat.h\"\n"
                    "#define FITCL_NP %d\n#define FITCL_NV %d\n%s\n"
                    "#include \"common/accum_kernel_mp.h\"\n",
                    kind, kind == KIND_DOUBLE ? "" : "#define FITCL_REAL_FLOAT 1\n", a->np, a->nv,
                    fns);
  free(fns);
  fitcl__buf_append(&b, "", 1);
  if (b.oom) {
    fitcl__buf_free(&b);
    return NULL;
  }
  return b.data;
}

/* Turns `count` values read back into double. */
static void to_double(const mp_impl *o, int qr, const unsigned char *raw, size_t count,
                      double *out) {
  size_t bytes = qr ? o->real_size : o->acc_size;
  if (bytes == sizeof(double) && (qr || o->kind == KIND_DOUBLE)) {
    memcpy(out, raw, count * sizeof(double));
    return;
  }
  const float *f = (const float *)(const void *)raw;
  if (!qr && o->kind == KIND_PAIR)
    for (size_t i = 0; i < count; ++i) out[i] = (double)f[2 * i] + (double)f[2 * i + 1];
  else
    for (size_t i = 0; i < count; ++i) out[i] = (double)f[i];
}

static fitcl_status wait_fold(fitcl_accum *a, mp_slot *s) {
  if (!s->ngroups) return FITCL_OK;
  cl_int err = clWaitForEvents(1, &s->rd);
  clReleaseEvent(s->rd);
  s->rd = NULL;
  size_t ng = s->ngroups;
  s->ngroups = 0;
  if (err != CL_SUCCESS) return clfail(a, err, "accumulation readback");
  to_double(a->impl, a->qr, s->raw, ng * (size_t)fitcl__accum_stride(a), s->host);
  fitcl__accum_fold(a, s->host, ng);
  return FITCL_OK;
}

static fitcl_status drain(fitcl_accum *a) {
  mp_impl *o = a->impl;
  mp_slot *s0 = &o->slot[0], *s1 = &o->slot[1];
  mp_slot *first = s0->seq <= s1->seq ? s0 : s1, *second = first == s0 ? s1 : s0;
  fitcl_status st = wait_fold(a, first);
  fitcl_status st2 = wait_fold(a, second);
  return st != FITCL_OK ? st : st2;
}

/* Converts one piece into the slot's staging array and enqueues its copy
 * on the copy queue; s->up marks its completion. */
static fitcl_status upload(fitcl_accum *a, mp_slot *s, const double *const *x, const double *y,
                           const double *sigma, size_t n) {
  mp_impl *o = a->impl;
  fitcl__ocl *ocl = fitcl__ocl_of(a->ctx);
  cl_command_queue q = ocl->queue2 ? ocl->queue2 : ocl->queue;
  if (s->up) {
    clReleaseEvent(s->up);
    s->up = NULL;
  }
  float *sy = s->stage + (size_t)a->nv * o->cap, *ss = sy + o->cap;
  for (int j = 0; j < a->nv; ++j)
    for (size_t i = 0; i < n; ++i) s->stage[(size_t)j * o->cap + i] = (float)x[j][i];
  for (size_t i = 0; i < n; ++i) sy[i] = (float)y[i];
  if (sigma)
    for (size_t i = 0; i < n; ++i) ss[i] = (float)sigma[i];
  size_t bytes = n * sizeof(float);
  cl_int err = CL_SUCCESS;
  for (int j = 0; j < a->nv && err == CL_SUCCESS; ++j)
    err = clEnqueueWriteBuffer(q, s->x, CL_FALSE, (size_t)j * o->cap * sizeof(float), bytes,
                               s->stage + (size_t)j * o->cap, 0, NULL, NULL);
  if (err == CL_SUCCESS && sigma)
    err = clEnqueueWriteBuffer(q, s->sigma, CL_FALSE, 0, bytes, ss, 0, NULL, NULL);
  if (err == CL_SUCCESS)
    err = clEnqueueWriteBuffer(q, s->y, CL_FALSE, 0, bytes, sy, 0, NULL, &s->up);
  if (err == CL_SUCCESS) err = clFlush(q);
  if (err != CL_SUCCESS) return clfail(a, err, "clEnqueueWriteBuffer (accumulation chunk)");
  a->bytes_uploaded += (uint64_t)(a->nv + 1 + (sigma != NULL)) * bytes;
  return FITCL_OK;
}

/* One pass over the piece in slot s: the block kernel, the combine kernel,
 * and the groups' readback (not waited for). */
static fitcl_status run(fitcl_accum *a, mp_slot *s, size_t n, int has_sigma) {
  fitcl__ocl *ocl = fitcl__ocl_of(a->ctx);
  mp_impl *o = a->impl;
  cl_kernel k = a->qr ? o->k_qr : a->want_jac ? o->k_fused : o->k_cost;
  cl_long nn = (cl_long)n, ld = (cl_long)o->cap;
  cl_int flags = (has_sigma ? 1 : 0) | ((cl_int)a->loss << 1);
  double c2 = a->f_scale * a->f_scale, inv_c2 = 1.0 / c2;
  float c2f = (float)c2, inv_c2f = (float)inv_c2;
  int dbl = o->real_size == sizeof(double);
  const void *pc2 = dbl ? (const void *)&c2 : (const void *)&c2f;
  const void *pinv = dbl ? (const void *)&inv_c2 : (const void *)&inv_c2f;
  cl_int err = clSetKernelArg(k, 0, sizeof(cl_mem), &o->params);
  err |= clSetKernelArg(k, 1, sizeof(cl_mem), &s->x);
  err |= clSetKernelArg(k, 2, sizeof ld, &ld);
  err |= clSetKernelArg(k, 3, sizeof(cl_mem), &s->y);
  err |= clSetKernelArg(k, 4, sizeof(cl_mem), &s->sigma);
  err |= clSetKernelArg(k, 5, sizeof flags, &flags);
  err |= clSetKernelArg(k, 6, sizeof nn, &nn);
  err |= clSetKernelArg(k, 7, o->real_size, pc2);
  err |= clSetKernelArg(k, 8, o->real_size, pinv);
  err |= clSetKernelArg(k, 9, sizeof(cl_mem), &o->partial);
  err |= clSetKernelArg(k, 10, sizeof(cl_mem), &s->x);
  err |= clSetKernelArg(k, 11, sizeof ld, &ld); /* column j >= 1 at x + j * cap */
  if (err) return clfail(a, CL_INVALID_ARG_VALUE, "clSetKernelArg (accumulation)");
  size_t nblocks = (n + BLK - 1) / BLK, global = nblocks;
  const size_t *local = o->cpu_local ? &o->cpu_local : NULL;
  err = clEnqueueNDRangeKernel(ocl->queue, k, 1, NULL, &global, local, s->up ? 1 : 0,
                               s->up ? &s->up : NULL, NULL);
  if (err != CL_SUCCESS) return clfail(a, err, "clEnqueueNDRangeKernel (accumulation)");
  cl_kernel kc = a->qr ? o->k_qrcombine : o->k_combine;
  cl_int stride = fitcl__accum_stride(a);
  cl_long nb = (cl_long)nblocks;
  size_t ngroups = (nblocks + COMBINE - 1) / COMBINE;
  cl_uint arg = 0;
  err = clSetKernelArg(kc, arg++, sizeof(cl_mem), &o->partial);
  err |= clSetKernelArg(kc, arg++, sizeof nb, &nb);
  if (!a->qr) err |= clSetKernelArg(kc, arg++, sizeof stride, &stride);
  err |= clSetKernelArg(kc, arg, sizeof(cl_mem), &s->gsum);
  if (err) return clfail(a, CL_INVALID_ARG_VALUE, "clSetKernelArg (accumulation combine)");
  global = a->qr ? ngroups : ngroups * (size_t)stride;
  err = clEnqueueNDRangeKernel(ocl->queue, kc, 1, NULL, &global, local, 0, NULL, NULL);
  if (err != CL_SUCCESS) return clfail(a, err, "clEnqueueNDRangeKernel (accumulation combine)");
  size_t bytes = ngroups * (size_t)stride * (a->qr ? o->real_size : o->acc_size);
  err = clEnqueueReadBuffer(ocl->queue, s->gsum, CL_FALSE, 0, bytes, s->raw, 0, NULL, &s->rd);
  if (err != CL_SUCCESS) return clfail(a, err, "clEnqueueReadBuffer (accumulation)");
  clFlush(ocl->queue);
  s->ngroups = ngroups;
  return FITCL_OK;
}

static fitcl_status mp_chunk(fitcl_accum *a, const double *const *x, const double *y,
                             const double *sigma, size_t n) {
  mp_impl *o = a->impl;
  fitcl_status st = FITCL_OK;
  for (size_t off = 0; off < n && st == FITCL_OK; off += o->cap) {
    size_t len = n - off < o->cap ? n - off : o->cap;
    const double *xs[FITCL_NLSQ_MAX_VARS];
    for (int j = 0; j < a->nv; ++j) xs[j] = x[j] + off;
    mp_slot *s = &o->slot[o->cur];
    o->cur ^= 1;
    /* The slot's previous piece (two back) is folded, and so its copy and
     * kernels are done, before its staging array is overwritten. */
    st = wait_fold(a, s);
    if (st == FITCL_OK) st = upload(a, s, xs, y + off, sigma ? sigma + off : NULL, len);
    s->seq = ++o->seq;
    if (st == FITCL_OK) st = run(a, s, len, sigma != NULL);
  }
  return st;
}

static fitcl_status mp_finish(fitcl_accum *a) { return drain(a); }

static fitcl_status mp_begin(fitcl_accum *a) {
  mp_impl *o = a->impl;
  float p[FITCL_NLSQ_MAX_PARAMS];
  for (int k = 0; k < a->np; ++k) p[k] = (float)a->params[k];
  return fitcl__ocl_write(a->ctx, o->params, 0, (size_t)a->np * sizeof(float), p);
}

static void mp_destroy(fitcl_accum *a) {
  mp_impl *o = a->impl;
  if (!o) return;
  fitcl__ocl *ocl = a->ctx ? fitcl__ocl_of(a->ctx) : NULL;
  if (ocl) clFinish(ocl->queue);
  if (ocl && ocl->queue2) clFinish(ocl->queue2);
  for (int i = 0; i < 2; ++i) {
    mp_slot *s = &o->slot[i];
    if (s->up) clReleaseEvent(s->up);
    if (s->rd) clReleaseEvent(s->rd);
    FITCL__CL_RELEASE_MEM(s->x);
    FITCL__CL_RELEASE_MEM(s->y);
    FITCL__CL_RELEASE_MEM(s->sigma);
    FITCL__CL_RELEASE_MEM(s->gsum);
    free(s->stage);
    free(s->raw);
    free(s->host);
  }
  FITCL__CL_RELEASE_MEM(o->params);
  FITCL__CL_RELEASE_MEM(o->partial);
  FITCL__CL_RELEASE_KERNEL(o->k_fused);
  FITCL__CL_RELEASE_KERNEL(o->k_cost);
  FITCL__CL_RELEASE_KERNEL(o->k_combine);
  FITCL__CL_RELEASE_KERNEL(o->k_qr);
  FITCL__CL_RELEASE_KERNEL(o->k_qrcombine);
  fitcl__ocl_release_program(a->ctx, o->prog);
  free(o);
  a->impl = NULL;
}

static fitcl_status alloc(fitcl_accum *a, size_t bytes, cl_mem_flags flags, cl_mem *out) {
  return fitcl__ocl_alloc(a->ctx, flags, bytes ? bytes : 8, NULL, out);
}

static fitcl_status mp_create(fitcl_accum *a) {
  fitcl_context *ctx = a->ctx;
  const fitcl__caps *caps = &ctx->backend->caps;
  if (a->path == FITCL_ACCUM_PATH_CLBLAST)
    return fitcl__fail(ctx, FITCL_ERR_UNSUPPORTED,
                       "the CLBlast path (path=2) computes in double; this context computes in %s "
                       "(FITCL_PRECISION=double on a device with fp64 allows it)",
                       caps->precision == FITCL_PRECISION_SINGLE ? "single" : "mixed");
  a->path = FITCL_ACCUM_PATH_FUSED;
  mp_impl *o = calloc(1, sizeof *o);
  if (!o) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  a->impl = o;
  o->kind = caps->precision == FITCL_PRECISION_SINGLE ? KIND_FLOAT
            : caps->fp64                              ? KIND_DOUBLE
                                                      : KIND_PAIR;
  o->real_size = o->kind == KIND_DOUBLE ? sizeof(double) : sizeof(float);
  o->acc_size = o->kind == KIND_FLOAT ? sizeof(float) : 2 * sizeof(float);
  if (o->kind == KIND_DOUBLE) o->acc_size = sizeof(double);
  a->info.precision = caps->precision == FITCL_PRECISION_SINGLE ? "single" : "mixed";
  char *src = make_source(a, o->kind);
  if (!src) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory generating kernel source");
  fitcl_status st = fitcl__ocl_build_source(ctx, "accumulation model (mixed/single precision)",
                                            src, "-cl-single-precision-constant", &o->prog);
  free(src);
  if (st != FITCL_OK) return st;
  a->info.program_builds = 1;
  cl_int err = CL_SUCCESS;
  o->k_fused = clCreateKernel(o->prog, "fitcl_accum_fused_mp", &err);
  if (err == CL_SUCCESS) o->k_cost = clCreateKernel(o->prog, "fitcl_accum_cost_mp", &err);
  if (err == CL_SUCCESS) o->k_combine = clCreateKernel(o->prog, "fitcl_accum_combine_mp", &err);
  if (err == CL_SUCCESS) o->k_qr = clCreateKernel(o->prog, "fitcl_accum_qr_mp", &err);
  if (err == CL_SUCCESS)
    o->k_qrcombine = clCreateKernel(o->prog, "fitcl_accum_qr_combine_mp", &err);
  if (err != CL_SUCCESS) return clfail(a, err, "clCreateKernel (accumulation)");
  o->cpu_local = caps->cpu_device ? 1 : 0;
  o->cap = a->max_chunk;
  size_t cap = o->cap, nblocks = (cap + BLK - 1) / BLK;
  size_t ngroups = (nblocks + COMBINE - 1) / COMBINE;
  size_t ns = (size_t)FITCL_ACCUM_NQR(a->np) > (size_t)a->nsums ? (size_t)FITCL_ACCUM_NQR(a->np)
                                                                 : (size_t)a->nsums;
  size_t esize = o->acc_size > o->real_size ? o->acc_size : o->real_size;
  st = alloc(a, (size_t)a->np * sizeof(float), CL_MEM_READ_ONLY, &o->params);
  if (st == FITCL_OK) st = alloc(a, nblocks * ns * esize, CL_MEM_READ_WRITE, &o->partial);
  for (int i = 0; i < 2 && st == FITCL_OK; ++i) {
    mp_slot *s = &o->slot[i];
    st = alloc(a, (size_t)a->nv * cap * sizeof(float), CL_MEM_READ_ONLY, &s->x);
    if (st == FITCL_OK) st = alloc(a, cap * sizeof(float), CL_MEM_READ_ONLY, &s->y);
    if (st == FITCL_OK) st = alloc(a, cap * sizeof(float), CL_MEM_READ_ONLY, &s->sigma);
    if (st == FITCL_OK) st = alloc(a, ngroups * ns * esize, CL_MEM_READ_WRITE, &s->gsum);
    if (st != FITCL_OK) break;
    s->stage = malloc((size_t)(a->nv + 2) * cap * sizeof(float));
    s->raw = malloc(ngroups * ns * esize);
    s->host = malloc(ngroups * ns * sizeof(double));
    if (!s->stage || !s->raw || !s->host) st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  }
  return st;
}

/* Reached through fitcl__accum_ocl_ops: its create hands a handle here
 * when the device computes in mixed or single precision. */
const fitcl__accum_ops fitcl__accum_ocl_mp_ops = {"opencl", NULL, mp_create, mp_begin,
                                                  mp_chunk, mp_finish, mp_destroy};
