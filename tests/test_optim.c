/* The bound-constrained quasi-Newton optimizer, the random streams and the
 * distribution functions, against analytic answers. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "phylo/optim.h"
#include "phylo/rng.h"
#include "core/stats.h"

/* Extended Rosenbrock: sum 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2. */
static fitcl_status rosen(void *user, const double *x, double *f, double *g) {
  int n = *(int *)user;
  *f = 0;
  for (int i = 0; i < n; ++i) g[i] = 0;
  for (int i = 0; i + 1 < n; ++i) {
    double a = x[i + 1] - x[i] * x[i], b = 1 - x[i];
    *f += 100 * a * a + b * b;
    g[i] += -400 * a * x[i] - 2 * b;
    g[i + 1] += 200 * a;
  }
  return FITCL_OK;
}

Test(optim, rosenbrock_unconstrained) {
  int n = 2;
  double x[2] = {-1.2, 1}, lo[2] = {-10, -10}, hi[2] = {10, 10};
  fitcl__optim_result r;
  fitcl__optim_options o = {.pgtol = 1e-9, .ftol = 1e-30, .max_iter = 500};
  cr_assert_eq(fitcl__optim_minimize(n, x, lo, hi, rosen, &n, &o, &r), FITCL_OK);
  cr_assert(fitcl__optim_converged(r.status), "status %s", fitcl__optim_status_name(r.status));
  cr_assert_float_eq(x[0], 1.0, 1e-6);
  cr_assert_float_eq(x[1], 1.0, 1e-6);
  cr_assert_lt(r.f, 1e-12);
}

Test(optim, rosenbrock_10d) {
  int n = 10;
  double x[10], lo[10], hi[10];
  for (int i = 0; i < n; ++i) { x[i] = i % 2 ? 1.0 : -1.2; lo[i] = -5; hi[i] = 5; }
  fitcl__optim_result r;
  fitcl__optim_options o = {.pgtol = 1e-8, .ftol = 1e-30, .max_iter = 2000};
  cr_assert_eq(fitcl__optim_minimize(n, x, lo, hi, rosen, &n, &o, &r), FITCL_OK);
  cr_assert(fitcl__optim_converged(r.status), "status %s", fitcl__optim_status_name(r.status));
  for (int i = 0; i < n; ++i) cr_assert_float_eq(x[i], 1.0, 1e-5, "x[%d] = %g", i, x[i]);
}

/* With x <= 0.5 the minimum moves to the bound: x = 0.5, y = x^2 = 0.25,
 * f = (1 - 0.5)^2, and the gradient in x there is -1 (pushing outwards). */
Test(optim, rosenbrock_active_bound) {
  int n = 2;
  double x[2] = {-1.2, 1}, lo[2] = {-2, -2}, hi[2] = {0.5, 2};
  fitcl__optim_result r;
  fitcl__optim_options o = {.pgtol = 1e-10, .ftol = 1e-30, .max_iter = 500};
  cr_assert_eq(fitcl__optim_minimize(n, x, lo, hi, rosen, &n, &o, &r), FITCL_OK);
  cr_assert(fitcl__optim_converged(r.status), "status %s", fitcl__optim_status_name(r.status));
  cr_assert_eq(x[0], 0.5);
  cr_assert_float_eq(x[1], 0.25, 1e-8);
  cr_assert_float_eq(r.f, 0.25, 1e-12);
}

/* Separable weighted quadratic: the constrained minimiser is the clamp of
 * the unconstrained one, coordinate by coordinate. */
typedef struct quad { int n; double c[6], w[6]; } quad;
static fitcl_status quadf(void *user, const double *x, double *f, double *g) {
  quad *q = user;
  *f = 0;
  for (int i = 0; i < q->n; ++i) {
    *f += q->w[i] * (x[i] - q->c[i]) * (x[i] - q->c[i]);
    g[i] = 2 * q->w[i] * (x[i] - q->c[i]);
  }
  return FITCL_OK;
}

