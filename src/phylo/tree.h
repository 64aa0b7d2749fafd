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

/* Frees the arrays and every label (not the struct) and zeroes it. */
void fitcl__tree_free(fitcl__tree *t);

/* Allocates parent, brlen, label (all NULL), child_start, child and level
 * for ntips tips and nnodes nodes; the caller fills parent, brlen and
 * label and then calls fitcl__tree_finish.  Returns 0, or -1 when out of
 * memory (t is then freed). */
int fitcl__tree_alloc(fitcl__tree *t, int ntips, int nnodes);

/* Derives child_start/child (children in increasing index order), level and
 * nlevels from parent[], and sets the root's brlen to 0.  Requires the
 * numbering invariant (parent[v] > v, root nnodes-1).  Returns 0, or -1
 * when the invariant does not hold. */
int fitcl__tree_finish(fitcl__tree *t);
/* The same, with the children of each node listed in the order in which
 * they occur in seq (a permutation of 0..nnodes-1), e.g. Newick order. */
int fitcl__tree_finish_seq(fitcl__tree *t, const int *seq);

/* Deep copy; returns 0 or -1 when out of memory (dst then zeroed). */
int fitcl__tree_copy(fitcl__tree *dst, const fitcl__tree *src);

/* Builds in dst the tree restricted to the tips with keep[tip] != 0:
 * childless internal nodes are removed, nodes left with one child are
 * suppressed (the branch lengths above and below add up), and a root left
 * with one child is replaced by that child.  Tips and internal nodes keep
 * their relative order.  old_of_new (may be NULL, [src->nnodes]) receives
 * the source index of each new node.  Returns the number of tips kept, or
 * -1 when out of memory (dst zeroed).  When fewer than 2 tips are kept, dst
 * is left zeroed and the count is returned. */
int fitcl__tree_prune(fitcl__tree *dst, const fitcl__tree *src, const unsigned char *keep,
                      int *old_of_new);

#endif
