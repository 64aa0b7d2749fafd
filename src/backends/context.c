/* Context creation: environment → device selection → worker pool →
 * programs built or loaded from the cache.  Every kernel program is built
 * here, once, never per call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache/cache.h"
#include "core/context.h"
#include "core/pool.h"
#include "core/util.h"
#include "device/discover.h"
#include "device/discover_memo.h"
#include "device/opencl/ocl.h"
#include "device/selector.h"

static fitcl_status open_cache(fitcl_context *ctx) {
  if (ctx->env.cache == FITCL_CACHE_OFF) return FITCL_OK;
  char why[1024];
  uint64_t cap = (uint64_t)ctx->env.cache_max_mb * 1024u * 1024u;
  fitcl_status st = fitcl__cache_open(ctx->env.cache_dir, ctx->env.cache, cap, &ctx->cache, why,
                                      sizeof why);
  if (st != FITCL_OK) return fitcl__fail(ctx, st, "opening the program cache: %s", why);
  if (!ctx->cache) fitcl__log(ctx, FITCL_LOG_WARN, "program cache not used: %s; running uncached", why);
  else fitcl__strlcpy(ctx->cache_dir, ctx->env.cache_dir, sizeof ctx->cache_dir);
  return FITCL_OK;
}

static void use_cpu(fitcl_context *ctx) {
  ctx->backend = FITCL__BACKEND_CPU;
  fitcl__strlcpy(ctx->device_name, "pthreads", sizeof ctx->device_name);
  fitcl__strlcpy(ctx->platform_name, "pthreads", sizeof ctx->platform_name);
  fitcl__strlcpy(ctx->selector, "cpu", sizeof ctx->selector);
}

/* Tries one OpenCL device.  On failure the detail is in ctx->errmsg. */
static fitcl_status try_opencl(fitcl_context *ctx, const fitcl_device_desc *d,
                               const fitcl__device_ids *ids) {
  ctx->backend = FITCL__BACKEND_OPENCL;
  fitcl__strlcpy(ctx->device_name, d->name, sizeof ctx->device_name);
  fitcl__strlcpy(ctx->platform_name, d->platform, sizeof ctx->platform_name);
  fitcl__strlcpy(ctx->selector, d->selector, sizeof ctx->selector);
  double t0 = fitcl__now();
  fitcl__ocl *o = NULL;
  fitcl_status st = fitcl__ocl_create(ctx, ids->platform, ids->device, &o);
  ctx->build_seconds = fitcl__now() - t0;
  if (st != FITCL_OK) {
    ctx->ocl = NULL;
    return st;
  }
  ctx->ocl = o;
  ctx->programs = o->nprograms;
  return FITCL_OK;
}

/* `word` alone, in any case and with spaces around it. */
static int is_plain(const char *sel, const char *word) {
  while (*sel == ' ' || *sel == '\t') ++sel;
  size_t n = strlen(sel), w = strlen(word);
  while (n && (sel[n - 1] == ' ' || sel[n - 1] == '\t')) --n;
  return n == w && strncasecmp(sel, word, w) == 0;
}

static fitcl_status cpu_only_list(fitcl_device_desc **list, fitcl__device_ids **ids, size_t *count) {
  *list = calloc(1, sizeof **list);
  *ids = calloc(1, sizeof **ids);
  *count = 1;
  if (!*list || !*ids) return FITCL_ERR_NOMEM;
  fitcl__cpu_device_desc(*list);
  return FITCL_OK;
}

