/* clBuildProgram for programs built from source, with the compiler's stray
 * console output kept off stderr (see quiet_build.c).  Internal. */
#ifndef FITCL_DEVICE_OPENCL_QUIET_BUILD_H
#define FITCL_DEVICE_OPENCL_QUIET_BUILD_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include "core/context.h"

/* clBuildProgram(p, 1, &device, options, NULL, NULL).  What the compiler
 * prints on the process's stderr meanwhile goes to ctx's log at debug level
 * (`name` says which program); the build log is untouched. */
cl_int fitcl__ocl_build_quietly(fitcl_context *ctx, const char *name, cl_program p,
                                cl_device_id device, const char *options);

#endif
