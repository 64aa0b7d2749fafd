/* OpenCL device discovery: every device of every installed platform. */
#include "device/opencl/ocl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/env.h"
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

fitcl_status fitcl__ocl_discover(fitcl__devlist *list, char *why, size_t whylen) {
  cl_uint np = 0;
  cl_platform_id plats[32];
  /* Without a loadable OpenCL library there are no devices; the reason
   * stays available (fitcl__opencl_absent_reason). */
  if (!fitcl__cl_load(why, whylen)) return FITCL_OK;
  if (clGetPlatformIDs(32, plats, &np) != CL_SUCCESS) np = 0;
  if (np > 32) np = 32;
  if (np == 0) snprintf(why, whylen, "no OpenCL platform is installed");
  fitcl_status st = FITCL_OK;
  const int no_fp64 = fitcl__env_opencl_no_fp64();
  for (cl_uint p = 0; p < np && st == FITCL_OK; ++p) {
    cl_uint nd = 0;
    if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS) nd = 0;
    if (nd == 0) continue;
    cl_device_id *devs = calloc(nd, sizeof *devs);
    if (!devs) return FITCL_ERR_NOMEM;
    if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL) != CL_SUCCESS) nd = 0;
    char pname[128] = "", pvendor[128] = "";
    clGetPlatformInfo(plats[p], CL_PLATFORM_NAME, sizeof pname, pname, NULL);
    clGetPlatformInfo(plats[p], CL_PLATFORM_VENDOR, sizeof pvendor, pvendor, NULL);
    pname[sizeof pname - 1] = pvendor[sizeof pvendor - 1] = '\0';
    int per_type[3] = {0, 0, 0};
    for (cl_uint k = 0; k < nd; ++k) {
      cl_device_id d = devs[k];
      fitcl_device_desc *e = fitcl__devlist_push(list, (fitcl__devref){plats[p], d});
      if (!e) {
        st = FITCL_ERR_NOMEM;
        break;
      }
      cl_device_type t = 0;
      clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof t, &t, NULL);
      fitcl__strlcpy(e->backend, "opencl", sizeof e->backend);
      info_str(d, CL_DEVICE_NAME, e->name, sizeof e->name);
      fitcl__strlcpy(e->platform, pname, sizeof e->platform);
      fitcl__strlcpy(e->vendor, pvendor, sizeof e->vendor);
      fitcl__strlcpy(e->type, type_name(t), sizeof e->type);
      info_str(d, CL_DEVICE_VERSION, e->version, sizeof e->version);
      info_str(d, CL_DRIVER_VERSION, e->driver, sizeof e->driver);
      /* FITCL_OPENCL_NO_FP64=1 runs the no-fp64 path on any device (CI on
       * PoCL): the device is then opened as if it had no fp64 at all. */
      e->fp64 = has_fp64(d) && !no_fp64;
      fitcl__strlcpy(e->precision, fitcl__precision_name(fitcl__ocl_default_precision(d, e)),
                     sizeof e->precision);
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
    }
    free(devs);
  }
  return st;
}
