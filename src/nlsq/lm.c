/* Levenberg-Marquardt, streaming, on the normal equations or the QR factor.
 *
 * Every pass over the data is a full one at the trial point: J (as JᵀJ and
 * Jᵀr, or as the QR triangle of [J | r]) and the cost together, so an
 * accepted step costs one pass in all and its sums serve the next step; a
 * rejected one costs one pass.
 *
 * The step solves (JᵀJ + lambda D) delta = Jᵀr, D the damping diagonal
 * (MINPACK's 'jac' scaling by default), by Cholesky on the normal
 * equations, or in QR form as min |R delta - z|² + lambda |D^½ delta|²
 * (MINPACK's qrsolv: the damping rows rotated into [R | z]), which loses
 * digits as cond(J) instead of cond(J)².  The automatic solver starts on
 * the normal equations and moves to QR for the rest of the fit when the
 * column-scaled JᵀJ has a condition number above 1e8 (normal equations then
 * lose more than 8 digits).  lambda follows Nielsen's update: on acceptance
 * lambda *= max(1/10, 1-(2*rho-1)^3), on rejection lambda *= nu, nu *= 2,
 * and then at least as much as halves the rejected step's scaled length.
 *
 * Convergence is judged by the Gauss-Newton step from the current point:
 * when every free parameter's step is at most xtol times its magnitude plus
 * its standard error, the point is the least-squares solution to that
 * accuracy, and the fit stops there with the sums of the point in hand (no
 * further pass).  A test on the cost reduction alone (MINPACK's ftol)
 * stops early on problems with a large residual or many points: a relative
 * reduction of 1e-8 leaves the parameters 1e-4 sqrt(points) standard
 * errors away from the optimum.  The default ftol is therefore at the
 * rounding level of the cost (no further reduction is possible), and gtol
 * is off.
 *
 * Box bounds: parameters sitting on a bound with the gradient pushing
 * outward are held for the step; the free ones that leave the box are
 * reflected back into it, or projected onto its face when that is asked
 * for or when the quadratic model predicts the projected point gains more
 * (an optimum on the face).  Parameters marked fixed never move. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/accum_qr.h"
#include "common/bounds.h"
#include "core/context.h"
#include "core/util.h"
#include "nlsq/checkpoint.h"
#include "nlsq/lm.h"

#define NMAX FITCL_NLSQ_MAX_PARAMS
/* Above this condition number of the column-scaled JᵀJ the automatic
 * solver moves to QR: the normal equations' solution then carries a
 * relative error of about cond * eps = 2e-8 in its weakest direction. */
#define QR_SWITCH_COND 1e8

const char *fitcl_curvefit_status_name(fitcl_curvefit_status s) {
  switch (s) {
    case FITCL_CURVEFIT_RUNNING: return "running";
    case FITCL_CURVEFIT_CONVERGED_FTOL: return "converged_ftol";
    case FITCL_CURVEFIT_CONVERGED_XTOL: return "converged_xtol";
    case FITCL_CURVEFIT_CONVERGED_GTOL: return "converged_gtol";
    case FITCL_CURVEFIT_MAX_ITER: return "max_iter";
    case FITCL_CURVEFIT_SINGULAR: return "singular";
    case FITCL_CURVEFIT_NONFINITE: return "nonfinite";
    case FITCL_CURVEFIT_INTERRUPTED: return "interrupted";
  }
  return "unknown";
}

static double tol_or(double t, double dflt) { return t == 0 ? dflt : t; }

/* Decrease of the Gauss-Newton model for a step: step.g - step.JtJ.step/2. */
static double model_gain(int n, const fitcl__lm_eval *S, const double *step) {
  double pred = 0;
  for (int i = 0; i < n; ++i) {
    double q = 0;
    for (int j = 0; j < n; ++j) q += S->jtj[i * n + j] * step[j];
    pred += step[i] * (S->jtr[i] - 0.5 * q);
  }
  return pred;
}

