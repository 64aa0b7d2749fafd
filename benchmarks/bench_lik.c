/* Benchmark (b) and (c): gain/loss log-likelihood, and log-likelihood plus
 * analytic gradient, at several taxa x families sizes on the pthreads
 * backend and on OpenCL (PoCL on a CPU here), with BEAGLE's CPU
 * implementation on the same patterns in the same run (2 states, double
 * precision, manual rescaling, its own eigen-based transition matrices,
 * C++ threads with as many threads as fitcl's pool).
 *
 * Data: a random binary tree, families simulated under the model (gain 0.5,
 * loss 1.0) and compressed into patterns, as an analysis would see them.
 * Usage: bench_lik [max_taxa]   (default 1000; 10000 adds 10,000 x 1,000,000).
 *        bench_lik --precision [rounds]   (the OpenCL precision modes, run_precision).
 *
 * 10,000 x 1,000,000 runs in ranges so that every peer can take part:
 * BEAGLE keeps 4-state partials for every node and pattern (64 GB at
 * 100,000 patterns), and the OpenCL backend's tip states are one byte a
 * cell (10 GB; the patterns and the pthreads backend's masks take two bits
 * a cell, 2.5 GB each, so `fitcl loglik` runs it whole).  It runs the way
 * the API is meant to scale out (docs/ARCHITECTURE.md, "Scaling out"): families split
 * into ranges of 10,000, one handle per range, partial log-likelihoods and
 * gradients added.  Its times are the sums over the ranges of the
 * evaluation times alone (building the data and the handles is not
 * counted). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "../tests/lik_fixture.h"
#include "bench_util.h"
#include "fitcl.h"
#include "core/context.h"
#include "device/backend.h"
#include "core/pool.h"
#include "phylo/data.h"

#if FITCL_HAVE_BEAGLE
#include "beagle_peer.h"
#endif

static void simulate(const fitcl__tree *t, size_t nfam, double g, double l, uint64_t *seed,
                     uint8_t *out /* [nfam][ntips] */) {
  uint8_t *st = malloc(t->nnodes);
  double P[2][2];
  double (*pm)[2][2] = malloc(sizeof(double[2][2]) * t->nnodes);
  for (int v = 0; v < t->nnodes - 1; ++v) {
    fx_pmat(g, l, t->brlen[v], P);
    memcpy(pm[v], P, sizeof P);
  }
  const double pi1 = g / (g + l);
  for (size_t f = 0; f < nfam; ++f) {
    for (;;) {
      st[t->nnodes - 1] = fx_rand(seed) < pi1;
      for (int v = t->nnodes - 2; v >= 0; --v) st[v] = fx_rand(seed) < pm[v][st[t->parent[v]]][1];
      int any = 0;
      for (int i = 0; i < t->ntips; ++i) any |= st[i];
      if (any) break; /* observed families only, as pangenome tools write them */
    }
    memcpy(out + f * t->ntips, st, t->ntips);
  }
  free(st);
  free(pm);
}

/* min and median wall time per evaluation, and the process CPU time per
 * evaluation (all threads): on a shared machine the CPU time is the figure
 * that other load disturbs least. */
