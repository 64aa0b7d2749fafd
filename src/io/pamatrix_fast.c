/* The fast path of the presence/absence reader: simple Rtab rows packed a
 * vector (or a machine word) at a time, in parallel over row ranges
 * (io/pamatrix_fast.h). */
#include "io/pamatrix_fast.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pool.h"

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define PA_SSE2 1
#else
#define PA_SSE2 0
#endif

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PA_SWAR 1
#else
#define PA_SWAR 0
#endif

/* Ranges below this many bytes are not worth a thread. */
#define MIN_RANGE ((uint64_t)4 << 20)
#define MAX_THREADS 64u

/* ------------------------------------------------------------------------- */
/* Cells                                                                     */

static inline int cell_value(char c) {
  if (c == '0') return 0;
  if (c >= '1' && c <= '9') return 1;
  if (c == '?' || c == '-') return 2;
  return -1;
}

/* Up to four cells into one byte, one at a time: the rare cells (counts,
 * missing) and the tail of a row. */
static int pack_some(const char *s, size_t k, uint8_t *dst) {
  unsigned b = 0;
  for (size_t i = 0; i < k; ++i) {
    int v = s[2 * i] == '\t' ? cell_value(s[2 * i + 1]) : -1;
    if (v < 0) return -1;
    b |= (unsigned)v << (2 * i);
  }
  *dst = (uint8_t)b;
  return 0;
}

/* From cell t on, four cells per 64-bit word "\tc\tc\tc\tc". */
static int pack_words(const char *s, size_t t, size_t ncells, uint8_t *dst) {
#if PA_SWAR
  for (; t + 4 <= ncells; t += 4) {
    uint64_t w;
    memcpy(&w, s + 2 * t, 8);
    /* Tabs become 0, '0' 0 and '1' 1; anything else leaves a bit in the
     * mask and goes cell by cell. */
    uint64_t x = w ^ 0x3009300930093009ull;
    if (x & 0xFEFFFEFFFEFFFEFFull) {
      if (pack_some(s + 2 * t, 4, dst + (t >> 2)) != 0) return -1;
      continue;
    }
    /* The four cell bits (bits 8, 24, 40, 56) to bits 0, 2, 4, 6: one
     * multiply, no two partial products on the same bit. */
    dst[t >> 2] = (uint8_t)((((x >> 8) * 0x0000040010004001ull) >> 42) & 0x55);
  }
#endif
  for (; t < ncells; t += 4) {
    size_t k = ncells - t < 4 ? ncells - t : 4;
    if (pack_some(s + 2 * t, k, dst + (t >> 2)) != 0) return -1;
  }
  return 0;
}

int fitcl__pa_pack_swar(const char *s, size_t ncells, uint8_t *dst) {
  return pack_words(s, 0, ncells, dst);
}

int fitcl__pa_pack(const char *s, size_t ncells, uint8_t *dst) {
  size_t t = 0;
#if PA_SSE2
  /* Eight cells per 16 bytes: the tabs and 0/1 cells checked with one
   * compare, the cell bits gathered with one movemask. */
  const __m128i expect = _mm_set1_epi16(0x3009);
  const __m128i keep = _mm_set1_epi16((short)0xFEFF);
  const __m128i zero = _mm_setzero_si128();
  for (; t + 8 <= ncells; t += 8) {
    __m128i x = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(s + 2 * t)), expect);
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(x, keep), zero)) != 0xFFFF) {
      if (pack_some(s + 2 * t, 4, dst + (t >> 2)) != 0 ||
          pack_some(s + 2 * t + 8, 4, dst + (t >> 2) + 1) != 0)
        return -1;
      continue;
    }
    /* Bit 0 of each cell byte to its top bit; the odd bits of the mask are
     * the cells. */
    unsigned m = ((unsigned)_mm_movemask_epi8(_mm_slli_epi16(x, 7)) >> 1) & 0x5555u;
    dst[t >> 2] = (uint8_t)m;
    dst[(t >> 2) + 1] = (uint8_t)(m >> 8);
  }
#endif
  return pack_words(s, t, ncells, dst);
}

/* ------------------------------------------------------------------------- */
/* Transpose                                                                 */

/* The four 2-bit cells of a byte, one per byte of a word. */
static inline uint32_t spread(uint8_t a) {
  return (uint32_t)(a & 3u) | (uint32_t)((a >> 2) & 3u) << 8 | (uint32_t)((a >> 4) & 3u) << 16 |
         (uint32_t)((a >> 6) & 3u) << 24;
}

typedef struct tjob {
  const uint8_t *in;
  uint8_t *out;
  size_t nrows, ncols, sin, sout;
} tjob;

