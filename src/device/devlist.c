#include "device/devlist.h"

#include <stdlib.h>
#include <string.h>

fitcl_device_desc *fitcl__devlist_push(fitcl__devlist *l, fitcl__devref ref) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 8;
    fitcl_device_desc *d = realloc(l->desc, cap * sizeof *d);
    if (!d) return NULL;
    l->desc = d;
    fitcl__devref *r = realloc(l->ref, cap * sizeof *r);
    if (!r) return NULL;
    l->ref = r;
    l->cap = cap;
  }
  memset(&l->desc[l->n], 0, sizeof l->desc[l->n]);
  l->ref[l->n] = ref;
  return &l->desc[l->n++];
}

void fitcl__devlist_free(fitcl__devlist *l) {
  free(l->desc);
  free(l->ref);
  memset(l, 0, sizeof *l);
}
