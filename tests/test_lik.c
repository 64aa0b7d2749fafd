/* Likelihood of the gain/loss model on both backends: against brute-force
 * enumeration, central finite differences, partial pattern ranges, a deep
 * caterpillar, and between backends. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "fitcl.h"
#include "lik_fixture.h"
#include "test_util.h"

typedef struct model {
  double g, l, alpha, theta[4], pi1_fixed;
  int K, cond, fixed_root;
} model;

static double brute_ll(const fitcl__tree *t, const fitcl__patterns *pat, const model *m) {
  double rates[64];
  cr_assert_eq(fitcl_gamma_rates(m->alpha, m->K, rates), FITCL_OK);
  uint8_t absent[64];
  memset(absent, FITCL__ABSENT, sizeof absent);
  double total = 0.0;
  for (size_t p = 0; p < pat->npatterns; ++p) {
    int g = pat->group[p];
    double lg = m->l * m->theta[g];
    double pi1 = m->fixed_root ? m->pi1_fixed : m->g / (m->g + lg);
    double L = 0, P0 = 0;
    for (int c = 0; c < m->K; ++c) {
      L += fx_brute_pattern(t, fx_row(pat, p), m->g * rates[c], lg * rates[c], pi1) / m->K;
      P0 += fx_brute_pattern(t, absent, m->g * rates[c], lg * rates[c], pi1) / m->K;
    }
    double ll = log(L);
    if (m->cond) ll -= log1p(-P0);
    total += pat->weight[p] * ll;
  }
  return total;
}

static void random_patterns(fitcl__patterns *pat, int ntaxa, size_t np, int ngroups, uint64_t *seed) {
  uint8_t *s = malloc(np * ntaxa);
  double *w = malloc(sizeof(double) * np);
  int *g = malloc(sizeof(int) * np);
  for (size_t p = 0; p < np; ++p) {
    for (int i = 0; i < ntaxa; ++i) {
      double r = fx_rand(seed);
      s[p * ntaxa + i] = r < 0.45 ? FITCL__ABSENT : (r < 0.93 ? FITCL__PRESENT : FITCL__MISSING);
    }
    w[p] = 1 + (int)(fx_rand(seed) * 5);
    g[p] = (int)(fx_rand(seed) * ngroups) % ngroups;
  }
  g[0] = ngroups - 1; /* every group appears */
  if (np > 1) g[1] = 0;
  fx_patterns(pat, ntaxa, np, s, w, g);
  free(s);
  free(w);
  free(g);
}

static fitcl_lik *make_lik(fitcl_context *ctx, const fitcl__tree *t, const fitcl__patterns *pat,
                           const model *m, int branch_grad) {
  fitcl_lik_options o = {0};
  o.gamma_cats = m->K;
  o.no_condition = !m->cond;
  o.root = m->fixed_root ? FITCL_ROOT_FIXED : FITCL_ROOT_STATIONARY;
  o.root_p1 = m->pi1_fixed;
  o.branch_gradient = branch_grad;
  fitcl_lik *lik = NULL;
  fitcl_status st = fitcl__lik_create(ctx, t, pat, &o, &lik);
  cr_assert_eq(st, FITCL_OK, "lik create: %s", fitcl_errmsg(ctx));
  return lik;
}

static double eval(fitcl_lik *lik, const model *m, const double *brlen, double *grad) {
  fitcl_gl_params p = {m->g, m->l, m->alpha, m->theta, brlen};
  double ll = NAN;
  fitcl_status st = fitcl_lik_eval(lik, &p, &ll, grad);
  cr_assert_eq(st, FITCL_OK, "eval: %s", fitcl_status_name(st));
  return ll;
}

static const model models[] = {
  {0.3, 0.7, 1.0, {1, 1, 1, 1}, 0.5, 1, 1, 0},
  {0.3, 0.7, 1.0, {1, 1, 1, 1}, 0.5, 1, 0, 0},
  {1.7, 0.4, 0.6, {1, 2.5, 1, 1}, 0.5, 4, 1, 0},
  {0.2, 1.3, 2.0, {1, 0.3, 1, 1}, 0.3, 3, 0, 1},
  {0.8, 0.9, 0.3, {1.2, 0.7, 1, 1}, 0.8, 4, 1, 1},
};

