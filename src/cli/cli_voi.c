/* fitcl evpi and fitcl evppi: value of information from a probabilistic
 * sensitivity analysis (include/fitcl/voi.h, docs/value-of-information.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_opts.h"
#include "core/util.h"
#include "io/numarray.h"

/* Population scaling, shared by both commands. */
typedef struct scale_args {
  double population, horizon, discount; /* NaN: not given */
} scale_args;

#define CLI_SCALE_OPTIONS(T, f)                                                               \
  {CLI_GROUP("population scaling (as voiage)")},                                              \
  {CLI_DOUBLE("population", "N", CLI_POSITIVE, T, f.population,                               \
              "people affected per year (> 0); needs --horizon")},                            \
  {CLI_DOUBLE("horizon", "YEARS", CLI_POSITIVE, T, f.horizon,                                 \
              "years the decision applies (> 0); needs --population")},                       \
  {CLI_DOUBLE("discount", "R", CLI_UNIT, T, f.discount,                                       \
              "annual discount rate, 0 to 1 (default 0): annuity (1 - (1+R)^-YEARS) / R"       \
              " years")}

/* Checks the scaling options; *factor = 0 when not asked for. */
static int scale_factor(const scale_args *s, double *factor) {
  *factor = 0;
  const int pop = !isnan(s->population), hor = !isnan(s->horizon), dis = !isnan(s->discount);
  if (!pop && !hor && !dis) return 0;
  if (!pop || !hor) return cli_usage_error("population scaling needs both --population and --horizon");
  if (fitcl_voi_population_factor(s->population, s->horizon, dis ? s->discount : 0, factor) !=
      FITCL_OK)
    return cli_usage_error("--population, --horizon or --discount is out of range");
  return 0;
}

static int load(const char *what, const char *path, fitcl__numarray *m) {
  char err[1024] = "";
  fitcl_status st = fitcl__numarray_read(path, m, err, sizeof err);
  if (st == FITCL_OK) return 0;
  cli_error("%s: %s", what, err[0] ? err : fitcl_strerror(st));
  return cli_exit_code(st);
}

/* The name of strategy j: the CSV header's, else "0", "1", ... */
static const char *strategy_name(const fitcl__numarray *m, size_t j, char *buf, size_t len) {
  if (m->names) return m->names[j];
  snprintf(buf, len, "%zu", j);
  return buf;
}

static cJSON *json_array(const double *v, size_t n, size_t stride) {
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; i < n; ++i) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i * stride]));
  return a;
}

static cJSON *json_names(const fitcl__numarray *m, size_t k) {
  cJSON *a = cJSON_CreateArray();
  char buf[32];
  for (size_t j = 0; j < k; ++j) cJSON_AddItemToArray(a, cJSON_CreateString(strategy_name(m, j, buf, sizeof buf)));
  return a;
}

/* ------------------------------------------------------------------------ */
/* fitcl evpi                                                                */

typedef struct evpi_args {
  const char *nb, *costs, *effects, *wtp;
  scale_args scale;
  int json;
} evpi_args;

#define A evpi_args
static const cli_opt evpi_options[] = {
  {CLI_GROUP("net benefit")},
  {CLI_STRING("nb", "FILE", A, nb,
              "n x k net benefits (.npy, or CSV/TSV with an optional header of strategy names)")},
  {CLI_GROUP("or costs and effects, swept over willingness to pay")},
  {CLI_STRING("costs", "FILE", A, costs, "n x k costs (.npy or CSV/TSV)")},
  {CLI_STRING("effects", "FILE", A, effects, "n x k effects (.npy or CSV/TSV)")},
  {CLI_STRING("wtp", "LO:HI:STEP", A, wtp,
              "willingness-to-pay values LO, LO+STEP, ... up to HI; or one value")},
  CLI_SCALE_OPTIONS(A, scale),
  {CLI_GROUP("output")},
  {CLI_FLAG("json", A, json,
            "print one JSON object: {samples, strategies, evpi, enb, p_best, backend, device, "
            "seconds[, population_factor, population_evpi]}; with --wtp: {samples, strategies, "
            "wtp, evpi, enb, ceac, best, ceaf, ...} (arrays over the wtp values)")},
  {CLI_END}};
