/* Presence/absence matrices as uint8 .npy arrays of shape (families, taxa):
 * 0 absent, 1 present, 255 missing, with the names in text files of one
 * name per line.  The compact form of a matrix too large for text (10,000
 * taxa x 1,000,000 families is 20 GB as Rtab, 10 GB here, 2.5 GB in
 * memory).  Internal; fitcl_pamatrix_read dispatches here. */
#ifndef FITCL_IO_PAMATRIX_NPY_H
#define FITCL_IO_PAMATRIX_NPY_H

#include <stddef.h>
#include "core/outfile.h"
#include "fitcl.h"
#include "phylo/pamatrix.h"

/* 1 when fitcl_pamatrix_read should come here: a ".npy" name with the
 * automatic format, or a names file given (which only this reader takes,
 * so it refuses another file with a clear message). */
int fitcl__pamatrix_is_npy(const char *path, const fitcl_pamatrix_options *opt);

/* Reads the array in large blocks straight into the two-bit cells. */
fitcl_status fitcl__pamatrix_read_npy(const char *path, const fitcl_pamatrix_options *opt,
                                      fitcl_pamatrix **out, char *err, size_t errlen);
/* The same with reads of `block` bytes (a multiple of 8) instead of 1 MiB:
 * the tests use small blocks to cross every block boundary. */
fitcl_status fitcl__pamatrix_read_npy_block(const char *path, const fitcl_pamatrix_options *opt,
                                            size_t block, fitcl_pamatrix **out, char *err,
                                            size_t errlen);

/* Rows [row0, row0 + (*out)->nfamilies) of the array, rank `rank`'s share
 * of `ranks` (contiguous, in rank order, the counts differing by at most
 * one; `block` 0: the default reads), with every family's name: (*out)->fam_off holds the whole array's
 * rows, family f of the share at row0 + f.  Messages name the array's
 * rows. */
fitcl_status fitcl__pamatrix_read_npy_share(const char *path, const fitcl_pamatrix_options *opt,
                                            size_t block, int rank, int ranks, size_t *row0,
                                            fitcl_pamatrix **out, char *err, size_t errlen);

/* The writer in two steps, as the Rtab one (io/pamatrix.h): a check that
 * every name can be stored one per line (FITCL_ERR_DATA naming path), then
 * the array into an open output (FITCL_ERR_NOMEM; write errors are the
 * output's), and the taxon or family names, one per line, into another. */
fitcl_status fitcl__pamatrix_npy_check(const fitcl_pamatrix *m, const char *path, char *err,
                                       size_t errlen);
fitcl_status fitcl__pamatrix_npy_write(const fitcl_pamatrix *m, fitcl__outfile *o);
void fitcl__pamatrix_names_write(const fitcl_pamatrix *m, int families, fitcl__outfile *o);

#endif
