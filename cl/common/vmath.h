/* exp and log written once for every backend: branch-free (selects only)
 * so they vectorise both in the pthreads block evaluator (GCC/Clang loops)
 * and across work-items in PoCL, and so both backends compute the same
 * values.  Accuracy is about one ulp: exp uses a Cody-Waite reduction to
 * |r| <= ln2/2 and a degree-13 Taylor polynomial; log is the fdlibm
 * algorithm (minimax polynomial in s = f/(2+f)).  The powers of two are
 * built from bits with unsigned 64-bit operations only (AVX2 has no signed
 * 64-bit shift or int64<->double conversion, which would block
 * vectorisation). */
#ifndef FITCL_CL_COMMON_VMATH_H
#define FITCL_CL_COMMON_VMATH_H
#include "common/compat.h"

#ifdef __OPENCL_VERSION__
#define FITCL_VFN inline
typedef ulong fitcl_u64;
#define FITCL_U64(c) c##UL
FITCL_VFN fitcl_u64 fitcl_as_u64(double d) { return as_ulong(d); }
FITCL_VFN double fitcl_as_f64(fitcl_u64 u) { return as_double(u); }
#else
#include <string.h>
/* Always inlined, so the callers' vectorised (and per-ISA cloned) loops see
 * straight-line code. */
#define FITCL_VFN static inline __attribute__((always_inline))
typedef uint64_t fitcl_u64;
#define FITCL_U64(c) UINT64_C(c)
FITCL_VFN fitcl_u64 fitcl_as_u64(double d) { fitcl_u64 u; memcpy(&u, &d, 8); return u; }
FITCL_VFN double fitcl_as_f64(fitcl_u64 u) { double d; memcpy(&d, &u, 8); return d; }
#endif

/* The two polynomial kernels, written once for double and double8 (the
 * same operations in the same order, so lanes equal the scalar results). */
/* exp(r) for |r| <= ln2/2 by Taylor-Horner; p enters as 1/13!. */
#define FITCL_EXP_HORNER(p, r)         \
  do {                                 \
    p = p * r + 1.0 / 479001600.0;     \
    p = p * r + 1.0 / 39916800.0;      \
    p = p * r + 1.0 / 3628800.0;       \
    p = p * r + 1.0 / 362880.0;        \
    p = p * r + 1.0 / 40320.0;         \
    p = p * r + 1.0 / 5040.0;          \
    p = p * r + 1.0 / 720.0;           \
    p = p * r + 1.0 / 120.0;           \
    p = p * r + 1.0 / 24.0;            \
    p = p * r + 1.0 / 6.0;             \
    p = p * r + 0.5;                   \
    p = p * r + 1.0;                   \
    p = p * r + 1.0;                   \
  } while (0)

/* out = dk*ln2 + log(1 + f) for f in [sqrt(2)/2 - 1, sqrt(2) - 1] (fdlibm's
 * reduction and coefficients), in type T. */
#define FITCL_LOG_REDUCED(T, f, dk, out)                                                   \
  do {                                                                                     \
    T s_ = (f) / (2.0 + (f));                                                              \
    T z_ = s_ * s_, w_ = z_ * z_;                                                          \
    T t1_ = w_ * (3.999999999940941908e-01 +                                               \
                  w_ * (2.222219843214978396e-01 + w_ * 1.531383769920937332e-01));        \
    T t2_ = z_ * (6.666666666666735130e-01 +                                               \
                  w_ * (2.857142874366239149e-01 +                                         \
                        w_ * (1.818357216161805012e-01 + w_ * 1.479819860511658591e-01))); \
    T R_ = t2_ + t1_;                                                                      \
    T hfsq_ = 0.5 * (f) * (f);                                                             \
    out = (dk) * 6.93147180369123816490e-01 -                                              \
          ((hfsq_ - (s_ * (hfsq_ + R_) + (dk) * 1.90821492927058770002e-10)) - (f));       \
  } while (0)

/* 2^k for an integral double k in [-1022, 1023], built from bits with
 * unsigned 64-bit integer operations only (AVX2 has no signed 64-bit shift
 * or int64<->double conversion, so those would block vectorisation). */
FITCL_VFN double fitcl_pow2i(double k) {
  const double shift = 0x1.8p52;
  fitcl_u64 kb = fitcl_as_u64(k + shift) - fitcl_as_u64(shift); /* k mod 2^64 */
  return fitcl_as_f64((kb + FITCL_U64(1023)) << 52);
}

