/* Error messages of the input readers, which run without a context: one
 * line written into a caller-provided buffer.  Internal. */
#ifndef FITCL_CORE_IOERR_H
#define FITCL_CORE_IOERR_H

#include <stddef.h>
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

/* Reads a whole file into a NUL-terminated malloc'ed buffer. */
fitcl_status fitcl__read_file(const char *path, char **text, size_t *len, char *err,
                              size_t errlen);

#endif
