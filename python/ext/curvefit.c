/* Curve fits: fit_arrays (NumPy arrays, used in place) and fit_source (a
 * file streamed by the library), both with the GIL released, and the
 * progress / Ctrl-C watch that long calls poll between iterations. */
#include <math.h>
#include <string.h>

#include "ext.h"

/* ---- the watch --------------------------------------------------------------- */

void ext_watch_init(ext_watch *w, PyObject *callback) {
  memset(w, 0, sizeof *w);
  w->callback = callback == Py_None ? NULL : callback;
}

void ext_watch_poll(ext_watch *w, PyObject *args) {
  if (ext_exc_pending(&w->exc)) {
    Py_XDECREF(args);
    return;
  }
  if (args) {
    PyObject *r = PyObject_Call(w->callback, args, NULL);
    Py_DECREF(args);
    if (!r) goto fail;
    Py_DECREF(r);
  }
  /* A no-op off the main thread. */
  if (w->check_signals && PyErr_CheckSignals() < 0) goto fail;
  return;
fail:
  ext_exc_fetch(&w->exc);
  w->interrupt = 1;
}

int ext_watch_end(ext_watch *w) {
  if (!ext_exc_pending(&w->exc)) return 0;
  ext_exc_restore(&w->exc);
  return -1;
}

/* The solver's progress callback: runs on the fitting thread, which gave up
 * the GIL for the fit. */
static void on_progress(void *user, const fitcl_curvefit_progress *p) {
  ext_watch *w = user;
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *args = NULL;
  if (w->callback)
    args = Py_BuildValue("(iddddd)", p->iteration, p->cost, p->lambda, p->step_norm,
                         (double)p->accepted, p->elapsed);
  ext_watch_poll(w, args);
  PyGILState_Release(g);
}

/* ---- shared between the two fits ----------------------------------------------- */

/* Solver options and the output arrays, parsed from Python objects. */
typedef struct fit_io {
  fitcl_curvefit_options o;
  Py_buffer p0, lower, upper, scale;
  Py_buffer popt, pcov, perr, corr;
} fit_io;

static void fit_io_release(fit_io *io) {
  Py_buffer *all[] = {&io->p0, &io->lower, &io->upper, &io->scale,
                      &io->popt, &io->pcov, &io->perr, &io->corr};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) ext_release(all[i]);
}

static int fit_io_buffers(fit_io *io, size_t np, PyObject *p0, PyObject *lower, PyObject *upper,
                          PyObject *scale, PyObject *popt, PyObject *pcov, PyObject *perr,
                          PyObject *corr) {
  Py_ssize_t n = (Py_ssize_t)np;
  memset(io, 0, sizeof *io);
  if (ext_buffer(p0, "d", n, 0, "p0", &io->p0) < 0 ||
      ext_buffer_opt(lower, "d", n, 0, "lower bounds", &io->lower) < 0 ||
      ext_buffer_opt(upper, "d", n, 0, "upper bounds", &io->upper) < 0 ||
      ext_buffer_opt(scale, "d", n, 0, "x_scale", &io->scale) < 0 ||
      ext_buffer(popt, "d", n, 1, "popt", &io->popt) < 0 ||
      ext_buffer(pcov, "d", n * n, 1, "pcov", &io->pcov) < 0 ||
      ext_buffer_opt(perr, "d", n, 1, "perr", &io->perr) < 0 ||
      ext_buffer_opt(corr, "d", n * n, 1, "corr", &io->corr) < 0) {
    fit_io_release(io);
    return -1;
  }
  io->o.lower = io->lower.buf;
  io->o.upper = io->upper.buf;
  io->o.x_scale = io->scale.buf;
  return 0;
}

/* Copies the result into the output arrays and returns the scalars:
 * (status, status_name, iterations, jacobian_passes, cost, rss,
 *  reduced_chi2, condition, ill_conditioned, singular, points, seconds,
 *  lambda). */
