/* CSV/TSV data, streamed through the project's CSV/TSV tokenizer
 * (io/delim.h), so any size works: RFC 4180 quotes (a quoted header name,
 * a quoted number, a delimiter inside quotes), CRLF, '#' comment lines and
 * blank lines.  Values are validated while they are parsed (the error
 * names file:line:column).  When the parsed columns of the whole file fit
 * in a small budget they are kept after the first pass, so the solver's
 * later passes do not parse the text again.
 *
 * Over several ranks (csv_share) each rank reads a share of the bytes,
 * cut at line starts, and only the rows of the chunks that begin in it
 * (see docs/mpi.md). */
#include <stdint.h>
#include <unistd.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/context.h"
#include "core/ioerr.h"
#include "core/util.h"
#include "io/delim.h"
#include "io/source_readers.h"

/* A data row holds at most 18 numbers; 16 MiB leaves room for wide
 * exports whose unused columns are skipped, and bounds what a file without
 * newlines can make the reader hold. */
#define CSV_MAX_RECORD ((size_t)16 << 20)

typedef struct csv {
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
  /* Over ranks (csv_share): this rank's bytes start at own_off, on line
   * own_line, with data row own_row; it reads rows [win_lo, win_hi), which
   * start at win_off on line win_line once found (win_known).  at_row: the
   * row the reader is at (UINT64_MAX: to be sought).  The copy above holds
   * the rows from win_lo. */
  int ranked, win_known, end_known, pre_known;
  off_t own_off, win_off, end_off, pre_off;
  long own_line, win_line, end_line, pre_line;
  uint64_t own_row, win_lo, win_hi, at_row;
  /* The copy holds rows [own_row, own_row + cached): the rows of this
   * rank's bytes parsed while they were counted (up to the first bad
   * value: pre_row, at pre_off, is the first row not parsed then), then the
   * rest of the window as the first pass reads it. */
  uint64_t pre_row;
} csv;

/* A field's text without the spaces around it. */
static void trim(const char **p, size_t *n) {
  while (*n > 0 && fitcl__delim_blank(**p)) {
    ++*p;
    --*n;
  }
  while (*n > 0 && fitcl__delim_blank((*p)[*n - 1])) --*n;
}

static void cache_drop(csv *c) {
  for (int k = 0; k < FITCL__SRC_MAXCOLS; ++k) FITCL_FREE(c->cache[k]);
  c->cached = c->cache_cap = 0;
}

static int cache_append(csv *c, int ncols, double **vals, size_t n) {
  if (c->cached + n > c->cache_budget) return -1;
  if (c->cached + n > c->cache_cap) {
    size_t cap = c->cache_cap ? c->cache_cap * 2 : 65536;
    while (cap < c->cached + n) cap *= 2;
    if (cap > c->cache_budget) cap = c->cache_budget;
    for (int k = 0; k < ncols; ++k) {
      double *p = realloc(c->cache[k], cap * sizeof(double));
      if (!p) return -1;
      c->cache[k] = p;
    }
    c->cache_cap = cap;
  }
  for (int k = 0; k < ncols; ++k) memcpy(c->cache[k] + c->cached, vals[k], n * sizeof(double));
  c->cached += n;
  return 0;
}

static fitcl_status csv_rewind(fitcl_source *src) {
  csv *c = src->impl;
  c->pos = 0;
  c->at_row = UINT64_MAX;
  if (c->ranked) return FITCL_OK; /* reads seek (seek_row); the copy stays valid */
  if (c->cache_state == 1) return FITCL_OK;
  if (c->cache_state == 0) c->cached = 0;  /* an unfinished first pass fills it again */
  if (fitcl__delim_seek(&c->r, c->data_start, c->data_line) != FITCL_OK)
    return fitcl__fail(src->ctx, FITCL_ERR_IO, "%s: cannot seek: %s", src->path, strerror(errno));
  return FITCL_OK;
}

