/* The one place that reads FITCL_* environment variables. */
#include "core/env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/util.h"

static const char *env_get(const fitcl_context_options *opt, const char *name) {
  if (opt && opt->ignore_env) return NULL;
  const char *v = getenv(name);
  return (v && *v) ? v : NULL;
}

static int parse_long(const char *s, long lo, long hi, long *out) {
  errno = 0;
  char *end = NULL;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end != '\0' || v < lo || v > hi) return 0;
  *out = v;
  return 1;
}

int fitcl__env_opencl_no_fp64(void) {
  const char *v = getenv("FITCL_OPENCL_NO_FP64");
  return v && *v && strcmp(v, "0") != 0;
}

const char *fitcl__precision_name(fitcl_precision p) {
  switch (p) {
  case FITCL_PRECISION_DOUBLE: return "double";
  case FITCL_PRECISION_MIXED: return "mixed";
  case FITCL_PRECISION_SINGLE: return "single";
  default: return "default";
  }
}

void fitcl__env_default_cache_dir(char *out, size_t size) {
  const char *d = getenv("FITCL_CACHE_DIR");
  if (d && *d) {
    fitcl__strlcpy(out, d, size);
    return;
  }
  const char *xdg = getenv("XDG_CACHE_HOME");
  if (xdg && *xdg && xdg[0] == '/') {
    snprintf(out, size, "%s/fitcl", xdg);
    return;
  }
  const char *home = getenv("HOME");
  if (home && *home) {
    snprintf(out, size, "%s/.cache/fitcl", home);
    return;
  }
  if (size) out[0] = '\0';
}

