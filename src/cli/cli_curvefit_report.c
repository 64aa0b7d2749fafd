/* fitcl curve-fit: what a fit prints (progress, warnings, JSON or table). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_curvefit.h"

void cf_print_progress(void *user, const fitcl_curvefit_progress *p) {
  (void)user;
  fprintf(stderr, "iter %4d  cost %.10e  lambda %.3e  step %.3e  %s  %.2fs\n", p->iteration,
          p->cost, p->lambda, p->step_norm, p->accepted ? "accepted" : "rejected", p->elapsed);
}

static cJSON *json_number(double v) {
  return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static void print_json(fitcl_context *ctx, const fitcl_context_info *info, const cf_args *a,
                       const cf_model *m, const fitcl_curvefit_result *res) {
  const int np = m->np;
  cJSON *o = cJSON_CreateObject(), *params = cJSON_CreateObject(), *se = cJSON_CreateObject(),
        *cov = cJSON_CreateArray();
  for (int j = 0; j < np; ++j) {
    cJSON_AddItemToObject(params, m->name[j], json_number(res->params[j]));
    cJSON_AddItemToObject(se, m->name[j], json_number(res->stderr_[j]));
    cJSON *row = cJSON_CreateArray();
    for (int k = 0; k < np; ++k)
      cJSON_AddItemToArray(row, json_number(res->covariance[j * np + k]));
    cJSON_AddItemToArray(cov, row);
  }
  cJSON *ci = cJSON_CreateObject(), *fixed = cJSON_CreateArray(), *prof = NULL;
  for (int j = 0; j < np; ++j) {
    if (m->fixed[j]) {
      cJSON_AddItemToArray(fixed, cJSON_CreateString(m->name[j]));
      continue;
    }
    cJSON *pair = cJSON_CreateArray();
    cJSON_AddItemToArray(pair, json_number(res->ci_lower[j]));
    cJSON_AddItemToArray(pair, json_number(res->ci_upper[j]));
    cJSON_AddItemToObject(ci, m->name[j], pair);
    if (a->profile) {
      if (!prof) prof = cJSON_CreateObject();
      cJSON *pp = cJSON_CreateArray();
      cJSON_AddItemToArray(pp, json_number(res->profile_lower[j]));
      cJSON_AddItemToArray(pp, json_number(res->profile_upper[j]));
      cJSON_AddItemToObject(prof, m->name[j], pp);
    }
  }
  cJSON_AddItemToObject(o, "params", params);
  cJSON_AddItemToObject(o, "stderr", se);
  cJSON_AddItemToObject(o, "covariance", cov);
  cJSON_AddItemToObject(o, "confidence", json_number(res->confidence));
  cJSON_AddItemToObject(o, "confidence_intervals", ci);
  if (prof) cJSON_AddItemToObject(o, "profile_intervals", prof);
  cJSON_AddItemToObject(o, "fixed", fixed);
  cJSON_AddItemToObject(o, "cost", json_number(res->cost));
  cJSON_AddItemToObject(o, "rss", json_number(res->rss));
  cJSON_AddItemToObject(o, "reduced_chi2", json_number(res->reduced_chi2));
  cJSON_AddItemToObject(o, "r_squared", json_number(res->r_squared));
  cJSON_AddItemToObject(o, "aic", json_number(res->aic));
  cJSON_AddItemToObject(o, "bic", json_number(res->bic));
  cJSON *def = cJSON_CreateObject();
  cJSON_AddStringToObject(def, "rss", "sum of w_i (y_i - f_i)^2, w_i = 1/sigma_i^2 (1 unweighted)");
  cJSON_AddStringToObject(def, "reduced_chi2", "rss / (n - k), n points, k fitted parameters");
  cJSON_AddStringToObject(def, "r_squared",
                          "1 - rss / tss, tss = sum of w_i (y_i - ybar)^2, ybar the w-weighted mean");
  cJSON_AddStringToObject(def, "aic", "n ln(rss / n) + 2 k");
  cJSON_AddStringToObject(def, "bic", "n ln(rss / n) + k ln(n)");
  cJSON_AddStringToObject(def, "confidence_intervals",
                          a->absolute_sigma ? "p_j -+ z * stderr_j, z the normal quantile"
                                            : "p_j -+ t * stderr_j, t Student's quantile with "
                                              "n - k degrees of freedom");
  if (prof)
    cJSON_AddStringToObject(def, "profile_intervals",
                            "values of p_j where the refit with p_j held reaches rss (1 + t^2 / "
                            "(n - k))");
  cJSON_AddItemToObject(o, "definitions", def);
  cJSON_AddNumberToObject(o, "iterations", res->iterations);
  cJSON_AddNumberToObject(o, "jacobian_passes", res->jacobian_passes);
  cJSON_AddStringToObject(o, "solver", res->solver == FITCL_SOLVER_QR ? "qr" : "normal");
  cJSON_AddStringToObject(o, "status", fitcl_curvefit_status_name(res->status));
  cJSON_AddBoolToObject(o, "converged", res->converged);
  cJSON_AddNumberToObject(o, "points", (double)res->points);
  cJSON_AddStringToObject(o, "backend", info->backend ? info->backend : "unknown");
  cJSON_AddStringToObject(o, "precision", info->precision ? info->precision : "unknown");
  cli_json_add_fallback(o, ctx);
  cJSON_AddNumberToObject(o, "seconds", res->seconds);
  cli_print_json(o);
}

static void print_table(const fitcl_context_info *info, const cf_args *a, const cf_model *m,
                        const fitcl_curvefit_result *res) {
  printf("status       %s (%s) after %d iterations, %d Jacobian passes, %s solver\n",
         fitcl_curvefit_status_name(res->status), res->converged ? "converged" : "not converged",
         res->iterations, res->jacobian_passes, res->solver == FITCL_SOLVER_QR ? "QR" : "normal");
  printf("points       %llu\n", (unsigned long long)res->points);
  printf("cost         %.10g\nrss          %.10g\nreduced_chi2 %.10g\n", res->cost, res->rss,
         res->reduced_chi2);
  printf("r_squared    %.10g\naic          %.10g\nbic          %.10g\n", res->r_squared, res->aic,
         res->bic);
  printf("%-12s %22s %22s   %g%% interval\n", "parameter", "value", "stderr",
         100 * res->confidence);
  for (int j = 0; j < m->np; ++j) {
    if (m->fixed[j]) {
      printf("%-12s %22.15g %22s\n", m->name[j], res->params[j], "(fixed)");
      continue;
    }
    printf("%-12s %22.15g %22.15g   [%.10g, %.10g]", m->name[j], res->params[j],
           res->stderr_[j], res->ci_lower[j], res->ci_upper[j]);
    if (a->profile) printf("  profile [%.10g, %.10g]", res->profile_lower[j], res->profile_upper[j]);
    printf("\n");
  }
  printf("backend      %s (%s), %s precision, %.3f s\n", info->backend ? info->backend : "?",
         info->device ? info->device : "?", info->precision ? info->precision : "?",
         res->seconds);
}

void cf_report(fitcl_context *ctx, const cf_args *a, const cf_model *m,
               const fitcl_curvefit_result *res) {
  if (res->singular)
    fprintf(stderr, "%s: warning: J^T J is singular at the solution; the covariance cannot be "
            "estimated\n", cli_prog);
  else if (res->ill_conditioned)
    fprintf(stderr, "%s: warning: J^T J is ill-conditioned (condition number %.3g); standard "
            "errors are unreliable\n", cli_prog, res->condition);
  fitcl_context_info info;
  memset(&info, 0, sizeof info);
  fitcl_context_get_info(ctx, &info);
  if (a->json) print_json(ctx, &info, a, m, res);
  else print_table(&info, a, m, res);
}
