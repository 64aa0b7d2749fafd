/* The likelihood in mixed and single precision on the OpenCL backend
 * (cl/lik_float.cl): against the double kernels on the same data, against
 * log-space pruning (fx_logprune, which never underflows) on a deep tree
 * and the closed form on a star, where float partials need rescaling; the
 * same bits on any host thread count, tile layout and chunk size; the
 * self-test; and the float program built with `double` made unusable.
 * Until the context options choose the mode, each test sets the device's
 * caps after creating the context, as the context will: precision, and
 * fp64 = 0 for a device without fp64. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/context.h"
#include "device/backend.h"
#include "fitcl.h"
#include "kernels/selftest.h"
#include "lik_fixture.h"
#include "test_util.h"
#if FITCL_WITH_OPENCL
#include "device/opencl/clsources.h"
#include "device/opencl/ocl.h"
#endif

/* The OpenCL backend's selector, or a visible skip (a failure under
 * FITCL_TEST_REQUIRE_OPENCL=1, in fitcl_test_backends). */
static const char *opencl_selector(void) {
  fitcl_test_backend be[2];
  size_t nb = fitcl_test_backends(be, 2);
  for (size_t i = 0; i < nb; ++i)
    if (strcmp(be[i].name, "opencl") == 0) return be[i].selector;
  cr_skip_test("no OpenCL device with fp64");
  return NULL;
}

typedef struct mode {
  const char *name;
  fitcl_precision prec;
  int fp64;
} mode;

static const mode modes[] = {{"double", FITCL_PRECISION_DOUBLE, 1},
                             {"mixed", FITCL_PRECISION_MIXED, 1},
                             {"mixed, no fp64", FITCL_PRECISION_MIXED, 0},
                             {"single", FITCL_PRECISION_SINGLE, 1},
                             {"single, no fp64", FITCL_PRECISION_SINGLE, 0}};
enum { NMODES = sizeof modes / sizeof modes[0] };

/* A context in the mode, opened as users open one: the precision option,
 * and FITCL_OPENCL_NO_FP64=1 for a device treated as lacking fp64 (which
 * then builds only the programs with a float form).  Checked to be what
 * was asked for, so a test cannot silently run in double. */
static fitcl_context *mode_context(const char *sel, const mode *md) {
  if (md->fp64) unsetenv("FITCL_OPENCL_NO_FP64");
  else setenv("FITCL_OPENCL_NO_FP64", "1", 1);
  fitcl_context_options o = {0};
  o.device = sel;
  o.precision = md->prec;
  o.cache_dir = getenv("FITCL_CACHE_DIR");
  fitcl_context *ctx = NULL;
  fitcl_status st = fitcl_context_create(&o, &ctx);
  unsetenv("FITCL_OPENCL_NO_FP64");
  cr_assert_eq(st, FITCL_OK, "%s: %s", md->name, fitcl_errmsg(ctx));
  cr_assert_eq(ctx->backend->caps.precision, md->prec, "%s", md->name);
  cr_assert_eq(ctx->backend->caps.fp64, md->fp64, "%s", md->name);
  cr_assert(ctx->backend != ctx->host, "%s: not on the OpenCL device", md->name);
  return ctx;
}

static void random_patterns(fitcl__patterns *pat, int ntaxa, size_t np, int ngroups,
                            uint64_t *seed) {
  uint8_t *s = malloc(np * (size_t)ntaxa);
  double *w = malloc(sizeof(double) * np);
  int *g = malloc(sizeof(int) * np);
  for (size_t p = 0; p < np; ++p) {
    /* Each pattern its own presence frequency: rare and common families. */
    const double f = 0.05 + 0.9 * fx_rand(seed);
    for (int i = 0; i < ntaxa; ++i) {
      double r = fx_rand(seed);
      s[p * (size_t)ntaxa + (size_t)i] =
          r < 0.04 ? FITCL__MISSING : (r < 0.04 + 0.96 * f ? FITCL__PRESENT : FITCL__ABSENT);
    }
    w[p] = 1 + (int)(fx_rand(seed) * 5);
    g[p] = (int)(fx_rand(seed) * ngroups) % ngroups;
  }
  g[0] = ngroups - 1;
  fx_patterns(pat, ntaxa, np, s, w, g);
  free(s);
  free(w);
  free(g);
}

