/* Robustness: inputs.  Directories, endless and newline-free files, files
 * that change during a fit, resumes on other data, control bytes, numbers
 * strtod would take but a user did not mean, malformed .npy headers, the
 * seed corpora and deterministic mutations of every reader's input: each
 * gives one clear line and exit 2 (1 for what is not the user's to fix),
 * never a crash, a hang or unbounded memory (issue 18, causes 6-8, 11). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "box.h"
#include "core/util.h"

#define LL "loglik", "--gain", "0.5", "--loss", "1"
#define CF "curve-fit", "--model", "a*x+b", "--p0", "a=1,b=0"
/* --y (N, 2) with in/x2.npy, a (1, 2) x shared by the fits. */
#define BATCH "curve-fit", "--batch", "--model", "a*x", "--p0", "a=1", "--x", "../in/x2.npy"

Test(inputs, a_directory_is_bad_input) {
  box b;
  box_open(&b);
  cr_assert_eq(mkdir(box_path(&b, "in/dir.csv"), 0700), 0);
  cr_assert_eq(mkdir(box_path(&b, "in/dir.npy"), 0700), 0);
  box_write_npy(&b, "in/d.npy", 100, 2);
  box_write_npy(&b, "in/x2.npy", 1, 2);
  BOX_EXPECT(&b, 2, "directory", LL, "--tree", "../in", "--matrix", "../in/m.Rtab");
  BOX_EXPECT(&b, 2, "directory", LL, "--tree", "../in/t.nwk", "--matrix", "../in");
  BOX_EXPECT(&b, 2, "directory", "retention-test", "--tree", "../in/t.nwk", "--matrix",
             "../in/m.Rtab", "--families", "../in");
  BOX_EXPECT(&b, 2, "directory", CF, "--data", "../in/dir.csv");
  BOX_EXPECT(&b, 2, "directory", CF, "--data", "../in/dir.npy");
  BOX_EXPECT(&b, 2, "directory", CF, "--data", "../in/d.npy", "--x", "../in/dir.npy");
  BOX_EXPECT(&b, 2, "directory", CF, "--data", "../in/d.npy", "--resume", "../in");
  BOX_EXPECT(&b, 2, "No such file", CF, "--data", "../in/none.csv");
  /* The whole-array readers: curve-fit --batch and evpi. */
  BOX_EXPECT(&b, 2, "is a directory", BATCH, "--y", "../in/dir.npy");
  BOX_EXPECT(&b, 2, "is a directory", "curve-fit", "--batch", "--model", "a*x", "--p0", "a=1",
             "--y", "../in/d.npy", "--x", "../in/dir.npy");
  BOX_EXPECT(&b, 0, "", BATCH, "--y", "../in/d.npy");
  BOX_EXPECT(&b, 2, "is a directory", "evpi", "--nb", "../in/dir.csv");
  BOX_EXPECT(&b, 2, "is a directory", "evpi", "--nb", "../in/dir.npy");
  BOX_EXPECT(&b, 2, "is a directory", "evppi", "--nb", "../in/d.npy", "--params", "../in/dir.csv",
             "--of", "0");
  box_close(&b);
}

/* /dev/zero and newline-free text: refused at a stated limit, quickly and
 * in bounded memory (a 3 GB line took 3 GB before; /dev/zero never ended). */
Test(inputs, endless_and_newline_free_inputs_are_bounded) {
  box b;
  box_open(&b);
  box_printf(&b, "in/a.csv", "x,y\n1,2\n2,4.1\n3,5.9\n");
  BOX_EXPECT(&b, 2, "256 MiB", LL, "--tree", "../in/t.nwk", "--matrix", "/dev/zero");
  BOX_EXPECT(&b, 2, "NUL byte", LL, "--tree", "/dev/zero", "--matrix", "../in/m.Rtab");
  BOX_EXPECT(&b, 2, "16 MiB", CF, "--data", "/dev/zero", "--format", "csv");
  BOX_EXPECT(&b, 2, "64 KiB", "retention-test", "--tree", "../in/t.nwk", "--matrix",
             "../in/m.Rtab", "--families", "/dev/zero");
  BOX_EXPECT(&b, 2, "1 MiB", CF, "--data", "../in/a.csv", "--resume", "/dev/zero");
  /* 17 MiB of one line: past the data reader's limit. */
  size_t n = 17u << 20;
  char *line = malloc(n);
  memset(line, '7', n);
  memcpy(line, "x,y\n", 4);
  box_write(&b, "in/long.csv", line, n);
  free(line);
  BOX_EXPECT(&b, 2, "a line longer than 16 MiB", CF, "--data", "../in/long.csv");
  box_close(&b);
}

