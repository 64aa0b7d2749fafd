/* Loads the OpenCL ICD loader with dlopen and fills the function table of
 * cl_api.h.  Why: a linked libOpenCL makes every fitcl process fail to
 * start on hosts without OpenCL (many farm nodes), although the cpu backend
 * needs none of it.  OpenCV loads its OpenCL runtime the same way. */
#include "device/opencl/cl_api.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/dynlib.h"
#include "device/opencl/pocl_slot.h"

fitcl__cl_api fitcl__cl;

static pthread_once_t cl_once = PTHREAD_ONCE_INIT;
static int cl_loaded;
static char cl_why[512];

/* Stand-ins for the optional functions an older loader lacks, one per
 * FITCL__CL_OPTIONAL entry (a new entry without one does not compile). */
static cl_int CL_API_CALL missing_EnqueueFillBuffer(cl_command_queue q, cl_mem m,
                                                    const void *pattern, size_t pattern_size,
                                                    size_t offset, size_t size, cl_uint nwait,
                                                    const cl_event *wait, cl_event *event) {
  (void)q, (void)m, (void)pattern, (void)pattern_size, (void)offset, (void)size, (void)nwait,
      (void)wait, (void)event;
  return CL_INVALID_OPERATION;
}

static void cl_load_once(void) {
  static const char *const names[] = {"libOpenCL.so.1", "libOpenCL.so"};
  /* Before the loader starts PoCL: a PoCL cache directory no other
   * running process shares (pocl_slot.h). */
  char why[256];
  fitcl__pocl_slot_claim(why, sizeof why);
  const char *so = NULL;
  void *lib = fitcl__dynlib_open("FITCL_OPENCL_LIBRARY", names, 2, &so, cl_why, sizeof cl_why);
  if (!lib) return;
  /* Never closed: drivers keep threads and atexit handlers, and handles
   * created through the table may live until the process ends. */
#define RESOLVE_REQUIRED(name)                                                       \
  if (!fitcl__dynlib_sym(lib, "cl" #name, &fitcl__cl.name, sizeof fitcl__cl.name)) { \
    snprintf(cl_why, sizeof cl_why, "%s lacks cl" #name, so);                        \
    memset(&fitcl__cl, 0, sizeof fitcl__cl);                                         \
    return;                                                                          \
  }
  FITCL__CL_REQUIRED(RESOLVE_REQUIRED)
#undef RESOLVE_REQUIRED
#define RESOLVE_OPTIONAL(name)                                                     \
  if (!fitcl__dynlib_sym(lib, "cl" #name, &fitcl__cl.name, sizeof fitcl__cl.name)) \
    fitcl__cl.name = missing_##name;
  FITCL__CL_OPTIONAL(RESOLVE_OPTIONAL)
#undef RESOLVE_OPTIONAL
  cl_loaded = 1;
}

int fitcl__cl_load(char *why, size_t len) {
  pthread_once(&cl_once, cl_load_once);
  if (!cl_loaded && why && len) snprintf(why, len, "%s", cl_why);
  return cl_loaded;
}

const char *fitcl__cl_load_error(void) { return fitcl__cl_load(NULL, 0) ? NULL : cl_why; }
