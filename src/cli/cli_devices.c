/* fitcl devices: every device fitcl can run on, and which one FITCL_DEVICE picks. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_opts.h"

typedef struct devices_args {
  int json;
} devices_args;

static const cli_opt options[] = {
  {CLI_FLAG("json", devices_args, json,
            "print one JSON object: {\"devices\":[{selector, backend, name, platform, type, "
            "fp64, precision, compute_units, global_mem_mb, selected}], \"opencl_unavailable\": "
            "the reason OpenCL cannot be loaded, or null}")},
  {CLI_END}};

static const cli_spec spec = {
  .usage = "usage: fitcl devices [--json]\n",
  .about = "Lists the cpu (pthreads) backend and every OpenCL device, with the selector\n"
           "string to put in FITCL_DEVICE, and marks the device FITCL_DEVICE selects\n"
           "(default: auto = an OpenCL GPU or accelerator, those with fp64 first, else\n"
           "cpu); a selector that joins devices ('cpu+opencl:0:cpu:0', 'opencl::gpu:*')\n"
           "marks each of them.  PRECISION is what a context on the device computes in unless\n"
           "FITCL_PRECISION says otherwise (docs/precision.md).\n"
           "Where OpenCL cannot be loaded (no libOpenCL.so.1), only cpu is listed, with\n"
           "the reason.\n",
  .opts = options};

static int is_chosen(size_t i, const size_t *chosen, size_t n) {
  for (size_t k = 0; k < n; ++k)
    if (chosen[k] == i) return 1;
  return 0;
}

int cli_devices(int argc, char **argv) {
  devices_args a = {0};
  int rc = cli_parse(&spec, argc, argv, &a, NULL);
  if (rc >= 0) return rc;
  int json = a.json;

  fitcl_device_desc *list = NULL;
  size_t n = 0;
  fitcl_status st = fitcl_devices_list(&list, &n);
  if (st != FITCL_OK) return cli_fail(NULL, st, "listing devices");
  const char *absent = fitcl_opencl_unavailable_reason();
  const char *sel = getenv("FITCL_DEVICE");
  size_t chosen[16], nchosen = 0;
  char err[2048];
  st = fitcl_devices_resolve_set(sel, list, n, chosen, 16, &nchosen, err, sizeof err);
  if (st != FITCL_OK) {
    cli_error("%s", err);
    fitcl_devices_free(list);
    return cli_exit_code(st);
  }
  if (json) {
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "devices");
    for (size_t i = 0; i < n; ++i) {
      cJSON *d = cJSON_CreateObject();
      cJSON_AddStringToObject(d, "selector", list[i].selector);
      cJSON_AddStringToObject(d, "backend", list[i].backend);
      cJSON_AddStringToObject(d, "name", list[i].name);
      cJSON_AddStringToObject(d, "platform", list[i].platform);
      cJSON_AddStringToObject(d, "type", list[i].type);
      cJSON_AddBoolToObject(d, "fp64", list[i].fp64);
      cJSON_AddStringToObject(d, "precision", list[i].precision);
      cJSON_AddNumberToObject(d, "compute_units", list[i].compute_units);
      cJSON_AddNumberToObject(d, "global_mem_mb", (double)list[i].global_mem_mb);
      cJSON_AddBoolToObject(d, "selected", is_chosen(i, chosen, nchosen));
      cJSON_AddItemToArray(arr, d);
    }
    if (absent) cJSON_AddStringToObject(root, "opencl_unavailable", absent);
    else cJSON_AddNullToObject(root, "opencl_unavailable");
    cli_print_json(root);
  } else {
    printf("  %-22s %-7s %-5s %-5s %-9s %5s %9s  %s\n", "SELECTOR", "BACKEND", "TYPE", "FP64",
           "PRECISION", "CU", "MEM(MiB)", "NAME (PLATFORM)");
    for (size_t i = 0; i < n; ++i)
      printf("%s %-22s %-7s %-5s %-5s %-9s %5d %9llu  %s (%s)\n",
             is_chosen(i, chosen, nchosen) ? "*" : " ",
             list[i].selector, list[i].backend, list[i].type, list[i].fp64 ? "yes" : "no",
             list[i].precision, list[i].compute_units, (unsigned long long)list[i].global_mem_mb, list[i].name,
             list[i].platform);
    if (absent) printf("\nOpenCL is unavailable: %s\n", absent);
    printf("\n* selected by FITCL_DEVICE=%s\n", sel && *sel ? sel : "auto (unset)");
  }
  fitcl_devices_free(list);
  return CLI_EXIT_OK;
}
