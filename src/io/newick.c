/* Newick reader.  An explicit stack of open parentheses replaces recursion,
 * so a 10,000-taxon caterpillar (nesting depth 10,000) costs heap, not call
 * stack.  Nodes are first recorded in creation order; the final numbering
 * (tips in text order, internal nodes in the order their ')' closes, which
 * is a post-order with the root last) is applied at the end. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "fitcl.h"
#include "core/ioerr.h"
#include "io/newick.h"
#include "core/strmap.h"
#include "phylo/tree.h"

typedef struct node_rec {
  int parent;         /* creation index, -1 for the root */
  int is_tip;
  int has_len;
  double len;
  char *label;
} node_rec;

typedef struct parser {
  const char *s;
  size_t n, i;
  const char *name;
  char *err;
  size_t errlen;
  node_rec *node;
  int count, cap;
  int *done;          /* creation indices in completion (post-)order */
  int ndone;
  int *stack;         /* open '(' nodes */
  size_t *stack_pos;  /* their offsets, for messages */
  int sp, stack_cap;
  int ntips;
  fitcl__strmap tips;
} parser;

static fitcl_status fail_at(parser *p, size_t off, fitcl_status st, const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));

static fitcl_status fail_at(parser *p, size_t off, fitcl_status st, const char *fmt, ...) {
  if (!p->err || p->errlen == 0) return st;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  int line, col;
  fitcl__linecol(p->s, off > p->n ? p->n : off, &line, &col);
  snprintf(p->err, p->errlen, "%s:%d:%d: %s", p->name, line, col, msg);
  return st;
}

static fitcl_status nomem(parser *p) {
  return fitcl__ioerr(p->err, p->errlen, FITCL_ERR_NOMEM, "%s: out of memory reading the tree",
                      p->name);
}

static const char *tip_key(const void *user, size_t index) {
  const parser *p = user;
  return p->node[index].label;
}

/* Describes the byte at the cursor for "unexpected ..." messages. */
static void describe(const parser *p, char *buf, size_t cap) {
  if (p->i >= p->n) {
    snprintf(buf, cap, "end of input");
    return;
  }
  unsigned char c = (unsigned char)p->s[p->i];
  if (isprint(c))
    snprintf(buf, cap, "'%c'", c);
  else
    snprintf(buf, cap, "byte 0x%02x", c);
}

/* Skips whitespace and [comments]; comments may nest. */
static fitcl_status skip(parser *p) {
  while (p->i < p->n) {
    unsigned char c = (unsigned char)p->s[p->i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      p->i++;
    } else if (c == '[') {
      size_t start = p->i;
      int depth = 0;
      for (; p->i < p->n; p->i++) {
        if (p->s[p->i] == '[') depth++;
        else if (p->s[p->i] == ']' && --depth == 0) break;
      }
      if (p->i >= p->n)
        return fail_at(p, start, FITCL_ERR_PARSE, "unterminated comment: '[' without ']'");
      p->i++;
    } else {
      break;
    }
  }
  return FITCL_OK;
}

static int is_delim(unsigned char c) {
  return c == '(' || c == ')' || c == '[' || c == ']' || c == '\'' || c == '"' || c == ':' ||
         c == ';' || c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
         c == '\f' || c == '\v' || c == '\0';
}

/* Reads a quoted or unquoted label at the cursor into *out (malloc'ed), or
 * leaves *out NULL when the cursor is not at a label. */
static fitcl_status read_label(parser *p, char **out) {
  *out = NULL;
  if (p->i >= p->n) return FITCL_OK;
  char q = p->s[p->i];
  if (q == '\'' || q == '"') {
    size_t start = p->i++;
    fitcl__buf b = {0};
    for (;;) {
      if (p->i >= p->n) {
        fitcl__buf_free(&b);
        return fail_at(p, start, FITCL_ERR_PARSE, "unterminated quoted label: %c without a closing %c",
                       q, q);
      }
      char c = p->s[p->i++];
      if (c == q) {
        if (p->i < p->n && p->s[p->i] == q) {
          p->i++;
        } else {
          break;
        }
      } else if (c == '\0') {
        fitcl__buf_free(&b);
        return fail_at(p, p->i - 1, FITCL_ERR_PARSE, "NUL byte inside a quoted label");
      }
      fitcl__buf_append(&b, &c, 1);
    }
    char nul = '\0';
    fitcl__buf_append(&b, &nul, 1);
    if (b.oom) {
      fitcl__buf_free(&b);
      return nomem(p);
    }
    *out = b.data;
    return FITCL_OK;
  }
  size_t start = p->i;
  while (p->i < p->n && !is_delim((unsigned char)p->s[p->i])) p->i++;
  if (p->i == start) return FITCL_OK;
  char *l = malloc(p->i - start + 1);
  if (!l) return nomem(p);
  memcpy(l, p->s + start, p->i - start);
  l[p->i - start] = '\0';
  *out = l;
  return FITCL_OK;
}

