/* fitcl curve-fit: the files written after the fit (--residuals, --band),
 * through the table writer (cli_table_out.h).  Each is written, not yet
 * committed: the caller commits them together (cli_out_commit). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_curvefit.h"
#include "cli/cli_table_out.h"

/* One more pass over the data at the solution: per point the x columns,
 * y, the fit, y - fit and (y - fit)/sigma. */
int cf_write_residuals(fitcl_context *ctx, const cf_args *a, const cf_model *m,
                       fitcl_source *src, const fitcl_curvefit_result *res, fitcl__outfile *outs,
                       size_t *nout) {
  if (!a->residuals) return 0;
  const int nv = m->nvars, ncols = nv + 4;
  const char *names[CF_MAXV + 4];
  for (int j = 0; j < nv; ++j) names[j] = fitcl_model_var_name(m->model, (size_t)j);
  names[nv] = "y";
  names[nv + 1] = "fit";
  names[nv + 2] = "residual";
  names[nv + 3] = "weighted_residual";
  int rc;
  cli_table_out *t = cli_table_open("--residuals", a->residuals, names, ncols, res->points, &rc);
  if (!t) return rc;
  fitcl_status st = fitcl_source_rewind(src);
  double *f = NULL, row[CF_MAXV + 4];
  size_t cap = 0;
  fitcl_chunk c;
  while (st == FITCL_OK && (st = fitcl_source_next(src, &c)) == FITCL_OK && c.n) {
    if (c.n > cap) {
      free(f);
      cap = c.n;
      if (!(f = malloc(cap * sizeof *f))) {
        st = FITCL_ERR_NOMEM;
        break;
      }
    }
    st = fitcl_model_eval(m->model, res->params, c.x, c.n, f, NULL);
    for (size_t i = 0; st == FITCL_OK && i < c.n; ++i) {
      for (int j = 0; j < nv; ++j) row[j] = c.x[j][i];
      double r = c.y[i] - f[i];
      row[nv] = c.y[i];
      row[nv + 1] = f[i];
      row[nv + 2] = r;
      row[nv + 3] = c.sigma ? r / c.sigma[i] : r;
      cli_table_row(t, row);
    }
  }
  free(f);
  if (st != FITCL_OK) {
    cli_table_abort(t);
    return cli_fail(ctx, st, "--residuals");
  }
  rc = cli_table_end(t, &outs[*nout]);
  if (!rc) ++*nout;
  return rc;
}

/* The curve and its bands on an even grid over the data's x range. */
int cf_write_band(fitcl_context *ctx, const cf_args *a, const cf_model *m, fitcl_source *src,
                  const fitcl_curvefit_result *res, fitcl__outfile *outs, size_t *nout) {
  (void)src;
  if (!a->band) return 0;
  if (m->nvars != 1)
    return cli_usage_error("--band needs a model of one variable (this one reads %d)", m->nvars);
  size_t n = a->band_points > 0 ? (size_t)a->band_points : 200;
  double *x = malloc(5 * n * sizeof *x);
  if (!x) return cli_fail(ctx, FITCL_ERR_NOMEM, "--band");
  double *fit = x + n, *conf = x + 2 * n, *pred = x + 3 * n;
  double lo = res->x_min[0], hi = res->x_max[0];
  for (size_t i = 0; i < n; ++i) x[i] = n > 1 ? lo + (hi - lo) * (double)i / (double)(n - 1) : lo;
  const double *cols[1] = {x};
  fitcl_status st = fitcl_curvefit_band(ctx, m->model, res, a->absolute_sigma, cols, n, fit,
                                        conf, pred);
  if (st != FITCL_OK) {
    free(x);
    return cli_fail(ctx, st, "--band");
  }
  static const char *const names[] = {"x", "fit", "conf_lower", "conf_upper", "pred_lower",
                                      "pred_upper"};
  int rc;
  cli_table_out *t = cli_table_open("--band", a->band, names, 6, n, &rc);
  if (!t) {
    free(x);
    return rc;
  }
  for (size_t i = 0; i < n; ++i) {
    double row[6] = {x[i], fit[i], fit[i] - conf[i], fit[i] + conf[i], fit[i] - pred[i],
                     fit[i] + pred[i]};
    cli_table_row(t, row);
  }
  free(x);
  rc = cli_table_end(t, &outs[*nout]);
  if (!rc) ++*nout;
  return rc;
}
