/* The expression graph: hash-consed nodes with simplification at
 * construction, and symbolic differentiation.  Because every node goes
 * through fitcl__expr_make, equal subexpressions are one node (CSE) and the
 * derivatives reuse the nodes of the value (f itself in d exp(u) = f du). */
#include "expr/expr.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const int op_arity[] = {
#define FITCL__OP_AR_(n, ar, s) ar,
  FITCL__EXPR_OPS(FITCL__OP_AR_)
#undef FITCL__OP_AR_
};
static const char *const op_names[] = {
#define FITCL__OP_NM_(n, ar, s) s,
  FITCL__EXPR_OPS(FITCL__OP_NM_)
#undef FITCL__OP_NM_
};

int fitcl__expr_op_arity(fitcl__expr_op op) { return op < FITCL__OP_COUNT ? op_arity[op] : 0; }
const char *fitcl__expr_op_name(fitcl__expr_op op) {
  return op < FITCL__OP_COUNT ? op_names[op] : "?";
}

void fitcl__expr_graph_init(fitcl__expr_graph *g) { memset(g, 0, sizeof *g); }

void fitcl__expr_graph_free(fitcl__expr_graph *g) {
  free(g->nodes);
  free(g->table);
  memset(g, 0, sizeof *g);
}

double fitcl__expr_apply(fitcl__expr_op op, double a, double b) {
  switch (op) {
  case FITCL__OP_ADD: return a + b;
  case FITCL__OP_SUB: return a - b;
  case FITCL__OP_MUL: return a * b;
  case FITCL__OP_DIV: return a / b;
  case FITCL__OP_NEG: return -a;
  case FITCL__OP_POW: return pow(a, b);
  case FITCL__OP_SQR: return a * a;
  case FITCL__OP_EXP: return exp(a);
  case FITCL__OP_LOG: return log(a);
  case FITCL__OP_LOG10: return log10(a);
  case FITCL__OP_SQRT: return sqrt(a);
  case FITCL__OP_SIN: return sin(a);
  case FITCL__OP_COS: return cos(a);
  case FITCL__OP_TAN: return tan(a);
  case FITCL__OP_ASIN: return asin(a);
  case FITCL__OP_ACOS: return acos(a);
  case FITCL__OP_ATAN: return atan(a);
  case FITCL__OP_ATAN2: return atan2(a, b);
  case FITCL__OP_SINH: return sinh(a);
  case FITCL__OP_COSH: return cosh(a);
  case FITCL__OP_TANH: return tanh(a);
  case FITCL__OP_ERF: return erf(a);
  case FITCL__OP_ERFC: return erfc(a);
  case FITCL__OP_ABS: return fabs(a);
  case FITCL__OP_MIN: return fmin(a, b);
  case FITCL__OP_MAX: return fmax(a, b);
  case FITCL__OP_LE: return a <= b ? 1.0 : 0.0;
  case FITCL__OP_GE: return a >= b ? 1.0 : 0.0;
  case FITCL__OP_SIGN: return a > 0 ? 1.0 : (a < 0 ? -1.0 : 0.0);
  case FITCL__OP_NMUL: return -(a * b);
  case FITCL__OP_EXPMUL: return exp(a * b);
  case FITCL__OP_EXPNMUL: return exp(-(a * b));
  default: return NAN;
  }
}

static uint64_t node_hash(const fitcl__expr_node *nd) {
  uint64_t bits;
  memcpy(&bits, &nd->value, sizeof bits);
  uint64_t h = 1469598103934665603ull;
  uint64_t parts[5] = {nd->op, (uint64_t)(uint32_t)nd->a, (uint64_t)(uint32_t)nd->b,
                       (uint64_t)(uint32_t)nd->index, bits};
  for (int i = 0; i < 5; ++i) {
    h ^= parts[i];
    h *= 1099511628211ull;
    h ^= h >> 29;
  }
  return h;
}

static int node_eq(const fitcl__expr_node *x, const fitcl__expr_node *y) {
  return x->op == y->op && x->a == y->a && x->b == y->b && x->index == y->index &&
         memcmp(&x->value, &y->value, sizeof x->value) == 0;
}

static int grow_table(fitcl__expr_graph *g) {
  size_t ncap = g->tcap ? g->tcap * 2 : 256;
  int32_t *t = malloc(ncap * sizeof *t);
  if (!t) return 0;
  for (size_t i = 0; i < ncap; ++i) t[i] = -1;
  for (size_t i = 0; i < g->n; ++i) {
    size_t h = (size_t)node_hash(&g->nodes[i]) & (ncap - 1);
    while (t[h] >= 0) h = (h + 1) & (ncap - 1);
    t[h] = (int32_t)i;
  }
  free(g->table);
  g->table = t;
  g->tcap = ncap;
  return 1;
}