/* Truncates (or rewrites) a file after `ms` milliseconds, in a child. */
static pid_t change_later(const char *path, int ms, int shrink) {
  pid_t pid = fork();
  if (pid == 0) {
    usleep((useconds_t)ms * 1000);
    if (shrink) {
      if (truncate(path, 4096) != 0) _exit(1);
    } else {
      int fd = open(path, O_WRONLY);
      double v = 1e6;
      if (fd < 0 || pwrite(fd, &v, 8, 4096) != 8) _exit(1);
      close(fd);
    }
    _exit(0);
  }
  return pid;
}

/* A data file that shrinks during a fit was SIGBUS (exit 135); now it is
 * an error naming the file, as is one rewritten in place.  --memory-mb 0:
 * every pass reads the file (with the in-memory copy, passes after the
 * first never look at it again). */
Test(inputs, a_file_that_changes_during_a_fit) {
  box b;
  box_open(&b);
  for (int shrink = 1; shrink >= 0; --shrink) {
    box_write_npy(&b, "out/big.npy", 1u << 20, 2);
    const char *argv[] = {"curve-fit", "--data", "big.npy", "--model", "a*exp(-b*x)+c", "--p0",
                          "a=1,b=1,c=0", "--ftol", "-1", "--xtol", "-1", "--gtol", "-1",
                          "--max-iter", "100000", "--memory-mb", "0", NULL};
    pid_t changer = change_later(box_path(&b, "out/big.npy"), 300, shrink);
    box_result r;
    box_opts o = {0};
    o.timeout = 300;
    box_run(&b, &r, &o, argv);
    waitpid(changer, NULL, 0);
    box_expect(&r, 1, shrink ? "big.npy changed during the fit (shrunk" :
                                "big.npy changed during the fit (rewritten",
               shrink ? "a .npy shrinking under a fit" : "a .npy rewritten under a fit");
    box_result_free(&r);
  }
  box_close(&b);
}

Test(inputs, resume_only_on_the_same_data) {
  box b;
  box_open(&b);
  box_printf(&b, "in/a.csv", "x,y\n1,2.1\n2,3.9\n3,6.2\n4,8.1\n5,9.8\n");
  box_printf(&b, "in/b.csv", "x,y\n1,21\n2,39\n3,62\n4,81\n5,98\n");
  box_printf(&b, "in/c.csv", "x,y\n1,2.1\n2,3.9\n3,6.2\n4,8.1\n");
  BOX_EXPECT(&b, 0, "", "curve-fit", "--data", "../in/a.csv", "--model", "a*x", "--p0", "a=1",
             "--checkpoint", "ck", "--max-iter", "1");
  BOX_EXPECT(&b, 2, "taken on other data", "curve-fit", "--data", "../in/b.csv", "--model", "a*x",
             "--p0", "a=1", "--resume", "ck");
  BOX_EXPECT(&b, 2, "taken on other data", "curve-fit", "--data", "../in/c.csv", "--model", "a*x",
             "--p0", "a=1", "--resume", "ck");
  BOX_EXPECT(&b, 0, "", "curve-fit", "--data", "../in/a.csv", "--model", "a*x", "--p0", "a=1",
             "--resume", "ck", "--checkpoint", "ck");
  box_close(&b);
}

/* No raw control byte reaches the terminal (box_expect checks every
 * message for them); they show as \xNN. */
