/* Newick reader and writer: accepted syntax, node numbering, every error
 * case with its line:column, a 10,000-taxon caterpillar. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "phylo/tree.h"
#include "test_util.h"

static fitcl_tree *parse_ok(const char *text) {
  fitcl_tree *t = NULL;
  char err[512] = "";
  fitcl_status st = fitcl_tree_parse(text, &t, err, sizeof err);
  cr_assert_eq(st, FITCL_OK, "parse of %s failed: %s", text, err);
  cr_assert_not_null(t);
  return t;
}

/* Asserts the status and that the message names the position "L:C:". */
static void parse_fails(const char *text, fitcl_status want, const char *where,
                        const char *words) {
  fitcl_tree *t = (fitcl_tree *)0x1;
  char err[512] = "";
  fitcl_status st = fitcl_tree_parse(text, &t, err, sizeof err);
  cr_assert_eq(st, want, "'%s': status %d, want %d (%s)", text, st, want, err);
  cr_assert_null(t, "output must be NULL on failure");
  char pos[64];
  snprintf(pos, sizeof pos, "<string>:%s: ", where);
  cr_assert(strstr(err, pos) == err, "'%s': message '%s' does not start with '%s'", text, err,
            pos);
  cr_assert(strstr(err, words), "'%s': message '%s' lacks '%s'", text, err, words);
}

/* Checks the structural invariants every consumer relies on. */
static void check_invariants(const fitcl_tree *tree) {
  const fitcl__tree *t = &tree->t;
  int root = t->nnodes - 1;
  cr_assert_eq(t->parent[root], -1);
  cr_assert_eq(t->brlen[root], 0.0);
  for (int v = 0; v < root; ++v) {
    cr_assert_gt(t->parent[v], v, "parent of %d must have a larger index", v);
    cr_assert_geq(t->parent[v], t->ntips);
    cr_assert(t->brlen[v] >= 0 && isfinite(t->brlen[v]));
  }
  int nchild = 0;
  for (int v = 0; v < t->nnodes; ++v) {
    for (int k = t->child_start[v]; k < t->child_start[v + 1]; ++k) {
      cr_assert_eq(t->parent[t->child[k]], v);
      nchild++;
    }
    if (v < t->ntips) {
      cr_assert_eq(t->child_start[v + 1], t->child_start[v], "tip %d has children", v);
      cr_assert_eq(t->level[v], 0);
      cr_assert_not_null(t->label[v]);
    } else {
      cr_assert_gt(t->child_start[v + 1], t->child_start[v]);
      int mx = 0;
      for (int k = t->child_start[v]; k < t->child_start[v + 1]; ++k)
        if (t->level[t->child[k]] > mx) mx = t->level[t->child[k]];
      cr_assert_eq(t->level[v], mx + 1);
    }
  }
  cr_assert_eq(nchild, t->nnodes - 1);
  cr_assert_eq(t->nlevels, t->level[root] + 1);
}

static int child(const fitcl_tree *tree, int v, int k) {
  return tree->t.child[tree->t.child_start[v] + k];
}
static int nchildren(const fitcl_tree *tree, int v) {
  return tree->t.child_start[v + 1] - tree->t.child_start[v];
}

