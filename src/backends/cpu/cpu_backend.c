/* The pthreads backend's driver: one device, the host's cores, always
 * present; opening it costs nothing beyond the context's pool. */
#include "backends/cpu/cpu.h"

#include <string.h>
#include <unistd.h>

#include "core/context.h"
#include "core/pool.h"
#include "core/util.h"

static fitcl_status cpu_discover(fitcl__devlist *list, char *why, size_t whylen) {
  (void)why;
  (void)whylen;
  fitcl_device_desc *c = fitcl__devlist_push(list, (fitcl__devref){NULL, NULL});
  if (!c) return FITCL_ERR_NOMEM;
  fitcl__strlcpy(c->selector, "cpu", sizeof c->selector);
  fitcl__strlcpy(c->backend, "cpu", sizeof c->backend);
  fitcl__strlcpy(c->name, "pthreads", sizeof c->name);
  fitcl__strlcpy(c->platform, "pthreads", sizeof c->platform);
  fitcl__strlcpy(c->vendor, "fitcl", sizeof c->vendor);
  fitcl__strlcpy(c->type, "cpu", sizeof c->type);
  fitcl__strlcpy(c->version, FITCL_VERSION_STRING, sizeof c->version);
  fitcl__strlcpy(c->driver, FITCL_VERSION_STRING, sizeof c->driver);
  c->fp64 = 1;
  fitcl__strlcpy(c->precision, "double", sizeof c->precision);
  c->platform_index = -1;
  c->device_index = -1;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
  c->compute_units = cpus > 0 ? (int)cpus : 1;
  c->global_mem_mb = (pages > 0 && psz > 0) ? (uint64_t)pages * (uint64_t)psz / (1024 * 1024) : 0;
  return FITCL_OK;
}

void fitcl__cpu_describe(fitcl_context *ctx, fitcl__backend *b) {
  memset(b, 0, sizeof *b);
  b->name = "cpu";
  long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
  const uint64_t mem = (pages > 0 && psz > 0) ? (uint64_t)pages * (uint64_t)psz : 0;
  b->caps = (fitcl__caps){.fp64 = 1,
                          .precision = FITCL_PRECISION_DOUBLE,
                          .host = 1,
                          .cpu_device = 1,
                          .unified_memory = 1,
                          .vector_width = 1,
                          .compute_units = (int)fitcl__pool_size(fitcl__ctx_pool(ctx)),
                          .max_work_group = 1,
                          .global_mem = mem,
                          .max_alloc = mem};
  b->reduce = &fitcl__reduce_cpu_ops;
  b->pmatrix = &fitcl__pmatrix_cpu_ops;
  b->kstate = &fitcl__kstate_cpu_ops;
  b->lik = &fitcl__lik_cpu_ops;
  b->accum = &fitcl__accum_cpu_ops;
  b->batch = &fitcl__batch_cpu_ops;
  b->voi = &fitcl__voi_cpu_ops;
  b->credit = &fitcl__credit_cpu_ops;
}

static fitcl_status cpu_open(fitcl_context *ctx, const fitcl_device_desc *desc, fitcl__devref ref,
                             fitcl__backend *b) {
  (void)desc;
  (void)ref;
  fitcl__cpu_describe(ctx, b);
  return FITCL_OK;
}

const fitcl__driver fitcl__driver_cpu = {"cpu", cpu_discover, cpu_open};
