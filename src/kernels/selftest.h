/* Known-answer self-tests, one per kernel family.  Each family adds one
 * entry to the table in kernels/selftest.c. */
#ifndef FITCL_KERNELS_SELFTEST_H
#define FITCL_KERNELS_SELFTEST_H

#include "fitcl.h"

/* Fills r->passed, r->max_rel_error and r->detail; returns FITCL_OK when the
 * check could run (pass or fail), or a status when it could not. */
typedef fitcl_status (*fitcl__selftest_fn)(fitcl_context *ctx, fitcl_selftest_result *r);

typedef struct fitcl__selftest_entry {
  const char *family;
  fitcl__selftest_fn fn;
} fitcl__selftest_entry;

fitcl_status fitcl__selftest_reduce(fitcl_context *ctx, fitcl_selftest_result *r);
fitcl_status fitcl__selftest_accum(fitcl_context *ctx, fitcl_selftest_result *r);
fitcl_status fitcl__selftest_gainloss(fitcl_context *ctx, fitcl_selftest_result *r);
fitcl_status fitcl__selftest_voi(fitcl_context *ctx, fitcl_selftest_result *r);
fitcl_status fitcl__selftest_credit(fitcl_context *ctx, fitcl_selftest_result *r);

#endif
