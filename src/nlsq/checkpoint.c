/* Checkpoint files of the Levenberg-Marquardt state and the background
 * thread that writes them.  The solver only copies its state into a slot;
 * the thread does the file work (temp file, fsync, rename), so a slow disk
 * never stalls the passes over the data. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/context.h"
#include "core/ioerr.h"
#include "core/outfile.h"
#include "core/util.h"
#include "nlsq/checkpoint.h"

#define CKPT_MAGIC "fitcl-curvefit-checkpoint 3"
#define CKPT_MAGIC_V2 "fitcl-curvefit-checkpoint 2"
#define CKPT_MAGIC_V1 "fitcl-curvefit-checkpoint 1"
#define CKPT_KEY_LINES 7
#define CKPT_LINE_MAX (1 << 20)

struct fitcl__ckpt_writer {
  fitcl_context *ctx;
  char *path;
  fitcl__ckpt_key key;
  char *model_text;          /* owned copies of what key points to */
  char **names;
  double lower[FITCL_NLSQ_MAX_PARAMS], upper[FITCL_NLSQ_MAX_PARAMS];
  int fixed[FITCL_NLSQ_MAX_PARAMS];
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int pending, busy, quit;
  fitcl__lm_state slot;
  int failed;                /* a write failed; errmsg says how */
  char errmsg[1024];
};

void fitcl__ckpt_hash_begin(fitcl__ckpt_hasher *hs, int ncols) {
  memset(hs, 0, sizeof *hs);
  hs->ncols = ncols;
}

/* splitmix64's finaliser: every input bit reaches every output bit. */
static inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void fitcl__ckpt_hash_column(fitcl__ckpt_hasher *hs, int col, uint64_t row0, const double *v,
                             size_t n) {
  /* The cell's place: (row, col) numbered one-to-one, times an odd constant. */
  const uint64_t stride = (uint64_t)(FITCL_NLSQ_MAX_VARS + 2) * 0x9e3779b97f4a7c15ull;
  uint64_t key = (row0 * (uint64_t)(FITCL_NLSQ_MAX_VARS + 2) + (uint64_t)col + 1) *
                 0x9e3779b97f4a7c15ull;
  uint64_t sum = 0;
  for (size_t i = 0; i < n; ++i, key += stride) {
    uint64_t b;
    memcpy(&b, &v[i], 8);
    sum += mix64(b ^ key);
  }
  hs->sum += sum;
}

uint64_t fitcl__ckpt_hash_end(const fitcl__ckpt_hasher *hs) {
  return mix64(hs->sum ^ (0xcbf29ce484222325ull + (uint64_t)hs->ncols));
}

/* Bounds are part of the key: a checkpoint taken under other bounds would
 * not reproduce the same path. */
static void key_bounds(fitcl__buf *b, const fitcl__ckpt_key *key) {
  fitcl__buf_printf(b, "lower");
  for (int i = 0; i < key->nparams; ++i)
    fitcl__buf_printf(b, " %a", key->lower ? key->lower[i] : -INFINITY);
  fitcl__buf_printf(b, "\nupper");
  for (int i = 0; i < key->nparams; ++i)
    fitcl__buf_printf(b, " %a", key->upper ? key->upper[i] : INFINITY);
  fitcl__buf_printf(b, "\nfixed");
  for (int i = 0; i < key->nparams; ++i)
    fitcl__buf_printf(b, " %d", key->fixed && key->fixed[i] ? 1 : 0);
  fitcl__buf_printf(b, "\n");
}