/* The number in field f of column k: finite, and > 0 for sigma. */
static fitcl_status parse_value(fitcl_source *src, const fitcl__delim_record *rec,
                                const fitcl__delim_field *f, int k, double *out) {
  const char *s = f->p;
  size_t n = f->n;
  trim(&s, &n);
  /* strtod reads a C string: the field is terminated in place, in the
   * reader's window (file mode, io/delim.h), and the byte put back. */
  char *after = (char *)s + n, saved = *after, *end;
  *after = '\0';
  double v = strtod(s, &end);
  *after = saved;
  int bad = n == 0 || end != after || !fitcl__decimal_syntax(s, n);
  if (!bad && isfinite(v) && !(src->has_sigma && k == src->ncols - 1 && !(v > 0))) {
    *out = v;
    return FITCL_OK;
  }
  long line;
  int col;
  fitcl__delim_pos(rec, f->off, &line, &col);
  if (bad)
    return fitcl__fail(src->ctx, FITCL_ERR_PARSE,
                       "%s:%ld:%d: column '%s': %s '%.*s'; every value must be a number",
                       src->path, line, col, src->colname[k],
                       n == 0 ? "empty value" : "not a number:", (int)n, s);
  int is_sigma = src->has_sigma && k == src->ncols - 1;
  return fitcl__fail(src->ctx, FITCL_ERR_DATA, "%s:%ld:%d: column '%s' is %s; %s", src->path, line,
                     col, src->colname[k], isnan(v) ? "NaN" : isinf(v) ? "infinite" : "not > 0",
                     is_sigma ? "every sigma must be finite and > 0"
                              : "remove or fix the row (every value must be finite)");
}

/* One data row into row[0..ncols). */
static fitcl_status read_row(fitcl_source *src, const fitcl__delim_record *rec, double *row) {
  csv *c = src->impl;
  fitcl__delim_field f;
  fitcl_status st = FITCL_OK;
  size_t i = 0, field = 0;
  int more;
  do {
    more = fitcl__delim_field_next(&c->r, rec, &i, &f, &st);
    if (more < 0) return fitcl__fail(src->ctx, st, "%s", c->err);
    int k = field < c->nfields ? c->first[field] : -1;
    if (k >= 0) {
      st = parse_value(src, rec, &f, k, &row[k]);
      if (st != FITCL_OK) return st;
      for (int j = c->next[k]; j >= 0; j = c->next[j]) row[j] = row[k];
    }
    ++field;
  } while (more);
  if (field != c->nfields)
    return fitcl__fail(src->ctx, FITCL_ERR_PARSE,
                       "%s:%ld: ragged row: %zu field%s, but the header has %zu; every row "
                       "needs one value per header column",
                       src->path, rec->line, field, field == 1 ? "" : "s", c->nfields);
  return FITCL_OK;
}

static fitcl_status csv_read_ranked(fitcl_source *src, const double **cols, size_t *n);

static fitcl_status csv_read(fitcl_source *src, const double **cols, size_t *n) {
  csv *c = src->impl;
  if (c->ranked) return csv_read_ranked(src, cols, n);
  if (c->cache_state == 1) {
    size_t cnt = c->cached - c->pos < src->chunk ? c->cached - c->pos : src->chunk;
    for (int k = 0; k < src->ncols; ++k) cols[k] = c->cache[k] + c->pos;
    c->pos += cnt;
    *n = cnt;
    return FITCL_OK;
  }
  double **out = src->buf[src->flip];
  size_t cnt = 0;
  while (cnt < src->chunk) {
    fitcl__delim_record rec;
    int got;
    fitcl_status st = fitcl__delim_next(&c->r, &rec, &got);
    if (st != FITCL_OK) return fitcl__fail(src->ctx, st, "%s", c->err);
    if (!got) break;
    double row[FITCL__SRC_MAXCOLS];
    st = read_row(src, &rec, row);
    if (st != FITCL_OK) return st;
    for (int k = 0; k < src->ncols; ++k) out[k][cnt] = row[k];
    ++cnt;
  }
  if (c->cache_state == 0) {
    if (cnt && cache_append(c, src->ncols, out, cnt) != 0) {
      cache_drop(c);
      c->cache_state = -1;
    } else if (!cnt) {
      c->cache_state = 1;  /* the pass completed: later passes read the cache */
    }
  }
  for (int k = 0; k < src->ncols; ++k) cols[k] = out[k];
  *n = cnt;
  return FITCL_OK;
}

static void csv_destroy(fitcl_source *src) {
  csv *c = src->impl;
  if (!c) return;
  fitcl__delim_close(&c->r);
  if (c->f) fclose(c->f);
  free(c->first);
  cache_drop(c);
  free(c);
  src->impl = NULL;
}

