/* The flat tree: allocation, derived arrays, copying, pruning, and the
 * public accessors of fitcl_tree. */
#include "phylo/tree.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "fitcl.h"

void fitcl__tree_free(fitcl__tree *t) {
  if (!t) return;
  if (t->label)
    for (int v = 0; v < t->nnodes; ++v) free(t->label[v]);
  FITCL_FREE(t->parent);
  FITCL_FREE(t->brlen);
  FITCL_FREE(t->child_start);
  FITCL_FREE(t->child);
  FITCL_FREE(t->label);
  FITCL_FREE(t->level);
  memset(t, 0, sizeof *t);
}

int fitcl__tree_alloc(fitcl__tree *t, int ntips, int nnodes) {
  memset(t, 0, sizeof *t);
  if (ntips < 1 || nnodes < ntips) return -1;
  size_t n = (size_t)nnodes;
  t->ntips = ntips;
  t->nnodes = nnodes;
  t->parent = malloc(n * sizeof *t->parent);
  t->brlen = calloc(n, sizeof *t->brlen);
  t->child_start = calloc(n + 1, sizeof *t->child_start);
  /* One spare slot so a 1-node tree still gets a valid pointer. */
  t->child = calloc(n, sizeof *t->child);
  t->label = calloc(n, sizeof *t->label);
  t->level = calloc(n, sizeof *t->level);
  if (!t->parent || !t->brlen || !t->child_start || !t->child || !t->label || !t->level) {
    fitcl__tree_free(t);
    return -1;
  }
  return 0;
}

int fitcl__tree_finish_seq(fitcl__tree *t, const int *seq) {
  int n = t->nnodes;
  int root = n - 1;
  if (n < 1 || t->parent[root] != -1) return -1;
  for (int v = 0; v < root; ++v)
    if (t->parent[v] <= v || t->parent[v] >= n || t->parent[v] < t->ntips) return -1;
  /* Counting sort of the nodes by parent, stable in seq order. */
  memset(t->child_start, 0, (size_t)(n + 1) * sizeof *t->child_start);
  for (int v = 0; v < root; ++v) t->child_start[t->parent[v] + 1]++;
  for (int v = 0; v < n; ++v) t->child_start[v + 1] += t->child_start[v];
  int *fill = malloc((size_t)n * sizeof *fill);
  if (!fill) return -1;
  memcpy(fill, t->child_start, (size_t)n * sizeof *fill);
  for (int i = 0; i < n; ++i) {
    int v = seq ? seq[i] : i;
    if (v == root) continue;
    t->child[fill[t->parent[v]]++] = v;
  }
  free(fill);
  /* Every internal node needs at least one child. */
  for (int v = t->ntips; v < n; ++v)
    if (t->child_start[v + 1] == t->child_start[v]) return -1;
  /* Children precede parents, so one ascending pass computes the levels. */
  for (int v = 0; v < n; ++v) t->level[v] = 0;
  for (int v = 0; v < root; ++v) {
    int p = t->parent[v];
    if (t->level[p] < t->level[v] + 1) t->level[p] = t->level[v] + 1;
  }
  t->nlevels = 1 + t->level[root];
  t->brlen[root] = 0.0;
  return 0;
}

int fitcl__tree_finish(fitcl__tree *t) { return fitcl__tree_finish_seq(t, NULL); }

int fitcl__tree_copy(fitcl__tree *dst, const fitcl__tree *src) {
  if (fitcl__tree_alloc(dst, src->ntips, src->nnodes) != 0) return -1;
  size_t n = (size_t)src->nnodes;
  memcpy(dst->parent, src->parent, n * sizeof *dst->parent);
  memcpy(dst->brlen, src->brlen, n * sizeof *dst->brlen);
  memcpy(dst->child_start, src->child_start, (n + 1) * sizeof *dst->child_start);
  if (n > 1) memcpy(dst->child, src->child, (n - 1) * sizeof *dst->child);
  memcpy(dst->level, src->level, n * sizeof *dst->level);
  dst->nlevels = src->nlevels;
  for (size_t v = 0; v < n; ++v) {
    if (!src->label[v]) continue;
    dst->label[v] = fitcl__strdup(src->label[v]);
    if (!dst->label[v]) {
      fitcl__tree_free(dst);
      return -1;
    }
  }
  return 0;
}

