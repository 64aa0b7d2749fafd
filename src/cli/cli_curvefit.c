/* fitcl curve-fit: streaming Levenberg-Marquardt fit of a model expression
 * (or a built-in model) to a data file.  The command line and the fit; the
 * other steps are in cli_curvefit_{model,data,report}.c. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_mpi.h"
#include "cli/cli_curvefit.h"
#include "cli/cli_curvefit_batch.h"
#include "cli/cli_opts.h"

static const char *const loss_names[] = {"linear", "soft_l1", "huber", "cauchy", "arctan", NULL};
static const char *const bounds_modes[] = {"reflect", "project", NULL};
static const char *const solvers[] = {"auto", "normal", "qr", NULL};

#define A cf_args
static const cli_opt options[] = {
  {CLI_GROUP("data:")},
  CF_DATA_OPTIONS(A),
  {CLI_GROUP("model:")},
  {CLI_STRING("model", "EXPR|NAME", A, model,
              "an expression (parameters are the --p0 names, variables the --x names or x) or "
              "a built-in: exp_decay, double_exp, gaussian, lorentzian, power_law, "
              "stretched_exp, xpcs_g2"),
   .flags = CLI_REQUIRED},
  {CLI_STRING("p0", "NAME=V,...", A, p0,
              "starting values (every parameter; required unless --resume gives them to a "
              "built-in model)")},
  {CLI_STRING("bounds", "NAME=LO:HI,...", A, bounds,
              "box bounds (LO or HI may be empty for none)")},
  {CLI_CHOICE("bounds-mode", "M", bounds_modes, A, bounds_mode,
              "reflect (default) or project trial points that leave the box")},
  {CLI_STRING("x-scale", "S", A, x_scale,
              "jac (default) or NAME=SCALE,... characteristic parameter scales")},
  {CLI_STRING("fix", "NAME[=V],...", A, fix,
              "hold parameters fixed: at V, or at their --p0 value")},
  {CLI_GROUP("solver:")},
  {CLI_CHOICE("loss", "L", loss_names, A, loss,
              "linear (default), soft_l1, huber, cauchy, arctan")},
  {CLI_CHOICE("solver", "S", solvers, A, solver,
              "auto (default: normal equations, QR once J^T J is ill-conditioned), normal, or "
              "qr (streaming tall-skinny QR)")},
  {CLI_DOUBLE("f-scale", "S", CLI_POSITIVE, A, f_scale,
              "soft margin of robust losses (default 1)")},
  CF_STOP_OPTIONS(A),
  {CLI_STRING("checkpoint", "FILE", A, checkpoint,
              "write the solver state to FILE (atomically, in the background)")},
  {CLI_LONG("checkpoint-every", "N", 1, 1000000000L, A, checkpoint_every,
            "write the checkpoint every N iterations (default 10), and when the fit stops")},
  {CLI_STRING("resume", "FILE", A, resume,
              "continue from a checkpoint (same model, parameters, loss, bounds)")},
  {CLI_GROUP("output:")},
  {CLI_DOUBLE("confidence", "L", CLI_UNIT, A, confidence,
              "confidence level of the intervals and bands (default 0.95)")},
  {CLI_FLAG("profile", A, profile,
            "also profile-likelihood intervals (refits with each parameter held)")},
  {CLI_STRING("residuals", "FILE", A, residuals,
              "write x, y, fit, residual, weighted residual per point (FILE.npy: a float64 "
              "array; else CSV)")},
  {CLI_STRING("band", "FILE", A, band,
              "write the fitted curve with its confidence and prediction bands on a grid "
              "over the x range (one-variable models; .npy or CSV)")},
  {CLI_LONG("band-points", "N", 2, 100000000L, A, band_points,
            "grid points of --band (default 200)")},
  {CLI_FLAG("progress", A, progress,
            "one line per iteration on stderr (default when stderr is a terminal)")},
  {CLI_FLAG("json", A, json,
            "print one JSON object: params, stderr, covariance, confidence_intervals, "
            "cost, rss, reduced_chi2, r_squared, aic, bic, definitions, iterations, "
            "jacobian_passes, solver, fixed, status, converged, points, backend, "
            "fallback_reason (when device selection fell back), devices (with several), "
            "seconds")},
  {CLI_END}};
#undef A

static const cli_spec spec = {
  .usage = "usage: fitcl curve-fit --data FILE --model EXPR|NAME --p0 NAME=VALUE[,...] [options]\n",
  .about = "Fits y = f(x; p) by streaming Levenberg-Marquardt: the data are read in chunks\n"
           "on every pass, so files larger than memory work.\n",
  .opts = options,
  .epilog = "Many independent fits of one model: fitcl curve-fit --batch (see its --help).\n"
            "SIGINT/SIGTERM write a final checkpoint (with --checkpoint) and exit with\n"
            "status 130.\n"
            "exit status: 0 fit done (see status/converged), 1 device or internal failure,\n"
            "2 bad usage or input, 130 interrupted.\n"};

static volatile int g_interrupt;

static void on_signal(int sig) {
  (void)sig;
  g_interrupt = 1;
}

/* The first SIGINT/SIGTERM asks the solver to stop cleanly; a second one
 * kills the process as usual. */
