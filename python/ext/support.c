/* _fitcl: what every other file of the extension uses, kept below them
 * all: library errors raised as fitcl.Error subclasses, and buffers taken
 * from the arguments. */
#include <string.h>

#include "ext.h"

/* ---- errors ------------------------------------------------------------------ */

/* fitcl._errors.error_from_status(status, name, message) -> exception. */
static PyObject *error_factory;

PyObject *ext_raise(fitcl_status st, const char *msg) {
  if (!msg || !*msg) msg = fitcl_strerror(st);
  if (!error_factory) {
    PyErr_Format(PyExc_RuntimeError, "%s: %s", fitcl_status_name(st), msg);
    return NULL;
  }
  PyObject *exc = PyObject_CallFunction(error_factory, "iss", (int)st, fitcl_status_name(st), msg);
  if (exc) {
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
  }
  return NULL;
}

PyObject *ext_raise_ctx(fitcl_status st, const fitcl_context *ctx) {
  return ext_raise(st, ctx ? fitcl_errmsg(ctx) : NULL);
}

PyObject *ext_set_error_factory(PyObject *self, PyObject *fn) {
  (void)self;
  if (!PyCallable_Check(fn)) return PyErr_Format(PyExc_TypeError, "expected a callable");
  Py_XSETREF(error_factory, Py_NewRef(fn));
  Py_RETURN_NONE;
}

/* ---- buffers ----------------------------------------------------------------- */

static const char *item_name(const char *fmt) {
  return fmt[0] == 'd' ? "float64" : fmt[0] == 'B' ? "uint8" : "int32";
}

/* "<d", "=d" and "@d" are the same item on the platforms we build for. */
static int same_format(const char *have, const char *want) {
  if (!have) have = "B";
  if (*have == '<' || *have == '=' || *have == '@') ++have;
  if (want[0] == 'i' && (!strcmp(have, "i") || !strcmp(have, "l"))) return 1;
  return !strcmp(have, want);
}

int ext_buffer(PyObject *obj, const char *fmt, Py_ssize_t n, int writable, const char *what,
               Py_buffer *view) {
  int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
  if (PyObject_GetBuffer(obj, view, flags) < 0) {
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError, "%s: expected a C-contiguous %s%s array, got %.100s", what,
                 writable ? "writable " : "", item_name(fmt), Py_TYPE(obj)->tp_name);
    view->buf = NULL;
    return -1;
  }
  Py_ssize_t size = fmt[0] == 'B' ? 1 : fmt[0] == 'd' ? 8 : 4;
  if (view->itemsize != size || !same_format(view->format, fmt)) {
    PyErr_Format(PyExc_TypeError, "%s: expected %s items, got format '%s'", what, item_name(fmt),
                 view->format ? view->format : "B");
    PyBuffer_Release(view);
    view->buf = NULL;
    return -1;
  }
  Py_ssize_t items = view->len / size;
  if (n >= 0 && items != n) {
    PyErr_Format(PyExc_ValueError, "%s: expected %zd values, got %zd", what, n, items);
    PyBuffer_Release(view);
    view->buf = NULL;
    return -1;
  }
  return 0;
}

int ext_buffer_opt(PyObject *obj, const char *fmt, Py_ssize_t n, int writable, const char *what,
                   Py_buffer *view) {
  if (obj == Py_None || obj == NULL) {
    memset(view, 0, sizeof *view);
    return 0;
  }
  return ext_buffer(obj, fmt, n, writable, what, view);
}

void ext_release(Py_buffer *view) {
  if (view->buf || view->obj) PyBuffer_Release(view);
  view->buf = NULL;
  view->obj = NULL;
}
