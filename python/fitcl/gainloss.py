"""Gene-content evolution: the 2-state gain/loss model on a tree.

The same analyses as the ``fitcl`` command (``loglik``, ``fit``,
``retention-test``, ``simulate``, ``ancestral``; docs/analyses.md), with the
same numbers, on Python objects:

- a tree: a Newick string, a path to a Newick file, or a :class:`Tree`;
- a matrix: a path (Roary/Panaroo ``.Rtab`` or ``gene_presence_absence.csv``,
  CSV/TSV tables), a pandas DataFrame with families as rows (the index) and
  taxa as columns, a NumPy array (families x taxa) with ``taxa=`` (and
  optionally ``families=``) names, or a :class:`Matrix`.  Values: 0 absent,
  anything > 0 present, NaN missing (or 2 = :data:`MISSING` in uint8 arrays).

Results are dataclasses; tables come as pandas DataFrames where pandas is
installed (``fitcl[plot]``).  Every computation runs with the GIL released.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from . import _fitcl
from . import _runtime
from ._errors import ArgumentError
from ._gl_data import (MISSING, Matrix, MatrixLike, Tree, TreeLike, _fit_options, _Inputs,
                       _tree)
from ._gl_profile import ThetaProfile, _profile

if TYPE_CHECKING:
    import pandas

# Defined in helper modules, documented here.
Tree.__module__ = Matrix.__module__ = ThetaProfile.__module__ = __name__

__all__ = [
    "Tree", "Matrix", "MISSING", "LoglikResult", "FitResult", "RetentionResult", "ThetaProfile",
    "SimulationResult", "AncestralResult", "loglik", "fit", "retention_test", "theta_profile",
    "simulate", "ancestral",
]

# ---- likelihood ------------------------------------------------------------------------

@dataclass(frozen=True)
class LoglikResult:
    """The log-likelihood (``fitcl loglik``)."""

    loglik: float
    families: int
    patterns: int
    gradient: dict[str, float] | None
    """``{"log_gain", "log_loss"[, "log_alpha"]}``: derivatives with respect to the
    log-parameters (with ``gradient=True``)."""
    family_logliks: NDArray[np.float64] | None
    """One log-likelihood per family (with ``per_family=True``)."""


def loglik(tree: TreeLike, matrix: MatrixLike, gain: float, loss: float, *,
           alpha: float | None = None, gamma_cats: int = 1, condition: bool = True,
           root_p1: float | None = None, gradient: bool = False, per_family: bool = False,
           taxa: Sequence[str] | None = None, families: Sequence[str] | None = None,
           taxa_in_rows: bool = False, prune_missing: bool = False, device: str | None = None,
           context: _runtime.Context | None = None) -> LoglikResult:
    """Log-likelihood of the gain/loss model (``fitcl loglik``).

    Args:
        gain, loss: rates per unit branch length (> 0).
        alpha: gamma shape, required with ``gamma_cats`` > 1.
        condition: condition on every family being observed (the default,
            as pangenome tables hold no all-absent rows).
        root_p1: a fixed probability of presence at the root (default: the
            stationary gain / (gain + loss)).
        gradient: also return the gradient.
        per_family: also return each family's log-likelihood.
        taxa, families: names for a NumPy array matrix.
        taxa_in_rows: the matrix has one row per genome.
        prune_missing: drop tree tips that are absent from the matrix.
    """
    if gamma_cats > 1 and alpha is None:
        raise ArgumentError("alpha is required with gamma_cats > 1")
    inp = _Inputs(tree, matrix, taxa, families, taxa_in_rows, prune_missing)
    ctx = _runtime.acquire(device, context)
    try:
        lik = _fitcl.lik_create(ctx._live(), inp.data, int(gamma_cats), not condition,
                                math.nan if root_p1 is None else float(root_p1))
        fam = np.empty(inp.nfamilies) if per_family else None
        ll, grad, nfam, npat = _fitcl.lik_eval(lik, float(gain), float(loss),
                                               0.0 if alpha is None else float(alpha), None,
                                               gradient, fam)
    finally:
        _runtime.release(device, context, ctx)
    g = None
    if grad is not None:
        g = {"log_gain": grad[0], "log_loss": grad[1]}
        if gamma_cats > 1:
            g["log_alpha"] = grad[2]
    return LoglikResult(ll, int(nfam), int(npat), g, fam)


# ---- rate fits ----------------------------------------------------------------------------

@dataclass(frozen=True)
class FitResult:
    """A maximum-likelihood fit of the rates (``fitcl fit``); NaN where a
    value does not apply (alpha without gamma categories, effect outside
    the retention test's alternative)."""

    loglik: float
    aic: float
    nparams: int
    gain: float
    loss: float
    alpha: float
    effect: float
    se_gain: float
    se_loss: float
    se_alpha: float
    se_effect: float
    iterations: int
    evaluations: int
    converged: bool
    status: str
    """``pgtol``, ``ftol``, ``max_iter`` or ``line_search``."""
    families: int = 0
    patterns: int = 0
    taxa: int = 0

    @property
    def params(self) -> dict[str, float]:
        """The estimates that apply: gain, loss[, alpha][, effect]."""
        p = {"gain": self.gain, "loss": self.loss}
        if not math.isnan(self.alpha):
            p["alpha"] = self.alpha
        if not math.isnan(self.effect):
            p["effect"] = self.effect
        return p


def fit(tree: TreeLike, matrix: MatrixLike, *, gamma_cats: int = 1, condition: bool = True,
        max_iter: int | None = None, taxa: Sequence[str] | None = None,
        families: Sequence[str] | None = None, taxa_in_rows: bool = False,
        prune_missing: bool = False, device: str | None = None,
        context: _runtime.Context | None = None) -> FitResult:
    """Maximum-likelihood gain and loss rates, and with ``gamma_cats`` K > 1
    the gamma shape alpha, with standard errors (``fitcl fit``).

    A fit that does not converge is returned with ``converged=False`` (as the
    CLI prints it), not raised.
    """
    inp = _Inputs(tree, matrix, taxa, families, taxa_in_rows, prune_missing)
    opts = _fit_options(gamma_cats, condition, max_iter)
    ctx = _runtime.acquire(device, context)
    try:
        r = _fitcl.fit_rates(ctx._live(), inp.data, opts)
    finally:
        _runtime.release(device, context, ctx)
    return FitResult(**r, families=inp.nfamilies, patterns=inp.npatterns, taxa=inp.tree.ntips)


# ---- the retention test ------------------------------------------------------------------------

@dataclass(frozen=True)
class RetentionResult:
    """The retention likelihood-ratio test (``fitcl retention-test``)."""

    null: FitResult
    alt: FitResult
    families: int
    selected: int
    effect: float
    """theta-hat: the loss multiplier of the selected families."""
    se_effect: float
    ci_low: float
    ci_high: float
    ci_method: str
    """``wald-log`` or ``profile``."""
    lrt: float
    df: int
    p_value: float
    bootstrap_replicates: int
    bootstrap_p_value: float
    selected_families: list[str] = field(default_factory=list)
    _inputs: Any = field(default=None, repr=False, compare=False)

    def profile(self, points: int = 41, *, device: str | None = None,
                context: _runtime.Context | None = None) -> ThetaProfile:
        """The profile log-likelihood of theta on a log grid around theta-hat
        that spans its 95% interval (see :func:`theta_profile`)."""
        if self._inputs is None:
            raise ArgumentError("this result keeps no inputs to profile")
        inp, selected, cats, condition = self._inputs
        return _profile(inp, selected, cats, condition, self, points, device, context)


def _select(inp: _Inputs, families: Iterable[str] | NDArray[Any] | None, families_file: Any,
            families_regex: str | None, ctx: _runtime.Context) -> NDArray[np.uint8]:
    given = (families is not None) + (families_file is not None) + (families_regex is not None)
    if given != 1:
        raise ArgumentError("give exactly one of families, families_file and families_regex")
    sel = np.zeros(inp.nfamilies, dtype=np.uint8)
    if families_file is not None:
        _fitcl.select_families(ctx._live(), inp.data, os.fspath(families_file), None, sel)
    elif families_regex is not None:
        _fitcl.select_families(ctx._live(), inp.data, None, families_regex, sel)
    elif isinstance(families, np.ndarray) and families.dtype == bool:
        if families.shape != (inp.nfamilies,):
            raise ArgumentError(f"families: a mask needs {inp.nfamilies} entries")
        sel[:] = families
    else:
        index = {name: i for i, name in enumerate(inp.family_names)}
        unknown = [f for f in families if f not in index]  # type: ignore[union-attr]
        if unknown:
            raise ArgumentError(f"families: {unknown[0]!r} is not a family of the matrix"
                                + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""))
        sel[[index[f] for f in families]] = 1  # type: ignore[union-attr]
    k = int(sel.sum())
    if k == 0:
        raise ArgumentError("the selection names no family; select at least one family of the "
                            "matrix")
    if k == inp.nfamilies:
        raise ArgumentError(f"the selection holds every family ({k}): the test compares the set "
                            f"with the other families, so leave some out")
    return sel


