/* Matching tree and matrix by name, pruning, and pattern compression
 * against brute-force references. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "phylo/data.h"
#include "test_util.h"

static fitcl_tree *tree_of(const char *text) {
  fitcl_tree *t = NULL;
  char err[512] = "";
  cr_assert_eq(fitcl_tree_parse(text, &t, err, sizeof err), FITCL_OK, "%s", err);
  return t;
}

static unsigned long long rng = 0x2545F4914F6CDD1Dull;
static unsigned rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (unsigned)(rng >> 32);
}

/* ---- name matching ------------------------------------------------------- */

static fitcl_pamatrix *matrix_of(size_t nf, size_t nt, const char *const *tax,
                                 const uint8_t *vals) {
  fitcl_pamatrix *m = NULL;
  char err[512];
  cr_assert_eq(fitcl_pamatrix_create(nf, nt, vals, NULL, tax, &m, err, sizeof err), FITCL_OK,
               "%s", err);
  return m;
}

Test(data, mismatch_lists_every_name_on_either_side) {
  fitcl_tree *t = tree_of("((A:1,B:1):1,(C:1,Xtree:1):1,Ytree:1);");
  const char *tax[] = {"A", "B", "C", "Zmat", "Wmat"};
  uint8_t vals[5] = {1, 0, 1, 1, 0};
  fitcl_pamatrix *m = matrix_of(1, 5, tax, vals);
  fitcl_data *d = (fitcl_data *)0x1;
  char err[2048];
  cr_assert_eq(fitcl_data_build(t, m, NULL, &d, err, sizeof err), FITCL_ERR_MISMATCH);
  cr_assert_null(d);
  const char *want[] = {"'Xtree'", "'Ytree'", "'Zmat'", "'Wmat'", "2 tree tips not in the matrix",
                        "2 matrix taxa not in the tree"};
  for (size_t k = 0; k < 6; ++k) cr_assert(strstr(err, want[k]), "'%s' lacks %s", err, want[k]);
  cr_assert_null(strstr(err, "'A'"), "matched names are not listed: %s", err);
  /* Pruning alone still leaves the matrix-only names. */
  fitcl_data_options o = {.prune_missing = 1};
  cr_assert_eq(fitcl_data_build(t, m, &o, &d, err, sizeof err), FITCL_ERR_MISMATCH);
  cr_assert(strstr(err, "'Zmat'") && !strstr(err, "'Xtree'"), "%s", err);
  o.ignore_extra_taxa = 1;
  cr_assert_eq(fitcl_data_build(t, m, &o, &d, err, sizeof err), FITCL_OK, "%s", err);
  cr_assert_eq(fitcl_data_ntaxa(d), 3);
  /* Tips A, B, C carry the matrix values 1, 0, 1. */
  cr_assert_eq(fitcl_data_pattern_state(d, 0, 0), 1);
  cr_assert_eq(fitcl_data_pattern_state(d, 0, 1), 0);
  cr_assert_eq(fitcl_data_pattern_state(d, 0, 2), 1);
  fitcl_data_destroy(d);
  fitcl_data_destroy(NULL);
  fitcl_pamatrix_destroy(m);
  fitcl_tree_destroy(t);
}

/* ---- pruning ------------------------------------------------------------- */

/* Builds data on `src` keeping only the tips named in `keep` and compares
 * the pruned tree with `want` (parent structure, lengths, labels). */