Test(inputs, control_bytes_are_shown_not_obeyed) {
  box b;
  box_open(&b);
  box_printf(&b, "in/esc.nwk", "(A\x1b:1,B:1,C\x07\r:1);");
  box_printf(&b, "in/esc.Rtab", "Gene\tgenome01\x1b]0;owned\x07\n");
  box_printf(&b, "in/esc.csv", "x,\"y\x1b[31m\ny\"\n1,2\n");
  BOX_EXPECT(&b, 2, "'A?'", LL, "--tree", "../in/esc.nwk", "--matrix", "../in/m.Rtab");
  BOX_EXPECT(&b, 2, NULL, LL, "--tree", "../in/t.nwk", "--matrix", "../in/esc.Rtab");
  BOX_EXPECT(&b, 2, "\\x1b[31m\\x0a", CF, "--data", "../in/esc.csv");
  BOX_EXPECT(&b, 2, "\\x1b", LL, "--tree", "../in/\x1b[2J.nwk", "--matrix", "../in/m.Rtab");
  BOX_EXPECT(&b, 2, "\\x07", "fit", "--tree", "../in/t.nwk", "--matrix", "../in/m.Rtab",
             "--bogus\x07");
  box_close(&b);
}

Test(inputs, numbers_are_decimal) {
  box b;
  box_open(&b);
  box_printf(&b, "in/a.csv", "x,y\n1,2.1\n2,3.9\n3,6.2\n4,8.1\n");
  box_printf(&b, "in/hex.csv", "x,y\n1,2.1\n2,0x10\n3,6.2\n4,8.1\n");
  BOX_EXPECT(&b, 2, "'0x10'", LL, "--tree", "../in/t.nwk", "--matrix", "../in/m.Rtab", "--alpha",
             "0x10", "--gamma-cats", "2");
  BOX_EXPECT(&b, 2, "expected a number > 0, got '0x1p-3'", "loglik", "--tree", "../in/t.nwk",
             "--matrix", "../in/m.Rtab", "--gain", "0x1p-3", "--loss", "1");
  BOX_EXPECT(&b, 2, "not a number: '0x10'", "curve-fit", "--data", "../in/hex.csv", "--model",
             "a*x", "--p0", "a=1");
  BOX_EXPECT(&b, 2, "'0x10' is not a number", "evpi", "--nb", "../in/hex.csv");
  BOX_EXPECT(&b, 2, "'0x10' is not a number", "evpi", "--costs", "../in/a.csv", "--effects",
             "../in/hex.csv", "--wtp", "1");
  BOX_EXPECT(&b, 0, "", "evpi", "--nb", "../in/a.csv");
  BOX_EXPECT(&b, 2, "'0x1'", "curve-fit", "--data", "../in/a.csv", "--model", "a*x", "--p0",
             "a=0x1");
  BOX_EXPECT(&b, 2, "'0x0'", "curve-fit", "--data", "../in/a.csv", "--model", "a*x", "--p0",
             "a=1", "--bounds", "a=0x0:10");
  BOX_EXPECT(&b, 2, "'nan'", "curve-fit", "--data", "../in/a.csv", "--model", "a*x", "--p0",
             "a=nan");
  BOX_EXPECT(&b, 0, "", "curve-fit", "--data", "../in/a.csv", "--model", "a*x", "--p0", "a=1",
             "--bounds", "a=0:inf");
  /* Seeds: the whole range, and not one past it. */
  BOX_EXPECT(&b, 0, "", "simulate", "--tree", "../in/t.nwk", "--gain", "0.5", "--loss", "1",
             "--families", "3", "--seed", "18446744073709551615", "-o", "s.Rtab");
  BOX_EXPECT(&b, 2, "--seed", "simulate", "--tree", "../in/t.nwk", "--gain", "0.5", "--loss", "1",
             "--families", "3", "--seed", "18446744073709551616", "-o", "s.Rtab");
  BOX_EXPECT(&b, 2, "--seed", "simulate", "--tree", "../in/t.nwk", "--gain", "0.5", "--loss", "1",
             "--families", "3", "--seed", "-1", "-o", "s.Rtab");
  box_close(&b);
}

