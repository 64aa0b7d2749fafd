/* Gene content: trees, presence/absence matrices, data sets and
 * likelihood handles as capsules (the Python layer, fitcl/gainloss.py,
 * wraps them), and the analyses: rate fits, the retention test, simulation
 * and ancestral states.  Every computation runs with the GIL released. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ext.h"

#define TREE "fitcl_tree"
#define MATRIX "fitcl_pamatrix"
#define DATA "fitcl_data"
#define LIK "fitcl_lik"

static void tree_free(PyObject *cap) { fitcl_tree_destroy(PyCapsule_GetPointer(cap, TREE)); }
static void matrix_free(PyObject *cap) {
  fitcl_pamatrix_destroy(PyCapsule_GetPointer(cap, MATRIX));
}
static void data_free(PyObject *cap) { fitcl_data_destroy(PyCapsule_GetPointer(cap, DATA)); }
/* A likelihood handle keeps its Context (the capsule's context) alive. */
static void lik_free(PyObject *cap) {
  fitcl_lik_destroy(PyCapsule_GetPointer(cap, LIK));
  Py_XDECREF((PyObject *)PyCapsule_GetContext(cap));
}

static void *handle(PyObject *cap, const char *kind) {
  void *p = PyCapsule_GetPointer(cap, kind);
  if (!p) {
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError, "expected a %s handle", kind);
  }
  return p;
}

/* Reader failures carry their one-line message in err. */
static PyObject *wrap_or_raise(fitcl_status st, void *p, const char *kind,
                               PyCapsule_Destructor free_fn, const char *err) {
  if (st != FITCL_OK) return ext_raise(st, err);
  PyObject *cap = PyCapsule_New(p, kind, free_fn);
  if (!cap) free_fn == tree_free ? fitcl_tree_destroy(p) : fitcl_pamatrix_destroy(p);
  return cap;
}

/* ---- trees --------------------------------------------------------------------- */

static PyObject *tree_load(PyObject *self, PyObject *args) {
  (void)self;
  const char *text;
  int is_path;
  if (!PyArg_ParseTuple(args, "sp", &text, &is_path)) return NULL;
  fitcl_tree *t = NULL;
  char err[1024] = "";
  fitcl_status st;
  Py_BEGIN_ALLOW_THREADS
  st = is_path ? fitcl_tree_read(text, &t, err, sizeof err)
               : fitcl_tree_parse(text, &t, err, sizeof err);
  Py_END_ALLOW_THREADS
  return wrap_or_raise(st, t, TREE, tree_free, err);
}

/* (tip_names, parents, lengths, labels, newick) with one entry per node
 * (tips first, the root last); labels None where a node has none. */
static PyObject *describe_tree(const fitcl_tree *t) {
  int nn = fitcl_tree_nnodes(t), nt = fitcl_tree_ntips(t);
  PyObject *tips = PyList_New(nt), *par = PyList_New(nn), *len = PyList_New(nn),
           *lab = PyList_New(nn), *out = NULL;
  char *newick = NULL;
  if (!tips || !par || !len || !lab) goto done;
  for (int v = 0; v < nn; ++v) {
    if (v < nt) PyList_SET_ITEM(tips, v, PyUnicode_FromString(fitcl_tree_tip_name(t, v)));
    PyList_SET_ITEM(par, v, PyLong_FromLong(fitcl_tree_parent(t, v)));
    PyList_SET_ITEM(len, v, PyFloat_FromDouble(fitcl_tree_branch_length(t, v)));
    const char *l = v < nt ? fitcl_tree_tip_name(t, v) : fitcl_tree_node_label(t, v);
    PyList_SET_ITEM(lab, v, l ? PyUnicode_FromString(l) : Py_NewRef(Py_None));
  }
  if (PyErr_Occurred()) goto done;
  fitcl_status st = fitcl_tree_to_newick(t, &newick);
  if (st != FITCL_OK) {
    ext_raise(st, NULL);
    goto done;
  }
  out = Py_BuildValue("(OOOOs)", tips, par, len, lab, newick);
done:
  free(newick);
  Py_XDECREF(tips);
  Py_XDECREF(par);
  Py_XDECREF(len);
  Py_XDECREF(lab);
  return out;
}

