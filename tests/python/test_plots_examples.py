"""The plots render with the Agg backend, and every script in
examples/python runs and writes a PNG."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("pandas")
import matplotlib  # noqa: E402

matplotlib.use("Agg")

import fitcl  # noqa: E402
import fitcl.plot  # noqa: E402
from fitcl import gainloss  # noqa: E402
from conftest import EXAMPLES, REPO  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _png(fig: object, path: pathlib.Path) -> None:
    fig.savefig(path)  # type: ignore[attr-defined]
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 10_000


def test_fit_plot(tmp_path: pathlib.Path) -> None:
    x = np.linspace(0, 5, 500)
    y = 2 * np.exp(-1.2 * x) + 0.3 + np.random.default_rng(1).normal(0, 0.02, x.size)
    popt, pcov, res = fitcl.curve_fit("a*exp(-b*x)+c", x, y, full_output=True)
    fig = fitcl.plot.fit("a*exp(-b*x)+c", x, y, res)
    assert len(fig.axes) == 2
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("b = 1.2" in t for t in texts)
    _png(fig, tmp_path / "fit.png")
    fig2 = fitcl.plot.fit(lambda x, a, b, c: a * np.exp(-b * x) + c, x, y, popt,
                          np.sqrt(np.diag(pcov)), sigma=0.02)
    _png(fig2, tmp_path / "fit2.png")


def test_retention_plot(tmp_path: pathlib.Path) -> None:
    r = gainloss.retention_test(EXAMPLES / "pangenome50.nwk", EXAMPLES / "pangenome50.Rtab",
                                families_file=EXAMPLES / "retained.txt")
    fig = fitcl.plot.retention(r, points=15)
    line = fig.axes[0].lines[0]
    assert len(line.get_xdata()) == 15
    _png(fig, tmp_path / "retention.png")


def test_tree_plot(tmp_path: pathlib.Path) -> None:
    a = gainloss.ancestral(EXAMPLES / "pangenome50.nwk", EXAMPLES / "pangenome50.Rtab",
                           gain=0.5, loss=0.8)
    _png(fitcl.plot.tree(a), tmp_path / "tree.png")
    _png(fitcl.plot.tree(a, family="fam0002", annotate=False), tmp_path / "tree_fam.png")


@pytest.mark.parametrize("script", sorted((REPO / "examples" / "python").glob("*.py")),
                         ids=lambda p: p.name)
def test_example_script_writes_a_png(script: pathlib.Path, tmp_path: pathlib.Path) -> None:
    out = tmp_path / (script.stem + ".png")
    env = dict(os.environ, MPLBACKEND="Agg")
    subprocess.run([sys.executable, str(script), str(out)], check=True, cwd=tmp_path, env=env,
                   capture_output=True, timeout=300)
    assert out.read_bytes().startswith(PNG)
