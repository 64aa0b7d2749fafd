/* Build-time generator of the ahead-of-time model kernels (see
 * src/kernels/aot.h): compiles every built-in model with the library's own
 * expression compiler and writes its programs as C.
 *
 *   aot_gen OUTPUT.c
 *
 * It links the library's objects, which refer to the kernel table; the
 * generator's own (empty) table stands in for the one it writes. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitcl.h"
#include "fitcl/nlsq.h"
#include "kernels/aot.h"
#include "expr/expr_stages.h"
#include "kernels/model.h"

const fitcl__aot_kernel fitcl__aot_kernels[1];
const size_t fitcl__aot_nkernels = 0;

/* Widest Jacobian the final loop accumulates itself (as the evaluator
 * path's fast sums do); wider models store their outputs. */
#define ACC_MAX_PARAMS 5

/* The fixed pairing of eight lanes (dot_block's in accum_cpu.c). */
#define PAIRWISE(a) \
  "((" a "[0] + " a "[1]) + (" a "[2] + " a "[3])) + ((" a "[4] + " a "[5]) + (" a "[6] + " a "[7]))"

static void oom(void) {
  fprintf(stderr, "aot_gen: out of memory\n");
  exit(1);
}

static void *xcalloc(size_t n, size_t size) {
  void *q = calloc(n ? n : 1, size);
  if (!q) oom();
  return q;
}