def retention_test(tree: TreeLike, matrix: MatrixLike,
                   families: Iterable[str] | NDArray[np.bool_] | None = None, *,
                   families_file: str | os.PathLike[str] | None = None,
                   families_regex: str | None = None, bootstrap: int = 0, seed: int = 1,
                   ci: str = "wald", gamma_cats: int = 1, condition: bool = True,
                   max_iter: int | None = None,
                   progress: Callable[[int, int], Any] | None = None,
                   taxa: Sequence[str] | None = None, matrix_families: Sequence[str] | None = None,
                   taxa_in_rows: bool = False, prune_missing: bool = False,
                   device: str | None = None,
                   context: _runtime.Context | None = None) -> RetentionResult:
    """Likelihood-ratio test that the selected families are lost at a
    different rate, loss x theta (``fitcl retention-test``).

    Args:
        families: the selected family names, or a boolean mask over the
            matrix rows.  Or instead ``families_file`` (one name per line, as
            ``--families``) or ``families_regex`` (POSIX extended, unanchored).
        bootstrap: parametric-bootstrap replicates (0: none), with ``seed``.
        ci: ``"wald"`` (on log theta) or ``"profile"`` (profile likelihood).
        progress: ``progress(done, total)`` after each bootstrap batch.
        matrix_families: row names for a NumPy array matrix (with ``taxa``).
    """
    if ci not in ("wald", "profile"):
        raise ArgumentError(f"ci: expected 'wald' or 'profile', got {ci!r}")
    inp = _Inputs(tree, matrix, taxa, matrix_families, taxa_in_rows, prune_missing)
    opts = _fit_options(gamma_cats, condition, max_iter)
    ctx = _runtime.acquire(device, context)
    try:
        sel = _select(inp, families, families_file, families_regex, ctx)
        r = _fitcl.retention_test(ctx._live(), inp.data, sel, opts, int(bootstrap), int(seed),
                                  ci == "profile", progress)
    finally:
        _runtime.release(device, context, ctx)
    extra: dict[str, Any] = dict(families=inp.nfamilies, patterns=inp.npatterns,
                                 taxa=inp.tree.ntips)
    r["null"] = FitResult(**r["null"], **extra)
    r["alt"] = FitResult(**r["alt"], **extra)
    names = [inp.family_names[i] for i in np.flatnonzero(sel)]
    return RetentionResult(**r, selected_families=names,
                           _inputs=(inp, sel, int(gamma_cats), condition))