static PyObject *fit_result(fit_io *io, const fitcl_curvefit_result *r) {
  size_t n = r->nparams;
  memcpy(io->popt.buf, r->params, n * sizeof(double));
  double *cov = io->pcov.buf, *corr = io->corr.buf, *perr = io->perr.buf;
  for (size_t i = 0; i < n * n; ++i) {
    cov[i] = r->covariance[i];
    if (corr) corr[i] = r->correlation[i];
  }
  if (perr) memcpy(perr, r->stderr_, n * sizeof(double));
  return Py_BuildValue("(isiiddddiiKdd)", (int)r->status, fitcl_curvefit_status_name(r->status),
                       r->iterations, r->jacobian_passes, r->cost, r->rss, r->reduced_chi2,
                       r->condition, r->ill_conditioned, r->singular,
                       (unsigned long long)r->points, r->seconds, r->lambda);
}

static int as_int(PyObject *o, int *out) {
  long v = PyLong_AsLong(o);
  if (v == -1 && PyErr_Occurred()) return -1;
  *out = (int)v;
  return 0;
}

static int as_double(PyObject *o, double *out) {
  double v = PyFloat_AsDouble(o);
  if (v == -1.0 && PyErr_Occurred()) return -1;
  *out = v;
  return 0;
}

/* The solver scalars in the order both fits take them: loss, f_scale,
 * absolute_sigma, ftol, xtol, gtol, max_iter, bounds_mode, chunk. */
static int solver_scalars(PyObject *const *a, fitcl_curvefit_options *o) {
  int loss, absolute, bmode, chunk;
  if (as_int(a[0], &loss) < 0 || as_double(a[1], &o->f_scale) < 0 || as_int(a[2], &absolute) < 0 ||
      as_double(a[3], &o->ftol) < 0 || as_double(a[4], &o->xtol) < 0 ||
      as_double(a[5], &o->gtol) < 0 || as_int(a[6], &o->max_iter) < 0 ||
      as_int(a[7], &bmode) < 0 || as_int(a[8], &chunk) < 0)
    return -1;
  o->loss = (fitcl_loss)loss;
  o->absolute_sigma = absolute;
  o->bounds_mode = (fitcl_bounds_mode)bmode;
  o->chunk_points = (size_t)(chunk > 0 ? chunk : 0);
  return 0;
}

/* Runs `fit` on the context with the GIL released, the watch polled every
 * iteration when there is anything to watch. */
typedef fitcl_status (*fit_fn)(void *arg, fitcl_context *ctx, const fitcl_curvefit_options *o,
                               fitcl_curvefit_result *r);

static PyObject *run_fit(ext_context *c, ext_model *m, fit_io *io, PyObject *progress,
                         int check_signals, fit_fn fn, void *arg) {
  ext_watch w;
  ext_watch_init(&w, progress);
  w.check_signals = check_signals;
  io->o.interrupt = &w.interrupt;
  if (w.callback || w.check_signals) {
    io->o.progress = on_progress;
    io->o.progress_user = &w;
  }
  ext_pycb_begin(m->pycb, &w.interrupt);
  fitcl_curvefit_result r;
  fitcl_status st;
  ext_context_enter(c);
  Py_BEGIN_ALLOW_THREADS
  st = fn(arg, c->ctx, &io->o, &r);
  Py_END_ALLOW_THREADS
  PyObject *out = NULL;
  /* The user's exceptions first (they caused the interrupt), then ours. */
  if (ext_pycb_end(m->pycb) < 0) ext_exc_clear(&w.exc);
  else if (ext_watch_end(&w) < 0) (void)0;
  else if (st != FITCL_OK) ext_raise_ctx(st, c->ctx);
  else out = fit_result(io, &r);
  ext_context_leave(c);
  return out;
}

/* ---- arrays ---------------------------------------------------------------------- */

typedef struct arrays_arg {
  const fitcl_model *model;
  const double *x[FITCL_NLSQ_MAX_VARS];
  const double *y, *sigma;
  size_t n;
  const double *p0;
} arrays_arg;

static fitcl_status fit_arrays_fn(void *arg, fitcl_context *ctx, const fitcl_curvefit_options *o,
                                  fitcl_curvefit_result *r) {
  arrays_arg *a = arg;
  return fitcl_curve_fit_arrays(ctx, a->model, a->x, a->y, a->sigma, a->n, a->p0, o, r);
}

