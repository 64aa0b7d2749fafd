/* cminpack lmder peer (see cminpack_peer.h). */
#include "cminpack_peer.h"

#include <cminpack.h>
#include <math.h>
#include <stdlib.h>

typedef struct peer_data {
  int model;
  const double *x, *q, *y;
} peer_data;

static int fcn(void *p, int m, int n, const double *par, double *fvec, double *fjac, int ldfjac,
               int iflag) {
  const peer_data *d = p;
  (void)n;
  if (d->model == PEER_MODEL_DOUBLE_EXP) {
    const double a = par[0], b = par[1], c = par[2], e = par[3];
    for (int i = 0; i < m; ++i) {
      double x = d->x[i], e1 = exp(-b * x), e2 = exp(-e * x);
      if (iflag == 1) {
        fvec[i] = a * e1 + c * e2 - d->y[i];
      } else {
        fjac[i] = e1;
        fjac[i + (size_t)ldfjac] = -a * x * e1;
        fjac[i + 2 * (size_t)ldfjac] = e2;
        fjac[i + 3 * (size_t)ldfjac] = -c * x * e2;
      }
    }
  } else if (d->model == PEER_MODEL_GAUSSIAN) {
    const double a = par[0], mu = par[1], sg = par[2], c = par[3];
    for (int i = 0; i < m; ++i) {
      double u = d->x[i] - mu, e = exp(-u * u / (2 * sg * sg));
      if (iflag == 1) {
        fvec[i] = a * e + c - d->y[i];
      } else {
        fjac[i] = e;
        fjac[i + (size_t)ldfjac] = a * e * u / (sg * sg);
        fjac[i + 2 * (size_t)ldfjac] = a * e * u * u / (sg * sg * sg);
        fjac[i + 3 * (size_t)ldfjac] = 1;
      }
    }
  } else {
    const double off = par[0], con = par[1], D0 = par[2], al = par[3], Do = par[4];
    const double a1 = al + 1;
    for (int i = 0; i < m; ++i) {
      double t = d->x[i], q2 = d->q[i] * d->q[i];
      double T = pow(t, a1), G = D0 * T / a1 + Do * t, E = exp(-2 * q2 * G);
      if (iflag == 1) {
        fvec[i] = off + con * E - d->y[i];
      } else {
        double k = con * E * (-2 * q2);
        fjac[i] = 1;
        fjac[i + (size_t)ldfjac] = E;
        fjac[i + 2 * (size_t)ldfjac] = k * T / a1;
        fjac[i + 3 * (size_t)ldfjac] = k * D0 * (T * log(t) / a1 - T / (a1 * a1));
        fjac[i + 4 * (size_t)ldfjac] = k * t;
      }
    }
  }
  return 0;
}

int fitcl_peer_cminpack_fit(int model, const double *x, const double *q, const double *y,
                            size_t n, double *p, int *nfev, int *njev, double *rss) {
  return fitcl_peer_cminpack_fit_tol(model, x, q, y, n, p, nfev, njev, rss, 1e-8);
}

int fitcl_peer_cminpack_fit_tol(int model, const double *x, const double *q, const double *y,
                                size_t n, double *p, int *nfev, int *njev, double *rss,
                                double tol) {
  int np = model == PEER_MODEL_XPCS ? 5 : 4, m = (int)n, info;
  double *fvec = malloc(sizeof(double) * n), *fjac = malloc(sizeof(double) * n * (size_t)np);
  double *wa4 = malloc(sizeof(double) * n), diag[8], qtf[8], wa1[8], wa2[8], wa3[8];
  int ipvt[8];
  peer_data d = {model, x, q, y};
  if (!fvec || !fjac || !wa4) {
    free(fvec);
    free(fjac);
    free(wa4);
    return -1;
  }
  /* MINPACK's defaults of lmder1 (tolerances sqrt(eps)) tightened to the
   * 1e-8 that fitcl and scipy use; mode 1 = internal 'jac' scaling. */
  info = lmder(fcn, &d, m, np, p, fvec, fjac, m, tol, tol, tol, 100 * (np + 1), diag, 1, 100.0,
               0, nfev, njev, ipvt, qtf, wa1, wa2, wa3, wa4);
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += fvec[i] * fvec[i];
  *rss = s;
  free(fvec);
  free(fjac);
  free(wa4);
  return info;
}
