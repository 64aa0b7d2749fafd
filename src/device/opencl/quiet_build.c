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
 * stderr) is written back to stderr unchanged, only later; clang writes its
 * summary in pieces that such lines can land between, and
 * compiler_summary.c takes them apart again.  Descriptor 2 is
 * one per process, so builds that redirect it take turns.  Loading a cached
 * binary runs no front end and is not redirected. */
#include "device/opencl/quiet_build.h"

#include "device/opencl/compiler_summary.h"

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

  char *other = len ? malloc(2 * len) : NULL;
  if (other) {
    char *summary = other + len;
    size_t summary_len = 0,
           kept = fitcl__split_compiler_summary(text, len, other, summary, &summary_len);
    for (size_t i = 0; i < summary_len;) {
      const char *line = summary + i, *nl = memchr(line, '\n', summary_len - i);
      size_t n = nl ? (size_t)(nl - line) : summary_len - i;
      fitcl__log(ctx, FITCL_LOG_DEBUG, "program %s: the compiler printed \"%.*s\"", name, (int)n,
                 line);
      i += n + (nl ? 1 : 0);
    }
    write_all(STDERR_FILENO, other, kept);
  } else if (len) {
    write_all(STDERR_FILENO, text, len); /* no memory to sort it: all of it back */
  }
  free(other);
  free(text);
  return err;
}
