/* The fitcl command under mpirun (docs/mpi.md): one job over the ranks.
 * Built without MPI, or run without mpirun, every function here is a no-op
 * and the command is the one process it always was. */
#ifndef FITCL_CLI_MPI_H
#define FITCL_CLI_MPI_H

#include "fitcl.h"

/* Starts MPI when the environment says the process was started by mpirun
 * (a plain run never loads it).  Ranks other than 0 write nothing: their
 * standard output and error go to /dev/null, and cli.h's messages are kept
 * (cli_keep_error) for rank 0 to print the job's one message.  Returns 0,
 * or the exit code after one message. */
int cli_mpi_init(int *argc, char ***argv);
/* 1 when this job has more than one rank. */
int cli_mpi_active(void);
/* This process's rank (0 without MPI). */
int cli_mpi_rank(void);
/* Shares ctx's likelihood and curve-fit work over the ranks. */
int cli_mpi_share(fitcl_context *ctx);
/* Collective: every rank agrees on the job's state.  Given this rank's exit
 * code so far, returns 0 when every rank is fine, else the exit code of the
 * first rank (in rank order) that failed on its own, the same on every
 * rank; rank 0 then prints that rank's message, naming it.  After a failure
 * was agreed, later calls return at once. */
int cli_mpi_sync(int rc);
/* The end of the command: cli_mpi_sync, then MPI_Finalize. */
int cli_mpi_finish(int rc);

#endif
