/* Robustness: outputs.  Whatever is at an output path (a symlink, a FIFO,
 * a device, a directory, one of the inputs), whatever goes wrong while
 * writing (a full disk, a closed pipe, a second output that fails), the
 * command either writes what it should or fails with exit 1 or 2 and one
 * line, and leaves neither partial files nor a replaced node behind
 * (issue 18, causes 1-3). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "box.h"

#define SIM "simulate", "--tree", "../in/t.nwk", "--gain", "0.5", "--loss", "1", "--families", \
            "20", "--seed", "7"
/* 20 fits of 50 points of a line, x shared: a (1, 50) array. */
#define BATCH "curve-fit", "--batch", "--model", "a*x+b", "--p0", "a=1,b=0", "--x", "../in/x.npy"
#define ANC "ancestral", "--tree", "../in/t.nwk", "--matrix", "../in/m.Rtab", "--gain", "0.5", \
            "--loss", "1"

static char *read_all(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  size_t got = fread(s, 1, (size_t)n, f);
  s[got] = '\0';
  fclose(f);
  return s;
}

static mode_t type_of(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0 ? (st.st_mode & S_IFMT) : 0;
}

/* Nothing but the expected names in out/: no temporary files left. */
static void expect_only(const box *b, const char *const *names) {
  DIR *d = opendir(b->out);
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    int known = 0;
    for (const char *const *n = names; *n; ++n) known |= !strcmp(*n, de->d_name);
    cr_expect(known, "out/ holds an unexpected file '%s' (a leftover temporary file?)",
              de->d_name);
  }
  closedir(d);
}

Test(outputs, symlink_is_followed_not_replaced) {
  box b;
  box_open(&b);
  box_printf(&b, "out/target.Rtab", "old\n");
  cr_assert_eq(symlink("target.Rtab", box_path(&b, "out/link.Rtab")), 0);
  /* A chain of links through a directory link, relative all the way. */
  cr_assert_eq(mkdir(box_path(&b, "out/real"), 0700), 0);
  cr_assert_eq(symlink("real", box_path(&b, "out/dirlink")), 0);
  cr_assert_eq(symlink("dirlink/deep.Rtab", box_path(&b, "out/chain.Rtab")), 0);
  box_printf(&b, "out/real/deep.Rtab", "old\n");
  /* A dangling link names the file to create. */
  cr_assert_eq(symlink("created.Rtab", box_path(&b, "out/dangling.Rtab")), 0);
  const char *links[] = {"link.Rtab", "chain.Rtab", "dangling.Rtab"};
  const char *targets[] = {"out/target.Rtab", "out/real/deep.Rtab", "out/created.Rtab"};
  for (int i = 0; i < 3; ++i) {
    box_result r;
    const char *argv[] = {SIM, "-o", links[i], NULL};
    box_run(&b, &r, NULL, argv);
    box_expect(&r, 0, "", links[i]);
    box_result_free(&r);
    char link[600];
    snprintf(link, sizeof link, "out/%s", links[i]);
    cr_expect_eq(type_of(box_path(&b, link)), S_IFLNK, "%s is still a symlink", links[i]);
    char *text = read_all(box_path(&b, targets[i]));
    cr_expect(text && !strncmp(text, "Gene\t", 5), "%s received the matrix", targets[i]);
    free(text);
  }
  const char *left[] = {"target.Rtab", "link.Rtab", "real", "dirlink", "chain.Rtab",
                        "dangling.Rtab", "created.Rtab", NULL};
  expect_only(&b, left);
  box_close(&b);
}

