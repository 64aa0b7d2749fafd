/* The accumulation pass (JᵀJ, Jᵀr, cost: what curve-fit runs every
 * iteration) over a context of several devices gives the bits of `cpu`
 * alone: a group's sums have the same bits on the pthreads path and on an
 * OpenCL device in double, the groups are handed out in units
 * (FITCL_DEVICE_UNIT; a test hook slows one device so the other takes
 * groups), and every device adds its groups exactly; in a QR pass the
 * first device merges every group's triangle in group order. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/accum_qr.h"
#include "core/context.h"
#include "core/ranks.h"
#include "fitcl.h"
#include "kernels/accum.h"
#include "kernels/accum_multi.h"
#include "test_util.h"

#define N 100003 /* three pieces of MAXCHUNK points (the last short), ~25 groups */
#define MAXCHUNK 40000

static double X[N], X2[N], Y[N], S[N];

static void make_data(void) {
  unsigned long long r = 12345;
  for (size_t i = 0; i < N; ++i) {
    r = r * 6364136223846793005ULL + 1442695040888963407ULL;
    double u = (double)(r >> 11) / 9007199254740992.0;
    X[i] = 10.0 * (double)i / N;
    X2[i] = u;
    Y[i] = 3.0 * exp(-0.7 * X[i]) + 0.5 + 0.3 * u + 0.05 * (u - 0.5) * (u - 0.3);
    S[i] = 0.05 + 0.01 * u;
  }
}

/* One case: a model, a loss, weights or none, a pass mode. */
typedef struct acase {
  int expr;  /* an expression model, else the built-in exp_decay */
  int loss;
  int sigma;
  int mode;  /* FITCL__ACCUM_COST, _NORMAL or _QR */
} acase;

static const acase CASES[] = {
    {0, FITCL_LOSS_LINEAR, 0, FITCL__ACCUM_NORMAL}, {0, FITCL_LOSS_LINEAR, 1, FITCL__ACCUM_COST},
    {1, FITCL_LOSS_LINEAR, 1, FITCL__ACCUM_NORMAL}, {1, FITCL_LOSS_HUBER, 0, FITCL__ACCUM_NORMAL},
    {1, FITCL_LOSS_CAUCHY, 1, FITCL__ACCUM_COST},   {0, FITCL_LOSS_LINEAR, 1, FITCL__ACCUM_QR},
    {1, FITCL_LOSS_SOFT_L1, 0, FITCL__ACCUM_QR},
};
#define NCASES (sizeof CASES / sizeof CASES[0])
#define NOUT (FITCL_QR_TRI(5) + 8)

typedef struct aout {
  double v[NCASES][NOUT]; /* each case's sums (or triangle), cost, rss */
  uint64_t blocks[2];
} aout;

static fitcl_model *model_of(fitcl_context *ctx, int expr) {
  fitcl_model *m = NULL;
  const char *pn[] = {"a", "b", "c", "d"}, *vn[] = {"x", "x2"};
  fitcl_status st = expr ? fitcl_model_compile(ctx, "a*exp(-b*x)+c+d*log(x2+1)", pn, 4, vn, 2, &m)
                         : fitcl_model_builtin(ctx, "exp_decay", &m);
  cr_assert_eq(st, FITCL_OK, "%s", fitcl_errmsg(ctx));
  return m;
}

