/* fitcl curve-fit, in steps: the command line (cli_curvefit.c) -> the model
 * and its parameters (cli_curvefit_model.c) -> the data source
 * (cli_curvefit_data.c) -> the fit (cli_curvefit.c) -> the report
 * (cli_curvefit_report.c).  Each step that fails prints one line and
 * returns the exit status; 0 means go on. */
#ifndef FITCL_CLI_CURVEFIT_H
#define FITCL_CLI_CURVEFIT_H

#include "cli/cli_opts.h"
#include "core/outfile.h"
#include "fitcl.h"

#define CF_MAXP FITCL_NLSQ_MAX_PARAMS
#define CF_MAXV FITCL_NLSQ_MAX_VARS

/* The command line, as parsed (strings point into argv). */
typedef struct cf_args {
  const char *data, *format, *x, *y, *sigma;
  const char *model, *p0, *bounds, *x_scale;
  const char *checkpoint, *resume;
  const char *fix, *residuals, *band;
  long chunk, memory_mb, max_iter, checkpoint_every, band_points;
  int bounds_mode, loss, absolute_sigma, progress, json, solver, profile;
  double f_scale, ftol, xtol, gtol, confidence;
} cf_args;

/* The data options: a fragment of an option table (cli_opts.h) whose
 * values struct T has cf_args' data fields. */
#define CF_DATA_OPTIONS(T)                                                                \
  {CLI_STRING("data", "FILE", T, data,                                                    \
              ".npy, .csv, .tsv, .h5/.hdf5, or raw binary (.bin/.raw/.dat)"),             \
   .flags = CLI_REQUIRED},                                                                \
  {CLI_STRING("format", "FMT", T, format,                                                 \
              "npy, csv, tsv, hdf5, or raw[:f64|f32[:COLUMNS]] (default: by extension)")}, \
  {CLI_STRING("x", "COL[,COL...]", T, x,                                                  \
              "x columns in the model's variable order; each COL is a CSV header name, an " \
              "HDF5 dataset path (PATH[:COL] for 2-D), a column index (npy, raw) or "      \
              "another FILE.npy[:COL]; NAME=COL names the variable (default: the model's " \
              "variables; column 0.. for npy/raw)")},                                     \
  {CLI_STRING("y", "COL", T, y, "y column (default: y; the column after x for npy/raw)")}, \
  {CLI_STRING("sigma", "COL", T, sigma, "standard deviation of each y (default: unweighted)")}, \
  {CLI_LONG("chunk", "N", 1, 1L << 30, T, chunk,                                         \
            "points per chunk (default 1048576; 65536 for CSV)")},                         \
  {CLI_LONG("memory-mb", "MB", 0, 1L << 30, T, memory_mb,                                \
            "largest copy of the data kept in memory after the first pass (default: a "    \
            "quarter of RAM, at most 4096; 0: read the files again on every pass)")}

/* The stopping rules and the covariance's scaling, shared by curve-fit and
 * curve-fit --batch (values struct T has max_iter, ftol, xtol, gtol,
 * absolute_sigma). */
#define CF_STOP_OPTIONS(T)                                                                 \
  {CLI_FLAG("absolute-sigma", T, absolute_sigma,                                          \
            "covariance (J^T W J)^-1 instead of scaling by the reduced chi^2")},           \
  {CLI_LONG("max-iter", "N", 1, 1000000000L, T, max_iter,                                 \
            "maximum trial steps (of each fit; default 100*(parameters+1))")},             \
  {CLI_DOUBLE("ftol", "T", CLI_FINITE, T, ftol,                                            \
              "stop when the relative cost reduction is at most T (default 1e-15, the "   \
              "rounding level; < 0: off)")},                                              \
  {CLI_DOUBLE("xtol", "T", CLI_FINITE, T, xtol,                                            \
              "stop when the Gauss-Newton step of every parameter is at most T times its " \
              "magnitude plus its standard error (default 1e-8; < 0: off)")},             \
  {CLI_DOUBLE("gtol", "T", CLI_FINITE, T, gtol,                                            \
              "stop when |cosine| between the residual and every column of J is at most " \
              "T (default: off)")}

/* --format, checked: the format name for fitcl_source_options and what a
 * raw spec says about the file's layout. */
typedef struct cf_format {
  const char *name;  /* NULL: by extension */
  char raw[4];       /* "raw" when the spec was raw[:...] (name points here) */
  int raw_float32;
  int raw_columns;
  int mapped;        /* npy or raw: columns are indices, not names */
} cf_format;

/* --x: the columns and the model variable each one gives. */
typedef struct cf_columns {
  int n;                        /* 0: --x not given */
  char *col[CF_MAXV];           /* column specs */
  char *var[CF_MAXV];           /* variable names */
  char var_default[CF_MAXV][16];
  char *buf;                    /* the split copy of --x */
} cf_columns;

/* --p0 as given: names and values, before they meet the model. */
typedef struct cf_start {
  int n;                        /* 0: --p0 not given */
  char *name[CF_MAXP];
  double value[CF_MAXP];
  char *buf;
} cf_start;

/* The model and what the command line says about its parameters, in the
 * model's parameter order. */
typedef struct cf_model {
  fitcl_model *model;
  const char *text;             /* the expression (checkpoints compare it) */
  int np, nvars;
  const char *name[CF_MAXP];
  double p0[CF_MAXP];
  double lower[CF_MAXP], upper[CF_MAXP];
  double scale[CF_MAXP];
  int fixed[CF_MAXP];           /* --fix: held at p0 */
  int bounded, scaled, nfixed;  /* --bounds, --x-scale NAME=... given; held parameters */
} cf_model;

/* The command line: options -> args (cli_curvefit.c). */

/* Data: --format (before any file is touched), then the source. */
int cf_parse_format(const cf_args *a, cf_format *fmt);
int cf_open_source(fitcl_context *ctx, const cf_args *a, const cf_format *fmt,
                   const cf_columns *cols, const cf_model *m, fitcl_source **src);

/* Model: --x and --p0 (syntax only), then the model with its starting
 * values, bounds and scales. */
int cf_parse_columns(const char *text, cf_columns *cols);
int cf_parse_start(const char *text, cf_start *start);
int cf_build_model(fitcl_context *ctx, const cf_args *a, const cf_columns *cols,
                   const cf_start *start, cf_model *m);
void cf_free(cf_columns *cols, cf_start *start, cf_model *m);

/* Report: progress lines, warnings, then the JSON object or the table. */
void cf_print_progress(void *user, const fitcl_curvefit_progress *p);
void cf_report(fitcl_context *ctx, const cf_args *a, const cf_model *m,
               const fitcl_curvefit_result *res);

/* Outputs after the fit (cli_curvefit_output.c): --residuals (one more
 * pass over the data) and --band (the fitted curve on a grid).  Each
 * returns the exit status (0 when written); a written file is appended to
 * outs[*nout] (core/outfile.h), not yet in place: the caller commits them
 * together (cli_out_commit) or drops them. */
int cf_write_residuals(fitcl_context *ctx, const cf_args *a, const cf_model *m,
                       fitcl_source *src, const fitcl_curvefit_result *res, fitcl__outfile *outs,
                       size_t *nout);
int cf_write_band(fitcl_context *ctx, const cf_args *a, const cf_model *m, fitcl_source *src,
                  const fitcl_curvefit_result *res, fitcl__outfile *outs, size_t *nout);

#endif
