"""fitcl.curve_fit: scipy.optimize.curve_fit's interface on fitcl's streaming
Levenberg-Marquardt solver.

The model is an expression or a built-in (compiled by the library, exact
derivatives, evaluated on the context's device) or a Python callable (one
vectorised call over the whole data set per parameter vector, finite
differences or the user's Jacobian; slower).  Data arrays that are
C-contiguous float64 are read in place; other dtypes and layouts are
converted once.  The GIL is released for the whole fit.
"""
from __future__ import annotations

import inspect
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _fitcl
from . import _runtime
from ._errors import ArgumentError, DataError, NotConvergedError, OptimizeWarning
from ._model import Model, _builtin, as_columns, default_variables

__all__ = ["curve_fit", "CurveFitResult", "CurveFitProgress", "ModelSpec"]

ModelSpec = Union[str, Model, Callable[..., Any]]
"""An expression, a built-in model name, a :class:`Model`, or a callable f(x, *p)."""

_LOSSES = {"linear": 0, "soft_l1": 1, "huber": 2, "cauchy": 3, "arctan": 4}
_BOUNDS_MODES = {"reflect": 0, "project": 1}
_METHODS = (None, "lm", "trf", "dogbox")
_STATUS_CONVERGED = {1, 2, 3}
_EPS = np.finfo(np.float64).eps
_DEFAULT_BOUNDS: tuple[float, float] = (-np.inf, np.inf)
# Fits at least this large poll Ctrl-C between iterations (smaller ones end
# before anyone presses it, and polling would cost them time).
_WATCH_POINTS = 100_000

_MESSAGES = {
    1: "Both actual and predicted relative reductions in the sum of squares are at most ftol.",
    2: "The relative step between two iterates is at most xtol.",
    3: "The cosine of the angle between the residuals and any column of the Jacobian is at "
       "most gtol in absolute value.",
    5: "The normal equations are singular: J^T J has no usable direction.",
    6: "Residuals are not finite in the initial point.",
}


class CurveFitProgress(NamedTuple):
    """What a ``progress`` callback receives after every trial step."""

    iteration: int
    cost: float
    """Cost at the current (accepted) point."""
    lambda_: float
    """Damping used for this step."""
    step_norm: float
    accepted: bool
    elapsed: float
    """Seconds since the fit started."""


