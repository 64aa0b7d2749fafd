/* Model expressions: parsing, values against libm, exact derivatives against
 * finite differences (every built-in and random expressions), error columns. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "test_util.h"

static fitcl_context *cpu_ctx(void) { return fitcl_test_context("cpu"); }

/* Evaluates a one-variable expression at x with the given params. */
static double eval1(fitcl_context *ctx, const char *expr, const char *const *pn, size_t np,
                    const double *p, double x) {
  const char *vars[] = {"x"};
  fitcl_model *m = NULL;
  fitcl_status st = fitcl_model_compile(ctx, expr, pn, np, vars, 1, &m);
  cr_assert_eq(st, FITCL_OK, "compile '%s': %s", expr, fitcl_errmsg(ctx));
  const double *xc[] = {&x};
  double f = NAN;
  cr_assert_eq(fitcl_model_eval(m, p, xc, 1, &f, NULL), FITCL_OK);
  fitcl_model_destroy(m);
  return f;
}

Test(expr, values_match_libm) {
  fitcl_context *ctx = cpu_ctx();
  const char *pn[] = {"a", "b"};
  double p[] = {1.5, -0.25};
  double x = 0.7;
  struct { const char *e; double v; } cases[] = {
    {"2^3^2", 512.0},
    {"-x^2", -x * x},
    {"-2^2", -4.0},
    {"2^-1", 0.5},
    {"1e-3*2.5E+2", 0.25},
    {".5 + 3.", 3.5},
    {"pi", M_PI},
    {"e", M_E},
    {"a*exp(b*x)", 1.5 * exp(-0.25 * x)},
    {"log(x) + log10(x) + sqrt(x)", log(x) + log10(x) + sqrt(x)},
    {"pow(x, a) + x^b", pow(x, 1.5) + pow(x, -0.25)},
    {"sin(x)+cos(x)+tan(x)", sin(x) + cos(x) + tan(x)},
    {"asin(x)+acos(x)+atan(x)+atan2(b, x)", asin(x) + acos(x) + atan(x) + atan2(-0.25, x)},
    {"sinh(x)*cosh(x)/tanh(x)", sinh(x) * cosh(x) / tanh(x)},
    {"erf(x) - erfc(x)", erf(x) - erfc(x)},
    {"abs(b) + min(a, x) + max(a, x)", 0.25 + 0.7 + 1.5},
    {"exp(-800) + exp(700) * 0 + exp(-30)", exp(-800.0) + exp(-30.0)},
    {"a - b - x", 1.5 + 0.25 - x},
    {"a / b / x", 1.5 / -0.25 / x},
    {"(a + b) * (a - b)", (1.5 - 0.25) * (1.5 + 0.25)},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    double v = eval1(ctx, cases[i].e, pn, 2, p, x);
    cr_expect(fitcl_test_close(v, cases[i].v, 1e-14), "%s: got %.17g want %.17g", cases[i].e, v,
              cases[i].v);
  }
  fitcl_context_destroy(ctx);
}

