/* Presence/absence matrix readers.  Internal; the storage is
 * phylo/pamatrix.h. */
#ifndef FITCL_IO_PAMATRIX_H
#define FITCL_IO_PAMATRIX_H

#include <stddef.h>
#include <stdio.h>
#include "core/outfile.h"
#include "fitcl.h"
#include "phylo/pamatrix.h"

/* Reads from an open stream through a read window of `window` bytes at
 * first (it grows for longer records).  The public reader uses 1 MiB; the
 * fuzz harness uses tiny windows to exercise every refill path. */
fitcl_status fitcl__pamatrix_read_stream(FILE *f, const char *name,
                                         const fitcl_pamatrix_options *opt, size_t window,
                                         fitcl_pamatrix **out, char *err, size_t errlen);

/* How rows are read: tests and benchmarks run the fast reader of simple
 * Rtab rows (io/pamatrix_fast.h) against the general one. */
typedef struct fitcl__pamatrix_cfg {
  int general_only;   /* never the fast reader */
  unsigned threads;   /* the fast reader's threads; 0: one per online CPU */
  size_t chunk;       /* its read buffer per thread; 0: 1 MiB */
  int used_fast;      /* out: 1 when the fast reader read the data rows */
} fitcl__pamatrix_cfg;

/* fitcl_pamatrix_read and fitcl_pamatrix_parse with a cfg (may be NULL). */
fitcl_status fitcl__pamatrix_read_cfg(const char *path, const fitcl_pamatrix_options *opt,
                                      fitcl__pamatrix_cfg *cfg, fitcl_pamatrix **out, char *err,
                                      size_t errlen);
fitcl_status fitcl__pamatrix_parse_cfg(const char *text, size_t len, const char *name,
                                       const fitcl_pamatrix_options *opt,
                                       fitcl__pamatrix_cfg *cfg, fitcl_pamatrix **out, char *err,
                                       size_t errlen);

/* The Rtab writer in two steps, so a command can write the matrix next to
 * other outputs and commit them together: a check that every name can be
 * stored (FITCL_ERR_DATA naming path otherwise), then the text into an open
 * output (FITCL_ERR_NOMEM; write errors are the output's). */
fitcl_status fitcl__pamatrix_rtab_check(const fitcl_pamatrix *m, const char *path, char *err,
                                        size_t errlen);
fitcl_status fitcl__pamatrix_rtab_write(const fitcl_pamatrix *m, fitcl__outfile *o);

#endif
