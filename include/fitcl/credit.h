/* fitcl public API: cosine-similarity credit assignment.  Included by
 * fitcl.h; do not include directly.
 *
 * For N nodes with D-dimensional signals built by table look-up,
 *   s[n,d] = cos_table[phase[n,d]] * mag_table[mag[n,d]],
 * a target vector per class T[c] and a label per node, one call gives the
 * cosines c[n] = cos(s[n], T[label[n]]), the loss L = Σ w[n] (1 − c[n]) and
 * its gradient: with respect to the signals (optional, N × D) and scattered
 * back into the two tables.  The signals are never stored unless their
 * gradient is asked for.  docs/credit.md gives the formulas.
 *
 * Determinism: the table gradients are sums over many nodes into few
 * entries.  They are formed per fixed block of nodes into a private table
 * and the blocks are added in block order (no atomic additions), so every
 * output is the same bits on every backend, thread count and device; the
 * block size depends only on D and the table sizes.
 *
 * A node whose signal or target has zero norm has cosine 0 and contributes
 * w[n] to the loss and nothing to any gradient (never NaN).
 *
 * Arrays are plain C arrays, row-major (NumPy's C order); every
 * floating-point array of one call has the type `dtype`.
 */
#ifndef FITCL_CREDIT_H
#define FITCL_CREDIT_H
#include "../fitcl.h"
#ifdef __cplusplus
extern "C" {
#endif

/** Element type of floating-point arrays. */
typedef enum fitcl_dtype {
  FITCL_FLOAT64 = 0, /* double */
  FITCL_FLOAT32 = 1  /* float: the element math runs in float, the row
                        scalars (norms, cosine) and the table gradients'
                        sums in double, rounded to float once */
} fitcl_dtype;

/** The inputs of fitcl_credit_cosine. */
typedef struct fitcl_credit_inputs {
  fitcl_dtype dtype;        /* type of cos_table, mag_table, targets, weights and
                               of every floating-point output */
  size_t n;                 /* nodes (>= 1) */
  size_t d;                 /* signal dimension (>= 1) */
  const int32_t *phase;     /* n*d indices into cos_table, 0 <= phase < ncos */
  const int32_t *mag;       /* n*d indices into mag_table, 0 <= mag < nmag */
  const void *cos_table;    /* ncos finite values */
  size_t ncos;              /* >= 1 */
  const void *mag_table;    /* nmag finite values */
  size_t nmag;              /* >= 1 */
  const void *targets;      /* nclass*d finite values: the target vector of each class */
  size_t nclass;            /* >= 1 */
  const int32_t *labels;    /* n class indices, 0 <= label < nclass */
  const void *weights;      /* n finite weights, or NULL for all 1 */
} fitcl_credit_inputs;

/** The outputs of fitcl_credit_cosine: arrays the caller allocates, each
 *  NULL when not wanted (what is not wanted is not computed). */
typedef struct fitcl_credit_outputs {
  void *cosine;             /* n: c[n] */
  void *grad_signal;        /* n*d: ∂L/∂s[n,d] */
  void *grad_cos_table;     /* ncos: ∂L/∂cos_table */
  void *grad_mag_table;     /* nmag: ∂L/∂mag_table */
  double loss;              /* written by every successful call: Σ w[n] (1 − c[n]) */
} fitcl_credit_outputs;

/**
 * Cosines, loss and gradients of one batch (see the top of this header).
 * @param ctx  context (backend, errors).
 * @param in   the inputs; every pointer but `weights` is required.
 * @param out  the outputs; `loss` is always written.
 * @return FITCL_OK; FITCL_ERR_NULL; FITCL_ERR_ARG (unknown dtype);
 *         FITCL_ERR_SIZE (a zero size, or a size past 2^31 − 1 entries
 *         for a table or D); FITCL_ERR_RANGE for an index outside its table
 *         or a label outside the classes (the message names the first:
 *         node and component); FITCL_ERR_DATA for a NaN or infinite table
 *         entry, target or weight (named).
 */
FITCL_API fitcl_status fitcl_credit_cosine(fitcl_context *ctx, const fitcl_credit_inputs *in,
                                           fitcl_credit_outputs *out);

#ifdef __cplusplus
}
#endif
#endif
