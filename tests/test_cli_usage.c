/* The command line of every subcommand: each usage error (unknown option,
 * missing or malformed value, value out of range, missing required option,
 * stray argument) is one line on stderr, in the same words, with exit 2 and
 * nothing on stdout; --help documents every option; --json carries
 * fallback_reason when a device list fell back. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static const char *cpu_env[] = {"FITCL_DEVICE=cpu", NULL};

static int count_lines(const char *s) {
  int n = 0;
  for (; s && *s; ++s) n += *s == '\n';
  return n;
}

/* Runs `fitcl <args...>` (NULL-terminated), expecting exit 2, nothing on
 * stdout and exactly one stderr line "fitcl <cmd>: ...<needle>...; run
 * 'fitcl <cmd> --help' for usage". */
static void expect_usage(const char *const *args, const char *needle) {
  const char *argv[32] = {"fitcl"};
  size_t n = 1;
  for (; args[n - 1]; ++n) argv[n] = args[n - 1];
  argv[n] = NULL;
  char *out = NULL, *err = NULL;
  int rc = fitcl_test_run_cli(argv, cpu_env, &out, &err);
  char prefix[64], hint[96];
  snprintf(prefix, sizeof prefix, "fitcl %s: ", args[0]);
  snprintf(hint, sizeof hint, "; run 'fitcl %s --help' for usage\n", args[0]);
  cr_expect_eq(rc, 2, "%s %s: exit %d, stderr: %s", args[0], args[1] ? args[1] : "", rc, err);
  cr_expect_eq(count_lines(err), 1, "%s %s: one line on stderr, got: %s", args[0],
               args[1] ? args[1] : "", err);
  cr_expect(err && strncmp(err, prefix, strlen(prefix)) == 0, "'%s' does not start with '%s'",
            err, prefix);
  size_t le = err ? strlen(err) : 0, lh = strlen(hint);
  cr_expect(le >= lh && strcmp(err + le - lh, hint) == 0, "'%s' does not end with the hint", err);
  cr_expect(err && strstr(err, needle), "stderr '%s' lacks '%s'", err, needle);
  cr_expect(out && out[0] == '\0', "stdout not empty: %s", out);
  free(out);
  free(err);
}

#define USAGE(needle, ...)                                  \
  do {                                                      \
    const char *a_[] = {__VA_ARGS__, NULL};                 \
    expect_usage(a_, needle);                               \
  } while (0)

Test(cli_usage, unknown_options_once_on_every_subcommand) {
  static const char *cmds[] = {"devices", "selftest", "cache", "loglik", "fit", "retention-test",
                               "simulate", "ancestral", "curve-fit"};
  for (size_t i = 0; i < sizeof cmds / sizeof *cmds; ++i) {
    USAGE("unknown option '--frobnicate'", cmds[i], "--frobnicate");
    USAGE("unknown option '--frobnicate'", cmds[i], "--frobnicate=3");
    USAGE("unknown option '-q'", cmds[i], "-q");
    USAGE("option '--help' takes no value", cmds[i], "--help=1");
  }
  USAGE("option '--json' takes no value", "devices", "--json=1");
  USAGE("option '--grad' takes no value", "loglik", "--grad=yes");
  USAGE("ambiguous option '--t' (--tree, --taxa-in-rows, --taxa)", "fit", "--t", "x");
}

Test(cli_usage, missing_values) {
  USAGE("option '--tree' needs a value", "loglik", "--tree");
  USAGE("option '--matrix' needs a value", "fit", "--tree", "t", "--matrix");
  USAGE("option '--families-regex' needs a value", "retention-test", "--families-regex");
  USAGE("option '-o' needs a value", "simulate", "-o");
  USAGE("option '--output' needs a value", "simulate", "--output");
  USAGE("option '--nodes' needs a value", "ancestral", "--nodes");
  USAGE("option '--data' needs a value", "curve-fit", "--data");
}

