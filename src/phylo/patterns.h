/* Presence/absence data matched to a tree and compressed into weighted
 * site patterns.  Internal.
 *
 * Taxa follow the tree's tip order (tip i of the tree is column i here).
 * Identical family columns in the same rate group become one pattern whose
 * weight is the number of families; families in different groups are never
 * merged. */
#ifndef FITCL_PHYLO_PATTERNS_H
#define FITCL_PHYLO_PATTERNS_H

#include <stddef.h>
#include <stdint.h>

#include "common/pruning.h" /* the state codes FITCL__ABSENT, FITCL__PRESENT, FITCL__MISSING */

typedef struct fitcl__patterns {
  int ntaxa;              /* == number of tree tips */
  size_t npatterns;
  uint8_t *state;         /* [npatterns * ntaxa], pattern-major: state[p*ntaxa + tip] */
  double *weight;         /* [npatterns]: number of families with this pattern */
  int *group;             /* [npatterns]: rate group (0 = background) */
  int ngroups;            /* 1 + max group */
  size_t nfamilies;
  size_t *family_pattern; /* [nfamilies]: pattern of each family */
  int *family_group;      /* [nfamilies] */
  char **family_name;     /* [nfamilies] */
} fitcl__patterns;

void fitcl__patterns_free(fitcl__patterns *p);

#endif