typedef struct timing { double min, med, cpu; } timing;

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
         (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

static timing time_fitcl(fitcl_lik *lik, const fitcl_gl_params *p, int grad, double budget) {
  double ll, *gv = grad ? calloc(fitcl_lik_grad_size(lik), sizeof(double)) : NULL;
  double t0 = bench_now();
  fitcl_lik_eval(lik, p, &ll, gv);
  fitcl_lik_eval(lik, p, &ll, gv);
  double once = (bench_now() - t0) / 2;
  int reps = (int)(budget / (once > 1e-9 ? once : 1e-9));
  if (reps < 5) reps = 5;
  if (reps > 500) reps = 500;
  double *ts = malloc(sizeof(double) * reps);
  const double c0 = cpu_seconds();
  for (int r = 0; r < reps; ++r) {
    double a = bench_now();
    fitcl_lik_eval(lik, p, &ll, gv);
    ts[r] = bench_now() - a;
  }
  timing out;
  out.cpu = (cpu_seconds() - c0) / reps;
  bench_stats(ts, reps, &out.min, &out.med);
  free(ts);
  free(gv);
  return out;
}

static void report(const char *size, const char *variant, timing t, size_t npat) {
  char v[96];
  snprintf(v, sizeof v, "%s/%s", size, variant);
  printf("%-40s min %10.3f ms  median %10.3f ms  cpu %10.3f ms/eval  (%.1f ns/pattern)\n", v,
         t.min * 1e3, t.med * 1e3, t.cpu * 1e3, t.min * 1e9 / (double)npat);
  bench_row("lik", v, "min_ms", t.min * 1e3, "ms");
  bench_row("lik", v, "cpu_ms", t.cpu * 1e3, "ms");
  bench_row("lik", v, "median_ms", t.med * 1e3, "ms");
}

static const char *r_name(const char *size) {
  static char buf[96];
  snprintf(buf, sizeof buf, "%s/fitcl-cpu", size);
  return buf;
}

/* nfam families simulated on t (gain 0.5, loss 1.0) into states, then
 * compressed into site patterns; 0 (after saying why) when that fails. */
static int simulated_patterns(const fitcl__tree *t, size_t nfam, int ntaxa, uint64_t *seed,
                              uint8_t *states, fitcl__patterns *pat) {
  simulate(t, nfam, 0.5, 1.0, seed, states);
  char err[256];
  if (fitcl__patterns_from_states(pat, nfam, ntaxa, states, NULL, NULL, err, sizeof err) != FITCL_OK) {
    printf("# patterns: %s\n", err);
    return 0;
  }
  return 1;
}

static void run_size(int ntaxa, size_t nfam, int K, fitcl_context *cpu, fitcl_context *ocl) {
  uint64_t seed = 1000 + ntaxa;
  fitcl__tree t;
  fx_random_tree(&t, ntaxa, 0.0, &seed);
  for (int v = 0; v < t.nnodes - 1; ++v) t.brlen[v] *= 0.25;
  uint8_t *states = malloc(nfam * (size_t)ntaxa);
  if (!states) { printf("# %d x %zu: out of memory\n", ntaxa, nfam); return; }
  fitcl__patterns pat;
  int ok = simulated_patterns(&t, nfam, ntaxa, &seed, states, &pat);
  free(states);
  if (!ok) return;
  char size[64];
  snprintf(size, sizeof size, "%dx%zu%s", ntaxa, nfam, K > 1 ? "/K4" : "");
  printf("# %s: %zu patterns, %d gamma categories\n", size, pat.npatterns, K);
  fitcl_gl_params p = {0.5, 1.0, 0.8, NULL, NULL};
  const double budget = nfam >= 100000 ? 3.0 : 1.0;
  fitcl_lik_options o = {0};
  o.gamma_cats = K;
  double ll_cpu = 0, t_cpu = 0, c_cpu = 0;
  fitcl_context *ctxs[2] = {cpu, ocl};
  const char *names[2] = {"fitcl-cpu", "fitcl-opencl"};
  for (int b = 0; b < 2; ++b) {
    if (!ctxs[b]) continue;
    fitcl_lik *lik = NULL;
    if (fitcl__lik_create(ctxs[b], &t, &pat, &o, &lik) != FITCL_OK) {
      printf("# %s: %s\n", names[b], fitcl_errmsg(ctxs[b]));
      continue;
    }
    double ll;
    fitcl_lik_eval(lik, &p, &ll, NULL);
    timing a = time_fitcl(lik, &p, 0, budget);
    char v[64];
    snprintf(v, sizeof v, "%s LL", names[b]);
    report(size, v, a, pat.npatterns);
    timing g = time_fitcl(lik, &p, 1, budget);
    snprintf(v, sizeof v, "%s LL+grad", names[b]);
    report(size, v, g, pat.npatterns);
    printf("#   %s: LL %.12f, LL+grad / LL = %.2f\n", names[b], ll, g.min / a.min);
    char r[96];
    snprintf(r, sizeof r, "%s/%s", size, names[b]);
    bench_row("lik", r, "grad_over_ll", g.min / a.min, "x");
    if (b == 0) { ll_cpu = ll; t_cpu = a.min; c_cpu = a.cpu; }
    fitcl_lik_destroy(lik);
  }
#if FITCL_HAVE_BEAGLE
  {
    beagle_peer bp;
    int threads = fitcl__pool_size(fitcl__ctx_pool(cpu));
    if (beagle_peer_create(&bp, &t, &pat, K, threads) == 0) {
      double rates[64];
      fitcl_gamma_rates(p.alpha, K, rates);
      double ll = beagle_peer_loglik_eigen(&bp, p.gain, p.loss, rates, t.brlen, 1);
      ll = beagle_peer_loglik_eigen(&bp, p.gain, p.loss, rates, t.brlen, 1);
      double t0 = bench_now();
      beagle_peer_loglik_eigen(&bp, p.gain, p.loss, rates, t.brlen, 1);
      double once = bench_now() - t0;
      int reps = (int)(budget / (once > 1e-9 ? once : 1e-9));
      if (reps < 5) reps = 5;
      if (reps > 500) reps = 500;
      double *ts = malloc(sizeof(double) * reps);
      timing bt;
      const double c0 = cpu_seconds();
      for (int r = 0; r < reps; ++r) {
        double a = bench_now();
        beagle_peer_loglik_eigen(&bp, p.gain, p.loss, rates, t.brlen, 1);
        ts[r] = bench_now() - a;
      }
      bt.cpu = (cpu_seconds() - c0) / reps;
      bench_stats(ts, reps, &bt.min, &bt.med);
      free(ts);
      char v[96];
      snprintf(v, sizeof v, "beagle-cpu LL (%d thr)", threads);
      report(size, v, bt, pat.npatterns);
      printf("#   BEAGLE (%s): LL %.12f (fitcl-cpu %.12f, rel diff %.1e); fitcl-cpu is %.2fx BEAGLE "
             "(wall), %.2fx (cpu time)\n",
             bp.impl, ll, ll_cpu, fabs(ll - ll_cpu) / fabs(ll_cpu), bt.min / t_cpu, bt.cpu / c_cpu);
      bench_row("lik", r_name(size), "speedup_vs_beagle_cpu_time", bt.cpu / c_cpu, "x");
      char r[96];
      snprintf(r, sizeof r, "%s/fitcl-cpu", size);
      bench_row("lik", r, "speedup_vs_beagle", bt.min / t_cpu, "x");
      beagle_peer_destroy(&bp);
    } else {
      printf("# BEAGLE: no instance\n");
    }
  }
#else
  (void)ll_cpu; (void)t_cpu; (void)c_cpu;
  printf("# BEAGLE not built in (hmsbeagle-1 not found)\n");
#endif
  fitcl__patterns_free(&pat);
  fx_tree_free(&t);
}

/* Evaluation time of one handle: `reps` timed calls after `warm` untimed
 * ones; returns the fastest. */
static double eval_time(fitcl_lik *lik, const fitcl_gl_params *p, double *ll, double *g, int warm,
                        int reps) {
  for (int r = 0; r < warm; ++r) fitcl_lik_eval(lik, p, ll, g);
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    double a = bench_now();
    fitcl_lik_eval(lik, p, ll, g);
    double t = bench_now() - a;
    if (t < best) best = t;
  }
  return best;
}