int fitcl__tree_prune(fitcl__tree *dst, const fitcl__tree *src, const unsigned char *keep,
                      int *old_of_new) {
  int n = src->nnodes, ret = -1;
  memset(dst, 0, sizeof *dst);
  /* rep[v]: the node standing for v's subtree in the pruned tree (-1: none);
   * up[v]: the length from rep[v] up to v's parent. */
  int *rep = malloc((size_t)n * sizeof *rep);
  int *nkept = calloc((size_t)n, sizeof *nkept);
  int *newid = malloc((size_t)n * sizeof *newid);
  double *up = malloc((size_t)n * sizeof *up);
  if (!rep || !nkept || !newid || !up) goto done;
  int ntips = 0;
  for (int v = 0; v < n; ++v) {
    if (v < src->ntips) {
      rep[v] = keep[v] ? v : -1;
      up[v] = src->brlen[v];
      if (keep[v]) ntips++;
      continue;
    }
    int last = -1;
    for (int i = src->child_start[v]; i < src->child_start[v + 1]; ++i) {
      int c = src->child[i];
      if (rep[c] >= 0) {
        nkept[v]++;
        last = c;
      }
    }
    if (nkept[v] == 0) {
      rep[v] = -1;
    } else if (nkept[v] == 1) {
      rep[v] = rep[last];
      up[v] = src->brlen[v] + up[last];
    } else {
      rep[v] = v;
      up[v] = src->brlen[v];
    }
  }
  if (ntips < 2) {
    ret = ntips;
    goto done;
  }
  /* The new root is rep[old root]; kept nodes are v with rep[v] == v. */
  int oldroot = rep[n - 1];
  int nn = 0, nt = 0;
  for (int v = 0; v < n; ++v)
    if (rep[v] == v) newid[v] = v < src->ntips ? nt++ : -2;
  nn = nt;
  for (int v = src->ntips; v < n; ++v)
    if (rep[v] == v) newid[v] = nn++;
  if (fitcl__tree_alloc(dst, nt, nn) != 0) goto done;
  for (int v = 0; v < n; ++v) {
    if (rep[v] != v) continue;
    int w = newid[v];
    if (old_of_new) old_of_new[w] = v;
    if (src->label[v]) {
      dst->label[w] = fitcl__strdup(src->label[v]);
      if (!dst->label[w]) goto fail;
    }
    dst->parent[w] = -1;
    dst->brlen[w] = 0.0;
  }
  /* Each kept internal node adopts the representatives of its children. */
  for (int v = src->ntips; v < n; ++v) {
    if (rep[v] != v) continue;
    for (int i = src->child_start[v]; i < src->child_start[v + 1]; ++i) {
      int c = src->child[i];
      if (rep[c] < 0) continue;
      int w = newid[rep[c]];
      dst->parent[w] = newid[v];
      dst->brlen[w] = up[c];
    }
  }
  dst->parent[newid[oldroot]] = -1;
  if (fitcl__tree_finish(dst) != 0) goto fail;
  ret = ntips;
  goto done;
fail:
  fitcl__tree_free(dst);
  ret = -1;
done:
  free(rep);
  free(nkept);
  free(newid);
  free(up);
  return ret;
}

/* ------------------------------------------------------------------------- */

void fitcl_tree_destroy(fitcl_tree *tree) {
  if (!tree) return;
  fitcl__tree_free(&tree->t);
  free(tree);
}

int fitcl_tree_ntips(const fitcl_tree *tree) { return tree ? tree->t.ntips : 0; }
int fitcl_tree_nnodes(const fitcl_tree *tree) { return tree ? tree->t.nnodes : 0; }

const char *fitcl_tree_tip_name(const fitcl_tree *tree, int i) {
  if (!tree || i < 0 || i >= tree->t.ntips) return NULL;
  return tree->t.label[i];
}

const char *fitcl_tree_node_label(const fitcl_tree *tree, int v) {
  if (!tree || v < 0 || v >= tree->t.nnodes) return NULL;
  return tree->t.label[v];
}

int fitcl_tree_parent(const fitcl_tree *tree, int v) {
  if (!tree || v < 0 || v >= tree->t.nnodes) return -1;
  return tree->t.parent[v];
}

double fitcl_tree_branch_length(const fitcl_tree *tree, int v) {
  if (!tree || v < 0 || v >= tree->t.nnodes) return NAN;
  return tree->t.brlen[v];
}

int fitcl_tree_find_tip(const fitcl_tree *tree, const char *name) {
  if (!tree || !name) return -1;
  for (int i = 0; i < tree->t.ntips; ++i)
    if (tree->t.label[i] && strcmp(tree->t.label[i], name) == 0) return i;
  return -1;
}
