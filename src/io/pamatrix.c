/* Presence/absence readers: Roary/Panaroo Rtab, plain TSV/CSV tables in
 * either orientation, Roary/Panaroo gene_presence_absence.csv.
 *
 * The file is streamed through a growing window (io/delim.h, the CSV/TSV
 * tokenizer): one record (a line, or several when a quoted field holds
 * newlines) is found, split into fields and packed into two bits per cell
 * before the next is read, so memory holds the packed cells and the names,
 * never the text.  Data rows of the simple Rtab form go to a faster
 * reader first (io/pamatrix_fast.h), which declines anything else. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "fitcl.h"
#include "core/ioerr.h"
#include "core/strmap.h"
#include "io/delim.h"
#include "io/pamatrix.h"
#include "io/pamatrix_fast.h"
#include "io/pamatrix_npy.h"

/* Largest number of columns or rows accepted: taxa index a tree with int
 * node numbers, and 2^40 families is far beyond any pangenome. */
#define MAX_COLS ((size_t)1 << 30)

/* ------------------------------------------------------------------------- */
/* Name pools                                                                */

typedef struct namepool {
  char *pool;
  size_t len, cap;
  size_t *off;
  size_t n, ncap;
} namepool;

static const char *pool_key(const void *user, size_t i) {
  const namepool *np = user;
  return np->pool + np->off[i];
}

/* Appends s[0..n), turning "" into " when `escapes` is set.  Returns 0 or
 * -1 when out of memory. */
static int pool_add(namepool *np, const char *s, size_t n, int escapes) {
  if (np->n == np->ncap) {
    size_t nc = np->ncap ? np->ncap * 2 : 256;
    size_t *no = realloc(np->off, nc * sizeof *no);
    if (!no) return -1;
    np->off = no;
    np->ncap = nc;
  }
  if (np->len + n + 1 > np->cap) {
    size_t nc = np->cap ? np->cap : 4096;
    while (nc < np->len + n + 1) nc *= 2;
    char *p = realloc(np->pool, nc);
    if (!p) return -1;
    np->pool = p;
    np->cap = nc;
  }
  np->off[np->n++] = np->len;
  char *d = np->pool + np->len;
  if (escapes) {
    const fitcl__delim_field f = {.p = s, .n = n, .quoted = 1, .escapes = 1};
    np->len += fitcl__delim_unescape(&f, d) + 1;
  } else {
    memcpy(d, s, n);
    d[n] = '\0';
    np->len += n + 1;
  }
  return 0;
}

static void pool_free(namepool *np) {
  FITCL_FREE(np->pool);
  FITCL_FREE(np->off);
  np->len = np->cap = np->n = np->ncap = 0;
}

/* Strips surrounding spaces (values only; names are kept verbatim). */
static void trim(const char **p, size_t *n) {
  while (*n > 0 && (**p == ' ' || **p == '\t')) {
    (*p)++;
    (*n)--;
  }
  while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t' || (*p)[*n - 1] == '\r')) (*n)--;
}

static int is_missing(const char *p, size_t n) {
  return (n == 1 && (p[0] == '?' || p[0] == '-')) || (n == 2 && p[0] == 'N' && p[1] == 'A');
}

/* Cell value of a table: 0 absent, a positive count present, ?/-/NA
 * missing; -1 when malformed. */
static int table_value(const char *p, size_t n) {
  if (n == 1) {
    if (p[0] == '0') return FITCL_PA_ABSENT;
    if (p[0] >= '1' && p[0] <= '9') return FITCL_PA_PRESENT;
  }
  trim(&p, &n);
  if (n == 0) return -1;
  if (is_missing(p, n)) return FITCL_PA_MISSING;
  /* A decimal count: digits with at most one '.', e.g. "2" or "1.0". */
  int nonzero = 0, dots = 0, digits = 0;
  for (size_t k = 0; k < n; ++k) {
    if (p[k] == '.') {
      if (++dots > 1) return -1;
    } else if (p[k] >= '0' && p[k] <= '9') {
      digits++;
      if (p[k] != '0') nonzero = 1;
    } else {
      return -1;
    }
  }
  if (!digits) return -1;
  return nonzero ? FITCL_PA_PRESENT : FITCL_PA_ABSENT;
}

/* Cell value of a Roary/Panaroo csv: empty absent, ?/-/NA missing, any
 * gene identifier present. */
static int pangenome_value(const char *p, size_t n) {
  trim(&p, &n);
  if (n == 0) return FITCL_PA_ABSENT;
  if (is_missing(p, n)) return FITCL_PA_MISSING;
  return FITCL_PA_PRESENT;
}

/* ------------------------------------------------------------------------- */
/* The matrix being read                                                     */

