/* Robustness: the program-binary cache as a farm uses it.  Clear and
 * eviction never leave the cache or delete what the cache did not make;
 * untrusted shards and entries are not used; many cold starts sharing one
 * cache (and one PoCL cache) all succeed; a builder that dies or hangs
 * does not keep the others waiting (issue 18, causes 9-10). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "box.h"
#include "core/util.h"

#define HEX62 "00112233445566778899aabbccddeeff00112233445566778899aabbccddee"

#ifdef FITCL_PROBE_SANITIZED
enum { COLD_STARTS = 4 };
#else
enum { COLD_STARTS = 16 };
#endif

static void plant(box *b, const char *rel, size_t bytes) {
  char *junk = malloc(bytes ? bytes : 1);
  memset(junk, 'j', bytes);
  box_write(b, rel, junk, bytes);
  free(junk);
}

/* A cache whose v1/zz is a symlink to a directory outside, holding files
 * named like entries, and a real shard holding an entry, a file that is
 * not an entry and an entry-named symlink to a file outside. */
static void plant_hostile_cache(box *b, size_t outside_entry_bytes) {
  cr_assert_eq(mkdir(box_path(b, "home/fitcl-cache"), 0700), 0);
  cr_assert_eq(mkdir(box_path(b, "home/fitcl-cache/v1"), 0700), 0);
  cr_assert_eq(mkdir(box_path(b, "home/fitcl-cache/v1/ab"), 0700), 0);
  cr_assert_eq(mkdir(box_path(b, "outside/shard"), 0700), 0);
  plant(b, "outside/shard/" HEX62 ".bin", outside_entry_bytes);
  plant(b, "outside/shard/" HEX62 ".bin.tmpabcdef", 10);
  plant(b, "outside/shard/" HEX62 ".lock", 0);
  cr_assert_eq(symlink(box_path(b, "outside/shard"), box_path(b, "home/fitcl-cache/v1/zz")), 0);
  plant(b, "home/fitcl-cache/v1/ab/" HEX62 ".bin", 100);
  plant(b, "home/fitcl-cache/v1/ab/notes.txt", 10);
  cr_assert_eq(symlink(box_path(b, "outside/precious.txt"),
                       box_path(b, "home/fitcl-cache/v1/ab/ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221.bin")),
               0);
  box_resnap(b);
}

Test(cache, clear_never_leaves_the_cache) {
  box b;
  box_open(&b);
  plant_hostile_cache(&b, 100);
  box_result r;
  const char *info[] = {"cache", "info", "--json", NULL};
  box_run(&b, &r, NULL, info);
  box_expect(&r, 0, "", "cache info");
  cr_expect(strstr(r.out, "\"entries\":1,"), "only the real entry counts: %s", r.out);
  box_result_free(&r);
  const char *clear[] = {"cache", "clear", "--json", NULL};
  box_run(&b, &r, NULL, clear); /* outside/ is checked by the run */
  box_expect(&r, 0, "", "cache clear");
  cr_expect(strstr(r.out, "\"removed\":1}"), "one entry removed: %s", r.out);
  box_result_free(&r);
  cr_expect_eq(access(box_path(&b, "home/fitcl-cache/v1/ab/notes.txt"), F_OK), 0,
               "a file the cache did not make stays");
  /* v1 itself a symlink out of the cache: nothing is walked at all. */
  cr_assert_eq(rename(box_path(&b, "home/fitcl-cache/v1"), box_path(&b, "home/v1-real")), 0);
  cr_assert_eq(symlink(box_path(&b, "outside/shard"), box_path(&b, "home/fitcl-cache/v1")), 0);
  box_resnap(&b);
  box_run(&b, &r, NULL, clear);
  box_expect(&r, 0, "", "cache clear with v1 a symlink");
  box_result_free(&r);
  box_close(&b);
}

/* Eviction walks the same way: a cache over its cap evicts its own
 * entries only (the put here is the device-discovery memo of `auto`). */
