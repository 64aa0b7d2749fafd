/* Linearises an expression graph into a straight-line register program, and
 * prints that program as OpenCL C.  Registers of temporaries are reused
 * after their last use, so the CPU evaluator's working set (registers x
 * block) stays small enough for the L1/L2 cache. */
#include "expr/expr.h"

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

/* A product being collected for a FUSED instruction, as node ids.  vec
 * holds the per-point factors; the slot TSLOT stands for t = ta (+|-) tb. */
#define TSLOT (-2)
typedef struct pform {
  int ns, nvec, neg, tk;
  uint8_t sinv;
  int32_t s[FITCL__FUSED_MAXS], vec[FITCL__FUSED_MAXV + 1];
  int32_t ta, tb;
  int nab;
  int32_t ab[32]; /* nodes folded into the product */
} pform;

typedef struct fuse_ctx {
  const fitcl__expr_node *eff;
  const int32_t *uses;
  const char *uni, *absorbed;
} fuse_ctx;

static int is_product_op(const fuse_ctx *fc, int32_t u) {
  const fitcl__expr_node *e = &fc->eff[u];
  switch ((fitcl__expr_op)e->op) {
  case FITCL__OP_MUL: case FITCL__OP_NMUL: case FITCL__OP_NEG: case FITCL__OP_SQR: return 1;
  case FITCL__OP_DIV: return fc->uni[e->b];
  default: return 0;
  }
}

static int pf_leaf(pform *pf, const fuse_ctx *fc, int32_t u, int inv) {
  if (fc->uni[u]) {
    if (pf->ns == FITCL__FUSED_MAXS) return 0;
    if (inv) pf->sinv |= (uint8_t)(1u << pf->ns);
    pf->s[pf->ns++] = u;
    return 1;
  }
  if (inv || pf->nvec == FITCL__FUSED_MAXV + 1) return 0;
  pf->vec[pf->nvec++] = u;
  return 1;
}

static int pf_expand(pform *pf, const fuse_ctx *fc, int32_t u, int depth);

/* Adds node u as a factor: folded into the product when only this product
 * uses it (and it fits), else read from its register. */
static int pf_factor(pform *pf, const fuse_ctx *fc, int32_t u, int depth) {
  if (!fc->uni[u] && fc->uses[u] == 1 && !fc->absorbed[u] && depth < 8 &&
      pf->nab < (int)(sizeof pf->ab / sizeof pf->ab[0])) {
    pform save = *pf;
    if (pf_expand(pf, fc, u, depth + 1)) {
      pf->ab[pf->nab++] = u;
      return 1;
    }
    *pf = save;
  }
  return pf_leaf(pf, fc, u, 0);
}

static int pf_expand(pform *pf, const fuse_ctx *fc, int32_t u, int depth) {
  const fitcl__expr_node *e = &fc->eff[u];
  switch ((fitcl__expr_op)e->op) {
  case FITCL__OP_NMUL:
    pf->neg ^= 1;
    /* fall through */
  case FITCL__OP_MUL:
    return pf_factor(pf, fc, e->a, depth) && pf_factor(pf, fc, e->b, depth);
  case FITCL__OP_NEG:
    pf->neg ^= 1;
    return pf_factor(pf, fc, e->a, depth);
  case FITCL__OP_SQR:
    return pf_leaf(pf, fc, e->a, 0) && pf_leaf(pf, fc, e->a, 0);
  case FITCL__OP_DIV:
    return fc->uni[e->b] && pf_factor(pf, fc, e->a, depth) && pf_leaf(pf, fc, e->b, 1);
  case FITCL__OP_ADD:
  case FITCL__OP_SUB:
    /* A folded sum or difference becomes the product's first factor t. */
    if (depth == 0 || pf->tk || pf->nvec == FITCL__FUSED_MAXV + 1) return 0;
    pf->tk = e->op == FITCL__OP_ADD ? 1 : 2;
    pf->ta = e->a;
    pf->tb = e->b;
    pf->vec[pf->nvec++] = TSLOT;
    return 1;
  default:
    return 0;
  }
}

