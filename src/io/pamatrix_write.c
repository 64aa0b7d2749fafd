/* fitcl_pamatrix_write_rtab: the Rtab/TSV writer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ioerr.h"
#include "core/util.h"
#include "fitcl.h"
#include "phylo/pamatrix.h"

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
