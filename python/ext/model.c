/* _fitcl.Model: compiled model expressions and built-in models, and models
 * that are Python callables.
 *
 * A Python callable cannot run once per block of 256 points on the
 * library's worker threads (each call would take the GIL), so a callable
 * model reads one data column, the row index, and serves every block from
 * arrays that the Python side fills over the whole data set in one
 * vectorised call per parameter vector: F (values) and J (the Jacobian,
 * row-major n x nparams).  The library calls the model concurrently from
 * its workers; a lock serialises them, and the first block of a pass at new
 * parameters makes the one Python call. */
#include <math.h>
#include <string.h>

#include "ext.h"

struct ext_pycb {
  PyObject *evaluator;  /* evaluator(params: tuple, want_f: bool, want_jac: bool) */
  Py_buffer F, J;       /* n and n * nparams float64, filled by the evaluator */
  size_t n, np;
  double pf[FITCL_NLSQ_MAX_PARAMS], pj[FITCL_NLSQ_MAX_PARAMS];
  int have_f, have_j;
  PyThread_type_lock mu;
  int failed;
  ext_exc exc;          /* what the evaluator raised */
  volatile int *interrupt;
};

ext_model *ext_model_arg(PyObject *obj) {
  if (!PyObject_TypeCheck(obj, &ext_model_type)) {
    PyErr_Format(PyExc_TypeError, "expected a _fitcl.Model, got %.100s", Py_TYPE(obj)->tp_name);
    return NULL;
  }
  return (ext_model *)obj;
}

/* ---- names ----------------------------------------------------------------- */

/* UTF-8 pointers of a tuple of str, valid while the tuple lives. */
static int names_of(PyObject *tuple, const char **out, size_t cap, const char *what, size_t *n) {
  if (!PyTuple_Check(tuple))
    return PyErr_Format(PyExc_TypeError, "%s: expected a tuple of str", what), -1;
  Py_ssize_t k = PyTuple_GET_SIZE(tuple);
  if ((size_t)k > cap) {
    PyErr_Format(PyExc_ValueError, "%s: at most %zu names, got %zd", what, cap, k);
    return -1;
  }
  for (Py_ssize_t i = 0; i < k; ++i) {
    out[i] = PyUnicode_AsUTF8(PyTuple_GET_ITEM(tuple, i));
    if (!out[i]) return -1;
  }
  *n = (size_t)k;
  return 0;
}

static PyObject *model_new_object(PyObject *context, fitcl_model *m) {
  ext_model *o = PyObject_New(ext_model, &ext_model_type);
  if (!o) {
    fitcl_model_destroy(m);
    return NULL;
  }
  o->model = m;
  o->context = Py_NewRef(context);
  o->pycb = NULL;
  return (PyObject *)o;
}

/* compile_model(context, expr, params: tuple, variables: tuple) or
 * compile_model(context, name, None, None) for a built-in. */
static PyObject *compile_model(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *cobj, *params, *vars;
  const char *text;
  if (!PyArg_ParseTuple(args, "OsOO", &cobj, &text, &params, &vars)) return NULL;
  ext_context *c = ext_context_arg(cobj);
  if (!c) return NULL;
  const char *pn[FITCL_NLSQ_MAX_PARAMS + 1], *vn[FITCL_NLSQ_MAX_VARS + 1];
  size_t np = 0, nv = 0;
  int builtin = params == Py_None;
  if (!builtin && (names_of(params, pn, FITCL_NLSQ_MAX_PARAMS + 1, "params", &np) < 0 ||
                   names_of(vars, vn, FITCL_NLSQ_MAX_VARS + 1, "variables", &nv) < 0))
    return NULL;
  fitcl_model *m = NULL;
  fitcl_status st;
  ext_context_enter(c);
  st = builtin ? fitcl_model_builtin(c->ctx, text, &m)
               : fitcl_model_compile(c->ctx, text, pn, np, vn, nv, &m);
  if (st != FITCL_OK) ext_raise_ctx(st, c->ctx);
  ext_context_leave(c);
  if (st != FITCL_OK) return NULL;
  return model_new_object(cobj, m);
}

/* ---- Python-callable models ------------------------------------------------------ */

static int pycb_call(ext_pycb *cb, const double *params, int want_f, int want_j) {
  PyObject *p = PyTuple_New((Py_ssize_t)cb->np);
  if (!p) return -1;
  for (size_t k = 0; k < cb->np; ++k) {
    PyObject *v = PyFloat_FromDouble(params[k]);
    if (!v) {
      Py_DECREF(p);
      return -1;
    }
    PyTuple_SET_ITEM(p, (Py_ssize_t)k, v);
  }
  PyObject *r = PyObject_CallFunction(cb->evaluator, "NOO", p, want_f ? Py_True : Py_False,
                                      want_j ? Py_True : Py_False);
  if (!r) return -1;
  Py_DECREF(r);
  return 0;
}

