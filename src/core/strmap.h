/* Open-addressing hash map from strings to indices, for name look-ups in
 * the readers.  The map stores only hashes and indices; the strings live
 * with the caller, who supplies them back through a callback, so growing
 * name storage never invalidates the map.  Internal. */
#ifndef FITCL_CORE_STRMAP_H
#define FITCL_CORE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef const char *(*fitcl__strmap_key_fn)(const void *user, size_t index);

typedef struct fitcl__strmap {
  size_t cap;      /* power of two, or 0 */
  size_t count;
  uint64_t *hash;
  size_t *index;   /* SIZE_MAX marks an empty slot */
  fitcl__strmap_key_fn key;
  const void *user;
} fitcl__strmap;

uint64_t fitcl__strhash(const char *s, size_t len);

void fitcl__strmap_init(fitcl__strmap *m, fitcl__strmap_key_fn key, const void *user);
void fitcl__strmap_free(fitcl__strmap *m);
/* Returns the index stored under s[0..len), or SIZE_MAX. */
size_t fitcl__strmap_get(const fitcl__strmap *m, const char *s, size_t len);
/* Inserts index under s[0..len) unless the key is present.  Returns the
 * index already stored (a duplicate), `index` when inserted, or SIZE_MAX-1
 * when out of memory. */
size_t fitcl__strmap_put(fitcl__strmap *m, const char *s, size_t len, size_t index);

#endif