static PyObject *tree_info(PyObject *self, PyObject *cap) {
  (void)self;
  fitcl_tree *t = handle(cap, TREE);
  return t ? describe_tree(t) : NULL;
}

/* ---- matrices ----------------------------------------------------------------- */

static PyObject *matrix_read(PyObject *self, PyObject *args) {
  (void)self;
  const char *path;
  int format, taxa_in_rows;
  if (!PyArg_ParseTuple(args, "sip", &path, &format, &taxa_in_rows)) return NULL;
  fitcl_pamatrix_options o = {(fitcl_pamatrix_format)format, taxa_in_rows};
  fitcl_pamatrix *m = NULL;
  char err[1024] = "";
  fitcl_status st;
  Py_BEGIN_ALLOW_THREADS
  st = fitcl_pamatrix_read(path, &o, &m, err, sizeof err);
  Py_END_ALLOW_THREADS
  return wrap_or_raise(st, m, MATRIX, matrix_free, err);
}

/* UTF-8 pointers of a list of str (valid while the list lives). */
static const char **utf8_list(PyObject *list, Py_ssize_t n, const char *what) {
  if (!PyList_Check(list) || PyList_GET_SIZE(list) != n) {
    PyErr_Format(PyExc_ValueError, "%s: expected a list of %zd names", what, n);
    return NULL;
  }
  const char **out = PyMem_Calloc((size_t)(n ? n : 1), sizeof *out);
  if (!out) return (const char **)PyErr_NoMemory();
  for (Py_ssize_t i = 0; i < n; ++i)
    if (!(out[i] = PyUnicode_AsUTF8(PyList_GET_ITEM(list, i)))) {
      PyMem_Free(out);
      return NULL;
    }
  return out;
}

/* matrix_create(values uint8 [families * taxa], families, taxa,
 *               family_names or None, taxon_names) */
static PyObject *matrix_create(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *vobj, *fnames, *tnames;
  Py_ssize_t nf, nt;
  if (!PyArg_ParseTuple(args, "OnnOO", &vobj, &nf, &nt, &fnames, &tnames)) return NULL;
  Py_buffer v;
  if (nf < 0 || nt < 0) return PyErr_Format(PyExc_ValueError, "negative matrix size");
  if (ext_buffer(vobj, "B", nf * nt, 0, "values", &v) < 0) return NULL;
  const char **fn = fnames == Py_None ? NULL : utf8_list(fnames, nf, "families");
  const char **tn = fn || fnames == Py_None ? utf8_list(tnames, nt, "taxa") : NULL;
  PyObject *out = NULL;
  if (tn) {
    fitcl_pamatrix *m = NULL;
    char err[1024] = "";
    fitcl_status st;
    Py_BEGIN_ALLOW_THREADS
    st = fitcl_pamatrix_create((size_t)nf, (size_t)nt, v.buf, fn, tn, &m, err, sizeof err);
    Py_END_ALLOW_THREADS
    out = wrap_or_raise(st, m, MATRIX, matrix_free, err);
  }
  PyMem_Free(fn);
  PyMem_Free(tn);
  ext_release(&v);
  return out;
}

/* matrix_info(matrix, values_out uint8 [families * taxa] or None)
 *   -> (family_names, taxon_names) */
static PyObject *matrix_info(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *cap, *vobj;
  if (!PyArg_ParseTuple(args, "OO", &cap, &vobj)) return NULL;
  fitcl_pamatrix *m = handle(cap, MATRIX);
  if (!m) return NULL;
  size_t nf = fitcl_pamatrix_nfamilies(m), nt = fitcl_pamatrix_ntaxa(m);
  Py_buffer v;
  if (ext_buffer_opt(vobj, "B", (Py_ssize_t)(nf * nt), 1, "values", &v) < 0) return NULL;
  if (v.buf) {
    unsigned char *out = v.buf;
    Py_BEGIN_ALLOW_THREADS
    for (size_t f = 0; f < nf; ++f)
      for (size_t t = 0; t < nt; ++t) out[f * nt + t] = (unsigned char)fitcl_pamatrix_get(m, f, t);
    Py_END_ALLOW_THREADS
  }
  ext_release(&v);
  PyObject *fam = PyList_New((Py_ssize_t)nf), *tax = PyList_New((Py_ssize_t)nt);
  for (size_t f = 0; fam && f < nf; ++f)
    PyList_SET_ITEM(fam, (Py_ssize_t)f, PyUnicode_FromString(fitcl_pamatrix_family_name(m, f)));
  for (size_t t = 0; tax && t < nt; ++t)
    PyList_SET_ITEM(tax, (Py_ssize_t)t, PyUnicode_FromString(fitcl_pamatrix_taxon_name(m, t)));
  if (!fam || !tax || PyErr_Occurred()) {
    Py_XDECREF(fam);
    Py_XDECREF(tax);
    return NULL;
  }
  return Py_BuildValue("(NN)", fam, tax);
}

