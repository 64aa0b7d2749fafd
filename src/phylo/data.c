/* fitcl_data: a tree matched to a presence/absence matrix by taxon name,
 * pruned when asked, and compressed into weighted site patterns. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "core/ioerr.h"
#include "phylo/pamatrix.h"
#include "core/strmap.h"
#include "phylo/data.h"

static const char *taxon_key(const void *user, size_t i) {
  return fitcl__pa_taxon((const fitcl_pamatrix *)user, i);
}

/* Lists names in a message: "a, b, c". */
static void list_name(fitcl__buf *b, int *first, const char *name) {
  if (!*first) fitcl__buf_append(b, ", ", 2);
  *first = 0;
  char q[80];
  fitcl__ioerr_name(q, sizeof q, name, strlen(name));
  fitcl__buf_printf(b, "'%s'", q);
}

typedef struct matrix_cols {
  const uint8_t *packed; /* the matrix's cells (they may be in the middle of becoming patterns) */
  size_t stride;
  const size_t *taxon_of_tip;
  int ntips;
  int in_order;          /* tip i is taxon i for every tip: the row's bytes are the column's */
} matrix_cols;

/* Rows of up to this many cells are spread one byte a cell on the stack
 * before their cells are gathered (a load each instead of a load, shifts
 * and masks). */
enum { SPREAD_MAX = 16384 };

/* The family's cells in tree tip order, packed as the patterns hold them:
 * where tips follow the matrix's columns (as `fitcl simulate` writes
 * them), the row's own bytes; otherwise four cells a byte, each taken
 * where its tip's taxon sits (the row is a few kilobytes, in cache).
 * Families are made on several threads at once (patterns.c), so this
 * keeps no scratch but its stack. */
static void matrix_column(void *user, size_t f, uint8_t *dst) {
  const matrix_cols *c = user;
  const uint8_t *row = c->packed + f * c->stride;
  const size_t n = (size_t)c->ntips, full = n / 4;
  const size_t *k = c->taxon_of_tip;
  if (c->in_order) {
    memcpy(dst, row, (n + 3) / 4);
    if (n % 4) dst[full] &= (uint8_t)((1u << (2 * (n % 4))) - 1); /* taxa past the last tip */
    return;
  }
  uint8_t spread[SPREAD_MAX];
  const int spreads = c->stride <= SPREAD_MAX / 4;
  if (spreads)
    for (size_t j = 0; j < c->stride; ++j) {
      const uint32_t b = row[j];
      const uint32_t v = (b & 3) | (b >> 2 & 3) << 8 | (b >> 4 & 3) << 16 | (b >> 6) << 24;
      memcpy(spread + 4 * j, &v, 4); /* little-endian: cell 4j first */
    }
#define CELL(i)                                                                                    \
  (spreads ? (unsigned)spread[k[i]] : (unsigned)(row[k[i] >> 2] >> (2 * (k[i] & 3))) & 3u)
  for (size_t j = 0; j < full; ++j)
    dst[j] = (uint8_t)(CELL(4 * j) | CELL(4 * j + 1) << 2 | CELL(4 * j + 2) << 4 |
                       CELL(4 * j + 3) << 6);
  if (n % 4) {
    unsigned b = 0;
    for (size_t i = 4 * full; i < n; ++i) b |= CELL(i) << (2 * (i - 4 * full));
    dst[full] = (uint8_t)b;
  }
#undef CELL
}

fitcl_status fitcl__data_wrap(fitcl__tree *tree, fitcl__patterns *pat, fitcl_data **out) {
  *out = NULL;
  fitcl_data *d = calloc(1, sizeof *d);
  if (!d) return FITCL_ERR_NOMEM;
  d->tree = *tree;
  d->pat = *pat;
  memset(tree, 0, sizeof *tree);
  memset(pat, 0, sizeof *pat);
  *out = d;
  return FITCL_OK;
}

/* Builds from matrix; with `take`, the matrix's cells become the patterns'
 * storage (fitcl__patterns_build_in) and the caller destroys the rest of it. */