Test(inputs, each_parameter_once) {
  box b;
  box_open(&b);
  box_printf(&b, "in/a.csv", "x,y\n1,2.1\n2,3.9\n3,6.2\n4,8.1\n");
  BOX_EXPECT(&b, 2, "'a' is given twice", "curve-fit", "--data", "../in/a.csv", "--model", "a*x",
             "--p0", "a=1", "--bounds", "a=0:10,a=5:6");
  BOX_EXPECT(&b, 2, "'a' is given twice", "curve-fit", "--data", "../in/a.csv", "--model", "a*x",
             "--p0", "a=1,a=2");
  BOX_EXPECT(&b, 2, "'a' is given twice", "curve-fit", "--data", "../in/a.csv", "--model", "a*x",
             "--p0", "a=1", "--x-scale", "a=1,a=2");
  box_close(&b);
}

Test(inputs, byte_order_marks_are_skipped) {
  box b;
  box_open(&b);
  const char *bom = "\xEF\xBB\xBF";
  FILE *f = fopen(box_path(&b, "in/t.nwk"), "rb");
  char tree[8192];
  size_t n = fread(tree, 1, sizeof tree - 1, f);
  fclose(f);
  tree[n] = '\0';
  box_printf(&b, "in/bom.nwk", "%s%s", bom, tree);
  box_printf(&b, "in/fams.txt", "%sfam0001\nfam0002\n", bom);
  box_printf(&b, "in/bom.csv", "%sx,y\n1,2.1\n2,3.9\n3,6.2\n4,8.1\n", bom);
  box_printf(&b, "in/bomq.csv", "%s\"x\",\"y\"\n1,2.1\n2,3.9\n3,6.2\n4,8.1\n", bom);
  BOX_EXPECT(&b, 0, "", LL, "--tree", "../in/bom.nwk", "--matrix", "../in/m.Rtab");
  BOX_EXPECT(&b, 0, "", "retention-test", "--tree", "../in/t.nwk", "--matrix", "../in/m.Rtab",
             "--families", "../in/fams.txt");
  BOX_EXPECT(&b, 0, "", "curve-fit", "--data", "../in/bom.csv", "--model", "a*x", "--p0", "a=1");
  BOX_EXPECT(&b, 0, "", "curve-fit", "--data", "../in/bomq.csv", "--model", "a*x", "--p0", "a=1");
  box_close(&b);
}

Test(inputs, tree_and_matrix_taxa_differ) {
  box b;
  box_open(&b);
  /* The matrix with one more genome column. */
  FILE *f = fopen(box_path(&b, "in/m.Rtab"), "rb");
  char *text = NULL;
  size_t cap = 0;
  fitcl__buf out = {0};
  ssize_t len;
  int first = 1;
  while ((len = getline(&text, &cap, f)) > 0) {
    if (text[len - 1] == '\n') text[--len] = '\0';
    fitcl__buf_printf(&out, "%s\t%s\n", text, first ? "extra" : "1");
    first = 0;
  }
  free(text);
  fclose(f);
  box_write(&b, "in/extra.Rtab", out.data, out.len);
  fitcl__buf_free(&out);
  BOX_EXPECT(&b, 2, "--ignore-extra-taxa", LL, "--tree", "../in/t.nwk", "--matrix",
             "../in/extra.Rtab");
  BOX_EXPECT(&b, 0, "", LL, "--tree", "../in/t.nwk", "--matrix", "../in/extra.Rtab",
             "--ignore-extra-taxa");
  BOX_EXPECT(&b, 0, "", "fit", "--tree", "../in/t.nwk", "--matrix", "../in/extra.Rtab",
             "--ignore-extra-taxa");
  box_close(&b);
}

