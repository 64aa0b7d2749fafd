/* Robustness: signals.  SIGINT or SIGTERM during a curve fit writes a
 * final checkpoint and exits 130; resuming reaches bit for bit the result
 * of the run that was never interrupted, on each backend.  (SIGPIPE is in
 * probe_outputs.c.) */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "box.h"

/* The "params" object of a --json result: the fitted values as printed
 * (17 significant digits), compared as text. */
static char *params_of(const char *json) {
  const char *p = strstr(json, "\"params\":{");
  cr_assert_not_null(p, "no params in %s", json);
  const char *e = strchr(p, '}');
  size_t n = (size_t)(e - p + 1);
  char *s = malloc(n + 1);
  memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

static void interrupt_and_resume(const char *device, int sig) {
  box b;
  box_open(&b);
  snprintf(b.device, sizeof b.device, "%s", device);
  box_write_npy(&b, "in/d.npy", 1u << 18, 2);
  /* Tolerances off: the fit runs its 60 steps, long enough to be
   * interrupted, and the same 60 steps when resumed. */
#define FIT "curve-fit", "--data", "../in/d.npy", "--model", "a*exp(-b*x)+c", "--p0", \
            "a=1,b=1,c=0", "--ftol", "-1", "--xtol", "-1", "--gtol", "-1", "--max-iter", "60", \
            "--json"
  const char *whole[] = {FIT, NULL};
  box_result ref;
  box_run(&b, &ref, NULL, whole);
  box_expect(&ref, 0, "", "the uninterrupted fit");
  char *want = params_of(ref.out);
  box_result_free(&ref);

  /* The signal goes in once the fit is under way (its third step). */
  const char *first[] = {FIT, "--checkpoint", "fit.ckpt", "--checkpoint-every", "1", "--progress",
                         NULL};
  box_opts o = {0};
  o.signal_when = "iter    3 ";
  o.signal = sig;
  box_result r;
  box_run(&b, &r, &o, first);
  if (r.code == 0) {
    /* Finished before the signal arrived: nothing to resume, same answer. */
    cr_log_warn("%s: the fit ended before signal %d; probe inconclusive", device, sig);
    char *got = params_of(r.out);
    cr_expect_str_eq(got, want);
    free(got);
  } else {
    box_expect(&r, 130, "checkpoint written to fit.ckpt", "the interrupted fit");
    const char *resume[] = {FIT, "--resume", "fit.ckpt", "--checkpoint", "fit.ckpt", NULL};
    box_result r2;
    box_run(&b, &r2, NULL, resume);
    box_expect(&r2, 0, "", "the resumed fit");
    char *got = params_of(r2.out);
    cr_expect_str_eq(got, want, "%s: resumed after signal %d: %s, uninterrupted: %s", device, sig,
                     got, want);
    free(got);
    box_result_free(&r2);
  }
  box_result_free(&r);
  free(want);
  box_close(&b);
#undef FIT
}

Test(signals, sigint_then_resume_cpu) { interrupt_and_resume("cpu", SIGINT); }
Test(signals, sigterm_then_resume_cpu) { interrupt_and_resume("cpu", SIGTERM); }
Test(signals, sigint_then_resume_opencl) {
  if (!box_have_opencl()) cr_skip_test("no OpenCL device");
  interrupt_and_resume("opencl", SIGINT);
}
