/* Parametric bootstrap of the retention test.
 *
 * Replicate b simulates every family f with the generator of stream
 * (b + 1, f) under the fitted null, keeps the family's group and its missing
 * entries, redraws families absent everywhere when the likelihood is
 * conditioned on observation, and refits both models.  Because each
 * replicate owns its random stream and its output slot, the p-value is the
 * same for a seed whatever runs which replicate.
 *
 * Replicates are handed out whole, one at a time from a shared counter, to
 * lanes: a lane fits the replicates it takes one after another with
 * likelihood handles of its own.  On the cpu backend the lanes are the
 * context's worker pool, each worker with a private single-threaded cpu
 * context (a likelihood handle belongs to one thread).  On OpenCL one lane
 * runs on the device, each evaluation spread over it (and over MPI ranks,
 * which then run the replicates in the same order), unless the data set is
 * so small that a device evaluation is mostly launch latency (50 taxa x 500
 * families is about 50,000 pattern-nodes): those run on the host's pool as
 * on the cpu backend.
 *
 * A context over several devices (docs/device-selection.md) hands the
 * replicates to every device: the cpu device's pool lanes and one lane per
 * OpenCL device, each on that device alone, pulling from the same counter.
 * Every device computing in double gives a replicate the same bits, so any
 * split gives the bits of one device.  A lane whose pace would end the run
 * later than the others can finish it leaves the last replicates to them.
 * Over MPI ranks, and where a device of the set computes in mixed or single
 * precision (as for the likelihood's split), the bootstrap runs as on the
 * first device. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/context.h"
#include "core/pool.h"
#include "core/ranks.h"
#include "core/util.h"
#include "device/backend.h"
#include "kernels/lik_multi.h"
#include "phylo/data.h"
#include "phylo/retention.h"
#include "phylo/simulate.h"

typedef struct boot_lane {
  fitcl_context *ctx;     /* owned only when `own` */
  int own;
  int dev;                /* the device of the set it runs on (0: the context's own) */
  int alone;              /* handles on ctx's own device alone (not split over the set) */
  uint8_t *states;        /* [nfamilies * ntaxa] */
  uint8_t *scratch;       /* [nnodes] */
  int failed;             /* set at this lane's first failure */
  size_t fail_b;          /* the replicate that failed */
  char err[256];          /* and why */
  /* Under the job's lock: replicates finished, seconds spent in them,
   * when the current one began (0: none), whether it still takes some. */
  uint64_t done;
  double busy, began;
  int active;
  /* Blocks per second this lane is expected to fit at, from the devices'
   * speeds in the observed fits (0: not known): its pace before it has
   * fitted a replicate of its own. */
  double hint;
} boot_lane;

typedef struct boot_job {
  const fitcl_data *data;
  const fitcl_retention_options *opt;
  const fitcl__sim_table *tab;
  const int *groups;        /* [nfamilies] */
  const uint8_t *missing;   /* [nfamilies * ntaxa] or NULL */
  double start[3];          /* the fitted null: gain, loss, alpha */
  size_t N;                 /* replicates */
  double *lrt;              /* [N] */
  fitcl_status *status;     /* [N] */
  boot_lane *lanes;
  unsigned nl;              /* lanes */
  unsigned pool_first, npool; /* lanes [pool_first, +npool) run on `pool` */
  fitcl__pool *pool;
  int guard;                /* lanes may leave the last replicates to faster ones */
  double max_hint;          /* the fastest lane's hint */
  int inline_progress;      /* the one lane runs on the caller's thread: it reports */
  double *free_at, *per;    /* [nl] scratch of leave_rest */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  size_t next;              /* the first replicate not handed out (under mu) */
  size_t finished;          /* replicates done (under mu) */
  unsigned running;         /* lanes not yet returned (under mu) */
  atomic_int stop;          /* a replicate failed: hand out no more */
  atomic_int fast_taken;    /* a lane the test hook does not slow took one */
} boot_job;

unsigned fitcl__boot_slow_us[16];
uint64_t fitcl__boot_fail_mask;
double *fitcl__boot_lrt_out;

