/* Tables of numbers written by the CLI: .npy or CSV. */
#include "cli/cli_table_out.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

struct cli_table_out {
  FILE *f;
  char *path;
  const char *option;
  int ncols, npy, failed;
  uint64_t rows, promised;
};

static int has_npy_ext(const char *p) {
  size_t n = strlen(p);
  return n > 4 && !strcmp(p + n - 4, ".npy");
}

/* The .npy (version 1.0) header of a little-endian float64 C-order 2-D
 * array, padded so the data start on a 64-byte boundary. */
static void npy_header(FILE *f, uint64_t rows, int cols) {
  char dict[160];
  int len = snprintf(dict, sizeof dict,
                     "{'descr': '<f8', 'fortran_order': False, 'shape': (%llu, %d), }",
                     (unsigned long long)rows, cols);
  int total = 10 + len + 1, pad = (64 - total % 64) % 64;
  unsigned hlen = (unsigned)(len + pad + 1);
  fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  fputc((int)(hlen & 0xff), f);
  fputc((int)(hlen >> 8), f);
  fwrite(dict, 1, (size_t)len, f);
  for (int i = 0; i < pad; ++i) fputc(' ', f);
  fputc('\n', f);
}

cli_table_out *cli_table_open(const char *option, const char *path, const char *const *names,
                              int ncols, uint64_t nrows) {
  cli_table_out *t = calloc(1, sizeof *t);
  if (!t || !(t->path = strdup(path))) {
    free(t);
    fprintf(stderr, "%s: %s: out of memory\n", cli_prog, option);
    return NULL;
  }
  t->option = option;
  t->ncols = ncols;
  t->npy = has_npy_ext(path);
  t->promised = nrows;
  t->f = fopen(path, t->npy ? "wb" : "w");
  if (!t->f) {
    fprintf(stderr, "%s: %s %s: cannot open for writing: %s\n", cli_prog, option, path,
            strerror(errno));
    free(t->path);
    free(t);
    return NULL;
  }
  if (t->npy) {
    npy_header(t->f, nrows, ncols);
  } else {
    for (int k = 0; k < ncols; ++k) fprintf(t->f, "%s%s", k ? "," : "", names[k]);
    fputc('\n', t->f);
  }
  return t;
}

void cli_table_row(cli_table_out *t, const double *v) {
  if (t->npy) {
    /* The host is little-endian (x86-64, aarch64): values go out as they are. */
    if (fwrite(v, sizeof(double), (size_t)t->ncols, t->f) != (size_t)t->ncols) t->failed = 1;
  } else {
    for (int k = 0; k < t->ncols; ++k) fprintf(t->f, "%s%.17g", k ? "," : "", v[k]);
    fputc('\n', t->f);
  }
  t->rows++;
}

int cli_table_close(cli_table_out *t) {
  int e = 0;
  if (ferror(t->f)) t->failed = 1;
  if (fclose(t->f) != 0) {
    e = errno;
    t->failed = 1;
  }
  int rc = 0;
  if (t->failed) {
    fprintf(stderr, "%s: %s %s: write failed%s%s\n", cli_prog, t->option, t->path,
            e ? ": " : "", e ? strerror(e) : "");
    rc = 1;
  } else if (t->npy && t->rows != t->promised) {
    fprintf(stderr, "%s: %s %s: %llu rows written, %llu expected\n", cli_prog, t->option,
            t->path, (unsigned long long)t->rows, (unsigned long long)t->promised);
    rc = 1;
  }
  free(t->path);
  free(t);
  return rc;
}
