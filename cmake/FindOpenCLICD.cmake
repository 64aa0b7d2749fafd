# FindOpenCLICD: the Khronos OpenCL headers and the ICD loader (libOpenCL).
# A thin wrapper over CMake's FindOpenCL that insists on the loader (not a
# vendor library) and defines the imported target OpenCL::OpenCL.
find_package(OpenCL QUIET)
if(NOT OpenCL_FOUND)
  find_path(OpenCL_INCLUDE_DIR CL/cl.h)
  find_library(OpenCL_LIBRARY NAMES OpenCL libOpenCL.so.1)
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(OpenCLICD REQUIRED_VARS OpenCL_LIBRARY OpenCL_INCLUDE_DIR)
if(OpenCLICD_FOUND AND NOT TARGET OpenCL::OpenCL)
  add_library(OpenCL::OpenCL UNKNOWN IMPORTED)
  set_target_properties(OpenCL::OpenCL PROPERTIES
    IMPORTED_LOCATION "${OpenCL_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${OpenCL_INCLUDE_DIR}")
endif()
