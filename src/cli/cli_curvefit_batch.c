/* fitcl curve-fit --batch: the command line, the input arrays and the
 * fits.  Inputs are whole arrays: .npy files or HDF5 datasets (an XPCS g2
 * array of q rings x delays fits one curve per ring). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_curvefit.h"
#include "cli/cli_curvefit_batch.h"
#include "cli/cli_opts.h"
#include "io/array_file.h"

#define MAXP FITCL_BATCH_MAX_PARAMS
#define MAXV FITCL_NLSQ_MAX_VARS

typedef struct cfb_args {
  int batch;
  const char *y, *x, *sigma, *weights, *p0, *p0_file, *params;
  const char *model, *bounds, *fix;
  int estimator, absolute_sigma, layout, covariance, csv, json, progress;
  long max_iter, slice;
  double ftol, xtol, gtol;
  const char *out;
} cfb_args;

static const char *const estimators[] = {"lse", "poisson", NULL};
static const char *const layouts[] = {"auto", "item", "group", NULL};

#define A cfb_args
static const cli_opt options[] = {
  {CLI_FLAG("batch", A, batch, "N independent fits of one model (this mode)")},
  {CLI_GROUP("data (FILE.npy, or FILE.h5:DATASET for HDF5):")},
  {CLI_STRING("y", "ARRAY", A, y, "observations: (N, n), one row per fit; (n,) for one fit"),
   .flags = CLI_REQUIRED},
  {CLI_STRING("x", "[NAME=]ARRAY,...", A, x,
              "one array per model variable, in the model's order: (n,) shared by every fit, "
              "(N, n) one row per fit, or (N, 1) one value per fit; NAME= names the variable "
              "of an expression (default x, or x1, x2, ...)")},
  {CLI_STRING("sigma", "ARRAY", A, sigma, "standard deviations: (n,) or (N, n)")},
  {CLI_STRING("weights", "ARRAY", A, weights, "weights 1/sigma^2 (Gpufit's): (n,) or (N, n)")},
  {CLI_GROUP("model:")},
  {CLI_STRING("model", "EXPR|NAME", A, model,
              "an expression or a built-in: exp_decay, double_exp, gaussian, lorentzian, "
              "power_law, stretched_exp, xpcs_g2"),
   .flags = CLI_REQUIRED},
  {CLI_STRING("p0", "NAME=V,...", A, p0, "one start for every fit (names an expression's "
              "parameters, in order)")},
  {CLI_STRING("p0-file", "ARRAY", A, p0_file,
              "starts: (N, p) one row per fit, or (p,), in the model's parameter order")},
  {CLI_STRING("params", "NAME,...", A, params,
              "an expression's parameter names, in order, when --p0-file gives the starts")},
  {CLI_STRING("bounds", "NAME=LO:HI,...", A, bounds, "box bounds (LO or HI may be empty)")},
  {CLI_STRING("fix", "NAME,...", A, fix, "hold these parameters at their starts")},
  {CLI_GROUP("solver:")},
  {CLI_CHOICE("estimator", "E", estimators, A, estimator,
              "lse: least squares (default); poisson: maximum likelihood for counts")},
  CF_STOP_OPTIONS(A),
  {CLI_CHOICE("layout", "L", layouts, A, layout,
              "OpenCL: auto (default), item (one work-item per fit), group (one work-group)")},
  {CLI_LONG("slice", "N", 1, 1L << 30, A, slice,
            "fits per slice: the unit of progress and device memory (default: automatic)")},
  {CLI_GROUP("output:")},
  {CLI_STRING("out", "PREFIX", A, out,
              "write PREFIX_params.npy (N, p), PREFIX_stderr.npy, PREFIX_chi2.npy, "
              "PREFIX_status.npy and PREFIX_iterations.npy (int32)")},
  {CLI_FLAG("covariance", A, covariance, "also PREFIX_covariance.npy (N, p, p) / in --json")},
  {CLI_FLAG("csv", A, csv, "one CSV row per fit on stdout (small N)")},
  {CLI_FLAG("json", A, json, "one JSON object on stdout: summary and every fit (small N)")},
  {CLI_FLAG("progress", A, progress,
            "progress lines on stderr (default when stderr is a terminal)")},
  {CLI_END}};
#undef A

static const cli_spec spec = {
  .usage = "usage: fitcl curve-fit --batch --y ARRAY --model EXPR|NAME "
           "(--p0 NAME=V,... | --p0-file ARRAY) [options]\n",
  .about = "Fits N independent curves (the rows of --y) with one model: one Levenberg-\n"
           "Marquardt iteration of every running fit per kernel launch on an OpenCL device,\n"
           "fits packed into vector blocks on the pthreads backend.\n",
  .opts = options,
  .epilog = "status codes (PREFIX_status.npy): 1 converged_ftol, 2 converged_xtol,\n"
            "3 converged_gtol, 4 max_iter, 5 singular, 6 nonfinite, 7 interrupted.\n"
            "exit status: 0 fits done (see the statuses), 1 device or internal failure,\n"
            "2 bad usage or input, 130 interrupted.\n"};

static volatile int g_interrupt;
static void on_signal(int sig) {
  (void)sig;
  g_interrupt = 1;
}

/* Splits a copy of s on commas into out (at most cap); -1 when more. */
static int split(char *s, char **out, int cap) {
  int n = 0;
  char *save = NULL;
  for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (n == cap) return -1;
    out[n++] = t;
  }
  return n;
}

