/* Helpers shared by the subcommands: errors, exit codes, context, JSON. */
#include "cli/cli.h"

#include "core/util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *cli_prog = "fitcl";
int (*cli_keep_error)(const char *msg) = NULL;
void (*cli_peer_failed)(void) = NULL;

void cli_error(const char *fmt, ...) {
  char msg[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* Names from input files and arguments are shown, never obeyed. */
  fitcl__escape_controls(msg, sizeof msg, 1);
  /* Over several ranks rank 0 prints the job's one message at its end. */
  if (cli_keep_error && cli_keep_error(msg)) return;
  /* One line: a multi-line detail (a build log) follows only after it. */
  fprintf(stderr, "%s: %s\n", cli_prog, msg);
}

int cli_exit_code(fitcl_status st) {
  if (st == FITCL_OK) return CLI_EXIT_OK;
  return fitcl_status_is_user_error(st) ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
}

int cli_fail(fitcl_context *ctx, fitcl_status st, const char *what) {
  if (st == FITCL_ERR_PEER && cli_peer_failed) cli_peer_failed();
  const char *detail = ctx ? fitcl_errmsg(ctx) : "";
  if (detail && *detail) {
    if (what && *what) cli_error("%s: %s", what, detail);
    else cli_error("%s", detail);
  } else {
    if (what && *what) cli_error("%s: %s", what, fitcl_strerror(st));
    else cli_error("%s", fitcl_strerror(st));
  }
  return cli_exit_code(st);
}

int cli_open_context(fitcl_context **ctx) {
  fitcl_status st = fitcl_context_create(NULL, ctx);
  if (st == FITCL_OK) return 0;
  int rc = cli_fail(*ctx, st, NULL);
  fitcl_context_destroy(*ctx);
  *ctx = NULL;
  return rc;
}

void cli_print_json(cJSON *obj) {
  char *s = cJSON_PrintUnformatted(obj);
  if (s) {
    fputs(s, stdout);
    fputc('\n', stdout);
    cJSON_free(s);
  }
  cJSON_Delete(obj);
}

/* A context over several devices: each one and its share of the blocks,
 * and of the bootstrap's replicates where there were some
 * (docs/device-selection.md).  One device adds nothing. */
static void add_devices(cJSON *obj, fitcl_context *ctx, const fitcl_context_info *info) {
  if (info->ndevices < 2) return;
  uint64_t total = 0, reps = 0;
  fitcl_context_device_info d;
  for (int i = 0; i < info->ndevices; ++i)
    if (fitcl_context_device(ctx, i, &d) == FITCL_OK) {
      total += d.blocks;
      reps += d.replicates;
    }
  cJSON *arr = cJSON_AddArrayToObject(obj, "devices");
  for (int i = 0; i < info->ndevices; ++i) {
    if (fitcl_context_device(ctx, i, &d) != FITCL_OK) continue;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "selector", d.selector);
    cJSON_AddStringToObject(o, "backend", d.backend);
    cJSON_AddStringToObject(o, "device", d.device);
    cJSON_AddNumberToObject(o, "blocks", (double)d.blocks);
    cJSON_AddNumberToObject(o, "share", total ? (double)d.blocks / (double)total : 0.0);
    if (reps) {
      cJSON_AddNumberToObject(o, "replicates", (double)d.replicates);
      cJSON_AddNumberToObject(o, "replicate_share", (double)d.replicates / (double)reps);
    }
    cJSON_AddItemToArray(arr, o);
  }
}

void cli_json_add_backend(cJSON *obj, fitcl_context *ctx) {
  fitcl_context_info info;
  if (fitcl_context_get_info(ctx, &info) != FITCL_OK) return;
  cJSON_AddStringToObject(obj, "backend", info.backend);
  cJSON_AddStringToObject(obj, "device", info.device);
  cJSON_AddStringToObject(obj, "precision", info.precision);
  if (info.fallback_reason) cJSON_AddStringToObject(obj, "fallback_reason", info.fallback_reason);
  add_devices(obj, ctx, &info);
}

void cli_json_add_fallback(cJSON *obj, fitcl_context *ctx) {
  fitcl_context_info info;
  if (fitcl_context_get_info(ctx, &info) != FITCL_OK) return;
  if (info.fallback_reason) cJSON_AddStringToObject(obj, "fallback_reason", info.fallback_reason);
  add_devices(obj, ctx, &info);
}

int cli_usage_error(const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fitcl__escape_controls(msg, sizeof msg, 0);
  char line[2200];
  snprintf(line, sizeof line, "%s; run '%s --help' for usage", msg, cli_prog);
  if (cli_keep_error && cli_keep_error(line)) return CLI_EXIT_USAGE;
  fprintf(stderr, "%s: %s\n", cli_prog, line);
  return CLI_EXIT_USAGE;
}
