/* An array of doubles read whole into memory, and its release: the type
 * every whole-array reader fills (array_file.c for .npy and the dispatch
 * on a spec, source_hdf5.c for HDF5 datasets).  Kept below both so that
 * neither needs the other's file.  Internal. */
#ifndef FITCL_IO_ARRAY_H
#define FITCL_IO_ARRAY_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
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

static inline void fitcl__array_free(fitcl__array *a) {
  if (!a) return;
  free(a->data);
  memset(a, 0, sizeof *a);
}

/* Reads HDF5 dataset `dataset` of file `path` whole (1-D or 2-D, any
 * numeric type, converted to double). */
fitcl_status fitcl__hdf5_read_array(fitcl_context *ctx, const char *path, const char *dataset,
                                    fitcl__array *out);

#endif
