"""Models: expressions compiled by the library (with exact derivatives), the
built-in models, and how their parameter and variable names are found."""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _fitcl
from . import _runtime
from ._errors import ArgumentError

__all__ = ["Model", "builtin_models"]

# The expression language (docs/expressions.md): names that are not
# parameters or variables.
_FUNCTIONS = frozenset("exp log log10 sqrt pow sin cos tan asin acos atan atan2 sinh cosh tanh "
                       "erf erfc abs min max".split())
_CONSTANTS = frozenset({"pi", "e"})
# A number (whose exponent letter is not a name) or a name.
_TOKEN = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|([A-Za-z_]\w*)")

_builtins: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] | None = None


def builtin_models() -> dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """The built-in models: ``{name: (expression, parameters, variables)}``.

    ``exp_decay``, ``double_exp``, ``gaussian``, ``lorentzian``, ``power_law``,
    ``stretched_exp``, ``xpcs_g2`` (docs/expressions.md).  Each is compiled
    into the library ahead of time on the pthreads path.
    """
    global _builtins
    if _builtins is None:
        _builtins = {name: (expr, tuple(p.split()), tuple(v.split()))
                     for name, (expr, p, v) in _fitcl.builtin_models().items()}
    return dict(_builtins)


def _builtin(name: str) -> tuple[str, tuple[str, ...], tuple[str, ...]] | None:
    if _builtins is None:
        builtin_models()
    assert _builtins is not None
    return _builtins.get(name)


def expression_params(expr: str, variables: Sequence[str]) -> tuple[str, ...]:
    """The parameters of an expression: every name that is not a variable, a
    function called as one, or the constant ``pi``/``e``, in order of first
    appearance."""
    names: list[str] = []
    for m in _TOKEN.finditer(expr):
        name = m.group(1)
        if name is None or name in names or name in variables or name in _CONSTANTS:
            continue
        if name in _FUNCTIONS and expr[m.end():].lstrip().startswith("("):
            continue
        names.append(name)
    return tuple(names)


def default_variables(count: int) -> tuple[str, ...]:
    """``x`` for one data column, else ``x1, x2, ...`` (as ``fitcl curve-fit --x``)."""
    return ("x",) if count == 1 else tuple(f"x{i + 1}" for i in range(count))


class Model:
    """A model for :func:`fitcl.curve_fit`: an expression or a built-in name.

    Args:
        expr: an expression such as ``"a*exp(-b*x)+c"`` (syntax in
            docs/expressions.md) or a built-in name (:func:`builtin_models`).
        params: parameter names in the order of the parameter vector.  None:
            a built-in's own, or the expression's names that are not
            variables, functions or ``pi``/``e``, in order of first appearance.
        variables: the data-column names the expression reads.  None: a
            built-in's own, else ``("x",)``.

    A Model is callable as ``model(x, *p)`` (the signature scipy's
    ``curve_fit`` expects), evaluated by the library on the host.
    """

    __slots__ = ("expr", "params", "variables", "builtin", "_key")

    expr: str
    """The expression text (a built-in's expression for a built-in)."""
    params: tuple[str, ...]
    variables: tuple[str, ...]
    builtin: str | None
    """The built-in model's name, or None for an expression."""

    def __init__(self, expr: str, params: Sequence[str] | None = None,
                 variables: Sequence[str] | None = None) -> None:
        if not isinstance(expr, str):
            raise TypeError(f"expr: expected a str, got {type(expr).__name__}")
        b = _builtin(expr.strip())
        if b is not None and params is None and variables is None:
            self.builtin = expr.strip()
            self.expr, self.params, self.variables = b
            self._key: tuple[Any, ...] = ("builtin", self.builtin)
            return
        self.builtin = None
        self.expr = expr
        self.variables = tuple(variables) if variables is not None else ("x",)
        self.params = (tuple(params) if params is not None
                       else expression_params(expr, self.variables))
        if not self.params:
            raise ArgumentError(f"the expression '{expr}' has no parameter (every name is a "
                              f"variable, function or constant); give params=")
        self._key = ("expr", expr, self.params, self.variables)

    def compiled(self, context: _runtime.Context) -> Any:
        """The model compiled on a context (cached there)."""
        if self.builtin is not None:
            name = self.builtin
            return context._model(self._key, lambda h: _fitcl.compile_model(h, name, None, None))
        expr, params, variables = self.expr, self.params, self.variables
        return context._model(self._key,
                              lambda h: _fitcl.compile_model(h, expr, params, variables))

    def eval(self, x: ArrayLike | Sequence[ArrayLike], p: ArrayLike, *, jacobian: bool = False,
             device: str | None = None, context: _runtime.Context | None = None
             ) -> NDArray[np.float64] | tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The model's values at the points x for parameters p, and with
        ``jacobian=True`` also its exact Jacobian (shape (n, len(params))).

        x: one array for one variable, else a sequence (or 2-D array) with one
        row per variable.  Evaluated on the host, on any backend.
        """
        cols = as_columns(x, self.variables)
        pv = np.ascontiguousarray(p, dtype=np.float64).reshape(-1)
        if pv.size != len(self.params):
            raise ArgumentError(f"p: expected {len(self.params)} values ({', '.join(self.params)}), "
                              f"got {pv.size}")
        n = cols[0].size if cols else 1
        f = np.empty(n)
        jac = np.empty((n, len(self.params))) if jacobian else None
        ctx = _runtime.acquire(device, context)
        try:
            self.compiled(ctx).eval(pv, cols, f, jac)
        finally:
            _runtime.release(device, context, ctx)
        return (f, jac) if jac is not None else f

    def __call__(self, x: ArrayLike | Sequence[ArrayLike], *p: float) -> NDArray[np.float64]:
        return self.eval(x, p)  # type: ignore[return-value]

    def __repr__(self) -> str:
        what = self.builtin or repr(self.expr)
        return f"fitcl.Model({what}, params={self.params}, variables={self.variables})"


def as_columns(x: Any, variables: Sequence[str]) -> tuple[NDArray[np.float64], ...]:
    """Data columns in the model's variable order, each C-contiguous float64
    (used in place when it already is; converted once otherwise).

    x: a mapping {variable: array}; one array (1-D for one variable, 2-D
    (k, n) for k); or a sequence of k arrays."""
    nv = len(variables)
    if hasattr(x, "keys") and not isinstance(x, np.ndarray):
        missing = [v for v in variables if v not in x]
        if missing:
            raise ArgumentError(f"xdata: no column for variable{'s' if len(missing) > 1 else ''} "
                              f"{', '.join(missing)} (the model reads {', '.join(variables)})")
        cols = tuple(np.ascontiguousarray(x[v], dtype=np.float64).reshape(-1) for v in variables)
    else:
        a = x if isinstance(x, np.ndarray) else np.asarray(x, dtype=np.float64)
        if a.dtype != np.float64:
            a = a.astype(np.float64)
        if a.ndim == 1 and nv == 1:
            cols = (a if a.flags.c_contiguous else np.ascontiguousarray(a),)
        elif a.ndim == 2 and a.shape[0] == nv:
            cols = tuple(np.ascontiguousarray(r) for r in a)
        elif a.ndim == 0 and nv == 0:
            cols = ()
        else:
            raise ArgumentError(f"xdata: expected {'a 1-D array' if nv == 1 else f'{nv} rows'} for "
                              f"the model's variable{'s' if nv != 1 else ''} "
                              f"{', '.join(variables)}; got shape {a.shape}")
    if cols and any(c.size != cols[0].size for c in cols):
        raise ArgumentError("xdata: the columns have different lengths")
    return cols
