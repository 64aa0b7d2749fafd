/* Reading a presence/absence matrix in its compact form, a uint8 .npy of
 * shape (families, taxa) with a taxon names file, against the same matrix
 * as Rtab, and against the floor: reading the .npy's bytes with the same
 * 1 MiB preads and doing nothing with them.
 *
 *   bench_readers_npy [--taxa N] [--families F] [--repeats R] [--dir D]
 *
 * Default 1,000 taxa x 100,000 families.  Prints the peak RSS after the
 * .npy reads (before the Rtab ones): the packed cells, the names and one
 * block, never the array (the files are written by a child process). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "fitcl.h"

static unsigned long long rng = 0x9E3779B97F4A7C15ull;
static unsigned rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (unsigned)(rng >> 32);
}

/* A .npy 1.0 header for a (rows, cols) uint8 array, data on a 64-byte
 * boundary. */
static void npy_header(FILE *f, int fortran, long rows, int cols) {
  char dict[160];
  int n = snprintf(dict, sizeof dict, "{'descr': '|u1', 'fortran_order': %s, 'shape': (%ld, %d), }",
                   fortran ? "True" : "False", rows, cols);
  const int pad = (64 - (10 + n + 1) % 64) % 64, hl = n + pad + 1;
  fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  fputc(hl & 0xff, f);
  fputc(hl >> 8, f);
  fprintf(f, "%s%*s\n", dict, pad, "");
}

/* Roary-like content (as bench_readers): mostly core or rare families. */
static uint8_t *make_matrix(int nt, long nf) {
  uint8_t *v = malloc((size_t)nt * (size_t)nf);
  for (long i = 0; i < nf; ++i) {
    unsigned kind = rnd() % 4, p = rnd() % 100;
    for (int t = 0; t < nt; ++t)
      v[(size_t)i * (size_t)nt + (size_t)t] =
          kind == 0 ? 1 : (int)(rnd() % 100) < (int)(kind == 1 ? 95 : p);
  }
  return v;
}

static int write_files(const char *npy, const char *fnpy, const char *rtab, const char *taxa,
                       const uint8_t *v, int nt, long nf) {
  FILE *f = fopen(npy, "wb"), *g = fopen(rtab, "wb"), *h = fopen(taxa, "wb"),
       *k = fopen(fnpy, "wb");
  if (!f || !g || !h || !k) return -1;
  npy_header(f, 0, nf, nt);
  fwrite(v, 1, (size_t)nt * (size_t)nf, f);
  npy_header(k, 1, nf, nt);
  for (int t = 0; t < nt; ++t)
    for (long i = 0; i < nf; ++i) fputc(v[(size_t)i * (size_t)nt + (size_t)t], k);
  fputs("Gene", g);
  for (int t = 0; t < nt; ++t) {
    fprintf(g, "\tgenome_%d", t);
    fprintf(h, "genome_%d\n", t);
  }
  fputc('\n', g);
  char *line = malloc((size_t)nt * 2 + 2);
  for (long i = 0; i < nf; ++i) {
    for (int t = 0; t < nt; ++t) {
      line[2 * t] = '\t';
      line[2 * t + 1] = (char)('0' + v[(size_t)i * (size_t)nt + (size_t)t]);
    }
    line[2 * nt] = '\n';
    fprintf(g, "group_%ld", i);
    fwrite(line, 1, (size_t)nt * 2 + 1, g);
  }
  free(line);
  return (fclose(f) | fclose(g) | fclose(h) | fclose(k)) ? -1 : 0;
}

/* The floor: the file's bytes through the same 1 MiB preads. */
static double raw_pread(const char *path, uint64_t *sum) {
  static uint8_t buf[1 << 20];
  double t0 = bench_now();
  int fd = open(path, O_RDONLY);
  uint64_t off = 0, s = 0;
  ssize_t got;
  while ((got = pread(fd, buf, sizeof buf, (off_t)off)) > 0) {
    off += (uint64_t)got;
    s += buf[got - 1];
  }
  close(fd);
  *sum = s;
  return bench_now() - t0;
}

static double timed_read(const char *path, const char *taxa, fitcl_pamatrix **keep) {
  fitcl_pamatrix_options o = {.taxa_file = taxa};
  char err[1024];
  fitcl_pamatrix *m = NULL;
  double t0 = bench_now();
  if (fitcl_pamatrix_read(path, taxa ? &o : NULL, &m, err, sizeof err) != FITCL_OK) {
    fprintf(stderr, "%s\n", err);
    exit(1);
  }
  double t = bench_now() - t0;
  if (keep) *keep = m;
  else fitcl_pamatrix_destroy(m);
  return t;
}

