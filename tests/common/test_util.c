#define _XOPEN_SOURCE 700
#include "test_util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

size_t fitcl_test_backends(fitcl_test_backend *out, size_t cap) {
  size_t n = 0;
  if (n < cap) out[n++] = (fitcl_test_backend){"cpu", "cpu"};
  fitcl_device_desc *list = NULL;
  size_t count = 0;
  int have = 0;
  if (fitcl_devices_list(&list, &count) == FITCL_OK) {
    for (size_t i = 0; i < count; ++i)
      if (strcmp(list[i].backend, "opencl") == 0) have = 1;
  }
  fitcl_devices_free(list);
  const char *req = getenv("FITCL_TEST_REQUIRE_OPENCL");
  if (!have && req && strcmp(req, "1") == 0)
    cr_assert_fail("FITCL_TEST_REQUIRE_OPENCL=1 but no OpenCL device was found");
  if (have && n < cap) {
    /* FITCL_TEST_OPENCL may name a specific device; default: the first fp64
     * one, else the first (which runs in mixed precision). */
    const char *sel = getenv("FITCL_TEST_OPENCL");
    out[n++] = (fitcl_test_backend){"opencl", sel && *sel ? sel : "opencl"};
  }
  return n;
}

static char *test_cache_root(void) {
  static char dir[512];
  if (!dir[0]) {
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/fitcl-test-cache-%ld", t && *t ? t : "/tmp", (long)getpid());
  }
  return dir;
}

fitcl_context *fitcl_test_context(const char *selector) {
  fitcl_context_options o = {0};
  o.device = selector;
  o.cache_dir = test_cache_root();
  o.ignore_env = 0;
  fitcl_context *ctx = NULL;
  fitcl_status st = fitcl_context_create(&o, &ctx);
  if (st != FITCL_OK) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", fitcl_errmsg(ctx));
    fitcl_context_destroy(ctx);
    cr_assert_fail("context on '%s' failed: %s: %s", selector, fitcl_strerror(st), msg);
  }
  return ctx;
}

char *fitcl_test_tmpdir(void) {
  const char *t = getenv("TMPDIR");
  char *p = malloc(512);
  snprintf(p, 512, "%s/fitcl-test-XXXXXX", t && *t ? t : "/tmp");
  cr_assert_not_null(mkdtemp(p), "mkdtemp failed: %s", strerror(errno));
  return p;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb; (void)flag; (void)ftw;
  return remove(path);
}

void fitcl_test_rmtree(const char *dir) {
  if (dir) nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

char *fitcl_test_write_file(const char *dir, const char *name, const char *text) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  snprintf(p, n, "%s/%s", dir, name);
  FILE *f = fopen(p, "wb");
  cr_assert_not_null(f, "cannot write %s", p);
  fputs(text, f);
  fclose(f);
  return p;
}

static char *slurp_fd(int fd) {
  size_t cap = 4096, len = 0;
  char *b = malloc(cap);
  for (;;) {
    if (len + 1 >= cap) b = realloc(b, cap *= 2);
    ssize_t r = read(fd, b + len, cap - len - 1);
    if (r <= 0) break;
    len += (size_t)r;
  }
  b[len] = 0;
  return b;
}

int fitcl_test_run_cli(const char *const *argv, const char *const *env, char **out, char **err) {
  char tmpl_o[] = "/tmp/fitcl-cli-out-XXXXXX", tmpl_e[] = "/tmp/fitcl-cli-err-XXXXXX";
  int fo = mkstemp(tmpl_o), fe = mkstemp(tmpl_e);
  if (fo < 0 || fe < 0) return -1;
  unlink(tmpl_o);
  unlink(tmpl_e);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(fo, 1);
    dup2(fe, 2);
    int fi = open("/dev/null", O_RDONLY);
    if (fi >= 0) dup2(fi, 0);
    if (env)
      for (const char *const *e = env; *e; ++e) putenv((char *)*e);
    size_t n = 0;
    while (argv[n]) ++n;
    char **a = calloc(n + 1, sizeof *a);
    a[0] = (char *)FITCL_CLI_PATH;
    for (size_t i = 1; i < n; ++i) a[i] = (char *)argv[i];
    execv(FITCL_CLI_PATH, a);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  lseek(fo, 0, SEEK_SET);
  lseek(fe, 0, SEEK_SET);
  char *o = slurp_fd(fo), *e = slurp_fd(fe);
  close(fo);
  close(fe);
  if (out) *out = o; else free(o);
  if (err) *err = e; else free(e);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int fitcl_test_close(double a, double b, double rel_tol) {
  double scale = fmax(fmax(fabs(a), fabs(b)), 1e-300);
  return fabs(a - b) <= rel_tol * scale;
}
