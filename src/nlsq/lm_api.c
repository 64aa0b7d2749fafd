/* Public curve-fit entry points: arrays, files and callbacks all become a
 * chunk producer; one pass function feeds the chunks to the accumulator and
 * hands the sums to the solver. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/accum_qr.h"
#include "core/context.h"
#include "core/ranks.h"
#include "core/util.h"
#include "kernels/accum.h"
#include "nlsq/checkpoint.h"
#include "nlsq/lm.h"
#include "nlsq/source.h"

enum { DATA_ARRAYS, DATA_SOURCE, DATA_CALLBACK };

typedef struct pass_ctx {
  fitcl_context *ctx;
  const fitcl_model *model;
  fitcl_accum *acc;
  int kind;
  /* arrays */
  const double *const *x;
  const double *y, *sigma;
  size_t n, chunk;
  const double *xs[FITCL_NLSQ_MAX_VARS];
  /* source */
  fitcl_source *src;
  /* callback */
  fitcl_chunk_fn fn;
  void *user;
  const volatile int *interrupt;
  int passes;
  int validated;
  uint64_t points;
  fitcl__data_stats stats;    /* arrays and callbacks: from the first pass */
  /* The data fingerprint (nlsq/checkpoint.h), computed in the first pass
   * when a checkpoint is written or resumed: `expect` is the resumed
   * checkpoint's, refused when the data differ. */
  int want_fp;
  fitcl__ckpt_hasher hasher;
  fitcl__ckpt_data data, expect;
  const char *resume_path;
  fitcl__ckpt_writer *w;
} pass_ctx;

/* After the first pass: the data are the data the checkpoint was taken on,
 * and every later checkpoint says which data it belongs to. */
static fitcl_status first_pass_done(pass_ctx *pc, uint64_t points) {
  if (!pc->want_fp) return FITCL_OK;
  pc->data.known = 1;
  pc->data.points = points;
  pc->data.fingerprint = fitcl__ckpt_hash_end(&pc->hasher);
  if (pc->expect.known && (pc->expect.points != pc->data.points ||
                           pc->expect.fingerprint != pc->data.fingerprint))
    return fitcl__fail(pc->ctx, FITCL_ERR_MISMATCH,
                       "checkpoint %s was taken on other data (%llu points, fingerprint %016llx; "
                       "these data: %llu points, fingerprint %016llx); resume only on the data "
                       "the fit started on, or start again without --resume",
                       pc->resume_path, (unsigned long long)pc->expect.points,
                       (unsigned long long)pc->expect.fingerprint,
                       (unsigned long long)pc->data.points,
                       (unsigned long long)pc->data.fingerprint);
  if (pc->w) fitcl__ckpt_set_data(pc->w, &pc->data);
  return FITCL_OK;
}

static fitcl_status next_chunk(pass_ctx *pc, uint64_t index, uint64_t row0, fitcl_chunk *c) {
  switch (pc->kind) {
    case DATA_ARRAYS: {
      size_t n = row0 >= pc->n ? 0 : (pc->n - row0 < pc->chunk ? pc->n - row0 : pc->chunk);
      size_t nv = fitcl_model_nvars(pc->model);
      for (size_t j = 0; j < nv; ++j) pc->xs[j] = pc->x[j] + row0;
      c->x = pc->xs;
      c->y = pc->y + row0;
      c->sigma = pc->sigma ? pc->sigma + row0 : NULL;
      c->n = n;
      return FITCL_OK;
    }
    case DATA_SOURCE:
      return fitcl_source_next(pc->src, c);
    default: {
      memset(c, 0, sizeof *c);
      fitcl_status st = pc->fn(pc->user, index, c);
      if (st != FITCL_OK && !*fitcl_errmsg(pc->ctx))
        fitcl__fail(pc->ctx, st, "curve fit: the chunk callback failed on chunk %llu: %s",
                    (unsigned long long)index, fitcl_strerror(st));
      return st;
    }
  }
}