/* fit_arrays(context, model, xs, y, sigma, p0, lower, upper, x_scale,
 *            loss, f_scale, absolute_sigma, ftol, xtol, gtol, max_iter,
 *            bounds_mode, chunk, progress, check_signals,
 *            popt, pcov, perr, corr) */
static PyObject *fit_arrays(PyObject *self, PyObject *const *a, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 24) return PyErr_Format(PyExc_TypeError, "fit_arrays takes 24 arguments");
  ext_context *c = ext_context_arg(a[0]);
  ext_model *m = c ? ext_model_arg(a[1]) : NULL;
  if (!m) return NULL;
  if (!PyTuple_Check(a[2])) return PyErr_Format(PyExc_TypeError, "xs: expected a tuple");
  size_t np = fitcl_model_nparams(m->model), nv = fitcl_model_nvars(m->model);
  if ((size_t)PyTuple_GET_SIZE(a[2]) != nv)
    return PyErr_Format(PyExc_ValueError, "the model reads %zu variable%s, got %zd x column%s", nv,
                        nv == 1 ? "" : "s", PyTuple_GET_SIZE(a[2]),
                        PyTuple_GET_SIZE(a[2]) == 1 ? "" : "s");
  fit_io io;
  Py_buffer y, sigma, x[FITCL_NLSQ_MAX_VARS];
  size_t got = 0;
  PyObject *out = NULL;
  arrays_arg arg;
  memset(&sigma, 0, sizeof sigma);
  if (fit_io_buffers(&io, np, a[5], a[6], a[7], a[8], a[20], a[21], a[22], a[23]) < 0) return NULL;
  if (solver_scalars(a + 9, &io.o) < 0) goto done;
  if (ext_buffer(a[3], "d", -1, 0, "ydata", &y) < 0) goto done;
  Py_ssize_t n = y.len / 8;
  if (ext_buffer_opt(a[4], "d", n, 0, "sigma", &sigma) < 0) goto release_y;
  for (; got < nv; ++got) {
    if (ext_buffer(PyTuple_GET_ITEM(a[2], (Py_ssize_t)got), "d", n, 0, "xdata", &x[got]) < 0)
      goto release;
    arg.x[got] = x[got].buf;
  }
  int check_signals = PyObject_IsTrue(a[19]);
  if (check_signals < 0) goto release;
  arg.model = m->model;
  arg.y = y.buf;
  arg.sigma = sigma.buf;
  arg.n = (size_t)n;
  arg.p0 = io.p0.buf;
  out = run_fit(c, m, &io, a[18], check_signals, fit_arrays_fn, &arg);
release:
  while (got > 0) ext_release(&x[--got]);
  ext_release(&sigma);
release_y:
  ext_release(&y);
done:
  fit_io_release(&io);
  return out;
}

/* ---- files ------------------------------------------------------------------------ */

typedef struct source_arg {
  const fitcl_model *model;
  fitcl_source *src;
  const double *p0;
} source_arg;

static fitcl_status fit_source_fn(void *arg, fitcl_context *ctx, const fitcl_curvefit_options *o,
                                  fitcl_curvefit_result *r) {
  source_arg *a = arg;
  return fitcl_curve_fit_source(ctx, a->model, a->src, a->p0, o, r);
}

/* fit_source(context, model, path, format, xcols, y, sigma, raw_columns,
 *            raw_float32, csv_cache_mb, p0, lower, upper, x_scale,
 *            loss, f_scale, absolute_sigma, ftol, xtol, gtol, max_iter,
 *            bounds_mode, chunk, progress, check_signals,
 *            checkpoint, checkpoint_every, resume, model_text,
 *            popt, pcov, perr, corr) */
