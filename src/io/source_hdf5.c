/* HDF5 datasets (XPCS data are HDF5), read in chunked hyperslabs converted
 * to double by the library, so only one chunk per column is ever in memory.
 * Built only when the HDF5 header was found (FITCL_HAVE_HDF5).
 *
 * libhdf5 is loaded with dlopen the first time an HDF5 source is opened, not
 * linked: mapping it and its forty-odd dependencies (curl, gnutls, krb5,
 * ldap...) cost about half of every fitcl process start, although only
 * curve-fit on an HDF5 file ever uses it.  Only the header is needed at build
 * time, for the types and constants. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/util.h"
#include "fitcl_config.h"
#include "io/array.h"
#include "io/source_readers.h"

#if FITCL_HAVE_HDF5
#include <dlfcn.h>
#include <hdf5.h>
#include <pthread.h>

/* Several of the header's constants (H5F_ACC_RDONLY among them) expand to
 * direct calls of H5check_version() and H5open(), which would make this file
 * link against libhdf5 again.  H5open() is called through the table below
 * before any of them is used, and the version is checked once after loading,
 * so the two macros are emptied and the constants become plain numbers. */
#undef H5CHECK
#define H5CHECK
#undef H5OPEN
#define H5OPEN

/* The entry points used here, resolved once from the loaded library. */
static struct {
  herr_t (*open)(void);
  herr_t (*get_libversion)(unsigned *, unsigned *, unsigned *);
  hid_t (*fopen)(const char *, unsigned, hid_t);
  herr_t (*fclose)(hid_t);
  hid_t (*dopen2)(hid_t, const char *, hid_t);
  herr_t (*dclose)(hid_t);
  hid_t (*dget_space)(hid_t);
  hid_t (*dget_type)(hid_t);
  herr_t (*dread)(hid_t, hid_t, hid_t, hid_t, hid_t, void *);
  herr_t (*eset_auto2)(hid_t, H5E_auto2_t, void *);
  htri_t (*lexists)(hid_t, const char *, hid_t);
  hid_t (*screate_simple)(int, const hsize_t *, const hsize_t *);
  int (*sget_simple_extent_dims)(hid_t, hsize_t *, hsize_t *);
  int (*sget_simple_extent_ndims)(hid_t);
  herr_t (*sselect_hyperslab)(hid_t, H5S_seloper_t, const hsize_t *, const hsize_t *,
                              const hsize_t *, const hsize_t *);
  herr_t (*sclose)(hid_t);
  herr_t (*tclose)(hid_t);
  H5T_class_t (*tget_class)(hid_t);
  /* The library's own H5T_NATIVE_DOUBLE is "(H5open(), H5T_NATIVE_DOUBLE_g)":
   * the id is only valid after H5open(), so the variable is read through this
   * pointer each time, after calling open. */
  const hid_t *native_double;
} h5;

static pthread_once_t h5_once = PTHREAD_ONCE_INIT;
static int h5_loaded;
static char h5_why[512];

/* A symbol address cannot be assigned to a function pointer in ISO C; the
 * memcpy is the portable spelling of the cast POSIX guarantees to work. */
#define H5_SYM(field, name)                                      \
  do {                                                           \
    void *p_ = dlsym(lib, name);                                 \
    if (!p_) {                                                   \
      snprintf(h5_why, sizeof h5_why, "%s has no %s", so, name); \
      return;                                                    \
    }                                                            \
    memcpy(&h5.field, &p_, sizeof p_);                           \
  } while (0)

