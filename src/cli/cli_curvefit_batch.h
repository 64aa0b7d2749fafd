/* fitcl curve-fit --batch: N independent fits of one model in one run
 * (fitcl_fit_batch).  The command line, inputs and the fits are in
 * cli_curvefit_batch.c, what they write in cli_curvefit_batch_out.c. */
#ifndef FITCL_CLI_CURVEFIT_BATCH_H
#define FITCL_CLI_CURVEFIT_BATCH_H

#include <stddef.h>

#include "fitcl.h"

/* The results of a run, as the writers need them. */
typedef struct cfb_results {
  const fitcl_model *model;
  size_t nfits, npoints;
  int np;
  double *params, *stderr_, *covariance, *chi2; /* covariance may be NULL */
  int *iterations, *status;
  fitcl_batch_summary summary;
} cfb_results;

/* Runs `fitcl curve-fit --batch ...` (argv[0] is "curve-fit"). */
int cli_curvefit_batch(int argc, char **argv);

/* The most files --out writes. */
#define CFB_NPY_FILES 6
/* The paths --out PREFIX writes (PREFIX_params.npy, _stderr, _chi2,
 * _status, _iterations, and _covariance when asked for); returns how
 * many. */
size_t cfb_npy_paths(const char *prefix, int covariance, char (*paths)[4096]);
/* Writes those files through core/outfile, committed together (a failure
 * leaves none of them); returns the exit status (0 on success). */
int cfb_write_npy(const char *prefix, const cfb_results *r);
/* One CSV row per fit on stdout: fit, status, iterations, chi2, each
 * parameter, then each standard error. */
void cfb_print_csv(const cfb_results *r);
/* One JSON object on stdout: the summary and, per fit, its results. */
void cfb_print_json(fitcl_context *ctx, const cfb_results *r);
/* The summary lines on stdout. */
void cfb_print_summary(fitcl_context *ctx, const cfb_results *r);

#endif
