/* Per-device tuning of kernel layouts (fitcl_context_tune) and the record
 * it keeps in the cache.  Internal. */
#ifndef FITCL_KERNELS_TUNE_H
#define FITCL_KERNELS_TUNE_H

#include <stddef.h>
#include "fitcl.h"

/* Sets ctx->backend->tuning from the record stored for the context's
 * device, if any.  A record that does not parse, or names a layout this
 * version does not have, is ignored with a warning in the log: tuning only
 * ever changes speed, so nothing fails for want of it. */
void fitcl__tuning_load(fitcl_context *ctx);

/* The cache key of the record for the context's device. */
void fitcl__tuning_key(const fitcl_context *ctx, char *key, size_t size);

#endif
