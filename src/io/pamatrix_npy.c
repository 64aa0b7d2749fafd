/* Presence/absence matrices as uint8 .npy arrays (io/pamatrix_npy.h).
 *
 * The header is io/npy.c's, the one strict parser.  The data are read with
 * pread in blocks of BLOCK bytes (1 MiB) and packed into the matrix's
 * two-bit cells as they come, so memory holds the cells, the names and one
 * block: never the array itself, which for 10^4 taxa x 10^6 families is
 * 10 GB.  pread, not mmap, as for every .npy fitcl reads: a mapped file
 * that shrinks while read turns the next access into SIGBUS. */
#include "io/pamatrix_npy.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/ioerr.h"
#include "core/strmap.h"
#include "core/util.h"
#include "io/npy.h"

/* Bytes per read: large enough that each pread costs nothing next to its
 * copy, small enough that the block is still in cache when packed (16 MiB
 * blocks took 3.5 times the CPU time: every packed byte waited on memory);
 * a multiple of 8 so that pieces of a long row start on a whole packed
 * byte. */
#define BLOCK ((size_t)1 << 20)
/* As the text readers: taxa index a tree with int node numbers. */
#define MAX_TAXA ((size_t)1 << 30)
#define MAX_FAMILIES ((size_t)1 << 40)
/* A names file of a million names is some tens of MB. */
#define MAX_NAMES_FILE ((size_t)1 << 30)

static int has_npy_ext(const char *path) {
  size_t n = strlen(path);
  return n > 4 && strcasecmp(path + n - 4, ".npy") == 0;
}

int fitcl__pamatrix_is_npy(const char *path, const fitcl_pamatrix_options *opt) {
  if (opt && (opt->taxa_file || opt->family_names_file)) return 1;
  return (!opt || opt->format == FITCL_PAMATRIX_AUTO) && has_npy_ext(path);
}

/* ---- names files -------------------------------------------------------- */

typedef struct names {
  char *pool; /* the file's text, each line ended by a NUL in place */
  size_t *off;
  size_t n;
} names;

static const char *names_key(const void *user, size_t i) {
  const names *nm = user;
  return nm->pool + nm->off[i];
}

/* Reads one name per line (a final newline optional, CRLF accepted),
 * refusing empty lines and a name twice. */
static fitcl_status read_names(const char *path, const char *what, names *out, char *err,
                               size_t errlen) {
  memset(out, 0, sizeof *out);
  char *text;
  size_t len;
  fitcl_status st = fitcl__read_file(path, MAX_NAMES_FILE, "a names file", &text, &len, err,
                                     errlen);
  if (st != FITCL_OK) return st;
  size_t lines = 0;
  for (size_t i = 0; i < len; ++i) lines += text[i] == '\n';
  if (len && text[len - 1] != '\n') ++lines;
  if (lines == 0) {
    free(text);
    return fitcl__ioerr(err, errlen, FITCL_ERR_DATA, "%s: empty; list one %s name per line", path,
                        what);
  }
  out->pool = text;
  out->off = malloc(lines * sizeof *out->off);
  if (!out->off) {
    free(text);
    out->pool = NULL;
    return fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "%s: out of memory", path);
  }
  fitcl__strmap seen;
  fitcl__strmap_init(&seen, names_key, out);
  for (size_t i = 0; i < len; ++i) {
    char *end = memchr(text + i, '\n', len - i);
    size_t e = end ? (size_t)(end - text) : len, n = e - i;
    if (n && text[e - 1] == '\r') --n;
    text[i + n] = '\0';
    if (n == 0) {
      st = fitcl__ioerr(err, errlen, FITCL_ERR_DATA,
                        "%s:%zu: empty line; list one %s name per line, without blank lines",
                        path, out->n + 1, what);
      break;
    }
    out->off[out->n] = i;
    size_t prev = fitcl__strmap_put(&seen, text + i, n, out->n);
    if (prev == SIZE_MAX - 1) {
      st = fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "%s: out of memory", path);
      break;
    }
    if (prev != out->n) {
      char q[80];
      fitcl__ioerr_name(q, sizeof q, text + i, n);
      st = fitcl__ioerr(err, errlen, FITCL_ERR_DATA, "%s:%zu: duplicate %s name '%s' (line %zu)",
                        path, out->n + 1, what, q, prev + 1);
      break;
    }
    out->n++;
    i = e;
  }
  fitcl__strmap_free(&seen);
  if (st != FITCL_OK) {
    FITCL_FREE(out->pool);
    FITCL_FREE(out->off);
    out->n = 0;
  }
  return st;
}

