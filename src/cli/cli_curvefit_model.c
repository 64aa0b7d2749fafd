/* fitcl curve-fit: the model and its parameters (--x names, --model, --p0,
 * --bounds, --x-scale). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_curvefit.h"
#include "cli/cli_opts.h"
#include "core/util.h"

static int is_ident(const char *s) {
  if (!(isalpha((unsigned char)*s) || *s == '_')) return 0;
  for (++s; *s; ++s)
    if (!(isalnum((unsigned char)*s) || *s == '_')) return 0;
  return 1;
}

/* Splits s (modified in place) on commas, skipping empty items; returns the
 * count, or -1 when there are more than cap. */
static int split_commas(char *s, char **out, int cap) {
  int n = 0;
  char *save = NULL;
  for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (n == cap) return -1;
    out[n++] = tok;
  }
  return n;
}

static int find_name(char *const *names, int n, const char *name) {
  for (int i = 0; i < n; ++i)
    if (!strcmp(names[i], name)) return i;
  return -1;
}

/* The model's index of parameter `name`, or -1. */
static int param_index(const cf_model *m, const char *name) {
  for (int j = 0; j < m->np; ++j)
    if (!strcmp(m->name[j], name)) return j;
  return -1;
}

int cf_parse_columns(const char *text, cf_columns *cols) {
  memset(cols, 0, sizeof *cols);
  if (!text) return 0;
  cols->buf = strdup(text);
  int n = cols->buf ? split_commas(cols->buf, cols->col, CF_MAXV) : -1;
  if (n <= 0)
    return cli_usage_error("--x: expected COL[,COL...] with at most %d columns", CF_MAXV);
  cols->n = n;
  for (int j = 0; j < n; ++j) {
    /* NAME=COL names the variable; a column that is an identifier names
     * itself; others are x (one column) or x1, x2, ... */
    char *eq = strchr(cols->col[j], '=');
    if (eq) {
      *eq = 0;
      if (!is_ident(cols->col[j]))
        return cli_usage_error("--x: '%s' is not a valid variable name", cols->col[j]);
      cols->var[j] = cols->col[j];
      cols->col[j] = eq + 1;
    } else if (is_ident(cols->col[j])) {
      cols->var[j] = cols->col[j];
    } else {
      snprintf(cols->var_default[j], sizeof cols->var_default[j], n == 1 ? "x" : "x%d", j + 1);
      cols->var[j] = cols->var_default[j];
    }
  }
  return 0;
}

int cf_parse_start(const char *text, cf_start *start) {
  memset(start, 0, sizeof *start);
  if (!text) return 0;
  char *items[CF_MAXP];
  start->buf = strdup(text);
  int n = start->buf ? split_commas(start->buf, items, CF_MAXP) : -1;
  if (n <= 0)
    return cli_usage_error("--p0: expected NAME=VALUE[,...] with at most %d parameters", CF_MAXP);
  for (int i = 0; i < n; ++i) {
    char *eq = strchr(items[i], '=');
    if (!eq) return cli_usage_error("--p0: '%s' is not NAME=VALUE", items[i]);
    *eq = 0;
    start->name[i] = items[i];
    if (!is_ident(items[i]))
      return cli_usage_error("--p0: '%s' is not a valid, unique parameter name", items[i]);
    if (find_name(start->name, i, items[i]) >= 0)
      return cli_usage_error("--p0: '%s' is given twice; give each parameter's start once",
                             items[i]);
    if (!cli_number("--p0", eq + 1, CLI_FINITE, &start->value[i])) return CLI_EXIT_USAGE;
  }
  start->n = n;
  return 0;
}

/* A built-in name, or an expression whose parameters are the --p0 names
 * (in that order) and whose variables are the --x names, else x. */
static int compile(fitcl_context *ctx, const cf_args *a, const cf_columns *cols,
                   const cf_start *start, cf_model *m) {
  fitcl_status st;
  m->text = fitcl_model_builtin_expr(a->model);
  if (m->text) {
    st = fitcl_model_builtin(ctx, a->model, &m->model);
  } else {
    if (!start->n)
      return cli_usage_error("--p0 is required with a model expression (it names the parameters)");
    static const char *const default_var[] = {"x"};
    m->text = a->model;
    st = fitcl_model_compile(ctx, a->model, (const char *const *)start->name, (size_t)start->n,
                             cols->n ? (const char *const *)cols->var : default_var,
                             cols->n ? (size_t)cols->n : 1, &m->model);
  }
  if (st != FITCL_OK) return cli_fail(ctx, st, "--model");
  m->np = (int)fitcl_model_nparams(m->model);
  m->nvars = (int)fitcl_model_nvars(m->model);
  for (int j = 0; j < m->np; ++j) m->name[j] = fitcl_model_param_name(m->model, (size_t)j);
  return 0;
}

/* --p0 in the model's order: every parameter, no other name.  Without --p0
 * (a resumed built-in model) the checkpoint has the values. */
static int match_start(const cf_start *start, cf_model *m) {
  for (int j = 0; j < m->np; ++j) m->p0[j] = 0;
  if (!start->n) return 0;
  for (int i = 0; i < start->n; ++i) {
    int j = param_index(m, start->name[i]);
    if (j < 0) return cli_usage_error("--p0: the model has no parameter '%s'", start->name[i]);
    m->p0[j] = start->value[i];
  }
  for (int j = 0; j < m->np; ++j)
    if (find_name(start->name, start->n, m->name[j]) < 0)
      return cli_usage_error("--p0: no starting value for parameter '%s'", m->name[j]);
  return 0;
}

