/* The CSV/TSV reader's state, shared by io/source_csv.c (one process) and
 * io/source_csv_ranks.c (a file shared out over ranks).  Internal. */
#ifndef FITCL_IO_SOURCE_CSV_H
#define FITCL_IO_SOURCE_CSV_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "io/delim.h"
#include "io/source_readers.h"

typedef struct fitcl__csv {
  FILE *f;
  fitcl__delim r;
  char err[1024];                 /* the tokenizer's messages */
  size_t nfields;
  size_t idx[FITCL__SRC_MAXCOLS]; /* field index of each wanted column */
  /* The same, from the field's side: the first wanted column each header
   * field gives (-1: none), then the next one from the same field. */
  int *first;
  int next[FITCL__SRC_MAXCOLS];
  off_t data_start;               /* where the first data row starts */
  long data_line;
  /* Parsed-value cache: 0 filling during the first pass, 1 complete,
   * -1 over budget (text is parsed on every pass). */
  int cache_state;
  size_t cache_budget;            /* points */
  double *cache[FITCL__SRC_MAXCOLS];
  size_t cached, cache_cap, pos;
  off_t size;                     /* of the file at open (0: not a regular file) */
  /* Over ranks (fitcl__csv_share): this rank's bytes start at own_off, on line
   * own_line, with data row own_row; it reads rows [win_lo, win_hi), which
   * start at win_off on line win_line once found (win_known).  at_row: the
   * row the reader is at (UINT64_MAX: to be sought). */
  int ranked, win_known, end_known, pre_known;
  off_t own_off, win_off, end_off, pre_off;
  long own_line, win_line, end_line, pre_line;
  uint64_t own_row, win_lo, win_hi, at_row;
  /* The copy holds rows [own_row, own_row + cached): the rows of this
   * rank's bytes parsed while they were counted (up to the first bad
   * value: pre_row, at pre_off, is the first row not parsed then), then the
   * rest of the window as the first pass reads it. */
  uint64_t pre_row;
} fitcl__csv;

/* io/source_csv_rows.c: a field's text without the spaces around it. */
void fitcl__csv_trim(const char **p, size_t *n);
/* Frees the parsed copy. */
void fitcl__csv_cache_drop(fitcl__csv *c);
/* Appends n rows of ncols columns to the copy; -1 over its budget or out
 * of memory (the copy is then as it was). */
int fitcl__csv_cache_append(fitcl__csv *c, int ncols, double **vals, size_t n);
/* One data row into row[0..ncols), validated (the error names
 * file:line:column). */
fitcl_status fitcl__csv_read_row(fitcl_source *src, const fitcl__delim_record *rec, double *row);

/* io/source_csv_ranks.c: fitcl__source_ops.share, and read() once shared. */
fitcl_status fitcl__csv_share(fitcl_source *src, fitcl__ranks *r);
fitcl_status fitcl__csv_read_ranked(fitcl_source *src, const double **cols, size_t *n);

#endif
