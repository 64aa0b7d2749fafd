"""Figures (matplotlib; ``pip install fitcl[plot]``).

- :func:`fit`: data, the fitted model and a residual panel, with the
  parameter table;
- :func:`retention`: the profile log-likelihood of the retention effect theta;
- :func:`tree`: the tree with ancestral presence at the nodes and the
  expected gains and losses per branch.

Each returns the :class:`matplotlib.figure.Figure` (nothing is shown or
saved: call ``fig.savefig(...)``; use the Agg backend on machines without a
display).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._curvefit import CurveFitResult
from ._model import Model, _builtin, default_variables
from .gainloss import AncestralResult, RetentionResult, ThetaProfile

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["fit", "retention", "tree"]

# chi2_1(0.95) / 2: the drop of the profile log-likelihood at the ends of
# the 95% interval.
_CHI2_95_HALF = 1.9207294103470332


def _figure(**kw: Any) -> Figure:
    from matplotlib.figure import Figure
    return Figure(**kw)


def _model_values(f: str | Model | Callable[..., Any], xdata: Any, popt: NDArray[np.float64],
                  names: Sequence[str] | None) -> NDArray[np.float64]:
    if isinstance(f, str):
        nv = xdata.shape[0] if isinstance(xdata, np.ndarray) and xdata.ndim == 2 else 1
        b = _builtin(f.strip())
        f = Model(f) if b else Model(f, params=names, variables=default_variables(nv))
    if isinstance(f, Model):
        return f.eval(xdata, popt)  # type: ignore[return-value]
    return np.asarray(f(xdata, *popt), dtype=np.float64).reshape(-1)


def fit(f: str | Model | Callable[..., Any], xdata: ArrayLike, ydata: ArrayLike,
        popt: ArrayLike | CurveFitResult, perr: ArrayLike | None = None, *,
        sigma: ArrayLike | None = None, names: Sequence[str] | None = None,
        x_variable: int = 0, max_points: int = 20000, title: str | None = None,
        xscale: str = "linear", figsize: tuple[float, float] = (8.0, 6.0)) -> Figure:
    """The data, the fitted model and the residuals.

    Args:
        f: the model given to :func:`fitcl.curve_fit`.
        xdata, ydata, sigma: the data fitted.
        popt: the parameters, or the :class:`fitcl.CurveFitResult` of
            ``full_output=True`` (which also gives the names and errors).
        perr: standard errors for the table (e.g. ``np.sqrt(np.diag(pcov))``).
        names: parameter names for the table (default: the model's).
        x_variable: which variable is the horizontal axis (models of several).
        max_points: at most this many points are drawn (evenly spaced), so
            millions of points stay readable and fast.
    """
    if isinstance(popt, CurveFitResult):
        names = names or popt.names
        perr = popt.perr if perr is None else perr
        p = popt.popt
    else:
        p = np.asarray(popt, dtype=np.float64).reshape(-1)
    if names is None:
        b = _builtin(f.strip()) if isinstance(f, str) else None
        names = (f.params if isinstance(f, Model) else b[1] if b is not None else
                 tuple(f"p{i}" for i in range(p.size)))
    y = np.asarray(ydata, dtype=np.float64).reshape(-1)
    fx = _model_values(f, xdata, p, names)
    x_all = np.asarray(xdata, dtype=np.float64)
    xs = x_all[x_variable] if x_all.ndim == 2 else x_all.reshape(-1)
    resid = y - fx
    ylabel_r = "residual"
    if sigma is not None:
        resid = resid / np.broadcast_to(np.asarray(sigma, dtype=np.float64), y.shape)
        ylabel_r = "residual / sigma"
    step = max(1, y.size // max_points)
    sel = np.arange(0, y.size, step)
    order = sel[np.argsort(xs[sel], kind="stable")]

    fig = _figure(figsize=figsize, layout="constrained")
    gs = fig.add_gridspec(2, 1, height_ratios=(3, 1))
    ax = fig.add_subplot(gs[0])
    axr = fig.add_subplot(gs[1], sharex=ax)
    ms = 3 if sel.size < 2000 else 1
    ax.plot(xs[sel], y[sel], ".", ms=ms, color="0.45", label=f"data ({y.size:,} points"
            + (f", {sel.size:,} shown)" if step > 1 else ")"))
    if x_all.ndim == 2 and x_all.shape[0] > 1:
        ax.plot(xs[order], fx[order], ".", ms=ms + 1, color="C3", label="model")
    else:
        ax.plot(xs[order], fx[order], "-", lw=1.6, color="C3", label="model")
    axr.axhline(0, color="C3", lw=1)
    axr.plot(xs[sel], resid[sel], ".", ms=ms, color="0.45")
    ax.set_ylabel("y")
    axr.set_ylabel(ylabel_r)
    axr.set_xlabel("x" if x_all.ndim < 2 else f"x{x_variable + 1}")
    ax.set_xscale(xscale)
    ax.legend(loc="lower left", fontsize="small")
    ax.tick_params(labelbottom=False)
    rows = []
    err = None if perr is None else np.asarray(perr, dtype=np.float64).reshape(-1)
    for i, n in enumerate(names):
        e = "" if err is None else f" ± {err[i]:.3g}"
        rows.append(f"{n} = {p[i]:.6g}{e}")
    ax.text(0.98, 0.97, "\n".join(rows), transform=ax.transAxes, ha="right", va="top",
            family="monospace", fontsize="small",
            bbox=dict(boxstyle="round", facecolor="white", edgecolor="0.7", alpha=0.9))
    rms = float(np.sqrt(np.mean(resid ** 2)))
    ax.set_title(title or f"fit: rms {ylabel_r} {rms:.3g}")
    return fig


def retention(result: RetentionResult | ThetaProfile, *, points: int = 41,
              title: str | None = None, figsize: tuple[float, float] = (7.0, 4.5)) -> Figure:
    """The profile log-likelihood of theta, relative to its maximum, with the
    95% interval (where it drops by chi2_1(0.95)/2 = 1.92) and theta = 1 (the
    null).  A :class:`~fitcl.gainloss.RetentionResult` is profiled first
    (``result.profile(points)``)."""
    prof = result.profile(points) if isinstance(result, RetentionResult) else result
    rel = prof.loglik - prof.loglik_max
    fig = _figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    ax.plot(prof.theta, rel, "-", color="C0", lw=1.8, label="profile log-likelihood")
    ax.axhline(-_CHI2_95_HALF, color="0.5", ls="--", lw=1, label="95% threshold (−1.92)")
    ax.axvline(prof.theta_hat, color="C3", lw=1.2, label=f"θ̂ = {prof.theta_hat:.4g}")
    lo, hi = prof.ci_low, prof.ci_high
    if lo > 0 and math.isfinite(hi):
        ax.axvspan(lo, hi, color="C0", alpha=0.12,
                   label=f"95% CI [{lo:.4g}, {hi:.4g}] ({prof.ci_method})")
    if prof.theta.min() <= 1.0 <= prof.theta.max():
        ax.axvline(1.0, color="k", lw=0.8, ls=":", label="θ = 1 (null)")
    ax.set_xscale("log")
    ax.set_xlabel("θ (loss multiplier of the selected families)")
    ax.set_ylabel("log L(θ) − log L(θ̂)")
    ax.set_ylim(max(float(rel.min()), -4 * _CHI2_95_HALF) * 1.05, 0.5)
    ax.legend(loc="lower center", fontsize="small")
    if title is None and isinstance(result, RetentionResult):
        title = (f"retention test: {result.selected} of {result.families} families, "
                 f"LRT {result.lrt:.4g}, p = {result.p_value:.3g}")
    ax.set_title(title or "profile likelihood of θ")
    return fig


def _layout(parents: NDArray[np.int64], ntips: int) -> NDArray[np.float64]:
    """Vertical position of every node: tips 0, 1, ... in depth-first order
    from the root, internal nodes midway between their children."""
    nn = parents.size
    children: list[list[int]] = [[] for _ in range(nn)]
    for v in range(nn - 1):
        children[int(parents[v])].append(v)
    y = np.zeros(nn)
    next_tip = 0
    stack: list[tuple[int, bool]] = [(nn - 1, False)]
    while stack:
        v, done = stack.pop()
        if v < ntips:
            y[v] = next_tip
            next_tip += 1
        elif done:
            y[v] = 0.5 * (min(y[c] for c in children[v]) + max(y[c] for c in children[v]))
        else:
            stack.append((v, True))
            stack.extend((c, False) for c in reversed(children[v]))
    return y


def tree(result: AncestralResult, family: str | int | None = None, *,
         labels: bool = True, annotate: bool | None = None, title: str | None = None,
         figsize: tuple[float, float] | None = None) -> Figure:
    """The tree with ancestral gene content.

    Nodes are coloured by the posterior probability that ``family`` is
    present there (a name or row index), or, without one, by the expected
    number of families present.  Branches are coloured by the expected net
    change on them (gains − losses) and, with ``annotate`` (default for trees
    of at most 60 tips), labelled ``+gains / −losses``.
    """
    import matplotlib
    from matplotlib import cm, colors

    t = result.tree
    nn, nt = t.nnodes, t.ntips
    x = t.depths()
    y = _layout(t.parents, nt)
    if family is None:
        value = result.p_present.sum(axis=0)
        vlabel = "expected families present"
        vnorm = colors.Normalize(float(value.min()), float(value.max()))
    else:
        row = result.families.index(family) if isinstance(family, str) else int(family)
        value = result.p_present[row]
        vlabel = f"P({result.families[row]} present)"
        vnorm = colors.Normalize(0.0, 1.0)
    net = result.expected_gains - result.expected_losses
    lim = float(np.abs(net[: nn - 1]).max()) or 1.0
    bnorm = colors.TwoSlopeNorm(0.0, -lim, lim)
    bcmap = matplotlib.colormaps["RdBu_r"]
    vcmap = matplotlib.colormaps["viridis"]
    if annotate is None:
        annotate = nt <= 60
    fig = _figure(figsize=figsize or (9.0, max(4.0, 0.22 * nt + 1.5)), layout="constrained")
    ax = fig.add_subplot()
    for v in range(nn - 1):
        p = int(t.parents[v])
        c = bcmap(bnorm(net[v]))
        ax.plot([x[p], x[v]], [y[v], y[v]], color=c, lw=2.2, solid_capstyle="butt")
        ax.plot([x[p], x[p]], [y[p], y[v]], color="0.6", lw=0.8)
        if annotate:
            ax.text(0.5 * (x[p] + x[v]), y[v] - 0.12,
                    f"+{result.expected_gains[v]:.1f}/−{result.expected_losses[v]:.1f}",
                    ha="center", va="bottom", fontsize=5.5, color="0.25")
    sc = ax.scatter(x, y, c=value, cmap=vcmap, norm=vnorm, s=[14 if v < nt else 34 for v in
                                                              range(nn)],
                    edgecolors="k", linewidths=0.4, zorder=3)
    if labels:
        for v in range(nt):
            ax.text(x[v] + 0.01 * x.max(), y[v], t.tip_names[v], va="center", fontsize=7)
    ax.set_xlim(-0.02 * x.max(), x.max() * (1.18 if labels else 1.03))
    ax.set_ylim(nt - 0.4, -0.6)
    ax.set_yticks([])
    for s in ("left", "right", "top"):
        ax.spines[s].set_visible(False)
    ax.set_xlabel("distance from the root (branch length)")
    fig.colorbar(sc, ax=ax, label=vlabel, shrink=0.4, pad=0.01)
    fig.colorbar(cm.ScalarMappable(norm=bnorm, cmap=bcmap), ax=ax, shrink=0.4, pad=0.01,
                 label="expected gains − losses on the branch")
    ax.set_title(title or f"ancestral gene content: {len(result.families)} families, gain "
                 f"{result.gain:.4g}, loss {result.loss:.4g}")
    return fig
