/* fitcl_pamatrix: construction from memory and accessors (the readers and
 * the writer are in io/). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "fitcl.h"
#include "core/ioerr.h"
#include "phylo/pamatrix.h"
#include "core/strmap.h"

void fitcl_pamatrix_destroy(fitcl_pamatrix *m) {
  if (!m) return;
  free(m->packed);
  free(m->fam_pool);
  free(m->fam_off);
  free(m->tax_pool);
  free(m->tax_off);
  free(m);
}

size_t fitcl_pamatrix_nfamilies(const fitcl_pamatrix *m) { return m ? m->nfamilies : 0; }
size_t fitcl_pamatrix_ntaxa(const fitcl_pamatrix *m) { return m ? m->ntaxa : 0; }

const char *fitcl_pamatrix_family_name(const fitcl_pamatrix *m, size_t family) {
  return m && family < m->nfamilies ? fitcl__pa_family(m, family) : NULL;
}

const char *fitcl_pamatrix_taxon_name(const fitcl_pamatrix *m, size_t taxon) {
  return m && taxon < m->ntaxa ? fitcl__pa_taxon(m, taxon) : NULL;
}

int fitcl_pamatrix_get(const fitcl_pamatrix *m, size_t family, size_t taxon) {
  if (!m || family >= m->nfamilies || taxon >= m->ntaxa) return -1;
  return fitcl__pa_get(m, family, taxon);
}

typedef struct pool_view {
  const char *pool;
  const size_t *off;
} pool_view;

static const char *view_key(const void *user, size_t i) {
  const pool_view *v = user;
  return v->pool + v->off[i];
}

/* Copies n names into one pool, rejecting empty and duplicate names. */
static fitcl_status copy_names(size_t n, const char *const *names, const char *prefix,
                               const char *what, char **pool_out, size_t **off_out, char *err,
                               size_t errlen) {
  size_t total = 0;
  char tmp[32];
  for (size_t i = 0; i < n; ++i) {
    if (names) {
      if (!names[i])
        return fitcl__ioerr(err, errlen, FITCL_ERR_NULL, "%s name %zu is NULL", what, i);
      total += strlen(names[i]) + 1;
    } else {
      total += (size_t)snprintf(tmp, sizeof tmp, "%s%zu", prefix, i + 1) + 1;
    }
  }
  char *pool = malloc(total ? total : 1);
  size_t *off = malloc((n ? n : 1) * sizeof *off);
  fitcl__strmap seen;
  pool_view view = {pool, off};
  fitcl__strmap_init(&seen, view_key, &view);
  fitcl_status st = FITCL_OK;
  if (!pool || !off) goto nomem;
  size_t len = 0;
  for (size_t i = 0; i < n; ++i) {
    off[i] = len;
    int w = names ? snprintf(pool + len, total - len, "%s", names[i])
                  : snprintf(pool + len, total - len, "%s%zu", prefix, i + 1);
    size_t k = (size_t)w;
    if (k == 0) {
      st = fitcl__ioerr(err, errlen, FITCL_ERR_DATA, "%s name %zu is empty", what, i);
      goto fail;
    }
    size_t prev = fitcl__strmap_put(&seen, pool + len, k, i);
    if (prev == SIZE_MAX - 1) goto nomem;
    if (prev != i) {
      char q[80];
      fitcl__ioerr_name(q, sizeof q, pool + len, k);
      st = fitcl__ioerr(err, errlen, FITCL_ERR_DATA, "duplicate %s name '%s' (%zu and %zu)",
                        what, q, prev, i);
      goto fail;
    }
    len += k + 1;
  }
  fitcl__strmap_free(&seen);
  *pool_out = pool;
  *off_out = off;
  return FITCL_OK;
nomem:
  st = fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "out of memory copying %s names", what);
fail:
  fitcl__strmap_free(&seen);
  free(pool);
  free(off);
  return st;
}

fitcl_status fitcl_pamatrix_create(size_t nfamilies, size_t ntaxa, const uint8_t *values,
                                   const char *const *family_names,
                                   const char *const *taxon_names, fitcl_pamatrix **out,
                                   char *err, size_t errlen) {
  if (out) *out = NULL;
  if (!out || (!values && nfamilies > 0 && ntaxa > 0) || !taxon_names)
    return fitcl__ioerr(err, errlen, FITCL_ERR_NULL, "fitcl_pamatrix_create: NULL argument");
  if (nfamilies == 0 || ntaxa == 0)
    return fitcl__ioerr(err, errlen, FITCL_ERR_SIZE,
                        "a matrix needs at least one family and one taxon (got %zu x %zu)",
                        nfamilies, ntaxa);
  fitcl_pamatrix *m = calloc(1, sizeof *m);
  if (!m) return fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "out of memory");
  fitcl_status st;
  m->nfamilies = nfamilies;
  m->ntaxa = ntaxa;
  m->stride = (ntaxa + 3) / 4;
  m->packed = calloc(nfamilies, m->stride);
  if (!m->packed) {
    st = fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "out of memory for %zu x %zu cells",
                      nfamilies, ntaxa);
    goto fail;
  }
  for (size_t f = 0; f < nfamilies; ++f) {
    uint8_t *row = m->packed + f * m->stride;
    for (size_t t = 0; t < ntaxa; ++t) {
      uint8_t v = values[f * ntaxa + t];
      if (v > FITCL_PA_MISSING) {
        st = fitcl__ioerr(err, errlen, FITCL_ERR_DATA,
                          "value %u at family %zu, taxon %zu is not 0, 1 or 2", v, f, t);
        goto fail;
      }
      row[t >> 2] |= (uint8_t)(v << ((t & 3) * 2));
    }
  }
  st = copy_names(ntaxa, taxon_names, "", "taxon", &m->tax_pool, &m->tax_off, err, errlen);
  if (st) goto fail;
  st = copy_names(nfamilies, family_names, "F", "family", &m->fam_pool, &m->fam_off, err,
                  errlen);
  if (st) goto fail;
  *out = m;
  return FITCL_OK;
fail:
  fitcl_pamatrix_destroy(m);
  return st;
}

