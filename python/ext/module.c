/* _fitcl: the module, device discovery and the program-binary cache. */
#include <string.h>

#include "ext.h"

/* ---- devices and the cache ------------------------------------------------------ */

static PyObject *devices(PyObject *self, PyObject *args) {
  (void)self;
  (void)args;
  fitcl_device_desc *list = NULL;
  size_t n = 0;
  fitcl_status st;
  Py_BEGIN_ALLOW_THREADS
  st = fitcl_devices_list(&list, &n);
  Py_END_ALLOW_THREADS
  if (st != FITCL_OK) return ext_raise(st, NULL);
  PyObject *out = PyList_New((Py_ssize_t)n);
  for (size_t i = 0; out && i < n; ++i) {
    const fitcl_device_desc *d = &list[i];
    PyObject *o = Py_BuildValue(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:O,s:i,s:K,s:i,s:i,s:s}", "selector", d->selector,
        "backend", d->backend, "name", d->name, "platform", d->platform, "vendor", d->vendor,
        "type", d->type, "version", d->version, "driver", d->driver, "fp64",
        d->fp64 ? Py_True : Py_False, "compute_units", d->compute_units, "global_mem_mb",
        (unsigned long long)d->global_mem_mb, "platform_index", d->platform_index,
        "device_index", d->device_index, "precision", d->precision);
    if (!o) Py_CLEAR(out);
    else PyList_SET_ITEM(out, (Py_ssize_t)i, o);
  }
  if (!out) {
    fitcl_devices_free(list);
    return NULL;
  }
  fitcl_devices_free(list);
  return out;
}

static PyObject *resolve(PyObject *self, PyObject *arg) {
  (void)self;
  const char *selector = arg == Py_None ? NULL : PyUnicode_AsUTF8(arg);
  if (arg != Py_None && !selector) return NULL;
  fitcl_device_desc *list = NULL;
  size_t n = 0, index = 0;
  char err[1024] = "";
  fitcl_status st;
  Py_BEGIN_ALLOW_THREADS
  st = fitcl_devices_list(&list, &n);
  if (st == FITCL_OK) st = fitcl_devices_resolve(selector, list, n, &index, err, sizeof err);
  Py_END_ALLOW_THREADS
  fitcl_devices_free(list);
  if (st != FITCL_OK) return ext_raise(st, err);
  return PyLong_FromSize_t(index);
}

static PyObject *opencl_unavailable(PyObject *self, PyObject *args) {
  (void)self;
  (void)args;
  const char *why;
  Py_BEGIN_ALLOW_THREADS
  why = fitcl_opencl_unavailable_reason();
  Py_END_ALLOW_THREADS
  if (!why) Py_RETURN_NONE;
  return PyUnicode_FromString(why);
}

static PyObject *cache_inspect(PyObject *self, PyObject *args) {
  (void)self;
  (void)args;
  fitcl_cache_summary s;
  fitcl_status st;
  Py_BEGIN_ALLOW_THREADS
  st = fitcl_cache_inspect(&s);
  Py_END_ALLOW_THREADS
  if (st != FITCL_OK) return ext_raise(st, NULL);
  return Py_BuildValue("{s:s,s:O,s:s,s:K,s:K,s:K}", "dir", s.dir, "usable",
                       s.usable ? Py_True : Py_False, "reason", s.reason, "entries",
                       (unsigned long long)s.entries, "bytes", (unsigned long long)s.bytes,
                       "max_bytes", (unsigned long long)s.max_bytes);
}

static PyObject *cache_clear(PyObject *self, PyObject *args) {
  (void)self;
  (void)args;
  uint64_t removed = 0;
  fitcl_status st;
  Py_BEGIN_ALLOW_THREADS
  st = fitcl_cache_clear(&removed);
  Py_END_ALLOW_THREADS
  if (st != FITCL_OK) return ext_raise(st, NULL);
  return PyLong_FromUnsignedLongLong((unsigned long long)removed);
}

static PyObject *status_info(PyObject *self, PyObject *arg) {
  (void)self;
  int code = (int)PyLong_AsLong(arg);
  if (code == -1 && PyErr_Occurred()) return NULL;
  fitcl_status st = (fitcl_status)code;
  return Py_BuildValue("(ssO)", fitcl_status_name(st), fitcl_strerror(st),
                       fitcl_status_is_user_error(st) ? Py_True : Py_False);
}

static PyObject *builtin_models(PyObject *self, PyObject *args) {
  (void)self;
  (void)args;
  PyObject *out = PyDict_New();
  for (size_t i = 0; out; ++i) {
    const char *name = fitcl_model_builtin_name(i);
    if (!name) break;
    PyObject *v = Py_BuildValue("(sss)", fitcl_model_builtin_expr(name),
                                fitcl_model_builtin_params(name), fitcl_model_builtin_vars(name));
    if (!v || PyDict_SetItemString(out, name, v) < 0) Py_CLEAR(out);
    Py_XDECREF(v);
  }
  return out;
}

static PyMethodDef module_methods[] = {
  {"_set_error_factory", ext_set_error_factory, METH_O,
   "Registers error_from_status(status, name, message) -> exception."},
  {"devices", devices, METH_NOARGS, "Every device: the cpu backend, then each OpenCL device."},
  {"resolve", resolve, METH_O, "Index in devices() of the device a selector picks."},
  {"opencl_unavailable", opencl_unavailable, METH_NOARGS,
   "Why OpenCL cannot be used in this process, or None."},
  {"cache_inspect", cache_inspect, METH_NOARGS, "Summary of the default program cache."},
  {"cache_clear", cache_clear, METH_NOARGS, "Removes every cache entry; returns the count."},
  {"status_info", status_info, METH_O, "(name, description, is_user_error) of a status code."},
  {"builtin_models", builtin_models, METH_NOARGS,
   "{name: (expression, 'params', 'variables')} of the built-in models."},
  {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {
  PyModuleDef_HEAD_INIT, "_fitcl",
  "fitcl's C extension: a thin layer over the C API (use the fitcl package).", -1,
  module_methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__fitcl(void) {
  PyObject *m = PyModule_Create(&module_def);
  if (!m) return NULL;
  if (PyType_Ready(&ext_context_type) < 0 || PyType_Ready(&ext_model_type) < 0 ||
      PyModule_AddObjectRef(m, "Context", (PyObject *)&ext_context_type) < 0 ||
      PyModule_AddObjectRef(m, "Model", (PyObject *)&ext_model_type) < 0 ||
      PyModule_AddFunctions(m, ext_model_methods) < 0 ||
      PyModule_AddFunctions(m, ext_curvefit_methods) < 0 ||
      PyModule_AddFunctions(m, ext_batch_methods) < 0 ||
      PyModule_AddFunctions(m, ext_inputs_methods) < 0 ||
      PyModule_AddFunctions(m, ext_analyses_methods) < 0 || ext_inputs_init(m) < 0 ||
      PyModule_AddStringConstant(m, "version", fitcl_version()) < 0 ||
      PyModule_AddIntConstant(m, "MAX_PARAMS", FITCL_NLSQ_MAX_PARAMS) < 0 ||
      PyModule_AddIntConstant(m, "MAX_VARS", FITCL_NLSQ_MAX_VARS) < 0 ||
      PyModule_AddIntConstant(m, "BATCH_MAX_PARAMS", FITCL_BATCH_MAX_PARAMS) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
