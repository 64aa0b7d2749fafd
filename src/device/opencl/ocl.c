/* OpenCL backend: device context, program builds through the persistent
 * cache, and small helpers that turn OpenCL errors into statuses. */
#include "device/opencl/ocl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "device/backend.h"
#include "device/opencl/clsources.h"
#include "device/opencl/quiet_build.h"
#include "core/util.h"

fitcl_status fitcl__ocl_check(fitcl_context *ctx, cl_int err, const char *what) {
  if (err == CL_SUCCESS) return FITCL_OK;
  fitcl_status st = (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES ||
                     err == CL_INVALID_BUFFER_SIZE)
                        ? FITCL_ERR_DEVICE_MEM
                        : FITCL_ERR_OPENCL;
  return fitcl__fail(ctx, st, "%s: %s (%d) on %s", what, fitcl__cl_errname(err), (int)err,
                     ctx ? ctx->device_name : "?");
}

/* ---- include expansion ------------------------------------------------- */

static int expand(fitcl__buf *out, const char *src, const char **seen, int *nseen, int depth,
                  char *err, size_t errlen) {
  if (depth > 16) {
    snprintf(err, errlen, "includes nested deeper than 16 levels");
    return 0;
  }
  const char *p = src;
  while (*p) {
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t)(eol - p + 1) : strlen(p);
    const char *q = p;
    while (q < p + len && (*q == ' ' || *q == '\t')) ++q;
    if (strncmp(q, "#include \"", 10) == 0) {
      const char *name = q + 10;
      const char *end = memchr(name, '"', len - (size_t)(name - p));
      if (!end) {
        snprintf(err, errlen, "malformed #include line");
        return 0;
      }
      char inc[256];
      size_t n = (size_t)(end - name);
      if (n >= sizeof inc) n = sizeof inc - 1;
      memcpy(inc, name, n);
      inc[n] = '\0';
      const fitcl__cl_file *f = fitcl__cl_find(inc);
      if (!f) {
        snprintf(err, errlen, "#include \"%s\": no such embedded header", inc);
        return 0;
      }
      int already = 0;
      for (int i = 0; i < *nseen; ++i)
        if (seen[i] == f->name) already = 1;
      if (!already) {
        if (*nseen < 64) seen[(*nseen)++] = f->name;
        fitcl__buf_printf(out, "/* begin %s */\n", inc);
        if (!expand(out, f->data, seen, nseen, depth + 1, err, errlen)) return 0;
        fitcl__buf_printf(out, "\n/* end %s */\n", inc);
      }
    } else {
      fitcl__buf_append(out, p, len);
    }
    p += len;
  }
  return 1;
}

char *fitcl__cl_expand_includes(const char *source, char *err, size_t errlen) {
  fitcl__buf out = {0};
  const char *seen[64];
  int nseen = 0;
  if (!expand(&out, source, seen, &nseen, 0, err, errlen) || out.oom) {
    if (out.oom) snprintf(err, errlen, "out of memory");
    fitcl__buf_free(&out);
    return NULL;
  }
  if (!out.data) return fitcl__strdup("");
  return out.data;
}

/* ---- program builds ---------------------------------------------------- */

static void dev_str(cl_device_id d, cl_device_info what, char *out, size_t size) {
  out[0] = '\0';
  clGetDeviceInfo(d, what, size, out, NULL);
  out[size - 1] = '\0';
}