static void h5_load(void) {
  /* The SONAME recorded at configure time comes first: it is the library the
   * header belongs to.  The others cover a library rebuilt or installed
   * differently; the version check below rejects an incompatible one. */
  static const char *const names[] = {FITCL_HDF5_SONAME, "libhdf5_serial.so.103",
                                      "libhdf5.so.103", "libhdf5_serial.so", "libhdf5.so"};
  void *lib = NULL;
  const char *so = NULL;
  char first_err[256] = "";
  for (size_t i = 0; i < sizeof names / sizeof names[0] && !lib; ++i) {
    if (!names[i][0]) continue;
    so = names[i];
    lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    /* The first failure names the library fitcl was built against, which is
     * the useful one to report. */
    if (!lib && !first_err[0]) {
      const char *e = dlerror();
      fitcl__strlcpy(first_err, e ? e : so, sizeof first_err);
    }
  }
  if (!lib) {
    snprintf(h5_why, sizeof h5_why, "dlopen failed: %s", first_err);
    return;
  }
  /* The handle is never closed: libhdf5 registers an atexit handler and keeps
   * ids alive for the life of the process, so unloading it is unsafe. */
  H5_SYM(open, "H5open");
  H5_SYM(get_libversion, "H5get_libversion");
  H5_SYM(fopen, "H5Fopen");
  H5_SYM(fclose, "H5Fclose");
  H5_SYM(dopen2, "H5Dopen2");
  H5_SYM(dclose, "H5Dclose");
  H5_SYM(dget_space, "H5Dget_space");
  H5_SYM(dget_type, "H5Dget_type");
  H5_SYM(dread, "H5Dread");
  H5_SYM(eset_auto2, "H5Eset_auto2");
  H5_SYM(lexists, "H5Lexists");
  H5_SYM(screate_simple, "H5Screate_simple");
  H5_SYM(sget_simple_extent_dims, "H5Sget_simple_extent_dims");
  H5_SYM(sget_simple_extent_ndims, "H5Sget_simple_extent_ndims");
  H5_SYM(sselect_hyperslab, "H5Sselect_hyperslab");
  H5_SYM(sclose, "H5Sclose");
  H5_SYM(tclose, "H5Tclose");
  H5_SYM(tget_class, "H5Tget_class");
  /* A program that links libhdf5 itself and names H5T_NATIVE_DOUBLE holds its
   * own copy of the variable (a copy relocation), and the library then sets
   * that copy, not its own definition.  The library's references search the
   * global scope first, so this does too: the program's symbols, then the
   * library's. */
  void *nd = NULL, *self = dlopen(NULL, RTLD_NOW | RTLD_LOCAL);
  if (self) nd = dlsym(self, "H5T_NATIVE_DOUBLE_g");
  if (!nd) nd = dlsym(lib, "H5T_NATIVE_DOUBLE_g");
  if (!nd) {
    snprintf(h5_why, sizeof h5_why, "%s has no H5T_NATIVE_DOUBLE_g", so);
    return;
  }
  h5.native_double = nd;
  /* hid_t became 64-bit in 1.10 and the functions above have kept their
   * signatures since, so any 1.x from 1.10 on matches the header's ABI for
   * what is used here.  An older library would misread every id. */
  unsigned maj = 0, min = 0, rel = 0;
  if (h5.open() < 0 || h5.get_libversion(&maj, &min, &rel) < 0) {
    snprintf(h5_why, sizeof h5_why, "%s failed to initialise", so);
    return;
  }
  if (maj != H5_VERS_MAJOR || min < 10) {
    snprintf(h5_why, sizeof h5_why, "%s is HDF5 %u.%u.%u; fitcl was built for %d.%d", so, maj,
             min, rel, H5_VERS_MAJOR, H5_VERS_MINOR);
    return;
  }
  h5_loaded = 1;
}

#undef H5_SYM

typedef struct h5col {
  hid_t dset, space;
  int rank;
  hsize_t col;
} h5col;

typedef struct h5src {
  hid_t file;
  h5col cols[FITCL__SRC_MAXCOLS];
  uint64_t nrows;
} h5src;

static fitcl_status h5_rewind(fitcl_source *src) {
  (void)src;
  return FITCL_OK;
}

static fitcl_status h5_read(fitcl_source *src, const double **cols, size_t *n) {
  h5src *h = src->impl;
  uint64_t r0 = src->row;
  size_t cnt = r0 >= h->nrows ? 0 : (size_t)(h->nrows - r0 < src->chunk ? h->nrows - r0 : src->chunk);
  *n = cnt;
  h5.open();
  const hid_t hnd = *h5.native_double;
  for (int k = 0; k < src->ncols; ++k) {
    double *dst = src->buf[src->flip][k];
    cols[k] = dst;
    if (!cnt) continue;
    h5col *c = &h->cols[k];
    hsize_t start[2] = {r0, c->col}, count[2] = {cnt, 1};
    hsize_t mdim = cnt;
    hid_t mspace = h5.screate_simple(1, &mdim, NULL);
    herr_t e = h5.sselect_hyperslab(c->space, H5S_SELECT_SET, start, NULL, count, NULL);
    if (e >= 0) e = h5.dread(c->dset, hnd, mspace, c->space, H5P_DEFAULT, dst);
    h5.sclose(mspace);
    if (e < 0)
      return fitcl__fail(src->ctx, FITCL_ERR_IO, "%s: reading dataset '%s' at row %llu failed",
                         src->path, src->colname[k], (unsigned long long)r0);
  }
  return FITCL_OK;
}

