/* libFuzzer harness for the Newick reader.  Any input must either fail
 * with a status and a message, or give a tree that satisfies every layout
 * invariant and survives a write/read round trip unchanged. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "io/newick.h"
#include "phylo/tree.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static void check_tree(const fitcl__tree *t) {
  CHECK(t->ntips >= 2 && t->nnodes > t->ntips);
  int root = t->nnodes - 1;
  CHECK(t->parent[root] == -1 && t->brlen[root] == 0.0);
  for (int v = 0; v < root; ++v) {
    CHECK(t->parent[v] > v && t->parent[v] >= t->ntips && t->parent[v] <= root);
    CHECK(t->brlen[v] >= 0.0 && t->brlen[v] < 1e308 * 10);
  }
  CHECK(t->child_start[0] == 0 && t->child_start[t->nnodes] == t->nnodes - 1);
  for (int v = 0; v < t->nnodes; ++v) {
    int n = t->child_start[v + 1] - t->child_start[v];
    CHECK(v < t->ntips ? n == 0 : n >= 1);
    for (int k = t->child_start[v]; k < t->child_start[v + 1]; ++k)
      CHECK(t->parent[t->child[k]] == v && t->level[t->child[k]] < t->level[v]);
    if (v < t->ntips) CHECK(t->label[v] && t->label[v][0]);
  }
  CHECK(t->nlevels == t->level[root] + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fitcl_tree *tree = NULL;
  char err[512];
  err[0] = '\0';
  fitcl_status st = fitcl__tree_parse_bytes((const char *)data, size, &tree, err, sizeof err);
  if (st != FITCL_OK) {
    CHECK(tree == NULL && err[0] != '\0');
    return 0;
  }
  check_tree(&tree->t);
  char *text = NULL;
  CHECK(fitcl_tree_to_newick(tree, &text) == FITCL_OK);
  fitcl_tree *again = NULL;
  st = fitcl_tree_parse(text, &again, err, sizeof err);
  CHECK(st == FITCL_OK);
  const fitcl__tree *a = &tree->t, *b = &again->t;
  CHECK(a->nnodes == b->nnodes && a->ntips == b->ntips);
  for (int v = 0; v < a->nnodes; ++v) {
    CHECK(a->parent[v] == b->parent[v] && a->brlen[v] == b->brlen[v]);
    CHECK((a->label[v] == NULL) == (b->label[v] == NULL));
    if (a->label[v]) CHECK(strcmp(a->label[v], b->label[v]) == 0);
  }
  free(text);
  fitcl_tree_destroy(again);
  fitcl_tree_destroy(tree);
  return 0;
}
