/* Accumulate-pass throughput for the XPCS g2 model and the 4-parameter
 * double exponential at 1M, 10M and 100M points (100M streamed in 1M-point
 * chunks), on pthreads and OpenCL.  The peer measured in the same run is the
 * memory-read bandwidth over the same bytes (a plain multi-threaded sum),
 * which bounds any pass that has to read the data once; the table reports
 * the pass time as a percentage of that bound.  Also reported: cost-only vs
 * fused pass time, the compute floor (the model's exp and log calls alone,
 * on the same points and threads), and the number of program builds across
 * varying chunk lengths (must be 0).
 *
 *   bench_accum [--backend cpu|opencl|both] [--model NAME] [--max-points N] [--reps R]
 *               [--evaluator] [--small-pages]
 *
 * --model restricts the run to one of the two models (for profiling).
 * On OpenCL each model also runs with its data resident on the device
 * against streamed every pass (residency(), below).
 * --evaluator runs the pthreads path on the expression evaluator, as for a
 * model that is not a built-in (built-ins otherwise run as code compiled
 * into the library).  The columns come from fitcl_alloc_column (2 MiB pages
 * where the kernel allows); --small-pages uses plain malloc instead.
 */
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "fitcl.h"
#include "kernels/aot.h"        /* --evaluator */
#include "fitcl_config.h"
#include "kernels/accum.h"      /* residency: fitcl__accum_repeat_data, bytes_uploaded */
#if FITCL_WITH_OPENCL
#include "backends/opencl/opencl.h" /* fitcl__accum_ocl_zero_copy */
#endif
#include "expr/expr_vmath.h" /* the exp/log floor */

static int small_pages = 0;

/* One thread's share of a peer measurement: points [begin, end) of the
 * columns; sum keeps the work from being optimised away. */
typedef struct peer_arg {
  const double *const *cols;
  int ncols;
  int nlog, nexp; /* the floor's exp and log calls per point */
  size_t begin, end;
  double sum;
} peer_arg;

/* The read bound: every column once. */
static void *read_thread(void *p) {
  peer_arg *a = p;
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int c = 0; c < a->ncols; ++c) {
    const double *x = a->cols[c];
    size_t i = a->begin;
    for (; i + 4 <= a->end; i += 4) {
      s0 += x[i];
      s1 += x[i + 1];
      s2 += x[i + 2];
      s3 += x[i + 3];
    }
    for (; i < a->end; ++i) s0 += x[i];
  }
  a->sum = s0 + s1 + s2 + s3;
  return NULL;
}

/* The compute floor: only the model's exp and log calls (the fast block
 * forms every backend uses) on the first column. */
FITCL__VMATH_CLONES
static double floor_range(const double *x, size_t begin, size_t end, int nlog, int nexp) {
  double u[FITCL__VM_BLOCK], w[FITCL__VM_BLOCK], s = 0.0;
  for (size_t b = begin; b < end; b += FITCL__VM_BLOCK) {
    size_t n = end - b < FITCL__VM_BLOCK ? end - b : FITCL__VM_BLOCK;
    const double *cur = x + b;
    for (int k = 0; k < nlog; ++k) {
      fitcl__vlog(cur, u, n);
      cur = u;
    }
    for (int k = 0; k < nexp; ++k) {
      for (size_t i = 0; i < n; ++i) w[i] = -1e-3 * cur[i];
      fitcl__vexp(w, u, n);
      cur = u;
    }
    s += cur[0];
  }
  return s;
}

static void *floor_thread(void *p) {
  peer_arg *a = p;
  a->sum = floor_range(a->cols[0], a->begin, a->end, a->nlog, a->nexp);
  return NULL;
}

