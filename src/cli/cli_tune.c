/* fitcl tune: time the kernel layouts on the selected OpenCL device and
 * store the fastest in the program cache for every later context. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/cli_opts.h"

typedef struct tune_args {
  int json;
} tune_args;

static const cli_opt options[] = {
  {CLI_FLAG("json", tune_args, json,
            "print one JSON object: {backend, device, accum:{variant, candidates:[{variant, ms}]}, "
            "lik:{tile, candidates:[{tile, ms}]}, fp64:{ratio, double_ms, mixed_ms}, precision, "
            "stored}")},
  {CLI_END}};

static const cli_spec spec = {
  .usage = "usage: fitcl tune [--json]\n",
  .about =
    "Times each layout of the accumulation kernels (one 1M-point pass of a four-parameter\n"
    "model: 1 one work-group per block, 2 one work-item per block, 3 double8 lanes on CPU\n"
    "devices) and of the likelihood partials (one evaluation with gradient on a 64-tip\n"
    "tree, 65,536 patterns, 1 to 32 patterns per tile) on the OpenCL device FITCL_DEVICE\n"
    "selects, and stores the fastest of each (the built-in layout unless another is at\n"
    "least 10% faster) in the program cache under the device's identity (platform,\n"
    "device, driver).  Every context opened on that device afterwards uses them; `fitcl\n"
    "cache clear` forgets them.  The likelihood gives the same bits with every tile; the\n"
    "accumulation variants sum a block's points in different orders, so a fit's last\n"
    "digits can change with the variant.  On a device with fp64 it also times the chosen\n"
    "accumulation in double and in mixed precision and stores the ratio (the fp64 ratio);\n"
    "without FITCL_PRECISION, later contexts compute in double where double is at least a\n"
    "quarter as fast as mixed, else in mixed (docs/precision.md).  Takes a few seconds.\n"
    "Exit status 2 on the pthreads backend, which has nothing to tune.\n",
  .opts = options};

int cli_tune(int argc, char **argv) {
  tune_args a = {0};
  int rc = cli_parse(&spec, argc, argv, &a, NULL);
  if (rc >= 0) return rc;
  fitcl_context *ctx = NULL;
  rc = cli_open_context(&ctx);
  if (rc) return rc;
  fitcl_tuning_report r;
  fitcl_status st = fitcl_context_tune(ctx, &r);
  if (st != FITCL_OK) {
    rc = cli_fail(ctx, st, NULL);
    fitcl_context_destroy(ctx);
    return rc;
  }
  fitcl_context_info info;
  fitcl_context_get_info(ctx, &info);
  if (a.json) {
    cJSON *root = cJSON_CreateObject();
    cli_json_add_backend(root, ctx);
    cJSON *acc = cJSON_AddObjectToObject(root, "accum");
    cJSON_AddNumberToObject(acc, "variant", r.accum_variant);
    cJSON *ac = cJSON_AddArrayToObject(acc, "candidates");
    for (int i = 0; i < r.accum_candidates; ++i) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddNumberToObject(o, "variant", r.accum_variants[i]);
      cJSON_AddNumberToObject(o, "ms", r.accum_ms[i]);
      cJSON_AddItemToArray(ac, o);
    }
    cJSON *lik = cJSON_AddObjectToObject(root, "lik");
    cJSON_AddNumberToObject(lik, "tile", r.lik_tile);
    cJSON *lc = cJSON_AddArrayToObject(lik, "candidates");
    for (int i = 0; i < r.lik_candidates; ++i) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddNumberToObject(o, "tile", r.lik_tiles[i]);
      cJSON_AddNumberToObject(o, "ms", r.lik_ms[i]);
      cJSON_AddItemToArray(lc, o);
    }
    /* "precision" (cli_json_add_backend) is what this context now computes in. */
    cJSON *prec = cJSON_AddObjectToObject(root, "fp64");
    cJSON_AddNumberToObject(prec, "ratio", r.fp64_ratio);
    cJSON_AddNumberToObject(prec, "double_ms", r.accum_double_ms);
    cJSON_AddNumberToObject(prec, "mixed_ms", r.accum_mixed_ms);
    cJSON_AddBoolToObject(root, "stored", r.stored);
    cli_print_json(root);
  } else {
    printf("device    %s (%s)\n", info.device, info.selector);
    printf("accumulation, 1M points, one pass:\n");
    for (int i = 0; i < r.accum_candidates; ++i)
      printf("  variant %d  %8.2f ms%s\n", r.accum_variants[i], r.accum_ms[i],
             r.accum_variants[i] == r.accum_variant ? "  <- chosen" : "");
    printf("likelihood, 64 tips x 65536 patterns, one evaluation with gradient:\n");
    for (int i = 0; i < r.lik_candidates; ++i)
      printf("  tile %2d    %8.2f ms%s\n", r.lik_tiles[i], r.lik_ms[i],
             r.lik_tiles[i] == r.lik_tile ? "  <- chosen" : "");
    if (r.fp64_ratio > 0)
      printf("precision: accumulation in double %.2f ms, in mixed %.2f ms: fp64 ratio %.3f -> %s\n",
             r.accum_double_ms, r.accum_mixed_ms, r.fp64_ratio, info.precision);
    else
      printf("precision: no fp64 -> %s\n", info.precision);
    printf("%s\n", r.stored ? "stored in the program cache for this device"
                            : "not stored (the cache is off or read-only)");
  }
  fitcl_context_destroy(ctx);
  return CLI_EXIT_OK;
}
