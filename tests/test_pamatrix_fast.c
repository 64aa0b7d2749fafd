/* The fast reader of simple Rtab rows against the general reader: random
 * matrices (sizes, missing cells and counts, CRLF, blank lines, trailing
 * tabs, with and without a last newline) read both ways, from memory and
 * from files, over 1 to 5 threads and tiny read buffers, give the same
 * bytes and names; malformed rows give the general reader's status and
 * message.  The packing kernels and the transpose are checked against cell
 * by cell references. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "io/pamatrix.h"
#include "io/pamatrix_fast.h"
#include "phylo/pamatrix.h"
#include "test_util.h"

static unsigned long long rng = 0x2545F4914F6CDD1Dull;
static unsigned rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (unsigned)(rng >> 32);
}

/* ---- kernels ------------------------------------------------------------ */

/* Cell by cell, as the general reader classifies a one-character cell. */
static int ref_pack(const char *s, size_t n, uint8_t *dst) {
  memset(dst, 0, (n + 3) / 4);
  for (size_t t = 0; t < n; ++t) {
    char c = s[2 * t + 1];
    int v = c == '0' ? 0 : (c >= '1' && c <= '9') ? 1 : (c == '?' || c == '-') ? 2 : -1;
    if (s[2 * t] != '\t' || v < 0) return -1;
    dst[t / 4] |= (uint8_t)(v << (2 * (t % 4)));
  }
  return 0;
}

Test(pamatrix_fast, pack_kernels_match_cell_by_cell) {
  static const char cells[] = "0101010101234567899?-";
  static const char junk[] = "x \r\n\"\0.,N\t";
  char s[2 * 80 + 1];
  uint8_t want[21], a[21], b[21];
  size_t bad_seen = 0, ok_seen = 0;
  for (int iter = 0; iter < 200000; ++iter) {
    size_t n = rnd() % 80;
    int dense = rnd() % 3 == 0; /* mostly 0/1, the vector case */
    for (size_t t = 0; t < n; ++t) {
      s[2 * t] = '\t';
      s[2 * t + 1] = dense ? (char)('0' + rnd() % 2) : cells[rnd() % (sizeof cells - 1)];
    }
    if (n && rnd() % 4 == 0) s[rnd() % (2 * n)] = junk[rnd() % (sizeof junk - 1)];
    memset(a, 0xAA, sizeof a);
    memset(b, 0x55, sizeof b);
    int rw = ref_pack(s, n, want);
    int ra = fitcl__pa_pack(s, n, a), rb = fitcl__pa_pack_swar(s, n, b);
    cr_assert_eq(ra, rw, "vector kernel status, n=%zu", n);
    cr_assert_eq(rb, rw, "word kernel status, n=%zu", n);
    if (rw == 0) {
      cr_assert(memcmp(a, want, (n + 3) / 4) == 0, "vector kernel bytes, n=%zu", n);
      cr_assert(memcmp(b, want, (n + 3) / 4) == 0, "word kernel bytes, n=%zu", n);
      ok_seen++;
    } else {
      bad_seen++;
    }
  }
  cr_assert(ok_seen > 1000 && bad_seen > 1000);
}

Test(pamatrix_fast, transpose_matches_cell_by_cell) {
  static const size_t sizes[][2] = {{1, 1}, {3, 5}, {4, 4}, {7, 9}, {64, 65}, {257, 70},
                                    {5, 1031}, {1030, 3}, {300, 300}, {2100, 2050}};
  for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; ++z) {
    size_t nr = sizes[z][0], nc = sizes[z][1], sin = (nc + 3) / 4, sout = (nr + 3) / 4;
    uint8_t *in = calloc(nr, sin), *out = malloc(nc * sout), *want = calloc(nc, sout);
    for (size_t r = 0; r < nr; ++r)
      for (size_t c = 0; c < nc; ++c) {
        unsigned v = rnd() % 3;
        in[r * sin + c / 4] |= (uint8_t)(v << (2 * (c % 4)));
        want[c * sout + r / 4] |= (uint8_t)(v << (2 * (r % 4)));
      }
    for (unsigned th = 1; th <= 3; ++th) {
      memset(out, 0xFF, nc * sout);
      fitcl__pa_transpose(in, nr, nc, out, th);
      cr_assert(memcmp(out, want, nc * sout) == 0, "%zu x %zu, %u threads", nr, nc, th);
    }
    free(in);
    free(out);
    free(want);
  }
}

