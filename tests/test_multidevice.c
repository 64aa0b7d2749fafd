/* A context over several devices (FITCL_DEVICE=cpu+opencl...) gives the
 * bits of one device: the likelihood's blocks are handed out to the
 * devices in units (FITCL_DEVICE_UNIT fixes the unit; a test hook slows
 * one device so that the other takes most of them), and any split must
 * leave no trace.  The selector grammar ('+', '*') and its errors are
 * tested on a made-up device list, which needs no OpenCL. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/ranks.h"
#include "device/selector.h"
#include "fitcl.h"
#include "kernels/lik.h"
#include "kernels/lik_multi.h"
#include "test_util.h"

/* ---- the grammar ------------------------------------------------------ */

static fitcl_device_desc dev(const char *sel, const char *backend, const char *name,
                             const char *platform, const char *type, int pidx, int didx) {
  fitcl_device_desc d;
  memset(&d, 0, sizeof d);
  snprintf(d.selector, sizeof d.selector, "%s", sel);
  snprintf(d.backend, sizeof d.backend, "%s", backend);
  snprintf(d.name, sizeof d.name, "%s", name);
  snprintf(d.platform, sizeof d.platform, "%s", platform);
  snprintf(d.vendor, sizeof d.vendor, "%s", platform);
  snprintf(d.type, sizeof d.type, "%s", type);
  d.fp64 = 1;
  d.platform_index = pidx;
  d.device_index = didx;
  return d;
}

/* cpu, two GPUs of one platform, a CPU device of another. */
static size_t fake_list(fitcl_device_desc *l) {
  l[0] = dev("cpu", "cpu", "pthreads", "pthreads", "cpu", -1, -1);
  l[1] = dev("opencl:0:gpu:0", "opencl", "GPU A", "NVIDIA CUDA", "gpu", 0, 0);
  l[2] = dev("opencl:0:gpu:1", "opencl", "GPU B", "NVIDIA CUDA", "gpu", 0, 1);
  l[3] = dev("opencl:1:cpu:0", "opencl", "cpu device", "Portable Computing Language", "cpu", 1, 0);
  return 4;
}

/* The sets a selector gives, as "a,b;c" (indices), or the status. */
static fitcl_status sets_of(const char *sel, char *out, size_t size, char *err, size_t errlen) {
  fitcl_device_desc l[4];
  size_t n = fake_list(l);
  fitcl__devset sets[FITCL__MAX_CANDIDATES];
  size_t nsets = 0;
  int fb = 0;
  out[0] = '\0';
  fitcl_status st = fitcl__selector_sets(sel, "FITCL_DEVICE", l, n, sets, &nsets, &fb, err, errlen);
  if (st != FITCL_OK) return st;
  size_t at = 0;
  for (size_t k = 0; k < nsets; ++k)
    for (size_t i = 0; i < sets[k].n; ++i)
      at += (size_t)snprintf(out + at, size - at, "%s%zu", i ? "," : k ? ";" : "",
                             sets[k].dev[i]);
  return st;
}

static void expect_sets(const char *sel, const char *want) {
  char got[256], err[2048] = "";
  fitcl_status st = sets_of(sel, got, sizeof got, err, sizeof err);
  cr_assert_eq(st, FITCL_OK, "%s: %s", sel, err);
  cr_expect_str_eq(got, want, "%s", sel);
}

static void expect_error(const char *sel, fitcl_status want, const char *words) {
  char got[256], err[2048] = "";
  fitcl_status st = sets_of(sel, got, sizeof got, err, sizeof err);
  cr_expect_eq(st, want, "%s: status %d, %s", sel, st, err);
  cr_expect(strstr(err, words) != NULL, "%s: '%s' lacks '%s'", sel, err, words);
  cr_expect(strchr(err, '\n') == NULL, "one line: %s", err);
}