/* "F1", "F2"...: the names fitcl_pamatrix_create gives unnamed families. */
static fitcl_status default_names(size_t n, names *out) {
  /* Each name is 'F', its digits and a NUL: at most 2 + 20 bytes. */
  out->pool = malloc(n * 22);
  out->off = malloc(n * sizeof *out->off);
  if (!out->pool || !out->off) return FITCL_ERR_NOMEM;
  size_t len = 0;
  for (size_t i = 0; i < n; ++i) {
    out->off[i] = len;
    len += (size_t)snprintf(out->pool + len, 22, "F%zu", i + 1) + 1;
  }
  char *shrunk = realloc(out->pool, len);
  if (shrunk) out->pool = shrunk;
  out->n = n;
  return FITCL_OK;
}

/* ---- the array ---------------------------------------------------------- */

typedef struct reader {
  const char *path;
  fitcl_pamatrix *m;
  size_t block; /* bytes per read, a multiple of 8 */
  size_t row0;  /* the array's row of m's row 0 (a rank's share) */
  size_t rows;  /* the array's rows */
  char *err;
  size_t errlen;
} reader;

static fitcl_status bad_value(const reader *r, unsigned v, size_t f, size_t t) {
  char fq[80], tq[80];
  f += r->row0; /* the names are every row's; the cells this share's */
  const char *fn = fitcl__pa_family(r->m, f), *tn = fitcl__pa_taxon(r->m, t);
  fitcl__ioerr_name(fq, sizeof fq, fn, strlen(fn));
  fitcl__ioerr_name(tq, sizeof tq, tn, strlen(tn));
  return fitcl__ioerr(r->err, r->errlen, FITCL_ERR_DATA,
                      "%s: bad value %u at row %zu, column %zu (family '%s', taxon '%s'; "
                      "counting from 0); expected 0 absent, 1 present or 255 missing",
                      r->path, v, f, t, fq, tq);
}

/* The two-bit code of a byte, or -1. */
static inline int code_of(uint8_t v) { return v <= 1 ? v : v == 255 ? FITCL_PA_MISSING : -1; }

/* Eight 0/1 bytes (little-endian: byte i at bit 8i) as eight two-bit
 * cells (cell i at bit 2i), by halving the gaps three times. */
static inline uint16_t pack8(uint64_t w) {
  w = (w | w >> 6) & 0x0005000500050005ull;
  w = (w | w >> 12) & 0x0000005500000055ull;
  return (uint16_t)(w | w >> 24);
}

/* Cells src[t..e) of a row, one by one: missing cells, bad values, the
 * tail. */
static fitcl_status pack_cells(const reader *r, const uint8_t *src, size_t t, size_t e,
                               uint8_t *row, size_t f, size_t t0) {
  for (; t < e; ++t) {
    const int c = code_of(src[t]);
    if (c < 0) return bad_value(r, src[t], f, t0 + t);
    row[t >> 2] |= (uint8_t)(c << ((t & 3) * 2));
  }
  return FITCL_OK;
}

/* Packs src[0..n), the cells of row f from column t0 (a multiple of 8),
 * into the row's bytes (zero before). */
static fitcl_status pack_run(const reader *r, const uint8_t *src, size_t n, size_t f, size_t t0) {
  uint8_t *row = r->m->packed + f * r->m->stride + t0 / 4;
  size_t t = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  /* Sixteen 0/1 bytes, the common case, at once; a group holding anything
   * else (a missing cell, a bad value) cell by cell. */
  for (; t + 16 <= n; t += 16) {
    uint64_t a, b;
    memcpy(&a, src + t, 8);
    memcpy(&b, src + t + 8, 8);
    if ((a | b) & 0xFEFEFEFEFEFEFEFEull) {
      fitcl_status st = pack_cells(r, src, t, t + 16, row, f, t0);
      if (st != FITCL_OK) return st;
      continue;
    }
    const uint32_t packed = (uint32_t)pack8(a) | (uint32_t)pack8(b) << 16;
    memcpy(row + t / 4, &packed, 4);
  }
#endif
  return pack_cells(r, src, t, n, row, f, t0);
}

/* C order: rows are contiguous; whole rows per block, or pieces of a row
 * longer than a block. */
