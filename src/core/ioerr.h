/* Error messages of the input readers, which run without a context: one
 * line written into a caller-provided buffer.  Internal. */
#ifndef FITCL_CORE_IOERR_H
#define FITCL_CORE_IOERR_H

#include <stddef.h>
#include <stdio.h>
#include "fitcl.h"

/* Formats into err (when err != NULL and errlen > 0) and returns status. */
fitcl_status fitcl__ioerr(char *err, size_t errlen, fitcl_status status, const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));

/* Line and column (both from 1, column in bytes) of byte offset `off`. */
void fitcl__linecol(const char *text, size_t off, int *line, int *col);

/* Appends `s` to dst[0..cap) at *len, escaping control characters and
 * truncating with "..." so a quoted name in a message stays one short
 * line. */
void fitcl__ioerr_name(char *dst, size_t cap, const char *s, size_t slen);

/* Opens an input file for reading.  FITCL_ERR_FILE ("PATH: cannot open:
 * ..." or "PATH: is a directory") for what the user must fix: a directory
 * opens fine and only fails at the first read, which would otherwise read
 * as an I/O failure. */
fitcl_status fitcl__open_input(const char *path, FILE **out, char *err, size_t errlen);

/* Reads a whole text file into a NUL-terminated malloc'ed buffer, at most
 * max_bytes of it (FITCL_ERR_SIZE naming the limit and `what`, e.g. "a
 * Newick tree"); a NUL byte makes it not text (FITCL_ERR_PARSE), so
 * /dev/zero or a binary file fails at once instead of filling memory.  A
 * UTF-8 byte-order mark at the start is dropped. */
fitcl_status fitcl__read_file(const char *path, size_t max_bytes, const char *what, char **text,
                              size_t *len, char *err, size_t errlen);

/* Reads one line of at most max bytes (without its '\n') into *buf
 * (grown as needed).  Returns the length, -1 at the end of the file, -2 on
 * a read error (errno set), -3 when the line is longer than max (the rest
 * of it is not read). */
long fitcl__read_line(FILE *f, char **buf, size_t *cap, size_t max);

#endif
