/* Benchmark: one context over two devices against one device, in the same
 * run.  The log-likelihood (and log-likelihood plus gradient) of a random
 * binary tree with families drawn at presence rates that vary by family,
 * on `cpu`, on the OpenCL device alone and on `cpu+<that device>`; every
 * variant must print the same log-likelihood bits (the program fails
 * otherwise).  On a machine whose OpenCL device is PoCL on the same cores
 * the two devices share the CPU, so the ratio shows the cost of the hand-out
 * rather than a gain; with a GPU it is the point of the layer.
 * Then the same for the accumulation pass (JᵀJ, Jᵀr and the cost, what
 * curve-fit runs every iteration) of the built-in exp_decay model over
 * `points` points in chunks of 2^20: every variant must give the same sums.
 *
 * Usage: bench_multidevice [taxa [families [rounds [opencl selector [points]]]]]
 *        (default 100 taxa, 100,000 families, 5 rounds, "opencl", 4,000,000). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "fitcl.h"

static fitcl_data *make_data(int nt, size_t nf) {
  uint64_t s = 0x2545f4914f6cdd1dull;
  char **nodes = malloc(sizeof(char *) * (size_t)nt);
  int alive = nt;
  for (int t = 0; t < nt; ++t) {
    nodes[t] = malloc(64);
    snprintf(nodes[t], 64, "t%d:%.3f", t, 0.02 + 0.001 * (t % 50));
  }
  while (alive > 1) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    int a = (int)((s >> 33) % (uint64_t)alive);
    int b = (a + 1 + (int)((s >> 40) % (uint64_t)(alive - 1))) % alive;
    size_t len = strlen(nodes[a]) + strlen(nodes[b]) + 32;
    char *joined = malloc(len);
    snprintf(joined, len, "(%s,%s):%.3f", nodes[a], nodes[b], 0.01 + 0.0005 * (alive % 40));
    int lo = a < b ? a : b, hi = a < b ? b : a;
    free(nodes[a]);
    free(nodes[b]);
    nodes[lo] = joined;
    nodes[hi] = nodes[alive - 1];
    alive--;
  }
  *strrchr(nodes[0], ':') = '\0'; /* the root has no branch */
  size_t len = strlen(nodes[0]);
  char *text = malloc(len + 2);
  memcpy(text, nodes[0], len);
  memcpy(text + len, ";", 2);
  free(nodes[0]);
  free(nodes);
  char err[512] = "";
  fitcl_tree *tree = NULL;
  if (fitcl_tree_parse(text, &tree, err, sizeof err) != FITCL_OK) {
    fprintf(stderr, "tree: %s\n", err);
    exit(1);
  }
  free(text);
  uint8_t *v = malloc(nf * (size_t)nt);
  char (*names)[16] = malloc(sizeof(*names) * (size_t)nt);
  const char **taxa = malloc(sizeof(char *) * (size_t)nt);
  for (int t = 0; t < nt; ++t) {
    snprintf(names[t], sizeof names[t], "t%d", t);
    taxa[t] = names[t];
  }
  for (size_t f = 0; f < nf; ++f) {
    double p = 0.02 + 0.96 * (double)(f % 97) / 96.0;
    int any = 0;
    for (int t = 0; t < nt; ++t) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      v[f * (size_t)nt + (size_t)t] = (double)(s >> 11) * 0x1p-53 < p;
      any |= v[f * (size_t)nt + (size_t)t];
    }
    if (!any) v[f * (size_t)nt + f % (size_t)nt] = 1;
  }
  fitcl_pamatrix *mat = NULL;
  fitcl_data *data = NULL;
  if (fitcl_pamatrix_create(nf, (size_t)nt, v, NULL, taxa, &mat, err, sizeof err) != FITCL_OK ||
      fitcl_data_build(tree, mat, NULL, &data, err, sizeof err) != FITCL_OK) {
    fprintf(stderr, "data: %s\n", err);
    exit(1);
  }
  free(v);
  free(names);
  free(taxa);
  fitcl_pamatrix_destroy(mat);
  fitcl_tree_destroy(tree);
  return data;
}

typedef struct result {
  double ll, ll_med, grad_med;
  double share1; /* the second device's share of the blocks */
} result;

