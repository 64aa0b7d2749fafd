"""fitcl: statistical fitting on OpenCL devices or native threads.

- :func:`curve_fit` — ``scipy.optimize.curve_fit``'s interface on fitcl's
  streaming Levenberg-Marquardt solver, for model expressions (exact
  derivatives, compiled by the library), built-in models and Python callables;
  :func:`curve_fit_file` streams a file larger than memory;
  :func:`curve_fit_batch` runs N small fits of one model (every row of an
  (N, n) array) in one call.
- :mod:`fitcl.gainloss` — gene-content gain/loss analyses on trees and
  presence/absence matrices (paths, pandas DataFrames or NumPy arrays).
- :mod:`fitcl.plot` — matplotlib figures of fits, the retention test and
  ancestral gene content (``pip install fitcl[plot]``).
- :func:`devices`, :class:`Context`, :func:`cache_info` — the runtime.

Every computation runs with the GIL released; C-contiguous float64 arrays
are used without copying.  See docs/python.md.
"""
from __future__ import annotations

from . import _fitcl as _fitcl
from ._errors import (ArgumentError, DataError, DeviceError, DeviceSelectionError, Error,
                      FileError, InputError, InternalError, IOFailure, NotConvergedError,
                      OptimizeWarning, ParseError, UnknownNameError, UnsupportedError,
                      error_from_status)
from ._runtime import (CacheInfo, CacheStats, Context, ContextInfo, Device, SelftestCheck,
                       cache_clear, cache_info, devices, opencl_unavailable_reason)
from ._model import Model, builtin_models
from ._curvefit import CurveFitProgress, CurveFitResult, curve_fit
from ._curvefit_file import curve_fit_file
from ._batch import STATUS_NAMES, BatchFitProgress, BatchFitResult, curve_fit_batch
from . import gainloss

_fitcl._set_error_factory(error_from_status)

__version__: str = _fitcl.version
"""The library's version (MAJOR.MINOR.PATCH)."""

__all__ = [
    "curve_fit", "curve_fit_file", "CurveFitResult", "CurveFitProgress", "curve_fit_batch",
    "BatchFitResult", "BatchFitProgress", "STATUS_NAMES", "Model",
    "builtin_models", "gainloss", "devices", "Device", "Context", "ContextInfo", "CacheStats",
    "CacheInfo", "SelftestCheck", "cache_info", "cache_clear", "opencl_unavailable_reason",
    "Error", "InputError", "ArgumentError", "DeviceSelectionError", "ParseError", "DataError",
    "UnknownNameError", "FileError", "UnsupportedError", "DeviceError", "IOFailure",
    "InternalError", "NotConvergedError", "OptimizeWarning", "__version__",
]


def __getattr__(name: str) -> object:
    # fitcl.plot imports matplotlib: only when asked for.
    if name == "plot":
        import importlib
        return importlib.import_module(".plot", __name__)
    raise AttributeError(f"module 'fitcl' has no attribute {name!r}")