static void check_prune(const char *src, const char *const *keep, size_t nkeep,
                        const char *want) {
  fitcl_tree *t = tree_of(src);
  uint8_t *vals = calloc(nkeep, 1);
  fitcl_pamatrix *m = matrix_of(1, nkeep, keep, vals);
  fitcl_data_options o = {.prune_missing = 1};
  fitcl_data *d = NULL;
  char err[512];
  cr_assert_eq(fitcl_data_build(t, m, &o, &d, err, sizeof err), FITCL_OK, "%s", err);
  fitcl_tree *w = tree_of(want);
  const fitcl__tree *a = &fitcl_data_tree(d)->t, *b = &w->t;
  cr_assert_eq(a->ntips, b->ntips, "%s -> %s", src, want);
  cr_assert_eq(a->nnodes, b->nnodes, "%s -> %s", src, want);
  for (int v = 0; v < a->nnodes; ++v) {
    cr_assert_eq(a->parent[v], b->parent[v], "node %d of %s", v, want);
    cr_assert(fitcl_test_close(a->brlen[v], b->brlen[v], 1e-15), "length of node %d", v);
    if (v < a->ntips) cr_assert_str_eq(a->label[v], b->label[v]);
  }
  cr_assert_eq(a->nlevels, b->nlevels);
  for (int v = 0; v < a->nnodes; ++v) cr_assert_eq(a->level[v], b->level[v]);
  fitcl_data_destroy(d);
  fitcl_pamatrix_destroy(m);
  fitcl_tree_destroy(t);
  fitcl_tree_destroy(w);
  free(vals);
}

Test(data, prune_suppresses_unary_nodes) {
  const char *k1[] = {"A", "B", "C", "E"};
  check_prune("((A:1,B:2):3,(C:4,(D:5,E:6):7):8,F:9);", k1, 4, "((A:1,B:2):3,(C:4,E:13):8);");
  const char *k2[] = {"A", "B"};
  check_prune("((A:1,B:2):3,C:4);", k2, 2, "(A:1,B:2);");
  const char *k3[] = {"A", "B"};
  check_prune("(((A:1,X:1):2,Y:1):3,B:4);", k3, 2, "(A:6,B:4);");
  const char *k4[] = {"A", "B", "E"};
  check_prune("((A:1,B:1):1,(C:1,D:1):1,E:1);", k4, 3, "((A:1,B:1):1,E:1);");
  const char *k5[] = {"C", "E"};
  check_prune("((A:1,B:1):1,((C:1,D:1):2,E:1):3);", k5, 2, "(C:3,E:1);");
}

Test(data, prune_too_few_tips) {
  fitcl_tree *t = tree_of("((A:1,B:1):1,C:1);");
  const char *tax[] = {"A"};
  uint8_t v = 1;
  fitcl_pamatrix *m = matrix_of(1, 1, tax, &v);
  fitcl_data_options o = {.prune_missing = 1};
  fitcl_data *d = NULL;
  char err[512];
  cr_assert_eq(fitcl_data_build(t, m, &o, &d, err, sizeof err), FITCL_ERR_MISMATCH);
  cr_assert(strstr(err, "only 1 tree tip"), "%s", err);
  fitcl_pamatrix_destroy(m);
  fitcl_tree_destroy(t);
}

/* Random binary tree with n tips named T0..T(n-1), built by random joins,
 * as Newick text. */
static char *random_tree(int n) {
  char **sub = malloc((size_t)n * sizeof *sub);
  for (int i = 0; i < n; ++i) {
    sub[i] = malloc(32);
    snprintf(sub[i], 32, "T%d:%.3f", i, 0.01 + (rnd() % 1000) / 1000.0);
  }
  int m = n;
  while (m > 1) {
    int i = (int)(rnd() % (unsigned)m), j = (int)(rnd() % (unsigned)(m - 1));
    if (j >= i) j++;
    size_t len = strlen(sub[i]) + strlen(sub[j]) + 32;
    char *s = malloc(len);
    if (m > 2)
      snprintf(s, len, "(%s,%s):%.3f", sub[i], sub[j], 0.01 + (rnd() % 1000) / 1000.0);
    else
      snprintf(s, len, "(%s,%s);", sub[i], sub[j]);
    free(sub[i]);
    free(sub[j]);
    int lo = i < j ? i : j, hi = i < j ? j : i;
    sub[lo] = s;
    sub[hi] = sub[m - 1];
    m--;
  }
  char *r = sub[0];
  free(sub);
  return r;
}

/* Path length between tips a and b, by walking up to the common ancestor. */
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

