#include "device/discover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"

static void info_str(cl_device_id d, cl_device_info what, char *out, size_t size) {
  out[0] = '\0';
  if (clGetDeviceInfo(d, what, size, out, NULL) != CL_SUCCESS) out[0] = '\0';
  out[size - 1] = '\0';
}

static const char *type_name(cl_device_type t) {
  if (t & CL_DEVICE_TYPE_GPU) return "gpu";
  if (t & CL_DEVICE_TYPE_CPU) return "cpu";
  return "acc";
}

static int has_fp64(cl_device_id d) {
  cl_device_fp_config cfg = 0;
  if (clGetDeviceInfo(d, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof cfg, &cfg, NULL) == CL_SUCCESS && cfg)
    return 1;
  char ext[8192];
  info_str(d, CL_DEVICE_EXTENSIONS, ext, sizeof ext);
  return strstr(ext, "cl_khr_fp64") != NULL;
}

void fitcl__cpu_device_desc(fitcl_device_desc *c) {
  memset(c, 0, sizeof *c);
  fitcl__strlcpy(c->selector, "cpu", sizeof c->selector);
  fitcl__strlcpy(c->backend, "cpu", sizeof c->backend);
  fitcl__strlcpy(c->name, "pthreads", sizeof c->name);
  fitcl__strlcpy(c->platform, "pthreads", sizeof c->platform);
  fitcl__strlcpy(c->vendor, "fitcl", sizeof c->vendor);
  fitcl__strlcpy(c->type, "cpu", sizeof c->type);
  fitcl__strlcpy(c->version, FITCL_VERSION_STRING, sizeof c->version);
  fitcl__strlcpy(c->driver, FITCL_VERSION_STRING, sizeof c->driver);
  c->fp64 = 1;
  c->platform_index = -1;
  c->device_index = -1;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
  c->compute_units = cpus > 0 ? (int)cpus : 1;
  c->global_mem_mb = (pages > 0 && psz > 0) ? (uint64_t)pages * (uint64_t)psz / (1024 * 1024) : 0;
}

fitcl_status fitcl__devices_discover(fitcl_device_desc **out, fitcl__device_ids **out_ids,
                                     size_t *count) {
  *out = NULL;
  if (out_ids) *out_ids = NULL;
  *count = 0;
  cl_uint np = 0;
  cl_platform_id plats[32];
  /* Without a loadable OpenCL library the list is the cpu backend alone;
   * the reason stays available (fitcl__opencl_absent_reason). */
  if (!fitcl__cl_load(NULL, 0) || clGetPlatformIDs(32, plats, &np) != CL_SUCCESS) np = 0;
  if (np > 32) np = 32;

  size_t cap = 1;
  cl_device_id *devs[32] = {0};
  cl_uint nd[32] = {0};
  for (cl_uint p = 0; p < np; ++p) {
    if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd[p]) != CL_SUCCESS) nd[p] = 0;
    if (nd[p] == 0) continue;
    devs[p] = calloc(nd[p], sizeof(cl_device_id));
    if (!devs[p] || clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd[p], devs[p], NULL) != CL_SUCCESS)
      nd[p] = 0;
    cap += nd[p];
  }
  fitcl_status st = FITCL_OK;
  fitcl_device_desc *list = calloc(cap, sizeof *list);
  fitcl__device_ids *ids = calloc(cap, sizeof *ids);
  if (!list || !ids) {
    st = FITCL_ERR_NOMEM;
    goto fail;
  }
  size_t n = 0;
  fitcl__cpu_device_desc(&list[n++]);

  for (cl_uint p = 0; p < np; ++p) {
    char pname[128] = "", pvendor[128] = "";
    clGetPlatformInfo(plats[p], CL_PLATFORM_NAME, sizeof pname, pname, NULL);
    clGetPlatformInfo(plats[p], CL_PLATFORM_VENDOR, sizeof pvendor, pvendor, NULL);
    pname[sizeof pname - 1] = pvendor[sizeof pvendor - 1] = '\0';
    int per_type[3] = {0, 0, 0};
    for (cl_uint k = 0; k < nd[p]; ++k) {
      cl_device_id d = devs[p][k];
      fitcl_device_desc *e = &list[n];
      cl_device_type t = 0;
      clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof t, &t, NULL);
      fitcl__strlcpy(e->backend, "opencl", sizeof e->backend);
      info_str(d, CL_DEVICE_NAME, e->name, sizeof e->name);
      fitcl__strlcpy(e->platform, pname, sizeof e->platform);
      fitcl__strlcpy(e->vendor, pvendor, sizeof e->vendor);
      fitcl__strlcpy(e->type, type_name(t), sizeof e->type);
      info_str(d, CL_DEVICE_VERSION, e->version, sizeof e->version);
      info_str(d, CL_DRIVER_VERSION, e->driver, sizeof e->driver);
      e->fp64 = has_fp64(d);
      cl_uint cu = 0;
      cl_ulong mem = 0;
      clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
      clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof mem, &mem, NULL);
      e->compute_units = (int)cu;
      e->global_mem_mb = (uint64_t)(mem / (1024 * 1024));
      e->platform_index = (int)p;
      e->device_index = (int)k;
      int ti = !strcmp(e->type, "gpu") ? 0 : !strcmp(e->type, "cpu") ? 1 : 2;
      snprintf(e->selector, sizeof e->selector, "opencl:%u:%s:%d", p, e->type, per_type[ti]++);
      ids[n].platform = plats[p];
      ids[n].device = d;
      ++n;
    }
  }
  *out = list;
  *count = n;
  if (out_ids) *out_ids = ids;
  else free(ids);
  list = NULL;
  ids = NULL;
fail:
  for (cl_uint p = 0; p < np; ++p) free(devs[p]);
  free(list);
  free(ids);
  return st;
}

const char *fitcl__opencl_absent_reason(void) { return fitcl__cl_load_error(); }

const char *fitcl_opencl_unavailable_reason(void) { return fitcl__opencl_absent_reason(); }

fitcl_status fitcl_devices_list(fitcl_device_desc **out, size_t *count) {
  if (!out || !count) return FITCL_ERR_NULL;
  return fitcl__devices_discover(out, NULL, count);
}

void fitcl_devices_free(fitcl_device_desc *list) { free(list); }
