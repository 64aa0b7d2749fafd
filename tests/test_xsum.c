/* The exact accumulator against a big-integer reference written here: sums
 * of doubles of wildly different exponents, cancellation, subnormals, signed
 * zeros and non-finite values; merging in any split and order. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/xsum.h"

/* ---- reference: an integer in units of 2^-1074, base-2^16 digits -------- */

#define RD 150 /* 2400 bits: the double range and room for the sums below */
typedef struct { int64_t d[RD]; } ref_int;

static void ref_add_bits(ref_int *r, uint64_t m, int shift, int sign) {
  for (int b = 0; b < 64; ++b)
    if (m >> b & 1) r->d[(shift + b) / 16] += sign * ((int64_t)1 << ((shift + b) % 16));
}

/* v added exactly: v = m * 2^(e - 53) with frexp; m an integer. */
static void ref_add(ref_int *r, double v) {
  if (v == 0) return;
  int e;
  double f = frexp(fabs(v), &e);
  uint64_t m = (uint64_t)ldexp(f, 53);
  int shift = e - 53 + 1074;
  if (shift < 0) {
    m >>= -shift; /* subnormal: the low bits are zero */
    shift = 0;
  }
  ref_add_bits(r, m, shift, v < 0 ? -1 : 1);
  for (int i = 0; i < RD - 1; ++i) { /* carry: digits in [0, 2^16) */
    int64_t c = r->d[i] >= 0 ? r->d[i] >> 16 : -((-r->d[i] + 65535) >> 16);
    r->d[i] -= c * 65536;
    r->d[i + 1] += c;
  }
}

static int ref_sign(const ref_int *r) {
  if (r->d[RD - 1]) return r->d[RD - 1] < 0 ? -1 : 1;
  for (int i = RD - 2; i >= 0; --i)
    if (r->d[i]) return 1;
  return 0;
}

/* 1 when got is the exact sum of v[0..n) rounded to nearest, ties to even:
 * 2·sum lies between got + its lower neighbour and got + its upper one,
 * and on either bound got is even. */
static int correctly_rounded(const double *v, size_t n, double got) {
  if (!isfinite(got)) return 0;
  double lo = nextafter(got, -INFINITY), hi = nextafter(got, INFINITY);
  ref_int a, b;
  memset(&a, 0, sizeof a);
  for (size_t i = 0; i < n; ++i) {
    ref_add(&a, v[i]);
    ref_add(&a, v[i]);
  }
  b = a;
  ref_add(&a, -got);
  ref_add(&a, -lo); /* a = 2 sum - got - lo >= 0 */
  ref_add(&b, -got);
  ref_add(&b, -hi); /* b = 2 sum - got - hi <= 0 */
  int sa = ref_sign(&a), sb = ref_sign(&b);
  if (sa < 0 || sb > 0) return 0;
  uint64_t bits;
  memcpy(&bits, &got, sizeof bits);
  if ((sa == 0 || sb == 0) && (bits & 1) && got != 0) return 0;
  return 1;
}