Test(multidevice, plus_joins_devices_in_order) {
  expect_sets("cpu+opencl:0:gpu:1", "0,2");
  expect_sets("opencl:portable + cpu", "3,0");
  expect_sets("opencl:0:gpu:0+opencl:0:gpu:1", "1,2");
  /* ';' still falls back, now from set to set. */
  expect_sets("opencl:amd+cpu;cpu", "0");
  expect_sets("opencl:nvidia:gpu:1+cpu;opencl:portable", "2,0;3");
}

Test(multidevice, star_takes_every_match) {
  expect_sets("opencl::gpu:*", "1,2");
  expect_sets("opencl:::*", "1,2,3");
  expect_sets("cpu+opencl:nvidia::*", "0,1,2");
}

Test(multidevice, bad_sets_are_one_clear_error) {
  expect_error("cpu+cpu", FITCL_ERR_SELECTOR, "names device cpu more than once");
  expect_error("opencl::gpu:*+opencl:nvidia:gpu:0", FITCL_ERR_SELECTOR, "more than once");
  expect_error("cpu+", FITCL_ERR_SELECTOR, "empty entry next to a '+'");
  expect_error("auto+cpu", FITCL_ERR_SELECTOR, "auto cannot be joined");
  expect_error("opencl::gpu:1*", FITCL_ERR_SELECTOR, "'*' must be the whole DEVICE field");
  expect_error("cpu+opencl:amd", FITCL_ERR_NO_DEVICE, "member 'opencl:amd' that matches no device");
  expect_error("cpu+vulkan", FITCL_ERR_SELECTOR, "unknown device kind 'vulkan'");
}

/* ---- the likelihood over cpu and an OpenCL device ---------------------- */

/* A random binary tree on 20 tips and 6000 families with rates varying by
 * family, in two rate groups: a few dozen blocks of patterns. */
static fitcl_data *make_data(void) {
  enum { NT = 20, NF = 6000 };
  uint64_t s = 0x9e3779b97f4a7c15ull;
  char nodes[NT][2048];
  int alive = NT;
  for (int t = 0; t < NT; ++t) snprintf(nodes[t], sizeof nodes[t], "t%d:%.3f", t, 0.04 + 0.01 * t);
  while (alive > 1) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    int a = (int)((s >> 33) % (uint64_t)alive);
    int b = (a + 1 + (int)((s >> 40) % (uint64_t)(alive - 1))) % alive;
    char joined[2048];
    snprintf(joined, sizeof joined, "(%s,%s):%.3f", nodes[a], nodes[b], 0.03 + 0.002 * alive);
    int lo = a < b ? a : b, hi = a < b ? b : a;
    snprintf(nodes[lo], sizeof nodes[lo], "%s", joined);
    memmove(nodes[hi], nodes[alive - 1], sizeof nodes[hi]);
    alive--;
  }
  char text[2100];
  snprintf(text, sizeof text, "%s", nodes[0]);
  *strrchr(text, ':') = '\0'; /* the root has no branch */
  strcat(text, ";");
  char err[512] = "";
  fitcl_tree *tree = NULL;
  cr_assert_eq(fitcl_tree_parse(text, &tree, err, sizeof err), FITCL_OK, "%s", err);
  uint8_t *v = malloc(NF * NT);
  cr_assert(v);
  char names[NT][8];
  const char *taxa[NT];
  for (int t = 0; t < NT; ++t) {
    snprintf(names[t], sizeof names[t], "t%d", t);
    taxa[t] = names[t];
  }
  for (int f = 0; f < NF; ++f) {
    double p = 0.05 + 0.9 * (double)(f % 23) / 22.0;
    int any = 0;
    for (int t = 0; t < NT; ++t) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      v[f * NT + t] = (double)(s >> 11) * 0x1p-53 < p;
      any |= v[f * NT + t];
    }
    if (!any) v[f * NT + f % NT] = 1;
  }
  fitcl_pamatrix *mat = NULL;
  cr_assert_eq(fitcl_pamatrix_create(NF, NT, v, NULL, taxa, &mat, err, sizeof err), FITCL_OK, "%s",
               err);
  fitcl_data *data = NULL;
  cr_assert_eq(fitcl_data_build(tree, mat, NULL, &data, err, sizeof err), FITCL_OK, "%s", err);
  int *groups = malloc(NF * sizeof *groups);
  cr_assert(groups);
  for (int f = 0; f < NF; ++f) groups[f] = f % 3 == 0;
  cr_assert_eq(fitcl_data_set_groups(data, groups, NF, err, sizeof err), FITCL_OK, "%s", err);
  free(groups);
  cr_assert_gt(fitcl_data_npatterns(data), 4000);
  free(v);
  fitcl_pamatrix_destroy(mat);
  fitcl_tree_destroy(tree);
  return data;
}

