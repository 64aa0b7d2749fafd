/* fitcl curve-fit --batch: what a run writes (.npy files, CSV, JSON, the
 * summary). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_curvefit_batch.h"
#include "io/array_file.h"

int cfb_write_npy(fitcl_context *ctx, const char *prefix, const cfb_results *r) {
  char path[4096];
  const size_t N = r->nfits, p = (size_t)r->np;
  struct {
    const char *name;
    int ndim;
    size_t dims[3];
    const double *f;
    const int *i;
  } files[] = {{"params", 2, {N, p, 0}, r->params, NULL},
               {"stderr", 2, {N, p, 0}, r->stderr_, NULL},
               {"chi2", 1, {N, 0, 0}, r->chi2, NULL},
               {"status", 1, {N, 0, 0}, NULL, r->status},
               {"iterations", 1, {N, 0, 0}, NULL, r->iterations},
               {"covariance", 3, {N, p, p}, r->covariance, NULL}};
  for (size_t k = 0; k < sizeof files / sizeof files[0]; ++k) {
    if (!files[k].f && !files[k].i) continue;
    snprintf(path, sizeof path, "%s_%s.npy", prefix, files[k].name);
    fitcl_status st = fitcl__npy_write(ctx, path, files[k].ndim, files[k].dims, files[k].f,
                                       (const int32_t *)files[k].i);
    if (st != FITCL_OK) return cli_fail(ctx, st, "--out");
  }
  return 0;
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