/* The cache key: everything that can change the binary (docs/cache.md). */
static void compose_key(fitcl_context *ctx, const char *name, const char *source,
                        const char *options, fitcl__buf *key) {
  fitcl__ocl *o = fitcl__ocl_of(ctx);
  char pname[256] = "", pver[256] = "", vendor[256] = "", dname[256] = "", dver[256] = "",
       drv[256] = "";
  clGetPlatformInfo(o->platform, CL_PLATFORM_NAME, sizeof pname, pname, NULL);
  clGetPlatformInfo(o->platform, CL_PLATFORM_VERSION, sizeof pver, pver, NULL);
  pname[255] = pver[255] = '\0';
  dev_str(o->device, CL_DEVICE_VENDOR, vendor, sizeof vendor);
  dev_str(o->device, CL_DEVICE_NAME, dname, sizeof dname);
  dev_str(o->device, CL_DEVICE_VERSION, dver, sizeof dver);
  dev_str(o->device, CL_DRIVER_VERSION, drv, sizeof drv);
  cl_uint bits = 0;
  clGetDeviceInfo(o->device, CL_DEVICE_ADDRESS_BITS, sizeof bits, &bits, NULL);
  char src_hash[65];
  fitcl__sha256_hex(source, strlen(source), src_hash);
  fitcl__buf_printf(key,
                    "fitcl-program-cache %d\nlibrary %s\nprogram %s\noptions %s\n"
                    "platform %s | %s\ndevice %s | %s | %s\ndriver %s\naddress-bits %u\n"
                    "source-sha256 %s\n",
                    FITCL__CACHE_FORMAT_VERSION, FITCL_VERSION_STRING, name, options, pname, pver,
                    vendor, dname, dver, drv, (unsigned)bits, src_hash);
}

static fitcl_status build_log_fail(fitcl_context *ctx, cl_program prog, cl_int err,
                                   const char *name) {
  size_t n = 0;
  clGetProgramBuildInfo(prog, fitcl__ocl_of(ctx)->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
  char *log = malloc(n + 1);
  if (log) {
    log[0] = '\0';
    clGetProgramBuildInfo(prog, fitcl__ocl_of(ctx)->device, CL_PROGRAM_BUILD_LOG, n, log, NULL);
    log[n] = '\0';
  }
  fitcl_status st = fitcl__fail_detail(ctx, FITCL_ERR_BUILD, log ? log : "",
                                       "building %s on %s failed (%s):", name, ctx->device_name,
                                       fitcl__cl_errname(err));
  free(log);
  return st;
}

static fitcl_status build_from_binary(fitcl_context *ctx, const void *bin, size_t len,
                                      const char *options, cl_program *out) {
  fitcl__ocl *o = fitcl__ocl_of(ctx);
  cl_int err, bin_status = CL_SUCCESS;
  const unsigned char *bins[1] = {bin};
  cl_program p = clCreateProgramWithBinary(o->context, 1, &o->device, &len, bins, &bin_status, &err);
  if (err != CL_SUCCESS || bin_status != CL_SUCCESS) {
    if (p) clReleaseProgram(p);
    return FITCL_ERR_BUILD;
  }
  err = clBuildProgram(p, 1, &o->device, options, NULL, NULL);
  if (err != CL_SUCCESS) {
    clReleaseProgram(p);
    return FITCL_ERR_BUILD;
  }
  *out = p;
  return FITCL_OK;
}

/* The program's binary as the driver gives it now (malloc'ed), or NULL. */
static unsigned char *program_binary(cl_program p, size_t *size) {
  *size = 0;
  if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof *size, size, NULL) != CL_SUCCESS ||
      *size == 0)
    return NULL;
  unsigned char *bin = malloc(*size);
  if (!bin) return NULL;
  unsigned char *bins[1] = {bin};
  if (clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS) return bin;
  free(bin);
  return NULL;
}

/* Stores the program's binary; returns its size, 0 when nothing was stored. */
static size_t store_binary(fitcl_context *ctx, cl_program p, const char *key, const char *name) {
  size_t size;
  unsigned char *bin = program_binary(p, &size);
  if (!bin) return 0;
  char why[512];
  fitcl_status st = fitcl__cache_put(ctx->cache, key, bin, size, why, sizeof why);
  if (st != FITCL_OK)
    fitcl__log(ctx, FITCL_LOG_WARN, "program cache: %s (continuing uncached for %s)", why, name);
  free(bin);
  return st == FITCL_OK ? size : 0;
}

/* Remembers a program whose binary is to be stored when it is released
 * (fitcl__ocl_stored).  Only a cache that takes writes is worth it; out of
 * memory only costs the entry. */
static void track(fitcl_context *ctx, cl_program p, const char *name, const char *key) {
  fitcl__ocl *o = fitcl__ocl_of(ctx);
  if (!ctx->cache || ctx->env.cache != FITCL_CACHE_ON) return;
  if (o->nstored == o->cap_stored) {
    int cap = o->cap_stored ? 2 * o->cap_stored : 8;
    fitcl__ocl_stored *n = realloc(o->stored, (size_t)cap * sizeof *n);
    if (!n) return;
    o->stored = n;
    o->cap_stored = cap;
  }
  char *k = fitcl__strdup(key);
  if (!k) return;
  o->stored[o->nstored++] = (fitcl__ocl_stored){p, name, k};
}