/* One pass in accumulator mode `mode` (kernels/accum.h). */
static fitcl_status run_pass_mode(pass_ctx *pc, const double *params, int mode,
                                  fitcl_accum_sums *out, fitcl__lm_eval *qr_out) {
  fitcl_status st;
  /* A pass shared over ranks (core/ranks.h) sums the whole chunks of each
   * rank exactly, so any split gives the same bits: chunk k goes to rank
   * k mod size, or for a text file to the rank whose share of the bytes
   * holds the chunk's first row (fitcl__source_share).  A data source
   * passes over the other ranks' chunks (fitcl__source_skip): a seekable
   * one reads only this rank's, others read and validate every chunk.
   * Arrays are validated by the rank that owns the chunk; callbacks hand
   * every rank every chunk, validated on each.  Bad data fail the job
   * either way. */
  fitcl__ranks *R = pc->acc->split ? pc->ctx->ranks : NULL;
  if (R && mode == FITCL__ACCUM_QR)
    return fitcl__fail(pc->ctx, FITCL_ERR_UNSUPPORTED,
                       "curve fit: the QR solver does not run over several ranks; use the normal "
                       "equations (solver normal)");
  if (pc->kind == DATA_SOURCE && pc->passes > 0) {
    st = fitcl_source_rewind(pc->src);
    if (st != FITCL_OK) {
      if (R) (void)R->sum(R, NULL, 0, NULL, 1);
      return st;
    }
  }
  if (R && pc->kind == DATA_SOURCE && pc->passes == 0) {
    st = fitcl__source_share(pc->src, R);
    if (st != FITCL_OK) return st; /* on every rank: the share agreed on it */
  }
  pc->passes++;
  st = fitcl__accum_begin_mode(pc->acc, params, mode);
  if (st != FITCL_OK) {
    if (R) (void)R->sum(R, NULL, 0, NULL, 1);
    return st;
  }
  uint64_t row = 0;
  size_t nv = fitcl_model_nvars(pc->model);
  const char *names[FITCL__SRC_MAXCOLS];
  for (size_t j = 0; j < nv; ++j) names[j] = fitcl_model_var_name(pc->model, j);
  names[nv] = "y";
  names[nv + 1] = "sigma";
  /* The data fingerprint of a checkpoint: over ranks each rank hashes its
   * own chunks whether or not it writes or resumes one (rank 0 alone may),
   * and the first pass's exchange of statistics adds the parts; callbacks
   * give every rank every chunk. */
  const int split_fp = R && pc->kind != DATA_CALLBACK;
  const int hashing = (pc->want_fp || split_fp) && !pc->validated;
  if (hashing) fitcl__ckpt_hash_begin(&pc->hasher, (int)nv + 2);
  /* The statistics of a rank's share of the arrays begin at the data's
   * first row, as one process's do. */
  if (R && pc->kind == DATA_ARRAYS && !pc->validated && pc->n && !pc->stats.started)
    fitcl__stats_start(&pc->stats, pc->x, nv, pc->y);
  for (uint64_t index = 0;; ++index) {
    if (pc->interrupt && *pc->interrupt) {
      fitcl__accum_abandon(pc->acc);
      return FITCL_ERR_INTERRUPTED;
    }
    fitcl_chunk c;
    const int mine = !R ? 1
                     : pc->kind == DATA_SOURCE
                         ? fitcl__source_mine(pc->src, R, index)
                         : index % (uint64_t)R->size == (uint64_t)R->rank;
    if (!mine && pc->kind == DATA_SOURCE) st = fitcl__source_skip(pc->src, &c, 0);
    else st = next_chunk(pc, index, row, &c);
    if (st == FITCL_OK && c.n && !pc->validated && pc->kind != DATA_SOURCE &&
        (mine || pc->kind != DATA_ARRAYS)) {
      const double *cols[FITCL__SRC_MAXCOLS];
      for (size_t j = 0; j < nv; ++j) cols[j] = c.x[j];
      cols[nv] = c.y;
      if (c.sigma) cols[nv + 1] = c.sigma;
      st = fitcl__check_chunk(pc->ctx, pc->kind == DATA_ARRAYS ? "input arrays" : "chunk callback",
                              names, cols, (int)nv + 1 + (c.sigma != NULL), c.sigma != NULL, c.n,
                              row, &pc->stats);
    }
    if (st != FITCL_OK) {
      fitcl__accum_abandon(pc->acc);
      return st;
    }
    if (!c.n) break;
    if (hashing && (mine || !split_fp)) {
      fitcl__ckpt_hasher *h = &pc->hasher;
      for (size_t j = 0; j < nv; ++j) fitcl__ckpt_hash_column(h, (int)j, row, c.x[j], c.n);
      fitcl__ckpt_hash_column(h, (int)nv, row, c.y, c.n);
      if (c.sigma) fitcl__ckpt_hash_column(h, (int)nv + 1, row, c.sigma, c.n);
    }
    if (mine) {
      /* Rows name the pieces a device keeps between passes: the data's. */
      fitcl__accum_at_row(pc->acc, row);
      st = fitcl_accum_chunk(pc->acc, c.x, c.y, c.sigma, c.n);
      /* The chunks read next, other ranks' work, may reuse this one's
       * arrays: the device must be done with them first. */
      if (st == FITCL_OK && R) st = fitcl__accum_settle(pc->acc);
    }
    if (st != FITCL_OK) {
      fitcl__accum_abandon(pc->acc);
      return st;
    }
    row += c.n;
  }
  if (mode == FITCL__ACCUM_QR) {
    st = fitcl__accum_end_qr(pc->acc, qr_out->T, &qr_out->cost, &qr_out->rss, &qr_out->points);
    out->points = qr_out->points;
  } else {
    st = fitcl_accum_end(pc->acc, out);
  }
  if (st != FITCL_OK) return st;
  if (!pc->validated) {
    /* The first pass's statistics hold this rank's chunks for a source or
     * arrays (added over the ranks here), every chunk for a callback. */
    uint64_t *fp = &pc->hasher.sum;
    if (R && pc->kind == DATA_SOURCE)
      st = fitcl__stats_share(pc->ctx, &pc->src->stats, nv, R, fp);
    if (R && pc->kind == DATA_ARRAYS) st = fitcl__stats_share(pc->ctx, &pc->stats, nv, R, fp);
    if (st != FITCL_OK) return st;
    fitcl__stats_finish(&pc->stats);
    pc->validated = 1;
    pc->points = out->points;
    size_t np = fitcl_model_nparams(pc->model);
    if (out->points <= np)
      return fitcl__fail(pc->ctx, FITCL_ERR_SIZE,
                         "curve fit: %llu data points for %zu parameters; more points than "
                         "parameters are needed", (unsigned long long)out->points, np);
    st = first_pass_done(pc, out->points);
    if (st != FITCL_OK) return st;
  } else if (out->points != pc->points) {
    return fitcl__fail(pc->ctx, FITCL_ERR_MISMATCH,
                       "curve fit: a pass gave %llu points, the first gave %llu; every pass must "
                       "give the same data", (unsigned long long)out->points,
                       (unsigned long long)pc->points);
  }
  return FITCL_OK;
}

