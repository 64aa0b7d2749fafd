/* The pthreads backend: its driver and its ops table for each kernel
 * family (one file per family beside this one).  Internal.
 *
 * Work runs on the context's worker pool (core/pool.h) in fixed blocks
 * whose partial results are combined in block order, so results do not
 * depend on the thread count.  This is also the example to copy for a new
 * backend (device/backend.h). */
#ifndef FITCL_BACKENDS_CPU_H
#define FITCL_BACKENDS_CPU_H

#include "device/backend.h"

/* Compile the hot loops for several x86 vector widths and pick one at load
 * time, so the portable binary still uses AVX2/AVX-512 where present. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define FITCL__CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FITCL__CLONES
#endif

extern const fitcl__driver fitcl__driver_cpu;

/* Fills *b with the pthreads backend on ctx's pool (every context's host
 * descriptor, and the device descriptor when the device is "cpu"). */
void fitcl__cpu_describe(fitcl_context *ctx, fitcl__backend *b);

struct fitcl__reduce_ops;
struct fitcl__pmatrix_ops;
struct fitcl__kstate_ops;
struct fitcl__lik_ops;
struct fitcl__accum_ops;
struct fitcl__voi_ops;
struct fitcl__credit_ops;
extern const struct fitcl__reduce_ops fitcl__reduce_cpu_ops;
extern const struct fitcl__pmatrix_ops fitcl__pmatrix_cpu_ops;
extern const struct fitcl__kstate_ops fitcl__kstate_cpu_ops;
extern const struct fitcl__lik_ops fitcl__lik_cpu_ops;
extern const struct fitcl__accum_ops fitcl__accum_cpu_ops;
extern const struct fitcl__voi_ops fitcl__voi_cpu_ops;
extern const struct fitcl__credit_ops fitcl__credit_cpu_ops;

#endif
