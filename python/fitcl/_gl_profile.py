"""The profile log-likelihood of the retention effect theta: at each theta
the log-likelihood maximised over the rates (and alpha) by a projected BFGS
on the log-parameters, driven by the library's analytic gradient."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from . import _fitcl
from . import _runtime
from ._errors import ArgumentError
from ._gl_data import _Inputs


class _Estimate(Protocol):
    """What the profile needs of a retention-test result (gainloss's
    RetentionResult; named here by its shape so that this module stays
    below gainloss, which imports it)."""
    effect: float
    ci_low: float
    ci_high: float
    ci_method: str
    alt: Any


@dataclass(frozen=True)
class ThetaProfile:
    """The profile log-likelihood of the retention effect theta: at each
    theta, the log-likelihood maximised over the other parameters."""

    theta: NDArray[np.float64]
    loglik: NDArray[np.float64]
    theta_hat: float
    loglik_max: float
    ci_low: float
    ci_high: float
    ci_method: str


_LOG_RATE = (math.log(1e-8), math.log(1e4))
_LOG_ALPHA = (math.log(0.02), math.log(1000.0))


def _maximise(fg: Callable[[NDArray[np.float64]], tuple[float, NDArray[np.float64]]],
              u0: NDArray[np.float64], lo: NDArray[np.float64], hi: NDArray[np.float64],
              max_iter: int = 200) -> tuple[NDArray[np.float64], float]:
    """Minimises f over the box [lo, hi] by BFGS with projected steps and a
    backtracking (Armijo) line search; returns (u, f)."""
    u = np.clip(u0, lo, hi)
    f, g = fg(u)
    H = np.eye(u.size)
    for _ in range(max_iter):
        pg = g.copy()
        pg[(u <= lo) & (g > 0)] = 0
        pg[(u >= hi) & (g < 0)] = 0
        if np.max(np.abs(pg)) < 1e-7:
            break
        d = -H @ g
        if d @ g >= 0:
            H = np.eye(u.size)
            d = -g
        t = 1.0
        while True:
            un = np.clip(u + t * d, lo, hi)
            fn, gn = fg(un)
            if fn <= f + 1e-4 * (g @ (un - u)):
                break
            t *= 0.5
            if t < 1e-12:
                return u, f
        s, yv = un - u, gn - g
        sy = s @ yv
        if sy > 1e-12:
            rho = 1.0 / sy
            V = np.eye(u.size) - rho * np.outer(s, yv)
            H = V @ H @ V.T + rho * np.outer(s, s)
        done = abs(f - fn) <= 1e-13 * (1 + abs(f))
        u, f, g = un, fn, gn
        if done:
            break
    return u, f


def _profile(inp: _Inputs, selected: NDArray[np.uint8], cats: int, condition: bool,
             res: _Estimate, points: int, device: str | None,
             context: _runtime.Context | None,
             theta: Sequence[float] | None = None) -> ThetaProfile:
    th_hat = res.effect
    if theta is None:
        lo = res.ci_low if res.ci_low > 0 else th_hat / 100
        hi = res.ci_high if math.isfinite(res.ci_high) else th_hat * 100
        span = max(math.log(th_hat / lo), math.log(hi / th_hat), 0.1) * 1.6
        grid = np.exp(np.linspace(math.log(th_hat) - span, math.log(th_hat) + span, points))
    else:
        grid = np.asarray(theta, dtype=np.float64)
        if np.any(grid <= 0):
            raise ArgumentError("theta: every value must be > 0")
    _fitcl.data_set_groups(inp.data, selected.astype(np.int32))
    gamma = cats > 1
    lo_b = np.array([_LOG_RATE[0]] * 2 + ([_LOG_ALPHA[0]] if gamma else []))
    hi_b = np.array([_LOG_RATE[1]] * 2 + ([_LOG_ALPHA[1]] if gamma else []))
    ctx = _runtime.acquire(device, context)
    try:
        lik = _fitcl.lik_create(ctx._live(), inp.data, cats, not condition, math.nan)

        def at(th: float) -> Callable[[NDArray[np.float64]], tuple[float, NDArray[np.float64]]]:
            mult = np.array([1.0, th])

            def fg(u: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
                e = np.exp(u)
                ll, grad, _, _ = _fitcl.lik_eval(lik, e[0], e[1], e[2] if gamma else 0.0, mult,
                                                 True, None)
                assert grad is not None
                return -ll, -np.array(grad[:u.size])
            return fg

        start = np.log([res.alt.gain, res.alt.loss] + ([res.alt.alpha] if gamma else []))
        ll = np.empty(grid.size)
        # Outward from theta-hat, each point warm-started from its neighbour.
        order = np.argsort(np.abs(np.log(grid / th_hat)))
        warm: dict[int, NDArray[np.float64]] = {}
        for i in order:
            near = min(warm, key=lambda j: abs(math.log(grid[j] / grid[i])), default=None)
            u, f = _maximise(at(float(grid[i])), warm[near] if near is not None else start,
                             lo_b, hi_b)
            warm[int(i)] = u
            ll[i] = -f
    finally:
        _runtime.release(device, context, ctx)
    return ThetaProfile(theta=grid, loglik=ll, theta_hat=th_hat,
                        loglik_max=max(res.alt.loglik, float(ll.max())), ci_low=res.ci_low,
                        ci_high=res.ci_high, ci_method=res.ci_method)
