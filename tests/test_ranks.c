/* Work shared over ranks (core/ranks.h) gives the bits of one process.  The
 * ranks here are threads of this process, each with its own context, joined
 * by an in-process `sum` (a barrier and the exact accumulators) and
 * `gather` (a barrier and copies): the library's split of the likelihood's
 * blocks, of the curve fit's chunks and of the ancestral reconstruction's
 * patterns is tested on every build and backend, MPI or not (tests/mpi/
 * runs the command under mpirun). */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/ranks.h"
#include "fitcl.h"
#include "fitcl_config.h"
#include "io/pamatrix_share.h"
#include "kernels/lik.h"
#include "phylo/data.h"
#include "test_util.h"
#if FITCL_HAVE_HDF5
#include <hdf5.h>
#endif

#define MAXR 4

typedef struct world {
  int size;
  pthread_barrier_t bar;
  fitcl__xsum *acc[MAXR];
  uint64_t count[MAXR];
  int failed[MAXR];
  const void *mine[MAXR];
  size_t n[MAXR];
} world;

typedef struct fake_rank {
  fitcl__ranks base;
  world *w;
} fake_rank;

static fitcl_status fake_sum(fitcl__ranks *r, fitcl__xsum *acc, size_t n, uint64_t *count,
                             int failed) {
  world *w = ((fake_rank *)r)->w;
  w->acc[r->rank] = acc;
  w->count[r->rank] = count ? *count : 0;
  w->failed[r->rank] = failed;
  pthread_barrier_wait(&w->bar);
  int any = 0;
  for (int k = 0; k < w->size; ++k) any |= w->failed[k];
  fitcl__xsum *total = NULL;
  uint64_t c = 0;
  if (!any) {
    /* Every rank adds all ranks' accumulators, starting with another's:
     * the order differs between ranks and must not matter. */
    total = calloc(n ? n : 1, sizeof *total);
    cr_assert(total);
    for (int j = 0; j < w->size; ++j) {
      int k = (r->rank + 1 + j) % w->size;
      for (size_t i = 0; i < n; ++i) fitcl__xsum_merge(&total[i], &w->acc[k][i]);
      c += w->count[k];
    }
  }
  pthread_barrier_wait(&w->bar); /* every rank has read every accumulator */
  if (any) return FITCL_ERR_PEER;
  memcpy(acc, total, n * sizeof *acc);
  if (count) *count = c;
  free(total);
  return FITCL_OK;
}

static fitcl_status fake_gather(fitcl__ranks *r, const void *mine, size_t n, void *all,
                                size_t total, int failed) {
  world *w = ((fake_rank *)r)->w;
  w->mine[r->rank] = mine;
  w->n[r->rank] = n;
  w->failed[r->rank] = failed;
  pthread_barrier_wait(&w->bar);
  int any = 0;
  size_t sum = 0, at = 0;
  for (int k = 0; k < w->size; ++k) {
    any |= w->failed[k];
    sum += w->n[k];
  }
  fitcl_status st = any ? FITCL_ERR_PEER : sum != total ? FITCL_ERR_ARG : FITCL_OK;
  /* Every rank copies the others' shares from where they gave them (which
   * may be in their own `all`, at the place nobody else writes) and moves
   * its own into place. */
  for (int k = 0; st == FITCL_OK && k < w->size; ++k) {
    memmove((char *)all + at, w->mine[k], w->n[k]);
    at += w->n[k];
  }
  pthread_barrier_wait(&w->bar); /* every rank has read every share */
  return st;
}

static void fake_release(fitcl__ranks *r) { (void)r; }

/* ---- the job each rank runs ------------------------------------------- */

typedef struct job {
  const char *selector;
  world *w;
  int rank;
  int kind; /* 0 likelihood with gradient, 1 rate fit, 2 curve fit, 3 ancestral, 4 curve fit
             * of a raw or HDF5 (.h5) file (x, y, sigma), 5 the same read again on
             * every pass */
  const char *path; /* 4, 5 */
  const fitcl_data *data;
  const double *x, *y;
  size_t n;
  double out[8];
  size_t blocks; /* likelihood: the blocks this rank evaluated */
  fitcl_ancestral_result anc;
  double *per[2]; /* likelihood: per-family and per-pattern log-likelihoods */
  size_t nper[2];
  fitcl_status st;
} job;

static fitcl_context *open_ctx(job *j, fake_rank *fr) {
  fitcl_context *ctx = fitcl_test_context(j->selector);
  if (j->w) {
    fr->base.rank = j->rank;
    fr->base.size = j->w->size;
    fr->base.sum = fake_sum;
    fr->base.gather = fake_gather;
    fr->base.release = fake_release;
    fr->w = j->w;
    ctx->ranks = &fr->base;
  }
  return ctx;
}