static PyObject *matrix_write_rtab(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *cap;
  const char *path;
  if (!PyArg_ParseTuple(args, "Os", &cap, &path)) return NULL;
  fitcl_pamatrix *m = handle(cap, MATRIX);
  if (!m) return NULL;
  char err[1024] = "";
  fitcl_status st;
  Py_BEGIN_ALLOW_THREADS
  st = fitcl_pamatrix_write_rtab(m, path, err, sizeof err);
  Py_END_ALLOW_THREADS
  if (st != FITCL_OK) return ext_raise(st, err);
  Py_RETURN_NONE;
}

/* ---- data sets ---------------------------------------------------------------- */

static PyObject *data_build(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *tcap, *mcap;
  int prune, ignore_extra;
  if (!PyArg_ParseTuple(args, "OOpp", &tcap, &mcap, &prune, &ignore_extra)) return NULL;
  fitcl_tree *t = handle(tcap, TREE);
  fitcl_pamatrix *m = t ? handle(mcap, MATRIX) : NULL;
  if (!m) return NULL;
  fitcl_data_options o = {prune, ignore_extra, NULL};
  fitcl_data *d = NULL;
  char err[2048] = "";
  fitcl_status st;
  Py_BEGIN_ALLOW_THREADS
  st = fitcl_data_build(t, m, &o, &d, err, sizeof err);
  Py_END_ALLOW_THREADS
  if (st != FITCL_OK) return ext_raise(st, err);
  PyObject *cap = PyCapsule_New(d, DATA, data_free);
  if (!cap) fitcl_data_destroy(d);
  return cap;
}

/* data_info(data) -> (tree description as tree_info, families, patterns,
 *                     family_names) */
static PyObject *data_info(PyObject *self, PyObject *cap) {
  (void)self;
  fitcl_data *d = handle(cap, DATA);
  if (!d) return NULL;
  size_t nf = fitcl_data_nfamilies(d);
  PyObject *names = PyList_New((Py_ssize_t)nf);
  for (size_t f = 0; names && f < nf; ++f)
    PyList_SET_ITEM(names, (Py_ssize_t)f, PyUnicode_FromString(fitcl_data_family_name(d, f)));
  PyObject *tree = names && !PyErr_Occurred() ? describe_tree(fitcl_data_tree(d)) : NULL;
  if (!tree) {
    Py_XDECREF(names);
    return NULL;
  }
  return Py_BuildValue("(NnnN)", tree, (Py_ssize_t)nf, (Py_ssize_t)fitcl_data_npatterns(d), names);
}

static PyObject *data_set_groups(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *cap, *gobj;
  if (!PyArg_ParseTuple(args, "OO", &cap, &gobj)) return NULL;
  fitcl_data *d = handle(cap, DATA);
  if (!d) return NULL;
  Py_buffer g;
  size_t nf = fitcl_data_nfamilies(d);
  if (ext_buffer_opt(gobj, "i", (Py_ssize_t)nf, 0, "groups", &g) < 0) return NULL;
  char err[1024] = "";
  fitcl_status st;
  Py_BEGIN_ALLOW_THREADS
  st = fitcl_data_set_groups(d, g.buf, nf, err, sizeof err);
  Py_END_ALLOW_THREADS
  ext_release(&g);
  if (st != FITCL_OK) return ext_raise(st, err);
  Py_RETURN_NONE;
}

