/* Models: compiled expressions, C callbacks and OpenCL C sources behind one
 * handle, with host evaluation of f and the Jacobian. */
#include "kernels/model.h"
#include "expr/expr_stages.h"

#include <ctype.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "core/context.h"
#include "core/util.h"

static const char *const reserved[] = {
  "exp", "log", "log10", "sqrt", "pow", "sin", "cos", "tan", "asin", "acos", "atan", "atan2",
  "sinh", "cosh", "tanh", "erf", "erfc", "abs", "min", "max"};

/* Checks that names are identifiers, unique across both lists and not
 * function names (a parameter called "exp" could never be referenced). */
static fitcl_status check_names(fitcl_context *ctx, const char *what, const char *const *names,
                                size_t n, const char *const *other, size_t nother) {
  if (n && !names) return fitcl__fail(ctx, FITCL_ERR_NULL, "%s names are NULL", what);
  for (size_t i = 0; i < n; ++i) {
    const char *s = names[i];
    if (!s || !*s) return fitcl__fail(ctx, FITCL_ERR_ARG, "%s name %zu is empty", what, i + 1);
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
      return fitcl__fail(ctx, FITCL_ERR_ARG,
                         "%s name '%s' must start with a letter or '_'", what, s);
    for (const char *c = s; *c; ++c)
      if (!(isalnum((unsigned char)*c) || *c == '_'))
        return fitcl__fail(ctx, FITCL_ERR_ARG,
                           "%s name '%s' may contain only letters, digits and '_'", what, s);
    if (strlen(s) > 64)
      return fitcl__fail(ctx, FITCL_ERR_ARG, "%s name '%.20s...' is longer than 64", what, s);
    for (size_t r = 0; r < sizeof reserved / sizeof reserved[0]; ++r)
      if (strcmp(s, reserved[r]) == 0)
        return fitcl__fail(ctx, FITCL_ERR_ARG, "%s name '%s' is the name of a function", what,
                           s);
    for (size_t j = 0; j < i; ++j)
      if (strcmp(s, names[j]) == 0)
        return fitcl__fail(ctx, FITCL_ERR_ARG, "%s name '%s' appears twice", what, s);
    for (size_t j = 0; j < nother; ++j)
      if (other[j] && strcmp(s, other[j]) == 0)
        return fitcl__fail(ctx, FITCL_ERR_ARG,
                           "'%s' is both a parameter and a variable name", s);
  }
  return FITCL_OK;
}

static char **dup_names(const char *const *names, size_t n) {
  char **out = calloc(n ? n : 1, sizeof *out);
  if (!out) return NULL;
  for (size_t i = 0; i < n; ++i)
    if (!(out[i] = fitcl__strdup(names[i]))) {
      for (size_t j = 0; j < i; ++j) free(out[j]);
      free(out);
      return NULL;
    }
  return out;
}

/* Common part of every constructor: sizes, names, allocation. */
static fitcl_status model_new(fitcl_context *ctx, const char *const *params, size_t nparams,
                              const char *const *vars, size_t nvars, fitcl_model **out) {
  if (!out) return fitcl__fail(ctx, FITCL_ERR_NULL, "out is NULL");
  *out = NULL;
  if (nparams < 1 || nparams > FITCL_NLSQ_MAX_PARAMS)
    return fitcl__fail(ctx, FITCL_ERR_SIZE, "a model needs 1 to %d parameters, got %zu",
                       FITCL_NLSQ_MAX_PARAMS, nparams);
  if (nvars > FITCL_NLSQ_MAX_VARS)
    return fitcl__fail(ctx, FITCL_ERR_SIZE, "a model reads at most %d variables, got %zu",
                       FITCL_NLSQ_MAX_VARS, nvars);
  fitcl_status st = check_names(ctx, "parameter", params, nparams, NULL, 0);
  if (st == FITCL_OK) st = check_names(ctx, "variable", vars, nvars, params, nparams);
  if (st != FITCL_OK) return st;
  fitcl_model *m = calloc(1, sizeof *m);
  if (!m) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  m->ctx = ctx;
  m->nparams = (int)nparams;
  m->nvars = (int)nvars;
  m->pnames = dup_names(params, nparams);
  m->vnames = dup_names(vars, nvars);
  if (!m->pnames || !m->vnames) {
    fitcl_model_destroy(m);
    return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  }
  *out = m;
  return FITCL_OK;
}

