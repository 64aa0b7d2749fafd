/* Inputs of the gene-content analyses as capsules (fitcl/_gl_data.py wraps
 * them): Newick trees, presence/absence matrices, and the data set that
 * matches one to the other. */
#include <stdlib.h>
#include <string.h>

#include "ext.h"

static void tree_free(PyObject *cap) { fitcl_tree_destroy(PyCapsule_GetPointer(cap, EXT_TREE)); }
static void matrix_free(PyObject *cap) {
  fitcl_pamatrix_destroy(PyCapsule_GetPointer(cap, EXT_MATRIX));
}
static void data_free(PyObject *cap) { fitcl_data_destroy(PyCapsule_GetPointer(cap, EXT_DATA)); }

void *ext_handle(PyObject *cap, const char *kind) {
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
  return wrap_or_raise(st, t, EXT_TREE, tree_free, err);
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
  fitcl_tree *t = ext_handle(cap, EXT_TREE);
  return t ? describe_tree(t) : NULL;
}

/* ---- matrices ----------------------------------------------------------------- */

static PyObject *matrix_read(PyObject *self, PyObject *args) {
  (void)self;
  const char *path, *taxa_file, *family_names_file;
  int format, taxa_in_rows;
  if (!PyArg_ParseTuple(args, "sipzz", &path, &format, &taxa_in_rows, &taxa_file,
                        &family_names_file))
    return NULL;
  fitcl_pamatrix_options o = {.format = (fitcl_pamatrix_format)format,
                              .taxa_in_rows = taxa_in_rows,
                              .taxa_file = taxa_file,
                              .family_names_file = family_names_file};
  fitcl_pamatrix *m = NULL;
  char err[1024] = "";
  fitcl_status st;
  Py_BEGIN_ALLOW_THREADS
  st = fitcl_pamatrix_read(path, &o, &m, err, sizeof err);
  Py_END_ALLOW_THREADS
  return wrap_or_raise(st, m, EXT_MATRIX, matrix_free, err);
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
    out = wrap_or_raise(st, m, EXT_MATRIX, matrix_free, err);
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
  fitcl_pamatrix *m = ext_handle(cap, EXT_MATRIX);
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
  fitcl_pamatrix *m = ext_handle(cap, EXT_MATRIX);
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
  fitcl_tree *t = ext_handle(tcap, EXT_TREE);
  fitcl_pamatrix *m = t ? ext_handle(mcap, EXT_MATRIX) : NULL;
  if (!m) return NULL;
  fitcl_data_options o = {prune, ignore_extra, NULL};
  fitcl_data *d = NULL;
  char err[2048] = "";
  fitcl_status st;
  Py_BEGIN_ALLOW_THREADS
  st = fitcl_data_build(t, m, &o, &d, err, sizeof err);
  Py_END_ALLOW_THREADS
  if (st != FITCL_OK) return ext_raise(st, err);
  PyObject *cap = PyCapsule_New(d, EXT_DATA, data_free);
  if (!cap) fitcl_data_destroy(d);
  return cap;
}

/* data_info(data) -> (tree description as tree_info, families, patterns,
 *                     family_names) */
static PyObject *data_info(PyObject *self, PyObject *cap) {
  (void)self;
  fitcl_data *d = ext_handle(cap, EXT_DATA);
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
  fitcl_data *d = ext_handle(cap, EXT_DATA);
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
  fitcl_data *d = c ? ext_handle(cap, EXT_DATA) : NULL;
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

PyMethodDef ext_inputs_methods[] = {
  {"tree_load", tree_load, METH_VARARGS, "tree_load(text_or_path, is_path) -> tree handle."},
  {"tree_info", tree_info, METH_O,
   "(tip_names, parents, lengths, labels, newick) of a tree handle."},
  {"matrix_read", matrix_read, METH_VARARGS,
   "matrix_read(path, format, taxa_in_rows, taxa_file, family_names_file)."},
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
  {NULL, NULL, 0, NULL}};

int ext_inputs_init(PyObject *module) {
  return PyModule_AddIntConstant(module, "PA_MISSING", FITCL_PA_MISSING);
}
