"""fitcl.curve_fit_file: ``fitcl curve-fit`` from Python.  The library
streams the file chunk by chunk on every pass, so files larger than memory
fit in constant memory, with checkpoints to resume an interrupted fit."""
from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from . import _fitcl
from . import _runtime
from ._curvefit import (_BOUNDS_MODES, _DEFAULT_BOUNDS, _LOSSES, CurveFitProgress, _bounds,
                        _finish, _progress_adapter)
from ._errors import ArgumentError
from ._model import Model, _builtin

__all__ = ["curve_fit_file"]

_IDENT = re.compile(r"[A-Za-z_]\w*\Z")
_MAPPED_EXT = (".npy", ".bin", ".raw", ".dat")


def _columns(x: str | Sequence[str] | None) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(column specs, variable names) of ``x`` as ``fitcl curve-fit --x``
    reads it: NAME=COL names the variable; a column that is an identifier
    names itself; others are x (one column) or x1, x2, ..."""
    if x is None:
        return None
    items = [s for s in (x.split(",") if isinstance(x, str) else list(x)) if s]
    if not items or len(items) > int(_fitcl.MAX_VARS):
        raise ArgumentError(f"x: expected 1 to {_fitcl.MAX_VARS} column specifications")
    cols, names = [], []
    for j, item in enumerate(items):
        name, eq, col = str(item).partition("=")
        if eq:
            if not _IDENT.match(name):
                raise ArgumentError(f"x: {name!r} is not a valid variable name")
            cols.append(col)
            names.append(name)
        else:
            cols.append(name)
            names.append(name if _IDENT.match(name) else ("x" if len(items) == 1 else f"x{j + 1}"))
    return tuple(cols), tuple(names)


def _format(path: str, format: str | None) -> tuple[str | None, int, int, bool]:
    """(format name, raw columns, raw float32, mapped) of ``--format``."""
    if format is not None and (format == "raw" or format.startswith("raw:")):
        parts = format.split(":")
        if len(parts) > 3 or (len(parts) > 1 and parts[1] not in ("f64", "f32")):
            raise ArgumentError(f"format: expected raw[:f64|f32[:COLUMNS]], got {format!r}")
        columns = int(parts[2]) if len(parts) == 3 else 0
        return "raw", columns, int(len(parts) > 1 and parts[1] == "f32"), True
    mapped = (format in ("npy", "raw") if format is not None
              else path.lower().endswith(_MAPPED_EXT))
    return format, 0, 0, mapped


def _tol(t: float | None) -> float:
    # None: the library's defaults (0), which are the command's.
    return 0.0 if t is None else float(t)


def curve_fit_file(path: str | os.PathLike[str], model: str | Model, *,
                   x: str | Sequence[str] | None = None, y: str | None = None,
                   sigma: str | None = None, p0: Sequence[float] | Mapping[str, float] | None = None,
                   params: Sequence[str] | None = None, format: str | None = None,
                   bounds: Any = _DEFAULT_BOUNDS, bounds_mode: str = "reflect",
                   x_scale: Sequence[float] | str | None = None, loss: str = "linear",
                   f_scale: float = 1.0, absolute_sigma: bool = False,
                   max_nfev: int | None = None, ftol: float | None = None,
                   xtol: float | None = None, gtol: float | None = None, chunk_points: int | None = None,
                   csv_cache_mb: int | None = None,
                   checkpoint: str | os.PathLike[str] | None = None,
                   checkpoint_every: int | None = None,
                   resume: str | os.PathLike[str] | None = None,
                   progress: Callable[[CurveFitProgress], Any] | None = None,
                   full_output: bool = False, device: str | None = None,
                   context: _runtime.Context | None = None) -> Any:
    """Fits a model to the columns of a file, streaming it as ``fitcl
    curve-fit`` does (docs/curve-fit.md), and returns ``(popt, pcov)`` (and a
    :class:`fitcl.CurveFitResult` with ``full_output``).

    Args:
        path: ``.npy``, ``.csv``, ``.tsv``, ``.h5``/``.hdf5``, or raw binary
            (``.bin``/``.raw``/``.dat``).
        model: an expression (its parameters are ``params``, else its names
            in order of first appearance; its variables the ``x`` names, else
            ``x``), a built-in name, or a :class:`fitcl.Model`.
        x: column specifications in the model's variable order, as ``--x``:
            a CSV header name, an HDF5 dataset path (``PATH[:COL]``), a column
            index (npy, raw) or another ``FILE.npy[:COL]``; ``NAME=COL`` names
            the variable.  Default: the model's variable names (columns
            0, 1, ... for npy/raw).
        y, sigma: the y and standard-deviation columns (default ``y``; the
            column after x for npy/raw; unweighted).
        p0: starting values, in parameter order or as ``{name: value}``;
            may be left out when ``resume`` gives them.
        format: ``npy``, ``csv``, ``tsv``, ``hdf5`` or ``raw[:f64|f32[:COLUMNS]]``;
            default by extension.
        chunk_points: points per chunk (default 1048576; 65536 for CSV).
        csv_cache_mb: CSV values kept in memory after the first pass up to
            this size (default 256; negative: never).
        checkpoint, checkpoint_every: write the solver state every N
            iterations (default 10) and when the fit stops, atomically.
        resume: continue from a checkpoint of the same model, loss and bounds;
            the result is the one an uninterrupted fit reaches.
        progress: called with a :class:`fitcl.CurveFitProgress` every
            iteration.  Ctrl-C (KeyboardInterrupt) stops the fit after writing
            the checkpoint.
        Other arguments: as :func:`fitcl.curve_fit`.
    """
    spath = os.fspath(path)
    fmt, raw_columns, raw_f32, mapped = _format(spath, format)
    cols = _columns(x)
    if isinstance(model, Model):
        m = model
    elif not isinstance(model, str):
        raise TypeError(f"model: expected an expression, a built-in name or a fitcl.Model, got "
                        f"{type(model).__name__}")
    elif _builtin(model.strip()) is not None:
        m = Model(model.strip())
    else:
        m = Model(model, params=params, variables=cols[1] if cols else ("x",))
    n = len(m.params)
    if cols is not None and len(cols[0]) != len(m.variables):
        raise ArgumentError(f"x: {len(cols[0])} column{'s' if len(cols[0]) != 1 else ''} given "
                            f"but the model reads {len(m.variables)} variable"
                            f"{'s' if len(m.variables) != 1 else ''}")
    if cols is not None:
        xcols = cols[0]
    elif not mapped:
        xcols = m.variables
    elif len(m.variables) != 1:
        xcols = tuple(str(j) for j in range(len(m.variables)))
    else:
        xcols = ()
    if p0 is None:
        if resume is None:
            raise ArgumentError("p0 is required (or resume=)")
        start = np.zeros(n)
    elif isinstance(p0, Mapping):
        missing = [p for p in m.params if p not in p0]
        unknown = [k for k in p0 if k not in m.params]
        if unknown:
            raise ArgumentError(f"p0: the model has no parameter {unknown[0]!r}")
        if missing:
            raise ArgumentError(f"p0: no starting value for parameter {missing[0]!r}")
        start = np.array([float(p0[p]) for p in m.params])
    else:
        start = np.ascontiguousarray(np.asarray(p0, dtype=np.float64).reshape(-1))
        if start.size != n:
            raise ArgumentError(f"p0 has {start.size} values but the model has {n} parameters "
                                f"({', '.join(m.params)})")
    lower = upper = None
    if bounds is not _DEFAULT_BOUNDS:
        lower, upper = _bounds(bounds, n)
    loss_code = _LOSSES.get(loss)
    if loss_code is None:
        raise ValueError(f"`loss` must be one of {tuple(_LOSSES)}.")
    bmode = _BOUNDS_MODES.get(bounds_mode)
    if bmode is None:
        raise ValueError(f"bounds_mode: expected 'reflect' or 'project', got {bounds_mode!r}")
    scale = None
    if x_scale is not None and not (isinstance(x_scale, str) and x_scale == "jac"):
        scale = np.ascontiguousarray(np.broadcast_to(np.asarray(x_scale, dtype=np.float64), (n,)))
    watch = threading.current_thread() is threading.main_thread()
    popt, pcov = np.empty(n), np.empty((n, n))
    perr = np.empty(n) if full_output else None
    corr = np.empty((n, n)) if full_output else None
    max_iter = 0 if max_nfev is None else int(max_nfev)
    ctx = _runtime.acquire(device, context)
    try:
        r = _fitcl.fit_source(
            ctx._live(), m.compiled(ctx), spath, fmt, tuple(xcols), y, sigma, raw_columns,
            raw_f32, 0 if csv_cache_mb is None else int(csv_cache_mb), start, lower, upper, scale,
            loss_code, float(f_scale), bool(absolute_sigma), _tol(ftol), _tol(xtol),
            _tol(gtol), max_iter, bmode, int(chunk_points or 0), _progress_adapter(progress),
            watch, None if checkpoint is None else os.fspath(checkpoint),
            int(checkpoint_every or 0), None if resume is None else os.fspath(resume), m.expr,
            popt, pcov, perr, corr)
    finally:
        _runtime.release(device, context, ctx)
    return _finish(r, m.params, popt, pcov, perr, corr, full_output, max_iter or 100 * (n + 1))
