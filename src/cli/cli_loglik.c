/* fitcl loglik: log-likelihood (and its gradient) of the gain/loss model for
 * a tree and a presence/absence matrix. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_mpi.h"
#include "cli/cli_analysis.h"
#include "cli/cli_opts.h"
#include "core/util.h"
#include "io/pamatrix_share.h"

typedef struct loglik_args {
  const char *tree, *matrix;
  cli_data_flags data;
  double gain, loss, alpha, root_p1; /* NaN: not given */
  long cats;
  int no_condition, grad, json;
} loglik_args;

#define A loglik_args
static const cli_opt options[] = {
  {CLI_STRING("tree", "FILE", A, tree, "rooted tree in Newick format (branch lengths required)"),
   .flags = CLI_REQUIRED},
  {CLI_STRING("matrix", "FILE", A, matrix,
              "presence/absence matrix: Roary/Panaroo .Rtab or gene_presence_absence.csv, a "
              "CSV/TSV table, or a uint8 .npy with --taxa"),
   .flags = CLI_REQUIRED},
  CLI_DATA_OPTIONS(A, data),
  {CLI_DOUBLE("gain", "G", CLI_POSITIVE, A, gain, "gain rate per unit branch length (> 0)"),
   .flags = CLI_REQUIRED},
  {CLI_DOUBLE("loss", "L", CLI_POSITIVE, A, loss, "loss rate per unit branch length (> 0)"),
   .flags = CLI_REQUIRED},
  {CLI_LONG("gamma-cats", "K", 1, 64, A, cats, "discrete-gamma rate categories (default 1: none)")},
  {CLI_DOUBLE("alpha", "A", CLI_POSITIVE, A, alpha,
              "gamma shape (> 0; required with --gamma-cats > 1)")},
  {CLI_DOUBLE("root-p1", "P", CLI_UNIT, A, root_p1,
              "fixed probability of presence at the root (default: the stationary G / (G + L))")},
  {CLI_FLAG("no-condition", A, no_condition, "do not condition on observation (plain log L)")},
  {CLI_FLAG("grad", A, grad, "also print the gradient with respect to log G, log L (and log A)")},
  {CLI_FLAG("json", A, json,
            "print one JSON object: {loglik, families, patterns, backend, device, "
            "fallback_reason (when device selection fell back), devices (with several), "
            "seconds[, gradient:{log_gain, "
            "log_loss[, log_alpha]}]}")},
  {CLI_END}};
#undef A

static const cli_spec spec = {
  .usage = "usage: fitcl loglik --tree T --matrix M --gain G --loss L [options]\n",
  .about = "Log-likelihood of the 2-state gain/loss model of gene content: families\n"
           "evolve along the tree with gain rate G (absent -> present) and loss rate L,\n"
           "optionally with discrete-gamma rate variation across families.  By default\n"
           "the likelihood is conditioned on every family being observed somewhere.\n",
  .opts = options,
  .epilog = "The device comes from FITCL_DEVICE (see 'fitcl --help').\n"};

int cli_loglik(int argc, char **argv) {
  loglik_args a = {.gain = NAN, .loss = NAN, .alpha = NAN, .root_p1 = NAN, .cats = 1};
  int rc = cli_parse(&spec, argc, argv, &a, NULL);
  if (rc >= 0) return rc;
  if (a.cats > 1 && isnan(a.alpha))
    return cli_usage_error("--alpha is required with --gamma-cats > 1");
  const long cats = a.cats;

  const double t0 = fitcl__now();
  rc = CLI_EXIT_FAILURE;
  char err[4096] = "";
  fitcl_tree *tree = NULL;
  fitcl_pamatrix *mat = NULL;
  fitcl_data *data = NULL;
  fitcl_context *ctx = NULL;
  fitcl_lik *lik = NULL;
  double *grad = NULL;
  /* Reader failures, unreadable files included, are input for the user to
   * fix: exit status 2. */
  fitcl_status st = fitcl_tree_read(a.tree, &tree, err, sizeof err);
  if (st != FITCL_OK) { cli_error("%s", err); rc = st == FITCL_ERR_NOMEM ? 1 : CLI_EXIT_USAGE; goto done; }
  fitcl_pamatrix_options mo = cli_matrix_options(&a.data);
  /* Over several ranks each reads its rows of the matrix (docs/mpi.md),
   * through the shared context. */
  if ((rc = cli_shared_context(&ctx)) != 0) goto done;
  rc = CLI_EXIT_FAILURE;
  if (cli_mpi_active()) {
    fitcl_data_options sopt = {0};
    sopt.prune_missing = a.data.prune_missing;
    sopt.ignore_extra_taxa = a.data.ignore_extra;
    st = fitcl__data_read_ctx(ctx, tree, a.matrix, &mo, &sopt, &data, err, sizeof err);
    if (st == FITCL_ERR_PEER && cli_peer_failed) cli_peer_failed();
    if (st != FITCL_OK) { cli_error("%s", err); rc = st == FITCL_ERR_NOMEM ? 1 : CLI_EXIT_USAGE; goto done; }
    goto shared;
  }
  st = fitcl_pamatrix_read(a.matrix, &mo, &mat, err, sizeof err);
  if (st != FITCL_OK) { cli_error("%s", err); rc = st == FITCL_ERR_NOMEM ? 1 : CLI_EXIT_USAGE; goto done; }
  fitcl_data_options dopt = {0};
  dopt.prune_missing = a.data.prune_missing;
  dopt.ignore_extra_taxa = a.data.ignore_extra;
  /* The matrix, the patterns and the handle's tip storage each hold every
   * cell (2.5 GB apiece at 10^4 taxa x 10^6 families): each is made from
   * the one before in that one's own storage or while giving it back
   * (the _take calls), so the cells are held about once at a time. */
  st = fitcl_data_build_take(tree, &mat, &dopt, &data, err, sizeof err);
  if (st != FITCL_OK) { cli_error("%s", err); rc = cli_exit_code(st); goto done; }
  if ((rc = cli_open_context(&ctx)) != 0) goto done;
shared:
  /* Over several ranks: every rank has its inputs, or the job stops here. */
  if ((rc = cli_mpi_sync(0)) != 0) goto done;
  rc = CLI_EXIT_FAILURE;
  fitcl_lik_options lo = {0};
  lo.gamma_cats = (int)cats;
  lo.no_condition = a.no_condition;
  if (!isnan(a.root_p1)) {
    lo.root = FITCL_ROOT_FIXED;
    lo.root_p1 = a.root_p1;
  }
  st = fitcl_lik_create_take(ctx, &data, &lo, &lik);
  if (st != FITCL_OK) { rc = cli_fail(ctx, st, "likelihood"); goto done; }
  if (a.grad) {
    grad = calloc(fitcl_lik_grad_size(lik), sizeof(double));
    if (!grad) { cli_error("out of memory"); goto done; }
  }
  fitcl_gl_params p = {a.gain, a.loss, isnan(a.alpha) ? 0 : a.alpha, NULL, NULL};
  double ll = 0;
  st = fitcl_lik_eval(lik, &p, &ll, grad);
  if (st != FITCL_OK) { rc = cli_fail(ctx, st, "likelihood"); goto done; }
  const double secs = fitcl__now() - t0;
  if (a.json) {
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