static fitcl_lik *make_lik(fitcl_context *ctx, const fitcl__tree *t, const fitcl__patterns *pat,
                           int K, int cond, int branch_grad, size_t chunk) {
  fitcl_lik_options o = {0};
  o.gamma_cats = K;
  o.no_condition = !cond;
  o.branch_gradient = branch_grad;
  o.chunk_patterns = chunk;
  fitcl_lik *lik = NULL;
  fitcl_status st = fitcl__lik_create(ctx, t, pat, &o, &lik);
  cr_assert_eq(st, FITCL_OK, "lik create: %s", fitcl_errmsg(ctx));
  return lik;
}

static double eval(fitcl_lik *lik, const fitcl_gl_params *p, double *grad) {
  double ll = NAN;
  fitcl_status st = fitcl_lik_eval(lik, p, &ll, grad);
  cr_assert_eq(st, FITCL_OK, "eval: %s", fitcl_status_name(st));
  return ll;
}

/* Every mode against double on a random tree with multifurcations, gamma
 * categories, two rate groups, conditioning and branch gradients: the
 * log-likelihood within 1e-7 relative in mixed precision, each pattern's
 * within float's accuracy over the tree, and the gradient within a
 * tolerance derived from float's epsilon. */
Test(lik_precision, modes_against_double) {
  const char *sel = opencl_selector();
  uint64_t seed = 77;
  fitcl__tree t;
  fx_random_tree(&t, 120, 0.25, &seed);
  fitcl__patterns pat;
  random_patterns(&pat, 120, 3000, 2, &seed);
  double theta[2] = {1.0, 1.7};
  fitcl_gl_params p = {0.3, 0.9, 0.6, theta, NULL};
  double ll[NMODES], *g[NMODES], *pll[NMODES];
  size_t ng = 0;
  for (int m = 0; m < NMODES; ++m) {
    fitcl_context *ctx = mode_context(sel, &modes[m]);
    fitcl_lik *lik = make_lik(ctx, &t, &pat, 4, 1, 1, 0);
    ng = fitcl_lik_grad_size(lik);
    g[m] = calloc(ng, sizeof(double));
    pll[m] = calloc(pat.npatterns, sizeof(double));
    ll[m] = eval(lik, &p, g[m]);
    /* Without the gradient: the same log-likelihood (the host sums it). */
    double ll2 = eval(lik, &p, NULL);
    cr_expect_eq(ll2, ll[m], "%s: %.17g without gradient vs %.17g", modes[m].name, ll2, ll[m]);
    cr_assert_eq(fitcl_lik_pattern_logliks(lik, pll[m], pat.npatterns), FITCL_OK);
    fitcl_lik_destroy(lik);
    fitcl_context_destroy(ctx);
  }
  double gmax = 0.0;
  for (size_t q = 0; q < ng; ++q) gmax = fmax(gmax, fabs(g[0][q]));
  for (int m = 1; m < NMODES; ++m) {
    const int single = modes[m].prec == FITCL_PRECISION_SINGLE;
    const double rel = fabs(ll[m] - ll[0]) / fabs(ll[0]);
    cr_log_info("%s: log-likelihood %.17g vs double %.17g, relative error %.2e", modes[m].name,
                ll[m], ll[0], rel);
    cr_expect(rel <= (single ? 1e-5 : 1e-7), "%s: relative error %.3g", modes[m].name, rel);
    cr_expect(rel > 0.0, "%s: the same bits as double: did it run in float?", modes[m].name);
    /* A pattern's float pruning rounds at each of its ~2n steps: a few
     * hundred float epsilons of its log-likelihood at most. */
    for (size_t i = 0; i < pat.npatterns; ++i)
      cr_expect(fabs(pll[m][i] - pll[0][i]) <= 512 * FLT_EPSILON * fmax(1.0, fabs(pll[0][i])),
                "%s: pattern %zu: %.17g vs %.17g", modes[m].name, i, pll[m][i], pll[0][i]);
    /* The gradient's per-pattern terms carry float's error through the
     * outside pass: relative to the gradient's scale. */
    double gerr = 0.0;
    for (size_t q = 0; q < ng; ++q) gerr = fmax(gerr, fabs(g[m][q] - g[0][q]));
    cr_log_info("%s: largest gradient error %.2e of %.2e", modes[m].name, gerr, gmax);
    cr_expect(gerr <= 64 * FLT_EPSILON * gmax, "%s: gradient error %.3g of %.3g", modes[m].name,
              gerr, gmax);
  }
  for (int m = 0; m < NMODES; ++m) {
    free(g[m]);
    free(pll[m]);
  }
  fx_patterns_free(&pat);
  fx_tree_free(&t);
}

