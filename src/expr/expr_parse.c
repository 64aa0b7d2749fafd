/* Lexer and recursive-descent parser for model expressions.  Every error
 * names the 1-based column where it was found.  Recursion is bounded by the
 * nesting depth (parentheses, unary signs, powers), so hostile input cannot
 * exhaust the stack; left-associative chains are loops. */
#include "expr/expr.h"

#include <ctype.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 200

typedef enum tok_kind { T_END, T_NUM, T_NAME, T_OP, T_LP, T_RP, T_COMMA, T_BAD } tok_kind;

typedef struct parser {
  fitcl__expr_graph *g;
  const char *s;
  size_t pos;         /* offset of the current token */
  tok_kind kind;
  size_t len;         /* token length */
  double num;
  const char *const *params;
  size_t nparams;
  const char *const *vars;
  size_t nvars;
  int depth;
  fitcl__expr_error *err;
  int failed;
} parser;

static int32_t fail_at(parser *P, size_t pos, fitcl_status st, const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));
static int32_t fail_at(parser *P, size_t pos, fitcl_status st, const char *fmt, ...) {
  if (P->failed) return -1;
  P->failed = 1;
  P->err->status = st;
  P->err->column = (int)pos + 1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(P->err->msg, sizeof P->err->msg, fmt, ap);
  va_end(ap);
  return -1;
}

/* Scans a decimal literal: digits [. digits] [(e|E) [+-] digits].  Converts
 * with strtod after swapping '.' for the locale's decimal point, so a host
 * application's setlocale() cannot change how models parse. */
static size_t scan_number(const char *s, double *out) {
  size_t i = 0;
  while (isdigit((unsigned char)s[i])) ++i;
  if (s[i] == '.') {
    ++i;
    while (isdigit((unsigned char)s[i])) ++i;
  }
  if (i == 1 && s[0] == '.') return 0;
  if (s[i] == 'e' || s[i] == 'E') {
    size_t j = i + 1;
    if (s[j] == '+' || s[j] == '-') ++j;
    if (isdigit((unsigned char)s[j])) {
      while (isdigit((unsigned char)s[j])) ++j;
      i = j;
    }
  }
  char buf[128];
  if (i >= sizeof buf) {
    *out = HUGE_VAL; /* absurdly long literal: treated as overflow below */
    return i;
  }
  memcpy(buf, s, i);
  buf[i] = 0;
  const char *dp = localeconv()->decimal_point;
  char *dot = strchr(buf, '.');
  if (dot && dp && dp[0] && dp[0] != '.' && dp[1] == 0) *dot = dp[0];
  *out = strtod(buf, NULL);
  return i;
}

static void next(parser *P) {
  P->pos += P->len;
  const char *s = P->s;
  while (s[P->pos] == ' ' || s[P->pos] == '\t' || s[P->pos] == '\n' || s[P->pos] == '\r')
    ++P->pos;
  char c = s[P->pos];
  P->len = 1;
  if (c == 0) { P->kind = T_END; P->len = 0; }
  else if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)s[P->pos + 1]))) {
    P->kind = T_NUM;
    P->len = scan_number(s + P->pos, &P->num);
  } else if (isalpha((unsigned char)c) || c == '_') {
    P->kind = T_NAME;
    size_t i = P->pos;
    while (isalnum((unsigned char)s[i]) || s[i] == '_') ++i;
    P->len = i - P->pos;
  } else if (strchr("+-*/^", c)) P->kind = T_OP;
  else if (c == '(') P->kind = T_LP;
  else if (c == ')') P->kind = T_RP;
  else if (c == ',') P->kind = T_COMMA;
  else P->kind = T_BAD;
}

/* Describes the current token for error messages. */
static void describe(const parser *P, char *out, size_t size) {
  switch (P->kind) {
  case T_END: snprintf(out, size, "the end of the expression"); break;
  case T_BAD: {
    unsigned char c = (unsigned char)P->s[P->pos];
    if (isprint(c)) snprintf(out, size, "'%c'", c);
    else snprintf(out, size, "byte 0x%02x", c);
    break;
  }
  default: {
    int n = P->len > 40 ? 40 : (int)P->len;
    snprintf(out, size, "'%.*s'", n, P->s + P->pos);
  }
  }
}