/* Every case on `ctx`; the rank's rows only when `rank` >= 0 (of 2). */
static void run_cases(fitcl_context *ctx, aout *o, int rank) {
  static const double p[4] = {2.5, 0.6, 0.4, 0.2};
  for (size_t c = 0; c < NCASES; ++c) {
    const acase *k = &CASES[c];
    /* Ranks add sums; a QR pass's triangles are the solver's to merge. */
    if (rank >= 0 && k->mode == FITCL__ACCUM_QR) continue;
    fitcl_model *m = model_of(ctx, k->expr);
    fitcl_accum_options ao;
    memset(&ao, 0, sizeof ao);
    ao.loss = (fitcl_loss)k->loss;
    ao.f_scale = 0.05;
    ao.max_chunk = MAXCHUNK;
    fitcl_accum *a = NULL;
    cr_assert_eq(fitcl_accum_create(ctx, m, &ao, &a), FITCL_OK, "%s", fitcl_errmsg(ctx));
    if (rank >= 0) cr_assert(fitcl__accum_share(a));
    for (int pass = 0; pass < 2; ++pass) { /* the second with the speeds of the first */
      cr_assert_eq(fitcl__accum_begin_mode(a, p, k->mode), FITCL_OK, "%s", fitcl_errmsg(ctx));
      for (size_t at = 0, piece = 0; at < N; at += MAXCHUNK, ++piece) {
        if (rank >= 0 && (int)(piece % 2) != rank) continue;
        size_t n = N - at < MAXCHUNK ? N - at : MAXCHUNK;
        const double *xs[2] = {X + at, X2 + at};
        fitcl__accum_at_row(a, at);
        cr_assert_eq(fitcl_accum_chunk(a, xs, Y + at, k->sigma ? S + at : NULL, n), FITCL_OK,
                     "%s", fitcl_errmsg(ctx));
      }
      double *v = o->v[c];
      memset(v, 0, sizeof o->v[c]);
      if (k->mode == FITCL__ACCUM_QR) {
        uint64_t pts = 0;
        cr_assert_eq(fitcl__accum_end_qr(a, v, &v[NOUT - 2], &v[NOUT - 1], &pts), FITCL_OK);
      } else {
        fitcl_accum_sums s;
        cr_assert_eq(fitcl_accum_end(a, &s), FITCL_OK, "%s", fitcl_errmsg(ctx));
        int np = s.nparams, t = 0;
        for (int i = 0; i < np * np; ++i) v[t++] = s.jtj[i];
        for (int i = 0; i < np; ++i) v[t++] = s.jtr[i];
        v[NOUT - 2] = s.cost;
        v[NOUT - 1] = s.rss;
        cr_assert_eq(s.points, N);
      }
    }
    fitcl_accum_destroy(a);
    fitcl_model_destroy(m);
  }
  fitcl_context_info info;
  cr_assert_eq(fitcl_context_get_info(ctx, &info), FITCL_OK);
  o->blocks[0] = o->blocks[1] = 0;
  for (int i = 0; i < info.ndevices && i < 2; ++i) {
    fitcl_context_device_info d;
    cr_assert_eq(fitcl_context_device(ctx, i, &d), FITCL_OK);
    o->blocks[i] = d.blocks;
  }
}

static void run_on(const char *selector, aout *o) {
  fitcl_context *ctx = fitcl_test_context(selector);
  run_cases(ctx, o, -1);
  fitcl_context_destroy(ctx);
}

/* Cases [from, to) of a and b have the same bits. */
static void expect_same(const aout *a, const aout *b, size_t from, size_t to, const char *what) {
  for (size_t c = from; c < to; ++c)
    for (int i = 0; i < NOUT; ++i)
      cr_expect_eq(memcmp(&a->v[c][i], &b->v[c][i], sizeof(double)), 0,
                   "%s, case %zu, value %d: %.17g vs %.17g", what, c, i, a->v[c][i], b->v[c][i]);
}

static const char *opencl_selector(void) {
  fitcl_test_backend be[4];
  size_t nb = fitcl_test_backends(be, 4);
  return nb > 1 ? be[1].selector : NULL;
}

Test(multidevice_accum, cpu_and_opencl_give_the_same_sums) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device: the comparison needs one");
  if (!fitcl__accum_multi_exact())
    cr_skip_test("built with -DFITCL_EXACT_ACCUM=OFF: the pthreads path contracts into FMAs");
  make_data();
  static aout cpu, dev;
  run_on("cpu", &cpu);
  run_on(ocl, &dev);
  /* What lets any group go to either device. */
  expect_same(&cpu, &dev, 0, NCASES, "cpu vs OpenCL");
}

