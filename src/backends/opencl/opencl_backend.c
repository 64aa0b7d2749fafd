/* The OpenCL backend's driver: every device of every installed platform;
 * opening one creates its context and queues and builds (or loads from the
 * cache) every embedded program. */
#include "backends/opencl/opencl.h"

#include <stdio.h>
#include <string.h>

#include "core/context.h"
#include "core/env.h"
#include "device/opencl/ocl.h"

static void close_ocl(fitcl__backend *b) {
  fitcl__ocl_destroy(b->state);
  b->state = NULL;
}

static int has_extension(cl_device_id d, const char *name) {
  char ext[8192] = "";
  if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, sizeof ext, ext, NULL) != CL_SUCCESS) return 0;
  ext[sizeof ext - 1] = '\0';
  return strstr(ext, name) != NULL;
}

/* Platform, device and driver: what a tuning record is valid for. */
static void identify(const fitcl__ocl *o, char *out, size_t size) {
  char pname[256] = "", pver[256] = "", vendor[256] = "", dname[256] = "", dver[256] = "",
       drv[256] = "";
  clGetPlatformInfo(o->platform, CL_PLATFORM_NAME, sizeof pname, pname, NULL);
  clGetPlatformInfo(o->platform, CL_PLATFORM_VERSION, sizeof pver, pver, NULL);
  clGetDeviceInfo(o->device, CL_DEVICE_VENDOR, sizeof vendor, vendor, NULL);
  clGetDeviceInfo(o->device, CL_DEVICE_NAME, sizeof dname, dname, NULL);
  clGetDeviceInfo(o->device, CL_DEVICE_VERSION, sizeof dver, dver, NULL);
  clGetDeviceInfo(o->device, CL_DRIVER_VERSION, sizeof drv, drv, NULL);
  pname[255] = pver[255] = vendor[255] = dname[255] = dver[255] = drv[255] = '\0';
  snprintf(out, size, "platform %s | %s\ndevice %s | %s | %s\ndriver %s\n", pname, pver, vendor,
           dname, dver, drv);
}

static fitcl_status ocl_open(fitcl_context *ctx, const fitcl_device_desc *desc, fitcl__devref ref,
                             fitcl__backend *b) {
  memset(b, 0, sizeof *b);
  b->name = "opencl";
  b->close = close_ocl;
  fitcl_precision prec = ctx->env.precision;
  if (prec == FITCL_PRECISION_DOUBLE && !desc->fp64)
    return fitcl__fail(ctx, FITCL_ERR_NO_FP64,
                       "%s asks for double, but %s (%s) %s; use mixed or single",
                       ctx->env.precision_from_env ? "FITCL_PRECISION" : "the precision option",
                       desc->name, desc->selector,
                       fitcl__env_opencl_no_fp64()
                           ? "is treated as lacking double precision (FITCL_OPENCL_NO_FP64 is set)"
                           : "lacks double precision (cl_khr_fp64)");
  if (prec == FITCL_PRECISION_DEFAULT)
    prec = fitcl__ocl_default_precision((cl_device_id)ref.b, desc);
  fitcl__ocl *o = NULL;
  fitcl_status st =
      fitcl__ocl_create(ctx, (cl_platform_id)ref.a, (cl_device_id)ref.b, desc->fp64,
                        prec != FITCL_PRECISION_DOUBLE, &o);
  if (st != FITCL_OK) return st;
  b->state = o;
  ctx->programs = o->nprograms;
  cl_device_type type = 0;
  cl_bool unified = CL_FALSE;
  cl_uint width = 0;
  cl_ulong max_alloc = 0;
  clGetDeviceInfo(o->device, CL_DEVICE_TYPE, sizeof type, &type, NULL);
  clGetDeviceInfo(o->device, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL);
  clGetDeviceInfo(o->device, CL_DEVICE_PREFERRED_VECTOR_WIDTH_DOUBLE, sizeof width, &width, NULL);
  clGetDeviceInfo(o->device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof max_alloc, &max_alloc, NULL);
  b->caps = (fitcl__caps){.fp64 = desc->fp64,
                          .precision = prec,
                          .cpu_device = (type & CL_DEVICE_TYPE_CPU) != 0,
                          .unified_memory = unified == CL_TRUE,
                          .subgroups = has_extension(o->device, "cl_khr_subgroups"),
                          .vector_width = width ? (int)width : 1,
                          .compute_units = (int)o->compute_units,
                          .max_work_group = o->max_work_group,
                          .global_mem = o->global_mem,
                          .max_alloc = max_alloc,
                          .local_mem = o->local_mem};
  identify(o, b->identity, sizeof b->identity);
  /* Opened without fp64 (FITCL_OPENCL_NO_FP64=1 on a device that has it),
   * the accumulation runs other kernels: a tuning record of its own. */
  size_t len = strlen(b->identity);
  if (!desc->fp64) snprintf(b->identity + len, sizeof b->identity - len, "no fp64\n");
  b->accum = &fitcl__accum_ocl_ops;
  b->lik = &fitcl__lik_ocl_ops;
  /* Without fp64 only the families with a float form run on the device;
   * the others are left NULL and run on the host (context_create.c). */
  if (!desc->fp64) return FITCL_OK;
  b->reduce = &fitcl__reduce_ocl_ops;
  b->pmatrix = &fitcl__pmatrix_ocl_ops;
  b->kstate = &fitcl__kstate_ocl_ops;
  b->batch = &fitcl__batch_ocl_ops;
  b->voi = &fitcl__voi_ocl_ops;
  b->credit = &fitcl__credit_ocl_ops;
  return FITCL_OK;
}

const fitcl__driver fitcl__driver_opencl = {"opencl", fitcl__ocl_discover, ocl_open};
