/* The OpenCL backend: its driver and its ops table for each kernel family
 * (one file per family beside this one).  Internal.  The OpenCL runtime it
 * builds on (context, queues, program builds through the cache) is
 * device/opencl/ocl.h. */
#ifndef FITCL_BACKENDS_OPENCL_H
#define FITCL_BACKENDS_OPENCL_H

#include "device/backend.h"

extern const fitcl__driver fitcl__driver_opencl;

struct fitcl__reduce_ops;
struct fitcl__pmatrix_ops;
struct fitcl__kstate_ops;
struct fitcl__lik_ops;
struct fitcl__accum_ops;
struct fitcl__batch_ops;
struct fitcl__voi_ops;
struct fitcl__credit_ops;
extern const struct fitcl__reduce_ops fitcl__reduce_ocl_ops;
extern const struct fitcl__pmatrix_ops fitcl__pmatrix_ocl_ops;
extern const struct fitcl__kstate_ops fitcl__kstate_ocl_ops;
extern const struct fitcl__lik_ops fitcl__lik_ocl_ops;
extern const struct fitcl__accum_ops fitcl__accum_ocl_ops;
extern const struct fitcl__accum_ops fitcl__accum_ocl_mp_ops; /* mixed, single */
extern const struct fitcl__batch_ops fitcl__batch_ocl_ops;
extern const struct fitcl__voi_ops fitcl__voi_ocl_ops;
extern const struct fitcl__credit_ops fitcl__credit_ocl_ops;

/* Test hooks (process-wide; read when a handle is created).
 * fitcl__accum_ocl_variant forces the accumulation kernel variant: 0
 * automatic, 1 work-group per block, 2 work-item loop per block, 3 double8
 * (where applicable).  fitcl__accum_ocl_zero_copy: -1 automatic, 0 never
 * read the caller's arrays in place.  fitcl__lik_ocl_tile_override: patterns
 * per tile of the likelihood partials, 0 picks by device (1 on CPUs, 16 on
 * GPUs); the tests force 16 so the GPU layout also runs on a CPU device.
 * fitcl__accum_ocl_resident_budget: bytes of data an accumulator may keep
 * on the device across passes, -1 for half the device's memory.
 * fitcl__accum_ocl_pinned: -1 automatic (streamed chunks go through pinned
 * staging buffers on devices that copy and are not CPUs), 0 never, 1 on
 * every device that copies (so a CPU device tests the path). */
extern int fitcl__accum_ocl_variant;
extern int fitcl__accum_ocl_zero_copy;
extern long long fitcl__accum_ocl_resident_budget;
extern int fitcl__accum_ocl_pinned;
extern int fitcl__lik_ocl_tile_override;

#endif
