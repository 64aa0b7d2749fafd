/* Small internal utilities shared by every module. */
#ifndef FITCL_CORE_UTIL_H
#define FITCL_CORE_UTIL_H

#include <stddef.h>
#include <stdlib.h>

/* Frees and nulls, so a cleanup label can run twice safely. */
#define FITCL_FREE(p) do { free(p); (p) = NULL; } while (0)
#define FITCL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* snprintf that never overflows and always terminates; returns dst. */
char *fitcl__strlcpy(char *dst, const char *src, size_t size);
char *fitcl__strdup(const char *s);
int fitcl__strcasecontains(const char *haystack, const char *needle);

/* 1 when s[0..n) is a number written in decimal: [+-] digits [. digits]
 * [e [+-] digits] (or . digits), or, where a reader reports them as such,
 * inf, infinity or nan.  strtod also takes hexadecimal ("0x10", "0x1p-3"),
 * "nan(...)" and leading spaces; fitcl's inputs and options are decimal,
 * so a check before strtod turns those into errors. */
int fitcl__decimal_syntax(const char *s, size_t n);

/* Rewrites control bytes in the message msg (cap bytes of storage) as
 * "\xNN", so text from an input file can never drive the terminal an
 * error is shown on (escape sequences, carriage returns, bells).  Newlines
 * are kept when keep_newlines (a build log after the first line), escaped
 * otherwise.  Truncates to fit. */
void fitcl__escape_controls(char *msg, size_t cap, int keep_newlines);

/* Growable byte buffer. */
typedef struct fitcl__buf {
  char *data;
  size_t len, cap;
  int oom;   /* sticky: set when an append failed */
} fitcl__buf;
void fitcl__buf_append(fitcl__buf *b, const void *data, size_t len);
void fitcl__buf_printf(fitcl__buf *b, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));
void fitcl__buf_free(fitcl__buf *b);

/* Monotonic wall clock in seconds. */
double fitcl__now(void);

/* SHA-256 of a byte string, as 64 lowercase hex characters + NUL. */
void fitcl__sha256_hex(const void *data, size_t len, char out[65]);
void fitcl__sha256(const void *data, size_t len, unsigned char out[32]);

#endif
