/* The OpenCL sources embedded at build time (the .cl files and cl/common headers). */
#ifndef FITCL_DEVICE_OPENCL_CLSOURCES_H
#define FITCL_DEVICE_OPENCL_CLSOURCES_H
#include <stddef.h>

typedef struct fitcl__cl_file {
  const char *name;   /* path relative to cl/, e.g. "lik.cl", "common/gainloss.h" */
  const char *data;   /* NUL-terminated */
  size_t size;
} fitcl__cl_file;

extern const fitcl__cl_file fitcl__cl_files[];
extern const size_t fitcl__cl_nfiles;

/* Looks up an embedded file by name; NULL when absent. */
const fitcl__cl_file *fitcl__cl_find(const char *name);

#endif