static const char *const ROARY_COLS[14] = {
  "Gene", "Non-unique Gene name", "Annotation", "No. isolates", "No. sequences",
  "Avg sequences per isolate", "Genome Fragment", "Order within Fragment",
  "Accessory Fragment", "Accessory Order with Fragment", "QC", "Min group size nuc",
  "Max group size nuc", "Avg group size nuc"};

typedef struct build {
  fitcl__delim r;
  fitcl_pamatrix_format format;
  int taxa_in_rows;
  size_t nannot;        /* leading columns that are not data (row name included) */
  namepool cols;        /* data column names */
  namepool rows;        /* row names */
  fitcl__strmap rowmap;
  size_t ncols, stride, nrows, rowcap;
  uint8_t *packed;      /* row-major as read */
  int names_later;      /* row names are checked for repeats after the read (a rank's share) */
} build;

/* Reads the header and, looking at the first data row, settles the layout.
 * Leaves the first data row in *first. */
static fitcl_status read_header(build *b, fitcl__delim_record *first, int *have_first) {
  fitcl__delim *r = &b->r;
  fitcl__delim_record hdr;
  int got;
  fitcl_status st = fitcl__delim_next(r, &hdr, &got);
  if (st) return st;
  if (!got) return fitcl__delim_fail(r, 1, 1, FITCL_ERR_PARSE, "empty file: no header row");
  /* A tab in the header makes a TSV: Rtab names may hold commas. */
  if (!r->delim) fitcl__delim_detect(r, &hdr, '\t');
  if (memchr(hdr.s, '\0', hdr.n))
    return fitcl__delim_fail_at(r, &hdr, (size_t)((const char *)memchr(hdr.s, '\0', hdr.n) - hdr.s),
                                FITCL_ERR_PARSE, "NUL byte in the header");
  namepool all = {0};
  size_t *offs = NULL, noffs = 0, capoffs = 0;
  /* Reading the first data row may move the read window, so messages about
   * the header use a private copy of it. */
  char *hcopy = malloc(hdr.n + 1);
  if (!hcopy)
    return fitcl__delim_fail(r, hdr.line, 1, FITCL_ERR_NOMEM, "out of memory reading the header");
  memcpy(hcopy, hdr.s, hdr.n);
  hdr.s = hcopy;
  size_t i = 0;
  fitcl__delim_field f;
  int more;
  do {
    more = fitcl__delim_field_next(r, &hdr, &i, &f, &st);
    if (more < 0) goto fail;
    if (noffs == capoffs) {
      capoffs = capoffs ? capoffs * 2 : 64;
      size_t *no = realloc(offs, capoffs * sizeof *no);
      if (!no) goto nomem;
      offs = no;
    }
    offs[noffs++] = f.off;
    if (noffs > MAX_COLS) {
      st = fitcl__delim_fail_at(r, &hdr, f.off, FITCL_ERR_SIZE, "more than %zu columns", MAX_COLS);
      goto fail;
    }
    /* A line ending in a delimiter has no last name; data rows may then
     * end in one too. */
    if (!more && f.n == 0 && noffs > 1 && f.off == hdr.n) {
      noffs--;
      break;
    }
    if (pool_add(&all, f.p, f.n, f.escapes) != 0) goto nomem;
  } while (more);

  /* Detect a Roary/Panaroo csv from its first three header names. */
  int pangenome = 0;
  if (all.n >= 3 && strcmp(all.pool + all.off[0], "Gene") == 0 &&
      strcmp(all.pool + all.off[1], "Non-unique Gene name") == 0 &&
      strcmp(all.pool + all.off[2], "Annotation") == 0)
    pangenome = 1;
  if (b->format == FITCL_PAMATRIX_AUTO && r->delim == ',' && pangenome && !b->taxa_in_rows)
    b->format = FITCL_PAMATRIX_PANGENOME_CSV;
  if (b->format == FITCL_PAMATRIX_AUTO)
    b->format = r->delim == ',' ? FITCL_PAMATRIX_CSV : FITCL_PAMATRIX_TSV;
  if (b->format == FITCL_PAMATRIX_PANGENOME_CSV) {
    if (!pangenome) {
      st = fitcl__delim_fail_at(
          r, &hdr, 0, FITCL_ERR_PARSE,
          "not a Roary/Panaroo gene_presence_absence.csv: the header must start with "
          "\"Gene\",\"Non-unique Gene name\",\"Annotation\"");
      goto fail;
    }
    b->nannot = 3;
    if (all.n >= 4 && strcmp(all.pool + all.off[3], ROARY_COLS[3]) == 0) {
      for (size_t k = 4; k < 14; ++k) {
        if (k >= all.n || strcmp(all.pool + all.off[k], ROARY_COLS[k]) != 0) {
          st = fitcl__delim_fail_at(r, &hdr, k < all.n ? offs[k] : hdr.n, FITCL_ERR_PARSE,
                                    "unrecognised Roary header: column %zu should be \"%s\"", k + 1,
                                    ROARY_COLS[k]);
          goto fail;
        }
      }
      b->nannot = 14;
    }
  } else {
    b->nannot = 1;
  }

  st = fitcl__delim_next(r, first, have_first);
  if (st) goto fail;
  size_t skip = b->nannot;
  if (*have_first && b->format != FITCL_PAMATRIX_PANGENOME_CSV) {
    /* R's write.table leaves out the corner cell: the header then has one
     * name fewer than the data rows. */
    size_t nf = 0;
    st = fitcl__delim_count_fields(r, first, &nf);
    if (st) goto fail;
    /* A trailing delimiter adds no cell (see read_row). */
    if (first->n > 0 && first->s[first->n - 1] == r->delim && nf > 1) nf--;
    if (nf == all.n + 1) skip = 0;
  }
  if (all.n <= skip) {
    st = fitcl__delim_fail_at(r, &hdr, hdr.n, FITCL_ERR_PARSE, "the header names no %s columns",
                              b->taxa_in_rows ? "family" : "taxon");
    goto fail;
  }
  fitcl__strmap seen;
  fitcl__strmap_init(&seen, pool_key, &b->cols);
  for (size_t k = skip; k < all.n; ++k) {
    const char *nm = all.pool + all.off[k];
    size_t len = strlen(nm);
    if (len == 0) {
      fitcl__strmap_free(&seen);
      st = fitcl__delim_fail_at(r, &hdr, offs[k], FITCL_ERR_DATA,
                                "empty %s name in header column %zu",
                                b->taxa_in_rows ? "family" : "taxon", k + 1);
      goto fail;
    }
    if (pool_add(&b->cols, nm, len, 0) != 0) {
      fitcl__strmap_free(&seen);
      goto nomem;
    }
    size_t prev = fitcl__strmap_put(&seen, nm, len, b->cols.n - 1);
    if (prev == SIZE_MAX - 1) {
      fitcl__strmap_free(&seen);
      goto nomem;
    }
    if (prev != b->cols.n - 1) {
      char q[80];
      fitcl__ioerr_name(q, sizeof q, nm, len);
      fitcl__strmap_free(&seen);
      st = fitcl__delim_fail_at(r, &hdr, offs[k], FITCL_ERR_DATA,
                                "duplicate %s name '%s' (header columns %zu and %zu)",
                                b->taxa_in_rows ? "family" : "taxon", q, prev + skip + 1, k + 1);
      goto fail;
    }
  }
  fitcl__strmap_free(&seen);
  b->ncols = b->cols.n;
  b->stride = (b->ncols + 3) / 4;
  if (!*have_first) {
    st = fitcl__delim_fail(r, r->line, 1, FITCL_ERR_PARSE, "no data rows after the header (no %s)",
                           b->taxa_in_rows ? "taxa" : "families");
    goto fail;
  }
  /* Data rows have the header's width; without the corner cell, one more. */
  b->nannot = skip == 0 ? 1 : b->nannot;
  pool_free(&all);
  free(offs);
  free(hcopy);
  return FITCL_OK;
nomem:
  st = fitcl__delim_fail(r, r->line, 1, FITCL_ERR_NOMEM, "out of memory reading the header");
fail:
  pool_free(&all);
  free(offs);
  free(hcopy);
  return st;
}