/* exp(xc) = p * 2^nd, |xc| <= 746: returns p; *tp receives xc/ln2 + 1.5*2^52,
 * whose low bits hold nd (the pthreads evaluator's in-range form in
 * expr_vmath.h builds 2^nd from them). */
FITCL_VFN double fitcl_exp_core(double xc, double *tp, double *ndp) {
  const double shift = 0x1.8p52;
  double t = xc * 1.4426950408889634074 + shift;
  double nd = t - shift; /* round to nearest */
  double r = xc - nd * 6.93147180369123816490e-01;
  r = r - nd * 1.90821492927058770002e-10;
  double p = 1.0 / 6227020800.0;
  FITCL_EXP_HORNER(p, r);
  *tp = t;
  *ndp = nd;
  return p;
}

FITCL_VFN double fitcl_exp(double x) {
  const double shift = 0x1.8p52;
  double xc = x < -746.0 ? -746.0 : x;
  xc = xc > 710.0 ? 710.0 : xc;
  double t, nd;
  double p = fitcl_exp_core(xc, &t, &nd);
  (void)t;
  /* 2^n as two factors, so subnormal results and n = 1024 need no branch. */
  double n1 = (0.5 * nd - 0.25 + shift) - shift; /* floor(nd/2) without a libm call */
  double n2 = nd - n1;
  return p * fitcl_pow2i(n1) * fitcl_pow2i(n2);
}

/* exp(x) - 1 without cancellation: the Taylor series (degree 18, Horner,
 * the first omitted term below 2^-70 of the result) for |x| <= 0.5, else
 * fitcl_exp(x) - 1, where the difference loses at most a bit. */
FITCL_VFN double fitcl_expm1(double x) {
  double p = 1.0 + x * (1.0 / 18.0);
  p = 1.0 + x * p * (1.0 / 17.0);
  p = 1.0 + x * p * (1.0 / 16.0);
  p = 1.0 + x * p * (1.0 / 15.0);
  p = 1.0 + x * p * (1.0 / 14.0);
  p = 1.0 + x * p * (1.0 / 13.0);
  p = 1.0 + x * p * (1.0 / 12.0);
  p = 1.0 + x * p * (1.0 / 11.0);
  p = 1.0 + x * p * (1.0 / 10.0);
  p = 1.0 + x * p * (1.0 / 9.0);
  p = 1.0 + x * p * (1.0 / 8.0);
  p = 1.0 + x * p * (1.0 / 7.0);
  p = 1.0 + x * p * (1.0 / 6.0);
  p = 1.0 + x * p * (1.0 / 5.0);
  p = 1.0 + x * p * (1.0 / 4.0);
  p = 1.0 + x * p * (1.0 / 3.0);
  p = 1.0 + x * p * 0.5;
  const double small = x * p;
  return (x >= -0.5 && x <= 0.5) ? small : fitcl_exp(x) - 1.0;
}

/* log of a positive normal xs whose exponent bias is taken as ebias (1023,
 * or 1023 + 54 for the subnormals fitcl_log scales by 2^54); shared by
 * fitcl_log and the pthreads evaluator's in-range form. */
FITCL_VFN double fitcl_log_core(double xs, double ebias) {
  fitcl_u64 bits = fitcl_as_u64(xs);
  /* The biased exponent as an exact double, via the 2^52 bit trick. */
  double eb = fitcl_as_f64(FITCL_U64(0x4330000000000000) | ((bits >> 52) & 0x7ff)) - 0x1p52;
  double m = fitcl_as_f64((bits & FITCL_U64(0x000fffffffffffff)) | FITCL_U64(0x3ff0000000000000));
  double dk = eb - ebias + (m > 1.41421356237309504880 ? 1.0 : 0.0);
  m = m > 1.41421356237309504880 ? m * 0.5 : m;
  double f = m - 1.0, res;
  FITCL_LOG_REDUCED(double, f, dk, res);
  return res;
}

FITCL_VFN double fitcl_log(double x) {
  /* Subnormals are scaled into the normal range first. */
  /* Comparisons are written inline in each select (not kept in an int),
   * which is the form GCC if-converts and vectorises. */
  double xs = x < 2.2250738585072014e-308 ? x * 0x1p54 : x;
  double res = fitcl_log_core(xs, x < 2.2250738585072014e-308 ? 1077.0 : 1023.0);
  /* Special values: log(0) = -inf, log(<0) = NaN, log(inf) = inf, NaN stays. */
  res = x == 0.0 ? -INFINITY : res;
  res = x < 0.0 ? NAN : res;
  res = x == INFINITY ? INFINITY : res;
  res = x != x ? x : res;
  return res;
}

