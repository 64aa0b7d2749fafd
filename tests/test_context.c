/* Context creation, bad arguments, environment errors, and the self-test on
 * every backend. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "fitcl_config.h"
#include "core/context.h"
#if FITCL_WITH_OPENCL
#include "device/opencl/ocl.h"
#endif
#include "kernels/reduce.h"
#include "fitcl.h"
#include "test_util.h"

Test(context, null_arguments_return_codes) {
  cr_assert_eq(fitcl_context_create(NULL, NULL), FITCL_ERR_NULL);
  fitcl_context_destroy(NULL);
  cr_assert_not_null(fitcl_errmsg(NULL));
  fitcl_context_info info;
  cr_assert_eq(fitcl_context_get_info(NULL, &info), FITCL_ERR_NULL);
  size_t n;
  cr_assert_eq(fitcl_selftest(NULL, NULL, 0, &n), FITCL_ERR_NULL);
  cr_assert_eq(fitcl_devices_list(NULL, &n), FITCL_ERR_NULL);
  cr_assert_eq(fitcl_cache_inspect(NULL), FITCL_ERR_NULL);
  fitcl_devices_free(NULL);
}

Test(context, status_table) {
  cr_assert_str_eq(fitcl_strerror(FITCL_OK), "success");
  cr_assert_str_eq(fitcl_status_name(FITCL_ERR_NO_DEVICE), "FITCL_ERR_NO_DEVICE");
  cr_assert_str_eq(fitcl_strerror((fitcl_status)12345), "unknown status code");
  cr_assert(fitcl_status_is_user_error(FITCL_ERR_SELECTOR));
  cr_assert(!fitcl_status_is_user_error(FITCL_ERR_OPENCL));
  cr_assert_str_eq(fitcl_version(), FITCL_VERSION_STRING);
}

Test(context, unknown_selector_is_an_error_naming_it) {
  fitcl_context_options o = {0};
  o.device = "opencl:no-such-vendor";
  fitcl_context *ctx = NULL;
  cr_assert_eq(fitcl_context_create(&o, &ctx), FITCL_ERR_NO_DEVICE);
  cr_assert_not_null(ctx);
  cr_assert(strstr(fitcl_errmsg(ctx), "opencl:no-such-vendor"), "%s", fitcl_errmsg(ctx));
  cr_assert(strstr(fitcl_errmsg(ctx), "cpu"), "lists the devices: %s", fitcl_errmsg(ctx));
  fitcl_context_destroy(ctx);
}

Test(context, bad_environment_variables) {
  static const char *cases[][2] = {
    {"FITCL_THREADS", "many"}, {"FITCL_THREADS", "0"}, {"FITCL_CACHE", "sometimes"},
    {"FITCL_CACHE_MAX_MB", "-4"}, {"FITCL_LOG", "loud"}, {"FITCL_DEVICE", "gpu"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    setenv(cases[i][0], cases[i][1], 1);
    fitcl_context *ctx = NULL;
    fitcl_status st = fitcl_context_create(NULL, &ctx);
    cr_assert(fitcl_status_is_user_error(st), "%s=%s -> %s", cases[i][0], cases[i][1], fitcl_status_name(st));
    cr_assert(strstr(fitcl_errmsg(ctx), cases[i][0]), "message names %s: %s", cases[i][0], fitcl_errmsg(ctx));
    fitcl_context_destroy(ctx);
    unsetenv(cases[i][0]);
  }
}

Test(context, ignore_env_uses_defaults) {
  setenv("FITCL_DEVICE", "bogus", 1);
  fitcl_context_options o = {0};
  o.ignore_env = 1;
  o.device = "cpu";
  fitcl_context *ctx = NULL;
  cr_assert_eq(fitcl_context_create(&o, &ctx), FITCL_OK, "%s", fitcl_errmsg(ctx));
  fitcl_context_destroy(ctx);
}

Test(context, threads_option_sizes_the_pool) {
  fitcl_context_options o = {0};
  o.device = "cpu";
  o.threads = 3;
  o.cache = FITCL_CACHE_OFF;
  fitcl_context *ctx = NULL;
  cr_assert_eq(fitcl_context_create(&o, &ctx), FITCL_OK);
  fitcl_context_info info;
  fitcl_context_get_info(ctx, &info);
  cr_assert_eq(info.threads, 3);
  cr_assert_str_eq(info.backend, "cpu");
  fitcl_context_destroy(ctx);
}

Test(context, selftest_passes_on_every_backend) {
  fitcl_test_backend b[2];
  size_t nb = fitcl_test_backends(b, 2);
  for (size_t i = 0; i < nb; ++i) {
    fitcl_context *ctx = fitcl_test_context(b[i].selector);
    fitcl_context_info info;
    fitcl_context_get_info(ctx, &info);
    cr_assert_str_eq(info.backend, b[i].name);
    fitcl_selftest_result r[16];
    size_t n = 0;
    cr_assert_eq(fitcl_selftest(ctx, r, 16, &n), FITCL_OK, "%s: %s", b[i].name, fitcl_errmsg(ctx));
    cr_assert_gt(n, 0);
    for (size_t k = 0; k < n && k < 16; ++k) cr_assert(r[k].passed, "%s %s: %s", b[i].name, r[k].family, r[k].detail);
    fitcl_context_destroy(ctx);
  }
}

/* The fixed-order sum gives the same bits whatever the thread count and
 * backend, and matches an exact reference (long double pairwise would not
 * be exact; use integers scaled by a power of two, whose sum is exact). */
