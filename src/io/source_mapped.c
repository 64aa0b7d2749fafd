/* Binary data: .npy arrays (float64/float32, 1-D or 2-D, C or Fortran
 * order) and raw little-endian binary.
 *
 * Every chunk is read with pread into the source's own buffers, never
 * mapped: a mapped file that shrinks under a fit (another process
 * rewriting it) turns the next access into SIGBUS, which kills the process
 * from inside the accumulator, where it cannot be caught safely.  A short
 * read is an error that names the file.  Reading costs one copy of data the
 * page cache holds anyway, and the resident set stays at a few chunks
 * however large the file. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/context.h"
#include "core/util.h"
#include "io/npy.h"
#include "io/source_readers.h"

/* Rows of a C-order file read at once to pick columns out of: a block of
 * at most this many bytes. */
#define STAGING_BYTES (4u << 20)

typedef struct mfile {
  char *path;
  int fd;
  uint64_t size;
  uint64_t off;          /* byte offset of the data */
  int f32;               /* 1: float32, 0: float64 */
  uint64_t nrows;
  uint64_t ncols;
  int fortran;
  unsigned char *stage;  /* C order, several columns: a block of rows */
} mfile;

typedef struct mcol {
  int file;
  uint64_t col;
} mcol;

typedef struct mapped {
  mfile files[FITCL__SRC_MAXCOLS];
  int nfiles;
  mcol cols[FITCL__SRC_MAXCOLS];
  uint64_t nrows;
} mapped;

static fitcl_status open_file(fitcl_source *src, const char *path, mfile *f) {
  fitcl_context *ctx = src->ctx;
  memset(f, 0, sizeof *f);
  f->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (f->fd < 0) return fitcl__fail(ctx, FITCL_ERR_FILE, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(f->fd, &sb) != 0 || !S_ISREG(sb.st_mode))
    return fitcl__fail(ctx, FITCL_ERR_FILE, "%s: not a regular file%s", path,
                       S_ISDIR(sb.st_mode) ? " (a directory)" : "");
  if (!(f->path = fitcl__strdup(path))) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  f->size = (uint64_t)sb.st_size;
  (void)posix_fadvise(f->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return fitcl__source_watch(src, path, &sb);
}

/* Reads len bytes at off; a short read means the file shrank. */
static fitcl_status read_at(fitcl_source *src, mfile *f, void *dst, size_t len, uint64_t off) {
  unsigned char *p = dst;
  while (len) {
    ssize_t r = pread(f->fd, p, len, (off_t)off);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0)
      return fitcl__fail(src->ctx, FITCL_ERR_IO, "%s: read error: %s", f->path, strerror(errno));
    if (r == 0) return fitcl__source_changed(src, f->path);
    p += r;
    len -= (size_t)r;
    off += (uint64_t)r;
  }
  return FITCL_OK;
}

/* The header (io/npy.h: the strict parser every .npy reader shares). */
static fitcl_status parse_npy(fitcl_source *src, mfile *f) {
  fitcl_context *ctx = src->ctx;
  char err[1024];
  fitcl__npy_info h;
  fitcl_status st = fitcl__npy_read_header(f->fd, f->path, f->size, &h, err, sizeof err);
  if (st != FITCL_OK) return fitcl__fail(ctx, st, "%s", err);
  if (h.dtype != FITCL__NPY_F8 && h.dtype != FITCL__NPY_F4)
    return fitcl__fail(ctx, FITCL_ERR_DATA,
                       "%s: dtype '%s' is not supported; use little-endian float64 or float32 "
                       "(numpy: np.save(path, a.astype('<f8')))", f->path, h.descr);
  if (h.ndim == 0 || h.ndim > 2)
    return fitcl__fail(ctx, FITCL_ERR_DATA, "%s: array has %d dimensions; 1-D or 2-D expected",
                       f->path, h.ndim);
  f->f32 = h.dtype == FITCL__NPY_F4;
  f->fortran = h.fortran;
  f->nrows = h.dims[0];
  f->ncols = h.ndim == 2 ? h.dims[1] : 1;
  f->off = h.data_off;
  if (f->ncols == 0 || f->ncols > FITCL__SRC_MAXCOLS * 1000000ull)
    return fitcl__fail(ctx, FITCL_ERR_DATA, "%s: %llu columns: 1 to %llu expected", f->path,
                       (unsigned long long)f->ncols, FITCL__SRC_MAXCOLS * 1000000ull);
  return FITCL_OK;
}

