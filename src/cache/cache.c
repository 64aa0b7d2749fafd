/* Persistent program-binary cache.  See docs/cache.md for the format and the
 * reasons behind it (atomic rename, safe directories, delete and rebuild any
 * bad entry, LRU by mtime, single-flight builds).
 *
 * Every directory below the top one and every file is reached through
 * directory descriptors with O_NOFOLLOW and checked (ours, a directory or a
 * regular file, not writable by group or others) before it is read, written
 * or deleted: a symlinked shard cannot lead clear or eviction out of the
 * cache, and only names the cache itself makes are ever deleted. */
#include "cache/cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"

static const char MAGIC[8] = {'F', 'I', 'T', 'C', 'L', 'B', 'I', 'N'};
#define HEADER_FIXED (8 + 4 + 4)
#define HASH_REST 62 /* hex digits of an entry name after the shard's two */

struct fitcl__cache {
  char dir[1024];
  fitcl_cache_mode mode;
  uint64_t max_bytes;
  fitcl_cache_stats stats;
};

/* ---- names and trust ---------------------------------------------------- */

static int is_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return 1;
}

/* What a file name in a shard is: only these are the cache's to delete. */
enum { NAME_OTHER = 0, NAME_ENTRY, NAME_TEMP, NAME_LOCK };
static int name_kind(const char *name) {
  size_t n = strlen(name);
  if (n < HASH_REST + 4 || !is_hex(name, HASH_REST)) return NAME_OTHER;
  const char *rest = name + HASH_REST;
  if (!strcmp(rest, ".bin")) return NAME_ENTRY;
  if (!strcmp(rest, ".lock")) return NAME_LOCK;
  if (!strncmp(rest, ".bin.tmp", 8) && strlen(rest) == 14) return NAME_TEMP;
  return NAME_OTHER;
}

static int is_shard_name(const char *name) { return strlen(name) == 2 && is_hex(name, 2); }

/* A directory or file we may trust: owned by us, not writable by group or
 * others.  why (may be NULL) says what is wrong. */
static int trusted(const struct stat *st, const char *what, char *why, size_t whylen) {
  if (st->st_uid != geteuid()) {
    if (why)
      snprintf(why, whylen, "%s is owned by uid %ld, not by this user (%ld); a cached binary is "
               "code that runs, so it is not used", what, (long)st->st_uid, (long)geteuid());
    return 0;
  }
  if (st->st_mode & (S_IWGRP | S_IWOTH)) {
    if (why)
      snprintf(why, whylen, "%s is writable by group or others (mode %03o); run 'chmod go-w' on "
               "it to use it", what, (unsigned)(st->st_mode & 0777));
    return 0;
  }
  return 1;
}

int fitcl__cache_dir_is_safe(const char *dir, char *why, size_t whylen) {
  struct stat st;
  if (lstat(dir, &st) != 0) {
    snprintf(why, whylen, "cannot stat cache directory %s: %s", dir, strerror(errno));
    return 0;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(why, whylen, "cache path %s is not a directory", dir);
    return 0;
  }
  if (st.st_uid != geteuid()) {
    snprintf(why, whylen, "cache directory %s is owned by uid %ld, not by this user (%ld); "
             "a cached binary is code that runs, so it is not used",
             dir, (long)st.st_uid, (long)geteuid());
    return 0;
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    snprintf(why, whylen, "cache directory %s is writable by group or others (mode %03o); "
             "run 'chmod 700 %s' to use it", dir, (unsigned)(st.st_mode & 0777), dir);
    return 0;
  }
  return 1;
}

/* Opens parent/name as a directory without following a symlink, creating
 * it (0700) when asked, and checks it.  -1 (why set) when it is absent, a
 * symlink, not a directory, or not to be trusted. */
