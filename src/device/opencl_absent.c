/* Why OpenCL cannot be used in this process: the one question about a
 * backend that the selector grammar and `auto` need answered by name, since
 * `opencl...` selectors are part of the grammar even in a build without it. */
#include "device/opencl_absent.h"

#include "fitcl.h"
#include "fitcl_config.h"
#if FITCL_WITH_OPENCL
#include "device/opencl/cl_api.h"
#endif

const char *fitcl__opencl_absent_reason(void) {
#if FITCL_WITH_OPENCL
  return fitcl__cl_load_error();
#else
  return "this fitcl was built without OpenCL (-DFITCL_WITH_OPENCL=OFF)";
#endif
}

const char *fitcl_opencl_unavailable_reason(void) { return fitcl__opencl_absent_reason(); }
