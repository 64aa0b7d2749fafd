#include "bench_util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

void bench_stats(double *t, size_t n, double *min, double *median) {
  qsort(t, n, sizeof *t, cmp_d);
  *min = t[0];
  *median = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

void bench_print_machine(void) {
  char model[256] = "unknown";
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f) {
    char line[512];
    while (fgets(line, sizeof line, f))
      if (strncmp(line, "model name", 10) == 0) {
        char *p = strchr(line, ':');
        if (p) {
          snprintf(model, sizeof model, "%s", p + 2);
          model[strcspn(model, "\n")] = 0;
        }
        break;
      }
    fclose(f);
  }
  long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
  struct utsname u;
  uname(&u);
  printf("# machine: %s, %ld cores, %.0f GiB RAM, %s %s\n", model, sysconf(_SC_NPROCESSORS_ONLN),
         (double)pages * (double)psz / (1024.0 * 1024 * 1024), u.sysname, u.release);
}

void bench_row(const char *bench, const char *variant, const char *metric, double value,
               const char *unit) {
  char row[1024];
  snprintf(row, sizeof row,
           "{\"bench\":\"%s\",\"variant\":\"%s\",\"metric\":\"%s\",\"value\":%.9g,\"unit\":\"%s\"}",
           bench, variant, metric, value, unit);
  printf("ROW %s\n", row);
  const char *out = getenv("FITCL_BENCH_OUT");
  if (out && *out) {
    FILE *f = fopen(out, "a");
    if (f) {
      fprintf(f, "%s\n", row);
      fclose(f);
    }
  }
}

void bench_print_load(const char *when) {
  double l[3] = {0, 0, 0};
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf %lf %lf", &l[0], &l[1], &l[2]) != 3) l[0] = l[1] = l[2] = 0;
    fclose(f);
  }
  printf("# load average %s: %.2f %.2f %.2f\n", when, l[0], l[1], l[2]);
}

int bench_run_peer(const char *python, const char *script, const char *args, char *json,
                   size_t len) {
  char cmd[4096], line[16384];
  snprintf(cmd, sizeof cmd, "%s %s %s 2>&1", python, script, args);
  json[0] = 0;
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  while (fgets(line, sizeof line, p))
    if (line[0] == '{') snprintf(json, len, "%s", line);
  return pclose(p);
}

double bench_json_num(const char *json, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\": ", key);
  const char *p = strstr(json, pat);
  return p ? strtod(p + strlen(pat), NULL) : 0.0 / 0.0;
}
