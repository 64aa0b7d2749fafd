/* Credit assignment on OpenCL: cl/credit.cl, one work-item per block of
 * nodes.  Outputs not asked for get a one-word placeholder buffer. */
#include "backends/opencl/opencl.h"

#include "device/opencl/ocl.h"
#include "kernels/credit.h"

static fitcl_status blocks(fitcl_context *ctx, const fitcl__credit_job *j) {
  enum { PHASE, MAG, COS, MAGT, TGT, LAB, W, TN, COSINE, GS, TAB, LOSS, BAD, NBUF };
  cl_mem m[NBUF] = {0};
  cl_kernel k = NULL;
  fitcl_status st;
  const size_t es = j->f32 ? sizeof(float) : sizeof(double);
  const size_t nd = j->n * j->d, entries = j->ncos + j->nmag;
  const cl_mem_flags ro = CL_MEM_READ_ONLY, wo = CL_MEM_WRITE_ONLY;
  const struct { cl_mem_flags f; size_t bytes; const void *host; } spec[NBUF] = {
      [PHASE] = {ro, nd * sizeof(int32_t), j->phase},
      [MAG] = {ro, nd * sizeof(int32_t), j->mag},
      [COS] = {ro, j->ncos * es, j->cos_table},
      [MAGT] = {ro, j->nmag * es, j->mag_table},
      [TGT] = {ro, j->nclass * j->d * es, j->targets},
      [LAB] = {ro, j->n * sizeof(int32_t), j->labels},
      [W] = {ro, j->weights ? j->n * es : 8, j->weights},
      [TN] = {ro, j->nclass * sizeof(double), j->tnorm2},
      [COSINE] = {wo, j->cosine ? j->n * es : 8, NULL},
      [GS] = {wo, j->grad_signal ? nd * es : 8, NULL},
      [TAB] = {wo, j->want_tables ? j->nblocks * entries * sizeof(double) : 8, NULL},
      [LOSS] = {wo, 2 * j->nblocks * sizeof(double), NULL},
      [BAD] = {wo, j->nblocks * sizeof(int32_t), NULL}};
  for (int i = 0; i < NBUF; ++i)
    if ((st = fitcl__ocl_alloc(ctx, spec[i].f, spec[i].bytes, spec[i].host, &m[i]))) goto fail;
  if ((st = fitcl__ocl_kernel(ctx, "credit.cl", j->f32 ? "fitcl_credit_blocks_f32"
                                                       : "fitcl_credit_blocks_f64", &k)))
    goto fail;
  const cl_int ncos = (cl_int)j->ncos, nmag = (cl_int)j->nmag, rows = (cl_int)j->rows;
  const cl_int has_w = j->weights != NULL, want_cos = j->cosine != NULL;
  const cl_int want_gs = j->grad_signal != NULL, want_tab = j->want_tables;
  const cl_long D = (cl_long)j->d, n = (cl_long)j->n;
  const struct { size_t size; const void *v; } args[] = {
      {sizeof(cl_mem), &m[PHASE]}, {sizeof(cl_mem), &m[MAG]}, {sizeof(cl_mem), &m[COS]},
      {sizeof(cl_mem), &m[MAGT]}, {sizeof ncos, &ncos}, {sizeof nmag, &nmag},
      {sizeof(cl_mem), &m[TGT]}, {sizeof(cl_mem), &m[LAB]}, {sizeof(cl_mem), &m[W]},
      {sizeof has_w, &has_w}, {sizeof(cl_mem), &m[TN]}, {sizeof D, &D}, {sizeof n, &n},
      {sizeof rows, &rows}, {sizeof want_cos, &want_cos}, {sizeof(cl_mem), &m[COSINE]},
      {sizeof want_gs, &want_gs}, {sizeof(cl_mem), &m[GS]}, {sizeof want_tab, &want_tab},
      {sizeof(cl_mem), &m[TAB]}, {sizeof(cl_mem), &m[LOSS]}, {sizeof(cl_mem), &m[BAD]}};
  for (cl_uint i = 0; i < sizeof args / sizeof args[0]; ++i)
    if ((st = fitcl__ocl_setarg(ctx, k, i, args[i].size, args[i].v))) goto fail;
  if ((st = fitcl__ocl_launch(ctx, k, j->nblocks, 0))) goto fail;
  if ((st = fitcl__ocl_read(ctx, m[BAD], 0, j->nblocks * sizeof(int32_t), j->bad))) goto fail;
  if ((st = fitcl__ocl_read(ctx, m[LOSS], 0, 2 * j->nblocks * sizeof(double), j->loss_partial)))
    goto fail;
  if (j->cosine && (st = fitcl__ocl_read(ctx, m[COSINE], 0, j->n * es, j->cosine))) goto fail;
  if (j->grad_signal && (st = fitcl__ocl_read(ctx, m[GS], 0, nd * es, j->grad_signal))) goto fail;
  if (j->want_tables)
    st = fitcl__ocl_read(ctx, m[TAB], 0, j->nblocks * entries * sizeof(double), j->table_partial);
fail:
  for (int i = 0; i < NBUF; ++i) FITCL__CL_RELEASE_MEM(m[i]);
  FITCL__CL_RELEASE_KERNEL(k);
  return st;
}

const fitcl__credit_ops fitcl__credit_ocl_ops = {blocks};
