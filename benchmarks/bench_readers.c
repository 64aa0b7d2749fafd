/* Input-side benchmark: reading a presence/absence Rtab, matching it to a
 * tree and compressing it into patterns, parsing a deep Newick tree, and
 * one pass of the curve-fit CSV data source.
 *
 *   bench_readers [--taxa N] [--families F] [--points P] [--repeats R] [--dir D]
 *                 [--read-only 1] [--loglik 1] [--baseline FITCL]
 *
 * --read-only 1 times only the readers (no data set), so the peak RSS it
 * prints is what streaming matrices costs: the packed cells and the names
 * of two matrices (the reference and the one compared with it).
 *
 * The Rtab is read three times per repeat: by the general reader alone
 * (the baseline the fast path replaced for such files), by the fast reader
 * of simple rows on one thread, and by fitcl_pamatrix_read (the fast reader
 * on every online CPU); all must give the same matrix.  --loglik 1 also
 * times whole `fitcl loglik` processes on the file and a caterpillar tree
 * of its taxa (fork, exec, wait): wall time and the child's peak RSS; with
 * --baseline, each such process alternates with one of the given `fitcl`
 * (another build: the peer of the whole process), and the likelihood
 * handle and one evaluation are also timed inside this process (the part
 * of the whole that no reader can remove).
 *
 * Default 1,000 taxa x 100,000 families (the target: reading well
 * under a second).  The peer, measured in the same run on the same file, is
 * the cost of only reading the bytes and finding the line ends (fread +
 * memchr): the floor for any text reader. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "fitcl.h"
#include "io/pamatrix.h"
#include "phylo/pamatrix.h"

static unsigned long long rng = 0x9E3779B97F4A7C15ull;
static unsigned rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (unsigned)(rng >> 32);
}

/* Roary-like content: mostly core (present everywhere) or rare families. */
static int write_rtab(const char *path, int nt, long nf) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  fputs("Gene", f);
  for (int t = 0; t < nt; ++t) fprintf(f, "\tgenome_%d", t);
  fputc('\n', f);
  char *line = malloc((size_t)nt * 2 + 2);
  for (long i = 0; i < nf; ++i) {
    unsigned kind = rnd() % 4, p = rnd() % 100;
    for (int t = 0; t < nt; ++t) {
      int present = kind == 0 ? 1 : (int)(rnd() % 100) < (int)(kind == 1 ? 95 : p);
      line[2 * t] = '\t';
      line[2 * t + 1] = present ? '1' : '0';
    }
    line[2 * nt] = '\n';
    fprintf(f, "group_%ld", i);
    fwrite(line, 1, (size_t)nt * 2 + 1, f);
  }
  free(line);
  return fclose(f);
}

static double raw_read(const char *path, long *lines) {
  double t0 = bench_now();
  FILE *f = fopen(path, "rb");
  static char buf[1 << 20];
  size_t got;
  long n = 0;
  while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
    const char *p = buf, *e = buf + got;
    while ((p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
      n++;
      p++;
    }
  }
  fclose(f);
  *lines = n;
  return bench_now() - t0;
}

static fitcl_pamatrix *read_or_die(const char *path, int general_only, unsigned threads) {
  fitcl__pamatrix_cfg cfg = {.general_only = general_only, .threads = threads};
  fitcl_pamatrix *m = NULL;
  char err[1024];
  if (fitcl__pamatrix_read_cfg(path, NULL, &cfg, &m, err, sizeof err) != FITCL_OK) {
    fprintf(stderr, "%s\n", err);
    exit(1);
  }
  if (cfg.used_fast == general_only) {
    fprintf(stderr, "%s: the fast reader was %s\n", path, general_only ? "used" : "not used");
    exit(1);
  }
  return m;
}

static int same_matrix(const fitcl_pamatrix *a, const fitcl_pamatrix *b) {
  if (a->nfamilies != b->nfamilies || a->ntaxa != b->ntaxa) return 0;
  if (memcmp(a->packed, b->packed, a->nfamilies * a->stride) != 0) return 0;
  for (size_t f = 0; f < a->nfamilies; ++f)
    if (strcmp(fitcl__pa_family(a, f), fitcl__pa_family(b, f)) != 0) return 0;
  for (size_t t = 0; t < a->ntaxa; ++t)
    if (strcmp(fitcl__pa_taxon(a, t), fitcl__pa_taxon(b, t)) != 0) return 0;
  return 1;
}

