/* fitcl fit: maximum-likelihood gain and loss rates (and gamma shape). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_mpi.h"
#include "cli/cli_analysis.h"
#include "cli/cli_opts.h"

typedef struct fit_args {
  const char *tree, *matrix;
  cli_data_flags data;
  long cats, max_iter;
  int no_condition, json;
} fit_args;

#define A fit_args
static const cli_opt options[] = {
  {CLI_STRING("tree", "FILE", A, tree, "rooted Newick tree whose tips are the matrix taxa"),
   .flags = CLI_REQUIRED},
  {CLI_STRING("matrix", "FILE", A, matrix,
              "presence/absence matrix (Rtab/TSV, CSV, Roary/Panaroo csv, or a uint8 .npy "
              "with --taxa), one row per family"),
   .flags = CLI_REQUIRED},
  CLI_DATA_OPTIONS(A, data),
  {CLI_LONG("gamma-cats", "K", 1, 64, A, cats,
            "rate categories (1..64; default 1: no rate variation)")},
  {CLI_FLAG("no-condition", A, no_condition,
            "do not condition on families being observed (default: condition, as pangenome "
            "tables hold no all-absent rows)")},
  {CLI_LONG("max-iter", "N", 1, 100000, A, max_iter, "optimizer iteration cap (default 200)")},
  {CLI_FLAG("json", A, json, "print one JSON object (keys in docs/analyses.md)")},
  {CLI_END}};
#undef A

static const cli_spec spec = {
  .usage = "usage: fitcl fit --tree TREE --matrix MATRIX [--gamma-cats K] [options]\n",
  .about = "Fits the 2-state gain/loss model of gene content by maximum likelihood: the\n"
           "global gain and loss rates (per unit branch length) and, with --gamma-cats K,\n"
           "the shape alpha of a K-category discrete gamma of rates across families.\n"
           "Standard errors come from the observed information (the Hessian of the\n"
           "log-likelihood, by differences of its analytic gradient).\n",
  .opts = options,
  .epilog = "exit status: 0 success, 1 device or internal failure, 2 bad usage or input.\n"};

int cli_fit(int argc, char **argv) {
  double t0 = cli_now();
  fit_args a = {.cats = 1};
  int rc = cli_parse(&spec, argc, argv, &a, NULL);
  if (rc >= 0) return rc;
  const long cats = a.cats;
  const int json = a.json;
  fitcl_fit_options fo = {0};
  fo.gamma_cats = (int)a.cats;
  fo.max_iter = (int)a.max_iter;
  fo.no_condition = a.no_condition;

  fitcl_data *data = NULL;
  fitcl_context *ctx = NULL;
  rc = cli_shared_context(&ctx);
  if (!rc) rc = cli_load_data(a.tree, a.matrix, &a.data, ctx, &data);
  if (rc) { fitcl_context_destroy(ctx); return rc; }
  if (!ctx) rc = cli_open_context(&ctx);
  /* Over several ranks: every rank has its inputs, or the job stops here. */
  if (!rc) rc = cli_mpi_sync(0);
  if (rc) { fitcl_context_destroy(ctx); fitcl_data_destroy(data); return rc; }
  /* The fit needs the data only to make its likelihood handle, which takes
   * it over (the cells are then held once, by the handle). */
  const size_t nfamilies = fitcl_data_nfamilies(data), npatterns = fitcl_data_npatterns(data);
  const int ntaxa = fitcl_data_ntaxa(data);
  fitcl_fit_result r;
  fitcl_status st = fitcl_fit_rates_take(ctx, &data, &fo, &r);
  if (st != FITCL_OK) {
    rc = cli_fail(ctx, st, "fit");
    goto done;
  }
  double secs = cli_now() - t0;
  if (json) {
    cJSON *o = cJSON_CreateObject();
    cli_json_num(o, "loglik", r.loglik);
    cJSON *p = cJSON_AddObjectToObject(o, "params");
    cli_json_num(p, "gain", r.gain);
    cli_json_num(p, "loss", r.loss);
    if (cats > 1) cli_json_num(p, "alpha", r.alpha);
    cJSON *s = cJSON_AddObjectToObject(o, "stderr");
    cli_json_num(s, "gain", r.se_gain);
    cli_json_num(s, "loss", r.se_loss);
    if (cats > 1) cli_json_num(s, "alpha", r.se_alpha);
    cJSON_AddNumberToObject(o, "iterations", r.iterations);
    cJSON_AddNumberToObject(o, "evaluations", r.evaluations);
    cJSON_AddBoolToObject(o, "converged", r.converged);
    cJSON_AddStringToObject(o, "status", r.status);
    cli_json_num(o, "aic", r.aic);
    cJSON_AddNumberToObject(o, "families", (double)nfamilies);
    cJSON_AddNumberToObject(o, "patterns", (double)npatterns);
    cJSON_AddNumberToObject(o, "taxa", ntaxa);
    cli_json_add_backend(o, ctx);
    cJSON_AddNumberToObject(o, "seconds", secs);
    cli_print_json(o);
  } else {
    fitcl_context_info info;
    fitcl_context_get_info(ctx, &info);
    printf("gain/loss fit: %zu families (%zu patterns), %d taxa, %s on %s\n",
           nfamilies, npatterns, ntaxa, info.backend, info.device);
    printf("  %-10s %14s %14s\n", "parameter", "estimate", "std. error");
    printf("  %-10s %14.6g %14.4g\n", "gain", r.gain, r.se_gain);
    printf("  %-10s %14.6g %14.4g\n", "loss", r.loss, r.se_loss);
    if (cats > 1) printf("  %-10s %14.6g %14.4g\n", "alpha", r.alpha, r.se_alpha);
    printf("  log-likelihood %.6f   AIC %.4f (%d parameters)\n", r.loglik, r.aic, r.nparams);
    printf("  %s (%s) after %d iterations, %d evaluations; %.3f s\n",
           r.converged ? "converged" : "NOT converged", r.status, r.iterations, r.evaluations,
           secs);
  }
  /* Not converging is a numerical outcome, reported, not a failure of the
   * command: the estimates are printed with converged = false. */
  if (!r.converged) cli_error("warning: the optimizer did not converge (%s); try --max-iter", r.status);
done:
  fitcl_context_destroy(ctx);
  fitcl_data_destroy(data);
  return rc;
}
