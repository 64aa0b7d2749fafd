/* Newick reader entry point for byte buffers that may hold NUL bytes (the
 * fuzz harness).  Internal; the public calls are in include/fitcl/tree.h. */
#ifndef FITCL_IO_NEWICK_H
#define FITCL_IO_NEWICK_H

#include <stddef.h>
#include "fitcl.h"

/* The largest tree file read (256 MiB: some ten million tips with short
 * names); a longer one, or /dev/zero, is refused with this limit named
 * instead of filling memory. */
#define FITCL__NEWICK_MAX_BYTES ((size_t)256 << 20)

fitcl_status fitcl__tree_parse_bytes(const char *text, size_t len, fitcl_tree **out, char *err,
                                     size_t errlen);

#endif
