/* fitcl curve-fit: streaming Levenberg-Marquardt fit of a model expression
 * (or a built-in model) to a data file. */
#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"

#define MAXP FITCL_NLSQ_MAX_PARAMS
#define MAXV FITCL_NLSQ_MAX_VARS

static const char *usage_text =
  "usage: fitcl curve-fit --data FILE --model EXPR|NAME --p0 NAME=VALUE[,...] [options]\n"
  "\n"
  "Fits y = f(x; p) by streaming Levenberg-Marquardt: the data are read in chunks on every\n"
  "pass, so files larger than memory work.\n"
  "\n"
  "data:\n"
  "  --data FILE           .npy, .csv, .tsv, .h5/.hdf5, or raw binary (.bin/.raw/.dat)\n"
  "  --format FMT          npy, csv, tsv, hdf5, or raw[:f64|f32[:COLUMNS]] (default: by extension)\n"
  "  --x COL[,COL...]      x columns in the model's variable order; each COL is a CSV header\n"
  "                        name, an HDF5 dataset path (PATH[:COL] for 2-D), a column index\n"
  "                        (npy, raw) or another FILE.npy[:COL]; NAME=COL names the variable\n"
  "                        (default: the model's variables; column 0.. for npy/raw)\n"
  "  --y COL               y column (default: y; the column after x for npy/raw)\n"
  "  --sigma COL           standard deviation of each y (default: unweighted)\n"
  "  --chunk N             points per chunk (default 1048576; 65536 for CSV)\n"
  "model:\n"
  "  --model EXPR|NAME     an expression (parameters are the --p0 names, variables the --x\n"
  "                        names or x) or a built-in: exp_decay, double_exp, gaussian,\n"
  "                        lorentzian, power_law, stretched_exp, xpcs_g2\n"
  "  --p0 NAME=V,...       starting values (every parameter)\n"
  "  --bounds NAME=LO:HI,...  box bounds (LO or HI may be empty for none)\n"
  "  --bounds-mode M       reflect (default) or project trial points that leave the box\n"
  "  --x-scale S           jac (default) or NAME=SCALE,... characteristic parameter scales\n"
  "solver:\n"
  "  --loss L              linear (default), soft_l1, huber, cauchy, arctan\n"
  "  --f-scale S           soft margin of robust losses (default 1)\n"
  "  --absolute-sigma      covariance (J^T J)^-1 instead of scaling by the reduced chi^2\n"
  "  --max-iter N          maximum trial steps (default 100*(parameters+1))\n"
  "  --ftol T --xtol T --gtol T   convergence tolerances (default 1e-8 each)\n"
  "  --checkpoint FILE     write the solver state to FILE (atomically, in the background)\n"
  "  --checkpoint-every N  ... every N iterations (default 10), and when the fit stops\n"
  "  --resume FILE         continue from a checkpoint (same model, parameters, loss, bounds)\n"
  "output:\n"
  "  --progress            one line per iteration on stderr (default when stderr is a terminal)\n"
  "  --json                print one JSON object: params, stderr, covariance, cost, rss,\n"
  "                        reduced_chi2, iterations, status, converged, points, backend, seconds\n"
  "\n"
  "SIGINT/SIGTERM write a final checkpoint (with --checkpoint) and exit with status 130.\n"
  "exit status: 0 fit done (see status/converged), 1 device or internal failure,\n"
  "2 bad usage or input, 130 interrupted.\n";

static volatile int g_interrupt;

static void on_signal(int sig) {
  (void)sig;
  g_interrupt = 1;
}

static int is_ident(const char *s) {
  if (!(isalpha((unsigned char)*s) || *s == '_')) return 0;
  for (++s; *s; ++s)
    if (!(isalnum((unsigned char)*s) || *s == '_')) return 0;
  return 1;
}

/* Splits s (modified in place) on commas; returns the count or -1. */
static int split_commas(char *s, char **out, int cap) {
  int n = 0;
  for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
    if (n == cap) return -1;
    out[n++] = tok;
  }
  return n;
}

