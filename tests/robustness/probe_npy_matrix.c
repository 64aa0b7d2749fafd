/* Robustness: presence/absence matrices as .npy with names files.  What
 * stands at the matrix or names path (a directory, a device, /dev/zero), a
 * names file that is one of the outputs, an output that fails while the
 * others were written: one line, exit 1 or 2, in/ and outside/ untouched,
 * and no output of simulate left behind unless all of them are. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "box.h"

#define SIM "simulate", "--tree", "../in/t.nwk", "--gain", "0.5", "--loss", "1", "--families", \
            "30", "--seed", "5", "--condition"
#define LL "loglik", "--gain", "0.5", "--loss", "1", "--tree", "../in/t.nwk"

/* Nothing but the expected names in out/: no temporary files left. */
static void expect_only(const box *b, const char *const *names) {
  DIR *d = opendir(b->out);
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    int known = 0;
    for (const char *const *n = names; *n; ++n) known |= !strcmp(*n, de->d_name);
    cr_expect(known, "out/ holds an unexpected file '%s'", de->d_name);
  }
  closedir(d);
}

Test(npy_matrix, what_stands_at_an_input_path) {
  box b;
  box_open(&b);
  /* A good matrix and its names, made by fitcl itself. */
  BOX_EXPECT(&b, 0, "", SIM, "-o", "s.npy", "--taxa-out", "s.taxa", "--family-names-out",
             "s.fam");
  static const char *const made[] = {"s.npy", "s.taxa", "s.fam"};
  for (int i = 0; i < 3; ++i) {
    char from[700], to[700];
    snprintf(from, sizeof from, "%s/%s", b.out, made[i]);
    snprintf(to, sizeof to, "%s/%s", b.in, made[i]);
    cr_assert_eq(rename(from, to), 0);
  }
  box_resnap(&b);
  BOX_EXPECT(&b, 0, "", LL, "--matrix", "../in/s.npy", "--taxa", "../in/s.taxa",
             "--family-names", "../in/s.fam");
  cr_assert_eq(mkdir(box_path(&b, "in/dir.npy"), 0700), 0);
  cr_assert_eq(symlink("/dev/zero", box_path(&b, "in/zero.npy")), 0);
  box_resnap(&b);
  BOX_EXPECT(&b, 2, "directory", LL, "--matrix", "../in/dir.npy", "--taxa", "../in/s.taxa");
  BOX_EXPECT(&b, 2, "not a regular file", LL, "--matrix", "../in/zero.npy", "--taxa",
             "../in/s.taxa");
  BOX_EXPECT(&b, 2, "NUL byte", LL, "--matrix", "../in/s.npy", "--taxa", "/dev/zero");
  BOX_EXPECT(&b, 2, "directory", LL, "--matrix", "../in/s.npy", "--taxa", "../in");
  BOX_EXPECT(&b, 2, "No such file", LL, "--matrix", "../in/s.npy", "--taxa", "../in/none");
  BOX_EXPECT(&b, 2, "NUL byte", "fit", "--tree", "../in/t.nwk", "--matrix", "../in/s.npy",
             "--taxa", "../in/s.taxa", "--family-names", "/dev/zero");
  /* The matrix's own bytes as a names file: binary, refused. */
  BOX_EXPECT(&b, 2, "NUL byte", LL, "--matrix", "../in/s.npy", "--taxa", "../in/s.npy");
  /* The tree and the names are inputs of ancestral: never its outputs. */
  BOX_EXPECT(&b, 2, "same file as the input --taxa", "ancestral", "--tree", "../in/t.nwk",
             "--matrix", "../in/s.npy", "--taxa", "../in/s.taxa", "--gain", "0.5", "--loss", "1",
             "--nodes", "../in/s.taxa");
  const char *left[] = {NULL};
  expect_only(&b, left);
  box_close(&b);
}

Test(npy_matrix, simulate_writes_all_of_its_outputs_or_none) {
  box b;
  box_open(&b);
  int own = mknod(box_path(&b, "out/full"), S_IFCHR | 0666, makedev(1, 7)) == 0;
  const char *full = own ? "full" : "/dev/full";
  if (own) box_resnap(&b);
  BOX_EXPECT(&b, 1, "No space left on device", SIM, "-o", "o.npy", "--taxa-out", "o.taxa",
             "--family-names-out", full);
  BOX_EXPECT(&b, 1, "No space left on device", SIM, "-o", "o.npy", "--taxa-out", full);
  BOX_EXPECT(&b, 2, "nodir", SIM, "-o", "o.npy", "--taxa-out", "o.taxa", "--family-names-out",
             "nodir/o.fam");
  BOX_EXPECT(&b, 2, "same file as the input --tree", SIM, "-o", "o.npy", "--taxa-out",
             "../in/t.nwk");
  BOX_EXPECT(&b, 2, "both write", SIM, "-o", "o.npy", "--taxa-out", "o.taxa",
             "--family-names-out", "./o.taxa");
  const char *none[] = {"full", NULL};
  expect_only(&b, none);
  /* Then all of them, read back. */
  BOX_EXPECT(&b, 0, "", SIM, "-o", "o.npy", "--taxa-out", "o.taxa", "--family-names-out", "o.fam");
  BOX_EXPECT(&b, 0, "", LL, "--matrix", "o.npy", "--taxa", "o.taxa", "--family-names", "o.fam");
  const char *all[] = {"full", "o.npy", "o.taxa", "o.fam", NULL};
  expect_only(&b, all);
  box_close(&b);
}
