/* Persistent program-binary cache.  See docs/cache.md for the format and the
 * reasons behind it (atomic rename, no lock files, safe directory, delete
 * and rebuild any bad entry, LRU by mtime). */
#include "cache/cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"

static const char MAGIC[8] = {'F', 'I', 'T', 'C', 'L', 'B', 'I', 'N'};
#define HEADER_FIXED (8 + 4 + 4)
#define MAX_KEY_LEN (1u << 20)

struct fitcl__cache {
  char dir[1024];
  fitcl_cache_mode mode;
  uint64_t max_bytes;
  fitcl_cache_stats stats;
};

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
  char sub[1100];
  snprintf(sub, sizeof sub, "%s/v%d", dir, FITCL__CACHE_FORMAT_VERSION);
  if (mode == FITCL_CACHE_ON) {
    if (mkdir(sub, 0700) != 0 && errno != EEXIST) {
      snprintf(why, whylen, "cannot create %s: %s", sub, strerror(errno));
      return FITCL_OK;
    }
    if (!fitcl__cache_dir_is_safe(sub, why, whylen)) return FITCL_OK;
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

static void key_hash(const char *key_text, char hex[65]) {
  fitcl__sha256_hex(key_text, strlen(key_text), hex);
}

void fitcl__cache_entry_path(const fitcl__cache *c, const char *key_text, char *out, size_t size) {
  char hex[65];
  key_hash(key_text, hex);
  snprintf(out, size, "%s/v%d/%.2s/%s.bin", c->dir, FITCL__CACHE_FORMAT_VERSION, hex, hex + 2);
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

static void bad_entry(fitcl__cache *c, const char *path) {
  if (c->mode == FITCL_CACHE_ON) unlink(path);
  c->stats.rebuilt++;
}

fitcl__cache_result fitcl__cache_get(fitcl__cache *c, const char *key_text, void **payload,
                                     size_t *len) {
  *payload = NULL;
  *len = 0;
  if (!c) return FITCL__CACHE_MISS;
  char path[1200];
  fitcl__cache_entry_path(c, key_text, path, sizeof path);
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    c->stats.misses++;
    return FITCL__CACHE_MISS;
  }
  unsigned char *data = NULL;
  struct stat st;
  size_t klen = strlen(key_text);
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) goto bad;
  size_t size = (size_t)st.st_size;
  if (size < HEADER_FIXED + klen + 8 + 32) goto bad;
  data = malloc(size);
  if (!data) {
    /* Out of memory is not the entry's fault: treat as a miss. */
    close(fd);
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
    c->stats.misses++;
    return FITCL__CACHE_MISS;
  }
  memcpy(p, data + off + 32, (size_t)plen);
  free(data);
  close(fd);
  /* Refresh the mtime: eviction removes the least recently used entries. */
  if (c->mode == FITCL_CACHE_ON) utimensat(AT_FDCWD, path, NULL, 0);
  *payload = p;
  *len = (size_t)plen;
  c->stats.hits++;
  return FITCL__CACHE_HIT;
bad:
  free(data);
  close(fd);
  bad_entry(c, path);
  return FITCL__CACHE_BAD;
}

void fitcl__cache_remove(fitcl__cache *c, const char *key_text) {
  if (!c) return;
  char path[1200];
  fitcl__cache_entry_path(c, key_text, path, sizeof path);
  if (c->mode == FITCL_CACHE_ON) unlink(path);
}

typedef struct entry {
  char path[1800];
  off_t size;
  struct timespec mtime;
} entry;

typedef int (*entry_fn)(void *user, const char *path, const struct stat *st, int is_tmp);