static fitcl_status run_replicate(boot_job *J, boot_lane *w, size_t b, char *errmsg,
                                  size_t errlen, double *lrt) {
  const fitcl_data *data = J->data;
  const fitcl__tree *t = &data->tree;
  size_t n = data->pat.nfamilies;
  size_t nt = (size_t)t->ntips;
  fitcl__patterns pat = {0};
  fitcl__tree tr = {0};
  fitcl_data *d = NULL;
  fitcl_lik *lik = NULL;
  fitcl_status st = FITCL_OK;
  int condition = !J->opt->fit.no_condition;
  const int fail_here = b < 64 && (fitcl__boot_fail_mask >> b & 1);
  for (size_t f = 0; f < n; ++f) {
    fitcl__rng r;
    fitcl__rng_init2(&r, J->opt->seed, (uint64_t)b + 1, f);
    if (fail_here || fitcl__simulate_family(t, J->tab, J->groups[f], condition, &r,
                                            J->missing ? J->missing + f * nt : NULL,
                                            w->scratch, w->states + f * nt) != 0) {
      snprintf(errmsg, errlen,
               "bootstrap replicate %zu: a million draws of family %zu were all absent under "
               "the fitted null", b + 1, f + 1);
      return FITCL_ERR_DATA;
    }
  }
  st = fitcl__patterns_from_states(&pat, n, (int)nt, w->states, J->groups, NULL, errmsg, errlen);
  if (st != FITCL_OK) goto fail;
  if (fitcl__tree_copy(&tr, t) != 0) { st = FITCL_ERR_NOMEM; snprintf(errmsg, errlen, "out of memory"); goto fail; }
  st = fitcl__data_wrap(&tr, &pat, &d);
  if (st != FITCL_OK) { snprintf(errmsg, errlen, "out of memory"); goto fail; }
  fitcl_lik_options lo = {0};
  lo.gamma_cats = J->opt->fit.gamma_cats;
  lo.no_condition = J->opt->fit.no_condition;
  st = w->alone ? fitcl__lik_create_alone(w->ctx, d, &lo, &lik)
                : fitcl_lik_create(w->ctx, d, &lo, &lik);
  if (st != FITCL_OK) { snprintf(errmsg, errlen, "%s", fitcl_errmsg(w->ctx)); goto fail; }
  fitcl_fit_options fo = J->opt->fit;
  fo.no_stderr = 1;
  fitcl_fit_result nf, af;
  st = fitcl__retention_fit_pair(w->ctx, lik, &fo, J->start, &nf, &af, lrt);
  if (st != FITCL_OK) { snprintf(errmsg, errlen, "%s", fitcl_errmsg(w->ctx)); goto fail; }
fail:
  fitcl_lik_destroy(lik);
  fitcl_data_destroy(d);
  fitcl__patterns_free(&pat);
  fitcl__tree_free(&tr);
  return st;
}

/* Seconds per replicate on lane w: measured, or before it has fitted one,
 * what the measured lanes take scaled by the speeds in the observed fits
 * (0: not known).  Under J->mu. */
static double lane_pace(const boot_job *J, const boot_lane *w) {
  if (w->done) return w->busy / (double)w->done;
  if (!(w->hint > 0.0)) return 0.0;
  double blocks = 0.0;
  unsigned m = 0;
  for (unsigned i = 0; i < J->nl; ++i) {
    const boot_lane *o = &J->lanes[i];
    if (o->done == 0 || !(o->hint > 0.0)) continue;
    blocks += o->busy / (double)o->done * o->hint;
    ++m;
  }
  return m ? blocks / m / w->hint : 0.0;
}

/* Whether lane w should leave the replicates from `at` on to the other
 * lanes: when they, each free at the expected end of its current replicate
 * and then at its own pace, would finish every one left before w would
 * finish one.  Under J->mu. */
