/* Tables of numbers written by the CLI (curve-fit --residuals, --band):
 * one helper for every such file, so the way files are written (format,
 * error detection) is decided in one place.  FILE.npy gets a float64 C-order
 * (rows, columns) array, any other name CSV with a header line and every
 * value at 17 significant digits. */
#ifndef FITCL_CLI_TABLE_OUT_H
#define FITCL_CLI_TABLE_OUT_H

#include <stdint.h>
#include <stdio.h>

typedef struct cli_table_out cli_table_out;

/* Opens path for nrows rows of ncols values (an .npy header states the row
 * count, so it must be known).  Returns NULL with one line on stderr. */
cli_table_out *cli_table_open(const char *option, const char *path, const char *const *names,
                              int ncols, uint64_t nrows);
/* Appends one row. */
void cli_table_row(cli_table_out *t, const double *v);
/* Closes the file; returns 0, or 1 after one line on stderr when any write
 * failed or the row count differs from the promised one. */
int cli_table_close(cli_table_out *t);

#endif
