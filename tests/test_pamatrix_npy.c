/* Presence/absence matrices as uint8 .npy arrays with names files: every
 * cell against the array written here (C and Fortran order, reads in blocks
 * from 8 bytes up so that every block boundary is crossed), the same matrix
 * as Rtab through the text reader, each malformed array or names file with
 * its message; and end to end, fitcl simulate -o x.npy read back by loglik
 * and ancestral giving the very output the Rtab gives. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fitcl.h"
#include "io/pamatrix_npy.h"
#include "npy_write.h"
#include "test_util.h"

/* The two-bit code the reader should give a byte. */
static int code_of(uint8_t v) { return v == 255 ? FITCL_PA_MISSING : v; }

/* nf x nt values, family-major: 0/1, and missing with probability
 * miss / 256 (the fast paths take groups of cells with none missing). */
static uint8_t *values_miss(size_t nf, size_t nt, unsigned seed, unsigned miss) {
  uint8_t *v = malloc(nf * nt + 1);
  uint32_t s = seed * 2654435761u + 1;
  for (size_t i = 0; i < nf * nt; ++i) {
    s = s * 1664525u + 1013904223u;
    const unsigned r = s >> 24;
    v[i] = r < miss ? 255 : (uint8_t)(s >> 8 & 1);
  }
  return v;
}

/* About one cell in eight missing. */
static uint8_t *values(size_t nf, size_t nt, unsigned seed) {
  return values_miss(nf, nt, seed, 32);
}

/* Writes v (family-major) as a (nf, nt) uint8 array in C or Fortran order. */
static char *write_npy(const char *dir, const char *name, const uint8_t *v, size_t nf,
                       size_t nt, int fortran) {
  char *path = malloc(strlen(dir) + strlen(name) + 2);
  sprintf(path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  fitcl_npy_write_header(f, "|u1", fortran, nf, nt);
  for (size_t i = 0; i < nf * nt; ++i) {
    /* Fortran order walks the families fastest. */
    const size_t fam = fortran ? i % nf : i / nt, tax = fortran ? i / nf : i % nt;
    fputc(v[fam * nt + tax], f);
  }
  cr_assert_eq(fclose(f), 0);
  return path;
}

/* One name per line: prefix0, prefix1, ... */
static char *write_names(const char *dir, const char *name, const char *prefix, size_t n) {
  size_t cap = n * 32 + 1, len = 0;
  char *text = malloc(cap);
  text[0] = 0;
  for (size_t i = 0; i < n; ++i)
    len += (size_t)snprintf(text + len, cap - len, "%s%zu\n", prefix, i);
  char *p = fitcl_test_write_file(dir, name, text);
  free(text);
  return p;
}

static fitcl_pamatrix *read_ok(const char *path, const char *taxa, const char *fams,
                               size_t block) {
  fitcl_pamatrix_options o = {.taxa_file = taxa, .family_names_file = fams};
  fitcl_pamatrix *m = NULL;
  char err[1024] = "";
  fitcl_status st = block ? fitcl__pamatrix_read_npy_block(path, &o, block, &m, err, sizeof err)
                          : fitcl_pamatrix_read(path, &o, &m, err, sizeof err);
  cr_assert_eq(st, FITCL_OK, "%s (block %zu): %s", path, block, err);
  return m;
}

static void expect_cells(const fitcl_pamatrix *m, const uint8_t *v, size_t nf, size_t nt) {
  cr_assert_eq(fitcl_pamatrix_nfamilies(m), nf);
  cr_assert_eq(fitcl_pamatrix_ntaxa(m), nt);
  for (size_t f = 0; f < nf; ++f)
    for (size_t t = 0; t < nt; ++t)
      cr_assert_eq(fitcl_pamatrix_get(m, f, t), code_of(v[f * nt + t]),
                   "cell (%zu, %zu) of %zu x %zu", f, t, nf, nt);
}

Test(pamatrix_npy, every_cell_in_both_orders_across_block_boundaries) {
  char *dir = fitcl_test_tmpdir();
  static const size_t shapes[][2] = {{1, 1}, {3, 5}, {7, 8}, {5, 17}, {40, 33}, {2, 100},
                                     {9, 4}, {1, 67}, {70, 37}, {33, 130}};
  static const size_t blocks[] = {8, 16, 24, 64, 256, 520, 1 << 20};
  for (size_t s = 0; s < 2 * sizeof shapes / sizeof shapes[0]; ++s) {
    const size_t nf = shapes[s / 2][0], nt = shapes[s / 2][1];
    /* Each shape with many missing cells and with few. */
    uint8_t *v = values_miss(nf, nt, (unsigned)s, s % 2 ? 2 : 32);
    char *taxa = write_names(dir, "m.taxa", "tx", nt), *fams = write_names(dir, "m.fam", "g", nf);
    for (int fortran = 0; fortran < 2; ++fortran) {
      char *path = write_npy(dir, "m.npy", v, nf, nt, fortran);
      for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; ++b) {
        fitcl_pamatrix *m = read_ok(path, taxa, fams, blocks[b]);
        expect_cells(m, v, nf, nt);
        char want[32];
        for (size_t t = 0; t < nt; ++t) {
          snprintf(want, sizeof want, "tx%zu", t);
          cr_assert_str_eq(fitcl_pamatrix_taxon_name(m, t), want);
        }
        for (size_t f = 0; f < nf; ++f) {
          snprintf(want, sizeof want, "g%zu", f);
          cr_assert_str_eq(fitcl_pamatrix_family_name(m, f), want);
        }
        fitcl_pamatrix_destroy(m);
      }
      free(path);
    }
    free(taxa);
    free(fams);
    free(v);
  }
  fitcl_test_rmtree(dir);
  free(dir);
}