static int leave_rest(boot_job *J, const boot_lane *w, size_t at) {
  if (!J->guard) return 0;
  const double pace = lane_pace(J, w);
  if (!(pace > 0.0)) return 0;
  const double t = fitcl__now(), mine = t + pace;
  double rate = 0.0;
  unsigned m = 0;
  for (unsigned i = 0; i < J->nl; ++i) {
    const boot_lane *o = &J->lanes[i];
    if (o == w || !o->active || o->done == 0) continue;
    J->per[m] = o->busy / (double)o->done;
    if (!(J->per[m] > 0.0)) return 0;
    const double end = o->began > 0.0 ? o->began + J->per[m] : t;
    J->free_at[m] = end > t ? end : t;
    rate += 1.0 / J->per[m];
    ++m;
  }
  /* The others cannot do more than their pace allows before `mine`. */
  if (m == 0 || (double)(J->N - at) > (mine - t) * rate + m) return 0;
  for (size_t r = at; r < J->N; ++r) {
    unsigned k = 0;
    for (unsigned i = 1; i < m; ++i)
      if (J->free_at[i] + J->per[i] < J->free_at[k] + J->per[k]) k = i;
    if (J->free_at[k] + J->per[k] >= mine) return 0;
    J->free_at[k] += J->per[k];
  }
  return 1;
}

/* The test hook: a slowed lane waits before each replicate, and until a
 * lane without a delay has taken one (at most 10 s), so that both take
 * some for certain, not by a race. */
static void slow_wait(boot_job *J, unsigned us) {
  struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000L};
  nanosleep(&ts, NULL);
  const struct timespec ms = {0, 1000000L};
  for (int k = 0; k < 10000 && !atomic_load(&J->fast_taken) && !atomic_load(&J->stop); ++k) {
    pthread_mutex_lock(&J->mu);
    const int left = J->next < J->N;
    pthread_mutex_unlock(&J->mu);
    if (!left) break;
    nanosleep(&ms, NULL);
  }
}

/* A lane: takes replicates until none is left, one failed, or it leaves
 * the rest to faster lanes. */
static void lane_run(boot_job *J, boot_lane *w) {
  const unsigned slow = fitcl__boot_slow_us[w->dev];
  for (;;) {
    if (slow) slow_wait(J, slow);
    pthread_mutex_lock(&J->mu);
    /* A lane known to be much slower than the fastest waits for a first
     * replicate's time before its first: it may be better left out. */
    while (J->guard && w->done == 0 && w->hint > 0.0 && w->hint < 0.5 * J->max_hint &&
           J->finished == 0 && J->running > 1 && !atomic_load(&J->stop) && J->next < J->N)
      pthread_cond_wait(&J->cv, &J->mu);
    if (atomic_load(&J->stop) || J->next >= J->N || leave_rest(J, w, J->next)) {
      pthread_mutex_unlock(&J->mu);
      break;
    }
    const size_t b = J->next++;
    w->began = fitcl__now();
    pthread_mutex_unlock(&J->mu);
    if (!slow) atomic_store(&J->fast_taken, 1);
    char err[256] = "";
    const fitcl_status st = run_replicate(J, w, b, err, sizeof err, &J->lrt[b]);
    pthread_mutex_lock(&J->mu);
    J->status[b] = st;
    w->busy += fitcl__now() - w->began;
    w->began = 0.0;
    w->done++;
    const size_t fin = ++J->finished;
    /* One message per lane (not per replicate) keeps memory independent
     * of the number of replicates.  A lane takes replicates in increasing
     * order, and every replicate below a failed one was handed out before
     * it and still runs to its end: the lowest failure is found whatever
     * the split, as on one device. */
    if (st != FITCL_OK) {
      if (!w->failed) {
        w->failed = 1;
        w->fail_b = b;
        snprintf(w->err, sizeof w->err, "%s", err);
      }
      atomic_store(&J->stop, 1);
    }
    pthread_cond_broadcast(&J->cv);
    pthread_mutex_unlock(&J->mu);
    if (J->inline_progress && st == FITCL_OK && J->opt->progress)
      J->opt->progress(J->opt->progress_user, (int)fin, (int)J->N);
  }
  pthread_mutex_lock(&J->mu);
  w->active = 0;
  J->running--;
  pthread_cond_broadcast(&J->cv);
  pthread_mutex_unlock(&J->mu);
}

static void pool_lane(void *arg, size_t task, unsigned worker) {
  (void)worker;
  boot_job *J = arg;
  lane_run(J, &J->lanes[J->pool_first + task]);
}

static void *pool_main(void *arg) {
  boot_job *J = arg;
  fitcl__pool_run(J->pool, J->npool, pool_lane, J);
  return NULL;
}

typedef struct lane_arg {
  boot_job *J;
  boot_lane *w;
} lane_arg;

