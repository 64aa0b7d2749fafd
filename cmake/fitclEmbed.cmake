# Embeds the OpenCL sources (cl/*.cl and cl/common/*.h) into one C file in the
# build directory, so the library carries its kernels and needs no install
# path at run time.  The conversion runs as a CMake script (file(READ ... HEX))
# at build time: no xxd, nothing generated into the source tree.
set(FITCL_EMBED_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/embed_cl.cmake)

function(fitcl_embed_cl out_var root)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/fitcl_cl_sources.c)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DROOT=${root} -DOUT=${out} -P ${FITCL_EMBED_SCRIPT}
    DEPENDS ${ARGN} ${FITCL_EMBED_SCRIPT}
    COMMENT "Embedding OpenCL sources"
    VERBATIM)
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()
