/* Benchmark (a): 198,000 closed-form 2-state transition matrices through
 * fitcl_gl_pmatrices on the pthreads backend and on OpenCL (host arrays in
 * and out, transfers included), against a peer measured in the same run: a
 * plain scalar loop computing each matrix as Pi + exp(-(g+l)t)(I - Pi),
 * which is what a per-matrix call from a scripting language reduces to at
 * best (the seed's scipy.linalg.expm calls took 3.96 s for the same count). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "fitcl.h"

#define NMAT 198000

static void peer(size_t n, const double *a, const double *b, const double *t, double *p) {
  for (size_t i = 0; i < n; ++i) {
    const double s = a[i] + b[i], p1 = a[i] / s, p0 = 1 - p1, e = exp(-s * t[i]);
    p[4 * i + 0] = p0 + p1 * e;
    p[4 * i + 1] = p1 - p1 * e;
    p[4 * i + 2] = p0 - p0 * e;
    p[4 * i + 3] = p1 + p0 * e;
  }
}

static void run(const char *variant, fitcl_context *ctx, size_t n, const double *a, const double *b,
                const double *t, double *p, double *d, int reps, double *min_out) {
  double *ts = malloc(sizeof(double) * reps);
  for (int w = 0; w < 3; ++w) fitcl_gl_pmatrices(ctx, n, a, b, t, p, d);
  for (int r = 0; r < reps; ++r) {
    double t0 = bench_now();
    fitcl_status st = ctx ? fitcl_gl_pmatrices(ctx, n, a, b, t, p, d) : FITCL_OK;
    if (!ctx) peer(n, a, b, t, p);
    ts[r] = bench_now() - t0;
    if (st != FITCL_OK) {
      fprintf(stderr, "%s: %s\n", variant, fitcl_errmsg(ctx));
      exit(1);
    }
  }
  double mn, med;
  bench_stats(ts, reps, &mn, &med);
  printf("%-28s min %9.3f ms  median %9.3f ms  (%.1f ns/matrix)\n", variant, mn * 1e3, med * 1e3,
         mn * 1e9 / n);
  bench_row("pmatrix", variant, "min_ms", mn * 1e3, "ms");
  bench_row("pmatrix", variant, "median_ms", med * 1e3, "ms");
  *min_out = mn;
  free(ts);
}

int main(void) {
  bench_print_machine();
  size_t n = NMAT;
  double *a = malloc(sizeof(double) * n), *b = malloc(sizeof(double) * n), *t = malloc(sizeof(double) * n);
  double *p = malloc(sizeof(double) * 4 * n), *d = malloc(sizeof(double) * 6 * n);
  /* 198,000 = 50 taxa x ~99 branches x 4 categories x 500 families in the
   * seed profile; rates and lengths spread over the usual ranges. */
  for (size_t i = 0; i < n; ++i) {
    a[i] = 0.05 + 2.0 * (double)((i * 7919) % 1000) / 1000.0;
    b[i] = 0.05 + 3.0 * (double)((i * 104729) % 1000) / 1000.0;
    t[i] = 1e-4 + 0.5 * (double)((i * 15485863) % 1000) / 1000.0;
  }
  printf("# %zu 2-state transition matrices (P only)\n", n);
  double peer_min, cpu_min, ocl_min = 0;
  run("peer-scalar-loop-1thread", NULL, n, a, b, t, p, NULL, 30, &peer_min);
  fitcl_context_options o = {0};
  o.device = "cpu";
  fitcl_context *cpu = NULL;
  if (fitcl_context_create(&o, &cpu) != FITCL_OK) return 1;
  run("fitcl-cpu", cpu, n, a, b, t, p, NULL, 30, &cpu_min);
  run("fitcl-cpu+derivatives", cpu, n, a, b, t, p, d, 30, &(double){0});
  fitcl_context_destroy(cpu);
  o.device = "opencl";
  fitcl_context *ocl = NULL;
  if (fitcl_context_create(&o, &ocl) == FITCL_OK) {
    fitcl_context_info info;
    fitcl_context_get_info(ocl, &info);
    printf("# opencl device: %s (%s)\n", info.device, info.platform);
    run("fitcl-opencl", ocl, n, a, b, t, p, NULL, 30, &ocl_min);
    run("fitcl-opencl+derivatives", ocl, n, a, b, t, p, d, 30, &(double){0});
  } else {
    printf("# opencl: not available (%s)\n", fitcl_errmsg(ocl));
  }
  fitcl_context_destroy(ocl);
  printf("# speedup over the peer: cpu %.1fx%s", peer_min / cpu_min, ocl_min > 0 ? "" : "\n");
  if (ocl_min > 0) printf(", opencl %.1fx\n", peer_min / ocl_min);
  bench_row("pmatrix", "fitcl-cpu", "speedup_vs_peer", peer_min / cpu_min, "x");
  free(a); free(b); free(t); free(p); free(d);
  return 0;
}
