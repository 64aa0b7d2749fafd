/* Linearises an expression graph into a straight-line register program, and
 * prints that program as OpenCL C.  Registers of temporaries are reused
 * after their last use, so the CPU evaluator's working set (registers x
 * block) stays small enough for the L1/L2 cache. */
#include "nlsq/expr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

void fitcl__expr_prog_free(fitcl__expr_prog *p) {
  if (!p) return;
  free(p->consts);
  free(p->instr);
  free(p->outputs);
  memset(p, 0, sizeof *p);
}

fitcl_status fitcl__expr_prog_build(const fitcl__expr_graph *g, const int32_t *roots,
                                    int nroots, int nparams, int nvars,
                                    fitcl__expr_prog *out) {
  fitcl_status st = FITCL_ERR_NOMEM;
  size_t n = g->n;
  memset(out, 0, sizeof *out);
  char *reach = calloc(n ? n : 1, 1);
  int32_t *reg = malloc((n ? n : 1) * sizeof *reg);
  int32_t *last = malloc((n ? n : 1) * sizeof *last);   /* last instruction using the node */
  int32_t *freelist = malloc((n ? n : 1) * sizeof *freelist);
  int32_t *uses = calloc(n ? n : 1, sizeof *uses);
  /* The instruction each node becomes (fused forms included), and whether
   * it was folded into its only user. */
  fitcl__expr_node *eff = malloc((n ? n : 1) * sizeof *eff);
  char *absorbed = calloc(n ? n : 1, 1);
  if (!reach || !reg || !last || !freelist || !uses || !eff || !absorbed) goto fail;
  for (int r = 0; r < nroots; ++r) reach[roots[r]] = 1;
  for (size_t i = n; i-- > 0;) {
    if (!reach[i]) continue;
    if (g->nodes[i].a >= 0) reach[g->nodes[i].a] = 1;
    if (g->nodes[i].b >= 0) reach[g->nodes[i].b] = 1;
  }
  /* Fusions of single-use operands, common in fitting models (exp(-b*x)):
   * -(a*b) is one NMUL, exp(a*b) one EXPMUL, exp(-(a*b)) one EXPNMUL; each
   * saves a sweep over the block. */
  for (size_t i = 0; i < n; ++i) {
    if (!reach[i]) continue;
    if (g->nodes[i].a >= 0) uses[g->nodes[i].a]++;
    if (g->nodes[i].b >= 0 && g->nodes[i].b != g->nodes[i].a) uses[g->nodes[i].b]++;
  }
  for (int r = 0; r < nroots; ++r) uses[roots[r]] += 2;
  for (size_t i = 0; i < n; ++i) {
    eff[i] = g->nodes[i];
    if (!reach[i]) continue;
    int32_t u = g->nodes[i].a;
    if (g->nodes[i].op == FITCL__OP_NEG && eff[u].op == FITCL__OP_MUL && uses[u] == 1) {
      eff[i].op = FITCL__OP_NMUL;
    } else if (g->nodes[i].op == FITCL__OP_EXP && uses[u] == 1 &&
               (eff[u].op == FITCL__OP_MUL || eff[u].op == FITCL__OP_NMUL)) {
      eff[i].op = eff[u].op == FITCL__OP_MUL ? FITCL__OP_EXPMUL : FITCL__OP_EXPNMUL;
    } else {
      continue;
    }
    eff[i].a = eff[u].a;
    eff[i].b = eff[u].b;
    absorbed[u] = 1;
  }
  out->nparams = nparams;
  out->nvars = nvars;
  /* Leaves first: parameters, variables, constants. */
  int nconst = 0, ninstr = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!reach[i]) continue;
    if (g->nodes[i].op == FITCL__OP_CONST) ++nconst;
    else if (g->nodes[i].op != FITCL__OP_PARAM && g->nodes[i].op != FITCL__OP_VAR) ++ninstr;
  }
  out->consts = malloc((size_t)(nconst ? nconst : 1) * sizeof *out->consts);
  out->instr = malloc((size_t)(ninstr ? ninstr : 1) * sizeof *out->instr);
  out->outputs = malloc((size_t)nroots * sizeof *out->outputs);
  if (!out->consts || !out->instr || !out->outputs) goto fail;
  int next_reg = nparams + nvars;
  for (size_t i = 0; i < n; ++i) {
    reg[i] = -1;
    last[i] = -1;
    if (!reach[i]) continue;
    const fitcl__expr_node *nd = &g->nodes[i];
    if (nd->op == FITCL__OP_PARAM) reg[i] = nd->index;
    else if (nd->op == FITCL__OP_VAR) reg[i] = nparams + nd->index;
    else if (nd->op == FITCL__OP_CONST) {
      out->consts[out->nconst] = nd->value;
      reg[i] = next_reg + out->nconst++;
    }
  }
  next_reg += out->nconst;
  /* Last use of each node, in instruction order; roots live to the end. */
  int k = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!reach[i] || reg[i] >= 0 || absorbed[i]) continue;
    const fitcl__expr_node *nd = &eff[i];
    if (nd->a >= 0) last[nd->a] = k;
    if (nd->b >= 0) last[nd->b] = k;
    ++k;
  }
  for (int r = 0; r < nroots; ++r) last[roots[r]] = INT32_MAX;
  int nfree = 0;
  k = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!reach[i] || reg[i] >= 0 || absorbed[i]) continue;
    const fitcl__expr_node *nd = &eff[i];
    /* Operands that die here give their registers back first, so the result
     * may overwrite one of them in place (element-wise ops allow it). */
    int32_t ops[2] = {nd->a, nd->b};
    for (int j = 0; j < 2; ++j) {
      int32_t o = ops[j];
      if (o < 0 || last[o] != k) continue;
      if (j == 1 && o == nd->a) continue;
      if (reg[o] >= nparams + nvars + out->nconst) freelist[nfree++] = reg[o];
    }
    int32_t d = nfree ? freelist[--nfree] : next_reg++;
    fitcl__expr_instr *in = &out->instr[k];
    in->op = nd->op;
    in->dst = d;
    in->a = nd->a >= 0 ? reg[nd->a] : -1;
    in->b = nd->b >= 0 ? reg[nd->b] : -1;
    reg[i] = d;
    ++k;
  }
  out->ninstr = k;
  out->nregs = next_reg;
  out->noutputs = nroots;
  for (int r = 0; r < nroots; ++r) out->outputs[r] = reg[roots[r]];
  st = FITCL_OK;
