/* Remembering that a host has no OpenCL GPU (docs/device-selection.md).
 * Internal.
 *
 * Under `auto`, finding out that a node has no GPU means loading every
 * OpenCL runtime installed on it, which costs tens of milliseconds per
 * process (PoCL alone brings LLVM).  On CPU-only farm nodes that is most
 * of a small job.  The answer "no OpenCL GPU or accelerator" is therefore
 * kept in the program cache, keyed by everything that could change it: the
 * host, its boot, the installed OpenCL drivers, the GPU device nodes and
 * the environment variables that hide or reveal devices. */
#ifndef FITCL_DEVICE_DISCOVER_MEMO_H
#define FITCL_DEVICE_DISCOVER_MEMO_H

#include <stddef.h>
#include "cache/cache.h"

/* Composes the key text for this host as it is now.  Returns 0 when the
 * description does not fit in `size` (then no memo may be used). */
int fitcl__discovery_key(char *out, size_t size);

/* 1 when a previous probe under the same key found no OpenCL GPU or
 * accelerator with fp64.  Leaves the program-cache statistics alone. */
int fitcl__discovery_memo_no_gpu(fitcl__cache *c, const char *key);

/* Records that a probe under `key` found no OpenCL GPU or accelerator. */
void fitcl__discovery_memo_store_no_gpu(fitcl__cache *c, const char *key);

#endif
