/* Data sources: the interface the solver reads chunks through.  Each reader
 * (io/source_*.c) fills the ops table; source.c holds the chunk validation,
 * the double-buffered chunk storage and the public entry points that work on
 * any reader. */
#ifndef FITCL_NLSQ_SOURCE_H
#define FITCL_NLSQ_SOURCE_H

#include <sys/stat.h>

#include "core/ranks.h"
#include "core/xsum.h"
#include "fitcl.h"

#define FITCL__SRC_MAXCOLS (FITCL_NLSQ_MAX_VARS + 2)

/* A file a source reads, as it was when opened: a fit reads every pass from
 * the same bytes, so a file replaced, grown, shrunk or rewritten during the
 * fit is an error, reported by name, rather than a different fit (or, for
 * a mapping, SIGBUS). */
typedef struct fitcl__src_file {
  char *path;
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
} fitcl__src_file;

/* What the first (validating) pass learns about the data besides their
 * validity: the weighted moments of y about its first value (for R²) and
 * the range of each x column.  Each chunk forms its moments in row order
 * and adds them exactly (`acc`, core/xsum.h), so the ranks of a shared fit
 * that each saw their own chunks add up to the one process's numbers;
 * sw, swy, swy2 are the rounded sums once fitcl__stats_finish ran. */
typedef struct fitcl__data_stats {
  int started;
  double y0, sw, swy, swy2;
  double xmin[FITCL_NLSQ_MAX_VARS], xmax[FITCL_NLSQ_MAX_VARS];
  fitcl__xsum acc[3]; /* sw, swy, swy2 */
} fitcl__data_stats;

typedef struct fitcl__source_ops {
  /* Starts a pass at row 0. */
  fitcl_status (*rewind)(fitcl_source *src);
  /* Produces up to src->chunk rows starting at src->row into cols[0..ncols)
   * (x columns, then y, then sigma when present).  A reader either points
   * cols[k] into memory it owns (valid until the call after next) or fills
   * the buffer src->buf[src->flip][k].  *n = 0 at the end. */
  fitcl_status (*read)(fitcl_source *src, const double **cols, size_t *n);
  void (*destroy)(fitcl_source *src);
  /* Optional.  Collective, at the start of a fit's first pass over ranks:
   * a reader that cannot seek by row (text) agrees with the other ranks on
   * who reads which rows, and sets own_range (fitcl__source_share). */
  fitcl_status (*share)(fitcl_source *src, fitcl__ranks *r);
} fitcl__source_ops;

struct fitcl_source {
  fitcl_context *ctx;
  const fitcl__source_ops *ops;
  void *impl;
  char *path;
  char *colname[FITCL__SRC_MAXCOLS]; /* for messages */
  size_t nx;
  int has_sigma;
  int ncols;                         /* nx + 1 + has_sigma */
  size_t chunk;
  uint64_t points;                   /* 0 when not yet known */
  uint64_t row;                      /* next row of the current pass */
  int validated;                     /* a full pass checked every value */
  int passes;                        /* passes started */
  int flip;                          /* which buffer set the next chunk uses */
  double *buf[2][FITCL__SRC_MAXCOLS];
  const double *xs[2][FITCL_NLSQ_MAX_VARS];
  int self_checked;                  /* the reader validates values itself (text) */
  fitcl__src_file files[FITCL__SRC_MAXCOLS]; /* what it reads (fitcl__source_watch) */
  int nfiles;
  fitcl__data_stats stats;           /* of the first pass */
  /* Data brought into the kernel's layout (one contiguous float64 array per
   * column) by the first pass, when they fit the memory budget; later
   * passes hand out slices of it and never call the reader again.  A
   * reader that keeps its own copy (CSV) sets no_cache. */
  double *cache[FITCL__SRC_MAXCOLS];
  int cache_state;                   /* 0 none, 1 filling (first pass), 2 complete */
  int no_cache;                      /* the reader's own layout is already the kernel's */
  size_t cache_budget;               /* bytes the cache may take */
  /* The reader reads any row range at any time (read() starts at src->row
   * whatever came before): chunks can be skipped without reading them. */
  int seekable;
  /* Skipping: a chunk read only to pass over it (fitcl__source_skip) is
   * validated but left out of the statistics. */
  int stats_off;
  /* Over ranks, set by ops->share: this rank accumulates the contiguous
   * chunks [own_lo, own_hi) (otherwise chunk k goes to rank k mod size). */
  int own_range;
  uint64_t own_lo, own_hi;
  int shared; /* ops->share ran (once: a later fit keeps what it decided) */
};