static fitcl_status read_row(build *b, const fitcl__delim_record *rec) {
  fitcl__delim *r = &b->r;
  if (b->nrows == b->rowcap) {
    size_t nc = b->rowcap ? b->rowcap * 2 : 1024;
    if (nc > SIZE_MAX / b->stride)
      return fitcl__delim_fail(r, rec->line, 1, FITCL_ERR_SIZE, "too many rows (%zu)", b->nrows);
    uint8_t *np = realloc(b->packed, nc * b->stride);
    if (!np)
      return fitcl__delim_fail(r, rec->line, 1, FITCL_ERR_NOMEM, "out of memory at row %zu",
                               b->nrows);
    b->packed = np;
    b->rowcap = nc;
  }
  uint8_t *row = b->packed + b->nrows * b->stride;
  memset(row, 0, b->stride);
  const char *kind = b->taxa_in_rows ? "taxon" : "family";
  size_t width = b->nannot + b->ncols;
  size_t i = 0, col = 0;
  fitcl__delim_field f;
  fitcl_status st = FITCL_OK;
  int pangenome = b->format == FITCL_PAMATRIX_PANGENOME_CSV;
  int more = 1;
  const char *s = rec->s;
  size_t n = rec->n;
  if (memchr(s, '\0', n))
    return fitcl__delim_fail_at(r, rec, (size_t)((const char *)memchr(s, '\0', n) - s),
                                FITCL_ERR_PARSE, "NUL byte in the row");
  /* Row name, then annotation columns. */
  for (; col < b->nannot; ++col) {
    more = fitcl__delim_field_next(r, rec, &i, &f, &st);
    if (more < 0) return st;
    if (col == 0) {
      if (f.n == 0)
        return fitcl__delim_fail_at(r, rec, f.off, FITCL_ERR_DATA, "empty %s name", kind);
      if (pool_add(&b->rows, f.p, f.n, f.escapes) != 0)
        return fitcl__delim_fail(r, rec->line, 1, FITCL_ERR_NOMEM, "out of memory at row %zu",
                                 b->nrows);
      const char *nm = b->rows.pool + b->rows.off[b->rows.n - 1];
      size_t len = strlen(nm);
      /* A rank's share checks its names against every rank's after the read. */
      size_t prev = b->names_later ? b->rows.n - 1
                                   : fitcl__strmap_put(&b->rowmap, nm, len, b->rows.n - 1);
      if (prev == SIZE_MAX - 1)
        return fitcl__delim_fail(r, rec->line, 1, FITCL_ERR_NOMEM, "out of memory at row %zu",
                                 b->nrows);
      if (prev != b->rows.n - 1) {
        char q[80];
        fitcl__ioerr_name(q, sizeof q, nm, len);
        return fitcl__delim_fail_at(r, rec, f.off, FITCL_ERR_DATA,
                                    "duplicate %s name '%s' (data rows %zu and %zu)", kind, q,
                                    prev + 1, b->rows.n);
      }
    }
    if (!more && col + 1 < width)
      return fitcl__delim_fail_at(r, rec, n, FITCL_ERR_PARSE,
                                  "ragged row: %zu cells, the header implies %zu", col + 1, width);
  }
  /* Values.  The common Rtab cell is one character followed by a tab, so
   * that case skips the general field scanner. */
  const char delim = r->delim;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  /* Four 0/1 cells and their delimiters are 8 bytes "d,d,d,d,": checked
   * and packed into one byte with a few word operations. */
  const uint64_t expect = 0x0030003000300030ull | (0x0100010001000100ull * (uint8_t)delim);
  const int fast4 = !pangenome;
#else
  const uint64_t expect = 0;
  const int fast4 = 0;
#endif
  for (size_t t = 0; t < b->ncols; ++t) {
    int v;
    size_t off = i;
    if (fast4 && (t & 3) == 0 && t + 4 <= b->ncols && off + 8 <= n) {
      uint64_t w;
      memcpy(&w, s + off, 8);
      uint64_t x = w ^ expect;
      if ((x & 0xFFFEFFFEFFFEFFFEull) == 0) {
        row[t >> 2] = (uint8_t)((x & 1) | ((x >> 14) & 4) | ((x >> 28) & 16) | ((x >> 42) & 64));
        i = off + 8;
        t += 3;
        more = 1;
        continue;
      }
    }
    if (off + 1 < n && s[off + 1] == delim && s[off] != '"' && !pangenome) {
      char c = s[off];
      v = c == '0' ? 0 : (c >= '1' && c <= '9') ? 1 : (c == '?' || c == '-') ? 2 : -1;
      f.p = s + off;
      f.n = 1;
      f.off = off;
      i = off + 2;
      more = 1;
    } else {
      more = fitcl__delim_field_next(r, rec, &i, &f, &st);
      if (more < 0) return st;
      if (f.escapes) {
        v = pangenome ? FITCL_PA_PRESENT : -1;
      } else {
        v = pangenome ? pangenome_value(f.p, f.n) : table_value(f.p, f.n);
      }
    }
    if (v < 0) {
      char q[80];
      fitcl__ioerr_name(q, sizeof q, f.p, f.n);
      return fitcl__delim_fail_at(
          r, rec, f.off, FITCL_ERR_DATA,
          "bad value '%s' (expected 0, a positive count, or ?, - or NA for missing)", q);
    }
    row[t >> 2] |= (uint8_t)(v << ((t & 3) * 2));
    if (!more && t + 1 < b->ncols)
      return fitcl__delim_fail_at(r, rec, n, FITCL_ERR_PARSE,
                                  "ragged row: %zu cells, the header implies %zu",
                                  b->nannot + t + 1, width);
  }
  if (more) {
    /* Tolerate one trailing empty cell (a line ending in a delimiter) only
     * when nothing follows it. */
    if (i < n || (i == n && (n == 0 || s[n - 1] != delim))) {
      size_t extra = 1;
      for (size_t k = i; k < n; ++k)
        if (s[k] == delim) extra++;
      return fitcl__delim_fail_at(r, rec, i, FITCL_ERR_PARSE,
                                  "ragged row: at least %zu cells, the header implies %zu",
                                  width + extra, width);
    }
  }
  b->nrows++;
  return FITCL_OK;
}