Test(lik, brute_force_small_trees) {
  fitcl_test_backend be[2];
  size_t nb = fitcl_test_backends(be, 2);
  for (size_t b = 0; b < nb; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    uint64_t seed = 12345;
    for (int ntips = 2; ntips <= 8; ++ntips) {
      fitcl__tree t;
      fx_random_tree(&t, ntips, 0.3, &seed);
      fitcl__patterns pat;
      random_patterns(&pat, ntips, 37, 2, &seed);
      for (size_t mi = 0; mi < sizeof models / sizeof models[0]; ++mi) {
        fitcl_lik *lik = make_lik(ctx, &t, &pat, &models[mi], 0);
        double ll = eval(lik, &models[mi], NULL, NULL);
        double ref = brute_ll(&t, &pat, &models[mi]);
        cr_expect(fitcl_test_close(ll, ref, 1e-12), "%s ntips %d model %zu: %.17g vs brute %.17g",
                  be[b].name, ntips, mi, ll, ref);
        fitcl_lik_destroy(lik);
      }
      fx_patterns_free(&pat);
      fx_tree_free(&t);
    }
    fitcl_context_destroy(ctx);
  }
}

/* d LL / d log x by central differences with a Richardson step. */
static double fd(double (*f)(void *, double), void *u, double x0) {
  double h = 1e-4;
  double d1 = (f(u, x0 + h) - f(u, x0 - h)) / (2 * h);
  double d2 = (f(u, x0 + h / 2) - f(u, x0 - h / 2)) / h;
  return (4 * d2 - d1) / 3;
}

typedef struct fdctx {
  fitcl_lik *lik;
  model m;
  double *brlen;
  int which; /* 0 g, 1 l, 2 alpha, 3+k theta_k, 100+v brlen v */
} fdctx;

/* Sets one parameter (or one branch length, in place and restored after)
 * and evaluates: any tree size. */
static double fdfun(void *u, double x) {
  fdctx *c = u;
  model m = c->m;
  double keep = 0;
  if (c->which == 0) m.g = exp(x);
  else if (c->which == 1) m.l = exp(x);
  else if (c->which == 2) m.alpha = exp(x);
  else if (c->which < 100) m.theta[c->which - 3] = exp(x);
  else {
    keep = c->brlen[c->which - 100];
    c->brlen[c->which - 100] = x;
  }
  double ll = eval(c->lik, &m, c->brlen, NULL);
  if (c->which >= 100) c->brlen[c->which - 100] = keep;
  return ll;
}

Test(lik, gradient_vs_finite_differences) {
  fitcl_test_backend be[2];
  size_t nb = fitcl_test_backends(be, 2);
  for (size_t b = 0; b < nb; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    uint64_t seed = 777;
    for (int ntips = 3; ntips <= 12; ntips += 3) {
      fitcl__tree t;
      fx_random_tree(&t, ntips, 0.25, &seed);
      fitcl__patterns pat;
      random_patterns(&pat, ntips, 50, 2, &seed);
      for (size_t mi = 0; mi < sizeof models / sizeof models[0]; ++mi) {
        const model *m = &models[mi];
        fitcl_lik *lik = make_lik(ctx, &t, &pat, m, 1);
        size_t ng = fitcl_lik_grad_size(lik);
        double *grad = calloc(ng, sizeof(double));
        eval(lik, m, t.brlen, grad);
        fdctx c = {lik, *m, t.brlen, 0};
        int G = fitcl_lik_ngroups(lik);
        for (size_t q = 0; q < ng; ++q) {
          double x0;
          if (q == 0) { c.which = 0; x0 = log(m->g); }
          else if (q == 1) { c.which = 1; x0 = log(m->l); }
          else if (q == 2) {
            if (m->K <= 1) { cr_expect_eq(grad[2], 0.0); continue; }
            c.which = 2; x0 = log(m->alpha);
          } else if (q < 3 + (size_t)G) { c.which = (int)q; x0 = log(m->theta[q - 3]); }
          else { c.which = 100 + (int)(q - 3 - G); x0 = t.brlen[q - 3 - G]; }
          double num = fd(fdfun, &c, x0);
          double scale = fabs(num) > 1 ? fabs(num) : 1;
          cr_expect(fabs(grad[q] - num) <= 1e-6 * scale, "%s ntips %d model %zu comp %zu: %.12g vs fd %.12g",
                    be[b].name, ntips, mi, q, grad[q], num);
        }
        free(grad);
        fitcl_lik_destroy(lik);
      }
      fx_patterns_free(&pat);
      fx_tree_free(&t);
    }
    fitcl_context_destroy(ctx);
  }
}

