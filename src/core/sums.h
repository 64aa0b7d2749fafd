/* Fixed-order, compensated summation on the host.  Device kernels reduce to
 * per-block partial sums with a fixed block size; the host combines those
 * partials here, in index order, so results are bitwise reproducible and
 * independent of thread count and timing. */
#ifndef FITCL_CORE_SUMS_H
#define FITCL_CORE_SUMS_H

#include <stddef.h>

/* Neumaier-compensated sum of x[0..n) in index order. */
double fitcl__sum(const double *x, size_t n);
/* Same with a stride (x[0], x[stride], ...). */
double fitcl__sum_strided(const double *x, size_t n, size_t stride);

/* Running compensated accumulator. */
typedef struct fitcl__ksum { double s, c; } fitcl__ksum;
static inline void fitcl__ksum_add(fitcl__ksum *k, double v) {
  double t = k->s + v;
  if ((k->s >= 0 ? k->s : -k->s) >= (v >= 0 ? v : -v)) k->c += (k->s - t) + v;
  else k->c += (v - t) + k->s;
  k->s = t;
}
static inline double fitcl__ksum_value(const fitcl__ksum *k) { return k->s + k->c; }

#endif
