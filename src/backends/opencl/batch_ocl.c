/* Batched small fits on OpenCL.
 *
 * The model's program (its generated functions + common/batch_kernel.h) is
 * built once per call through the program cache.  A slice of fits is
 * uploaded in a packed layout ((fits, n) rows, a shared row, or one value
 * per fit), with one record per fit; then each launch advances every
 * running fit by one iteration, the fits that go on append themselves to
 * the next launch's active list, and the host reads back only that list's
 * length.  When it is 0 the slice's results are read back in one go. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/opencl/opencl.h"
#include "common/batch_lm.h"
#include "core/context.h"
#include "core/util.h"
#include "device/opencl/ocl.h"
#include "kernels/batch.h"

/* Work-group size of the work-group layout. */
#define GROUP_WG 64
/* Work-group size of the work-item layout on CPU devices: a fixed size, so
 * PoCL compiles one work-group function for every launch length, and
 * several fits per group for it to run as vector lanes. */
#define CPU_ITEM_WG 8

typedef struct ocl_batch {
  cl_program prog;
  cl_kernel k;
  size_t local;
  int layout;                   /* 1 item, 2 group */
  size_t cap;                   /* fits per slice (buffer sizes) */
  cl_mem recs, act[2], count, y, xs, xdesc, w, lim, fix, cfg;
  cl_mem o_p, o_se, o_cov, o_chi2, o_it, o_st;
  /* host staging */
  double *hrecs, *hy, *hxs, *hw, *hlim, *hp, *hse, *hcov, *hchi2;
  int *hfix, *hit, *hst;
  uint32_t *hact;
  size_t xs_len;
} ocl_batch;

static fitcl_status clfail(fitcl__batch *b, cl_int err, const char *what) {
  return fitcl__ocl_check(b->ctx, err, what);
}

static char *make_source(const fitcl__batch *b) {
  char *fns = fitcl__model_opencl_functions(b->m);
  if (!fns) return NULL;
  fitcl__buf s = {0};
  fitcl__buf_printf(&s,
                    "/* fitcl batched fits, generated */\n"
                    "#include \"common/compat.h\"\n#include \"common/vmath.h\"\n"
                    "#define FITCL_NP %d\n#define FITCL_NV %d\n#define FITCL_BATCH_NPMAX %d\n"
                    "#define FITCL_BATCH_WG %d\n%s\n#include \"common/batch_kernel.h\"\n",
                    b->np, b->nv, b->np, GROUP_WG, fns);
  free(fns);
  if (s.oom) {
    fitcl__buf_free(&s);
    return NULL;
  }
  fitcl__buf_append(&s, "", 1);
  return s.data;
}

/* Packed length of a batch array for `count` fits: rows, one shared row,
 * one value per fit, or one value. */
static size_t packed_len(const fitcl_batch_array *a, size_t count, size_t n) {
  return (a->fit_stride ? count : 1) * (a->point_stride ? n : 1);
}
static void pack(const fitcl_batch_array *a, size_t first, size_t count, size_t n, double *dst) {
  size_t nf = a->fit_stride ? count : 1, np = a->point_stride ? n : 1;
  for (size_t i = 0; i < nf; ++i)
    for (size_t j = 0; j < np; ++j)
      dst[i * np + j] = fitcl__batch_at(a, (a->fit_stride ? first : 0) + i, j);
}
static void packed_strides(const fitcl_batch_array *a, size_t n, cl_long *fs, cl_long *ps) {
  *ps = a->point_stride ? 1 : 0;
  *fs = a->fit_stride ? (cl_long)(a->point_stride ? n : 1) : 0;
}

static fitcl_status alloc(fitcl__batch *b, size_t bytes, cl_mem_flags fl, cl_mem *out) {
  return fitcl__ocl_alloc(b->ctx, fl, bytes ? bytes : 8, NULL, out);
}

