/* Presence/absence readers: Rtab, TSV/CSV in both orientations, Roary and
 * Panaroo gene_presence_absence.csv, detection, streaming across buffer
 * boundaries, and every error case with its file:line:column. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "test_util.h"

static fitcl_pamatrix *parse_ok(const char *text, const char *name, fitcl_pamatrix_format fmt,
                                int taxa_in_rows) {
  fitcl_pamatrix_options o = {.format = fmt, .taxa_in_rows = taxa_in_rows};
  fitcl_pamatrix *m = NULL;
  char err[512] = "";
  fitcl_status st = fitcl_pamatrix_parse(text, strlen(text), name, &o, &m, err, sizeof err);
  cr_assert_eq(st, FITCL_OK, "parse failed: %s", err);
  cr_assert_not_null(m);
  return m;
}

/* Asserts the status and that the message starts with "<name>:L:C: ". */
static void parse_fails(const char *text, const char *name, fitcl_pamatrix_format fmt,
                        int taxa_in_rows, fitcl_status want, const char *where,
                        const char *words) {
  fitcl_pamatrix_options o = {.format = fmt, .taxa_in_rows = taxa_in_rows};
  fitcl_pamatrix *m = (fitcl_pamatrix *)0x1;
  char err[512] = "";
  fitcl_status st = fitcl_pamatrix_parse(text, strlen(text), name, &o, &m, err, sizeof err);
  cr_assert_eq(st, want, "status %d, want %d (%s)", st, want, err);
  cr_assert_null(m);
  char pos[128];
  snprintf(pos, sizeof pos, "%s:%s: ", name ? name : "<string>", where);
  cr_assert(strstr(err, pos) == err, "message '%s' does not start with '%s'", err, pos);
  cr_assert(strstr(err, words), "message '%s' lacks '%s'", err, words);
}

/* Compares a matrix with expected names and family-major values. */
static void expect(const fitcl_pamatrix *m, size_t nf, size_t nt, const char *const *fam,
                   const char *const *tax, const int *v) {
  cr_assert_eq(fitcl_pamatrix_nfamilies(m), nf);
  cr_assert_eq(fitcl_pamatrix_ntaxa(m), nt);
  for (size_t f = 0; f < nf; ++f) cr_assert_str_eq(fitcl_pamatrix_family_name(m, f), fam[f]);
  for (size_t t = 0; t < nt; ++t) cr_assert_str_eq(fitcl_pamatrix_taxon_name(m, t), tax[t]);
  for (size_t f = 0; f < nf; ++f)
    for (size_t t = 0; t < nt; ++t)
      cr_assert_eq(fitcl_pamatrix_get(m, f, t), v[f * nt + t], "cell %zu,%zu", f, t);
}

#define A FITCL_PA_ABSENT
#define P FITCL_PA_PRESENT
#define M FITCL_PA_MISSING

static const char *const FAM2[] = {"famA", "famB"};
static const char *const TAX3[] = {"g1", "g2", "g3"};

Test(pamatrix, rtab_basic) {
  fitcl_pamatrix *m = parse_ok("Gene\tg1\tg2\tg3\nfamA\t1\t0\t1\nfamB\t0\t3\t?\n",
                               "gene_presence_absence.Rtab", FITCL_PAMATRIX_AUTO, 0);
  int v[] = {P, A, P, A, P, M};
  expect(m, 2, 3, FAM2, TAX3, v);
  cr_assert_eq(fitcl_pamatrix_get(m, 2, 0), -1);
  cr_assert_null(fitcl_pamatrix_family_name(m, 2));
  cr_assert_null(fitcl_pamatrix_taxon_name(m, 3));
  fitcl_pamatrix_destroy(m);
  fitcl_pamatrix_destroy(NULL);
}

Test(pamatrix, values_counts_and_missing) {
  fitcl_pamatrix *m = parse_ok("Gene\tg1\tg2\tg3\tg4\tg5\tg6\tg7\n"
                               "famA\t12\t0.0\t1.0\tNA\t-\t?\t 1 \n",
                               NULL, FITCL_PAMATRIX_AUTO, 0);
  int v[] = {P, A, P, M, M, M, P};
  static const char *const fam[] = {"famA"};
  static const char *const tax[] = {"g1", "g2", "g3", "g4", "g5", "g6", "g7"};
  expect(m, 1, 7, fam, tax, v);
  fitcl_pamatrix_destroy(m);
}