Test(cache, eviction_never_leaves_the_cache) {
  box b;
  box_open(&b);
  plant_hostile_cache(&b, 3u << 20);
  const char *env[] = {"FITCL_DEVICE=auto", "FITCL_CACHE_MAX_MB=1", NULL};
  box_opts o = {0};
  o.env = env;
  const char *argv[] = {"loglik", "--tree", "../in/t.nwk", "--matrix", "../in/m.Rtab", "--gain",
                        "0.5", "--loss", "1", NULL};
  box_result r;
  box_run(&b, &r, &o, argv);
  box_expect(&r, 0, "", "loglik with a 1 MiB cache cap");
  box_result_free(&r);
  box_close(&b);
}

static const char *opencl_env[] = {"FITCL_DEVICE=opencl", NULL};

static int selftest(box *b, const char *const *env, char **json) {
  box_opts o = {0};
  o.env = env ? env : opencl_env;
  const char *argv[] = {"selftest", "--json", NULL};
  box_result r;
  box_run(b, &r, &o, argv);
  box_expect(&r, 0, "", "selftest");
  if (json) *json = r.out;
  else free(r.out);
  free(r.err);
  return r.code;
}

static int json_count(const char *json, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(json, pat);
  return p ? atoi(p + strlen(pat)) : -1;
}

/* The first shard directory of the cache, for the probes to spoil, and
 * how many entries it holds. */
static int first_shard(box *b, char *name) {
  for (int i = 0; i < 256; ++i) {
    char rel[64];
    snprintf(rel, sizeof rel, "home/fitcl-cache/v1/%02x", i);
    DIR *d = opendir(box_path(b, rel));
    if (!d) continue;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) n += strstr(de->d_name, ".bin") && !strstr(de->d_name, ".tmp");
    closedir(d);
    snprintf(name, 64, "%s", rel);
    return n;
  }
  cr_assert_fail("no shard in the cache");
  return 0;
}

Test(cache, untrusted_shards_and_entries_are_not_used) {
  if (!box_have_opencl()) cr_skip_test("no OpenCL device: no program binaries to cache");
  box b;
  box_open(&b);
  char *json;
  selftest(&b, NULL, &json); /* warm: 4 programs stored */
  int total = json_count(json, "misses");
  free(json);
  char shard[64];
  int k = first_shard(&b, shard);
  /* A shard others can write to is not used (before: loaded as usual). */
  cr_assert_eq(chmod(box_path(&b, shard), 0777), 0);
  selftest(&b, NULL, &json);
  cr_expect_eq(json_count(json, "hits"), total - k,
               "the program in a world-writable shard is not loaded: %s", json);
  free(json);
  cr_assert_eq(chmod(box_path(&b, shard), 0700), 0);
  /* An entry others can write to is bad: deleted and rebuilt. */
  char cmd[1400];
  snprintf(cmd, sizeof cmd, "chmod 0666 %s/*.bin", box_path(&b, shard));
  cr_assert_eq(system(cmd), 0);
  selftest(&b, NULL, &json);
  cr_expect_eq(json_count(json, "rebuilt"), k, "a 0666 entry is rebuilt, not loaded: %s", json);
  free(json);
  if (geteuid() == 0) {
    cr_assert_eq(chown(box_path(&b, shard), 4242, 4242), 0);
    selftest(&b, NULL, &json);
    cr_expect_eq(json_count(json, "hits"), total - k, "a foreign-owned shard is not used: %s",
                 json);
    free(json);
    cr_assert_eq(chown(box_path(&b, shard), 0, 0), 0);
  } else {
    cr_log_info("not root: a shard owned by another user cannot be made; that probe is skipped");
  }
  box_close(&b);
}

/* Many processes start cold at once, sharing one fitcl cache and one PoCL
 * cache: every one succeeds (1-5 of 32 died or failed to build before). */
