/* The option parser and --help printer of every subcommand (cli_opts.h). */
#include "cli/cli_opts.h"

#include "core/util.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* Options a table may hold (a fixed bound keeps the parser allocation-free). */
#define MAX_OPTS 64
/* getopt_long values: table index + OPT_BASE; --help is HELP_VAL. */
#define OPT_BASE 256
#define HELP_VAL 1
/* --help is printed to this width. */
#define HELP_WIDTH 79
/* Widest option label before its help text moves to the next line. */
#define LABEL_MAX 24

static int is_option(const cli_opt *o) { return o->kind >= CLI_OPT_FLAG; }

/* ------------------------------------------------------------------------- */
/* Values                                                                    */

int cli_number(const char *what, const char *text, cli_range range, double *out) {
  errno = 0;
  char *end = NULL;
  double v = strtod(text, &end);
  int ok = !errno && end != text && *end == '\0' && isfinite(v) &&
           fitcl__decimal_syntax(text, strlen(text));
  if (ok && range == CLI_POSITIVE) ok = v > 0;
  if (ok && range == CLI_UNIT) ok = v >= 0 && v <= 1;
  if (!ok) {
    static const char *const expect[] = {"a finite number", "a number > 0",
                                         "a number from 0 to 1"};
    cli_usage_error("%s: expected %s, got '%s'", what, expect[range], text);
    return 0;
  }
  *out = v;
  return 1;
}

int cli_whole(const char *what, const char *text, long min, long max, long *out) {
  errno = 0;
  char *end = NULL;
  long v = strtol(text, &end, 10);
  if (errno || end == text || *end != '\0' || v < min || v > max) {
    cli_usage_error("%s: expected a whole number from %ld to %ld, got '%s'", what, min, max, text);
    return 0;
  }
  *out = v;
  return 1;
}

static int parse_seed(const char *what, const char *text, unsigned long long *out) {
  errno = 0;
  char *end = NULL;
  /* strtoull accepts "-1" (as 2^64-1) and leading spaces: refuse both. */
  unsigned long long v = strtoull(text, &end, 10);
  if (errno || end == text || *end != '\0' || !(text[0] >= '0' && text[0] <= '9')) {
    cli_usage_error("%s: expected a whole number from 0 to 2^64-1, got '%s'", what, text);
    return 0;
  }
  *out = v;
  return 1;
}

static int parse_choice(const char *what, const char *text, const char *const *words, int *out) {
  int n = 0;
  for (; words[n]; ++n)
    if (strcmp(text, words[n]) == 0) {
      *out = n;
      return 1;
    }
  char list[512];
  size_t len = 0;
  for (int i = 0; i < n && len < sizeof list; ++i)
    len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", words[i],
                            i + 2 < n ? ", " : i + 1 < n ? " or " : "");
  cli_usage_error("%s: expected %s, got '%s'", what, list, text);
  return 0;
}

/* Stores the value of option o; 0 after a usage error. */
static int store(const cli_opt *o, const char *arg, void *values) {
  char *at = (char *)values + o->offset;
  char what[80];
  snprintf(what, sizeof what, "--%s", o->name);
  switch (o->kind) {
    case CLI_OPT_FLAG: *(int *)at = 1; return 1;
    case CLI_OPT_STRING: *(const char **)at = arg; return 1;
    case CLI_OPT_DOUBLE: return cli_number(what, arg, o->range, (double *)at);
    case CLI_OPT_LONG: return cli_whole(what, arg, o->min, o->max, (long *)at);
    case CLI_OPT_SEED: return parse_seed(what, arg, (unsigned long long *)at);
    case CLI_OPT_CHOICE: return parse_choice(what, arg, o->choices, (int *)at);
    default: return 1;
  }
}

/* ------------------------------------------------------------------------- */
/* Parser                                                                    */

/* The option a long-option word (without "--" and "=value") names, as
 * getopt_long matches it: an exact name, else the only name it begins. */
