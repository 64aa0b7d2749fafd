/* Cosine-similarity credit benchmark: fitcl against JAX (jit on the CPU,
 * jax.value_and_grad, the same math) and PyTorch (autograd) when installed,
 * in the same run on the same inputs written to .npy.  One step = the
 * cosines, the loss and the gradients of both tables (the signal gradient
 * is not materialised, as the peers do not keep it either).
 * Target (2 cores): N = 100,000, D = 256: >= 5x the JAX peer, float32 and
 * float64.
 *
 * usage: bench_credit [--n N] [--d D] [--ncos P] [--nmag M] [--classes C]
 *                     [--repeats R] [--python PY] [--no-peers] [--tmp DIR]
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

static int g_repeats = 7;
static const char *g_python = "python3";
static const char *g_tmp = "/tmp";
static int g_peers = 1;

static void save(const char *dir, const char *name, const char *descr, const void *x,
                 size_t es, size_t rows, size_t cols) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.npy", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) return;
  fitcl_npy_write_header(f, descr, 0, rows, cols);
  fwrite(x, es, cols ? rows * cols : rows, f);
  fclose(f);
}

int main(int argc, char **argv) {
  size_t N = 100000, D = 256, P = 256, M = 64, C = 10;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--n") && i + 1 < argc) N = (size_t)strtod(argv[++i], NULL);
    else if (!strcmp(argv[i], "--d") && i + 1 < argc) D = (size_t)strtod(argv[++i], NULL);
    else if (!strcmp(argv[i], "--ncos") && i + 1 < argc) P = (size_t)strtod(argv[++i], NULL);
    else if (!strcmp(argv[i], "--nmag") && i + 1 < argc) M = (size_t)strtod(argv[++i], NULL);
    else if (!strcmp(argv[i], "--classes") && i + 1 < argc) C = (size_t)strtod(argv[++i], NULL);
    else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) g_repeats = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--python") && i + 1 < argc) g_python = argv[++i];
    else if (!strcmp(argv[i], "--tmp") && i + 1 < argc) g_tmp = argv[++i];
    else if (!strcmp(argv[i], "--no-peers")) g_peers = 0;
    else {
      fprintf(stderr, "usage: bench_credit [--n N] [--d D] [--ncos P] [--nmag M] [--classes C] "
                      "[--repeats R] [--python PY] [--no-peers] [--tmp DIR]\n");
      return 2;
    }
  }
  if (g_repeats < 1 || g_repeats > 100) g_repeats = 7;
  bench_print_machine();
  bench_print_load("at start");
  printf("# N %zu nodes, D %zu, cos_table %zu, mag_table %zu, %zu classes\n", N, D, P, M, C);
  int32_t *phase = malloc(N * D * sizeof *phase), *mag = malloc(N * D * sizeof *mag);
  int32_t *labels = malloc(N * sizeof *labels);
  double *ct = malloc(P * sizeof *ct), *mt = malloc(M * sizeof *mt), *tg = malloc(C * D * sizeof *tg);
  double *w = malloc(N * sizeof *w);
  uint64_t s = 12345;
  for (size_t i = 0; i < N * D; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    phase[i] = (int32_t)((s >> 33) % P);
    mag[i] = (int32_t)((s >> 13) % M);
  }
  for (size_t i = 0; i < N; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    labels[i] = (int32_t)((s >> 33) % C);
    w[i] = 0.5 + (double)((s >> 20) % 1000) / 1000.0;
  }
  for (size_t i = 0; i < P; ++i) ct[i] = cos(6.283185307179586 * (double)i / (double)P);
  for (size_t i = 0; i < M; ++i) mt[i] = 0.05 + (double)i / (double)M;
  for (size_t i = 0; i < C * D; ++i) tg[i] = sin(0.7 * (double)i + 0.3);
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/fitcl-bench-credit-XXXXXX", g_tmp);
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  save(dir, "phase", "<i4", phase, 4, N, D);
  save(dir, "mag", "<i4", mag, 4, N, D);
  save(dir, "labels", "<i4", labels, 4, N, 0);
  save(dir, "cos_table", "<f8", ct, 8, P, 0);
  save(dir, "mag_table", "<f8", mt, 8, M, 0);
  save(dir, "targets", "<f8", tg, 8, C, D);
  save(dir, "weights", "<f8", w, 8, N, 0);
  const char *sel[] = {"cpu", "opencl"};
  for (int f32 = 1; f32 >= 0; --f32) {
    const char *dt = f32 ? "float32" : "float64";
    const size_t es = f32 ? 4 : 8;
    void *ctab = malloc(P * es), *mtab = malloc(M * es), *tgt = malloc(C * D * es), *wt = malloc(N * es);
    void *cos = malloc(N * es), *gc = malloc(P * es), *gm = malloc(M * es);
    for (size_t i = 0; i < P; ++i) f32 ? (void)(((float *)ctab)[i] = (float)ct[i]) : (void)(((double *)ctab)[i] = ct[i]);
    for (size_t i = 0; i < M; ++i) f32 ? (void)(((float *)mtab)[i] = (float)mt[i]) : (void)(((double *)mtab)[i] = mt[i]);
    for (size_t i = 0; i < C * D; ++i) f32 ? (void)(((float *)tgt)[i] = (float)tg[i]) : (void)(((double *)tgt)[i] = tg[i]);
    for (size_t i = 0; i < N; ++i) f32 ? (void)(((float *)wt)[i] = (float)w[i]) : (void)(((double *)wt)[i] = w[i]);
    fitcl_credit_inputs in = {.dtype = f32 ? FITCL_FLOAT32 : FITCL_FLOAT64, .n = N, .d = D,
                              .phase = phase, .mag = mag, .cos_table = ctab, .ncos = P,
                              .mag_table = mtab, .nmag = M, .targets = tgt, .nclass = C,
                              .labels = labels, .weights = wt};
    printf("\n%s: cosines, loss and both table gradients\n", dt);
    char label[64];
    snprintf(label, sizeof label, "credit_%zux%zu_%s", N, D, dt);
    double fitcl_med = 0;
    for (int b = 0; b < 2; ++b) {
      fitcl_context_options o = {0};
      o.device = sel[b];
      fitcl_context *ctx = NULL;
      if (fitcl_context_create(&o, &ctx) != FITCL_OK) {
        printf("  fitcl %-8s not available: %s\n", sel[b], fitcl_errmsg(ctx));
        fitcl_context_destroy(ctx);
        continue;
      }
      fitcl_credit_outputs out = {.cosine = cos, .grad_cos_table = gc, .grad_mag_table = gm};
      double t[100], mn, md;
      fitcl_credit_cosine(ctx, &in, &out); /* warm-up */
      for (int r = 0; r < g_repeats; ++r) {
        const double t0 = bench_now();
        if (fitcl_credit_cosine(ctx, &in, &out) != FITCL_OK) {
          printf("  fitcl %s: %s\n", sel[b], fitcl_errmsg(ctx));
          return 1;
        }
        t[r] = bench_now() - t0;
      }
      bench_stats(t, (size_t)g_repeats, &mn, &md);
      printf("  fitcl %-14s min %8.1f ms  median %8.1f ms  loss %.10g\n", sel[b], mn * 1e3,
             md * 1e3, out.loss);
      char v[64];
      snprintf(v, sizeof v, "fitcl %s", sel[b]);
      bench_row("credit", label, v, md, "s");
      if (b == 0) fitcl_med = md;
      /* With the signal gradient materialised as well (N x D outputs). */
      if (b == 0) {
        void *gs = malloc(N * D * es);
        out.grad_signal = gs;
        for (int r = 0; r < g_repeats; ++r) {
          const double t0 = bench_now();
          fitcl_credit_cosine(ctx, &in, &out);
          t[r] = bench_now() - t0;
        }
        bench_stats(t, (size_t)g_repeats, &mn, &md);
        printf("  fitcl %-14s min %8.1f ms  median %8.1f ms\n", "cpu + dL/ds", mn * 1e3, md * 1e3);
        bench_row("credit", label, "fitcl cpu + grad_signal", md, "s");
        free(gs);
      }
      fitcl_context_destroy(ctx);
    }
    if (g_peers) {
      const char *peers[] = {"jax", "torch"};
      for (int p = 0; p < 2; ++p) {
        char script[1024], args[1200], json[4096];
        snprintf(script, sizeof script, "%s/credit_peer.py",
#ifdef FITCL_PEERS_DIR
                 FITCL_PEERS_DIR
#else
                 "benchmarks/peers"
#endif
        );
        snprintf(args, sizeof args, "%s %s %s %d", peers[p], dir, dt, g_repeats);
        int rc = bench_run_peer(g_python, script, args, json, sizeof json);
        const char *sk = strstr(json, "\"skip\": \"");
        if (!json[0] || sk) {
          printf("  %-20s skipped: %.*s\n", peers[p], sk ? (int)strcspn(sk + 9, "\"") : 40,
                 sk ? sk + 9 : "no result from the Python peer");
          (void)rc;
          continue;
        }
        const double mn = bench_json_num(json, "min"), md = bench_json_num(json, "median");
        printf("  %-20s min %8.1f ms  median %8.1f ms  loss %.10g  (fitcl cpu %.1fx faster)\n",
               peers[p], mn * 1e3, md * 1e3, bench_json_num(json, "loss"), md / fitcl_med);
        bench_row("credit", label, peers[p], md, "s");
        char ratio[64];
        snprintf(ratio, sizeof ratio, "speedup_vs_%s", peers[p]);
        bench_row("credit", label, ratio, md / fitcl_med, "x");
      }
    }
    free(ctab); free(mtab); free(tgt); free(wt); free(cos); free(gc); free(gm);
    fflush(stdout);
  }
  bench_print_load("at end");
  const char *files[] = {"phase", "mag", "labels", "cos_table", "mag_table", "targets", "weights"};
  for (size_t f = 0; f < sizeof files / sizeof files[0]; ++f) {
    char p[1100];
    snprintf(p, sizeof p, "%s/%s.npy", dir, files[f]);
    unlink(p);
  }
  rmdir(dir);
  free(phase); free(mag); free(labels); free(ct); free(mt); free(tg); free(w);
  return 0;
}
