/* Checkpoint and resume: a fit interrupted at any iteration (between trial
 * steps or in the middle of a pass) and resumed from its checkpoint ends
 * with the same bits as a fit never interrupted; checkpoints of another
 * fit, or damaged ones, are refused with a clear message. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

enum { N = 20000, CHUNK = 3000 };
static double X[N], Y[N];
static volatile int stop_flag;
static int stop_at;
static long chunk_calls, stop_at_chunk;

static void make_data(void) {
  unsigned long long s = 1;
  for (int i = 0; i < N; ++i) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    double u = (double)(s >> 11) / 9007199254740992.0 - 0.5;
    X[i] = 10.0 * i / N;
    Y[i] = 2.0 * exp(-1.3 * X[i]) + 0.7 * exp(-0.15 * X[i]) + 0.01 * u;
  }
}

static void on_progress(void *user, const fitcl_curvefit_progress *p) {
  (void)user;
  if (stop_at && p->iteration == stop_at) stop_flag = 1;
}

static const double *xs_cb[1];
static fitcl_status chunks(void *user, uint64_t index, fitcl_chunk *c) {
  (void)user;
  if (stop_at_chunk && ++chunk_calls == stop_at_chunk) stop_flag = 1;
  size_t r0 = (size_t)index * CHUNK;
  c->n = r0 >= N ? 0 : (N - r0 < CHUNK ? N - r0 : CHUNK);
  xs_cb[0] = X + r0;
  c->x = xs_cb;
  c->y = Y + r0;
  c->sigma = NULL;
  return FITCL_OK;
}

static fitcl_model *model(fitcl_context *ctx) {
  const char *names[] = {"a", "b", "c", "d"}, *vars[] = {"x"};
  fitcl_model *m = NULL;
  cr_assert_eq(fitcl_model_compile(ctx, "a*exp(-b*x)+c*exp(-d*x)", names, 4, vars, 1, &m), FITCL_OK);
  return m;
}

static const double P0[4] = {1, 3, 1, 0.01};

static void expect_same_result(const fitcl_curvefit_result *a, const fitcl_curvefit_result *b,
                               const char *what) {
  cr_expect_eq(memcmp(a->params, b->params, sizeof(double) * 4), 0,
               "%s: params differ: %.17g %.17g %.17g %.17g vs %.17g %.17g %.17g %.17g", what,
               a->params[0], a->params[1], a->params[2], a->params[3], b->params[0], b->params[1],
               b->params[2], b->params[3]);
  cr_expect_eq(a->cost, b->cost, "%s: cost %.17g vs %.17g", what, a->cost, b->cost);
  cr_expect_eq(a->iterations, b->iterations, "%s: iterations %d vs %d", what, a->iterations,
               b->iterations);
  cr_expect_eq(a->status, b->status, "%s: status %s vs %s", what, fitcl_curvefit_status_name(a->status),
               fitcl_curvefit_status_name(b->status));
  cr_expect_eq(memcmp(a->stderr_, b->stderr_, sizeof(double) * 4), 0, "%s: stderr differ", what);
}

Test(checkpoint, resume_equals_uninterrupted, .timeout = 300) {
  make_data();
  fitcl_test_backend be[2];
  size_t nbe = fitcl_test_backends(be, 2);
  for (size_t b = 0; b < nbe; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    fitcl_model *m = model(ctx);
    char *dir = fitcl_test_tmpdir();
    char ck[1024];
    snprintf(ck, sizeof ck, "%s/fit.ckpt", dir);
    const double *cols[] = {X};
    fitcl_curvefit_options fo = {0};
    fo.chunk_points = CHUNK;
    fo.ftol = fo.xtol = 1e-12;
    fitcl_curvefit_result ref, r, r2;
    cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, Y, NULL, N, P0, &fo, &ref), FITCL_OK);
    cr_assert(ref.converged);
    cr_assert_gt(ref.iterations, 6, "the fit is too short to test resuming (%d)", ref.iterations);
    /* Interrupt between trial steps at several points, resume, compare. */
    int stops[] = {1, 2, ref.iterations / 2, ref.iterations - 1};
    for (size_t k = 0; k < sizeof stops / sizeof stops[0]; ++k) {
      char what[64];
      snprintf(what, sizeof what, "[%s] stop at iteration %d", be[b].name, stops[k]);
      fitcl_curvefit_options fi = fo;
      stop_flag = 0;
      stop_at = stops[k];
      fi.interrupt = &stop_flag;
      fi.progress = on_progress;
      fi.checkpoint_path = ck;
      fi.checkpoint_every = 3;
      cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, Y, NULL, N, P0, &fi, &r),
                   FITCL_ERR_INTERRUPTED, "%s: %s", what, fitcl_errmsg(ctx));
      cr_expect_eq(r.iterations, stops[k], "%s", what);
      stop_at = 0;
      stop_flag = 0;
      fitcl_curvefit_options fr = fo;
      fr.resume_path = ck;
      cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, Y, NULL, N, P0, &fr, &r2), FITCL_OK,
                   "%s: %s", what, fitcl_errmsg(ctx));
      expect_same_result(&ref, &r2, what);
    }
    /* Interrupt inside a pass (between chunks) through the chunk API. */
    fitcl_curvefit_result rc;
    cr_assert_eq(fitcl_curve_fit_chunks(ctx, m, chunks, NULL, P0, &fo, &rc), FITCL_OK);
    for (long at = 9; at < 60; at += 23) {
      char what[64];
      snprintf(what, sizeof what, "[%s] stop at chunk call %ld", be[b].name, at);
      fitcl_curvefit_options fi = fo;
      stop_flag = 0;
      chunk_calls = 0;
      stop_at_chunk = at;
      fi.interrupt = &stop_flag;
      fi.checkpoint_path = ck;
      cr_assert_eq(fitcl_curve_fit_chunks(ctx, m, chunks, NULL, P0, &fi, &r), FITCL_ERR_INTERRUPTED,
                   "%s", what);
      stop_at_chunk = 0;
      stop_flag = 0;
      fitcl_curvefit_options fr = fo;
      fr.resume_path = ck;
      cr_assert_eq(fitcl_curve_fit_chunks(ctx, m, chunks, NULL, P0, &fr, &r2), FITCL_OK, "%s: %s",
                   what, fitcl_errmsg(ctx));
      expect_same_result(&rc, &r2, what);
    }
    /* A finished fit's checkpoint resumes to the same answer at once. */
    fitcl_curvefit_options fi = fo;
    fi.checkpoint_path = ck;
    cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, Y, NULL, N, P0, &fi, &r), FITCL_OK);
    fitcl_curvefit_options fr = fo;
    fr.resume_path = ck;
    cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, Y, NULL, N, P0, &fr, &r2), FITCL_OK);
    expect_same_result(&r, &r2, "finished checkpoint");
    /* Only the checkpoint is left: temporary files were renamed away. */
    DIR *d = opendir(dir);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)))
      if (e->d_name[0] != '.') {
        files++;
        cr_expect_str_eq(e->d_name, "fit.ckpt");
      }
    closedir(d);
    cr_expect_eq(files, 1);
    fitcl_model_destroy(m);
    fitcl_test_rmtree(dir);
    free(dir);
    fitcl_context_destroy(ctx);
  }
}

