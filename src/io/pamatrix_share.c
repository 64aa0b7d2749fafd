/* Each rank reads its rows of the matrix; the ranks merge their pattern
 * tables (io/pamatrix_share.h). */
#include "io/pamatrix_share.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/context.h"
#include "core/ioerr.h"
#include "core/strmap.h"
#include "core/util.h"
#include "io/pamatrix.h"
#include "io/pamatrix_npy.h"
#include "phylo/data.h"
#include "phylo/pamatrix.h"

/* The first line start at or after `at` (the byte before it is '\n'), or
 * e; UINT64_MAX on a read error.  Only the bytes up to that '\n' are read. */
static uint64_t line_start(int fd, uint64_t d, uint64_t at, uint64_t e) {
  if (at <= d) return d;
  if (at >= e) return e;
  char buf[4096];
  for (uint64_t pos = at - 1; pos < e;) {
    size_t want = e - pos < sizeof buf ? (size_t)(e - pos) : sizeof buf;
    ssize_t got = pread(fd, buf, want, (off_t)pos);
    if (got <= 0) return UINT64_MAX;
    const char *nl = memchr(buf, '\n', (size_t)got);
    if (nl) return pos + (uint64_t)(nl - buf) + 1;
    pos += (uint64_t)got;
  }
  return e;
}

/* Byte k/n of the way through [d, e), without overflow. */
static uint64_t cut(uint64_t d, uint64_t e, int k, int n) {
  const uint64_t len = e - d, q = len / (uint64_t)n, r = len % (uint64_t)n;
  return d + q * (uint64_t)k + r * (uint64_t)k / (uint64_t)n;
}

/* Every rank's `n` bytes at `mine` into all (n * size bytes); the status of
 * the exchange, FITCL_ERR_PEER when another rank failed. */
static fitcl_status swap(fitcl__ranks *R, const void *mine, size_t n, void *all, int failed) {
  return R->gather(R, mine, n, all, n * (size_t)R->size, failed);
}

/* gather of n bytes that may be none (and their pointer NULL). */
static fitcl_status give(fitcl__ranks *R, const void *mine, size_t n, void *all, size_t total,
                         int failed) {
  static const char none;
  return R->gather(R, n ? mine : &none, n, all, total, failed);
}

/* A rank that failed keeps its message and status; the others say a peer
 * failed. */
static fitcl_status merged_status(fitcl_status own, fitcl_status ex) {
  return own != FITCL_OK ? own : ex;
}

/* The rows of this rank's share of a text table: 0 and *m set, or a status
 * (this rank's own failure, FITCL_ERR_PEER, or -1 in *whole when the table
 * must be read whole by every rank). */
static fitcl_status read_text(fitcl__ranks *R, const char *path, const fitcl_pamatrix_options *mo,
                              fitcl_pamatrix **m, int *whole, char *err, size_t errlen) {
  fitcl__pa_text *t = NULL;
  fitcl__pa_text_info info;
  fitcl__pa_text_range_out ro;
  memset(&ro, 0, sizeof ro);
  fitcl_status st = fitcl__pa_text_open(path, mo, &t, &info, err, errlen);
  int mine_whole = st == FITCL_OK && !info.splittable;
  if (st == FITCL_OK && info.splittable) {
    const uint64_t d = info.data_off, e = info.end;
    const uint64_t a = line_start(info.fd, d, cut(d, e, R->rank, R->size), e);
    const uint64_t b = R->rank + 1 == R->size ? e
                                              : line_start(info.fd, d, cut(d, e, R->rank + 1, R->size), e);
    if (a == UINT64_MAX || b == UINT64_MAX)
      st = fitcl__ioerr(err, errlen, FITCL_ERR_IO, "%s: read error", path);
    else
      st = fitcl__pa_text_range(t, &info, a, b, &ro);
  }
  /* Every rank's way on: whole, quoted, and the line ends in its range
   * (the line numbers of the ranks after it). */
  int64_t rec[3] = {mine_whole, ro.pending && ro.quoted, (int64_t)ro.nlines};
  int64_t *all = malloc(sizeof rec * (size_t)R->size);
  if (!all) st = st ? st : fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "out of memory");
  fitcl_status ex = all ? swap(R, rec, sizeof rec, all, st != FITCL_OK) : FITCL_ERR_NOMEM;
  st = merged_status(st, ex);
  if (st == FITCL_OK) {
    long line0 = info.first_line;
    for (int k = 0; k < R->size; ++k) {
      if (all[3 * k] || all[3 * k + 1]) *whole = 1;
      if (k < R->rank) line0 += (long)all[3 * k + 2];
    }
    if (!*whole && ro.pending) st = fitcl__pa_text_general(t, line0);
    if (!*whole && st == FITCL_OK) st = fitcl__pa_text_take(t, m);
  }
  free(all);
  fitcl__pa_text_close(t);
  return st;
}

/* The first name that repeats an earlier one, in row order: its row and the
 * earlier row, or 0 when every name is new. */
