/* fitcl retention-test: likelihood-ratio test that a set of families is lost
 * at a different rate (loss x theta) from the others. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_analysis.h"

static void help(void) {
  printf("usage: fitcl retention-test --tree TREE --matrix MATRIX\n"
         "                            (--families FILE | --families-regex REGEX)\n"
         "                            [--bootstrap N --seed S] [--gamma-cats K] [options]\n\n"
         "Null model: global gain and loss rates.  Alternative: the selected families\n"
         "are lost at rate loss x theta, theta > 0 free (warm-started from the null).\n"
         "Reports both fits, theta with its standard error and a 95%% Wald interval on\n"
         "log theta (or, with --ci profile, the profile-likelihood interval), the\n"
         "likelihood-ratio statistic and its chi-square (df = 1) p-value.\n\n"
         "options:\n"
         "  --tree FILE            rooted Newick tree whose tips are the matrix taxa\n"
         "  --matrix FILE          presence/absence matrix, one row per family\n"
         CLI_DATA_HELP
         "  --families FILE        family names, one per line ('#' lines and blank lines\n"
         "                         are skipped); every name must be a matrix row\n"
         "  --families-regex RE    select the families whose name matches the POSIX\n"
         "                         extended regular expression RE (unanchored)\n"
         "  --bootstrap N          parametric-bootstrap p-value from N replicates simulated\n"
         "                         under the fitted null (default 0: none)\n"
         "  --seed S               seed of the bootstrap (default 1); same seed, same result\n"
         "  --ci wald|profile      95%% interval of theta: Wald on log theta (default)\n"
         "                         or profile likelihood\n"
         "  --gamma-cats K         rate categories (1..64; default 1)\n"
         "  --no-condition         do not condition on families being observed\n"
         "  --max-iter N           optimizer iteration cap per fit (default 200)\n"
         "  --quiet                no progress bar\n"
         "  --json                 print one JSON object (keys in docs/analyses.md)\n"
         "  --help                 show this help\n\n"
         "exit status: 0 success, 1 device or internal failure, 2 bad usage or input.\n");
}

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
  const char *tree = NULL, *matrix = NULL, *famfile = NULL, *famre = NULL;
  int json = 0, quiet = 0;
  long cats = 1, max_iter = 0, boot = 0;
  cli_data_flags flags = {0, 0};
  enum { O_TREE = 1, O_MATRIX, O_FAM, O_RE, O_BOOT, O_SEED, O_CATS, O_NOCOND, O_MAXIT,
         O_QUIET, O_JSON, O_HELP, O_CI };
  static const struct option opts[] = {
      {"tree", required_argument, NULL, O_TREE},
      {"matrix", required_argument, NULL, O_MATRIX},
      {"families", required_argument, NULL, O_FAM},
      {"families-regex", required_argument, NULL, O_RE},
      {"bootstrap", required_argument, NULL, O_BOOT},
      {"seed", required_argument, NULL, O_SEED},
      {"gamma-cats", required_argument, NULL, O_CATS},
      {"no-condition", no_argument, NULL, O_NOCOND},
      {"max-iter", required_argument, NULL, O_MAXIT},
      {"quiet", no_argument, NULL, O_QUIET},
      {"ci", required_argument, NULL, O_CI},
      {"json", no_argument, NULL, O_JSON},
      CLI_DATA_OPTIONS, {"help", no_argument, NULL, O_HELP},
      {NULL, 0, NULL, 0}};
  fitcl_retention_options ro = {0};
  ro.seed = 1;
  int c;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case O_TREE: tree = optarg; break;
    case O_MATRIX: matrix = optarg; break;
    case O_FAM: famfile = optarg; break;
    case O_RE: famre = optarg; break;
    case O_BOOT: if (!cli_parse_long("--bootstrap", optarg, 0, 10000000, &boot)) return CLI_EXIT_USAGE; break;
    case O_SEED: {
      char *end = NULL;
      unsigned long long v = strtoull(optarg, &end, 10);
      if (!*optarg || *end || optarg[0] == '-') {
        cli_error("--seed: expected a whole number from 0 to 2^64-1, got '%s'", optarg);
        return CLI_EXIT_USAGE;
      }
      ro.seed = v;
      break;
    }
    case O_CATS: if (!cli_parse_long("--gamma-cats", optarg, 1, 64, &cats)) return CLI_EXIT_USAGE; break;
    case O_NOCOND: ro.fit.no_condition = 1; break;
    case O_MAXIT: if (!cli_parse_long("--max-iter", optarg, 1, 100000, &max_iter)) return CLI_EXIT_USAGE; break;
    case O_QUIET: quiet = 1; break;
    case O_CI:
      if (strcmp(optarg, "wald") == 0) ro.profile_ci = 0;
      else if (strcmp(optarg, "profile") == 0) ro.profile_ci = 1;
      else {
        cli_error("--ci: expected 'wald' or 'profile', got '%s'", optarg);
        return CLI_EXIT_USAGE;
      }
      break;
    case O_JSON: json = 1; break;
    case O_HELP: help(); return CLI_EXIT_OK;
    CLI_DATA_OPTION_CASES(flags);
    default: return cli_bad_option(argv, optopt, optind);
    }
  }
  if (optind < argc) return cli_usage_error("unexpected argument");
  if (!tree || !matrix) return cli_usage_error("--tree and --matrix are required");
  if (!famfile == !famre)
    return cli_usage_error("give exactly one of --families FILE and --families-regex REGEX");
  ro.fit.gamma_cats = (int)cats;
  ro.fit.max_iter = (int)max_iter;
  ro.bootstrap = (int)boot;
  if (!quiet && boot > 0 && isatty(STDERR_FILENO)) ro.progress = progress;

  fitcl_data *data = NULL;
  fitcl_context *ctx = NULL;
  unsigned char *sel = NULL;
  int rc = cli_load_data(tree, matrix, &flags, &data);
  if (rc) return rc;
  size_t n = fitcl_data_nfamilies(data), k = 0;
  sel = malloc(n ? n : 1);
  if (!sel) { cli_error("out of memory"); rc = CLI_EXIT_FAILURE; goto done; }
  rc = cli_open_context(&ctx);
  if (rc) goto done;
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