/* Stores a remembered program's binary, with the code compiled at its
 * launches, and forgets it.  The caller drains the queues first: a driver
 * may compile a kernel's code only when its launch runs. */
static void write_back(fitcl__ocl *o, int i) {
  fitcl__ocl_stored *s = &o->stored[i];
  if (o->ctx->cache && store_binary(o->ctx, s->program, s->key, s->name)) o->stored_late++;
  free(s->key);
  o->stored[i] = o->stored[--o->nstored];
}

static void drain(const fitcl__ocl *o) {
  if (o->queue) clFinish(o->queue);
  if (o->queue2) clFinish(o->queue2);
}

void fitcl__ocl_release_program(fitcl_context *ctx, cl_program p) {
  if (!p) return;
  fitcl__ocl *o = ctx && ctx->backend ? fitcl__ocl_of(ctx) : NULL;
  for (int i = 0; o && i < o->nstored; ++i)
    if (o->stored[i].program == p) {
      drain(o);
      write_back(o, i);
      break;
    }
  clReleaseProgram(p);
}

/* Loads a program from the cache: FITCL__CACHE_HIT with *out set, or a
 * miss (a bad entry, or a binary the driver refused, is deleted).  `again`:
 * the second look, after waiting for another process's build. */
static int load_cached(fitcl_context *ctx, const char *name, const char *key, const char *options,
                       int again, cl_program *out, size_t *len_out) {
  void *bin = NULL;
  size_t len = 0;
  fitcl__cache_result r = again ? fitcl__cache_get_again(ctx->cache, key, &bin, &len)
                                : fitcl__cache_get(ctx->cache, key, &bin, &len);
  if (r == FITCL__CACHE_HIT) {
    fitcl_status st = build_from_binary(ctx, bin, len, options, out);
    free(bin);
    if (st == FITCL_OK) {
      *len_out = len;
      fitcl__log(ctx, FITCL_LOG_DEBUG, "program %s: loaded from cache", name);
      return FITCL__CACHE_HIT;
    }
    /* The driver refused a binary that passed our checks (e.g. a driver
     * change we could not see): delete it and rebuild from source. */
    fitcl__log(ctx, FITCL_LOG_WARN, "program %s: the driver rejected the cached binary; rebuilding",
               name);
    fitcl__cache_remove(ctx->cache, key);
    ctx->driver_rejected++;
    return FITCL__CACHE_BAD;
  }
  if (r == FITCL__CACHE_BAD)
    fitcl__log(ctx, FITCL_LOG_WARN, "program %s: cache entry was corrupt or writable by others; deleted, rebuilding", name);
  return r;
}

static fitcl_status build_from_source(fitcl_context *ctx, const char *name, const char *source,
                                      const char *options, cl_program *out) {
  fitcl__ocl *o = fitcl__ocl_of(ctx);
  cl_int e;
  const char *srcs[1] = {source};
  cl_program p = clCreateProgramWithSource(o->context, 1, srcs, NULL, &e);
  if (e != CL_SUCCESS) return fitcl__ocl_check(ctx, e, "clCreateProgramWithSource");
  e = fitcl__ocl_build_quietly(ctx, name, p, o->device, options);
  if (e != CL_SUCCESS) {
    fitcl_status st = build_log_fail(ctx, p, e, name);
    clReleaseProgram(p);
    return st;
  }
  *out = p;
  return FITCL_OK;
}

/* Stores the binary of program `p`, just built from source.  Where the
 * driver compiles code at the first launches (lazy_codegen), `p` is not
 * asked for its binary yet: PoCL serializes a program once, and a binary
 * taken now would lack the work-group functions its launches compile.  It
 * is stored when released, after its launches (write_back). */
static void store_new(fitcl_context *ctx, cl_program p, const char *name, const char *key) {
  if (fitcl__ocl_of(ctx)->lazy_codegen)
    track(ctx, p, name, key);
  else
    store_binary(ctx, p, key, name);
}

