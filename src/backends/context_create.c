/* Context creation: environment → worker pool → cache → device discovery
 * over the drivers (backends/registry.c) → selection → the chosen driver
 * opens its device and fills the context's backend descriptor.  Every
 * kernel program is built here, once, never per call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backends/cpu/cpu.h"
#include "backends/registry.h"
#include "cache/cache.h"
#include "core/context.h"
#include "core/ranks.h"
#include "core/pool.h"
#include "core/util.h"
#include "device/backend.h"
#include "device/discover_memo.h"
#include "device/opencl_absent.h"
#include "device/selector.h"
#include "kernels/accum_multi.h"
#include "kernels/lik_multi.h"
#include "kernels/tune.h"

/* The two descriptors live with the context, in one allocation. */
typedef struct context_mem {
  fitcl_context ctx;
  fitcl__backend device, host;
} context_mem;

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

/* A driver leaves NULL each family its device cannot run (on a device
 * without fp64, the families without a float form): those run on the
 * host, the pthreads backend every context has, in double. */
static void route_to_host(fitcl__backend *b, const fitcl__backend *host) {
  if (!b->reduce) b->reduce = host->reduce;
  if (!b->pmatrix) b->pmatrix = host->pmatrix;
  if (!b->kstate) b->kstate = host->kstate;
  if (!b->lik) b->lik = host->lik;
  if (!b->accum) b->accum = host->accum;
  if (!b->batch) b->batch = host->batch;
  if (!b->voi) b->voi = host->voi;
  if (!b->credit) b->credit = host->credit;
}

/* Opens one device with its driver.  On failure the detail is in
 * ctx->errmsg and the device descriptor is left empty. */
static fitcl_status open_device(fitcl_context *ctx, const fitcl_device_desc *d, fitcl__devref ref) {
  const fitcl__driver *drv = fitcl__driver_named(d->backend);
  if (!drv) return fitcl__fail(ctx, FITCL_ERR_INTERNAL, "no driver for backend %s", d->backend);
  fitcl__strlcpy(ctx->device_name, d->name, sizeof ctx->device_name);
  fitcl__strlcpy(ctx->platform_name, d->platform, sizeof ctx->platform_name);
  fitcl__strlcpy(ctx->selector, d->selector, sizeof ctx->selector);
  double t0 = fitcl__now();
  fitcl__backend *b = ctx->backend;
  fitcl_status st = drv->open(ctx, d, ref, b);
  ctx->build_seconds = fitcl__now() - t0;
  if (st != FITCL_OK) {
    memset(b, 0, sizeof *b);
    ctx->programs = 0;
    return st;
  }
  route_to_host(b, ctx->host);
  return st;
}

_Static_assert(FITCL__MAX_SET == FITCL__MAX_DEVICES, "a selector's set fits a context");

/* The other devices of a set, each a context of its own with the caller's
 * settings on exactly that device.  On failure ctx's own device is closed
 * again and the detail is in ctx->errmsg. */
static fitcl_status open_subs(fitcl_context *ctx, const fitcl_context_options *opt,
                              const fitcl__devlist *list, const fitcl__devset *set) {
  fitcl_status st = FITCL_OK;
  for (size_t k = 1; k < set->n; ++k) {
    const fitcl_device_desc *d = &list->desc[set->dev[k]];
    fitcl_context_options o;
    memset(&o, 0, sizeof o);
    if (opt) o = *opt;
    o.device = d->selector;
    fitcl_context *sub = NULL;
    st = fitcl_context_create(&o, &sub);
    if (st != FITCL_OK) {
      fitcl__fail(ctx, st, "device %s (%s) of the set: %.2000s", d->selector, d->name,
                  sub ? sub->errmsg : "out of memory");
      fitcl_context_destroy(sub);
      break;
    }
    ctx->sub[ctx->nsub++] = sub;
  }
  if (st == FITCL_OK) {
    ctx->lik_split = &fitcl__lik_multi_split;
    ctx->accum_split = &fitcl__accum_multi_split;
    return st;
  }
  while (ctx->nsub > 0) fitcl_context_destroy(ctx->sub[--ctx->nsub]);
  if (ctx->backend->close) ctx->backend->close(ctx->backend);
  memset(ctx->backend, 0, sizeof *ctx->backend);
  return st;
}

/* `word` alone, in any case and with spaces around it. */
static int is_plain(const char *sel, const char *word) {
  while (*sel == ' ' || *sel == '\t') ++sel;
  size_t n = strlen(sel), w = strlen(word);
  while (n && (sel[n - 1] == ' ' || sel[n - 1] == '\t')) --n;
  return n == w && strncasecmp(sel, word, w) == 0;
}

