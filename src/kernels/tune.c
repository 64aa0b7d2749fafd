/* The tuning run: each candidate layout of the accumulation kernels (one
 * 1M-point pass of a four-parameter expression model) and of the
 * likelihood partials (one evaluation with gradient on a 64-tip tree and
 * 2^16 patterns) is timed on the context's device; the fastest of each
 * (the built-in one unless another is clearly faster) is kept for the
 * context and stored in the cache as a small text record keyed by the
 * device's identity.  The likelihood's tiles change only the layout of
 * the partials, never a result; the accumulation variants sum each block
 * in their own order (last bits). */
#include "kernels/tune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "core/context.h"
#include "core/util.h"
#include "device/backend.h"
#include "kernels/accum.h"
#include "kernels/lik.h"

#define RECORD_FORMAT 1
enum { ACCUM_POINTS = 1 << 20, LIK_TIPS = 64, LIK_PATTERNS = 1 << 16 };

static const int lik_tiles[] = {1, 2, 4, 8, 16, 32};

/* Timings on a busy machine wander by several per cent: a layout replaces
 * the built-in one only when it is clearly faster. */
#define CLEARLY_FASTER 0.9

/* The candidate to keep: the fastest, unless the built-in one (index
 * `builtin`) is within CLEARLY_FASTER of it. */
static int choose(const double *ms, int n, int builtin) {
  int best = 0;
  for (int k = 1; k < n; ++k)
    if (ms[k] < ms[best]) best = k;
  return builtin >= 0 && ms[best] >= CLEARLY_FASTER * ms[builtin] ? builtin : best;
}

void fitcl__tuning_key(const fitcl_context *ctx, char *key, size_t size) {
  snprintf(key, size, "fitcl-tuning %d\n%s", RECORD_FORMAT, ctx->backend->identity);
}

static int known_tile(int t) {
  for (size_t i = 0; i < sizeof lik_tiles / sizeof *lik_tiles; ++i)
    if (lik_tiles[i] == t) return 1;
  return 0;
}

/* The measured fp64 ratio replaces the rule's guess (device/opencl/
 * ocl_precision.c) where nobody asked for a precision: double where
 * double is at least a quarter as fast as mixed. */
static void apply_ratio(fitcl_context *ctx, double ratio) {
  fitcl__caps *caps = &ctx->backend->caps;
  if (!(ratio > 0) || !caps->fp64 || caps->host || ctx->env.precision != FITCL_PRECISION_DEFAULT)
    return;
  caps->precision = ratio >= 0.25 ? FITCL_PRECISION_DOUBLE : FITCL_PRECISION_MIXED;
  fitcl__log(ctx, FITCL_LOG_INFO, "measured fp64 ratio %.3f on %s: computing in %s", ratio,
             ctx->device_name, fitcl__precision_name(caps->precision));
}

void fitcl__tuning_load(fitcl_context *ctx) {
  if (!ctx->cache || !ctx->backend->identity[0]) return;
  char key[1200];
  fitcl__tuning_key(ctx, key, sizeof key);
  void *payload = NULL;
  size_t len = 0;
  if (fitcl__cache_get_meta(ctx->cache, key, &payload, &len) != FITCL__CACHE_HIT) return;
  char text[128] = "";
  if (len < sizeof text) memcpy(text, payload, len);
  free(payload);
  int variant = 0, tile = 0, end = 0;
  double ratio = 0;
  /* The fp64 ratio line is optional: records written before it parse. */
  int ok = len < sizeof text &&
           sscanf(text, "accum_variant %d\nlik_tile %d\n%n", &variant, &tile, &end) == 2;
  if (ok && (size_t)end != len) {
    int end2 = 0;
    ok = sscanf(text + end, "fp64_ratio %lf\n%n", &ratio, &end2) == 1 &&
         (size_t)(end + end2) == len && ratio > 0 && isfinite(ratio);
    end += end2;
  }
  if (!ok || (size_t)end != len || variant < 1 || variant > 3 || !known_tile(tile)) {
    fitcl__log(ctx, FITCL_LOG_WARN,
               "the tuning record for %s in the cache does not parse; using the built-in "
               "layouts (`fitcl tune` writes a new one)",
               ctx->device_name);
    return;
  }
  ctx->backend->tuning = (fitcl__tuning){variant, tile};
  fitcl__log(ctx, FITCL_LOG_INFO, "tuned layouts for %s: accumulation variant %d, likelihood tile %d",
             ctx->device_name, variant, tile);
  apply_ratio(ctx, ratio);
}

/* Best of `reps` timed passes (after one untimed) of a 1M-point pass with
 * the Jacobian, with the accumulation built for `variant`. */