fail:
  free(reach);
  free(reg);
  free(last);
  free(freelist);
  free(uses);
  free(eff);
  free(absorbed);
  if (st != FITCL_OK) fitcl__expr_prog_free(out);
  return st;
}

/* Prints register r as an OpenCL C operand; in vector code (vec = 1)
 * parameters and constants are broadcast so every operand is a double8
 * (OpenCL's built-ins do not mix vectors and scalars). */
static void operand(const fitcl__expr_prog *p, int32_t r, fitcl__buf *b, int vec) {
  int cbase = p->nparams + p->nvars;
  const char *open = vec ? "((double8)" : "", *close = vec ? ")" : "";
  if (r < p->nparams) fitcl__buf_printf(b, "%sp[%d]%s", open, r, close);
  else if (r < cbase) fitcl__buf_printf(b, "x[%d]", r - p->nparams);
  else if (r < cbase + p->nconst) {
    double v = p->consts[r - cbase];
    if (isnan(v)) fitcl__buf_printf(b, "%s(NAN)%s", open, close);
    else if (isinf(v)) fitcl__buf_printf(b, v > 0 ? "%s(INFINITY)%s" : "%s(-INFINITY)%s", open, close);
    else fitcl__buf_printf(b, "%s(%.17g)%s", open, v, close);
  } else fitcl__buf_printf(b, "r%d", r);
}

char *fitcl__expr_prog_opencl(const fitcl__expr_prog *p, const char *name, int want_jac) {
  return fitcl__expr_prog_opencl_ex(p, name, want_jac, 0);
}

