/* Pattern compression: identical family columns in the same rate group
 * become one weighted pattern.  One pass over the families with an
 * open-addressing hash table keyed by (packed column, group), so the cost is
 * O(families x taxa) whatever the number of distinct patterns; the columns
 * and their hashes are made in parallel batches (compress). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "core/ioerr.h"
#include "core/pool.h"
#include "phylo/data.h"
#include "phylo/patterns.h"

#define MAX_GROUP 65535

void fitcl__patterns_free(fitcl__patterns *p) {
  if (!p) return;
  if (p->family_name)
    for (size_t f = 0; f < p->nfamilies; ++f) free(p->family_name[f]);
  FITCL_FREE(p->packed);
  FITCL_FREE(p->weight);
  FITCL_FREE(p->group);
  FITCL_FREE(p->family_pattern);
  FITCL_FREE(p->family_group);
  FITCL_FREE(p->family_name);
  memset(p, 0, sizeof *p);
}

static uint64_t hash_column(const uint8_t *c, size_t n, int group) {
  /* Eight bytes at a time; a multiply-xorshift mix is plenty for a table
   * that also compares the bytes. */
  uint64_t h = 0x9E3779B97F4A7C15ull ^ ((uint64_t)(unsigned)group * 0xC2B2AE3D27D4EB4Full);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, c + i, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
  }
  uint64_t w = 0;
  memcpy(&w, c + i, n - i);
  h = (h ^ w ^ (uint64_t)n) * 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 29;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 32;
  return h;
}

typedef struct table {
  size_t cap;        /* power of two */
  size_t *slot;      /* pattern index + 1, 0 empty */
  uint64_t *hash;
} table;

static int table_grow(table *t, size_t npat) {
  size_t ncap = t->cap ? t->cap * 2 : 1024;
  while (ncap < 2 * npat) ncap *= 2;
  size_t *ns = calloc(ncap, sizeof *ns);
  uint64_t *nh = malloc(ncap * sizeof *nh);
  if (!ns || !nh) {
    free(ns);
    free(nh);
    return -1;
  }
  for (size_t j = 0; j < t->cap; ++j) {
    if (!t->slot[j]) continue;
    size_t k = (size_t)t->hash[j] & (ncap - 1);
    while (ns[k]) k = (k + 1) & (ncap - 1);
    ns[k] = t->slot[j];
    nh[k] = t->hash[j];
  }
  free(t->slot);
  free(t->hash);
  t->slot = ns;
  t->hash = nh;
  t->cap = ncap;
  return 0;
}

/* Families are turned into columns and hashed in batches of about
 * BATCH_BYTES, on every core when there is enough to do (each family its
 * own slot), then entered into the table one after another in family
 * order: the patterns and their numbering do not depend on the threads.
 * The rows of a batch's new patterns are copied into place after its
 * entries, again on every core (the copy and the first touch of the
 * patterns' pages are most of the entering). */
enum { BATCH_BYTES = 8 << 20, TASK_FAMILIES = 64 };
#define PARALLEL_BYTES ((uint64_t)16 << 20)

typedef struct column_batch {
  fitcl__column_fn column;
  void *user;
  const int *groups;
  size_t first, count, stride;
  uint8_t *packs;  /* [count][stride] the columns, two bits a state */
  uint64_t *hash;  /* [count] */
  uint8_t *rows;   /* the patterns' rows */
  size_t first_new, nnew;
  size_t *slot;    /* [count]: the column of pattern first_new + j is packs row slot[j] */
} column_batch;

static void rows_task(void *arg, size_t task, unsigned worker) {
  (void)worker;
  const column_batch *b = arg;
  size_t j0 = task * TASK_FAMILIES;
  size_t j1 = b->nnew - j0 < TASK_FAMILIES ? b->nnew : j0 + TASK_FAMILIES;
  for (size_t j = j0; j < j1; ++j)
    memcpy(b->rows + (b->first_new + j) * b->stride, b->packs + b->slot[j] * b->stride, b->stride);
}

static void columns_task(void *arg, size_t task, unsigned worker) {
  (void)worker;
  const column_batch *b = arg;
  size_t i0 = task * TASK_FAMILIES, i1 = b->count - i0 < TASK_FAMILIES ? b->count : i0 + TASK_FAMILIES;
  for (size_t i = i0; i < i1; ++i) {
    size_t f = b->first + i;
    uint8_t *pk = b->packs + i * b->stride;
    b->column(b->user, f, pk);
    b->hash[i] = hash_column(pk, b->stride, b->groups ? b->groups[f] : 0);
  }
}

