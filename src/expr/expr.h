/* Expression compiler: parser -> hash-consed expression graph (every node is
 * built through one constructor that simplifies and shares equal
 * subexpressions, so common subexpression elimination is structural) ->
 * symbolic derivatives -> a straight-line program of register instructions
 * that the CPU block evaluator runs and the OpenCL generator prints.
 * Internal. */
#ifndef FITCL_EXPR_EXPR_H
#define FITCL_EXPR_EXPR_H

#include <stddef.h>
#include <stdint.h>
#include "fitcl.h"

/* Node operations.  Unary functions take operand a, binary ones a and b.
 * LE/GE are 1.0 when a <= b (a >= b) else 0.0, SIGN is the sign of a (0 at
 * 0); they appear only in derivatives (of min, max, abs).  NMUL is -(a*b),
 * EXPMUL exp(a*b), EXPNMUL exp(-(a*b)): formed only when linearising, so a
 * negated product or the exponential of one is a single instruction.  FUSED
 * (also formed only when linearising) is a whole product, optionally added
 * to a value: see fitcl__expr_instr. */
#define FITCL__EXPR_OPS(X)                                                  \
  X(CONST, 0, "const") X(PARAM, 0, "param") X(VAR, 0, "var")                \
  X(ADD, 2, "+") X(SUB, 2, "-") X(MUL, 2, "*") X(DIV, 2, "/")               \
  X(NEG, 1, "neg") X(POW, 2, "pow") X(SQR, 1, "sqr")                        \
  X(EXP, 1, "exp") X(LOG, 1, "log") X(LOG10, 1, "log10") X(SQRT, 1, "sqrt") \
  X(SIN, 1, "sin") X(COS, 1, "cos") X(TAN, 1, "tan") X(ASIN, 1, "asin")     \
  X(ACOS, 1, "acos") X(ATAN, 1, "atan") X(ATAN2, 2, "atan2")                \
  X(SINH, 1, "sinh") X(COSH, 1, "cosh") X(TANH, 1, "tanh")                  \
  X(ERF, 1, "erf") X(ERFC, 1, "erfc") X(ABS, 1, "fabs")                     \
  X(MIN, 2, "fmin") X(MAX, 2, "fmax") X(LE, 2, "le") X(GE, 2, "ge")         \
  X(SIGN, 1, "sign") X(NMUL, 2, "nmul") X(EXPMUL, 2, "expmul") X(EXPNMUL, 2, "expnmul") \
  X(FUSED, 0, "fused")

typedef enum fitcl__expr_op {
#define FITCL__OP_ENUM_(n, ar, s) FITCL__OP_##n,
  FITCL__EXPR_OPS(FITCL__OP_ENUM_)
#undef FITCL__OP_ENUM_
  FITCL__OP_COUNT
} fitcl__expr_op;

int fitcl__expr_op_arity(fitcl__expr_op op);
const char *fitcl__expr_op_name(fitcl__expr_op op);

typedef struct fitcl__expr_node {
  uint8_t op;
  uint8_t hasp;      /* depends on a parameter (derived from the operands) */
  int32_t a, b;      /* operand node ids (-1 when unused) */
  int32_t index;     /* PARAM/VAR index */
  double value;      /* CONST value */
} fitcl__expr_node;

/* The graph: an append-only arena (operands always precede their users, so
 * node order is a topological order) with a hash table for sharing. */
typedef struct fitcl__expr_graph {
  fitcl__expr_node *nodes;
  size_t n, cap;
  int32_t *table;    /* open addressing, -1 empty */
  size_t tcap;
  int oom;
} fitcl__expr_graph;

void fitcl__expr_graph_init(fitcl__expr_graph *g);
void fitcl__expr_graph_free(fitcl__expr_graph *g);
/* Constructors: simplify (constant folding, identities) and share.  Return
 * the node id, or -1 when out of memory (sticky in g->oom). */
int32_t fitcl__expr_const(fitcl__expr_graph *g, double v);
int32_t fitcl__expr_leaf(fitcl__expr_graph *g, fitcl__expr_op op, int32_t index);
int32_t fitcl__expr_make(fitcl__expr_graph *g, fitcl__expr_op op, int32_t a, int32_t b);
/* d node / d parameter p, built in the same graph. */
int32_t fitcl__expr_diff(fitcl__expr_graph *g, int32_t node, int32_t p);
/* Scalar evaluation of one op (shared by folding and the reference path). */
double fitcl__expr_apply(fitcl__expr_op op, double a, double b);

