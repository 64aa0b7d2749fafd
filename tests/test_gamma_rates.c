/* Discrete-gamma rates (fitcl_gamma_rates, mean method) against values
 * computed outside fitcl, and against the closed form at alpha = 1. */
#include <criterion/criterion.h>
#include <math.h>

#include "fitcl.h"

/* The mean method of Yang (1994), "Maximum likelihood phylogenetic
 * estimation from DNA sequences with variable rates over sites: approximate
 * methods", J. Mol. Evol. 39:306-314, eqs. 9 and 10: cut Gamma(alpha, alpha)
 * at its c/K quantiles x_c, and give category c the mean of the distribution
 * between x_{c-1} and x_c,
 *
 *   r_c = K [ P(alpha+1, alpha x_c) - P(alpha+1, alpha x_{c-1}) ].
 *
 * The values below were computed with Yang's own implementation of these
 * equations (DiscreteGamma in PAML's tools.c) and, independently, in 40-digit
 * arithmetic (mpmath); the two agree to 7 decimals.  For alpha = 0.5, K = 4
 * they are also the rates BEAGLE's example programs hard-code (0.03338775,
 * 0.25191592, 0.82026848, 2.89442785).  They are given to 4 decimals and
 * compared at that precision. */
typedef struct {
  double alpha;
  int k;
  double rates[8];
} yang_row;

static const yang_row yang_table[] = {
    {0.2, 4, {0.0005, 0.0338, 0.3837, 3.5820}},
    {0.5, 4, {0.0334, 0.2519, 0.8203, 2.8944}},
    {1.0, 4, {0.1370, 0.4768, 1.0000, 2.3863}},
    {2.0, 4, {0.2933, 0.6550, 1.0700, 1.9817}},
    {5.0, 4, {0.5021, 0.8040, 1.0833, 1.6107}},
    {0.5, 2, {0.1427, 1.8573}},
    {0.5, 8, {0.0082, 0.0586, 0.1646, 0.3392, 0.6089, 1.0317, 1.7701, 4.0188}},
};

Test(gamma_rates, yang_1994_mean_method_to_4_decimals) {
  for (size_t i = 0; i < sizeof yang_table / sizeof *yang_table; ++i) {
    const yang_row *row = &yang_table[i];
    double r[8];
    cr_assert_eq(fitcl_gamma_rates(row->alpha, row->k, r), FITCL_OK);
    for (int c = 0; c < row->k; ++c)
      /* Rounded to 4 decimals, r[c] is the table's value. */
      cr_expect_leq(fabs(r[c] - row->rates[c]), 0.5e-4 + 1e-12,
                    "alpha %g, K %d, category %d: %.6f, table %.4f", row->alpha, row->k,
                    c + 1, r[c], row->rates[c]);
  }
}

/* At alpha = 1 the distribution is exponential and the rates have a closed
 * form: with q_c = 1 - c/K, the quantiles are x_c = -log q_c and
 * P(2, x) = 1 - e^-x (1 + x), so
 *
 *   r_c = K [ q_{c-1} (1 - log q_{c-1}) - q_c (1 - log q_c) ],
 *
 * where q log q is 0 at q = 0.  Evaluated in long double (the first
 * difference cancels most digits), this checks every digit, not only
 * four. */
static long double q_term(long double q) { return q > 0.0L ? q * (1.0L - logl(q)) : 0.0L; }

Test(gamma_rates, exponential_closed_form) {
  for (int k = 1; k <= 16; ++k) {
    double r[16];
    cr_assert_eq(fitcl_gamma_rates(1.0, k, r), FITCL_OK);
    for (int c = 1; c <= k; ++c) {
      const double want =
          (double)(k * (q_term(1.0L - (long double)(c - 1) / k) - q_term(1.0L - (long double)c / k)));
      cr_expect_leq(fabs(r[c - 1] - want), 1e-13 * want, "K %d, category %d: %.17g, want %.17g",
                    k, c, r[c - 1], want);
    }
  }
}
