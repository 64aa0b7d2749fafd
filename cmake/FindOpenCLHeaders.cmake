# FindOpenCLHeaders: the Khronos OpenCL C headers (CL/cl.h), for types and
# constants only.  fitcl links no OpenCL library: it loads the ICD loader
# (libOpenCL.so.1) with dlopen when devices are first discovered
# (src/device/opencl/cl_api.h), so no library is looked for here.
# Defines OpenCLHeaders_FOUND and the imported target OpenCL::Headers (the
# name the Khronos OpenCL-Headers package uses).
find_path(OpenCL_INCLUDE_DIR CL/cl.h)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(OpenCLHeaders REQUIRED_VARS OpenCL_INCLUDE_DIR)
if(OpenCLHeaders_FOUND AND NOT TARGET OpenCL::Headers)
  add_library(OpenCL::Headers INTERFACE IMPORTED)
  set_target_properties(OpenCL::Headers PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${OpenCL_INCLUDE_DIR}")
endif()
mark_as_advanced(OpenCL_INCLUDE_DIR)
