/* clBuildProgram for programs built from source, with the compiler's stray
 * console output kept off stderr (see quiet_build.c).  Internal. */
#ifndef FITCL_DEVICE_OPENCL_QUIET_BUILD_H
#define FITCL_DEVICE_OPENCL_QUIET_BUILD_H

/* The OpenCL declarations come through ocl.h, never <CL/cl.h> directly, so
 * this file follows however ocl.h makes the OpenCL API available. */
#include "device/opencl/ocl.h"

/* clBuildProgram(p, 1, &device, options, NULL, NULL).  What the compiler
 * prints on the process's stderr meanwhile goes to ctx's log at debug level
 * (`name` says which program); the build log is untouched. */
cl_int fitcl__ocl_build_quietly(fitcl_context *ctx, const char *name, cl_program p,
                                cl_device_id device, const char *options);

#endif