static void h5_destroy(fitcl_source *src) {
  h5src *h = src->impl;
  if (!h) return;
  for (int k = 0; k < FITCL__SRC_MAXCOLS; ++k) {
    if (h->cols[k].space > 0) h5.sclose(h->cols[k].space);
    if (h->cols[k].dset > 0) h5.dclose(h->cols[k].dset);
  }
  if (h->file > 0) h5.fclose(h->file);
  free(h);
  src->impl = NULL;
}

static const fitcl__source_ops h5_ops = {h5_rewind, h5_read, h5_destroy, NULL};

fitcl_status fitcl__source_open_hdf5(fitcl_source *src, const fitcl_source_options *opt) {
  fitcl_context *ctx = src->ctx;
  pthread_once(&h5_once, h5_load);
  if (!h5_loaded)
    return fitcl__fail(ctx, FITCL_ERR_UNSUPPORTED,
                       "%s: HDF5 input needs libhdf5 (Debian: libhdf5-103-1); %s", opt->path,
                       h5_why);
  h5src *h = calloc(1, sizeof *h);
  if (!h) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  src->impl = h;
  src->ops = &h5_ops;
  /* The library prints its own error stack unless told not to; fitcl never
   * prints. */
  h5.eset_auto2(H5E_DEFAULT, NULL, NULL);
  h->file = h5.fopen(opt->path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (h->file < 0)
    return fitcl__fail(ctx, FITCL_ERR_FILE, "%s: cannot open as HDF5", opt->path);
  for (int k = 0; k < src->ncols; ++k) {
    h5col *c = &h->cols[k];
    char name[1024];
    fitcl__strlcpy(name, src->colname[k], sizeof name);
    char *colon = strrchr(name, ':');
    c->col = 0;
    if (colon) {
      char *end;
      unsigned long long v = strtoull(colon + 1, &end, 10);
      if (end != colon + 1 && !*end) {
        *colon = 0;
        c->col = v;
      }
    }
    if (h5.lexists(h->file, name, H5P_DEFAULT) <= 0 ||
        (c->dset = h5.dopen2(h->file, name, H5P_DEFAULT)) < 0)
      return fitcl__fail(ctx, FITCL_ERR_NAME, "%s: no dataset '%s'; name a dataset path such as "
                         "/entry/data/tau", opt->path, name);
    hid_t type = h5.dget_type(c->dset);
    H5T_class_t cls = h5.tget_class(type);
    h5.tclose(type);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER)
      return fitcl__fail(ctx, FITCL_ERR_DATA, "%s: dataset '%s' is not numeric", opt->path, name);
    c->space = h5.dget_space(c->dset);
    c->rank = h5.sget_simple_extent_ndims(c->space);
    hsize_t dims[2] = {0, 1};
    if (c->rank < 1 || c->rank > 2)
      return fitcl__fail(ctx, FITCL_ERR_DATA, "%s: dataset '%s' has %d dimensions; 1-D or 2-D "
                         "expected", opt->path, name, c->rank);
    h5.sget_simple_extent_dims(c->space, dims, NULL);
    if (c->rank == 1 && c->col != 0)
      return fitcl__fail(ctx, FITCL_ERR_NAME, "%s: dataset '%s' is 1-D; it has no column %llu",
                         opt->path, name, (unsigned long long)c->col);
    if (c->rank == 2 && c->col >= dims[1])
      return fitcl__fail(ctx, FITCL_ERR_NAME, "%s: dataset '%s' has %llu columns; no column %llu",
                         opt->path, name, (unsigned long long)dims[1], (unsigned long long)c->col);
    if (k == 0) h->nrows = dims[0];
    else if (dims[0] != h->nrows)
      return fitcl__fail(ctx, FITCL_ERR_MISMATCH, "%s: dataset '%s' has %llu rows but '%s' has %llu",
                         opt->path, name, (unsigned long long)dims[0], src->colname[0],
                         (unsigned long long)h->nrows);
  }
  src->points = h->nrows;
  src->seekable = 1; /* reads start at src->row */
  return FITCL_OK;
}