static void *run_job(void *arg) {
  job *j = arg;
  fake_rank fr;
  fitcl_context *ctx = open_ctx(j, &fr);
  memset(j->out, 0, sizeof j->out);
  if (j->kind == 0) {
    fitcl_lik_options lo;
    memset(&lo, 0, sizeof lo);
    lo.gamma_cats = 3;
    fitcl_lik *lik = NULL;
    j->st = fitcl_lik_create(ctx, j->data, &lo, &lik);
    double grad[64];
    cr_assert_leq(j->st != FITCL_OK ? 0 : fitcl_lik_grad_size(lik), 64);
    fitcl_gl_params p = {0.3, 0.5, 0.8, NULL, NULL};
    if (j->st == FITCL_OK) j->st = fitcl_lik_eval(lik, &p, &j->out[0], grad);
    if (j->st == FITCL_OK) j->blocks = lik->nblocks;
    /* Per family and per pattern: gathered from every rank. */
    j->nper[0] = fitcl_data_nfamilies(j->data);
    j->nper[1] = fitcl_data_npatterns(j->data);
    for (int k = 0; k < 2; ++k) {
      j->per[k] = malloc(j->nper[k] * sizeof(double));
      cr_assert(j->per[k]);
    }
    if (j->st == FITCL_OK) j->st = fitcl_lik_family_logliks(lik, j->per[0], j->nper[0]);
    if (j->st == FITCL_OK) j->st = fitcl_lik_pattern_logliks(lik, j->per[1], j->nper[1]);
    for (int k = 0; k < 3; ++k) j->out[1 + k] = grad[k];
    fitcl_lik_destroy(lik);
  } else if (j->kind == 1) {
    fitcl_fit_options fo;
    memset(&fo, 0, sizeof fo);
    fitcl_fit_result r;
    j->st = fitcl_fit_rates(ctx, j->data, &fo, &r);
    j->out[0] = r.loglik;
    j->out[1] = r.gain;
    j->out[2] = r.loss;
    j->out[3] = r.se_gain;
  } else if (j->kind == 3) {
    double theta[8];
    for (int g = 0; g < 8; ++g) theta[g] = 0.7 + 0.1 * g;
    fitcl_gl_params p = {0.3, 0.5, 0.8, theta, NULL};
    j->st = fitcl_ancestral(ctx, j->data, &p, 3, &j->anc);
  } else if (j->kind == 4 || j->kind == 5) {
    fitcl_model *m = NULL;
    fitcl_source *src = NULL;
    fitcl_source_options so;
    memset(&so, 0, sizeof so);
    so.path = j->path;
    const int h5 = strstr(j->path, ".h5") != NULL, csv = strstr(j->path, ".csv") != NULL;
    so.format = h5 ? "hdf5" : csv ? "csv" : "raw";
    so.sigma = h5 || csv ? "sigma" : "2";
    so.chunk_points = 5000; /* 13 chunks */
    so.cache_mb = so.csv_cache_mb = j->kind == 5 ? -1 : 0;
    j->st = fitcl_model_builtin(ctx, "exp_decay", &m);
    if (j->st == FITCL_OK) j->st = fitcl_source_open(ctx, &so, &src);
    const double p0[3] = {1, 1, 0};
    fitcl_curvefit_options o;
    memset(&o, 0, sizeof o);
    o.solver = FITCL_SOLVER_NORMAL;
    fitcl_curvefit_result r;
    memset(&r, 0, sizeof r);
    if (j->st == FITCL_OK) j->st = fitcl_curve_fit_source(ctx, m, src, p0, &o, &r);
    for (int k = 0; k < 3; ++k) j->out[k] = r.params[k];
    j->out[3] = r.cost;
    j->out[4] = r.r_squared;
    j->out[5] = r.x_min[0];
    j->out[6] = r.x_max[0];
    j->out[7] = (double)r.points;
    fitcl_source_destroy(src);
    fitcl_model_destroy(m);
  } else {
    fitcl_model *m = NULL;
    j->st = fitcl_model_builtin(ctx, "exp_decay", &m);
    const double *cols[1] = {j->x};
    const double p0[3] = {1, 1, 0};
    fitcl_curvefit_options o;
    memset(&o, 0, sizeof o);
    o.solver = FITCL_SOLVER_NORMAL;
    o.chunk_points = 5000; /* 13 chunks */
    fitcl_curvefit_result r;
    if (j->st == FITCL_OK)
      j->st = fitcl_curve_fit_arrays(ctx, m, cols, j->y, NULL, j->n, p0, &o, &r);
    for (int k = 0; k < 3; ++k) j->out[k] = r.params[k];
    j->out[3] = r.cost;
    j->out[4] = r.stderr_[1];
    j->out[5] = (double)r.points;
    /* From the first pass's statistics, which each rank forms for its own
     * chunks: the last row's x is rank 0's only in one process. */
    j->out[6] = r.r_squared;
    j->out[7] = r.x_max[0];
    fitcl_model_destroy(m);
  }
  ctx->ranks = NULL;
  fitcl_context_destroy(ctx);
  return NULL;
}

/* The job on `size` thread-ranks; every rank's results must equal `ref`
 * bit for bit (size 0: one process, no ranks; fills ref). */
static size_t one_process_blocks;
static fitcl_ancestral_result one_process_anc;
static double *one_process_per[2];

/* An ancestral result equals one process's, bit for bit. */
static void same_ancestral(const fitcl_ancestral_result *a, int size, int r) {
  const fitcl_ancestral_result *b = &one_process_anc;
  cr_assert_eq(a->families, b->families, "%d ranks, rank %d", size, r);
  cr_assert_eq(a->nodes, b->nodes, "%d ranks, rank %d", size, r);
  const size_t nn = (size_t)b->nodes;
  cr_assert_eq(memcmp(a->p_present, b->p_present, sizeof(double) * nn * b->families), 0,
               "%d ranks, rank %d: p_present differs", size, r);
  cr_assert_eq(memcmp(a->gains, b->gains, sizeof(double) * nn), 0, "%d ranks, rank %d: gains",
               size, r);
  cr_assert_eq(memcmp(a->losses, b->losses, sizeof(double) * nn), 0, "%d ranks, rank %d: losses",
               size, r);
}

