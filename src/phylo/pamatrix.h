/* Presence/absence matrix storage.  Internal; the public handle is
 * fitcl_pamatrix (include/fitcl/tree.h).  The readers and the writer are in
 * io/pamatrix.h.
 *
 * Cells take two bits (FITCL_PA_ABSENT/PRESENT/MISSING), family-major: the
 * row of family f starts at packed + f*stride and holds ntaxa cells, four
 * per byte, cell t in bits 2*(t%4)..2*(t%4)+1 of byte t/4.  Names live in
 * two pools of NUL-terminated strings addressed by offsets, so a million
 * family names cost one allocation, not a million. */
#ifndef FITCL_PHYLO_PAMATRIX_H
#define FITCL_PHYLO_PAMATRIX_H

#include <stddef.h>
#include <stdint.h>
#include "fitcl.h"

struct fitcl_pamatrix {
  size_t nfamilies;
  size_t ntaxa;
  size_t stride;        /* bytes per family row: (ntaxa + 3) / 4 */
  uint8_t *packed;      /* [nfamilies * stride] */
  char *fam_pool;       /* family names, NUL-terminated, back to back */
  size_t *fam_off;      /* [nfamilies] offsets into fam_pool */
  char *tax_pool;
  size_t *tax_off;      /* [ntaxa] */
};

static inline int fitcl__pa_get(const fitcl_pamatrix *m, size_t f, size_t t) {
  return (m->packed[f * m->stride + (t >> 2)] >> ((t & 3) * 2)) & 3;
}
static inline const char *fitcl__pa_family(const fitcl_pamatrix *m, size_t f) {
  return m->fam_pool + m->fam_off[f];
}
static inline const char *fitcl__pa_taxon(const fitcl_pamatrix *m, size_t t) {
  return m->tax_pool + m->tax_off[t];
}

#endif
