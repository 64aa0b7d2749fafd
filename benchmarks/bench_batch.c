/* Batched small fits against their peers, side by side in one run:
 *   fitcl curve-fit --batch   (whole process: start, .npy in, fits, .npy out),
 *                             on the pthreads backend and on OpenCL;
 *   cminpack lmder in a C loop over the same fits (whole process: the same
 *                             .npy reader and writer around the loop);
 *   scipy curve_fit in a Python loop (its own timing of the loop, on the
 *                             first fits only: it is about 1000 times slower);
 * and, in process, the library call against the lmder loop.  Models: the
 * 4-parameter Gaussian peak and the 5-parameter XPCS g2(tau) at N = 10^4
 * to 10^5 (10^6 with --large), n = 64 and 200.  The target is 100,000
 * Gaussian fits on 64 points at least 10 times faster than the cminpack
 * loop, whole process, with the same parameters to 1e-6.
 *
 * Timings are wall times of the whole process, min and median of
 * --repeats runs, interleaved so that load from other jobs on the machine
 * falls on every tool alike; the load average is printed with each case.
 *
 * usage: bench_batch [--quick] [--large] [--keep] [--repeats R]
 *        [--only gaussian|xpcs]   (--quick: the target case alone; --keep: leave the data)   ($FITCL_BENCH_PYTHON: the python
 *        with numpy and scipy; default python3)
 *        bench_batch --peer-cminpack gaussian|xpcs Y X Q|- P0 OUT TOL   (the peer's process)
 *
 * cminpack runs at MINPACK tolerances 1e-8 (the setting of bench_curvefit's
 * peer) and 1e-10: at 1e-8 its cost-based stopping leaves some fits 1e-5
 * to 1e-4 from the optimum (measured against fitcl run to xtol 1e-13), so
 * the comparison "same results to 1e-6" is made against the 1e-10 run. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "fitcl.h"
#include "io/array_file.h"
#ifdef FITCL_HAVE_CMINPACK_PEER
#include "cminpack_peer.h"
#endif

static uint64_t rng = 42;
static double urand(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return (double)((rng * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}
static double nrand(void) {
  double u = urand(), v = urand();
  return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

typedef struct problem {
  int xpcs;
  size_t N, n;
  int np;
  double *x, *q, *y, *p0;
} problem;

/* Gaussian peaks (amplitude ~100, unit noise) or g2 curves (contrast
 * ~0.25, noise 1e-3, tau log-spaced from 1e-5 to 1 s), starts 10% off. */
static void make_problem(problem *p) {
  const size_t N = p->N, n = p->n;
  p->np = p->xpcs ? 5 : 4;
  p->x = malloc(n * sizeof *p->x);
  p->q = malloc(N * sizeof *p->q);
  p->y = malloc(N * n * sizeof *p->y);
  p->p0 = malloc(N * (size_t)p->np * sizeof *p->p0);
  rng = 42 + N + n;
  for (size_t j = 0; j < n; ++j)
    p->x[j] = p->xpcs ? 1e-5 * pow(1e5, (double)j / (double)(n - 1)) : (double)j;
  for (size_t i = 0; i < N; ++i) {
    double t[5];
    if (p->xpcs) {
      /* Decay rates 2 q² (D0 + D_offset) from 10 to 1000 per second, so
       * every curve decays inside the delay window. */
      p->q[i] = 0.001 + 0.009 * urand();
      double rate = pow(10.0, 1 + 2 * urand()), q2 = p->q[i] * p->q[i];
      t[0] = 1.0;
      t[1] = 0.2 + 0.1 * urand();
      t[2] = rate / (2 * q2 * 1.1);
      t[3] = 0.4 + 0.2 * urand(); /* alpha away from 0, where D0 and D_offset
                                     would act alike */
      t[4] = 0.1 * t[2];
    } else {
      t[0] = 100 * (0.7 + 0.6 * urand());
      t[1] = (double)n * (0.4 + 0.2 * urand());
      t[2] = (double)n * (0.06 + 0.04 * urand());
      t[3] = 10 * urand();
    }
    for (size_t j = 0; j < n; ++j) {
      double f;
      if (p->xpcs) {
        double a1 = t[3] + 1, tau = p->x[j];
        f = t[0] + t[1] * exp(-2 * p->q[i] * p->q[i] * (t[2] * pow(tau, a1) / a1 + t[4] * tau));
        f += 1e-3 * nrand();
      } else {
        double u = p->x[j] - t[1];
        f = t[0] * exp(-u * u / (2 * t[2] * t[2])) + t[3] + nrand();
      }
      p->y[i * n + j] = f;
    }
    for (int k = 0; k < p->np; ++k)
      p->p0[i * (size_t)p->np + (size_t)k] =
          (p->xpcs && k == 3) ? 0.3 : t[k] * (1 + 0.2 * (urand() - 0.5)) + (k == 3 && !p->xpcs ? 1 : 0);
  }
}