fitcl_status fitcl_model_compile(fitcl_context *ctx, const char *expr,
                                 const char *const *params, size_t nparams,
                                 const char *const *vars, size_t nvars, fitcl_model **out) {
  fitcl__expr_graph g;
  fitcl__expr_graph_init(&g);
  fitcl_model *m = NULL;
  int32_t *roots = NULL;
  fitcl_status st;
  if (ctx) fitcl__clear_error(ctx);
  if (!expr) return fitcl__fail(ctx, FITCL_ERR_NULL, "expression is NULL");
  st = model_new(ctx, params, nparams, vars, nvars, &m);
  if (st != FITCL_OK) goto fail;
  m->kind = FITCL__MODEL_EXPR;
  fitcl__expr_error perr;
  int32_t root = fitcl__expr_parse(&g, expr, params, nparams, vars, nvars, &perr);
  if (root < 0) {
    st = fitcl__fail(ctx, perr.status ? perr.status : FITCL_ERR_PARSE,
                     "model expression, column %d: %s", perr.column, perr.msg);
    goto fail;
  }
  roots = malloc((nparams + 1) * sizeof *roots);
  if (!roots) goto oom;
  roots[0] = root;
  for (size_t k = 0; k < nparams; ++k) {
    roots[k + 1] = fitcl__expr_diff(&g, root, (int32_t)k);
    if (roots[k + 1] < 0) goto oom;
  }
  if (fitcl__expr_prog_build(&g, roots, (int)nparams + 1, (int)nparams, (int)nvars,
                             &m->prog_fj) != FITCL_OK ||
      fitcl__expr_prog_build(&g, roots, 1, (int)nparams, (int)nvars, &m->prog_f) != FITCL_OK)
    goto oom;
  if (!(m->expr = fitcl__strdup(expr))) goto oom;
  fitcl__expr_graph_free(&g);
  free(roots);
  *out = m;
  return FITCL_OK;
oom:
  st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory while compiling the model");
fail:
  fitcl__expr_graph_free(&g);
  free(roots);
  fitcl_model_destroy(m);
  return st;
}

fitcl_status fitcl_model_from_callback(fitcl_context *ctx, fitcl_model_fn fn, void *user,
                                       const char *const *params, size_t nparams,
                                       const char *const *vars, size_t nvars,
                                       fitcl_model **out) {
  if (ctx) fitcl__clear_error(ctx);
  if (!fn) return fitcl__fail(ctx, FITCL_ERR_NULL, "model callback is NULL");
  fitcl_status st = model_new(ctx, params, nparams, vars, nvars, out);
  if (st != FITCL_OK) return st;
  (*out)->kind = FITCL__MODEL_CALLBACK;
  (*out)->fn = fn;
  (*out)->user = user;
  return FITCL_OK;
}

fitcl_status fitcl_model_from_callback_fd(fitcl_context *ctx, fitcl_model_fn fn, void *user,
                                          fitcl_fd_mode mode, const char *const *params,
                                          size_t nparams, const char *const *vars, size_t nvars,
                                          fitcl_model **out) {
  if (mode != FITCL_FD_FORWARD && mode != FITCL_FD_CENTRAL)
    return fitcl__fail(ctx, FITCL_ERR_ARG, "finite-difference mode must be 0 (forward) or 1 "
                       "(central), got %d", (int)mode);
  fitcl_status st = fitcl_model_from_callback(ctx, fn, user, params, nparams, vars, nvars, out);
  if (st == FITCL_OK) (*out)->fd = mode == FITCL_FD_CENTRAL ? 2 : 1;
  return st;
}

void fitcl__model_callback_eval(const fitcl_model *m, const double *params,
                                const double *const *x, size_t n, double *f, double *jac,
                                double *scratch) {
  const int np = m->nparams;
  if (!m->fd || !jac) {
    m->fn(m->user, params, x, n, f, m->fd ? NULL : jac);
    return;
  }
  /* MINPACK's fdjac2 step: h = sqrt(eps) |p_j| (eps^(1/3) for central
   * differences, whose error is O(h²)), eps itself where p_j = 0; the
   * step actually taken is the representable (p_j + h) - p_j. */
  const double rel = m->fd == 2 ? 6.055454452393343e-06 : 1.4901161193847656e-08;
  double q[FITCL_NLSQ_MAX_PARAMS];
  double *fp = scratch, *fm = scratch + n;
  memcpy(q, params, sizeof(double) * (size_t)np);
  m->fn(m->user, params, x, n, f, NULL);
  for (int j = 0; j < np; ++j) {
    double h = rel * fabs(params[j]);
    if (h == 0) h = rel;
    volatile double up = params[j] + h;
    double hp = up - params[j];
    q[j] = up;
    m->fn(m->user, q, x, n, fp, NULL);
    if (m->fd == 2) {
      volatile double dn = params[j] - h;
      double hm = params[j] - dn;
      q[j] = dn;
      m->fn(m->user, q, x, n, fm, NULL);
      for (size_t i = 0; i < n; ++i) jac[i * (size_t)np + (size_t)j] = (fp[i] - fm[i]) / (hp + hm);
    } else {
      for (size_t i = 0; i < n; ++i) jac[i * (size_t)np + (size_t)j] = (fp[i] - f[i]) / hp;
    }
    q[j] = params[j];
  }
}