static int open_dir_at(int parent, const char *name, int create, char *why, size_t whylen) {
  if (create && mkdirat(parent, name, 0700) != 0 && errno != EEXIST) {
    if (why) snprintf(why, whylen, "cannot create %s: %s", name, strerror(errno));
    return -1;
  }
  int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (why)
      snprintf(why, whylen, "%s %s", name,
               errno == ENOENT ? "does not exist"
               : errno == ELOOP || errno == ENOTDIR ? "is not a directory (a symlink or a file); not used"
                                                   : strerror(errno));
    return -1;
  }
  struct stat st;
  char what[64];
  snprintf(what, sizeof what, "cache directory %s", name);
  if (fstat(fd, &st) != 0 || !trusted(&st, what, why, whylen)) {
    close(fd);
    return -1;
  }
  return fd;
}

/* <dir>/v1, checked; -1 when absent or untrusted. */
static int open_root(const char *dir, int create, char *why, size_t whylen) {
  int top = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (top < 0) {
    if (why) snprintf(why, whylen, "cannot open cache directory %s: %s", dir, strerror(errno));
    return -1;
  }
  char v[16];
  snprintf(v, sizeof v, "v%d", FITCL__CACHE_FORMAT_VERSION);
  int fd = open_dir_at(top, v, create, why, whylen);
  close(top);
  return fd;
}

/* ---- open / close ------------------------------------------------------- */

/* mkdir -p with mode 0700 for the components we create. */
static int mkdirs(const char *path) {
  char tmp[1024];
  fitcl__strlcpy(tmp, path, sizeof tmp);
  size_t n = strlen(tmp);
  if (n == 0) return -1;
  for (size_t i = 1; i <= n; ++i) {
    if (tmp[i] == '/' || tmp[i] == '\0') {
      char c = tmp[i];
      tmp[i] = '\0';
      if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -1;
      tmp[i] = c;
    }
  }
  return 0;
}

fitcl_status fitcl__cache_open(const char *dir, fitcl_cache_mode mode, uint64_t max_bytes,
                               fitcl__cache **out, char *why, size_t whylen) {
  *out = NULL;
  if (why && whylen) why[0] = '\0';
  if (mode == FITCL_CACHE_OFF) return FITCL_OK;
  if (!dir || !dir[0]) {
    snprintf(why, whylen, "no cache directory (set FITCL_CACHE_DIR, XDG_CACHE_HOME or HOME)");
    return FITCL_OK;
  }
  if (strlen(dir) > 900) {
    snprintf(why, whylen, "cache directory path is too long");
    return FITCL_OK;
  }
  if (mode == FITCL_CACHE_ON && mkdirs(dir) != 0) {
    snprintf(why, whylen, "cannot create cache directory %s: %s", dir, strerror(errno));
    return FITCL_OK;
  }
  if (!fitcl__cache_dir_is_safe(dir, why, whylen)) return FITCL_OK;
  if (mode == FITCL_CACHE_ON) {
    int root = open_root(dir, 1, why, whylen);
    if (root < 0) return FITCL_OK;
    close(root);
  }
  fitcl__cache *c = calloc(1, sizeof *c);
  if (!c) return FITCL_ERR_NOMEM;
  fitcl__strlcpy(c->dir, dir, sizeof c->dir);
  c->mode = mode;
  c->max_bytes = max_bytes;
  *out = c;
  return FITCL_OK;
}

void fitcl__cache_close(fitcl__cache *c) { free(c); }

/* ---- entries ------------------------------------------------------------ */

typedef struct entry_name {
  char shard[3];
  char file[HASH_REST + 16];  /* <62 hex>.bin */
  char hex[65];
} entry_name;

static void name_of(const char *key_text, entry_name *e) {
  fitcl__sha256_hex(key_text, strlen(key_text), e->hex);
  memcpy(e->shard, e->hex, 2);
  e->shard[2] = '\0';
  snprintf(e->file, sizeof e->file, "%s.bin", e->hex + 2);
}

void fitcl__cache_entry_path(const fitcl__cache *c, const char *key_text, char *out, size_t size) {
  entry_name e;
  name_of(key_text, &e);
  snprintf(out, size, "%s/v%d/%s/%s", c->dir, FITCL__CACHE_FORMAT_VERSION, e.shard, e.file);
}

