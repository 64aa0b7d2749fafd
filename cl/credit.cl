/* Cosine-similarity credit assignment (cl/common/credit.h): one work-item
 * per block of nodes, each with its own slice of the partial tables, so no
 * two work-items add into the same entry and nothing depends on the
 * work-group size; the host adds the slices in block order
 * (src/kernels/credit.c).  Contraction into fused multiply-adds is off, as
 * on the pthreads backend: the two give the same bits. */
#pragma OPENCL FP_CONTRACT OFF
#include "common/credit.h"

#define FITCL_CREDIT_KERNEL(T, SFX)                                                           \
  __kernel void fitcl_credit_blocks_##SFX(                                                    \
      __global const int *phase, __global const int *mag, __global const T *cos_table,       \
      __global const T *mag_table, const int ncos, const int nmag, __global const T *targets, \
      __global const int *labels, __global const T *weights, const int has_weights,         \
      __global const double *tnorm2, const long D, const long n, const int rows,            \
      const int want_cos, __global T *cosine, const int want_gs, __global T *grad_signal,   \
      const int want_tables, __global double *table_partial, __global double *loss_partial, \
      __global int *bad) {                                                                  \
    const long b = get_global_id(0);                                                        \
    const long row0 = b * rows;                                                             \
    if (row0 >= n) return;                                                                  \
    const int nr = (int)min((long)rows, n - row0);                                          \
    bad[b] = fitcl_credit_block_##SFX(                                                      \
        phase, mag, cos_table, mag_table, ncos, nmag, targets, labels, weights, has_weights,\
        tnorm2, D, row0, nr, want_cos, cosine, want_gs, grad_signal, want_tables,           \
        table_partial + (want_tables ? b * (long)(ncos + nmag) : 0), loss_partial + 2 * b); \
  }

FITCL_CREDIT_KERNEL(double, f64)
FITCL_CREDIT_KERNEL(float, f32)