/* Records a file the source reads (st: its fstat when opened).  Checked
 * again at the start and the end of every pass that reads the files (not
 * of the passes served from the copy above). */
fitcl_status fitcl__source_watch(fitcl_source *src, const char *path, const struct stat *st);
/* FITCL_ERR_IO naming the first watched file that is no longer what it was
 * ("data.npy changed during the fit (1000000 bytes, was 64000000)"). */
fitcl_status fitcl__source_check_files(fitcl_source *src);
/* The message for a read that found a file shorter than at open. */
fitcl_status fitcl__source_changed(fitcl_source *src, const char *path);
/* 1 when writing `path` would overwrite one of the source's files. */
int fitcl__source_reads(const fitcl_source *src, const char *path);

/* Whether a source of `points` rows would be kept in memory. */
int fitcl__source_fits_memory(const fitcl_source *src, uint64_t points);

/* Allocates the common part (buffers of `chunk` doubles for each column). */
fitcl_status fitcl__source_alloc(fitcl_context *ctx, const fitcl_source_options *opt,
                                 size_t default_chunk, fitcl_source **out);

/* Checks that every value of a chunk is finite and sigma > 0, and adds the
 * chunk to stats (may be NULL) in the same sweep over each column.  row0
 * is the index of the chunk's first point; names label the columns (x...,
 * y, sigma).  The error names `where` and the row. */
fitcl_status fitcl__check_chunk(fitcl_context *ctx, const char *where, const char *const *names,
                                const double *const *cols, int ncols, int has_sigma, size_t n,
                                uint64_t row0, fitcl__data_stats *stats);
/* The next chunk of a shared pass that another rank accumulates: its row
 * count in chunk->n, the rows passed over.  A seekable source reads nothing
 * (chunk->x, y, sigma NULL) unless want_data; any other reads and validates
 * the chunk, as fitcl_source_next does.  Either way the chunk stays out of
 * the statistics, which then hold this rank's chunks only (see
 * fitcl__stats_share).  The end of the data is fitcl_source_next's. */
fitcl_status fitcl__source_skip(fitcl_source *src, fitcl_chunk *chunk, int want_data);
/* Collective, before a shared fit's first pass: lets the reader decide
 * which chunks each rank reads (ops->share). */
fitcl_status fitcl__source_share(fitcl_source *src, fitcl__ranks *r);
/* Whether chunk `index` of a pass shared over r is this rank's. */
int fitcl__source_mine(const fitcl_source *src, const fitcl__ranks *r, uint64_t index);
/* After a shared first pass in which each rank's statistics hold its own
 * chunks (begun at the data's first row): collective; every rank ends with
 * the statistics of all the data, the one process's bits.  *fp, this
 * rank's part of the data fingerprint (nlsq/checkpoint.h: a sum over the
 * values), becomes the sum of every rank's. */
fitcl_status fitcl__stats_share(fitcl_context *ctx, fitcl__data_stats *stats, size_t nx,
                               fitcl__ranks *r, uint64_t *fp);
/* Begins stats at a row (x columns, y): y0 and the x ranges start there. */
void fitcl__stats_start(fitcl__data_stats *stats, const double *const *x, size_t nx,
                        const double *y);
/* Rounds the moments' exact sums into sw, swy, swy2. */
void fitcl__stats_finish(fitcl__data_stats *stats);
/* Adds a chunk (nx x columns, y, sigma or NULL) to stats without checks. */
void fitcl__stats_add(fitcl__data_stats *stats, const double *const *x, size_t nx,
                      const double *y, const double *sigma, size_t n);

#endif
