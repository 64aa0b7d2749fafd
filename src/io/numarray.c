/* Whole numeric arrays from .npy files and CSV/TSV tables (io/numarray.h). */
#include "io/numarray.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ioerr.h"
#include "core/util.h"
#include "io/array_file.h"
#include "io/delim.h"

/* A .npy file through the shared whole-array reader (io/array_file.h),
 * copied into row-major order. */
static fitcl_status read_npy(const char *path, fitcl__numarray *a, char *err, size_t errlen) {
  fitcl__array arr;
  fitcl_status st = fitcl__npy_load(path, &arr, err, errlen);
  if (st != FITCL_OK) return st;
  if (arr.ndim > 2) {
    st = fitcl__ioerr(err, errlen, FITCL_ERR_DATA,
                      "%s: array has %d dimensions; 1-D or 2-D expected", path, arr.ndim);
    goto done;
  }
  const size_t rows = arr.dims[0], cols = arr.ndim == 2 ? arr.dims[1] : 1;
  const size_t rs = arr.strides[0], cs = arr.ndim == 2 ? arr.strides[1] : 0;
  if (rows == 0 || cols == 0) {
    st = fitcl__ioerr(err, errlen, FITCL_ERR_DATA, "%s: the array is empty", path);
    goto done;
  }
  if (rs == cols && (cs == 1 || cols == 1)) { /* already row-major: keep the buffer */
    a->data = arr.data;
    arr.data = NULL;
  } else {
    a->data = malloc(rows * cols * sizeof *a->data);
    if (!a->data) {
      st = fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "%s: out of memory for %zu values", path,
                        rows * cols);
      goto done;
    }
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; ++c) a->data[r * cols + c] = arr.data[r * rs + c * cs];
  }
  a->rows = rows;
  a->cols = cols;
done:
  fitcl__array_free(&arr);
  return st;
}

/* Parses a whole field as a number; 0 when it is not one. */
static int parse_number(const fitcl__delim_field *fd, double *v) {
  char buf[128];
  const char *s = fd->p;
  size_t n = fd->n;
  while (n && fitcl__delim_blank(*s)) ++s, --n;
  while (n && fitcl__delim_blank(s[n - 1])) --n;
  /* Decimal only: strtod would also take "0x10" or "0x1p-3". */
  if (n == 0 || n >= sizeof buf || !fitcl__decimal_syntax(s, n)) return 0;
  memcpy(buf, s, n);
  buf[n] = 0;
  char *end;
  errno = 0;
  *v = strtod(buf, &end);
  return *end == 0;
}

static fitcl_status read_csv(const char *path, fitcl__numarray *a, char *err, size_t errlen) {
  FILE *f;
  fitcl_status st = fitcl__open_input(path, &f, err, errlen);
  if (st != FITCL_OK) return st;
  fitcl__delim r;
  st = fitcl__delim_open_file(&r, f, (size_t)1 << 16, path, err, errlen);
  if (st != FITCL_OK) {
    fclose(f);
    return st;
  }
  r.comments = 1;
  r.spaced_quotes = 1;
  size_t cap = 0, n = 0, cols = 0;
  int first = 1;
  fitcl__delim_record rec;
  for (;;) {
    int got;
    if ((st = fitcl__delim_next(&r, &rec, &got)) != FITCL_OK) goto fail;
    if (!got) break;
    if (first) fitcl__delim_detect(&r, &rec, ',');
    size_t nf;
    if ((st = fitcl__delim_count_fields(&r, &rec, &nf)) != FITCL_OK) goto fail;
    if (first) cols = nf;
    if (nf != cols) {
      st = fitcl__delim_fail(&r, rec.line, 1, FITCL_ERR_PARSE, "%zu fields; the first row has %zu",
                             nf, cols);
      goto fail;
    }
    if (n + cols > cap) {
      cap = cap ? cap * 2 : 4096 + cols;
      while (cap < n + cols) cap *= 2;
      double *d = realloc(a->data, cap * sizeof *d);
      if (!d) {
        st = fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
      }
      a->data = d;
    }
    size_t i = 0;
    int all = 1;
    fitcl__delim_field fd;
    for (size_t c = 0; c < cols; ++c) {
      if (fitcl__delim_field_next(&r, &rec, &i, &fd, &st) < 0) goto fail;
      double v;
      if (!parse_number(&fd, &v)) {
        if (first) {
          all = 0;
          continue;
        }
        long line;
        int col;
        fitcl__delim_pos(&rec, fd.off, &line, &col);
        st = fitcl__delim_fail(&r, line, col, FITCL_ERR_PARSE, "'%.*s' is not a number",
                               (int)(fd.n < 40 ? fd.n : 40), fd.p);
        goto fail;
      }
      a->data[n + c] = v;
    }
    if (first && !all) { /* a header: keep the names */
      a->names = calloc(cols, sizeof *a->names);
      if (!a->names) {
        st = fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
      }
      a->cols = cols; /* how many names to free */
      i = 0;
      for (size_t c = 0; c < cols; ++c) {
        if (fitcl__delim_field_next(&r, &rec, &i, &fd, &st) < 0) goto fail;
        a->names[c] = malloc(fd.n + 1);
        if (!a->names[c]) {
          st = fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "%s: out of memory", path);
          goto fail;
        }
        fitcl__delim_unescape(&fd, a->names[c]);
      }
      first = 0;
      continue;
    }
    first = 0;
    n += cols;
  }
  if (n == 0) {
    st = fitcl__ioerr(err, errlen, FITCL_ERR_DATA, "%s: no data rows", path);
    goto fail;
  }
  a->rows = n / cols;
  a->cols = cols;
  fitcl__delim_close(&r);
  fclose(f);
  return FITCL_OK;
fail:
  fitcl__delim_close(&r);
  fclose(f);
  return st;
}

fitcl_status fitcl__numarray_read(const char *path, fitcl__numarray *a, char *err, size_t errlen) {
  memset(a, 0, sizeof *a);
  const size_t len = strlen(path);
  fitcl_status st = len > 4 && !strcmp(path + len - 4, ".npy") ? read_npy(path, a, err, errlen)
                                                                : read_csv(path, a, err, errlen);
  if (st != FITCL_OK) fitcl__numarray_free(a);
  return st;
}

void fitcl__numarray_free(fitcl__numarray *a) {
  if (!a) return;
  if (a->names)
    for (size_t c = 0; c < a->cols; ++c) free(a->names[c]);
  free(a->names);
  free(a->data);
  memset(a, 0, sizeof *a);
}