/* select_families(context, data, path or None, regex or None, out uint8) */
static PyObject *select_families(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *cobj, *cap, *oobj;
  const char *path, *regex;
  if (!PyArg_ParseTuple(args, "OOzzO", &cobj, &cap, &path, &regex, &oobj)) return NULL;
  ext_context *c = ext_context_arg(cobj);
  fitcl_data *d = c ? handle(cap, DATA) : NULL;
  if (!d) return NULL;
  Py_buffer out;
  if (ext_buffer(oobj, "B", (Py_ssize_t)fitcl_data_nfamilies(d), 1, "out", &out) < 0) return NULL;
  fitcl_status st;
  ext_context_enter(c);
  Py_BEGIN_ALLOW_THREADS
  st = path ? fitcl_select_families_file(c->ctx, d, path, out.buf)
            : fitcl_select_families_regex(c->ctx, d, regex ? regex : "", out.buf);
  Py_END_ALLOW_THREADS
  if (st != FITCL_OK) ext_raise_ctx(st, c->ctx);
  ext_context_leave(c);
  ext_release(&out);
  if (st != FITCL_OK) return NULL;
  Py_RETURN_NONE;
}

/* ---- likelihood ------------------------------------------------------------------ */

/* lik_create(context, data, gamma_cats, no_condition, root_p1 (NaN: the
 * stationary distribution)) */
static PyObject *lik_create(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *cobj, *cap;
  int cats, no_condition;
  double root_p1;
  if (!PyArg_ParseTuple(args, "OOipd", &cobj, &cap, &cats, &no_condition, &root_p1)) return NULL;
  ext_context *c = ext_context_arg(cobj);
  fitcl_data *d = c ? handle(cap, DATA) : NULL;
  if (!d) return NULL;
  fitcl_lik_options o;
  memset(&o, 0, sizeof o);
  o.gamma_cats = cats;
  o.no_condition = no_condition;
  if (!isnan(root_p1)) {
    o.root = FITCL_ROOT_FIXED;
    o.root_p1 = root_p1;
  }
  fitcl_lik *lik = NULL;
  fitcl_status st;
  ext_context_enter(c);
  Py_BEGIN_ALLOW_THREADS
  st = fitcl_lik_create(c->ctx, d, &o, &lik);
  Py_END_ALLOW_THREADS
  if (st != FITCL_OK) ext_raise_ctx(st, c->ctx);
  ext_context_leave(c);
  if (st != FITCL_OK) return NULL;
  PyObject *out = PyCapsule_New(lik, LIK, lik_free);
  if (!out || PyCapsule_SetContext(out, Py_NewRef(cobj)) < 0) {
    if (out) Py_DECREF(out); /* lik_free releases both */
    else fitcl_lik_destroy(lik), Py_DECREF(cobj);
    return NULL;
  }
  return out;
}

/* lik_eval(lik, gain, loss, alpha, loss_mult float64 [ngroups] or None,
 *          want_grad, family_out float64 [families] or None)
 *   -> (loglik, gradient list or None, families, patterns) */
static PyObject *lik_eval(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *cap, *mobj, *fobj;
  double gain, loss, alpha;
  int want_grad;
  if (!PyArg_ParseTuple(args, "OdddOpO", &cap, &gain, &loss, &alpha, &mobj, &want_grad, &fobj))
    return NULL;
  fitcl_lik *lik = handle(cap, LIK);
  if (!lik) return NULL;
  ext_context *c = (ext_context *)PyCapsule_GetContext(cap);
  if (!c->ctx) return PyErr_Format(PyExc_ValueError, "the context is closed");
  Py_buffer mult, fam;
  memset(&fam, 0, sizeof fam);
  if (ext_buffer_opt(mobj, "d", fitcl_lik_ngroups(lik), 0, "loss_mult", &mult) < 0) return NULL;
  size_t ng = fitcl_lik_grad_size(lik);
  double *gp = want_grad ? PyMem_Calloc(ng, sizeof(double)) : NULL;
  PyObject *out = NULL;
  if (want_grad && !gp) {
    PyErr_NoMemory();
    goto done;
  }
  fitcl_gl_params p = {gain, loss, alpha, mult.buf, NULL};
  double ll = 0;
  fitcl_status st;
  ext_context_enter(c);
  Py_BEGIN_ALLOW_THREADS
  st = fitcl_lik_eval(lik, &p, &ll, gp);
  Py_END_ALLOW_THREADS
  if (st != FITCL_OK) ext_raise_ctx(st, c->ctx);
  ext_context_leave(c);
  if (st != FITCL_OK) goto done;
  if (fobj != Py_None) {
    if (ext_buffer(fobj, "d", -1, 1, "family_out", &fam) < 0) goto done;
    ext_context_enter(c);
    st = fitcl_lik_family_logliks(lik, fam.buf, (size_t)(fam.len / 8));
    if (st != FITCL_OK) ext_raise_ctx(st, c->ctx);
    ext_context_leave(c);
    if (st != FITCL_OK) goto done;
  }
  PyObject *g = Py_NewRef(Py_None);
  if (gp) {
    Py_DECREF(g);
    g = PyList_New((Py_ssize_t)ng);
    for (size_t i = 0; g && i < ng; ++i) PyList_SET_ITEM(g, (Py_ssize_t)i, PyFloat_FromDouble(gp[i]));
    if (!g) goto done;
  }
  out = Py_BuildValue("(dNdn)", ll, g, fitcl_lik_nfamilies(lik), (Py_ssize_t)fitcl_lik_npatterns(lik));
done:
  PyMem_Free(gp);
  ext_release(&fam);
  ext_release(&mult);
  return out;
}

