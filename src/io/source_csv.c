/* CSV/TSV data, streamed: the file is read line by line with a fixed
 * buffer, so any size works.  Values are validated while they are parsed
 * (the error names file:line:column).  When the parsed columns of the whole
 * file fit in a small budget they are kept after the first pass, so the
 * solver's later passes do not parse the text again. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/util.h"
#include "io/source_readers.h"

typedef struct csv {
  FILE *f;
  char delim;
  size_t nfields;
  size_t idx[FITCL__SRC_MAXCOLS]; /* field index of each wanted column */
  char *line;
  size_t cap;
  long lineno;
  long header_lineno;
  long data_start;
  /* Parsed-value cache: 0 filling during the first pass, 1 complete,
   * -1 over budget (text is parsed on every pass). */
  int cache_state;
  size_t cache_budget;            /* points */
  double *cache[FITCL__SRC_MAXCOLS];
  size_t cached, cache_cap, pos;
} csv;

static void trim(char **s, char **e) {
  while (*s < *e && (**s == ' ' || **s == '\t' || **s == '"' || **s == '\'')) ++*s;
  while (*e > *s && (e[0][-1] == ' ' || e[0][-1] == '\t' || e[0][-1] == '"' || e[0][-1] == '\'' ||
                     e[0][-1] == '\r' || e[0][-1] == '\n'))
    --*e;
}

/* Reads the next line that is not blank and not a '#' comment. */
static ssize_t next_line(csv *c) {
  ssize_t len;
  while ((len = getline(&c->line, &c->cap, c->f)) >= 0) {
    c->lineno++;
    while (len > 0 && (c->line[len - 1] == '\n' || c->line[len - 1] == '\r')) c->line[--len] = 0;
    const char *p = c->line;
    while (*p == ' ' || *p == '\t') ++p;
    if (*p == 0 || *p == '#') continue;
    return len;
  }
  return -1;
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
  if (c->cache_state == 1) return FITCL_OK;
  if (c->cache_state == 0) c->cached = 0;  /* an unfinished first pass fills it again */
  if (fseek(c->f, c->data_start, SEEK_SET) != 0)
    return fitcl__fail(src->ctx, FITCL_ERR_IO, "%s: cannot seek: %s", src->path, strerror(errno));
  c->lineno = c->header_lineno;
  return FITCL_OK;
}

static fitcl_status csv_read(fitcl_source *src, const double **cols, size_t *n) {
  csv *c = src->impl;
  fitcl_context *ctx = src->ctx;
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
    ssize_t len = next_line(c);
    if (len < 0) break;
    size_t field = 0;
    char *p = c->line, *lineend = c->line + len;
    double row[FITCL__SRC_MAXCOLS];
    for (;;) {
      char *e = memchr(p, c->delim, (size_t)(lineend - p));
      if (!e) e = lineend;
      for (int k = 0; k < src->ncols; ++k) {
        if (c->idx[k] != field) continue;
        char *s = p, *t = e;
        long colno = (long)(p - c->line) + 1;
        trim(&s, &t);
        char save = *t;
        *t = 0;
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        int bad = s == t || end != t;
        *t = save;
        if (bad)
          return fitcl__fail(ctx, FITCL_ERR_PARSE,
                             "%s:%ld:%ld: column '%s': %s '%.*s'; every value must be a number",
                             src->path, c->lineno, colno, src->colname[k],
                             s == t ? "empty value" : "not a number:", (int)(t - s), s);
        int is_sigma = src->has_sigma && k == src->ncols - 1;
        if (!isfinite(v) || (is_sigma && !(v > 0)))
          return fitcl__fail(ctx, FITCL_ERR_DATA, "%s:%ld:%ld: column '%s' is %s; %s", src->path,
                             c->lineno, colno, src->colname[k],
                             isnan(v) ? "NaN" : isinf(v) ? "infinite" : "not > 0",
                             is_sigma ? "every sigma must be finite and > 0"
                                      : "remove or fix the row (every value must be finite)");
        row[k] = v;
      }
      ++field;
      if (e == lineend) break;
      p = e + 1;
    }
    if (field != c->nfields)
      return fitcl__fail(ctx, FITCL_ERR_PARSE,
                         "%s:%ld: ragged row: %zu field%s, but the header has %zu; every row "
                         "needs one value per header column",
                         src->path, c->lineno, field, field == 1 ? "" : "s", c->nfields);
    for (int k = 0; k < src->ncols; ++k) out[k][cnt] = row[k];
    ++cnt;
  }
  if (ferror(c->f))
    return fitcl__fail(ctx, FITCL_ERR_IO, "%s: read error: %s", src->path, strerror(errno));
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
  if (c->f) fclose(c->f);
  cache_drop(c);
  free(c->line);
  free(c);
  src->impl = NULL;
}

static const fitcl__source_ops csv_ops = {csv_rewind, csv_read, csv_destroy};

fitcl_status fitcl__source_open_csv(fitcl_source *src, const fitcl_source_options *opt,
                                    char delim) {
  fitcl_context *ctx = src->ctx;
  csv *c = calloc(1, sizeof *c);
  if (!c) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  src->impl = c;
  src->ops = &csv_ops;
  src->self_checked = 1;
  long mb = opt->csv_cache_mb == 0 ? 256 : opt->csv_cache_mb;
  c->cache_state = mb > 0 ? 0 : -1;
  c->cache_budget = mb > 0 ? (size_t)mb * 1048576 / (sizeof(double) * (size_t)src->ncols) : 0;
  c->f = fopen(opt->path, "r");
  if (!c->f) return fitcl__fail(ctx, FITCL_ERR_FILE, "%s: cannot open: %s", opt->path, strerror(errno));
  setvbuf(c->f, NULL, _IOFBF, 1 << 20);
  ssize_t len = next_line(c);
  if (len < 0) return fitcl__fail(ctx, FITCL_ERR_PARSE, "%s: empty file (no header line)", opt->path);
  c->header_lineno = c->lineno;
  c->data_start = ftell(c->f);
  if (!delim) delim = (strchr(c->line, '\t') && !strchr(c->line, ',')) ? '\t' : ',';
  c->delim = delim;
  for (int k = 0; k < src->ncols; ++k) c->idx[k] = (size_t)-1;
  char *p = c->line, *lineend = c->line + len;
  for (;;) {
    char *e = memchr(p, delim, (size_t)(lineend - p));
    if (!e) e = lineend;
    char *s = p, *t = e;
    trim(&s, &t);
    for (int k = 0; k < src->ncols; ++k)
      if (c->idx[k] == (size_t)-1 && strlen(src->colname[k]) == (size_t)(t - s) &&
          !memcmp(src->colname[k], s, (size_t)(t - s)))
        c->idx[k] = c->nfields;
    c->nfields++;
    if (e == lineend) break;
    p = e + 1;
  }
  for (int k = 0; k < src->ncols; ++k)
    if (c->idx[k] == (size_t)-1) {
      /* Restore the header text for the message. */
      fitcl__buf b = {0};
      char *q = c->line;
      for (char *r = c->line; r < lineend; ++r) *r = *r ? *r : ' ';
      fitcl__buf_printf(&b, "%s", q);
      fitcl_status st = fitcl__fail(ctx, FITCL_ERR_NAME,
                                    "%s:%ld: no column '%s' in the header (%s); name one of "
                                    "its columns", opt->path, c->header_lineno,
                                    src->colname[k], b.data ? b.data : "");
      fitcl__buf_free(&b);
      return st;
    }
  return FITCL_OK;
}