Test(newick, basic_numbering) {
  fitcl_tree *t = parse_ok("(A:1,B:2,(C:0.5,D:0.25)E:1.5)root;");
  check_invariants(t);
  cr_assert_eq(fitcl_tree_ntips(t), 4);
  cr_assert_eq(fitcl_tree_nnodes(t), 6);
  const char *names[] = {"A", "B", "C", "D"};
  for (int i = 0; i < 4; ++i) cr_assert_str_eq(fitcl_tree_tip_name(t, i), names[i]);
  /* E closes first (index 4), the root last (5). */
  cr_assert_str_eq(fitcl_tree_node_label(t, 4), "E");
  cr_assert_str_eq(fitcl_tree_node_label(t, 5), "root");
  cr_assert_eq(fitcl_tree_parent(t, 2), 4);
  cr_assert_eq(fitcl_tree_parent(t, 3), 4);
  cr_assert_eq(fitcl_tree_parent(t, 0), 5);
  cr_assert_eq(fitcl_tree_parent(t, 4), 5);
  cr_assert_eq(fitcl_tree_branch_length(t, 1), 2.0);
  cr_assert_eq(fitcl_tree_branch_length(t, 4), 1.5);
  cr_assert_eq(fitcl_tree_branch_length(t, 3), 0.25);
  /* Children keep their Newick order: A, B, E. */
  cr_assert_eq(nchildren(t, 5), 3);
  cr_assert_eq(child(t, 5, 0), 0);
  cr_assert_eq(child(t, 5, 1), 1);
  cr_assert_eq(child(t, 5, 2), 4);
  cr_assert_eq(fitcl_tree_find_tip(t, "C"), 2);
  cr_assert_eq(fitcl_tree_find_tip(t, "Z"), -1);
  cr_assert_null(fitcl_tree_tip_name(t, 4));
  cr_assert_null(fitcl_tree_tip_name(t, -1));
  cr_assert_eq(fitcl_tree_parent(t, 99), -1);
  cr_assert(isnan(fitcl_tree_branch_length(t, 99)));
  fitcl_tree_destroy(t);
  fitcl_tree_destroy(NULL);
}

Test(newick, quoted_labels) {
  fitcl_tree *t = parse_ok("('it''s a':1,'B, (C)':2,\"say \"\"hi\"\"\":3);");
  cr_assert_str_eq(fitcl_tree_tip_name(t, 0), "it's a");
  cr_assert_str_eq(fitcl_tree_tip_name(t, 1), "B, (C)");
  cr_assert_str_eq(fitcl_tree_tip_name(t, 2), "say \"hi\"");
  fitcl_tree_destroy(t);
}

Test(newick, empty_quoted_label_rejected) {
  parse_fails("('':1,B:1);", FITCL_ERR_DATA, "1:2", "empty name");
}

Test(newick, comments_anywhere) {
  fitcl_tree *t = parse_ok("[lead][&R] ([a]A[b]:[c]1[d],[e]B:2[f]\n[g]) [h] [n[es]ted] ; [tail]");
  check_invariants(t);
  cr_assert_eq(fitcl_tree_ntips(t), 2);
  cr_assert_str_eq(fitcl_tree_tip_name(t, 0), "A");
  cr_assert_eq(fitcl_tree_branch_length(t, 0), 1.0);
  cr_assert_eq(fitcl_tree_branch_length(t, 1), 2.0);
  fitcl_tree_destroy(t);
}

Test(newick, support_values_and_internal_labels) {
  fitcl_tree *t = parse_ok("((A:1,B:1)95:0.5,(C:1,D:1)'clade x':0.25,E:2)100;");
  check_invariants(t);
  cr_assert_str_eq(fitcl_tree_node_label(t, 5), "95");
  cr_assert_str_eq(fitcl_tree_node_label(t, 6), "clade x");
  cr_assert_str_eq(fitcl_tree_node_label(t, 7), "100");
  fitcl_tree_destroy(t);
  t = parse_ok("((A:1,B:1):1,C:1);");
  cr_assert_null(fitcl_tree_node_label(t, 3), "an unlabelled internal node has no label");
  fitcl_tree_destroy(t);
}

Test(newick, scientific_notation) {
  fitcl_tree *t = parse_ok("(A:1e-3,B:2.5E+2,C:.5,D:7.,E:0,F:-0,G:1E5);");
  double want[] = {1e-3, 250.0, 0.5, 7.0, 0.0, 0.0, 1e5};
  for (int i = 0; i < 7; ++i) cr_assert_eq(fitcl_tree_branch_length(t, i), want[i], "tip %d", i);
  cr_assert(!signbit(fitcl_tree_branch_length(t, 5)), "-0 becomes +0");
  fitcl_tree_destroy(t);
}

