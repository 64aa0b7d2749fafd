/* NIST StRD nonlinear regression at the default settings (no tolerance
 * given), every problem of the manifest, from both official starting
 * points, on every backend, with the automatic solver and with QR forced:
 * each parameter and standard error within 1e-6 relative of the certified
 * value, the residual sum of squares within 1e-8.  The data live beside
 * the source tree in ../shared/data/nist (manifest.tsv + one CSV per
 * problem; FITCL_NIST_DIR names another directory of the same layout).
 * Missing data fail the test: CI must not pass without them.  Problems of
 * the lower difficulty must pass; the others (when a manifest lists them)
 * are asserted with FITCL_NIST_ALL=1 and otherwise reported. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

#define NIST_DIR FITCL_TEST_SOURCE_DIR "/../shared/data/nist"

static const char *nist_dir(void) {
  const char *d = getenv("FITCL_NIST_DIR");
  return d && *d ? d : NIST_DIR;
}

typedef struct kv {
  int n;
  char name[FITCL_NLSQ_MAX_PARAMS][16];
  double v[FITCL_NLSQ_MAX_PARAMS];
} kv;

static void parse_kv(const char *s, kv *out) {
  out->n = 0;
  while (*s) {
    const char *eq = strchr(s, '=');
    cr_assert_not_null(eq, "manifest: malformed list '%s'", s);
    size_t len = (size_t)(eq - s);
    cr_assert_lt(len, sizeof out->name[0]);
    memcpy(out->name[out->n], s, len);
    out->name[out->n][len] = 0;
    char *end;
    out->v[out->n] = strtod(eq + 1, &end);
    out->n++;
    s = *end == ',' ? end + 1 : end;
  }
}

static double lookup(const kv *k, const char *name) {
  for (int i = 0; i < k->n; ++i)
    if (!strcmp(k->name[i], name)) return k->v[i];
  cr_assert_fail("certified value of %s missing", name);
  return NAN;
}

static int fit_one(fitcl_context *ctx, const char *backend, int solver, int strict,
                   const char *problem, const char *model_text, const kv *start, int which,
                   const kv *cert, const kv *cse, double crss) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.csv", nist_dir(), problem);
  const char *names[FITCL_NLSQ_MAX_PARAMS];
  for (int i = 0; i < start->n; ++i) names[i] = start->name[i];
  /* The predictor columns: x, or x1, x2 ... (the response y is last). */
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "cannot open %s", path);
  char header[256];
  cr_assert_not_null(fgets(header, sizeof header, f));
  fclose(f);
  const char *vars[4];
  size_t nv = 0;
  static char vb[4][8];  /* header names of the predictors */
  for (char *tok = strtok(header, ",\r\n"); tok; tok = strtok(NULL, ",\r\n"))
    if (strcmp(tok, "y") != 0 && nv < 4) {
      snprintf(vb[nv], sizeof vb[nv], "%s", tok);
      vars[nv] = vb[nv];
      ++nv;
    }
  fitcl_model *m = NULL;
  fitcl_status st = fitcl_model_compile(ctx, model_text, names, (size_t)start->n, vars, nv, &m);
  cr_assert_eq(st, FITCL_OK, "%s: compile: %s", problem, fitcl_errmsg(ctx));
  fitcl_source_options so = {0};
  so.path = path;
  so.x = vars;
  so.nx = nv;
  fitcl_source *src = NULL;
  st = fitcl_source_open(ctx, &so, &src);
  cr_assert_eq(st, FITCL_OK, "%s: open: %s", problem, fitcl_errmsg(ctx));
  fitcl_curvefit_options fo = {0};  /* the defaults a user gets */
  fo.solver = solver;
  fitcl_curvefit_result r;
  st = fitcl_curve_fit_source(ctx, m, src, start->v, &fo, &r);
  cr_assert_eq(st, FITCL_OK, "%s: fit: %s", problem, fitcl_errmsg(ctx));
  int ok = 1;
  const char *sv = solver == FITCL_SOLVER_QR ? "qr" : "auto";
  for (int i = 0; i < start->n; ++i) {
    double c = lookup(cert, names[i]), s = lookup(cse, names[i]);
    double ep = fabs(r.params[i] - c) / fabs(c), es = fabs(r.stderr_[i] - s) / fabs(s);
    if (strict) {
      cr_expect_leq(ep, 1e-6, "[%s %s] %s start %d: %s = %.12g, certified %.12g (rel %.2g)",
                    backend, sv, problem, which, names[i], r.params[i], c, ep);
      cr_expect_leq(es, 1e-6, "[%s %s] %s start %d: SE(%s) = %.12g, certified %.12g (rel %.2g)",
                    backend, sv, problem, which, names[i], r.stderr_[i], s, es);
    }
    ok &= ep <= 1e-6 && es <= 1e-6;
  }
  double er = fabs(r.rss - crss) / crss;
  if (strict) {
    cr_expect_leq(er, 1e-8, "[%s %s] %s start %d: RSS %.12g, certified %.12g (rel %.2g)",
                  backend, sv, problem, which, r.rss, crss, er);
    cr_expect(r.converged, "[%s %s] %s start %d: status %s", backend, sv, problem, which,
              fitcl_curvefit_status_name(r.status));
  }
  if (!(ok && er <= 1e-8))
    cr_log_info("[%s %s] %s start %d: not certified (rss rel %.2g, %s)", backend, sv, problem,
                which, er, fitcl_curvefit_status_name(r.status));
  fitcl_source_destroy(src);
  fitcl_model_destroy(m);
  return ok && er <= 1e-8;
}

