# Every external library fitcl uses, found in one place.
find_package(Threads REQUIRED)
find_package(OpenCLICD REQUIRED)
find_package(CLBlast REQUIRED)
find_package(PkgConfig REQUIRED)
# SHA-256 for the program cache key: nettle, not a home-made hash.
pkg_check_modules(NETTLE REQUIRED IMPORTED_TARGET nettle)
# Small dense linear algebra (eigen-decomposition, Cholesky, SVD).
pkg_check_modules(LAPACKE REQUIRED IMPORTED_TARGET lapacke)
# JSON output of the command-line tool.
pkg_check_modules(CJSON REQUIRED IMPORTED_TARGET libcjson)
# Optional: HDF5 input for curve fitting.
find_package(HDF5 QUIET COMPONENTS C)
set(FITCL_HAVE_HDF5 0)
if(HDF5_FOUND)
  set(FITCL_HAVE_HDF5 1)
endif()

set(FITCL_DEPS OpenCL::OpenCL CLBlast::CLBlast PkgConfig::NETTLE PkgConfig::LAPACKE
    Threads::Threads m)
if(FITCL_HAVE_HDF5)
  list(APPEND FITCL_DEPS ${HDF5_C_LIBRARIES})
  include_directories(SYSTEM ${HDF5_C_INCLUDE_DIRS})
endif()
set(FITCL_CLI_DEPS PkgConfig::CJSON)
