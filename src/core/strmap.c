/* String-to-index hash map (linear probing, load factor <= 1/2). */
#include "core/strmap.h"

#include <stdlib.h>
#include <string.h>

uint64_t fitcl__strhash(const char *s, size_t len) {
  /* FNV-1a, then a final avalanche so linear probing sees spread bits. */
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; ++i) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

void fitcl__strmap_init(fitcl__strmap *m, fitcl__strmap_key_fn key, const void *user) {
  memset(m, 0, sizeof *m);
  m->key = key;
  m->user = user;
}

void fitcl__strmap_free(fitcl__strmap *m) {
  free(m->hash);
  free(m->index);
  m->hash = NULL;
  m->index = NULL;
  m->cap = m->count = 0;
}

static int key_equal(const fitcl__strmap *m, size_t idx, const char *s, size_t len) {
  const char *k = m->key(m->user, idx);
  return strnlen(k, len + 1) == len && memcmp(k, s, len) == 0;
}

size_t fitcl__strmap_get(const fitcl__strmap *m, const char *s, size_t len) {
  if (m->cap == 0) return SIZE_MAX;
  uint64_t h = fitcl__strhash(s, len);
  for (size_t j = (size_t)h & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
    if (m->index[j] == SIZE_MAX) return SIZE_MAX;
    if (m->hash[j] == h && key_equal(m, m->index[j], s, len)) return m->index[j];
  }
}

static int grow(fitcl__strmap *m) {
  size_t ncap = m->cap ? m->cap * 2 : 64;
  uint64_t *nh = malloc(ncap * sizeof *nh);
  size_t *ni = malloc(ncap * sizeof *ni);
  if (!nh || !ni) {
    free(nh);
    free(ni);
    return -1;
  }
  for (size_t j = 0; j < ncap; ++j) ni[j] = SIZE_MAX;
  for (size_t j = 0; j < m->cap; ++j) {
    if (m->index[j] == SIZE_MAX) continue;
    size_t k = (size_t)m->hash[j] & (ncap - 1);
    while (ni[k] != SIZE_MAX) k = (k + 1) & (ncap - 1);
    nh[k] = m->hash[j];
    ni[k] = m->index[j];
  }
  free(m->hash);
  free(m->index);
  m->hash = nh;
  m->index = ni;
  m->cap = ncap;
  return 0;
}

size_t fitcl__strmap_put(fitcl__strmap *m, const char *s, size_t len, size_t index) {
  if (2 * (m->count + 1) > m->cap && grow(m) != 0) return SIZE_MAX - 1;
  uint64_t h = fitcl__strhash(s, len);
  size_t j = (size_t)h & (m->cap - 1);
  for (;; j = (j + 1) & (m->cap - 1)) {
    if (m->index[j] == SIZE_MAX) break;
    if (m->hash[j] == h && key_equal(m, m->index[j], s, len)) return m->index[j];
  }
  m->hash[j] = h;
  m->index[j] = index;
  m->count++;
  return index;
}