/* The public reader on a .npy gives what the text reader gives on the same
 * matrix written as Rtab (255 as '?'); unnamed families are named as
 * fitcl_pamatrix_create names them. */
Test(pamatrix_npy, same_matrix_as_rtab_and_default_family_names) {
  char *dir = fitcl_test_tmpdir();
  const size_t nf = 23, nt = 13;
  uint8_t *v = values(nf, nt, 7);
  char *path = write_npy(dir, "m.NPY", v, nf, nt, 0);
  /* CRLF ends, a space inside a name, no final newline. */
  char *taxa =
      fitcl_test_write_file(dir, "taxa.txt", "a\r\nb\r\nc c\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm");
  size_t cap = 64 + nf * (nt * 2 + 16), len = 0;
  char *rtab = malloc(cap);
  len += (size_t)snprintf(rtab, cap, "Gene\ta\tb\tc c\td\te\tf\tg\th\ti\tj\tk\tl\tm\n");
  for (size_t f = 0; f < nf; ++f) {
    len += (size_t)snprintf(rtab + len, cap - len, "F%zu", f + 1);
    for (size_t t = 0; t < nt; ++t) {
      const uint8_t c = v[f * nt + t];
      len += (size_t)snprintf(rtab + len, cap - len, "\t%s", c == 255 ? "?" : c ? "1" : "0");
    }
    len += (size_t)snprintf(rtab + len, cap - len, "\n");
  }
  char *rpath = fitcl_test_write_file(dir, "m.Rtab", rtab);
  fitcl_pamatrix *a = read_ok(path, taxa, NULL, 0), *b = NULL;
  char err[512] = "";
  cr_assert_eq(fitcl_pamatrix_read(rpath, NULL, &b, err, sizeof err), FITCL_OK, "%s", err);
  expect_cells(a, v, nf, nt);
  cr_assert_eq(fitcl_pamatrix_nfamilies(b), nf);
  cr_assert_eq(fitcl_pamatrix_ntaxa(b), nt);
  for (size_t f = 0; f < nf; ++f) {
    cr_assert_str_eq(fitcl_pamatrix_family_name(a, f), fitcl_pamatrix_family_name(b, f));
    for (size_t t = 0; t < nt; ++t)
      cr_assert_eq(fitcl_pamatrix_get(a, f, t), fitcl_pamatrix_get(b, f, t));
  }
  for (size_t t = 0; t < nt; ++t)
    cr_assert_str_eq(fitcl_pamatrix_taxon_name(a, t), fitcl_pamatrix_taxon_name(b, t));
  /* fitcl_pamatrix_create's names for unnamed families. */
  const char *tn[] = {"x"};
  fitcl_pamatrix *c = NULL;
  uint8_t *zeros = calloc(nf, 1);
  cr_assert_eq(fitcl_pamatrix_create(nf, 1, zeros, NULL, tn, &c, err, sizeof err), FITCL_OK);
  for (size_t f = 0; f < nf; ++f)
    cr_assert_str_eq(fitcl_pamatrix_family_name(a, f), fitcl_pamatrix_family_name(c, f));
  fitcl_pamatrix_destroy(a);
  fitcl_pamatrix_destroy(b);
  fitcl_pamatrix_destroy(c);
  free(zeros);
  free(v);
  free(rtab);
  free(rpath);
  free(path);
  free(taxa);
  fitcl_test_rmtree(dir);
  free(dir);
}

