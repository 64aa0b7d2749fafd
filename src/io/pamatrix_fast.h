/* The fast path of the presence/absence reader (io/pamatrix.c): data rows
 * of the simple Rtab form, read in parallel over row ranges.  Internal.
 *
 * A simple row is a name that does not start with a blank, '\r' or '"' and
 * holds no NUL, then exactly ncols cells of one character each, every one
 * after a tab: '0' absent, '1'..'9' present, '?' or '-' missing; then at
 * most one tab and one '\r' before the '\n' (or the end of the input).
 * Empty lines are skipped.  Anything else declines the whole read: the
 * general reader then reads the rows and reports whatever it finds, so
 * every message stays its own.
 *
 * Ranges start at line starts found by splitting the input at newlines;
 * each range writes its rows into one row-major buffer at a bound of the
 * rows before it (a row takes at least 2*ncols + 1 bytes), and the gaps are
 * closed afterwards.  Files are read with pread into a small buffer per
 * range, never mapped: a file that shrinks under the read declines instead
 * of faulting. */
#ifndef FITCL_IO_PAMATRIX_FAST_H
#define FITCL_IO_PAMATRIX_FAST_H

#include <stddef.h>
#include <stdint.h>

typedef struct fitcl__pa_fast {
  /* In: the text of the data rows, either in memory (mem, memlen) or in
   * the file fd from byte off to byte end. */
  const char *mem;
  size_t memlen;
  int fd;
  uint64_t off, end;
  size_t ncols;
  size_t max_rows;    /* more rows decline (the general reader's limit) */
  size_t max_line;    /* a longer line declines (file mode) */
  unsigned threads;   /* 0: one per online CPU */
  size_t chunk;       /* read buffer per range (file mode); 0: 1 MiB */
  /* Out, on success: nrows rows of (ncols + 3) / 4 bytes, and their names
   * (NUL-terminated, back to back in names, row r at name_off[r]). */
  size_t nrows;
  uint8_t *packed;
  char *names;
  size_t names_len;
  size_t *name_off;
  size_t nlines;      /* the line ends ('\n') read, empty lines included */
} fitcl__pa_fast;

/* 1 when every row was read, 0 when declined (nothing allocated). */
int fitcl__pa_fast_rows(fitcl__pa_fast *j);

/* Packs ncells cells "\tc\tc..." (the tab before each cell) into
 * (ncells + 3) / 4 bytes, four per byte, unused bits zero.  Returns -1 when
 * a cell is not of the simple form.  The vector version where the build
 * has one and the word-at-a-time version (any compiler) give the same
 * bytes; both are here for the tests. */
int fitcl__pa_pack(const char *s, size_t ncells, uint8_t *dst);
int fitcl__pa_pack_swar(const char *s, size_t ncells, uint8_t *dst);

/* Row-major rows (nrows x ncols cells, (ncols + 3) / 4 bytes each) into
 * column-major ones (ncols x nrows, (nrows + 3) / 4 bytes each), every byte
 * of out written.  Tiled, four by four cells at a time, over `threads`
 * threads (0: one per online CPU; one when threads cannot be started). */
void fitcl__pa_transpose(const uint8_t *in, size_t nrows, size_t ncols, uint8_t *out,
                         unsigned threads);

#endif
