/* The robustness harness's sandbox and runner (box.h). */
#define _XOPEN_SOURCE 700
#include "box.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "test_util.h"

/* ---- snapshots ---------------------------------------------------------- */

typedef struct lines {
  char **v;
  size_t n, cap;
  size_t skip; /* length of the root prefix */
} lines;

static lines *g_lines;

static void add_line(lines *l, char *s) {
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 64;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
  }
  l->v[l->n++] = s;
}

static void hash_file(const char *path, char hex[65]) {
  FILE *f = fopen(path, "rb");
  fitcl__buf b = {0};
  if (f) {
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) fitcl__buf_append(&b, chunk, got);
    fclose(f);
  }
  fitcl__sha256_hex(b.data ? b.data : "", b.len, hex);
  fitcl__buf_free(&b);
}

static int snap_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)flag;
  (void)ftw;
  char extra[4200] = "";
  if (S_ISLNK(st->st_mode)) {
    char link[4096];
    ssize_t n = readlink(path, link, sizeof link - 1);
    link[n > 0 ? n : 0] = '\0';
    snprintf(extra, sizeof extra, " -> %s", link);
  } else if (S_ISREG(st->st_mode)) {
    char hex[65];
    hash_file(path, hex);
    snprintf(extra, sizeof extra, " sha256 %s", hex);
  } else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
    snprintf(extra, sizeof extra, " rdev %lx", (unsigned long)st->st_rdev);
  }
  /* Directories: what they hold is listed line by line; their own times
   * change with every temporary file created in them, which counts too. */
  fitcl__buf line = {0};
  fitcl__buf_printf(&line, "%s mode %o size %lld mtime %lld.%09ld ino %llu%s",
                    path + g_lines->skip, (unsigned)st->st_mode, (long long)st->st_size,
                    (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
                    (unsigned long long)st->st_ino, extra);
  if (line.oom) return 1;
  add_line(g_lines, line.data);
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void snapshot(const char *dir, box_snapshot *s) {
  lines l = {0};
  l.skip = strlen(dir);
  g_lines = &l;
  nftw(dir, snap_cb, 16, FTW_PHYS);
  g_lines = NULL;
  qsort(l.v, l.n, sizeof *l.v, cmp_str);
  fitcl__buf b = {0};
  for (size_t i = 0; i < l.n; ++i) {
    fitcl__buf_printf(&b, "%s\n", l.v[i]);
    free(l.v[i]);
  }
  free(l.v);
  free(s->text);
  s->text = b.data ? b.data : strdup("");
}

/* The first line that differs, for the failure message. */
static void first_difference(const char *a, const char *b, char *out, size_t size) {
  while (*a && *b) {
    const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
    size_t la = ea ? (size_t)(ea - a) : strlen(a), lb = eb ? (size_t)(eb - b) : strlen(b);
    if (la != lb || memcmp(a, b, la) != 0) {
      snprintf(out, size, "was '%.*s', now '%.*s'", (int)la, a, (int)lb, b);
      return;
    }
    a += la + (ea != NULL);
    b += lb + (eb != NULL);
  }
  snprintf(out, size, "was '%.200s', now '%.200s'", *a ? a : "(nothing more)",
           *b ? b : "(nothing more)");
}

static dev_t rdev_of(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0 || !S_ISCHR(st.st_mode)) return (dev_t)-1;
  return st.st_rdev;
}

void box_check(box *b, const char *what) {
  box_snapshot now_in = {0}, now_out = {0};
  snapshot(b->in, &now_in);
  snapshot(b->outside, &now_out);
  char diff[1024];
  if (strcmp(now_in.text, b->in_snap.text) != 0) {
    first_difference(b->in_snap.text, now_in.text, diff, sizeof diff);
    cr_assert_fail("%s: an input was modified: %s", what, diff);
  }
  if (strcmp(now_out.text, b->outside_snap.text) != 0) {
    first_difference(b->outside_snap.text, now_out.text, diff, sizeof diff);
    cr_assert_fail("%s: a file outside the test directory was modified: %s", what, diff);
  }
  cr_assert_eq(rdev_of("/dev/null"), b->null_rdev, "%s: /dev/null is no longer a device", what);
  cr_assert_eq(rdev_of("/dev/full"), b->full_rdev, "%s: /dev/full is no longer a device", what);
  free(now_in.text);
  free(now_out.text);
}