/* .npy headers: anything but numpy's dict with its three keys is refused. */
static void write_npy_header(box *b, const char *rel, const char *dict) {
  fitcl__buf t = {0};
  size_t hl = strlen(dict), total = 10 + hl + 1, pad = (64 - total % 64) % 64;
  unsigned short len = (unsigned short)(hl + pad + 1);
  fitcl__buf_append(&t, "\x93NUMPY\x01\x00", 8);
  unsigned char l2[2] = {(unsigned char)(len & 0xff), (unsigned char)(len >> 8)};
  fitcl__buf_append(&t, l2, 2);
  fitcl__buf_append(&t, dict, hl);
  for (size_t i = 0; i < pad; ++i) fitcl__buf_append(&t, " ", 1);
  fitcl__buf_append(&t, "\n", 1);
  for (int i = 0; i < 2000; ++i) {
    double v = i * 0.001;
    fitcl__buf_append(&t, &v, 8);
  }
  box_write(b, rel, t.data, t.len);
  fitcl__buf_free(&t);
}

Test(inputs, malformed_npy_headers_are_refused) {
  static const char *const bad[] = {
    "{'descr': '<f8', 'fortran_order': False, 'shape': (1000, 2), }garbage",
    "{'descr': '<f8', 'fortran_order': Maybe, 'shape': (1000, 2), }",
    "{'descr': '<f8', 'descr': '<f4', 'fortran_order': False, 'shape': (1000, 2), }",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (1000, 2)",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (1000, 2), 'x': 1}",
    "{'descr': '<f8', 'fortran_order': Falsehood, 'shape': (1000, 2), }",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (1000, 2), 'shape': (5,), }",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (1000, 2,,), }",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (1000 2), }",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2000), }",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999, 2), }",
    "{'fortran_order': False, 'shape': (1000, 2), }",
    "'descr': '<f8', 'fortran_order': False, 'shape': (1000, 2), }",
  };
  box b;
  box_open(&b);
  write_npy_header(&b, "in/good.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (1000, 2), }");
  BOX_EXPECT(&b, 0, "", CF, "--data", "../in/good.npy");
  box_write_npy(&b, "in/x2.npy", 1, 2);
  BOX_EXPECT(&b, 0, "", BATCH, "--y", "../in/good.npy");
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    write_npy_header(&b, "in/bad.npy", bad[i]);
    const char *argv[] = {CF, "--data", "../in/bad.npy", NULL};
    box_result r;
    box_run(&b, &r, NULL, argv);
    box_expect(&r, 2, "malformed .npy header", bad[i]);
    box_result_free(&r);
    /* The whole-array readers share the parser (theirs took all of these
     * but the last two before). */
    const char *batch[] = {BATCH, "--y", "../in/bad.npy", NULL};
    box_run(&b, &r, NULL, batch);
    box_expect(&r, 2, "malformed .npy header", bad[i]);
    box_result_free(&r);
    const char *evpi[] = {"evpi", "--nb", "../in/bad.npy", NULL};
    box_run(&b, &r, NULL, evpi);
    box_expect(&r, 2, "malformed .npy header", bad[i]);
    box_result_free(&r);
  }
  BOX_EXPECT(&b, 0, "", "evpi", "--nb", "../in/good.npy");
  box_close(&b);
}

/* ---- the seed corpora and their mutations ------------------------------- */

typedef struct corpus_kind {
  const char *dir;  /* under tests/fuzz/corpus */
  const char *ext;  /* the fixture's name in in/ */
} corpus_kind;

/* Runs fitcl on one input of a kind: exit 0 or 2, never a signal, 1 or a
 * hang; an error is one line. */