static PyObject *fit_source(PyObject *self, PyObject *const *a, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 33) return PyErr_Format(PyExc_TypeError, "fit_source takes 33 arguments");
  ext_context *c = ext_context_arg(a[0]);
  ext_model *m = c ? ext_model_arg(a[1]) : NULL;
  if (!m) return NULL;
  size_t np = fitcl_model_nparams(m->model);
  fitcl_source_options so;
  memset(&so, 0, sizeof so);
  const char *xcols[FITCL_NLSQ_MAX_VARS];
  const char *checkpoint = NULL, *resume = NULL, *model_text = NULL;
  int raw_columns, raw_f32, every;
  long cache_mb;
  if (!(so.path = PyUnicode_AsUTF8(a[2]))) return NULL;
  if (a[3] != Py_None && !(so.format = PyUnicode_AsUTF8(a[3]))) return NULL;
  if (!PyTuple_Check(a[4]) || PyTuple_GET_SIZE(a[4]) > FITCL_NLSQ_MAX_VARS)
    return PyErr_Format(PyExc_TypeError, "x columns: expected a tuple of at most %d str",
                        FITCL_NLSQ_MAX_VARS);
  so.nx = (size_t)PyTuple_GET_SIZE(a[4]);
  for (size_t j = 0; j < so.nx; ++j)
    if (!(xcols[j] = PyUnicode_AsUTF8(PyTuple_GET_ITEM(a[4], (Py_ssize_t)j)))) return NULL;
  so.x = so.nx ? xcols : NULL;
  if (a[5] != Py_None && !(so.y = PyUnicode_AsUTF8(a[5]))) return NULL;
  if (a[6] != Py_None && !(so.sigma = PyUnicode_AsUTF8(a[6]))) return NULL;
  if (as_int(a[7], &raw_columns) < 0 || as_int(a[8], &raw_f32) < 0) return NULL;
  cache_mb = PyLong_AsLong(a[9]);
  if (cache_mb == -1 && PyErr_Occurred()) return NULL;
  so.raw_columns = raw_columns;
  so.raw_float32 = raw_f32;
  so.csv_cache_mb = cache_mb;
  if (a[25] != Py_None && !(checkpoint = PyUnicode_AsUTF8(a[25]))) return NULL;
  if (as_int(a[26], &every) < 0) return NULL;
  if (a[27] != Py_None && !(resume = PyUnicode_AsUTF8(a[27]))) return NULL;
  if (a[28] != Py_None && !(model_text = PyUnicode_AsUTF8(a[28]))) return NULL;
  int check_signals = PyObject_IsTrue(a[24]);
  if (check_signals < 0) return NULL;

  fit_io io;
  if (fit_io_buffers(&io, np, a[10], a[11], a[12], a[13], a[29], a[30], a[31], a[32]) < 0)
    return NULL;
  PyObject *out = NULL;
  if (solver_scalars(a + 14, &io.o) < 0) goto done;
  so.chunk_points = io.o.chunk_points;
  io.o.checkpoint_path = checkpoint;
  io.o.checkpoint_every = every;
  io.o.resume_path = resume;
  io.o.model_text = model_text;
  fitcl_source *src = NULL;
  fitcl_status st;
  ext_context_enter(c);
  Py_BEGIN_ALLOW_THREADS
  st = fitcl_source_open(c->ctx, &so, &src);
  Py_END_ALLOW_THREADS
  if (st != FITCL_OK) ext_raise_ctx(st, c->ctx);
  ext_context_leave(c);
  if (st != FITCL_OK) goto done;
  source_arg arg = {m->model, src, io.p0.buf};
  out = run_fit(c, m, &io, a[23], check_signals, fit_source_fn, &arg);
  Py_BEGIN_ALLOW_THREADS
  fitcl_source_destroy(src);
  Py_END_ALLOW_THREADS
done:
  fit_io_release(&io);
  return out;
}

PyMethodDef ext_curvefit_methods[] = {
  {"fit_arrays", (PyCFunction)(void (*)(void))fit_arrays, METH_FASTCALL,
   "Levenberg-Marquardt fit of a model to float64 arrays (see fitcl/_curvefit.py)."},
  {"fit_source", (PyCFunction)(void (*)(void))fit_source, METH_FASTCALL,
   "Levenberg-Marquardt fit of a model to a streamed file (see fitcl/_curvefit_file.py)."},
  {NULL, NULL, 0, NULL}};