static const char *name_key(const void *user, size_t i) {
  return ((const char *const *)user)[i];
}

static int find_repeat(const char **names, size_t n, size_t *first, size_t *again, int *nomem) {
  fitcl__strmap map;
  fitcl__strmap_init(&map, name_key, names);
  int found = 0;
  for (size_t f = 0; f < n && !found; ++f) {
    const char *nm = names[f];
    size_t prev = fitcl__strmap_put(&map, nm, strlen(nm), f);
    if (prev == SIZE_MAX - 1) {
      *nomem = 1;
      break;
    }
    if (prev != f) {
      *first = prev;
      *again = f;
      found = 1;
    }
  }
  fitcl__strmap_free(&map);
  return found;
}

/* The ranks' tables merged: every rank gives its patterns' rows, weights
 * and groups and its families' patterns. */
static fitcl_status merge(fitcl__ranks *R, fitcl_data *local, const size_t *nfam,
                          const char *const *names, fitcl__patterns *out, char *err,
                          size_t errlen) {
  fitcl__patterns *p = &local->pat;
  const int n = R->size, ntaxa = p->ntaxa;
  fitcl_status st = FITCL_OK;
  uint64_t mine = p->npatterns, *counts = malloc((size_t)n * sizeof *counts);
  size_t *npat = malloc((size_t)n * sizeof *npat);
  if (!counts || !npat) st = fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "out of memory");
  fitcl_status ex = counts ? swap(R, &mine, sizeof mine, counts, st != FITCL_OK) : FITCL_ERR_NOMEM;
  uint8_t *rows = NULL;
  double *w = NULL;
  int *g = NULL;
  uint64_t *fp = NULL, *myfp = NULL;
  size_t tp = 0, tf = 0;
  if ((st = merged_status(st, ex)) != FITCL_OK) goto done;
  for (int k = 0; k < n; ++k) {
    npat[k] = (size_t)counts[k];
    tp += npat[k];
    tf += nfam[k];
  }
  const size_t sd = p->stride;
  rows = malloc(tp * sd > 0 ? tp * sd : 1);
  w = malloc((tp ? tp : 1) * sizeof *w);
  g = malloc((tp ? tp : 1) * sizeof *g);
  fp = malloc((tf ? tf : 1) * sizeof *fp);
  myfp = malloc((p->nfamilies ? p->nfamilies : 1) * sizeof *myfp);
  int failed = !rows || !w || !g || !fp || !myfp;
  if (failed) st = fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "out of memory merging patterns");
  else
    for (size_t f = 0; f < p->nfamilies; ++f) myfp[f] = p->family_pattern[f];
  /* Each exchange agrees on failure first; after the first it cannot
   * differ between ranks. */
  ex = give(R, p->packed, p->npatterns * sd, rows, tp * sd, failed);
  if (ex == FITCL_OK) ex = give(R, p->weight, p->npatterns * sizeof *w, w, tp * sizeof *w, 0);
  if (ex == FITCL_OK) ex = give(R, p->group, p->npatterns * sizeof *g, g, tp * sizeof *g, 0);
  if (ex == FITCL_OK) ex = give(R, myfp, p->nfamilies * sizeof *fp, fp, tf * sizeof *fp, 0);
  if ((st = merged_status(st, ex)) != FITCL_OK) goto done;
  /* The rank's own table is every rank's now: given back before the merge. */
  FITCL_FREE(myfp);
  fitcl__patterns_free(&local->pat);
  st = fitcl__patterns_merge(out, ntaxa, n, npat, nfam, rows, w, g, fp, names, err, errlen);
  rows = NULL; /* taken */
done:
  free(counts);
  free(npat);
  free(rows);
  free(w);
  free(g);
  free(fp);
  free(myfp);
  return st;
}

