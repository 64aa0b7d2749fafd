"""fitcl.curve_fit_batch: N independent small fits of one model in one call
(``fitcl_fit_batch``, docs/batch.md).

Arrays are passed to the library with their strides: any float64 array
whose strides are non-negative whole items (C or Fortran order, a slice)
is read in place, and arrays that NumPy broadcasts to ``(N, n)`` (an x row
shared by every fit, one value per fit) are passed as zero-stride views,
not expanded.  Other dtypes, negative strides and misaligned buffers are
converted once.  The GIL is released for the whole call.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _fitcl
from . import _runtime
from ._curvefit import _model_of
from ._errors import ArgumentError, UnsupportedError
from ._model import Model

__all__ = ["curve_fit_batch", "BatchFitResult", "BatchFitProgress", "STATUS_NAMES"]

BatchModelSpec = Union[str, Model]
"""An expression, a built-in model name or a :class:`Model`."""

STATUS_NAMES: tuple[str, ...] = _fitcl.curvefit_status_names()
"""Status names indexed by status code: 1 ``converged_ftol``, 2
``converged_xtol``, 3 ``converged_gtol``, 4 ``max_iter``, 5 ``singular``, 6
``nonfinite``, 7 ``interrupted`` (0, ``running``, never ends a fit)."""

_ESTIMATORS = {"lse": 0, "poisson": 1}
_BOUNDS_MODES = {"reflect": 0, "project": 1}
_LAYOUTS = {"auto": 0, "work_item": 1, "work_group": 2}
_CONVERGED = (1, 2, 3)


class BatchFitProgress(NamedTuple):
    """What a ``progress`` callback receives after every slice of fits."""

    done: int
    """Fits finished so far."""
    total: int
    elapsed: float
    """Seconds since the call started."""


@dataclass(frozen=True)
class BatchFitResult:
    """The results of N fits: one row per fit (the row of ``ydata``)."""

    names: tuple[str, ...]
    """Parameter names, in the order of the columns of params."""
    params: NDArray[np.float64]
    """(N, p) fitted parameters (the start, for a fit that never ran)."""
    stderr: NDArray[np.float64]
    """(N, p) standard errors: 0 for a fixed parameter, inf where J^T J is
    singular, NaN for a fit whose start was not finite or that never ran."""
    covariance: NDArray[np.float64] | None
    """(N, p, p) covariance matrices (``covariance=True``), else None."""
    chi2: NDArray[np.float64]
    """(N,) sum w (y - f)^2 (least squares) or the deviance (Poisson)."""
    iterations: NDArray[np.int32]
    """(N,) trial steps taken."""
    status: NDArray[np.int32]
    """(N,) status codes (:data:`STATUS_NAMES`; ``status_names`` spells them)."""
    dof: NDArray[np.int64]
    """(N,) points minus free parameters."""
    points: int
    """n, the points of each fit."""
    n_converged: int
    """Fits with a ``converged_*`` status."""
    n_max_iter: int
    n_singular: int
    n_nonfinite: int
    n_interrupted: int
    total_iterations: int
    """Trial steps of all fits together."""
    launches: int
    """Kernel launches (OpenCL) or block passes (pthreads)."""
    backend: str
    """``"cpu"`` or ``"opencl"``: where the fits ran."""
    layout: str
    """``"work_item"`` or ``"work_group"`` per fit on OpenCL; ``""`` on the pthreads backend."""
    seconds: float
    """Wall time of the call in the library."""

    def __len__(self) -> int:
        return int(self.status.shape[0])

    @property
    def converged(self) -> NDArray[np.bool_]:
        """(N,) True where the fit converged."""
        return np.isin(self.status, _CONVERGED)

    @property
    def status_names(self) -> NDArray[np.str_]:
        """(N,) the status of each fit by name (``converged_xtol``, ...)."""
        return np.asarray(STATUS_NAMES)[self.status]

    @property
    def reduced_chi2(self) -> NDArray[np.float64]:
        """(N,) chi2 / dof."""
        return self.chi2 / self.dof

    def summary(self) -> str:
        """One line of counts."""
        return (f"{len(self)} fits of {self.points} points on {self.backend}: "
                f"{self.n_converged} converged, {self.n_max_iter} max_iter, "
                f"{self.n_singular} singular, {self.n_nonfinite} nonfinite, "
                f"{self.n_interrupted} interrupted; {self.total_iterations} trial steps, "
                f"{self.seconds:.3g} s")

    def __str__(self) -> str:
        return self.summary()


# ---- arguments -------------------------------------------------------------------

def _float64(a: Any) -> NDArray[np.float64]:
    """a as a float64 array (a new one only for another dtype or a non-array)."""
    v = a if isinstance(a, np.ndarray) else np.asarray(a, dtype=np.float64)
    return v if v.dtype == np.float64 else v.astype(np.float64)


def _in_place(v: NDArray[np.float64]) -> NDArray[np.float64]:
    """v itself when the library can read it with its strides, else a copy."""
    if v.flags.aligned and all(s >= 0 and s % 8 == 0 for s in v.strides):
        return v
    return np.ascontiguousarray(v)


def _per_point(a: Any, shape: tuple[int, int], what: str) -> NDArray[np.float64]:
    """An array NumPy broadcasts to (N, n), as an (N, n) view of it."""
    v = _float64(a)
    try:
        return np.broadcast_to(_in_place(v), shape)
    except ValueError:
        raise ArgumentError(f"{what}: shape {v.shape} does not broadcast to ydata's shape "
                            f"{shape} (give (n,) for a row shared by every fit, (N, 1) for "
                            f"one value per fit, or (N, n))") from None


def _per_fit_rows(a: Any, nfits: int, names: tuple[str, ...], what: str,
                  dtype: type = np.float64) -> NDArray[Any]:
    """p values shared by every fit, shape (p,), or a row per fit, (N, p);
    C-contiguous of dtype."""
    p = len(names)
    v = np.asarray(a, dtype=dtype)
    if v.ndim == 0:
        v = np.full(p, v, dtype=dtype)
    if v.shape != (p,) and v.shape != (nfits, p):
        raise ArgumentError(f"{what}: expected shape ({p},) or ({nfits}, {p}) for the "
                            f"parameters {', '.join(names)}; got {v.shape}")
    return np.ascontiguousarray(v)


def _starts(p0: Any, nfits: int, names: tuple[str, ...]) -> NDArray[np.float64]:
    if isinstance(p0, Mapping):
        unknown = [k for k in p0 if k not in names]
        if unknown:
            raise ArgumentError(f"p0: the model has no parameter {', '.join(map(str, unknown))} "
                                f"(its parameters: {', '.join(names)})")
        missing = [n for n in names if n not in p0]
        if missing:
            raise ArgumentError(f"p0: no starting value for {', '.join(missing)}")
        cols = [np.asarray(p0[n], dtype=np.float64) for n in names]
        try:
            p0 = np.stack(np.broadcast_arrays(*cols), axis=-1)
        except ValueError:
            raise ArgumentError(f"p0: each value must be a number or {nfits} values") from None
    return _per_fit_rows(p0, nfits, names, "p0")


def _bound_rows(bounds: Any, nfits: int, names: tuple[str, ...]
                ) -> tuple[NDArray[np.float64] | None, NDArray[np.float64] | None]:
    """(lower, upper) with the same shape, (p,) or (N, p); None for an open side."""
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):  # scipy.optimize.Bounds
        lb, ub = bounds.lb, bounds.ub
    else:
        try:
            lb, ub = bounds
        except (TypeError, ValueError):
            raise ArgumentError("bounds: expected (lower, upper)") from None
    lo = _per_fit_rows(lb, nfits, names, "lower bounds")
    hi = _per_fit_rows(ub, nfits, names, "upper bounds")
    if lo.shape != hi.shape:
        lo, hi = (np.ascontiguousarray(np.broadcast_to(v, (nfits, len(names)))) for v in (lo, hi))
    return (None if np.all(lo == -np.inf) else lo), (None if np.all(hi == np.inf) else hi)


def _fixed_rows(fixed: Any, nfits: int, names: tuple[str, ...]) -> NDArray[np.int32] | None:
    """int32 flags, (p,) or (N, p); parameter names select the shared row."""
    if fixed is None:
        return None
    if isinstance(fixed, str):
        fixed = [fixed]
    items = list(fixed) if isinstance(fixed, (list, tuple, set, frozenset)) else None
    if items and all(isinstance(k, str) for k in items):
        unknown = [k for k in items if k not in names]
        if unknown:
            raise ArgumentError(f"fixed: the model has no parameter {', '.join(unknown)} "
                                f"(its parameters: {', '.join(names)})")
        return np.array([n in items for n in names], dtype=np.int32)
    return _per_fit_rows(np.asarray(fixed) != 0, nfits, names, "fixed", np.int32)


def _nvars_of(xdata: Any) -> int:
    """Variables in xdata when the model does not say: a mapping's keys, a
    list or tuple of arrays, else one (a 2-D array is one variable's (N, n))."""
    if isinstance(xdata, Mapping):
        return len(xdata)
    if isinstance(xdata, (list, tuple)) and xdata and np.ndim(xdata[0]) >= 1:
        return len(xdata)
    return 1


def _variables(xdata: Any, variables: Sequence[str], shape: tuple[int, int]
               ) -> tuple[NDArray[np.float64], ...]:
    """One (N, n) view per model variable, in the model's order."""
    nv = len(variables)
    if isinstance(xdata, Mapping):
        missing = [v for v in variables if v not in xdata]
        if missing:
            raise ArgumentError(f"xdata: no array for variable{'s' if len(missing) > 1 else ''} "
                                f"{', '.join(missing)} (the model reads {', '.join(variables)})")
        arrays = [xdata[v] for v in variables]
    elif nv == 1:
        arrays = [xdata]
    elif isinstance(xdata, (list, tuple)) and len(xdata) == nv:
        arrays = list(xdata)
    elif isinstance(xdata, np.ndarray) and xdata.ndim >= 1 and xdata.shape[0] == nv:
        arrays = list(xdata)
    else:
        raise ArgumentError(f"xdata: the model reads {nv} variables ({', '.join(variables)}): "
                            f"give a mapping, a sequence of {nv} arrays or an array of {nv} rows")
    return tuple(_per_point(a, shape, f"xdata[{v!r}]" if nv > 1 else "xdata")
                 for a, v in zip(arrays, variables))


def _tolerance(v: float | None) -> float:
    """None: the library's default (0); <= 0: the test off (-1)."""
    if v is None:
        return 0.0
    return float(v) if v > 0 else -1.0


# ---- the call ----------------------------------------------------------------------

def curve_fit_batch(f: BatchModelSpec, xdata: Any, ydata: ArrayLike,
                    p0: ArrayLike | Mapping[str, ArrayLike], sigma: ArrayLike | None = None,
                    absolute_sigma: bool = False, bounds: Any = (-np.inf, np.inf), *,
                    weights: ArrayLike | None = None, fixed: Any = None,
                    estimator: str = "lse", bounds_mode: str = "reflect",
                    max_nfev: int | None = None, ftol: float | None = None,
                    xtol: float | None = None, gtol: float | None = None,
                    covariance: bool = False, params: Sequence[str] | None = None,
                    variables: Sequence[str] | None = None,
                    progress: Callable[[BatchFitProgress], Any] | None = None,
                    layout: str = "auto", device: str | None = None,
                    context: _runtime.Context | None = None) -> BatchFitResult:
    """Fits every row of ``ydata`` (shape (N, n)) with the model ``f``: N
    independent Levenberg-Marquardt fits in one call (docs/batch.md).

    Unlike :func:`curve_fit`, a fit that does not converge raises nothing:
    each fit's outcome is in ``result.status``.

    Args:
        f: a model expression (``"a*exp(-b*x)+c"``), a built-in model name
            (``"gaussian"``, ...) or a :class:`Model`.  A Python callable is
            not supported (:class:`fitcl.UnsupportedError`): every fit would
            call back into Python at every iteration.
        xdata: the model's variable, as an array that broadcasts to (N, n):
            (n,) one row shared by every fit, (N, n) one row per fit, (N, 1)
            one value per fit.  A model with several variables takes a mapping
            ``{variable: array}``, a sequence of arrays, or an array whose
            first axis runs over the variables, each broadcasting to (N, n).
        ydata: (N, n) observations, one fit per row.
        p0: starting values, (p,) for every fit or (N, p), or a mapping
            ``{name: number or (N,) values}``.  Required; every start must be
            finite and inside its bounds.
        sigma: standard deviations of ydata (> 0), broadcasting to (N, n).
        absolute_sigma: True: the covariance is (J^T W J)^-1 in the units of
            sigma; False: scaled by the reduced chi-square, as scipy does.
            (Poisson: always absolute.)
        bounds: ``(lower, upper)``, each a scalar, (p,) or (N, p), or a
            ``scipy.optimize.Bounds``.  Trial points that leave the box are
            reflected into it (``bounds_mode="project"`` clips them).
        weights: weights 1/sigma^2 >= 0 instead of sigma (Gpufit's
            convention; a weight of 0 drops the point).
        fixed: parameters held at their starts: names, or flags (p,) or
            (N, p).  Their standard errors and covariances are 0.
        estimator: ``"lse"`` least squares, or ``"poisson"`` maximum
            likelihood for counts y >= 0 (no sigma or weights; chi2 is the
            deviance; the covariance is the inverse Fisher information).
        max_nfev: the most trial steps per fit; default 100 * (p + 1).
        ftol, xtol, gtol: None for the library's defaults (xtol 1e-8: the
            Gauss-Newton step of every free parameter at most xtol * (|p| +
            stderr); ftol 1e-15; gtol off); a value <= 0 turns a test off.
        covariance: also return the (N, p, p) covariance matrices.
        params, variables: parameter and variable names of an expression.
        progress: called with a :class:`BatchFitProgress` after every slice
            of fits (on the calling thread); an exception it raises stops the
            call and propagates.  Ctrl-C stops a call on the main thread.
        layout: OpenCL kernel layout: ``"auto"``, ``"work_item"`` (one
            work-item per fit) or ``"work_group"`` (one work-group per fit).
        device, context: where to run (see :class:`fitcl.Context`).

    Returns:
        a :class:`BatchFitResult`.

    Raises:
        fitcl.ArgumentError: arrays whose shapes do not fit together, unknown
            names, bad option values (a ValueError).
        fitcl.DataError, ...: the library's checks, with its message naming
            the array, fit and point (a non-finite y, sigma <= 0, a start
            outside its bounds; all ValueError).
        fitcl.UnsupportedError: f is a Python callable.
    """
    est = _ESTIMATORS.get(estimator)
    if est is None:
        raise ArgumentError(f"estimator: expected 'lse' or 'poisson', got {estimator!r}")
    bmode = _BOUNDS_MODES.get(bounds_mode)
    if bmode is None:
        raise ArgumentError(f"bounds_mode: expected 'reflect' or 'project', got {bounds_mode!r}")
    lay = _LAYOUTS.get(layout)
    if lay is None:
        raise ArgumentError(f"layout: expected 'auto', 'work_item' or 'work_group', got {layout!r}")

    if isinstance(f, str):
        model = _model_of(f, _nvars_of(xdata), params, variables)
    elif isinstance(f, Model):
        model = f
    elif callable(f):
        raise UnsupportedError("curve_fit_batch: a Python callable cannot be batched (each fit "
                               "would call back into Python at every iteration); give a model "
                               "expression, a built-in model name or a fitcl.Model, or fit "
                               "each row with fitcl.curve_fit")
    else:
        raise TypeError(f"f: expected an expression, a built-in name or a fitcl.Model, got "
                        f"{type(f).__name__}")
    names = model.params

    y = _float64(ydata)
    if y.ndim != 2:
        raise ArgumentError(f"ydata: expected a 2-D array (N fits, n points); got shape "
                            f"{y.shape} (one fit: fitcl.curve_fit, or ydata[None, :])")
    y = _in_place(y)
    nfits, npoints = y.shape
    if nfits == 0 or npoints == 0:
        raise ArgumentError(f"ydata: shape {y.shape}; at least one fit of one point is needed")
    shape = (nfits, npoints)
    xs = _variables(xdata, model.variables, shape)
    s = None if sigma is None else _per_point(sigma, shape, "sigma")
    w = None if weights is None else _per_point(weights, shape, "weights")
    if s is not None and w is not None:
        raise ArgumentError("give sigma or weights, not both")
    start = _starts(p0, nfits, names)
    lower, upper = _bound_rows(bounds, nfits, names)
    flags = _fixed_rows(fixed, nfits, names)
    max_iter = 0 if max_nfev is None else int(max_nfev)
    if max_iter < 0:
        raise ArgumentError(f"max_nfev: expected a positive count, got {max_nfev}")

    p = len(names)
    out_params = np.empty((nfits, p))
    out_stderr = np.empty((nfits, p))
    out_cov = np.empty((nfits, p, p)) if covariance else None
    chi2 = np.empty(nfits)
    iterations = np.empty(nfits, dtype=np.int32)
    status = np.empty(nfits, dtype=np.int32)
    callback = None if progress is None else (
        lambda done, total, elapsed: progress(BatchFitProgress(done, total, elapsed)))
    watch = threading.current_thread() is threading.main_thread()

    ctx = _runtime.acquire(device, context)
    try:
        handle = model.compiled(ctx)
        counts = _fitcl.fit_batch(ctx._live(), handle, y, xs, s, w, start, lower, upper, flags,
                                  est, bmode, bool(absolute_sigma), _tolerance(ftol),
                                  _tolerance(xtol), _tolerance(gtol), max_iter, lay, callback,
                                  watch, out_params, out_stderr, out_cov, chi2, iterations,
                                  status)
    finally:
        _runtime.release(device, context, ctx)
    (n_conv, n_maxit, n_sing, n_nonfin, n_intr, total_it, launches, backend, layout_used,
     seconds) = counts
    free = p - (np.zeros(nfits, dtype=np.int64) if flags is None
                else np.broadcast_to(flags, (nfits, p)).sum(axis=1, dtype=np.int64))
    return BatchFitResult(
        names=names, params=out_params, stderr=out_stderr, covariance=out_cov, chi2=chi2,
        iterations=iterations, status=status, dof=npoints - free, points=npoints,
        n_converged=n_conv, n_max_iter=n_maxit, n_singular=n_sing, n_nonfinite=n_nonfin,
        n_interrupted=n_intr, total_iterations=total_it, launches=launches, backend=backend,
        layout={1: "work_item", 2: "work_group"}.get(layout_used, ""), seconds=seconds)