/* Reads a FIFO to the end into a file, in a child process. */
static pid_t drain_fifo(const char *fifo, const char *to) {
  pid_t pid = fork();
  if (pid == 0) {
    int in = open(fifo, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char buf[65536];
    ssize_t n;
    while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
      if (write(out, buf, (size_t)n) != n) break;
    _exit(0);
  }
  return pid;
}

/* Waits for a FIFO's reader: a FIFO that was replaced by a file leaves its
 * reader blocked for ever on the old node, so it is killed after a while. */
static void reap(pid_t reader, const char *what) {
  for (int i = 0; i < 2000; ++i) {
    if (waitpid(reader, NULL, WNOHANG) == reader) return;
    usleep(5000);
  }
  kill(reader, SIGKILL);
  waitpid(reader, NULL, 0);
  cr_expect_fail("%s: the FIFO's reader never got to the end (was the FIFO replaced?)", what);
}

Test(outputs, fifo_is_written_in_place) {
  box b;
  box_open(&b);
  cr_assert_eq(mkfifo(box_path(&b, "out/pipe"), 0600), 0);
  pid_t reader = drain_fifo(box_path(&b, "out/pipe"), box_path(&b, "out/got.Rtab"));
  BOX_EXPECT(&b, 0, "", SIM, "-o", "pipe");
  reap(reader, "simulate -o pipe");
  cr_expect_eq(type_of(box_path(&b, "out/pipe")), S_IFIFO, "the FIFO is still a FIFO");
  char *got = read_all(box_path(&b, "out/got.Rtab"));
  cr_expect(got && !strncmp(got, "Gene\t", 5), "the reader got the matrix");
  free(got);
  /* ancestral's two tables through two FIFOs. */
  cr_assert_eq(mkfifo(box_path(&b, "out/pipe2"), 0600), 0);
  reader = drain_fifo(box_path(&b, "out/pipe"), box_path(&b, "out/nodes.tsv"));
  pid_t reader2 = drain_fifo(box_path(&b, "out/pipe2"), box_path(&b, "out/branches.tsv"));
  BOX_EXPECT(&b, 0, "", ANC, "--nodes", "pipe", "--branches", "pipe2");
  reap(reader, "ancestral --nodes pipe");
  reap(reader2, "ancestral --branches pipe2");
  char *n = read_all(box_path(&b, "out/nodes.tsv")), *br = read_all(box_path(&b, "out/branches.tsv"));
  cr_expect(n && !strncmp(n, "family\t", 7), "node table through the FIFO");
  cr_expect(br && !strncmp(br, "node\tparent", 11), "branch table through the FIFO");
  free(n);
  free(br);
  /* A checkpoint must be a file it can be resumed from: refused up front. */
  box_printf(&b, "in/a.csv", "x,y\n1,2.1\n2,3.9\n3,6.2\n4,8.1\n");
  BOX_EXPECT(&b, 2, "not a regular file", "curve-fit", "--data", "../in/a.csv", "--model", "a*x",
             "--p0", "a=1", "--checkpoint", "pipe");
  box_close(&b);
}

/* A character device that fails every write: /dev/full, or (as root) a
 * node of the same device made in the box, so that the test can see
 * whether it was replaced without risking the real one. */
static const char *full_device(box *b, int *own_node) {
  *own_node = mknod(box_path(b, "out/full"), S_IFCHR | 0666, makedev(1, 7)) == 0;
  if (*own_node) {
    box_resnap(b);
    return "full";
  }
  return "/dev/full";
}

Test(outputs, character_device_is_written_in_place) {
  box b;
  box_open(&b);
  int own = 0;
  const char *full = full_device(&b, &own);
  if (!own && geteuid() == 0)
    cr_log_warn("mknod failed as root (%s): probing /dev/full itself", strerror(errno));
  BOX_EXPECT(&b, 1, "No space left on device", SIM, "-o", full);
  BOX_EXPECT(&b, 1, "No space left on device", ANC, "--nodes", full, "--branches", "b.tsv");
  if (own) {
    struct stat st;
    cr_assert_eq(lstat(box_path(&b, "out/full"), &st), 0);
    cr_expect(S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 7),
              "the device node is still the device (it was replaced by a file before)");
  } else if (geteuid() != 0) {
    cr_log_info("not root: /dev/full cannot be replaced by this user anyway; write errors probed");
  }
  BOX_EXPECT(&b, 0, "", SIM, "-o", "/dev/null");
  const char *left[] = {"full", NULL};
  expect_only(&b, left);
  box_close(&b);
}

