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
#include "io/array.h"
#include "io/npy.h"

/* Reads a .npy file whole, converted to double (int64 values must be exact
 * as doubles: at most 2^53 in magnitude).  The file must be a regular file
 * (a directory is FITCL_ERR_FILE "PATH: is a directory"); it is read with
 * pread, never mapped, and its shape must fit in it before anything is
 * allocated.  A 0-D array (a scalar) is refused.  Messages name the file,
 * written into err (the readers run without a context). */
fitcl_status fitcl__npy_load(const char *path, fitcl__array *out, char *err, size_t errlen);

/* fitcl__npy_load reporting through ctx (fitcl_errmsg). */
fitcl_status fitcl__npy_read(fitcl_context *ctx, const char *path, fitcl__array *out);

/* The file an array spec names: FILE.npy itself, or the FILE of
 * FILE.h5:DATASET (also .hdf5, .hdf, .nxs), copied into buf (cap bytes;
 * truncated names are cut).  For checking outputs against inputs. */
void fitcl__array_spec_file(const char *spec, char *buf, size_t cap);

/* Reads FILE.npy, or FILE.h5:DATASET (also .hdf5, .hdf, .nxs). */
fitcl_status fitcl__array_read(fitcl_context *ctx, const char *spec, fitcl__array *out);

#endif