enum { NF_MAX = 6000 };

/* What one evaluation gives: log L alone, log L and its gradient, every
 * family's log-likelihood. */
typedef struct lik_out {
  double ll, llg, grad[8];
  double fam[NF_MAX];
  uint64_t blocks[2];
  size_t nblocks;
} lik_out;

static void evaluate(const char *selector, const fitcl_data *data, lik_out *o) {
  fitcl_context *ctx = fitcl_test_context(selector);
  fitcl_lik_options lo;
  memset(&lo, 0, sizeof lo);
  lo.gamma_cats = 3;
  fitcl_lik *lik = NULL;
  cr_assert_eq(fitcl_lik_create(ctx, data, &lo, &lik), FITCL_OK, "%s: %s", selector,
               fitcl_errmsg(ctx));
  const double theta[2] = {1.0, 1.7};
  fitcl_gl_params p = {0.4, 0.9, 0.7, theta, NULL};
  memset(o, 0, sizeof *o);
  cr_assert_leq(fitcl_lik_grad_size(lik), 8);
  cr_assert_eq(fitcl_lik_eval(lik, &p, &o->ll, NULL), FITCL_OK, "%s: %s", selector,
               fitcl_errmsg(ctx));
  size_t nf = fitcl_data_nfamilies(data);
  cr_assert_leq(nf, NF_MAX);
  cr_assert_eq(fitcl_lik_family_logliks(lik, o->fam, nf), FITCL_OK);
  cr_assert_eq(fitcl_lik_eval(lik, &p, &o->llg, o->grad), FITCL_OK, "%s: %s", selector,
               fitcl_errmsg(ctx));
  o->nblocks = lik->nblocks;
  fitcl_context_info info;
  cr_assert_eq(fitcl_context_get_info(ctx, &info), FITCL_OK);
  for (int i = 0; i < info.ndevices && i < 2; ++i) {
    fitcl_context_device_info d;
    cr_assert_eq(fitcl_context_device(ctx, i, &d), FITCL_OK);
    o->blocks[i] = d.blocks;
  }
  fitcl_lik_destroy(lik);
  fitcl_context_destroy(ctx);
}

/* The OpenCL device the tests run on, or NULL (then the test says so). */
static const char *opencl_selector(void) {
  fitcl_test_backend be[4];
  size_t nb = fitcl_test_backends(be, 4);
  return nb > 1 ? be[1].selector : NULL;
}

static void expect_same(const lik_out *a, const lik_out *b, size_t nf, int with_grad,
                        const char *what) {
  cr_expect_eq(memcmp(&a->ll, &b->ll, sizeof a->ll), 0, "%s: log L %.17g vs %.17g", what, a->ll,
               b->ll);
  cr_expect_eq(memcmp(&a->llg, &b->llg, sizeof a->llg), 0, "%s: log L %.17g vs %.17g", what,
               a->llg, b->llg);
  size_t ndiff = 0, first = 0;
  for (size_t f = 0; f < nf; ++f)
    if (memcmp(&a->fam[f], &b->fam[f], sizeof a->fam[f]) && !ndiff++) first = f;
  cr_expect_eq(ndiff, 0, "%s: %zu family log-likelihoods differ, the first %zu: %.17g vs %.17g",
               what, ndiff, first, a->fam[first], b->fam[first]);
  if (with_grad)
    cr_expect_eq(memcmp(a->grad, b->grad, sizeof a->grad), 0,
                 "%s: gradient %.17g %.17g %.17g vs %.17g %.17g %.17g", what, a->grad[0],
                 a->grad[1], a->grad[2], b->grad[0], b->grad[1], b->grad[2]);
}

