/* Tables of numbers written by the CLI (curve-fit --residuals, --band):
 * one helper for every such file, so the way files are written (format,
 * error detection) is decided in one place.  FILE.npy gets a float64 C-order
 * (rows, columns) array, any other name CSV with a header line and every
 * value at 17 significant digits.  The file goes through the safe-output
 * routine (core/outfile.h, via cli_out_open): a temporary file renamed into
 * place, a symlink followed, a FIFO or device written in place. */
#ifndef FITCL_CLI_TABLE_OUT_H
#define FITCL_CLI_TABLE_OUT_H

#include <stdint.h>
#include <stdio.h>

#include "core/outfile.h"

typedef struct cli_table_out cli_table_out;

/* Opens path for nrows rows of ncols values (an .npy header states the row
 * count, so it must be known).  Returns NULL after one line on stderr;
 * *rc then holds the exit status. */
cli_table_out *cli_table_open(const char *option, const char *path, const char *const *names,
                              int ncols, uint64_t nrows, int *rc);
/* Appends one row. */
void cli_table_row(cli_table_out *t, const double *v);
/* Ends the table: 0 with the output, written but not yet in place, moved
 * to *out for cli_out_commit (so that a command's outputs are committed
 * together); or the exit status after one line on stderr when the row
 * count differs from the promised one (the output is dropped).  Frees t. */
int cli_table_end(cli_table_out *t, fitcl__outfile *out);
/* Drops a table (an error elsewhere). */
void cli_table_abort(cli_table_out *t);

#endif
