/* Whole arrays in files, for the batched fits: .npy read and written
 * (float64/float32/int32/int64, 1-D to 3-D, C or Fortran order), and HDF5
 * datasets read (source_hdf5.c, through the run-time loaded libhdf5).
 * Internal. */
#ifndef FITCL_IO_ARRAY_FILE_H
#define FITCL_IO_ARRAY_FILE_H

#include <stddef.h>
#include "fitcl.h"

#define FITCL__ARRAY_MAXDIM 3

/* An array of doubles in memory, with its shape and element strides
 * (NumPy's, in elements: a Fortran-order file keeps its layout). */
typedef struct fitcl__array {
  double *data;            /* malloc'ed; free with fitcl__array_free */
  int ndim;
  size_t dims[FITCL__ARRAY_MAXDIM];
  size_t strides[FITCL__ARRAY_MAXDIM];
} fitcl__array;

/* Reads a .npy file whole (float64, float32, int32 or int64, converted to
 * double).  Errors name the file. */
fitcl_status fitcl__npy_read(fitcl_context *ctx, const char *path, fitcl__array *out);

/* Writes a C-order .npy file of ndim dims: descr "<f8" with f64 data, or
 * "<i4" with i32 data (the other NULL). */
fitcl_status fitcl__npy_write(fitcl_context *ctx, const char *path, int ndim, const size_t *dims,
                              const double *f64, const int32_t *i32);

/* Reads HDF5 dataset `dataset` of file `path` whole (1-D or 2-D, any
 * numeric type, converted to double). */
fitcl_status fitcl__hdf5_read_array(fitcl_context *ctx, const char *path, const char *dataset,
                                    fitcl__array *out);

/* Reads FILE.npy, or FILE.h5:DATASET (also .hdf5, .hdf, .nxs). */
fitcl_status fitcl__array_read(fitcl_context *ctx, const char *spec, fitcl__array *out);

void fitcl__array_free(fitcl__array *a);

#endif
