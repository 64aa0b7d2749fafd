/* Delimited text: the record reader and the out-of-line parts of the
 * field splitter (io/delim.h). */
#include "io/delim.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ioerr.h"

fitcl_status fitcl__delim_open_file(fitcl__delim *r, FILE *f, size_t window, const char *name,
                                    char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  r->f = f;
  r->name = name;
  r->err = err;
  r->errlen = errlen;
  r->line = 1;
  r->cap = window < 16 ? 16 : window;
  r->buf = malloc(r->cap + 1);
  if (!r->buf) return fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "%s: out of memory", name);
  r->data = r->buf;
  r->quote = SIZE_MAX;
  off_t at = ftello(f);
  r->base = at > 0 ? at : 0;
  r->at_start = r->base == 0;
  return FITCL_OK;
}

void fitcl__delim_open_mem(fitcl__delim *r, const char *text, size_t len, const char *name,
                           char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  r->data = text;
  r->len = len;
  r->eof = 1;
  r->quote = SIZE_MAX;
  r->at_start = 1;
  r->name = name;
  r->err = err;
  r->errlen = errlen;
  r->line = 1;
}

void fitcl__delim_close(fitcl__delim *r) {
  free(r->buf);
  r->buf = NULL;
  r->data = NULL;
}

/* ------------------------------------------------------------------------- */
/* Messages                                                                  */

fitcl_status fitcl__delim_fail(const fitcl__delim *r, long line, int col, fitcl_status st,
                               const char *fmt, ...) {
  if (!r->err || r->errlen == 0) return st;
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(r->err, r->errlen, "%s:%ld:%d: %s", r->name, line, col, msg);
  return st;
}

void fitcl__delim_pos(const fitcl__delim_record *rec, size_t off, long *line, int *col) {
  if (!rec->multiline) {
    *line = rec->line;
    *col = (int)(off > INT_MAX - 1 ? INT_MAX - 1 : off) + 1;
    return;
  }
  int l, c;
  fitcl__linecol(rec->s, off, &l, &c);
  *line = rec->line + l - 1;
  *col = c;
}

fitcl_status fitcl__delim_fail_at(const fitcl__delim *r, const fitcl__delim_record *rec,
                                  size_t off, fitcl_status st, const char *fmt, ...) {
  char msg[640];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  long line;
  int col;
  fitcl__delim_pos(rec, off, &line, &col);
  return fitcl__delim_fail(r, line, col, st, "%s", msg);
}

/* ------------------------------------------------------------------------- */
/* Records                                                                   */

/* Finds the '\n' ending the record that starts at r->data[start], honouring
 * quoted fields.  Returns its index, or SIZE_MAX when the window ends first
 * (then *open_quote tells whether a quoted field was still open, at *qpos).
 * *nl_inside counts the newlines inside quoted fields. */
static size_t find_end(fitcl__delim *r, size_t start, int *open_quote, size_t *qpos,
                       long *nl_inside) {
  const char *d = r->data;
  const size_t len = r->len;
  *open_quote = 0;
  *nl_inside = 0;
  const char *nl = memchr(d + start, '\n', len - start);
  size_t lim = nl ? (size_t)(nl - d) : len;
  /* Most records hold no quote: the line end is the record end. */
  if (r->quote == SIZE_MAX || r->quote < start) {
    const char *q = memchr(d + start, '"', len - start);
    r->quote = q ? (size_t)(q - d) : len;
  }
  if (r->quote >= lim) return nl ? lim : SIZE_MAX;
  const char delim = r->delim;
  const int spaced = r->spaced_quotes;
  int at_field_start = 1, inq = 0;
  for (size_t i = start; i < len; ++i) {
    char c = d[i];
    if (inq) {
      if (c == '"') {
        if (i + 1 < len && d[i + 1] == '"') {
          i++;
        } else if (i + 1 >= len && !r->eof) {
          /* Cannot tell "" from a closing quote yet. */
          *open_quote = 1;
          return SIZE_MAX;
        } else {
          inq = 0;
        }
      } else if (c == '\n') {
        (*nl_inside)++;
      }
      continue;
    }
    if (c == '\n') return i;
    if (at_field_start && c == '"') {
      inq = 1;
      *qpos = i;
      at_field_start = 0;
    } else if (c == delim || (!delim && (c == ',' || c == '\t'))) {
      at_field_start = 1;
    } else if (!(spaced && fitcl__delim_blank(c))) {
      at_field_start = 0;
    }
  }
  *open_quote = inq;
  return SIZE_MAX;
}

