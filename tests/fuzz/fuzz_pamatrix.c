/* libFuzzer harness for the presence/absence readers.  The first byte
 * picks the options and the read window; the rest is the file.  Checks:
 * - reading from memory and streaming through a tiny window agree exactly
 *   (status, message, every name and cell): simple Rtab rows from memory
 *   go to the fast reader (io/pamatrix_fast.h), a stream without a file
 *   descriptor always to the general one;
 * - the fast reader over three threads agrees with the general reader;
 * - a successful matrix has sane sizes, names and values, and compresses
 *   into patterns whose weights add up to the number of families. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "io/pamatrix.h"
#include "phylo/data.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static const char *const NAMES[4] = {"in.Rtab", "in.csv", "in", "in.tsv"};

static void column(void *user, size_t f, uint8_t *dst) {
  const fitcl_pamatrix *m = user;
  memset(dst, 0, (m->ntaxa + 3) / 4);
  for (size_t t = 0; t < m->ntaxa; ++t)
    dst[t / 4] |= (uint8_t)(fitcl_pamatrix_get(m, f, t) << (2 * (t % 4)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t sel = data[0];
  fitcl_pamatrix_options o = {.format = (fitcl_pamatrix_format)(sel & 3), .taxa_in_rows = (sel >> 2) & 1};
  const char *name = NAMES[(sel >> 3) & 3];
  size_t window = 16 + ((sel >> 5) & 7) * 5;
  const char *text = (const char *)data + 1;
  size_t len = size - 1;

  fitcl_pamatrix *a = NULL, *b = NULL;
  char ea[512] = "", eb[512] = "";
  fitcl_status sa = fitcl_pamatrix_parse(text, len, name, &o, &a, ea, sizeof ea);
  FILE *f = fmemopen(len ? (void *)text : (void *)"", len, "rb");
  CHECK(f != NULL);
  fitcl_status sb = fitcl__pamatrix_read_stream(f, name, &o, window, &b, eb, sizeof eb);
  fclose(f);
  CHECK(sa == sb);
  fitcl__pamatrix_cfg cfg = {.threads = 3};
  fitcl_pamatrix *c = NULL;
  char ec[512] = "";
  fitcl_status sc = fitcl__pamatrix_parse_cfg(text, len, name, &o, &cfg, &c, ec, sizeof ec);
  CHECK(sc == sa && strcmp(ec, ea) == 0);
  if (sc == FITCL_OK) {
    CHECK(c->nfamilies == b->nfamilies && c->ntaxa == b->ntaxa);
    CHECK(memcmp(c->packed, b->packed, c->nfamilies * c->stride) == 0);
    for (size_t i = 0; i < c->nfamilies; ++i)
      CHECK(strcmp(fitcl_pamatrix_family_name(c, i), fitcl_pamatrix_family_name(b, i)) == 0);
  }
  fitcl_pamatrix_destroy(c);
  if (sa != FITCL_OK) {
    CHECK(a == NULL && b == NULL && ea[0] != '\0');
    CHECK(strcmp(ea, eb) == 0);
    return 0;
  }
  size_t nf = fitcl_pamatrix_nfamilies(a), nt = fitcl_pamatrix_ntaxa(a);
  CHECK(nf > 0 && nt > 0);
  CHECK(nf == fitcl_pamatrix_nfamilies(b) && nt == fitcl_pamatrix_ntaxa(b));
  for (size_t i = 0; i < nf; ++i) {
    CHECK(fitcl_pamatrix_family_name(a, i)[0] != '\0');
    CHECK(strcmp(fitcl_pamatrix_family_name(a, i), fitcl_pamatrix_family_name(b, i)) == 0);
  }
  for (size_t t = 0; t < nt; ++t) {
    CHECK(fitcl_pamatrix_taxon_name(a, t)[0] != '\0');
    CHECK(strcmp(fitcl_pamatrix_taxon_name(a, t), fitcl_pamatrix_taxon_name(b, t)) == 0);
  }
  for (size_t i = 0; i < nf; ++i)
    for (size_t t = 0; t < nt; ++t) {
      int v = fitcl_pamatrix_get(a, i, t);
      CHECK(v >= 0 && v <= 2 && v == fitcl_pamatrix_get(b, i, t));
    }
  if (nt <= 4096) {
    fitcl__patterns p;
    char err[256];
    CHECK(fitcl__patterns_build(&p, nf, (int)nt, column, a, NULL, NULL, 0, err, sizeof err) ==
          FITCL_OK);
    double w = 0;
    for (size_t q = 0; q < p.npatterns; ++q) w += p.weight[q];
    CHECK(w == (double)nf && p.npatterns <= nf);
    fitcl__patterns_free(&p);
  }
  fitcl_pamatrix_destroy(a);
  fitcl_pamatrix_destroy(b);
  return 0;
}