void box_resnap(box *b) {
  snapshot(b->in, &b->in_snap);
  snapshot(b->outside, &b->outside_snap);
}

/* ---- the box ------------------------------------------------------------ */

const char *box_path(const box *b, const char *rel) {
  static char buf[8][1200];
  static int next;
  char *p = buf[next++ & 7];
  snprintf(p, sizeof buf[0], "%s/%s", b->root, rel);
  return p;
}

void box_write(box *b, const char *rel, const void *data, size_t len) {
  const char *p = box_path(b, rel);
  FILE *f = fopen(p, "wb");
  cr_assert_not_null(f, "cannot write fixture %s", p);
  cr_assert_eq(fwrite(data, 1, len, f), len);
  cr_assert_eq(fclose(f), 0);
  box_resnap(b);
}

void box_printf(box *b, const char *rel, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  cr_assert_geq(n, 0);
  char *s = malloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  box_write(b, rel, s, (size_t)n);
  free(s);
}

static void copy_file(const char *from, const char *to) {
  FILE *f = fopen(from, "rb"), *g = fopen(to, "wb");
  cr_assert(f && g, "cannot copy %s to %s", from, to);
  char chunk[65536];
  size_t got;
  while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) fwrite(chunk, 1, got, g);
  fclose(f);
  cr_assert_eq(fclose(g), 0);
}

void box_open(box *b) {
  memset(b, 0, sizeof *b);
  char *root = fitcl_test_tmpdir();
  fitcl__strlcpy(b->root, root, sizeof b->root);
  free(root);
  snprintf(b->in, sizeof b->in, "%s/in", b->root);
  snprintf(b->out, sizeof b->out, "%s/out", b->root);
  snprintf(b->outside, sizeof b->outside, "%s/outside", b->root);
  snprintf(b->home, sizeof b->home, "%s/home", b->root);
  const char *dirs[] = {b->in, b->out, b->outside, b->home};
  for (int i = 0; i < 4; ++i) cr_assert_eq(mkdir(dirs[i], 0700), 0);
  char sub[700];
  snprintf(sub, sizeof sub, "%s/tmp", b->home);
  mkdir(sub, 0700);
  snprintf(sub, sizeof sub, "%s/pocl", b->home);
  mkdir(sub, 0700);
  copy_file(FITCL_TEST_SOURCE_DIR "/examples/pangenome50.nwk", box_path(b, "in/t.nwk"));
  copy_file(FITCL_TEST_SOURCE_DIR "/examples/pangenome50.Rtab", box_path(b, "in/m.Rtab"));
  box_printf(b, "outside/precious.txt", "data that no probe may touch\n");
  fitcl__strlcpy(b->device, "cpu", sizeof b->device);
  b->null_rdev = rdev_of("/dev/null");
  b->full_rdev = rdev_of("/dev/full");
  box_resnap(b);
}

static int chmod_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)flag;
  (void)ftw;
  if (S_ISDIR(st->st_mode)) chmod(path, 0700);
  return 0;
}

void box_close(box *b) {
  box_check(b, "at the end");
  nftw(b->root, chmod_cb, 16, FTW_PHYS); /* probes may leave read-only dirs */
  fitcl_test_rmtree(b->root);
  free(b->in_snap.text);
  free(b->outside_snap.text);
}

/* ---- running fitcl ------------------------------------------------------ */

/* pread, not lseek + read: the child may still be writing through a
 * descriptor that shares this file offset. */
static char *slurp(int fd) {
  fitcl__buf b = {0};
  char chunk[65536];
  off_t off = 0;
  ssize_t got;
  while ((got = pread(fd, chunk, sizeof chunk, off)) > 0) {
    fitcl__buf_append(&b, chunk, (size_t)got);
    off += got;
  }
  return b.data ? b.data : strdup("");
}