/* Keeps the unread text and reads more after it, doubling the window when
 * the unread text fills it. */
static fitcl_status refill(fitcl__delim *r) {
  if (r->pos > 0) {
    memmove(r->buf, r->buf + r->pos, r->len - r->pos);
    r->base += (off_t)r->pos;
    r->len -= r->pos;
    r->pos = 0;
  }
  if (r->len == r->cap) {
    size_t limit = r->max_record ? r->max_record : FITCL__DELIM_MAX_RECORD;
    if (r->cap >= limit)
      return fitcl__delim_fail(r, r->line, 1, FITCL_ERR_SIZE,
                               "a line longer than %zu %s, the limit for one record of this "
                               "table (is it a text table?)",
                               limit >= (1u << 20) ? limit >> 20 : limit,
                               limit >= (1u << 20) ? "MiB" : "bytes");
    size_t nc = r->cap * 2 > limit ? limit : r->cap * 2;
    char *nb = realloc(r->buf, nc + 1);
    if (!nb)
      return fitcl__delim_fail(r, r->line, 1, FITCL_ERR_NOMEM,
                               "out of memory: a record longer than %zu bytes", r->cap);
    r->buf = nb;
    r->cap = nc;
  }
  size_t want = r->cap - r->len;
  if (r->limit > 0) {
    const off_t left = r->limit - (r->base + (off_t)r->len);
    if (left < (off_t)want) want = left > 0 ? (size_t)left : 0;
  }
  size_t got = want ? fread(r->buf + r->len, 1, want, r->f) : 0;
  if (got == 0) {
    if (ferror(r->f))
      return fitcl__delim_fail(r, r->line, 1, FITCL_ERR_IO, "read error: %s", strerror(errno));
    r->eof = 1;
  }
  r->len += got;
  r->data = r->buf;
  r->quote = SIZE_MAX;
  return FITCL_OK;
}

/* Skips a comment line at r->pos: its first non-blank character is '#'.
 * Quotes in it mean nothing. */
static fitcl_status skip_comment(fitcl__delim *r, int *skipped) {
  *skipped = 0;
  for (;;) {
    size_t k = r->pos;
    while (k < r->len && fitcl__delim_blank(r->data[k])) ++k;
    if (k == r->len && !r->eof) {
      fitcl_status st = refill(r);
      if (st) return st;
      continue;
    }
    if (k >= r->len || r->data[k] != '#') return FITCL_OK;
    const char *nl = memchr(r->data + k, '\n', r->len - k);
    if (!nl && !r->eof) {
      fitcl_status st = refill(r);
      if (st) return st;
      continue;
    }
    r->pos = nl ? (size_t)(nl - r->data) + 1 : r->len;
    r->line++;
    *skipped = 1;
    return FITCL_OK;
  }
}

/* Skips a UTF-8 byte-order mark at the start of the input: it is not part
 * of the first name. */
static fitcl_status skip_bom(fitcl__delim *r) {
  r->at_start = 0;
  while (r->len - r->pos < 3 && !r->eof) {
    fitcl_status st = refill(r);
    if (st) return st;
  }
  if (r->len - r->pos >= 3 && memcmp(r->data + r->pos, "\xEF\xBB\xBF", 3) == 0) r->pos += 3;
  return FITCL_OK;
}

/* The next record, blank or not. */
static fitcl_status next_record(fitcl__delim *r, fitcl__delim_record *rec, int *got) {
  *got = 0;
  if (r->at_start) {
    fitcl_status st = skip_bom(r);
    if (st) return st;
  }
  for (;;) {
    /* Only a line that starts with a blank or '#' can be a comment. */
    if (r->comments && (r->pos >= r->len || r->data[r->pos] == '#' ||
                        fitcl__delim_blank(r->data[r->pos]))) {
      int skipped;
      fitcl_status st = skip_comment(r, &skipped);
      if (st) return st;
      if (skipped) continue;
    }
    int open_quote;
    size_t qpos = 0;
    long inside;
    size_t end = find_end(r, r->pos, &open_quote, &qpos, &inside);
    if (end == SIZE_MAX && !r->eof) {
      fitcl_status st = refill(r);
      if (st) return st;
      continue;
    }
    if (end == SIZE_MAX) {
      if (r->pos >= r->len) return FITCL_OK;
      if (open_quote) {
        fitcl__delim_record tmp = {r->data + r->pos, r->len - r->pos, r->line, 1};
        return fitcl__delim_fail_at(r, &tmp, qpos - r->pos, FITCL_ERR_PARSE,
                                    "unterminated quoted field: '\"' without a closing '\"'");
      }
      end = r->len;
    }
    rec->s = r->data + r->pos;
    rec->n = end - r->pos;
    rec->line = r->line;
    rec->multiline = inside > 0;
    if (rec->n > 0 && rec->s[rec->n - 1] == '\r') rec->n--;
    r->line += 1 + inside;
    r->pos = end < r->len ? end + 1 : end;
    *got = 1;
    return FITCL_OK;
  }
}

