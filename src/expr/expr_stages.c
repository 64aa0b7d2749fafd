/* Staged code generation for straight-line programs (see expr_stages.h). */
#include "expr/expr_stages.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { REF_PARAM, REF_VAR, REF_CONST, REF_INSTR };

static int is_uniform(const fitcl__stages *st, int i) {
  return (st->p->instr[i].flags & FITCL__INSTR_UNIFORM) != 0;
}

/* Instructions worth a loop of their own: the transcendental functions. */
static int op_is_heavy(int op) {
  switch (op) {
  case FITCL__OP_EXP: case FITCL__OP_EXPMUL: case FITCL__OP_EXPNMUL: case FITCL__OP_LOG:
  case FITCL__OP_POW: case FITCL__OP_LOG10: case FITCL__OP_SIN: case FITCL__OP_COS:
  case FITCL__OP_TAN: case FITCL__OP_ASIN: case FITCL__OP_ACOS: case FITCL__OP_ATAN:
  case FITCL__OP_ATAN2: case FITCL__OP_SINH: case FITCL__OP_COSH: case FITCL__OP_TANH:
  case FITCL__OP_ERF: case FITCL__OP_ERFC:
    return 1;
  default:
    return 0;
  }
}

static fitcl__stage_ref resolve(const fitcl__expr_prog *p, const int *def, int32_t r) {
  int cbase = p->nparams + p->nvars;
  fitcl__stage_ref out;
  if (r < p->nparams) out.kind = REF_PARAM, out.index = r;
  else if (r < cbase) out.kind = REF_VAR, out.index = r - p->nparams;
  else if (r < cbase + p->nconst) out.kind = REF_CONST, out.index = r - cbase;
  else out.kind = REF_INSTR, out.index = def[r];
  return out;
}

fitcl_status fitcl__stages_init(fitcl__stages *st, const fitcl__expr_prog *p) {
  size_t n = (size_t)p->ninstr + 1;
  memset(st, 0, sizeof *st);
  st->p = p;
  st->a = calloc(n, sizeof *st->a);
  st->b = calloc(n, sizeof *st->b);
  st->c = calloc(n, sizeof *st->c);
  st->v = calloc(n, sizeof *st->v);
  st->s = calloc(n, sizeof *st->s);
  st->outs = calloc((size_t)p->noutputs + 1, sizeof *st->outs);
  st->heavy = calloc(n, sizeof *st->heavy);
  st->instr = calloc(n, sizeof *st->instr);
  st->need = calloc(n, 1);
  int *def = calloc((size_t)p->nregs + 1, sizeof *def);
  if (!st->a || !st->b || !st->c || !st->v || !st->s || !st->outs || !st->heavy || !st->instr ||
      !st->need || !def) {
    free(def);
    fitcl__stages_free(st);
    return FITCL_ERR_NOMEM;
  }
  int *chain = calloc(n, sizeof *chain); /* expensive instructions along the longest path */
  if (!chain) {
    free(def);
    fitcl__stages_free(st);
    return FITCL_ERR_NOMEM;
  }
  for (int i = 0; i < p->ninstr; ++i) {
    const fitcl__expr_instr *in = &p->instr[i];
    int ar = fitcl__expr_op_arity((fitcl__expr_op)in->op);
    if (in->op == FITCL__OP_FUSED) {
      st->a[i] = resolve(p, def, in->a);
      if (in->tk) st->b[i] = resolve(p, def, in->b);
      if (in->c >= 0) st->c[i] = resolve(p, def, in->c);
      for (int k = 0; k < in->nv; ++k) st->v[i][k] = resolve(p, def, in->v[k]);
      for (int k = 0; k < in->ns; ++k) st->s[i][k] = resolve(p, def, in->s[k]);
    } else {
      if (ar >= 1) st->a[i] = resolve(p, def, in->a);
      if (ar >= 2) st->b[i] = resolve(p, def, in->b);
    }
    st->heavy[i] = -1;
    if (!is_uniform(st, i) && op_is_heavy(in->op)) {
      st->instr[st->nheavy] = i;
      st->heavy[i] = st->nheavy++;
    }
    fitcl__stage_ref ops[3 + FITCL__FUSED_MAXV] = {st->a[i], st->b[i], st->c[i]};
    for (int k = 0; k < FITCL__FUSED_MAXV; ++k) ops[3 + k] = st->v[i][k];
    for (int k = 0; k < 3 + FITCL__FUSED_MAXV; ++k)
      if (ops[k].kind == REF_INSTR && chain[ops[k].index] > chain[i]) chain[i] = chain[ops[k].index];
    chain[i] += st->heavy[i] >= 0;
    if (chain[i] > st->depth) st->depth = chain[i];
    def[in->dst] = i;
  }
  free(chain);
  for (int k = 0; k < p->noutputs; ++k) st->outs[k] = resolve(p, def, p->outputs[k]);
  free(def);
  return FITCL_OK;
}