/* Seconds for nthreads threads to run fn over n points split evenly. */
static double peer_time(void *(*fn)(void *), peer_arg proto, size_t n, int nthreads) {
  pthread_t th[64];
  peer_arg args[64];
  double t0 = bench_now();
  for (int t = 0; t < nthreads; ++t) {
    args[t] = proto;
    args[t].begin = n * (size_t)t / (size_t)nthreads;
    args[t].end = n * (size_t)(t + 1) / (size_t)nthreads;
    pthread_create(&th[t], NULL, fn, &args[t]);
  }
  double sink = 0;
  for (int t = 0; t < nthreads; ++t) {
    pthread_join(th[t], NULL);
    sink += args[t].sum;
  }
  double dt = bench_now() - t0;
  if (sink == 1234.5) printf("#\n"); /* keep the sums alive */
  return dt;
}

typedef struct workload {
  const char *model;
  int nv;
  double params[5];
  int nlog, nexp; /* exp and log calls per point */
} workload;

static double *column(size_t n, int which) {
  double *c = small_pages ? malloc(n * sizeof *c) : fitcl_alloc_column(n);
  if (!c) {
    fprintf(stderr, "out of memory for %zu points\n", n);
    exit(1);
  }
  for (size_t i = 0; i < n; ++i) {
    double u = (double)(i % 100000) / 100000.0;
    c[i] = which == 0 ? 1e-3 + 10.0 * u : (which == 1 ? 0.01 + 0.001 * (double)(i % 7)
                                                        : 1.0 + 0.2 * exp(-u));
  }
  return c;
}

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One pass over `total` points: the data arrays hold `n` points and are
 * streamed repeatedly in `chunk`-point chunks. */
static double pass(fitcl_accum *a, const double *p, int jac, const double *const *x,
                   const double *y, int nv, size_t n, size_t total, size_t chunk,
                   fitcl_accum_sums *s) {
  double t0 = bench_now();
  if (fitcl_accum_begin(a, p, jac) != FITCL_OK) return NAN;
  for (size_t done = 0; done < total;) {
    for (size_t off = 0; off < n && done < total; off += chunk) {
      size_t len = n - off < chunk ? n - off : chunk;
      const double *xs[2];
      for (int j = 0; j < nv; ++j) xs[j] = x[j] + off;
      if (fitcl_accum_chunk(a, xs, y + off, NULL, len) != FITCL_OK) return NAN;
      done += len;
    }
  }
  if (fitcl_accum_end(a, s) != FITCL_OK) return NAN;
  return bench_now() - t0;
}

#if FITCL_WITH_OPENCL
/* Data resident on the device against streamed every pass, from the
 * caller's arrays or through pinned staging, on a device that copies
 * (reading host memory in place is turned off, so a CPU device measures
 * the copies a GPU would make; staging is forced, where on a CPU device
 * it would be off): the pass time, the data bytes uploaded per pass, and
 * the effective bandwidth (data bytes the kernels read / pass time). */
