/* Two-bit pattern storage: the packing against the byte columns it came
 * from, the tip-major transpose against a brute-force one, and the
 * likelihood of packed and byte patterns, which must be the same bits on
 * every backend. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "lik_fixture.h"
#include "test_util.h"

/* Random states, with missing cells, some columns repeated (so patterns
 * carry weights) and the all-absent column among them. */
static uint8_t *random_states(size_t nf, int nt, uint64_t *seed) {
  uint8_t *s = malloc(nf * (size_t)nt);
  for (size_t f = 0; f < nf; ++f) {
    if (f > 0 && fx_rand(seed) < 0.3) {
      memcpy(s + f * (size_t)nt, s + (size_t)(fx_rand(seed) * (double)f) * (size_t)nt, (size_t)nt);
      continue;
    }
    const double pr = fx_rand(seed);
    for (int t = 0; t < nt; ++t) {
      const double r = fx_rand(seed);
      s[f * (size_t)nt + (size_t)t] =
          r < 0.05 ? FITCL__MISSING : (r < 0.05 + 0.95 * pr ? FITCL__PRESENT : FITCL__ABSENT);
    }
  }
  memset(s, FITCL__ABSENT, (size_t)nt);
  return s;
}

Test(lik_packed, patterns_hold_every_family_column) {
  uint64_t seed = 3;
  const int sizes[] = {1, 3, 4, 5, 8, 13, 64, 67};
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; ++k) {
    const int nt = sizes[k];
    const size_t nf = 500;
    uint8_t *s = random_states(nf, nt, &seed);
    int *groups = malloc(sizeof(int) * nf);
    for (size_t f = 0; f < nf; ++f) groups[f] = (int)(fx_rand(&seed) * 3);
    fitcl__patterns p;
    char err[256];
    cr_assert_eq(fitcl__patterns_from_states(&p, nf, nt, s, groups, NULL, err, sizeof err),
                 FITCL_OK, "%s", err);
    cr_assert_eq(p.stride, ((size_t)nt + 3) / 4);
    double w = 0;
    for (size_t q = 0; q < p.npatterns; ++q) w += p.weight[q];
    cr_expect_eq(w, (double)nf);
    for (size_t f = 0; f < nf; ++f) {
      const size_t q = p.family_pattern[f];
      cr_expect_eq(p.group[q], groups[f]);
      cr_expect_eq(memcmp(fx_row(&p, q), s + f * (size_t)nt, (size_t)nt), 0,
                   "%d taxa: family %zu differs from its pattern %zu", nt, f, q);
      for (int t = 0; t < nt; ++t)
        cr_expect_eq(fitcl__pat_get(&p, q, (size_t)t), s[f * (size_t)nt + (size_t)t]);
      /* The padding bits of the last byte stay clear: equal columns must
       * compare equal byte for byte. */
      if (nt % 4) cr_expect_eq(p.packed[q * p.stride + p.stride - 1] >> (2 * (nt % 4)), 0);
    }
    /* Distinct patterns: no two (row, group) pairs alike. */
    for (size_t a = 0; a < p.npatterns; ++a)
      for (size_t b = a + 1; b < p.npatterns; ++b)
        cr_expect(p.group[a] != p.group[b] ||
                      memcmp(p.packed + a * p.stride, p.packed + b * p.stride, p.stride) != 0,
                  "patterns %zu and %zu are the same", a, b);
    fitcl__patterns_free(&p);
    free(groups);
    free(s);
  }
}

/* The byte view of the same patterns (state set, packed NULL). */
static fitcl__lik_patterns byte_view(const fitcl__patterns *p, uint8_t **bytes) {
  *bytes = malloc(p->npatterns * (size_t)p->ntaxa);
  for (size_t q = 0; q < p->npatterns; ++q) fitcl__pat_row(p, q, *bytes + q * (size_t)p->ntaxa);
  const fitcl__lik_patterns v = {p->ntaxa,     p->npatterns,      *bytes,
                                 p->weight,    p->group,          p->ngroups,
                                 p->nfamilies, p->family_pattern, NULL,
                                 0};
  return v;
}

static fitcl__lik_patterns packed_view(const fitcl__patterns *p) {
  const fitcl__lik_patterns v = {p->ntaxa,     p->npatterns,      NULL,
                                 p->weight,    p->group,          p->ngroups,
                                 p->nfamilies, p->family_pattern, p->packed,
                                 p->stride};
  return v;
}

static void random_data(fitcl__tree *t, fitcl__patterns *p, int nt, size_t nf, uint64_t *seed) {
  fx_random_tree(t, nt, 0.2, seed);
  uint8_t *s = random_states(nf, nt, seed);
  int *groups = malloc(sizeof(int) * nf);
  for (size_t f = 0; f < nf; ++f) groups[f] = (int)(fx_rand(seed) * 2);
  char err[256];
  cr_assert_eq(fitcl__patterns_from_states(p, nf, nt, s, groups, NULL, err, sizeof err), FITCL_OK,
               "%s", err);
  free(groups);
  free(s);
}

