/* Batched small fits (fitcl_fit_batch): the driver and its backend split.
 * Internal.
 *
 * The driver (batch.c) checks the arguments and data, resolves the
 * options, cuts the fits into slices (the unit of progress, interruption
 * and device memory) and keeps the per-fit bookkeeping: statuses, trial
 * steps, the summary.  A backend's ops table (src/backends/cpu/batch_cpu.c,
 * src/backends/opencl/batch_ocl.c) runs a slice of fits to their ends: it
 * keeps one record per fit (the layout of cl/common/batch_lm.h), evaluates
 * every running fit at its trial point, applies fitcl_batch_step, drops the
 * fits that ended from the active set (fitcl__batch_compact on the host, an
 * atomic append on a device), and writes each finished fit's results with
 * fitcl_batch_finish. */
#ifndef FITCL_KERNELS_BATCH_H
#define FITCL_KERNELS_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "common/batch_lm.h"
#include "expr/expr.h"
#include "fitcl.h"
#include "kernels/model.h"

typedef struct fitcl__batch fitcl__batch;

typedef struct fitcl__batch_ops {
  const char *name;
  /* 1 when this backend runs model m; otherwise the context's host backend
   * is asked. */
  int (*runs)(const fitcl_model *m);
  /* Allocates b->impl (programs, buffers sized for b->slice fits). */
  fitcl_status (*create)(fitcl__batch *b);
  /* Runs fits [first, first + count) to their ends and writes their
   * results (fitcl__batch_store_raw) and b->status / b->iters. */
  fitcl_status (*run)(fitcl__batch *b, size_t first, size_t count);
  void (*destroy)(fitcl__batch *b);
} fitcl__batch_ops;

struct fitcl__batch {
  fitcl_context *ctx;
  const fitcl_model *m;
  int np, nv;
  int rec;                    /* doubles per fit record: FITCL_BST_SIZE(np) */
  size_t nfits, npoints;
  fitcl_batch_data d;         /* the caller's arrays */
  int wkind;                  /* FITCL_BATCH_W_*: which of sigma/weights is w */
  fitcl_batch_array w;
  double cfg[FITCL_BCFG_SIZE];
  double lambda0;
  const double *lower, *upper;
  size_t bounds_fs;
  const int *fixed;
  size_t fixed_fs;
  int layout;                 /* options.layout as asked (0 auto) */
  size_t slice;               /* fits per slice */
  const volatile int *interrupt;
  fitcl_batch_outputs out;
  int *status;                /* per fit (all N), kept by the driver */
  int *iters;
  uint64_t launches;          /* backends add their launches / block passes */
  int layout_used;            /* backends report the layout they ran */
  const fitcl__batch_ops *ops;
  void *impl;
};

/* Element (fit, point) of a batch array. */
static inline double fitcl__batch_at(const fitcl_batch_array *a, size_t fit, size_t pt) {
  return a->data[fit * a->fit_stride + pt * a->point_stride];
}

/* The record of fit `fit` at its start (p0, damping, counters). */
void fitcl__batch_init(const fitcl__batch *b, size_t fit, double *rec);
/* The fit's bounds (±INFINITY when open) and fixed flags, np each. */
void fitcl__batch_limits(const fitcl__batch *b, size_t fit, double *lo, double *hi, int *fixed);
/* Stores a fit's results (fitcl_batch_finish's: params/se/chi2 of np/np/1
 * values and, when cov is not NULL, np*np covariances) in the caller's
 * outputs and the driver's bookkeeping.  Thread safe for distinct fits. */
void fitcl__batch_store_raw(fitcl__batch *b, size_t fit, const double *params, const double *se,
                            const double *cov, double chi2, int status, int iters);
/* Keeps, in order, the entries i of active[0..n) whose status[i] is still
 * running (0); returns how many. */
size_t fitcl__batch_compact(uint32_t *active, size_t n, const int *status);

/* The model's value-and-Jacobian program with parameters as per-point
 * columns (expr.h, params_vary), for evaluating the points of several
 * fits in one block.  Expression models only. */
fitcl_status fitcl__batch_varying_program(fitcl_context *ctx, const fitcl_model *m,
                                          fitcl__expr_prog *out);

#endif