Test(data, prune_preserves_tip_distances_random) {
  for (int rep = 0; rep < 20; ++rep) {
    int n = 5 + (int)(rnd() % 40);
    char *text = random_tree(n);
    fitcl_tree *t = tree_of(text);
    /* Keep a random subset of at least 2 tips. */
    const char **keep = malloc((size_t)n * sizeof *keep);
    size_t nk = 0;
    for (int i = 0; i < n; ++i)
      if (rnd() % 3 != 0 || nk < 2) keep[nk++] = fitcl_tree_tip_name(t, i);
    uint8_t *vals = calloc(nk, 1);
    fitcl_pamatrix *m = matrix_of(1, nk, keep, vals);
    fitcl_data_options o = {.prune_missing = 1};
    fitcl_data *d = NULL;
    char err[512];
    cr_assert_eq(fitcl_data_build(t, m, &o, &d, err, sizeof err), FITCL_OK, "%s", err);
    const fitcl__tree *p = &fitcl_data_tree(d)->t;
    cr_assert_eq((size_t)p->ntips, nk);
    cr_assert_eq(p->nnodes, 2 * p->ntips - 1, "binary tree stays binary, no unary nodes");
    for (int v = p->ntips; v < p->nnodes; ++v)
      cr_assert_eq(p->child_start[v + 1] - p->child_start[v], 2);
    for (int i = 0; i < p->ntips; ++i) {
      int oi = fitcl_tree_find_tip(t, p->label[i]);
      for (int j = i + 1; j < p->ntips; ++j) {
        int oj = fitcl_tree_find_tip(t, p->label[j]);
        cr_assert(fitcl_test_close(tip_distance(p, i, j), tip_distance(&t->t, oi, oj), 1e-12),
                  "distance %s-%s", p->label[i], p->label[j]);
      }
    }
    fitcl_data_destroy(d);
    fitcl_pamatrix_destroy(m);
    fitcl_tree_destroy(t);
    free(vals);
    free(keep);
    free(text);
  }
}

/* ---- pattern compression vs brute force ---------------------------------- */

/* Checks d's patterns against the definition, by brute force over pairs of
 * families: same pattern iff same group and same column. `col(f, tip)` is
 * the expected state of family f at tree tip `tip`. */
static void check_patterns(const fitcl_data *d, const uint8_t *cols, const int *groups,
                           size_t nf, int nt) {
  cr_assert_eq(fitcl_data_nfamilies(d), nf);
  size_t np = fitcl_data_npatterns(d);
  /* Reference count of distinct (column, group) classes. */
  size_t distinct = 0;
  for (size_t f = 0; f < nf; ++f) {
    int seen = 0;
    for (size_t g = 0; g < f && !seen; ++g)
      seen = groups[g] == groups[f] && memcmp(cols + g * nt, cols + f * nt, (size_t)nt) == 0;
    distinct += !seen;
  }
  cr_assert_eq(np, distinct);
  double *w = calloc(np, sizeof *w);
  int maxg = 0;
  for (size_t f = 0; f < nf; ++f) {
    size_t p = fitcl_data_family_pattern(d, f);
    cr_assert_lt(p, np);
    w[p] += 1;
    cr_assert_eq(fitcl_data_family_group(d, f), groups[f]);
    cr_assert_eq(d->pat.group[p], groups[f]);
    if (groups[f] > maxg) maxg = groups[f];
    for (int i = 0; i < nt; ++i)
      cr_assert_eq(fitcl_data_pattern_state(d, p, i), cols[f * nt + i], "family %zu tip %d", f,
                   i);
    for (size_t g = 0; g < f; ++g) {
      int same = groups[g] == groups[f] && memcmp(cols + g * nt, cols + f * nt, (size_t)nt) == 0;
      cr_assert_eq(same, fitcl_data_family_pattern(d, g) == p, "families %zu and %zu", g, f);
    }
  }
  double total = 0;
  for (size_t p = 0; p < np; ++p) {
    cr_assert_eq(fitcl_data_pattern_weight(d, p), w[p]);
    cr_assert_gt(w[p], 0);
    total += w[p];
  }
  cr_assert_eq(total, (double)nf);
  cr_assert_eq(fitcl_data_ngroups(d), maxg + 1);
  free(w);
}

