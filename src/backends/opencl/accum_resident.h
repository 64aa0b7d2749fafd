/* An accumulator's data kept on the OpenCL device across passes
 * (accum_ocl.c): one entry per piece, found by its first row.  Internal. */
#ifndef FITCL_BACKENDS_OPENCL_ACCUM_RESIDENT_H
#define FITCL_BACKENDS_OPENCL_ACCUM_RESIDENT_H

#include <stddef.h>
#include <stdint.h>
#include "device/opencl/ocl.h"

typedef struct fitcl__resident_piece {
  uint64_t row; /* first row of the piece in the pass */
  size_t n;
  int has_sigma;
  uint64_t bytes;     /* device bytes of its buffers */
  cl_mem x, y, sigma; /* column j of x at x + j*n */
} fitcl__resident_piece;

typedef struct fitcl__resident_store {
  fitcl__resident_piece *piece; /* by first row, ascending */
  size_t count, cap;
  uint64_t bytes, budget; /* device bytes held, and the most they may be */
} fitcl__resident_store;

/* The piece that starts at `row`, or NULL. */
fitcl__resident_piece *fitcl__resident_find(fitcl__resident_store *s, uint64_t row);

/* A new piece at `row` of n points (nv x columns, y, sigma if has_sigma),
 * its buffers allocated and not yet written; NULL when it would pass the
 * budget or the device refuses the memory (the budget then stops at what
 * is held: the rest streams).  Never an error: ctx keeps no message. */
fitcl__resident_piece *fitcl__resident_make(fitcl_context *ctx, fitcl__resident_store *s,
                                            uint64_t row, size_t n, int nv, int has_sigma);

/* Takes back the newest piece made (its upload could not be enqueued). */
void fitcl__resident_unmake(fitcl__resident_store *s, fitcl__resident_piece *p);

void fitcl__resident_free(fitcl__resident_store *s);

#endif
