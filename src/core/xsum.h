/* Exact sums of doubles: a fixed-point superaccumulator over the whole
 * double range (Kulisch).  Every finite double is an integer multiple of
 * 2^-1074; the accumulator holds that integer exactly, in int64 limbs of
 * 32-bit digits, so about 2^31 values can be added before the digits' carries
 * must be passed up.  Integer addition is associative and commutative:
 * merging accumulators in any grouping and order gives the same number, and
 * its rounding is the correctly rounded (to nearest, ties to even) exact sum.
 * That is what lets block partials be combined across threads, devices and
 * processes with the same bits for any split.
 *
 * The whole struct is int64 counters that add: the sum of two accumulators
 * is their element-wise sum (fitcl__xsum_merge), so a message-passing layer
 * may reduce them as arrays of int64 with a plain SUM once each was
 * normalised (fitcl__xsum_normalise). */
#ifndef FITCL_CORE_XSUM_H
#define FITCL_CORE_XSUM_H

#include <stddef.h>
#include <stdint.h>

#include "core/sums.h"

/* Digits of 2^32; digit 0 weighs 2^-1074 (the smallest subnormal), the last
 * ones leave room for sums far above DBL_MAX. */
#define FITCL__XSUM_LIMBS 67
/* Adds after which the digits are normalised (each add puts < 2^32 in a
 * limb; normalised limbs are < 2^32). */
#define FITCL__XSUM_CARRY_EVERY ((int64_t)1 << 30)

typedef struct fitcl__xsum {
  int64_t limb[FITCL__XSUM_LIMBS];
  int64_t pos_inf, neg_inf, nan; /* non-finite values, kept aside */
  int64_t neg_zero, not_neg_zero; /* an all -0.0 sum is -0.0 */
  int64_t pending;               /* limb growth since the last carry pass, in adds */
} fitcl__xsum;

/* int64 values per accumulator, for whoever sends it as an array. */
#define FITCL__XSUM_WORDS ((int)(sizeof(fitcl__xsum) / sizeof(int64_t)))

void fitcl__xsum_init(fitcl__xsum *x);
void fitcl__xsum_add(fitcl__xsum *x, double v);
/* Adds both halves of a compensated pair exactly. */
void fitcl__xsum_add_ksum(fitcl__xsum *x, const fitcl__ksum *k);
/* into += from (exact); from is left as it was. */
void fitcl__xsum_merge(fitcl__xsum *into, const fitcl__xsum *from);
/* Passes the carries up: every limb but the last in [0, 2^32).  The value
 * is unchanged; pending becomes 0. */
void fitcl__xsum_normalise(fitcl__xsum *x);
/* The exact sum rounded to the nearest double (ties to even); IEEE results
 * for infinities and NaN (+inf and -inf together give NaN). */
double fitcl__xsum_round(const fitcl__xsum *x);

#endif
