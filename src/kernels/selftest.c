/* fitcl_selftest: one known-answer check per kernel family.  Kernel
 * families add their entry to the table below. */
#include "kernels/selftest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "kernels/reduce.h"
#include "kernels/voi.h"

static const fitcl__selftest_entry families[] = {
  {"reduce", fitcl__selftest_reduce},
  {"accum", fitcl__selftest_accum},
  {"gainloss", fitcl__selftest_gainloss},
  {"voi", fitcl__selftest_voi},
  {"credit", fitcl__selftest_credit},
};

/* Known answer: the sum of (i + 0.5) for i < n is n^2/2 exactly; two of the
 * terms are replaced by +1e16 and -1e16, far apart, so only a compensated
 * sum recovers the small terms that pass between them. */
fitcl_status fitcl__selftest_reduce(fitcl_context *ctx, fitcl_selftest_result *r) {
  const size_t n = 100000;
  double *x = malloc(n * sizeof *x);
  if (!x) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < n; ++i) x[i] = (double)i + 0.5;
  double expect = 0.5 * (double)n * (double)n - x[10] - x[n - 10], got = 0.0;
  x[10] = 1e16;
  x[n - 10] = -1e16;
  fitcl_status st = fitcl__backend_sum(ctx, x, n, &got);
  free(x);
  if (st != FITCL_OK) return st;
  r->max_rel_error = fabs(got - expect) / expect;
  r->passed = r->max_rel_error < 1e-15;
  snprintf(r->detail, sizeof r->detail, "sum of %zu terms: %.17g (expected %.17g)", n, got, expect);
  return FITCL_OK;
}

/* Known answer: strategy 1 gains 2 over strategy 0 in even samples and
 * loses 1 in odd ones, all on top of 1e12, and one tie: strategy 1 has the
 * larger mean, its regret is 1 in the 5000 odd samples, so EVPI = 5000/n;
 * the sum of the maxima is exact only if compensated (1e16 has an ulp of 2). */
fitcl_status fitcl__selftest_voi(fitcl_context *ctx, fitcl_selftest_result *r) {
  const size_t n = 10001;
  double *nb = malloc(2 * n * sizeof *nb);
  if (!nb) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < n - 1; ++i) {
    nb[2 * i] = 1e12;
    nb[2 * i + 1] = 1e12 + (i % 2 ? -1.0 : 2.0);
  }
  nb[2 * (n - 1)] = nb[2 * (n - 1) + 1] = 1e12; /* a tie: counts for strategy 0 */
  double max_sum, regret[2];
  uint64_t count[2];
  fitcl_status st = fitcl__voi_nb_sums(ctx, nb, n, 2, &max_sum, regret, count);
  free(nb);
  if (st != FITCL_OK) return st;
  const double evpi = regret[1] / (double)n, want = 5000.0 / (double)n;
  r->max_rel_error = fabs(evpi - want) / want;
  r->passed = r->max_rel_error == 0 && count[0] == 5001 && count[1] == 5000 &&
              regret[0] == 1e4 && max_sum == 1e12 * (double)n + 1e4;
  snprintf(r->detail, sizeof r->detail, "EVPI of %zu samples on 1e12: %.17g (expected %.17g), "
           "counts %llu/%llu", n, evpi, want, (unsigned long long)count[0],
           (unsigned long long)count[1]);
  return FITCL_OK;
}

/* Known answer: signals (2, 0) and (0, 0) against the target (1, 1): cosines
 * 1/√2 and 0 (zero norm), loss 2 − 1/√2; the gradient of cos_table[0]
 * (the entry behind the 2) is −(1/(2·√2) − (1/√2)·2/4)·2 = 0, and of
 * cos_table[1] is −(1/(2√2))·2 = −1/√2. */
fitcl_status fitcl__selftest_credit(fitcl_context *ctx, fitcl_selftest_result *r) {
  const int32_t phase[4] = {0, 1, 1, 1}, mag[4] = {0, 0, 0, 0}, labels[2] = {0, 0};
  const double cos_table[2] = {1, 0}, mag_table[1] = {2}, target[2] = {1, 1};
  double c[2], gcos[2], gmag[1];
  fitcl_credit_inputs in = {.dtype = FITCL_FLOAT64, .n = 2, .d = 2, .phase = phase, .mag = mag,
                            .cos_table = cos_table, .ncos = 2, .mag_table = mag_table, .nmag = 1,
                            .targets = target, .nclass = 1, .labels = labels};
  fitcl_credit_outputs out = {.cosine = c, .grad_cos_table = gcos, .grad_mag_table = gmag};
  fitcl_status st = fitcl_credit_cosine(ctx, &in, &out);
  if (st != FITCL_OK) return st;
  const double s = sqrt(0.5);
  const double got[4] = {c[0], out.loss, gcos[1], c[1]}, want[4] = {s, 2 - s, -s, 0};
  double worst = fabs(gcos[0]) + fabs(gmag[0]);
  for (int i = 0; i < 4; ++i) worst = fmax(worst, fabs(got[i] - want[i]) / fmax(fabs(want[i]), 1));
  r->max_rel_error = worst;
  r->passed = worst < 1e-15;
  snprintf(r->detail, sizeof r->detail, "cosine %.17g (expected %.17g), loss %.17g", c[0], s, out.loss);
  return FITCL_OK;
}

fitcl_status fitcl_selftest(fitcl_context *ctx, fitcl_selftest_result *results, size_t capacity,
                            size_t *count) {
  if (!ctx || !count) return FITCL_ERR_NULL;
  fitcl__clear_error(ctx);
  size_t n = sizeof families / sizeof families[0];
  *count = n;
  fitcl_status overall = FITCL_OK;
  for (size_t i = 0; i < n; ++i) {
    fitcl_selftest_result tmp, *r = (results && i < capacity) ? &results[i] : &tmp;
    memset(r, 0, sizeof *r);
    r->family = families[i].family;
    fitcl_status st = families[i].fn(ctx, r);
    if (st != FITCL_OK) {
      r->passed = 0;
      snprintf(r->detail, sizeof r->detail, "could not run: %s", fitcl_strerror(st));
      if (overall == FITCL_OK) overall = st;
    } else if (!r->passed && overall == FITCL_OK) {
      overall = fitcl__fail(ctx, FITCL_ERR_INTERNAL, "self-test of %s failed: %s", r->family, r->detail);
    }
  }
  return overall;
}