/* ------------------------------------------------------------------------- */
/* Over ranks                                                                */

/* The first line start at or after `at` in the data rows (the end of the
 * file when none): at itself when the byte before it ends a line. */
static fitcl_status line_start(fitcl_source *src, off_t at, off_t *out) {
  csv *c = src->impl;
  if (at <= c->data_start || at >= c->size) {
    *out = at <= c->data_start ? c->data_start : c->size;
    return FITCL_OK;
  }
  char buf[4096];
  for (off_t p = at - 1; p < c->size;) {
    ssize_t got = pread(fileno(c->f), buf, sizeof buf, p);
    if (got < 0)
      return fitcl__fail(src->ctx, FITCL_ERR_IO, "%s: read error: %s", src->path, strerror(errno));
    if (got == 0) return fitcl__source_changed(src, src->path);
    const char *nl = memchr(buf, '\n', (size_t)got);
    if (nl) {
      *out = p + (nl - buf) + 1;
      return FITCL_OK;
    }
    p += got;
  }
  *out = c->size;
  return FITCL_OK;
}

/* What each rank tells the others about its share of the bytes. */
enum { SH_OK, SH_ROWS, SH_LINES, SH_N };

/* This rank's share: its rows and lines, or ok = 0 when the share cannot
 * be read on its own (a quoted field runs over its end, a record too long,
 * not a regular file).  The rows are parsed into the copy as they are
 * counted, while it is kept at all and up to the first bad value (which the
 * rank that owns the row reports when its pass reads it, with the line
 * number only known after the exchange). */
static fitcl_status count_share(fitcl_source *src, off_t begin, off_t end, uint64_t out[SH_N]) {
  csv *c = src->impl;
  out[SH_OK] = 0;
  if (c->size <= 0) return FITCL_OK;
  if (fitcl__delim_seek(&c->r, begin, 0) != FITCL_OK)
    return fitcl__fail(src->ctx, FITCL_ERR_IO, "%s: cannot seek: %s", src->path, strerror(errno));
  c->r.limit = end;
  uint64_t rows = 0;
  size_t staged = 0;
  double **stage = src->buf[src->flip];
  int parsing = c->cache_state == 0;
  c->pre_off = begin;
  c->pre_line = 0;
  fitcl_status st = FITCL_OK;
  if (begin < end)
    for (;;) {
      fitcl__delim_record rec;
      int got;
      st = fitcl__delim_next(&c->r, &rec, &got);
      if (st != FITCL_OK || !got) break;
      ++rows;
      if (!parsing) continue;
      double v[FITCL__SRC_MAXCOLS];
      const int bad = read_row(src, &rec, v) != FITCL_OK;
      if (bad) {
        fitcl__clear_error(src->ctx);
        parsing = 0;
      } else {
        for (int k = 0; k < src->ncols; ++k) stage[k][staged] = v[k];
        ++staged;
        c->pre_off = fitcl__delim_tell(&c->r);
        c->pre_line = c->r.line;
      }
      if (staged && (bad || staged == src->chunk)) {
        if (cache_append(c, src->ncols, stage, staged) != 0) {
          /* Over the budget: the rows are parsed on every pass. */
          cache_drop(c);
          c->cache_state = -1;
          parsing = 0;
          c->pre_off = begin;
          c->pre_line = 0;
        }
        staged = 0;
      }
    }
  if (staged && cache_append(c, src->ncols, stage, staged) != 0) {
    cache_drop(c);
    c->cache_state = -1;
    c->pre_off = begin;
    c->pre_line = 0;
  }
  c->r.limit = 0;
  /* A syntax error here may only mean that a quoted field runs over the
   * end: the whole file is then read by every rank, as by one process,
   * which reports what is really wrong. */
  if (st == FITCL_ERR_PARSE || st == FITCL_ERR_SIZE) return FITCL_OK;
  if (st != FITCL_OK) return fitcl__fail(src->ctx, st, "%s", c->err);
  out[SH_OK] = 1;
  out[SH_ROWS] = rows;
  out[SH_LINES] = (uint64_t)c->r.line;
  return FITCL_OK;
}