/* Compresses the columns into p's pattern arrays and family_pattern /
 * family_group; the names are left to the caller.  With `arena` (see
 * fitcl__patterns_build_in) the pattern rows are written into it: pattern
 * q is entered while reading family f >= q, after the whole batch holding
 * f was read, and its row ends at (q + 1) * stride <= (f + 1) * arena_stride,
 * so it only ever overwrites rows already read.  The arena becomes
 * p->packed (also on failure, for the caller to free). */
static fitcl_status compress(fitcl__patterns *p, size_t nfamilies, int ntaxa,
                             fitcl__column_fn column, void *user, const int *groups, int parallel,
                             uint8_t *arena, char *err, size_t errlen) {
  fitcl_status st = FITCL_OK;
  size_t nt = (size_t)ntaxa, sd = (nt + 3) / 4;
  table tab = {0};
  size_t pcap = 0;
  fitcl__pool *pool = NULL;
  size_t batch = BATCH_BYTES / (nt ? nt : 1);
  if (batch < 1) batch = 1;
  if (batch > nfamilies) batch = nfamilies ? nfamilies : 1;
  column_batch b = {column, user, groups, 0, 0, sd, malloc(batch * (sd ? sd : 1)),
                    malloc(batch * sizeof(uint64_t)), NULL, 0, 0, malloc(batch * sizeof(size_t))};
  p->ntaxa = ntaxa;
  p->stride = sd;
  p->nfamilies = nfamilies;
  if (arena) p->packed = arena;
  p->family_pattern = malloc((nfamilies ? nfamilies : 1) * sizeof *p->family_pattern);
  p->family_group = malloc((nfamilies ? nfamilies : 1) * sizeof *p->family_group);
  if (!b.packs || !b.slot || !b.hash || !p->family_pattern || !p->family_group ||
      table_grow(&tab, 0) != 0)
    goto nomem;
  int maxg = 0;
  for (size_t f = 0; f < nfamilies; ++f) {
    int g = groups ? groups[f] : 0;
    if (g < 0 || g > MAX_GROUP) {
      st = fitcl__ioerr(err, errlen, FITCL_ERR_RANGE,
                        "family %zu: rate group %d is outside 0..%d", f, g, MAX_GROUP);
      goto fail;
    }
    if (g > maxg) maxg = g;
  }
  /* Threads only where the work repays starting them; without them (or
   * without memory for them) the batches run on this thread. */
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (parallel && (uint64_t)nfamilies * nt >= PARALLEL_BYTES && cpus > 1)
    (void)fitcl__pool_create((unsigned)(cpus < 64 ? cpus : 64), &pool);
  for (size_t f0 = 0; f0 < nfamilies; f0 += batch) {
    b.first = f0;
    b.count = nfamilies - f0 < batch ? nfamilies - f0 : batch;
    size_t tasks = (b.count + TASK_FAMILIES - 1) / TASK_FAMILIES;
    if (pool) fitcl__pool_run(pool, tasks, columns_task, &b);
    else
      for (size_t k = 0; k < tasks; ++k) columns_task(&b, k, 0);
    b.first_new = p->npatterns;
    for (size_t i = 0; i < b.count; ++i) {
      size_t f = f0 + i;
      int g = groups ? groups[f] : 0;
      const uint8_t *col = b.packs + i * sd;
      uint64_t h = b.hash[i];
      size_t k = (size_t)h & (tab.cap - 1);
      size_t pat = SIZE_MAX;
      for (; tab.slot[k]; k = (k + 1) & (tab.cap - 1)) {
        size_t q = tab.slot[k] - 1;
        /* This batch's patterns are still in the batch. */
        const uint8_t *row = q >= b.first_new ? b.packs + b.slot[q - b.first_new] * sd
                                               : p->packed + q * sd;
        if (tab.hash[k] == h && p->group[q] == g && memcmp(row, col, sd) == 0) {
          pat = q;
          break;
        }
      }
      if (pat == SIZE_MAX) {
        pat = p->npatterns;
        if (pat == pcap) {
          size_t nc = pcap ? pcap * 2 : 256;
          if (!arena) {
            uint8_t *ns = realloc(p->packed, nc * (sd ? sd : 1));
            if (!ns) goto nomem;
            p->packed = ns;
          }
          double *nw = realloc(p->weight, nc * sizeof *nw);
          if (!nw) goto nomem;
          p->weight = nw;
          int *ng = realloc(p->group, nc * sizeof *ng);
          if (!ng) goto nomem;
          p->group = ng;
          pcap = nc;
        }
        b.slot[pat - b.first_new] = i;
        p->weight[pat] = 0.0;
        p->group[pat] = g;
        p->npatterns++;
        tab.slot[k] = pat + 1;
        tab.hash[k] = h;
        if (2 * p->npatterns > tab.cap && table_grow(&tab, p->npatterns) != 0) goto nomem;
      }
      p->weight[pat] += 1.0;
      p->family_pattern[f] = pat;
      p->family_group[f] = g;
    }
    b.rows = p->packed;
    b.nnew = p->npatterns - b.first_new;
    tasks = (b.nnew + TASK_FAMILIES - 1) / TASK_FAMILIES;
    if (pool && tasks > 1) fitcl__pool_run(pool, tasks, rows_task, &b);
    else
      for (size_t k = 0; k < tasks; ++k) rows_task(&b, k, 0);
  }
  p->ngroups = maxg + 1;
  /* Give back the unused tail of the doubling growth (or of the arena). */
  if (p->npatterns > 0 && (p->npatterns < pcap || arena)) {
    uint8_t *ns = realloc(p->packed, p->npatterns * (sd ? sd : 1));
    if (ns) p->packed = ns;
  }
  goto done;
nomem:
  st = fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM,
                    "out of memory compressing %zu families of %d taxa into patterns", nfamilies,
                    ntaxa);
