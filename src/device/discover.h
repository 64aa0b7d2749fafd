/* OpenCL device discovery.  Internal. */
#ifndef FITCL_DEVICE_DISCOVER_H
#define FITCL_DEVICE_DISCOVER_H

#include "device/opencl/cl_api.h"
#include "fitcl.h"

typedef struct fitcl__device_ids {
  cl_platform_id platform;
  cl_device_id device;     /* NULL for the cpu backend */
} fitcl__device_ids;

/* Lists the cpu backend, then every OpenCL device.  `ids` (may be NULL)
 * receives a parallel array.  An absent OpenCL runtime (no library, no ICD,
 * no platform) is not an error: the list then holds only the cpu backend.
 * This is what loads the OpenCL library (device/opencl/cl_api.h). */
fitcl_status fitcl__devices_discover(fitcl_device_desc **list, fitcl__device_ids **ids,
                                     size_t *count);

/* Why OpenCL cannot be used in this process (static storage; "libOpenCL.so.1
 * cannot be loaded: ..."), or NULL when the OpenCL library loaded.  Tries the
 * load when discovery has not yet: call it only where OpenCL is wanted. */
const char *fitcl__opencl_absent_reason(void);

/* The description of the pthreads backend (what discovery lists first). */
void fitcl__cpu_device_desc(fitcl_device_desc *d);

#endif
