/* Precision modes (docs/precision.md) on the OpenCL device FITCL_DEVICE
 * selects (default: the first OpenCL device), each against double in the
 * same run:
 *
 *   1. the 10M-point double exponential fit of bench_curvefit (4
 *      parameters, unit weights): each mode's parameters and rss against
 *      double's, and the fit's time as a ratio to double's (median of
 *      --repeats);
 *   2. the NIST StRD problems of ../shared/data/nist (FITCL_NIST_DIR), from
 *      both starting points: the digits each mode's parameters share with
 *      the certified values (log relative error, the worst parameter).
 *
 * Modes: double, mixed (fp64 present: sums in double), single, and mixed
 * with FITCL_OPENCL_NO_FP64=1 (sums in compensated float pairs).
 *
 * usage: bench_precision [--points N] [--repeats R] [--no-nist] [--no-fit]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "fitcl.h"

typedef struct mode {
  const char *name;
  fitcl_precision precision;
  int no_fp64;
} mode;

static const mode modes[] = {{"double", FITCL_PRECISION_DOUBLE, 0},
                             {"mixed", FITCL_PRECISION_MIXED, 0},
                             {"single", FITCL_PRECISION_SINGLE, 0},
                             {"mixed_nofp64", FITCL_PRECISION_MIXED, 1}};
enum { NMODES = 4 };

static fitcl_context *open_mode(const mode *md) {
  if (md->no_fp64) setenv("FITCL_OPENCL_NO_FP64", "1", 1);
  else unsetenv("FITCL_OPENCL_NO_FP64");
  fitcl_context_options o = {0};
  const char *dev = getenv("FITCL_DEVICE");
  o.device = dev && *dev ? dev : "opencl";
  o.precision = md->precision;
  fitcl_context *ctx = NULL;
  fitcl_status st = fitcl_context_create(&o, &ctx);
  if (st != FITCL_OK) {
    printf("%s: context: %s\n", md->name, fitcl_errmsg(ctx));
    exit(1);
  }
  fitcl_context_info info;
  fitcl_context_get_info(ctx, &info);
  if (strcmp(info.precision, md->precision == FITCL_PRECISION_SINGLE ? "single"
                             : md->precision == FITCL_PRECISION_MIXED ? "mixed"
                                                                      : "double")) {
    printf("%s: the context computes in %s\n", md->name, info.precision);
    exit(1);
  }
  return ctx;
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static double urand(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return (double)((rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}
static double nrand(void) {
  double u = urand(), v = urand();
  return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

static const double TRUTH[4] = {2.0, 1.3, 0.7, 0.15}, P0[4] = {1.0, 2.0, 1.0, 0.1};

static void bench_fit(size_t n, int repeats) {
  double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
  if (!x || !y) {
    printf("out of memory\n");
    exit(1);
  }
  for (size_t i = 0; i < n; ++i) {
    x[i] = 20.0 * (double)i / (double)n;
    y[i] = TRUTH[0] * exp(-TRUTH[1] * x[i]) + TRUTH[2] * exp(-TRUTH[3] * x[i]) + 0.01 * nrand();
  }
  const double *cols[1] = {x};
  double ref[4] = {0}, ref_rss = 0, ref_time = 0;
  char label[64];
  snprintf(label, sizeof label, "double_exp_%zuM", n / 1000000);
  for (int k = 0; k < NMODES; ++k) {
    fitcl_context *ctx = open_mode(&modes[k]);
    const char *names[] = {"a", "b", "c", "d"}, *vars[] = {"x"};
    fitcl_model *m = NULL;
    if (fitcl_model_compile(ctx, "a*exp(-b*x)+c*exp(-d*x)", names, 4, vars, 1, &m) != FITCL_OK) {
      printf("model: %s\n", fitcl_errmsg(ctx));
      exit(1);
    }
    fitcl_curvefit_result r;
    double t[16];
    int reps = repeats < 16 ? repeats : 16;
    for (int i = 0; i < reps + 1; ++i) {
      double t0 = bench_now();
      if (fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, n, P0, NULL, &r) != FITCL_OK) {
        printf("%s: fit: %s\n", modes[k].name, fitcl_errmsg(ctx));
        exit(1);
      }
      if (i > 0) t[i - 1] = bench_now() - t0; /* the first run builds and warms */
    }
    double tmin, tmed;
    bench_stats(t, (size_t)reps, &tmin, &tmed);
    double worst = 0;
    if (k == 0) {
      memcpy(ref, r.params, sizeof ref);
      ref_rss = r.rss;
      ref_time = tmed;
    }
    for (int j = 0; j < 4; ++j) worst = fmax(worst, fabs(r.params[j] - ref[j]) / fabs(ref[j]));
    printf("%-28s %-13s median %8.3f s (min %.3f), %2d iterations, %s; params max rel diff vs "
           "double %.2e, rss rel diff %.2e, time / double %.2f\n",
           label, modes[k].name, tmed, tmin, r.iterations, fitcl_curvefit_status_name(r.status),
           worst, fabs(r.rss - ref_rss) / ref_rss, tmed / ref_time);
    char variant[96];
    snprintf(variant, sizeof variant, "%s_%s", label, modes[k].name);
    bench_row("precision", variant, "seconds_median", tmed, "s");
    bench_row("precision", variant, "params_max_rel_diff_vs_double", worst, "");
    bench_row("precision", variant, "time_ratio_vs_double", tmed / ref_time, "x");
    fitcl_model_destroy(m);
    fitcl_context_destroy(ctx);
  }
  free(x);
  free(y);
}

/* ---- NIST StRD -------------------------------------------------------- */

typedef struct kv {
  int n;
  char name[FITCL_NLSQ_MAX_PARAMS][16];
  double v[FITCL_NLSQ_MAX_PARAMS];
} kv;

