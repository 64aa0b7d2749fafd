/*
 * fitcl — portable accelerator backend for likelihood and least-squares
 * fitting.  Public C API.
 *
 * Conventions
 * - Every handle is opaque; every destroy function accepts NULL.
 * - Every fallible call returns a fitcl_status.  fitcl_strerror() names the
 *   code; fitcl_errmsg(ctx) gives the detail of the last failure on that
 *   context (including an OpenCL build log where there is one).
 * - Options structs are zero-initialised to get the defaults; each default is
 *   documented next to its field.  Environment variables (FITCL_DEVICE,
 *   FITCL_THREADS, FITCL_CACHE, FITCL_CACHE_DIR, FITCL_CACHE_MAX_MB,
 *   FITCL_LOG) are read once, when a context is created, and only for fields
 *   left at zero.
 * - The library never exits, aborts or prints on its own: messages go to the
 *   log callback, or to stderr only when FITCL_LOG is set.
 * - Thread-safety: distinct contexts may be used concurrently from different
 *   threads.  One context, and every object created from it, must be used by
 *   one thread at a time.
 */
#ifndef FITCL_H
#define FITCL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FITCL_VERSION_MAJOR 0
#define FITCL_VERSION_MINOR 1
#define FITCL_VERSION_PATCH 0
#define FITCL_VERSION_STRING "0.1.0"

/* FITCL_API marks the functions libfitcl.so exports.  The library is built
 * with -fvisibility=hidden, so nothing else in it is visible to programs
 * (the static library keeps every symbol).  The shared library's SONAME
 * carries the ABI version (libfitcl.so.1; README, "Building by hand").
 * A program may define FITCL_API itself before including this header. */
#ifndef FITCL_API
#if defined(FITCL_BUILDING) && defined(__GNUC__)
#define FITCL_API __attribute__((visibility("default")))
#else
#define FITCL_API
#endif
#endif

/** Library version as "MAJOR.MINOR.PATCH" (static storage). */
FITCL_API const char *fitcl_version(void);

/*
 * Status codes, grouped in ranges:
 *   0          success
 *   100..199   bad argument (caller error)
 *   200..299   bad input data (files, values)
 *   300..399   unsupported request
 *   400..499   device or backend failure
 *   500..599   I/O failure
 *   600..699   host resources / internal
 *   700..799   numerical outcome (not an error of the call itself)
 * Codes below 400 are the user's to fix; the CLI maps them to exit code 2.
 */
#define FITCL_STATUS_MAP(X)                                                        \
  X(OK,              0,   "success")                                               \
  X(ERR_ARG,         100, "invalid argument")                                      \
  X(ERR_NULL,        101, "a required pointer argument is NULL")                   \
  X(ERR_RANGE,       102, "argument out of range")                                 \
  X(ERR_STATE,       103, "object is in the wrong state for this call")            \
  X(ERR_SELECTOR,    104, "malformed device selector")                             \
  X(ERR_NO_DEVICE,   105, "no device matches the selector")                        \
  X(ERR_NO_FP64,     106, "device lacks double precision (cl_khr_fp64)")           \
  X(ERR_ENV,         107, "invalid environment variable value")                    \
  X(ERR_PARSE,       200, "malformed input")                                       \
  X(ERR_DATA,        201, "invalid data value")                                    \
  X(ERR_MISMATCH,    202, "inputs do not match each other")                        \
  X(ERR_NAME,        203, "unknown name")                                          \
  X(ERR_SIZE,        204, "size out of the supported range")                       \
  X(ERR_FILE,        205, "file cannot be opened or created (missing, unreadable, not a file)") \
  X(ERR_UNSUPPORTED, 300, "operation not supported")                               \
  X(ERR_OPENCL,      400, "OpenCL call failed")                                    \
  X(ERR_BUILD,       401, "kernel build failed")                                   \
  X(ERR_DEVICE_MEM,  402, "device out of memory")                                  \
  X(ERR_IO,          500, "I/O error")                                             \
  X(ERR_NOMEM,       600, "out of host memory")                                    \
  X(ERR_INTERNAL,    601, "internal error")                                        \
  X(ERR_INTERRUPTED, 602, "interrupted")                                           \
  X(ERR_PEER,        603, "another process of the job failed")                     \
  X(ERR_NOT_CONVERGED, 700, "did not converge")

