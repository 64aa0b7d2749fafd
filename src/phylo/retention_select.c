/* Choosing the families of the retention test: by a list file or by a
 * regular expression over the family names. */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/ioerr.h"
#include "core/util.h"
#include "phylo/data.h"

#define FAMILY_LINE_MAX (64 << 10)

typedef struct name_ix {
  const char *name;
  size_t ix;
} name_ix;

static int cmp_name(const void *a, const void *b) {
  return strcmp(((const name_ix *)a)->name, ((const name_ix *)b)->name);
}

fitcl_status fitcl_select_families_file(fitcl_context *ctx, const fitcl_data *data,
                                        const char *path, unsigned char *selected) {
  fitcl_status st = FITCL_OK;
  FILE *f = NULL;
  name_ix *tab = NULL;
  char *line = NULL;
  size_t cap = 0;
  if (ctx) fitcl__clear_error(ctx);
  if (!data || !path || !selected)
    return fitcl__fail(ctx, FITCL_ERR_NULL, "fitcl_select_families_file: NULL argument");
  size_t n = data->pat.nfamilies;
  memset(selected, 0, n);
  char why[1024];
  if (fitcl__open_input(path, &f, why, sizeof why) != FITCL_OK) {
    st = fitcl__fail(ctx, FITCL_ERR_FILE, "the family list %s", why);
    goto fail;
  }
  tab = malloc(sizeof *tab * (n ? n : 1));
  if (!tab) { st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory"); goto fail; }
  for (size_t i = 0; i < n; ++i) tab[i] = (name_ix){data->pat.family_name[i], i};
  /* Sorted names make each lookup O(log n) for lists of any length. */
  qsort(tab, n, sizeof *tab, cmp_name);
  long lineno = 0, len;
  /* One family name per line: a line longer than this is not a list. */
  while ((len = fitcl__read_line(f, &line, &cap, FAMILY_LINE_MAX)) >= 0) {
    ++lineno;
    char *s = line, *e = line + len;
    /* A UTF-8 byte-order mark is not part of the first name. */
    if (lineno == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3;
    while (s < e && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) ++s;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n')) --e;
    if (s == e || *s == '#') continue;
    *e = '\0';
    name_ix key = {s, 0};
    name_ix *hit = n ? bsearch(&key, tab, n, sizeof *tab, cmp_name) : NULL;
    if (!hit) {
      st = fitcl__fail(ctx, FITCL_ERR_NAME,
                       "%s:%ld:1: unknown family '%s': it is not a row of the matrix (names "
                       "must match exactly)", path, lineno, s);
      goto fail;
    }
    selected[hit->ix] = 1;
  }
  if (len == -3) {
    st = fitcl__fail(ctx, FITCL_ERR_SIZE,
                     "%s:%ld: a line longer than %d KiB, the limit for a family list (one name "
                     "per line)", path, lineno + 1, FAMILY_LINE_MAX >> 10);
    goto fail;
  }
  if (len == -2) {
    st = fitcl__fail(ctx, FITCL_ERR_IO, "%s: read error: %s", path, strerror(errno));
    goto fail;
  }
fail:
  if (f) fclose(f);
  FITCL_FREE(tab);
  FITCL_FREE(line);
  return st;
}

fitcl_status fitcl_select_families_regex(fitcl_context *ctx, const fitcl_data *data,
                                         const char *regex, unsigned char *selected) {
  if (ctx) fitcl__clear_error(ctx);
  if (!data || !regex || !selected)
    return fitcl__fail(ctx, FITCL_ERR_NULL, "fitcl_select_families_regex: NULL argument");
  regex_t re;
  int rc = regcomp(&re, regex, REG_EXTENDED | REG_NOSUB);
  if (rc != 0) {
    char msg[256];
    regerror(rc, &re, msg, sizeof msg);
    return fitcl__fail(ctx, FITCL_ERR_ARG, "malformed regular expression '%s': %s", regex, msg);
  }
  for (size_t i = 0; i < data->pat.nfamilies; ++i)
    selected[i] = regexec(&re, data->pat.family_name[i], 0, NULL, 0) == 0;
  regfree(&re);
  return FITCL_OK;
}
