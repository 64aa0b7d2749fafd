"""NIST StRD nonlinear regression, lower difficulty: from both official
starting points, every parameter and standard error within 1e-6 of the
certified value and the residual sum of squares within 1e-8 (the criterion
of the data's README), on both backends.  The data live beside the source
tree (../shared/data/nist, or FITCL_NIST_DIR); the test fails, not skips,
when they are missing."""
from __future__ import annotations

import csv

import numpy as np
import pytest

import fitcl
from conftest import NIST_DIR

TOL = dict(ftol=1e-15, xtol=1e-15, gtol=1e-15, max_nfev=2000)


def _kv(text: str) -> dict[str, float]:
    return {k: float(v) for k, v in (item.split("=") for item in text.split(","))}


def _problems() -> list[dict[str, str]]:
    manifest = NIST_DIR / "manifest.tsv"
    if not manifest.is_file():
        return []
    with open(manifest, newline="") as fh:
        return [row for row in csv.DictReader(fh, delimiter="\t") if row["level"] == "lower"]


PROBLEMS = _problems()


def test_nist_data_present() -> None:
    assert (NIST_DIR / "manifest.tsv").is_file(), (
        f"NIST StRD data not found at {NIST_DIR} (the shared/ data directory must sit beside "
        f"the source tree, or set FITCL_NIST_DIR)")
    assert len(PROBLEMS) >= 8


@pytest.mark.parametrize("problem", PROBLEMS, ids=[p["name"] for p in PROBLEMS])
@pytest.mark.parametrize("start", ["start1", "start2"])
def test_nist_certified_values(problem: dict[str, str], start: str, device: str) -> None:
    data = np.genfromtxt(NIST_DIR / f"{problem['name']}.csv", delimiter=",", names=True)
    xnames = [n for n in data.dtype.names if n != "y"]
    p0 = _kv(problem[start])
    cert, cert_se = _kv(problem["certified"]), _kv(problem["certified_stderr"])
    xdata = {n: np.ascontiguousarray(data[n]) for n in xnames}
    popt, pcov, res = fitcl.curve_fit(problem["model"], xdata, np.ascontiguousarray(data["y"]),
                                      p0=p0, params=list(p0), variables=xnames,
                                      full_output=True, device=device, **TOL)
    assert res.converged
    for name, value, se in zip(res.names, popt, res.perr):
        assert abs(value - cert[name]) <= 1e-6 * abs(cert[name]), (name, value, cert[name])
        assert abs(se - cert_se[name]) <= 1e-6 * abs(cert_se[name]), (name, se, cert_se[name])
    rss = float(problem["certified_rss"])
    assert abs(res.rss - rss) <= 1e-8 * rss