char *fitcl__expr_prog_opencl_ex(const fitcl__expr_prog *p, const char *name, int want_jac,
                                 int vec) {
  fitcl__buf b = {0};
  const char *T = vec ? "double8" : "double";
  fitcl__buf_printf(&b, "inline void %s(const double *p, const %s *x, %s *f, %s *J) {\n", name, T,
                    T, T);
  int tbase = p->nparams + p->nvars + p->nconst;
  for (int r = tbase; r < p->nregs; ++r) fitcl__buf_printf(&b, "  %s r%d;\n", T, r);
  for (int i = 0; i < p->ninstr; ++i) {
    const fitcl__expr_instr *in = &p->instr[i];
    fitcl__buf_printf(&b, "  r%d = ", in->dst);
    switch ((fitcl__expr_op)in->op) {
    case FITCL__OP_ADD: case FITCL__OP_SUB: case FITCL__OP_MUL: case FITCL__OP_DIV:
      operand(p, in->a, &b, vec);
      fitcl__buf_printf(&b, " %s ", fitcl__expr_op_name((fitcl__expr_op)in->op));
      operand(p, in->b, &b, vec);
      break;
    case FITCL__OP_NEG:
      fitcl__buf_printf(&b, "-");
      operand(p, in->a, &b, vec);
      break;
    case FITCL__OP_EXPMUL:
    case FITCL__OP_EXPNMUL:
      fitcl__buf_printf(&b, "%s(%s", vec ? "fitcl_exp8" : "fitcl_exp",
                        in->op == FITCL__OP_EXPNMUL ? "-" : "");
      fitcl__buf_printf(&b, "(");
      operand(p, in->a, &b, vec);
      fitcl__buf_printf(&b, " * ");
      operand(p, in->b, &b, vec);
      fitcl__buf_printf(&b, "))");
      break;
    case FITCL__OP_NMUL:
      fitcl__buf_printf(&b, "-(");
      operand(p, in->a, &b, vec);
      fitcl__buf_printf(&b, " * ");
      operand(p, in->b, &b, vec);
      fitcl__buf_printf(&b, ")");
      break;
    case FITCL__OP_SQR:
      operand(p, in->a, &b, vec);
      fitcl__buf_printf(&b, " * ");
      operand(p, in->a, &b, vec);
      break;
    case FITCL__OP_LE: case FITCL__OP_GE:
      if (vec) {
        fitcl__buf_printf(&b, "select((double8)(0.0), (double8)(1.0), ");
        operand(p, in->a, &b, vec);
        fitcl__buf_printf(&b, in->op == FITCL__OP_LE ? " <= " : " >= ");
        operand(p, in->b, &b, vec);
        fitcl__buf_printf(&b, ")");
        break;
      }
      fitcl__buf_printf(&b, "(");
      operand(p, in->a, &b, vec);
      fitcl__buf_printf(&b, in->op == FITCL__OP_LE ? " <= " : " >= ");
      operand(p, in->b, &b, vec);
      fitcl__buf_printf(&b, ") ? 1.0 : 0.0");
      break;
    default:
      /* exp and log come from common/vmath.h, shared with the pthreads
       * path, so both backends compute the same values. */
      if (in->op == FITCL__OP_EXP) fitcl__buf_printf(&b, vec ? "fitcl_exp8(" : "fitcl_exp(");
      else if (in->op == FITCL__OP_LOG) fitcl__buf_printf(&b, vec ? "fitcl_log8(" : "fitcl_log(");
      else fitcl__buf_printf(&b, "%s(", fitcl__expr_op_name((fitcl__expr_op)in->op));
      operand(p, in->a, &b, vec);
      if (fitcl__expr_op_arity((fitcl__expr_op)in->op) == 2) {
        fitcl__buf_printf(&b, ", ");
        operand(p, in->b, &b, vec);
      }
      fitcl__buf_printf(&b, ")");
    }
    fitcl__buf_printf(&b, ";\n");
  }
  fitcl__buf_printf(&b, "  f[0] = ");
  operand(p, p->outputs[0], &b, vec);
  fitcl__buf_printf(&b, ";\n");
  if (want_jac)
    for (int k = 1; k < p->noutputs; ++k) {
      fitcl__buf_printf(&b, "  J[%d] = ", k - 1);
      operand(p, p->outputs[k], &b, vec);
      fitcl__buf_printf(&b, ";\n");
    }
  else fitcl__buf_printf(&b, "  (void)J;\n");
  fitcl__buf_printf(&b, "}\n");
  if (b.oom) {
    fitcl__buf_free(&b);
    return NULL;
  }
  fitcl__buf_append(&b, "", 1);
  return b.data;
}