/* Turns the row-major taxon rows into family-major rows. */
static int transpose(build *b, uint8_t **out, unsigned threads) {
  size_t nf = b->ncols, nt = b->nrows, st = (nt + 3) / 4;
  uint8_t *p = malloc((nf ? nf : 1) * (st ? st : 1));
  if (!p) return -1;
  fitcl__pa_transpose(b->packed, nt, nf, p, threads);
  *out = p;
  return 0;
}

/* Hands the data rows after `first` to the fast reader.  Returns 1 when it
 * read them all (b holds the rows and their names), 0 when it declined or
 * a name repeats: the general reader then reads them from `first`. */
static int read_rows_fast(build *b, const fitcl__delim_record *first, FILE *f, const char *mem,
                          size_t memlen, const fitcl__pamatrix_cfg *cfg) {
  fitcl__delim *r = &b->r;
  if (cfg && cfg->general_only) return 0;
  if (b->format == FITCL_PAMATRIX_PANGENOME_CSV || r->delim != '\t' || b->nannot != 1 ||
      r->comments || r->spaced_quotes)
    return 0;
  fitcl__pa_fast j;
  memset(&j, 0, sizeof j);
  j.ncols = b->ncols;
  j.max_rows = b->taxa_in_rows ? MAX_COLS : (size_t)1 << 40;
  j.threads = cfg ? cfg->threads : 0;
  j.chunk = cfg ? cfg->chunk : 0;
  if (f) {
    struct stat sb;
    int fd = fileno(f);
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) return 0;
    j.fd = fd;
    j.off = (uint64_t)r->base + (uint64_t)(first->s - r->data);
    j.end = (uint64_t)sb.st_size;
    /* The general reader's record limit, with room to spare: a longer
     * line is its to report. */
    j.max_line = (r->max_record ? r->max_record : FITCL__DELIM_MAX_RECORD) / 2;
  } else {
    j.mem = first->s;
    j.memlen = (size_t)(mem + memlen - first->s);
  }
  if (!fitcl__pa_fast_rows(&j)) return 0;
  b->packed = j.packed;
  b->nrows = b->rowcap = j.nrows;
  b->rows.pool = j.names;
  b->rows.len = b->rows.cap = j.names_len;
  b->rows.off = j.name_off;
  b->rows.n = b->rows.ncap = j.nrows;
  for (size_t i = 0; i < j.nrows; ++i) {
    const char *nm = b->rows.pool + b->rows.off[i];
    size_t prev = fitcl__strmap_put(&b->rowmap, nm, strlen(nm), i);
    if (prev != i) {
      /* A duplicate (or no memory): the general reader says which. */
      fitcl__strmap_free(&b->rowmap);
      fitcl__strmap_init(&b->rowmap, pool_key, &b->rows);
      pool_free(&b->rows);
      FITCL_FREE(b->packed);
      b->nrows = b->rowcap = 0;
      return 0;
    }
  }
  return 1;
}