/* A large tree whose partials are rescaled many times per pattern (about
 * one rescaling per 177 nats of a subtree's likelihood): the gradient's
 * outside pass must carry the rescaling factors exactly.  Model parameters
 * and a few branch lengths against central differences. */
Test(lik, gradient_with_rescaling_vs_finite_differences) {
  fitcl_test_backend be[2];
  size_t nb = fitcl_test_backends(be, 2);
  uint64_t seed = 31337;
  fitcl__tree t;
  fx_random_tree(&t, 1500, 0.2, &seed);
  fitcl__patterns pat;
  random_patterns(&pat, 1500, 30, 2, &seed);
  const model m = {0.6, 0.9, 0.7, {1, 1.4, 1, 1}, 0.5, 3, 1, 0};
  const int nn = t.nnodes;
  /* A tip branch, the root's children and an internal branch below them. */
  const int root = nn - 1;
  const int branches[] = {0, t.child[t.child_start[root]], t.child[t.child_start[root] + 1],
                          t.child[t.child_start[t.child[t.child_start[root]]]]};
  for (size_t b = 0; b < nb; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    fitcl_lik *lik = make_lik(ctx, &t, &pat, &m, 1);
    double *grad = calloc(fitcl_lik_grad_size(lik), sizeof(double));
    double ll = eval(lik, &m, t.brlen, grad);
    cr_expect(ll < -30 * 177.0, "%s: LL %g is not small enough to need rescaling", be[b].name, ll);
    fdctx c = {lik, m, t.brlen, 0};
    const int G = fitcl_lik_ngroups(lik);
    for (int q = 0; q < 5 + 4; ++q) {
      size_t at;
      double x0;
      if (q < 2) { c.which = q; at = (size_t)q; x0 = log(q == 0 ? m.g : m.l); }
      else if (q == 2) { c.which = 2; at = 2; x0 = log(m.alpha); }
      else if (q < 5) { c.which = q; at = (size_t)q; x0 = log(m.theta[q - 3]); }
      else {
        const int v = branches[q - 5];
        c.which = 100 + v;
        at = 3 + (size_t)G + (size_t)v;
        x0 = t.brlen[v];
      }
      double num = fd(fdfun, &c, x0);
      double scale = fabs(num) > 1 ? fabs(num) : 1;
      cr_expect(isfinite(grad[at]) && fabs(grad[at] - num) <= 1e-6 * scale,
                "%s comp %zu: %.12g vs fd %.12g", be[b].name, at, grad[at], num);
    }
    free(grad);
    fitcl_lik_destroy(lik);
    fitcl_context_destroy(ctx);
  }
  fx_patterns_free(&pat);
  fx_tree_free(&t);
}

Test(lik, pattern_ranges_add_up) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  uint64_t seed = 99;
  fitcl__tree t;
  fx_random_tree(&t, 20, 0.2, &seed);
  fitcl__patterns pat;
  random_patterns(&pat, 20, 700, 3, &seed);
  model m = {0.5, 0.8, 0.7, {1, 1.5, 0.6, 1}, 0.5, 4, 1, 0};
  fitcl_lik *all = make_lik(ctx, &t, &pat, &m, 0);
  double *g_all = calloc(fitcl_lik_grad_size(all), sizeof(double));
  double ll_all = eval(all, &m, NULL, g_all);
  size_t cuts[] = {0, 1, 300, 301, 700};
  double sum = 0, gsum[8] = {0};
  for (int i = 0; i < 4; ++i) {
    fitcl_lik_options o = {0};
    o.gamma_cats = 4;
    o.pattern_begin = cuts[i];
    o.pattern_end = cuts[i + 1];
    fitcl_lik *part = NULL;
    cr_assert_eq(fitcl__lik_create(ctx, &t, &pat, &o, &part), FITCL_OK, "%s", fitcl_errmsg(ctx));
    double g[8];
    sum += eval(part, &m, NULL, g);
    for (size_t q = 0; q < fitcl_lik_grad_size(part); ++q) gsum[q] += g[q];
    fitcl_lik_destroy(part);
  }
  cr_expect(fitcl_test_close(sum, ll_all, 1e-12), "%.17g vs %.17g", sum, ll_all);
  for (size_t q = 0; q < fitcl_lik_grad_size(all); ++q)
    cr_expect(fabs(gsum[q] - g_all[q]) <= 1e-9 * (1 + fabs(g_all[q])), "grad %zu", q);
  /* Per-pattern values sum to the total as well. */
  double *pl = malloc(sizeof(double) * 700);
  cr_assert_eq(fitcl_lik_pattern_logliks(all, pl, 700), FITCL_OK);
  double s2 = 0;
  for (int p = 0; p < 700; ++p) s2 += pat.weight[p] * pl[p];
  cr_expect(fitcl_test_close(s2, ll_all, 1e-11));
  free(pl);
  free(g_all);
  fitcl_lik_destroy(all);
  fx_patterns_free(&pat);
  fx_tree_free(&t);
  fitcl_context_destroy(ctx);
}