static void child(const box *b, const box_opts *o, const char *const *argv, int fo, int fe) {
  if (chdir(b->out) != 0) _exit(126);
  int fi = open("/dev/null", O_RDONLY);
  if (fi >= 0) dup2(fi, 0);
  if (o->stdout_fd > 0) dup2(o->stdout_fd, 1);
  else if (o->stdout_to) {
    int fd = open(o->stdout_to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) _exit(126);
    dup2(fd, 1);
  } else {
    dup2(fo, 1);
  }
  dup2(fe, 2);
  /* fitcl gets stdin, stdout and stderr only: nothing of the test runner
   * (its IPC sockets, other probes' files) leaks into it. */
  long maxfd = sysconf(_SC_OPEN_MAX);
  for (long fd = 3; fd < (maxfd > 0 && maxfd < 65536 ? maxfd : 65536); ++fd) close((int)fd);
  char v[1200];
  setenv("HOME", b->home, 1);
  snprintf(v, sizeof v, "%s/.cache", b->home);
  setenv("XDG_CACHE_HOME", v, 1);
  snprintf(v, sizeof v, "%s/tmp", b->home);
  setenv("TMPDIR", v, 1);
  snprintf(v, sizeof v, "%s/fitcl-cache", b->home);
  setenv("FITCL_CACHE_DIR", v, 1);
  snprintf(v, sizeof v, "%s/pocl", b->home);
  setenv("POCL_CACHE_DIR", v, 1);
  setenv("FITCL_DEVICE", b->device, 1);
  setenv("FITCL_THREADS", "2", 1);
  unsetenv("FITCL_LOG");
  for (const char *const *e = o->env; e && *e; ++e) {
    const char *eq = strchr(*e, '=');
    if (!eq) {
      unsetenv(*e);
      continue;
    }
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(eq - *e), *e);
    setenv(name, eq + 1, 1);
  }
  signal(SIGPIPE, o->ignore_sigpipe ? SIG_IGN : SIG_DFL);
  size_t n = 0;
  while (argv[n]) ++n;
  char **a = calloc(n + 2, sizeof *a);
  a[0] = (char *)FITCL_CLI_PATH;
  for (size_t i = 0; i < n; ++i) a[i + 1] = (char *)argv[i];
  execv(FITCL_CLI_PATH, a);
  _exit(127);
}

box_proc box_start(box *b, const box_opts *o_in, const char *const *argv) {
  box_proc p;
  memset(&p, 0, sizeof p);
  if (o_in) p.opts = *o_in;
  /* A hang fails; a sanitized fitcl runs several times slower, and CI's
   * sanitizer leg shares the machine with its other tests. */
#ifdef FITCL_PROBE_SANITIZED
  if (p.opts.timeout <= 0) p.opts.timeout = 600;
#else
  if (p.opts.timeout <= 0) p.opts.timeout = 120;
#endif
  p.argv0 = argv[0];
  p.argv1 = argv[0] ? argv[1] : NULL;
  char to[700], te[700];
  snprintf(to, sizeof to, "%s/tmp/stdout-XXXXXX", b->home);
  snprintf(te, sizeof te, "%s/tmp/stderr-XXXXXX", b->home);
  p.fo = mkstemp(to);
  p.fe = mkstemp(te);
  cr_assert(p.fo >= 0 && p.fe >= 0);
  unlink(to);
  unlink(te);
  p.t0 = fitcl__now();
  p.pid = fork();
  cr_assert_geq(p.pid, 0);
  if (p.pid == 0) child(b, &p.opts, argv, p.fo, p.fe);
  return p;
}

int box_wait(box *b, box_proc *p, box_result *r) {
  int status = 0, signalled = 0;
  for (;;) {
    pid_t w = waitpid(p->pid, &status, WNOHANG);
    if (w == p->pid) break;
    double t = fitcl__now() - p->t0;
    if (p->opts.signal_after_ms && !signalled && t * 1000 >= p->opts.signal_after_ms) {
      kill(p->pid, p->opts.signal);
      signalled = 1;
    }
    if (p->opts.signal_when && !signalled) {
      char *err = slurp(p->fe);
      if (strstr(err, p->opts.signal_when)) {
        kill(p->pid, p->opts.signal);
        signalled = 1;
      }
      free(err);
    }
    if (t > p->opts.timeout) {
      kill(p->pid, SIGKILL);
      waitpid(p->pid, &status, 0);
      cr_assert_fail("fitcl %s ... did not finish in %.0f s", p->argv0, p->opts.timeout);
    }
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
  }
  box_result res = {0};
  res.seconds = fitcl__now() - p->t0;
  res.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  res.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  res.out = slurp(p->fo);
  res.err = slurp(p->fe);
  close(p->fo);
  close(p->fe);
  if (!p->opts.no_check) {
    char what[256];
    snprintf(what, sizeof what, "fitcl %s %s", p->argv0 ? p->argv0 : "",
             p->argv1 ? p->argv1 : "");
    box_check(b, what);
  }
  if (r) *r = res;
  else box_result_free(&res);
  return res.code;
}

