/* The CSV/TSV reader's rows: a field's number, a row's values and the
 * parsed copy, for io/source_csv.c (one process) and io/source_csv_ranks.c
 * (a file shared out over ranks) alike. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/util.h"
#include "io/delim.h"
#include "io/source_csv.h"

/* A field's text without the spaces around it. */
void fitcl__csv_trim(const char **p, size_t *n) {
  while (*n > 0 && fitcl__delim_blank(**p)) {
    ++*p;
    --*n;
  }
  while (*n > 0 && fitcl__delim_blank((*p)[*n - 1])) --*n;
}

void fitcl__csv_cache_drop(fitcl__csv *c) {
  for (int k = 0; k < FITCL__SRC_MAXCOLS; ++k) FITCL_FREE(c->cache[k]);
  c->cached = c->cache_cap = 0;
}

int fitcl__csv_cache_append(fitcl__csv *c, int ncols, double **vals, size_t n) {
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

/* The number in field f of column k: finite, and > 0 for sigma. */
static fitcl_status parse_value(fitcl_source *src, const fitcl__delim_record *rec,
                                const fitcl__delim_field *f, int k, double *out) {
  const char *s = f->p;
  size_t n = f->n;
  fitcl__csv_trim(&s, &n);
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

fitcl_status fitcl__csv_read_row(fitcl_source *src, const fitcl__delim_record *rec, double *row) {
  fitcl__csv *c = src->impl;
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