#ifdef __OPENCL_VERSION__
/* The same algorithms on double8, for the CPU-device kernels that evaluate
 * eight points per work-item step (explicit vectors, so the speed does not
 * depend on the OpenCL compiler vectorising across work-items).  Selects
 * replace the scalar ternaries; results equal the scalar versions. */
inline double8 fitcl_pow2i8(double8 k) {
  const double shift = 0x1.8p52;
  ulong8 kb = as_ulong8(k + shift) - as_ulong(shift);
  return as_double8((kb + (ulong)1023) << 52);
}

inline double8 fitcl_exp8(double8 x) {
  const double shift = 0x1.8p52;
  double8 xc = fmin(fmax(x, -746.0), 710.0);
  double8 nd = (xc * 1.4426950408889634074 + shift) - shift;
  double8 r = xc - nd * 6.93147180369123816490e-01;
  r = r - nd * 1.90821492927058770002e-10;
  double8 p = (double8)(1.0 / 6227020800.0);
  FITCL_EXP_HORNER(p, r);
  double8 n1 = (0.5 * nd - 0.25 + shift) - shift;
  double8 n2 = nd - n1;
  double8 res = p * fitcl_pow2i8(n1) * fitcl_pow2i8(n2);
  return select(res, x, isnan(x));
}

inline double8 fitcl_log8(double8 x) {
  long8 sub = x < 2.2250738585072014e-308;
  double8 xs = select(x, x * 0x1p54, sub);
  ulong8 bits = as_ulong8(xs);
  double8 eb = as_double8((ulong8)(0x4330000000000000UL) | ((bits >> 52) & (ulong)0x7ff)) - 0x1p52;
  double8 m = as_double8((bits & (ulong)0x000fffffffffffffUL) | (ulong)0x3ff0000000000000UL);
  long8 big = m > 1.41421356237309504880;
  double8 dk = eb - 1023.0 - select((double8)(0.0), (double8)(54.0), sub) +
               select((double8)(0.0), (double8)(1.0), big);
  m = select(m, m * 0.5, big);
  double8 f = m - 1.0, res;
  FITCL_LOG_REDUCED(double8, f, dk, res);
  res = select(res, (double8)(-INFINITY), x == 0.0);
  res = select(res, (double8)(NAN), x < 0.0);
  res = select(res, (double8)(INFINITY), x == (double8)(INFINITY));
  return select(res, x, isnan(x));
}

/* The pthreads evaluator's short forms (expr_vmath.h) on double8, valid for
 * arguments in the common range only (exp: [-708, 709]; log: positive
 * normal): FITCL_EXP8_SPECIAL / FITCL_LOG8_SPECIAL flag the others, and
 * the staged kernels redo a stage with the general forms when any lane of
 * the block was flagged (src/expr/expr_stages.c). */
#define FITCL_EXP8_SPECIAL(x) (((x) < -708.0) | ((x) > 709.0) | isnan(x))
#define FITCL_LOG8_SPECIAL(x) \
  (((x) < 2.2250738585072014e-308) | ((x) > 1.7976931348623157e308) | isnan(x))
inline double8 fitcl_exp8_inrange(double8 x) {
  const double shift = 0x1.8p52;
  double8 t = x * 1.4426950408889634074 + shift;
  double8 nd = t - shift;
  double8 r = x - nd * 6.93147180369123816490e-01;
  r = r - nd * 1.90821492927058770002e-10;
  double8 p = (double8)(1.0 / 6227020800.0);
  FITCL_EXP_HORNER(p, r);
  return as_double8(as_ulong8(p) + (as_ulong8(t) << 52));
}

inline double8 fitcl_log8_inrange(double8 x) {
  ulong8 bits = as_ulong8(x);
  double8 eb = as_double8((ulong8)(0x4330000000000000UL) | ((bits >> 52) & (ulong)0x7ff)) - 0x1p52;
  double8 m = as_double8((bits & (ulong)0x000fffffffffffffUL) | (ulong)0x3ff0000000000000UL);
  long8 big = m > 1.41421356237309504880;
  double8 dk = eb - 1023.0 + select((double8)(0.0), (double8)(1.0), big);
  m = select(m, m * 0.5, big);
  double8 f = m - 1.0, res;
  FITCL_LOG_REDUCED(double8, f, dk, res);
  return res;
}
#endif

#endif