/* One bound of --bounds NAME=LO:HI; empty text leaves it open. */
static int parse_bound(const char *text, const char *name, const char *which, double *out) {
  if (!*text) return 0;
  char *end;
  double v = strtod(text, &end);
  if (*end || isnan(v) || !fitcl__decimal_syntax(text, strlen(text)))
    return cli_usage_error("--bounds: %s bound of %s is not a number: '%s'", which, name, text);
  *out = v;
  return 0;
}

static int parse_bounds(const char *text, cf_model *m) {
  for (int j = 0; j < m->np; ++j) {
    m->lower[j] = -INFINITY;
    m->upper[j] = INFINITY;
  }
  if (!text) return 0;
  char *items[CF_MAXP], *buf = strdup(text);
  int n = buf ? split_commas(buf, items, CF_MAXP) : -1, rc = 0;
  int seen[CF_MAXP] = {0};
  if (n < 0) rc = cli_usage_error("--bounds: too many entries");
  for (int i = 0; i < n && !rc; ++i) {
    char *eq = strchr(items[i], '='), *colon = eq ? strchr(eq, ':') : NULL;
    if (!eq || !colon) {
      rc = cli_usage_error("--bounds: '%s' is not NAME=LO:HI", items[i]);
      break;
    }
    *eq = 0;
    *colon = 0;
    int j = param_index(m, items[i]);
    if (j < 0) rc = cli_usage_error("--bounds: the model has no parameter '%s'", items[i]);
    else if (seen[j]++)
      rc = cli_usage_error("--bounds: '%s' is given twice; give each parameter's bounds once",
                           items[i]);
    if (!rc) rc = parse_bound(eq + 1, items[i], "lower", &m->lower[j]);
    if (!rc) rc = parse_bound(colon + 1, items[i], "upper", &m->upper[j]);
  }
  free(buf);
  m->bounded = 1;
  return rc;
}

/* --x-scale: jac (the solver's default), or NAME=SCALE,... */
static int parse_scales(const char *text, cf_model *m) {
  for (int j = 0; j < m->np; ++j) m->scale[j] = 1;
  if (!text || !strcmp(text, "jac")) return 0;
  char *items[CF_MAXP], *buf = strdup(text);
  int n = buf ? split_commas(buf, items, CF_MAXP) : -1, rc = 0;
  int seen[CF_MAXP] = {0};
  if (n < 0) rc = cli_usage_error("--x-scale: too many entries");
  for (int i = 0; i < n && !rc; ++i) {
    char *eq = strchr(items[i], '=');
    int j = -1;
    if (eq) {
      *eq = 0;
      j = param_index(m, items[i]);
    }
    if (j < 0)
      rc = cli_usage_error("--x-scale: expected jac or NAME=SCALE,... with the model's parameters");
    else if (seen[j]++)
      rc = cli_usage_error("--x-scale: '%s' is given twice; give each parameter's scale once",
                           items[i]);
    else if (!cli_number("--x-scale", eq + 1, CLI_FINITE, &m->scale[j]))
      rc = CLI_EXIT_USAGE;
  }
  free(buf);
  m->scaled = 1;
  return rc;
}

/* --fix NAME[=V],...: held parameters, at V or at their --p0 value. */
static int parse_fixed(const char *text, cf_model *m) {
  for (int j = 0; j < m->np; ++j) m->fixed[j] = 0;
  m->nfixed = 0;
  if (!text) return 0;
  char *items[CF_MAXP], *buf = strdup(text);
  int n = buf ? split_commas(buf, items, CF_MAXP) : -1, rc = 0;
  if (n <= 0) rc = cli_usage_error("--fix: expected NAME[=VALUE][,...]");
  for (int i = 0; i < n && !rc; ++i) {
    char *eq = strchr(items[i], '=');
    if (eq) *eq = 0;
    int j = param_index(m, items[i]);
    if (j < 0) rc = cli_usage_error("--fix: the model has no parameter '%s'", items[i]);
    else if (m->fixed[j]) rc = cli_usage_error("--fix: '%s' is given twice", items[i]);
    else if (eq && !cli_number("--fix", eq + 1, CLI_FINITE, &m->p0[j])) rc = CLI_EXIT_USAGE;
    if (!rc) {
      m->fixed[j] = 1;
      m->nfixed++;
    }
  }
  if (!rc && m->nfixed == m->np) rc = cli_usage_error("--fix: every parameter is held; nothing to fit");
  free(buf);
  return rc;
}

int cf_build_model(fitcl_context *ctx, const cf_args *a, const cf_columns *cols,
                   const cf_start *start, cf_model *m) {
  memset(m, 0, sizeof *m);
  int rc = compile(ctx, a, cols, start, m);
  if (!rc) rc = match_start(start, m);
  if (!rc && cols->n && cols->n != m->nvars)
    rc = cli_usage_error("--x: %d column%s given but the model reads %d variable%s", cols->n,
                         cols->n == 1 ? "" : "s", m->nvars, m->nvars == 1 ? "" : "s");
  if (!rc) rc = parse_bounds(a->bounds, m);
  if (!rc) rc = parse_scales(a->x_scale, m);
  if (!rc) rc = parse_fixed(a->fix, m);
  return rc;
}

void cf_free(cf_columns *cols, cf_start *start, cf_model *m) {
  free(cols->buf);
  cols->buf = NULL;
  free(start->buf);
  start->buf = NULL;
  fitcl_model_destroy(m->model);
  m->model = NULL;
}