static fitcl_status read_c(const reader *r, int fd, uint64_t off, uint8_t *buf) {
  const size_t nf = r->m->nfamilies, nt = r->m->ntaxa, block = r->block;
  fitcl_status st = FITCL_OK;
  if (nt <= block) {
    const size_t per = block / nt;
    for (size_t f0 = 0; f0 < nf && st == FITCL_OK; f0 += per) {
      const size_t rows = nf - f0 < per ? nf - f0 : per;
      st = fitcl__npy_pread(fd, r->path, buf, rows * nt, off + (uint64_t)(r->row0 + f0) * nt,
                            r->err, r->errlen);
      for (size_t k = 0; k < rows && st == FITCL_OK; ++k)
        st = pack_run(r, buf + k * nt, nt, f0 + k, 0);
    }
    return st;
  }
  for (size_t f = 0; f < nf && st == FITCL_OK; ++f)
    for (size_t t0 = 0; t0 < nt && st == FITCL_OK; t0 += block) {
      const size_t n = nt - t0 < block ? nt - t0 : block;
      st = fitcl__npy_pread(fd, r->path, buf, n, off + (uint64_t)(r->row0 + f) * nt + t0, r->err,
                            r->errlen);
      if (st == FITCL_OK) st = pack_run(r, buf, n, f, t0);
    }
  return st;
}

/* Cells of families f0+k0..f0+k1 and columns t0+j0..t0+j1 (j0 a multiple
 * of 4) from the pieces in buf, one by one. */
static fitcl_status fortran_cells(const reader *r, const uint8_t *buf, size_t piece, size_t f0,
                                  size_t k0, size_t k1, size_t t0, size_t j0, size_t j1) {
  for (size_t k = k0; k < k1; ++k) {
    uint8_t *dst = r->m->packed + (f0 + k) * r->m->stride + t0 / 4;
    for (size_t q = j0; q < j1; ++q) {
      const uint8_t v = buf[q * piece + k];
      const int c = code_of(v);
      if (c < 0) return bad_value(r, v, f0 + k, t0 + q);
      dst[q / 4] |= (uint8_t)(c << ((q & 3) * 2));
    }
  }
  return FITCL_OK;
}

/* Fortran order: columns (one taxon, every family) are contiguous.  The
 * columns are taken 32 at a time (fewer for small blocks), a piece of each
 * per read, so that every family gets its 8 packed bytes in one go: cell
 * by cell, each row would be rewritten once per taxon.  Eight families of
 * four 0/1 columns combine in one word: byte i of a | b<<2 | c<<4 | d<<6
 * is the packed byte of family i. */
static fitcl_status read_fortran(const reader *r, int fd, uint64_t off, uint8_t *buf) {
  const size_t nf = r->m->nfamilies, nt = r->m->ntaxa, stride = r->m->stride;
  const size_t group = r->block < 32 ? r->block : 32, piece = r->block / group;
  for (size_t t0 = 0; t0 < nt; t0 += group) {
    const size_t g = nt - t0 < group ? nt - t0 : group, g4 = g & ~(size_t)3;
    for (size_t f0 = 0; f0 < nf; f0 += piece) {
      const size_t n = nf - f0 < piece ? nf - f0 : piece;
      for (size_t j = 0; j < g; ++j) {
        fitcl_status st = fitcl__npy_pread(fd, r->path, buf + j * piece, n,
                                           off + (uint64_t)(t0 + j) * r->rows + r->row0 + f0,
                                           r->err, r->errlen);
        if (st != FITCL_OK) return st;
      }
      fitcl_status st = FITCL_OK;
      size_t k = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      for (; k + 8 <= n && st == FITCL_OK; k += 8) {
        uint8_t *dst = r->m->packed + (f0 + k) * stride + t0 / 4;
        for (size_t j = 0; j < g4 && st == FITCL_OK; j += 4) {
          uint64_t w[4];
          for (int q = 0; q < 4; ++q) memcpy(&w[q], buf + (j + (size_t)q) * piece + k, 8);
          if ((w[0] | w[1] | w[2] | w[3]) & 0xFEFEFEFEFEFEFEFEull) {
            st = fortran_cells(r, buf, piece, f0, k, k + 8, t0, j, j + 4);
            continue;
          }
          const uint64_t bytes = w[0] | w[1] << 2 | w[2] << 4 | w[3] << 6;
          for (size_t i = 0; i < 8; ++i) dst[i * stride + j / 4] = (uint8_t)(bytes >> (8 * i));
        }
        if (st == FITCL_OK && g4 < g) st = fortran_cells(r, buf, piece, f0, k, k + 8, t0, g4, g);
      }
#endif
      if (st == FITCL_OK && k < n) st = fortran_cells(r, buf, piece, f0, k, n, t0, 0, g);
      if (st != FITCL_OK) return st;
    }
  }
  return FITCL_OK;
}

