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
#include "core/outfile.h"
#include "core/pool.h"
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

/* Whether every value of c is finite (and > 0 for sigma): x - x is 0 for
 * a finite x and NaN otherwise, so a sum of those in eight lanes answers
 * without a branch per value (the loop vectorises). */
static int all_valid(const double *c, size_t n, int is_sigma) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) {
      double v = c[i + l];
      acc[l] += (v - v) + (is_sigma && !(v > 0) ? NAN : 0.0);
    }
  for (; i < n; ++i) acc[0] += (c[i] - c[i]) + (is_sigma && !(c[i] > 0) ? NAN : 0.0);
  double t = 0;
  for (int l = 0; l < 8; ++l) t += acc[l];
  return t == 0;
}

/* The row of the first invalid value of c, or n. */
static size_t first_bad(const double *c, size_t n, int is_sigma) {
  if (all_valid(c, n, is_sigma)) return n;
  for (size_t k = 0; k < n; ++k)
    if (!(isfinite(c[k]) && (!is_sigma || c[k] > 0))) return k;
  return n;
}

/* The weighted moments of y about y0 over n rows, in four lanes so the
 * loops vectorise without reassociation: m = {sw, swy, swy2}. */
static void moments(const double *y, const double *sg, size_t n, double y0, double m[3]) {
  double sw[4] = {0, 0, 0, 0}, s1[4] = {0, 0, 0, 0}, s2[4] = {0, 0, 0, 0};
  size_t i = 0;
  if (sg) {
    for (; i + 4 <= n; i += 4)
      for (int l = 0; l < 4; ++l) {
        double w = 1.0 / (sg[i + l] * sg[i + l]), d = y[i + l] - y0;
        sw[l] += w;
        s1[l] += w * d;
        s2[l] += w * d * d;
      }
  } else {
    for (; i + 4 <= n; i += 4)
      for (int l = 0; l < 4; ++l) {
        double d = y[i + l] - y0;
        sw[l] += 1.0;
        s1[l] += d;
        s2[l] += d * d;
      }
  }
  for (; i < n; ++i) {
    double w = sg ? 1.0 / (sg[i] * sg[i]) : 1.0, d = y[i] - y0;
    sw[0] += w;
    s1[0] += w * d;
    s2[0] += w * d * d;
  }
  m[0] = (sw[0] + sw[1]) + (sw[2] + sw[3]);
  m[1] = (s1[0] + s1[1]) + (s1[2] + s1[3]);
  m[2] = (s2[0] + s2[1]) + (s2[2] + s2[3]);
}

/* Statistics begun at a row: y0 and the x ranges start from its values. */
void fitcl__stats_start(fitcl__data_stats *st, const double *const *x, size_t nx,
                        const double *y) {
  st->started = 1;
  st->y0 = y[0];
  for (size_t j = 0; j < nx; ++j) st->xmin[j] = st->xmax[j] = x[j][0];
}

void fitcl__stats_finish(fitcl__data_stats *st) {
  st->sw = fitcl__xsum_round(&st->acc[0]);
  st->swy = fitcl__xsum_round(&st->acc[1]);
  st->swy2 = fitcl__xsum_round(&st->acc[2]);
}

void fitcl__stats_add(fitcl__data_stats *st, const double *const *x, size_t nx, const double *y,
                      const double *sg, size_t n) {
  if (!n) return;
  if (!st->started) fitcl__stats_start(st, x, nx, y);
  double m[3];
  moments(y, sg, n, st->y0, m);
  for (int k = 0; k < 3; ++k) fitcl__xsum_add(&st->acc[k], m[k]);
  for (size_t j = 0; j < nx; ++j) {
    const double *c = x[j];
    double lo = st->xmin[j], hi = st->xmax[j];
    for (size_t k = 0; k < n; ++k) {
      lo = c[k] < lo ? c[k] : lo;
      hi = c[k] > hi ? c[k] : hi;
    }
    st->xmin[j] = lo;
    st->xmax[j] = hi;
  }
}

/* One sweep over an x column: finiteness (as in all_valid) and the range,
 * in eight lanes. */
static int sweep_x(const double *c, size_t n, double *lo, double *hi) {
  double acc[8], a[8], b[8];
  for (int l = 0; l < 8; ++l) {
    acc[l] = 0;
    a[l] = *lo;
    b[l] = *hi;
  }
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) {
      double v = c[i + l];
      acc[l] += v - v;
      a[l] = v < a[l] ? v : a[l];
      b[l] = v > b[l] ? v : b[l];
    }
  for (; i < n; ++i) {
    acc[0] += c[i] - c[i];
    a[0] = c[i] < a[0] ? c[i] : a[0];
    b[0] = c[i] > b[0] ? c[i] : b[0];
  }
  double t = 0, mn = a[0], mx = b[0];
  for (int l = 0; l < 8; ++l) {
    t += acc[l];
    mn = a[l] < mn ? a[l] : mn;
    mx = b[l] > mx ? b[l] : mx;
  }
  *lo = mn;
  *hi = mx;
  return t == 0;
}