void fitcl__stages_free(fitcl__stages *st) {
  free(st->a);
  free(st->b);
  free(st->c);
  free(st->v);
  free(st->s);
  free(st->outs);
  free(st->heavy);
  free(st->instr);
  free(st->need);
  memset(st, 0, sizeof *st);
}

/* An operand.  Per point (scalar = 0): parameters and uniform values are
 * the hoisted scalars (broadcast in double8 code), variables are read at
 * the point, expensive values from their block, cheap values are locals.
 * In the hoisted scalars (scalar = 1) only the first kinds occur. */
static void put_ref(const fitcl__stages *st, fitcl__buf *b, fitcl__stage_dialect d,
                    fitcl__stage_ref r, int scalar) {
  const int vec = d == FITCL__STAGE_CL8 && !scalar;
  const char *open = vec ? "((double8)(" : "", *close = vec ? "))" : "";
  switch (r.kind) {
  case REF_PARAM: fitcl__buf_printf(b, "%sp%d%s", open, r.index, close); break;
  case REF_VAR:
    if (d == FITCL__STAGE_CL8) fitcl__buf_printf(b, "vload8(q, xc[%d])", r.index);
    else fitcl__buf_printf(b, "x%d[j]", r.index);
    break;
  case REF_CONST: {
    double v = st->p->consts[r.index];
    if (isnan(v)) fitcl__buf_printf(b, "%sNAN%s", open, close);
    else if (isinf(v)) fitcl__buf_printf(b, "%s%s%s", open, v > 0 ? "INFINITY" : "(-INFINITY)", close);
    else fitcl__buf_printf(b, "%s(%.17g)%s", open, v, close);
    break;
  }
  default:
    if (is_uniform(st, r.index)) fitcl__buf_printf(b, "%su%d%s", open, r.index, close);
    else if (st->heavy[r.index] >= 0)
      fitcl__buf_printf(b, d == FITCL__STAGE_CL8 ? "h[%d][q]" : "h%d[j]", st->heavy[r.index]);
    else fitcl__buf_printf(b, "t%d", r.index);
  }
}

/* The value of a cheap instruction (or the argument of an expensive one),
 * in the block evaluator's order of operations (expr_vm.c). */
static void put_value(const fitcl__stages *st, fitcl__buf *b, fitcl__stage_dialect d, int i,
                      int scalar) {
  const fitcl__expr_instr *in = &st->p->instr[i];
  const int vec = d == FITCL__STAGE_CL8 && !scalar;
  fitcl__stage_ref a = st->a[i], bb = st->b[i];
  /* The evaluator multiplies by the reciprocal of a uniform divisor. */
  int recip = d == FITCL__STAGE_C && !scalar && (in->flags & FITCL__INSTR_SCALAR_B) &&
              !(in->flags & FITCL__INSTR_SCALAR_A);
#define A_ put_ref(st, b, d, a, scalar)
#define B_ put_ref(st, b, d, bb, scalar)
#define P_(s_) fitcl__buf_printf(b, "%s", s_)
  switch ((fitcl__expr_op)in->op) {
  case FITCL__OP_ADD: P_("("); A_; P_(" + "); B_; P_(")"); break;
  case FITCL__OP_SUB: P_("("); A_; P_(" - "); B_; P_(")"); break;
  case FITCL__OP_MUL: case FITCL__OP_EXPMUL: P_("("); A_; P_(" * "); B_; P_(")"); break;
  case FITCL__OP_NMUL: case FITCL__OP_EXPNMUL: P_("(-("); A_; P_(" * "); B_; P_("))"); break;
  case FITCL__OP_DIV:
    P_("("); A_;
    if (recip) { P_(" * (1.0 / "); B_; P_("))"); }
    else { P_(" / "); B_; P_(")"); }
    break;
  case FITCL__OP_NEG: P_("(-"); A_; P_(")"); break;
  case FITCL__OP_SQR: P_("("); A_; P_(" * "); A_; P_(")"); break;
  case FITCL__OP_SQRT: P_("sqrt("); A_; P_(")"); break;
  case FITCL__OP_ABS: P_("fabs("); A_; P_(")"); break;
  case FITCL__OP_MIN: P_("fmin("); A_; P_(", "); B_; P_(")"); break;
  case FITCL__OP_MAX: P_("fmax("); A_; P_(", "); B_; P_(")"); break;
  case FITCL__OP_LE: case FITCL__OP_GE: {
    const char *cmp = in->op == FITCL__OP_LE ? " <= " : " >= ";
    if (vec) { P_("select((double8)(0.0), (double8)(1.0), "); A_; P_(cmp); B_; P_(")"); }
    else { P_("("); A_; P_(cmp); B_; P_(" ? 1.0 : 0.0)"); }
    break;
  }
  case FITCL__OP_SIGN:
    if (vec) { P_("sign("); A_; P_(")"); }
    else { P_("("); A_; P_(" > 0 ? 1.0 : ("); A_; P_(" < 0 ? -1.0 : 0.0))"); }
    break;
  case FITCL__OP_FUSED:
    /* [c +] (s * t) * v0 * ... with s hoisted as s<i>. */
    if (in->c >= 0) { put_ref(st, b, d, st->c[i], scalar); P_(" + "); }
    for (int k = 0; k < in->nv; ++k) P_("(");
    fitcl__buf_printf(b, vec ? "(((double8)(s%d)) * " : "(s%d * ", i);
    if (in->tk) { P_("("); A_; P_(in->tk == 1 ? " + " : " - "); B_; P_(")"); }
    else A_;
    P_(")");
    for (int k = 0; k < in->nv; ++k) { P_(" * "); put_ref(st, b, d, st->v[i][k], scalar); P_(")"); }
    break;
  default: /* expensive: the argument only (EXP, LOG and the unary functions) */
    A_;
    break;
  }
#undef A_
#undef B_
#undef P_
}