/* Collective (fitcl__source_ops.share).  Rank r of N takes the bytes from
 * the first line start at or after r/N of the data rows to the next
 * rank's start, counts its rows and lines, and the ranks exchange the
 * counts: each then knows the global number of its first row and line.
 * Chunk k goes to the rank whose bytes hold its first row; that rank reads
 * the chunk's rows even where they run into the next rank's bytes.  When
 * a share cannot be counted on its own every rank reads the whole file
 * (chunk k to rank k mod N). */
static fitcl_status csv_share(fitcl_source *src, fitcl__ranks *r) {
  csv *c = src->impl;
  const uint64_t N = (uint64_t)r->size, k = (uint64_t)r->rank;
  uint64_t mine[SH_N] = {0}, *all = calloc((size_t)N * SH_N, sizeof *all);
  off_t begin = 0, end = 0;
  fitcl_status st = all ? FITCL_OK : fitcl__fail(src->ctx, FITCL_ERR_NOMEM, "out of memory");
  if (st == FITCL_OK && c->size > c->data_start) {
    const uint64_t len = (uint64_t)(c->size - c->data_start);
    st = line_start(src, c->data_start + (off_t)(len / N * k + len % N * k / N), &begin);
    if (st == FITCL_OK)
      st = line_start(src, c->data_start + (off_t)(len / N * (k + 1) + len % N * (k + 1) / N),
                      &end);
  }
  if (st == FITCL_OK) st = count_share(src, begin, end, mine);
  fitcl_status rs = r->gather(r, mine, sizeof mine, all, sizeof mine * (size_t)N, st != FITCL_OK);
  if (st == FITCL_OK && rs != FITCL_OK)
    st = fitcl__fail(src->ctx, rs, "%s: %s", src->path,
                     rs == FITCL_ERR_PEER ? "another rank of the job failed"
                                          : "the ranks could not exchange their shares of the file");
  /* Back to the first data row, where a pass over the whole file starts. */
  if (st == FITCL_OK && fitcl__delim_seek(&c->r, c->data_start, c->data_line) != FITCL_OK)
    st = fitcl__fail(src->ctx, FITCL_ERR_IO, "%s: cannot seek: %s", src->path, strerror(errno));
  int ok = st == FITCL_OK;
  uint64_t before = 0, lines = 0, total = 0;
  for (uint64_t q = 0; ok && q < N; ++q) {
    const uint64_t *a = all + q * SH_N;
    ok = a[SH_OK] == 1;
    if (q < k) {
      before += a[SH_ROWS];
      lines += a[SH_LINES];
    }
    total += a[SH_ROWS];
  }
  free(all);
  if (!ok) {
    cache_drop(c); /* a pass over the whole file fills it from the start */
    return st;
  }
  const uint64_t C = src->chunk;
  uint64_t lo = (before + C - 1) / C, hi = (before + mine[SH_ROWS] + C - 1) / C;
  if (k == N - 1) hi = (total + C - 1) / C;
  if (hi < lo) hi = lo;
  c->ranked = 1;
  c->own_off = begin;
  c->own_line = c->data_line + (long)lines;
  c->own_row = before;
  c->win_lo = lo * C < total ? lo * C : total;
  c->win_hi = hi * C < total ? hi * C : total;
  c->win_known = c->end_known = 0;
  c->pre_row = before + c->cached;
  c->pre_line += c->own_line;
  c->pre_known = 1;
  c->at_row = 0;
  src->points = total;
  src->seekable = 1; /* reads start at src->row */
  src->own_range = 1;
  src->own_lo = lo;
  src->own_hi = hi;
  return FITCL_OK;
}

/* Notes where the window starts and ends when the reader is there. */
static void note_marks(csv *c) {
  if (c->at_row == c->win_lo && !c->win_known) {
    c->win_off = fitcl__delim_tell(&c->r);
    c->win_line = c->r.line;
    c->win_known = 1;
  }
  if (c->at_row == c->win_hi && !c->end_known) {
    c->end_off = fitcl__delim_tell(&c->r);
    c->end_line = c->r.line;
    c->end_known = 1;
  }
}

/* Puts the reader at data row `row`, from the nearest place before it
 * whose row is known: the first row, this rank's bytes, its window's start
 * and end (noted when first reached), or where the reader is. */