Test(expr, exp_log_accuracy_over_range) {
  /* The block evaluator's own exp and log against libm across the range,
   * including subnormal results and special values. */
  fitcl_context *ctx = cpu_ctx();
  const char *pn[] = {"a"};
  const char *vars[] = {"x"};
  fitcl_model *me = NULL, *ml = NULL;
  cr_assert_eq(fitcl_model_compile(ctx, "exp(x)+a*0", pn, 1, vars, 1, &me), FITCL_OK);
  cr_assert_eq(fitcl_model_compile(ctx, "log(x)+a*0", pn, 1, vars, 1, &ml), FITCL_OK);
  enum { N = 4000 };
  static double xs[N], fe[N], fl[N];
  for (int i = 0; i < N; ++i) xs[i] = -745.0 + 1455.0 * i / (N - 1);
  const double *xc[] = {xs};
  double a = 0.0;
  cr_assert_eq(fitcl_model_eval(me, &a, xc, N, fe, NULL), FITCL_OK);
  for (int i = 0; i < N; ++i) {
    double ref = exp(xs[i]);
    cr_expect(fe[i] == ref || fabs(fe[i] - ref) <= 4e-16 * fabs(ref) + 1e-323, "exp(%.17g) = %.17g vs %.17g",
              xs[i], fe[i], ref);
  }
  for (int i = 0; i < N; ++i) xs[i] = pow(10.0, -310.0 + 617.0 * i / (N - 1));
  xs[0] = 0.0;
  xs[1] = -1.0;
  xs[2] = INFINITY;
  xs[3] = 4.9e-324;
  cr_assert_eq(fitcl_model_eval(ml, &a, xc, N, fl, NULL), FITCL_OK);
  cr_expect(isinf(fl[0]) && fl[0] < 0);
  cr_expect(isnan(fl[1]));
  cr_expect(isinf(fl[2]) && fl[2] > 0);
  for (int i = 3; i < N; ++i) {
    double ref = log(xs[i]);
    cr_expect(fabs(fl[i] - ref) <= 4e-16 * fabs(ref), "log(%.17g) = %.17g vs %.17g", xs[i],
              fl[i], ref);
  }
  fitcl_model_destroy(me);
  fitcl_model_destroy(ml);
  fitcl_context_destroy(ctx);
}

/* Checks the Jacobian of m at p over points x against central differences
 * with Richardson extrapolation. */
static void check_jacobian(const fitcl_model *m, const double *p, const double *const *x,
                           size_t n, double tol, const char *what) {
  size_t np = fitcl_model_nparams(m);
  double *f = malloc(n * sizeof *f), *J = malloc(n * np * sizeof *J);
  double *fp = malloc(n * sizeof *fp), *fm = malloc(n * sizeof *fm);
  double *fp2 = malloc(n * sizeof *fp2), *fm2 = malloc(n * sizeof *fm2);
  double q[FITCL_NLSQ_MAX_PARAMS];
  cr_assert_eq(fitcl_model_eval(m, p, x, n, f, J), FITCL_OK);
  for (size_t k = 0; k < np; ++k) {
    double h = 1e-4 * fmax(fabs(p[k]), 1e-2);
    memcpy(q, p, np * sizeof *q);
    q[k] = p[k] + h;
    fitcl_model_eval(m, q, x, n, fp, NULL);
    q[k] = p[k] - h;
    fitcl_model_eval(m, q, x, n, fm, NULL);
    q[k] = p[k] + 2 * h;
    fitcl_model_eval(m, q, x, n, fp2, NULL);
    q[k] = p[k] - 2 * h;
    fitcl_model_eval(m, q, x, n, fm2, NULL);
    for (size_t i = 0; i < n; ++i) {
      double d1 = (fp[i] - fm[i]) / (2 * h), d2 = (fp2[i] - fm2[i]) / (4 * h);
      double fd = (4 * d1 - d2) / 3;
      double an = J[i * np + k];
      if (!isfinite(fd) || !isfinite(an)) continue;
      double scale = fmax(fmax(fabs(fd), fabs(an)), fmax(fabs(f[i]) / fmax(fabs(p[k]), 1e-2), 1e-8));
      cr_expect(fabs(fd - an) <= tol * scale,
                "%s: d/d%s at point %zu: analytic %.12g vs finite difference %.12g", what,
                fitcl_model_param_name(m, k), i, an, fd);
    }
  }
  free(f); free(J); free(fp); free(fm); free(fp2); free(fm2);
}