typedef enum fitcl_status {
#define FITCL_STATUS_ENUM_(name, code, msg) FITCL_##name = code,
  FITCL_STATUS_MAP(FITCL_STATUS_ENUM_)
#undef FITCL_STATUS_ENUM_
} fitcl_status;

/** Human-readable description of a status code (static storage; never NULL). */
FITCL_API const char *fitcl_strerror(fitcl_status status);
/** Symbolic name of a status code, e.g. "FITCL_ERR_ARG" (static; never NULL). */
FITCL_API const char *fitcl_status_name(fitcl_status status);
/** Nonzero when the status is the user's to fix (bad argument, input or
 *  request; codes 100..399). */
FITCL_API int fitcl_status_is_user_error(fitcl_status status);

/* ------------------------------------------------------------------------- */
/* Logging                                                                   */

typedef enum fitcl_log_level {
  FITCL_LOG_DEFAULT = 0, /* options only: use $FITCL_LOG, else off */
  FITCL_LOG_OFF,
  FITCL_LOG_ERROR,
  FITCL_LOG_WARN,
  FITCL_LOG_INFO,
  FITCL_LOG_DEBUG
} fitcl_log_level;

/** Log callback: receives every message at or above the context's level.
 *  `msg` is valid only during the call.  Called from the thread that made
 *  the library call. */
typedef void (*fitcl_log_fn)(void *user, fitcl_log_level level, const char *msg);

/* ------------------------------------------------------------------------- */
/* Context                                                                   */

typedef struct fitcl_context fitcl_context;

typedef enum fitcl_cache_mode {
  FITCL_CACHE_DEFAULT = 0, /* $FITCL_CACHE, else on */
  FITCL_CACHE_ON,          /* read and write program binaries */
  FITCL_CACHE_READONLY,    /* read only; never write or evict */
  FITCL_CACHE_OFF          /* build every program from source */
} fitcl_cache_mode;

/** What the kernels compute in (docs/precision.md). */
typedef enum fitcl_precision {
  FITCL_PRECISION_DEFAULT = 0, /* options only: $FITCL_PRECISION, else chosen per device */
  FITCL_PRECISION_DOUBLE,      /* every step in double */
  FITCL_PRECISION_MIXED,       /* per point / per node in float, sums in double (or in
                                  compensated float pairs on a device without fp64) */
  FITCL_PRECISION_SINGLE       /* float throughout, for speed where users accept it */
} fitcl_precision;

typedef struct fitcl_context_options {
  /** Device selector (grammar in docs/device-selection.md).
   *  NULL: $FITCL_DEVICE, else "auto". */
  const char *device;
  /** Worker threads of the pthreads backend (also used for host-side work).
   *  0: $FITCL_THREADS, else the number of online CPUs. */
  int threads;
  /** Program-binary cache mode.  0: $FITCL_CACHE, else FITCL_CACHE_ON. */
  fitcl_cache_mode cache;
  /** Cache directory.  NULL: $FITCL_CACHE_DIR, else $XDG_CACHE_HOME/fitcl,
   *  else $HOME/.cache/fitcl. */
  const char *cache_dir;
  /** Cache size cap in MiB.  0: $FITCL_CACHE_MAX_MB, else 512. */
  long cache_max_mb;
  /** Log level.  0: $FITCL_LOG (error|warn|info|debug), else off. */
  fitcl_log_level log_level;
  /** Log callback.  NULL: messages at the log level go to stderr, and only
   *  when a level was set (by this struct or by $FITCL_LOG). */
  fitcl_log_fn log_fn;
  /** Opaque pointer handed to log_fn. */
  void *log_user;
  /** Nonzero: ignore every FITCL_* environment variable (for embedding
   *  applications that want full control). */
  int ignore_env;
  /** What the kernels compute in (docs/precision.md).  0 (DEFAULT):
   *  $FITCL_PRECISION (double|mixed|single), else chosen per device: double
   *  where fp64 runs at >= 1/4 of the fp32 rate, else mixed.  DOUBLE on a
   *  device without fp64 fails with FITCL_ERR_NO_FP64.  The pthreads
   *  backend always computes in double. */
  fitcl_precision precision;
} fitcl_context_options;

