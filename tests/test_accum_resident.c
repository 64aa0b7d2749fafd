/* Data kept on the OpenCL device across passes (backends/opencl/accum_ocl.c):
 * once an accumulator is told every pass gives the same data, the first
 * pass uploads each piece into buffers of its own and later passes copy
 * nothing; the sums are the same bits as streaming them, whether all, some
 * or none of the data fit the budget, and agree with the pthreads backend.
 * The reference is the same pass run without residency, and on cpu. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/opencl/opencl.h"
#include "fitcl.h"
#include "kernels/accum.h"
#include "test_util.h"

typedef struct dataset {
  size_t n;
  double *x, *z, *y, *sigma;
} dataset;

static dataset make_data(size_t n) {
  dataset d = {n, malloc(n * sizeof(double)), malloc(n * sizeof(double)),
               malloc(n * sizeof(double)), malloc(n * sizeof(double))};
  unsigned long long s = 99;
  for (size_t i = 0; i < n; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    double u = (double)(s >> 11) / 9007199254740992.0 - 0.5;
    d.x[i] = 5.0 * (double)i / (double)n;
    d.z[i] = (double)(i % 13) / 13.0;
    d.sigma[i] = 0.05 + 0.01 * (double)(i % 5);
    d.y[i] = 2.0 * exp(-0.8 * d.x[i]) + 0.4 * d.z[i] + 0.05 * u;
  }
  return d;
}

static void free_data(dataset *d) {
  free(d->x);
  free(d->z);
  free(d->y);
  free(d->sigma);
}

/* Two variables, so the kernels read a second column at its own offset. */
static fitcl_model *model(fitcl_context *ctx) {
  const char *p[] = {"a", "b", "c"}, *v[] = {"x", "z"};
  fitcl_model *m = NULL;
  cr_assert_eq(fitcl_model_compile(ctx, "a*exp(-b*x)+c*z", p, 3, v, 2, &m), FITCL_OK, "%s",
               fitcl_errmsg(ctx));
  return m;
}

enum { PASSES = 3 };
static const double params[PASSES][3] = {{1, 1, 1}, {2.0, 0.8, 0.4}, {2.01, 0.79, 0.41}};

/* PASSES passes (the last cost-only) in chunks of `chunk`; sums[k] gets
 * pass k, uploaded[k] the data bytes copied to the device by its end. */
static void run(const char *selector, int repeats, long long budget, const dataset *d,
                size_t chunk, fitcl_accum_sums *sums, uint64_t *uploaded) {
  fitcl__accum_ocl_zero_copy = 0;
  fitcl__accum_ocl_resident_budget = budget;
  fitcl_context *ctx = fitcl_test_context(selector);
  fitcl_model *m = model(ctx);
  fitcl_accum_options o = {0};
  o.max_chunk = 10000;
  fitcl_accum *a = NULL;
  cr_assert_eq(fitcl_accum_create(ctx, m, &o, &a), FITCL_OK, "%s", fitcl_errmsg(ctx));
  if (repeats) fitcl__accum_repeat_data(a);
  for (int k = 0; k < PASSES; ++k) {
    cr_assert_eq(fitcl_accum_begin(a, params[k], k < PASSES - 1), FITCL_OK);
    for (size_t s = 0; s < d->n; s += chunk) {
      size_t len = d->n - s < chunk ? d->n - s : chunk;
      const double *x[] = {d->x + s, d->z + s};
      cr_assert_eq(fitcl_accum_chunk(a, x, d->y + s, d->sigma + s, len), FITCL_OK, "%s",
                   fitcl_errmsg(ctx));
    }
    cr_assert_eq(fitcl_accum_end(a, &sums[k]), FITCL_OK, "%s", fitcl_errmsg(ctx));
    uploaded[k] = a->bytes_uploaded;
  }
  fitcl_accum_destroy(a);
  fitcl_model_destroy(m);
  fitcl_context_destroy(ctx);
  fitcl__accum_ocl_zero_copy = -1;
  fitcl__accum_ocl_resident_budget = -1;
}

