/* fitcl fit: maximum-likelihood gain and loss rates (and gamma shape). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_analysis.h"

static void help(void) {
  printf("usage: fitcl fit --tree TREE --matrix MATRIX [--gamma-cats K] [options]\n\n"
         "Fits the 2-state gain/loss model of gene content by maximum likelihood: the\n"
         "global gain and loss rates (per unit branch length) and, with --gamma-cats K,\n"
         "the shape alpha of a K-category discrete gamma of rates across families.\n"
         "Standard errors come from the observed information (the Hessian of the\n"
         "log-likelihood, by differences of its analytic gradient).\n\n"
         "options:\n"
         "  --tree FILE        rooted Newick tree whose tips are the matrix taxa\n"
         "  --matrix FILE      presence/absence matrix (Rtab/TSV, CSV, Roary/Panaroo csv),\n"
         "                     one row per family\n"
         CLI_DATA_HELP
         "  --gamma-cats K     rate categories (1..64; default 1: no rate variation)\n"
         "  --no-condition     do not condition on families being observed (default:\n"
         "                     condition, as pangenome tables hold no all-absent rows)\n"
         "  --max-iter N       optimizer iteration cap (default 200)\n"
         "  --json             print one JSON object (keys in docs/analyses.md)\n"
         "  --help             show this help\n\n"
         "exit status: 0 success, 1 device or internal failure, 2 bad usage or input.\n");
}

int cli_fit(int argc, char **argv) {
  double t0 = cli_now();
  const char *tree = NULL, *matrix = NULL;
  int json = 0;
  long cats = 1, max_iter = 0;
  cli_data_flags flags = {0, 0};
  enum { O_TREE = 1, O_MATRIX, O_CATS, O_NOCOND, O_MAXIT, O_JSON, O_HELP };
  static const struct option opts[] = {
      {"tree", required_argument, NULL, O_TREE},   {"matrix", required_argument, NULL, O_MATRIX},
      {"gamma-cats", required_argument, NULL, O_CATS}, {"no-condition", no_argument, NULL, O_NOCOND},
      {"max-iter", required_argument, NULL, O_MAXIT}, {"json", no_argument, NULL, O_JSON},
      CLI_DATA_OPTIONS, {"help", no_argument, NULL, O_HELP},         {NULL, 0, NULL, 0}};
  fitcl_fit_options fo = {0};
  int c;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case O_TREE: tree = optarg; break;
    case O_MATRIX: matrix = optarg; break;
    case O_CATS: if (!cli_parse_long("--gamma-cats", optarg, 1, 64, &cats)) return CLI_EXIT_USAGE; break;
    case O_NOCOND: fo.no_condition = 1; break;
    case O_MAXIT: if (!cli_parse_long("--max-iter", optarg, 1, 100000, &max_iter)) return CLI_EXIT_USAGE; break;
    case O_JSON: json = 1; break;
    case O_HELP: help(); return CLI_EXIT_OK;
    CLI_DATA_OPTION_CASES(flags);
    default: return cli_bad_option(argv, optopt, optind);
    }
  }
  if (optind < argc) return cli_usage_error("unexpected argument");
  if (!tree || !matrix) return cli_usage_error("--tree and --matrix are required");
  fo.gamma_cats = (int)cats;
  fo.max_iter = (int)max_iter;

  fitcl_data *data = NULL;
  fitcl_context *ctx = NULL;
  int rc = cli_load_data(tree, matrix, &flags, &data);
  if (rc) return rc;
  rc = cli_open_context(&ctx);
  if (rc) { fitcl_data_destroy(data); return rc; }
  fitcl_fit_result r;
  fitcl_status st = fitcl_fit_rates(ctx, data, &fo, &r);
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
    cJSON_AddNumberToObject(o, "families", (double)fitcl_data_nfamilies(data));
    cJSON_AddNumberToObject(o, "patterns", (double)fitcl_data_npatterns(data));
    cJSON_AddNumberToObject(o, "taxa", fitcl_data_ntaxa(data));
    cli_json_add_backend(o, ctx);
    cJSON_AddNumberToObject(o, "seconds", secs);
    cli_print_json(o);
  } else {
    fitcl_context_info info;
    fitcl_context_get_info(ctx, &info);
    printf("gain/loss fit: %zu families (%zu patterns), %d taxa, %s on %s\n",
           fitcl_data_nfamilies(data), fitcl_data_npatterns(data), fitcl_data_ntaxa(data),
           info.backend, info.device);
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