static int has_ext(const char *name, const char *ext) {
  size_t n = strlen(name), e = strlen(ext);
  return n > e && strcasecmp(name + n - e, ext) == 0;
}

/* Delimiter: from the format, else the extension, else (0) the header
 * (read_header). */
static char delim_of(fitcl_pamatrix_format format, const char *name) {
  if (format == FITCL_PAMATRIX_TSV) return '\t';
  if (format != FITCL_PAMATRIX_AUTO) return ',';
  if (has_ext(name, ".csv")) return ',';
  if (has_ext(name, ".rtab") || has_ext(name, ".tsv") || has_ext(name, ".tab") ||
      has_ext(name, ".txt"))
    return '\t';
  return 0;
}

static fitcl_status read_matrix_cfg(FILE *f, size_t window, const char *mem, size_t memlen,
                                    const char *name, const fitcl_pamatrix_options *opt,
                                    fitcl__pamatrix_cfg *cfg, fitcl_pamatrix **out, char *err,
                                    size_t errlen) {
  build b;
  memset(&b, 0, sizeof b);
  fitcl_pamatrix_options o = {0};
  if (opt) o = *opt;
  fitcl_pamatrix *m = NULL;
  fitcl_status st = FITCL_OK;
  b.format = o.format;
  b.taxa_in_rows = o.taxa_in_rows != 0;
  fitcl__strmap_init(&b.rowmap, pool_key, &b.rows);
  if (o.format < FITCL_PAMATRIX_AUTO || o.format > FITCL_PAMATRIX_PANGENOME_CSV) {
    st = fitcl__ioerr(err, errlen, FITCL_ERR_ARG, "%s: unknown matrix format %d", name,
                      (int)o.format);
    goto fail;
  }
  if (o.format == FITCL_PAMATRIX_PANGENOME_CSV && b.taxa_in_rows) {
    st = fitcl__ioerr(err, errlen, FITCL_ERR_ARG,
                      "%s: taxa in rows does not apply to a Roary/Panaroo "
                      "gene_presence_absence.csv (families are always rows)",
                      name);
    goto fail;
  }
  if (f) {
    st = fitcl__delim_open_file(&b.r, f, window, name, err, errlen);
    if (st) goto fail;
  } else {
    fitcl__delim_open_mem(&b.r, mem, memlen, name, err, errlen);
  }
  b.r.delim = delim_of(o.format, name);

  fitcl__delim_record first;
  int have;
  st = read_header(&b, &first, &have);
  if (st) goto fail;
  if (cfg) cfg->used_fast = 0;
  if (have && read_rows_fast(&b, &first, f, mem, memlen, cfg)) {
    if (cfg) cfg->used_fast = 1;
    have = 0;
  }
  while (have) {
    st = read_row(&b, &first);
    if (st) goto fail;
    if (b.nrows > (b.taxa_in_rows ? MAX_COLS : (size_t)1 << 40)) {
      st = fitcl__delim_fail_at(&b.r, &first, 0, FITCL_ERR_SIZE, "too many rows");
      goto fail;
    }
    st = fitcl__delim_next(&b.r, &first, &have);
    if (st) goto fail;
  }

  m = calloc(1, sizeof *m);
  if (!m) goto nomem;
  if (b.taxa_in_rows) {
    m->nfamilies = b.ncols;
    m->ntaxa = b.nrows;
    if (transpose(&b, &m->packed, cfg ? cfg->threads : 0) != 0) goto nomem;
    FITCL_FREE(b.packed);
    m->fam_pool = b.cols.pool;
    m->fam_off = b.cols.off;
    m->tax_pool = b.rows.pool;
    m->tax_off = b.rows.off;
  } else {
    m->nfamilies = b.nrows;
    m->ntaxa = b.ncols;
    /* Give back the unused tail of the doubling growth. */
    uint8_t *shrunk = realloc(b.packed, b.nrows * b.stride > 0 ? b.nrows * b.stride : 1);
    m->packed = shrunk ? shrunk : b.packed;
    b.packed = NULL;
    m->fam_pool = b.rows.pool;
    m->fam_off = b.rows.off;
    m->tax_pool = b.cols.pool;
    m->tax_off = b.cols.off;
  }
  m->stride = (m->ntaxa + 3) / 4;
  memset(&b.cols, 0, sizeof b.cols);
  memset(&b.rows, 0, sizeof b.rows);
  fitcl__strmap_free(&b.rowmap);
  fitcl__delim_close(&b.r);
  *out = m;
  return FITCL_OK;
nomem:
  st = fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "%s: out of memory", name);
