/* fitcl_gl_pmatrices: argument checks, then the backend. */
#include <math.h>
#include "core/context.h"
#include "device/backend.h"
#include "kernels/pmatrix.h"

fitcl_status fitcl_gl_pmatrices(fitcl_context *ctx, size_t n, const double *gain,
                                const double *loss, const double *t, double *p,
                                double *deriv) {
  if (!ctx) return FITCL_ERR_NULL;
  fitcl__clear_error(ctx);
  if (n == 0) return FITCL_OK;
  if (!gain || !loss || !t || !p)
    return fitcl__fail(ctx, FITCL_ERR_NULL, "transition matrices: NULL array");
  for (size_t i = 0; i < n; ++i) {
    if (!(gain[i] >= 0 && loss[i] >= 0 && gain[i] + loss[i] > 0 && t[i] >= 0) ||
        !isfinite(gain[i] + loss[i] + t[i]))
      return fitcl__fail(ctx, FITCL_ERR_RANGE,
                         "transition matrix %zu: gain %g, loss %g, t %g (need rates >= 0 with a "
                         "positive sum, t >= 0, all finite)", i, gain[i], loss[i], t[i]);
  }
  return ctx->backend->pmatrix->gainloss(ctx, n, gain, loss, t, p, deriv);
}
