/* fitcl_pamatrix: construction from memory, accessors, Rtab writer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "fitcl.h"
#include "core/ioerr.h"
#include "io/pamatrix.h"
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

/* A name starting with a quote would read back as a quoted field, so it is
 * written quoted, with inner quotes doubled. */
static void put_name(FILE *f, const char *s) {
  if (s[0] != '"') {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; ++s) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

/* Names written into a TSV must not hold its delimiters. */
static int tsv_safe(const char *s) { return !strpbrk(s, "\t\r\n"); }

fitcl_status fitcl_pamatrix_write_rtab(const fitcl_pamatrix *m, const char *path, char *err,
                                       size_t errlen) {
  if (!m || !path)
    return fitcl__ioerr(err, errlen, FITCL_ERR_NULL, "fitcl_pamatrix_write_rtab: NULL argument");
  for (size_t t = 0; t < m->ntaxa; ++t)
    if (!tsv_safe(fitcl__pa_taxon(m, t)))
      return fitcl__ioerr(err, errlen, FITCL_ERR_DATA,
                          "%s: taxon name %zu holds a tab or newline; Rtab cannot store it",
                          path, t);
  for (size_t f = 0; f < m->nfamilies; ++f)
    if (!tsv_safe(fitcl__pa_family(m, f)))
      return fitcl__ioerr(err, errlen, FITCL_ERR_DATA,
                          "%s: family name %zu holds a tab or newline; Rtab cannot store it",
                          path, f);
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 16);
  if (!tmp) return fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "out of memory");
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp.XXXXXX", 12);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    fitcl_status st = fitcl__ioerr(err, errlen, FITCL_ERR_FILE, "%s: cannot create: %s", path,
                                   strerror(errno));
    free(tmp);
    return st;
  }
  /* mkstemp creates 0600; a data file is meant to be shared like any other. */
  (void)fchmod(fd, 0644);
  FILE *f = fdopen(fd, "wb");
  if (!f) {
    close(fd);
    unlink(tmp);
    free(tmp);
    return fitcl__ioerr(err, errlen, FITCL_ERR_IO, "%s: cannot write", path);
  }
  fputs("Gene", f);
  for (size_t t = 0; t < m->ntaxa; ++t) {
    fputc('\t', f);
    put_name(f, fitcl__pa_taxon(m, t));
  }
  fputc('\n', f);
  static const char sym[4] = {'0', '1', '?', '?'};
  char *line = malloc(2 * m->ntaxa + 2);
  if (!line) {
    fclose(f);
    unlink(tmp);
    free(tmp);
    return fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "out of memory");
  }
  for (size_t fam = 0; fam < m->nfamilies; ++fam) {
    put_name(f, fitcl__pa_family(m, fam));
    for (size_t t = 0; t < m->ntaxa; ++t) {
      line[2 * t] = '\t';
      line[2 * t + 1] = sym[fitcl__pa_get(m, fam, t)];
    }
    line[2 * m->ntaxa] = '\n';
    fwrite(line, 1, 2 * m->ntaxa + 1, f);
  }
  free(line);
  int bad = ferror(f);
  if (fflush(f) != 0) bad = 1;
  if (fsync(fileno(f)) != 0) bad = 1;
  if (fclose(f) != 0) bad = 1;
  if (bad || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    free(tmp);
    return fitcl__ioerr(err, errlen, FITCL_ERR_IO, "%s: write failed: %s", path, strerror(e));
  }
  free(tmp);
  return FITCL_OK;
}