static void run_ranks(job *tmpl, int size, double *ref) {
  if (size == 0) {
    job j = *tmpl;
    j.w = NULL;
    run_job(&j);
    cr_assert_eq(j.st, FITCL_OK, "one process: %s", fitcl_strerror(j.st));
    memcpy(ref, j.out, sizeof j.out);
    one_process_blocks = j.blocks;
    fitcl_ancestral_free(&one_process_anc);
    one_process_anc = j.anc;
    for (int k = 0; k < 2; ++k) {
      free(one_process_per[k]);
      one_process_per[k] = j.per[k];
    }
    return;
  }
  world w;
  memset(&w, 0, sizeof w);
  w.size = size;
  pthread_barrier_init(&w.bar, NULL, (unsigned)size);
  job jobs[MAXR];
  pthread_t th[MAXR];
  for (int r = 0; r < size; ++r) {
    jobs[r] = *tmpl;
    jobs[r].w = &w;
    jobs[r].rank = r;
    cr_assert_eq(pthread_create(&th[r], NULL, run_job, &jobs[r]), 0);
  }
  for (int r = 0; r < size; ++r) pthread_join(th[r], NULL);
  pthread_barrier_destroy(&w.bar);
  size_t blocks = 0;
  for (int r = 0; r < size; ++r) blocks += jobs[r].blocks;
  /* Each block is evaluated on one rank. */
  if (tmpl->kind == 0) cr_assert_eq(blocks, one_process_blocks, "%d ranks", size);
  for (int r = 0; r < size; ++r) {
    cr_assert_eq(jobs[r].st, FITCL_OK, "%d ranks, rank %d: %s", size, r,
                 fitcl_strerror(jobs[r].st));
    cr_assert_eq(memcmp(jobs[r].out, ref, sizeof jobs[r].out), 0,
                 "%d ranks, rank %d: %.17g %.17g %.17g %.17g, one process %.17g %.17g %.17g %.17g",
                 size, r, jobs[r].out[0], jobs[r].out[1], jobs[r].out[2], jobs[r].out[3], ref[0],
                 ref[1], ref[2], ref[3]);
    if (tmpl->kind == 3) same_ancestral(&jobs[r].anc, size, r);
    fitcl_ancestral_free(&jobs[r].anc);
    for (int k = 0; k < 2; ++k) {
      if (tmpl->kind == 0)
        cr_assert_eq(memcmp(jobs[r].per[k], one_process_per[k], jobs[r].nper[k] * sizeof(double)),
                     0, "%d ranks, rank %d: the per-%s log-likelihoods differ", size, r,
                     k ? "pattern" : "family");
      free(jobs[r].per[k]);
    }
  }
}

/* A random binary tree on 24 tips and 3000 random families with rates
 * varying by family: about 12 blocks of patterns. */
static fitcl_data *make_data(void) {
  enum { NT = 24, NF = 3000 };
  uint64_t s = 0x1234567;
  char nodes[2 * NT][2048];
  int alive = NT;
  for (int t = 0; t < NT; ++t) snprintf(nodes[t], sizeof nodes[t], "t%d:%.3f", t, 0.05 + 0.01 * t);
  while (alive > 1) { /* join two random subtrees */
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    int a = (int)((s >> 33) % (uint64_t)alive);
    int b = (a + 1 + (int)((s >> 40) % (uint64_t)(alive - 1))) % alive;
    char joined[2048];
    snprintf(joined, sizeof joined, "(%s,%s):%.3f", nodes[a], nodes[b], 0.02 + 0.001 * alive);
    int lo = a < b ? a : b, hi = a < b ? b : a;
    snprintf(nodes[lo], sizeof nodes[lo], "%s", joined);
    memmove(nodes[hi], nodes[alive - 1], sizeof nodes[hi]);
    alive--;
  }
  char text[2100];
  snprintf(text, sizeof text, "%s;", nodes[0]);
  char *colon = strrchr(text, ':'); /* the root has no branch */
  *colon = ';';
  colon[1] = 0;
  char err[512] = "";
  fitcl_tree *tree = NULL;
  cr_assert_eq(fitcl_tree_parse(text, &tree, err, sizeof err), FITCL_OK, "%s", err);
  uint8_t *v = malloc(NF * NT);
  char names[NT][8];
  const char *taxa[NT];
  for (int t = 0; t < NT; ++t) {
    snprintf(names[t], sizeof names[t], "t%d", t);
    taxa[t] = names[t];
  }
  for (int f = 0; f < NF; ++f) {
    double p = 0.1 + 0.8 * (double)(f % 17) / 16.0;
    int any = 0;
    for (int t = 0; t < NT; ++t) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      v[f * NT + t] = (double)(s >> 11) * 0x1p-53 < p;
      any |= v[f * NT + t];
    }
    if (!any) v[f * NT] = 1;
  }
  fitcl_pamatrix *mat = NULL;
  cr_assert_eq(fitcl_pamatrix_create(NF, NT, v, NULL, taxa, &mat, err, sizeof err), FITCL_OK, "%s",
               err);
  fitcl_data *data = NULL;
  cr_assert_eq(fitcl_data_build(tree, mat, NULL, &data, err, sizeof err), FITCL_OK, "%s", err);
  cr_assert_gt(fitcl_data_npatterns(data), 2500);
  free(v);
  fitcl_pamatrix_destroy(mat);
  fitcl_tree_destroy(tree);
  return data;
}

