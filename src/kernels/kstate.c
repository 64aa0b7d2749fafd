/* General k-state transition matrices (fitcl_kstate_pmatrices): checks,
 * stationary distribution, reversibility test, the symmetrised
 * eigensystem (LAPACKE dsyevr), and the Pade fallback. */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/pool.h"
#include "core/util.h"
#include "device/backend.h"
#include "kernels/kstate.h"

/* Stationary distribution: solves pi^T Q = 0 with sum(pi) = 1 (the last
 * equation replaced by the normalisation).  Returns 0 on success. */
static int stationary(int k, const double *q, double *pi) {
  double *M = malloc(sizeof(double) * k * k);
  lapack_int *ipiv = malloc(sizeof(lapack_int) * k);
  int rc = -1;
  if (!M || !ipiv) goto done;
  /* Row i of M is column i of Q (the system Q^T pi = 0). */
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < k; ++j) M[i * k + j] = (i == k - 1) ? 1.0 : q[j * k + i];
  for (int i = 0; i < k; ++i) pi[i] = (i == k - 1) ? 1.0 : 0.0;
  if (LAPACKE_dgesv(LAPACK_ROW_MAJOR, k, 1, M, k, ipiv, pi, 1) != 0) goto done;
  rc = 0;
done:
  free(M);
  free(ipiv);
  return rc;
}

static int is_reversible(int k, const double *q, double *pi) {
  if (stationary(k, q, pi) != 0) return 0;
  double scale = 0;
  for (int i = 0; i < k; ++i) {
    if (!(pi[i] > 0)) return 0;
    scale = fmax(scale, fabs(q[i * k + i]));
  }
  for (int i = 0; i < k; ++i)
    for (int j = i + 1; j < k; ++j) {
      const double a = pi[i] * q[i * k + j], b = pi[j] * q[j * k + i];
      if (fabs(a - b) > 1e-12 * scale * (pi[i] + pi[j])) return 0;
    }
  return 1;
}

/* S = D^1/2 Q D^-1/2 (symmetric for reversible Q; averaged to be exactly
 * so), S = U diag(lambda) U^T. */
static fitcl_status eigensystem(fitcl_context *ctx, int k, const double *q, const double *pi,
                                fitcl__keig *e) {
  fitcl_status st = FITCL_OK;
  double *S = malloc(sizeof(double) * k * k), *Z = malloc(sizeof(double) * k * k);
  lapack_int *isuppz = malloc(sizeof(lapack_int) * 2 * k);
  e->k = k;
  e->A = malloc(sizeof(double) * k * k);
  e->B = malloc(sizeof(double) * k * k);
  if (!S || !Z || !isuppz || !e->A || !e->B) {
    st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "k-state: out of memory");
    goto done;
  }
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < k; ++j) {
      const double sij = sqrt(pi[i] / pi[j]) * q[i * k + j];
      const double sji = sqrt(pi[j] / pi[i]) * q[j * k + i];
      S[i * k + j] = 0.5 * (sij + sji);
    }
  lapack_int m = 0;
  lapack_int info = LAPACKE_dsyevr(LAPACK_ROW_MAJOR, 'V', 'A', 'U', k, S, k, 0, 0, 0, 0, 0.0, &m,
                                   e->lambda, Z, k, isuppz);
  if (info != 0 || m != k) {
    st = fitcl__fail(ctx, FITCL_ERR_INTERNAL, "k-state: dsyevr failed (info %d)", (int)info);
    goto done;
  }
  for (int r = 0; r < k; ++r)
    for (int c = 0; c < k; ++c) {
      e->A[r * k + c] = Z[r * k + c] / sqrt(pi[r]);  /* D^-1/2 U */
      e->B[r * k + c] = Z[c * k + r] * sqrt(pi[c]);  /* U^T D^1/2 */
    }
done:
  free(S);
  free(Z);
  free(isuppz);
  return st;
}