/* A 600-taxon caterpillar with long branches: pattern likelihoods far
 * below float's smallest number, so the float partials must rescale.  Mixed
 * precision against log-space pruning, and the same bits whatever the tile
 * layout and chunk size. */
Test(lik_precision, deep_tree_rescales) {
  const char *sel = opencl_selector();
  const int n = 600, nn = 2 * n - 1;
  int *parent = malloc(sizeof(int) * (size_t)nn);
  double *bl = malloc(sizeof(double) * (size_t)nn);
  parent[0] = n;
  for (int i = 0; i < n - 1; ++i) {
    parent[i + 1] = n + i;
    if (i > 0) parent[n + i - 1] = n + i;
  }
  uint64_t seed = 11;
  for (int v = 0; v < nn; ++v) bl[v] = 0.3 + 0.5 * fx_rand(&seed);
  fitcl__tree t;
  fx_tree(&t, n, nn, parent, bl);
  fitcl__patterns pat;
  random_patterns(&pat, n, 300, 1, &seed);
  fitcl_gl_params p = {0.7, 0.6, 1.0, NULL, NULL};
  const double pi1 = 0.7 / 1.3;
  double ref = 0.0, lowest = 0.0;
  for (size_t i = 0; i < pat.npatterns; ++i) {
    const double l = fx_logprune(&t, fx_row(&pat, i), 0.7, 0.6, pi1);
    lowest = fmin(lowest, l);
    ref += pat.weight[i] * l;
  }
  cr_assert(lowest < 2 * log(FLT_MIN), "the test needs likelihoods float cannot hold: %g", lowest);
  for (int m = 1; m < NMODES; ++m) {
    fitcl_context *ctx = mode_context(sel, &modes[m]);
    fitcl_lik *lik = make_lik(ctx, &t, &pat, 1, 0, 0, 0);
    double g[4];
    const double ll = eval(lik, &p, g);
    const double rel = fabs(ll - ref) / fabs(ref);
    cr_log_info("%s: 600-taxon caterpillar %.17g vs log-space %.17g, relative error %.2e",
                modes[m].name, ll, ref, rel);
    const double tol = modes[m].prec == FITCL_PRECISION_SINGLE ? 1e-5 : 1e-7;
    cr_expect(rel <= tol, "%s: relative error %.3g", modes[m].name, rel);
    for (int q = 0; q < 4; ++q)
      cr_expect(isfinite(g[q]), "%s: gradient %d = %g", modes[m].name, q, g[q]);
    /* The GPU layout and chunks of one block: each pattern runs alone, the
     * sums keep their order, so the bits do not move. */
    fitcl__lik_ocl_tile_override = 16;
    fitcl_lik *other = make_lik(ctx, &t, &pat, 1, 0, 0, FITCL_REDUCE_BLOCK);
    fitcl__lik_ocl_tile_override = 0;
    double g2[4];
    cr_expect_eq(eval(other, &p, g2), ll, "%s: tiles of 16 and chunks of one block", modes[m].name);
    for (int q = 0; q < 4; ++q) cr_expect_eq(g2[q], g[q], "%s: gradient %d", modes[m].name, q);
    fitcl_lik_destroy(other);
    fitcl_lik_destroy(lik);
    fitcl_context_destroy(ctx);
  }
  fx_patterns_free(&pat);
  fx_tree_free(&t);
  free(parent);
  free(bl);
}

/* A 1,200-tip star: the root's product of 1,200 contributions rescales
 * inside the product, and the outside pass applies the factors one at a
 * time (fitcl_prune_multi_gr).  Against the closed form (the tips are
 * independent given the root), and the gradient against double's. */