static int param_index(const fitcl_model *m, const char *name) {
  for (size_t k = 0; k < fitcl_model_nparams(m); ++k)
    if (!strcmp(fitcl_model_param_name(m, k), name)) return (int)k;
  return -1;
}

typedef struct cfb_inputs {
  fitcl__array y, x[MAXV], w, p0;
  int nx;
  char *xbuf, *pbuf;
  char *xname[MAXV], *pname[MAXP];
  char xdefault[MAXV][16];
  int np_named;
  double p0v[MAXP];
} cfb_inputs;

static void inputs_free(cfb_inputs *in) {
  fitcl__array_free(&in->y);
  for (int v = 0; v < MAXV; ++v) fitcl__array_free(&in->x[v]);
  fitcl__array_free(&in->w);
  fitcl__array_free(&in->p0);
  free(in->xbuf);
  free(in->pbuf);
}

/* --x: the array specs and the variable each one gives. */
static int parse_x(const cfb_args *a, cfb_inputs *in, char **spec) {
  in->nx = 0;
  if (!a->x) return 0;
  in->xbuf = strdup(a->x);
  int n = in->xbuf ? split(in->xbuf, spec, MAXV) : -1;
  if (n <= 0) return cli_usage_error("--x: expected [NAME=]ARRAY,... with at most %d arrays", MAXV);
  for (int j = 0; j < n; ++j) {
    char *eq = strchr(spec[j], '=');
    if (eq) {
      *eq = 0;
      in->xname[j] = spec[j];
      spec[j] = eq + 1;
    } else {
      snprintf(in->xdefault[j], sizeof in->xdefault[j], n == 1 ? "x" : "x%d", j + 1);
      in->xname[j] = in->xdefault[j];
    }
  }
  in->nx = n;
  return 0;
}

/* --p0 NAME=V,... or --params NAME,...: the parameter names (and values). */
static int parse_p0(const cfb_args *a, cfb_inputs *in) {
  const char *text = a->p0 ? a->p0 : a->params;
  in->np_named = 0;
  if (!text) return 0;
  in->pbuf = strdup(text);
  char *items[MAXP];
  int n = in->pbuf ? split(in->pbuf, items, MAXP) : -1;
  const char *opt = a->p0 ? "--p0" : "--params";
  if (n <= 0) return cli_usage_error("%s: expected a list of at most %d parameters", opt, MAXP);
  for (int i = 0; i < n; ++i) {
    char *eq = strchr(items[i], '=');
    if (a->p0 && !eq) return cli_usage_error("--p0: '%s' is not NAME=VALUE", items[i]);
    if (!a->p0 && eq) return cli_usage_error("--params: '%s' is not a name", items[i]);
    if (eq) {
      *eq = 0;
      if (!cli_number("--p0", eq + 1, CLI_FINITE, &in->p0v[i])) return CLI_EXIT_USAGE;
    }
    in->pname[i] = items[i];
  }
  in->np_named = n;
  return 0;
}

