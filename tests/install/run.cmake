# CTest driver: installs the build into a scratch prefix, then configures and
# builds a consumer project with find_package(fitcl), runs it against the
# shared and the static library, and compiles it once more with pkg-config.
set(prefix ${WORK}/prefix)
file(REMOVE_RECURSE ${WORK})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD} --prefix ${prefix}
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "install failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SRC} -B ${WORK}/b -DCMAKE_PREFIX_PATH=${prefix}
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "find_package(fitcl) consumer failed to configure")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK}/b RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "consumer failed to build")
endif()
foreach(exe c cs)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${prefix}/lib ${WORK}/b/${exe}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out)
  if(rc OR NOT out MATCHES "fitcl [0-9.]+: success")
    message(FATAL_ERROR "consumer ${exe} failed: ${out}")
  endif()
endforeach()
file(GLOB_RECURSE pc ${prefix}/fitcl.pc)
get_filename_component(pcdir "${pc}" DIRECTORY)
execute_process(COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pcdir} pkg-config --cflags --libs fitcl
                RESULT_VARIABLE rc OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE)
if(rc)
  message(FATAL_ERROR "pkg-config fitcl failed")
endif()
# OpenCL and CLBlast are loaded at run time: a consumer links neither, even
# statically, and the package config does not look for them.
execute_process(COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pcdir} pkg-config --static --libs fitcl
                OUTPUT_VARIABLE static_flags OUTPUT_STRIP_TRAILING_WHITESPACE)
file(GLOB_RECURSE configs ${prefix}/fitcl*.cmake)
set(config_text "")
foreach(f ${configs})
  file(READ ${f} text)
  string(APPEND config_text "${text}")
endforeach()
if(static_flags MATCHES "OpenCL|clblast" OR config_text MATCHES "OpenCL[A-Za-z]*[:)]|CLBlast[A-Za-z]*[:)]")
  message(FATAL_ERROR "the installed package asks for OpenCL or CLBlast: ${static_flags}")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
execute_process(COMMAND cc ${SRC}/main.c ${flags} -o ${WORK}/pc RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "compiling with pkg-config flags failed")
endif()
message(STATUS "install, find_package and pkg-config consumers work")