/* The solver's pass: normal equations or the QR triangle, with JᵀJ and Jᵀr
 * filled in either case. */
static fitcl_status run_pass(void *user, const double *params, int qr, fitcl__lm_eval *out) {
  pass_ctx *pc = user;
  int np = (int)fitcl_model_nparams(pc->model);
  out->np = np;
  out->qr = qr;
  if (!qr) {
    fitcl_accum_sums *s = malloc(sizeof *s);
    if (!s) return fitcl__fail(pc->ctx, FITCL_ERR_NOMEM, "curve fit: out of memory");
    fitcl_status st = run_pass_mode(pc, params, FITCL__ACCUM_NORMAL, s, NULL);
    if (st == FITCL_OK) {
      memcpy(out->jtj, s->jtj, sizeof(double) * (size_t)np * (size_t)np);
      memcpy(out->jtr, s->jtr, sizeof(double) * (size_t)np);
      out->cost = s->cost;
      out->rss = s->rss;
      out->points = s->points;
    }
    free(s);
    return st;
  }
  fitcl_accum_sums pts;
  fitcl_status st = run_pass_mode(pc, params, FITCL__ACCUM_QR, &pts, out);
  if (st != FITCL_OK) return st;
  const int m = np + 1;
  for (int i = 0; i < np; ++i) {
    double g = 0;
    for (int k = 0; k <= i; ++k) g += out->T[FITCL_QR_AT(m, k, i)] * out->T[FITCL_QR_AT(m, k, np)];
    out->jtr[i] = g;
    for (int j = i; j < np; ++j) {
      double a = 0;
      for (int k = 0; k <= i; ++k) a += out->T[FITCL_QR_AT(m, k, i)] * out->T[FITCL_QR_AT(m, k, j)];
      out->jtj[i * np + j] = a;
      out->jtj[j * np + i] = a;
    }
  }
  return FITCL_OK;
}

