/* Builds from source without the compiler speaking on stderr.
 *
 * PoCL compiles in-process with clang.  Every diagnostic goes into the build
 * log, but clang also prints a summary line ("2 errors generated.",
 * "1 warning generated.") straight to file descriptor 2 (CompilerInstance::
 * ExecuteAction).  No PoCL setting or environment variable turns it off, and
 * PoCL refuses clang's -fno-caret-diagnostics as a build option.  The
 * library prints only through its log, so during a build from source
 * descriptor 2 points at an anonymous temporary file.  Afterwards the
 * compiler's summary lines go to the log at debug level and anything else
 * that arrived meanwhile (another thread of the application writing to
 * stderr) is written back to stderr unchanged, only later.  Descriptor 2 is
 * one per process, so builds that redirect it take turns.  Loading a cached
 * binary runs no front end and is not redirected. */
#include "device/opencl/quiet_build.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t stderr_turn = PTHREAD_MUTEX_INITIALIZER;

/* The whole of what was written to fd since offset 0 (malloc'ed), or NULL. */
static char *read_all(int fd, size_t *len) {
  *len = 0;
  if (lseek(fd, 0, SEEK_SET) != 0) return NULL;
  size_t cap = 0;
  char *buf = NULL;
  for (;;) {
    if (*len == cap) {
      char *grown = realloc(buf, cap ? 2 * cap : 4096);
      if (!grown) break;
      buf = grown;
      cap = cap ? 2 * cap : 4096;
    }
    ssize_t r = read(fd, buf + *len, cap - *len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    *len += (size_t)r;
  }
  return buf;
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= (size_t)w;
  }
}

/* Skips "<digits> <word>" or "<digits> <word>s"; returns the end or NULL. */
static const char *count_of(const char *s, const char *end, const char *word) {
  const char *p = s;
  while (p < end && *p >= '0' && *p <= '9') ++p;
  if (p == s || p == end || *p != ' ') return NULL;
  ++p;
  size_t n = strlen(word);
  if ((size_t)(end - p) < n || memcmp(p, word, n) != 0) return NULL;
  p += n;
  if (p < end && *p == 's') ++p;
  return p;
}

/* clang's summary: "N warning(s)", "N error(s)" or "N warning(s) and
 * M error(s)", then " generated.". */
static int is_compiler_summary(const char *s, const char *end) {
  const char *p = count_of(s, end, "warning");
  if (p && (size_t)(end - p) > 5 && memcmp(p, " and ", 5) == 0) p = count_of(p + 5, end, "error");
  if (!p) p = count_of(s, end, "error");
  static const char tail[] = " generated.";
  return p && (size_t)(end - p) == sizeof tail - 1 && memcmp(p, tail, sizeof tail - 1) == 0;
}

cl_int fitcl__ocl_build_quietly(fitcl_context *ctx, const char *name, cl_program p,
                                cl_device_id device, const char *options) {
  pthread_mutex_lock(&stderr_turn);
  fflush(stderr);
  FILE *capture = tmpfile();
  int saved = capture ? dup(STDERR_FILENO) : -1;
  int redirected = saved >= 0 && dup2(fileno(capture), STDERR_FILENO) >= 0;
  cl_int err = clBuildProgram(p, 1, &device, options, NULL, NULL);
  char *text = NULL;
  size_t len = 0;
  if (redirected) {
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    text = read_all(fileno(capture), &len);
  }
  if (saved >= 0) close(saved);
  if (capture) fclose(capture);
  pthread_mutex_unlock(&stderr_turn);

  for (size_t i = 0; i < len;) {
    const char *line = text + i, *nl = memchr(line, '\n', len - i);
    const char *end = nl ? nl : text + len;
    size_t n = (size_t)(end - line) + (nl ? 1 : 0);
    if (is_compiler_summary(line, end))
      fitcl__log(ctx, FITCL_LOG_DEBUG, "program %s: the compiler printed \"%.*s\"", name,
                 (int)(end - line), line);
    else
      write_all(STDERR_FILENO, line, n);
    i += n;
  }
  free(text);
  return err;
}