static void each_backend(job *tmpl) {
  fitcl_test_backend be[4];
  size_t nb = fitcl_test_backends(be, 4);
  for (size_t b = 0; b < nb; ++b) {
    tmpl->selector = be[b].selector;
    double ref[8];
    run_ranks(tmpl, 0, ref);
    for (int size = 1; size <= 3; ++size) run_ranks(tmpl, size, ref);
  }
}

Test(ranks, likelihood_and_gradient_have_one_process_bits) {
  fitcl_data *data = make_data();
  job t = {.kind = 0, .data = data};
  each_backend(&t);
  fitcl_data_destroy(data);
}

Test(ranks, rate_fit_has_one_process_bits) {
  fitcl_data *data = make_data();
  job t = {.kind = 1, .data = data};
  each_backend(&t);
  fitcl_data_destroy(data);
}

Test(ranks, curve_fit_has_one_process_bits) {
  enum { N = 63000 };
  double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
  for (int i = 0; i < N; ++i) {
    x[i] = 8.0 * i / N;
    y[i] = 2 * exp(-0.7 * x[i]) + 0.1 + 0.05 * sin(0.37 * i);
  }
  job t = {.kind = 2, .x = x, .y = y, .n = N};
  each_backend(&t);
  free(x);
  free(y);
}

Test(ranks, ancestral_has_one_process_bits) {
  fitcl_data *data = make_data();
  job t = {.kind = 3, .data = data};
  each_backend(&t);
  fitcl_ancestral_free(&one_process_anc);
  fitcl_data_destroy(data);
}

/* Row i of the file fits: x (not in order, so that its range is not the
 * first and last rows'), y, sigma. */
enum { FILE_ROWS = 63000 };
static void file_row(int i, double row[3]) {
  row[0] = 8.0 * ((i * 7919) % FILE_ROWS) / FILE_ROWS;
  row[1] = 2 * exp(-0.7 * row[0]) + 0.1 + 0.05 * sin(0.37 * i) + 1000;
  row[2] = 0.02 + 0.01 * (i % 5);
}

/* The rows as a raw float64 file; `bad` >= 0 makes that row's sigma 0.
 * Returns the path (malloc'ed) in dir. */
static char *write_raw(const char *dir, long bad) {
  char *path = fitcl_test_write_file(dir, bad < 0 ? "d.bin" : "bad.bin", "");
  FILE *f = fopen(path, "wb");
  cr_assert(f);
  for (int i = 0; i < FILE_ROWS; ++i) {
    double row[3];
    file_row(i, row);
    if (i == bad) row[2] = 0;
    cr_assert_eq(fwrite(row, sizeof row, 1, f), 1);
  }
  cr_assert_eq(fclose(f), 0);
  return path;
}

/* The rows as CSV text (x, a note, y, sigma; every value round-trip
 * exact), with comment and blank lines among them and CRLF line ends;
 * `bad` >= 0 makes that row's y not a number. */
static char *write_csv(const char *dir, long bad) {
  char *path = fitcl_test_write_file(dir, bad < 0 ? "d.csv" : "bad.csv", "");
  FILE *f = fopen(path, "wb");
  cr_assert(f);
  fprintf(f, "# rows of file_row\r\nx,note,y,sigma\r\n");
  for (int i = 0; i < FILE_ROWS; ++i) {
    double row[3];
    file_row(i, row);
    if (i % 4099 == 7) fprintf(f, "# comment\r\n\r\n");
    if (i == bad) fprintf(f, "%.17g,\"%d\",1.5e,%.17g\r\n", row[0], i, row[2]);
    else fprintf(f, "%.17g,\"%d\",%.17g,%.17g\r\n", row[0], i, row[1], row[2]);
  }
  cr_assert_eq(fclose(f), 0);
  return path;
}

#if FITCL_HAVE_HDF5
/* The rows as three 1-D datasets x, y, sigma of an HDF5 file. */
static char *write_h5(const char *dir) {
  char *path = fitcl_test_write_file(dir, "d.h5", "");
  double *col[3];
  for (int k = 0; k < 3; ++k) cr_assert(col[k] = malloc(FILE_ROWS * sizeof(double)));
  for (int i = 0; i < FILE_ROWS; ++i) {
    double row[3];
    file_row(i, row);
    for (int k = 0; k < 3; ++k) col[k][i] = row[k];
  }
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  cr_assert_geq(f, 0);
  hsize_t n = FILE_ROWS;
  hid_t sp = H5Screate_simple(1, &n, NULL);
  const char *names[3] = {"x", "y", "sigma"};
  for (int k = 0; k < 3; ++k) {
    hid_t ds = H5Dcreate2(f, names[k], H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(ds, 0);
    cr_assert_geq(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, col[k]), 0);
    H5Dclose(ds);
    free(col[k]);
  }
  H5Sclose(sp);
  H5Fclose(f);
  return path;
}
#endif

Test(ranks, curve_fit_of_a_file_has_one_process_bits) {
  char *dir = fitcl_test_tmpdir();
  char *path = write_raw(dir, -1);
  for (int kind = 4; kind <= 5; ++kind) {
    job t = {.kind = kind, .path = path};
    each_backend(&t);
  }
  free(path);
  /* Text: each rank reads its share of the bytes. */
  path = write_csv(dir, -1);
  for (int kind = 4; kind <= 5; ++kind) {
    job t = {.kind = kind, .path = path};
    each_backend(&t);
  }
  free(path);
#if FITCL_HAVE_HDF5
  path = write_h5(dir);
  for (int kind = 4; kind <= 5; ++kind) {
    job t = {.kind = kind, .path = path};
    each_backend(&t);
  }
  free(path);
#endif
  fitcl_test_rmtree(dir);
  free(dir);
}

