/* Value-of-information benchmark: fitcl against NumPy and voiage (Python,
 * same run, same data written to .npy):
 *   (a) EVPI of 500,000 samples x 4 strategies (target <= 2 ms in-process,
 *       >= 10x NumPy, >= 100x voiage);
 *   (b) EVPI and acceptability over 100 willingness-to-pay values from
 *       costs and effects (target <= 100 ms);
 *   (c) EVPPI of one parameter on 100,000 samples of a linear-Gaussian
 *       model with a closed form (target within 2 %, >= 10x voiage).
 *
 * usage: bench_voi [--repeats R] [--python PY] [--no-peers] [--tmp DIR]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tests/common/npy_write.h"
#include "bench_util.h"
#include "fitcl.h"

static int g_repeats = 20;
static const char *g_python = "python3";
static const char *g_tmp = "/tmp";
static int g_peers = 1;

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static double urand(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return ((double)((rng * 2685821657736338717ULL) >> 11) + 0.5) / 9007199254740992.0;
}
static double gauss(void) { return sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand()); }

static void save(const char *dir, const char *name, const double *x, size_t rows, size_t cols) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.npy", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) return;
  fitcl_npy_write_header(f, "<f8", 0, rows, cols);
  fwrite(x, sizeof *x, cols ? rows * cols : rows, f);
  fclose(f);
}

static const char *peers_dir(void) {
#ifdef FITCL_PEERS_DIR
  return FITCL_PEERS_DIR;
#else
  return "benchmarks/peers";
#endif
}

/* Runs peer `who` on `task` and prints it next to fitcl's median. */
static void peer(const char *who, const char *task, const char *dir, int repeats,
                 double fitcl_median, const char *unit_label) {
  char script[1024], args[1024], json[16384];
  snprintf(script, sizeof script, "%s/voi_peer.py", peers_dir());
  snprintf(args, sizeof args, "%s %s %s %d", who, task, dir, repeats);
  int rc = bench_run_peer(g_python, script, args, json, sizeof json);
  if (!json[0]) {
    printf("  %-22s skipped: %s exited %d without a result\n", who, g_python, rc);
    return;
  }
  const char *sk = strstr(json, "\"skip\": \"");
  if (sk) {
    printf("  %-22s skipped: %.*s\n", who, (int)strcspn(sk + 9, "\""), sk + 9);
    return;
  }
  const double mn = bench_json_num(json, "min"), md = bench_json_num(json, "median");
  printf("  %-22s min %9.3f ms  median %9.3f ms  value %.10g  (fitcl %.1fx faster)\n", who,
         mn * 1e3, md * 1e3, bench_json_num(json, "value"), md / fitcl_median);
  bench_row("voi", unit_label, who, md, "s");
  char ratio[64];
  snprintf(ratio, sizeof ratio, "speedup_vs_%s", who);
  bench_row("voi", unit_label, ratio, md / fitcl_median, "x");
}

typedef struct timing { double min, median; } timing;

#define TIME(reps, call)                                                  \
  ({                                                                      \
    double t_[256];                                                       \
    int r_ = (reps) > 256 ? 256 : (reps);                                 \
    (void)(call); /* warm-up */                                           \
    for (int i_ = 0; i_ < r_; ++i_) {                                     \
      double t0_ = bench_now();                                           \
      if ((call) != FITCL_OK) return;                                     \
      t_[i_] = bench_now() - t0_;                                         \
    }                                                                     \
    timing tm_;                                                           \
    bench_stats(t_, (size_t)r_, &tm_.min, &tm_.median);                   \
    tm_;                                                                  \
  })

static void report(const char *label, const char *variant, timing t) {
  printf("  %-22s min %9.3f ms  median %9.3f ms\n", variant, t.min * 1e3, t.median * 1e3);
  bench_row("voi", label, variant, t.median, "s");
}

