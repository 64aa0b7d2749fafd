/* The OpenCL API, loaded at run time.  Internal.
 *
 * fitcl links no OpenCL library: the first device discovery loads
 * libOpenCL.so.1 (the ICD loader) with dlopen and resolves the functions
 * fitcl calls into the table below, so one binary runs on hosts that have
 * no OpenCL at all (they get the cpu backend; docs/device-selection.md).
 * The Khronos headers are used for the types and constants only.
 *
 * Include this header, never <CL/cl.h>: the macros at the end route each
 * clXxx call through the table, so call sites read like plain OpenCL.  The
 * table is filled before any OpenCL object exists (every platform, device
 * and context comes from clGetPlatformIDs, called only after a successful
 * fitcl__cl_load), so code that holds an OpenCL handle may call freely.
 *
 * Adding a function: one X() entry in FITCL__CL_REQUIRED (OpenCL 1.1 and
 * older, present in every ICD loader) or, for a later entry point,
 * FITCL__CL_OPTIONAL with its stand-in in cl_api.c, then one #define below. */
#ifndef FITCL_DEVICE_OPENCL_CL_API_H
#define FITCL_DEVICE_OPENCL_CL_API_H

#include <stddef.h>

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

/* Functions without which fitcl cannot use OpenCL: loading fails when one
 * is missing. */
#define FITCL__CL_REQUIRED(X)                                                         \
  X(GetPlatformIDs) X(GetPlatformInfo) X(GetDeviceIDs) X(GetDeviceInfo)              \
  X(CreateContext) X(ReleaseContext) X(CreateCommandQueue) X(ReleaseCommandQueue)    \
  X(CreateBuffer) X(ReleaseMemObject) X(CreateProgramWithSource)                     \
  X(CreateProgramWithBinary) X(BuildProgram) X(GetProgramInfo) X(GetProgramBuildInfo) \
  X(ReleaseProgram) X(CreateKernel) X(ReleaseKernel) X(SetKernelArg)                 \
  X(GetKernelWorkGroupInfo) X(EnqueueNDRangeKernel) X(EnqueueReadBuffer)             \
  X(EnqueueWriteBuffer) X(EnqueueMapBuffer) X(EnqueueUnmapMemObject)                \
  X(WaitForEvents) X(ReleaseEvent) X(Flush) X(Finish)

/* Later entry points that an old ICD loader may lack.  A missing one is
 * replaced by a stub that fails with CL_INVALID_OPERATION, so only the
 * feature that needs it fails (clEnqueueFillBuffer: the CLBlast path). */
#define FITCL__CL_OPTIONAL(X) X(EnqueueFillBuffer)

/* One pointer per function, typed from the Khronos prototype itself, so a
 * wrong signature cannot be written here. */
typedef struct fitcl__cl_api {
#define FITCL__CL_FIELD(name) __typeof__(cl##name) *name;
  FITCL__CL_REQUIRED(FITCL__CL_FIELD)
  FITCL__CL_OPTIONAL(FITCL__CL_FIELD)
#undef FITCL__CL_FIELD
} fitcl__cl_api;

/* Filled by fitcl__cl_load; read-only afterwards. */
extern fitcl__cl_api fitcl__cl;

/* Loads the OpenCL library once per process (thread-safe; never unloaded):
 * $FITCL_OPENCL_LIBRARY when set (a file name or path, tried alone), else
 * libOpenCL.so.1, then libOpenCL.so.  Returns nonzero when every required
 * function was found.  Otherwise returns 0 and, when `why` is not NULL,
 * writes one line: "libOpenCL.so.1 cannot be loaded: <dlerror>" or
 * "libOpenCL.so.1 lacks clXxx". */
int fitcl__cl_load(char *why, size_t len);

/* The same reason in static storage, or NULL when OpenCL loaded.  Loads
 * first when no load was tried yet. */
const char *fitcl__cl_load_error(void);

#define clGetPlatformIDs fitcl__cl.GetPlatformIDs
#define clGetPlatformInfo fitcl__cl.GetPlatformInfo
#define clGetDeviceIDs fitcl__cl.GetDeviceIDs
#define clGetDeviceInfo fitcl__cl.GetDeviceInfo
#define clCreateContext fitcl__cl.CreateContext
#define clReleaseContext fitcl__cl.ReleaseContext
#define clCreateCommandQueue fitcl__cl.CreateCommandQueue
#define clReleaseCommandQueue fitcl__cl.ReleaseCommandQueue
#define clCreateBuffer fitcl__cl.CreateBuffer
#define clReleaseMemObject fitcl__cl.ReleaseMemObject
#define clCreateProgramWithSource fitcl__cl.CreateProgramWithSource
#define clCreateProgramWithBinary fitcl__cl.CreateProgramWithBinary
#define clBuildProgram fitcl__cl.BuildProgram
#define clGetProgramInfo fitcl__cl.GetProgramInfo
#define clGetProgramBuildInfo fitcl__cl.GetProgramBuildInfo
#define clReleaseProgram fitcl__cl.ReleaseProgram
#define clCreateKernel fitcl__cl.CreateKernel
#define clReleaseKernel fitcl__cl.ReleaseKernel
#define clSetKernelArg fitcl__cl.SetKernelArg
#define clGetKernelWorkGroupInfo fitcl__cl.GetKernelWorkGroupInfo
#define clEnqueueNDRangeKernel fitcl__cl.EnqueueNDRangeKernel
#define clEnqueueReadBuffer fitcl__cl.EnqueueReadBuffer
#define clEnqueueWriteBuffer fitcl__cl.EnqueueWriteBuffer
#define clEnqueueFillBuffer fitcl__cl.EnqueueFillBuffer
#define clEnqueueMapBuffer fitcl__cl.EnqueueMapBuffer
#define clEnqueueUnmapMemObject fitcl__cl.EnqueueUnmapMemObject
#define clWaitForEvents fitcl__cl.WaitForEvents
#define clReleaseEvent fitcl__cl.ReleaseEvent
#define clFlush fitcl__cl.Flush
#define clFinish fitcl__cl.Finish

#endif
