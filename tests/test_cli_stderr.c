/* The library prints nothing unless FITCL_LOG asks: OpenCL runs of the CLI
 * leave stderr empty even when every program is compiled from source (fresh
 * fitcl and driver caches, where a compiler would speak), and a failed build
 * is reported by fitcl's own error message only, not by the compiler's
 * stray summary line ("N errors generated." from PoCL's in-process clang). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_util.h"

typedef struct {
  char *dir;
  char device[128], fitcl_cache[600], pocl_cache[600];
} cold_env;

/* FITCL_DEVICE on the OpenCL device, and program caches that start empty. */
static int cold_env_open(cold_env *c) {
  fitcl_test_backend b[2];
  if (fitcl_test_backends(b, 2) < 2) return 0;
  unsetenv("FITCL_LOG");
  c->dir = fitcl_test_tmpdir();
  snprintf(c->device, sizeof c->device, "FITCL_DEVICE=%s", b[1].selector);
  snprintf(c->fitcl_cache, sizeof c->fitcl_cache, "FITCL_CACHE_DIR=%s/fitcl", c->dir);
  snprintf(c->pocl_cache, sizeof c->pocl_cache, "POCL_CACHE_DIR=%s/pocl", c->dir);
  char pocl[600];
  snprintf(pocl, sizeof pocl, "%s/pocl", c->dir);
  mkdir(pocl, 0700);
  return 1;
}

static void cold_env_close(cold_env *c) {
  fitcl_test_rmtree(c->dir);
  free(c->dir);
}

Test(cli_stderr, opencl_runs_print_nothing) {
  cold_env c;
  if (!cold_env_open(&c)) cr_skip_test("no OpenCL device");
  char *csv = fitcl_test_write_file(c.dir, "decay.csv",
                                    "x,y\n0,2.3\n0.5,1.72\n1,1.29\n1.5,1.01\n2,0.84\n2.5,0.72\n"
                                    "3,0.66\n3.5,0.62\n4,0.6\n4.5,0.59\n");
  const char *examples = FITCL_TEST_SOURCE_DIR "/examples";
  char tree[600], matrix[600];
  snprintf(tree, sizeof tree, "%s/pangenome50.nwk", examples);
  snprintf(matrix, sizeof matrix, "%s/pangenome50.Rtab", examples);
  const char *selftest[] = {"fitcl", "selftest", NULL};
  const char *loglik[] = {"fitcl", "loglik", "--tree", tree, "--matrix", matrix, "--gain", "0.5",
                          "--loss", "1", "--gamma-cats", "4", "--alpha", "0.5", NULL};
  /* Not a built-in model: its program is generated and compiled at run time. */
  const char *curvefit[] = {"fitcl", "curve-fit", "--data", csv, "--model", "a*exp(-b*x)+c*x",
                            "--p0", "a=1,b=1,c=0", NULL};
  const char *const *runs[] = {selftest, loglik, curvefit};
  const char *env[] = {c.device, c.fitcl_cache, c.pocl_cache, NULL};
  for (size_t i = 0; i < sizeof runs / sizeof *runs; ++i) {
    char *err = NULL;
    int rc = fitcl_test_run_cli(runs[i], env, NULL, &err);
    cr_expect_eq(rc, 0, "fitcl %s: exit %d, stderr: %s", runs[i][1], rc, err);
    cr_expect_str_empty(err, "fitcl %s wrote to stderr: %s", runs[i][1], err);
    free(err);
  }
  free(csv);
  cold_env_close(&c);
}

Test(cli_stderr, failed_build_reports_only_fitcl_error) {
  cold_env c;
  if (!cold_env_open(&c)) cr_skip_test("no OpenCL device");
  /* Every kernel fails to compile: defining its include guard empties
   * cl/common/compat.h, so FITCL_FN, FITCL_GLOBAL... are unknown. */
  const char *env[] = {c.device, c.fitcl_cache, c.pocl_cache,
                       "FITCL_OPENCL_OPTIONS=-DFITCL_CL_COMMON_COMPAT_H", NULL};
  const char *argv[] = {"fitcl", "selftest", NULL};
  char *err = NULL;
  int rc = fitcl_test_run_cli(argv, env, NULL, &err);
  cr_expect_eq(rc, 1, "exit %d, stderr: %s", rc, err);
  cr_expect(strncmp(err, "fitcl selftest:", 15) == 0, "fitcl's message comes first: %s", err);
  cr_expect(strstr(err, "FITCL_FN") != NULL, "the build log is in the message: %s", err);
  cr_expect(strstr(err, " generated.") == NULL, "the compiler's summary leaked: %s", err);
  free(err);
  cold_env_close(&c);
}