Test(context, reductions_reproducible_across_threads_and_backends) {
  const size_t n = 300001;
  double *x = malloc(n * sizeof *x);
  long long exact = 0;
  unsigned s = 12345;
  for (size_t i = 0; i < n; ++i) {
    s = s * 1103515245u + 12345u;
    long long v = (long long)(s >> 8) - (1 << 23);
    x[i] = (double)v * 0.0078125;
    exact += v;
  }
  double want = (double)exact * 0.0078125;
  double got[4];
  int k = 0;
  for (int threads = 1; threads <= 3; threads += 2) {
    fitcl_context_options o = {0};
    o.device = "cpu";
    o.threads = threads;
    o.cache = FITCL_CACHE_OFF;
    fitcl_context *ctx = NULL;
    cr_assert_eq(fitcl_context_create(&o, &ctx), FITCL_OK);
    cr_assert_eq(fitcl__backend_sum(ctx, x, n, &got[k]), FITCL_OK);
    ++k;
    fitcl_context_destroy(ctx);
  }
  fitcl_test_backend b[2];
  if (fitcl_test_backends(b, 2) == 2) {
    fitcl_context *ctx = fitcl_test_context(b[1].selector);
    cr_assert_eq(fitcl__backend_sum(ctx, x, n, &got[k]), FITCL_OK);
    ++k;
    fitcl_context_destroy(ctx);
  }
  for (int i = 0; i < k; ++i) cr_assert_eq(got[i], want, "run %d: %.17g vs %.17g", i, got[i], want);
  free(x);
}

#if FITCL_WITH_OPENCL
Test(context, build_failure_reports_the_build_log) {
  fitcl_test_backend b[2];
  if (fitcl_test_backends(b, 2) < 2) cr_skip_test("no OpenCL device");
  fitcl_context *ctx = fitcl_test_context(b[1].selector);
  cl_program p = NULL;
  fitcl_status st = fitcl__ocl_build_source(ctx, "broken.cl",
                                            "__kernel void k(__global double *x) { x[0] = undefined_name; }\n",
                                            NULL, &p);
  cr_assert_eq(st, FITCL_ERR_BUILD);
  cr_assert_null(p);
  cr_assert(strstr(fitcl_errmsg(ctx), "undefined_name"), "build log in errmsg: %s", fitcl_errmsg(ctx));
  fitcl_context_destroy(ctx);
}

Test(context, missing_include_is_reported) {
  char err[256];
  cr_assert_null(fitcl__cl_expand_includes("#include \"common/nope.h\"\n", err, sizeof err));
  cr_assert(strstr(err, "common/nope.h"), "%s", err);
  char *s = fitcl__cl_expand_includes("#include \"common/ksum.h\"\n#include \"common/compat.h\"\n", err, sizeof err);
  cr_assert_not_null(s);
  cr_assert(strstr(s, "fitcl_block_sum2"));
  /* compat.h is included once although two headers ask for it */
  const char *first = strstr(s, "begin common/compat.h");
  cr_assert_not_null(first);
  cr_assert_null(strstr(first + 1, "begin common/compat.h"));
  free(s);
}
#endif

Test(cli, bad_device_variable_exits_2_with_one_line) {
  const char *argv[] = {"fitcl", "selftest", NULL};
  const char *env[] = {"FITCL_DEVICE=opencl:nowhere:gpu", NULL};
  char *out = NULL, *err = NULL;
  int rc = fitcl_test_run_cli(argv, env, &out, &err);
  cr_assert_eq(rc, 2, "exit %d, stderr: %s", rc, err);
  cr_assert(strstr(err, "FITCL_DEVICE"), "%s", err);
  cr_assert_eq(strchr(err, '\n'), err + strlen(err) - 1, "a single line: %s", err);
  free(out);
  free(err);
}