/* Tiles of 64 output rows (16 input byte columns) by 256 input rows, so a
 * tile's input and output both stay in cache. */
#define T_COLS 16
#define T_ROWS 64
static void transpose_task(void *arg, size_t task, unsigned worker) {
  (void)worker;
  const tjob *j = arg;
  size_t c0 = task * T_COLS, c1 = c0 + T_COLS < j->sin ? c0 + T_COLS : j->sin;
  for (size_t g0 = 0; g0 < j->sout; g0 += T_ROWS) {
    size_t g1 = g0 + T_ROWS < j->sout ? g0 + T_ROWS : j->sout;
    for (size_t c = c0; c < c1; ++c) {
      size_t nout = j->ncols - 4 * c < 4 ? j->ncols - 4 * c : 4;
      for (size_t g = g0; g < g1; ++g) {
        /* Input rows 4g..4g+3, byte c: cells of columns 4c..4c+3. */
        uint32_t w = 0;
        for (size_t k = 0; k < 4 && 4 * g + k < j->nrows; ++k)
          w |= spread(j->in[(4 * g + k) * j->sin + c]) << (2 * k);
        for (size_t o = 0; o < nout; ++o)
          j->out[(4 * c + o) * j->sout + g] = (uint8_t)(w >> (8 * o));
      }
    }
  }
}

static unsigned online_cpus(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1u : n > (long)MAX_THREADS ? MAX_THREADS : (unsigned)n;
}

void fitcl__pa_transpose(const uint8_t *in, size_t nrows, size_t ncols, uint8_t *out,
                         unsigned threads) {
  tjob j = {in, out, nrows, ncols, (ncols + 3) / 4, (nrows + 3) / 4};
  size_t ntasks = (j.sin + T_COLS - 1) / T_COLS;
  if (threads == 0) threads = online_cpus();
  if (threads > ntasks) threads = (unsigned)(ntasks ? ntasks : 1);
  /* Small matrices are not worth the threads. */
  if ((uint64_t)nrows * ncols < ((uint64_t)1 << 22)) threads = 1;
  fitcl__pool *pool = NULL;
  if (threads > 1 && fitcl__pool_create(threads, &pool) != FITCL_OK) pool = NULL;
  if (pool) {
    fitcl__pool_run(pool, ntasks, transpose_task, &j);
    fitcl__pool_destroy(pool);
  } else {
    for (size_t t = 0; t < ntasks; ++t) transpose_task(&j, t, 0);
  }
}

/* ------------------------------------------------------------------------- */
/* Rows                                                                      */

typedef struct range {
  uint64_t a, e;       /* [a, e): input bytes, a at a line start */
  size_t row0, bound;  /* rows of this range go to row0.., at most bound */
  size_t nrows, nlines;
  char *names;
  size_t nlen, ncap;
  int bad;
} range;

typedef struct job {
  fitcl__pa_fast *f;
  size_t stride;
  uint64_t total_end;  /* end of the input: a last line may lack its '\n' */
  range *r;
  uint8_t *packed;
  size_t *name_off;
} job;

/* The bytes of a range: all of it in memory, or a window read with pread. */
typedef struct window {
  const fitcl__pa_fast *f;
  const char *p;       /* bytes from file offset base */
  uint64_t base, len;
  char *buf;
  size_t cap;
} window;

/* Makes [pos, pos + min(need, e - pos)) available; 0, or -1 (declined:
 * read error, the file shrank, a line past the limit). */
static int ensure(window *w, uint64_t pos, uint64_t need, uint64_t e) {
  if (need > e - pos) need = e - pos;
  if (pos + need <= w->base + w->len) return 0;
  if (!w->buf && w->f->mem) return -1;
  if (need > w->f->max_line + 4) return -1;
  /* Keep the unread bytes, grow to hold the line, read the rest. */
  uint64_t keep = w->base + w->len > pos ? w->base + w->len - pos : 0;
  if (need > w->cap) {
    size_t nc = w->cap;
    while (nc < need) nc *= 2;
    char *nb = malloc(nc);
    if (!nb) return -1;
    if (keep) memcpy(nb, w->p + (pos - w->base), (size_t)keep);
    free(w->buf);
    w->buf = nb;
    w->cap = nc;
  } else if (keep) {
    memmove(w->buf, w->p + (pos - w->base), (size_t)keep);
  }
  w->p = w->buf;
  w->base = pos;
  w->len = keep;
  while (w->len < need) {
    uint64_t want = w->cap - w->len;
    if (want > e - (pos + w->len)) want = e - (pos + w->len);
    ssize_t got = pread(w->f->fd, w->buf + w->len, (size_t)want, (off_t)(pos + w->len));
    if (got <= 0) return -1;
    w->len += (uint64_t)got;
  }
  return 0;
}