fail:
done:
  fitcl__pool_destroy(pool);
  free(b.packs);
  free(b.slot);
  free(b.hash);
  free(tab.slot);
  free(tab.hash);
  return st;
}

fitcl_status fitcl__patterns_build(fitcl__patterns *out, size_t nfamilies, int ntaxa,
                                   fitcl__column_fn column, void *user, const int *groups,
                                   const char *const *names, int parallel, char *err,
                                   size_t errlen) {
  return fitcl__patterns_build_in(out, nfamilies, ntaxa, column, user, groups, names, parallel,
                                  NULL, 0, err, errlen);
}

fitcl_status fitcl__patterns_build_in(fitcl__patterns *out, size_t nfamilies, int ntaxa,
                                      fitcl__column_fn column, void *user, const int *groups,
                                      const char *const *names, int parallel, uint8_t *arena,
                                      size_t arena_stride, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  /* An arena whose rows are narrower than the patterns' cannot hold them
   * in place (tips sharing a taxon): copy, and free it after. */
  uint8_t *spare = NULL;
  if (arena && arena_stride < ((size_t)(ntaxa > 0 ? ntaxa : 0) + 3) / 4) {
    spare = arena;
    arena = NULL;
  }
  if (ntaxa < 1 || !column) {
    free(arena);
    free(spare);
    return fitcl__ioerr(err, errlen, FITCL_ERR_ARG, "patterns need at least one taxon");
  }
  fitcl__patterns p;
  memset(&p, 0, sizeof p);
  fitcl_status st =
    compress(&p, nfamilies, ntaxa, column, user, groups, parallel, arena, err, errlen);
  free(spare);
  if (st) goto fail;
  p.family_name = calloc(nfamilies ? nfamilies : 1, sizeof *p.family_name);
  if (!p.family_name) goto nomem;
  for (size_t f = 0; f < nfamilies; ++f) {
    if (names) {
      p.family_name[f] = fitcl__strdup(names[f] ? names[f] : "");
    } else {
      char tmp[32];
      snprintf(tmp, sizeof tmp, "F%zu", f + 1);
      p.family_name[f] = fitcl__strdup(tmp);
    }
    if (!p.family_name[f]) goto nomem;
  }
  *out = p;
  return FITCL_OK;
nomem:
  st = fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "out of memory copying family names");
fail:
  fitcl__patterns_free(&p);
  return st;
}

typedef struct states_src {
  const uint8_t *states;
  size_t ntaxa;
} states_src;

static void states_column(void *user, size_t f, uint8_t *dst) {
  const states_src *s = user;
  fitcl__pat_pack(s->states + f * s->ntaxa, s->ntaxa, dst);
}