Test(pamatrix, csv_table_with_quotes) {
  fitcl_pamatrix *m = parse_ok("\"Gene\",\"g1\",\"g2\",\"g3\"\n\"famA\",1,0,1\nfamB,\"0\",1,NA\n",
                               "table.csv", FITCL_PAMATRIX_AUTO, 0);
  int v[] = {P, A, P, A, P, M};
  expect(m, 2, 3, FAM2, TAX3, v);
  fitcl_pamatrix_destroy(m);
}

Test(pamatrix, taxa_in_rows_tsv_and_csv) {
  const char *tsv = "taxon\tfamA\tfamB\ng1\t1\t0\ng2\t0\t1\ng3\t1\t?\n";
  fitcl_pamatrix *m = parse_ok(tsv, "m.tsv", FITCL_PAMATRIX_AUTO, 1);
  /* Family-major: famA = (1,0,1), famB = (0,1,?). */
  int v[] = {P, A, P, A, P, M};
  expect(m, 2, 3, FAM2, TAX3, v);
  fitcl_pamatrix_destroy(m);
  m = parse_ok("taxon,famA,famB\ng1,1,0\ng2,0,1\ng3,1,?\n", "m.csv", FITCL_PAMATRIX_AUTO, 1);
  expect(m, 2, 3, FAM2, TAX3, v);
  fitcl_pamatrix_destroy(m);
}

/* A Roary header: the 14 annotation columns, then genomes. */
#define ROARY_HDR                                                                            \
  "\"Gene\",\"Non-unique Gene name\",\"Annotation\",\"No. isolates\",\"No. sequences\","     \
  "\"Avg sequences per isolate\",\"Genome Fragment\",\"Order within Fragment\","             \
  "\"Accessory Fragment\",\"Accessory Order with Fragment\",\"QC\",\"Min group size nuc\"," \
  "\"Max group size nuc\",\"Avg group size nuc\""
#define ROARY_ANN "\"\",\"hypothetical, protein\",\"2\",\"2\",\"1\",\"1\",\"1\",\"\",\"\",\"\",\"300\",\"300\",\"300\""

Test(pamatrix, roary_csv) {
  const char *text = ROARY_HDR ",\"g1\",\"g2\",\"g3\"\n"
                     "\"famA\"," ROARY_ANN ",\"g1_00001\",\"\",\"g3_00002\tg3_00007\"\n"
                     "\"famB\"," ROARY_ANN ",,\"g2_00005\",\"?\"\n";
  fitcl_pamatrix *m = parse_ok(text, "gene_presence_absence.csv", FITCL_PAMATRIX_AUTO, 0);
  int v[] = {P, A, P, A, P, M};
  expect(m, 2, 3, FAM2, TAX3, v);
  fitcl_pamatrix_destroy(m);
  /* Detected by content too, and with the explicit format. */
  m = parse_ok(text, NULL, FITCL_PAMATRIX_AUTO, 0);
  expect(m, 2, 3, FAM2, TAX3, v);
  fitcl_pamatrix_destroy(m);
  m = parse_ok(text, "renamed.dat", FITCL_PAMATRIX_PANGENOME_CSV, 0);
  expect(m, 2, 3, FAM2, TAX3, v);
  fitcl_pamatrix_destroy(m);
}

Test(pamatrix, panaroo_csv) {
  const char *text = "Gene,Non-unique Gene name,Annotation,g1,g2,g3\n"
                     "famA,,\"hypothetical protein, \"\"putative\"\"\",g1_1,,g3_4;g3_5\n"
                     "famB,xyz,\"multi\nline annotation\",,g2_8,NA\n";
  fitcl_pamatrix *m = parse_ok(text, "gene_presence_absence.csv", FITCL_PAMATRIX_AUTO, 0);
  int v[] = {P, A, P, A, P, M};
  expect(m, 2, 3, FAM2, TAX3, v);
  fitcl_pamatrix_destroy(m);
}

Test(pamatrix, pangenome_csv_error_lines_count_quoted_newlines) {
  /* famB's annotation spans lines 3-4, so famC is on line 5; its bad row
   * has one genome cell too many. */
  const char *text = "Gene,Non-unique Gene name,Annotation,g1,g2\n"
                     "famA,,x,g1_1,\n"
                     "famB,,\"two\nlines\",,g2_1\n"
                     "famC,,x,a,b,c\n";
  parse_fails(text, "p.csv", FITCL_PAMATRIX_AUTO, 0, FITCL_ERR_PARSE, "5:13", "ragged row");
}

