/* The pthreads path's expression evaluator: a register machine whose every
 * instruction runs over a whole block of points.  The inner loops are plain
 * element-wise loops (in place when a register is reused), which the compiler
 * vectorises; exp and log, the functions models use most, go through the
 * vectorisable implementations in expr_vmath.h. */
#include "expr/expr.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "expr/expr_vmath.h"

#define B FITCL__VM_BLOCK

#define LOOP1(expr_)                                                    \
  do {                                                                  \
    const double *A = R[in->a];                                         \
    double *D = R[in->dst];                                             \
    for (size_t i = 0; i < n; ++i) { double a = A[i]; D[i] = (expr_); } \
  } while (0)
#define LOOP2(expr_)                                                    \
  do {                                                                  \
    const double *A = R[in->a];                                         \
    const double *Bv = R[in->b];                                        \
    double *D = R[in->dst];                                             \
    for (size_t i = 0; i < n; ++i) {                                    \
      double a = A[i], b = Bv[i];                                       \
      D[i] = (expr_);                                                   \
    }                                                                   \
  } while (0)

/* Arithmetic with one operand that is the same for every point (a
 * parameter or a constant: flags bit 0 for a, bit 1 for b) reads it once
 * instead of streaming a broadcast register.  LOOP2S_TO writes into the
 * array D_, LOOP2S into the destination register. */
#define LOOP2S_TO(D_, expr_)                                            \
  do {                                                                  \
    double *D = (D_);                                                   \
    if (scal & FITCL__INSTR_SCALAR_A) {                                 \
      const double a = R[in->a][0], *Bv = R[in->b];                     \
      for (size_t i = 0; i < n; ++i) { double b = Bv[i]; D[i] = (expr_); } \
    } else if (scal & FITCL__INSTR_SCALAR_B) {                          \
      const double *A = R[in->a], b = R[in->b][0];                      \
      for (size_t i = 0; i < n; ++i) { double a = A[i]; D[i] = (expr_); } \
    } else {                                                            \
      const double *A = R[in->a], *Bv = R[in->b];                       \
      for (size_t i = 0; i < n; ++i) {                                  \
        double a = A[i], b = Bv[i];                                     \
        D[i] = (expr_);                                                 \
      }                                                                 \
    }                                                                   \
  } while (0)
#define LOOP2S(expr_) LOOP2S_TO(R[in->dst], expr_)

/* fn_(src, dst, n) needs src and dst apart: an operand overwritten in place
 * is copied to a scratch block first. */
#define OUT_OF_PLACE(fn_)                                \
  do {                                                  \
    if (R[in->a] == R[in->dst]) {                       \
      double u[B];                                      \
      memcpy(u, R[in->a], n * sizeof *u);               \
      fn_(u, R[in->dst], n);                            \
    } else {                                            \
      fn_(R[in->a], R[in->dst], n);                     \
    }                                                   \
  } while (0)

/* One FUSED instruction (see expr.h) with its shape as constants, so each
 * call site below compiles to its own straight loop.  Eight points at a time
 * go through a local array before being stored, so the destination may be
 * one of the operands (registers are reused in place) without the compiler
 * having to prove anything about aliasing. */
FITCL__VM_INLINE void fused_loop(size_t n, double *D, const double *C, const double *A,
                                 const double *Bt, const double *V0, const double *V1,
                                 const double *V2, double s, const int hasc, const int tk,
                                 const int nv) {
  size_t i = 0;
#define FITCL__FUSED_POINT(j_)                                               \
  ({                                                                        \
    double t_ = tk == 1 ? A[j_] + Bt[j_] : (tk == 2 ? A[j_] - Bt[j_] : A[j_]); \
    double x_ = s * t_;                                                     \
    if (nv > 0) x_ = x_ * V0[j_];                                           \
    if (nv > 1) x_ = x_ * V1[j_];                                           \
    if (nv > 2) x_ = x_ * V2[j_];                                           \
    hasc ? C[j_] + x_ : x_;                                                 \
  })
  for (; i + 8 <= n; i += 8) {
    double t[8];
    for (size_t l = 0; l < 8; ++l) t[l] = FITCL__FUSED_POINT(i + l);
    for (size_t l = 0; l < 8; ++l) D[i + l] = t[l];
  }
  for (; i < n; ++i) D[i] = FITCL__FUSED_POINT(i);
#undef FITCL__FUSED_POINT
}