Test(outputs, what_cannot_be_written_is_refused) {
  box b;
  box_open(&b);
  BOX_EXPECT(&b, 2, "is a directory", SIM, "-o", ".");
  BOX_EXPECT(&b, 2, "is a directory", ANC, "--nodes", "..", "--branches", "b.tsv");
  BOX_EXPECT(&b, 2, "No such file or directory", SIM, "-o", "nodir/x.Rtab");
  cr_assert_eq(mkdir(box_path(&b, "out/ro"), 0500), 0);
  if (geteuid() != 0) BOX_EXPECT(&b, 2, "Permission denied", SIM, "-o", "ro/x.Rtab");
  cr_assert_eq(symlink("loop2", box_path(&b, "out/loop1")), 0);
  cr_assert_eq(symlink("loop1", box_path(&b, "out/loop2")), 0);
  BOX_EXPECT(&b, 2, "symbolic links", SIM, "-o", "loop1");
  const char *left[] = {"ro", "loop1", "loop2", NULL};
  expect_only(&b, left);
  box_close(&b);
}

Test(outputs, an_input_is_never_an_output) {
  box b;
  box_open(&b);
  cr_assert_eq(symlink("../in/t.nwk", box_path(&b, "out/alias.nwk")), 0);
  cr_assert_eq(link(box_path(&b, "in/m.Rtab"), box_path(&b, "in/hard.Rtab")), 0);
  box_write_npy(&b, "in/d.npy", 200, 2);
  box_resnap(&b);
  BOX_EXPECT(&b, 2, "same file as the input --tree", SIM, "-o", "../in/t.nwk");
  BOX_EXPECT(&b, 2, "same file as the input --tree", SIM, "-o", "alias.nwk");
  BOX_EXPECT(&b, 2, "same file as the input --tree", SIM, "-o", "x.Rtab", "--truth", "alias.nwk");
  BOX_EXPECT(&b, 2, "same file as the input --matrix", ANC, "--nodes", "../in/hard.Rtab");
  BOX_EXPECT(&b, 2, "same file as the input --matrix", "ancestral", "--tree", "../in/t.nwk",
             "--matrix", "../in/hard.Rtab", "--gain", "0.5", "--loss", "1", "--branches",
             "../in/m.Rtab");
  BOX_EXPECT(&b, 2, "both write", SIM, "-o", "same.Rtab", "--truth", "./same.Rtab");
  BOX_EXPECT(&b, 2, "both write", ANC, "--nodes", "t.tsv", "--branches", "t.tsv");
  BOX_EXPECT(&b, 2, "is the same file as the input", "curve-fit", "--data", "../in/d.npy", "--model",
             "a*x+b", "--p0", "a=1,b=0", "--checkpoint", "../in/d.npy");
  const char *left[] = {"alias.nwk", NULL};
  expect_only(&b, left);
  box_close(&b);
}

Test(outputs, a_failed_command_leaves_no_partial_output) {
  box b;
  box_open(&b);
  int own = 0;
  const char *full = full_device(&b, &own);
  /* The second output fails: the first is not left behind. */
  BOX_EXPECT(&b, 2, "nodir", SIM, "-o", "o.Rtab", "--truth", "nodir/truth.txt");
  BOX_EXPECT(&b, 1, "No space left on device", SIM, "-o", "o.Rtab", "--truth", full);
  BOX_EXPECT(&b, 2, "nodir", ANC, "--nodes", "n.tsv", "--branches", "nodir/b.tsv");
  BOX_EXPECT(&b, 1, "No space left on device", ANC, "--nodes", "n.tsv", "--branches", full);
  cr_expect_eq(access(box_path(&b, "out/o.Rtab"), F_OK), -1, "no o.Rtab after a failed simulate");
  cr_expect_eq(access(box_path(&b, "out/n.tsv"), F_OK), -1, "no n.tsv after a failed ancestral");
  /* An existing output stays as it was, with its permissions. */
  box_printf(&b, "out/keep.Rtab", "old\n");
  cr_assert_eq(chmod(box_path(&b, "out/keep.Rtab"), 0640), 0);
  BOX_EXPECT(&b, 1, "No space left on device", SIM, "-o", "keep.Rtab", "--truth", full);
  char *old = read_all(box_path(&b, "out/keep.Rtab"));
  cr_expect_str_eq(old, "old\n", "the old file is untouched after a failure");
  free(old);
  BOX_EXPECT(&b, 0, "", SIM, "-o", "keep.Rtab");
  struct stat st;
  cr_assert_eq(stat(box_path(&b, "out/keep.Rtab"), &st), 0);
  cr_expect_eq(st.st_mode & 0777, 0640, "a replaced file keeps its mode (now %o)",
               (unsigned)(st.st_mode & 0777));
  const char *left[] = {"full", "keep.Rtab", NULL};
  expect_only(&b, left);
  box_close(&b);
}

