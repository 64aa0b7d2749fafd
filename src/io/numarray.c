/* Whole numeric arrays from .npy files and CSV/TSV tables (io/numarray.h). */
#include "io/numarray.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/delim.h"

static fitcl_status failf(char *err, size_t errlen, fitcl_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static fitcl_status failf(char *err, size_t errlen, fitcl_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (err && errlen) vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return st;
}

/* The text after 'key': in a .npy header dict, or NULL. */
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

enum { NPY_F8, NPY_F4, NPY_I8, NPY_I4 };

static fitcl_status read_npy(FILE *f, const char *path, fitcl__numarray *a, char *err,
                             size_t errlen) {
  unsigned char pre[12];
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0)
    return failf(err, errlen, FITCL_ERR_PARSE, "%s: not a .npy file (bad magic)", path);
  size_t hlen;
  if (pre[6] == 1) {
    hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
  } else if (pre[6] == 2 || pre[6] == 3) {
    if (fread(pre + 10, 1, 2, f) != 2)
      return failf(err, errlen, FITCL_ERR_PARSE, "%s: truncated .npy header", path);
    hlen = (size_t)pre[8] | ((size_t)pre[9] << 8) | ((size_t)pre[10] << 16) | ((size_t)pre[11] << 24);
  } else {
    return failf(err, errlen, FITCL_ERR_PARSE, "%s: unsupported .npy version %d", path, pre[6]);
  }
  if (hlen > (1u << 20)) return failf(err, errlen, FITCL_ERR_PARSE, "%s: .npy header too long", path);
  char *h = malloc(hlen + 1);
  if (!h) return failf(err, errlen, FITCL_ERR_NOMEM, "out of memory");
  fitcl_status st = FITCL_OK;
  if (fread(h, 1, hlen, f) != hlen) {
    st = failf(err, errlen, FITCL_ERR_PARSE, "%s: truncated .npy header", path);
    goto done;
  }
  h[hlen] = 0;
  const char *d = dict_value(h, "descr"), *fo = dict_value(h, "fortran_order"),
             *sh = dict_value(h, "shape");
  if (!d || !fo || !sh || *d != '\'' || *sh != '(') {
    st = failf(err, errlen, FITCL_ERR_PARSE, "%s: malformed .npy header", path);
    goto done;
  }
  char descr[16] = {0};
  for (size_t i = 0; i + 1 < sizeof descr && d[1 + i] && d[1 + i] != '\''; ++i) descr[i] = d[1 + i];
  int type;
  size_t es;
  if (!strcmp(descr, "<f8") || !strcmp(descr, "=f8")) type = NPY_F8, es = 8;
  else if (!strcmp(descr, "<f4") || !strcmp(descr, "=f4")) type = NPY_F4, es = 4;
  else if (!strcmp(descr, "<i8") || !strcmp(descr, "=i8")) type = NPY_I8, es = 8;
  else if (!strcmp(descr, "<i4") || !strcmp(descr, "=i4")) type = NPY_I4, es = 4;
  else {
    st = failf(err, errlen, FITCL_ERR_DATA, "%s: dtype '%s' is not supported; use little-endian "
               "float64, float32, int64 or int32", path, descr);
    goto done;
  }
  const int fortran = !strncmp(fo, "True", 4);
  uint64_t dims[3] = {0, 0, 0};
  int nd = 0;
  const char *p = sh + 1;
  for (;;) {
    while (*p == ' ' || *p == ',') ++p;
    if (*p == ')') break;
    if (!isdigit((unsigned char)*p) || nd == 3) {
      st = failf(err, errlen, FITCL_ERR_PARSE, "%s: malformed shape in .npy header", path);
      goto done;
    }
    dims[nd++] = strtoull(p, (char **)&p, 10);
  }
  if (nd == 0 || nd > 2) {
    st = failf(err, errlen, FITCL_ERR_DATA, "%s: array has %d dimensions; 1-D or 2-D expected",
               path, nd);
    goto done;
  }
  const size_t rows = (size_t)dims[0], cols = nd == 2 ? (size_t)dims[1] : 1;
  if (rows == 0 || cols == 0) {
    st = failf(err, errlen, FITCL_ERR_DATA, "%s: the array is empty", path);
    goto done;
  }
  if (rows > SIZE_MAX / 8 / cols) {
    st = failf(err, errlen, FITCL_ERR_DATA, "%s: the array is too large", path);
    goto done;
  }
  const size_t count = rows * cols;
  unsigned char *raw = malloc(count * es);
  a->data = malloc(count * sizeof *a->data);
  if (!raw || !a->data) {
    free(raw);
    st = failf(err, errlen, FITCL_ERR_NOMEM, "%s: out of memory for %zu values", path, count);
    goto done;
  }
  if (fread(raw, es, count, f) != count) {
    free(raw);
    st = failf(err, errlen, FITCL_ERR_DATA, "%s: file is shorter than its shape says (truncated?)",
               path);
    goto done;
  }
  for (size_t i = 0; i < count && st == FITCL_OK; ++i) {
    /* Element i of the file: row-major position (r, c) or Fortran (c, r). */
    const size_t r = fortran ? i % rows : i / cols, c = fortran ? i / rows : i % cols;
    double v;
    if (type == NPY_F8) memcpy(&v, raw + i * 8, 8);
    else if (type == NPY_F4) {
      float x;
      memcpy(&x, raw + i * 4, 4);
      v = x;
    } else if (type == NPY_I4) {
      int32_t x;
      memcpy(&x, raw + i * 4, 4);
      v = x;
    } else {
      int64_t x;
      memcpy(&x, raw + i * 8, 8);
      v = (double)x;
      if (x > ((int64_t)1 << 53) || x < -((int64_t)1 << 53))
        st = failf(err, errlen, FITCL_ERR_DATA, "%s: value %lld at [%zu][%zu] is not exact as "
                   "a double", path, (long long)x, r, c);
    }
    a->data[r * cols + c] = v;
  }
  free(raw);
  a->rows = rows;
  a->cols = cols;
done:
  free(h);
  return st;
}

