# Installs the header, both libraries, a CMake package config
# (find_package(fitcl) -> fitcl::fitcl, fitcl::fitcl_static) and fitcl.pc.
include(CMakePackageConfigHelpers)
install(TARGETS fitcl fitcl_static EXPORT fitclTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS fitcl_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES include/fitcl.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/fitcl DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT fitclTargets NAMESPACE fitcl:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/fitcl)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/fitclConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/fitclConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/fitcl)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/fitclConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/fitclConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/fitclConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/fitcl)
# The .pc file finds the prefix relative to its own location, so an install
# moved with --prefix or DESTDIR still works.
file(RELATIVE_PATH FITCL_PC_UP /x/${CMAKE_INSTALL_LIBDIR}/pkgconfig /x)
# Built with Open MPI: static consumers link it too (its module is ompi-c).
set(FITCL_PC_MPI "")
if(FITCL_MPI)
  set(FITCL_PC_MPI " ompi-c")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/fitcl.pc.in ${CMAKE_CURRENT_BINARY_DIR}/fitcl.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/fitcl.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