static void residency(fitcl_context *ctx, const char *model, const double *p, const double *const *x,
                      const double *y, int nv, size_t n, int reps) {
  size_t chunk = n < 1000000 ? n : 1000000;
  double bytes_read = (double)(nv + 1) * (double)n * sizeof(double);
  static const char *const hows[] = {"streamed", "streamed through pinned staging", "resident"};
  static const char *const tags[] = {"streamed", "pinned", "resident"};
  for (int mode = 0; mode < 3; ++mode) {
    fitcl__accum_ocl_zero_copy = 0;
    fitcl__accum_ocl_pinned = mode == 1;
    fitcl_model *m = NULL;
    fitcl_accum *a = NULL;
    if (fitcl_model_builtin(ctx, model, &m) != FITCL_OK ||
        fitcl_accum_create(ctx, m, NULL, &a) != FITCL_OK) {
      printf("# residency %s: %s\n", model, fitcl_errmsg(ctx));
      fitcl_model_destroy(m);
      fitcl__accum_ocl_zero_copy = -1;
      fitcl__accum_ocl_pinned = -1;
      return;
    }
    if (mode == 2) fitcl__accum_repeat_data(a);
    fitcl_accum_sums s;
    pass(a, p, 1, x, y, nv, n, n, chunk, &s); /* the first pass uploads */
    uint64_t up0 = a->bytes_uploaded;
    double t[32];
    int r = reps < 32 ? reps : 32;
    for (int i = 0; i < r; ++i) t[i] = pass(a, p, 1, x, y, nv, n, n, chunk, &s);
    double per_pass = (double)(a->bytes_uploaded - up0) / r;
    double tmin, tmed;
    bench_stats(t, (size_t)r, &tmin, &tmed);
    printf("  opencl  %-10s %10zu %10.2f %10.2f   data %s: %.0f MB uploaded per pass, "
           "%.1f GB/s effective\n",
           model, n, tmin * 1e3, tmed * 1e3, hows[mode], per_pass / 1e6, bytes_read / tmin / 1e9);
    char variant[96];
    snprintf(variant, sizeof variant, "opencl/%s/%zu/%s", model, n, tags[mode]);
    bench_row("accum", variant, "pass_ms_min", tmin * 1e3, "ms");
    bench_row("accum", variant, "uploaded_bytes_per_pass", per_pass, "B");
    bench_row("accum", variant, "effective_gb_per_s", bytes_read / tmin / 1e9, "GB/s");
    fitcl_accum_destroy(a);
    fitcl_model_destroy(m);
    fitcl__accum_ocl_zero_copy = -1;
    fitcl__accum_ocl_pinned = -1;
  }
}
#endif