/* An expensive instruction evaluated whole: in C with the evaluator's exact
 * rules (fitcl__aot_*_exact, defined by the generated file), in OpenCL as
 * the generated kernels call it; vec: on double8. */
static void put_heavy_call(const fitcl__stages *st, fitcl__buf *b, fitcl__stage_dialect d, int i,
                           int scalar) {
  const fitcl__expr_instr *in = &st->p->instr[i];
  const int vec = d == FITCL__STAGE_CL8 && !scalar;
  const char *name = fitcl__expr_op_name((fitcl__expr_op)in->op);
  switch ((fitcl__expr_op)in->op) {
  case FITCL__OP_EXP: case FITCL__OP_EXPMUL: case FITCL__OP_EXPNMUL:
    name = d == FITCL__STAGE_C ? "fitcl__aot_exp_exact" : vec ? "fitcl_exp8" : "fitcl_exp";
    break;
  case FITCL__OP_LOG:
    name = d == FITCL__STAGE_C ? "fitcl__aot_log_exact" : vec ? "fitcl_log8" : "fitcl_log";
    break;
  case FITCL__OP_POW:
    if (d == FITCL__STAGE_C) name = "fitcl__aot_pow_exact";
    break;
  default:
    break;
  }
  fitcl__buf_printf(b, "%s(", name);
  if (in->op == FITCL__OP_POW || in->op == FITCL__OP_ATAN2) {
    put_ref(st, b, d, st->a[i], scalar);
    fitcl__buf_printf(b, ", ");
    put_ref(st, b, d, st->b[i], scalar);
  } else {
    put_value(st, b, d, i, scalar);
  }
  fitcl__buf_printf(b, ")");
}

void fitcl__stages_hoist(const fitcl__stages *st, fitcl__buf *b, fitcl__stage_dialect d,
                         const char *indent, const char *eol) {
  const fitcl__expr_prog *p = st->p;
  for (int k = 0; k < p->nparams; ++k)
    fitcl__buf_printf(b, "%sconst double p%d = prm[%d]; (void)p%d;%s", indent, k, k, k, eol);
  for (int i = 0; i < p->ninstr; ++i) {
    const fitcl__expr_instr *in = &p->instr[i];
    if (in->op == FITCL__OP_FUSED) {
      /* s exactly as run_fused forms it. */
      fitcl__buf_printf(b, "%sdouble s%d = 1.0;%s", indent, i, eol);
      for (int k = 0; k < in->ns; ++k) {
        int inv = (in->sinv >> k) & 1;
        if (k == 0) fitcl__buf_printf(b, "%ss%d = %s", indent, i, inv ? "1.0 / " : "");
        else fitcl__buf_printf(b, "%ss%d = s%d %s ", indent, i, i, inv ? "/" : "*");
        put_ref(st, b, d, st->s[i][k], 1);
        fitcl__buf_printf(b, ";%s", eol);
      }
      if (in->neg) fitcl__buf_printf(b, "%ss%d = -s%d;%s", indent, i, i, eol);
      fitcl__buf_printf(b, "%s(void)s%d;%s", indent, i, eol);
    }
    if (is_uniform(st, i)) {
      fitcl__buf_printf(b, "%sconst double u%d = ", indent, i);
      if (op_is_heavy(in->op)) put_heavy_call(st, b, d, i, 1);
      else put_value(st, b, d, i, 1);
      fitcl__buf_printf(b, "; (void)u%d;%s", i, eol);
    }
  }
}