static void match_long(const cli_spec *spec, const char *word, size_t len, int *count,
                       char *names, size_t cap) {
  *count = 0;
  size_t used = 0;
  names[0] = '\0';
  for (const cli_opt *o = spec->opts; o->kind != CLI_OPT_END; ++o) {
    if (!is_option(o) || strncmp(o->name, word, len) != 0) continue;
    ++*count;
    if (used < cap)
      used += (size_t)snprintf(names + used, cap - used, "%s--%s", used ? ", " : "", o->name);
  }
  if (strncmp("help", word, len) == 0) {
    ++*count;
    if (used < cap) snprintf(names + used, cap - used, "%s--help", used ? ", " : "");
  }
}

/* The usage error for a '?' from getopt_long (opterr = 0): an unknown or
 * ambiguous option, or a value given to a flag. */
static int bad_option(const cli_spec *spec, char **argv, int argc) {
  if (optopt >= OPT_BASE)
    return cli_usage_error("option '--%s' takes no value", spec->opts[optopt - OPT_BASE].name);
  if (optopt == HELP_VAL) return cli_usage_error("option '--help' takes no value");
  if (optopt) return cli_usage_error("unknown option '-%c'", optopt);
  /* A long option: getopt_long has stepped past its word. */
  const char *word = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
  if (strncmp(word, "--", 2) == 0) {
    const char *name = word + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    int count;
    char names[256];
    match_long(spec, name, len, &count, names, sizeof names);
    if (count > 1)
      return cli_usage_error("ambiguous option '--%.*s' (%s)", (int)len, name, names);
    return cli_usage_error("unknown option '--%.*s'", (int)len, name);
  }
  return cli_usage_error("unknown option '%s'", word);
}

int cli_parse(const cli_spec *spec, int argc, char **argv, void *values, int *first_operand) {
  struct option longopts[MAX_OPTS + 2];
  /* ':' first: a missing value is reported as ':', told apart from an
   * unknown option. */
  char shortopts[2 * MAX_OPTS + 3] = ":";
  size_t ns = 1, n = 0, nopts = 0;
  unsigned char seen[MAX_OPTS] = {0};
  for (const cli_opt *o = spec->opts; o->kind != CLI_OPT_END; ++o, ++n) {
    if (!is_option(o)) continue;
    if (n >= MAX_OPTS) {
      cli_error("internal error: an option table longer than %d entries", MAX_OPTS);
      return CLI_EXIT_FAILURE;
    }
    int has_arg = o->kind == CLI_OPT_FLAG ? no_argument : required_argument;
    longopts[nopts++] = (struct option){o->name, has_arg, NULL, OPT_BASE + (int)n};
    if (o->short_name) {
      shortopts[ns++] = o->short_name;
      if (has_arg) shortopts[ns++] = ':';
    }
  }
  longopts[nopts++] = (struct option){"help", no_argument, NULL, HELP_VAL};
  longopts[nopts] = (struct option){NULL, 0, NULL, 0};
  shortopts[ns++] = 'h';
  shortopts[ns] = '\0';

  opterr = 0; /* every message comes from here, once */
  optind = 0; /* 0: a full reset in glibc and musl */
  int c;
  while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
    if (c == HELP_VAL || c == 'h') {
      cli_print_help(spec, stdout);
      return CLI_EXIT_OK;
    }
    if (c == ':') {
      if (optopt >= OPT_BASE)
        return cli_usage_error("option '--%s' needs a value", spec->opts[optopt - OPT_BASE].name);
      return cli_usage_error("option '-%c' needs a value", optopt);
    }
    if (c == '?') return bad_option(spec, argv, argc);
    size_t i = 0;
    if (c >= OPT_BASE) {
      i = (size_t)(c - OPT_BASE);
    } else {
      while (spec->opts[i].kind != CLI_OPT_END && !(is_option(&spec->opts[i]) &&
                                                     spec->opts[i].short_name == c))
        ++i;
    }
    if (!store(&spec->opts[i], optarg, values)) return CLI_EXIT_USAGE;
    seen[i] = 1;
  }
  if (argc - optind > spec->operands) return cli_usage_error("unexpected argument '%s'",
                                                             argv[optind + spec->operands]);
  char missing[512];
  size_t len = 0;
  int nmissing = 0;
  n = 0;
  for (const cli_opt *o = spec->opts; o->kind != CLI_OPT_END; ++o, ++n) {
    if (!is_option(o) || !(o->flags & CLI_REQUIRED) || seen[n]) continue;
    char lab[80] = "";
    if (o->short_name) snprintf(lab, sizeof lab, "-%c/", o->short_name);
    if (len < sizeof missing)
      len += (size_t)snprintf(missing + len, sizeof missing - len, "%s%s--%s",
                              nmissing ? ", " : "", lab, o->name);
    ++nmissing;
  }
  if (nmissing)
    return cli_usage_error("missing required option%s %s", nmissing > 1 ? "s" : "", missing);
  if (first_operand) *first_operand = optind;
  return -1;
}