static void free_problem(problem *p) {
  free(p->x);
  free(p->q);
  free(p->y);
  free(p->p0);
}

/* Runs argv with extra environment entries; stdout and stderr to
 * /dev/null unless `out` names a file for stdout.  Returns the wall time,
 * or -1 when it failed. */
static double run(char *const *argv, const char *env, const char *out) {
  fflush(stdout); /* or the child would print what is still buffered */
  double t0 = bench_now();
  pid_t pid = fork();
  if (pid == 0) {
    if (env) putenv((char *)env);
    FILE *o = freopen(out ? out : "/dev/null", "w", stdout);
    FILE *e = freopen("/dev/null", "w", stderr);
    (void)o;
    (void)e;
    execvp(argv[0], argv);
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0) return -1;
  double t = bench_now() - t0;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? t : -1;
}

static void loadavg(char *buf, size_t cap) {
  FILE *f = fopen("/proc/loadavg", "r");
  buf[0] = 0;
  if (f) {
    if (!fgets(buf, (int)cap, f)) buf[0] = 0;
    fclose(f);
  }
  buf[strcspn(buf, " ")] = 0; /* the 1-minute figure */
}

/* ------------------------------------------------------------------------- */
/* The cminpack peer as a process of its own                                 */

static int peer_cminpack(int argc, char **argv) {
#ifdef FITCL_HAVE_CMINPACK_PEER
  if (argc < 9) return 2;
  const int xpcs = !strcmp(argv[2], "xpcs");
  const double tol = strtod(argv[8], NULL);
  fitcl__array y, x, q, p0;
  memset(&q, 0, sizeof q);
  if (fitcl__npy_read(NULL, argv[3], &y) || fitcl__npy_read(NULL, argv[4], &x) ||
      (xpcs && fitcl__npy_read(NULL, argv[5], &q)) || fitcl__npy_read(NULL, argv[6], &p0))
    return 1;
  const size_t N = y.dims[0], n = y.dims[1], np = xpcs ? 5 : 4;
  double *out = malloc(N * (np + 1) * sizeof *out), *qcol = malloc(n * sizeof *qcol);
  for (size_t i = 0; i < N; ++i) {
    double p[5];
    for (size_t k = 0; k < np; ++k) p[k] = p0.data[i * np + k];
    if (xpcs)
      for (size_t j = 0; j < n; ++j) qcol[j] = q.data[i];
    int nfev, njev;
    double rss;
    int info = fitcl_peer_cminpack_fit_tol(xpcs ? PEER_MODEL_XPCS : PEER_MODEL_GAUSSIAN, x.data,
                                           qcol, y.data + i * n, n, p, &nfev, &njev, &rss, tol);
    for (size_t k = 0; k < np; ++k) out[i * (np + 1) + k] = p[k];
    out[i * (np + 1) + np] = info;
  }
  size_t dims[2] = {N, np + 1};
  int rc = fitcl__npy_save(argv[7], 2, dims, out, NULL, NULL, 0) != FITCL_OK;
  free(out);
  free(qcol);
  fitcl__array_free(&y);
  fitcl__array_free(&x);
  fitcl__array_free(&q);
  fitcl__array_free(&p0);
  return rc;
#else
  (void)argc;
  (void)argv;
  return 3;
#endif
}

/* ------------------------------------------------------------------------- */

typedef struct tool {
  const char *name;
  double t[16];
  int runs, failed;
} tool;

static void report(const char *label, tool *t, size_t N, double ref_median) {
  double mn, med;
  if (t->failed || !t->runs) {
    printf("  %-26s failed\n", t->name);
    return;
  }
  bench_stats(t->t, (size_t)t->runs, &mn, &med);
  printf("  %-26s min %8.3f s  median %8.3f s  %12.0f fits/s", t->name, mn, med, (double)N / med);
  if (ref_median > 0) printf("  cminpack/this %6.2fx", ref_median / med);
  printf("\n");
  char variant[160];
  snprintf(variant, sizeof variant, "%s %s", label, t->name);
  bench_row("batch", variant, "median", med, "s");
  bench_row("batch", variant, "min", mn, "s");
}

