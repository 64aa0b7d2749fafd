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
#define FITCL__VMATH_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define FITCL__VMATH_CLONES
#endif

#define FITCL__VM_INLINE static inline __attribute__((always_inline))

FITCL__VM_INLINE uint64_t fitcl__asu64(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
FITCL__VM_INLINE double fitcl__asf64(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }

FITCL__VM_INLINE double fitcl__exp1(double x) {
  const double shift = 0x1.8p52;
  double xc = x < -746.0 ? -746.0 : x;
  xc = xc > 710.0 ? 710.0 : xc;
  double t = xc * 1.4426950408889634074 + shift;
  double nd = t - shift;
  int64_t ni = (int64_t)(fitcl__asu64(t) - fitcl__asu64(shift));
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
  int64_t n1 = ni >> 1, n2 = ni - n1;
  double s1 = fitcl__asf64((uint64_t)(n1 + 1023) << 52);
  double s2 = fitcl__asf64((uint64_t)(n2 + 1023) << 52);
  return p * s1 * s2;
}

FITCL__VM_INLINE double fitcl__log1(double x) {
  /* Subnormals are scaled into the normal range first. */
  int sub = x < 2.2250738585072014e-308;
  double xs = sub ? x * 0x1p54 : x;
  uint64_t bits = fitcl__asu64(xs);
  int64_t e = (int64_t)((bits >> 52) & 0x7ff) - 1023 - (sub ? 54 : 0);
  double m = fitcl__asf64((bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull);
  int big = m > 1.41421356237309504880;
  m = big ? m * 0.5 : m;
  double dk = (double)(e + big);
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
FITCL__VM_INLINE void fitcl__vlog(const double *a, double *d, size_t n) {
  for (size_t i = 0; i < n; ++i) d[i] = fitcl__log1(a[i]);
}

#endif
