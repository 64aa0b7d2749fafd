/* The context: the worker pool, the settings, the error/log state, and the
 * backend it runs on (a descriptor filled by the backend's driver, see
 * device/backend.h).  Internal.  Core only lays the context out; creating
 * one is the job of src/backends/context_create.c, which sees every layer. */
#ifndef FITCL_CORE_CONTEXT_H
#define FITCL_CORE_CONTEXT_H

#include <stdarg.h>
#include "fitcl.h"
#include "core/env.h"

/* Devices one context may join (FITCL_DEVICE=a+b+...). */
#define FITCL__MAX_DEVICES 16

typedef struct fitcl__pool fitcl__pool;
typedef struct fitcl__ranks fitcl__ranks;
typedef struct fitcl__cache fitcl__cache;
struct fitcl__backend;

struct fitcl_context {
  struct fitcl__backend *backend; /* the device's descriptor (device/backend.h) */
  struct fitcl__backend *host;    /* the pthreads descriptor on `pool` (may equal backend) */
  fitcl__env env;            /* settings after options + environment */
  fitcl__pool *pool;         /* always present: the pthreads backend and host work */
  fitcl__cache *cache;       /* NULL when off or unusable */
  uint64_t driver_rejected;  /* cache hits whose binary the driver refused (rebuilt) */
  uint64_t runtime_builds;   /* programs built after creation (generated sources) */
  double build_seconds;
  int programs;
  const char *discovery;     /* "probed", "remembered" or "skipped" (fitcl_context_info) */
  char device_name[128];
  char platform_name[128];
  char selector[128];
  char cache_dir[1024];      /* "" when uncached */
  char fallback_reason[1024];
  char errmsg[16384];        /* detail of the last failure (may hold a build log) */
  fitcl__ranks *ranks;       /* the processes sharing the work (core/ranks.h); NULL: this one */
  /* A context over several devices (FITCL_DEVICE=a+b): this context runs
   * on the first; each other device has a context of its own here, opened
   * with the same settings.  Families that share their blocks over the
   * devices (kernels/lik_multi.c) use them; every other family runs here. */
  struct fitcl_context *sub[FITCL__MAX_DEVICES - 1];
  int nsub;
  /* With sub-contexts: how the likelihood family shares a handle's blocks
   * over the devices (kernels/lik_multi.c), set where the context is made
   * (backends/context_create.c), so the family's driver calls it without
   * knowing it.  NULL on one device. */
  const struct fitcl__lik_split *lik_split;
  /* The same for the accumulation pass (kernels/accum_multi.c). */
  const struct fitcl__accum_split *accum_split;
  uint64_t blocks[FITCL__MAX_DEVICES]; /* blocks each device computed (this one first) */
  uint64_t replicates[FITCL__MAX_DEVICES]; /* bootstrap replicates each device fitted whole */
};

/* Records the detail of a failure and returns `status`, so call sites read
 * `return fitcl__fail(ctx, FITCL_ERR_ARG, "gain must be > 0, got %g", g);`
 * Also logs it at error level.  ctx may be NULL. */
fitcl_status fitcl__fail(fitcl_context *ctx, fitcl_status status, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
fitcl_status fitcl__failv(fitcl_context *ctx, fitcl_status status, const char *fmt, va_list ap);
/* The same with a multi-line detail (a compiler's build log) after the
 * one-line message.  Control bytes are escaped in both (core/util.h:
 * fitcl__escape_controls); only the detail keeps its newlines. */
fitcl_status fitcl__fail_detail(fitcl_context *ctx, fitcl_status status, const char *detail,
                                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Clears the last error (called at the start of public calls). */
void fitcl__clear_error(fitcl_context *ctx);

/* Logging: goes to the callback, or to stderr when a level was set. */
void fitcl__log(const fitcl_context *ctx, fitcl_log_level level, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

/* The worker pool of the context (both backends use it for host work). */
static inline fitcl__pool *fitcl__ctx_pool(fitcl_context *ctx) { return ctx->pool; }

#endif
