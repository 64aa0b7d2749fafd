#include "core/xsum.h"

#include <math.h>
#include <string.h>

#define DIGIT ((int64_t)1 << 32)
#define LOW32 ((uint64_t)0xffffffffu)

void fitcl__xsum_init(fitcl__xsum *x) { memset(x, 0, sizeof *x); }

void fitcl__xsum_normalise(fitcl__xsum *x) {
  for (int i = 0; i < FITCL__XSUM_LIMBS - 1; ++i) {
    int64_t d = (int64_t)((uint64_t)x->limb[i] & LOW32);
    x->limb[i + 1] += (x->limb[i] - d) / DIGIT; /* exact: a multiple of 2^32 */
    x->limb[i] = d;
  }
  /* Normalised limbs weigh as much as one add each: what merging N of
   * them must count before the next carry pass. */
  x->pending = 1;
}

static void count_add(fitcl__xsum *x, int64_t n) {
  x->pending += n;
  if (x->pending >= FITCL__XSUM_CARRY_EVERY) fitcl__xsum_normalise(x);
}

void fitcl__xsum_add(fitcl__xsum *x, double v) {
  if (isnan(v)) { x->nan++; return; }
  if (isinf(v)) {
    if (v > 0) x->pos_inf++;
    else x->neg_inf++;
    return;
  }
  if (v == 0) {
    if (signbit(v)) x->neg_zero++;
    else x->not_neg_zero++;
    return;
  }
  x->not_neg_zero++;
  uint64_t u;
  memcpy(&u, &v, sizeof u);
  const int neg = (int)(u >> 63);
  const int e = (int)((u >> 52) & 0x7ff);
  uint64_t m = u & (((uint64_t)1 << 52) - 1);
  /* v = m * 2^(shift - 1074) */
  int shift = 0;
  if (e) {
    m |= (uint64_t)1 << 52;
    shift = e - 1;
  }
  const int i = shift >> 5, o = shift & 31;
  const int64_t lo = (int64_t)((m << o) & LOW32);
  const int64_t mid = (int64_t)((m >> (32 - o)) & LOW32);
  const int64_t hi = o ? (int64_t)(m >> (64 - o)) : 0;
  if (neg) {
    x->limb[i] -= lo;
    x->limb[i + 1] -= mid;
    x->limb[i + 2] -= hi;
  } else {
    x->limb[i] += lo;
    x->limb[i + 1] += mid;
    x->limb[i + 2] += hi;
  }
  count_add(x, 1);
}

void fitcl__xsum_add_ksum(fitcl__xsum *x, const fitcl__ksum *k) {
  fitcl__xsum_add(x, k->s);
  fitcl__xsum_add(x, k->c);
}

void fitcl__xsum_merge(fitcl__xsum *into, const fitcl__xsum *from) {
  for (int i = 0; i < FITCL__XSUM_LIMBS; ++i) into->limb[i] += from->limb[i];
  into->pos_inf += from->pos_inf;
  into->neg_inf += from->neg_inf;
  into->nan += from->nan;
  into->neg_zero += from->neg_zero;
  into->not_neg_zero += from->not_neg_zero;
  count_add(into, from->pending);
}

double fitcl__xsum_round(const fitcl__xsum *x) {
  if (x->nan || (x->pos_inf && x->neg_inf)) return NAN;
  if (x->pos_inf) return INFINITY;
  if (x->neg_inf) return -INFINITY;
  fitcl__xsum y = *x;
  fitcl__xsum_normalise(&y);
  const int neg = y.limb[FITCL__XSUM_LIMBS - 1] < 0;
  if (neg) {
    for (int i = 0; i < FITCL__XSUM_LIMBS; ++i) y.limb[i] = -y.limb[i];
    fitcl__xsum_normalise(&y);
  }
  int h = FITCL__XSUM_LIMBS - 1;
  while (h >= 0 && y.limb[h] == 0) --h;
  if (h < 0) return y.not_neg_zero == 0 && y.neg_zero > 0 ? -0.0 : 0.0;
  /* The top limb holds more than a digit only far above DBL_MAX. */
  if (y.limb[FITCL__XSUM_LIMBS - 1] >= DIGIT) return neg ? -INFINITY : INFINITY;
  const uint64_t *d = (const uint64_t *)y.limb;
  double r;
  if (h <= 1) {
    /* Below 2^-1010: an integer of 64 bits, converted once; ldexp is exact
     * for it (a subnormal result has at most 52 bits). */
    r = ldexp((double)(h ? (d[1] << 32 | d[0]) : d[0]), -1074);
  } else {
    /* The leading 64 bits, with every bit below them folded into the last
     * (sticky): one rounding to 53 bits, then an exact scaling. */
    uint64_t top = d[h] << 32 | d[h - 1], next = d[h - 2];
    uint64_t sticky = 0;
    for (int i = 0; i < h - 2; ++i) sticky |= d[i];
    const int lz = __builtin_clzll(top); /* < 32: d[h] != 0 */
    uint64_t w = top << lz;
    if (lz) {
      w |= next >> (32 - lz);
      sticky |= next & ((LOW32 >> lz));
    } else {
      sticky |= next;
    }
    w |= sticky != 0;
    r = ldexp((double)w, 32 * (h - 1) - 1074 - lz);
  }
  return neg ? -r : r;
}
