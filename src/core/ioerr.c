/* Shared helpers of the input readers: messages and whole-file reads. */
#include "core/ioerr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

fitcl_status fitcl__ioerr(char *err, size_t errlen, fitcl_status status, const char *fmt, ...) {
  if (err && errlen > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return status;
}

void fitcl__linecol(const char *text, size_t off, int *line, int *col) {
  int l = 1;
  size_t start = 0;
  for (size_t i = 0; i < off; ++i)
    if (text[i] == '\n') {
      l++;
      start = i + 1;
    }
  *line = l;
  *col = (int)(off - start) + 1;
}

void fitcl__ioerr_name(char *dst, size_t cap, const char *s, size_t slen) {
  /* At most 60 bytes of the name, so a message never explodes on a
   * pathological label; control bytes become '?'. */
  size_t n = 0, limit = cap > 0 ? cap - 1 : 0;
  if (limit > 64) limit = 64;
  size_t i = 0;
  for (; i < slen && n + 1 < limit && i < 60; ++i) {
    unsigned char c = (unsigned char)s[i];
    dst[n++] = (c < 32 || c == 127) ? '?' : (char)c;
  }
  if (i < slen && n + 4 <= limit) {
    memcpy(dst + n, "...", 3);
    n += 3;
  }
  if (cap > 0) dst[n] = '\0';
}

fitcl_status fitcl__read_file(const char *path, char **text, size_t *len, char *err,
                              size_t errlen) {
  *text = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    return fitcl__ioerr(err, errlen, FITCL_ERR_FILE, "%s: cannot open: %s", path, strerror(errno));
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  if (!buf) goto nomem;
  for (;;) {
    if (cap - n < 2) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) goto nomem;
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0) break;
  }
  if (ferror(f)) {
    int e = errno;
    free(buf);
    fclose(f);
    return fitcl__ioerr(err, errlen, FITCL_ERR_IO, "%s: read error: %s", path, strerror(e));
  }
  fclose(f);
  buf[n] = '\0';
  *text = buf;
  *len = n;
  return FITCL_OK;
nomem:
  free(buf);
  fclose(f);
  return fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "%s: out of memory reading the file", path);
}