Test(patterns, brute_force_random_with_groups_and_shuffled_taxa) {
  for (int rep = 0; rep < 10; ++rep) {
    int nt = 2 + (int)(rnd() % 20);
    size_t nf = 1 + rnd() % 400;
    char *text = random_tree(nt);
    fitcl_tree *t = tree_of(text);
    /* Matrix columns in a shuffled taxon order. */
    int *perm = malloc((size_t)nt * sizeof *perm);
    for (int i = 0; i < nt; ++i) perm[i] = i;
    for (int i = nt - 1; i > 0; --i) {
      int j = (int)(rnd() % (unsigned)(i + 1)), x = perm[i];
      perm[i] = perm[j];
      perm[j] = x;
    }
    const char **tax = malloc((size_t)nt * sizeof *tax);
    for (int k = 0; k < nt; ++k) tax[k] = fitcl_tree_tip_name(t, perm[k]);
    /* Columns drawn from a small pool so that many repeat. */
    size_t npool = 1 + rnd() % 12;
    uint8_t *pool = malloc(npool * (size_t)nt);
    for (size_t k = 0; k < npool * (size_t)nt; ++k) pool[k] = (uint8_t)(rnd() % 3);
    uint8_t *cols = malloc(nf * (size_t)nt);    /* tree tip order */
    uint8_t *vals = malloc(nf * (size_t)nt);    /* matrix (shuffled) order */
    int *groups = malloc(nf * sizeof *groups);
    int ng = 1 + (int)(rnd() % 3);
    for (size_t f = 0; f < nf; ++f) {
      size_t c = rnd() % npool;
      memcpy(cols + f * nt, pool + c * nt, (size_t)nt);
      for (int k = 0; k < nt; ++k) vals[f * nt + k] = cols[f * nt + perm[k]];
      groups[f] = (int)(rnd() % (unsigned)ng) * 7; /* sparse group ids */
    }
    fitcl_pamatrix *m = matrix_of(nf, (size_t)nt, tax, vals);
    fitcl_data_options o = {.groups = groups};
    fitcl_data *d = NULL;
    char err[512];
    cr_assert_eq(fitcl_data_build(t, m, &o, &d, err, sizeof err), FITCL_OK, "%s", err);
    check_patterns(d, cols, groups, nf, nt);
    for (size_t f = 0; f < nf; ++f)
      cr_assert_str_eq(fitcl_data_family_name(d, f), fitcl_pamatrix_family_name(m, f));
    /* Regrouping recompresses; NULL puts everyone back in group 0. */
    for (size_t f = 0; f < nf; ++f) groups[f] = (int)(rnd() % 2);
    cr_assert_eq(fitcl_data_set_groups(d, groups, nf, err, sizeof err), FITCL_OK, "%s", err);
    check_patterns(d, cols, groups, nf, nt);
    cr_assert_eq(fitcl_data_set_groups(d, NULL, 0, err, sizeof err), FITCL_OK, "%s", err);
    memset(groups, 0, nf * sizeof *groups);
    check_patterns(d, cols, groups, nf, nt);
    cr_assert_str_eq(fitcl_data_family_name(d, nf - 1), fitcl_pamatrix_family_name(m, nf - 1));
    fitcl_data_destroy(d);
    fitcl_pamatrix_destroy(m);
    fitcl_tree_destroy(t);
    free(text);
    free(perm);
    free(tax);
    free(pool);
    free(cols);
    free(vals);
    free(groups);
  }
}

/* Matrix rows become columns three ways (data.c): copied where tips follow
 * the matrix's columns (extra taxa after them, whose cells share the last
 * byte, left out), gathered through one byte a cell for rows of up to
 * 16,384 cells, and cell by cell from the packed row beyond. */
