/* CSV/TSV data, streamed through the project's CSV/TSV tokenizer
 * (io/delim.h), so any size works: RFC 4180 quotes (a quoted header name,
 * a quoted number, a delimiter inside quotes), CRLF, '#' comment lines and
 * blank lines.  Values are validated while they are parsed (the error
 * names file:line:column).  When the parsed columns of the whole file fit
 * in a small budget they are kept after the first pass, so the solver's
 * later passes do not parse the text again.  Over several ranks
 * the reading is io/source_csv_ranks.c's. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/context.h"
#include "core/ioerr.h"
#include "core/util.h"
#include "io/delim.h"
#include "io/source_csv.h"

/* A data row holds at most 18 numbers; 16 MiB leaves room for wide
 * exports whose unused columns are skipped, and bounds what a file without
 * newlines can make the reader hold. */
#define CSV_MAX_RECORD ((size_t)16 << 20)

static fitcl_status csv_rewind(fitcl_source *src) {
  fitcl__csv *c = src->impl;
  c->pos = 0;
  c->at_row = UINT64_MAX;
  if (c->ranked) return FITCL_OK; /* reads seek (seek_row); the copy stays valid */
  if (c->cache_state == 1) return FITCL_OK;
  if (c->cache_state == 0) c->cached = 0;  /* an unfinished first pass fills it again */
  if (fitcl__delim_seek(&c->r, c->data_start, c->data_line) != FITCL_OK)
    return fitcl__fail(src->ctx, FITCL_ERR_IO, "%s: cannot seek: %s", src->path, strerror(errno));
  return FITCL_OK;
}

static fitcl_status csv_read(fitcl_source *src, const double **cols, size_t *n) {
  fitcl__csv *c = src->impl;
  if (c->ranked) return fitcl__csv_read_ranked(src, cols, n);
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
    st = fitcl__csv_read_row(src, &rec, row);
    if (st != FITCL_OK) return st;
    for (int k = 0; k < src->ncols; ++k) out[k][cnt] = row[k];
    ++cnt;
  }
  if (c->cache_state == 0) {
    if (cnt && fitcl__csv_cache_append(c, src->ncols, out, cnt) != 0) {
      fitcl__csv_cache_drop(c);
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
  fitcl__csv *c = src->impl;
  if (!c) return;
  fitcl__delim_close(&c->r);
  if (c->f) fclose(c->f);
  free(c->first);
  fitcl__csv_cache_drop(c);
  free(c);
  src->impl = NULL;
}

static const fitcl__source_ops csv_ops = {csv_rewind, csv_read, csv_destroy, fitcl__csv_share};

/* Finds each wanted column in the header (names are trimmed; a quoted name
 * is taken as written, "" as a quote). */
static fitcl_status match_header(fitcl_source *src, const fitcl__delim_record *hdr) {
  fitcl__csv *c = src->impl;
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
      fitcl__csv_trim(&s, &n);
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
  fitcl__csv *c = calloc(1, sizeof *c);
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
