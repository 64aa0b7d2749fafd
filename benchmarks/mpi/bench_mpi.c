/* fitcl over MPI ranks: wall time of one job and the share of it spent in
 * the ranks' exchanges (fitcl_mpi_get_stats), for a curve fit from arrays,
 * a curve fit from a .npy file (with the bytes each rank read), repeated
 * likelihood evaluations and an ancestral reconstruction.  Run it under
 * mpirun with 1 and 2 ranks (benchmarks/mpi/run.sh); rank 0 prints one
 * JSON line.
 *
 *   bench_mpi curvefit N
 *   bench_mpi write-npy N FILE          (one process: the data of curvefit)
 *   bench_mpi write-csv N FILE          (the same as CSV text, x,y)
 *   bench_mpi source FILE MEMORY_MB [CHECKPOINT]
 *                                       (MEMORY_MB -1: read on every pass;
 *                                       rank 0 writes CHECKPOINT)
 *   bench_mpi loglik TREE MATRIX EVALS
 *   bench_mpi ancestral TREE MATRIX */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "fitcl/mpi.h"

static int die(fitcl_context *ctx, const char *what, fitcl_status st) {
  fprintf(stderr, "bench_mpi: %s: %s\n", what, ctx ? fitcl_errmsg(ctx) : fitcl_strerror(st));
  MPI_Abort(MPI_COMM_WORLD, 1);
  return 1;
}

/* The slowest rank's MPI time: the job waits for it. */
static void report(fitcl_context *ctx, const char *what, const char *extra, size_t work,
                   double secs, const double *p, int np) {
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  fitcl_mpi_stats s;
  fitcl_mpi_get_stats(ctx, &s);
  double comm = 0, wall = 0;
  MPI_Reduce(&s.seconds, &comm, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  MPI_Reduce(&secs, &wall, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  if (rank) return;
  printf("{\"bench\":\"%s\"%s,\"ranks\":%d,\"work\":%zu,\"seconds\":%.4f,\"mpi_seconds\":%.5f,"
         "\"mpi_share\":%.4f,\"mpi_calls\":%llu,\"mpi_bytes_per_rank\":%llu,\"result\":[",
         what, extra, size, work, wall, comm, wall > 0 ? comm / wall : 0, (unsigned long long)s.calls,
         (unsigned long long)s.bytes);
  for (int i = 0; i < np; ++i) printf("%s%.17g", i ? "," : "", p[i]);
  printf("]}\n");
}

/* Bytes this process has read through read(2) and pread(2) so far. */
static unsigned long long rchar(void) {
  FILE *f = fopen("/proc/self/io", "r");
  unsigned long long v = 0;
  if (!f) return 0;
  char line[128];
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "rchar: %llu", &v) == 1) break;
  fclose(f);
  return v;
}

static double curve_y(size_t i, size_t n) {
  double x = 10.0 * (double)i / (double)n;
  return 2.0 * exp(-0.7 * x) + 0.1 + 0.05 * sin(0.37 * (double)i);
}

/* The points of `curvefit` as an (n, 2) float64 .npy. */
static int write_npy(size_t n, const char *path) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    perror(path);
    return 1;
  }
  char h[128];
  int len = snprintf(h, sizeof h, "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu, 2), }",
                     n);
  while ((10 + len + 1) % 64) h[len++] = ' ';
  h[len++] = '\n';
  fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  unsigned char hl[2] = {(unsigned char)(len & 255), (unsigned char)(len >> 8)};
  fwrite(hl, 1, 2, f);
  fwrite(h, 1, (size_t)len, f);
  for (size_t i = 0; i < n; ++i) {
    double row[2] = {10.0 * (double)i / (double)n, curve_y(i, n)};
    fwrite(row, sizeof row, 1, f);
  }
  if (fclose(f) == 0) return 0;
  perror(path);
  return 1;
}

/* The points of `curvefit` as CSV text, every value round-trip exact. */
static int write_csv(size_t n, const char *path) {
  FILE *f = fopen(path, "w");
  if (!f) {
    perror(path);
    return 1;
  }
  fprintf(f, "x,y\n");
  for (size_t i = 0; i < n; ++i)
    fprintf(f, "%.17g,%.17g\n", 10.0 * (double)i / (double)n, curve_y(i, n));
  if (fclose(f) == 0) return 0;
  perror(path);
  return 1;
}