Test(optim, quadratic_clamped) {
  quad q = {6, {-3, 0.5, 2, 7, -0.25, 1}, {1, 10, 0.1, 3, 1000, 1}};
  double x[6] = {0, 0, 0, 0, 0, 0}, lo[6] = {-1, -1, -1, -1, -1, 1}, hi[6] = {1, 1, 1, 5, 1, 1};
  fitcl__optim_result r;
  cr_assert_eq(fitcl__optim_minimize(6, x, lo, hi, quadf, &q, NULL, &r), FITCL_OK);
  cr_assert(fitcl__optim_converged(r.status));
  double want[6] = {-1, 0.5, 1, 5, -0.25, 1};
  for (int i = 0; i < 6; ++i) cr_assert_float_eq(x[i], want[i], 1e-6, "x[%d] = %.12g", i, x[i]);
}

Test(optim, iteration_cap_reported) {
  int n = 2;
  double x[2] = {-1.2, 1}, lo[2] = {-10, -10}, hi[2] = {10, 10};
  fitcl__optim_result r;
  fitcl__optim_options o = {.max_iter = 3};
  cr_assert_eq(fitcl__optim_minimize(n, x, lo, hi, rosen, &n, &o, &r), FITCL_OK);
  cr_assert_eq(r.status, FITCL__OPTIM_MAXITER);
  cr_assert_eq(r.iterations, 3);
  cr_assert(!fitcl__optim_converged(r.status));
}

Test(optim, objective_error_propagates) {
  double x[1] = {0}, lo[1] = {-1}, hi[1] = {1};
  fitcl__optim_result r;
  fitcl_status (*bad)(void *, const double *, double *, double *) = NULL;
  cr_assert_eq(fitcl__optim_minimize(0, x, lo, hi, rosen, NULL, NULL, &r), FITCL_ERR_ARG);
  cr_assert_eq(fitcl__optim_minimize(1, x, lo, hi, bad, NULL, NULL, &r), FITCL_ERR_ARG);
}

/* f = 1/2 x'Ax + cubic term whose Hessian at 0 vanishes: the Hessian from
 * gradient differences must be A. */
static fitcl_status cubic(void *user, const double *x, double *f, double *g) {
  (void)user;
  static const double A[3][3] = {{4, 1, 0.5}, {1, 3, -0.2}, {0.5, -0.2, 2}};
  *f = 0;
  for (int i = 0; i < 3; ++i) {
    g[i] = x[i] * x[i];
    *f += x[i] * x[i] * x[i] / 3;
    for (int j = 0; j < 3; ++j) {
      g[i] += A[i][j] * x[j];
      *f += 0.5 * x[i] * A[i][j] * x[j];
    }
  }
  return FITCL_OK;
}

Test(optim, hessian_and_inverse) {
  double x[3] = {0, 0, 0}, H[9];
  cr_assert_eq(fitcl__optim_hessian(3, x, NULL, NULL, NULL, NULL, cubic, NULL, H), FITCL_OK);
  static const double A[9] = {4, 1, 0.5, 1, 3, -0.2, 0.5, -0.2, 2};
  for (int i = 0; i < 9; ++i) cr_assert_float_eq(H[i], A[i], 1e-8);
  /* Forward differences from the gradient at x: the cubic term adds h on
   * the diagonal, the first-order error. */
  double g0[3], f0, Hf[9];
  cubic(NULL, x, &f0, g0);
  cr_assert_eq(fitcl__optim_hessian(3, x, NULL, NULL, NULL, g0, cubic, NULL, Hf), FITCL_OK);
  for (int i = 0; i < 9; ++i) cr_assert_float_eq(Hf[i], A[i], 2e-4);
  double B[9];
  memcpy(B, H, sizeof B);
  cr_assert_eq(fitcl__spd_inverse(3, B), 0);
  /* A * inverse = I */
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double s = 0;
      for (int k = 0; k < 3; ++k) s += A[i * 3 + k] * B[k * 3 + j];
      cr_assert_float_eq(s, i == j ? 1.0 : 0.0, 1e-7);
    }
  double N[4] = {1, 2, 2, 1};   /* indefinite */
  cr_assert_neq(fitcl__spd_inverse(2, N), 0);
}