static void expect_same_bits(const fitcl_accum_sums *a, const fitcl_accum_sums *b,
                             const char *what) {
  for (int k = 0; k < PASSES; ++k) {
    cr_expect_eq(memcmp(a[k].jtj, b[k].jtj, sizeof a[k].jtj), 0, "%s: pass %d JᵀJ", what, k);
    cr_expect_eq(memcmp(a[k].jtr, b[k].jtr, sizeof a[k].jtr), 0, "%s: pass %d Jᵀr", what, k);
    cr_expect_eq(memcmp(&a[k].cost, &b[k].cost, sizeof(double)), 0, "%s: pass %d cost %.17g %.17g",
                 what, k, a[k].cost, b[k].cost);
    cr_expect_eq(a[k].points, b[k].points, "%s: pass %d points", what, k);
  }
}

static const char *opencl_selector(void) {
  static fitcl_test_backend be[2];
  if (fitcl_test_backends(be, 2) < 2) return NULL;
  return be[1].selector;
}

Test(accum_resident, later_passes_copy_nothing) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device with fp64");
  dataset d = make_data(50001);
  const uint64_t all = 4 * d.n * sizeof(double); /* x, z, y, sigma */
  /* Chunks of 7001 points, cut again at 10000 (max_chunk): pieces that
   * do not line up with the blocks. */
  fitcl_accum_sums kept[PASSES], streamed[PASSES], host[PASSES];
  uint64_t up_kept[PASSES], up_streamed[PASSES], up_host[PASSES];
  run(ocl, 1, -1, &d, 7001, kept, up_kept);
  run(ocl, 0, -1, &d, 7001, streamed, up_streamed);
  run("cpu", 1, -1, &d, 7001, host, up_host);
  expect_same_bits(kept, streamed, "resident vs streamed");
  for (int k = 0; k < PASSES; ++k) {
    for (int i = 0; i < 9; ++i)
      cr_expect(fitcl_test_close(kept[k].jtj[i], host[k].jtj[i], 1e-13), "pass %d JᵀJ[%d] vs cpu",
                k, i);
    cr_expect(fitcl_test_close(kept[k].cost, host[k].cost, 1e-13), "pass %d cost vs cpu", k);
  }
  cr_expect_eq(up_kept[0], all, "first pass uploads every byte once: %llu of %llu",
               (unsigned long long)up_kept[0], (unsigned long long)all);
  cr_expect_eq(up_kept[PASSES - 1], all, "later passes upload nothing: %llu after %d passes",
               (unsigned long long)up_kept[PASSES - 1], PASSES);
  cr_expect_eq(up_streamed[PASSES - 1], PASSES * all, "streaming uploads every pass");
  cr_expect_eq(up_host[PASSES - 1], 0, "the pthreads backend copies nothing");
  free_data(&d);
}

/* A budget for part of the data: what fits stays, the rest streams; the
 * same bits either way. */
Test(accum_resident, a_budget_for_part_of_the_data) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device with fp64");
  dataset d = make_data(50001);
  const uint64_t all = 4 * d.n * sizeof(double);
  const long long budget = (long long)(all / 3);
  fitcl_accum_sums part[PASSES], none[PASSES], streamed[PASSES];
  uint64_t up_part[PASSES], up_none[PASSES], up_streamed[PASSES];
  run(ocl, 1, budget, &d, 7001, part, up_part);
  run(ocl, 1, 0, &d, 7001, none, up_none);
  run(ocl, 0, -1, &d, 7001, streamed, up_streamed);
  expect_same_bits(part, streamed, "partly resident vs streamed");
  expect_same_bits(none, streamed, "budget 0 vs streamed");
  uint64_t later = up_part[1] - up_part[0];
  cr_expect(later > 0 && later <= all - (uint64_t)budget + 4 * 10000 * sizeof(double) &&
                later >= all - (uint64_t)budget,
            "a later pass uploads what the budget left out: %llu of %llu (budget %lld)",
            (unsigned long long)later, (unsigned long long)all, budget);
  cr_expect_eq(up_none[PASSES - 1], PASSES * all, "budget 0 streams every pass");
  free_data(&d);
}

/* A whole fit from arrays: the solver asks for residency; the result is
 * the same bits as without it and as on cpu. */
