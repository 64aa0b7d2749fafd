/* libFuzzer harness for matching a tree to a matrix (pruning included) and
 * compressing patterns.  Input: one option byte, the Newick text, a NUL
 * byte, the matrix text (tab-separated, families in rows).  Whenever the
 * build succeeds, every family's pattern must equal the matrix cells of
 * the tips' names, pattern weights must add up, and pruning must keep the
 * path length between every pair of remaining tips. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "io/newick.h"
#include "phylo/data.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static double tip_distance(const fitcl__tree *t, int a, int b) {
  double da = 0, db = 0;
  while (a != b) {
    if (a < b) {
      da += t->brlen[a];
      a = t->parent[a];
    } else {
      db += t->brlen[b];
      b = t->parent[b];
    }
  }
  return da + db;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  uint8_t sel = data[0];
  const char *text = (const char *)data + 1;
  const char *sep = memchr(text, '\0', size - 1);
  if (!sep) return 0;
  size_t tlen = (size_t)(sep - text);
  const char *mtext = sep + 1;
  size_t mlen = size - 1 - tlen - 1;

  fitcl_tree *tree = NULL;
  fitcl_pamatrix *m = NULL;
  fitcl_data *d = NULL;
  int *groups = NULL;
  char err[1024];
  if (fitcl__tree_parse_bytes(text, tlen, &tree, err, sizeof err) != FITCL_OK) goto done;
  fitcl_pamatrix_options mo = {.format = FITCL_PAMATRIX_TSV};
  if (fitcl_pamatrix_parse(mtext, mlen, "m", &mo, &m, err, sizeof err) != FITCL_OK) goto done;
  size_t nf = fitcl_pamatrix_nfamilies(m);
  fitcl_data_options o = {0};
  o.prune_missing = sel & 1;
  o.ignore_extra_taxa = (sel >> 1) & 1;
  int ng = (sel >> 2) & 3;
  if (ng) {
    groups = malloc(nf * sizeof *groups);
    for (size_t f = 0; f < nf; ++f) groups[f] = (int)(f % (size_t)(ng + 1));
    o.groups = groups;
  }
  err[0] = '\0';
  fitcl_status st = fitcl_data_build(tree, m, &o, &d, err, sizeof err);
  if (st != FITCL_OK) {
    CHECK(d == NULL && err[0] != '\0');
    CHECK(st == FITCL_ERR_MISMATCH || st == FITCL_ERR_NOMEM);
    goto done;
  }
  const fitcl__tree *t = &d->tree;
  const fitcl__patterns *p = &d->pat;
  CHECK(p->ntaxa == t->ntips && t->ntips >= 2 && p->nfamilies == nf);
  double w = 0;
  for (size_t q = 0; q < p->npatterns; ++q) w += p->weight[q];
  CHECK(w == (double)nf);
  for (int i = 0; i < t->ntips; ++i) {
    int orig = fitcl_tree_find_tip(tree, t->label[i]);
    CHECK(orig >= 0);
    size_t k = 0;
    while (k < fitcl_pamatrix_ntaxa(m) && strcmp(fitcl_pamatrix_taxon_name(m, k), t->label[i]))
      k++;
    CHECK(k < fitcl_pamatrix_ntaxa(m));
    for (size_t f = 0; f < nf; ++f)
      CHECK(fitcl__pat_get(p, p->family_pattern[f], (size_t)i) ==
            fitcl_pamatrix_get(m, f, k));
    if (t->ntips <= 64)
      for (int j = i + 1; j < t->ntips; ++j) {
        int oj = fitcl_tree_find_tip(tree, t->label[j]);
        double a = tip_distance(t, i, j), b = tip_distance(&tree->t, orig, oj);
        CHECK(fabs(a - b) <= 1e-9 * fmax(1.0, fmax(fabs(a), fabs(b))) || !isfinite(b));
      }
  }
done:
  free(groups);
  fitcl_data_destroy(d);
  fitcl_pamatrix_destroy(m);
  fitcl_tree_destroy(tree);
  return 0;
}
