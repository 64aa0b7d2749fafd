/* The store of resident pieces (accum_resident.h): a sorted array, since
 * a pass makes its pieces in row order and later passes look them up the
 * same way. */
#include "backends/opencl/accum_resident.h"

#include <stdlib.h>
#include <string.h>

#include "core/context.h"

/* Index of the first piece whose row is >= row. */
static size_t lower_bound(const fitcl__resident_store *s, uint64_t row) {
  size_t lo = 0, hi = s->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->piece[mid].row < row) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

fitcl__resident_piece *fitcl__resident_find(fitcl__resident_store *s, uint64_t row) {
  size_t i = lower_bound(s, row);
  return i < s->count && s->piece[i].row == row ? &s->piece[i] : NULL;
}

static void release(fitcl__resident_piece *p) {
  FITCL__CL_RELEASE_MEM(p->x);
  FITCL__CL_RELEASE_MEM(p->y);
  FITCL__CL_RELEASE_MEM(p->sigma);
}

fitcl__resident_piece *fitcl__resident_make(fitcl_context *ctx, fitcl__resident_store *s,
                                            uint64_t row, size_t n, int nv, int has_sigma) {
  uint64_t bytes = (uint64_t)(nv + 1 + (has_sigma ? 1 : 0)) * n * sizeof(double);
  if (s->bytes + bytes > s->budget || fitcl__resident_find(s, row)) return NULL;
  if (s->count == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 16;
    fitcl__resident_piece *grown = realloc(s->piece, cap * sizeof *grown);
    if (!grown) return NULL;
    s->piece = grown;
    s->cap = cap;
  }
  fitcl__resident_piece p = {row, n, has_sigma, bytes, NULL, NULL, NULL};
  size_t xbytes = nv ? (size_t)nv * n * sizeof(double) : sizeof(double); /* never 0 bytes */
  fitcl_status st = fitcl__ocl_alloc(ctx, CL_MEM_READ_ONLY, xbytes, NULL, &p.x);
  if (st == FITCL_OK) st = fitcl__ocl_alloc(ctx, CL_MEM_READ_ONLY, n * sizeof(double), NULL, &p.y);
  if (st == FITCL_OK && has_sigma)
    st = fitcl__ocl_alloc(ctx, CL_MEM_READ_ONLY, n * sizeof(double), NULL, &p.sigma);
  if (st != FITCL_OK) {
    /* The device is fuller than its size says: keep what is resident,
     * stream the rest. */
    release(&p);
    fitcl__clear_error(ctx);
    s->budget = s->bytes;
    return NULL;
  }
  size_t i = lower_bound(s, row);
  memmove(s->piece + i + 1, s->piece + i, (s->count - i) * sizeof *s->piece);
  s->piece[i] = p;
  s->count++;
  s->bytes += bytes;
  return &s->piece[i];
}

void fitcl__resident_unmake(fitcl__resident_store *s, fitcl__resident_piece *p) {
  size_t i = (size_t)(p - s->piece);
  s->bytes -= p->bytes;
  release(p);
  memmove(s->piece + i, s->piece + i + 1, (s->count - i - 1) * sizeof *s->piece);
  s->count--;
}

void fitcl__resident_free(fitcl__resident_store *s) {
  for (size_t i = 0; i < s->count; ++i) release(&s->piece[i]);
  free(s->piece);
  memset(s, 0, sizeof *s);
}
