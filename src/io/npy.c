/* The .npy header parser and writer (io/npy.h). */
#include "io/npy.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ioerr.h"

fitcl_status fitcl__npy_pread(int fd, const char *path, void *dst, size_t len, uint64_t off,
                              char *err, size_t errlen) {
  unsigned char *p = dst;
  while (len) {
    ssize_t r = pread(fd, p, len, (off_t)off);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0)
      return fitcl__ioerr(err, errlen, FITCL_ERR_IO, "%s: read error: %s", path, strerror(errno));
    if (r == 0)
      return fitcl__ioerr(err, errlen, FITCL_ERR_IO,
                          "%s: file is shorter than expected (changed while read?)", path);
    p += r;
    len -= (size_t)r;
    off += (uint64_t)r;
  }
  return FITCL_OK;
}

/* ---- the header dict ---------------------------------------------------- */

static void skip_ws(const char **p) {
  while (**p == ' ' || **p == '\t') ++*p;
}

/* A quoted Python string without escapes. */
static int quoted(const char **p, char *out, size_t cap) {
  char q = **p;
  if (q != '\'' && q != '"') return 0;
  const char *s = *p + 1, *e = strchr(s, q);
  if (!e || (size_t)(e - s) >= cap || memchr(s, '\\', (size_t)(e - s))) return 0;
  memcpy(out, s, (size_t)(e - s));
  out[e - s] = '\0';
  *p = e + 1;
  return 1;
}

static int shape_tuple(const char **p, fitcl__npy_info *h) {
  const char *s = *p;
  int comma = 0;
  if (*s++ != '(') return 0;
  h->ndim = 0;
  for (;;) {
    skip_ws(&s);
    if (*s == ')') break;
    if (!isdigit((unsigned char)*s) || h->ndim == FITCL__NPY_MAXDIM) return 0;
    uint64_t v = 0;
    for (; isdigit((unsigned char)*s); ++s) {
      if (v > (UINT64_MAX - 9) / 10) return 0;
      v = v * 10 + (uint64_t)(*s - '0');
    }
    h->dims[h->ndim++] = v;
    skip_ws(&s);
    comma = *s == ',';
    if (comma) ++s;
    else if (*s != ')') return 0;
  }
  /* (n) is a number in parentheses, not a tuple: numpy writes (n,). */
  if (h->ndim == 1 && !comma) return 0;
  *p = s + 1;
  return 1;
}