/* The shard directory of an entry, checked (and created when asked). */
static int open_shard(const fitcl__cache *c, const entry_name *e, int create, char *why,
                      size_t whylen) {
  int root = open_root(c->dir, create, why, whylen);
  if (root < 0) return -1;
  int fd = open_dir_at(root, e->shard, create, why, whylen);
  close(root);
  return fd;
}

static int read_all(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len) {
    ssize_t r = read(fd, p, len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    len -= (size_t)r;
  }
  return 0;
}

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t r = write(fd, p, len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    len -= (size_t)r;
  }
  return 0;
}

fitcl__cache_result fitcl__cache_get(fitcl__cache *c, const char *key_text, void **payload,
                                     size_t *len) {
  *payload = NULL;
  *len = 0;
  if (!c) return FITCL__CACHE_MISS;
  entry_name en;
  name_of(key_text, &en);
  int shard = open_shard(c, &en, 0, NULL, 0);
  int fd = shard < 0 ? -1 : openat(shard, en.file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (shard >= 0) close(shard);
    c->stats.misses++;
    return FITCL__CACHE_MISS;
  }
  unsigned char *data = NULL;
  struct stat st;
  size_t klen = strlen(key_text);
  /* A file anyone else could have written is not code to run. */
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !trusted(&st, "", NULL, 0)) goto bad;
  size_t size = (size_t)st.st_size;
  if (size < HEADER_FIXED + klen + 8 + 32) goto bad;
  data = malloc(size);
  if (!data) {
    /* Out of memory is not the entry's fault: treat as a miss. */
    close(fd);
    close(shard);
    c->stats.misses++;
    return FITCL__CACHE_MISS;
  }
  if (read_all(fd, data, size) != 0) goto bad;
  uint32_t ver, kl;
  uint64_t plen;
  memcpy(&ver, data + 8, 4);
  memcpy(&kl, data + 12, 4);
  if (memcmp(data, MAGIC, 8) != 0 || ver != FITCL__CACHE_FORMAT_VERSION || kl != klen) goto bad;
  if (memcmp(data + HEADER_FIXED, key_text, klen) != 0) goto bad;
  size_t off = HEADER_FIXED + klen;
  memcpy(&plen, data + off, 8);
  off += 8;
  if (plen != size - off - 32) goto bad;
  unsigned char digest[32];
  fitcl__sha256(data + off + 32, (size_t)plen, digest);
  if (memcmp(digest, data + off, 32) != 0) goto bad;
  void *p = malloc(plen ? (size_t)plen : 1);
  if (!p) {
    free(data);
    close(fd);
    close(shard);
    c->stats.misses++;
    return FITCL__CACHE_MISS;
  }
  memcpy(p, data + off + 32, (size_t)plen);
  free(data);
  /* Refresh the mtime: eviction removes the least recently used entries. */
  if (c->mode == FITCL_CACHE_ON) futimens(fd, NULL);
  close(fd);
  close(shard);
  *payload = p;
  *len = (size_t)plen;
  c->stats.hits++;
  return FITCL__CACHE_HIT;
bad:
  free(data);
  close(fd);
  if (c->mode == FITCL_CACHE_ON) unlinkat(shard, en.file, 0);
  close(shard);
  c->stats.rebuilt++;
  return FITCL__CACHE_BAD;
}

fitcl__cache_result fitcl__cache_get_again(fitcl__cache *c, const char *key_text, void **payload,
                                           size_t *len) {
  if (!c) return fitcl__cache_get(c, key_text, payload, len);
  fitcl_cache_stats saved = c->stats;
  fitcl__cache_result r = fitcl__cache_get(c, key_text, payload, len);
  if (r == FITCL__CACHE_HIT) {
    c->stats = saved;
    c->stats.hits++;
    if (c->stats.misses) c->stats.misses--;
  } else if (r == FITCL__CACHE_MISS) {
    c->stats = saved;
  }
  return r;
}

void fitcl__cache_remove(fitcl__cache *c, const char *key_text) {
  if (!c || c->mode != FITCL_CACHE_ON) return;
  entry_name en;
  name_of(key_text, &en);
  int shard = open_shard(c, &en, 0, NULL, 0);
  if (shard < 0) return;
  unlinkat(shard, en.file, 0);
  close(shard);
}

