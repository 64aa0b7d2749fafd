/* A tree matched to a presence/absence matrix of which each rank of a job
 * reads only its rows (docs/mpi.md).  Internal.
 *
 * Rank k takes a contiguous run of the families, in rank order: of a .npy
 * array, rows [b, e) (the counts differing by at most one); of a
 * tab-delimited table of families in rows (Rtab, TSV), the lines that
 * start in its k-th of N equal byte ranges of the data rows (every rank
 * reads the header).  Each rank compresses its rows into site patterns,
 * and the ranks gather every rank's patterns, weights and family map and
 * merge them in rank order (fitcl__patterns_merge): every rank then holds
 * the pattern table, family names and family map one process builds, bit
 * for bit.
 *
 * Read whole by every rank instead (as one process reads it): a CSV, a
 * Roary/Panaroo file, a table with taxa in rows, a stream that is not a
 * regular file, and a table in which any rank found a '"' in rows the fast
 * reader declined (a quoted field may hold a newline, and a cut at a line
 * start would split it).  Messages name the file's lines and rows as one
 * process's do. */
#ifndef FITCL_IO_PAMATRIX_SHARE_H
#define FITCL_IO_PAMATRIX_SHARE_H

#include <stddef.h>

#include "core/context.h"
#include "core/ranks.h"
#include "fitcl.h"

/* Collective over `ranks` (NULL, or a single rank: fitcl_pamatrix_read and
 * fitcl_data_build_take).  A rank whose own rows or reads failed returns its
 * error; the others FITCL_ERR_PEER. */
fitcl_status fitcl__data_read_share(fitcl__ranks *ranks, const fitcl_tree *tree, const char *path,
                                    const fitcl_pamatrix_options *mopt,
                                    const fitcl_data_options *dopt, fitcl_data **out, char *err,
                                    size_t errlen);

/* The same with ctx's ranks (the command under mpirun). */
fitcl_status fitcl__data_read_ctx(fitcl_context *ctx, const fitcl_tree *tree, const char *path,
                                  const fitcl_pamatrix_options *mopt,
                                  const fitcl_data_options *dopt, fitcl_data **out, char *err,
                                  size_t errlen);

#endif
