/* fitcl_source_open: picks the reader from the format or the file name's
 * extension and opens it. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/context.h"
#include "core/util.h"
#include "io/source_readers.h"

static int has_ext(const char *path, const char *ext) {
  size_t a = strlen(path), b = strlen(ext);
  return a >= b && strcasecmp(path + a - b, ext) == 0;
}

fitcl_status fitcl_source_open(fitcl_context *ctx, const fitcl_source_options *opt,
                               fitcl_source **out) {
  if (!ctx || !opt || !out) return fitcl__fail(ctx, FITCL_ERR_NULL, "fitcl_source_open: NULL argument");
  *out = NULL;
  fitcl__clear_error(ctx);
  if (!opt->path || !*opt->path)
    return fitcl__fail(ctx, FITCL_ERR_ARG, "fitcl_source_open: no data file given");
  if (opt->x && (opt->nx == 0 || opt->nx > FITCL_NLSQ_MAX_VARS))
    return fitcl__fail(ctx, FITCL_ERR_SIZE, "%s: %zu x columns; 1 to %d are supported",
                       opt->path, opt->nx, FITCL_NLSQ_MAX_VARS);
  const char *fmt = opt->format;
  if (!fmt || !*fmt || !strcmp(fmt, "auto")) {
    const char *p = opt->path;
    if (has_ext(p, ".npy")) fmt = "npy";
    else if (has_ext(p, ".csv")) fmt = "csv";
    else if (has_ext(p, ".tsv") || has_ext(p, ".tab")) fmt = "tsv";
    else if (has_ext(p, ".h5") || has_ext(p, ".hdf5") || has_ext(p, ".hdf") || has_ext(p, ".nxs"))
      fmt = "hdf5";
    else if (has_ext(p, ".bin") || has_ext(p, ".raw") || has_ext(p, ".dat")) fmt = "raw";
    else
      return fitcl__fail(ctx, FITCL_ERR_ARG,
                         "%s: cannot tell the format from the extension; name it (npy, csv, "
                         "tsv, raw, hdf5)", p);
  }
  int text = !strcmp(fmt, "csv") || !strcmp(fmt, "tsv");
  int mapped = !strcmp(fmt, "npy") || !strcmp(fmt, "raw");
  int hdf5 = !strcmp(fmt, "hdf5");
  if (!text && !mapped && !hdf5)
    return fitcl__fail(ctx, FITCL_ERR_ARG, "unknown data format '%s'; use npy, csv, tsv, raw or hdf5",
                       fmt);
  fitcl_source *s = NULL;
  fitcl_status st = fitcl__source_alloc(ctx, opt, text ? 65536 : 1048576, &s);
  if (st != FITCL_OK) return st;
  /* Column labels for messages, with each format's defaults. */
  char num[32];
  for (size_t j = 0; j < s->nx; ++j) {
    const char *c = opt->x ? opt->x[j] : NULL;
    if (!c) {
      snprintf(num, sizeof num, "%zu", j);
      c = mapped ? num : "x";
    }
    s->colname[j] = fitcl__strdup(c);
  }
  snprintf(num, sizeof num, "%zu", s->nx);
  s->colname[s->nx] = fitcl__strdup(opt->y ? opt->y : mapped ? num : "y");
  if (s->has_sigma) s->colname[s->nx + 1] = fitcl__strdup(opt->sigma);
  for (int k = 0; k < s->ncols; ++k)
    if (!s->colname[k]) {
      fitcl_source_destroy(s);
      return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory opening %s", opt->path);
    }
  if (text) st = fitcl__source_open_csv(s, opt, !strcmp(fmt, "tsv") ? '\t' : 0);
  else if (mapped) st = fitcl__source_open_mapped(s, opt, !strcmp(fmt, "raw"));
  else st = fitcl__source_open_hdf5(s, opt);
  if (st != FITCL_OK) {
    fitcl_source_destroy(s);
    return st;
  }
  *out = s;
  return FITCL_OK;
}