@dataclass(frozen=True)
class CurveFitResult:
    """Everything about a fit (``full_output=True``)."""

    names: tuple[str, ...]
    """Parameter names, in the order of popt."""
    popt: NDArray[np.float64]
    pcov: NDArray[np.float64]
    """Covariance; scaled by reduced_chi2 unless absolute_sigma (as scipy)."""
    perr: NDArray[np.float64]
    """Standard errors sqrt(diag(pcov)); inf where J^T J is singular."""
    correlation: NDArray[np.float64]
    status: str
    """``converged_ftol``, ``converged_xtol``, ``converged_gtol``, ``max_iter``,
    ``singular`` or ``nonfinite``."""
    converged: bool
    message: str
    iterations: int
    """Trial steps taken (each a cost-only pass over the data)."""
    jacobian_passes: int
    """Fused J^T J / J^T r / cost passes."""
    nfev: int
    """Passes over the data in all: iterations + jacobian_passes."""
    cost: float
    """0.5 * sum(rho(r_i^2)) at the solution (r_i = (y_i - f_i) / sigma_i)."""
    rss: float
    """sum(r_i^2), the weighted residual sum of squares."""
    reduced_chi2: float
    """rss / dof."""
    dof: int
    """points - len(popt)."""
    rms: float
    """sqrt(rss / points), the root-mean-square weighted residual."""
    condition: float
    """2-norm condition number of the column-scaled J^T J."""
    ill_conditioned: bool
    """condition > 1e10: standard errors are unreliable."""
    singular: bool
    points: int
    seconds: float
    """Wall time of the fit in the library."""
    lambda_: float
    """Final damping."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, float]:
        """``{name: value}``."""
        return dict(zip(self.names, self.popt.tolist()))

    @property
    def stderr(self) -> dict[str, float]:
        """``{name: standard error}``."""
        return dict(zip(self.names, self.perr.tolist()))

    def summary(self) -> str:
        """A table of the estimates and the fit statistics."""
        w = max(9, *(len(n) for n in self.names))
        lines = [f"{'parameter':<{w}} {'estimate':>15} {'std. error':>12}"]
        for n, v, e in zip(self.names, self.popt, self.perr):
            lines.append(f"{n:<{w}} {v:>15.8g} {e:>12.4g}")
        lines.append(f"{self.points} points, rss {self.rss:.6g}, reduced chi2 "
                     f"{self.reduced_chi2:.6g}, {self.status} after {self.iterations} "
                     f"iterations ({self.seconds:.3g} s)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


# ---- arguments -----------------------------------------------------------------

_spec_cache: dict[tuple[Any, ...], Model] = {}


def _model_of(f: str, nvars: int, params: Sequence[str] | None,
              variables: Sequence[str] | None) -> Model:
    """The Model for an expression or built-in name, cached by its text."""
    key = (f, nvars, None if params is None else tuple(params),
           None if variables is None else tuple(variables))
    m = _spec_cache.get(key)
    if m is None:
        if variables is None and _builtin(f.strip()) is None:
            variables = default_variables(max(nvars, 1))
        m = Model(f, params=params, variables=variables)
        if len(_spec_cache) > 1024:
            _spec_cache.clear()
        _spec_cache[key] = m
    return m


def _nvars_of(xdata: Any) -> int:
    if isinstance(xdata, np.ndarray):
        return 1 if xdata.ndim <= 1 else xdata.shape[0]
    if isinstance(xdata, Mapping):
        return len(xdata)
    if isinstance(xdata, (list, tuple)) and xdata and np.ndim(xdata[0]) >= 1:
        return len(xdata)
    return 1


def _callable_params(f: Callable[..., Any]) -> tuple[str, ...]:
    """Parameter names of f(x, p1, p2, ...), as scipy finds their number."""
    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):
        raise ValueError("Unable to determine number of fit parameters.") from None
    names = [p.name for p in sig.parameters.values()
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(names) < 2:
        raise ValueError("Unable to determine number of fit parameters.")
    return tuple(names[1:])


def _start(p0: Any, names: tuple[str, ...] | None) -> NDArray[np.float64] | None:
    if p0 is None:
        return None
    if isinstance(p0, Mapping):
        if names is None:
            raise ArgumentError("p0: a mapping needs parameter names (give params=)")
        unknown = [k for k in p0 if k not in names]
        if unknown:
            raise ArgumentError(f"p0: the model has no parameter {', '.join(map(str, unknown))} "
                                f"(its parameters: {', '.join(names)})")
        missing = [n for n in names if n not in p0]
        if missing:
            raise ArgumentError(f"p0: no starting value for {', '.join(missing)}")
        return np.array([float(p0[n]) for n in names])
    return np.atleast_1d(np.asarray(p0, dtype=np.float64)).ravel()


def _bounds(bounds: Any, n: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):  # scipy.optimize.Bounds
        lb, ub = bounds.lb, bounds.ub
    else:
        try:
            lb, ub = bounds
        except (TypeError, ValueError):
            raise ValueError("`bounds` must contain 2 elements.") from None
    lb = np.asarray(lb, dtype=np.float64)
    ub = np.asarray(ub, dtype=np.float64)
    if lb.ndim == 0:
        lb = np.full(n, float(lb))
    if ub.ndim == 0:
        ub = np.full(n, float(ub))
    if lb.shape != (n,) or ub.shape != (n,):
        raise ValueError("Inconsistent shapes between bounds and `x0`.")
    if np.any(lb >= ub):
        raise ValueError("Each lower bound must be strictly less than each upper bound.")
    return np.ascontiguousarray(lb), np.ascontiguousarray(ub)


def _feasible_start(lb: NDArray[np.float64], ub: NDArray[np.float64]) -> NDArray[np.float64]:
    """scipy's default p0 inside the bounds: ones, moved inside where needed."""
    p0 = np.ones_like(lb)
    lf, uf = np.isfinite(lb), np.isfinite(ub)
    both = lf & uf
    p0[both] = 0.5 * (lb[both] + ub[both])
    p0[lf & ~uf] = lb[lf & ~uf] + 1
    p0[~lf & uf] = ub[~lf & uf] - 1
    return p0