fitcl_status fitcl_context_create(const fitcl_context_options *opt, fitcl_context **out) {
  if (!out) return FITCL_ERR_NULL;
  *out = NULL;
  context_mem *mem = calloc(1, sizeof *mem);
  if (!mem) return FITCL_ERR_NOMEM;
  fitcl_context *ctx = &mem->ctx;
  ctx->backend = &mem->device;
  ctx->host = &mem->host;
  *out = ctx;
  fitcl__devlist list = {0};
  char err[4096];
  fitcl_status st = fitcl__env_resolve(opt, &ctx->env, err, sizeof err);
  if (st != FITCL_OK) return fitcl__fail(ctx, st, "%s", err);

  st = fitcl__pool_create((unsigned)ctx->env.threads, &ctx->pool);
  if (st != FITCL_OK) return fitcl__fail(ctx, st, "cannot start %d worker threads", ctx->env.threads);
  fitcl__cpu_describe(ctx, ctx->host);

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
    st = fitcl__discover(&list, 1);
  } else if (have_key && fitcl__discovery_memo_no_gpu(ctx->cache, memo_key)) {
    ctx->discovery = "remembered";
    fitcl__log(ctx, FITCL_LOG_INFO,
               "auto: the last probe on this host found no OpenCL GPU; not loading OpenCL "
               "(`fitcl cache clear` forgets it)");
    st = fitcl__discover(&list, 1);
  } else {
    ctx->discovery = "probed";
    st = fitcl__discover(&list, 0);
  }
  if (st != FITCL_OK) {
    fitcl__fail(ctx, st, "device discovery failed");
    goto done;
  }
  fitcl__devset sets[FITCL__MAX_CANDIDATES];
  size_t ncand = 0;
  int fallback = 0;
  const char *label = ctx->env.device_from_env ? "FITCL_DEVICE" : "device selector";
  st = fitcl__selector_sets(ctx->env.device, label, list.desc, list.n, sets, &ncand, &fallback, err,
                            sizeof err);
  if (st != FITCL_OK) {
    fitcl__fail(ctx, st, "%s", err);
    goto done;
  }
  /* Only the cpu backend left after a real probe: remember it. */
  if (have_key && !strcmp(ctx->discovery, "probed") && ncand == 1 && sets[0].n == 1 &&
      !strcmp(list.desc[sets[0].dev[0]].backend, "cpu"))
    fitcl__discovery_memo_store_no_gpu(ctx->cache, memo_key);

  st = FITCL_ERR_NO_DEVICE;
  for (size_t k = 0; k < ncand; ++k) {
    const fitcl_device_desc *d = &list.desc[sets[k].dev[0]];
    st = open_device(ctx, d, list.ref[sets[k].dev[0]]);
    if (st == FITCL_OK && sets[k].n > 1) st = open_subs(ctx, opt, &list, &sets[k]);
    /* `auto` (or a list) on a host where OpenCL cannot even be loaded:
     * the cpu backend is a fallback worth a reason.  Only after a probe,
     * which has tried the load; a remembered host is not reloaded. */
    const char *absent = st == FITCL_OK && fallback && ctx->backend->caps.host &&
                                 !strcmp(ctx->discovery, "probed") && !ctx->fallback_reason[0]
                             ? fitcl__opencl_absent_reason()
                             : NULL;
    if (absent) {
      snprintf(ctx->fallback_reason, sizeof ctx->fallback_reason, "OpenCL is unavailable: %s",
               absent);
      fitcl__log(ctx, FITCL_LOG_INFO, "%s; using the cpu backend", ctx->fallback_reason);
    }
    if (st == FITCL_OK) break;
    if (!fallback) goto done; /* a named device that fails is an error, not a detour */
    snprintf(ctx->fallback_reason, sizeof ctx->fallback_reason, "%s (%s) failed: %.400s",
             d->selector, d->name, ctx->errmsg);
    fitcl__log(ctx, FITCL_LOG_WARN, "%s; trying the next candidate", ctx->fallback_reason);
  }
  if (st != FITCL_OK) goto done;
  fitcl__tuning_load(ctx);
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
  fitcl__devlist_free(&list);
  return st;
}

void fitcl_context_destroy(fitcl_context *ctx) {
  if (!ctx) return;
  if (ctx->ranks) ctx->ranks->release(ctx->ranks);
  for (int k = 0; k < ctx->nsub; ++k) fitcl_context_destroy(ctx->sub[k]);
  if (ctx->backend->close) ctx->backend->close(ctx->backend);
  fitcl__cache_close(ctx->cache);
  fitcl__pool_destroy(ctx->pool);
  free((context_mem *)(void *)ctx);
}

fitcl_status fitcl_context_get_info(const fitcl_context *ctx, fitcl_context_info *info) {
  if (!ctx || !info) return FITCL_ERR_NULL;
  memset(info, 0, sizeof *info);
  info->backend = ctx->backend->name ? ctx->backend->name : "none";
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
  info->precision = fitcl__precision_name(ctx->backend->caps.precision);
  info->cache_mode = ctx->env.cache == FITCL_CACHE_OFF        ? "off"
                     : ctx->env.cache == FITCL_CACHE_READONLY ? "readonly"
                                                              : "on";
  fitcl__cache_stats(ctx->cache, &info->cache);
  /* A hit the driver refused was really a rebuild. */
  info->cache.hits -= ctx->driver_rejected;
  info->cache.rebuilt += ctx->driver_rejected;
  info->ndevices = 1 + ctx->nsub;
  return FITCL_OK;
}

fitcl_status fitcl_context_device(const fitcl_context *ctx, int i, fitcl_context_device_info *out) {
  if (!ctx || !out) return FITCL_ERR_NULL;
  memset(out, 0, sizeof *out);
  if (i < 0 || i > ctx->nsub) return FITCL_ERR_RANGE;
  const fitcl_context *c = i == 0 ? ctx : ctx->sub[i - 1];
  out->selector = c->selector;
  out->backend = c->backend->name ? c->backend->name : "none";
  out->device = c->device_name;
  out->blocks = ctx->blocks[i];
  out->replicates = ctx->replicates[i];
  return FITCL_OK;
}