Test(lik, caterpillar_10000_is_finite) {
  const int n = 10000, nn = 2 * n - 1;
  int *parent = malloc(sizeof(int) * nn);
  double *bl = malloc(sizeof(double) * nn);
  /* Internal node n+i joins (previous subtree, tip i+1). */
  parent[0] = n;
  for (int i = 0; i < n - 1; ++i) {
    parent[i + 1] = n + i;
    if (i > 0) parent[n + i - 1] = n + i;
  }
  for (int v = 0; v < nn; ++v) bl[v] = 0.1;
  fitcl__tree t;
  fx_tree(&t, n, nn, parent, bl);
  uint64_t seed = 5;
  fitcl__patterns pat;
  random_patterns(&pat, n, 8, 1, &seed);
  model m = {0.5, 0.5, 1.0, {1, 1, 1, 1}, 0.5, 1, 1, 0};
  fitcl_test_backend be[2];
  size_t nb = fitcl_test_backends(be, 2);
  double ref = 0;
  for (size_t b = 0; b < nb; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    fitcl_lik *lik = make_lik(ctx, &t, &pat, &m, 0);
    double g[4];
    double ll = eval(lik, &m, NULL, g);
    cr_expect(isfinite(ll) && ll < -1000, "%s: caterpillar LL %g", be[b].name, ll);
    /* Against log-space pruning, which never underflows. */
    double ref_log = 0.0;
    uint8_t absent[10000];
    memset(absent, FITCL__ABSENT, sizeof absent);
    double lp0 = fx_logprune(&t, absent, 0.5, 0.5, 0.5);
    for (size_t p = 0; p < pat.npatterns; ++p)
      ref_log += pat.weight[p] * (fx_logprune(&t, fx_row(&pat, p), 0.5, 0.5, 0.5) - log(-expm1(lp0)));
    cr_expect(fitcl_test_close(ll, ref_log, 1e-11), "%s: %.17g vs log-space %.17g", be[b].name, ll, ref_log);
    for (int q = 0; q < 4; ++q) cr_expect(isfinite(g[q]), "%s: grad %d = %g", be[b].name, q, g[q]);
    if (b == 0) ref = ll;
    else cr_expect(fitcl_test_close(ll, ref, 1e-12), "%s %.17g vs cpu %.17g", be[b].name, ll, ref);
    fitcl_lik_destroy(lik);
    fitcl_context_destroy(ctx);
  }
  fx_patterns_free(&pat);
  fx_tree_free(&t);
  free(parent);
  free(bl);
}