def _column(a: Any, what: str) -> NDArray[np.float64]:
    v = a if isinstance(a, np.ndarray) else np.asarray(a, dtype=np.float64)
    if v.dtype != np.float64:
        v = v.astype(np.float64)
    if v.ndim != 1:
        v = v.reshape(-1)
    if not v.flags.c_contiguous:
        v = np.ascontiguousarray(v)
    return v


# ---- the fit ----------------------------------------------------------------------

def curve_fit(f: ModelSpec, xdata: Any, ydata: ArrayLike, p0: ArrayLike | Mapping[str, float] | None = None,
              sigma: ArrayLike | None = None, absolute_sigma: bool = False,
              check_finite: bool | None = None, bounds: Any = _DEFAULT_BOUNDS,
              method: str | None = None, jac: Callable[..., Any] | str | None = None, *,
              full_output: bool = False, loss: str = "linear", f_scale: float = 1.0,
              max_nfev: int | None = None, ftol: float = 1e-8, xtol: float = 1e-8,
              gtol: float = 1e-8, x_scale: ArrayLike | str | None = None,
              bounds_mode: str = "reflect", params: Sequence[str] | None = None,
              variables: Sequence[str] | None = None,
              progress: Callable[[CurveFitProgress], Any] | None = None,
              device: str | None = None, context: _runtime.Context | None = None,
              **kwargs: Any) -> Any:
    """Fits ``ydata ≈ f(xdata, *popt)`` by Levenberg-Marquardt, as
    ``scipy.optimize.curve_fit`` does, and returns ``(popt, pcov)``.

    Args:
        f: the model.  An expression string such as ``"a*exp(-b*x)+c"`` (its
            parameters are its names other than the variables, functions and
            ``pi``/``e``, in order of first appearance, unless ``params`` names
            them); a built-in model name (``"double_exp"``, ...); a
            :class:`Model`; or, slower, a Python callable ``f(xdata, *p)``
            returning the n model values (finite differences, or ``jac``).
        xdata: for an expression, a 1-D array (variable ``x``), a (k, n) array
            or a sequence of k arrays (variables ``x1..xk`` unless
            ``variables`` names them), or a mapping ``{variable: array}``.
            For a callable, anything f accepts.
        ydata: the n observations.
        p0: starting values: a sequence in parameter order, or a mapping
            ``{name: value}``.  None: ones (moved inside finite bounds as scipy
            does).
        sigma: standard deviations of ydata (n values, or one for all); the
            residuals are ``(ydata - f) / sigma``.  A 2-D covariance matrix is
            not supported (ValueError).
        absolute_sigma: True: pcov = (J^T J)^-1 in the units of sigma; False:
            scaled by the reduced chi-square.
        check_finite: accepted for compatibility; non-finite x, y or sigma
            always raise :class:`fitcl.DataError` naming the row.
        bounds: ``(lower, upper)``, scalars or one value per parameter, or a
            ``scipy.optimize.Bounds``.  Trial points that leave the box are
            reflected into it (``bounds_mode="project"`` clips them).
        method: None, ``"lm"``, ``"trf"`` or ``"dogbox"``.  fitcl has one
            solver, Levenberg-Marquardt with box bounds; the names are
            accepted as scipy accepts them, and ``"lm"`` raises scipy's
            errors for bounds or a robust loss.
        jac: for a callable f: ``jac(xdata, *p)`` returning the (n, k)
            Jacobian, or ``"2-point"`` (default) / ``"3-point"`` finite
            differences.  Expressions have exact derivatives.
        full_output: also return a :class:`CurveFitResult`:
            ``(popt, pcov, result)``.
        loss, f_scale: robust loss (``"linear"``, ``"soft_l1"``, ``"huber"``,
            ``"cauchy"``, ``"arctan"``) and its soft margin, as in
            ``scipy.optimize.least_squares``.
        max_nfev: the most trial steps (cost passes); default 100*(k+1).
            ``maxfev=`` is accepted as scipy's alias.
        ftol, xtol, gtol: convergence tolerances (MINPACK meaning).
        x_scale: ``"jac"`` (default) or one characteristic scale per parameter.
        params, variables: parameter and variable names of an expression.
        progress: called with a :class:`CurveFitProgress` after every trial
            step (on the calling thread); an exception it raises stops the fit
            and propagates.
        device, context: where to run (see :class:`fitcl.Context`).

    Returns:
        ``(popt, pcov)``, or ``(popt, pcov, result)`` with ``full_output``.

    Raises:
        ValueError: misuse as scipy reports it (bounds, p0, shapes).
        fitcl.InputError: bad model expression (ParseError,
            UnknownNameError), bad data (DataError), ... (all ValueError).
        fitcl.NotConvergedError: the solver stopped without converging (a
            RuntimeError, as scipy's "Optimal parameters not found").
        fitcl.OptimizeWarning: warned when the covariance cannot be estimated
            (pcov is then inf).
    """
    if kwargs:
        if "maxfev" in kwargs and max_nfev is None:
            max_nfev = kwargs.pop("maxfev")
        if "args" in kwargs:
            raise ValueError("'args' is not a supported keyword argument.")
        if kwargs:
            raise TypeError(f"curve_fit() got an unexpected keyword argument "
                            f"'{next(iter(kwargs))}'")
    if method not in _METHODS:
        raise ValueError(f"method '{method}' is not one of None, 'lm', 'trf', 'dogbox'")
    loss_code = _LOSSES.get(loss)
    if loss_code is None:
        raise ValueError(f"`loss` must be one of {tuple(_LOSSES)} or a callable.")
    if method == "lm" and loss_code != 0:
        raise ValueError("method='lm' supports only 'linear' loss function.")
    bmode = _BOUNDS_MODES.get(bounds_mode)
    if bmode is None:
        raise ValueError(f"bounds_mode: expected 'reflect' or 'project', got {bounds_mode!r}")

    # The model and its parameter names.
    model: Model | None
    names: tuple[str, ...] | None
    if isinstance(f, str):
        model = _model_of(f, _nvars_of(xdata), params, variables)
        names = model.params
    elif isinstance(f, Model):
        model, names = f, f.params
    elif callable(f):
        model = None
        names = tuple(params) if params is not None else None
    else:
        raise TypeError(f"f: expected an expression, a built-in name, a fitcl.Model or a "
                        f"callable, got {type(f).__name__}")
    start = _start(p0, names)
    if names is None:  # a callable: names from its signature, count from p0
        if start is not None:
            try:
                sig_names = _callable_params(f)  # type: ignore[arg-type]
            except ValueError:
                sig_names = ()
            names = (sig_names if len(sig_names) == start.size
                     else tuple(f"p{i}" for i in range(start.size)))
        else:
            names = _callable_params(f)  # type: ignore[arg-type]
    assert names is not None
    n = len(names)
    if start is not None and start.size != n:
        raise ValueError(f"p0 has {start.size} values but the model has {n} parameters "
                         f"({', '.join(names)})")

    # Bounds, as scipy prepares them.
    if bounds is _DEFAULT_BOUNDS:
        lower = upper = None
        if start is None:
            start = np.ones(n)
    else:
        lb, ub = _bounds(bounds, n)
        if start is None:
            start = _feasible_start(lb, ub)
        bounded = bool(np.any(np.isfinite(lb)) or np.any(np.isfinite(ub)))
        if method == "lm" and bounded:
            raise ValueError("Method 'lm' only works for unconstrained problems. "
                             "Use 'trf' or 'dogbox' instead.")
        if np.any((start < lb) | (start > ub)):
            raise ValueError("`x0` is infeasible.")
        lower, upper = (lb, ub) if bounded else (None, None)
    if not start.flags.c_contiguous or start.dtype != np.float64:
        start = np.ascontiguousarray(start, dtype=np.float64)

    y = _column(ydata, "ydata")
    m = y.size
    if m == 0:
        raise ValueError("`ydata` must not be empty!")
    if n > m:
        raise TypeError(f"The number of func parameters={n} must not exceed the number of data "
                        f"points={m}")
    w = None
    if sigma is not None:
        s = np.asarray(sigma, dtype=np.float64)
        if s.size == 1:
            w = np.full(m, float(s.reshape(-1)[0]))
        elif s.shape == (m,):
            w = _column(s, "sigma")
        elif s.shape == (m, m):
            raise ValueError("`sigma` as a covariance matrix (2-D) is not supported by "
                             "fitcl.curve_fit; give standard deviations (1-D)")
        else:
            raise ValueError("`sigma` has incorrect shape.")

    scale = None
    if x_scale is not None and not (isinstance(x_scale, str) and x_scale == "jac"):
        scale = np.ascontiguousarray(np.broadcast_to(np.asarray(x_scale, dtype=np.float64), (n,)))
    max_iter = 0 if max_nfev is None else int(max_nfev)
    watch = progress is not None or (m >= _WATCH_POINTS and
                                     threading.current_thread() is threading.main_thread())
    callback = _progress_adapter(progress)
    popt = np.empty(n)
    pcov = np.empty((n, n))
    perr = np.empty(n) if full_output else None
    corr = np.empty((n, n)) if full_output else None

    ctx = _runtime.acquire(device, context)
    try:
        if model is not None:
            xs = as_columns(xdata, model.variables)
            if xs and xs[0].size != m:
                raise ValueError(f"xdata has {xs[0].size} points but ydata has {m}")
            handle = model.compiled(ctx)
        else:
            handle, xs = _callable_model(ctx, f, xdata, names, m, jac, lower,  # type: ignore[arg-type]
                                         upper)
        r = _fitcl.fit_arrays(ctx._live(), handle, xs, y, w, start, lower, upper, scale,
                              loss_code, float(f_scale), bool(absolute_sigma), float(ftol),
                              float(xtol), float(gtol), max_iter, bmode, 0, callback, watch,
                              popt, pcov, perr, corr)
    finally:
        _runtime.release(device, context, ctx)
    return _finish(r, names, popt, pcov, perr, corr, full_output, max_iter or 100 * (n + 1))


