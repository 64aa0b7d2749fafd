/* Safe outputs (core/outfile.h): temporary file + rename for regular files,
 * in place for FIFOs and devices, symlinks followed, every error reported. */
#include "core/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/ioerr.h"
#include "core/util.h"

#define OUT_BUFFER (1u << 16)
#define MAX_LINK_HOPS 40

/* The directory part of a path ("." when it has none), malloc'ed. */
static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return fitcl__strdup(".");
  if (slash == path) return fitcl__strdup("/");
  size_t n = (size_t)(slash - path);
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, path, n);
    d[n] = '\0';
  }
  return d;
}

static const char *base_of(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* Follows symlinks by hand to the path a write through `path` reaches, so
 * the temporary file goes next to the real file and the rename replaces it
 * rather than the link.  The result may not exist (a dangling link names
 * the file to create).  NULL with errno set on failure (ELOOP, ENOMEM...). */
static char *follow_links(const char *path) {
  char *cur = fitcl__strdup(path);
  for (int hop = 0; cur && hop < MAX_LINK_HOPS; ++hop) {
    struct stat st;
    if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) return cur;
    char link[4096];
    ssize_t n = readlink(cur, link, sizeof link - 1);
    if (n < 0) break;
    link[n] = '\0';
    char *next;
    if (link[0] == '/' || !strchr(cur, '/')) {
      next = fitcl__strdup(link);
    } else {
      char *d = dir_of(cur);
      size_t len = d ? strlen(d) + 1 + (size_t)n + 1 : 0;
      next = d ? malloc(len) : NULL;
      if (next) snprintf(next, len, "%s/%s", d, link);
      free(d);
    }
    free(cur);
    cur = next;
    if (!cur) errno = ENOMEM;
  }
  if (cur) errno = ELOOP;
  free(cur);
  return NULL;
}

/* Creates a new file with a unique name next to target: ".NAME.tmpXXXXXX".
 * O_EXCL with mode 0666 lets the process umask decide the permissions, as
 * for any new file (no umask() juggling, which would race other threads). */
static int create_temp(const char *target, char **tmp_out) {
  char *dir = dir_of(target);
  if (!dir) return -1;
  const char *base = base_of(target);
  size_t blen = strlen(base);
  if (blen > 200) blen = 200; /* room for the suffix within NAME_MAX */
  size_t cap = strlen(dir) + blen + 32;
  char *tmp = malloc(cap);
  if (!tmp) {
    free(dir);
    errno = ENOMEM;
    return -1;
  }
  static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  unsigned long long seed = (unsigned long long)ts.tv_nsec ^ ((unsigned long long)getpid() << 32) ^
                            (unsigned long long)(uintptr_t)tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    char suffix[7];
    for (int i = 0; i < 6; ++i) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      suffix[i] = digits[(seed >> 33) % 36];
    }
    suffix[6] = '\0';
    snprintf(tmp, cap, "%s/.%.*s.tmp%s", dir, (int)blen, base, suffix);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  free(dir);
  if (fd < 0) {
    int e = errno;
    free(tmp);
    errno = e;
    return -1;
  }
  *tmp_out = tmp;
  return fd;
}

static const char *kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

static void out_free(fitcl__outfile *o) {
  free(o->path);
  free(o->target);
  free(o->tmp);
  free(o->buf);
  o->path = o->target = o->tmp = o->buf = NULL;
  o->len = o->cap = 0;
  o->fd = -1;
}

