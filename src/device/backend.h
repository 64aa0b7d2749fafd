/* The backend interface.  Internal.
 *
 * A backend is one way of running the kernel families: the pthreads pool
 * (src/backends/cpu/) or an OpenCL device (src/backends/opencl/).  Each is a
 * *driver*: a name, a way to list its devices and a way to open one of them
 * for a context.  Opening fills a *backend descriptor*: the capabilities of
 * the device and one ops table per kernel family.  A context holds the
 * descriptor of its device, and every family calls through its table:
 *
 *     ctx->backend->lik->eval(L, want_grad)
 *
 * so no code outside a driver asks which backend it runs on.  A family's ops
 * table type is declared by the family (src/kernels/<family>.h); this header
 * only names them, so the device layer needs nothing from above it.
 *
 * Every context also holds the host descriptor (ctx->host): the pthreads
 * backend on the context's own pool.  A family whose device cannot run some
 * piece of work (a model given as a C callback, say) runs it there.
 *
 * Adding a backend: a folder src/backends/<name>/ with one file per family
 * that implements its ops table, and one <name>_backend.c that defines the
 * driver (discover, open) and fills the descriptor; then one line in the
 * driver table of src/backends/registry.c.  src/backends/cpu/ is the example
 * to copy; docs/ARCHITECTURE.md walks through it. */
#ifndef FITCL_DEVICE_BACKEND_H
#define FITCL_DEVICE_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include "device/devlist.h"
#include "fitcl.h"

/* What a device can do, as the families need to know it.  Families choose
 * layouts and sizes from these, never from the backend's name. */
typedef struct fitcl__caps {
  int fp64;              /* native double precision (0 also under FITCL_OPENCL_NO_FP64=1) */
  fitcl_precision precision; /* what this device's kernels compute in: DOUBLE, MIXED or
                                SINGLE (never DEFAULT once the context is open) */
  int host;              /* runs on the host's worker pool: work handed to the
                            host costs no transfer and no device time */
  int cpu_device;        /* work-items of a launch run one after another on
                            CPU cores (layouts that suit caches, not
                            coalescing) */
  int unified_memory;    /* the device reads host memory directly */
  int subgroups;         /* sub-group reductions (cl_khr_subgroups) */
  int vector_width;      /* preferred double vector width (1 when unknown) */
  int compute_units;
  size_t max_work_group; /* largest work-group (1 on the host) */
  uint64_t global_mem;   /* bytes of device memory */
  uint64_t max_alloc;    /* bytes of the largest single allocation */
  uint64_t local_mem;    /* bytes of local memory per work-group (0: none) */
} fitcl__caps;

/* Kernel layouts a tuning run chose for a device (kernels/tune.c: stored
 * in the cache under the device's identity, loaded when a context opens
 * it); 0 leaves a choice to the family's built-in rule. */
typedef struct fitcl__tuning {
  int accum_variant; /* 1 work-group per block, 2 work-item per block, 3 double8 */
  int lik_tile;      /* patterns per tile of the likelihood partials */
} fitcl__tuning;

/* The families' ops tables (each declared in src/kernels/<family>.h). */
struct fitcl__reduce_ops;
struct fitcl__pmatrix_ops;
struct fitcl__kstate_ops;
struct fitcl__lik_ops;
struct fitcl__accum_ops;
struct fitcl__batch_ops;
struct fitcl__voi_ops;
struct fitcl__credit_ops;

typedef struct fitcl__backend {
  const char *name;      /* "cpu" or "opencl": fitcl_context_info.backend */
  fitcl__caps caps;
  fitcl__tuning tuning;
  /* What identifies the device for records kept per device (its tuning):
   * platform, device and driver, one per line; "" when nothing is tuned. */
  char identity[1024];
  void *state;           /* the driver's own per-context state */
  /* Releases `state` (may be NULL when there is nothing to release). */
  void (*close)(struct fitcl__backend *b);
  const struct fitcl__reduce_ops *reduce;
  const struct fitcl__pmatrix_ops *pmatrix;
  const struct fitcl__kstate_ops *kstate;
  const struct fitcl__lik_ops *lik;
  const struct fitcl__accum_ops *accum;
  const struct fitcl__batch_ops *batch;
  const struct fitcl__voi_ops *voi;
  const struct fitcl__credit_ops *credit;
} fitcl__backend;

typedef struct fitcl__driver {
  const char *name;      /* the selector word and fitcl_device_desc.backend */
  /* Appends this backend's devices to `list`.  A backend that cannot run on
   * this host (its runtime is not installed) appends none and says why in
   * `why`; that is not an error.  Errors are out-of-memory only. */
  fitcl_status (*discover)(fitcl__devlist *list, char *why, size_t whylen);
  /* Opens device `dev` (an entry this driver appended) for ctx: fills every
   * field of *b.  ctx->backend already points at *b, so the driver's
   * helpers can reach `state` while it is being built.  On failure the
   * detail is in ctx's error message and *b needs no close. */
  fitcl_status (*open)(fitcl_context *ctx, const fitcl_device_desc *desc, fitcl__devref ref,
                       fitcl__backend *b);
} fitcl__driver;

#endif
