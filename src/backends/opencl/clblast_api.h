/* CLBlast, loaded at run time.  Internal.
 *
 * Only the materialised accumulation path (fitcl_accum_options.path = 2)
 * uses CLBlast, so it is loaded the first time that path is wanted, not
 * linked: most processes never map it (nor the C++ runtime it pulls in), and
 * hosts without it lose that one path.  <clblast_c.h> gives the types and
 * constants at build time; the macros below route the calls through a
 * table, as device/opencl/cl_api.h does for OpenCL. */
#ifndef FITCL_BACKENDS_OPENCL_CLBLAST_API_H
#define FITCL_BACKENDS_OPENCL_CLBLAST_API_H

#include <stddef.h>

/* Before cl_api.h: <clblast_c.h> includes the other OpenCL headers, and
 * none of them should be read with the clXxx macros defined. */
#include <clblast_c.h>

#include "device/opencl/cl_api.h"

#define FITCL__CLBLAST_FUNCTIONS(X) X(Dsyrk) X(Dgemv)

typedef struct fitcl__clblast_api {
#define FITCL__CLBLAST_FIELD(name) __typeof__(CLBlast##name) *name;
  FITCL__CLBLAST_FUNCTIONS(FITCL__CLBLAST_FIELD)
#undef FITCL__CLBLAST_FIELD
} fitcl__clblast_api;

/* Filled by fitcl__clblast_load; read-only afterwards. */
extern fitcl__clblast_api fitcl__clblast;

/* Loads CLBlast once per process (thread-safe; never unloaded):
 * $FITCL_CLBLAST_LIBRARY when set (tried alone), else libclblast.so.1, then
 * libclblast.so.  Returns nonzero when usable; otherwise 0 and, when `why`
 * is not NULL, one line ("libclblast.so.1 cannot be loaded: <dlerror>" or
 * "libclblast.so.1 lacks CLBlastDsyrk"). */
int fitcl__clblast_load(char *why, size_t len);

#define CLBlastDsyrk fitcl__clblast.Dsyrk
#define CLBlastDgemv fitcl__clblast.Dgemv

#endif