/* Each rank reads only its own chunks: a bad value in chunk 4 (rank 1 of
 * 3) fails rank 1 alone on the data, the others because it failed. */
Test(ranks, a_bad_chunk_fails_only_the_rank_that_reads_it) {
  char *dir = fitcl_test_tmpdir();
  char *path = write_raw(dir, 4 * 5000 + 17);
  world w;
  memset(&w, 0, sizeof w);
  w.size = 3;
  pthread_barrier_init(&w.bar, NULL, 3);
  job jobs[3];
  pthread_t th[3];
  for (int r = 0; r < 3; ++r) {
    jobs[r] = (job){.selector = "cpu", .w = &w, .rank = r, .kind = 4, .path = path};
    cr_assert_eq(pthread_create(&th[r], NULL, run_job, &jobs[r]), 0);
  }
  for (int r = 0; r < 3; ++r) pthread_join(th[r], NULL);
  pthread_barrier_destroy(&w.bar);
  for (int r = 0; r < 3; ++r)
    cr_assert_eq(jobs[r].st, r == 1 ? FITCL_ERR_DATA : FITCL_ERR_PEER, "rank %d: %s", r,
                 fitcl_strerror(jobs[r].st));
  free(path);
  fitcl_test_rmtree(dir);
  free(dir);
}

/* The same for text: a bad cell in row 50,017 (chunk 10, which begins in
 * the last third of the bytes) fails rank 2 alone on the data. */
Test(ranks, a_bad_row_of_a_csv_fails_only_the_rank_that_reads_it) {
  char *dir = fitcl_test_tmpdir();
  char *path = write_csv(dir, 50017);
  world w;
  memset(&w, 0, sizeof w);
  w.size = 3;
  pthread_barrier_init(&w.bar, NULL, 3);
  job jobs[3];
  pthread_t th[3];
  for (int r = 0; r < 3; ++r) {
    jobs[r] = (job){.selector = "cpu", .w = &w, .rank = r, .kind = 4, .path = path};
    cr_assert_eq(pthread_create(&th[r], NULL, run_job, &jobs[r]), 0);
  }
  for (int r = 0; r < 3; ++r) pthread_join(th[r], NULL);
  pthread_barrier_destroy(&w.bar);
  for (int r = 0; r < 3; ++r)
    cr_assert_eq(jobs[r].st, r == 2 ? FITCL_ERR_PARSE : FITCL_ERR_PEER, "rank %d: %s", r,
                 fitcl_strerror(jobs[r].st));
  free(path);
  fitcl_test_rmtree(dir);
  free(dir);
}

/* gather itself: shares of different sizes (rank 1's empty), given from a
 * separate buffer or in place, arrive in rank order on every rank; a rank
 * that failed, or sizes that do not add up, fail every rank alike. */
typedef struct gather_job {
  world *w;
  int rank, mode; /* 0 plain, 1 rank 2 failed, 2 totals that do not add up */
  unsigned char all[64];
  fitcl_status st;
} gather_job;

static const size_t gather_n[3] = {5, 0, 11};

static void *gather_run(void *arg) {
  gather_job *j = arg;
  fake_rank fr = {{.rank = j->rank, .size = j->w->size, .sum = fake_sum, .gather = fake_gather,
                   .release = fake_release},
                  j->w};
  size_t off = 0, total = 0;
  for (int k = 0; k < 3; ++k) {
    if (k < j->rank) off += gather_n[k];
    total += gather_n[k];
  }
  memset(j->all, 0xEE, sizeof j->all);
  unsigned char own[16];
  for (size_t i = 0; i < gather_n[j->rank]; ++i) own[i] = (unsigned char)(16 * j->rank + i);
  /* Rank 0 gives its share in place, the others from a buffer of their own. */
  const void *mine = own;
  if (j->rank == 0) mine = memcpy(j->all + off, own, gather_n[0]);
  j->st = fr.base.gather(&fr.base, mine, gather_n[j->rank], j->all, total + (j->mode == 2),
                         j->mode == 1 && j->rank == 2);
  return NULL;
}

Test(ranks, gather_puts_the_shares_in_rank_order) {
  for (int mode = 0; mode < 3; ++mode) {
    world w;
    memset(&w, 0, sizeof w);
    w.size = 3;
    pthread_barrier_init(&w.bar, NULL, 3);
    gather_job jobs[3];
    pthread_t th[3];
    for (int r = 0; r < 3; ++r) {
      jobs[r] = (gather_job){.w = &w, .rank = r, .mode = mode};
      cr_assert_eq(pthread_create(&th[r], NULL, gather_run, &jobs[r]), 0);
    }
    for (int r = 0; r < 3; ++r) pthread_join(th[r], NULL);
    pthread_barrier_destroy(&w.bar);
    const fitcl_status want[3] = {FITCL_OK, FITCL_ERR_PEER, FITCL_ERR_ARG};
    for (int r = 0; r < 3; ++r) {
      cr_assert_eq(jobs[r].st, want[mode], "mode %d rank %d: %d", mode, r, jobs[r].st);
      if (mode) continue;
      size_t at = 0;
      for (int k = 0; k < 3; ++k)
        for (size_t i = 0; i < gather_n[k]; ++i, ++at)
          cr_assert_eq(jobs[r].all[at], 16 * k + i, "rank %d byte %zu", r, at);
      cr_assert_eq(jobs[r].all[at], 0xEE, "rank %d: written past the total", r);
    }
  }
}