Test(expr, builtin_derivatives_match_finite_differences) {
  fitcl_context *ctx = cpu_ctx();
  struct { const char *name; double p[5]; } cases[] = {
    {"exp_decay", {2.0, 0.7, 0.3}},
    {"double_exp", {1.0, 0.5, 2.0, 3.0}},
    {"gaussian", {2.0, 1.5, 0.8, 0.1}},
    {"lorentzian", {2.0, 1.5, 0.8, 0.1}},
    {"power_law", {2.0, -0.7, 0.3}},
    {"stretched_exp", {1.5, 2.0, 0.6, 0.05}},
    {"xpcs_g2", {1.0, 0.3, 2.0, 0.2, 0.5}},
  };
  enum { N = 50 };
  double x0[N], x1[N];
  for (int i = 0; i < N; ++i) {
    x0[i] = 0.05 + 0.1 * i;
    x1[i] = 0.2 + 0.01 * i;
  }
  const double *x[] = {x0, x1};
  size_t count = 0;
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
    fitcl_model *m = NULL;
    cr_assert_eq(fitcl_model_builtin(ctx, cases[c].name, &m), FITCL_OK, "%s", fitcl_errmsg(ctx));
    cr_assert_not_null(fitcl_model_builtin_expr(cases[c].name));
    check_jacobian(m, cases[c].p, x, N, 1e-7, cases[c].name);
    fitcl_model_destroy(m);
    ++count;
  }
  /* Every built-in is covered. */
  size_t nb = 0;
  while (fitcl_model_builtin_name(nb)) ++nb;
  cr_assert_eq(nb, count);
  fitcl_context_destroy(ctx);
}

/* Random expressions: a small tree generator that prints the expression and
 * evaluates it directly with libm, independently of the compiler. */
typedef struct rnode { int kind; double c; int idx; struct rnode *a, *b; } rnode;
static unsigned long long rng_state = 88172645463325252ull;
static unsigned rnd(unsigned n) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (unsigned)(rng_state % n);
}

/* Kinds: 0 const, 1 param, 2 var, 3+ ops.  Domains are kept safe by
 * construction (log of 1+u^2, sqrt of 1+u^2, asin of tanh ...). */
enum { K_CONST, K_PARAM, K_VAR, K_ADD, K_SUB, K_MUL, K_DIV, K_POW, K_EXP, K_LOG, K_SQRT,
       K_SIN, K_COS, K_ATAN, K_ASIN, K_TANH, K_ERF, K_ABS, K_MIN, K_MAX, K_NEG, K_ATAN2,
       K_COSH, K_LOG10, K_ERFC, K_N };

static rnode *gen(int depth) {
  rnode *n = calloc(1, sizeof *n);
  if (depth <= 0 || rnd(4) == 0) {
    n->kind = (int)rnd(3);
    n->c = 0.5 + rnd(20) / 10.0;
    n->idx = (int)rnd(3);
    return n;
  }
  n->kind = K_ADD + (int)rnd(K_N - K_ADD);
  n->a = gen(depth - 1);
  n->b = gen(depth - 1);
  return n;
}
static void rfree(rnode *n) { if (n) { rfree(n->a); rfree(n->b); free(n); } }

static double reval(const rnode *n, const double *p, double x) {
  double a = n->a ? reval(n->a, p, x) : 0, b = n->b ? reval(n->b, p, x) : 0;
  switch (n->kind) {
  case K_CONST: return n->c;
  case K_PARAM: return p[n->idx];
  case K_VAR: return x;
  case K_ADD: return a + b;
  case K_SUB: return a - b;
  case K_MUL: return a * b;
  case K_DIV: return a / (1.5 + b * b);
  case K_POW: return pow(1.0 + a * a, 0.5 * tanh(b));
  case K_EXP: return exp(tanh(a));
  case K_LOG: return log(1.0 + a * a);
  case K_SQRT: return sqrt(1.0 + a * a);
  case K_SIN: return sin(a);
  case K_COS: return cos(a);
  case K_ATAN: return atan(a);
  case K_ASIN: return asin(0.5 * tanh(a));
  case K_TANH: return tanh(a);
  case K_ERF: return erf(a);
  case K_ABS: return fabs(a + 3.25);
  case K_MIN: return fmin(a, b + 0.125);
  case K_MAX: return fmax(a, b + 0.125);
  case K_NEG: return -a;
  case K_ATAN2: return atan2(a, 1.0 + b * b);
  case K_COSH: return cosh(tanh(a));
  case K_LOG10: return log10(2.0 + sin(a));
  case K_ERFC: return erfc(a);
  }
  return NAN;
}