static fitcl_status time_accum(fitcl_context *ctx, const fitcl_model *m, const double *x,
                               const double *y, int variant, double *ms) {
  ctx->backend->tuning.accum_variant = variant;
  fitcl_accum_options o;
  memset(&o, 0, sizeof o);
  o.max_chunk = ACCUM_POINTS;
  fitcl_accum *a = NULL;
  fitcl_status st = fitcl_accum_create(ctx, m, &o, &a);
  const double p[4] = {1.0, 0.5, 0.5, 2.0};
  double best = INFINITY;
  for (int rep = 0; rep < 6 && st == FITCL_OK; ++rep) {
    double t0 = fitcl__now();
    fitcl_accum_sums s;
    st = fitcl_accum_begin(a, p, 1);
    if (st == FITCL_OK) st = fitcl_accum_chunk(a, &x, y, NULL, ACCUM_POINTS);
    if (st == FITCL_OK) st = fitcl_accum_end(a, &s);
    double dt = fitcl__now() - t0;
    if (rep > 0 && dt < best) best = dt;
  }
  fitcl_accum_destroy(a);
  *ms = best * 1e3;
  return st;
}

static fitcl_status tune_accum(fitcl_context *ctx, fitcl_tuning_report *r) {
  const char *pn[] = {"a", "b", "c", "d"}, *vn[] = {"x"};
  fitcl_model *m = NULL;
  fitcl_status st = fitcl_model_compile(ctx, "a*exp(-b*x)+c*exp(-d*x)", pn, 4, vn, 1, &m);
  double *x = malloc(2 * (size_t)ACCUM_POINTS * sizeof *x);
  if (st == FITCL_OK && !x) st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "tuning: out of memory");
  if (st == FITCL_OK) {
    for (size_t i = 0; i < ACCUM_POINTS; ++i) {
      x[i] = 10.0 * (double)i / ACCUM_POINTS;
      x[ACCUM_POINTS + i] = exp(-0.5 * x[i]) + 0.5 * exp(-2.0 * x[i]);
    }
    /* Double8 lanes exist on CPU devices only; elsewhere variant 3 is 2. */
    int last = ctx->backend->caps.cpu_device ? 3 : 2;
    for (int v = 1; v <= last && st == FITCL_OK; ++v) {
      int k = r->accum_candidates++;
      r->accum_variants[k] = v;
      st = time_accum(ctx, m, x, x + ACCUM_POINTS, v, &r->accum_ms[k]);
    }
  }
  /* Built in: double8 lanes on CPU devices (for expression models), else a
   * work-group per block (accum_ocl.c). */
  int builtin = ctx->backend->caps.cpu_device ? 2 : 0;
  if (st == FITCL_OK)
    r->accum_variant = r->accum_variants[choose(r->accum_ms, r->accum_candidates, builtin)];
  /* The fp64 ratio: the chosen layout in double against mixed. */
  if (st == FITCL_OK && ctx->backend->caps.fp64) {
    fitcl_precision saved = ctx->backend->caps.precision;
    ctx->backend->caps.precision = FITCL_PRECISION_DOUBLE;
    st = time_accum(ctx, m, x, x + ACCUM_POINTS, r->accum_variant, &r->accum_double_ms);
    ctx->backend->caps.precision = FITCL_PRECISION_MIXED;
    if (st == FITCL_OK)
      st = time_accum(ctx, m, x, x + ACCUM_POINTS, r->accum_variant, &r->accum_mixed_ms);
    ctx->backend->caps.precision = saved;
    if (st == FITCL_OK && r->accum_double_ms > 0)
      r->fp64_ratio = r->accum_mixed_ms / r->accum_double_ms;
  }
  free(x);
  fitcl_model_destroy(m);
  return st;
}

/* A balanced binary tree of LIK_TIPS tips (tips first, each internal node
 * after its children, the root last) and random presence patterns. */
typedef struct lik_problem {
  int child_start[2 * LIK_TIPS], child[2 * LIK_TIPS - 2];
  double brlen[2 * LIK_TIPS - 1];
  uint8_t *state;
} lik_problem;

