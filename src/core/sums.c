#include "core/sums.h"

double fitcl__sum_strided(const double *x, size_t n, size_t stride) {
  fitcl__ksum k = {0.0, 0.0};
  for (size_t i = 0; i < n; ++i) fitcl__ksum_add(&k, x[i * stride]);
  return fitcl__ksum_value(&k);
}

double fitcl__sum(const double *x, size_t n) { return fitcl__sum_strided(x, n, 1); }
