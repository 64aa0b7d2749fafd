/* Lets the math headers in cl/common compile both as OpenCL C (inside
 * kernels) and as C99/C11 (in the pthreads backend), so each formula is
 * written exactly once.
 *
 *   FITCL_FN        qualifier for shared functions (static inline in C)
 *   FITCL_GLOBAL    address-space qualifier for pointers into device memory
 *   FITCL_LOCAL     the same for work-group local memory
 *   fitcl_real      the working floating-point type (double)
 */
#ifndef FITCL_CL_COMMON_COMPAT_H
#define FITCL_CL_COMMON_COMPAT_H

#ifdef __OPENCL_VERSION__
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
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

typedef double fitcl_real;

/* Fixed block size of every reduction: partial sums are formed over blocks
 * of this many items in index order, then combined in block order.  It is
 * part of the numerical contract (results do not depend on work-group size
 * or thread count) and must not vary per device. */
#define FITCL_REDUCE_BLOCK 256

#endif