#undef A

static const cli_spec evpi_spec = {
  .usage = "usage: fitcl evpi --nb NB.npy|csv [options]\n"
           "       fitcl evpi --costs C --effects E --wtp LO:HI:STEP [options]\n",
  .about = "Expected value of perfect information of a probabilistic sensitivity\n"
           "analysis: EVPI = mean over samples of the best net benefit minus the best\n"
           "mean net benefit, with each strategy's expected net benefit and the\n"
           "probability that it is optimal.  With costs and effects, the net benefit\n"
           "WTP * effect - cost is formed for every willingness to pay in one pass, giving\n"
           "EVPI, the acceptability curves (CEAC) and the frontier (CEAF) over the grid.\n",
  .opts = evpi_options,
  .epilog = "The device comes from FITCL_DEVICE (see 'fitcl --help').\n"};

/* Parses LO:HI:STEP (or one number) into a malloc'ed list. */
static int parse_wtp(const char *text, double **out, size_t *n) {
  double lo, hi, step;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", text);
  char *c1 = strchr(buf, ':');
  if (!c1) {
    if (!cli_number("--wtp", buf, CLI_FINITE, &lo)) return CLI_EXIT_USAGE;
    *out = malloc(sizeof **out);
    if (!*out) return CLI_EXIT_FAILURE;
    (*out)[0] = lo;
    *n = 1;
    return 0;
  }
  char *c2 = strchr(c1 + 1, ':');
  if (!c2) return cli_usage_error("--wtp '%s': expected LO:HI:STEP", text);
  *c1 = *c2 = 0;
  if (!cli_number("--wtp LO", buf, CLI_FINITE, &lo) || !cli_number("--wtp HI", c1 + 1, CLI_FINITE, &hi) ||
      !cli_number("--wtp STEP", c2 + 1, CLI_POSITIVE, &step))
    return CLI_EXIT_USAGE;
  if (hi < lo) return cli_usage_error("--wtp: HI (%g) is below LO (%g)", hi, lo);
  const double count = floor((hi - lo) / step * (1 + 1e-12)) + 1;
  if (count > 1e6) return cli_usage_error("--wtp makes %.0f values; at most 1000000", count);
  *n = (size_t)count;
  *out = malloc(*n * sizeof **out);
  if (!*out) return CLI_EXIT_FAILURE;
  for (size_t i = 0; i < *n; ++i) (*out)[i] = lo + (double)i * step;
  return 0;
}

static int evpi_plain(const evpi_args *a, fitcl_context *ctx, double factor, double t0) {
  fitcl__numarray m;
  int rc = load("--nb", a->nb, &m);
  if (rc) return rc;
  const size_t n = m.rows, k = m.cols;
  double evpi = 0, enb[FITCL_VOI_MAX_STRATEGIES], pb[FITCL_VOI_MAX_STRATEGIES];
  fitcl_status st = fitcl_evpi(ctx, m.data, n, k, &evpi, enb, pb);
  if (st != FITCL_OK) {
    rc = cli_fail(ctx, st, a->nb);
    goto done;
  }
  if (a->json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "samples", (double)n);
    cJSON_AddItemToObject(o, "strategies", json_names(&m, k));
    cJSON_AddNumberToObject(o, "evpi", evpi);
    cJSON_AddItemToObject(o, "enb", json_array(enb, k, 1));
    cJSON_AddItemToObject(o, "p_best", json_array(pb, k, 1));
    if (factor > 0) {
      cJSON_AddNumberToObject(o, "population_factor", factor);
      cJSON_AddNumberToObject(o, "population_evpi", evpi * factor);
    }
    cli_json_add_backend(o, ctx);
    cJSON_AddNumberToObject(o, "seconds", fitcl__now() - t0);
    cli_print_json(o);
  } else {
    char buf[32];
    printf("samples     %zu\nstrategies  %zu\nEVPI        %.10g\n", n, k, evpi);
    if (factor > 0) printf("population EVPI  %.10g  (factor %.10g)\n", evpi * factor, factor);
    printf("\n%-20s %18s %10s\n", "strategy", "expected NB", "P(best)");
    for (size_t j = 0; j < k; ++j)
      printf("%-20s %18.10g %10.6f\n", strategy_name(&m, j, buf, sizeof buf), enb[j], pb[j]);
  }