Test(pamatrix, detection_by_content_and_override) {
  /* No extension: a tab in the first line means TSV. */
  fitcl_pamatrix *m = parse_ok("Gene\tg1\tg2\tg3\nfamA\t1\t0\t1\nfamB\t0\t1\t-\n", "matrix",
                               FITCL_PAMATRIX_AUTO, 0);
  cr_assert_eq(fitcl_pamatrix_ntaxa(m), 3);
  fitcl_pamatrix_destroy(m);
  m = parse_ok("Gene,g1,g2,g3\nfamA,1,0,1\nfamB,0,1,-\n", "matrix", FITCL_PAMATRIX_AUTO, 0);
  cr_assert_eq(fitcl_pamatrix_ntaxa(m), 3);
  fitcl_pamatrix_destroy(m);
  /* A tab-separated file named .csv is read as TSV when told so. */
  m = parse_ok("Gene\tg1\tg2\tg3\nfamA\t1\t0\t1\nfamB\t0\t1\t-\n", "odd.csv", FITCL_PAMATRIX_TSV,
               0);
  cr_assert_eq(fitcl_pamatrix_ntaxa(m), 3);
  fitcl_pamatrix_destroy(m);
  /* ... and fails as CSV, since each line is then a single cell. */
  parse_fails("Gene\tg1\tg2\tg3\nfamA\t1\t0\t1\n", "odd.csv", FITCL_PAMATRIX_AUTO, 0,
              FITCL_ERR_PARSE, "1:14", "no taxon columns");
}

Test(pamatrix, crlf_bom_blank_lines_trailing_delimiter) {
  fitcl_pamatrix *m = parse_ok("\xEF\xBB\xBFGene\tg1\tg2\tg3\t\r\n\r\nfamA\t1\t0\t1\t\r\n\n"
                               "famB\t0\t1\t?\r\n\r\n",
                               "x.Rtab", FITCL_PAMATRIX_AUTO, 0);
  int v[] = {P, A, P, A, P, M};
  expect(m, 2, 3, FAM2, TAX3, v);
  fitcl_pamatrix_destroy(m);
}

Test(pamatrix, r_style_header_without_corner) {
  fitcl_pamatrix *m = parse_ok("g1\tg2\tg3\nfamA\t1\t0\t1\nfamB\t0\t1\t?\n", "r.tsv",
                               FITCL_PAMATRIX_AUTO, 0);
  int v[] = {P, A, P, A, P, M};
  expect(m, 2, 3, FAM2, TAX3, v);
  fitcl_pamatrix_destroy(m);
}

/* ---- errors -------------------------------------------------------------- */

Test(pamatrix, error_empty_file) {
  parse_fails("", "e.Rtab", FITCL_PAMATRIX_AUTO, 0, FITCL_ERR_PARSE, "1:1", "empty file");
  parse_fails("\n\n  \n", "e.Rtab", FITCL_PAMATRIX_AUTO, 0, FITCL_ERR_PARSE, "1:1",
              "empty file");
}

Test(pamatrix, error_no_rows) {
  parse_fails("Gene\tg1\tg2\n", "h.Rtab", FITCL_PAMATRIX_AUTO, 0, FITCL_ERR_PARSE, "2:1",
              "no data rows");
  parse_fails("Gene\n", "h.Rtab", FITCL_PAMATRIX_AUTO, 0, FITCL_ERR_PARSE, "1:5",
              "no taxon columns");
}

Test(pamatrix, error_ragged_rows) {
  /* Short row: the end of line 3 is column 9 ("famB\t0\t1" has 8 bytes). */
  parse_fails("Gene\tg1\tg2\tg3\nfamA\t1\t0\t1\nfamB\t0\t1\nfamC\t1\t1\t1\n", "r.Rtab",
              FITCL_PAMATRIX_AUTO, 0, FITCL_ERR_PARSE, "3:9", "ragged row: 3 cells");
  /* Long row: the first surplus cell starts at column 12. */
  parse_fails("Gene\tg1\tg2\tg3\nfamA\t1\t0\t1\t1\t0\n", "r.Rtab", FITCL_PAMATRIX_AUTO, 0,
              FITCL_ERR_PARSE, "2:12", "ragged row: at least 6 cells");
  /* A row holding only its name. */
  parse_fails("Gene\tg1\nfamA\n", "r.Rtab", FITCL_PAMATRIX_AUTO, 0, FITCL_ERR_PARSE, "2:5",
              "ragged row");
  /* Taxa in rows: the same checks with the roles swapped. */
  parse_fails("taxon,f1,f2\ng1,1,0\ng2,1\n", "t.csv", FITCL_PAMATRIX_AUTO, 1, FITCL_ERR_PARSE,
              "3:5", "ragged row");
}

