/* The retention test's bootstrap over several devices (FITCL_DEVICE=
 * cpu+opencl...): whole replicates are handed out to the devices, and any
 * split gives every replicate's statistic, the p-value and the error of a
 * failing replicate as on `cpu` alone.  A test hook slows one device so
 * that the other certainly takes replicates.  A device in mixed precision
 * takes none. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "phylo/retention.h"
#include "sim_fixture.h"
#include "test_util.h"

enum { NFAM = 400, NREP = 10 };

/* The OpenCL device the tests run on, or NULL. */
static const char *opencl_selector(void) {
  fitcl_test_backend be[4];
  size_t nb = fitcl_test_backends(be, 4);
  return nb > 1 ? be[1].selector : NULL;
}

static fitcl_data *make_data(unsigned char *sel) {
  fitcl_sim_options so = {.gain = 0.5, .loss = 1.0, .families = NFAM, .condition = 1, .seed = 77,
                          .retained_fraction = 0.15, .effect = 0.4};
  return fitcl_test_sim_data(FITCL_TEST_TREE12, &so, sel);
}

/* One run: the status, the message, the result, every replicate's
 * statistic, the replicates and blocks each device took, and the progress
 * reports (how many, the last, whether any went back or came from another
 * thread than the caller's). */
typedef struct boot_out {
  fitcl_status st;
  char err[512];
  fitcl_retention_result r;
  double lrt[NREP];
  uint64_t reps[2], blocks[2];
  int ndev;
  int reports, last, back, other_thread;
  pthread_t caller;
} boot_out;

static void on_progress(void *user, int done, int total) {
  boot_out *o = user;
  if (done < o->last || total != NREP) o->back = 1;
  if (!pthread_equal(pthread_self(), o->caller)) o->other_thread = 1;
  o->last = done;
  o->reports++;
}

static void run(const char *selector, fitcl_data *d, const unsigned char *sel,
                boot_out *o) {
  memset(o, 0, sizeof *o);
  fitcl_context *ctx = fitcl_test_context(selector);
  fitcl_retention_options ro = {0};
  ro.bootstrap = NREP;
  ro.seed = 11;
  ro.fit.gamma_cats = 2;
  ro.progress = on_progress;
  ro.progress_user = o;
  o->caller = pthread_self();
  fitcl__boot_lrt_out = o->lrt;
  o->st = fitcl_retention_test(ctx, d, sel, &ro, &o->r);
  fitcl__boot_lrt_out = NULL;
  if (o->st != FITCL_OK) snprintf(o->err, sizeof o->err, "%s", fitcl_errmsg(ctx));
  fitcl_context_info info;
  cr_assert_eq(fitcl_context_get_info(ctx, &info), FITCL_OK);
  o->ndev = info.ndevices;
  for (int i = 0; i < info.ndevices && i < 2; ++i) {
    fitcl_context_device_info dv;
    cr_assert_eq(fitcl_context_device(ctx, i, &dv), FITCL_OK);
    o->reps[i] = dv.replicates;
    o->blocks[i] = dv.blocks;
  }
  fitcl_context_destroy(ctx);
}

static void expect_same_result(const boot_out *a, const boot_out *b, const char *what) {
  for (int i = 0; i < NREP; ++i)
    cr_expect_eq(memcmp(&a->lrt[i], &b->lrt[i], sizeof a->lrt[i]), 0,
                 "%s: replicate %d's statistic %.17g vs cpu %.17g", what, i + 1, a->lrt[i],
                 b->lrt[i]);
  const double x[] = {a->r.bootstrap_p_value, a->r.lrt, a->r.null_fit.loglik, a->r.alt_fit.loglik,
                      a->r.effect};
  const double y[] = {b->r.bootstrap_p_value, b->r.lrt, b->r.null_fit.loglik, b->r.alt_fit.loglik,
                      b->r.effect};
  for (int i = 0; i < 5; ++i)
    cr_expect_eq(memcmp(&x[i], &y[i], sizeof x[i]), 0, "%s: value %d %.17g vs cpu %.17g", what, i,
                 x[i], y[i]);
  cr_expect_eq(a->r.bootstrap_replicates, b->r.bootstrap_replicates, "%s", what);
}

