/* fitcl retention-test: likelihood-ratio test that a set of families is lost
 * at a different rate (loss x theta) from the others. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_mpi.h"
#include "cli/cli_analysis.h"
#include "cli/cli_opts.h"

typedef struct retention_args {
  const char *tree, *matrix, *families, *families_regex;
  cli_data_flags data;
  long bootstrap, cats, max_iter;
  unsigned long long seed;
  int ci, no_condition, quiet, json;
} retention_args;

static const char *const ci_methods[] = {"wald", "profile", NULL};

#define A retention_args
static const cli_opt options[] = {
  {CLI_STRING("tree", "FILE", A, tree, "rooted Newick tree whose tips are the matrix taxa"),
   .flags = CLI_REQUIRED},
  {CLI_STRING("matrix", "FILE", A, matrix, "presence/absence matrix, one row per family"),
   .flags = CLI_REQUIRED},
  CLI_DATA_OPTIONS(A, data),
  {CLI_STRING("families", "FILE", A, families,
              "family names, one per line ('#' lines and blank lines are skipped); every name "
              "must be a matrix row")},
  {CLI_STRING("families-regex", "RE", A, families_regex,
              "select the families whose name matches the POSIX extended regular expression RE "
              "(unanchored)")},
  {CLI_LONG("bootstrap", "N", 0, 10000000, A, bootstrap,
            "parametric-bootstrap p-value from N replicates simulated under the fitted null "
            "(default 0: none)")},
  {CLI_SEED("seed", "S", A, seed, "seed of the bootstrap (default 1); same seed, same result")},
  {CLI_CHOICE("ci", "wald|profile", ci_methods, A, ci,
              "95% interval of theta: Wald on log theta (default) or profile likelihood")},
  {CLI_LONG("gamma-cats", "K", 1, 64, A, cats, "rate categories (1..64; default 1)")},
  {CLI_FLAG("no-condition", A, no_condition, "do not condition on families being observed")},
  {CLI_LONG("max-iter", "N", 1, 100000, A, max_iter,
            "optimizer iteration cap per fit (default 200)")},
  {CLI_FLAG("quiet", A, quiet, "no progress bar")},
  {CLI_FLAG("json", A, json, "print one JSON object (keys in docs/analyses.md)")},
  {CLI_END}};
#undef A

static const cli_spec spec = {
  .usage = "usage: fitcl retention-test --tree TREE --matrix MATRIX\n"
           "                            (--families FILE | --families-regex REGEX)\n"
           "                            [--bootstrap N --seed S] [--gamma-cats K] [options]\n",
  .about = "Null model: global gain and loss rates.  Alternative: the selected families\n"
           "are lost at rate loss x theta, theta > 0 free (warm-started from the null).\n"
           "Reports both fits, theta with its standard error and a 95% Wald interval on\n"
           "log theta (or, with --ci profile, the profile-likelihood interval), the\n"
           "likelihood-ratio statistic and its chi-square (df = 1) p-value.\n",
  .opts = options,
  .epilog = "exit status: 0 success, 1 device or internal failure, 2 bad usage or input.\n"};

static void progress(void *user, int done, int total) {
  (void)user;
  int width = 30, fill = total > 0 ? (int)((long)width * done / total) : width;
  fprintf(stderr, "\rbootstrap [%.*s%*s] %d/%d", fill, "##############################",
          width - fill, "", done, total);
  if (done >= total) fputc('\n', stderr);
  fflush(stderr);
}

static cJSON *params_json(const fitcl_fit_result *r, int alpha, int effect) {
  cJSON *p = cJSON_CreateObject();
  cli_json_num(p, "gain", r->gain);
  cli_json_num(p, "loss", r->loss);
  if (alpha) cli_json_num(p, "alpha", r->alpha);
  if (effect) cli_json_num(p, "effect", r->effect);
  return p;
}

static cJSON *stderr_json(const fitcl_fit_result *r, int alpha, int effect) {
  cJSON *p = cJSON_CreateObject();
  cli_json_num(p, "gain", r->se_gain);
  cli_json_num(p, "loss", r->se_loss);
  if (alpha) cli_json_num(p, "alpha", r->se_alpha);
  if (effect) cli_json_num(p, "effect", r->se_effect);
  return p;
}

static cJSON *fit_json(const fitcl_fit_result *r, int alpha, int effect) {
  cJSON *o = cJSON_CreateObject();
  cli_json_num(o, "loglik", r->loglik);
  cJSON_AddItemToObject(o, "params", params_json(r, alpha, effect));
  if (effect) cJSON_AddItemToObject(o, "stderr", stderr_json(r, alpha, effect));
  cli_json_num(o, "aic", r->aic);
  cJSON_AddNumberToObject(o, "iterations", r->iterations);
  cJSON_AddNumberToObject(o, "evaluations", r->evaluations);
  cJSON_AddStringToObject(o, "status", r->status);
  cJSON_AddBoolToObject(o, "converged", r->converged);
  return o;
}

int cli_retention(int argc, char **argv) {
  double t0 = cli_now();
  retention_args a = {.seed = 1, .cats = 1};
  int rc = cli_parse(&spec, argc, argv, &a, NULL);
  if (rc >= 0) return rc;
  if (!a.families == !a.families_regex)
    return cli_usage_error("give exactly one of --families FILE and --families-regex REGEX");
  const char *matrix = a.matrix, *famfile = a.families, *famre = a.families_regex;
  const long cats = a.cats;
  const int json = a.json;
  fitcl_retention_options ro = {0};
  ro.seed = a.seed;
  ro.profile_ci = a.ci;
  ro.fit.no_condition = a.no_condition;
  ro.fit.gamma_cats = (int)a.cats;
  ro.fit.max_iter = (int)a.max_iter;
  ro.bootstrap = (int)a.bootstrap;
  if (!a.quiet && a.bootstrap > 0 && isatty(STDERR_FILENO)) ro.progress = progress;

  fitcl_data *data = NULL;
  fitcl_context *ctx = NULL;
  unsigned char *sel = NULL;
  rc = cli_shared_context(&ctx);
  if (!rc) rc = cli_load_data(a.tree, a.matrix, &a.data, ctx, &data);
  if (rc) { fitcl_context_destroy(ctx); return rc; }
  size_t n = fitcl_data_nfamilies(data), k = 0;
  sel = malloc(n ? n : 1);
  if (!sel) { cli_error("out of memory"); rc = CLI_EXIT_FAILURE; goto done; }
  if (!ctx && (rc = cli_open_context(&ctx)) != 0) goto done;
  fitcl_status st = famfile ? fitcl_select_families_file(ctx, data, famfile, sel)
                            : fitcl_select_families_regex(ctx, data, famre, sel);
  if (st != FITCL_OK) { rc = cli_fail(ctx, st, famfile ? "--families" : "--families-regex"); goto done; }
  for (size_t i = 0; i < n; ++i) k += sel[i] != 0;
  if (k == 0) {
    if (famfile)
      cli_error("--families %s: the list names no family (it is empty or only comments); "
                "list at least one family of the matrix, one per line", famfile);
    else
      cli_error("--families-regex '%s' matches no family of %s; check the pattern against "
                "the matrix's row names", famre, matrix);
    rc = CLI_EXIT_USAGE;
    goto done;
  }
  if (k == n) {
    cli_error("%s selects every family of %s (%zu): the test compares the set with the "
              "other families, so leave some out", famfile ? "--families" : "--families-regex",
              matrix, n);
    rc = CLI_EXIT_USAGE;
    goto done;
  }
  /* Over several ranks: every rank has its inputs, or the job stops here. */
  if ((rc = cli_mpi_sync(0)) != 0) goto done;
  fitcl_retention_result r;
  st = fitcl_retention_test(ctx, data, sel, &ro, &r);
  if (st != FITCL_OK) { rc = cli_fail(ctx, st, "retention test"); goto done; }
  double secs = cli_now() - t0;
  int alpha = cats > 1;
  if (json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "null", fit_json(&r.null_fit, alpha, 0));
    cJSON_AddItemToObject(o, "alt", fit_json(&r.alt_fit, alpha, 1));
    cJSON *ci = cJSON_AddObjectToObject(o, "effect_ci");
    cli_json_num(ci, "low", r.ci_low);
    cli_json_num(ci, "high", r.ci_high);
    cJSON_AddStringToObject(ci, "method", r.ci_method);
    cli_json_num(o, "lrt", r.lrt);
    cJSON_AddNumberToObject(o, "df", r.df);
    cli_json_num(o, "p_value", r.p_value);
    if (r.bootstrap_replicates > 0) {
      cJSON *b = cJSON_AddObjectToObject(o, "bootstrap");
      cJSON_AddNumberToObject(b, "replicates", r.bootstrap_replicates);
      cli_json_num(b, "p_value", r.bootstrap_p_value);
      cJSON_AddNumberToObject(b, "seed", (double)ro.seed);
    }
    cJSON_AddNumberToObject(o, "families", (double)r.families);
    cJSON_AddNumberToObject(o, "selected", (double)r.selected);
    cli_json_add_backend(o, ctx);
    cJSON_AddNumberToObject(o, "seconds", secs);
    cli_print_json(o);
  } else {
    fitcl_context_info info;
    fitcl_context_get_info(ctx, &info);
    printf("retention test: %zu of %zu families selected, %d taxa, %s on %s\n", r.selected,
           r.families, fitcl_data_ntaxa(data), info.backend, info.device);
    printf("  %-6s %14s %12s %12s %12s\n", "model", "log-lik", "gain", "loss", "theta");
    printf("  %-6s %14.4f %12.6g %12.6g %12s\n", "null", r.null_fit.loglik, r.null_fit.gain,
           r.null_fit.loss, "1");
    printf("  %-6s %14.4f %12.6g %12.6g %12.6g\n", "alt", r.alt_fit.loglik, r.alt_fit.gain,
           r.alt_fit.loss, r.effect);
    if (alpha)
      printf("  alpha: null %.6g, alt %.6g (%d categories)\n", r.null_fit.alpha, r.alt_fit.alpha,
             (int)cats);
    printf("  theta = %.6g  SE %.4g  95%% CI [%.6g, %.6g] (%s)\n", r.effect, r.se_effect,
           r.ci_low, r.ci_high, ro.profile_ci ? "profile likelihood" : "Wald on log theta");
    printf("  LRT = %.6g  df = %d  p = %.4g (chi-square)\n", r.lrt, r.df, r.p_value);
    if (r.bootstrap_replicates > 0)
      printf("  bootstrap p = %.4g (%d replicates, seed %llu)\n", r.bootstrap_p_value,
             r.bootstrap_replicates, (unsigned long long)ro.seed);
    printf("  %.3f s\n", secs);
  }
  if (!r.null_fit.converged || !r.alt_fit.converged)
    cli_error("warning: a fit did not converge (null %s, alternative %s); try --max-iter",
              r.null_fit.status, r.alt_fit.status);
  rc = CLI_EXIT_OK;
done:
  free(sel);
  fitcl_context_destroy(ctx);
  fitcl_data_destroy(data);
  return rc;
}
