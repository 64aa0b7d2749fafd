/* Batched 2-state transition matrices P(t) (fitcl_gl_pmatrices): the
 * closed form of cl/common/gainloss.h for n (gain, loss, t) triples.
 * Internal. */
#ifndef FITCL_KERNELS_PMATRIX_H
#define FITCL_KERNELS_PMATRIX_H

#include <stddef.h>
#include "fitcl.h"

typedef struct fitcl__pmatrix_ops {
  /* p[4i..4i+4) = P(t_i) of rates (a_i, b_i), row-major; with deriv, also
   * its six derivatives deriv[6i..6i+6) (the order of FITCL_GL_PREC).
   * Arguments are checked by the caller. */
  fitcl_status (*gainloss)(fitcl_context *ctx, size_t n, const double *a, const double *b,
                           const double *t, double *p, double *deriv);
} fitcl__pmatrix_ops;

#endif