Test(multidevice_boot, any_split_of_the_replicates_gives_the_bits_of_cpu) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device: a context over two devices needs one");
  unsigned char sel[NFAM];
  fitcl_data *d = make_data(sel);
  static boot_out ref, got;
  run("cpu", d, sel, &ref);
  cr_assert_eq(ref.st, FITCL_OK, "cpu: %s", ref.err);
  /* Statistics that differ from one another, so a replicate's slot
   * mixed up with another's would show. */
  cr_assert_neq(memcmp(&ref.lrt[0], &ref.lrt[1], sizeof ref.lrt[0]), 0);
  for (int order = 0; order < 2; ++order) {
    char set[512];
    if (order == 0) snprintf(set, sizeof set, "cpu+%s", ocl);
    else snprintf(set, sizeof set, "%s+cpu", ocl);
    for (int slow = -1; slow < 2; ++slow) {
      memset(fitcl__boot_slow_us, 0, sizeof fitcl__boot_slow_us);
      if (slow >= 0) fitcl__boot_slow_us[slow] = 1000;
      run(set, d, sel, &got);
      char what[700];
      snprintf(what, sizeof what, "%s, slow device %d", set, slow);
      cr_assert_eq(got.st, FITCL_OK, "%s: %s", what, got.err);
      cr_assert_eq(got.ndev, 2, "%s", what);
      expect_same_result(&got, &ref, what);
      /* Each replicate once, on one device. */
      cr_expect_eq(got.reps[0] + got.reps[1], NREP, "%s: %llu + %llu replicates", what,
                   (unsigned long long)got.reps[0], (unsigned long long)got.reps[1]);
      /* Progress still reaches the end, never goes back, on the caller's
       * thread. */
      cr_expect(got.reports > 0 && got.last == NREP, "%s: %d reports, last %d", what,
                got.reports, got.last);
      cr_expect(!got.back && !got.other_thread, "%s: back %d, other thread %d", what, got.back,
                got.other_thread);
      /* A slowed device leaves replicates to the other and still takes
       * one (the hook waits until the other has taken one); the blocks of
       * a device's replicates are its own. */
      if (slow >= 0)
        for (int i = 0; i < 2; ++i) {
          cr_expect_gt(got.reps[i], 0, "%s: device %d took no replicate", what, i);
          cr_expect_gt(got.blocks[i], 0, "%s: device %d computed no block", what, i);
        }
    }
  }
  memset(fitcl__boot_slow_us, 0, sizeof fitcl__boot_slow_us);
  fitcl_data_destroy(d);
}

Test(multidevice_boot, a_failing_replicate_gives_the_error_of_cpu) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device: a context over two devices needs one");
  unsigned char sel[NFAM];
  fitcl_data *d = make_data(sel);
  /* Replicate 1 alone (with the cpu slowed the OpenCL device takes it
   * first, for certain), and replicates 4 and 7 (the lower one is named
   * wherever each ran). */
  const uint64_t masks[] = {1u, (1u << 3) | (1u << 6)};
  const char *want[] = {"bootstrap replicate 1:", "bootstrap replicate 4:"};
  static boot_out ref, got;
  for (int m = 0; m < 2; ++m) {
    fitcl__boot_fail_mask = masks[m];
    run("cpu", d, sel, &ref);
    cr_assert_neq(ref.st, FITCL_OK, "cpu: the hook made no replicate fail");
    cr_expect(strstr(ref.err, want[m]) == ref.err, "cpu: %s", ref.err);
    char set[512];
    snprintf(set, sizeof set, "cpu+%s", ocl);
    for (int slow = 0; slow < 2; ++slow) {
      memset(fitcl__boot_slow_us, 0, sizeof fitcl__boot_slow_us);
      fitcl__boot_slow_us[slow] = 1000;
      run(set, d, sel, &got);
      cr_expect_eq(got.st, ref.st, "%s, slow %d: status %d vs cpu %d", set, slow, got.st, ref.st);
      cr_expect_str_eq(got.err, ref.err, "%s, slow %d", set, slow);
      if (m == 0 && slow == 0)
        cr_expect_gt(got.reps[1], 0, "%s: the OpenCL device ran no replicate", set);
    }
  }
  fitcl__boot_fail_mask = 0;
  memset(fitcl__boot_slow_us, 0, sizeof fitcl__boot_slow_us);
  fitcl_data_destroy(d);
}

/* A device in mixed precision gives other bits: the replicates run as on
 * the first device alone, and a warning says so. */
typedef struct warn_log {
  int count;
  char msg[512];
} warn_log;

static void on_log(void *user, fitcl_log_level level, const char *msg) {
  warn_log *w = user;
  if (level != FITCL_LOG_WARN || !strstr(msg, "bootstrap")) return;
  if (!w->count++) snprintf(w->msg, sizeof w->msg, "%s", msg);
}