/* Asserts status, no matrix, and each of the NULL-terminated words in the
 * message, which is one line. */
static void fails(const char *path, const fitcl_pamatrix_options *o, fitcl_status want, ...) {
  fitcl_pamatrix *m = (fitcl_pamatrix *)0x1;
  char err[1024] = "";
  fitcl_status st = fitcl__pamatrix_read_npy_block(path, o, 8, &m, err, sizeof err);
  cr_assert_eq(st, want, "status %d, want %d: %s", st, want, err);
  cr_assert_null(m);
  cr_assert(err[0] && !strchr(err, '\n'), "one line: '%s'", err);
  va_list ap;
  va_start(ap, want);
  for (const char *w; (w = va_arg(ap, const char *));)
    cr_assert(strstr(err, w), "message '%s' lacks '%s'", err, w);
  va_end(ap);
  /* The public reader says the same. */
  if (strlen(path) > 4 && !strcmp(path + strlen(path) - 4, ".npy")) {
    char err2[1024] = "";
    cr_assert_eq(fitcl_pamatrix_read(path, o, &m, err2, sizeof err2), want);
    cr_assert_str_eq(err, err2);
  }
}

/* A raw .npy: the given header dict, then len bytes of data. */
static char *write_raw(const char *dir, const char *name, const char *dict, const void *data,
                       size_t len) {
  char *path = malloc(strlen(dir) + strlen(name) + 2);
  sprintf(path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  const size_t hl = strlen(dict) + 1;
  fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  fputc((int)(hl & 0xff), f);
  fputc((int)(hl >> 8), f);
  fputs(dict, f);
  fputc('\n', f);
  fwrite(data, 1, len, f);
  fclose(f);
  return path;
}

Test(pamatrix_npy, bad_values_name_the_row_and_column) {
  char *dir = fitcl_test_tmpdir();
  const size_t nf = 4, nt = 11;
  char *taxa = write_names(dir, "m.taxa", "tx", nt);
  /* In the fast 8-byte path, in the tail, and in Fortran order. */
  static const size_t at[][2] = {{1, 3}, {2, 10}, {3, 0}};
  static const uint8_t bad[] = {2, 254, 128};
  for (int fortran = 0; fortran < 2; ++fortran)
    for (size_t k = 0; k < 3; ++k) {
      uint8_t *v = values(nf, nt, 3);
      v[at[k][0] * nt + at[k][1]] = bad[k];
      char *path = write_npy(dir, "m.npy", v, nf, nt, fortran);
      char where[64], value[32], tname[32], fname[32];
      snprintf(where, sizeof where, "row %zu, column %zu", at[k][0], at[k][1]);
      snprintf(value, sizeof value, "bad value %u", bad[k]);
      snprintf(tname, sizeof tname, "taxon 'tx%zu'", at[k][1]);
      snprintf(fname, sizeof fname, "family 'F%zu'", at[k][0] + 1);
      fitcl_pamatrix_options o = {.taxa_file = taxa};
      fails(path, &o, FITCL_ERR_DATA, path, where, value, tname, fname, "255 missing", NULL);
      free(path);
      free(v);
    }
  free(taxa);
  fitcl_test_rmtree(dir);
  free(dir);
}

Test(pamatrix_npy, bad_arrays) {
  char *dir = fitcl_test_tmpdir();
  char *taxa = write_names(dir, "m.taxa", "tx", 2);
  const fitcl_pamatrix_options o = {.taxa_file = taxa};
  static const uint8_t data[64];
  struct {
    const char *dict;
    size_t len;
    fitcl_status st;
    const char *words;
  } cases[] = {
    {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", 32, FITCL_ERR_DATA,
     "dtype '<f8'"},
    {"{'descr': '|i1', 'fortran_order': False, 'shape': (2, 2), }", 4, FITCL_ERR_DATA,
     "use uint8"},
    {"{'descr': '<u2', 'fortran_order': False, 'shape': (2, 2), }", 8, FITCL_ERR_DATA,
     "dtype '<u2'"},
    {"{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", 2, FITCL_ERR_DATA,
     "1-dimensional"},
    {"{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2, 1), }", 4, FITCL_ERR_DATA,
     "3-dimensional"},
    {"{'descr': '|u1', 'fortran_order': False, 'shape': (0, 2), }", 0, FITCL_ERR_DATA,
     "at least one family"},
    {"{'descr': '|u1', 'fortran_order': False, 'shape': (3, 2), }", 5, FITCL_ERR_DATA,
     "shorter than its shape"},
    {"{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2) }x", 4, FITCL_ERR_PARSE,
     "malformed .npy header"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
    char *path = write_raw(dir, "m.npy", cases[k].dict, data, cases[k].len);
    fails(path, &o, cases[k].st, path, cases[k].words, NULL);
    free(path);
  }
  /* Not a .npy at all, a directory, no such file. */
  char *txt = fitcl_test_write_file(dir, "x.npy", "Gene\ta\tb\nf\t0\t1\n");
  fails(txt, &o, FITCL_ERR_PARSE, txt, "bad magic", NULL);
  char dpath[600];
  snprintf(dpath, sizeof dpath, "%s/d.npy", dir);
  cr_assert_eq(mkdir(dpath, 0700), 0);
  fails(dpath, &o, FITCL_ERR_FILE, dpath, "directory", NULL);
  snprintf(dpath, sizeof dpath, "%s/none.npy", dir);
  fails(dpath, &o, FITCL_ERR_FILE, dpath, "cannot open", NULL);
  free(txt);
  free(taxa);
  fitcl_test_rmtree(dir);
  free(dir);
}

Test(pamatrix_npy, bad_names_files_and_options) {
  char *dir = fitcl_test_tmpdir();
  const size_t nf = 3, nt = 4;
  uint8_t *v = values(nf, nt, 1);
  char *path = write_npy(dir, "m.npy", v, nf, nt, 0);
  char *t3 = write_names(dir, "t3", "t", 3), *t4 = write_names(dir, "t4", "t", 4);
  char *dup = fitcl_test_write_file(dir, "dup", "a\nb\nc\nb\n");
  char *blank = fitcl_test_write_file(dir, "blank", "a\n\nb\nc\n");
  char *crblank = fitcl_test_write_file(dir, "crblank", "a\nb\r\n\r\nc\n");
  char *empty = fitcl_test_write_file(dir, "empty", "");
  char *f2 = write_names(dir, "f2", "g", 2);
  char *rtab = fitcl_test_write_file(dir, "m.Rtab", "Gene\ta\tb\nf\t0\t1\n");
  fitcl_pamatrix_options o = {.taxa_file = t3};
  fails(path, &o, FITCL_ERR_DATA, t3, "3 taxon names", path, "4 columns", NULL);
  o.taxa_file = dup;
  fails(path, &o, FITCL_ERR_DATA, "dup:4: duplicate taxon name 'b' (line 2)", NULL);
  o.taxa_file = blank;
  fails(path, &o, FITCL_ERR_DATA, "blank:2: empty line", NULL);
  o.taxa_file = crblank;
  fails(path, &o, FITCL_ERR_DATA, "crblank:3: empty line", NULL);
  o.taxa_file = empty;
  fails(path, &o, FITCL_ERR_DATA, "empty: empty", NULL);
  o.taxa_file = dir;
  fails(path, &o, FITCL_ERR_FILE, "directory", NULL);
  o.taxa_file = t4;
  o.family_names_file = f2;
  fails(path, &o, FITCL_ERR_DATA, f2, "2 family names", "3 rows", NULL);
  o.family_names_file = dup;
  fails(path, &o, FITCL_ERR_DATA, "dup:4: duplicate family name 'b'", NULL);
  o.family_names_file = NULL;
  o.taxa_file = NULL;
  fails(path, &o, FITCL_ERR_ARG, path, "--taxa", NULL);
  fails(path, NULL, FITCL_ERR_ARG, path, "--taxa", NULL);
  o.taxa_file = t4;
  o.taxa_in_rows = 1;
  fails(path, &o, FITCL_ERR_ARG, "--taxa-in-rows", NULL);
  o.taxa_in_rows = 0;
  /* Names files with a text matrix: refused, not ignored. */
  fails(rtab, &o, FITCL_ERR_ARG, rtab, ".npy matrix only", NULL);
  fitcl_pamatrix *m = NULL;
  char err[512] = "";
  cr_assert_eq(fitcl_pamatrix_read(rtab, &o, &m, err, sizeof err), FITCL_ERR_ARG, "%s", err);
  cr_assert_null(m);
  /* The right files read. */
  o.family_names_file = fitcl_test_write_file(dir, "f3", "x\ny\nz");
  m = read_ok(path, t4, o.family_names_file, 16);
  expect_cells(m, v, nf, nt);
  cr_assert_str_eq(fitcl_pamatrix_family_name(m, 2), "z");
  fitcl_pamatrix_destroy(m);
  free((char *)o.family_names_file);
  free(v);
  free(path);
  free(t3); free(t4); free(dup); free(blank); free(crblank); free(empty); free(f2); free(rtab);
  fitcl_test_rmtree(dir);
  free(dir);
}

/* ---- the command -------------------------------------------------------- */

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *b = malloc((size_t)n + 1);
  b[fread(b, 1, (size_t)n, f)] = 0;
  fclose(f);
  return b;
}

/* Cuts "seconds":X out of a JSON line: the one field that differs run to
 * run. */
static void drop_seconds(char *json) {
  char *at = strstr(json, "\"seconds\":");
  cr_assert_not_null(at, "%s", json);
  char *end = at + 10;
  while (*end && *end != ',' && *end != '}') ++end;
  if (*end == ',') ++end;
  memmove(at, end, strlen(end) + 1);
}

static int exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static char *run_ok(const char *const *argv) {
  const char *env[] = {"FITCL_DEVICE=cpu", NULL};
  char *out = NULL, *err = NULL;
  int rc = fitcl_test_run_cli(argv, env, &out, &err);
  cr_assert_eq(rc, 0, "%s %s: rc %d: %s", argv[1], argv[5], rc, err);
  free(err);
  return out;
}

Test(pamatrix_npy, cli_simulate_npy_reads_back_as_the_rtab) {
  char *dir = fitcl_test_tmpdir();
  char *tree = fitcl_test_write_file(
      dir, "t.nwk", "(((A:0.3,B:0.5):0.2,(C:0.1,D:0.4):0.3):0.1,(E:0.7,(F:0.2,G:0.2):0.5):0.2);");
  char x[600], r[600], tx[600], fx[600], tr[600], trr[600];
  snprintf(x, sizeof x, "%s/x.npy", dir);
  snprintf(r, sizeof r, "%s/x.Rtab", dir);
  snprintf(tx, sizeof tx, "%s/x.taxa", dir);
  snprintf(fx, sizeof fx, "%s/x.families", dir);
  snprintf(tr, sizeof tr, "%s/truth.txt", dir);
  snprintf(trr, sizeof trr, "%s/truth_rtab.txt", dir);
#define SIM "fitcl", "simulate", "--tree", tree, "--gain", "0.6", "--loss", "1.2", "--families", \
            "301", "--retained-fraction", "0.2", "--effect", "0.4", "--seed", "17", "--condition"
  const char *s1[] = {SIM, "-o", x, "--taxa-out", tx, "--family-names-out", fx, "--truth", tr,
                      NULL};
  const char *s2[] = {SIM, "-o", r, "--truth", trr, NULL};
#undef SIM
  free(run_ok(s1));
  free(run_ok(s2));
  char *t1 = slurp(tr), *t2 = slurp(trr), *taxa = slurp(tx);
  cr_assert_str_eq(t1, t2);
  cr_assert_str_eq(taxa, "A\nB\nC\nD\nE\nF\nG\n");
  free(t1); free(t2); free(taxa);
  /* The same cells and names as the Rtab. */
  fitcl_pamatrix *a = read_ok(x, tx, fx, 0), *b = NULL;
  char err[512] = "";
  cr_assert_eq(fitcl_pamatrix_read(r, NULL, &b, err, sizeof err), FITCL_OK, "%s", err);
  cr_assert_eq(fitcl_pamatrix_nfamilies(a), 301);
  for (size_t f = 0; f < 301; ++f) {
    cr_assert_str_eq(fitcl_pamatrix_family_name(a, f), fitcl_pamatrix_family_name(b, f));
    for (size_t t = 0; t < 7; ++t)
      cr_assert_eq(fitcl_pamatrix_get(a, f, t), fitcl_pamatrix_get(b, f, t));
  }
  fitcl_pamatrix_destroy(a);
  fitcl_pamatrix_destroy(b);
  /* loglik (with gradient and rate categories) and ancestral print the
   * same bytes from either form. */
  const char *l1[] = {"fitcl", "loglik", "--tree", tree, "--matrix", x, "--taxa", tx,
                      "--family-names", fx, "--gain", "0.5", "--loss", "1.1", "--gamma-cats",
                      "4", "--alpha", "0.7", "--grad", "--json", NULL};
  const char *l2[] = {"fitcl", "loglik", "--tree", tree, "--matrix", r, "--gain", "0.5", "--loss",
                      "1.1", "--gamma-cats", "4", "--alpha", "0.7", "--grad", "--json", NULL};
  char *o1 = run_ok(l1), *o2 = run_ok(l2);
  drop_seconds(o1);
  drop_seconds(o2);
  cr_assert_str_eq(o1, o2);
  cr_assert(strstr(o1, "\"families\":301"), "%s", o1);
  free(o1); free(o2);
  const char *a1[] = {"fitcl", "ancestral", "--tree", tree, "--matrix", x, "--taxa", tx,
                      "--family-names", fx, "--gain", "0.5", "--loss", "1.1", "--json", NULL};
  const char *a2[] = {"fitcl", "ancestral", "--tree", tree, "--matrix", r, "--gain", "0.5",
                      "--loss", "1.1", "--json", NULL};
  o1 = run_ok(a1);
  o2 = run_ok(a2);
  cr_assert_str_eq(o1, o2);
  cr_assert(strstr(o1, "\"fam0301\""), "%.200s", o1);
  free(o1); free(o2);
  /* The retention test finds the families --truth names in the .npy too. */
  const char *r1[] = {"fitcl", "retention-test", "--tree", tree, "--matrix", x, "--taxa", tx,
                      "--family-names", fx, "--families", tr, "--json", NULL};
  const char *r2[] = {"fitcl", "retention-test", "--tree", tree, "--matrix", r, "--families", tr,
                      "--json", NULL};
  o1 = run_ok(r1);
  o2 = run_ok(r2);
  drop_seconds(o1);
  drop_seconds(o2);
  cr_assert_str_eq(o1, o2);
  free(o1); free(o2);
  fitcl_test_rmtree(dir);
  free(tree); free(dir);
}

/* Exit 2, one line holding `words`, and none of the paths written. */
static void cli_fails(const char *const *argv, const char *words, const char *const *unwritten) {
  const char *env[] = {"FITCL_DEVICE=cpu", NULL};
  char *out = NULL, *err = NULL;
  int rc = fitcl_test_run_cli(argv, env, &out, &err);
  cr_assert_eq(rc, 2, "%s: rc %d, stderr: %s", words, rc, err);
  cr_assert(err && strchr(err, '\n') == strrchr(err, '\n'), "one line: %s", err);
  cr_assert(strstr(err, words), "'%s' lacks '%s'", err, words);
  for (size_t i = 0; unwritten && unwritten[i]; ++i)
    cr_assert(!exists(unwritten[i]), "%s was written", unwritten[i]);
  free(out);
  free(err);
}

Test(pamatrix_npy, cli_errors_exit_2_and_write_nothing) {
  char *dir = fitcl_test_tmpdir();
  char *tree = fitcl_test_write_file(dir, "t.nwk", "((A:0.1,B:0.2):0.05,(C:0.3,D:0.1):0.2);");
  char x[600], tx[600], fx[600], tr[600], deep[700];
  snprintf(x, sizeof x, "%s/x.npy", dir);
  snprintf(tx, sizeof tx, "%s/x.taxa", dir);
  snprintf(fx, sizeof fx, "%s/x.families", dir);
  snprintf(tr, sizeof tr, "%s/truth.txt", dir);
  snprintf(deep, sizeof deep, "%s/no/such/dir/f.txt", dir);
  const char *none[] = {x, tx, fx, tr, NULL};
#define SIM "fitcl", "simulate", "--tree", tree, "--gain", "0.6", "--loss", "1.2", "--families", \
            "20", "--seed", "3"
  const char *e1[] = {SIM, "-o", x, NULL};
  cli_fails(e1, "--taxa-out", none);
  char rt[600];
  snprintf(rt, sizeof rt, "%s/x.Rtab", dir);
  const char *e2[] = {SIM, "-o", rt, "--taxa-out", tx, NULL};
  cli_fails(e2, "-o FILE.npy", none);
  const char *e3[] = {SIM, "-o", x, "--taxa-out", tx, "--retained-fraction", "0.5", "--effect",
                      "0.5", "--truth", tr, NULL};
  cli_fails(e3, "--family-names-out", none);
  const char *e4[] = {SIM, "-o", x, "--taxa-out", "-", "--family-names-out", "-", NULL};
  cli_fails(e4, "stdout", none);
  const char *e5[] = {SIM, "-o", x, "--taxa-out", x, NULL};
  cli_fails(e5, "both write", none);
  /* An output that cannot be created: the others are not left behind. */
  const char *env[] = {"FITCL_DEVICE=cpu", NULL};
  char *out = NULL, *err = NULL;
  const char *e6[] = {SIM, "-o", x, "--taxa-out", tx, "--family-names-out", deep, NULL};
  cr_assert_neq(fitcl_test_run_cli(e6, env, &out, &err), 0);
  cr_assert(!exists(x) && !exists(tx), "an output was left behind");
  free(out); free(err);
  const char *ok[] = {SIM, "-o", x, "--taxa-out", tx, NULL};
#undef SIM
  free(run_ok(ok));
  /* Reading: each mistake is one line and exit 2. */
#define LL(...) {"fitcl", "loglik", "--tree", tree, "--matrix", __VA_ARGS__, "--gain", "0.5", \
                 "--loss", "1", NULL}
  const char *r1[] = LL(x);
  cli_fails(r1, "--taxa", NULL);
  char *t3 = fitcl_test_write_file(dir, "t3", "A\nB\nC\n");
  const char *r2[] = LL(x, "--taxa", t3);
  cli_fails(r2, "3 taxon names", NULL);
  char *tdup = fitcl_test_write_file(dir, "tdup", "A\nB\nC\nA\n");
  const char *r3[] = LL(x, "--taxa", tdup);
  cli_fails(r3, "duplicate taxon name 'A'", NULL);
  char *tblank = fitcl_test_write_file(dir, "tblank", "A\nB\n\nC\nD\n");
  const char *r4[] = LL(x, "--taxa", tblank);
  cli_fails(r4, "tblank:3: empty line", NULL);
  char *mtab = fitcl_test_write_file(dir, "m.Rtab", "Gene\tA\tB\tC\tD\nf\t1\t0\t1\t1\n");
  const char *r5[] = LL(mtab, "--taxa", tx);
  cli_fails(r5, ".npy matrix only", NULL);
  /* The tip names are matched as a text matrix's column names are. */
  char *tother = fitcl_test_write_file(dir, "tother", "A\nB\nC\nE\n");
  const char *r6[] = LL(x, "--taxa", tother);
  cli_fails(r6, "'E'", NULL);
  /* A bad cell names the file, the row and the column. */
  static const uint8_t v[] = {0, 1, 1, 0, 1, 7, 0, 255};
  char *bad = write_npy(dir, "bad.npy", v, 2, 4, 0);
  const char *r7[] = LL(bad, "--taxa", tx);
  cli_fails(r7, "row 1, column 1", NULL);
  const char *r8[] = LL(bad, "--taxa", tx, "--taxa-in-rows");
  cli_fails(r8, "--taxa-in-rows", NULL);
#undef LL
  free(bad); free(t3); free(tdup); free(tblank); free(mtab); free(tother);
  fitcl_test_rmtree(dir);
  free(tree); free(dir);
}