/* ---- analyses ---------------------------------------------------------------------- */

static PyObject *fit_dict(const fitcl_fit_result *r) {
  return Py_BuildValue(
      "{s:d,s:d,s:i,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:i,s:i,s:O,s:s}", "loglik", r->loglik, "aic",
      r->aic, "nparams", r->nparams, "gain", r->gain, "loss", r->loss, "alpha", r->alpha, "effect",
      r->effect, "se_gain", r->se_gain, "se_loss", r->se_loss, "se_alpha", r->se_alpha,
      "se_effect", r->se_effect, "iterations", r->iterations, "evaluations", r->evaluations,
      "converged", r->converged ? Py_True : Py_False, "status", r->status ? r->status : "");
}

/* Fit options from (gamma_cats, no_condition, max_iter, pgtol, ftol, no_stderr). */
static int fit_options(PyObject *t, fitcl_fit_options *o) {
  memset(o, 0, sizeof *o);
  return PyArg_ParseTuple(t, "ipiddp", &o->gamma_cats, &o->no_condition, &o->max_iter, &o->pgtol,
                          &o->ftol, &o->no_stderr)
             ? 0
             : -1;
}

/* fit_rates(context, data, fit_options tuple) -> dict */
static PyObject *fit_rates(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *cobj, *cap, *fo;
  if (!PyArg_ParseTuple(args, "OOO!", &cobj, &cap, &PyTuple_Type, &fo)) return NULL;
  ext_context *c = ext_context_arg(cobj);
  fitcl_data *d = c ? handle(cap, DATA) : NULL;
  fitcl_fit_options o;
  if (!d || fit_options(fo, &o) < 0) return NULL;
  fitcl_fit_result r;
  fitcl_status st;
  ext_context_enter(c);
  Py_BEGIN_ALLOW_THREADS
  st = fitcl_fit_rates(c->ctx, d, &o, &r);
  Py_END_ALLOW_THREADS
  if (st != FITCL_OK) ext_raise_ctx(st, c->ctx);
  ext_context_leave(c);
  return st == FITCL_OK ? fit_dict(&r) : NULL;
}

static void on_bootstrap(void *user, int done, int total) {
  ext_watch *w = user;
  PyGILState_STATE g = PyGILState_Ensure();
  ext_watch_poll(w, w->callback ? Py_BuildValue("(ii)", done, total) : NULL);
  PyGILState_Release(g);
}

/* retention_test(context, data, selected uint8 [families], fit_options,
 *                bootstrap, seed, profile_ci, progress or None) -> dict */
