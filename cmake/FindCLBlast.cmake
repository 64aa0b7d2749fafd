# FindCLBlast: the CLBlast C header (clblast_c.h), for types and constants
# only.  fitcl links no CLBlast: the materialised accumulation path loads
# libclblast.so.1 with dlopen when first wanted
# (src/backends/opencl/clblast_api.h), so no library is looked for here.
# Defines CLBlast_FOUND and the imported target CLBlast::Headers.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_CLBLAST QUIET clblast)
endif()
find_path(CLBlast_INCLUDE_DIR clblast_c.h HINTS ${PC_CLBLAST_INCLUDE_DIRS})
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CLBlast REQUIRED_VARS CLBlast_INCLUDE_DIR)
if(CLBlast_FOUND AND NOT TARGET CLBlast::Headers)
  add_library(CLBlast::Headers INTERFACE IMPORTED)
  set_target_properties(CLBlast::Headers PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${CLBlast_INCLUDE_DIR}")
endif()
mark_as_advanced(CLBlast_INCLUDE_DIR)
