/* Delimited text (CSV, TSV), the one tokenizer of every table reader:
 * presence/absence matrices (io/pamatrix.c) and curve-fit data
 * (io/source_csv.c).  Internal.
 *
 * Records and fields follow RFC 4180: a field that starts with '"' is
 * quoted, "" inside it is one quote, and it may hold delimiters and
 * newlines (one record then spans several lines).  Lines end in LF or CRLF.
 * A UTF-8 byte-order mark at the start is skipped.  Positions for messages
 * are 1-based line:column (column in bytes), counted through quoted
 * newlines.
 *
 * The input is a file streamed through a window (one record at a time must
 * fit; the window doubles for a longer one) or a string in memory.  Records
 * point into the window and stay valid until the next call that reads.  In
 * file mode the window is the reader's own memory with one spare byte after
 * the data: a caller may put a '\0' right after a field (and restore the
 * byte) to hand the field to strtod without copying it. */
#ifndef FITCL_IO_DELIM_H
#define FITCL_IO_DELIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "fitcl.h"

/* Default bound of one record: 256 MiB holds a row of a hundred million
 * presence/absence cells, far beyond any table fitcl reads. */
#define FITCL__DELIM_MAX_RECORD ((size_t)256 << 20)

typedef struct fitcl__delim {
  FILE *f;            /* NULL when reading from memory */
  char *buf;          /* the window (file mode), owned */
  const char *data;   /* window start */
  size_t cap, len, pos;
  /* Where the next '"' at or after pos is (len: none in the window), or
   * SIZE_MAX when unknown: one scan finds it for all the lines before it. */
  size_t quote;
  off_t base;         /* file offset of data[0] (file mode) */
  int eof;
  int at_start;       /* nothing read yet: a UTF-8 byte-order mark is skipped */
  long line;          /* line number of data[pos] */
  /* ',' or '\t'.  0 while unknown: then both open a field for quoting, so
   * the header can be read before fitcl__delim_detect picks one. */
  char delim;
  /* Records whose first non-blank character is '#' are skipped. */
  int comments;
  /* Spaces and tabs may surround a quoted field (' "1.5" '), as numeric
   * tables written by hand have them.  Off, a quote opens a field only as
   * its first character (names are kept verbatim). */
  int spaced_quotes;
  /* The longest record (file mode), in bytes: the window never grows past
   * it, so a file without newlines (or /dev/zero) fails with the limit
   * named instead of being read whole.  0: FITCL__DELIM_MAX_RECORD. */
  size_t max_record;
  const char *name;   /* the file, in messages */
  char *err;          /* message buffer, may be NULL */
  size_t errlen;
  /* File mode: when > 0, the input ends at this offset (a share of a file
   * read by one of several processes). */
  off_t limit;
} fitcl__delim;

typedef struct fitcl__delim_record {
  const char *s;      /* the text, without the line end */
  size_t n;
  long line;          /* its first line */
  int multiline;      /* holds quoted newlines */
} fitcl__delim_record;

typedef struct fitcl__delim_field {
  const char *p;      /* the content (inside the quotes when quoted) */
  size_t n;
  size_t off;         /* where the field starts in the record */
  int quoted;
  int escapes;        /* quoted and holds "" (see fitcl__delim_unescape) */
} fitcl__delim_field;

/* Streams f through a window of `window` bytes at first.  Messages go to
 * err as "name:line:column: what".  Fails only when out of memory. */
fitcl_status fitcl__delim_open_file(fitcl__delim *r, FILE *f, size_t window, const char *name,
                                    char *err, size_t errlen);
/* Reads text[0..len) (not copied; it must outlive the reader). */
void fitcl__delim_open_mem(fitcl__delim *r, const char *text, size_t len, const char *name,
                           char *err, size_t errlen);
/* Frees the window (the FILE is the caller's). */
void fitcl__delim_close(fitcl__delim *r);

/* The next record that is not blank (nor, with r->comments, a comment).
 * *got is 0 at the end of the input.  A trailing '\r' is dropped. */