static int ci_prefix(const char *s, const char *pre) {
  for (; *pre; ++s, ++pre)
    if (tolower((unsigned char)*s) != *pre) return 0;
  return 1;
}

/* After ':': reads a branch length (decimal or scientific notation). */
static fitcl_status read_length(parser *p, double *out) {
  fitcl_status st = skip(p);
  if (st) return st;
  size_t start = p->i;
  while (p->i < p->n && !is_delim((unsigned char)p->s[p->i])) p->i++;
  size_t len = p->i - start;
  if (len == 0)
    return fail_at(p, start, FITCL_ERR_DATA, "missing branch length after ':'");
  char tok[64];
  if (len >= sizeof tok)
    return fail_at(p, start, FITCL_ERR_DATA, "malformed branch length (%zu characters)", len);
  memcpy(tok, p->s + start, len);
  tok[len] = '\0';
  const char *t = tok + (tok[0] == '-' || tok[0] == '+');
  if (ci_prefix(t, "nan"))
    return fail_at(p, start, FITCL_ERR_DATA, "branch length is NaN ('%s')", tok);
  if (ci_prefix(t, "inf"))
    return fail_at(p, start, FITCL_ERR_DATA, "branch length is infinite ('%s')", tok);
  /* strtod would also take hexadecimal floats; Newick lengths are decimal. */
  for (size_t k = 0; k < len; ++k) {
    char c = tok[k];
    if (!(isdigit((unsigned char)c) || c == '.' || c == 'e' || c == 'E' || c == '+' ||
          c == '-'))
      return fail_at(p, start, FITCL_ERR_DATA, "malformed branch length '%s'", tok);
  }
  char *end = NULL;
  double v = strtod(tok, &end);
  if (end == tok || *end != '\0')
    return fail_at(p, start, FITCL_ERR_DATA, "malformed branch length '%s'", tok);
  if (isnan(v)) return fail_at(p, start, FITCL_ERR_DATA, "branch length is NaN ('%s')", tok);
  if (isinf(v))
    return fail_at(p, start, FITCL_ERR_DATA, "branch length '%s' overflows a double", tok);
  if (v < 0) return fail_at(p, start, FITCL_ERR_DATA, "negative branch length %s", tok);
  *out = v == 0 ? 0.0 : v; /* turns -0 into +0 */
  return FITCL_OK;
}

static int new_node(parser *p, int parent, int is_tip) {
  if (p->count == p->cap) {
    int ncap = p->cap ? p->cap * 2 : 64;
    if (ncap < 0 || (size_t)ncap > (size_t)INT32_MAX / 2) return -1;
    node_rec *nn = realloc(p->node, (size_t)ncap * sizeof *nn);
    if (!nn) return -1;
    p->node = nn;
    int *nd = realloc(p->done, (size_t)ncap * sizeof *nd);
    if (!nd) return -1;
    p->done = nd;
    p->cap = ncap;
  }
  node_rec *r = &p->node[p->count];
  r->parent = parent;
  r->is_tip = is_tip;
  r->has_len = 0;
  r->len = 0.0;
  r->label = NULL;
  return p->count++;
}

static int push(parser *p, int v, size_t pos) {
  if (p->sp == p->stack_cap) {
    int ncap = p->stack_cap ? p->stack_cap * 2 : 64;
    int *ns = realloc(p->stack, (size_t)ncap * sizeof *ns);
    if (!ns) return -1;
    p->stack = ns;
    size_t *np = realloc(p->stack_pos, (size_t)ncap * sizeof *np);
    if (!np) return -1;
    p->stack_pos = np;
    p->stack_cap = ncap;
  }
  p->stack[p->sp] = v;
  p->stack_pos[p->sp] = pos;
  p->sp++;
  return 0;
}

/* Reads the optional ":length" after a node's label and completes the node.
 * `what` names the node in messages; `is_root` allows a missing length. */
static fitcl_status finish_node(parser *p, int v, int is_root) {
  size_t after = p->i;
  fitcl_status st = skip(p);
  if (st) return st;
  if (p->i < p->n && p->s[p->i] == ':') {
    p->i++;
    st = read_length(p, &p->node[v].len);
    if (st) return st;
    p->node[v].has_len = 1;
  }
  if (!p->node[v].has_len && !is_root) {
    /* Reaching ';' or the end here means a '(' was never closed, which is
     * the real mistake. */
    if (p->i >= p->n || p->s[p->i] == ';')
      return fail_at(p, p->i, FITCL_ERR_PARSE,
                     "unbalanced parentheses: %s reached with %d '(' still open",
                     p->i >= p->n ? "the end of input" : "';'", p->sp);
    char nm[80] = "";
    const char *l = p->node[v].label;
    if (l) fitcl__ioerr_name(nm, sizeof nm, l, strlen(l));
    if (p->node[v].is_tip)
      return fail_at(p, after, FITCL_ERR_DATA,
                     "missing branch length for tip '%s' (expected ':length')", nm);
    if (l)
      return fail_at(p, after, FITCL_ERR_DATA,
                     "missing branch length for internal node '%s' (expected ':length')", nm);
    return fail_at(p, after, FITCL_ERR_DATA,
                   "missing branch length after ')' (expected ':length')");
  }
  p->done[p->ndone++] = v;
  return FITCL_OK;
}

