/* The list of devices that discovery found: the public descriptions and,
 * beside each, an opaque reference that only the driver which listed the
 * device reads back (an OpenCL platform and device id, say).  Internal. */
#ifndef FITCL_DEVICE_DEVLIST_H
#define FITCL_DEVICE_DEVLIST_H

#include <stddef.h>
#include "fitcl.h"

typedef struct fitcl__devref {
  void *a, *b;
} fitcl__devref;

typedef struct fitcl__devlist {
  fitcl_device_desc *desc;  /* [n] */
  fitcl__devref *ref;       /* [n] */
  size_t n, cap;
} fitcl__devlist;

/* Appends a zeroed entry with reference `ref`; NULL when out of memory. */
fitcl_device_desc *fitcl__devlist_push(fitcl__devlist *l, fitcl__devref ref);
/* Frees both arrays and zeroes the list. */
void fitcl__devlist_free(fitcl__devlist *l);

#endif