static int add_name(range *r, const char *s, size_t n, size_t *off) {
  if (r->nlen + n + 1 > r->ncap) {
    size_t nc = r->ncap ? r->ncap : 4096;
    while (nc < r->nlen + n + 1) nc *= 2;
    char *p = realloc(r->names, nc);
    if (!p) return -1;
    r->names = p;
    r->ncap = nc;
  }
  memcpy(r->names + r->nlen, s, n);
  r->names[r->nlen + n] = '\0';
  *off = r->nlen;
  r->nlen += n + 1;
  return 0;
}

/* Reads the rows of one range; 0, or -1 to decline. */
static int read_range(const job *j, range *r, window *w) {
  const fitcl__pa_fast *f = j->f;
  const size_t ncols = f->ncols, cells = 2 * ncols;
  const int at_end = r->e == j->total_end;
  uint64_t pos = r->a;
  while (pos < r->e) {
    if (ensure(w, pos, 2, r->e) != 0) return -1;
    const char *s = w->p + (pos - w->base);
    uint64_t left = r->e - pos;
    /* Empty lines are blank records: skipped. */
    if (s[0] == '\n') {
      pos += 1;
      r->nlines++;
      continue;
    }
    if (s[0] == '\r' && (left == 1 ? at_end : s[1] == '\n')) {
      r->nlines += left != 1;
      pos += left == 1 ? 1 : 2;
      continue;
    }
    if (s[0] == ' ' || s[0] == '\t' || s[0] == '\r' || s[0] == '"') return -1;
    /* The name: up to the first tab. */
    const char *tab = NULL;
    for (uint64_t look = 256;; look *= 2) {
      if (ensure(w, pos, look, r->e) != 0) return -1;
      s = w->p + (pos - w->base);
      uint64_t have = w->base + w->len - pos;
      if (have > left) have = left;
      tab = memchr(s, '\t', (size_t)have);
      if (tab || have >= left) break;
      if (look > f->max_line) return -1;
    }
    if (!tab) return -1;
    size_t nl = (size_t)(tab - s);
    /* A row without a tab would take the next line's first field. */
    if (memchr(s, '\n', nl) || memchr(s, '\0', nl)) return -1;
    /* The cells, then at most a tab and a '\r' before the line end. */
    if (ensure(w, pos, (uint64_t)nl + cells + 3, r->e) != 0) return -1;
    s = w->p + (pos - w->base);
    uint64_t have = w->base + w->len - pos;
    if (have > left) have = left;
    if (nl + cells > have) return -1;
    if (r->nrows == r->bound || r->row0 + r->nrows >= f->max_rows) return -1;
    size_t row = r->row0 + r->nrows;
    if (fitcl__pa_pack(s + nl, ncols, j->packed + row * j->stride) != 0) return -1;
    uint64_t p = nl + cells;
    if (p < have && s[p] == '\t') p++;
    if (p < have && s[p] == '\r') p++;
    if (p < have) {
      if (s[p] != '\n') return -1;
      p++;
      r->nlines++;
    } else if (!at_end) {
      return -1;
    }
    if (add_name(r, s, nl, &j->name_off[row]) != 0) return -1;
    r->nrows++;
    pos += p;
  }
  return 0;
}

static void range_task(void *arg, size_t task, unsigned worker) {
  (void)worker;
  const job *j = arg;
  range *r = &j->r[task];
  const fitcl__pa_fast *f = j->f;
  window w = {f, NULL, 0, 0, NULL, 0};
  if (f->mem) {
    w.p = f->mem;
    w.len = f->memlen;
  } else {
    w.cap = f->chunk ? f->chunk : (size_t)1 << 20;
    w.buf = malloc(w.cap);
    if (!w.buf) {
      r->bad = 1;
      return;
    }
    w.p = w.buf;
    w.base = r->a;
  }
  r->bad = read_range(j, r, &w) != 0;
  free(w.buf);
}

/* The first line start at or after `at` (the byte before it is '\n'), or
 * e; UINT64_MAX on a read error. */
static uint64_t line_start(const fitcl__pa_fast *f, uint64_t at, uint64_t e) {
  if (at == 0) return 0;
  uint64_t pos = at - 1;
  if (f->mem) {
    const char *nl = memchr(f->mem + pos, '\n', (size_t)(e - pos));
    return nl ? (uint64_t)(nl - f->mem) + 1 : e;
  }
  char buf[1 << 16];
  while (pos < e) {
    size_t want = e - pos < sizeof buf ? (size_t)(e - pos) : sizeof buf;
    ssize_t got = pread(f->fd, buf, want, (off_t)pos);
    if (got <= 0) return UINT64_MAX;
    const char *nl = memchr(buf, '\n', (size_t)got);
    if (nl) return pos + (uint64_t)(nl - buf) + 1;
    pos += (uint64_t)got;
  }
  return e;
}

