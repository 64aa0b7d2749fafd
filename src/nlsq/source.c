/* Data sources: chunk validation, the double-buffered chunk storage and the
 * public entry points that work on any reader.  The readers, and the format
 * dispatch of fitcl_source_open, are in io/. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/context.h"
#include "core/outfile.h"
#include "core/util.h"
#include "nlsq/source.h"

fitcl_status fitcl__source_watch(fitcl_source *src, const char *path, const struct stat *st) {
  for (int i = 0; i < src->nfiles; ++i)
    if (src->files[i].dev == st->st_dev && src->files[i].ino == st->st_ino) return FITCL_OK;
  if (src->nfiles == FITCL__SRC_MAXCOLS)
    return fitcl__fail(src->ctx, FITCL_ERR_SIZE, "%s: too many data files", path);
  fitcl__src_file *f = &src->files[src->nfiles];
  if (!(f->path = fitcl__strdup(path))) return fitcl__fail(src->ctx, FITCL_ERR_NOMEM, "out of memory");
  f->dev = st->st_dev;
  f->ino = st->st_ino;
  f->size = st->st_size;
  f->mtime = st->st_mtim;
  src->nfiles++;
  return FITCL_OK;
}

static fitcl_status changed(fitcl_source *src, const fitcl__src_file *f, const struct stat *now) {
  if (!now)
    return fitcl__fail(src->ctx, FITCL_ERR_IO,
                       "%s changed during the fit: it was removed or renamed; every pass must read "
                       "the same data (copy the file before fitting it while it is written)",
                       f->path);
  return fitcl__fail(src->ctx, FITCL_ERR_IO,
                     "%s changed during the fit (%s; %lld bytes, was %lld); every pass must read "
                     "the same data (copy the file before fitting it while it is written)",
                     f->path,
                     now->st_dev != f->dev || now->st_ino != f->ino ? "replaced by another file"
                     : now->st_size < f->size                       ? "shrunk"
                     : now->st_size > f->size                       ? "grown"
                                                                    : "rewritten",
                     (long long)now->st_size, (long long)f->size);
}

fitcl_status fitcl__source_check_files(fitcl_source *src) {
  for (int i = 0; i < src->nfiles; ++i) {
    const fitcl__src_file *f = &src->files[i];
    struct stat now;
    if (stat(f->path, &now) != 0) return changed(src, f, NULL);
    if (now.st_dev != f->dev || now.st_ino != f->ino || now.st_size != f->size ||
        now.st_mtim.tv_sec != f->mtime.tv_sec || now.st_mtim.tv_nsec != f->mtime.tv_nsec)
      return changed(src, f, &now);
  }
  return FITCL_OK;
}

fitcl_status fitcl__source_changed(fitcl_source *src, const char *path) {
  fitcl_status st = fitcl__source_check_files(src);
  if (st != FITCL_OK) return st;
  /* The size on record still holds, yet a read came up short. */
  return fitcl__fail(src->ctx, FITCL_ERR_IO,
                     "%s changed during the fit: a read came up short; every pass must read the "
                     "same data", path);
}

int fitcl__source_reads(const fitcl_source *src, const char *path) {
  for (int i = 0; i < src->nfiles; ++i)
    if (fitcl__out_same_file(path, src->files[i].path)) return 1;
  return src->path && fitcl__out_same_file(path, src->path);
}

fitcl_status fitcl__check_chunk(fitcl_context *ctx, const char *where, const char *const *names,
                                const double *const *cols, int ncols, int has_sigma, size_t n,
                                uint64_t row0) {
  for (int k = 0; k < ncols; ++k) {
    const double *c = cols[k];
    int is_sigma = has_sigma && k == ncols - 1;
    for (size_t i = 0; i < n; ++i) {
      double v = c[i];
      if (isfinite(v) && (!is_sigma || v > 0)) continue;
      const char *what = isnan(v) ? "NaN" : isinf(v) ? "infinite" : "not > 0";
      return fitcl__fail(ctx, FITCL_ERR_DATA,
                         "%s: row %llu: column '%s' is %s; %s", where,
                         (unsigned long long)(row0 + i), names[k], what,
                         is_sigma ? "every sigma must be finite and > 0"
                                  : "remove or fix the row (every value must be finite)");
    }
  }
  return FITCL_OK;
}

