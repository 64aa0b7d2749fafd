/* Retention test internals shared with its bootstrap.  Internal. */
#ifndef FITCL_PHYLO_RETENTION_H
#define FITCL_PHYLO_RETENTION_H

#include "fitcl.h"

/* Runs opt->bootstrap parametric-bootstrap replicates of the retention test
 * under the fitted null `null_fit` of `data` (whose groups are already
 * assigned: group 1 = the selected families) and fills the bootstrap fields
 * of out from the observed statistic out->lrt.  speed: each device's
 * blocks per second in the observed fits over a set of devices (0: not
 * known), which paces a device before it has fitted a replicate. */
fitcl_status fitcl__retention_bootstrap(fitcl_context *ctx, const fitcl_data *data,
                                        const fitcl_retention_options *opt,
                                        const fitcl_fit_result *null_fit, const double *speed,
                                        fitcl_retention_result *out);

/* On an OpenCL context of one device, data sets with at most this much
 * work per evaluation (patterns x nodes x rate categories) bootstrap on the
 * host's worker pool (a set of devices hands replicates to each).  Default 2^20; the tests set it to 0 to keep the replicates
 * on the device. */
extern size_t fitcl__boot_host_max_work;

/* Test hooks of the bootstrap.  fitcl__boot_slow_us[i]: microseconds each
 * lane of device i of a set waits before each replicate it takes, and then
 * until a lane without a delay has taken one, so a test can be sure that
 * both devices take replicates.  fitcl__boot_fail_mask: bit b makes
 * replicate b (b < 64) fail as if every draw of its first family were
 * absent.  fitcl__boot_lrt_out: where set, receives every replicate's
 * statistic. */
extern unsigned fitcl__boot_slow_us[16];
extern uint64_t fitcl__boot_fail_mask;
extern double *fitcl__boot_lrt_out;

/* Both fits and the statistic on one likelihood handle whose data has the
 * retention groups: null from `start`, the alternative warm-started from the
 * null.  Standard errors unless fopt->no_stderr. */
fitcl_status fitcl__retention_fit_pair(fitcl_context *ctx, fitcl_lik *lik,
                                       const fitcl_fit_options *fopt,
                                       const double start[3], fitcl_fit_result *null_fit,
                                       fitcl_fit_result *alt_fit, double *lrt);

/* Profile-likelihood 95% interval for theta around the alternative fit
 * alt (which must carry se_effect for the first bracket, or NaN).  An end
 * where the profile never falls far enough is 0 (below) or infinity
 * (above). */
fitcl_status fitcl__retention_profile_ci(fitcl_context *ctx, fitcl_lik *lik,
                                         const fitcl_fit_options *fopt,
                                         const fitcl_fit_result *alt, double *lo, double *hi);

#endif