static fitcl_status build(const fitcl_tree *tree, fitcl_pamatrix *matrix, int take,
                          const fitcl_data_options *opt, fitcl_data **out, char *err,
                          size_t errlen) {
  if (out) *out = NULL;
  if (!tree || !matrix || !out)
    return fitcl__ioerr(err, errlen, FITCL_ERR_NULL, "fitcl_data_build: NULL argument");
  fitcl_data_options o = {0};
  if (opt) o = *opt;
  const fitcl__tree *t = &tree->t;
  fitcl_status st = FITCL_OK;
  fitcl__strmap map;
  fitcl__strmap_init(&map, taxon_key, matrix);
  size_t *tip_taxon = malloc((size_t)t->ntips * sizeof *tip_taxon);
  unsigned char *used = calloc(matrix->ntaxa ? matrix->ntaxa : 1, 1);
  unsigned char *keep = malloc((size_t)t->ntips);
  int *old_of_new = malloc((size_t)t->nnodes * sizeof *old_of_new);
  size_t *taxon_of_tip = NULL;
  const char **names = NULL;
  fitcl__buf msg = {0};
  fitcl__tree nt;
  fitcl__patterns pat;
  memset(&nt, 0, sizeof nt);
  memset(&pat, 0, sizeof pat);
  if (!tip_taxon || !used || !keep || !old_of_new) goto nomem;

  for (size_t k = 0; k < matrix->ntaxa; ++k) {
    const char *nm = fitcl__pa_taxon(matrix, k);
    if (fitcl__strmap_put(&map, nm, strlen(nm), k) == SIZE_MAX - 1) goto nomem;
  }
  size_t only_tree = 0, only_matrix = 0;
  for (int i = 0; i < t->ntips; ++i) {
    const char *nm = t->label[i];
    tip_taxon[i] = fitcl__strmap_get(&map, nm, strlen(nm));
    keep[i] = tip_taxon[i] != SIZE_MAX;
    if (keep[i]) used[tip_taxon[i]] = 1;
    else only_tree++;
  }
  for (size_t k = 0; k < matrix->ntaxa; ++k) only_matrix += !used[k];
  int bad_tree = only_tree > 0 && !o.prune_missing;
  int bad_matrix = only_matrix > 0 && !o.ignore_extra_taxa;
  if (bad_tree || bad_matrix) {
    int first = 1;
    fitcl__buf_printf(&msg, "tree and matrix taxa differ:");
    if (bad_tree) {
      fitcl__buf_printf(&msg, " %zu tree tip%s not in the matrix: ", only_tree,
                        only_tree == 1 ? "" : "s");
      for (int i = 0; i < t->ntips; ++i)
        if (!keep[i]) list_name(&msg, &first, t->label[i]);
      fitcl__buf_append(&msg, ";", 1);
    }
    if (bad_matrix) {
      first = 1;
      fitcl__buf_printf(&msg, " %zu matrix taxa not in the tree: ", only_matrix);
      for (size_t k = 0; k < matrix->ntaxa; ++k)
        if (!used[k]) list_name(&msg, &first, fitcl__pa_taxon(matrix, k));
      fitcl__buf_append(&msg, ";", 1);
    }
    fitcl__buf_printf(&msg, " names must match exactly%s%s",
                      bad_tree ? "; prune_missing (--prune-missing) drops tree tips absent "
                                 "from the matrix" : "",
                      bad_matrix ? "; ignore_extra_taxa (--ignore-extra-taxa) ignores matrix "
                                   "columns absent from the tree" : "");
    fitcl__buf_append(&msg, "", 1);
    if (msg.oom) goto nomem;
    st = fitcl__ioerr(err, errlen, FITCL_ERR_MISMATCH, "%s", msg.data);
    goto fail;
  }

  if (only_tree > 0) {
    int kept = fitcl__tree_prune(&nt, t, keep, old_of_new);
    if (kept < 0) goto nomem;
    if (kept < 2) {
      st = fitcl__ioerr(err, errlen, FITCL_ERR_MISMATCH,
                        "only %d tree tip%s %s in the matrix; at least 2 are needed", kept,
                        kept == 1 ? "" : "s", kept == 1 ? "is" : "are");
      goto fail;
    }
  } else {
    if (fitcl__tree_copy(&nt, t) != 0) goto nomem;
    for (int v = 0; v < t->nnodes; ++v) old_of_new[v] = v;
  }
  taxon_of_tip = malloc((size_t)nt.ntips * sizeof *taxon_of_tip);
  names = malloc((matrix->nfamilies ? matrix->nfamilies : 1) * sizeof *names);
  if (!taxon_of_tip || !names) goto nomem;
  for (int i = 0; i < nt.ntips; ++i) taxon_of_tip[i] = tip_taxon[old_of_new[i]];
  for (size_t f = 0; f < matrix->nfamilies; ++f) names[f] = fitcl__pa_family(matrix, f);
  matrix_cols *cols = malloc(sizeof *cols);
  if (!cols) goto nomem;
  cols->packed = matrix->packed;
  cols->stride = matrix->stride;
  cols->taxon_of_tip = taxon_of_tip;
  cols->ntips = nt.ntips;
  cols->in_order = 1;
  for (int i = 0; i < nt.ntips; ++i)
    if (taxon_of_tip[i] != (size_t)i) cols->in_order = 0;
  uint8_t *arena = NULL;
  if (take) {
    arena = matrix->packed;
    matrix->packed = NULL;
  }
  st = fitcl__patterns_build_in(&pat, matrix->nfamilies, nt.ntips, matrix_column, cols, o.groups,
                                names, 1, arena, matrix->stride, err, errlen);
  free(cols);
  if (st) goto fail;
  st = fitcl__data_wrap(&nt, &pat, out);
  if (st) goto nomem;
  goto done;
nomem:
  st = fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "out of memory matching tree and matrix");