static fitcl_status ocl_batch_create(fitcl__batch *b) {
  fitcl_context *ctx = b->ctx;
  const fitcl__caps *caps = &ctx->backend->caps;
  ocl_batch *o = calloc(1, sizeof *o);
  if (!o) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  b->impl = o;
  const int np = b->np, ns = FITCL_BATCH_NSUMS(np);
  const size_t n = b->npoints;
  /* The layout: work-groups for longer fits on devices that are not CPUs,
   * where their sums fit in local memory. */
  size_t red_bytes = (size_t)GROUP_WG * (size_t)(ns + 1) * sizeof(double);
  int group_ok = caps->max_work_group >= GROUP_WG && caps->local_mem >= red_bytes + 1024;
  o->layout = b->layout ? b->layout : (!caps->cpu_device && n >= 32 && group_ok ? 2 : 1);
  if (o->layout == 2 && !group_ok)
    return fitcl__fail(ctx, FITCL_ERR_UNSUPPORTED, "batched fit: the work-group layout needs %d "
                       "work-items and %zu bytes of local memory; this device has %zu and %llu",
                       GROUP_WG, red_bytes, caps->max_work_group,
                       (unsigned long long)caps->local_mem);
  b->layout_used = o->layout;
  char *src = make_source(b);
  if (!src) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory generating kernel source");
  fitcl_status st = fitcl__ocl_build_source(ctx, "batched fits", src, NULL, &o->prog);
  free(src);
  if (st != FITCL_OK) return st;
  cl_int err;
  o->k = clCreateKernel(o->prog, o->layout == 2 ? "fitcl_batch_group" : "fitcl_batch_item", &err);
  if (err != CL_SUCCESS) return clfail(b, err, "clCreateKernel (batched fits)");
  if (o->layout == 2) {
    o->local = GROUP_WG;
  } else {
    size_t wg = 0;
    clGetKernelWorkGroupInfo(o->k, fitcl__ocl_of(ctx)->device, CL_KERNEL_WORK_GROUP_SIZE,
                             sizeof wg, &wg, NULL);
    o->local = caps->cpu_device ? CPU_ITEM_WG : 64;
    if (wg && o->local > wg) o->local = wg;
  }
  /* Fits per slice: the slice's data, records and results within a
   * quarter of the device memory and half its largest allocation. */
  size_t per_fit = sizeof(double) * (n * (1 + (size_t)b->nv + (b->wkind != 0)) + (size_t)b->rec +
                                     (size_t)(2 + 2 * np + np * np) + 2 * (size_t)np) +
                   4 * sizeof(int);
  uint64_t budget = caps->global_mem / 4;
  if (caps->max_alloc && caps->max_alloc / 2 < budget) budget = caps->max_alloc / 2;
  size_t cap = (size_t)(budget / per_fit);
  if (cap > ((size_t)1 << 18)) cap = (size_t)1 << 18;
  if (cap < 1) cap = 1;
  if (!b->slice) b->slice = cap;
  if (b->slice > cap) b->slice = cap;
  if (b->slice > b->nfits) b->slice = b->nfits;
  o->cap = b->slice;
  cap = o->cap;
  /* Buffers for the largest slice. */
  size_t ylen = packed_len(&b->d.y, cap, n), wlen = b->wkind ? packed_len(&b->w, cap, n) : 1;
  o->xs_len = 0;
  for (int v = 0; v < b->nv; ++v) o->xs_len += packed_len(&b->d.x[v], cap, n);
  int rows = b->bounds_fs || b->fixed_fs;
  size_t lrows = rows ? cap : 1;
  const cl_mem_flags R = CL_MEM_READ_ONLY, RW = CL_MEM_READ_WRITE;
  st = alloc(b, cap * (size_t)b->rec * sizeof(double), RW, &o->recs);
  if (st == FITCL_OK) st = alloc(b, cap * sizeof(cl_uint), RW, &o->act[0]);
  if (st == FITCL_OK) st = alloc(b, cap * sizeof(cl_uint), RW, &o->act[1]);
  if (st == FITCL_OK) st = alloc(b, sizeof(cl_uint), RW, &o->count);
  if (st == FITCL_OK) st = alloc(b, ylen * sizeof(double), R, &o->y);
  if (st == FITCL_OK) st = alloc(b, (o->xs_len ? o->xs_len : 1) * sizeof(double), R, &o->xs);
  if (st == FITCL_OK) st = alloc(b, (size_t)(3 * (b->nv ? b->nv : 1)) * sizeof(cl_long), R, &o->xdesc);
  if (st == FITCL_OK) st = alloc(b, wlen * sizeof(double), R, &o->w);
  if (st == FITCL_OK) st = alloc(b, lrows * 2 * (size_t)np * sizeof(double), R, &o->lim);
  if (st == FITCL_OK) st = alloc(b, lrows * (size_t)np * sizeof(cl_int), R, &o->fix);
  if (st == FITCL_OK) st = alloc(b, FITCL_BCFG_SIZE * sizeof(double), R, &o->cfg);
  if (st == FITCL_OK) st = alloc(b, cap * (size_t)np * sizeof(double), RW, &o->o_p);
  if (st == FITCL_OK) st = alloc(b, cap * (size_t)np * sizeof(double), RW, &o->o_se);
  if (st == FITCL_OK)
    st = alloc(b, (b->out.covariance ? cap * (size_t)np * (size_t)np : 1) * sizeof(double), RW,
               &o->o_cov);
  if (st == FITCL_OK) st = alloc(b, cap * sizeof(double), RW, &o->o_chi2);
  if (st == FITCL_OK) st = alloc(b, cap * sizeof(cl_int), RW, &o->o_it);
  if (st == FITCL_OK) st = alloc(b, cap * sizeof(cl_int), RW, &o->o_st);
  if (st != FITCL_OK) return st;
  o->hrecs = malloc(cap * (size_t)b->rec * sizeof *o->hrecs);
  o->hy = malloc(ylen * sizeof *o->hy);
  o->hxs = malloc((o->xs_len ? o->xs_len : 1) * sizeof *o->hxs);
  o->hw = malloc(wlen * sizeof *o->hw);
  o->hlim = malloc(lrows * 2 * (size_t)np * sizeof *o->hlim);
  o->hfix = malloc(lrows * (size_t)np * sizeof *o->hfix);
  o->hact = malloc(cap * sizeof *o->hact);
  o->hp = malloc(cap * (size_t)np * sizeof *o->hp);
  o->hse = malloc(cap * (size_t)np * sizeof *o->hse);
  o->hcov = b->out.covariance ? malloc(cap * (size_t)np * (size_t)np * sizeof *o->hcov) : NULL;
  o->hchi2 = malloc(cap * sizeof *o->hchi2);
  o->hit = malloc(cap * sizeof *o->hit);
  o->hst = malloc(cap * sizeof *o->hst);
  if (!o->hrecs || !o->hy || !o->hxs || !o->hw || !o->hlim || !o->hfix || !o->hact || !o->hp ||
      !o->hse || (b->out.covariance && !o->hcov) || !o->hchi2 || !o->hit || !o->hst)
    return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  return fitcl__ocl_write(ctx, o->cfg, 0, FITCL_BCFG_SIZE * sizeof(double), b->cfg);
}

