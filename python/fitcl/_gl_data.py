"""Inputs of the gene-content analyses: trees, presence/absence matrices,
and the library's data set that matches one to the other."""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Union

import numpy as np
from numpy.typing import NDArray

from . import _fitcl
from ._errors import ArgumentError

if TYPE_CHECKING:
    import pandas

MISSING: int = int(_fitcl.PA_MISSING)
"""The value of a missing cell in a uint8 matrix (0 absent, 1 present)."""

_FORMATS = {"auto": 0, "tsv": 1, "csv": 2, "pangenome_csv": 3}


# ---- trees -------------------------------------------------------------------------

class Tree:
    """A rooted tree with branch lengths, read from Newick.

    Args:
        source: Newick text (anything that starts with ``(`` or ends with
            ``;``) or the path of a Newick file.

    Nodes are numbered as in the C API: tips ``0 .. ntips-1`` in the order of
    the Newick text, then internal nodes in post-order, the root last.

    Raises:
        fitcl.ParseError, fitcl.DataError: with ``file:line:column``.
        fitcl.FileError: the file cannot be read.
    """

    __slots__ = ("_handle", "tip_names", "parents", "lengths", "labels", "newick")

    tip_names: list[str]
    parents: NDArray[np.int64]
    """Parent of each node (-1 for the root)."""
    lengths: NDArray[np.float64]
    """Length of the branch above each node (0 for the root)."""
    labels: list[str | None]
    """Tip names, and internal labels (None where a node has none)."""
    newick: str
    """The tree as Newick text (lengths with 17 significant digits)."""

    def __init__(self, source: str | os.PathLike[str]) -> None:
        if isinstance(source, os.PathLike):
            self._handle = _fitcl.tree_load(os.fspath(source), True)
        elif isinstance(source, str):
            text = source.strip()
            is_newick = text.startswith("(") or text.endswith(";")
            self._handle = _fitcl.tree_load(text if is_newick else source, not is_newick)
        else:
            raise TypeError(f"tree: expected Newick text or a path, got {type(source).__name__}")
        self._describe(_fitcl.tree_info(self._handle))

    @classmethod
    def _from_info(cls, info: tuple[Any, ...]) -> Tree:
        t = cls.__new__(cls)
        t._handle = _fitcl.tree_load(info[4], False)
        t._describe(info)
        return t

    def _describe(self, info: tuple[Any, ...]) -> None:
        tips, parents, lengths, labels, newick = info
        self.tip_names = tips
        self.parents = np.array(parents, dtype=np.int64)
        self.lengths = np.array(lengths, dtype=np.float64)
        self.labels = labels
        self.newick = newick

    @property
    def ntips(self) -> int:
        """Number of tips (leaves)."""
        return len(self.tip_names)

    @property
    def nnodes(self) -> int:
        """Number of nodes, tips included."""
        return len(self.labels)

    @property
    def node_names(self) -> list[str]:
        """Each node's name as the CLI prints it: tip names, internal labels,
        else ``nodeN``."""
        return [lab if lab else f"node{v}" for v, lab in enumerate(self.labels)]

    def depths(self) -> NDArray[np.float64]:
        """Distance of every node from the root."""
        d = np.zeros(self.nnodes)
        for v in range(self.nnodes - 2, -1, -1):  # parents come after children
            d[v] = d[self.parents[v]] + self.lengths[v]
        return d

    def __repr__(self) -> str:
        return f"<fitcl.gainloss.Tree: {self.ntips} tips, {self.nnodes} nodes>"


def _tree(tree: TreeLike) -> Tree:
    return tree if isinstance(tree, Tree) else Tree(tree)


# ---- matrices ------------------------------------------------------------------------

