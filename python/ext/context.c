/* _fitcl.Context: a fitcl_context and the lock that keeps it to one thread
 * at a time.  The context is destroyed with the object, so after every
 * object made from it (models and likelihood handles hold a reference). */
#include <string.h>

#include "ext.h"

ext_context *ext_context_arg(PyObject *obj) {
  if (!PyObject_TypeCheck(obj, &ext_context_type)) {
    PyErr_Format(PyExc_TypeError, "expected a _fitcl.Context, got %.100s", Py_TYPE(obj)->tp_name);
    return NULL;
  }
  ext_context *c = (ext_context *)obj;
  if (!c->ctx) {
    PyErr_SetString(PyExc_ValueError, "the context is closed");
    return NULL;
  }
  return c;
}

void ext_context_enter(ext_context *c) {
  if (PyThread_acquire_lock(c->lock, NOWAIT_LOCK)) return;
  Py_BEGIN_ALLOW_THREADS
  PyThread_acquire_lock(c->lock, WAIT_LOCK);
  Py_END_ALLOW_THREADS
}

void ext_context_leave(ext_context *c) { PyThread_release_lock(c->lock); }

static int context_init(PyObject *self, PyObject *args, PyObject *kw) {
  ext_context *c = (ext_context *)self;
  static char *names[] = {"device", "threads", "cache", "cache_dir", "ignore_env", "precision",
                          NULL};
  const char *device = NULL, *cache = NULL, *cache_dir = NULL, *precision = NULL;
  int threads = 0, ignore_env = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|zizzpz", names, &device, &threads, &cache,
                                   &cache_dir, &ignore_env, &precision))
    return -1;
  if (c->ctx) {
    PyErr_SetString(PyExc_RuntimeError, "Context.__init__ called twice");
    return -1;
  }
  fitcl_context_options o;
  memset(&o, 0, sizeof o);
  o.device = device;
  o.threads = threads;
  o.cache_dir = cache_dir;
  o.ignore_env = ignore_env;
  if (cache) {
    if (!strcmp(cache, "on")) o.cache = FITCL_CACHE_ON;
    else if (!strcmp(cache, "readonly")) o.cache = FITCL_CACHE_READONLY;
    else if (!strcmp(cache, "off")) o.cache = FITCL_CACHE_OFF;
    else {
      PyErr_Format(PyExc_ValueError, "cache: expected 'on', 'readonly' or 'off', got '%s'", cache);
      return -1;
    }
  }
  if (precision) {
    if (!strcmp(precision, "double")) o.precision = FITCL_PRECISION_DOUBLE;
    else if (!strcmp(precision, "mixed")) o.precision = FITCL_PRECISION_MIXED;
    else if (!strcmp(precision, "single")) o.precision = FITCL_PRECISION_SINGLE;
    else {
      PyErr_Format(PyExc_ValueError, "precision: expected 'double', 'mixed' or 'single', got '%s'",
                   precision);
      return -1;
    }
  }
  if (!c->lock && !(c->lock = PyThread_allocate_lock())) {
    PyErr_NoMemory();
    return -1;
  }
  fitcl_context *ctx = NULL;
  fitcl_status st;
  Py_BEGIN_ALLOW_THREADS
  st = fitcl_context_create(&o, &ctx);
  Py_END_ALLOW_THREADS
  if (st != FITCL_OK) {
    ext_raise_ctx(st, ctx);
    fitcl_context_destroy(ctx);
    return -1;
  }
  c->ctx = ctx;
  return 0;
}

static void close_context(ext_context *c) {
  if (!c->ctx) return;
  fitcl_context *ctx = c->ctx;
  c->ctx = NULL;
  Py_BEGIN_ALLOW_THREADS
  fitcl_context_destroy(ctx);
  Py_END_ALLOW_THREADS
}

static void context_dealloc(PyObject *self) {
  ext_context *c = (ext_context *)self;
  close_context(c);
  if (c->lock) PyThread_free_lock(c->lock);
  Py_TYPE(self)->tp_free(self);
}

static PyObject *str_or_none(const char *s) {
  if (!s) Py_RETURN_NONE;
  return PyUnicode_FromString(s);
}

static PyObject *context_info(PyObject *self, PyObject *args) {
  (void)args;
  ext_context *c = ext_context_arg(self);
  if (!c) return NULL;
  fitcl_context_info i;
  ext_context_enter(c);
  fitcl_status st = fitcl_context_get_info(c->ctx, &i);
  ext_context_leave(c);
  if (st != FITCL_OK) return ext_raise_ctx(st, c->ctx);
  return Py_BuildValue(
      "{s:s,s:s,s:s,s:s,s:N,s:N,s:i,s:i,s:d,s:N,s:s,s:N,s:s,s:{s:K,s:K,s:K,s:K,s:K}}",
      "backend",
      i.backend, "device", i.device, "platform", i.platform, "selector", i.selector, "requested",
      str_or_none(i.requested), "fallback_reason", str_or_none(i.fallback_reason), "threads",
      i.threads, "programs", i.programs, "build_seconds", i.build_seconds, "cache_dir",
      str_or_none(i.cache_dir), "cache_mode", i.cache_mode, "discovery",
      str_or_none(i.discovery), "precision", i.precision, "cache", "hits",
      (unsigned long long)i.cache.hits, "misses",
      (unsigned long long)i.cache.misses, "rebuilt", (unsigned long long)i.cache.rebuilt,
      "evicted", (unsigned long long)i.cache.evicted, "stored",
      (unsigned long long)i.cache.stored);
}

static PyObject *context_selftest(PyObject *self, PyObject *args) {
  (void)args;
  ext_context *c = ext_context_arg(self);
  if (!c) return NULL;
  fitcl_selftest_result r[16];
  size_t n = 0;
  fitcl_status st;
  ext_context_enter(c);
  Py_BEGIN_ALLOW_THREADS
  st = fitcl_selftest(c->ctx, r, 16, &n);
  Py_END_ALLOW_THREADS
  ext_context_leave(c);
  if (st != FITCL_OK && n == 0) return ext_raise_ctx(st, c->ctx);
  PyObject *out = PyList_New(0);
  for (size_t i = 0; out && i < n && i < 16; ++i) {
    PyObject *o = Py_BuildValue("{s:s,s:O,s:d,s:s}", "family", r[i].family, "passed",
                                r[i].passed ? Py_True : Py_False, "max_rel_error",
                                r[i].max_rel_error, "detail", r[i].detail);
    if (!o || PyList_Append(out, o) < 0) Py_CLEAR(out);
    Py_XDECREF(o);
  }
  return out;
}

static PyMethodDef context_methods[] = {
  {"info", context_info, METH_NOARGS, "The context's backend, device and cache statistics."},
  {"selftest", context_selftest, METH_NOARGS, "Known-answer checks of every kernel family."},
  {NULL, NULL, 0, NULL}};

PyTypeObject ext_context_type = {
  PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_fitcl.Context",
  .tp_basicsize = sizeof(ext_context),
  .tp_flags = Py_TPFLAGS_DEFAULT,
  .tp_doc = "Context(device=None, threads=0, cache=None, cache_dir=None, ignore_env=False, "
            "precision=None)",
  .tp_new = PyType_GenericNew,
  .tp_init = context_init,
  .tp_dealloc = context_dealloc,
  .tp_methods = context_methods,
};
