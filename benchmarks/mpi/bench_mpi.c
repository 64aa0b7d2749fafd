/* fitcl over MPI ranks: wall time of one job and the share of it spent in
 * the ranks' exchanges (fitcl_mpi_get_stats), for a curve fit from arrays
 * and for repeated likelihood evaluations.  Run it under mpirun with 1 and
 * 2 ranks (benchmarks/mpi/run.sh); rank 0 prints one JSON line.
 *
 *   bench_mpi curvefit N
 *   bench_mpi loglik TREE MATRIX EVALS */
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
static void report(fitcl_context *ctx, const char *what, size_t work, double secs,
                   const double *p, int np) {
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  fitcl_mpi_stats s;
  fitcl_mpi_get_stats(ctx, &s);
  double comm = 0, wall = 0;
  MPI_Reduce(&s.seconds, &comm, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  MPI_Reduce(&secs, &wall, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  if (rank) return;
  printf("{\"bench\":\"%s\",\"ranks\":%d,\"work\":%zu,\"seconds\":%.4f,\"mpi_seconds\":%.5f,"
         "\"mpi_share\":%.4f,\"mpi_calls\":%llu,\"mpi_bytes_per_rank\":%llu,\"result\":[",
         what, size, work, wall, comm, wall > 0 ? comm / wall : 0, (unsigned long long)s.calls,
         (unsigned long long)s.bytes);
  for (int i = 0; i < np; ++i) printf("%s%.17g", i ? "," : "", p[i]);
  printf("]}\n");
}

static int curvefit(fitcl_context *ctx, size_t n) {
  double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
  if (!x || !y) return die(NULL, "memory", FITCL_ERR_NOMEM);
  for (size_t i = 0; i < n; ++i) {
    x[i] = 10.0 * (double)i / (double)n;
    y[i] = 2.0 * exp(-0.7 * x[i]) + 0.1 + 0.05 * sin(0.37 * (double)i);
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
  report(ctx, "curvefit", n, secs, r.params, 3);
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
  report(ctx, "loglik", (size_t)evals, secs, out, 2);
  free(grad);
  fitcl_lik_destroy(lik);
  fitcl_data_destroy(data);
  fitcl_pamatrix_destroy(mat);
  fitcl_tree_destroy(tree);
  return 0;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  fitcl_context *ctx = NULL;
  fitcl_status st = fitcl_context_create(NULL, &ctx);
  if (st != FITCL_OK) return die(ctx, "context", st);
  st = fitcl_mpi_attach(ctx, MPI_COMM_WORLD);
  if (st != FITCL_OK) return die(ctx, "attach", st);
  int rc = 2;
  if (argc == 3 && !strcmp(argv[1], "curvefit")) rc = curvefit(ctx, (size_t)atoll(argv[2]));
  else if (argc == 5 && !strcmp(argv[1], "loglik"))
    rc = loglik(ctx, argv[2], argv[3], atoi(argv[4]));
  else fprintf(stderr, "usage: bench_mpi curvefit N | loglik TREE MATRIX EVALS\n");
  fitcl_context_destroy(ctx);
  MPI_Finalize();
  return rc;
}
