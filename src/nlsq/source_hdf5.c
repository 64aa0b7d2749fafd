/* HDF5 datasets (XPCS data are HDF5), read in chunked hyperslabs converted
 * to double by the library, so only one chunk per column is ever in memory.
 * Built only when libhdf5 was found (FITCL_HAVE_HDF5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/util.h"
#include "fitcl_config.h"
#include "nlsq/source.h"

#if FITCL_HAVE_HDF5
#include <hdf5.h>

typedef struct h5col {
  hid_t dset, space;
  int rank;
  hsize_t col;
} h5col;

typedef struct h5src {
  hid_t file;
  h5col cols[FITCL__SRC_MAXCOLS];
  uint64_t nrows;
} h5src;

static fitcl_status h5_rewind(fitcl_source *src) {
  (void)src;
  return FITCL_OK;
}

static fitcl_status h5_read(fitcl_source *src, const double **cols, size_t *n) {
  h5src *h = src->impl;
  uint64_t r0 = src->row;
  size_t cnt = r0 >= h->nrows ? 0 : (size_t)(h->nrows - r0 < src->chunk ? h->nrows - r0 : src->chunk);
  *n = cnt;
  for (int k = 0; k < src->ncols; ++k) {
    double *dst = src->buf[src->flip][k];
    cols[k] = dst;
    if (!cnt) continue;
    h5col *c = &h->cols[k];
    hsize_t start[2] = {r0, c->col}, count[2] = {cnt, 1};
    hsize_t mdim = cnt;
    hid_t mspace = H5Screate_simple(1, &mdim, NULL);
    herr_t e = H5Sselect_hyperslab(c->space, H5S_SELECT_SET, start, NULL, count, NULL);
    if (e >= 0) e = H5Dread(c->dset, H5T_NATIVE_DOUBLE, mspace, c->space, H5P_DEFAULT, dst);
    H5Sclose(mspace);
    if (e < 0)
      return fitcl__fail(src->ctx, FITCL_ERR_IO, "%s: reading dataset '%s' at row %llu failed",
                         src->path, src->colname[k], (unsigned long long)r0);
  }
  return FITCL_OK;
}

static void h5_destroy(fitcl_source *src) {
  h5src *h = src->impl;
  if (!h) return;
  for (int k = 0; k < FITCL__SRC_MAXCOLS; ++k) {
    if (h->cols[k].space > 0) H5Sclose(h->cols[k].space);
    if (h->cols[k].dset > 0) H5Dclose(h->cols[k].dset);
  }
  if (h->file > 0) H5Fclose(h->file);
  free(h);
  src->impl = NULL;
}

static const fitcl__source_ops h5_ops = {h5_rewind, h5_read, h5_destroy};

fitcl_status fitcl__source_open_hdf5(fitcl_source *src, const fitcl_source_options *opt) {
  fitcl_context *ctx = src->ctx;
  h5src *h = calloc(1, sizeof *h);
  if (!h) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  src->impl = h;
  src->ops = &h5_ops;
  /* The library prints its own error stack unless told not to; fitcl never
   * prints. */
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  h->file = H5Fopen(opt->path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (h->file < 0)
    return fitcl__fail(ctx, FITCL_ERR_FILE, "%s: cannot open as HDF5", opt->path);
  for (int k = 0; k < src->ncols; ++k) {
    h5col *c = &h->cols[k];
    char name[1024];
    fitcl__strlcpy(name, src->colname[k], sizeof name);
    char *colon = strrchr(name, ':');
    c->col = 0;
    if (colon) {
      char *end;
      unsigned long long v = strtoull(colon + 1, &end, 10);
      if (end != colon + 1 && !*end) {
        *colon = 0;
        c->col = v;
      }
    }
    if (H5Lexists(h->file, name, H5P_DEFAULT) <= 0 ||
        (c->dset = H5Dopen2(h->file, name, H5P_DEFAULT)) < 0)
      return fitcl__fail(ctx, FITCL_ERR_NAME, "%s: no dataset '%s'; name a dataset path such as "
                         "/entry/data/tau", opt->path, name);
    hid_t type = H5Dget_type(c->dset);
    H5T_class_t cls = H5Tget_class(type);
    H5Tclose(type);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER)
      return fitcl__fail(ctx, FITCL_ERR_DATA, "%s: dataset '%s' is not numeric", opt->path, name);
    c->space = H5Dget_space(c->dset);
    c->rank = H5Sget_simple_extent_ndims(c->space);
    hsize_t dims[2] = {0, 1};
    if (c->rank < 1 || c->rank > 2)
      return fitcl__fail(ctx, FITCL_ERR_DATA, "%s: dataset '%s' has %d dimensions; 1-D or 2-D "
                         "expected", opt->path, name, c->rank);
    H5Sget_simple_extent_dims(c->space, dims, NULL);
    if (c->rank == 1 && c->col != 0)
      return fitcl__fail(ctx, FITCL_ERR_NAME, "%s: dataset '%s' is 1-D; it has no column %llu",
                         opt->path, name, (unsigned long long)c->col);
    if (c->rank == 2 && c->col >= dims[1])
      return fitcl__fail(ctx, FITCL_ERR_NAME, "%s: dataset '%s' has %llu columns; no column %llu",
                         opt->path, name, (unsigned long long)dims[1], (unsigned long long)c->col);
    if (k == 0) h->nrows = dims[0];
    else if (dims[0] != h->nrows)
      return fitcl__fail(ctx, FITCL_ERR_MISMATCH, "%s: dataset '%s' has %llu rows but '%s' has %llu",
                         opt->path, name, (unsigned long long)dims[0], src->colname[0],
                         (unsigned long long)h->nrows);
  }
  src->points = h->nrows;
  return FITCL_OK;
}

#else

fitcl_status fitcl__source_open_hdf5(fitcl_source *src, const fitcl_source_options *opt) {
  return fitcl__fail(src->ctx, FITCL_ERR_UNSUPPORTED,
                     "%s: this fitcl was built without HDF5; convert the data to .npy or CSV",
                     opt->path);
}

#endif
