# FindCLBlast: locate the CLBlast OpenCL BLAS library.
# Defines CLBlast_FOUND and the imported target CLBlast::CLBlast.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_CLBLAST QUIET clblast)
endif()
find_path(CLBlast_INCLUDE_DIR clblast_c.h HINTS ${PC_CLBLAST_INCLUDE_DIRS})
find_library(CLBlast_LIBRARY NAMES clblast HINTS ${PC_CLBLAST_LIBRARY_DIRS})
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CLBlast REQUIRED_VARS CLBlast_LIBRARY CLBlast_INCLUDE_DIR)
if(CLBlast_FOUND AND NOT TARGET CLBlast::CLBlast)
  add_library(CLBlast::CLBlast UNKNOWN IMPORTED)
  set_target_properties(CLBlast::CLBlast PROPERTIES
    IMPORTED_LOCATION "${CLBlast_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CLBlast_INCLUDE_DIR}")
endif()
mark_as_advanced(CLBlast_INCLUDE_DIR CLBlast_LIBRARY)
