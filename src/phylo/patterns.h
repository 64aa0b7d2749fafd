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
  size_t stride;          /* bytes per pattern row: (ntaxa + 3) / 4 */
  uint8_t *packed;        /* [npatterns * stride], pattern-major, two bits a cell as in the
                           * matrix (phylo/pamatrix.h): tip t of pattern p in bits
                           * 2*(t%4)..2*(t%4)+1 of byte p*stride + t/4 */
  double *weight;         /* [npatterns]: number of families with this pattern */
  int *group;             /* [npatterns]: rate group (0 = background) */
  int ngroups;            /* 1 + max group */
  size_t nfamilies;
  size_t *family_pattern; /* [nfamilies]: pattern of each family */
  int *family_group;      /* [nfamilies] */
  char **family_name;     /* [nfamilies] */
} fitcl__patterns;

void fitcl__patterns_free(fitcl__patterns *p);

/* The state of tip t in pattern p. */
static inline int fitcl__pat_get(const fitcl__patterns *p, size_t q, size_t t) {
  return (p->packed[q * p->stride + (t >> 2)] >> ((t & 3) * 2)) & 3;
}

/* Pattern q's states, one byte a tip, into dst[0..ntaxa). */
static inline void fitcl__pat_row(const fitcl__patterns *p, size_t q, uint8_t *dst) {
  const uint8_t *r = p->packed + q * p->stride;
  for (size_t t = 0; t < (size_t)p->ntaxa; ++t) dst[t] = (r[t >> 2] >> ((t & 3) * 2)) & 3;
}

/* n states (each 0..3), one byte each, into (n + 3) / 4 packed bytes. */
static inline void fitcl__pat_pack(const uint8_t *src, size_t n, uint8_t *dst) {
  for (size_t i = 0; i < (n + 3) / 4; ++i) {
    unsigned b = 0;
    for (size_t k = 0; k < 4 && 4 * i + k < n; ++k) b |= (unsigned)(src[4 * i + k] & 3) << (2 * k);
    dst[i] = (uint8_t)b;
  }
}

#endif
