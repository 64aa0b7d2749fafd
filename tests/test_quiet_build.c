/* Builds from source keep the compiler's console output off stderr
 * (device/opencl/quiet_build.c): its summary line ("1 warning generated.")
 * goes to the log at debug level, and what another thread writes to stderr
 * meanwhile still reaches stderr, every line once, even where it landed
 * between two pieces of the compiler's summary. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/context.h"
#include "device/opencl/compiler_summary.h"
#include "device/opencl/ocl.h"
#include "fitcl.h"
#include "test_util.h"

/* This process's stderr, sent to a file for the duration. */
typedef struct {
  FILE *file;
  int saved;
} stderr_capture;

static void capture_begin(stderr_capture *c) {
  fflush(stderr);
  c->file = tmpfile();
  cr_assert_not_null(c->file);
  c->saved = dup(STDERR_FILENO);
  cr_assert_geq(dup2(fileno(c->file), STDERR_FILENO), 0);
}

static char *capture_end(stderr_capture *c) {
  fflush(stderr);
  dup2(c->saved, STDERR_FILENO);
  close(c->saved);
  int fd = fileno(c->file);
  off_t n = lseek(fd, 0, SEEK_END);
  char *text = calloc((size_t)n + 1, 1);
  cr_assert_eq(pread(fd, text, (size_t)n, 0), (ssize_t)n);
  fclose(c->file);
  return text;
}

typedef struct {
  char text[4096];
} log_record;

static void record_log(void *user, fitcl_log_level level, const char *msg) {
  log_record *r = user;
  if (level == FITCL_LOG_DEBUG && strlen(r->text) + strlen(msg) + 2 < sizeof r->text) {
    strcat(r->text, msg);
    strcat(r->text, "\n");
  }
}

/* A context on the OpenCL device that logs debug messages into `r`. */
static fitcl_context *logging_context(log_record *r) {
  fitcl_test_backend b[2];
  if (fitcl_test_backends(b, 2) < 2) return NULL;
  fitcl_context_options o = {0};
  o.device = b[1].selector;
  o.cache = FITCL_CACHE_OFF;
  o.log_level = FITCL_LOG_DEBUG;
  o.log_fn = record_log;
  o.log_user = r;
  fitcl_context *ctx = NULL;
  cr_assert_eq(fitcl_context_create(&o, &ctx), FITCL_OK, "%s", fitcl_errmsg(ctx));
  r->text[0] = '\0';
  return ctx;
}

/* Source the driver has not seen before, or its own cache would skip the
 * compiler: the body, then a kernel named uniquely for this run (code, not
 * a comment: PoCL keys its cache on the preprocessed source). */
static void fresh_source(char *out, size_t cap, const char *body) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  snprintf(out, cap, "%s\n__kernel void unique_%ld_%ld_%ld(void) {}\n", body, (long)getpid(),
           (long)t.tv_sec, (long)t.tv_nsec);
}

Test(quiet_build, compiler_summary_goes_to_the_log) {
  log_record r = {{0}};
  fitcl_context *ctx = logging_context(&r);
  if (!ctx) cr_skip_test("no OpenCL device");
  char src[512];
  /* An unused comparison: clang warns, the build succeeds. */
  fresh_source(src, sizeof src, "__kernel void k(__global int *a) { a[0] == 1; }");
  stderr_capture c;
  capture_begin(&c);
  cl_program p = NULL;
  fitcl_status st = fitcl__ocl_build_source(ctx, "warns.cl", src, NULL, &p);
  char *err = capture_end(&c);
  cr_assert_eq(st, FITCL_OK, "%s", fitcl_errmsg(ctx));
  cr_expect_str_empty(err, "stderr: %s", err);
  cr_expect(strstr(r.text, "warns.cl") && strstr(r.text, "generated."), "debug log: %s", r.text);
  clReleaseProgram(p);
  free(err);
  fitcl_context_destroy(ctx);
}

typedef struct {
  atomic_int stop;
  int written;
} chatter;

/* Another part of the application writing to stderr. */
static void *chatter_run(void *arg) {
  chatter *ch = arg;
  while (!atomic_load(&ch->stop) || ch->written < 20) {
    char line[64];
    int n = snprintf(line, sizeof line, "chatter %d\n", ch->written);
    if (write(STDERR_FILENO, line, (size_t)n) != n) break;
    ch->written++;
    nanosleep(&(struct timespec){0, 1000000}, NULL);
  }
  return NULL;
}