fitcl_status fitcl_model_from_opencl(fitcl_context *ctx, const char *source,
                                     const char *const *params, size_t nparams,
                                     const char *const *vars, size_t nvars,
                                     fitcl_model **out) {
  if (ctx) fitcl__clear_error(ctx);
  if (!source) return fitcl__fail(ctx, FITCL_ERR_NULL, "OpenCL model source is NULL");
  if (!strstr(source, "fitcl_user_model"))
    return fitcl__fail(ctx, FITCL_ERR_ARG,
                       "OpenCL model source must define void fitcl_user_model(const double *p, "
                       "const double *x, double *f, double *J)");
  fitcl_status st = model_new(ctx, params, nparams, vars, nvars, out);
  if (st != FITCL_OK) return st;
  (*out)->kind = FITCL__MODEL_OPENCL;
  if (!((*out)->cl_source = fitcl__strdup(source))) {
    fitcl_model_destroy(*out);
    *out = NULL;
    return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory");
  }
  return FITCL_OK;
}

void fitcl_model_destroy(fitcl_model *m) {
  if (!m) return;
  for (int i = 0; m->pnames && i < m->nparams; ++i) free(m->pnames[i]);
  for (int i = 0; m->vnames && i < m->nvars; ++i) free(m->vnames[i]);
  free(m->pnames);
  free(m->vnames);
  free(m->expr);
  free(m->cl_source);
  fitcl__expr_prog_free(&m->prog_fj);
  fitcl__expr_prog_free(&m->prog_f);
  free(m);
}

size_t fitcl_model_nparams(const fitcl_model *m) { return m ? (size_t)m->nparams : 0; }
size_t fitcl_model_nvars(const fitcl_model *m) { return m ? (size_t)m->nvars : 0; }
const char *fitcl_model_param_name(const fitcl_model *m, size_t i) {
  return m && i < (size_t)m->nparams ? m->pnames[i] : NULL;
}
const char *fitcl_model_var_name(const fitcl_model *m, size_t i) {
  return m && i < (size_t)m->nvars ? m->vnames[i] : NULL;
}
const char *fitcl_model_expr(const fitcl_model *m) { return m ? m->expr : NULL; }

fitcl_status fitcl_model_eval(const fitcl_model *m, const double *params,
                              const double *const *x, size_t n, double *f, double *jac) {
  if (!m || !params || (m->nvars && n && !x)) return FITCL_ERR_NULL;
  if (m->kind == FITCL__MODEL_OPENCL) return FITCL_ERR_UNSUPPORTED;
  const int np = m->nparams, nv = m->nvars;
  if (m->kind == FITCL__MODEL_CALLBACK) {
    double *ftmp = f ? NULL : malloc((n ? n : 1) * sizeof *ftmp);
    double *scratch = m->fd && jac ? malloc(2 * (n ? n : 1) * sizeof *scratch) : NULL;
    if ((!f && !ftmp) || (m->fd && jac && !scratch)) {
      free(ftmp);
      return FITCL_ERR_NOMEM;
    }
    fitcl__model_callback_eval(m, params, x, n, f ? f : ftmp, jac, scratch);
    free(ftmp);
    free(scratch);
    return FITCL_OK;
  }
  const fitcl__expr_prog *p = jac ? &m->prog_fj : &m->prog_f;
  double *regs = malloc((size_t)(p->nregs ? p->nregs : 1) * FITCL__VM_BLOCK * sizeof *regs);
  double **R = malloc((size_t)(p->nregs ? p->nregs : 1) * sizeof *R);
  if (!regs || !R) {
    free(regs);
    free(R);
    return FITCL_ERR_NOMEM;
  }
  const double *xb[FITCL_NLSQ_MAX_VARS];
  for (size_t s = 0; s < n; s += FITCL__VM_BLOCK) {
    size_t nb = n - s < FITCL__VM_BLOCK ? n - s : FITCL__VM_BLOCK;
    for (int j = 0; j < nv; ++j) xb[j] = x[j] + s;
    fitcl__expr_vm_run(p, params, xb, nb, regs, R, s == 0);
    if (f) memcpy(f + s, R[p->outputs[0]], nb * sizeof *f);
    if (jac)
      for (int k = 0; k < np; ++k) {
        const double *J = R[p->outputs[1 + k]];
        for (size_t i = 0; i < nb; ++i) jac[(s + i) * (size_t)np + (size_t)k] = J[i];
      }
  }
  free(regs);
  free(R);
  return FITCL_OK;
}

/* An OpenCL C model (one function, fitcl_user_model) under the names the
 * accumulation kernels call; the float programs retype its doubles. */