static int find_name(char **names, int n, const char *name) {
  for (int i = 0; i < n; ++i)
    if (!strcmp(names[i], name)) return i;
  return -1;
}

static void print_progress(void *user, const fitcl_curvefit_progress *p) {
  (void)user;
  fprintf(stderr, "iter %4d  cost %.10e  lambda %.3e  step %.3e  %s  %.2fs\n", p->iteration,
          p->cost, p->lambda, p->step_norm, p->accepted ? "accepted" : "rejected", p->elapsed);
}

static cJSON *json_number(double v) {
  return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

int cli_curvefit(int argc, char **argv) {
  enum { O_DATA = 256, O_FORMAT, O_X, O_Y, O_SIGMA, O_CHUNK, O_MODEL, O_P0, O_BOUNDS, O_BMODE,
         O_XSCALE, O_LOSS, O_FSCALE, O_ABS, O_MAXIT, O_FTOL, O_XTOL, O_GTOL, O_CKPT, O_CKEVERY,
         O_RESUME, O_PROGRESS, O_JSON, O_HELP };
  static const struct option longopts[] = {
    {"data", required_argument, 0, O_DATA}, {"format", required_argument, 0, O_FORMAT},
    {"x", required_argument, 0, O_X}, {"y", required_argument, 0, O_Y},
    {"sigma", required_argument, 0, O_SIGMA}, {"chunk", required_argument, 0, O_CHUNK},
    {"model", required_argument, 0, O_MODEL}, {"p0", required_argument, 0, O_P0},
    {"bounds", required_argument, 0, O_BOUNDS}, {"bounds-mode", required_argument, 0, O_BMODE},
    {"x-scale", required_argument, 0, O_XSCALE}, {"loss", required_argument, 0, O_LOSS},
    {"f-scale", required_argument, 0, O_FSCALE}, {"absolute-sigma", no_argument, 0, O_ABS},
    {"max-iter", required_argument, 0, O_MAXIT}, {"ftol", required_argument, 0, O_FTOL},
    {"xtol", required_argument, 0, O_XTOL}, {"gtol", required_argument, 0, O_GTOL},
    {"checkpoint", required_argument, 0, O_CKPT},
    {"checkpoint-every", required_argument, 0, O_CKEVERY},
    {"resume", required_argument, 0, O_RESUME}, {"progress", no_argument, 0, O_PROGRESS},
    {"json", no_argument, 0, O_JSON}, {"help", no_argument, 0, O_HELP}, {0, 0, 0, 0}};
  const char *data = NULL, *format = NULL, *ycol = NULL, *sigcol = NULL, *model_arg = NULL;
  char *xarg = NULL, *p0arg = NULL, *boundsarg = NULL, *xscalearg = NULL;
  const char *ckpt = NULL, *resume = NULL;
  int json = 0, progress = isatty(STDERR_FILENO);
  long chunk = 0, maxit = 0, ckevery = 0;
  fitcl_curvefit_options fo;
  fitcl_source_options so;
  memset(&fo, 0, sizeof fo);
  memset(&so, 0, sizeof so);
  int c, rc = CLI_EXIT_USAGE;
  fitcl_context *ctx = NULL;
  fitcl_model *model = NULL;
  fitcl_source *src = NULL;
  char *xbuf = NULL, *p0buf = NULL, *bbuf = NULL, *sbuf = NULL;

  optind = 1;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
      case O_DATA: data = optarg; break;
      case O_FORMAT: format = optarg; break;
      case O_X: xarg = optarg; break;
      case O_Y: ycol = optarg; break;
      case O_SIGMA: sigcol = optarg; break;
      case O_CHUNK:
        if (!cli_parse_long("--chunk", optarg, 1, 1L << 30, &chunk)) return CLI_EXIT_USAGE;
        break;
      case O_MODEL: model_arg = optarg; break;
      case O_P0: p0arg = optarg; break;
      case O_BOUNDS: boundsarg = optarg; break;
      case O_BMODE:
        if (!strcmp(optarg, "reflect")) fo.bounds_mode = FITCL_BOUNDS_REFLECT;
        else if (!strcmp(optarg, "project")) fo.bounds_mode = FITCL_BOUNDS_PROJECT;
        else {
          cli_error("--bounds-mode: unknown mode '%s'; use reflect or project", optarg);
          return CLI_EXIT_USAGE;
        }
        break;
      case O_XSCALE: xscalearg = optarg; break;
      case O_LOSS: {
        static const char *names[] = {"linear", "soft_l1", "huber", "cauchy", "arctan"};
        int k;
        for (k = 0; k < 5; ++k)
          if (!strcmp(optarg, names[k])) break;
        if (k == 5) {
          cli_error("--loss: unknown loss '%s'; use linear, soft_l1, huber, cauchy or arctan",
                    optarg);
          return CLI_EXIT_USAGE;
        }
        fo.loss = (fitcl_loss)k;
        break;
      }
      case O_FSCALE:
        if (!cli_parse_double("--f-scale", optarg, &fo.f_scale)) return CLI_EXIT_USAGE;
        if (!(fo.f_scale > 0)) {
          cli_error("--f-scale: must be > 0, got %s", optarg);
          return CLI_EXIT_USAGE;
        }
        break;
      case O_ABS: fo.absolute_sigma = 1; break;
      case O_MAXIT:
        if (!cli_parse_long("--max-iter", optarg, 1, 1000000000L, &maxit)) return CLI_EXIT_USAGE;
        break;
      case O_FTOL: if (!cli_parse_double("--ftol", optarg, &fo.ftol)) return CLI_EXIT_USAGE; break;
      case O_XTOL: if (!cli_parse_double("--xtol", optarg, &fo.xtol)) return CLI_EXIT_USAGE; break;
      case O_GTOL: if (!cli_parse_double("--gtol", optarg, &fo.gtol)) return CLI_EXIT_USAGE; break;
      case O_CKPT: ckpt = optarg; break;
      case O_CKEVERY:
        if (!cli_parse_long("--checkpoint-every", optarg, 1, 1000000000L, &ckevery))
          return CLI_EXIT_USAGE;
        break;
      case O_RESUME: resume = optarg; break;
      case O_PROGRESS: progress = 1; break;
      case O_JSON: json = 1; break;
      case O_HELP: fputs(usage_text, stdout); return CLI_EXIT_OK;
      default: return cli_usage_error("unknown option or missing value");
    }
  }
  if (optind < argc) {
    cli_error("unexpected argument '%s'; run 'fitcl curve-fit --help'", argv[optind]);
    return CLI_EXIT_USAGE;
  }
  if (!data || !model_arg || (!p0arg && !resume)) {
    cli_error("--data, --model and --p0 are required; run 'fitcl curve-fit --help'");
    return CLI_EXIT_USAGE;
  }

  /* Format: raw takes its value type and column count from the spec. */
  char fmtbuf[16] = "";
  if (format) {
    if (!strncmp(format, "raw", 3) && (format[3] == 0 || format[3] == ':')) {
      const char *p = format + 3;
      snprintf(fmtbuf, sizeof fmtbuf, "raw");
      if (*p == ':') {
        ++p;
        if (!strncmp(p, "f64", 3)) so.raw_float32 = 0;
        else if (!strncmp(p, "f32", 3)) so.raw_float32 = 1;
        else {
          cli_error("--format: raw value type must be f64 or f32, got '%s'", p);
          return CLI_EXIT_USAGE;
        }
        p += 3;
        if (*p == ':') {
          long k;
          if (!cli_parse_long("--format raw columns", p + 1, 1, MAXV + 2, &k)) return CLI_EXIT_USAGE;
          so.raw_columns = (int)k;
        } else if (*p) {
          cli_error("--format: expected raw[:f64|f32[:COLUMNS]], got '%s'", format);
          return CLI_EXIT_USAGE;
        }
      }
      format = fmtbuf;
    }
  }
  int mapped;
  {
    const char *f = format;
    size_t L = strlen(data);
    if (f) mapped = !strcmp(f, "npy") || !strcmp(f, "raw");
    else
      mapped = (L > 4 && (!strcasecmp(data + L - 4, ".npy") || !strcasecmp(data + L - 4, ".bin") ||
                          !strcasecmp(data + L - 4, ".raw") || !strcasecmp(data + L - 4, ".dat")));
  }

  if ((rc = cli_open_context(&ctx)) != 0) return rc;
  rc = CLI_EXIT_USAGE;

  /* x columns and variable names. */
  char *xs[MAXV], *vnames[MAXV];
  char vbuf[MAXV][16];
  int nx = 0;
  if (xarg) {
    xbuf = strdup(xarg);
    nx = xbuf ? split_commas(xbuf, xs, MAXV) : -1;
    if (nx <= 0) {
      cli_error("--x: expected COL[,COL...] with at most %d columns", MAXV);
      goto done;
    }
    for (int j = 0; j < nx; ++j) {
      char *eq = strchr(xs[j], '=');
      if (eq && is_ident(xs[j]) == 0) {
        *eq = 0;
        if (!is_ident(xs[j])) {
          cli_error("--x: '%s' is not a valid variable name", xs[j]);
          goto done;
        }
        vnames[j] = xs[j];
        xs[j] = eq + 1;
      } else if (is_ident(xs[j])) {
        vnames[j] = xs[j];
      } else {
        snprintf(vbuf[j], sizeof vbuf[j], nx == 1 ? "x" : "x%d", j + 1);
        vnames[j] = vbuf[j];
      }
    }
  }

  /* Starting values. */
  char *pn[MAXP];
  double pv[MAXP];
  int np = 0;
  if (p0arg) {
    char *items[MAXP];
    p0buf = strdup(p0arg);
    np = p0buf ? split_commas(p0buf, items, MAXP) : -1;
    if (np <= 0) {
      cli_error("--p0: expected NAME=VALUE[,...] with at most %d parameters", MAXP);
      goto done;
    }
    for (int i = 0; i < np; ++i) {
      char *eq = strchr(items[i], '=');
      if (!eq) {
        cli_error("--p0: '%s' is not NAME=VALUE", items[i]);
        goto done;
      }
      *eq = 0;
      pn[i] = items[i];
      if (!is_ident(pn[i]) || find_name(pn, i, pn[i]) >= 0) {
        cli_error("--p0: '%s' is not a valid, unique parameter name", pn[i]);
        goto done;
      }
      if (!cli_parse_double("--p0", eq + 1, &pv[i])) goto done;
    }
  }

  /* Model: a built-in name or an expression. */
  fitcl_status st;
  const char *model_text = fitcl_model_builtin_expr(model_arg);
  if (model_text) {
    st = fitcl_model_builtin(ctx, model_arg, &model);
  } else {
    const char *defx = "x";
    if (!p0arg) {
      cli_error("--p0 is required with a model expression (it names the parameters)");
      goto done;
    }
    model_text = model_arg;
    st = fitcl_model_compile(ctx, model_arg, (const char *const *)pn, (size_t)np,
                             nx ? (const char *const *)vnames : &defx, nx ? (size_t)nx : 1, &model);
  }
  if (st != FITCL_OK) {
    rc = cli_fail(ctx, st, "--model");
    goto done;
  }
  int mp = (int)fitcl_model_nparams(model), mv = (int)fitcl_model_nvars(model);
  const char *mpn[MAXP];
  for (int j = 0; j < mp; ++j) mpn[j] = fitcl_model_param_name(model, j);
  double p0[MAXP];
  if (p0arg) {
    for (int i = 0; i < np; ++i) {
      int j;
      for (j = 0; j < mp; ++j)
        if (!strcmp(mpn[j], pn[i])) break;
      if (j == mp) {
        cli_error("--p0: the model has no parameter '%s'", pn[i]);
        goto done;
      }
      p0[j] = pv[i];
    }
    for (int j = 0; j < mp; ++j)
      if (find_name(pn, np, mpn[j]) < 0) {
        cli_error("--p0: no starting value for parameter '%s'", mpn[j]);
        goto done;
      }
  } else {
    for (int j = 0; j < mp; ++j) p0[j] = 0;
  }
  if (nx && nx != mv) {
    cli_error("--x: %d column%s given but the model reads %d variable%s", nx, nx == 1 ? "" : "s",
              mv, mv == 1 ? "" : "s");
    goto done;
  }

  /* Bounds and scales. */
  double lo[MAXP], hi[MAXP], xsc[MAXP];
  for (int j = 0; j < mp; ++j) {
    lo[j] = -INFINITY;
    hi[j] = INFINITY;
    xsc[j] = 1;
  }
  if (boundsarg) {
    char *items[MAXP];
    bbuf = strdup(boundsarg);
    int nb = bbuf ? split_commas(bbuf, items, MAXP) : -1;
    for (int i = 0; i < nb; ++i) {
      char *eq = strchr(items[i], '='), *colon = eq ? strchr(eq, ':') : NULL;
      if (!eq || !colon) {
        cli_error("--bounds: '%s' is not NAME=LO:HI", items[i]);
        goto done;
      }
      *eq = 0;
      *colon = 0;
      int j = -1;
      for (int k = 0; k < mp; ++k)
        if (!strcmp(mpn[k], items[i])) j = k;
      if (j < 0) {
        cli_error("--bounds: the model has no parameter '%s'", items[i]);
        goto done;
      }
      char *end;
      if (eq[1]) {
        lo[j] = strtod(eq + 1, &end);
        if (*end || isnan(lo[j])) {
          cli_error("--bounds: lower bound of %s is not a number: '%s'", items[i], eq + 1);
          goto done;
        }
      }
      if (colon[1]) {
        hi[j] = strtod(colon + 1, &end);
        if (*end || isnan(hi[j])) {
          cli_error("--bounds: upper bound of %s is not a number: '%s'", items[i], colon + 1);
          goto done;
        }
      }
    }
    if (nb < 0) {
      cli_error("--bounds: too many entries");
      goto done;
    }
    fo.lower = lo;
    fo.upper = hi;
  }
  if (xscalearg && strcmp(xscalearg, "jac") != 0) {
    char *items[MAXP];
    sbuf = strdup(xscalearg);
    int ns = sbuf ? split_commas(sbuf, items, MAXP) : -1;
    for (int i = 0; i < ns; ++i) {
      char *eq = strchr(items[i], '=');
      int j = -1;
      if (eq) {
        *eq = 0;
        for (int k = 0; k < mp; ++k)
          if (!strcmp(mpn[k], items[i])) j = k;
      }
      if (j < 0) {
        cli_error("--x-scale: expected jac or NAME=SCALE,... with the model's parameters");
        goto done;
      }
      if (!cli_parse_double("--x-scale", eq + 1, &xsc[j])) goto done;
    }
    fo.x_scale = xsc;
  }

  /* Data source. */
  const char *xspec[MAXV];
  so.path = data;
  so.format = format;
  if (nx) {
    for (int j = 0; j < nx; ++j) xspec[j] = xs[j];
    so.x = xspec;
    so.nx = (size_t)nx;
  } else if (!mapped) {
    for (int j = 0; j < mv; ++j) xspec[j] = fitcl_model_var_name(model, j);
    so.x = xspec;
    so.nx = (size_t)mv;
  } else if (mv != 1) {
    static const char *idx[] = {"0", "1", "2", "3", "4", "5", "6", "7",
                                "8", "9", "10", "11", "12", "13", "14", "15"};
    so.x = idx;
    so.nx = (size_t)mv;
  }
  so.y = ycol;
  so.sigma = sigcol;
  so.chunk_points = (size_t)chunk;
  st = fitcl_source_open(ctx, &so, &src);
  if (st != FITCL_OK) {
    rc = cli_fail(ctx, st, NULL);
    goto done;
  }

  /* Signals: the first SIGINT/SIGTERM asks the solver to stop cleanly; a
   * second one kills the process as usual. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  fo.max_iter = (int)maxit;
  fo.chunk_points = (size_t)chunk;
  fo.checkpoint_path = ckpt;
  fo.checkpoint_every = (int)ckevery;
  fo.resume_path = resume;
  fo.model_text = model_text;
  fo.interrupt = &g_interrupt;
  if (progress) fo.progress = print_progress;
  fitcl_curvefit_result res;
  st = fitcl_curve_fit_source(ctx, model, src, p0, &fo, &res);
  if (st == FITCL_ERR_INTERRUPTED) {
    if (ckpt)
      fprintf(stderr, "%s: interrupted after %d iterations; checkpoint written to %s (continue "
              "with --resume %s)\n", cli_prog, res.iterations, ckpt, ckpt);
    else
      fprintf(stderr, "%s: interrupted after %d iterations (no --checkpoint given)\n", cli_prog,
              res.iterations);
    rc = 130;
    goto done;
  }
  if (st != FITCL_OK) {
    rc = cli_fail(ctx, st, NULL);
    goto done;
  }
  if (res.singular)
    fprintf(stderr, "%s: warning: J^T J is singular at the solution; the covariance cannot be "
            "estimated\n", cli_prog);
  else if (res.ill_conditioned)
    fprintf(stderr, "%s: warning: J^T J is ill-conditioned (condition number %.3g); standard "
            "errors are unreliable\n", cli_prog, res.condition);

  fitcl_context_info info;
  memset(&info, 0, sizeof info);
  fitcl_context_get_info(ctx, &info);
  if (json) {
    cJSON *o = cJSON_CreateObject(), *P = cJSON_CreateObject(), *S = cJSON_CreateObject(),
          *C = cJSON_CreateArray();
    for (int j = 0; j < mp; ++j) {
      cJSON_AddItemToObject(P, mpn[j], json_number(res.params[j]));
      cJSON_AddItemToObject(S, mpn[j], json_number(res.stderr_[j]));
      cJSON *row = cJSON_CreateArray();
      for (int k = 0; k < mp; ++k) cJSON_AddItemToArray(row, json_number(res.covariance[j * mp + k]));
      cJSON_AddItemToArray(C, row);
    }
    cJSON_AddItemToObject(o, "params", P);
    cJSON_AddItemToObject(o, "stderr", S);
    cJSON_AddItemToObject(o, "covariance", C);
    cJSON_AddItemToObject(o, "cost", json_number(res.cost));
    cJSON_AddItemToObject(o, "rss", json_number(res.rss));
    cJSON_AddItemToObject(o, "reduced_chi2", json_number(res.reduced_chi2));
    cJSON_AddNumberToObject(o, "iterations", res.iterations);
    cJSON_AddStringToObject(o, "status", fitcl_curvefit_status_name(res.status));
    cJSON_AddBoolToObject(o, "converged", res.converged);
    cJSON_AddNumberToObject(o, "points", (double)res.points);
    cJSON_AddStringToObject(o, "backend", info.backend ? info.backend : "unknown");
    cJSON_AddNumberToObject(o, "seconds", res.seconds);
    cli_print_json(o);
  } else {
    printf("status       %s (%s) after %d iterations, %d Jacobian passes\n",
           fitcl_curvefit_status_name(res.status), res.converged ? "converged" : "not converged",
           res.iterations, res.jacobian_passes);
    printf("points       %llu\n", (unsigned long long)res.points);
    printf("cost         %.10g\nrss          %.10g\nreduced_chi2 %.10g\n", res.cost, res.rss,
           res.reduced_chi2);
    printf("%-12s %22s %22s\n", "parameter", "value", "stderr");
    for (int j = 0; j < mp; ++j)
      printf("%-12s %22.15g %22.15g\n", mpn[j], res.params[j], res.stderr_[j]);
    printf("backend      %s (%s), %.3f s\n", info.backend ? info.backend : "?",
           info.device ? info.device : "?", res.seconds);
  }
  rc = CLI_EXIT_OK;
done:
  fitcl_source_destroy(src);
  fitcl_model_destroy(model);
  fitcl_context_destroy(ctx);
  free(xbuf);
  free(p0buf);
  free(bbuf);
  free(sbuf);
  return rc;
}
