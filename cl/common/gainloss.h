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
 * threshold they come from their Taylor series.
 *
 * The pruning that uses these matrices is in common/pruning.h. */
#ifndef FITCL_CL_COMMON_GAINLOSS_H
#define FITCL_CL_COMMON_GAINLOSS_H
#include "common/compat.h"
#include "common/vmath.h"

/* The hot helpers must inline into the loops of the pthreads backend (which
 * are compiled for several vector widths), or those loops cannot vectorise. */
#if !defined(__OPENCL_VERSION__) && defined(__GNUC__)
#define FITCL_GL_FN static inline __attribute__((always_inline))
#else
#define FITCL_GL_FN FITCL_FN
#endif

/* Layout of one transition-matrix record (FITCL_GL_PREC doubles). */
#include "common/gl_record.h"

/* Below this S, phi comes from its Taylor series and exp(-S) = 1 - S phi:
 * no transcendental call at all, and no cancellation in 1 - exp(-S). */
#define FITCL_GL_SERIES_S 0.1

/* phi(S) = (1 - exp(-S)) / S = sum_k (-S)^k / (k+1)!, accurate for every
 * S >= 0.  Below FITCL_GL_SERIES_S the series is summed to 14 terms (the
 * first omitted term is below 0.1^14 / 15! < 1e-26). */
FITCL_GL_FN fitcl_real fitcl_gl_phi_series(fitcl_real S) {
  {
    /* Horner form of 1 - S/2 (1 - S/3 (1 - S/4 (...))), reciprocals folded. */
    fitcl_real r = 1.0 - S * (1.0 / 15.0);
    r = 1.0 - S * r * (1.0 / 14.0);
    r = 1.0 - S * r * (1.0 / 13.0);
    r = 1.0 - S * r * (1.0 / 12.0);
    r = 1.0 - S * r * (1.0 / 11.0);
    r = 1.0 - S * r * (1.0 / 10.0);
    r = 1.0 - S * r * (1.0 / 9.0);
    r = 1.0 - S * r * (1.0 / 8.0);
    r = 1.0 - S * r * (1.0 / 7.0);
    r = 1.0 - S * r * (1.0 / 6.0);
    r = 1.0 - S * r * (1.0 / 5.0);
    r = 1.0 - S * r * (1.0 / 4.0);
    r = 1.0 - S * r * (1.0 / 3.0);
    return 1.0 - S * r * 0.5;
  }
}

FITCL_GL_FN fitcl_real fitcl_gl_phi(fitcl_real S) {
  if (S < FITCL_GL_SERIES_S) return fitcl_gl_phi_series(S);
  return -expm1(-S) / S;
}

/* psi(S) = (exp(-S) - phi(S)) / S = sum_{k>=1} (-1)^k k S^(k-1) / (k+1)!,
 * accurate for every S >= 0. */
FITCL_GL_FN fitcl_real fitcl_gl_psi(fitcl_real S, fitcl_real E, fitcl_real phi) {
  if (S < 0.5) {
    /* Horner with the coefficients (-1)^k k / (k+1)!, k = 22 down to 1. */
    fitcl_real r = 8.509974375387505e-22;
    r = r * S + -1.8683261924146203e-20;
    r = r * S + 3.9145882126782523e-19;
    r = r * S + -7.809603484293113e-18;
    r = r * S + 1.4797143443923793e-16;
    r = r * S + -2.6552651846596585e-15;
    r = r * S + 4.498331606952833e-14;
    r = r * S + -7.169215998581078e-13;
    r = r * S + 1.0706029224547743e-11;
    r = r * S + -1.4911969277048643e-10;
    r = r * S + 1.9270852604185937e-09;
    r = r * S + -2.296443268665491e-08;
    r = r * S + 2.505210838544172e-07;
    r = r * S + -2.48015873015873e-06;
    r = r * S + 2.2045855379188714e-05;
    r = r * S + -0.00017361111111111112;
    r = r * S + 0.0011904761904761906;
    r = r * S + -0.006944444444444444;
    r = r * S + 0.03333333333333333;
    r = r * S + -0.125;
    r = r * S + 0.3333333333333333;
    r = r * S + -0.5;
    return r;
  }
  return (E - phi) / S;
}

/* exp(x) for x <= 0 without calls or branches, so that loops over many
 * matrices vectorise on the pthreads backend (libm's exp does not): the one
 * shared implementation in common/vmath.h (about 1 ulp, exact scaling down
 * to the subnormal range). */
FITCL_GL_FN fitcl_real fitcl_gl_exp_neg(fitcl_real x) { return fitcl_exp(x > 0.0 ? 0.0 : x); }

/* Transition probabilities only: out[0..3] = P00, P01, P10, P11.  Branch
 * free, so a loop over many matrices vectorises: below FITCL_GL_SERIES_S
 * phi's series gives everything; above it exp(-S), where 1 - exp(-S)
 * >= 0.095 no longer cancels. */
FITCL_GL_FN void fitcl_gl_pmat(fitcl_real a, fitcl_real b, fitcl_real t, fitcl_real *out) {
  const fitcl_real u = a * t, w = b * t, S = u + w;
  const int small = S < FITCL_GL_SERIES_S;
  const fitcl_real phis = fitcl_gl_phi_series(small ? S : 0.0);
  const fitcl_real Eb = fitcl_gl_exp_neg(-S);
  const fitcl_real Sx = small ? 1.0 : S;
  const fitcl_real inv = 1.0 / Sx;
  const fitcl_real omE = small ? phis : (1.0 - Eb) * inv; /* (1 - E) / S */
  const fitcl_real E = small ? 1.0 - S * phis : Eb;
  out[1] = u * omE;
  out[2] = w * omE;
  out[0] = small ? 1.0 - u * phis : (w + u * E) * inv;
  out[3] = small ? 1.0 - w * phis : (u + w * E) * inv;
}

/* Full record: probabilities and derivatives (FITCL_GL_PREC values). */
FITCL_GL_FN void fitcl_gl_pmat_deriv(fitcl_real a, fitcl_real b, fitcl_real t, fitcl_real *out) {
  const fitcl_real u = a * t, w = b * t, S = u + w;
  const int small = S < FITCL_GL_SERIES_S;
  const fitcl_real phis = fitcl_gl_phi_series(small ? S : 0.0);
  const fitcl_real Eb = fitcl_gl_exp_neg(-S);
  const fitcl_real E = small ? 1.0 - S * phis : Eb;
  const fitcl_real phi = small ? phis : (1.0 - Eb) / S;
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

#endif
