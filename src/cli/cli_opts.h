/* Options of the subcommands, declared as tables.
 *
 * Each subcommand describes its options once, in a static table: long name,
 * value placeholder, kind (flag, text, number with its range, whole number
 * with its range, seed, one of a few words) and help text, with group
 * headings.  One parser (getopt_long underneath) stores the values into the
 * subcommand's own struct and checks them, and --help is printed from the
 * same table, so every option is documented and every usage error is one
 * line in the same words:
 *
 *   fitcl <cmd>: <what>; run 'fitcl <cmd> --help' for usage       (exit 2)
 *
 * A table entry is written with the macros below, in braces, so that flags
 * can follow:
 *
 *   typedef struct { const char *tree; long cats; int json; } args;
 *   static const cli_opt opts[] = {
 *     {CLI_STRING("tree", "FILE", args, tree, "rooted Newick tree"), .flags = CLI_REQUIRED},
 *     {CLI_LONG("gamma-cats", "K", 1, 64, args, cats, "rate categories (default 1)")},
 *     {CLI_FLAG("json", args, json, "print one JSON object")},
 *     {CLI_END}};
 */
#ifndef FITCL_CLI_OPTS_H
#define FITCL_CLI_OPTS_H

#include <stddef.h>
#include <stdio.h>

typedef enum cli_opt_kind {
  CLI_OPT_END = 0, /* ends a table */
  CLI_OPT_GROUP,   /* a heading in --help ("data:"); not an option */
  CLI_OPT_FLAG,    /* no value; sets an int to 1 */
  CLI_OPT_STRING,  /* const char *, the argument itself */
  CLI_OPT_DOUBLE,  /* double: finite, within `range` */
  CLI_OPT_LONG,    /* long within [min, max] */
  CLI_OPT_SEED,    /* unsigned long long, 0 to 2^64-1 */
  CLI_OPT_CHOICE   /* int: the index of the word in `choices` */
} cli_opt_kind;

/* Ranges of CLI_OPT_DOUBLE values (and of cli_number). */
typedef enum cli_range {
  CLI_FINITE = 0, /* any finite number */
  CLI_POSITIVE,   /* > 0 */
  CLI_UNIT        /* from 0 to 1 */
} cli_range;

enum { CLI_REQUIRED = 1 };

typedef struct cli_opt {
  cli_opt_kind kind;
  const char *name;            /* long name without "--"; the heading of a group */
  char short_name;             /* a one-letter alias ('o' for -o), or 0 */
  const char *arg;             /* value placeholder in --help ("FILE") */
  const char *help;            /* wrapped to the terminal width; '\n' breaks a line */
  size_t offset;               /* where the value goes in the values struct */
  unsigned flags;              /* CLI_REQUIRED */
  long min, max;               /* CLI_OPT_LONG */
  cli_range range;             /* CLI_OPT_DOUBLE */
  const char *const *choices;  /* CLI_OPT_CHOICE: the words, NULL-terminated */
} cli_opt;

#define CLI_END .kind = CLI_OPT_END
#define CLI_GROUP(title) .kind = CLI_OPT_GROUP, .name = (title)
#define CLI_FLAG(nm, T, field, text) \
  .kind = CLI_OPT_FLAG, .name = (nm), .offset = offsetof(T, field), .help = (text)
#define CLI_STRING(nm, argname, T, field, text)                                          \
  .kind = CLI_OPT_STRING, .name = (nm), .arg = (argname), .offset = offsetof(T, field), \
  .help = (text)
#define CLI_DOUBLE(nm, argname, rng, T, field, text)                                     \
  .kind = CLI_OPT_DOUBLE, .name = (nm), .arg = (argname), .range = (rng),               \
  .offset = offsetof(T, field), .help = (text)
#define CLI_LONG(nm, argname, lo, hi, T, field, text)                                    \
  .kind = CLI_OPT_LONG, .name = (nm), .arg = (argname), .min = (lo), .max = (hi),       \
  .offset = offsetof(T, field), .help = (text)
#define CLI_SEED(nm, argname, T, field, text) \
  .kind = CLI_OPT_SEED, .name = (nm), .arg = (argname), .offset = offsetof(T, field), .help = (text)
#define CLI_CHOICE(nm, argname, words, T, field, text)                                   \
  .kind = CLI_OPT_CHOICE, .name = (nm), .arg = (argname), .choices = (words),           \
  .offset = offsetof(T, field), .help = (text)

/* A subcommand's command line: the options and the text of its --help. */
typedef struct cli_spec {
  const char *usage;   /* "usage: fitcl <cmd> ..." line(s) */
  const char *about;   /* what the command does (paragraphs), or NULL */
  const cli_opt *opts; /* the table, ending with {CLI_END} */
  const char *epilog;  /* text after the options, or NULL */
  int operands;        /* positional arguments the command accepts */
} cli_spec;

/* Parses argv (argv[0] is the subcommand) into `values`, whose fields hold
 * the defaults beforehand.  --help is always accepted.  Returns -1 to go on,
 * with *first_operand (when not NULL) the index of the first positional
 * argument; else the exit status: 0 after printing --help, 2 after printing
 * a usage error (unknown option, missing or malformed value, a value out of
 * range, a missing required option, too many arguments). */
int cli_parse(const cli_spec *spec, int argc, char **argv, void *values, int *first_operand);

/* Prints the --help text of spec. */
void cli_print_help(const cli_spec *spec, FILE *f);

/* Parses a number given inside an option's value (what names it in the
 * message, e.g. "--p0").  On failure prints the usage error, in the words
 * the parser uses, and returns 0; 1 on success. */
int cli_number(const char *what, const char *text, cli_range range, double *out);
int cli_whole(const char *what, const char *text, long min, long max, long *out);

#endif