int main(int argc, char **argv) {
  const char *backend = "both";
  const char *only_model = NULL;
  size_t max_points = 100000000;
  int reps = 5;
  static struct option opts[] = {{"backend", required_argument, 0, 'b'},
                                 {"max-points", required_argument, 0, 'm'},
                                 {"reps", required_argument, 0, 'r'},
                                 {"model", required_argument, 0, 'M'},
                                 {"evaluator", no_argument, 0, 'E'},
                                 {"small-pages", no_argument, 0, 'S'},
                                 {"help", no_argument, 0, 'h'},
                                 {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "b:m:r:M:ESh", opts, NULL)) != -1) {
    if (c == 'b') backend = optarg;
    else if (c == 'E') fitcl__aot_disable = 1;
    else if (c == 'S') small_pages = 1;
    else if (c == 'm') max_points = strtoull(optarg, NULL, 10);
    else if (c == 'r') reps = atoi(optarg);
    else if (c == 'M') only_model = optarg;
    else {
      printf("usage: bench_accum [--backend cpu|opencl|both] [--model NAME] [--max-points N] "
             "[--reps R] [--evaluator] [--small-pages]\n");
      return c == 'h' ? 0 : 2;
    }
  }
  bench_print_machine();
  {
    double l[3] = {0, 0, 0};
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
      if (fscanf(f, "%lf %lf %lf", &l[0], &l[1], &l[2]) != 3) l[0] = -1;
      fclose(f);
    }
    printf("# load average at start: %.2f %.2f %.2f\n", l[0], l[1], l[2]);
  }
  int nthreads = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (nthreads > 64) nthreads = 64;
  const size_t base_n = max_points < 10000000 ? max_points : 10000000;
  double *cx0 = column(base_n, 0), *cx1 = column(base_n, 1), *cy = column(base_n, 2);
  const workload wl[] = {{"xpcs_g2", 2, {1.0, 0.2, 1000.0, 0.1, 5.0}, 1, 2},
                         {"double_exp", 1, {1.0, 0.5, 0.5, 2.0}, 0, 2}};
  const char *backends[2];
  int nb = 0;
  if (!strcmp(backend, "cpu") || !strcmp(backend, "both")) backends[nb++] = "cpu";
  if (!strcmp(backend, "opencl") || !strcmp(backend, "both")) backends[nb++] = "opencl";
  printf("# %-7s %-10s %10s %10s %10s %12s %10s %8s %10s %10s %10s\n", "backend", "model",
         "points", "min_ms", "median_ms", "Mpoints/s", "bound_ms", "%bound", "cost_ratio",
         "cpu_ns/pt", "floor_ms");
  printf("# cost_ratio = fused / cost-only pass time (min); cpu_ns/pt = process CPU time of the\n"
         "# fused pass per point, all threads (robust to other load on the machine);\n"
         "# floor_ms = the model's exp and log calls alone (fast block forms, same threads)\n");
  for (int b = 0; b < nb; ++b) {
    fitcl_context_options o = {0};
    o.device = backends[b];
    fitcl_context *ctx = NULL;
    if (fitcl_context_create(&o, &ctx) != FITCL_OK) {
      printf("# %s: no context (%s); skipped\n", backends[b], fitcl_errmsg(ctx));
      fitcl_context_destroy(ctx);
      continue;
    }
    fitcl_context_info ci;
    fitcl_context_get_info(ctx, &ci);
    printf("# backend %s: %s (%s), %d threads\n", ci.backend, ci.device, ci.platform, ci.threads);
    for (size_t w = 0; w < sizeof wl / sizeof wl[0]; ++w) {
      if (only_model && strcmp(only_model, wl[w].model)) continue;
      fitcl_model *m = NULL;
      fitcl_accum *a = NULL;
      if (fitcl_model_builtin(ctx, wl[w].model, &m) != FITCL_OK ||
          fitcl_accum_create(ctx, m, NULL, &a) != FITCL_OK) {
        printf("# %s: %s\n", wl[w].model, fitcl_errmsg(ctx));
        return 1;
      }
      fitcl_accum_info mi;
      fitcl_accum_get_info(a, &mi);
      if (!strcmp(ci.backend, "cpu"))
        printf("# %s runs %s\n", wl[w].model,
               mi.precompiled ? "as code compiled into the library" : "on the expression evaluator");
      const double *x[2] = {wl[w].nv == 2 ? cx0 : cx0, cx1};
      const double *y = cy;
      int nv = wl[w].nv;
      const double *read_cols[3] = {x[0], nv == 2 ? x[1] : y, y};
      for (size_t total = 1000000; total <= max_points; total *= 10) {
        size_t n = total < base_n ? total : base_n;
        size_t chunk = total <= 10000000 ? total : 1000000;
        int r = total >= 100000000 ? (reps < 3 ? reps : 3) : reps;
        double t[32], tc[32], tb[32], tcpu[32], tf[32];
        fitcl_accum_sums s;
        pass(a, wl[w].params, 1, x, y, nv, n, total, chunk, &s); /* warm-up */
        for (int i = 0; i < r && i < 32; ++i) {
          double c0 = cpu_now();
          t[i] = pass(a, wl[w].params, 1, x, y, nv, n, total, chunk, &s);
          tcpu[i] = cpu_now() - c0;
          tc[i] = pass(a, wl[w].params, 0, x, y, nv, n, total, chunk, &s);
          /* The bound: read the same bytes (columns + y) once. */
          double rt = 0;
          for (size_t done = 0; done < total; done += n)
            rt += peer_time(read_thread, (peer_arg){read_cols, nv + 1, 0, 0, 0, 0, 0}, n, nthreads);
          tb[i] = rt;
          double ft = 0;
          for (size_t done = 0; done < total; done += n)
            ft += peer_time(floor_thread, (peer_arg){x, 1, wl[w].nlog, wl[w].nexp, 0, 0, 0}, n,
                            nthreads);
          tf[i] = ft;
        }
        double tmin, tmed, cmin, cmed, bmin, bmed, umin, umed;
        bench_stats(t, (size_t)r, &tmin, &tmed);
        bench_stats(tc, (size_t)r, &cmin, &cmed);
        bench_stats(tb, (size_t)r, &bmin, &bmed);
        bench_stats(tcpu, (size_t)r, &umin, &umed);
        double fmin_, fmed_;
        bench_stats(tf, (size_t)r, &fmin_, &fmed_);
        double mps = (double)total / tmin / 1e6;
        printf("  %-7s %-10s %10zu %10.2f %10.2f %12.1f %10.2f %7.0f%% %10.2f %10.2f %10.2f\n",
               ci.backend, wl[w].model, total, tmin * 1e3, tmed * 1e3, mps, bmin * 1e3,
               100.0 * bmin / tmin, tmin / cmin, umin * 1e9 / (double)total, fmin_ * 1e3);
        char variant[96];
        snprintf(variant, sizeof variant, "%s/%s/%zu", ci.backend, wl[w].model, total);
        bench_row("accum", variant, "pass_ms_min", tmin * 1e3, "ms");
        bench_row("accum", variant, "pass_ms_median", tmed * 1e3, "ms");
        bench_row("accum", variant, "points_per_s", (double)total / tmin, "points/s");
        bench_row("accum", variant, "read_bound_ms", bmin * 1e3, "ms");
        bench_row("accum", variant, "percent_of_bound", 100.0 * bmin / tmin, "%");
        bench_row("accum", variant, "cost_only_ms_min", cmin * 1e3, "ms");
        bench_row("accum", variant, "fused_over_cost_only", tmin / cmin, "x");
        bench_row("accum", variant, "cpu_ns_per_point", umin * 1e9 / (double)total, "ns");
        bench_row("accum", variant, "exp_log_floor_ms", fmin_ * 1e3, "ms");
      }
      /* Recompilations across varying chunk lengths. */
      fitcl_context_info c0, c1;
      fitcl_accum_info ai0, ai1;
      fitcl_context_get_info(ctx, &c0);
      fitcl_accum_get_info(a, &ai0);
      size_t lens[] = {1, 1000, 4097, 65536, 99999, 250000, 777};
      /* A compilation hidden below the API (an OpenCL implementation
       * building a kernel variant for a new launch shape) shows as a first
       * pass at a new length much slower than the second. */
      double extra_max = 0.0;
      for (size_t l = 0; l < sizeof lens / sizeof lens[0]; ++l) {
        fitcl_accum_sums s;
        size_t len = lens[l] < base_n ? lens[l] : base_n;
        double t1 = pass(a, wl[w].params, (int)(l % 2), x, y, nv, len, len, len, &s);
        double t2 = pass(a, wl[w].params, (int)(l % 2), x, y, nv, len, len, len, &s);
        if (t1 - t2 > extra_max) extra_max = t1 - t2;
      }
      fitcl_context_get_info(ctx, &c1);
      fitcl_accum_get_info(a, &ai1);
      double rebuilds = (double)(c1.cache.misses - c0.cache.misses + c1.cache.hits - c0.cache.hits +
                                 ai1.program_builds - ai0.program_builds);
      printf("  %-7s %-10s recompilations across 7 chunk lengths: %.0f (largest first-pass "
             "excess at a new length: %.1f ms)\n",
             ci.backend, wl[w].model, rebuilds, extra_max * 1e3);
      char variant[96];
      snprintf(variant, sizeof variant, "%s/%s", ci.backend, wl[w].model);
      bench_row("accum", variant, "recompilations", rebuilds, "count");
      bench_row("accum", variant, "first_pass_excess_ms_max", extra_max * 1e3, "ms");
      fitcl_accum_destroy(a);
      fitcl_model_destroy(m);
#if FITCL_WITH_OPENCL
      if (!strcmp(ci.backend, "opencl"))
        residency(ctx, wl[w].model, wl[w].params, x, y, nv, base_n, reps);
#endif
    }
    fitcl_context_destroy(ctx);
  }
  free(cx0);
  free(cx1);
  free(cy);
  return 0;
}
