/* Batched fits: fit_batch hands (N, n) NumPy arrays to fitcl_fit_batch
 * with their own strides (C or Fortran order, slices, and the zero strides
 * of np.broadcast_to views: a row shared by every fit, one value per fit),
 * so no input of the size of the data is copied, and runs the fits with
 * the GIL released.  fitcl/_batch.py prepares the arguments. */
#include <stdint.h>
#include <string.h>

#include "ext.h"

/* ---- strided inputs ------------------------------------------------------------- */

/* A float64 buffer of shape (nfits, npoints) with non-negative strides
 * that are whole items, described as a fitcl_batch_array (Py_None: absent).
 * Raises naming `what` and returns -1 otherwise (nothing to release). */
static int strided(PyObject *obj, Py_ssize_t nfits, Py_ssize_t npoints, const char *what,
                   Py_buffer *view, fitcl_batch_array *out) {
  memset(view, 0, sizeof *view);
  memset(out, 0, sizeof *out);
  if (obj == Py_None) return 0;
  if (PyObject_GetBuffer(obj, view, PyBUF_STRIDES | PyBUF_FORMAT) < 0) {
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError, "%s: expected a float64 array, got %.100s", what,
                 Py_TYPE(obj)->tp_name);
    view->buf = NULL;
    return -1;
  }
  const char *fmt = view->format ? view->format : "B";
  if (*fmt == '<' || *fmt == '=' || *fmt == '@') ++fmt;
  const char *why = NULL;
  if (view->itemsize != 8 || strcmp(fmt, "d")) why = "float64 items";
  else if (view->ndim != 2 || view->shape[0] != nfits || view->shape[1] != npoints)
    why = "the shape (fits, points)";
  else if (view->strides[0] < 0 || view->strides[1] < 0 || view->strides[0] % 8 ||
           view->strides[1] % 8 || (uintptr_t)view->buf % 8)
    why = "aligned, non-negative strides";
  if (why) {
    PyErr_Format(PyExc_ValueError, "%s: expected %s (fitcl/_batch.py prepares them)", what, why);
    ext_release(view);
    return -1;
  }
  out->data = view->buf;
  out->fit_stride = (size_t)(view->strides[0] / 8);
  out->point_stride = (size_t)(view->strides[1] / 8);
  return 0;
}

/* Rows of p values, one shared or one per fit: the row stride (0 or p). */
static int rows_of(const Py_buffer *v, Py_ssize_t np, Py_ssize_t nfits, const char *what,
                   size_t *stride) {
  Py_ssize_t items = v->len / v->itemsize;
  if (items == np) *stride = 0;
  else if (items == np * nfits) *stride = (size_t)np;
  else {
    PyErr_Format(PyExc_ValueError, "%s: expected %zd or %zd values, got %zd", what, np, np * nfits,
                 items);
    return -1;
  }
  return 0;
}

static void on_batch_progress(void *user, size_t done, size_t total, double elapsed) {
  ext_watch *w = user;
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *args = NULL;
  if (w->callback) args = Py_BuildValue("(nnd)", (Py_ssize_t)done, (Py_ssize_t)total, elapsed);
  ext_watch_poll(w, args);
  PyGILState_Release(g);
}

/* ---- the call ---------------------------------------------------------------------- */

enum { IN_Y, IN_SIGMA, IN_WEIGHTS, IN_P0, IN_LOWER, IN_UPPER, IN_FIXED, IN_COUNT };
enum { OUT_PARAMS, OUT_STDERR, OUT_COV, OUT_CHI2, OUT_ITER, OUT_STATUS, OUT_COUNT };

/* fit_batch(context, model, y, xs, sigma, weights, p0, lower, upper, fixed,
 *           estimator, bounds_mode, absolute_sigma, ftol, xtol, gtol,
 *           max_iter, layout, progress, check_signals,
 *           params, stderr, covariance, chi2, iterations, status)
 *   -> (converged, max_iter, singular, nonfinite, interrupted, iterations,
 *       launches, backend, layout, seconds)
 *
 * y, xs[v], sigma, weights: (N, n) float64 with any non-negative strides;
 * p0, lower, upper (float64) and fixed (int32): C-contiguous, p or N*p
 * values; outputs C-contiguous (covariance may be None). */