def _progress_adapter(progress: Callable[[CurveFitProgress], Any] | None
                      ) -> Callable[..., Any] | None:
    if progress is None:
        return None

    def call(iteration: int, cost: float, lam: float, step: float, accepted: float,
             elapsed: float) -> None:
        progress(CurveFitProgress(iteration, cost, lam, step, bool(accepted), elapsed))
    return call


def _finish(r: tuple[Any, ...], names: tuple[str, ...], popt: NDArray[np.float64],
            pcov: NDArray[np.float64], perr: NDArray[np.float64] | None,
            corr: NDArray[np.float64] | None, full_output: bool, max_iter: int) -> Any:
    """Turns the library's result into scipy's outcome: (popt, pcov), the
    covariance warning, or the error of a fit that did not converge."""
    (status, status_name, iterations, jac_passes, cost, rss, chi2, condition, ill, singular,
     points, seconds, lam) = r
    result = None
    if full_output or status not in _STATUS_CONVERGED:
        assert perr is not None or not full_output
        dof = int(points) - len(names)
        msg = _MESSAGES.get(status) or (f"Number of calls to function has reached "
                                        f"maxfev = {max_iter}.")
        result = CurveFitResult(
            names=names, popt=popt, pcov=pcov,
            perr=perr if perr is not None else np.sqrt(np.abs(np.diag(pcov))),
            correlation=corr if corr is not None else np.full_like(pcov, np.nan),
            status=status_name, converged=status in _STATUS_CONVERGED, message=msg,
            iterations=iterations, jacobian_passes=jac_passes, nfev=iterations + jac_passes,
            cost=cost, rss=rss, reduced_chi2=chi2, dof=dof,
            rms=float(np.sqrt(rss / points)) if points else float("nan"), condition=condition,
            ill_conditioned=bool(ill), singular=bool(singular), points=int(points),
            seconds=seconds, lambda_=lam)
    if status not in _STATUS_CONVERGED:
        if status == 6:
            raise DataError(_MESSAGES[6], 0, "")
        err = NotConvergedError("Optimal parameters not found: " + result.message, 700,  # type: ignore[union-attr]
                                "FITCL_ERR_NOT_CONVERGED")
        err.result = result
        raise err
    if singular or np.isnan(pcov).any():
        pcov.fill(np.inf)
        warnings.warn("Covariance of the parameters could not be estimated",
                      category=OptimizeWarning, stacklevel=3)
    if full_output:
        return popt, pcov, result
    return popt, pcov