static void rprint(const rnode *n, char *buf, size_t size) {
  char A[4096] = "", Bs[4096] = "";
  if (n->a) rprint(n->a, A, sizeof A);
  if (n->b) rprint(n->b, Bs, sizeof Bs);
  static const char *pn[] = {"a", "b", "c"};
  switch (n->kind) {
  case K_CONST: snprintf(buf, size, "%.17g", n->c); break;
  case K_PARAM: snprintf(buf, size, "%s", pn[n->idx]); break;
  case K_VAR: snprintf(buf, size, "x"); break;
  case K_ADD: snprintf(buf, size, "(%s + %s)", A, Bs); break;
  case K_SUB: snprintf(buf, size, "(%s - %s)", A, Bs); break;
  case K_MUL: snprintf(buf, size, "(%s * %s)", A, Bs); break;
  case K_DIV: snprintf(buf, size, "(%s / (1.5 + (%s)^2))", A, Bs); break;
  case K_POW: snprintf(buf, size, "(1 + (%s)^2)^(0.5*tanh(%s))", A, Bs); break;
  case K_EXP: snprintf(buf, size, "exp(tanh(%s))", A); break;
  case K_LOG: snprintf(buf, size, "log(1 + %s*%s)", A, A); break;
  case K_SQRT: snprintf(buf, size, "sqrt(1 + (%s)^2)", A); break;
  case K_SIN: snprintf(buf, size, "sin(%s)", A); break;
  case K_COS: snprintf(buf, size, "cos(%s)", A); break;
  case K_ATAN: snprintf(buf, size, "atan(%s)", A); break;
  case K_ASIN: snprintf(buf, size, "asin(0.5*tanh(%s))", A); break;
  case K_TANH: snprintf(buf, size, "tanh(%s)", A); break;
  case K_ERF: snprintf(buf, size, "erf(%s)", A); break;
  case K_ABS: snprintf(buf, size, "abs(%s + 3.25)", A); break;
  case K_MIN: snprintf(buf, size, "min(%s, %s + 0.125)", A, Bs); break;
  case K_MAX: snprintf(buf, size, "max(%s, %s + 0.125)", A, Bs); break;
  case K_NEG: snprintf(buf, size, "-(%s)", A); break;
  case K_ATAN2: snprintf(buf, size, "atan2(%s, 1 + (%s)^2)", A, Bs); break;
  case K_COSH: snprintf(buf, size, "cosh(tanh(%s))", A); break;
  case K_LOG10: snprintf(buf, size, "log10(2 + sin(%s))", A); break;
  case K_ERFC: snprintf(buf, size, "erfc(%s)", A); break;
  }
}

Test(expr, random_expressions_values_and_derivatives) {
  fitcl_context *ctx = cpu_ctx();
  const char *pn[] = {"a", "b", "c"};
  const char *vars[] = {"x"};
  const double p[] = {0.7, -0.4, 1.3};
  enum { N = 40 };
  double xs[N], f[N];
  for (int i = 0; i < N; ++i) xs[i] = -2.0 + 4.0 * i / (N - 1) + 0.013;
  const double *x[] = {xs};
  for (int t = 0; t < 200; ++t) {
    rnode *r = gen(5);
    static char text[16384];
    rprint(r, text, sizeof text);
    fitcl_model *m = NULL;
    fitcl_status st = fitcl_model_compile(ctx, text, pn, 3, vars, 1, &m);
    cr_assert_eq(st, FITCL_OK, "compile %s: %s", text, fitcl_errmsg(ctx));
    cr_assert_eq(fitcl_model_eval(m, p, x, N, f, NULL), FITCL_OK);
    for (int i = 0; i < N; ++i) {
      double ref = reval(r, p, xs[i]);
      cr_expect(fabs(f[i] - ref) <= 1e-12 * fmax(1.0, fabs(ref)), "%s at x=%g: %.17g vs %.17g",
                text, xs[i], f[i], ref);
    }
    check_jacobian(m, p, x, N, 2e-6, text);
    fitcl_model_destroy(m);
    rfree(r);
  }
  fitcl_context_destroy(ctx);
}