fitcl_status fitcl__delim_next(fitcl__delim *r, fitcl__delim_record *rec, int *got);

/* The delimiter of a table whose header is rec: a tab when the header holds
 * one outside quoted fields, else a comma when it holds one, else fallback
 * (a single column).  Sets r->delim and returns it. */
char fitcl__delim_detect(fitcl__delim *r, const fitcl__delim_record *rec, char fallback);

/* File offset of the next record, and going back to one (file mode), with
 * `line` its line number: a pass over the data rows starts again there. */
off_t fitcl__delim_tell(const fitcl__delim *r);
fitcl_status fitcl__delim_seek(fitcl__delim *r, off_t off, long line);

/* Counts the fields of a record. */
fitcl_status fitcl__delim_count_fields(const fitcl__delim *r, const fitcl__delim_record *rec,
                                       size_t *count);
/* Copies a field's content to dst (n + 1 bytes), "" as one quote, and
 * NUL-terminates it; returns its length. */
size_t fitcl__delim_unescape(const fitcl__delim_field *f, char *dst);

/* Line and column of byte `off` of a record. */
void fitcl__delim_pos(const fitcl__delim_record *rec, size_t off, long *line, int *col);
/* Writes "name:line:col: what" to r->err and returns st. */
fitcl_status fitcl__delim_fail(const fitcl__delim *r, long line, int col, fitcl_status st,
                               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The same at byte `off` of a record. */
fitcl_status fitcl__delim_fail_at(const fitcl__delim *r, const fitcl__delim_record *rec,
                                  size_t off, fitcl_status st, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The messages of the splitter below (out of line: the rare path).  k is
 * where the quoted field opens, j where the text after it starts. */
void fitcl__delim_unterminated(const fitcl__delim *r, const fitcl__delim_record *rec, size_t k,
                               fitcl_status *st);
void fitcl__delim_after_quote(const fitcl__delim *r, const fitcl__delim_record *rec, size_t j,
                              fitcl_status *st);

static inline int fitcl__delim_blank(char c) { return c == ' ' || c == '\t'; }

/* Reads the field that starts at rec->s[*i] (r->delim must be known) and
 * moves *i past its delimiter.  Returns 1 when a delimiter followed (more
 * fields), 0 at the end of the record, -1 after a syntax error (*st set,
 * message written).  Inline: every cell of every table goes through it. */
static inline int fitcl__delim_field_next(const fitcl__delim *r, const fitcl__delim_record *rec,
                                          size_t *i, fitcl__delim_field *f, fitcl_status *st) {
  const char *s = rec->s;
  const char delim = r->delim;
  const size_t n = rec->n, start = *i;
  size_t k = start;
  if (r->spaced_quotes)
    while (k < n && s[k] != delim && fitcl__delim_blank(s[k])) ++k;
  f->off = start;
  f->escapes = 0;
  if (k >= n || s[k] != '"') {
    const char *d = memchr(s + start, delim, n - start);
    size_t e = d ? (size_t)(d - s) : n;
    f->p = s + start;
    f->n = e - start;
    f->quoted = 0;
    *i = e + 1;
    return d != NULL;
  }
  /* Quoted: up to the quote that is not doubled. */
  size_t j = k + 1;
  for (;; ++j) {
    if (j >= n) {
      fitcl__delim_unterminated(r, rec, k, st);
      return -1;
    }
    if (s[j] != '"') continue;
    if (j + 1 < n && s[j + 1] == '"') {
      f->escapes = 1;
      ++j;
      continue;
    }
    break;
  }
  f->p = s + k + 1;
  f->n = j - k - 1;
  f->quoted = 1;
  ++j;
  if (r->spaced_quotes)
    while (j < n && s[j] != delim && fitcl__delim_blank(s[j])) ++j;
  if (j < n && s[j] != delim) {
    fitcl__delim_after_quote(r, rec, j, st);
    return -1;
  }
  *i = j + 1;
  return j < n;
}

#endif
