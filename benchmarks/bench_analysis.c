/* End-to-end wall time of the gene-content analyses, as a user runs them:
 * each measurement is one `fitcl ...` process (fork + exec + wait), with a
 * warm program cache (one warm-up run first).
 *
 *   bench_analysis [--reps N] [--bootstrap N] [--no-peer]
 *
 * Workloads (issue targets in brackets):
 *   fit        fitcl fit on the bundled 50-taxon x 500-family example [<= 20 ms]
 *   retention  fitcl retention-test on the same example              [<= 60 ms]
 *   simulate   fitcl simulate, 100 taxa x 1,000 families             [<= 10 ms]
 *   bootstrap  fitcl retention-test --bootstrap N (default 1000)     [<= 30 s]
 * Peers: the seed profile's Python figures (61.3 s, 19.4 s, 9.18 s, quoted),
 * and the NumPy/SciPy implementation in benchmarks/peers/gainloss_scipy.py,
 * measured here in the same run when python3 with numpy and scipy exists.
 * The device is whatever FITCL_DEVICE selects (unset: auto).
 *
 * A second section times the same work inside one process through the
 * library (context creation, reading, the fit, the test, the simulation),
 * to show where the end-to-end time goes. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "fitcl.h"

static const char *SRC = FITCL_BENCH_SOURCE_DIR;

/* Runs argv with stdout and stderr to /dev/null; returns the wall time, or
 * a negative value when the process failed. */
static double run(char *const *argv) {
  double t0 = bench_now();
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execvp(argv[0], argv);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  double t = bench_now() - t0;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? t : -1;
}

typedef struct workload {
  const char *name;
  double target_s;    /* issue target */
  double seed_s;      /* seed profile (Python), 0 when none */
} workload;

static int measure(const workload *w, char *const *argv, int reps, double *tmin, double *tmed) {
  double *t = malloc(sizeof(double) * (size_t)reps);
  if (run(argv) < 0) {   /* warm-up: fills the program cache and the page cache */
    fprintf(stderr, "%s: the command failed:", w->name);
    for (char *const *a = argv; *a; ++a) fprintf(stderr, " %s", *a);
    fputc('\n', stderr);
    free(t);
    return 0;
  }
  for (int i = 0; i < reps; ++i) t[i] = run(argv);
  bench_stats(t, (size_t)reps, tmin, tmed);
  free(t);
  return 1;
}

static void report(const workload *w, double tmin, double tmed, double peer) {
  printf("%-10s min %9.4f s  median %9.4f s  target %7.3f s  %s", w->name, tmin, tmed,
         w->target_s, tmed <= w->target_s ? "met" : "MISSED");
  if (w->seed_s > 0) printf("  seed %.2f s (x%.0f)", w->seed_s, w->seed_s / tmed);
  if (peer > 0) printf("  scipy %.3f s (x%.0f)", peer, peer / tmed);
  printf("\n");
  bench_row("analysis", w->name, "wall_min", tmin, "s");
  bench_row("analysis", w->name, "wall_median", tmed, "s");
  if (peer > 0) bench_row("analysis", w->name, "scipy_peer", peer, "s");
}