static void range_row(const char *variant, double seconds, size_t npat) {
  printf("%-40s sum over ranges %10.1f ms  (%.1f ns/pattern)\n", variant, seconds * 1e3,
         seconds * 1e9 / (double)npat);
  bench_row("lik", variant, "min_ms", seconds * 1e3, "ms");
}

static void run_ranges(int ntaxa, size_t nfam, size_t range, fitcl_context *cpu,
                       fitcl_context *ocl) {
  uint64_t seed = 1000 + ntaxa;
  fitcl__tree t;
  fx_random_tree(&t, ntaxa, 0.0, &seed);
  for (int v = 0; v < t.nnodes - 1; ++v) t.brlen[v] *= 0.25;
  const size_t nranges = (nfam + range - 1) / range;
  printf("# %dx%zu: %zu ranges of %zu families, one handle each; times are sums over ranges\n",
         ntaxa, nfam, nranges, range);
  fitcl_gl_params p = {0.5, 1.0, 0.8, NULL, NULL};
  fitcl_lik_options o = {0};
  fitcl_context *ctxs[2] = {cpu, ocl};
  const char *names[2] = {"fitcl-cpu", "fitcl-opencl"};
  /* PoCL is several times slower here: one timed call per range. */
  const int warm[2] = {1, 0}, reps[2] = {2, 1};
  double t_ll[2] = {0, 0}, t_gr[2] = {0, 0}, ll_sum[2] = {0, 0}, t_beagle = 0, ll_beagle = 0;
  double dgain[2] = {0, 0}; /* d LL / d log gain, summed over ranges */
  size_t npat = 0;
  uint8_t *states = malloc(range * (size_t)ntaxa);
  if (!states) {
    printf("# %dx%zu: out of memory\n", ntaxa, nfam);
    return;
  }
  for (size_t r = 0; r < nranges; ++r) {
    size_t n = r + 1 < nranges ? range : nfam - r * range;
    fitcl__patterns pat;
    if (!simulated_patterns(&t, n, ntaxa, &seed, states, &pat)) break;
    npat += pat.npatterns;
    for (int b = 0; b < 2; ++b) {
      if (!ctxs[b]) continue;
      fitcl_lik *lik = NULL;
      if (fitcl__lik_create(ctxs[b], &t, &pat, &o, &lik) != FITCL_OK) {
        printf("# %s: %s\n", names[b], fitcl_errmsg(ctxs[b]));
        ctxs[b] = NULL;
        continue;
      }
      double ll, *g = calloc(fitcl_lik_grad_size(lik), sizeof(double));
      t_ll[b] += eval_time(lik, &p, &ll, NULL, warm[b], reps[b]);
      ll_sum[b] += ll;
      t_gr[b] += eval_time(lik, &p, &ll, g, warm[b], reps[b]);
      dgain[b] += g[0];
      free(g);
      fitcl_lik_destroy(lik);
    }
#if FITCL_HAVE_BEAGLE
    beagle_peer bp;
    int threads = fitcl__pool_size(fitcl__ctx_pool(cpu));
    if (beagle_peer_create(&bp, &t, &pat, 1, threads) == 0) {
      double rates[1] = {1.0};
      beagle_peer_loglik_eigen(&bp, p.gain, p.loss, rates, t.brlen, 1);
      double a = bench_now();
      ll_beagle += beagle_peer_loglik_eigen(&bp, p.gain, p.loss, rates, t.brlen, 1);
      t_beagle += bench_now() - a;
      beagle_peer_destroy(&bp);
    }
#endif
    fitcl__patterns_free(&pat);
    if ((r + 1) % 10 == 0) printf("#   %zu/%zu ranges done\n", r + 1, nranges);
  }
  free(states);
  char size[64];
  snprintf(size, sizeof size, "%dx%zu", ntaxa, nfam);
  for (int b = 0; b < 2; ++b) {
    if (!ctxs[b]) continue;
    char v[96];
    snprintf(v, sizeof v, "%s/%s LL", size, names[b]);
    range_row(v, t_ll[b], npat);
    snprintf(v, sizeof v, "%s/%s LL+grad", size, names[b]);
    range_row(v, t_gr[b], npat);
    printf("#   %s: LL %.12f, dLL/dlog(gain) %.9g, LL+grad / LL = %.2f\n", names[b], ll_sum[b],
           dgain[b], t_gr[b] / t_ll[b]);
  }
  if (t_beagle > 0) {
    char v[96];
    snprintf(v, sizeof v, "%s/beagle-cpu LL", size);
    range_row(v, t_beagle, npat);
    printf("#   BEAGLE: LL %.12f (fitcl-cpu %.12f, rel diff %.1e); fitcl-cpu is %.2fx BEAGLE\n",
           ll_beagle, ll_sum[0], fabs(ll_beagle - ll_sum[0]) / fabs(ll_sum[0]), t_beagle / t_ll[0]);
  }
  if (ctxs[1])
    printf("#   cpu vs opencl LL rel diff %.1e\n", fabs(ll_sum[0] - ll_sum[1]) / fabs(ll_sum[0]));
  fx_tree_free(&t);
}

