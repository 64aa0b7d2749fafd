/* fitcl cache path|info|clear */
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_opts.h"

typedef struct cache_args {
  int json;
} cache_args;

static const cli_opt options[] = {
  {CLI_FLAG("json", cache_args, json, "print one JSON object (keys in docs/cli.md)")},
  {CLI_END}};

static const cli_spec spec = {
  .usage = "usage: fitcl cache path|info|clear [--json]\n",
  .about = "  path    print the program-binary cache directory\n"
           "  info    print the directory, whether it is usable, entries and size\n"
           "  clear   delete every cached program binary\n",
  .opts = options,
  .epilog = "The directory is FITCL_CACHE_DIR, else $XDG_CACHE_HOME/fitcl, else\n"
            "~/.cache/fitcl.  FITCL_CACHE=on|readonly|off, FITCL_CACHE_MAX_MB (default 512).\n",
  .operands = 1};

int cli_cache(int argc, char **argv) {
  cache_args a = {0};
  int first = 0, rc = cli_parse(&spec, argc, argv, &a, &first);
  if (rc >= 0) return rc;
  if (first >= argc) return cli_usage_error("expected one action: path, info or clear");
  int json = a.json;
  const char *action = argv[first];
  fitcl_cache_summary s;
  fitcl_status st = fitcl_cache_inspect(&s);
  if (st != FITCL_OK) {
    cli_error("%s", s.reason[0] ? s.reason : fitcl_strerror(st));
    return cli_exit_code(st);
  }
  if (!strcmp(action, "path")) {
    if (json) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "path", s.dir);
      cli_print_json(o);
    } else {
      printf("%s\n", s.dir);
    }
  } else if (!strcmp(action, "info")) {
    if (json) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "path", s.dir);
      cJSON_AddBoolToObject(o, "usable", s.usable);
      if (!s.usable) cJSON_AddStringToObject(o, "reason", s.reason);
      cJSON_AddNumberToObject(o, "entries", (double)s.entries);
      cJSON_AddNumberToObject(o, "bytes", (double)s.bytes);
      cJSON_AddNumberToObject(o, "max_bytes", (double)s.max_bytes);
      cli_print_json(o);
    } else {
      printf("path      %s\nusable    %s%s%s\nentries   %llu\nsize      %.1f MiB of %.0f MiB\n",
             s.dir, s.usable ? "yes" : "no", s.usable ? "" : ": ", s.usable ? "" : s.reason,
             (unsigned long long)s.entries, (double)s.bytes / 1048576.0,
             (double)s.max_bytes / 1048576.0);
    }
  } else if (!strcmp(action, "clear")) {
    uint64_t removed = 0;
    st = fitcl_cache_clear(&removed);
    if (st != FITCL_OK) return cli_fail(NULL, st, "clearing the cache");
    if (json) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "path", s.dir);
      cJSON_AddNumberToObject(o, "removed", (double)removed);
      cli_print_json(o);
    } else {
      printf("removed %llu entries from %s\n", (unsigned long long)removed, s.dir);
    }
  } else {
    return cli_usage_error("unknown action '%s' (expected path, info or clear)", action);
  }
  return CLI_EXIT_OK;
}
