/* FITCL_DEVICE grammar (docs/device-selection.md).  Internal. */
#ifndef FITCL_DEVICE_SELECTOR_H
#define FITCL_DEVICE_SELECTOR_H

#include <stddef.h>
#include "fitcl.h"

#define FITCL__MAX_CANDIDATES 64
#define FITCL__MAX_SET 16 /* devices one context may join with '+' or '*' */

/* One candidate: the devices of one context (indices into the list), the
 * first of them the context's own device, the others its sub-contexts. */
typedef struct fitcl__devset {
  size_t n;
  size_t dev[FITCL__MAX_SET];
} fitcl__devset;

/* Resolves a selector to an ordered list of candidate sets; `fallback` is
 * set when a later one may be tried after an earlier one fails to open
 * (auto and ';' lists only).  Errors as fitcl__selector_candidates. */
fitcl_status fitcl__selector_sets(const char *selector, const char *label,
                                  const fitcl_device_desc *list, size_t count, fitcl__devset *sets,
                                  size_t *nsets, int *fallback, char *err, size_t errlen);

/* Resolves a selector to an ordered list of candidate devices (indices into
 * `list`): the first device of each candidate set.  `fallback` is set when later candidates may be tried if an
 * earlier one fails to initialise (auto and ';' lists only).  `label` names
 * where the selector came from in messages ("FITCL_DEVICE" or "device
 * selector").  On failure, err gets one line naming the label, the value
 * and the devices that exist. */
fitcl_status fitcl__selector_candidates(const char *selector, const char *label,
                                        const fitcl_device_desc *list, size_t count,
                                        size_t *cand, size_t *ncand, int *fallback,
                                        char *err, size_t errlen);

/* One line listing the devices ("cpu; opencl:0:cpu:0 (name, fp64)"). */
void fitcl__devices_summary(const fitcl_device_desc *list, size_t count, char *out, size_t size);

#endif