char *fitcl__ckpt_format(const fitcl__ckpt_key *key, const fitcl__lm_state *st) {
  fitcl__buf b = {0};
  int n = st->nparams;
  fitcl__buf_printf(&b, "%s\n", CKPT_MAGIC);
  /* The model text goes last on its line; newlines cannot occur in it. */
  fitcl__buf_printf(&b, "model %s\n", key->model_text ? key->model_text : "-");
  fitcl__buf_printf(&b, "names");
  for (int i = 0; i < n; ++i) fitcl__buf_printf(&b, " %s", key->names[i]);
  fitcl__buf_printf(&b, "\nloss %d %a\n", key->loss, key->f_scale);
  key_bounds(&b, key);
  fitcl__buf_printf(&b, "p");
  for (int i = 0; i < n; ++i) fitcl__buf_printf(&b, " %a", st->p[i]);
  fitcl__buf_printf(&b, "\nd2");
  for (int i = 0; i < n; ++i) fitcl__buf_printf(&b, " %a", st->d2[i]);
  fitcl__buf_printf(&b, "\nlambda %a\nnu %a\niter %d\nnjev %d\nstatus %d\nqr %d\ncost %a\npoints %llu\n",
                    st->lambda, st->nu, st->iter, st->njev, st->status, st->qr, st->cost,
                    (unsigned long long)st->points);
  if (key->data.known)
    fitcl__buf_printf(&b, "data %llu %016llx\n", (unsigned long long)key->data.points,
                      (unsigned long long)key->data.fingerprint);
  fitcl__buf_printf(&b, "end\n");
  fitcl__buf_append(&b, "", 1);
  if (b.oom) {
    fitcl__buf_free(&b);
    return NULL;
  }
  return b.data;
}

static void *writer_main(void *arg) {
  fitcl__ckpt_writer *w = arg;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->pending && !w->quit) pthread_cond_wait(&w->cv, &w->mu);
    if (!w->pending && w->quit) break;
    fitcl__lm_state st = w->slot;
    fitcl__ckpt_key key = w->key;
    w->pending = 0;
    w->busy = 1;
    pthread_mutex_unlock(&w->mu);
    char *text = fitcl__ckpt_format(&key, &st);
    char msg[1024] = "out of memory formatting the checkpoint";
    /* core/outfile.h: temporary file, fsync, rename; a regular file only,
     * since a checkpoint is only worth its resume. */
    fitcl_status e = text ? fitcl__out_file(w->path, FITCL__OUT_REGULAR_ONLY, text, strlen(text),
                                            msg, sizeof msg)
                          : FITCL_ERR_NOMEM;
    free(text);
    pthread_mutex_lock(&w->mu);
    if (e != FITCL_OK && !w->failed) {
      w->failed = 1;
      fitcl__strlcpy(w->errmsg, msg, sizeof w->errmsg);
    }
    w->busy = 0;
    pthread_cond_broadcast(&w->cv);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

fitcl_status fitcl__ckpt_writer_create(fitcl_context *ctx, const char *path,
                                       const fitcl__ckpt_key *key, fitcl__ckpt_writer **out) {
  fitcl__ckpt_writer *w = calloc(1, sizeof *w);
  *out = NULL;
  if (!w) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory for the checkpoint writer");
  w->ctx = ctx;
  w->path = fitcl__strdup(path);
  w->names = calloc((size_t)key->nparams, sizeof(char *));
  w->model_text = key->model_text ? fitcl__strdup(key->model_text) : NULL;
  if (!w->path || !w->names || (key->model_text && !w->model_text)) goto oom;
  for (int i = 0; i < key->nparams; ++i)
    if (!(w->names[i] = fitcl__strdup(key->names[i]))) goto oom;
  w->key = *key;
  w->key.model_text = w->model_text;
  w->key.names = (const char *const *)w->names;
  if (key->lower) {
    memcpy(w->lower, key->lower, sizeof(double) * (size_t)key->nparams);
    w->key.lower = w->lower;
  }
  if (key->upper) {
    memcpy(w->upper, key->upper, sizeof(double) * (size_t)key->nparams);
    w->key.upper = w->upper;
  }
  if (key->fixed) {
    memcpy(w->fixed, key->fixed, sizeof(int) * (size_t)key->nparams);
    w->key.fixed = w->fixed;
  }
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    goto oom;
  }
  *out = w;
  return FITCL_OK;
oom:
  if (w->names)
    for (int i = 0; i < key->nparams; ++i) free(w->names[i]);
  free(w->names);
  free(w->model_text);
  free(w->path);
  free(w);
  return fitcl__fail(ctx, FITCL_ERR_NOMEM, "cannot start the checkpoint writer");
}

void fitcl__ckpt_set_data(fitcl__ckpt_writer *w, const fitcl__ckpt_data *data) {
  pthread_mutex_lock(&w->mu);
  w->key.data = *data;
  pthread_mutex_unlock(&w->mu);
}

