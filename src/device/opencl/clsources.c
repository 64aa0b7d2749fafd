#include "device/opencl/clsources.h"
#include <string.h>

const fitcl__cl_file *fitcl__cl_find(const char *name) {
  for (size_t i = 0; i < fitcl__cl_nfiles; ++i)
    if (strcmp(fitcl__cl_files[i].name, name) == 0) return &fitcl__cl_files[i];
  return NULL;
}