Test(cache, concurrent_cold_starts_share_one_cache) {
  if (!box_have_opencl()) cr_skip_test("no OpenCL device: no programs to build");
  box b;
  box_open(&b);
  const char *env[] = {"FITCL_DEVICE=opencl", "FITCL_THREADS=1", NULL};
  box_opts o = {0};
  o.env = env;
  o.timeout = 800;
  o.no_check = 1;
  box_proc p[COLD_STARTS];
  const char *argv[] = {"selftest", NULL};
  for (int i = 0; i < COLD_STARTS; ++i) p[i] = box_start(&b, &o, argv);
  int ok = 0;
  for (int i = 0; i < COLD_STARTS; ++i) {
    box_result r;
    box_wait(&b, &p[i], &r);
    if (r.code == 0 && r.signal == 0) ok++;
    else cr_log_error("cold start %d: status %d, signal %d: %.300s", i, r.code, r.signal, r.err);
    box_result_free(&r);
  }
  box_check(&b, "concurrent cold starts");
  cr_expect_eq(ok, COLD_STARTS, "%d of %d concurrent cold starts succeeded", ok, COLD_STARTS);
  /* And the cache they left serves every program. */
  char *json;
  selftest(&b, NULL, &json);
  cr_expect_eq(json_count(json, "misses"), 0, "%s", json);
  free(json);
  box_close(&b);
}

/* The builder holds the program's lock; killed, it loses it with its
 * descriptors, and the next process builds at once. */
Test(cache, a_builder_that_dies_does_not_block_the_others) {
  if (!box_have_opencl()) cr_skip_test("no OpenCL device: no programs to build");
  box b;
  box_open(&b);
  const char *env[] = {"FITCL_DEVICE=opencl", "FITCL_CACHE_LOCK_TIMEOUT=300", NULL};
  box_opts o = {0};
  o.env = env;
  o.signal_after_ms = 700;
  o.signal = SIGKILL;
  const char *argv[] = {"selftest", NULL};
  box_result r;
  box_run(&b, &r, &o, argv);
  cr_expect_eq(r.signal, SIGKILL, "the builder was killed mid-build (status %d)", r.code);
  box_result_free(&r);
  o.signal_after_ms = 0;
  box_run(&b, &r, &o, argv);
  box_expect(&r, 0, "", "selftest after a builder was killed");
  cr_expect_lt(r.seconds, 120, "no wait for the dead builder's lock (%.1f s)", r.seconds);
  box_result_free(&r);
  box_close(&b);
}

/* A builder that hangs (stopped) is waited for FITCL_CACHE_LOCK_TIMEOUT
 * seconds, then the waiter builds by itself. */
Test(cache, a_stuck_builder_is_waited_for_at_most_the_timeout) {
  if (!box_have_opencl()) cr_skip_test("no OpenCL device: no programs to build");
  box b;
  box_open(&b);
  const char *env_a[] = {"FITCL_DEVICE=opencl", NULL};
  box_opts oa = {0};
  oa.env = env_a;
  oa.no_check = 1;
  const char *argv[] = {"selftest", NULL};
  box_proc a = box_start(&b, &oa, argv);
  while (fitcl__now() - a.t0 < 1.0) {
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  kill(a.pid, SIGSTOP);
  const char *env_b[] = {"FITCL_DEVICE=opencl", "FITCL_CACHE_LOCK_TIMEOUT=2", NULL};
  box_opts ob = {0};
  ob.env = env_b;
  box_result r;
  box_run(&b, &r, &ob, argv);
  box_expect(&r, 0, "", "selftest while another builder is stopped");
  kill(a.pid, SIGKILL);
  kill(a.pid, SIGCONT);
  a.opts.signal_after_ms = 0;
  box_result ra;
  box_wait(&b, &a, &ra);
  box_result_free(&ra);
  box_result_free(&r);
  box_close(&b);
}