def theta_profile(tree: TreeLike, matrix: MatrixLike,
                  families: Iterable[str] | NDArray[np.bool_] | None = None, *,
                  theta: Sequence[float] | None = None, points: int = 41, gamma_cats: int = 1,
                  condition: bool = True, families_file: str | os.PathLike[str] | None = None,
                  families_regex: str | None = None, taxa: Sequence[str] | None = None,
                  matrix_families: Sequence[str] | None = None, taxa_in_rows: bool = False,
                  prune_missing: bool = False, device: str | None = None,
                  context: _runtime.Context | None = None) -> ThetaProfile:
    """The profile log-likelihood of the retention effect theta.

    At each theta (a log grid of ``points`` values around theta-hat spanning
    its 95% profile interval, or the values given) the log-likelihood is
    maximised over the gain and loss rates (and alpha) by a projected BFGS
    on the log-parameters driven by the library's analytic gradient.
    """
    res = retention_test(tree, matrix, families, families_file=families_file,
                         families_regex=families_regex, ci="profile", gamma_cats=gamma_cats,
                         condition=condition, taxa=taxa, matrix_families=matrix_families,
                         taxa_in_rows=taxa_in_rows, prune_missing=prune_missing, device=device,
                         context=context)
    inp, sel, cats, cond = res._inputs
    return _profile(inp, sel, cats, cond, res, points, device, context, theta)


# ---- simulation -------------------------------------------------------------------------------

@dataclass(frozen=True)
class SimulationResult:
    """Presence/absence simulated under the gain/loss model (``fitcl simulate``)."""

    matrix: Matrix
    """families (named as the CLI names them: fam0001, ...) x the tree's tips."""
    retained: list[str]
    """The families whose loss was multiplied by the effect."""

    def to_frame(self) -> pandas.DataFrame:
        """The matrix as a DataFrame (families x taxa)."""
        return self.matrix.to_frame()