Test(multidevice_boot, a_mixed_precision_device_takes_no_replicate) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device: a context over two devices needs one");
  unsigned char sel[NFAM];
  fitcl_data *d = make_data(sel);
  static boot_out ref;
  run("cpu", d, sel, &ref);
  cr_assert_eq(ref.st, FITCL_OK, "cpu: %s", ref.err);
  char set[512];
  snprintf(set, sizeof set, "cpu+%s", ocl);
  warn_log log = {0};
  fitcl_context_options o = {0};
  o.device = set;
  o.precision = FITCL_PRECISION_MIXED;
  o.log_fn = on_log;
  o.log_user = &log;
  o.log_level = FITCL_LOG_WARN;
  fitcl_context *ctx = NULL;
  cr_assert_eq(fitcl_context_create(&o, &ctx), FITCL_OK, "%s", fitcl_errmsg(ctx));
  fitcl_retention_options ro = {0};
  ro.bootstrap = NREP;
  ro.seed = 11;
  ro.fit.gamma_cats = 2;
  double lrt[NREP];
  fitcl__boot_lrt_out = lrt;
  fitcl_retention_result r;
  fitcl_status st = fitcl_retention_test(ctx, d, sel, &ro, &r);
  fitcl__boot_lrt_out = NULL;
  cr_assert_eq(st, FITCL_OK, "%s", fitcl_errmsg(ctx));
  cr_expect_eq(memcmp(lrt, ref.lrt, sizeof lrt), 0, "the replicates' statistics differ from cpu's");
  cr_expect_eq(memcmp(&r.bootstrap_p_value, &ref.r.bootstrap_p_value, sizeof r.bootstrap_p_value),
               0);
  fitcl_context_device_info dv;
  cr_assert_eq(fitcl_context_device(ctx, 1, &dv), FITCL_OK);
  cr_expect_eq(dv.replicates, 0, "the mixed-precision device fitted %llu replicates",
               (unsigned long long)dv.replicates);
  cr_assert_eq(fitcl_context_device(ctx, 0, &dv), FITCL_OK);
  cr_expect_eq(dv.replicates, NREP);
  cr_expect_eq(log.count, 1, "%d warnings: %s", log.count, log.msg);
  cr_expect(strstr(log.msg, "mixed precision") != NULL, "%s", log.msg);
  fitcl_context_destroy(ctx);
  fitcl_data_destroy(d);
}

/* The command: `cpu+opencl` prints `cpu`'s JSON but for the time and the
 * devices, which count every replicate once. */
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

Test(multidevice_boot, retention_test_command_prints_the_cpu_json) {
  const char *ocl = opencl_selector();
  if (!ocl) cr_skip_test("no OpenCL device: a context over two devices needs one");
  char *dir = fitcl_test_tmpdir();
  char tree[512], mat[512], fam[512];
  snprintf(tree, sizeof tree, "%s/examples/pangenome50.nwk", FITCL_TEST_SOURCE_DIR);
  snprintf(mat, sizeof mat, "%s/examples/pangenome50.Rtab", FITCL_TEST_SOURCE_DIR);
  snprintf(fam, sizeof fam, "%s/examples/retained.txt", FITCL_TEST_SOURCE_DIR);
  char multi[600], cache[700];
  snprintf(multi, sizeof multi, "FITCL_DEVICE=cpu+%s", ocl);
  snprintf(cache, sizeof cache, "FITCL_CACHE_DIR=%s", dir);
  const char *argv[] = {"fitcl", "retention-test", "--tree", tree, "--matrix", mat, "--families",
                        fam, "--bootstrap", "12", "--seed", "3", "--json", NULL};
  char *out[2] = {NULL, NULL};
  for (int k = 0; k < 2; ++k) {
    const char *env[] = {k == 0 ? "FITCL_DEVICE=cpu" : multi, cache, NULL};
    char *err = NULL;
    int rc = fitcl_test_run_cli(argv, env, &out[k], &err);
    cr_assert_eq(rc, 0, "%s: rc %d, %s", env[0], rc, err);
    free(err);
  }
  cr_expect(strstr(out[0], "\"devices\"") == NULL, "%s", out[0]);
  /* Both devices listed with their replicates, which add up to all. */
  long total = 0;
  int listed = 0;
  for (const char *p = out[1]; (p = strstr(p, "\"replicates\":")) != NULL; ++p) {
    if (p > out[1] && strstr(out[1], "\"bootstrap\":{\"replicates\":") == p - 13) continue;
    total += strtol(p + 13, NULL, 10);
    ++listed;
  }
  cr_expect_eq(listed, 2, "%s", out[1]);
  cr_expect_eq(total, 12, "%s", out[1]);
  cr_expect(strstr(out[1], "\"replicate_share\":") != NULL, "%s", out[1]);
  cr_expect_str_eq(strip_varying(out[1]), strip_varying(out[0]));
  free(out[0]);
  free(out[1]);
  fitcl_test_rmtree(dir);
  free(dir);
}