/* The first-pass sweep of a chunk, cut into fixed blocks of rows that the
 * context's workers take in any order; each block writes its own slot and
 * the slots are combined in block order, so the statistics do not depend
 * on the thread count. */
#define SWEEP_BLOCK ((size_t)1 << 16)

typedef struct sweep_slot {
  int ok;
  double sw, swy, swy2;
  double xmin[FITCL_NLSQ_MAX_VARS], xmax[FITCL_NLSQ_MAX_VARS];
} sweep_slot;

typedef struct sweep_job {
  const double *const *cols;
  int nx, has_sigma;
  size_t n;
  double y0;
  sweep_slot *slot;
} sweep_job;

static void sweep_block(void *arg, size_t b, unsigned worker) {
  (void)worker;
  sweep_job *j = arg;
  sweep_slot *sl = &j->slot[b];
  size_t i0 = b * SWEEP_BLOCK, n = j->n - i0 < SWEEP_BLOCK ? j->n - i0 : SWEEP_BLOCK;
  int ok = 1;
  for (int k = 0; k < j->nx && ok; ++k) {
    const double *c = j->cols[k] + i0;
    sl->xmin[k] = sl->xmax[k] = c[0];
    ok = sweep_x(c, n, &sl->xmin[k], &sl->xmax[k]);
  }
  const double *y = j->cols[j->nx] + i0, *sg = j->has_sigma ? j->cols[j->nx + 1] + i0 : NULL;
  ok = ok && all_valid(y, n, 0) && (!sg || all_valid(sg, n, 1));
  sl->ok = ok;
  if (!ok) return;
  double m[3];
  moments(y, sg, n, j->y0, m);
  sl->sw = m[0];
  sl->swy = m[1];
  sl->swy2 = m[2];
}