static fitcl_status seek_row(fitcl_source *src, uint64_t row) {
  csv *c = src->impl;
  uint64_t from = 0;
  off_t off = c->data_start;
  long line = c->data_line;
  const struct { int known; uint64_t row; off_t off; long line; } mark[] = {
      {1, c->own_row, c->own_off, c->own_line},
      {c->win_known, c->win_lo, c->win_off, c->win_line},
      {c->end_known, c->win_hi, c->end_off, c->end_line},
      {c->pre_known, c->pre_row, c->pre_off, c->pre_line},
  };
  for (size_t i = 0; i < sizeof mark / sizeof *mark; ++i)
    if (mark[i].known && mark[i].row <= row && mark[i].row >= from) {
      from = mark[i].row;
      off = mark[i].off;
      line = mark[i].line;
    }
  if (c->at_row != UINT64_MAX && c->at_row <= row && c->at_row >= from) {
    from = c->at_row;
  } else if (fitcl__delim_seek(&c->r, off, line) != FITCL_OK) {
    return fitcl__fail(src->ctx, FITCL_ERR_IO, "%s: cannot seek: %s", src->path, strerror(errno));
  }
  for (uint64_t i = from; i < row; ++i) {
    fitcl__delim_record rec;
    int got;
    fitcl_status st = fitcl__delim_next(&c->r, &rec, &got);
    if (st != FITCL_OK) return fitcl__fail(src->ctx, st, "%s", c->err);
    if (!got) return fitcl__source_changed(src, src->path);
  }
  c->at_row = row;
  note_marks(c);
  return FITCL_OK;
}

/* read() over ranks: the first row (every rank's y0), this rank's window,
 * or any rows in order (rank 0's --residuals), from the copy where it holds
 * them. */
static fitcl_status csv_read_ranked(fitcl_source *src, const double **cols, size_t *n) {
  csv *c = src->impl;
  const uint64_t row = src->row;
  *n = 0;
  if (row >= src->points) return FITCL_OK;
  const uint64_t lim = row < c->win_lo ? c->win_lo : row < c->win_hi ? c->win_hi : src->points;
  const size_t want = lim - row < src->chunk ? (size_t)(lim - row) : src->chunk;
  const uint64_t c0 = c->own_row, c1 = c->own_row + c->cached;
  if (row >= c0 && row + want <= c1) {
    for (int k = 0; k < src->ncols; ++k) cols[k] = c->cache[k] + (row - c0);
    *n = want;
    return FITCL_OK;
  }
  double **out = src->buf[src->flip];
  size_t i = 0;
  if (row >= c0 && row < c1) {
    i = (size_t)(c1 - row);
    for (int k = 0; k < src->ncols; ++k) memcpy(out[k], c->cache[k] + (row - c0), i * sizeof(double));
  }
  const uint64_t from = row + i;
  if (c->at_row != from) {
    fitcl_status st = seek_row(src, from);
    if (st != FITCL_OK) return st;
  }
  for (size_t j = i; j < want; ++j) {
    fitcl__delim_record rec;
    int got;
    fitcl_status st = fitcl__delim_next(&c->r, &rec, &got);
    if (st != FITCL_OK) return fitcl__fail(src->ctx, st, "%s", c->err);
    if (!got) return fitcl__source_changed(src, src->path);
    double v[FITCL__SRC_MAXCOLS];
    st = read_row(src, &rec, v);
    if (st != FITCL_OK) return st;
    for (int k = 0; k < src->ncols; ++k) out[k][j] = v[k];
  }
  c->at_row = row + want;
  note_marks(c);
  /* The copy grows while the window is read in order past its end. */
  if (c->cache_state == 0 && from == c1 && from >= c->win_lo && from < c->win_hi) {
    double *tail[FITCL__SRC_MAXCOLS];
    for (int k = 0; k < src->ncols; ++k) tail[k] = out[k] + i;
    if (cache_append(c, src->ncols, tail, want - i) != 0) {
      cache_drop(c);
      c->cache_state = -1;
    }
  }
  for (int k = 0; k < src->ncols; ++k) cols[k] = out[k];
  *n = want;
  return FITCL_OK;
}

static const fitcl__source_ops csv_ops = {csv_rewind, csv_read, csv_destroy, csv_share};

