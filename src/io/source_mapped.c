/* Memory-mapped data: .npy arrays (float64/float32, 1-D or 2-D, C or
 * Fortran order) and raw little-endian binary.  Pages are mapped, read once
 * per pass, and handed back to the kernel (MADV_DONTNEED) a chunk later, so
 * a file larger than memory streams with a resident set of a few chunks. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/context.h"
#include "core/util.h"
#include "io/source_readers.h"

typedef struct mfile {
  char *path;
  unsigned char *base;   /* mapping of the whole file */
  size_t size;
  size_t off;            /* byte offset of the data */
  int f32;               /* 1: float32, 0: float64 */
  uint64_t nrows;
  size_t ncols;
  int fortran;
} mfile;

typedef struct mcol {
  int file;
  size_t col;
  uint64_t released;     /* rows before this one were handed back */
} mcol;

typedef struct mapped {
  mfile files[FITCL__SRC_MAXCOLS];
  int nfiles;
  mcol cols[FITCL__SRC_MAXCOLS];
  uint64_t nrows;
  size_t page;
  int release;           /* hand pages back after reading (larger than the budget) */
} mapped;

static fitcl_status map_file(fitcl_context *ctx, const char *path, mfile *f) {
  int fd = open(path, O_RDONLY);
  struct stat sb;
  memset(f, 0, sizeof *f);
  if (fd < 0) return fitcl__fail(ctx, FITCL_ERR_FILE, "%s: cannot open: %s", path, strerror(errno));
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    return fitcl__fail(ctx, FITCL_ERR_FILE, "%s: not a regular file", path);
  }
  f->path = fitcl__strdup(path);
  f->size = (size_t)sb.st_size;
  if (f->size) {
    void *p = mmap(NULL, f->size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      close(fd);
      return fitcl__fail(ctx, FITCL_ERR_IO, "%s: cannot map: %s", path, strerror(e));
    }
    f->base = p;
    madvise(p, f->size, MADV_SEQUENTIAL);
  }
  close(fd);
  if (!f->path) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  return FITCL_OK;
}

/* Finds 'key': in the header dict and returns a pointer past the colon. */
static const char *dict_value(const char *h, const char *key) {
  char pat[32];
  snprintf(pat, sizeof pat, "'%s'", key);
  const char *p = strstr(h, pat);
  if (!p) return NULL;
  p += strlen(pat);
  while (*p == ' ') ++p;
  if (*p != ':') return NULL;
  ++p;
  while (*p == ' ') ++p;
  return p;
}