fitcl_status fitcl__out_open(fitcl__outfile *o, const char *path, unsigned flags, char *err,
                             size_t errlen) {
  memset(o, 0, sizeof *o);
  o->fd = -1;
  if (!path || !*path) return fitcl__ioerr(err, errlen, FITCL_ERR_FILE, "empty output path");
  o->path = fitcl__strdup(path);
  o->buf = malloc(OUT_BUFFER);
  o->cap = OUT_BUFFER;
  if (!o->path || !o->buf) {
    out_free(o);
    return fitcl__ioerr(err, errlen, FITCL_ERR_NOMEM, "%s: out of memory", path);
  }
  if ((flags & FITCL__OUT_DASH_IS_STDOUT) && strcmp(path, "-") == 0) {
    o->fd = STDOUT_FILENO;
    o->in_place = o->is_stdout = 1;
    return FITCL_OK;
  }
  struct stat st;
  int exists = stat(path, &st) == 0;
  if (!exists && errno != ENOENT) {
    int e = errno;
    out_free(o);
    return fitcl__ioerr(err, errlen, FITCL_ERR_FILE, "%s: cannot write: %s", path, strerror(e));
  }
  if (exists && !S_ISREG(st.st_mode)) {
    int writable_node = S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode);
    if (!writable_node || (flags & FITCL__OUT_REGULAR_ONLY)) {
      out_free(o);
      return fitcl__ioerr(err, errlen, FITCL_ERR_FILE, "%s: is %s; %s", path,
                          kind_of(st.st_mode),
                          writable_node ? "this output must be a regular file"
                                        : "give the path of a file to write");
    }
    /* In place: the kernel follows the links, and a FIFO's open waits for
     * its reader as a shell redirection does. */
    o->fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    struct stat now;
    if (o->fd < 0 || fstat(o->fd, &now) != 0 || !(S_ISFIFO(now.st_mode) || S_ISCHR(now.st_mode))) {
      int e = o->fd < 0 ? errno : EAGAIN;
      if (o->fd >= 0) close(o->fd);
      out_free(o);
      return fitcl__ioerr(err, errlen, FITCL_ERR_FILE, "%s: cannot open for writing: %s", path,
                          e == EAGAIN ? "it changed while being opened" : strerror(e));
    }
    o->in_place = 1;
    return FITCL_OK;
  }
  o->target = follow_links(path);
  if (!o->target) {
    int e = errno;
    out_free(o);
    return fitcl__ioerr(err, errlen, FITCL_ERR_FILE, "%s: cannot resolve: %s", path, strerror(e));
  }
  o->fd = create_temp(o->target, &o->tmp);
  if (o->fd < 0) {
    int e = errno;
    char *dir = dir_of(o->target);
    fitcl_status st2 = fitcl__ioerr(err, errlen, FITCL_ERR_FILE,
                                    "%s: cannot create a file in %s: %s", path,
                                    dir ? dir : "its directory", strerror(e));
    free(dir);
    out_free(o);
    return st2;
  }
  if (exists) {
    /* The replacement keeps the old file's permissions (and, for root,
     * its owner), as an editor saving the file would. */
    (void)fchmod(o->fd, st.st_mode & 07777);
    if (geteuid() == 0) (void)fchown(o->fd, st.st_uid, st.st_gid);
  }
  return FITCL_OK;
}

static void flush_buffer(fitcl__outfile *o) {
  size_t off = 0;
  while (!o->err && off < o->len) {
    ssize_t w = write(o->fd, o->buf + off, o->len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      o->err = w < 0 ? errno : EIO;
      break;
    }
    off += (size_t)w;
  }
  o->len = 0;
}

void fitcl__out_write(fitcl__outfile *o, const void *data, size_t len) {
  if (o->fd < 0 || o->err) return;
  const char *p = data;
  while (len) {
    if (o->len == o->cap) flush_buffer(o);
    if (o->err) return;
    size_t n = o->cap - o->len < len ? o->cap - o->len : len;
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    p += n;
    len -= n;
  }
}