Test(multidevice, any_split_gives_the_bits_of_one_device) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device: a context over two devices needs one");
  fitcl_data *data = make_data();
  const size_t nf = fitcl_data_nfamilies(data);
  static lik_out ref_cpu, ref_ocl, got;
  evaluate("cpu", data, &ref_cpu);
  evaluate(ocl, data, &ref_ocl);
  /* The two devices agree, gradient included: what lets any block go to
   * either. */
  expect_same(&ref_cpu, &ref_ocl, nf, 1, "cpu vs OpenCL");
  cr_assert_gt(ref_cpu.nblocks, 12);

  char sel[512];
  const char *units[] = {"1", "3", "7", "100000", NULL};
  for (int order = 0; order < 2; ++order) {
    if (order == 0) snprintf(sel, sizeof sel, "cpu+%s", ocl);
    else snprintf(sel, sizeof sel, "%s+cpu", ocl);
    for (int u = 0; units[u]; ++u)
      for (int slow = -1; slow < 2; ++slow) {
        setenv("FITCL_DEVICE_UNIT", units[u], 1);
        memset(fitcl__lik_multi_slow_us, 0, sizeof fitcl__lik_multi_slow_us);
        if (slow >= 0) fitcl__lik_multi_slow_us[slow] = 1000;
        evaluate(sel, data, &got);
        char what[700];
        snprintf(what, sizeof what, "%s, unit %s, slow device %d", sel, units[u], slow);
        expect_same(&got, &ref_cpu, nf, 1, what);
        /* Each block once per evaluation (two evaluations). */
        cr_expect_eq(got.blocks[0] + got.blocks[1], 2 * got.nblocks, "%s: %llu + %llu blocks",
                     what, (unsigned long long)got.blocks[0], (unsigned long long)got.blocks[1]);
        /* A slowed device leaves blocks to the other (the hook waits for
         * it to take one). */
        if (slow >= 0)
          cr_expect_gt(got.blocks[1 - slow], 0, "%s: the fast device took no block", what);
      }
  }
  unsetenv("FITCL_DEVICE_UNIT");
  memset(fitcl__lik_multi_slow_us, 0, sizeof fitcl__lik_multi_slow_us);
  fitcl_data_destroy(data);
}

Test(multidevice, a_rate_fit_has_one_devices_bits) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device: a context over two devices needs one");
  fitcl_data *data = make_data();
  char sel[512];
  snprintf(sel, sizeof sel, "cpu+%s", ocl);
  setenv("FITCL_DEVICE_UNIT", "2", 1);
  fitcl_fit_result r[2];
  for (int k = 0; k < 2; ++k) {
    fitcl_context *ctx = fitcl_test_context(k == 0 ? "cpu" : sel);
    fitcl_fit_options fo;
    memset(&fo, 0, sizeof fo);
    fo.gamma_cats = 2;
    cr_assert_eq(fitcl_fit_rates(ctx, data, &fo, &r[k]), FITCL_OK, "%s", fitcl_errmsg(ctx));
    fitcl_context_destroy(ctx);
  }
  unsetenv("FITCL_DEVICE_UNIT");
  const double a[] = {r[0].loglik, r[0].gain, r[0].loss, r[0].alpha, r[0].se_gain, r[0].se_loss};
  const double b[] = {r[1].loglik, r[1].gain, r[1].loss, r[1].alpha, r[1].se_gain, r[1].se_loss};
  for (int i = 0; i < 6; ++i)
    cr_expect_eq(memcmp(&a[i], &b[i], sizeof a[i]), 0, "value %d: cpu %.17g, %s %.17g", i, a[i],
                 sel, b[i]);
  cr_expect_eq(r[0].evaluations, r[1].evaluations);
  fitcl_data_destroy(data);
}