Test(cli_usage, bad_numbers_same_words) {
  USAGE("--gain: expected a number > 0, got 'x'", "loglik", "--gain", "x");
  USAGE("--gain: expected a number > 0, got '-1'", "simulate", "--gain", "-1");
  USAGE("--loss: expected a number > 0, got '0'", "ancestral", "--loss", "0");
  USAGE("--root-p1: expected a number from 0 to 1, got '1.5'", "loglik", "--root-p1", "1.5");
  USAGE("--retained-fraction: expected a number from 0 to 1, got 'nan'", "simulate",
        "--retained-fraction", "nan");
  USAGE("--gamma-cats: expected a whole number from 1 to 64, got '0'", "fit", "--gamma-cats", "0");
  USAGE("--gamma-cats: expected a whole number from 1 to 64, got '2.5'", "ancestral",
        "--gamma-cats", "2.5");
  USAGE("--max-iter: expected a whole number from 1 to 100000, got '1e9'", "retention-test",
        "--max-iter", "1e9");
  USAGE("--families: expected a whole number from 1 to 100000000, got 'ten'", "simulate",
        "--families", "ten");
  USAGE("--seed: expected a whole number from 0 to 2^64-1, got '-1'", "retention-test", "--seed",
        "-1");
  USAGE("--seed: expected a whole number from 0 to 2^64-1, got '99999999999999999999'",
        "simulate", "--seed", "99999999999999999999");
  USAGE("--ci: expected wald or profile, got 'bayes'", "retention-test", "--ci", "bayes");
  USAGE("--loss: expected linear, soft_l1, huber, cauchy or arctan, got 'l3'", "curve-fit",
        "--loss", "l3");
  USAGE("--chunk: expected a whole number from 1 to 1073741824, got '0'", "curve-fit", "--chunk",
        "0");
  USAGE("--ftol: expected a finite number, got 'inf'", "curve-fit", "--ftol", "inf");
  USAGE("--f-scale: expected a number > 0, got '0'", "curve-fit", "--f-scale", "0");
}

Test(cli_usage, missing_required_and_stray_arguments) {
  USAGE("missing required options --tree, --matrix, --gain, --loss", "loglik");
  USAGE("missing required option --matrix", "fit", "--tree", "t.nwk");
  USAGE("missing required options --tree, --matrix", "retention-test", "--families", "f.txt");
  USAGE("missing required options --tree, --gain, --loss, --families, --seed, -o/--output",
        "simulate");
  USAGE("missing required options --tree, --matrix", "ancestral");
  USAGE("missing required options --data, --model", "curve-fit");
  USAGE("--p0 is required", "curve-fit", "--data", "d.csv", "--model", "a*x");
  USAGE("unexpected argument 'extra'", "devices", "extra");
  USAGE("unexpected argument 'extra'", "selftest", "extra");
  USAGE("unexpected argument 'extra'", "cache", "info", "extra");
  USAGE("unexpected argument 'extra'", "fit", "--tree", "t", "--matrix", "m", "extra");
  USAGE("expected one action", "cache");
  USAGE("unknown action 'purge'", "cache", "purge");
  USAGE("give exactly one of --families FILE and --families-regex REGEX", "retention-test",
        "--tree", "t", "--matrix", "m");
  USAGE("give both --gain and --loss, or neither", "ancestral", "--tree", "t", "--matrix", "m",
        "--gain", "1");
  USAGE("--alpha", "loglik", "--tree", "t", "--matrix", "m", "--gain", "1", "--loss", "1",
        "--gamma-cats", "4");
}

/* Every option of every subcommand is in its --help, which goes to stdout
 * with exit 0 (-h too). */
Test(cli_usage, help_lists_every_option) {
  static const struct {
    const char *cmd;
    const char *opts;
  } want[] = {
    {"devices", "--json"},
    {"selftest", "--json"},
    {"cache", "--json"},
    {"loglik", "--tree --matrix --taxa-in-rows --prune-missing --taxa --family-names --gain "
               "--loss --gamma-cats --alpha --root-p1 --no-condition --grad --json"},
    {"fit", "--tree --matrix --taxa-in-rows --prune-missing --taxa --family-names --gamma-cats "
            "--no-condition --max-iter --json"},
    {"retention-test", "--tree --matrix --taxa-in-rows --prune-missing --taxa --family-names "
                       "--families --families-regex --bootstrap --seed --ci --gamma-cats "
                       "--no-condition --max-iter --quiet --json"},
    {"simulate", "--tree --gain --loss --families --retained-fraction --effect --gamma-cats "
                 "--alpha --condition --seed -o, --output --taxa-out --family-names-out --truth"},
    {"ancestral", "--tree --matrix --taxa-in-rows --prune-missing --taxa --family-names --gain "
                  "--loss --alpha --gamma-cats --no-condition --nodes --branches --json"},
    {"curve-fit", "--data --format --x --y --sigma --chunk --model --p0 --bounds --bounds-mode "
                  "--x-scale --loss --f-scale --absolute-sigma --max-iter --ftol --xtol --gtol "
                  "--checkpoint --checkpoint-every --resume --progress --json"},
  };
  for (size_t i = 0; i < sizeof want / sizeof *want; ++i) {
    for (int h = 0; h < 2; ++h) {
      const char *argv[] = {"fitcl", want[i].cmd, h ? "-h" : "--help", NULL};
      char *out = NULL, *err = NULL;
      cr_assert_eq(fitcl_test_run_cli(argv, cpu_env, &out, &err), 0, "%s --help", want[i].cmd);
      cr_expect(err && err[0] == '\0', "%s --help wrote to stderr: %s", want[i].cmd, err);
      char usage[64];
      snprintf(usage, sizeof usage, "usage: fitcl %s", want[i].cmd);
      cr_expect(strncmp(out, usage, strlen(usage)) == 0, "%s", out);
      cr_expect(strstr(out, "-h, --help"), "%s", out);
      char *list = strdup(want[i].opts), *save = NULL;
      for (char *o = strtok_r(list, " ", &save); o; o = strtok_r(NULL, " ", &save)) {
        /* An option is listed at the start of a help line: "  --name". */
        char pat[64];
        snprintf(pat, sizeof pat, "\n  %s", o);
        if (strcmp(o, "-o,") == 0) snprintf(pat, sizeof pat, "\n  -o, --output");
        if (strcmp(o, "--output") == 0) continue;
        cr_expect(strstr(out, pat), "%s --help lacks %s:\n%s", want[i].cmd, o, out);
      }
      free(list);
      /* No line is wider than a terminal. */
      for (const char *l = out; *l;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        cr_expect_leq(len, 84, "%s --help: a %zu-column line: %.*s", want[i].cmd, len, (int)len, l);
        l = e ? e + 1 : l + len;
      }
      free(out);
      free(err);
    }
  }
}