static void bench_evpi(fitcl_context **ctx, const char **names, int nctx, const char *dir) {
  const size_t n = 500000, k = 4;
  double *nb = malloc(n * k * sizeof *nb);
  for (size_t i = 0; i < n; ++i) {
    const double common = 2e4 + 3e3 * gauss();
    for (size_t j = 0; j < k; ++j) nb[i * k + j] = common + 150.0 * (double)j + 900 * gauss();
  }
  save(dir, "nb", nb, n, k);
  printf("\n(a) EVPI, %zu samples x %zu strategies (EVPI, expected NB, P(best))\n", n, k);
  double fitcl_med = 0, evpi = 0, enb[4], pb[4];
  for (int c = 0; c < nctx; ++c) {
    timing t = TIME(g_repeats * 5, fitcl_evpi(ctx[c], nb, n, k, &evpi, enb, pb));
    char v[64];
    snprintf(v, sizeof v, "fitcl %s", names[c]);
    report("evpi_500000x4", v, t);
    if (c == 0) fitcl_med = t.median;
  }
  printf("  EVPI %.10g\n", evpi);
  if (g_peers) {
    peer("numpy", "evpi", dir, g_repeats, fitcl_med, "evpi_500000x4");
    peer("voiage", "evpi", dir, g_repeats, fitcl_med, "evpi_500000x4");
  }
  free(nb);
}

static void bench_wtp(fitcl_context **ctx, const char **names, int nctx, const char *dir) {
  const size_t n = 500000, k = 4, nw = 100;
  double *c = malloc(n * k * sizeof *c), *e = malloc(n * k * sizeof *e), wtp[100];
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < k; ++j) {
      c[i * k + j] = 1e4 + 2e3 * (double)j + 1500 * gauss();
      e[i * k + j] = 5 + 0.08 * (double)j + 0.3 * gauss();
    }
  for (size_t w = 0; w < nw; ++w) wtp[w] = 1000.0 * (double)w;
  save(dir, "c", c, n, k);
  save(dir, "e", e, n, k);
  save(dir, "wtp", wtp, nw, 0);
  printf("\n(b) EVPI and CEAC over %zu willingness-to-pay values, %zu x %zu costs and effects\n",
         nw, n, k);
  double ev[100], enb[400], ceac[400], ceaf[100], fitcl_med = 0;
  int32_t best[100];
  for (int q = 0; q < nctx; ++q) {
    timing t = TIME(g_repeats / 4 + 2,
                    fitcl_evpi_wtp(ctx[q], c, e, n, k, wtp, nw, ev, enb, ceac, best, ceaf));
    char v[64];
    snprintf(v, sizeof v, "fitcl %s", names[q]);
    report("wtp_sweep_100", v, t);
    if (q == 0) fitcl_med = t.median;
  }
  printf("  EVPI at the last value %.10g\n", ev[nw - 1]);
  if (g_peers) {
    peer("numpy", "wtp", dir, 3, fitcl_med, "wtp_sweep_100");
    peer("voiage", "wtp", dir, 3, fitcl_med, "wtp_sweep_100");
  }
  free(c);
  free(e);
}

