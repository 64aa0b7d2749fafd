/* The model object shared by the accumulation driver and its backends.
 * Internal. */
#ifndef FITCL_KERNELS_MODEL_H
#define FITCL_KERNELS_MODEL_H

#include "fitcl.h"
#include "expr/expr.h"

typedef enum fitcl__model_kind {
  FITCL__MODEL_EXPR = 0,     /* compiled expression: VM programs + generated OpenCL */
  FITCL__MODEL_CALLBACK = 1, /* C callback (pthreads path only) */
  FITCL__MODEL_OPENCL = 2    /* user OpenCL C source (OpenCL path only) */
} fitcl__model_kind;

struct fitcl_model {
  fitcl_context *ctx;
  fitcl__model_kind kind;
  int nparams, nvars;
  char **pnames, **vnames;
  char *expr;                 /* EXPR: the expression text */
  fitcl__expr_prog prog_fj;   /* EXPR: outputs f, df/dp_0 .. df/dp_{np-1} */
  fitcl__expr_prog prog_f;    /* EXPR: output f only (cost-only passes) */
  fitcl_model_fn fn;          /* CALLBACK */
  void *user;
  int fd;                     /* CALLBACK: 0 the callback writes J; else J by finite
                                 differences, 1 forward, 2 central */
  char *cl_source;            /* OPENCL: the user's source */
};

/* OpenCL C defining fitcl_model_fj(p, x, f, J) and fitcl_model_f(p, x, f, J)
 * (the latter need not write J) for any model kind that can run on OpenCL;
 * malloc'ed, NULL for callback models or no memory. */
char *fitcl__model_opencl_functions(const fitcl_model *m);
/* The same on float, for the mixed and single precision kernels
 * (cl/common/accum_kernel_mp.h): the scalar fitcl_model_fj / fitcl_model_f
 * with every `double` of the generated (or the user's OpenCL) source read
 * as `float`.  malloc'ed; NULL when out of memory or for a C callback. */
char *fitcl__model_opencl_functions_float(const fitcl_model *m);

/* A callback model's values and (jac != NULL) row-major Jacobian on n
 * points; finite differences when m->fd.  scratch: 2n doubles (fd only). */
void fitcl__model_callback_eval(const fitcl_model *m, const double *params,
                                const double *const *x, size_t n, double *f, double *jac,
                                double *scratch);

#endif