/* One `fitcl loglik` process of the given binary: wall seconds, and its
 * peak RSS in MB. */
static double run_loglik(const char *cli, const char *tree, const char *matrix, double *rss_mb) {
  char *argv[] = {(char *)cli, (char *)"loglik", (char *)"--tree", (char *)tree,
                  (char *)"--matrix", (char *)matrix, (char *)"--gain", (char *)"0.5",
                  (char *)"--loss", (char *)"1", (char *)"--no-condition", NULL};
  double t0 = bench_now();
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) dup2(fd, 1);
    execv(argv[0], argv);
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  if (pid < 0 || wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    fprintf(stderr, "fitcl loglik failed (status %d)\n", status);
    exit(1);
  }
  *rss_mb = (double)ru.ru_maxrss / 1024.0;
  return bench_now() - t0;
}

/* Caterpillar with n tips: the deepest nesting a tree can have. */
static char *caterpillar(int n) {
  size_t cap = (size_t)n * 32 + 16, len = 0;
  char *s = malloc(cap);
  for (int i = 0; i < n - 1; ++i) s[len++] = '(';
  len += (size_t)snprintf(s + len, cap - len, "genome_0:0.1");
  for (int i = 1; i < n; ++i)
    len += (size_t)snprintf(s + len, cap - len, ",genome_%d:0.1)%s", i, i < n - 1 ? ":0.01" : ";");
  return s;
}

/* Curve-fit data as a tool writes it: x, y, sigma at full precision. */
static int write_csv(const char *path, long n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  fputs("x,y,sigma\n", f);
  for (long i = 0; i < n; ++i) {
    double x = 1e-3 * (double)i, noise = (double)(rnd() % 2001) * 1e-6 - 1e-3;
    fprintf(f, "%.17g,%.17g,%.17g\n", x, 2.5 * exp(-x / 700.0) + 0.1 + noise,
            0.01 + 1e-5 * (double)(rnd() % 100));
  }
  return fclose(f);
}

/* One full pass of a CSV source, parsing every value (no value cache). */
static double csv_pass(fitcl_context *ctx, const char *path, uint64_t *points) {
  static const char *x[] = {"x"};
  fitcl_source_options so = {0};
  so.path = path;
  so.x = x;
  so.nx = 1;
  so.sigma = "sigma";
  so.csv_cache_mb = -1;
  double t0 = bench_now();
  fitcl_source *src = NULL;
  fitcl_chunk ch;
  uint64_t n = 0;
  if (fitcl_source_open(ctx, &so, &src) != FITCL_OK) {
    fprintf(stderr, "%s\n", fitcl_errmsg(ctx));
    exit(1);
  }
  do {
    if (fitcl_source_next(src, &ch) != FITCL_OK) {
      fprintf(stderr, "%s\n", fitcl_errmsg(ctx));
      exit(1);
    }
    n += ch.n;
  } while (ch.n);
  fitcl_source_destroy(src);
  *points = n;
  return bench_now() - t0;
}