/* A curve fit of a .npy or CSV file: the time, and the bytes each rank
 * read; with a checkpoint (written by rank 0) when `ckpt` is not NULL. */
static int source_fit(fitcl_context *ctx, const char *path, long memory_mb, const char *ckpt) {
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  fitcl_model *m = NULL;
  fitcl_status st = fitcl_model_builtin(ctx, "exp_decay", &m);
  if (st != FITCL_OK) return die(ctx, "model", st);
  fitcl_source_options so;
  memset(&so, 0, sizeof so);
  so.path = path;
  so.cache_mb = so.csv_cache_mb = memory_mb;
  const double p0[3] = {1, 1, 0};
  fitcl_curvefit_options o;
  memset(&o, 0, sizeof o);
  o.solver = FITCL_SOLVER_NORMAL;
  o.checkpoint_path = rank == 0 ? ckpt : NULL;
  fitcl_curvefit_result r;
  MPI_Barrier(MPI_COMM_WORLD);
  unsigned long long r0 = rchar();
  double t0 = MPI_Wtime();
  fitcl_source *src = NULL;
  st = fitcl_source_open(ctx, &so, &src);
  if (st == FITCL_OK) st = fitcl_curve_fit_source(ctx, m, src, p0, &o, &r);
  double secs = MPI_Wtime() - t0;
  unsigned long long bytes = rchar() - r0, *all = calloc((size_t)size, sizeof *all);
  if (st != FITCL_OK) return die(ctx, "curve fit", st);
  if (!all) return die(NULL, "memory", FITCL_ERR_NOMEM);
  MPI_Gather(&bytes, 1, MPI_UNSIGNED_LONG_LONG, all, 1, MPI_UNSIGNED_LONG_LONG, 0,
             MPI_COMM_WORLD);
  char extra[2048];
  int at = snprintf(extra, sizeof extra,
                    ",\"memory_mb\":%ld,\"checkpoint\":%d,\"passes\":%d,\"read_bytes\":[",
                    memory_mb, ckpt != NULL, r.jacobian_passes);
  for (int k = 0; k < size && k < 64; ++k)
    at += snprintf(extra + at, sizeof extra - (size_t)at, "%s%llu", k ? "," : "", all[k]);
  snprintf(extra + at, sizeof extra - (size_t)at, "]");
  report(ctx, "source", extra, (size_t)r.points, secs, r.params, 3);
  free(all);
  fitcl_source_destroy(src);
  fitcl_model_destroy(m);
  return 0;
}

static int curvefit(fitcl_context *ctx, size_t n) {
  double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
  if (!x || !y) return die(NULL, "memory", FITCL_ERR_NOMEM);
  for (size_t i = 0; i < n; ++i) {
    x[i] = 10.0 * (double)i / (double)n;
    y[i] = curve_y(i, n);
  }
  fitcl_model *m = NULL;
  fitcl_status st = fitcl_model_builtin(ctx, "exp_decay", &m);
  if (st != FITCL_OK) return die(ctx, "model", st);
  const double *cols[1] = {x};
  const double p0[3] = {1, 1, 0};
  fitcl_curvefit_options o;
  memset(&o, 0, sizeof o);
  o.solver = FITCL_SOLVER_NORMAL;
  fitcl_curvefit_result r;
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  st = fitcl_curve_fit_arrays(ctx, m, cols, y, NULL, n, p0, &o, &r);
  double secs = MPI_Wtime() - t0;
  if (st != FITCL_OK) return die(ctx, "curve fit", st);
  report(ctx, "curvefit", "", n, secs, r.params, 3);
  fitcl_model_destroy(m);
  free(x);
  free(y);
  return 0;
}