static const struct { const char *name; fitcl__expr_op op; int arity; } funcs[] = {
  {"exp", FITCL__OP_EXP, 1},     {"log", FITCL__OP_LOG, 1},     {"log10", FITCL__OP_LOG10, 1},
  {"sqrt", FITCL__OP_SQRT, 1},   {"pow", FITCL__OP_POW, 2},     {"sin", FITCL__OP_SIN, 1},
  {"cos", FITCL__OP_COS, 1},     {"tan", FITCL__OP_TAN, 1},     {"asin", FITCL__OP_ASIN, 1},
  {"acos", FITCL__OP_ACOS, 1},   {"atan", FITCL__OP_ATAN, 1},   {"atan2", FITCL__OP_ATAN2, 2},
  {"sinh", FITCL__OP_SINH, 1},   {"cosh", FITCL__OP_COSH, 1},   {"tanh", FITCL__OP_TANH, 1},
  {"erf", FITCL__OP_ERF, 1},     {"erfc", FITCL__OP_ERFC, 1},   {"abs", FITCL__OP_ABS, 1},
  {"min", FITCL__OP_MIN, 2},     {"max", FITCL__OP_MAX, 2},
};

static int32_t parse_expr(parser *P);
static int32_t parse_unary(parser *P);

static int32_t parse_call(parser *P, size_t fi, size_t name_pos) {
  int nargs = 0;
  int32_t args[2] = {-1, -1};
  next(P); /* '(' */
  if (P->kind != T_RP) {
    for (;;) {
      int32_t v = parse_expr(P);
      if (v < 0) return -1;
      if (nargs < 2) args[nargs] = v;
      ++nargs;
      if (P->kind == T_COMMA) { next(P); continue; }
      break;
    }
  }
  if (P->kind != T_RP) {
    char what[64];
    describe(P, what, sizeof what);
    return fail_at(P, P->pos, FITCL_ERR_PARSE, "expected ',' or ')' in the call of %s, found %s",
                   funcs[fi].name, what);
  }
  if (nargs != funcs[fi].arity)
    return fail_at(P, name_pos, FITCL_ERR_ARG, "function '%s' takes %d argument%s, got %d",
                   funcs[fi].name, funcs[fi].arity, funcs[fi].arity == 1 ? "" : "s", nargs);
  next(P); /* ')' */
  return fitcl__expr_make(P->g, funcs[fi].op, args[0], args[1]);
}

static int32_t parse_primary(parser *P) {
  size_t pos = P->pos;
  char what[64];
  if (P->kind == T_NUM) {
    double v = P->num;
    if (!isfinite(v)) {
      return fail_at(P, pos, FITCL_ERR_PARSE, "number '%.*s' is out of the double range",
                     (int)(P->len > 40 ? 40 : P->len), P->s + pos);
    }
    next(P);
    return fitcl__expr_const(P->g, v);
  }
  if (P->kind == T_LP) {
    next(P);
    int32_t v = parse_expr(P);
    if (v < 0) return -1;
    if (P->kind != T_RP) {
      describe(P, what, sizeof what);
      return fail_at(P, P->pos, FITCL_ERR_PARSE,
                     "expected ')' to close the '(' at column %zu, found %s", pos + 1, what);
    }
    next(P);
    return v;
  }
  if (P->kind == T_NAME) {
    const char *name = P->s + pos;
    size_t len = P->len;
    int plen = len > 64 ? 64 : (int)len;
    next(P);
    int is_call = P->kind == T_LP;
    for (size_t i = 0; i < P->nparams; ++i)
      if (strlen(P->params[i]) == len && memcmp(P->params[i], name, len) == 0) {
        if (is_call)
          return fail_at(P, pos, FITCL_ERR_PARSE, "'%.*s' is a parameter, not a function", plen,
                         name);
        return fitcl__expr_leaf(P->g, FITCL__OP_PARAM, (int32_t)i);
      }
    for (size_t i = 0; i < P->nvars; ++i)
      if (strlen(P->vars[i]) == len && memcmp(P->vars[i], name, len) == 0) {
        if (is_call)
          return fail_at(P, pos, FITCL_ERR_PARSE, "'%.*s' is a variable, not a function", plen,
                         name);
        return fitcl__expr_leaf(P->g, FITCL__OP_VAR, (int32_t)i);
      }
    for (size_t i = 0; i < sizeof funcs / sizeof funcs[0]; ++i)
      if (strlen(funcs[i].name) == len && memcmp(funcs[i].name, name, len) == 0) {
        if (!is_call)
          return fail_at(P, pos, FITCL_ERR_PARSE, "function '%s' needs its arguments: %s(...)",
                         funcs[i].name, funcs[i].name);
        return parse_call(P, i, pos);
      }
    if (!is_call && len == 2 && memcmp(name, "pi", 2) == 0)
      return fitcl__expr_const(P->g, 3.14159265358979323846);
    if (!is_call && len == 1 && name[0] == 'e') return fitcl__expr_const(P->g, 2.71828182845904523536);
    if (is_call)
      return fail_at(P, pos, FITCL_ERR_NAME, "unknown function '%.*s'", plen, name);
    /* List what would have been accepted, so the fix is obvious. */
    char known[160] = "";
    size_t k = 0;
    for (size_t i = 0; i < P->nparams + P->nvars && k + 2 < sizeof known; ++i) {
      const char *nm = i < P->nparams ? P->params[i] : P->vars[i - P->nparams];
      int w = snprintf(known + k, sizeof known - k, "%s%s", i ? ", " : "", nm);
      if (w < 0) break;
      k += (size_t)w;
    }
    return fail_at(P, pos, FITCL_ERR_NAME,
                   "unknown name '%.*s' (not a parameter, variable, constant pi/e or function; "
                   "known names: %s)", plen, name, known[0] ? known : "none");
  }
  describe(P, what, sizeof what);
  if (P->kind == T_BAD)
    return fail_at(P, pos, FITCL_ERR_PARSE, "unexpected character %s", what);
  return fail_at(P, pos, FITCL_ERR_PARSE, "expected a number, name or '(' but found %s", what);
}