static fitcl_status check_options(fitcl_context *ctx, const fitcl_model *m, const double *p0,
                                  const fitcl_curvefit_options *o) {
  size_t n = fitcl_model_nparams(m);
  if (o->f_scale < 0 || !isfinite(o->f_scale))
    return fitcl__fail(ctx, FITCL_ERR_RANGE, "curve fit: f_scale must be > 0, got %g", o->f_scale);
  if ((int)o->loss < FITCL_LOSS_LINEAR || (int)o->loss > FITCL_LOSS_ARCTAN)
    return fitcl__fail(ctx, FITCL_ERR_RANGE, "curve fit: unknown loss %d", (int)o->loss);
  for (size_t j = 0; j < n; ++j) {
    const char *name = fitcl_model_param_name(m, j);
    double lo = o->lower ? o->lower[j] : -INFINITY, hi = o->upper ? o->upper[j] : INFINITY;
    if (isnan(lo) || isnan(hi) || !(lo < hi))
      return fitcl__fail(ctx, FITCL_ERR_RANGE,
                         "curve fit: bounds of %s are [%g, %g]; the lower must be below the upper",
                         name, lo, hi);
    if (p0 && (!isfinite(p0[j]) || p0[j] < lo || p0[j] > hi))
      return fitcl__fail(ctx, FITCL_ERR_RANGE,
                         "curve fit: starting value %s=%g is %s; give a finite start inside "
                         "[%g, %g]", name, p0[j], isfinite(p0[j]) ? "outside its bounds" : "not finite",
                         lo, hi);
    if (o->x_scale && !(o->x_scale[j] > 0 && isfinite(o->x_scale[j])))
      return fitcl__fail(ctx, FITCL_ERR_RANGE, "curve fit: x_scale of %s must be > 0, got %g",
                         name, o->x_scale[j]);
  }
  if (o->solver < FITCL_SOLVER_AUTO || o->solver > FITCL_SOLVER_QR)
    return fitcl__fail(ctx, FITCL_ERR_RANGE, "curve fit: unknown solver %d (0 auto, 1 normal, 2 qr)",
                       o->solver);
  if (o->confidence != 0 && !(o->confidence > 0 && o->confidence < 1))
    return fitcl__fail(ctx, FITCL_ERR_RANGE, "curve fit: confidence must be in (0, 1), got %g",
                       o->confidence);
  return FITCL_OK;
}

/* A checkpoint is rewritten many times during a fit: it must be a regular
 * file (so it can be resumed), and never one of the data files. */
static fitcl_status check_checkpoint_path(fitcl_context *ctx, const pass_ctx *pc, const char *path) {
  struct stat st;
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
    return fitcl__fail(ctx, FITCL_ERR_ARG,
                       "checkpoint %s: is not a regular file (a %s); a checkpoint must be a file "
                       "it can be resumed from", path,
                       S_ISDIR(st.st_mode) ? "directory" : S_ISFIFO(st.st_mode) ? "FIFO"
                       : S_ISCHR(st.st_mode) ? "character device" : "special file");
  if (pc->kind == DATA_SOURCE && fitcl__source_reads(pc->src, path))
    return fitcl__fail(ctx, FITCL_ERR_ARG,
                       "checkpoint %s is the same file as the data %s; writing it would destroy "
                       "the data (give another path)", path, pc->src->path);
  return FITCL_OK;
}

