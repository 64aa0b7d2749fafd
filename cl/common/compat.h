/* Lets the math headers in cl/common compile both as OpenCL C (inside
 * kernels) and as C99/C11 (in the pthreads backend), so each formula is
 * written exactly once.
 *
 *   FITCL_FN        qualifier for shared functions (static inline in C)
 *   FITCL_GLOBAL    address-space qualifier for pointers into device memory
 *   FITCL_LOCAL     the same for work-group local memory
 *   fitcl_real      the working floating-point type: double, or float in
 *                   programs built for a device without fp64
 *                   (FITCL_NO_FP64) or asking for it (FITCL_REAL_FLOAT)
 */
#ifndef FITCL_CL_COMMON_COMPAT_H
#define FITCL_CL_COMMON_COMPAT_H

#ifdef __OPENCL_VERSION__
/* Without fp64 (a device lacking it, or FITCL_OPENCL_NO_FP64=1) the
 * extension stays off and `double` is an error (FITCL__OCL_NO_FP64_OPTIONS). */
#ifndef FITCL_NO_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#else
/* Here, not on the command line, which would reach the driver's own
 * headers too: a stray double fails to build even where the device has
 * fp64 (FITCL_OPENCL_NO_FP64=1 on PoCL). */
#define double fitcl_double_is_unavailable_here
#endif
#define FITCL_FN inline
#define FITCL_GLOBAL __global
#define FITCL_LOCAL __local
#define FITCL_CONSTANT __constant
typedef long fitcl_long;
typedef ulong fitcl_ulong;
#else
#include <math.h>
#include <stdint.h>
#define FITCL_FN static inline
#define FITCL_GLOBAL
#define FITCL_LOCAL
#define FITCL_CONSTANT const
typedef int64_t fitcl_long;
typedef uint64_t fitcl_ulong;
#endif

#if defined(__OPENCL_VERSION__) && (defined(FITCL_NO_FP64) || defined(FITCL_REAL_FLOAT))
typedef float fitcl_real;
#define FITCL_REAL_IS_FLOAT 1
#else
typedef double fitcl_real;
#endif

/* Fixed block size of every reduction: partial sums are formed over blocks
 * of this many items in index order, then combined in block order.  It is
 * part of the numerical contract (results do not depend on work-group size
 * or thread count) and must not vary per device. */
#define FITCL_REDUCE_BLOCK 256

#endif