class Matrix:
    """A presence/absence matrix: families (rows) x taxa (columns).

    Make one with :meth:`read`, :meth:`from_frame` or :meth:`from_array`;
    every function here also takes a path, a DataFrame or an array directly.
    """

    __slots__ = ("_handle", "families", "taxa", "_values")

    families: list[str]
    taxa: list[str]

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self.families, self.taxa = _fitcl.matrix_info(handle, None)
        self._values: NDArray[np.uint8] | None = None

    @classmethod
    def read(cls, path: str | os.PathLike[str], *, format: str = "auto",
             taxa_in_rows: bool = False, taxa_file: str | os.PathLike[str] | None = None,
             family_names_file: str | os.PathLike[str] | None = None) -> Matrix:
        """Reads a matrix file (docs/input-formats.md).

        Args:
            format: ``"auto"`` (by extension and content), ``"tsv"`` (Rtab),
                ``"csv"`` or ``"pangenome_csv"`` (Roary/Panaroo
                gene_presence_absence.csv).
            taxa_in_rows: the table has one row per genome.
            taxa_file: for a ``.npy`` uint8 matrix (families x taxa: 0, 1,
                255 missing), the file of its taxon names, one per line
                (required there, as ``--taxa``).
            family_names_file: for a ``.npy`` matrix, its family names, one
                per line (default ``F1, F2, ...``).
        """
        code = _FORMATS.get(format)
        if code is None:
            raise ArgumentError(f"format: expected one of {', '.join(_FORMATS)}, got {format!r}")
        return cls(_fitcl.matrix_read(
            os.fspath(path), code, bool(taxa_in_rows),
            None if taxa_file is None else os.fspath(taxa_file),
            None if family_names_file is None else os.fspath(family_names_file)))

    @classmethod
    def from_array(cls, values: Any, taxa: Sequence[str],
                   families: Sequence[str] | None = None) -> Matrix:
        """A matrix from an array of families x taxa: 0 absent, > 0 present,
        NaN (or :data:`MISSING` in a uint8 array) missing.  families None:
        ``F1, F2, ...``."""
        v = np.asarray(values)
        if v.ndim != 2 or v.shape[1] != len(taxa):
            raise ArgumentError(f"values: expected a 2-D array of families x {len(taxa)} taxa, "
                                f"got shape {v.shape}")
        if families is not None and len(families) != v.shape[0]:
            raise ArgumentError(f"families: {len(families)} names for {v.shape[0]} rows")
        if v.dtype == np.uint8:
            if v.size and v.max() > MISSING:
                raise ArgumentError(f"values: a uint8 matrix holds 0, 1 or {MISSING} (missing)")
            cells = np.ascontiguousarray(v)
        else:
            f = v.astype(np.float64)
            if np.any(f < 0):
                raise ArgumentError("values: negative entries (expected 0 absent, > 0 present, "
                                    "NaN missing)")
            cells = np.ascontiguousarray(np.where(np.isnan(f), MISSING, f > 0), dtype=np.uint8)
        return cls(_fitcl.matrix_create(
            cells, v.shape[0], v.shape[1],
            None if families is None else [str(s) for s in families], [str(t) for t in taxa]))

    @classmethod
    def from_frame(cls, frame: pandas.DataFrame) -> Matrix:
        """A matrix from a DataFrame with families as rows (the index) and
        taxa as columns."""
        return cls.from_array(frame.to_numpy(dtype=np.float64, na_value=np.nan),
                              [str(c) for c in frame.columns], [str(i) for i in frame.index])

    @property
    def values(self) -> NDArray[np.uint8]:
        """families x taxa, uint8: 0 absent, 1 present, :data:`MISSING`."""
        if self._values is None:
            v = np.empty((len(self.families), len(self.taxa)), dtype=np.uint8)
            _fitcl.matrix_info(self._handle, v)
            v.flags.writeable = False
            self._values = v
        return self._values

    def to_frame(self) -> pandas.DataFrame:
        """A DataFrame (families x taxa) of 0/1, with NaN where missing."""
        import pandas as pd
        v = self.values
        data: Any = v.astype(np.float64) if (v == MISSING).any() else v.astype(np.int64)
        if data.dtype == np.float64:
            data[v == MISSING] = np.nan
        return pd.DataFrame(data, index=pd.Index(self.families, name="Gene"), columns=self.taxa)

    def write_rtab(self, path: str | os.PathLike[str]) -> None:
        """Writes a Roary-style Rtab (atomically)."""
        _fitcl.matrix_write_rtab(self._handle, os.fspath(path))

    def __repr__(self) -> str:
        return f"<fitcl.gainloss.Matrix: {len(self.families)} families x {len(self.taxa)} taxa>"


TreeLike = Union[str, "os.PathLike[str]", Tree]
MatrixLike = Union[str, "os.PathLike[str]", Matrix, "pandas.DataFrame", NDArray[Any]]


def _matrix(matrix: MatrixLike, taxa: Sequence[str] | None, families: Sequence[str] | None,
            taxa_in_rows: bool) -> Matrix:
    if isinstance(matrix, Matrix):
        return matrix
    if isinstance(matrix, (str, os.PathLike)):
        return Matrix.read(matrix, taxa_in_rows=taxa_in_rows)
    if hasattr(matrix, "to_numpy") and hasattr(matrix, "columns"):
        return Matrix.from_frame(matrix.T if taxa_in_rows else matrix)  # type: ignore[arg-type]
    if isinstance(matrix, np.ndarray):
        if taxa is None:
            raise ArgumentError("matrix: a NumPy array needs taxa= (its column names)")
        return Matrix.from_array(matrix.T if taxa_in_rows else matrix, taxa, families)
    raise TypeError(f"matrix: expected a path, a DataFrame, an array or a Matrix, got "
                    f"{type(matrix).__name__}")


class _Inputs:
    """A tree matched to a matrix (the library's data set)."""

    def __init__(self, tree: TreeLike, matrix: MatrixLike, taxa: Sequence[str] | None,
                 families: Sequence[str] | None, taxa_in_rows: bool, prune_missing: bool) -> None:
        self.tree_in = _tree(tree)
        self.matrix = _matrix(matrix, taxa, families, taxa_in_rows)
        self.data = _fitcl.data_build(self.tree_in._handle, self.matrix._handle,
                                      bool(prune_missing), False)
        tinfo, self.nfamilies, self.npatterns, self.family_names = _fitcl.data_info(self.data)
        self.tree = Tree._from_info(tinfo) if prune_missing else self.tree_in


def _fit_options(gamma_cats: int, condition: bool, max_iter: int | None,
                 no_stderr: bool = False) -> tuple[Any, ...]:
    if not 1 <= int(gamma_cats) <= 64:
        raise ArgumentError(f"gamma_cats: expected 1..64, got {gamma_cats}")
    return (int(gamma_cats), not condition, int(max_iter or 0), 0.0, 0.0, bool(no_stderr))