static void *lane_main(void *arg) {
  lane_arg *a = arg;
  lane_run(a->J, a->w);
  return NULL;
}

/* One pass of every lane over what is left.  The caller's thread reports
 * the progress (the callback may want the caller's thread), except where
 * the one lane runs on it: the lane then reports. */
static void run_lanes(boot_job *J) {
  pthread_mutex_lock(&J->mu);
  J->running = J->nl;
  for (unsigned i = 0; i < J->nl; ++i) J->lanes[i].active = 1;
  pthread_mutex_unlock(&J->mu);
  if (J->inline_progress) {
    lane_run(J, &J->lanes[0]);
    return;
  }
  pthread_t tid[FITCL__MAX_DEVICES + 1];
  lane_arg arg[FITCL__MAX_DEVICES + 1];
  int started[FITCL__MAX_DEVICES + 1] = {0};
  unsigned nt = 0;
  for (unsigned i = 0; i < J->nl; ++i) {
    if (i >= J->pool_first && i < J->pool_first + J->npool) continue;
    arg[nt] = (lane_arg){J, &J->lanes[i]};
    started[nt] = pthread_create(&tid[nt], NULL, lane_main, &arg[nt]) == 0;
    if (!started[nt]) {
      /* A lane that cannot start stays idle: the others take its share. */
      pthread_mutex_lock(&J->mu);
      J->lanes[i].active = 0;
      J->running--;
      pthread_mutex_unlock(&J->mu);
    }
    ++nt;
  }
  pthread_t ptid;
  int pool_started = 0;
  if (J->npool) {
    pool_started = pthread_create(&ptid, NULL, pool_main, J) == 0;
    if (!pool_started) pool_main(J);
  }
  size_t shown = 0;
  pthread_mutex_lock(&J->mu);
  for (;;) {
    if (J->finished != shown && J->opt->progress && !atomic_load(&J->stop)) {
      shown = J->finished;
      pthread_mutex_unlock(&J->mu);
      J->opt->progress(J->opt->progress_user, (int)shown, (int)J->N);
      pthread_mutex_lock(&J->mu);
      continue;
    }
    if (J->running == 0) break;
    pthread_cond_wait(&J->cv, &J->mu);
  }
  pthread_mutex_unlock(&J->mu);
  for (unsigned i = 0; i < nt; ++i)
    if (started[i]) pthread_join(tid[i], NULL);
  if (pool_started) pthread_join(ptid, NULL);
}

size_t fitcl__boot_host_max_work = (size_t)1 << 20;

/* Whether the replicates go to every device of ctx's set as units: a set
 * of one process whose devices all compute in double.  Warns where a
 * device keeps the set from it. */
static int hand_out_units(fitcl_context *ctx) {
  if (ctx->nsub == 0 || (ctx->ranks && ctx->ranks->size > 1)) return 0;
  for (int k = -1; k < ctx->nsub; ++k) {
    const fitcl_context *c = k < 0 ? ctx : ctx->sub[k];
    if (fitcl__lik_multi_can_split(c)) continue;
    fitcl__log(ctx, FITCL_LOG_WARN,
               "bootstrap: device %s computes in %s precision; the replicates run on %s alone",
               c->selector, fitcl__precision_name(c->backend->caps.precision), ctx->selector);
    return 0;
  }
  return 1;
}

/* A private single-threaded cpu context for a pool lane. */
static fitcl_status host_lane(fitcl_context *ctx, boot_lane *w) {
  fitcl_context_options o = {0};
  o.device = "cpu";
  o.threads = 1;
  o.cache = FITCL_CACHE_OFF;
  o.log_level = FITCL_LOG_OFF;
  o.ignore_env = 1;
  fitcl_status st = fitcl_context_create(&o, &w->ctx);
  w->own = 1;
  if (st != FITCL_OK)
    st = fitcl__fail(ctx, st, "bootstrap worker context: %s", fitcl_errmsg(w->ctx));
  return st;
}

