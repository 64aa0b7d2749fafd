/* Whole arrays read into memory (io/array_file.h).  The streaming reader
 * of curve-fit data files is source_mapped.c; both parse .npy headers with
 * io/npy.c. */
#include "io/array_file.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/context.h"
#include "core/ioerr.h"

/* Widens n elements of a narrower or integer dtype held at the front of
 * raw to doubles in dst.  For 4-byte types raw is the back half of dst:
 * each double lands before the values still unread. */
static fitcl_status widen(const char *path, const fitcl__npy_info *h, const unsigned char *raw,
                          double *dst, size_t n, char *err, size_t errlen) {
  for (size_t i = 0; i < n; ++i) {
    if (h->dtype == FITCL__NPY_F4) {
      float v;
      memcpy(&v, raw + i * 4, 4);
      dst[i] = v;
    } else if (h->dtype == FITCL__NPY_I4) {
      int32_t v;
      memcpy(&v, raw + i * 4, 4);
      dst[i] = v;
    } else {
      int64_t v;
      memcpy(&v, raw + i * 8, 8);
      /* Beyond 2^53 a double would silently round the integer. */
      if (v > ((int64_t)1 << 53) || v < -((int64_t)1 << 53))
        return fitcl__ioerr(err, errlen, FITCL_ERR_DATA,
                            "%s: value %lld (element %zu) is not exact as a double", path,
                            (long long)v, i);
      dst[i] = (double)v;
    }
  }
  return FITCL_OK;
}

static fitcl_status load_fd(int fd, const char *path, uint64_t size, fitcl__array *out, char *err,
                            size_t errlen) {
  fitcl__npy_info h;
  fitcl_status st = fitcl__npy_read_header(fd, path, size, &h, err, errlen);
  if (st != FITCL_OK) return st;
  /* uint8 is the presence/absence matrices' type (io/pamatrix_npy.c). */
  if (h.dtype < 0 || h.dtype == FITCL__NPY_U1)
    return fitcl__ioerr(err, errlen, FITCL_ERR_DATA,
                        "%s: dtype '%s' is not supported; use little-endian float64, float32, "
                        "int64 or int32 (numpy: np.save(path, a.astype('<f8')))", path, h.descr);
  if (h.ndim == 0)
    return fitcl__ioerr(err, errlen, FITCL_ERR_DATA, "%s: a 0-dimensional array (a scalar)", path);
  /* count fits in the file (fitcl__npy_read_header), so this allocation
   * is at most twice the file's size. */
  if (h.count > SIZE_MAX / sizeof(double))
    return fitcl__ioerr(err, errlen, FITCL_ERR_SIZE, "%s: too large for this machine", path);
  const size_t n = (size_t)h.count;
  out->data = malloc((n ? n : 1) * sizeof(double));
  if (!out->data)
    return fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "%s: out of memory for %zu values", path, n);
  unsigned char *raw = (unsigned char *)out->data + (h.esize == 4 ? n * 4 : 0);
  st = fitcl__npy_pread(fd, path, raw, n * h.esize, h.data_off, err, errlen);
  if (st == FITCL_OK && h.dtype != FITCL__NPY_F8)
    st = widen(path, &h, raw, out->data, n, err, errlen);
  if (st != FITCL_OK) return st;
  out->ndim = h.ndim;
  size_t s = 1;
  for (int k = 0; k < h.ndim; ++k) {
    const int a = h.fortran ? k : h.ndim - 1 - k;
    out->dims[a] = (size_t)h.dims[a];
    out->strides[a] = s;
    s *= out->dims[a];
  }
  return FITCL_OK;
}

fitcl_status fitcl__npy_load(const char *path, fitcl__array *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  int fd;
  uint64_t size;
  fitcl_status st = fitcl__npy_open(path, &fd, &size, err, errlen);
  if (st != FITCL_OK) return st;
  st = load_fd(fd, path, size, out, err, errlen);
  close(fd);
  if (st != FITCL_OK) fitcl__array_free(out);
  return st;
}

fitcl_status fitcl__npy_read(fitcl_context *ctx, const char *path, fitcl__array *out) {
  char err[1024] = "";
  fitcl_status st = fitcl__npy_load(path, out, err, sizeof err);
  return st == FITCL_OK ? st : fitcl__fail(ctx, st, "%s", err);
}

/* The length of the FILE part of FILE.h5:DATASET, or 0 when spec is not
 * one. */
static size_t h5_file_len(const char *spec) {
  static const char *const h5ext[] = {".h5:", ".hdf5:", ".hdf:", ".nxs:"};
  for (size_t e = 0; e < sizeof h5ext / sizeof h5ext[0]; ++e) {
    const char *at = strstr(spec, h5ext[e]);
    if (at) return (size_t)(at - spec) + strlen(h5ext[e]) - 1;
  }
  return 0;
}

void fitcl__array_spec_file(const char *spec, char *buf, size_t cap) {
  size_t n = h5_file_len(spec);
  if (!n) n = strlen(spec);
  if (!cap) return;
  if (n >= cap) n = cap - 1;
  memcpy(buf, spec, n);
  buf[n] = '\0';
}

fitcl_status fitcl__array_read(fitcl_context *ctx, const char *spec, fitcl__array *out) {
  memset(out, 0, sizeof *out);
  const size_t plen = h5_file_len(spec);
  if (plen) {
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