typedef struct pade_job {
  int k;
  const double *q, *t;
  double *out;
  size_t n;
  double **work;
  int **ipiv;
  int failed;
} pade_job;

static void pade_task(void *arg, size_t i, unsigned worker) {
  pade_job *j = arg;
  const size_t kk = (size_t)j->k * j->k;
  if (fitcl__kstate_pade(j->k, j->q, j->t[i], j->out + i * kk, j->work[worker], j->ipiv[worker]) !=
      FITCL_OK)
    j->failed = 1;
}

fitcl_status fitcl_kstate_pmatrices(fitcl_context *ctx, int k, const double *q, size_t n,
                                    const double *t, fitcl_kstate_method method, double *out) {
  if (!ctx) return FITCL_ERR_NULL;
  fitcl__clear_error(ctx);
  if (k < 2 || k > FITCL__KSTATE_MAX)
    return fitcl__fail(ctx, FITCL_ERR_RANGE, "k-state: k must be in 2..%d, got %d",
                       FITCL__KSTATE_MAX, k);
  if (n == 0) return FITCL_OK;
  if (!q || !t || !out) return fitcl__fail(ctx, FITCL_ERR_NULL, "k-state: NULL array");
  for (int i = 0; i < k; ++i) {
    double row = 0, mag = 0;
    for (int j = 0; j < k; ++j) {
      const double v = q[i * k + j];
      if (!isfinite(v) || (i != j && v < 0))
        return fitcl__fail(ctx, FITCL_ERR_RANGE, "k-state: q[%d][%d] = %g (off-diagonal rates "
                           "must be finite and >= 0)", i, j, v);
      row += v;
      mag += fabs(v);
    }
    if (fabs(row) > 1e-10 * (mag > 0 ? mag : 1))
      return fitcl__fail(ctx, FITCL_ERR_RANGE, "k-state: row %d of Q sums to %g, not 0", i, row);
  }
  for (size_t i = 0; i < n; ++i)
    if (!(t[i] >= 0) || !isfinite(t[i]))
      return fitcl__fail(ctx, FITCL_ERR_RANGE, "k-state: branch length %zu is %g", i, t[i]);

  double pi[FITCL__KSTATE_MAX];
  int rev = (method != FITCL_KSTATE_PADE) && is_reversible(k, q, pi);
  if (method == FITCL_KSTATE_EIGEN && !rev)
    return fitcl__fail(ctx, FITCL_ERR_ARG, "k-state: the eigen method needs a reversible Q");
  fitcl_status st = FITCL_OK;
  if (rev) {
    fitcl__keig e = {0};
    st = eigensystem(ctx, k, q, pi, &e);
    if (st == FITCL_OK)
      st = ctx->backend->kstate->apply(ctx, &e, n, t, out);
    free(e.A);
    free(e.B);
    return st;
  }
  /* Pade on the host pool, whatever the backend. */
  fitcl__pool *pool = fitcl__ctx_pool(ctx);
  unsigned nw = fitcl__pool_size(pool);
  pade_job j = {k, q, t, out, n, calloc(nw, sizeof(double *)), calloc(nw, sizeof(int *)), 0};
  if (!j.work || !j.ipiv) st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "k-state: out of memory");
  for (unsigned w = 0; st == FITCL_OK && w < nw; ++w) {
    j.work[w] = malloc(sizeof(double) * 8 * k * k);
    j.ipiv[w] = malloc(sizeof(int) * k);
    if (!j.work[w] || !j.ipiv[w]) st = fitcl__fail(ctx, FITCL_ERR_NOMEM, "k-state: out of memory");
  }
  if (st == FITCL_OK) {
    fitcl__pool_run(pool, n, pade_task, &j);
    if (j.failed) st = fitcl__fail(ctx, FITCL_ERR_INTERNAL, "k-state: Pade solve failed");
  }
  for (unsigned w = 0; j.work && j.ipiv && w < nw; ++w) {
    free(j.work[w]);
    free(j.ipiv[w]);
  }
  free(j.work);
  free(j.ipiv);
  return st;
}
