/* Curve-fit benchmark: fitcl's streaming Levenberg-Marquardt against
 * cminpack lmder (C, same run, same data), scipy least_squares and NLSQ
 * curve_fit (Python, same run, same data written to .npy), for the
 * 4-parameter double exponential and the XPCS g2 model at 1M and 10M points;
 * then 100M points streamed from a .npy file in a child process that reports
 * its peak RSS.
 *
 * Then the whole process: the `fitcl curve-fit` command on the double
 * exponential read from a C-order (n, 2) .npy (what np.column_stack +
 * np.save give) and from a Fortran-order one, each run as a user runs it
 * (fork, exec, wait; wall and CPU time of the child), against cminpack
 * lmder on the same data in the same run.
 *
 * usage: bench_curvefit [--sizes N,N,...] [--stream N] [--process N]
 *                       [--repeats R] [--python PY] [--no-peers] [--tmp DIR]
 *                       [--only double_exp|xpcs]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "../tests/common/npy_write.h"
#include "fitcl.h"
#ifdef FITCL_HAVE_CMINPACK_PEER
#include "cminpack_peer.h"
#endif

static int g_repeats = 3;
static const char *g_python = "python3";
static const char *g_tmp = "/tmp";
static int g_peers = 1;
static int g_only = -1;  /* -1 both problems, 0 double exponential, 1 XPCS */

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static double urand(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return (double)((rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}
static double nrand(void) {
  double u = urand(), v = urand();
  return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

/* Problems: the truth, the start, the data. */
static const double DEXP_TRUE[4] = {2.0, 1.3, 0.7, 0.15}, DEXP_P0[4] = {1.0, 2.0, 1.0, 0.1};
/* alpha away from 0: at alpha = 0 the D0 and D_offset terms are the same
 * function of tau and cannot be told apart. */
static const double XPCS_TRUE[5] = {1.0, 0.3, 1.0, 0.5, 0.1}, XPCS_P0[5] = {1.1, 0.2, 0.5, 0.3, 0.05};

static void gen_dexp(size_t n, double *x, double *y) {
  for (size_t i = 0; i < n; ++i) {
    x[i] = 20.0 * (double)i / (double)n;
    y[i] = DEXP_TRUE[0] * exp(-DEXP_TRUE[1] * x[i]) + DEXP_TRUE[2] * exp(-DEXP_TRUE[3] * x[i]) +
           0.01 * nrand();
  }
}

static void gen_xpcs(size_t n, double *t, double *q, double *y) {
  const double *p = XPCS_TRUE;
  for (size_t i = 0; i < n; ++i) {
    t[i] = pow(10.0, -4 + 5.0 * (double)i / (double)n);  /* 1e-4 .. 10 s */
    q[i] = 0.5 + 0.25 * (double)(i % 4);                  /* four q values, one fit */
    double a1 = p[3] + 1;
    y[i] = p[0] + p[1] * exp(-2 * q[i] * q[i] * (p[2] * pow(t[i], a1) / a1 + p[4] * t[i])) +
           0.002 * nrand();
  }
}

/* .npy writer for the Python peers and the streaming run. */
static FILE *npy_begin(const char *path, size_t rows, size_t cols) {
  FILE *f = fopen(path, "wb");
  if (f) fitcl_npy_write_header(f, "<f8", 0, rows, cols);
  return f;
}

static int write_npy_cols(const char *path, size_t n, const double *const *cols, size_t ncols) {
  FILE *f = npy_begin(path, n, ncols);
  if (!f) return -1;
  double row[4];
  for (size_t i = 0; i < n; ++i) {
    for (size_t k = 0; k < ncols; ++k) row[k] = cols[k][i];
    fwrite(row, sizeof(double), ncols, f);
  }
  return fclose(f);
}

/* Process CPU time (all threads), to read through the load of a shared
 * machine: wall time on a loaded machine is inflated, CPU time much less. */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double load_avg(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &l) != 1) l = -1;
    fclose(f);
  }
  return l;
}