/* Returns the id of an equal node, inserting it when new. */
static int32_t intern(fitcl__expr_graph *g, const fitcl__expr_node *nd) {
  if (g->oom) return -1;
  if ((g->n + 1) * 2 > g->tcap && !grow_table(g)) goto oom;
  size_t h = (size_t)node_hash(nd) & (g->tcap - 1);
  while (g->table[h] >= 0) {
    if (node_eq(&g->nodes[g->table[h]], nd)) return g->table[h];
    h = (h + 1) & (g->tcap - 1);
  }
  if (g->n >= INT32_MAX / 2) goto oom;
  if (g->n == g->cap) {
    size_t ncap = g->cap ? g->cap * 2 : 128;
    fitcl__expr_node *nn = realloc(g->nodes, ncap * sizeof *nn);
    if (!nn) goto oom;
    g->nodes = nn;
    g->cap = ncap;
  }
  g->nodes[g->n] = *nd;
  g->nodes[g->n].hasp = nd->op == FITCL__OP_PARAM || (nd->a >= 0 && g->nodes[nd->a].hasp) ||
                        (nd->b >= 0 && g->nodes[nd->b].hasp);
  g->table[h] = (int32_t)g->n;
  return (int32_t)g->n++;
oom:
  g->oom = 1;
  return -1;
}

int32_t fitcl__expr_const(fitcl__expr_graph *g, double v) {
  if (v == 0) v = 0.0; /* one zero: -0 and +0 fold to the same node */
  fitcl__expr_node nd = {FITCL__OP_CONST, 0, -1, -1, -1, v};
  return intern(g, &nd);
}

int32_t fitcl__expr_leaf(fitcl__expr_graph *g, fitcl__expr_op op, int32_t index) {
  fitcl__expr_node nd = {(uint8_t)op, 0, -1, -1, index, 0.0};
  return intern(g, &nd);
}

static int is_const(const fitcl__expr_graph *g, int32_t id, double v) {
  return id >= 0 && g->nodes[id].op == FITCL__OP_CONST && g->nodes[id].value == v;
}
static int is_k(const fitcl__expr_graph *g, int32_t id) {
  return id >= 0 && g->nodes[id].op == FITCL__OP_CONST;
}