done:
  fitcl__numarray_free(&m);
  return rc;
}

static int evpi_sweep(const evpi_args *a, fitcl_context *ctx, double factor, double t0) {
  fitcl__numarray c = {0}, e = {0};
  double *wtp = NULL, *ev = NULL, *enb = NULL, *ceac = NULL, *ceaf = NULL;
  int32_t *best = NULL;
  size_t nw = 0;
  int rc = parse_wtp(a->wtp, &wtp, &nw);
  if (rc) return rc;
  if ((rc = load("--costs", a->costs, &c)) || (rc = load("--effects", a->effects, &e))) goto done;
  if (c.rows != e.rows || c.cols != e.cols) {
    cli_error("--costs is %zu x %zu but --effects is %zu x %zu: they must match", c.rows, c.cols,
              e.rows, e.cols);
    rc = CLI_EXIT_USAGE;
    goto done;
  }
  const size_t n = c.rows, k = c.cols;
  ev = malloc(nw * sizeof *ev);
  enb = malloc(nw * k * sizeof *enb);
  ceac = malloc(nw * k * sizeof *ceac);
  ceaf = malloc(nw * sizeof *ceaf);
  best = malloc(nw * sizeof *best);
  if (!ev || !enb || !ceac || !ceaf || !best) {
    cli_error("out of memory");
    rc = CLI_EXIT_FAILURE;
    goto done;
  }
  fitcl_status st = fitcl_evpi_wtp(ctx, c.data, e.data, n, k, wtp, nw, ev, enb, ceac, best, ceaf);
  if (st != FITCL_OK) {
    rc = cli_fail(ctx, st, NULL);
    goto done;
  }
  const fitcl__numarray *names = c.names ? &c : &e;
  char buf[32];
  if (a->json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "samples", (double)n);
    cJSON_AddItemToObject(o, "strategies", json_names(names, k));
    cJSON_AddItemToObject(o, "wtp", json_array(wtp, nw, 1));
    cJSON_AddItemToObject(o, "evpi", json_array(ev, nw, 1));
    cJSON *je = cJSON_CreateArray(), *jc = cJSON_CreateArray(), *jb = cJSON_CreateArray();
    for (size_t w = 0; w < nw; ++w) {
      cJSON_AddItemToArray(je, json_array(enb + w * k, k, 1));
      cJSON_AddItemToArray(jc, json_array(ceac + w * k, k, 1));
      cJSON_AddItemToArray(jb, cJSON_CreateNumber(best[w]));
    }
    cJSON_AddItemToObject(o, "enb", je);
    cJSON_AddItemToObject(o, "ceac", jc);
    cJSON_AddItemToObject(o, "best", jb);
    cJSON_AddItemToObject(o, "ceaf", json_array(ceaf, nw, 1));
    if (factor > 0) {
      cJSON_AddNumberToObject(o, "population_factor", factor);
      cJSON *jp = cJSON_CreateArray();
      for (size_t w = 0; w < nw; ++w) cJSON_AddItemToArray(jp, cJSON_CreateNumber(ev[w] * factor));
      cJSON_AddItemToObject(o, "population_evpi", jp);
    }
    cli_json_add_backend(o, ctx);
    cJSON_AddNumberToObject(o, "seconds", fitcl__now() - t0);
    cli_print_json(o);
  } else {
    printf("samples %zu, strategies %zu, %zu willingness-to-pay values\n\n", n, k, nw);
    printf("%14s %16s%s %-16s %8s", "wtp", "EVPI", factor > 0 ? " population EVPI " : "",
           "best", "CEAF");
    for (size_t j = 0; j < k; ++j) printf(" %10.10s", strategy_name(names, j, buf, sizeof buf));
    printf("\n");
    for (size_t w = 0; w < nw; ++w) {
      printf("%14.6g %16.8g", wtp[w], ev[w]);
      if (factor > 0) printf(" %16.8g", ev[w] * factor);
      printf(" %-16.16s %8.5f", strategy_name(names, (size_t)best[w], buf, sizeof buf), ceaf[w]);
      for (size_t j = 0; j < k; ++j) printf(" %10.5f", ceac[w * k + j]);
      printf("\n");
    }
  }