int box_run(box *b, box_result *r, const box_opts *o, const char *const *argv) {
  box_proc p = box_start(b, o, argv);
  return box_wait(b, &p, r);
}

void box_result_free(box_result *r) {
  free(r->out);
  free(r->err);
  r->out = r->err = NULL;
}

void box_expect(const box_result *r, int code, const char *err_substr, const char *what) {
  cr_assert_eq(r->signal, 0, "%s: killed by signal %d; stderr: %s", what, r->signal, r->err);
  cr_assert_eq(r->code, code, "%s: exit status %d, expected %d; stderr: %s", what, r->code, code,
               r->err);
  if (!err_substr) return;
  if (!*err_substr) {
    cr_assert_str_empty(r->err, "%s: stderr should be empty: %s", what, r->err);
    return;
  }
  cr_assert_not_null(strstr(r->err, err_substr), "%s: stderr lacks '%s': %s", what, err_substr,
                     r->err);
  /* One line (the error) ends with one newline, and shows no raw control
   * bytes a terminal would obey. */
  for (const char *p = r->err; *p; ++p) {
    unsigned char c = (unsigned char)*p;
    cr_assert(c >= 0x20 || c == '\n', "%s: stderr holds control byte 0x%02x: %s", what, c, r->err);
  }
}

/* ---- fixtures ----------------------------------------------------------- */

char *box_caterpillar(int n) {
  fitcl__buf b = {0};
  for (int i = 0; i < n - 1; ++i) fitcl__buf_append(&b, "(", 1);
  fitcl__buf_printf(&b, "t0:0.1");
  for (int i = 1; i < n; ++i) fitcl__buf_printf(&b, ",t%d:0.1)%s", i, i < n - 1 ? ":0.01" : "");
  fitcl__buf_printf(&b, ";\n");
  return b.data;
}

char *box_star(int n, double length) {
  fitcl__buf b = {0};
  fitcl__buf_append(&b, "(", 1);
  for (int i = 0; i < n; ++i) fitcl__buf_printf(&b, "%st%d:%g", i ? "," : "", i, length);
  fitcl__buf_printf(&b, ");\n");
  return b.data;
}

char *box_matrix(int ntips, int nfam, unsigned seed) {
  fitcl__buf b = {0};
  fitcl__buf_printf(&b, "Gene");
  for (int t = 0; t < ntips; ++t) fitcl__buf_printf(&b, "\tt%d", t);
  fitcl__buf_append(&b, "\n", 1);
  uint64_t s = seed * 2654435761u + 1;
  for (int f = 0; f < nfam; ++f) {
    fitcl__buf_printf(&b, "f%d", f);
    for (int t = 0; t < ntips; ++t) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      int v = t == f % ntips ? 1 : (int)((s >> 40) & 1);
      fitcl__buf_printf(&b, "\t%d", v);
    }
    fitcl__buf_append(&b, "\n", 1);
  }
  return b.data;
}

void box_write_npy(box *b, const char *rel, size_t rows, size_t cols) {
  fitcl__buf t = {0};
  char header[256];
  int hl = snprintf(header, sizeof header,
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu, %zu), }", rows, cols);
  size_t total = 10 + (size_t)hl + 1, pad = (64 - total % 64) % 64;
  unsigned short len = (unsigned short)(hl + pad + 1);
  fitcl__buf_append(&t, "\x93NUMPY\x01\x00", 8);
  unsigned char l2[2] = {(unsigned char)(len & 0xff), (unsigned char)(len >> 8)};
  fitcl__buf_append(&t, l2, 2);
  fitcl__buf_append(&t, header, (size_t)hl);
  for (size_t i = 0; i < pad; ++i) fitcl__buf_append(&t, " ", 1);
  fitcl__buf_append(&t, "\n", 1);
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < cols; ++j) {
      double x = (double)i / (double)rows;
      double v = j == 0 ? x : 2 * x + 1 + 0.01 * (double)((i * 7 + j) % 5) - 0.02;
      fitcl__buf_append(&t, &v, 8);
    }
  box_write(b, rel, t.data, t.len);
  fitcl__buf_free(&t);
}

int box_have_opencl(void) {
  fitcl_test_backend be[2];
  return fitcl_test_backends(be, 2) > 1;
}
