/* The processes of one job that share the work of an analysis.  A
 * message-passing layer above the library (src/mpi/) fills this and hangs it
 * on a context; the library itself never calls the message-passing library.
 *
 * A family that splits its work over ranks gives each rank a share of its
 * fixed blocks, adds the share's block partials into exact accumulators
 * (core/xsum.h) and calls `sum`, which adds the accumulators of every rank:
 * the result is the same number for any split, so every rank count gives
 * the single process's bits.  A family whose result is a value per item
 * (per pattern, per family) computes its share of the items and calls
 * `gather`, which hands every rank the whole result in item order. */
#ifndef FITCL_CORE_RANKS_H
#define FITCL_CORE_RANKS_H

#include <stddef.h>
#include <stdint.h>

#include "core/xsum.h"
#include "fitcl.h"

struct fitcl__ranks {
  int rank, size;
  /* Collective: every rank calls it the same number of times with the same
   * n.  Replaces acc[0..n) and *count (may be NULL) by their sums over the
   * ranks.  `failed` != 0 says this rank failed before it had its sums (acc
   * is then ignored): every rank returns FITCL_ERR_PEER, or FITCL_ERR_IO
   * when the messages could not be exchanged. */
  fitcl_status (*sum)(fitcl__ranks *r, fitcl__xsum *acc, size_t n, uint64_t *count, int failed);
  /* Collective, like `sum`: each rank gives the `n` bytes at `mine` (its
   * share of a result that the ranks hold in rank order), and every rank
   * receives all of them, rank 0's first, into `all`, which holds `total`
   * bytes (the same on every rank: the sum of the ranks' n).  `mine` may
   * point into `all` at this rank's place.  `failed` as for `sum`;
   * FITCL_ERR_ARG on every rank when the ranks' n do not add up to total. */
  fitcl_status (*gather)(fitcl__ranks *r, const void *mine, size_t n, void *all, size_t total,
                         int failed);
  /* Frees it (fitcl_context_destroy). */
  void (*release)(fitcl__ranks *r);
};

/* Block range [*begin, *end) of `nblocks` that rank r of `size` computes:
 * contiguous, in rank order, sizes differing by at most one. */
static inline void fitcl__ranks_share(const fitcl__ranks *r, size_t nblocks, size_t *begin,
                                      size_t *end) {
  size_t q = nblocks / (size_t)r->size, m = nblocks % (size_t)r->size, k = (size_t)r->rank;
  *begin = k * q + (k < m ? k : m);
  *end = *begin + q + (k < m);
}

#endif
