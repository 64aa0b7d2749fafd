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

int cli_load_data(const char *tree_path, const char *matrix_path, const cli_data_flags *flags,
                  fitcl_data **data) {
  fitcl_pamatrix_options mopt = {0};
  fitcl_data_options dopt = {0};
  mopt.taxa_in_rows = flags ? flags->taxa_in_rows : 0;
  dopt.prune_missing = flags ? flags->prune_missing : 0;
  char err[2048] = "";
  fitcl_tree *tree = NULL;
  fitcl_pamatrix *m = NULL;
  int rc = cli_load_tree(tree_path, &tree);
  if (rc) return rc;
  fitcl_status st = fitcl_pamatrix_read(matrix_path, &mopt, &m, err, sizeof err);
  if (st == FITCL_OK) st = fitcl_data_build(tree, m, &dopt, data, err, sizeof err);
  fitcl_pamatrix_destroy(m);
  fitcl_tree_destroy(tree);
  if (st != FITCL_OK) {
    cli_error("%s", err[0] ? err : fitcl_strerror(st));
    return cli_exit_code(st);
  }
  return 0;
}

void cli_json_num(cJSON *obj, const char *key, double v) {
  if (isfinite(v)) cJSON_AddNumberToObject(obj, key, v);
  else cJSON_AddNullToObject(obj, key);
}

int cli_write_atomic(const char *path, const char *text, size_t len) {
  if (strcmp(path, "-") == 0) {
    if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
      cli_error("writing to stdout failed: %s", strerror(errno));
      return CLI_EXIT_FAILURE;
    }
    return 0;
  }
  size_t n = strlen(path);
  char *tmp = malloc(n + 16);
  if (!tmp) {
    cli_error("out of memory");
    return CLI_EXIT_FAILURE;
  }
  snprintf(tmp, n + 16, "%s.tmpXXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    cli_error("%s: cannot create a temporary file next to it: %s", path, strerror(errno));
    free(tmp);
    return CLI_EXIT_USAGE;
  }
  /* mkstemp makes the file private; give it the mode a plain fopen would. */
  mode_t mask = umask(0);
  umask(mask);
  int ok = fchmod(fd, 0666 & ~mask) == 0;
  size_t off = 0;
  while (ok && off < len) {
    ssize_t w = write(fd, text + off, len - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      ok = 0;
      break;
    }
    off += (size_t)w;
  }
  /* A file only replaces the old one once all of it is on disk. */
  if (ok && fsync(fd) != 0) ok = 0;
  int saved = errno;
  if (close(fd) != 0) ok = 0;
  if (ok && rename(tmp, path) != 0) { ok = 0; saved = errno; }
  if (!ok) {
    unlink(tmp);
    cli_error("%s: write failed: %s", path, strerror(saved));
    free(tmp);
    return CLI_EXIT_FAILURE;
  }
  free(tmp);
  return 0;
}