/* Walks <dir>/v1/<xx>/ files; calls fn for each regular file. */
static fitcl_status walk(const char *dir, entry_fn fn, void *user) {
  char root[1200];
  snprintf(root, sizeof root, "%s/v%d", dir, FITCL__CACHE_FORMAT_VERSION);
  DIR *d = opendir(root);
  if (!d) return errno == ENOENT ? FITCL_OK : FITCL_ERR_IO;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.' || strlen(de->d_name) != 2) continue;
    char sub[1500];
    snprintf(sub, sizeof sub, "%s/%s", root, de->d_name);
    DIR *s = opendir(sub);
    if (!s) continue;
    struct dirent *fe;
    while ((fe = readdir(s)) != NULL) {
      if (fe->d_name[0] == '.') continue;
      char path[1800];
      snprintf(path, sizeof path, "%s/%s", sub, fe->d_name);
      struct stat st;
      if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
      int is_tmp = strstr(fe->d_name, ".tmp") != NULL;
      if (fn(user, path, &st, is_tmp)) break;
    }
    closedir(s);
  }
  closedir(d);
  return FITCL_OK;
}

typedef struct collect {
  entry *v;
  size_t n, cap;
  uint64_t bytes;
  time_t now;
} collect;

static int collect_fn(void *user, const char *path, const struct stat *st, int is_tmp) {
  collect *c = user;
  if (is_tmp) {
    /* A temp file older than an hour belongs to a process that died. */
    if (c->now - st->st_mtime > 3600) unlink(path);
    return 0;
  }
  if (c->n == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 64;
    entry *v = realloc(c->v, cap * sizeof *v);
    if (!v) return 1;
    c->v = v;
    c->cap = cap;
  }
  entry *e = &c->v[c->n++];
  fitcl__strlcpy(e->path, path, sizeof e->path);
  e->size = st->st_size;
  e->mtime = st->st_mtim;
  c->bytes += (uint64_t)st->st_size;
  return 0;
}

static int by_mtime(const void *a, const void *b) {
  const entry *x = a, *y = b;
  if (x->mtime.tv_sec != y->mtime.tv_sec) return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
  if (x->mtime.tv_nsec != y->mtime.tv_nsec) return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
  return strcmp(x->path, y->path);
}

static void evict(fitcl__cache *c, const char *keep) {
  collect col = {0};
  col.now = time(NULL);
  walk(c->dir, collect_fn, &col);
  if (col.bytes > c->max_bytes) {
    qsort(col.v, col.n, sizeof *col.v, by_mtime);
    for (size_t i = 0; i < col.n && col.bytes > c->max_bytes; ++i) {
      if (keep && strcmp(col.v[i].path, keep) == 0) continue;
      if (unlink(col.v[i].path) == 0) {
        col.bytes -= (uint64_t)col.v[i].size;
        c->stats.evicted++;
      }
    }
  }
  free(col.v);
}

fitcl_status fitcl__cache_put(fitcl__cache *c, const char *key_text, const void *payload,
                              size_t len, char *why, size_t whylen) {
  if (why && whylen) why[0] = '\0';
  if (!c || c->mode != FITCL_CACHE_ON) return FITCL_OK;
  char path[1200], sub[1200], tmp[1300];
  fitcl__cache_entry_path(c, key_text, path, sizeof path);
  fitcl__strlcpy(sub, path, sizeof sub);
  *strrchr(sub, '/') = '\0';
  if (mkdir(sub, 0700) != 0 && errno != EEXIST) {
    snprintf(why, whylen, "cannot create %s: %s", sub, strerror(errno));
    return FITCL_ERR_IO;
  }
  snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    snprintf(why, whylen, "cannot create a temporary file in %s: %s", sub, strerror(errno));
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
  if (close(fd) != 0) ok = 0;
  if (!ok || rename(tmp, path) != 0) {
    if (ok) saved = errno;
    unlink(tmp);
    snprintf(why, whylen, "cannot write cache entry %s: %s", path, strerror(saved));
    return FITCL_ERR_IO;
  }
  c->stats.stored++;
  evict(c, path);
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

static int count_fn(void *user, const char *path, const struct stat *st, int is_tmp) {
  (void)path;
  uint64_t *v = user;
  if (is_tmp) return 0;
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

static int clear_fn(void *user, const char *path, const struct stat *st, int is_tmp) {
  (void)st;
  (void)is_tmp;
  uint64_t *n = user;
  if (unlink(path) == 0) (*n)++;
  return 0;
}

fitcl_status fitcl__cache_clear_dir(const char *dir, uint64_t *removed) {
  *removed = 0;
  return walk(dir, clear_fn, removed);
}
