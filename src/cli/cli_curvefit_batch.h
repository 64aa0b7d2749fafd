/* fitcl curve-fit --batch: N independent fits of one model in one run
 * (fitcl_fit_batch).  The command line, inputs and the fits are in
 * cli_curvefit_batch.c, what they write in cli_curvefit_batch_out.c. */
#ifndef FITCL_CLI_CURVEFIT_BATCH_H
#define FITCL_CLI_CURVEFIT_BATCH_H

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

/* Writes PREFIX_params.npy, _stderr, _chi2, _status, _iterations (and
 * _covariance when computed); returns the exit status (0 on success). */
int cfb_write_npy(fitcl_context *ctx, const char *prefix, const cfb_results *r);
/* One CSV row per fit on stdout: fit, status, iterations, chi2, each
 * parameter, then each standard error. */
void cfb_print_csv(const cfb_results *r);
/* One JSON object on stdout: the summary and, per fit, its results. */
void cfb_print_json(fitcl_context *ctx, const cfb_results *r);
/* The summary lines on stdout. */
void cfb_print_summary(fitcl_context *ctx, const cfb_results *r);

#endif
