/* OpenCL device discovery.  Internal. */
#ifndef FITCL_DEVICE_DISCOVER_H
#define FITCL_DEVICE_DISCOVER_H

#include <CL/cl.h>
#include "fitcl.h"

typedef struct fitcl__device_ids {
  cl_platform_id platform;
  cl_device_id device;     /* NULL for the cpu backend */
} fitcl__device_ids;

/* Lists the cpu backend, then every OpenCL device.  `ids` (may be NULL)
 * receives a parallel array.  An absent OpenCL runtime (no ICD, no
 * platform) is not an error: the list then holds only the cpu backend. */
fitcl_status fitcl__devices_discover(fitcl_device_desc **list, fitcl__device_ids **ids,
                                     size_t *count);

/* The description of the pthreads backend (what discovery lists first). */
void fitcl__cpu_device_desc(fitcl_device_desc *d);

#endif