static int is_converged(fitcl_curvefit_status s) {
  return s == FITCL_CURVEFIT_CONVERGED_FTOL || s == FITCL_CURVEFIT_CONVERGED_XTOL ||
         s == FITCL_CURVEFIT_CONVERGED_GTOL;
}

/* The active set's system at the current point: in QR form the triangle
 * of [J_A | r] (re-triangularised from the pass's triangle), else the
 * normal-equation blocks. */
typedef struct lm_sys {
  int na, qr;
  int cols[NMAX];
  double A[NMAX * NMAX], b[NMAX];        /* normal: JᵀJ_AA, Jᵀr_A */
  double Tz[FITCL_QR_TRI(NMAX + 1)];     /* QR: packed [R_A | z_A] */
} lm_sys;

static void sys_build(lm_sys *y, const fitcl__lm_eval *S, int n, const int *cols, int na) {
  y->na = na;
  y->qr = S->qr;
  memcpy(y->cols, cols, sizeof(int) * (size_t)na);
  for (int a = 0; a < na; ++a) {
    y->b[a] = S->jtr[cols[a]];
    for (int c = 0; c < na; ++c) y->A[a * na + c] = S->jtj[cols[a] * n + cols[c]];
  }
  if (S->qr) fitcl__lm_qr_subset(S->T, n + 1, cols, na, y->Tz);
}

/* The damped step on the active set; 0, -1 (no direction), -2 (LAPACK). */
static int sys_step(const lm_sys *y, const double *d2, double lambda, double *x) {
  double dd[NMAX];
  for (int a = 0; a < y->na; ++a) dd[a] = d2[y->cols[a]];
  if (y->qr && fitcl__lm_qr_solve(y->na, y->Tz, dd, lambda, x) == 0) return 0;
  /* The normal equations; also the fallback of a singular QR system, where
   * the pseudo-inverse drops the directions without information. */
  int pinv = 0;
  return fitcl__lm_solve_damped(y->na, y->A, dd, lambda, y->b, x, &pinv);
}

/* Standard errors on the active set from the current sums (0 where they
 * cannot be had): the absolute part of the convergence test's scale. */
static void sys_stderr(const lm_sys *y, double s2, double *se) {
  double inv[NMAX * NMAX], cond;
  int na = y->na, bad = y->qr ? fitcl__lm_qr_inverse(na, y->Tz, inv, &cond)
                              : fitcl__lm_inverse(na, y->A, inv, &cond);
  for (int a = 0; a < na; ++a) {
    double v = bad ? 0 : inv[a * na + a] * s2;
    se[a] = v > 0 && isfinite(v) ? sqrt(v) : 0;
  }
}

/* The scaled length |D^½ x| of the damped step at lambda. */
static double step_radius(const lm_sys *y, const double *d2, double lambda) {
  double x[NMAX];
  if (sys_step(y, d2, lambda, x) != 0) return 0;
  double s = 0;
  for (int a = 0; a < y->na; ++a) s += d2[y->cols[a]] * x[a] * x[a];
  return sqrt(s);
}

/* The smallest damping from lambda0 up (to a factor of 2) whose step has a
 * scaled length at most radius: the length falls monotonically as lambda
 * grows. */
static double lambda_for_radius(const lm_sys *y, const double *d2, double lambda0,
                                double radius) {
  double lambda = lambda0;
  for (int i = 0; i < 2000 && lambda < 1e250 && step_radius(y, d2, lambda) > radius; ++i)
    lambda *= 2;
  return lambda;
}