static PyObject *fit_batch(PyObject *self, PyObject *const *a, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 26) return PyErr_Format(PyExc_TypeError, "fit_batch takes 26 arguments");
  ext_context *c = ext_context_arg(a[0]);
  ext_model *m = c ? ext_model_arg(a[1]) : NULL;
  if (!m) return NULL;
  if (m->pycb)
    return PyErr_Format(PyExc_TypeError, "fit_batch: a Python-callable model cannot be batched");
  if (!PyTuple_Check(a[3])) return PyErr_Format(PyExc_TypeError, "xs: expected a tuple");
  const Py_ssize_t np = (Py_ssize_t)fitcl_model_nparams(m->model);
  const Py_ssize_t nv = (Py_ssize_t)fitcl_model_nvars(m->model);
  if (PyTuple_GET_SIZE(a[3]) != nv)
    return PyErr_Format(PyExc_ValueError, "the model reads %zd variables, got %zd x arrays", nv,
                        PyTuple_GET_SIZE(a[3]));

  fitcl_batch_data d;
  fitcl_batch_options o;
  fitcl_batch_outputs out;
  memset(&d, 0, sizeof d);
  memset(&o, 0, sizeof o);
  memset(&out, 0, sizeof out);
  Py_buffer in[IN_COUNT], x[FITCL_NLSQ_MAX_VARS], res[OUT_COUNT];
  memset(in, 0, sizeof in);
  memset(x, 0, sizeof x);
  memset(res, 0, sizeof res);
  PyObject *result = NULL;

  /* y fixes N and n; every other array is checked against them. */
  if (PyObject_GetBuffer(a[2], &in[IN_Y], PyBUF_STRIDES) < 0) return NULL;
  int ydims = in[IN_Y].ndim;
  Py_ssize_t N = ydims == 2 ? in[IN_Y].shape[0] : 0, n = ydims == 2 ? in[IN_Y].shape[1] : 0;
  ext_release(&in[IN_Y]);
  if (ydims != 2) return PyErr_Format(PyExc_ValueError, "ydata: expected a 2-D array");
  if (strided(a[2], N, n, "ydata", &in[IN_Y], &d.y) < 0) return NULL;
  for (Py_ssize_t v = 0; v < nv; ++v)
    if (strided(PyTuple_GET_ITEM(a[3], v), N, n, "xdata", &x[v], &d.x[v]) < 0) goto done;
  if (strided(a[4], N, n, "sigma", &in[IN_SIGMA], &d.sigma) < 0 ||
      strided(a[5], N, n, "weights", &in[IN_WEIGHTS], &d.weights) < 0)
    goto done;
  d.nfits = (size_t)N;
  d.npoints = (size_t)n;

  if (ext_buffer(a[6], "d", -1, 0, "p0", &in[IN_P0]) < 0 ||
      rows_of(&in[IN_P0], np, N, "p0", &d.p0_fit_stride) < 0 ||
      ext_buffer_opt(a[7], "d", -1, 0, "lower bounds", &in[IN_LOWER]) < 0 ||
      ext_buffer_opt(a[8], "d", -1, 0, "upper bounds", &in[IN_UPPER]) < 0 ||
      ext_buffer_opt(a[9], "i", -1, 0, "fixed", &in[IN_FIXED]) < 0)
    goto done;
  d.p0 = in[IN_P0].buf;
  size_t lower_rows = 0, upper_rows = 0;
  if ((in[IN_LOWER].buf && rows_of(&in[IN_LOWER], np, N, "lower bounds", &lower_rows) < 0) ||
      (in[IN_UPPER].buf && rows_of(&in[IN_UPPER], np, N, "upper bounds", &upper_rows) < 0) ||
      (in[IN_FIXED].buf && rows_of(&in[IN_FIXED], np, N, "fixed", &o.fixed_fit_stride) < 0))
    goto done;
  if (in[IN_LOWER].buf && in[IN_UPPER].buf && lower_rows != upper_rows) {
    PyErr_Format(PyExc_ValueError, "bounds: the lower and upper bounds need the same shape");
    goto done;
  }
  o.lower = in[IN_LOWER].buf;
  o.upper = in[IN_UPPER].buf;
  o.bounds_fit_stride = in[IN_LOWER].buf ? lower_rows : upper_rows;
  o.fixed = in[IN_FIXED].buf;

  int estimator, bmode, absolute, layout, check_signals;
  long max_iter;
  if ((estimator = (int)PyLong_AsLong(a[10])) == -1 && PyErr_Occurred()) goto done;
  if ((bmode = (int)PyLong_AsLong(a[11])) == -1 && PyErr_Occurred()) goto done;
  if ((absolute = PyObject_IsTrue(a[12])) < 0) goto done;
  o.ftol = PyFloat_AsDouble(a[13]);
  o.xtol = PyFloat_AsDouble(a[14]);
  o.gtol = PyFloat_AsDouble(a[15]);
  if (PyErr_Occurred()) goto done;
  if ((max_iter = PyLong_AsLong(a[16])) == -1 && PyErr_Occurred()) goto done;
  if ((layout = (int)PyLong_AsLong(a[17])) == -1 && PyErr_Occurred()) goto done;
  if ((check_signals = PyObject_IsTrue(a[19])) < 0) goto done;
  if (max_iter < 0 || max_iter > 0x7fffffff) {
    PyErr_Format(PyExc_ValueError, "max_nfev: %ld is out of range", max_iter);
    goto done;
  }
  o.estimator = (fitcl_batch_estimator)estimator;
  o.bounds_mode = (fitcl_bounds_mode)bmode;
  o.absolute_sigma = absolute;
  o.max_iter = (int)max_iter;
  o.layout = layout;

  if (ext_buffer(a[20], "d", N * np, 1, "params", &res[OUT_PARAMS]) < 0 ||
      ext_buffer(a[21], "d", N * np, 1, "stderr", &res[OUT_STDERR]) < 0 ||
      ext_buffer_opt(a[22], "d", N * np * np, 1, "covariance", &res[OUT_COV]) < 0 ||
      ext_buffer(a[23], "d", N, 1, "chi2", &res[OUT_CHI2]) < 0 ||
      ext_buffer(a[24], "i", N, 1, "iterations", &res[OUT_ITER]) < 0 ||
      ext_buffer(a[25], "i", N, 1, "status", &res[OUT_STATUS]) < 0)
    goto done;
  out.params = res[OUT_PARAMS].buf;
  out.stderr_ = res[OUT_STDERR].buf;
  out.covariance = res[OUT_COV].buf;
  out.chi2 = res[OUT_CHI2].buf;
  out.iterations = res[OUT_ITER].buf;
  out.status = res[OUT_STATUS].buf;

  /* Progress and Ctrl-C between slices of fits (a slice is many fits, so
   * the poll costs nothing measurable). */
  ext_watch w;
  ext_watch_init(&w, a[18]);
  w.check_signals = check_signals;
  o.interrupt = &w.interrupt;
  if (w.callback || w.check_signals) {
    o.progress = on_batch_progress;
    o.progress_user = &w;
  }
  fitcl_batch_summary s;
  fitcl_status st;
  ext_context_enter(c);
  Py_BEGIN_ALLOW_THREADS
  st = fitcl_fit_batch(c->ctx, m->model, &d, &o, &out, &s);
  Py_END_ALLOW_THREADS
  /* An exception of the callback (or Ctrl-C) caused the interrupt: it goes
   * first. */
  if (ext_watch_end(&w) < 0) (void)0;
  else if (st != FITCL_OK) ext_raise_ctx(st, c->ctx);
  else
    result = Py_BuildValue("(nnnnnKKsid)", (Py_ssize_t)s.converged, (Py_ssize_t)s.max_iter,
                           (Py_ssize_t)s.singular, (Py_ssize_t)s.nonfinite,
                           (Py_ssize_t)s.interrupted, (unsigned long long)s.iterations,
                           (unsigned long long)s.launches, s.backend ? s.backend : "",
                           s.layout, s.seconds);
  ext_context_leave(c);