static int build_model(fitcl_context *ctx, const cfb_args *a, const cfb_inputs *in,
                       fitcl_model **m) {
  fitcl_status st;
  if (fitcl_model_builtin_expr(a->model)) {
    st = fitcl_model_builtin(ctx, a->model, m);
  } else {
    if (!in->np_named)
      return cli_usage_error("--p0 NAME=V,... or --params NAME,... must name an expression's "
                             "parameters");
    static const char *const xdef[] = {"x"};
    st = fitcl_model_compile(ctx, a->model, (const char *const *)in->pname, (size_t)in->np_named,
                             in->nx ? (const char *const *)in->xname : xdef,
                             in->nx ? (size_t)in->nx : 1, m);
  }
  if (st != FITCL_OK) return cli_fail(ctx, st, "--model");
  size_t nv = fitcl_model_nvars(*m);
  if (in->nx != (int)nv)
    return cli_usage_error("--x: %d array%s given but the model reads %zu variable%s%s", in->nx,
                           in->nx == 1 ? "" : "s", nv, nv == 1 ? "" : "s",
                           nv ? "" : " (leave --x out)");
  return 0;
}

/* A batch view of array `a` for N fits of n points: (n,) shared, (N, n)
 * one row per fit, (N, 1) one value per fit, (1, n) shared. */
static int view(const char *what, const fitcl__array *a, size_t N, size_t n,
                fitcl_batch_array *out) {
  out->data = a->data;
  if (a->ndim == 1 && a->dims[0] == n) {
    out->fit_stride = 0;
    out->point_stride = a->strides[0];
    return 0;
  }
  if (a->ndim == 2 && a->dims[0] == N && a->dims[1] == n) {
    out->fit_stride = a->strides[0];
    out->point_stride = a->strides[1];
    return 0;
  }
  if (a->ndim == 2 && a->dims[0] == N && a->dims[1] == 1) {
    out->fit_stride = a->strides[0];
    out->point_stride = 0;
    return 0;
  }
  if (a->ndim == 2 && a->dims[0] == 1 && a->dims[1] == n) {
    out->fit_stride = 0;
    out->point_stride = a->strides[1];
    return 0;
  }
  char shape[64];
  if (a->ndim == 1) snprintf(shape, sizeof shape, "(%zu,)", a->dims[0]);
  else snprintf(shape, sizeof shape, "(%zu, %zu)", a->dims[0], a->dims[1]);
  cli_error("%s: shape %s does not fit %zu fits of %zu points; expected (%zu,), (%zu, %zu) or "
            "(%zu, 1)", what, shape, N, n, n, N, n, N);
  return CLI_EXIT_USAGE;
}

static int read_array(fitcl_context *ctx, const char *opt, const char *spec, fitcl__array *out) {
  fitcl_status st = fitcl__array_read(ctx, spec, out);
  if (st != FITCL_OK) return cli_fail(ctx, st, opt);
  if (out->ndim > 2) {
    cli_error("%s: %s has %d dimensions; 1-D or 2-D expected", opt, spec, out->ndim);
    return CLI_EXIT_USAGE;
  }
  return 0;
}

/* Names in --bounds and --fix, checked against the model. */
static int parse_limits(const cfb_args *a, const fitcl_model *m, double *lo, double *hi,
                        int *fixed) {
  const int np = (int)fitcl_model_nparams(m);
  for (int k = 0; k < np; ++k) {
    lo[k] = -INFINITY;
    hi[k] = INFINITY;
    fixed[k] = 0;
  }
  char *items[MAXP];
  int rc = 0;
  if (a->bounds) {
    char *buf = strdup(a->bounds);
    int n = buf ? split(buf, items, MAXP) : -1;
    if (n < 0) rc = cli_usage_error("--bounds: too many entries");
    for (int i = 0; i < n && !rc; ++i) {
      char *eq = strchr(items[i], '='), *colon = eq ? strchr(eq, ':') : NULL;
      if (!eq || !colon) {
        rc = cli_usage_error("--bounds: '%s' is not NAME=LO:HI", items[i]);
        break;
      }
      *eq = *colon = 0;
      int k = param_index(m, items[i]);
      if (k < 0) rc = cli_usage_error("--bounds: the model has no parameter '%s'", items[i]);
      if (!rc && eq[1] && !cli_number("--bounds", eq + 1, CLI_FINITE, &lo[k])) rc = CLI_EXIT_USAGE;
      if (!rc && colon[1] && !cli_number("--bounds", colon + 1, CLI_FINITE, &hi[k]))
        rc = CLI_EXIT_USAGE;
    }
    free(buf);
  }
  if (!rc && a->fix) {
    char *buf = strdup(a->fix);
    int n = buf ? split(buf, items, MAXP) : -1;
    if (n < 0) rc = cli_usage_error("--fix: too many entries");
    for (int i = 0; i < n && !rc; ++i) {
      int k = param_index(m, items[i]);
      if (k < 0) rc = cli_usage_error("--fix: the model has no parameter '%s'", items[i]);
      else fixed[k] = 1;
    }
    free(buf);
  }
  return rc;
}

