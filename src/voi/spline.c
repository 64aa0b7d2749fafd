/* Tensor-product cubic B-spline rows and the second-difference penalty. */
#include "voi/spline.h"

#include <math.h>
#include <string.h>

void fitcl__spline_init(fitcl__spline *s, int dims, const int *q, const double *lo,
                        const double *hi) {
  memset(s, 0, sizeof *s);
  s->dims = dims;
  s->p = 1;
  s->nz = 1;
  for (int m = dims - 1; m >= 0; --m) {
    s->q[m] = q[m];
    s->stride[m] = s->p;
    s->p *= q[m];
    s->nz *= 4;
    s->lo[m] = lo[m];
    /* q - 3 intervals between the first and last knot inside the range. */
    s->inv_h[m] = (double)(q[m] - 3) / (hi[m] - lo[m]);
  }
}

/* The four uniform cubic B-splines that are non-zero on an interval, at
 * fraction f of it. */
static void cubic(double f, double *b) {
  const double g = 1 - f, f2 = f * f, f3 = f2 * f;
  b[0] = g * g * g / 6;
  b[1] = (3 * f3 - 6 * f2 + 4) / 6;
  b[2] = (-3 * f3 + 3 * f2 + 3 * f + 1) / 6;
  b[3] = f3 / 6;
}

void fitcl__spline_row(const fitcl__spline *s, const double *x, int *idx, double *val) {
  if (s->dims == 1) { /* the common case, without the product below */
    const double u = (x[0] - s->lo[0]) * s->inv_h[0];
    int i = u > 0 ? (int)u : 0;
    if (i > s->q[0] - 4) i = s->q[0] - 4;
    cubic(u - i, val);
    for (int a = 0; a < 4; ++a) idx[a] = i + a;
    return;
  }
  int first[FITCL_EVPPI_MAX_PARAMS];
  double b[FITCL_EVPPI_MAX_PARAMS][4];
  for (int m = 0; m < s->dims; ++m) {
    const double u = (x[m] - s->lo[m]) * s->inv_h[m];
    /* Samples outside the fitted range (none, for the samples that set it)
     * use the end intervals' polynomials. */
    int i = u > 0 ? (int)u : 0;
    if (i > s->q[m] - 4) i = s->q[m] - 4;
    first[m] = i;
    cubic(u - i, b[m]);
  }
  /* The Kronecker product margin by margin, last margin fastest: the flat
   * indices come out increasing. */
  int len = 1;
  idx[0] = 0;
  val[0] = 1.0;
  for (int m = 0; m < s->dims; ++m) {
    for (int t = len - 1; t >= 0; --t) {
      const int at = idx[t] + first[m] * s->stride[m];
      const double v = val[t];
      for (int a = 3; a >= 0; --a) {
        idx[4 * t + a] = at + a * s->stride[m];
        val[4 * t + a] = v * b[m][a];
      }
    }
    len *= 4;
  }
}

void fitcl__spline_penalty(const fitcl__spline *s, double *S) {
  const int p = s->p;
  memset(S, 0, (size_t)p * (size_t)p * sizeof *S);
  for (int m = 0; m < s->dims; ++m) {
    const int q = s->q[m], st = s->stride[m];
    /* D2ᵀD2 of the margin: rows of the second-difference operator are
     * (1, -2, 1) at i, i+1, i+2. */
    double P[64 * 64];
    memset(P, 0, sizeof P);
    for (int i = 0; i + 2 < q; ++i) {
      const double c[3] = {1, -2, 1};
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) P[(i + a) * q + (i + b)] += c[a] * c[b];
    }
    /* Kronecker with the identity of the other margins: entries (u, v)
     * whose indices agree outside margin m. */
    for (int u = 0; u < p; ++u) {
      const int um = (u / st) % q;
      for (int a = 0; a < q; ++a) {
        const double pv = P[um * q + a];
        if (pv == 0) continue;
        const int v = u + (a - um) * st;
        S[u * p + v] += pv;
      }
    }
  }
}