fail:
  fitcl__tree_free(&nt);
  fitcl__patterns_free(&pat);
done:
  fitcl__buf_free(&msg);
  fitcl__strmap_free(&map);
  free(tip_taxon);
  free(used);
  free(keep);
  free(old_of_new);
  free(taxon_of_tip);
  free(names);
  return st;
}

fitcl_status fitcl_data_build(const fitcl_tree *tree, const fitcl_pamatrix *matrix,
                              const fitcl_data_options *opt, fitcl_data **out, char *err,
                              size_t errlen) {
  /* Not taken, the matrix is only read. */
  return build(tree, (fitcl_pamatrix *)matrix, 0, opt, out, err, errlen);
}

fitcl_status fitcl_data_build_take(const fitcl_tree *tree, fitcl_pamatrix **matrix,
                                   const fitcl_data_options *opt, fitcl_data **out, char *err,
                                   size_t errlen) {
  if (out) *out = NULL;
  if (!matrix)
    return fitcl__ioerr(err, errlen, FITCL_ERR_NULL, "fitcl_data_build_take: NULL argument");
  fitcl_status st = build(tree, *matrix, *matrix && tree && out, opt, out, err, errlen);
  fitcl_pamatrix_destroy(*matrix);
  *matrix = NULL;
  return st;
}

void fitcl_data_destroy(fitcl_data *d) {
  if (!d) return;
  fitcl__tree_free(&d->tree);
  fitcl__patterns_free(&d->pat);
  free(d);
}

const fitcl_tree *fitcl_data_tree(const fitcl_data *d) { return d ? fitcl__data_tree(d) : NULL; }
size_t fitcl_data_nfamilies(const fitcl_data *d) { return d ? d->pat.nfamilies : 0; }
size_t fitcl_data_npatterns(const fitcl_data *d) { return d ? d->pat.npatterns : 0; }
int fitcl_data_ntaxa(const fitcl_data *d) { return d ? d->pat.ntaxa : 0; }
int fitcl_data_ngroups(const fitcl_data *d) { return d ? d->pat.ngroups : 0; }

const char *fitcl_data_family_name(const fitcl_data *d, size_t f) {
  return d && f < d->pat.nfamilies ? d->pat.family_name[f] : NULL;
}

int fitcl_data_family_group(const fitcl_data *d, size_t f) {
  return d && f < d->pat.nfamilies ? d->pat.family_group[f] : -1;
}

size_t fitcl_data_family_pattern(const fitcl_data *d, size_t f) {
  return d && f < d->pat.nfamilies ? d->pat.family_pattern[f] : (size_t)-1;
}

double fitcl_data_pattern_weight(const fitcl_data *d, size_t p) {
  return d && p < d->pat.npatterns ? d->pat.weight[p] : 0.0;
}

int fitcl_data_pattern_state(const fitcl_data *d, size_t p, int taxon) {
  if (!d || p >= d->pat.npatterns || taxon < 0 || taxon >= d->pat.ntaxa) return -1;
  return fitcl__pat_get(&d->pat, p, (size_t)taxon);
}

fitcl_status fitcl_data_set_groups(fitcl_data *d, const int *groups, size_t n, char *err,
                                   size_t errlen) {
  if (!d) return fitcl__ioerr(err, errlen, FITCL_ERR_NULL, "fitcl_data_set_groups: NULL data");
  if (groups && n != d->pat.nfamilies)
    return fitcl__ioerr(err, errlen, FITCL_ERR_MISMATCH,
                        "%zu group values given for %zu families", n, d->pat.nfamilies);
  return fitcl__patterns_regroup(&d->pat, groups, err, errlen);
}