/* Tries to turn node i into one FUSED instruction: a product that folds at
 * least one single-use operand node, or c + product / c - product. */
static int fuse_node(const fuse_ctx *fc, int32_t i, pform *pf, int32_t *c) {
  const fitcl__expr_node *e = &fc->eff[i];
  memset(pf, 0, sizeof *pf);
  *c = -1;
  if (e->op == FITCL__OP_ADD || e->op == FITCL__OP_SUB) {
    for (int side = 0; side < 2; ++side) {
      /* c - product negates the product; product - c does not fit. */
      int32_t prod = side == 0 ? e->b : e->a, other = side == 0 ? e->a : e->b;
      if (side == 1 && e->op == FITCL__OP_SUB) break;
      if (fc->uni[prod] || fc->uses[prod] != 1 || fc->absorbed[prod] || !is_product_op(fc, prod))
        continue;
      memset(pf, 0, sizeof *pf);
      pf->neg = e->op == FITCL__OP_SUB;
      if (!pf_expand(pf, fc, prod, 1) || pf->nab == (int)(sizeof pf->ab / sizeof pf->ab[0]))
        continue;
      pf->ab[pf->nab++] = prod;
      *c = other;
      return 1;
    }
    return 0;
  }
  if (!is_product_op(fc, i)) return 0;
  return pf_expand(pf, fc, i, 0) && pf->nab > 0;
}

/* The operand nodes of node i (fused or not), without repeats. */
static int node_operands(const fitcl__expr_node *eff, const pform *fd, const int32_t *fc_c,
                         const char *fused, int32_t i, int32_t *ops) {
  int n = 0;
  int32_t cand[2 + FITCL__FUSED_MAXV + 1 + FITCL__FUSED_MAXS + 1];
  int nc = 0;
  if (fused[i]) {
    const pform *pf = &fd[i];
    if (fc_c[i] >= 0) cand[nc++] = fc_c[i];
    if (pf->tk) {
      cand[nc++] = pf->ta;
      cand[nc++] = pf->tb;
    }
    for (int k = 0; k < pf->nvec; ++k)
      if (pf->vec[k] != TSLOT) cand[nc++] = pf->vec[k];
    for (int k = 0; k < pf->ns; ++k) cand[nc++] = pf->s[k];
  } else {
    if (eff[i].a >= 0) cand[nc++] = eff[i].a;
    if (eff[i].b >= 0) cand[nc++] = eff[i].b;
  }
  for (int k = 0; k < nc; ++k) {
    int dup = 0;
    for (int j = 0; j < n; ++j) dup |= ops[j] == cand[k];
    if (!dup) ops[n++] = cand[k];
  }
  return n;
}

