/* Checks shared by the value-of-information analyses.  Internal. */
#ifndef FITCL_VOI_VOI_COMMON_H
#define FITCL_VOI_VOI_COMMON_H
#include <stddef.h>

#include "fitcl.h"

/* n >= 1 samples and kmin <= k <= FITCL_VOI_MAX_STRATEGIES strategies;
 * `what` names the call in the message. */
fitcl_status fitcl__voi_check_shape(fitcl_context *ctx, const char *what, size_t n, size_t k,
                                    size_t kmin);
/* Fails naming the first non-finite x[i][j] (FITCL_ERR_DATA); FITCL_OK when
 * there is none. */
fitcl_status fitcl__voi_first_nonfinite(fitcl_context *ctx, const char *what, const double *x,
                                        size_t n, size_t k);
#endif
