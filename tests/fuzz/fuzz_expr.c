/* libFuzzer harness for the model-expression compiler: parse, differentiate,
 * linearise and evaluate arbitrary bytes as an expression over parameters
 * a, b, c and variables x, t.  Any input must give either a model or an
 * error with a column inside the text; never a crash, hang or leak.
 *
 *   CC=clang cmake -S . -B build-fuzz -DFITCL_FUZZ=ON
 *   ./build-fuzz/tests/fuzz/fuzz_expr tests/fuzz/corpus/expr */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0; /* long inputs only slow the search down */
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  static const char *const params[] = {"a", "b", "c"};
  static const char *const vars[] = {"x", "t"};
  fitcl_model *m = NULL;
  if (fitcl_model_compile(NULL, text, params, 3, vars, 2, &m) == FITCL_OK) {
    static const double p[3] = {0.5, -1.25, 3.0};
    static const double x[5] = {-2.0, 0.0, 1e-300, 0.75, 1e300};
    static const double t[5] = {1.0, -0.0, 2.0, 1e-5, -7.0};
    const double *cols[2] = {x, t};
    double f[5], jac[15];
    (void)fitcl_model_eval(m, p, cols, 5, f, jac);
    char *cl = fitcl_model_opencl_source(m);
    free(cl);
    fitcl_model_destroy(m);
  }
  free(text);
  return 0;
}