static void run_on(box *b, const char *kind, const char *model, const char *what) {
  box_result r;
  if (!strcmp(kind, "newick")) {
    const char *argv[] = {LL, "--tree", "../in/x.nwk", "--matrix", "../in/m.Rtab", NULL};
    box_run(b, &r, NULL, argv);
  } else if (!strcmp(kind, "pamatrix")) {
    const char *argv[] = {LL, "--tree", "../in/t.nwk", "--matrix", "../in/x.tsv",
                          "--prune-missing", "--ignore-extra-taxa", NULL};
    box_run(b, &r, NULL, argv);
  } else if (!strcmp(kind, "delim")) {
    const char *argv[] = {"curve-fit", "--data", "../in/x.csv", "--model", "a*x", "--p0", "a=1",
                          NULL};
    box_run(b, &r, NULL, argv);
  } else {
    const char *argv[] = {"curve-fit", "--data", "../in/d.npy", "--model", model, "--p0",
                          "a=1,b=1", NULL};
    box_run(b, &r, NULL, argv);
  }
  cr_assert_eq(r.signal, 0, "%s: killed by signal %d: %s", what, r.signal, r.err);
  cr_assert(r.code == 0 || r.code == 2, "%s: exit status %d: %s", what, r.code, r.err);
  if (r.code == 2) {
    cr_assert(r.err[0] && strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
              "%s: the error is one line: %s", what, r.err);
  }
  box_result_free(&r);
}

static const char *fixture_of(const char *kind) {
  return !strcmp(kind, "newick") ? "in/x.nwk" : !strcmp(kind, "pamatrix") ? "in/x.tsv"
         : !strcmp(kind, "delim")                                           ? "in/x.csv"
                                                                            : "in/x.expr";
}

/* Deterministic mutations: flip, delete, insert, duplicate, truncate. */
static size_t mutate(const char *in, size_t n, char *out, size_t cap, uint64_t *s) {
  static const char interesting[] = "()[]:;,'\"\t\n\r#?-01e.+x\xEF\xBB\xBF\x1b\0";
  size_t m = n < cap ? n : cap;
  memcpy(out, in, m);
  int edits = 1 + (int)((*s >> 60) & 3);
  for (int e = 0; e < edits && m > 0; ++e) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    size_t at = (size_t)((*s >> 20) % m);
    switch ((*s >> 50) % 5) {
      case 0: out[at] ^= (char)(1u << ((*s >> 8) & 7)); break;
      case 1: memmove(out + at, out + at + 1, m - at - 1); m--; break;
      case 2:
        if (m + 1 < cap) {
          memmove(out + at + 1, out + at, m - at);
          out[at] = interesting[(*s >> 12) % (sizeof interesting - 1)];
          m++;
        }
        break;
      case 3: {
        size_t len = 1 + (size_t)((*s >> 30) % 16);
        if (at + len <= m && m + len < cap) {
          memmove(out + at + len, out + at, m - at);
          m += len;
        }
        break;
      }
      default: m = at; break;
    }
  }
  return m;
}

static void corpus_and_mutations(const char *kind, int mutations_per_file) {
  box b;
  box_open(&b);
  box_write_npy(&b, "in/d.npy", 100, 2);
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", FITCL_TEST_SOURCE_DIR, kind);
  DIR *d = opendir(dir);
  cr_assert_not_null(d, "no corpus %s", dir);
  struct dirent *de;
  uint64_t seed = 0x5eed;
  int files = 0;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.') continue;
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    FILE *f = fopen(path, "rb");
    if (!f) continue;
    char text[1 << 16], mut[(1 << 16) + 64];
    size_t n = fread(text, 1, sizeof text, f);
    fclose(f);
    files++;
    box_write(&b, fixture_of(kind), text, n);
    text[n < sizeof text ? n : sizeof text - 1] = '\0';
    run_on(&b, kind, text, path);
    for (int m = 0; m < mutations_per_file; ++m) {
      size_t k = mutate(text, n, mut, sizeof mut, &seed);
      box_write(&b, fixture_of(kind), mut, k);
      mut[k] = '\0';
      char what[1500];
      snprintf(what, sizeof what, "%s, mutation %d", path, m);
      run_on(&b, kind, mut[0] ? mut : "a", what);
    }
  }
  closedir(d);
  cr_assert_gt(files, 0);
  box_close(&b);
}

Test(inputs, newick_corpus_and_mutations) { corpus_and_mutations("newick", 25); }
Test(inputs, matrix_corpus_and_mutations) { corpus_and_mutations("pamatrix", 25); }
Test(inputs, csv_corpus_and_mutations) { corpus_and_mutations("delim", 25); }
Test(inputs, expression_corpus_and_mutations) { corpus_and_mutations("expr", 25); }