Test(lik_packed, tip_transpose_matches_brute_force) {
  uint64_t seed = 5;
  const int sizes[] = {7, 70, 133};
  fitcl_context *ctx = fitcl_test_context("cpu");
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; ++k) {
    const int nt = sizes[k];
    fitcl__tree tr;
    fitcl__patterns p;
    random_data(&tr, &p, nt, 700, &seed);
    const fitcl__lik_tree t = {tr.ntips, tr.nnodes, tr.child_start, tr.child, tr.brlen, tr.level};
    uint8_t *bytes;
    fitcl__lik_patterns views[2] = {byte_view(&p, &bytes), packed_view(&p)};
    /* A range that starts inside the patterns, as a handle over part of
     * the data does. */
    fitcl_lik_options o = {0};
    o.pattern_begin = 3;
    o.pattern_end = p.npatterns;
    fitcl_lik *L = NULL;
    cr_assert_eq(fitcl__lik_open(ctx, &t, &views[1], &o, &L), FITCL_OK, "%s", fitcl_errmsg(ctx));
    for (int v = 0; v < 2; ++v) {
      L->pat_view = &views[v];
      cr_assert_eq(fitcl__lik_tip_bytes(L), FITCL_OK);
      for (int tip = 0; tip < nt; ++tip)
        for (size_t i = 0; i < L->npx; ++i) {
          const int want = L->src[i] != SIZE_MAX ? bytes[L->src[i] * (size_t)nt + (size_t)tip]
                           : L->kind[i] == FITCL__PAT_ABSENT ? FITCL__ABSENT
                                                             : FITCL__MISSING;
          cr_assert_eq(L->tips[(size_t)tip * L->npx + i], want,
                       "%s, %d taxa: tip %d internal pattern %zu", v ? "packed" : "bytes", nt,
                       tip, i);
        }
      free(L->tips);
      L->tips = NULL;
    }
    L->pat_view = NULL;
    fitcl_lik_destroy(L);
    free(bytes);
    fitcl__patterns_free(&p);
    fx_tree_free(&tr);
  }
  fitcl_context_destroy(ctx);
}

static double eval_view(fitcl_context *ctx, const fitcl__tree *tr, const fitcl__lik_patterns *v,
                        double *grad) {
  const fitcl__lik_tree t = {tr->ntips, tr->nnodes, tr->child_start, tr->child, tr->brlen,
                             tr->level};
  fitcl_lik_options o = {0};
  o.gamma_cats = 3;
  fitcl_lik *L = NULL;
  cr_assert_eq(fitcl__lik_open(ctx, &t, v, &o, &L), FITCL_OK, "%s", fitcl_errmsg(ctx));
  const double theta[2] = {1.0, 1.6};
  const fitcl_gl_params par = {0.4, 0.9, 0.8, theta, NULL};
  double ll = 0;
  cr_assert_eq(fitcl_lik_eval(L, &par, &ll, grad), FITCL_OK, "%s", fitcl_errmsg(ctx));
  fitcl_lik_destroy(L);
  return ll;
}

Test(lik_packed, packed_and_byte_patterns_give_the_same_bits) {
  uint64_t seed = 9;
  fitcl__tree tr;
  fitcl__patterns p;
  random_data(&tr, &p, 45, 3000, &seed);
  uint8_t *bytes;
  const fitcl__lik_patterns vb = byte_view(&p, &bytes), vp = packed_view(&p);
  fitcl_test_backend be[2];
  const size_t nb = fitcl_test_backends(be, 2);
  for (size_t b = 0; b < nb; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    double gb[8] = {0}, gp[8] = {0};
    const double lb = eval_view(ctx, &tr, &vb, gb), lp = eval_view(ctx, &tr, &vp, gp);
    cr_expect(isfinite(lb) && lb < 0, "%s: %g", be[b].name, lb);
    cr_expect_eq(memcmp(&lb, &lp, sizeof lb), 0, "%s: %.17g (bytes) vs %.17g (packed)", be[b].name,
                 lb, lp);
    cr_expect_eq(memcmp(gb, gp, sizeof gb), 0, "%s: gradients differ", be[b].name);
    fitcl_context_destroy(ctx);
  }
  free(bytes);
  fitcl__patterns_free(&p);
  fx_tree_free(&tr);
}

/* The pthreads backend makes its tip masks from packed rows 64 tips at a
 * time with a tail one byte at a time, and from byte rows one tip at a
 * time: the same bits wherever the whole pieces end (missing cells, dead
 * lanes of all-absent and padding patterns included). */
Test(lik_packed, cpu_tip_masks_from_packed_rows_at_every_width) {
  uint64_t seed = 17;
  const int sizes[] = {63, 64, 65, 130, 259};
  fitcl_context *ctx = fitcl_test_context("cpu");
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; ++k) {
    fitcl__tree tr;
    fitcl__patterns p;
    random_data(&tr, &p, sizes[k], 600, &seed);
    uint8_t *bytes;
    const fitcl__lik_patterns vb = byte_view(&p, &bytes), vp = packed_view(&p);
    double gb[8] = {0}, gp[8] = {0};
    const double lb = eval_view(ctx, &tr, &vb, gb), lp = eval_view(ctx, &tr, &vp, gp);
    cr_expect(isfinite(lb) && lb < 0, "%d taxa: %g", sizes[k], lb);
    cr_expect_eq(memcmp(&lb, &lp, sizeof lb), 0, "%d taxa: %.17g (bytes) vs %.17g (packed)",
                 sizes[k], lb, lp);
    cr_expect_eq(memcmp(gb, gp, sizeof gb), 0, "%d taxa: gradients differ", sizes[k]);
    free(bytes);
    fitcl__patterns_free(&p);
    fx_tree_free(&tr);
  }
  fitcl_context_destroy(ctx);
}
