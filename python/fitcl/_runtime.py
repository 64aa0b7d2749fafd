"""Devices, contexts and the program-binary cache.

A :class:`Context` is one device opened by the library: its worker threads,
its kernels (built, or loaded from the on-disk cache) and its compiled
models.  The C API allows one thread at a time per context, so every call
takes the context's lock, with the GIL released while it waits.

Functions that take ``device=None, context=None`` use the given context, or
else one from a pool of contexts per device selector: a call takes an idle
context from the pool, or opens a new one when every pooled context is busy
in another thread.  So threads that call fitcl at the same time each get
their own context and run concurrently, and sequential calls reuse one
context (opening a context builds or loads every kernel: milliseconds with a
warm cache, up to seconds on an OpenCL device with a cold one).
"""
from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from typing import Any

from . import _fitcl

__all__ = [
    "Device", "devices", "Context", "ContextInfo", "CacheStats", "CacheInfo", "SelftestCheck",
    "cache_info", "cache_clear", "opencl_unavailable_reason",
]


@dataclass(frozen=True)
class Device:
    """One device fitcl can run on (``fitcl devices`` lists the same)."""

    selector: str
    """The string to give as ``device=`` (or ``FITCL_DEVICE``) for this device."""
    backend: str
    """``"cpu"`` (the pthreads backend) or ``"opencl"``."""
    name: str
    platform: str
    vendor: str
    type: str
    """``"cpu"``, ``"gpu"`` or ``"acc"``."""
    version: str
    driver: str
    fp64: bool
    compute_units: int
    global_mem_mb: int
    platform_index: int
    device_index: int
    precision: str
    """What a context on it computes in unless told otherwise: ``"double"``, or
    ``"mixed"`` on a device without fp64 or with slow fp64 (docs/precision.md)."""
    selected: bool
    """True for the device that ``device=None`` (``FITCL_DEVICE``, else ``auto``) picks."""


def devices() -> list[Device]:
    """Every device: the cpu backend first, then each OpenCL device.

    ``selected`` marks what ``FITCL_DEVICE`` (else ``auto``) picks; none is
    marked when that variable is malformed or matches nothing (opening a
    context then raises :class:`fitcl.DeviceSelectionError`).
    """
    found = _fitcl.devices()
    try:
        chosen: int | None = _fitcl.resolve(os.environ.get("FITCL_DEVICE") or None)
    except ValueError:
        chosen = None
    return [Device(**d, selected=(i == chosen)) for i, d in enumerate(found)]


def opencl_unavailable_reason() -> str | None:
    """Why this process cannot use OpenCL (e.g. libOpenCL.so.1 missing), or None."""
    return _fitcl.opencl_unavailable()


@dataclass(frozen=True)
class CacheStats:
    """Program-binary cache counts of one context."""

    hits: int
    misses: int
    rebuilt: int
    evicted: int
    stored: int


@dataclass(frozen=True)
class ContextInfo:
    """What a context runs on (``fitcl_context_info``)."""

    backend: str
    device: str
    platform: str
    selector: str
    requested: str | None
    fallback_reason: str | None
    """Set when ``auto`` (or a ``;`` list) fell back from a device that failed."""
    threads: int
    programs: int
    build_seconds: float
    cache_dir: str | None
    cache_mode: str
    discovery: str | None
    precision: str
    """What the device's kernels compute in: ``"double"``, ``"mixed"`` or
    ``"single"`` (docs/precision.md; the cpu backend always in double)."""
    cache: CacheStats


@dataclass(frozen=True)
class SelftestCheck:
    """One known-answer check of a kernel family."""

    family: str
    passed: bool
    max_rel_error: float
    detail: str