/* In-process timings of each step, min and median over reps. */
static void inprocess(const char *tree50, const char *mat50, const char *fam50,
                      const char *tree100, int reps) {
  enum { CTX, READ, FIT, RET, SIM, NSTEP };
  static const char *names[NSTEP] = {"context_create", "read_50x500", "fit_50x500",
                                     "retention_50x500", "simulate_100x1000"};
  double *t[NSTEP];
  for (int k = 0; k < NSTEP; ++k) t[k] = calloc((size_t)reps + 1, sizeof(double));
  char err[512];
  for (int r = 0; r <= reps; ++r) {   /* r = 0 is the warm-up */
    double t0 = bench_now();
    fitcl_context *ctx = NULL;
    if (fitcl_context_create(NULL, &ctx) != FITCL_OK) {
      fprintf(stderr, "context: %s\n", fitcl_errmsg(ctx));
      fitcl_context_destroy(ctx);
      return;
    }
    double t1 = bench_now();
    fitcl_tree *tr = NULL;
    fitcl_pamatrix *m = NULL;
    fitcl_data *d = NULL;
    if (fitcl_tree_read(tree50, &tr, err, sizeof err) || fitcl_pamatrix_read(mat50, NULL, &m, err, sizeof err) ||
        fitcl_data_build(tr, m, NULL, &d, err, sizeof err)) {
      fprintf(stderr, "%s\n", err);
      return;
    }
    double t2 = bench_now();
    fitcl_fit_result fr;
    fitcl_fit_rates(ctx, d, NULL, &fr);
    double t3 = bench_now();
    size_t n = fitcl_data_nfamilies(d);
    unsigned char *sel = calloc(n, 1);
    fitcl_select_families_file(ctx, d, fam50, sel);
    fitcl_retention_result rr;
    fitcl_retention_test(ctx, d, sel, NULL, &rr);
    double t4 = bench_now();
    fitcl_tree *t100 = NULL;
    fitcl_tree_read(tree100, &t100, err, sizeof err);
    unsigned char *states = malloc(1000 * (size_t)fitcl_tree_ntips(t100));
    fitcl_sim_options so = {.gain = 0.5, .loss = 1, .families = 1000, .seed = 1};
    fitcl_simulate(NULL, t100, &so, states, NULL);
    double t5 = bench_now();
    if (r > 0) {
      t[CTX][r - 1] = t1 - t0;
      t[READ][r - 1] = t2 - t1;
      t[FIT][r - 1] = t3 - t2;
      t[RET][r - 1] = t4 - t3;
      t[SIM][r - 1] = t5 - t4;
    }
    free(states);
    free(sel);
    fitcl_tree_destroy(t100);
    fitcl_data_destroy(d);
    fitcl_pamatrix_destroy(m);
    fitcl_tree_destroy(tr);
    fitcl_context_destroy(ctx);
  }
  printf("# in-process steps (library calls, %d repetitions)\n", reps);
  for (int k = 0; k < NSTEP; ++k) {
    double mn, md;
    bench_stats(t[k], (size_t)reps, &mn, &md);
    printf("%-18s min %8.3f ms  median %8.3f ms\n", names[k], mn * 1e3, md * 1e3);
    bench_row("analysis_inprocess", names[k], "wall_median", md, "s");
    free(t[k]);
  }
}