static double max_rel_err(const double *p, const double *truth, int np) {
  double e = 0;
  for (int j = 0; j < np; ++j)
    e = fmax(e, fabs(p[j] - truth[j]) / fmax(fabs(truth[j]), 0.05));
  return e;
}

static void run_python(const char *peer, const char *npy, const char *model, const double *p0,
                       int np, int repeats, const char *label, double fitcl_median) {
  char cmd[2048], p0s[256] = "";
  size_t off = 0;
  for (int j = 0; j < np; ++j) off += (size_t)snprintf(p0s + off, sizeof p0s - off, "%s%.17g", j ? "," : "", p0[j]);
  snprintf(cmd, sizeof cmd, "%s %s/python_peer.py %s %s %s %s %d 2>&1", g_python,
#ifdef FITCL_PEERS_DIR
           FITCL_PEERS_DIR,
#else
           "benchmarks/peers",
#endif
           peer, npy, model, p0s, repeats);
  FILE *p = popen(cmd, "r");
  if (!p) {
    printf("  %-8s skipped: cannot run %s\n", peer, g_python);
    return;
  }
  char line[8192], last[8192] = "";
  while (fgets(line, sizeof line, p))
    if (line[0] == '{') snprintf(last, sizeof last, "%s", line);
  int rc = pclose(p);
  if (!last[0]) {
    printf("  %-8s skipped: %s exited %d without a result\n", peer, g_python, rc);
    return;
  }
  char *sk = strstr(last, "\"skip\": \"");
  if (sk) {
    char *e = strrchr(last, '"');
    *e = 0;
    printf("  %-8s skipped: %s\n", peer, sk + 9);
    return;
  }
  char *mn = strstr(last, "\"min\": "), *md = strstr(last, "\"median\": ");
  double tmin = mn ? strtod(mn + 7, NULL) : NAN, tmed = md ? strtod(md + 10, NULL) : NAN;
  char *pp = strstr(last, "\"params\": ");
  printf("  %-8s min %.3f s  median %.3f s  (fitcl %.1fx faster)  params %.*s\n", peer, tmin, tmed,
         tmed / fitcl_median, pp ? (int)(strcspn(pp + 10, "]") + 1) : 0, pp ? pp + 10 : "");
  bench_row("curvefit", label, peer, tmed, "s");
  char ratio[64];
  snprintf(ratio, sizeof ratio, "speedup_vs_%s", peer);
  bench_row("curvefit", label, ratio, tmed / fitcl_median, "x");
}