/* Refuses, before anything is read, an --out file that is one of the
 * input arrays' files (an HDF5 spec's FILE part) or another output. */
static int check_outputs(const cfb_args *a, const cfb_inputs *in, const char *const *xspec) {
  if (!a->out) return 0;
  char outpath[CFB_NPY_FILES][4096], inpath[4 + MAXV][4096];
  cli_file outs[CFB_NPY_FILES], ins[4 + MAXV];
  const size_t nout = cfb_npy_paths(a->out, a->covariance, outpath);
  for (size_t k = 0; k < nout; ++k) outs[k] = (cli_file){outpath[k], "--out"};
  size_t nin = 0;
  const struct {
    const char *spec, *what;
  } named[] = {{a->y, "--y"}, {a->sigma, "--sigma"}, {a->weights, "--weights"},
               {a->p0_file, "--p0-file"}};
  for (size_t k = 0; k < sizeof named / sizeof named[0]; ++k)
    if (named[k].spec) {
      fitcl__array_spec_file(named[k].spec, inpath[nin], sizeof inpath[nin]);
      ins[nin] = (cli_file){inpath[nin], named[k].what};
      ++nin;
    }
  for (int v = 0; v < in->nx; ++v) {
    fitcl__array_spec_file(xspec[v], inpath[nin], sizeof inpath[nin]);
    ins[nin] = (cli_file){inpath[nin], "--x"};
    ++nin;
  }
  return cli_check_outputs(outs, nout, ins, nin);
}

static void print_progress(void *user, size_t done, size_t total, double elapsed) {
  (void)user;
  fprintf(stderr, "fits %zu/%zu (%.1f%%)  %.2fs\n", done, total, 100.0 * (double)done / (double)total,
          elapsed);
}