/* Uploads the slice's data, records and limits. */
static fitcl_status upload(fitcl__batch *b, size_t first, size_t count, cl_long *y_fs,
                           cl_long *y_ps, cl_long *w_fs, cl_long *w_ps, cl_long *lim_fs,
                           cl_long *fix_fs) {
  ocl_batch *o = b->impl;
  fitcl_context *ctx = b->ctx;
  const size_t n = b->npoints, np = (size_t)b->np;
  pack(&b->d.y, first, count, n, o->hy);
  packed_strides(&b->d.y, n, y_fs, y_ps);
  fitcl_status st = fitcl__ocl_write(ctx, o->y, 0, packed_len(&b->d.y, count, n) * sizeof(double),
                                     o->hy);
  *w_fs = *w_ps = 0;
  if (st == FITCL_OK && b->wkind) {
    pack(&b->w, first, count, n, o->hw);
    packed_strides(&b->w, n, w_fs, w_ps);
    st = fitcl__ocl_write(ctx, o->w, 0, packed_len(&b->w, count, n) * sizeof(double), o->hw);
  }
  cl_long desc[3 * FITCL_NLSQ_MAX_VARS];
  size_t off = 0;
  for (int v = 0; v < b->nv; ++v) {
    const fitcl_batch_array *x = &b->d.x[v];
    pack(x, first, count, n, o->hxs + off);
    desc[3 * v] = (cl_long)off;
    packed_strides(x, n, &desc[3 * v + 1], &desc[3 * v + 2]);
    off += packed_len(x, count, n);
  }
  if (st == FITCL_OK && b->nv) st = fitcl__ocl_write(ctx, o->xs, 0, off * sizeof(double), o->hxs);
  if (st == FITCL_OK && b->nv)
    st = fitcl__ocl_write(ctx, o->xdesc, 0, (size_t)(3 * b->nv) * sizeof(cl_long), desc);
  int rows = b->bounds_fs || b->fixed_fs;
  size_t nrows = rows ? count : 1;
  for (size_t i = 0; i < nrows; ++i) {
    fitcl__batch_limits(b, first + i, o->hlim + i * 2 * np, o->hlim + i * 2 * np + np,
                        o->hfix + i * np);
  }
  *lim_fs = rows ? (cl_long)(2 * np) : 0;
  *fix_fs = rows ? (cl_long)np : 0;
  if (st == FITCL_OK) st = fitcl__ocl_write(ctx, o->lim, 0, nrows * 2 * np * sizeof(double), o->hlim);
  if (st == FITCL_OK) st = fitcl__ocl_write(ctx, o->fix, 0, nrows * np * sizeof(cl_int), o->hfix);
  for (size_t i = 0; i < count; ++i) {
    fitcl__batch_init(b, first + i, o->hrecs + i * (size_t)b->rec);
    o->hact[i] = (uint32_t)i;
  }
  if (st == FITCL_OK)
    st = fitcl__ocl_write(ctx, o->recs, 0, count * (size_t)b->rec * sizeof(double), o->hrecs);
  if (st == FITCL_OK) st = fitcl__ocl_write(ctx, o->act[0], 0, count * sizeof(cl_uint), o->hact);
  return st;
}

