/* Whole numeric arrays from a .npy file or a CSV/TSV table, for the
 * commands that take matrices (fitcl evpi, fitcl evppi).  Internal.
 *
 * .npy: read by io/array_file.h (the strict header of io/npy.h; float64,
 * float32, int64 or int32, converted to double, integers exactly
 * representable), 1-D or 2-D, C or Fortran order; the result is always
 * row-major.  CSV/TSV (io/delim.h): one row per record, every field a
 * decimal number; a first record that is not all numbers is a header of
 * column names.  A directory is FITCL_ERR_FILE.  Messages name the file (and
 * line:column for text). */
#ifndef FITCL_IO_NUMARRAY_H
#define FITCL_IO_NUMARRAY_H
#include <stddef.h>

#include "fitcl.h"

typedef struct fitcl__numarray {
  double *data;    /* rows x cols, row-major (malloc'ed) */
  size_t rows, cols;
  char **names;    /* cols header names (CSV with a header), else NULL */
} fitcl__numarray;

/* Reads `path`: a .npy file when its name ends in ".npy", else CSV/TSV.
 * A 1-D .npy array is one column.  On failure *a is empty and err says
 * why (FITCL_ERR_FILE, FITCL_ERR_PARSE, FITCL_ERR_DATA, FITCL_ERR_NOMEM). */
fitcl_status fitcl__numarray_read(const char *path, fitcl__numarray *a, char *err, size_t errlen);
void fitcl__numarray_free(fitcl__numarray *a);

#endif