Test(patterns, brute_force_tips_in_matrix_order_and_wide_rows) {
  const int sizes[] = {5, 6, 7, 9, 37, 16390};
  for (size_t c = 0; c < sizeof sizes / sizeof *sizes; ++c) {
    const int nt = sizes[c], wide = nt > 16384, extra = wide ? 0 : 1 + (int)(c % 3);
    const size_t nf = wide ? 9 : 300, mt = (size_t)(nt + extra);
    char *text = random_tree(nt);
    fitcl_tree *t = tree_of(text);
    const char **tax = malloc(mt * sizeof *tax);
    char xname[3][8] = {"x1", "x2", "x3"};
    int *perm = malloc((size_t)nt * sizeof *perm); /* matrix column k holds tip perm[k] */
    for (int i = 0; i < nt; ++i) perm[i] = i;
    for (int i = nt - 1; wide && i > 0; --i) {
      int j = (int)(rnd() % (unsigned)(i + 1)), x = perm[i];
      perm[i] = perm[j];
      perm[j] = x;
    }
    for (int k = 0; k < nt; ++k) tax[k] = fitcl_tree_tip_name(t, perm[k]);
    for (int k = 0; k < extra; ++k) tax[nt + k] = xname[k];
    const size_t npool = 1 + rnd() % 5;
    uint8_t *pool = malloc(npool * (size_t)nt);
    for (size_t k = 0; k < npool * (size_t)nt; ++k) pool[k] = (uint8_t)(rnd() % 3);
    uint8_t *cols = malloc(nf * (size_t)nt), *vals = malloc(nf * mt);
    int *groups = calloc(nf, sizeof *groups);
    for (size_t f = 0; f < nf; ++f) {
      memcpy(cols + f * (size_t)nt, pool + (rnd() % npool) * (size_t)nt, (size_t)nt);
      for (int k = 0; k < nt; ++k)
        vals[f * mt + (size_t)k] = cols[f * (size_t)nt + (size_t)perm[k]];
      for (int k = 0; k < extra; ++k) vals[f * mt + (size_t)(nt + k)] = (uint8_t)(rnd() % 3);
    }
    fitcl_pamatrix *m = matrix_of(nf, mt, tax, vals);
    fitcl_data_options o = {.ignore_extra_taxa = 1};
    fitcl_data *d = NULL;
    char err[512];
    cr_assert_eq(fitcl_data_build(t, m, &o, &d, err, sizeof err), FITCL_OK, "%s", err);
    check_patterns(d, cols, groups, nf, nt);
    fitcl_data_destroy(d);
    fitcl_pamatrix_destroy(m);
    fitcl_tree_destroy(t);
    free(text);
    free(tax);
    free(perm);
    free(pool);
    free(cols);
    free(vals);
    free(groups);
  }
}

/* Enough cells for several batches made on every core (patterns.c): each
 * family's column is one of a few distinct pool columns, so the reference
 * is the (pool column, group) class of each family, numbered in order of
 * first appearance. */