fitcl_status fitcl__patterns_from_states(fitcl__patterns *out, size_t nfamilies, int ntaxa,
                                         const uint8_t *states, const int *groups,
                                         const char *const *names, char *err, size_t errlen) {
  states_src s = {states, (size_t)(ntaxa > 0 ? ntaxa : 0)};
  return fitcl__patterns_build(out, nfamilies, ntaxa, states_column, &s, groups, names, 0, err,
                               errlen);
}

static void pattern_column(void *user, size_t f, uint8_t *dst) {
  const fitcl__patterns *p = user;
  memcpy(dst, p->packed + p->family_pattern[f] * p->stride, p->stride);
}

fitcl_status fitcl__patterns_regroup(fitcl__patterns *p, const int *groups, char *err,
                                     size_t errlen) {
  fitcl__patterns q;
  memset(&q, 0, sizeof q);
  fitcl_status st =
    compress(&q, p->nfamilies, p->ntaxa, pattern_column, p, groups, 1, NULL, err, errlen);
  if (st) {
    fitcl__patterns_free(&q);
    return st;
  }
  q.family_name = p->family_name;
  p->family_name = NULL;
  fitcl__patterns_free(p);
  *p = q;
  return FITCL_OK;
}

typedef struct rows_src {
  const uint8_t *rows;
  size_t stride;
} rows_src;

static void row_column(void *user, size_t f, uint8_t *dst) {
  const rows_src *s = user;
  memcpy(dst, s->rows + f * s->stride, s->stride);
}

/* The parts' patterns, one after another, compressed as if each were a
 * family: part k's patterns are in the order their families first appear,
 * and the parts follow the row order, so the first appearance of every
 * pattern among them is its first appearance among the families, and the
 * numbering is one pass's.  The weights are then the parts' own, added. */
fitcl_status fitcl__patterns_merge(fitcl__patterns *out, int ntaxa, int nparts,
                                   const size_t *npat, const size_t *nfam, uint8_t *rows,
                                   const double *weight, const int *group,
                                   const uint64_t *family_pattern, const char *const *names,
                                   char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  size_t sd = ((size_t)(ntaxa > 0 ? ntaxa : 0) + 3) / 4, tp = 0, tf = 0;
  for (int k = 0; k < nparts; ++k) {
    tp += npat[k];
    tf += nfam[k];
  }
  if (ntaxa < 1) {
    free(rows);
    return fitcl__ioerr(err, errlen, FITCL_ERR_ARG, "patterns need at least one taxon");
  }
  fitcl__patterns p;
  memset(&p, 0, sizeof p);
  rows_src src = {rows, sd};
  fitcl_status st = compress(&p, tp, ntaxa, row_column, &src, group, 1, rows, err, errlen);
  if (st) goto fail;
  size_t *fp = malloc((tf ? tf : 1) * sizeof *fp);
  int *fg = malloc((tf ? tf : 1) * sizeof *fg);
  p.family_name = calloc(tf ? tf : 1, sizeof *p.family_name);
  if (!fp || !fg || !p.family_name) {
    free(fp);
    free(fg);
    goto nomem;
  }
  for (size_t q = 0; q < p.npatterns; ++q) p.weight[q] = 0.0;
  for (size_t j = 0; j < tp; ++j) p.weight[p.family_pattern[j]] += weight[j];
  size_t f = 0, j0 = 0;
  for (int k = 0; k < nparts; ++k) {
    for (size_t i = 0; i < nfam[k]; ++i, ++f) {
      const uint64_t local = family_pattern[f];
      if (local >= npat[k]) {
        free(fp);
        free(fg);
        st = fitcl__ioerr(err, errlen, FITCL_ERR_ARG, "part %d: family %zu has pattern %llu of %zu",
                          k, i, (unsigned long long)local, npat[k]);
        goto fail;
      }
      fp[f] = p.family_pattern[j0 + local];
      fg[f] = p.group[fp[f]];
    }
    j0 += npat[k];
  }
  free(p.family_pattern);
  free(p.family_group);
  p.family_pattern = fp;
  p.family_group = fg;
  p.nfamilies = tf;
  for (f = 0; f < tf; ++f) {
    p.family_name[f] = fitcl__strdup(names[f] ? names[f] : "");
    if (!p.family_name[f]) goto nomem;
  }
  *out = p;
  return FITCL_OK;
nomem:
  st = fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "out of memory merging %zu patterns", tp);
fail:
  fitcl__patterns_free(&p);
  return st;
}