/* Largest difference of fitcl's parameters from cminpack's over the fits
 * both say converged, relative to max(|p|, stderr) (a parameter near 0
 * is compared on the scale of its error); *over counts those above 1e-6. */
static double compare(const char *fitcl_prefix, const char *peer_path, size_t N, int np,
                      size_t *compared, size_t *over) {
  char path[1200];
  fitcl__array a, s, e, b;
  *compared = *over = 0;
  snprintf(path, sizeof path, "%s_params.npy", fitcl_prefix);
  if (fitcl__npy_read(NULL, path, &a)) return NAN;
  snprintf(path, sizeof path, "%s_status.npy", fitcl_prefix);
  if (fitcl__npy_read(NULL, path, &s)) return NAN;
  snprintf(path, sizeof path, "%s_stderr.npy", fitcl_prefix);
  if (fitcl__npy_read(NULL, path, &e)) return NAN;
  if (fitcl__npy_read(NULL, peer_path, &b)) return NAN;
  double worst = 0;
  for (size_t i = 0; i < N; ++i) {
    int st = (int)s.data[i], info = (int)b.data[i * (size_t)(np + 1) + (size_t)np];
    if (st < 1 || st > 3 || info < 1 || info > 4) continue;
    double w = 0;
    for (int k = 0; k < np; ++k) {
      size_t ik = i * (size_t)np + (size_t)k;
      double u = a.data[ik], v = b.data[i * (size_t)(np + 1) + (size_t)k];
      w = fmax(w, fabs(u - v) / fmax(fmax(fabs(u), e.data[ik]), 1e-300));
    }
    worst = fmax(worst, w);
    *over += w > 1e-6;
    ++*compared;
  }
  fitcl__array_free(&a);
  fitcl__array_free(&s);
  fitcl__array_free(&e);
  fitcl__array_free(&b);
  return worst;
}