/* NULL when text is a valid header dict, else why not. */
static const char *parse_dict(const char *text, fitcl__npy_info *h) {
  int have_descr = 0, have_fortran = 0, have_shape = 0;
  const char *p = text;
  skip_ws(&p);
  if (*p++ != '{') return "it does not start with '{'";
  for (;;) {
    skip_ws(&p);
    if (*p == '}') break;
    char key[32];
    if (!quoted(&p, key, sizeof key)) return "expected a quoted key";
    skip_ws(&p);
    if (*p++ != ':') return "expected ':' after a key";
    skip_ws(&p);
    if (!strcmp(key, "descr")) {
      if (have_descr++) return "'descr' appears twice";
      if (!quoted(&p, h->descr, sizeof h->descr)) return "'descr' is not a dtype string";
    } else if (!strcmp(key, "fortran_order")) {
      if (have_fortran++) return "'fortran_order' appears twice";
      if (!strncmp(p, "True", 4)) h->fortran = 1, p += 4;
      else if (!strncmp(p, "False", 5)) h->fortran = 0, p += 5;
      else return "'fortran_order' is not True or False";
    } else if (!strcmp(key, "shape")) {
      if (have_shape++) return "'shape' appears twice";
      if (!shape_tuple(&p, h)) return "'shape' is not a tuple of at most 3 whole numbers";
    } else {
      return "unknown key (only 'descr', 'fortran_order' and 'shape' may appear)";
    }
    skip_ws(&p);
    if (*p == ',') ++p;
    else if (*p != '}') return "expected ',' or '}' after a value";
  }
  for (++p; *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'; ++p) {}
  if (*p) return "text after the closing '}'";
  if (!have_descr || !have_fortran || !have_shape)
    return "it lacks one of 'descr', 'fortran_order', 'shape'";
  return NULL;
}

/* '<' little-endian, '=' native (little-endian wherever fitcl runs); a
 * one-byte type has no byte order, and numpy writes '|'. */
static void classify(fitcl__npy_info *h) {
  static const struct {
    const char *name;
    int dtype;
    size_t esize;
  } known[] = {{"f8", FITCL__NPY_F8, 8}, {"f4", FITCL__NPY_F4, 4}, {"i8", FITCL__NPY_I8, 8},
               {"i4", FITCL__NPY_I4, 4}, {"u1", FITCL__NPY_U1, 1}};
  h->dtype = -1;
  h->esize = 0;
  const char order = h->descr[0];
  if (order != '<' && order != '=' && !(order == '|' && !strcmp(h->descr + 1, "u1"))) return;
  for (size_t k = 0; k < sizeof known / sizeof known[0]; ++k)
    if (!strcmp(h->descr + 1, known[k].name)) {
      h->dtype = known[k].dtype;
      h->esize = known[k].esize;
    }
}

fitcl_status fitcl__npy_read_header(int fd, const char *path, uint64_t file_size,
                                    fitcl__npy_info *h, char *err, size_t errlen) {
  memset(h, 0, sizeof *h);
  unsigned char b[12];
  if (file_size < 10 || fitcl__npy_pread(fd, path, b, 10, 0, NULL, 0) != FITCL_OK ||
      memcmp(b, "\x93NUMPY", 6) != 0)
    return fitcl__ioerr(err, errlen, FITCL_ERR_PARSE, "%s: not a .npy file (bad magic)", path);
  uint64_t hlen, hstart;
  if (b[6] == 1) {
    hlen = (uint64_t)b[8] | ((uint64_t)b[9] << 8);
    hstart = 10;
  } else if ((b[6] == 2 || b[6] == 3) && file_size >= 12 &&
             fitcl__npy_pread(fd, path, b + 10, 2, 10, NULL, 0) == FITCL_OK) {
    hlen = (uint64_t)b[8] | ((uint64_t)b[9] << 8) | ((uint64_t)b[10] << 16) |
           ((uint64_t)b[11] << 24);
    hstart = 12;
  } else {
    return fitcl__ioerr(err, errlen, FITCL_ERR_PARSE, "%s: unsupported .npy version %d", path,
                        b[6]);
  }
  if (hlen > FITCL__NPY_MAX_HEADER)
    return fitcl__ioerr(err, errlen, FITCL_ERR_PARSE,
                        "%s: malformed .npy header: %llu bytes long (the limit is %u)", path,
                        (unsigned long long)hlen, FITCL__NPY_MAX_HEADER);
  if (hstart + hlen > file_size)
    return fitcl__ioerr(err, errlen, FITCL_ERR_PARSE, "%s: truncated .npy header", path);
  char *text = malloc(hlen + 1);
  if (!text) return fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "out of memory");
  fitcl_status st = fitcl__npy_pread(fd, path, text, hlen, hstart, err, errlen);
  const char *why = NULL;
  if (st == FITCL_OK) {
    text[hlen] = '\0';
    if (strlen(text) != hlen) why = "it holds a NUL byte";
    else if (hlen == 0 || text[hlen - 1] != '\n') why = "it does not end with a newline";
    else why = parse_dict(text, h);
  }
  free(text);
  if (st != FITCL_OK) return st;
  if (why)
    return fitcl__ioerr(err, errlen, FITCL_ERR_PARSE,
                        "%s: malformed .npy header: %s; write the file with numpy.save", path, why);
  classify(h);
  h->data_off = hstart + hlen;
  /* The data the shape promises must be in the file: a shape of 2^40 x
   * 2^40 in a small file is refused here, before anyone allocates.  (Of
   * a dtype no reader takes, only the count: the dtype is the error.) */
  const uint64_t avail = file_size - h->data_off, es = h->esize;
  h->count = 1;
  for (int k = 0; k < h->ndim; ++k) {
    if (es && h->dims[k] && h->count > avail / es / h->dims[k])
      return fitcl__ioerr(err, errlen, FITCL_ERR_DATA,
                          "%s: file is shorter than its shape says (truncated?)", path);
    h->count *= h->dims[k];
  }
  if (es && h->count > avail / es)
    return fitcl__ioerr(err, errlen, FITCL_ERR_DATA,
                        "%s: file is shorter than its shape says (truncated?)", path);
  return FITCL_OK;
}

