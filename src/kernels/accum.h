/* Jacobian accumulation driver and its backend split.  Internal.
 *
 * The driver (accum.c) owns the pass state: parameters, the running
 * compensated sums in chunk order, chunk splitting and the public API.  A
 * backend's ops table (src/backends/cpu/accum_cpu.c,
 * src/backends/opencl/accum_ocl.c)
 * turns one chunk into an ordered list of partial-sum vectors (one per
 * fixed group of points) and hands them to fitcl__accum_fold, which adds
 * them in order.  Sums are laid out as in cl/common/accum_point.h:
 * FITCL_ACCUM_NSUMS(np) values per vector. */
#ifndef FITCL_KERNELS_ACCUM_H
#define FITCL_KERNELS_ACCUM_H

#include "core/sums.h"
#include "core/xsum.h"
#include "fitcl.h"
#include "kernels/model.h"

typedef struct fitcl__accum_ops {
  const char *name;
  /* 1 when this backend runs model m on `path` (0 auto, 1 fused, 2
   * CLBlast); otherwise the context's host backend is asked. */
  int (*runs)(const fitcl_model *m, int path);
  /* Allocates a->impl; may pick a->path (auto) and fill cost-model info. */
  fitcl_status (*create)(fitcl_accum *a);
  /* Called at fitcl_accum_begin after a->params and a->want_jac are set. */
  fitcl_status (*begin)(fitcl_accum *a);
  /* One chunk of n <= a->max_chunk points (n > 0).  May return before the
   * work is done (pointers stay valid until the next chunk/end returns). */
  fitcl_status (*chunk)(fitcl_accum *a, const double *const *x, const double *y,
                        const double *sigma, size_t n);
  /* Completes every outstanding chunk, folding its partials. */
  fitcl_status (*finish)(fitcl_accum *a);
  void (*destroy)(fitcl_accum *a);
} fitcl__accum_ops;


struct fitcl_accum {
  fitcl_context *ctx;
  const fitcl_model *m;
  int np, nv, nsums;
  fitcl_loss loss;
  double f_scale;
  int path;                 /* 1 fused, 2 CLBlast */
  size_t max_chunk;
  double params[FITCL_NLSQ_MAX_PARAMS];
  int want_jac;
  int qr;                   /* this pass forms the QR factor (cl/common/accum_qr.h) */
  int active;               /* inside begin..end */
  fitcl_status sticky;      /* first failure inside a pass */
  fitcl__xsum *acc;         /* nsums exact running sums of the group partials (any order) */
  double *qrT;              /* QR pass: the running packed triangle of np + 1 columns */
  uint64_t points;           /* rows of this pass given to this accumulator so far */
  uint64_t row;              /* the next chunk's first row in the pass's data (with a
                              * split pass, other ranks' rows count too) */
  /* Every pass gives the same data at the same rows, chunked the same way
   * (fitcl__accum_repeat_data): a backend may keep them where it computes
   * and copy nothing on later passes. */
  int repeats;
  /* The pass's chunks are shared over the context's ranks (core/ranks.h):
   * this rank is given its own only, and the sums of every rank are added
   * at the end of the pass. */
  int split;
  uint64_t bytes_uploaded;   /* data bytes copied to a device, all passes */
  uint64_t bytes_staged;     /* of those, copied through pinned staging memory */
  const fitcl__accum_ops *ops;
  void *impl;
  fitcl_accum_info info;
  /* A context over several devices (kernels/accum_multi.c): a handle of
   * the same model on each other device (NULL: the pass runs here alone),
   * whether the current pass is shared over them, and each device's speed
   * in the last shared pass of each kind (groups per second). */
  struct fitcl_accum **peers;
  int multi;
  double multi_rate[2][16];
  /* In a shared QR pass: where fitcl__accum_fold puts this handle's group
   * vectors instead of merging them (the first handle merges every
   * device's in group order), and room for a piece's on the first. */
  double *collect;
  double *collect_buf;
};

/* How a context over several devices shares a handle's passes
 * (kernels/accum_multi.c, reached through ctx->accum_split).  open: after
 * the handle is made, makes its peers on the other devices (or none);
 * begin: after the handle's begin, starts the same pass on the peers when
 * it can be shared; chunk: one piece of at most max_chunk points, its
 * groups handed out over the devices; end: the peers' sums added into the
 * handle's (or, failed, the peers drained); close: before destroy. */
typedef struct fitcl__accum_split {
  fitcl_status (*open)(fitcl_accum *a);
  fitcl_status (*begin)(fitcl_accum *a, int mode);
  fitcl_status (*chunk)(fitcl_accum *a, const double *const *x, const double *y,
                        const double *sigma, size_t n);
  fitcl_status (*end)(fitcl_accum *a, int failed);
  void (*close)(fitcl_accum *a);
} fitcl__accum_split;

/* Promises that every later pass of `a` gives the same values at the same
 * rows in the same chunks (the solver's arrays and watched files; not a
 * chunk callback, which may compute its data anew). */
static inline void fitcl__accum_repeat_data(fitcl_accum *a) { a->repeats = 1; }

/* Shares the passes of `a` over the context's ranks, if it has more than
 * one; returns 1 when it does. */
int fitcl__accum_share(fitcl_accum *a);
/* Ends a pass that failed on this rank before its end: drains it and, in
 * a shared pass, tells the other ranks (their end returns FITCL_ERR_PEER). */
void fitcl__accum_abandon(fitcl_accum *a);
/* Completes the chunks given so far (a backend may still read them after
 * fitcl_accum_chunk returns): their arrays may then be reused at once. */
fitcl_status fitcl__accum_settle(fitcl_accum *a);
/* In a shared pass: the next chunk starts at row `row` of the data. */
static inline void fitcl__accum_at_row(fitcl_accum *a, uint64_t row) { a->row = row; }
/* Pass modes of fitcl__accum_begin_mode. */
enum { FITCL__ACCUM_COST = 0, FITCL__ACCUM_NORMAL = 1, FITCL__ACCUM_QR = 2 };

/* Values per partial vector in the current pass: nsums with the Jacobian,
 * FITCL_ACCUM_NQR(np) (triangle, Σrho, Σr²) in a QR pass, 2 (cost, rss) in
 * a cost-only pass. */
static inline int fitcl__accum_stride(const fitcl_accum *a) {
  return a->qr ? ((a->np + 1) * (a->np + 2) / 2 + 2) : a->want_jac ? a->nsums : 2;
}
/* Adds ngroups partial vectors (each fitcl__accum_stride(a) values,
 * contiguous) to the running sums, in order; in a QR pass each vector's
 * triangle is merged into the running one by Givens rotations. */
void fitcl__accum_fold(fitcl_accum *a, const double *partials, size_t ngroups);

/* Starts a pass in one of the modes above (fitcl_accum_begin is modes 0
 * and 1). */
fitcl_status fitcl__accum_begin_mode(fitcl_accum *a, const double *params, int mode);
/* Ends a QR pass: T receives the packed triangle of np + 1 columns
 * (FITCL_QR_TRI(np + 1) values), and the cost, rss and points. */
fitcl_status fitcl__accum_end_qr(fitcl_accum *a, double *T, double *cost, double *rss,
                                 uint64_t *points);

#endif
