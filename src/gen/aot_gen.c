/* Build-time generator of the ahead-of-time model kernels (see
 * src/nlsq/aot.h): compiles every built-in model with the library's own
 * expression compiler and writes its programs as C.
 *
 *   aot_gen OUTPUT.c
 *
 * It links the library's objects, which refer to the kernel table; the
 * generator's own (empty) table stands in for the one it writes. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "fitcl/nlsq.h"
#include "nlsq/aot.h"
#include "nlsq/model.h"

const fitcl__aot_kernel fitcl__aot_kernels[1];
const size_t fitcl__aot_nkernels = 0;

/* Widest Jacobian the final loop accumulates itself (as the evaluator
 * path's fast sums do); wider models store their outputs. */
#define ACC_MAX_PARAMS 5

/* An operand resolved at the point of use (registers are reused). */
enum { REF_PARAM, REF_VAR, REF_CONST, REF_INSTR };
typedef struct ref {
  int kind, index;
} ref;

typedef struct prog_info {
  const fitcl__expr_prog *p;
  ref *a, *b, *c, (*v)[FITCL__FUSED_MAXV], (*s)[FITCL__FUSED_MAXS];
  ref *outs;
  int *heavy;   /* heavy index of instruction i, or -1 */
  int nheavy;
  char *need;   /* scratch: instructions needed by the stage being written */
} prog_info;