static fitcl_status prog_build(const fitcl__expr_graph *g, const int32_t *roots, int nroots,
                               int nparams, int nvars, int params_vary, fitcl__expr_prog *out) {
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
  char *uni = calloc(n ? n : 1, 1);  /* same value for every point (no variable) */
  char *runi = NULL;                  /* per register: holds a uniform value */
  pform *fd = malloc((n ? n : 1) * sizeof *fd); /* FUSED form of a node */
  int32_t *fdc = malloc((n ? n : 1) * sizeof *fdc); /* its addend */
  char *fused = calloc(n ? n : 1, 1);
  if (!reach || !reg || !last || !freelist || !uses || !eff || !absorbed || !uni || !fd || !fdc ||
      !fused)
    goto fail;
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
  for (size_t i = 0; i < n; ++i) {
    const fitcl__expr_node *nd = &g->nodes[i];
    if (nd->op == FITCL__OP_VAR) uni[i] = 0;
    else if (nd->op == FITCL__OP_PARAM) uni[i] = !params_vary;
    else if (nd->op == FITCL__OP_CONST) uni[i] = 1;
    else uni[i] = (nd->a < 0 || uni[nd->a]) && (nd->b < 0 || uni[nd->b]);
  }
  /* Products folded into FUSED instructions, users first (so the longest
   * chains form): each folded node is used only by its product, so it needs
   * no register and no sweep of its own.  Uniform nodes stay separate: they
   * run once per pass. */
  {
    fuse_ctx fc = {eff, uses, uni, absorbed};
    for (size_t i = n; i-- > 0;) {
      if (!reach[i] || absorbed[i] || uni[i]) continue;
      fitcl__expr_op op = (fitcl__expr_op)g->nodes[i].op;
      if (op == FITCL__OP_PARAM || op == FITCL__OP_VAR || op == FITCL__OP_CONST) continue;
      if (!fuse_node(&fc, (int32_t)i, &fd[i], &fdc[i])) continue;
      fused[i] = 1;
      for (int k = 0; k < fd[i].nab; ++k) absorbed[fd[i].ab[k]] = 1;
    }
  }
  out->nparams = nparams;
  out->nvars = nvars;
  out->params_vary = params_vary;
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
    int32_t ops[16];
    int nops = node_operands(eff, fd, fdc, fused, (int32_t)i, ops);
    for (int j = 0; j < nops; ++j) last[ops[j]] = k;
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
    int32_t ops[16];
    int nops = node_operands(eff, fd, fdc, fused, (int32_t)i, ops);
    for (int j = 0; j < nops; ++j) {
      int32_t o = ops[j];
      if (last[o] != k) continue;
      /* Uniform values stay: they are computed once per pass. */
      if (reg[o] >= nparams + nvars + out->nconst && !uni[o]) freelist[nfree++] = reg[o];
    }
    int32_t d = nfree && !uni[i] ? freelist[--nfree] : next_reg++;
    fitcl__expr_instr *in = &out->instr[k];
    memset(in, 0, sizeof *in);
    in->c = -1;
    in->op = nd->op;
    in->flags = uni[i] ? FITCL__INSTR_UNIFORM : 0;
    in->dst = d;
    in->a = nd->a >= 0 ? reg[nd->a] : -1;
    in->b = nd->b >= 0 ? reg[nd->b] : -1;
    if (fused[i]) {
      const pform *pf = &fd[i];
      in->op = FITCL__OP_FUSED;
      in->c = fdc[i] >= 0 ? reg[fdc[i]] : -1;
      in->tk = (int8_t)pf->tk;
      in->neg = (int8_t)pf->neg;
      in->sinv = pf->sinv;
      in->ns = (int8_t)pf->ns;
      for (int q = 0; q < pf->ns; ++q) in->s[q] = reg[pf->s[q]];
      /* t first (a+b, a-b, or the first per-point factor), then the rest. */
      int nv = 0;
      if (pf->tk) {
        in->a = reg[pf->ta];
        in->b = reg[pf->tb];
      } else {
        in->a = reg[pf->vec[0]];
        in->b = -1;
      }
      for (int q = pf->tk ? 0 : 1; q < pf->nvec; ++q)
        if (pf->vec[q] != TSLOT) in->v[nv++] = reg[pf->vec[q]];
      in->nv = (int8_t)nv;
    }
    reg[i] = d;
    ++k;
  }
  out->ninstr = k;
  out->nregs = next_reg;
  /* Operands held in uniform registers are read as one value.  Uniform
   * instructions always take fresh registers, so a register's uniformity
   * does not change along the program. */
  runi = calloc((size_t)(next_reg ? next_reg : 1), 1);
  if (!runi) goto fail;
  for (int r = 0; r < nparams; ++r) runi[r] = !params_vary;
  for (int c = 0; c < out->nconst; ++c) runi[nparams + nvars + c] = 1;
  for (int j = 0; j < k; ++j)
    if (out->instr[j].flags & FITCL__INSTR_UNIFORM) runi[out->instr[j].dst] = 1;
  for (int j = 0; j < k; ++j) {
    fitcl__expr_instr *in = &out->instr[j];
    if (in->flags & FITCL__INSTR_UNIFORM || in->op == FITCL__OP_FUSED) continue;
    if (in->a >= 0 && runi[in->a]) in->flags |= FITCL__INSTR_SCALAR_A;
    if (in->b >= 0 && runi[in->b]) in->flags |= FITCL__INSTR_SCALAR_B;
  }
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
  free(uni);
  free(runi);
  free(fd);
  free(fdc);
  free(fused);
  if (st != FITCL_OK) fitcl__expr_prog_free(out);
  return st;
}

