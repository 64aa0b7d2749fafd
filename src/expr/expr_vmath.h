/* Vectorisable exp and log for the block evaluator.  libm's exp and log are
 * scalar calls the compiler cannot vectorise; these are branch-free
 * element-wise loops (Cody-Waite reduction + polynomial, bit manipulation
 * for the powers of two) that vectorise at any width.  Accuracy is about one
 * ulp (exp: degree-13 Taylor on |r| <= ln2/2; log: the fdlibm minimax
 * polynomial), so results agree with OpenCL's exp/log far inside 1e-12.
 *
 * FITCL__VMATH_CLONES asks GCC/Clang for an AVX2+FMA clone of a hot function
 * next to the baseline one, chosen once at load time by the CPU's features
 * (the binary still runs on any x86-64). */
#ifndef FITCL_EXPR_EXPR_VMATH_H
#define FITCL_EXPR_EXPR_VMATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(FITCL_NO_CLONES) && \
    !defined(__SANITIZE_ADDRESS__)
#define FITCL__VMATH_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FITCL__VMATH_CLONES
#endif

/* No floating-point options are set here.  Everything below is always
 * inlined, and inlined code is compiled with its caller's options, so a
 * pragma in this header could only take effect by reaching past it into
 * the rest of every including file (as one once did).  The files whose
 * hot loops call these functions get their options from the build instead:
 * a new one belongs in FITCL_HOT_LOOP_OPTIONS's list in CMakeLists.txt. */

#define FITCL__VM_INLINE static inline __attribute__((always_inline))

#include "common/vmath.h"

/* Arguments outside the fast forms' ranges (NaN included). */
#define FITCL__EXP_SPECIAL(v_) (((v_) < -708.0) | ((v_) > 709.0) | ((v_) != (v_)))
#define FITCL__LOG_SPECIAL(v_) \
  (((v_) < 2.2250738585072014e-308) | ((v_) > 1.7976931348623157e308) | ((v_) != (v_)))

/* exp for -708 <= x <= 709, where p * 2^n is a normal number: 2^n is added
 * to p's exponent field (two integer operations instead of fitcl_exp's two
 * scale factors, which exist for subnormal results and n = 1024).  Scaling
 * by a power of two is exact, so the bits equal fitcl_exp's. */
FITCL_VFN double fitcl__exp_inrange(double x) {
  double t, nd;
  double p = fitcl_exp_core(x, &t, &nd);
  (void)nd;
  /* The low 12 bits of t's pattern are n modulo 2^12: shifted into the
   * exponent field and added (mod 2^64), they add n to p's exponent. */
  return fitcl_as_f64(fitcl_as_u64(p) + (fitcl_as_u64(t) << 52));
}

/* d[i] = exp(u[i]) for a block: the in-range form, with the range checked in
 * the same sweep; arguments outside [-708, 709] (or NaN) are redone one by
 * one with fitcl_exp.  u must not overlap d. */
FITCL__VM_INLINE void fitcl__vexp(const double *u, double *d, size_t n) {
  uint64_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    double v = u[i];
    d[i] = fitcl__exp_inrange(v);
    bad |= (uint64_t)FITCL__EXP_SPECIAL(v);
  }
  if (bad)
    for (size_t i = 0; i < n; ++i)
      if (FITCL__EXP_SPECIAL(u[i])) d[i] = fitcl_exp(u[i]);
}
/* pow for a > 0 as exp(b log a) (relative error about |b log a| ulp); other
 * bases and non-finite operands take libm's pow.  d may alias a or b: each
 * element is read before it is written.  tmp holds n doubles. */
FITCL__VM_INLINE void fitcl__vpow(const double *a, const double *b, double *d, double *tmp,
                                  size_t n) {
  for (size_t i = 0; i < n; ++i) tmp[i] = fitcl_exp(b[i] * fitcl_log(a[i]));
  for (size_t i = 0; i < n; ++i) {
    double ai = a[i], bi = b[i];
    d[i] = ai > 0.0 && ai < INFINITY && fabs(bi) < INFINITY ? tmp[i] : pow(ai, bi);
  }
}
/* d[i] = log(a[i]) for a block: fitcl_log's algorithm without its subnormal
 * scaling and special-value selects for positive normal finite arguments,
 * fitcl_log itself for the others (found in the same sweep and redone one
 * by one, so each value depends on its argument only, never on the rest
 * of the block).  Without the selects the compiler may contract a
 * different multiply-add, so a result can differ from fitcl_log's in the
 * last bit (both about one ulp).  a must not overlap d. */
FITCL__VM_INLINE void fitcl__vlog(const double *a, double *d, size_t n) {
  uint64_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    double v = a[i];
    d[i] = fitcl_log_core(v, 1023.0);
    bad |= (uint64_t)FITCL__LOG_SPECIAL(v);
  }
  if (bad)
    for (size_t i = 0; i < n; ++i)
      if (FITCL__LOG_SPECIAL(a[i])) d[i] = fitcl_log(a[i]);
}

#endif
