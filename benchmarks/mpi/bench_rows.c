/* Reading a presence/absence matrix over MPI ranks: each rank reads only
 * its rows and the ranks merge their pattern tables (docs/mpi.md), against
 * every rank reading the whole matrix (what each rank did before).  Rank 0
 * prints one JSON line: the wall time of the read and merge (the slowest
 * rank's), and per rank the bytes read (/proc/self/io rchar: read(2) and
 * pread(2)) and the peak resident memory (VmHWM, the whole process).
 *
 *   bench_rows rows|whole TREE MATRIX [TAXA_FILE]   (under mpirun) */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "fitcl/mpi.h"
#include "io/pamatrix_share.h"

static unsigned long long proc_field(const char *file, const char *fmt) {
  FILE *f = fopen(file, "r");
  unsigned long long v = 0;
  if (!f) return 0;
  char line[256];
  while (fgets(line, sizeof line, f))
    if (sscanf(line, fmt, &v) == 1) break;
  fclose(f);
  return v;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc < 4 || (strcmp(argv[1], "rows") && strcmp(argv[1], "whole"))) {
    if (!rank) fprintf(stderr, "usage: bench_rows rows|whole TREE MATRIX [TAXA_FILE]\n");
    MPI_Finalize();
    return 2;
  }
  const int rows = !strcmp(argv[1], "rows");
  fitcl_context *ctx = NULL;
  char err[1024] = "";
  fitcl_tree *tree = NULL;
  fitcl_status st = fitcl_context_create(NULL, &ctx);
  if (st == FITCL_OK && rows) st = fitcl_mpi_attach(ctx, MPI_COMM_WORLD);
  if (st == FITCL_OK) st = fitcl_tree_read(argv[2], &tree, err, sizeof err);
  fitcl_pamatrix_options mo;
  memset(&mo, 0, sizeof mo);
  if (argc > 4) mo.taxa_file = argv[4];
  MPI_Barrier(MPI_COMM_WORLD);
  const unsigned long long r0 = proc_field("/proc/self/io", "rchar: %llu");
  const double t0 = MPI_Wtime();
  fitcl_data *data = NULL;
  if (st == FITCL_OK) st = fitcl__data_read_ctx(ctx, tree, argv[3], &mo, NULL, &data, err, sizeof err);
  double secs = MPI_Wtime() - t0, wall = 0;
  if (st != FITCL_OK) {
    fprintf(stderr, "bench_rows: rank %d: %s\n", rank, err[0] ? err : fitcl_strerror(st));
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  unsigned long long mine[2] = {proc_field("/proc/self/io", "rchar: %llu") - r0,
                                proc_field("/proc/self/status", "VmHWM: %llu")};
  unsigned long long *all = calloc(2 * (size_t)size, sizeof *all);
  MPI_Gather(mine, 2, MPI_UNSIGNED_LONG_LONG, all, 2, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
  MPI_Reduce(&secs, &wall, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  if (!rank) {
    printf("{\"bench\":\"rows\",\"mode\":\"%s\",\"ranks\":%d,\"families\":%zu,\"patterns\":%zu,"
           "\"taxa\":%d,\"seconds\":%.4f,\"read_bytes\":[",
           argv[1], size, fitcl_data_nfamilies(data), fitcl_data_npatterns(data),
           fitcl_data_ntaxa(data), wall);
    for (int k = 0; k < size; ++k) printf("%s%llu", k ? "," : "", all[2 * k]);
    printf("],\"peak_rss_kb\":[");
    for (int k = 0; k < size; ++k) printf("%s%llu", k ? "," : "", all[2 * k + 1]);
    printf("]}\n");
  }
  free(all);
  fitcl_data_destroy(data);
  fitcl_tree_destroy(tree);
  fitcl_context_destroy(ctx);
  MPI_Finalize();
  return 0;
}
