/* Tables of numbers written by the CLI: .npy or CSV. */
#include "cli/cli_table_out.h"

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "io/npy.h"

struct cli_table_out {
  fitcl__outfile o;
  const char *option, *path;
  int ncols, npy;
  uint64_t rows, promised;
};

static int has_npy_ext(const char *p) {
  size_t n = strlen(p);
  return n > 4 && !strcmp(p + n - 4, ".npy");
}

cli_table_out *cli_table_open(const char *option, const char *path, const char *const *names,
                              int ncols, uint64_t nrows, int *rc) {
  cli_table_out *t = calloc(1, sizeof *t);
  if (!t) {
    cli_error("%s: out of memory", option);
    *rc = CLI_EXIT_FAILURE;
    return NULL;
  }
  t->option = option;
  t->path = path;
  t->ncols = ncols;
  t->npy = has_npy_ext(path);
  t->promised = nrows;
  *rc = cli_out_open(&t->o, path);
  if (*rc) {
    free(t);
    return NULL;
  }
  if (t->npy) {
    const uint64_t dims[2] = {nrows, (uint64_t)ncols};
    fitcl__npy_write_header(&t->o, FITCL__NPY_F8, 2, dims);
  } else {
    for (int k = 0; k < ncols; ++k) fitcl__out_printf(&t->o, "%s%s", k ? "," : "", names[k]);
    fitcl__out_write(&t->o, "\n", 1);
  }
  return t;
}

void cli_table_row(cli_table_out *t, const double *v) {
  if (t->npy) {
    /* The host is little-endian (x86-64, aarch64): values go out as they are. */
    fitcl__out_write(&t->o, v, sizeof(double) * (size_t)t->ncols);
  } else {
    for (int k = 0; k < t->ncols; ++k) fitcl__out_printf(&t->o, "%s%.17g", k ? "," : "", v[k]);
    fitcl__out_write(&t->o, "\n", 1);
  }
  t->rows++;
}

int cli_table_end(cli_table_out *t, fitcl__outfile *out) {
  int rc = 0;
  if (t->npy && t->rows != t->promised) {
    cli_error("%s %s: %llu rows written, %llu expected", t->option, t->path,
              (unsigned long long)t->rows, (unsigned long long)t->promised);
    fitcl__out_abort(&t->o);
    rc = CLI_EXIT_FAILURE;
  } else {
    *out = t->o;
  }
  free(t);
  return rc;
}

void cli_table_abort(cli_table_out *t) {
  if (!t) return;
  fitcl__out_abort(&t->o);
  free(t);
}