static void catch_interrupts(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

/* Runs the solver and reports; returns the exit status. */
static int fit(fitcl_context *ctx, const cf_args *a, const cf_model *m, fitcl_source *src) {
  fitcl_curvefit_options fo;
  memset(&fo, 0, sizeof fo);
  fo.loss = (fitcl_loss)a->loss;
  fo.f_scale = a->f_scale;
  fo.absolute_sigma = a->absolute_sigma;
  fo.bounds_mode = (fitcl_bounds_mode)a->bounds_mode;
  if (m->bounded) {
    fo.lower = m->lower;
    fo.upper = m->upper;
  }
  if (m->scaled) fo.x_scale = m->scale;
  if (m->nfixed) fo.fixed = m->fixed;
  fo.solver = a->solver;
  fo.confidence = a->confidence;
  fo.profile = a->profile;
  fo.ftol = a->ftol;
  fo.xtol = a->xtol;
  fo.gtol = a->gtol;
  fo.max_iter = (int)a->max_iter;
  fo.chunk_points = (size_t)a->chunk;
  /* Over several ranks, rank 0 alone writes checkpoints and outputs. */
  fo.checkpoint_path = cli_mpi_rank() == 0 ? a->checkpoint : NULL;
  fo.checkpoint_every = (int)a->checkpoint_every;
  fo.resume_path = a->resume;
  fo.model_text = m->text;
  fo.interrupt = &g_interrupt;
  if (a->progress) fo.progress = cf_print_progress;
  catch_interrupts();
  fitcl_curvefit_result res;
  fitcl_status st = fitcl_curve_fit_source(ctx, m->model, src, m->p0, &fo, &res);
  if (st == FITCL_ERR_INTERRUPTED) {
    if (a->checkpoint)
      fprintf(stderr, "%s: interrupted after %d iterations; checkpoint written to %s (continue "
              "with --resume %s)\n", cli_prog, res.iterations, a->checkpoint, a->checkpoint);
    else
      fprintf(stderr, "%s: interrupted after %d iterations (no --checkpoint given)\n", cli_prog,
              res.iterations);
    return 130;
  }
  if (st != FITCL_OK) return cli_fail(ctx, st, NULL);
  /* Both files are written, then committed together: a failure leaves
   * neither. */
  fitcl__outfile outs[2];
  size_t nout = 0;
  if (cli_mpi_rank() != 0) return CLI_EXIT_OK;
  int rc = cf_write_residuals(ctx, a, m, src, &res, outs, &nout);
  if (!rc) rc = cf_write_band(ctx, a, m, src, &res, outs, &nout);
  if (!rc) rc = cli_out_commit(outs, nout);
  else
    for (size_t i = 0; i < nout; ++i) fitcl__out_abort(&outs[i]);
  if (rc) return rc;
  cf_report(ctx, a, m, &res);
  return CLI_EXIT_OK;
}

/* No output may be an input: --residuals, --band and --checkpoint against
 * --data and any other .npy an --x column reads; --residuals and --band
 * against --resume and --checkpoint too (the checkpoint may be the file
 * resumed from: that is how a fit goes on). */
static int check_outputs(const cf_args *a) {
  cli_file ins[2 + CF_MAXV] = {{a->data, "--data"}};
  size_t nin = 1;
  char xfiles[CF_MAXV][1024];
  if (a->x) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", a->x);
    for (char *tok = strtok(buf, ","); tok && nin < 1 + CF_MAXV; tok = strtok(NULL, ",")) {
      char *eq = strchr(tok, '='), *spec = eq ? eq + 1 : tok, *ext = strstr(spec, ".npy");
      if (!ext) continue;
      char *path = xfiles[nin - 1];
      snprintf(path, sizeof xfiles[0], "%.*s", (int)(ext + 4 - spec), spec);
      ins[nin].path = path;
      ins[nin].what = "--x";
      nin++;
    }
  }
  const cli_file outs[] = {{a->residuals, "--residuals"}, {a->band, "--band"},
                           {a->checkpoint, "--checkpoint"}};
  int rc = cli_check_outputs(outs, 3, ins, nin);
  const cli_file state[] = {{a->resume, "--resume"}, {a->checkpoint, "--checkpoint"}};
  if (!rc) rc = cli_check_outputs(outs, 2, state, 2);
  return rc;
}

