/* fitcl selftest: build every kernel on the selected device and check each
 * kernel family against a known answer. */
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_opts.h"

typedef struct selftest_args {
  int json;
} selftest_args;

static const cli_opt options[] = {
  {CLI_FLAG("json", selftest_args, json,
            "print one JSON object: {backend, device, fallback_reason (when device selection "
            "fell back), kernels, build_seconds, cache:{hits, misses, rebuilt, evicted}, "
            "passed, checks:[...]}")},
  {CLI_END}};

static const cli_spec spec = {
  .usage = "usage: fitcl selftest [--json]\n",
  .about = "Creates a context on the device FITCL_DEVICE selects (building every kernel,\n"
           "or loading it from the program cache), then runs one known-answer check per\n"
           "kernel family.  Exit status 0 when every check passes, 1 otherwise.\n",
  .opts = options};

int cli_selftest(int argc, char **argv) {
  selftest_args a = {0};
  int rc = cli_parse(&spec, argc, argv, &a, NULL);
  if (rc >= 0) return rc;
  int json = a.json;

  fitcl_context *ctx = NULL;
  rc = cli_open_context(&ctx);
  if (rc) return rc;
  fitcl_selftest_result res[32];
  size_t n = 0;
  fitcl_status st = fitcl_selftest(ctx, res, 32, &n);
  if (n > 32) n = 32;
  fitcl_context_info info;
  fitcl_context_get_info(ctx, &info);
  int passed = st == FITCL_OK;
  if (json) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "backend", info.backend);
    cJSON_AddStringToObject(root, "device", info.device);
    if (info.fallback_reason)
      cJSON_AddStringToObject(root, "fallback_reason", info.fallback_reason);
    cJSON_AddStringToObject(root, "discovery", info.discovery);
    cJSON_AddStringToObject(root, "precision", info.precision);
    cJSON_AddNumberToObject(root, "kernels", info.programs);
    cJSON_AddNumberToObject(root, "build_seconds", info.build_seconds);
    cJSON *cache = cJSON_AddObjectToObject(root, "cache");
    cJSON_AddNumberToObject(cache, "hits", (double)info.cache.hits);
    cJSON_AddNumberToObject(cache, "misses", (double)info.cache.misses);
    cJSON_AddNumberToObject(cache, "rebuilt", (double)info.cache.rebuilt);
    cJSON_AddNumberToObject(cache, "evicted", (double)info.cache.evicted);
    cJSON_AddBoolToObject(root, "passed", passed);
    cJSON *arr = cJSON_AddArrayToObject(root, "checks");
    for (size_t i = 0; i < n; ++i) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "family", res[i].family);
      cJSON_AddBoolToObject(o, "passed", res[i].passed);
      cJSON_AddNumberToObject(o, "max_rel_error", res[i].max_rel_error);
      cJSON_AddStringToObject(o, "detail", res[i].detail);
      cJSON_AddItemToArray(arr, o);
    }
    cli_print_json(root);
  } else {
    printf("backend   %s\ndevice    %s (%s)\nplatform  %s\n", info.backend, info.device,
           info.selector, info.platform);
    printf("discovery %s\nprecision %s\n", info.discovery, info.precision);
    if (info.fallback_reason) printf("fallback  %s\n", info.fallback_reason);
    printf("threads   %d\nkernels   %d programs in %.3f s\n", info.threads, info.programs,
           info.build_seconds);
    printf("cache     %s: %llu hits, %llu misses, %llu rebuilt, %llu evicted\n",
           info.cache_dir ? info.cache_dir : "off", (unsigned long long)info.cache.hits,
           (unsigned long long)info.cache.misses, (unsigned long long)info.cache.rebuilt,
           (unsigned long long)info.cache.evicted);
    for (size_t i = 0; i < n; ++i)
      printf("%-4s %-12s rel.err %.2e  %s\n", res[i].passed ? "ok" : "FAIL", res[i].family,
             res[i].max_rel_error, res[i].detail);
    printf("%s\n", passed ? "selftest passed" : "selftest FAILED");
  }
  if (!passed && st != FITCL_OK && !json) cli_fail(ctx, st, NULL);
  fitcl_context_destroy(ctx);
  return passed ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}