Test(patterns, several_parallel_batches_against_the_classes) {
  const int nt = 4001;
  const size_t nf = 6000, npool = 40;
  char *text = random_tree(nt);
  fitcl_tree *t = tree_of(text);
  int *perm = malloc((size_t)nt * sizeof *perm);
  for (int i = 0; i < nt; ++i) perm[i] = i;
  for (int i = nt - 1; i > 0; --i) {
    int j = (int)(rnd() % (unsigned)(i + 1)), x = perm[i];
    perm[i] = perm[j];
    perm[j] = x;
  }
  const char **tax = malloc((size_t)nt * sizeof *tax);
  for (int k = 0; k < nt; ++k) tax[k] = fitcl_tree_tip_name(t, perm[k]);
  uint8_t *pool = malloc(npool * (size_t)nt), *vals = malloc(nf * (size_t)nt);
  for (size_t k = 0; k < npool * (size_t)nt; ++k) pool[k] = (uint8_t)(rnd() % 3);
  size_t *cls = malloc(nf * sizeof *cls);
  int *groups = malloc(nf * sizeof *groups);
  for (size_t f = 0; f < nf; ++f) {
    const size_t c = rnd() % npool;
    groups[f] = (int)(rnd() % 2);
    cls[f] = 2 * c + (size_t)groups[f];
    for (int k = 0; k < nt; ++k)
      vals[f * (size_t)nt + (size_t)k] = pool[c * (size_t)nt + (size_t)perm[k]];
  }
  fitcl_pamatrix *m = matrix_of(nf, (size_t)nt, tax, vals);
  fitcl_data_options o = {.groups = groups};
  fitcl_data *d = NULL;
  char err[512];
  cr_assert_eq(fitcl_data_build(t, m, &o, &d, err, sizeof err), FITCL_OK, "%s", err);
  size_t pat_of[2 * 40], next = 0;
  for (size_t k = 0; k < 2 * npool; ++k) pat_of[k] = SIZE_MAX;
  for (size_t f = 0; f < nf; ++f) {
    if (pat_of[cls[f]] == SIZE_MAX) pat_of[cls[f]] = next++;
    const size_t q = fitcl_data_family_pattern(d, f);
    cr_assert_eq(q, pat_of[cls[f]], "family %zu", f);
    cr_assert_eq(fitcl_data_family_group(d, f), groups[f]);
  }
  cr_assert_eq(fitcl_data_npatterns(d), next);
  for (size_t k = 0; k < 2 * npool; ++k) {
    if (pat_of[k] == SIZE_MAX) continue;
    for (int i = 0; i < nt; ++i)
      cr_assert_eq(fitcl_data_pattern_state(d, pat_of[k], i),
                   pool[(k / 2) * (size_t)nt + (size_t)i], "pattern %zu tip %d", pat_of[k], i);
  }
  fitcl_data_destroy(d);
  fitcl_pamatrix_destroy(m);
  fitcl_tree_destroy(t);
  free(text);
  free(perm);
  free(tax);
  free(pool);
  free(vals);
  free(cls);
  free(groups);
}

Test(patterns, groups_never_merge_identical_columns) {
  fitcl_tree *t = tree_of("(A:1,B:1);");
  const char *tax[] = {"A", "B"};
  uint8_t vals[] = {1, 0, 1, 0, 1, 0, 0, 1};
  fitcl_pamatrix *m = matrix_of(4, 2, tax, vals);
  int groups[] = {0, 1, 0, 1};
  fitcl_data_options o = {.groups = groups};
  fitcl_data *d = NULL;
  char err[256];
  cr_assert_eq(fitcl_data_build(t, m, &o, &d, err, sizeof err), FITCL_OK, "%s", err);
  cr_assert_eq(fitcl_data_npatterns(d), 3);
  cr_assert_eq(fitcl_data_family_pattern(d, 0), fitcl_data_family_pattern(d, 2));
  cr_assert_neq(fitcl_data_family_pattern(d, 0), fitcl_data_family_pattern(d, 1));
  cr_assert_eq(fitcl_data_pattern_weight(d, fitcl_data_family_pattern(d, 0)), 2.0);
  fitcl_data_destroy(d);
  fitcl_data_destroy(NULL);
  fitcl_pamatrix_destroy(m);
  fitcl_tree_destroy(t);
}

Test(patterns, group_errors) {
  fitcl_tree *t = tree_of("(A:1,B:1);");
  const char *tax[] = {"A", "B"};
  uint8_t vals[] = {1, 0, 0, 1};
  fitcl_pamatrix *m = matrix_of(2, 2, tax, vals);
  int bad[] = {0, -1};
  fitcl_data_options o = {.groups = bad};
  fitcl_data *d = NULL;
  char err[256];
  cr_assert_eq(fitcl_data_build(t, m, &o, &d, err, sizeof err), FITCL_ERR_RANGE);
  cr_assert(strstr(err, "family 1"), "%s", err);
  cr_assert_eq(fitcl_data_build(t, m, NULL, &d, err, sizeof err), FITCL_OK, "%s", err);
  int ok[] = {0, 1, 2};
  cr_assert_eq(fitcl_data_set_groups(d, ok, 3, err, sizeof err), FITCL_ERR_MISMATCH);
  int big[] = {0, 70000};
  cr_assert_eq(fitcl_data_set_groups(d, big, 2, err, sizeof err), FITCL_ERR_RANGE);
  /* A failed regroup leaves the data as it was. */
  cr_assert_eq(fitcl_data_npatterns(d), 2);
  cr_assert_eq(fitcl_data_ngroups(d), 1);
  fitcl_data_destroy(d);
  fitcl_pamatrix_destroy(m);
  fitcl_tree_destroy(t);
}

