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

#include "common/vmath.h"

FITCL__VM_INLINE void fitcl__vexp(const double *a, double *d, size_t n) {
  for (size_t i = 0; i < n; ++i) d[i] = fitcl_exp(a[i]);
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
FITCL__VM_INLINE void fitcl__vlog(const double *a, double *d, size_t n) {
  for (size_t i = 0; i < n; ++i) d[i] = fitcl_log(a[i]);
}

#endif