Test(quiet_build, other_threads_output_is_kept) {
  log_record r = {{0}};
  fitcl_context *ctx = logging_context(&r);
  if (!ctx) cr_skip_test("no OpenCL device");
  char src[512];
  fresh_source(src, sizeof src, "__kernel void k(__global int *a) { a[0] = undefined_name; }");
  stderr_capture c;
  capture_begin(&c);
  chatter ch = {0};
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, chatter_run, &ch), 0);
  cl_program p = NULL;
  fitcl_status st = fitcl__ocl_build_source(ctx, "broken.cl", src, NULL, &p);
  atomic_store(&ch.stop, 1);
  pthread_join(t, NULL);
  char *err = capture_end(&c);
  cr_assert_eq(st, FITCL_ERR_BUILD);
  cr_expect_null(strstr(err, "generated."), "the compiler's summary leaked: %s", err);
  int lines = 0;
  for (const char *q = err; (q = strchr(q, '\n')); ++q) ++lines;
  cr_expect_eq(lines, ch.written, "%d lines written, %d on stderr:\n%s", ch.written, lines, err);
  for (int i = 0; i < ch.written; ++i) {
    char line[64];
    snprintf(line, sizeof line, "chatter %d\n", i);
    cr_expect_not_null(strstr(err, line), "'%s' lost", line);
  }
  free(err);
  fitcl_context_destroy(ctx);
}

/* split(text) as "other|summary". */
static void split(const char *text, char *out, size_t cap) {
  size_t len = strlen(text), summary_len = 0;
  char *other = malloc(len + 1), *summary = malloc(len + 1);
  size_t kept = fitcl__split_compiler_summary(text, len, other, summary, &summary_len);
  snprintf(out, cap, "%.*s|%.*s", (int)kept, other, (int)summary_len, summary);
  free(other);
  free(summary);
}

Test(compiler_summary, whole_lines) {
  char out[256];
  split("1 warning generated.\n", out, sizeof out);
  cr_expect_str_eq(out, "|1 warning generated.\n");
  split("a\n12 errors generated.\nb\n", out, sizeof out);
  cr_expect_str_eq(out, "a\nb\n|12 errors generated.\n");
  split("2 warnings and 1 error generated.\n", out, sizeof out);
  cr_expect_str_eq(out, "|2 warnings and 1 error generated.\n");
  split("1 warning generated.\n3 errors generated.\n", out, sizeof out);
  cr_expect_str_eq(out, "|1 warning generated.\n3 errors generated.\n");
}

/* Lines that look like a summary's start, or end, but are not one stay. */
Test(compiler_summary, look_alikes_are_kept) {
  const char *kept[] = {"12 apples\n",       "1 warning\n",        " generated.\n",
                        "1 warning generated\n", "warning generated.\n", "1 error generated. \n",
                        "1 error generated.",  "x1 error generated.\n", ""};
  for (size_t i = 0; i < sizeof kept / sizeof *kept; ++i) {
    char out[256], want[256];
    split(kept[i], out, sizeof out);
    snprintf(want, sizeof want, "%s|", kept[i]);
    cr_expect_str_eq(out, want);
  }
  char out[256];
  split("12 apples\n1 error\n", out, sizeof out);
  cr_expect_str_eq(out, "12 apples\n1 error\n|");
}

/* Every way clang's pieces and whole lines from another thread can
 * interleave: the other lines come out whole and in order, the summary
 * whole.  (Lines that begin like a summary piece are ambiguous there; see
 * compiler_summary.h.) */
Test(compiler_summary, other_lines_between_any_two_pieces) {
  const char *const summaries[][8] = {
      {"1", " warning", " generated", ".\n"},
      {"12", " error", "s", " generated", ".\n"},
      {"2", " warning", "s", " and ", "1", " error", " generated", ".\n"},
  };
  const char *const others[] = {"chatter 1\n", "[app] 7 dwarfs\n", "warning: 1 error\n", "\n"};
  for (size_t k = 0; k < 3; ++k) {
    size_t pieces = 0;
    char whole[128] = "";
    while (pieces < 8 && summaries[k][pieces]) strcat(whole, summaries[k][pieces++]);
    /* Each piece boundary (and the two ends) gets none, one or two lines. */
    size_t slots = pieces + 1, ways = 1;
    for (size_t i = 0; i < slots; ++i) ways *= 3;
    for (size_t w = 0; w < ways; ++w) {
      char text[512] = "", want_other[512] = "";
      size_t code = w, next = 0;
      for (size_t i = 0; i < slots; ++i, code /= 3) {
        for (size_t c = 0; c < code % 3; ++c) {
          const char *o = others[next++ % 4];
          strcat(text, o);
          strcat(want_other, o);
        }
        if (i < pieces) strcat(text, summaries[k][i]);
      }
      char out[512], want[512];
      split(text, out, sizeof out);
      snprintf(want, sizeof want, "%s|%s", want_other, whole);
      cr_expect_str_eq(out, want, "from %s", text);
    }
  }
}