/* --precision: the OpenCL likelihood in each precision mode against
 * double on the same handle data (docs/likelihood.md, "Precision"): the
 * log-likelihood's relative error, the gradient's largest error relative
 * to its largest component, and the time per evaluation as a ratio to
 * double, fastest wall time and total process CPU time (PoCL's threads
 * included; what other load disturbs least).  The modes are timed in turns,
 * one evaluation each per round, so that load on a shared machine falls on
 * all of them alike.  Until the
 * context options choose the mode, the device's caps are set after
 * creating each context, as the tests do. */
typedef struct prec_mode {
  const char *name;
  fitcl_precision prec;
  int fp64;
} prec_mode;

static void run_precision(int ntaxa, size_t nfam, int K, const char *selector, int rounds) {
  static const prec_mode modes[] = {{"double", FITCL_PRECISION_DOUBLE, 1},
                                    {"mixed", FITCL_PRECISION_MIXED, 1},
                                    {"mixed-nofp64", FITCL_PRECISION_MIXED, 0},
                                    {"single", FITCL_PRECISION_SINGLE, 1}};
  enum { NM = sizeof modes / sizeof modes[0] };
  uint64_t seed = 1000 + ntaxa;
  fitcl__tree t;
  fx_random_tree(&t, ntaxa, 0.0, &seed);
  for (int v = 0; v < t.nnodes - 1; ++v) t.brlen[v] *= 0.25;
  uint8_t *states = malloc(nfam * (size_t)ntaxa);
  fitcl__patterns pat;
  if (!states || !simulated_patterns(&t, nfam, ntaxa, &seed, states, &pat)) {
    free(states);
    fx_tree_free(&t);
    return;
  }
  free(states);
  char size[64];
  snprintf(size, sizeof size, "%dx%zu%s", ntaxa, nfam, K > 1 ? "/K4" : "");
  printf("# %s: %zu patterns, %d gamma categories, %d rounds\n", size, pat.npatterns, K, rounds);
  fitcl_gl_params p = {0.5, 1.0, 0.8, NULL, NULL};
  fitcl_lik_options lo = {0};
  lo.gamma_cats = K;
  fitcl_context *ctx[NM] = {0};
  fitcl_lik *lik[NM] = {0};
  double ll[NM], *g[NM] = {0}, best[NM][2], cpu[NM][2];
  size_t ng = 0;
  int ok = 1;
  for (int m = 0; m < NM && ok; ++m) {
    fitcl_context_options co = {0};
    co.device = selector;
    if (fitcl_context_create(&co, &ctx[m]) != FITCL_OK) {
      printf("# %s: %s\n", modes[m].name, fitcl_errmsg(ctx[m]));
      ok = 0;
      break;
    }
    ctx[m]->backend->caps.precision = modes[m].prec;
    ctx[m]->backend->caps.fp64 = modes[m].fp64;
    if (fitcl__lik_create(ctx[m], &t, &pat, &lo, &lik[m]) != FITCL_OK) {
      printf("# %s: %s\n", modes[m].name, fitcl_errmsg(ctx[m]));
      ok = 0;
      break;
    }
    ng = fitcl_lik_grad_size(lik[m]);
    g[m] = calloc(ng, sizeof(double));
    fitcl_lik_eval(lik[m], &p, &ll[m], g[m]);
    fitcl_lik_eval(lik[m], &p, &ll[m], NULL);
    best[m][0] = best[m][1] = 1e300;
    cpu[m][0] = cpu[m][1] = 0.0;
  }
  for (int r = 0; ok && r < rounds; ++r)
    for (int m = 0; m < NM; ++m)
      for (int w = 0; w < 2; ++w) {
        double x, a = bench_now(), c = cpu_seconds();
        fitcl_lik_eval(lik[m], &p, &x, w ? g[m] : NULL);
        a = bench_now() - a;
        cpu[m][w] += cpu_seconds() - c;
        if (a < best[m][w]) best[m][w] = a;
      }
  if (ok) {
    double gmax = 0.0;
    for (size_t q = 0; q < ng; ++q) gmax = fmax(gmax, fabs(g[0][q]));
    for (int m = 0; m < NM; ++m) {
      double gerr = 0.0;
      for (size_t q = 0; q < ng; ++q) gerr = fmax(gerr, fabs(g[m][q] - g[0][q]));
      const double rel = fabs(ll[m] - ll[0]) / fabs(ll[0]);
      printf("%s/%-13s LL %.12f  rel err %.1e  grad err %.1e  LL %8.2f ms (%.2fx double, cpu "
             "%.2fx)  LL+grad %8.2f ms (%.2fx double, cpu %.2fx)\n",
             size, modes[m].name, ll[m], rel, gmax > 0 ? gerr / gmax : 0.0, best[m][0] * 1e3,
             best[m][0] / best[0][0], cpu[m][0] / cpu[0][0], best[m][1] * 1e3,
             best[m][1] / best[0][1], cpu[m][1] / cpu[0][1]);
      char v[96];
      snprintf(v, sizeof v, "%s/opencl-%s", size, modes[m].name);
      bench_row("lik", v, "ll_rel_err", rel, "");
      bench_row("lik", v, "ll_ratio_to_double", best[m][0] / best[0][0], "x");
      bench_row("lik", v, "grad_ratio_to_double", best[m][1] / best[0][1], "x");
      bench_row("lik", v, "ll_cpu_ratio_to_double", cpu[m][0] / cpu[0][0], "x");
      bench_row("lik", v, "grad_cpu_ratio_to_double", cpu[m][1] / cpu[0][1], "x");
    }
  }
  for (int m = 0; m < NM; ++m) {
    fitcl_lik_destroy(lik[m]);
    fitcl_context_destroy(ctx[m]);
    free(g[m]);
  }
  fitcl__patterns_free(&pat);
  fx_tree_free(&t);
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--precision")) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    bench_print_machine();
    const int rounds = argc > 2 ? atoi(argv[2]) : 5;
    /* The OpenCL device FITCL_DEVICE names, else the first. */
    const char *dev = getenv("FITCL_DEVICE");
    const char *sel = dev && *dev ? dev : "opencl";
    run_precision(200, 20000, 4, sel, rounds > 0 ? rounds : 5);
    run_precision(1000, 20000, 1, sel, rounds > 0 ? rounds : 5);
    return 0;
  }
  if (argc > 1 && (argv[1][0] < '0' || argv[1][0] > '9')) {
    printf("usage: bench_lik [MAX_TAXA]\n"
           "       bench_lik --precision [ROUNDS]\n"
           "  50 x 500 (K=1 and K=4) always; 1000 (default) adds 1,000 x 100,000;\n"
           "  10000 adds 10,000 x 1,000,000 in ranges of 10,000 families (minutes).\n"
           "  --precision: OpenCL double, mixed (with and without fp64) and single on\n"
           "  200 x 20,000 (K=4) and 1,000 x 20,000: errors and times against double.\n");
    return !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ? 0 : 2;
  }
  int max_taxa = argc > 1 ? atoi(argv[1]) : 1000;
  setvbuf(stdout, NULL, _IOLBF, 0); /* progress of a long run shows in a log file */
  bench_print_machine();
  fitcl_context_options o = {0};
  o.device = "cpu";
  fitcl_context *cpu = NULL, *ocl = NULL;
  if (fitcl_context_create(&o, &cpu) != FITCL_OK) return 1;
  o.device = "opencl";
  if (fitcl_context_create(&o, &ocl) != FITCL_OK) {
    printf("# opencl: not available (%s)\n", fitcl_errmsg(ocl));
    fitcl_context_destroy(ocl);
    ocl = NULL;
  } else {
    fitcl_context_info info;
    fitcl_context_get_info(ocl, &info);
    printf("# opencl device: %s (%s)\n", info.device, info.platform);
  }
  printf("# cpu threads: %u\n", fitcl__pool_size(fitcl__ctx_pool(cpu)));
  run_size(50, 500, 1, cpu, ocl);
  run_size(50, 500, 4, cpu, ocl);
  if (max_taxa >= 1000) run_size(1000, 100000, 1, cpu, ocl);
  if (max_taxa >= 10000) run_ranges(10000, 1000000, 10000, cpu, ocl);
  else printf("# 10000 x 1000000 skipped (pass 10000 to run it; it takes several minutes)\n");
  fitcl_context_destroy(ocl);
  fitcl_context_destroy(cpu);
  return 0;
}