Test(lik_precision, star_tree) {
  const char *sel = opencl_selector();
  const int n = 1200, nn = n + 1;
  int *parent = malloc(sizeof(int) * (size_t)nn);
  double *bl = malloc(sizeof(double) * (size_t)nn);
  uint64_t seed = 21;
  for (int v = 0; v < n; ++v) {
    parent[v] = n;
    bl[v] = 0.2 + 1.5 * fx_rand(&seed);
  }
  fitcl__tree t;
  fx_tree(&t, n, nn, parent, bl);
  fitcl__patterns pat;
  random_patterns(&pat, n, 40, 1, &seed);
  const double a = 0.6, b = 0.9, pi1 = a / (a + b);
  fitcl_gl_params p = {a, b, 1.0, NULL, NULL};
  double ref = 0.0;
  for (size_t i = 0; i < pat.npatterns; ++i) {
    double lx[2] = {log1p(-pi1), log(pi1)};
    for (int v = 0; v < n; ++v) {
      double P[2][2];
      fx_pmat(a, b, t.brlen[v], P);
      const int st = fitcl__pat_get(&pat, i, (size_t)v);
      for (int x = 0; x < 2; ++x) lx[x] += st == FITCL__MISSING ? 0.0 : log(P[x][st]);
    }
    const double m = fmax(lx[0], lx[1]);
    ref += pat.weight[i] * (m + log(exp(lx[0] - m) + exp(lx[1] - m)));
  }
  double g0[4] = {0};
  for (int m = 0; m < NMODES; ++m) {
    fitcl_context *ctx = mode_context(sel, &modes[m]);
    fitcl_lik *lik = make_lik(ctx, &t, &pat, 1, 0, 0, 0);
    double g[4];
    const double ll = eval(lik, &p, g);
    const double rel = fabs(ll - ref) / fabs(ref);
    cr_log_info("%s: 1,200-tip star %.17g vs closed form %.17g, relative error %.2e", modes[m].name,
                ll, ref, rel);
    const double tol = modes[m].prec == FITCL_PRECISION_DOUBLE ? 1e-10
                       : modes[m].prec == FITCL_PRECISION_SINGLE ? 1e-5
                                                                 : 1e-7;
    cr_expect(rel <= tol, "%s: relative error %.3g", modes[m].name, rel);
    if (m == 0) memcpy(g0, g, sizeof g);
    for (int q = 0; q < 2; ++q)
      cr_expect(fabs(g[q] - g0[q]) <= 64 * FLT_EPSILON * fmax(fabs(g0[0]), fabs(g0[1])),
                "%s: gradient %d: %.17g vs %.17g", modes[m].name, q, g[q], g0[q]);
    fitcl_lik_destroy(lik);
    fitcl_context_destroy(ctx);
  }
  fx_patterns_free(&pat);
  fx_tree_free(&t);
  free(parent);
  free(bl);
}

/* The float modes give the same bits whatever the host pool's size (it
 * computes the transition matrices and the per-block sums): 1 and 3
 * threads. */
Test(lik_precision, same_bits_any_thread_count) {
  const char *sel = opencl_selector();
  uint64_t seed = 5;
  fitcl__tree t;
  fx_random_tree(&t, 80, 0.2, &seed);
  fitcl__patterns pat;
  random_patterns(&pat, 80, 1500, 2, &seed);
  double theta[2] = {1.0, 0.6};
  fitcl_gl_params p = {0.4, 0.8, 0.7, theta, NULL};
  for (int m = 1; m < NMODES; ++m) {
    double ll[2], *g[2];
    size_t ng = 0;
    for (int k = 0; k < 2; ++k) {
      fitcl_context_options o = {0};
      o.device = sel;
      o.threads = k ? 3 : 1;
      o.cache = FITCL_CACHE_OFF;
      o.precision = modes[m].prec;
      if (!modes[m].fp64) setenv("FITCL_OPENCL_NO_FP64", "1", 1);
      fitcl_context *ctx = NULL;
      fitcl_status st = fitcl_context_create(&o, &ctx);
      unsetenv("FITCL_OPENCL_NO_FP64");
      cr_assert_eq(st, FITCL_OK, "%s", fitcl_errmsg(ctx));
      cr_assert_eq(ctx->backend->caps.fp64, modes[m].fp64, "%s", modes[m].name);
      fitcl_lik *lik = make_lik(ctx, &t, &pat, 2, 1, 1, 0);
      ng = fitcl_lik_grad_size(lik);
      g[k] = calloc(ng, sizeof(double));
      ll[k] = eval(lik, &p, g[k]);
      fitcl_lik_destroy(lik);
      fitcl_context_destroy(ctx);
    }
    cr_expect_eq(ll[0], ll[1], "%s: %.17g on 1 thread, %.17g on 3", modes[m].name, ll[0], ll[1]);
    for (size_t q = 0; q < ng; ++q)
      cr_expect_eq(g[0][q], g[1][q], "%s: gradient %zu", modes[m].name, q);
    free(g[0]);
    free(g[1]);
  }
  fx_patterns_free(&pat);
  fx_tree_free(&t);
}