Test(checkpoint, refuses_other_fits_and_damaged_files) {
  make_data();
  fitcl_context *ctx = fitcl_test_context("cpu");
  fitcl_model *m = model(ctx);
  char *dir = fitcl_test_tmpdir();
  char ck[1024];
  snprintf(ck, sizeof ck, "%s/fit.ckpt", dir);
  const double *cols[] = {X};
  fitcl_curvefit_options fo = {0};
  fo.checkpoint_path = ck;
  fitcl_curvefit_result r;
  cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, Y, NULL, N, P0, &fo, &r), FITCL_OK);
  fitcl_curvefit_options fr = {0};
  fr.resume_path = ck;
  /* Other bounds. */
  double lo[4] = {0, 0, 0, 0}, hi[4] = {10, 10, 10, 10};
  fr.lower = lo;
  fr.upper = hi;
  cr_expect_eq(fitcl_curve_fit_arrays(ctx, m, cols, Y, NULL, N, P0, &fr, &r), FITCL_ERR_MISMATCH);
  cr_expect_not_null(strstr(fitcl_errmsg(ctx), "lower bounds"), "%s", fitcl_errmsg(ctx));
  fr.lower = fr.upper = NULL;
  /* Another loss. */
  fr.loss = FITCL_LOSS_CAUCHY;
  cr_expect_eq(fitcl_curve_fit_arrays(ctx, m, cols, Y, NULL, N, P0, &fr, &r), FITCL_ERR_MISMATCH);
  fr.loss = FITCL_LOSS_LINEAR;
  /* Another model with the same parameter names. */
  const char *names[] = {"a", "b", "c", "d"}, *vars[] = {"x"};
  fitcl_model *m2 = NULL;
  cr_assert_eq(fitcl_model_compile(ctx, "a*exp(-b*x)+c*exp(-d*x)+0", names, 4, vars, 1, &m2), FITCL_OK);
  cr_expect_eq(fitcl_curve_fit_arrays(ctx, m2, cols, Y, NULL, N, P0, &fr, &r), FITCL_ERR_MISMATCH);
  cr_expect_not_null(strstr(fitcl_errmsg(ctx), "another model"), "%s", fitcl_errmsg(ctx));
  fitcl_model_destroy(m2);
  /* Truncated file. */
  FILE *f = fopen(ck, "r");
  char buf[4096];
  size_t len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  f = fopen(ck, "w");
  fwrite(buf, 1, len / 2 + 20 < len ? len - 10 : len / 2, f);
  fclose(f);
  cr_expect_eq(fitcl_curve_fit_arrays(ctx, m, cols, Y, NULL, N, P0, &fr, &r), FITCL_ERR_PARSE);
  cr_expect_not_null(strstr(fitcl_errmsg(ctx), ck), "%s", fitcl_errmsg(ctx));
  /* Not a checkpoint at all. */
  char *junk = fitcl_test_write_file(dir, "junk", "hello\n");
  fr.resume_path = junk;
  cr_expect_eq(fitcl_curve_fit_arrays(ctx, m, cols, Y, NULL, N, P0, &fr, &r), FITCL_ERR_PARSE);
  /* Missing file, and an unwritable checkpoint path. */
  fr.resume_path = "/nonexistent/fit.ckpt";
  cr_expect_eq(fitcl_curve_fit_arrays(ctx, m, cols, Y, NULL, N, P0, &fr, &r), FITCL_ERR_FILE);
  fitcl_curvefit_options fw = {0};
  fw.checkpoint_path = "/nonexistent/dir/fit.ckpt";
  cr_expect_eq(fitcl_curve_fit_arrays(ctx, m, cols, Y, NULL, N, P0, &fw, &r), FITCL_ERR_IO);
  cr_expect_not_null(strstr(fitcl_errmsg(ctx), "/nonexistent/dir/fit.ckpt"), "%s", fitcl_errmsg(ctx));
  free(junk);
  fitcl_model_destroy(m);
  fitcl_test_rmtree(dir);
  free(dir);
  fitcl_context_destroy(ctx);
}

