/* libFuzzer harness for the CSV/TSV tokenizer (io/delim.h) in every mode
 * its readers use.  The first byte picks the delimiter (detected from the
 * header, ',' or '\t'), '#' comments, spaces around quotes and the read
 * window; the rest is the text.  Checks:
 * - reading from memory and streaming through a tiny window give the same
 *   records, fields, positions and messages;
 * - seeking back to the first data row reads the same rows again;
 * - every field lies inside its record and unescapes to at most its size. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/delim.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

typedef struct text {
  char *s;
  size_t n, cap;
} text;

static void put(text *t, const void *p, size_t n) {
  if (!n) return;
  if (t->n + n > t->cap) {
    t->cap = (t->n + n) * 2 + 64;
    t->s = realloc(t->s, t->cap);
    CHECK(t->s != NULL);
  }
  memcpy(t->s + t->n, p, n);
  t->n += n;
}

static void putf(text *t, long a, long b, long c) {
  char buf[96];
  int n = snprintf(buf, sizeof buf, "[%ld %ld %ld]", a, b, c);
  put(t, buf, (size_t)n);
}

/* The rows after the header, as a transcript; returns the status. */
static fitcl_status rows(fitcl__delim *r, text *t) {
  char *cell = NULL;
  fitcl_status st = FITCL_OK;
  for (;;) {
    fitcl__delim_record rec;
    int got;
    st = fitcl__delim_next(r, &rec, &got);
    if (st || !got) break;
    putf(t, rec.line, rec.multiline, (long)rec.n);
    size_t i = 0;
    int more;
    do {
      fitcl__delim_field f;
      more = fitcl__delim_field_next(r, &rec, &i, &f, &st);
      if (more < 0) break;
      CHECK(f.off <= rec.n && f.p >= rec.s && f.p + f.n <= rec.s + rec.n);
      long line;
      int col;
      fitcl__delim_pos(&rec, f.off, &line, &col);
      CHECK(line >= rec.line && col >= 1);
      cell = realloc(cell, f.n + 1);
      CHECK(cell != NULL);
      size_t k = fitcl__delim_unescape(&f, cell);
      CHECK(k <= f.n && (f.escapes || k == f.n));
      putf(t, (long)f.off, f.quoted, line);
      put(t, cell, k);
    } while (more);
    if (more < 0) break;
  }
  free(cell);
  return st;
}

/* Header, rows, then (streaming only) the rows again after a seek. */
static fitcl_status run(fitcl__delim *r, int seek, text *t) {
  fitcl__delim_record hdr;
  int got;
  fitcl_status st = fitcl__delim_next(r, &hdr, &got);
  if (st || !got) return st;
  if (!r->delim) fitcl__delim_detect(r, &hdr, ',');
  CHECK(r->delim == ',' || r->delim == '\t');
  size_t count = 0;
  st = fitcl__delim_count_fields(r, &hdr, &count);
  if (st) return st;
  putf(t, hdr.line, (long)count, r->delim);
  off_t at = fitcl__delim_tell(r);
  long line = r->line;
  text first = {0};
  st = rows(r, &first);
  put(t, first.s, first.n);
  if (!st && seek) {
    CHECK(fitcl__delim_seek(r, at, line) == FITCL_OK);
    text again = {0};
    fitcl_status st2 = rows(r, &again);
    CHECK(st2 == st && again.n == first.n && (!first.n || !memcmp(again.s, first.s, first.n)));
    free(again.s);
  }
  free(first.s);
  return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t sel = data[0];
  static const char delims[4] = {0, ',', '\t', 0};
  const char *in = (const char *)data + 1;
  size_t len = size - 1;
  char ea[512] = "", eb[512] = "";
  text ta = {0}, tb = {0};

  fitcl__delim a;
  fitcl__delim_open_mem(&a, in, len, "in", ea, sizeof ea);
  a.delim = delims[sel & 3];
  a.comments = (sel >> 2) & 1;
  a.spaced_quotes = (sel >> 3) & 1;
  fitcl_status sa = run(&a, 0, &ta);
  fitcl__delim_close(&a);

  FILE *f = fmemopen(len ? (void *)in : (void *)"", len, "rb");
  CHECK(f != NULL);
  fitcl__delim b;
  CHECK(fitcl__delim_open_file(&b, f, 16 + ((sel >> 4) & 15) * 3, "in", eb, sizeof eb) ==
        FITCL_OK);
  b.delim = delims[sel & 3];
  b.comments = (sel >> 2) & 1;
  b.spaced_quotes = (sel >> 3) & 1;
  fitcl_status sb = run(&b, 1, &tb);
  fitcl__delim_close(&b);
  fclose(f);

  CHECK(sa == sb);
  CHECK(strcmp(ea, eb) == 0);
  CHECK(ta.n == tb.n && (!ta.n || memcmp(ta.s, tb.s, ta.n) == 0));
  free(ta.s);
  free(tb.s);
  return 0;
}