static fitcl_status parse(parser *p) {
  enum { EXPECT_CHILD, AFTER_CHILD, AFTER_ROOT } state;
  fitcl_status st;
  char what[32];
  if ((st = skip(p))) return st;
  if (p->i >= p->n) return fail_at(p, p->i, FITCL_ERR_PARSE, "empty input: no tree");
  if (p->s[p->i] != '(') {
    describe(p, what, sizeof what);
    return fail_at(p, p->i, FITCL_ERR_DATA,
                   "a tree needs at least 2 tips; expected '(' but found %s", what);
  }
  int root = new_node(p, -1, 0);
  if (root < 0 || push(p, root, p->i) != 0) return nomem(p);
  p->i++;
  state = EXPECT_CHILD;
  for (;;) {
    if ((st = skip(p))) return st;
    char c = p->i < p->n ? p->s[p->i] : '\0';
    int at_end = p->i >= p->n;
    if (state == EXPECT_CHILD) {
      if (at_end) break; /* reported as unbalanced below */
      if (c == '(') {
        int v = new_node(p, p->stack[p->sp - 1], 0);
        if (v < 0 || push(p, v, p->i) != 0) return nomem(p);
        p->i++;
        continue;
      }
      if (c == ';')
        return fail_at(p, p->i, FITCL_ERR_PARSE,
                       "unbalanced parentheses: ';' reached with %d '(' still open", p->sp);
      size_t lpos = p->i;
      char *label = NULL;
      if ((st = read_label(p, &label))) return st;
      if (!label) {
        if (c == ',' || c == ')' || c == ':')
          return fail_at(p, lpos, FITCL_ERR_DATA, "tip without a name");
        describe(p, what, sizeof what);
        return fail_at(p, lpos, FITCL_ERR_PARSE, "unexpected %s where a tip or '(' was expected",
                       what);
      }
      if (label[0] == '\0') {
        free(label);
        return fail_at(p, lpos, FITCL_ERR_DATA, "tip with an empty name");
      }
      int v = new_node(p, p->stack[p->sp - 1], 1);
      if (v < 0) {
        free(label);
        return nomem(p);
      }
      p->node[v].label = label;
      size_t prev = fitcl__strmap_put(&p->tips, label, strlen(label), (size_t)v);
      if (prev == SIZE_MAX - 1) return nomem(p);
      if (prev != (size_t)v) {
        char nm[80];
        fitcl__ioerr_name(nm, sizeof nm, label, strlen(label));
        return fail_at(p, lpos, FITCL_ERR_DATA, "duplicate tip name '%s'", nm);
      }
      p->ntips++;
      if ((st = finish_node(p, v, 0))) return st;
      state = AFTER_CHILD;
    } else if (state == AFTER_CHILD) {
      if (at_end) break;
      if (c == ',') {
        p->i++;
        state = EXPECT_CHILD;
      } else if (c == ')') {
        p->i++;
        int v = p->stack[--p->sp];
        if ((st = skip(p))) return st;
        char *label = NULL;
        if ((st = read_label(p, &label))) return st;
        p->node[v].label = label;
        if ((st = finish_node(p, v, p->sp == 0))) return st;
        state = p->sp == 0 ? AFTER_ROOT : AFTER_CHILD;
      } else if (c == ';') {
        return fail_at(p, p->i, FITCL_ERR_PARSE,
                       "unbalanced parentheses: ';' reached with %d '(' still open", p->sp);
      } else {
        describe(p, what, sizeof what);
        return fail_at(p, p->i, FITCL_ERR_PARSE, "unexpected %s; expected ',' or ')'", what);
      }
    } else {
      if (at_end)
        return fail_at(p, p->i, FITCL_ERR_PARSE, "missing ';' at the end of the tree");
      if (c == ';') {
        p->i++;
        if ((st = skip(p))) return st;
        if (p->i < p->n) {
          describe(p, what, sizeof what);
          return fail_at(p, p->i, FITCL_ERR_PARSE,
                         "unexpected %s after the ';' (one tree per input)", what);
        }
        return FITCL_OK;
      }
      if (c == ')')
        return fail_at(p, p->i, FITCL_ERR_PARSE,
                       "unbalanced parentheses: ')' without a matching '('");
      describe(p, what, sizeof what);
      return fail_at(p, p->i, FITCL_ERR_PARSE, "unexpected %s; expected ';'", what);
    }
  }
  int line, col;
  fitcl__linecol(p->s, p->stack_pos[p->sp - 1], &line, &col);
  return fail_at(p, p->i, FITCL_ERR_PARSE,
                 "unbalanced parentheses: input ends with %d '(' still open (innermost at "
                 "%d:%d)",
                 p->sp, line, col);
}

