/* The persistent program-binary cache: miss then hit, every kind of bad
 * entry rebuilt with identical results, unsafe directories refused, LRU
 * eviction under a small cap, and 16 processes starting on a cold cache. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache.h"
#include "fitcl.h"
#include "test_util.h"

static int have_opencl(void) {
  fitcl_test_backend b[2];
  return fitcl_test_backends(b, 2) == 2;
}

static fitcl_context *ctx_in(const char *dir, fitcl_cache_mode mode) {
  fitcl_context_options o = {0};
  o.device = "opencl";
  o.cache_dir = dir;
  o.cache = mode;
  fitcl_context *ctx = NULL;
  fitcl_status st = fitcl_context_create(&o, &ctx);
  cr_assert_eq(st, FITCL_OK, "context: %s", fitcl_errmsg(ctx));
  return ctx;
}

static fitcl_cache_stats stats_of(fitcl_context *ctx) {
  fitcl_context_info info;
  cr_assert_eq(fitcl_context_get_info(ctx, &info), FITCL_OK);
  return info.cache;
}

/* Runs the self-test and returns its results, to compare runs. */
static size_t selftest(fitcl_context *ctx, fitcl_selftest_result *r) {
  size_t n = 0;
  cr_assert_eq(fitcl_selftest(ctx, r, 16, &n), FITCL_OK, "%s", fitcl_errmsg(ctx));
  return n;
}

/* Lists the entry files under dir/v1/xx/. */
static size_t entries(const char *dir, char paths[][1024], size_t cap) {
  char root[700];
  snprintf(root, sizeof root, "%s/v1", dir);
  DIR *d = opendir(root);
  size_t n = 0;
  if (!d) return 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char sub[768];
    snprintf(sub, sizeof sub, "%s/%.60s", root, de->d_name);
    DIR *s = opendir(sub);
    if (!s) continue;
    struct dirent *fe;
    while ((fe = readdir(s)))
      if (fe->d_name[0] != '.' && strstr(fe->d_name, ".bin") && !strstr(fe->d_name, ".tmp") && n < cap)
        snprintf(paths[n++], 1024, "%s/%.200s", sub, fe->d_name);
    closedir(s);
  }
  closedir(d);
  return n;
}

static void warm(const char *dir) {
  fitcl_context *c = ctx_in(dir, FITCL_CACHE_ON);
  fitcl_context_destroy(c);
}

