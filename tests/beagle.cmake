# BEAGLE (libhmsbeagle, Debian libhmsbeagle-dev) for tests/test_beagle.c:
# found through pkg-config (hmsbeagle-1).  When present, the test links it
# and sees FITCL_HAVE_BEAGLE=1; when absent, the test compiles to a skip.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(HMSBEAGLE QUIET IMPORTED_TARGET hmsbeagle-1)
endif()
if(TARGET test_beagle)
  if(HMSBEAGLE_FOUND)
    target_link_libraries(test_beagle PRIVATE PkgConfig::HMSBEAGLE)
    target_include_directories(test_beagle PRIVATE ${PROJECT_SOURCE_DIR}/benchmarks/peers)
    target_compile_definitions(test_beagle PRIVATE FITCL_HAVE_BEAGLE=1)
  else()
    message(STATUS "BEAGLE (hmsbeagle-1) not found: test_beagle will skip")
  endif()
endif()
