/* The .npy format (numpy's format spec, versions 1 to 3): the one header
 * parser every .npy reader uses, and the writer of every .npy fitcl makes.
 * Internal.
 *
 * The header must be numpy's dict with exactly the keys 'descr' (a quoted
 * dtype), 'fortran_order' (True or False) and 'shape' (a tuple of at most
 * three whole numbers), each once, then spaces and a newline: anything
 * else is refused rather than guessed at.  It is at most 1 MiB, and the
 * data its shape promises must lie inside the file, so a reader knows
 * before allocating that the size is real (for the five dtypes below;
 * any other is refused by its reader).  Files are read with pread,
 * never mapped: a mapped file that shrinks turns the next access into
 * SIGBUS. */
#ifndef FITCL_IO_NPY_H
#define FITCL_IO_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "core/outfile.h"
#include "fitcl.h"

#define FITCL__NPY_MAXDIM 3
/* numpy writes a few hundred bytes; anything longer is not a header. */
#define FITCL__NPY_MAX_HEADER (1u << 20)

typedef enum fitcl__npy_dtype {
  FITCL__NPY_F8, /* little-endian float64 */
  FITCL__NPY_F4, /* float32 */
  FITCL__NPY_I8, /* int64 */
  FITCL__NPY_I4, /* int32 */
  FITCL__NPY_U1  /* uint8 ('|u1'): presence/absence matrices only */
} fitcl__npy_dtype;

typedef struct fitcl__npy_info {
  char descr[16];          /* as written, for messages ("<f8", "|u1", ">i2", ...) */
  int dtype;               /* a fitcl__npy_dtype, or -1 for any other descr */
  size_t esize;            /* bytes per element (0 when dtype is -1) */
  int fortran;
  int ndim;                /* 0 (a scalar) to FITCL__NPY_MAXDIM */
  uint64_t dims[FITCL__NPY_MAXDIM];
  uint64_t count;          /* elements: the product of dims (dtype >= 0) */
  uint64_t data_off;       /* byte offset of the data */
} fitcl__npy_info;

/* Opens a .npy file for reading: *fd a descriptor on a regular file of
 * *size bytes.  FITCL_ERR_FILE for a file that cannot be opened, a
 * directory or something else that is not a regular file, FITCL_ERR_IO
 * when fstat fails; *fd is then -1. */
fitcl_status fitcl__npy_open(const char *path, int *fd, uint64_t *size, char *err, size_t errlen);

/* Reads and checks the header of the .npy file open on fd (a regular file
 * of file_size bytes).  FITCL_ERR_PARSE ("PATH: malformed .npy header:
 * why; write the file with numpy.save", bad magic, version, truncation),
 * FITCL_ERR_DATA ("PATH: file is shorter than its shape says") for data
 * the file does not hold, FITCL_ERR_IO for a read error.  A descr other
 * than the five dtypes is not an error here (dtype -1): each reader names
 * the dtypes it takes. */
fitcl_status fitcl__npy_read_header(int fd, const char *path, uint64_t file_size,
                                    fitcl__npy_info *h, char *err, size_t errlen);

/* Reads len bytes at off; a short read is FITCL_ERR_IO "PATH: file is
 * shorter than expected (changed while read?)". */
fitcl_status fitcl__npy_pread(int fd, const char *path, void *dst, size_t len, uint64_t off,
                              char *err, size_t errlen);

/* Writes a version 1.0 header for C-order data, padded so the data start
 * on a 64-byte boundary.  Data go out in the host's byte order, which is
 * little-endian wherever fitcl runs (x86-64, aarch64), as the readers
 * assume too. */
void fitcl__npy_write_header(fitcl__outfile *o, fitcl__npy_dtype dtype, int ndim,
                             const uint64_t *dims);

/* Writes a whole C-order array: f64 data as float64, or i32 data as int32
 * (the other NULL).  Errors stick in o and are reported by its commit. */
void fitcl__npy_write(fitcl__outfile *o, int ndim, const size_t *dims, const double *f64,
                      const int32_t *i32);

/* A whole .npy file at path through core/outfile (open, write, commit):
 * for the benchmarks' files. */
fitcl_status fitcl__npy_save(const char *path, int ndim, const size_t *dims, const double *f64,
                             const int32_t *i32, char *err, size_t errlen);

#endif
