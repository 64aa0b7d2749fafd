/* Writing .npy files (format 1.0) for tests and benchmarks: a writer of its
 * own, independent of the reader under test. */
#ifndef FITCL_TEST_NPY_WRITE_H
#define FITCL_TEST_NPY_WRITE_H

#include <stdio.h>

/* Writes the magic, the header length and the header, padded so the data
 * start on a 64-byte boundary.  cols 0 writes a 1-D shape (rows,). */
static inline void fitcl_npy_write_header(FILE *f, const char *descr, int fortran, size_t rows,
                                          size_t cols) {
  char header[256];
  int hl = cols ? snprintf(header, sizeof header,
                           "{'descr': '%s', 'fortran_order': %s, 'shape': (%zu, %zu), }", descr,
                           fortran ? "True" : "False", rows, cols)
                : snprintf(header, sizeof header,
                           "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }", descr, rows);
  size_t total = 10 + (size_t)hl + 1, pad = (64 - total % 64) % 64;
  unsigned short len = (unsigned short)(hl + pad + 1);
  fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  fputc(len & 0xff, f);
  fputc(len >> 8, f);
  fwrite(header, 1, (size_t)hl, f);
  for (size_t i = 0; i < pad; ++i) fputc(' ', f);
  fputc('\n', f);
}

#endif
