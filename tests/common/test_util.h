/* Helpers shared by the Criterion tests. */
#ifndef FITCL_TEST_UTIL_H
#define FITCL_TEST_UTIL_H

#include <stddef.h>
#include "fitcl.h"
#include "fitcl_config.h"

/* The OpenCL backend's test hooks (kernel variants, tile layout).  A build
 * without OpenCL has no variants to force: the hooks are plain variables. */
#if FITCL_WITH_OPENCL
#include "backends/opencl/opencl.h"
#else
__attribute__((unused)) static int fitcl__accum_ocl_variant, fitcl__accum_ocl_zero_copy,
    fitcl__lik_ocl_tile_override;
#endif

/* The backends every kernel test runs on: "cpu" always, and "opencl" when an
 * OpenCL device exists (with FITCL_OPENCL_NO_FP64=1 it runs without fp64).
 * When FITCL_TEST_REQUIRE_OPENCL=1 (set in CI) a missing OpenCL device is a
 * test failure rather than a skip. */
typedef struct fitcl_test_backend {
  const char *name;       /* "cpu" or "opencl" */
  const char *selector;   /* selector string to create a context with */
} fitcl_test_backend;

/* Fills up to `cap` backends; returns how many. */
size_t fitcl_test_backends(fitcl_test_backend *out, size_t cap);

/* Creates a context on `selector` with a private cache directory under the
 * test's temporary directory (so parallel test processes never share
 * writable state), and fails the test (cr_assert) if creation fails. */
fitcl_context *fitcl_test_context(const char *selector);

/* mkdtemp-based scratch directory, removed by fitcl_test_rmtree. */
char *fitcl_test_tmpdir(void);
void fitcl_test_rmtree(const char *dir);

/* Writes `text` to a new file in dir; returns the malloc'ed path. */
char *fitcl_test_write_file(const char *dir, const char *name, const char *text);

/* Runs the fitcl CLI with argv (NULL-terminated; argv[0] ignored) and the
 * given extra environment ("K=V" strings, NULL-terminated, may be NULL);
 * captures stdout and stderr (malloc'ed, may be NULL args); returns the exit
 * status (or -1). */
int fitcl_test_run_cli(const char *const *argv, const char *const *env, char **out, char **err);

/* |a-b| <= tol * max(|a|,|b|,tiny) */
int fitcl_test_close(double a, double b, double rel_tol);

#endif