static int run(const char *sel, const fitcl_data *data, int rounds, result *r) {
  fitcl_context_options o;
  memset(&o, 0, sizeof o);
  o.device = sel;
  fitcl_context *ctx = NULL;
  if (fitcl_context_create(&o, &ctx) != FITCL_OK) {
    fprintf(stderr, "%s: %s\n", sel, ctx ? fitcl_errmsg(ctx) : "out of memory");
    fitcl_context_destroy(ctx);
    return 1;
  }
  fitcl_lik_options lo;
  memset(&lo, 0, sizeof lo);
  lo.gamma_cats = 4;
  fitcl_lik *lik = NULL;
  if (fitcl_lik_create(ctx, data, &lo, &lik) != FITCL_OK) {
    fprintf(stderr, "%s: %s\n", sel, fitcl_errmsg(ctx));
    return 1;
  }
  fitcl_gl_params p = {0.5, 1.0, 0.7, NULL, NULL};
  double grad[8], *t = malloc(sizeof(double) * (size_t)rounds), mn;
  fitcl_lik_eval(lik, &p, &r->ll, NULL); /* warm: first launches, page faults */
  for (int k = 0; k < rounds; ++k) {
    double t0 = bench_now();
    fitcl_lik_eval(lik, &p, &r->ll, NULL);
    t[k] = bench_now() - t0;
  }
  bench_stats(t, (size_t)rounds, &mn, &r->ll_med);
  double llg;
  for (int k = 0; k < rounds; ++k) {
    double t0 = bench_now();
    fitcl_lik_eval(lik, &p, &llg, grad);
    t[k] = bench_now() - t0;
  }
  bench_stats(t, (size_t)rounds, &mn, &r->grad_med);
  free(t);
  fitcl_context_info info;
  fitcl_context_get_info(ctx, &info);
  r->share1 = 0;
  if (info.ndevices == 2) {
    fitcl_context_device_info d0, d1;
    fitcl_context_device(ctx, 0, &d0);
    fitcl_context_device(ctx, 1, &d1);
    r->share1 = (double)d1.blocks / (double)(d0.blocks + d1.blocks);
  }
  fitcl_lik_destroy(lik);
  fitcl_context_destroy(ctx);
  return 0;
}

/* Median seconds of a Jacobian pass over n points; *sums gets its JᵀJ,
 * Jᵀr and cost. */
static int run_accum(const char *sel, size_t n, int rounds, double *sums, double *med,
                     double *share1) {
  fitcl_context_options o;
  memset(&o, 0, sizeof o);
  o.device = sel;
  fitcl_context *ctx = NULL;
  fitcl_model *m = NULL;
  fitcl_accum *a = NULL;
  if (fitcl_context_create(&o, &ctx) != FITCL_OK || fitcl_model_builtin(ctx, "exp_decay", &m) ||
      fitcl_accum_create(ctx, m, NULL, &a)) {
    fprintf(stderr, "%s: %s\n", sel, ctx ? fitcl_errmsg(ctx) : "out of memory");
    return 1;
  }
  double *x = fitcl_alloc_column(n), *y = fitcl_alloc_column(n);
  for (size_t i = 0; i < n; ++i) {
    x[i] = 10.0 * (double)i / (double)n;
    y[i] = 3.0 * exp(-0.7 * x[i]) + 0.5 + 0.01 * (double)(i % 7);
  }
  const double p[3] = {2.5, 0.6, 0.4};
  const size_t chunk = (size_t)1 << 20;
  double *t = malloc(sizeof(double) * (size_t)(rounds + 1)), mn;
  fitcl_accum_sums s;
  for (int k = 0; k <= rounds; ++k) { /* the first warms: launches, speeds */
    double t0 = bench_now();
    fitcl_accum_begin(a, p, 1);
    for (size_t at = 0; at < n; at += chunk) {
      const double *xs[1] = {x + at};
      size_t len = n - at < chunk ? n - at : chunk;
      if (fitcl_accum_chunk(a, xs, y + at, NULL, len) != FITCL_OK) return 1;
    }
    if (fitcl_accum_end(a, &s) != FITCL_OK) {
      fprintf(stderr, "%s: %s\n", sel, fitcl_errmsg(ctx));
      return 1;
    }
    if (k) t[k - 1] = bench_now() - t0;
  }
  bench_stats(t, (size_t)rounds, &mn, med);
  memcpy(sums, s.jtj, 9 * sizeof(double));
  memcpy(sums + 9, s.jtr, 3 * sizeof(double));
  sums[12] = s.cost;
  fitcl_context_info info;
  fitcl_context_get_info(ctx, &info);
  *share1 = 0;
  if (info.ndevices == 2) {
    fitcl_context_device_info d0, d1;
    fitcl_context_device(ctx, 0, &d0);
    fitcl_context_device(ctx, 1, &d1);
    *share1 = (double)d1.blocks / (double)(d0.blocks + d1.blocks);
  }
  free(t);
  free(x);
  free(y);
  fitcl_accum_destroy(a);
  fitcl_model_destroy(m);
  fitcl_context_destroy(ctx);
  return 0;
}

