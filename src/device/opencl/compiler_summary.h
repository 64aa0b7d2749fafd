/* Telling clang's summary line apart from what other threads wrote to
 * stderr during a build (used by quiet_build.c).  Internal. */
#ifndef FITCL_DEVICE_OPENCL_COMPILER_SUMMARY_H
#define FITCL_DEVICE_OPENCL_COMPILER_SUMMARY_H

#include <stddef.h>

/* Splits text[0..len) into clang's summaries ("1 warning generated.\n",
 * "2 warnings and 1 error generated.\n"), copied to `summary`, and
 * everything else, copied to `other`; both have room for len bytes.
 * Returns the length of `other` and sets *summary_len.
 *
 * clang writes its summary in pieces ("1", " error", " generated", ".\n"),
 * so a line another thread writes whole can land between two pieces:
 * "1chatter 7\n error generated.\n".  The split therefore reads every line
 * as a (possibly empty) run of summary pieces followed by another writer's
 * line, and of all such readings takes the one with the most summaries,
 * then the most bytes in them, then the fewest lines cut; other writers' lines come out whole and in
 * order.  A line of another writer's that itself looks like the start of a
 * summary piece ("7 dwarfs" after a lone "1") cannot be told apart, and
 * the summary takes the "7". */
size_t fitcl__split_compiler_summary(const char *text, size_t len, char *other, char *summary,
                                     size_t *summary_len);

#endif