/* Marks the cheap non-uniform instructions that ref r depends on. */
static void need_ref(fitcl__stages *st, fitcl__stage_ref r);
static void need_operands(fitcl__stages *st, int i) {
  const fitcl__expr_instr *in = &st->p->instr[i];
  int ar = fitcl__expr_op_arity((fitcl__expr_op)in->op);
  if (in->op == FITCL__OP_FUSED) {
    need_ref(st, st->a[i]);
    if (in->tk) need_ref(st, st->b[i]);
    if (in->c >= 0) need_ref(st, st->c[i]);
    for (int k = 0; k < in->nv; ++k) need_ref(st, st->v[i][k]);
  } else {
    if (ar >= 1) need_ref(st, st->a[i]);
    if (ar >= 2) need_ref(st, st->b[i]);
  }
}
static void need_ref(fitcl__stages *st, fitcl__stage_ref r) {
  if (r.kind != REF_INSTR || is_uniform(st, r.index) || st->heavy[r.index] >= 0) return;
  if (st->need[r.index]) return;
  st->need[r.index] = 1;
  need_operands(st, r.index);
}
/* Writes the marked cheap instructions as locals, in program order. */
static void put_needed(fitcl__stages *st, fitcl__buf *b, fitcl__stage_dialect d,
                       const char *indent) {
  for (int i = 0; i < st->p->ninstr; ++i)
    if (st->need[i]) {
      fitcl__buf_printf(b, "%sconst %s t%d = ", indent, d == FITCL__STAGE_CL8 ? "double8" : "double", i);
      put_value(st, b, d, i, 0);
      fitcl__buf_printf(b, ";\n");
      st->need[i] = 0;
    }
}

/* exp and log have short forms for arguments in the common range. */
static int has_short_form(int op) {
  return op == FITCL__OP_EXP || op == FITCL__OP_EXPMUL || op == FITCL__OP_EXPNMUL ||
         op == FITCL__OP_LOG;
}

/* Statements computing expensive value k at one point (step); general: the
 * general form even where a short one exists (the double8 redo). */
static void put_heavy_stmt(fitcl__stages *st, fitcl__buf *b, fitcl__stage_dialect d, int k,
                           const char *indent, int general) {
  int i = st->instr[k];
  const fitcl__expr_instr *in = &st->p->instr[i];
  const int cl = d == FITCL__STAGE_CL8;
  need_operands(st, i);
  put_needed(st, b, d, indent);
  if (!general && has_short_form(in->op)) {
    /* [dialect][exp]: the range check and the short form of a_. */
    static const char *const check[2][2] = {{"(uint64_t)FITCL__LOG_SPECIAL", "(uint64_t)FITCL__EXP_SPECIAL"},
                                            {"FITCL_LOG8_SPECIAL", "FITCL_EXP8_SPECIAL"}};
    static const char *const form[2][2] = {{"fitcl_log_core(a_, 1023.0)", "fitcl__exp_inrange(a_)"},
                                           {"fitcl_log8_inrange(a_)", "fitcl_exp8_inrange(a_)"}};
    const int isexp = in->op != FITCL__OP_LOG;
    fitcl__buf_printf(b, "%sconst %s a_ = ", indent, cl ? "double8" : "double");
    put_value(st, b, d, i, 0);
    fitcl__buf_printf(b, ";\n%sbad |= %s(a_);\n%s", indent, check[cl][isexp], indent);
    fitcl__buf_printf(b, cl ? "h[%d][q]" : "h%d[j]", k);
    fitcl__buf_printf(b, " = %s;\n", form[cl][isexp]);
    return;
  }
  if (!cl && in->op == FITCL__OP_POW) {
    /* The evaluator's pow for a positive finite base; others are redone. */
    fitcl__buf_printf(b, "%sconst double a_ = ", indent);
    put_ref(st, b, d, st->a[i], 0);
    fitcl__buf_printf(b, ", b_ = ");
    put_ref(st, b, d, st->b[i], 0);
    fitcl__buf_printf(b, ";\n%sbad |= (uint64_t)((a_ <= 0.0) | !(a_ < INFINITY) | !(fabs(b_) < INFINITY));\n"
                         "%sh%d[j] = fitcl_exp(b_ * fitcl_log(a_));\n", indent, indent, k);
    return;
  }
  fitcl__buf_printf(b, cl ? "%sh[%d][q] = " : "%sh%d[j] = ", indent, k);
  put_heavy_call(st, b, d, i, 0);
  fitcl__buf_printf(b, ";\n");
}