Test(patterns, from_states_internal) {
  /* Columns longer than 8 bytes exercise the word-wise hash. */
  int nt = 19;
  size_t nf = 300;
  uint8_t *s = malloc(nf * (size_t)nt);
  int *g = calloc(nf, sizeof *g);
  for (size_t f = 0; f < nf; ++f)
    for (int i = 0; i < nt; ++i) s[f * nt + i] = (uint8_t)((f % 17) * (i + 1) % 3);
  fitcl__patterns p;
  char err[256];
  cr_assert_eq(fitcl__patterns_from_states(&p, nf, nt, s, NULL, NULL, err, sizeof err), FITCL_OK);
  cr_assert_str_eq(p.family_name[0], "F1");
  char *text = random_tree(nt);
  fitcl_tree *t = tree_of(text);
  free(text);
  fitcl__tree tc;
  cr_assert_eq(fitcl__tree_copy(&tc, &t->t), 0);
  fitcl_data *d = NULL;
  cr_assert_eq(fitcl__data_wrap(&tc, &p, &d), FITCL_OK);
  check_patterns(d, s, g, nf, nt);
  fitcl_data_destroy(d);
  fitcl_tree_destroy(t);
  free(s);
  free(g);
}

Test(data, prune_deep_caterpillar) {
  /* 10,000-taxon caterpillar; keep the even tips.  The pruned tree is a
   * 5,000-taxon caterpillar and distances between kept tips are kept. */
  int n = 10000;
  size_t cap = (size_t)n * 24 + 16, len = 0;
  char *s = malloc(cap);
  for (int i = 0; i < n - 1; ++i) s[len++] = '(';
  len += (size_t)snprintf(s + len, cap - len, "T0:1");
  for (int i = 1; i < n; ++i)
    len += (size_t)snprintf(s + len, cap - len, ",T%d:1)%s", i, i < n - 1 ? ":0.5" : ";");
  fitcl_tree *t = tree_of(s);
  const char **keep = malloc((size_t)(n / 2) * sizeof *keep);
  for (int i = 0; i < n / 2; ++i) keep[i] = fitcl_tree_tip_name(t, 2 * i);
  uint8_t *vals = calloc((size_t)n / 2, 1);
  fitcl_pamatrix *m = matrix_of(1, (size_t)n / 2, keep, vals);
  fitcl_data_options o = {.prune_missing = 1};
  fitcl_data *d = NULL;
  char err[512];
  cr_assert_eq(fitcl_data_build(t, m, &o, &d, err, sizeof err), FITCL_OK, "%s", err);
  const fitcl__tree *p = &fitcl_data_tree(d)->t;
  cr_assert_eq(p->ntips, n / 2);
  cr_assert_eq(p->nnodes, n - 1);
  cr_assert_eq(p->nlevels, n / 2);
  for (int k = 0; k < 50; ++k) {
    int i = (int)(rnd() % (unsigned)(n / 2)), j = (int)(rnd() % (unsigned)(n / 2));
    cr_assert(fitcl_test_close(tip_distance(p, i, j), tip_distance(&t->t, 2 * i, 2 * j), 1e-12));
  }
  fitcl_data_destroy(d);
  fitcl_pamatrix_destroy(m);
  fitcl_tree_destroy(t);
  free(vals);
  free(keep);
  free(s);
}