Test(cli, help_and_unknown_options) {
  const char *cmds[] = {"devices", "selftest", "cache"};
  for (size_t i = 0; i < 3; ++i) {
    const char *argv[] = {"fitcl", cmds[i], "--help", NULL};
    char *out = NULL;
    cr_assert_eq(fitcl_test_run_cli(argv, NULL, &out, NULL), 0, "%s --help", cmds[i]);
    cr_assert(strstr(out, "usage: fitcl"), "%s", out);
    free(out);
    const char *bad[] = {"fitcl", cmds[i], "--frobnicate", NULL};
    cr_assert_eq(fitcl_test_run_cli(bad, NULL, NULL, NULL), 2);
  }
  const char *unk[] = {"fitcl", "frobnicate", NULL};
  cr_assert_eq(fitcl_test_run_cli(unk, NULL, NULL, NULL), 2);
}

Test(cli, devices_json_marks_selection) {
  const char *argv[] = {"fitcl", "devices", "--json", NULL};
  const char *env[] = {"FITCL_DEVICE=cpu", NULL};
  char *out = NULL;
  cr_assert_eq(fitcl_test_run_cli(argv, env, &out, NULL), 0);
  cr_assert(strstr(out, "\"selector\":\"cpu\""), "%s", out);
  cr_assert(strstr(out, "\"selected\":true"), "%s", out);
  free(out);
}

/* A build failure on a named device is an error carrying the build log; in
 * a ';' list the next candidate is used and the reason is reported.  The
 * failure is provoked with an invalid extra build option. */
Test(context, build_failure_fallback_only_in_lists) {
  fitcl_test_backend b[2];
  if (fitcl_test_backends(b, 2) < 2) cr_skip_test("no OpenCL device");
  setenv("FITCL_OPENCL_OPTIONS", "-DFITCL_FORCE_FAIL=1 -cl-no-such-option", 1);
  fitcl_context_options o = {0};
  o.device = b[1].selector;
  o.cache = FITCL_CACHE_OFF;
  fitcl_context *ctx = NULL;
  fitcl_status st = fitcl_context_create(&o, &ctx);
  cr_assert_eq(st, FITCL_ERR_BUILD, "named device: %s", fitcl_status_name(st));
  cr_assert_gt(strlen(fitcl_errmsg(ctx)), 0);
  fitcl_context_destroy(ctx);

  char list[256];
  snprintf(list, sizeof list, "%s;cpu", b[1].selector);
  o.device = list;
  ctx = NULL;
  cr_assert_eq(fitcl_context_create(&o, &ctx), FITCL_OK, "%s", fitcl_errmsg(ctx));
  fitcl_context_info info;
  fitcl_context_get_info(ctx, &info);
  cr_assert_str_eq(info.backend, "cpu");
  cr_assert_not_null(info.fallback_reason);
  fitcl_context_destroy(ctx);
  unsetenv("FITCL_OPENCL_OPTIONS");
}

#if FITCL_WITH_OPENCL /* a CPU-only build: tests/abi/opencl_not_built.sh */
/* A host without OpenCL: the library cannot be loaded (FITCL_OPENCL_LIBRARY
 * is read at the first load of the process; Criterion runs each test in
 * its own).  Only cpu is listed, auto runs there with the reason, and an
 * explicit opencl selector fails naming it. */
Test(discovery, without_the_opencl_library) {
  setenv("FITCL_OPENCL_LIBRARY", "/nonexistent/libOpenCL.so.1", 1);
  const char *why = fitcl_opencl_unavailable_reason();
  cr_assert_not_null(why);
  cr_assert(strstr(why, "/nonexistent/libOpenCL.so.1 cannot be loaded"), "%s", why);
  fitcl_device_desc *list = NULL;
  size_t n = 0;
  cr_assert_eq(fitcl_devices_list(&list, &n), FITCL_OK);
  cr_assert_eq(n, 1);
  cr_assert_str_eq(list[0].backend, "cpu");
  fitcl_devices_free(list);

  fitcl_context_options o = {0};
  o.device = "auto";
  o.cache = FITCL_CACHE_OFF;
  fitcl_context *ctx = NULL;
  cr_assert_eq(fitcl_context_create(&o, &ctx), FITCL_OK, "%s", fitcl_errmsg(ctx));
  fitcl_context_info info;
  fitcl_context_get_info(ctx, &info);
  cr_assert_str_eq(info.backend, "cpu");
  cr_assert_not_null(info.fallback_reason);
  cr_assert(strstr(info.fallback_reason, why), "%s", info.fallback_reason);
  fitcl_context_destroy(ctx);

  const char *sels[] = {"opencl", "opencl:0:gpu", "opencl:pocl"};
  for (size_t i = 0; i < sizeof sels / sizeof *sels; ++i) {
    o.device = sels[i];
    ctx = NULL;
    cr_assert_eq(fitcl_context_create(&o, &ctx), FITCL_ERR_NO_DEVICE, "%s", sels[i]);
    cr_assert(strstr(fitcl_errmsg(ctx), why), "%s: %s", sels[i], fitcl_errmsg(ctx));
    fitcl_context_destroy(ctx);
  }
  unsetenv("FITCL_OPENCL_LIBRARY");
}