void fitcl__stages_heavy(fitcl__stages *st, fitcl__buf *b, fitcl__stage_dialect d, int k,
                         const char *indent) {
  put_heavy_stmt(st, b, d, k, indent, 0);
}

void fitcl__stages_outputs(fitcl__stages *st, fitcl__buf *b, fitcl__stage_dialect d,
                           const char *indent) {
  for (int k = 0; k < st->p->noutputs; ++k) need_ref(st, st->outs[k]);
  put_needed(st, b, d, indent);
}

void fitcl__stages_output(const fitcl__stages *st, fitcl__buf *b, fitcl__stage_dialect d, int k) {
  put_ref(st, b, d, st->outs[k], 0);
}

char *fitcl__stages_opencl8(const fitcl__expr_prog *p, const char *name, int jac) {
  fitcl__stages st;
  if (fitcl__stages_init(&st, p) != FITCL_OK) return NULL;
  fitcl__buf b = {0};
  const char *sig = "(const double *prm, __global const double *const *xc, double8 (*h)[32]";
  fitcl__buf_printf(&b, "#define FITCL_NHEAVY_%s %d\n", name, st.nheavy);
  fitcl__buf_printf(&b, "#define FITCL_STAGED_%s %d\n", name, st.depth >= 2);
  if (st.depth < 2) {
    /* The kernels' staged branch is then never taken; these keep it
     * compiling. */
    fitcl__buf_printf(&b, "#define fitcl_model_%s_heavy8(p, xc, h) ((void)0)\n"
                          "#define fitcl_model_%s_final8(p, xc, h, q, f, J) ((void)0)\n",
                      name, name);
    goto done;
  }
  fitcl__buf_printf(&b, "FITCL_VEC8_INLINE void fitcl_model_%s_heavy8%s) {\n", name, sig);
  fitcl__stages_hoist(&st, &b, FITCL__STAGE_CL8, "  ", "\n");
  fitcl__buf_printf(&b, "  (void)xc;\n  (void)h;\n");
  for (int k = 0; k < st.nheavy; ++k) {
    int fast = has_short_form(p->instr[st.instr[k]].op);
    if (fast) fitcl__buf_printf(&b, "  {\n  long8 bad = (long8)(0);\n");
    fitcl__buf_printf(&b, "  for (int q = 0; q < 32; ++q) {\n");
    put_heavy_stmt(&st, &b, FITCL__STAGE_CL8, k, "    ", 0);
    fitcl__buf_printf(&b, "  }\n");
    if (fast) {
      /* An argument outside the short form's range: the stage again with
       * the general form (fitcl_exp8 / fitcl_log8). */
      fitcl__buf_printf(&b, "  if (any(bad))\n    for (int q = 0; q < 32; ++q) {\n");
      put_heavy_stmt(&st, &b, FITCL__STAGE_CL8, k, "      ", 1);
      fitcl__buf_printf(&b, "    }\n  }\n");
    }
  }
  fitcl__buf_printf(&b, "}\n");
  fitcl__buf_printf(&b, "FITCL_VEC8_INLINE void fitcl_model_%s_final8%s, const int q, double8 *f, double8 *J) {\n",
                    name, sig);
  fitcl__stages_hoist(&st, &b, FITCL__STAGE_CL8, "  ", "\n");
  fitcl__buf_printf(&b, "  (void)xc;\n  (void)h;\n  (void)J;\n");
  fitcl__stages_outputs(&st, &b, FITCL__STAGE_CL8, "  ");
  fitcl__buf_printf(&b, "  *f = ");
  fitcl__stages_output(&st, &b, FITCL__STAGE_CL8, 0);
  fitcl__buf_printf(&b, ";\n");
  if (jac)
    for (int k = 1; k < p->noutputs; ++k) {
      fitcl__buf_printf(&b, "  J[%d] = ", k - 1);
      fitcl__stages_output(&st, &b, FITCL__STAGE_CL8, k);
      fitcl__buf_printf(&b, ";\n");
    }
  fitcl__buf_printf(&b, "}\n");
done:
  fitcl__stages_free(&st);
  if (b.oom) {
    fitcl__buf_free(&b);
    return NULL;
  }
  fitcl__buf_append(&b, "", 1);
  return b.data;
}