/* One kernel: program p; jac: p's outputs are f and the Jacobian. */
static void write_kernel(FILE *o, const char *fname, const fitcl__expr_prog *p, int jac,
                         int *nheavy, int *accumulates) {
  fitcl__stages st;
  if (fitcl__stages_init(&st, p) != FITCL_OK) oom();
  fitcl__buf b = {0};
  const int np = p->nparams, nv = p->nvars, nout = p->noutputs;
  const int acc = !jac || np <= ACC_MAX_PARAMS;
  *nheavy = st.nheavy;
  *accumulates = acc;

  /* Parameter list shared by the core and the final loop. */
  char plist[4096];
  size_t pl = 0;
  pl += (size_t)snprintf(plist + pl, sizeof plist - pl, "const double *restrict prm");
  for (int j = 0; j < nv; ++j)
    pl += (size_t)snprintf(plist + pl, sizeof plist - pl, ", const double *restrict x%d", j);
  for (int h = 0; h < st.nheavy; ++h)
    pl += (size_t)snprintf(plist + pl, sizeof plist - pl, ", double *restrict h%d", h);

  /* Hoisted values: parameters, uniform instructions, fused scale factors. */
  fitcl__buf_printf(&b, "#define %s_HOIST \\\n", fname);
  fitcl__stages_hoist(&st, &b, FITCL__STAGE_C, "  ", " \\\n");
  fitcl__buf_printf(&b, "  (void)0\n\n");

  /* The final loop, accumulating (linear loss, full block). */
  if (acc) {
    int nt = jac ? np * (np + 1) / 2 + np + 2 : 2;
    fitcl__buf_printf(&b, "FITCL__VM_INLINE void %s_acc(%s, const double *restrict y,\n"
                          "    const double *restrict sigma, double *restrict v, const int has_sigma) {\n",
                      fname, plist);
    fitcl__buf_printf(&b, "  %s_HOIST;\n", fname);
    for (int j = 0; j < nv; ++j) fitcl__buf_printf(&b, "  (void)x%d;\n", j);
    for (int h = 0; h < st.nheavy; ++h) fitcl__buf_printf(&b, "  (void)h%d;\n", h);
    if (jac) {
      fitcl__buf_printf(&b, "  double acc[%d][8];\n", nt - 1);
      fitcl__buf_printf(&b, "  for (int t = 0; t < %d; ++t)\n    for (int l = 0; l < 8; ++l) acc[t][l] = 0.0;\n", nt - 1);
      fitcl__buf_printf(&b, "  for (size_t i = 0; i < FITCL__VM_BLOCK; i += 8) {\n");
      fitcl__buf_printf(&b, "    double g[%d][8], r[8];\n", np);
    } else {
      fitcl__buf_printf(&b, "  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};\n");
      fitcl__buf_printf(&b, "  for (size_t i = 0; i < FITCL__VM_BLOCK; i += 8) {\n");
      fitcl__buf_printf(&b, "    double r[8];\n");
    }
    fitcl__buf_printf(&b, "    for (size_t l = 0; l < 8; ++l) {\n      const size_t j = i + l;\n");
    fitcl__stages_outputs(&st, &b, FITCL__STAGE_C, "      ");
    fitcl__buf_printf(&b, "      const double f_ = ");
    fitcl__stages_output(&st, &b, FITCL__STAGE_C, 0);
    fitcl__buf_printf(&b, ";\n");
    if (jac) {
      fitcl__buf_printf(&b, "      const double is_ = has_sigma ? 1.0 / sigma[j] : 1.0;\n");
      fitcl__buf_printf(&b, "      r[l] = has_sigma ? (y[j] - f_) * is_ : y[j] - f_;\n");
      for (int k = 0; k < np; ++k) {
        fitcl__buf_printf(&b, "      g[%d][l] = has_sigma ? ", k);
        fitcl__stages_output(&st, &b, FITCL__STAGE_C, 1 + k);
        fitcl__buf_printf(&b, " * is_ : ");
        fitcl__stages_output(&st, &b, FITCL__STAGE_C, 1 + k);
        fitcl__buf_printf(&b, ";\n");
      }
      fitcl__buf_printf(&b, "    }\n    int t = 0;\n");
      fitcl__buf_printf(&b, "    for (int k = 0; k < %d; ++k)\n      for (int m = k; m < %d; ++m, ++t)\n"
                            "        for (size_t l = 0; l < 8; ++l) acc[t][l] += g[k][l] * g[m][l];\n",
                        np, np);
      fitcl__buf_printf(&b, "    for (int k = 0; k < %d; ++k, ++t)\n"
                            "      for (size_t l = 0; l < 8; ++l) acc[t][l] += g[k][l] * r[l];\n", np);
      fitcl__buf_printf(&b, "    for (size_t l = 0; l < 8; ++l) acc[t][l] += r[l] * r[l];\n  }\n");
      fitcl__buf_printf(&b, "  for (int t = 0; t < %d; ++t)\n    v[t] = %s;\n  v[%d] = v[%d];\n}\n\n",
                        nt - 1, PAIRWISE("acc[t]"), nt - 1, nt - 2);
    } else {
      fitcl__buf_printf(&b, "      r[l] = has_sigma ? (y[j] - f_) * (1.0 / sigma[j]) : y[j] - f_;\n    }\n");
      fitcl__buf_printf(&b, "    for (size_t l = 0; l < 8; ++l) acc[l] += r[l] * r[l];\n  }\n"
                            "  v[0] = v[1] = %s;\n}\n\n", PAIRWISE("acc"));
    }
  }

  /* The core: one loop per expensive value, then the final loop. */
  fitcl__buf_printf(&b, "FITCL__VMATH_CLONES\nstatic int %s_core(%s, size_t n,\n"
                        "    const double *restrict y, const double *restrict sigma, double *restrict v",
                    fname, plist);
  for (int k = 0; k < nout; ++k) fitcl__buf_printf(&b, ", double *restrict o%d", k);
  fitcl__buf_printf(&b, ") {\n  %s_HOIST;\n  uint64_t bad = 0;\n  (void)y;\n  (void)sigma;\n  (void)v;\n",
                    fname);
  for (int h = 0; h < st.nheavy; ++h) {
    fitcl__buf_printf(&b, "  for (size_t j = 0; j < n; ++j) {\n");
    fitcl__stages_heavy(&st, &b, FITCL__STAGE_C, h, "    ");
    fitcl__buf_printf(&b, "  }\n");
  }
  fitcl__buf_printf(&b, "  if (bad) return 1;\n");
  if (acc) {
    for (int w = 1; w >= 0; --w) {
      fitcl__buf_printf(&b, w ? "  if (v) {\n    if (sigma) %s_acc(prm" : "    else %s_acc(prm", fname);
      for (int j = 0; j < nv; ++j) fitcl__buf_printf(&b, ", x%d", j);
      for (int h = 0; h < st.nheavy; ++h) fitcl__buf_printf(&b, ", h%d", h);
      fitcl__buf_printf(&b, ", y, sigma, v, %d);\n", w);
    }
    fitcl__buf_printf(&b, "    return 0;\n  }\n");
  }
  fitcl__buf_printf(&b, "  for (size_t j = 0; j < n; ++j) {\n");
  fitcl__stages_outputs(&st, &b, FITCL__STAGE_C, "    ");
  for (int k = 0; k < nout; ++k) {
    fitcl__buf_printf(&b, "    o%d[j] = ", k);
    fitcl__stages_output(&st, &b, FITCL__STAGE_C, k);
    fitcl__buf_printf(&b, ";\n");
  }
  fitcl__buf_printf(&b, "  }\n  return 0;\n}\n\n");

  /* The entry point with the table's signature. */
  fitcl__buf_printf(&b, "static int %s(const double *params, const double *const *x, size_t n,\n"
                        "    const double *y, const double *sigma, double *const *out, double *v, double *h) {\n",
                    fname);
  fitcl__buf_printf(&b, "  (void)x;\n  (void)h;\n  return %s_core(params", fname);
  for (int j = 0; j < nv; ++j) fitcl__buf_printf(&b, ", x[%d]", j);
  for (int h = 0; h < st.nheavy; ++h) fitcl__buf_printf(&b, ", h + %d * (size_t)FITCL__VM_BLOCK", h);
  fitcl__buf_printf(&b, ", n, y, sigma, v");
  for (int k = 0; k < nout; ++k) fitcl__buf_printf(&b, ", out ? out[%d] : NULL", k);
  fitcl__buf_printf(&b, ");\n}\n\n");

  /* Its signature. */
  size_t ns = fitcl__expr_prog_signature(p, NULL, 0);
  int64_t *sig = xcalloc(ns, sizeof *sig);
  fitcl__expr_prog_signature(p, sig, ns);
  fitcl__buf_printf(&b, "static const int64_t %s_sig[%zu] = {", fname, ns);
  for (size_t k = 0; k < ns; ++k)
    fitcl__buf_printf(&b, "%s%" PRId64, k == 0 ? "\n  " : (k % 8 ? ", " : ",\n  "), sig[k]);
  fitcl__buf_printf(&b, "};\n\n");
  free(sig);
  if (b.oom) oom();
  fwrite(b.data, 1, b.len, o);
  fitcl__buf_free(&b);
  fitcl__stages_free(&st);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: aot_gen OUTPUT.c\n");
    return 2;
  }
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
  FILE *o = fopen(tmp, "w");
  if (!o) {
    perror(tmp);
    return 1;
  }
  fprintf(o, "/* Generated at build time by aot_gen from the built-in models\n"
             " * (src/kernels/builtin.c) with the library's expression compiler.  Do not\n"
             " * edit: see src/kernels/aot.h. */\n"
             "#include <math.h>\n#include <stddef.h>\n#include <stdint.h>\n\n"
             "#include \"kernels/aot.h\"\n#include \"expr/expr_vmath.h\"\n\n"
             "FITCL__VM_INLINE double fitcl__aot_exp_exact(double a) {\n"
             "  return FITCL__EXP_SPECIAL(a) ? fitcl_exp(a) : fitcl__exp_inrange(a);\n}\n"
             "FITCL__VM_INLINE double fitcl__aot_log_exact(double a) {\n"
             "  return FITCL__LOG_SPECIAL(a) ? fitcl_log(a) : fitcl_log_core(a, 1023.0);\n}\n"
             "FITCL__VM_INLINE double fitcl__aot_pow_exact(double a, double b) {\n"
             "  return a > 0.0 && a < INFINITY && fabs(b) < INFINITY ? fitcl_exp(b * fitcl_log(a))\n"
             "                                                      : pow(a, b);\n}\n\n");
  char names[64][96];
  int nheavy[64], accum[64], nk = 0;
  for (size_t i = 0; fitcl_model_builtin_name(i); ++i) {
    const char *name = fitcl_model_builtin_name(i);
    fitcl_model *m = NULL;
    if (fitcl_model_builtin(NULL, name, &m) != FITCL_OK) {
      fprintf(stderr, "aot_gen: built-in model %s does not compile\n", name);
      fclose(o);
      remove(tmp);
      return 1;
    }
    for (int jac = 1; jac >= 0 && nk < 64; --jac) {
      snprintf(names[nk], sizeof names[nk], "aot_%s_%s", name, jac ? "fj" : "f");
      write_kernel(o, names[nk], jac ? &m->prog_fj : &m->prog_f, jac, &nheavy[nk], &accum[nk]);
      ++nk;
    }
    fitcl_model_destroy(m);
  }
  fprintf(o, "const fitcl__aot_kernel fitcl__aot_kernels[] = {\n");
  for (int k = 0; k < nk; ++k) {
    const char *n = names[k] + 4, *tail = strrchr(n, '_');
    fprintf(o, "  {\"%.*s/%s\", %s_sig, sizeof %s_sig / sizeof %s_sig[0], %d, %d, %s},\n",
            (int)(tail - n), n, tail + 1, names[k], names[k], names[k], nheavy[k], accum[k],
            names[k]);
  }
  fprintf(o, "};\nconst size_t fitcl__aot_nkernels = %d;\n", nk);
  if (fclose(o) != 0 || rename(tmp, argv[1]) != 0) {
    perror(argv[1]);
    remove(tmp);
    return 1;
  }
  return 0;
}
