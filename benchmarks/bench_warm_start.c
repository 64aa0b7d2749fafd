/* Whole `fitcl selftest` processes, cold against warm, with PoCL's own
 * kernel cache off (POCL_KERNEL_CACHE=0): what a warm start still compiles
 * shows here and not in bench_context, which times context creation only.
 *
 *   cold: a new FITCL_CACHE_DIR each run;
 *   warm: one FITCL_CACHE_DIR that a cold run filled first.
 * Every run gets a new POCL_CACHE_DIR, so nothing PoCL left on disk helps.
 * Wall time (fork to exit) and the child's CPU time (user + system).
 *
 *   bench_warm_start [--device SEL] [--reps N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

static int run(const char *device, const char *cache, const char *pocl, double *wall,
               double *cpu) {
  mkdir(pocl, 0700);
  double t0 = bench_now();
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    setenv("FITCL_DEVICE", device, 1);
    setenv("FITCL_CACHE_DIR", cache, 1);
    setenv("FITCL_CACHE", "on", 1);
    setenv("POCL_KERNEL_CACHE", "0", 1);
    setenv("POCL_CACHE_DIR", pocl, 1);
    if (!freopen("/dev/null", "w", stdout)) _exit(126);
    execl(FITCL_CLI_PATH, FITCL_CLI_PATH, "selftest", (char *)NULL);
    _exit(127);
  }
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) != pid) return -1;
  *wall = bench_now() - t0;
  *cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
         (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  const char *device = "opencl";
  int reps = 5;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_warm_start [--device SEL] [--reps N]\n");
      return 2;
    }
  }
  if (reps < 1) reps = 1;
  if (reps > 64) reps = 64;
  char root[] = "/tmp/fitcl-bench-warm-XXXXXX";
  if (!mkdtemp(root)) return 1;
  bench_print_machine();
  bench_print_load("before");
  printf("# fitcl selftest, device %s, POCL_KERNEL_CACHE=0, %d runs each (fresh process)\n",
         device, reps);
  char warm_cache[600], dir[600], pocl[600];
  snprintf(warm_cache, sizeof warm_cache, "%s/warm-cache", root);
  double cw[64], cc[64], ww[64], wc[64], w, c;
  snprintf(pocl, sizeof pocl, "%s/pocl-prime", root);
  if (run(device, warm_cache, pocl, &w, &c) != 0) {
    fprintf(stderr, "bench_warm_start: fitcl selftest failed (is '%s' a valid device?)\n", device);
    return 1;
  }
  for (int i = 0; i < reps; ++i) {
    snprintf(dir, sizeof dir, "%s/cold-cache-%d", root, i);
    snprintf(pocl, sizeof pocl, "%s/pocl-cold-%d", root, i);
    if (run(device, dir, pocl, &cw[i], &cc[i]) != 0) return 1;
    snprintf(pocl, sizeof pocl, "%s/pocl-warm-%d", root, i);
    if (run(device, warm_cache, pocl, &ww[i], &wc[i]) != 0) return 1;
  }
  bench_print_load("after");
  double min[4], med[4];
  double *all[4] = {cw, ww, cc, wc};
  for (int k = 0; k < 4; ++k) bench_stats(all[k], (size_t)reps, &min[k], &med[k]);
  printf("%-6s %12s %12s %12s %12s\n", "state", "wall_min_s", "wall_med_s", "cpu_min_s",
         "cpu_med_s");
  printf("%-6s %12.3f %12.3f %12.3f %12.3f\n", "cold", min[0], med[0], min[2], med[2]);
  printf("%-6s %12.3f %12.3f %12.3f %12.3f\n", "warm", min[1], med[1], min[3], med[3]);
  printf("# warm/cold (median): wall %.1f %%, cpu %.1f %%\n", 100.0 * med[1] / med[0],
         100.0 * med[3] / med[2]);
  bench_row("selftest_process", "pocl_kernel_cache=0", "cold_wall_median_s", med[0], "s");
  bench_row("selftest_process", "pocl_kernel_cache=0", "warm_wall_median_s", med[1], "s");
  bench_row("selftest_process", "pocl_kernel_cache=0", "warm_over_cold_wall", med[1] / med[0],
            "ratio");
  bench_row("selftest_process", "pocl_kernel_cache=0", "warm_over_cold_cpu", med[3] / med[2],
            "ratio");
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  return system(cmd) == 0 ? 0 : 1;
}