static fitcl_status build_program(fitcl_context *ctx, const char *name, const char *raw_source,
                                  const char *extra, cl_program *out) {
  fitcl__ocl *o = fitcl__ocl_of(ctx);
  *out = NULL;
  char err[512];
  char *source = fitcl__cl_expand_includes(raw_source, err, sizeof err);
  if (!source) return fitcl__fail(ctx, FITCL_ERR_BUILD, "preparing %s: %s", name, err);
  char options[1024];
  snprintf(options, sizeof options, "%s%s%s", o->build_options, extra && *extra ? " " : "",
           extra ? extra : "");
  fitcl__buf key = {0};
  compose_key(ctx, name, source, options, &key);
  fitcl_status st = FITCL_OK;
  int lock = -1;
  size_t size = 0;
  if (key.oom) {
    st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory composing the cache key");
    goto done;
  }
  if (ctx->cache) {
    /* A miss: the first of the processes that need this program builds it,
     * the others wait for its binary (single flight, cache/cache.h). */
    int r = load_cached(ctx, name, key.data, options, 0, out, &size);
    if (r == FITCL__CACHE_HIT) goto done;
    /* Not where the entry is written only when the builder's run ends
     * (store_new): waiting would hold the others for a whole run. */
    if (o->lazy_codegen) goto build;
    double waited = 0;
    lock = fitcl__cache_lock(ctx->cache, key.data, (double)ctx->env.cache_lock_timeout, &waited);
    if (waited >= 0.5)
      fitcl__log(ctx, FITCL_LOG_INFO, "program %s: waited %.1f s for another process to build it%s",
                 name, waited, lock < 0 ? " (gave up: building it here)" : "");
    if (lock >= 0 && load_cached(ctx, name, key.data, options, 1, out, &size) == FITCL__CACHE_HIT)
      goto done;
  }
build: {
    cl_program p = NULL;
    if ((st = build_from_source(ctx, name, source, options, &p)) != FITCL_OK) goto done;
    fitcl__log(ctx, FITCL_LOG_DEBUG, "program %s: built from source", name);
    if (ctx->cache) store_new(ctx, p, name, key.data);
    *out = p;
  }
done:
  fitcl__cache_unlock(lock);
  fitcl__buf_free(&key);
  free(source);
  return st;
}

fitcl_status fitcl__ocl_build_source(fitcl_context *ctx, const char *name, const char *source,
                                     const char *extra_options, cl_program *out) {
  if (!ctx || !fitcl__ocl_of(ctx) || !source || !out) return FITCL_ERR_NULL;
  fitcl_status st = build_program(ctx, name, source, extra_options, out);
  ctx->runtime_builds++;
  return st;
}

static int is_program(const char *name) {
  size_t n = strlen(name);
  return n > 3 && strcmp(name + n - 3, ".cl") == 0;
}

/* The embedded programs with a float form: their source holds no double
 * (the build under FITCL__OCL_NO_FP64_OPTIONS proves it), so a device
 * without fp64 can build them: the likelihood's float kernels.  The
 * accumulation's programs are generated per model (backends/opencl/
 * accum_ocl.c); every other family runs on the host on such a device. */
static const char *const float_programs[] = {"lik_float.cl"};

int fitcl__ocl_has_float_form(const char *name) {
  for (size_t i = 0; i < FITCL_ARRAY_LEN(float_programs); ++i)
    if (!strcmp(float_programs[i], name)) return 1;
  return 0;
}