/* NB_0 = 0, NB_1 = a + bθ + φ: EVPPI(θ) = a Φ(a/b) + b φ(a/b) − max(0, a). */
static void bench_evppi(fitcl_context **ctx, const char **names, int nctx, const char *dir) {
  const size_t n = 100000;
  const double a = 0.3, b = 2.0, tau = 3.0;
  double *nb = malloc(n * 2 * sizeof *nb), *th = malloc(n * 2 * sizeof *th);
  for (size_t i = 0; i < n; ++i) {
    const double t = gauss(), ph = tau * gauss();
    th[i * 2] = t;
    th[i * 2 + 1] = ph;
    nb[i * 2] = 0;
    nb[i * 2 + 1] = a + b * t + ph;
  }
  save(dir, "nb", nb, n, 2);
  save(dir, "theta", th, n, 2);
  const double z = a / b;
  const double exact =
      a * 0.5 * erfc(-z / sqrt(2)) + b * exp(-0.5 * z * z) / sqrt(2 * M_PI) - (a > 0 ? a : 0);
  printf("\n(c) EVPPI of one parameter, %zu samples, linear-Gaussian model (closed form %.6f)\n",
         n, exact);
  const size_t of[] = {0};
  fitcl_evppi_options no_se = {.se_draws = -1}, with_se = {0};
  fitcl_evppi_result r;
  double fitcl_med = 0;
  for (int q = 0; q < nctx; ++q) {
    timing t = TIME(g_repeats, fitcl_evppi(ctx[q], nb, n, 2, th, 2, of, 1, &no_se, &r));
    char v[64];
    snprintf(v, sizeof v, "fitcl %s", names[q]);
    report("evppi_100000", v, t);
    if (q == 0) fitcl_med = t.median;
  }
  printf("  EVPPI %.6f, %.2f %% from the closed form\n", r.evppi, 100 * (r.evppi / exact - 1));
  bench_row("voi", "evppi_100000", "rel_error_pct", 100 * fabs(r.evppi / exact - 1), "%");
  timing t = TIME(g_repeats / 4 + 2, fitcl_evppi(ctx[0], nb, n, 2, th, 2, of, 1, &with_se, &r));
  char v[64];
  snprintf(v, sizeof v, "fitcl %s + se (%d draws)", names[0], 96);
  report("evppi_100000", v, t);
  printf("  EVPPI %.6f, standard error %.6f\n", r.evppi, r.se);
  if (g_peers) peer("voiage", "evppi", dir, g_repeats / 2 + 1, fitcl_med, "evppi_100000");
  free(nb);
  free(th);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--repeats") && i + 1 < argc) {
      g_repeats = atoi(argv[++i]);
      if (g_repeats < 4) g_repeats = 4;
    } else if (!strcmp(argv[i], "--python") && i + 1 < argc) {
      g_python = argv[++i];
    } else if (!strcmp(argv[i], "--tmp") && i + 1 < argc) {
      g_tmp = argv[++i];
    } else if (!strcmp(argv[i], "--no-peers")) {
      g_peers = 0;
    } else {
      fprintf(stderr, "usage: bench_voi [--repeats R] [--python PY] [--no-peers] [--tmp DIR]\n");
      return 2;
    }
  }
  bench_print_machine();
  bench_print_load("at start");
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/fitcl-bench-voi-XXXXXX", g_tmp);
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  const char *sel[] = {"cpu", "opencl"};
  fitcl_context *ctx[2];
  const char *names[2];
  int nctx = 0;
  for (int s = 0; s < 2; ++s) {
    fitcl_context_options o = {0};
    o.device = sel[s];
    if (fitcl_context_create(&o, &ctx[nctx]) == FITCL_OK) {
      fitcl_context_info info;
      fitcl_context_get_info(ctx[nctx], &info);
      printf("# fitcl %s: %s, %d threads\n", sel[s], info.device, info.threads);
      names[nctx++] = sel[s];
    } else {
      printf("# fitcl %s: not available (%s)\n", sel[s], fitcl_errmsg(ctx[nctx]));
      fitcl_context_destroy(ctx[nctx]);
    }
  }
  if (!nctx) return 1;
  printf("# peers via %s: NumPy, voiage\n", g_python);
  bench_evpi(ctx, names, nctx, dir);
  fflush(stdout);
  bench_wtp(ctx, names, nctx, dir);
  fflush(stdout);
  bench_evppi(ctx, names, nctx, dir);
  bench_print_load("at end");
  for (int c = 0; c < nctx; ++c) fitcl_context_destroy(ctx[c]);
  const char *files[] = {"nb", "c", "e", "wtp", "theta"};
  for (size_t f = 0; f < sizeof files / sizeof files[0]; ++f) {
    char p[1100];
    snprintf(p, sizeof p, "%s/%s.npy", dir, files[f]);
    unlink(p);
  }
  rmdir(dir);
  return 0;
}