fitcl_status fitcl__source_alloc(fitcl_context *ctx, const fitcl_source_options *opt,
                                 size_t default_chunk, fitcl_source **out) {
  fitcl_source *s = calloc(1, sizeof *s);
  *out = NULL;
  if (!s) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory opening %s", opt->path);
  s->ctx = ctx;
  s->nx = opt->x ? opt->nx : 1;
  s->has_sigma = opt->sigma != NULL;
  s->ncols = (int)s->nx + 1 + s->has_sigma;
  s->chunk = opt->chunk_points ? opt->chunk_points : default_chunk;
  s->path = fitcl__strdup(opt->path);
  if (!s->path) goto oom;
  for (int f = 0; f < 2; ++f)
    for (int k = 0; k < s->ncols; ++k)
      if (!(s->buf[f][k] = fitcl_alloc_column(s->chunk))) goto oom;
  *out = s;
  return FITCL_OK;
oom:
  fitcl_source_destroy(s);
  return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory for %zu-point chunks of %s",
                     opt->chunk_points ? opt->chunk_points : default_chunk, opt->path);
}

fitcl_status fitcl_source_rewind(fitcl_source *src) {
  if (!src) return FITCL_ERR_NULL;
  fitcl_status st = fitcl__source_check_files(src);
  if (st != FITCL_OK) return st;
  src->row = 0;
  src->passes++;
  return src->ops->rewind(src);
}

fitcl_status fitcl_source_next(fitcl_source *src, fitcl_chunk *chunk) {
  if (!src || !chunk) return FITCL_ERR_NULL;
  const double *cols[FITCL__SRC_MAXCOLS] = {0};
  size_t n = 0;
  if (src->passes == 0) src->passes = 1;
  fitcl_status st = src->ops->read(src, cols, &n);
  if (st != FITCL_OK) return st;
  if (!src->validated && !src->self_checked && n) {
    st = fitcl__check_chunk(src->ctx, src->path, (const char *const *)src->colname, cols,
                            src->ncols, src->has_sigma, n, src->row);
    if (st != FITCL_OK) return st;
  }
  src->row += n;
  if (n == 0) {
    /* A pass is only as good as the files it read. */
    st = fitcl__source_check_files(src);
    if (st != FITCL_OK) return st;
  }
  if (n == 0 && !src->validated) {
    src->validated = 1;
    src->points = src->row;
  }
  const double **xs = src->xs[src->flip];
  for (size_t j = 0; j < src->nx; ++j) xs[j] = cols[j];
  chunk->x = xs;
  chunk->y = cols[src->nx];
  chunk->sigma = src->has_sigma ? cols[src->nx + 1] : NULL;
  chunk->n = n;
  src->flip ^= 1;
  return FITCL_OK;
}

uint64_t fitcl_source_points(const fitcl_source *src) { return src ? src->points : 0; }
size_t fitcl_source_nx(const fitcl_source *src) { return src ? src->nx : 0; }

void fitcl_source_destroy(fitcl_source *src) {
  if (!src) return;
  if (src->ops && src->ops->destroy) src->ops->destroy(src);
  for (int f = 0; f < 2; ++f)
    for (int k = 0; k < FITCL__SRC_MAXCOLS; ++k) free(src->buf[f][k]);
  for (int k = 0; k < FITCL__SRC_MAXCOLS; ++k) free(src->colname[k]);
  for (int i = 0; i < src->nfiles; ++i) free(src->files[i].path);
  free(src->path);
  free(src);
}