/* ---- random tables ------------------------------------------------------- */

typedef struct text {
  char *s;
  size_t n, cap;
} text;

static void put(text *t, const char *s, size_t n) {
  if (t->n + n + 1 > t->cap) {
    t->cap = (t->n + n + 1) * 2;
    t->s = realloc(t->s, t->cap);
  }
  memcpy(t->s + t->n, s, n);
  t->n += n;
  t->s[t->n] = '\0';
}
static void puts_(text *t, const char *s) { put(t, s, strlen(s)); }

typedef struct shape {
  size_t nrow, ncol;
  int crlf, last_newline, trailing_tab, blank_lines, rare_cells, no_corner;
} shape;

/* A table in the simple form: every row goes to the fast reader. */
static text random_table(const shape *h) {
  static const char rare[] = "23456789?-";
  text t = {0};
  const char *eol = h->crlf ? "\r\n" : "\n";
  char nm[64];
  if (!h->no_corner) puts_(&t, "Gene");
  for (size_t c = 0; c < h->ncol; ++c) {
    snprintf(nm, sizeof nm, "%sg%zu", c || !h->no_corner ? "\t" : "", c);
    puts_(&t, nm);
  }
  puts_(&t, eol);
  for (size_t r = 0; r < h->nrow; ++r) {
    if (h->blank_lines && rnd() % 8 == 0) puts_(&t, eol);
    snprintf(nm, sizeof nm, "fam %zu,x'\"%u", r, rnd() % 1000);
    puts_(&t, nm);
    for (size_t c = 0; c < h->ncol; ++c) {
      char cell[2] = {'\t', (char)('0' + rnd() % 2)};
      if (h->rare_cells && rnd() % 5 == 0) cell[1] = rare[rnd() % (sizeof rare - 1)];
      put(&t, cell, 2);
    }
    if (h->trailing_tab && rnd() % 2) puts_(&t, "\t");
    if (r + 1 < h->nrow || h->last_newline) puts_(&t, eol);
  }
  return t;
}

static void same_matrix(const fitcl_pamatrix *a, const fitcl_pamatrix *b, const char *what) {
  cr_assert_eq(a->nfamilies, b->nfamilies, "%s: families", what);
  cr_assert_eq(a->ntaxa, b->ntaxa, "%s: taxa", what);
  cr_assert_eq(a->stride, b->stride, "%s", what);
  cr_assert(memcmp(a->packed, b->packed, a->nfamilies * a->stride) == 0, "%s: cells", what);
  for (size_t f = 0; f < a->nfamilies; ++f)
    cr_assert_str_eq(fitcl__pa_family(a, f), fitcl__pa_family(b, f), "%s: family %zu", what, f);
  for (size_t t = 0; t < a->ntaxa; ++t)
    cr_assert_str_eq(fitcl__pa_taxon(a, t), fitcl__pa_taxon(b, t), "%s: taxon %zu", what, t);
}

/* Reads t both ways, from memory and from a file, with several thread
 * counts and read buffers; returns whether the fast reader took it. */