Test(stats, chisq_tails) {
  cr_assert_float_eq(fitcl__chisq_sf(3.841458820694124, 1), 0.05, 1e-12);
  cr_assert_float_eq(fitcl__chisq_sf(6.634896601021214, 1), 0.01, 1e-12);
  cr_assert_eq(fitcl__chisq_sf(0, 1), 1.0);
  cr_assert_eq(fitcl__chisq_sf(-1, 3), 1.0);
  /* df = 2 is exponential: Q = exp(-x/2). */
  for (double x = 0.1; x < 60; x *= 1.7)
    cr_assert(fabs(fitcl__chisq_sf(x, 2) - exp(-x / 2)) <= 1e-12 * exp(-x / 2) + 1e-300,
              "x = %g", x);
  /* df = 3: Q = erfc(sqrt(x/2)) + sqrt(2x/pi) exp(-x/2). */
  for (double x = 0.05; x < 40; x *= 1.5) {
    double want = erfc(sqrt(x / 2)) + sqrt(2 * x / M_PI) * exp(-x / 2);
    cr_assert(fabs(fitcl__chisq_sf(x, 3) - want) <= 1e-10 * want, "x = %g", x);
  }
}

Test(stats, normal_quantile) {
  cr_assert_float_eq(fitcl__normal_quantile(0.975), 1.959963984540054, 1e-12);
  cr_assert_float_eq(fitcl__normal_quantile(0.5), 0.0, 1e-14);
  cr_assert_float_eq(fitcl__normal_quantile(0.001), -3.090232306167813, 1e-11);
}

Test(stats, kolmogorov) {
  /* Classical critical values: Q(1.3581) = 0.05, Q(1.6276) = 0.01. */
  cr_assert_float_eq(fitcl__kolmogorov_q(1.3581), 0.05, 2e-4);
  cr_assert_float_eq(fitcl__kolmogorov_q(1.6276), 0.01, 1e-4);
  /* Both series agree where they meet. */
  cr_assert_float_eq(fitcl__kolmogorov_q(1.1799), fitcl__kolmogorov_q(1.1801), 1e-3);
  double x[200];
  for (int i = 0; i < 200; ++i) x[i] = (i + 0.5) / 200;   /* perfectly uniform */
  cr_assert_gt(fitcl__ks_uniform(x, 200, NULL), 0.99);
  for (int i = 0; i < 200; ++i) x[i] = pow((i + 0.5) / 200, 2);   /* skewed */
  double d;
  cr_assert_lt(fitcl__ks_uniform(x, 200, &d), 1e-6);
  cr_assert_gt(d, 0.2);
}

Test(rng, streams_deterministic_and_distinct) {
  fitcl__rng a, b, c;
  fitcl__rng_init2(&a, 42, 3, 7);
  fitcl__rng_init2(&b, 42, 3, 7);
  fitcl__rng_init2(&c, 42, 3, 8);
  int same = 0;
  for (int i = 0; i < 1000; ++i) {
    uint64_t x = fitcl__rng_next(&a), y = fitcl__rng_next(&b), z = fitcl__rng_next(&c);
    cr_assert_eq(x, y);
    same += x == z;
  }
  cr_assert_eq(same, 0);
  /* Moments of the uniform draws: mean 1/2, variance 1/12. */
  double s = 0, s2 = 0;
  int n = 200000;
  for (int i = 0; i < n; ++i) {
    double u = fitcl__rng_uniform(&a);
    cr_assert(u >= 0 && u < 1);
    s += u;
    s2 += u * u;
  }
  cr_assert_float_eq(s / n, 0.5, 5 * sqrt(1.0 / 12 / n));
  cr_assert_float_eq(s2 / n - (s / n) * (s / n), 1.0 / 12, 2e-3);
  fitcl__rng j = b;
  fitcl__rng_jump(&j);
  cr_assert_neq(fitcl__rng_next(&j), fitcl__rng_next(&b));
}