Test(multidevice_accum, any_split_gives_the_bits_of_one_device) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device: a context over two devices needs one");
  make_data();
  static aout ref_cpu, ref_ocl, got;
  run_on("cpu", &ref_cpu);
  run_on(ocl, &ref_ocl);
  const int exact = fitcl__accum_multi_exact();
  char sel[512];
  const char *units[] = {"1", "3", "7", "100000", NULL};
  for (int order = 0; order < 2; ++order) {
    if (order == 0) snprintf(sel, sizeof sel, "cpu+%s", ocl);
    else snprintf(sel, sizeof sel, "%s+cpu", ocl);
    const aout *first = order == 0 ? &ref_cpu : &ref_ocl;
    for (int u = 0; units[u]; ++u)
      for (int slow = -1; slow < 2; ++slow) {
        setenv("FITCL_DEVICE_UNIT", units[u], 1);
        memset(fitcl__accum_multi_slow_us, 0, sizeof fitcl__accum_multi_slow_us);
        if (slow >= 0) fitcl__accum_multi_slow_us[slow] = 1000;
        run_on(sel, &got);
        char what[700];
        snprintf(what, sizeof what, "%s, unit %s, slow device %d", sel, units[u], slow);
        /* cpu's bits (with a build that does not share the passes, the
         * first device's). */
        expect_same(&got, exact ? &ref_cpu : first, 0, NCASES, what);
        if (!exact) {
          cr_expect_eq(got.blocks[1], 0, "%s: a device other than the first took blocks", what);
          continue;
        }
        /* A slowed device leaves groups to the other (the hook waits for
         * it to take one). */
        if (slow >= 0)
          cr_expect_gt(got.blocks[1 - slow], 0, "%s: the fast device took no group", what);
        /* A large unit with no delay: the first device takes the piece's
         * groups at once, unless the other was quicker to one; with unit
         * 1 and the first slowed, the second device takes most. */
        if (slow == 0 && units[u][0] == '1' && !units[u][1])
          cr_expect_gt(got.blocks[1], got.blocks[0], "%s: %llu vs %llu blocks", what,
                       (unsigned long long)got.blocks[0], (unsigned long long)got.blocks[1]);
      }
  }
  unsetenv("FITCL_DEVICE_UNIT");
  memset(fitcl__accum_multi_slow_us, 0, sizeof fitcl__accum_multi_slow_us);
}

/* ---- devices within ranks --------------------------------------------- */

/* Two ranks as threads of this process, each given every other piece, on
 * a context over cpu and the OpenCL device: the ranks' sums added are
 * still one device's. */
typedef struct two_ranks {
  pthread_barrier_t bar;
  fitcl__xsum *acc[2];
  uint64_t count[2];
} two_ranks;

typedef struct thread_rank {
  fitcl__ranks base;
  two_ranks *w;
} thread_rank;

static fitcl_status thread_sum(fitcl__ranks *r, fitcl__xsum *acc, size_t n, uint64_t *count,
                               int failed) {
  two_ranks *w = ((thread_rank *)r)->w;
  cr_assert(!failed);
  w->acc[r->rank] = acc;
  w->count[r->rank] = count ? *count : 0;
  pthread_barrier_wait(&w->bar);
  fitcl__xsum total[64];
  cr_assert_leq(n, 64);
  for (size_t i = 0; i < n; ++i) {
    fitcl__xsum_init(&total[i]);
    for (int k = 0; k < 2; ++k) fitcl__xsum_merge(&total[i], &w->acc[k][i]);
  }
  uint64_t all = w->count[0] + w->count[1];
  pthread_barrier_wait(&w->bar); /* both have read both */
  memcpy(acc, total, n * sizeof *acc);
  if (count) *count = all;
  return FITCL_OK;
}

typedef struct rank_job {
  two_ranks *w;
  int rank;
  const char *selector;
  aout out;
} rank_job;

static void *rank_main(void *arg) {
  rank_job *j = arg;
  fitcl_context *ctx = fitcl_test_context(j->selector);
  thread_rank tr = {{.rank = j->rank, .size = 2, .sum = thread_sum}, j->w};
  ctx->ranks = &tr.base;
  run_cases(ctx, &j->out, j->rank);
  ctx->ranks = NULL;
  fitcl_context_destroy(ctx);
  return NULL;
}

