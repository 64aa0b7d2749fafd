/* Newick writer.  Iterative, like the reader, so deep trees cannot
 * overflow the call stack. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "fitcl.h"
#include "phylo/tree.h"

static int needs_quotes(const char *s) {
  if (!*s) return 1;
  for (; *s; ++s)
    if (strchr("()[]':;,\" \t\n\r\f\v", *s)) return 1;
  return 0;
}

static void put_label(fitcl__buf *b, const char *s) {
  if (!needs_quotes(s)) {
    fitcl__buf_append(b, s, strlen(s));
    return;
  }
  fitcl__buf_append(b, "'", 1);
  for (; *s; ++s) {
    if (*s == '\'') fitcl__buf_append(b, "'", 1);
    fitcl__buf_append(b, s, 1);
  }
  fitcl__buf_append(b, "'", 1);
}

fitcl_status fitcl_tree_to_newick(const fitcl_tree *tree, char **out) {
  if (out) *out = NULL;
  if (!tree || !out) return FITCL_ERR_NULL;
  const fitcl__tree *t = &tree->t;
  fitcl__buf b = {0};
  /* next[v]: position in v's child list of the next child to write. */
  int *next = calloc((size_t)t->nnodes, sizeof *next);
  int *stack = malloc((size_t)t->nnodes * sizeof *stack);
  if (!next || !stack) goto nomem;
  int sp = 0;
  stack[sp++] = t->nnodes - 1;
  while (sp > 0) {
    int v = stack[sp - 1];
    int nch = t->child_start[v + 1] - t->child_start[v];
    if (nch > 0 && next[v] < nch) {
      fitcl__buf_append(&b, next[v] == 0 ? "(" : ",", 1);
      stack[sp++] = t->child[t->child_start[v] + next[v]++];
      continue;
    }
    if (nch > 0) fitcl__buf_append(&b, ")", 1);
    if (t->label[v]) put_label(&b, t->label[v]);
    if (t->parent[v] >= 0) fitcl__buf_printf(&b, ":%.17g", t->brlen[v]);
    sp--;
  }
  fitcl__buf_append(&b, ";", 2); /* includes the terminating NUL */
  if (b.oom) goto nomem;
  free(next);
  free(stack);
  *out = b.data;
  return FITCL_OK;
nomem:
  free(next);
  free(stack);
  fitcl__buf_free(&b);
  return FITCL_ERR_NOMEM;
}
