/* Gain/loss likelihood on the OpenCL backend (placeholder until the kernels land). */
#include "core/context.h"
#include "phylo/lik.h"

fitcl_status fitcl__lik_ocl_create(fitcl_lik *L) {
  return fitcl__fail(L->ctx, FITCL_ERR_UNSUPPORTED, "likelihood: OpenCL path not built yet");
}
fitcl_status fitcl__lik_ocl_eval(fitcl_lik *L, int want_grad) {
  (void)want_grad;
  return fitcl__fail(L->ctx, FITCL_ERR_UNSUPPORTED, "likelihood: OpenCL path not built yet");
}
void fitcl__lik_ocl_destroy(fitcl_lik *L) { (void)L; }
