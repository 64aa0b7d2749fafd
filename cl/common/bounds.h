/* Box bounds of a Levenberg-Marquardt trial point, one rule for the single
 * fit (src/nlsq/lm.c) and the batched fits (common/batch_lm.h, compiled as
 * OpenCL C and as C), so both bring a step back into the box the same way. */
#ifndef FITCL_CL_COMMON_BOUNDS_H
#define FITCL_CL_COMMON_BOUNDS_H
#include "common/compat.h"

/* Brings one coordinate t of a trial point back into [lo, hi]: onto the
 * nearer bound (project), or by reflection, where the mirror images of a
 * finite box tile the line with period 2 (hi - lo). */
FITCL_FN fitcl_real fitcl_bound_coord(fitcl_real t, fitcl_real lo, fitcl_real hi, int project) {
  if (t >= lo && t <= hi) return t;
  if (project) return t < lo ? lo : hi;
  if (isfinite(lo) && isfinite(hi)) {
    fitcl_real w = hi - lo;
    if (!(w > 0)) return lo;
    fitcl_real u = fmod(t - lo, 2 * w);
    if (u < 0) u += 2 * w;
    if (u > w) u = 2 * w - u;
    return lo + u;
  }
  if (t < lo) return 2 * lo - t;
  return 2 * hi - t;
}

#endif
