/* The robustness harness: the fitcl command run as a hostile user and a busy
 * farm would run it, each probe in a sandbox of its own.
 *
 * A box is a temporary directory with
 *   in/       the probe's inputs: never to be modified
 *   out/      the working directory, where outputs go
 *   outside/  a sentinel standing for "the rest of the file system": probes
 *             point symlinks and caches into it; nothing may change there
 *   home/     HOME, XDG_CACHE_HOME, TMPDIR, the fitcl and PoCL caches
 * Every run of fitcl checks, after the process ends, that in/ and outside/
 * are exactly as before (names, types, sizes, times, inodes, link targets,
 * contents) and that /dev/null and /dev/full are still the devices they
 * were; a probe then asserts the exit status and the message. */
#ifndef FITCL_TEST_ROBUSTNESS_BOX_H
#define FITCL_TEST_ROBUSTNESS_BOX_H

#include <stddef.h>
#include <sys/types.h>

typedef struct box_snapshot {
  char *text; /* one line per file, sorted */
} box_snapshot;

typedef struct box {
  char root[512];
  char in[600], out[600], outside[600], home[600];
  box_snapshot in_snap, outside_snap;
  dev_t null_rdev, full_rdev;
  char device[128]; /* FITCL_DEVICE for every run ("cpu" by default) */
} box;

typedef struct box_result {
  int code;     /* exit status, or -1 when killed by a signal */
  int signal;   /* the signal, or 0 */
  char *out;    /* stdout (unless redirected), stderr */
  char *err;
  double seconds;
} box_result;

typedef struct box_opts {
  const char *const *env;  /* extra "K=V" (or "K" to unset), NULL-terminated */
  const char *stdout_to;   /* a path to open for stdout instead of capturing it */
  int stdout_fd;           /* or a descriptor (> 0) */
  int ignore_sigpipe;      /* the child starts with SIGPIPE ignored */
  double timeout;          /* seconds before SIGKILL (default 120, 600 sanitized): a hang fails */
  int signal_after_ms;     /* send `signal` this long after the start (0: never) */
  const char *signal_when; /* or once stderr holds this text */
  int signal;
  int no_check;            /* concurrency probes check once, at the end */
} box_opts;

/* Creates a box (fixtures: in/t.nwk and in/m.Rtab, the bundled 50-genome
 * example) and takes the first snapshots. */
void box_open(box *b);
/* Checks once more that nothing outside changed, then removes the box. */
void box_close(box *b);

/* "<box>/<rel>", in one of 8 rotating static buffers. */
const char *box_path(const box *b, const char *rel);
/* Writes a fixture (rel is relative to the box: "in/x.csv"), then retakes
 * the snapshots so it counts as the starting state. */
void box_write(box *b, const char *rel, const void *data, size_t len);
void box_printf(box *b, const char *rel, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* After a probe set up something on purpose (a symlink, a FIFO, a cache
 * planted in outside/): the current state becomes the reference. */
void box_resnap(box *b);

/* Runs fitcl with argv (NULL-terminated, without the program name) in out/
 * and checks the box afterwards.  Returns the exit status (-1 after a
 * signal); r (may be NULL) receives everything, freed by box_result_free. */
int box_run(box *b, box_result *r, const box_opts *o, const char *const *argv);
void box_result_free(box_result *r);

/* The same in two halves, for processes that must run at the same time. */
typedef struct box_proc {
  pid_t pid;
  int fo, fe;
  double t0;
  box_opts opts;
  const char *argv0, *argv1;
} box_proc;
box_proc box_start(box *b, const box_opts *o, const char *const *argv);
int box_wait(box *b, box_proc *p, box_result *r);
/* Checks in/, outside/ and the devices now; `what` names the probe. */
void box_check(box *b, const char *what);

/* The common probe: status and a substring of stderr (NULL: any; "" : empty). */
#define BOX_EXPECT(b, code_, err_substr, ...)                                               \
  do {                                                                                       \
    const char *const argv_[] = {__VA_ARGS__, NULL};                                         \
    box_result r_;                                                                           \
    box_run((b), &r_, NULL, argv_);                                                          \
    box_expect(&r_, (code_), (err_substr), #__VA_ARGS__);                                    \
    box_result_free(&r_);                                                                    \
  } while (0)
void box_expect(const box_result *r, int code, const char *err_substr, const char *what);

/* Fixture writers. */
/* A caterpillar tree of n tips (depth n-1) and a star tree of n tips. */
char *box_caterpillar(int n);
char *box_star(int n, double length);
/* A presence/absence matrix over tips t0..t{n-1}, nfam families, pseudo-random
 * 0/1 from seed (every family present somewhere). */
char *box_matrix(int ntips, int nfam, unsigned seed);
/* A .npy of rows x cols float64 (C order): column 0 is x = i/rows, the
 * others y = 2x + 1 + a small deterministic wobble. */
void box_write_npy(box *b, const char *rel, size_t rows, size_t cols);

/* 1 when the OpenCL backend is there to probe (FITCL_TEST_REQUIRE_OPENCL=1
 * makes its absence a failure, as for the rest of the suite). */
int box_have_opencl(void);

#endif