Test(pamatrix, error_bad_values) {
  parse_fails("Gene\tg1\tg2\tg3\nfamA\t1\t0\t1\nfamB\t0\tyes\t1\n", "b.Rtab",
              FITCL_PAMATRIX_AUTO, 0, FITCL_ERR_DATA, "3:8", "bad value 'yes'");
  parse_fails("Gene\tg1\tg2\nfamA\t1\t-1\n", "b.Rtab", FITCL_PAMATRIX_AUTO, 0, FITCL_ERR_DATA,
              "2:8", "bad value '-1'");
  parse_fails("Gene\tg1\tg2\nfamA\tx\t1\n", "b.Rtab", FITCL_PAMATRIX_AUTO, 0, FITCL_ERR_DATA,
              "2:6", "bad value 'x'");
  parse_fails("Gene\tg1\tg2\nfamA\t1\t\n", "b.Rtab", FITCL_PAMATRIX_AUTO, 0, FITCL_ERR_DATA,
              "2:8", "bad value ''");
  parse_fails("Gene,g1,g2\nfamA,1,1e5\n", "b.csv", FITCL_PAMATRIX_AUTO, 0, FITCL_ERR_DATA, "2:8",
              "bad value '1e5'");
}

Test(pamatrix, error_duplicate_names) {
  parse_fails("Gene\tg1\tg2\tg1\nfamA\t1\t0\t1\n", "d.Rtab", FITCL_PAMATRIX_AUTO, 0,
              FITCL_ERR_DATA, "1:12", "duplicate taxon name 'g1'");
  parse_fails("Gene\tg1\nfamA\t1\nfamB\t0\nfamA\t1\n", "d.Rtab", FITCL_PAMATRIX_AUTO, 0,
              FITCL_ERR_DATA, "4:1", "duplicate family name 'famA'");
  parse_fails("taxon\tf1\tf2\nA\t1\t0\nA\t0\t0\n", "d.tsv", FITCL_PAMATRIX_AUTO, 1,
              FITCL_ERR_DATA, "3:1", "duplicate taxon name 'A'");
  parse_fails("taxon\tf1\tf1\nA\t1\t0\n", "d.tsv", FITCL_PAMATRIX_AUTO, 1, FITCL_ERR_DATA,
              "1:10", "duplicate family name 'f1'");
}

Test(pamatrix, error_empty_names) {
  parse_fails("Gene\tg1\t\tg3\nfamA\t1\t0\t1\n", "n.Rtab", FITCL_PAMATRIX_AUTO, 0,
              FITCL_ERR_DATA, "1:9", "empty taxon name");
  parse_fails("Gene\tg1\n\t1\n", "n.Rtab", FITCL_PAMATRIX_AUTO, 0, FITCL_ERR_DATA, "2:1",
              "empty family name");
}

Test(pamatrix, error_quotes) {
  parse_fails("Gene,g1\n\"famA,1\n", "q.csv", FITCL_PAMATRIX_AUTO, 0, FITCL_ERR_PARSE, "2:1",
              "unterminated quoted field");
  parse_fails("Gene,g1\n\"famA\"x,1\n", "q.csv", FITCL_PAMATRIX_AUTO, 0, FITCL_ERR_PARSE, "2:7",
              "after a closing quote");
}

Test(pamatrix, error_pangenome_headers) {
  parse_fails("Gene,Non-unique Gene name,Annotation,No. isolates,No. sequences,oops,g1\n"
              "famA,,,1,1,1,x\n",
              "g.csv", FITCL_PAMATRIX_AUTO, 0, FITCL_ERR_PARSE, "1:65",
              "column 6 should be \"Avg sequences per isolate\"");
  parse_fails("Gene,g1\nfamA,x\n", "g.csv", FITCL_PAMATRIX_PANGENOME_CSV, 0, FITCL_ERR_PARSE,
              "1:1", "not a Roary/Panaroo");
}