fail:
  fitcl_pamatrix_destroy(m);
  fitcl__strmap_free(&b.rowmap);
  pool_free(&b.cols);
  pool_free(&b.rows);
  free(b.packed);
  fitcl__delim_close(&b.r);
  return st;
}

static fitcl_status read_matrix(FILE *f, size_t window, const char *mem, size_t memlen,
                                const char *name, const fitcl_pamatrix_options *opt,
                                fitcl_pamatrix **out, char *err, size_t errlen) {
  return read_matrix_cfg(f, window, mem, memlen, name, opt, NULL, out, err, errlen);
}

fitcl_status fitcl__pamatrix_read_cfg(const char *path, const fitcl_pamatrix_options *opt,
                                      fitcl__pamatrix_cfg *cfg, fitcl_pamatrix **out, char *err,
                                      size_t errlen) {
  if (out) *out = NULL;
  if (!path || !out)
    return fitcl__ioerr(err, errlen, FITCL_ERR_NULL, "fitcl_pamatrix_read: NULL argument");
  FILE *f;
  fitcl_status st = fitcl__open_input(path, &f, err, errlen);
  if (st != FITCL_OK) return st;
  st = read_matrix_cfg(f, (size_t)1 << 20, NULL, 0, path, opt, cfg, out, err, errlen);
  fclose(f);
  return st;
}