/**
 * Creates a context: reads the environment, selects a device, creates the
 * pthreads worker pool, and builds (or loads from the cache) every kernel
 * program.  No kernel is ever compiled after this call except programs
 * generated from user model expressions.
 *
 * @param opt   options, or NULL for all defaults.
 * @param out   receives the context.  On failure *out is still set when
 *              memory allowed, so fitcl_errmsg(*out) can explain; the caller
 *              must fitcl_context_destroy() it in every case.
 * @return FITCL_OK, or a status (bad selector, no device, build failure...).
 */
FITCL_API fitcl_status fitcl_context_create(const fitcl_context_options *opt, fitcl_context **out);

/** Releases the context and its device resources.  Accepts NULL.  Objects
 *  created from the context must be destroyed first. */
FITCL_API void fitcl_context_destroy(fitcl_context *ctx);

/** Detailed message for the last failure on this context, or "" when none.
 *  Owned by the context; valid until the next call on it.  NULL ctx gives a
 *  static message. */
FITCL_API const char *fitcl_errmsg(const fitcl_context *ctx);

typedef struct fitcl_cache_stats {
  uint64_t hits;     /* programs loaded from a valid cache entry */
  uint64_t misses;   /* programs built from source (no entry) */
  uint64_t rebuilt;  /* bad entries deleted and rebuilt from source */
  uint64_t evicted;  /* entries removed by the size cap */
  uint64_t stored;   /* entries written */
} fitcl_cache_stats;

typedef struct fitcl_context_info {
  const char *backend;   /* "opencl" or "cpu" */
  const char *device;    /* device name */
  const char *platform;  /* OpenCL platform name, or "pthreads" */
  const char *selector;  /* a selector string that names this device */
  const char *requested; /* the selector that was asked for */
  const char *fallback_reason; /* non-NULL when auto fell back to cpu */
  int threads;           /* pthreads workers */
  int programs;          /* kernel programs built or loaded */
  double build_seconds;  /* wall time to build or load all programs */
  const char *cache_dir; /* NULL when the cache is off or unusable */
  const char *cache_mode;/* "on", "readonly" or "off" */
  fitcl_cache_stats cache;
  /* How the device list was found: "probed" (the OpenCL runtimes were
   * loaded and asked), "remembered" (`auto` on a host whose last probe, in
   * this boot and driver configuration, found no OpenCL GPU; see
   * docs/device-selection.md) or "skipped" (a plain `cpu` needs no list). */
  const char *discovery;
  /* What the device's kernels compute in: "double", "mixed" or "single"
   * (docs/precision.md); families a device cannot run in it go to the
   * pthreads backend, which computes in double. */
  const char *precision;
  /* Devices the context runs on: 1, or more for a selector that joins
   * several ('+' or `*`); fitcl_context_device describes each. */
  int ndevices;
} fitcl_context_info;

/** Describes the context.  Strings are owned by the context. */
FITCL_API fitcl_status fitcl_context_get_info(const fitcl_context *ctx, fitcl_context_info *info);

/** One device of a context and the work it has done so far. */
typedef struct fitcl_context_device_info {
  const char *selector; /* a selector that names the device */
  const char *backend;  /* "opencl" or "cpu" */
  const char *device;   /* device name */
  /* Reduction blocks this device computed, over the context's life, in
   * the families that share their blocks over the devices (the
   * likelihood, the bootstrap's fits included); every other family runs
   * on device 0. */
  uint64_t blocks;
  /* Bootstrap replicates of the retention test this device fitted, each
   * one whole (a replicate is the unit handed out to the devices there),
   * over the context's life. */
  uint64_t replicates;
} fitcl_context_device_info;