static int both_ways(const text *t, const char *dir, int taxa_in_rows, fitcl_status *status,
                     char *msg, size_t msglen) {
  fitcl_pamatrix_options o = {.format = FITCL_PAMATRIX_AUTO, .taxa_in_rows = taxa_in_rows};
  fitcl__pamatrix_cfg ref = {.general_only = 1};
  fitcl_pamatrix *m0 = NULL;
  char e0[512] = "";
  fitcl_status s0 = fitcl__pamatrix_parse_cfg(t->s, t->n, "in.Rtab", &o, &ref, &m0, e0, sizeof e0);
  cr_assert_eq(ref.used_fast, 0);
  char path[600];
  snprintf(path, sizeof path, "%s/in.Rtab", dir);
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(t->s, 1, t->n, f), t->n);
  cr_assert_eq(fclose(f), 0);
  fitcl_pamatrix *mf = NULL;
  char ef[1024] = "";
  fitcl_status sf = fitcl__pamatrix_read_cfg(path, &o, &ref, &mf, ef, sizeof ef);
  cr_assert_eq(sf, s0, "file vs memory, general reader");
  int fast = -1;
  static const size_t chunks[] = {0, 16, 61, 4096};
  for (unsigned th = 1; th <= 5; ++th) {
    fitcl__pamatrix_cfg cfg = {.threads = th, .chunk = chunks[th % 4]};
    fitcl_pamatrix *m1 = NULL;
    char e1[512] = "";
    fitcl_status s1 =
        fitcl__pamatrix_parse_cfg(t->s, t->n, "in.Rtab", &o, &cfg, &m1, e1, sizeof e1);
    cr_assert_eq(s1, s0, "memory, %u threads: status %d, want %d (%s)", th, s1, s0, e1);
    cr_assert_str_eq(e1, e0, "memory, %u threads", th);
    if (s0 == FITCL_OK) same_matrix(m0, m1, "memory");
    if (fast < 0) fast = cfg.used_fast;
    cr_assert_eq(cfg.used_fast, fast, "the fast reader's choice depends on threads");
    fitcl_pamatrix_destroy(m1);

    fitcl_pamatrix *m2 = NULL;
    char e2[1024] = "";
    s1 = fitcl__pamatrix_read_cfg(path, &o, &cfg, &m2, e2, sizeof e2);
    cr_assert_eq(s1, s0, "file, %u threads, chunk %zu: status %d (%s)", th, cfg.chunk, s1, e2);
    cr_assert_str_eq(e2, ef, "file, %u threads", th);
    if (s0 == FITCL_OK) same_matrix(mf, m2, "file");
    cr_assert_eq(cfg.used_fast, fast, "file and memory differ on the fast reader");
    fitcl_pamatrix_destroy(m2);
  }
  /* The public reader is the default configuration. */
  fitcl_pamatrix *mp = NULL;
  char ep[1024] = "";
  cr_assert_eq(fitcl_pamatrix_read(path, &o, &mp, ep, sizeof ep), s0);
  cr_assert_str_eq(ep, ef);
  if (s0 == FITCL_OK) same_matrix(m0, mp, "public");
  fitcl_pamatrix_destroy(mp);
  fitcl_pamatrix_destroy(m0);
  fitcl_pamatrix_destroy(mf);
  *status = s0;
  snprintf(msg, msglen, "%s", e0);
  return fast;
}

Test(pamatrix_fast, random_tables_read_the_same_both_ways) {
  char *dir = fitcl_test_tmpdir();
  int taken = 0;
  for (int iter = 0; iter < 120; ++iter) {
    shape h = {1 + rnd() % (iter < 60 ? 12 : 300), 1 + rnd() % (iter < 60 ? 40 : 700),
               (int)(rnd() % 2), (int)(rnd() % 2), (int)(rnd() % 3 == 0),
               (int)(rnd() % 3 == 0), (int)(rnd() % 2), (int)(rnd() % 5 == 0)};
    text t = random_table(&h);
    fitcl_status st;
    char msg[512];
    int tir = (int)(rnd() % 4 == 0);
    int fast = both_ways(&t, dir, tir, &st, msg, sizeof msg);
    cr_assert_eq(st, FITCL_OK, "%s", msg);
    cr_assert_eq(fast, 1, "a simple table (%zu x %zu) went to the general reader", h.nrow, h.ncol);
    taken += fast;
    free(t.s);
  }
  cr_assert_eq(taken, 120);
  fitcl_test_rmtree(dir);
  free(dir);
}

Test(pamatrix_fast, file_larger_than_the_read_buffers) {
  /* About 6 MB: two ranges of the default split, rows across 1 MiB reads. */
  char *dir = fitcl_test_tmpdir();
  shape h = {1500, 2000, 0, 1, 1, 0, 1, 0};
  text t = random_table(&h);
  fitcl_status st;
  char msg[512];
  cr_assert_eq(both_ways(&t, dir, 0, &st, msg, sizeof msg), 1);
  cr_assert_eq(st, FITCL_OK, "%s", msg);
  free(t.s);
  fitcl_test_rmtree(dir);
  free(dir);
}

/* One row of a simple table spoiled; both readers must agree on the
 * outcome, and the general reader's message must stand. */