static int make_lik_problem(lik_problem *q) {
  int next = LIK_TIPS, nchild = 0, layer[LIK_TIPS], width = LIK_TIPS;
  for (int i = 0; i < LIK_TIPS; ++i) {
    layer[i] = i;
    q->child_start[i] = 0;
  }
  while (width > 1) {
    for (int i = 0; i < width / 2; ++i) {
      q->child_start[next] = nchild;
      q->child[nchild++] = layer[2 * i];
      q->child[nchild++] = layer[2 * i + 1];
      layer[i] = next++;
    }
    width /= 2;
  }
  q->child_start[next] = nchild; /* next == 2 * LIK_TIPS - 1 nodes */
  for (int v = 0; v < 2 * LIK_TIPS - 1; ++v) q->brlen[v] = 0.05 + 0.01 * (v % 7);
  q->state = malloc((size_t)LIK_PATTERNS * LIK_TIPS);
  if (!q->state) return 0;
  uint64_t z = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < (size_t)LIK_PATTERNS * LIK_TIPS; ++i) {
    z ^= z << 13, z ^= z >> 7, z ^= z << 17;
    q->state[i] = (uint8_t)(z >> 63);
  }
  return 1;
}

static fitcl_status time_lik(fitcl_context *ctx, const lik_problem *q, int tile, double *ms) {
  ctx->backend->tuning.lik_tile = tile;
  const fitcl__lik_tree t = {LIK_TIPS, 2 * LIK_TIPS - 1, q->child_start, q->child, q->brlen, NULL};
  const fitcl__lik_patterns pat = {LIK_TIPS, LIK_PATTERNS, q->state, NULL, NULL, 1, 0, NULL,
                                   NULL, 0};
  fitcl_lik *lik = NULL;
  fitcl_status st = fitcl__lik_open(ctx, &t, &pat, NULL, &lik);
  double best = INFINITY, ll = 0, grad[8];
  const fitcl_gl_params p = {0.4, 0.9, 1.0, NULL, NULL};
  for (int rep = 0; rep < 6 && st == FITCL_OK; ++rep) {
    double t0 = fitcl__now();
    st = fitcl_lik_eval(lik, &p, &ll, grad);
    double dt = fitcl__now() - t0;
    if (rep > 0 && dt < best) best = dt;
  }
  fitcl_lik_destroy(lik);
  *ms = best * 1e3;
  return st;
}

static fitcl_status tune_lik(fitcl_context *ctx, fitcl_tuning_report *r) {
  lik_problem q;
  if (!make_lik_problem(&q)) return fitcl__fail(ctx, FITCL_ERR_NOMEM, "tuning: out of memory");
  fitcl_status st = FITCL_OK;
  /* Built in: 1 pattern per tile on CPU devices, 16 elsewhere (lik_ocl.c). */
  int builtin_tile = ctx->backend->caps.cpu_device ? 1 : 16, builtin = -1;
  for (size_t i = 0; i < sizeof lik_tiles / sizeof *lik_tiles && st == FITCL_OK; ++i) {
    int k = r->lik_candidates++;
    r->lik_tiles[k] = lik_tiles[i];
    if (lik_tiles[i] == builtin_tile) builtin = k;
    st = time_lik(ctx, &q, lik_tiles[i], &r->lik_ms[k]);
  }
  free(q.state);
  if (st == FITCL_OK) r->lik_tile = r->lik_tiles[choose(r->lik_ms, r->lik_candidates, builtin)];
  return st;
}

fitcl_status fitcl_context_tune(fitcl_context *ctx, fitcl_tuning_report *out) {
  if (!ctx || !out) return FITCL_ERR_NULL;
  fitcl__clear_error(ctx);
  memset(out, 0, sizeof *out);
  if (!ctx->backend->identity[0])
    return fitcl__fail(ctx, FITCL_ERR_UNSUPPORTED,
                       "the %s backend has no kernel layouts to tune; tuning is for OpenCL devices",
                       ctx->backend->name ? ctx->backend->name : "selected");
  fitcl__tuning before = ctx->backend->tuning;
  fitcl_status st = tune_accum(ctx, out);
  if (st == FITCL_OK) st = tune_lik(ctx, out);
  if (st != FITCL_OK) {
    ctx->backend->tuning = before;
    return st;
  }
  ctx->backend->tuning = (fitcl__tuning){out->accum_variant, out->lik_tile};
  apply_ratio(ctx, out->fp64_ratio);
  if (ctx->cache && ctx->env.cache != FITCL_CACHE_READONLY) {
    char key[1200], text[128], why[256];
    fitcl__tuning_key(ctx, key, sizeof key);
    int n = snprintf(text, sizeof text, "accum_variant %d\nlik_tile %d\n", out->accum_variant,
                     out->lik_tile);
    if (out->fp64_ratio > 0)
      n += snprintf(text + n, sizeof text - (size_t)n, "fp64_ratio %.4f\n", out->fp64_ratio);
    if (fitcl__cache_put_meta(ctx->cache, key, text, (size_t)n, why, sizeof why) == FITCL_OK)
      out->stored = 1;
    else
      fitcl__log(ctx, FITCL_LOG_WARN, "tuning not stored: %s", why);
  }
  return FITCL_OK;
}