fitcl_status fitcl__data_read_share(fitcl__ranks *R, const fitcl_tree *tree, const char *path,
                                    const fitcl_pamatrix_options *mopt,
                                    const fitcl_data_options *dopt, fitcl_data **out, char *err,
                                    size_t errlen) {
  *out = NULL;
  fitcl_pamatrix *m = NULL;
  fitcl_status st;
  if (!R || R->size < 2) {
  whole:
    st = fitcl_pamatrix_read(path, mopt, &m, err, errlen);
    if (st == FITCL_OK) st = fitcl_data_build_take(tree, &m, dopt, out, err, errlen);
    fitcl_pamatrix_destroy(m);
    return st;
  }
  const int n = R->size, npy = fitcl__pamatrix_is_npy(path, mopt);
  size_t row0 = 0;
  int whole = 0;
  if (npy) st = fitcl__pamatrix_read_npy_share(path, mopt, 0, R->rank, n, &row0, &m, err, errlen);
  else st = read_text(R, path, mopt, &m, &whole, err, errlen);
  if (whole) goto whole;
  /* The families of every rank, and (a text table) their names. */
  uint64_t rec[2] = {m ? m->nfamilies : 0, 0};
  if (m && !npy && m->nfamilies)
    rec[1] = m->fam_off[m->nfamilies - 1] + strlen(fitcl__pa_family(m, m->nfamilies - 1)) + 1;
  uint64_t *all = malloc(sizeof rec * (size_t)n);
  size_t *nfam = malloc((size_t)n * sizeof *nfam);
  char *pool = NULL;
  const char **names = NULL;
  fitcl_data *local = NULL;
  fitcl__patterns pat;
  memset(&pat, 0, sizeof pat);
  if (st == FITCL_OK && (!all || !nfam))
    st = fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "out of memory");
  fitcl_status ex = all ? swap(R, rec, sizeof rec, all, st != FITCL_OK) : FITCL_ERR_NOMEM;
  if ((st = merged_status(st, ex)) != FITCL_OK) goto done;
  size_t total = 0, first = 0, plen = 0;
  for (int k = 0; k < n; ++k) {
    nfam[k] = (size_t)all[2 * k];
    if (k < R->rank) first += nfam[k];
    total += nfam[k];
    plen += (size_t)all[2 * k + 1];
  }
  int failed = 0;
  names = malloc((total ? total : 1) * sizeof *names);
  /* Every rank read a .npy's names file whole: a copy outlives the matrix. */
  if (npy && total)
    plen = m->fam_off[total - 1] + strlen(m->fam_pool + m->fam_off[total - 1]) + 1;
  pool = malloc(plen ? plen : 1);
  failed = !names || !pool;
  if (failed) st = fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "out of memory for family names");
  if (!npy) {
    ex = give(R, m->fam_pool, (size_t)rec[1], pool, plen, failed);
    if ((st = merged_status(st, ex)) != FITCL_OK) goto done;
    for (size_t f = 0, at = 0; f < total; ++f) {
      names[f] = pool + at;
      at += strlen(pool + at) + 1;
    }
  } else if (st == FITCL_OK) {
    memcpy(pool, m->fam_pool, plen);
    for (size_t f = 0; f < total; ++f) names[f] = pool + m->fam_off[f];
  }
  /* A name two ranks both hold fails the rank of its later row (every rank
   * finds the same one, once they agree that every rank could look). */
  size_t i = 0, j = 0;
  int nomem = 0, found = st == FITCL_OK && !npy && find_repeat(names, total, &i, &j, &nomem);
  uint64_t z = 0, *zz = malloc((size_t)n * sizeof *zz);
  ex = zz ? swap(R, &z, sizeof z, zz, nomem || st != FITCL_OK) : FITCL_ERR_NOMEM;
  free(zz);
  if (nomem) st = fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "out of memory checking family names");
  if ((st = merged_status(st, ex)) != FITCL_OK) goto done;
  if (found) {
    char q[80];
    fitcl__ioerr_name(q, sizeof q, names[j], strlen(names[j]));
    if (j >= first && j < first + m->nfamilies)
      st = fitcl__ioerr(err, errlen, FITCL_ERR_DATA,
                        "%s: duplicate family name '%s' (data rows %zu and %zu)", path, q, i + 1,
                        j + 1);
    else
      st = fitcl__ioerr(err, errlen, FITCL_ERR_PEER, "%s: another rank's rows failed", path);
    goto done;
  }
  /* This rank's patterns (rate groups: its families'), then everyone's. */
  fitcl_data_options lo = {0};
  if (dopt) lo = *dopt;
  if (lo.groups) lo.groups += first;
  if (st == FITCL_OK) st = fitcl_data_build_take(tree, &m, &lo, &local, err, errlen);
  if (st != FITCL_OK) {
    /* Take part in the merge's first exchange, failed. */
    uint64_t *c = malloc((size_t)n * sizeof *c);
    ex = c ? swap(R, &z, sizeof z, c, 1) : FITCL_ERR_NOMEM;
    free(c);
    goto done;
  }
  /* The rank's own names are not kept (the merge names every family). */
  for (size_t f = 0; f < local->pat.nfamilies; ++f) FITCL_FREE(local->pat.family_name[f]);
  st = merge(R, local, nfam, names, &pat, err, errlen);
  if (st != FITCL_OK) goto done;
  st = fitcl__data_wrap(&local->tree, &pat, out);
  if (st != FITCL_OK) st = fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "out of memory");
done:
  fitcl__patterns_free(&pat);
  fitcl_data_destroy(local);
  fitcl_pamatrix_destroy(m);
  free(all);
  free(nfam);
  free(pool);
  free(names);
  return st;
}

fitcl_status fitcl__data_read_ctx(fitcl_context *ctx, const fitcl_tree *tree, const char *path,
                                  const fitcl_pamatrix_options *mopt,
                                  const fitcl_data_options *dopt, fitcl_data **out, char *err,
                                  size_t errlen) {
  return fitcl__data_read_share(ctx ? ctx->ranks : NULL, tree, path, mopt, dopt, out, err, errlen);
}