int cli_curvefit(int argc, char **argv) {
  /* --batch is its own command line (many fits from whole arrays); under
   * mpirun it runs on rank 0 alone. */
  for (int i = 1; i < argc; ++i)
    if (!strcmp(argv[i], "--batch"))
      return cli_mpi_rank() > 0 ? CLI_EXIT_OK : cli_curvefit_batch(argc, argv);
  cf_args a = {.progress = isatty(STDERR_FILENO), .memory_mb = -1};
  int rc = cli_parse(&spec, argc, argv, &a, NULL);
  if (rc >= 0) return rc;
  if (!a.p0 && !a.resume) return cli_usage_error("--p0 is required (or --resume FILE)");
  if (a.confidence != 0 && !(a.confidence > 0 && a.confidence < 1))
    return cli_usage_error("--confidence: expected a level between 0 and 1, got %g", a.confidence);
  rc = check_outputs(&a);
  if (rc) return rc;
  /* Everything the command line says is checked before a device is opened. */
  cf_format fmt;
  cf_columns cols;
  cf_start start;
  cf_model m;
  memset(&cols, 0, sizeof cols);
  memset(&start, 0, sizeof start);
  memset(&m, 0, sizeof m);
  fitcl_context *ctx = NULL;
  fitcl_source *src = NULL;
  rc = cf_parse_format(&a, &fmt);
  if (!rc) rc = cf_parse_columns(a.x, &cols);
  if (!rc) rc = cf_parse_start(a.p0, &start);
  if (!rc) rc = cli_open_context(&ctx);
  if (!rc) rc = cli_mpi_share(ctx);
  if (!rc) rc = cf_build_model(ctx, &a, &cols, &start, &m);
  if (!rc && a.band && m.nvars != 1)
    rc = cli_usage_error("--band needs a model of one variable (this one reads %d)", m.nvars);
  if (!rc) rc = cf_open_source(ctx, &a, &fmt, &cols, &m, &src);
  /* Over several ranks: every rank has its inputs, or the job stops here. */
  if (!rc) rc = cli_mpi_sync(0);
  if (!rc) rc = fit(ctx, &a, &m, src);
  fitcl_source_destroy(src);
  cf_free(&cols, &start, &m);
  fitcl_context_destroy(ctx);
  return rc;
}