int cli_curvefit_batch(int argc, char **argv) {
  cfb_args a = {.progress = isatty(STDERR_FILENO)};
  int rc = cli_parse(&spec, argc, argv, &a, NULL);
  if (rc >= 0) return rc;
  if (!a.p0 && !a.p0_file) return cli_usage_error("--p0 or --p0-file is required");
  if (a.p0 && a.p0_file) return cli_usage_error("give --p0 or --p0-file, not both");
  if (a.params && a.p0) return cli_usage_error("--params goes with --p0-file (--p0 names them)");
  if (a.sigma && a.weights) return cli_usage_error("give --sigma or --weights, not both");
  if (a.csv + a.json > 1) return cli_usage_error("give --csv or --json, not both");
  if (a.covariance && !a.out && !a.json)
    return cli_usage_error("--covariance goes with --out or --json");
  cfb_inputs in;
  memset(&in, 0, sizeof in);
  char *xspec[MAXV];
  fitcl_context *ctx = NULL;
  fitcl_model *m = NULL;
  cfb_results r;
  memset(&r, 0, sizeof r);
  rc = parse_x(&a, &in, xspec);
  if (!rc) rc = parse_p0(&a, &in);
  if (!rc) rc = check_outputs(&a, &in, (const char *const *)xspec);
  if (!rc) rc = cli_open_context(&ctx);
  if (!rc) rc = build_model(ctx, &a, &in, &m);
  if (rc) goto done;
  const int np = (int)fitcl_model_nparams(m);
  fitcl_batch_data d;
  memset(&d, 0, sizeof d);
  rc = read_array(ctx, "--y", a.y, &in.y);
  if (rc) goto done;
  size_t N = in.y.ndim == 2 ? in.y.dims[0] : 1, n = in.y.ndim == 2 ? in.y.dims[1] : in.y.dims[0];
  d.nfits = N;
  d.npoints = n;
  d.y = (fitcl_batch_array){in.y.data, in.y.ndim == 2 ? in.y.strides[0] : 0,
                            in.y.strides[in.y.ndim - 1]};
  for (int v = 0; v < in.nx && !rc; ++v) {
    rc = read_array(ctx, "--x", xspec[v], &in.x[v]);
    if (!rc) rc = view(xspec[v], &in.x[v], N, n, &d.x[v]);
  }
  if (!rc && (a.sigma || a.weights)) {
    const char *opt = a.sigma ? "--sigma" : "--weights", *s = a.sigma ? a.sigma : a.weights;
    rc = read_array(ctx, opt, s, &in.w);
    if (!rc) rc = view(opt, &in.w, N, n, a.sigma ? &d.sigma : &d.weights);
  }
  if (rc) goto done;
  /* The starts, in the model's parameter order. */
  double p0shared[MAXP];
  if (a.p0) {
    for (int k = 0; k < np; ++k) {
      int i;
      for (i = 0; i < in.np_named; ++i)
        if (!strcmp(in.pname[i], fitcl_model_param_name(m, (size_t)k))) break;
      if (i == in.np_named) {
        rc = cli_usage_error("--p0: no starting value for parameter '%s'",
                             fitcl_model_param_name(m, (size_t)k));
        goto done;
      }
      p0shared[k] = in.p0v[i];
    }
    for (int i = 0; i < in.np_named; ++i)
      if (param_index(m, in.pname[i]) < 0) {
        rc = cli_usage_error("--p0: the model has no parameter '%s'", in.pname[i]);
        goto done;
      }
    d.p0 = p0shared;
    d.p0_fit_stride = 0;
  } else {
    rc = read_array(ctx, "--p0-file", a.p0_file, &in.p0);
    if (rc) goto done;
    int shared = in.p0.ndim == 1 && in.p0.dims[0] == (size_t)np;
    int rows = in.p0.ndim == 2 && in.p0.dims[0] == N && in.p0.dims[1] == (size_t)np &&
               in.p0.strides[1] == 1;
    if (!shared && !rows) {
      cli_error("--p0-file: expected shape (%d,) or (%zu, %d) in C order", np, N, np);
      rc = CLI_EXIT_USAGE;
      goto done;
    }
    d.p0 = in.p0.data;
    d.p0_fit_stride = shared ? 0 : (size_t)np;
  }
  double lo[MAXP], hi[MAXP];
  int fixed[MAXP];
  rc = parse_limits(&a, m, lo, hi, fixed);
  if (rc) goto done;
  fitcl_batch_options o;
  memset(&o, 0, sizeof o);
  o.estimator = (fitcl_batch_estimator)a.estimator;
  if (a.bounds) {
    o.lower = lo;
    o.upper = hi;
  }
  if (a.fix) o.fixed = fixed;
  o.absolute_sigma = a.absolute_sigma;
  o.ftol = a.ftol;
  o.xtol = a.xtol;
  o.gtol = a.gtol;
  o.max_iter = (int)a.max_iter;
  o.layout = a.layout;
  o.slice = (size_t)a.slice;
  o.interrupt = &g_interrupt;
  if (a.progress) o.progress = print_progress;
  r.model = m;
  r.nfits = N;
  r.npoints = n;
  r.np = np;
  r.params = malloc(N * (size_t)np * sizeof *r.params);
  r.stderr_ = malloc(N * (size_t)np * sizeof *r.stderr_);
  r.chi2 = malloc(N * sizeof *r.chi2);
  r.iterations = malloc(N * sizeof *r.iterations);
  r.status = malloc(N * sizeof *r.status);
  if (a.covariance) r.covariance = malloc(N * (size_t)np * (size_t)np * sizeof *r.covariance);
  if (!r.params || !r.stderr_ || !r.chi2 || !r.iterations || !r.status ||
      (a.covariance && !r.covariance)) {
    cli_error("out of memory for the results of %zu fits", N);
    rc = CLI_EXIT_FAILURE;
    goto done;
  }
  fitcl_batch_outputs out = {r.params, r.stderr_, r.covariance, r.chi2, r.iterations, r.status};
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  fitcl_status st = fitcl_fit_batch(ctx, m, &d, &o, &out, &r.summary);
  if (st == FITCL_ERR_INTERRUPTED) {
    cli_error("interrupted: %s", fitcl_errmsg(ctx));
    rc = 130;
    goto done;
  }
  if (st != FITCL_OK) {
    rc = cli_fail(ctx, st, NULL);
    goto done;
  }
  if (a.out) rc = cfb_write_npy(a.out, &r);
  if (rc) goto done;
  if (a.csv) cfb_print_csv(&r);
  else if (a.json) cfb_print_json(ctx, &r);
  else cfb_print_summary(ctx, &r);
done:
  free(r.params);
  free(r.stderr_);
  free(r.chi2);
  free(r.iterations);
  free(r.status);
  free(r.covariance);
  inputs_free(&in);
  fitcl_model_destroy(m);
  fitcl_context_destroy(ctx);
  return rc;
}