static fitcl_status ocl_batch_run(fitcl__batch *b, size_t first, size_t count) {
  ocl_batch *o = b->impl;
  fitcl_context *ctx = b->ctx;
  fitcl__ocl *ocl = fitcl__ocl_of(ctx);
  const size_t np = (size_t)b->np;
  cl_long y_fs, y_ps, w_fs, w_ps, lim_fs, fix_fs;
  fitcl_status st = upload(b, first, count, &y_fs, &y_ps, &w_fs, &w_ps, &lim_fs, &fix_fs);
  if (st != FITCL_OK) return st;
  cl_int wkind = b->wkind, want_cov = b->out.covariance != NULL;
  cl_kernel k = o->k;
  cl_int err = 0;
  err |= clSetKernelArg(k, 3, sizeof(cl_mem), &o->count);
  err |= clSetKernelArg(k, 4, sizeof(cl_mem), &o->recs);
  err |= clSetKernelArg(k, 5, sizeof(cl_mem), &o->y);
  err |= clSetKernelArg(k, 6, sizeof y_fs, &y_fs);
  err |= clSetKernelArg(k, 7, sizeof y_ps, &y_ps);
  err |= clSetKernelArg(k, 8, sizeof(cl_mem), &o->xs);
  err |= clSetKernelArg(k, 9, sizeof(cl_mem), &o->xdesc);
  err |= clSetKernelArg(k, 10, sizeof(cl_mem), &o->w);
  err |= clSetKernelArg(k, 11, sizeof w_fs, &w_fs);
  err |= clSetKernelArg(k, 12, sizeof w_ps, &w_ps);
  err |= clSetKernelArg(k, 13, sizeof wkind, &wkind);
  err |= clSetKernelArg(k, 14, sizeof(cl_mem), &o->lim);
  err |= clSetKernelArg(k, 15, sizeof lim_fs, &lim_fs);
  err |= clSetKernelArg(k, 16, sizeof(cl_mem), &o->fix);
  err |= clSetKernelArg(k, 17, sizeof fix_fs, &fix_fs);
  err |= clSetKernelArg(k, 18, sizeof(cl_mem), &o->cfg);
  err |= clSetKernelArg(k, 19, sizeof(cl_mem), &o->o_p);
  err |= clSetKernelArg(k, 20, sizeof(cl_mem), &o->o_se);
  err |= clSetKernelArg(k, 21, sizeof(cl_mem), &o->o_cov);
  err |= clSetKernelArg(k, 22, sizeof want_cov, &want_cov);
  err |= clSetKernelArg(k, 23, sizeof(cl_mem), &o->o_chi2);
  err |= clSetKernelArg(k, 24, sizeof(cl_mem), &o->o_it);
  err |= clSetKernelArg(k, 25, sizeof(cl_mem), &o->o_st);
  if (err) return clfail(b, CL_INVALID_ARG_VALUE, "clSetKernelArg (batched fits)");
  cl_uint nactive = (cl_uint)count;
  int cur = 0;
  while (nactive) {
    if (b->interrupt && *b->interrupt)
      return fitcl__fail(ctx, FITCL_ERR_INTERRUPTED, "batched fit interrupted");
    const cl_uint zero = 0;
    err = clEnqueueWriteBuffer(ocl->queue, o->count, CL_FALSE, 0, sizeof zero, &zero, 0, NULL, NULL);
    err |= clSetKernelArg(k, 0, sizeof(cl_mem), &o->act[cur]);
    err |= clSetKernelArg(k, 1, sizeof nactive, &nactive);
    err |= clSetKernelArg(k, 2, sizeof(cl_mem), &o->act[cur ^ 1]);
    if (err) return clfail(b, CL_INVALID_ARG_VALUE, "clSetKernelArg (batched fits)");
    size_t global = o->layout == 2 ? (size_t)nactive * o->local : (size_t)nactive;
    st = fitcl__ocl_launch(ctx, k, global, o->local);
    if (st != FITCL_OK) return st;
    b->launches++;
    /* The one value read back per launch: how many fits go on. */
    st = fitcl__ocl_read(ctx, o->count, 0, sizeof nactive, &nactive);
    if (st != FITCL_OK) return st;
    cur ^= 1;
  }
  st = fitcl__ocl_read(ctx, o->o_p, 0, count * np * sizeof(double), o->hp);
  if (st == FITCL_OK) st = fitcl__ocl_read(ctx, o->o_se, 0, count * np * sizeof(double), o->hse);
  if (st == FITCL_OK && o->hcov)
    st = fitcl__ocl_read(ctx, o->o_cov, 0, count * np * np * sizeof(double), o->hcov);
  if (st == FITCL_OK) st = fitcl__ocl_read(ctx, o->o_chi2, 0, count * sizeof(double), o->hchi2);
  if (st == FITCL_OK) st = fitcl__ocl_read(ctx, o->o_it, 0, count * sizeof(cl_int), o->hit);
  if (st == FITCL_OK) st = fitcl__ocl_read(ctx, o->o_st, 0, count * sizeof(cl_int), o->hst);
  if (st != FITCL_OK) return st;
  for (size_t i = 0; i < count; ++i)
    fitcl__batch_store_raw(b, first + i, o->hp + i * np, o->hse + i * np,
                           o->hcov ? o->hcov + i * np * np : NULL, o->hchi2[i], o->hst[i],
                           o->hit[i]);
  return FITCL_OK;
}