Test(pamatrix, error_bad_options) {
  fitcl_pamatrix_options o = {.format = FITCL_PAMATRIX_PANGENOME_CSV, .taxa_in_rows = 1};
  fitcl_pamatrix *m = NULL;
  char err[256];
  cr_assert_eq(fitcl_pamatrix_parse("x", 1, "a.csv", &o, &m, err, sizeof err), FITCL_ERR_ARG);
  cr_assert(strstr(err, "taxa in rows"), "%s", err);
  o.format = (fitcl_pamatrix_format)42;
  o.taxa_in_rows = 0;
  cr_assert_eq(fitcl_pamatrix_parse("x", 1, "a.csv", &o, &m, err, sizeof err), FITCL_ERR_ARG);
  cr_assert_eq(fitcl_pamatrix_parse(NULL, 1, "a.csv", NULL, &m, err, sizeof err), FITCL_ERR_NULL);
}

Test(pamatrix, error_nul_byte) {
  const char text[] = "Gene\tg1\nfa\0mA\t1\n";
  fitcl_pamatrix *m = NULL;
  char err[256];
  cr_assert_eq(fitcl_pamatrix_parse(text, sizeof text - 1, "z.Rtab", NULL, &m, err, sizeof err),
               FITCL_ERR_PARSE);
  cr_assert(strstr(err, "z.Rtab:2:3: "), "%s", err);
}

/* ---- files and streaming ------------------------------------------------- */

static unsigned long long rng_state = 88172645463325252ull;
static unsigned rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (unsigned)(rng_state >> 32);
}

/* Writes a random nf x nt matrix (families in rows unless transposed) to a
 * file, one value per cell drawn from {0, 1, 2 (a count), ?}; returns the
 * expected family-major values. */
static int *write_random(const char *path, size_t nf, size_t nt, int taxa_in_rows) {
  int *v = malloc(nf * nt * sizeof *v);
  static const char *sym[] = {"0", "1", "2", "?"};
  int code[] = {A, P, P, M};
  int *pick = malloc(nf * nt * sizeof *pick);
  for (size_t k = 0; k < nf * nt; ++k) {
    pick[k] = (int)(rnd() % 4);
    v[k] = code[pick[k]];
  }
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  size_t nrow = taxa_in_rows ? nt : nf, ncol = taxa_in_rows ? nf : nt;
  fputs("Gene", f);
  for (size_t c = 0; c < ncol; ++c) fprintf(f, "\t%s%zu", taxa_in_rows ? "fam" : "genome_", c);
  fputc('\n', f);
  for (size_t r = 0; r < nrow; ++r) {
    fprintf(f, "%s%zu", taxa_in_rows ? "genome_" : "fam", r);
    for (size_t c = 0; c < ncol; ++c) {
      size_t fam = taxa_in_rows ? c : r, tax = taxa_in_rows ? r : c;
      fprintf(f, "\t%s", sym[pick[fam * nt + tax]]);
    }
    fputc('\n', f);
  }
  fclose(f);
  free(pick);
  return v;
}

static void check_random(const fitcl_pamatrix *m, const int *v, size_t nf, size_t nt) {
  cr_assert_eq(fitcl_pamatrix_nfamilies(m), nf);
  cr_assert_eq(fitcl_pamatrix_ntaxa(m), nt);
  char nm[32];
  snprintf(nm, sizeof nm, "fam%zu", nf - 1);
  cr_assert_str_eq(fitcl_pamatrix_family_name(m, nf - 1), nm);
  snprintf(nm, sizeof nm, "genome_%zu", nt - 1);
  cr_assert_str_eq(fitcl_pamatrix_taxon_name(m, nt - 1), nm);
  size_t bad = 0;
  for (size_t f = 0; f < nf; ++f)
    for (size_t t = 0; t < nt; ++t) bad += fitcl_pamatrix_get(m, f, t) != v[f * nt + t];
  cr_assert_eq(bad, 0, "%zu cells differ", bad);
}