static void pycb_fn(void *user, const double *params, const double *const *x, size_t n, double *f,
                    double *jac) {
  ext_pycb *cb = user;
  const size_t np = cb->np, bytes = np * sizeof(double);
  PyThread_acquire_lock(cb->mu, WAIT_LOCK);
  if (!cb->failed) {
    int want_f = !cb->have_f || memcmp(cb->pf, params, bytes) != 0;
    int want_j = jac && (!cb->have_j || memcmp(cb->pj, params, bytes) != 0);
    if (want_f || want_j) {
      PyGILState_STATE g = PyGILState_Ensure();
      if (pycb_call(cb, params, want_f, want_j) < 0) {
        cb->failed = 1;
        ext_exc_fetch(&cb->exc);
        if (cb->interrupt) *cb->interrupt = 1;
      }
      PyGILState_Release(g);
      if (!cb->failed) {
        if (want_f) memcpy(cb->pf, params, bytes), cb->have_f = 1;
        if (want_j) memcpy(cb->pj, params, bytes), cb->have_j = 1;
      }
    }
  }
  const double *F = cb->F.buf, *J = cb->J.buf;
  for (size_t i = 0; i < n; ++i) {
    size_t row = (size_t)x[0][i];
    f[i] = cb->failed || row >= cb->n ? NAN : F[row];
    if (jac)
      for (size_t k = 0; k < np; ++k)
        jac[i * np + k] = cb->failed || row >= cb->n ? NAN : J[row * np + k];
  }
  PyThread_release_lock(cb->mu);
}

static void pycb_free(ext_pycb *cb) {
  if (!cb) return;
  Py_XDECREF(cb->evaluator);
  ext_exc_clear(&cb->exc);
  ext_release(&cb->F);
  ext_release(&cb->J);
  if (cb->mu) PyThread_free_lock(cb->mu);
  PyMem_Free(cb);
}

void ext_pycb_begin(ext_pycb *cb, volatile int *interrupt) {
  if (!cb) return;
  cb->interrupt = interrupt;
  cb->failed = 0;
  cb->have_f = cb->have_j = 0;
  ext_exc_clear(&cb->exc);
}

int ext_pycb_end(ext_pycb *cb) {
  if (!cb) return 0;
  cb->interrupt = NULL;
  if (!cb->failed) return 0;
  ext_exc_restore(&cb->exc);
  return -1;
}

/* callable_model(context, evaluator, params: tuple, F, J) -> Model.  The
 * model reads one variable, the row index (a float64 column 0, 1, ...). */
static PyObject *callable_model(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *cobj, *evaluator, *params, *Fobj, *Jobj;
  if (!PyArg_ParseTuple(args, "OOOOO", &cobj, &evaluator, &params, &Fobj, &Jobj)) return NULL;
  ext_context *c = ext_context_arg(cobj);
  if (!c) return NULL;
  const char *pn[FITCL_NLSQ_MAX_PARAMS + 1];
  size_t np = 0;
  if (names_of(params, pn, FITCL_NLSQ_MAX_PARAMS + 1, "params", &np) < 0) return NULL;
  ext_pycb *cb = PyMem_Calloc(1, sizeof *cb);
  if (!cb) return PyErr_NoMemory();
  cb->np = np;
  if (ext_buffer(Fobj, "d", -1, 0, "F", &cb->F) < 0 ||
      ext_buffer(Jobj, "d", (Py_ssize_t)(cb->F.len / 8 * (Py_ssize_t)np), 0, "J", &cb->J) < 0 ||
      !(cb->mu = PyThread_allocate_lock())) {
    if (!PyErr_Occurred()) PyErr_NoMemory();
    pycb_free(cb);
    return NULL;
  }
  cb->n = (size_t)(cb->F.len / 8);
  cb->evaluator = Py_NewRef(evaluator);
  static const char *const row_var[] = {"fitcl_row"};
  fitcl_model *m = NULL;
  ext_context_enter(c);
  fitcl_status st = fitcl_model_from_callback(c->ctx, pycb_fn, cb, pn, np, row_var, 1, &m);
  if (st != FITCL_OK) ext_raise_ctx(st, c->ctx);
  ext_context_leave(c);
  if (st != FITCL_OK) {
    pycb_free(cb);
    return NULL;
  }
  PyObject *o = model_new_object(cobj, m);
  if (!o) {
    pycb_free(cb);
    return NULL;
  }
  ((ext_model *)o)->pycb = cb;
  return o;
}

/* ---- the Model type ------------------------------------------------------------- */

static void model_dealloc(PyObject *self) {
  ext_model *m = (ext_model *)self;
  fitcl_model_destroy(m->model);
  pycb_free(m->pycb);
  Py_XDECREF(m->context);
  PyObject_Free(self);
}