void fitcl__ckpt_post(fitcl__ckpt_writer *w, const fitcl__lm_state *st) {
  pthread_mutex_lock(&w->mu);
  w->slot = *st;
  w->pending = 1;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

fitcl_status fitcl__ckpt_flush(fitcl__ckpt_writer *w, const fitcl__lm_state *st) {
  fitcl__ckpt_post(w, st);
  pthread_mutex_lock(&w->mu);
  while (w->pending || w->busy) pthread_cond_wait(&w->cv, &w->mu);
  int failed = w->failed;
  char msg[1024];
  fitcl__strlcpy(msg, w->errmsg, sizeof msg);
  pthread_mutex_unlock(&w->mu);
  if (failed) return fitcl__fail(w->ctx, FITCL_ERR_IO, "checkpoint %s", msg);
  return FITCL_OK;
}

void fitcl__ckpt_writer_destroy(fitcl__ckpt_writer *w) {
  if (!w) return;
  pthread_mutex_lock(&w->mu);
  w->quit = 1;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  for (int i = 0; i < w->key.nparams; ++i) free(w->names[i]);
  free(w->names);
  free(w->model_text);
  free(w->path);
  free(w);
}

/* ---- reading ------------------------------------------------------------ */

static int parse_doubles(const char *s, double *v, int n) {
  for (int i = 0; i < n; ++i) {
    char *end;
    while (*s == ' ') ++s;
    v[i] = strtod(s, &end);
    if (end == s) return -1;
    s = end;
  }
  while (*s == ' ') ++s;
  return *s ? -1 : 0;
}

fitcl_status fitcl__ckpt_load(fitcl_context *ctx, const char *path, const fitcl__ckpt_key *key,
                              fitcl__lm_state *out, fitcl__ckpt_data *data) {
  fitcl__ckpt_data d = {0};
  FILE *f = NULL;
  char *line = NULL, *expect = NULL;
  size_t cap = 0;
  char why[1024];
  int lineno = 0, n = key->nparams, seen_end = 0, old = 0;
  fitcl_status st = FITCL_OK;
  fitcl__lm_state s;
  memset(&s, 0, sizeof s);
  s.nparams = n;
  if (fitcl__open_input(path, &f, why, sizeof why) != FITCL_OK)
    return fitcl__fail(ctx, FITCL_ERR_FILE, "checkpoint %s", why);
  /* The key lines must match what this fit would write, byte for byte. */
  fitcl__lm_state dummy;
  memset(&dummy, 0, sizeof dummy);
  dummy.nparams = n;
  expect = fitcl__ckpt_format(key, &dummy);
  if (!expect) {
    st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory reading a checkpoint");
    goto fail;
  }
  const char *ep = expect;
  long len;
  int nkey = CKPT_KEY_LINES;
  /* Lines are short (the model text is the longest); a longer one means
   * this is not a checkpoint, and is not read whole. */
  while ((len = fitcl__read_line(f, &line, &cap, CKPT_LINE_MAX)) >= 0) {
    ++lineno;
    if (lineno == 1 && !strcmp(line, CKPT_MAGIC_V2)) {
      /* Version 2: the same key; only its data fingerprint differs. */
      old = 2;
      ep = strchr(ep, '\n') + 1;
      continue;
    }
    if (lineno == 1 && !strcmp(line, CKPT_MAGIC_V1)) {
      old = 1;
      /* Version 1: the same key without the held parameters. */
      int any = 0;
      for (int i = 0; i < n; ++i) any |= key->fixed && key->fixed[i];
      if (any) {
        st = fitcl__fail(ctx, FITCL_ERR_MISMATCH,
                         "checkpoint %s:1: has no held parameters but this fit holds some; "
                         "start without --resume or hold none", path);
        goto fail;
      }
      nkey = CKPT_KEY_LINES - 1;
      ep = strchr(ep, '\n') + 1;
      continue;
    }
    if (lineno <= nkey) {
      /* magic, model, names, loss, lower, upper, fixed */
      const char *nl = strchr(ep, '\n');
      size_t el = (size_t)(nl - ep);
      if ((size_t)len != el || memcmp(line, ep, el) != 0) {
        static const char *what[] = {"is not a fitcl curve-fit checkpoint", "is for another model",
                                     "has other parameter names", "has another loss or f_scale",
                                     "has other lower bounds", "has other upper bounds",
                                     "has other held parameters"};
        if (lineno == 1)
          st = fitcl__fail(ctx, FITCL_ERR_PARSE, "checkpoint %s:1: %s", path, what[0]);
        else
          st = fitcl__fail(ctx, FITCL_ERR_MISMATCH,
                           "checkpoint %s:%d: %s than this fit; start without --resume or "
                           "use the same model, parameters, loss, bounds and held parameters",
                           path, lineno, what[lineno - 1]);
        goto fail;
      }
      ep = nl + 1;
      continue;
    }
    char *sp = strchr(line, ' ');
    const char *val = sp ? sp + 1 : "";
    if (sp) *sp = 0;
    int bad = 0;
    if (!strcmp(line, "p")) bad = parse_doubles(val, s.p, n);
    else if (!strcmp(line, "d2")) bad = parse_doubles(val, s.d2, n);
    else if (!strcmp(line, "lambda")) bad = parse_doubles(val, &s.lambda, 1);
    else if (!strcmp(line, "nu")) bad = parse_doubles(val, &s.nu, 1);
    else if (!strcmp(line, "cost")) bad = parse_doubles(val, &s.cost, 1);
    else if (!strcmp(line, "iter")) bad = sscanf(val, "%d", &s.iter) != 1;
    else if (!strcmp(line, "njev")) bad = sscanf(val, "%d", &s.njev) != 1;
    else if (!strcmp(line, "status")) bad = sscanf(val, "%d", &s.status) != 1;
    else if (!strcmp(line, "qr")) bad = sscanf(val, "%d", &s.qr) != 1 || (s.qr != 0 && s.qr != 1);
    else if (!strcmp(line, "points")) {
      unsigned long long v = 0;
      bad = sscanf(val, "%llu", &v) != 1;
      s.points = v;
    } else if (!strcmp(line, "data") && old) {
      st = fitcl__fail(ctx, FITCL_ERR_MISMATCH,
                       "checkpoint %s:%d: written by an older fitcl (format %d), whose data "
                       "fingerprint this version does not compute, so it cannot check that the "
                       "data are the same; start again without --resume",
                       path, lineno, old);
      goto fail;
    } else if (!strcmp(line, "data")) {
      unsigned long long pts = 0, fp = 0;
      char tail;
      bad = sscanf(val, "%llu %16llx%c", &pts, &fp, &tail) != 2;
      d.known = !bad;
      d.points = pts;
      d.fingerprint = fp;
    } else if (!strcmp(line, "end")) {
      seen_end = 1;
      break;
    } else bad = 1;
    if (bad) {
      st = fitcl__fail(ctx, FITCL_ERR_PARSE, "checkpoint %s:%d: malformed '%s' line", path,
                       lineno, line);
      goto fail;
    }
  }
  if (!seen_end && len < -1) {
    st = len == -3 ? fitcl__fail(ctx, FITCL_ERR_PARSE,
                                 "checkpoint %s:%d: a line longer than 1 MiB; this is not a "
                                 "fitcl curve-fit checkpoint", path, lineno + 1)
                   : fitcl__fail(ctx, FITCL_ERR_IO, "checkpoint %s: read error: %s", path,
                                 strerror(errno));
    goto fail;
  }
  if (!seen_end) {
    st = fitcl__fail(ctx, FITCL_ERR_PARSE, "checkpoint %s:%d: truncated (no 'end' line)", path,
                     lineno + 1);
    goto fail;
  }
  if (!(s.lambda > 0) || !(s.nu >= 2) || s.iter < 0 || s.njev < 0 ||
      s.status < FITCL_CURVEFIT_RUNNING || s.status > FITCL_CURVEFIT_INTERRUPTED) {
    st = fitcl__fail(ctx, FITCL_ERR_DATA, "checkpoint %s: state values out of range", path);
    goto fail;
  }
  /* A fit stopped by its iteration limit (or interrupted) goes on when
   * resumed; the limit of the resumed run decides again. */
  if (s.status == FITCL_CURVEFIT_INTERRUPTED || s.status == FITCL_CURVEFIT_MAX_ITER)
    s.status = FITCL_CURVEFIT_RUNNING;
  *out = s;
  *data = d;
fail:
  free(line);
  free(expect);
  fclose(f);
  return st;
}
