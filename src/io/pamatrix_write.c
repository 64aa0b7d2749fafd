/* fitcl_pamatrix_write_rtab: the Rtab/TSV writer, through the safe-output
 * routine (core/outfile.h). */
#include <stdlib.h>
#include <string.h>

#include "core/ioerr.h"
#include "core/outfile.h"
#include "fitcl.h"
#include "io/pamatrix.h"

/* A name starting with a quote would read back as a quoted field, so it is
 * written quoted, with inner quotes doubled. */
static void put_name(fitcl__outfile *o, const char *s) {
  if (s[0] != '"') {
    fitcl__out_write(o, s, strlen(s));
    return;
  }
  fitcl__out_write(o, "\"", 1);
  for (; *s; ++s) {
    if (*s == '"') fitcl__out_write(o, "\"", 1);
    fitcl__out_write(o, s, 1);
  }
  fitcl__out_write(o, "\"", 1);
}

/* Names written into a TSV must not hold its delimiters. */
static int tsv_safe(const char *s) { return !strpbrk(s, "\t\r\n"); }

fitcl_status fitcl__pamatrix_rtab_check(const fitcl_pamatrix *m, const char *path, char *err,
                                        size_t errlen) {
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
  return FITCL_OK;
}

fitcl_status fitcl__pamatrix_rtab_write(const fitcl_pamatrix *m, fitcl__outfile *o) {
  fitcl__out_write(o, "Gene", 4);
  for (size_t t = 0; t < m->ntaxa; ++t) {
    fitcl__out_write(o, "\t", 1);
    put_name(o, fitcl__pa_taxon(m, t));
  }
  fitcl__out_write(o, "\n", 1);
  static const char sym[4] = {'0', '1', '?', '?'};
  char *line = malloc(2 * m->ntaxa + 2);
  if (!line) return FITCL_ERR_NOMEM;
  for (size_t fam = 0; fam < m->nfamilies; ++fam) {
    put_name(o, fitcl__pa_family(m, fam));
    for (size_t t = 0; t < m->ntaxa; ++t) {
      line[2 * t] = '\t';
      line[2 * t + 1] = sym[fitcl__pa_get(m, fam, t)];
    }
    line[2 * m->ntaxa] = '\n';
    fitcl__out_write(o, line, 2 * m->ntaxa + 1);
  }
  free(line);
  return FITCL_OK;
}

fitcl_status fitcl_pamatrix_write_rtab(const fitcl_pamatrix *m, const char *path, char *err,
                                       size_t errlen) {
  if (!m || !path)
    return fitcl__ioerr(err, errlen, FITCL_ERR_NULL, "fitcl_pamatrix_write_rtab: NULL argument");
  fitcl_status st = fitcl__pamatrix_rtab_check(m, path, err, errlen);
  if (st != FITCL_OK) return st;
  fitcl__outfile o;
  st = fitcl__out_open(&o, path, 0, err, errlen);
  if (st != FITCL_OK) return st;
  if (fitcl__pamatrix_rtab_write(m, &o) != FITCL_OK) {
    fitcl__out_abort(&o);
    return fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "%s: out of memory", path);
  }
  return fitcl__out_commit(&o, err, errlen);
}