static void bench_problem(fitcl_context *ctx, int xpcs, size_t n) {
  const int np = xpcs ? 5 : 4;
  const double *truth = xpcs ? XPCS_TRUE : DEXP_TRUE, *p0 = xpcs ? XPCS_P0 : DEXP_P0;
  char label[64];
  snprintf(label, sizeof label, "%s_%zuM", xpcs ? "xpcs" : "double_exp", n / 1000000);
  double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *q = xpcs ? malloc(n * sizeof *q) : NULL;
  if (!x || !y || (xpcs && !q)) {
    printf("%s: out of memory\n", label);
    exit(1);
  }
  rng = 0x9E3779B97F4A7C15ULL + n + (size_t)xpcs;
  if (xpcs) gen_xpcs(n, x, q, y);
  else gen_dexp(n, x, y);

  fitcl_model *m = NULL;
  fitcl_status st;
  if (xpcs) {
    st = fitcl_model_builtin(ctx, "xpcs_g2", &m);
  } else {
    const char *names[] = {"a", "b", "c", "d"}, *vars[] = {"x"};
    st = fitcl_model_compile(ctx, "a*exp(-b*x)+c*exp(-d*x)", names, 4, vars, 1, &m);
  }
  if (st != FITCL_OK) {
    printf("%s: model: %s\n", label, fitcl_errmsg(ctx));
    exit(1);
  }
  const double *cols[2] = {x, q};
  fitcl_curvefit_result r;
  double t[16];
  int reps = g_repeats < 16 ? g_repeats : 16;
  st = fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, n, p0, NULL, &r);  /* warm-up */
  if (st != FITCL_OK) {
    printf("%s: fit: %s\n", label, fitcl_errmsg(ctx));
    exit(1);
  }
  double c[16];
  for (int k = 0; k < reps; ++k) {
    double t0 = bench_now(), c0 = cpu_now();
    fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, n, p0, NULL, &r);
    t[k] = bench_now() - t0;
    c[k] = cpu_now() - c0;
  }
  double tmin, tmed, cmin_, cmed_;
  bench_stats(t, (size_t)reps, &tmin, &tmed);
  bench_stats(c, (size_t)reps, &cmin_, &cmed_);
  printf("%s (%zu points, %d params; load average %.1f)\n", label, n, np, load_avg());
  printf("  fitcl    min %.3f s  median %.3f s  (process CPU %.3f s)  %s, %d iterations, %d "
         "Jacobian passes, max rel error vs truth %.2g\n", tmin, tmed, cmed_,
         fitcl_curvefit_status_name(r.status), r.iterations, r.jacobian_passes,
         max_rel_err(r.params, truth, np));
  bench_row("curvefit", label, "fitcl", tmed, "s");
  bench_row("curvefit", label, "fitcl_min", tmin, "s");
  bench_row("curvefit", label, "fitcl_cpu", cmed_, "s");
  bench_row("curvefit", label, "fitcl_iterations", r.iterations, "count");

  if (g_peers) {
#ifdef FITCL_HAVE_CMINPACK_PEER
    /* lmder stores the m x n Jacobian: a fit costs far more than ours, so
     * it runs once (no warm-up) at 10M and with the repeats at 1M.  When it
     * did not converge on a smaller size of the same problem it is not run
     * again on a larger one (600 evaluations of 10M points take many
     * minutes and measure nothing useful). */
    static int cminpack_failed[2];
    if (cminpack_failed[xpcs]) {
      printf("  cminpack skipped: it did not converge on the smaller size of this problem\n");
    } else {
      int creps = n > 2000000 ? 1 : reps;
      double ct[16], cc[16], p[5], rss = 0;
      int nfev = 0, njev = 0, info = 0;
      for (int k = 0; k < creps; ++k) {
        memcpy(p, p0, sizeof(double) * (size_t)np);
        double t0 = bench_now(), c0 = cpu_now();
        info = fitcl_peer_cminpack_fit(xpcs, x, q, y, n, p, &nfev, &njev, &rss);
        ct[k] = bench_now() - t0;
        cc[k] = cpu_now() - c0;
      }
      double cmin, cmed, ccmin, ccmed;
      bench_stats(ct, (size_t)creps, &cmin, &cmed);
      bench_stats(cc, (size_t)creps, &ccmin, &ccmed);
      int ok = info >= 1 && info <= 4;
      printf("  cminpack min %.3f s  median %.3f s  (process CPU %.3f s)  (fitcl %.1fx faster)  "
             "info %d%s, %d f-evals, %d J-evals, max rel error vs truth %.2g, rss rel diff %.1e\n",
             cmin, cmed, ccmed, cmed / tmed, info, ok ? "" : " (NOT converged)", nfev, njev,
             max_rel_err(p, truth, np), fabs(rss - r.rss) / r.rss);
      bench_row("curvefit", label, "cminpack_lmder", cmed, "s");
      bench_row("curvefit", label, "cminpack_lmder_cpu", ccmed, "s");
      bench_row("curvefit", label, "speedup_vs_cminpack", cmed / tmed, "x");
      bench_row("curvefit", label, "cminpack_converged", ok, "bool");
      if (!ok) cminpack_failed[xpcs] = 1;
    }
#else
    printf("  cminpack skipped: built without libcminpack\n");
#endif
    char npy[1024];
    snprintf(npy, sizeof npy, "%s/fitcl-bench-curvefit-%ld.npy", g_tmp, (long)getpid());
    const double *pc[3] = {x, xpcs ? q : y, y};
    if (write_npy_cols(npy, n, pc, xpcs ? 3 : 2) != 0) {
      printf("  python peers skipped: cannot write %s\n", npy);
    } else if (xpcs && n > 2000000) {
      printf("  python peers skipped at this size for XPCS: one fit takes minutes on 2 cores "
             "(see the 1M row)\n");
      unlink(npy);
    } else {
      int preps = n > 2000000 ? 1 : reps;
      run_python("scipy", npy, xpcs ? "xpcs" : "double_exp", p0, np, preps, label, tmed);
      run_python("nlsq", npy, xpcs ? "xpcs" : "double_exp", p0, np, preps, label, tmed);
      unlink(npy);
    }
  }
  fitcl_model_destroy(m);
  free(x);
  free(y);
  free(q);
}

