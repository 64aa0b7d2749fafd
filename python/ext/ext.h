/* The fitcl Python extension (_fitcl): shared declarations.
 *
 * The extension is a thin layer over the public C API (include/fitcl.h):
 * every computation runs with the GIL released, arrays arrive through the
 * buffer protocol (C-contiguous float64 is used in place; the Python layer
 * converts anything else once), and errors become the fitcl.Error classes
 * that fitcl/_errors.py defines (registered with _set_error_factory).
 *
 * Files: support.c (errors, buffers: used by all the others), module.c
 * (the module, devices, cache), context.c (Context),
 * model.c (Model, Python-callable models), curvefit.c (fits), batch.c
 * (batched fits: strided arrays, used in place), inputs.c (trees,
 * matrices, data sets), analyses.c (the gene-content analyses). */
#ifndef FITCL_PY_EXT_H
#define FITCL_PY_EXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>

#include "fitcl.h"

/* ---- errors (support.c) ---------------------------------------------------- */

/* Raises the fitcl.Error subclass for `st` with `msg`; returns NULL. */
PyObject *ext_raise(fitcl_status st, const char *msg);
/* As ext_raise with fitcl_errmsg(ctx), or the status text when it is empty. */
PyObject *ext_raise_ctx(fitcl_status st, const fitcl_context *ctx);
/* _fitcl._set_error_factory(fn): fn(status, name, message) -> exception. */
PyObject *ext_set_error_factory(PyObject *self, PyObject *fn);

/* An exception taken out of the interpreter's error state, to raise later
 * (PyErr_Fetch/Restore: the API that every supported Python has). */
typedef struct ext_exc {
  PyObject *type, *value, *tb;
} ext_exc;
static inline void ext_exc_fetch(ext_exc *e) { PyErr_Fetch(&e->type, &e->value, &e->tb); }
static inline int ext_exc_pending(const ext_exc *e) { return e->type != NULL; }
/* Raises the kept exception (ownership moves to the error state). */
static inline void ext_exc_restore(ext_exc *e) {
  PyErr_Restore(e->type, e->value, e->tb);
  e->type = e->value = e->tb = NULL;
}
static inline void ext_exc_clear(ext_exc *e) {
  Py_CLEAR(e->type);
  Py_CLEAR(e->value);
  Py_CLEAR(e->tb);
}

/* ---- buffers (support.c) ---------------------------------------------------- */

/* Gets a C-contiguous buffer of `n` items (n < 0: any length) of the
 * struct format `fmt` ("d" float64, "B" uint8, "i" int32), writable when
 * asked.  On failure raises TypeError/ValueError naming `what` and returns
 * -1 (nothing to release). */
int ext_buffer(PyObject *obj, const char *fmt, Py_ssize_t n, int writable, const char *what,
               Py_buffer *view);
/* Like ext_buffer, but Py_None gives view->buf == NULL (nothing to release:
 * ext_release accepts it). */
int ext_buffer_opt(PyObject *obj, const char *fmt, Py_ssize_t n, int writable, const char *what,
                   Py_buffer *view);
void ext_release(Py_buffer *view);

/* ---- contexts (context.c) -------------------------------------------------- */

/* A fitcl_context with the lock that keeps it to one thread at a time (the
 * C API's rule).  Calls take the lock with the GIL released. */
typedef struct ext_context {
  PyObject_HEAD
  fitcl_context *ctx;
  PyThread_type_lock lock;
} ext_context;

extern PyTypeObject ext_context_type;
/* The context of a Context object, or NULL with TypeError. */
ext_context *ext_context_arg(PyObject *obj);
/* Takes the context's lock (waiting with the GIL released). */
void ext_context_enter(ext_context *c);
void ext_context_leave(ext_context *c);

/* ---- models (model.c) ------------------------------------------------------ */

/* A compiled model.  A Python-callable model (pycb != NULL) evaluates the
 * user's function over the whole data set once per parameter vector and
 * serves the library's blocks from that (see model.c). */
typedef struct ext_pycb ext_pycb;
typedef struct ext_model {
  PyObject_HEAD
  fitcl_model *model;
  PyObject *context; /* the Context the model was compiled on */
  ext_pycb *pycb;
} ext_model;

extern PyTypeObject ext_model_type;
ext_model *ext_model_arg(PyObject *obj);
/* Python-callable models: binds the fit's interrupt flag, and after the fit
 * re-raises an exception the user's function raised (returns -1 then). */
void ext_pycb_begin(ext_pycb *cb, volatile int *interrupt);
int ext_pycb_end(ext_pycb *cb);

/* ---- progress and interrupts (curvefit.c) ---------------------------------- */

/* What a long call polls: the user's progress callable, Ctrl-C (only on the
 * main thread) and the exception either raised, kept until the call ends. */
typedef struct ext_watch {
  PyObject *callback;  /* NULL: none */
  int check_signals;
  volatile int interrupt;
  ext_exc exc;         /* the exception to re-raise, if any */
} ext_watch;

/* Sets check_signals when called on the main thread. */
void ext_watch_init(ext_watch *w, PyObject *callback);
/* With the GIL held: calls the callback with `args` (stolen; NULL for none)
 * and checks signals; an exception is kept and raises the interrupt flag. */
void ext_watch_poll(ext_watch *w, PyObject *args);
/* After the call: re-raises a kept exception (returns -1), else 0. */
int ext_watch_end(ext_watch *w);

/* ---- gene-content handles (inputs.c) ----------------------------------------- */

/* Capsule names of the library's objects. */
#define EXT_TREE "fitcl_tree"
#define EXT_MATRIX "fitcl_pamatrix"
#define EXT_DATA "fitcl_data"
#define EXT_LIK "fitcl_lik"
/* The object in a capsule of that kind, or NULL with TypeError. */
void *ext_handle(PyObject *cap, const char *kind);

/* ---- module members defined in the other files ----------------------------- */

extern PyMethodDef ext_curvefit_methods[];
extern PyMethodDef ext_batch_methods[];
extern PyMethodDef ext_inputs_methods[];
extern PyMethodDef ext_analyses_methods[];
extern PyMethodDef ext_model_methods[];
int ext_inputs_init(PyObject *module);

#endif