class Context:
    """A device opened for computing.

    Args:
        device: a selector (``"auto"``, ``"cpu"``, ``"opencl:PLATFORM:TYPE:DEVICE"``,
            ``"a;b"`` lists; docs/device-selection.md).  None: ``FITCL_DEVICE``,
            else ``"auto"``.
        threads: worker threads of the pthreads backend; 0: ``FITCL_THREADS``,
            else every CPU.
        cache: ``"on"``, ``"readonly"`` or ``"off"``; None: ``FITCL_CACHE``, else on.
        cache_dir: the program cache directory; None: ``FITCL_CACHE_DIR``, else
            ``$XDG_CACHE_HOME/fitcl`` or ``~/.cache/fitcl``.
        ignore_env: ignore every ``FITCL_*`` variable.
        precision: ``"double"``, ``"mixed"`` or ``"single"``; None:
            ``FITCL_PRECISION``, else chosen per device (docs/precision.md).

    Raises:
        DeviceSelectionError: a malformed selector, or no device matches it.
        DeviceError: kernels failed to build.

    A context may be shared between threads (calls on it take turns); use one
    per thread to run them in parallel.  ``with Context(...) as ctx:`` closes it
    at the end; otherwise it is closed when garbage collected.  A context does
    not survive ``fork()``: a child process opens its own.
    """

    __slots__ = ("_handle", "_models", "__weakref__")

    def __init__(self, device: str | None = None, *, threads: int = 0, cache: str | None = None,
                 cache_dir: str | os.PathLike[str] | None = None, ignore_env: bool = False,
                 precision: str | None = None) -> None:
        self._handle: _fitcl.Context | None = _fitcl.Context(
            device, int(threads), cache, None if cache_dir is None else os.fspath(cache_dir),
            bool(ignore_env), precision)
        # Compiled models by (expression, parameters, variables).
        self._models: dict[tuple[Any, ...], Any] = {}

    @property
    def info(self) -> ContextInfo:
        """Backend, device and program-cache statistics of this context."""
        d = self._live().info()
        d["cache"] = CacheStats(**d["cache"])
        return ContextInfo(**d)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._handle is None

    def selftest(self) -> list[SelftestCheck]:
        """Runs one known-answer check per kernel family on this context's device."""
        return [SelftestCheck(**c) for c in self._live().selftest()]

    def close(self) -> None:
        """Releases the device.  The library's context is destroyed when the
        last object made from it is gone: at once, unless a call on another
        thread is still using it (it is then destroyed when that call ends)."""
        self._models.clear()
        self._handle = None

    def _live(self) -> _fitcl.Context:
        if self._handle is None:
            raise ValueError("the context is closed")
        return self._handle

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            return "<fitcl.Context closed>"
        i = self.info
        return f"<fitcl.Context {i.backend}: {i.device} ({i.selector})>"

    def _model(self, key: tuple[Any, ...], make: Any) -> Any:
        """The compiled model for key, made by make(handle) on first use."""
        m = self._models.get(key)
        if m is None:
            if len(self._models) >= 256:
                self._models.clear()
            m = self._models[key] = make(self._live())
        return m


@dataclass(frozen=True)
class CacheInfo:
    """The program-binary cache a default context uses (``fitcl cache info``)."""

    dir: str
    usable: bool
    reason: str
    """Why the directory is not usable ("" when it is)."""
    entries: int
    bytes: int
    max_bytes: int


def cache_info() -> CacheInfo:
    """Summary of the program-binary cache (docs/cache.md)."""
    return CacheInfo(**_fitcl.cache_inspect())


def cache_clear() -> int:
    """Removes every entry of the program-binary cache; returns how many."""
    return int(_fitcl.cache_clear())


# ---- the pool of default contexts ------------------------------------------------

_pools: dict[str, list[Context]] = {}


def _pool_key(device: str | None) -> str:
    if device is not None:
        return device
    return "\0env:" + os.environ.get("FITCL_DEVICE", "")


def acquire(device: str | None, context: Context | None) -> Context:
    """The context a call runs on: the one given, else an idle pooled one."""
    if context is not None:
        if not isinstance(context, Context):
            raise TypeError(f"context: expected a fitcl.Context, got {type(context).__name__}")
        context._live()
        return context
    pool = _pools.get(_pool_key(device))
    if pool:
        try:
            return pool.pop()  # atomic under the GIL: no two threads get one context
        except IndexError:
            pass
    return Context(device)


def release(device: str | None, context: Context | None, used: Context) -> None:
    """Gives a pooled context back (a caller's own context is left alone)."""
    if context is None and not used.closed:
        _pools.setdefault(_pool_key(device), []).append(used)


@atexit.register
def _close_pools() -> None:
    for pool in _pools.values():
        for c in pool:
            c.close()
    _pools.clear()


# A forked child has none of its parent's worker threads: the pooled
# contexts are kept away from it, and never destroyed there (destroying one
# would wait for threads that do not exist).
_orphans: list[Context] = []


def _after_fork_in_child() -> None:
    for pool in _pools.values():
        _orphans.extend(pool)
    _pools.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
