/* Known-answer self-test of the gain/loss likelihood kernels.
 *
 * On a two-tip tree (A:t1, B:t2) with a stationary root the chain is
 * reversible, so L(a, b) = pi_a P_ab(t1 + t2): the root can be moved to tip
 * A.  With P_ab(T) = pi_b + (delta_ab - pi_b) exp(-(g + l) T) this gives a
 * closed form, conditioned on observation by 1 - pi_0 P_00(T). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/context.h"
#include "device/backend.h"
#include "kernels/selftest.h"
#include "kernels/lik.h"

fitcl_status fitcl__selftest_gainloss(fitcl_context *ctx, fitcl_selftest_result *r) {
  const double brlen[3] = {0.2, 0.5, 0.0};
  const int child_start[4] = {0, 0, 0, 2};
  const int child[2] = {0, 1};
  const int level[3] = {0, 0, 1};
  const fitcl__lik_tree t = {2, 3, child_start, child, brlen, level};
  const uint8_t state[6] = {1, 1, 1, 0, 0, 1};
  const double weight[3] = {2, 1, 3};
  const int group[3] = {0, 0, 0};
  const fitcl__lik_patterns pat = {2, 3, state, weight, group, 1, 0, NULL, NULL, 0};
  const double g = 0.3, l = 0.7, T = 0.7;
  const double pi1 = g / (g + l), pi0 = 1 - pi1, e = exp(-(g + l) * T);
  const double p11 = pi1 + pi0 * e, p10 = pi0 - pi0 * e, p00 = pi0 + pi1 * e;
  const double expect = 2 * log(pi1 * p11) + 1 * log(pi1 * p10) + 3 * log(pi0 * (pi1 - pi1 * e)) -
                         6 * log1p(-pi0 * p00);
  fitcl_lik *lik = NULL;
  fitcl_status st = fitcl__lik_open(ctx, &t, &pat, NULL, &lik);
  if (st != FITCL_OK) return st;
  fitcl_gl_params p = {g, l, 1.0, NULL, NULL};
  double got = 0;
  st = fitcl_lik_eval(lik, &p, &got, NULL);
  fitcl_lik_destroy(lik);
  if (st != FITCL_OK) return st;
  r->max_rel_error = fabs(got - expect) / fabs(expect);
  /* In mixed or single precision the kernels round each step to float
   * (docs/likelihood.md, "Precision"): about 1e-7 of each term here. */
  const fitcl__caps *caps = &ctx->backend->caps;
  const int floats = caps->precision == FITCL_PRECISION_MIXED ||
                     caps->precision == FITCL_PRECISION_SINGLE || !caps->fp64;
  r->passed = r->max_rel_error < (floats ? 1e-5 : 1e-13);
  snprintf(r->detail, sizeof r->detail, "2-tip tree LL %.17g (closed form %.17g)", got, expect);
  return FITCL_OK;
}