fitcl_status fitcl__hdf5_read_array(fitcl_context *ctx, const char *path, const char *dataset,
                                    fitcl__array *out) {
  memset(out, 0, sizeof *out);
  pthread_once(&h5_once, h5_load);
  if (!h5_loaded)
    return fitcl__fail(ctx, FITCL_ERR_UNSUPPORTED,
                       "%s: HDF5 input needs libhdf5 (Debian: libhdf5-103-1); %s", path, h5_why);
  h5.eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t file = h5.fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), dset = -1, space = -1;
  if (file < 0) return fitcl__fail(ctx, FITCL_ERR_FILE, "%s: cannot open as HDF5", path);
  fitcl_status st = FITCL_OK;
  if (h5.lexists(file, dataset, H5P_DEFAULT) <= 0 ||
      (dset = h5.dopen2(file, dataset, H5P_DEFAULT)) < 0) {
    st = fitcl__fail(ctx, FITCL_ERR_NAME, "%s: no dataset '%s'; name a dataset path such as "
                     "/xpcs/g2", path, dataset);
    goto done;
  }
  hid_t type = h5.dget_type(dset);
  H5T_class_t cls = h5.tget_class(type);
  h5.tclose(type);
  if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
    st = fitcl__fail(ctx, FITCL_ERR_DATA, "%s: dataset '%s' is not numeric", path, dataset);
    goto done;
  }
  space = h5.dget_space(dset);
  int rank = h5.sget_simple_extent_ndims(space);
  hsize_t dims[FITCL__ARRAY_MAXDIM] = {0, 0, 0};
  if (rank < 1 || rank > 2) {
    st = fitcl__fail(ctx, FITCL_ERR_DATA, "%s: dataset '%s' has %d dimensions; 1-D or 2-D "
                     "expected", path, dataset, rank);
    goto done;
  }
  h5.sget_simple_extent_dims(space, dims, NULL);
  size_t total = 1;
  out->ndim = rank;
  for (int k = rank - 1; k >= 0; --k) {
    /* A dataset's dims are metadata (a chunked one may claim more than its
     * file holds): a product past what memory can address is refused
     * before anything is allocated. */
    if (dims[k] && total > SIZE_MAX / sizeof(double) / dims[k]) {
      st = fitcl__fail(ctx, FITCL_ERR_SIZE, "%s: dataset '%s' is too large for this machine",
                       path, dataset);
      goto done;
    }
    out->dims[k] = (size_t)dims[k];
    out->strides[k] = total;
    total *= (size_t)dims[k];
  }
  h5.open();
  out->data = malloc((total ? total : 1) * sizeof(double));
  if (!out->data) {
    st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "%s: out of memory for %zu values", path, total);
    goto done;
  }
  if (total && h5.dread(dset, *h5.native_double, H5S_ALL, H5S_ALL, H5P_DEFAULT, out->data) < 0)
    st = fitcl__fail(ctx, FITCL_ERR_IO, "%s: reading dataset '%s' failed", path, dataset);
done:
  if (space >= 0) h5.sclose(space);
  if (dset >= 0) h5.dclose(dset);
  h5.fclose(file);
  if (st != FITCL_OK) fitcl__array_free(out);
  return st;
}

#else

fitcl_status fitcl__hdf5_read_array(fitcl_context *ctx, const char *path, const char *dataset,
                                    fitcl__array *out) {
  (void)dataset;
  memset(out, 0, sizeof *out);
  return fitcl__fail(ctx, FITCL_ERR_UNSUPPORTED,
                     "%s: this fitcl was built without HDF5; convert the data to .npy", path);
}

fitcl_status fitcl__source_open_hdf5(fitcl_source *src, const fitcl_source_options *opt) {
  return fitcl__fail(src->ctx, FITCL_ERR_UNSUPPORTED,
                     "%s: this fitcl was built without HDF5; convert the data to .npy or CSV",
                     opt->path);
}

#endif
