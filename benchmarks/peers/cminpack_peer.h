/* cminpack lmder peer: the same models with hand-written Jacobians, fitted
 * by MINPACK's Levenberg-Marquardt (which stores the whole m x n Jacobian). */
#ifndef FITCL_PEER_CMINPACK_H
#define FITCL_PEER_CMINPACK_H
#include <stddef.h>

enum { PEER_MODEL_DOUBLE_EXP = 0, PEER_MODEL_XPCS = 1, PEER_MODEL_GAUSSIAN = 2 };

/* Fits in place: p holds the start (4 values for the double exponential
 * a*exp(-b*x)+c*exp(-d*x), 5 for XPCS offset, contrast, D0, alpha,
 * D_offset with columns tau and q, 4 for the Gaussian peak
 * a*exp(-(x-mu)^2/(2*sigma^2))+c).  Returns MINPACK's info (1..4 converged)
 * or -1 when memory ran out; *nfev / *njev count evaluations, *rss the final
 * residual sum of squares. */
int fitcl_peer_cminpack_fit(int model, const double *x, const double *q, const double *y,
                            size_t n, double *p, int *nfev, int *njev, double *rss);
/* The same with ftol = xtol = gtol = tol (the above: 1e-8). */
int fitcl_peer_cminpack_fit_tol(int model, const double *x, const double *q, const double *y,
                                size_t n, double *p, int *nfev, int *njev, double *rss,
                                double tol);

#endif
