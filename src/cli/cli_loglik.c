/* fitcl loglik: log-likelihood (and its gradient) of the gain/loss model for
 * a tree and a presence/absence matrix. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/util.h"

static void help(void) {
  printf(
    "usage: fitcl loglik --tree T --matrix M --gain G --loss L [options]\n\n"
    "Log-likelihood of the 2-state gain/loss model of gene content: families\n"
    "evolve along the tree with gain rate G (absent -> present) and loss rate L,\n"
    "optionally with discrete-gamma rate variation across families.  By default\n"
    "the likelihood is conditioned on every family being observed somewhere.\n\n"
    "options:\n"
    "  --tree FILE        rooted tree in Newick format (branch lengths required)\n"
    "  --matrix FILE      presence/absence matrix: Roary/Panaroo .Rtab or\n"
    "                     gene_presence_absence.csv, or a CSV/TSV table\n"
    "  --taxa-in-rows     the table has one row per taxon (default: per family)\n"
    "  --prune-missing    drop tree tips that are absent from the matrix\n"
    "  --gain G           gain rate per unit branch length (> 0)\n"
    "  --loss L           loss rate per unit branch length (> 0)\n"
    "  --gamma-cats K     discrete-gamma rate categories (default 1: none)\n"
    "  --alpha A          gamma shape (> 0; required with --gamma-cats > 1)\n"
    "  --root-p1 P        fixed probability of presence at the root\n"
    "                     (default: the stationary G / (G + L))\n"
    "  --no-condition     do not condition on observation (plain log L)\n"
    "  --grad             also print the gradient with respect to log G, log L\n"
    "                     (and log A)\n"
    "  --json             print one JSON object: {loglik, families, patterns,\n"
    "                     backend, device, seconds[, gradient:{log_gain, log_loss\n"
    "                     [, log_alpha]}]}\n"
    "  --help             show this help\n\n"
    "The device comes from FITCL_DEVICE (see 'fitcl --help').\n");
}

int cli_loglik(int argc, char **argv) {
  enum { O_TREE = 1, O_MATRIX, O_GAIN, O_LOSS, O_CATS, O_ALPHA, O_NOCOND, O_GRAD, O_JSON,
         O_ROWS, O_PRUNE, O_ROOT, O_HELP };
  static const struct option opts[] = {
    {"tree", required_argument, NULL, O_TREE},     {"matrix", required_argument, NULL, O_MATRIX},
    {"gain", required_argument, NULL, O_GAIN},     {"loss", required_argument, NULL, O_LOSS},
    {"gamma-cats", required_argument, NULL, O_CATS}, {"alpha", required_argument, NULL, O_ALPHA},
    {"no-condition", no_argument, NULL, O_NOCOND}, {"grad", no_argument, NULL, O_GRAD},
    {"json", no_argument, NULL, O_JSON},           {"taxa-in-rows", no_argument, NULL, O_ROWS},
    {"prune-missing", no_argument, NULL, O_PRUNE}, {"root-p1", required_argument, NULL, O_ROOT},
    {"help", no_argument, NULL, O_HELP},           {NULL, 0, NULL, 0}};
  const char *tree_path = NULL, *matrix_path = NULL;
  double gain = 0, loss = 0, alpha = 0, root_p1 = -1;
  long cats = 1;
  int have_gain = 0, have_loss = 0, have_alpha = 0, nocond = 0, want_grad = 0, json = 0;
  int rows = 0, prune = 0;
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case O_TREE: tree_path = optarg; break;
    case O_MATRIX: matrix_path = optarg; break;
    case O_GAIN: if (!cli_parse_double("--gain", optarg, &gain)) return CLI_EXIT_USAGE; have_gain = 1; break;
    case O_LOSS: if (!cli_parse_double("--loss", optarg, &loss)) return CLI_EXIT_USAGE; have_loss = 1; break;
    case O_CATS: if (!cli_parse_long("--gamma-cats", optarg, 1, 64, &cats)) return CLI_EXIT_USAGE; break;
    case O_ALPHA: if (!cli_parse_double("--alpha", optarg, &alpha)) return CLI_EXIT_USAGE; have_alpha = 1; break;
    case O_ROOT: if (!cli_parse_double("--root-p1", optarg, &root_p1)) return CLI_EXIT_USAGE; break;
    case O_NOCOND: nocond = 1; break;
    case O_GRAD: want_grad = 1; break;
    case O_JSON: json = 1; break;
    case O_ROWS: rows = 1; break;
    case O_PRUNE: prune = 1; break;
    case O_HELP: help(); return CLI_EXIT_OK;
    default: return cli_usage_error("unknown option or missing value");
    }
  }
  if (optind < argc) return cli_usage_error("unexpected argument");
  if (!tree_path) return cli_usage_error("--tree is required");
  if (!matrix_path) return cli_usage_error("--matrix is required");
  if (!have_gain || !have_loss) return cli_usage_error("--gain and --loss are required");
  if (!(gain > 0)) { cli_error("--gain must be > 0, got %g", gain); return CLI_EXIT_USAGE; }
  if (!(loss > 0)) { cli_error("--loss must be > 0, got %g", loss); return CLI_EXIT_USAGE; }
  if (cats > 1 && !have_alpha) return cli_usage_error("--alpha is required with --gamma-cats > 1");
  if (have_alpha && !(alpha > 0)) { cli_error("--alpha must be > 0, got %g", alpha); return CLI_EXIT_USAGE; }
  if (root_p1 != -1 && !(root_p1 >= 0 && root_p1 <= 1)) {
    cli_error("--root-p1 must be in [0, 1], got %g", root_p1);
    return CLI_EXIT_USAGE;
  }

  const double t0 = fitcl__now();
  int rc = CLI_EXIT_FAILURE;
  char err[4096] = "";
  fitcl_tree *tree = NULL;
  fitcl_pamatrix *mat = NULL;
  fitcl_data *data = NULL;
  fitcl_context *ctx = NULL;
  fitcl_lik *lik = NULL;
  double *grad = NULL;
  /* Reader failures, unreadable files included, are input for the user to
   * fix: exit status 2. */
  fitcl_status st = fitcl_tree_read(tree_path, &tree, err, sizeof err);
  if (st != FITCL_OK) { cli_error("%s", err); rc = st == FITCL_ERR_NOMEM ? 1 : CLI_EXIT_USAGE; goto done; }
  fitcl_pamatrix_options mo = {0};
  mo.taxa_in_rows = rows;
  st = fitcl_pamatrix_read(matrix_path, &mo, &mat, err, sizeof err);
  if (st != FITCL_OK) { cli_error("%s", err); rc = st == FITCL_ERR_NOMEM ? 1 : CLI_EXIT_USAGE; goto done; }
  fitcl_data_options dopt = {0};
  dopt.prune_missing = prune;
  st = fitcl_data_build(tree, mat, &dopt, &data, err, sizeof err);
  if (st != FITCL_OK) { cli_error("%s", err); rc = cli_exit_code(st); goto done; }
  if ((rc = cli_open_context(&ctx)) != 0) goto done;
  rc = CLI_EXIT_FAILURE;
  fitcl_lik_options lo = {0};
  lo.gamma_cats = (int)cats;
  lo.no_condition = nocond;
  if (root_p1 != -1) {
    lo.root = FITCL_ROOT_FIXED;
    lo.root_p1 = root_p1;
  }
  st = fitcl_lik_create(ctx, data, &lo, &lik);
  if (st != FITCL_OK) { rc = cli_fail(ctx, st, "likelihood"); goto done; }
  if (want_grad) {
    grad = calloc(fitcl_lik_grad_size(lik), sizeof(double));
    if (!grad) { cli_error("out of memory"); goto done; }
  }
  fitcl_gl_params p = {gain, loss, alpha, NULL, NULL};
  double ll = 0;
  st = fitcl_lik_eval(lik, &p, &ll, grad);
  if (st != FITCL_OK) { rc = cli_fail(ctx, st, "likelihood"); goto done; }
  const double secs = fitcl__now() - t0;
  if (json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "loglik", ll);
    cJSON_AddNumberToObject(o, "families", fitcl_lik_nfamilies(lik));
    cJSON_AddNumberToObject(o, "patterns", (double)fitcl_lik_npatterns(lik));
    cli_json_add_backend(o, ctx);
    cJSON_AddNumberToObject(o, "seconds", secs);
    if (grad) {
      cJSON *g = cJSON_AddObjectToObject(o, "gradient");
      cJSON_AddNumberToObject(g, "log_gain", grad[0]);
      cJSON_AddNumberToObject(g, "log_loss", grad[1]);
      if (cats > 1) cJSON_AddNumberToObject(g, "log_alpha", grad[2]);
    }
    cli_print_json(o);
  } else {
    fitcl_context_info info;
    fitcl_context_get_info(ctx, &info);
    printf("loglik    %.17g\n", ll);
    printf("families  %.0f\n", fitcl_lik_nfamilies(lik));
    printf("patterns  %zu\n", fitcl_lik_npatterns(lik));
    if (grad) {
      printf("d/dlog_gain   %.17g\n", grad[0]);
      printf("d/dlog_loss   %.17g\n", grad[1]);
      if (cats > 1) printf("d/dlog_alpha  %.17g\n", grad[2]);
    }
    printf("backend   %s (%s)\n", info.backend, info.device);
    printf("seconds   %.6f\n", secs);
  }
  rc = CLI_EXIT_OK;
done:
  free(grad);
  fitcl_lik_destroy(lik);
  fitcl_context_destroy(ctx);
  fitcl_data_destroy(data);
  fitcl_pamatrix_destroy(mat);
  fitcl_tree_destroy(tree);
  return rc;
}
