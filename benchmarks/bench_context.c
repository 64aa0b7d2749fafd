/* Context creation in three cache states — cold (empty cache), warm (every
 * program a cache hit) and cache off — each with PoCL's own kernel cache off
 * (POCL_KERNEL_CACHE=0) and on.  Every measurement is a fresh process,
 * because OpenCL platforms read their environment once per process; the
 * child times fitcl_context_create() alone.
 *
 *   bench_context [--device SEL] [--reps N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "fitcl.h"

static int child(void) {
  double t0 = bench_now();
  fitcl_context *ctx = NULL;
  fitcl_status st = fitcl_context_create(NULL, &ctx);
  double t = bench_now() - t0;
  if (st != FITCL_OK) {
    fprintf(stderr, "context: %s\n", fitcl_errmsg(ctx));
    fitcl_context_destroy(ctx);
    return 1;
  }
  fitcl_context_info info;
  fitcl_context_get_info(ctx, &info);
  printf("%.9f %d %llu %llu\n", t, info.programs, (unsigned long long)info.cache.hits,
         (unsigned long long)info.cache.misses);
  fitcl_context_destroy(ctx);
  return 0;
}

static double run_child(const char *self, const char *device, const char *cache_dir,
                        const char *cache_mode, const char *pocl_cache, const char *pocl_dir,
                        int *programs) {
  int fd[2];
  if (pipe(fd) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fd[1], 1);
    close(fd[0]);
    setenv("FITCL_DEVICE", device, 1);
    setenv("FITCL_CACHE_DIR", cache_dir, 1);
    setenv("FITCL_CACHE", cache_mode, 1);
    setenv("POCL_KERNEL_CACHE", pocl_cache, 1);
    setenv("POCL_CACHE_DIR", pocl_dir, 1);
    execl(self, self, "--child", (char *)NULL);
    _exit(127);
  }
  close(fd[1]);
  char buf[256] = "";
  ssize_t n = read(fd[0], buf, sizeof buf - 1);
  close(fd[0]);
  int status;
  waitpid(pid, &status, 0);
  if (n <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  buf[n] = 0;
  double t;
  unsigned long long h, m;
  if (sscanf(buf, "%lf %d %llu %llu", &t, programs, &h, &m) != 4) return -1;
  return t;
}

static void fresh_dir(char *out, size_t size, const char *root, const char *name, int i) {
  snprintf(out, size, "%s/%s-%d", root, name, i);
  mkdir(out, 0700);
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--child")) return child();
  const char *device = "opencl";
  int reps = 5;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_context [--device SEL] [--reps N]\n");
      return 2;
    }
  }
  if (reps < 1) reps = 1;
  char root[] = "/tmp/fitcl-bench-context-XXXXXX";
  if (!mkdtemp(root)) return 1;
  char self[1024];
  ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
  if (sl <= 0) return 1;
  self[sl] = 0;

  bench_print_machine();
  printf("# device selector: %s, %d repetitions per state (fresh process each)\n", device, reps);
  printf("%-18s %-8s %10s %10s %8s\n", "pocl_kernel_cache", "state", "min_s", "median_s", "programs");
  const char *pocl_modes[2] = {"0", "1"};
  for (int pm = 0; pm < 2; ++pm) {
    double cold[64], warm[64], off[64];
    int programs = 0, k = 0;
    char warm_dir[512];
    fresh_dir(warm_dir, sizeof warm_dir, root, "warm", pm);
    for (int i = 0; i < reps && i < 64; ++i) {
      char cdir[512], pdir[512];
      fresh_dir(cdir, sizeof cdir, root, pm ? "cold1" : "cold0", i);
      fresh_dir(pdir, sizeof pdir, root, pm ? "pocl-cold1" : "pocl-cold0", i);
      cold[i] = run_child(self, device, cdir, "on", pocl_modes[pm], pdir, &programs);
      /* PoCL's cache (when on) is warm for "warm" and "off": that is what a
       * user's second start sees. */
      char pwarm[512];
      fresh_dir(pwarm, sizeof pwarm, root, "pocl-warm", pm);
      if (i == 0) run_child(self, device, warm_dir, "on", pocl_modes[pm], pwarm, &programs);
      warm[i] = run_child(self, device, warm_dir, "on", pocl_modes[pm], pwarm, &programs);
      off[i] = run_child(self, device, warm_dir, "off", pocl_modes[pm], pwarm, &programs);
      if (cold[i] < 0 || warm[i] < 0 || off[i] < 0) {
        fprintf(stderr, "bench_context: a child failed (is '%s' a valid device?)\n", device);
        return 1;
      }
      k = i + 1;
    }
    double cmin, cmed, wmin, wmed, omin, omed;
    bench_stats(cold, (size_t)k, &cmin, &cmed);
    bench_stats(warm, (size_t)k, &wmin, &wmed);
    bench_stats(off, (size_t)k, &omin, &omed);
    printf("%-18s %-8s %10.4f %10.4f %8d\n", pocl_modes[pm], "cold", cmin, cmed, programs);
    printf("%-18s %-8s %10.4f %10.4f %8d\n", pocl_modes[pm], "warm", wmin, wmed, programs);
    printf("%-18s %-8s %10.4f %10.4f %8d\n", pocl_modes[pm], "off", omin, omed, programs);
    printf("# POCL_KERNEL_CACHE=%s: warm/cold = %.2f%% (median), off/cold = %.2f%%\n",
           pocl_modes[pm], 100.0 * wmed / cmed, 100.0 * omed / cmed);
    char variant[64];
    snprintf(variant, sizeof variant, "pocl_kernel_cache=%s", pocl_modes[pm]);
    bench_row("context_create", variant, "cold_median_s", cmed, "s");
    bench_row("context_create", variant, "warm_median_s", wmed, "s");
    bench_row("context_create", variant, "off_median_s", omed, "s");
    bench_row("context_create", variant, "warm_over_cold", wmed / cmed, "ratio");
  }
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system(cmd) != 0) return 1;
  return 0;
}
