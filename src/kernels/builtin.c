/* Built-in models.  Each is an ordinary expression compiled like a user's,
 * so built-ins and user models share one code path and one set of tests. */
#include <string.h>

#include "core/context.h"
#include "kernels/model.h"

typedef struct builtin {
  const char *name;
  const char *expr;
  const char *params; /* space separated, in parameter order */
  const char *vars;
} builtin;

static const builtin builtins[] = {
  {"exp_decay", "a*exp(-b*x)+c", "a b c", "x"},
  {"double_exp", "a1*exp(-b1*x)+a2*exp(-b2*x)", "a1 b1 a2 b2", "x"},
  {"gaussian", "a*exp(-(x-mu)^2/(2*sigma^2))+c", "a mu sigma c", "x"},
  {"lorentzian", "a*gamma^2/((x-x0)^2+gamma^2)+c", "a x0 gamma c", "x"},
  {"power_law", "a*x^b+c", "a b c", "x"},
  {"stretched_exp", "a*exp(-(x/tau)^beta)+c", "a tau beta c", "x"},
  {"xpcs_g2", "offset+contrast*exp(-2*q^2*(D0*tau^(alpha+1)/(alpha+1)+D_offset*tau))",
   "offset contrast D0 alpha D_offset", "tau q"},
};

static const builtin *find(const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; ++i)
    if (strcmp(builtins[i].name, name) == 0) return &builtins[i];
  return NULL;
}

const char *fitcl_model_builtin_expr(const char *name) {
  const builtin *b = find(name);
  return b ? b->expr : NULL;
}
const char *fitcl_model_builtin_params(const char *name) {
  const builtin *b = find(name);
  return b ? b->params : NULL;
}
const char *fitcl_model_builtin_vars(const char *name) {
  const builtin *b = find(name);
  return b ? b->vars : NULL;
}
const char *fitcl_model_builtin_name(size_t i) {
  return i < sizeof builtins / sizeof builtins[0] ? builtins[i].name : NULL;
}

/* Splits "a b c" into pointers into buf. */
static size_t split(const char *s, char *buf, size_t bufsize, const char **out, size_t cap) {
  size_t n = 0;
  strncpy(buf, s, bufsize - 1);
  buf[bufsize - 1] = 0;
  char *save = NULL;
  for (char *tok = strtok_r(buf, " ", &save); tok && n < cap; tok = strtok_r(NULL, " ", &save))
    out[n++] = tok;
  return n;
}

fitcl_status fitcl_model_builtin(fitcl_context *ctx, const char *name, fitcl_model **out) {
  if (ctx) fitcl__clear_error(ctx);
  if (!out) return fitcl__fail(ctx, FITCL_ERR_NULL, "out is NULL");
  *out = NULL;
  const builtin *b = find(name);
  if (!b) {
    char list[256] = "";
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; ++i) {
      if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
      strncat(list, builtins[i].name, sizeof list - strlen(list) - 1);
    }
    return fitcl__fail(ctx, FITCL_ERR_NAME, "unknown built-in model '%s' (known: %s)",
                       name ? name : "(null)", list);
  }
  char pbuf[256], vbuf[256];
  const char *params[FITCL_NLSQ_MAX_PARAMS], *vars[FITCL_NLSQ_MAX_VARS];
  size_t np = split(b->params, pbuf, sizeof pbuf, params, FITCL_NLSQ_MAX_PARAMS);
  size_t nv = split(b->vars, vbuf, sizeof vbuf, vars, FITCL_NLSQ_MAX_VARS);
  return fitcl_model_compile(ctx, b->expr, params, np, vars, nv, out);
}