/* Rewrites checkpoint `in` as format `fmt` (1: also without "fixed" and
 * "qr"), keeping its data line or not. */
static void rewrite_as(const char *in_path, const char *out_path, int fmt, int keep_data) {
  FILE *in = fopen(in_path, "r"), *out = fopen(out_path, "w");
  cr_assert(in && out);
  char line[4096];
  int data = 0;
  while (fgets(line, sizeof line, in)) {
    data |= !strncmp(line, "data ", 5);
    if (!strncmp(line, "fitcl-curvefit-checkpoint", 25))
      fprintf(out, "fitcl-curvefit-checkpoint %d\n", fmt);
    else if (fmt == 1 && (!strncmp(line, "fixed ", 6) || !strncmp(line, "qr ", 3)))
      continue;
    else if (keep_data || strncmp(line, "data ", 5))
      fputs(line, out);
  }
  cr_assert(data, "the checkpoint has no data line");
  fclose(in);
  fclose(out);
}

/* A checkpoint of format 1 (before held parameters and the QR mode) still
 * resumes, on the normal equations, to the uninterrupted answer; one with
 * held parameters is refused by a fit that holds none.  Formats 1 and 2
 * fingerprinted the data another way: with a data line they are refused,
 * saying so; without one they resume. */
Test(checkpoint, format_1_still_resumes) {
  make_data();
  fitcl_context *ctx = fitcl_test_context("cpu");
  fitcl_model *m = model(ctx);
  char *dir = fitcl_test_tmpdir();
  char ck[1024], ck1[1024];
  snprintf(ck, sizeof ck, "%s/fit.ckpt", dir);
  snprintf(ck1, sizeof ck1, "%s/fit1.ckpt", dir);
  const double *cols[] = {X};
  fitcl_curvefit_options fo = {0};
  fo.solver = FITCL_SOLVER_NORMAL;
  fitcl_curvefit_result ref, r;
  cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, Y, NULL, N, P0, &fo, &ref), FITCL_OK);
  fitcl_curvefit_options fi = fo;
  stop_flag = 0;
  stop_at = 3;
  fi.interrupt = &stop_flag;
  fi.progress = on_progress;
  fi.checkpoint_path = ck;
  cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, Y, NULL, N, P0, &fi, &r), FITCL_ERR_INTERRUPTED);
  stop_at = 0;
  fitcl_curvefit_options fr = fo;
  fr.resume_path = ck1;
  for (int fmt = 1; fmt <= 2; ++fmt) {
    rewrite_as(ck, ck1, fmt, 1);
    cr_expect_eq(fitcl_curve_fit_arrays(ctx, m, cols, Y, NULL, N, P0, &fr, &r),
                 FITCL_ERR_MISMATCH, "format %d with a data line", fmt);
    cr_expect_not_null(strstr(fitcl_errmsg(ctx), "older fitcl"), "%s", fitcl_errmsg(ctx));
    rewrite_as(ck, ck1, fmt, 0);
    cr_assert_eq(fitcl_curve_fit_arrays(ctx, m, cols, Y, NULL, N, P0, &fr, &r), FITCL_OK,
                 "format %d: %s", fmt, fitcl_errmsg(ctx));
    expect_same_result(&ref, &r, fmt == 1 ? "format 1" : "format 2");
  }
  rewrite_as(ck, ck1, 1, 0);
  const int fixed[4] = {0, 0, 1, 0};
  fr.fixed = fixed;
  cr_expect_eq(fitcl_curve_fit_arrays(ctx, m, cols, Y, NULL, N, P0, &fr, &r), FITCL_ERR_MISMATCH);
  cr_expect_not_null(strstr(fitcl_errmsg(ctx), "held parameters"), "%s", fitcl_errmsg(ctx));
  fitcl_model_destroy(m);
  fitcl_test_rmtree(dir);
  free(dir);
  fitcl_context_destroy(ctx);
}
