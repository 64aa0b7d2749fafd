/* Failure details and logging.  Nothing here prints unless a log level was
 * set (FITCL_LOG or options) or a callback was installed. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/context.h"
#include "core/util.h"

static const char *level_name(fitcl_log_level l) {
  switch (l) {
    case FITCL_LOG_ERROR: return "error";
    case FITCL_LOG_WARN: return "warn";
    case FITCL_LOG_INFO: return "info";
    case FITCL_LOG_DEBUG: return "debug";
    default: return "log";
  }
}

static void log_emit(const fitcl_context *ctx, fitcl_log_level level, const char *msg) {
  if (!ctx) return;
  const fitcl__env *e = &ctx->env;
  if (e->log_level == FITCL_LOG_OFF || e->log_level == FITCL_LOG_DEFAULT) {
    /* A callback with no explicit level receives warnings and errors. */
    if (!e->log_fn || level > FITCL_LOG_WARN) return;
  } else if (level > e->log_level) {
    return;
  }
  if (e->log_fn) e->log_fn(e->log_user, level, msg);
  else fprintf(stderr, "fitcl[%s]: %s\n", level_name(level), msg);
}

void fitcl__log(const fitcl_context *ctx, fitcl_log_level level, const char *fmt, ...) {
  if (!ctx) return;
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fitcl__escape_controls(msg, sizeof msg, 1);
  log_emit(ctx, level, msg);
}

fitcl_status fitcl__failv(fitcl_context *ctx, fitcl_status status, const char *fmt, va_list ap) {
  if (!ctx) return status;
  vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
  /* Messages quote inputs (names, headers, paths); control bytes in them,
   * newlines included, are shown, never obeyed: a message is one line. */
  fitcl__escape_controls(ctx->errmsg, sizeof ctx->errmsg, 0);
  log_emit(ctx, FITCL_LOG_ERROR, ctx->errmsg);
  return status;
}

fitcl_status fitcl__fail(fitcl_context *ctx, fitcl_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fitcl__failv(ctx, status, fmt, ap);
  va_end(ap);
  return status;
}

fitcl_status fitcl__fail_detail(fitcl_context *ctx, fitcl_status status, const char *detail,
                                const char *fmt, ...) {
  if (!ctx) return status;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
  va_end(ap);
  fitcl__escape_controls(ctx->errmsg, sizeof ctx->errmsg, 0);
  size_t n = strlen(ctx->errmsg);
  if (detail && n + 2 < sizeof ctx->errmsg) {
    ctx->errmsg[n] = '\n';
    fitcl__strlcpy(ctx->errmsg + n + 1, detail, sizeof ctx->errmsg - n - 1);
    fitcl__escape_controls(ctx->errmsg + n + 1, sizeof ctx->errmsg - n - 1, 1);
  }
  log_emit(ctx, FITCL_LOG_ERROR, ctx->errmsg);
  return status;
}

void fitcl__clear_error(fitcl_context *ctx) {
  if (ctx) ctx->errmsg[0] = '\0';
}

const char *fitcl_errmsg(const fitcl_context *ctx) {
  if (!ctx) return "no context (creation failed before one could be allocated)";
  return ctx->errmsg;
}