static void ocl_batch_destroy(fitcl__batch *b) {
  ocl_batch *o = b->impl;
  if (!o) return;
  if (b->ctx && fitcl__ocl_of(b->ctx)) clFinish(fitcl__ocl_of(b->ctx)->queue);
  cl_mem *mems[] = {&o->recs, &o->act[0], &o->act[1], &o->count, &o->y,   &o->xs,    &o->xdesc,
                    &o->w,    &o->lim,    &o->fix,    &o->cfg,   &o->o_p, &o->o_se,  &o->o_cov,
                    &o->o_chi2, &o->o_it, &o->o_st};
  for (size_t i = 0; i < sizeof mems / sizeof mems[0]; ++i) FITCL__CL_RELEASE_MEM(*mems[i]);
  FITCL__CL_RELEASE_KERNEL(o->k);
  fitcl__ocl_release_program(b->ctx, o->prog);
  free(o->hrecs);
  free(o->hy);
  free(o->hxs);
  free(o->hw);
  free(o->hlim);
  free(o->hfix);
  free(o->hact);
  free(o->hp);
  free(o->hse);
  free(o->hcov);
  free(o->hchi2);
  free(o->hit);
  free(o->hst);
  free(o);
  b->impl = NULL;
}

/* Expression and OpenCL C models; C callbacks run on the host. */
static int ocl_batch_runs(const fitcl_model *m) { return m->kind != FITCL__MODEL_CALLBACK; }

const fitcl__batch_ops fitcl__batch_ocl_ops = {"opencl", ocl_batch_runs, ocl_batch_create,
                                               ocl_batch_run, ocl_batch_destroy};
