/* A program split into stages for code generation: each expensive
 * instruction (exp, log, pow, the libm functions) gets a loop of its own
 * over a block, whose cheap operand arithmetic is recomputed in registers,
 * and a final loop forms the outputs from the stored expensive values.
 * Printed as C (one double per point, for the models compiled into the
 * library at build time: src/gen/aot_gen.c) or as OpenCL C on double8 (eight
 * points per step, for the CPU-device kernels).  Loops over independent
 * points of one short instruction keep the vector units busy, where one
 * straight-line evaluation per point waits on its own chain of exp and log
 * latencies.  Internal. */
#ifndef FITCL_EXPR_EXPR_STAGES_H
#define FITCL_EXPR_EXPR_STAGES_H

#include "core/util.h"
#include "expr/expr.h"

typedef enum fitcl__stage_dialect {
  /* C, point index j: variables x<k>[j], expensive values h<k>[j]; exp and
   * log take the evaluator's fast forms and OR their range check into a
   * local `bad` (the caller redoes the block with the evaluator). */
  FITCL__STAGE_C = 0,
  /* OpenCL C on double8, step q of a 256-point block: variables
   * vload8(q, xc[k]), expensive values h[k][q]; exp/log are fitcl_exp8 /
   * fitcl_log8 (the general forms). */
  FITCL__STAGE_CL8 = 1
} fitcl__stage_dialect;

typedef struct fitcl__stage_ref {
  int kind, index;
} fitcl__stage_ref;

typedef struct fitcl__stages {
  const fitcl__expr_prog *p;
  fitcl__stage_ref *a, *b, *c, (*v)[FITCL__FUSED_MAXV], (*s)[FITCL__FUSED_MAXS];
  fitcl__stage_ref *outs;
  int *heavy;   /* expensive-value index of instruction i, or -1 */
  int *instr;   /* instruction of expensive value k */
  int nheavy;
  int depth;    /* longest chain of expensive instructions (each using the last) */
  char *need;
} fitcl__stages;

/* Returns FITCL_OK or FITCL_ERR_NOMEM. */
fitcl_status fitcl__stages_init(fitcl__stages *st, const fitcl__expr_prog *p);
void fitcl__stages_free(fitcl__stages *st);

/* Declarations of the per-pass scalars, one per line with `indent` before
 * and `eol` after each: p<k> = prm[k], the uniform instructions u<i> and
 * the fused instructions' factors s<i>. */
void fitcl__stages_hoist(const fitcl__stages *st, fitcl__buf *b, fitcl__stage_dialect d,
                         const char *indent, const char *eol);
/* Statements computing expensive value k at one point (step): the cheap
 * values it needs, then its assignment. */
void fitcl__stages_heavy(fitcl__stages *st, fitcl__buf *b, fitcl__stage_dialect d, int k,
                         const char *indent);
/* Statements computing the cheap values the outputs need. */
void fitcl__stages_outputs(fitcl__stages *st, fitcl__buf *b, fitcl__stage_dialect d,
                           const char *indent);
/* Output k (0: f, 1 + j: ∂f/∂p_j) as an operand, after fitcl__stages_outputs. */
void fitcl__stages_output(const fitcl__stages *st, fitcl__buf *b, fitcl__stage_dialect d, int k);

/* OpenCL C for the CPU-device kernels: fitcl_model_<name>_heavy8(p, xc, h)
 * fills h[k][0..32) for a full 256-point block and
 * fitcl_model_<name>_final8(p, xc, h, q, f, J) forms step q's outputs (J
 * only when jac); FITCL_NHEAVY_<name> is the number of expensive values.
 * FITCL_STAGED_<name> is 1 (and the functions are written) only when the
 * program chains two or more expensive instructions: independent ones
 * (the double exponential's two exp) overlap well enough in straight-line
 * code, which then keeps every value in registers (measured on PoCL).
 * malloc'ed, NULL when out of memory. */
char *fitcl__stages_opencl8(const fitcl__expr_prog *p, const char *name, int jac);

#endif
