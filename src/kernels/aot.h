/* Models compiled ahead of time.  At build time a generator (src/gen/
 * aot_gen.c) runs the expression compiler on every built-in model and
 * writes each straight-line program as C, which the build compiles into the
 * library.  The pthreads path uses that code instead of the block evaluator
 * whenever a model's program is identical (by signature, not by name) to a
 * compiled one, so a user expression equal to a built-in gets it too.
 *
 * The generated code is the program in stages (expr/expr_stages.h); its
 * final loop also adds, for the linear loss on a full block, JᵀJ, Jᵀr and
 * Σr² into the same eight-lane accumulators, in the same order, as the
 * evaluator path's reductions.  Values equal the evaluator's up to the
 * compiler contracting a multiply-add differently.  Internal. */
#ifndef FITCL_KERNELS_AOT_H
#define FITCL_KERNELS_AOT_H

#include <stddef.h>
#include <stdint.h>

#include "expr/expr.h"

/* Evaluates n <= FITCL__VM_BLOCK points.  With v != NULL (linear loss, n =
 * FITCL__VM_BLOCK): writes the block's sums to v (the layout of
 * fitcl_accum's partial sums; sigma may be NULL); otherwise writes the
 * outputs (f, then each ∂f/∂p_k of a Jacobian program) to out[0..].  h is
 * scratch of `nheavy` blocks.  Returns nonzero when an exp or log argument
 * was outside the fast forms' range, or a pow base was not positive and
 * finite: the caller then evaluates the block with the evaluator (v and
 * out are then undefined). */
typedef int (*fitcl__aot_fn)(const double *params, const double *const *x, size_t n,
                             const double *y, const double *sigma, double *const *out,
                             double *v, double *h);

typedef struct fitcl__aot_kernel {
  const char *name;     /* built-in model name, and "/fj" or "/f" */
  const int64_t *sig;   /* the program's signature (fitcl__expr_prog_signature) */
  size_t nsig;
  int nheavy;           /* scratch blocks h needs */
  int accumulates;      /* 1: supports v (Jacobian programs of <= 5 parameters, cost programs) */
  fitcl__aot_fn fn;
} fitcl__aot_kernel;

/* The generated table (an empty one inside the generator itself). */
extern const fitcl__aot_kernel fitcl__aot_kernels[];
extern const size_t fitcl__aot_nkernels;

/* Writes the program's signature (every field that affects its values) to
 * buf when cap allows; returns its length either way. */
size_t fitcl__expr_prog_signature(const fitcl__expr_prog *p, int64_t *buf, size_t cap);
/* The compiled kernel of program p, or NULL. */
const fitcl__aot_kernel *fitcl__aot_find(const fitcl__expr_prog *p);
/* Test hook: nonzero makes fitcl__aot_find return NULL (evaluator only). */
extern int fitcl__aot_disable;

#endif