Test(newick, multifurcation_and_trifurcating_root) {
  fitcl_tree *t = parse_ok("(A:1,B:1,C:1,D:1,E:1);");
  check_invariants(t);
  cr_assert_eq(nchildren(t, 5), 5);
  fitcl_tree_destroy(t);
  t = parse_ok("((A:1,B:1):1,C:1,D:1);");
  check_invariants(t);
  cr_assert_eq(nchildren(t, fitcl_tree_nnodes(t) - 1), 3, "unrooted root stays trifurcating");
  fitcl_tree_destroy(t);
}

Test(newick, unary_node_kept) {
  fitcl_tree *t = parse_ok("(((A:1):2,B:1):1,C:1);");
  check_invariants(t);
  cr_assert_eq(fitcl_tree_nnodes(t), 6);
  cr_assert_eq(nchildren(t, 3), 1);
  fitcl_tree_destroy(t);
}

Test(newick, free_whitespace) {
  fitcl_tree *t = parse_ok("\n (\n\tA : 1 ,\r\n  B\n:\n2.5\n)\n  root_label  \n;\n\n");
  check_invariants(t);
  cr_assert_eq(fitcl_tree_branch_length(t, 1), 2.5);
  cr_assert_str_eq(fitcl_tree_node_label(t, 2), "root_label");
  fitcl_tree_destroy(t);
}

Test(newick, underscores_kept) {
  fitcl_tree *t = parse_ok("(GCF_000005845.2:1,B_x:1);");
  cr_assert_str_eq(fitcl_tree_tip_name(t, 0), "GCF_000005845.2");
  fitcl_tree_destroy(t);
}

Test(newick, root_length_accepted_and_ignored) {
  fitcl_tree *t = parse_ok("(A:1,B:1):0.3;");
  cr_assert_eq(fitcl_tree_branch_length(t, 2), 0.0);
  fitcl_tree_destroy(t);
}

/* ---- errors: each names its line:column --------------------------------- */

Test(newick, error_unbalanced_open) {
  /* ';' is byte 11 of "((A:1,B:1);". */
  parse_fails("((A:1,B:1);", FITCL_ERR_PARSE, "1:11", "unbalanced parentheses");
  parse_fails("((A:1,B:1):1,C:1", FITCL_ERR_PARSE, "1:17", "unbalanced parentheses");
  parse_fails("(A:1,\n(B:1,\nC:1", FITCL_ERR_PARSE, "3:4", "innermost at 2:1");
}

Test(newick, error_unbalanced_close) {
  parse_fails("(A:1,B:1));", FITCL_ERR_PARSE, "1:10", "without a matching '('");
}

Test(newick, error_missing_semicolon) {
  parse_fails("(A:1,B:1)", FITCL_ERR_PARSE, "1:10", "missing ';'");
  parse_fails("(A:1,B:1)\n\n", FITCL_ERR_PARSE, "3:1", "missing ';'");
  parse_fails("(A:1,B:1) (C:1,D:1);", FITCL_ERR_PARSE, "1:11", "expected ';'");
}

Test(newick, error_text_after_semicolon) {
  parse_fails("(A:1,B:1);\n(C:1,D:1);", FITCL_ERR_PARSE, "2:1", "after the ';'");
}

Test(newick, error_duplicate_tip) {
  parse_fails("(A:1,B:1,\n  (C:1,A:2):1);", FITCL_ERR_DATA, "2:8", "duplicate tip name 'A'");
  parse_fails("('x y':1,'x y':1);", FITCL_ERR_DATA, "1:10", "duplicate tip name 'x y'");
}

Test(newick, error_negative_length) {
  parse_fails("(A:-1,B:1);", FITCL_ERR_DATA, "1:4", "negative branch length");
  parse_fails("(A:1,B:1e-3,\n C:-2.5e-1);", FITCL_ERR_DATA, "2:4", "negative branch length");
}