static void parser_free(parser *p) {
  for (int v = 0; v < p->count; ++v) free(p->node[v].label);
  FITCL_FREE(p->node);
  FITCL_FREE(p->done);
  FITCL_FREE(p->stack);
  FITCL_FREE(p->stack_pos);
  fitcl__strmap_free(&p->tips);
}

/* Numbers the parsed nodes and moves them into t. */
static fitcl_status assemble(parser *p, fitcl__tree *t) {
  if (p->ntips < 2)
    return fail_at(p, 0, FITCL_ERR_DATA, "a tree needs at least 2 tips, this one has %d",
                   p->ntips);
  int n = p->count;
  int *id = malloc((size_t)n * sizeof *id);
  int *seq = malloc((size_t)n * sizeof *seq);
  if (!id || !seq || fitcl__tree_alloc(t, p->ntips, n) != 0) {
    free(id);
    free(seq);
    return nomem(p);
  }
  int nt = 0, ni = p->ntips;
  for (int v = 0; v < n; ++v)
    if (p->node[v].is_tip) id[v] = nt++;
  for (int k = 0; k < p->ndone; ++k) {
    int v = p->done[k];
    if (!p->node[v].is_tip) id[v] = ni++;
    seq[k] = id[v];
  }
  for (int v = 0; v < n; ++v) {
    int w = id[v];
    t->parent[w] = p->node[v].parent < 0 ? -1 : id[p->node[v].parent];
    t->brlen[w] = p->node[v].len;
    t->label[w] = p->node[v].label;
    p->node[v].label = NULL;
  }
  int bad = fitcl__tree_finish_seq(t, seq);
  free(id);
  free(seq);
  if (bad) {
    fitcl__tree_free(t);
    return fitcl__ioerr(p->err, p->errlen, FITCL_ERR_INTERNAL,
                        "%s: internal error numbering the tree", p->name);
  }
  return FITCL_OK;
}

/* Parses text[0..len) (NUL bytes are errors, not terminators). */
static fitcl_status parse_text(const char *text, size_t len, const char *name, fitcl_tree **out,
                               char *err, size_t errlen) {
  parser p;
  memset(&p, 0, sizeof p);
  /* A UTF-8 byte-order mark (Windows editors write one) is not a token. */
  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
    text += 3;
    len -= 3;
  }
  p.s = text;
  p.n = len;
  p.name = name;
  p.err = err;
  p.errlen = errlen;
  fitcl__strmap_init(&p.tips, tip_key, &p);
  fitcl_tree *tree = NULL;
  fitcl_status st = parse(&p);
  if (st) goto fail;
  tree = calloc(1, sizeof *tree);
  if (!tree) {
    st = nomem(&p);
    goto fail;
  }
  st = assemble(&p, &tree->t);
  if (st) goto fail;
  parser_free(&p);
  *out = tree;
  return FITCL_OK;
fail:
  FITCL_FREE(tree);
  parser_free(&p);
  return st;
}

fitcl_status fitcl_tree_parse(const char *text, fitcl_tree **out, char *err, size_t errlen) {
  if (out) *out = NULL;
  if (!text || !out)
    return fitcl__ioerr(err, errlen, FITCL_ERR_NULL, "fitcl_tree_parse: NULL argument");
  return parse_text(text, strlen(text), "<string>", out, err, errlen);
}

fitcl_status fitcl_tree_read(const char *path, fitcl_tree **out, char *err, size_t errlen) {
  if (out) *out = NULL;
  if (!path || !out)
    return fitcl__ioerr(err, errlen, FITCL_ERR_NULL, "fitcl_tree_read: NULL argument");
  char *text = NULL;
  size_t len = 0;
  fitcl_status st =
      fitcl__read_file(path, FITCL__NEWICK_MAX_BYTES, "a Newick tree", &text, &len, err, errlen);
  if (st) return st;
  st = parse_text(text, len, path, out, err, errlen);
  free(text);
  return st;
}

fitcl_status fitcl__tree_parse_bytes(const char *text, size_t len, fitcl_tree **out, char *err,
                                     size_t errlen) {
  *out = NULL;
  return parse_text(text, len, "<bytes>", out, err, errlen);
}
