/* What compat.h gives the math headers, for the float programs
 * (cl/lik_float.cl): the working type fitcl_real is float, and nothing here
 * or in what such a program includes names `double`, so that the program
 * builds on a device without cl_khr_fp64.  OpenCL C only; the host never
 * compiles the float forms. */
#ifndef FITCL_CL_COMMON_COMPAT_FLOAT_H
#define FITCL_CL_COMMON_COMPAT_FLOAT_H

/* Selects the float forms of common/pruning.h (its scaling constants). */
#define FITCL_PRUNE_FLOAT 1

#define FITCL_FN inline
#define FITCL_GL_FN inline
#define FITCL_GLOBAL __global
#define FITCL_LOCAL __local
#define FITCL_CONSTANT __constant
typedef long fitcl_long;
typedef float fitcl_real;

/* compat.h's FITCL_REDUCE_BLOCK, which cannot be included here (it enables
 * fp64): the block size of every reduction, the same on every device. */
#define FITCL_REDUCE_BLOCK 256

#endif
