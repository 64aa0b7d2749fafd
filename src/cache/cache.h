/* Persistent program-binary cache (docs/cache.md).  Internal.
 *
 * Entries are addressed by SHA-256 of a key text that the caller composes
 * from everything that affects the binary.  The file also stores the full
 * key text, so a hash collision or a stale entry can never be served. */
#ifndef FITCL_CACHE_CACHE_H
#define FITCL_CACHE_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include "fitcl.h"

#define FITCL__CACHE_FORMAT_VERSION 1

typedef struct fitcl__cache fitcl__cache;

typedef enum fitcl__cache_result {
  FITCL__CACHE_MISS = 0,     /* no entry */
  FITCL__CACHE_HIT = 1,      /* payload returned */
  FITCL__CACHE_BAD = 2       /* an entry existed but was bad; it was deleted */
} fitcl__cache_result;

/* Opens (creating with mode 0700 when absent) the cache directory.  Returns
 * FITCL_OK with *out NULL and a reason in `why` when the directory must not
 * be used (foreign owner, group/world writable, not creatable). */
fitcl_status fitcl__cache_open(const char *dir, fitcl_cache_mode mode, uint64_t max_bytes,
                               fitcl__cache **out, char *why, size_t whylen);
void fitcl__cache_close(fitcl__cache *c);

/* Looks an entry up.  On HIT *payload is malloc'ed (caller frees).  A bad
 * entry (short, bad magic, digest or key mismatch) is deleted (unless
 * read-only) and reported as BAD.  The entry's mtime is refreshed (LRU). */
fitcl__cache_result fitcl__cache_get(fitcl__cache *c, const char *key_text,
                                     void **payload, size_t *len);
/* Stores an entry atomically (mkstemp in the same directory, fsync, rename),
 * then evicts least-recently-used entries above the cap.  Failures are not
 * fatal: they only cost a rebuild next time; `why` says what went wrong. */
fitcl_status fitcl__cache_put(fitcl__cache *c, const char *key_text, const void *payload,
                              size_t len, char *why, size_t whylen);
/* The same for small records that are not programs (the device-discovery
 * memo): they leave the hit/miss statistics, which count programs, alone. */
fitcl__cache_result fitcl__cache_get_meta(fitcl__cache *c, const char *key_text, void **payload,
                                          size_t *len);
fitcl_status fitcl__cache_put_meta(fitcl__cache *c, const char *key_text, const void *payload,
                                   size_t len, char *why, size_t whylen);
/* The second look after waiting for another process's build
 * (fitcl__cache_lock): a hit takes the place of the miss the first look
 * counted, a miss is not counted twice. */
fitcl__cache_result fitcl__cache_get_again(fitcl__cache *c, const char *key_text, void **payload,
                                           size_t *len);
/* Deletes the entry for key_text (e.g. when the driver rejected its binary). */
void fitcl__cache_remove(fitcl__cache *c, const char *key_text);

/* Counters since open (hits, misses, rebuilt, evicted, stored). */
void fitcl__cache_stats(const fitcl__cache *c, fitcl_cache_stats *out);
const char *fitcl__cache_dir(const fitcl__cache *c);

/* The path of the file for a key (for tests and `fitcl cache info`). */
void fitcl__cache_entry_path(const fitcl__cache *c, const char *key_text, char *out, size_t size);

/* Single-flight builds: a process about to build the program for key_text
 * takes this lock first, so that of many processes starting cold at once
 * one builds and the others wait, then load its binary (they look the
 * entry up again once they hold the lock).  Returns the lock (a descriptor
 * of <shard>/<hash>.lock held with flock) or -1 when none could be had: no
 * writable cache, a file system without locks, or timeout_s elapsed while
 * another process held it (a builder that hangs); the caller then builds
 * without it.  A builder that dies loses its lock with its descriptors, so
 * a crash never leaves the others waiting.  *waited: seconds spent. */
int fitcl__cache_lock(fitcl__cache *c, const char *key_text, double timeout_s, double *waited);
void fitcl__cache_unlock(int lock);

/* Checks whether a directory is safe (owned by us, not group/world
 * writable).  Returns 1 when safe; otherwise 0 with a reason. */
int fitcl__cache_dir_is_safe(const char *dir, char *why, size_t whylen);

/* Scans a directory: entry count and total bytes.  Only trusted shard
 * directories (not symlinks) and files named as the cache names them are
 * counted, or deleted by clear (lock files only when nobody holds them). */
fitcl_status fitcl__cache_scan(const char *dir, uint64_t *entries, uint64_t *bytes);
/* Removes every entry. */
fitcl_status fitcl__cache_clear_dir(const char *dir, uint64_t *removed);

#endif