fitcl_status fitcl__pamatrix_parse_cfg(const char *text, size_t len, const char *name,
                                       const fitcl_pamatrix_options *opt,
                                       fitcl__pamatrix_cfg *cfg, fitcl_pamatrix **out, char *err,
                                       size_t errlen) {
  if (out) *out = NULL;
  if ((!text && len) || !out)
    return fitcl__ioerr(err, errlen, FITCL_ERR_NULL, "fitcl_pamatrix_parse: NULL argument");
  return read_matrix_cfg(NULL, 0, text ? text : "", len, name ? name : "<string>", opt, cfg, out,
                         err, errlen);
}

fitcl_status fitcl_pamatrix_read(const char *path, const fitcl_pamatrix_options *opt,
                                 fitcl_pamatrix **out, char *err, size_t errlen) {
  if (out) *out = NULL;
  if (!path || !out)
    return fitcl__ioerr(err, errlen, FITCL_ERR_NULL, "fitcl_pamatrix_read: NULL argument");
  if (fitcl__pamatrix_is_npy(path, opt))
    return fitcl__pamatrix_read_npy(path, opt, out, err, errlen);
  FILE *f;
  fitcl_status st = fitcl__open_input(path, &f, err, errlen);
  if (st != FITCL_OK) return st;
  st = read_matrix(f, (size_t)1 << 20, NULL, 0, path, opt, out, err, errlen);
  fclose(f);
  return st;
}

fitcl_status fitcl_pamatrix_parse(const char *text, size_t len, const char *name,
                                  const fitcl_pamatrix_options *opt, fitcl_pamatrix **out,
                                  char *err, size_t errlen) {
  if (out) *out = NULL;
  if ((!text && len) || !out)
    return fitcl__ioerr(err, errlen, FITCL_ERR_NULL, "fitcl_pamatrix_parse: NULL argument");
  return read_matrix(NULL, 0, text ? text : "", len, name ? name : "<string>", opt, out, err,
                     errlen);
}

fitcl_status fitcl__pamatrix_read_stream(FILE *f, const char *name,
                                         const fitcl_pamatrix_options *opt, size_t window,
                                         fitcl_pamatrix **out, char *err, size_t errlen) {
  *out = NULL;
  return read_matrix(f, window, NULL, 0, name, opt, out, err, errlen);
}

/* ------------------------------------------------------------------------- */
/* A text matrix read a share of rows at a time (io/pamatrix_share.c)        */

struct fitcl__pa_text {
  build b;
  FILE *f;
  char *text;           /* a range's bytes, for the general reader */
  size_t textlen;
  char *err;
  size_t errlen;
};

fitcl_status fitcl__pa_text_open(const char *path, const fitcl_pamatrix_options *opt,
                                 fitcl__pa_text **out, fitcl__pa_text_info *info, char *err,
                                 size_t errlen) {
  *out = NULL;
  memset(info, 0, sizeof *info);
  fitcl_pamatrix_options o = {0};
  if (opt) o = *opt;
  fitcl__pa_text *t = calloc(1, sizeof *t);
  if (!t) return fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "%s: out of memory", path);
  t->err = err;
  t->errlen = errlen;
  build *b = &t->b;
  b->format = o.format;
  b->taxa_in_rows = o.taxa_in_rows != 0;
  fitcl__strmap_init(&b->rowmap, pool_key, &b->rows);
  fitcl_status st = fitcl__open_input(path, &t->f, err, errlen);
  /* A small window: the header is all a rank reads outside its rows. */
  if (st == FITCL_OK) st = fitcl__delim_open_file(&b->r, t->f, (size_t)64 << 10, path, err, errlen);
  if (st != FITCL_OK) {
    fitcl__pa_text_close(t);
    return st;
  }
  *out = t;
  /* Only a tab-delimited table of families in rows, read from a regular
   * file, is split; anything else is read whole by every rank (the
   * formats read_matrix_cfg settles from the name and the header). */
  if (o.format < FITCL_PAMATRIX_AUTO || o.format > FITCL_PAMATRIX_TSV || b->taxa_in_rows)
    return FITCL_OK;
  b->r.delim = delim_of(o.format, path);
  if (b->r.delim == ',') return FITCL_OK;
  b->names_later = 1;
  fitcl__delim_record first;
  int have = 0;
  st = read_header(b, &first, &have);
  if (st != FITCL_OK) return st;
  struct stat sb;
  int fd = fileno(t->f);
  if (b->format == FITCL_PAMATRIX_PANGENOME_CSV || b->r.delim != '\t' || b->nannot != 1 ||
      fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
    return FITCL_OK;
  info->splittable = 1;
  info->fd = fd;
  info->data_off = (uint64_t)b->r.base + (uint64_t)(first.s - b->r.data);
  info->end = (uint64_t)sb.st_size;
  info->first_line = first.line;
  info->ncols = b->ncols;
  info->max_line = (b->r.max_record ? b->r.max_record : FITCL__DELIM_MAX_RECORD) / 2;
  return FITCL_OK;
}

