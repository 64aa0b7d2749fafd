/* Whole .npy arrays read into memory and written (array_file.h).  The
 * streaming reader of curve-fit data files is source_mapped.c; this one
 * serves the batched fits, whose arrays are needed whole. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/util.h"
#include "io/array_file.h"

void fitcl__array_free(fitcl__array *a) {
  if (!a) return;
  free(a->data);
  memset(a, 0, sizeof *a);
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

static int is_little_endian(void) {
  const uint16_t one = 1;
  unsigned char b;
  memcpy(&b, &one, 1);
  return b == 1;
}

fitcl_status fitcl__npy_read(fitcl_context *ctx, const char *path, fitcl__array *out) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f) return fitcl__fail(ctx, FITCL_ERR_FILE, "%s: cannot open: %s", path, strerror(errno));
  unsigned char pre[12];
  char *h = NULL;
  void *raw = NULL;
  fitcl_status st = FITCL_OK;
  size_t hlen = 0;
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
    st = fitcl__fail(ctx, FITCL_ERR_PARSE, "%s: not a .npy file (bad magic)", path);
    goto done;
  }
  if (pre[6] == 1) {
    hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
  } else if ((pre[6] == 2 || pre[6] == 3) && fread(pre + 10, 1, 2, f) == 2) {
    hlen = (size_t)pre[8] | ((size_t)pre[9] << 8) | ((size_t)pre[10] << 16) | ((size_t)pre[11] << 24);
  } else {
    st = fitcl__fail(ctx, FITCL_ERR_PARSE, "%s: unsupported .npy version %d", path, pre[6]);
    goto done;
  }
  if (hlen > (1u << 20) || !(h = malloc(hlen + 1)) || fread(h, 1, hlen, f) != hlen) {
    st = fitcl__fail(ctx, FITCL_ERR_PARSE, "%s: truncated .npy header", path);
    goto done;
  }
  h[hlen] = 0;
  const char *d = dict_value(h, "descr"), *fo = dict_value(h, "fortran_order"),
             *sh = dict_value(h, "shape");
  if (!d || !fo || !sh || *d != '\'' || *sh != '(') {
    st = fitcl__fail(ctx, FITCL_ERR_PARSE, "%s: malformed .npy header: %s", path, h);
    goto done;
  }
  char descr[16] = {0};
  for (size_t i = 0; i + 1 < sizeof descr && d[1 + i] && d[1 + i] != '\''; ++i) descr[i] = d[1 + i];
  /* '<' little-endian, '=' native ('|' only for one-byte types). */
  int kind; /* 0 f8, 1 f4, 2 i4, 3 i8 */
  const int native_ok = descr[0] == '<' || (descr[0] == '=' && is_little_endian());
  if (native_ok && !strcmp(descr + 1, "f8")) kind = 0;
  else if (native_ok && !strcmp(descr + 1, "f4")) kind = 1;
  else if (native_ok && !strcmp(descr + 1, "i4")) kind = 2;
  else if (native_ok && !strcmp(descr + 1, "i8")) kind = 3;
  else {
    st = fitcl__fail(ctx, FITCL_ERR_DATA, "%s: dtype '%s' is not supported; use little-endian "
                     "float64, float32, int32 or int64 (numpy: np.save(path, a.astype('<f8')))",
                     path, descr);
    goto done;
  }
  const int fortran = !strncmp(fo, "True", 4);
  size_t total = 1;
  const char *p = sh + 1;
  for (;;) {
    while (*p == ' ' || *p == ',') ++p;
    if (*p == ')') break;
    if (!isdigit((unsigned char)*p) || out->ndim == FITCL__ARRAY_MAXDIM) {
      st = fitcl__fail(ctx, FITCL_ERR_DATA, "%s: shape %.40s: 1 to %d dimensions expected", path,
                       sh, FITCL__ARRAY_MAXDIM);
      goto done;
    }
    size_t v = (size_t)strtoull(p, (char **)&p, 10);
    out->dims[out->ndim++] = v;
    total *= v;
  }
  if (out->ndim == 0) {
    st = fitcl__fail(ctx, FITCL_ERR_DATA, "%s: a 0-dimensional array (a scalar)", path);
    goto done;
  }
  static const size_t esize[4] = {8, 4, 4, 8};
  out->data = malloc((total ? total : 1) * sizeof(double));
  raw = kind == 0 ? (void *)out->data : malloc((total ? total : 1) * esize[kind]);
  if (!out->data || !raw) {
    st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "%s: out of memory for %zu values", path, total);
    goto done;
  }
  if (fread(raw, esize[kind], total, f) != total) {
    st = fitcl__fail(ctx, FITCL_ERR_DATA, "%s: file is shorter than its shape says (truncated?)",
                     path);
    goto done;
  }
  for (size_t i = 0; kind != 0 && i < total; ++i) {
    if (kind == 1) out->data[i] = ((const float *)raw)[i];
    else if (kind == 2) out->data[i] = ((const int32_t *)raw)[i];
    else out->data[i] = (double)((const int64_t *)raw)[i];
  }
  /* Element strides of the file's order. */
  size_t s = 1;
  for (int k = 0; k < out->ndim; ++k) {
    int a = fortran ? k : out->ndim - 1 - k;
    out->strides[a] = s;
    s *= out->dims[a];
  }