static PyObject *name_tuple(const fitcl_model *m, int vars) {
  size_t n = vars ? fitcl_model_nvars(m) : fitcl_model_nparams(m);
  PyObject *t = PyTuple_New((Py_ssize_t)n);
  for (size_t i = 0; t && i < n; ++i) {
    const char *s = vars ? fitcl_model_var_name(m, i) : fitcl_model_param_name(m, i);
    PyObject *u = PyUnicode_FromString(s ? s : "");
    if (!u) Py_CLEAR(t);
    else PyTuple_SET_ITEM(t, (Py_ssize_t)i, u);
  }
  return t;
}

static PyObject *model_params(PyObject *self, void *closure) {
  (void)closure;
  return name_tuple(((ext_model *)self)->model, 0);
}

static PyObject *model_vars(PyObject *self, void *closure) {
  (void)closure;
  return name_tuple(((ext_model *)self)->model, 1);
}

static PyObject *model_expr(PyObject *self, void *closure) {
  (void)closure;
  const char *e = fitcl_model_expr(((ext_model *)self)->model);
  if (!e) Py_RETURN_NONE;
  return PyUnicode_FromString(e);
}

/* eval(params, xs: tuple of float64 columns, f_out, jac_out or None).  The
 * columns hold n values each; f_out n; jac_out n * nparams (row-major). */
static PyObject *model_eval(PyObject *self, PyObject *args) {
  ext_model *m = (ext_model *)self;
  PyObject *pobj, *xs, *fobj, *jobj;
  if (!PyArg_ParseTuple(args, "OO!OO", &pobj, &PyTuple_Type, &xs, &fobj, &jobj)) return NULL;
  size_t np = fitcl_model_nparams(m->model), nv = fitcl_model_nvars(m->model);
  if ((size_t)PyTuple_GET_SIZE(xs) != nv)
    return PyErr_Format(PyExc_ValueError, "the model reads %zu variables, got %zd columns", nv,
                        PyTuple_GET_SIZE(xs));
  Py_buffer p, f, jac, x[FITCL_NLSQ_MAX_VARS];
  const double *xp[FITCL_NLSQ_MAX_VARS];
  size_t got = 0;
  PyObject *ret = NULL;
  memset(&f, 0, sizeof f);
  memset(&jac, 0, sizeof jac);
  if (ext_buffer(pobj, "d", (Py_ssize_t)np, 0, "params", &p) < 0) return NULL;
  if (ext_buffer(fobj, "d", -1, 1, "f", &f) < 0) goto done;
  Py_ssize_t n = f.len / 8;
  if (ext_buffer_opt(jobj, "d", n * (Py_ssize_t)np, 1, "jac", &jac) < 0) goto done;
  for (; got < nv; ++got) {
    if (ext_buffer(PyTuple_GET_ITEM(xs, (Py_ssize_t)got), "d", n, 0, "x", &x[got]) < 0) goto done;
    xp[got] = x[got].buf;
  }
  fitcl_status st;
  Py_BEGIN_ALLOW_THREADS
  st = fitcl_model_eval(m->model, p.buf, nv ? xp : NULL, (size_t)n, f.buf, jac.buf);
  Py_END_ALLOW_THREADS
  if (st != FITCL_OK) {
    ext_raise(st, "the model cannot be evaluated on the host");
    goto done;
  }
  ret = Py_NewRef(Py_None);
done:
  while (got > 0) ext_release(&x[--got]);
  ext_release(&jac);
  ext_release(&f);
  ext_release(&p);
  return ret;
}

static PyMethodDef model_type_methods[] = {
  {"eval", model_eval, METH_VARARGS,
   "eval(params, xs, f_out, jac_out): values and Jacobian on the host."},
  {NULL, NULL, 0, NULL}};

static PyGetSetDef model_getset[] = {
  {"params", model_params, NULL, "Parameter names, in the parameter vector's order.", NULL},
  {"variables", model_vars, NULL, "Variable (data column) names.", NULL},
  {"expr", model_expr, NULL, "The expression text, or None.", NULL},
  {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject ext_model_type = {
  PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_fitcl.Model",
  .tp_basicsize = sizeof(ext_model),
  .tp_flags = Py_TPFLAGS_DEFAULT,
  .tp_doc = "A compiled model (made by compile_model or callable_model).",
  .tp_dealloc = model_dealloc,
  .tp_methods = model_type_methods,
  .tp_getset = model_getset,
};

PyMethodDef ext_model_methods[] = {
  {"compile_model", compile_model, METH_VARARGS,
   "compile_model(context, expr, params, variables) -> Model; params None: a built-in name."},
  {"callable_model", callable_model, METH_VARARGS,
   "callable_model(context, evaluator, params, F, J) -> Model over the row index."},
  {NULL, NULL, 0, NULL}};