static fitcl_status parse_npy(fitcl_context *ctx, mfile *f) {
  const unsigned char *b = f->base;
  if (f->size < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
    return fitcl__fail(ctx, FITCL_ERR_PARSE, "%s: not a .npy file (bad magic)", f->path);
  size_t hlen, hstart;
  if (b[6] == 1) {
    hlen = (size_t)b[8] | ((size_t)b[9] << 8);
    hstart = 10;
  } else if ((b[6] == 2 || b[6] == 3) && f->size >= 12) {
    hlen = (size_t)b[8] | ((size_t)b[9] << 8) | ((size_t)b[10] << 16) | ((size_t)b[11] << 24);
    hstart = 12;
  } else {
    return fitcl__fail(ctx, FITCL_ERR_PARSE, "%s: unsupported .npy version %d", f->path, b[6]);
  }
  if (hstart + hlen > f->size)
    return fitcl__fail(ctx, FITCL_ERR_PARSE, "%s: truncated .npy header", f->path);
  char *h = malloc(hlen + 1);
  if (!h) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  memcpy(h, b + hstart, hlen);
  h[hlen] = 0;
  fitcl_status st = FITCL_OK;
  const char *d = dict_value(h, "descr"), *fo = dict_value(h, "fortran_order"),
             *sh = dict_value(h, "shape");
  if (!d || !fo || !sh || *d != '\'') {
    st = fitcl__fail(ctx, FITCL_ERR_PARSE, "%s: malformed .npy header: %s", f->path, h);
    goto done;
  }
  char descr[32] = {0};
  for (size_t i = 0; i + 1 < sizeof descr && d[1 + i] && d[1 + i] != '\''; ++i) descr[i] = d[1 + i];
  if (!strcmp(descr, "<f8") || !strcmp(descr, "=f8")) f->f32 = 0;
  else if (!strcmp(descr, "<f4") || !strcmp(descr, "=f4")) f->f32 = 1;
  else {
    st = fitcl__fail(ctx, FITCL_ERR_DATA,
                     "%s: dtype '%s' is not supported; use little-endian float64 or float32 "
                     "(numpy: np.save(path, a.astype('<f8')))", f->path, descr);
    goto done;
  }
  f->fortran = !strncmp(fo, "True", 4);
  if (*sh != '(') {
    st = fitcl__fail(ctx, FITCL_ERR_PARSE, "%s: malformed shape in .npy header", f->path);
    goto done;
  }
  uint64_t dims[3];
  int nd = 0;
  const char *p = sh + 1;
  for (;;) {
    while (*p == ' ' || *p == ',') ++p;
    if (*p == ')') break;
    if (!isdigit((unsigned char)*p) || nd == 3) {
      st = fitcl__fail(ctx, FITCL_ERR_PARSE, "%s: malformed shape in .npy header", f->path);
      goto done;
    }
    dims[nd++] = strtoull(p, (char **)&p, 10);
  }
  if (nd == 0 || nd > 2) {
    st = fitcl__fail(ctx, FITCL_ERR_DATA, "%s: array has %d dimensions; 1-D or 2-D expected",
                     f->path, nd);
    goto done;
  }
  f->nrows = dims[0];
  f->ncols = nd == 2 ? (size_t)dims[1] : 1;
  f->off = hstart + hlen;
  size_t es = f->f32 ? 4 : 8;
  if (f->ncols == 0 || f->nrows > (f->size - f->off) / es / f->ncols)
    st = fitcl__fail(ctx, FITCL_ERR_DATA, "%s: file is shorter than its shape says (truncated?)",
                     f->path);
done:
  free(h);
  return st;
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
    out->col = (size_t)strtoull(spec, NULL, 10);
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
    out->col = ext[4] == ':' ? (size_t)strtoull(ext + 5, NULL, 10) : 0;
    if (ext[4] == ':' && !is_index(ext + 5))
      return fitcl__fail(ctx, FITCL_ERR_ARG, "column '%s': expected FILE.npy:INDEX", spec);
    int i;
    for (i = 0; i < m->nfiles; ++i)
      if (!strcmp(m->files[i].path, path)) break;
    if (i == m->nfiles) {
      fitcl_status st = map_file(ctx, path, &m->files[i]);
      m->nfiles++;
      if (st == FITCL_OK) st = parse_npy(ctx, &m->files[i]);
      if (st != FITCL_OK) return st;
    }
    out->file = i;
  }
  const mfile *f = &m->files[out->file];
  if (out->col >= f->ncols)
    return fitcl__fail(ctx, FITCL_ERR_NAME, "%s: no column %zu (the array has %zu column%s)",
                       f->path, out->col, f->ncols, f->ncols == 1 ? "" : "s");
  return FITCL_OK;
}

static void release_rows(mapped *m, mcol *c, uint64_t upto) {
  const mfile *f = &m->files[c->file];
  if (!m->release || upto <= c->released) return;
  size_t es = f->f32 ? 4 : 8;
  uintptr_t lo, hi;
  if (f->fortran || f->ncols == 1) {
    lo = (uintptr_t)(f->base + f->off + (c->col * f->nrows + c->released) * es);
    hi = (uintptr_t)(f->base + f->off + (c->col * f->nrows + upto) * es);
  } else {
    lo = (uintptr_t)(f->base + f->off + c->released * f->ncols * es);
    hi = (uintptr_t)(f->base + f->off + upto * f->ncols * es);
  }
  uintptr_t plo = (lo + m->page - 1) & ~(uintptr_t)(m->page - 1);
  uintptr_t phi = hi & ~(uintptr_t)(m->page - 1);
  if (phi > plo) madvise((void *)plo, phi - plo, MADV_DONTNEED);
  c->released = upto;
}

static fitcl_status mapped_rewind(fitcl_source *src) {
  mapped *m = src->impl;
  for (int k = 0; k < src->ncols; ++k) {
    release_rows(m, &m->cols[k], m->nrows);
    m->cols[k].released = 0;
  }
  return FITCL_OK;
}