int32_t fitcl__expr_make(fitcl__expr_graph *g, fitcl__expr_op op, int32_t a, int32_t b) {
  if (g->oom || a < 0) return -1;
  int ar = fitcl__expr_op_arity(op);
  if (ar == 2 && b < 0) return -1;
  if (ar == 1) b = -1;
  const fitcl__expr_node *N = g->nodes;
  /* Constant folding. */
  if (is_k(g, a) && (ar == 1 || is_k(g, b)))
    return fitcl__expr_const(g, fitcl__expr_apply(op, N[a].value, ar == 2 ? N[b].value : 0));
  switch (op) {
  case FITCL__OP_ADD:
    if (is_const(g, a, 0)) return b;
    if (is_const(g, b, 0)) return a;
    if (N[b].op == FITCL__OP_NEG) return fitcl__expr_make(g, FITCL__OP_SUB, a, N[b].a);
    if (N[a].op == FITCL__OP_NEG) return fitcl__expr_make(g, FITCL__OP_SUB, b, N[a].a);
    if (a > b) { int32_t t = a; a = b; b = t; }
    break;
  case FITCL__OP_SUB:
    if (is_const(g, b, 0)) return a;
    if (is_const(g, a, 0)) return fitcl__expr_make(g, FITCL__OP_NEG, b, -1);
    if (a == b) return fitcl__expr_const(g, 0.0);
    if (N[b].op == FITCL__OP_NEG) return fitcl__expr_make(g, FITCL__OP_ADD, a, N[b].a);
    break;
  case FITCL__OP_MUL:
    if (is_const(g, a, 0) || is_const(g, b, 0)) return fitcl__expr_const(g, 0.0);
    if (is_const(g, a, 1)) return b;
    if (is_const(g, b, 1)) return a;
    if (is_const(g, a, -1)) return fitcl__expr_make(g, FITCL__OP_NEG, b, -1);
    if (is_const(g, b, -1)) return fitcl__expr_make(g, FITCL__OP_NEG, a, -1);
    if (N[a].op == FITCL__OP_NEG) {
      int32_t m = fitcl__expr_make(g, FITCL__OP_MUL, N[a].a, b);
      return fitcl__expr_make(g, FITCL__OP_NEG, m, -1);
    }
    if (N[b].op == FITCL__OP_NEG) {
      int32_t m = fitcl__expr_make(g, FITCL__OP_MUL, a, N[b].a);
      return fitcl__expr_make(g, FITCL__OP_NEG, m, -1);
    }
    if (a == b) return fitcl__expr_make(g, FITCL__OP_SQR, a, -1);
    /* Constants first, so 2*x and x*2 are one node. */
    if (is_k(g, b) || (!is_k(g, a) && a > b)) { int32_t t = a; a = b; b = t; }
    break;
  case FITCL__OP_DIV:
    if (is_const(g, a, 0)) return fitcl__expr_const(g, 0.0);
    if (is_const(g, b, 1)) return a;
    if (is_const(g, b, -1)) return fitcl__expr_make(g, FITCL__OP_NEG, a, -1);
    if (a == b) return fitcl__expr_const(g, 1.0);
    if (N[a].op == FITCL__OP_NEG) {
      int32_t m = fitcl__expr_make(g, FITCL__OP_DIV, N[a].a, b);
      return fitcl__expr_make(g, FITCL__OP_NEG, m, -1);
    }
    break;
  case FITCL__OP_NEG:
    if (N[a].op == FITCL__OP_NEG) return N[a].a;
    if (N[a].op == FITCL__OP_SUB) return fitcl__expr_make(g, FITCL__OP_SUB, N[a].b, N[a].a);
    break;
  case FITCL__OP_POW:
    if (is_const(g, b, 1)) return a;
    if (is_const(g, b, 0)) return fitcl__expr_const(g, 1.0);
    if (is_const(g, b, 2)) return fitcl__expr_make(g, FITCL__OP_SQR, a, -1);
    if (is_const(g, b, -1))
      return fitcl__expr_make(g, FITCL__OP_DIV, fitcl__expr_const(g, 1.0), a);
    if (is_const(g, b, 0.5)) return fitcl__expr_make(g, FITCL__OP_SQRT, a, -1);
    /* An exponent that depends on a parameter makes the derivative need
     * log(a) anyway (so the base must be positive for a usable Jacobian);
     * writing a^b as exp(b*log(a)) then shares that log and the exp with
     * the derivative, one transcendental instead of pow + log. */
    if (N[b].hasp) {
      int32_t l = fitcl__expr_make(g, FITCL__OP_LOG, a, -1);
      return fitcl__expr_make(g, FITCL__OP_EXP, fitcl__expr_make(g, FITCL__OP_MUL, b, l), -1);
    }
    break;
  case FITCL__OP_SQR:
    if (N[a].op == FITCL__OP_NEG) return fitcl__expr_make(g, FITCL__OP_SQR, N[a].a, -1);
    break;
  case FITCL__OP_MIN:
  case FITCL__OP_MAX:
    if (a == b) return a;
    break;
  default:
    break;
  }
  fitcl__expr_node nd = {(uint8_t)op, 0, a, b, -1, 0.0};
  return intern(g, &nd);
}

/* Shorthands for the derivative rules below. */
#define K(v) fitcl__expr_const(g, (v))
#define M2(o, x, y) fitcl__expr_make(g, FITCL__OP_##o, (x), (y))
#define M1(o, x) fitcl__expr_make(g, FITCL__OP_##o, (x), -1)