fitcl_status fitcl__pa_text_range(fitcl__pa_text *t, const fitcl__pa_text_info *info, uint64_t a,
                                  uint64_t e, fitcl__pa_text_range_out *out) {
  memset(out, 0, sizeof *out);
  build *b = &t->b;
  if (e <= a) return FITCL_OK;
  fitcl__pa_fast j;
  memset(&j, 0, sizeof j);
  j.fd = info->fd;
  j.off = a;
  j.end = e;
  j.ncols = b->ncols;
  j.max_rows = (size_t)1 << 40;
  j.max_line = info->max_line;
  if (fitcl__pa_fast_rows(&j)) {
    b->packed = j.packed;
    b->nrows = b->rowcap = j.nrows;
    b->rows.pool = j.names;
    b->rows.len = b->rows.cap = j.names_len;
    b->rows.off = j.name_off;
    b->rows.n = b->rows.ncap = j.nrows;
    out->nlines = j.nlines;
    return FITCL_OK;
  }
  /* Declined: the general reader reads the range's text from memory, once
   * the lines before it are known (fitcl__pa_text_general). */
  const char *path = b->r.name;
  if (e - a > SIZE_MAX - 1 || !(t->text = malloc((size_t)(e - a) + 1)))
    return fitcl__ioerr(t->err, t->errlen, FITCL_ERR_NOMEM, "%s: out of memory for its rows",
                        path);
  t->textlen = (size_t)(e - a);
  for (size_t got = 0; got < t->textlen;) {
    ssize_t n = pread(info->fd, t->text + got, t->textlen - got, (off_t)(a + got));
    if (n <= 0)
      return fitcl__ioerr(t->err, t->errlen, FITCL_ERR_IO, "%s: read error in bytes %llu..%llu",
                          path, (unsigned long long)a, (unsigned long long)e);
    got += (size_t)n;
  }
  out->pending = 1;
  for (const char *p = t->text, *end = t->text + t->textlen;
       (p = memchr(p, '\n', (size_t)(end - p))) != NULL; ++p)
    out->nlines++;
  out->quoted = memchr(t->text, '"', t->textlen) != NULL;
  return FITCL_OK;
}

fitcl_status fitcl__pa_text_general(fitcl__pa_text *t, long line0) {
  build *b = &t->b;
  fitcl__delim file = b->r;
  fitcl__delim_open_mem(&b->r, t->text, t->textlen, file.name, t->err, t->errlen);
  b->r.delim = '\t';
  b->r.line = line0;
  b->r.at_start = 0;
  fitcl__delim_record rec;
  int have = 0;
  fitcl_status st = fitcl__delim_next(&b->r, &rec, &have);
  while (st == FITCL_OK && have) {
    st = read_row(b, &rec);
    if (st == FITCL_OK) st = fitcl__delim_next(&b->r, &rec, &have);
  }
  fitcl__delim_close(&b->r);
  b->r = file;
  FITCL_FREE(t->text);
  t->textlen = 0;
  return st;
}

fitcl_status fitcl__pa_text_take(fitcl__pa_text *t, fitcl_pamatrix **out) {
  build *b = &t->b;
  *out = NULL;
  fitcl_pamatrix *m = calloc(1, sizeof *m);
  if (!m) return fitcl__ioerr(t->err, t->errlen, FITCL_ERR_NOMEM, "out of memory");
  m->nfamilies = b->nrows;
  m->ntaxa = b->ncols;
  m->stride = b->stride;
  m->packed = b->packed ? b->packed : malloc(1);
  m->fam_pool = b->rows.pool ? b->rows.pool : calloc(1, 1);
  m->fam_off = b->rows.off ? b->rows.off : malloc(sizeof *m->fam_off);
  m->tax_pool = b->cols.pool;
  m->tax_off = b->cols.off;
  b->packed = NULL;
  memset(&b->cols, 0, sizeof b->cols);
  memset(&b->rows, 0, sizeof b->rows);
  b->nrows = b->rowcap = 0;
  if (!m->packed || !m->fam_pool || !m->fam_off) {
    fitcl_pamatrix_destroy(m);
    return fitcl__ioerr(t->err, t->errlen, FITCL_ERR_NOMEM, "out of memory");
  }
  *out = m;
  return FITCL_OK;
}

void fitcl__pa_text_close(fitcl__pa_text *t) {
  if (!t) return;
  fitcl__strmap_free(&t->b.rowmap);
  pool_free(&t->b.cols);
  pool_free(&t->b.rows);
  free(t->b.packed);
  free(t->text);
  fitcl__delim_close(&t->b.r);
  if (t->f) fclose(t->f);
  free(t);
}
