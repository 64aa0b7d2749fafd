/* Projected L-BFGS for simple bounds.  See optim.h for the method and its
 * stopping rules. */
#include "phylo/optim.h"

#include <lapacke.h>
#include <math.h>
#include <string.h>

/* Largest change of any coordinate in the first (steepest-descent) step.
 * For log-parameters 0.3 is a factor 1.35: a data-driven start is rarely
 * further than that from the optimum, and a smaller first step costs one
 * quasi-Newton iteration while an overshoot costs a backtrack. */
#define FIRST_STEP 0.3

const char *fitcl__optim_status_name(fitcl__optim_status s) {
  switch (s) {
  case FITCL__OPTIM_PGTOL: return "pgtol";
  case FITCL__OPTIM_FTOL: return "ftol";
  case FITCL__OPTIM_MAXITER: return "max_iter";
  case FITCL__OPTIM_LINESEARCH: return "line_search";
  }
  return "unknown";
}

static double clampd(double v, double lo, double hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* A variable is frozen when it sits on a bound and its gradient pushes it
 * further out; every other variable is free to move. */
static void free_mask(int n, const double *x, const double *g, const double *lo,
                      const double *hi, int *fr) {
  for (int i = 0; i < n; ++i)
    fr[i] = !((x[i] <= lo[i] && g[i] > 0) || (x[i] >= hi[i] && g[i] < 0));
}

static double pg_norm(int n, const double *x, const double *g, const double *lo,
                      const double *hi) {
  double m = 0;
  for (int i = 0; i < n; ++i) {
    /* The projected gradient: how far a unit steepest-descent step moves x
     * once it is clipped to the box. */
    double p = x[i] - clampd(x[i] - g[i], lo[i], hi[i]);
    m = fmax(m, fabs(p));
  }
  return m;
}

typedef struct lbfgs_mem {
  int m, count, head;  /* ring buffer: newest pair at head-1 */
  double s[32][FITCL__OPTIM_MAXN], y[32][FITCL__OPTIM_MAXN];
} lbfgs_mem;

/* Two-loop recursion restricted to the free variables. */
static void lbfgs_direction(int n, const lbfgs_mem *M, const double *g, const int *fr,
                            double *d) {
  double q[FITCL__OPTIM_MAXN], alpha[32], rho[32];
  int use[32];
  for (int i = 0; i < n; ++i) q[i] = fr[i] ? g[i] : 0.0;
  double gamma = 0;
  for (int k = 0; k < M->count; ++k) {
    int j = (M->head - 1 - k + 2 * M->m) % M->m;
    double sy = 0, yy = 0, ss = 0;
    for (int i = 0; i < n; ++i)
      if (fr[i]) { sy += M->s[j][i] * M->y[j][i]; yy += M->y[j][i] * M->y[j][i]; ss += M->s[j][i] * M->s[j][i]; }
    /* Pairs without positive curvature in the free subspace are skipped,
     * which keeps the implied inverse Hessian positive definite. */
    use[k] = sy > 1e-12 * sqrt(ss * yy) && sy > 0;
    rho[k] = use[k] ? 1.0 / sy : 0;
    if (use[k] && gamma == 0) gamma = sy / yy;
    if (!use[k]) continue;
    double a = 0;
    for (int i = 0; i < n; ++i) if (fr[i]) a += M->s[j][i] * q[i];
    alpha[k] = a * rho[k];
    for (int i = 0; i < n; ++i) if (fr[i]) q[i] -= alpha[k] * M->y[j][i];
  }
  if (gamma == 0) gamma = 1;
  for (int i = 0; i < n; ++i) q[i] *= gamma;
  for (int k = M->count - 1; k >= 0; --k) {
    if (!use[k]) continue;
    int j = (M->head - 1 - k + 2 * M->m) % M->m;
    double b = 0;
    for (int i = 0; i < n; ++i) if (fr[i]) b += M->y[j][i] * q[i];
    b *= rho[k];
    for (int i = 0; i < n; ++i) if (fr[i]) q[i] += M->s[j][i] * (alpha[k] - b);
  }
  for (int i = 0; i < n; ++i) d[i] = fr[i] ? -q[i] : 0.0;
}

fitcl_status fitcl__optim_minimize(int n, double *x, const double *lo, const double *hi,
                                   fitcl__optim_fn fn, void *user,
                                   const fitcl__optim_options *opt, fitcl__optim_result *res) {
  if (n < 1 || n > FITCL__OPTIM_MAXN || !x || !lo || !hi || !fn || !res) return FITCL_ERR_ARG;
  for (int i = 0; i < n; ++i)
    if (!(lo[i] <= hi[i])) return FITCL_ERR_ARG;
  int max_iter = opt && opt->max_iter > 0 ? opt->max_iter : 200;
  int mem = opt && opt->memory > 0 ? opt->memory : 8;
  if (mem > 32) mem = 32;
  double pgtol = opt && opt->pgtol > 0 ? opt->pgtol : 1e-6;
  double ftol = opt && opt->ftol > 0 ? opt->ftol : 1e-12;

  static const lbfgs_mem zero_mem;
  lbfgs_mem M = zero_mem;
  M.m = mem;
  double g[FITCL__OPTIM_MAXN], d[FITCL__OPTIM_MAXN], xn[FITCL__OPTIM_MAXN],
      gn[FITCL__OPTIM_MAXN];
  int fr[FITCL__OPTIM_MAXN];
  memset(res, 0, sizeof *res);
  for (int i = 0; i < n; ++i) x[i] = clampd(x[i], lo[i], hi[i]);
  double f;
  fitcl_status st = fn(user, x, &f, g);
  res->evaluations = 1;
  if (st != FITCL_OK) return st;
  if (!isfinite(f)) return FITCL_ERR_DATA;
  for (int i = 0; i < n; ++i)
    if (!isfinite(g[i])) return FITCL_ERR_DATA;

  res->status = FITCL__OPTIM_MAXITER;
  int iter = 0;
  while (1) {
    double pgn = pg_norm(n, x, g, lo, hi);
    if (pgn <= pgtol) { res->status = FITCL__OPTIM_PGTOL; break; }
    if (iter >= max_iter) { res->status = FITCL__OPTIM_MAXITER; break; }
    free_mask(n, x, g, lo, hi, fr);
    double dg = 0;
    if (M.count > 0) {
      lbfgs_direction(n, &M, g, fr, d);
      for (int i = 0; i < n; ++i) dg += d[i] * g[i];
    }
    double a0 = 1.0;
    /* With curvature information, -d.g/2 predicts how much the full
     * quasi-Newton step would still gain.  When that is below the ftol
     * threshold, taking the step only polishes digits nobody reads. */
    if (M.count > 0 && dg < 0 && -0.5 * dg <= ftol * fmax(fabs(f), 1.0)) {
      res->status = FITCL__OPTIM_FTOL;
      break;
    }
    if (M.count == 0 || !(dg < 0)) {
      /* No curvature information yet (or it failed to give descent):
       * steepest descent with a first step of at most FIRST_STEP in the
       * largest coordinate. */
      M.count = 0;
      M.head = 0;
      double dmax = 0;
      dg = 0;
      for (int i = 0; i < n; ++i) {
        d[i] = fr[i] ? -g[i] : 0.0;
        dg += d[i] * g[i];
        dmax = fmax(dmax, fabs(d[i]));
      }
      if (dmax > 0) a0 = fmin(1.0, FIRST_STEP / dmax);
    }
    /* Backtracking along the projected path, with a safeguarded quadratic
     * interpolation of the step. */
    double a = a0, fnew = f;
    int ok = 0;
    for (int ls = 0; ls < 60; ++ls) {
      int moved = 0;
      for (int i = 0; i < n; ++i) {
        xn[i] = clampd(x[i] + a * d[i], lo[i], hi[i]);
        if (xn[i] != x[i]) moved = 1;
      }
      if (!moved) break;
      st = fn(user, xn, &fnew, gn);
      res->evaluations++;
      if (st != FITCL_OK) return st;
      double decr = 0;
      for (int i = 0; i < n; ++i) decr += g[i] * (xn[i] - x[i]);
      int finite = isfinite(fnew);
      for (int i = 0; i < n && finite; ++i) finite = isfinite(gn[i]);
      if (finite && fnew <= f + 1e-4 * decr) { ok = 1; break; }
      double an = 0.5 * a;
      if (finite) {
        double denom = 2.0 * (fnew - f - dg * a);
        if (denom > 0) an = clampd(-dg * a * a / denom, 0.1 * a, 0.5 * a);
      }
      a = an;
    }
    if (!ok) {
      if (M.count > 0) { M.count = 0; M.head = 0; continue; }
      res->status = FITCL__OPTIM_LINESEARCH;
      break;
    }
    double sy = 0;
    for (int i = 0; i < n; ++i) {
      M.s[M.head][i] = xn[i] - x[i];
      M.y[M.head][i] = gn[i] - g[i];
      sy += M.s[M.head][i] * M.y[M.head][i];
    }
    if (sy > 0) {
      M.head = (M.head + 1) % M.m;
      if (M.count < M.m) M.count++;
    }
    double fold = f;
    f = fnew;
    memcpy(x, xn, sizeof(double) * (size_t)n);
    memcpy(g, gn, sizeof(double) * (size_t)n);
    ++iter;
    if (fabs(fold - f) <= ftol * fmax(fmax(fabs(fold), fabs(f)), 1.0)) {
      res->status = pg_norm(n, x, g, lo, hi) <= pgtol ? FITCL__OPTIM_PGTOL : FITCL__OPTIM_FTOL;
      break;
    }
  }
  res->f = f;
  memcpy(res->grad, g, sizeof(double) * (size_t)n);
  res->pgnorm = pg_norm(n, x, g, lo, hi);
  res->iterations = iter;
  return FITCL_OK;
}

fitcl_status fitcl__optim_hessian(int n, const double *x, const double *lo, const double *hi,
                                  const double *h, const double *g0, fitcl__optim_fn fn,
                                  void *user, double *H) {
  if (n < 1 || n > FITCL__OPTIM_MAXN) return FITCL_ERR_ARG;
  double xp[FITCL__OPTIM_MAXN], gp[FITCL__OPTIM_MAXN], gm[FITCL__OPTIM_MAXN], f;
  for (int i = 0; i < n; ++i) {
    double hi_step = h ? h[i] : 1e-4;
    double up = x[i] + hi_step, dn = x[i] - hi_step;
    if (g0) {
      /* Forward differences from the known gradient at x: half the
       * evaluations, first-order accurate (relative error ~ h). */
      if (hi && up > hi[i]) up = x[i] - hi_step;
      memcpy(xp, x, sizeof(double) * (size_t)n);
      xp[i] = up;
      fitcl_status st = fn(user, xp, &f, gp);
      if (st != FITCL_OK) return st;
      for (int j = 0; j < n; ++j) H[i * n + j] = (gp[j] - g0[j]) / (up - x[i]);
      continue;
    }
    /* One-sided where the box forbids a central step. */
    if (hi && up > hi[i]) up = x[i];
    if (lo && dn < lo[i]) dn = x[i];
    if (up == dn) return FITCL_ERR_ARG;
    memcpy(xp, x, sizeof(double) * (size_t)n);
    xp[i] = up;
    fitcl_status st = fn(user, xp, &f, gp);
    if (st != FITCL_OK) return st;
    xp[i] = dn;
    st = fn(user, xp, &f, gm);
    if (st != FITCL_OK) return st;
    for (int j = 0; j < n; ++j) H[i * n + j] = (gp[j] - gm[j]) / (up - dn);
  }
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) {
      double v = 0.5 * (H[i * n + j] + H[j * n + i]);
      H[i * n + j] = H[j * n + i] = v;
    }
  return FITCL_OK;
}

int fitcl__spd_inverse(int n, double *A) {
  for (int i = 0; i < n * n; ++i)
    if (!isfinite(A[i])) return -1;
  if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', n, A, n) != 0) return -1;
  if (LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', n, A, n) != 0) return -1;
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) A[i * n + j] = A[j * n + i];
  return 0;
}