Test(accum_resident, curve_fit_same_bits) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device with fp64");
  dataset d = make_data(30001);
  fitcl_curvefit_result res[3];
  const char *sel[3] = {ocl, ocl, "cpu"};
  const long long budget[3] = {-1, 0, -1};
  for (int i = 0; i < 3; ++i) {
    fitcl__accum_ocl_zero_copy = 0;
    fitcl__accum_ocl_resident_budget = budget[i];
    fitcl_context *ctx = fitcl_test_context(sel[i]);
    fitcl_model *m = model(ctx);
    fitcl_curvefit_options o;
    memset(&o, 0, sizeof o);
    o.chunk_points = 4096;
    const double *x[] = {d.x, d.z}, p0[] = {1, 1, 1};
    memset(&res[i], 0, sizeof res[i]);
    cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, x, d.y, d.sigma, d.n, p0, &o, &res[i]), FITCL_OK,
                 "%s", fitcl_errmsg(ctx));
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
  fitcl__accum_ocl_zero_copy = -1;
  fitcl__accum_ocl_resident_budget = -1;
  cr_expect(res[0].converged, "converged");
  for (int i = 1; i < 3; ++i) {
    cr_expect_eq(memcmp(res[0].params, res[i].params, sizeof res[0].params), 0,
                 "parameters: run 0 vs %d", i);
    cr_expect_eq(memcmp(res[0].covariance, res[i].covariance, sizeof res[0].covariance), 0,
                 "covariance: run 0 vs %d", i);
  }
  free_data(&d);
}

/* A later pass cut into other chunks finds no piece of its length where
 * the first pass's pieces start: those stream, the sums stay the same. */
Test(accum_resident, other_chunks_on_a_later_pass) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device with fp64");
  dataset d = make_data(50001);
  fitcl_accum_sums ref[PASSES], got[2];
  uint64_t up[PASSES];
  run(ocl, 0, -1, &d, 7001, ref, up);
  fitcl__accum_ocl_zero_copy = 0;
  fitcl_context *ctx = fitcl_test_context(ocl);
  fitcl_model *m = model(ctx);
  fitcl_accum_options o = {0};
  o.max_chunk = 10000;
  fitcl_accum *a = NULL;
  cr_assert_eq(fitcl_accum_create(ctx, m, &o, &a), FITCL_OK, "%s", fitcl_errmsg(ctx));
  fitcl__accum_repeat_data(a);
  const size_t chunks[2] = {7001, 5000};
  for (int k = 0; k < 2; ++k) {
    cr_assert_eq(fitcl_accum_begin(a, params[0], 1), FITCL_OK);
    for (size_t s = 0; s < d.n; s += chunks[k]) {
      size_t len = d.n - s < chunks[k] ? d.n - s : chunks[k];
      const double *x[] = {d.x + s, d.z + s};
      cr_assert_eq(fitcl_accum_chunk(a, x, d.y + s, d.sigma + s, len), FITCL_OK);
    }
    cr_assert_eq(fitcl_accum_end(a, &got[k]), FITCL_OK, "%s", fitcl_errmsg(ctx));
  }
  fitcl_accum_destroy(a);
  fitcl_model_destroy(m);
  fitcl_context_destroy(ctx);
  fitcl__accum_ocl_zero_copy = -1;
  for (int k = 0; k < 2; ++k) {
    for (int i = 0; i < 9; ++i)
      cr_expect(fitcl_test_close(got[k].jtj[i], ref[0].jtj[i], 1e-13), "chunking %zu: JᵀJ[%d]",
                chunks[k], i);
    cr_expect(fitcl_test_close(got[k].cost, ref[0].cost, 1e-13), "chunking %zu: cost", chunks[k]);
  }
  cr_expect_eq(memcmp(got[0].jtj, ref[0].jtj, sizeof ref[0].jtj), 0, "same chunks: same bits");
  free_data(&d);
}

/* Streamed pieces through pinned staging memory (forced here: on a CPU
 * device the automatic choice is not to stage).  The caller keeps two
 * buffers and, as the API allows, overwrites a chunk's arrays with NaN as
 * soon as the next call has returned, then fills them with the chunk after
 * next: a piece still read from the caller's arrays after that (an upload
 * not waited for) poisons the sums when the copy loses the race — a check
 * that can pass by luck on a device whose copies finish at once, as PoCL's
 * do.  What cannot pass by luck: staged or not, the same bits, and the
 * staging carried every byte. */