static const char *const user_model_adapter =
  "inline void fitcl_model_fj(const double *p, const double *x, double *f, double *J) {\n"
  "  fitcl_user_model(p, x, f, J);\n}\n"
  "inline void fitcl_model_f(const double *p, const double *x, double *f, double *J) {\n"
  "  fitcl_user_model(p, x, f, J);\n}\n";

char *fitcl__model_opencl_functions(const fitcl_model *m) {
  fitcl__buf b = {0};
  if (m->kind == FITCL__MODEL_EXPR) {
    char *fj = fitcl__expr_prog_opencl(&m->prog_fj, "fitcl_model_fj", 1);
    char *fo = fitcl__expr_prog_opencl(&m->prog_f, "fitcl_model_f", 0);
    char *fj8 = fitcl__expr_prog_opencl_ex(&m->prog_fj, "fitcl_model_fj8", 1, 1);
    char *fo8 = fitcl__expr_prog_opencl_ex(&m->prog_f, "fitcl_model_f8", 0, 1);
    /* Full blocks on CPU devices: staged (expr_stages.h). */
    char *sj8 = fitcl__stages_opencl8(&m->prog_fj, "fj", 1);
    char *so8 = fitcl__stages_opencl8(&m->prog_f, "f", 0);
    if (fj && fo && fj8 && fo8 && sj8 && so8) {
      fitcl__buf_printf(&b, "/* model: %s */\n", m->expr);
      fitcl__buf_printf(&b,
                        "#define FITCL_HAVE_VEC8 1\n"
                        "#if defined(__clang__)\n"
                        "#define FITCL_VEC8_INLINE inline __attribute__((always_inline))\n"
                        "#else\n#define FITCL_VEC8_INLINE inline\n#endif\n"
                        "%s\n%s\n%s\n%s\n%s\n%s\n",
                        fj, fo, fj8, fo8, sj8, so8);
    } else b.oom = 1;
    free(fj);
    free(fo);
    free(fj8);
    free(fo8);
    free(sj8);
    free(so8);
  } else if (m->kind == FITCL__MODEL_OPENCL) {
    fitcl__buf_printf(&b, "%s\n", m->cl_source);
    fitcl__buf_printf(&b, "%s", user_model_adapter);
  } else {
    return NULL;
  }
  if (b.oom) {
    fitcl__buf_free(&b);
    return NULL;
  }
  fitcl__buf_append(&b, "", 1);
  return b.data;
}

/* `src` with every identifier `double` read as `float` (the model's
 * literals follow by -cl-single-precision-constant).  malloc'ed; NULL when
 * out of memory. */
static char *retype_float(const char *src) {
  fitcl__buf b = {0};
  for (const char *p = src; *p;) {
    int word_start = p == src || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
    if (word_start && !strncmp(p, "double", 6) && !(isalnum((unsigned char)p[6]) || p[6] == '_')) {
      fitcl__buf_printf(&b, "float");
      p += 6;
    } else {
      fitcl__buf_append(&b, p, 1);
      ++p;
    }
  }
  fitcl__buf_append(&b, "", 1);
  if (b.oom) {
    fitcl__buf_free(&b);
    return NULL;
  }
  return b.data;
}

char *fitcl__model_opencl_functions_float(const fitcl_model *m) {
  /* The float built-ins in place of common/vmath.h's double exp and log,
   * which generated code (fitcl_model_opencl_source's too) calls. */
  static const char float_vmath[] = "#define fitcl_exp(v) exp(v)\n#define fitcl_log(v) log(v)\n";
  fitcl__buf b = {0};
  char *fj = NULL, *fo = NULL;
  if (m->kind == FITCL__MODEL_EXPR) {
    fj = fitcl__expr_prog_opencl(&m->prog_fj, "fitcl_model_fj", 1);
    fo = fitcl__expr_prog_opencl(&m->prog_f, "fitcl_model_f", 0);
    if (fj && fo)
      fitcl__buf_printf(&b, "/* model: %s */\n%s%s\n%s\n", m->expr, float_vmath, fj, fo);
    else b.oom = 1;
  } else if (m->kind == FITCL__MODEL_OPENCL) {
    fitcl__buf_printf(&b, "%s%s\n", float_vmath, m->cl_source);
    fitcl__buf_printf(&b, "%s", user_model_adapter);
  } else {
    return NULL;
  }
  free(fj);
  free(fo);
  if (b.oom) {
    fitcl__buf_free(&b);
    return NULL;
  }
  fitcl__buf_append(&b, "", 1);
  char *out = retype_float(b.data);
  fitcl__buf_free(&b);
  return out;
}

char *fitcl_model_opencl_source(const fitcl_model *m) {
  if (!m || m->kind != FITCL__MODEL_EXPR) return NULL;
  char *s = fitcl__expr_prog_opencl(&m->prog_fj, "fitcl_user_model", 1);
  return s;
}