#endif

static int maps_library(const char *name) {
  FILE *f = fopen("/proc/self/maps", "r");
  cr_assert_not_null(f);
  char line[4096];
  int found = 0;
  while (!found && fgets(line, sizeof line, f)) found = strstr(line, name) != NULL;
  fclose(f);
  return found;
}

/* Nothing links OpenCL: a cpu context and its work never map it. */
Test(discovery, cpu_never_loads_opencl) {
  fitcl_context *ctx = fitcl_test_context("cpu");
  fitcl_selftest_result r[8];
  size_t n = 0;
  cr_assert_eq(fitcl_selftest(ctx, r, 8, &n), FITCL_OK);
  fitcl_context_destroy(ctx);
  cr_assert(!maps_library("libOpenCL"), "libOpenCL is mapped");
  cr_assert(!maps_library("libclblast"), "libclblast is mapped");
}

/* `auto` on a host without an OpenCL GPU remembers that in the cache, so
 * later processes skip loading the OpenCL runtimes; anything that could
 * reveal a GPU (here: a different driver directory) makes it probe again. */
static fitcl_context *auto_ctx(const char *dir, fitcl_context_info *info) {
  fitcl_context_options o = {0};
  o.device = "auto";
  o.cache_dir = dir;
  fitcl_context *c = NULL;
  cr_assert_eq(fitcl_context_create(&o, &c), FITCL_OK, "%s", fitcl_errmsg(c));
  fitcl_context_get_info(c, info);
  return c;
}

Test(discovery, auto_remembers_a_host_without_gpu) {
  char *dir = fitcl_test_tmpdir();
  fitcl_context_info a, b;
  fitcl_context *ca = auto_ctx(dir, &a);
  cr_assert_str_eq(a.discovery, "probed");
  if (strcmp(a.backend, "cpu") != 0) {
    /* A GPU here: nothing is remembered and every start probes. */
    fitcl_context *cb = auto_ctx(dir, &b);
    cr_assert_str_eq(b.discovery, "probed");
    fitcl_context_destroy(cb);
  } else {
    fitcl_context *cb = auto_ctx(dir, &b);
    cr_assert_str_eq(b.discovery, "remembered");
    cr_assert_str_eq(b.backend, "cpu");
    cr_assert_eq(b.cache.hits + b.cache.misses, 0, "the memo is not counted as a program");
    fitcl_context_destroy(cb);

    /* A different OpenCL driver configuration is a different key. */
    char *vendors = fitcl_test_tmpdir();
    setenv("OCL_ICD_VENDORS", vendors, 1);
    cb = auto_ctx(dir, &b);
    cr_assert_str_eq(b.discovery, "probed");
    fitcl_context_destroy(cb);
    unsetenv("OCL_ICD_VENDORS");
    fitcl_test_rmtree(vendors);
    free(vendors);

    /* Clearing the cache forgets it. */
    uint64_t removed = 0;
    fitcl__cache_clear_dir(dir, &removed);
    cr_assert_geq(removed, 1);
    cb = auto_ctx(dir, &b);
    cr_assert_str_eq(b.discovery, "probed");
    fitcl_context_destroy(cb);
  }
  fitcl_context_destroy(ca);
  fitcl_test_rmtree(dir);
  free(dir);
}

Test(discovery, explicit_selectors_never_use_the_memo) {
  char *dir = fitcl_test_tmpdir();
  fitcl_context_info info;
  fitcl_context_destroy(auto_ctx(dir, &info));
  fitcl_context_options o = {0};
  o.cache_dir = dir;
  static const char *const sels[] = {"cpu", "opencl:all;cpu"};
  static const char *const want[] = {"skipped", "probed"};
  for (size_t i = 0; i < 2; ++i) {
    o.device = sels[i];
    fitcl_context *c = NULL;
    cr_assert_eq(fitcl_context_create(&o, &c), FITCL_OK, "%s", fitcl_errmsg(c));
    fitcl_context_get_info(c, &info);
    cr_assert_str_eq(info.discovery, want[i], "%s", sels[i]);
    fitcl_context_destroy(c);
  }
  fitcl_test_rmtree(dir);
  free(dir);
}