Test(newick, error_nan_and_infinite_length) {
  parse_fails("(A:nan,B:1);", FITCL_ERR_DATA, "1:4", "NaN");
  parse_fails("(A:1,B:NaN);", FITCL_ERR_DATA, "1:8", "NaN");
  parse_fails("(A:inf,B:1);", FITCL_ERR_DATA, "1:4", "infinite");
  parse_fails("(A:1e999,B:1);", FITCL_ERR_DATA, "1:4", "overflows");
}

Test(newick, error_malformed_length) {
  parse_fails("(A:1.2.3,B:1);", FITCL_ERR_DATA, "1:4", "malformed branch length");
  parse_fails("(A:0x10,B:1);", FITCL_ERR_DATA, "1:4", "malformed branch length");
  parse_fails("(A:1abc,B:1);", FITCL_ERR_DATA, "1:4", "malformed branch length");
}

Test(newick, error_missing_length) {
  parse_fails("(A,B:1);", FITCL_ERR_DATA, "1:3", "missing branch length for tip 'A'");
  parse_fails("(A:1,B:1,(C:1,D:1));", FITCL_ERR_DATA, "1:19", "missing branch length after ')'");
  parse_fails("(A:,B:1);", FITCL_ERR_DATA, "1:4", "missing branch length after ':'");
  parse_fails("(A:1,(C:1,D:1)x);", FITCL_ERR_DATA, "1:16", "internal node 'x'");
}

Test(newick, error_unnamed_tip) {
  parse_fails("(,A:1);", FITCL_ERR_DATA, "1:2", "tip without a name");
  parse_fails("(A:1,:1);", FITCL_ERR_DATA, "1:6", "tip without a name");
}

Test(newick, error_too_few_tips) {
  parse_fails("A;", FITCL_ERR_DATA, "1:1", "at least 2 tips");
  parse_fails("(A:1);", FITCL_ERR_DATA, "1:1", "at least 2 tips");
}

Test(newick, error_empty_and_unterminated) {
  parse_fails("", FITCL_ERR_PARSE, "1:1", "empty input");
  parse_fails("  [only a comment]\n", FITCL_ERR_PARSE, "2:1", "empty input");
  parse_fails("(A:1,B:1)[oops;", FITCL_ERR_PARSE, "1:10", "unterminated comment");
  parse_fails("('A:1,B:1);", FITCL_ERR_PARSE, "1:2", "unterminated quoted label");
  parse_fails("(A:1 B:1);", FITCL_ERR_PARSE, "1:6", "expected ',' or ')'");
}

Test(newick, error_null_arguments) {
  fitcl_tree *t = NULL;
  char err[128];
  cr_assert_eq(fitcl_tree_parse(NULL, &t, err, sizeof err), FITCL_ERR_NULL);
  cr_assert_eq(fitcl_tree_parse("(A:1,B:1);", NULL, NULL, 0), FITCL_ERR_NULL);
}

/* ---- files --------------------------------------------------------------- */

Test(newick, read_file_and_errors_name_the_file) {
  char *dir = fitcl_test_tmpdir();
  char *ok = fitcl_test_write_file(dir, "t.nwk", "(A:1,\n B:2);\n");
  char *bad = fitcl_test_write_file(dir, "bad.nwk", "(A:1,\n B:-2);\n");
  fitcl_tree *t = NULL;
  char err[1024];
  cr_assert_eq(fitcl_tree_read(ok, &t, err, sizeof err), FITCL_OK, "%s", err);
  cr_assert_eq(fitcl_tree_ntips(t), 2);
  fitcl_tree_destroy(t);
  cr_assert_eq(fitcl_tree_read(bad, &t, err, sizeof err), FITCL_ERR_DATA);
  char want[1100];
  snprintf(want, sizeof want, "%s:2:4: ", bad);
  cr_assert(strstr(err, want) == err, "message '%s'", err);
  char missing[1024];
  snprintf(missing, sizeof missing, "%s/none.nwk", dir);
  cr_assert_eq(fitcl_tree_read(missing, &t, err, sizeof err), FITCL_ERR_FILE);
  cr_assert(strstr(err, "none.nwk"));
  free(ok);
  free(bad);
  fitcl_test_rmtree(dir);
  free(dir);
}

