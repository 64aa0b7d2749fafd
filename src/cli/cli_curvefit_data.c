/* fitcl curve-fit: the data source (--data, --format, --x columns, --y,
 * --sigma, --chunk). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "cli/cli_curvefit.h"
#include "cli/cli_opts.h"

static int has_ext(const char *path, const char *ext) {
  size_t n = strlen(path), e = strlen(ext);
  return n > e && strcasecmp(path + n - e, ext) == 0;
}

/* raw[:f64|f32[:COLUMNS]]: the value type and the values per row. */
static int parse_raw(const char *spec, cf_format *fmt) {
  const char *p = spec + 3;
  snprintf(fmt->raw, sizeof fmt->raw, "raw");
  fmt->name = fmt->raw;
  if (*p != ':') return 0;
  ++p;
  if (!strncmp(p, "f64", 3)) fmt->raw_float32 = 0;
  else if (!strncmp(p, "f32", 3)) fmt->raw_float32 = 1;
  else return cli_usage_error("--format: raw value type must be f64 or f32, got '%s'", p);
  p += 3;
  if (*p == ':') {
    long k;
    if (!cli_whole("--format raw columns", p + 1, 1, CF_MAXV + 2, &k)) return CLI_EXIT_USAGE;
    fmt->raw_columns = (int)k;
  } else if (*p) {
    return cli_usage_error("--format: expected raw[:f64|f32[:COLUMNS]], got '%s'", spec);
  }
  return 0;
}

int cf_parse_format(const cf_args *a, cf_format *fmt) {
  memset(fmt, 0, sizeof *fmt);
  fmt->name = a->format;
  const char *f = a->format;
  if (f && !strncmp(f, "raw", 3) && (f[3] == 0 || f[3] == ':')) {
    int rc = parse_raw(f, fmt);
    if (rc) return rc;
  }
  /* Mapped formats name columns by index; the source checks the rest. */
  if (fmt->name)
    fmt->mapped = !strcmp(fmt->name, "npy") || !strcmp(fmt->name, "raw");
  else
    fmt->mapped = has_ext(a->data, ".npy") || has_ext(a->data, ".bin") ||
                  has_ext(a->data, ".raw") || has_ext(a->data, ".dat");
  return 0;
}

int cf_open_source(fitcl_context *ctx, const cf_args *a, const cf_format *fmt,
                   const cf_columns *cols, const cf_model *m, fitcl_source **src) {
  static const char *const index[] = {"0", "1", "2",  "3",  "4",  "5",  "6",  "7",
                                      "8", "9", "10", "11", "12", "13", "14", "15"};
  _Static_assert(sizeof index / sizeof index[0] >= CF_MAXV, "a column index per variable");
  const char *x[CF_MAXV];
  fitcl_source_options so;
  memset(&so, 0, sizeof so);
  so.path = a->data;
  so.format = fmt->name;
  so.raw_float32 = fmt->raw_float32;
  so.raw_columns = fmt->raw_columns;
  /* x columns: as given; else the model's variable names (named columns)
   * or columns 0.. (mapped; the source's default covers one variable). */
  if (cols->n) {
    for (int j = 0; j < cols->n; ++j) x[j] = cols->col[j];
    so.x = x;
    so.nx = (size_t)cols->n;
  } else if (!fmt->mapped) {
    for (int j = 0; j < m->nvars; ++j) x[j] = fitcl_model_var_name(m->model, (size_t)j);
    so.x = x;
    so.nx = (size_t)m->nvars;
  } else if (m->nvars != 1) {
    so.x = index;
    so.nx = (size_t)m->nvars;
  }
  so.y = a->y;
  so.sigma = a->sigma;
  so.chunk_points = (size_t)a->chunk;
  /* --memory-mb 0 means no copy (the library reads 0 as its default); -1: not given. */
  if (a->memory_mb >= 0) so.cache_mb = so.csv_cache_mb = a->memory_mb ? a->memory_mb : -1;
  fitcl_status st = fitcl_source_open(ctx, &so, src);
  return st == FITCL_OK ? 0 : cli_fail(ctx, st, NULL);
}