done:
  fitcl__numarray_free(&c);
  fitcl__numarray_free(&e);
  free(wtp);
  free(ev);
  free(enb);
  free(ceac);
  free(ceaf);
  free(best);
  return rc;
}

int cli_evpi(int argc, char **argv) {
  evpi_args a = {.scale = {NAN, NAN, NAN}};
  int rc = cli_parse(&evpi_spec, argc, argv, &a, NULL);
  if (rc >= 0) return rc;
  const int sweep = a.costs || a.effects || a.wtp;
  if (a.nb && sweep) return cli_usage_error("give --nb, or --costs, --effects and --wtp, not both");
  if (!a.nb && !sweep) return cli_usage_error("give --nb, or --costs, --effects and --wtp");
  if (sweep && (!a.costs || !a.effects || !a.wtp))
    return cli_usage_error("--costs, --effects and --wtp go together");
  double factor;
  if ((rc = scale_factor(&a.scale, &factor))) return rc;
  const double t0 = fitcl__now();
  fitcl_context *ctx = NULL;
  if ((rc = cli_open_context(&ctx))) return rc;
  rc = sweep ? evpi_sweep(&a, ctx, factor, t0) : evpi_plain(&a, ctx, factor, t0);
  fitcl_context_destroy(ctx);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* fitcl evppi                                                               */

typedef struct evppi_args {
  const char *nb, *params, *names, *of;
  long basis, draws;
  unsigned long long seed;
  int no_se;
  scale_args scale;
  int json;
} evppi_args;

#define A evppi_args
static const cli_opt evppi_options[] = {
  {CLI_STRING("nb", "FILE", A, nb, "n x k net benefits (.npy or CSV/TSV)"), .flags = CLI_REQUIRED},
  {CLI_STRING("params", "FILE", A, params,
              "n x p parameter draws, row i behind net-benefit row i (.npy or CSV/TSV with a "
              "header of names)"), .flags = CLI_REQUIRED},
  {CLI_STRING("names", "A,B,...", A, names,
              "the p parameter names (required for .npy; overrides a CSV header)")},
  {CLI_STRING("of", "A[,B...]", A, of,
              "the 1 to 4 parameters of interest, by name or 0-based column"), .flags = CLI_REQUIRED},
  {CLI_GROUP("regression")},
  {CLI_LONG("basis", "Q", 4, 64, A, basis,
            "cubic B-splines per parameter (default 16, 7, 5, 4 for 1, 2, 3, 4 parameters)")},
  {CLI_LONG("se-draws", "S", 1, 100000, A, draws,
            "coefficient draws for the standard error, rounded up to a multiple of 8 "
            "(default 96)")},
  {CLI_FLAG("no-se", A, no_se, "skip the standard error")},
  {CLI_SEED("seed", "S", A, seed, "seed of the draws (default 0)")},
  CLI_SCALE_OPTIONS(A, scale),
  {CLI_GROUP("output")},
  {CLI_FLAG("json", A, json,
            "print one JSON object: {samples, strategies, parameters, evppi, se, evpi, basis, "
            "draws, lambda, edf, backend, device, seconds[, population_factor, "
            "population_evppi, population_evpi]}")},
  {CLI_END}};
#undef A

static const cli_spec evppi_spec = {
  .usage = "usage: fitcl evppi --nb NB --params THETA --of A[,B...] [--names A,B,...] [options]\n",
  .about = "Expected value of partial perfect information about 1 to 4 parameters, by\n"
           "regression (Strong, Oakley & Brennan 2014): each strategy's net benefit, as an\n"
           "increment over the first strategy, is regressed on the parameters of interest\n"
           "with a penalised cubic spline (a tensor product for several parameters,\n"
           "smoothness chosen by generalised cross-validation); EVPPI is the mean of the\n"
           "best fitted value minus the best mean.  The standard error comes from draws\n"
           "of the regression coefficients.\n",
  .opts = evppi_options,
  .epilog = "The device comes from FITCL_DEVICE (see 'fitcl --help').\n"};

/* Splits a comma list into at most `cap` malloc'ed copies in one buffer. */
static size_t split(char *text, char **items, size_t cap) {
  size_t n = 0;
  for (char *tok = strtok(text, ","); tok; tok = strtok(NULL, ",")) {
    while (*tok == ' ') ++tok;
    if (n == cap) return cap + 1;
    items[n++] = tok;
  }
  return n;
}

int cli_evppi(int argc, char **argv) {
  evppi_args a = {.scale = {NAN, NAN, NAN}};
  int rc = cli_parse(&evppi_spec, argc, argv, &a, NULL);
  if (rc >= 0) return rc;
  double factor;
  if ((rc = scale_factor(&a.scale, &factor))) return rc;
  const double t0 = fitcl__now();
  fitcl__numarray nb = {0}, th = {0};
  fitcl_context *ctx = NULL;
  char *namebuf = NULL, *ofbuf = NULL, **names = NULL;
  if ((rc = load("--nb", a.nb, &nb)) || (rc = load("--params", a.params, &th))) goto done;
  if (th.rows != nb.rows) {
    cli_error("--params has %zu rows but --nb has %zu: row i of each is one sample", th.rows, nb.rows);
    rc = CLI_EXIT_USAGE;
    goto done;
  }
  names = calloc(th.cols + 1, sizeof *names);
  if (!names) { cli_error("out of memory"); rc = CLI_EXIT_FAILURE; goto done; }
  if (a.names) {
    namebuf = fitcl__strdup(a.names);
    if (!namebuf) { cli_error("out of memory"); rc = CLI_EXIT_FAILURE; goto done; }
    const size_t got = split(namebuf, names, th.cols);
    if (got != th.cols) {
      rc = cli_usage_error("--names gives %zu name%s but --params has %zu column%s", got,
                           got == 1 ? "" : "s", th.cols, th.cols == 1 ? "" : "s");
      goto done;
    }
  } else if (th.names) {
    for (size_t c = 0; c < th.cols; ++c) names[c] = th.names[c];
  }
  ofbuf = fitcl__strdup(a.of);
  char *want[FITCL_EVPPI_MAX_PARAMS + 1];
  size_t of[FITCL_EVPPI_MAX_PARAMS];
  const size_t nof = ofbuf ? split(ofbuf, want, FITCL_EVPPI_MAX_PARAMS) : 0;
  if (nof < 1 || nof > FITCL_EVPPI_MAX_PARAMS) {
    rc = cli_usage_error("--of: give 1 to %d parameters", FITCL_EVPPI_MAX_PARAMS);
    goto done;
  }
  for (size_t m = 0; m < nof; ++m) {
    size_t c = th.cols;
    for (size_t q = 0; q < th.cols && names[0]; ++q)
      if (!strcmp(names[q], want[m])) c = q;
    if (c == th.cols) {
      long idx;
      char *end;
      idx = strtol(want[m], &end, 10);
      if (*end || end == want[m] || idx < 0 || (size_t)idx >= th.cols) {
        rc = cli_usage_error("--of: '%s' is neither a parameter name nor a column index "
                             "below %zu%s", want[m], th.cols,
                             names[0] ? "" : " (--params has no names; give --names)");
        goto done;
      }
      c = (size_t)idx;
    }
    of[m] = c;
  }
  if ((rc = cli_open_context(&ctx))) goto done;
  fitcl_evppi_options opt = {.basis = (int)a.basis, .se_draws = a.no_se ? -1 : (int)a.draws,
                             .seed = a.seed};
  fitcl_evppi_result r;
  fitcl_status st = fitcl_evppi(ctx, nb.data, nb.rows, nb.cols, th.data, th.cols, of, nof, &opt, &r);
  double evpi = 0;
  if (st == FITCL_OK) st = fitcl_evpi(ctx, nb.data, nb.rows, nb.cols, &evpi, NULL, NULL);
  if (st != FITCL_OK) {
    rc = cli_fail(ctx, st, NULL);
    goto done;
  }
  char buf[32];
  if (a.json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "samples", (double)nb.rows);
    cJSON_AddItemToObject(o, "strategies", json_names(&nb, nb.cols));
    cJSON *jp = cJSON_CreateArray();
    for (size_t m = 0; m < nof; ++m) {
      snprintf(buf, sizeof buf, "%zu", of[m]);
      cJSON_AddItemToArray(jp, cJSON_CreateString(names[0] ? names[of[m]] : buf));
    }
    cJSON_AddItemToObject(o, "parameters", jp);
    cJSON_AddNumberToObject(o, "evppi", r.evppi);
    cJSON_AddNumberToObject(o, "se", r.se);
    cJSON_AddNumberToObject(o, "evpi", evpi);
    cJSON_AddNumberToObject(o, "basis", r.basis);
    cJSON_AddNumberToObject(o, "draws", r.draws);
    cJSON_AddItemToObject(o, "lambda", json_array(r.lambda + 1, nb.cols - 1, 1));
    cJSON_AddItemToObject(o, "edf", json_array(r.edf + 1, nb.cols - 1, 1));
    if (factor > 0) {
      cJSON_AddNumberToObject(o, "population_factor", factor);
      cJSON_AddNumberToObject(o, "population_evppi", r.evppi * factor);
      cJSON_AddNumberToObject(o, "population_evpi", evpi * factor);
    }
    cli_json_add_backend(o, ctx);
    cJSON_AddNumberToObject(o, "seconds", fitcl__now() - t0);
    cli_print_json(o);
  } else {
    printf("samples     %zu\nstrategies  %zu\nparameters ", nb.rows, nb.cols);
    for (size_t m = 0; m < nof; ++m) {
      snprintf(buf, sizeof buf, "%zu", of[m]);
      printf(" %s", names[0] ? names[of[m]] : buf);
    }
    printf("\nEVPPI       %.10g", r.evppi);
    if (r.draws) printf("  (standard error %.3g from %d draws)", r.se, r.draws);
    printf("\nEVPI        %.10g\n", evpi);
    if (factor > 0)
      printf("population EVPPI  %.10g\npopulation EVPI   %.10g  (factor %.10g)\n",
             r.evppi * factor, evpi * factor, factor);
    printf("regression  %d coefficients; per strategy over strategy %s: edf",
           r.basis, strategy_name(&nb, 0, buf, sizeof buf));
    for (size_t j = 1; j < nb.cols; ++j) printf(" %.2f", r.edf[j]);
    printf("\n");
  }
done:
  fitcl_context_destroy(ctx);
  fitcl__numarray_free(&nb);
  fitcl__numarray_free(&th);
  free(namebuf);
  free(ofbuf);
  free(names);
  return rc;
}
