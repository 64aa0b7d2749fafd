/* The precision a device computes in when nobody chose one
 * (docs/precision.md): double where fp64 runs at >= 1/4 of the fp32 rate,
 * else mixed.  OpenCL has no query for the rate, so the rule reads what the
 * device tells: NVIDIA's compute capability (cl_nv_device_attribute_query)
 * where present, else the device's name against the known full-rate parts.
 * A measured ratio (`fitcl tune`, kernels/tune.c) replaces this guess. */
#include "device/opencl/ocl.h"

#include <string.h>

#include "core/util.h"

#define FITCL__CL_COMPUTE_CAPABILITY_MAJOR_NV 0x4000
#define FITCL__CL_COMPUTE_CAPABILITY_MINOR_NV 0x4001

/* Data-centre parts whose fp64 runs at half the fp32 rate (or more). */
static const char *const full_rate_names[] = {
  "A100", "A800", "H100", "H200", "H800", "GH200", "B100", "B200", "V100", "P100", "GP100",
  "TITAN V", "Instinct", "MI50", "MI60", "MI100", "MI210", "MI250", "MI300", "gfx906", "gfx908",
  "gfx90a", "gfx940", "gfx941", "gfx942", "Data Center GPU Max", "Ponte Vecchio",
};

static int nv_full_rate(cl_device_id d, int *known) {
  cl_uint major = 0, minor = 0;
  *known = clGetDeviceInfo(d, FITCL__CL_COMPUTE_CAPABILITY_MAJOR_NV, sizeof major, &major, NULL) ==
               CL_SUCCESS &&
           clGetDeviceInfo(d, FITCL__CL_COMPUTE_CAPABILITY_MINOR_NV, sizeof minor, &minor, NULL) ==
               CL_SUCCESS &&
           major > 0;
  /* sm_60, sm_70, sm_80, sm_90, sm_100: the parts with fp64 at 1/2 rate;
   * every other minor version (consumer and workstation parts) is 1/32 or
   * 1/64. */
  return *known && minor == 0 && major >= 6;
}

fitcl_precision fitcl__ocl_default_precision(cl_device_id d, const fitcl_device_desc *desc) {
  if (!desc->fp64) return FITCL_PRECISION_MIXED;
  if (!strcmp(desc->type, "cpu")) return FITCL_PRECISION_DOUBLE;
  int known = 0;
  int full = nv_full_rate(d, &known);
  if (known) return full ? FITCL_PRECISION_DOUBLE : FITCL_PRECISION_MIXED;
  for (size_t i = 0; i < FITCL_ARRAY_LEN(full_rate_names); ++i)
    if (fitcl__strcasecontains(desc->name, full_rate_names[i])) return FITCL_PRECISION_DOUBLE;
  return FITCL_PRECISION_MIXED;
}
