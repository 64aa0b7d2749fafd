/* fitcl: command-line entry point and subcommand dispatch. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_mpi.h"

static const cli_command commands[] = {
  {"devices", "list OpenCL devices and the cpu backend; mark the selected one", cli_devices},
  {"selftest", "build all kernels on the selected device and run known-answer checks", cli_selftest},
  {"tune", "time the kernel layouts on the selected OpenCL device; keep the fastest", cli_tune},
  {"loglik", "log-likelihood (and gradient) of the gain/loss model for a tree and a matrix", cli_loglik},
  {"cache", "show or clear the program-binary cache (path|info|clear)", cli_cache},
  {"fit", "fit gain and loss rates (and gamma shape) of gene families on a tree", cli_fit},
  {"retention-test", "likelihood-ratio test of a different loss rate for a family set", cli_retention},
  {"simulate", "simulate presence/absence of gene families on a tree", cli_simulate},
  {"ancestral", "posterior presence at internal nodes, gains and losses per branch", cli_ancestral},
  {"curve-fit", "fit a model expression to a data file by streaming Levenberg-Marquardt", cli_curvefit},
  {"evpi", "expected value of perfect information; acceptability curves over willingness to pay", cli_evpi},
  {"evppi", "expected value of partial perfect information about 1 to 4 parameters", cli_evppi},
};

static void usage(FILE *f) {
  fprintf(f,
          "usage: fitcl <command> [options]\n"
          "       fitcl <command> --help\n"
          "       fitcl --version\n\n"
          "Portable accelerator backend for likelihood and least-squares fitting.\n\n"
          "commands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; ++i)
    fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].summary);
  fprintf(f,
          "\nenvironment:\n"
          "  FITCL_DEVICE        device selector: auto (default), cpu, opencl[:PLATFORM[:TYPE[:DEVICE]]], a;b\n"
          "                      (fallback), a+b or DEVICE * (one context over several devices)\n"
          "  FITCL_THREADS       worker threads of the cpu backend (default: online CPUs)\n"
          "  FITCL_CACHE         on (default), readonly or off\n"
          "  FITCL_CACHE_DIR     cache directory (default $XDG_CACHE_HOME/fitcl or ~/.cache/fitcl)\n"
          "  FITCL_CACHE_MAX_MB  cache size cap in MiB (default 512)\n"
          "  FITCL_CACHE_LOCK_TIMEOUT  seconds to wait for another process building the same\n"
          "                      program (default 300; on PoCL each process builds its own)\n"
          "  FITCL_LOG           error, warn, info or debug (default: silent)\n\n"
          "mpirun -n N fitcl loglik|fit|retention-test|ancestral|curve-fit ... runs one job over\n"
          "N ranks, with the output of one process (a build with MPI; docs/mpi.md).\n\n"
          "exit status: 0 success, 1 device or internal failure or an output that could not\n"
          "be written, 2 bad usage or input, 130 interrupted (curve-fit).\n");
}

/* Standard output is an output like any other: what did not reach it (a
 * full disk, /dev/full, a failed NFS close) makes the command fail, with
 * the OS error, instead of exiting 0 after losing the result.  A closed
 * pipe kills the process with SIGPIPE before this, as for any filter
 * (`fitcl ... | head`); with SIGPIPE ignored it is reported here (EPIPE). */
static int finish_stdout(int rc) {
  errno = 0;
  int bad = fflush(stdout) != 0 || ferror(stdout);
  int e = errno;
  if (fclose(stdout) != 0 && !bad) {
    bad = 1;
    e = errno;
  }
  if (!bad) return rc;
  fprintf(stderr, "%s: stdout: write failed: %s\n", cli_prog, e ? strerror(e) : "I/O error");
  return rc ? rc : CLI_EXIT_FAILURE;
}

static int run(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return CLI_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return CLI_EXIT_OK;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
    printf("fitcl %s\n", fitcl_version());
    return CLI_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; ++i) {
    if (strcmp(argv[1], commands[i].name) == 0) {
      static char prog[64];
      snprintf(prog, sizeof prog, "fitcl %s", commands[i].name);
      cli_prog = prog;
      /* Under mpirun the commands that share their work run on every
       * rank; any other runs on rank 0 alone (docs/mpi.md). */
      if (cli_mpi_active() && cli_mpi_rank() > 0 && strcmp(argv[1], "loglik") &&
          strcmp(argv[1], "fit") && strcmp(argv[1], "curve-fit") &&
          strcmp(argv[1], "retention-test") && strcmp(argv[1], "ancestral"))
        return CLI_EXIT_OK;
      return commands[i].run(argc - 1, argv + 1);
    }
  }
  fprintf(stderr, "fitcl: unknown command '%s'; run 'fitcl --help' for the list\n", argv[1]);
  return CLI_EXIT_USAGE;
}

int main(int argc, char **argv) {
  int rc = cli_mpi_init(&argc, &argv);
  if (rc) return rc;
  return finish_stdout(cli_mpi_finish(run(argc, argv)));
}
