/* OpenCL backend: the selected device, its queue, and the programs built at
 * context creation (every embedded .cl file is one program).  Internal.
 *
 * Kernel families get a built program with fitcl__ocl_program(ctx, "lik.cl"),
 * create their cl_kernel objects once per handle, and launch on ocl->queue.
 * Programs generated at run time (model expressions) go through
 * fitcl__ocl_build_source(), which uses the same persistent cache. */
#ifndef FITCL_DEVICE_OPENCL_OCL_H
#define FITCL_DEVICE_OPENCL_OCL_H

#include "core/context.h"
#include "device/backend.h"
#include "device/devlist.h"
#include "device/opencl/cl_api.h"

typedef struct fitcl__ocl fitcl__ocl;

typedef struct fitcl__ocl_prog {
  const char *name;   /* embedded file name, e.g. "lik.cl" */
  cl_program program;
} fitcl__ocl_prog;

/* A program built from source whose binary goes to the cache only when it
 * is released: a driver that compiles code at the first launches (PoCL's
 * work-group functions, one per kernel and local size) puts that code in
 * the binary only if asked for it afterwards, and then the next start
 * loads it instead of compiling it again (docs/cache.md). */
typedef struct fitcl__ocl_stored {
  cl_program program;
  const char *name;   /* for logs: a string literal or an embedded file name */
  char *key;          /* the cache key text */
} fitcl__ocl_stored;

struct fitcl__ocl {
  cl_platform_id platform;
  cl_device_id device;
  cl_context context;
  cl_command_queue queue;       /* in-order, without profiling */
  cl_command_queue queue2;      /* second in-order queue for copy/compute overlap */
  fitcl__ocl_prog *programs;   /* one per embedded .cl file */
  int nprograms;
  size_t max_work_group;
  cl_ulong local_mem;
  cl_ulong global_mem;
  cl_uint compute_units;
  char build_options[512];
  int fp64;                     /* 0: built with FITCL__OCL_NO_FP64_OPTIONS */
  fitcl_context *ctx;           /* the owner: the write-back at destroy uses its cache */
  int lazy_codegen;             /* the driver compiles code at first launches (PoCL) */
  fitcl__ocl_stored *stored;    /* programs to store at their release (lazy_codegen) */
  int nstored, cap_stored;
  int stored_late;              /* programs stored at their release */
};

/* The OpenCL state of a context whose backend is OpenCL (the descriptor's
 * `state`).  Only OpenCL code calls it, so it always is. */
static inline fitcl__ocl *fitcl__ocl_of(const fitcl_context *ctx) {
  return (fitcl__ocl *)ctx->backend->state;
}

/* Appends every device of every installed OpenCL platform to `list`; with
 * none, says why in `why`.  Errors are out-of-memory only. */
fitcl_status fitcl__ocl_discover(fitcl__devlist *list, char *why, size_t whylen);

/* Build options common to every program (double precision, no fast math). */
#define FITCL__OCL_BUILD_OPTIONS "-cl-std=CL1.2 -DFITCL_OPENCL=1"

/* Build options of every program on a device without fp64 (or under
 * FITCL_OPENCL_NO_FP64=1): no cl_khr_fp64 and any `double` after
 * cl/common/compat.h an error at build time (PoCL has fp64, so nothing
 * else would catch one there), literals in float. */
#define FITCL__OCL_NO_FP64_OPTIONS "-DFITCL_NO_FP64=1 -cl-single-precision-constant"

/* Creates the device context and queues and builds the embedded programs
 * (through the cache) that the context's precision uses: where the device
 * has fp64 (`fp64`), every double program, and the float forms
 * (fitcl__ocl_has_float_form) only when it computes in float (`floats`:
 * mixed or single); without fp64, only the float forms, with
 * FITCL__OCL_NO_FP64_OPTIONS.  The state is reachable as
 * ctx->backend->state while the programs build.  On failure, the detail is
 * in ctx->errmsg. */
fitcl_status fitcl__ocl_create(fitcl_context *ctx, cl_platform_id platform,
                               cl_device_id device, int fp64, int floats, fitcl__ocl **out);

/* 1 when embedded program `name` is the float form of a family's kernels
 * (it holds no double): the programs built on a device without fp64, and
 * in mixed or single precision.  The families whose programs all lack one run on
 * the host there (backends/opencl/opencl_backend.c). */
int fitcl__ocl_has_float_form(const char *name);

/* The precision a device computes in when none was asked for
 * (ocl_precision.c): double where fp64 runs at >= 1/4 of the fp32 rate, as
 * far as the device tells, else mixed. */
fitcl_precision fitcl__ocl_default_precision(cl_device_id d, const fitcl_device_desc *desc);
void fitcl__ocl_destroy(fitcl__ocl *ocl);

/* The program built from embedded file `name`; NULL when absent. */
cl_program fitcl__ocl_program(fitcl_context *ctx, const char *name);

/* Builds a program from source generated at run time, through the cache.
 * `name` (a string that outlives the program) appears in logs and errors.
 * Includes of "common/..." files are expanded from the embedded sources.
 * The caller releases *out with fitcl__ocl_release_program. */
fitcl_status fitcl__ocl_build_source(fitcl_context *ctx, const char *name,
                                     const char *source, const char *extra_options,
                                     cl_program *out);

/* Releases a program from fitcl__ocl_build_source, first storing its
 * binary when that waited for its launches (fitcl__ocl_stored).  ctx may be
 * NULL or closed. */
void fitcl__ocl_release_program(fitcl_context *ctx, cl_program p);

/* Expands #include "common/..." lines from the embedded headers, recursively,
 * each header once.  Returns a malloc'ed string or NULL (out of memory or a
 * missing include; `err` then explains). */
char *fitcl__cl_expand_includes(const char *source, char *err, size_t errlen);

/* Creates kernel `kname` from embedded program `prog`. */
fitcl_status fitcl__ocl_kernel(fitcl_context *ctx, const char *prog, const char *kname,
                               cl_kernel *out);

/* Buffer helpers: record the failure in ctx and return a status. */
fitcl_status fitcl__ocl_alloc(fitcl_context *ctx, cl_mem_flags flags, size_t bytes,
                              const void *host, cl_mem *out);
fitcl_status fitcl__ocl_write(fitcl_context *ctx, cl_mem buf, size_t offset, size_t bytes,
                              const void *src);
fitcl_status fitcl__ocl_read(fitcl_context *ctx, cl_mem buf, size_t offset, size_t bytes,
                             void *dst);
#define FITCL__CL_RELEASE_MEM(m) do { if (m) { clReleaseMemObject(m); (m) = NULL; } } while (0)
#define FITCL__CL_RELEASE_KERNEL(k) do { if (k) { clReleaseKernel(k); (k) = NULL; } } while (0)

/* Sets argument i of k (clSetKernelArg) and reports failure in ctx. */
fitcl_status fitcl__ocl_setarg(fitcl_context *ctx, cl_kernel k, cl_uint i, size_t size,
                               const void *value);

/* Enqueues a 1-D NDRange (global rounded up to a multiple of local; local 0
 * lets the driver choose) and reports failure in ctx. */
fitcl_status fitcl__ocl_launch(fitcl_context *ctx, cl_kernel k, size_t global, size_t local);

/* Turns an OpenCL error into a status + message ("clEnqueueNDRangeKernel:
 * CL_OUT_OF_RESOURCES (-5) in pruning"). */
fitcl_status fitcl__ocl_check(fitcl_context *ctx, cl_int err, const char *what);
const char *fitcl__cl_errname(cl_int err);

#endif
