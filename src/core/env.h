/* Every FITCL_* environment variable is read here, once, when a context is
 * created; options fields that are nonzero take precedence. */
#ifndef FITCL_CORE_ENV_H
#define FITCL_CORE_ENV_H

#include "fitcl.h"

typedef struct fitcl__env {
  char device[512];          /* selector text */
  int device_from_env;       /* 1 when it came from $FITCL_DEVICE */
  long device_unit;          /* $FITCL_DEVICE_UNIT: blocks per hand-out over several devices
                                (0: chosen per evaluation) */
  int threads;
  fitcl_cache_mode cache;
  char cache_dir[1024];      /* resolved directory ("" when none could be found) */
  long cache_max_mb;
  long cache_lock_timeout;   /* seconds to wait for another process's build */
  fitcl_log_level log_level;
  char opencl_options[256];  /* extra OpenCL build options ($FITCL_OPENCL_OPTIONS) */
  fitcl_precision precision; /* DEFAULT: chosen per device when it opens */
  int precision_from_env;    /* 1 when it came from $FITCL_PRECISION */
  fitcl_log_fn log_fn;
  void *log_user;
} fitcl__env;

/* Resolves options + environment.  On a malformed variable returns
 * FITCL_ERR_ENV and writes a one-line message naming it into err. */
fitcl_status fitcl__env_resolve(const fitcl_context_options *opt, fitcl__env *out,
                                char *err, size_t errlen);

/* $FITCL_OPENCL_NO_FP64=1: every OpenCL device is treated as lacking fp64
 * (so the no-fp64 path runs on any OpenCL device, PoCL included).  Read at
 * each discovery, which needs no context. */
int fitcl__env_opencl_no_fp64(void);

/* "double", "mixed", "single" ("default" for DEFAULT). */
const char *fitcl__precision_name(fitcl_precision p);

/* The cache directory a default context would use ("" if none). */
void fitcl__env_default_cache_dir(char *out, size_t size);

#endif