done:
  if (raw && raw != (void *)out->data) free(raw);
  free(h);
  fclose(f);
  if (st != FITCL_OK) fitcl__array_free(out);
  return st;
}

fitcl_status fitcl__npy_write(fitcl_context *ctx, const char *path, int ndim, const size_t *dims,
                              const double *f64, const int32_t *i32) {
  char shape[96] = "", header[192];
  size_t total = 1, w = 0;
  for (int k = 0; k < ndim; ++k) {
    w += (size_t)snprintf(shape + w, sizeof shape - w, "%zu,%s", dims[k], k + 1 < ndim ? " " : "");
    total *= dims[k];
  }
  if (ndim > 1 && w > 0 && shape[w - 1] == ',') shape[w - 1] = 0;
  int hl = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                    f64 ? "<f8" : "<i4", shape);
  /* Magic (6) + version (2) + length (2) + header + '\n', padded to 64. */
  size_t pad = (64 - (10 + (size_t)hl + 1) % 64) % 64;
  FILE *f = fopen(path, "wb");
  if (!f) return fitcl__fail(ctx, FITCL_ERR_FILE, "%s: cannot create: %s", path, strerror(errno));
  unsigned short len = (unsigned short)((size_t)hl + pad + 1);
  unsigned char lb[2] = {(unsigned char)(len & 0xff), (unsigned char)(len >> 8)};
  int ok = fwrite("\x93NUMPY\x01\x00", 1, 8, f) == 8 && fwrite(lb, 1, 2, f) == 2 &&
           fwrite(header, 1, (size_t)hl, f) == (size_t)hl;
  for (size_t i = 0; ok && i < pad; ++i) ok = fputc(' ', f) != EOF;
  ok = ok && fputc('\n', f) != EOF;
  /* Little-endian hosts only write the data as they are. */
  if (ok && is_little_endian())
    ok = f64 ? fwrite(f64, sizeof *f64, total, f) == total : fwrite(i32, sizeof *i32, total, f) == total;
  else if (ok)
    ok = 0;
  if (fclose(f) != 0) ok = 0;
  if (!ok) return fitcl__fail(ctx, FITCL_ERR_IO, "%s: write failed: %s", path, strerror(errno));
  return FITCL_OK;
}

fitcl_status fitcl__array_read(fitcl_context *ctx, const char *spec, fitcl__array *out) {
  static const char *const h5ext[] = {".h5:", ".hdf5:", ".hdf:", ".nxs:"};
  for (size_t e = 0; e < sizeof h5ext / sizeof h5ext[0]; ++e) {
    const char *at = strstr(spec, h5ext[e]);
    if (!at) continue;
    size_t plen = (size_t)(at - spec) + strlen(h5ext[e]) - 1;
    char *path = malloc(plen + 1);
    if (!path) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
    memcpy(path, spec, plen);
    path[plen] = 0;
    fitcl_status st = fitcl__hdf5_read_array(ctx, path, spec + plen + 1, out);
    free(path);
    return st;
  }
  size_t n = strlen(spec);
  if (n > 4 && !strcmp(spec + n - 4, ".npy")) return fitcl__npy_read(ctx, spec, out);
  return fitcl__fail(ctx, FITCL_ERR_ARG, "'%s': expected FILE.npy or FILE.h5:DATASET", spec);
}
