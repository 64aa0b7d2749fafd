/* Benchmark helpers: timing, statistics, machine description, result rows. */
#ifndef FITCL_BENCH_UTIL_H
#define FITCL_BENCH_UTIL_H
#include <stddef.h>

double bench_now(void);
/* Sorts t[0..n) and returns the min and the median. */
void bench_stats(double *t, size_t n, double *min, double *median);
/* Prints "# machine: <cpu model>, <n> cores, <mem>, <os>" to stdout. */
void bench_print_machine(void);
/* Appends one machine-readable row (JSON lines) to $FITCL_BENCH_OUT when set,
 * and prints it to stdout prefixed with "ROW ". */
void bench_row(const char *bench, const char *variant, const char *metric, double value,
               const char *unit);
/* Prints "# load average: 1m 5m 15m" (the machine is shared: the figure to
 * read next to every timing). */
void bench_print_load(const char *when);
/* Runs a Python peer (`python script args...` via the shell) and copies the
 * last line of its output that starts with '{' to json (empty when none).
 * Returns the exit status. */
int bench_run_peer(const char *python, const char *script, const char *args, char *json,
                   size_t len);
/* The number after "key": in a JSON line, or NaN. */
double bench_json_num(const char *json, const char *key);
#endif