/* Derivative of node `id` given the derivatives d[] of its operands. */
static int32_t diff_node(fitcl__expr_graph *g, int32_t id, int32_t p, const int32_t *d) {
  fitcl__expr_node nd = g->nodes[id];
  int32_t a = nd.a, b = nd.b, f = id;
  int32_t da = a >= 0 ? d[a] : -1, db = b >= 0 ? d[b] : -1;
  int32_t zero = K(0.0);
  switch ((fitcl__expr_op)nd.op) {
  case FITCL__OP_CONST:
  case FITCL__OP_VAR: return zero;
  case FITCL__OP_PARAM: return nd.index == p ? K(1.0) : zero;
  case FITCL__OP_LE:
  case FITCL__OP_GE:
  case FITCL__OP_SIGN: return zero;
  default: break;
  }
  if (da == zero && (db < 0 || db == zero)) return zero;
  switch ((fitcl__expr_op)nd.op) {
  case FITCL__OP_ADD: return M2(ADD, da, db);
  case FITCL__OP_SUB: return M2(SUB, da, db);
  case FITCL__OP_MUL: return M2(ADD, M2(MUL, da, b), M2(MUL, a, db));
  case FITCL__OP_DIV:
    if (db == zero) return M2(DIV, da, b);
    return M2(DIV, M2(SUB, da, M2(MUL, f, db)), b);
  case FITCL__OP_NEG: return M1(NEG, da);
  case FITCL__OP_SQR: return M2(MUL, M2(MUL, K(2.0), a), da);
  case FITCL__OP_POW:
    if (db == zero) return M2(MUL, M2(MUL, b, M2(POW, a, M2(SUB, b, K(1.0)))), da);
    if (da == zero) return M2(MUL, M2(MUL, f, M1(LOG, a)), db);
    return M2(MUL, f, M2(ADD, M2(MUL, db, M1(LOG, a)), M2(DIV, M2(MUL, b, da), a)));
  case FITCL__OP_EXP: return M2(MUL, f, da);
  case FITCL__OP_LOG: return M2(DIV, da, a);
  case FITCL__OP_LOG10: return M2(DIV, da, M2(MUL, K(2.302585092994045684), a));
  case FITCL__OP_SQRT: return M2(DIV, da, M2(MUL, K(2.0), f));
  case FITCL__OP_SIN: return M2(MUL, M1(COS, a), da);
  case FITCL__OP_COS: return M1(NEG, M2(MUL, M1(SIN, a), da));
  case FITCL__OP_TAN: return M2(MUL, M2(ADD, K(1.0), M1(SQR, f)), da);
  case FITCL__OP_ASIN: return M2(DIV, da, M1(SQRT, M2(SUB, K(1.0), M1(SQR, a))));
  case FITCL__OP_ACOS: return M1(NEG, M2(DIV, da, M1(SQRT, M2(SUB, K(1.0), M1(SQR, a)))));
  case FITCL__OP_ATAN: return M2(DIV, da, M2(ADD, K(1.0), M1(SQR, a)));
  case FITCL__OP_ATAN2:
    return M2(DIV, M2(SUB, M2(MUL, b, da), M2(MUL, a, db)), M2(ADD, M1(SQR, a), M1(SQR, b)));
  case FITCL__OP_SINH: return M2(MUL, M1(COSH, a), da);
  case FITCL__OP_COSH: return M2(MUL, M1(SINH, a), da);
  case FITCL__OP_TANH: return M2(MUL, M2(SUB, K(1.0), M1(SQR, f)), da);
  case FITCL__OP_ERF:
    return M2(MUL, M2(MUL, K(1.128379167095512574), M1(EXP, M1(NEG, M1(SQR, a)))), da);
  case FITCL__OP_ERFC:
    return M1(NEG, M2(MUL, M2(MUL, K(1.128379167095512574), M1(EXP, M1(NEG, M1(SQR, a)))), da));
  case FITCL__OP_ABS: return M2(MUL, M1(SIGN, a), da);
  case FITCL__OP_MIN:
  case FITCL__OP_MAX: {
    int32_t s = nd.op == FITCL__OP_MIN ? M2(LE, a, b) : M2(GE, a, b);
    return M2(ADD, M2(MUL, s, da), M2(MUL, M2(SUB, K(1.0), s), db));
  }
  default: return -1;
  }
}

int32_t fitcl__expr_diff(fitcl__expr_graph *g, int32_t root, int32_t p) {
  if (g->oom || root < 0) return -1;
  size_t n = (size_t)root + 1;
  /* Iterative over the topological node order: no recursion, so deep
   * expressions cannot overflow the stack. */
  char *reach = calloc(n, 1);
  int32_t *d = malloc(n * sizeof *d);
  int32_t out = -1;
  if (!reach || !d) { g->oom = 1; goto done; }
  reach[root] = 1;
  for (size_t i = n; i-- > 0;) {
    if (!reach[i]) continue;
    if (g->nodes[i].a >= 0) reach[g->nodes[i].a] = 1;
    if (g->nodes[i].b >= 0) reach[g->nodes[i].b] = 1;
  }
  for (size_t i = 0; i < n; ++i) {
    d[i] = -1;
    if (!reach[i]) continue;
    d[i] = diff_node(g, (int32_t)i, p, d);
    if (d[i] < 0) goto done;
  }
  out = d[root];
done:
  free(reach);
  free(d);
  return out;
}
