/* Checkpoints of the Levenberg-Marquardt state: a small text file with
 * every number written as a C99 hex float, so a resumed run continues from
 * bit-identical state.  Written by a background thread to a temporary file
 * in the same directory, fsync'ed, then renamed over the target, so a reader
 * (or a crash) never sees half a checkpoint. */
#ifndef FITCL_NLSQ_CHECKPOINT_H
#define FITCL_NLSQ_CHECKPOINT_H

#include "nlsq/lm.h"

/* What a checkpoint must agree with to be resumed: the model, the
 * parameter names, the loss, the bounds and the held parameters.  Format
 * version 2 added the held parameters and the solver mode (qr); version 1
 * files still load (nothing held, normal equations). */
typedef struct fitcl__ckpt_key {
  const char *model_text;           /* may be NULL */
  const char *const *names;
  int nparams;
  int loss;
  double f_scale;
  const double *lower, *upper;      /* may be NULL */
  const int *fixed;                 /* held parameters; may be NULL */
} fitcl__ckpt_key;

/* Starts the writer thread.  The path's directory must be writable. */
fitcl_status fitcl__ckpt_writer_create(fitcl_context *ctx, const char *path,
                                       const fitcl__ckpt_key *key, fitcl__ckpt_writer **out);
/* Hands a state to the writer thread and returns at once; a state still
 * waiting is replaced by the newer one. */
void fitcl__ckpt_post(fitcl__ckpt_writer *w, const fitcl__lm_state *st);
/* Writes `st` now (after any pending write) and waits for it.  Returns the
 * first write error of the writer's life, with the detail on ctx. */
fitcl_status fitcl__ckpt_flush(fitcl__ckpt_writer *w, const fitcl__lm_state *st);
/* Stops the thread.  Accepts NULL. */
void fitcl__ckpt_writer_destroy(fitcl__ckpt_writer *w);

/* Serialises a state (malloc'ed text; NULL when out of memory). */
char *fitcl__ckpt_format(const fitcl__ckpt_key *key, const fitcl__lm_state *st);
/* Reads a checkpoint and checks it against key. */
fitcl_status fitcl__ckpt_load(fitcl_context *ctx, const char *path, const fitcl__ckpt_key *key,
                              fitcl__lm_state *out);

#endif