/* Parses a whole field as a number; 0 when it is not one. */
static int parse_number(const fitcl__delim_field *fd, double *v) {
  char buf[128];
  const char *s = fd->p;
  size_t n = fd->n;
  while (n && fitcl__delim_blank(*s)) ++s, --n;
  while (n && fitcl__delim_blank(s[n - 1])) --n;
  if (n == 0 || n >= sizeof buf) return 0;
  memcpy(buf, s, n);
  buf[n] = 0;
  char *end;
  errno = 0;
  *v = strtod(buf, &end);
  return *end == 0;
}

static fitcl_status read_csv(FILE *f, const char *path, fitcl__numarray *a, char *err,
                             size_t errlen) {
  fitcl__delim r;
  fitcl_status st = fitcl__delim_open_file(&r, f, (size_t)1 << 16, path, err, errlen);
  if (st != FITCL_OK) return st;
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
        st = failf(err, errlen, FITCL_ERR_NOMEM, "%s: out of memory", path);
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
        st = failf(err, errlen, FITCL_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
      }
      a->cols = cols; /* how many names to free */
      i = 0;
      for (size_t c = 0; c < cols; ++c) {
        if (fitcl__delim_field_next(&r, &rec, &i, &fd, &st) < 0) goto fail;
        a->names[c] = malloc(fd.n + 1);
        if (!a->names[c]) {
          st = failf(err, errlen, FITCL_ERR_NOMEM, "%s: out of memory", path);
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
    st = failf(err, errlen, FITCL_ERR_DATA, "%s: no data rows", path);
    goto fail;
  }
  a->rows = n / cols;
  a->cols = cols;
  fitcl__delim_close(&r);
  return FITCL_OK;
fail:
  fitcl__delim_close(&r);
  return st;
}

fitcl_status fitcl__numarray_read(const char *path, fitcl__numarray *a, char *err, size_t errlen) {
  memset(a, 0, sizeof *a);
  FILE *f = fopen(path, "rb");
  if (!f) return failf(err, errlen, FITCL_ERR_FILE, "%s: cannot open: %s", path, strerror(errno));
  const size_t len = strlen(path);
  fitcl_status st = len > 4 && !strcmp(path + len - 4, ".npy") ? read_npy(f, path, a, err, errlen)
                                                                : read_csv(f, path, a, err, errlen);
  fclose(f);
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