/* ------------------------------------------------------------------------- */
/* --help                                                                    */

static int label(const cli_opt *o, char *buf, size_t cap) {
  const char *sp = o->arg ? " " : "", *arg = o->arg ? o->arg : "";
  if (o->short_name) return snprintf(buf, cap, "-%c, --%s%s%s", o->short_name, o->name, sp, arg);
  return snprintf(buf, cap, "--%s%s%s", o->name, sp, arg);
}

/* Prints text from column `at` on, wrapped at HELP_WIDTH; continuation
 * lines start at column `indent`.  A '\n' in text breaks the line. */
static void wrap(FILE *f, const char *text, int at, int indent) {
  int col = at;
  const char *p = text;
  while (*p) {
    if (*p == '\n') {
      fprintf(f, "\n%*s", indent, "");
      col = indent;
      ++p;
      continue;
    }
    if (*p == ' ') {
      ++p;
      continue;
    }
    size_t w = strcspn(p, " \n");
    if (col > indent && col + 1 + (int)w > HELP_WIDTH) {
      fprintf(f, "\n%*s", indent, "");
      col = indent;
    }
    if (col > indent) {
      fputc(' ', f);
      ++col;
    }
    fwrite(p, 1, w, f);
    col += (int)w;
    p += w;
  }
  fputc('\n', f);
}

static void print_option(FILE *f, const char *lab, int width, const char *help) {
  int len = fprintf(f, "  %s", lab) - 2;
  int indent = 2 + width + 2;
  if (len > width) {
    fprintf(f, "\n%*s", indent, "");
  } else {
    fprintf(f, "%*s", width - len + 2, "");
  }
  wrap(f, help ? help : "", indent, indent);
}

void cli_print_help(const cli_spec *spec, FILE *f) {
  char lab[128];
  int width = 10; /* "-h, --help" */
  for (const cli_opt *o = spec->opts; o->kind != CLI_OPT_END; ++o) {
    if (!is_option(o)) continue;
    int len = label(o, lab, sizeof lab);
    if (len > width && len <= LABEL_MAX) width = len;
  }
  fputs(spec->usage, f);
  if (spec->about) {
    fputc('\n', f);
    fputs(spec->about, f);
  }
  fputc('\n', f);
  if (spec->opts[0].kind != CLI_OPT_GROUP) fputs("options:\n", f);
  for (const cli_opt *o = spec->opts; o->kind != CLI_OPT_END; ++o) {
    if (o->kind == CLI_OPT_GROUP) {
      fprintf(f, "%s\n", o->name);
      continue;
    }
    label(o, lab, sizeof lab);
    print_option(f, lab, width, o->help);
  }
  print_option(f, "-h, --help", width, "show this help");
  if (spec->epilog) {
    fputc('\n', f);
    fputs(spec->epilog, f);
  }
}