Test(expr, derivative_rules_exact) {
  /* Closed-form derivatives, compared to 1e-14 (not finite differences). */
  fitcl_context *ctx = cpu_ctx();
  const char *pn[] = {"a"};
  const char *vars[] = {"x"};
  double a = 0.3, xv = 0.45;
  struct { const char *e; double d; } cases[] = {
    {"a^3", 3 * a * a},
    {"x^a", pow(xv, a) * log(xv)},
    {"a^a", pow(a, a) * (log(a) + 1)},
    {"exp(a*x)", xv * exp(a * xv)},
    {"log(a)", 1 / a},
    {"log10(a)", 1 / (a * log(10.0))},
    {"sqrt(a)", 0.5 / sqrt(a)},
    {"tan(a)", 1 / (cos(a) * cos(a))},
    {"asin(a)", 1 / sqrt(1 - a * a)},
    {"acos(a)", -1 / sqrt(1 - a * a)},
    {"atan2(a, x)", xv / (a * a + xv * xv)},
    {"sinh(a)", cosh(a)},
    {"tanh(a)", 1 - tanh(a) * tanh(a)},
    {"erfc(a)", -2 / sqrt(M_PI) * exp(-a * a)},
    {"abs(-a)", 1.0},
    {"min(a, x)", 1.0},
    {"max(a, x)", 0.0},
    {"x/a", -xv / (a * a)},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    fitcl_model *m = NULL;
    cr_assert_eq(fitcl_model_compile(ctx, cases[i].e, pn, 1, vars, 1, &m), FITCL_OK);
    const double *xc[] = {&xv};
    double f, J;
    cr_assert_eq(fitcl_model_eval(m, &a, xc, 1, &f, &J), FITCL_OK);
    cr_expect(fitcl_test_close(J, cases[i].d, 1e-14), "d/da %s: %.17g vs %.17g", cases[i].e, J,
              cases[i].d);
    fitcl_model_destroy(m);
  }
  fitcl_context_destroy(ctx);
}

/* Compiles `expr` expecting failure with `status`, at `column`, with a
 * message containing `needle`. */
static void expect_error(fitcl_context *ctx, const char *expr, fitcl_status status, int column,
                         const char *needle) {
  const char *pn[] = {"a", "b"};
  const char *vars[] = {"x"};
  fitcl_model *m = NULL;
  fitcl_status st = fitcl_model_compile(ctx, expr, pn, 2, vars, 1, &m);
  cr_expect_eq(st, status, "'%s': status %d want %d (%s)", expr, st, status, fitcl_errmsg(ctx));
  cr_expect_null(m);
  char col[32];
  snprintf(col, sizeof col, "column %d:", column);
  const char *msg = fitcl_errmsg(ctx);
  cr_expect(strstr(msg, col) != NULL, "'%s': message '%s' lacks '%s'", expr, msg, col);
  cr_expect(strstr(msg, needle) != NULL, "'%s': message '%s' lacks '%s'", expr, msg, needle);
}

