/* The OpenCL backend's state of a likelihood handle, shared by the double
 * kernels' driver (lik_ocl.c) and the float kernels' (lik_ocl_float.c, the
 * mixed and single precision modes); what they share in code is in
 * lik_ocl_common.c.  Internal. */
#ifndef FITCL_BACKENDS_OPENCL_LIK_OCL_STATE_H
#define FITCL_BACKENDS_OPENCL_LIK_OCL_STATE_H

#include "device/opencl/ocl.h"
#include "kernels/lik.h"

struct fitcl__lik_ocl {
  cl_kernel k_pm, k_prune, k_rows;
  cl_mem sched, sched_child, tips, bgroup, kind, weight;
  cl_mem par, pm; /* par: brlen, set_a, set_b, pi1 (one upload) */
  double *hpar;
  cl_mem in, out, sb, patll, wv, rows;
  size_t cn; /* patterns per chunk */
  cl_int tile; /* patterns per tile of the partials (cl/lik.cl) */
  cl_int nrc;  /* block-row components k_rows forms this evaluation */
  /* The float kernels (cl/lik_float.cl), when the device computes in
   * mixed or single precision: `in`, `out`, `sb` and `wv` then hold floats;
   * pm and pi1 are computed on the host and uploaded as floats; the pruning
   * writes llf (its float root sum, K times the rescaled likelihood) and
   * nsc (scale counts); the gradient's block rows are doubles in `rows`
   * (mixed, with fp64) or (hi, lo) float pairs in `rows2`. */
  int floats;
  fitcl_precision prec;
  int pairs;      /* gradient rows as float pairs (no fp64, or single) */
  cl_mem pmf, pif, llf, nsc, rows2;
  float *hpm, *hpi, *hllf, *hrows2;
  int *hnsc;
};

/* This backend's state of a handle. */
static inline struct fitcl__lik_ocl *fitcl__lik_ocl_of(const fitcl_lik *L) { return L->impl; }

/* What both precisions share (lik_ocl_common.c): the constant data they
 * upload once (the schedule, tip states, block groups, pattern kinds), the
 * chunk and tile sizes for partials of `real` bytes per number, and the
 * release of a handle's state. */
fitcl_status fitcl__lik_ocl_upload_common(fitcl_lik *L);
void fitcl__lik_ocl_layout(fitcl_lik *L, size_t real);
void fitcl__lik_ocl_destroy(fitcl_lik *L);
/* What differs between the precisions' pruning launches: the transition
 * matrices, the buffer holding the root probabilities (at pi_off), where
 * each pattern's result goes (root, and nsc in float: may be NULL), and
 * compensated float sums (comp).  See cl/common/prune_kernel.h. */
typedef struct fitcl__lik_ocl_prune_bufs {
  cl_mem pm, par, root, nsc;
  cl_int pi_off, comp;
} fitcl__lik_ocl_prune_bufs;
/* Sets k_prune's arguments but the pattern range. */
fitcl_status fitcl__lik_ocl_prune_args(fitcl_lik *L, int want_grad,
                                       const fitcl__lik_ocl_prune_bufs *pb);
/* Launches k_prune (its arguments set) over patterns [p0, p1) (whole
 * blocks) chunk by chunk, and, with the gradient, k_rows after each chunk
 * over nrc block-row components (its arguments 0, 2, 4 and 5 set). */
fitcl_status fitcl__lik_ocl_run_chunks(fitcl_lik *L, size_t p0, size_t p1, int want_grad,
                                       cl_int nrc);

/* The float kernels' driver (lik_ocl_float.c). */
fitcl_status fitcl__lik_ocl_create_float(fitcl_lik *L);
fitcl_status fitcl__lik_ocl_eval_float(fitcl_lik *L, int want_grad);

#endif
