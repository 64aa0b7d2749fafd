/* Public cache maintenance: what `fitcl cache info|clear` use. */
#include <stdio.h>
#include <string.h>

#include "cache/cache.h"
#include "core/env.h"
#include "core/util.h"

static fitcl_status default_env(fitcl__env *e, char *err, size_t errlen) {
  return fitcl__env_resolve(NULL, e, err, errlen);
}

fitcl_status fitcl_cache_inspect(fitcl_cache_summary *out) {
  if (!out) return FITCL_ERR_NULL;
  memset(out, 0, sizeof *out);
  fitcl__env e;
  fitcl_status st = default_env(&e, out->reason, sizeof out->reason);
  if (st != FITCL_OK) return st;
  fitcl__strlcpy(out->dir, e.cache_dir, sizeof out->dir);
  out->max_bytes = (uint64_t)e.cache_max_mb * 1024u * 1024u;
  if (!e.cache_dir[0]) {
    fitcl__strlcpy(out->reason, "no cache directory could be determined", sizeof out->reason);
    return FITCL_OK;
  }
  out->usable = fitcl__cache_dir_is_safe(e.cache_dir, out->reason, sizeof out->reason);
  if (e.cache == FITCL_CACHE_OFF) {
    out->usable = 0;
    fitcl__strlcpy(out->reason, "disabled by FITCL_CACHE=off", sizeof out->reason);
  }
  return fitcl__cache_scan(e.cache_dir, &out->entries, &out->bytes);
}

fitcl_status fitcl_cache_clear(uint64_t *removed) {
  uint64_t dummy;
  if (!removed) removed = &dummy;
  *removed = 0;
  fitcl__env e;
  char err[256];
  fitcl_status st = default_env(&e, err, sizeof err);
  if (st != FITCL_OK) return st;
  if (!e.cache_dir[0]) return FITCL_OK;
  char why[512];
  /* Only clear a directory we would also use: never delete in a foreign one. */
  if (!fitcl__cache_dir_is_safe(e.cache_dir, why, sizeof why)) return FITCL_OK;
  return fitcl__cache_clear_dir(e.cache_dir, removed);
}
