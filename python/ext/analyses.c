/* The gene-content analyses (fitcl/gainloss.py wraps them): likelihood
 * handles, rate fits, the retention test, simulation and ancestral states,
 * every computation with the GIL released. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ext.h"

/* A likelihood handle keeps its Context (the capsule's context) alive. */
static void lik_free(PyObject *cap) {
  fitcl_lik_destroy(PyCapsule_GetPointer(cap, EXT_LIK));
  Py_XDECREF((PyObject *)PyCapsule_GetContext(cap));
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
  fitcl_data *d = c ? ext_handle(cap, EXT_DATA) : NULL;
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
  PyObject *out = PyCapsule_New(lik, EXT_LIK, lik_free);
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
  fitcl_lik *lik = ext_handle(cap, EXT_LIK);
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
  fitcl_data *d = c ? ext_handle(cap, EXT_DATA) : NULL;
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
  fitcl_data *d = c ? ext_handle(cap, EXT_DATA) : NULL;
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
  fitcl_tree *t = ext_handle(cap, EXT_TREE);
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
  fitcl_data *d = ext_handle(cap, EXT_DATA);
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

PyMethodDef ext_analyses_methods[] = {
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
