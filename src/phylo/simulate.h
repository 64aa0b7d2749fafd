/* Gain/loss simulation on a tree, shared by `fitcl simulate` and the
 * parametric bootstrap.  Internal. */
#ifndef FITCL_PHYLO_SIMULATE_H
#define FITCL_PHYLO_SIMULATE_H

#include <stddef.h>
#include <stdint.h>
#include "fitcl.h"
#include "phylo/rng.h"
#include "phylo/tree.h"

/* Transition probabilities of every branch for every (group, category):
 * p1[((group * ncats) + cat) * nnodes * 2 + 2 * v + s] is the probability
 * that node v is present given that its parent is in state s; root[group]
 * is the stationary presence probability at the root. */
typedef struct fitcl__sim_table {
  int ngroups, ncats, nnodes;
  double *p1;
  double *root;
} fitcl__sim_table;

/* Builds the table for gain g, loss l, per-group loss multipliers
 * loss_mult[0..ngroups) (NULL: one group with multiplier 1) and category
 * rates cat_rates[0..ncats) (NULL: one category of rate 1). */
fitcl_status fitcl__sim_table_build(fitcl__sim_table *tab, const fitcl__tree *t, double g,
                                    double l, int ngroups, const double *loss_mult,
                                    int ncats, const double *cat_rates);
void fitcl__sim_table_free(fitcl__sim_table *tab);

/* Simulates one family of `group` with generator r: draws its category,
 * then the states top-down.  node_state is scratch of t->nnodes bytes.
 * tips receives t->ntips states; where `missing` (NULL: none) is nonzero the
 * tip is written as FITCL__MISSING.  With `condition`, families with no
 * present tip among the observed ones are redrawn.  Returns 0, or -1 when
 * a million draws found no observed family. */
int fitcl__simulate_family(const fitcl__tree *t, const fitcl__sim_table *tab, int group,
                           int condition, fitcl__rng *r, const uint8_t *missing,
                           uint8_t *node_state, uint8_t *tips);

/* Chooses exactly k of n items uniformly at random (partial Fisher-Yates
 * with its own stream of seed): mark[i] = 1 for the chosen. */
void fitcl__sample_subset(uint64_t seed, size_t n, size_t k, uint8_t *mark);

/* Stream numbers, so that the public simulation, the subset choice and the
 * bootstrap replicates never share random numbers for one seed. */
#define FITCL__STREAM_SUBSET 0xfffffffffffffff0ULL
#define FITCL__STREAM_SIMULATE 0

#endif