/* ---- writing ------------------------------------------------------------ */

void fitcl__npy_write_header(fitcl__outfile *o, fitcl__npy_dtype dtype, int ndim,
                             const uint64_t *dims) {
  static const char *const descr[] = {"<f8", "<f4", "<i8", "<i4", "|u1"};
  char shape[96] = "", dict[192];
  size_t w = 0;
  for (int k = 0; k < ndim && w < sizeof shape; ++k)
    w += (size_t)snprintf(shape + w, sizeof shape - w, "%s%llu", k ? ", " : "",
                          (unsigned long long)dims[k]);
  int len = snprintf(dict, sizeof dict,
                     "{'descr': '%s', 'fortran_order': False, 'shape': (%s%s), }", descr[dtype],
                     shape, ndim == 1 ? "," : "");
  /* Magic (6) + version (2) + length (2) + dict + '\n', padded to 64. */
  const size_t pad = (64 - (10 + (size_t)len + 1) % 64) % 64, hlen = (size_t)len + pad + 1;
  const unsigned char magic[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                   (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
  fitcl__out_write(o, magic, sizeof magic);
  fitcl__out_write(o, dict, (size_t)len);
  for (size_t i = 0; i < pad; ++i) fitcl__out_write(o, " ", 1);
  fitcl__out_write(o, "\n", 1);
}

void fitcl__npy_write(fitcl__outfile *o, int ndim, const size_t *dims, const double *f64,
                      const int32_t *i32) {
  uint64_t d[FITCL__NPY_MAXDIM];
  size_t total = 1;
  for (int k = 0; k < ndim; ++k) {
    d[k] = dims[k];
    total *= dims[k];
  }
  fitcl__npy_write_header(o, f64 ? FITCL__NPY_F8 : FITCL__NPY_I4, ndim, d);
  if (f64) fitcl__out_write(o, f64, total * sizeof *f64);
  else fitcl__out_write(o, i32, total * sizeof *i32);
}

fitcl_status fitcl__npy_save(const char *path, int ndim, const size_t *dims, const double *f64,
                             const int32_t *i32, char *err, size_t errlen) {
  fitcl__outfile o;
  fitcl_status st = fitcl__out_open(&o, path, 0, err, errlen);
  if (st != FITCL_OK) return st;
  fitcl__npy_write(&o, ndim, dims, f64, i32);
  return fitcl__out_commit(&o, err, errlen);
}

fitcl_status fitcl__npy_open(const char *path, int *fd, uint64_t *size, char *err, size_t errlen) {
  *size = 0;
  *fd = open(path, O_RDONLY | O_CLOEXEC);
  if (*fd < 0)
    return fitcl__ioerr(err, errlen, FITCL_ERR_FILE, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  fitcl_status st = FITCL_OK;
  if (fstat(*fd, &sb) != 0)
    st = fitcl__ioerr(err, errlen, FITCL_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
  else if (S_ISDIR(sb.st_mode))
    st = fitcl__ioerr(err, errlen, FITCL_ERR_FILE, "%s: is a directory; give a file", path);
  else if (!S_ISREG(sb.st_mode))
    st = fitcl__ioerr(err, errlen, FITCL_ERR_FILE, "%s: not a regular file; give a .npy file",
                      path);
  if (st != FITCL_OK) {
    close(*fd);
    *fd = -1;
    return st;
  }
  *size = (uint64_t)sb.st_size;
  return FITCL_OK;
}