int main(int argc, char **argv) {
  int reps = 21, boot = 1000, peer = 1;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--bootstrap") && i + 1 < argc) boot = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--no-peer")) peer = 0;
    else {
      fprintf(stderr, "usage: bench_analysis [--reps N] [--bootstrap N] [--no-peer]\n");
      return 2;
    }
  }
  if (reps < 1) reps = 1;
  bench_print_machine();
  const char *dev = getenv("FITCL_DEVICE");
  printf("# FITCL_DEVICE=%s, FITCL_THREADS=%s, %d repetitions after one warm-up\n",
         dev ? dev : "(unset: auto)", getenv("FITCL_THREADS") ? getenv("FITCL_THREADS") : "(unset)",
         reps);
  char tree50[1024], mat50[1024], fam50[1024], tree100[1024], outdir[1024];
  const char *tmp = getenv("TMPDIR");
  snprintf(outdir, sizeof outdir, "%s/fitcl-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  snprintf(tree50, sizeof tree50, "%s/examples/pangenome50.nwk", SRC);
  snprintf(mat50, sizeof mat50, "%s/examples/pangenome50.Rtab", SRC);
  snprintf(fam50, sizeof fam50, "%s/examples/retained.txt", SRC);
  snprintf(tree100, sizeof tree100, "%s/benchmarks/data/tree100.nwk", SRC);
  if (!mkdtemp(outdir)) {
    perror("mkdtemp");
    return 1;
  }
  char simout[1100], pyout[1100], script[1100], nboot[32];
  snprintf(simout, sizeof simout, "%s/sim.Rtab", outdir);
  snprintf(pyout, sizeof pyout, "%s/py.Rtab", outdir);
  snprintf(script, sizeof script, "%s/benchmarks/peers/gainloss_scipy.py", SRC);
  snprintf(nboot, sizeof nboot, "%d", boot);
  char *cli = FITCL_CLI_PATH;

  char *check[] = {"python3", "-c", "import numpy, scipy", NULL};
  int have_py = peer && run(check) >= 0;
  if (!have_py) printf("# scipy peer: not measured (%s)\n", peer ? "python3 with numpy+scipy not found" : "--no-peer");

  workload fit = {"fit", 0.020, 19.4}, ret = {"retention", 0.060, 61.3},
           sim = {"simulate", 0.010, 9.18}, bst = {"bootstrap", 30.0, 0};
  double tmin, tmed, p;

  /* Floors every command pays: starting the process (dynamic linking) and,
   * for the commands that create a context, discovering OpenCL platforms. */
  char *a_ver[] = {cli, "--version", NULL};
  char *a_dev[] = {cli, "devices", NULL};
  workload ver = {"floor_exec", 0, 0}, dsc = {"floor_discover", 0, 0};
  if (measure(&ver, a_ver, reps, &tmin, &tmed)) {
    printf("%-10s min %9.4f s  median %9.4f s  (fitcl --version: process start)\n", ver.name, tmin, tmed);
    bench_row("analysis", ver.name, "wall_median", tmed, "s");
  }
  if (measure(&dsc, a_dev, reps, &tmin, &tmed)) {
    printf("%-10s min %9.4f s  median %9.4f s  (fitcl devices: start + OpenCL discovery)\n", dsc.name, tmin, tmed);
    bench_row("analysis", dsc.name, "wall_median", tmed, "s");
  }

  char *a_fit[] = {cli, "fit", "--tree", tree50, "--matrix", mat50, NULL};
  char *p_fit[] = {"python3", script, "fit", tree50, mat50, NULL};
  if (measure(&fit, a_fit, reps, &tmin, &tmed)) {
    p = have_py ? run(p_fit) : 0;
    report(&fit, tmin, tmed, p);
  }
  char *a_ret[] = {cli, "retention-test", "--tree", tree50, "--matrix", mat50, "--families", fam50, NULL};
  char *p_ret[] = {"python3", script, "retention", tree50, mat50, fam50, NULL};
  if (measure(&ret, a_ret, reps, &tmin, &tmed)) {
    p = have_py ? run(p_ret) : 0;
    report(&ret, tmin, tmed, p);
  }
  char *a_sim[] = {cli, "simulate", "--tree", tree100, "--gain", "0.5", "--loss", "1", "--families",
                   "1000", "--seed", "1", "-o", simout, NULL};
  char *p_sim[] = {"python3", script, "simulate", tree100, "1000", "1", pyout, NULL};
  if (measure(&sim, a_sim, reps, &tmin, &tmed)) {
    p = have_py ? run(p_sim) : 0;
    report(&sim, tmin, tmed, p);
  }
  /* The bootstrap is long: one warm-up with 10 replicates, one timed run. */
  char *a_bw[] = {cli, "retention-test", "--tree", tree50, "--matrix", mat50, "--families", fam50,
                  "--bootstrap", "10", "--seed", "1", "--quiet", NULL};
  char *a_bst[] = {cli, "retention-test", "--tree", tree50, "--matrix", mat50, "--families", fam50,
                   "--bootstrap", nboot, "--seed", "1", "--quiet", NULL};
  if (run(a_bw) >= 0) {
    double t = run(a_bst);
    if (t > 0) {
      printf("# bootstrap: %d replicates\n", boot);
      report(&bst, t, t, 0);
    }
  }
  inprocess(tree50, mat50, fam50, tree100, reps);
  unlink(simout);
  unlink(pyout);
  rmdir(outdir);
  return 0;
}
