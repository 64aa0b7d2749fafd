/* fitcl_selftest: one known-answer check per kernel family.  Kernel
 * families add their entry to the table below. */
#include "kernels/selftest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "kernels/reduce.h"

static const fitcl__selftest_entry families[] = {
  {"reduce", fitcl__selftest_reduce},
  {"accum", fitcl__selftest_accum},
  {"gainloss", fitcl__selftest_gainloss},
  {"batch", fitcl__selftest_batch},
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
