/* Parametric bootstrap of the retention test.
 *
 * Replicate b simulates every family f with the generator of stream
 * (b + 1, f) under the fitted null, keeps the family's group and its missing
 * entries, redraws families absent everywhere when the likelihood is
 * conditioned on observation, and refits both models.  Because each
 * replicate owns its random stream and its output slot, the p-value is the
 * same for a seed whatever the number of threads.
 *
 * On the cpu backend the replicates run in parallel on the context's worker
 * pool, each worker with a private single-threaded cpu context (a
 * likelihood handle belongs to one thread).  On OpenCL they run one after
 * the other, each evaluation spread over the device, unless the data set is
 * so small that a device evaluation is mostly launch latency (50 taxa x 500
 * families is about 50,000 pattern-nodes): those run on the host's pool as
 * on the cpu backend. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/pool.h"
#include "core/util.h"
#include "device/backend.h"
#include "phylo/data.h"
#include "phylo/retention.h"
#include "phylo/simulate.h"

typedef struct boot_worker {
  fitcl_context *ctx;     /* owned only when `own` */
  int own;
  uint8_t *states;        /* [nfamilies * ntaxa] */
  uint8_t *scratch;       /* [nnodes] */
  int failed;             /* set at this worker's first failure */
  size_t fail_b;          /* the replicate that failed */
  char err[256];          /* and why */
} boot_worker;

typedef struct boot_job {
  const fitcl_data *data;
  const fitcl_retention_options *opt;
  const fitcl__sim_table *tab;
  const int *groups;        /* [nfamilies] */
  const uint8_t *missing;   /* [nfamilies * ntaxa] or NULL */
  double start[3];          /* the fitted null: gain, loss, alpha */
  boot_worker *workers;
  size_t first;             /* replicate number of task 0 */
  double *lrt;              /* [replicates] */
  fitcl_status *status;     /* [replicates] */
} boot_job;

static fitcl_status run_replicate(boot_job *J, boot_worker *w, size_t b, char *errmsg,
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
  for (size_t f = 0; f < n; ++f) {
    fitcl__rng r;
    fitcl__rng_init2(&r, J->opt->seed, (uint64_t)b + 1, f);
    if (fitcl__simulate_family(t, J->tab, J->groups[f], condition, &r,
                               J->missing ? J->missing + f * nt : NULL, w->scratch,
                               w->states + f * nt) != 0) {
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
  st = fitcl_lik_create(w->ctx, d, &lo, &lik);
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

static void boot_task(void *arg, size_t task, unsigned worker) {
  boot_job *J = arg;
  boot_worker *w = &J->workers[worker];
  size_t b = J->first + task;
  char err[256] = "";
  J->status[b] = run_replicate(J, w, b, err, sizeof err, &J->lrt[b]);
  /* One message per worker (not per replicate) keeps memory independent
   * of the number of replicates; the batch stops at any failure. */
  if (J->status[b] != FITCL_OK && !w->failed) {
    w->failed = 1;
    w->fail_b = b;
    snprintf(w->err, sizeof w->err, "%s", err);
  }
}

size_t fitcl__boot_host_max_work = (size_t)1 << 20;

fitcl_status fitcl__retention_bootstrap(fitcl_context *ctx, const fitcl_data *data,
                                        const fitcl_retention_options *opt,
                                        const fitcl_fit_result *null_fit,
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
  boot_worker *workers = NULL;
  unsigned nw = 1;

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

  const size_t work = data->pat.npatterns * (size_t)data->tree.nnodes * (size_t)K;
  /* Replicates run on the host's pool, one single-threaded context per
   * worker, when the backend is that pool anyway or when they are too small
   * to keep a device busy; otherwise one after another on the device. */
  int parallel = ctx->backend->caps.host || work <= fitcl__boot_host_max_work;
  fitcl__pool *pool = fitcl__ctx_pool(ctx);
  if (parallel) nw = fitcl__pool_size(pool);
  if (nw < 1) nw = 1;
  workers = calloc(nw, sizeof *workers);
  if (!workers) goto oom;
  for (unsigned w = 0; w < nw; ++w) {
    workers[w].states = malloc(n * nt);
    workers[w].scratch = malloc((size_t)data->tree.nnodes);
    if (!workers[w].states || !workers[w].scratch) goto oom;
    if (!parallel) {
      workers[w].ctx = ctx;
      continue;
    }
    fitcl_context_options o = {0};
    o.device = "cpu";
    o.threads = 1;
    o.cache = FITCL_CACHE_OFF;
    o.log_level = FITCL_LOG_OFF;
    o.ignore_env = 1;
    st = fitcl_context_create(&o, &workers[w].ctx);
    workers[w].own = 1;
    if (st != FITCL_OK) {
      st = fitcl__fail(ctx, st, "bootstrap worker context: %s", fitcl_errmsg(workers[w].ctx));
      goto fail;
    }
  }

  J.data = data;
  J.opt = opt;
  J.tab = &tab;
  J.groups = groups;
  J.missing = missing;
  J.start[0] = null_fit->gain;
  J.start[1] = null_fit->loss;
  J.start[2] = K > 1 ? null_fit->alpha : 1.0;
  J.workers = workers;
  /* Batches of a few replicates per worker keep the progress report
   * moving without costing balance. */
  size_t batch = (size_t)nw * 4;
  for (size_t first = 0; first < N; first += batch) {
    size_t m = N - first < batch ? N - first : batch;
    J.first = first;
    if (parallel) {
      fitcl__pool_run(pool, m, boot_task, &J);
    } else {
      for (size_t i = 0; i < m; ++i) boot_task(&J, i, 0);
    }
    /* Report the failure of the lowest-numbered replicate. */
    boot_worker *bad = NULL;
    for (unsigned w = 0; w < nw; ++w)
      if (workers[w].failed && (!bad || workers[w].fail_b < bad->fail_b)) bad = &workers[w];
    if (bad) {
      st = fitcl__fail(ctx, J.status[bad->fail_b], "%s", bad->err);
      goto fail;
    }
    if (opt->progress) opt->progress(opt->progress_user, (int)(first + m), (int)N);
  }
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
  if (workers) {
    for (unsigned w = 0; w < nw; ++w) {
      if (workers[w].own) fitcl_context_destroy(workers[w].ctx);
      FITCL_FREE(workers[w].states);
      FITCL_FREE(workers[w].scratch);
    }
  }
  FITCL_FREE(workers);
  fitcl__sim_table_free(&tab);
  FITCL_FREE(groups);
  FITCL_FREE(missing);
  FITCL_FREE(J.lrt);
  FITCL_FREE(J.status);
  return st;
}