/* Covariance, standard errors and correlations from the final sums. */
static void fill_uncertainty(fitcl_context *ctx, int n, const fitcl__lm_eval *S,
                             const int *cols, int na, const fitcl_curvefit_options *opt,
                             fitcl_curvefit_result *res) {
  double inv[NMAX * NMAX], cond = INFINITY;
  lm_sys *y = malloc(sizeof *y);
  int singular = 1;
  if (y) {
    sys_build(y, S, n, cols, na);
    singular = na > 0 && (S->qr ? fitcl__lm_qr_inverse(na, y->Tz, inv, &cond)
                                : fitcl__lm_inverse(na, y->A, inv, &cond));
    free(y);
  }
  double dof = (double)S->points - (double)na;
  double s2 = opt->absolute_sigma ? 1.0 : (dof > 0 ? 2.0 * S->cost / dof : INFINITY);
  res->singular = singular;
  res->condition = cond;
  res->ill_conditioned = !(cond <= 1e10);
  for (int i = 0; i < n * n; ++i) res->covariance[i] = 0.0;
  for (int a = 0; a < na; ++a)
    for (int c = 0; c < na; ++c)
      res->covariance[cols[a] * n + cols[c]] = singular ? INFINITY : inv[a * na + c] * s2;
  for (int i = 0; i < n; ++i) res->stderr_[i] = sqrt(res->covariance[i * n + i]);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      double d = res->stderr_[i] * res->stderr_[j];
      res->correlation[i * n + j] = (singular || !(d > 0)) ? NAN : res->covariance[i * n + j] / d;
    }
  if (singular)
    fitcl__log(ctx, FITCL_LOG_WARN, "curve fit: J^T J is singular at the solution; "
               "the covariance cannot be estimated (reported as infinite)");
  else if (res->ill_conditioned)
    fitcl__log(ctx, FITCL_LOG_WARN, "curve fit: J^T J is ill-conditioned (condition number "
               "%.3g of the scaled matrix); standard errors are unreliable", cond);
}

/* Solver workspace: the sums of the current and the trial point. */
typedef struct lm_work {
  fitcl__lm_eval S, T;
  lm_sys sys;
} lm_work;