Test(pamatrix, streaming_file_crosses_buffer_boundaries) {
  /* About 3 MB: records straddle the 1 MiB read window many times. */
  char *dir = fitcl_test_tmpdir();
  char path[600];
  snprintf(path, sizeof path, "%s/big.Rtab", dir);
  size_t nf = 5000, nt = 301;
  int *v = write_random(path, nf, nt, 0);
  fitcl_pamatrix *m = NULL;
  char err[512];
  cr_assert_eq(fitcl_pamatrix_read(path, NULL, &m, err, sizeof err), FITCL_OK, "%s", err);
  check_random(m, v, nf, nt);
  fitcl_pamatrix_destroy(m);
  free(v);
  fitcl_test_rmtree(dir);
  free(dir);
}

Test(pamatrix, streaming_lines_longer_than_the_window) {
  /* Taxa in rows with 700,000 families: each line is about 1.4 MB. */
  char *dir = fitcl_test_tmpdir();
  char path[600];
  snprintf(path, sizeof path, "%s/wide.tsv", dir);
  size_t nf = 700000, nt = 3;
  int *v = write_random(path, nf, nt, 1);
  fitcl_pamatrix_options o = {.format = FITCL_PAMATRIX_AUTO, .taxa_in_rows = 1};
  fitcl_pamatrix *m = NULL;
  char err[512];
  cr_assert_eq(fitcl_pamatrix_read(path, &o, &m, err, sizeof err), FITCL_OK, "%s", err);
  check_random(m, v, nf, nt);
  fitcl_pamatrix_destroy(m);
  free(v);
  fitcl_test_rmtree(dir);
  free(dir);
}

Test(pamatrix, file_errors_name_the_file) {
  char *dir = fitcl_test_tmpdir();
  char *p = fitcl_test_write_file(dir, "bad.Rtab", "Gene\tg1\tg2\nfamA\t1\t0\nfamB\t1\tz\n");
  fitcl_pamatrix *m = NULL;
  char err[1024];
  cr_assert_eq(fitcl_pamatrix_read(p, NULL, &m, err, sizeof err), FITCL_ERR_DATA);
  char want[700];
  snprintf(want, sizeof want, "%s:3:8: ", p);
  cr_assert(strstr(err, want) == err, "%s", err);
  char missing[700];
  snprintf(missing, sizeof missing, "%s/none.Rtab", dir);
  cr_assert_eq(fitcl_pamatrix_read(missing, NULL, &m, err, sizeof err), FITCL_ERR_FILE);
  free(p);
  fitcl_test_rmtree(dir);
  free(dir);
}

/* ---- construction and writing -------------------------------------------- */

Test(pamatrix, create_write_read_round_trip) {
  const uint8_t vals[] = {1, 0, 2, 0, 1, 1};
  const char *tax[] = {"g1", "g 2", "\"g3\" x"};
  fitcl_pamatrix *m = NULL;
  char err[512];
  cr_assert_eq(fitcl_pamatrix_create(2, 3, vals, NULL, tax, &m, err, sizeof err), FITCL_OK,
               "%s", err);
  cr_assert_str_eq(fitcl_pamatrix_family_name(m, 1), "F2");
  char *dir = fitcl_test_tmpdir();
  char path[600];
  snprintf(path, sizeof path, "%s/out.Rtab", dir);
  cr_assert_eq(fitcl_pamatrix_write_rtab(m, path, err, sizeof err), FITCL_OK, "%s", err);
  fitcl_pamatrix *r = NULL;
  cr_assert_eq(fitcl_pamatrix_read(path, NULL, &r, err, sizeof err), FITCL_OK, "%s", err);
  static const char *const fam[] = {"F1", "F2"};
  int v[] = {P, A, M, A, P, P};
  expect(r, 2, 3, fam, tax, v);
  fitcl_pamatrix_destroy(m);
  fitcl_pamatrix_destroy(r);
  fitcl_test_rmtree(dir);
  free(dir);
}

Test(pamatrix, create_rejects_bad_input) {
  const uint8_t vals[] = {1, 0, 3, 0};
  const char *tax[] = {"g1", "g1"};
  const char *tax_ok[] = {"g1", "g2"};
  fitcl_pamatrix *m = NULL;
  char err[512];
  cr_assert_eq(fitcl_pamatrix_create(2, 2, vals, NULL, tax_ok, &m, err, sizeof err),
               FITCL_ERR_DATA);
  const uint8_t ok[] = {1, 0, 1, 0};
  cr_assert_eq(fitcl_pamatrix_create(2, 2, ok, NULL, tax, &m, err, sizeof err), FITCL_ERR_DATA);
  cr_assert(strstr(err, "duplicate taxon name 'g1'"), "%s", err);
  cr_assert_eq(fitcl_pamatrix_create(0, 2, ok, NULL, tax_ok, &m, err, sizeof err),
               FITCL_ERR_SIZE);
  cr_assert_null(m);
}