/* A rank that fails makes every other rank's shared call fail too, rather
 * than wait for it. */
static void *failing_job(void *arg) {
  job *j = arg;
  fake_rank fr;
  fitcl_context *ctx = open_ctx(j, &fr);
  if (j->rank == 1) {
    j->st = ctx->ranks->sum(ctx->ranks, NULL, 0, NULL, 1); /* as a failed evaluation does */
  } else {
    fitcl_lik_options lo;
    memset(&lo, 0, sizeof lo);
    fitcl_lik *lik = NULL;
    cr_assert_eq(fitcl_lik_create(ctx, j->data, &lo, &lik), FITCL_OK);
    fitcl_gl_params p = {0.3, 0.5, 1, NULL, NULL};
    j->st = fitcl_lik_eval(lik, &p, &j->out[0], NULL);
    fitcl_lik_destroy(lik);
  }
  ctx->ranks = NULL;
  fitcl_context_destroy(ctx);
  return NULL;
}

Test(ranks, a_failed_rank_fails_the_others) {
  fitcl_data *data = make_data();
  world w;
  memset(&w, 0, sizeof w);
  w.size = 3;
  pthread_barrier_init(&w.bar, NULL, 3);
  job jobs[3];
  pthread_t th[3];
  for (int r = 0; r < 3; ++r) {
    jobs[r] = (job){.selector = "cpu", .w = &w, .rank = r, .data = data};
    cr_assert_eq(pthread_create(&th[r], NULL, failing_job, &jobs[r]), 0);
  }
  for (int r = 0; r < 3; ++r) pthread_join(th[r], NULL);
  pthread_barrier_destroy(&w.bar);
  for (int r = 0; r < 3; ++r)
    cr_assert_eq(jobs[r].st, FITCL_ERR_PEER, "rank %d: %d", r, jobs[r].st);
  fitcl_data_destroy(data);
}

/* ---- each rank reads its rows of a matrix ------------------------------ */

/* 12 taxa, the matrix's columns in another order than the tree's tips;
 * 2,000 families drawn from few states, so patterns repeat across the
 * ranks' shares; rate groups 0..2.  Rows 1,400..1,420 hold counts and
 * missing cells ("12", "NA", "?"): the general reader reads that share. */
enum { RT = 12, RF = 2000 };
static const char *row_tree =
  "(((t0:0.1,t1:0.2):0.05,(t2:0.1,t3:0.3):0.1):0.02,(((t4:0.1,t5:0.1):0.1,t6:0.2):0.05,"
  "((t7:0.1,t8:0.2):0.1,((t9:0.1,t10:0.1):0.05,t11:0.3):0.1):0.1):0.03);";
static int row_col(int c) { return (c * 5 + 3) % RT; } /* column c names taxon t<row_col(c)> */

static int row_cell(int f, int c) { /* 0, 1 or 2 (missing) */
  uint64_t s = (uint64_t)(f % 251) * 0x9E3779B97F4A7C15ull + (uint64_t)c * 0xC2B2AE3D27D4EB4Full;
  s ^= s >> 29;
  s *= 0xBF58476D1CE4E5B9ull;
  s ^= s >> 32;
  if (f >= 1400 && f <= 1420 && c == 2) return 2;
  return (int)(s & 1) | (f % 7 == 0);
}

static char *write_rows_rtab(const char *dir, const char *name, int bad_row) {
  size_t cap = (size_t)RF * (3 * RT + 16) + 256, n = 0;
  char *text = malloc(cap);
  cr_assert(text);
  n += (size_t)sprintf(text + n, "Gene");
  for (int c = 0; c < RT; ++c) n += (size_t)sprintf(text + n, "\tt%d", row_col(c));
  n += (size_t)sprintf(text + n, "\n");
  for (int f = 0; f < RF; ++f) {
    n += (size_t)sprintf(text + n, "g%d", f);
    for (int c = 0; c < RT; ++c) {
      int v = row_cell(f, c);
      const char *cell = v == 2 ? (f % 2 ? "NA" : "?") : v ? (f >= 1400 && f <= 1420 ? "12" : "1")
                                                               : "0";
      if (f == bad_row && c == 4) cell = "x";
      n += (size_t)sprintf(text + n, "\t%s", cell);
    }
    n += (size_t)sprintf(text + n, "\n");
  }
  char *path = fitcl_test_write_file(dir, name, text);
  free(text);
  return path;
}

static char *write_rows_npy(const char *dir) {
  char *path = fitcl_test_write_file(dir, "rows.npy", "");
  FILE *f = fopen(path, "wb");
  cr_assert(f);
  char h[128];
  int len = snprintf(h, sizeof h, "{'descr': '|u1', 'fortran_order': False, 'shape': (%d, %d), }",
                     (int)RF, (int)RT);
  while ((10 + len + 1) % 64) h[len++] = ' ';
  h[len++] = '\n';
  const unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)len, 0};
  cr_assert_eq(fwrite(pre, 1, 10, f), 10);
  cr_assert_eq(fwrite(h, 1, (size_t)len, f), (size_t)len);
  for (int r = 0; r < RF; ++r)
    for (int c = 0; c < RT; ++c) {
      int v = row_cell(r, c);
      fputc(v == 2 ? 255 : v, f);
    }
  cr_assert_eq(fclose(f), 0);
  return path;
}