fitcl_status fitcl__lm_solve(const fitcl__lm_problem *pb, const fitcl_curvefit_options *opt,
                             const fitcl__lm_state *start, fitcl__ckpt_writer *ckpt,
                             fitcl_curvefit_result *res) {
  const int n = pb->nparams;
  /* In float, a parameter reaches the device to float's epsilon: no step
   * test can ask for more (docs/precision.md). */
  const double eval_eps = pb->eval_eps > DBL_EPSILON ? pb->eval_eps : DBL_EPSILON;
  const int noisy = eval_eps > DBL_EPSILON;
  const double ftol = tol_or(opt->ftol, 1e-15), xtol = tol_or(opt->xtol, 1e-8),
               gtol = tol_or(opt->gtol, -1);
  const double xtol_eff = xtol > 0 && noisy ? fmax(xtol, eval_eps) : xtol;
  const int max_iter = opt->max_iter > 0 ? opt->max_iter : 100 * (n + 1);
  const int every = opt->checkpoint_every > 0 ? opt->checkpoint_every : 10;
  const int solver = opt->solver;
  const double t0 = fitcl__now();
  fitcl__lm_state st = *start;
  fitcl_status rc = FITCL_OK;
  fitcl_curvefit_status fs = FITCL_CURVEFIT_RUNNING;
  const fitcl_curvefit_status finished = (fitcl_curvefit_status)start->status;
  int jev_done = st.njev, last_ckpt = st.iter, nvary = 0;
  int vary[NMAX];
  double lo[NMAX], hi[NMAX];
  lm_work *w = malloc(sizeof *w);
  if (!w) return fitcl__fail(pb->ctx, FITCL_ERR_NOMEM, "curve fit: out of memory");
  fitcl__lm_eval *S = &w->S, *T = &w->T;

  for (int j = 0; j < n; ++j) {
    lo[j] = opt->lower ? opt->lower[j] : -INFINITY;
    hi[j] = opt->upper ? opt->upper[j] : INFINITY;
    if (!(pb->fixed && pb->fixed[j])) vary[nvary++] = j;
  }
  if (solver == FITCL_SOLVER_QR) st.qr = 1;
  if (solver == FITCL_SOLVER_NORMAL) st.qr = 0;

  /* The pass at the starting (or resumed) point. */
  rc = pb->pass(pb->pass_user, st.p, st.qr, S);
  if (rc != FITCL_OK) goto stop;
  jev_done = st.njev + 1;
  st.cost = S->cost;
  st.points = S->points;

  for (;;) {
    if (!isfinite(S->cost)) {
      fs = FITCL_CURVEFIT_NONFINITE;
      break;
    }
    if (finished != FITCL_CURVEFIT_RUNNING) {
      fs = finished;
      break;
    }
    for (int j = 0; j < n; ++j) {
      if (opt->x_scale) st.d2[j] = 1.0 / (opt->x_scale[j] * opt->x_scale[j]);
      else st.d2[j] = fmax(st.d2[j], S->jtj[j * n + j]);
      if (!(st.d2[j] > 0) || !isfinite(st.d2[j])) st.d2[j] = 1.0;
    }

    /* Free parameters: varying ones not held on a bound by a gradient
     * pushing out (the descent direction is +jtr). */
    int freej[NMAX], nf = 0;
    double gmax = 0, fnorm = sqrt(2.0 * S->cost);
    for (int a = 0; a < nvary; ++a) {
      int j = vary[a];
      double g = S->jtr[j];
      if ((st.p[j] <= lo[j] && g < 0) || (st.p[j] >= hi[j] && g > 0)) continue;
      freej[nf++] = j;
      double cn = sqrt(S->jtj[j * n + j]);
      if (cn > 0 && fnorm > 0) gmax = fmax(gmax, fabs(g) / (cn * fnorm));
    }
    if (S->cost == 0 || nf == 0 || (gtol > 0 && gmax <= gtol)) {
      fs = FITCL_CURVEFIT_CONVERGED_GTOL;
      break;
    }
    lm_sys *y = &w->sys;
    sys_build(y, S, n, freej, nf);

    /* Normal equations that lose too many digits: the rest of the fit in
     * QR form, starting with a QR pass at this point. */
    if (solver == FITCL_SOLVER_AUTO && !st.qr &&
        !(fitcl__lm_scaled_cond(nf, y->A) <= QR_SWITCH_COND)) {
      st.qr = 1;
      rc = pb->pass(pb->pass_user, st.p, 1, S);
      if (rc != FITCL_OK) goto stop;
      st.njev = jev_done;
      jev_done++;
      st.cost = S->cost;
      fitcl__log(pb->ctx, FITCL_LOG_INFO, "curve fit: J^T J ill-conditioned; solving by QR from "
                 "iteration %d", st.iter);
      continue;
    }

    /* Converged when the Gauss-Newton step from here is negligible for
     * every free parameter: against its magnitude, or against its
     * standard error (a parameter whose value is near 0). */
    double se[NMAX], gn[NMAX];
    if (xtol_eff > 0) {
      double dof = (double)S->points - (double)nvary;
      double s2 = opt->absolute_sigma ? 1.0 : (dof > 0 ? 2.0 * S->cost / dof : 0);
      sys_stderr(y, s2, se);
      double zero[NMAX] = {0};
      if (sys_step(y, zero, 0.0, gn) == 0) {
        int small = 1;
        for (int a = 0; a < nf && small; ++a)
          small = fabs(gn[a]) <= xtol_eff * (fabs(st.p[freej[a]]) + se[a]);
        if (small) {
          fs = FITCL_CURVEFIT_CONVERGED_XTOL;
          break;
        }
      }
    } else {
      for (int a = 0; a < nf; ++a) se[a] = 0;
    }

    /* Trial steps until one is accepted or the fit ends. */
    for (;;) {
      if (st.iter >= max_iter) {
        fs = FITCL_CURVEFIT_MAX_ITER;
        goto done;
      }
      if (opt->interrupt && *opt->interrupt) {
        rc = FITCL_ERR_INTERRUPTED;
        goto stop;
      }
      double x[NMAX];
      int sv = sys_step(y, st.d2, st.lambda, x);
      if (sv == -2) {
        rc = fitcl__fail(pb->ctx, FITCL_ERR_INTERNAL, "curve fit: LAPACK failed on the step");
        goto stop;
      }
      if (sv == -1) {
        fs = FITCL_CURVEFIT_SINGULAR;
        goto done;
      }
      double trial[NMAX], step[NMAX], alt[NMAX];
      memcpy(trial, st.p, sizeof(double) * (size_t)n);
      memcpy(alt, st.p, sizeof(double) * (size_t)n);
      int clipped = 0, moves = 0;
      for (int a = 0; a < nf; ++a) {
        int j = freej[a];
        double t = st.p[j] + x[a];
        trial[j] = fitcl_bound_coord(t, lo[j], hi[j], opt->bounds_mode == FITCL_BOUNDS_PROJECT);
        alt[j] = fitcl_bound_coord(t, lo[j], hi[j], 1);
        clipped |= trial[j] != alt[j];
        /* A step below rounding of the parameter (and of its standard
         * error) changes nothing: the damping has made it negligible. */
        moves |= fabs(x[a]) > 4 * DBL_EPSILON * (fabs(st.p[j]) + se[a]);
      }
      if (!moves) {
        fs = FITCL_CURVEFIT_CONVERGED_XTOL;
        goto done;
      }
      /* A reflected point keeps an interior optimum from being pinned to
       * the face, but when the optimum lies on the face every reflection
       * moves away from it; so the projection is taken whenever the
       * quadratic model says it gains more. */
      if (clipped) {
        double sr[NMAX], sp[NMAX];
        for (int j = 0; j < n; ++j) {
          sr[j] = trial[j] - st.p[j];
          sp[j] = alt[j] - st.p[j];
        }
        if (model_gain(n, S, sp) > model_gain(n, S, sr))
          memcpy(trial, alt, sizeof(double) * (size_t)n);
      }
      for (int j = 0; j < n; ++j) step[j] = trial[j] - st.p[j];

      rc = pb->pass(pb->pass_user, trial, st.qr, T);
      if (rc != FITCL_OK) goto stop;
      jev_done++;
      st.iter++;

      /* Predicted reduction for the step actually taken (after any
       * reflection or projection). */
      double pred = model_gain(n, S, step), snorm = 0;
      for (int i = 0; i < n; ++i) snorm += step[i] * step[i];
      double act = isfinite(T->cost) ? st.cost - T->cost : -INFINITY;
      double ratio = pred > 0 ? act / pred : (act > 0 ? 1.0 : -1.0);
      int accepted = ratio > 1e-4;
      /* Evaluated in float, the cost is rough at about eps_f times itself
       * as the parameters move (each point's rounding changes), while the
       * sums that give the step stay accurate: a step that the model
       * predicts to gain less than that roughness is judged by the model,
       * and taken unless the cost rose by more than the roughness. */
      if (!accepted && noisy && pred <= eval_eps * st.cost && act >= -eval_eps * st.cost) {
        accepted = 1;
        ratio = 1;
      }
      double lambda_used = st.lambda;
      double cost_before = st.cost;

      if (accepted) {
        memcpy(st.p, trial, sizeof(double) * (size_t)n);
        st.cost = T->cost;
        /* Nielsen's update, with the decrease allowed down to 1/10 per
         * step rather than his 1/3: near the solution the Gauss-Newton step
         * is reached in fewer passes over the data. */
        double f = 2 * ratio - 1;
        st.lambda *= fmax(0.1, 1 - f * f * f);
        st.nu = 2;
        st.njev = jev_done - 1;
        fitcl__lm_eval *tmp = S;
        S = T;
        T = tmp;
      } else {
        /* Nielsen's growth, and at least as much damping as halves the
         * step's scaled length (MINPACK's mildest contraction of its trust
         * region): where the curvature of JᵀJ dominates the damping,
         * doubling lambda barely shortens the step, and the next trial,
         * a full pass, would land next to the rejected one. */
        double xn = 0;
        for (int a = 0; a < nf; ++a) xn += st.d2[freej[a]] * x[a] * x[a];
        st.lambda = lambda_for_radius(y, st.d2, st.lambda * st.nu, 0.5 * sqrt(xn));
        st.nu *= 2;
      }
      if (opt->progress) {
        fitcl_curvefit_progress pr = {st.iter, st.cost, lambda_used, sqrt(snorm), accepted,
                                      fitcl__now() - t0};
        opt->progress(opt->progress_user, &pr);
      }
      if (ftol > 0 && fabs(act) <= ftol * cost_before && pred <= ftol * cost_before &&
          ratio <= 2)
        fs = FITCL_CURVEFIT_CONVERGED_FTOL;
      else if (!accepted && !(st.lambda < 1e250))
        /* The damping can grow no further: the step is already negligible. */
        fs = FITCL_CURVEFIT_CONVERGED_XTOL;
      if (fs != FITCL_CURVEFIT_RUNNING) goto done;
      if (accepted) {
        if (ckpt && st.iter - last_ckpt >= every) {
          fitcl__ckpt_post(ckpt, &st);
          last_ckpt = st.iter;
        }
        break;
      }
    }
  }

done:
  /* An automatic fit that ended on ill-conditioned normal equations
   * reports the covariance from a QR pass at the solution. */
  if (solver == FITCL_SOLVER_AUTO && !st.qr && nvary > 0 && is_converged(fs)) {
    lm_sys *y = &w->sys;
    sys_build(y, S, n, vary, nvary);
    if (!(fitcl__lm_scaled_cond(nvary, y->A) <= QR_SWITCH_COND)) {
      st.qr = 1;
      rc = pb->pass(pb->pass_user, st.p, 1, S);
      if (rc != FITCL_OK) goto stop;
      st.njev = jev_done;
      jev_done++;
    }
  }
  st.status = (int)fs;
  st.njev = jev_done - 1;
  memset(res, 0, sizeof *res);
  res->nparams = (size_t)n;
  memcpy(res->params, st.p, sizeof(double) * (size_t)n);
  res->cost = S->cost;
  res->rss = S->rss;
  res->points = S->points;
  {
    double dof = (double)S->points - (double)nvary;
    res->reduced_chi2 = dof > 0 ? S->rss / dof : NAN;
  }
  res->iterations = st.iter;
  res->jacobian_passes = jev_done;
  res->lambda = st.lambda;
  res->status = fs;
  res->converged = is_converged(fs);
  res->nfree = nvary;
  res->solver = st.qr ? FITCL_SOLVER_QR : FITCL_SOLVER_NORMAL;
  fill_uncertainty(pb->ctx, n, S, vary, nvary, opt, res);
  res->seconds = fitcl__now() - t0;
  free(w);
  if (ckpt) return fitcl__ckpt_flush(ckpt, &st);
  return FITCL_OK;

stop:
  /* Interrupted or failed: report the last accepted point.  st is the
   * consistent state between two trial steps, so a checkpoint of it resumes
   * exactly. */
  free(w);
  memset(res, 0, sizeof *res);
  res->nparams = (size_t)n;
  memcpy(res->params, st.p, sizeof(double) * (size_t)n);
  for (int i = 0; i < n; ++i) res->stderr_[i] = NAN;
  res->cost = st.cost;
  res->rss = NAN;
  res->reduced_chi2 = NAN;
  res->condition = NAN;
  res->points = st.points;
  res->iterations = st.iter;
  res->jacobian_passes = jev_done;
  res->lambda = st.lambda;
  res->nfree = nvary;
  res->solver = st.qr ? FITCL_SOLVER_QR : FITCL_SOLVER_NORMAL;
  res->status = rc == FITCL_ERR_INTERRUPTED ? FITCL_CURVEFIT_INTERRUPTED : FITCL_CURVEFIT_RUNNING;
  res->seconds = fitcl__now() - t0;
  if (ckpt) {
    fitcl_status wr = fitcl__ckpt_flush(ckpt, &st);
    if (rc == FITCL_ERR_INTERRUPTED && wr != FITCL_OK) return wr;
  }
  if (rc == FITCL_ERR_INTERRUPTED)
    return fitcl__fail(pb->ctx, FITCL_ERR_INTERRUPTED,
                       "curve fit interrupted after %d iterations%s", st.iter,
                       ckpt ? "; checkpoint written" : "");
  return rc;
}