fitcl_status fitcl__delim_next(fitcl__delim *r, fitcl__delim_record *rec, int *got) {
  for (;;) {
    fitcl_status st = next_record(r, rec, got);
    if (st || !*got) return st;
    size_t k = 0;
    while (k < rec->n && fitcl__delim_blank(rec->s[k])) k++;
    if (k < rec->n) return FITCL_OK;
  }
}

char fitcl__delim_detect(fitcl__delim *r, const fitcl__delim_record *rec, char fallback) {
  const char *s = rec->s;
  const size_t n = rec->n;
  int inq = 0, at_field_start = 1, tab = 0, comma = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[i];
    if (inq) {
      if (c == '"') {
        if (i + 1 < n && s[i + 1] == '"') i++;
        else inq = 0;
      }
      continue;
    }
    if (at_field_start && c == '"') {
      inq = 1;
      at_field_start = 0;
    } else if (c == '\t' || c == ',') {
      tab |= c == '\t';
      comma |= c == ',';
      at_field_start = 1;
    } else if (!(r->spaced_quotes && fitcl__delim_blank(c))) {
      at_field_start = 0;
    }
  }
  r->delim = tab ? '\t' : comma ? ',' : fallback;
  return r->delim;
}

off_t fitcl__delim_tell(const fitcl__delim *r) { return r->base + (off_t)r->pos; }

fitcl_status fitcl__delim_seek(fitcl__delim *r, off_t off, long line) {
  if (!r->f) {
    r->pos = (size_t)off;
  } else {
    if (fseeko(r->f, off, SEEK_SET) != 0) return FITCL_ERR_IO;
    r->base = off;
    r->len = r->pos = 0;
    r->eof = 0;
    r->data = r->buf;
  }
  r->quote = SIZE_MAX;
  r->line = line;
  return FITCL_OK;
}

/* ------------------------------------------------------------------------- */
/* Fields                                                                    */

void fitcl__delim_unterminated(const fitcl__delim *r, const fitcl__delim_record *rec, size_t k,
                               fitcl_status *st) {
  *st = fitcl__delim_fail_at(r, rec, k, FITCL_ERR_PARSE,
                             "unterminated quoted field: '\"' without a closing '\"'");
}

void fitcl__delim_after_quote(const fitcl__delim *r, const fitcl__delim_record *rec, size_t j,
                              fitcl_status *st) {
  *st = fitcl__delim_fail_at(r, rec, j, FITCL_ERR_PARSE,
                             "unexpected text after a closing quote (expected '%s' or the end "
                             "of the line)",
                             r->delim == '\t' ? "\\t" : ",");
}

fitcl_status fitcl__delim_count_fields(const fitcl__delim *r, const fitcl__delim_record *rec,
                                       size_t *count) {
  size_t i = 0, c = 0;
  fitcl__delim_field f;
  fitcl_status st = FITCL_OK;
  for (;;) {
    int more = fitcl__delim_field_next(r, rec, &i, &f, &st);
    if (more < 0) return st;
    c++;
    if (!more) break;
  }
  *count = c;
  return FITCL_OK;
}

size_t fitcl__delim_unescape(const fitcl__delim_field *f, char *dst) {
  size_t k = 0;
  for (size_t i = 0; i < f->n; ++i) {
    dst[k++] = f->p[i];
    if (f->escapes && f->p[i] == '"' && i + 1 < f->n && f->p[i + 1] == '"') i++;
  }
  dst[k] = '\0';
  return k;
}