/* Parse error detail. */
typedef struct fitcl__expr_error {
  fitcl_status status;
  int column;        /* 1-based */
  char msg[256];
} fitcl__expr_error;

/* Parses `text` into g; names resolve to parameters first, then variables.
 * Returns the root node, or -1 with err filled. */
int32_t fitcl__expr_parse(fitcl__expr_graph *g, const char *text,
                          const char *const *params, size_t nparams,
                          const char *const *vars, size_t nvars, fitcl__expr_error *err);

/* A straight-line program: instruction i computes register dst[i] from
 * registers.  Registers 0..nparams) hold the parameters, the next nvars the
 * variables, then the constants, then temporaries (reused after their last
 * use).  outputs[0] is f, outputs[1+k] is ∂f/∂p_k. */
/* Instruction flags. */
#define FITCL__INSTR_UNIFORM 1 /* operands are the same for every point: run once per pass */
#define FITCL__INSTR_SCALAR_A 2 /* operand a is uniform (read one value) */
#define FITCL__INSTR_SCALAR_B 4 /* operand b is uniform */

/* FUSED computes, per point,
 *   dst = [c +] (s * t) * v[0] * ... * v[nv-1]
 * where t is register a (tk 0), a + b (tk 1) or a - b (tk 2), and s is the
 * uniform factor s[0] (1/s[0] when bit 0 of sinv is set) multiplied, or
 * divided where the bit of sinv says so, by s[1], ..., s[ns-1] in order, and
 * negated when neg is set (s = 1 when ns = 0).  c < 0: no addend.  One
 * FUSED replaces a chain of products, divisions by per-pass constants and a
 * final addition, which otherwise cost one sweep over the block each. */
#define FITCL__FUSED_MAXV 3
#define FITCL__FUSED_MAXS 4
typedef struct fitcl__expr_instr {
  uint8_t op;
  uint8_t flags;
  int32_t dst, a, b;
  /* FUSED only */
  int32_t c;
  int8_t tk, nv, ns, neg;
  uint8_t sinv;
  int32_t v[FITCL__FUSED_MAXV], s[FITCL__FUSED_MAXS];
} fitcl__expr_instr;

typedef struct fitcl__expr_prog {
  int nparams, nvars;
  int nconst;
  double *consts;        /* register nparams+nvars+i holds consts[i] */
  int nregs;             /* total registers */
  int ninstr;
  fitcl__expr_instr *instr;
  int noutputs;          /* 1 + nparams */
  int32_t *outputs;      /* register of each output */
} fitcl__expr_prog;

/* Linearises outputs roots[0..nroots) of g.  Returns FITCL_OK or NOMEM. */
fitcl_status fitcl__expr_prog_build(const fitcl__expr_graph *g, const int32_t *roots,
                                    int nroots, int nparams, int nvars,
                                    fitcl__expr_prog *out);
void fitcl__expr_prog_free(fitcl__expr_prog *p);

/* Writes the program as OpenCL C statements into a malloc'ed string: a
 * function `name(const double *p, const double *x, double *f, double *J)`
 * (with want_jac = 0, J is not written). */
char *fitcl__expr_prog_opencl(const fitcl__expr_prog *p, const char *name, int want_jac);
/* vec = 1: the same function on double8 (x, f, J are double8; p stays a
 * scalar array), for kernels that evaluate eight points per step. */
char *fitcl__expr_prog_opencl_ex(const fitcl__expr_prog *p, const char *name, int want_jac,
                                 int vec);

/* Block evaluator for the pthreads path: evaluates n <= FITCL__VM_BLOCK
 * points of program p.  `regs` is scratch of p->nregs * FITCL__VM_BLOCK
 * doubles and R scratch of p->nregs pointers, both kept by the caller
 * between blocks; fill = 1 (re)loads the parameters and constants, needed on
 * the first block and whenever params change.  x holds nvars column
 * pointers already offset to the block (read in place).  Afterwards output j
 * lies at R[p->outputs[j]] (the first n values).  Each instruction runs over
 * the whole block, so the loops vectorise. */
#define FITCL__VM_BLOCK 256
void fitcl__expr_vm_run(const fitcl__expr_prog *p, const double *params,
                        const double *const *x, size_t n, double *regs, double **R, int fill);

#endif
