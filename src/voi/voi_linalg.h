/* Dense symmetric linear algebra for the EVPPI regressions (p up to a few
 * hundred; row-major p x p arrays).  Internal. */
#ifndef FITCL_VOI_VOI_LINALG_H
#define FITCL_VOI_VOI_LINALG_H

/* Cholesky factor of symmetric positive definite a: a = RᵀR with R upper
 * triangular written over a's upper triangle (the lower one zeroed).
 * Returns 0, or -1 when a is not numerically positive definite. */
int fitcl__voi_cholesky(double *a, int p);

/* x = R⁻¹ x (columns = 1) or X = R⁻¹ X for X with `cols` columns (row-major
 * p x cols), R upper triangular. */
void fitcl__voi_solve_upper(const double *r, int p, double *x, int cols);
/* X = R⁻ᵀ X (R upper triangular, so Rᵀ lower). */
void fitcl__voi_solve_upper_t(const double *r, int p, double *x, int cols);

/* Eigen-decomposition of symmetric a (destroyed) by cyclic Jacobi
 * rotations: a = V diag(w) Vᵀ, eigenvector j in column j of v (row-major
 * p x p).  Deterministic; converges to full precision for the sizes here. */
void fitcl__voi_jacobi(double *a, int p, double *w, double *v);

#endif