static int is_index(const char *s) {
  if (!*s) return 0;
  for (; *s; ++s)
    if (!isdigit((unsigned char)*s)) return 0;
  return 1;
}

/* Resolves a column spec: an index into the main file, or "other.npy" /
 * "other.npy:COL". */
static fitcl_status resolve_col(fitcl_source *src, mapped *m, int raw, const char *spec,
                                mcol *out) {
  fitcl_context *ctx = src->ctx;
  if (is_index(spec)) {
    out->file = 0;
    out->col = strtoull(spec, NULL, 10);
  } else {
    const char *ext = strstr(spec, ".npy");
    if (raw || !ext || (ext[4] && ext[4] != ':'))
      return fitcl__fail(ctx, FITCL_ERR_NAME,
                         "%s: column '%s' is neither a column index nor a .npy file", src->path,
                         spec);
    char path[4096];
    size_t plen = (size_t)(ext + 4 - spec);
    if (plen >= sizeof path) return fitcl__fail(ctx, FITCL_ERR_ARG, "path too long: %s", spec);
    memcpy(path, spec, plen);
    path[plen] = 0;
    out->col = ext[4] == ':' ? strtoull(ext + 5, NULL, 10) : 0;
    if (ext[4] == ':' && !is_index(ext + 5))
      return fitcl__fail(ctx, FITCL_ERR_ARG, "column '%s': expected FILE.npy:INDEX", spec);
    int i;
    for (i = 0; i < m->nfiles; ++i)
      if (!strcmp(m->files[i].path, path)) break;
    if (i == m->nfiles) {
      m->nfiles++;
      fitcl_status st = open_file(src, path, &m->files[i]);
      if (st == FITCL_OK) st = parse_npy(src, &m->files[i]);
      if (st != FITCL_OK) return st;
    }
    out->file = i;
  }
  const mfile *f = &m->files[out->file];
  if (out->col >= f->ncols)
    return fitcl__fail(ctx, FITCL_ERR_NAME, "%s: no column %llu (the array has %llu column%s)",
                       f->path, (unsigned long long)out->col, (unsigned long long)f->ncols,
                       f->ncols == 1 ? "" : "s");
  return FITCL_OK;
}

static fitcl_status mapped_rewind(fitcl_source *src) {
  (void)src;
  return FITCL_OK;
}

static void widen(double *dst, const unsigned char *p, size_t n, size_t stride, int f32) {
  if (f32) {
    for (size_t i = 0; i < n; ++i) {
      float v;
      memcpy(&v, p + i * stride * 4, 4);
      dst[i] = v;
    }
  } else {
    for (size_t i = 0; i < n; ++i) memcpy(&dst[i], p + i * stride * 8, 8);
  }
}

/* Rows [r0, r0 + n) of a column stored contiguously (Fortran order, or a
 * single column) into dst.  float32 is read into the back half of dst and
 * widened front to back: each double lands before the floats still unread. */
static fitcl_status read_contiguous(fitcl_source *src, mfile *f, uint64_t col, uint64_t r0,
                                    size_t n, double *dst) {
  uint64_t off = f->off + (col * f->nrows + r0) * (f->f32 ? 4 : 8);
  if (!f->f32) return read_at(src, f, dst, n * 8, off);
  unsigned char *tmp = (unsigned char *)dst + n * 4;
  fitcl_status st = read_at(src, f, tmp, n * 4, off);
  if (st == FITCL_OK) widen(dst, tmp, n, 1, 1);
  return st;
}

/* Rows [r0, r0 + n) of every used column of a C-order file: rows hold all
 * the columns, so blocks of rows are read once and each column picked out. */
static fitcl_status read_interleaved(fitcl_source *src, mapped *m, int file, uint64_t r0,
                                     size_t n, const double **cols) {
  mfile *f = &m->files[file];
  const size_t es = f->f32 ? 4 : 8;
  const uint64_t row_bytes = f->ncols * es;
  const uint64_t block = STAGING_BYTES / row_bytes ? STAGING_BYTES / row_bytes : 1;
  if (!f->stage && !(f->stage = malloc((size_t)(block * row_bytes))))
    return fitcl__fail(src->ctx, FITCL_ERR_NOMEM, "out of memory reading %s", f->path);
  for (size_t done = 0; done < n;) {
    size_t rows = (size_t)(n - done < block ? n - done : block);
    fitcl_status st = read_at(src, f, f->stage, rows * (size_t)row_bytes,
                              f->off + (r0 + done) * row_bytes);
    if (st != FITCL_OK) return st;
    for (int k = 0; k < src->ncols; ++k)
      if (m->cols[k].file == file)
        widen((double *)cols[k] + done, f->stage + m->cols[k].col * es, rows, (size_t)f->ncols,
              f->f32);
    done += rows;
  }
  return FITCL_OK;
}

