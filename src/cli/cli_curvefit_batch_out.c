/* fitcl curve-fit --batch: what a run writes (.npy files, CSV, JSON, the
 * summary). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_curvefit_batch.h"
#include "io/npy.h"

/* The files of --out PREFIX, in the order they are written. */
static const char *const npy_names[CFB_NPY_FILES] = {"params", "stderr", "chi2", "status",
                                                     "iterations", "covariance"};

size_t cfb_npy_paths(const char *prefix, int covariance, char (*paths)[4096]) {
  size_t n = 0;
  for (size_t k = 0; k < CFB_NPY_FILES; ++k) {
    if (!covariance && !strcmp(npy_names[k], "covariance")) continue;
    snprintf(paths[n++], 4096, "%s_%s.npy", prefix, npy_names[k]);
  }
  return n;
}

int cfb_write_npy(const char *prefix, const cfb_results *r) {
  const size_t N = r->nfits, p = (size_t)r->np;
  const struct {
    int ndim;
    size_t dims[3];
    const double *f;
    const int *i;
  } arrays[CFB_NPY_FILES] = {{2, {N, p, 0}, r->params, NULL},
                             {2, {N, p, 0}, r->stderr_, NULL},
                             {1, {N, 0, 0}, r->chi2, NULL},
                             {1, {N, 0, 0}, NULL, r->status},
                             {1, {N, 0, 0}, NULL, r->iterations},
                             {3, {N, p, p}, r->covariance, NULL}};
  char paths[CFB_NPY_FILES][4096];
  fitcl__outfile outs[CFB_NPY_FILES];
  const size_t n = cfb_npy_paths(prefix, r->covariance != NULL, paths);
  /* Every file opened before any is written, committed together: a
   * failure in any (an unwritable directory, a full disk) leaves none. */
  for (size_t k = 0; k < n; ++k) {
    int rc = cli_out_open(&outs[k], paths[k]);
    if (rc) {
      for (size_t j = 0; j < k; ++j) fitcl__out_abort(&outs[j]);
      return rc;
    }
  }
  for (size_t k = 0; k < n; ++k)
    fitcl__npy_write(&outs[k], arrays[k].ndim, arrays[k].dims, arrays[k].f,
                     (const int32_t *)arrays[k].i);
  return cli_out_commit(outs, n);
}

static const char *status_word(int s) {
  return fitcl_curvefit_status_name((fitcl_curvefit_status)s);
}

void cfb_print_csv(const cfb_results *r) {
  const int np = r->np;
  printf("fit,status,iterations,chi2");
  for (int k = 0; k < np; ++k) printf(",%s", fitcl_model_param_name(r->model, (size_t)k));
  for (int k = 0; k < np; ++k) printf(",%s_stderr", fitcl_model_param_name(r->model, (size_t)k));
  printf("\n");
  for (size_t i = 0; i < r->nfits; ++i) {
    printf("%zu,%s,%d,%.17g", i, status_word(r->status[i]), r->iterations[i], r->chi2[i]);
    for (int k = 0; k < np; ++k) printf(",%.17g", r->params[i * (size_t)np + (size_t)k]);
    for (int k = 0; k < np; ++k) printf(",%.17g", r->stderr_[i * (size_t)np + (size_t)k]);
    printf("\n");
  }
}

static cJSON *number(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static void add_summary(cJSON *o, const cfb_results *r) {
  const fitcl_batch_summary *s = &r->summary;
  cJSON_AddNumberToObject(o, "fits", (double)r->nfits);
  cJSON_AddNumberToObject(o, "points", (double)r->npoints);
  cJSON_AddNumberToObject(o, "converged", (double)s->converged);
  cJSON_AddNumberToObject(o, "max_iter", (double)s->max_iter);
  cJSON_AddNumberToObject(o, "singular", (double)s->singular);
  cJSON_AddNumberToObject(o, "nonfinite", (double)s->nonfinite);
  cJSON_AddNumberToObject(o, "iterations", (double)s->iterations);
  cJSON_AddNumberToObject(o, "launches", (double)s->launches);
  if (s->layout) cJSON_AddStringToObject(o, "layout", s->layout == 2 ? "group" : "item");
  cJSON_AddNumberToObject(o, "seconds", s->seconds);
}

void cfb_print_json(fitcl_context *ctx, const cfb_results *r) {
  const int np = r->np;
  cJSON *o = cJSON_CreateObject(), *fits = cJSON_CreateArray();
  add_summary(o, r);
  cli_json_add_backend(o, ctx);
  for (size_t i = 0; i < r->nfits; ++i) {
    cJSON *f = cJSON_CreateObject(), *p = cJSON_CreateObject(), *se = cJSON_CreateObject();
    for (int k = 0; k < np; ++k) {
      const char *name = fitcl_model_param_name(r->model, (size_t)k);
      cJSON_AddItemToObject(p, name, number(r->params[i * (size_t)np + (size_t)k]));
      cJSON_AddItemToObject(se, name, number(r->stderr_[i * (size_t)np + (size_t)k]));
    }
    cJSON_AddItemToObject(f, "params", p);
    cJSON_AddItemToObject(f, "stderr", se);
    if (r->covariance) {
      cJSON *cov = cJSON_CreateArray();
      for (int k = 0; k < np; ++k) {
        cJSON *row = cJSON_CreateArray();
        for (int l = 0; l < np; ++l)
          cJSON_AddItemToArray(row, number(r->covariance[(i * (size_t)np + (size_t)k) * (size_t)np +
                                                         (size_t)l]));
        cJSON_AddItemToArray(cov, row);
      }
      cJSON_AddItemToObject(f, "covariance", cov);
    }
    cJSON_AddItemToObject(f, "chi2", number(r->chi2[i]));
    cJSON_AddNumberToObject(f, "iterations", r->iterations[i]);
    cJSON_AddStringToObject(f, "status", status_word(r->status[i]));
    cJSON_AddItemToArray(fits, f);
  }
  cJSON_AddItemToObject(o, "results", fits);
  cli_print_json(o);
}

void cfb_print_summary(fitcl_context *ctx, const cfb_results *r) {
  const fitcl_batch_summary *s = &r->summary;
  fitcl_context_info info;
  memset(&info, 0, sizeof info);
  fitcl_context_get_info(ctx, &info);
  printf("fits         %zu of %zu points\n", r->nfits, r->npoints);
  printf("converged    %zu\nmax_iter     %zu\nsingular     %zu\nnonfinite    %zu\n", s->converged,
         s->max_iter, s->singular, s->nonfinite);
  printf("steps        %.2f per fit\n", r->nfits ? (double)s->iterations / (double)r->nfits : 0.0);
  printf("backend      %s (%s)%s%s, %.3f s\n", info.backend ? info.backend : "?",
         info.device ? info.device : "?", s->layout ? ", one work-" : "",
         s->layout ? (s->layout == 2 ? "group per fit" : "item per fit") : "", s->seconds);
}
