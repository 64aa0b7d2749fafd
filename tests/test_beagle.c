/* Same log-likelihood as BEAGLE's CPU implementation on identical input
 * (2 states, the same transition matrices, stationary root frequencies,
 * equal category weights, and the conditioning correction applied to
 * BEAGLE's site log-likelihood of the all-absent pattern).  Runs whenever
 * libhmsbeagle is installed (tests/beagle.cmake). */
#include <criterion/criterion.h>
#include <math.h>

#include "fitcl.h"
#include "lik_fixture.h"
#include "test_util.h"

#if FITCL_HAVE_BEAGLE
#include "beagle_peer.h"

static void check(int ntips, int K, int cond, uint64_t seed) {
  fitcl__tree t;
  fx_random_tree(&t, ntips, 0.0, &seed);
  size_t np = 300;
  uint8_t *s = malloc(np * ntips);
  double *w = malloc(sizeof(double) * np);
  for (size_t p = 0; p < np; ++p) {
    for (int i = 0; i < ntips; ++i) {
      double r = fx_rand(&seed);
      s[p * ntips + i] = r < 0.4 ? 0 : (r < 0.95 ? 1 : 2);
    }
    w[p] = 1 + (int)(4 * fx_rand(&seed));
  }
  fitcl__patterns pat;
  fx_patterns(&pat, ntips, np, s, w, NULL);
  const double g = 0.35, l = 0.9, alpha = 0.7;
  double rates[8];
  fitcl_gamma_rates(alpha, K, rates);
  beagle_peer bp;
  cr_assert_eq(beagle_peer_create(&bp, &t, &pat, K, 1), 0, "BEAGLE instance");
  double ref = beagle_peer_loglik_setmat(&bp, g, l, rates, t.brlen, cond);
  double ref_eig = beagle_peer_loglik_eigen(&bp, g, l, rates, t.brlen, cond);
  fitcl_test_backend be[2];
  size_t nb = fitcl_test_backends(be, 2);
  for (size_t b = 0; b < nb; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    fitcl_lik_options o = {0};
    o.gamma_cats = K;
    o.no_condition = !cond;
    fitcl_lik *lik = NULL;
    cr_assert_eq(fitcl__lik_create(ctx, &t, &pat, &o, &lik), FITCL_OK);
    fitcl_gl_params p = {g, l, alpha, NULL, NULL};
    double ll;
    cr_assert_eq(fitcl_lik_eval(lik, &p, &ll, NULL), FITCL_OK);
    cr_expect(fitcl_test_close(ll, ref, 1e-12), "%s %d tips K %d cond %d: %.17g vs BEAGLE %.17g",
              be[b].name, ntips, K, cond, ll, ref);
    cr_expect(fitcl_test_close(ll, ref_eig, 1e-10), "%s vs BEAGLE eigen path %.17g", be[b].name, ref_eig);
    fitcl_lik_destroy(lik);
    fitcl_context_destroy(ctx);
  }
  beagle_peer_destroy(&bp);
  fx_patterns_free(&pat);
  fx_tree_free(&t);
  free(s);
  free(w);
}

Test(beagle, same_loglik_as_beagle_cpu) {
  check(5, 1, 0, 11);
  check(17, 1, 1, 12);
  check(40, 4, 1, 13);
  check(300, 4, 0, 14); /* deep enough for both to rescale */
}
#else
Test(beagle, same_loglik_as_beagle_cpu) { cr_skip_test("BEAGLE (hmsbeagle-1) not installed"); }
#endif
