/* Robust losses and their IRLS weights for the Jacobian accumulation,
 * shared by the OpenCL kernels and the pthreads path.
 *
 * With z = r^2 for the weighted residual r and C = f_scale, scipy's
 * least_squares convention is rho(z) = C^2 rho0(z / C^2), so with u = z/C^2:
 *   rho   = C^2 rho0(u)       (cost = 0.5 * sum rho)
 *   rho'  = rho0'(u)
 *   rho'' = rho0''(u) / C^2
 * and the Gauss-Newton model of the robust cost (scipy's
 * scale_for_robust_loss_function) scales the Jacobian row by sqrt(w) and
 * the residual by rho'/sqrt(w), with
 *   w = max(rho' + 2 z rho'', eps) = max(rho0'(u) + 2 u rho0''(u), eps).
 * Hence JᵀJ gains weight w and Jᵀr weight rho'. */
#ifndef FITCL_CL_COMMON_ACCUM_POINT_H
#define FITCL_CL_COMMON_ACCUM_POINT_H
#include "common/compat.h"

#define FITCL_LOSS_ID_LINEAR 0
#define FITCL_LOSS_ID_SOFT_L1 1
#define FITCL_LOSS_ID_HUBER 2
#define FITCL_LOSS_ID_CAUCHY 3
#define FITCL_LOSS_ID_ARCTAN 4

/* Machine epsilon of double: scipy's floor for the IRLS weight. */
#define FITCL_LOSS_EPS 2.220446049250313e-16

/* Evaluates the loss at z = r^2: *rho (already times C^2), *rho1 = rho'
 * and *w the JᵀJ weight.  c2 = C^2, inv_c2 = 1/C^2. */
FITCL_FN void fitcl_loss_eval(int loss, fitcl_real z, fitcl_real c2, fitcl_real inv_c2,
                              fitcl_real *rho, fitcl_real *rho1, fitcl_real *w) {
  fitcl_real u = z * inv_c2;
  fitcl_real r0, r1, r2;
  if (loss == FITCL_LOSS_ID_SOFT_L1) {
    fitcl_real t = 1.0 + u, st = sqrt(t);
    r0 = 2.0 * (st - 1.0);
    r1 = 1.0 / st;
    r2 = -0.5 * r1 / t;
  } else if (loss == FITCL_LOSS_ID_HUBER) {
    if (u <= 1.0) {
      r0 = u;
      r1 = 1.0;
      r2 = 0.0;
    } else {
      fitcl_real su = sqrt(u);
      r0 = 2.0 * su - 1.0;
      r1 = 1.0 / su;
      r2 = -0.5 * r1 / u;
    }
  } else if (loss == FITCL_LOSS_ID_CAUCHY) {
    fitcl_real t = 1.0 + u;
    r0 = log1p(u);
    r1 = 1.0 / t;
    r2 = -r1 * r1;
  } else if (loss == FITCL_LOSS_ID_ARCTAN) {
    fitcl_real t = 1.0 + u * u;
    r0 = atan(u);
    r1 = 1.0 / t;
    r2 = -2.0 * u * r1 * r1;
  } else {
    r0 = u;
    r1 = 1.0;
    r2 = 0.0;
  }
  *rho = c2 * r0;
  *rho1 = r1;
  fitcl_real ww = r1 + 2.0 * u * r2;
  *w = ww < FITCL_LOSS_EPS ? FITCL_LOSS_EPS : ww;
}

/* Number of sums per pass for np parameters: the upper triangle of JᵀJ
 * (row-major, k <= l), then Jᵀr, then cost and Σr². */
#define FITCL_ACCUM_NSUMS(np) ((np) * ((np) + 1) / 2 + (np) + 2)

/* Blocks (of FITCL_REDUCE_BLOCK points, counted from a piece's start) whose
 * sums every double-precision backend adds into one group partial, in
 * block order with compensation (cl/common/ksum.h), before the driver adds
 * the groups exactly: the same on every device, so that a context over
 * several devices can hand groups to any of them (docs/device-selection.md). */
#define FITCL_ACCUM_GROUP 16

/* Blocks per work-item of the CPU-device (double8) kernels: one work-group
 * per block cost PoCL a measurable scheduling overhead per group. */
#define FITCL_VEC8_BLOCKS 4

#endif
