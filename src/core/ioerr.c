/* Shared helpers of the input readers: messages and whole-file reads. */
#include "core/ioerr.h"

#include "core/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

fitcl_status fitcl__ioerr(char *err, size_t errlen, fitcl_status status, const char *fmt, ...) {
  if (err && errlen > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    /* Reader messages quote input text: one line, nothing a terminal obeys. */
    fitcl__escape_controls(err, errlen, 0);
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

fitcl_status fitcl__open_input(const char *path, FILE **out, char *err, size_t errlen) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f)
    return fitcl__ioerr(err, errlen, FITCL_ERR_FILE, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    fclose(f);
    return fitcl__ioerr(err, errlen, FITCL_ERR_FILE, "%s: is a directory; give a file", path);
  }
  *out = f;
  return FITCL_OK;
}

fitcl_status fitcl__read_file(const char *path, size_t max_bytes, const char *what, char **text,
                              size_t *len, char *err, size_t errlen) {
  *text = NULL;
  *len = 0;
  FILE *f;
  fitcl_status st = fitcl__open_input(path, &f, err, errlen);
  if (st != FITCL_OK) return st;
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  if (!buf) goto nomem;
  for (;;) {
    if (cap - n < 2) {
      if (cap > max_bytes) {
        st = fitcl__ioerr(err, errlen, FITCL_ERR_SIZE,
                          "%s: longer than %zu MiB, the limit for %s", path, max_bytes >> 20,
                          what);
        goto fail;
      }
      char *nb = realloc(buf, cap * 2);
      if (!nb) goto nomem;
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    const char *nul = got ? memchr(buf + n, '\0', got) : NULL;
    if (nul) {
      st = fitcl__ioerr(err, errlen, FITCL_ERR_PARSE,
                        "%s: holds a NUL byte at offset %zu; %s is text (is this a binary "
                        "file?)", path, (size_t)(nul - buf), what);
      goto fail;
    }
    n += got;
    if (n > max_bytes) {
      st = fitcl__ioerr(err, errlen, FITCL_ERR_SIZE, "%s: longer than %zu MiB, the limit for %s",
                        path, max_bytes >> 20, what);
      goto fail;
    }
    if (got == 0) break;
  }
  if (ferror(f)) {
    st = fitcl__ioerr(err, errlen, FITCL_ERR_IO, "%s: read error: %s", path, strerror(errno));
    goto fail;
  }
  fclose(f);
  buf[n] = '\0';
  if (n >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
    memmove(buf, buf + 3, n - 2);
    n -= 3;
  }
  *text = buf;
  *len = n;
  return FITCL_OK;
nomem:
  st = fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "%s: out of memory reading the file", path);
fail:
  free(buf);
  fclose(f);
  return st;
}

long fitcl__read_line(FILE *f, char **buf, size_t *cap, size_t max) {
  size_t n = 0;
  for (;;) {
    int c = getc(f);
    if (c == EOF) {
      if (ferror(f)) return -2;
      if (n == 0) return -1;
      break;
    }
    if (c == '\n') break;
    if (n >= max) return -3;
    if (n + 2 > *cap) {
      size_t nc = *cap ? *cap * 2 : 256;
      char *nb = realloc(*buf, nc);
      if (!nb) {
        errno = ENOMEM;
        return -2;
      }
      *buf = nb;
      *cap = nc;
    }
    (*buf)[n++] = (char)c;
  }
  if (n + 1 > *cap) {
    char *nb = realloc(*buf, n + 1);
    if (!nb) {
      errno = ENOMEM;
      return -2;
    }
    *buf = nb;
    *cap = n + 1;
  }
  (*buf)[n] = '\0';
  return (long)n;
}
