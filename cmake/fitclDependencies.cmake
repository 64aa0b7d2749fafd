# Every external library fitcl uses, found in one place.
find_package(Threads REQUIRED)
# OpenCL and CLBlast: headers only, at build time.  The library loads
# libOpenCL.so.1 and libclblast.so.1 with dlopen when first needed, so
# neither is linked and one binary runs on hosts without OpenCL (the cpu
# backend).  Targets that compile internal sources get FITCL_BUILD_HEADERS.
set(FITCL_BUILD_HEADERS "")
if(FITCL_WITH_OPENCL)
  find_package(OpenCLHeaders REQUIRED)
  find_package(CLBlast REQUIRED)
  set(FITCL_BUILD_HEADERS OpenCL::Headers CLBlast::Headers)
endif()
find_package(PkgConfig REQUIRED)
# SHA-256 for the program cache key: nettle, not a home-made hash.
pkg_check_modules(NETTLE REQUIRED IMPORTED_TARGET nettle)
# Small dense linear algebra (eigen-decomposition, Cholesky, SVD).
pkg_check_modules(LAPACKE REQUIRED IMPORTED_TARGET lapacke)
# JSON output of the command-line tool.
pkg_check_modules(CJSON REQUIRED IMPORTED_TARGET libcjson)
# Optional: HDF5 input for curve fitting.  Only the header is used at build
# time: source_hdf5.c loads the library with dlopen when an HDF5 file is
# opened, because linking it made every fitcl process map libhdf5 and its
# forty-odd dependencies (about half of the start-up time).  FITCL_HAVE_HDF5
# still means "built with HDF5 support"; FITCL_HDF5_SONAME is the name to load.
find_package(HDF5 QUIET COMPONENTS C)
set(FITCL_HAVE_HDF5 0)
set(FITCL_HDF5_SONAME "")

# Sets OUT to the SONAME of the HDF5 C library in HDF5_C_LIBRARIES, which is
# the name the dynamic loader knows it by (libhdf5_serial.so.103 on Debian,
# where the linked name is the unversioned hdf5/serial/libhdf5.so symlink).
# The ELF header is read with objdump when there is one; otherwise the name
# is derived from the symlink's target (libX.so.MAJOR.MINOR -> libX.so.MAJOR).
function(fitcl_hdf5_soname out)
  set(path "")
  foreach(lib IN LISTS HDF5_C_LIBRARIES HDF5_LIBRARIES)
    if(TARGET ${lib})
      get_target_property(loc ${lib} LOCATION)
      if(loc)
        set(lib ${loc})
      endif()
    endif()
    get_filename_component(name "${lib}" NAME)
    if(name MATCHES "hdf5" AND NOT name MATCHES "_hl" AND NOT name MATCHES "\\.a$")
      set(path "${lib}")
      break()
    endif()
  endforeach()
  set(soname "")
  if(path AND EXISTS "${path}")
    get_filename_component(real "${path}" REALPATH)
    if(CMAKE_OBJDUMP)
      execute_process(COMMAND ${CMAKE_OBJDUMP} -p "${real}" OUTPUT_VARIABLE dump
                      ERROR_QUIET RESULT_VARIABLE rc)
      if(rc EQUAL 0 AND dump MATCHES "SONAME[ \t]+([^ \t\r\n]+)")
        set(soname "${CMAKE_MATCH_1}")
      endif()
    endif()
    if(NOT soname)
      get_filename_component(name "${real}" NAME)
      if(name MATCHES "^(.*\\.so\\.[0-9]+)")
        set(soname "${CMAKE_MATCH_1}")
      else()
        set(soname "${name}")
      endif()
    endif()
  endif()
  set(${out} "${soname}" PARENT_SCOPE)
endfunction()

if(HDF5_FOUND)
  set(FITCL_HAVE_HDF5 1)
  include_directories(SYSTEM ${HDF5_C_INCLUDE_DIRS})
  fitcl_hdf5_soname(FITCL_HDF5_SONAME)
  if(FITCL_HDF5_SONAME)
    message(STATUS "HDF5 input: ${FITCL_HDF5_SONAME}, loaded when first used")
  else()
    message(WARNING "HDF5 found, but not the name of its shared library; HDF5 input will "
            "try the usual names (libhdf5_serial.so.103, libhdf5.so) at run time")
  endif()
endif()

set(FITCL_DEPS PkgConfig::NETTLE PkgConfig::LAPACKE Threads::Threads ${CMAKE_DL_LIBS} m)
set(FITCL_CLI_DEPS PkgConfig::CJSON)
# For Libs.private of fitcl.pc: -ldl where dlopen lives outside libc.
set(FITCL_PC_DL_LIBS "")
foreach(lib IN LISTS CMAKE_DL_LIBS)
  string(APPEND FITCL_PC_DL_LIBS " -l${lib}")
endforeach()
