/* General k-state transition matrices: host-side math shared by the
 * backends (stationary distribution, symmetrised eigensystem, Pade). */
#ifndef FITCL_KERNELS_KSTATE_H
#define FITCL_KERNELS_KSTATE_H

#include <stddef.h>
#include "fitcl.h"

#define FITCL__KSTATE_MAX 64

/* Eigensystem of a reversible Q, as P(t) = A diag(exp(lambda t)) B with
 * A = D^-1/2 U and B = U^T D^1/2 (k*k each, row-major). */
typedef struct fitcl__keig {
  int k;
  double lambda[FITCL__KSTATE_MAX];
  double *A, *B;
} fitcl__keig;

typedef struct fitcl__kstate_ops {
  /* P(t) = A diag(exp(lambda t)) B for n branch lengths t: out holds n
   * row-major k*k matrices (cl/common/keig.h). */
  fitcl_status (*apply)(fitcl_context *ctx, const fitcl__keig *e, size_t n, const double *t,
                        double *out);
} fitcl__kstate_ops;
/* exp(Q t) by scaling and squaring with the [13/13] Pade approximant;
 * work holds 8 k*k doubles and k ints. */
fitcl_status fitcl__kstate_pade(int k, const double *q, double t, double *out, double *work,
                                int *ipiv);

#endif