/** Device i (0 <= i < fitcl_context_info.ndevices) of the context; device 0
 *  is the one fitcl_context_info describes.  Strings are owned by the
 *  context. */
FITCL_API fitcl_status fitcl_context_device(const fitcl_context *ctx, int i,
                                            fitcl_context_device_info *out);

/* ------------------------------------------------------------------------- */
/* Device discovery (no context needed)                                      */

typedef struct fitcl_device_desc {
  char selector[128];   /* e.g. "opencl:0:gpu:1" or "cpu" */
  char backend[16];     /* "opencl" or "cpu" */
  char name[128];
  char platform[128];
  char vendor[128];
  char type[8];         /* "gpu", "cpu", "acc" */
  char version[128];    /* device version string */
  char driver[64];      /* driver version */
  int fp64;
  int compute_units;
  uint64_t global_mem_mb;
  int platform_index;
  int device_index;     /* index within the platform, all types */
  char precision[8];    /* what a context on it computes in unless told otherwise: "double"
                           or "mixed" (docs/precision.md; `fitcl tune` may refine it) */
} fitcl_device_desc;

/** Lists the cpu backend followed by every OpenCL device.  *out is
 *  allocated by the library; release it with fitcl_devices_free(). */
FITCL_API fitcl_status fitcl_devices_list(fitcl_device_desc **out, size_t *count);
FITCL_API void fitcl_devices_free(fitcl_device_desc *list);

/**
 * Why this process cannot use OpenCL, or NULL when it can.  fitcl links no
 * OpenCL library: the first device discovery loads libOpenCL.so.1 (the ICD
 * loader; $FITCL_OPENCL_LIBRARY names another file or path).  Where that
 * fails, or the library lacks a function fitcl needs, the device list holds
 * only the cpu backend, `auto` selects cpu, and an `opencl...` selector
 * fails with FITCL_ERR_NO_DEVICE and this reason in its message.
 * @return one line in static storage, e.g. "libOpenCL.so.1 cannot be
 *         loaded: libOpenCL.so.1: cannot open shared object file: No such
 *         file or directory"; NULL when OpenCL loaded (it may still list no
 *         device).  Tries the load when no discovery has yet.
 */
FITCL_API const char *fitcl_opencl_unavailable_reason(void);

/**
 * Resolves a selector against a device list without building anything.
 * @param selector the FITCL_DEVICE grammar; NULL or "" means "auto".
 * @param index    receives the index in `list` of the device chosen.
 * @param err      receives a one-line explanation on failure (may be NULL);
 *                 an `opencl...` selector against a list without OpenCL
 *                 devices also gives fitcl_opencl_unavailable_reason().
 */
FITCL_API fitcl_status fitcl_devices_resolve(const char *selector, const fitcl_device_desc *list,
                                             size_t count, size_t *index, char *err, size_t errlen);

/**
 * The same for a selector that may join several devices ('+', or `*` as
 * DEVICE; docs/device-selection.md): writes the indices of the first
 * candidate set's devices, at most `cap` of them, to index[0..*n); the
 * first is the one fitcl_devices_resolve gives.
 */
FITCL_API fitcl_status fitcl_devices_resolve_set(const char *selector,
                                                 const fitcl_device_desc *list, size_t count,
                                                 size_t *index, size_t cap, size_t *n, char *err,
                                                 size_t errlen);

/* ------------------------------------------------------------------------- */
/* Self-test                                                                 */

typedef struct fitcl_selftest_result {
  const char *family;    /* kernel family name */
  int passed;
  double max_rel_error;  /* against the known answer */
  char detail[160];
} fitcl_selftest_result;

/**
 * Runs one known-answer check per kernel family on the context's backend.
 * @param results  array of at least `capacity` entries (may be NULL to count)
 * @param count    receives the number of families checked.
 * @return FITCL_OK when every family passed.
 */
