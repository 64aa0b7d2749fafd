/* The ranks interface (core/ranks.h) over an MPI communicator. */
#include "fitcl/mpi.h"

#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/ranks.h"

typedef struct mpi_ranks {
  fitcl__ranks base; /* first: the library holds a fitcl__ranks pointer */
  MPI_Comm comm;
  int64_t *buf;
  size_t cap;
  int64_t *counts; /* [size]: gather's byte counts, allocated up front */
  fitcl_mpi_stats stats;
} mpi_ranks;

/* Two collectives: whether any rank failed, then (none failed) the
 * accumulators and the count as one array of int64 added by MPI_SUM.
 * Normalised limbs are below 2^32, so any realistic number of ranks adds
 * them without overflow; the sum stays exact and order-free. */
static fitcl_status mpi_sum(fitcl__ranks *r, fitcl__xsum *acc, size_t n, uint64_t *count,
                            int failed) {
  mpi_ranks *m = (mpi_ranks *)r;
  double t0 = MPI_Wtime();
  fitcl_status st = FITCL_OK;
  /* The buffer first: a rank without one fails here, before the exchange. */
  const size_t words = n * (size_t)FITCL__XSUM_WORDS + 1;
  if (!failed && words > m->cap) {
    int64_t *nb = realloc(m->buf, words * sizeof *nb);
    if (nb) {
      m->buf = nb;
      m->cap = words;
    } else {
      failed = 1;
      st = FITCL_ERR_NOMEM;
    }
  }
  int mine = failed != 0, any = 0;
  if (MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, m->comm) != MPI_SUCCESS) {
    st = FITCL_ERR_IO;
    goto done;
  }
  m->stats.calls++;
  m->stats.bytes += sizeof mine;
  if (any) {
    if (st == FITCL_OK) st = FITCL_ERR_PEER;
    goto done;
  }
  for (size_t k = 0; k < n; ++k) {
    fitcl__xsum_normalise(&acc[k]);
    memcpy(m->buf + k * FITCL__XSUM_WORDS, &acc[k], sizeof acc[k]);
  }
  m->buf[words - 1] = count ? (int64_t)*count : 0;
  if (MPI_Allreduce(MPI_IN_PLACE, m->buf, (int)words, MPI_INT64_T, MPI_SUM, m->comm) !=
      MPI_SUCCESS) {
    st = FITCL_ERR_IO;
    goto done;
  }
  m->stats.calls++;
  m->stats.bytes += words * sizeof *m->buf;
  for (size_t k = 0; k < n; ++k) memcpy(&acc[k], m->buf + k * FITCL__XSUM_WORDS, sizeof acc[k]);
  if (count) *count = (uint64_t)m->buf[words - 1];
done:
  m->stats.seconds += MPI_Wtime() - t0;
  return st;
}

/* One MPI_Allgather of every rank's byte count (-1: this rank failed),
 * then each rank's bytes broadcast from it in pieces that an int counts:
 * the pieces land at their places in every rank's `all`, whatever the
 * total size. */
static fitcl_status mpi_gather(fitcl__ranks *r, const void *mine, size_t n, void *all,
                               size_t total, int failed) {
  mpi_ranks *m = (mpi_ranks *)r;
  double t0 = MPI_Wtime();
  fitcl_status st = FITCL_OK;
  int64_t *counts = m->counts, my = failed ? -1 : (int64_t)n;
  if (MPI_Allgather(&my, 1, MPI_INT64_T, counts, 1, MPI_INT64_T, m->comm) != MPI_SUCCESS) {
    st = FITCL_ERR_IO;
    goto done;
  }
  m->stats.calls++;
  m->stats.bytes += sizeof my;
  uint64_t sum = 0;
  int any = 0;
  for (int k = 0; k < r->size; ++k) {
    any |= counts[k] < 0;
    sum += counts[k] < 0 ? 0 : (uint64_t)counts[k];
  }
  if (any) {
    st = FITCL_ERR_PEER;
    goto done;
  }
  if (sum != total) {
    st = FITCL_ERR_ARG;
    goto done;
  }
  const size_t piece = (size_t)1 << 30;
  size_t at = 0;
  for (int k = 0; k < r->size; ++k) {
    char *dst = (char *)all + at;
    const size_t nk = (size_t)counts[k];
    if (k == r->rank && dst != (const char *)mine) memmove(dst, mine, nk);
    for (size_t off = 0; off < nk; off += piece) {
      const int len = (int)(nk - off < piece ? nk - off : piece);
      if (MPI_Bcast(dst + off, len, MPI_BYTE, k, m->comm) != MPI_SUCCESS) {
        st = FITCL_ERR_IO;
        goto done;
      }
      m->stats.calls++;
      if (k == r->rank) m->stats.bytes += (uint64_t)len;
    }
    at += nk;
  }
done:
  m->stats.seconds += MPI_Wtime() - t0;
  return st;
}

static void mpi_release(fitcl__ranks *r) {
  mpi_ranks *m = (mpi_ranks *)r;
  free(m->buf);
  free(m->counts);
  free(m);
}

fitcl_status fitcl_mpi_attach(fitcl_context *ctx, MPI_Comm comm) {
  if (!ctx) return FITCL_ERR_NULL;
  fitcl__clear_error(ctx);
  if (ctx->ranks) return fitcl__fail(ctx, FITCL_ERR_STATE, "fitcl_mpi_attach: already attached");
  int rank = 0, size = 1;
  if (MPI_Comm_rank(comm, &rank) != MPI_SUCCESS || MPI_Comm_size(comm, &size) != MPI_SUCCESS)
    return fitcl__fail(ctx, FITCL_ERR_ARG, "fitcl_mpi_attach: not a valid communicator");
  if (size < 2) return FITCL_OK;
  mpi_ranks *m = calloc(1, sizeof *m);
  if (m) m->counts = calloc((size_t)size, sizeof *m->counts);
  if (!m || !m->counts) {
    free(m);
    return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  }
  m->comm = comm;
  m->base.rank = rank;
  m->base.size = size;
  m->base.sum = mpi_sum;
  m->base.gather = mpi_gather;
  m->base.release = mpi_release;
  ctx->ranks = &m->base;
  return FITCL_OK;
}

fitcl_status fitcl_mpi_get_stats(const fitcl_context *ctx, fitcl_mpi_stats *out) {
  if (!ctx || !out) return FITCL_ERR_NULL;
  memset(out, 0, sizeof *out);
  if (ctx->ranks && ctx->ranks->sum == mpi_sum) *out = ((const mpi_ranks *)ctx->ranks)->stats;
  return FITCL_OK;
}
