/* The drivers this build has, in the order discovery lists their devices. */
#include "backends/registry.h"

#include <stdlib.h>
#include <string.h>

#include "backends/cpu/cpu.h"
#include "core/util.h"
#include "fitcl_config.h"
#if FITCL_WITH_OPENCL
#include "backends/opencl/opencl.h"
#endif

static const fitcl__driver *const drivers[] = {
  &fitcl__driver_cpu,
#if FITCL_WITH_OPENCL
  &fitcl__driver_opencl,
#endif
};

const fitcl__driver *fitcl__driver_named(const char *name) {
  for (size_t i = 0; i < FITCL_ARRAY_LEN(drivers); ++i)
    if (strcmp(drivers[i]->name, name) == 0) return drivers[i];
  return NULL;
}

fitcl_status fitcl__discover(fitcl__devlist *list, int cpu_only) {
  const size_t n = cpu_only ? 1 : FITCL_ARRAY_LEN(drivers);
  for (size_t i = 0; i < n; ++i) {
    char why[512] = "";
    fitcl_status st = drivers[i]->discover(list, why, sizeof why);
    if (st != FITCL_OK) return st;
  }
  return FITCL_OK;
}

fitcl_status fitcl_devices_list(fitcl_device_desc **out, size_t *count) {
  if (!out || !count) return FITCL_ERR_NULL;
  *out = NULL;
  *count = 0;
  fitcl__devlist l = {0};
  fitcl_status st = fitcl__discover(&l, 0);
  if (st != FITCL_OK) {
    fitcl__devlist_free(&l);
    return st;
  }
  *out = l.desc;
  *count = l.n;
  l.desc = NULL;
  fitcl__devlist_free(&l);
  return FITCL_OK;
}

void fitcl_devices_free(fitcl_device_desc *list) { free(list); }
