/* The fitcl command under mpirun: start, share, agree on failures, end. */
#include "cli/cli_mpi.h"

#include "fitcl_config.h"

#if FITCL_WITH_MPI
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "fitcl/mpi.h"

static struct {
  int on, rank, size;
  int secondary;     /* this rank failed because another did */
  int agreed;        /* a failure was agreed: its exit code is rc */
  int rc;
  char msg[4096];    /* this rank's last message: the error it stopped on */
  char all[8192];    /* every message (warnings), printed by rank 0 when all went well */
} M;

/* mpirun (Open MPI, or any PMIx launcher) tells its processes their rank. */
static int under_mpirun(void) {
  return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_SIZE");
}

/* Keeps a message of this rank instead of printing it (cli.h,
 * cli_keep_error): when the job fails, rank 0 prints the last message of
 * the rank that failed first; when it succeeds, its own (warnings). */
static int keep_error(const char *msg) {
  if (!cli_mpi_active()) return 0;
  snprintf(M.msg, sizeof M.msg, "%s", msg);
  size_t used = strlen(M.all);
  snprintf(M.all + used, sizeof M.all - used, "%s: %s\n", cli_prog, msg);
  return 1;
}

static void secondary(void) { M.secondary = 1; }

int cli_mpi_init(int *argc, char ***argv) {
  if (!under_mpirun()) return 0;
  if (MPI_Init(argc, argv) != MPI_SUCCESS) {
    fprintf(stderr, "fitcl: MPI_Init failed\n");
    return CLI_EXIT_FAILURE;
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &M.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &M.size);
  M.on = 1;
  if (M.size > 1) {
    cli_keep_error = keep_error;
    cli_peer_failed = secondary;
  }
  if (M.size > 1 && M.rank > 0) {
    if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) {
      /* Nothing to report it on: the rank fails, and rank 0 says so. */
      M.rc = CLI_EXIT_FAILURE;
    }
  }
  return 0;
}

int cli_mpi_active(void) { return M.on && M.size > 1; }
int cli_mpi_rank(void) { return M.rank; }

int cli_mpi_share(fitcl_context *ctx) {
  if (!cli_mpi_active()) return 0;
  fitcl_status st = fitcl_mpi_attach(ctx, MPI_COMM_WORLD);
  return st == FITCL_OK ? 0 : cli_fail(ctx, st, "MPI");
}


/* MPI_MIN of every rank's key.  Ranks wait here while rank 0 alone runs a
 * command: polled with naps, so that the waiting ranks leave the cores to
 * it (a blocking collective spins). */
static int agree(const int *key, int *first) {
  MPI_Request req;
  if (MPI_Iallreduce(key, first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &req) != MPI_SUCCESS)
    return 0;
  const struct timespec nap = {0, 1000000};
  for (int done = 0;;) {
    if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return 0;
    if (done) return 1;
    nanosleep(&nap, NULL);
  }
}

int cli_mpi_sync(int rc) {
  if (!cli_mpi_active()) return rc;
  if (M.agreed) return M.rc;
  /* The first rank that failed by itself wins; a rank that failed because
   * another did comes after every such one. */
  int key = rc == 0 ? INT_MAX : M.secondary ? M.size + M.rank : M.rank, first = INT_MAX;
  if (!agree(&key, &first)) return rc ? rc : CLI_EXIT_FAILURE;
  if (first == INT_MAX) return 0;
  const int who = first % M.size;
  struct { int rc; char msg[sizeof M.msg]; } w;
  memset(&w, 0, sizeof w);
  if (who == M.rank) {
    w.rc = rc;
    memcpy(w.msg, M.msg, sizeof w.msg);
  }
  MPI_Bcast(&w, (int)sizeof w, MPI_BYTE, who, MPI_COMM_WORLD);
  if (M.rank == 0) {
    if (w.msg[0]) fprintf(stderr, "%s: rank %d: %s\n", cli_prog, who, w.msg);
    else fprintf(stderr, "%s: rank %d failed (exit status %d)\n", cli_prog, who, w.rc);
  }
  M.agreed = 1;
  M.rc = w.rc ? w.rc : CLI_EXIT_FAILURE;
  return M.rc;
}

int cli_mpi_finish(int rc) {
  if (!M.on) return rc;
  if (M.rc && !M.agreed && rc == 0) rc = M.rc;
  rc = cli_mpi_sync(rc);
  /* Every rank ran alike: rank 0's warnings are everyone's. */
  if (rc == 0 && M.rank == 0) fputs(M.all, stderr);
  MPI_Finalize();
  return rc;
}

#else

int cli_mpi_init(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  return 0;
}
int cli_mpi_active(void) { return 0; }
int cli_mpi_rank(void) { return 0; }
int cli_mpi_share(fitcl_context *ctx) {
  (void)ctx;
  return 0;
}
int cli_mpi_sync(int rc) { return rc; }
int cli_mpi_finish(int rc) { return rc; }

#endif
