/* Newick reader entry point for byte buffers that may hold NUL bytes (the
 * fuzz harness).  Internal; the public calls are in include/fitcl/tree.h. */
#ifndef FITCL_IO_NEWICK_H
#define FITCL_IO_NEWICK_H

#include <stddef.h>
#include "fitcl.h"

fitcl_status fitcl__tree_parse_bytes(const char *text, size_t len, fitcl_tree **out, char *err,
                                     size_t errlen);

#endif