done:
  for (int i = 0; i < IN_COUNT; ++i) ext_release(&in[i]);
  for (Py_ssize_t v = 0; v < nv; ++v) ext_release(&x[v]);
  for (int i = 0; i < OUT_COUNT; ++i) ext_release(&res[i]);
  return result;
}

/* The names of the fitcl_curvefit_status codes, indexed by code. */
static PyObject *curvefit_status_names(PyObject *self, PyObject *args) {
  (void)self;
  (void)args;
  const int count = FITCL_CURVEFIT_INTERRUPTED + 1;
  PyObject *t = PyTuple_New(count);
  for (int i = 0; t && i < count; ++i) {
    PyObject *s = PyUnicode_FromString(fitcl_curvefit_status_name((fitcl_curvefit_status)i));
    if (!s) Py_CLEAR(t);
    else PyTuple_SET_ITEM(t, i, s);
  }
  return t;
}

PyMethodDef ext_batch_methods[] = {
  {"fit_batch", (PyCFunction)(void (*)(void))fit_batch, METH_FASTCALL,
   "N independent fits of one model (fitcl_fit_batch; see fitcl/_batch.py)."},
  {"curvefit_status_names", curvefit_status_names, METH_NOARGS,
   "The fit status names, indexed by status code."},
  {NULL, NULL, 0, NULL}};