#if FITCL_WITH_OPENCL
/* Builds `source` with `double` defined away and double promotion an
 * error: no double type and no unsuffixed (double) constant mixed into
 * float arithmetic.  In the source, not as options: the compiler's own
 * declarations of the built-in functions, read first, name double, and
 * PoCL takes no -W options (clang reads the pragma; another compiler
 * would ignore it). */
static fitcl_status build_without_double(fitcl_context *ctx, const char *name, const char *source) {
  static const char guard[] = "#define double fitcl_double_is_unavailable_here\n"
                              "#pragma clang diagnostic error \"-Wdouble-promotion\"\n";
  const size_t n = strlen(source);
  char *src = malloc(sizeof guard + n);
  cr_assert_not_null(src);
  memcpy(src, guard, sizeof guard - 1);
  memcpy(src + sizeof guard - 1, source, n + 1);
  cl_program prog = NULL;
  fitcl_status st = fitcl__ocl_build_source(ctx, name, src, NULL, &prog);
  if (prog) fitcl__ocl_release_program(ctx, prog);
  free(src);
  return st;
}

static const char *embedded(const char *name) {
  const fitcl__cl_file *f = fitcl__cl_find(name);
  cr_assert_not_null(f, "no embedded %s", name);
  return f->data;
}

/* The float program names no double, so it builds where there is none;
 * the double program does not build so, nor does float code with a double
 * constant in it (the checks can fail). */
Test(lik_precision, float_program_has_no_double) {
  const char *sel = opencl_selector();
  fitcl_context *ctx = fitcl_test_context(sel);
  fitcl_status st = build_without_double(ctx, "lik_float.cl", embedded("lik_float.cl"));
  cr_expect_eq(st, FITCL_OK, "lik_float.cl without double: %s", fitcl_errmsg(ctx));
  cr_expect_neq(build_without_double(ctx, "lik.cl", embedded("lik.cl")), FITCL_OK,
                "lik.cl built without double");
  static const char promotes[] =
      "__kernel void k(__global float *x) { x[0] = x[0] * 0.5; }\n";
  cr_expect_neq(build_without_double(ctx, "promotion check", promotes), FITCL_OK,
                "a float times 0.5 built without double promotion");
  static const char clean[] = "__kernel void k(__global float *x) { x[0] = x[0] * 0.5f; }\n";
  cr_expect_eq(build_without_double(ctx, "promotion control", clean), FITCL_OK, "%s",
               fitcl_errmsg(ctx));
  fitcl_context_destroy(ctx);
}
#endif

/* The known-answer self-test passes in every mode, and in float it does
 * run in float (an error above double's). */
Test(lik_precision, selftest_in_every_mode) {
  const char *sel = opencl_selector();
  for (int m = 0; m < NMODES; ++m) {
    fitcl_context *ctx = mode_context(sel, &modes[m]);
    fitcl_selftest_result r;
    memset(&r, 0, sizeof r);
    cr_assert_eq(fitcl__selftest_gainloss(ctx, &r), FITCL_OK, "%s: %s", modes[m].name,
                 fitcl_errmsg(ctx));
    cr_log_info("%s: self-test relative error %.2e", modes[m].name, r.max_rel_error);
    cr_expect(r.passed, "%s: %s, error %.3g", modes[m].name, r.detail, r.max_rel_error);
    if (modes[m].prec != FITCL_PRECISION_DOUBLE)
      cr_expect(r.max_rel_error > 1e-13, "%s: error %.3g: not in float?", modes[m].name,
                r.max_rel_error);
    fitcl_context_destroy(ctx);
  }
}
