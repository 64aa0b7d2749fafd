/* Safe outputs: the one way fitcl writes a file (the CLI's outputs, the
 * Rtab writer, curve-fit checkpoints, and every output added later).
 * Internal.
 *
 *   what is at the path        what happens
 *   nothing, a regular file    a temporary file in the same directory is
 *                              written, fsync'ed and renamed over the path on
 *                              commit: readers see the old file or the new
 *                              one, never half of one (an existing file's
 *                              permission bits are kept)
 *   a symlink                  followed: the file it points to is replaced
 *                              as above, the link stays a link
 *   a FIFO, a character device written in place (a pipe's reader, /dev/null,
 *                              /dev/full get the bytes; the node stays)
 *   anything else              refused (directory, socket, block device)
 *
 * Every write, fsync, close and rename error is reported with the OS error
 * ("out.tsv: write failed: No space left on device");
 * abort, or a commit that fails, removes the temporary file, so a failed
 * command leaves no partial output (bytes already written in place to a
 * FIFO or device cannot be taken back).
 *
 * Use:
 *   fitcl__outfile o;
 *   if (fitcl__out_open(&o, path, 0, err, errlen)) return ...;      // nothing written yet
 *   fitcl__out_write(&o, text, len);  ...                           // buffered; errors stick
 *   st = fitcl__out_commit(&o, err, errlen);                        // or fitcl__out_abort(&o)
 *
 * Several outputs of one command are opened first, written, then committed
 * together, so a failure in any leaves none of them.  Messages are one line,
 * "PATH: what: OS error", written to err. */
#ifndef FITCL_CORE_OUTFILE_H
#define FITCL_CORE_OUTFILE_H

#include <stddef.h>
#include <sys/types.h>

#include "fitcl.h"

enum {
  /* Only a regular file (or a new one) will do: refuse FIFOs and devices
   * (a checkpoint must be a file it can be resumed from). */
  FITCL__OUT_REGULAR_ONLY = 1,
  /* "-" is standard output (fd 1, written in place, left open).  The
   * caller flushes its stdio stdout first.  The library never passes it. */
  FITCL__OUT_DASH_IS_STDOUT = 2
};

typedef struct fitcl__outfile {
  int fd;             /* -1 when closed */
  int in_place;       /* writing straight to a FIFO, a device or stdout */
  int is_stdout;
  char *path;         /* as given, for messages */
  char *target;       /* the file replaced on commit (symlinks followed) */
  char *tmp;          /* the temporary file, NULL when in place */
  char *buf;          /* pending bytes */
  size_t len, cap;
  int err;            /* errno of the first failed write, sticky */
} fitcl__outfile;

/* Prepares an output.  Fails (nothing created) with FITCL_ERR_FILE when the
 * path cannot be written (missing directory, no permission, a directory, a
 * socket...), FITCL_ERR_NOMEM. */
fitcl_status fitcl__out_open(fitcl__outfile *o, const char *path, unsigned flags, char *err,
                             size_t errlen);
/* Appends bytes.  Errors are kept and reported by commit. */
void fitcl__out_write(fitcl__outfile *o, const void *data, size_t len);
void fitcl__out_printf(fitcl__outfile *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Writes what is pending, fsyncs, closes and renames into place.  Returns
 * FITCL_ERR_IO ("PATH: write failed: No space left on device") when any
 * step failed, after removing the temporary file.  Frees o either way. */
fitcl_status fitcl__out_commit(fitcl__outfile *o, char *err, size_t errlen);
/* The commit in two halves, for several outputs committed together: close
 * writes, syncs and closes (on failure: ERR_IO, temporary file removed, o
 * freed); publish renames (and closes first if needed), then frees o.
 * Closing every output before publishing any leaves only a rename, which
 * does not fail for want of space, between a command and its outputs. */
fitcl_status fitcl__out_close(fitcl__outfile *o, char *err, size_t errlen);
fitcl_status fitcl__out_publish(fitcl__outfile *o, char *err, size_t errlen);
/* Drops the output: removes the temporary file.  Accepts an output that
 * was closed or already freed (abort after a failed close is harmless). */
void fitcl__out_abort(fitcl__outfile *o);

/* Whole-file convenience: open, write, commit. */
fitcl_status fitcl__out_file(const char *path, unsigned flags, const void *data, size_t len,
                             char *err, size_t errlen);

/* 1 when writing `out` would overwrite `in`: the same file (device and
 * inode, through any symlinks or hard links), or, when out does not exist
 * yet, the same resolved path.  0 otherwise (including when in is absent). */
int fitcl__out_same_file(const char *out, const char *in);

/* Refuses an output that is one of the inputs (NULL entries skipped):
 * FITCL_ERR_ARG with "OUT is the same file as the WHAT INPUT; ...". */
fitcl_status fitcl__out_check_inputs(const char *out, const char *out_what,
                                     const char *const *inputs, const char *const *in_what,
                                     size_t n, char *err, size_t errlen);

#endif
