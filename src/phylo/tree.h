/* Rooted tree in flat arrays, as every phylo module and kernel sees it.
 * Internal; the public handle fitcl_tree wraps one of these.
 *
 * Node numbering: tips are 0..ntips-1 in the order they appear in the
 * Newick string; internal nodes are ntips..nnodes-1 numbered so that every
 * child has a smaller index than its parent (a post-order); the root is
 * nnodes-1.  An unrooted trifurcating Newick root stays a 3-child root. */
#ifndef FITCL_PHYLO_TREE_H
#define FITCL_PHYLO_TREE_H

#include <stddef.h>

typedef struct fitcl__tree {
  int ntips;
  int nnodes;
  int *parent;        /* [nnodes]; -1 for the root */
  double *brlen;      /* [nnodes]; length of the branch above the node; root 0 */
  int *child_start;   /* [nnodes+1]; children of v are child[child_start[v]..child_start[v+1]) */
  int *child;         /* [nnodes-1] */
  char **label;       /* [nnodes]; tip names; internal labels or NULL */
  int *level;         /* [nnodes]; tips 0, internal 1 + max(level of children) */
  int nlevels;        /* 1 + level of the root */
} fitcl__tree;

struct fitcl_tree {
  fitcl__tree t;
};

/* Frees the arrays (not the struct). */
void fitcl__tree_free(fitcl__tree *t);

#endif
