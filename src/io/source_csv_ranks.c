/* CSV/TSV data shared out over ranks (docs/mpi.md, "What each rank
 * reads"): each rank counts the rows of its share of the bytes, cut at
 * line starts, and reads the rows of the chunks that begin in it. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/context.h"
#include "io/source_csv.h"

/* The first line start at or after `at` in the data rows (the end of the
 * file when none): at itself when the byte before it ends a line. */
static fitcl_status line_start(fitcl_source *src, off_t at, off_t *out) {
  fitcl__csv *c = src->impl;
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
  fitcl__csv *c = src->impl;
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
      const int bad = fitcl__csv_read_row(src, &rec, v) != FITCL_OK;
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
        if (fitcl__csv_cache_append(c, src->ncols, stage, staged) != 0) {
          /* Over the budget: the rows are parsed on every pass. */
          fitcl__csv_cache_drop(c);
          c->cache_state = -1;
          parsing = 0;
          c->pre_off = begin;
          c->pre_line = 0;
        }
        staged = 0;
      }
    }
  if (staged && fitcl__csv_cache_append(c, src->ncols, stage, staged) != 0) {
    fitcl__csv_cache_drop(c);
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
fitcl_status fitcl__csv_share(fitcl_source *src, fitcl__ranks *r) {
  fitcl__csv *c = src->impl;
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
    fitcl__csv_cache_drop(c); /* a pass over the whole file fills it from the start */
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
static void note_marks(fitcl__csv *c) {
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
  fitcl__csv *c = src->impl;
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
fitcl_status fitcl__csv_read_ranked(fitcl_source *src, const double **cols, size_t *n) {
  fitcl__csv *c = src->impl;
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
    st = fitcl__csv_read_row(src, &rec, v);
    if (st != FITCL_OK) return st;
    for (int k = 0; k < src->ncols; ++k) out[k][j] = v[k];
  }
  c->at_row = row + want;
  note_marks(c);
  /* The copy grows while the window is read in order past its end. */
  if (c->cache_state == 0 && from == c1 && from >= c->win_lo && from < c->win_hi) {
    double *tail[FITCL__SRC_MAXCOLS];
    for (int k = 0; k < src->ncols; ++k) tail[k] = out[k] + i;
    if (fitcl__csv_cache_append(c, src->ncols, tail, want - i) != 0) {
      fitcl__csv_cache_drop(c);
      c->cache_state = -1;
    }
  }
  for (int k = 0; k < src->ncols; ++k) cols[k] = out[k];
  *n = want;
  return FITCL_OK;
}