void fitcl__out_printf(fitcl__outfile *o, const char *fmt, ...) {
  char small[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) {
    if (!o->err) o->err = EINVAL;
    return;
  }
  if ((size_t)n < sizeof small) {
    fitcl__out_write(o, small, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (!big) {
    if (!o->err) o->err = ENOMEM;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  fitcl__out_write(o, big, (size_t)n);
  free(big);
}

/* After a rename the directory entry is what must reach the disk. */
static void sync_dir_of(const char *target) {
  char *dir = dir_of(target);
  if (!dir) return;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  free(dir);
}

static fitcl_status out_failed(fitcl__outfile *o, const char *step, char *err, size_t errlen) {
  if (o->fd >= 0 && !o->is_stdout) close(o->fd);
  o->fd = -1;
  if (o->tmp) unlink(o->tmp);
  fitcl_status st = fitcl__ioerr(err, errlen, FITCL_ERR_IO, "%s: %s failed: %s",
                                 o->is_stdout ? "stdout" : o->path, step, strerror(o->err));
  out_free(o);
  return st;
}

fitcl_status fitcl__out_close(fitcl__outfile *o, char *err, size_t errlen) {
  if (o->fd < 0) return FITCL_OK; /* closed already */
  flush_buffer(o);
  if (o->err) return out_failed(o, "write", err, errlen);
  /* A file replaces the old one only once all of it is on the disk. */
  if (!o->in_place && fsync(o->fd) != 0) {
    o->err = errno;
    return out_failed(o, "sync", err, errlen);
  }
  if (!o->is_stdout && close(o->fd) != 0) {
    o->err = errno;
    o->fd = -1;
    return out_failed(o, "close", err, errlen);
  }
  o->fd = -1;
  return FITCL_OK;
}

fitcl_status fitcl__out_publish(fitcl__outfile *o, char *err, size_t errlen) {
  if (o->fd >= 0) {
    fitcl_status st = fitcl__out_close(o, err, errlen);
    if (st != FITCL_OK) return st;
  }
  if (o->tmp) {
    if (rename(o->tmp, o->target) != 0) {
      o->err = errno;
      return out_failed(o, "rename", err, errlen);
    }
    sync_dir_of(o->target);
  }
  out_free(o);
  return FITCL_OK;
}

fitcl_status fitcl__out_commit(fitcl__outfile *o, char *err, size_t errlen) {
  return fitcl__out_publish(o, err, errlen);
}

void fitcl__out_abort(fitcl__outfile *o) {
  /* Pending bytes are dropped; stdout stays open for the caller. */
  if (!o->is_stdout && o->fd >= 0) close(o->fd);
  if (o->tmp) unlink(o->tmp);
  out_free(o);
}

fitcl_status fitcl__out_file(const char *path, unsigned flags, const void *data, size_t len,
                             char *err, size_t errlen) {
  fitcl__outfile o;
  fitcl_status st = fitcl__out_open(&o, path, flags, err, errlen);
  if (st != FITCL_OK) return st;
  fitcl__out_write(&o, data, len);
  return fitcl__out_commit(&o, err, errlen);
}

/* The canonical path a write to `path` would create: the directory
 * resolved by realpath, the name as it is. */
static char *canonical_target(const char *path) {
  char *t = follow_links(path);
  if (!t) return NULL;
  char *d = dir_of(t), *rd = d ? realpath(d, NULL) : NULL;
  char *out = NULL;
  if (rd) {
    size_t n = strlen(rd) + strlen(base_of(t)) + 2;
    out = malloc(n);
    if (out) snprintf(out, n, "%s/%s", strcmp(rd, "/") ? rd : "", base_of(t));
  }
  free(rd);
  free(d);
  free(t);
  return out;
}

int fitcl__out_same_file(const char *out, const char *in) {
  if (!out || !in || !strcmp(out, "-") || !strcmp(in, "-")) return 0;
  struct stat so, si;
  int have_out = stat(out, &so) == 0, have_in = stat(in, &si) == 0;
  if (have_out && have_in) return so.st_dev == si.st_dev && so.st_ino == si.st_ino;
  if (have_out != have_in) return 0;
  /* Neither exists yet (two outputs): the same name in the same place. */
  char *a = canonical_target(out), *b = canonical_target(in);
  int same = a && b && strcmp(a, b) == 0;
  free(a);
  free(b);
  return same;
}

fitcl_status fitcl__out_check_inputs(const char *out, const char *out_what,
                                     const char *const *inputs, const char *const *in_what,
                                     size_t n, char *err, size_t errlen) {
  for (size_t i = 0; i < n; ++i) {
    if (!inputs[i] || !fitcl__out_same_file(out, inputs[i])) continue;
    return fitcl__ioerr(err, errlen, FITCL_ERR_ARG,
                        "%s %s is the same file as %s %s; writing it would destroy that input "
                        "(give another path)",
                        out_what, out, in_what[i], inputs[i]);
  }
  return FITCL_OK;
}