static double xsum_of(const double *v, size_t n) {
  fitcl__xsum x;
  fitcl__xsum_init(&x);
  for (size_t i = 0; i < n; ++i) fitcl__xsum_add(&x, v[i]);
  return fitcl__xsum_round(&x);
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* A double of random sign, mantissa and exponent in [lo, hi]. */
static double rnd_double(int lo, int hi) {
  double f = 0.5 + (double)(rnd() >> 11) * 0x1p-54;
  int e = lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
  return (rnd() & 1 ? -1 : 1) * ldexp(f, e);
}

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

#define N 400
Test(xsum, wildly_different_exponents_round_correctly) {
  double v[N];
  for (int trial = 0; trial < 40; ++trial) {
    for (int i = 0; i < N; ++i) v[i] = rnd_double(-1070, 1000);
    double got = xsum_of(v, N);
    cr_assert(correctly_rounded(v, N, got), "trial %d: %a", trial, got);
  }
}

Test(xsum, narrow_ranges_and_cancellation_round_correctly) {
  double v[N];
  for (int trial = 0; trial < 60; ++trial) {
    int e0 = (int)(rnd() % 200) - 100;
    for (int i = 0; i < N / 2; ++i) {
      v[2 * i] = rnd_double(e0 - 60, e0);
      /* Its negation, perturbed in the last bits: heavy cancellation. */
      v[2 * i + 1] = -v[2 * i] * (1 + ldexp((double)(rnd() % 16) - 8, -52));
    }
    double got = xsum_of(v, N);
    cr_assert(correctly_rounded(v, N, got), "trial %d: %a", trial, got);
  }
}

Test(xsum, subnormals_are_exact) {
  double v[N];
  for (int trial = 0; trial < 20; ++trial) {
    for (int i = 0; i < N; ++i)
      v[i] = (rnd() & 1 ? -1 : 1) * ldexp((double)(rnd() % (1ull << 52)), -1074);
    double got = xsum_of(v, N);
    cr_assert(correctly_rounded(v, N, got), "trial %d: %a", trial, got);
  }
  double tiny[] = {0x1p-1074, 0x1p-1074, -0x1p-1073, 0x1p-1074};
  cr_assert(same_bits(xsum_of(tiny, 4), 0x1p-1074));
  double border[] = {0x0.fffffffffffffp-1022, 0x1p-1074}; /* largest subnormal + 1 unit */
  cr_assert(same_bits(xsum_of(border, 2), DBL_MIN));
}

Test(xsum, ties_go_to_even) {
  double a[] = {1.0, 0x1p-53};
  cr_assert(same_bits(xsum_of(a, 2), 1.0));
  double b[] = {1.0, 0x1p-53, 0x1p-1074};
  cr_assert(same_bits(xsum_of(b, 3), nextafter(1.0, 2.0)));
  double c[] = {1.0 + 0x1p-52, 0x1p-53};
  cr_assert(same_bits(xsum_of(c, 2), 1.0 + 0x1p-51));
  double d[] = {-1.0, -0x1p-53, 0x1p-300, -0x1p-300};
  cr_assert(same_bits(xsum_of(d, 4), -1.0));
  double e[] = {0x1p100, 1.0, -0x1p100}; /* naive summation gives 0 */
  cr_assert(same_bits(xsum_of(e, 3), 1.0));
}

Test(xsum, signed_zeros_and_empty) {
  cr_assert(same_bits(xsum_of(NULL, 0), 0.0));
  double nz[] = {-0.0, -0.0};
  cr_assert(same_bits(xsum_of(nz, 2), -0.0));
  double mixed[] = {-0.0, 0.0};
  cr_assert(same_bits(xsum_of(mixed, 2), 0.0));
  double cancel[] = {-3.5, 3.5}; /* x + -x is +0 when rounding to nearest */
  cr_assert(same_bits(xsum_of(cancel, 2), 0.0));
}

Test(xsum, non_finite_values_follow_ieee) {
  double p[] = {1.0, INFINITY, 5.0};
  cr_assert(same_bits(xsum_of(p, 3), INFINITY));
  double m[] = {-INFINITY, DBL_MAX};
  cr_assert(same_bits(xsum_of(m, 2), -INFINITY));
  double pm[] = {INFINITY, -INFINITY};
  cr_assert(isnan(xsum_of(pm, 2)));
  double n[] = {1.0, NAN};
  cr_assert(isnan(xsum_of(n, 2)));
}

Test(xsum, sums_beyond_dbl_max) {
  double v[2000];
  for (int i = 0; i < 1000; ++i) v[i] = DBL_MAX;
  for (int i = 1000; i < 1999; ++i) v[i] = -DBL_MAX;
  cr_assert(same_bits(xsum_of(v, 1999), DBL_MAX), "intermediate far above DBL_MAX");
  cr_assert(same_bits(xsum_of(v, 1000), INFINITY));
  for (int i = 0; i < 1000; ++i) v[i] = -DBL_MAX;
  cr_assert(same_bits(xsum_of(v, 1000), -INFINITY));
  double half[] = {DBL_MAX, 0x1p970}; /* halfway to 2^1024: overflows */
  cr_assert(same_bits(xsum_of(half, 2), INFINITY));
  double below[] = {DBL_MAX, 0x1p969};
  cr_assert(same_bits(xsum_of(below, 2), DBL_MAX));
}

Test(xsum, merging_any_split_in_any_order_gives_the_same_bits) {
  enum { M = 3000 };
  static double v[M];
  for (int i = 0; i < M; ++i) v[i] = rnd_double(-60, 60) * (i % 7 == 0 ? 0x1p200 : 1.0);
  v[5] = INFINITY;
  double whole = xsum_of(v + 6, M - 6); /* the finite part */
  cr_assert(correctly_rounded(v + 6, M - 6, whole));
  for (int trial = 0; trial < 50; ++trial) {
    /* Random cut points, pieces merged in a random order, some pieces
     * themselves built from merges. */
    enum { P = 9 };
    size_t cut[P + 1];
    cut[0] = 6;
    cut[P] = M;
    for (int k = 1; k < P; ++k) cut[k] = 6 + rnd() % (M - 6);
    for (int k = 1; k < P; ++k) /* sort */
      for (int j = k; j > 1 && cut[j - 1] > cut[j]; --j) {
        size_t t = cut[j];
        cut[j] = cut[j - 1];
        cut[j - 1] = t;
      }
    fitcl__xsum part[P], total;
    for (int k = 0; k < P; ++k) {
      fitcl__xsum_init(&part[k]);
      for (size_t i = cut[k + 1]; i > cut[k]; --i) fitcl__xsum_add(&part[k], v[i - 1]);
      if (k % 2) fitcl__xsum_normalise(&part[k]); /* as a message-passing layer sends them */
    }
    int order[P];
    for (int k = 0; k < P; ++k) order[k] = k;
    for (int k = P - 1; k > 0; --k) {
      int j = (int)(rnd() % (uint64_t)(k + 1)), t = order[k];
      order[k] = order[j];
      order[j] = t;
    }
    fitcl__xsum_init(&total);
    for (int k = 0; k < P; ++k) fitcl__xsum_merge(&total, &part[order[k]]);
    cr_assert(same_bits(fitcl__xsum_round(&total), whole), "trial %d", trial);
  }
}

Test(xsum, compensated_pairs_are_added_exactly) {
  for (int trial = 0; trial < 100; ++trial) {
    fitcl__ksum k = {rnd_double(-10, 10), 0};
    k.c = k.s * 0x1p-60 * (double)(rnd() % 1000);
    double v[2] = {k.s, k.c};
    fitcl__xsum x;
    fitcl__xsum_init(&x);
    fitcl__xsum_add_ksum(&x, &k);
    cr_assert(same_bits(fitcl__xsum_round(&x), xsum_of(v, 2)));
    cr_assert(correctly_rounded(v, 2, fitcl__xsum_round(&x)));
  }
}
