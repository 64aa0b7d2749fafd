/* Checkpoints of the Levenberg-Marquardt state: a small text file with
 * every number written as a C99 hex float, so a resumed run continues from
 * bit-identical state.  Written by a background thread to a temporary file
 * in the same directory, fsync'ed, then renamed over the target, so a reader
 * (or a crash) never sees half a checkpoint. */
#ifndef FITCL_NLSQ_CHECKPOINT_H
#define FITCL_NLSQ_CHECKPOINT_H

#include "nlsq/lm.h"

/* The data a fit read: its point count and a fingerprint of every value
 * in row order (fitcl__ckpt_fingerprint), known after the first pass.  A
 * checkpoint carries it so that a resume on other data (another file, the
 * same file rewritten) is refused instead of continuing a different fit. */
typedef struct fitcl__ckpt_data {
  int known;
  uint64_t points;
  uint64_t fingerprint;
} fitcl__ckpt_data;

/* What a checkpoint must agree with to be resumed: the model, the
 * parameter names, the loss, the bounds and the held parameters (compared
 * line by line when read), and the data (compared after the resumed fit's
 * first pass).  Format version 2 added the held parameters and the solver
 * mode (qr); version 1 files still load (nothing held, normal equations).
 * Version 3 changed the data fingerprint (see the hasher below): a file of
 * version 1 or 2 that has a data line is refused, one without (written
 * before the first pass ended) still loads.  The data line is optional
 * (absent when written before the first pass ended). */
typedef struct fitcl__ckpt_key {
  const char *model_text;           /* may be NULL */
  const char *const *names;
  int nparams;
  int loss;
  double f_scale;
  const double *lower, *upper;      /* may be NULL */
  const int *fixed;                 /* held parameters; may be NULL */
  fitcl__ckpt_data data;
} fitcl__ckpt_key;

/* The fingerprint: a hash of each value's bits mixed with its row and
 * column, added modulo 2^64 over all the values, folded at the end.  A sum
 * does not depend on the order the values are added in, so neither on the
 * chunking nor on which rank of a shared fit read which rows: each rank
 * sums its own rows and the ranks add their sums (fitcl__stats_share).  The
 * row in the mix tells a reordering of the rows apart.  Not cryptographic:
 * it tells data apart, it does not resist someone crafting a collision.
 * (Format 3 of the file; formats 1 and 2 held a running hash in row order,
 * which only a reader of every row could form.) */
typedef struct fitcl__ckpt_hasher {
  uint64_t sum;
  int ncols;
} fitcl__ckpt_hasher;
void fitcl__ckpt_hash_begin(fitcl__ckpt_hasher *hs, int ncols);
/* Adds column `col` of rows row0 .. row0 + n - 1. */
void fitcl__ckpt_hash_column(fitcl__ckpt_hasher *hs, int col, uint64_t row0, const double *v,
                             size_t n);
uint64_t fitcl__ckpt_hash_end(const fitcl__ckpt_hasher *hs);

/* Starts the writer thread.  The path's directory must be writable. */
fitcl_status fitcl__ckpt_writer_create(fitcl_context *ctx, const char *path,
                                       const fitcl__ckpt_key *key, fitcl__ckpt_writer **out);
/* Hands a state to the writer thread and returns at once; a state still
 * waiting is replaced by the newer one. */
void fitcl__ckpt_post(fitcl__ckpt_writer *w, const fitcl__lm_state *st);
/* Writes `st` now (after any pending write) and waits for it.  Returns the
 * first write error of the writer's life, with the detail on ctx. */
fitcl_status fitcl__ckpt_flush(fitcl__ckpt_writer *w, const fitcl__lm_state *st);
/* Records the data fingerprint once the first pass has computed it: every
 * later checkpoint carries it. */
void fitcl__ckpt_set_data(fitcl__ckpt_writer *w, const fitcl__ckpt_data *data);
/* Stops the thread.  Accepts NULL. */
void fitcl__ckpt_writer_destroy(fitcl__ckpt_writer *w);

/* Serialises a state (malloc'ed text; NULL when out of memory). */
char *fitcl__ckpt_format(const fitcl__ckpt_key *key, const fitcl__lm_state *st);
/* Reads a checkpoint and checks it against key (not key->data: the data
 * are only known after a pass); *data receives the checkpoint's data
 * fingerprint (known = 0 when it was written before the first pass ended). */
fitcl_status fitcl__ckpt_load(fitcl_context *ctx, const char *path, const fitcl__ckpt_key *key,
                              fitcl__lm_state *out, fitcl__ckpt_data *data);

#endif