/* Every command that prints: a lost stdout is exit 1 with the OS error,
 * never exit 0 (17 of these exited 0 before). */
Test(outputs, stdout_write_errors_are_reported) {
  box b;
  box_open(&b);
  int own = 0;
  const char *full = full_device(&b, &own);
  char full_path[700];
  snprintf(full_path, sizeof full_path, "%s", own ? box_path(&b, "out/full") : full);
  box_write_npy(&b, "in/d.npy", 200, 2);
  const char *const cmds[][16] = {
    {"--version"},
    {"--help"},
    {"devices"},
    {"devices", "--json"},
    {"selftest"},
    {"selftest", "--json"},
    {"cache", "path"},
    {"cache", "info"},
    {"cache", "info", "--json"},
    {"loglik", "--tree", "../in/t.nwk", "--matrix", "../in/m.Rtab", "--gain", "0.5", "--loss", "1"},
    {"loglik", "--tree", "../in/t.nwk", "--matrix", "../in/m.Rtab", "--gain", "0.5", "--loss", "1",
     "--json"},
    {"fit", "--tree", "../in/t.nwk", "--matrix", "../in/m.Rtab"},
    {"fit", "--tree", "../in/t.nwk", "--matrix", "../in/m.Rtab", "--json"},
    {"retention-test", "--tree", "../in/t.nwk", "--matrix", "../in/m.Rtab", "--families-regex",
     "fam00[0-4]"},
    {SIM, "-o", "-"},
    {ANC},
    {ANC, "--json"},
    {"curve-fit", "--data", "../in/d.npy", "--model", "a*x+b", "--p0", "a=1,b=0"},
    {"curve-fit", "--data", "../in/d.npy", "--model", "a*x+b", "--p0", "a=1,b=0", "--json"},
    {"fit", "--help"},
  };
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; ++i) {
    box_opts o = {0};
    o.stdout_to = full_path;
    box_result r;
    box_run(&b, &r, &o, cmds[i]);
    char what[128];
    snprintf(what, sizeof what, "fitcl %s %s > full", cmds[i][0], cmds[i][1] ? cmds[i][1] : "");
    box_expect(&r, 1, "stdout: write failed: No space left on device", what);
    box_result_free(&r);
  }
  box_close(&b);
}

/* A closed pipe: killed by SIGPIPE as any filter (`fitcl ... | head`), or,
 * with SIGPIPE ignored, exit 1 saying so. */
Test(outputs, closed_pipe_follows_the_convention) {
  box b;
  box_open(&b);
  for (int ignore = 0; ignore < 2; ++ignore) {
    int p[2];
    cr_assert_eq(pipe(p), 0);
    close(p[0]); /* nobody will read */
    box_opts o = {0};
    o.stdout_fd = p[1];
    o.ignore_sigpipe = ignore;
    const char *argv[] = {"simulate", "--tree", "../in/t.nwk", "--gain", "0.5", "--loss", "1",
                          "--families", "20000", "--seed", "7", "-o", "-", NULL};
    box_result r;
    box_run(&b, &r, &o, argv);
    close(p[1]);
    if (!ignore) {
      cr_expect_eq(r.signal, SIGPIPE, "killed by SIGPIPE (status %d, signal %d): %s", r.code,
                   r.signal, r.err);
    } else {
      box_expect(&r, 1, "Broken pipe", "simulate -o - into a closed pipe, SIGPIPE ignored");
    }
    box_result_free(&r);
  }
  box_close(&b);
}