FITCL_API fitcl_status fitcl_selftest(fitcl_context *ctx, fitcl_selftest_result *results,
                                      size_t capacity, size_t *count);

/* ------------------------------------------------------------------------- */
/* Per-device tuning                                                          */

#define FITCL_TUNE_MAX 8

typedef struct fitcl_tuning_report {
  /** The accumulation kernels chosen: 1 one work-group per block, 2 one
   *  work-item per block, 3 double8 lanes (CPU devices, expression models). */
  int accum_variant;
  int accum_candidates;
  int accum_variants[FITCL_TUNE_MAX];
  double accum_ms[FITCL_TUNE_MAX];   /* one 1M-point pass of each, best of 5 */
  /** Patterns per tile of the likelihood partials chosen. */
  int lik_tile;
  int lik_candidates;
  int lik_tiles[FITCL_TUNE_MAX];
  double lik_ms[FITCL_TUNE_MAX];     /* one evaluation with gradient of each, best of 5 */
  /** 1 when the choices were stored in the program cache for this device
   *  (contexts opened on it later use them); 0 when the cache is off. */
  int stored;
  /** Speed of double relative to mixed precision on this device, measured
   *  on the accumulation (time of a pass in mixed / time in double: 1 as
   *  fast, 1/32 a part with fp64 at 1/32 rate); 0 when the device has no
   *  fp64.  Stored with the layouts: a context opened later without a
   *  precision asked for computes in double where it is >= 1/4, else in
   *  mixed (docs/precision.md). */
  double fp64_ratio;
  double accum_double_ms; /* the two passes it compares (1M points, best of 5) */
  double accum_mixed_ms;
} fitcl_tuning_report;

/**
 * Times the candidate kernel layouts of the accumulation and likelihood
 * families on the context's OpenCL device, takes the fastest of each for
 * this context, and stores them in the program cache under the device's
 * identity (platform, device, driver), where every context later opened
 * on that device finds them.  The likelihood gives the same bits with
 * every tile; the accumulation variants sum the points of a block in
 * different orders, so JᵀJ and a fit's last digits can change with the
 * variant (results stay the same bits for a given device and tuning).  A
 * layout replaces the built-in one only when it is at least 10% faster.
 * Takes a few seconds.
 * @return FITCL_OK; FITCL_ERR_UNSUPPORTED on the pthreads backend (it has
 *         nothing to tune); device statuses otherwise.
 */
FITCL_API fitcl_status fitcl_context_tune(fitcl_context *ctx, fitcl_tuning_report *out);

/* ------------------------------------------------------------------------- */
/* Program-binary cache maintenance (no context needed)                      */

typedef struct fitcl_cache_summary {
  char dir[1024];
  int usable;           /* the directory exists and is safe to use */
  char reason[256];     /* why not usable */
  uint64_t entries;
  uint64_t bytes;
  uint64_t max_bytes;
} fitcl_cache_summary;

/** Summarises the cache that a default context would use. */
FITCL_API fitcl_status fitcl_cache_inspect(fitcl_cache_summary *out);
/** Removes every entry of that cache; *removed receives the count. */
FITCL_API fitcl_status fitcl_cache_clear(uint64_t *removed);

#ifdef __cplusplus
}
#endif

#include "fitcl/tree.h"      /* Newick trees, presence/absence matrices */
#include "fitcl/phylo.h"     /* gain/loss models, likelihood */
#include "fitcl/analysis.h"  /* rate fits, retention test, simulation */
#include "fitcl/nlsq.h"      /* model expressions, Jacobian accumulation */
#include "fitcl/curvefit.h"  /* Levenberg-Marquardt curve fitting */
#include "fitcl/batch.h"     /* many small fits in one call */
#include "fitcl/voi.h"       /* value of information: EVPI, acceptability, EVPPI */
#include "fitcl/credit.h"    /* cosine-similarity credit assignment */

#endif /* FITCL_H */
