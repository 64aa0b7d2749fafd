/* fitcl over MPI: one job, its work shared by the ranks of a communicator.
 * The only public header that includes <mpi.h>; fitcl.h stays free of it,
 * and this header's functions exist only in a library built with MPI
 * (FITCL_WITH_MPI, docs/mpi.md).
 *
 * Attached to a context, the likelihood (fitcl_lik_create and what uses
 * it: fitcl_fit), fitcl_ancestral and the curve fit's passes share their
 * fixed blocks over the ranks and add the block partials exactly
 * (docs/mpi.md), so every rank gets the bits one process would (for
 * fitcl_ancestral, the whole result, gathered in pattern order).  A curve
 * fit of a .npy, raw or HDF5 source reads only the rank's own chunks.  Every rank must make the same calls in
 * the same order with the same inputs. */
#ifndef FITCL_MPI_H
#define FITCL_MPI_H

#include <mpi.h>
#include <stdint.h>

#include "fitcl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Shares the work of ctx's later analyses over comm.  Not collective: the
 * library's collectives on comm happen inside its calls, in the order of
 * those calls, so a caller that runs collectives of its own on comm from
 * another thread at the same time gives the library a communicator of its
 * own (MPI_Comm_dup).  A communicator of one rank changes nothing.  Undone
 * by fitcl_context_destroy. */
FITCL_API fitcl_status fitcl_mpi_attach(fitcl_context *ctx, MPI_Comm comm);

/* Time spent in the exchanges of ctx's shared work so far: seconds in MPI
 * calls, collective calls made and bytes this rank sent.  All 0 when
 * nothing is attached. */
typedef struct fitcl_mpi_stats {
  double seconds;
  uint64_t calls;
  uint64_t bytes;
} fitcl_mpi_stats;
FITCL_API fitcl_status fitcl_mpi_get_stats(const fitcl_context *ctx, fitcl_mpi_stats *out);

#ifdef __cplusplus
}
#endif
#endif