fitcl_status fitcl__ocl_create(fitcl_context *ctx, cl_platform_id platform, cl_device_id device,
                               int fp64, int floats, fitcl__ocl **out) {
  *out = NULL;
  fitcl__ocl *o = calloc(1, sizeof *o);
  if (!o) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  ctx->backend->state = o; /* the builds below reach it through ctx */
  o->platform = platform;
  o->device = device;
  o->ctx = ctx;
  /* PoCL compiles a kernel's work-group function at its first launch for
   * each local size and puts it in the program's binary only if asked for
   * the binary after that (store_new). */
  char pname[256] = "";
  clGetPlatformInfo(platform, CL_PLATFORM_NAME, sizeof pname, pname, NULL);
  pname[sizeof pname - 1] = '\0';
  o->lazy_codegen = strstr(pname, "Portable Computing Language") != NULL;
  /* Extra options (vendor flags, diagnostics) are part of every program's
   * build and of its cache key. */
  o->fp64 = fp64;
  snprintf(o->build_options, sizeof o->build_options, "%s%s%s%s%s", FITCL__OCL_BUILD_OPTIONS,
           fp64 ? "" : " ", fp64 ? "" : FITCL__OCL_NO_FP64_OPTIONS,
           ctx->env.opencl_options[0] ? " " : "", ctx->env.opencl_options);
  cl_int err;
  cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)platform, 0};
  fitcl_status st;
  o->context = clCreateContext(props, 1, &device, NULL, NULL, &err);
  if ((st = fitcl__ocl_check(ctx, err, "clCreateContext")) != FITCL_OK) goto fail;
  o->queue = clCreateCommandQueue(o->context, device, 0, &err);
  if ((st = fitcl__ocl_check(ctx, err, "clCreateCommandQueue")) != FITCL_OK) goto fail;
  o->queue2 = clCreateCommandQueue(o->context, device, 0, &err);
  if ((st = fitcl__ocl_check(ctx, err, "clCreateCommandQueue")) != FITCL_OK) goto fail;
  clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof o->max_work_group, &o->max_work_group, NULL);
  clGetDeviceInfo(device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof o->local_mem, &o->local_mem, NULL);
  clGetDeviceInfo(device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof o->global_mem, &o->global_mem, NULL);
  clGetDeviceInfo(device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof o->compute_units, &o->compute_units, NULL);

  int n = 0;
  for (size_t i = 0; i < fitcl__cl_nfiles; ++i) n += is_program(fitcl__cl_files[i].name);
  /* Without fp64, only the programs with a float form build at all; in
   * double precision they are not needed (a cold start compiles less). */
  o->programs = calloc((size_t)(n ? n : 1), sizeof *o->programs);
  if (!o->programs) {
    st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < fitcl__cl_nfiles; ++i) {
    const fitcl__cl_file *f = &fitcl__cl_files[i];
    if (!is_program(f->name)) continue;
    const int float_form = fitcl__ocl_has_float_form(f->name);
    if (fp64 ? float_form && !floats : !float_form) continue;
    fitcl__ocl_prog *p = &o->programs[o->nprograms];
    p->name = f->name;
    st = build_program(ctx, f->name, f->data, NULL, &p->program);
    if (st != FITCL_OK) goto fail;
    o->nprograms++;
  }
  *out = o;
  return FITCL_OK;
fail:
  fitcl__ocl_destroy(o);
  ctx->backend->state = NULL;
  return st;
}

void fitcl__ocl_destroy(fitcl__ocl *o) {
  if (!o) return;
  /* Nothing may still run when the process ends: a driver that compiles a
   * kernel's code when its launch runs (PoCL) would do so while the
   * process's exit tears its compiler down. */
  drain(o);
  while (o->nstored) write_back(o, o->nstored - 1);
  free(o->stored);
  if (o->stored_late)
    fitcl__log(o->ctx, FITCL_LOG_INFO,
               "program cache: %d programs stored with the code compiled at their launches",
               o->stored_late);
  for (int i = 0; i < o->nprograms; ++i)
    if (o->programs[i].program) clReleaseProgram(o->programs[i].program);
  free(o->programs);
  if (o->queue2) clReleaseCommandQueue(o->queue2);
  if (o->queue) clReleaseCommandQueue(o->queue);
  if (o->context) clReleaseContext(o->context);
  free(o);
}

cl_program fitcl__ocl_program(fitcl_context *ctx, const char *name) {
  const fitcl__ocl *o = ctx ? fitcl__ocl_of(ctx) : NULL;
  if (!o) return NULL;
  for (int i = 0; i < o->nprograms; ++i)
    if (strcmp(o->programs[i].name, name) == 0) return o->programs[i].program;
  return NULL;
}

/* A float form not built at creation, because the context opened in
 * double and a tuning record then measured slow fp64 (kernels/tune.c):
 * built on first use, through the cache; the program list has room for
 * every embedded program. */
