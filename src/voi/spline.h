/* Tensor-product cubic B-spline bases for the EVPPI regressions.  Internal.
 *
 * Each parameter of interest m gets q_m cubic B-splines on equally spaced
 * knots spanning [lo_m, hi_m], the range of its samples (P-splines, Eilers
 * & Marx 1996).  A sample's basis row has 4 non-zero values per margin,
 * 4^d for the tensor product, at consecutive indices per margin.  The
 * penalty is the sum over margins of the second-difference penalty of that
 * margin (identity on the others): its null space holds every product of
 * per-margin linear functions, so a linear E[NB | θ] is fitted without
 * shrinkage. */
#ifndef FITCL_VOI_SPLINE_H
#define FITCL_VOI_SPLINE_H
#include <stddef.h>

#include "fitcl.h"

#define FITCL__SPLINE_MAXNZ 256 /* 4^FITCL_EVPPI_MAX_PARAMS */

typedef struct fitcl__spline {
  int dims;                           /* parameters of interest (1..4) */
  int q[FITCL_EVPPI_MAX_PARAMS];      /* basis functions per margin (>= 4) */
  int stride[FITCL_EVPPI_MAX_PARAMS]; /* flat index = Σ index_m * stride[m] */
  double lo[FITCL_EVPPI_MAX_PARAMS], inv_h[FITCL_EVPPI_MAX_PARAMS];
  int p;                              /* coefficients: Π q_m */
  int nz;                             /* non-zeros per row: 4^dims */
} fitcl__spline;

/* Sets the basis up for margins with q[m] functions on [lo[m], hi[m]]
 * (hi > lo). */
void fitcl__spline_init(fitcl__spline *s, int dims, const int *q, const double *lo,
                        const double *hi);

/* The non-zero entries of the basis row at x[0..dims): indices (increasing)
 * and values, nz of each. */
void fitcl__spline_row(const fitcl__spline *s, const double *x, int *idx, double *val);

/* The penalty matrix (p x p, row-major, symmetric). */
void fitcl__spline_penalty(const fitcl__spline *s, double *S);

#endif