Test(expr, errors_name_the_column) {
  fitcl_context *ctx = cpu_ctx();
  expect_error(ctx, "a*exp(-b*x", FITCL_ERR_PARSE, 11, "expected ',' or ')'");
  expect_error(ctx, "a + * b", FITCL_ERR_PARSE, 5, "expected a number");
  expect_error(ctx, "a*foo + 1", FITCL_ERR_NAME, 3, "unknown name 'foo'");
  expect_error(ctx, "a*bar(x)", FITCL_ERR_NAME, 3, "unknown function 'bar'");
  expect_error(ctx, "exp(a, b)", FITCL_ERR_ARG, 1, "takes 1 argument, got 2");
  expect_error(ctx, "x + atan2(a)", FITCL_ERR_ARG, 5, "takes 2 arguments, got 1");
  expect_error(ctx, "a $ b", FITCL_ERR_PARSE, 3, "unexpected character '$'");
  expect_error(ctx, "   ", FITCL_ERR_PARSE, 4, "empty");
  expect_error(ctx, "sin + a", FITCL_ERR_PARSE, 1, "needs its arguments");
  expect_error(ctx, "a(x)", FITCL_ERR_PARSE, 1, "is a parameter, not a function");
  expect_error(ctx, "(a + b))", FITCL_ERR_PARSE, 8, "unmatched ')'");
  expect_error(ctx, "a b", FITCL_ERR_PARSE, 3, "expected an operator");
  expect_error(ctx, "1e999*a", FITCL_ERR_PARSE, 1, "out of the double range");
  expect_error(ctx, "(a", FITCL_ERR_PARSE, 3, "to close the '(' at column 1");
  char deep[1300];
  memset(deep, '(', 600);
  strcpy(deep + 600, "a");
  memset(deep + 601, ')', 600);
  deep[1201] = 0;
  expect_error(ctx, deep, FITCL_ERR_PARSE, 201, "nested deeper");
  (void)0;
  fitcl_context_destroy(ctx);
}

Test(expr, bad_names_and_sizes) {
  fitcl_context *ctx = cpu_ctx();
  fitcl_model *m = NULL;
  const char *dup[] = {"a", "a"};
  const char *bad[] = {"1a"};
  const char *fn[] = {"exp"};
  const char *x[] = {"x"};
  const char *clash[] = {"a"};
  cr_expect_eq(fitcl_model_compile(ctx, "a", dup, 2, x, 1, &m), FITCL_ERR_ARG);
  cr_expect_eq(fitcl_model_compile(ctx, "a", bad, 1, x, 1, &m), FITCL_ERR_ARG);
  cr_expect_eq(fitcl_model_compile(ctx, "a", fn, 1, x, 1, &m), FITCL_ERR_ARG);
  cr_expect_eq(fitcl_model_compile(ctx, "a", clash, 1, clash, 1, &m), FITCL_ERR_ARG);
  cr_expect_eq(fitcl_model_compile(ctx, "a", clash, 0, x, 1, &m), FITCL_ERR_SIZE);
  cr_expect_eq(fitcl_model_builtin(ctx, "nope", &m), FITCL_ERR_NAME);
  cr_expect(strstr(fitcl_errmsg(ctx), "xpcs_g2") != NULL);
  cr_expect_null(fitcl_model_builtin_expr("nope"));
  fitcl_model_destroy(NULL);
  fitcl_context_destroy(ctx);
}

Test(expr, long_chains_do_not_recurse) {
  /* 20000 terms: parsing, differentiation and linearisation are loops. */
  fitcl_context *ctx = cpu_ctx();
  size_t n = 20000;
  char *s = malloc(n * 8 + 1);
  size_t k = 0;
  for (size_t i = 0; i < n; ++i) k += (size_t)sprintf(s + k, "%sa*x", i ? "+" : "");
  const char *pn[] = {"a"};
  const char *vars[] = {"x"};
  fitcl_model *m = NULL;
  cr_assert_eq(fitcl_model_compile(ctx, s, pn, 1, vars, 1, &m), FITCL_OK, "%s", fitcl_errmsg(ctx));
  double a = 2.0, xv = 0.5, f, J;
  const double *xc[] = {&xv};
  cr_assert_eq(fitcl_model_eval(m, &a, xc, 1, &f, &J), FITCL_OK);
  cr_expect(fitcl_test_close(f, (double)n, 1e-12));
  cr_expect(fitcl_test_close(J, (double)n * 0.5, 1e-12));
  fitcl_model_destroy(m);
  free(s);
  fitcl_context_destroy(ctx);
}

Test(expr, locale_does_not_change_numbers) {
  /* The parser never depends on the C locale's decimal point. */
  fitcl_context *ctx = cpu_ctx();
  const char *pn[] = {"a"};
  double a = 1.0;
  cr_expect(fitcl_test_close(eval1(ctx, "2.5*a", pn, 1, &a, 0.0), 2.5, 1e-15));
  fitcl_context_destroy(ctx);
}