static long max_rss_mb(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

int main(int argc, char **argv) {
  int nt = 1000, reps = 3;
  long nf = 100000;
  const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--taxa")) nt = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--families")) nf = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--repeats")) reps = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
  }
  if (reps < 1) reps = 1;
  bench_print_machine();
  char npy[1024], fnpy[1024], rtab[1024], taxa[1024];
  const long pid = (long)getpid();
  snprintf(npy, sizeof npy, "%s/bench_npy_%ld.npy", dir, pid);
  snprintf(fnpy, sizeof fnpy, "%s/bench_npy_%ld_f.npy", dir, pid);
  snprintf(rtab, sizeof rtab, "%s/bench_npy_%ld.Rtab", dir, pid);
  snprintf(taxa, sizeof taxa, "%s/bench_npy_%ld.taxa", dir, pid);
  printf("# writing %d taxa x %ld families to %s (+ Fortran order, Rtab)\n", nt, nf, npy);
  /* The files are made by a child process, so that the array it holds
   * does not count in this process's peak RSS. */
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    uint8_t *v = make_matrix(nt, nf);
    _exit(write_files(npy, fnpy, rtab, taxa, v, nt, nf) != 0);
  }
  int status = 1;
  if (child < 0 || waitpid(child, &status, 0) != child || status != 0) {
    fprintf(stderr, "cannot write the files under %s\n", dir);
    return 1;
  }
  double *tr = malloc(sizeof(double) * (size_t)reps), *tn = malloc(sizeof(double) * (size_t)reps),
         *tf = malloc(sizeof(double) * (size_t)reps), *tt = malloc(sizeof(double) * (size_t)reps);
  uint64_t sum = 0;
  /* A warm-up round (page cache), then the timed repeats. */
  fitcl_pamatrix *a = NULL, *b = NULL;
  timed_read(npy, taxa, NULL);
  for (int r = 0; r < reps; ++r) {
    tr[r] = raw_pread(npy, &sum);
    tn[r] = timed_read(npy, taxa, NULL);
  }
  const long rss_npy = max_rss_mb();
  timed_read(fnpy, taxa, NULL);
  for (int r = 0; r < reps; ++r) tf[r] = timed_read(fnpy, taxa, NULL);
  timed_read(rtab, NULL, NULL);
  for (int r = 0; r < reps; ++r) tt[r] = timed_read(rtab, NULL, NULL);
  /* The two forms hold the same matrix. */
  timed_read(npy, taxa, &a);
  timed_read(rtab, NULL, &b);
  for (size_t i = 0; i < (size_t)nf; ++i)
    for (size_t t = 0; t < (size_t)nt; ++t)
      if (fitcl_pamatrix_get(a, i, t) != fitcl_pamatrix_get(b, i, t)) {
        fprintf(stderr, "the .npy and the Rtab differ at (%zu, %zu)\n", i, t);
        return 1;
      }
  fitcl_pamatrix_destroy(a);
  fitcl_pamatrix_destroy(b);
  double rmin, rmed, nmin, nmed, fmin, fmed, tmin, tmed;
  bench_stats(tr, (size_t)reps, &rmin, &rmed);
  bench_stats(tn, (size_t)reps, &nmin, &nmed);
  bench_stats(tf, (size_t)reps, &fmin, &fmed);
  bench_stats(tt, (size_t)reps, &tmin, &tmed);
  const double mb = (double)nt * (double)nf / 1e6;
  printf("# .npy %.1f MB (checksum %llu)\n", mb, (unsigned long long)sum);
  printf("%-34s %10s %10s\n", "step", "min s", "median s");
  printf("%-34s %10.4f %10.4f\n", "peer: 1 MiB preads of the .npy", rmin, rmed);
  printf("%-34s %10.4f %10.4f   (%.0f MB/s, %.2fx the peer)\n", "fitcl_pamatrix_read .npy", nmin,
         nmed, mb / nmin, nmin / rmin);
  printf("%-34s %10.4f %10.4f   (%.2fx C order)\n", "fitcl_pamatrix_read .npy Fortran", fmin,
         fmed, fmin / nmin);
  printf("%-34s %10.4f %10.4f   (%.2fx the .npy)\n", "fitcl_pamatrix_read .Rtab", tmin, tmed,
         tmin / nmin);
  printf("# peak RSS after the .npy reads %ld MB (cells %.1f MB)\n", rss_npy,
         (double)nf * (double)((nt + 3) / 4) / 1e6);
  char variant[64];
  snprintf(variant, sizeof variant, "%dx%ld", nt, nf);
  bench_row("readers_npy", variant, "raw_pread_min_s", rmin, "s");
  bench_row("readers_npy", variant, "npy_read_min_s", nmin, "s");
  bench_row("readers_npy", variant, "npy_read_vs_raw", nmin / rmin, "x");
  bench_row("readers_npy", variant, "npy_fortran_read_min_s", fmin, "s");
  bench_row("readers_npy", variant, "rtab_read_min_s", tmin, "s");
  bench_row("readers_npy", variant, "rtab_vs_npy", tmin / nmin, "x");
  bench_row("readers_npy", variant, "peak_rss_after_npy_mb", (double)rss_npy, "MB");
  unlink(npy);
  unlink(fnpy);
  unlink(rtab);
  unlink(taxa);
  free(tr);
  free(tn);
  free(tf);
  free(tt);
  return 0;
}
