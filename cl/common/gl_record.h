/* Layout of one transition-matrix record of the gain/loss model
 * (common/gainloss.h computes it): FITCL_GL_PREC numbers per branch, in the
 * kernels' working type.  No `double` here: the float programs, which build
 * on devices without cl_khr_fp64, read the same layout (cl/lik_float.cl). */
#ifndef FITCL_CL_COMMON_GL_RECORD_H
#define FITCL_CL_COMMON_GL_RECORD_H

#define FITCL_GL_P00 0
#define FITCL_GL_P01 1
#define FITCL_GL_P10 2
#define FITCL_GL_P11 3
#define FITCL_GL_U01 4 /* dP01 / dlog u */
#define FITCL_GL_U10 5 /* dP10 / dlog u */
#define FITCL_GL_W01 6 /* dP01 / dlog w */
#define FITCL_GL_W10 7 /* dP10 / dlog w */
#define FITCL_GL_T01 8 /* dP01 / dt */
#define FITCL_GL_T10 9 /* dP10 / dt */
#define FITCL_GL_PREC 10

#endif