fitcl_status fitcl__retention_bootstrap(fitcl_context *ctx, const fitcl_data *data,
                                        const fitcl_retention_options *opt,
                                        const fitcl_fit_result *null_fit, const double *speed,
                                        fitcl_retention_result *out) {
  fitcl_status st = FITCL_OK;
  size_t n = data->pat.nfamilies, nt = (size_t)data->tree.ntips;
  size_t N = (size_t)opt->bootstrap;
  int K = opt->fit.gamma_cats > 1 ? opt->fit.gamma_cats : 1;
  double rates[64] = {1.0};
  boot_job J = {0};
  fitcl__sim_table tab = {0};
  int *groups = NULL;
  uint8_t *missing = NULL;
  boot_lane *lanes = NULL;
  unsigned nl = 0;
  uint64_t sub_blocks[FITCL__MAX_DEVICES] = {0};
  int sync = 0;

  J.lrt = calloc(N, sizeof *J.lrt);
  J.status = calloc(N, sizeof *J.status);
  groups = malloc(sizeof(int) * n);
  if (!J.lrt || !J.status || !groups) goto oom;
  int any_missing = 0;
  for (size_t f = 0; f < n; ++f) {
    groups[f] = data->pat.family_group[f];
    const size_t q = data->pat.family_pattern[f];
    for (size_t i = 0; i < nt; ++i) any_missing |= fitcl__pat_get(&data->pat, q, i) == FITCL__MISSING;
  }
  if (any_missing) {
    missing = malloc(n * nt);
    if (!missing) goto oom;
    for (size_t f = 0; f < n; ++f) {
      const size_t q = data->pat.family_pattern[f];
      for (size_t i = 0; i < nt; ++i)
        missing[f * nt + i] = fitcl__pat_get(&data->pat, q, i) == FITCL__MISSING;
    }
  }
  if (K > 1) {
    st = fitcl_gamma_rates(null_fit->alpha, K, rates);
    if (st != FITCL_OK) {
      st = fitcl__fail(ctx, st, "gamma rates for alpha %g failed", null_fit->alpha);
      goto fail;
    }
  }
  double mult[2] = {1.0, 1.0};
  st = fitcl__sim_table_build(&tab, &data->tree, null_fit->gain, null_fit->loss, 2, mult, K, rates);
  if (st != FITCL_OK) goto oom;

  /* The lanes: with units, the cpu device's pool and one per other device;
   * else the host's pool, one single-threaded context per worker, when the
   * backend is that pool anyway or when the replicates are too small to
   * keep a device busy, or else one lane on the context's device. */
  const size_t work = data->pat.npatterns * (size_t)data->tree.nnodes * (size_t)K;
  const int units = hand_out_units(ctx);
  const int ndev = units ? 1 + ctx->nsub : 1;
  int host_dev = -1;
  for (int i = 0; i < ndev; ++i)
    if ((i ? ctx->sub[i - 1] : ctx)->backend->caps.host) host_dev = i;
  if (!units && (ctx->backend->caps.host || work <= fitcl__boot_host_max_work)) host_dev = 0;
  fitcl_context *host_ctx = host_dev > 0 ? ctx->sub[host_dev - 1] : ctx;
  unsigned npool = 0;
  if (host_dev >= 0) {
    J.pool = fitcl__ctx_pool(host_ctx);
    npool = fitcl__pool_size(J.pool);
    if (npool < 1) npool = 1;
  }
  nl = npool + (unsigned)(ndev - (host_dev >= 0));
  lanes = calloc(nl, sizeof *lanes);
  J.free_at = malloc(nl * sizeof *J.free_at);
  J.per = malloc(nl * sizeof *J.per);
  if (!lanes || !J.free_at || !J.per) goto oom;
  for (unsigned l = 0; l < nl; ++l) {
    lanes[l].states = malloc(n * nt);
    lanes[l].scratch = malloc((size_t)data->tree.nnodes);
    if (!lanes[l].states || !lanes[l].scratch) goto oom;
  }
  unsigned l = 0;
  for (int i = 0; i < ndev; ++i) {
    if (i == host_dev) {
      J.pool_first = l;
      for (unsigned k = 0; k < npool; ++k, ++l) {
        lanes[l].dev = i;
        lanes[l].hint = units && speed ? speed[i] / npool : 0.0;
        st = host_lane(ctx, &lanes[l]);
        if (st != FITCL_OK) goto fail;
      }
      continue;
    }
    lanes[l].dev = i;
    lanes[l].ctx = i ? ctx->sub[i - 1] : ctx;
    lanes[l].alone = units;
    lanes[l].hint = units && speed ? speed[i] : 0.0;
    if (i) sub_blocks[i] = ctx->sub[i - 1]->blocks[0];
    ++l;
  }
  J.npool = npool;

  J.data = data;
  J.opt = opt;
  J.tab = &tab;
  J.groups = groups;
  J.missing = missing;
  J.start[0] = null_fit->gain;
  J.start[1] = null_fit->loss;
  J.start[2] = K > 1 ? null_fit->alpha : 1.0;
  J.N = N;
  J.lanes = lanes;
  J.nl = nl;
  for (unsigned k = 0; k < nl; ++k)
    if (lanes[k].hint > J.max_hint) J.max_hint = lanes[k].hint;
  /* The test hook sets the pace itself. */
  int hooked = 0;
  for (int i = 0; i < FITCL__MAX_DEVICES; ++i) hooked |= fitcl__boot_slow_us[i] != 0;
  /* One lane on the device runs on the caller's thread: over MPI ranks
   * its handles' evaluations are collective calls. */
  J.inline_progress = nl == 1 && npool == 0;
  if (pthread_mutex_init(&J.mu, NULL) != 0) goto oom;
  if (pthread_cond_init(&J.cv, NULL) != 0) {
    pthread_mutex_destroy(&J.mu);
    goto oom;
  }
  sync = 1;
  /* A pass where lanes leave the last replicates to faster ones, then
   * (rarely) one where every lane takes what they left. */
  for (int pass = 0; pass < 2 && J.next < N && !atomic_load(&J.stop); ++pass) {
    J.guard = units && pass == 0 && !hooked;
    run_lanes(&J);
  }
  for (unsigned k = 0; k < nl; ++k) ctx->replicates[lanes[k].dev] += lanes[k].done;
  /* Report the failure of the lowest-numbered replicate. */
  boot_lane *bad = NULL;
  for (unsigned k = 0; k < nl; ++k)
    if (lanes[k].failed && (!bad || lanes[k].fail_b < bad->fail_b)) bad = &lanes[k];
  if (bad) {
    st = fitcl__fail(ctx, J.status[bad->fail_b], "%s", bad->err);
    goto fail;
  }
  if (J.finished != N) {
    st = fitcl__fail(ctx, FITCL_ERR_INTERNAL, "bootstrap: %zu of %zu replicates ran", J.finished,
                     N);
    goto fail;
  }
  if (fitcl__boot_lrt_out) memcpy(fitcl__boot_lrt_out, J.lrt, N * sizeof *J.lrt);
  size_t ge = 0;
  /* A relative tolerance keeps replicates that tie with the observed
   * statistic up to rounding on the conservative side. */
  for (size_t b = 0; b < N; ++b) ge += J.lrt[b] >= out->lrt * (1 - 1e-9) - 1e-12;
  out->bootstrap_replicates = (int)N;
  out->bootstrap_p_value = (1.0 + (double)ge) / (1.0 + (double)N);
  goto fail;
oom:
  st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "out of memory in the bootstrap");
fail:
  if (sync) {
    pthread_cond_destroy(&J.cv);
    pthread_mutex_destroy(&J.mu);
  }
  if (lanes) {
    for (unsigned k = 0; k < nl; ++k) {
      /* The devices' blocks, where their handles counted them on a
       * context of their own. */
      const int d = lanes[k].dev;
      if (lanes[k].own && lanes[k].ctx) ctx->blocks[d] += lanes[k].ctx->blocks[0];
      else if (d > 0) ctx->blocks[d] += ctx->sub[d - 1]->blocks[0] - sub_blocks[d];
      if (lanes[k].own) fitcl_context_destroy(lanes[k].ctx);
      FITCL_FREE(lanes[k].states);
      FITCL_FREE(lanes[k].scratch);
    }
  }
  FITCL_FREE(lanes);
  FITCL_FREE(J.free_at);
  FITCL_FREE(J.per);
  fitcl__sim_table_free(&tab);
  FITCL_FREE(groups);
  FITCL_FREE(missing);
  FITCL_FREE(J.lrt);
  FITCL_FREE(J.status);
  return st;
}