/* ---- writer -------------------------------------------------------------- */

static void assert_same_tree(const fitcl_tree *a, const fitcl_tree *b) {
  cr_assert_eq(a->t.nnodes, b->t.nnodes);
  cr_assert_eq(a->t.ntips, b->t.ntips);
  for (int v = 0; v < a->t.nnodes; ++v) {
    cr_assert_eq(a->t.parent[v], b->t.parent[v]);
    cr_assert_eq(a->t.brlen[v], b->t.brlen[v], "exact round trip of lengths");
    if (a->t.label[v] || b->t.label[v]) cr_assert_str_eq(a->t.label[v], b->t.label[v]);
  }
}

Test(newick, writer_round_trip) {
  const char *src = "('it''s':0.1,(B:1e-7,'c d':3.3333333333333335)95:2,E:0.30000000000000004)r;";
  fitcl_tree *a = parse_ok(src);
  char *text = NULL;
  cr_assert_eq(fitcl_tree_to_newick(a, &text), FITCL_OK);
  fitcl_tree *b = parse_ok(text);
  assert_same_tree(a, b);
  free(text);
  fitcl_tree_destroy(a);
  fitcl_tree_destroy(b);
}

/* ---- deep trees ---------------------------------------------------------- */

/* "(((T0:1,T1:1):1,T2:1):1,...,T9999:1);" built independently of the
 * reader. */
static char *caterpillar(int n) {
  size_t cap = (size_t)n * 24 + 16, len = 0;
  char *s = malloc(cap);
  for (int i = 0; i < n - 1; ++i) s[len++] = '(';
  len += (size_t)snprintf(s + len, cap - len, "T0:1");
  for (int i = 1; i < n; ++i)
    len += (size_t)snprintf(s + len, cap - len, ",T%d:%d)%s", i, i,
                            i < n - 1 ? ":0.5" : ";");
  s[len] = '\0';
  return s;
}

Test(newick, caterpillar_10000) {
  int n = 10000;
  char *s = caterpillar(n);
  fitcl_tree *t = parse_ok(s);
  check_invariants(t);
  cr_assert_eq(fitcl_tree_ntips(t), n);
  cr_assert_eq(fitcl_tree_nnodes(t), 2 * n - 1);
  cr_assert_eq(t->t.nlevels, n);
  for (int i = 0; i < n; ++i) {
    char nm[16];
    snprintf(nm, sizeof nm, "T%d", i);
    cr_assert_str_eq(fitcl_tree_tip_name(t, i), nm);
  }
  /* The innermost cherry closes first. */
  cr_assert_eq(fitcl_tree_parent(t, 0), n);
  cr_assert_eq(fitcl_tree_parent(t, 1), n);
  cr_assert_eq(fitcl_tree_branch_length(t, n - 1), (double)(n - 1));
  char *text = NULL;
  cr_assert_eq(fitcl_tree_to_newick(t, &text), FITCL_OK);
  fitcl_tree *u = parse_ok(text);
  assert_same_tree(t, u);
  free(text);
  free(s);
  fitcl_tree_destroy(t);
  fitcl_tree_destroy(u);
}

Test(newick, deep_unbalanced_error_is_reported) {
  int n = 100000;
  char *s = malloc((size_t)n + 1);
  memset(s, '(', (size_t)n);
  s[n] = '\0';
  fitcl_tree *t = NULL;
  char err[256];
  cr_assert_eq(fitcl_tree_parse(s, &t, err, sizeof err), FITCL_ERR_PARSE);
  cr_assert(strstr(err, "100000 '(' still open"), "%s", err);
  free(s);
}
