/* Data sources: chunk validation, the double-buffered chunk storage and the
 * public entry points that work on any reader.  The readers, and the format
 * dispatch of fitcl_source_open, are in io/. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/context.h"
#include "core/util.h"
#include "nlsq/source.h"

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

/* Default budget of the in-memory copy: a quarter of physical memory, at
 * most 4 GiB. */
static size_t default_budget(void) {
  long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
  size_t phys = pages > 0 && psz > 0 ? (size_t)pages * (size_t)psz : ((size_t)1 << 32);
  size_t b = phys / 4, cap = (size_t)4 << 30;
  return b < cap ? b : cap;
}

int fitcl__source_fits_memory(const fitcl_source *src, uint64_t points) {
  return points > 0 && points <= src->cache_budget / sizeof(double) / (size_t)src->ncols;
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
  s->cache_budget = opt->cache_mb > 0 ? (size_t)opt->cache_mb << 20
                    : opt->cache_mb < 0 ? 0 : default_budget();
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

static void cache_free(fitcl_source *src) {
  for (int k = 0; k < FITCL__SRC_MAXCOLS; ++k) {
    free(src->cache[k]);
    src->cache[k] = NULL;
  }
  src->cache_state = 0;
}

fitcl_status fitcl_source_rewind(fitcl_source *src) {
  if (!src) return FITCL_ERR_NULL;
  src->row = 0;
  src->passes++;
  /* A first pass abandoned half-way leaves a partial copy: start again. */
  if (src->cache_state == 1) cache_free(src);
  if (src->cache_state == 2) return FITCL_OK;
  return src->ops->rewind(src);
}

/* At the start of the first pass: a copy in the kernel's layout when the
 * data fit the budget and the reader's layout is another. */
static void cache_begin(fitcl_source *src) {
  if (src->no_cache || !fitcl__source_fits_memory(src, src->points)) return;
  for (int k = 0; k < src->ncols; ++k)
    if (!(src->cache[k] = fitcl_alloc_column((size_t)src->points))) {
      cache_free(src);
      return;
    }
  src->cache_state = 1;
}

fitcl_status fitcl_source_next(fitcl_source *src, fitcl_chunk *chunk) {
  if (!src || !chunk) return FITCL_ERR_NULL;
  const double *cols[FITCL__SRC_MAXCOLS] = {0};
  size_t n = 0;
  if (src->passes == 0) src->passes = 1;
  if (src->cache_state == 2) {
    /* Later passes: slices of the copy. */
    n = src->row >= src->points ? 0
        : (size_t)(src->points - src->row < src->chunk ? src->points - src->row : src->chunk);
    for (int k = 0; k < src->ncols; ++k) cols[k] = src->cache[k] + src->row;
    src->row += n;
    const double **xs = src->xs[src->flip];
    for (size_t j = 0; j < src->nx; ++j) xs[j] = cols[j];
    chunk->x = xs;
    chunk->y = cols[src->nx];
    chunk->sigma = src->has_sigma ? cols[src->nx + 1] : NULL;
    chunk->n = n;
    src->flip ^= 1;
    return FITCL_OK;
  }
  if (src->row == 0 && src->cache_state == 0 && !src->validated) cache_begin(src);
  /* Filling: the reader converts straight into the copy where it
   * converts at all. */
  double *saved[FITCL__SRC_MAXCOLS];
  int filling = src->cache_state == 1 && src->row < src->points;
  if (filling)
    for (int k = 0; k < src->ncols; ++k) {
      saved[k] = src->buf[src->flip][k];
      src->buf[src->flip][k] = src->cache[k] + src->row;
    }
  fitcl_status st = src->ops->read(src, cols, &n);
  if (filling)
    for (int k = 0; k < src->ncols; ++k) {
      if (st == FITCL_OK && n && cols[k] != src->cache[k] + src->row)
        memcpy(src->cache[k] + src->row, cols[k], n * sizeof(double));
      src->buf[src->flip][k] = saved[k];
      if (st == FITCL_OK && n) cols[k] = src->cache[k] + src->row;
    }
  if (st != FITCL_OK) {
    if (src->cache_state == 1) cache_free(src);
    return st;
  }
  if (!src->validated && !src->self_checked && n) {
    st = fitcl__check_chunk(src->ctx, src->path, (const char *const *)src->colname, cols,
                            src->ncols, src->has_sigma, n, src->row);
    if (st != FITCL_OK) return st;
  }
  src->row += n;
  if (n == 0 && !src->validated) {
    src->validated = 1;
    src->points = src->row;
  }
  if (n == 0 && src->cache_state == 1) src->cache_state = src->row == src->points ? 2 : 0;
  if (src->cache_state == 0)
    for (int k = 0; k < FITCL__SRC_MAXCOLS; ++k) {
      free(src->cache[k]);
      src->cache[k] = NULL;
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
  cache_free(src);
  for (int f = 0; f < 2; ++f)
    for (int k = 0; k < FITCL__SRC_MAXCOLS; ++k) free(src->buf[f][k]);
  for (int k = 0; k < FITCL__SRC_MAXCOLS; ++k) free(src->colname[k]);
  free(src->path);
  free(src);
}