static fitcl_status build_float_form(fitcl_context *ctx, const char *name, cl_program *out) {
  fitcl__ocl *o = fitcl__ocl_of(ctx);
  for (size_t i = 0; i < fitcl__cl_nfiles; ++i) {
    const fitcl__cl_file *f = &fitcl__cl_files[i];
    if (strcmp(f->name, name) != 0) continue;
    fitcl__ocl_prog *p = &o->programs[o->nprograms];
    fitcl_status st = build_program(ctx, f->name, f->data, NULL, &p->program);
    if (st != FITCL_OK) return st;
    p->name = f->name;
    o->nprograms++;
    *out = p->program;
    return FITCL_OK;
  }
  return FITCL_OK;
}

fitcl_status fitcl__ocl_kernel(fitcl_context *ctx, const char *prog, const char *kname,
                               cl_kernel *out) {
  *out = NULL;
  cl_program p = fitcl__ocl_program(ctx, prog);
  if (!p && fitcl__ocl_of(ctx) && fitcl__ocl_has_float_form(prog)) {
    fitcl_status st = build_float_form(ctx, prog, &p);
    if (st != FITCL_OK) return st;
  }
  if (!p) return fitcl__fail(ctx, FITCL_ERR_INTERNAL, "no embedded program %s", prog);
  cl_int err;
  *out = clCreateKernel(p, kname, &err);
  if (err != CL_SUCCESS) {
    char what[256];
    snprintf(what, sizeof what, "clCreateKernel(%s in %s)", kname, prog);
    return fitcl__ocl_check(ctx, err, what);
  }
  return FITCL_OK;
}

fitcl_status fitcl__ocl_alloc(fitcl_context *ctx, cl_mem_flags flags, size_t bytes,
                              const void *host, cl_mem *out) {
  cl_int err;
  if (bytes == 0) bytes = 8;
  if (host) flags |= CL_MEM_COPY_HOST_PTR;
  *out = clCreateBuffer(fitcl__ocl_of(ctx)->context, flags, bytes, (void *)host, &err);
  if (err != CL_SUCCESS) {
    char what[128];
    snprintf(what, sizeof what, "clCreateBuffer(%zu bytes)", bytes);
    *out = NULL;
    return fitcl__ocl_check(ctx, err, what);
  }
  return FITCL_OK;
}

fitcl_status fitcl__ocl_write(fitcl_context *ctx, cl_mem buf, size_t offset, size_t bytes,
                              const void *src) {
  if (bytes == 0) return FITCL_OK;
  return fitcl__ocl_check(ctx, clEnqueueWriteBuffer(fitcl__ocl_of(ctx)->queue, buf, CL_TRUE, offset, bytes, src,
                                                    0, NULL, NULL),
                          "clEnqueueWriteBuffer");
}

fitcl_status fitcl__ocl_read(fitcl_context *ctx, cl_mem buf, size_t offset, size_t bytes,
                             void *dst) {
  if (bytes == 0) return FITCL_OK;
  return fitcl__ocl_check(ctx, clEnqueueReadBuffer(fitcl__ocl_of(ctx)->queue, buf, CL_TRUE, offset, bytes, dst,
                                                   0, NULL, NULL),
                          "clEnqueueReadBuffer");
}

fitcl_status fitcl__ocl_setarg(fitcl_context *ctx, cl_kernel k, cl_uint i, size_t size,
                               const void *value) {
  cl_int err = clSetKernelArg(k, i, size, value);
  if (err == CL_SUCCESS) return FITCL_OK;
  char what[64];
  snprintf(what, sizeof what, "clSetKernelArg(%u)", (unsigned)i);
  return fitcl__ocl_check(ctx, err, what);
}

fitcl_status fitcl__ocl_launch(fitcl_context *ctx, cl_kernel k, size_t global, size_t local) {
  if (global == 0) return FITCL_OK;
  if (local) global = (global + local - 1) / local * local;
  cl_int err = clEnqueueNDRangeKernel(fitcl__ocl_of(ctx)->queue, k, 1, NULL, &global, local ? &local : NULL,
                                      0, NULL, NULL);
  return fitcl__ocl_check(ctx, err, "clEnqueueNDRangeKernel");
}