static fitcl_status mapped_read(fitcl_source *src, const double **cols, size_t *n) {
  mapped *m = src->impl;
  uint64_t r0 = src->row;
  size_t cnt = r0 >= m->nrows ? 0 : (size_t)(m->nrows - r0 < src->chunk ? m->nrows - r0 : src->chunk);
  *n = cnt;
  for (int k = 0; k < src->ncols; ++k) {
    mcol *c = &m->cols[k];
    const mfile *f = &m->files[c->file];
    /* Rows of the chunk before the previous one may still be read by the
     * accumulator only until this call returns, so hand back older rows. */
    if (r0 > src->chunk) release_rows(m, c, r0 - src->chunk);
    if (!cnt) {
      cols[k] = src->buf[src->flip][k];
      continue;
    }
    size_t es = f->f32 ? 4 : 8;
    size_t stride = (f->fortran || f->ncols == 1) ? 1 : f->ncols;
    const unsigned char *p = f->base + f->off +
      ((f->fortran || f->ncols == 1) ? (c->col * f->nrows + r0) : (r0 * f->ncols + c->col)) * es;
    if (!f->f32 && stride == 1 && ((uintptr_t)p % sizeof(double)) == 0) {
      cols[k] = (const double *)(const void *)p;
      continue;
    }
    double *dst = src->buf[src->flip][k];
    if (f->f32) {
      for (size_t i = 0; i < cnt; ++i) {
        float v;
        memcpy(&v, p + i * stride * 4, 4);
        dst[i] = v;
      }
    } else {
      for (size_t i = 0; i < cnt; ++i) memcpy(&dst[i], p + i * stride * 8, 8);
    }
    cols[k] = dst;
  }
  return FITCL_OK;
}

static void mapped_destroy(fitcl_source *src) {
  mapped *m = src->impl;
  if (!m) return;
  for (int i = 0; i < m->nfiles; ++i) {
    if (m->files[i].base) munmap(m->files[i].base, m->files[i].size);
    free(m->files[i].path);
  }
  free(m);
  src->impl = NULL;
}

static const fitcl__source_ops mapped_ops = {mapped_rewind, mapped_read, mapped_destroy};

fitcl_status fitcl__source_open_mapped(fitcl_source *src, const fitcl_source_options *opt,
                                       int raw) {
  fitcl_context *ctx = src->ctx;
  mapped *m = calloc(1, sizeof *m);
  fitcl_status st;
  if (!m) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  src->impl = m;
  src->ops = &mapped_ops;
  m->page = (size_t)sysconf(_SC_PAGESIZE);
  st = map_file(ctx, opt->path, &m->files[0]);
  m->nfiles = 1;
  if (st != FITCL_OK) return st;
  mfile *f = &m->files[0];
  if (raw) {
    size_t es = opt->raw_float32 ? 4 : 8;
    f->f32 = opt->raw_float32 != 0;
    f->ncols = opt->raw_columns > 0 ? (size_t)opt->raw_columns : (size_t)src->ncols;
    if (f->size % (f->ncols * es) != 0)
      return fitcl__fail(ctx, FITCL_ERR_DATA,
                         "%s: raw file of %zu bytes is not a whole number of rows of %zu %s "
                         "values; check the column count and the value type",
                         f->path, f->size, f->ncols, f->f32 ? "float32" : "float64");
    f->nrows = f->size / (f->ncols * es);
  } else {
    st = parse_npy(ctx, f);
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
  /* Float64 columns contiguous in the mapping are the kernel's layout
   * already; others (C-order rows, float32) are converted once into the
   * source's in-memory copy when the data fit it.  Pages are handed back
   * after reading only when the data do not fit in memory: otherwise they
   * stay mapped, and data read in place are not faulted in again on every
   * pass. */
  int in_place = 1;
  for (int k = 0; k < src->ncols; ++k) {
    const mfile *g = &m->files[m->cols[k].file];
    in_place &= !g->f32 && (g->fortran || g->ncols == 1) && g->off % sizeof(double) == 0;
  }
  src->no_cache = in_place;
  m->release = !fitcl__source_fits_memory(src, m->nrows);
  if (!m->release)
    for (int i = 0; i < m->nfiles; ++i) {
      if (!m->files[i].base) continue;
#ifdef MADV_POPULATE_READ
      /* Page tables filled in one call instead of a fault every 64 KiB on
       * the first pass (Linux 5.14+; advice only, as the fallback is). */
      if (madvise(m->files[i].base, m->files[i].size, MADV_POPULATE_READ) == 0) continue;
#endif
      madvise(m->files[i].base, m->files[i].size, MADV_WILLNEED);
    }
  return FITCL_OK;
}
