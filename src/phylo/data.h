/* A tree matched to a presence/absence matrix and compressed into weighted
 * site patterns: what the likelihood, the analyses and the simulator read.
 * Internal; the public handle is fitcl_data (include/fitcl/tree.h).
 *
 * Invariants, once fitcl_data_build() returned FITCL_OK:
 * - tree is a valid fitcl__tree with at least 2 tips (see phylo/tree.h).
 * - pat.ntaxa == tree.ntips; pattern column i is tree tip i.
 * - pat.family_pattern, family_group, family_name are in matrix row order.
 * - pattern weights sum to pat.nfamilies; patterns are numbered in order of
 *   first appearance among the families.
 * The struct fitcl_tree view of `tree` is `fitcl__data_tree(d)`: struct
 * fitcl_tree holds exactly one fitcl__tree, so a pointer to this first
 * member is a valid pointer to a fitcl_tree. */
#ifndef FITCL_PHYLO_DATA_H
#define FITCL_PHYLO_DATA_H

#include <stddef.h>
#include <stdint.h>
#include "fitcl.h"
#include "phylo/patterns.h"
#include "phylo/tree.h"

struct fitcl_data {
  fitcl__tree tree;      /* first member: see fitcl__data_tree() */
  fitcl__patterns pat;
};

static inline const fitcl_tree *fitcl__data_tree(const fitcl_data *d) {
  return (const fitcl_tree *)(const void *)&d->tree;
}

/* Supplies the state column of family f, in tree tip order, packed as the
 * patterns hold it (patterns.h): (ntaxa + 3) / 4 bytes into dst, tip t in
 * bits 2*(t%4).. of byte t/4 (values FITCL__ABSENT/PRESENT/MISSING), the
 * unused high bits of the last byte clear. */
typedef void (*fitcl__column_fn)(void *user, size_t family, uint8_t *dst);

/* Builds patterns for nfamilies families of ntaxa taxa by hashing each
 * column with its group: O(nfamilies * ntaxa).  `groups` may be NULL (all
 * 0); `names` may be NULL (families named "F1", "F2", ...; copied
 * otherwise).  `out` is overwritten (free it first).  `parallel`: the
 * columns of a large matrix may be made on every core (the caller is not
 * itself one of many threads, as a bootstrap replicate is; `column` must
 * then be safe to call from several threads).  On failure returns a
 * status with a message in err and leaves *out zeroed. */
fitcl_status fitcl__patterns_build(fitcl__patterns *out, size_t nfamilies, int ntaxa,
                                   fitcl__column_fn column, void *user, const int *groups,
                                   const char *const *names, int parallel, char *err,
                                   size_t errlen);

/* fitcl__patterns_build, with the pattern rows compressed into `arena`:
 * the buffer `column` reads, nfamilies rows of arena_stride bytes, family
 * f's column made from row f alone.  Rows are overwritten only once read
 * (patterns.c, compress), so the cells are held once, not twice.  The
 * arena is always taken: it becomes out->packed (shrunk to the patterns)
 * or is freed; NULL builds as fitcl__patterns_build does. */
fitcl_status fitcl__patterns_build_in(fitcl__patterns *out, size_t nfamilies, int ntaxa,
                                      fitcl__column_fn column, void *user, const int *groups,
                                      const char *const *names, int parallel, uint8_t *arena,
                                      size_t arena_stride, char *err, size_t errlen);

/* Convenience for simulated data: family-major states[f*ntaxa + tip]. */
fitcl_status fitcl__patterns_from_states(fitcl__patterns *out, size_t nfamilies, int ntaxa,
                                         const uint8_t *states, const int *groups,
                                         const char *const *names, char *err, size_t errlen);

/* Re-assigns groups (NULL: all 0) and recompresses in place, keeping the
 * family names and every family's column.  On failure *p is unchanged. */
fitcl_status fitcl__patterns_regroup(fitcl__patterns *p, const int *groups, char *err,
                                     size_t errlen);

/* The pattern table of all the families from the tables of consecutive
 * runs of them (the shares of a job's ranks, in row order): part k has
 * npat[k] patterns and nfam[k] families; `rows`, `weight` and `group` hold
 * every part's patterns one part after another (rows packed, `stride` of
 * ntaxa), `family_pattern` every family's pattern in its part's numbering,
 * `names` every family's name.  The result is the table one pass over all
 * the families builds (fitcl__patterns_build): the same patterns, numbering,
 * weights and family maps.  `rows` is taken: the patterns are compressed
 * into it (as fitcl__patterns_build_in's arena). */
fitcl_status fitcl__patterns_merge(fitcl__patterns *out, int ntaxa, int nparts,
                                   const size_t *npat, const size_t *nfam, uint8_t *rows,
                                   const double *weight, const int *group,
                                   const uint64_t *family_pattern, const char *const *names,
                                   char *err, size_t errlen);

/* Builds a likelihood handle from a tree and patterns (fitcl_lik_create
 * with the analyses' structures; tests build small inputs with it). */
fitcl_status fitcl__lik_create(fitcl_context *ctx, const fitcl__tree *tree,
                               const fitcl__patterns *pat, const fitcl_lik_options *opt,
                               fitcl_lik **out);

/* fitcl_lik_create on ctx's own device and this process alone
 * (fitcl__lik_open_alone): for work handed out to the devices whole. */
fitcl_status fitcl__lik_create_alone(fitcl_context *ctx, const fitcl_data *data,
                                     const fitcl_lik_options *opt, fitcl_lik **out);

/* Wraps an already built tree and patterns (ownership of both moves into the
 * new data set, whose fields are then zeroed in the arguments). */
fitcl_status fitcl__data_wrap(fitcl__tree *tree, fitcl__patterns *pat, fitcl_data **out);

#endif