Test(multidevice, context_reports_its_devices) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device: a context over two devices needs one");
  char sel[512];
  snprintf(sel, sizeof sel, "cpu+%s", ocl);
  fitcl_context *ctx = fitcl_test_context(sel);
  fitcl_context_info info;
  cr_assert_eq(fitcl_context_get_info(ctx, &info), FITCL_OK);
  cr_expect_eq(info.ndevices, 2);
  cr_expect_str_eq(info.backend, "cpu");
  fitcl_context_device_info d;
  cr_assert_eq(fitcl_context_device(ctx, 0, &d), FITCL_OK);
  cr_expect_str_eq(d.backend, "cpu");
  cr_assert_eq(fitcl_context_device(ctx, 1, &d), FITCL_OK);
  cr_expect_str_eq(d.backend, "opencl");
  cr_expect_eq(d.blocks, 0);
  cr_expect_eq(fitcl_context_device(ctx, 2, &d), FITCL_ERR_RANGE);
  fitcl_context_destroy(ctx);
  /* One device: one entry. */
  ctx = fitcl_test_context("cpu");
  cr_assert_eq(fitcl_context_get_info(ctx, &info), FITCL_OK);
  cr_expect_eq(info.ndevices, 1);
  fitcl_context_destroy(ctx);
}

/* The command: `cpu+opencl` prints the JSON of `cpu`, but for the time
 * and the devices' shares. */
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

Test(multidevice, loglik_and_fit_commands_print_the_cpu_json) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device: a context over two devices needs one");
  char *dir = fitcl_test_tmpdir();
  char tree[512], mat[512];
  snprintf(tree, sizeof tree, "%s/examples/pangenome50.nwk", FITCL_TEST_SOURCE_DIR);
  snprintf(mat, sizeof mat, "%s/examples/pangenome50.Rtab", FITCL_TEST_SOURCE_DIR);
  char multi[600], cache[700];
  snprintf(multi, sizeof multi, "FITCL_DEVICE=cpu+%s", ocl);
  snprintf(cache, sizeof cache, "FITCL_CACHE_DIR=%s", dir);
  const char *ll[] = {"fitcl", "loglik", "--tree", tree, "--matrix", mat, "--gain", "0.3",
                      "--loss", "0.7", "--gamma-cats", "4", "--alpha", "0.8", "--grad", "--json",
                      NULL};
  const char *fit[] = {"fitcl", "fit", "--tree", tree, "--matrix", mat, "--json", NULL};
  const char *const *cmds[] = {ll, fit};
  for (int c = 0; c < 2; ++c) {
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
    cr_expect_str_eq(strip_varying(out[1]), strip_varying(out[0]));
    free(out[0]);
    free(out[1]);
  }
  fitcl_test_rmtree(dir);
  free(dir);
}

Test(multidevice, a_bad_set_exits_2_with_one_line) {
  const char *argv[] = {"fitcl", "devices", NULL};
  const char *env[] = {"FITCL_DEVICE=cpu+cpu", NULL};
  char *out = NULL, *err = NULL;
  int rc = fitcl_test_run_cli(argv, env, &out, &err);
  cr_expect_eq(rc, 2, "rc %d", rc);
  cr_expect(err && strstr(err, "names device cpu more than once"), "%s", err);
  cr_expect(err && strchr(err, '\n') == strrchr(err, '\n'), "one line: %s", err);
  free(out);
  free(err);
}

/* ---- devices within ranks --------------------------------------------- */

/* Two ranks as threads of this process (as in test_ranks.c), each with a
 * context over cpu and the OpenCL device: each device takes blocks of its
 * rank's share, and the sums are still one device's. */
typedef struct two_ranks {
  pthread_barrier_t bar;
  fitcl__xsum *acc[2];
} two_ranks;

typedef struct thread_rank {
  fitcl__ranks base;
  two_ranks *w;
} thread_rank;