static const struct {
  const char *what, *insert;
  int at_cell;   /* replaces a cell (1) or goes at the start of the row (0) */
  int fast_ok;   /* the fast reader may still take it */
} SPOIL[] = {
    {"NA cell", "NA", 1, 0},
    {"count with a dot", "1.0", 1, 0},
    {"spaced cell", " 1", 1, 0},
    {"bad letter", "x", 1, 0},
    {"empty cell", "", 1, 0},
    {"extra cell", "1\t0", 1, 0},
    {"quoted cell", "\"1\"", 1, 0},
    {"NUL cell", "\0", 1, 0},
    {"CR after a cell", "1\r", 1, 1},
    {"quoted name", "\"q\"\"n\"", 0, 0},
    {"leading space", " ", 0, 0},
    {"empty name", "", 0, 0},
    {"blank line of tabs", "\t \t\n", 0, 0},
    {"duplicate name", "", 0, 0},
    {"name alone", "", 0, 0},
    {"commas for tabs", "", 0, 0},
};

Test(pamatrix_fast, malformed_rows_keep_the_general_message) {
  char *dir = fitcl_test_tmpdir();
  for (size_t k = 0; k < sizeof SPOIL / sizeof SPOIL[0]; ++k) {
    for (int rep = 0; rep < 6; ++rep) {
      shape h = {2 + rnd() % 40, 1 + rnd() % 30, (int)(rnd() % 2), (int)(rnd() % 2), 0, 0,
                 (int)(rnd() % 2), 0};
      /* Rows as text, then the spoiled one rebuilt. */
      size_t row = 1 + rnd() % (h.nrow - 1);
      text good = random_table(&h);
      text t = {0};
      const char *p = good.s;
      for (size_t line = 0; line <= row; ++line) p = strchr(p, '\n') + 1;
      put(&t, good.s, (size_t)(p - good.s));
      const char *eol = strchr(p, '\n');
      size_t linelen = eol ? (size_t)(eol - p) + 1 : strlen(p);
      const char *tab = memchr(p, '\t', linelen);
      size_t ins = strcmp(SPOIL[k].what, "NUL cell") ? strlen(SPOIL[k].insert) : 1;
      if (!strcmp(SPOIL[k].what, "duplicate name")) {
        const char *first = strchr(good.s, '\n') + 1;
        put(&t, first, (size_t)((const char *)strchr(first, '\t') - first));
        put(&t, tab, linelen - (size_t)(tab - p));
      } else if (!strcmp(SPOIL[k].what, "name alone")) {
        put(&t, p, (size_t)(tab - p));
        put(&t, "\n", 1);
      } else if (!strcmp(SPOIL[k].what, "commas for tabs")) {
        for (const char *q = p; q < p + linelen; ++q) put(&t, *q == '\t' ? "," : q, 1);
      } else if (!strcmp(SPOIL[k].what, "empty name")) {
        put(&t, tab, linelen - (size_t)(tab - p));
      } else if (SPOIL[k].at_cell) {
        size_t c = rnd() % h.ncol;
        const char *cell = tab + 1 + 2 * c;
        put(&t, p, (size_t)(cell - p));
        put(&t, SPOIL[k].insert, ins);
        put(&t, cell + 1, linelen - (size_t)(cell + 1 - p));
      } else {
        put(&t, SPOIL[k].insert, ins);
        put(&t, p, linelen);
      }
      put(&t, p + linelen, good.n - (size_t)(p + linelen - good.s));
      fitcl_status st;
      char msg[512];
      int tir = (int)(rnd() % 3 == 0);
      int fast = both_ways(&t, dir, tir, &st, msg, sizeof msg);
      if (!SPOIL[k].fast_ok) cr_assert_eq(fast, 0, "%s: the fast reader took it", SPOIL[k].what);
      free(good.s);
      free(t.s);
    }
  }
  fitcl_test_rmtree(dir);
  free(dir);
}

Test(pamatrix_fast, duplicate_row_name_message) {
  /* The fast reader finds the rows, the general one names the duplicate. */
  const char *s = "Gene\ta\tb\nf1\t1\t0\nf2\t0\t0\nf1\t1\t1\n";
  fitcl__pamatrix_cfg cfg = {.threads = 2};
  fitcl_pamatrix *m = NULL;
  char err[512] = "";
  cr_assert_eq(fitcl__pamatrix_parse_cfg(s, strlen(s), "x.Rtab", NULL, &cfg, &m, err, sizeof err),
               FITCL_ERR_DATA);
  cr_assert_str_eq(err, "x.Rtab:4:1: duplicate family name 'f1' (data rows 1 and 3)");
  cr_assert_eq(cfg.used_fast, 0);
}