/* The table by brute force: each family's states in tip order and its
 * group, numbered by first appearance, compared with every earlier
 * pattern. */
typedef struct brute {
  size_t npat;
  uint8_t st[RF][RT];
  int group[RF];
  double weight[RF];
  size_t fam[RF];
} brute;

static void brute_table(const fitcl_tree *tree, const int *groups, brute *b) {
  memset(b, 0, sizeof *b);
  cr_assert_eq(fitcl_tree_ntips(tree), RT);
  for (int f = 0; f < RF; ++f) {
    uint8_t col[RT];
    for (int i = 0; i < RT; ++i) {
      int taxon = atoi(fitcl_tree_tip_name(tree, i) + 1), c = 0;
      while (row_col(c) != taxon) c++;
      col[i] = (uint8_t)row_cell(f, c);
    }
    size_t p = 0;
    while (p < b->npat && (b->group[p] != groups[f] || memcmp(b->st[p], col, RT))) p++;
    if (p == b->npat) {
      memcpy(b->st[p], col, RT);
      b->group[p] = groups[f];
      b->npat++;
    }
    b->weight[p] += 1;
    b->fam[f] = p;
  }
}

typedef struct rows_job {
  world *w;
  int rank;
  const fitcl_tree *tree;
  const char *path;
  fitcl_pamatrix_options mo;
  fitcl_data_options dopt;
  fitcl_data *data;
  fitcl_status st;
  char err[512];
} rows_job;

static void *rows_run(void *arg) {
  rows_job *j = arg;
  fake_rank fr = {{.rank = j->rank, .size = j->w->size, .sum = fake_sum, .gather = fake_gather,
                   .release = fake_release},
                  j->w};
  j->st = fitcl__data_read_share(&fr.base, j->tree, j->path, &j->mo, &j->dopt, &j->data, j->err,
                                 sizeof j->err);
  return NULL;
}

static void run_rows(rows_job *tmpl, int size, rows_job *jobs) {
  world w;
  memset(&w, 0, sizeof w);
  w.size = size;
  pthread_barrier_init(&w.bar, NULL, (unsigned)size);
  pthread_t th[MAXR];
  for (int r = 0; r < size; ++r) {
    jobs[r] = *tmpl;
    jobs[r].w = &w;
    jobs[r].rank = r;
    cr_assert_eq(pthread_create(&th[r], NULL, rows_run, &jobs[r]), 0);
  }
  for (int r = 0; r < size; ++r) pthread_join(th[r], NULL);
  pthread_barrier_destroy(&w.bar);
}

/* Every rank holds the brute-force table, the names and groups of one
 * process, whatever the number of ranks, from an Rtab and from a .npy. */
Test(ranks, rows_of_a_matrix_merge_into_one_process_patterns) {
  char *dir = fitcl_test_tmpdir();
  char err[512] = "";
  fitcl_tree *tree = NULL;
  cr_assert_eq(fitcl_tree_parse(row_tree, &tree, err, sizeof err), FITCL_OK, "%s", err);
  static int groups[RF];
  for (int f = 0; f < RF; ++f) groups[f] = (f / 3) % 3;
  static brute b;
  brute_table(tree, groups, &b);
  cr_assert_gt(b.npat, 100);
  cr_assert_lt(b.npat, RF / 2);
  char *paths[2] = {write_rows_rtab(dir, "rows.Rtab", -1), write_rows_npy(dir)};
  char *taxa = NULL;
  {
    char t[RT * 8] = "";
    for (int c = 0; c < RT; ++c) sprintf(t + strlen(t), "t%d\n", row_col(c));
    taxa = fitcl_test_write_file(dir, "rows.taxa", t);
  }
  for (int kind = 0; kind < 2; ++kind) {
    rows_job t = {.tree = tree, .path = paths[kind]};
    t.dopt.groups = groups;
    if (kind == 1) t.mo.taxa_file = taxa;
    for (int size = 1; size <= 3; ++size) {
      rows_job jobs[MAXR];
      run_rows(&t, size, jobs);
      for (int r = 0; r < size; ++r) {
        cr_assert_eq(jobs[r].st, FITCL_OK, "kind %d, %d ranks, rank %d: %s", kind, size, r,
                     jobs[r].err);
        const fitcl_data *d = jobs[r].data;
        cr_assert_eq(fitcl_data_nfamilies(d), RF);
        cr_assert_eq(fitcl_data_npatterns(d), b.npat, "kind %d, %d ranks, rank %d", kind, size, r);
        for (size_t p = 0; p < b.npat; ++p) {
          cr_assert_eq(fitcl_data_pattern_weight(d, p), b.weight[p]);
          cr_assert_eq(d->pat.group[p], b.group[p]);
          for (int i = 0; i < RT; ++i)
            cr_assert_eq(fitcl_data_pattern_state(d, p, i), b.st[p][i], "pattern %zu tip %d", p,
                         i);
        }
        for (int f = 0; f < RF; ++f) {
          char nm[16];
          snprintf(nm, sizeof nm, kind == 0 ? "g%d" : "F%d", kind == 0 ? f : f + 1);
          cr_assert_str_eq(fitcl_data_family_name(d, (size_t)f), nm);
          cr_assert_eq(fitcl_data_family_pattern(d, (size_t)f), b.fam[f]);
          cr_assert_eq(fitcl_data_family_group(d, (size_t)f), groups[f]);
        }
        cr_assert_eq(d->pat.ngroups, 3);
        fitcl_data_destroy(jobs[r].data);
      }
    }
  }
  /* A bad cell in row 1,990 (rank 2 of 3 reads it): rank 2 fails with one
   * process's message, line and column included; the others as peers. */
  char *bad = write_rows_rtab(dir, "bad.Rtab", 1990);
  fitcl_pamatrix *m = NULL;
  char one[512] = "";
  cr_assert_eq(fitcl_pamatrix_read(bad, NULL, &m, one, sizeof one), FITCL_ERR_DATA);
  rows_job t = {.tree = tree, .path = bad};
  rows_job jobs[MAXR];
  run_rows(&t, 3, jobs);
  for (int r = 0; r < 3; ++r) {
    cr_assert_eq(jobs[r].st, r == 2 ? FITCL_ERR_DATA : FITCL_ERR_PEER, "rank %d: %s", r,
                 jobs[r].err);
    cr_assert_null(jobs[r].data);
  }
  cr_assert_str_eq(jobs[2].err, one);
  free(bad);
  free(paths[0]);
  free(paths[1]);
  free(taxa);
  fitcl_tree_destroy(tree);
  fitcl_test_rmtree(dir);
  free(dir);
}