static fitcl_status run_fit(fitcl_context *ctx, const fitcl_model *m, pass_ctx *pc,
                            const double *p0, const fitcl_curvefit_options *opt_in,
                            fitcl_curvefit_result *res) {
  fitcl_curvefit_options opt;
  fitcl__ckpt_writer *w = NULL;
  fitcl_status st;
  const char *names[FITCL_NLSQ_MAX_PARAMS];
  if (!ctx || !m || !p0 || !res) return fitcl__fail(ctx, FITCL_ERR_NULL, "curve fit: NULL argument");
  fitcl__clear_error(ctx);
  memset(&opt, 0, sizeof opt);
  if (opt_in) opt = *opt_in;
  size_t n = fitcl_model_nparams(m);
  if (n == 0 || n > FITCL_NLSQ_MAX_PARAMS)
    return fitcl__fail(ctx, FITCL_ERR_SIZE, "curve fit: %zu parameters", n);
  for (size_t j = 0; j < n; ++j) names[j] = fitcl_model_param_name(m, j);
  st = check_options(ctx, m, opt.resume_path ? NULL : p0, &opt);
  if (st != FITCL_OK) return st;
  if (opt.checkpoint_path) {
    st = check_checkpoint_path(ctx, pc, opt.checkpoint_path);
    if (st != FITCL_OK) return st;
  }

  fitcl_accum_options ao;
  memset(&ao, 0, sizeof ao);
  ao.loss = opt.loss;
  ao.f_scale = opt.f_scale;
  ao.path = opt.accum_path;
  ao.max_chunk = opt.chunk_points ? opt.chunk_points : 1048576;
  if (pc->kind == DATA_SOURCE && pc->src->chunk > ao.max_chunk) ao.max_chunk = pc->src->chunk;
  pc->chunk = ao.max_chunk;
  pc->ctx = ctx;
  pc->model = m;
  pc->interrupt = opt.interrupt;
  st = fitcl_accum_create(ctx, m, &ao, &pc->acc);
  if (st != FITCL_OK) goto fail;
  (void)fitcl__accum_share(pc->acc);
  /* Arrays are the caller's for the whole call, files are watched for
   * change: the same rows every pass, so a device may keep them.  A chunk
   * callback may not promise that. */
  if (pc->kind != DATA_CALLBACK) fitcl__accum_repeat_data(pc->acc);

  fitcl__ckpt_key key = {opt.model_text ? opt.model_text : fitcl_model_expr(m), names, (int)n,
                         (int)opt.loss, opt.f_scale, opt.lower, opt.upper, opt.fixed,
                         {0, 0, 0}};
  fitcl__lm_state s;
  memset(&s, 0, sizeof s);
  s.nparams = (int)n;
  pc->want_fp = opt.checkpoint_path || opt.resume_path;
  pc->resume_path = opt.resume_path;
  if (opt.resume_path) {
    st = fitcl__ckpt_load(ctx, opt.resume_path, &key, &s, &pc->expect);
    if (st != FITCL_OK) goto fail;
    st = check_options(ctx, m, s.p, &opt);
    if (st != FITCL_OK) goto fail;
  } else {
    memcpy(s.p, p0, sizeof(double) * n);
    s.lambda = opt.lambda0 > 0 ? opt.lambda0 : 1e-2;
    s.nu = 2;
  }
  if (!opt.resume_path && opt.loss != FITCL_LOSS_LINEAR && !opt.x_scale) {
    /* Robust losses: IRLS weights of points far out on the loss vanish, so
     * at a poor start the weighted J^T J can be nearly zero and useless as
     * the damping scale.  The scale comes from the unweighted Jacobian at
     * the start instead (one extra pass, once per fit). */
    fitcl_accum *robust = pc->acc, *lin = NULL;
    fitcl__lm_eval *S0 = malloc(sizeof *S0);
    ao.loss = FITCL_LOSS_LINEAR;
    st = S0 ? fitcl_accum_create(ctx, m, &ao, &lin)
            : fitcl__fail(ctx, FITCL_ERR_NOMEM, "curve fit: out of memory");
    if (st == FITCL_OK) {
      (void)fitcl__accum_share(lin);
      pc->acc = lin;
      st = run_pass(pc, s.p, 0, S0);
      pc->acc = robust;
    }
    fitcl_accum_destroy(lin);
    if (st == FITCL_OK)
      for (size_t j = 0; j < n; ++j) s.d2[j] = S0->jtj[j * n + j];
    free(S0);
    if (st != FITCL_OK) goto fail;
  }
  if (opt.checkpoint_path) {
    /* The data line: known after a robust start's pass, else the resumed
     * checkpoint's until the first pass confirms it. */
    key.data = pc->data.known ? pc->data : pc->expect;
    st = fitcl__ckpt_writer_create(ctx, opt.checkpoint_path, &key, &w);
    if (st != FITCL_OK) goto fail;
    pc->w = w;
    /* Writing the starting state at once proves the path is writable
     * before any time is spent. */
    st = fitcl__ckpt_flush(w, &s);
    if (st != FITCL_OK) goto fail;
  }
  fitcl_accum_info ai;
  fitcl_accum_get_info(pc->acc, &ai);
  int in_float = ai.precision && strcmp(ai.precision, "double") != 0;
  fitcl__lm_problem pb = {ctx, (int)n, names, opt.fixed, run_pass, pc,
                          in_float ? (double)FLT_EPSILON : DBL_EPSILON};
  st = fitcl__lm_solve(&pb, &opt, &s, w, res);
  if (st == FITCL_OK) {
    const fitcl__data_stats *ds = pc->kind == DATA_SOURCE ? &pc->src->stats : &pc->stats;
    fitcl__fit_statistics(ds->sw, ds->swy, ds->swy2, &opt, res);
    for (size_t j = 0; j < fitcl_model_nvars(m); ++j) {
      res->x_min[j] = ds->xmin[j];
      res->x_max[j] = ds->xmax[j];
    }
  }
  if (st == FITCL_OK && opt.profile && res->converged && !res->singular)
    st = fitcl__profile_intervals(ctx, &pb, &opt, res);
fail:
  pc->w = NULL;
  fitcl__ckpt_writer_destroy(w);
  fitcl_accum_destroy(pc->acc);
  pc->acc = NULL;
  return st;
}