static PyObject *retention_test(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *cobj, *cap, *sobj, *fo, *progress;
  int bootstrap, profile;
  unsigned long long seed;
  if (!PyArg_ParseTuple(args, "OOOO!iKpO", &cobj, &cap, &sobj, &PyTuple_Type, &fo, &bootstrap,
                        &seed, &profile, &progress))
    return NULL;
  ext_context *c = ext_context_arg(cobj);
  fitcl_data *d = c ? handle(cap, DATA) : NULL;
  fitcl_retention_options o;
  memset(&o, 0, sizeof o);
  if (!d || fit_options(fo, &o.fit) < 0) return NULL;
  Py_buffer sel;
  if (ext_buffer(sobj, "B", (Py_ssize_t)fitcl_data_nfamilies(d), 0, "selected", &sel) < 0)
    return NULL;
  ext_watch w;
  ext_watch_init(&w, progress);
  o.bootstrap = bootstrap;
  o.seed = seed;
  o.profile_ci = profile;
  if (w.callback) {
    o.progress = on_bootstrap;
    o.progress_user = &w;
  }
  fitcl_retention_result r;
  fitcl_status st;
  PyObject *out = NULL;
  ext_context_enter(c);
  Py_BEGIN_ALLOW_THREADS
  st = fitcl_retention_test(c->ctx, d, sel.buf, &o, &r);
  Py_END_ALLOW_THREADS
  if (ext_watch_end(&w) < 0) (void)0;
  else if (st != FITCL_OK) ext_raise_ctx(st, c->ctx);
  else
    out = Py_BuildValue("{s:N,s:N,s:n,s:n,s:d,s:d,s:d,s:d,s:s,s:d,s:i,s:d,s:i,s:d}", "null",
                        fit_dict(&r.null_fit), "alt", fit_dict(&r.alt_fit), "families",
                        (Py_ssize_t)r.families, "selected", (Py_ssize_t)r.selected, "effect",
                        r.effect, "se_effect", r.se_effect, "ci_low", r.ci_low, "ci_high",
                        r.ci_high, "ci_method", r.ci_method, "lrt", r.lrt, "df", r.df, "p_value",
                        r.p_value, "bootstrap_replicates", r.bootstrap_replicates,
                        "bootstrap_p_value", r.bootstrap_p_value);
  ext_context_leave(c);
  ext_release(&sel);
  return out;
}

/* simulate(tree, gain, loss, families, retained_fraction, effect,
 *          gamma_cats, alpha, condition, seed, states_out uint8
 *          [families * tips], retained_out uint8 [families]) */
static PyObject *simulate(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *cap, *sobj, *robj;
  fitcl_sim_options o;
  memset(&o, 0, sizeof o);
  Py_ssize_t families;
  unsigned long long seed;
  if (!PyArg_ParseTuple(args, "OddnddidpKOO", &cap, &o.gain, &o.loss, &families,
                        &o.retained_fraction, &o.effect, &o.gamma_cats, &o.alpha, &o.condition,
                        &seed, &sobj, &robj))
    return NULL;
  fitcl_tree *t = handle(cap, TREE);
  if (!t) return NULL;
  if (families < 1) return PyErr_Format(PyExc_ValueError, "families must be >= 1");
  o.families = (size_t)families;
  o.seed = seed;
  Py_buffer s, r;
  if (ext_buffer(sobj, "B", families * fitcl_tree_ntips(t), 1, "states", &s) < 0) return NULL;
  if (ext_buffer(robj, "B", families, 1, "retained", &r) < 0) {
    ext_release(&s);
    return NULL;
  }
  fitcl_status st;
  Py_BEGIN_ALLOW_THREADS
  st = fitcl_simulate(NULL, t, &o, s.buf, r.buf);
  Py_END_ALLOW_THREADS
  ext_release(&s);
  ext_release(&r);
  if (st == FITCL_ERR_DATA)
    return ext_raise(st, "simulation failed: every draw of a family was absent everywhere (the "
                         "gain rate is too small for condition=True)");
  if (st != FITCL_OK) return ext_raise(st, NULL);
  Py_RETURN_NONE;
}

/* ancestral(context or None, data, gain, loss, alpha, loss_mult or None,
 *           gamma_cats, p_out float64 [families * nodes], gains_out
 *           float64 [nodes], losses_out float64 [nodes]) */