fitcl_status fitcl__check_chunk(fitcl_context *ctx, const char *where, const char *const *names,
                                const double *const *cols, int ncols, int has_sigma, size_t n,
                                uint64_t row0, fitcl__data_stats *stats) {
  const int nx = ncols - 1 - has_sigma;
  if (stats && n) {
    size_t nb = (n + SWEEP_BLOCK - 1) / SWEEP_BLOCK;
    sweep_slot *slot = malloc(nb * sizeof *slot);
    if (slot) {
      if (!stats->started) fitcl__stats_start(stats, cols, (size_t)nx, cols[nx]);
      sweep_job job = {cols, nx, has_sigma, n, stats->y0, slot};
      fitcl__pool *pool = ctx ? fitcl__ctx_pool(ctx) : NULL;
      if (pool && nb > 1) fitcl__pool_run(pool, nb, sweep_block, &job);
      else
        for (size_t b = 0; b < nb; ++b) sweep_block(&job, b, 0);
      int ok = 1;
      for (size_t b = 0; b < nb; ++b) ok &= slot[b].ok;
      /* The chunk's moments in block order, then added exactly: the same
       * numbers whichever rank reads the chunk. */
      double m[3] = {0, 0, 0};
      if (ok)
        for (size_t b = 0; b < nb; ++b) {
          m[0] += slot[b].sw;
          m[1] += slot[b].swy;
          m[2] += slot[b].swy2;
          for (int k = 0; k < nx; ++k) {
            if (slot[b].xmin[k] < stats->xmin[k]) stats->xmin[k] = slot[b].xmin[k];
            if (slot[b].xmax[k] > stats->xmax[k]) stats->xmax[k] = slot[b].xmax[k];
          }
        }
      free(slot);
      if (ok) {
        for (int k = 0; k < 3; ++k) fitcl__xsum_add(&stats->acc[k], m[k]);
        return FITCL_OK;
      }
    }
  }
  for (int k = 0; k < ncols; ++k) {
    int is_sigma = has_sigma && k == ncols - 1;
    size_t i = first_bad(cols[k], n, is_sigma);
    if (i == n) continue;
    double v = cols[k][i];
    const char *what = isnan(v) ? "NaN" : isinf(v) ? "infinite" : "not > 0";
    return fitcl__fail(ctx, FITCL_ERR_DATA,
                       "%s: row %llu: column '%s' is %s; %s", where,
                       (unsigned long long)(row0 + i), names[k], what,
                       is_sigma ? "every sigma must be finite and > 0"
                                : "remove or fix the row (every value must be finite)");
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
  /* A first pass abandoned half-way leaves a partial copy and partial
   * statistics: start both again. */
  if (src->cache_state == 1) cache_free(src);
  if (!src->validated) memset(&src->stats, 0, sizeof src->stats);
  /* From the copy, later passes never look at the files again. */
  if (src->cache_state == 2) return FITCL_OK;
  /* From the files, each pass must read what the first one read. */
  fitcl_status st = fitcl__source_check_files(src);
  if (st != FITCL_OK) return st;
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
  if (!src->validated && src->self_checked && n && !src->stats_off)
    fitcl__stats_add(&src->stats, cols, src->nx, cols[src->nx], src->has_sigma ? cols[src->nx + 1] : NULL, n);
  if (!src->validated && !src->self_checked && n) {
    st = fitcl__check_chunk(src->ctx, src->path, (const char *const *)src->colname, cols,
                            src->ncols, src->has_sigma, n, src->row,
                            src->stats_off ? NULL : &src->stats);
    if (st != FITCL_OK) return st;
  }
  /* A chunk passed over still gives y0 and a start to the ranges. */
  if (!src->validated && src->stats_off && n && !src->stats.started)
    fitcl__stats_start(&src->stats, cols, src->nx, cols[src->nx]);
  src->row += n;
  if (n == 0) {
    /* A pass is only as good as the files it read. */
    st = fitcl__source_check_files(src);
    if (st != FITCL_OK) return st;
  }
  if (n == 0 && !src->validated) {
    src->validated = 1;
    src->points = src->row;
    fitcl__stats_finish(&src->stats);
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

fitcl_status fitcl__source_skip(fitcl_source *src, fitcl_chunk *chunk, int want_data) {
  if (!src || !chunk) return FITCL_ERR_NULL;
  const int known = src->cache_state == 2 || (src->seekable && src->points > 0);
  const uint64_t left = known && src->row < src->points ? src->points - src->row : 0;
  if (want_data || left == 0) {
    src->stats_off = 1;
    fitcl_status st = fitcl_source_next(src, chunk);
    src->stats_off = 0;
    return st;
  }
  if (src->passes == 0) src->passes = 1;
  if (src->row == 0 && src->cache_state == 0 && !src->validated) cache_begin(src);
  if (!src->validated && !src->stats.started) {
    /* y0 is the data's first y: one row read, whichever rank owns it. */
    const double *cols[FITCL__SRC_MAXCOLS] = {0};
    size_t n = 0, saved = src->chunk;
    src->chunk = 1;
    fitcl_status st = src->ops->read(src, cols, &n);
    src->chunk = saved;
    if (st != FITCL_OK) return st;
    if (n) fitcl__stats_start(&src->stats, cols, src->nx, cols[src->nx]);
  }
  const size_t n = left < src->chunk ? (size_t)left : src->chunk;
  src->row += n;
  memset(chunk, 0, sizeof *chunk);
  chunk->n = n;
  return FITCL_OK;
}

fitcl_status fitcl__source_share(fitcl_source *src, fitcl__ranks *r) {
  if (!src->ops->share || src->shared) return FITCL_OK;
  fitcl_status st = src->ops->share(src, r);
  src->shared = st == FITCL_OK;
  return st;
}

int fitcl__source_mine(const fitcl_source *src, const fitcl__ranks *r, uint64_t index) {
  if (src->own_range) return index >= src->own_lo && index < src->own_hi;
  return index % (uint64_t)r->size == (uint64_t)r->rank;
}

fitcl_status fitcl__stats_share(fitcl_context *ctx, fitcl__data_stats *s, size_t nx,
                               fitcl__ranks *r, uint64_t *fp) {
  fitcl_status st = r->sum(r, s->acc, 3, NULL, 0);
  /* Each rank's x ranges and fingerprint part. */
  const size_t each = (2 * nx + 1) * sizeof(double);
  double mine[2 * FITCL_NLSQ_MAX_VARS + 1], *all = NULL;
  if (st == FITCL_OK) {
    /* The x ranges: every rank's, then the least and the greatest. */
    all = malloc(each * (size_t)r->size);
    memcpy(mine, s->xmin, nx * sizeof(double));
    memcpy(mine + nx, s->xmax, nx * sizeof(double));
    memcpy(mine + 2 * nx, fp, sizeof *fp);
    st = r->gather(r, mine, each, all, each * (size_t)r->size, all == NULL);
    if (!all && st == FITCL_ERR_PEER) st = FITCL_ERR_NOMEM;
  }
  if (st != FITCL_OK) {
    free(all);
    return fitcl__fail(ctx, st, "curve fit: %s",
                       st == FITCL_ERR_PEER    ? "another rank of the job failed"
                       : st == FITCL_ERR_NOMEM ? "out of memory"
                                               : "the ranks could not exchange their statistics");
  }
  uint64_t sum = 0;
  for (int k = 0; k < r->size; ++k) {
    const double *a = all + (size_t)k * (2 * nx + 1);
    for (size_t j = 0; j < nx; ++j) {
      const double lo = a[j], hi = a[nx + j];
      s->xmin[j] = lo < s->xmin[j] ? lo : s->xmin[j];
      s->xmax[j] = hi > s->xmax[j] ? hi : s->xmax[j];
    }
    uint64_t part;
    memcpy(&part, a + 2 * nx, sizeof part);
    sum += part; /* modulo 2^64: the order does not matter */
  }
  *fp = sum;
  free(all);
  fitcl__stats_finish(s);
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
  for (int i = 0; i < src->nfiles; ++i) free(src->files[i].path);
  free(src->path);
  free(src);
}
