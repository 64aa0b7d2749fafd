/* Whole arrays in files, read into memory: .npy (float64/float32/int64/
 * int32, 0-D to 3-D, C or Fortran order; io/npy.h's strict header) for
 * every command that takes arrays, and HDF5 datasets (source_hdf5.c,
 * through the run-time loaded libhdf5) for the batched fits.  The CSV/TSV
 * tables of fitcl evpi/evppi are io/numarray.h, which reads .npy through
 * here.  Writing .npy is io/npy.h.  Internal. */
#ifndef FITCL_IO_ARRAY_FILE_H
#define FITCL_IO_ARRAY_FILE_H

#include <stddef.h>
#include "fitcl.h"
#include "io/npy.h"

#define FITCL__ARRAY_MAXDIM FITCL__NPY_MAXDIM

/* An array of doubles in memory, with its shape and element strides
 * (NumPy's, in elements: a Fortran-order file keeps its layout). */
typedef struct fitcl__array {
  double *data;            /* malloc'ed; free with fitcl__array_free */
  int ndim;
  size_t dims[FITCL__ARRAY_MAXDIM];
  size_t strides[FITCL__ARRAY_MAXDIM];
} fitcl__array;

/* Reads a .npy file whole, converted to double (int64 values must be exact
 * as doubles: at most 2^53 in magnitude).  The file must be a regular file
 * (a directory is FITCL_ERR_FILE "PATH: is a directory"); it is read with
 * pread, never mapped, and its shape must fit in it before anything is
 * allocated.  A 0-D array (a scalar) is refused.  Messages name the file,
 * written into err (the readers run without a context). */
fitcl_status fitcl__npy_load(const char *path, fitcl__array *out, char *err, size_t errlen);

/* fitcl__npy_load reporting through ctx (fitcl_errmsg). */
fitcl_status fitcl__npy_read(fitcl_context *ctx, const char *path, fitcl__array *out);

/* Reads HDF5 dataset `dataset` of file `path` whole (1-D or 2-D, any
 * numeric type, converted to double). */
fitcl_status fitcl__hdf5_read_array(fitcl_context *ctx, const char *path, const char *dataset,
                                    fitcl__array *out);

/* The file an array spec names: FILE.npy itself, or the FILE of
 * FILE.h5:DATASET (also .hdf5, .hdf, .nxs), copied into buf (cap bytes;
 * truncated names are cut).  For checking outputs against inputs. */
void fitcl__array_spec_file(const char *spec, char *buf, size_t cap);

/* Reads FILE.npy, or FILE.h5:DATASET (also .hdf5, .hdf, .nxs). */
fitcl_status fitcl__array_read(fitcl_context *ctx, const char *spec, fitcl__array *out);

void fitcl__array_free(fitcl__array *a);

#endif