static int interleaved(const mfile *f) { return !f->fortran && f->ncols > 1; }

static fitcl_status mapped_read(fitcl_source *src, const double **cols, size_t *n) {
  mapped *m = src->impl;
  uint64_t r0 = src->row;
  size_t cnt = r0 >= m->nrows ? 0 : (size_t)(m->nrows - r0 < src->chunk ? m->nrows - r0 : src->chunk);
  *n = cnt;
  for (int k = 0; k < src->ncols; ++k) cols[k] = src->buf[src->flip][k];
  if (!cnt) return FITCL_OK;
  for (int k = 0; k < src->ncols; ++k) {
    mfile *f = &m->files[m->cols[k].file];
    if (interleaved(f)) continue;
    fitcl_status st = read_contiguous(src, f, m->cols[k].col, r0, cnt, (double *)cols[k]);
    if (st != FITCL_OK) return st;
  }
  for (int i = 0; i < m->nfiles; ++i) {
    int used = 0;
    for (int k = 0; k < src->ncols; ++k) used |= m->cols[k].file == i;
    if (!used || !interleaved(&m->files[i])) continue;
    fitcl_status st = read_interleaved(src, m, i, r0, cnt, cols);
    if (st != FITCL_OK) return st;
  }
  return FITCL_OK;
}

static void mapped_destroy(fitcl_source *src) {
  mapped *m = src->impl;
  if (!m) return;
  for (int i = 0; i < m->nfiles; ++i) {
    if (m->files[i].fd >= 0) close(m->files[i].fd);
    free(m->files[i].stage);
    free(m->files[i].path);
  }
  free(m);
  src->impl = NULL;
}

static const fitcl__source_ops mapped_ops = {mapped_rewind, mapped_read, mapped_destroy, NULL};

fitcl_status fitcl__source_open_mapped(fitcl_source *src, const fitcl_source_options *opt,
                                       int raw) {
  fitcl_context *ctx = src->ctx;
  mapped *m = calloc(1, sizeof *m);
  fitcl_status st;
  if (!m) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  src->impl = m;
  src->ops = &mapped_ops;
  m->nfiles = 1;
  st = open_file(src, opt->path, &m->files[0]);
  if (st != FITCL_OK) return st;
  mfile *f = &m->files[0];
  if (raw) {
    uint64_t es = opt->raw_float32 ? 4 : 8;
    f->f32 = opt->raw_float32 != 0;
    f->ncols = opt->raw_columns > 0 ? (uint64_t)opt->raw_columns : (uint64_t)src->ncols;
    if (f->size % (f->ncols * es) != 0)
      return fitcl__fail(ctx, FITCL_ERR_DATA,
                         "%s: raw file of %llu bytes is not a whole number of rows of %llu %s "
                         "values; check the column count and the value type",
                         f->path, (unsigned long long)f->size, (unsigned long long)f->ncols,
                         f->f32 ? "float32" : "float64");
    f->nrows = f->size / (f->ncols * es);
  } else {
    st = parse_npy(src, f);
    if (st != FITCL_OK) return st;
  }
  for (int k = 0; k < src->ncols; ++k) {
    st = resolve_col(src, m, raw, src->colname[k], &m->cols[k]);
    if (st != FITCL_OK) return st;
  }
  m->nrows = m->files[m->cols[0].file].nrows;
  for (int k = 1; k < src->ncols; ++k) {
    const mfile *g = &m->files[m->cols[k].file];
    if (g->nrows != m->nrows)
      return fitcl__fail(ctx, FITCL_ERR_MISMATCH, "column '%s' has %llu rows (%s) but '%s' has %llu",
                         src->colname[k], (unsigned long long)g->nrows, g->path, src->colname[0],
                         (unsigned long long)m->nrows);
  }
  src->points = m->nrows;
  src->seekable = 1; /* reads start at src->row */
  return FITCL_OK;
}
