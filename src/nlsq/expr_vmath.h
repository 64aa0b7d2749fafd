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
#ifndef FITCL_NLSQ_EXPR_VMATH_H
#define FITCL_NLSQ_EXPR_VMATH_H

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

/* GCC if-converts (and so vectorises) the selects below only when it may
 * assume floating-point operations do not trap; neither option changes a
 * computed value (errno and FP exception flags are never read here).  The
 * pragma applies to the rest of every file that includes this header, which
 * are the evaluator's and the pthreads accumulation's hot loops. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math", "no-math-errno", "fp-contract=fast")
#endif

#define FITCL__VM_INLINE static inline __attribute__((always_inline))

FITCL__VM_INLINE uint64_t fitcl__asu64(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
FITCL__VM_INLINE double fitcl__asf64(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }

/* 2^k for an integral double k in [-1022, 1023], built from bits with
 * unsigned 64-bit integer operations only (AVX2 has no signed 64-bit shift
 * or int64<->double conversion, so those would block vectorisation). */
FITCL__VM_INLINE double fitcl__pow2i(double k) {
  const double shift = 0x1.8p52;
  uint64_t kb = fitcl__asu64(k + shift) - fitcl__asu64(shift); /* k mod 2^64 */
  return fitcl__asf64((kb + 1023u) << 52);
}

FITCL__VM_INLINE double fitcl__exp1(double x) {
  const double shift = 0x1.8p52;
  double xc = x < -746.0 ? -746.0 : x;
  xc = xc > 710.0 ? 710.0 : xc;
  double nd = (xc * 1.4426950408889634074 + shift) - shift; /* round to nearest */
  double r = xc - nd * 6.93147180369123816490e-01;
  r = r - nd * 1.90821492927058770002e-10;
  double p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  /* 2^n as two factors, so subnormal results and n = 1024 need no branch. */
  double n1 = (0.5 * nd - 0.25 + shift) - shift; /* floor(nd/2) without a libm call */
  double n2 = nd - n1;
  return p * fitcl__pow2i(n1) * fitcl__pow2i(n2);
}

FITCL__VM_INLINE double fitcl__log1(double x) {
  /* Subnormals are scaled into the normal range first. */
  /* Comparisons are written inline in each select (not kept in an int),
   * which is the form GCC if-converts and vectorises. */
  double xs = x < 2.2250738585072014e-308 ? x * 0x1p54 : x;
  uint64_t bits = fitcl__asu64(xs);
  /* The biased exponent as an exact double, via the 2^52 bit trick. */
  double eb = fitcl__asf64(0x4330000000000000ull | ((bits >> 52) & 0x7ff)) - 0x1p52;
  double m = fitcl__asf64((bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull);
  double dk = eb - 1023.0 - (x < 2.2250738585072014e-308 ? 54.0 : 0.0) +
              (m > 1.41421356237309504880 ? 1.0 : 0.0);
  m = m > 1.41421356237309504880 ? m * 0.5 : m;
  double f = m - 1.0;
  double s = f / (2.0 + f);
  double z = s * s, w = z * z;
  double t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 +
                                                    w * 1.531383769920937332e-01));
  double t2 = z * (6.666666666666735130e-01 +
                   w * (2.857142874366239149e-01 +
                        w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
  double R = t2 + t1;
  double hfsq = 0.5 * f * f;
  double res = dk * 6.93147180369123816490e-01 -
               ((hfsq - (s * (hfsq + R) + dk * 1.90821492927058770002e-10)) - f);
  /* Special values: log(0) = -inf, log(<0) = NaN, log(inf) = inf, NaN stays. */
  res = x == 0.0 ? -INFINITY : res;
  res = x < 0.0 ? NAN : res;
  res = x == INFINITY ? INFINITY : res;
  res = x != x ? x : res;
  return res;
}

FITCL__VM_INLINE void fitcl__vexp(const double *a, double *d, size_t n) {
  for (size_t i = 0; i < n; ++i) d[i] = fitcl__exp1(a[i]);
}
/* pow for a > 0 as exp(b log a) (relative error about |b log a| ulp); other
 * bases and non-finite operands take libm's pow.  d may alias a or b: each
 * element is read before it is written.  tmp holds n doubles. */
FITCL__VM_INLINE void fitcl__vpow(const double *a, const double *b, double *d, double *tmp,
                                  size_t n) {
  for (size_t i = 0; i < n; ++i) tmp[i] = fitcl__exp1(b[i] * fitcl__log1(a[i]));
  for (size_t i = 0; i < n; ++i) {
    double ai = a[i], bi = b[i];
    d[i] = ai > 0.0 && ai < INFINITY && fabs(bi) < INFINITY ? tmp[i] : pow(ai, bi);
  }
}
FITCL__VM_INLINE void fitcl__vlog(const double *a, double *d, size_t n) {
  for (size_t i = 0; i < n; ++i) d[i] = fitcl__log1(a[i]);
}

#endif