FITCL__VMATH_CLONES
static void run_fused(const fitcl__expr_instr *in, size_t n, double *const *R) {
  double s = 1.0;
  for (int k = 0; k < in->ns; ++k) {
    double v = R[in->s[k]][0];
    int inv = (in->sinv >> k) & 1;
    s = k == 0 ? (inv ? 1.0 / v : v) : (inv ? s / v : s * v);
  }
  if (in->neg) s = -s;
  double *D = R[in->dst];
  const double *C = in->c >= 0 ? R[in->c] : NULL, *A = R[in->a];
  const double *Bt = in->tk ? R[in->b] : NULL;
  const double *V0 = in->nv > 0 ? R[in->v[0]] : NULL, *V1 = in->nv > 1 ? R[in->v[1]] : NULL,
               *V2 = in->nv > 2 ? R[in->v[2]] : NULL;
  int key = (in->c >= 0) * 12 + in->tk * 4 + in->nv;
  switch (key) {
#define FITCL__FUSED_CASE(hc_, tk_, nv_)                                       \
  case (hc_) * 12 + (tk_) * 4 + (nv_):                                     \
    fused_loop(n, D, C, A, Bt, V0, V1, V2, s, hc_, tk_, nv_);              \
    break;
#define FITCL__FUSED_CASES_NV(hc_, tk_) \
  FITCL__FUSED_CASE(hc_, tk_, 0) FITCL__FUSED_CASE(hc_, tk_, 1) \
  FITCL__FUSED_CASE(hc_, tk_, 2) FITCL__FUSED_CASE(hc_, tk_, 3)
    FITCL__FUSED_CASES_NV(0, 0) FITCL__FUSED_CASES_NV(0, 1) FITCL__FUSED_CASES_NV(0, 2)
    FITCL__FUSED_CASES_NV(1, 0) FITCL__FUSED_CASES_NV(1, 1) FITCL__FUSED_CASES_NV(1, 2)
#undef FITCL__FUSED_CASES_NV
#undef FITCL__FUSED_CASE
  default: break;
  }
}

FITCL__VMATH_CLONES
static void run_instr(const fitcl__expr_instr *in, size_t n, double *const *R, int scal) {
  switch ((fitcl__expr_op)in->op) {
  case FITCL__OP_ADD: LOOP2S(a + b); break;
  case FITCL__OP_SUB: LOOP2S(a - b); break;
  case FITCL__OP_MUL: LOOP2S(a * b); break;
  case FITCL__OP_NMUL: LOOP2S(-(a * b)); break;
  /* The arguments go to a scratch block first: the exponential may then
   * overwrite its operand in place and still redo the block exactly. */
  case FITCL__OP_EXPMUL: {
    double u[B];
    LOOP2S_TO(u, a * b);
    fitcl__vexp(u, R[in->dst], n);
    break;
  }
  case FITCL__OP_EXPNMUL: {
    double u[B];
    LOOP2S_TO(u, -(a * b));
    fitcl__vexp(u, R[in->dst], n);
    break;
  }
  case FITCL__OP_DIV:
    if ((scal & (FITCL__INSTR_SCALAR_A | FITCL__INSTR_SCALAR_B)) == FITCL__INSTR_SCALAR_B) {
      /* Division by a per-pass constant: multiply by its reciprocal (one
       * extra rounding; vector division is several times slower). */
      const double inv = 1.0 / R[in->b][0];
      const double *A = R[in->a];
      double *D = R[in->dst];
      for (size_t i = 0; i < n; ++i) D[i] = A[i] * inv;
    } else {
      LOOP2S(a / b);
    }
    break;
  case FITCL__OP_FUSED: run_fused(in, n, R); break;
  case FITCL__OP_NEG: LOOP1(-a); break;
  case FITCL__OP_SQR: LOOP1(a * a); break;
  case FITCL__OP_POW: {
    double tmp[B];
    fitcl__vpow(R[in->a], R[in->b], R[in->dst], tmp, n);
    break;
  }
  case FITCL__OP_EXP: OUT_OF_PLACE(fitcl__vexp); break;
  case FITCL__OP_LOG: OUT_OF_PLACE(fitcl__vlog); break;
  case FITCL__OP_LOG10: LOOP1(log10(a)); break;
  case FITCL__OP_SQRT: LOOP1(sqrt(a)); break;
  case FITCL__OP_SIN: LOOP1(sin(a)); break;
  case FITCL__OP_COS: LOOP1(cos(a)); break;
  case FITCL__OP_TAN: LOOP1(tan(a)); break;
  case FITCL__OP_ASIN: LOOP1(asin(a)); break;
  case FITCL__OP_ACOS: LOOP1(acos(a)); break;
  case FITCL__OP_ATAN: LOOP1(atan(a)); break;
  case FITCL__OP_ATAN2: LOOP2(atan2(a, b)); break;
  case FITCL__OP_SINH: LOOP1(sinh(a)); break;
  case FITCL__OP_COSH: LOOP1(cosh(a)); break;
  case FITCL__OP_TANH: LOOP1(tanh(a)); break;
  case FITCL__OP_ERF: LOOP1(erf(a)); break;
  case FITCL__OP_ERFC: LOOP1(erfc(a)); break;
  case FITCL__OP_ABS: LOOP1(fabs(a)); break;
  case FITCL__OP_MIN: LOOP2(fmin(a, b)); break;
  case FITCL__OP_MAX: LOOP2(fmax(a, b)); break;
  case FITCL__OP_LE: LOOP2(a <= b ? 1.0 : 0.0); break;
  case FITCL__OP_GE: LOOP2(a >= b ? 1.0 : 0.0); break;
  case FITCL__OP_SIGN: LOOP1(a > 0 ? 1.0 : (a < 0 ? -1.0 : 0.0)); break;
  default: break;
  }
}