static fitcl_status thread_sum(fitcl__ranks *r, fitcl__xsum *acc, size_t n, uint64_t *count,
                               int failed) {
  two_ranks *w = ((thread_rank *)r)->w;
  cr_assert(!failed && !count);
  w->acc[r->rank] = acc;
  pthread_barrier_wait(&w->bar);
  fitcl__xsum total[8];
  cr_assert_leq(n, 8);
  for (size_t i = 0; i < n; ++i) {
    fitcl__xsum_init(&total[i]);
    for (int k = 0; k < 2; ++k) fitcl__xsum_merge(&total[i], &w->acc[k][i]);
  }
  pthread_barrier_wait(&w->bar); /* both have read both */
  memcpy(acc, total, n * sizeof *acc);
  return FITCL_OK;
}

typedef struct rank_job {
  two_ranks *w;
  int rank;
  const char *selector;
  const fitcl_data *data;
  double ll;
  uint64_t blocks[2];
  fitcl_status st;
} rank_job;

static void *rank_main(void *arg) {
  rank_job *j = arg;
  fitcl_context *ctx = fitcl_test_context(j->selector);
  thread_rank tr = {{.rank = j->rank, .size = 2, .sum = thread_sum}, j->w};
  ctx->ranks = &tr.base;
  fitcl_lik_options lo;
  memset(&lo, 0, sizeof lo);
  lo.gamma_cats = 3;
  fitcl_lik *lik = NULL;
  j->st = fitcl_lik_create(ctx, j->data, &lo, &lik);
  const double theta[2] = {1.0, 1.7};
  fitcl_gl_params p = {0.4, 0.9, 0.7, theta, NULL};
  if (j->st == FITCL_OK) j->st = fitcl_lik_eval(lik, &p, &j->ll, NULL);
  for (int i = 0; i < 2; ++i) {
    fitcl_context_device_info d;
    if (fitcl_context_device(ctx, i, &d) == FITCL_OK) j->blocks[i] = d.blocks;
  }
  fitcl_lik_destroy(lik);
  ctx->ranks = NULL;
  fitcl_context_destroy(ctx);
  return NULL;
}

Test(multidevice, devices_within_ranks_keep_the_bits) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device: a context over two devices needs one");
  fitcl_data *data = make_data();
  static lik_out ref;
  evaluate("cpu", data, &ref);
  char sel[512];
  snprintf(sel, sizeof sel, "cpu+%s", ocl);
  setenv("FITCL_DEVICE_UNIT", "1", 1);
  memset(fitcl__lik_multi_slow_us, 0, sizeof fitcl__lik_multi_slow_us);
  fitcl__lik_multi_slow_us[0] = 1000; /* the cpu slow: OpenCL takes blocks too */
  two_ranks w;
  pthread_barrier_init(&w.bar, NULL, 2);
  rank_job jobs[2];
  pthread_t th[2];
  for (int r = 0; r < 2; ++r) {
    jobs[r] = (rank_job){.w = &w, .rank = r, .selector = sel, .data = data};
    cr_assert_eq(pthread_create(&th[r], NULL, rank_main, &jobs[r]), 0);
  }
  for (int r = 0; r < 2; ++r) pthread_join(th[r], NULL);
  pthread_barrier_destroy(&w.bar);
  memset(fitcl__lik_multi_slow_us, 0, sizeof fitcl__lik_multi_slow_us);
  unsetenv("FITCL_DEVICE_UNIT");
  uint64_t total = 0;
  for (int r = 0; r < 2; ++r) {
    cr_assert_eq(jobs[r].st, FITCL_OK, "rank %d: %s", r, fitcl_strerror(jobs[r].st));
    cr_expect_eq(memcmp(&jobs[r].ll, &ref.ll, sizeof ref.ll), 0, "rank %d: %.17g vs cpu %.17g", r,
                 jobs[r].ll, ref.ll);
    cr_expect_gt(jobs[r].blocks[1], 0, "rank %d: OpenCL took no block", r);
    total += jobs[r].blocks[0] + jobs[r].blocks[1];
  }
  /* Each block of the data once, over both ranks and both devices. */
  cr_expect_eq(total, ref.nblocks);
  fitcl_data_destroy(data);
}