/* The selector that falls back: the first OpenCL device, whose kernels
 * cannot build with a made-up option, then cpu.  NULL without OpenCL. */
static const char *fallback_selector(char *buf, size_t len) {
  fitcl_test_backend b[2];
  size_t n = fitcl_test_backends(b, 2);
  if (n < 2) return NULL;
  snprintf(buf, len, "FITCL_DEVICE=%s;cpu", b[1].selector);
  return buf;
}

Test(cli_usage, json_carries_fallback_reason) {
  char sel[256];
  if (!fallback_selector(sel, sizeof sel)) cr_skip_test("no OpenCL device");
  char *dir = fitcl_test_tmpdir();
  char *tree = fitcl_test_write_file(dir, "t.nwk", "((A:0.1,B:0.2):0.05,(C:0.3,D:0.1):0.2);\n");
  char *mat = fitcl_test_write_file(dir, "m.Rtab",
                                    "Gene\tA\tB\tC\tD\nf1\t1\t1\t0\t1\nf2\t1\t0\t0\t0\n"
                                    "f3\t1\t1\t1\t1\nf4\t1\t1\t0\t1\nf5\t0\t0\t1\t1\n");
  char *data = fitcl_test_write_file(dir, "d.csv", "x,y\n1,2\n2,3\n3,5\n4,6\n");
  const char *fall_env[] = {sel, "FITCL_OPENCL_OPTIONS=-fitcl-test-no-such-option",
                            "FITCL_CACHE=off", NULL};
  const char *runs[][16] = {
    {"fitcl", "selftest", "--json", NULL},
    {"fitcl", "loglik", "--tree", tree, "--matrix", mat, "--gain", "1", "--loss", "1", "--json",
     NULL},
    {"fitcl", "fit", "--tree", tree, "--matrix", mat, "--json", NULL},
    {"fitcl", "ancestral", "--tree", tree, "--matrix", mat, "--json", NULL},
    {"fitcl", "curve-fit", "--data", data, "--model", "a*x+b", "--p0", "a=1,b=0", "--json", NULL},
  };
  for (size_t i = 0; i < sizeof runs / sizeof *runs; ++i) {
    for (int fall = 0; fall < 2; ++fall) {
      char *out = NULL, *err = NULL;
      int rc = fitcl_test_run_cli(runs[i], fall ? fall_env : cpu_env, &out, &err);
      cr_expect_eq(rc, 0, "%s: exit %d: %s", runs[i][1], rc, err);
      cr_expect_eq(count_lines(out), 1, "%s: one JSON line: %s", runs[i][1], out);
      const char *key = strstr(out, "\"fallback_reason\":\"");
      if (fall) {
        cr_expect(key && strstr(key, "-fitcl-test-no-such-option"),
                  "%s: no fallback_reason naming the failure: %s", runs[i][1], out);
        cr_expect(strstr(out, "\"backend\":\"cpu\""), "%s", out);
      } else {
        cr_expect_null(key, "%s: fallback_reason without a fallback: %s", runs[i][1], out);
      }
      free(out);
      free(err);
    }
  }
  fitcl_test_rmtree(dir);
  free(tree);
  free(mat);
  free(data);
  free(dir);
}