/* Fewer families than ranks: rank 2 reads no rows (of an Rtab, of a .npy)
 * and still ends with one process's table. */
Test(ranks, a_rank_without_rows_merges_like_the_others) {
  char *dir = fitcl_test_tmpdir();
  char err[512] = "";
  fitcl_tree *tree = NULL;
  cr_assert_eq(fitcl_tree_parse(row_tree, &tree, err, sizeof err), FITCL_OK, "%s", err);
  static const uint8_t cells[2][RT] = {{0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 1},
                                        {1, 1, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1}};
  char text[256] = "Gene", t[RT * 8] = "";
  for (int c = 0; c < RT; ++c) {
    sprintf(text + strlen(text), "\tt%d", row_col(c));
    sprintf(t + strlen(t), "t%d\n", row_col(c));
  }
  for (int r = 0; r < 2; ++r) {
    sprintf(text + strlen(text), "\n%c", 'a' + r);
    for (int c = 0; c < RT; ++c) sprintf(text + strlen(text), "\t%d", cells[r][c]);
  }
  strcat(text, "\n");
  char *rtab = fitcl_test_write_file(dir, "two.Rtab", text);
  char *taxa = fitcl_test_write_file(dir, "two.taxa", t);
  char *npy = fitcl_test_write_file(dir, "two.npy", "");
  {
    FILE *f = fopen(npy, "wb");
    cr_assert(f);
    char h[128];
    int len = snprintf(h, sizeof h, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, %d), }",
                       (int)RT);
    while ((10 + len + 1) % 64) h[len++] = ' ';
    h[len++] = '\n';
    const unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)len, 0};
    cr_assert_eq(fwrite(pre, 1, 10, f), 10);
    cr_assert_eq(fwrite(h, 1, (size_t)len, f), (size_t)len);
    for (int r = 0; r < 2; ++r)
      for (int c = 0; c < RT; ++c) fputc(cells[r][c], f);
    cr_assert_eq(fclose(f), 0);
  }
  for (int kind = 0; kind < 2; ++kind) {
    rows_job tm = {.tree = tree, .path = kind ? npy : rtab};
    if (kind) tm.mo.taxa_file = taxa;
    fitcl_pamatrix *m = NULL;
    fitcl_data *one = NULL;
    cr_assert_eq(fitcl_pamatrix_read(tm.path, &tm.mo, &m, err, sizeof err), FITCL_OK, "%s", err);
    cr_assert_eq(fitcl_data_build(tree, m, NULL, &one, err, sizeof err), FITCL_OK, "%s", err);
    fitcl_pamatrix_destroy(m);
    cr_assert_eq(fitcl_data_npatterns(one), 2);
    rows_job jobs[MAXR];
    run_rows(&tm, 3, jobs);
    for (int r = 0; r < 3; ++r) {
      cr_assert_eq(jobs[r].st, FITCL_OK, "kind %d rank %d: %s", kind, r, jobs[r].err);
      const fitcl_data *d = jobs[r].data;
      cr_assert_eq(fitcl_data_nfamilies(d), 2);
      cr_assert_eq(fitcl_data_npatterns(d), 2);
      for (size_t p = 0; p < 2; ++p) {
        cr_assert_eq(fitcl_data_pattern_weight(d, p), fitcl_data_pattern_weight(one, p));
        cr_assert_str_eq(fitcl_data_family_name(d, p), fitcl_data_family_name(one, p));
        cr_assert_eq(fitcl_data_family_pattern(d, p), fitcl_data_family_pattern(one, p));
        for (int i = 0; i < RT; ++i)
          cr_assert_eq(fitcl_data_pattern_state(d, p, i), fitcl_data_pattern_state(one, p, i));
      }
      fitcl_data_destroy(jobs[r].data);
    }
    fitcl_data_destroy(one);
  }
  free(rtab);
  free(taxa);
  free(npy);
  fitcl_tree_destroy(tree);
  fitcl_test_rmtree(dir);
  free(dir);
}