fitcl_status fitcl_context_create(const fitcl_context_options *opt, fitcl_context **out) {
  if (!out) return FITCL_ERR_NULL;
  *out = NULL;
  fitcl_context *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return FITCL_ERR_NOMEM;
  *out = ctx;
  fitcl_device_desc *list = NULL;
  fitcl__device_ids *ids = NULL;
  size_t count = 0;
  char err[4096];
  fitcl_status st = fitcl__env_resolve(opt, &ctx->env, err, sizeof err);
  if (st != FITCL_OK) return fitcl__fail(ctx, st, "%s", err);

  st = fitcl__pool_create((unsigned)ctx->env.threads, &ctx->pool);
  if (st != FITCL_OK) return fitcl__fail(ctx, st, "cannot start %d worker threads", ctx->env.threads);

  st = open_cache(ctx);
  if (st != FITCL_OK) goto done;
  /* Loading the OpenCL runtimes costs tens of milliseconds per process (a
   * large share of a small fit): a plain "cpu" needs none of them, and an
   * "auto" on a host known to have no GPU neither. */
  int is_auto = is_plain(ctx->env.device, "auto") || is_plain(ctx->env.device, "");
  char memo_key[8192];
  int have_key = is_auto && ctx->cache && fitcl__discovery_key(memo_key, sizeof memo_key);
  if (is_plain(ctx->env.device, "cpu") || is_plain(ctx->env.device, "pthreads")) {
    ctx->discovery = "skipped";
    st = cpu_only_list(&list, &ids, &count);
  } else if (have_key && fitcl__discovery_memo_no_gpu(ctx->cache, memo_key)) {
    ctx->discovery = "remembered";
    fitcl__log(ctx, FITCL_LOG_INFO,
               "auto: the last probe on this host found no OpenCL GPU; not loading OpenCL "
               "(`fitcl cache clear` forgets it)");
    st = cpu_only_list(&list, &ids, &count);
  } else {
    ctx->discovery = "probed";
    st = fitcl__devices_discover(&list, &ids, &count);
  }
  if (st != FITCL_OK) {
    fitcl__fail(ctx, st, "device discovery failed");
    goto done;
  }
  size_t cand[FITCL__MAX_CANDIDATES], ncand = 0;
  int fallback = 0;
  const char *label = ctx->env.device_from_env ? "FITCL_DEVICE" : "device selector";
  st = fitcl__selector_candidates(ctx->env.device, label, list, count, cand, &ncand, &fallback, err,
                                  sizeof err);
  if (st != FITCL_OK) {
    fitcl__fail(ctx, st, "%s", err);
    goto done;
  }
  /* Only the cpu backend left after a real probe: remember it. */
  if (have_key && !strcmp(ctx->discovery, "probed") && ncand == 1 &&
      !strcmp(list[cand[0]].backend, "cpu"))
    fitcl__discovery_memo_store_no_gpu(ctx->cache, memo_key);

  st = FITCL_ERR_NO_DEVICE;
  for (size_t k = 0; k < ncand; ++k) {
    const fitcl_device_desc *d = &list[cand[k]];
    if (strcmp(d->backend, "cpu") == 0) {
      use_cpu(ctx);
      /* `auto` (or a list) on a host where OpenCL cannot even be loaded:
       * the cpu backend is a fallback worth a reason.  Only after a probe,
       * which has tried the load; a remembered host is not reloaded. */
      const char *absent = fallback && !strcmp(ctx->discovery, "probed") && !ctx->fallback_reason[0]
                               ? fitcl__opencl_absent_reason()
                               : NULL;
      if (absent) {
        snprintf(ctx->fallback_reason, sizeof ctx->fallback_reason, "OpenCL is unavailable: %s",
                 absent);
        fitcl__log(ctx, FITCL_LOG_INFO, "%s; using the cpu backend", ctx->fallback_reason);
      }
      st = FITCL_OK;
      break;
    }
    st = try_opencl(ctx, d, &ids[cand[k]]);
    if (st == FITCL_OK) break;
    if (!fallback) goto done; /* a named device that fails is an error, not a detour */
    snprintf(ctx->fallback_reason, sizeof ctx->fallback_reason, "%s (%s) failed: %.400s",
             d->selector, d->name, ctx->errmsg);
    fitcl__log(ctx, FITCL_LOG_WARN, "%s; trying the next candidate", ctx->fallback_reason);
  }
  if (st != FITCL_OK) goto done;
  fitcl__clear_error(ctx);
  {
    fitcl_context_info info;
    fitcl_context_get_info(ctx, &info);
    fitcl__log(ctx, FITCL_LOG_INFO,
               "backend %s, device %s (%s), %d threads, %d programs in %.3f s; cache %s: "
               "%llu hits, %llu misses, %llu rebuilt, %llu evicted",
               info.backend, info.device, info.selector, info.threads, info.programs,
               info.build_seconds, info.cache_dir ? info.cache_dir : "off",
               (unsigned long long)info.cache.hits, (unsigned long long)info.cache.misses,
               (unsigned long long)info.cache.rebuilt, (unsigned long long)info.cache.evicted);
  }
done:
  free(list);
  free(ids);
  return st;
}

void fitcl_context_destroy(fitcl_context *ctx) {
  if (!ctx) return;
  fitcl__ocl_destroy(ctx->ocl);
  fitcl__cache_close(ctx->cache);
  fitcl__pool_destroy(ctx->pool);
  free(ctx);
}

fitcl_status fitcl_context_get_info(const fitcl_context *ctx, fitcl_context_info *info) {
  if (!ctx || !info) return FITCL_ERR_NULL;
  memset(info, 0, sizeof *info);
  info->backend = ctx->backend == FITCL__BACKEND_OPENCL ? "opencl" : "cpu";
  info->device = ctx->device_name;
  info->platform = ctx->platform_name;
  info->selector = ctx->selector;
  info->requested = ctx->env.device;
  info->fallback_reason = ctx->fallback_reason[0] ? ctx->fallback_reason : NULL;
  info->threads = (int)fitcl__pool_size(ctx->pool);
  info->programs = ctx->programs;
  info->build_seconds = ctx->build_seconds;
  info->cache_dir = ctx->cache ? ctx->cache_dir : NULL;
  info->discovery = ctx->discovery;
  info->cache_mode = ctx->env.cache == FITCL_CACHE_OFF        ? "off"
                     : ctx->env.cache == FITCL_CACHE_READONLY ? "readonly"
                                                              : "on";
  fitcl__cache_stats(ctx->cache, &info->cache);
  /* A hit the driver refused was really a rebuild. */
  info->cache.hits -= ctx->driver_rejected;
  info->cache.rebuilt += ctx->driver_rejected;
  return FITCL_OK;
}