static int parse_kv(const char *s, kv *out) {
  out->n = 0;
  while (*s && out->n < FITCL_NLSQ_MAX_PARAMS) {
    const char *eq = strchr(s, '=');
    if (!eq || (size_t)(eq - s) >= sizeof out->name[0]) return 0;
    memcpy(out->name[out->n], s, (size_t)(eq - s));
    out->name[out->n][eq - s] = '\0';
    char *end;
    out->v[out->n++] = strtod(eq + 1, &end);
    s = *end == ',' ? end + 1 : end;
  }
  return 1;
}

/* The problem's CSV (header, then x,y rows). */
static size_t read_csv(const char *path, double **x, double **y) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[512];
  size_t n = 0, cap = 256;
  *x = malloc(cap * sizeof **x);
  *y = malloc(cap * sizeof **y);
  if (!fgets(line, sizeof line, f)) n = 0;
  while (fgets(line, sizeof line, f)) {
    double a, b;
    if (sscanf(line, "%lf,%lf", &a, &b) != 2) continue;
    if (n == cap) {
      cap *= 2;
      *x = realloc(*x, cap * sizeof **x);
      *y = realloc(*y, cap * sizeof **y);
    }
    (*x)[n] = a;
    (*y)[n++] = b;
  }
  fclose(f);
  return n;
}

static void bench_nist(void) {
  const char *dir = getenv("FITCL_NIST_DIR");
  char path[1024];
  if (!dir || !*dir) dir = FITCL_BENCH_SOURCE_DIR "/../shared/data/nist";
  snprintf(path, sizeof path, "%s/manifest.tsv", dir);
  FILE *man = fopen(path, "r");
  if (!man) {
    printf("NIST: no %s\n", path);
    return;
  }
  fitcl_context *ctx[NMODES];
  for (int k = 0; k < NMODES; ++k) ctx[k] = open_mode(&modes[k]);
  unsetenv("FITCL_OPENCL_NO_FP64");
  printf("\nNIST StRD: digits shared with the certified parameters (worst parameter), start 1 / "
         "start 2\n%-10s %-7s", "problem", "level");
  for (int k = 0; k < NMODES; ++k) printf(" %14s", modes[k].name);
  printf("\n");
  char line[4096];
  if (!fgets(line, sizeof line, man)) line[0] = '\0';
  while (fgets(line, sizeof line, man)) {
    char *f[8];
    int nf = 0;
    for (char *p = strtok(line, "\t\n"); p && nf < 8; p = strtok(NULL, "\t\n")) f[nf++] = p;
    if (nf < 8) continue;
    kv s1, s2, cert;
    if (!parse_kv(f[3], &s1) || !parse_kv(f[4], &s2) || !parse_kv(f[5], &cert)) continue;
    double *x = NULL, *y = NULL;
    snprintf(path, sizeof path, "%s/%s.csv", dir, f[0]);
    size_t n = read_csv(path, &x, &y);
    double digits[NMODES][2];
    for (int k = 0; k < NMODES; ++k) {
      const char *names[FITCL_NLSQ_MAX_PARAMS], *vars[] = {"x"};
      for (int j = 0; j < cert.n; ++j) names[j] = cert.name[j];
      fitcl_model *m = NULL;
      double lre[2] = {0, 0};
      if (n && fitcl_model_compile(ctx[k], f[2], names, (size_t)cert.n, vars, 1, &m) == FITCL_OK) {
        const double *cols[1] = {x};
        for (int s = 0; s < 2; ++s) {
          fitcl_curvefit_result r;
          lre[s] = 0;
          if (fitcl_curve_fit_arrays(ctx[k], m, cols, y, NULL, n, s ? s2.v : s1.v, NULL, &r) !=
              FITCL_OK)
            continue;
          double worst = 16;
          for (int j = 0; j < cert.n; ++j) {
            double e = fabs(r.params[j] - cert.v[j]) / fabs(cert.v[j]);
            double d = e > 0 ? -log10(e) : 16;
            worst = fmin(worst, isfinite(d) ? fmax(d, 0) : 0);
          }
          lre[s] = worst;
        }
      }
      digits[k][0] = lre[0];
      digits[k][1] = lre[1];
      fitcl_model_destroy(m);
    }
    /* The table's line first, then its rows (bench_row prints too). */
    printf("%-10s %-7s", f[0], f[1]);
    for (int k = 0; k < NMODES; ++k) printf("    %4.1f / %4.1f", digits[k][0], digits[k][1]);
    printf("\n");
    for (int k = 0; k < NMODES; ++k) {
      char variant[96];
      snprintf(variant, sizeof variant, "nist_%s_%s", f[0], modes[k].name);
      bench_row("precision", variant, "digits_start1", digits[k][0], "");
      bench_row("precision", variant, "digits_start2", digits[k][1], "");
    }
    free(x);
    free(y);
  }
  fclose(man);
  for (int k = 0; k < NMODES; ++k) fitcl_context_destroy(ctx[k]);
}

int main(int argc, char **argv) {
  size_t points = 10000000;
  int repeats = 3, nist = 1, fit = 1;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--points") && i + 1 < argc)
      points = (size_t)strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--no-nist")) nist = 0;
    else if (!strcmp(argv[i], "--no-fit")) fit = 0;
    else {
      fprintf(stderr, "usage: bench_precision [--points N] [--repeats R] [--no-nist] [--no-fit]\n");
      return 2;
    }
  }
  if (repeats < 1) repeats = 1;
  bench_print_machine();
  bench_print_load("start");
  if (fit) bench_fit(points, repeats);
  if (nist) bench_nist();
  bench_print_load("end");
  return 0;
}
