/* The table of backend drivers, and device discovery over all of them.
 * Internal. */
#ifndef FITCL_BACKENDS_REGISTRY_H
#define FITCL_BACKENDS_REGISTRY_H

#include <stddef.h>
#include "device/backend.h"

/* The driver named `name` ("cpu", "opencl"), or NULL. */
const fitcl__driver *fitcl__driver_named(const char *name);

/* Lists the devices of every driver, the pthreads backend first (with
 * cpu_only, that one alone: nothing else is loaded).  Errors are
 * out-of-memory only; a driver with no devices is not an error. */
fitcl_status fitcl__discover(fitcl__devlist *list, int cpu_only);

#endif