fitcl_status fitcl__env_resolve(const fitcl_context_options *opt, fitcl__env *e, char *err,
                                size_t errlen) {
  memset(e, 0, sizeof *e);
  const char *v;

  if (opt && opt->device) {
    fitcl__strlcpy(e->device, opt->device, sizeof e->device);
  } else if ((v = env_get(opt, "FITCL_DEVICE"))) {
    fitcl__strlcpy(e->device, v, sizeof e->device);
    e->device_from_env = 1;
  } else {
    fitcl__strlcpy(e->device, "auto", sizeof e->device);
  }

  if (opt && opt->threads > 0) {
    e->threads = opt->threads;
  } else if ((v = env_get(opt, "FITCL_THREADS"))) {
    long n;
    if (!parse_long(v, 1, 1024, &n)) {
      snprintf(err, errlen, "FITCL_THREADS='%s' is not a whole number from 1 to 1024", v);
      return FITCL_ERR_ENV;
    }
    e->threads = (int)n;
  } else {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    e->threads = n > 0 ? (int)(n > 1024 ? 1024 : n) : 1;
  }

  if (opt && opt->cache != FITCL_CACHE_DEFAULT) {
    e->cache = opt->cache;
  } else if ((v = env_get(opt, "FITCL_CACHE"))) {
    if (!strcasecmp(v, "on")) e->cache = FITCL_CACHE_ON;
    else if (!strcasecmp(v, "readonly")) e->cache = FITCL_CACHE_READONLY;
    else if (!strcasecmp(v, "off")) e->cache = FITCL_CACHE_OFF;
    else {
      snprintf(err, errlen, "FITCL_CACHE='%s' is not one of on, readonly, off", v);
      return FITCL_ERR_ENV;
    }
  } else {
    e->cache = FITCL_CACHE_ON;
  }

  if (opt && opt->cache_dir) {
    fitcl__strlcpy(e->cache_dir, opt->cache_dir, sizeof e->cache_dir);
  } else if (opt && opt->ignore_env) {
    e->cache_dir[0] = '\0';
    if (e->cache != FITCL_CACHE_OFF) e->cache = FITCL_CACHE_OFF;
  } else {
    fitcl__env_default_cache_dir(e->cache_dir, sizeof e->cache_dir);
  }

  if (opt && opt->cache_max_mb > 0) {
    e->cache_max_mb = opt->cache_max_mb;
  } else if ((v = env_get(opt, "FITCL_CACHE_MAX_MB"))) {
    long n;
    if (!parse_long(v, 1, 1L << 30, &n)) {
      snprintf(err, errlen, "FITCL_CACHE_MAX_MB='%s' is not a positive whole number of MiB", v);
      return FITCL_ERR_ENV;
    }
    e->cache_max_mb = n;
  } else {
    e->cache_max_mb = 512;
  }

  /* Blocks per hand-out of a context over several devices (0: chosen per
   * evaluation); fixing it forces a split, which must leave no trace. */
  if ((v = env_get(opt, "FITCL_DEVICE_UNIT"))) {
    long n;
    if (!parse_long(v, 1, 1L << 30, &n)) {
      snprintf(err, errlen, "FITCL_DEVICE_UNIT='%s' is not a positive whole number of blocks", v);
      return FITCL_ERR_ENV;
    }
    e->device_unit = n;
  }

  /* A cold build takes seconds; a farm node starting dozens of processes
   * at once can take minutes to reach the one that builds.  Past this the
   * waiter builds itself. */
  e->cache_lock_timeout = 300;
  if ((v = env_get(opt, "FITCL_CACHE_LOCK_TIMEOUT"))) {
    long n;
    if (!parse_long(v, 0, 86400, &n)) {
      snprintf(err, errlen,
               "FITCL_CACHE_LOCK_TIMEOUT='%s' is not a whole number of seconds from 0 to 86400", v);
      return FITCL_ERR_ENV;
    }
    e->cache_lock_timeout = n;
  }

  if (opt && opt->log_level != FITCL_LOG_DEFAULT) {
    e->log_level = opt->log_level;
  } else if ((v = env_get(opt, "FITCL_LOG"))) {
    static const char *names[] = {"off", "error", "warn", "info", "debug"};
    e->log_level = FITCL_LOG_DEFAULT;
    for (int i = 0; i < 5; ++i)
      if (!strcasecmp(v, names[i])) e->log_level = (fitcl_log_level)(FITCL_LOG_OFF + i);
    if (e->log_level == FITCL_LOG_DEFAULT) {
      snprintf(err, errlen, "FITCL_LOG='%s' is not one of off, error, warn, info, debug", v);
      return FITCL_ERR_ENV;
    }
  } else {
    e->log_level = FITCL_LOG_OFF;
  }
  if (opt && opt->precision != FITCL_PRECISION_DEFAULT) {
    if (opt->precision < FITCL_PRECISION_DOUBLE || opt->precision > FITCL_PRECISION_SINGLE) {
      snprintf(err, errlen, "precision option %d is not one of DEFAULT, DOUBLE, MIXED, SINGLE",
               (int)opt->precision);
      return FITCL_ERR_ARG;
    }
    e->precision = opt->precision;
  } else if ((v = env_get(opt, "FITCL_PRECISION"))) {
    e->precision = FITCL_PRECISION_DEFAULT;
    for (int p = FITCL_PRECISION_DOUBLE; p <= FITCL_PRECISION_SINGLE; ++p)
      if (!strcasecmp(v, fitcl__precision_name((fitcl_precision)p)))
        e->precision = (fitcl_precision)p;
    if (e->precision == FITCL_PRECISION_DEFAULT) {
      snprintf(err, errlen, "FITCL_PRECISION='%s' is not one of double, mixed, single", v);
      return FITCL_ERR_ENV;
    }
    e->precision_from_env = 1;
  }
  if ((v = env_get(opt, "FITCL_OPENCL_OPTIONS"))) {
    if (strlen(v) >= sizeof e->opencl_options) {
      snprintf(err, errlen, "FITCL_OPENCL_OPTIONS is longer than %zu characters", sizeof e->opencl_options - 1);
      return FITCL_ERR_ENV;
    }
    fitcl__strlcpy(e->opencl_options, v, sizeof e->opencl_options);
  }
  if (opt) {
    e->log_fn = opt->log_fn;
    e->log_user = opt->log_user;
  }
  return FITCL_OK;
}