fitcl_status fitcl_curve_fit_arrays(fitcl_context *ctx, const fitcl_model *m,
                                    const double *const *x, const double *y,
                                    const double *sigma, size_t n, const double *p0,
                                    const fitcl_curvefit_options *opt, fitcl_curvefit_result *res) {
  if (!ctx || !m || !y || (!x && fitcl_model_nvars(m) > 0))
    return fitcl__fail(ctx, FITCL_ERR_NULL, "fitcl_curve_fit_arrays: NULL argument");
  pass_ctx pc;
  memset(&pc, 0, sizeof pc);
  pc.kind = DATA_ARRAYS;
  pc.x = x;
  pc.y = y;
  pc.sigma = sigma;
  pc.n = n;
  return run_fit(ctx, m, &pc, p0, opt, res);
}

fitcl_status fitcl_curve_fit_source(fitcl_context *ctx, const fitcl_model *m, fitcl_source *src,
                                    const double *p0, const fitcl_curvefit_options *opt,
                                    fitcl_curvefit_result *res) {
  if (!ctx || !m || !src) return fitcl__fail(ctx, FITCL_ERR_NULL, "fitcl_curve_fit_source: NULL argument");
  if (src->nx != fitcl_model_nvars(m))
    return fitcl__fail(ctx, FITCL_ERR_MISMATCH,
                       "curve fit: the model reads %zu variable%s but the data source has %zu x "
                       "column%s", fitcl_model_nvars(m), fitcl_model_nvars(m) == 1 ? "" : "s",
                       src->nx, src->nx == 1 ? "" : "s");
  pass_ctx pc;
  memset(&pc, 0, sizeof pc);
  pc.kind = DATA_SOURCE;
  pc.src = src;
  /* A source may already have been read by the caller. */
  pc.passes = src->passes;
  return run_fit(ctx, m, &pc, p0, opt, res);
}

fitcl_status fitcl_curve_fit_chunks(fitcl_context *ctx, const fitcl_model *m, fitcl_chunk_fn fn,
                                    void *user, const double *p0, const fitcl_curvefit_options *opt,
                                    fitcl_curvefit_result *res) {
  if (!ctx || !m || !fn) return fitcl__fail(ctx, FITCL_ERR_NULL, "fitcl_curve_fit_chunks: NULL argument");
  pass_ctx pc;
  memset(&pc, 0, sizeof pc);
  pc.kind = DATA_CALLBACK;
  pc.fn = fn;
  pc.user = user;
  return run_fit(ctx, m, &pc, p0, opt, res);
}