int fitcl__pa_fast_rows(fitcl__pa_fast *f) {
  f->nrows = 0;
  f->packed = NULL;
  f->names = NULL;
  f->name_off = NULL;
  f->names_len = 0;
  f->nlines = 0;
  if (f->ncols == 0) return 0;
  if (!f->max_line || f->max_line > SIZE_MAX / 4) f->max_line = SIZE_MAX / 4;
  /* Offsets are relative to the start of the data rows. */
  uint64_t a = f->mem ? 0 : f->off, e = f->mem ? f->memlen : f->end;
  if (e <= a) return 0;
  unsigned nt = f->threads ? f->threads : online_cpus();
  if (nt > MAX_THREADS) nt = MAX_THREADS;
  uint64_t by_size = (e - a) / MIN_RANGE + 1;
  if (!f->threads && nt > by_size) nt = (unsigned)by_size;
  if (nt > e - a) nt = (unsigned)(e - a);

  job j = {f, (f->ncols + 3) / 4, e, NULL, NULL, NULL};
  j.r = calloc(nt, sizeof *j.r);
  if (!j.r) return 0;
  int ok = 0;
  fitcl__pool *pool = NULL;
  /* Split at newlines; a row takes at least 2 * ncols + 1 bytes. */
  const uint64_t minrow = 2 * (uint64_t)f->ncols + 1;
  uint64_t total = 0, prev = a;
  for (unsigned k = 0; k < nt; ++k) {
    uint64_t s = k == 0 ? a : line_start(f, a + (e - a) / nt * k, e);
    if (s == UINT64_MAX) goto done;
    if (s < prev) s = prev;
    j.r[k].a = s;
    if (k) j.r[k - 1].e = s;
    prev = s;
  }
  j.r[nt - 1].e = e;
  for (unsigned k = 0; k < nt; ++k) {
    uint64_t b = (j.r[k].e - j.r[k].a) / minrow + 1;
    if (b > f->max_rows + 1) b = f->max_rows + 1;
    j.r[k].row0 = (size_t)total;
    j.r[k].bound = (size_t)b;
    total += b;
    if (total > SIZE_MAX / (j.stride > sizeof(size_t) ? j.stride : sizeof(size_t))) goto done;
  }
  /* Virtual memory only: pages a gap never touches cost nothing. */
  j.packed = malloc((size_t)total * j.stride);
  j.name_off = malloc((size_t)total * sizeof *j.name_off);
  if (!j.packed || !j.name_off) goto done;
  if (nt > 1 && fitcl__pool_create(nt, &pool) != FITCL_OK) pool = NULL;
  if (pool) {
    fitcl__pool_run(pool, nt, range_task, &j);
  } else {
    for (unsigned k = 0; k < nt; ++k) range_task(&j, k, 0);
  }
  size_t rows = 0, nlen = 0, lines = 0;
  for (unsigned k = 0; k < nt; ++k) {
    if (j.r[k].bad) goto done;
    rows += j.r[k].nrows;
    nlen += j.r[k].nlen;
    lines += j.r[k].nlines;
  }
  if (rows == 0 || rows > f->max_rows) goto done;
  /* Close the gaps and join the names, ranges in order. */
  char *names = malloc(nlen ? nlen : 1);
  if (!names) goto done;
  size_t at = 0, nat = 0;
  for (unsigned k = 0; k < nt; ++k) {
    range *r = &j.r[k];
    if (r->row0 != at) {
      memmove(j.packed + at * j.stride, j.packed + r->row0 * j.stride, r->nrows * j.stride);
      memmove(j.name_off + at, j.name_off + r->row0, r->nrows * sizeof *j.name_off);
    }
    for (size_t i = 0; i < r->nrows; ++i) j.name_off[at + i] += nat;
    if (r->nlen) memcpy(names + nat, r->names, r->nlen);
    at += r->nrows;
    nat += r->nlen;
  }
  uint8_t *pk = realloc(j.packed, rows * j.stride);
  if (pk) j.packed = pk;
  size_t *no = realloc(j.name_off, rows * sizeof *no);
  if (no) j.name_off = no;
  f->nrows = rows;
  f->packed = j.packed;
  f->name_off = j.name_off;
  f->names = names;
  f->names_len = nlen;
  f->nlines = lines;
  j.packed = NULL;
  j.name_off = NULL;
  ok = 1;
done:
  if (pool) fitcl__pool_destroy(pool);
  for (unsigned k = 0; k < nt; ++k) free(j.r[k].names);
  free(j.r);
  free(j.packed);
  free(j.name_off);
  return ok;
}