Test(cache, miss_then_hit) {
  if (!have_opencl()) cr_skip_test("no OpenCL device");
  char *dir = fitcl_test_tmpdir();
  char sub[600];
  snprintf(sub, sizeof sub, "%s/cache", dir);
  fitcl_context *a = ctx_in(sub, FITCL_CACHE_ON);
  fitcl_context_info ia;
  fitcl_context_get_info(a, &ia);
  cr_assert_gt(ia.programs, 0);
  cr_assert_eq(ia.cache.misses, (uint64_t)ia.programs);
  cr_assert_eq(ia.cache.hits, 0);
  /* Stored at once, or, where the driver compiles code at the first
   * launches (PoCL), when the context ends, with that code. */
  cr_assert(ia.cache.stored == (uint64_t)ia.programs || ia.cache.stored == 0);
  fitcl_selftest_result r1[16], r2[16];
  size_t n1 = selftest(a, r1);
  fitcl_context_destroy(a);
  char paths[64][1024];
  cr_assert_geq(entries(sub, paths, 64), (size_t)ia.programs);
  struct stat st;
  cr_assert_eq(stat(sub, &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0700, "cache directory is created 0700");

  fitcl_context *b = ctx_in(sub, FITCL_CACHE_ON);
  fitcl_cache_stats sb = stats_of(b);
  cr_assert_eq(sb.hits, (uint64_t)ia.programs);
  cr_assert_eq(sb.misses, 0);
  size_t n2 = selftest(b, r2);
  cr_assert_eq(n1, n2);
  for (size_t i = 0; i < n1; ++i) cr_assert_eq(r1[i].max_rel_error, r2[i].max_rel_error);
  fitcl_context_destroy(b);

  /* off: nothing read or written */
  fitcl_context *c = ctx_in(sub, FITCL_CACHE_OFF);
  fitcl_cache_stats sc = stats_of(c);
  cr_assert_eq(sc.hits + sc.misses + sc.stored, 0);
  fitcl_context_destroy(c);
  fitcl_test_rmtree(dir);
  free(dir);
}

typedef void (*damage_fn)(const char *path);

static void truncate_half(const char *path) {
  struct stat st;
  stat(path, &st);
  cr_assert_eq(truncate(path, st.st_size / 2), 0);
}

static void flip_payload_bit(const char *path) {
  struct stat st;
  stat(path, &st);
  FILE *f = fopen(path, "r+b");
  fseek(f, st.st_size - 7, SEEK_SET);
  int c = fgetc(f);
  fseek(f, st.st_size - 7, SEEK_SET);
  fputc(c ^ 0x10, f);
  fclose(f);
}

/* Changes one character of the stored key text (right after the 16-byte
 * fixed header): the file is well-formed but for another key. */
static void wrong_key(const char *path) {
  FILE *f = fopen(path, "r+b");
  fseek(f, 16 + 5, SEEK_SET);
  int c = fgetc(f);
  fseek(f, 16 + 5, SEEK_SET);
  fputc(c == 'x' ? 'y' : 'x', f);
  fclose(f);
}

static void empty_file(const char *path) { cr_assert_eq(truncate(path, 0), 0); }

/* A well-formed entry whose payload is not a binary the driver accepts. */
static void garbage_payload(const char *path) {
  FILE *f = fopen(path, "rb");
  unsigned char hdr[16];
  cr_assert_eq(fread(hdr, 1, 16, f), 16);
  uint32_t klen;
  memcpy(&klen, hdr + 12, 4);
  char *key = calloc(klen + 1, 1);
  cr_assert_eq(fread(key, 1, klen, f), klen);
  fclose(f);
  char dir[1024];
  strcpy(dir, path);
  for (int i = 0; i < 3; ++i) *strrchr(dir, '/') = '\0';
  fitcl__cache *c = NULL;
  char why[256];
  cr_assert_eq(fitcl__cache_open(dir, FITCL_CACHE_ON, 1u << 30, &c, why, sizeof why), FITCL_OK);
  cr_assert_not_null(c, "%s", why);
  const char junk[] = "this is not a program binary";
  cr_assert_eq(fitcl__cache_put(c, key, junk, sizeof junk, why, sizeof why), FITCL_OK, "%s", why);
  fitcl__cache_close(c);
  free(key);
}

static void damage_and_rebuild(damage_fn damage) {
  if (!have_opencl()) cr_skip_test("no OpenCL device");
  char *dir = fitcl_test_tmpdir();
  warm(dir);
  char paths[64][1024];
  size_t n = entries(dir, paths, 64);
  cr_assert_gt(n, 0);
  fitcl_context *ref = ctx_in(dir, FITCL_CACHE_ON);
  fitcl_selftest_result r1[16], r2[16];
  size_t n1 = selftest(ref, r1);
  fitcl_context_destroy(ref);
  for (size_t i = 0; i < n; ++i) damage(paths[i]);

  fitcl_context *c = ctx_in(dir, FITCL_CACHE_ON);
  fitcl_cache_stats s = stats_of(c);
  cr_assert_eq(s.rebuilt, (uint64_t)n, "every damaged entry is rebuilt (rebuilt=%llu of %zu)",
               (unsigned long long)s.rebuilt, n);
  cr_assert_eq(s.hits, 0);
  size_t n2 = selftest(c, r2);
  cr_assert_eq(n1, n2);
  for (size_t i = 0; i < n1; ++i) {
    cr_assert(r2[i].passed);
    cr_assert_eq(r1[i].max_rel_error, r2[i].max_rel_error);
  }
  fitcl_context_destroy(c);
  /* and the rebuilt entries are good again */
  fitcl_context *d = ctx_in(dir, FITCL_CACHE_ON);
  cr_assert_eq(stats_of(d).hits, (uint64_t)n);
  fitcl_context_destroy(d);
  fitcl_test_rmtree(dir);
  free(dir);
}

Test(cache, truncated_entry_rebuilt) { damage_and_rebuild(truncate_half); }
Test(cache, bit_flipped_entry_rebuilt) { damage_and_rebuild(flip_payload_bit); }
Test(cache, wrong_key_entry_rebuilt) { damage_and_rebuild(wrong_key); }
Test(cache, empty_entry_rebuilt) { damage_and_rebuild(empty_file); }
Test(cache, driver_rejected_binary_rebuilt) { damage_and_rebuild(garbage_payload); }

static void expect_refused(const char *dir) {
  fitcl_context *c = ctx_in(dir, FITCL_CACHE_ON);
  fitcl_context_info info;
  fitcl_context_get_info(c, &info);
  cr_assert_null(info.cache_dir, "an unsafe directory is not used");
  cr_assert_eq(info.cache.stored, 0);
  fitcl_context_destroy(c);
}

Test(cache, world_writable_directory_refused) {
  char *dir = fitcl_test_tmpdir();
  cr_assert_eq(chmod(dir, 0777), 0);
  char why[512];
  cr_assert_eq(fitcl__cache_dir_is_safe(dir, why, sizeof why), 0);
  cr_assert(strstr(why, "writable"), "%s", why);
  if (have_opencl()) expect_refused(dir);
  cr_assert_eq(chmod(dir, 0770), 0);
  cr_assert_eq(fitcl__cache_dir_is_safe(dir, why, sizeof why), 0, "group-writable is refused too");
  fitcl_test_rmtree(dir);
  free(dir);
}

Test(cache, foreign_directory_refused) {
  if (geteuid() != 0) cr_skip_test("needs root to give a directory to another user");
  char *dir = fitcl_test_tmpdir();
  cr_assert_eq(chmod(dir, 0700), 0);
  cr_assert_eq(chown(dir, 4242, 4242), 0);
  char why[512];
  cr_assert_eq(fitcl__cache_dir_is_safe(dir, why, sizeof why), 0);
  cr_assert(strstr(why, "owned"), "%s", why);
  if (have_opencl()) expect_refused(dir);
  fitcl_test_rmtree(dir);
  free(dir);
}

Test(cache, lru_eviction_under_small_cap) {
  char *dir = fitcl_test_tmpdir();
  fitcl__cache *c = NULL;
  char why[256];
  /* Each entry is ~1 KiB of payload + header; the cap holds three. */
  cr_assert_eq(fitcl__cache_open(dir, FITCL_CACHE_ON, 3 * 1200, &c, why, sizeof why), FITCL_OK);
  cr_assert_not_null(c, "%s", why);
  char payload[1000];
  memset(payload, 'p', sizeof payload);
  char key[5][32], path[5][1200];
  for (int i = 0; i < 5; ++i) {
    snprintf(key[i], sizeof key[i], "key %d", i);
    cr_assert_eq(fitcl__cache_put(c, key[i], payload, sizeof payload, why, sizeof why), FITCL_OK);
    fitcl__cache_entry_path(c, key[i], path[i], sizeof path[i]);
    /* Distinct, increasing mtimes so LRU order is well defined. */
    struct timespec t[2] = {{1000000 + i, 0}, {1000000 + i, 0}};
    utimensat(AT_FDCWD, path[i], t, 0);
    if (i == 2) {
      /* Touch entry 0 by reading it: it becomes the most recently used. */
      void *p;
      size_t len;
      cr_assert_eq(fitcl__cache_get(c, key[0], &p, &len), FITCL__CACHE_HIT);
      free(p);
      struct timespec t0[2] = {{1000000 + 10, 0}, {1000000 + 10, 0}};
      utimensat(AT_FDCWD, path[0], t0, 0);
    }
  }
  fitcl_cache_stats s;
  fitcl__cache_stats(c, &s);
  cr_assert_geq(s.evicted, 2);
  uint64_t nent, bytes;
  fitcl__cache_scan(dir, &nent, &bytes);
  cr_assert_leq(bytes, 3 * 1200);
  cr_assert_eq(access(path[4], F_OK), 0, "the newest entry stays");
  cr_assert_eq(access(path[0], F_OK), 0, "the recently read entry stays");
  cr_assert_neq(access(path[1], F_OK), 0, "the least recently used entry goes");
  fitcl__cache_close(c);
  fitcl_test_rmtree(dir);
  free(dir);
}

Test(cache, readonly_never_writes) {
  if (!have_opencl()) cr_skip_test("no OpenCL device");
  char *dir = fitcl_test_tmpdir();
  fitcl_context *c = ctx_in(dir, FITCL_CACHE_READONLY);
  fitcl_cache_stats s = stats_of(c);
  cr_assert_eq(s.stored, 0);
  fitcl_context_destroy(c);
  char paths[4][1024];
  cr_assert_eq(entries(dir, paths, 4), 0);
  fitcl_test_rmtree(dir);
  free(dir);
}

static char *slurp(const char *path, size_t *len) {
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  char *b = malloc((size_t)st.st_size + 1);
  FILE *f = fopen(path, "rb");
  cr_assert(b && f);
  *len = fread(b, 1, (size_t)st.st_size, f);
  fclose(f);
  return b;
}

/* Runs `fitcl selftest` in a new process on `cache` with PoCL's own kernel
 * cache off and a new PoCL directory, and PoCL's log of what it compiles;
 * returns the exit status, the log in `log`. */
static int selftest_process(const char *dir, const char *cache, const char *tag, char *log,
                            size_t cap) {
  char pocl[700], err[700];
  snprintf(pocl, sizeof pocl, "%s/pocl-%s", dir, tag);
  snprintf(err, sizeof err, "%s/stderr-%s", dir, tag);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    mkdir(pocl, 0700);
    setenv("POCL_CACHE_DIR", pocl, 1);
    setenv("POCL_KERNEL_CACHE", "0", 1);
    setenv("POCL_DEBUG", "general", 1);
    setenv("FITCL_CACHE_DIR", cache, 1);
    setenv("FITCL_DEVICE", "opencl", 1);
    setenv("FITCL_LOG", "info", 1);
    int out = open("/dev/null", O_WRONLY);
    int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, 1);
    dup2(fd, 2);
    execl(FITCL_CLI_PATH, FITCL_CLI_PATH, "selftest", (char *)NULL);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  FILE *f = fopen(err, "r");
  cr_assert_not_null(f);
  size_t n = fread(log, 1, cap - 1, f);
  log[n] = '\0';
  fclose(f);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* PoCL compiles each kernel's work-group function at its first launch; the
 * binary stored must hold those, so that a warm start compiles nothing. */
Test(cache, warm_start_compiles_nothing, .timeout = 600) {
  if (!have_opencl()) cr_skip_test("no OpenCL device");
  fitcl_context *probe = NULL;
  fitcl_context_options o = {0};
  o.device = "opencl";
  o.cache = FITCL_CACHE_OFF;
  cr_assert_eq(fitcl_context_create(&o, &probe), FITCL_OK);
  fitcl_context_info info;
  fitcl_context_get_info(probe, &info);
  int pocl = strstr(info.platform, "Portable Computing Language") != NULL;
  fitcl_context_destroy(probe);
  if (!pocl) cr_skip_test("the OpenCL platform is %s, not PoCL, whose log this reads", info.platform);
  char *dir = fitcl_test_tmpdir();
  char cache[600];
  snprintf(cache, sizeof cache, "%s/cache", dir);
  static char log[1 << 20];
  cr_assert_eq(selftest_process(dir, cache, "cold", log, sizeof log), 0, "%s", log);
  cr_assert_not_null(strstr(log, "Built a specialized WG function"),
                     "the cold start compiles work-group functions at its launches");
  cr_assert_not_null(strstr(log, "programs stored with the code compiled at their launches"));
  char paths[64][1024];
  size_t n = entries(cache, paths, 64);
  cr_assert_gt(n, 0);
  char *before[64];
  size_t len[64];
  for (size_t i = 0; i < n; ++i) before[i] = slurp(paths[i], &len[i]);
  cr_assert_eq(selftest_process(dir, cache, "warm", log, sizeof log), 0, "%s", log);
  cr_assert_not_null(strstr(log, " 0 misses"), "every program loaded: %s", log);
  cr_assert_null(strstr(log, "Built a"), "the warm start compiled nothing");
  cr_assert_null(strstr(log, "stored with the code"), "and stored nothing");
  cr_assert_eq(entries(cache, paths, 64), n);
  for (size_t i = 0; i < n; ++i) {
    size_t m;
    char *after = slurp(paths[i], &m);
    cr_assert(m == len[i] && memcmp(after, before[i], m) == 0, "entry %s unchanged", paths[i]);
    free(after);
    free(before[i]);
  }
  fitcl_test_rmtree(dir);
  free(dir);
}

Test(cache, sixteen_cold_starts_at_once, .timeout = 600) {
  if (!have_opencl()) cr_skip_test("no OpenCL device");
  char *dir = fitcl_test_tmpdir();
  char cache[600];
  snprintf(cache, sizeof cache, "%s/cache", dir);
  enum { N = 16 };
  pid_t pids[N];
  for (int i = 0; i < N; ++i) {
    pids[i] = fork();
    cr_assert_geq(pids[i], 0);
    if (pids[i] == 0) {
      char pocl[700];
      snprintf(pocl, sizeof pocl, "%s/pocl-%d", dir, i);
      mkdir(pocl, 0700);
      setenv("POCL_CACHE_DIR", pocl, 1);
      setenv("FITCL_CACHE_DIR", cache, 1);
      setenv("FITCL_DEVICE", "opencl", 1);
      setenv("FITCL_THREADS", "1", 1);
      /* Under AddressSanitizer, LeakSanitizer's exit-time stop-the-world
       * tracer can itself crash when 16 processes with OpenCL runtime
       * threads exit together; that is a sanitizer flake, not a cache
       * failure. The other CLI tests keep leak checking on. */
      const char *asan = getenv("ASAN_OPTIONS");
      char opts[512];
      snprintf(opts, sizeof opts, "%s%sdetect_leaks=0", asan ? asan : "", asan && *asan ? ":" : "");
      setenv("ASAN_OPTIONS", opts, 1);
      int fd = open("/dev/null", O_WRONLY);
      dup2(fd, 1);
      execl(FITCL_CLI_PATH, FITCL_CLI_PATH, "selftest", (char *)NULL);
      _exit(127);
    }
  }
  int ok = 0;
  for (int i = 0; i < N; ++i) {
    int status = 0;
    waitpid(pids[i], &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) ++ok;
  }
  cr_assert_eq(ok, N, "all %d concurrent cold starts succeed (%d did)", N, ok);
  /* The cache they left is valid: a new context loads every program, and
   * the self-test's run-time generated programs are hits too. */
  fitcl_context *c = ctx_in(cache, FITCL_CACHE_ON);
  fitcl_selftest_result r[16];
  selftest(c, r);
  fitcl_context_info info;
  fitcl_context_get_info(c, &info);
  cr_assert_geq(info.cache.hits, (uint64_t)info.programs);
  cr_assert_eq(info.cache.misses, 0);
  cr_assert_eq(info.cache.rebuilt, 0);
  fitcl_context_destroy(c);
  char paths[64][1024];
  cr_assert_eq(entries(cache, paths, 64), (size_t)info.cache.hits,
               "one entry per program: no stray temp files or duplicates");
  fitcl_test_rmtree(dir);
  free(dir);
}
