/* Input loading and output helpers for the gene-content subcommands. */
#include "cli/cli_analysis.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_mpi.h"
#include "io/pamatrix_share.h"

double cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cli_load_tree(const char *tree_path, fitcl_tree **tree) {
  char err[1024] = "";
  fitcl_status st = fitcl_tree_read(tree_path, tree, err, sizeof err);
  if (st != FITCL_OK) {
    cli_error("%s", err[0] ? err : fitcl_strerror(st));
    return cli_exit_code(st);
  }
  return 0;
}

fitcl_pamatrix_options cli_matrix_options(const cli_data_flags *flags) {
  fitcl_pamatrix_options o = {0};
  if (!flags) return o;
  o.taxa_in_rows = flags->taxa_in_rows;
  o.taxa_file = flags->taxa;
  o.family_names_file = flags->family_names;
  return o;
}

int cli_shared_context(fitcl_context **ctx) {
  if (!cli_mpi_active()) return 0;
  int rc = cli_open_context(ctx);
  if (!rc) rc = cli_mpi_share(*ctx);
  return cli_mpi_sync(rc);
}

int cli_load_data(const char *tree_path, const char *matrix_path, const cli_data_flags *flags,
                  fitcl_context *ctx, fitcl_data **data) {
  fitcl_pamatrix_options mopt = cli_matrix_options(flags);
  fitcl_data_options dopt = {0};
  dopt.prune_missing = flags ? flags->prune_missing : 0;
  dopt.ignore_extra_taxa = flags ? flags->ignore_extra : 0;
  char err[2048] = "";
  fitcl_tree *tree = NULL;
  int rc = cli_load_tree(tree_path, &tree);
  if (rc) return rc;
  /* The patterns are made in the matrix's storage (one copy of the cells);
   * over several ranks each reads its rows and the ranks merge their
   * patterns (docs/mpi.md). */
  fitcl_status st =
    fitcl__data_read_ctx(ctx, tree, matrix_path, &mopt, &dopt, data, err, sizeof err);
  fitcl_tree_destroy(tree);
  if (st != FITCL_OK) {
    if (st == FITCL_ERR_PEER && cli_peer_failed) cli_peer_failed();
    cli_error("%s", err[0] ? err : fitcl_strerror(st));
    return cli_exit_code(st);
  }
  return 0;
}

void cli_json_num(cJSON *obj, const char *key, double v) {
  if (isfinite(v)) cJSON_AddNumberToObject(obj, key, v);
  else cJSON_AddNullToObject(obj, key);
}