fitcl_status fitcl__expr_prog_build(const fitcl__expr_graph *g, const int32_t *roots,
                                    int nroots, int nparams, int nvars,
                                    fitcl__expr_prog *out) {
  return prog_build(g, roots, nroots, nparams, nvars, 0, out);
}

fitcl_status fitcl__expr_prog_build_varying(const fitcl__expr_graph *g, const int32_t *roots,
                                            int nroots, int nparams, int nvars,
                                            fitcl__expr_prog *out) {
  return prog_build(g, roots, nroots, nparams, nvars, 1, out);
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
  /* The vector form is called once per eight points in the CPU-device
   * kernels, whose accumulators would otherwise be saved and restored
   * around every call: FITCL_VEC8_INLINE (model.c) forces it inline. */
  fitcl__buf_printf(&b, "%s void %s(const double *p, const %s *x, %s *f, %s *J) {\n",
                    vec ? "FITCL_VEC8_INLINE" : "inline", name, T, T, T);
  int tbase = p->nparams + p->nvars + p->nconst;
  for (int r = tbase; r < p->nregs; ++r) fitcl__buf_printf(&b, "  %s r%d;\n", T, r);
  for (int i = 0; i < p->ninstr; ++i) {
    const fitcl__expr_instr *in = &p->instr[i];
    fitcl__buf_printf(&b, "  r%d = ", in->dst);
    switch ((fitcl__expr_op)in->op) {
    case FITCL__OP_FUSED:
      /* The evaluation order of the pthreads evaluator, written out. */
      if (in->c >= 0) {
        operand(p, in->c, &b, vec);
        fitcl__buf_printf(&b, " + ");
      }
      for (int q = 0; q < in->nv; ++q) fitcl__buf_printf(&b, "(");
      fitcl__buf_printf(&b, "(");
      if (in->ns == 0) {
        fitcl__buf_printf(&b, "%s", in->neg ? (vec ? "(double8)(-1.0)" : "(-1.0)") : (vec ? "(double8)(1.0)" : "1.0"));
      } else {
        fitcl__buf_printf(&b, "%s", in->neg ? "(-(" : "(");
        for (int q = 0; q < in->ns; ++q) {
          int inv = (in->sinv >> q) & 1;
          if (q == 0 && inv) fitcl__buf_printf(&b, vec ? "(double8)(1.0) / " : "1.0 / ");
          else if (q > 0) fitcl__buf_printf(&b, inv ? " / " : " * ");
          operand(p, in->s[q], &b, vec);
        }
        fitcl__buf_printf(&b, "%s", in->neg ? "))" : ")");
      }
      fitcl__buf_printf(&b, " * ");
      if (in->tk) fitcl__buf_printf(&b, "(");
      operand(p, in->a, &b, vec);
      if (in->tk) {
        fitcl__buf_printf(&b, in->tk == 1 ? " + " : " - ");
        operand(p, in->b, &b, vec);
        fitcl__buf_printf(&b, ")");
      }
      fitcl__buf_printf(&b, ")");
      for (int q = 0; q < in->nv; ++q) {
        fitcl__buf_printf(&b, " * ");
        operand(p, in->v[q], &b, vec);
        fitcl__buf_printf(&b, ")");
      }
      break;
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
