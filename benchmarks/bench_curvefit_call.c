/* The cost of one small curve fit through the C API, the floor for the
 * Python binding's per-call overhead (benchmarks/python/bench_python.py runs
 * this in the same run and subtracts): a + exp decay on N points (default
 * 100), the model compiled once, fitcl_curve_fit_arrays called REPS times.
 * The data are the ones the Python benchmark makes: x_i = 5 i / (N - 1),
 * y_i = 2 exp(-1.3 x_i) + 0.5 + 0.01 sin(37 i).
 *
 * usage: bench_curvefit_call [N] [REPS]     (FITCL_DEVICE chooses the device) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "fitcl.h"

int main(int argc, char **argv) {
  size_t n = argc > 1 ? (size_t)atol(argv[1]) : 100;
  int reps = argc > 2 ? atoi(argv[2]) : 20000;
  if (n < 4 || reps < 1) {
    fprintf(stderr, "usage: bench_curvefit_call [N>=4] [REPS>=1]\n");
    return 2;
  }
  double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
  if (!x || !y) return 1;
  for (size_t i = 0; i < n; ++i) {
    x[i] = 5.0 * (double)i / (double)(n - 1);
    y[i] = 2.0 * exp(-1.3 * x[i]) + 0.5 + 0.01 * sin(37.0 * (double)i);
  }
  fitcl_context *ctx = NULL;
  fitcl_model *m = NULL;
  fitcl_status st = fitcl_context_create(NULL, &ctx);
  const char *params[] = {"a", "b", "c"}, *vars[] = {"x"};
  if (st == FITCL_OK) st = fitcl_model_compile(ctx, "a*exp(-b*x)+c", params, 3, vars, 1, &m);
  if (st != FITCL_OK) {
    fprintf(stderr, "bench_curvefit_call: %s\n", fitcl_errmsg(ctx));
    return 1;
  }
  const double p0[3] = {1, 1, 0};
  const double *cols[1] = {x};
  fitcl_curvefit_result r;
  double t[7];
  int iterations = 0;
  for (int k = 0; k < 7; ++k) { /* the median of 7 rounds of reps calls */
    double t0 = bench_now();
    for (int i = 0; i < reps; ++i) {
      st = fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, n, p0, NULL, &r);
      if (st != FITCL_OK) {
        fprintf(stderr, "bench_curvefit_call: %s\n", fitcl_errmsg(ctx));
        return 1;
      }
    }
    t[k] = (bench_now() - t0) / reps;
    iterations = r.iterations;
  }
  double tmin, tmed;
  bench_stats(t, 7, &tmin, &tmed);
  fitcl_context_info info;
  fitcl_context_get_info(ctx, &info);
  printf("# %zu points, %d iterations per fit, %s; popt %.17g %.17g %.17g\n", n, iterations,
         info.backend, r.params[0], r.params[1], r.params[2]);
  printf("c_api_call_us min %.3f median %.3f\n", tmin * 1e6, tmed * 1e6);
  bench_row("curvefit_call", info.backend, "c_api_us", tmed * 1e6, "us");
  fitcl_model_destroy(m);
  fitcl_context_destroy(ctx);
  free(x);
  free(y);
  return 0;
}
