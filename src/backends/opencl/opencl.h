/* The OpenCL backend: its driver and its ops table for each kernel family
 * (one file per family beside this one).  Internal.  The OpenCL runtime it
 * builds on (context, queues, program builds through the cache) is
 * device/opencl/ocl.h. */
#ifndef FITCL_BACKENDS_OPENCL_H
#define FITCL_BACKENDS_OPENCL_H

#include "device/backend.h"

extern const fitcl__driver fitcl__driver_opencl;

struct fitcl__reduce_ops;
struct fitcl__pmatrix_ops;
struct fitcl__kstate_ops;
struct fitcl__lik_ops;
struct fitcl__accum_ops;
extern const struct fitcl__reduce_ops fitcl__reduce_ocl_ops;
extern const struct fitcl__pmatrix_ops fitcl__pmatrix_ocl_ops;
extern const struct fitcl__kstate_ops fitcl__kstate_ocl_ops;
extern const struct fitcl__lik_ops fitcl__lik_ocl_ops;
extern const struct fitcl__accum_ops fitcl__accum_ocl_ops;

#endif