/* Finds each wanted column in the header (names are trimmed; a quoted name
 * is taken as written, "" as a quote). */
static fitcl_status match_header(fitcl_source *src, const fitcl__delim_record *hdr) {
  csv *c = src->impl;
  fitcl__delim_field f;
  fitcl_status st = FITCL_OK;
  size_t i = 0;
  int more;
  for (int k = 0; k < src->ncols; ++k) c->idx[k] = (size_t)-1;
  do {
    more = fitcl__delim_field_next(&c->r, hdr, &i, &f, &st);
    if (more < 0) return fitcl__fail(src->ctx, st, "%s", c->err);
    const char *s = f.p;
    size_t n = f.n;
    char *name = NULL;
    if (f.escapes) {
      if (!(name = malloc(n + 1))) return fitcl__fail(src->ctx, FITCL_ERR_NOMEM, "out of memory");
      n = fitcl__delim_unescape(&f, name);
      s = name;
    } else if (!f.quoted) {
      trim(&s, &n);
    }
    for (int k = 0; k < src->ncols; ++k)
      if (c->idx[k] == (size_t)-1 && strlen(src->colname[k]) == n && !memcmp(src->colname[k], s, n))
        c->idx[k] = c->nfields;
    free(name);
    c->nfields++;
  } while (more);
  for (int k = 0; k < src->ncols; ++k)
    if (c->idx[k] == (size_t)-1)
      return fitcl__fail(src->ctx, FITCL_ERR_NAME,
                         "%s:%ld: no column '%s' in the header (%.*s); name one of its columns",
                         src->path, hdr->line, src->colname[k], (int)hdr->n, hdr->s);
  if (!(c->first = malloc(c->nfields * sizeof *c->first)))
    return fitcl__fail(src->ctx, FITCL_ERR_NOMEM, "out of memory");
  for (size_t j = 0; j < c->nfields; ++j) c->first[j] = -1;
  /* Columns in reverse, so each field's chain runs in column order. */
  for (int k = src->ncols - 1; k >= 0; --k) {
    c->next[k] = c->first[c->idx[k]];
    c->first[c->idx[k]] = k;
  }
  return FITCL_OK;
}

fitcl_status fitcl__source_open_csv(fitcl_source *src, const fitcl_source_options *opt,
                                    char delim) {
  fitcl_context *ctx = src->ctx;
  csv *c = calloc(1, sizeof *c);
  if (!c) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  src->impl = c;
  src->ops = &csv_ops;
  src->self_checked = 1;
  src->no_cache = 1; /* it keeps its own parsed copy (csv_cache_mb) */
  long mb = opt->csv_cache_mb == 0 ? 256 : opt->csv_cache_mb;
  c->cache_state = mb > 0 ? 0 : -1;
  c->cache_budget = mb > 0 ? (size_t)mb * 1048576 / (sizeof(double) * (size_t)src->ncols) : 0;
  fitcl_status st = fitcl__open_input(opt->path, &c->f, c->err, sizeof c->err);
  if (st != FITCL_OK) return fitcl__fail(ctx, st, "%s", c->err);
  struct stat sb;
  if (fstat(fileno(c->f), &sb) == 0 && S_ISREG(sb.st_mode)) {
    c->size = sb.st_size;
    st = fitcl__source_watch(src, opt->path, &sb);
    if (st != FITCL_OK) return st;
  }
  st = fitcl__delim_open_file(&c->r, c->f, (size_t)1 << 20, src->path, c->err, sizeof c->err);
  if (st != FITCL_OK) return fitcl__fail(ctx, st, "%s", c->err);
  c->r.max_record = CSV_MAX_RECORD;
  c->r.comments = 1;
  c->r.spaced_quotes = 1;
  c->r.delim = delim;
  fitcl__delim_record hdr;
  int got;
  st = fitcl__delim_next(&c->r, &hdr, &got);
  if (st != FITCL_OK) return fitcl__fail(ctx, st, "%s", c->err);
  if (!got) return fitcl__fail(ctx, FITCL_ERR_PARSE, "%s: empty file (no header line)", opt->path);
  if (!c->r.delim) fitcl__delim_detect(&c->r, &hdr, ',');
  c->data_start = fitcl__delim_tell(&c->r);
  c->data_line = c->r.line;
  return match_header(src, &hdr);
}
