/* Matching models to the kernels compiled ahead of time (see aot.h). */
#include "kernels/aot.h"

#include <stdlib.h>
#include <string.h>

int fitcl__aot_disable = 0;

size_t fitcl__expr_prog_signature(const fitcl__expr_prog *p, int64_t *buf, size_t cap) {
  size_t n = 0;
#define PUT(v_)                       \
  do {                                \
    if (n < cap) buf[n] = (int64_t)(v_); \
    ++n;                              \
  } while (0)
  PUT(p->nparams);
  PUT(p->nvars);
  PUT(p->nconst);
  PUT(p->nregs);
  PUT(p->ninstr);
  PUT(p->noutputs);
  for (int c = 0; c < p->nconst; ++c) {
    int64_t bits;
    memcpy(&bits, &p->consts[c], sizeof bits);
    PUT(bits);
  }
  for (int i = 0; i < p->ninstr; ++i) {
    const fitcl__expr_instr *in = &p->instr[i];
    PUT(in->op);
    PUT(in->flags);
    PUT(in->dst);
    PUT(in->a);
    PUT(in->b);
    if (in->op == FITCL__OP_FUSED) {
      PUT(in->c);
      PUT(in->tk);
      PUT(in->nv);
      PUT(in->ns);
      PUT(in->neg);
      PUT(in->sinv);
      for (int k = 0; k < in->nv; ++k) PUT(in->v[k]);
      for (int k = 0; k < in->ns; ++k) PUT(in->s[k]);
    }
  }
  for (int k = 0; k < p->noutputs; ++k) PUT(p->outputs[k]);
#undef PUT
  return n;
}

const fitcl__aot_kernel *fitcl__aot_find(const fitcl__expr_prog *p) {
  if (fitcl__aot_disable || fitcl__aot_nkernels == 0) return NULL;
  size_t n = fitcl__expr_prog_signature(p, NULL, 0);
  int64_t *sig = malloc(n * sizeof *sig);
  if (!sig) return NULL; /* the evaluator still works */
  fitcl__expr_prog_signature(p, sig, n);
  const fitcl__aot_kernel *found = NULL;
  for (size_t k = 0; k < fitcl__aot_nkernels && !found; ++k)
    if (fitcl__aot_kernels[k].nsig == n && !memcmp(fitcl__aot_kernels[k].sig, sig, n * sizeof *sig))
      found = &fitcl__aot_kernels[k];
  free(sig);
  return found;
}
