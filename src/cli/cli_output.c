/* Outputs of the subcommands, through the library's safe-output routine
 * (core/outfile.h): an output that is one of the inputs is refused before
 * anything is read or written, every output of a command is written first
 * and committed together, and standard output is checked when the command
 * ends (main.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cli_check_outputs(const cli_file *outs, size_t nout, const cli_file *ins, size_t nin) {
  for (size_t i = 0; i < nout; ++i) {
    if (!outs[i].path || !strcmp(outs[i].path, "-")) continue;
    for (size_t j = 0; j < nin; ++j)
      if (ins[j].path && fitcl__out_same_file(outs[i].path, ins[j].path))
        return cli_usage_error("%s %s is the same file as the input %s %s; writing it would "
                               "destroy that input", outs[i].what, outs[i].path, ins[j].what,
                               ins[j].path);
    for (size_t j = 0; j < i; ++j)
      if (outs[j].path && fitcl__out_same_file(outs[i].path, outs[j].path))
        return cli_usage_error("%s and %s both write %s; give them different files", outs[j].what,
                               outs[i].what, outs[i].path);
  }
  return 0;
}

int cli_out_open(fitcl__outfile *o, const char *path) {
  char err[2048];
  /* What stdio holds for stdout goes out before the output's own bytes. */
  if (!strcmp(path, "-") && fflush(stdout) != 0) {
    cli_error("stdout: write failed: %s", strerror(errno));
    return CLI_EXIT_FAILURE;
  }
  fitcl_status st = fitcl__out_open(o, path, FITCL__OUT_DASH_IS_STDOUT, err, sizeof err);
  if (st == FITCL_OK) return 0;
  cli_error("%s", err);
  return cli_exit_code(st);
}

int cli_out_commit(fitcl__outfile *outs, size_t n) {
  char err[2048];
  /* Everything written and on the disk first; only renames after that. */
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < n; ++i) {
      fitcl_status st = pass == 0 ? fitcl__out_close(&outs[i], err, sizeof err)
                                  : fitcl__out_publish(&outs[i], err, sizeof err);
      if (st == FITCL_OK) continue;
      cli_error("%s", err);
      for (size_t j = 0; j < n; ++j) fitcl__out_abort(&outs[j]);
      return cli_exit_code(st);
    }
  }
  return 0;
}