# ---- Python callables ---------------------------------------------------------------

def _callable_model(ctx: _runtime.Context, f: Callable[..., Any], xdata: Any,
                    names: tuple[str, ...], m: int, jac: Any,
                    lower: NDArray[np.float64] | None, upper: NDArray[np.float64] | None
                    ) -> tuple[Any, tuple[NDArray[np.float64], ...]]:
    """A library model over the row index that evaluates f over all the data
    once per parameter vector (see python/ext/model.c)."""
    if isinstance(xdata, (list, tuple, np.ndarray)):
        xdata = np.asarray(xdata, dtype=np.float64)
    k = len(names)
    F = np.empty(m)
    J = np.empty((m, k))
    if jac is None or jac == "2-point":
        three = False
    elif jac == "3-point":
        three = True
    elif callable(jac):
        three = False
    else:
        raise ValueError(f"jac: expected a callable, '2-point' or '3-point', got {jac!r}")
    lo = lower if lower is not None else np.full(k, -np.inf)
    hi = upper if upper is not None else np.full(k, np.inf)

    def values(p: Sequence[float] | NDArray[np.float64]) -> NDArray[np.float64]:
        v = np.asarray(f(xdata, *p), dtype=np.float64)
        if v.shape != (m,):
            v = v.reshape(-1)
            if v.size != m:
                raise ValueError(f"the model function returned {v.size} values for {m} data points")
        return v

    def evaluate(p: tuple[float, ...], want_f: bool, want_j: bool) -> None:
        if want_f:
            F[:] = values(p)
        if not want_j:
            return
        if callable(jac):
            J[:] = np.asarray(jac(xdata, *p), dtype=np.float64).reshape(m, k)
            return
        x0 = np.array(p, dtype=np.float64)
        for j in range(k):
            # scipy.optimize._numdiff's steps: relative, exactly representable,
            # and turned around where the forward step would leave the box.
            h = (_EPS ** (1 / 3) if three else _EPS ** 0.5) * max(1.0, abs(x0[j]))
            h = h if x0[j] >= 0 else -h
            if x0[j] + h > hi[j] or x0[j] + h < lo[j]:
                h = -h
            h = (x0[j] + h) - x0[j]
            xp = x0.copy()
            xp[j] += h
            if three:
                xm = x0.copy()
                xm[j] -= h
                J[:, j] = np.subtract(values(xp), values(xm)) / (2 * h)
            else:
                J[:, j] = np.subtract(values(xp), F) / h

    handle = _fitcl.callable_model(ctx._live(), evaluate, names, F, J)
    rows = np.arange(m, dtype=np.float64)
    return handle, (rows,)