/* Checks the header, the shape and the names; then reads the cells. */
static fitcl_status read_fd(int fd, const char *path, uint64_t size,
                            const fitcl_pamatrix_options *o, size_t block, int rank, int ranks,
                            size_t *row0, fitcl_pamatrix *m, char *err, size_t errlen) {
  fitcl__npy_info h;
  fitcl_status st = fitcl__npy_read_header(fd, path, size, &h, err, errlen);
  if (st != FITCL_OK) return st;
  if (h.dtype != FITCL__NPY_U1)
    return fitcl__ioerr(err, errlen, FITCL_ERR_DATA,
                        "%s: dtype '%s' is not a presence/absence matrix's; use uint8 with 0 "
                        "absent, 1 present, 255 missing (numpy: np.save(path, a.astype(np.uint8)))",
                        path, h.descr);
  if (h.ndim != 2)
    return fitcl__ioerr(err, errlen, FITCL_ERR_DATA,
                        "%s: a %d-dimensional array; a presence/absence matrix is 2-D, shape "
                        "(families, taxa)", path, h.ndim);
  if (h.dims[0] == 0 || h.dims[1] == 0)
    return fitcl__ioerr(err, errlen, FITCL_ERR_DATA,
                        "%s: shape (%llu, %llu); a matrix needs at least one family (row) and "
                        "one taxon (column)", path, (unsigned long long)h.dims[0],
                        (unsigned long long)h.dims[1]);
  if (h.dims[1] > MAX_TAXA || h.dims[0] > MAX_FAMILIES)
    return fitcl__ioerr(err, errlen, FITCL_ERR_SIZE,
                        "%s: shape (%llu, %llu); at most %zu families and %zu taxa", path,
                        (unsigned long long)h.dims[0], (unsigned long long)h.dims[1],
                        MAX_FAMILIES, MAX_TAXA);
  const size_t nf = (size_t)h.dims[0], nt = (size_t)h.dims[1];
  names tax, fam;
  st = read_names(o->taxa_file, "taxon", &tax, err, errlen);
  if (st != FITCL_OK) return st;
  m->tax_pool = tax.pool;
  m->tax_off = tax.off;
  if (tax.n != nt)
    return fitcl__ioerr(err, errlen, FITCL_ERR_DATA,
                        "%s: %zu taxon names, but %s has %zu columns (shape (%zu, %zu)); list "
                        "one name per column", o->taxa_file, tax.n, path, nt, nf, nt);
  if (o->family_names_file) {
    st = read_names(o->family_names_file, "family", &fam, err, errlen);
    if (st != FITCL_OK) return st;
  } else if (default_names(nf, &fam) != FITCL_OK) {
    free(fam.pool);
    free(fam.off);
    return fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "%s: out of memory for %zu family names",
                        path, nf);
  }
  m->fam_pool = fam.pool;
  m->fam_off = fam.off;
  if (fam.n != nf)
    return fitcl__ioerr(err, errlen, FITCL_ERR_DATA,
                        "%s: %zu family names, but %s has %zu rows (shape (%zu, %zu)); list "
                        "one name per row", o->family_names_file, fam.n, path, nf, nf, nt);
  /* Rank k of n reads rows [b, e): contiguous, in rank order, the counts
   * differing by at most one (every names file is read whole). */
  const size_t q = nf / (size_t)ranks, extra = nf % (size_t)ranks, k = (size_t)rank;
  const size_t b = k * q + (k < extra ? k : extra), e = b + q + (k < extra);
  *row0 = b;
  m->nfamilies = e - b;
  m->ntaxa = nt;
  m->stride = (nt + 3) / 4;
  if (nf > SIZE_MAX / m->stride)
    return fitcl__ioerr(err, errlen, FITCL_ERR_SIZE, "%s: too large for this machine", path);
  m->packed = calloc(m->nfamilies ? m->nfamilies : 1, m->stride);
  uint8_t *buf = malloc(block);
  if (!m->packed || !buf) {
    free(buf);
    return fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "%s: out of memory for %zu x %zu cells",
                        path, nf, nt);
  }
  const reader r = {path, m, block, b, nf, err, errlen};
  st = h.fortran ? read_fortran(&r, fd, h.data_off, buf) : read_c(&r, fd, h.data_off, buf);
  free(buf);
  return st;
}

fitcl_status fitcl__pamatrix_read_npy(const char *path, const fitcl_pamatrix_options *opt,
                                      fitcl_pamatrix **out, char *err, size_t errlen) {
  return fitcl__pamatrix_read_npy_block(path, opt, BLOCK, out, err, errlen);
}

fitcl_status fitcl__pamatrix_read_npy_block(const char *path, const fitcl_pamatrix_options *opt,
                                            size_t block, fitcl_pamatrix **out, char *err,
                                            size_t errlen) {
  size_t row0;
  return fitcl__pamatrix_read_npy_share(path, opt, block, 0, 1, &row0, out, err, errlen);
}

