/* Presence/absence matrix readers.  Internal; the storage is
 * phylo/pamatrix.h. */
#ifndef FITCL_IO_PAMATRIX_H
#define FITCL_IO_PAMATRIX_H

#include <stddef.h>
#include <stdint.h>
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

/* A tab-delimited text matrix read a share of its rows at a time, by the
 * ranks of a job (io/pamatrix_share.h): every rank reads the header, then
 * the rows in its byte range.  fitcl__pa_text_open reads the header of a
 * table whose families are rows (Rtab, TSV), or nothing for any other
 * kind (info->splittable 0: every rank then reads the whole file). */
typedef struct fitcl__pa_text fitcl__pa_text;
typedef struct fitcl__pa_text_info {
  int splittable;       /* a tab-delimited table of families in rows, in a regular file */
  int fd;
  uint64_t data_off;    /* where its first data row starts */
  uint64_t end;         /* the file's size */
  long first_line;      /* the line number of that row */
  size_t ncols, max_line;
} fitcl__pa_text_info;
typedef struct fitcl__pa_text_range_out {
  size_t nlines;        /* line ends in the range */
  int pending;          /* the fast reader declined: fitcl__pa_text_general reads the rows */
  int quoted;           /* (pending) the text holds a '"': a quoted field may span lines */
} fitcl__pa_text_range_out;

fitcl_status fitcl__pa_text_open(const char *path, const fitcl_pamatrix_options *opt,
                                 fitcl__pa_text **out, fitcl__pa_text_info *info, char *err,
                                 size_t errlen);
/* The rows in file bytes [a, e), both line starts (or the end): read by the
 * fast reader, or, when it declines, kept in memory for the general one. */
fitcl_status fitcl__pa_text_range(fitcl__pa_text *t, const fitcl__pa_text_info *info, uint64_t a,
                                  uint64_t e, fitcl__pa_text_range_out *out);
/* A pending range's rows, its first line numbered line0 in messages.  Row
 * names are not checked for repeats here (the ranks check them together). */
fitcl_status fitcl__pa_text_general(fitcl__pa_text *t, long line0);
/* The rows read (all taxa, this range's families) as a matrix. */
fitcl_status fitcl__pa_text_take(fitcl__pa_text *t, fitcl_pamatrix **out);
void fitcl__pa_text_close(fitcl__pa_text *t);

#endif