static PyObject *ancestral(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *cobj, *cap, *mobj, *pobj, *gobj, *lobj;
  double gain, loss, alpha;
  int cats;
  if (!PyArg_ParseTuple(args, "OOdddOiOOO", &cobj, &cap, &gain, &loss, &alpha, &mobj, &cats, &pobj,
                        &gobj, &lobj))
    return NULL;
  ext_context *c = cobj == Py_None ? NULL : ext_context_arg(cobj);
  if (cobj != Py_None && !c) return NULL;
  fitcl_data *d = handle(cap, DATA);
  if (!d) return NULL;
  int nodes = fitcl_tree_nnodes(fitcl_data_tree(d));
  size_t nf = fitcl_data_nfamilies(d);
  Py_buffer mult, p, g, l;
  memset(&p, 0, sizeof p);
  memset(&g, 0, sizeof g);
  memset(&l, 0, sizeof l);
  PyObject *out = NULL;
  if (ext_buffer_opt(mobj, "d", -1, 0, "loss_mult", &mult) < 0) return NULL;
  if (ext_buffer(pobj, "d", (Py_ssize_t)(nf * (size_t)nodes), 1, "p_present", &p) < 0 ||
      ext_buffer(gobj, "d", nodes, 1, "gains", &g) < 0 ||
      ext_buffer(lobj, "d", nodes, 1, "losses", &l) < 0)
    goto done;
  fitcl_gl_params gp = {gain, loss, alpha, mult.buf, NULL};
  fitcl_ancestral_result r;
  memset(&r, 0, sizeof r);
  fitcl_status st;
  if (c) ext_context_enter(c);
  Py_BEGIN_ALLOW_THREADS
  st = fitcl_ancestral(c ? c->ctx : NULL, d, &gp, cats, &r);
  if (st == FITCL_OK) {
    memcpy(p.buf, r.p_present, nf * (size_t)nodes * sizeof(double));
    memcpy(g.buf, r.gains, (size_t)nodes * sizeof(double));
    memcpy(l.buf, r.losses, (size_t)nodes * sizeof(double));
  }
  fitcl_ancestral_free(&r);
  Py_END_ALLOW_THREADS
  if (st != FITCL_OK) ext_raise_ctx(st, c ? c->ctx : NULL);
  if (c) ext_context_leave(c);
  if (st == FITCL_OK) out = Py_NewRef(Py_None);
done:
  ext_release(&l);
  ext_release(&g);
  ext_release(&p);
  ext_release(&mult);
  return out;
}

PyMethodDef ext_gainloss_methods[] = {
  {"tree_load", tree_load, METH_VARARGS, "tree_load(text_or_path, is_path) -> tree handle."},
  {"tree_info", tree_info, METH_O,
   "(tip_names, parents, lengths, labels, newick) of a tree handle."},
  {"matrix_read", matrix_read, METH_VARARGS, "matrix_read(path, format, taxa_in_rows)."},
  {"matrix_create", matrix_create, METH_VARARGS,
   "matrix_create(values, families, taxa, family_names, taxon_names)."},
  {"matrix_info", matrix_info, METH_VARARGS,
   "matrix_info(matrix, values_out) -> (family_names, taxon_names)."},
  {"matrix_write_rtab", matrix_write_rtab, METH_VARARGS, "matrix_write_rtab(matrix, path)."},
  {"data_build", data_build, METH_VARARGS, "data_build(tree, matrix, prune, ignore_extra)."},
  {"data_info", data_info, METH_O, "(tree, families, patterns, family_names) of a data set."},
  {"data_set_groups", data_set_groups, METH_VARARGS, "data_set_groups(data, groups)."},
  {"select_families", select_families, METH_VARARGS,
   "select_families(context, data, path, regex, out)."},
  {"lik_create", lik_create, METH_VARARGS,
   "lik_create(context, data, gamma_cats, no_condition, root_p1)."},
  {"lik_eval", lik_eval, METH_VARARGS,
   "lik_eval(lik, gain, loss, alpha, loss_mult, want_grad, family_out)."},
  {"fit_rates", fit_rates, METH_VARARGS, "fit_rates(context, data, fit_options) -> dict."},
  {"retention_test", retention_test, METH_VARARGS,
   "retention_test(context, data, selected, fit_options, bootstrap, seed, profile_ci, "
   "progress) -> dict."},
  {"simulate", simulate, METH_VARARGS, "simulate(tree, ..., states_out, retained_out)."},
  {"ancestral", ancestral, METH_VARARGS, "ancestral(context, data, ..., p_out, gains, losses)."},
  {NULL, NULL, 0, NULL}};

int ext_gainloss_init(PyObject *module) {
  return PyModule_AddIntConstant(module, "PA_MISSING", FITCL_PA_MISSING);
}