static void run_scribbled(const char *selector, int pinned, const dataset *d, size_t chunk,
                          fitcl_accum_sums *sums, uint64_t *staged) {
  fitcl__accum_ocl_zero_copy = 0;
  fitcl__accum_ocl_resident_budget = 0;
  fitcl__accum_ocl_pinned = pinned;
  fitcl_context *ctx = fitcl_test_context(selector);
  fitcl_model *m = model(ctx);
  fitcl_accum_options o = {0};
  o.max_chunk = 4096; /* chunks of 5003 points are cut in two pieces */
  fitcl_accum *a = NULL;
  cr_assert_eq(fitcl_accum_create(ctx, m, &o, &a), FITCL_OK, "%s", fitcl_errmsg(ctx));
  double *buf[2] = {malloc(4 * chunk * sizeof(double)), malloc(4 * chunk * sizeof(double))};
  for (int k = 0; k < PASSES; ++k) {
    cr_assert_eq(fitcl_accum_begin(a, params[k], k < PASSES - 1), FITCL_OK);
    int c = 0;
    for (size_t s = 0; s < d->n; s += chunk, c ^= 1) {
      size_t len = d->n - s < chunk ? d->n - s : chunk;
      double *b = buf[c];
      memcpy(b, d->x + s, len * sizeof(double));
      memcpy(b + chunk, d->z + s, len * sizeof(double));
      memcpy(b + 2 * chunk, d->y + s, len * sizeof(double));
      memcpy(b + 3 * chunk, d->sigma + s, len * sizeof(double));
      const double *x[] = {b, b + chunk};
      cr_assert_eq(fitcl_accum_chunk(a, x, b + 2 * chunk, b + 3 * chunk, len), FITCL_OK, "%s",
                   fitcl_errmsg(ctx));
      /* The previous chunk's arrays are free now. */
      for (size_t i = 0; i < 4 * chunk; ++i) buf[c ^ 1][i] = NAN;
    }
    cr_assert_eq(fitcl_accum_end(a, &sums[k]), FITCL_OK, "%s", fitcl_errmsg(ctx));
  }
  *staged = a->bytes_staged;
  free(buf[0]);
  free(buf[1]);
  fitcl_accum_destroy(a);
  fitcl_model_destroy(m);
  fitcl_context_destroy(ctx);
  fitcl__accum_ocl_zero_copy = -1;
  fitcl__accum_ocl_resident_budget = -1;
  fitcl__accum_ocl_pinned = -1;
}

Test(accum_resident, pinned_staging_gives_the_same_bits) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device with fp64");
  dataset d = make_data(30001);
  fitcl_accum_sums ref[PASSES], plain[PASSES], pinned[PASSES];
  uint64_t up[PASSES], staged_plain = 0, staged_pinned = 0;
  run(ocl, 0, 0, &d, 5003, ref, up);
  run_scribbled(ocl, 0, &d, 5003, plain, &staged_plain);
  run_scribbled(ocl, 1, &d, 5003, pinned, &staged_pinned);
  /* The same pieces (4096 + 907 points per chunk): the same bits; other
   * pieces (the reference's whole chunks): the same to rounding. */
  expect_same_bits(pinned, plain, "pinned staging against streaming");
  for (int k = 0; k < PASSES; ++k) {
    cr_expect(fitcl_test_close(plain[k].cost, ref[k].cost, 1e-13), "pass %d cost", k);
    for (int i = 0; i < 9; ++i)
      cr_expect(fitcl_test_close(plain[k].jtj[i], ref[k].jtj[i], 1e-13), "pass %d JᵀJ[%d]", k, i);
  }
  cr_expect_eq(staged_plain, 0, "staged %llu bytes with staging off",
               (unsigned long long)staged_plain);
  /* x, z, y and sigma of every point, every pass. */
  cr_expect_eq(staged_pinned, (uint64_t)PASSES * 4 * d.n * sizeof(double), "staged %llu bytes",
               (unsigned long long)staged_pinned);
  free_data(&d);
}