Test(nist, certified_at_default_settings_all_backends, .timeout = 900) {
  char mpath[1024];
  snprintf(mpath, sizeof mpath, "%s/manifest.tsv", nist_dir());
  cr_assert_eq(access(mpath, R_OK), 0,
               "NIST StRD data not found at %s (the shared/ data directory must sit beside the "
               "source tree, or FITCL_NIST_DIR must name it)", mpath);
  const char *all = getenv("FITCL_NIST_ALL");
  int strict_all = all && *all && strcmp(all, "0") != 0;
  fitcl_test_backend be[2];
  size_t nbe = fitcl_test_backends(be, 2);
  static const int solvers[] = {FITCL_SOLVER_AUTO, FITCL_SOLVER_QR};
  for (size_t b = 0; b < nbe; ++b)
    for (int si = 0; si < 2; ++si) {
      fitcl_context *ctx = fitcl_test_context(be[b].selector);
      FILE *f = fopen(mpath, "r");
      cr_assert_not_null(f);
      char line[16384];
      int problems = 0, passed = 0, lower = 0;
      cr_assert_not_null(fgets(line, sizeof line, f));  /* header */
      while (fgets(line, sizeof line, f)) {
        char *field[8];
        int nf = 0;
        for (char *p = line; nf < 8;) {
          field[nf++] = p;
          char *t = strchr(p, '\t');
          if (!t) break;
          *t = 0;
          p = t + 1;
        }
        if (nf < 8) continue;
        field[7][strcspn(field[7], "\r\n")] = 0;
        int strict = strict_all || !strcmp(field[1], "lower");
        kv s1, s2, cert, cse;
        parse_kv(field[3], &s1);
        parse_kv(field[4], &s2);
        parse_kv(field[5], &cert);
        parse_kv(field[6], &cse);
        double crss = strtod(field[7], NULL);
        problems++;
        lower += !strcmp(field[1], "lower");
        passed += fit_one(ctx, be[b].name, solvers[si], strict, field[0], field[2], &s1, 1, &cert,
                          &cse, crss) &
                  fit_one(ctx, be[b].name, solvers[si], strict, field[0], field[2], &s2, 2, &cert,
                          &cse, crss);
      }
      fclose(f);
      cr_expect_gt(lower, 0, "no lower-difficulty problem in %s", mpath);
      cr_log_info("[%s %s] NIST StRD at default settings: %d of %d problems pass from both "
                  "starts", be[b].name, si ? "qr" : "auto", passed, problems);
      fitcl_context_destroy(ctx);
    }
}