Test(pamatrix, detection_reads_the_header_outside_quotes) {
  /* No extension: a tab inside a quoted name does not make a TSV. */
  fitcl_pamatrix *m = parse_ok("Gene,\"g\t1\",g2\nfamA,1,0\nfamB,0,1\n", "matrix",
                               FITCL_PAMATRIX_AUTO, 0);
  cr_assert_eq(fitcl_pamatrix_ntaxa(m), 2);
  cr_assert_str_eq(fitcl_pamatrix_taxon_name(m, 0), "g\t1");
  fitcl_pamatrix_destroy(m);
  /* The header is the first line that is not blank. */
  m = parse_ok("\n\nGene,g1,g2\nfamA,1,0\n", "matrix", FITCL_PAMATRIX_AUTO, 0);
  cr_assert_eq(fitcl_pamatrix_ntaxa(m), 2);
  fitcl_pamatrix_destroy(m);
  /* Commas in an unquoted Rtab name: still a TSV. */
  m = parse_ok("Gene\tg1\tg2\nhypothetical protein, putative\t1\t0\n", "matrix",
               FITCL_PAMATRIX_AUTO, 0);
  cr_assert_str_eq(fitcl_pamatrix_family_name(m, 0), "hypothetical protein, putative");
  fitcl_pamatrix_destroy(m);
  /* Quoted names are not trimmed, and a space before a quote is text. */
  m = parse_ok("Gene,\" g1 \", \"g2\"\nfamA,1,0\n", "m.csv", FITCL_PAMATRIX_AUTO, 0);
  cr_assert_str_eq(fitcl_pamatrix_taxon_name(m, 0), " g1 ");
  cr_assert_str_eq(fitcl_pamatrix_taxon_name(m, 1), " \"g2\"");
  fitcl_pamatrix_destroy(m);
}

Test(pamatrix, streaming_quoted_fields_across_the_window) {
  /* A file read through the 1 MiB window whose quoted names (with commas
   * and newlines) straddle window boundaries: the same matrix as the
   * text parsed in memory. */
  char *dir = fitcl_test_tmpdir();
  size_t nf = 40000, cap = nf * 64 + 64, len = 0;
  char *t = malloc(cap);
  len += (size_t)snprintf(t, cap, "Gene,\"g,1\",\"g\"\"2\",g3\n");
  for (size_t f = 0; f < nf; ++f)
    len += (size_t)snprintf(t + len, cap - len, "\"fam %zu,\nline two\",%zu,%zu,1\n", f, f & 1,
                            (f >> 1) & 1);
  char *path = fitcl_test_write_file(dir, "q.csv", t);
  fitcl_pamatrix *a = NULL, *b = NULL;
  char err[512];
  cr_assert_eq(fitcl_pamatrix_read(path, NULL, &a, err, sizeof err), FITCL_OK, "%s", err);
  cr_assert_eq(fitcl_pamatrix_parse(t, len, "q.csv", NULL, &b, err, sizeof err), FITCL_OK, "%s",
               err);
  cr_assert_eq(fitcl_pamatrix_nfamilies(a), nf);
  cr_assert_str_eq(fitcl_pamatrix_taxon_name(a, 0), "g,1");
  cr_assert_str_eq(fitcl_pamatrix_taxon_name(a, 1), "g\"2");
  for (size_t f = 0; f < nf; f += 997) {
    cr_assert_str_eq(fitcl_pamatrix_family_name(a, f), fitcl_pamatrix_family_name(b, f));
    for (size_t x = 0; x < 3; ++x)
      cr_assert_eq(fitcl_pamatrix_get(a, f, x), fitcl_pamatrix_get(b, f, x));
  }
  cr_assert_eq(fitcl_pamatrix_get(a, 3, 0), P);
  cr_assert_eq(fitcl_pamatrix_get(a, 3, 1), P);
  fitcl_pamatrix_destroy(a);
  fitcl_pamatrix_destroy(b);
  free(t);
  free(path);
  fitcl_test_rmtree(dir);
  free(dir);
}