Test(outputs, checkpoint_through_a_symlink) {
  box b;
  box_open(&b);
  box_printf(&b, "in/a.csv", "x,y\n1,2.1\n2,3.9\n3,6.2\n4,8.1\n5,9.8\n");
  cr_assert_eq(mkdir(box_path(&b, "out/state"), 0700), 0);
  cr_assert_eq(symlink("state/fit.ckpt", box_path(&b, "out/ck")), 0);
  BOX_EXPECT(&b, 0, "", "curve-fit", "--data", "../in/a.csv", "--model", "a*x", "--p0", "a=1",
             "--checkpoint", "ck");
  cr_expect_eq(type_of(box_path(&b, "out/ck")), S_IFLNK, "the checkpoint link stays a link");
  char *ck = read_all(box_path(&b, "out/state/fit.ckpt"));
  cr_expect(ck && strstr(ck, "fitcl-curvefit-checkpoint"), "the checkpoint went through the link");
  free(ck);
  BOX_EXPECT(&b, 0, "", "curve-fit", "--data", "../in/a.csv", "--model", "a*x", "--p0", "a=1", "--resume", "ck",
             "--checkpoint", "ck");
  box_close(&b);
}

/* curve-fit --batch writes up to six .npy files: checked against every
 * input array before anything is read, committed together after the fits
 * (each was written with plain fopen/fwrite before: an input could be
 * overwritten, and a failure at the fourth file left the first three). */
static void batch_inputs(box *b) {
  box_write_npy(b, "in/y.npy", 20, 50);
  box_write_npy(b, "in/x.npy", 1, 50);
  box_write_npy(b, "in/s.h5", 20, 50); /* never opened: its name is enough */
  box_write_npy(b, "in/p_params.npy", 20, 50);
  box_resnap(b);
}

Test(outputs, batch_outputs_are_never_inputs) {
  box b;
  box_open(&b);
  batch_inputs(&b);
  /* Through a symlink in out/ too, and for an HDF5 spec by its file part
   * (refused before libhdf5 is asked to open anything). */
  cr_assert_eq(symlink("../in/x.npy", box_path(&b, "out/q_chi2.npy")), 0);
  cr_assert_eq(symlink("../in/s.h5", box_path(&b, "out/h_status.npy")), 0);
  BOX_EXPECT(&b, 2, "same file as the input --y", BATCH, "--y", "../in/p_params.npy", "--out",
             "../in/p");
  BOX_EXPECT(&b, 2, "same file as the input --x", BATCH, "--y", "../in/y.npy", "--out", "q");
  BOX_EXPECT(&b, 2, "same file as the input --sigma", BATCH, "--y", "../in/y.npy", "--sigma",
             "../in/s.h5:/sigma", "--out", "h");
  BOX_EXPECT(&b, 2, "same file as the input --p0-file", "curve-fit", "--batch", "--model",
             "a*x+b", "--params", "a,b", "--x", "../in/x.npy", "--y", "../in/y.npy", "--p0-file",
             "../in/p_params.npy", "--out", "../in/p");
  BOX_EXPECT(&b, 0, "", BATCH, "--y", "../in/y.npy", "--out", "ok");
  const char *left[] = {"q_chi2.npy", "h_status.npy", "ok_params.npy", "ok_stderr.npy",
                        "ok_chi2.npy", "ok_status.npy", "ok_iterations.npy", NULL};
  expect_only(&b, left);
  box_close(&b);
}

Test(outputs, batch_outputs_are_committed_together) {
  box b;
  box_open(&b);
  batch_inputs(&b);
  int own = 0;
  const char *full = full_device(&b, &own);
  /* The fifth file is a full device: the first four must not appear. */
  char target[700];
  snprintf(target, sizeof target, "%s", own ? "full" : full);
  cr_assert_eq(symlink(target, box_path(&b, "out/f_iterations.npy")), 0);
  BOX_EXPECT(&b, 1, "No space left on device", BATCH, "--y", "../in/y.npy", "--out", "f");
  BOX_EXPECT(&b, 2, "No such file or directory", BATCH, "--y", "../in/y.npy", "--out",
             "nodir/p");
  /* The fourth cannot be created (a directory without write permission). */
  cr_assert_eq(mkdir(box_path(&b, "out/ro"), 0500), 0);
  cr_assert_eq(symlink("ro/s.npy", box_path(&b, "out/r_status.npy")), 0);
  if (geteuid() != 0)
    BOX_EXPECT(&b, 2, "Permission denied", BATCH, "--y", "../in/y.npy", "--out", "r");
  const char *left[] = {"full", "f_iterations.npy", "ro", "r_status.npy", NULL};
  expect_only(&b, left);
  box_close(&b);
}