static void run_case(const char *dir, int xpcs, size_t N, size_t n, int repeats) {
  problem p = {xpcs, N, n, 0, NULL, NULL, NULL, NULL};
  make_problem(&p);
  char yp[1100], xp[1100], qp[1100], p0p[1100], label[96], load0[32], load1[32];
  snprintf(yp, sizeof yp, "%s/y.npy", dir);
  snprintf(xp, sizeof xp, "%s/x.npy", dir);
  snprintf(qp, sizeof qp, "%s/q.npy", dir);
  snprintf(p0p, sizeof p0p, "%s/p0.npy", dir);
  size_t dy[2] = {N, n}, dx[1] = {n}, dq[2] = {N, 1}, dp[2] = {N, (size_t)p.np};
  if (fitcl__npy_save(yp, 2, dy, p.y, NULL, NULL, 0) ||
      fitcl__npy_save(xp, 1, dx, p.x, NULL, NULL, 0) ||
      fitcl__npy_save(qp, 2, dq, p.q, NULL, NULL, 0) ||
      fitcl__npy_save(p0p, 2, dp, p.p0, NULL, NULL, 0)) {
    fprintf(stderr, "bench_batch: cannot write the data under %s\n", dir);
    exit(1);
  }
  snprintf(label, sizeof label, "%s N=%zu n=%zu", xpcs ? "xpcs_g2" : "gaussian", N, n);
  loadavg(load0, sizeof load0);
  printf("\n%s (p=%d)   load average before: %s\n", label, p.np, load0);
  char xspec[2300], out_cpu[1100], out_ocl[1100], peer_out[1100], self[1100];
  snprintf(xspec, sizeof xspec, xpcs ? "%s,%s" : "%s", xp, qp);
  snprintf(out_cpu, sizeof out_cpu, "%s/fitcl_cpu", dir);
  snprintf(out_ocl, sizeof out_ocl, "%s/fitcl_ocl", dir);
  snprintf(peer_out, sizeof peer_out, "%s/cminpack.npy", dir);
  char peer_out10[1100];
  snprintf(peer_out10, sizeof peer_out10, "%s/cminpack10.npy", dir);
  ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
  self[sl > 0 ? sl : 0] = 0;
  char *fit_cpu[] = {FITCL_CLI_PATH, "curve-fit", "--batch", "--y", yp, "--x", xspec, "--model",
                     xpcs ? "xpcs_g2" : "gaussian", "--p0-file", p0p, "--out", out_cpu, NULL};
  char *fit_ocl[] = {FITCL_CLI_PATH, "curve-fit", "--batch", "--y", yp, "--x", xspec, "--model",
                     xpcs ? "xpcs_g2" : "gaussian", "--p0-file", p0p, "--out", out_ocl, NULL};
  char *peer[] = {self, "--peer-cminpack", xpcs ? "xpcs" : "gaussian", yp, xp, xpcs ? qp : "-",
                  p0p, peer_out, "1e-8", NULL};
  char *peer10[] = {self, "--peer-cminpack", xpcs ? "xpcs" : "gaussian", yp, xp, xpcs ? qp : "-",
                    p0p, peer_out10, "1e-10", NULL};
  tool tc = {"fitcl --batch (cpu)", {0}, 0, 0}, to = {"fitcl --batch (opencl)", {0}, 0, 0},
       tm = {"cminpack lmder loop, tol 1e-8", {0}, 0, 0},
       tm10 = {"cminpack lmder loop, tol 1e-10", {0}, 0, 0};
  /* One warm-up of each (program cache, page cache), then interleaved. */
  run(fit_ocl, "FITCL_DEVICE=opencl", NULL);
  for (int r = 0; r < repeats; ++r) {
    double t;
    if ((t = run(fit_cpu, "FITCL_DEVICE=cpu", NULL)) < 0) tc.failed = 1;
    else tc.t[tc.runs++] = t;
    if ((t = run(fit_ocl, "FITCL_DEVICE=opencl", NULL)) < 0) to.failed = 1;
    else to.t[to.runs++] = t;
#ifdef FITCL_HAVE_CMINPACK_PEER
    if ((t = run(peer, NULL, NULL)) < 0) tm.failed = 1;
    else tm.t[tm.runs++] = t;
    if ((t = run(peer10, NULL, NULL)) < 0) tm10.failed = 1;
    else tm10.t[tm10.runs++] = t;
#else
    tm.failed = tm10.failed = 1;
#endif
  }
  double mmin = 0, mmed = 0, m10min = 0, m10med = 0;
  if (!tm.failed && tm.runs) bench_stats(tm.t, (size_t)tm.runs, &mmin, &mmed);
  if (!tm10.failed && tm10.runs) bench_stats(tm10.t, (size_t)tm10.runs, &m10min, &m10med);
  printf(" whole process (%d runs each, interleaved; ratios: the cminpack tol 1e-10 loop's "
         "median over this one's):\n", repeats);
  report(label, &tc, N, m10med);
  report(label, &to, N, m10med);
  report(label, &tm, N, m10med);
  report(label, &tm10, N, 0);
  if (!tm.failed) {
    const char *outs[2] = {out_cpu, out_ocl}, *peers[2] = {peer_out, peer_out10};
    const char *onames[2] = {"cpu", "opencl"}, *pnames[2] = {"1e-8", "1e-10"};
    for (int o = 0; o < 2; ++o)
      for (int q = 0; q < 2; ++q) {
        size_t cmp, over;
        double w = compare(outs[o], peers[q], N, p.np, &cmp, &over);
        printf("  parameters, fitcl (%s) vs cminpack tol %s: largest difference %.2e of "
               "max(|p|, stderr) over %zu fits both converged; %zu above 1e-6\n", onames[o],
               pnames[q], w, cmp, over);
        char metric[64];
        snprintf(metric, sizeof metric, "max_diff_%s_vs_cminpack_%s", onames[o], pnames[q]);
        bench_row("batch", label, metric, w, "rel");
      }
  }
  /* scipy on the first fits of the same data. */
  size_t nsci = N < 2000 ? N : 2000;
  char maxf[32], sci_out[1100], sci_json[1100], script[1200];
  snprintf(maxf, sizeof maxf, "%zu", nsci);
  snprintf(sci_out, sizeof sci_out, "%s/scipy.npy", dir);
  snprintf(sci_json, sizeof sci_json, "%s/scipy.json", dir);
  snprintf(script, sizeof script, "%s/batch_scipy.py", FITCL_PEERS_DIR);
  const char *py = getenv("FITCL_BENCH_PYTHON");
  char *sci[] = {(char *)(py && *py ? py : "python3"), script, xpcs ? "xpcs" : "gaussian", yp, xp, xpcs ? qp : "-", p0p,
                 sci_out, maxf, NULL};
  if (run(sci, NULL, sci_json) >= 0) {
    FILE *f = fopen(sci_json, "r");
    char line[512] = "";
    if (f && fgets(line, sizeof line, f)) {
      const char *s = strstr(line, "\"seconds\": ");
      if (s) {
        double secs = strtod(s + 11, NULL);
        printf("  %-26s %zu fits in %.3f s (its own loop timing): %12.0f fits/s\n",
               "scipy curve_fit loop", nsci, secs, (double)nsci / secs);
        bench_row("batch", label, "scipy_fits_per_s", (double)nsci / secs, "1/s");
      } else {
        printf("  scipy curve_fit loop: %s", line);
      }
    }
    if (f) fclose(f);
  } else {
    printf("  scipy curve_fit loop: python3 failed\n");
  }
  /* In process: the library call against the lmder loop. */
  {
    fitcl_context_options co = {0};
    co.device = "cpu";
    fitcl_context *ctx = NULL;
    fitcl_model *m = NULL;
    if (fitcl_context_create(&co, &ctx) == FITCL_OK &&
        fitcl_model_builtin(ctx, xpcs ? "xpcs_g2" : "gaussian", &m) == FITCL_OK) {
      fitcl_batch_data d = {0};
      d.nfits = N;
      d.npoints = n;
      d.y = (fitcl_batch_array){p.y, n, 1};
      d.x[0] = (fitcl_batch_array){p.x, 0, 1};
      d.x[1] = (fitcl_batch_array){p.q, 1, 0};
      d.p0 = p.p0;
      d.p0_fit_stride = (size_t)p.np;
      double *par = malloc(N * (size_t)p.np * sizeof *par);
      fitcl_batch_outputs o = {par, NULL, NULL, NULL, NULL, NULL};
      fitcl_batch_summary s;
      double t0 = bench_now();
      fitcl_status st = fitcl_fit_batch(ctx, m, &d, NULL, &o, &s);
      double tf = bench_now() - t0;
      if (st == FITCL_OK) {
        printf(" in process: fitcl_fit_batch (cpu, %d threads) %.3f s, %.2f steps per fit, "
               "%zu converged\n",
               (int)sysconf(_SC_NPROCESSORS_ONLN), tf, (double)s.iterations / (double)N,
               s.converged);
        bench_row("batch", label, "library_cpu", tf, "s");
      }
#ifdef FITCL_HAVE_CMINPACK_PEER
      double *qcol = malloc(n * sizeof *qcol);
      long nfev_total = 0;
      t0 = bench_now();
      for (size_t i = 0; i < N; ++i) {
        double pp[5];
        for (int k = 0; k < p.np; ++k) pp[k] = p.p0[i * (size_t)p.np + (size_t)k];
        if (xpcs)
          for (size_t j = 0; j < n; ++j) qcol[j] = p.q[i];
        int nfev, njev;
        double rss;
        fitcl_peer_cminpack_fit_tol(xpcs ? PEER_MODEL_XPCS : PEER_MODEL_GAUSSIAN, p.x, qcol,
                                    p.y + i * n, n, pp, &nfev, &njev, &rss, 1e-10);
        nfev_total += nfev + njev;
      }
      double tm2 = bench_now() - t0;
      printf(" in process: lmder loop tol 1e-10 (1 thread) %.3f s, %.2f evaluations per fit; "
             "lmder/fitcl %.2fx\n", tm2,
             (double)nfev_total / (double)N, tm2 / tf);
      bench_row("batch", label, "library_vs_lmder_loop", tm2 / tf, "x");
      free(qcol);
#else
      printf("\n");
#endif
      free(par);
    }
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
  loadavg(load1, sizeof load1);
  printf(" load average after: %s\n", load1);
  free_problem(&p);
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--peer-cminpack")) return peer_cminpack(argc, argv);
  int quick = 0, large = 0, keep = 0, repeats = 3;
  const char *only = NULL;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--quick")) quick = 1;
    else if (!strcmp(argv[i], "--large")) large = 1;
    else if (!strcmp(argv[i], "--keep")) keep = 1;
    else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
    else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = atoi(argv[++i]);
  }
  if (repeats < 1) repeats = 1;
  if (repeats > 16) repeats = 16;
  bench_print_machine();
  char dir[1024];
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/fitcl_bench_batch_XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
  if (!mkdtemp(dir)) return 1;
  printf("# data under %s\n", dir);
  if (quick) {
    run_case(dir, 0, 100000, 64, repeats); /* the target alone */
  } else {
    const int gauss = !only || !strcmp(only, "gaussian"), xpcs = !only || !strcmp(only, "xpcs");
    if (gauss) {
      run_case(dir, 0, 100000, 64, repeats); /* the target */
      run_case(dir, 0, 10000, 64, repeats);
      run_case(dir, 0, 100000, 200, repeats);
    }
    if (xpcs) {
      run_case(dir, 1, 10000, 64, repeats);
      run_case(dir, 1, 100000, 200, repeats);
    }
    if (large && gauss) run_case(dir, 0, 1000000, 64, repeats);
  }
  if (keep) return 0;
  char cmd[1100];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : 1;
}