/* ---- walking the cache -------------------------------------------------- */

/* Called for each regular file whose name the cache makes, in a trusted
 * shard (`shard` its descriptor, `shard_name` its name).  Nonzero stops the
 * walk.  Symlinks, untrusted shards and names the cache does not make are
 * never shown to a callback, so nothing else can be deleted. */
typedef int (*entry_fn)(void *user, int shard, const char *shard_name, const char *name, int kind,
                        const struct stat *st);

static fitcl_status walk(const char *dir, entry_fn fn, void *user) {
  int root = open_root(dir, 0, NULL, 0);
  if (root < 0) return FITCL_OK; /* nothing (trustworthy) to walk */
  int rfd = dup(root);
  DIR *d = rfd >= 0 ? fdopendir(rfd) : NULL;
  if (!d) {
    if (rfd >= 0) close(rfd);
    close(root);
    return FITCL_ERR_IO;
  }
  struct dirent *de;
  int stop = 0;
  while (!stop && (de = readdir(d)) != NULL) {
    if (!is_shard_name(de->d_name)) continue;
    int shard = open_dir_at(root, de->d_name, 0, NULL, 0);
    if (shard < 0) continue; /* a symlink or an untrusted directory: left alone */
    int sfd = dup(shard);
    DIR *s = sfd >= 0 ? fdopendir(sfd) : NULL;
    if (!s) {
      if (sfd >= 0) close(sfd);
      close(shard);
      continue;
    }
    struct dirent *fe;
    while (!stop && (fe = readdir(s)) != NULL) {
      int kind = name_kind(fe->d_name);
      struct stat st;
      if (kind == NAME_OTHER || fstatat(shard, fe->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
          !S_ISREG(st.st_mode))
        continue;
      stop = fn(user, shard, de->d_name, fe->d_name, kind, &st);
    }
    closedir(s);
    close(shard);
  }
  closedir(d);
  close(root);
  return FITCL_OK;
}

/* A lock file nobody holds may go; one that is held is in use.  (A process
 * that locks it afterwards notices it was unlinked: fitcl__cache_lock.) */
static int unlink_if_unlocked(int shard, const char *name) {
  int fd = openat(shard, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = -1;
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) rc = unlinkat(shard, name, 0);
  close(fd);
  return rc;
}

typedef struct evict_entry {
  char shard[3];
  char name[HASH_REST + 16];
  off_t size;
  struct timespec mtime;
} evict_entry;

typedef struct collect {
  evict_entry *v;
  size_t n, cap;
  uint64_t bytes;
  time_t now;
} collect;

static int collect_fn(void *user, int shard, const char *shard_name, const char *name, int kind,
                      const struct stat *st) {
  collect *c = user;
  /* Leftovers of a process that died: a temporary file, or a lock file
   * nobody holds, untouched for an hour. */
  if (kind == NAME_TEMP) {
    if (c->now - st->st_mtime > 3600) unlinkat(shard, name, 0);
    return 0;
  }
  if (kind == NAME_LOCK) {
    if (c->now - st->st_mtime > 3600) unlink_if_unlocked(shard, name);
    return 0;
  }
  if (c->n == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 64;
    evict_entry *v = realloc(c->v, cap * sizeof *v);
    if (!v) return 1;
    c->v = v;
    c->cap = cap;
  }
  evict_entry *e = &c->v[c->n++];
  fitcl__strlcpy(e->shard, shard_name, sizeof e->shard);
  fitcl__strlcpy(e->name, name, sizeof e->name);
  e->size = st->st_size;
  e->mtime = st->st_mtim;
  c->bytes += (uint64_t)st->st_size;
  return 0;
}

static int by_mtime(const void *a, const void *b) {
  const evict_entry *x = a, *y = b;
  if (x->mtime.tv_sec != y->mtime.tv_sec) return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
  if (x->mtime.tv_nsec != y->mtime.tv_nsec) return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
  int s = strcmp(x->shard, y->shard);
  return s ? s : strcmp(x->name, y->name);
}

static void evict(fitcl__cache *c, const entry_name *keep) {
  collect col = {0};
  col.now = time(NULL);
  walk(c->dir, collect_fn, &col);
  if (col.bytes > c->max_bytes) {
    qsort(col.v, col.n, sizeof *col.v, by_mtime);
    int root = open_root(c->dir, 0, NULL, 0);
    for (size_t i = 0; root >= 0 && i < col.n && col.bytes > c->max_bytes; ++i) {
      const evict_entry *e = &col.v[i];
      if (keep && !strcmp(e->shard, keep->shard) && !strcmp(e->name, keep->file)) continue;
      int shard = open_dir_at(root, e->shard, 0, NULL, 0);
      if (shard < 0) continue;
      if (unlinkat(shard, e->name, 0) == 0) {
        col.bytes -= (uint64_t)e->size;
        c->stats.evicted++;
      }
      close(shard);
    }
    if (root >= 0) close(root);
  }
  free(col.v);
}

/* A temporary name next to the entry: "<62 hex>.bin.tmp" + 6 characters. */
static int create_temp(int shard, const entry_name *en, char *tmp, size_t size) {
  static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  unsigned long long seed = (unsigned long long)ts.tv_nsec ^ ((unsigned long long)getpid() << 32);
  for (int attempt = 0; attempt < 100; ++attempt) {
    char suffix[7];
    for (int i = 0; i < 6; ++i) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      suffix[i] = digits[(seed >> 33) % 36];
    }
    suffix[6] = '\0';
    snprintf(tmp, size, "%s.tmp%s", en->file, suffix);
    int fd = openat(shard, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

fitcl_status fitcl__cache_put(fitcl__cache *c, const char *key_text, const void *payload,
                              size_t len, char *why, size_t whylen) {
  if (why && whylen) why[0] = '\0';
  if (!c || c->mode != FITCL_CACHE_ON) return FITCL_OK;
  entry_name en;
  name_of(key_text, &en);
  char shard_why[512] = "";
  int shard = open_shard(c, &en, 1, shard_why, sizeof shard_why);
  if (shard < 0) {
    snprintf(why, whylen, "%s/v%d: %s", c->dir, FITCL__CACHE_FORMAT_VERSION, shard_why);
    return FITCL_ERR_IO;
  }
  char tmp[HASH_REST + 32];
  int fd = create_temp(shard, &en, tmp, sizeof tmp);
  if (fd < 0) {
    snprintf(why, whylen, "cannot create a temporary file in %s/v%d/%s: %s", c->dir,
             FITCL__CACHE_FORMAT_VERSION, en.shard, strerror(errno));
    close(shard);
    return FITCL_ERR_IO;
  }
  uint32_t ver = FITCL__CACHE_FORMAT_VERSION, kl = (uint32_t)strlen(key_text);
  uint64_t plen = len;
  unsigned char digest[32];
  fitcl__sha256(payload, len, digest);
  int ok = write_all(fd, MAGIC, 8) == 0 && write_all(fd, &ver, 4) == 0 &&
           write_all(fd, &kl, 4) == 0 && write_all(fd, key_text, kl) == 0 &&
           write_all(fd, &plen, 8) == 0 && write_all(fd, digest, 32) == 0 &&
           write_all(fd, payload, len) == 0 && fsync(fd) == 0;
  int saved = errno;
  if (close(fd) != 0 && ok) {
    ok = 0;
    saved = errno;
  }
  if (ok && renameat(shard, tmp, shard, en.file) != 0) {
    ok = 0;
    saved = errno;
  }
  if (!ok) {
    unlinkat(shard, tmp, 0);
    close(shard);
    snprintf(why, whylen, "cannot write cache entry %s/v%d/%s/%s: %s", c->dir,
             FITCL__CACHE_FORMAT_VERSION, en.shard, en.file, strerror(saved));
    return FITCL_ERR_IO;
  }
  close(shard);
  c->stats.stored++;
  evict(c, &en);
  return FITCL_OK;
}

fitcl__cache_result fitcl__cache_get_meta(fitcl__cache *c, const char *key_text, void **payload,
                                          size_t *len) {
  if (!c) return fitcl__cache_get(c, key_text, payload, len);
  fitcl_cache_stats saved = c->stats;
  fitcl__cache_result r = fitcl__cache_get(c, key_text, payload, len);
  c->stats = saved;
  return r;
}

fitcl_status fitcl__cache_put_meta(fitcl__cache *c, const char *key_text, const void *payload,
                                   size_t len, char *why, size_t whylen) {
  if (!c) return fitcl__cache_put(c, key_text, payload, len, why, whylen);
  fitcl_cache_stats saved = c->stats;
  fitcl_status st = fitcl__cache_put(c, key_text, payload, len, why, whylen);
  c->stats = saved;
  return st;
}

void fitcl__cache_stats(const fitcl__cache *c, fitcl_cache_stats *out) {
  if (c) *out = c->stats;
  else memset(out, 0, sizeof *out);
}

const char *fitcl__cache_dir(const fitcl__cache *c) { return c ? c->dir : NULL; }

static int count_fn(void *user, int shard, const char *shard_name, const char *name, int kind,
                    const struct stat *st) {
  (void)shard;
  (void)shard_name;
  (void)name;
  uint64_t *v = user;
  if (kind != NAME_ENTRY) return 0;
  v[0]++;
  v[1] += (uint64_t)st->st_size;
  return 0;
}

fitcl_status fitcl__cache_scan(const char *dir, uint64_t *entries, uint64_t *bytes) {
  uint64_t v[2] = {0, 0};
  fitcl_status st = walk(dir, count_fn, v);
  *entries = v[0];
  *bytes = v[1];
  return st;
}

static int clear_fn(void *user, int shard, const char *shard_name, const char *name, int kind,
                    const struct stat *st) {
  (void)st;
  (void)shard_name;
  uint64_t *n = user;
  if (kind == NAME_LOCK) unlink_if_unlocked(shard, name);
  else if (unlinkat(shard, name, 0) == 0 && kind == NAME_ENTRY) (*n)++;
  return 0;
}

fitcl_status fitcl__cache_clear_dir(const char *dir, uint64_t *removed) {
  *removed = 0;
  return walk(dir, clear_fn, removed);
}

/* ---- single-flight builds ----------------------------------------------- */

int fitcl__cache_lock(fitcl__cache *c, const char *key_text, double timeout_s, double *waited) {
  *waited = 0;
  if (!c || c->mode != FITCL_CACHE_ON) return -1;
  entry_name en;
  name_of(key_text, &en);
  char lock[HASH_REST + 16];
  snprintf(lock, sizeof lock, "%s.lock", en.hex + 2);
  int shard = open_shard(c, &en, 1, NULL, 0);
  if (shard < 0) return -1;
  const double t0 = fitcl__now();
  long sleep_ns = 2000000; /* 2 ms, doubling to 100 ms */
  int fd = -1;
  for (;;) {
    fd = openat(shard, lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    struct stat mine, named;
    if (fd < 0 || fstat(fd, &mine) != 0 || !S_ISREG(mine.st_mode) || !trusted(&mine, "", NULL, 0)) {
      if (fd >= 0) close(fd);
      fd = -1;
      break; /* no usable lock file: build unlocked */
    }
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
      /* Still the file at that name?  A clear may have unlinked it between
       * the open and the lock, and then another process may lock a new one. */
      if (fstatat(shard, lock, &named, AT_SYMLINK_NOFOLLOW) == 0 && named.st_dev == mine.st_dev &&
          named.st_ino == mine.st_ino)
        break;
      close(fd);
      fd = -1;
      continue;
    }
    int e = errno;
    close(fd);
    fd = -1;
    if (e != EWOULDBLOCK && e != EINTR) break; /* no locks on this file system */
    if (fitcl__now() - t0 >= timeout_s) break; /* the holder is stuck: build anyway */
    struct timespec ts = {0, sleep_ns};
    nanosleep(&ts, NULL);
    if (sleep_ns < 100000000) sleep_ns *= 2;
  }
  close(shard);
  *waited = fitcl__now() - t0;
  return fd;
}

void fitcl__cache_unlock(int lock) {
  if (lock >= 0) close(lock);
}