static int is_uniform(const prog_info *pi, int i) {
  return (pi->p->instr[i].flags & FITCL__INSTR_UNIFORM) != 0;
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

static ref resolve(const fitcl__expr_prog *p, const int *def, int32_t r) {
  int cbase = p->nparams + p->nvars;
  ref out;
  if (r < p->nparams) out.kind = REF_PARAM, out.index = r;
  else if (r < cbase) out.kind = REF_VAR, out.index = r - p->nparams;
  else if (r < cbase + p->nconst) out.kind = REF_CONST, out.index = r - cbase;
  else out.kind = REF_INSTR, out.index = def[r];
  return out;
}

static void *xcalloc(size_t n, size_t size) {
  void *q = calloc(n ? n : 1, size);
  if (!q) {
    fprintf(stderr, "aot_gen: out of memory\n");
    exit(1);
  }
  return q;
}

static void analyse(const fitcl__expr_prog *p, prog_info *pi) {
  int n = p->ninstr;
  pi->p = p;
  pi->a = xcalloc((size_t)n, sizeof *pi->a);
  pi->b = xcalloc((size_t)n, sizeof *pi->b);
  pi->c = xcalloc((size_t)n, sizeof *pi->c);
  pi->v = xcalloc((size_t)n, sizeof *pi->v);
  pi->s = xcalloc((size_t)n, sizeof *pi->s);
  pi->outs = xcalloc((size_t)p->noutputs, sizeof *pi->outs);
  pi->heavy = xcalloc((size_t)n, sizeof *pi->heavy);
  pi->need = xcalloc((size_t)n, 1);
  int *def = xcalloc((size_t)p->nregs, sizeof *def);
  pi->nheavy = 0;
  for (int i = 0; i < n; ++i) {
    const fitcl__expr_instr *in = &p->instr[i];
    int ar = fitcl__expr_op_arity((fitcl__expr_op)in->op);
    if (in->op == FITCL__OP_FUSED) {
      pi->a[i] = resolve(p, def, in->a);
      if (in->tk) pi->b[i] = resolve(p, def, in->b);
      if (in->c >= 0) pi->c[i] = resolve(p, def, in->c);
      for (int k = 0; k < in->nv; ++k) pi->v[i][k] = resolve(p, def, in->v[k]);
      for (int k = 0; k < in->ns; ++k) pi->s[i][k] = resolve(p, def, in->s[k]);
    } else {
      if (ar >= 1) pi->a[i] = resolve(p, def, in->a);
      if (ar >= 2) pi->b[i] = resolve(p, def, in->b);
    }
    pi->heavy[i] = !is_uniform(pi, i) && op_is_heavy(in->op) ? pi->nheavy++ : -1;
    def[in->dst] = i;
  }
  for (int k = 0; k < p->noutputs; ++k) pi->outs[k] = resolve(p, def, p->outputs[k]);
  free(def);
}

static void info_free(prog_info *pi) {
  free(pi->a);
  free(pi->b);
  free(pi->c);
  free(pi->v);
  free(pi->s);
  free(pi->outs);
  free(pi->heavy);
  free(pi->need);
}

/* Prints an operand: parameters and uniform values are hoisted locals,
 * variables are read at point j, heavy values from their scratch block,
 * cheap values are locals of the current loop. */
static void put_ref(FILE *o, const prog_info *pi, ref r) {
  switch (r.kind) {
  case REF_PARAM: fprintf(o, "p%d", r.index); break;
  case REF_VAR: fprintf(o, "x%d[j]", r.index); break;
  case REF_CONST: {
    double v = pi->p->consts[r.index];
    if (isnan(v)) fprintf(o, "NAN");
    else if (isinf(v)) fprintf(o, v > 0 ? "INFINITY" : "(-INFINITY)");
    else fprintf(o, "(%.17g)", v);
    break;
  }
  default:
    if (is_uniform(pi, r.index)) fprintf(o, "u%d", r.index);
    else if (pi->heavy[r.index] >= 0) fprintf(o, "h%d[j]", pi->heavy[r.index]);
    else fprintf(o, "t%d", r.index);
  }
}

/* The per-point value of a cheap (or the argument of a heavy) instruction,
 * in the evaluator's order of operations (expr_vm.c). */
static void put_value(FILE *o, const prog_info *pi, int i) {
  const fitcl__expr_instr *in = &pi->p->instr[i];
  ref a = pi->a[i], b = pi->b[i];
  /* A non-uniform division by a uniform value multiplies by its reciprocal. */
  int recip = !is_uniform(pi, i) && (in->flags & FITCL__INSTR_SCALAR_B) &&
              !(in->flags & FITCL__INSTR_SCALAR_A);
#define A_ put_ref(o, pi, a)
#define B_ put_ref(o, pi, b)
  switch ((fitcl__expr_op)in->op) {
  case FITCL__OP_ADD: fprintf(o, "("); A_; fprintf(o, " + "); B_; fprintf(o, ")"); break;
  case FITCL__OP_SUB: fprintf(o, "("); A_; fprintf(o, " - "); B_; fprintf(o, ")"); break;
  case FITCL__OP_MUL: case FITCL__OP_EXPMUL:
    fprintf(o, "("); A_; fprintf(o, " * "); B_; fprintf(o, ")"); break;
  case FITCL__OP_NMUL: case FITCL__OP_EXPNMUL:
    fprintf(o, "(-("); A_; fprintf(o, " * "); B_; fprintf(o, "))"); break;
  case FITCL__OP_DIV:
    fprintf(o, "("); A_;
    if (recip) { fprintf(o, " * (1.0 / "); B_; fprintf(o, "))"); }
    else { fprintf(o, " / "); B_; fprintf(o, ")"); }
    break;
  case FITCL__OP_NEG: fprintf(o, "(-"); A_; fprintf(o, ")"); break;
  case FITCL__OP_SQR: fprintf(o, "("); A_; fprintf(o, " * "); A_; fprintf(o, ")"); break;
  case FITCL__OP_SQRT: fprintf(o, "sqrt("); A_; fprintf(o, ")"); break;
  case FITCL__OP_ABS: fprintf(o, "fabs("); A_; fprintf(o, ")"); break;
  case FITCL__OP_MIN: fprintf(o, "fmin("); A_; fprintf(o, ", "); B_; fprintf(o, ")"); break;
  case FITCL__OP_MAX: fprintf(o, "fmax("); A_; fprintf(o, ", "); B_; fprintf(o, ")"); break;
  case FITCL__OP_LE: fprintf(o, "("); A_; fprintf(o, " <= "); B_; fprintf(o, " ? 1.0 : 0.0)"); break;
  case FITCL__OP_GE: fprintf(o, "("); A_; fprintf(o, " >= "); B_; fprintf(o, " ? 1.0 : 0.0)"); break;
  case FITCL__OP_SIGN:
    fprintf(o, "("); A_; fprintf(o, " > 0 ? 1.0 : ("); A_; fprintf(o, " < 0 ? -1.0 : 0.0))");
    break;
  case FITCL__OP_FUSED: {
    /* [c +] (s * t) * v0 * ... with s hoisted as s<i>. */
    if (in->c >= 0) { put_ref(o, pi, pi->c[i]); fprintf(o, " + "); }
    for (int k = 0; k < in->nv; ++k) fprintf(o, "(");
    fprintf(o, "(s%d * ", i);
    if (in->tk) { fprintf(o, "("); A_; fprintf(o, in->tk == 1 ? " + " : " - "); B_; fprintf(o, ")"); }
    else A_;
    fprintf(o, ")");
    for (int k = 0; k < in->nv; ++k) { fprintf(o, " * "); put_ref(o, pi, pi->v[i][k]); fprintf(o, ")"); }
    break;
  }
  default: /* heavy: the argument(s) only */
    A_;
    break;
  }
#undef A_
#undef B_
}

/* A heavy instruction evaluated exactly as the evaluator does it (used for
 * uniform ones, which run once per block on hoisted values). */
static void put_heavy_exact(FILE *o, const prog_info *pi, int i) {
  const fitcl__expr_instr *in = &pi->p->instr[i];
  switch ((fitcl__expr_op)in->op) {
  case FITCL__OP_EXP: case FITCL__OP_EXPMUL: case FITCL__OP_EXPNMUL:
    fprintf(o, "fitcl__aot_exp_exact("); put_value(o, pi, i); fprintf(o, ")");
    break;
  case FITCL__OP_LOG:
    fprintf(o, "fitcl__aot_log_exact("); put_value(o, pi, i); fprintf(o, ")");
    break;
  case FITCL__OP_POW:
    fprintf(o, "fitcl__aot_pow_exact("); put_ref(o, pi, pi->a[i]); fprintf(o, ", ");
    put_ref(o, pi, pi->b[i]); fprintf(o, ")");
    break;
  default:
    fprintf(o, "%s(", fitcl__expr_op_name((fitcl__expr_op)in->op));
    put_ref(o, pi, pi->a[i]);
    if (fitcl__expr_op_arity((fitcl__expr_op)in->op) == 2) { fprintf(o, ", "); put_ref(o, pi, pi->b[i]); }
    fprintf(o, ")");
  }
}

/* Marks the cheap non-uniform instructions that ref r depends on. */
static void need_ref(prog_info *pi, ref r);
static void need_instr_operands(prog_info *pi, int i) {
  const fitcl__expr_instr *in = &pi->p->instr[i];
  int ar = fitcl__expr_op_arity((fitcl__expr_op)in->op);
  if (in->op == FITCL__OP_FUSED) {
    need_ref(pi, pi->a[i]);
    if (in->tk) need_ref(pi, pi->b[i]);
    if (in->c >= 0) need_ref(pi, pi->c[i]);
    for (int k = 0; k < in->nv; ++k) need_ref(pi, pi->v[i][k]);
  } else {
    if (ar >= 1) need_ref(pi, pi->a[i]);
    if (ar >= 2) need_ref(pi, pi->b[i]);
  }
}
static void need_ref(prog_info *pi, ref r) {
  if (r.kind != REF_INSTR || is_uniform(pi, r.index) || pi->heavy[r.index] >= 0) return;
  if (pi->need[r.index]) return;
  pi->need[r.index] = 1;
  need_instr_operands(pi, r.index);
}
/* Writes the marked cheap instructions as locals, in program order. */
static void put_needed(FILE *o, prog_info *pi, const char *indent) {
  for (int i = 0; i < pi->p->ninstr; ++i)
    if (pi->need[i]) {
      fprintf(o, "%sconst double t%d = ", indent, i);
      put_value(o, pi, i);
      fprintf(o, ";\n");
      pi->need[i] = 0;
    }
}

static void put_pairwise(FILE *o, const char *a) {
  fprintf(o, "((%s[0] + %s[1]) + (%s[2] + %s[3])) + ((%s[4] + %s[5]) + (%s[6] + %s[7]))", a, a, a,
          a, a, a, a, a);
}

/* One kernel: program p of a model with np parameters; jac: p's outputs are
 * f and the Jacobian. */
static void write_kernel(FILE *o, const char *fname, const fitcl__expr_prog *p, int jac,
                         int *nheavy, int *accumulates) {
  prog_info pi;
  analyse(p, &pi);
  const int np = p->nparams, nv = p->nvars, nout = p->noutputs;
  const int acc = !jac || np <= ACC_MAX_PARAMS;
  *nheavy = pi.nheavy;
  *accumulates = acc;

  /* Parameter list shared by the core and the final loop. */
  char plist[4096];
  size_t pl = 0;
  pl += (size_t)snprintf(plist + pl, sizeof plist - pl, "const double *restrict prm");
  for (int j = 0; j < nv; ++j)
    pl += (size_t)snprintf(plist + pl, sizeof plist - pl, ", const double *restrict x%d", j);
  for (int h = 0; h < pi.nheavy; ++h)
    pl += (size_t)snprintf(plist + pl, sizeof plist - pl, ", double *restrict h%d", h);

  /* Hoisted values: parameters, uniform instructions, fused scale factors. */
  fprintf(o, "#define %s_HOIST \\\n", fname);
  for (int k = 0; k < np; ++k) fprintf(o, "  const double p%d = prm[%d]; (void)p%d; \\\n", k, k, k);
  for (int i = 0; i < p->ninstr; ++i) {
    const fitcl__expr_instr *in = &p->instr[i];
    if (in->op == FITCL__OP_FUSED) {
      /* s exactly as run_fused forms it. */
      fprintf(o, "  double s%d = 1.0; \\\n", i);
      for (int k = 0; k < in->ns; ++k) {
        int inv = (in->sinv >> k) & 1;
        fprintf(o, "  s%d = ", i);
        if (k == 0) {
          fprintf(o, inv ? "1.0 / " : "");
          put_ref(o, &pi, pi.s[i][k]);
        } else {
          fprintf(o, "s%d %s ", i, inv ? "/" : "*");
          put_ref(o, &pi, pi.s[i][k]);
        }
        fprintf(o, "; \\\n");
      }
      if (in->neg) fprintf(o, "  s%d = -s%d; \\\n", i, i);
      fprintf(o, "  (void)s%d; \\\n", i);
    }
    if (is_uniform(&pi, i)) {
      fprintf(o, "  const double u%d = ", i);
      if (op_is_heavy(in->op)) put_heavy_exact(o, &pi, i);
      else put_value(o, &pi, i);
      fprintf(o, "; (void)u%d; \\\n", i);
    }
  }
  fprintf(o, "  (void)0\n\n");

  /* The final loop, accumulating (linear loss, full block). */
  if (acc) {
    int nt = jac ? np * (np + 1) / 2 + np + 2 : 2;
    fprintf(o, "FITCL__VM_INLINE void %s_acc(%s, const double *restrict y,\n"
               "    const double *restrict sigma, double *restrict v, const int has_sigma) {\n",
            fname, plist);
    fprintf(o, "  %s_HOIST;\n", fname);
    for (int j = 0; j < nv; ++j) fprintf(o, "  (void)x%d;\n", j);
    for (int h = 0; h < pi.nheavy; ++h) fprintf(o, "  (void)h%d;\n", h);
    if (jac) {
      fprintf(o, "  double acc[%d][8];\n", nt - 1);
      fprintf(o, "  for (int t = 0; t < %d; ++t)\n    for (int l = 0; l < 8; ++l) acc[t][l] = 0.0;\n", nt - 1);
      fprintf(o, "  for (size_t i = 0; i < FITCL__VM_BLOCK; i += 8) {\n");
      fprintf(o, "    double g[%d][8], r[8];\n", np);
    } else {
      fprintf(o, "  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};\n");
      fprintf(o, "  for (size_t i = 0; i < FITCL__VM_BLOCK; i += 8) {\n");
      fprintf(o, "    double r[8];\n");
    }
    fprintf(o, "    for (size_t l = 0; l < 8; ++l) {\n      const size_t j = i + l;\n");
    for (int k = 0; k < nout; ++k) need_ref(&pi, pi.outs[k]);
    put_needed(o, &pi, "      ");
    fprintf(o, "      const double f_ = ");
    put_ref(o, &pi, pi.outs[0]);
    fprintf(o, ";\n");
    if (jac) {
      fprintf(o, "      const double is_ = has_sigma ? 1.0 / sigma[j] : 1.0;\n");
      fprintf(o, "      r[l] = has_sigma ? (y[j] - f_) * is_ : y[j] - f_;\n");
      for (int k = 0; k < np; ++k) {
        fprintf(o, "      g[%d][l] = has_sigma ? ", k);
        put_ref(o, &pi, pi.outs[1 + k]);
        fprintf(o, " * is_ : ");
        put_ref(o, &pi, pi.outs[1 + k]);
        fprintf(o, ";\n");
      }
      fprintf(o, "    }\n    int t = 0;\n");
      fprintf(o, "    for (int k = 0; k < %d; ++k)\n      for (int m = k; m < %d; ++m, ++t)\n"
                 "        for (size_t l = 0; l < 8; ++l) acc[t][l] += g[k][l] * g[m][l];\n", np, np);
      fprintf(o, "    for (int k = 0; k < %d; ++k, ++t)\n"
                 "      for (size_t l = 0; l < 8; ++l) acc[t][l] += g[k][l] * r[l];\n", np);
      fprintf(o, "    for (size_t l = 0; l < 8; ++l) acc[t][l] += r[l] * r[l];\n  }\n");
      fprintf(o, "  for (int t = 0; t < %d; ++t)\n    v[t] = ", nt - 1);
      put_pairwise(o, "acc[t]");
      fprintf(o, ";\n  v[%d] = v[%d];\n}\n\n", nt - 1, nt - 2);
    } else {
      fprintf(o, "      r[l] = has_sigma ? (y[j] - f_) * (1.0 / sigma[j]) : y[j] - f_;\n    }\n");
      fprintf(o, "    for (size_t l = 0; l < 8; ++l) acc[l] += r[l] * r[l];\n  }\n  v[0] = v[1] = ");
      put_pairwise(o, "acc");
      fprintf(o, ";\n}\n\n");
    }
  }

  /* The core: heavy loops, then the final loop. */
  fprintf(o, "FITCL__VMATH_CLONES\nstatic int %s_core(%s, size_t n,\n"
             "    const double *restrict y, const double *restrict sigma, double *restrict v",
          fname, plist);
  for (int k = 0; k < nout; ++k) fprintf(o, ", double *restrict o%d", k);
  fprintf(o, ") {\n  %s_HOIST;\n  uint64_t bad = 0;\n  (void)y;\n  (void)sigma;\n  (void)v;\n", fname);
  for (int i = 0; i < p->ninstr; ++i) {
    if (pi.heavy[i] < 0) continue;
    const fitcl__expr_instr *in = &p->instr[i];
    fprintf(o, "  for (size_t j = 0; j < n; ++j) {\n");
    need_instr_operands(&pi, i);
    put_needed(o, &pi, "    ");
    int h = pi.heavy[i];
    switch ((fitcl__expr_op)in->op) {
    case FITCL__OP_EXP: case FITCL__OP_EXPMUL: case FITCL__OP_EXPNMUL: case FITCL__OP_LOG: {
      int isexp = in->op != FITCL__OP_LOG;
      fprintf(o, "    const double a_ = ");
      put_value(o, &pi, i);
      fprintf(o, ";\n    bad |= (uint64_t)%s(a_);\n", isexp ? "FITCL__EXP_SPECIAL" : "FITCL__LOG_SPECIAL");
      fprintf(o, "    h%d[j] = %s;\n", h, isexp ? "fitcl__exp_inrange(a_)" : "fitcl_log_core(a_, 1023.0)");
      break;
    }
    case FITCL__OP_POW:
      fprintf(o, "    const double a_ = ");
      put_ref(o, &pi, pi.a[i]);
      fprintf(o, ", b_ = ");
      put_ref(o, &pi, pi.b[i]);
      fprintf(o, ";\n    bad |= (uint64_t)((a_ <= 0.0) | !(a_ < INFINITY) | !(fabs(b_) < INFINITY));\n");
      fprintf(o, "    h%d[j] = fitcl_exp(b_ * fitcl_log(a_));\n", h);
      break;
    default:
      fprintf(o, "    h%d[j] = ", h);
      put_heavy_exact(o, &pi, i);
      fprintf(o, ";\n");
    }
    fprintf(o, "  }\n");
  }
  fprintf(o, "  if (bad) return 1;\n");
  if (acc) {
    fprintf(o, "  if (v) {\n    if (sigma) %s_acc(prm", fname);
    for (int j = 0; j < nv; ++j) fprintf(o, ", x%d", j);
    for (int h = 0; h < pi.nheavy; ++h) fprintf(o, ", h%d", h);
    fprintf(o, ", y, sigma, v, 1);\n    else %s_acc(prm", fname);
    for (int j = 0; j < nv; ++j) fprintf(o, ", x%d", j);
    for (int h = 0; h < pi.nheavy; ++h) fprintf(o, ", h%d", h);
    fprintf(o, ", y, sigma, v, 0);\n    return 0;\n  }\n");
  }
  fprintf(o, "  for (size_t j = 0; j < n; ++j) {\n");
  for (int k = 0; k < nout; ++k) need_ref(&pi, pi.outs[k]);
  put_needed(o, &pi, "    ");
  for (int k = 0; k < nout; ++k) {
    fprintf(o, "    o%d[j] = ", k);
    put_ref(o, &pi, pi.outs[k]);
    fprintf(o, ";\n");
  }
  fprintf(o, "  }\n  return 0;\n}\n\n");

  /* The entry point with the table's signature. */
  fprintf(o, "static int %s(const double *params, const double *const *x, size_t n,\n"
             "    const double *y, const double *sigma, double *const *out, double *v, double *h) {\n",
          fname);
  fprintf(o, "  (void)x;\n  (void)h;\n  return %s_core(params", fname);
  for (int j = 0; j < nv; ++j) fprintf(o, ", x[%d]", j);
  for (int h = 0; h < pi.nheavy; ++h) fprintf(o, ", h + %d * (size_t)FITCL__VM_BLOCK", h);
  fprintf(o, ", n, y, sigma, v");
  for (int k = 0; k < nout; ++k) fprintf(o, ", out ? out[%d] : NULL", k);
  fprintf(o, ");\n}\n\n");

  /* Its signature. */
  size_t ns = fitcl__expr_prog_signature(p, NULL, 0);
  int64_t *sig = xcalloc(ns, sizeof *sig);
  fitcl__expr_prog_signature(p, sig, ns);
  fprintf(o, "static const int64_t %s_sig[%zu] = {", fname, ns);
  for (size_t k = 0; k < ns; ++k) fprintf(o, "%s%" PRId64, k == 0 ? "\n  " : (k % 8 ? ", " : ",\n  "), sig[k]);
  fprintf(o, "};\n\n");
  free(sig);
  info_free(&pi);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: aot_gen OUTPUT.c\n");
    return 2;
  }
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
  FILE *o = fopen(tmp, "w");
  if (!o) {
    perror(tmp);
    return 1;
  }
  fprintf(o, "/* Generated at build time by aot_gen from the built-in models\n"
             " * (src/nlsq/builtin.c) with the library's expression compiler.  Do not\n"
             " * edit: see src/nlsq/aot.h. */\n"
             "#include <math.h>\n#include <stddef.h>\n#include <stdint.h>\n\n"
             "#include \"nlsq/aot.h\"\n#include \"nlsq/expr_vmath.h\"\n\n"
             "FITCL__VM_INLINE double fitcl__aot_exp_exact(double a) {\n"
             "  return FITCL__EXP_SPECIAL(a) ? fitcl_exp(a) : fitcl__exp_inrange(a);\n}\n"
             "FITCL__VM_INLINE double fitcl__aot_log_exact(double a) {\n"
             "  return FITCL__LOG_SPECIAL(a) ? fitcl_log(a) : fitcl_log_core(a, 1023.0);\n}\n"
             "FITCL__VM_INLINE double fitcl__aot_pow_exact(double a, double b) {\n"
             "  return a > 0.0 && a < INFINITY && fabs(b) < INFINITY ? fitcl_exp(b * fitcl_log(a))\n"
             "                                                      : pow(a, b);\n}\n\n");
  char names[64][96];
  int nheavy[64], accum[64], nk = 0;
  for (size_t i = 0; fitcl_model_builtin_name(i); ++i) {
    const char *name = fitcl_model_builtin_name(i);
    fitcl_model *m = NULL;
    if (fitcl_model_builtin(NULL, name, &m) != FITCL_OK) {
      fprintf(stderr, "aot_gen: built-in model %s does not compile\n", name);
      fclose(o);
      remove(tmp);
      return 1;
    }
    for (int jac = 1; jac >= 0 && nk < 64; --jac) {
      snprintf(names[nk], sizeof names[nk], "aot_%s_%s", name, jac ? "fj" : "f");
      write_kernel(o, names[nk], jac ? &m->prog_fj : &m->prog_f, jac, &nheavy[nk], &accum[nk]);
      ++nk;
    }
    fitcl_model_destroy(m);
  }
  fprintf(o, "const fitcl__aot_kernel fitcl__aot_kernels[] = {\n");
  for (int k = 0; k < nk; ++k) {
    const char *n = names[k] + 4, *tail = strrchr(n, '_');
    fprintf(o, "  {\"%.*s/%s\", %s_sig, sizeof %s_sig / sizeof %s_sig[0], %d, %d, %s},\n",
            (int)(tail - n), n, tail + 1, names[k], names[k], names[k], nheavy[k], accum[k],
            names[k]);
  }
  fprintf(o, "};\nconst size_t fitcl__aot_nkernels = %d;\n", nk);
  if (fclose(o) != 0 || rename(tmp, argv[1]) != 0) {
    perror(argv[1]);
    remove(tmp);
    return 1;
  }
  return 0;
}
