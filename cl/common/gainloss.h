/* The 2-state gain/loss Markov chain: closed-form transition matrix and its
 * derivatives, shared by the OpenCL kernels and the pthreads backend.
 *
 * States 0 (absent) and 1 (present); gain rate a (0 -> 1), loss rate b
 * (1 -> 0), branch length t.  With u = a t, w = b t, S = u + w and
 * E = exp(-S), phi = (1 - E) / S:
 *
 *   P01 = u phi          P00 = (w + u E) / S = 1 - P01
 *   P10 = w phi          P11 = (u + w E) / S = 1 - P10
 *
 * The diagonal is computed from the positive form, never as 1 - P01, so a
 * small P00 (long branch, small loss) keeps full relative precision.
 *
 * Derivatives with respect to log u and log w (the model's log-gain and
 * log-loss enter only through u and w), with psi = (E - phi) / S <= 0:
 *
 *   dP01/dlog u = u (E - w psi)     dP01/dlog w = u w psi
 *   dP10/dlog u = u w psi           dP10/dlog w = w (E - u psi)
 *
 * and dP00 = -dP01, dP11 = -dP10 (rows sum to one).  Written as E - w psi
 * (both terms >= 0) rather than phi + u psi, there is no cancellation.
 * The derivative with respect to t is dP01/dt = a E, dP10/dt = b E.
 *
 * phi and psi lose all precision as S -> 0 when formed from E, so below a
 * threshold they come from their Taylor series. */
#ifndef FITCL_CL_COMMON_GAINLOSS_H
#define FITCL_CL_COMMON_GAINLOSS_H
#include "common/compat.h"

/* Layout of one transition-matrix record (FITCL_GL_PREC doubles). */
#define FITCL_GL_P00 0
#define FITCL_GL_P01 1
#define FITCL_GL_P10 2
#define FITCL_GL_P11 3
#define FITCL_GL_U01 4 /* dP01 / dlog u */
#define FITCL_GL_U10 5 /* dP10 / dlog u */
#define FITCL_GL_W01 6 /* dP01 / dlog w */
#define FITCL_GL_W10 7 /* dP10 / dlog w */
#define FITCL_GL_T01 8 /* dP01 / dt */
#define FITCL_GL_T10 9 /* dP10 / dt */
#define FITCL_GL_PREC 10

/* phi(S) = (1 - exp(-S)) / S, accurate for every S >= 0. */
FITCL_FN fitcl_real fitcl_gl_phi(fitcl_real S) {
  if (S < 1e-3) {
    /* Truncation error below S^6/5040 < 2e-22. */
    return 1.0 - S * (0.5 - S * (1.0 / 6.0 - S * (1.0 / 24.0 - S * (1.0 / 120.0 - S / 720.0))));
  }
  return -expm1(-S) / S;
}

/* psi(S) = (exp(-S) - phi(S)) / S = sum_{k>=1} (-1)^k k S^(k-1) / (k+1)!,
 * accurate for every S >= 0. */
FITCL_FN fitcl_real fitcl_gl_psi(fitcl_real S, fitcl_real E, fitcl_real phi) {
  if (S < 0.5) {
    /* 22 terms: the first omitted one is below 0.5^22 * 23 / 24! < 1e-29. */
    fitcl_real term = 1.0; /* S^(k-1) / (k+1)! * (k+1)! bookkeeping below */
    fitcl_real sum = 0.0;
    fitcl_real fact = 2.0; /* (k+1)! for k = 1 */
    for (int k = 1; k <= 22; ++k) {
      fitcl_real v = (fitcl_real)k * term / fact;
      sum += (k & 1) ? -v : v;
      term *= S;
      fact *= (fitcl_real)(k + 2);
    }
    return sum;
  }
  return (E - phi) / S;
}

/* Transition probabilities only: out[0..3] = P00, P01, P10, P11. */
FITCL_FN void fitcl_gl_pmat(fitcl_real a, fitcl_real b, fitcl_real t, fitcl_real *out) {
  const fitcl_real u = a * t, w = b * t, S = u + w;
  const fitcl_real phi = fitcl_gl_phi(S);
  const fitcl_real p01 = u * phi, p10 = w * phi;
  if (S < 1e-3) {
    out[0] = 1.0 - p01;
    out[3] = 1.0 - p10;
  } else {
    const fitcl_real E = exp(-S);
    out[0] = (w + u * E) / S;
    out[3] = (u + w * E) / S;
  }
  out[1] = p01;
  out[2] = p10;
}

/* Full record: probabilities and derivatives (FITCL_GL_PREC values). */
FITCL_FN void fitcl_gl_pmat_deriv(fitcl_real a, fitcl_real b, fitcl_real t, fitcl_real *out) {
  const fitcl_real u = a * t, w = b * t, S = u + w;
  const fitcl_real E = exp(-S);
  const fitcl_real phi = fitcl_gl_phi(S);
  const fitcl_real psi = fitcl_gl_psi(S, E, phi);
  fitcl_gl_pmat(a, b, t, out);
  const fitcl_real uwpsi = u * w * psi;
  out[FITCL_GL_U01] = u * (E - w * psi);
  out[FITCL_GL_U10] = uwpsi;
  out[FITCL_GL_W01] = uwpsi;
  out[FITCL_GL_W10] = w * (E - u * psi);
  out[FITCL_GL_T01] = a * E;
  out[FITCL_GL_T10] = b * E;
}

/* Stationary probability of presence, g / (g + l). */
FITCL_FN fitcl_real fitcl_gl_pi1(fitcl_real g, fitcl_real l) { return g / (g + l); }

/* Contribution of a child along its branch: s_x = sum_y P(x,y) in_y. */
FITCL_FN fitcl_real fitcl_gl_s0(const fitcl_real *P, fitcl_real in0, fitcl_real in1) {
  return P[FITCL_GL_P00] * in0 + P[FITCL_GL_P01] * in1;
}
FITCL_FN fitcl_real fitcl_gl_s1(const fitcl_real *P, fitcl_real in0, fitcl_real in1) {
  return P[FITCL_GL_P10] * in0 + P[FITCL_GL_P11] * in1;
}

/* sum_{x,y} G_x dP(x,y) in_y for a derivative record d01 = dP01, d10 = dP10
 * (dP00 = -dP01, dP11 = -dP10): (in1 - in0) (G0 d01 - G1 d10). */
FITCL_FN fitcl_real fitcl_gl_dcontract(fitcl_real d01, fitcl_real d10, fitcl_real g0,
                                       fitcl_real g1, fitcl_real in0, fitcl_real in1) {
  return (in1 - in0) * (g0 * d01 - g1 * d10);
}

/* Power-of-two rescaling: a partial whose largest entry drops below
 * 2^-FITCL_GL_SCALE_BITS is multiplied by 2^FITCL_GL_SCALE_BITS, exactly,
 * and the pattern's scale counter is incremented.  Exact scaling keeps the
 * backends in agreement and the log-scaler an integer multiple of
 * FITCL_GL_SCALE_BITS * log(2). */
#define FITCL_GL_SCALE_BITS 256
#define FITCL_GL_SCALE_LOW 0x1p-256
#define FITCL_GL_SCALE_UP 0x1p256
#define FITCL_GL_LN2_SCALE (256.0 * 0.69314718055994530942) /* 256 log 2 */

#endif