static int loglik(fitcl_context *ctx, const char *tree_path, const char *matrix_path, int evals) {
  char err[1024];
  fitcl_tree *tree = NULL;
  fitcl_pamatrix *mat = NULL;
  fitcl_data *data = NULL;
  fitcl_lik *lik = NULL;
  fitcl_status st = fitcl_tree_read(tree_path, &tree, err, sizeof err);
  if (st == FITCL_OK) st = fitcl_pamatrix_read(matrix_path, NULL, &mat, err, sizeof err);
  if (st == FITCL_OK) st = fitcl_data_build(tree, mat, NULL, &data, err, sizeof err);
  if (st != FITCL_OK) {
    fprintf(stderr, "bench_mpi: %s\n", err);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  fitcl_lik_options lo;
  memset(&lo, 0, sizeof lo);
  lo.gamma_cats = 4;
  st = fitcl_lik_create(ctx, data, &lo, &lik);
  if (st != FITCL_OK) return die(ctx, "likelihood", st);
  double *grad = calloc(fitcl_lik_grad_size(lik), sizeof *grad), out[2] = {0, 0};
  if (!grad) return die(NULL, "memory", FITCL_ERR_NOMEM);
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  for (int e = 0; e < evals; ++e) {
    fitcl_gl_params p = {0.3 + 0.001 * e, 0.5, 0.7, NULL, NULL};
    st = fitcl_lik_eval(lik, &p, &out[0], grad);
    if (st != FITCL_OK) return die(ctx, "evaluation", st);
  }
  double secs = MPI_Wtime() - t0;
  out[1] = grad[0];
  report(ctx, "loglik", "", (size_t)evals, secs, out, 2);
  free(grad);
  fitcl_lik_destroy(lik);
  fitcl_data_destroy(data);
  fitcl_pamatrix_destroy(mat);
  fitcl_tree_destroy(tree);
  return 0;
}

/* Ancestral reconstruction with the rates given (4 categories). */
static int ancestral(fitcl_context *ctx, const char *tree_path, const char *matrix_path) {
  char err[1024];
  fitcl_tree *tree = NULL;
  fitcl_pamatrix *mat = NULL;
  fitcl_data *data = NULL;
  fitcl_status st = fitcl_tree_read(tree_path, &tree, err, sizeof err);
  if (st == FITCL_OK) st = fitcl_pamatrix_read(matrix_path, NULL, &mat, err, sizeof err);
  if (st == FITCL_OK) st = fitcl_data_build(tree, mat, NULL, &data, err, sizeof err);
  if (st != FITCL_OK) {
    fprintf(stderr, "bench_mpi: %s\n", err);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  fitcl_gl_params p = {0.3, 0.5, 0.7, NULL, NULL};
  fitcl_ancestral_result r;
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  st = fitcl_ancestral(ctx, data, &p, 4, &r);
  double secs = MPI_Wtime() - t0;
  if (st != FITCL_OK) return die(ctx, "ancestral", st);
  double out[2] = {r.gains[0], r.p_present[(r.families - 1) * (size_t)r.nodes + (size_t)r.nodes - 1]};
  report(ctx, "ancestral", "", r.families, secs, out, 2);
  fitcl_ancestral_free(&r);
  fitcl_data_destroy(data);
  fitcl_pamatrix_destroy(mat);
  fitcl_tree_destroy(tree);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "write-npy")) return write_npy((size_t)atoll(argv[2]), argv[3]);
  if (argc == 4 && !strcmp(argv[1], "write-csv")) return write_csv((size_t)atoll(argv[2]), argv[3]);
  MPI_Init(&argc, &argv);
  fitcl_context *ctx = NULL;
  fitcl_status st = fitcl_context_create(NULL, &ctx);
  if (st != FITCL_OK) return die(ctx, "context", st);
  st = fitcl_mpi_attach(ctx, MPI_COMM_WORLD);
  if (st != FITCL_OK) return die(ctx, "attach", st);
  int rc = 2;
  if (argc == 3 && !strcmp(argv[1], "curvefit")) rc = curvefit(ctx, (size_t)atoll(argv[2]));
  else if ((argc == 4 || argc == 5) && !strcmp(argv[1], "source"))
    rc = source_fit(ctx, argv[2], atol(argv[3]), argc == 5 ? argv[4] : NULL);
  else if (argc == 5 && !strcmp(argv[1], "loglik"))
    rc = loglik(ctx, argv[2], argv[3], atoi(argv[4]));
  else if (argc == 4 && !strcmp(argv[1], "ancestral")) rc = ancestral(ctx, argv[2], argv[3]);
  else
    fprintf(stderr, "usage: bench_mpi curvefit N | write-npy N FILE | write-csv N FILE | "
                    "source FILE MEMORY_MB [CHECKPOINT] | "
                    "loglik TREE MATRIX EVALS | ancestral TREE MATRIX\n");
  fitcl_context_destroy(ctx);
  MPI_Finalize();
  return rc;
}