void fitcl__expr_vm_run(const fitcl__expr_prog *p, const double *params,
                        const double *const *x, size_t n, double *regs, double **R, int fill) {
  int cbase = p->nparams + p->nvars;
  if (p->params_vary) {
    /* Parameters are columns like the variables (read in place below);
     * only the constants are filled. */
    if (fill) {
      for (int c = 0; c < p->nconst; ++c) {
        double *D = regs + (size_t)(cbase + c) * B;
        for (size_t i = 0; i < B; ++i) D[i] = p->consts[c];
      }
      for (int r = 0; r < p->nregs; ++r) R[r] = regs + (size_t)r * B;
    }
    for (int j = 0; j < cbase; ++j) R[j] = (double *)(uintptr_t)x[j];
  } else if (fill) {
    /* Parameters and constants are the same for every block of a pass:
     * their registers are filled once (over the whole block length, since
     * an output may be one of them) and never written by instructions. */
    for (int k = 0; k < p->nparams; ++k) {
      double *D = regs + (size_t)k * B;
      for (size_t i = 0; i < B; ++i) D[i] = params[k];
    }
    for (int c = 0; c < p->nconst; ++c) {
      double *D = regs + (size_t)(cbase + c) * B;
      for (size_t i = 0; i < B; ++i) D[i] = p->consts[c];
    }
    for (int r = 0; r < p->nregs; ++r) R[r] = regs + (size_t)r * B;
  }
  /* Variables are read in place from the caller's columns; instructions
   * only ever write temporaries, so dropping const here is safe. */
  if (!p->params_vary)
    for (int j = 0; j < p->nvars; ++j) R[p->nparams + j] = (double *)(uintptr_t)x[j];
  for (int i = 0; i < p->ninstr; ++i) {
    const fitcl__expr_instr *in = &p->instr[i];
    /* Uniform instructions (parameters and constants only) run once per
     * pass, over the whole block length, like the parameter registers. */
    if (in->flags & FITCL__INSTR_UNIFORM) {
      if (fill) run_instr(in, B, R, 0);
      continue;
    }
    int scal = in->flags & (FITCL__INSTR_SCALAR_A | FITCL__INSTR_SCALAR_B);
    if (scal == (FITCL__INSTR_SCALAR_A | FITCL__INSTR_SCALAR_B)) scal = 0;
    run_instr(in, n, R, scal);
  }
}