/* Runs argv as a child with its output discarded; wall seconds, and the
 * child's CPU seconds (user + system) in *cpu; negative when it failed. */
static double run_process(char *const *argv, double *cpu) {
  double t0 = bench_now();
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(argv[0], argv);
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  wait4(pid, &status, 0, &ru);
  double t = bench_now() - t0;
  *cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
         (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? t : -1;
}

/* The whole `fitcl curve-fit` process on n points from a C-order and a
 * Fortran-order .npy (runs interleaved), and cminpack on the same data. */
static void bench_process(size_t n) {
  double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
  if (!x || !y) {
    printf("process: out of memory\n");
    exit(1);
  }
  rng = 0x9E3779B97F4A7C15ULL + n;
  gen_dexp(n, x, y);
  char cpath[1024], fpath[1024];
  snprintf(cpath, sizeof cpath, "%s/fitcl-bench-c-%ld.npy", g_tmp, (long)getpid());
  snprintf(fpath, sizeof fpath, "%s/fitcl-bench-f-%ld.npy", g_tmp, (long)getpid());
  const double *pc[2] = {x, y};
  FILE *f = fopen(fpath, "wb");
  int ok = write_npy_cols(cpath, n, pc, 2) == 0 && f;
  if (f) {
    fitcl_npy_write_header(f, "<f8", 1, n, 2);
    ok &= fwrite(x, sizeof(double), n, f) == n && fwrite(y, sizeof(double), n, f) == n;
    ok &= fclose(f) == 0;
  }
  if (!ok) {
    printf("process: cannot write the .npy files in %s\n", g_tmp);
    exit(1);
  }
  char label[64];
  snprintf(label, sizeof label, "double_exp_%zuM_process", n / 1000000);
  printf("%s (fitcl curve-fit as a process; load average %.1f)\n", label, load_avg());
  const char *paths[2] = {cpath, fpath}, *names[2] = {"c_order", "fortran_order"};
  double t[2][16], c[2][16];
  int reps = g_repeats < 16 ? g_repeats : 16;
  for (int k = -1; k < reps; ++k)  /* k = -1 warms the page cache and the program cache */
    for (int v = 0; v < 2; ++v) {
      char *argv[] = {(char *)FITCL_CLI_PATH, "curve-fit", "--data", (char *)paths[v], "--model",
                      "a*exp(-b*x)+c*exp(-d*x)", "--p0", "a=1,b=2,c=1,d=0.1", NULL};
      double cpu = 0, w = run_process(argv, &cpu);
      if (w < 0) {
        printf("  %s: the command failed\n", names[v]);
        exit(1);
      }
      if (k >= 0) {
        t[v][k] = w;
        c[v][k] = cpu;
      }
    }
  double med[2];
  for (int v = 0; v < 2; ++v) {
    double tmin, tmed, cmin, cmed;
    bench_stats(t[v], (size_t)reps, &tmin, &tmed);
    bench_stats(c[v], (size_t)reps, &cmin, &cmed);
    med[v] = tmed;
    printf("  fitcl %-13s min %.3f s  median %.3f s  (CPU median %.3f s)\n", names[v], tmin, tmed,
           cmed);
    char what[64];
    snprintf(what, sizeof what, "fitcl_%s", names[v]);
    bench_row("curvefit", label, what, tmed, "s");
    snprintf(what, sizeof what, "fitcl_%s_min", names[v]);
    bench_row("curvefit", label, what, tmin, "s");
    snprintf(what, sizeof what, "fitcl_%s_cpu", names[v]);
    bench_row("curvefit", label, what, cmed, "s");
  }
#ifdef FITCL_HAVE_CMINPACK_PEER
  if (g_peers) {
    double p[4], rss = 0;
    int nfev = 0, njev = 0;
    memcpy(p, DEXP_P0, sizeof p);
    double t0 = bench_now();
    int info = fitcl_peer_cminpack_fit(0, x, NULL, y, n, p, &nfev, &njev, &rss);
    double tc = bench_now() - t0;
    printf("  cminpack lmder (in process, data in memory) %.3f s, info %d, %d f-evals, %d J-evals: "
           "fitcl from C-order %.1fx faster, from Fortran order %.1fx\n", tc, info, nfev, njev,
           tc / med[0], tc / med[1]);
    bench_row("curvefit", label, "cminpack_lmder", tc, "s");
    bench_row("curvefit", label, "speedup_c_order_vs_cminpack", tc / med[0], "x");
    bench_row("curvefit", label, "speedup_fortran_vs_cminpack", tc / med[1], "x");
  }
#endif
  unlink(cpath);
  unlink(fpath);
  free(x);
  free(y);
}

/* Child process: write N points to a .npy in blocks, fit them streamed,
 * report time and peak RSS (nothing else big lives in this process). */
static int stream_child(size_t n) {
  char npy[1024];
  snprintf(npy, sizeof npy, "%s/fitcl-bench-stream-%ld.npy", g_tmp, (long)getpid());
  FILE *f = npy_begin(npy, n, 2);
  if (!f) {
    printf("stream: cannot write %s\n", npy);
    return 1;
  }
  enum { B = 1 << 20 };
  static double bx[B], by[B], row[2 * B];
  rng = 42;
  double t0 = bench_now();
  for (size_t i0 = 0; i0 < n; i0 += B) {
    size_t k = n - i0 < B ? n - i0 : B;
    for (size_t i = 0; i < k; ++i) {
      bx[i] = 20.0 * (double)(i0 + i) / (double)n;
      by[i] = DEXP_TRUE[0] * exp(-DEXP_TRUE[1] * bx[i]) + DEXP_TRUE[2] * exp(-DEXP_TRUE[3] * bx[i]) +
              0.01 * nrand();
      row[2 * i] = bx[i];
      row[2 * i + 1] = by[i];
    }
    fwrite(row, sizeof(double), 2 * k, f);
  }
  fclose(f);
  printf("stream: wrote %zu points (%.2f GB) in %.1f s\n", n, 16.0 * (double)n / 1e9,
         bench_now() - t0);
  fitcl_context *ctx = NULL;
  if (fitcl_context_create(NULL, &ctx) != FITCL_OK) {
    printf("stream: context: %s\n", fitcl_errmsg(ctx));
    return 1;
  }
  const char *names[] = {"a", "b", "c", "d"}, *vars[] = {"x"};
  fitcl_model *m = NULL;
  fitcl_model_compile(ctx, "a*exp(-b*x)+c*exp(-d*x)", names, 4, vars, 1, &m);
  fitcl_source_options so = {0};
  so.path = npy;
  fitcl_source *src = NULL;
  fitcl_curvefit_result r;
  fitcl_status st = fitcl_source_open(ctx, &so, &src);
  t0 = bench_now();
  if (st == FITCL_OK) st = fitcl_curve_fit_source(ctx, m, src, DEXP_P0, NULL, &r);
  double secs = bench_now() - t0;
  if (st != FITCL_OK) {
    printf("stream: %s\n", fitcl_errmsg(ctx));
    unlink(npy);
    return 1;
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double rss_mb = (double)ru.ru_maxrss / 1024.0;
  char label[64];
  snprintf(label, sizeof label, "double_exp_%zuM_streamed_npy", n / 1000000);
  printf("%s\n  fitcl    %.2f s (one run), %s, %d iterations, %d Jacobian passes, "
         "%.1f ns/point/pass, peak RSS %.0f MiB, max rel error vs truth %.2g\n", label, secs,
         fitcl_curvefit_status_name(r.status), r.iterations, r.jacobian_passes,
         1e9 * secs / ((double)n * (r.iterations + r.jacobian_passes)), rss_mb,
         max_rel_err(r.params, DEXP_TRUE, 4));
  bench_row("curvefit", label, "fitcl", secs, "s");
  bench_row("curvefit", label, "peak_rss", rss_mb, "MiB");
  fitcl_source_destroy(src);
  fitcl_model_destroy(m);
  fitcl_context_destroy(ctx);
  unlink(npy);
  return 0;
}

int main(int argc, char **argv) {
  size_t sizes[8] = {1000000, 10000000}, nsizes = 2, stream = 100000000, process = 10000000;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
      nsizes = 0;
      for (char *t = strtok(argv[++i], ","); t && nsizes < 8; t = strtok(NULL, ","))
        sizes[nsizes++] = (size_t)strtod(t, NULL);
    } else if (!strcmp(argv[i], "--stream") && i + 1 < argc) {
      stream = (size_t)strtod(argv[++i], NULL);
    } else if (!strcmp(argv[i], "--process") && i + 1 < argc) {
      process = (size_t)strtod(argv[++i], NULL);
    } else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) {
      g_repeats = atoi(argv[++i]);
      if (g_repeats < 1) g_repeats = 1;
    } else if (!strcmp(argv[i], "--python") && i + 1 < argc) {
      g_python = argv[++i];
    } else if (!strcmp(argv[i], "--tmp") && i + 1 < argc) {
      g_tmp = argv[++i];
    } else if (!strcmp(argv[i], "--no-peers")) {
      g_peers = 0;
    } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
      ++i;
      g_only = !strcmp(argv[i], "xpcs") ? 1 : 0;
    } else {
      fprintf(stderr, "usage: bench_curvefit [--sizes N,...] [--stream N] [--process N] [--repeats R] "
                      "[--python PY] [--tmp DIR] [--no-peers] [--only double_exp|xpcs]\n");
      return 2;
    }
  }
  bench_print_machine();
  fflush(stdout);
  /* The streaming run goes first, in a child, so its peak RSS is its own. */
  if (stream) {
    pid_t pid = fork();
    if (pid == 0) {
      int rc = stream_child(stream);
      fflush(stdout);
      _exit(rc);
    }
    int status;
    waitpid(pid, &status, 0);
  }
  if (process) {
    bench_process(process);
    fflush(stdout);
  }
  fitcl_context *ctx = NULL;
  if (fitcl_context_create(NULL, &ctx) != FITCL_OK) {
    printf("context: %s\n", fitcl_errmsg(ctx));
    return 1;
  }
  fitcl_context_info info;
  fitcl_context_get_info(ctx, &info);
  printf("# fitcl backend %s (%s), %d threads; peers: cminpack lmder (C), scipy least_squares "
         "and NLSQ curve_fit via %s\n", info.backend, info.device, info.threads, g_python);
  for (size_t s = 0; s < nsizes; ++s)
    for (int xpcs = 0; xpcs < 2; ++xpcs) {
      if (g_only >= 0 && g_only != xpcs) continue;
      bench_problem(ctx, xpcs, sizes[s]);
      fflush(stdout);
    }
  fitcl_context_destroy(ctx);
  return 0;
}
