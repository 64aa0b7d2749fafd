#include "core/util.h"

#include <ctype.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

char *fitcl__strlcpy(char *dst, const char *src, size_t size) {
  if (size == 0) return dst;
  size_t n = src ? strlen(src) : 0;
  if (n >= size) n = size - 1;
  if (n) memcpy(dst, src, n);
  dst[n] = '\0';
  return dst;
}

char *fitcl__strdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

int fitcl__strcasecontains(const char *haystack, const char *needle) {
  size_t hn = strlen(haystack), nn = strlen(needle);
  if (nn == 0) return 1;
  for (size_t i = 0; i + nn <= hn; ++i) {
    size_t j = 0;
    while (j < nn && tolower((unsigned char)haystack[i + j]) == tolower((unsigned char)needle[j])) ++j;
    if (j == nn) return 1;
  }
  return 0;
}

static int ci_equal(const char *s, size_t n, const char *word) {
  size_t k = strlen(word);
  if (n != k) return 0;
  for (size_t i = 0; i < n; ++i)
    if (tolower((unsigned char)s[i]) != word[i]) return 0;
  return 1;
}

int fitcl__decimal_syntax(const char *s, size_t n) {
  size_t i = 0;
  if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
  if (ci_equal(s + i, n - i, "inf") || ci_equal(s + i, n - i, "infinity") ||
      ci_equal(s + i, n - i, "nan"))
    return 1;
  size_t digits = 0;
  while (i < n && isdigit((unsigned char)s[i])) ++i, ++digits;
  if (i < n && s[i] == '.') {
    ++i;
    while (i < n && isdigit((unsigned char)s[i])) ++i, ++digits;
  }
  if (!digits) return 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    size_t e = 0;
    while (i < n && isdigit((unsigned char)s[i])) ++i, ++e;
    if (!e) return 0;
  }
  return i == n;
}

void fitcl__escape_controls(char *msg, size_t cap, int keep_newlines) {
  size_t n = strnlen(msg, cap), bad = 0;
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = (unsigned char)msg[i];
    bad += (c < 0x20 && !(keep_newlines && c == '\n')) || c == 0x7f;
  }
  if (!bad || cap == 0) return;
  char *copy = malloc(n + 1);
  if (!copy) {
    /* No room to expand: blank them out instead. */
    for (size_t i = 0; i < n; ++i) {
      unsigned char c = (unsigned char)msg[i];
      if ((c < 0x20 && !(keep_newlines && c == '\n')) || c == 0x7f) msg[i] = '?';
    }
    return;
  }
  memcpy(copy, msg, n);
  size_t o = 0;
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = (unsigned char)copy[i];
    int esc = (c < 0x20 && !(keep_newlines && c == '\n')) || c == 0x7f;
    size_t need = esc ? 4 : 1;
    if (o + need + 1 > cap) break;
    if (esc) {
      snprintf(msg + o, 5, "\\x%02x", c);
    } else {
      msg[o] = (char)c;
    }
    o += need;
  }
  msg[o] = '\0';
  free(copy);
}

static void buf_reserve(fitcl__buf *b, size_t extra) {
  if (b->oom) return;
  if (b->len + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1) cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p) {
    b->oom = 1;
    return;
  }
  b->data = p;
  b->cap = cap;
}

void fitcl__buf_append(fitcl__buf *b, const void *data, size_t len) {
  buf_reserve(b, len);
  if (b->oom) return;
  memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
}

void fitcl__buf_printf(fitcl__buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  buf_reserve(b, (size_t)n);
  if (b->oom) return;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void fitcl__buf_free(fitcl__buf *b) {
  FITCL_FREE(b->data);
  b->len = b->cap = 0;
  b->oom = 0;
}

double fitcl__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void fitcl__sha256(const void *data, size_t len, unsigned char out[32]) {
  struct sha256_ctx c;
  sha256_init(&c);
  sha256_update(&c, len, (const uint8_t *)data);
  sha256_digest(&c, SHA256_DIGEST_SIZE, out);
}

void fitcl__sha256_hex(const void *data, size_t len, char out[65]) {
  unsigned char d[32];
  fitcl__sha256(data, len, d);
  for (int i = 0; i < 32; ++i) snprintf(out + 2 * i, 3, "%02x", d[i]);
}
