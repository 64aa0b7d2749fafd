/* The fitcl command: shared helpers for subcommands (one file each). */
#ifndef FITCL_CLI_H
#define FITCL_CLI_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include "core/outfile.h"
#include "fitcl.h"

/* Exit codes, the same for every subcommand. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1   /* device or internal failure */
#define CLI_EXIT_USAGE 2     /* bad usage or bad input */

typedef struct cli_command {
  const char *name;
  const char *summary;
  int (*run)(int argc, char **argv);   /* argv[0] is the subcommand name */
} cli_command;

/* Subcommands (each in its own cli_<name>.c). */
int cli_devices(int argc, char **argv);
int cli_selftest(int argc, char **argv);
int cli_tune(int argc, char **argv);
int cli_cache(int argc, char **argv);
int cli_curvefit(int argc, char **argv);
int cli_loglik(int argc, char **argv);
int cli_fit(int argc, char **argv);
int cli_retention(int argc, char **argv);
int cli_simulate(int argc, char **argv);
int cli_ancestral(int argc, char **argv);
int cli_evpi(int argc, char **argv);
int cli_evppi(int argc, char **argv);

/* The name of the running subcommand, for messages ("fitcl devices"). */
extern const char *cli_prog;

/* Prints "fitcl <cmd>: <message>" on stderr (one line). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Where a job spans several ranks (cli_mpi.c sets these when MPI starts),
 * messages are handed to cli_keep_error instead of printed: it returns 1
 * when it kept one, for rank 0 to print the job's one message at its end;
 * cli_peer_failed marks this rank's failure as a consequence of another
 * rank's (FITCL_ERR_PEER).  NULL in a single process. */
extern int (*cli_keep_error)(const char *msg);
extern void (*cli_peer_failed)(void);
/* Maps a library status to an exit code (user errors -> 2, others -> 1). */
int cli_exit_code(fitcl_status st);
/* Reports a failed library call: prints the detail (fitcl_errmsg when ctx is
 * given, else the status text) as one line and returns the exit code. */
int cli_fail(fitcl_context *ctx, fitcl_status st, const char *what);
/* Creates the context the environment asks for; on failure prints one clear
 * line and returns the exit code (ctx is then NULL).  Returns 0 on success. */
int cli_open_context(fitcl_context **ctx);
/* Prints a JSON object on stdout (compact, one line) and frees it. */
void cli_print_json(cJSON *obj);
/* Adds "backend" and "device" of ctx to obj, "fallback_reason" when
 * `auto` (or a `;` list) fell back from a device that failed, and, on a
 * context over several devices, "devices": [{selector, backend, device,
 * blocks, share}]. */
void cli_json_add_backend(cJSON *obj, fitcl_context *ctx);
/* Adds only "fallback_reason", when there is one, and "devices". */
void cli_json_add_fallback(cJSON *obj, fitcl_context *ctx);
/* Prints "fitcl <cmd>: <what>; run 'fitcl <cmd> --help' for usage" (one
 * line) and returns CLI_EXIT_USAGE.  Every usage error goes through here. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A file named on the command line and the option that named it
 * ("--tree"), for messages. */
typedef struct cli_file {
  const char *path;   /* NULL: not given */
  const char *what;
} cli_file;

/* Outputs (cli_output.c), written through core/outfile.h: temporary file +
 * rename for regular files, in place for FIFOs and devices, "-" for stdout.
 *
 * cli_check_outputs refuses (usage error, exit 2), before anything is read
 * or written, an output that is one of the inputs or that another output
 * also writes.  cli_out_open prepares one output (nothing visible yet);
 * cli_out_commit commits n of them in order and, after a failure, drops the
 * rest, so a failed command leaves none.  Each returns 0 or the exit code
 * after printing one line.  Standard output itself is checked by main()
 * when the command ends: a lost write is exit 1. */
int cli_check_outputs(const cli_file *outs, size_t nout, const cli_file *ins, size_t nin);
int cli_out_open(fitcl__outfile *o, const char *path);
int cli_out_commit(fitcl__outfile *outs, size_t n);

#endif