Test(lik, backends_agree) {
  fitcl_test_backend be[2];
  size_t nb = fitcl_test_backends(be, 2);
  if (nb < 2) cr_skip_test("no OpenCL fp64 device");
  uint64_t seed = 4242;
  fitcl__tree t;
  fx_random_tree(&t, 60, 0.2, &seed);
  fitcl__patterns pat;
  random_patterns(&pat, 60, 1500, 2, &seed);
  model m = {0.4, 1.1, 0.5, {1, 1.8, 1, 1}, 0.5, 4, 1, 0};
  double ll[2], *g[2];
  for (size_t b = 0; b < 2; ++b) {
    fitcl_context *ctx = fitcl_test_context(be[b].selector);
    fitcl_lik *lik = make_lik(ctx, &t, &pat, &m, 1);
    g[b] = calloc(fitcl_lik_grad_size(lik), sizeof(double));
    ll[b] = eval(lik, &m, NULL, g[b]);
    double ll2 = eval(lik, &m, NULL, NULL);
    cr_expect_eq(ll2, ll[b], "%s: LL without gradient differs", be[b].name);
    if (b == 1) {
      /* Device memory in chunks of 256 patterns: same results. */
      fitcl_lik_options o = {0};
      o.gamma_cats = m.K;
      o.branch_gradient = 1;
      o.chunk_patterns = 256;
      fitcl_lik *chunked = NULL;
      cr_assert_eq(fitcl__lik_create(ctx, &t, &pat, &o, &chunked), FITCL_OK);
      double *gc = calloc(fitcl_lik_grad_size(chunked), sizeof(double));
      double llc = eval(chunked, &m, NULL, gc);
      cr_expect_eq(llc, ll[1], "chunked %.17g vs %.17g", llc, ll[1]);
      for (size_t q = 0; q < fitcl_lik_grad_size(chunked); ++q) cr_expect_eq(gc[q], g[1][q], "chunked grad %zu", q);
      cr_expect_eq(eval(chunked, &m, NULL, NULL), ll[1]);
      free(gc);
      fitcl_lik_destroy(chunked);
      /* The GPU layout (16-pattern tiles, a partial last tile at 1500
       * patterns) on this device: the same numbers.  A CPU device runs the
       * work-items of a group one after another, so this checks the layout's
       * plumbing and bounds, not what concurrent work-items would see. */
      fitcl__lik_ocl_tile_override = 16;
      fitcl_lik *tiled = make_lik(ctx, &t, &pat, &m, 1);
      fitcl__lik_ocl_tile_override = 0;
      double *gt = calloc(fitcl_lik_grad_size(tiled), sizeof(double));
      double llt = eval(tiled, &m, NULL, gt);
      cr_expect(fitcl_test_close(llt, ll[1], 1e-13), "16-pattern tiles %.17g vs %.17g", llt, ll[1]);
      for (size_t q = 0; q < fitcl_lik_grad_size(tiled); ++q)
        cr_expect(fabs(gt[q] - g[1][q]) <= 1e-12 * (fabs(g[1][q]) + 1e-3), "16-pattern tiles grad %zu: %.17g vs %.17g",
                  q, gt[q], g[1][q]);
      free(gt);
      fitcl_lik_destroy(tiled);
      for (size_t q = 0; q < fitcl_lik_grad_size(lik); ++q)
        cr_expect(fabs(g[0][q] - g[1][q]) <= 1e-12 * (fabs(g[0][q]) + 1e-3), "grad %zu: %.17g vs %.17g", q,
                  g[0][q], g[1][q]);
    }
    fitcl_lik_destroy(lik);
    fitcl_context_destroy(ctx);
  }
  cr_expect(fitcl_test_close(ll[0], ll[1], 1e-12), "cpu %.17g vs opencl %.17g", ll[0], ll[1]);
  free(g[0]);
  free(g[1]);
  fx_patterns_free(&pat);
  fx_tree_free(&t);
}

Test(lik, rejects_bad_parameters) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  uint64_t seed = 1;
  fitcl__tree t;
  fx_random_tree(&t, 4, 0, &seed);
  fitcl__patterns pat;
  random_patterns(&pat, 4, 3, 1, &seed);
  model m = models[0];
  fitcl_lik *lik = make_lik(ctx, &t, &pat, &m, 0);
  double ll;
  fitcl_gl_params p = {-1, 1, 1, NULL, NULL};
  cr_expect_eq(fitcl_lik_eval(lik, &p, &ll, NULL), FITCL_ERR_RANGE);
  p.gain = NAN;
  cr_expect_eq(fitcl_lik_eval(lik, &p, &ll, NULL), FITCL_ERR_RANGE);
  p.gain = 1;
  p.loss = INFINITY;
  cr_expect_eq(fitcl_lik_eval(lik, &p, &ll, NULL), FITCL_ERR_RANGE);
  double bl[7] = {0.1, -0.2, 0.1, 0.1, 0.1, 0.1, 0};
  p.loss = 1;
  p.brlen = bl;
  cr_expect_eq(fitcl_lik_eval(lik, &p, &ll, NULL), FITCL_ERR_RANGE);
  fitcl_lik_destroy(lik);
  fx_patterns_free(&pat);
  fx_tree_free(&t);
  fitcl_context_destroy(ctx);
}
