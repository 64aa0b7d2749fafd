/* Cosine-similarity credit assignment: the kernel family's job description
 * and ops table.  Internal.
 *
 * A backend runs every block of `rows` nodes: the cosines, the loss pair and,
 * when asked, the signal gradient and the block's own table gradients
 * (cl/common/credit.h).  The host (kernels/credit.c) adds the blocks' loss
 * pairs and tables in block order: no atomics, the same bits everywhere. */
#ifndef FITCL_KERNELS_CREDIT_H
#define FITCL_KERNELS_CREDIT_H
#include <stddef.h>
#include <stdint.h>

#include "fitcl.h"

typedef struct fitcl__credit_job {
  int f32;                  /* 1: float arrays, 0: double */
  size_t n, d, ncos, nmag, nclass;
  size_t rows;              /* nodes per block */
  size_t nblocks;
  const int32_t *phase, *mag, *labels;
  const void *cos_table, *mag_table, *targets;
  const void *weights;      /* NULL: 1 */
  const double *tnorm2;     /* nclass: |T[c]|² as the kernels form it */
  void *cosine;             /* n or NULL */
  void *grad_signal;        /* n*d or NULL */
  int want_tables;
  double *table_partial;    /* nblocks * (ncos + nmag): block b's ∂L/∂cos_table
                               then ∂L/∂mag_table (want_tables) */
  double *loss_partial;     /* 2 * nblocks: (sum, correction) */
  int32_t *bad;             /* nblocks: 1 when the block holds an index outside
                               its table (its other outputs are then undefined) */
} fitcl__credit_job;

typedef struct fitcl__credit_ops {
  /* Runs every block of the job. */
  fitcl_status (*blocks)(fitcl_context *ctx, const fitcl__credit_job *job);
} fitcl__credit_ops;

/* Nodes per block for signal dimension d and tables of ncos + nmag entries:
 * a power of two with the blocks' tables at most 1/64 of the index data
 * (adding them up then costs a few per cent of the pass), from 8 to 8192
 * nodes.  Depends on the shapes alone, never on the device. */
size_t fitcl__credit_block_rows(size_t d, size_t ncos, size_t nmag);

#endif
