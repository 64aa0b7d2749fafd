"""Exceptions and warnings of fitcl.

Every failure of the library raises a subclass of :class:`Error` carrying the
library's status code, its symbolic name and the one-line message (what and
where).  The classes follow the status ranges of the C API (``fitcl.h``):

====================  =========  ==============================================
class                 codes      also a
====================  =========  ==============================================
InputError            100..399   ValueError (bad argument, input or request)
 ArgumentError        100..103
 DeviceSelectionError 104..107
 ParseError           200
 DataError            201, 202, 204
 UnknownNameError     203
 FileError            205
 UnsupportedError     300
DeviceError           400..499   RuntimeError
IOFailure             500..599   OSError
InternalError         600..699   RuntimeError (out of memory, internal)
NotConvergedError     700        RuntimeError (as scipy's curve_fit raises)
====================  =========  ==============================================
"""
from __future__ import annotations

__all__ = [
    "Error", "InputError", "ArgumentError", "DeviceSelectionError", "ParseError", "DataError",
    "UnknownNameError", "FileError", "UnsupportedError", "DeviceError", "IOFailure",
    "InternalError", "NotConvergedError", "OptimizeWarning", "error_from_status",
]


class Error(Exception):
    """Base class of every fitcl error.

    Attributes:
        status: the library's status code (``fitcl_status``), 0 when the error
            was found by the Python layer before calling the library.
        status_name: its symbolic name, e.g. ``"FITCL_ERR_PARSE"``.
        message: the one-line description.
    """

    status: int
    status_name: str
    message: str

    def __init__(self, message: str, status: int = 0, status_name: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.status_name = status_name


class InputError(Error, ValueError):
    """Bad argument, input data or request: the caller's to fix (codes 100..399)."""


class ArgumentError(InputError):
    """An invalid, missing or out-of-range argument, or an object in the wrong state."""


class DeviceSelectionError(InputError):
    """A malformed device selector, no matching device, no fp64, or a bad FITCL_* variable."""


class ParseError(InputError):
    """Malformed input: a model expression, a Newick tree, a table."""


class DataError(InputError):
    """Invalid data values (NaN, Inf, sigma <= 0), inputs that do not match, sizes out of range."""


class UnknownNameError(InputError):
    """An unknown name: a model variable, a column, a family, a built-in model."""


class FileError(InputError):
    """A file that cannot be opened or created."""


class UnsupportedError(InputError):
    """An operation this build or device does not support."""


class DeviceError(Error, RuntimeError):
    """An OpenCL call, a kernel build or device memory failed (codes 400..499)."""


class IOFailure(Error, OSError):
    """Reading or writing failed part way (codes 500..599)."""

    def __str__(self) -> str:  # OSError would format (errno, strerror)
        return self.message


class InternalError(Error, RuntimeError):
    """Out of host memory, an internal error, or an interrupted call (codes 600..699)."""


class NotConvergedError(Error, RuntimeError):
    """The fit did not converge (``curve_fit`` raises it as scipy raises RuntimeError).

    Attributes:
        result: the :class:`fitcl.CurveFitResult` at the last accepted point,
            when there is one.
    """

    result: object = None


class OptimizeWarning(UserWarning):
    """The covariance of the parameters could not be estimated (as in scipy)."""


_BY_CODE = {
    200: ParseError, 201: DataError, 202: DataError, 203: UnknownNameError, 204: DataError,
    205: FileError, 300: UnsupportedError, 700: NotConvergedError,
}


def _class_of(status: int) -> type[Error]:
    if status in _BY_CODE:
        return _BY_CODE[status]
    if 100 <= status <= 103:
        return ArgumentError
    if 104 <= status <= 199:
        return DeviceSelectionError
    if 100 <= status <= 399:
        return InputError
    if 400 <= status <= 499:
        return DeviceError
    if 500 <= status <= 599:
        return IOFailure
    return InternalError


def error_from_status(status: int, status_name: str, message: str) -> Error:
    """The exception for a library status (called by the extension)."""
    return _class_of(status)(message, status, status_name)