Test(multidevice_accum, devices_within_ranks_keep_the_bits) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device: a context over two devices needs one");
  if (!fitcl__accum_multi_exact())
    cr_skip_test("built with -DFITCL_EXACT_ACCUM=OFF: the accumulation is not shared");
  make_data();
  static aout ref;
  run_on("cpu", &ref);
  char sel[512];
  snprintf(sel, sizeof sel, "cpu+%s", ocl);
  setenv("FITCL_DEVICE_UNIT", "1", 1);
  memset(fitcl__accum_multi_slow_us, 0, sizeof fitcl__accum_multi_slow_us);
  fitcl__accum_multi_slow_us[0] = 1000; /* the cpu slow: OpenCL takes groups too */
  static two_ranks w;
  pthread_barrier_init(&w.bar, NULL, 2);
  static rank_job jobs[2];
  pthread_t th[2];
  for (int r = 0; r < 2; ++r) {
    jobs[r] = (rank_job){.w = &w, .rank = r, .selector = sel};
    cr_assert_eq(pthread_create(&th[r], NULL, rank_main, &jobs[r]), 0);
  }
  for (int r = 0; r < 2; ++r) pthread_join(th[r], NULL);
  pthread_barrier_destroy(&w.bar);
  memset(fitcl__accum_multi_slow_us, 0, sizeof fitcl__accum_multi_slow_us);
  unsetenv("FITCL_DEVICE_UNIT");
  for (int r = 0; r < 2; ++r) {
    char what[64];
    snprintf(what, sizeof what, "rank %d", r);
    for (size_t c = 0; c < NCASES; ++c)
      if (CASES[c].mode != FITCL__ACCUM_QR) expect_same(&jobs[r].out, &ref, c, c + 1, what);
    cr_expect_gt(jobs[r].out.blocks[1], 0, "rank %d: OpenCL took no group", r);
  }
}

/* ---- the command ------------------------------------------------------ */

/* `cpu+opencl` prints the JSON of `cpu`, but for the time and the
 * devices' shares. */
static char *strip_varying(char *json) {
  char *s = strstr(json, ",\"seconds\":");
  if (s) {
    char *e = s + 1;
    while (*e && *e != ',' && *e != '}') ++e;
    memmove(s, e, strlen(e) + 1);
  }
  char *d = strstr(json, ",\"devices\":[");
  if (d) {
    char *e = strchr(d, ']');
    cr_assert(e);
    memmove(d, e + 1, strlen(e + 1) + 1);
  }
  return json;
}

Test(multidevice_accum, curve_fit_prints_the_cpu_json) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device: a context over two devices needs one");
  make_data();
  char *dir = fitcl_test_tmpdir();
  size_t cap = (size_t)N * 100 + 64, len = 0;
  char *csv = malloc(cap);
  cr_assert(csv);
  len += (size_t)snprintf(csv + len, cap - len, "x,x2,y,sigma\n");
  for (size_t i = 0; i < N; ++i)
    len += (size_t)snprintf(csv + len, cap - len, "%.17g,%.17g,%.17g,%.17g\n", X[i], X2[i], Y[i],
                            S[i]);
  char *path = fitcl_test_write_file(dir, "d.csv", csv);
  free(csv);
  char multi[600], cache[700];
  snprintf(multi, sizeof multi, "FITCL_DEVICE=cpu+%s", ocl);
  snprintf(cache, sizeof cache, "FITCL_CACHE_DIR=%s", dir);
  const char *builtin[] = {"fitcl", "curve-fit", "--data", path, "--model", "exp_decay", "--p0",
                           "a=2,b=0.5,c=0", "--sigma", "sigma", "--json", NULL};
  const char *expr[] = {"fitcl", "curve-fit", "--data", path, "--model",
                        "a*exp(-b*x)+c+d*x2", "--x", "x,x2", "--p0", "a=2,b=0.5,c=0,d=0",
                        "--loss", "huber", "--f-scale", "0.05", "--solver", "normal", "--json",
                        NULL};
  const char *qr[] = {"fitcl", "curve-fit", "--data", path, "--model", "exp_decay", "--p0",
                      "a=2,b=0.5,c=0", "--solver", "qr", "--json", NULL};
  const char *const *cmds[] = {builtin, expr, qr};
  for (int c = 0; c < 3; ++c) {
    char *out[2] = {NULL, NULL};
    for (int k = 0; k < 2; ++k) {
      const char *env[] = {k == 0 ? "FITCL_DEVICE=cpu" : multi, cache, "FITCL_DEVICE_UNIT=1", NULL};
      char *err = NULL;
      int rc = fitcl_test_run_cli(cmds[c], env, &out[k], &err);
      cr_assert_eq(rc, 0, "%s: rc %d, %s", env[0], rc, err);
      free(err);
    }
    cr_expect(strstr(out[1], "\"devices\":[{\"selector\":\"cpu\"") != NULL, "%s", out[1]);
    cr_expect(strstr(out[1], "\"share\":") != NULL, "%s", out[1]);
    cr_expect_str_eq(strip_varying(out[1]), strip_varying(out[0]), "command %d", c);
    free(out[0]);
    free(out[1]);
  }
  free(path);
  fitcl_test_rmtree(dir);
  free(dir);
}