def simulate(tree: TreeLike, gain: float, loss: float, families: int, *, seed: int,
             retained_fraction: float = 0.0, effect: float = 1.0, gamma_cats: int = 1,
             alpha: float | None = None, condition: bool = False) -> SimulationResult:
    """Simulates ``families`` gene families along the tree (``fitcl simulate``).

    The output depends only on the tree, the arguments and the seed: the same
    as the CLI's for the same arguments.

    Args:
        retained_fraction: fraction of families (chosen at random) whose loss
            is multiplied by ``effect``.
        gamma_cats, alpha: discrete-gamma rate categories and their shape.
        condition: redraw families absent from every tip.
    """
    t = _tree(tree)
    if gamma_cats > 1 and alpha is None:
        raise ArgumentError(f"gamma_cats {gamma_cats} needs alpha > 0")
    if families < 1:
        raise ArgumentError(f"families: expected at least 1, got {families}")
    states = np.empty((families, t.ntips), dtype=np.uint8)
    retained = np.empty(families, dtype=np.uint8)
    _fitcl.simulate(t._handle, float(gain), float(loss), int(families), float(retained_fraction),
                    float(effect), int(gamma_cats), 0.0 if alpha is None else float(alpha),
                    bool(condition), int(seed), states, retained)
    width = 4
    while width < 9 and families >= 10 ** width:
        width += 1
    names = [f"fam{f + 1:0{width}d}" for f in range(families)]
    m = Matrix.from_array(states, t.tip_names, names)
    return SimulationResult(m, [names[i] for i in np.flatnonzero(retained)])


# ---- ancestral states ----------------------------------------------------------------------------

@dataclass(frozen=True)
class AncestralResult:
    """Posterior presence at every node and expected gains and losses per
    branch (``fitcl ancestral``)."""

    gain: float
    loss: float
    alpha: float
    tree: Tree
    families: list[str]
    p_present: NDArray[np.float64]
    """families x nodes (every node, tips first, the root last)."""
    expected_gains: NDArray[np.float64]
    """Per node: expected families gained on the branch above it (root: 0)."""
    expected_losses: NDArray[np.float64]

    @property
    def internal_nodes(self) -> list[str]:
        """Names of the internal nodes (the node table's columns)."""
        return self.tree.node_names[self.tree.ntips:]

    @property
    def nodes_frame(self) -> pandas.DataFrame:
        """The CLI's node table: one row per family, one column per internal
        node, the posterior probability of presence."""
        import pandas as pd
        return pd.DataFrame(self.p_present[:, self.tree.ntips:],
                            index=pd.Index(self.families, name="family"),
                            columns=self.internal_nodes)

    @property
    def branches_frame(self) -> pandas.DataFrame:
        """The CLI's branch table: node, parent, length, expected_gains,
        expected_losses (one row per branch)."""
        import pandas as pd
        t, names = self.tree, self.tree.node_names
        k = t.nnodes - 1
        return pd.DataFrame({
            "node": names[:k], "parent": [names[p] for p in t.parents[:k]],
            "length": t.lengths[:k], "expected_gains": self.expected_gains[:k],
            "expected_losses": self.expected_losses[:k]})


def ancestral(tree: TreeLike, matrix: MatrixLike, *, gain: float | None = None,
              loss: float | None = None, alpha: float | None = None, gamma_cats: int = 1,
              condition: bool = True, taxa: Sequence[str] | None = None,
              families: Sequence[str] | None = None, taxa_in_rows: bool = False,
              prune_missing: bool = False, device: str | None = None,
              context: _runtime.Context | None = None) -> AncestralResult:
    """Ancestral gene content (``fitcl ancestral``): without gain and loss the
    rates (and alpha with gamma categories) are first fitted, as by :func:`fit`.
    """
    if (gain is None) != (loss is None):
        raise ArgumentError("give both gain and loss, or neither")
    if gain is not None and gamma_cats > 1 and alpha is None:
        raise ArgumentError(f"gamma_cats {gamma_cats} with fixed rates needs alpha > 0")
    inp = _Inputs(tree, matrix, taxa, families, taxa_in_rows, prune_missing)
    nodes = inp.tree.nnodes
    p = np.empty((inp.nfamilies, nodes))
    g = np.empty(nodes)
    lo = np.empty(nodes)
    a = math.nan if alpha is None else float(alpha)
    ctx = _runtime.acquire(device, context)
    try:
        use = None
        if gain is None:
            r = _fitcl.fit_rates(ctx._live(), inp.data,
                                 _fit_options(gamma_cats, condition, None, no_stderr=True))
            gain, loss, a = r["gain"], r["loss"], r["alpha"]
            use = ctx._live()
        assert gain is not None and loss is not None
        _fitcl.ancestral(use, inp.data, float(gain), float(loss), a, None, int(gamma_cats), p, g,
                         lo)
    finally:
        _runtime.release(device, context, ctx)
    assert gain is not None and loss is not None
    return AncestralResult(float(gain), float(loss), a, inp.tree, inp.family_names, p, g, lo)