int main(int argc, char **argv) {
  int nt = argc > 1 ? atoi(argv[1]) : 100;
  size_t nf = argc > 2 ? (size_t)atol(argv[2]) : 100000;
  int rounds = argc > 3 ? atoi(argv[3]) : 5;
  const char *ocl = argc > 4 ? argv[4] : "opencl";
  size_t npoints = argc > 5 ? (size_t)atol(argv[5]) : 4000000;
  if (nt < 2 || nf < 1 || rounds < 1 || npoints < 1) {
    fprintf(stderr, "usage: bench_multidevice [taxa [families [rounds [opencl selector "
                    "[points]]]]]\n");
    return 2;
  }
  bench_print_machine();
  bench_print_load("before");
  fitcl_data *data = make_data(nt, nf);
  printf("# %d taxa, %zu families, %zu patterns, 4 rate categories, %d rounds (median)\n", nt, nf,
         fitcl_data_npatterns(data), rounds);
  char both[512];
  snprintf(both, sizeof both, "cpu+%s", ocl);
  const char *sels[3] = {"cpu", ocl, both};
  result r[3];
  for (int i = 0; i < 3; ++i)
    if (run(sels[i], data, rounds, &r[i])) return 1;
  printf("%-28s %12s %12s %10s %10s\n", "devices", "logL (s)", "+grad (s)", "vs cpu",
         "2nd share");
  for (int i = 0; i < 3; ++i) {
    printf("%-28s %12.4f %12.4f %10.3f %10.3f\n", sels[i], r[i].ll_med, r[i].grad_med,
           r[0].ll_med / r[i].ll_med, r[i].share1);
    bench_row("multidevice", sels[i], "loglik_s", r[i].ll_med, "s");
    bench_row("multidevice", sels[i], "loglik_grad_s", r[i].grad_med, "s");
  }
  bench_print_load("after");
  fitcl_data_destroy(data);
  for (int i = 1; i < 3; ++i)
    if (memcmp(&r[i].ll, &r[0].ll, sizeof r[0].ll)) {
      fprintf(stderr, "%s: log L %.17g differs from cpu's %.17g\n", sels[i], r[i].ll, r[0].ll);
      return 1;
    }
  printf("# log L %.17g on every variant\n", r[0].ll);

  printf("# accumulation: exp_decay, %zu points, chunks of 2^20, %d rounds (median)\n", npoints,
         rounds);
  printf("%-28s %12s %10s %10s\n", "devices", "pass (s)", "vs cpu", "2nd share");
  double sums[3][13], med[3], share[3];
  for (int i = 0; i < 3; ++i)
    if (run_accum(sels[i], npoints, rounds, sums[i], &med[i], &share[i])) return 1;
  for (int i = 0; i < 3; ++i) {
    printf("%-28s %12.4f %10.3f %10.3f\n", sels[i], med[i], med[0] / med[i], share[i]);
    bench_row("multidevice", sels[i], "accum_pass_s", med[i], "s");
  }
  bench_print_load("after accumulation");
  for (int i = 1; i < 3; ++i)
    if (memcmp(sums[i], sums[0], sizeof sums[0])) {
      fprintf(stderr, "%s: accumulation sums differ from cpu's\n", sels[i]);
      return 1;
    }
  printf("# accumulation sums identical on every variant\n");
  return 0;
}