fitcl_status fitcl__pamatrix_read_npy_share(const char *path, const fitcl_pamatrix_options *opt,
                                            size_t block, int rank, int ranks, size_t *row0,
                                            fitcl_pamatrix **out, char *err, size_t errlen) {
  *out = NULL;
  *row0 = 0;
  if (rank < 0 || ranks < 1 || rank >= ranks)
    return fitcl__ioerr(err, errlen, FITCL_ERR_ARG, "rank %d of %d", rank, ranks);
  if (block == 0) block = BLOCK;
  if (block < 8 || block % 8)
    return fitcl__ioerr(err, errlen, FITCL_ERR_ARG, "read block %zu is not a multiple of 8",
                        block);
  fitcl_pamatrix_options o = {0};
  if (opt) o = *opt;
  if (!has_npy_ext(path))
    return fitcl__ioerr(err, errlen, FITCL_ERR_ARG,
                        "%s: taxon and family names files (--taxa, --family-names) go with a "
                        ".npy matrix only; a text matrix names its rows and columns itself",
                        path);
  if (o.format != FITCL_PAMATRIX_AUTO)
    return fitcl__ioerr(err, errlen, FITCL_ERR_ARG,
                        "%s: a .npy matrix takes no text format option", path);
  if (o.taxa_in_rows)
    return fitcl__ioerr(err, errlen, FITCL_ERR_ARG,
                        "%s: taxa in rows (--taxa-in-rows) does not apply to a .npy matrix: its "
                        "shape is (families, taxa); save the transpose instead", path);
  if (!o.taxa_file)
    return fitcl__ioerr(err, errlen, FITCL_ERR_ARG,
                        "%s: a .npy matrix needs its taxon names: a file of one name per "
                        "column (taxa_file, --taxa FILE)", path);
  int fd;
  uint64_t size;
  fitcl_status st = fitcl__npy_open(path, &fd, &size, err, errlen);
  if (st != FITCL_OK) return st;
  fitcl_pamatrix *m = calloc(1, sizeof *m);
  if (!m) st = fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "%s: out of memory", path);
  else st = read_fd(fd, path, size, &o, block, rank, ranks, row0, m, err, errlen);
  close(fd);
  if (st != FITCL_OK) {
    fitcl_pamatrix_destroy(m);
    return st;
  }
  *out = m;
  return FITCL_OK;
}

/* ---- writing ------------------------------------------------------------ */

/* A name must be one line of a names file. */
static int line_safe(const char *s) { return s[0] && !strpbrk(s, "\r\n"); }

fitcl_status fitcl__pamatrix_npy_check(const fitcl_pamatrix *m, const char *path, char *err,
                                       size_t errlen) {
  for (size_t t = 0; t < m->ntaxa; ++t)
    if (!line_safe(fitcl__pa_taxon(m, t)))
      return fitcl__ioerr(err, errlen, FITCL_ERR_DATA,
                          "%s: taxon name %zu holds a newline; a names file cannot store it",
                          path, t);
  for (size_t f = 0; f < m->nfamilies; ++f)
    if (!line_safe(fitcl__pa_family(m, f)))
      return fitcl__ioerr(err, errlen, FITCL_ERR_DATA,
                          "%s: family name %zu holds a newline; a names file cannot store it",
                          path, f);
  return FITCL_OK;
}

fitcl_status fitcl__pamatrix_npy_write(const fitcl_pamatrix *m, fitcl__outfile *o) {
  static const uint8_t byte[4] = {0, 1, 255, 255};
  uint8_t *row = malloc(m->ntaxa);
  if (!row) return FITCL_ERR_NOMEM;
  const uint64_t dims[2] = {m->nfamilies, m->ntaxa};
  fitcl__npy_write_header(o, FITCL__NPY_U1, 2, dims);
  for (size_t f = 0; f < m->nfamilies; ++f) {
    for (size_t t = 0; t < m->ntaxa; ++t) row[t] = byte[fitcl__pa_get(m, f, t)];
    fitcl__out_write(o, row, m->ntaxa);
  }
  free(row);
  return FITCL_OK;
}

void fitcl__pamatrix_names_write(const fitcl_pamatrix *m, int families, fitcl__outfile *o) {
  const size_t n = families ? m->nfamilies : m->ntaxa;
  for (size_t i = 0; i < n; ++i) {
    const char *s = families ? fitcl__pa_family(m, i) : fitcl__pa_taxon(m, i);
    fitcl__out_write(o, s, strlen(s));
    fitcl__out_write(o, "\n", 1);
  }
}