static int32_t parse_power(parser *P) {
  int32_t base = parse_primary(P);
  if (base < 0) return -1;
  if (P->kind == T_OP && P->s[P->pos] == '^') {
    next(P);
    int32_t ex = parse_unary(P); /* right-associative: a^b^c = a^(b^c); 2^-x allowed */
    if (ex < 0) return -1;
    return fitcl__expr_make(P->g, FITCL__OP_POW, base, ex);
  }
  return base;
}

static int32_t parse_unary(parser *P) {
  if (++P->depth > MAX_DEPTH) {
    --P->depth;
    return fail_at(P, P->pos, FITCL_ERR_PARSE, "expression nested deeper than %d levels",
                   MAX_DEPTH);
  }
  int32_t v;
  if (P->kind == T_OP && (P->s[P->pos] == '-' || P->s[P->pos] == '+')) {
    int neg = P->s[P->pos] == '-';
    next(P);
    v = parse_unary(P);
    if (v >= 0 && neg) v = fitcl__expr_make(P->g, FITCL__OP_NEG, v, -1);
  } else {
    v = parse_power(P);
  }
  --P->depth;
  return v;
}

static int32_t parse_term(parser *P) {
  int32_t v = parse_unary(P);
  while (v >= 0 && P->kind == T_OP && (P->s[P->pos] == '*' || P->s[P->pos] == '/')) {
    fitcl__expr_op op = P->s[P->pos] == '*' ? FITCL__OP_MUL : FITCL__OP_DIV;
    next(P);
    int32_t r = parse_unary(P);
    if (r < 0) return -1;
    v = fitcl__expr_make(P->g, op, v, r);
  }
  return v;
}

static int32_t parse_expr(parser *P) {
  int32_t v = parse_term(P);
  while (v >= 0 && P->kind == T_OP && (P->s[P->pos] == '+' || P->s[P->pos] == '-')) {
    fitcl__expr_op op = P->s[P->pos] == '+' ? FITCL__OP_ADD : FITCL__OP_SUB;
    next(P);
    int32_t r = parse_term(P);
    if (r < 0) return -1;
    v = fitcl__expr_make(P->g, op, v, r);
  }
  return v;
}

int32_t fitcl__expr_parse(fitcl__expr_graph *g, const char *text,
                          const char *const *params, size_t nparams,
                          const char *const *vars, size_t nvars, fitcl__expr_error *err) {
  parser P = {0};
  P.g = g;
  P.s = text;
  P.params = params;
  P.nparams = nparams;
  P.vars = vars;
  P.nvars = nvars;
  P.err = err;
  memset(err, 0, sizeof *err);
  next(&P);
  if (P.kind == T_END) return fail_at(&P, P.pos, FITCL_ERR_PARSE, "the expression is empty");
  int32_t v = parse_expr(&P);
  if (v >= 0 && P.kind != T_END) {
    char what[64];
    describe(&P, what, sizeof what);
    if (P.kind == T_RP) return fail_at(&P, P.pos, FITCL_ERR_PARSE, "unmatched ')'");
    if (P.kind == T_BAD) return fail_at(&P, P.pos, FITCL_ERR_PARSE, "unexpected character %s", what);
    return fail_at(&P, P.pos, FITCL_ERR_PARSE, "expected an operator or the end, found %s",
                   what);
  }
  if (v < 0 && !P.failed) {
    err->status = FITCL_ERR_NOMEM;
    err->column = 0;
    snprintf(err->msg, sizeof err->msg, "out of memory while compiling the expression");
  }
  return v;
}