static long max_rss_mb(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

int main(int argc, char **argv) {
  int nt = 1000, reps = 3, read_only = 0, loglik = 0;
  const char *baseline = NULL;
  long nf = 100000, npts = 2000000;
  const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--taxa")) nt = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--families")) nf = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--points")) npts = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--repeats")) reps = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
    else if (!strcmp(argv[i], "--read-only")) read_only = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--loglik")) loglik = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--baseline")) baseline = argv[i + 1];
  }
  if (reps < 1) reps = 1;
  bench_print_machine();
  bench_print_load("at start");
  char path[1024];
  snprintf(path, sizeof path, "%s/bench_readers_%ld.Rtab", dir, (long)getpid());
  printf("# writing %d taxa x %ld families to %s\n", nt, nf, path);
  if (write_rtab(path, nt, nf) != 0) {
    fprintf(stderr, "cannot write %s\n", path);
    return 1;
  }
  char variant[64];
  snprintf(variant, sizeof variant, "%dx%ld", nt, nf);
  double *tr = malloc(sizeof(double) * (size_t)(reps + 1));
  double *tp = malloc(sizeof(double) * (size_t)(reps + 1));
  double *tb = malloc(sizeof(double) * (size_t)(reps + 1));
  double *tg = malloc(sizeof(double) * (size_t)(reps + 1));
  double *t1s = malloc(sizeof(double) * (size_t)(reps + 1));
  char err[1024];
  char *tree_text = caterpillar(nt);
  fitcl_tree *tree = NULL;
  if (fitcl_tree_parse(tree_text, &tree, err, sizeof err) != FITCL_OK) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  long lines = 0;
  size_t npat = 0;
  /* One warm-up round (page cache), then the timed repeats. */
  for (int r = 0; r <= reps; ++r) {
    double traw = raw_read(path, &lines);
    /* The general reader's matrix is the reference; at most two matrices
     * are alive at a time. */
    double tg0 = bench_now();
    fitcl_pamatrix *g = read_or_die(path, 1, 0);
    double tg1 = bench_now();
    fitcl_pamatrix *one = read_or_die(path, 0, 1);
    double t1t = bench_now() - tg1;
    int agree = r > 0 || same_matrix(one, g);
    fitcl_pamatrix_destroy(one);
    double t0 = bench_now();
    fitcl_pamatrix *m = read_or_die(path, 0, 0);
    double t1 = bench_now();
    agree = agree && (r > 0 || same_matrix(m, g));
    fitcl_pamatrix_destroy(g);
    if (!agree) {
      fprintf(stderr, "the fast and the general reader disagree on %s\n", path);
      return 1;
    }
    double tb0 = bench_now();
    fitcl_data *d = NULL;
    if (!read_only && fitcl_data_build(tree, m, NULL, &d, err, sizeof err) != FITCL_OK) {
      fprintf(stderr, "%s\n", err);
      return 1;
    }
    double t2 = bench_now();
    npat = fitcl_data_npatterns(d);
    fitcl_data_destroy(d);
    fitcl_pamatrix_destroy(m);
    if (r > 0) {
      t1s[r - 1] = t1t;
      tr[r - 1] = traw;
      tp[r - 1] = t1 - t0;
      tb[r - 1] = t2 - tb0;
      tg[r - 1] = tg1 - tg0;
    }
  }
  double rmin, rmed, pmin, pmed, bmin, bmed, gmin, gmed;
  bench_stats(tr, (size_t)reps, &rmin, &rmed);
  bench_stats(tp, (size_t)reps, &pmin, &pmed);
  bench_stats(tb, (size_t)reps, &bmin, &bmed);
  bench_stats(tg, (size_t)reps, &gmin, &gmed);
  double omin, omed;
  bench_stats(t1s, (size_t)reps, &omin, &omed);
  FILE *f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  double mb = (double)ftell(f) / 1e6;
  fclose(f);
  printf("# file %.1f MB, %ld lines, %zu patterns\n", mb, lines, npat);
  printf("%-34s %10s %10s\n", "step", "min s", "median s");
  printf("%-34s %10.4f %10.4f\n", "peer: fread + find line ends", rmin, rmed);
  printf("%-34s %10.4f %10.4f   (%.0f MB/s, %.2fx the peer)\n", "general reader alone", gmin,
         gmed, mb / gmin, gmin / rmin);
  printf("%-34s %10.4f %10.4f   (%.0f MB/s, %.2fx the peer, %.2fx faster)\n",
         "fast rows, one thread", omin, omed, mb / omin, omin / rmin, gmin / omin);
  printf("%-34s %10.4f %10.4f   (%.0f MB/s, %.2fx the peer, %.2fx faster)\n",
         "fitcl_pamatrix_read (fast rows)", pmin, pmed, mb / pmin, pmin / rmin, gmin / pmin);
  printf("%-34s %10.4f %10.4f\n", "fitcl_data_build (match+compress)", bmin, bmed);
  bench_row("readers", variant, "raw_read_min_s", rmin, "s");
  bench_row("readers", variant, "pamatrix_read_min_s", pmin, "s");
  bench_row("readers", variant, "pamatrix_read_median_s", pmed, "s");
  bench_row("readers", variant, "pamatrix_read_vs_raw", pmin / rmin, "x");
  bench_row("readers", variant, "general_read_min_s", gmin, "s");
  bench_row("readers", variant, "general_read_median_s", gmed, "s");
  bench_row("readers", variant, "fast_vs_general", gmin / pmin, "x");
  bench_row("readers", variant, "fast_1thread_min_s", omin, "s");
  bench_row("readers", variant, "data_build_min_s", bmin, "s");
  bench_row("readers", variant, "data_build_median_s", bmed, "s");
  if (loglik) {
    /* Whole processes: start, tree, matrix, data set, likelihood. */
    char tpath[1100];
    snprintf(tpath, sizeof tpath, "%s.nwk", path);
    FILE *tf = fopen(tpath, "wb");
    if (!tf || fputs(tree_text, tf) < 0 || fclose(tf) != 0) {
      fprintf(stderr, "cannot write %s\n", tpath);
      return 1;
    }
    double rss = 0, rss_max = 0, brss = 0, brss_max = 0;
    for (int r = 0; r <= reps; ++r) {
      double t = run_loglik(FITCL_CLI_PATH, tpath, path, &rss);
      if (rss > rss_max) rss_max = rss;
      if (r > 0) tb[r - 1] = t;
      if (!baseline) continue;
      t = run_loglik(baseline, tpath, path, &brss);
      if (brss > brss_max) brss_max = brss;
      if (r > 0) tg[r - 1] = t;
    }
    bench_stats(tb, (size_t)reps, &bmin, &bmed);
    printf("%-34s %10.4f %10.4f   (%.0f MB/s of matrix, peak RSS %.0f MB)\n",
           "fitcl loglik, whole process", bmin, bmed, mb / bmin, rss_max);
    bench_row("readers", variant, "loglik_process_min_s", bmin, "s");
    bench_row("readers", variant, "loglik_process_median_s", bmed, "s");
    bench_row("readers", variant, "loglik_process_peak_rss_mb", rss_max, "MB");
    if (baseline) {
      bench_stats(tg, (size_t)reps, &gmin, &gmed);
      printf("%-34s %10.4f %10.4f   (peak RSS %.0f MB; this build %.2fx faster)\n",
             "baseline fitcl loglik, interleaved", gmin, gmed, brss_max, gmin / bmin);
      bench_row("readers", variant, "loglik_baseline_min_s", gmin, "s");
      bench_row("readers", variant, "loglik_vs_baseline", gmin / bmin, "x");
      /* The likelihood alone, on the same data in this process. */
      fitcl_pamatrix *m = read_or_die(path, 0, 0);
      fitcl_data *d = NULL;
      fitcl_context *ctx = NULL;
      fitcl_tree *ltree = NULL;
      if (fitcl_tree_read(tpath, &ltree, err, sizeof err) != FITCL_OK ||
          fitcl_data_build(ltree, m, NULL, &d, err, sizeof err) != FITCL_OK ||
          fitcl_context_create(NULL, &ctx) != FITCL_OK) {
        fprintf(stderr, "likelihood set-up failed: %s\n", err);
        return 1;
      }
      fitcl_pamatrix_destroy(m);
      fitcl_lik_options lo = {0};
      lo.no_condition = 1; /* as the processes above */
      const fitcl_gl_params par = {0.5, 1.0, 0, NULL, NULL};
      for (int r = 0; r <= reps; ++r) {
        double t0 = bench_now(), ll = 0;
        fitcl_lik *L = NULL;
        if (fitcl_lik_create(ctx, d, &lo, &L) != FITCL_OK) {
          fprintf(stderr, "%s\n", fitcl_errmsg(ctx));
          return 1;
        }
        double t1 = bench_now();
        if (fitcl_lik_eval(L, &par, &ll, NULL) != FITCL_OK) {
          fprintf(stderr, "%s\n", fitcl_errmsg(ctx));
          return 1;
        }
        double t2 = bench_now();
        fitcl_lik_destroy(L);
        if (r > 0) {
          tp[r - 1] = t1 - t0;
          tr[r - 1] = t2 - t1;
        }
      }
      fitcl_context_destroy(ctx);
      fitcl_data_destroy(d);
      fitcl_tree_destroy(ltree);
      bench_stats(tp, (size_t)reps, &pmin, &pmed);
      bench_stats(tr, (size_t)reps, &rmin, &rmed);
      printf("%-34s %10.4f %10.4f\n", "fitcl_lik_create (tip masks)", pmin, pmed);
      printf("%-34s %10.4f %10.4f   (%.0f%% of the whole process)\n", "fitcl_lik_eval, one",
             rmin, rmed, 100 * rmin / bmin);
      bench_row("readers", variant, "lik_create_min_s", pmin, "s");
      bench_row("readers", variant, "lik_eval_min_s", rmin, "s");
    }
    unlink(tpath);
  }
  unlink(path);

  /* Newick: the caterpillar again, timed. */
  for (int r = 0; r <= reps; ++r) {
    double t0 = bench_now();
    fitcl_tree *t = NULL;
    fitcl_tree_parse(tree_text, &t, err, sizeof err);
    double t1 = bench_now();
    fitcl_tree_destroy(t);
    if (r > 0) tp[r - 1] = t1 - t0;
  }
  bench_stats(tp, (size_t)reps, &pmin, &pmed);
  printf("%-34s %10.4f %10.4f   (%d-taxon caterpillar, depth %d)\n", "fitcl_tree_parse", pmin,
         pmed, nt, nt - 1);
  snprintf(variant, sizeof variant, "caterpillar%d", nt);
  bench_row("readers", variant, "tree_parse_min_s", pmin, "s");

  /* Curve-fit CSV source: one pass that parses every value. */
  snprintf(path, sizeof path, "%s/bench_readers_%ld.csv", dir, (long)getpid());
  if (write_csv(path, npts) != 0) {
    fprintf(stderr, "cannot write %s\n", path);
    return 1;
  }
  fitcl_context_options co = {0};
  co.device = "cpu";
  fitcl_context *ctx = NULL;
  if (fitcl_context_create(&co, &ctx) != FITCL_OK) {
    fprintf(stderr, "%s\n", fitcl_errmsg(ctx));
    return 1;
  }
  uint64_t pts = 0;
  for (int r = 0; r <= reps; ++r) {
    double traw = raw_read(path, &lines);
    double t = csv_pass(ctx, path, &pts);
    if (r > 0) {
      tr[r - 1] = traw;
      tp[r - 1] = t;
    }
  }
  fitcl_context_destroy(ctx);
  bench_stats(tr, (size_t)reps, &rmin, &rmed);
  bench_stats(tp, (size_t)reps, &pmin, &pmed);
  f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  mb = (double)ftell(f) / 1e6;
  fclose(f);
  unlink(path);
  printf("# csv %.1f MB, %llu points (x, y, sigma)\n", mb, (unsigned long long)pts);
  printf("%-34s %10.4f %10.4f\n", "peer: fread + find line ends", rmin, rmed);
  printf("%-34s %10.4f %10.4f   (%.0f MB/s, %.2fx the peer)\n", "csv source, one pass", pmin,
         pmed, mb / pmin, pmin / rmin);
  snprintf(variant, sizeof variant, "csv%ld", npts);
  bench_row("readers", variant, "raw_read_min_s", rmin, "s");
  bench_row("readers", variant, "csv_pass_min_s", pmin, "s");
  bench_row("readers", variant, "csv_pass_median_s", pmed, "s");
  bench_print_load("at end");
  printf("# peak RSS %ld MB\n", max_rss_mb());
  bench_row("readers", "process", "peak_rss_mb", (double)max_rss_mb(), "MB");
  fitcl_tree_destroy(tree);
  free(tree_text);
  free(tr);
  free(tp);
  free(tb);
  free(tg);
  free(t1s);
  return 0;
}
